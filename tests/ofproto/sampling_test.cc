// sampling_test.cc - bridge-level sampling in translation and the miss
// path's sample queue.
//
// Coverage goal: kSample first in the megaflow of a sampling bridge (sFlow,
// IPFIX with its observation ids, both), the output field (one port, a
// drop, a flood to several), no sample action without sampling, a list
// without room left unsampled; set_sampling re-translating installed
// megaflows (and not when unchanged); kSample upcalls queued as
// SampleEvents (header cut, length, in_port, cookie) and a full queue
// counted as drops; packet-outs sampled as OVS samples them (from
// CONTROLLER, a port, LOCAL; output:TABLE; no output; a sample() action in
// the packet-out); a recirculated (ct) pass not sampled again; a bond
// output as one output of unknown port; IPFIX output samples before each
// output (input sampling off; none without room for all).
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "bridge_fixtures.h"
#include "flow_text.h"
#include "hex_bytes.h"
#include "of_codec.h"
#include "ofproto_rig.h"
#include "packet_builder.h"
#include "xlate.h"

using namespace dps::ofproto;
namespace dp = dps::datapath;

namespace {

using dps::test::FakeDp;
using dps::test::hex;
using dps::test::make_bridge;
using dps::test::parse_error;
using dps::test::parse_ok;

void add(Bridge& b, const std::string& text) { REQUIRE(dps::test::add_rule(b, text) == ""); }

std::string xlate_text(Bridge& b, uint32_t dp_in) {
  XlateOptions o;
  XlateResult r = xlate(b, dps::test::tcp_key(dp_in, 1, 2), o);
  return dp::format_actions(r.actions);
}

}  // namespace

TEST_CASE("sampling: kSample first, with the output port", "[ofproto][sample]") {
  Bridge b = make_bridge();  // OpenFlow port N = datapath port 10 + N
  add(b, "in_port=1 actions=output:2");
  add(b, "in_port=2 actions=drop");
  add(b, "in_port=3 actions=output:1,output:2,output:4");
  CHECK(xlate_text(b, 11) == "output:12");  // no sampling: nothing added
  b.sampling.sflow = {64, 3, 0, 0};
  CHECK(xlate_text(b, 11) == "sample(slot=3,rate=64,sflow,out=12),output:12");
  CHECK(xlate_text(b, 12) == "sample(slot=3,rate=64,sflow,out=none)");
  CHECK(xlate_text(b, 13) == "sample(slot=3,rate=64,sflow,out=multiple:3),output:11,output:12,output:14");
  b.sampling.ipfix = {1, 4, 7, 9};
  CHECK(xlate_text(b, 11) ==
        "sample(slot=3,rate=64,sflow,out=12),sample(slot=4,rate=1,ipfix,out=12,obs_domain=7,obs_point=9),output:12");
}

TEST_CASE("sampling: a list with no room left is not sampled", "[ofproto][sample]") {
  Bridge b = make_bridge(33);
  add(b, "in_port=1 actions=FLOOD");  // 32 outputs: the list is full
  XlateOptions o;
  XlateResult r = xlate(b, dps::test::tcp_key(11, 1, 2), o);
  REQUIRE(r.actions.n == dp::kMaxDpActions);
  b.sampling.sflow = {64, 0, 0, 0};
  XlateResult s = xlate(b, dps::test::tcp_key(11, 1, 2), o);
  CHECK(s.actions == r.actions);
}

TEST_CASE("sampling: set_sampling re-translates installed megaflows", "[ofproto][sample]") {
  dps::test::OfprotoRig r({}, {.n_ports = 2, .n_pmds = 1});
  r.rules("in_port=1,actions=output:2");
  auto f = dps::test::udp_frame();
  r.dp->miss(0, 1, f);
  r.ofp->run();
  REQUIRE(r.dp->installs.size() == 1);
  BridgeSampling s;
  s.sflow = {100, 5, 0, 0};
  CHECK(r.ofp->set_sampling(s));
  CHECK_FALSE(r.ofp->set_sampling(s));
  r.ofp->run();
  const auto& flow = r.dp->flows.begin()->second;
  CHECK(dp::format_actions(flow.spec.actions) == "sample(slot=5,rate=100,sflow,out=2),output:2");
}

