#include "of_match.h"

#include <arpa/inet.h>
#include <endian.h>

#include <algorithm>
#include <cstdio>

namespace dps::ofproto {

namespace {

using datapath::kEthTypeArp;
using datapath::kEthTypeIpv4;
using datapath::kEthTypeIpv6;
using datapath::kEthTypeMpls;
using datapath::kEthTypeMplsMcast;
using datapath::kEthTypePbb;

constexpr uint16_t kB = kOxmClassOpenflowBasic;
constexpr uint16_t kN = kOxmClassNxm1;

// Name, wire width, significant bits, maskable, OXM class and number, NXM
// name. Maskability follows OpenFlow 1.3 table 11 plus the L4 ports, which
// OVS also accepts masked. The tunnel fields are OVS's NXM_1 fields
// (meta-flow.xml: tun_src NXM 31, tun_dst 32, tun_flags 104, tun_ipv6_src
// 109, tun_ipv6_dst 110, tun_metadata0..63 40..103).
// flat table
constexpr OxmFieldInfo kFixedFields[] = {
    {OxmField::kInPort, "in_port", 4, 32, false, kB, 0, nullptr},
    {OxmField::kInPhyPort, "in_phy_port", 4, 32, false, kB, 1, nullptr},
    {OxmField::kMetadata, "metadata", 8, 64, true, kB, 2, "OXM_OF_METADATA"},
    {OxmField::kEthDst, "eth_dst", 6, 48, true, kB, 3, "NXM_OF_ETH_DST"},
    {OxmField::kEthSrc, "eth_src", 6, 48, true, kB, 4, "NXM_OF_ETH_SRC"},
    {OxmField::kEthType, "eth_type", 2, 16, false, kB, 5, "NXM_OF_ETH_TYPE"},
    {OxmField::kVlanVid, "vlan_vid", 2, 13, true, kB, 6, nullptr},
    {OxmField::kVlanPcp, "vlan_pcp", 1, 3, false, kB, 7, nullptr},
    {OxmField::kIpDscp, "ip_dscp", 1, 6, false, kB, 8, nullptr},
    {OxmField::kIpEcn, "ip_ecn", 1, 2, false, kB, 9, nullptr},
    {OxmField::kIpProto, "ip_proto", 1, 8, false, kB, 10, "NXM_OF_IP_PROTO"},
    {OxmField::kIpv4Src, "ipv4_src", 4, 32, true, kB, 11, "NXM_OF_IP_SRC"},
    {OxmField::kIpv4Dst, "ipv4_dst", 4, 32, true, kB, 12, "NXM_OF_IP_DST"},
    {OxmField::kTcpSrc, "tcp_src", 2, 16, true, kB, 13, "NXM_OF_TCP_SRC"},
    {OxmField::kTcpDst, "tcp_dst", 2, 16, true, kB, 14, "NXM_OF_TCP_DST"},
    {OxmField::kUdpSrc, "udp_src", 2, 16, true, kB, 15, "NXM_OF_UDP_SRC"},
    {OxmField::kUdpDst, "udp_dst", 2, 16, true, kB, 16, "NXM_OF_UDP_DST"},
    {OxmField::kSctpSrc, "sctp_src", 2, 16, true, kB, 17, nullptr},
    {OxmField::kSctpDst, "sctp_dst", 2, 16, true, kB, 18, nullptr},
    {OxmField::kIcmpv4Type, "icmpv4_type", 1, 8, false, kB, 19, "NXM_OF_ICMP_TYPE"},
    {OxmField::kIcmpv4Code, "icmpv4_code", 1, 8, false, kB, 20, "NXM_OF_ICMP_CODE"},
    {OxmField::kArpOp, "arp_op", 2, 16, false, kB, 21, "NXM_OF_ARP_OP"},
    {OxmField::kArpSpa, "arp_spa", 4, 32, true, kB, 22, "NXM_OF_ARP_SPA"},
    {OxmField::kArpTpa, "arp_tpa", 4, 32, true, kB, 23, "NXM_OF_ARP_TPA"},
    {OxmField::kArpSha, "arp_sha", 6, 48, true, kB, 24, "NXM_NX_ARP_SHA"},
    {OxmField::kArpTha, "arp_tha", 6, 48, true, kB, 25, "NXM_NX_ARP_THA"},
    {OxmField::kIpv6Src, "ipv6_src", 16, 128, true, kB, 26, "NXM_NX_IPV6_SRC"},
    {OxmField::kIpv6Dst, "ipv6_dst", 16, 128, true, kB, 27, "NXM_NX_IPV6_DST"},
    {OxmField::kIpv6Flabel, "ipv6_label", 4, 20, true, kB, 28, "NXM_NX_IPV6_LABEL"},
    {OxmField::kIcmpv6Type, "icmpv6_type", 1, 8, false, kB, 29, "NXM_NX_ICMPV6_TYPE"},
    {OxmField::kIcmpv6Code, "icmpv6_code", 1, 8, false, kB, 30, "NXM_NX_ICMPV6_CODE"},
    {OxmField::kIpv6NdTarget, "nd_target", 16, 128, false, kB, 31, "NXM_NX_ND_TARGET"},
    {OxmField::kIpv6NdSll, "nd_sll", 6, 48, false, kB, 32, "NXM_NX_ND_SLL"},
    {OxmField::kIpv6NdTll, "nd_tll", 6, 48, false, kB, 33, "NXM_NX_ND_TLL"},
    {OxmField::kMplsLabel, "mpls_label", 4, 20, false, kB, 34, nullptr},
    {OxmField::kMplsTc, "mpls_tc", 1, 3, false, kB, 35, nullptr},
    {OxmField::kMplsBos, "mpls_bos", 1, 1, false, kB, 36, nullptr},
    {OxmField::kPbbIsid, "pbb_isid", 3, 24, true, kB, 37, nullptr},
    {OxmField::kTunnelId, "tunnel_id", 8, 64, true, kB, 38, "NXM_NX_TUN_ID"},
    {OxmField::kIpv6Exthdr, "ipv6_exthdr", 2, 9, true, kB, 39, nullptr},
    {OxmField::kTunIpv4Src, "tun_src", 4, 32, true, kN, 31, "NXM_NX_TUN_IPV4_SRC"},
    {OxmField::kTunIpv4Dst, "tun_dst", 4, 32, true, kN, 32, "NXM_NX_TUN_IPV4_DST"},
    {OxmField::kTunIpv6Src, "tun_ipv6_src", 16, 128, true, kN, 109, "NXM_NX_TUN_IPV6_SRC"},
    {OxmField::kTunIpv6Dst, "tun_ipv6_dst", 16, 128, true, kN, 110, "NXM_NX_TUN_IPV6_DST"},
    {OxmField::kTunFlags, "tun_flags", 2, 1, true, kN, 104, "NXM_NX_TUN_FLAGS"},
};
constexpr unsigned kNumFixedFields = std::size(kFixedFields);
// OVS's conntrack fields (meta-flow.xml: NXM_NX_CT_STATE 105, CT_ZONE 106,
// CT_MARK 107, CT_LABEL 108), after tun_metadata0..63.
// flat table
constexpr OxmFieldInfo kCtFields[] = {
    {OxmField::kCtState, "ct_state", 4, 8, true, kN, 105, "NXM_NX_CT_STATE"},
    {OxmField::kCtZone, "ct_zone", 2, 16, false, kN, 106, "NXM_NX_CT_ZONE"},
    {OxmField::kCtMark, "ct_mark", 4, 32, true, kN, 107, "NXM_NX_CT_MARK"},
    {OxmField::kCtLabel, "ct_label", 16, 128, true, kN, 108, "NXM_NX_CT_LABEL"},
};
static_assert(kNumFixedFields == static_cast<unsigned>(OxmField::kTunMetadata0));
constexpr uint8_t kNxmTunMetadata0 = 40;  // NXM_NX_TUN_METADATA0
constexpr uint8_t kNxmTunId = 16;         // NXM_NX_TUN_ID (same field as OXM_OF_TUNNEL_ID)

constexpr bool table_in_order() {
  for (unsigned i = 0; i < kNumFixedFields; i++)
    if (static_cast<unsigned>(kFixedFields[i].field) != i) return false;
  return true;
}
static_assert(table_in_order());

// Every field: the fixed ones, then tun_metadata0..63 (names built once).
struct FieldTable {
  std::array<OxmFieldInfo, kNumMatchFields> info{};
  std::array<std::array<char, 16>, kNumTunMetadata> names{};
  std::array<std::array<char, 24>, kNumTunMetadata> nxm_names{};
  std::array<std::array<char, 8>, kNumRegs> reg_names{};
  std::array<std::array<char, 16>, kNumRegs> reg_nxm_names{};
  std::array<std::array<char, 8>, kNumXregs> xreg_names{};
  std::array<std::array<char, 20>, kNumXregs> xreg_nxm_names{};
  FieldTable() {
    for (unsigned i = 0; i < kNumFixedFields; i++) info[i] = kFixedFields[i];
    for (unsigned n = 0; n < kNumTunMetadata; n++) {
      std::snprintf(names[n].data(), names[n].size(), "tun_metadata%u", n);
      std::snprintf(nxm_names[n].data(), nxm_names[n].size(), "NXM_NX_TUN_METADATA%u", n);
      info[kNumFixedFields + n] = {tun_metadata_field(n), names[n].data(), kFieldValueMax,
                                   kFieldValueMax * 8, true, kN,
                                   static_cast<uint8_t>(kNxmTunMetadata0 + n), nxm_names[n].data()};
    }
    for (const OxmFieldInfo& fi : kCtFields) info[static_cast<unsigned>(fi.field)] = fi;
    // reg0..15: NXM_NX_REG0..15 (NXM_1 fields 0..15); xreg0..7:
    // OXM_OF_PKT_REG0..7 (OFPXMC_PACKET_REGS fields 0..7).
    for (unsigned n = 0; n < kNumRegs; n++) {
      std::snprintf(reg_names[n].data(), reg_names[n].size(), "reg%u", n);
      std::snprintf(reg_nxm_names[n].data(), reg_nxm_names[n].size(), "NXM_NX_REG%u", n);
      info[static_cast<unsigned>(reg_field(n))] = {reg_field(n), reg_names[n].data(), 4, 32, true, kN,
                                                  static_cast<uint8_t>(n), reg_nxm_names[n].data()};
    }
    for (unsigned n = 0; n < kNumXregs; n++) {
      std::snprintf(xreg_names[n].data(), xreg_names[n].size(), "xreg%u", n);
      std::snprintf(xreg_nxm_names[n].data(), xreg_nxm_names[n].size(), "OXM_OF_PKT_REG%u", n);
      info[static_cast<unsigned>(xreg_field(n))] = {xreg_field(n), xreg_names[n].data(), 8, 64, true,
                                                   kOxmClassPacketRegs, static_cast<uint8_t>(n),
                                                   xreg_nxm_names[n].data()};
    }
  }
};
const FieldTable& fields() {
  static const FieldTable t;
  return t;
}

uint16_t ld16(uint16_t be) { return ntohs(be); }
uint16_t st16(uint16_t host) { return htons(host); }
uint32_t ld32(uint32_t be) { return ntohl(be); }
uint32_t st32(uint32_t host) { return htonl(host); }


bool value_fits(const FieldValue& v, const OxmFieldInfo& fi) {
  // The bytes beyond width must be zero, and the leading bits beyond bits.
  for (unsigned i = fi.width; i < kFieldValueMax; i++)
    if (v.bytes[i]) return false;
  unsigned extra = fi.width * 8u - fi.bits;  // leading bits that must be zero
  for (unsigned i = 0; i < fi.width && extra; i++) {
    unsigned n = extra >= 8 ? 8 : extra;
    uint8_t hi = static_cast<uint8_t>(0xff << (8 - n));
    if (v.bytes[i] & hi) return false;
    extra -= n;
  }
  return true;
}

void mac_put(uint8_t* dst, const FieldValue& v) { std::memcpy(dst, v.bytes.data(), 6); }
FieldValue mac_get(const uint8_t* src) { return FieldValue::from_bytes(src, 6); }

// Prerequisite of one field: another field with one of up to two exact
// values, or a special condition.
struct Prereq {
  enum Kind { kNone, kEthType, kIpProto, kIcmpv6Type, kInPortPresent, kVlanPresent } kind;
  uint16_t v1;
  uint16_t v2;  // 0 = only v1
};

Prereq prereq_of(OxmField f) {
  switch (f) {
    case OxmField::kInPhyPort: return {Prereq::kInPortPresent, 0, 0};
    case OxmField::kVlanPcp: return {Prereq::kVlanPresent, 0, 0};
    case OxmField::kIpDscp:
    case OxmField::kIpEcn:
    case OxmField::kIpProto: return {Prereq::kEthType, kEthTypeIpv4, kEthTypeIpv6};
    case OxmField::kIpv4Src:
    case OxmField::kIpv4Dst: return {Prereq::kEthType, kEthTypeIpv4, 0};
    case OxmField::kTcpSrc:
    case OxmField::kTcpDst: return {Prereq::kIpProto, 6, 0};
    case OxmField::kUdpSrc:
    case OxmField::kUdpDst: return {Prereq::kIpProto, 17, 0};
    case OxmField::kSctpSrc:
    case OxmField::kSctpDst: return {Prereq::kIpProto, 132, 0};
    case OxmField::kIcmpv4Type:
    case OxmField::kIcmpv4Code: return {Prereq::kIpProto, 1, 0};
    case OxmField::kArpOp:
    case OxmField::kArpSpa:
    case OxmField::kArpTpa:
    case OxmField::kArpSha:
    case OxmField::kArpTha: return {Prereq::kEthType, kEthTypeArp, 0};
    case OxmField::kIpv6Src:
    case OxmField::kIpv6Dst:
    case OxmField::kIpv6Flabel:
    case OxmField::kIpv6Exthdr: return {Prereq::kEthType, kEthTypeIpv6, 0};
    case OxmField::kIcmpv6Type:
    case OxmField::kIcmpv6Code: return {Prereq::kIpProto, 58, 0};
    case OxmField::kIpv6NdTarget: return {Prereq::kIcmpv6Type, 135, 136};
    case OxmField::kIpv6NdSll: return {Prereq::kIcmpv6Type, 135, 0};
    case OxmField::kIpv6NdTll: return {Prereq::kIcmpv6Type, 136, 0};
    case OxmField::kMplsLabel:
    case OxmField::kMplsTc:
    case OxmField::kMplsBos: return {Prereq::kEthType, kEthTypeMpls, kEthTypeMplsMcast};
    case OxmField::kPbbIsid: return {Prereq::kEthType, kEthTypePbb, 0};
    default: return {Prereq::kNone, 0, 0};
  }
}

std::string hex(uint64_t v, int digits = 0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

const OxmFieldInfo& oxm_field_info(OxmField f) {
  const unsigned i = static_cast<unsigned>(f);
  return i < kNumFixedFields ? kFixedFields[i] : fields().info[i];  // the miss path asks often
}

std::optional<OxmField> oxm_field_by_name(std::string_view name) {
  for (const auto& fi : fields().info)
    if (name == fi.name) return fi.field;
  return std::nullopt;
}

std::optional<OxmField> oxm_field_by_wire(uint16_t oxm_class, uint8_t oxm_field) {
  if (oxm_class == kN && oxm_field == kNxmTunId) return OxmField::kTunnelId;
  if (oxm_class == kN && oxm_field >= kNxmTunMetadata0 && oxm_field < kNxmTunMetadata0 + kNumTunMetadata)
    return tun_metadata_field(oxm_field - kNxmTunMetadata0);
  for (const auto& fi : kFixedFields)
    if (fi.oxm_class == oxm_class && fi.oxm_field == oxm_field) return fi.field;
  for (const auto& fi : kCtFields)
    if (fi.oxm_class == oxm_class && fi.oxm_field == oxm_field) return fi.field;
  if (oxm_class == kN && oxm_field < kNumRegs) return reg_field(oxm_field);
  if (oxm_class == kOxmClassPacketRegs && oxm_field < kNumXregs) return xreg_field(oxm_field);
  return std::nullopt;
}

std::optional<OxmField> oxm_field_by_nxm_name(std::string_view name) {
  for (const auto& fi : fields().info)
    if (fi.nxm_name && name == fi.nxm_name) return fi.field;
  return std::nullopt;
}

FieldValue FieldValue::from_u64(uint64_t v, unsigned width) {
  FieldValue r;
  for (unsigned i = 0; i < width && i < 8; i++)
    r.bytes[width - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
  return r;
}

FieldValue FieldValue::from_bytes(const uint8_t* p, unsigned width) {
  FieldValue r;
  std::memcpy(r.bytes.data(), p, width);
  return r;
}

FieldValue FieldValue::exact(OxmField f) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  FieldValue r;
  unsigned bits = fi.bits;
  for (int i = fi.width - 1; i >= 0 && bits; i--) {
    unsigned n = bits >= 8 ? 8 : bits;
    r.bytes[i] = static_cast<uint8_t>((1u << n) - 1);
    bits -= n;
  }
  return r;
}

uint64_t FieldValue::to_u64(unsigned width) const {
  uint64_t v = 0;
  for (unsigned i = 0; i < width && i < 8; i++) v = (v << 8) | bytes[i];
  return v;
}

void of_key_and(const OfKey& key, const OfMask& mask, OfKey* out) {
  for (unsigned i = 0; i < OfKey::kWords; i++) out->set_word(i, key.word(i) & mask.word(i));
}

void of_mask_or(OfMask* acc, const OfMask& mask) {
  for (unsigned i = 0; i < datapath::kFlowWords; i++) acc->flow.words()[i] |= mask.flow.words()[i];
  acc->pipe.metadata |= mask.pipe.metadata;
  acc->pipe.in_phy_port |= mask.pipe.in_phy_port;
  for (unsigned i = 0; i < kNumRegs; i++) acc->pipe.regs[i] |= mask.pipe.regs[i];
}

bool of_key_matches(const OfKey& key, const OfMask& mask, const OfKey& value) {
  uint64_t diff = 0;
  const FlowKey::FlowWord* k = key.flow.words();
  const FlowKey::FlowWord* m = mask.flow.words();
  const FlowKey::FlowWord* v = value.flow.words();
  for (unsigned i = 0; i < datapath::kFlowWords; i++) diff |= (k[i] & m[i]) ^ v[i];
  diff |= (key.pipe.metadata & mask.pipe.metadata) ^ value.pipe.metadata;
  diff |= (key.pipe.in_phy_port & mask.pipe.in_phy_port) ^ value.pipe.in_phy_port;
  for (unsigned i = 0; i < kNumRegs; i++)
    diff |= (key.pipe.regs[i] & mask.pipe.regs[i]) ^ value.pipe.regs[i];
  return diff == 0;
}

uint64_t of_key_hash(const OfKey& key, const OfMask& mask) {
  uint64_t h = 0x243f6a8885a308d3ull;
  for (unsigned i = 0; i < OfKey::kWords; i++) {
    uint64_t m = mask.word(i);
    if (!m) continue;
    h ^= (key.word(i) & m) + i;
    h *= 0x9e3779b97f4a7c15ull;
    h ^= h >> 32;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

bool of_mask_covers(const OfMask& a, const OfMask& b) {
  for (unsigned i = 0; i < OfKey::kWords; i++)
    if (b.word(i) & ~a.word(i)) return false;
  return true;
}

bool of_mask_is_zero(const OfMask& m) {
  for (unsigned i = 0; i < OfKey::kWords; i++)
    if (m.word(i)) return false;
  return true;
}

namespace {

// The tunnel fields of put_field().
void put_tunnel_field(FlowKey& k, OxmField f, const FieldValue& v, TunMetadataLoc loc) {
  switch (f) {
    case OxmField::kTunIpv4Src: k.tun_ipv4_src = st32(static_cast<uint32_t>(v.to_u64(4))); return;
    case OxmField::kTunIpv4Dst: k.tun_ipv4_dst = st32(static_cast<uint32_t>(v.to_u64(4))); return;
    case OxmField::kTunIpv6Src: std::memcpy(k.tun_ipv6_src, v.bytes.data(), 16); return;
    case OxmField::kTunIpv6Dst: std::memcpy(k.tun_ipv6_dst, v.bytes.data(), 16); return;
    case OxmField::kTunFlags:
      k.tun_flags = static_cast<uint16_t>((k.tun_flags & ~datapath::kTunFlagOam) |
                                          (v.to_u64(2) & datapath::kTunFlagOam));
      return;
    default: break;
  }
  if (!is_tun_metadata(f) || !loc.len || loc.offset + loc.len > datapath::kTunOptsMax) return;
  std::memcpy(k.tun_opts + loc.offset, v.bytes.data() + kFieldValueMax - loc.len, loc.len);
  k.tun_md_present |= uint64_t{1} << tun_metadata_index(f);
}

FieldValue get_tunnel_field(const FlowKey& k, OxmField f, TunMetadataLoc loc) {
  switch (f) {
    case OxmField::kTunIpv4Src: return FieldValue::from_u64(ld32(k.tun_ipv4_src), 4);
    case OxmField::kTunIpv4Dst: return FieldValue::from_u64(ld32(k.tun_ipv4_dst), 4);
    case OxmField::kTunIpv6Src: return FieldValue::from_bytes(k.tun_ipv6_src, 16);
    case OxmField::kTunIpv6Dst: return FieldValue::from_bytes(k.tun_ipv6_dst, 16);
    case OxmField::kTunFlags: return FieldValue::from_u64(k.tun_flags & datapath::kTunFlagOam, 2);
    default: break;
  }
  FieldValue r;
  if (is_tun_metadata(f) && loc.len && loc.offset + loc.len <= datapath::kTunOptsMax)
    std::memcpy(r.bytes.data() + kFieldValueMax - loc.len, k.tun_opts + loc.offset, loc.len);
  return r;
}

// The conntrack fields (host-order numbers, the label as on the wire).
void put_ct_field(FlowKey& k, OxmField f, const FieldValue& v) {
  switch (f) {
    case OxmField::kCtState: k.ct_state = static_cast<uint8_t>(v.to_u64(4)); return;
    case OxmField::kCtZone: k.ct_zone = static_cast<uint16_t>(v.to_u64(2)); return;
    case OxmField::kCtMark: k.ct_mark = static_cast<uint32_t>(v.to_u64(4)); return;
    default: std::memcpy(k.ct_label, v.bytes.data(), 16); return;
  }
}

FieldValue get_ct_field(const FlowKey& k, OxmField f) {
  switch (f) {
    case OxmField::kCtState: return FieldValue::from_u64(k.ct_state, 4);
    case OxmField::kCtZone: return FieldValue::from_u64(k.ct_zone, 2);
    case OxmField::kCtMark: return FieldValue::from_u64(k.ct_mark, 4);
    default: return FieldValue::from_bytes(k.ct_label, 16);
  }
}

}  // namespace

void put_field(OfKey* key, OxmField f, const FieldValue& v, TunMetadataLoc loc) {
  FlowKey& k = key->flow;
  if (is_reg(f)) {
    key->pipe.regs[reg_index(f)] = static_cast<uint32_t>(v.to_u64(4));
    return;
  }
  if (is_xreg(f)) {
    const uint64_t x = v.to_u64(8);
    key->pipe.regs[2 * reg_index(f)] = static_cast<uint32_t>(x >> 32);
    key->pipe.regs[2 * reg_index(f) + 1] = static_cast<uint32_t>(x);
    return;
  }
  if (is_ct_field(f)) return put_ct_field(k, f, v);
  if (static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kTunIpv4Src))
    return put_tunnel_field(k, f, v, loc);
  const OxmFieldInfo& fi = oxm_field_info(f);
  uint64_t n = v.to_u64(fi.width > 8 ? 8 : fi.width);
  switch (f) {
    case OxmField::kInPort: k.in_port = static_cast<uint32_t>(n); break;
    case OxmField::kInPhyPort: key->pipe.in_phy_port = static_cast<uint32_t>(n); break;
    case OxmField::kMetadata: key->pipe.metadata = n; break;
    case OxmField::kEthDst: mac_put(k.dl_dst, v); break;
    case OxmField::kEthSrc: mac_put(k.dl_src, v); break;
    case OxmField::kEthType: k.eth_type = st16(static_cast<uint16_t>(n)); break;
    case OxmField::kVlanVid:
      k.vlan_tci = st16(static_cast<uint16_t>((ld16(k.vlan_tci) & ~0x1fffu) | (n & 0x1fff)));
      break;
    case OxmField::kVlanPcp:
      k.vlan_tci = st16(static_cast<uint16_t>((ld16(k.vlan_tci) & 0x1fffu) | ((n & 7) << 13)));
      break;
    case OxmField::kIpDscp: k.nw_tos = static_cast<uint8_t>((k.nw_tos & 0x03) | ((n & 0x3f) << 2)); break;
    case OxmField::kIpEcn: k.nw_tos = static_cast<uint8_t>((k.nw_tos & 0xfc) | (n & 3)); break;
    case OxmField::kIpProto:
    case OxmField::kArpOp: k.nw_proto = static_cast<uint8_t>(n); break;
    case OxmField::kIpv4Src:
    case OxmField::kArpSpa: k.nw_src = st32(static_cast<uint32_t>(n)); break;
    case OxmField::kIpv4Dst:
    case OxmField::kArpTpa: k.nw_dst = st32(static_cast<uint32_t>(n)); break;
    case OxmField::kTcpSrc:
    case OxmField::kUdpSrc:
    case OxmField::kSctpSrc:
    case OxmField::kIcmpv4Type:
    case OxmField::kIcmpv6Type: k.tp_src = st16(static_cast<uint16_t>(n)); break;
    case OxmField::kTcpDst:
    case OxmField::kUdpDst:
    case OxmField::kSctpDst:
    case OxmField::kIcmpv4Code:
    case OxmField::kIcmpv6Code: k.tp_dst = st16(static_cast<uint16_t>(n)); break;
    case OxmField::kArpSha:
    case OxmField::kIpv6NdSll: mac_put(k.arp_sha, v); break;
    case OxmField::kArpTha:
    case OxmField::kIpv6NdTll: mac_put(k.arp_tha, v); break;
    case OxmField::kIpv6Src: std::memcpy(k.ipv6_src, v.bytes.data(), 16); break;
    case OxmField::kIpv6Dst: std::memcpy(k.ipv6_dst, v.bytes.data(), 16); break;
    case OxmField::kIpv6NdTarget: std::memcpy(k.nd_target, v.bytes.data(), 16); break;
    case OxmField::kIpv6Flabel: k.ipv6_label = st32(static_cast<uint32_t>(n & 0xfffff)); break;
    case OxmField::kMplsLabel:
      k.mpls_lse = st32(static_cast<uint32_t>((ld32(k.mpls_lse) & 0xfffu) | ((n & 0xfffff) << 12)));
      break;
    case OxmField::kMplsTc:
      k.mpls_lse = st32(static_cast<uint32_t>((ld32(k.mpls_lse) & ~0xe00u) | ((n & 7) << 9)));
      break;
    case OxmField::kMplsBos:
      k.mpls_lse = st32(static_cast<uint32_t>((ld32(k.mpls_lse) & ~0x100u) | ((n & 1) << 8)));
      break;
    case OxmField::kPbbIsid: k.ipv6_label = st32(static_cast<uint32_t>(n & 0xffffff)); break;
    case OxmField::kTunnelId: k.tun_id = htobe64(n); break;
    case OxmField::kIpv6Exthdr: k.ipv6_exthdr = static_cast<uint16_t>(n & 0x1ff); break;
    default: break;
  }
}

FieldValue get_field(const OfKey& key, OxmField f, TunMetadataLoc loc) {
  const FlowKey& k = key.flow;
  if (is_reg(f)) return FieldValue::from_u64(key.pipe.regs[reg_index(f)], 4);
  if (is_xreg(f)) {
    const unsigned n = 2 * reg_index(f);
    return FieldValue::from_u64(uint64_t{key.pipe.regs[n]} << 32 | key.pipe.regs[n + 1], 8);
  }
  if (is_ct_field(f)) return get_ct_field(k, f);
  if (static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kTunIpv4Src))
    return get_tunnel_field(k, f, loc);
  const OxmFieldInfo& fi = oxm_field_info(f);
  auto num = [&](uint64_t n) { return FieldValue::from_u64(n, fi.width); };
  switch (f) {
    case OxmField::kInPort: return num(k.in_port);
    case OxmField::kInPhyPort: return num(key.pipe.in_phy_port);
    case OxmField::kMetadata: return num(key.pipe.metadata);
    case OxmField::kEthDst: return mac_get(k.dl_dst);
    case OxmField::kEthSrc: return mac_get(k.dl_src);
    case OxmField::kEthType: return num(ld16(k.eth_type));
    case OxmField::kVlanVid: return num(ld16(k.vlan_tci) & 0x1fff);
    case OxmField::kVlanPcp: return num(ld16(k.vlan_tci) >> 13);
    case OxmField::kIpDscp: return num(k.nw_tos >> 2);
    case OxmField::kIpEcn: return num(k.nw_tos & 3);
    case OxmField::kIpProto:
    case OxmField::kArpOp: return num(k.nw_proto);
    case OxmField::kIpv4Src:
    case OxmField::kArpSpa: return num(ld32(k.nw_src));
    case OxmField::kIpv4Dst:
    case OxmField::kArpTpa: return num(ld32(k.nw_dst));
    case OxmField::kTcpSrc:
    case OxmField::kUdpSrc:
    case OxmField::kSctpSrc: return num(ld16(k.tp_src));
    case OxmField::kIcmpv4Type:
    case OxmField::kIcmpv6Type: return num(ld16(k.tp_src) & 0xff);
    case OxmField::kTcpDst:
    case OxmField::kUdpDst:
    case OxmField::kSctpDst: return num(ld16(k.tp_dst));
    case OxmField::kIcmpv4Code:
    case OxmField::kIcmpv6Code: return num(ld16(k.tp_dst) & 0xff);
    case OxmField::kArpSha:
    case OxmField::kIpv6NdSll: return mac_get(k.arp_sha);
    case OxmField::kArpTha:
    case OxmField::kIpv6NdTll: return mac_get(k.arp_tha);
    case OxmField::kIpv6Src: return FieldValue::from_bytes(k.ipv6_src, 16);
    case OxmField::kIpv6Dst: return FieldValue::from_bytes(k.ipv6_dst, 16);
    case OxmField::kIpv6NdTarget: return FieldValue::from_bytes(k.nd_target, 16);
    case OxmField::kIpv6Flabel: return num(ld32(k.ipv6_label) & 0xfffff);
    case OxmField::kMplsLabel: return num(ld32(k.mpls_lse) >> 12);
    case OxmField::kMplsTc: return num((ld32(k.mpls_lse) >> 9) & 7);
    case OxmField::kMplsBos: return num((ld32(k.mpls_lse) >> 8) & 1);
    case OxmField::kPbbIsid: return num(ld32(k.ipv6_label) & 0xffffff);
    case OxmField::kTunnelId: return num(be64toh(k.tun_id));
    case OxmField::kIpv6Exthdr: return num(k.ipv6_exthdr & 0x1ff);
    default: break;
  }
  return {};
}

MaybeError OfMatch::set(OxmField f, const FieldValue& value, const FieldValue* mask,
                        const TunMetadataLayout* tlv) {
  if (is_tun_metadata(f)) return set_tun_metadata(f, value, mask, tlv);
  if (is_xreg(f)) return set_xreg(f, value, mask);
  const OxmFieldInfo& fi = oxm_field_info(f);
  const std::string name = fi.name;
  if (has(f))
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kDupField,
                         name + " appears more than once in the match");
  if (!value_fits(value, fi))
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadValue,
                         name + " value " + format_field_value(f, value) + " is wider than " +
                             std::to_string(fi.bits) + " bits");
  if (f == OxmField::kArpOp && value.to_u64(2) > 0xff)
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadValue,
                         "arp_op " + std::to_string(value.to_u64(2)) +
                             " is not supported (only opcodes 0..255 are matched)");
  FieldValue m = FieldValue::exact(f);
  FieldValue clipped;
  if (mask && f == OxmField::kTunFlags) {
    // Only the oam bit is an OpenFlow tun_flags bit (OVS clips the mask too).
    clipped = FieldValue::from_u64(mask->to_u64(2) & datapath::kTunFlagOam, 2);
    mask = &clipped;
  }
  if (mask && *mask != m) {
    if (!fi.maskable)
      return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadMask,
                           name + " does not take a mask");
    if (!value_fits(*mask, fi))
      return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadMask,
                           name + " mask " + format_field_value(f, *mask) + " is wider than " +
                               std::to_string(fi.bits) + " bits");
    m = *mask;
  }
  for (unsigned i = 0; i < kFieldValueMax; i++)
    if (value.bytes[i] & ~m.bytes[i])
      return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadWildcards,
                           name + " value " + format_field_value(f, value) +
                               " has bits outside its mask " + format_field_value(f, m));
  // Fields that share key bits (ipv4_src/arp_spa, ...) must not both be set:
  // their prerequisites exclude each other, so report it as a prereq error
  // later, but never let one silently overwrite the other here.
  if (!of_mask_is_zero([&] {
        OfKey probe{};
        put_field(&probe, f, FieldValue::exact(f));
        OfKey inter{};
        of_key_and(probe, mask_, &inter);
        return inter;
      }()))
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kDupField,
                         name + " conflicts with another field of the match that uses the same header bits");
  put_field(&value_, f, value);
  put_field(&mask_, f, m);
  // A zero mask is a wildcard: the field is then simply absent.
  bool zero = true;
  for (unsigned i = 0; i < fi.width; i++) zero &= m.bytes[i] == 0;
  if (!zero) mark(f);
  return std::nullopt;
}

