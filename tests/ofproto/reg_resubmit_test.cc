// reg_resubmit_test.cc - registers (reg0..15, xreg0..7), resubmit, load,
// move, set_field on registers, note and ct(zone=NXM_NX_REGn[..]):
// ovs-ofctl's bytes (`ovs-ofctl -O OpenFlow13 -mmmmm parse-flow` dumps),
// its text as parse-flow prints it, and the translation: registers start at
// zero, resubmit looks up again and comes back, the depth limit drops, and
// ct(table=T) freezes the registers into the recirculation id.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <string>

#include "bridge_fixtures.h"
#include "flow_parser.h"
#include "flow_text.h"
#include "hex_bytes.h"
#include "of_codec.h"
#include "xlate.h"
#include "xlate_ct.h"

using namespace dps::ofproto;
using dps::datapath::FlowKey;
using namespace dps::test;  // bridge_fixtures.h, flow_text.h, hex_bytes.h

namespace {

// ovs-ofctl's flow-mod bytes decode to `text` and encode back byte for byte;
// parsing `text` encodes to the same bytes.
void wire_exact(const char* bytes, const char* text) {
  const Bytes fm = unhex(bytes);
  OfMessage m = decode_ok(fm, {}, text);
  CHECK(format_flow_mod(flow_mod_of(m)) == text);
  CHECK(hex(encode(m)) == hex(fm));
  OfMessage mine{kOfpVersion13, 1, FlowModMsg{parse_ok(text), kOfpNoBuffer}};
  CHECK(hex(encode(mine)) == hex(fm));
}

// make_bridge(n_ports) with `rules` added in order, each REQUIREd to add.
Bridge bridge_with_rules(unsigned n_ports, std::initializer_list<std::string> rules) {
  Bridge b = dps::test::make_bridge(n_ports);
  for (const std::string& rule : rules) REQUIRE(add_rule(b, rule) == "");
  return b;
}

std::string dp_actions(const XlateResult& r) { return dps::datapath::format_actions(r.actions); }

XlateResult run(Bridge& b, const FlowKey& k) {
  XlateOptions o;
  return xlate(b, k, o);
}

}  // namespace

TEST_CASE("registers: OVS names and wire numbers", "[ofproto][reg]") {
  for (unsigned n = 0; n < kNumRegs; n++) {
    const OxmFieldInfo& fi = oxm_field_info(reg_field(n));
    CHECK(std::string(fi.name) == "reg" + std::to_string(n));
    CHECK(std::string(fi.nxm_name) == "NXM_NX_REG" + std::to_string(n));
    CHECK(fi.oxm_class == kOxmClassNxm1);
    CHECK(fi.oxm_field == n);
    CHECK(fi.width == 4);
    CHECK(oxm_field_by_wire(kOxmClassNxm1, static_cast<uint8_t>(n)) == reg_field(n));
  }
  for (unsigned n = 0; n < kNumXregs; n++) {
    const OxmFieldInfo& fi = oxm_field_info(xreg_field(n));
    CHECK(std::string(fi.name) == "xreg" + std::to_string(n));
    CHECK(fi.oxm_class == kOxmClassPacketRegs);
    CHECK(fi.width == 8);
    CHECK(oxm_field_by_wire(kOxmClassPacketRegs, static_cast<uint8_t>(n)) == xreg_field(n));
  }
  CHECK_FALSE(is_tunnel_field(OxmField::kReg0));
  CHECK_FALSE(is_ct_field(OxmField::kReg0));
}

