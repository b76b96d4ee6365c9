// ct_fields_test.cc - the conntrack match fields (ct_state, ct_zone,
// ct_mark, ct_label): NXM_1 encodings as ovs-ofctl -O OpenFlow13 sends them
// (bytes from `ovs-ofctl parse-flow`'s dump), where they land in the flow
// key, and the text syntax as ovs-ofctl prints it.
#include <catch2/catch.hpp>
#include <string>

#include "flow_text.h"
#include "hex_bytes.h"
#include "of_codec.h"

using namespace dps::ofproto;

namespace {

using namespace dps::test;  // flow_text.h, hex_bytes.h

// REQUIREs an error and CHECKs that it is OFPET_BAD_ACTION with `code` and,
// when `says` is given, that its message says so.
void check_bad_action(const MaybeError& e, BadActionCode code, const char* says = nullptr) {
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadAction);
  CHECK(e->code == static_cast<uint16_t>(code));
  if (says) CHECK(e->message.find(says) != std::string::npos);
}

// The first error a flow-mod's text meets: parsing, then validation.
MaybeError flow_mod_error(const char* text) {
  FlowMod f;
  MaybeError e = parse_flow(text, &f, FlowParseMode::kAdd, false, nullptr);
  if (!e) e = validate_instructions(f.instructions, f.match, f.table_id, ValidationContext{});
  return e;
}

// Parses as printed, prints back identically, and survives the wire.
void round_trip(const char* t) {
  FlowMod f = parse_ok(t);
  CHECK(format_flow_mod(f) == t);
  OfMessage m = decode_ok(encode(OfMessage{kOfpVersion13, 1, FlowModMsg{f, kOfpNoBuffer}}), {}, t);
  CHECK(format_flow_mod(flow_mod_of(m)) == t);
}

}  // namespace

TEST_CASE("ct fields: OVS names and NXM_1 numbers", "[ofproto][ct]") {
  struct {
    OxmField f;
    const char* name;
    uint8_t nxm;
    unsigned width;
    bool maskable;
  } want[] = {
      {OxmField::kCtState, "ct_state", 105, 4, true},
      {OxmField::kCtZone, "ct_zone", 106, 2, false},
      {OxmField::kCtMark, "ct_mark", 107, 4, true},
      {OxmField::kCtLabel, "ct_label", 108, 16, true},
  };
  for (const auto& w : want) {
    const OxmFieldInfo& fi = oxm_field_info(w.f);
    CHECK(std::string(fi.name) == w.name);
    CHECK(fi.oxm_class == kOxmClassNxm1);
    CHECK(fi.oxm_field == w.nxm);
    CHECK(fi.width == w.width);
    CHECK(fi.maskable == w.maskable);
    CHECK(oxm_field_by_wire(kOxmClassNxm1, w.nxm) == w.f);
    CHECK(oxm_field_by_name(w.name) == w.f);
    CHECK_FALSE(is_tunnel_field(w.f));
    CHECK_FALSE(is_tun_metadata(w.f));
  }
}

TEST_CASE("ct fields land on the flow key's conntrack words", "[ofproto][ct]") {
  FlowMod f = parse_ok("ct_state=+trk+est-new,ct_zone=7,ct_mark=0x12/0xff,ct_label=0x0102,actions=drop");
  const dps::datapath::FlowKey& v = f.match.value().flow;
  const dps::datapath::FlowKey& m = f.match.mask().flow;
  CHECK(v.ct_state == 0x22);
  CHECK(m.ct_state == 0x23);
  CHECK(v.ct_zone == 7);
  CHECK(m.ct_zone == 0xffff);
  CHECK(v.ct_mark == 0x12);
  CHECK(m.ct_mark == 0xff);
  CHECK(v.ct_label[14] == 1);
  CHECK(v.ct_label[15] == 2);
  CHECK(m.ct_label[0] == 0xff);
  // from_flow (a megaflow back to a match) keeps them, drops recirc_id.
  dps::datapath::FlowKey mk = m;
  mk.recirc_id = ~0u;
  OfMatch back = OfMatch::from_flow(v, mk);
  CHECK(back.has(OxmField::kCtState));
  CHECK(back.has(OxmField::kCtLabel));
  CHECK(back.mask().flow.recirc_id == 0);
  CHECK(back.value() == f.match.value());
}

TEST_CASE("ovs-ofctl's NXM_1 ct OXMs decode and encode byte for byte", "[ofproto][ct][codec]") {
  // ovs-ofctl -O OpenFlow13 parse-flow
  //   "tcp,ct_state=+trk+new,ct_zone=5,ct_mark=0x1/0xff,ct_label=0x1,actions=drop"
  const Bytes fm = unhex(
      "040e007800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000"
      "00000001004180000a02080080001401060001d30800000021000000210001d40200050001d70800000001000000ff0001d8100000000000000000000000000000000100000000000000");
  OfMessage m = decode_ok(fm);
  CHECK(format_flow_mod(flow_mod_of(m)) ==
        "ct_state=+new+trk,ct_zone=5,ct_mark=0x1/0xff,ct_label=0x1,tcp actions=drop");
  CHECK(hex(encode(m)) == hex(fm));
}