// xregN is the pair reg2N (upper half), reg2N+1 (lower half): each half
// with a non-zero mask becomes that register's match, as ovs-ofctl encodes
// and prints it ("xreg1=5" is "reg2=0,reg3=0x5").
MaybeError OfMatch::set_xreg(OxmField f, const FieldValue& value, const FieldValue* mask) {
  const uint64_t v = value.to_u64(8), m = mask ? mask->to_u64(8) : ~uint64_t{0};
  const std::string name = oxm_field_info(f).name;
  if (v & ~m)
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadWildcards,
                         name + " value " + hex(v) + " has bits outside its mask " + hex(m));
  const unsigned n = 2 * reg_index(f);
  for (unsigned half = 0; half < 2; half++) {
    const unsigned shift = half ? 0 : 32;
    const uint32_t hv = static_cast<uint32_t>(v >> shift), hm = static_cast<uint32_t>(m >> shift);
    if (!hm) continue;
    const FieldValue fm = FieldValue::from_u64(hm, 4);
    if (MaybeError e = set(reg_field(n + half), FieldValue::from_u64(hv, 4), &fm)) return e;
  }
  return std::nullopt;
}

namespace {

// Leading bytes of a right-aligned value that a mapping of len bytes cannot hold.
bool wider_than(const FieldValue& v, unsigned len) {
  for (unsigned i = 0; i + len < kFieldValueMax; i++)
    if (v.bytes[i]) return true;
  return false;
}

}  // namespace

