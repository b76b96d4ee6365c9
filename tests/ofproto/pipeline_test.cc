// pipeline_test.cc - flow-mod and group-mod semantics over 255 tables:
// add/replace/overlap/table-full, modify and delete (strict and not) with
// cookie masks and out_port/out_group filters, timeouts on an injected
// clock, counters, instruction validation, groups (errors, chaining,
// loops, select stability, fast-failover liveness, delete cascades).
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <set>

#include "flow_parser.h"
#include "pipeline.h"

using namespace dps::ofproto;

namespace {

FlowMod fm(const std::string& text, FlowParseMode mode = FlowParseMode::kAdd, bool strict = false) {
  FlowMod f;
  MaybeError e = parse_flow(text, &f, mode, strict);
  INFO(text << " -> " << (e ? e->message : ""));
  REQUIRE_FALSE(e);
  return f;
}

GroupMod gm(const std::string& text) {
  GroupMod g;
  MaybeError e = parse_group(text, &g);
  INFO(text << " -> " << (e ? e->message : ""));
  REQUIRE_FALSE(e);
  return g;
}

GroupMod modify(GroupMod g) {
  g.command = GroupModCommand::kModify;
  return g;
}

void expect_group_error(Pipeline& p, const GroupMod& g, GroupModFailedCode code) {
  MaybeError e = p.group_mod(g, 0);
  INFO("group " << g.group_id);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kGroupModFailed);
  CHECK(e->code == static_cast<uint16_t>(code));
}

OfKey ip_key(uint32_t in_port, uint32_t dst) {
  OfKey k;
  k.flow.in_port = in_port;
  k.flow.eth_type = htons(0x0800);
  k.flow.nw_dst = htonl(dst);
  return k;
}

}  // namespace

TEST_CASE("pipeline: add, replace identical, overlap check, table full", "[ofproto]") {
  Pipeline p;
  FlowModResult res;
  REQUIRE_FALSE(p.flow_mod(fm("priority=10,ip,nw_dst=10.0.0.0/8 actions=output:1"), 0, &res));
  REQUIRE(res.added.size() == 1);
  RulePtr first = res.added[0];
  first->account(5, 500, 10);
  uint64_t v = p.version();

  // Identical match+priority replaces, counters kept.
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("priority=10,ip,nw_dst=10.0.0.0/8 actions=output:2"), 20, &res));
  REQUIRE(res.removed.size() == 1);
  CHECK(res.removed[0].rule == first);
  CHECK_FALSE(first->live);
  RulePtr second = res.added.at(0);
  CHECK(second->packet_count == 5);
  CHECK(p.table(0).size() == 1);
  CHECK(p.version() > v);
  // ... and reset_counts clears them.
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("priority=10,reset_counts,ip,nw_dst=10.0.0.0/8 actions=output:2"), 30, &res));
  CHECK(res.added.at(0)->packet_count == 0);

  // Overlap: same priority, intersecting match.
  auto e = p.flow_mod(fm("priority=10,check_overlap,ip,nw_dst=10.1.0.0/16 actions=drop"), 40);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kFlowModFailed);
  CHECK(e->code == static_cast<uint16_t>(FlowModFailedCode::kOverlap));
  CHECK(p.table(0).size() == 1);
  CHECK_FALSE(p.flow_mod(fm("priority=11,check_overlap,ip,nw_dst=10.1.0.0/16 actions=drop"), 40));
  CHECK_FALSE(p.flow_mod(fm("priority=10,check_overlap,ip,nw_dst=11.0.0.0/8 actions=drop"), 40));

  p.table(3).max_rules = 1;
  REQUIRE_FALSE(p.flow_mod(fm("table=3,ip actions=drop"), 0));
  e = p.flow_mod(fm("table=3,arp actions=drop"), 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(FlowModFailedCode::kTableFull));
  // Replacing an identical rule in a full table is fine.
  CHECK_FALSE(p.flow_mod(fm("table=3,ip actions=output:3"), 0));

  FlowMod all = fm("ip actions=drop");
  all.table_id = kTableAll;
  e = p.flow_mod(all, 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(FlowModFailedCode::kBadTableId));
}

