// meter_table_test.cc - OpenFlow meters above the datapath (no EAL).
// Coverage goal: METER_MOD add / modify / delete (incl. OFPM_ALL) and the
// datapath ids they use; every meter_mod_failed code the table produces,
// each leaving the table unchanged; METER_FEATURES; the DpMeterConfig
// conversion; the ovs-ofctl text forms; flow-mods naming unknown meters;
// deleting a meter deleting its rules; translation emitting the datapath
// meter action where the meter instruction runs; and the Ofproto facade
// over a fake datapath (datapath calls, statistics, config, dumps).
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "bridge_fixtures.h"
#include "flow_parser.h"
#include "meter_table.h"
#include "ofproto.h"
#include "ofproto_rig.h"
#include "packet_builder.h"
#include "xlate.h"

using namespace dps;
using namespace dps::ofproto;

namespace {

MeterBand drop(uint32_t rate, uint32_t burst = 0) {
  MeterBand b;
  b.type = MeterBandType::kDrop;
  b.rate = rate;
  b.burst_size = burst;
  return b;
}

MeterBand remark(uint32_t rate, uint8_t prec, uint32_t burst = 0) {
  MeterBand b = drop(rate, burst);
  b.type = MeterBandType::kDscpRemark;
  b.prec_level = prec;
  return b;
}

MeterMod mod(MeterModCommand cmd, uint32_t id, uint16_t flags = kMeterFlagKbps,
             std::vector<MeterBand> bands = {drop(1000)}) {
  MeterMod mm;
  mm.command = cmd;
  mm.meter_id = id;
  mm.flags = flags;
  mm.bands = std::move(bands);
  return mm;
}
MeterMod add(uint32_t id, uint16_t flags = kMeterFlagKbps, std::vector<MeterBand> bands = {drop(1000)}) {
  return mod(MeterModCommand::kAdd, id, flags, std::move(bands));
}

std::string err_name(const MaybeError& e) { return e ? of_error_name(e->type, e->code) : "ok"; }

}  // namespace

TEST_CASE("meter-mod add, modify and delete, with datapath ids", "[ofproto][meter]") {
  MeterTable t;
  MeterModResult r1;
  REQUIRE_FALSE(t.apply(add(10), 5, &r1));
  REQUIRE(r1.set.size() == 1);
  CHECK(r1.set[0].id == 10);
  CHECK(r1.set[0].dp_id == 0);
  CHECK(r1.set[0].created_ms == 5);
  REQUIRE_FALSE(t.apply(add(kMeterMax, kMeterFlagPktps), 6));
  CHECK(t.find(kMeterMax)->dp_id == 1);
  CHECK(t.size() == 2);

  // Modify: new flags and bands, same datapath id and creation time.
  MeterModResult r2;
  REQUIRE_FALSE(t.apply(mod(MeterModCommand::kModify, 10, kMeterFlagPktps | kMeterFlagBurst,
                            {drop(50, 10), remark(20, 1, 5)}), 9, &r2));
  REQUIRE(r2.set.size() == 1);
  const Meter* m = t.find(10);
  REQUIRE(m);
  CHECK(m->flags == (kMeterFlagPktps | kMeterFlagBurst));
  CHECK(m->bands.size() == 2);
  CHECK(m->dp_id == 0);
  CHECK(m->created_ms == 5);

  // Delete frees the datapath id for the next add.
  MeterModResult r3;
  REQUIRE_FALSE(t.apply(mod(MeterModCommand::kDelete, 10), 10, &r3));
  REQUIRE(r3.deleted.size() == 1);
  CHECK(r3.deleted[0].dp_id == 0);
  CHECK_FALSE(t.contains(10));
  REQUIRE_FALSE(t.apply(add(11), 11));
  CHECK(t.find(11)->dp_id == 0);

  // Deleting an unknown meter is not an error and deletes nothing.
  MeterModResult r4;
  REQUIRE_FALSE(t.apply(mod(MeterModCommand::kDelete, 12345), 12, &r4));
  CHECK(r4.deleted.empty());
  CHECK(t.size() == 2);

  // OFPM_ALL deletes every meter.
  MeterModResult r5;
  REQUIRE_FALSE(t.apply(mod(MeterModCommand::kDelete, kMeterAll), 13, &r5));
  CHECK(r5.deleted.size() == 2);
  CHECK(t.size() == 0);
}

