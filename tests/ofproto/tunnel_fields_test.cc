// tunnel_fields_test.cc - the OpenFlow tunnel fields (tun_id, tun_src,
// tun_dst, tun_ipv6_src/dst, tun_flags, tun_metadata0..63), the Nicira
// TLV-table messages and the TlvTable: where each field lands in the flow
// key, the NXM_1 encodings ovs-ofctl sends inside OpenFlow 1.3 (the byte
// strings below were captured from ovs-ofctl 3.1 talking to a socket), the
// text syntax as ovs-ofctl prints it, and the TLV table's errors.
#include <arpa/inet.h>
#include <endian.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "bridge.h"
#include "flow_parser.h"
#include "flow_text.h"
#include "hex_bytes.h"
#include "of_codec.h"
#include "tlv_table.h"

using namespace dps::ofproto;
using dps::datapath::FlowKey;

namespace {

using dps::test::hex;
using dps::test::unhex;

// tun_metadata0: 4 bytes at offset 8, tun_metadata1: 8 bytes at 0,
// tun_metadata5: 4 bytes at 12 (not in index order on purpose).
TunMetadataLayout layout() {
  TunMetadataLayout l;
  l.loc[0] = {8, 4};
  l.loc[1] = {0, 8};
  l.loc[5] = {12, 4};
  return l;
}

FieldValue md(uint64_t v) { return FieldValue::from_u64(v, kFieldValueMax); }

FlowMod parse_ok(const std::string& text, const TunMetadataLayout* tlv) {
  FlowMod f;
  MaybeError e = parse_flow(text, &f, FlowParseMode::kAdd, false, tlv);
  INFO("'" << text << "': " << (e ? e->message : std::string("ok")));
  REQUIRE_FALSE(e);
  return f;
}

OfError parse_fail(const std::string& text, const TunMetadataLayout* tlv) {
  FlowMod f;
  MaybeError e = parse_flow(text, &f, FlowParseMode::kAdd, false, tlv);
  INFO("'" << text << "' should fail");
  REQUIRE(e);
  return *e;
}

bool is_nx(const OfError& e, NxErrorCode c) {
  return e.type == OfErrorType::kExperimenter && e.code == static_cast<uint16_t>(c) &&
         e.experimenter == kNxVendorId;
}

}  // namespace

TEST_CASE("tunnel field table: OVS names and NXM_1 numbers", "[ofproto][tunnel]") {
  struct {
    OxmField f;
    const char* name;
    uint16_t cls;
    uint8_t field;
  } want[] = {
      {OxmField::kTunnelId, "tunnel_id", 0x8000, 38},
      {OxmField::kTunIpv4Src, "tun_src", 1, 31},
      {OxmField::kTunIpv4Dst, "tun_dst", 1, 32},
      {OxmField::kTunIpv6Src, "tun_ipv6_src", 1, 109},
      {OxmField::kTunIpv6Dst, "tun_ipv6_dst", 1, 110},
      {OxmField::kTunFlags, "tun_flags", 1, 104},
      {tun_metadata_field(0), "tun_metadata0", 1, 40},
      {tun_metadata_field(63), "tun_metadata63", 1, 103},
  };
  for (const auto& w : want) {
    const OxmFieldInfo& fi = oxm_field_info(w.f);
    CHECK(std::string(fi.name) == w.name);
    CHECK(fi.oxm_class == w.cls);
    CHECK(fi.oxm_field == w.field);
    CHECK(oxm_field_by_name(w.name) == w.f);
    CHECK(oxm_field_by_wire(w.cls, w.field) == w.f);
  }
  // NXM_NX_TUN_ID is the same field as OXM_OF_TUNNEL_ID.
  CHECK(oxm_field_by_wire(1, 16) == OxmField::kTunnelId);
  CHECK(oxm_field_by_nxm_name("NXM_NX_TUN_ID") == OxmField::kTunnelId);
  CHECK(oxm_field_by_nxm_name("NXM_NX_TUN_METADATA7") == tun_metadata_field(7));
  CHECK(oxm_field_by_wire(1, 0) == OxmField::kReg0);  // NXM_NX_REG0
  CHECK_FALSE(oxm_field_by_name("tun_metadata64"));
  for (unsigned i = 0; i < kNumMatchFields; i++)
    CHECK(static_cast<unsigned>(oxm_field_info(static_cast<OxmField>(i)).field) == i);
}