TEST_CASE("ct fields print as ovs-ofctl prints them and parse back", "[ofproto][ct][syntax]") {
  // Texts as `ovs-ofctl -O OpenFlow13 parse-flow` prints them.
  const char* texts[] = {
      "ct_state=+new+trk,ct_zone=5,ct_mark=0x1/0xff,ct_label=0x1,tcp actions=drop",
      "ct_state=-trk,ip actions=drop",
      "ct_state=+est+trk,ct_mark=0x1 actions=output:2",
      "ct_state=+rel+rpl+inv+trk-snat+dnat actions=drop",
      "ct_label=0x1000000000000000000000000000000f/0xf000000000000000000000000000000f actions=drop",
  };
  for (const char* t : texts) round_trip(t);
  CHECK(format_flow_mod(parse_ok("ct_state=0x21/0x21,ct_mark=1,actions=drop")) ==
        "ct_state=+new+trk,ct_mark=0x1 actions=drop");
  CHECK(parse_error("ct_state=+trk+bogus,actions=drop").find("unknown ct_state flag 'bogus'") !=
        std::string::npos);
  CHECK(parse_error("ct_state=+trk-trk,actions=drop").find("given twice") != std::string::npos);
  CHECK(parse_error("ct_label=0x1" + std::string(33, '0') + ",actions=drop").find("128 bits") !=
        std::string::npos);
}

TEST_CASE("ovs-ofctl's NXAST_CT and NXAST_CT_CLEAR decode and encode byte for byte", "[ofproto][ct][codec]") {
  // ovs-ofctl -O OpenFlow13 parse-flow "ip,actions=ct(commit,zone=5,table=2),ct_clear,
  //   ct(commit,force,table=3,zone=7,exec(set_field:0x1->ct_mark,set_field:0x2/0xff->ct_label))"
  const Bytes fm = unhex(
      "040e00b000000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000a80000a0208000000000000000004007000000000ffff00180000232000230001000000000005020000000000ffff001000002320002b000000000000ffff00400000232000230003000000000007030000000000001900100001d6040000000100000000ffff001800002320000700070001d8100000000000000002");
  OfMessage m = decode_ok(fm);
  const FlowMod& f = flow_mod_of(m);
  CHECK(format_flow_mod(f) ==
        "ip actions=ct(commit,table=2,zone=5),ct_clear,"
        "ct(commit,force,table=3,zone=7,exec(set_field:0x1->ct_mark,load:0x2->NXM_NX_CT_LABEL[0..7]))");
  CHECK(hex(encode(m)) == hex(fm));
  // What the exec() does to the connection.
  const ActCt& ct = std::get<ActCt>(f.instructions.apply->at(2));
  CtExecEffect fx = ct_exec_effect(ct);
  CHECK(fx.mark == 1);
  CHECK(fx.mark_mask == 0xffffffffu);
  CHECK(fx.label[15] == 2);
  CHECK(fx.label_mask[15] == 0xff);
  CHECK(fx.label_mask[14] == 0);
  // ct(exec(...)) without commit: OVS's OFPBAC_BAD_ARGUMENT.
  Bytes bad = unhex(
      "040e007000000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000"
      "00000001000a80000a0208000000000000000004003000000000ffff00280000232000230000000000000000ff0000000000001900100001d6040000000100000000");
  check_bad_action(decode(bad, &m, DecodeOptions{}), BadActionCode::kBadArgument);
}

