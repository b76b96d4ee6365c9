// bridges_test.cc - several bridges over one DpBacker (fake datapath, no
// EAL): each miss is translated by the tables of the bridge owning its
// in_port, OpenFlow numbers are per bridge, a patch port pair makes one
// megaflow over both bridges (its mask covers what the peer's tables read),
// a rule change in the peer re-translates megaflows entered from the other
// bridge, packet-ins go to the bridge whose table sent them, and removing a
// bridge removes its megaflows (and the patch ports pointing into it)
// while the other bridge keeps its own; across a patch port only the entry
// bridge's samplers sample (as OVS).
#include <catch2/catch.hpp>

#include <algorithm>

#include "dp_backer.h"
#include "fake_dp.h"
#include "ofproto.h"
#include "packet_builder.h"

using namespace dps;
using namespace dps::ofproto;
using dps::test::FakeDp;

namespace {

// br0: OpenFlow 1, 2 = datapath 1, 2; br1: OpenFlow 1, 2 = datapath 3, 4.
// Patch ports (added by a test): br0 port 10 <-> br1 port 20.
struct Rig {
  FakeDp* dp;
  int64_t now = 1000;
  std::unique_ptr<DpBacker> backer;
  std::unique_ptr<BridgeSet> bridges;
  Ofproto* br0;
  Ofproto* br1;

  Rig() {
    auto f = std::make_unique<FakeDp>(1);
    dp = f.get();
    BackerConfig bc;
    bc.clock = [this] { return now; };
    backer = std::make_unique<DpBacker>(std::move(f), bc);
    bridges = std::make_unique<BridgeSet>(*backer);
    br0 = &bridges->add("br0");
    br1 = &bridges->add("br1");
    br0->add_port(1, 1, "a1");
    br0->add_port(2, 2, "a2");
    br1->add_port(1, 3, "b1");
    br1->add_port(2, 4, "b2");
    backer->run();  // the tunnel context's first pass (its TLV table was set)
  }
  // br0 and br1 joined by the patch pair, with these rules.
  Rig(const std::string& br0_rules, const std::string& br1_rules) : Rig() {
    patch();
    rules(br0, br0_rules);
    rules(br1, br1_rules);
  }
  void patch() {
    br0->add_patch_port(10, "patch0", br1->bridge(), 20);
    br1->add_patch_port(20, "patch1", br0->bridge(), 10);
  }
  void rules(Ofproto* o, const std::string& text) {
    MaybeError e = o->add_flows(text);
    INFO((e ? e->message : ""));
    REQUIRE_FALSE(e);
  }
  const FakeDp::Flow* install_from(uint32_t dp_in) const {
    for (auto it = dp->installs.rbegin(); it != dp->installs.rend(); ++it)
      if (it->spec.key.in_port == dp_in) return &*it;
    return nullptr;
  }
};

std::vector<uint8_t> udp(const char* dst_ip, uint16_t sport = 1000) {
  return test::udp_frame({.src_ip = "192.168.0.1", .dst_ip = dst_ip, .sport = sport});
}

}  // namespace

TEST_CASE("two bridges on one backer: each miss goes through its own bridge's tables",
          "[ofproto][bridges]") {
  Rig r;
  // The same OpenFlow numbers in both bridges, different datapath ports.
  r.rules(r.br0, "priority=10,in_port=1,actions=output:2");
  r.rules(r.br1, "priority=10,in_port=1,actions=output:2\npriority=5,in_port=2,actions=drop");
  CHECK(r.backer->ofproto_of_port(1) == r.br0);
  CHECK(r.backer->ofproto_of_port(3) == r.br1);
  CHECK(r.backer->ofproto_of_port(9) == nullptr);

  r.dp->miss(0, 1, udp("10.0.0.1"));
  r.dp->miss(0, 3, udp("10.0.0.1"));
  CHECK(r.backer->run() == 2);
  REQUIRE(r.dp->installs.size() == 2);
  const FakeDp::Flow* f0 = r.install_from(1);
  const FakeDp::Flow* f1 = r.install_from(3);
  REQUIRE(f0);
  REQUIRE(f1);
  CHECK(datapath::format_actions(f0->spec.actions) == "output:2");
  CHECK(datapath::format_actions(f1->spec.actions) == "output:4");
  // Each bridge counted its own packet only.
  CHECK(r.br0->dump_flows().find("n_packets=1") != std::string::npos);
  CHECK(r.br1->dump_flows().find("in_port=1 actions=output:2") != std::string::npos);
  CHECK(r.br1->dump_flows().find("n_packets=1,") != std::string::npos);
  // Both share the backer's ukeys.
  CHECK(r.br0->stats().ukeys == 2);
  CHECK(r.br1->stats().ukeys == 2);
  CHECK(r.br0->free_of_port() == 3);
}