TEST_CASE("tunnel fields land on the flow key's tunnel words", "[ofproto][tunnel]") {
  const TunMetadataLayout tlv = layout();
  OfMatch m;
  REQUIRE_FALSE(m.set_u64(OxmField::kTunnelId, 0x2a));
  REQUIRE_FALSE(m.set_u64_masked(OxmField::kTunIpv4Src, 0x0a000000, 0xff000000));
  REQUIRE_FALSE(m.set_u64(OxmField::kTunIpv4Dst, 0xc0a80001));
  REQUIRE_FALSE(m.set_u64(OxmField::kTunFlags, 1));
  REQUIRE_FALSE(m.set(tun_metadata_field(0), md(0x1234), nullptr, &tlv));
  FieldValue mask = md(0xff00);
  REQUIRE_FALSE(m.set(tun_metadata_field(5), md(0x1200), &mask, &tlv));
  const FlowKey& v = m.value().flow;
  const FlowKey& k = m.mask().flow;
  CHECK(v.tun_id == htobe64(0x2a));  // network order, OVS semantics
  CHECK(k.tun_id == ~uint64_t{0});
  CHECK(v.tun_ipv4_src == htonl(0x0a000000));
  CHECK(k.tun_ipv4_src == htonl(0xff000000));
  CHECK(v.tun_ipv4_dst == htonl(0xc0a80001));
  CHECK(v.tun_flags == dps::datapath::kTunFlagOam);
  CHECK(k.tun_flags == dps::datapath::kTunFlagOam);  // only the oam bit is an OpenFlow bit
  // tun_metadata0 at offset 8, 4 bytes; tun_metadata5 at 12 masked.
  CHECK(v.tun_opts[8] == 0);
  CHECK(v.tun_opts[10] == 0x12);
  CHECK(v.tun_opts[11] == 0x34);
  CHECK(k.tun_opts[8] == 0xff);
  CHECK(k.tun_opts[11] == 0xff);
  CHECK(k.tun_opts[14] == 0xff);
  CHECK(k.tun_opts[15] == 0x00);
  CHECK(v.tun_md_present == ((1u << 0) | (1u << 5)));
  CHECK(k.tun_md_present == ((1u << 0) | (1u << 5)));
  // Nothing outside the tunnel words, nothing the datapath-only parts use.
  CHECK(k.ext_words == 0);
  CHECK(k.tun_tos == 0);
  CHECK(k.tun_opts_len == 0);
  CHECK(m.has(tun_metadata_field(5)));
  CHECK(m.loc_of(tun_metadata_field(5)) == TunMetadataLoc{12, 4});
  CHECK(m.value_of(tun_metadata_field(0)) == md(0x1234));
  CHECK(m.is_exact(tun_metadata_field(0)));
  CHECK_FALSE(m.is_exact(tun_metadata_field(5)));
  CHECK(m.tun_metadata_set() == ((1u << 0) | (1u << 5)));
  CHECK(m.has_tunnel_fields());
  CHECK(m.to_string().find("tun_metadata5=0x1200/0xff00") != std::string::npos);

  // A packet's OpenFlow key matches it (present bits set), one without the
  // option does not even when the bytes agree.
  OfKey key{};
  key.flow.tun_id = htobe64(0x2a);
  key.flow.tun_ipv4_src = htonl(0x0a010203);
  key.flow.tun_ipv4_dst = htonl(0xc0a80001);
  key.flow.tun_flags = dps::datapath::kTunFlagOam | dps::datapath::kTunFlagKey;
  key.flow.tun_opts[10] = 0x12;
  key.flow.tun_opts[11] = 0x34;
  key.flow.tun_opts[14] = 0x12;
  key.flow.tun_opts[15] = 0x99;
  key.flow.tun_md_present = (1u << 0) | (1u << 5);
  CHECK(m.matches(key));
  key.flow.tun_md_present = 1u << 0;
  CHECK_FALSE(m.matches(key));
}

TEST_CASE("tunnel field errors name the field", "[ofproto][tunnel]") {
  const TunMetadataLayout tlv = layout();
  OfMatch m;
  // Not mapped in the TLV table: OVS's NXFMFC_INVALID_TLV_FIELD.
  MaybeError e = m.set(tun_metadata_field(2), md(1), nullptr, &tlv);
  REQUIRE(e);
  CHECK(is_nx(*e, NxErrorCode::kInvalidTlvField));
  CHECK(e->message.find("tun_metadata2") != std::string::npos);
  CHECK(of_error_name(e->type, e->code) == "NXFMFC_INVALID_TLV_FIELD");
  e = m.set(tun_metadata_field(0), md(1));  // no table at all
  REQUIRE(e);
  CHECK(is_nx(*e, NxErrorCode::kInvalidTlvField));
  // Wider than the 4-byte mapping.
  e = m.set(tun_metadata_field(0), md(0x123456789ull), nullptr, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadValue));
  CHECK(e->message.find("4 bytes") != std::string::npos);
  FieldValue wide_mask = md(0xff00000000ull);
  e = m.set(tun_metadata_field(0), md(0), &wide_mask, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadMask));
  FieldValue narrow = md(0xff);
  e = m.set(tun_metadata_field(0), md(0x100), &narrow, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadWildcards));
  REQUIRE_FALSE(m.set(tun_metadata_field(0), md(7), nullptr, &tlv));
  e = m.set(tun_metadata_field(0), md(7), nullptr, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kDupField));
  // tun_flags: only oam; a wider mask is clipped like OVS does.
  e = m.set_u64(OxmField::kTunFlags, 2);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadValue));
  REQUIRE_FALSE(m.set_u64_masked(OxmField::kTunFlags, 1, 0xffff));
  CHECK(m.mask().flow.tun_flags == dps::datapath::kTunFlagOam);
  // clear() forgets a tun_metadata field entirely.
  m.clear(tun_metadata_field(0));
  CHECK_FALSE(m.has(tun_metadata_field(0)));
  CHECK(m.mask().flow.tun_md_present == 0);
  CHECK(m.mask().flow.tun_opts[11] == 0);
}

