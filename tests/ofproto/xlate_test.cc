// xlate_test.cc - translation through a bridge: each action and
// instruction, groups, NORMAL with learning and VLANs, controller events,
// errors, and the megaflow oracle.
//
// Oracle (issue 4): for random rule sets (several tables, random matches,
// random actions incl. groups, goto, write-actions, NORMAL, VLAN and PBB
// push/pop, set-field; pbb_isid and ipv6_label matches on the bits they
// share) and random IPv4, IPv6 and PBB packets, every packet that agrees with a packet P on
// P's megaflow mask translates to the same datapath actions as P: the
// megaflow is never wider than the decision it encodes.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

#include "bridge_fixtures.h"
#include "flow_parser.h"
#include "xlate.h"
#include "xlate_ct.h"

using namespace dps::ofproto;
using dps::datapath::DpActions;
using dps::datapath::FlowKey;
namespace dp = dps::datapath;

namespace {

// make_bridge(n): OpenFlow port N is datapath port 10 + N.
using dps::test::add_bridge_port;
using dps::test::add_patch;
using dps::test::make_bridge;

// Parses `text` with `parse` and applies it with `apply`; any error fails.
template <typename Mod, typename Parse, typename Apply>
void must(const std::string& text, Parse parse, Apply apply) {
  Mod mod;
  MaybeError e = parse(text, &mod);
  INFO(text << ": " << (e ? e->message : ""));
  REQUIRE_FALSE(e);
  e = apply(mod);
  INFO(text << ": " << (e ? e->message : ""));
  REQUIRE_FALSE(e);
}

void add(Bridge& b, const std::string& text) {
  must<FlowMod>(text, [](const std::string& t, FlowMod* fm) { return parse_flow(t, fm); },
                [&](const FlowMod& fm) { return b.pipeline.flow_mod(fm, 0); });
}

void add_group(Bridge& b, const std::string& text) {
  must<GroupMod>(text, [](const std::string& t, GroupMod* gm) { return parse_group(t, gm); },
                 [&](const GroupMod& gm) { return b.pipeline.group_mod(gm, 0); });
}

// 10.0.0.1:1234 -> 10.0.0.2:80 over TCP, TTL 64.
FlowKey eth_key(uint32_t dp_in, uint8_t src, uint8_t dst, uint16_t tci = 0) {
  FlowKey k = dps::test::tcp_key(dp_in, src, dst);
  k.vlan_tci = htons(tci);
  k.nw_src = htonl(0x0a000001);
  k.nw_dst = htonl(0x0a000002);
  k.tp_src = htons(1234);
  k.nw_ttl = 64;
  return k;
}

DpActions acts(std::initializer_list<dp::DpAction> l) {
  DpActions a;
  for (const auto& x : l) a.add(x);
  return a;
}

// make_bridge() with these rules added, in order.
Bridge bridge_with(std::initializer_list<const char*> rules) {
  Bridge b = make_bridge();
  for (const char* r : rules) add(b, r);
  return b;
}

XlateResult run(Bridge& b, const FlowKey& k, bool learn = false, int64_t now = 0) {
  XlateOptions o;
  o.now_ms = now;
  o.may_learn = learn;
  return xlate(b, k, o);
}

#define CHECK_ACTS(res, expected)                                                        \
  do {                                                                                   \
    INFO("got " << dp::format_actions((res).actions) << " want " << dp::format_actions(expected) \
                << (res).error);                                                         \
    CHECK((res).actions == (expected));                                                  \
  } while (0)

}  // namespace

TEST_CASE("xlate: output and a minimal megaflow mask", "[ofproto]") {
  Bridge b = bridge_with({"priority=10,ip,nw_dst=10.0.0.0/8 actions=output:2"});
  XlateResult r = run(b, eth_key(11, 1, 2));
  CHECK(r.error.empty());
  CHECK_ACTS(r, acts({dp::act_output(12)}));
  CHECK(r.mask.in_port == 0xffffffffu);
  CHECK(r.mask.eth_type == 0xffff);
  CHECK(r.mask.nw_dst == htonl(0xff000000));
  CHECK(r.mask.nw_src == 0);
  CHECK(r.mask.tp_dst == 0);
  uint8_t zero[6] = {};
  CHECK(std::memcmp(r.mask.dl_src, zero, 6) == 0);
  REQUIRE(r.rules.size() == 1);
  CHECK(r.rules[0]->priority == 10);
  // Table miss (OpenFlow 1.3 default: drop).
  FlowKey other = eth_key(11, 1, 2);
  other.nw_dst = htonl(0x0b000001);
  r = run(b, other);
  CHECK(r.actions.n == 0);
  CHECK(r.rules.empty());
  // Unknown input port.
  r = run(b, eth_key(99, 1, 2));
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("xlate: reserved ports", "[ofproto]") {
  Bridge b = make_bridge(3);
  BridgePort local;
  local.of_port = kPortLocal;
  local.dp_port = 99;
  b.add_port(local);
  b.ports[3].no_flood = true;
  add(b, "in_port=1 actions=IN_PORT,output:1,LOCAL");
  add(b, "in_port=2 actions=FLOOD");
  add(b, "in_port=3 actions=ALL");
  CHECK_ACTS(run(b, eth_key(11, 1, 2)), acts({dp::act_output(11), dp::act_output(99)}));
  CHECK_ACTS(run(b, eth_key(12, 1, 2)), acts({dp::act_output(11), dp::act_output(99)}));
  CHECK_ACTS(run(b, eth_key(13, 1, 2)), acts({dp::act_output(11), dp::act_output(12), dp::act_output(99)}));
}

TEST_CASE("xlate: set_field is committed before output; pipeline instructions", "[ofproto]") {
  Bridge b = bridge_with({"table=0,in_port=1,tcp actions=set_field:8080->tcp_dst,write_actions(set_field:00:00:00:00:00:09->eth_dst,output:3),write_metadata:0x5/0xf,goto_table:1",
                          "table=1,metadata=0x5/0xf,tcp actions=dec_ttl,output:2",
                          "table=1,priority=0 actions=drop"});
  XlateResult r = run(b, eth_key(11, 1, 2));
  INFO(dp::format_actions(r.actions) << " " << r.error);
  uint8_t mac9[6] = {0, 0, 0, 0, 0, 9};
  CHECK_ACTS(r, acts({dp::act_set_tp_dst(htons(8080)), dp::act_dec_ttl(), dp::act_output(12),
                      dp::act_set_eth_dst(mac9), dp::act_output(13)}));
  CHECK(r.rules.size() == 2);
  // The set value is a constant: the megaflow does not pin tp_dst.
  CHECK(r.mask.tp_dst == 0);

  // clear_actions empties the action set.
  Bridge c = bridge_with({"table=0 actions=write_actions(output:3),goto_table:1",
                          "table=1 actions=clear_actions,write_actions(output:4)"});
  CHECK_ACTS(run(c, eth_key(11, 1, 2)), acts({dp::act_output(14)}));
  // A miss in a later table drops, action set and all.
  Bridge d = bridge_with({"table=0 actions=write_actions(output:3),goto_table:1"});
  CHECK(run(d, eth_key(11, 1, 2)).actions.n == 0);
  // Group in the action set wins over output.
  add_group(d, "group_id=1,type=indirect,bucket=output:4");
  add(d, "table=1 actions=write_actions(group:1)");
  CHECK_ACTS(run(d, eth_key(11, 1, 2)), acts({dp::act_output(14)}));
}

TEST_CASE("xlate: VLAN push/pop/set", "[ofproto]") {
  Bridge b = bridge_with({"in_port=1 actions=push_vlan:0x8100,set_field:0x1064->vlan_vid,output:2",
                          "in_port=2,dl_vlan=7 actions=pop_vlan,output:1",
                          "in_port=3,dl_vlan=7 actions=mod_vlan_vid:9,output:1"});
  XlateResult r = run(b, eth_key(11, 1, 2));
  CHECK_ACTS(r, acts({dp::act_push_vlan(0x8100, 0), dp::act_set_vlan_vid(100), dp::act_output(12)}));
  r = run(b, eth_key(12, 1, 2, 0x1007));
  CHECK_ACTS(r, acts({dp::act_pop_vlan(), dp::act_output(11)}));
  r = run(b, eth_key(13, 1, 2, 0x1007));
  CHECK_ACTS(r, acts({dp::act_set_vlan_vid(9), dp::act_output(11)}));
}

TEST_CASE("xlate: groups", "[ofproto]") {
  Bridge b = make_bridge();
  add_group(b, "group_id=1,type=all,bucket=set_field:00:00:00:00:00:09->eth_dst,output:2,bucket=output:3");
  add_group(b, "group_id=2,type=select,bucket=weight:1,actions=output:2,bucket=weight:1,actions=output:3");
  add_group(b, "group_id=3,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3");
  add_group(b, "group_id=4,type=indirect,bucket=group:1");
  add(b, "in_port=1 actions=group:1");
  add(b, "in_port=3 actions=group:3");
  add(b, "in_port=4 actions=group:4");
  FlowKey k = eth_key(11, 1, 2);
  XlateResult r = run(b, k);
  uint8_t mac9[6] = {0, 0, 0, 0, 0, 9};
  // Bucket 2 sees the original packet: eth_dst restored (and pinned).
  CHECK_ACTS(r, acts({dp::act_set_eth_dst(mac9), dp::act_output(12), dp::act_set_eth_dst(k.dl_dst),
                      dp::act_output(13)}));
  CHECK(r.mask.dl_dst[0] == 0xff);
  CHECK(r.groups == std::vector<uint32_t>{1});
  CHECK_ACTS(run(b, eth_key(14, 1, 2)), r.actions);  // chained through indirect
  // Fast failover follows port liveness.
  CHECK_ACTS(run(b, eth_key(13, 1, 2)), acts({dp::act_output(12)}));
  b.ports[2].live = false;
  b.pipeline.groups().port_live = [&](uint32_t p) { return b.port(p) && b.port(p)->live; };
  XlateResult ff = run(b, eth_key(13, 1, 2));
  CHECK(ff.actions.n == 0);  // bucket 2 outputs to the input port 3: skipped
}

TEST_CASE("xlate: select group spreads flows", "[ofproto]") {
  Bridge b = make_bridge();
  add_group(b, "group_id=2,type=select,bucket=weight:1,watch_port:2,actions=output:2,"
               "bucket=weight:1,watch_port:3,actions=output:3");
  add(b, "actions=group:2");
  std::set<uint32_t> outs;
  for (uint8_t s = 0; s < 64; s++) {
    XlateResult a = run(b, eth_key(11, s, 2));
    REQUIRE(a.actions.n == 1);
    outs.insert(a.actions.acts[0].arg32);
    CHECK(a.mask.dl_src[5] == 0xff);  // the hash input is pinned
  }
  CHECK(outs == std::set<uint32_t>{12, 13});
  b.pipeline.groups().port_live = [](uint32_t p) { return p != 2; };
  for (uint8_t s = 0; s < 16; s++) CHECK_ACTS(run(b, eth_key(11, s, 2)), acts({dp::act_output(13)}));
  add_group(b, "group_id=3,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3");
  add(b, "priority=40000,in_port=4 actions=group:3");
  CHECK_ACTS(run(b, eth_key(14, 1, 2)), acts({dp::act_output(13)}));
  b.pipeline.groups().port_live = nullptr;
  CHECK_ACTS(run(b, eth_key(14, 1, 2)), acts({dp::act_output(12)}));
}

TEST_CASE("xlate: controller and table-miss behaviour", "[ofproto]") {
  Bridge b = bridge_with({"cookie=0x77,in_port=1 actions=output:2,CONTROLLER:128"});
  XlateResult r = run(b, eth_key(11, 1, 2));
  CHECK_ACTS(r, acts({dp::act_output(12), dp::act_userspace(0)}));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kAction);
  CHECK(r.controller[0].cookie == 0x77);
  CHECK(r.controller[0].max_len == 128);
  b.pipeline.table(0).miss = TableMiss::kController;
  r = run(b, eth_key(12, 1, 2));
  CHECK_ACTS(r, acts({dp::act_userspace(0)}));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kNoMatch);
  b.pipeline.table(0).miss = TableMiss::kContinue;
  add(b, "table=1,in_port=2 actions=output:3");
  CHECK_ACTS(run(b, eth_key(12, 1, 2)), acts({dp::act_output(13)}));
}

