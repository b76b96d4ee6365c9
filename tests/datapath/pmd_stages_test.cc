// The PMD's per-burst stages (pmd_stages.h), each driven directly on a
// crafted batch, then all of them through process_batch and run_once:
//  - parse: keys and hashes per packet; burst trains marked, not parsed;
//  - classify: megaflow hits, EMC hits on the next pass, SMC hits when the
//    EMC does not take them, misses; train packets follow their head;
//  - upcall: each miss in the miss ring with its head's key, its own packet
//    and hash, the PMD index and the reason;
//  - execute: one flow for the whole burst, single-output flows packet by
//    packet, multi-action flows grouped by flow; flow counters.
// No EAL (pmd_rig.h): the sanitizer build runs these.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <map>

#include "pmd_rig.h"
#include "pmd_stages.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

constexpr const char* kTo10 = "in_port=1,eth_type=0x0800,nw_dst=10.0.0.0/8";
constexpr const char* kTo20 = "in_port=1,eth_type=0x0800,nw_dst=20.0.0.0/8";
constexpr const char* kTo30 = "in_port=1,eth_type=0x0800,nw_dst=30.0.0.0/8";

FlowKey key_of(rte_mbuf* m, uint32_t in_port = 1) {
  FlowKey k;
  flow_key_extract(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, in_port, &k);
  return k;
}

// parse -> classify -> execute the hits -> the iteration's flush; returns
// the misses.
uint32_t run_stages(PmdRig& rig, std::vector<rte_mbuf*>& pkts) {
  const Burst in = burst_of(pkts);
  PmdBatch b;
  const BatchMasks m = rig.pmd->parse(in, b);
  const uint32_t miss = rig.pmd->classify(in, b, m);
  if (m.all & ~miss) rig.pmd->execute(in, b, m, m.all & ~miss);
  rig.pmd->run_once();
  return miss;
}

uint64_t bytes_of(const std::vector<rte_mbuf*>& pkts) {
  uint64_t n = 0;
  for (rte_mbuf* m : pkts) n += m->pkt_len;
  return n;
}

}  // namespace

TEST_CASE("parse: a key and a hash per packet; a burst train is marked, not parsed",
          "[datapath][pmd]") {
  PmdRig rig;
  auto pkts = rig.packets({frame_to("10.1.1.1"), frame_to("10.1.1.1"), frame_to("20.2.2.2"),
                           frame_to("10.1.1.1")});
  const Burst in = burst_of(pkts);
  PmdBatch b;
  const BatchMasks m = rig.pmd->parse(in, b);
  CHECK(m.all == 0xf);
  CHECK(m.train == 0x2);  // packet 1 repeats packet 0; packet 3 follows another flow
  CHECK(m.todo == 0xd);
  for (unsigned i : {0u, 2u, 3u}) {
    INFO(i);
    CHECK(flow_key_equal(b.keys[i], key_of(pkts[i])));
  }
  CHECK(b.hashes[1] == b.hashes[0]);
  CHECK(b.hashes[3] == b.hashes[0]);
  CHECK(b.hashes[2] != b.hashes[0]);
  CHECK(rig.counter(kTrainHits) == 1);
}

TEST_CASE("classify: megaflow hit, then an EMC hit; misses and their trains stay misses",
          "[datapath][pmd]") {
  PmdRig rig;  // every megaflow hit goes into the EMC
  DpFlow* f10 = rig.install(kTo10, "output:2");
  auto pkts = rig.packets({frame_to("10.1.1.1"), frame_to("10.1.1.1"), frame_to("99.1.1.1"),
                           frame_to("99.1.1.1"), frame_to("10.9.9.9")});
  const Burst in = burst_of(pkts);
  PmdBatch b;
  BatchMasks m = rig.pmd->parse(in, b);
  REQUIRE(m.train == 0x0a);
  CHECK(rig.pmd->classify(in, b, m) == 0x0c);  // 99.x and its train packet
  CHECK(b.flows[0] == f10);
  CHECK(b.flows[1] == f10);  // the train packet took its head's flow
  CHECK(b.flows[4] == f10);
  CHECK(rig.counter(kMegaflowHits) == 2);
  CHECK(rig.counter(kEmcHits) == 0);
  CHECK(rig.counter(kSubtableLookups) == 3);  // two hits and one miss, one subtable

  // The same burst again: the EMC has both microflows now.
  PmdBatch b2;
  m = rig.pmd->parse(in, b2);
  CHECK(rig.pmd->classify(in, b2, m) == 0x0c);
  CHECK(b2.flows[0] == f10);
  CHECK(b2.flows[4] == f10);
  CHECK(rig.counter(kEmcHits) == 2);
  CHECK(rig.counter(kMegaflowHits) == 2);
}