TEST_CASE("a patch port pair: one megaflow over both bridges, masked by both pipelines",
          "[ofproto][bridges][patch]") {
  Rig r("priority=10,in_port=1,actions=output:10",
        "priority=10,ip,in_port=20,nw_dst=10.0.0.0/8,actions=output:2\n"
        "priority=0,actions=drop");
  r.dp->miss(0, 1, udp("10.1.2.3"));
  r.dp->miss(0, 1, udp("10.1.2.3"));
  r.backer->run();
  // One translation, one install: the packet left br0 by the patch port and
  // br1 by its port 2 (datapath port 4), no recirculation.
  REQUIRE(r.dp->installs.size() == 1);
  const datapath::FlowSpec& spec = r.dp->installs[0].spec;
  CHECK(spec.key.in_port == 1);
  CHECK(spec.mask.in_port == 0xffffffffu);
  CHECK(datapath::format_actions(spec.actions) == "output:4");
  // br1's rule looked at the IPv4 destination (/8): the megaflow does too;
  // no table looked at the UDP ports.
  CHECK(spec.mask.nw_dst != 0);
  CHECK(spec.mask.tp_src == 0);
  REQUIRE(r.dp->execs.size() == 1);
  CHECK(r.dp->execs[0].n == 2);
  // A destination outside br1's rule: dropped by br1, its own megaflow.
  r.dp->miss(0, 1, udp("192.0.2.1"));
  r.backer->run();
  REQUIRE(r.dp->installs.size() == 2);
  CHECK(r.dp->installs[1].spec.actions.n == 0);
}

TEST_CASE("a rule change in the peer bridge re-translates megaflows entered from the other",
          "[ofproto][bridges][patch]") {
  Rig r("priority=10,in_port=1,actions=output:10",
        "priority=10,ip,in_port=20,actions=output:2");
  r.dp->miss(0, 1, udp("10.1.2.3"));
  r.backer->run();
  REQUIRE(r.dp->installs.size() == 1);
  uint64_t ufid = r.dp->installs[0].spec.ufid;
  CHECK(datapath::format_actions(r.dp->flows.at(ufid).spec.actions) == "output:4");

  // Modify br1's rule: the megaflow installed for a br0 port follows.
  REQUIRE_FALSE(r.br1->mod_flows("ip,in_port=20 actions=output:1"));
  CHECK(std::count(r.dp->modifies.begin(), r.dp->modifies.end(), ufid) == 1);
  CHECK(datapath::format_actions(r.dp->flows.at(ufid).spec.actions) == "output:3");

  // A higher-priority rule added in br1 that overrides: modified again.
  r.rules(r.br1, "priority=20,ip,in_port=20,actions=drop");
  REQUIRE(r.dp->flows.count(ufid));
  CHECK(r.dp->flows.at(ufid).spec.actions.n == 0);

  // A rule change in br0 alone on the other port does not touch it.
  size_t mods = r.dp->modifies.size(), rems = r.dp->removes.size();
  r.rules(r.br0, "priority=10,in_port=2,actions=output:1");
  CHECK(r.dp->modifies.size() == mods);
  CHECK(r.dp->removes.size() == rems);
}

TEST_CASE("packet-ins go to the bridge whose table sent them, with that bridge's in_port",
          "[ofproto][bridges][patch][controller]") {
  Rig r("priority=10,in_port=1,actions=output:10",
        "priority=10,cookie=0x77,ip,in_port=20,actions=CONTROLLER:64");
  auto f = udp("10.1.2.3");
  r.dp->miss(0, 1, f);
  r.backer->run();
  REQUIRE(r.dp->execs.size() == 1);
  REQUIRE(r.dp->execs[0].actions.n == 1);
  REQUIRE(r.dp->hand_up(0, 0, 1, f));  // the controller action's packet comes back up
  r.backer->run();
  CHECK(r.br0->take_packet_ins(10).empty());
  auto pins = r.br1->take_packet_ins(10);
  REQUIRE(pins.size() == 1);
  CHECK(pins[0].cookie == 0x77);
  CHECK(pins[0].in_port == 20);  // br1's patch port, not br0's port 1
  CHECK(pins[0].max_len == 64);
}