TEST_CASE("ovs-ofctl's register matches and Nicira actions, byte for byte", "[ofproto][reg][codec]") {
  // ovs-ofctl -O OpenFlow13 -mmmmm parse-flow "ip,reg0=5,reg1=0x10/0xf0,actions=load:5->NXM_NX_REG0[],
  //   load:5->NXM_NX_REG0[4..7],set_field:5->reg3,set_field:5->xreg1,
  //   move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],resubmit(,3),resubmit:2,resubmit(1,3),
  //   note:01.02.ab,ct(table=1,zone=NXM_NX_REG0[0..15])"
  wire_exact(
      "040e011800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000000000"
      "01001e80000a02080000010004000000050001030800000010000000f00000000400c800000000ffff0018000023200007"
      "001f000100040000000000000005ffff001800002320000701030001000400000000000000050019001000010604000000"
      "050000000000190010800102080000000000000005ffff00180000232000060010000000100001000400010204ffff0010"
      "00002320000efff803000000ffff001000002320000e0002ff000000ffff001000002320000e000103000000ffff001000"
      "00232000080102ab000000ffff0018000023200023000000010004000f010000000000",
      "ip,reg0=0x5,reg1=0x10/0xf0 actions=load:0x5->NXM_NX_REG0[],load:0x5->NXM_NX_REG0[4..7],"
      "set_field:0x5->reg3,set_field:0x5->xreg1,move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],"
      "resubmit(,3),resubmit:2,resubmit(1,3),note:01.02.ab.00.00.00,ct(table=1,zone=NXM_NX_REG0[0..15])");
  // "ct_mark=0,reg5=0,actions=resubmit(,0)": registers before ct fields.
  wire_exact(
      "040e006000000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000000000"
      "01001400010a04000000000001d60400000000000000000004001800000000ffff001000002320000efff800000000",
      "ct_mark=0,reg5=0 actions=resubmit(,0)");
  // "actions=resubmit(LOCAL,2),resubmit:LOCAL,move:NXM_NX_REG0[5]->NXM_NX_REG1[0]"
  wire_exact(
      "040e007800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000000000"
      "010004000000000004004000000000ffff001000002320000efffe02000000ffff001000002320000efffeff000000ffff"
      "00180000232000060001000500000001000400010204",
      "actions=resubmit(LOCAL,2),resubmit:LOCAL,move:NXM_NX_REG0[5]->NXM_NX_REG1[0]");
  // Packet fields by their NXM_OF / NXM_NX headers (captured from ovs-ofctl -O
  // OpenFlow13 add-flow, the output:1 after them taken out): "priority=6,ipv6,actions=move:NXM_NX_IPV6_SRC[0..31]->NXM_NX_REG1[]"
  wire_exact(
      "040e006000000001000000000000000000000000000000000000000000000006ffffffffffffffffffffffff0000000000"
      "01000a80000a0286dd0000000000000004002000000000ffff00180000232000060020000000000001261000010204",
      "priority=6, ipv6 actions=move:NXM_NX_IPV6_SRC[0..31]->NXM_NX_REG1[]");
  // "priority=5,ip,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],move:NXM_OF_IP_SRC[]->NXM_NX_REG0[]"
  wire_exact(
      "040e007800000001000000000000000000000000000000000000000000000005ffffffffffffffffffffffff0000000000"
      "01000a80000a0208000000000000000004003800000000ffff00180000232000060030000000000000040600000206ffff0018"
      "00002320000600200000000000000e0400010004",
      "priority=5, ip actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],move:NXM_OF_IP_SRC[]->NXM_NX_REG0[]");
}

TEST_CASE("xreg matches split into registers; masked set_field is a load", "[ofproto][reg][codec]") {
  // "xreg1=5/0xffff,actions=set_field:0x5/0xff->reg3,load:0x5->OXM_OF_PKT_REG1[]" as ovs-ofctl
  // encodes and prints it.
  wire_exact(
      "040e007800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000000000"
      "01001000010708000000050000ffff0004003800000000ffff00180000232000070007000106040000000000000005ffff"
      "0018000023200007003f800102080000000000000005",
      "reg3=0x5/0xffff actions=load:0x5->NXM_NX_REG3[0..7],load:0x5->OXM_OF_PKT_REG1[]");
  FlowMod x = parse_ok("xreg1=0x100000005,actions=drop");
  CHECK(format_match(x.match) == "reg2=0x1,reg3=0x5");
  x = parse_ok("xreg1=5/0xffff,actions=set_field:0x5/0xff->reg3");
  CHECK(format_flow_mod(x) == "reg3=0x5/0xffff actions=load:0x5->NXM_NX_REG3[0..7]");
}