TEST_CASE("a zero tun_metadata mask matches 'option present'", "[ofproto][tunnel]") {
  const TunMetadataLayout tlv = layout();
  OfMatch m;
  FieldValue zero;
  REQUIRE_FALSE(m.set(tun_metadata_field(1), zero, &zero, &tlv));
  CHECK(m.has(tun_metadata_field(1)));
  CHECK(m.mask().flow.tun_md_present == 2u);
  OfKey key{};
  CHECK_FALSE(m.matches(key));
  key.flow.tun_md_present = 2;
  key.flow.tun_opts[3] = 0x77;
  CHECK(m.matches(key));
  CHECK(format_match(m) == "tun_metadata1");
}

TEST_CASE("from_flow lets the OpenFlow tunnel fields through", "[ofproto][tunnel]") {
  const TunMetadataLayout tlv = layout();
  FlowKey v{}, mk{};
  v.tun_id = htobe64(42);
  mk.tun_id = ~uint64_t{0};
  v.tun_ipv4_dst = htonl(0x01020304);
  mk.tun_ipv4_dst = ~0u;
  v.tun_flags = dps::datapath::kTunFlagOam | dps::datapath::kTunFlagCsum;
  mk.tun_flags = 0xffff;
  v.tun_tos = 5;
  mk.tun_tos = 0xff;  // no OpenFlow field: dropped
  mk.tun_ttl = 0xff;
  mk.tun_tp_dst = 0xffff;
  mk.recirc_id = ~0u;  // not yet an OpenFlow field: dropped
  v.tun_opts[8] = 0xaa;
  v.tun_opts[20] = 0xbb;
  for (auto& b : mk.tun_opts) b = 0xff;
  v.tun_md_present = 1 | (1u << 9);  // tun_metadata9 is not mapped
  mk.tun_md_present = ~uint64_t{0};
  OfMatch m = OfMatch::from_flow(v, mk, nullptr, nullptr, &tlv);
  CHECK(m.has(OxmField::kTunnelId));
  CHECK(m.has(OxmField::kTunIpv4Dst));
  CHECK(m.has(OxmField::kTunFlags));
  CHECK_FALSE(m.has(OxmField::kTunIpv4Src));
  CHECK(m.has(tun_metadata_field(0)));
  CHECK(m.has(tun_metadata_field(1)));  // mapped, masked, value absent: present bit 0
  CHECK_FALSE(m.has(tun_metadata_field(9)));
  CHECK(m.mask().flow.tun_tos == 0);
  CHECK(m.mask().flow.tun_ttl == 0);
  CHECK(m.mask().flow.tun_tp_dst == 0);
  CHECK(m.mask().flow.recirc_id == 0);
  CHECK(m.mask().flow.tun_flags == dps::datapath::kTunFlagOam);
  CHECK(m.mask().flow.tun_opts[20] == 0);  // no mapping covers byte 20
  CHECK(m.value().flow.tun_opts[8] == 0xaa);
  CHECK((m.mask().flow.tun_md_present & (1u << 9)) == 0);
  // Without a table, the options are dropped and the rest stays.
  OfMatch n = OfMatch::from_flow(v, mk);
  CHECK(n.has(OxmField::kTunnelId));
  CHECK(n.mask().flow.tun_md_present == 0);
}

TEST_CASE("packet-in matches carry a packet's tunnel metadata", "[ofproto][tunnel]") {
  const TunMetadataLayout tlv = layout();
  FlowKey f{};
  f.tun_id = htobe64(0x5);
  f.tun_ipv4_src = htonl(0x0a000001);
  f.tun_ipv4_dst = htonl(0x0a000002);
  f.tun_flags = dps::datapath::kTunFlagKey;  // not an OpenFlow bit: no tun_flags
  f.tun_opts[11] = 9;
  f.tun_md_present = 1;
  OfMatch m;
  REQUIRE_FALSE(m.set_u64(OxmField::kInPort, 3));
  m.add_tunnel_metadata(f, &tlv);
  CHECK(format_match(m) == "tun_id=0x5,tun_src=10.0.0.1,tun_dst=10.0.0.2,tun_metadata0=0x9,in_port=3");
  OfMatch plain;
  plain.add_tunnel_metadata(FlowKey{}, &tlv);
  CHECK(plain == OfMatch{});
}

// ---- wire --------------------------------------------------------------------------