TEST_CASE("every meter-mod error, changing nothing", "[ofproto][meter]") {
  struct Case {
    const char* what;
    MeterMod mm;
    MeterModFailedCode code;
  };
  MeterMod bad_cmd = add(1);
  bad_cmd.command = static_cast<MeterModCommand>(3);
  std::vector<MeterBand> nine(9, drop(10));
  MeterBand exp = drop(10);
  exp.type = MeterBandType::kExperimenter;
  const uint16_t kbps = kMeterFlagKbps, pktps = kMeterFlagPktps, burst = kMeterFlagBurst;
  const std::vector<Case> cases = {
      {"unknown command", bad_cmd, MeterModFailedCode::kBadCommand},
      {"add id 0", add(0), MeterModFailedCode::kInvalidMeter},
      {"add above OFPM_MAX", add(kMeterMax + 1), MeterModFailedCode::kInvalidMeter},
      {"add OFPM_SLOWPATH", add(kMeterSlowpath), MeterModFailedCode::kInvalidMeter},
      {"add OFPM_CONTROLLER", add(kMeterController), MeterModFailedCode::kInvalidMeter},
      {"add OFPM_ALL", add(kMeterAll), MeterModFailedCode::kInvalidMeter},
      {"modify OFPM_ALL", mod(MeterModCommand::kModify, kMeterAll), MeterModFailedCode::kInvalidMeter},
      {"delete id 0", mod(MeterModCommand::kDelete, 0), MeterModFailedCode::kInvalidMeter},
      {"delete OFPM_CONTROLLER", mod(MeterModCommand::kDelete, kMeterController),
       MeterModFailedCode::kInvalidMeter},
      {"add an existing meter", add(1), MeterModFailedCode::kMeterExists},
      {"modify an unknown meter", mod(MeterModCommand::kModify, 99), MeterModFailedCode::kUnknownMeter},
      {"kbps and pktps", add(5, kbps | pktps), MeterModFailedCode::kBadFlags},
      {"neither kbps nor pktps", add(5, burst), MeterModFailedCode::kBadFlags},
      {"unknown flag bit", add(5, kbps | 0x10), MeterModFailedCode::kBadFlags},
      {"modify with bad flags", mod(MeterModCommand::kModify, 1, 0), MeterModFailedCode::kBadFlags},
      {"rate 0", add(5, kbps, {drop(100), drop(0)}), MeterModFailedCode::kBadRate},
      {"burst flag, burst_size 0", add(5, pktps | burst, {drop(100, 0)}), MeterModFailedCode::kBadBurst},
      {"kbps burst below one frame", add(5, kbps | burst, {drop(100, 5)}), MeterModFailedCode::kBadBurst},
      {"experimenter band", add(5, kbps, {exp}), MeterModFailedCode::kBadBand},
      {"dscp_remark prec_level 0", add(5, kbps, {remark(100, 0)}), MeterModFailedCode::kBadBandValue},
      {"dscp_remark prec_level 4", add(5, kbps, {remark(100, 4)}), MeterModFailedCode::kBadBandValue},
      {"nine bands", add(5, kbps, nine), MeterModFailedCode::kOutOfBands},
  };
  for (const Case& c : cases) {
    MeterTable t;
    REQUIRE_FALSE(t.apply(add(1, kMeterFlagPktps, {drop(7)}), 0));
    MeterModResult res;
    MaybeError e = t.apply(c.mm, 1, &res);
    INFO(c.what << ": " << err_name(e) << (e ? " (" + e->message + ")" : ""));
    REQUIRE(e);
    CHECK(e->type == OfErrorType::kMeterModFailed);
    CHECK(e->code == static_cast<uint16_t>(c.code));
    CHECK_FALSE(e->message.empty());
    // Nothing changed.
    CHECK(t.size() == 1);
    CHECK(t.find(1)->flags == kMeterFlagPktps);
    CHECK(t.find(1)->bands == std::vector<MeterBand>{drop(7)});
    CHECK(res.set.empty());
    CHECK(res.deleted.empty());
  }

  // Out of meters: a full table refuses adds, still accepts modifies.
  MeterTable t;
  t.max_meters = 2;
  REQUIRE_FALSE(t.apply(add(1), 0));
  REQUIRE_FALSE(t.apply(add(2), 0));
  MaybeError e = t.apply(add(3), 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(MeterModFailedCode::kOutOfMeters));
  CHECK(t.size() == 2);
  CHECK_FALSE(t.apply(mod(MeterModCommand::kModify, 2, kMeterFlagKbps, {drop(5)}), 0));
  // Eight bands, burst at the smallest allowed: accepted.
  CHECK_FALSE(t.apply(mod(MeterModCommand::kModify, 1, kMeterFlagKbps | kMeterFlagBurst,
                          std::vector<MeterBand>(8, drop(10, 13))), 0));
}