TEST_CASE("register and resubmit syntax errors", "[ofproto][reg][syntax]") {
  CHECK(parse_error("actions=resubmit(,255)").find("bad table") != std::string::npos);
  CHECK(parse_error("actions=resubmit(,)").find("at least one") != std::string::npos);
  CHECK(parse_error("actions=move:NXM_NX_REG0[0..7]->NXM_NX_REG1[0..15]").find("8 bits wide") != std::string::npos);
  CHECK(parse_error("actions=load:0x100->NXM_NX_REG0[0..7]").find("bad value") != std::string::npos);
  CHECK(parse_error("actions=note:0x").find("hex bytes") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(zone=NXM_NX_REG0[0..7])").find("16 bits of a register") != std::string::npos);
  CHECK(parse_error("actions=set_field:1/3->reg0").find("contiguous") == std::string::npos);
  CHECK(parse_error("actions=set_field:1/5->reg0").find("contiguous") != std::string::npos);
  Bridge b = dps::test::make_bridge(2);
  CHECK(add_rule(b, "actions=write_actions(resubmit(,1))").find("cannot be in an action set") != std::string::npos);
}

TEST_CASE("registers: zero at start, set, matched, moved; resubmit comes back", "[ofproto][reg][xlate]") {
  Bridge b = bridge_with_rules(4, {
      "table=0,priority=10,actions=load:0x2->NXM_NX_REG0[0..7],resubmit(,1),output:3",
      "table=1,priority=10,reg0=2,actions=move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],resubmit(,2)",
      "table=1,priority=5,actions=output:4",
      "table=2,priority=10,reg1=0x20000,actions=output:2",
      "table=2,priority=10,reg0=0,actions=output:4",  // never: reg0 is 2 here
  });
  const FlowKey k = dps::test::tcp_key(11, 1, 2);
  XlateResult r = run(b, k);
  REQUIRE(r.error.empty());
  // table 2 outputs to port 2 (dp 12) inside the resubmits, then output:3 (dp 13).
  CHECK(dp_actions(r) == "output:12,output:13");
  // Registers are not datapath bits: the megaflow pins none for them.
  FlowKey m = r.mask;
  m.in_port = 0;
  m.recirc_id = 0;
  CHECK(dps::datapath::flow_key_format(m, &m).find("eth") == std::string::npos);

  // Without the load, table 1 misses its reg0=2 rule.
  Bridge b2 = bridge_with_rules(4, {
      "table=0,actions=resubmit(,1),output:3",
      "table=1,priority=10,reg0=2,actions=output:2",
      "table=1,priority=5,reg0=0,actions=output:4",
  });
  CHECK(dp_actions(run(b2, k)) == "output:14,output:13");
}

TEST_CASE("move between packet fields (NXM_OF names): the datapath rewrites", "[ofproto][reg][xlate]") {
  Bridge b = bridge_with_rules(4, {
      "table=0,ip,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
          "move:NXM_OF_IP_SRC[]->NXM_NX_REG0[],resubmit(,1)",
      "table=1,reg0=0x0a000001,actions=output:2",
  });
  FlowKey k = dps::test::tcp_key(11, 1, 2);
  k.nw_src = htonl(0x0a000001);
  XlateResult r = run(b, k);
  REQUIRE(r.error.empty());
  // eth_dst becomes the source MAC; reg0 got the IPv4 source, so table 1 outputs.
  CHECK(dp_actions(r) == "set_eth_dst(" + dps::datapath::mac_str(k.dl_src) + "),output:12");
}

TEST_CASE("resubmit with in_port, to a missing rule, and set_field on xreg", "[ofproto][reg][xlate]") {
  Bridge b = bridge_with_rules(4, {
      "table=0,in_port=1,actions=set_field:0x100000002->xreg0,resubmit(2,1),resubmit(,7),output:IN_PORT",
      "table=1,in_port=2,reg0=1,reg1=2,actions=output:3",
  });
  XlateResult r = run(b, dps::test::tcp_key(11, 1, 2));
  REQUIRE(r.error.empty());
  // resubmit(2,1) matches in_port=2; table 7 misses (nothing); in_port is 1 again.
  CHECK(dp_actions(r) == "output:13,output:11");
}

TEST_CASE("resubmit loops stop at OVS's depth with a counted drop", "[ofproto][reg][xlate]") {
  Bridge b = dps::test::make_bridge(2);
  REQUIRE(add_rule(b, "table=0,actions=resubmit(,0)") == "");
  XlateResult r = run(b, dps::test::tcp_key(11, 1, 2));
  CHECK(r.limit_drop);
  CHECK(r.error.find("over max translation depth 64") != std::string::npos);
  CHECK(r.actions.n == 0);
  // Deep but within bounds: 63 nested resubmits are fine.
  Bridge c = dps::test::make_bridge(2);
  for (int t = 0; t < 63; t++)
    REQUIRE(add_rule(c, "table=" + std::to_string(t) + ",actions=resubmit(," + std::to_string(t + 1) + ")") == "");
  REQUIRE(add_rule(c, "table=63,actions=output:2") == "");
  XlateResult ok = run(c, dps::test::tcp_key(11, 1, 2));
  CHECK(ok.error.empty());
  CHECK(dp_actions(ok) == "output:12");
}

TEST_CASE("ct(zone=reg, table=T) freezes the registers into the recirculation", "[ofproto][reg][ct][xlate]") {
  Bridge b = bridge_with_rules(4, {
      "table=0,ip,in_port=1,actions=load:0x7->NXM_NX_REG6[],load:0x2a->NXM_NX_REG5[16..31],"
          "ct(zone=NXM_NX_REG5[16..31],table=1)",
      "table=0,ip,in_port=2,actions=ct(zone=9,table=1)",
      "table=1,ip,reg6=7,actions=output:2",
      "table=1,ip,reg6=0,actions=output:1",
  });
  FlowKey k = dps::test::tcp_key(11, 1, 2);
  XlateResult r = run(b, k);
  REQUIRE(r.error.empty());
  REQUIRE(r.actions.n >= 1);
  const dps::datapath::DpCtArgs ct = dps::datapath::ct_action_args(&r.actions.acts[0]);
  CHECK(ct.zone == 0x2a);
  CHECK(ct.recirc_id >= kFrozenRecircBase);
  CHECK(b.frozen.size() == 1);
  // The same registers again: the same id.
  const XlateResult again = run(b, k);
  CHECK(dps::datapath::ct_action_args(&again.actions.acts[0]).recirc_id == ct.recirc_id);
  // The recirculated packet continues in table 1 with reg6=7.
  k.recirc_id = ct.recirc_id;
  k.ct_state = 0x21;  // +new+trk
  XlateResult r2 = run(b, k);
  REQUIRE(r2.error.empty());
  CHECK(dp_actions(r2) == "output:12");
  CHECK(r2.mask.recirc_id == 0xffffffffu);
  // Zero registers: the table's fixed id, and table 1 sees reg6=0.
  FlowKey k2 = dps::test::tcp_key(12, 1, 2);
  XlateResult z = run(b, k2);
  const dps::datapath::DpCtArgs zc = dps::datapath::ct_action_args(&z.actions.acts[0]);
  CHECK(zc.zone == 9);
  CHECK(zc.recirc_id == ct_recirc_id(1));
  k2.recirc_id = zc.recirc_id;
  CHECK(dp_actions(run(b, k2)) == "output:11");
  // An id nobody froze: a failed translation.
  k2.recirc_id = kFrozenRecircBase + 77;
  CHECK(run(b, k2).error.find("unknown recirculation id") != std::string::npos);
}

TEST_CASE("ct() on a packet NAT already translated in the zone: natted flags, matched by the megaflow",
          "[ofproto][ct][xlate]") {
  Bridge b = dps::test::make_bridge(4);
  REQUIRE(add_rule(b, "table=0,ip,actions=ct(zone=5,table=1,nat)") == "");
  REQUIRE(add_rule(b, "table=1,ip,actions=ct(commit,zone=5,table=2)") == "");
  REQUIRE(add_rule(b, "table=2,ip,actions=output:2") == "");
  FlowKey k = dps::test::tcp_key(11, 1, 2);
  const XlateResult first = run(b, k);
  REQUIRE(first.error.empty());
  const dps::datapath::DpCtArgs a0 = dps::datapath::ct_action_args(&first.actions.acts[0]);
  CHECK((a0.flags & (dps::datapath::kCtFlagNattedSrc | dps::datapath::kCtFlagNattedDst)) == 0);
  CHECK(first.mask.ct_state == 0);  // a first pass: nothing about ct in the megaflow
  CHECK(first.mask.ct_zone == 0);
  // Back from ct(nat) in zone 5 as +trk+est+dnat: the second ct() says so.
  k.recirc_id = a0.recirc_id;
  k.ct_zone = 5;
  k.ct_state = 0x80 | 0x20 | 0x02;
  const XlateResult second = run(b, k);
  REQUIRE(second.error.empty());
  const dps::datapath::DpCtArgs a1 = dps::datapath::ct_action_args(&second.actions.acts[0]);
  CHECK(a1.zone == 5);
  CHECK((a1.flags & (dps::datapath::kCtFlagNattedSrc | dps::datapath::kCtFlagNattedDst)) == dps::datapath::kCtFlagNattedDst);
  CHECK(a1.flags & dps::datapath::kCtFlagCommit);
  CHECK((second.mask.ct_state & 0xc0) == 0xc0);  // the megaflow holds only +dnat-snat packets
  CHECK(second.mask.ct_zone == 0xffff);
  // Tracked in another zone: not natted here.
  k.ct_zone = 6;
  const XlateResult other = run(b, k);
  CHECK((dps::datapath::ct_action_args(&other.actions.acts[0]).flags & dps::datapath::kCtFlagNattedDst) == 0);
  CHECK(other.mask.ct_zone == 0xffff);
}
