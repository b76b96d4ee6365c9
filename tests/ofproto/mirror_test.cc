// mirror_test.cc - port mirrors in translation and over the miss path.
//
// Coverage goal: the exact datapath actions for select_all, select_src_port,
// select_dst_port and select_vlan mirrors; one copy per destination
// (mirrors sharing an output port, ingress + egress of one mirror); the
// copy is the packet as received (ingress) or as output (egress, after
// rewrites); RSPAN (output_vlan) tagging and port choice; the mirror output
// port excluded from NORMAL's learning, forwarding and flooding; the
// megaflow pinning VLAN only when a mirror decided on it; validation errors
// (the other mirrors still apply); counters from the miss path and the
// revalidator's roll-up; a mirror change re-translating installed flows.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "bridge_fixtures.h"
#include "flow_parser.h"
#include "ofproto_rig.h"
#include "packet_builder.h"
#include "xlate.h"

using namespace dps::ofproto;
namespace dp = dps::datapath;

namespace {

using dps::test::make_bridge;

void add(Bridge& b, const std::string& text) { REQUIRE(dps::test::add_rule(b, text) == ""); }

dp::FlowKey key(uint32_t dp_in, uint8_t src, uint8_t dst, uint16_t tci = 0) {
  dp::FlowKey k = dps::test::tcp_key(dp_in, src, dst);
  k.vlan_tci = htons(tci);
  return k;
}

XlateResult run(Bridge& b, const dp::FlowKey& k, bool learn = false) {
  XlateOptions o;
  o.may_learn = learn;
  return xlate(b, k, o);
}

dp::DpActions acts(std::initializer_list<dp::DpAction> l) {
  dp::DpActions a;
  for (const auto& x : l) a.add(x);
  return a;
}

MirrorConfig mirror(const std::string& name, const std::string& out) {
  MirrorConfig c;
  c.name = name;
  c.output_port = out;
  return c;
}

// OpenFlow port N is datapath port 10 + N; p1 <-> p2 by OpenFlow rules.
Bridge crossed() {
  Bridge b = make_bridge();
  add(b, "in_port=1 actions=output:2");
  add(b, "in_port=2 actions=output:1");
  return b;
}

#define CHECK_ACTS(res, expected)                                                                     \
  do {                                                                                                \
    INFO("got " << dp::format_actions((res).actions) << " want " << dp::format_actions(expected) << " " \
                << (res).error);                                                                      \
    CHECK((res).actions == (expected));                                                               \
  } while (0)

}  // namespace

TEST_CASE("mirror: select_all copies once; the output port is out of NORMAL", "[ofproto][mirror]") {
  Bridge b = make_bridge();
  add(b, "actions=NORMAL");
  MirrorConfig m = mirror("m0", "p4");
  m.select_all = true;
  REQUIRE(b.set_mirrors({m}));
  CHECK(b.mirrors.errors() == std::vector<std::string>{""});
  // Flood from p1: the copy as received first, then p2, p3 (not p4); the
  // egress copies are the same mirror: none.
  XlateResult r = run(b, key(11, 0xa, 0xb), true);
  CHECK_ACTS(r, acts({dp::act_output(14), dp::act_output(12), dp::act_output(13)}));
  CHECK(r.mirrors.size() == 1);
  // What the output port receives is dropped and teaches nothing.
  r = run(b, key(14, 0xc, 0xa), true);
  CHECK(r.actions.n == 0);
  CHECK_FALSE(b.mac.lookup(MacAddr{2, 0, 0, 0, 0, 0xc}, 0, 0));
  // Known destination: unicast plus the copy.
  CHECK_ACTS(run(b, key(12, 0xb, 0xa), true), acts({dp::act_output(14), dp::act_output(11)}));
  // The same config again changes nothing.
  CHECK_FALSE(b.set_mirrors({m}));
}

