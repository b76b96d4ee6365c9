// classifier_bench - cycles per packet of the per-PMD lookup structures.
//
// Workloads mirror ../shared/perf/mkpcap.py: "100k-1mask" (100k UDP
// microflows, one megaflow: in_port, eth_type, nw_frag, nw_dst/12) and
// "subtables-16" (100k microflows spread round-robin over 16 megaflows whose
// masks are nw_dst prefixes /32../8, so 8.5 subtable probes per hit when
// ranking cannot help). Keys are pre-extracted (parsing is flow_key_bench's
// business) and consumed in bursts of 32 in pcap order, as a PMD would.
// "cyc/pkt" = this thread's CPU time over the timed loop, converted to TSC
// cycles, / packets: CPU time rather than raw rdtsc so that sharing the core
// with other processes (a 2-core build machine) does not inflate it; run
// pinned (taskset -c N) on an idle core for figures worth writing down.
//
//   BM_BurstCopy            copying a burst of keys to the stack (in all below)
//   BM_EmcHitL1             32 microflows, all cached: the EMC's best case
//   BM_EmcThrash100k        100k microflows into an 8192-entry EMC with
//                           1/100 insertion: the hit rate it really gets
//   BM_ClassifierBatch/M/S/P classifier.lookup_batch only, M masks, SMC of S K
//                           entries (0 = off); P=1: one megaflow per
//                           microflow (nw_src exact too), so 100k megaflows
//                           in large hashed subtables instead of 1 per mask
//   BM_ClassifierSingle/M   lookup() one key at a time (batch's baseline)
//   BM_Pipeline/M/E/S       EMC (E) -> SMC (S) -> subtables, with the PMD's
//                           maybe_insert on every classifier hit: whether the
//                           EMC pays for itself at 100k flows
//   BM_UnorderedMapExact    std::unordered_map<FlowKey, DpFlow*> of the 100k
//                           exact keys: a general-purpose exact-match baseline
#include <benchmark/benchmark.h>
#include <nmmintrin.h>
#include <x86intrin.h>

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include "exact_match_cache.h"
#include "flow_arena.h"
#include "megaflow_classifier.h"

using namespace dps::datapath;

