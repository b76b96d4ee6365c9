// Native tunneling's drops in a PMD, with pool mbufs (a drop frees the
// packet, hence the EAL): bad outer headers are dropped and counted
// (tnl_pop_errors) while the good packet of the same burst is delivered;
// an encapsulation over the underlay MTU is dropped and counted
// (tnl_push_errors); a tnl_pop that is not the last action works on a copy.
// Every case ends with the pool as it began.
#include <catch2/catch.hpp>

#include "pmd_rig.h"
#include "pmd_stages.h"
#include "test_eal.h"
#include "tnl_frames.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

void install(PmdRig& rig, DpFlow* f) {
  PmdCommand* c = rig.new_command(PmdCmdType::kInstall);
  c->flow = f;
  REQUIRE(rig.run(c) == 0);
}

void free_sent(PmdRig& rig) {
  for (uint32_t p = 1; p <= 3; p++) {
    for (rte_mbuf* m : rig.port(p).sent) rte_pktmbuf_free(m);
    rig.port(p).sent.clear();
  }
}

}  // namespace

TEST_CASE("PMD tunnels with pool mbufs: bad headers and oversize encapsulations are counted drops",
          "[datapath][tunnel][eal]") {
  ensure_eal();
  const unsigned avail = rte_mempool_avail_count(test_pool());
  {
    PmdRig rig;
    DpFlow* inner_flow = rig.make_flow("in_port=5", "output:2");
    install(rig, inner_flow);
    const std::vector<uint8_t> inner = inner_frame();
    SECTION("tnl_pop: three bad frames dropped and counted, the good one delivered") {
      DpFlow* outer = rig.make_flow("in_port=1", "drop");
      outer->actions.add(act_tnl_pop(TunnelType::kVxlan, kTunnelPort));
      install(rig, outer);
      std::vector<uint8_t> bad_flags = vxlan_frame(1, inner), bad_csum = vxlan_frame(1, inner),
                           cut = vxlan_frame(1, inner);
      bad_flags[42] = 0;
      bad_csum[24] ^= 0xff;
      cut.resize(14 + 20 + 8 + 8 + 10);
      for (const auto& f : {vxlan_frame(1, inner), bad_flags, bad_csum, cut})
        rig.port(1).rx.push_back(make_mbuf(f));
      rig.pmd->run_once();
      CHECK(rig.counter(kTnlPopErrors) == 3);
      CHECK(rig.counter(kRecirculated) == 1);
      REQUIRE(rig.port(2).sent.size() == 1);
      CHECK(rig.port(2).sent[0]->data_len == inner.size());
    }
    SECTION("output then tnl_pop: the port gets the outer frame, the pop works on a copy") {
      DpFlow* outer = rig.make_flow("in_port=1", "output:3");
      outer->actions.add(act_tnl_pop(TunnelType::kVxlan, kTunnelPort));
      outer->actions.add(act_output(3));
      install(rig, outer);
      const std::vector<uint8_t> f = vxlan_frame(1, inner);
      rig.port(1).rx.push_back(make_mbuf(f));
      rig.pmd->run_once();
      REQUIRE(rig.port(3).sent.size() == 2);
      CHECK(rig.port(3).sent[0]->data_len == f.size());
      REQUIRE(rig.port(2).sent.size() == 1);
      CHECK(rig.port(2).sent[0]->data_len == inner.size());
    }
    SECTION("tnl_push over the underlay MTU: dropped and counted") {
      DpFlow* enc = rig.make_flow("in_port=1", "drop");
      enc->actions = push_actions(TunnelType::kVxlan, false, 0, 3, 100);
      install(rig, enc);
      rig.port(1).rx.push_back(make_mbuf(inner));
      rig.pmd->run_once();
      CHECK(rig.counter(kTnlPushErrors) == 1);
      CHECK(rig.port(3).sent.empty());
    }
    free_sent(rig);
  }
  CHECK(rte_mempool_avail_count(test_pool()) == avail);
}