MaybeError OfMatch::set_tun_metadata(OxmField f, const FieldValue& value, const FieldValue* mask,
                                     const TunMetadataLayout* tlv) {
  const unsigned idx = tun_metadata_index(f);
  const std::string name = oxm_field_info(f).name;
  if (has(f))
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kDupField,
                         name + " appears more than once in the match");
  if (!tlv || !tlv->mapped(idx))
    return OfError::nx(NxErrorCode::kInvalidTlvField,
                       name + " is not mapped to a Geneve option in the TLV table "
                              "(ovs-ofctl add-tlv-map)");
  const TunMetadataLoc loc = tlv->loc[idx];
  if (loc.offset + loc.len > datapath::kTunOptsMax)
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadField,
                         name + " is mapped beyond the option bytes a flow holds");
  const std::string len_text = std::to_string(loc.len) + " bytes of its TLV mapping";
  if (wider_than(value, loc.len))
    return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadValue,
                         name + " value " + format_field_value(f, value) + " is wider than the " + len_text);
  FieldValue m;
  for (unsigned i = kFieldValueMax - loc.len; i < kFieldValueMax; i++) m.bytes[i] = 0xff;
  if (mask) {
    if (wider_than(*mask, loc.len))
      return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadMask,
                           name + " mask " + format_field_value(f, *mask) + " is wider than the " + len_text);
    m = *mask;
  }
  for (unsigned i = 0; i < kFieldValueMax; i++)
    if (value.bytes[i] & ~m.bytes[i])
      return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadWildcards,
                           name + " value " + format_field_value(f, value) +
                               " has bits outside its mask " + format_field_value(f, m));
  for (unsigned i = 0; i < loc.len; i++)
    if (mask_.flow.tun_opts[loc.offset + i])
      return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kDupField,
                           name + " shares option bytes with another tun_metadata field of the match");
  // Value and mask both carry the present bit: a packet without the option
  // never matches, even a zero mask (OVS's "tun_metadataN" alone).
  put_field(&value_, f, value, loc);
  put_field(&mask_, f, m, loc);
  md_loc_[idx] = loc;
  mark(f);
  return std::nullopt;
}

