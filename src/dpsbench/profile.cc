#include "profile.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "frame.h"

namespace dps::dpsbench {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

[[noreturn]] void bad(const std::string& what, const std::string& value, const std::string& expected) {
  throw ProfileError(what + ": '" + value + "' is not " + expected);
}

// A decimal number with an optional suffix from `suffixes` (matched
// case-insensitively, longest first). Returns the number times the multiplier.
double number_with_suffix(const std::string& raw, const std::string& what,
                          const std::vector<std::pair<std::string, double>>& suffixes,
                          const std::string& expected) {
  std::string s = lower(trim(raw));
  if (s.empty()) bad(what, raw, expected);
  double mult = 1;
  for (const auto& [suf, m] : suffixes) {
    if (s.size() > suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0) {
      s = trim(s.substr(0, s.size() - suf.size()));
      mult = m;
      break;
    }
  }
  size_t used = 0;
  double v;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    bad(what, raw, expected);
  }
  if (used != s.size() || !std::isfinite(v)) bad(what, raw, expected);
  return v * mult;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(trim(item));
  return out;
}

int field_index(const std::string& name) {
  for (unsigned i = 0; i < kNumFields; i++)
    if (name == kFieldNames[i]) return static_cast<int>(i);
  return -1;
}

std::string field_list() {
  std::string s;
  for (auto* n : kFieldNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

// Normalises a flag/key name: strips leading dashes, '-' -> '_'.
std::string norm(std::string n) {
  while (!n.empty() && n[0] == '-') n.erase(0, 1);
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

uint16_t parse_u16(const std::string& s, const std::string& what, unsigned lo, unsigned hi,
                   const std::string& expected) {
  uint64_t v = 0;
  try {
    v = parse_count(s, what);
  } catch (const ProfileError&) {
    bad(what, s, expected);
  }
  if (v < lo || v > hi) bad(what, s, expected);
  return static_cast<uint16_t>(v);
}

void set_frame_sizes(TrafficProfile& p, const std::string& v, const std::string& what) {
  std::string s = lower(trim(v));
  if (s == "imix") {
    p.imix = true;
    p.frame_sizes.assign(kImixCycle.begin(), kImixCycle.end());
    return;
  }
  std::vector<uint16_t> sizes;
  std::string expected = "a frame size in bytes (64.." + std::to_string(kMaxFrameSize) +
                         ", FCS included), a comma-separated list of them, or 'imix'";
  for (const auto& item : split(s, ',')) sizes.push_back(parse_u16(item, what, 64, kMaxFrameSize, expected));
  if (sizes.empty()) bad(what, v, expected);
  p.imix = false;
  p.frame_sizes = std::move(sizes);
}

void set_vary(TrafficProfile& p, const std::string& v, const std::string& what) {
  // "src_ip=1024,dst_port=16" or "src_ip" (takes `flows` values).
  p.vary.fill(1);
  if (trim(v).empty() || lower(trim(v)) == "none") return;
  for (const auto& item : split(v, ',')) {
    auto eq = item.find('=');
    std::string name = norm(trim(item.substr(0, eq)));
    int f = field_index(name);
    if (f < 0)
      throw ProfileError(what + ": unknown field '" + name + "' (fields: " + field_list() + ")");
    uint64_t n = 0;  // 0: resolved to `flows` in validate()
    if (eq != std::string::npos) {
      n = parse_count(item.substr(eq + 1), what + " " + name);
      if (n < 1 || n > (1u << 24)) bad(what + " " + name, item.substr(eq + 1), "a count in 1..16777216");
    }
    p.vary[f] = static_cast<uint32_t>(n);
  }
}

void set_vlans(TrafficProfile& p, const std::string& v, const std::string& what) {
  p.vlans.clear();
  if (trim(v).empty() || lower(trim(v)) == "none") return;
  auto items = split(v, ',');
  if (items.size() > 2)
    throw ProfileError(what + ": '" + v + "' has " + std::to_string(items.size()) +
                       " tags; at most 2 (outer,inner) are supported");
  for (const auto& item : items) p.vlans.push_back(parse_u16(item, what, 0, 4095, "a VLAN id in 0..4095"));
}

}  // namespace

Rate parse_rate(const std::string& raw, const std::string& what) {
  std::string s = lower(trim(raw));
  const std::string expected =
      "a rate (e.g. 1000000, 1.5mpps, 500kpps, 40%, unlimited)";
  if (s == "unlimited" || s == "max" || s == "0") return {RateKind::kUnlimited, 0};
  Rate r;
  if (!s.empty() && s.back() == '%') {
    r.kind = RateKind::kPercent;
    r.value = number_with_suffix(s.substr(0, s.size() - 1), what, {}, expected);
    if (!(r.value > 0 && r.value <= 100)) bad(what, raw, "a percentage in (0, 100]");
    return r;
  }
  r.kind = RateKind::kPps;
  r.value = number_with_suffix(
      s, what, {{"gpps", 1e9}, {"mpps", 1e6}, {"kpps", 1e3}, {"pps", 1}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}},
      expected);
  if (!(r.value > 0)) bad(what, raw, expected);
  return r;
}

double parse_duration(const std::string& raw, const std::string& what) {
  double v = number_with_suffix(raw, what, {{"ms", 1e-3}, {"us", 1e-6}, {"s", 1}, {"m", 60}, {"h", 3600}},
                                "a duration (e.g. 10, 10s, 500ms, 2m)");
  if (v < 0) bad(what, raw, "a non-negative duration");
  return v;
}

uint64_t parse_count(const std::string& raw, const std::string& what) {
  const std::string expected = "a non-negative count (e.g. 1000000, 10m, 2k)";
  double v = number_with_suffix(raw, what, {{"g", 1e9}, {"m", 1e6}, {"k", 1e3}}, expected);
  if (v < 0 || v > 1.8e19 || v != std::floor(v)) bad(what, raw, expected);
  return static_cast<uint64_t>(v);
}

double parse_link_speed(const std::string& raw, const std::string& what) {
  double v = number_with_suffix(raw, what, {{"gbps", 1}, {"mbps", 1e-3}, {"g", 1}, {"m", 1e-3}},
                                "a link speed in Gbit/s (e.g. 10, 25g, 100g, 1000m)");
  if (!(v > 0)) bad(what, raw, "a positive link speed");
  return v;
}

std::array<uint8_t, 6> parse_mac(const std::string& raw, const std::string& what) {
  std::array<unsigned, 6> b{};
  char tail;
  std::string s = trim(raw);
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6 ||
      s.size() != 17)
    bad(what, raw, "a MAC address (e.g. 02:00:00:00:00:01)");
  std::array<uint8_t, 6> m{};
  for (int i = 0; i < 6; i++) m[i] = static_cast<uint8_t>(b[i]);
  return m;
}