TEST_CASE("xlate: too many actions fail cleanly", "[ofproto]") {
  // (Actions the datapath cannot execute never reach xlate: the flow-mod is
  // refused, setfield_xlate_test.cc.)
  Bridge b = make_bridge();
  XlateResult r;
  std::string many = "in_port=2 actions=";
  for (unsigned i = 0; i < dp::kMaxDpActions + 4; i++)
    many += std::string(i ? "," : "") + "output:" + std::to_string(i % 2 ? 3 : 4);
  add(b, many);
  r = run(b, eth_key(12, 1, 2));
  CHECK(r.actions.n == 0);
  CHECK(r.error.find("more than " + std::to_string(dp::kMaxDpActions)) != std::string::npos);
}

TEST_CASE("xlate: NORMAL learns, forwards and floods", "[ofproto]") {
  Bridge b = bridge_with({"actions=NORMAL"});
  // A -> B unknown: flood to all but the input port; A learned on port 1.
  XlateResult r = run(b, eth_key(11, 0xa, 0xb), true, 0);
  CHECK_ACTS(r, acts({dp::act_output(12), dp::act_output(13), dp::act_output(14)}));
  CHECK(r.learned);
  CHECK(r.mask.dl_src[5] == 0xff);
  CHECK(r.mask.dl_dst[5] == 0xff);
  CHECK(b.mac.lookup(MacAddr{2, 0, 0, 0, 0, 0xa}, 0, 1) == 1u);
  // B -> A: unicast to port 1, B learned on port 2.
  r = run(b, eth_key(12, 0xb, 0xa), true, 1);
  CHECK_ACTS(r, acts({dp::act_output(11)}));
  r = run(b, eth_key(11, 0xa, 0xb), true, 2);
  CHECK_ACTS(r, acts({dp::act_output(12)}));
  CHECK_FALSE(r.learned);  // refresh only
  // Broadcast floods.
  FlowKey bc = eth_key(11, 0xa, 0xff);
  std::memset(bc.dl_dst, 0xff, 6);
  CHECK_ACTS(run(b, bc, true, 3), acts({dp::act_output(12), dp::act_output(13), dp::act_output(14)}));
  // A moves to port 3: reported, and traffic to A follows.
  r = run(b, eth_key(13, 0xa, 0xb), true, 4);
  CHECK(r.learned);
  auto changes = b.mac.take_changes();
  CHECK(std::any_of(changes.begin(), changes.end(), [](const MacChange& c) {
    return c.kind == MacChangeKind::kMoved && c.old_port == 1 && c.new_port == 3;
  }));
  CHECK_ACTS(run(b, eth_key(12, 0xb, 0xa), true, 5), acts({dp::act_output(13)}));
  // Destination on the input port: dropped.
  CHECK(run(b, eth_key(13, 0xc, 0xa), true, 6).actions.n == 0);
  // Aged out after 300 s: flooded again.
  CHECK(run(b, eth_key(12, 0xb, 0xa), false, 4 + 300'000).actions.n == 3);
}

TEST_CASE("xlate: NORMAL with access and trunk ports", "[ofproto]") {
  Bridge b = make_bridge();
  b.ports[1].vlan_mode = VlanMode::kAccess;
  b.ports[1].tag = 10;
  b.ports[2].vlan_mode = VlanMode::kTrunk;  // all VLANs
  b.ports[3].vlan_mode = VlanMode::kAccess;
  b.ports[3].tag = 20;
  b.ports[4].vlan_mode = VlanMode::kTrunk;
  b.ports[4].trunks = {20};
  add(b, "actions=NORMAL");
  // Untagged on access 10: only the trunk carrying 10 gets it, tagged.
  XlateResult r = run(b, eth_key(11, 0xa, 0xb), true, 0);
  CHECK_ACTS(r, acts({dp::act_push_vlan(0x8100, 10), dp::act_output(12)}));
  // Tagged 20 from trunk 2: access port 3 untagged, trunk 4 tagged (first, no change).
  r = run(b, eth_key(12, 0xc, 0xd, 0x1000 | 20), true, 0);
  CHECK_ACTS(r, acts({dp::act_output(14), dp::act_pop_vlan(), dp::act_output(13)}));
  // Tagged frame on an access port: dropped. VLAN not trunked: dropped.
  CHECK(run(b, eth_key(11, 0xa, 0xb, 0x1000 | 10), true, 0).actions.n == 0);
  CHECK(run(b, eth_key(14, 0xa, 0xb, 0x1000 | 30), true, 0).actions.n == 0);
  // Learned per VLAN: c is known on VLAN 20 only.
  CHECK(b.mac.lookup(MacAddr{2, 0, 0, 0, 0, 0xc}, 20, 1) == 2u);
  CHECK_FALSE(b.mac.lookup(MacAddr{2, 0, 0, 0, 0, 0xc}, 10, 1));
  r = run(b, eth_key(13, 0xd, 0xc), true, 1);
  CHECK_ACTS(r, acts({dp::act_push_vlan(0x8100, 20), dp::act_output(12)}));
  // Flood VLANs never learn.
  b.mac.set_flood_vlans({20});
  r = run(b, eth_key(13, 0xe, 0xc), true, 2);
  CHECK_FALSE(r.learned);
  CHECK(r.actions.n >= 2);  // flooded: c is forgotten on a flood VLAN
}

TEST_CASE("xlate: trace shows tables, rules, megaflow and actions", "[ofproto]") {
  Bridge b = bridge_with({"cookie=0x9,priority=5,ip actions=goto_table:2",
                          "table=2,ip,nw_dst=10.0.0.2 actions=output:3"});
  std::string t = xlate_trace(b, eth_key(11, 1, 2), 0);
  INFO(t);
  CHECK(t.find("table 0: priority=5,ip cookie=0x9 actions=goto_table:2") != std::string::npos);
  CHECK(t.find("table 2:") != std::string::npos);
  CHECK(t.find("output:3 (datapath port 13)") != std::string::npos);
  CHECK(t.find("Megaflow:") != std::string::npos);
  CHECK(t.find("Datapath actions:") != std::string::npos);
}

TEST_CASE("xlate: rule accounting", "[ofproto]") {
  Bridge b = bridge_with({"actions=goto_table:1", "table=1 actions=output:2"});
  XlateOptions o;
  o.account = true;
  o.packets = 3;
  o.bytes = 300;
  o.now_ms = 50;
  XlateResult r = xlate(b, eth_key(11, 1, 2), o);
  REQUIRE(r.rules.size() == 2);
  for (const RulePtr& rule : r.rules) {
    CHECK(rule->packet_count == 3);
    CHECK(rule->byte_count == 300);
    CHECK(rule->used_ms == 50);
  }
}

TEST_CASE("xlate oracle: megaflow actions equal a fresh translation of any packet it matches", "[ofproto]") {
  const char* matches[] = {"", "in_port=1,", "in_port=2,", "ip,", "ip,nw_dst=10.0.0.0/8,", "tcp,tp_dst=80,",
                           "ip,nw_src=10.0.1.0/24,", "dl_vlan=5,", "vlan_tci=0x0000,", "udp,",
                           "dl_dst=02:00:00:00:00:02,", "dl_src=02:00:00:00:00:01/ff:ff:ff:ff:ff:00,",
                           "metadata=0x1/0x1,", "ipv6,", "eth_type=0x88e7,pbb_isid=0x5,",
                           "ipv6,ipv6_label=0x5,", "eth_type=0x88e7,"};
  const char* actions[] = {"output:1", "output:2", "output:3", "NORMAL", "FLOOD", "IN_PORT", "CONTROLLER:64",
                           "group:1", "group:2", "group:3", "dec_ttl", "mod_dl_dst:02:00:00:00:00:07",
                           "push_vlan:0x8100", "pop_vlan", "write_actions(output:4)", "clear_actions",
                           "write_metadata:0x1/0x1", "mod_vlan_vid:9", "mod_nw_dst:10.0.0.9", "mod_tp_dst:99",
                           "group:4", "mod_vlan_pcp:3", "mod_nw_tos:8", "strip_vlan", "output:9",
                           "push_pbb:0x88e7", "pop_pbb", "set_field:0x7->pbb_isid"};
  // DPS_ORACLE_SEEDS=N runs more random rule sets (default 25).
  const char* env = std::getenv("DPS_ORACLE_SEEDS");
  const uint64_t n_seeds = env ? std::strtoull(env, nullptr, 10) : 25;
  // The oracle is only as good as the variety it sees: count it.
  int total = 0, nonempty = 0, via_patch = 0, pbb = 0;
  for (uint64_t seed = 1; seed <= n_seeds; seed++) {
    std::mt19937_64 rng(seed);
    Bridge b = make_bridge();
    // A second bridge behind patch port 9 <-> 30, with one port (5 = dp 15).
    Bridge b2 = make_bridge(0, "br2");
    add_bridge_port(b2, 5, 15);
    add_patch(b, 9, b2, 30);
    const char* b2_rules[] = {"actions=NORMAL", "ip actions=output:5", "priority=5,tcp actions=mod_tp_dst:99,output:5",
                              "priority=7,dl_vlan=5 actions=strip_vlan,output:5", "priority=3,udp actions=IN_PORT"};
    for (const char* t : b2_rules)
      if (rng() % 2) add(b2, t);
    for (uint8_t m = 1; m <= 2; m++) b2.mac.learn(MacAddr{2, 0, 0, 0, 0, m}, 0, m == 1 ? 5 : 30, 0);
    add_group(b, "group_id=1,type=all,bucket=mod_dl_src:02:00:00:00:00:09,output:1,bucket=output:2");
    add_group(b, "group_id=2,type=select,bucket=weight:1,actions=output:3,bucket=weight:2,actions=output:4");
    add_group(b, "group_id=3,type=ff,bucket=watch_port:4,actions=output:4,bucket=watch_port:1,actions=output:1");
    add_group(b, "group_id=4,type=all,bucket=push_vlan:0x8100,mod_vlan_vid:7,output:1,bucket=group:1,"
                 "bucket=mod_nw_src:1.2.3.4,NORMAL");
    if (seed % 2) {  // NORMAL with VLAN modes
      b.ports[4].vlan_mode = VlanMode::kAccess;
      b.ports[4].tag = 5;
      b.ports[3].trunks = {0, 5};
    }
    // Pre-learned MACs for NORMAL (no learning during the oracle).
    for (uint8_t m = 1; m <= 3; m++) b.mac.learn(MacAddr{2, 0, 0, 0, 0, m}, 0, m, 0);
    int added = 0;
    for (int i = 0; i < 40; i++) {
      uint8_t table = static_cast<uint8_t>(rng() % 3);
      std::string text = "table=" + std::to_string(table) + ",priority=" + std::to_string(rng() % 6) + "," +
                         matches[rng() % std::size(matches)] + matches[rng() % std::size(matches)];
      std::string act;
      int n = 1 + static_cast<int>(rng() % 3);
      for (int j = 0; j < n; j++) {
        std::string a = actions[rng() % std::size(actions)];
        if (a == "clear_actions" || a.rfind("write_", 0) == 0) continue;  // placed below
        act += (act.empty() ? "" : ",") + a;
      }
      if (rng() % 4 == 0) act += std::string(act.empty() ? "" : ",") + "write_actions(output:4)";
      if (rng() % 5 == 0) act += std::string(act.empty() ? "" : ",") + "write_metadata:0x1/0x1";
      if (table < 2 && rng() % 2) act += std::string(act.empty() ? "" : ",") + "goto_table:" + std::to_string(table + 1);
      if (act.empty()) act = "drop";
      FlowMod fm;
      if (parse_flow(text + " actions=" + act, &fm)) continue;  // e.g. two eth_types
      if (b.pipeline.flow_mod(fm, 0)) continue;                   // e.g. set_field without a tag
      added++;
    }
    REQUIRE(added > 10);
    for (int p = 0; p < 150; p++) {
      FlowKey k{};
      k.in_port = static_cast<uint32_t>(11 + rng() % 4);
      const uint64_t family = rng() % 8;  // IPv4, IPv6 or PBB (I-SID and flow label share bits)
      k.eth_type = htons(family < 5 ? 0x0800 : family == 5 ? 0x86dd : 0x88e7);
      if (family >= 5) k.ipv6_label = htonl(rng() % 2 ? 5 : family == 5 ? 0xfffff : 0x100005);
      k.vlan_tci = htons(static_cast<uint16_t>(rng() % 3 == 0 ? 0x1000 | (rng() % 2 ? 5 : 6) : 0));
      k.dl_src[0] = 2;
      k.dl_src[5] = static_cast<uint8_t>(1 + rng() % 4);
      k.dl_dst[0] = rng() % 8 ? 2 : 0xff;
      k.dl_dst[5] = static_cast<uint8_t>(1 + rng() % 4);
      k.nw_src = htonl(0x0a000000u | static_cast<uint32_t>(rng() % 3) << 8 | 1);
      k.nw_dst = htonl((rng() % 2 ? 0x0a000000u : 0x0b000000u) | 2);
      k.nw_proto = static_cast<uint8_t>(rng() % 2 ? 6 : 17);
      k.tp_dst = htons(rng() % 2 ? 80 : 443);
      k.nw_ttl = 64;
      XlateResult r = run(b, k);
      total++;
      nonempty += r.actions.n > 0;
      for (unsigned a = 0; a < r.actions.n; a++) {
        via_patch += r.actions.acts[a].type == dp::ActType::kOutput && r.actions.acts[a].arg32 == 15;
        pbb += r.actions.acts[a].type == dp::ActType::kPushPbb || r.actions.acts[a].type == dp::ActType::kPopPbb;
      }
      for (int v = 0; v < 12; v++) {
        FlowKey k2{};
        for (unsigned w = 0; w < dp::kFlowWords; w++) {
          uint64_t rnd = rng();
          k2.words()[w] = (rnd & ~r.mask.words()[w]) | (k.words()[w] & r.mask.words()[w]);
        }
        XlateResult r2 = run(b, k2);
        INFO("seed " << seed << " packet " << dp::flow_key_format(k) << "\nvariant "
                     << dp::flow_key_format(k2) << "\nmask " << dp::flow_key_format(r.mask) << "\n"
                     << dp::format_actions(r.actions) << " vs " << dp::format_actions(r2.actions));
        REQUIRE(r2.actions == r.actions);
        REQUIRE(r2.error == r.error);
        REQUIRE(r2.controller.size() == r.controller.size());
      }
    }
  }
  INFO("translations " << total << ", non-drop " << nonempty << ", outputs through the patch " << via_patch
                        << ", PBB pushes/pops " << pbb);
  CHECK(nonempty > total / 3);
  CHECK(via_patch > 0);
  CHECK(pbb > 0);
}


TEST_CASE("xlate: packet-out actions, incl. output:TABLE", "[ofproto]") {
  Bridge b = bridge_with({"priority=10,in_port=CONTROLLER actions=output:3",
                          "priority=10,in_port=1 actions=output:4"});
  ActionList al;
  REQUIRE_FALSE(parse_actions("output:TABLE", OfMatch{}, &al));
  ValidationContext ctx;
  CHECK(validate_actions(al, OfMatch{}, ctx));  // TABLE is for packet-out only
  ctx.packet_out = true;
  CHECK_FALSE(validate_actions(al, OfMatch{}, ctx));
  XlateOptions o;
  XlateResult r = xlate_packet_out(b, eth_key(0, 1, 2), kPortController, al, o);
  CHECK_ACTS(r, acts({dp::act_output(13)}));
  r = xlate_packet_out(b, eth_key(0, 1, 2), 1, al, o);
  CHECK_ACTS(r, acts({dp::act_output(14)}));
  REQUIRE_FALSE(parse_actions("output:2,IN_PORT", OfMatch{}, &al));
  r = xlate_packet_out(b, eth_key(0, 1, 2), 1, al, o);
  CHECK_ACTS(r, acts({dp::act_output(12), dp::act_output(11)}));
  r = xlate_packet_out(b, eth_key(0, 1, 2), kPortController, al, o);
  CHECK_ACTS(r, acts({dp::act_output(12)}));  // no input port to send back to
}

TEST_CASE("xlate: patch ports continue in the peer bridge", "[ofproto]") {
  Bridge b0 = make_bridge(2), b1 = make_bridge(0, "br1");
  add_bridge_port(b1, 3, 13);
  add_patch(b0, 10, b1, 20);
  add(b0, "in_port=1,ip actions=mod_nw_dst:10.9.9.9,output:10");
  add(b1, "in_port=20,ip,nw_dst=10.9.9.9 actions=mod_dl_dst:02:00:00:00:00:33,output:3");
  XlateResult r = run(b0, eth_key(11, 1, 2));
  uint8_t mac33[6] = {2, 0, 0, 0, 0, 0x33};
  CHECK_ACTS(r, acts({dp::act_set_eth_dst(mac33), dp::act_set_ipv4_dst(htonl(0x0a090909)), dp::act_output(13)}));
  CHECK(r.rules.size() == 2);
  CHECK(r.mask.eth_type == 0xffff);  // read by br1's lookup

  // NORMAL on both sides: flooding crosses the patch, learning happens per bridge.
  Bridge c0 = make_bridge(2), c1 = make_bridge(0, "br1");
  add_bridge_port(c1, 3, 13);
  add_patch(c0, 10, c1, 20);
  add(c0, "actions=NORMAL");
  add(c1, "actions=NORMAL");
  r = run(c0, eth_key(11, 0xa, 0xb), true, 0);
  CHECK_ACTS(r, acts({dp::act_output(12), dp::act_output(13)}));
  CHECK(c0.mac.lookup(MacAddr{2, 0, 0, 0, 0, 0xa}, 0, 1) == 1u);
  CHECK(c1.mac.lookup(MacAddr{2, 0, 0, 0, 0, 0xa}, 0, 1) == 20u);
  r = run(c1, eth_key(13, 0xb, 0xa), true, 1);  // back through the patch to port 1
  CHECK_ACTS(r, acts({dp::act_output(11)}));

  // Two patch pairs between the same bridges flooding: a loop, cut.
  add_patch(c0, 11, c1, 21);
  FlowKey bc = eth_key(11, 0xa, 0xff);
  std::memset(bc.dl_dst, 0xff, 6);
  r = run(c0, bc, false, 2);
  CHECK(r.actions.n == 0);
  CHECK(r.error.find("patch port loop") != std::string::npos);
}

TEST_CASE("xlate: a port with no_recv drops what it receives; the megaflow is in_port (and recirc_id) alone",
          "[ofproto]") {
  Bridge b = make_bridge(3);
  add(b, "priority=10,ip actions=output:3");
  add(b, "priority=0 actions=CONTROLLER:65535");
  b.ports[1].no_recv = true;
  XlateResult r = run(b, eth_key(11, 1, 2), true);
  CHECK(r.error.empty());
  CHECK(r.actions.n == 0);
  CHECK(r.rules.empty());
  CHECK(r.visits.empty());
  CHECK(r.controller.empty());
  CHECK_FALSE(r.learned);
  dp::FlowMask only_in_port{};
  only_in_port.in_port = 0xffffffffu;
  only_in_port.recirc_id = 0xffffffffu;  // every megaflow: a recirculation never hits a first pass's
  CHECK(std::memcmp(&r.mask, &only_in_port, sizeof only_in_port) == 0);
  // Other ports are unaffected.
  CHECK_ACTS(run(b, eth_key(12, 1, 2)), acts({dp::act_output(13)}));
  // Turned off again: forwarding resumes.
  b.ports[1].no_recv = false;
  CHECK_ACTS(run(b, eth_key(11, 1, 2)), acts({dp::act_output(13)}));
  // The trace says why.
  b.ports[1].no_recv = true;
  CHECK(xlate_trace(b, eth_key(11, 1, 2), 0).find("no_recv") != std::string::npos);

  // The peer side of a patch port with no_recv: nothing crosses it.
  Bridge b0 = make_bridge(2), b1 = make_bridge(0, "br1");
  add_bridge_port(b1, 3, 13);
  add_patch(b0, 10, b1, 20);
  b1.ports[20].no_recv = true;
  add(b0, "in_port=1 actions=output:2,output:10");
  add(b1, "actions=output:3");
  CHECK_ACTS(run(b0, eth_key(11, 1, 2)), acts({dp::act_output(12)}));
  b1.ports[20].no_recv = false;
  CHECK_ACTS(run(b0, eth_key(11, 1, 2)), acts({dp::act_output(12), dp::act_output(13)}));
}

TEST_CASE("xlate: the table-miss flow entry's packet-ins have reason no_match", "[ofproto]") {
  Bridge b = bridge_with({"table=0,priority=0,cookie=0x55 actions=CONTROLLER:65535"});
  XlateResult r = run(b, eth_key(11, 1, 2));
  CHECK_ACTS(r, acts({dp::act_userspace(0)}));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kNoMatch);
  CHECK(r.controller[0].cookie == 0x55);
  CHECK(r.controller[0].table_id == 0);
  CHECK(r.controller[0].max_len == kControllerNoBuffer);  // the action's max_len applies
  CHECK_FALSE(r.controller[0].use_miss_send_len);

  // Table-miss entry of a later table, reached by goto, with a max_len.
  Bridge c = bridge_with({"table=0,priority=5,ip actions=goto_table:2",
                          "table=2,priority=0 actions=CONTROLLER:64"});
  r = run(c, eth_key(11, 1, 2));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kNoMatch);
  CHECK(r.controller[0].table_id == 2);
  CHECK(r.controller[0].max_len == 64);

  // Not table-miss entries: priority 0 with a match, or an empty match at
  // priority 1, send with reason action.
  Bridge d = bridge_with({"table=0,priority=0,ip actions=CONTROLLER:64"});
  r = run(d, eth_key(11, 1, 2));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kAction);
  Bridge e = bridge_with({"table=0,priority=1 actions=CONTROLLER:64"});
  r = run(e, eth_key(11, 1, 2));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kAction);

  // A table miss by table config has no action: miss_send_len applies.
  Bridge f = make_bridge();
  f.pipeline.table(0).miss = TableMiss::kController;
  r = run(f, eth_key(11, 1, 2));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kNoMatch);
  CHECK(r.controller[0].use_miss_send_len);
}