TEST_CASE("ovs-ofctl's NXM_1 tunnel OXMs decode (captured flow-mods)", "[ofproto][tunnel][codec]") {
  // ovs-ofctl -O OpenFlow13 add-flow "tun_id=0x2a,tun_src=1.2.3.4,tun_metadata0=0x1234,
  //   actions=set_field:0x2a->tun_id,set_field:1.2.3.4->tun_dst,output:1"
  const Bytes fm1 = unhex(
      "040e008800000002000000000000000000000000000000000000000000008000ffffffffffffffffffffffff0000"
      "00000001001e80004c08000000000000002a00013e0401020304000150021234000000040038000000000019001080"
      "004c08000000000000002a0019001000014004010203040000000000000010000000010000000000000000");
  TunMetadataLayout tlv;
  tlv.loc[0] = {0, 4};
  DecodeOptions opts;
  opts.tlv = &tlv;
  OfMessage m = dps::test::decode_ok(fm1, opts);
  const FlowMod& fm = dps::test::flow_mod_of(m);
  CHECK(format_flow_mod(fm) ==
        "tun_id=0x2a,tun_src=1.2.3.4,tun_metadata0=0x1234 "
        "actions=set_field:0x2a->tun_id,set_field:1.2.3.4->tun_dst,output:1");
  CHECK(fm.match.loc_of(tun_metadata_field(0)) == TunMetadataLoc{0, 4});
  CHECK(fm.match.mask().flow.tun_opts[0] == 0xff);  // exact over the 4-byte mapping
  // Re-encoded, tun_metadata0 takes its mapping's 4 bytes (as OVS sends a match).
  Bytes again = encode(m);
  OfMessage back;
  REQUIRE_FALSE(decode(again, &back, opts));
  CHECK(back == m);
  CHECK(again.size() == fm1.size());  // 2 more OXM bytes, within the padding

  // The same message against a table without tun_metadata0.
  TunMetadataLayout empty;
  opts.tlv = &empty;
  MaybeError e = decode(fm1, &m, opts);
  REQUIRE(e);
  CHECK(is_nx(*e, NxErrorCode::kInvalidTlvField));
  // The error reply names the experimenter (ovs-ofctl prints NXFMFC_INVALID_TLV_FIELD).
  OfMessage reply = make_error_reply(*e, fm1);
  const ErrorMsg& em = std::get<ErrorMsg>(reply.body);
  CHECK(em.type == OfErrorType::kExperimenter);
  CHECK(em.code == 37);
  CHECK(em.experimenter == kNxVendorId);

  // "tun_metadata0=0x1234/0xff00,tun_flags=+oam,tun_ipv6_src=::1,tun_dst=9.9.9.0/24,
  //  actions=set_field:0x5->tun_metadata1" (load/move parts cut off).
  const Bytes fm2 = unhex(
      "040e008000000002"                                                   // header
      "00000000000000000000000000000000" "0000" "0000" "0000" "8000"        // cookie..priority
      "ffffffff" "ffffffff" "ffffffff" "0000" "0000"                       // buffer..pad
      "00010034" "0001d104" "00010001" "00014108" "09090900" "ffffff00"    // match
      "0001da10" "00000000000000000000000000000001" "00015104" "1200ff00" "00000000"
      "00040018" "00000000" "00190010" "00015201" "05000000" "00000000");  // apply
  tlv.loc[1] = {4, 4};
  opts.tlv = &tlv;
  const OfMessage m2 = dps::test::decode_ok(fm2, opts);
  CHECK(format_flow_mod(dps::test::flow_mod_of(m2)) ==
        "tun_dst=9.9.9.0/24,tun_ipv6_src=::1,tun_flags=+oam,tun_metadata0=0x1200/0xff00 "
        "actions=set_field:0x5->tun_metadata1");
}

TEST_CASE("tun_metadata OXMs: zero length, dynamic placement, bad lengths", "[ofproto][tunnel][codec]") {
  {
    // Without a table: placed in index order whatever the OXM order, with
    // the wire lengths (2 and 1 bytes here).
    Bytes m2 = unhex("0001000f" "00015201" "11" "00015002" "1234" "00");
    OfMatch mm;
    size_t n = 0;
    MaybeError e2 = decode_match(m2, &mm, &n);
    INFO((e2 ? e2->message : std::string()));
    REQUIRE_FALSE(e2);
    CHECK(mm.loc_of(tun_metadata_field(0)) == TunMetadataLoc{0, 2});
    CHECK(mm.loc_of(tun_metadata_field(1)) == TunMetadataLoc{2, 1});
  }
  // ovs-ofctl: "tun_metadata0=0,tun_metadata1=0x0/0x0,actions=set_field:0->tun_metadata2,..."
  // sends zero-length OXMs.
  Bytes match = unhex("0001000c0001500000015300" "00000000");
  OfMatch m;
  size_t used = 0;
  MaybeError e = decode_match(match, &m, &used);  // no table: placed as they come
  INFO((e ? e->message : std::string()));
  REQUIRE_FALSE(e);
  CHECK(used == 16);
  CHECK(m.has(tun_metadata_field(0)));
  CHECK(m.has(tun_metadata_field(1)));
  CHECK(format_match(m) == "tun_metadata0=0,tun_metadata1");
  TunMetadataLayout tlv = layout();
  REQUIRE_FALSE(decode_match(match, &m, &used, &tlv));
  CHECK(m.loc_of(tun_metadata_field(1)) == TunMetadataLoc{0, 8});
  CHECK(m.is_exact(tun_metadata_field(0)));  // 0 over all 4 bytes of the mapping
  // Odd masked length, over 124 bytes, nonzero beyond 48 bytes.
  Bytes odd = unhex("000100090001510301020300" "00000000");
  CHECK(decode_match(odd, &m, &used, &tlv)->code == static_cast<uint16_t>(BadMatchCode::kBadLen));
  Bytes big(4 + 4 + 125, 0);
  big[0] = 0, big[1] = 1, big[2] = 0, big[3] = static_cast<uint8_t>(big.size());
  big[4] = 0, big[5] = 1, big[6] = 0x50, big[7] = 125;
  big.resize((big.size() + 7) & ~size_t{7}, 0);
  CHECK(decode_match(big, &m, &used, &tlv)->code == static_cast<uint16_t>(BadMatchCode::kBadLen));
  Bytes wide(4 + 4 + 50, 0);
  wide[1] = 1, wide[3] = static_cast<uint8_t>(wide.size());
  wide[5] = 1, wide[6] = 0x50, wide[7] = 50;
  wide[8] = 1;  // a byte beyond the 48 a flow holds
  wide.resize((wide.size() + 7) & ~size_t{7}, 0);
  CHECK(decode_match(wide, &m, &used, &tlv)->code == static_cast<uint16_t>(BadMatchCode::kBadValue));
  // Unknown NXM_1 field (127; 0 is NXM_NX_REG0 now) and unknown class.
  Bytes unknown = unhex("000100080001fe04" "00000001" "00000000");
  unknown[3] = 12;
  e = decode_match(unknown, &m, &used, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadField));
  CHECK(e->message.find("NXM_1 field 127") != std::string::npos);
}