MaybeError OfMatch::set_u64(OxmField f, uint64_t value) {
  return set(f, FieldValue::from_u64(value, oxm_field_info(f).width));
}

MaybeError OfMatch::set_u64_masked(OxmField f, uint64_t value, uint64_t mask) {
  unsigned w = oxm_field_info(f).width;
  FieldValue m = FieldValue::from_u64(mask, w);
  return set(f, FieldValue::from_u64(value, w), &m);
}

void OfMatch::clear(OxmField f) {
  if (!has(f)) return;
  if (is_tun_metadata(f)) {
    const TunMetadataLoc loc = loc_of(f);
    for (OfKey* k : {&value_, &mask_}) {
      std::memset(k->flow.tun_opts + loc.offset, 0, loc.len);
      k->flow.tun_md_present &= ~(uint64_t{1} << tun_metadata_index(f));
    }
    md_loc_[tun_metadata_index(f)] = {};
  } else {
    put_field(&value_, f, FieldValue{});
    put_field(&mask_, f, FieldValue{});
  }
  unmark(f);
}

void OfMatch::force(OxmField f, const FieldValue& value) {
  if (is_tun_metadata(f)) return;  // no placement here; nothing shares its bits
  OfKey probe{};
  put_field(&probe, f, FieldValue::exact(f));
  // Forget every field that shares bits with f.
  for (unsigned i = 0; i < kNumFixedFields; i++) {
    OxmField g = static_cast<OxmField>(i);
    if (!has(g)) continue;
    OfKey pg{};
    put_field(&pg, g, FieldValue::exact(g));
    OfKey inter{};
    of_key_and(pg, probe, &inter);
    if (!of_mask_is_zero(inter)) clear(g);
  }
  put_field(&value_, f, value);
  put_field(&mask_, f, FieldValue::exact(f));
  mark(f);
}