TEST_CASE("xlate: table lookup and matched counts per translated packet group", "[ofproto]") {
  Bridge b = bridge_with({"table=0,priority=5 actions=goto_table:1",
                          "table=1,priority=5,in_port=2 actions=output:3"});
  const FlowTable& t0 = b.pipeline.table(0);
  const FlowTable& t1 = b.pipeline.table(1);
  XlateOptions o;
  o.account = true;
  o.packets = 3;
  o.bytes = 300;
  XlateResult r = xlate(b, eth_key(11, 1, 2), o);  // port 1: table 1 misses
  CHECK(t0.lookup_count() == 3);
  CHECK(t0.matched_count() == 3);
  CHECK(t1.lookup_count() == 3);
  CHECK(t1.matched_count() == 0);
  o.packets = 2;
  xlate(b, eth_key(12, 1, 2), o);  // port 2: both match
  CHECK(t0.lookup_count() == 5);
  CHECK(t1.lookup_count() == 5);
  CHECK(t1.matched_count() == 2);
  // Translations that stand for no packet (revalidation, trace) count nothing.
  run(b, eth_key(11, 1, 2));
  xlate_trace(b, eth_key(11, 1, 2), 0);
  CHECK(t0.lookup_count() == 5);
  CHECK(t1.lookup_count() == 5);
  // Megaflow hits roll up over the visits of the translation.
  account_visits(r.visits, 10, &b);
  CHECK(t0.lookup_count() == 15);
  CHECK(t0.matched_count() == 15);
  CHECK(t1.lookup_count() == 15);
  CHECK(t1.matched_count() == 2);
  Bridge other = make_bridge();
  account_visits(r.visits, 10, &other);  // not this bridge's visits: nothing
  CHECK(t0.lookup_count() == 15);
  // Tables never visited stay at zero.
  CHECK(b.pipeline.table(2).lookup_count() == 0);
}