TEST_CASE("set_field and load on tunnel fields (NXM_1 and NXAST_REG_LOAD)", "[ofproto][tunnel][codec]") {
  TunMetadataLayout tlv = layout();
  // Captured: load:0x2a->NXM_NX_TUN_ID[], load:0x01020304->tun_dst, (move), load:0x3->tun_id[0..7].
  const Bytes load_tun_id = unhex("ffff0018000023200007003f00012008000000000000002a");
  const Bytes load_tun_dst = unhex("ffff0018000023200007001f000140040000000001020304");
  const Bytes move = unhex("ffff00180000232000060020000000000001" "3e0400014004");
  const Bytes partial = unhex("ffff00180000232000070007000120080000000000000003");
  ActionList acts;
  MaybeError e = decode_actions(load_tun_id, &acts, &tlv);
  REQUIRE_FALSE(e);
  REQUIRE(acts.size() == 1);
  CHECK(std::get<ActSetField>(acts[0]) == ActSetField{OxmField::kTunnelId, FieldValue::from_u64(0x2a, 8)});
  REQUIRE_FALSE(decode_actions(load_tun_dst, &acts, &tlv));
  CHECK(format_actions(acts) == "set_field:1.2.3.4->tun_dst");
  e = decode_actions(partial, &acts, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadArgument));
  CHECK(e->message.find("bits 0..7 of tunnel_id") != std::string::npos);
  // NXAST_REG_MOVE between tunnel fields (tun_src -> tun_dst) is a move now.
  e = decode_actions(move, &acts, &tlv);
  REQUIRE_FALSE(e);
  CHECK(format_actions(acts).find("move:") == 0);
  // REG_LOAD2 with a mask (load:0x3->NXM_NX_TUN_METADATA2[0..7]) is a partial load.
  e = decode_actions(unhex("ffff0010000023200021000155020" "3ff"), &acts, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadArgument));
  // A too-short Nicira action, another experimenter.
  CHECK(decode_actions(unhex("ffff000800002320"), &acts, &tlv)->code ==
        static_cast<uint16_t>(BadActionCode::kBadLen));
  CHECK(decode_actions(unhex("ffff00080000abcd"), &acts, &tlv)->code ==
        static_cast<uint16_t>(BadActionCode::kBadExperimenter));

  // set_field tun_metadata: encoded without leading zero bytes (as OVS), any
  // length decodes right-aligned, checked against the table.
  ActSetField s{tun_metadata_field(0), md(0x77)};
  Bytes b;
  encode_actions({s}, &b);
  CHECK(b == unhex("00190010000150017700000000000000"));
  REQUIRE_FALSE(decode_actions(b, &acts, &tlv));
  CHECK(std::get<ActSetField>(acts.at(0)) == s);
  ActSetField zero{tun_metadata_field(5), md(0)};
  b.clear();
  encode_actions({zero}, &b);
  CHECK(b == unhex("0019000800015a00"));  // zero length, like ovs-ofctl
  REQUIRE_FALSE(decode_actions(b, &acts, &tlv));
  CHECK(std::get<ActSetField>(acts.at(0)) == zero);
  ActSetField unmapped{tun_metadata_field(3), md(1)};
  b.clear();
  encode_actions({unmapped}, &b);
  e = decode_actions(b, &acts, &tlv);
  REQUIRE(e);
  CHECK(is_nx(*e, NxErrorCode::kInvalidTlvField));
  ActSetField wide{tun_metadata_field(0), md(0x1122334455ull)};
  b.clear();
  encode_actions({wide}, &b);
  e = decode_actions(b, &acts, &tlv);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadSetArgument));
  // NXM_1 set_field of a fixed field must have its width.
  Bytes bad_len = unhex("001900100001400301020300" "00000000");
  CHECK(decode_actions(bad_len, &acts, &tlv)->code == static_cast<uint16_t>(BadActionCode::kBadSetLen));
}

