#include "of_match.h"

#include <arpa/inet.h>

#include <cstdio>

namespace dps::ofproto {

namespace {

using datapath::kEthTypeArp;
using datapath::kEthTypeIpv4;
using datapath::kEthTypeIpv6;
using datapath::kEthTypeMpls;
using datapath::kEthTypeMplsMcast;
inline constexpr uint16_t kEthTypePbb = 0x88e7;

// Name, wire width, significant bits, maskable. Maskability follows
// OpenFlow 1.3 table 11 plus the L4 ports, which OVS also accepts masked.
constexpr OxmFieldInfo kFields[kNumOxmFields] = {
    {OxmField::kInPort, "in_port", 4, 32, false},
    {OxmField::kInPhyPort, "in_phy_port", 4, 32, false},
    {OxmField::kMetadata, "metadata", 8, 64, true},
    {OxmField::kEthDst, "eth_dst", 6, 48, true},
    {OxmField::kEthSrc, "eth_src", 6, 48, true},
    {OxmField::kEthType, "eth_type", 2, 16, false},
    {OxmField::kVlanVid, "vlan_vid", 2, 13, true},
    {OxmField::kVlanPcp, "vlan_pcp", 1, 3, false},
    {OxmField::kIpDscp, "ip_dscp", 1, 6, false},
    {OxmField::kIpEcn, "ip_ecn", 1, 2, false},
    {OxmField::kIpProto, "ip_proto", 1, 8, false},
    {OxmField::kIpv4Src, "ipv4_src", 4, 32, true},
    {OxmField::kIpv4Dst, "ipv4_dst", 4, 32, true},
    {OxmField::kTcpSrc, "tcp_src", 2, 16, true},
    {OxmField::kTcpDst, "tcp_dst", 2, 16, true},
    {OxmField::kUdpSrc, "udp_src", 2, 16, true},
    {OxmField::kUdpDst, "udp_dst", 2, 16, true},
    {OxmField::kSctpSrc, "sctp_src", 2, 16, true},
    {OxmField::kSctpDst, "sctp_dst", 2, 16, true},
    {OxmField::kIcmpv4Type, "icmpv4_type", 1, 8, false},
    {OxmField::kIcmpv4Code, "icmpv4_code", 1, 8, false},
    {OxmField::kArpOp, "arp_op", 2, 16, false},
    {OxmField::kArpSpa, "arp_spa", 4, 32, true},
    {OxmField::kArpTpa, "arp_tpa", 4, 32, true},
    {OxmField::kArpSha, "arp_sha", 6, 48, true},
    {OxmField::kArpTha, "arp_tha", 6, 48, true},
    {OxmField::kIpv6Src, "ipv6_src", 16, 128, true},
    {OxmField::kIpv6Dst, "ipv6_dst", 16, 128, true},
    {OxmField::kIpv6Flabel, "ipv6_label", 4, 20, true},
    {OxmField::kIcmpv6Type, "icmpv6_type", 1, 8, false},
    {OxmField::kIcmpv6Code, "icmpv6_code", 1, 8, false},
    {OxmField::kIpv6NdTarget, "nd_target", 16, 128, false},
    {OxmField::kIpv6NdSll, "nd_sll", 6, 48, false},
    {OxmField::kIpv6NdTll, "nd_tll", 6, 48, false},
    {OxmField::kMplsLabel, "mpls_label", 4, 20, false},
    {OxmField::kMplsTc, "mpls_tc", 1, 3, false},
    {OxmField::kMplsBos, "mpls_bos", 1, 1, false},
    {OxmField::kPbbIsid, "pbb_isid", 3, 24, true},
    {OxmField::kTunnelId, "tunnel_id", 8, 64, true},
    {OxmField::kIpv6Exthdr, "ipv6_exthdr", 2, 9, true},
};

constexpr bool table_in_order() {
  for (unsigned i = 0; i < kNumOxmFields; i++)
    if (static_cast<unsigned>(kFields[i].field) != i) return false;
  return true;
}
static_assert(table_in_order());

uint16_t ld16(uint16_t be) { return ntohs(be); }
uint16_t st16(uint16_t host) { return htons(host); }
uint32_t ld32(uint32_t be) { return ntohl(be); }
uint32_t st32(uint32_t host) { return htonl(host); }


bool value_fits(const FieldValue& v, const OxmFieldInfo& fi) {
  // The bytes beyond width must be zero, and the leading bits beyond bits.
  for (unsigned i = fi.width; i < 16; i++)
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

const OxmFieldInfo& oxm_field_info(OxmField f) { return kFields[static_cast<unsigned>(f)]; }

std::optional<OxmField> oxm_field_by_name(std::string_view name) {
  for (const auto& fi : kFields)
    if (name == fi.name) return fi.field;
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
  acc->pipe.tunnel_id |= mask.pipe.tunnel_id;
  acc->pipe.pbb_isid |= mask.pipe.pbb_isid;
  acc->pipe.in_phy_port |= mask.pipe.in_phy_port;
}

bool of_key_matches(const OfKey& key, const OfMask& mask, const OfKey& value) {
  uint64_t diff = 0;
  const uint64_t* k = key.flow.words();
  const uint64_t* m = mask.flow.words();
  const uint64_t* v = value.flow.words();
  for (unsigned i = 0; i < datapath::kFlowWords; i++) diff |= (k[i] & m[i]) ^ v[i];
  diff |= (key.pipe.metadata & mask.pipe.metadata) ^ value.pipe.metadata;
  diff |= (key.pipe.tunnel_id & mask.pipe.tunnel_id) ^ value.pipe.tunnel_id;
  diff |= (key.pipe.pbb_isid & mask.pipe.pbb_isid) ^ value.pipe.pbb_isid;
  diff |= (key.pipe.in_phy_port & mask.pipe.in_phy_port) ^ value.pipe.in_phy_port;
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

void put_field(OfKey* key, OxmField f, const FieldValue& v) {
  FlowKey& k = key->flow;
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
    case OxmField::kPbbIsid: key->pipe.pbb_isid = static_cast<uint32_t>(n & 0xffffff); break;
    case OxmField::kTunnelId: key->pipe.tunnel_id = n; break;
    case OxmField::kIpv6Exthdr: k.ipv6_exthdr = static_cast<uint16_t>(n & 0x1ff); break;
  }
}

FieldValue get_field(const OfKey& key, OxmField f) {
  const FlowKey& k = key.flow;
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
    case OxmField::kPbbIsid: return num(key.pipe.pbb_isid & 0xffffff);
    case OxmField::kTunnelId: return num(key.pipe.tunnel_id);
    case OxmField::kIpv6Exthdr: return num(k.ipv6_exthdr & 0x1ff);
  }
  return {};
}

MaybeError OfMatch::set(OxmField f, const FieldValue& value, const FieldValue* mask) {
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
  for (unsigned i = 0; i < 16; i++)
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
  if (!zero) fields_ |= 1ull << static_cast<unsigned>(f);
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
  put_field(&value_, f, FieldValue{});
  put_field(&mask_, f, FieldValue{});
  fields_ &= ~(1ull << static_cast<unsigned>(f));
}

void OfMatch::force(OxmField f, const FieldValue& value) {
  OfKey probe{};
  put_field(&probe, f, FieldValue::exact(f));
  // Forget every field that shares bits with f.
  for (unsigned i = 0; i < kNumOxmFields; i++) {
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
  fields_ |= 1ull << static_cast<unsigned>(f);
}

bool OfMatch::is_exact(OxmField f) const {
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
  return !(p.metadata || p.tunnel_id || p.pbb_isid || p.in_phy_port);
}

OfMatch OfMatch::from_flow(const FlowKey& value, const FlowMask& mask,
                           const PipelineFields* pipe_value, const PipelineFields* pipe_mask) {
  OfKey v{}, m{};
  v.flow = value;
  m.flow = mask;
  if (pipe_value && pipe_mask) {
    v.pipe = *pipe_value;
    m.pipe = *pipe_mask;
  }
  // Drop the bits no OXM field covers.
  FlowKey& mf = m.flow;
  mf.nw_frag = 0;
  mf.nw_ttl = 0;
  mf.tcp_flags = 0;
  mf.vlan_tci2 = 0;
  mf.mpls_lse &= st32(0xffffff00u);
  mf.ipv6_label &= st32(0xfffffu);
  mf.ipv6_exthdr &= 0x1ff;
  mf.pad0 = 0;
  mf.pad1 = 0;
  std::memset(mf.pad2, 0, sizeof mf.pad2);
  m.pipe.pbb_isid &= 0xffffff;
  OfMatch r;
  of_key_and(v, m, &r.value_);
  r.mask_ = m;

  const FlowKey& rv = r.value_.flow;
  const bool et_exact = mf.eth_type == 0xffff;
  const uint16_t et = et_exact ? ld16(rv.eth_type) : 0;
  const bool proto_exact = mf.nw_proto == 0xff;
  const uint8_t proto = proto_exact ? rv.nw_proto : 0;
  auto mark = [&](OxmField f, bool present) {
    if (present) r.fields_ |= 1ull << static_cast<unsigned>(f);
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
  mark(OxmField::kIpv6Flabel, mf.ipv6_label != 0);
  mark(OxmField::kIpv6NdTarget, nz(mf.nd_target, 16));
  mark(OxmField::kMplsLabel, (ld32(mf.mpls_lse) >> 12) != 0);
  mark(OxmField::kMplsTc, (ld32(mf.mpls_lse) & 0xe00) != 0);
  mark(OxmField::kMplsBos, (ld32(mf.mpls_lse) & 0x100) != 0);
  mark(OxmField::kPbbIsid, m.pipe.pbb_isid != 0);
  mark(OxmField::kTunnelId, m.pipe.tunnel_id != 0);
  mark(OxmField::kIpv6Exthdr, mf.ipv6_exthdr != 0);
  return r;
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

std::string format_field_value(OxmField f, const FieldValue& v) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  char buf[64];
  switch (f) {
    case OxmField::kEthDst:
    case OxmField::kEthSrc:
    case OxmField::kArpSha:
    case OxmField::kArpTha:
    case OxmField::kIpv6NdSll:
    case OxmField::kIpv6NdTll:
      std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", v.bytes[0], v.bytes[1],
                    v.bytes[2], v.bytes[3], v.bytes[4], v.bytes[5]);
      return buf;
    case OxmField::kIpv4Src:
    case OxmField::kIpv4Dst:
    case OxmField::kArpSpa:
    case OxmField::kArpTpa:
      std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", v.bytes[0], v.bytes[1], v.bytes[2], v.bytes[3]);
      return buf;
    case OxmField::kIpv6Src:
    case OxmField::kIpv6Dst:
    case OxmField::kIpv6NdTarget:
      inet_ntop(AF_INET6, v.bytes.data(), buf, sizeof buf);
      return buf;
    case OxmField::kEthType: return hex(v.to_u64(2), 4);
    case OxmField::kMetadata:
    case OxmField::kTunnelId:
    case OxmField::kIpv6Flabel:
    case OxmField::kPbbIsid:
    case OxmField::kIpv6Exthdr:
    case OxmField::kVlanVid: return hex(v.to_u64(fi.width));
    default: return std::to_string(v.to_u64(fi.width));
  }
}

std::string OfMatch::to_string() const {
  std::string out;
  for (unsigned i = 0; i < kNumOxmFields; i++) {
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
    case OfErrorType::kExperimenter: t = "experimenter"; break;
  }
  return std::string(t) + "/" + std::to_string(code);
}

}  // namespace dps::ofproto
