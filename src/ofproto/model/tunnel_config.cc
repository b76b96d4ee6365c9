#include "tunnel_config.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <optional>

namespace dps::ofproto {

using datapath::TunnelType;

bool IpAddr::is_zero() const {
  for (uint8_t x : b)
    if (x) return false;
  return true;
}

uint32_t IpAddr::v4_be() const {
  uint32_t v;
  std::memcpy(&v, b.data(), 4);
  return v;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, b.data(), buf, sizeof buf);
  return buf;
}

bool IpAddr::parse(const std::string& text, IpAddr* out) {
  IpAddr a;
  if (inet_pton(AF_INET, text.c_str(), a.b.data()) == 1) {
    *out = a;
    return true;
  }
  a.v6 = true;
  if (inet_pton(AF_INET6, text.c_str(), a.b.data()) == 1) {
    *out = a;
    return true;
  }
  return false;
}

uint16_t TunnelConfig::udp_dst_port() const {
  if (type == TunnelType::kGre) return 0;
  if (dst_port) return dst_port;
  return type == TunnelType::kGeneve ? datapath::kGenevePort : datapath::kVxlanPort;
}

TunnelType tunnel_type_from_name(const std::string& type) {
  if (type == "vxlan") return TunnelType::kVxlan;
  if (type == "geneve") return TunnelType::kGeneve;
  if (type == "gre") return TunnelType::kGre;
  return TunnelType::kNone;
}

const char* tunnel_type_name(TunnelType type) { return datapath::tunnel_type_str(type); }

