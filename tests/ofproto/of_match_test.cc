// of_match_test.cc - OfMatch: field encoding into key space, value/mask
// checks, prerequisites (with the field and prerequisite named), FlowKey
// conversion and matching with wildcard recording.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "of_match.h"

using namespace dps::ofproto;
using dps::datapath::FlowKey;

namespace {

OfKey tcp_key(uint32_t in_port, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  OfKey k;
  k.flow.in_port = in_port;
  k.flow.eth_type = htons(0x0800);
  k.flow.nw_proto = 6;
  k.flow.nw_src = htonl(src);
  k.flow.nw_dst = htonl(dst);
  k.flow.tp_src = htons(sport);
  k.flow.tp_dst = htons(dport);
  return k;
}

// One OXM field to set: exact when mask is 0.
struct FieldSetting {
  OxmField field;
  uint64_t value;
  uint64_t mask = 0;
};

OfMatch match_of(const std::vector<FieldSetting>& fields) {
  OfMatch m;
  for (const FieldSetting& f : fields) {
    MaybeError e = f.mask ? m.set_u64_masked(f.field, f.value, f.mask) : m.set_u64(f.field, f.value);
    INFO(oxm_field_info(f.field).name << ": " << (e ? e->message : ""));
    REQUIRE_FALSE(e);
  }
  return m;
}

}  // namespace

TEST_CASE("OXM field table uses OpenFlow 1.3 numbers and names", "[ofproto]") {
  CHECK(static_cast<int>(OxmField::kIpv4Dst) == 12);
  CHECK(static_cast<int>(OxmField::kTunnelId) == 38);
  CHECK(static_cast<int>(OxmField::kIpv6Exthdr) == 39);
  for (unsigned i = 0; i < kNumOxmFields; i++) {
    const OxmFieldInfo& fi = oxm_field_info(static_cast<OxmField>(i));
    CHECK(static_cast<unsigned>(fi.field) == i);
    auto back = oxm_field_by_name(fi.name);
    REQUIRE(back);
    CHECK(*back == fi.field);
  }
  CHECK(oxm_field_info(OxmField::kVlanVid).width == 2);
  CHECK(oxm_field_info(OxmField::kVlanVid).bits == 13);
  CHECK(oxm_field_info(OxmField::kPbbIsid).width == 3);
  CHECK_FALSE(oxm_field_by_name("nw_dst"));  // OVS name, not OXM
}

TEST_CASE("fields land on the datapath key encoding", "[ofproto]") {
  OfMatch m;
  REQUIRE_FALSE(m.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(m.set_u64(OxmField::kVlanVid, 0x1000 | 100));
  REQUIRE_FALSE(m.set_u64(OxmField::kVlanPcp, 5));
  REQUIRE_FALSE(m.set_u64(OxmField::kIpDscp, 46));
  REQUIRE_FALSE(m.set_u64(OxmField::kIpEcn, 1));
  REQUIRE_FALSE(m.set_u64(OxmField::kIpProto, 17));
  REQUIRE_FALSE(m.set_u64_masked(OxmField::kIpv4Dst, 0x0a000000, 0xff000000));
  REQUIRE_FALSE(m.set_u64(OxmField::kUdpDst, 53));
  REQUIRE_FALSE(m.set_u64_masked(OxmField::kMetadata, 0x5, 0xff));
  const FlowKey& v = m.value().flow;
  const FlowKey& k = m.mask().flow;
  CHECK(v.eth_type == htons(0x0800));
  CHECK(k.eth_type == 0xffff);
  CHECK(v.vlan_tci == htons(0xa000 | 0x1000 | 100));
  CHECK(k.vlan_tci == 0xffff);
  CHECK(v.nw_tos == ((46 << 2) | 1));
  CHECK(k.nw_tos == 0xff);
  CHECK(v.nw_dst == htonl(0x0a000000));
  CHECK(k.nw_dst == htonl(0xff000000));
  CHECK(v.tp_dst == htons(53));
  CHECK(m.value().pipe.metadata == 5);
  CHECK(m.mask().pipe.metadata == 0xff);
  CHECK(m.value_of(OxmField::kIpv4Dst).to_u64(4) == 0x0a000000);
  CHECK_FALSE(m.is_exact(OxmField::kIpv4Dst));
  CHECK(m.is_exact(OxmField::kUdpDst));
  CHECK_FALSE(m.check_prerequisites());
  FlowKey fv, fm;
  CHECK_FALSE(m.to_flow(&fv, &fm));  // metadata is pipeline-only
  CHECK(fv.tp_dst == htons(53));

  OfMatch mpls;
  REQUIRE_FALSE(mpls.set_u64(OxmField::kEthType, 0x8847));
  REQUIRE_FALSE(mpls.set_u64(OxmField::kMplsLabel, 0xabcde));
  REQUIRE_FALSE(mpls.set_u64(OxmField::kMplsTc, 5));
  REQUIRE_FALSE(mpls.set_u64(OxmField::kMplsBos, 1));
  CHECK(mpls.value().flow.mpls_lse == htonl((0xabcdeu << 12) | (5u << 9) | (1u << 8)));
  CHECK(mpls.mask().flow.mpls_lse == htonl(0xffffff00u));
  CHECK(mpls.to_flow(&fv, &fm));
}

TEST_CASE("set() rejects bad values, masks and duplicates with the field named", "[ofproto]") {
  OfMatch m;
  auto e = m.set_u64(OxmField::kVlanPcp, 8);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadMatch);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadValue));
  CHECK(e->message.find("vlan_pcp") != std::string::npos);

  e = m.set_u64_masked(OxmField::kIpProto, 6, 0x0f);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadMask));

  e = m.set_u64_masked(OxmField::kIpv4Src, 0x01020304, 0xffff0000);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadWildcards));

  REQUIRE_FALSE(m.set_u64(OxmField::kIpv4Src, 1));
  e = m.set_u64(OxmField::kIpv4Src, 2);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kDupField));
  e = m.set_u64(OxmField::kArpSpa, 2);  // same key bits
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kDupField));

  e = m.set_u64(OxmField::kArpOp, 256);
  REQUIRE(e);
  CHECK(e->message.find("arp_op") != std::string::npos);
}

