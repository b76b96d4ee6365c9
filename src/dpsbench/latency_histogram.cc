#include "latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace dps::dpsbench {

double LatencyHistogram::mean() const {
  uint64_t n = count();
  return n ? static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n) : 0.0;
}

uint64_t LatencyHistogram::percentile(double q) const {
  uint64_t total = 0;
  for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(total))));
  uint64_t seen = 0;
  for (unsigned b = 0; b < kBuckets; b++) {
    seen += buckets_[b].load(std::memory_order_relaxed);
    if (seen >= rank) {
      uint64_t mid = bucket_low(b) + (bucket_width(b) - 1) / 2;
      uint64_t lo = min_.load(std::memory_order_relaxed), hi = max();
      if (lo <= hi) mid = std::clamp(mid, lo, hi);
      return mid;
    }
  }
  return max();
}

void LatencyHistogram::reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  min_.store(UINT64_MAX, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

void LatencyHistogram::copy_from(const LatencyHistogram& o) {
  for (unsigned b = 0; b < kBuckets; b++)
    buckets_[b].store(o.buckets_[b].load(std::memory_order_relaxed), std::memory_order_relaxed);
  count_.store(o.count_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  sum_.store(o.sum_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  min_.store(o.min_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  max_.store(o.max_.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void LatencyHistogram::subtract(const LatencyHistogram& older) {
  uint64_t n = 0;
  unsigned first = kBuckets, last = 0;
  for (unsigned b = 0; b < kBuckets; b++) {
    uint64_t v = buckets_[b].load(std::memory_order_relaxed);
    uint64_t o = older.buckets_[b].load(std::memory_order_relaxed);
    v = v >= o ? v - o : 0;
    buckets_[b].store(v, std::memory_order_relaxed);
    if (v) {
      n += v;
      first = std::min(first, b);
      last = b;
    }
  }
  uint64_t s = sum_.load(std::memory_order_relaxed), os = older.sum_.load(std::memory_order_relaxed);
  count_.store(n, std::memory_order_relaxed);
  sum_.store(s >= os ? s - os : 0, std::memory_order_relaxed);
  if (n) {
    // The interval's extremes are known to bucket precision only; keep the
    // exact all-time ones when they fall inside those buckets.
    uint64_t lo = bucket_low(first), hi = bucket_low(last) + bucket_width(last) - 1;
    uint64_t mn = min_.load(std::memory_order_relaxed), mx = max_.load(std::memory_order_relaxed);
    min_.store(mn >= lo && mn <= hi ? mn : lo, std::memory_order_relaxed);
    max_.store(mx >= lo && mx <= hi ? mx : hi, std::memory_order_relaxed);
  } else {
    min_.store(UINT64_MAX, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
  }
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (unsigned b = 0; b < kBuckets; b++) bump(buckets_[b], o.buckets_[b].load(std::memory_order_relaxed));
  bump(count_, o.count_.load(std::memory_order_relaxed));
  bump(sum_, o.sum_.load(std::memory_order_relaxed));
  if (o.count()) {
    min_.store(std::min(min_.load(std::memory_order_relaxed), o.min_.load(std::memory_order_relaxed)),
               std::memory_order_relaxed);
    max_.store(std::max(max_.load(std::memory_order_relaxed), o.max_.load(std::memory_order_relaxed)),
               std::memory_order_relaxed);
  }
}

}  // namespace dps::dpsbench
