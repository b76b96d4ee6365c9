// revalidator_test.cc - keeping megaflows true to the rules over a fake
// datapath (no EAL). Coverage goal: each kind of change reaches exactly the
// megaflows it may affect (modify, delete, add overlapping / not
// overlapping / lower priority, group change, MAC move and expiry), each
// verdict (keep, modify, delete when the new translation needs a finer
// mask), the barrier after datapath changes, counter roll-up into rules,
// idle expiry on an injected clock, MAC entries kept alive by traffic, and
// rule timeouts removing their megaflows.
#include <catch2/catch.hpp>

#include "flow_parser.h"
#include "ofproto_rig.h"
#include "packet_builder.h"

using namespace dps;
using namespace dps::ofproto;

namespace {

using Rig = test::OfprotoRig;

std::vector<uint8_t> udp(const char* src_ip, const char* dst_ip, uint16_t dport = 80,
                         const char* src_mac = "02:00:00:00:00:01",
                         const char* dst_mac = "02:00:00:00:00:02") {
  return test::udp_frame({src_mac, dst_mac, src_ip, dst_ip, 1000, dport});
}

}  // namespace

TEST_CASE("modifying a rule modifies its megaflows and waits for the datapath",
          "[ofproto][revalidator]") {
  Rig r;
  r.rules("priority=10,ip,nw_dst=10.0.0.0/8,actions=output:2\npriority=0,actions=drop");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.0.0.1"));
  uint64_t b = r.miss(1, udp("1.1.1.1", "20.0.0.1"));  // the drop rule
  unsigned barriers = r.dp->barriers;
  REQUIRE_FALSE(r.ofp->mod_flows("ip,nw_dst=10.0.0.0/8,actions=output:3"));
  CHECK(r.actions(a) == "output:3");
  CHECK(r.actions(b) == "drop");
  CHECK(r.dp->modifies == std::vector<uint64_t>{a});  // only the megaflow that used the rule
  CHECK(r.dp->barriers == barriers + 1);
  // A change that changes nothing in the datapath needs no barrier.
  REQUIRE_FALSE(r.ofp->mod_flows("ip,nw_dst=10.0.0.0/8,actions=output:3"));
  CHECK(r.dp->barriers == barriers + 1);
  CHECK(r.ofp->stats().revalidator.revalidated == 2);
}

TEST_CASE("deleting a rule re-translates its megaflows", "[ofproto][revalidator]") {
  Rig r;
  r.rules("priority=10,ip,nw_dst=10.0.0.0/8,actions=output:2\npriority=0,actions=output:3");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.0.0.1"));
  REQUIRE_FALSE(r.ofp->del_flows("priority=10,ip,nw_dst=10.0.0.0/8", true));
  // The remaining rule looks at less: the megaflow stays, with its actions.
  REQUIRE(r.installed(a));
  CHECK(r.actions(a) == "output:3");
}

TEST_CASE("an added rule affects only the megaflows it overlaps with a higher priority",
          "[ofproto][revalidator]") {
  Rig r;
  r.rules("priority=10,ip,nw_dst=10.0.0.0/8,actions=output:2\npriority=0,actions=drop");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.0.0.1"));
  uint64_t reval = r.ofp->stats().revalidator.revalidated;

  // Disjoint (nw_dst 11/8 vs the megaflow's 10/8): nothing to do.
  r.rules("priority=20,ip,nw_dst=11.0.0.0/8,actions=output:3");
  CHECK(r.ofp->stats().revalidator.revalidated == reval);
  // Lower priority than the rule the megaflow matched: nothing to do.
  r.rules("priority=5,udp,nw_dst=10.0.0.0/8,actions=output:3");
  CHECK(r.ofp->stats().revalidator.revalidated == reval);
  CHECK(r.installed(a));

  // Overlapping, higher priority, over a field the megaflow ignores
  // (tp_dst): the megaflow is too wide for the new decision -> deleted.
  r.rules("priority=30,udp,nw_dst=10.0.0.0/8,tp_dst=80,actions=output:3");
  CHECK(r.ofp->stats().revalidator.revalidated == reval + 1);
  CHECK_FALSE(r.installed(a));
  CHECK(r.ofp->ukeys().size() == 0);
  // The next miss gets a megaflow with the finer mask.
  uint64_t a2 = r.miss(1, udp("1.1.1.1", "10.0.0.1", 80));
  CHECK(r.actions(a2) == "output:3");
  CHECK(r.dp->flows.at(a2).spec.mask.tp_dst == 0xffff);
}

TEST_CASE("an added rule inside the megaflow's own mask modifies it", "[ofproto][revalidator]") {
  Rig r;
  r.rules("priority=10,ip,nw_dst=10.0.0.0/8,actions=output:2\n"
          "priority=15,ip,nw_dst=10.1.0.0/16,actions=output:2\npriority=0,actions=drop");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.1.0.1"));
  // Its mask already has nw_dst/16: a higher-priority /16 rule needs no more bits.
  r.rules("priority=20,ip,nw_dst=10.1.0.0/16,actions=output:3");
  REQUIRE(r.installed(a));
  CHECK(r.actions(a) == "output:3");
}