uint32_t parse_ipv4(const std::string& raw, const std::string& what) {
  in_addr a{};
  if (inet_pton(AF_INET, trim(raw).c_str(), &a) != 1) bad(what, raw, "an IPv4 address (e.g. 10.0.0.1)");
  return ntohl(a.s_addr);
}

Ipv6Addr parse_ipv6(const std::string& raw, const std::string& what) {
  Ipv6Addr a;
  if (inet_pton(AF_INET6, trim(raw).c_str(), a.bytes.data()) != 1)
    bad(what, raw, "an IPv6 address (e.g. fd00::1)");
  return a;
}

std::string format_mac(const std::array<uint8_t, 6>& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

std::string format_ipv4(uint32_t a) {
  in_addr n{htonl(a)};
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &n, buf, sizeof buf);
}

std::string format_ipv6(const Ipv6Addr& a) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
}

unsigned TrafficProfile::min_frame_size() const {
  return kEthHdrLen + kVlanHdrLen * static_cast<unsigned>(vlans.size()) +
         (ipv6 ? kIpv6HdrLen : kIpv4HdrLen) + kUdpHdrLen + kTagLen + kFcsLen;
}

double TrafficProfile::mean_frame_size() const {
  double sum = 0;
  for (auto s : frame_sizes) sum += s;
  return sum / static_cast<double>(frame_sizes.size());
}