TEST_CASE("classify: with EMC inserts off, the second pass hits the SMC", "[datapath][pmd]") {
  PmdRig rig(/*emc_insert_inv_prob=*/0, /*smc=*/true);
  DpFlow* f10 = rig.install(kTo10, "output:2");
  DpFlow* f20 = rig.install("in_port=1,eth_type=0x0800,nw_dst=20.2.0.0/16", "output:3");
  auto pkts = rig.packets({frame_to("10.1.1.1"), frame_to("20.2.2.2"), frame_to("10.3.3.3")});
  const Burst in = burst_of(pkts);
  PmdBatch b;
  BatchMasks m = rig.pmd->parse(in, b);
  REQUIRE(rig.pmd->classify(in, b, m) == 0);
  CHECK(rig.counter(kSmcHits) == 0);
  CHECK(rig.counter(kMegaflowHits) == 3);
  PmdBatch b2;
  m = rig.pmd->parse(in, b2);
  REQUIRE(rig.pmd->classify(in, b2, m) == 0);
  CHECK(b2.flows[0] == f10);
  CHECK(b2.flows[1] == f20);
  CHECK(b2.flows[2] == f10);
  CHECK(rig.counter(kEmcHits) == 0);
  CHECK(rig.counter(kSmcHits) == 3);
  CHECK(rig.counter(kMegaflowHits) == 3);  // megaflow_hits excludes SMC hits
}

TEST_CASE("upcall: misses reach the miss ring with their head's key", "[datapath][pmd]") {
  PmdRig rig;
  rig.install(kTo10, "output:2");
  auto pkts = rig.packets({frame_to("99.1.1.1", 7), frame_to("99.1.1.1", 7),
                           frame_to("10.1.1.1"), frame_to("98.1.1.1", 8)});
  const Burst in = burst_of(pkts);
  PmdBatch b;
  const BatchMasks m = rig.pmd->parse(in, b);
  const uint32_t miss = rig.pmd->classify(in, b, m);
  REQUIRE(miss == 0x0b);
  rig.pmd->upcall_misses(in, b, m.train, miss);
  Upcall ups[8];
  REQUIRE(rig.pmd->misses().dequeue_burst(ups, 8) == 3);
  const unsigned idx[] = {0, 1, 3};
  for (unsigned u = 0; u < 3; u++) {
    INFO(u);
    const unsigned i = idx[u];
    CHECK(ups[u].pkt == pkts[i]);
    CHECK(ups[u].hash == b.hashes[i]);
    CHECK(flow_key_equal(ups[u].key, key_of(pkts[i])));  // the train packet's = its head's
    CHECK(ups[u].pmd == 3);
    CHECK(ups[u].reason == UpcallReason::kMiss);
    CHECK(ups[u].cookie == 0);
  }
  CHECK(rig.counter(kUpcalls) == 3);
  CHECK(rig.counter(kLostUpcalls) == 0);
}

TEST_CASE("execute: a burst on one flow goes out in one piece and is counted once",
          "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* f10 = rig.install(kTo10, "output:2");
  // TCP SYN, its train repeat, and an ACK of another connection.
  auto pkts = rig.packets({frame_to("10.1.1.1", 5, 0x02), frame_to("10.1.1.1", 5, 0x02),
                           frame_to("10.2.2.2", 6, 0x10)});
  const Burst in = burst_of(pkts);
  PmdBatch b;
  const BatchMasks m = rig.pmd->parse(in, b);
  REQUIRE(m.train == 0x2);
  REQUIRE(rig.pmd->classify(in, b, m) == 0);
  rig.pmd->execute(in, b, m, m.all);
  CHECK(rig.port(2).sent.empty());  // batched until the iteration's flush
  rig.pmd->run_once();
  CHECK(rig.port(2).sent == pkts);
  CHECK(rig.port(2).bursts == 1);
  CHECK(f10->packets.load() == 3);
  CHECK(f10->bytes.load() == bytes_of(pkts));
  CHECK(f10->tcp_flags.load() == htons(0x12));
  CHECK(rig.counter(kTxPackets) == 3);
}