TEST_CASE("prerequisites are checked transitively and named", "[ofproto]") {
  OfMatch m;
  REQUIRE_FALSE(m.set_u64(OxmField::kTcpDst, 80));
  auto e = m.check_prerequisites();
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadPrereq));
  CHECK(e->message.find("tcp_dst requires ip_proto=6") != std::string::npos);
  CHECK(e->message.find("ip_proto not matched") != std::string::npos);

  REQUIRE_FALSE(m.set_u64(OxmField::kIpProto, 17));
  e = m.check_prerequisites();
  REQUIRE(e);
  // ip_proto itself lacks eth_type, and comes first in OXM order.
  CHECK(e->message.find("ip_proto requires eth_type=0x0800 or eth_type=0x86dd") != std::string::npos);

  REQUIRE_FALSE(m.set_u64(OxmField::kEthType, 0x86dd));
  e = m.check_prerequisites();
  REQUIRE(e);
  CHECK(e->message.find("have ip_proto=17") != std::string::npos);

  // Each match: "" = its prerequisites hold, else what the error names.
  using F = OxmField;
  const std::pair<std::vector<FieldSetting>, const char*> cases[] = {
      {{{F::kEthType, 0x86dd}, {F::kIpProto, 58}, {F::kIcmpv6Type, 136},
        {F::kIpv6NdTll, 0x112233445566}},
       ""},
      {{{F::kEthType, 0x86dd}, {F::kIpProto, 58}, {F::kIcmpv6Type, 136}, {F::kIpv6NdSll, 1}},
       "nd_sll requires icmpv6_type=135"},
      {{{F::kVlanPcp, 3}}, "vlan_pcp"},
      {{{F::kVlanPcp, 3}, {F::kVlanVid, 0x1000, 0x1000}}, ""},
      {{{F::kVlanVid, kOfpVidNone}, {F::kVlanPcp, 3}}, "untagged"},
      {{{F::kInPhyPort, 3}}, "in_phy_port requires in_port"},
      {{{F::kEthType, 0x0800}, {F::kArpOp, 1}},
       "arp_op requires eth_type=0x0806 (have eth_type=0x0800)"},
  };
  for (const auto& [fields, error] : cases) {
    INFO("expecting \"" << error << "\"");
    OfMatch c = match_of(fields);
    e = c.check_prerequisites();
    if (!*error) {
      CHECK_FALSE(e);
      continue;
    }
    REQUIRE(e);
    CHECK(e->code == static_cast<uint16_t>(BadMatchCode::kBadPrereq));
    CHECK(e->message.find(error) != std::string::npos);
  }
  // An empty ND target is a match on the field all the same.
  OfMatch ok = match_of(cases[0].first);
  REQUIRE_FALSE(ok.set(OxmField::kIpv6NdTarget, FieldValue{}));
  CHECK_FALSE(ok.check_prerequisites());
}

