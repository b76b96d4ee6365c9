#include "flow_parser.h"

#include "overloaded.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <optional>

namespace dps::ofproto {

namespace {

OfError perr(std::string msg) {
  return OfError::make(OfErrorType::kBadRequest, 0, std::move(msg));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Unsigned integer, decimal or 0x hex, no sign, no trailing junk.
std::optional<uint64_t> parse_uint(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_uint_max(std::string_view s, uint64_t max) {
  auto v = parse_uint(s);
  if (!v || *v > max) return std::nullopt;
  return v;
}

bool parse_mac(std::string_view s, uint8_t out[6]) {
  s = trim(s);
  unsigned b[6];
  char tail;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6)
    return false;
  for (int i = 0; i < 6; i++) out[i] = static_cast<uint8_t>(b[i]);
  return true;
}

bool parse_ipv4(std::string_view s, uint32_t* host) {
  std::string str(trim(s));
  in_addr a;
  if (inet_pton(AF_INET, str.c_str(), &a) != 1) return false;
  *host = ntohl(a.s_addr);
  return true;
}

bool parse_ipv6(std::string_view s, uint8_t out[16]) {
  std::string str(trim(s));
  return inet_pton(AF_INET6, str.c_str(), out) == 1;
}

void split_mask(std::string_view s, std::string_view* v, std::optional<std::string_view>* m) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    *v = s;
    m->reset();
  } else {
    *v = s.substr(0, slash);
    *m = s.substr(slash + 1);
  }
}

enum class Kind { kMac, kIpv4, kIpv6, kNum };

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

// Parses "value[/mask]" for field f. `name` is what the user wrote.
MaybeError parse_field_value(OxmField f, std::string_view text, const std::string& name,
                             FieldValue* value, std::optional<FieldValue>* mask) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  std::string_view vs;
  std::optional<std::string_view> ms;
  split_mask(text, &vs, &ms);
  auto bad = [&](const char* what, std::string_view t) {
    return perr(name + ": bad " + what + " '" + std::string(t) + "'");
  };
  switch (kind_of(f)) {
    case Kind::kMac: {
      uint8_t b[6];
      if (!parse_mac(vs, b)) return bad("MAC address", vs);
      *value = FieldValue::from_bytes(b, 6);
      if (ms) {
        if (!parse_mac(*ms, b)) return bad("MAC mask", *ms);
        *mask = FieldValue::from_bytes(b, 6);
      }
      return std::nullopt;
    }
    case Kind::kIpv4: {
      uint32_t a;
      if (!parse_ipv4(vs, &a)) return bad("IPv4 address", vs);
      *value = FieldValue::from_u64(a, 4);
      if (ms) {
        uint32_t m;
        if (ms->find('.') != std::string_view::npos) {
          if (!parse_ipv4(*ms, &m)) return bad("IPv4 mask", *ms);
        } else {
          auto p = parse_uint_max(*ms, 32);
          if (!p) return bad("IPv4 prefix length", *ms);
          m = *p == 0 ? 0 : ~0u << (32 - *p);
        }
        *mask = FieldValue::from_u64(m, 4);
      }
      return std::nullopt;
    }
    case Kind::kIpv6: {
      uint8_t b[16];
      if (!parse_ipv6(vs, b)) return bad("IPv6 address", vs);
      *value = FieldValue::from_bytes(b, 16);
      if (ms) {
        if (ms->find(':') != std::string_view::npos) {
          if (!parse_ipv6(*ms, b)) return bad("IPv6 mask", *ms);
        } else {
          auto p = parse_uint_max(*ms, 128);
          if (!p) return bad("IPv6 prefix length", *ms);
          std::memset(b, 0, 16);
          for (unsigned i = 0; i < *p; i++) b[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
        }
        *mask = FieldValue::from_bytes(b, 16);
      }
      return std::nullopt;
    }
    case Kind::kNum: {
      uint64_t max = fi.bits >= 64 ? ~0ull : (1ull << fi.bits) - 1;
      auto v = parse_uint(vs);
      if (!v) return bad("value", vs);
      if (*v > max)
        return perr(name + ": value " + std::string(vs) + " is out of range (max " + std::to_string(max) + ")");
      *value = FieldValue::from_u64(*v, fi.width);
      if (ms) {
        auto m = parse_uint(*ms);
        if (!m) return bad("mask", *ms);
        if (*m > max)
          return perr(name + ": mask " + std::string(*ms) + " is out of range (max " + std::to_string(max) + ")");
        *mask = FieldValue::from_u64(*m, fi.width);
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Reserved port names (OpenFlow 1.3 numbers); OF1.0 numbers are accepted too.
std::optional<uint32_t> parse_port(std::string_view s) {
  std::string l = lower(trim(s));
  if (l == "in_port") return kPortInPort;
  if (l == "table") return kPortTable;
  if (l == "normal") return kPortNormal;
  if (l == "flood") return kPortFlood;
  if (l == "all") return kPortAll;
  if (l == "controller") return kPortController;
  if (l == "local") return kPortLocal;
  if (l == "any" || l == "none") return kPortAny;
  auto v = parse_uint_max(l, 0xffffffffull);
  if (!v) return std::nullopt;
  if (*v >= 0xfff8 && *v <= 0xffff) return static_cast<uint32_t>(*v + 0xffff0000u);  // OF1.0 reserved
  return static_cast<uint32_t>(*v);
}

// Context for OVS names whose field depends on the protocol.
struct Ctx {
  std::optional<uint16_t> eth_type;
  std::optional<uint8_t> proto;
};

Ctx context_of(const OfMatch& m) {
  Ctx c;
  if (m.has(OxmField::kEthType) && m.is_exact(OxmField::kEthType))
    c.eth_type = static_cast<uint16_t>(m.value_of(OxmField::kEthType).to_u64(2));
  if (m.has(OxmField::kIpProto) && m.is_exact(OxmField::kIpProto))
    c.proto = static_cast<uint8_t>(m.value_of(OxmField::kIpProto).to_u64(1));
  return c;
}

// Resolves an OVS or OXM field name to the OXM field, given the protocol
// context. Error messages for context-dependent names say what is missing.
MaybeError resolve_field(const std::string& name, const Ctx& c, OxmField* out) {
  bool arp = c.eth_type && (*c.eth_type == 0x0806 || *c.eth_type == 0x8035);
  bool v6 = c.eth_type && *c.eth_type == 0x86dd;
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
  if (name == "icmp_type" || name == "icmp_code") {
    bool type = name == "icmp_type";
    if (c.proto == 1) *out = type ? OxmField::kIcmpv4Type : OxmField::kIcmpv4Code;
    else if (c.proto == 58 || v6) *out = type ? OxmField::kIcmpv6Type : OxmField::kIcmpv6Code;
    else
      return perr(name + " requires icmp or icmp6 in the match (ip_proto=1 or 58)");
    return std::nullopt;
  }
  if (name == "nw_ttl" || name == "nw_frag" || name == "ip_frag" || name == "tcp_flags" ||
      name == "vlan_tci2" || name == "mpls_ttl")
    return perr("field '" + name + "' is not an OpenFlow 1.3 match field");
  if (auto f = oxm_field_by_name(name)) {
    *out = *f;
    return std::nullopt;
  }
  return perr("unknown field '" + name + "'");
}

// Sets field f from text into m; values are ANDed with their masks.
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

struct Shorthand {
  const char* name;
  uint16_t eth_type;
  int proto;  // -1 = none
};
constexpr Shorthand kShorthands[] = {
    {"ip", 0x0800, -1},    {"ipv6", 0x86dd, -1}, {"icmp", 0x0800, 1},   {"icmp6", 0x86dd, 58},
    {"tcp", 0x0800, 6},    {"tcp6", 0x86dd, 6},  {"udp", 0x0800, 17},   {"udp6", 0x86dd, 17},
    {"sctp", 0x0800, 132}, {"sctp6", 0x86dd, 132}, {"arp", 0x0806, -1}, {"rarp", 0x8035, -1},
    {"mpls", 0x8847, -1},  {"mplsm", 0x8848, -1},
};

// Splits "a,b(c,d),e" at top-level commas.
MaybeError split_top(std::string_view s, std::vector<std::string_view>* out) {
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); i++) {
    if (i == s.size() || (s[i] == ',' && depth == 0)) {
      std::string_view t = trim(s.substr(start, i - start));
      if (!t.empty()) out->push_back(t);
      start = i + 1;
      continue;
    }
    if (s[i] == '(') depth++;
    if (s[i] == ')' && --depth < 0) return perr("unbalanced ')' in '" + std::string(s) + "'");
  }
  if (depth != 0) return perr("unbalanced '(' in '" + std::string(s) + "'");
  return std::nullopt;
}

// Action parsing state: what is known about the packet (for mod_tp_*, and
// mod_vlan_vid's implicit push).
struct ActState {
  OfMatch match;
  bool vlan_present() const {
    return match.has(OxmField::kVlanVid) &&
           (match.mask_of(OxmField::kVlanVid).to_u64(2) & kOfpVidPresent) &&
           (match.value_of(OxmField::kVlanVid).to_u64(2) & kOfpVidPresent);
  }
};

MaybeError parse_set_field(std::string_view arg, ActState& st, ActionList* out, const std::string& what) {
  size_t arrow = arg.find("->");
  if (arrow == std::string_view::npos)
    return perr(what + ": expected VALUE->FIELD, got '" + std::string(arg) + "'");
  std::string_view vtext = trim(arg.substr(0, arrow));
  std::string fname = lower(trim(arg.substr(arrow + 2)));
  OxmField f;
  if (MaybeError e = resolve_field(fname, context_of(st.match), &f)) {
    e->message = what + ": " + e->message;
    return e;
  }
  if (vtext.find('/') != std::string_view::npos)
    return perr(what + ": OpenFlow 1.3 set_field takes no mask ('" + std::string(vtext) + "')");
  FieldValue v;
  std::optional<FieldValue> mask;
  if (MaybeError e = parse_field_value(f, vtext, fname, &v, &mask)) {
    e->message = what + ": " + e->message;
    return e;
  }
  out->push_back(ActSetField{f, v});
  if (f == OxmField::kVlanVid && !st.vlan_present())
    st.match.force(OxmField::kVlanVid, FieldValue::from_u64(kOfpVidPresent, 2));
  return std::nullopt;
}

MaybeError parse_action_list(std::string_view text, ActState& st, ActionList* out,
                             Instructions* insts, int* last_rank);

// One action token. insts/last_rank are null inside write_actions(...).
MaybeError parse_one(std::string_view tok, ActState& st, ActionList* apply, Instructions* insts,
                     int* last_rank) {
  std::string_view name = tok, arg;
  bool paren = false;
  size_t colon = tok.find(':'), lp = tok.find('(');
  if (lp != std::string_view::npos && (colon == std::string_view::npos || lp < colon)) {
    if (tok.back() != ')') return perr("action '" + std::string(tok) + "': missing ')'");
    name = trim(tok.substr(0, lp));
    arg = trim(tok.substr(lp + 1, tok.size() - lp - 2));
    paren = true;
  } else if (colon != std::string_view::npos) {
    name = trim(tok.substr(0, colon));
    arg = trim(tok.substr(colon + 1));
  }
  const std::string n = lower(name);
  const std::string what = std::string(tok);
  auto need_arg = [&]() -> MaybeError {
    if (arg.empty()) return perr("action '" + what + "' needs an argument");
    return std::nullopt;
  };
  auto num = [&](uint64_t max, uint64_t* v) -> MaybeError {
    if (MaybeError e = need_arg()) return e;
    auto p = parse_uint_max(arg, max);
    if (!p) return perr("action '" + what + "': bad number '" + std::string(arg) + "' (max " + std::to_string(max) + ")");
    *v = *p;
    return std::nullopt;
  };
  // Instructions (top level only).
  auto instr = [&](int rank, const char* iname) -> MaybeError {
    if (!insts) return perr(std::string(iname) + " is an instruction; not allowed inside write_actions() or a bucket");
    static const char* kNames[] = {"meter", "apply actions", "clear_actions", "write_actions", "write_metadata", "goto_table"};
    if (rank < *last_rank)
      return perr(std::string("invalid instruction ordering: ") + iname + " must appear before " + kNames[*last_rank]);
    if (rank == *last_rank && rank != 1) return perr(std::string(iname) + " appears twice");
    *last_rank = rank;
    return std::nullopt;
  };
  uint64_t v = 0;
  if (n == "meter") {
    if (MaybeError e = instr(0, "meter")) return e;
    if (MaybeError e = num(0xffffffffull, &v)) return e;
    insts->meter = static_cast<uint32_t>(v);
    return std::nullopt;
  }
  if (n == "clear_actions") {
    if (MaybeError e = instr(2, "clear_actions")) return e;
    insts->clear_actions = true;
    return std::nullopt;
  }
  if (n == "write_actions") {
    if (MaybeError e = instr(3, "write_actions")) return e;
    if (!paren) return perr("write_actions needs a list in parentheses: write_actions(output:1)");
    ActionList w;
    ActState inner = st;
    if (MaybeError e = parse_action_list(arg, inner, &w, nullptr, nullptr)) return e;
    insts->write = std::move(w);
    return std::nullopt;
  }
  if (n == "write_metadata") {
    if (MaybeError e = instr(4, "write_metadata")) return e;
    if (MaybeError e = need_arg()) return e;
    std::string_view vs;
    std::optional<std::string_view> ms;
    split_mask(arg, &vs, &ms);
    auto val = parse_uint(vs);
    auto mask = ms ? parse_uint(*ms) : std::optional<uint64_t>(~0ull);
    if (!val || !mask) return perr("write_metadata: bad value '" + std::string(arg) + "'");
    if (*val & ~*mask) return perr("write_metadata: value " + std::string(vs) + " has bits outside its mask");
    insts->write_metadata = WriteMetadata{*val, *mask};
    return std::nullopt;
  }
  if (n == "goto_table") {
    if (MaybeError e = instr(5, "goto_table")) return e;
    if (MaybeError e = num(0xff, &v)) return e;
    if (v >= kNumTables) return perr("goto_table:" + std::string(arg) + ": table out of range 0..254");
    insts->goto_table = static_cast<uint8_t>(v);
    return std::nullopt;
  }
  if (insts)
    if (MaybeError e = instr(1, "apply actions")) return e;
  // Actions.
  if (n == "drop") return perr("drop must be the only action");
  if (n == "output") {
    if (MaybeError e = need_arg()) return e;
    auto p = parse_port(arg);
    if (!p || *p == kPortAny) return perr("output: bad port '" + std::string(arg) + "'");
    apply->push_back(ActOutput{*p});
    return std::nullopt;
  }
  if (n == "controller") {
    ActOutput o{kPortController, kControllerNoBuffer};
    if (!arg.empty()) {
      std::string_view a = arg;
      if (paren) {
        // controller(max_len=N[,reason=...]): only max_len is meaningful here.
        std::vector<std::string_view> parts;
        if (MaybeError e = split_top(a, &parts)) return e;
        for (std::string_view p : parts) {
          size_t eq = p.find('=');
          if (eq == std::string_view::npos || trim(p.substr(0, eq)) != "max_len")
            return perr("controller(): only max_len=N is supported, got '" + std::string(p) + "'");
          a = p.substr(eq + 1);
        }
      }
      auto ml = parse_uint_max(a, 0xffff);
      if (!ml) return perr("controller: bad max_len '" + std::string(a) + "'");
      o.max_len = static_cast<uint16_t>(*ml);
    }
    apply->push_back(o);
    return std::nullopt;
  }
  if (arg.empty() && !paren) {
    if (auto p = parse_port(n); p && *p != kPortAny && *p != kPortTable) {
      apply->push_back(ActOutput{*p});
      return std::nullopt;
    }
  }
  if (n == "group") {
    if (MaybeError e = num(0xffffffffull, &v)) return e;
    apply->push_back(ActGroup{static_cast<uint32_t>(v)});
    return std::nullopt;
  }
  if (n == "set_queue") {
    if (MaybeError e = num(0xffffffffull, &v)) return e;
    apply->push_back(ActSetQueue{static_cast<uint32_t>(v)});
    return std::nullopt;
  }
  if (n == "push_vlan") {
    if (MaybeError e = num(0xffff, &v)) return e;
    if (v != 0x8100 && v != 0x88a8) return perr("push_vlan: ethertype must be 0x8100 or 0x88a8");
    apply->push_back(ActPushVlan{static_cast<uint16_t>(v)});
    st.match.force(OxmField::kVlanVid, FieldValue::from_u64(kOfpVidPresent, 2));
    return std::nullopt;
  }
  if (n == "pop_vlan" || n == "strip_vlan") {
    apply->push_back(ActPopVlan{});
    st.match.clear(OxmField::kVlanVid);
    st.match.clear(OxmField::kVlanPcp);
    return std::nullopt;
  }
  if (n == "push_mpls") {
    if (MaybeError e = num(0xffff, &v)) return e;
    if (v != 0x8847 && v != 0x8848) return perr("push_mpls: ethertype must be 0x8847 or 0x8848");
    apply->push_back(ActPushMpls{static_cast<uint16_t>(v)});
    st.match = OfMatch{};
    st.match.force(OxmField::kEthType, FieldValue::from_u64(v, 2));
    return std::nullopt;
  }
  if (n == "pop_mpls") {
    if (MaybeError e = num(0xffff, &v)) return e;
    apply->push_back(ActPopMpls{static_cast<uint16_t>(v)});
    st.match = OfMatch{};
    st.match.force(OxmField::kEthType, FieldValue::from_u64(v, 2));
    return std::nullopt;
  }
  if (n == "set_mpls_ttl") {
    if (MaybeError e = num(0xff, &v)) return e;
    apply->push_back(ActSetMplsTtl{static_cast<uint8_t>(v)});
    return std::nullopt;
  }
  if (n == "mod_nw_ttl" || n == "set_nw_ttl") {
    if (MaybeError e = num(0xff, &v)) return e;
    apply->push_back(ActSetNwTtl{static_cast<uint8_t>(v)});
    return std::nullopt;
  }
  if (n == "dec_mpls_ttl") return apply->push_back(ActDecMplsTtl{}), std::nullopt;
  if (n == "dec_ttl") {
    if (!arg.empty()) return perr("dec_ttl: controller ids are not supported ('" + what + "')");
    return apply->push_back(ActDecNwTtl{}), std::nullopt;
  }
  if (n == "copy_ttl_out") return apply->push_back(ActCopyTtlOut{}), std::nullopt;
  if (n == "copy_ttl_in") return apply->push_back(ActCopyTtlIn{}), std::nullopt;
  if (n == "set_field") {
    if (MaybeError e = need_arg()) return e;
    return parse_set_field(arg, st, apply, "set_field:" + std::string(arg));
  }
  // OpenFlow 1.0 style rewrites, as ovs-ofctl turns them into set_field.
  static const std::pair<const char*, const char*> kMods[] = {
      {"mod_dl_src", "eth_src"}, {"mod_dl_dst", "eth_dst"}, {"mod_nw_src", "nw_src"},
      {"mod_nw_dst", "nw_dst"},  {"mod_tp_src", "tp_src"},  {"mod_tp_dst", "tp_dst"},
      {"mod_vlan_pcp", "vlan_pcp"}, {"mod_nw_ecn", "ip_ecn"},
  };
  for (const auto& [mname, field] : kMods)
    if (n == mname) {
      if (MaybeError e = need_arg()) return e;
      return parse_set_field(std::string(arg) + "->" + field, st, apply, what);
    }
  if (n == "mod_nw_tos") {
    if (MaybeError e = num(0xff, &v)) return e;
    if (v & 3) return perr("mod_nw_tos:" + std::string(arg) + ": the low 2 (ECN) bits must be zero");
    return parse_set_field(std::to_string(v >> 2) + "->ip_dscp", st, apply, what);
  }
  if (n == "mod_vlan_vid") {
    if (MaybeError e = num(0xfff, &v)) return e;
    if (!st.vlan_present()) {
      apply->push_back(ActPushVlan{0x8100});
      st.match.force(OxmField::kVlanVid, FieldValue::from_u64(kOfpVidPresent, 2));
    }
    return parse_set_field(std::to_string(v | kOfpVidPresent) + "->vlan_vid", st, apply, what);
  }
  return perr("unknown action '" + what + "'");
}

MaybeError parse_action_list(std::string_view text, ActState& st, ActionList* out,
                             Instructions* insts, int* last_rank) {
  std::vector<std::string_view> toks;
  if (MaybeError e = split_top(text, &toks)) return e;
  if (toks.size() == 1 && lower(toks[0]) == "drop") return std::nullopt;
  for (std::string_view t : toks)
    if (MaybeError e = parse_one(t, st, out, insts, last_rank)) return e;
  return std::nullopt;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Prefix length of a contiguous mask, or -1.
int prefix_len(const FieldValue& m, unsigned width) {
  int n = 0;
  bool zero_seen = false;
  for (unsigned i = 0; i < width * 8; i++) {
    bool bit = m.bytes[i / 8] & (0x80 >> (i % 8));
    if (bit && zero_seen) return -1;
    if (bit) n++;
    else zero_seen = true;
  }
  return n;
}

}  // namespace

MaybeError parse_actions(std::string_view text, const OfMatch& match, ActionList* out) {
  ActState st{match};
  out->clear();
  return parse_action_list(text, st, out, nullptr, nullptr);
}

MaybeError parse_instructions(std::string_view text, const OfMatch& match, Instructions* out) {
  *out = Instructions{};
  ActState st{match};
  ActionList apply;
  int last_rank = -1;
  if (MaybeError e = parse_action_list(text, st, &apply, out, &last_rank)) return e;
  if (!apply.empty()) out->apply = std::move(apply);
  return std::nullopt;
}

MaybeError parse_flow(std::string_view text, FlowMod* out, FlowParseMode mode, bool strict) {
  FlowMod fm;
  switch (mode) {
    case FlowParseMode::kAdd: fm.command = FlowModCommand::kAdd; break;
    case FlowParseMode::kModify:
      fm.command = strict ? FlowModCommand::kModifyStrict : FlowModCommand::kModify;
      fm.table_id = kTableAll;
      break;
    case FlowParseMode::kDelete:
      fm.command = strict ? FlowModCommand::kDeleteStrict : FlowModCommand::kDelete;
      fm.table_id = kTableAll;
      break;
  }
  // Split off actions= (also "action=").
  std::string_view match_part = text, actions_part;
  bool have_actions = false;
  for (const char* kw : {"actions=", "action="}) {
    size_t pos = text.find(kw);
    if (pos != std::string_view::npos && (pos == 0 || std::string_view(" \t,").find(text[pos - 1]) != std::string_view::npos)) {
      match_part = text.substr(0, pos);
      actions_part = text.substr(pos + std::strlen(kw));
      have_actions = true;
      break;
    }
  }
  if (mode == FlowParseMode::kDelete && have_actions)
    return perr("actions are not allowed when deleting flows");
  if (mode != FlowParseMode::kDelete && !have_actions)
    return perr("missing actions= (use actions=drop for a rule that drops)");

  // Tokens of the match part.
  struct Tok {
    std::string key;
    std::string_view value;
    bool has_value;
  };
  std::vector<Tok> toks;
  {
    size_t i = 0;
    while (i < match_part.size()) {
      while (i < match_part.size() && (match_part[i] == ',' || std::isspace(static_cast<unsigned char>(match_part[i])))) i++;
      size_t start = i;
      while (i < match_part.size() && match_part[i] != ',' && !std::isspace(static_cast<unsigned char>(match_part[i]))) i++;
      if (i == start) break;
      std::string_view t = match_part.substr(start, i - start);
      size_t eq = t.find('=');
      if (eq == std::string_view::npos)
        toks.push_back({lower(t), {}, false});
      else
        toks.push_back({lower(t.substr(0, eq)), t.substr(eq + 1), true});
    }
  }
  OfMatch& m = fm.match;
  std::optional<uint64_t> pcp_from_dl_vlan_pcp;
  bool vlan_untagged = false;
  // Pass 0: keywords that are not match fields, and protocol shorthands.
  for (const Tok& t : toks) {
    auto val = [&](uint64_t max, uint64_t* v) -> MaybeError {
      if (!t.has_value) return perr(t.key + " needs a value");
      auto p = parse_uint_max(t.value, max);
      if (!p) return perr(t.key + ": bad value '" + std::string(t.value) + "' (max " + std::to_string(max) + ")");
      *v = *p;
      return std::nullopt;
    };
    uint64_t v;
    if (t.key == "table") {
      if (!t.has_value) return perr("table needs a value");
      if (lower(t.value) == "all") {
        v = kTableAll;
      } else {
        auto p = parse_uint(t.value);
        if (!p) return perr("table: bad value '" + std::string(t.value) + "'");
        v = *p;
      }
      if (v == kTableAll && mode == FlowParseMode::kAdd)
        return perr("table " + std::string(t.value) + " out of range 0..254 (add needs one table)");
      if (v > kTableAll) return perr("table " + std::string(t.value) + " out of range 0..254");
      fm.table_id = static_cast<uint8_t>(v);
    } else if (t.key == "priority") {
      if (MaybeError e = val(0xffff, &v)) return e;
      fm.priority = static_cast<uint16_t>(v);
    } else if (t.key == "idle_timeout") {
      if (MaybeError e = val(0xffff, &v)) return e;
      fm.idle_timeout = static_cast<uint16_t>(v);
    } else if (t.key == "hard_timeout") {
      if (MaybeError e = val(0xffff, &v)) return e;
      fm.hard_timeout = static_cast<uint16_t>(v);
    } else if (t.key == "cookie") {
      if (!t.has_value) return perr("cookie needs a value");
      std::string_view vs;
      std::optional<std::string_view> ms;
      split_mask(t.value, &vs, &ms);
      auto c = parse_uint(vs);
      if (!c) return perr("cookie: bad value '" + std::string(vs) + "'");
      fm.cookie = *c;
      if (ms) {
        if (mode == FlowParseMode::kAdd) return perr("cookie mask is only allowed when modifying or deleting flows");
        auto cm = parse_uint(*ms);
        if (!cm) return perr("cookie: bad mask '" + std::string(*ms) + "'");
        fm.cookie_mask = *cm;
      } else if (mode != FlowParseMode::kAdd) {
        fm.cookie_mask = ~0ull;
      }
    } else if (t.key == "out_port") {
      if (mode != FlowParseMode::kDelete) return perr("out_port is only allowed when deleting flows");
      auto p = t.has_value ? parse_port(t.value) : std::nullopt;
      if (!p) return perr("out_port: bad port '" + std::string(t.value) + "'");
      fm.out_port = *p;
    } else if (t.key == "out_group") {
      if (mode != FlowParseMode::kDelete) return perr("out_group is only allowed when deleting flows");
      if (MaybeError e = val(0xffffffffull, &v)) return e;
      fm.out_group = static_cast<uint32_t>(v);
    } else if (t.key == "send_flow_rem") {
      fm.flags |= kFlagSendFlowRem;
    } else if (t.key == "check_overlap") {
      fm.flags |= kFlagCheckOverlap;
    } else if (t.key == "reset_counts") {
      fm.flags |= kFlagResetCounts;
    } else if (t.key == "no_packet_counts") {
      fm.flags |= kFlagNoPktCounts;
    } else if (t.key == "no_byte_counts") {
      fm.flags |= kFlagNoBytCounts;
    } else if (t.key == "duration" || t.key == "n_packets" || t.key == "n_bytes" ||
               t.key == "idle_age" || t.key == "hard_age") {
      // dump-flows statistics: ignored so a dump can be loaded back.
    } else if (!t.has_value) {
      const Shorthand* sh = nullptr;
      for (const Shorthand& s : kShorthands)
        if (t.key == s.name) sh = &s;
      if (!sh) return perr("unknown field '" + t.key + "'");
      // Shorthands may repeat compatibly ("ip,...,tcp"), not conflict ("ip,arp").
      Ctx have = context_of(m);
      if (have.eth_type && *have.eth_type != sh->eth_type)
        return perr(t.key + " conflicts with the eth_type already matched (" +
                    format_field_value(OxmField::kEthType, m.value_of(OxmField::kEthType)) + ")");
      if (!have.eth_type)
        if (MaybeError e = m.set_u64(OxmField::kEthType, sh->eth_type)) {
          e->message = t.key + ": " + e->message;
          return e;
        }
      if (sh->proto >= 0) {
        if (have.proto && *have.proto != sh->proto)
          return perr(t.key + " conflicts with the ip_proto already matched (" + std::to_string(*have.proto) + ")");
        if (!have.proto)
          if (MaybeError e = m.set_u64(OxmField::kIpProto, static_cast<uint64_t>(sh->proto))) {
            e->message = t.key + ": " + e->message;
            return e;
          }
      }
    }
  }
  auto is_keyword = [](const std::string& k) {
    static const char* kKeys[] = {"table", "priority", "idle_timeout", "hard_timeout", "cookie",
                                  "out_port", "out_group", "duration", "n_packets", "n_bytes",
                                  "idle_age", "hard_age"};
    for (const char* x : kKeys)
      if (k == x) return true;
    return false;
  };
  // Passes 1..3: dl_type, then nw_proto, then everything else.
  for (int pass = 1; pass <= 3; pass++) {
    for (const Tok& t : toks) {
      if (!t.has_value || is_keyword(t.key)) continue;
      const bool is_type = t.key == "dl_type" || t.key == "eth_type";
      const bool is_proto = t.key == "nw_proto" || t.key == "ip_proto";
      if ((pass == 1) != is_type || (pass == 2) != is_proto) continue;
      const std::string& k = t.key;
      if (k == "in_port") {
        auto p = parse_port(t.value);
        if (!p || *p == kPortAny) return perr("in_port: bad port '" + std::string(t.value) + "'");
        if (MaybeError e = m.set_u64(OxmField::kInPort, *p)) return e;
        continue;
      }
      if (k == "dl_vlan") {
        auto p = parse_uint(t.value);
        if (!p || (*p > 0xfff && *p != 0xffff))
          return perr("dl_vlan: bad VLAN id '" + std::string(t.value) + "' (0..4095, or 0xffff for untagged)");
        if (*p == 0xffff) {
          vlan_untagged = true;
          if (MaybeError e = m.set_u64(OxmField::kVlanVid, kOfpVidNone)) return e;
        } else if (MaybeError e = m.set_u64(OxmField::kVlanVid, *p | kOfpVidPresent)) {
          return e;
        }
        continue;
      }
      if (k == "dl_vlan_pcp") {
        auto p = parse_uint_max(t.value, 7);
        if (!p) return perr("dl_vlan_pcp: bad priority '" + std::string(t.value) + "' (0..7)");
        if (MaybeError e = m.set_u64(OxmField::kVlanPcp, *p)) return e;
        pcp_from_dl_vlan_pcp = *p;
        continue;
      }
      if (k == "vlan_tci") {
        std::string_view vs;
        std::optional<std::string_view> ms;
        split_mask(t.value, &vs, &ms);
        auto tv = parse_uint_max(vs, 0xffff);
        auto tm = ms ? parse_uint_max(*ms, 0xffff) : std::optional<uint64_t>(0xffff);
        if (!tv || !tm) return perr("vlan_tci: bad value '" + std::string(t.value) + "'");
        uint64_t val = *tv & *tm, msk = *tm;
        bool untagged = (msk & kOfpVidPresent) && !(val & kOfpVidPresent);
        if (msk & 0x1fff)
          if (MaybeError e = m.set_u64_masked(OxmField::kVlanVid, val & 0x1fff, msk & 0x1fff)) return e;
        if (!untagged && (msk & 0xe000)) {
          if ((msk & 0xe000) != 0xe000)
            return perr("vlan_tci: the PCP bits (0xe000) must be fully masked or not at all");
          if (MaybeError e = m.set_u64(OxmField::kVlanPcp, val >> 13)) return e;
        }
        continue;
      }
      if (k == "nw_tos") {
        auto p = parse_uint_max(t.value, 0xff);
        if (!p || (*p & 3)) return perr("nw_tos: bad value '" + std::string(t.value) + "' (DSCP << 2, low 2 bits zero)");
        if (MaybeError e = m.set_u64(OxmField::kIpDscp, *p >> 2)) return e;
        continue;
      }
      OxmField f;
      if (MaybeError e = resolve_field(k, context_of(m), &f)) return e;
      if (MaybeError e = set_match_field(&m, f, t.value, k)) return e;
    }
  }
  // dl_vlan_pcp alone means "tagged with this PCP", as in OVS.
  if (pcp_from_dl_vlan_pcp && !m.has(OxmField::kVlanVid))
    if (MaybeError e = m.set_u64_masked(OxmField::kVlanVid, kOfpVidPresent, kOfpVidPresent)) return e;
  if (vlan_untagged && m.has(OxmField::kVlanPcp))
    return perr("dl_vlan_pcp cannot be matched on untagged packets (dl_vlan=0xffff)");
  if (MaybeError e = m.check_prerequisites()) return e;
  if (have_actions) {
    std::string_view a = trim(actions_part);
    if (a.empty()) return perr("actions= is empty (use actions=drop)");
    if (MaybeError e = parse_instructions(a, m, &fm.instructions)) return e;
  }
  *out = std::move(fm);
  return std::nullopt;
}

MaybeError parse_flows(std::string_view text, std::vector<FlowMod>* out, FlowParseMode mode) {
  out->clear();
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line_no++;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    FlowMod fm;
    if (MaybeError e = parse_flow(line, &fm, mode)) {
      e->message = "line " + std::to_string(line_no) + ": " + e->message;
      return e;
    }
    out->push_back(std::move(fm));
  }
  return std::nullopt;
}

MaybeError parse_group(std::string_view text, GroupMod* out) {
  GroupMod gm;
  bool have_id = false, have_type = false;
  // Split at ",bucket=" boundaries first; the head has group_id and type.
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t b = text.find("bucket=", pos);
    if (b == std::string_view::npos) {
      parts.push_back(text.substr(pos));
      break;
    }
    parts.push_back(text.substr(pos, b - pos));
    pos = b + 7;
    parts.push_back("\x01");  // marker: next part is a bucket
  }
  // Head.
  std::vector<std::string_view> head;
  if (MaybeError e = split_top(parts[0], &head)) return e;
  for (std::string_view t : head) {
    size_t eq = t.find('=');
    std::string key = lower(trim(t.substr(0, eq)));
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : trim(t.substr(eq + 1));
    if (key == "group_id") {
      auto v = lower(val) == "all" ? std::optional<uint64_t>(kGroupAll) : parse_uint_max(val, 0xffffffffull);
      if (!v) return perr("group_id: bad value '" + std::string(val) + "'");
      gm.group_id = static_cast<uint32_t>(*v);
      have_id = true;
    } else if (key == "type") {
      std::string ty = lower(val);
      if (ty == "all") gm.type = GroupType::kAll;
      else if (ty == "select") gm.type = GroupType::kSelect;
      else if (ty == "indirect") gm.type = GroupType::kIndirect;
      else if (ty == "ff" || ty == "fast_failover") gm.type = GroupType::kFastFailover;
      else return perr("type: unknown group type '" + std::string(val) + "' (all, select, indirect, ff)");
      have_type = true;
    } else {
      return perr("unknown group keyword '" + key + "'");
    }
  }
  if (!have_id) return perr("group_id is required");
  if (!have_type) return perr("type is required");
  for (size_t i = 1; i + 1 < parts.size(); i += 2) {
    std::string_view body = trim(parts[i + 1]);
    while (!body.empty() && body.back() == ',') body = trim(body.substr(0, body.size() - 1));
    GroupBucket b;
    std::string_view acts = body;
    // Optional weight:/watch_port:/watch_group: before actions=.
    size_t ap = body.find("actions=");
    if (ap != std::string_view::npos) {
      std::vector<std::string_view> opts;
      if (MaybeError e = split_top(body.substr(0, ap), &opts)) return e;
      for (std::string_view o : opts) {
        size_t sep = o.find_first_of(":=");
        std::string key = lower(trim(o.substr(0, sep)));
        std::string_view val = sep == std::string_view::npos ? std::string_view{} : o.substr(sep + 1);
        if (key == "weight") {
          auto v = parse_uint_max(val, 0xffff);
          if (!v) return perr("bucket weight: bad value '" + std::string(val) + "'");
          b.weight = static_cast<uint16_t>(*v);
        } else if (key == "watch_port") {
          auto v = parse_port(val);
          if (!v) return perr("bucket watch_port: bad port '" + std::string(val) + "'");
          b.watch_port = *v;
        } else if (key == "watch_group") {
          auto v = parse_uint_max(val, 0xffffffffull);
          if (!v) return perr("bucket watch_group: bad value '" + std::string(val) + "'");
          b.watch_group = static_cast<uint32_t>(*v);
        } else {
          return perr("unknown bucket keyword '" + key + "'");
        }
      }
      acts = body.substr(ap + 8);
    }
    if (MaybeError e = parse_actions(acts, OfMatch{}, &b.actions)) {
      e->message = "bucket " + std::to_string(i / 2 + 1) + ": " + e->message;
      return e;
    }
    gm.buckets.push_back(std::move(b));
  }
  *out = std::move(gm);
  return std::nullopt;
}

std::string format_port(uint32_t port) {
  switch (port) {
    case kPortInPort: return "IN_PORT";
    case kPortTable: return "TABLE";
    case kPortNormal: return "NORMAL";
    case kPortFlood: return "FLOOD";
    case kPortAll: return "ALL";
    case kPortController: return "CONTROLLER";
    case kPortLocal: return "LOCAL";
    case kPortAny: return "ANY";
    default: return std::to_string(port);
  }
}

namespace {

std::string format_value_mask(OxmField f, const OfMatch& m) {
  FieldValue v = m.value_of(f);
  std::string s = format_field_value(f, v);
  if (m.is_exact(f)) return s;
  FieldValue mk = m.mask_of(f);
  const OxmFieldInfo& fi = oxm_field_info(f);
  Kind k = kind_of(f);
  if (k == Kind::kIpv4 || k == Kind::kIpv6) {
    int p = prefix_len(mk, fi.width);
    if (p >= 0) return s + "/" + std::to_string(p);
  }
  if (k == Kind::kNum) return hex(v.to_u64(fi.width)) + "/" + hex(mk.to_u64(fi.width));
  return s + "/" + format_field_value(f, mk);
}

}  // namespace

std::string format_match(const OfMatch& m) {
  std::vector<std::string> parts;
  Ctx c = context_of(m);
  bool et_done = false, proto_done = false;
  if (c.eth_type) {
    for (const Shorthand& s : kShorthands) {
      if (s.eth_type != *c.eth_type) continue;
      if (s.proto < 0 && !et_done) {
        // Remember the plain shorthand; a protocol one may replace it.
        parts.push_back(s.name);
        et_done = true;
      }
      if (s.proto >= 0 && c.proto && *c.proto == s.proto && m.is_exact(OxmField::kIpProto)) {
        if (et_done) parts.pop_back();
        parts.push_back(s.name);
        et_done = proto_done = true;
        break;
      }
    }
  }
  auto add = [&](const std::string& name, OxmField f) {
    if (m.has(f)) parts.push_back(name + "=" + format_value_mask(f, m));
  };
  if (m.has(OxmField::kInPort)) parts.push_back("in_port=" + format_port(static_cast<uint32_t>(m.value_of(OxmField::kInPort).to_u64(4))));
  add("in_phy_port", OxmField::kInPhyPort);
  // VLAN: dl_vlan / dl_vlan_pcp when they say it all, else vlan_tci.
  if (m.has(OxmField::kVlanVid) || m.has(OxmField::kVlanPcp)) {
    uint16_t vv = static_cast<uint16_t>(m.value_of(OxmField::kVlanVid).to_u64(2));
    uint16_t vm = m.has(OxmField::kVlanVid) ? static_cast<uint16_t>(m.mask_of(OxmField::kVlanVid).to_u64(2)) : 0;
    bool pcp = m.has(OxmField::kVlanPcp);
    uint16_t pv = static_cast<uint16_t>(m.value_of(OxmField::kVlanPcp).to_u64(1));
    if (vm == 0x1fff && (vv & kOfpVidPresent)) {
      parts.push_back("dl_vlan=" + std::to_string(vv & 0xfff));
      if (pcp) parts.push_back("dl_vlan_pcp=" + std::to_string(pv));
    } else if (vm == kOfpVidPresent && (vv & kOfpVidPresent) && pcp) {
      parts.push_back("dl_vlan_pcp=" + std::to_string(pv));
    } else {
      uint16_t tv = static_cast<uint16_t>(vv | (pcp ? pv << 13 : 0));
      uint16_t tm = static_cast<uint16_t>(vm | (pcp ? 0xe000 : 0));
      char buf[32];
      std::snprintf(buf, sizeof buf, "vlan_tci=0x%04x/0x%04x", tv, tm);
      parts.push_back(buf);
    }
  }
  add("dl_src", OxmField::kEthSrc);
  add("dl_dst", OxmField::kEthDst);
  if (m.has(OxmField::kEthType) && !et_done) add("dl_type", OxmField::kEthType);
  add("nw_src", OxmField::kIpv4Src);
  add("nw_dst", OxmField::kIpv4Dst);
  add("arp_spa", OxmField::kArpSpa);
  add("arp_tpa", OxmField::kArpTpa);
  if (m.has(OxmField::kIpProto) && !proto_done) add("nw_proto", OxmField::kIpProto);
  add("arp_op", OxmField::kArpOp);
  if (m.has(OxmField::kIpDscp)) parts.push_back("nw_tos=" + std::to_string(m.value_of(OxmField::kIpDscp).to_u64(1) << 2));
  add("nw_ecn", OxmField::kIpEcn);
  for (OxmField f : {OxmField::kTcpSrc, OxmField::kUdpSrc, OxmField::kSctpSrc}) add("tp_src", f);
  for (OxmField f : {OxmField::kTcpDst, OxmField::kUdpDst, OxmField::kSctpDst}) add("tp_dst", f);
  add("icmp_type", OxmField::kIcmpv4Type);
  add("icmp_code", OxmField::kIcmpv4Code);
  add("icmp_type", OxmField::kIcmpv6Type);
  add("icmp_code", OxmField::kIcmpv6Code);
  add("arp_sha", OxmField::kArpSha);
  add("arp_tha", OxmField::kArpTha);
  add("ipv6_src", OxmField::kIpv6Src);
  add("ipv6_dst", OxmField::kIpv6Dst);
  add("ipv6_label", OxmField::kIpv6Flabel);
  add("nd_target", OxmField::kIpv6NdTarget);
  add("nd_sll", OxmField::kIpv6NdSll);
  add("nd_tll", OxmField::kIpv6NdTll);
  add("mpls_label", OxmField::kMplsLabel);
  add("mpls_tc", OxmField::kMplsTc);
  add("mpls_bos", OxmField::kMplsBos);
  add("pbb_isid", OxmField::kPbbIsid);
  add("tun_id", OxmField::kTunnelId);
  add("ipv6_exthdr", OxmField::kIpv6Exthdr);
  add("metadata", OxmField::kMetadata);
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

std::string format_actions(const ActionList& actions) {
  if (actions.empty()) return "drop";
  std::string out;
  for (const OfAction& a : actions) {
    if (!out.empty()) out += ',';
    out += std::visit(
        Overloaded{
            [](const ActOutput& o) -> std::string {
              if (o.port == kPortController) return "CONTROLLER:" + std::to_string(o.max_len);
              if (o.port > kPortMax) return format_port(o.port);
              return "output:" + std::to_string(o.port);
            },
            [](const ActGroup& g) -> std::string { return "group:" + std::to_string(g.group_id); },
            [](const ActSetField& s) -> std::string {
              return "set_field:" + format_field_value(s.field, s.value) + "->" + oxm_field_info(s.field).name;
            },
            [](const ActPushVlan& p) -> std::string { return "push_vlan:" + hex(p.ethertype); },
            [](const ActPopVlan&) -> std::string { return "pop_vlan"; },
            [](const ActPushMpls& p) -> std::string {
              char b[32];
              std::snprintf(b, sizeof b, "push_mpls:0x%04x", p.ethertype);
              return b;
            },
            [](const ActPopMpls& p) -> std::string {
              char b[32];
              std::snprintf(b, sizeof b, "pop_mpls:0x%04x", p.ethertype);
              return b;
            },
            [](const ActSetMplsTtl& t) -> std::string { return "set_mpls_ttl:" + std::to_string(t.ttl); },
            [](const ActDecMplsTtl&) -> std::string { return "dec_mpls_ttl"; },
            [](const ActSetNwTtl& t) -> std::string { return "mod_nw_ttl:" + std::to_string(t.ttl); },
            [](const ActDecNwTtl&) -> std::string { return "dec_ttl"; },
            [](const ActCopyTtlOut&) -> std::string { return "copy_ttl_out"; },
            [](const ActCopyTtlIn&) -> std::string { return "copy_ttl_in"; },
            [](const ActSetQueue& q) -> std::string { return "set_queue:" + std::to_string(q.queue_id); },
        },
        a);
  }
  return out;
}

std::string format_instructions(const Instructions& in) {
  std::vector<std::string> parts;
  if (in.meter) parts.push_back("meter:" + std::to_string(*in.meter));
  if (in.apply && !in.apply->empty()) parts.push_back(format_actions(*in.apply));
  if (in.clear_actions) parts.push_back("clear_actions");
  if (in.write) parts.push_back("write_actions(" + (in.write->empty() ? std::string() : format_actions(*in.write)) + ")");
  if (in.write_metadata) {
    std::string s = "write_metadata:" + hex(in.write_metadata->value);
    if (in.write_metadata->mask != ~0ull) s += "/" + hex(in.write_metadata->mask);
    parts.push_back(s);
  }
  if (in.goto_table) parts.push_back("goto_table:" + std::to_string(*in.goto_table));
  if (parts.empty()) return "drop";
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

namespace {

std::string format_common(uint8_t table, uint16_t priority, uint64_t cookie, uint16_t idle,
                          uint16_t hard, uint16_t flags, const OfMatch& match,
                          const Instructions& insts, const std::string& stats) {
  std::string out;
  auto kv = [&](const std::string& s) {
    out += s;
    out += ", ";
  };
  if (cookie) kv("cookie=" + hex(cookie));
  out += stats;
  if (table) kv("table=" + std::to_string(table));
  if (priority != kDefaultPriority) kv("priority=" + std::to_string(priority));
  if (idle) kv("idle_timeout=" + std::to_string(idle));
  if (hard) kv("hard_timeout=" + std::to_string(hard));
  if (flags & kFlagSendFlowRem) kv("send_flow_rem");
  if (flags & kFlagCheckOverlap) kv("check_overlap");
  if (flags & kFlagResetCounts) kv("reset_counts");
  if (flags & kFlagNoPktCounts) kv("no_packet_counts");
  if (flags & kFlagNoBytCounts) kv("no_byte_counts");
  std::string m = format_match(match);
  if (!m.empty()) {
    out += m;
    out += ' ';
  } else if (out.size() >= 2) {
    out.pop_back();
    out.back() = ' ';
  }
  out += "actions=" + format_instructions(insts);
  return out;
}

}  // namespace

std::string format_flow_mod(const FlowMod& fm) {
  return format_common(fm.table_id, fm.priority, fm.cookie, fm.idle_timeout, fm.hard_timeout,
                       fm.flags, fm.match, fm.instructions, "");
}

std::string format_flow_stats(const FlowStats& f, bool with_stats) {
  std::string stats;
  if (with_stats) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "duration=%u.%03us, n_packets=%llu, n_bytes=%llu, ",
                  f.duration_sec, f.duration_nsec / 1000000u,
                  static_cast<unsigned long long>(f.packet_count),
                  static_cast<unsigned long long>(f.byte_count));
    stats = buf;
  }
  return format_common(f.table_id, f.priority, f.cookie, f.idle_timeout, f.hard_timeout, f.flags,
                       f.match, f.instructions, stats);
}

std::string format_group(const GroupDesc& g) {
  static const char* kTypes[] = {"all", "select", "indirect", "ff"};
  std::string out = "group_id=" + std::to_string(g.group_id) + ",type=" + kTypes[static_cast<int>(g.type)];
  for (const GroupBucket& b : g.buckets) {
    out += ",bucket=";
    if (b.weight) out += "weight:" + std::to_string(b.weight) + ",";
    if (b.watch_port != kPortAny) out += "watch_port:" + format_port(b.watch_port) + ",";
    if (b.watch_group != kGroupAny) out += "watch_group:" + std::to_string(b.watch_group) + ",";
    out += "actions=" + format_actions(b.actions);
  }
  return out;
}

}  // namespace dps::ofproto