TEST_CASE("a group change re-translates the megaflows that executed it", "[ofproto][revalidator]") {
  Rig r;
  REQUIRE_FALSE(r.ofp->add_group("group_id=1,type=all,bucket=actions=output:2"));
  r.rules("priority=10,ip,actions=group:1");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.0.0.1"));
  CHECK(r.actions(a) == "output:2");
  GroupMod gm;
  REQUIRE_FALSE(parse_group("group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3", &gm));
  gm.command = GroupModCommand::kModify;
  REQUIRE_FALSE(r.ofp->group_mod(gm));
  CHECK(r.actions(a) == "output:2,output:3");
}

TEST_CASE("a MAC move re-translates the megaflows that forwarded to the old port",
          "[ofproto][revalidator][normal]") {
  OfprotoConfig cfg;
  cfg.flow_idle_ms = int64_t{1} << 40;  // only the MAC table ages here
  Rig r(cfg);
  r.rules("priority=0,actions=NORMAL");
  const char* A = "02:00:00:00:00:0a";
  const char* B = "02:00:00:00:00:0b";
  r.miss(2, udp("10.0.0.2", "10.0.0.1", 80, B, A));          // B learned on port 2
  uint64_t ab = r.miss(1, udp("10.0.0.1", "10.0.0.2", 80, A, B));
  CHECK(r.actions(ab) == "output:2");
  r.miss(3, udp("10.0.0.2", "10.0.0.9", 80, B, "02:00:00:00:00:0c"));  // B moves to port 3
  CHECK(r.actions(ab) == "output:3");
  // B ages out: A->B floods again.
  r.now += kMacDefaultIdleMs + 1000;
  r.ofp->run();  // timer: MAC expiry
  r.ofp->run();  // the change is handled
  REQUIRE(r.installed(ab));
  CHECK(r.actions(ab) == "output:2,output:3");
}

TEST_CASE("traffic on a megaflow keeps its source MAC learned", "[ofproto][revalidator][normal]") {
  OfprotoConfig cfg;
  cfg.mac_idle_ms = 5000;
  cfg.flow_idle_ms = 60000;
  Rig r(cfg);
  r.rules("priority=0,actions=NORMAL");
  const char* A = "02:00:00:00:00:0a";
  const char* B = "02:00:00:00:00:0b";
  uint64_t ab = r.miss(1, udp("10.0.0.1", "10.0.0.2", 80, A, B));
  for (int s = 1; s <= 4; s++) {
    r.now += 2000;
    r.dp->flows.at(ab).stats.packets += 100;  // the PMD forwards A's packets
    for (int k = 0; k < 3; k++) r.ofp->run();
  }
  // 8 s after learning, beyond the 5 s MAC idle time: still learned.
  CHECK(r.ofp->fdb_show().find(A) != std::string::npos);
  // Without traffic it goes.
  r.now += 6000;
  for (int k = 0; k < 3; k++) r.ofp->run();
  CHECK(r.ofp->fdb_show().find(A) == std::string::npos);
}

TEST_CASE("megaflow counters roll up into the rules; idle megaflows expire",
          "[ofproto][revalidator]") {
  OfprotoConfig cfg;
  cfg.flow_idle_ms = 1000;
  Rig r(cfg);
  r.rules("priority=10,ip,nw_dst=10.0.0.0/8,actions=output:2");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.0.0.1"));  // 1 packet counted at the miss
  r.dp->flows.at(a).stats.packets = 41;
  r.dp->flows.at(a).stats.bytes = 41 * 64;
  r.now += 600;
  r.ofp->run();
  CHECK(r.ofp->dump_flows().find("n_packets=42") != std::string::npos);
  // Used at +600: still there at +1400.
  r.now += 800;
  r.ofp->run();
  CHECK(r.installed(a));
  // Idle for 1 s: removed.
  r.now += 300;
  r.ofp->run();
  CHECK_FALSE(r.installed(a));
  CHECK(r.ofp->ukeys().size() == 0);
  CHECK(r.ofp->stats().revalidator.idle_expired == 1);
}

TEST_CASE("a rule's hard timeout removes it and re-translates its megaflows",
          "[ofproto][revalidator]") {
  Rig r;
  r.rules("priority=10,hard_timeout=2,ip,actions=output:2\npriority=0,actions=output:3");
  uint64_t a = r.miss(1, udp("1.1.1.1", "10.0.0.1"));
  CHECK(r.actions(a) == "output:2");
  r.now += 2500;
  r.dp->flows.at(a).stats.packets = 5;  // in use: not idle
  r.ofp->run();
  REQUIRE(r.installed(a));
  CHECK(r.actions(a) == "output:3");
  auto removed = r.ofp->take_removed_rules(10);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].reason == RemovedReason::kHardTimeout);
}

TEST_CASE("rules from text: errors name the line and change nothing", "[ofproto]") {
  Rig r;
  r.rules("priority=1,actions=output:2");
  MaybeError e = r.ofp->add_flows("priority=5,ip,actions=output:3\npriority=6,tp_dst=80,actions=drop");
  REQUIRE(e);
  CHECK(e->message.find("line 2") != std::string::npos);
  CHECK(r.ofp->stats().rules == 1);
  e = r.ofp->load_rules_file("/nonexistent/rules.flows");
  REQUIRE(e);
  CHECK(e->message.find("/nonexistent/rules.flows") != std::string::npos);
}