TEST_CASE("pipeline: validation errors change nothing", "[ofproto]") {
  Pipeline p;
  FlowMod bad = fm("table=2,ip actions=goto_table:3");
  bad.instructions.goto_table = 1;
  auto e = p.flow_mod(bad, 0);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadInstruction);
  CHECK(e->code == static_cast<uint16_t>(BadInstructionCode::kBadTableId));
  CHECK(e->message.find("table 2") != std::string::npos);

  e = p.flow_mod(fm("ip actions=group:7"), 0);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadAction);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadOutGroup));
  CHECK(e->message.find("group 7 does not exist") != std::string::npos);

  // Prerequisites of a set_field.
  FlowMod sf = fm("ip actions=output:1");
  sf.instructions.apply->push_back(ActSetField{OxmField::kTcpDst, FieldValue::from_u64(80, 2)});
  e = p.flow_mod(sf, 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kMatchInconsistent));
  CHECK(e->message.find("tcp_dst") != std::string::npos);

  p.validation().port_exists = [](uint32_t port) { return port <= 4; };
  e = p.flow_mod(fm("actions=output:9"), 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadOutPort));
  CHECK_FALSE(p.flow_mod(fm("actions=output:4,NORMAL,CONTROLLER:64"), 0));

  FlowMod prereq = fm("ip actions=drop");
  REQUIRE_FALSE(prereq.match.set_u64(OxmField::kUdpDst, 53));
  e = p.flow_mod(prereq, 0);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadMatch);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadPrereq));
  CHECK(p.rule_count() == 1);
}

TEST_CASE("pipeline: modify and delete semantics", "[ofproto]") {
  Pipeline p;
  REQUIRE_FALSE(p.flow_mod(fm("cookie=0x11,priority=10,ip,nw_dst=10.0.0.1 actions=output:1"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("cookie=0x12,priority=20,ip,nw_dst=10.0.0.2 actions=output:2"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("cookie=0x21,priority=10,ip actions=output:3"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("table=1,cookie=0x11,priority=10,arp actions=output:1"), 0));

  // Non-strict modify with a cookie mask: rules under "ip" with cookie 0x1X.
  FlowModResult res;
  REQUIRE_FALSE(p.flow_mod(fm("table=0,cookie=0x10/0xf0,ip actions=output:9", FlowParseMode::kModify), 5, &res));
  CHECK(res.modified.size() == 2);
  for (const RulePtr& r : res.modified) {
    CHECK(r->instructions.outputs_to_port(9));
    CHECK(r->cookie != 0x21);
    CHECK((r->cookie == 0x11 || r->cookie == 0x12));  // cookie unchanged by modify
  }
  // Strict modify needs the exact match and priority.
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("priority=10,ip actions=output:8", FlowParseMode::kModify, true), 5, &res));
  REQUIRE(res.modified.size() == 1);
  CHECK(res.modified[0]->cookie == 0x21);
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("priority=11,ip actions=output:8", FlowParseMode::kModify, true), 5, &res));
  CHECK(res.modified.empty());  // OpenFlow 1.3: modify never adds

  // Delete with out_port filter across all tables.
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("out_port=1", FlowParseMode::kDelete), 6, &res));
  REQUIRE(res.removed.size() == 1);
  CHECK(res.removed[0].rule->table_id == 1);
  CHECK(res.removed[0].reason == RemovedReason::kDelete);
  // Strict delete: only the exact rule.
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("priority=20,ip,nw_dst=10.0.0.2", FlowParseMode::kDelete, true), 6, &res));
  REQUIRE(res.removed.size() == 1);
  CHECK(res.removed[0].rule->cookie == 0x12);
  // Non-strict delete of everything under ip in table 0.
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("table=0,ip", FlowParseMode::kDelete), 6, &res));
  CHECK(res.removed.size() == 2);
  CHECK(p.rule_count() == 0);
}