TEST_CASE("ct actions print as ovs-ofctl prints them and parse back", "[ofproto][ct][syntax]") {
  // Texts as `ovs-ofctl -O OpenFlow13 parse-flow` prints them.
  const char* texts[] = {
      "ip actions=ct(commit,table=2,zone=5),ct_clear",
      "ip actions=ct()",
      "ip actions=ct(table=0)",
      "ip actions=ct(zone=65535)",
      "tcp actions=ct(commit,force,table=4,zone=3,exec(load:0x1->NXM_NX_CT_LABEL[116..119],load:0x1->NXM_NX_CT_MARK[0..1]))",
      "ip actions=ct(commit,exec(load:0x1->NXM_NX_CT_MARK[]))",
      "ip actions=ct(commit,exec(set_field:0xf0->ct_label)),output:2",
      "ct_state=-trk,ip actions=ct(table=1)",
  };
  for (const char* t : texts) round_trip(t);
  // Input spellings that print in OVS's form.
  CHECK(format_flow_mod(parse_ok("ip,actions=ct")) == "ip actions=ct()");
  CHECK(format_flow_mod(parse_ok("ip,actions=ct(commit,table=1,zone=2,force)")) ==
        "ip actions=ct(commit,force,table=1,zone=2)");
  CHECK(format_flow_mod(parse_ok("ip,actions=ct(commit,exec(set_field:0xf0/0xf0->ct_mark))")) ==
        "ip actions=ct(commit,exec(load:0xf->NXM_NX_CT_MARK[4..7]))");
  // Refused, never ignored.
  CHECK(parse_error("ip,actions=ct(exec(set_field:1->ct_mark))").find("requires commit") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(commit,exec(set_field:1->ct_zone))").find("ct_zone is read-only") !=
        std::string::npos);
  CHECK(parse_error("ip,actions=ct(commit,exec(output:1))").find("doesn't support nested action output") !=
        std::string::npos);
  CHECK(parse_error("tcp,actions=ct(commit,alg=ftp)").find("alg") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(commit,nat(src=10.0.0.1),nat)").find("only one nat") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(commit,nat(src,dst))").find("May only specify one of") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(zone=70000)").find("zone") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(table=255)").find("invalid table") != std::string::npos);
  CHECK(parse_error("ip,actions=ct(zone=NXM_NX_REG0[0..15])") == "no error");  // a zone from a register
  CHECK(parse_error("ip,actions=ct(zone=NXM_OF_ETH_TYPE[])").find("zone") != std::string::npos);
}

TEST_CASE("ct nat() prints as ovs-ofctl prints it and survives the wire", "[ofproto][ct][syntax][codec]") {
  // ovs-ofctl -O OpenFlow13 parse-flow prints each of these back unchanged.
  for (const char* t : {"ip actions=ct(commit,nat(src=10.0.0.1-10.0.0.9:1024-2047,random),exec(set_field:0x1->ct_mark))",
                        "ip actions=ct(table=1,nat)", "ip actions=ct(commit,nat(src))",
                        "ipv6 actions=ct(commit,zone=3,nat(dst=[2001:db8::1]-[2001:db8::2]:80,persistent))",
                        "ipv6 actions=ct(commit,nat(dst=2001:db8::5))", "ip actions=ct(commit,nat(src=10.0.0.1:80,hash))"})
    round_trip(t);
}

TEST_CASE("ovs-ofctl's NXAST_NAT inside NXAST_CT decodes and encodes byte for byte", "[ofproto][ct][codec]") {
  // Captured (dumpcap on lo) from ovs-ofctl -O OpenFlow13 add-flow.
  struct {
    const char* hex;
    const char* text;
  } cases[] = {
      {"040e009000000006000000000000000000000000000000000000000000000005ffffffffffffffffffffffff000000000001000a"
       "80000a0208000000000000000004005000000000ffff00480000232000230001000000000000ff0000000000ffff002000002320"
       "00240000001100330a0000010a000009040007ff00000000001900100001d6040000000100000000",
       "priority=5, ip actions=ct(commit,nat(src=10.0.0.1-10.0.0.9:1024-2047,random),exec(set_field:0x1->ct_mark))"},
      {"040e007000000006000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000a"
       "80000a0208000000000000000004003000000000ffff00280000232000230000000000000000010000000000ffff001000002320"
       "0024000000000000",
       "ip actions=ct(table=1,nat)"},
      {"040e009800000006000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000a"
       "80000a0286dd0000000000000004005800000000ffff00500000232000230001000000000003ff0000000000ffff003800002320"
       "002400000006001c20010db800000000000000000000000120010db80000000000000000000000020050000000000000",
       "ipv6 actions=ct(commit,zone=3,nat(dst=[2001:db8::1]-[2001:db8::2]:80,persistent))"},
  };
  for (const auto& c : cases) {
    const Bytes fm = unhex(c.hex);
    OfMessage m = decode_ok(fm, {}, c.text);
    CHECK(format_flow_mod(flow_mod_of(m)) == c.text);
    CHECK(hex(encode(m)) == hex(fm));
  }
  // Both src and dst: OVS's OFPBAC_BAD_ARGUMENT.
  std::string bad(cases[1].hex);
  bad.replace(bad.size() - 8, 4, "0003");  // the flags
  OfMessage m;
  check_bad_action(decode(unhex(bad.c_str()), &m, DecodeOptions{}), BadActionCode::kBadArgument);
}

TEST_CASE("nat with the other family's range: OFPBAC_MATCH_INCONSISTENT, as OVS", "[ofproto][ct]") {
  check_bad_action(flow_mod_error("ipv6,actions=ct(commit,nat(src=10.0.0.1))"), BadActionCode::kMatchInconsistent,
                   "IPv4 range needs ip");
}

TEST_CASE("ct needs an IP match: OFPBAC_MATCH_INCONSISTENT, as OVS", "[ofproto][ct]") {
  check_bad_action(flow_mod_error("actions=ct(table=1)"), BadActionCode::kMatchInconsistent,
                   "ct requires ip or ipv6");
}