TEST_CASE("meter features and the datapath configuration", "[ofproto][meter]") {
  MeterFeaturesReply f = MeterTable::features();
  CHECK(f.max_meter == datapath::kMaxMeters);
  CHECK(f.band_types == ((1u << 1) | (1u << 2)));  // OFPMBT_DROP, OFPMBT_DSCP_REMARK
  CHECK(f.capabilities == (kMeterFlagKbps | kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats));
  CHECK(f.max_bands == datapath::kMaxMeterBands);

  Meter m;
  m.id = 4;
  m.flags = kMeterFlagPktps | kMeterFlagBurst;
  m.bands = {drop(100, 20), remark(50, 2, 10)};
  datapath::DpMeterConfig c = MeterTable::to_dp(m);
  CHECK(c.pktps);
  REQUIRE(c.bands.size() == 2);
  CHECK(c.bands[0].kind == datapath::MeterBandKind::kDrop);
  CHECK(c.bands[0].rate == 100);
  CHECK(c.bands[0].burst == 20);
  CHECK(c.bands[1].kind == datapath::MeterBandKind::kDscpRemark);
  CHECK(c.bands[1].prec_level == 2);
  // burst_size counts only with the BURST flag.
  m.flags = kMeterFlagKbps;
  c = MeterTable::to_dp(m);
  CHECK_FALSE(c.pktps);
  CHECK(c.bands[0].burst == 0);
  MeterConfig mc = MeterTable::config(m);
  CHECK(mc.meter_id == 4);
  CHECK(mc.flags == kMeterFlagKbps);
  CHECK(mc.bands == m.bands);
}

