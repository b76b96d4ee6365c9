#include "match_fields.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "syntax_text.h"

namespace dps::ofproto::syntax {

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

// A byte string right-aligned in a FieldValue: "0x" and up to
// 2 * kFieldValueMax hex digits, or a decimal number.
bool hex_bytes_value(std::string_view t, FieldValue* out) {
  *out = FieldValue{};
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    std::string_view d = t.substr(2);
    if (d.size() > 2 * kFieldValueMax) return false;
    for (size_t i = 0; i < d.size(); i++) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(d[d.size() - 1 - i])));
      int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return false;
      out->bytes[kFieldValueMax - 1 - i / 2] |= static_cast<uint8_t>(v << (4 * (i % 2)));
    }
    return true;
  }
  auto n = parse_uint(t);
  if (!n) return false;
  *out = FieldValue::from_u64(*n, kFieldValueMax);
  return true;
}

MaybeError parse_hex_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  if (!hex_bytes_value(t.value, value)) return t.bad("value", t.value);
  if (t.mask) {
    FieldValue m;
    if (!hex_bytes_value(*t.mask, &m)) return t.bad("mask", *t.mask);
    *mask = m;
  }
  return std::nullopt;
}

// tun_flags: "+oam", "-oam", "oam", or a number 0..1 [/mask].
MaybeError parse_tun_flags_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  if (t.value == "+oam" || t.value == "oam" || t.value == "-oam") {
    if (t.mask) return t.bad("value", std::string(t.value) + "/" + std::string(*t.mask));
    *value = FieldValue::from_u64(t.value == "-oam" ? 0 : datapath::kTunFlagOam, 2);
    return std::nullopt;
  }
  if (!t.value.empty() && (t.value[0] == '+' || t.value[0] == '-'))
    return perr(t.name + ": unknown tunnel flag '" + std::string(t.value.substr(1)) +
                "' (only oam is an OpenFlow tunnel flag)");
  return parse_num_value(OxmField::kTunFlags, t, value, mask);
}

// ct_state: "+trk+new", "-trk" (value and mask of the named bits), or a
// number [/mask].
MaybeError parse_ct_state_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  if (t.value.empty() || (t.value[0] != '+' && t.value[0] != '-'))
    return parse_num_value(OxmField::kCtState, t, value, mask);
  if (t.mask) return t.bad("value", std::string(t.value) + "/" + std::string(*t.mask));
  uint8_t v = 0, m = 0;
  std::string_view rest = t.value;
  while (!rest.empty()) {
    const bool plus = rest[0] == '+';
    if (!plus && rest[0] != '-') return t.bad("ct_state flags", t.value);
    size_t end = rest.find_first_of("+-", 1);
    std::string_view name = rest.substr(1, end == std::string_view::npos ? end : end - 1);
    std::optional<uint8_t> bit = ct_state_bit(name);
    if (!bit) return perr(t.name + ": unknown ct_state flag '" + std::string(name) +
                          "' (new, est, rel, rpl, inv, trk, snat, dnat)");
    if (m & *bit) return perr(t.name + ": ct_state flag '" + std::string(name) + "' given twice");
    m |= *bit;
    if (plus) v |= *bit;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  *value = FieldValue::from_u64(v, 4);
  *mask = FieldValue::from_u64(m, 4);
  return std::nullopt;
}