TEST_CASE("TLV-table messages: ovs-ofctl's bytes, round trips, errors", "[ofproto][tunnel][codec]") {
  // Captured: add-tlv-map "{class=0xffff,type=0,len=4}->tun_metadata0,{class=0x0102,type=0x80,len=8}->tun_metadata1"
  const Bytes add = unhex("040400280000000200002320000000180000000000000000ffff0004000000000102800800010000");
  const Bytes del = unhex("040400200000000200002320000000180001000000000000ffff000400000000");
  const Bytes clear = unhex("040400180000000200002320000000180002000000000000");
  OfMessage m;
  REQUIRE_FALSE(decode(add, &m));
  CHECK(m.body == OfBody{TlvTableMod{TlvTableCommand::kAdd, {{0xffff, 0, 4, 0}, {0x0102, 0x80, 8, 1}}}});
  CHECK(encode(m) == add);
  REQUIRE_FALSE(decode(del, &m));
  CHECK(m.body == OfBody{TlvTableMod{TlvTableCommand::kDelete, {{0xffff, 0, 4, 0}}}});
  CHECK(encode(m) == del);
  REQUIRE_FALSE(decode(clear, &m));
  CHECK(m.body == OfBody{TlvTableMod{TlvTableCommand::kClear, {}}});
  CHECK(encode(m) == clear);
  CHECK(message_type(m.body) == OfpType::kExperimenter);

  Bytes req = encode(OfMessage{kOfpVersion13, 7, TlvTableRequest{}});
  CHECK(req == unhex("040400100000000700002320" "00000019"));
  REQUIRE_FALSE(decode(req, &m));
  CHECK(std::holds_alternative<TlvTableRequest>(m.body));
  TlvTableReply rep{48, 64, {{0xffff, 0, 4, 0}, {0x0102, 0x80, 8, 1}}};
  Bytes rb = encode(OfMessage{kOfpVersion13, 7, rep});
  CHECK(rb.size() == 16 + 16 + 16);
  REQUIRE_FALSE(decode(rb, &m));
  CHECK(m.body == OfBody{rep});

  auto code_of = [](Bytes b) {
    OfMessage out;
    MaybeError e = decode(b, &out);
    REQUIRE(e);
    return std::make_pair(e->type, e->code);
  };
  Bytes bad = add;
  bad[17] = 3;  // command
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kExperimenter, uint16_t{16}));
  bad = add;
  bad[27] = 5;  // option length not a multiple of 4
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kExperimenter, uint16_t{17}));
  bad = add;
  bad[27] = 128;
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kExperimenter, uint16_t{17}));
  bad = add;
  bad[29] = 64;  // index
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kExperimenter, uint16_t{18}));
  bad = add;
  bad.resize(36);  // half a mapping
  bad[3] = 36;
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kBadRequest, uint16_t(BadRequestCode::kBadLen)));
  bad = clear;
  bad.resize(20);
  bad[3] = 20;
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kBadRequest, uint16_t(BadRequestCode::kBadLen)));
  bad = req;
  bad.push_back(0);
  bad[3] = 17;
  CHECK(code_of(bad) == std::make_pair(OfErrorType::kBadRequest, uint16_t(BadRequestCode::kBadLen)));
  // Other Nicira subtypes stay unsupported for the switch.
  Bytes other = clear;
  other[15] = 0x10;
  CHECK(code_of(other) == std::make_pair(OfErrorType::kBadRequest, uint16_t(BadRequestCode::kBadExperimenter)));
}

TEST_CASE("tunnel messages survive random corruption", "[ofproto][tunnel][codec]") {
  TunMetadataLayout tlv = layout();
  FlowMod fm = parse_ok(
      "tun_id=0x2a/0xff,tun_src=10.0.0.0/8,tun_dst=1.2.3.4,tun_ipv6_dst=2001:db8::1,tun_flags=-oam,"
      "tun_metadata0=0x1234,tun_metadata1=0x5/0xff,tun_metadata5 actions=set_field:0x77->tun_metadata5,"
      "set_field:9.9.9.9->tun_dst,set_field:0x3->tun_id,output:1",
      &tlv);
  std::vector<Bytes> seeds = {
      encode(OfMessage{kOfpVersion13, 1, FlowModMsg{fm, kOfpNoBuffer}}),
      encode(OfMessage{kOfpVersion13, 2, TlvTableMod{TlvTableCommand::kAdd, {{1, 2, 4, 3}, {5, 6, 8, 7}}}}),
      encode(OfMessage{kOfpVersion13, 3, TlvTableReply{48, 64, {{1, 2, 4, 3}}}}),
  };
  std::mt19937 rng(13);
  DecodeOptions with_table;
  with_table.tlv = &tlv;
  size_t decoded = 0;
  for (const Bytes& seed : seeds) {
    OfMessage m;
    REQUIRE_FALSE(decode(seed, &m, with_table));
    for (int i = 0; i < 3000; i++) {
      Bytes b = seed;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; k++) b[8 + rng() % (b.size() - 8)] ^= static_cast<uint8_t>(1u << (rng() % 8));
      for (const DecodeOptions& o : {with_table, DecodeOptions{}}) {
        OfMessage out;
        if (decode(b, &out, o)) continue;
        decoded++;
        // What decodes re-encodes and decodes to the same thing (without a
        // table too: tun_metadata is placed in index order, canonically).
        Bytes again = encode(out);
        OfMessage back;
        MaybeError e = decode(again, &back, o);
        INFO(hex(b) << "\n" << (e ? e->message : std::string()));
        REQUIRE_FALSE(e);
        CHECK(back == out);
        CHECK(encode(back) == again);
      }
    }
  }
  CHECK(decoded > 100);
}

// ---- text syntax -------------------------------------------------------------------