TEST_CASE("sampling: kSample upcalls become SampleEvents; a full queue drops", "[ofproto][sample]") {
  UpcallConfig ucfg;
  ucfg.sample_queue = 2;
  OfprotoConfig cfg;
  cfg.upcall = ucfg;
  dps::test::OfprotoRig r(cfg, {.n_ports = 2, .n_pmds = 1});
  auto f = dps::test::udp_frame({.payload = 400});
  const dp::DpSampleCookie c{dp::SampleKind::kSflow, 0, 0, 2, 0, 0};
  for (int i = 0; i < 3; i++) r.dp->sample(0, 1, f, 7, c);
  r.ofp->run();
  std::vector<SampleEvent> ev = r.ofp->backer().handler().take_samples();
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].slot == 7);
  CHECK(ev[0].cookie == c);
  CHECK(ev[0].in_port == 1);
  CHECK(ev[0].frame_len == f.size());
  CHECK(ev[0].header == std::vector<uint8_t>(f.begin(), f.begin() + kSampleHeaderMax));
  CHECK(r.ofp->backer().handler().stats().samples == 2);
  CHECK(r.ofp->backer().handler().stats().samples_dropped == 1);
  CHECK(r.dp->live() == 0);  // every copy freed
  CHECK(r.ofp->backer().handler().take_samples().empty());
  CHECK(r.dp->installs.empty());  // a sample is not a miss
}

TEST_CASE("netflow: IPv4 megaflows pin the NetFlow key only while it is on", "[ofproto][sample][netflow]") {
  Bridge b = make_bridge();
  add(b, "in_port=1 actions=output:2");
  XlateOptions o;
  XlateResult off = xlate(b, dps::test::tcp_key(11, 1, 2), o);
  CHECK(off.mask.nw_src == 0);
  CHECK(off.mask.tp_src == 0);
  b.sampling.netflow = true;
  XlateResult on = xlate(b, dps::test::tcp_key(11, 1, 2), o);
  CHECK(on.mask.eth_type == 0xffff);
  CHECK(on.mask.nw_src == 0xffffffffu);
  CHECK(on.mask.nw_dst == 0xffffffffu);
  CHECK(on.mask.nw_proto == 0xff);
  CHECK(on.mask.nw_tos == 0xff);
  CHECK(on.mask.tp_src == 0xffff);
  CHECK(on.mask.tp_dst == 0xffff);
  CHECK(dp::format_actions(on.actions) == "output:12");  // no sample action: NetFlow is not sampled
  dp::FlowKey arp = dps::test::tcp_key(11, 1, 2);
  arp.eth_type = htons(0x0806);
  CHECK(xlate(b, arp, o).mask.nw_src == 0);  // not IPv4: eth_type alone
}

TEST_CASE("netflow: the flow stats hook gets the first packets and the rolled-up deltas",
          "[ofproto][sample][netflow]") {
  dps::test::OfprotoRig r({}, {.n_ports = 2, .n_pmds = 1});
  r.rules("in_port=1,actions=output:2");
  uint64_t packets = 0, bytes = 0;
  std::string acts;
  r.ofp->backer().set_flow_stats_hook(
      [&](const dp::FlowKey& k, const dp::DpActions& a, uint64_t p, uint64_t by, int64_t) {
        CHECK(k.in_port == 1);
        acts = dp::format_actions(a);
        packets += p;
        bytes += by;
      });
  auto f = dps::test::udp_frame();
  for (int i = 0; i < 3; i++) r.dp->miss(0, 1, f);
  r.ofp->run();
  CHECK(packets == 3);
  CHECK(bytes == 3 * f.size());
  CHECK(acts == "output:2");
  REQUIRE(r.dp->flows.size() == 1);
  r.dp->flows.begin()->second.stats.packets = 10;
  r.dp->flows.begin()->second.stats.bytes = 10 * f.size();
  r.ofp->roll_up_rule_counters();
  CHECK(packets == 13);
  CHECK(bytes == 13 * f.size());
  r.ofp->roll_up_rule_counters();  // no new traffic: no call
  CHECK(packets == 13);
  r.ofp->backer().set_flow_stats_hook(nullptr);
}