TEST_CASE("matching records the examined mask; key semantics of VLAN", "[ofproto]") {
  OfMatch m;
  REQUIRE_FALSE(m.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(m.set_u64_masked(OxmField::kIpv4Dst, 0x0a000000, 0xff000000));
  OfKey hit = tcp_key(1, 0x01010101, 0x0a010203, 1000, 80);
  OfKey miss = tcp_key(1, 0x01010101, 0x0b010203, 1000, 80);
  OfMask wc;
  CHECK(m.matches(hit, &wc));
  CHECK(wc.flow.nw_dst == htonl(0xff000000));
  CHECK(wc.flow.eth_type == 0xffff);
  CHECK(wc.flow.tp_dst == 0);
  CHECK(wc.flow.in_port == 0);
  CHECK_FALSE(m.matches(miss));
  FlowMask fwc{};
  CHECK(m.matches(hit.flow, PipelineFields{}, &fwc));
  CHECK(fwc.nw_dst == htonl(0xff000000));
  CHECK_FALSE(m.matches(miss.flow, PipelineFields{}, &fwc));

  OfMatch untagged;
  REQUIRE_FALSE(untagged.set_u64(OxmField::kVlanVid, kOfpVidNone));
  OfMatch tagged;
  REQUIRE_FALSE(tagged.set_u64_masked(OxmField::kVlanVid, 0x1000, 0x1000));
  OfMatch vid0;
  REQUIRE_FALSE(vid0.set_u64(OxmField::kVlanVid, 0x1000));  // VID 0, priority tagged
  OfKey plain = hit;
  OfKey tag0 = hit;
  tag0.flow.vlan_tci = htons(0x1000);
  OfKey tag7 = hit;
  tag7.flow.vlan_tci = htons(0x1007);
  CHECK(untagged.matches(plain));
  CHECK_FALSE(untagged.matches(tag0));
  CHECK(tagged.matches(tag0));
  CHECK(tagged.matches(tag7));
  CHECK_FALSE(tagged.matches(plain));
  CHECK(vid0.matches(tag0));
  CHECK_FALSE(vid0.matches(tag7));
  CHECK_FALSE(vid0.matches(plain));
}

TEST_CASE("from_flow derives the OXM fields from a megaflow mask", "[ofproto]") {
  FlowKey v{}, mk{};
  v.eth_type = htons(0x0806);
  mk.eth_type = 0xffff;
  v.nw_src = htonl(0x0a000001);
  mk.nw_src = 0xffffffff;
  v.nw_proto = 2;
  mk.nw_proto = 0xff;
  mk.nw_ttl = 0xff;  // not an OXM field: dropped
  v.arp_sha[5] = 9;
  std::memset(mk.arp_sha, 0xff, 6);
  OfMatch m = OfMatch::from_flow(v, mk);
  CHECK(m.has(OxmField::kArpSpa));
  CHECK(m.has(OxmField::kArpOp));
  CHECK(m.has(OxmField::kArpSha));
  CHECK_FALSE(m.has(OxmField::kIpv4Src));
  CHECK_FALSE(m.has(OxmField::kIpProto));
  CHECK(m.mask().flow.nw_ttl == 0);
  CHECK_FALSE(m.check_prerequisites());
  CHECK(m.to_string() == "eth_type=0x0806,arp_op=2,arp_spa=10.0.0.1,arp_sha=00:00:00:00:00:09");

  FlowKey v6{}, m6{};
  v6.eth_type = htons(0x86dd);
  m6.eth_type = 0xffff;
  v6.nw_proto = 58;
  m6.nw_proto = 0xff;
  v6.tp_src = htons(135);
  m6.tp_src = htons(0xff);
  std::memset(m6.arp_sha, 0xff, 6);
  OfMatch n = OfMatch::from_flow(v6, m6);
  CHECK(n.has(OxmField::kIcmpv6Type));
  CHECK(n.has(OxmField::kIpv6NdSll));
  CHECK_FALSE(n.check_prerequisites());
  // Round trip through to_flow keeps value and mask.
  FlowKey bv, bm;
  CHECK(n.to_flow(&bv, &bm));
  CHECK(OfMatch::from_flow(bv, bm) == n);
}

TEST_CASE("overlap and subsumption", "[ofproto]") {
  OfMatch a, b, c;
  REQUIRE_FALSE(a.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(b.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(b.set_u64_masked(OxmField::kIpv4Dst, 0x0a000000, 0xff000000));
  REQUIRE_FALSE(c.set_u64(OxmField::kEthType, 0x86dd));
  CHECK(a.overlaps(b));
  CHECK(b.overlaps(a));
  CHECK_FALSE(a.overlaps(c));
  CHECK(b.subsumed_by(a));
  CHECK_FALSE(a.subsumed_by(b));
  CHECK(a.subsumed_by(OfMatch{}));
  CHECK(a.subsumed_by(a));
}