TEST_CASE("tunnel fields print as ovs-ofctl prints them and parse back", "[ofproto][tunnel][syntax]") {
  TunMetadataLayout tlv;
  tlv.loc[0] = {0, 4};
  tlv.loc[1] = {4, 4};
  tlv.loc[2] = {8, 8};
  tlv.loc[3] = {16, 4};
  // Texts exactly as `ovs-ofctl -O OpenFlow13 parse-flow` prints them.
  const char* texts[] = {
      "tcp,tun_id=0x5,tun_src=1.1.1.1,tun_dst=2.2.2.0/24,tun_ipv6_src=fe80::/10,tun_ipv6_dst=::1,"
      "tun_flags=+oam,tun_metadata0=0x1,tun_metadata1=0x102/0xff0f,tun_metadata3=0,in_port=1,"
      "dl_src=00:00:00:00:00:01,tp_dst=80 actions=set_field:0->tun_metadata2,"
      "set_field:::2->tun_ipv6_src,set_field:0x1->tun_id",
      "tun_id=0x5/0xff,tun_src=1.0.0.0/8,tun_dst=2.0.2.0/255.0.255.0,tun_flags=-oam "
      "actions=set_field:1.2.3.4->tun_src,set_field:fe80::1->tun_ipv6_dst",
      "tun_flags=+oam,tun_metadata0=0x1 actions=drop",
      "tun_metadata0 actions=drop",
      "tun_metadata0=0x1/0x1 actions=drop",
      "tun_id=0x5,tun_src=1.2.3.4 actions=drop",
      "tun_metadata2=0x1122334455667788 actions=set_field:0xabcd->tun_metadata0,output:3",
  };
  for (const char* t : texts) {
    FlowMod f = parse_ok(t, &tlv);
    CHECK(format_flow_mod(f) == t);
    // Through the wire and back.
    DecodeOptions o;
    o.tlv = &tlv;
    OfMessage m;
    MaybeError e = decode(encode(OfMessage{kOfpVersion13, 1, FlowModMsg{f, kOfpNoBuffer}}), &m, o);
    INFO(t << ": " << (e ? e->message : std::string()));
    REQUIRE_FALSE(e);
    CHECK(format_flow_mod(std::get<FlowModMsg>(m.body).mod) == t);
  }
  // Input spellings that print in OVS's form.
  struct {
    const char* in;
    const char* out;
  } forms[] = {
      {"tun_id=0x5/0xffffffffffffffff,tun_src=1.2.3.4/32,actions=drop", "tun_id=0x5,tun_src=1.2.3.4 actions=drop"},
      {"tun_metadata0=0x1234/0xff00,actions=drop", "tun_metadata0=0x1200/0xff00 actions=drop"},
      {"tun_flags=oam,tun_metadata0=0x00000001,actions=drop", "tun_flags=+oam,tun_metadata0=0x1 actions=drop"},
      {"tunnel_id=42,actions=drop", "tun_id=0x2a actions=drop"},
      {"actions=load:0x2a->NXM_NX_TUN_ID[],load:0x01020304->tun_dst,load:1->NXM_NX_TUN_FLAGS[]",
       "actions=set_field:0x2a->tun_id,set_field:1.2.3.4->tun_dst,set_field:+oam->tun_flags"},
      {"actions=set_field:-oam->tun_flags", "actions=set_field:-oam->tun_flags"},
      {"actions=load:0x5->NXM_NX_TUN_METADATA1[]", "actions=set_field:0x5->tun_metadata1"},
  };
  for (const auto& f : forms) {
    INFO(f.in);
    CHECK(format_flow_mod(parse_ok(f.in, &tlv)) == f.out);
  }
}

TEST_CASE("tunnel syntax errors", "[ofproto][tunnel][syntax]") {
  TunMetadataLayout tlv = layout();
  OfError e = parse_fail("tun_metadata2=1,actions=drop", &tlv);
  CHECK(is_nx(e, NxErrorCode::kInvalidTlvField));
  CHECK(e.message.find("tun_metadata2") != std::string::npos);
  e = parse_fail("actions=set_field:1->tun_metadata2", &tlv);
  CHECK(is_nx(e, NxErrorCode::kInvalidTlvField));
  e = parse_fail("tun_metadata0=0x123456789,actions=drop", &tlv);
  CHECK(e.code == static_cast<uint16_t>(BadMatchCode::kBadValue));
  e = parse_fail("actions=set_field:0x123456789->tun_metadata0", &tlv);
  CHECK(e.code == static_cast<uint16_t>(BadActionCode::kBadSetArgument));
  CHECK(parse_fail("tun_flags=+csum,actions=drop", &tlv).message.find("unknown tunnel flag 'csum'") !=
        std::string::npos);
  CHECK(parse_fail("tun_src=1.2.3.400,actions=drop", &tlv).message.find("tun_src") != std::string::npos);
  CHECK(parse_fail("tun_metadata0=0xzz,actions=drop", &tlv).message.find("tun_metadata0") != std::string::npos);
  CHECK(parse_fail("actions=load:0x3->tun_id[0..7]", &tlv).message.find("part of tunnel_id") != std::string::npos);
  CHECK(parse_fail("actions=move:NXM_NX_TUN_ID[0..31]->NXM_NX_XXREG0[]", &tlv).message.find("XXREG0") !=
        std::string::npos);  // (to a register it is a move now; xxreg is not supported)
  CHECK(parse_fail("actions=set_field:1/1->tun_id", &tlv).message.find("no mask") != std::string::npos);
  // Without a table (ovs-ofctl's view) tun_metadata is placed in order.
  FlowMod f = parse_ok("tun_metadata3=0x1234,tun_metadata1=0x5 actions=drop", nullptr);
  CHECK(f.match.loc_of(tun_metadata_field(3)) == TunMetadataLoc{0, 2});
  CHECK(f.match.loc_of(tun_metadata_field(1)) == TunMetadataLoc{2, 1});
}