bool OfMatch::has_tunnel_fields() const {
  if (has(OxmField::kTunnelId)) return true;
  for (unsigned i = static_cast<unsigned>(OxmField::kTunIpv4Src); i < kNumMatchFields; i++)
    if (is_tunnel_field(static_cast<OxmField>(i)) && has(static_cast<OxmField>(i))) return true;
  return false;
}

uint64_t OfMatch::tun_metadata_set() const {
  uint64_t out = 0;
  for (unsigned n = 0; n < kNumTunMetadata; n++)
    if (has(tun_metadata_field(n))) out |= uint64_t{1} << n;
  return out;
}

bool OfMatch::is_exact(OxmField f) const {
  if (is_tun_metadata(f)) {
    const TunMetadataLoc loc = loc_of(f);
    for (unsigned i = 0; i < loc.len; i++)
      if (mask_.flow.tun_opts[loc.offset + i] != 0xff) return false;
    return true;
  }
  // Exact as far as the key can hold it (arp_op keeps only its low byte).
  OfKey full{};
  put_field(&full, f, FieldValue::exact(f));
  return get_field(mask_, f) == get_field(full, f);
}

namespace {

std::string prereq_text(const Prereq& p) {
  switch (p.kind) {
    case Prereq::kEthType:
      return "eth_type=" + hex(p.v1, 4) + (p.v2 ? " or eth_type=" + hex(p.v2, 4) : "");
    case Prereq::kIpProto:
      return "ip_proto=" + std::to_string(p.v1) + (p.v2 ? " or " + std::to_string(p.v2) : "");
    case Prereq::kIcmpv6Type:
      return "icmpv6_type=" + std::to_string(p.v1) + (p.v2 ? " or " + std::to_string(p.v2) : "");
    case Prereq::kInPortPresent: return "in_port";
    case Prereq::kVlanPresent: return "a VLAN tag (vlan_vid with OFPVID_PRESENT)";
    case Prereq::kNone: break;
  }
  return "";
}

}  // namespace