TEST_CASE("ovs-ofctl meter text", "[ofproto][meter]") {
  MeterMod mm;
  REQUIRE_FALSE(parse_meter("meter=1,kbps,burst,stats,band=type=drop,rate=1000,burst_size=100", &mm));
  CHECK(mm.command == MeterModCommand::kAdd);
  CHECK(mm.meter_id == 1);
  CHECK(mm.flags == (kMeterFlagKbps | kMeterFlagBurst | kMeterFlagStats));
  CHECK(mm.bands == std::vector<MeterBand>{drop(1000, 100)});

  REQUIRE_FALSE(parse_meter(
      "meter=0x20 pktps bands= type=dscp_remark rate=500 prec_level=1 type=drop,rate=1000", &mm));
  CHECK(mm.meter_id == 0x20);
  CHECK(mm.flags == kMeterFlagPktps);
  CHECK(mm.bands == std::vector<MeterBand>{remark(500, 1), drop(1000)});

  Meter m;
  m.id = 1;
  m.flags = kMeterFlagKbps | kMeterFlagBurst | kMeterFlagStats;
  m.bands = {drop(1000, 100), remark(500, 2, 50)};
  const std::string text = format_meter(m);
  CHECK(text ==
        "meter=1 kbps burst stats bands=type=drop rate=1000 burst_size=100 "
        "type=dscp_remark rate=500 burst_size=50 prec_level=2");
  REQUIRE_FALSE(parse_meter(text, &mm));  // the dump reads back
  CHECK(mm.flags == m.flags);
  CHECK(mm.bands == m.bands);

  for (const char* bad : {"kbps,band=type=drop,rate=1", "meter=x,kbps", "meter=1,fast",
                          "meter=1,kbps,band=rate=5", "meter=1,kbps,band=type=police,rate=5",
                          "meter=1,kbps,band=type=drop,rate=abc",
                          "meter=1,kbps,band=type=drop,prec_level=1",
                          "meter=1,kbps,band=type=drop,colour=red"}) {
    MaybeError e = parse_meter(bad, &mm);
    INFO(bad);
    CHECK(e);
  }

  MeterStats s{.meter_id = 3, .flow_count = 2, .packet_in_count = 10, .byte_in_count = 640,
               .duration_sec = 1, .duration_nsec = 500000000, .bands = {{3, 192}}};
  CHECK(format_meter_stats(s) ==
        "meter=3 flow_count=2 packet_in_count=10 byte_in_count=640 duration=1.500s bands: 0: "
        "packet_count=3 byte_count=192");
}

TEST_CASE("flow-mods may name only existing meters; deleting a meter deletes its rules",
          "[ofproto][meter]") {
  Pipeline p;
  auto flow = [](const std::string& text) {
    FlowMod fm;
    REQUIRE_FALSE(parse_flow(text, &fm));
    return fm;
  };
  MaybeError e = p.flow_mod(flow("priority=5,ip,actions=meter:1,output:2"), 0);
  REQUIRE(e);
  CHECK(err_name(e) == of_error_name(OfErrorType::kMeterModFailed,
                                     static_cast<uint16_t>(MeterModFailedCode::kUnknownMeter)));
  CHECK(p.rule_count() == 0);

  MeterModResult mres;
  REQUIRE_FALSE(p.meter_mod(add(1), 0, &mres));
  REQUIRE_FALSE(p.meter_mod(add(2), 0, &mres));
  REQUIRE_FALSE(p.flow_mod(flow("priority=5,ip,actions=meter:1,output:2"), 0));
  REQUIRE_FALSE(p.flow_mod(flow("priority=6,udp,actions=meter:1,output:3"), 0));
  REQUIRE_FALSE(p.flow_mod(flow("table=1,priority=5,ip,actions=meter:2,output:2"), 0));
  REQUIRE_FALSE(p.flow_mod(flow("priority=1,actions=output:4"), 0));
  CHECK(p.meter_flow_count(1) == 2);
  CHECK(p.meter_flow_count(2) == 1);
  // Modify to an unknown meter: refused, the rule keeps its instructions.
  e = p.flow_mod([&] {
    FlowMod fm;
    REQUIRE_FALSE(parse_flow("ip,actions=meter:9,output:2", &fm, FlowParseMode::kModify));
    return fm;
  }(), 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(MeterModFailedCode::kUnknownMeter));
  CHECK(p.meter_flow_count(1) == 2);

  const uint64_t v = p.version();
  FlowModResult res;
  REQUIRE_FALSE(p.meter_mod(mod(MeterModCommand::kDelete, 1), 0, &mres, &res));
  CHECK(p.version() > v);
  CHECK(res.removed.size() == 2);
  for (const RemovedRule& r : res.removed) {
    CHECK(r.reason == RemovedReason::kDelete);
    CHECK(r.rule->instructions.meter == 1u);
  }
  CHECK(p.rule_count() == 2);
  CHECK(p.meter_flow_count(1) == 0);
  // Gone from validation too.
  CHECK(p.flow_mod(flow("priority=5,ip,actions=meter:1,output:2"), 0));
  // OFPM_ALL takes the table-1 rule with it.
  FlowModResult res2;
  REQUIRE_FALSE(p.meter_mod(mod(MeterModCommand::kDelete, kMeterAll), 0, &mres, &res2));
  CHECK(res2.removed.size() == 1);
  CHECK(p.rule_count() == 1);
}