namespace {

// Keys of the shapes the OpenFlow 1.3 set-fields need, entering on
// OpenFlow port 1 (datapath port 11).
FlowKey shape_key(const std::string& shape) {
  FlowKey k = eth_key(11, 1, 2);
  k.nw_tos = 0x02;
  const bool v6 = shape == "ipv6" || shape == "icmp6" || shape == "ns" || shape == "na";
  if (v6) {
    k.eth_type = htons(0x86dd);
    k.nw_src = k.nw_dst = 0;
    k.ipv6_src[0] = k.ipv6_dst[0] = 0xfe;
    k.ipv6_src[15] = 1;
    k.ipv6_dst[15] = 2;
    k.ipv6_label = htonl(0x54321);
    k.nw_proto = 17;
  }
  if (shape == "icmp") k.nw_proto = 1;
  if (shape == "icmp6" || shape == "ns" || shape == "na") k.nw_proto = 58;
  if (shape == "icmp" || shape == "icmp6") {
    k.tp_src = htons(shape == "icmp" ? 8 : 128);
    k.tp_dst = 0;
  }
  if (shape == "ns" || shape == "na") {
    k.tp_src = htons(shape == "ns" ? 135 : 136);
    k.tp_dst = 0;
    k.nd_target[0] = 0xfe;
    k.nd_target[15] = 7;
    (shape == "ns" ? k.arp_sha : k.arp_tha)[5] = 0x77;
  }
  if (shape == "arp") {
    k.eth_type = htons(0x0806);
    k.nw_proto = 1;
    k.nw_ttl = k.nw_tos = 0;
    k.tp_src = k.tp_dst = 0;
    k.arp_sha[5] = 0x0a;
  }
  return k;
}

struct SetFieldCase {
  const char* match;   // the rule's match after in_port=1
  const char* action;  // ovs-ofctl text
  const char* shape;   // shape_key()
  dp::DpAction want;
};

const uint8_t kMac1[6] = {0x0e, 0, 0, 0, 0, 1};
const uint8_t kMac2[6] = {0x0e, 0, 0, 0, 0, 2};
const uint8_t kNdTarget[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};

std::vector<SetFieldCase> set_field_cases() {
  return {
      {"ip", "set_field:3->ip_ecn", "ipv4", dp::act_set_ip_ecn(3)},
      {"ip", "set_field:47->ip_proto", "ipv4", dp::act_set_ip_proto(47)},
      {"ipv6", "set_field:59->ip_proto", "ipv6", dp::act_set_ip_proto(59)},
      {"ip", "set_field:0x88b5->eth_type", "ipv4", dp::act_set_eth_type(0x88b5)},
      {"ipv6", "set_field:1->ip_ecn", "ipv6", dp::act_set_ip_ecn(1)},
      {"ipv6", "set_field:46->ip_dscp", "ipv6", dp::act_set_ipv6_dscp(46)},
      {"ip", "set_field:46->ip_dscp", "ipv4", dp::act_set_ipv4_tos(46)},
      {"ipv6", "set_field:0x12345->ipv6_label", "ipv6", dp::act_set_ipv6_flabel(0x12345)},
      {"ipv6", "mod_nw_ttl:9", "ipv6", dp::act_set_ipv6_hlim(9)},
      {"ip", "mod_nw_ttl:9", "ipv4", dp::act_set_ipv4_ttl(9)},
      {"icmp", "set_field:0->icmpv4_type", "icmp", dp::act_set_icmp_type(false, 0)},
      {"icmp", "set_field:3->icmpv4_code", "icmp", dp::act_set_icmp_code(false, 3)},
      {"icmp6", "set_field:129->icmpv6_type", "icmp6", dp::act_set_icmp_type(true, 129)},
      {"icmp6", "set_field:1->icmpv6_code", "icmp6", dp::act_set_icmp_code(true, 1)},
      {"arp", "set_field:2->arp_op", "arp", dp::act_set_arp_op(2)},
      {"arp", "set_field:1.2.3.4->arp_spa", "arp", dp::act_set_arp_spa(htonl(0x01020304))},
      {"arp", "set_field:5.6.7.8->arp_tpa", "arp", dp::act_set_arp_tpa(htonl(0x05060708))},
      {"arp", "set_field:0e:00:00:00:00:01->arp_sha", "arp", dp::act_set_arp_sha(kMac1)},
      {"arp", "set_field:0e:00:00:00:00:02->arp_tha", "arp", dp::act_set_arp_tha(kMac2)},
      {"icmp6,icmpv6_type=135,icmpv6_code=0", "set_field:fe80::9->nd_target", "ns",
       dp::act_set_nd_target(kNdTarget)},
      {"icmp6,icmpv6_type=136,icmpv6_code=0", "set_field:fe80::9->nd_target", "na",
       dp::act_set_nd_target(kNdTarget)},
      {"icmp6,icmpv6_type=135,icmpv6_code=0", "set_field:0e:00:00:00:00:01->nd_sll", "ns",
       dp::act_set_nd_sll(kMac1)},
      {"icmp6,icmpv6_type=136,icmpv6_code=0", "set_field:0e:00:00:00:00:02->nd_tll", "na",
       dp::act_set_nd_tll(kMac2)},
  };
}

}  // namespace