TEST_CASE("removing a bridge removes its megaflows and the patch ports into it",
          "[ofproto][bridges][patch]") {
  Rig r("priority=10,in_port=1,actions=output:10\npriority=10,in_port=2,actions=output:1",
        "priority=10,in_port=20,actions=output:2\npriority=10,in_port=1,actions=output:2");
  r.dp->miss(0, 1, udp("10.0.0.1"));  // br0 -> br1 (crosses the patch)
  r.dp->miss(0, 2, udp("10.0.0.1"));  // br0 only
  r.dp->miss(0, 3, udp("10.0.0.1"));  // br1 only
  r.backer->run();
  REQUIRE(r.dp->installs.size() == 3);
  uint64_t cross = r.install_from(1)->spec.ufid;
  uint64_t own0 = r.install_from(2)->spec.ufid;
  uint64_t own1 = r.install_from(3)->spec.ufid;
  CHECK(datapath::format_actions(r.install_from(1)->spec.actions) == "output:4");

  REQUIRE(r.bridges->remove("br1"));
  CHECK(r.bridges->find("br1") == nullptr);
  CHECK(r.bridges->names_text() == "br0");
  // The megaflows through br1 are gone; br0's own one stays.
  CHECK(r.dp->flows.count(cross) == 0);
  CHECK(r.dp->flows.count(own1) == 0);
  REQUIRE(r.dp->flows.count(own0) == 1);
  CHECK(datapath::format_actions(r.dp->flows.at(own0).spec.actions) == "output:1");
  CHECK(r.backer->ukeys().size() == 1);
  // br0's patch port lost its peer and went; datapath 3 has no bridge now.
  CHECK(r.br0->bridge().port(10) == nullptr);
  CHECK(r.backer->ofproto_of_port(3) == nullptr);
  CHECK(r.backer->ofprotos().size() == 1);

  // A new miss from br0's port 1 is translated without br1: the rule's
  // output to the missing port 10 drops.
  r.dp->miss(0, 1, udp("10.0.0.1"));
  r.backer->run();
  CHECK(r.install_from(1)->spec.actions.n == 0);
}

TEST_CASE("every bridge and the backer's tunnels share one TLV table", "[ofproto][bridges][tunnel]") {
  Rig r;
  const TlvTable* shared = r.br0->bridge().tlv_table.get();
  REQUIRE(shared != nullptr);
  CHECK(r.br1->bridge().tlv_table.get() == shared);
  // Geneve options are mapped (decap) and built (encap) through the
  // backer's tunnel context: the table add-tlv-map changes.
  CHECK(r.backer->tunnels().tlv() == shared);
  r.bridges.reset();
  CHECK(r.backer->tunnels().tlv() == nullptr);
}

TEST_CASE("sampling across a patch port: the entry bridge samples, the peer does not, as OVS",
          "[ofproto][bridges][patch][sample]") {
  Rig r("priority=10,in_port=1,actions=output:10\n"
        "priority=10,in_port=2,actions=output:1,output:10\n"
        "priority=10,in_port=10,actions=output:2",
        "priority=10,in_port=20,actions=output:2\n"
        "priority=10,in_port=1,actions=output:20");
  BridgeSampling s0, s1;
  s0.sflow = {64, 3, 0, 0};
  s1.sflow = {32, 5, 0, 0};
  s1.ipfix = {1, 6, 7, 9};
  CHECK(r.br0->set_sampling(s0));
  CHECK(r.br1->set_sampling(s1));
  auto acts_from = [&](uint32_t dp_in) {
    r.dp->miss(0, dp_in, udp("10.0.0.1"));
    r.backer->run();
    const FakeDp::Flow* f = r.install_from(dp_in);
    REQUIRE(f);
    return datapath::format_actions(f->spec.actions);
  };
  // br0 port 1 -> patch -> br1 port 2 (datapath 4): br0's sFlow samples it
  // as received; br1's samplers do not (OVS's patch_port_output composes
  // no sample). The one output is br1's port, not one of br0's sFlow
  // interfaces: "multiple, 1", as OVS's fix_sflow_action.
  CHECK(acts_from(1) == "sample(slot=3,rate=64,sflow,out=multiple:1),output:4");
  // The other way: br1's samplers, none of br0's.
  CHECK(acts_from(3) ==
        "sample(slot=5,rate=32,sflow,out=multiple:1),sample(slot=6,rate=1,ipfix,out=2,obs_domain=7,obs_point=9),"
        "output:2");
  // An output in br0 and one through the patch: two outputs.
  CHECK(acts_from(2) == "sample(slot=3,rate=64,sflow,out=multiple:2),output:1,output:4");
  // IPFIX output sampling in br1 (as OVS, the bridge doing the output
  // samples it): br1's egress sample of br0's traffic where it leaves.
  s1.ipfix.output = true;
  CHECK(r.br1->set_sampling(s1));
  r.backer->run();
  CHECK(datapath::format_actions(r.dp->flows.at(r.install_from(1)->spec.ufid).spec.actions) ==
        "sample(slot=3,rate=64,sflow,out=multiple:1),"
        "sample(slot=6,rate=1,ipfix_egress,out=4,obs_domain=7,obs_point=9),output:4");
  // Sampling only in br1: the megaflow entering br0 is re-translated
  // without any of br0's samples.
  const uint64_t ufid = r.install_from(1)->spec.ufid;
  CHECK(r.br0->set_sampling(BridgeSampling{}));
  r.backer->run();
  CHECK(datapath::format_actions(r.dp->flows.at(ufid).spec.actions) ==
        "sample(slot=6,rate=1,ipfix_egress,out=4,obs_domain=7,obs_point=9),output:4");
}