namespace {

constexpr uint32_t kMicroflows = 100000;
constexpr unsigned kBurst = 32;

uint32_t be32(uint32_t v) { return __builtin_bswap32(v); }
uint16_t be16(uint16_t v) { return __builtin_bswap16(v); }

// CRC32C over the first cache line: what flow_key_extract's software hash
// does for these keys (the NIC RSS hash would be free).
uint32_t key_hash(const FlowKey& k) {
  uint64_t h = 0;
  for (unsigned i = 0; i < 8; i++) h = _mm_crc32_u64(h, k.words()[i]);
  return static_cast<uint32_t>(h);
}

struct Workload {
  std::vector<FlowKey> keys;
  std::vector<uint32_t> hashes;
  FlowArena arena{kMicroflows + 1024};
  MegaflowClassifier cls;
};

// prefix lengths as mkpcap.py subtable_lengths(n)
std::vector<int> subtable_lengths(int n) {
  if (n == 1) return {12};
  std::vector<int> v;
  for (int k = 0; k < n; k++) v.push_back(32 - static_cast<int>(std::lround(k * 24.0 / (n - 1))));
  return v;
}

// nmasks megaflow masks; with per_microflow, every mask also matches nw_src
// exactly, so each microflow has its own megaflow (100k megaflows in 16
// large hashed subtables: the case where a subtable probe misses cache).
std::unique_ptr<Workload> make_workload(int nmasks, bool per_microflow = false) {
  auto w = std::make_unique<Workload>();
  std::vector<int> lens = subtable_lengths(nmasks);
  std::vector<uint32_t> nets;
  for (int k = 0; k < nmasks; k++) {
    uint32_t base = nmasks == 1 ? 0xac100000u : (static_cast<uint32_t>(20 + k) << 24) | 0x00abcdefu;
    uint32_t pmask = lens[k] == 0 ? 0 : 0xffffffffu << (32 - lens[k]);
    nets.push_back(base & pmask);
    DpFlow* f = w->arena.alloc();
    f->mask.in_port = 0xffffffff;
    f->mask.eth_type = 0xffff;
    f->mask.nw_frag = 0xff;
    f->mask.nw_dst = be32(pmask);
    f->key.in_port = 1;
    f->key.eth_type = be16(kEthTypeIpv4);
    f->key.nw_dst = be32(base & pmask);
    if (per_microflow) {
      w->arena.free(f);  // just a template: the flows are made per microflow below
    } else if (w->cls.insert(f) != InsertResult::kOk) {
      std::abort();
    }
  }
  std::mt19937 rng(4242);
  w->keys.resize(kMicroflows);
  w->hashes.resize(kMicroflows);
  for (uint32_t i = 0; i < kMicroflows; i++) {
    int k = static_cast<int>(i % nmasks);
    uint32_t host = lens[k] < 32 ? rng() & ((1u << (32 - lens[k])) - 1) : 0;
    FlowKey& key = w->keys[i];
    key = FlowKey{};
    key.in_port = 1;
    key.eth_type = be16(kEthTypeIpv4);
    const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x0b}, src[6] = {0x02, 0, 0, 0, 0, 0x0a};
    std::memcpy(key.dl_dst, dst, 6);
    std::memcpy(key.dl_src, src, 6);
    key.nw_src = be32(0x0a000000u + i);
    key.nw_dst = be32(nets[k] | host);
    key.nw_proto = 17;
    key.nw_ttl = 64;
    key.tp_src = be16(static_cast<uint16_t>(1024 + i % 60000));
    key.tp_dst = be16(static_cast<uint16_t>(2000 + i % 17));
    w->hashes[i] = key_hash(key);
    if (per_microflow) {
      DpFlow* f = w->arena.alloc();
      f->mask.in_port = 0xffffffff;
      f->mask.eth_type = 0xffff;
      f->mask.nw_frag = 0xff;
      f->mask.nw_src = 0xffffffff;
      f->mask.nw_dst = be32(lens[k] == 0 ? 0 : 0xffffffffu << (32 - lens[k]));
      flow_key_apply_mask(key, f->mask, &f->key);
      if (w->cls.insert(f) != InsertResult::kOk) std::abort();
    }
  }
  return w;
}

// TSC ticks per nanosecond, measured once against steady_clock.
double tsc_per_ns() {
  static const double rate = [] {
    auto t0 = std::chrono::steady_clock::now();
    uint64_t c0 = __rdtsc();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
    }
    uint64_t c1 = __rdtsc();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - t0).count();
    return static_cast<double>(c1 - c0) / static_cast<double>(ns);
  }();
  return rate;
}

// Thread CPU time in TSC cycles.
uint64_t cpu_cycles() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  double ns = static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  return static_cast<uint64_t>(ns * tsc_per_ns());
}

// One burst copied into a stack array first, as the parser would have just
// written it: the lookups then see hot keys, as in the PMD. The copy is in
// every figure; BM_BurstCopy measures it alone (subtract it for net cost).
struct Burst {
  FlowKey keys[kBurst];
  uint32_t hashes[kBurst];
  // Copies the next burst of w and advances pos (wrapping).
  void load(const Workload& w, uint32_t& pos) {
    std::memcpy(static_cast<void*>(keys), &w.keys[pos], sizeof keys);
    std::memcpy(hashes, &w.hashes[pos], sizeof hashes);
    pos += kBurst;
    if (pos + kBurst > kMicroflows) pos = 0;
  }
};

void set_cycles(benchmark::State& state, uint64_t cycles, uint64_t pkts) {
  state.counters["cyc/pkt"] = pkts ? static_cast<double>(cycles) / static_cast<double>(pkts) : 0;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
}