TEST_CASE("xlate emits the datapath meter action where the meter instruction runs",
          "[ofproto][meter]") {
  Bridge b = test::make_bridge(3);
  REQUIRE_FALSE(b.pipeline.meter_mod(add(7), 0, nullptr));
  REQUIRE_FALSE(b.pipeline.meter_mod(add(8), 0, nullptr));
  const uint32_t dp7 = b.pipeline.meters().find(7)->dp_id;
  const uint32_t dp8 = b.pipeline.meters().find(8)->dp_id;
  REQUIRE(dp7 != dp8);
  auto rule = [&](const std::string& text) {
    FlowMod fm;
    REQUIRE_FALSE(parse_flow(text, &fm));
    REQUIRE_FALSE(b.pipeline.flow_mod(fm, 0));
  };
  rule("priority=10,in_port=1,ip,actions=meter:7,mod_nw_tos:32,output:2");
  rule("priority=10,in_port=2,ip,actions=output:1,goto_table:1");
  rule("table=1,priority=1,actions=meter:8,output:3");

  datapath::FlowKey k{};
  k.in_port = 11;
  k.eth_type = htons(0x0800);
  k.nw_proto = 17;
  XlateOptions o;
  XlateResult r = xlate(b, k, o);
  REQUIRE(r.error.empty());
  datapath::DpActions want;
  want.add(datapath::act_meter(dp7));
  want.add(datapath::act_set_ipv4_tos(8));
  want.add(datapath::act_output(12));
  CHECK(datapath::format_actions(r.actions) == datapath::format_actions(want));
  CHECK(r.actions == want);

  // A meter in a later table runs after the earlier tables' apply-actions.
  k.in_port = 12;
  r = xlate(b, k, o);
  REQUIRE(r.error.empty());
  CHECK(datapath::format_actions(r.actions) ==
        "output:11,meter(" + std::to_string(dp8) + "),output:13");

  std::string trace = xlate_trace(b, k, 0);
  CHECK(trace.find("meter:8 (datapath meter " + std::to_string(dp8) + ")") != std::string::npos);
}

namespace {

using Rig = test::OfprotoRig;

std::vector<uint8_t> udp_frame() {
  return test::udp_frame({.src_mac = "02:00:00:00:00:0a", .dst_mac = "02:00:00:00:00:0b"});
}

}  // namespace