TEST_CASE("xlate: each OpenFlow 1.3 set-field becomes its datapath action; the megaflow "
          "mask is the match's alone",
          "[ofproto][setfield]") {
  for (const SetFieldCase& c : set_field_cases()) {
    const std::string match = std::string("in_port=1,") + c.match;
    INFO(match << " actions=" << c.action);
    Bridge b = bridge_with({(match + " actions=" + c.action + ",output:2").c_str()});
    Bridge plain = bridge_with({(match + " actions=output:2").c_str()});
    const FlowKey k = shape_key(c.shape);
    XlateResult r = run(b, k);
    CHECK(r.error.empty());
    CHECK_ACTS(r, acts({c.want, dp::act_output(12)}));
    // Neither widened nor narrowed: the same mask as the rule without the set.
    XlateResult p = run(plain, k);
    REQUIRE(p.error.empty());
    CHECK(std::memcmp(&r.mask, &p.mask, sizeof r.mask) == 0);
  }
}

TEST_CASE("xlate: set-fields in a group bucket skip packets without the header, pinning "
          "only what decides it",
          "[ofproto][setfield]") {
  Bridge b = make_bridge();
  add_group(b, "group_id=1,type=all,bucket=set_field:3->ip_ecn,set_field:2->arp_op,"
               "set_field:fe80::9->nd_target,output:2");
  add(b, "in_port=1 actions=group:1");
  // (A field a bucket set is pinned where the bucket ends: the packet's own
  // value is restored for what follows, clone().) ARP: only arp_op applies;
  // eth_type is pinned, nothing about IP.
  XlateResult r = run(b, shape_key("arp"));
  CHECK_ACTS(r, acts({dp::act_set_arp_op(2), dp::act_output(12)}));
  CHECK(r.mask.eth_type == 0xffff);
  CHECK(r.mask.nw_proto == 0xff);  // arp_op, restored
  CHECK(r.mask.nw_tos == 0);
  CHECK(r.mask.tp_src == 0);
  CHECK(r.mask.nw_src == 0);
  // IPv6 UDP: ECN (its two bits restored, not DSCP's); the ND test pins the
  // protocol (not ICMPv6, no more).
  r = run(b, shape_key("ipv6"));
  CHECK_ACTS(r, acts({dp::act_set_ip_ecn(3), dp::act_output(12)}));
  CHECK(r.mask.nw_proto == 0xff);
  CHECK(r.mask.tp_src == 0);
  CHECK(r.mask.nw_tos == 0x03);
  // NA: ECN and the target; the ICMPv6 type and code (low bytes) pinned.
  r = run(b, shape_key("na"));
  CHECK_ACTS(r, acts({dp::act_set_ip_ecn(3), dp::act_set_nd_target(kNdTarget), dp::act_output(12)}));
  CHECK(r.mask.tp_src == htons(0xff));
  CHECK(r.mask.tp_dst == htons(0xff));
  // An ICMPv6 echo is not ND: no target rewrite.
  r = run(b, shape_key("icmp6"));
  CHECK_ACTS(r, acts({dp::act_set_ip_ecn(3), dp::act_output(12)}));
}