namespace {

// The key options as given, resolved after every option is read (key
// applies to both directions unless in_key / out_key say otherwise).
struct KeyOpt {
  bool given = false;
  bool flow = false;
  uint64_t value = 0;
};

struct ParseState {
  const std::string& port;
  TunnelType type;
  TunnelConfig cfg;
  bool remote_given = false;
  KeyOpt key, in_key, out_key;
};

// "" or the error; every handler reads one option's value.
using OptionHandler = std::function<std::string(ParseState&, const std::string& value)>;

// A whole-string unsigned number, decimal or 0x-hex (as OVS's strtoull base 0, without octal).
std::optional<uint64_t> parse_number(const std::string& s) {
  int base = 10;
  size_t skip = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, skip = 2;
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data() + skip, end, v, base);
  if (s.size() == skip || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

bool is_multicast(const IpAddr& a) { return a.v6 ? a.b[0] == 0xff : (a.b[0] & 0xf0) == 0xe0; }

std::string quoted(const std::string& v) { return "'" + v + "'"; }

// remote_ip / local_ip: an address or "flow".
std::string parse_ip(const std::string& value, IpAddr* ip, bool* flow) {
  if (value == "flow") {
    *flow = true;
    return "";
  }
  IpAddr a;
  if (!IpAddr::parse(value, &a)) return quoted(value) + " is not an IPv4 or IPv6 address (nor 'flow')";
  if (a.is_zero()) return value + " is the unspecified address";
  if (is_multicast(a)) return value + " is a multicast address (not supported)";
  *ip = a;
  *flow = false;
  return "";
}

// key / in_key / out_key: a number of the type's key width, or "flow".
std::string parse_key(TunnelType type, const std::string& value, KeyOpt* k) {
  k->given = true;
  if (value == "flow") {
    k->flow = true;
    return "";
  }
  std::optional<uint64_t> v = parse_number(value);
  bool gre = type == TunnelType::kGre;
  uint64_t max = gre ? 0xffffffffull : 0xffffffull;
  std::string range = gre ? "a 32-bit GRE key: 0..4294967295" :
                            std::string("a 24-bit ") + (type == TunnelType::kVxlan ? "VXLAN" : "Geneve") +
                                " VNI: 0..16777215";
  if (!v) return quoted(value) + " is not a number (" + range + ", or 'flow')";
  if (*v > max) return value + " is out of range (" + range + ", or 'flow')";
  k->value = *v;
  k->flow = false;
  return "";
}

// tos / ttl: a number in [lo, hi] or "inherit".
std::string parse_inherit(const std::string& value, unsigned lo, unsigned hi, uint8_t* out,
                          bool* inherit) {
  if (value == "inherit") {
    *inherit = true;
    return "";
  }
  std::optional<uint64_t> v = parse_number(value);
  if (!v || *v < lo || *v > hi)
    return quoted(value) + " is not a number in " + std::to_string(lo) + ".." + std::to_string(hi) +
           " (nor 'inherit')";
  *out = static_cast<uint8_t>(*v);
  *inherit = false;
  return "";
}

std::string parse_flag(const std::string& value, bool* out) {
  std::optional<bool> b = parse_bool(value);
  if (!b) return quoted(value) + " is not 'true' or 'false'";
  *out = *b;
  return "";
}

// flat table
const std::map<std::string, OptionHandler>& option_handlers() {
  static const std::map<std::string, OptionHandler> table = {
      {"remote_ip", [](ParseState& st, const std::string& v) {
         st.remote_given = true;
         return parse_ip(v, &st.cfg.remote_ip, &st.cfg.remote_ip_flow);
       }},
      {"local_ip", [](ParseState& st, const std::string& v) {
         return parse_ip(v, &st.cfg.local_ip, &st.cfg.local_ip_flow);
       }},
      {"key", [](ParseState& st, const std::string& v) { return parse_key(st.type, v, &st.key); }},
      {"in_key", [](ParseState& st, const std::string& v) { return parse_key(st.type, v, &st.in_key); }},
      {"out_key", [](ParseState& st, const std::string& v) { return parse_key(st.type, v, &st.out_key); }},
      {"dst_port", [](ParseState& st, const std::string& v) -> std::string {
         std::optional<uint64_t> n = parse_number(v);
         if (!n || *n < 1 || *n > 65535) return quoted(v) + " is not a UDP port (1..65535)";
         st.cfg.dst_port = static_cast<uint16_t>(*n);
         return "";
       }},
      {"tos", [](ParseState& st, const std::string& v) -> std::string {
         std::string e = parse_inherit(v, 0, 255, &st.cfg.tos, &st.cfg.tos_inherit);
         if (e.empty() && !st.cfg.tos_inherit && (st.cfg.tos & 3))
           return v + " sets ECN bits (a DSCP value << 2 is expected: a multiple of 4 in 0..252)";
         return e;
       }},
      {"ttl", [](ParseState& st, const std::string& v) {
         return parse_inherit(v, 1, 255, &st.cfg.ttl, &st.cfg.ttl_inherit);
       }},
      {"df_default", [](ParseState& st, const std::string& v) { return parse_flag(v, &st.cfg.df_default); }},
      {"csum", [](ParseState& st, const std::string& v) { return parse_flag(v, &st.cfg.csum); }},
      {"packet_type", [](ParseState& st, const std::string& v) -> std::string {
         if (v == "legacy_l2") return "";
         // IP over GRE (legacy_l3) and ptap would need L3 packets in the
         // pipeline: refused here rather than dropped per packet later.
         if (v == "legacy_l3" || v == "ptap")
           return quoted(v) + " is not supported for a " + tunnel_type_name(st.type) +
                  " port by dpswitchd (tunnels carry Ethernet frames: legacy_l2)";
         return quoted(v) + " is not a packet type (legacy_l2, legacy_l3)";
       }},
  };
  return table;
}

std::string known_options(TunnelType type) {
  std::string out;
  for (const auto& [name, h] : option_handlers())
    if (!(name == "dst_port" && type == TunnelType::kGre)) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// The checks that involve several options.
std::string cross_check(const ParseState& st) {
  const TunnelConfig& c = st.cfg;
  if (!st.remote_given)
    return "options:remote_ip is required for a " + std::string(tunnel_type_name(st.type)) +
           " port (an IP address or 'flow')";
  if (!c.remote_ip_flow && !c.local_ip_flow && !c.local_ip.is_zero() && c.local_ip.v6 != c.remote_ip.v6)
    return "options:local_ip: " + c.local_ip.str() + " is " + (c.local_ip.v6 ? "IPv6" : "IPv4") +
           " but remote_ip " + c.remote_ip.str() + " is " + (c.remote_ip.v6 ? "IPv6" : "IPv4");
  return "";
}

void resolve_keys(ParseState& st) {
  auto pick = [&](const KeyOpt& dir) { return dir.given ? dir : st.key; };
  KeyOpt in = pick(st.in_key), out = pick(st.out_key);
  st.cfg.in_key = in.value;
  st.cfg.in_key_flow = in.flow;
  st.cfg.out_key = out.value;
  st.cfg.out_key_flow = out.flow;
  st.cfg.gre_key_present = st.type == TunnelType::kGre && (in.given || out.given);
}

}  // namespace

std::variant<TunnelConfig, std::string> parse_tunnel_options(
    const std::string& port_name, TunnelType type, const std::map<std::string, std::string>& options) {
  if (type == TunnelType::kNone) return port_name + ": not a tunnel type";
  ParseState st{port_name, type, TunnelConfig{}};
  st.cfg.type = type;
  const auto& handlers = option_handlers();
  for (const auto& [key, value] : options) {
    auto h = handlers.find(key);
    if (h == handlers.end() || (key == "dst_port" && type == TunnelType::kGre))
      return port_name + ": options:" + key + " is not supported for a " + tunnel_type_name(type) +
             " port (supported: " + known_options(type) + ")";
    if (std::string e = h->second(st, value); !e.empty()) return port_name + ": options:" + key + ": " + e;
  }
  if (std::string e = cross_check(st); !e.empty()) return port_name + ": " + e;
  resolve_keys(st);
  return st.cfg;
}

}  // namespace dps::ofproto