TEST_CASE("Ofproto meters over a fake datapath", "[ofproto][meter]") {
  Rig r;
  REQUIRE_FALSE(r.ofp->add_meter("meter=5,pktps,burst,stats,band=type=drop,rate=1000,burst_size=64"));
  REQUIRE(r.dp->meters.count(0));
  CHECK(r.dp->meters[0].pktps);
  REQUIRE(r.dp->meters[0].bands.size() == 1);
  CHECK(r.dp->meters[0].bands[0].rate == 1000);
  CHECK(r.dp->meters[0].bands[0].burst == 64);
  CHECK(r.dp->meter_ops == std::vector<std::string>{"set:0"});

  // Errors reach the caller and touch nothing.
  MaybeError e = r.ofp->add_meter("meter=5,kbps,band=type=drop,rate=5");
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(MeterModFailedCode::kMeterExists));
  e = r.ofp->add_flows("priority=5,ip,actions=meter:6,output:2");
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kMeterModFailed);
  CHECK(r.dp->meter_ops.size() == 1);

  REQUIRE_FALSE(r.ofp->add_flows("priority=5,ip,actions=meter:5,output:2\npriority=0,actions=drop"));
  const uint64_t ufid = r.miss(1, udp_frame());
  CHECK(datapath::format_actions(r.dp->flows.at(ufid).spec.actions) == "meter(0),output:2");

  // Statistics: datapath counters, rules using it, age on the injected clock.
  datapath::DpMeterStats ds;
  ds.packets = 100;
  ds.bytes = 6400;
  ds.bands = {{40, 2560}};
  r.dp->meter_counters[0] = ds;
  r.now += 2500;
  std::vector<MeterStats> st = r.ofp->meter_stats(5);
  REQUIRE(st.size() == 1);
  CHECK(st[0].meter_id == 5);
  CHECK(st[0].flow_count == 1);
  CHECK(st[0].packet_in_count == 100);
  CHECK(st[0].byte_in_count == 6400);
  CHECK(st[0].duration_sec == 2);
  CHECK(st[0].duration_nsec == 500000000u);
  REQUIRE(st[0].bands.size() == 1);
  CHECK(st[0].bands[0].packet_band_count == 40);
  CHECK(st[0].bands[0].byte_band_count == 2560);
  CHECK(r.ofp->meter_stats(6).empty());
  CHECK(r.ofp->dump_meter_stats() ==
        "meter=5 flow_count=1 packet_in_count=100 byte_in_count=6400 duration=2.500s bands: 0: "
        "packet_count=40 byte_count=2560\n");

  // Modify: the datapath meter is replaced in place; the megaflow stays.
  MeterMod mm;
  mm.command = MeterModCommand::kModify;
  mm.meter_id = 5;
  mm.flags = kMeterFlagKbps;
  mm.bands = {drop(2000), remark(1000, 1)};
  REQUIRE_FALSE(r.ofp->meter_mod(mm));
  CHECK(r.dp->meter_ops == std::vector<std::string>{"set:0", "set:0"});
  CHECK_FALSE(r.dp->meters[0].pktps);
  CHECK(r.dp->meters[0].bands.size() == 2);
  CHECK(r.dp->flows.count(ufid));

  REQUIRE_FALSE(r.ofp->add_meter("meter=9,kbps,band=type=drop,rate=10"));
  std::vector<MeterConfig> cfg = r.ofp->meter_config(kMeterAll);
  REQUIRE(cfg.size() == 2);
  CHECK(cfg[0].meter_id == 5);
  CHECK(cfg[0].bands == mm.bands);
  CHECK(cfg[1].meter_id == 9);
  CHECK(r.ofp->meter_config(9).size() == 1);
  CHECK(r.ofp->meter_config(10).empty());
  CHECK(r.ofp->dump_meters() ==
        "meter=5 kbps bands=type=drop rate=2000 type=dscp_remark rate=1000 prec_level=1\n"
        "meter=9 kbps bands=type=drop rate=10\n");
  CHECK(r.ofp->meter_features().max_meter == datapath::kMaxMeters);
  CHECK(r.ofp->meter_stats(kMeterAll).size() == 2);

  // Delete: the rule goes, its megaflow is re-translated (now the drop
  // rule's), then the datapath meter goes.
  mm.command = MeterModCommand::kDelete;
  REQUIRE_FALSE(r.ofp->meter_mod(mm));
  REQUIRE(r.dp->flows.count(ufid));
  CHECK(datapath::format_actions(r.dp->flows.at(ufid).spec.actions) == "drop");
  CHECK(r.dp->meter_ops.back() == "del:0");
  CHECK_FALSE(r.dp->meters.count(0));
  CHECK(r.ofp->dump_flows(false).find("meter") == std::string::npos);
  CHECK(r.ofp->stats().rules == 1);
  auto removed = r.ofp->take_removed_rules(10);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0].reason == RemovedReason::kDelete);
  // The freed datapath id is reused.
  REQUIRE_FALSE(r.ofp->add_meter("meter=11,pktps,band=type=drop,rate=10"));
  CHECK(r.dp->meter_ops.back() == "set:0");
}