TEST_CASE("xlate: DSCP and ECN set together on IPv6 leave nw_tos wildcarded", "[ofproto][setfield]") {
  Bridge b = bridge_with({"in_port=1,ipv6 actions=set_field:10->ip_dscp,set_field:2->ip_ecn,output:2"});
  XlateResult r = run(b, shape_key("ipv6"));
  CHECK_ACTS(r, acts({dp::act_set_ipv6_dscp(10), dp::act_set_ip_ecn(2), dp::act_output(12)}));
  CHECK(r.mask.nw_tos == 0);
  CHECK(r.mask.ipv6_label == 0);
  CHECK(r.mask.nw_ttl == 0);
}

namespace {

// An MPLS packet in on datapath port dp_in: top entry `lse` (host order).
FlowKey mpls_key(uint32_t dp_in, uint32_t lse, uint16_t eth_type = 0x8847) {
  FlowKey k = eth_key(dp_in, 1, 2);
  k.eth_type = htons(eth_type);
  k.nw_src = k.nw_dst = 0;
  k.tp_src = k.tp_dst = 0;
  k.nw_proto = k.nw_ttl = k.nw_tos = 0;
  k.tcp_flags = 0;
  k.mpls_lse = htonl(lse);
  return k;
}

constexpr uint32_t lse(uint32_t label, uint32_t tc, bool bos, uint32_t ttl) {
  return label << 12 | tc << 9 | (bos ? 0x100u : 0u) | ttl;
}

}  // namespace

TEST_CASE("xlate: push_mpls onto IP and onto a label stack, the megaflow pins what it copies",
          "[ofproto][mpls]") {
  Bridge b = bridge_with({"in_port=1,ip actions=push_mpls:0x8847,set_field:100->mpls_label,output:2",
                          "in_port=2,mpls actions=push_mpls:0x8848,set_mpls_ttl:9,output:1"});
  FlowKey k = eth_key(11, 1, 2);
  k.nw_tos = 0x28;  // DSCP 10: TC = its low 3 bits (as OVS)
  k.nw_ttl = 20;
  XlateResult r = run(b, k);
  CHECK_ACTS(r, acts({dp::act_push_mpls(0x8847, lse(0, 2, true, 20)),
                      dp::act_set_mpls_lse(lse(100, 0, false, 0), 0xfffff000u), dp::act_output(12)}));
  CHECK(r.mask.nw_ttl == 0xff);
  CHECK(r.mask.nw_tos == 0xfc);
  r = run(b, mpls_key(12, lse(200, 3, true, 7)));
  CHECK_ACTS(r, acts({dp::act_push_mpls(0x8848, lse(200, 3, false, 7)), dp::act_set_mpls_lse(9, 0xff),
                      dp::act_output(11)}));
  CHECK(r.mask.mpls_lse == 0xffffffffu);
}

TEST_CASE("xlate: dec_mpls_ttl pins the TTL; an expiring one goes to the controller",
          "[ofproto][mpls]") {
  Bridge b = bridge_with({"in_port=1,mpls,mpls_label=5 actions=dec_mpls_ttl,output:2"});
  XlateResult r = run(b, mpls_key(11, lse(5, 0, true, 9)));
  CHECK_ACTS(r, acts({dp::act_set_mpls_lse(8, 0xff), dp::act_output(12)}));
  CHECK(r.mask.mpls_lse == htonl(0xfffff0ffu));  // label by the match, TTL by the action
  r = run(b, mpls_key(11, lse(5, 0, true, 1)));
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kInvalidTtl);
  CHECK(r.actions.n == 1);  // the packet-in only: no output
}

TEST_CASE("xlate: pop_mpls of a stacked label, and to IP with a recirculation for the next table",
          "[ofproto][mpls]") {
  Bridge b = bridge_with({"in_port=1,mpls,mpls_bos=0 actions=pop_mpls:0x8847,output:2",
                          "in_port=1,mpls,mpls_bos=1 actions=pop_mpls:0x0800,goto_table:1",
                          "in_port=2,mpls,mpls_bos=1 actions=pop_mpls:0x0800,output:1",
                          "in_port=3,mpls actions=pop_mpls:0x8847,dec_mpls_ttl,output:1",
                          "table=1,ip,nw_dst=10.0.0.2 actions=output:3"});
  XlateResult r = run(b, mpls_key(11, lse(1, 0, false, 5)));
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x8847), dp::act_output(12)}));
  CHECK(r.mask.mpls_lse & htonl(0x100));
  r = run(b, mpls_key(12, lse(1, 0, true, 5)));
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x0800), dp::act_output(11)}));
  // The next table needs the inner header: the packet is classified again.
  r = run(b, mpls_key(11, lse(1, 0, true, 5)));
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x0800), dp::act_recirc(mpls_recirc_id(1))}));
  FlowKey again = eth_key(11, 1, 2);
  again.recirc_id = mpls_recirc_id(1);
  CHECK_ACTS(run(b, again), acts({dp::act_output(13)}));
  // The second entry of a received stack is not in the key: dec_mpls_ttl
  // and what follows it are frozen, the packet parsed anew (test below).
  r = run(b, mpls_key(13, lse(1, 0, false, 5)));
  CHECK(r.error.empty());
  CHECK(r.actions.n == 2);
}

namespace {

// The recirculation id a translation ended with (0: none).
uint32_t recirc_of(const XlateResult& r) {
  for (unsigned i = 0; i < r.actions.n; i += dp::action_slots(r.actions.acts[i]))
    if (r.actions.acts[i].type == dp::ActType::kRecirc) return r.actions.acts[i].arg32;
  return 0;
}

}  // namespace

