// Coverage goal: bucket boundaries are contiguous and exact in the linear
// range; percentiles match an exact sort within the documented 1.6% over a
// wide distribution; snapshots subtract to the interval's samples.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "latency_histogram.h"

using dps::dpsbench::LatencyHistogram;

TEST_CASE("histogram buckets are contiguous and cover every value", "[dpsbench]") {
  using H = LatencyHistogram;
  for (unsigned b = 0; b + 1 < H::kBuckets; b++)
    REQUIRE(H::bucket_low(b) + H::bucket_width(b) == H::bucket_low(b + 1));
  for (uint64_t v = 0; v < 5000; v++) {
    unsigned b = H::bucket_of(v);
    REQUIRE(H::bucket_low(b) <= v);
    REQUIRE(v < H::bucket_low(b) + H::bucket_width(b));
  }
  CHECK(H::bucket_of(UINT64_MAX) == H::kBuckets - 1);
  for (uint64_t v = 0; v < 2 * H::kSub; v++) CHECK(H::bucket_width(H::bucket_of(v)) == 1);
  // Relative width bound.
  for (unsigned b = 2 * H::kSub; b < H::kBuckets; b++)
    REQUIRE(static_cast<double>(H::bucket_width(b)) / static_cast<double>(H::bucket_low(b)) <= 1.0 / H::kSub + 1e-12);
}

TEST_CASE("histogram percentiles agree with an exact sort", "[dpsbench]") {
  auto h = std::make_unique<LatencyHistogram>();
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(8.0, 1.5);  // ~3000 cycles median, long tail
  std::vector<uint64_t> vals;
  for (int i = 0; i < 200000; i++) {
    auto v = static_cast<uint64_t>(dist(rng));
    vals.push_back(v);
    h->record(v);
  }
  std::sort(vals.begin(), vals.end());
  CHECK(h->count() == vals.size());
  CHECK(h->min() == vals.front());
  CHECK(h->max() == vals.back());
  double sum = 0;
  for (auto v : vals) sum += static_cast<double>(v);
  CHECK(h->mean() == Approx(sum / static_cast<double>(vals.size())));
  for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    uint64_t exact = vals[static_cast<size_t>(std::ceil(q * static_cast<double>(vals.size()))) - 1];
    uint64_t got = h->percentile(q);
    INFO("q=" << q << " exact=" << exact << " got=" << got);
    CHECK(std::abs(static_cast<double>(got) - static_cast<double>(exact)) <=
          static_cast<double>(exact) / 64.0 + 1.0);
  }
  // Exact in the linear range.
  LatencyHistogram small;
  for (uint64_t v : {3, 5, 7, 9}) small.record(v);
  CHECK(small.percentile(0.5) == 5);
  CHECK(small.percentile(0.75) == 7);
  CHECK(small.percentile(0.0) == 3);
}

TEST_CASE("histogram snapshots subtract to the interval", "[dpsbench]") {
  auto h = std::make_unique<LatencyHistogram>();
  auto snap = std::make_unique<LatencyHistogram>();
  auto cur = std::make_unique<LatencyHistogram>();
  for (int i = 0; i < 1000; i++) h->record(100);
  snap->copy_from(*h);
  for (int i = 0; i < 500; i++) h->record(10000);
  cur->copy_from(*h);
  cur->subtract(*snap);
  CHECK(cur->count() == 500);
  CHECK(cur->mean() == Approx(10000));
  uint64_t p50 = cur->percentile(0.5);
  CHECK(p50 >= 10000 - 10000 / 32);
  CHECK(p50 <= 10000 + 10000 / 32);
  CHECK(cur->min() >= 9700);  // the all-time min (100) is not this interval's
  auto m = std::make_unique<LatencyHistogram>();
  m->merge(*snap);
  m->merge(*cur);
  CHECK(m->count() == 1500);
  CHECK(m->min() == 100);
  h->reset();
  CHECK(h->count() == 0);
  CHECK(h->percentile(0.5) == 0);
}