// Direct prerequisite of f only (not transitive); *have describes what the
// match has instead when it fails.
static bool direct_prereq_holds(const OfMatch& m, OxmField f, std::string* have) {
  Prereq p = prereq_of(f);
  const FlowKey& v = m.value().flow;
  const FlowKey& k = m.mask().flow;
  auto one_of = [&](uint64_t x) { return x == p.v1 || (p.v2 && x == p.v2); };
  switch (p.kind) {
    case Prereq::kNone: return true;
    case Prereq::kInPortPresent:
      if (k.in_port == 0xffffffffu) return true;
      *have = "in_port not matched";
      return false;
    case Prereq::kVlanPresent:
      if ((ld16(k.vlan_tci) & kOfpVidPresent) && (ld16(v.vlan_tci) & kOfpVidPresent)) return true;
      *have = (ld16(k.vlan_tci) & kOfpVidPresent) ? "match is for untagged packets"
                                                  : "vlan_vid not matched";
      return false;
    case Prereq::kEthType:
      if (k.eth_type == 0xffff && one_of(ld16(v.eth_type))) return true;
      *have = k.eth_type == 0 ? "eth_type not matched" : "have eth_type=" + hex(ld16(v.eth_type), 4);
      return false;
    case Prereq::kIpProto:
      if (k.nw_proto == 0xff && one_of(v.nw_proto)) return true;
      *have = k.nw_proto == 0 ? "ip_proto not matched" : "have ip_proto=" + std::to_string(v.nw_proto);
      return false;
    case Prereq::kIcmpv6Type:
      if ((ld16(k.tp_src) & 0xff) == 0xff && one_of(ld16(v.tp_src) & 0xff)) return true;
      *have = (ld16(k.tp_src) & 0xff) == 0 ? "icmpv6_type not matched"
                                           : "have icmpv6_type=" + std::to_string(ld16(v.tp_src) & 0xff);
      return false;
  }
  return false;
}

static OxmField prereq_field(const Prereq& p) {
  switch (p.kind) {
    case Prereq::kEthType: return OxmField::kEthType;
    case Prereq::kIpProto: return OxmField::kIpProto;
    case Prereq::kIcmpv6Type: return OxmField::kIcmpv6Type;
    case Prereq::kInPortPresent: return OxmField::kInPort;
    case Prereq::kVlanPresent: return OxmField::kVlanVid;
    case Prereq::kNone: break;
  }
  return OxmField::kInPort;
}

bool OfMatch::prerequisites_hold(OxmField f) const {
  for (int depth = 0; depth < 8; depth++) {
    std::string have;
    if (!direct_prereq_holds(*this, f, &have)) return false;
    Prereq p = prereq_of(f);
    if (p.kind == Prereq::kNone) return true;
    f = prereq_field(p);
  }
  return true;
}

MaybeError OfMatch::check_prerequisites() const {
  for (unsigned i = 0; i < kNumOxmFields; i++) {
    OxmField f = static_cast<OxmField>(i);
    if (!has(f)) continue;
    // Walk the chain so "tcp_dst" without anything reports its direct
    // prerequisite, and tcp_dst with ip_proto=6 but no eth_type reports the
    // missing eth_type on behalf of ip_proto.
    OxmField g = f;
    for (int depth = 0; depth < 8; depth++) {
      std::string have;
      Prereq p = prereq_of(g);
      if (p.kind == Prereq::kNone) break;
      if (!direct_prereq_holds(*this, g, &have)) {
        std::string msg = std::string(oxm_field_info(g).name) + " requires " + prereq_text(p) +
                          " (" + have + ")";
        if (g != f) msg = std::string(oxm_field_info(f).name) + ": " + msg;
        return OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadPrereq, msg);
      }
      g = prereq_field(p);
    }
  }
  return std::nullopt;
}

bool OfMatch::to_flow(FlowKey* value, FlowMask* mask) const {
  *value = value_.flow;
  *mask = mask_.flow;
  const PipelineFields& p = mask_.pipe;
  bool regs = false;
  for (uint32_t r : p.regs) regs |= r != 0;
  return !(p.metadata || p.in_phy_port || regs);
}

namespace {

// Clears the mask bits no OXM field covers.
void drop_uncovered_bits(FlowKey& mf) {
  mf.nw_frag = 0;
  mf.nw_ttl = 0;
  mf.tcp_flags = 0;
  mf.vlan_tci2 = 0;
  mf.mpls_lse &= st32(0xffffff00u);
  mf.ipv6_label &= st32(0xffffffu);  // ipv6_label: 20 bits, pbb_isid 24 (from_flow)
  mf.ipv6_exthdr &= 0x1ff;
  mf.pad0 = 0;
  mf.pad1 = 0;
  // Recirculation (word 14): no OpenFlow field; conntrack (15..17) is.
  mf.words()[14] = 0;
  mf.ext_words = 0;
}

// Clears the tunnel-word bits of a mask that no OpenFlow field covers: the
// outer TOS/TTL/port, the datapath-only flags, the raw option length, and
// option bytes / present bits of fields tlv does not map.
void drop_uncovered_tunnel_bits(FlowKey& mf, const TunMetadataLayout* tlv) {
  mf.tun_flags &= datapath::kTunFlagOam;
  mf.tun_tos = mf.tun_ttl = 0;
  mf.tun_tp_dst = 0;
  mf.tun_opts_len = mf.tun_pad = 0;
  uint8_t keep[datapath::kTunOptsMax] = {};
  uint64_t present = 0;
  for (unsigned n = 0; n < kNumTunMetadata && tlv; n++) {
    if (!((mf.tun_md_present >> n) & 1) || !tlv->mapped(n)) continue;
    const TunMetadataLoc loc = tlv->loc[n];
    if (loc.offset + loc.len > datapath::kTunOptsMax) continue;
    present |= uint64_t{1} << n;
    std::memset(keep + loc.offset, 0xff, loc.len);
  }
  mf.tun_md_present = present;
  for (unsigned i = 0; i < datapath::kTunOptsMax; i++) mf.tun_opts[i] &= keep[i];
}

}  // namespace