TEST_CASE("xlate: after pop_mpls, a lookup recirculates with the action set, metadata and "
          "registers frozen",
          "[ofproto][mpls]") {
  Bridge b = bridge_with({"in_port=1,mpls actions=pop_mpls:0x0800,load:7->NXM_NX_REG0[],"
                          "write_actions(output:3),write_metadata:0x5/0xff,goto_table:1",
                          "table=1,metadata=0x5/0xff,reg0=7,ip,nw_dst=10.0.0.2 actions=set_field:10->ip_dscp",
                          "table=1,priority=0 actions=drop"});
  XlateResult r = run(b, mpls_key(11, lse(1, 0, true, 5)));
  INFO(r.error);
  const uint32_t id = recirc_of(r);
  CHECK(id >= kFrozenRecircBase);
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x0800), dp::act_recirc(id)}));
  CHECK(b.frozen.size() == 1);
  // The second pass: table 1 sees the metadata and reg0; the action set's
  // output runs at the end.
  FlowKey again = eth_key(11, 1, 2);
  again.recirc_id = id;
  r = run(b, again);
  CHECK_ACTS(r, acts({dp::act_set_ipv4_tos(10), dp::act_output(13)}));
  // The same state interns to the same id.
  CHECK(recirc_of(run(b, mpls_key(11, lse(9, 1, true, 5)))) == id);
  CHECK(b.frozen.size() == 1);
}

TEST_CASE("xlate: pop_mpls in a patch port's peer recirculates into the peer's tables",
          "[ofproto][mpls]") {
  Bridge b0 = make_bridge(2), b1 = make_bridge(0, "br1");
  add_bridge_port(b1, 3, 13);
  add_patch(b0, 10, b1, 20);
  add(b0, "in_port=1,mpls actions=output:10,output:2");
  add(b1, "in_port=20,mpls actions=pop_mpls:0x0800,write_actions(output:3),goto_table:1");
  add(b1, "table=1,in_port=20,ip,nw_dst=10.0.0.2 actions=set_field:00:00:00:00:00:33->eth_dst");
  XlateResult r = run(b0, mpls_key(11, lse(1, 0, true, 5)));
  INFO(r.error);
  const uint32_t id = recirc_of(r);
  // The peer's pop and recirculation (a copy: br0 goes on with the packet
  // as the peer left it, as after any patch output).
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x0800), dp::act_recirc(id), dp::act_output(12)}));
  CHECK(b0.frozen.size() == 1);  // the entry bridge's: the second pass enters there
  CHECK(b1.frozen.size() == 0);
  FlowKey again = eth_key(11, 1, 2);
  again.recirc_id = id;
  r = run(b0, again);
  uint8_t mac33[6] = {0, 0, 0, 0, 0, 0x33};
  CHECK_ACTS(r, acts({dp::act_set_eth_dst(mac33), dp::act_output(13)}));
  CHECK(r.rules.size() == 1);  // br1's table 1 only
}

TEST_CASE("xlate: after pop_mpls, a group bucket needing the inner header recirculates its "
          "copy; a bucket's MPLS changes are undone for what follows",
          "[ofproto][mpls]") {
  Bridge b = make_bridge();
  add_group(b, "group_id=1,type=all,bucket=set_field:10.1.1.1->ip_dst,output:2,bucket=output:3");
  add_group(b, "group_id=2,type=indirect,bucket=push_mpls:0x8847,set_field:99->mpls_label,output:2");
  add_group(b, "group_id=3,type=all,bucket=set_field:99->mpls_label,output:2,bucket=output:3");
  add(b, "in_port=1,mpls,mpls_label=5 actions=pop_mpls:0x0800,group:1,output:3");
  add(b, "in_port=1,mpls,mpls_label=6 actions=group:2,set_field:7->mpls_tc,output:3");
  add(b, "in_port=1,mpls,mpls_label=8 actions=group:3,output:3");
  XlateResult r = run(b, mpls_key(11, lse(5, 0, true, 9)));
  INFO(r.error);
  const uint32_t id = recirc_of(r);
  CHECK(id >= kFrozenRecircBase);
  // Bucket 1 froze (its copy recirculates), bucket 2 and the rule go on
  // with the popped packet.
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x0800), dp::act_recirc(id), dp::act_output(13), dp::act_output(13)}));
  FlowKey again = eth_key(11, 1, 2);
  again.recirc_id = id;
  r = run(b, again);
  CHECK_ACTS(r, acts({dp::act_set_ipv4_dst(htonl(0x0a010101)), dp::act_output(12)}));
  // A label pushed in the bucket is popped again for the rule's actions.
  r = run(b, mpls_key(11, lse(6, 1, true, 9)));
  CHECK_ACTS(r, acts({dp::act_push_mpls(0x8847, lse(6, 1, false, 9)),
                      dp::act_set_mpls_lse(lse(99, 0, false, 0), 0xfffff000u), dp::act_output(12),
                      dp::act_pop_mpls(0x8847), dp::act_set_mpls_lse(lse(0, 7, false, 0), 0xe00u),
                      dp::act_output(13)}));
  // A label rewritten in a bucket gets its value back (pinned: the packet's own).
  r = run(b, mpls_key(11, lse(8, 2, true, 9)));
  CHECK_ACTS(r, acts({dp::act_set_mpls_lse(lse(99, 0, false, 0), 0xfffff000u), dp::act_output(12),
                      dp::act_set_mpls_lse(lse(8, 2, true, 9), 0xffffffffu), dp::act_output(13),
                      dp::act_output(13)}));
  CHECK(r.mask.mpls_lse == 0xffffffffu);
  // Nothing after the group: nothing to undo.
  Bridge c = make_bridge();
  add_group(c, "group_id=2,type=indirect,bucket=push_mpls:0x8847,output:2");
  add(c, "in_port=1,mpls actions=group:2");
  r = run(c, mpls_key(11, lse(6, 1, true, 9)));
  CHECK_ACTS(r, acts({dp::act_push_mpls(0x8847, lse(6, 1, false, 9)), dp::act_output(12)}));
}

TEST_CASE("xlate: after pop_mpls of a stacked label, dec_mpls_ttl and push_mpls recirculate "
          "and resume with the rest of the rule",
          "[ofproto][mpls]") {
  Bridge b = bridge_with({"in_port=1,mpls,mpls_bos=0 actions=pop_mpls:0x8847,dec_mpls_ttl,"
                          "write_actions(output:3),goto_table:1",
                          "in_port=2,mpls,mpls_bos=0 actions=pop_mpls:0x8847,push_mpls:0x8847,"
                          "set_field:99->mpls_label,output:3",
                          "table=1,mpls,mpls_label=2 actions=set_field:4->mpls_tc"});
  XlateResult r = run(b, mpls_key(11, lse(1, 0, false, 5)));
  INFO(r.error);
  uint32_t id = recirc_of(r);
  CHECK(id >= kFrozenRecircBase);
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x8847), dp::act_recirc(id)}));
  // The second pass: the label under it, parsed: its TTL decremented, then
  // goto_table:1 and the action set as the frozen rule said.
  FlowKey again = mpls_key(11, lse(2, 0, true, 7));
  again.recirc_id = id;
  r = run(b, again);
  CHECK_ACTS(r, acts({dp::act_set_mpls_lse(lse(0, 4, false, 6), 0xeffu), dp::act_output(13)}));
  CHECK(r.mask.mpls_lse == htonl(0xfffff0ffu));  // the label (table 1) and the TTL (dec_mpls_ttl)
  // Expiring there: to the controller with the frozen rule's table.
  again.mpls_lse = htonl(lse(2, 0, true, 1));
  r = run(b, again);
  REQUIRE(r.controller.size() == 1);
  CHECK(r.controller[0].reason == PacketInReason::kInvalidTtl);
  CHECK(r.controller[0].table_id == 0);
  // push_mpls copies the entry under the popped one: known after the pass.
  r = run(b, mpls_key(12, lse(1, 0, false, 5)));
  id = recirc_of(r);
  CHECK_ACTS(r, acts({dp::act_pop_mpls(0x8847), dp::act_recirc(id)}));
  again = mpls_key(12, lse(2, 3, true, 7));
  again.recirc_id = id;
  r = run(b, again);
  CHECK_ACTS(r, acts({dp::act_push_mpls(0x8847, lse(2, 3, false, 7)),
                      dp::act_set_mpls_lse(lse(99, 0, false, 0), 0xfffff000u), dp::act_output(13)}));
}

TEST_CASE("xlate: a recirculation after pop_mpls that cannot resume fails the translation",
          "[ofproto][mpls]") {
  // In a resubmit: the continuation would have to come back to the caller.
  Bridge b = bridge_with({"in_port=1,mpls actions=pop_mpls:0x8847,resubmit(,1),output:2",
                          "table=1 actions=dec_mpls_ttl"});
  XlateResult r = run(b, mpls_key(11, lse(1, 0, false, 5)));
  CHECK(r.actions.n == 0);
  CHECK(r.error.find("not supported inside a resubmit") != std::string::npos);
}

