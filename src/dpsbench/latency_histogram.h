// latency_histogram.h - a log-linear (HDR-style) histogram of latencies in
// TSC cycles, recorded per packet without allocation.
//
// What: record(v) counts v; percentile(q), min(), max(), mean() summarise.
// Snapshots (a plain copy) subtract, so the control thread gets per-interval
// histograms by diffing successive copies of the rx thread's histogram.
//
// Design: values below 2*kSub are exact; above, each power of two [2^k,
// 2^(k+1)) is split into kSub equal buckets, so a bucket's width is at most
// 1/kSub = 3.1% of its value (the reported percentile is the bucket's
// midpoint, clamped to [min, max], so the error is at most 1.6%). The index
// is two shifts and a count-leading-zeros: no loop, no float. 64-bit values
// need 59 * 32 + 32 = 1920 buckets (15 KiB).
//
// Thread-safety: one writer (the rx lcore). Buckets and totals are relaxed
// atomics updated with load+store (no locked instruction: there is one
// writer), so another thread may copy() at any time and get a histogram that
// is consistent per bucket (totals may lag the buckets by a few samples).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace dps::dpsbench {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 5;
  static constexpr uint64_t kSub = 1u << kSubBits;  // buckets per power of two
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

  static unsigned bucket_of(uint64_t v) {
    if (v < kSub) return static_cast<unsigned>(v);
    unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    unsigned shift = msb - kSubBits;
    return static_cast<unsigned>((shift + 1) * kSub + ((v >> shift) - kSub));
  }
  // Smallest value in bucket b, and its width.
  static uint64_t bucket_low(unsigned b) {
    if (b < kSub) return b;
    unsigned shift = b / kSub - 1;
    return (kSub + b % kSub) << shift;
  }
  static uint64_t bucket_width(unsigned b) { return b < 2 * kSub ? 1 : uint64_t{1} << (b / kSub - 1); }

  void record(uint64_t v) {
    bump(buckets_[bucket_of(v)], 1);
    bump(count_, 1);
    bump(sum_, v);
    if (v < min_.load(std::memory_order_relaxed)) min_.store(v, std::memory_order_relaxed);
    if (v > max_.load(std::memory_order_relaxed)) max_.store(v, std::memory_order_relaxed);
  }

  // The same for n values at once: one update of the totals per call (the
  // rx loop records a burst).
  void record_many(const uint64_t* v, unsigned n) {
    if (!n) return;
    uint64_t sum = 0, lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < n; i++) {
      bump(buckets_[bucket_of(v[i])], 1);
      sum += v[i];
      lo = v[i] < lo ? v[i] : lo;
      hi = v[i] > hi ? v[i] : hi;
    }
    bump(count_, n);
    bump(sum_, sum);
    if (lo < min_.load(std::memory_order_relaxed)) min_.store(lo, std::memory_order_relaxed);
    if (hi > max_.load(std::memory_order_relaxed)) max_.store(hi, std::memory_order_relaxed);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t min() const { return count() ? min_.load(std::memory_order_relaxed) : 0; }
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  double mean() const;
  // q in [0, 1]: the smallest recorded value v such that at least q of the
  // samples are <= v, to bucket precision. 0 when empty.
  uint64_t percentile(double q) const;

  void reset();
  // Plain copies for snapshots; `a -= b` leaves the samples recorded between
  // snapshot b and snapshot a (min/max become the buckets' bounds).
  void copy_from(const LatencyHistogram& o);
  void subtract(const LatencyHistogram& older);
  void merge(const LatencyHistogram& o);

 private:
  static void bump(std::atomic<uint64_t>& a, uint64_t d) {
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

}  // namespace dps::dpsbench
