// ofproto_bench.cc - microbenchmarks of the slow-path data structures
// (Google Benchmark): OpenFlow table lookup with wildcard recording by rule
// count and number of distinct masks, translation (xlate) of a multi-table
// pipeline and of NORMAL with learned MACs (the cost per miss on the
// ofproto thread), MAC learning, and rule parsing.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <random>

#include "bridge_fixtures.h"
#include "flow_parser.h"
#include "xlate.h"

using namespace dps::ofproto;
using dps::datapath::FlowKey;

namespace {

// n rules spread over n_masks IPv4 destination prefix lengths.
void fill_table(FlowTable& t, int n, int n_masks) {
  for (int i = 0; i < n; i++) {
    OfMatch m;
    (void)m.set_u64(OxmField::kEthType, 0x0800);
    uint32_t plen = 32 - static_cast<uint32_t>(i % n_masks);
    uint32_t mask = ~0u << (32 - plen);
    (void)m.set_u64_masked(OxmField::kIpv4Dst, (0x0a000000u + (static_cast<uint32_t>(i) << 8)) & mask, mask);
    auto r = std::make_shared<Rule>();
    r->match = m;
    r->priority = static_cast<uint16_t>(plen);
    if (!t.find_strict(m, r->priority)) t.insert(r);
  }
}

void BM_FlowTableLookup(benchmark::State& st) {
  FlowTable t;
  fill_table(t, static_cast<int>(st.range(0)), static_cast<int>(st.range(1)));
  std::vector<OfKey> keys(1024);
  std::mt19937 rng(1);
  for (auto& k : keys) {
    k.flow.eth_type = htons(0x0800);
    k.flow.nw_dst = htonl(0x0a000000u + ((rng() % st.range(0)) << 8));
  }
  size_t i = 0, hits = 0;
  for (auto _ : st) {
    OfMask wc;
    Rule* r = t.lookup(keys[i++ & 1023], &wc);
    hits += r != nullptr;
    benchmark::DoNotOptimize(r);
  }
  st.counters["subtables"] = static_cast<double>(t.n_subtables());
  st.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(st.iterations());
}
BENCHMARK(BM_FlowTableLookup)->Args({1000, 1})->Args({10000, 1})->Args({10000, 16})->Args({100000, 16});

// OpenFlow ports 1..8 on datapath ports 101..108.
Bridge bench_bridge() { return dps::test::make_bridge(8, "br0", 100); }

void add(Bridge& b, const std::string& text) {
  FlowMod fm;
  if (parse_flow(text, &fm) || b.pipeline.flow_mod(fm, 0)) std::abort();
}

FlowKey key_for(uint32_t in, uint32_t dst, uint8_t src_mac, uint8_t dst_mac) {
  FlowKey k = dps::test::tcp_key(in, src_mac, dst_mac);
  k.nw_dst = htonl(dst);
  return k;
}

void BM_XlatePipeline(benchmark::State& st) {
  Bridge b = bench_bridge();
  add(b, "table=0,priority=100,in_port=1,ip actions=write_metadata:0x1/0x1,goto_table:1");
  add(b, "table=0,priority=0 actions=drop");
  for (int i = 0; i < 1000; i++)
    add(b, "table=1,priority=10,metadata=0x1/0x1,ip,nw_dst=10." + std::to_string(i / 256) + "." +
               std::to_string(i % 256) + ".0/24 actions=mod_dl_dst:02:00:00:00:00:01,goto_table:2");
  add(b, "table=2,tcp,tp_dst=80 actions=dec_ttl,output:2");
  add(b, "table=2,priority=0 actions=output:3");
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < 1000; i++) keys.push_back(key_for(101, 0x0a000000u | (i << 8) | 7, 1, 2));
  XlateOptions o;
  size_t i = 0;
  for (auto _ : st) {
    XlateResult r = xlate(b, keys[i++ % keys.size()], o);
    benchmark::DoNotOptimize(r.actions.n);
  }
}
BENCHMARK(BM_XlatePipeline);

void BM_XlateNormal2000Macs(benchmark::State& st) {
  Bridge b = bench_bridge();
  add(b, "actions=NORMAL");
  for (uint32_t m = 0; m < 2000; m++)
    b.mac.learn(MacAddr{2, 0, 0, 0, static_cast<uint8_t>(m >> 8), static_cast<uint8_t>(m)}, 0, 1 + m % 8, 0);
  std::vector<FlowKey> keys;
  std::mt19937 rng(3);
  for (int i = 0; i < 1024; i++) {
    uint32_t s = rng() % 2000, d = rng() % 2000;
    FlowKey k = key_for(101 + s % 8, 0x0a000001, 0, 0);
    k.dl_src[4] = static_cast<uint8_t>(s >> 8);
    k.dl_src[5] = static_cast<uint8_t>(s);
    k.dl_dst[4] = static_cast<uint8_t>(d >> 8);
    k.dl_dst[5] = static_cast<uint8_t>(d);
    keys.push_back(k);
  }
  XlateOptions o;
  o.may_learn = true;
  size_t i = 0;
  for (auto _ : st) {
    XlateResult r = xlate(b, keys[i++ & 1023], o);
    benchmark::DoNotOptimize(r.actions.n);
  }
}
BENCHMARK(BM_XlateNormal2000Macs);

void BM_MacLearn(benchmark::State& st) {
  MacLearning ml;
  std::mt19937 rng(5);
  int64_t now = 0;
  for (auto _ : st) {
    uint32_t m = rng() % 8000;
    ml.learn(MacAddr{2, 0, 0, 0, static_cast<uint8_t>(m >> 8), static_cast<uint8_t>(m)}, 0, m % 8, now++);
  }
}
BENCHMARK(BM_MacLearn);

void BM_ParseFlow(benchmark::State& st) {
  const std::string text =
      "table=1,priority=100,cookie=0x5,tcp,nw_src=10.1.0.0/16,nw_dst=10.0.0.1,tp_dst=80 "
      "actions=mod_dl_dst:02:00:00:00:00:01,dec_ttl,output:2,goto_table:3";
  for (auto _ : st) {
    FlowMod fm;
    benchmark::DoNotOptimize(parse_flow(text, &fm));
  }
}
BENCHMARK(BM_ParseFlow);

}  // namespace

BENCHMARK_MAIN();
