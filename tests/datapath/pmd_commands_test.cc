// The PMD side of the command ring (pmd_commands.cc): each command applied
// by a PmdThread through its own ring, with its result and its effect on the
// forwarding that follows; and AdaptiveStage, which switches the EMC probe
// and the train check off while they do not pay. No EAL (pmd_rig.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>

#include "adaptive_stage.h"
#include "meter.h"
#include "pmd_rig.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

constexpr const char* kTo10 = "in_port=1,eth_type=0x0800,nw_dst=10.0.0.0/8";

// Sends frames through the PMD (one iteration); returns what port `out` got.
std::vector<rte_mbuf*> forward(PmdRig& rig, const std::vector<rte_mbuf*>& pkts, uint32_t out) {
  for (uint32_t p = 1; p <= 3; p++) rig.port(p).sent.clear();
  for (rte_mbuf* p : pkts) rig.port(1).rx.push_back(p);
  rig.pmd->run_once();
  return rig.port(out).sent;
}

}  // namespace

TEST_CASE("install: ok, duplicate, unmasked key; sizes published", "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* f = rig.install(kTo10, "output:2");
  CHECK(f->installed);
  CHECK(rig.pmd->n_flows() == 1);
  CHECK(rig.pmd->n_subtables() == 1);

  PmdCommand* dup = rig.new_command(PmdCmdType::kInstall);
  dup->flow = rig.make_flow(kTo10, "output:3");
  CHECK(rig.run(dup) == -EEXIST);
  CHECK_FALSE(dup->flow->installed);

  PmdCommand* bad = rig.new_command(PmdCmdType::kInstall);
  bad->flow = rig.make_flow("in_port=1,nw_src=1.2.3.0/24", "output:3");
  bad->flow->key.nw_src |= htonl(0xff);  // a bit outside the mask
  CHECK(rig.run(bad) == -EINVAL);
  CHECK(rig.pmd->n_flows() == 1);
  CHECK(rig.counter(kCommands) >= 3);
}

TEST_CASE("install+execute runs the packets even when the install fails", "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* first = rig.install(kTo10, "output:2");
  auto pkts = rig.packets({frame_to("10.0.0.1"), frame_to("10.0.0.2")});
  PmdCommand* cmd = rig.new_command(PmdCmdType::kInstallExecute);
  cmd->flow = rig.make_flow(kTo10, "output:3");  // a duplicate of `first`
  cmd->in_port = 1;
  cmd->n_pkts = 2;
  cmd->pkts[0] = pkts[0];
  cmd->pkts[1] = pkts[1];
  CHECK(rig.run(cmd) == -EEXIST);
  CHECK(cmd->n_pkts == 0);  // the PMD took them
  rig.pmd->run_once();
  CHECK(rig.port(3).sent == pkts);  // by the command's flow's actions
  CHECK(cmd->flow->packets.load() == 0);  // not counted: the slow path did
  CHECK(first->packets.load() == 0);
}

TEST_CASE("modify and remove change what forwarding does next", "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* f = rig.install(kTo10, "output:2");
  auto pkts = rig.packets({frame_to("10.0.0.1")});
  CHECK(forward(rig, pkts, 2) == pkts);

  PmdCommand* mod = rig.new_command(PmdCmdType::kModify);
  mod->flow = f;
  mod->actions = parse_dp_actions("output:3");
  CHECK(rig.run(mod) == 0);
  CHECK(forward(rig, pkts, 3) == pkts);  // also through the EMC entry
  CHECK(rig.port(2).sent.empty());

  PmdCommand* rm = rig.new_command(PmdCmdType::kRemove);
  rm->flow = f;
  const uint32_t gen = f->gen.load();
  CHECK(rig.run(rm) == 0);
  CHECK_FALSE(f->installed);
  CHECK(f->gen.load() == gen + 1);
  CHECK(rig.pmd->n_flows() == 0);
  CHECK(forward(rig, pkts, 3).empty());  // a miss now
  CHECK(rig.counter(kUpcalls) == 1);

  PmdCommand* rm2 = rig.new_command(PmdCmdType::kRemove);
  rm2->flow = f;
  CHECK(rig.run(rm2) == -ENOENT);
  PmdCommand* mod2 = rig.new_command(PmdCmdType::kModify);
  mod2->flow = f;
  mod2->actions = parse_dp_actions("output:2");
  CHECK(rig.run(mod2) == -ENOENT);
}