TEST_CASE("sample(): ovs-ofctl's NXAST_SAMPLE, SAMPLE2 and SAMPLE3 byte for byte", "[ofproto][sample][codec]") {
  // The actions of `ovs-ofctl -O OpenFlow13 add-flow` (captured on the wire).
  const struct {
    const char* hex;
    const char* text;
  } forms[] = {
      {"ffff001800002320001d03e8000000010000000200000003",
       "sample(probability=1000,collector_set_id=1,obs_domain_id=2,obs_point_id=3)"},
      {"ffff0020000023200026ffff0000000100000002000000030005000000000000",
       "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3,sampling_port=5)"},
      {"ffff0020000023200029ffff000000010000000200000003ffff010000000000",
       "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3,ingress)"},
      {"ffff0020000023200029ffff0000000100000002000000030005020000000000",
       "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3,sampling_port=5,egress)"},
  };
  for (const auto& f : forms) {
    FlowMod fm = parse_ok(std::string("actions=") + f.text);
    CHECK(format_flow_mod(fm) == std::string("actions=") + f.text);
    const Bytes wire = encode(OfMessage{kOfpVersion13, 1, FlowModMsg{fm, kOfpNoBuffer}});
    // The apply-actions instruction's one action is the message's tail.
    CHECK(hex(wire).substr(hex(wire).size() - std::string(f.hex).size()) == f.hex);
    OfMessage m;
    MaybeError e = decode(wire, &m, DecodeOptions{});
    INFO(f.text << ": " << (e ? e->message : std::string()));
    REQUIRE_FALSE(e);
    CHECK(format_flow_mod(std::get<FlowModMsg>(m.body).mod) == std::string("actions=") + f.text);
  }
  // probability 0 on the wire: OFPBAC_BAD_ARGUMENT, as OVS.
  FlowMod fm = parse_ok("actions=sample(probability=1,collector_set_id=1,obs_domain_id=2,obs_point_id=3)");
  Bytes wire = encode(OfMessage{kOfpVersion13, 1, FlowModMsg{fm, kOfpNoBuffer}});
  wire[wire.size() - 13] = 0;  // the probability's low byte
  OfMessage m;
  MaybeError e = decode(wire, &m, DecodeOptions{});
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadAction);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadArgument));
}

TEST_CASE("sample(): ovs-ofctl's text errors", "[ofproto][sample][syntax]") {
  CHECK(parse_error("actions=sample(collector_set_id=1)").find("non-zero \"probability\" must be specified") !=
        std::string::npos);
  CHECK(parse_error("actions=sample(probability=0)").find("invalid probability value \"0\"") != std::string::npos);
  CHECK(parse_error("actions=sample(probability=70000)").find("invalid probability") != std::string::npos);
  CHECK(parse_error("actions=sample(probability=1,foo=2)").find("invalid key \"foo\" in \"sample\" argument") !=
        std::string::npos);
}

TEST_CASE("sample(): kSample where the action is, into its collector set's slot", "[ofproto][sample]") {
  Bridge b = make_bridge();
  add(b, "in_port=1 actions=sample(probability=6554,collector_set_id=1,obs_domain_id=7,obs_point_id=9),output:2");
  add(b, "ip,in_port=2 actions=set_field:10.9.9.9->ip_dst,sample(probability=65535,collector_set_id=2,"
         "obs_domain_id=1,obs_point_id=2),output:1,output:3");
  // No Flow_Sample_Collector_Set with that id: not sampled.
  CHECK(xlate_text(b, 11) == "output:12");
  b.sampling.flow_sets = {{1, 6}, {2, 8}};
  // 65535 / 6554 rounds to 10; the output is the list's.
  CHECK(xlate_text(b, 11) == "sample(slot=6,rate=10,flow,out=12,obs_domain=7,obs_point=9),output:12");
  // The packet as the actions before it made it; two outputs.
  CHECK(xlate_text(b, 12) ==
        "set_ipv4_dst(10.9.9.9),sample(slot=8,rate=1,flow,out=multiple:2,obs_domain=1,obs_point=2),output:11,output:13");
}

