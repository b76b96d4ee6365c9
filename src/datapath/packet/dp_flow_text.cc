#include "dp_flow_text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "dp_bond.h"

namespace dps::datapath {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    std::string tok = s.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
    size_t a = tok.find_first_not_of(" \t"), b = tok.find_last_not_of(" \t");
    out.push_back(a == std::string::npos ? "" : tok.substr(a, b - a + 1));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

[[noreturn]] void bad(const std::string& token, const std::string& why) {
  throw std::invalid_argument("'" + token + "': " + why);
}

uint64_t parse_uint(const std::string& token, const std::string& v, uint64_t max) {
  if (v.empty()) bad(token, "missing value");
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v.c_str(), &end, 0);
  if (*end || errno || v[0] == '-') bad(token, "'" + v + "' is not a number");
  if (x > max) bad(token, "value " + v + " is larger than " + std::to_string(max));
  return x;
}

void parse_mac(const std::string& token, const std::string& v, uint8_t* out) {
  unsigned b[6];
  char extra;
  if (std::sscanf(v.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &extra) != 6)
    bad(token, "'" + v + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
  for (int i = 0; i < 6; i++) {
    if (b[i] > 255) bad(token, "'" + v + "' is not a MAC address");
    out[i] = static_cast<uint8_t>(b[i]);
  }
}

uint32_t parse_ip4(const std::string& token, const std::string& v) {
  in_addr a{};
  if (inet_pton(AF_INET, v.c_str(), &a) != 1) bad(token, "'" + v + "' is not an IPv4 address");
  return a.s_addr;
}

void parse_ip6(const std::string& token, const std::string& v, uint8_t* out) {
  if (inet_pton(AF_INET6, v.c_str(), out) != 1) bad(token, "'" + v + "' is not an IPv6 address");
}

void prefix_mask(uint8_t* mask, unsigned bytes, unsigned len) {
  std::memset(mask, 0, bytes);
  for (unsigned i = 0; i < len; i++) mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
}

// --- Match fields -----------------------------------------------------------------
// One field=value[/mask] token, split. A FlowMask has the FlowKey's layout,
// so a field is one offset into both.
struct FieldToken {
  const std::string& tok;
  std::string value;
  std::string mask;  // "" = exact
  uint8_t* key;      // the field in the key
  uint8_t* msk;      // the field in the mask
};

enum class Syntax : uint8_t { kInt, kMac, kIp4, kIp6, kFrag };

struct MatchField {
  const char* name;
  Syntax syntax;
  size_t offset;  // in FlowKey / FlowMask
  unsigned size;  // kInt: bytes (1, 2 or 4)
  uint64_t max;   // kInt: largest value (and the exact mask)
  bool be;        // kInt: network byte order
};

#define DPS_INT(f, max, be) {#f, Syntax::kInt, offsetof(FlowKey, f), sizeof(FlowKey::f), max, be}
#define DPS_ADDR(f, syntax) {#f, syntax, offsetof(FlowKey, f), sizeof(FlowKey::f), 0, false}
constexpr MatchField kMatchFields[] = {
    DPS_INT(in_port, 0xffffffffu, false),  // not maskable (parse_field)
    DPS_INT(eth_type, 0xffff, true),
    DPS_INT(vlan_tci, 0xffff, true),
    DPS_INT(vlan_tci2, 0xffff, true),
    DPS_ADDR(dl_src, Syntax::kMac),
    DPS_ADDR(dl_dst, Syntax::kMac),
    DPS_ADDR(arp_sha, Syntax::kMac),
    DPS_ADDR(arp_tha, Syntax::kMac),
    DPS_ADDR(nw_src, Syntax::kIp4),
    DPS_ADDR(nw_dst, Syntax::kIp4),
    DPS_ADDR(ipv6_src, Syntax::kIp6),
    DPS_ADDR(ipv6_dst, Syntax::kIp6),
    DPS_ADDR(nd_target, Syntax::kIp6),
    DPS_INT(ipv6_label, 0xfffff, true),
    // PBB frames keep their I-SID in ipv6_label (flow_key_layout.h).
    {"pbb_isid", Syntax::kInt, offsetof(FlowKey, ipv6_label), sizeof(FlowKey::ipv6_label), 0xffffff, true},
    DPS_INT(mpls_lse, 0xffffffffu, true),
    DPS_INT(nw_proto, 0xff, false),
    DPS_INT(nw_tos, 0xff, false),
    DPS_INT(nw_ttl, 0xff, false),
    DPS_INT(tp_src, 0xffff, true),
    DPS_INT(tp_dst, 0xffff, true),
    DPS_INT(tcp_flags, 0xfff, true),
    DPS_ADDR(nw_frag, Syntax::kFrag),
};
#undef DPS_INT
#undef DPS_ADDR

void store_int(uint8_t* p, unsigned size, uint64_t v, bool be) {
  if (size == 1) {
    *p = static_cast<uint8_t>(v);
  } else if (size == 2) {
    uint16_t x = be ? htons(static_cast<uint16_t>(v)) : static_cast<uint16_t>(v);
    std::memcpy(p, &x, 2);
  } else {
    uint32_t x = be ? htonl(static_cast<uint32_t>(v)) : static_cast<uint32_t>(v);
    std::memcpy(p, &x, 4);
  }
}

void and_bytes(uint8_t* key, const uint8_t* mask, unsigned n) {
  for (unsigned i = 0; i < n; i++) key[i] &= mask[i];
}

void parse_int(const MatchField& f, const FieldToken& t) {
  const uint64_t val = parse_uint(t.tok, t.value, f.max);
  const uint64_t msk = t.mask.empty() ? f.max : parse_uint(t.tok, t.mask, f.max);
  store_int(t.key, f.size, val & msk, f.be);
  store_int(t.msk, f.size, msk, f.be);
}

void parse_mac_field(const FieldToken& t) {
  parse_mac(t.tok, t.value, t.key);
  if (t.mask.empty())
    std::memset(t.msk, 0xff, 6);
  else
    parse_mac(t.tok, t.mask, t.msk);
  and_bytes(t.key, t.msk, 6);
}

// A mask is an address, or a prefix length.
void parse_ip4_field(const FieldToken& t) {
  const uint32_t addr = parse_ip4(t.tok, t.value);
  std::memcpy(t.key, &addr, 4);
  if (t.mask.empty()) {
    std::memset(t.msk, 0xff, 4);
  } else if (t.mask.find('.') != std::string::npos) {
    const uint32_t m = parse_ip4(t.tok, t.mask);
    std::memcpy(t.msk, &m, 4);
  } else {
    prefix_mask(t.msk, 4, static_cast<unsigned>(parse_uint(t.tok, t.mask, 32)));
  }
  and_bytes(t.key, t.msk, 4);
}

void parse_ip6_field(const FieldToken& t) {
  parse_ip6(t.tok, t.value, t.key);
  if (t.mask.empty())
    std::memset(t.msk, 0xff, 16);
  else if (t.mask.find(':') != std::string::npos)
    parse_ip6(t.tok, t.mask, t.msk);
  else
    prefix_mask(t.msk, 16, static_cast<unsigned>(parse_uint(t.tok, t.mask, 128)));
  and_bytes(t.key, t.msk, 16);
}

void parse_frag_field(const FieldToken& t) {
  *t.msk = kFragAny | kFragLater;
  if (t.value == "no")
    *t.key = 0;
  else if (t.value == "first")
    *t.key = kFragAny;
  else if (t.value == "later")
    *t.key = kFragAny | kFragLater;
  else
    bad(t.tok, "nw_frag is one of no, first, later");
}

const MatchField& find_field(const std::string& tok, const std::string& name) {
  for (const MatchField& f : kMatchFields)
    if (name == f.name) return f;
  bad(tok, "unknown field '" + name + "'");
}

void parse_field(const std::string& tok, FlowKey* key, FlowMask* mask) {
  const size_t eq = tok.find('=');
  if (eq == std::string::npos) bad(tok, "expected field=value");
  const std::string name = tok.substr(0, eq);
  std::string v = tok.substr(eq + 1), m;
  if (size_t slash = v.find('/'); slash != std::string::npos) {
    m = v.substr(slash + 1);
    v = v.substr(0, slash);
  }
  const MatchField& f = find_field(tok, name);
  if (f.offset == offsetof(FlowKey, in_port) && !m.empty()) bad(tok, "in_port cannot be masked");
  const FieldToken t{tok, v, m, reinterpret_cast<uint8_t*>(key) + f.offset,
                     reinterpret_cast<uint8_t*>(mask) + f.offset};
  switch (f.syntax) {
    case Syntax::kInt: parse_int(f, t); break;
    case Syntax::kMac: parse_mac_field(t); break;
    case Syntax::kIp4: parse_ip4_field(t); break;
    case Syntax::kIp6: parse_ip6_field(t); break;
    case Syntax::kFrag: parse_frag_field(t); break;
  }
}

}  // namespace

