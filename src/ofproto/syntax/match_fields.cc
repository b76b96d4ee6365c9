#include "match_fields.h"

#include <cstring>
#include <utility>

#include "syntax_text.h"

namespace dps::ofproto::syntax {

Kind kind_of(OxmField f) {
  switch (f) {
    case OxmField::kEthDst:
    case OxmField::kEthSrc:
    case OxmField::kArpSha:
    case OxmField::kArpTha:
    case OxmField::kIpv6NdSll:
    case OxmField::kIpv6NdTll: return Kind::kMac;
    case OxmField::kIpv4Src:
    case OxmField::kIpv4Dst:
    case OxmField::kArpSpa:
    case OxmField::kArpTpa: return Kind::kIpv4;
    case OxmField::kIpv6Src:
    case OxmField::kIpv6Dst:
    case OxmField::kIpv6NdTarget: return Kind::kIpv6;
    default: return Kind::kNum;
  }
}

namespace {

// One value[/mask] of a field: the text split at '/', and how to report it.
struct ValueText {
  const std::string& name;  // the field as the user wrote it
  std::string_view value;
  std::optional<std::string_view> mask;
  OfError bad(const char* what, std::string_view t) const {
    return perr(name + ": bad " + what + " '" + std::string(t) + "'");
  }
};

MaybeError parse_mac_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  uint8_t b[6];
  if (!parse_mac(t.value, b)) return t.bad("MAC address", t.value);
  *value = FieldValue::from_bytes(b, 6);
  if (t.mask) {
    if (!parse_mac(*t.mask, b)) return t.bad("MAC mask", *t.mask);
    *mask = FieldValue::from_bytes(b, 6);
  }
  return std::nullopt;
}

// An IPv4 mask is dotted-quad or a prefix length.
MaybeError parse_ipv4_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  uint32_t a;
  if (!parse_ipv4(t.value, &a)) return t.bad("IPv4 address", t.value);
  *value = FieldValue::from_u64(a, 4);
  if (t.mask) {
    uint32_t m;
    if (t.mask->find('.') != std::string_view::npos) {
      if (!parse_ipv4(*t.mask, &m)) return t.bad("IPv4 mask", *t.mask);
    } else {
      auto p = parse_uint_max(*t.mask, 32);
      if (!p) return t.bad("IPv4 prefix length", *t.mask);
      m = *p == 0 ? 0 : ~0u << (32 - *p);
    }
    *mask = FieldValue::from_u64(m, 4);
  }
  return std::nullopt;
}

// An IPv6 mask is an address or a prefix length.
MaybeError parse_ipv6_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  uint8_t b[16];
  if (!parse_ipv6(t.value, b)) return t.bad("IPv6 address", t.value);
  *value = FieldValue::from_bytes(b, 16);
  if (t.mask) {
    if (t.mask->find(':') != std::string_view::npos) {
      if (!parse_ipv6(*t.mask, b)) return t.bad("IPv6 mask", *t.mask);
    } else {
      auto p = parse_uint_max(*t.mask, 128);
      if (!p) return t.bad("IPv6 prefix length", *t.mask);
      std::memset(b, 0, 16);
      for (unsigned i = 0; i < *p; i++) b[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
    }
    *mask = FieldValue::from_bytes(b, 16);
  }
  return std::nullopt;
}

// Value and mask within the field's significant bits.
MaybeError parse_num_value(OxmField f, const ValueText& t, FieldValue* value,
                           std::optional<FieldValue>* mask) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  uint64_t max = fi.bits >= 64 ? ~0ull : (1ull << fi.bits) - 1;
  auto out_of_range = [&](const char* what, std::string_view s) {
    return perr(t.name + ": " + what + " " + std::string(s) + " is out of range (max " +
                std::to_string(max) + ")");
  };
  auto v = parse_uint(t.value);
  if (!v) return t.bad("value", t.value);
  if (*v > max) return out_of_range("value", t.value);
  *value = FieldValue::from_u64(*v, fi.width);
  if (t.mask) {
    auto m = parse_uint(*t.mask);
    if (!m) return t.bad("mask", *t.mask);
    if (*m > max) return out_of_range("mask", *t.mask);
    *mask = FieldValue::from_u64(*m, fi.width);
  }
  return std::nullopt;
}

