// flow_key_bench.cc - cycles per packet of flow key extraction.
//
// Each iteration parses one burst of 32 frames (32 different flows of the
// same shape, each in its own 2 KiB buffer like mbuf data rooms), timed with
// the TSC; "cycles/pkt" is the median burst's TSC cycles per packet
// ("mean_cycles/pkt" includes bursts during which the thread was preempted). Frames
// and keys stay in L1, so this is the parsing cost alone, not cache misses.
// Cases: single-packet API for IPv4/UDP (fast path), 802.1Q + IPv4/UDP (fast
// path), QinQ + IPv4/TCP and IPv6/TCP (general parser); batch API with and
// without an RSS hash in the mbuf.
//
//   build-xxx/tests/bench/flow_key_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <rte_mbuf.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "flow_key.h"
#include "packet_builder.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

constexpr unsigned kBurst = 32;
constexpr size_t kRoom = 2048;

enum Shape { kIpv4Udp, kVlanIpv4Udp, kQinQIpv4Tcp, kIpv6Tcp };

std::vector<uint8_t> frame(Shape s, uint16_t i) {
  PacketBuilder b;
  b.eth();
  switch (s) {
    case kIpv4Udp:
      b.ipv4("10.0.0.1", "10.0.0.2").udp(static_cast<uint16_t>(1000 + i), 80).payload(18);
      break;
    case kVlanIpv4Udp:
      b.vlan(100).ipv4("10.0.0.1", "10.0.0.2").udp(static_cast<uint16_t>(1000 + i), 80).payload(14);
      break;
    case kQinQIpv4Tcp:
      b.vlan(10, 0x88a8).vlan(100).ipv4("10.0.0.1", "10.0.0.2")
          .tcp(static_cast<uint16_t>(1000 + i), 80, 0x10);
      break;
    case kIpv6Tcp:
      b.ipv6("2001:db8::1", "2001:db8::2").tcp(static_cast<uint16_t>(1000 + i), 80, 0x10);
      break;
  }
  return b.build();
}

// Per-burst TSC samples. The machine is shared, so a burst that was
// preempted inflates the mean; the median is the parsing cost.
struct CycleStats {
  std::vector<uint32_t> samples;
  uint64_t total = 0;
  uint64_t pkts = 0;
  CycleStats() { samples.reserve(1 << 20); }
  void add(uint64_t cycles) {
    total += cycles;
    pkts += kBurst;
    if (samples.size() < samples.capacity()) samples.push_back(static_cast<uint32_t>(cycles));
  }
  void report(benchmark::State& state) {
    if (samples.empty()) return;
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    state.counters["cycles/pkt"] = samples[samples.size() / 2] / double(kBurst);
    state.counters["mean_cycles/pkt"] = static_cast<double>(total) / static_cast<double>(pkts);
    state.SetItemsProcessed(static_cast<int64_t>(pkts));
  }
};

struct Burst {
  std::vector<uint8_t> room = std::vector<uint8_t>(kBurst * kRoom);
  uint32_t len[kBurst];
  explicit Burst(Shape s) {
    for (unsigned i = 0; i < kBurst; i++) {
      auto f = frame(s, static_cast<uint16_t>(i));
      std::memcpy(&room[i * kRoom], f.data(), f.size());
      len[i] = static_cast<uint32_t>(f.size());
    }
  }
  const uint8_t* data(unsigned i) const { return &room[i * kRoom]; }
};

// Times extract(keys, hashes) once per iteration (one burst) with the TSC
// and reports the per-packet cycles (CycleStats).
template <typename Extract>
void time_bursts(benchmark::State& state, Extract extract) {
  alignas(64) FlowKey keys[kBurst];
  uint32_t hashes[kBurst];
  CycleStats stats;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    extract(keys, hashes);
    const uint64_t t1 = __rdtsc();
    benchmark::DoNotOptimize(keys);
    benchmark::DoNotOptimize(hashes);
    benchmark::ClobberMemory();
    stats.add(t1 - t0);
  }
  stats.report(state);
}

void BM_Extract(benchmark::State& state, Shape shape) {
  const Burst burst(shape);
  time_bursts(state, [&](FlowKey* keys, uint32_t* hashes) {
    for (unsigned i = 0; i < kBurst; i++)
      hashes[i] = flow_key_extract(burst.data(i), burst.len[i], 1, &keys[i]);
  });
}
BENCHMARK_CAPTURE(BM_Extract, ipv4_udp, kIpv4Udp);
BENCHMARK_CAPTURE(BM_Extract, vlan_ipv4_udp, kVlanIpv4Udp);
BENCHMARK_CAPTURE(BM_Extract, qinq_ipv4_tcp, kQinQIpv4Tcp);
BENCHMARK_CAPTURE(BM_Extract, ipv6_tcp, kIpv6Tcp);

// The PMD's entry point over mbuf headers (no EAL needed: only buf_addr,
// data_off, data_len, ol_flags and hash.rss are read).
void BM_ExtractBatch(benchmark::State& state, Shape shape, bool rss) {
  const Burst burst(shape);
  std::vector<rte_mbuf> mbufs(kBurst);
  rte_mbuf* pkts_in[kBurst];
  for (unsigned i = 0; i < kBurst; i++) {
    rte_mbuf& m = mbufs[i];
    std::memset(&m, 0, sizeof m);
    m.buf_addr = const_cast<uint8_t*>(burst.data(i));
    m.data_len = static_cast<uint16_t>(burst.len[i]);
    m.pkt_len = burst.len[i];
    m.nb_segs = 1;
    if (rss) {
      m.ol_flags = RTE_MBUF_F_RX_RSS_HASH;
      m.hash.rss = 0x9000 + i;
    }
    pkts_in[i] = &m;
  }
  time_bursts(state, [&](FlowKey* keys, uint32_t* hashes) {
    flow_key_extract_batch(pkts_in, kBurst, 1, keys, hashes);
  });
}
BENCHMARK_CAPTURE(BM_ExtractBatch, ipv4_udp, kIpv4Udp, false);
BENCHMARK_CAPTURE(BM_ExtractBatch, ipv4_udp_rss, kIpv4Udp, true);
BENCHMARK_CAPTURE(BM_ExtractBatch, vlan_ipv4_udp, kVlanIpv4Udp, false);
BENCHMARK_CAPTURE(BM_ExtractBatch, ipv6_tcp, kIpv6Tcp, false);

}  // namespace

BENCHMARK_MAIN();