// The timed loop of the burst benchmarks: per iteration the next burst of w
// is loaded and body(burst) runs; reports cyc/pkt and returns the packets.
template <typename Body>
uint64_t run_bursts(benchmark::State& state, const Workload& w, Body body) {
  Burst b;
  uint32_t pos = 0;
  uint64_t pkts = 0;
  tsc_per_ns();
  uint64_t t0 = cpu_cycles();
  for (auto _ : state) {
    b.load(w, pos);
    body(b);
    pkts += kBurst;
  }
  set_cycles(state, cpu_cycles() - t0, pkts);
  return pkts;
}

void BM_BurstCopy(benchmark::State& state) {
  auto w = make_workload(1);
  run_bursts(state, *w, [](Burst& b) { benchmark::DoNotOptimize(b); });
}
BENCHMARK(BM_BurstCopy);

void BM_EmcHitL1(benchmark::State& state) {
  auto w = make_workload(1);
  ExactMatchCache emc;
  DpFlow* f = w->cls.flow_by_index(0);
  for (unsigned i = 0; i < kBurst; i++) emc.insert(w->keys[i], w->hashes[i], f);
  DpFlow* out[kBurst];
  uint64_t pkts = 0, hits = 0;
  tsc_per_ns();
  uint64_t t0 = cpu_cycles();
  for (auto _ : state) {
    uint32_t hit = emc.lookup_batch(w->keys.data(), w->hashes.data(), 0xffffffffu, out);
    benchmark::DoNotOptimize(hit);
    benchmark::DoNotOptimize(out);
    hits += static_cast<unsigned>(__builtin_popcount(hit));
    pkts += kBurst;
  }
  set_cycles(state, cpu_cycles() - t0, pkts);
  state.counters["hit%"] = 100.0 * static_cast<double>(hits) / static_cast<double>(pkts);
}
BENCHMARK(BM_EmcHitL1);

void BM_EmcThrash100k(benchmark::State& state) {
  auto w = make_workload(1);
  ExactMatchCache emc;
  DpFlow* f = w->cls.flow_by_index(0);
  DpFlow* out[kBurst];
  uint64_t hits = 0;
  uint64_t pkts = run_bursts(state, *w, [&](Burst& b) {
    uint32_t hit = emc.lookup_batch(b.keys, b.hashes, 0xffffffffu, out);
    for (uint32_t m = ~hit; m; m &= m - 1) {
      unsigned i = static_cast<unsigned>(__builtin_ctz(m));
      emc.maybe_insert(b.keys[i], b.hashes[i], f);
    }
    hits += static_cast<unsigned>(__builtin_popcount(hit));
  });
  state.counters["hit%"] = 100.0 * static_cast<double>(hits) / static_cast<double>(pkts);
}
BENCHMARK(BM_EmcThrash100k);

// Args: masks, SMC entries in K (0 = SMC off), megaflow per microflow.
void BM_ClassifierBatch(benchmark::State& state) {
  auto w = make_workload(static_cast<int>(state.range(0)), state.range(2) != 0);
  if (state.range(1)) w->cls.set_smc_enabled(true, static_cast<uint32_t>(state.range(1)) * 1024);
  DpFlow* out[kBurst];
  ClassifierStats st;
  // Warm the SMC (one pass), as a PMD would be after the first second.
  for (uint32_t p = 0; p + kBurst <= kMicroflows; p += kBurst)
    w->cls.lookup_batch(&w->keys[p], &w->hashes[p], kBurst, 0xffffffff, out);
  run_bursts(state, *w, [&](Burst& b) {
    uint32_t hit = w->cls.lookup_batch(b.keys, b.hashes, kBurst, 0xffffffff, out, &st);
    benchmark::DoNotOptimize(hit);
    benchmark::DoNotOptimize(out);
  });
  uint64_t sub_hits = st.hits - st.smc_hits;
  state.counters["probes/hit"] =
      sub_hits ? static_cast<double>(st.subtable_probes) / static_cast<double>(sub_hits) : 0;
  state.counters["smc%"] = 100.0 * static_cast<double>(st.smc_hits) / static_cast<double>(st.lookups);
  if (st.hits != st.lookups) state.SkipWithError("classifier missed a key");
}
// {1, 0}, {16, 0}, {16, 256}, {16, 1024} (masks, smc_k), without and with
// a megaflow per microflow.
void classifier_batch_args(benchmark::internal::Benchmark* b) {
  for (int per_microflow : {0, 1})
    for (auto [masks, smc_k] : {std::pair{1, 0}, {16, 0}, {16, 256}, {16, 1024}})
      b->Args({masks, smc_k, per_microflow});
}
BENCHMARK(BM_ClassifierBatch)
    ->ArgNames({"masks", "smc_k", "mf_per_uf"})
    ->Apply(classifier_batch_args);