void parse_flow_match(const std::string& text, FlowKey* key, FlowMask* mask) {
  std::memset(static_cast<void*>(key), 0, sizeof *key);
  std::memset(static_cast<void*>(mask), 0, sizeof *mask);
  for (const std::string& tok : split(text, ','))
    if (!tok.empty()) parse_field(tok, key, mask);
}

namespace {

// --- Actions -----------------------------------------------------------------------
// The rewrites that take one value (or none): name, type, and how the
// value is read and stored.
enum class ArgKind {
  kNone,
  kUint16,  // arg16 = value << shift (host order)
  kBe16,    // arg16 = value, network order
  kUint32,  // arg32 = value (host order)
  kMac,     // data[0..5]
  kIp4,     // arg32, network order
  kIp6,     // data[0..15]
};

struct RewriteSyntax {
  const char* name;
  ActType type;
  ArgKind arg;
  uint32_t max = 0;     // kUint16 / kBe16 / kUint32: largest value
  uint8_t shift = 0;    // kUint16: stored shifted left (DSCP << 2)
  uint32_t arg32 = 0;   // a constant arg32 (the ICMP version)
};

constexpr RewriteSyntax kRewrites[] = {
    {"dec_ttl", ActType::kDecTtl, ArgKind::kNone},
    {"set_vlan_vid", ActType::kSetVlanVid, ArgKind::kUint16, 4095},
    {"set_vlan_pcp", ActType::kSetVlanPcp, ArgKind::kUint16, 7},
    {"set_eth_src", ActType::kSetEthSrc, ArgKind::kMac},
    {"set_eth_dst", ActType::kSetEthDst, ArgKind::kMac},
    {"set_ipv4_src", ActType::kSetIpv4Src, ArgKind::kIp4},
    {"set_ipv4_dst", ActType::kSetIpv4Dst, ArgKind::kIp4},
    {"set_ipv6_src", ActType::kSetIpv6Src, ArgKind::kIp6},
    {"set_ipv6_dst", ActType::kSetIpv6Dst, ArgKind::kIp6},
    {"set_ipv4_tos", ActType::kSetIpv4Tos, ArgKind::kUint16, 63, 2},
    {"set_ipv4_ttl", ActType::kSetIpv4Ttl, ArgKind::kUint16, 255},
    {"set_tp_src", ActType::kSetTpSrc, ArgKind::kBe16, 0xffff},
    {"set_tp_dst", ActType::kSetTpDst, ArgKind::kBe16, 0xffff},
    {"set_ip_ecn", ActType::kSetIpEcn, ArgKind::kUint16, 3},
    {"set_ipv6_dscp", ActType::kSetIpv6Dscp, ArgKind::kUint16, 63, 2},
    {"set_ipv6_flabel", ActType::kSetIpv6Flabel, ArgKind::kUint32, 0xfffff},
    {"set_ipv6_hlim", ActType::kSetIpv6Hlim, ArgKind::kUint16, 255},
    {"set_icmpv4_type", ActType::kSetIcmpType, ArgKind::kUint16, 255, 0, 4},
    {"set_icmpv4_code", ActType::kSetIcmpCode, ArgKind::kUint16, 255, 0, 4},
    {"set_icmpv6_type", ActType::kSetIcmpType, ArgKind::kUint16, 255, 0, 6},
    {"set_icmpv6_code", ActType::kSetIcmpCode, ArgKind::kUint16, 255, 0, 6},
    {"set_arp_op", ActType::kSetArpOp, ArgKind::kUint16, 0xffff},
    {"set_arp_spa", ActType::kSetArpSpa, ArgKind::kIp4},
    {"set_arp_tpa", ActType::kSetArpTpa, ArgKind::kIp4},
    {"set_arp_sha", ActType::kSetArpSha, ArgKind::kMac},
    {"set_arp_tha", ActType::kSetArpTha, ArgKind::kMac},
    {"set_nd_target", ActType::kSetNdTarget, ArgKind::kIp6},
    {"set_nd_sll", ActType::kSetNdSll, ArgKind::kMac},
    {"set_nd_tll", ActType::kSetNdTll, ArgKind::kMac},
    {"set_eth_type", ActType::kSetEthType, ArgKind::kUint16, 0xffff},
    {"set_ip_proto", ActType::kSetIpProto, ArgKind::kUint16, 0xff},
    {"copy_ttl_out", ActType::kCopyTtlOut, ArgKind::kNone},
    {"copy_ttl_in", ActType::kCopyTtlIn, ArgKind::kNone},
    {"push_pbb", ActType::kPushPbb, ArgKind::kUint32, 0xffffffffu},
    {"pop_pbb", ActType::kPopPbb, ArgKind::kNone},
    {"set_pbb_isid", ActType::kSetPbbIsid, ArgKind::kUint32, 0xffffff},
};

// One kRewrites action; v is everything after the first ':' (MAC and IPv6
// values contain ':').
DpAction parse_rewrite(const std::string& tok, const RewriteSyntax& r, const std::string& v,
                       bool has_value) {
  if (has_value != (r.arg != ArgKind::kNone))
    bad(tok, std::string(r.name) + (has_value ? " takes no argument" : " takes 1 argument(s)"));
  DpAction a{};
  a.type = r.type;
  a.arg32 = r.arg32;
  switch (r.arg) {
    case ArgKind::kNone: break;
    case ArgKind::kUint16:
      a.arg16 = static_cast<uint16_t>(parse_uint(tok, v, r.max) << r.shift);
      break;
    case ArgKind::kBe16: a.arg16 = htons(static_cast<uint16_t>(parse_uint(tok, v, r.max))); break;
    case ArgKind::kUint32: a.arg32 = static_cast<uint32_t>(parse_uint(tok, v, r.max)); break;
    case ArgKind::kMac: parse_mac(tok, v, a.data); break;
    case ArgKind::kIp4: a.arg32 = parse_ip4(tok, v); break;
    case ArgKind::kIp6: parse_ip6(tok, v, a.data); break;
  }
  return a;
}

void need_args(const std::string& tok, const std::string& name, size_t n, size_t lo, size_t hi) {
  if (n < lo || n > hi)
    bad(tok, name + " takes " + std::to_string(lo) + (hi > lo ? ".." + std::to_string(hi) : "") + " argument(s)");
}

uint16_t parse_mpls_ethertype(const std::string& tok, const std::string& v) {
  const auto et = static_cast<uint16_t>(parse_uint(tok, v, 0xffff));
  if (et != kEthTypeMpls && et != kEthTypeMplsMcast) bad(tok, "'" + v + "' is not an MPLS ethertype (0x8847, 0x8848)");
  return et;
}

// push_mpls:ETHERTYPE:LSE, pop_mpls:ETHERTYPE, set_mpls:VALUE[:MASK] (the
// top label stack entry, 32 bits), recirc:ID.
DpAction parse_mpls_action(const std::string& tok, const std::string& name, const std::vector<std::string>& args) {
  auto need = [&](size_t lo, size_t hi) { need_args(tok, name, args.size(), lo, hi); };
  if (name == "push_mpls") {
    need(2, 2);
    return act_push_mpls(parse_mpls_ethertype(tok, args[0]), static_cast<uint32_t>(parse_uint(tok, args[1], 0xffffffffu)));
  }
  if (name == "pop_mpls") {
    need(1, 1);
    return act_pop_mpls(static_cast<uint16_t>(parse_uint(tok, args[0], 0xffff)));
  }
  if (name == "set_mpls") {
    need(1, 2);
    const auto mask = args.size() > 1 ? static_cast<uint32_t>(parse_uint(tok, args[1], 0xffffffffu)) : 0xffffffffu;
    return act_set_mpls_lse(static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)) & mask, mask);
  }
  if (name == "recirc") {
    need(1, 1);
    return act_recirc(static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
  }
  bad(tok, "unknown action '" + name + "'");
}