TEST_CASE("sampling: the sFlow sample carries the VLAN the packet leaves with", "[ofproto][sample]") {
  Bridge b = make_bridge();
  add(b, "in_port=1 actions=push_vlan:0x8100,set_field:4196->vlan_vid,set_field:5->vlan_pcp,output:2");
  add(b, "in_port=2 actions=output:1");
  b.sampling.sflow = {64, 3, 0, 0};
  // VID 100 (4196 = 0x1000 | 100), PCP 5: TCI 0xb064 with CFI.
  CHECK(xlate_text(b, 11).find("sample(slot=3,rate=64,sflow,out=12,out_tci=" + std::to_string(0xb064) + ")") == 0);
  CHECK(xlate_text(b, 12) == "sample(slot=3,rate=64,sflow,out=11),output:11");  // untagged: no out_tci
}

TEST_CASE("sampling: a packet-out is sampled as a received packet, as OVS", "[ofproto][sample][packet_out]") {
  dps::test::OfprotoRig r({}, {.n_ports = 3, .n_pmds = 1});
  r.rules("priority=10,in_port=CONTROLLER,actions=output:3");
  const auto f = dps::test::udp_frame();
  auto out = [&](uint32_t in_port, const ActionList& al) {
    const size_t before = r.dp->execs.size();
    MaybeError e = r.ofp->packet_out(in_port, f, al);
    INFO((e ? e->message : ""));
    REQUIRE_FALSE(e);
    REQUIRE(r.dp->execs.size() == before + 1);
    return r.dp->execs.back();
  };
  CHECK(dp::format_actions(out(kPortController, {ActOutput{2}}).actions) == "output:2");  // no sampler
  BridgeSampling s;
  s.sflow = {64, 3, 0, 0};
  s.ipfix = {1, 4, 7, 9};
  s.flow_sets = {{1, 6}};
  r.ofp->set_sampling(s);
  // From the controller: no input port (the datapath's in_port 0: sFlow
  // input "unknown", as OVS's ODPP_NONE), the samplers first.
  FakeDp::Exec x = out(kPortController, {ActOutput{2}});
  CHECK(x.in_port == 0);
  CHECK(dp::format_actions(x.actions) ==
        "sample(slot=3,rate=64,sflow,out=2),sample(slot=4,rate=1,ipfix,out=2,obs_domain=7,obs_point=9),output:2");
  // From a port: that port is the input.
  x = out(1, {ActOutput{2}, ActOutput{kPortInPort}});
  CHECK(x.in_port == 1);
  CHECK(dp::format_actions(x.actions).find("sample(slot=3,rate=64,sflow,out=multiple:2),") == 0);
  // output:TABLE: the output the pipeline chose.
  x = out(kPortController, {ActOutput{kPortTable}});
  CHECK(dp::format_actions(x.actions).find("sample(slot=3,rate=64,sflow,out=3),") == 0);
  // No output: still executed, for the samples ("dropped", as OVS).
  x = out(kPortController, {});
  CHECK(dp::format_actions(x.actions) ==
        "sample(slot=3,rate=64,sflow,out=none),sample(slot=4,rate=1,ipfix,out=none,obs_domain=7,obs_point=9)");
  // A sample() action in the packet-out: where it is, with the list's output.
  s.sflow = s.ipfix = {};
  r.ofp->set_sampling(s);
  x = out(kPortController, {ActSample{.probability = 65535, .collector_set_id = 1, .obs_domain_id = 2,
                                      .obs_point_id = 3},
                            ActOutput{2}});
  CHECK(dp::format_actions(x.actions) == "sample(slot=6,rate=1,flow,out=2,obs_domain=2,obs_point=3),output:2");
}