TEST_CASE("xlate: copy_ttl_out from the IP header pushed onto, copy_ttl_in by the datapath",
          "[ofproto][mpls]") {
  Bridge b = bridge_with({"in_port=1,ip actions=push_mpls:0x8847,set_mpls_ttl:1,copy_ttl_out,output:2",
                          "in_port=2,mpls actions=copy_ttl_in,pop_mpls:0x0800,output:1"});
  FlowKey k = eth_key(11, 1, 2);
  k.nw_ttl = 33;
  XlateResult r = run(b, k);
  CHECK_ACTS(r, acts({dp::act_push_mpls(0x8847, lse(0, 0, true, 33)), dp::act_set_mpls_lse(33, 0xff),
                      dp::act_output(12)}));
  r = run(b, mpls_key(12, lse(1, 0, true, 5)));
  CHECK_ACTS(r, acts({dp::act_copy_ttl_in(), dp::act_pop_mpls(0x0800), dp::act_output(11)}));
}

namespace {

// A PBB frame in on datapath port dp_in: eth_type 0x88e7, its I-SID in
// ipv6_label (flow_key_layout.h), nothing parsed past the I-TAG.
FlowKey pbb_key(uint32_t dp_in, uint32_t isid, uint16_t tci = 0) {
  FlowKey k = mpls_key(dp_in, 0, dps::datapath::kEthTypePbb);
  k.vlan_tci = htons(tci);
  k.ipv6_label = htonl(isid);
  return k;
}

}  // namespace

TEST_CASE("xlate: push_pbb copies the VLAN PCP into the I-TAG, set_field pbb_isid and the addresses go into it",
          "[ofproto][pbb]") {
  Bridge b = bridge_with({"in_port=1,ip actions=push_pbb:0x88e7,set_field:00:00:00:00:00:bb->eth_dst,"
                          "set_field:0x123456->pbb_isid,output:2",
                          "in_port=2,eth_type=0x88e7 actions=push_pbb:0x88e7,output:1",
                          "in_port=3,ip actions=push_pbb:0x88e7,set_field:7->pbb_isid,push_vlan:0x88a8,"
                          "set_field:100->vlan_vid,set_field:00:00:00:00:00:aa->eth_src,output:1",
                          "in_port=4,ip actions=push_pbb:0x88e7,set_field:00:00:00:00:00:aa->eth_src,"
                          "set_field:00:00:00:00:00:bb->eth_dst,output:1"});
  const uint8_t bda[6] = {0, 0, 0, 0, 0, 0xbb};
  const uint8_t bsa[6] = {0, 0, 0, 0, 0, 0xaa};
  // Tagged, PCP 5: I-PCP 5; the address rewrite is the outer (B-DA) one,
  // written by the push itself.
  XlateResult r = run(b, eth_key(11, 1, 2, 0x1000 | 5 << 13 | 7));
  CHECK_ACTS(r, acts({dp::act_push_pbb(5u << 29 | 0x123456, bda), dp::act_output(12)}));
  CHECK(r.mask.vlan_tci == htons(0xf000));  // PCP and "tagged" read, not the VID
  CHECK(r.mask.eth_type == 0xffff);
  CHECK(r.mask.ipv6_label == 0);
  CHECK(r.mask.dl_dst[5] == 0);  // the addresses are written, not read
  r = run(b, eth_key(11, 1, 2));
  CHECK_ACTS(r, acts({dp::act_push_pbb(0x123456, bda), dp::act_output(12)}));
  r = run(b, eth_key(14, 1, 2));
  CHECK_ACTS(r, acts({dp::act_push_pbb(0, bda, bsa), dp::act_output(11)}));
  CHECK(r.mask.dl_src[5] == 0);
  // Onto a PBB frame: the new I-TAG copies its I-SID (pinned).
  r = run(b, pbb_key(12, 0x42));
  CHECK_ACTS(r, acts({dp::act_push_pbb(0x42), dp::act_output(11)}));
  CHECK(r.mask.ipv6_label == htonl(0xffffff));
  // A B-TAG pushed after the I-TAG: untagged outer frame, a new tag.
  r = run(b, eth_key(13, 1, 2, 0x1000 | 9));
  // The address rewrite after the B-TAG's push stays an action of its own.
  CHECK_ACTS(r, acts({dp::act_push_pbb(7), dp::act_push_vlan(0x88a8, 0), dp::act_set_vlan_vid(100),
                      dp::act_set_eth_src(bsa), dp::act_output(11)}));
}

TEST_CASE("xlate: pop_pbb outputs the customer frame; the next table recirculates; readers refuse",
          "[ofproto][pbb]") {
  Bridge b = bridge_with({"in_port=2,eth_type=0x88e7,pbb_isid=0x123456 actions=pop_pbb,output:1",
                          "in_port=3,eth_type=0x88e7 actions=pop_pbb,goto_table:1",
                          "in_port=4,eth_type=0x88e7,pbb_isid=6 actions=pop_pbb,push_vlan:0x8100,output:1",
                          "in_port=4,eth_type=0x88e7,pbb_isid=7 actions=pop_pbb,set_field:00:00:00:00:00:cc->eth_src,output:1",
                          "table=1,ip,nw_dst=10.0.0.2 actions=output:2"});
  XlateResult r = run(b, pbb_key(12, 0x123456, 0x1000 | 30));
  CHECK_ACTS(r, acts({dp::act_pop_pbb(), dp::act_output(11)}));
  CHECK(r.mask.ipv6_label == htonl(0xffffff));
  CHECK(r.mask.eth_type == 0xffff);
  r = run(b, pbb_key(13, 5));
  CHECK_ACTS(r, acts({dp::act_pop_pbb(), dp::act_recirc(mpls_recirc_id(1))}));
  FlowKey again = eth_key(13, 1, 2);
  again.recirc_id = mpls_recirc_id(1);
  CHECK_ACTS(run(b, again), acts({dp::act_output(12)}));
  // The customer frame's tags are not known here.
  r = run(b, pbb_key(14, 6));
  CHECK(r.actions.n == 0);
  CHECK(r.error.find("push_vlan after pop_pbb") != std::string::npos);
  // Its addresses are at fixed offsets: rewritten without reading it.
  const uint8_t csa[6] = {0, 0, 0, 0, 0, 0xcc};
  CHECK_ACTS(run(b, pbb_key(14, 7)), acts({dp::act_pop_pbb(), dp::act_set_eth_src(csa), dp::act_output(11)}));
}

TEST_CASE("xlate: pbb_isid and ipv6_label share key bits, each megaflow pins its eth_type",
          "[ofproto][pbb]") {
  Bridge b = bridge_with({"in_port=3,eth_type=0x86dd,ipv6_label=5 actions=output:1",
                          "in_port=3,eth_type=0x88e7,pbb_isid=5 actions=output:2"});
  FlowKey v6 = eth_key(13, 1, 2);
  v6.eth_type = htons(0x86dd);
  v6.ipv6_label = htonl(5);
  const FlowKey pbb = pbb_key(13, 5);
  XlateResult rv6 = run(b, v6), rpbb = run(b, pbb);
  CHECK_ACTS(rv6, acts({dp::act_output(11)}));
  CHECK_ACTS(rpbb, acts({dp::act_output(12)}));
  for (const XlateResult* r : {&rv6, &rpbb}) CHECK(r->mask.eth_type == 0xffff);
  // Neither megaflow covers the other packet.
  FlowKey a, c;
  dp::flow_key_apply_mask(pbb, rv6.mask, &a);
  dp::flow_key_apply_mask(v6, rv6.mask, &c);
  CHECK_FALSE(dp::flow_key_equal(a, c));
  dp::flow_key_apply_mask(v6, rpbb.mask, &a);
  dp::flow_key_apply_mask(pbb, rpbb.mask, &c);
  CHECK_FALSE(dp::flow_key_equal(a, c));
  // I-SID bits above the flow label's 20 decide too: pinned, not matched.
  XlateResult r = run(b, pbb_key(13, 0x100005));
  CHECK(r.actions.n == 0);
  CHECK(r.mask.ipv6_label == htonl(0xffffff));
  // The PBB megaflow reads back as pbb_isid, the IPv6 one as ipv6_label.
  CHECK(OfMatch::from_flow(pbb, rpbb.mask).to_string().find("pbb_isid=0x5") != std::string::npos);
  CHECK(OfMatch::from_flow(v6, rv6.mask).to_string().find("ipv6_label=0x5") != std::string::npos);
}