TEST_CASE("execute: single-output flows packet by packet, keeping order per port",
          "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* f10 = rig.install(kTo10, "output:2");
  DpFlow* f20 = rig.install(kTo20, "output:3");
  auto pkts = rig.packets({frame_to("10.0.0.1", 1), frame_to("20.0.0.1", 2),
                           frame_to("10.0.0.2", 3), frame_to("99.0.0.1", 4),
                           frame_to("20.0.0.2", 5)});
  REQUIRE(run_stages(rig, pkts) == 0x08);
  CHECK(rig.port(2).sent == std::vector<rte_mbuf*>{pkts[0], pkts[2]});
  CHECK(rig.port(3).sent == std::vector<rte_mbuf*>{pkts[1], pkts[4]});
  CHECK(f10->packets.load() == 2);
  CHECK(f20->packets.load() == 2);
  CHECK(f20->bytes.load() == pkts[1]->pkt_len + pkts[4]->pkt_len);
}

TEST_CASE("execute: other flows are grouped by flow; their actions run on every packet",
          "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* f10 = rig.install(kTo10, "set_tp_src:7,output:2");
  DpFlow* f20 = rig.install(kTo20, "output:2");
  DpFlow* f30 = rig.install(kTo30, "set_tp_dst:9,output:3");
  auto pkts = rig.packets({frame_to("10.0.0.1", 1), frame_to("30.0.0.1", 2),
                           frame_to("20.0.0.1", 3), frame_to("10.0.0.2", 4),
                           frame_to("30.0.0.2", 5)});
  REQUIRE(run_stages(rig, pkts) == 0);
  // The single-output packet is queued as it is met; the groups follow, each
  // in arrival order.
  CHECK(rig.port(2).sent == std::vector<rte_mbuf*>{pkts[2], pkts[0], pkts[3]});
  CHECK(rig.port(3).sent == std::vector<rte_mbuf*>{pkts[1], pkts[4]});
  for (unsigned i : {0u, 3u}) CHECK(key_of(pkts[i]).tp_src == htons(7));
  for (unsigned i : {1u, 4u}) CHECK(key_of(pkts[i]).tp_dst == htons(9));
  CHECK(key_of(pkts[2]).tp_src == htons(3));  // untouched
  CHECK(f10->packets.load() == 2);
  CHECK(f30->packets.load() == 2);
  CHECK(f20->packets.load() == 1);
  CHECK(f10->bytes.load() == pkts[0]->pkt_len + pkts[3]->pkt_len);
}

TEST_CASE("process_batch and run_once: hits out, misses up, counters add up",
          "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* f10 = rig.install(kTo10, "output:2");
  std::vector<std::vector<uint8_t>> frames;
  for (unsigned i = 0; i < 40; i++)  // more than one burst: 32 + 8
    frames.push_back(i % 5 == 4 ? frame_to("99.0.0.1", static_cast<uint16_t>(i))
                                : frame_to("10.0.0.1", static_cast<uint16_t>(i)));
  auto pkts = rig.packets(frames);
  for (rte_mbuf* p : pkts) rig.port(1).rx.push_back(p);
  rig.pmd->run_once();  // one rx burst per queue and iteration: 32 packets
  CHECK(rig.port(1).rx.size() == 8);
  CHECK(rig.counter(kRxPackets) == 32);
  CHECK(rig.port(2).bursts == 1);  // one tx burst per iteration and port
  rig.pmd->run_once();
  CHECK(rig.port(1).rx.empty());
  CHECK(rig.counter(kRxPackets) == 40);
  CHECK(rig.counter(kUpcalls) == 8);
  CHECK(rig.counter(kTxPackets) == 32);
  CHECK(rig.counter(kIterations) == 2);
  CHECK(rig.port(2).sent.size() == 32);
  CHECK(rig.port(2).bursts == 2);
  CHECK(std::is_sorted(rig.port(2).sent.begin(), rig.port(2).sent.end(),
                       [&](rte_mbuf* a, rte_mbuf* c) {
                         return std::find(pkts.begin(), pkts.end(), a) <
                                std::find(pkts.begin(), pkts.end(), c);
                       }));
  CHECK(f10->packets.load() == 32);
  Upcall ups[16];
  REQUIRE(rig.pmd->misses().dequeue_burst(ups, 16) == 8);
  for (unsigned u = 0; u < 8; u++) CHECK(ups[u].pkt == pkts[u * 5 + 4]);
  CHECK(rig.pmd->rxq_stats(0).packets.load() == 40);

  // The same traffic again hits the EMC (every hit was inserted).
  for (unsigned i = 0; i < 40; i++)
    if (i % 5 != 4) rig.port(1).rx.push_back(pkts[i]);
  rig.pmd->run_once();
  CHECK(rig.counter(kEmcHits) == 32);
  CHECK(rig.counter(kMegaflowHits) == 32);  // all from the first pass
  CHECK(rig.counter(kTxPackets) == 64);
}