TEST_CASE("sampling: a packet-out from LOCAL enters at the bridge's LOCAL port", "[ofproto][sample][packet_out]") {
  dps::test::OfprotoRig r({}, {.n_ports = 2, .n_pmds = 1});
  const auto f = dps::test::udp_frame();
  REQUIRE_FALSE(r.ofp->packet_out(kPortLocal, f, {ActOutput{2}}));
  CHECK(r.dp->execs.back().in_port == 0);  // no LOCAL port: none
  r.ofp->add_port(kPortLocal, 7, "br0");
  BridgeSampling s;
  s.sflow = {64, 3, 0, 0};
  r.ofp->set_sampling(s);
  REQUIRE_FALSE(r.ofp->packet_out(kPortLocal, f, {ActOutput{2}}));
  CHECK(r.dp->execs.back().in_port == 7);
  CHECK(dp::format_actions(r.dp->execs.back().actions) == "sample(slot=3,rate=64,sflow,out=2),output:2");
}

TEST_CASE("sampling: a recirculated pass (ct) is not sampled again, as OVS", "[ofproto][sample]") {
  Bridge b = make_bridge();
  add(b, "table=0,in_port=1,ip actions=ct(table=1)");
  add(b, "table=1,in_port=1,ip actions=output:2");
  b.sampling.sflow = {64, 3, 0, 0};
  XlateOptions o;
  dp::FlowKey k = dps::test::tcp_key(11, 1, 2);
  const std::string first = dp::format_actions(xlate(b, k, o).actions);
  CHECK(first.find("sample(slot=3,rate=64,sflow,out=none),ct(") == 0);  // before ct: no output yet
  REQUIRE(first.find("recirc=0xc7000001)") != std::string::npos);
  k.recirc_id = 0xc7000001u;  // the second pass, in table 1
  CHECK(dp::format_actions(xlate(b, k, o).actions) == "output:12");
}

TEST_CASE("sampling: an output to a bond is one output to an unknown member", "[ofproto][sample]") {
  dps::test::OfprotoRig r({}, {.n_ports = 1, .n_pmds = 1});
  REQUIRE(r.ofp->set_bond(5, "bond0", BondConfig{}, {{"m2", 2}, {"m3", 3}}) == "");
  r.rules("in_port=1,actions=output:5");
  BridgeSampling s;
  s.sflow = {64, 3, 0, 0};
  r.ofp->set_sampling(s);
  const uint64_t ufid = r.miss(1, dps::test::udp_frame());
  // Not "dropped": the datapath picks the member per packet, so the sFlow
  // output is ifIndex 0 (unknown).
  INFO(r.actions(ufid));
  CHECK(r.actions(ufid).find("sample(slot=3,rate=64,sflow,out=0),bond(") == 0);
}

TEST_CASE("sampling: IPFIX output sampling, a sample before each output, as OVS", "[ofproto][sample]") {
  Bridge b = make_bridge(33);
  add(b, "in_port=1 actions=output:2");
  add(b, "ip,in_port=3 actions=mod_nw_dst:10.9.9.9,output:1,output:2,output:4");
  add(b, "in_port=4 actions=FLOOD");
  b.sampling.ipfix = {1, 4, 7, 9, true, true};
  const std::string ids = ",obs_domain=7,obs_point=9)";
  CHECK(xlate_text(b, 11) ==
        "sample(slot=4,rate=1,ipfix,out=12" + ids + ",sample(slot=4,rate=1,ipfix_egress,out=12" + ids + ",output:12");
  // Each output its own, after the rewrites before it (the packet as sent).
  CHECK(xlate_text(b, 13) == "sample(slot=4,rate=1,ipfix,out=multiple:3" + ids + ",set_ipv4_dst(10.9.9.9)," +
                                 "sample(slot=4,rate=1,ipfix_egress,out=11" + ids + ",output:11," +
                                 "sample(slot=4,rate=1,ipfix_egress,out=12" + ids + ",output:12," +
                                 "sample(slot=4,rate=1,ipfix_egress,out=14" + ids + ",output:14");
  b.sampling.ipfix.input = false;  // other_config:enable-input-sampling=true
  CHECK(xlate_text(b, 11) == "sample(slot=4,rate=1,ipfix_egress,out=12" + ids + ",output:12");
  // A flood to 32 ports has no room for them: not sampled, still forwarded.
  XlateOptions o;
  XlateResult r = xlate(b, dps::test::tcp_key(14, 1, 2), o);
  CHECK(r.error.empty());
  CHECK(r.actions.n == dp::kMaxDpActions);
  CHECK(dp::format_actions(r.actions).find("sample") == std::string::npos);
}