// ---- TLV table ---------------------------------------------------------------------

TEST_CASE("TLV table: add, delete, clear, all-or-nothing, NXTTMFC errors", "[ofproto][tunnel][tlv]") {
  TlvTable t;
  CHECK(t.version() == 0);
  REQUIRE_FALSE(t.add({{0xffff, 0, 4, 0}, {0x0102, 0x80, 8, 1}}));
  CHECK(t.version() == 1);
  REQUIRE(t.by_index(1));
  CHECK(*t.by_index(1) == TlvMapping{0x0102, 0x80, 8, 1, 4});
  CHECK(t.by_option(0xffff, 0, 4)->index == 0);
  CHECK_FALSE(t.by_option(0xffff, 0, 8));  // length must match too
  CHECK(t.layout().loc[1] == TunMetadataLoc{4, 8});
  CHECK_FALSE(t.layout().mapped(2));

  auto nx = [](MaybeError e) {
    REQUIRE(e);
    CHECK(e->type == OfErrorType::kExperimenter);
    CHECK(e->experimenter == kNxVendorId);
    return static_cast<NxErrorCode>(e->code);
  };
  CHECK(nx(t.add({{1, 1, 4, 0}})) == NxErrorCode::kTtmAlreadyMapped);
  CHECK(nx(t.add({{0xffff, 0, 8, 9}})) == NxErrorCode::kTtmDupEntry);  // same class/type, any length
  CHECK(nx(t.add({{1, 1, 6, 2}})) == NxErrorCode::kTtmBadOptLen);
  CHECK(nx(t.add({{1, 1, 0, 2}})) == NxErrorCode::kTtmBadOptLen);
  CHECK(nx(t.add({{1, 1, 4, 64}})) == NxErrorCode::kTtmBadFieldIdx);
  CHECK(nx(t.add({{1, 1, 4, 2}, {1, 2, 4, 2}})) == NxErrorCode::kTtmAlreadyMapped);  // twice in one message
  // 48 bytes of space: 12 used, 36 left.
  CHECK(nx(t.add({{1, 1, 32, 2}, {1, 2, 8, 3}})) == NxErrorCode::kTtmTableFull);
  CHECK(t.version() == 1);  // nothing of the failed adds stayed
  CHECK(t.mappings().size() == 2);
  REQUIRE_FALSE(t.add({{1, 1, 36, 2}}));
  CHECK(t.layout().loc[2] == TunMetadataLoc{12, 36});
  CHECK(nx(t.add({{1, 2, 4, 3}})) == NxErrorCode::kTtmTableFull);
  // Delete by index; an index not mapped is a no-op (as OVS).
  REQUIRE_FALSE(t.remove({{0, 0, 0, 0}, {0, 0, 0, 40}}));
  CHECK_FALSE(t.by_index(0));
  REQUIRE_FALSE(t.add({{7, 7, 4, 4}}));
  CHECK(t.layout().loc[4] == TunMetadataLoc{0, 4});  // first fit: the freed bytes
  TlvTableReply r = t.reply();
  CHECK(r.max_option_space == 48);
  CHECK(r.max_fields == 64);
  REQUIRE(r.maps.size() == 3);
  CHECK(r.maps[0] == TlvMap{0x0102, 0x80, 8, 1});  // index order
  REQUIRE_FALSE(t.apply(TlvTableMod{TlvTableCommand::kClear, {}}));
  CHECK(t.mappings().empty());
  CHECK(t.layout() == TunMetadataLayout{});
}

TEST_CASE("TLV table: mappings used by rules cannot be deleted", "[ofproto][tunnel][tlv]") {
  TlvTable t;
  Bridge br;
  t.attach(&br);
  REQUIRE_FALSE(t.add({{0xffff, 0, 4, 0}, {0xffff, 1, 4, 1}, {0xffff, 2, 4, 2}}));
  FlowMod fm = parse_ok("priority=5,tun_metadata0=0x1 actions=output:1", &t.layout());
  REQUIRE_FALSE(br.pipeline.flow_mod(fm, 0));
  fm = parse_ok("priority=6 actions=set_field:0x2->tun_metadata1,output:1", &t.layout());
  REQUIRE_FALSE(br.pipeline.flow_mod(fm, 0));
  CHECK(t.indices_in_use() == 3u);
  MaybeError e = t.remove({{0xffff, 0, 4, 0}});
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(NxErrorCode::kTtmInvalidTlvDel));
  CHECK(of_error_name(e->type, e->code) == "NXTTMFC_INVALID_TLV_DEL");
  e = t.remove({{0xffff, 1, 4, 1}});
  REQUIRE(e);
  e = t.clear();
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(NxErrorCode::kTtmInvalidTlvDel));
  REQUIRE_FALSE(t.remove({{0xffff, 2, 4, 2}}));  // unused: fine
  CHECK(t.mappings().size() == 2);
  t.detach(&br);
  CHECK(t.indices_in_use() == 0);
  REQUIRE_FALSE(t.clear());
}