double TrafficProfile::rate_pps() const {
  switch (rate.kind) {
    case RateKind::kUnlimited: return 0;
    case RateKind::kPps: return rate.value;
    case RateKind::kPercent:
      return rate.value / 100.0 * link_gbps * 1e9 / ((mean_frame_size() + kWireOverhead) * 8);
  }
  return 0;
}

double TrafficProfile::wire_bps(double pps) const { return pps * (mean_frame_size() + kWireOverhead) * 8; }

void TrafficProfile::finalize() {
  bool any = false;
  for (auto& n : vary) {
    if (n == 0) n = flows;
    any |= n > 1;
  }
  if (!any && flows > 1) vary[static_cast<unsigned>(Field::kSrcIp)] = flows;
  validate();
}

void TrafficProfile::validate() const {
  if (flows == 0) throw ProfileError("flows: must be at least 1");
  unsigned need = min_frame_size();
  for (auto s : frame_sizes) {
    if (s < need)
      throw ProfileError("frame_size: " + std::to_string(s) + " bytes is too small for " +
                         (vlans.empty() ? std::string() : std::to_string(vlans.size()) + " VLAN tag(s) + ") +
                         (ipv6 ? "IPv6" : "IPv4") + "/UDP + the " + std::to_string(kTagLen) +
                         "-byte dpsbench tag: the minimum is " + std::to_string(need) +
                         " (FCS included)");
    if (s > kMaxFrameSize)
      throw ProfileError("frame_size: " + std::to_string(s) + " exceeds the maximum of " +
                         std::to_string(kMaxFrameSize));
  }
  if (frame_sizes.empty()) throw ProfileError("frame_size: no sizes given");
  long double product = 1;
  for (unsigned f = 0; f < kNumFields; f++) product *= vary[f] ? vary[f] : 1;
  if (product < flows)
    throw ProfileError("vary: the varying fields give only " +
                       std::to_string(static_cast<uint64_t>(product)) + " distinct flows but flows is " +
                       std::to_string(flows) + " (raise a count in 'vary', e.g. src_ip=" +
                       std::to_string(flows) + ")");
  if (vary[static_cast<unsigned>(Field::kSrcPort)] > 65536u - src_port ||
      vary[static_cast<unsigned>(Field::kDstPort)] > 65536u - dst_port)
    throw ProfileError("vary: an L4 port range runs past 65535 (base + count - 1 must fit)");
  if (rate.kind == RateKind::kPercent && !(link_gbps > 0))
    throw ProfileError("rate: a percentage rate needs a positive link_speed");
  if (duration_s <= 0 && packets == 0)
    throw ProfileError("duration/packets: give a duration, a packet count, or both (both are 0)");
}

TrafficProfile parse_profile_json(const nlohmann::json& doc, const std::string& where, TrafficProfile p) {
  if (!doc.is_object()) throw ProfileError(where + ": a profile must be a JSON object");
  for (const auto& [key, val] : doc.items()) {
    std::string name = norm(key);
    std::string what = where + ": " + key;
    std::string text;
    if (val.is_string()) {
      text = val.get<std::string>();
    } else if (val.is_number()) {
      text = val.dump();
    } else if (val.is_boolean()) {
      text = val.get<bool>() ? "true" : "false";
    } else if (val.is_array()) {
      for (const auto& e : val) {
        if (!(e.is_number() || e.is_string())) throw ProfileError(what + ": array items must be numbers or strings");
        if (!text.empty()) text += ',';
        text += e.is_string() ? e.get<std::string>() : e.dump();
      }
    } else if (val.is_object() && name == "vary") {
      for (const auto& [f, n] : val.items()) {
        if (!n.is_number_unsigned()) throw ProfileError(what + "." + f + ": must be a positive count");
        if (!text.empty()) text += ',';
        text += f;
        text += '=';
        text += n.dump();
      }
    } else {
      throw ProfileError(what + ": unsupported value " + val.dump());
    }
    if (!apply_profile_flag(p, name, text))
      throw ProfileError(where + ": unknown key '" + key +
                         "' (keys: flows, l3, src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port, vary, "
                         "vlan, vlan_pcp, frame_size, rate, link_speed, duration, packets)");
  }
  return p;
}