TEST_CASE("bond output: each packet to its bucket's member, in order, one burst per member",
          "[datapath][pmd][bond]") {
  PmdRig rig;
  DpBondConfig cfg;
  cfg.hash = BondHash::kL4;
  for (unsigned k = 0; k < kBondBuckets; k++) cfg.buckets[k] = k % 3 == 0 ? 3 : 2;
  PmdCommand* set = rig.new_command(PmdCmdType::kBondSet);
  set->bond_id = 5;
  set->bond = new DpBond(cfg);
  DpBond* bond = set->bond;
  REQUIRE(rig.run(set) == 0);
  REQUIRE(set->bond == nullptr);  // nothing replaced
  rig.install(kTo10, "bond:5");
  rig.install(kTo20, "bond:5,output:1");  // the bond keeps a reference
  std::vector<std::vector<uint8_t>> frames;
  for (unsigned i = 0; i < 32; i++)
    frames.push_back(frame_to(i % 4 == 3 ? "20.0.0.1" : "10.0.0.1", static_cast<uint16_t>(1000 + i)));
  auto pkts = rig.packets(frames);
  // What each port must get, per flow, in the burst's order (the first
  // flow's packets go one by one, the second's through the general action
  // loop: both must pick the same member for a packet).
  std::map<uint32_t, std::vector<rte_mbuf*>> want[2];
  std::array<uint64_t, kBondBuckets> want_tx{};
  for (unsigned i = 0; i < 32; i++) {
    const unsigned k = bond_bucket_of(bond_hash_l4(pkts[i]));
    want[i % 4 == 3][cfg.buckets[k]].push_back(pkts[i]);
    want_tx[k]++;
    if (i % 4 == 3) want[1][1].push_back(pkts[i]);
  }
  for (rte_mbuf* p : pkts) rig.port(1).rx.push_back(p);
  rig.pmd->run_once();
  for (uint32_t port : {1u, 2u, 3u}) {
    INFO("port " << port);
    for (int f = 0; f < 2; f++) {
      std::vector<rte_mbuf*> got;
      for (rte_mbuf* m : rig.port(port).sent)
        if (((std::find(pkts.begin(), pkts.end(), m) - pkts.begin()) % 4 == 3) == (f == 1)) got.push_back(m);
      CHECK(got == want[f][port]);
    }
    CHECK(rig.port(port).bursts == 1);
  }
  CHECK(!want[0][2].empty());  // sequential ports use both members
  CHECK(!want[0][3].empty());
  CHECK(rig.port(2).sent.size() + rig.port(3).sent.size() == 32);
  CHECK(rig.counter(kTxPackets) == 40);
  for (unsigned k = 0; k < kBondBuckets; k++) CHECK(bond->tx[k].load() == want_tx[k]);
  for (unsigned i = 0; i < 32; i++) CHECK(rte_mbuf_refcnt_read(pkts[i]) == (i % 4 == 3 ? 2 : 1));

  // buckets_of() is bucket() per packet, whatever the hash.
  for (BondHash h : {BondHash::kL4, BondHash::kSrcMacVlan, BondHash::kActive}) {
    DpBondConfig c = cfg;
    c.hash = h;
    DpBond b(c);
    uint8_t ks[32];
    b.buckets_of(pkts.data(), 32, ks);
    for (unsigned i = 0; i < 32; i++) CHECK(ks[i] == b.bucket(pkts[i]));
  }
  PmdCommand* del = rig.new_command(PmdCmdType::kBondDel);
  del->bond_id = 5;
  REQUIRE(rig.run(del) == 0);
  CHECK(del->bond == bond);
  delete del->bond;
}