TEST_CASE("flush lists every flow; execute runs the given actions", "[datapath][pmd]") {
  PmdRig rig;
  DpFlow* a = rig.install(kTo10, "output:2");
  DpFlow* b = rig.install("in_port=1,eth_type=0x0800,nw_dst=20.0.0.0/16", "output:3");
  PmdCommand* fl = rig.new_command(PmdCmdType::kFlush);
  fl->flows.reserve(4);
  CHECK(rig.run(fl) == 0);
  REQUIRE(fl->flows.size() == 2);
  CHECK(std::count(fl->flows.begin(), fl->flows.end(), a) == 1);
  CHECK(std::count(fl->flows.begin(), fl->flows.end(), b) == 1);
  CHECK(rig.pmd->n_flows() == 0);
  CHECK(rig.pmd->n_subtables() == 0);

  auto pkts = rig.packets({frame_to("10.0.0.1"), frame_to("10.0.0.2")});
  PmdCommand* ex = rig.new_command(PmdCmdType::kExecute);
  ex->actions = parse_dp_actions("set_tp_dst:99,output:3");
  ex->in_port = 1;
  ex->n_pkts = 2;
  ex->pkts[0] = pkts[0];
  ex->pkts[1] = pkts[1];
  CHECK(rig.run(ex) == 0);
  CHECK(ex->n_pkts == 0);
  rig.pmd->run_once();
  CHECK(rig.port(3).sent == pkts);
  FlowKey k;
  flow_key_extract(rte_pktmbuf_mtod(pkts[1], const uint8_t*), pkts[1]->data_len, 1, &k);
  CHECK(k.tp_dst == htons(99));
}

TEST_CASE("set ports replaces the rx list and tx table and restarts queue counters",
          "[datapath][pmd]") {
  PmdRig rig;
  rig.install(kTo10, "output:2");
  rig.install("in_port=3,eth_type=0x0800,nw_dst=10.0.0.0/8", "output:2");
  auto pkts = rig.packets({frame_to("10.0.0.1"), frame_to("10.0.0.2")});
  forward(rig, {pkts[0]}, 2);
  CHECK(rig.pmd->rxq_stats(0).packets.load() == 1);

  PmdCommand* sp = rig.new_command(PmdCmdType::kSetPorts);
  sp->txports.resize(kMaxPorts);
  sp->txports[2].port = &rig.port(2);  // ports 1 and 3 gone from the tx table
  sp->rxqs.push_back(RxqRef{&rig.port(3), 3, 0});
  CHECK(rig.run(sp) == 0);
  CHECK(sp->rxqs.size() == 1);  // the old list came back (swapped)
  CHECK(rig.pmd->rxq_stats(0).packets.load() == 0);
  rig.port(1).rx.push_back(pkts[0]);  // no longer polled
  rig.port(3).rx.push_back(pkts[1]);
  rig.port(2).sent.clear();
  rig.pmd->run_once();
  CHECK(rig.port(1).rx.size() == 1);
  CHECK(rig.port(2).sent == std::vector<rte_mbuf*>{pkts[1]});
  CHECK(rig.pmd->rxq_stats(0).packets.load() == 1);
}

TEST_CASE("meters are set, replaced and deleted by command", "[datapath][pmd]") {
  PmdRig rig;
  DpMeterConfig mc;
  mc.pktps = true;
  mc.bands.push_back(DpMeterBand{MeterBandKind::kDrop, 0, 1000, 0});
  auto* m1 = new DpMeter(mc, 1'000'000'000, 0);
  auto* m2 = new DpMeter(mc, 1'000'000'000, 0);

  PmdCommand* set = rig.new_command(PmdCmdType::kMeterSet);
  set->meter_id = 5;
  set->meter = m1;
  CHECK(rig.run(set) == 0);
  CHECK(set->meter == nullptr);  // nothing replaced
  PmdCommand* again = rig.new_command(PmdCmdType::kMeterSet);
  again->meter_id = 5;
  again->meter = m2;
  CHECK(rig.run(again) == 0);
  CHECK(again->meter == m1);  // the replaced one comes back to be freed
  delete m1;

  PmdCommand* del = rig.new_command(PmdCmdType::kMeterDel);
  del->meter_id = 5;
  CHECK(rig.run(del) == 0);
  CHECK(del->meter == m2);
  delete m2;
  PmdCommand* del2 = rig.new_command(PmdCmdType::kMeterDel);
  del2->meter_id = 5;
  CHECK(rig.run(del2) == -ENOENT);
  PmdCommand* out_of_range = rig.new_command(PmdCmdType::kMeterSet);
  out_of_range->meter_id = kMaxMeters;
  CHECK(rig.run(out_of_range) == -EINVAL);
}

TEST_CASE("adaptive stage: off below its hit rate, probed again, kept on when asked",
          "[datapath][pmd]") {
  AdaptiveStage s(/*min_permille=*/100, /*min_sample=*/1000, /*probe_every=*/4);
  CHECK(s.active());
  s.record(999, 0);
  CHECK_FALSE(s.review(1));  // not enough tries to judge
  CHECK(s.active());
  s.record(1, 0);
  CHECK(s.review(2));  // 0 of 1000: turned off now
  CHECK_FALSE(s.active());
  CHECK_FALSE(s.review(3));
  CHECK_FALSE(s.active());
  CHECK_FALSE(s.review(4));  // a probe round: on again
  CHECK(s.active());
  s.record(1000, 100);  // exactly 10%: pays
  CHECK_FALSE(s.review(5));
  CHECK(s.active());
  s.record(1000, 99);
  CHECK_FALSE(s.review(6, /*may_disable=*/false));
  CHECK(s.active());
  s.record(1000, 99);
  CHECK(s.review(7));
  CHECK_FALSE(s.active());
}