// The protocol-dependent names: tp_src/tp_dst and icmp_type/icmp_code.
MaybeError resolve_l4_field(const std::string& name, const Ctx& c, bool v6, OxmField* out) {
  if (name == "tp_src" || name == "tp_dst") {
    bool src = name == "tp_src";
    if (c.proto == 6) *out = src ? OxmField::kTcpSrc : OxmField::kTcpDst;
    else if (c.proto == 17) *out = src ? OxmField::kUdpSrc : OxmField::kUdpDst;
    else if (c.proto == 132) *out = src ? OxmField::kSctpSrc : OxmField::kSctpDst;
    else if (c.proto == 1) *out = src ? OxmField::kIcmpv4Type : OxmField::kIcmpv4Code;
    else if (c.proto == 58) *out = src ? OxmField::kIcmpv6Type : OxmField::kIcmpv6Code;
    else
      return perr(name + " requires tcp, udp or sctp in the match (ip_proto=6, 17 or 132)" +
                  (c.proto ? ", have ip_proto=" + std::to_string(*c.proto) : std::string(", have no ip_proto")));
    return std::nullopt;
  }
  bool type = name == "icmp_type";  // else icmp_code
  if (c.proto == 1) *out = type ? OxmField::kIcmpv4Type : OxmField::kIcmpv4Code;
  else if (c.proto == 58 || v6) *out = type ? OxmField::kIcmpv6Type : OxmField::kIcmpv6Code;
  else
    return perr(name + " requires icmp or icmp6 in the match (ip_proto=1 or 58)");
  return std::nullopt;
}

}  // namespace

MaybeError parse_field_value(OxmField f, std::string_view text, const std::string& name,
                             FieldValue* value, std::optional<FieldValue>* mask) {
  ValueText t{name, {}, {}};
  split_mask(text, &t.value, &t.mask);
  switch (kind_of(f)) {
    case Kind::kMac: return parse_mac_value(t, value, mask);
    case Kind::kIpv4: return parse_ipv4_value(t, value, mask);
    case Kind::kIpv6: return parse_ipv6_value(t, value, mask);
    case Kind::kNum: return parse_num_value(f, t, value, mask);
  }
  return std::nullopt;
}

Ctx context_of(const OfMatch& m) {
  Ctx c;
  if (m.has(OxmField::kEthType) && m.is_exact(OxmField::kEthType))
    c.eth_type = static_cast<uint16_t>(m.value_of(OxmField::kEthType).to_u64(2));
  if (m.has(OxmField::kIpProto) && m.is_exact(OxmField::kIpProto))
    c.proto = static_cast<uint8_t>(m.value_of(OxmField::kIpProto).to_u64(1));
  return c;
}

MaybeError resolve_field(const std::string& name, const Ctx& c, OxmField* out) {
  bool arp = c.eth_type && (*c.eth_type == 0x0806 || *c.eth_type == 0x8035);
  bool v6 = c.eth_type && *c.eth_type == 0x86dd;
  // flat table
  static const std::pair<const char*, OxmField> kSimple[] = {
      {"dl_src", OxmField::kEthSrc},     {"dl_dst", OxmField::kEthDst},
      {"dl_type", OxmField::kEthType},   {"nw_ecn", OxmField::kIpEcn},
      {"tun_id", OxmField::kTunnelId},   {"ipv6_label", OxmField::kIpv6Flabel},
      {"ip_ecn", OxmField::kIpEcn},      {"ipv6_flabel", OxmField::kIpv6Flabel},
      {"nd_target", OxmField::kIpv6NdTarget}, {"ipv6_nd_target", OxmField::kIpv6NdTarget},
      {"ipv6_nd_sll", OxmField::kIpv6NdSll},  {"ipv6_nd_tll", OxmField::kIpv6NdTll},
  };
  for (const auto& [n, f] : kSimple)
    if (name == n) {
      *out = f;
      return std::nullopt;
    }
  if (name == "nw_src" || name == "ip_src") {
    *out = arp ? OxmField::kArpSpa : OxmField::kIpv4Src;
    return std::nullopt;
  }
  if (name == "nw_dst" || name == "ip_dst") {
    *out = arp ? OxmField::kArpTpa : OxmField::kIpv4Dst;
    return std::nullopt;
  }
  if (name == "nw_proto") {
    *out = arp ? OxmField::kArpOp : OxmField::kIpProto;
    return std::nullopt;
  }
  if (name == "tp_src" || name == "tp_dst" || name == "icmp_type" || name == "icmp_code")
    return resolve_l4_field(name, c, v6, out);
  if (name == "nw_ttl" || name == "nw_frag" || name == "ip_frag" || name == "tcp_flags" ||
      name == "vlan_tci2" || name == "mpls_ttl")
    return perr("field '" + name + "' is not an OpenFlow 1.3 match field");
  if (auto f = oxm_field_by_name(name)) {
    *out = *f;
    return std::nullopt;
  }
  return perr("unknown field '" + name + "'");
}

MaybeError set_match_field(OfMatch* m, OxmField f, std::string_view text, const std::string& name) {
  FieldValue v;
  std::optional<FieldValue> mask;
  if (MaybeError e = parse_field_value(f, text, name, &v, &mask)) return e;
  if (mask)
    for (unsigned i = 0; i < 16; i++) v.bytes[i] &= mask->bytes[i];
  MaybeError e = m->set(f, v, mask ? &*mask : nullptr);
  if (e) e->message = name + "=" + std::string(text) + ": " + e->message;
  return e;
}

}  // namespace dps::ofproto::syntax