void OfMatch::mark_tunnel_fields(const FlowKey& mf, const TunMetadataLayout* tlv) {
  auto nz = [](const uint8_t* b, size_t n) { return std::any_of(b, b + n, [](uint8_t x) { return x != 0; }); };
  if (mf.tun_id) mark(OxmField::kTunnelId);
  if (mf.tun_ipv4_src) mark(OxmField::kTunIpv4Src);
  if (mf.tun_ipv4_dst) mark(OxmField::kTunIpv4Dst);
  if (nz(mf.tun_ipv6_src, 16)) mark(OxmField::kTunIpv6Src);
  if (nz(mf.tun_ipv6_dst, 16)) mark(OxmField::kTunIpv6Dst);
  if (mf.tun_flags) mark(OxmField::kTunFlags);
  for (unsigned n = 0; n < kNumTunMetadata && tlv; n++) {
    if (!((mf.tun_md_present >> n) & 1)) continue;
    md_loc_[n] = tlv->loc[n];
    mark(tun_metadata_field(n));
  }
}

OfMatch OfMatch::from_flow(const FlowKey& value, const FlowMask& mask,
                           const PipelineFields* pipe_value, const PipelineFields* pipe_mask,
                           const TunMetadataLayout* tlv) {
  OfKey v{}, m{};
  v.flow = value;
  m.flow = mask;
  if (pipe_value && pipe_mask) {
    v.pipe = *pipe_value;
    m.pipe = *pipe_mask;
  }
  FlowKey& mf = m.flow;
  drop_uncovered_bits(mf);
  drop_uncovered_tunnel_bits(mf, tlv);
  OfMatch r;
  of_key_and(v, m, &r.value_);
  r.mask_ = m;
  r.mark_tunnel_fields(mf, tlv);

  const FlowKey& rv = r.value_.flow;
  const bool et_exact = mf.eth_type == 0xffff;
  const uint16_t et = et_exact ? ld16(rv.eth_type) : 0;
  const bool proto_exact = mf.nw_proto == 0xff;
  const uint8_t proto = proto_exact ? rv.nw_proto : 0;
  auto mark = [&](OxmField f, bool present) {
    if (present) r.mark(f);
  };
  auto nz = [](const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; i++)
      if (b[i]) return true;
    return false;
  };
  mark(OxmField::kInPort, mf.in_port != 0);
  mark(OxmField::kInPhyPort, m.pipe.in_phy_port != 0);
  mark(OxmField::kMetadata, m.pipe.metadata != 0);
  mark(OxmField::kEthDst, nz(mf.dl_dst, 6));
  mark(OxmField::kEthSrc, nz(mf.dl_src, 6));
  mark(OxmField::kEthType, mf.eth_type != 0);
  mark(OxmField::kVlanVid, (ld16(mf.vlan_tci) & 0x1fff) != 0);
  mark(OxmField::kVlanPcp, (ld16(mf.vlan_tci) & 0xe000) != 0);
  mark(OxmField::kIpDscp, (mf.nw_tos & 0xfc) != 0);
  mark(OxmField::kIpEcn, (mf.nw_tos & 3) != 0);
  const bool arp = et == kEthTypeArp;
  mark(arp ? OxmField::kArpOp : OxmField::kIpProto, mf.nw_proto != 0);
  mark(arp ? OxmField::kArpSpa : OxmField::kIpv4Src, mf.nw_src != 0);
  mark(arp ? OxmField::kArpTpa : OxmField::kIpv4Dst, mf.nw_dst != 0);
  OxmField tps = OxmField::kTcpSrc, tpd = OxmField::kTcpDst;
  if (proto == 17) tps = OxmField::kUdpSrc, tpd = OxmField::kUdpDst;
  if (proto == 132) tps = OxmField::kSctpSrc, tpd = OxmField::kSctpDst;
  if (proto == 1) tps = OxmField::kIcmpv4Type, tpd = OxmField::kIcmpv4Code;
  if (proto == 58) tps = OxmField::kIcmpv6Type, tpd = OxmField::kIcmpv6Code;
  mark(tps, mf.tp_src != 0);
  mark(tpd, mf.tp_dst != 0);
  const bool v6 = et == kEthTypeIpv6;
  mark(v6 ? OxmField::kIpv6NdSll : OxmField::kArpSha, nz(mf.arp_sha, 6));
  mark(v6 ? OxmField::kIpv6NdTll : OxmField::kArpTha, nz(mf.arp_tha, 6));
  mark(OxmField::kIpv6Src, nz(mf.ipv6_src, 16));
  mark(OxmField::kIpv6Dst, nz(mf.ipv6_dst, 16));
  // ipv6_label's word is the I-SID of a PBB frame (flow_key_layout.h).
  const bool pbb = et == kEthTypePbb;
  if (!pbb) {
    r.mask_.flow.ipv6_label &= st32(0xfffffu);
    r.value_.flow.ipv6_label &= st32(0xfffffu);
  }
  mark(pbb ? OxmField::kPbbIsid : OxmField::kIpv6Flabel, r.mask_.flow.ipv6_label != 0);
  mark(OxmField::kIpv6NdTarget, nz(mf.nd_target, 16));
  mark(OxmField::kMplsLabel, (ld32(mf.mpls_lse) >> 12) != 0);
  mark(OxmField::kMplsTc, (ld32(mf.mpls_lse) & 0xe00) != 0);
  mark(OxmField::kMplsBos, (ld32(mf.mpls_lse) & 0x100) != 0);
  mark(OxmField::kIpv6Exthdr, mf.ipv6_exthdr != 0);
  for (OxmField f : {OxmField::kCtState, OxmField::kCtZone, OxmField::kCtMark, OxmField::kCtLabel})
    mark(f, !(get_ct_field(mf, f) == FieldValue{}));
  for (unsigned n = 0; n < kNumRegs; n++) mark(reg_field(n), m.pipe.regs[n] != 0);
  return r;
}

void OfMatch::add_tunnel_metadata(const FlowKey& flow, const TunMetadataLayout* tlv) {
  OfKey k{};
  k.flow = flow;
  auto add = [&](OxmField f, bool present) {
    if (present && !has(f)) (void)set(f, get_field(k, f));
  };
  auto nz = [](const uint8_t* b) { return std::any_of(b, b + 16, [](uint8_t x) { return x != 0; }); };
  add(OxmField::kTunnelId, flow.tun_id != 0);
  add(OxmField::kTunIpv4Src, flow.tun_ipv4_src != 0);
  add(OxmField::kTunIpv4Dst, flow.tun_ipv4_dst != 0);
  add(OxmField::kTunIpv6Src, nz(flow.tun_ipv6_src));
  add(OxmField::kTunIpv6Dst, nz(flow.tun_ipv6_dst));
  add(OxmField::kTunFlags, (flow.tun_flags & datapath::kTunFlagOam) != 0);
  for (unsigned n = 0; n < kNumTunMetadata && tlv; n++) {
    const OxmField f = tun_metadata_field(n);
    if (((flow.tun_md_present >> n) & 1) && tlv->mapped(n) && !has(f))
      (void)set(f, get_field(k, f, tlv->loc[n]), nullptr, tlv);
  }
}

bool OfMatch::overlaps(const OfMatch& o) const {
  // Some key matches both iff the values agree wherever both masks care.
  for (unsigned i = 0; i < OfKey::kWords; i++) {
    uint64_t common = mask_.word(i) & o.mask_.word(i);
    if ((value_.word(i) ^ o.value_.word(i)) & common) return false;
  }
  return true;
}