TEST_CASE("mirror: select_src_port and select_dst_port", "[ofproto][mirror]") {
  Bridge b = crossed();
  MirrorConfig src = mirror("src", "p4");
  src.select_src_port = {"p1"};
  REQUIRE(b.set_mirrors({src}));
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(14), dp::act_output(12)}));
  CHECK_ACTS(run(b, key(12, 2, 1)), acts({dp::act_output(11)}));
  MirrorConfig dst = mirror("dst", "p4");
  dst.select_dst_port = {"p1"};
  REQUIRE(b.set_mirrors({dst}));
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(12)}));
  CHECK_ACTS(run(b, key(12, 2, 1)), acts({dp::act_output(11), dp::act_output(14)}));
  // Unmirrored traffic pins no VLAN bits; mirrored traffic pins VID + CFI.
  CHECK(run(b, key(11, 1, 2)).mask.vlan_tci == 0);
  CHECK(run(b, key(12, 2, 1)).mask.vlan_tci == htons(0x1fff));
}

TEST_CASE("mirror: ingress copies the packet as received, egress as output", "[ofproto][mirror]") {
  Bridge b = make_bridge();
  add(b, "in_port=1 actions=mod_dl_dst:02:00:00:00:00:99,output:2");
  MirrorConfig in = mirror("in", "p3");
  in.select_src_port = {"p1"};
  MirrorConfig out = mirror("out", "p4");
  out.select_dst_port = {"p2"};
  REQUIRE(b.set_mirrors({in, out}));
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x99};
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(13), dp::act_set_eth_dst(mac), dp::act_output(12),
                                          dp::act_output(14)}));
}

TEST_CASE("mirror: one copy per destination", "[ofproto][mirror]") {
  Bridge b = crossed();
  MirrorConfig a = mirror("a", "p4");
  a.select_src_port = {"p1"};
  MirrorConfig c = mirror("c", "p4");
  c.select_dst_port = {"p2"};
  REQUIRE(b.set_mirrors({a, c}));
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(14), dp::act_output(12)}));
  // A third mirror to another port adds its own copy.
  MirrorConfig d = mirror("d", "p3");
  d.select_dst_port = {"p2"};
  REQUIRE(b.set_mirrors({a, c, d}));
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(14), dp::act_output(12), dp::act_output(13)}));
}

TEST_CASE("mirror: select_vlan", "[ofproto][mirror]") {
  Bridge b = crossed();
  MirrorConfig m = mirror("v", "p4");
  m.select_all = true;
  m.select_vlan = {10};
  REQUIRE(b.set_mirrors({m}));
  // VLAN 10: copied (the trunk output port keeps the tag: no VLAN action).
  XlateResult r = run(b, key(11, 1, 2, 0x1000 | 10));
  CHECK_ACTS(r, acts({dp::act_output(14), dp::act_output(12)}));
  CHECK(r.mask.vlan_tci == htons(0x1fff));
  CHECK_ACTS(run(b, key(11, 1, 2, 0x1000 | 20)), acts({dp::act_output(12)}));
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(12)}));
  // An access output port gets the copy untagged.
  b.ports[4].vlan_mode = VlanMode::kAccess;
  b.ports[4].tag = 10;
  CHECK_ACTS(run(b, key(11, 1, 2, 0x1000 | 10)),
             acts({dp::act_pop_vlan(), dp::act_output(14), dp::act_push_vlan(0x8100, 10), dp::act_output(12)}));
}

TEST_CASE("mirror: RSPAN tags the copy with output_vlan on the ports carrying it", "[ofproto][mirror]") {
  Bridge b = crossed();
  b.ports[4].vlan_mode = VlanMode::kAccess;  // does not carry VLAN 100
  b.ports[4].tag = 5;
  MirrorConfig m;
  m.name = "rspan";
  m.select_src_port = {"p1"};
  m.output_vlan = 100;
  REQUIRE(b.set_mirrors({m}));
  CHECK(b.mirrors.errors() == std::vector<std::string>{""});
  // Not back out of p1; p2 and p3 (trunks) tagged 100; then the packet itself.
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_push_vlan(0x8100, 100), dp::act_output(12), dp::act_output(13),
                                          dp::act_pop_vlan(), dp::act_output(12)}));
  // Already in the RSPAN VLAN: no copy.
  CHECK_ACTS(run(b, key(11, 1, 2, 0x1000 | 100)), acts({dp::act_output(12)}));
}