TrafficProfile load_profile_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ProfileError(path + ": cannot open profile file");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw ProfileError(path + ": not valid JSON: " + e.what());
  }
  return parse_profile_json(doc, path);
}

bool apply_profile_flag(TrafficProfile& p, const std::string& raw_name, const std::string& v) {
  std::string n = norm(raw_name);
  if (n == "flows") {
    uint64_t f = parse_count(v, n);
    if (f < 1 || f > (1u << 24)) bad(n, v, "a flow count in 1..16777216");
    p.flows = static_cast<uint32_t>(f);
  } else if (n == "l3") {
    std::string s = lower(trim(v));
    if (s == "ipv4" || s == "4") p.ipv6 = false;
    else if (s == "ipv6" || s == "6") p.ipv6 = true;
    else bad(n, v, "'ipv4' or 'ipv6'");
  } else if (n == "ipv6") {
    p.ipv6 = v != "false" && v != "0";
  } else if (n == "src_mac") {
    p.src_mac = parse_mac(v, n);
  } else if (n == "dst_mac") {
    p.dst_mac = parse_mac(v, n);
  } else if (n == "src_ip" || n == "dst_ip") {
    bool is6 = v.find(':') != std::string::npos;
    if (is6) {
      (n == "src_ip" ? p.src_ip6 : p.dst_ip6) = parse_ipv6(v, n);
      p.ipv6 = true;
    } else {
      (n == "src_ip" ? p.src_ip4 : p.dst_ip4) = parse_ipv4(v, n);
    }
  } else if (n == "src_port") {
    p.src_port = parse_u16(v, n, 0, 65535, "a UDP port in 0..65535");
  } else if (n == "dst_port") {
    p.dst_port = parse_u16(v, n, 0, 65535, "a UDP port in 0..65535");
  } else if (n == "vary") {
    set_vary(p, v, n);
  } else if (n == "vlan" || n == "vlans") {
    set_vlans(p, v, n);
  } else if (n == "vlan_pcp") {
    p.vlan_pcp = static_cast<uint8_t>(parse_u16(v, n, 0, 7, "a VLAN priority in 0..7"));
  } else if (n == "frame_size" || n == "frame_sizes" || n == "size") {
    set_frame_sizes(p, v, n);
  } else if (n == "rate") {
    p.rate = parse_rate(v, n);
  } else if (n == "link_speed") {
    p.link_gbps = parse_link_speed(v, n);
  } else if (n == "duration") {
    p.duration_s = parse_duration(v, n);
  } else if (n == "packets") {
    p.packets = parse_count(v, n);
  } else {
    return false;
  }
  return true;
}

nlohmann::json TrafficProfile::to_json() const {
  nlohmann::json j;
  j["flows"] = flows;
  j["l3"] = ipv6 ? "ipv6" : "ipv4";
  j["src_mac"] = format_mac(src_mac);
  j["dst_mac"] = format_mac(dst_mac);
  j["src_ip"] = ipv6 ? format_ipv6(src_ip6) : format_ipv4(src_ip4);
  j["dst_ip"] = ipv6 ? format_ipv6(dst_ip6) : format_ipv4(dst_ip4);
  j["src_port"] = src_port;
  j["dst_port"] = dst_port;
  nlohmann::json v = nlohmann::json::object();
  for (unsigned f = 0; f < kNumFields; f++)
    if (vary[f] != 1) v[kFieldNames[f]] = vary[f];
  j["vary"] = v;
  j["vlan"] = vlans;
  j["vlan_pcp"] = vlan_pcp;
  if (imix) j["frame_size"] = "imix";
  else j["frame_size"] = frame_sizes;
  switch (rate.kind) {
    case RateKind::kUnlimited: j["rate"] = "unlimited"; break;
    case RateKind::kPps: j["rate"] = rate.value; break;
    case RateKind::kPercent: j["rate"] = std::to_string(rate.value) + "%"; break;
  }
  j["link_speed_gbps"] = link_gbps;
  j["duration_s"] = duration_s;
  j["packets"] = packets;
  return j;
}

}  // namespace dps::dpsbench