TEST_CASE("pipeline: idle and hard timeouts on an injected clock", "[ofproto]") {
  Pipeline p;
  FlowModResult res;
  REQUIRE_FALSE(p.flow_mod(fm("idle_timeout=10,ip actions=drop"), 1000, &res));
  RulePtr idle = res.added.at(0);
  res = {};
  REQUIRE_FALSE(p.flow_mod(fm("hard_timeout=30,idle_timeout=15,arp actions=drop"), 1000, &res));
  RulePtr hard = res.added.at(0);
  REQUIRE_FALSE(p.flow_mod(fm("ipv6 actions=drop"), 1000));

  CHECK(p.expire(10'999).empty());
  idle->account(1, 60, 9'000);  // traffic keeps it alive
  hard->account(1, 60, 9'000);
  CHECK(p.expire(11'000).empty());
  for (int64_t t = 12'000; t < 31'000; t += 1000) hard->account(1, 60, t);
  auto gone = p.expire(19'000);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].rule == idle);
  CHECK(gone[0].reason == RemovedReason::kIdleTimeout);
  CHECK_FALSE(idle->live);
  gone = p.expire(31'000);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].rule == hard);
  CHECK(gone[0].reason == RemovedReason::kHardTimeout);
  CHECK(hard->packet_count == 20);
  CHECK(p.rule_count() == 1);
  CHECK(p.expire(1'000'000'000).empty());
}

TEST_CASE("pipeline: lookups through tables", "[ofproto]") {
  Pipeline p;
  REQUIRE_FALSE(p.flow_mod(fm("priority=0 actions=CONTROLLER"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("priority=100,in_port=1,ip actions=goto_table:5"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("table=5,ip,nw_dst=10.0.0.0/8 actions=output:2"), 0));
  OfMask wc;
  Rule* r = p.table(0).lookup(ip_key(1, 0x0a000001), &wc);
  REQUIRE(r);
  REQUIRE(r->instructions.goto_table);
  CHECK(*r->instructions.goto_table == 5);
  r = p.table(5).lookup(ip_key(1, 0x0a000001), &wc);
  REQUIRE(r);
  CHECK(r->instructions.outputs_to_port(2));
  CHECK(p.table(5).lookup(ip_key(1, 0x0b000001), &wc) == nullptr);  // table miss
  r = p.table(0).lookup(ip_key(2, 0x0a000001), &wc);
  REQUIRE(r);
  CHECK(r->instructions.outputs_to_port(kPortController));
}

TEST_CASE("groups: errors, chaining, loops, delete cascades to rules", "[ofproto]") {
  Pipeline p;
  REQUIRE_FALSE(p.group_mod(gm("group_id=1,type=all,bucket=output:1,bucket=output:2"), 0));
  expect_group_error(p, gm("group_id=1,type=all,bucket=output:3"), GroupModFailedCode::kGroupExists);
  expect_group_error(p, modify(gm("group_id=9,type=all,bucket=output:3")),
                     GroupModFailedCode::kUnknownGroup);
  expect_group_error(p, gm("group_id=2,type=indirect,bucket=output:1,bucket=output:2"),
                     GroupModFailedCode::kInvalidGroup);
  expect_group_error(p, gm("group_id=2,type=ff,bucket=output:1"), GroupModFailedCode::kBadWatch);
  expect_group_error(p, gm("group_id=2,type=all,bucket=weight:5,actions=output:1"),
                     GroupModFailedCode::kWeightUnsupported);
  expect_group_error(p, gm("group_id=2,type=all,bucket=group:77"), GroupModFailedCode::kUnknownGroup);

  // Chain 2 -> 1, then try 1 -> 2 (loop) and self-reference.
  REQUIRE_FALSE(p.group_mod(gm("group_id=2,type=indirect,bucket=group:1"), 0));
  expect_group_error(p, modify(gm("group_id=1,type=all,bucket=group:2")), GroupModFailedCode::kLoop);
  expect_group_error(p, gm("group_id=3,type=all,bucket=group:3"), GroupModFailedCode::kLoop);
  // Group 1 cannot go while group 2 forwards to it.
  GroupMod del;
  del.command = GroupModCommand::kDelete;
  del.group_id = 1;
  expect_group_error(p, del, GroupModFailedCode::kChainedGroup);

  REQUIRE_FALSE(p.flow_mod(fm("ip actions=group:2"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("arp actions=write_actions(group:2)"), 0));
  REQUIRE_FALSE(p.flow_mod(fm("ipv6 actions=group:1"), 0));
  CHECK(p.rule_count() == 3);
  // out_group filter.
  FlowModResult res;
  REQUIRE_FALSE(p.flow_mod(fm("out_group=1", FlowParseMode::kDelete), 0, &res));
  CHECK(res.removed.size() == 1);
  // Deleting group 2 removes the rules that use it.
  res = {};
  del.group_id = 2;
  REQUIRE_FALSE(p.group_mod(del, 0, &res));
  CHECK(res.removed.size() == 2);
  for (const auto& x : res.removed) CHECK(x.reason == RemovedReason::kGroupDelete);
  CHECK(p.rule_count() == 0);
  del.group_id = kGroupAll;
  REQUIRE_FALSE(p.group_mod(del, 0));
  CHECK(p.groups().size() == 0);
}

TEST_CASE("groups: select is stable and weighted, fast-failover follows liveness", "[ofproto]") {
  GroupTable g;
  REQUIRE_FALSE(g.apply(gm("group_id=1,type=select,bucket=weight:1,actions=output:1,"
                           "bucket=weight:3,actions=output:2,bucket=weight:0,actions=output:3"),
                        0));
  const Group* sel = g.find(1);
  REQUIRE(sel);
  int counts[3] = {0, 0, 0};
  for (uint32_t i = 0; i < 4000; i++) {
    uint32_t h = i * 2654435761u;
    int b = g.select_bucket(*sel, h);
    REQUIRE(b >= 0);
    counts[b]++;
    CHECK(g.select_bucket(*sel, h) == b);  // stable
  }
  CHECK(counts[2] == 0);
  CHECK(counts[1] > 2 * counts[0]);
  CHECK(counts[0] > 500);

  REQUIRE_FALSE(g.apply(gm("group_id=2,type=ff,bucket=watch_port:1,actions=output:1,"
                           "bucket=watch_port:2,actions=output:2"),
                        0));
  const Group* ff = g.find(2);
  std::set<uint32_t> down;
  g.port_live = [&](uint32_t port) { return !down.count(port); };
  CHECK(g.first_live_bucket(*ff) == 0);
  down.insert(1);
  CHECK(g.first_live_bucket(*ff) == 1);
  down.insert(2);
  CHECK(g.first_live_bucket(*ff) == -1);
  // Select skips dead buckets.
  down = {2};
  for (uint32_t i = 0; i < 100; i++) CHECK(g.select_bucket(*sel, i * 977u) == 0);
}

TEST_CASE("a rule's flow-stats entry and flow-removed message describe it alike", "[ofproto]") {
  Rule r;
  r.table_id = 3;
  r.priority = 70;
  r.match = fm("priority=70,in_port=1,actions=drop").match;
  r.cookie = 0xc0ffee;
  r.idle_timeout = 10;
  r.hard_timeout = 20;
  r.flags = kFlagSendFlowRem;
  r.created_ms = 1000;
  r.packet_count = 5;
  r.byte_count = 320;
  const FlowStats s = rule_flow_stats(r, 3250);
  CHECK(s.table_id == 3);
  CHECK(s.duration_sec == 2);
  CHECK(s.duration_nsec == 250000000u);
  CHECK(s.flags == kFlagSendFlowRem);
  const FlowRemoved fr = rule_flow_removed(r, RemovedReason::kIdleTimeout, 3250);
  CHECK(fr.reason == RemovedReason::kIdleTimeout);
  CHECK(fr.table_id == s.table_id);
  CHECK(fr.duration_sec == s.duration_sec);
  CHECK(fr.duration_nsec == s.duration_nsec);
  CHECK(fr.priority == 70);
  CHECK(fr.cookie == 0xc0ffee);
  CHECK(fr.idle_timeout == 10);
  CHECK(fr.hard_timeout == 20);
  CHECK(fr.packet_count == 5);
  CHECK(fr.byte_count == 320);
  CHECK(fr.match == r.match);
  // A clock behind the rule's creation reads as age 0.
  CHECK(rule_flow_stats(r, 500).duration_sec == 0);
  CHECK(rule_flow_stats(r, 500).duration_nsec == 0);
}