// ct_label: a 128-bit number [/mask], left-aligned in the FieldValue.
MaybeError parse_ct_label_value(const ValueText& t, FieldValue* value, std::optional<FieldValue>* mask) {
  if (MaybeError e = parse_hex_value(t, value, mask)) return e;
  auto left = [&](FieldValue* v, std::string_view text, const char* what) -> MaybeError {
    for (unsigned i = 0; i < kFieldValueMax - 16; i++)
      if (v->bytes[i]) return t.bad(what, text);
    FieldValue r = FieldValue::from_bytes(v->bytes.data() + kFieldValueMax - 16, 16);
    *v = r;
    return std::nullopt;
  };
  if (MaybeError e = left(value, t.value, "value (over 128 bits)")) return e;
  if (*mask) return left(&**mask, *t.mask, "mask (over 128 bits)");
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
    case Kind::kHex:
      if (f == OxmField::kCtLabel) return parse_ct_label_value(t, value, mask);
      return parse_hex_value(t, value, mask);
    case Kind::kTunFlags: return parse_tun_flags_value(t, value, mask);
    case Kind::kCtState: return parse_ct_state_value(t, value, mask);
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

namespace {

// ovs-ofctl's placement of tun_metadata without a TLV table: after the
// match's other tun_metadata fields, as long as the value (or mask) written.
TunMetadataLayout dynamic_layout(const OfMatch& m, OxmField f, const FieldValue& v,
                                 const std::optional<FieldValue>& mask) {
  TunMetadataLayout l;
  unsigned end = 0;
  for (unsigned n = 0; n < kNumTunMetadata; n++) {
    l.loc[n] = m.loc_of(tun_metadata_field(n));
    if (l.loc[n].len) end = std::max(end, unsigned{l.loc[n].offset} + l.loc[n].len);
  }
  unsigned len = std::max({1u, field_value_len(f, v), mask ? field_value_len(f, *mask) : 0u});
  if (end + len <= datapath::kTunOptsMax)
    l.loc[tun_metadata_index(f)] = {static_cast<uint8_t>(end), static_cast<uint8_t>(len)};
  return l;
}

}  // namespace

MaybeError set_match_field(OfMatch* m, OxmField f, std::string_view text, const std::string& name,
                           const TunMetadataLayout* tlv) {
  FieldValue v;
  std::optional<FieldValue> mask;
  if (MaybeError e = parse_field_value(f, text, name, &v, &mask)) return e;
  if (mask)
    for (unsigned i = 0; i < kFieldValueMax; i++) v.bytes[i] &= mask->bytes[i];
  TunMetadataLayout dyn;
  if (is_tun_metadata(f) && !tlv) {
    dyn = dynamic_layout(*m, f, v, mask);
    tlv = &dyn;
  }
  MaybeError e = m->set(f, v, mask ? &*mask : nullptr, tlv);
  if (e) e->message = name + "=" + std::string(text) + ": " + e->message;
  return e;
}

MaybeError parse_subfield(std::string_view text, const Ctx& c, OxmField* out, bool* whole,
                          unsigned* ofs, unsigned* nbits) {
  std::string_view name = trim(text), range;
  size_t lb = name.find('[');
  if (lb != std::string_view::npos) {
    if (name.back() != ']') return perr(std::string(name) + ": missing ']'");
    range = name.substr(lb + 1, name.size() - lb - 2);
    name = trim(name.substr(0, lb));
  }
  if (auto f = oxm_field_by_nxm_name(name)) {
    *out = *f;
  } else if (MaybeError e = resolve_field(lower(name), c, out)) {
    return e;
  }
  *whole = true;
  const unsigned bits = is_tun_metadata(*out) ? 0 : oxm_field_info(*out).width * 8u;
  if (ofs) *ofs = 0;
  if (nbits) *nbits = bits;
  if (range.empty()) return std::nullopt;
  size_t dots = range.find("..");
  auto lo = parse_uint(dots == std::string_view::npos ? range : range.substr(0, dots));
  auto hi = dots == std::string_view::npos ? lo : parse_uint(range.substr(dots + 2));
  if (!lo || !hi || *hi < *lo) return perr(std::string(trim(text)) + ": bad bit range [" + std::string(range) + "]");
  if (*hi >= bits && bits) return perr(std::string(trim(text)) + ": bit range [" + std::string(range) + "] past the field's " + std::to_string(bits) + " bits");
  *whole = *lo == 0 && *hi + 1 == bits;
  if (ofs) *ofs = static_cast<unsigned>(*lo);
  if (nbits) *nbits = static_cast<unsigned>(*hi - *lo + 1);
  return std::nullopt;
}

bool parse_hex_bytes(std::string_view text, FieldValue* out) { return hex_bytes_value(text, out); }

std::string format_tun_flags(uint64_t value, uint64_t mask) {
  if (!(mask & datapath::kTunFlagOam)) return "0";
  return (value & datapath::kTunFlagOam) ? "+oam" : "-oam";
}

}  // namespace dps::ofproto::syntax
