// Microbenchmarks of dpsbench's per-packet work, without any device: writing
// a burst of frames from templates (tx) and accounting a burst of received
// frames (rx: tag parse, sequence window, histogram). Compare the ns/frame
// with the memif ceiling (~100 ns/frame at 10 Mpps) to see that the harness
// is not the bottleneck.
#include <benchmark/benchmark.h>

#include <rte_cycles.h>

#include <memory>
#include <vector>

#include "frame.h"
#include "frame_burst.h"
#include "rx_tracker.h"

using namespace dps::dpsbench;

namespace {

constexpr unsigned kBurst = 32;

TrafficProfile profile(uint32_t flows, bool imix) {
  TrafficProfile p;
  p.flows = flows;
  if (imix) {
    p.imix = true;
    p.frame_sizes.assign(kImixCycle.begin(), kImixCycle.end());
  }
  p.finalize();
  return p;
}

void BM_TxWriteBurst(benchmark::State& st) {
  FrameBuilder fb(profile(static_cast<uint32_t>(st.range(0)), st.range(1) != 0), 0);
  std::vector<std::vector<uint8_t>> bufs(kBurst, std::vector<uint8_t>(2048, 0));
  uint32_t seq = 0, flow = 0, sp = 0;
  const auto& sizes = fb.sizes();
  for (auto _ : st) {
    uint64_t tsc = rte_rdtsc();
    for (unsigned i = 0; i < kBurst; i++) {
      fb.write(bufs[i].data(), flow, sizes[sp], seq++, tsc);
      if (++flow == fb.n_flows()) flow = 0;
      if (++sp == sizes.size()) sp = 0;
    }
    benchmark::DoNotOptimize(bufs[0].data());
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * kBurst);
}
BENCHMARK(BM_TxWriteBurst)->Args({1, 0})->Args({100000, 0})->Args({1000, 1});

void BM_RxAccountBurst(benchmark::State& st) {
  FrameBuilder fb(profile(1024, false), 0);
  // 1024 bursts of consecutive sequences, replayed: the tracker sees mostly
  // in-order frames and, at each replay wrap, one large backwards jump.
  constexpr unsigned kBursts = 1024;
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < kBursts * kBurst; i++) frames.push_back(fb.build(i % 1024, 0, i, 0));
  test::FrameBurst burst(frames);
  auto rx = std::make_unique<RxTracker>();
  unsigned b = 0;
  for (auto _ : st) {
    rx->on_burst(burst.ptrs.data() + b * kBurst, burst.lens.data() + b * kBurst, kBurst, rte_rdtsc());
    if (++b == kBursts) b = 0;
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * kBurst);
}
BENCHMARK(BM_RxAccountBurst);

}  // namespace

BENCHMARK_MAIN();