TEST_CASE("mirror: bad mirrors get a precise error and leave the others alone", "[ofproto][mirror]") {
  Bridge b = crossed();
  MirrorConfig both = mirror("both", "p4");
  both.output_vlan = 7;
  MirrorConfig none;
  none.name = "none";
  MirrorConfig away = mirror("away", "p9");
  MirrorConfig self = mirror("self", "p4");
  self.select_src_port = {"p4"};
  MirrorConfig good = mirror("good", "p3");
  good.select_src_port = {"p1"};
  REQUIRE(b.set_mirrors({both, none, away, self, good}));
  CHECK(b.mirrors.errors() ==
        std::vector<std::string>{
            "mirror both: both output_port (p4) and output_vlan (7) are set; a mirror has one destination",
            "mirror none: neither output_port nor output_vlan is set",
            "mirror away: output_port p9 is not a port of this bridge",
            "mirror self: output_port p4 is also selected (select_src_port / select_dst_port)", ""});
  CHECK_ACTS(run(b, key(11, 1, 2)), acts({dp::act_output(13), dp::act_output(12)}));
  CHECK_FALSE(b.mirrors.is_output(4));
  // The missing port arrives: the mirror applies from then on.
  dps::test::add_bridge_port(b, 9, 19);
  CHECK(b.mirrors.errors()[2].empty());
  CHECK(b.mirrors.is_output(9));
}

TEST_CASE("mirror: counters from the miss path and the revalidator; a change re-translates",
          "[ofproto][mirror][revalidator]") {
  dps::test::OfprotoRig r({}, {.n_ports = 3});
  r.rules("in_port=1,actions=output:2\nin_port=2,actions=output:1");
  auto frame = [](const char* dst) {
    return dps::test::udp_frame({"02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", dst, 1000, 80});
  };
  uint64_t plain = r.miss(1, frame("10.0.0.2"));
  uint64_t back = r.miss(2, frame("10.0.0.2"));
  CHECK(r.actions(plain) == "output:2");
  MirrorConfig m = mirror("m", "p3");
  m.uuid = "u-1";
  m.select_src_port = {"p1"};
  m.select_dst_port = {"p1"};
  REQUIRE(r.ofp->set_mirrors({m}));
  // The mirror reads the VLAN, which the old megaflows did not pin: they go.
  CHECK_FALSE(r.installed(plain));
  CHECK_FALSE(r.installed(back));
  uint64_t in = r.miss(1, frame("10.0.0.2"));
  uint64_t out = r.miss(2, frame("10.0.0.2"));
  CHECK(r.actions(in) == "output:3,output:2");
  CHECK(r.actions(out) == "output:1,output:3");
  auto status = [&] { return r.ofp->bridge().mirrors.status().at(0); };
  CHECK(status().uuid == "u-1");
  CHECK(status().tx_packets == 2);  // the two first packets, counted by the miss path
  r.dp->flows.at(in).stats.packets = 7;
  r.dp->flows.at(in).stats.bytes = 7 * 100;
  r.ofp->roll_up_rule_counters();
  CHECK(status().tx_packets == 9);
  CHECK(status().tx_bytes >= 700);
  // The same config again: nothing re-translated.
  CHECK_FALSE(r.ofp->set_mirrors({m}));
  // Mirrors removed: the flows lose the copy (their mask may stay finer).
  REQUIRE(r.ofp->set_mirrors({}));
  CHECK(r.actions(in) == "output:2");
  CHECK(r.ofp->bridge().mirrors.status().empty());
}