// The actions outside kRewrites: output, push/pop_vlan, userspace, meter,
// bond, then the MPLS ones.
DpAction parse_other_action(const std::string& tok, const std::string& name,
                            const std::vector<std::string>& args) {
  auto need = [&](size_t lo, size_t hi) { need_args(tok, name, args.size(), lo, hi); };
  if (std::isdigit(static_cast<unsigned char>(name[0])) && args.empty())
    return act_output(static_cast<uint32_t>(parse_uint(tok, name, 0xffffffffu)));
  if (name == "output") {
    need(1, 1);
    return act_output(static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
  }
  if (name == "push_vlan") {
    need(1, 3);
    uint16_t vid = static_cast<uint16_t>(parse_uint(tok, args[0], 4095));
    uint16_t pcp = args.size() > 1 ? static_cast<uint16_t>(parse_uint(tok, args[1], 7)) : 0;
    uint16_t tpid = args.size() > 2 ? static_cast<uint16_t>(parse_uint(tok, args[2], 0xffff))
                                    : kEthTypeVlan;
    return act_push_vlan(tpid, static_cast<uint16_t>(pcp << 13 | vid));
  }
  if (name == "pop_vlan" || name == "strip_vlan") {
    need(0, 0);
    return act_pop_vlan();
  }
  if (name == "userspace") {
    need(0, 1);
    return act_userspace(args.empty() ? 0 : static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
  }
  if (name == "bond") {
    need(1, 1);
    return act_bond_output(static_cast<uint32_t>(parse_uint(tok, args[0], kMaxBonds - 1)));
  }
  if (name == "meter") {
    need(1, 1);
    return act_meter(static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
  }
  return parse_mpls_action(tok, name, args);
}

}  // namespace

DpActions parse_dp_actions(const std::string& text) {
  DpActions acts;
  for (const std::string& tok : split(text, ',')) {
    if (tok.empty() || tok == "drop") continue;
    const size_t colon = tok.find(':');
    const std::string name = tok.substr(0, colon);
    const RewriteSyntax* r = std::find_if(std::begin(kRewrites), std::end(kRewrites),
                                          [&](const RewriteSyntax& x) { return name == x.name; });
    DpAction a{};
    if (r != std::end(kRewrites)) {
      a = parse_rewrite(tok, *r, colon == std::string::npos ? "" : tok.substr(colon + 1),
                        colon != std::string::npos);
    } else {
      std::vector<std::string> args;
      if (colon != std::string::npos) args = split(tok.substr(colon + 1), ':');
      a = parse_other_action(tok, name, args);
    }
    if (!acts.add(a))
      bad(tok, "more than " + std::to_string(kMaxDpActions) + " actions in one flow");
  }
  return acts;
}

}  // namespace dps::datapath