void BM_ClassifierSingle(benchmark::State& state) {
  auto w = make_workload(static_cast<int>(state.range(0)));
  run_bursts(state, *w, [&](Burst& b) {
    for (unsigned i = 0; i < kBurst; i++) benchmark::DoNotOptimize(w->cls.lookup(b.keys[i]));
  });
}
BENCHMARK(BM_ClassifierSingle)->ArgName("masks")->Arg(1)->Arg(16);

// The PMD's lookup sequence: EMC (optional) -> classifier (SMC optional) ->
// maybe_insert into the EMC for classifier hits.
void BM_Pipeline(benchmark::State& state) {
  auto w = make_workload(static_cast<int>(state.range(0)));
  const bool use_emc = state.range(1) != 0;
  w->cls.set_smc_enabled(state.range(2) != 0);
  ExactMatchCache emc;
  DpFlow* out[kBurst];
  uint64_t emc_hits = 0;
  for (uint32_t p = 0; p + kBurst <= kMicroflows; p += kBurst)  // warm caches
    w->cls.lookup_batch(&w->keys[p], &w->hashes[p], kBurst, 0xffffffff, out);
  uint64_t pkts = run_bursts(state, *w, [&](Burst& b) {
    uint32_t hit = use_emc ? emc.lookup_batch(b.keys, b.hashes, 0xffffffffu, out) : 0;
    uint32_t miss = ~hit;
    if (miss) {
      uint32_t mh = w->cls.lookup_batch(b.keys, b.hashes, kBurst, miss, out);
      if (use_emc)
        for (uint32_t m = mh; m; m &= m - 1) {
          unsigned i = static_cast<unsigned>(__builtin_ctz(m));
          emc.maybe_insert(b.keys[i], b.hashes[i], out[i]);
        }
    }
    benchmark::DoNotOptimize(out);
    emc_hits += static_cast<unsigned>(__builtin_popcount(hit));
  });
  state.counters["emc%"] = 100.0 * static_cast<double>(emc_hits) / static_cast<double>(pkts);
}
// (masks, smc) of {1, 0}, {16, 0}, {16, 1}, each with the EMC on and off.
void pipeline_args(benchmark::internal::Benchmark* b) {
  for (auto [masks, smc] : {std::pair{1, 0}, {16, 0}, {16, 1}})
    for (int emc : {1, 0}) b->Args({masks, emc, smc});
}
BENCHMARK(BM_Pipeline)->ArgNames({"masks", "emc", "smc"})->Apply(pipeline_args);

struct KeyHash {
  size_t operator()(const FlowKey& k) const { return key_hash(k); }
};
struct KeyEq {
  bool operator()(const FlowKey& a, const FlowKey& b) const { return flow_key_equal(a, b); }
};

void BM_UnorderedMapExact(benchmark::State& state) {
  auto w = make_workload(1);
  std::unordered_map<FlowKey, DpFlow*, KeyHash, KeyEq> map;
  DpFlow* f = w->cls.flow_by_index(0);
  for (const FlowKey& k : w->keys) map.emplace(k, f);
  run_bursts(state, *w, [&](Burst& b) {
    for (unsigned i = 0; i < kBurst; i++) {
      auto it = map.find(b.keys[i]);
      benchmark::DoNotOptimize(it);
    }
  });
}
BENCHMARK(BM_UnorderedMapExact);

}  // namespace

BENCHMARK_MAIN();