bool OfMatch::subsumed_by(const OfMatch& o) const {
  // o's mask must be a subset of ours and our value must agree with o's on it.
  if (!of_mask_covers(mask_, o.mask_)) return false;
  for (unsigned i = 0; i < OfKey::kWords; i++)
    if ((value_.word(i) & o.mask_.word(i)) != o.value_.word(i)) return false;
  return true;
}

unsigned field_value_len(OxmField f, const FieldValue& v) {
  if (!is_tun_metadata(f)) return oxm_field_info(f).width;
  unsigned i = 0;
  while (i < kFieldValueMax && !v.bytes[i]) i++;
  return kFieldValueMax - i;
}

namespace {

// OVS's ds_put_hex(): "0x" and the bytes without leading zeros, "0" for zero.
std::string hex_bytes(const FieldValue& v) {
  std::string out;
  char b[4];
  for (unsigned i = kFieldValueMax - field_value_len(OxmField::kTunMetadata0, v); i < kFieldValueMax; i++) {
    std::snprintf(b, sizeof b, out.empty() ? "%x" : "%02x", v.bytes[i]);
    out += out.empty() ? std::string("0x") + b : std::string(b);
  }
  return out.empty() ? "0" : out;
}

// ct_label is left-aligned in a FieldValue (16 bytes, as on the wire).
FieldValue right_aligned_label(const FieldValue& v) {
  FieldValue r;
  std::memcpy(r.bytes.data() + kFieldValueMax - 16, v.bytes.data(), 16);
  return r;
}

constexpr const char* kCtStateNames[8] = {"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"};

}  // namespace

std::string format_ct_state(uint64_t value, uint64_t mask) {
  std::string out;
  for (unsigned b = 0; b < 8; b++) {
    if (!((mask >> b) & 1)) continue;
    out += ((value >> b) & 1) ? '+' : '-';
    out += kCtStateNames[b];
  }
  return out.empty() ? "0" : out;
}

std::optional<uint8_t> ct_state_bit(std::string_view name) {
  for (unsigned b = 0; b < 8; b++)
    if (name == kCtStateNames[b]) return static_cast<uint8_t>(1u << b);
  return std::nullopt;
}

OxmValueKind oxm_value_kind(OxmField f) {
  switch (f) {
    case OxmField::kEthDst:
    case OxmField::kEthSrc:
    case OxmField::kArpSha:
    case OxmField::kArpTha:
    case OxmField::kIpv6NdSll:
    case OxmField::kIpv6NdTll: return OxmValueKind::kMac;
    case OxmField::kIpv4Src:
    case OxmField::kIpv4Dst:
    case OxmField::kArpSpa:
    case OxmField::kArpTpa:
    case OxmField::kTunIpv4Src:
    case OxmField::kTunIpv4Dst: return OxmValueKind::kIpv4;
    case OxmField::kIpv6Src:
    case OxmField::kIpv6Dst:
    case OxmField::kIpv6NdTarget:
    case OxmField::kTunIpv6Src:
    case OxmField::kTunIpv6Dst: return OxmValueKind::kIpv6;
    case OxmField::kTunFlags: return OxmValueKind::kTunFlags;
    case OxmField::kCtState: return OxmValueKind::kCtState;
    case OxmField::kCtLabel: return OxmValueKind::kHex;
    default: return is_tun_metadata(f) ? OxmValueKind::kHex : OxmValueKind::kNum;
  }
}

std::string format_field_value(OxmField f, const FieldValue& v) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  char buf[64];
  switch (oxm_value_kind(f)) {
    case OxmValueKind::kHex: return hex_bytes(f == OxmField::kCtLabel ? right_aligned_label(v) : v);
    case OxmValueKind::kMac:
      std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", v.bytes[0], v.bytes[1],
                    v.bytes[2], v.bytes[3], v.bytes[4], v.bytes[5]);
      return buf;
    case OxmValueKind::kIpv4:
      std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", v.bytes[0], v.bytes[1], v.bytes[2], v.bytes[3]);
      return buf;
    case OxmValueKind::kIpv6:
      inet_ntop(AF_INET6, v.bytes.data(), buf, sizeof buf);
      return buf;
    case OxmValueKind::kTunFlags: return hex(v.to_u64(2));
    case OxmValueKind::kCtState: return format_ct_state(v.to_u64(4), 0xff);
    case OxmValueKind::kNum: break;
  }
  switch (f) {
    case OxmField::kEthType: return hex(v.to_u64(2), 4);
    case OxmField::kMetadata:
    case OxmField::kTunnelId:
    case OxmField::kIpv6Flabel:
    case OxmField::kPbbIsid:
    case OxmField::kIpv6Exthdr:
    case OxmField::kCtMark: return v.to_u64(fi.width) ? hex(v.to_u64(fi.width)) : "0";  // as OVS
    case OxmField::kVlanVid: return hex(v.to_u64(fi.width));
    default:
      if (is_register(f)) return v.to_u64(fi.width) ? hex(v.to_u64(fi.width)) : "0";
      break;
  }
  switch (f) {
    default: return std::to_string(v.to_u64(fi.width));
  }
}

std::string OfMatch::to_string() const {
  std::string out;
  for (unsigned i = 0; i < kNumMatchFields; i++) {
    OxmField f = static_cast<OxmField>(i);
    if (!has(f)) continue;
    if (!out.empty()) out += ',';
    out += oxm_field_info(f).name;
    out += '=';
    out += format_field_value(f, value_of(f));
    if (!is_exact(f)) {
      out += '/';
      out += format_field_value(f, mask_of(f));
    }
  }
  return out;
}

std::string of_error_name(OfErrorType type, uint16_t code) {
  const char* t = "error";
  switch (type) {
    case OfErrorType::kHelloFailed: t = "hello_failed"; break;
    case OfErrorType::kBadRequest: t = "bad_request"; break;
    case OfErrorType::kBadAction: t = "bad_action"; break;
    case OfErrorType::kBadInstruction: t = "bad_instruction"; break;
    case OfErrorType::kBadMatch: t = "bad_match"; break;
    case OfErrorType::kFlowModFailed: t = "flow_mod_failed"; break;
    case OfErrorType::kGroupModFailed: t = "group_mod_failed"; break;
    case OfErrorType::kPortModFailed: t = "port_mod_failed"; break;
    case OfErrorType::kTableModFailed: t = "table_mod_failed"; break;
    case OfErrorType::kQueueOpFailed: t = "queue_op_failed"; break;
    case OfErrorType::kSwitchConfigFailed: t = "switch_config_failed"; break;
    case OfErrorType::kRoleRequestFailed: t = "role_request_failed"; break;
    case OfErrorType::kMeterModFailed: t = "meter_mod_failed"; break;
    case OfErrorType::kTableFeaturesFailed: t = "table_features_failed"; break;
    case OfErrorType::kExperimenter:
      switch (static_cast<NxErrorCode>(code)) {
        case NxErrorCode::kTtmBadCommand: return "NXTTMFC_BAD_COMMAND";
        case NxErrorCode::kTtmBadOptLen: return "NXTTMFC_BAD_OPT_LEN";
        case NxErrorCode::kTtmBadFieldIdx: return "NXTTMFC_BAD_FIELD_IDX";
        case NxErrorCode::kTtmTableFull: return "NXTTMFC_TABLE_FULL";
        case NxErrorCode::kTtmAlreadyMapped: return "NXTTMFC_ALREADY_MAPPED";
        case NxErrorCode::kTtmDupEntry: return "NXTTMFC_DUP_ENTRY";
        case NxErrorCode::kInvalidTlvField: return "NXFMFC_INVALID_TLV_FIELD";
        case NxErrorCode::kTtmInvalidTlvDel: return "NXTTMFC_INVALID_TLV_DEL";
      }
      t = "experimenter";
      break;
  }
  return std::string(t) + "/" + std::to_string(code);
}

}  // namespace dps::ofproto
