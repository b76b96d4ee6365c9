#include "nat_range.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>
#include <vector>

namespace dps::base {

namespace {

std::string addr_str(const uint8_t* a, uint8_t family, bool bracket) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, sizeof buf);
  return bracket ? "[" + std::string(buf) + "]" : std::string(buf);
}

bool is_zero(const uint8_t* a, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (a[i]) return false;
  return true;
}

// One address at s[*pos]: IPv4, or IPv6 bare or in brackets (required
// when a port follows); *family, once set, must stay.
bool scan_addr(std::string_view s, size_t* pos, uint8_t* family, uint8_t* out) {
  auto run = [&](size_t e, bool v6) {
    while (e < s.size() && (std::isdigit(static_cast<unsigned char>(s[e])) || s[e] == '.' ||
                            (v6 && (std::isxdigit(static_cast<unsigned char>(s[e])) || s[e] == ':'))))
      e++;
    return e;
  };
  auto pton = [&](int af, size_t from, size_t to, uint8_t* a) {
    return inet_pton(af, std::string(s.substr(from, to - from)).c_str(), a) == 1;
  };
  uint8_t tmp[16] = {};
  const size_t i = *pos;
  if (i < s.size() && s[i] == '[') {
    const size_t e = run(i + 1, true);
    if (*family == 4 || e >= s.size() || s[e] != ']' || !pton(AF_INET6, i + 1, e, tmp)) return false;
    *family = 6;
    *pos = e + 1;
  } else if (const size_t e4 = run(i, false); *family != 6 && pton(AF_INET, i, e4, tmp)) {
    *family = 4;
    *pos = e4;
  } else {
    const size_t e6 = run(i, true);
    if (*family == 4 || !pton(AF_INET6, i, e6, tmp)) return false;
    *family = 6;
    *pos = e6;
  }
  std::memcpy(out, tmp, 16);
  return true;
}

bool scan_port(std::string_view s, size_t* pos, uint16_t* out) {
  uint32_t v = 0;
  size_t i = *pos;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && v <= 65535) v = v * 10 + (s[i++] - '0');
  if (i == *pos || v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  *pos = i;
  return true;
}

// "A[-B][:P[-Q]]" (IPv6 in brackets when a port follows), as OVS's
// str_to_nat_range.
std::string parse_range(std::string_view s, NatRange* r) {
  const std::string bad = "invalid nat range \"" + std::string(s) + "\"";
  size_t n = 0;
  if (s.empty()) return "";
  if (!scan_addr(s, &n, &r->family, r->addr_min)) return bad;
  const unsigned bytes = r->family == 6 ? 16 : 4;
  if (n < s.size() && s[n] == '-') {
    n++;
    if (!scan_addr(s, &n, &r->family, r->addr_max) || std::memcmp(r->addr_max, r->addr_min, bytes) < 0)
      return bad;
  }
  if (n < s.size() && s[n] == ':') {
    n++;
    if (!scan_port(s, &n, &r->port_min)) return bad;
    if (n < s.size() && s[n] == '-') {
      n++;
      if (!scan_port(s, &n, &r->port_max) || r->port_max < r->port_min) return bad;
    }
  }
  if (n != s.size())
    return "garbage (" + std::string(s.substr(n)) + ") after nat range \"" + std::string(s) +
           "\" (pos: " + std::to_string(n) + ")";
  return "";
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const size_t c = s.find(',');
    std::string_view tok = s.substr(0, c);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    if (!tok.empty()) out.push_back(tok);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

}  // namespace

std::string nat_format(const NatRange& r) {
  if (!(r.flags & (kNatSrc | kNatDst))) return "nat";
  std::string s = (r.flags & kNatSrc) ? "nat(src" : "nat(dst";
  if (r.family) {
    const unsigned bytes = r.family == 6 ? 16 : 4;
    const bool bracket = r.family == 6 && r.port_min;
    s += "=" + addr_str(r.addr_min, r.family, bracket);
    if (!is_zero(r.addr_max, bytes) && std::memcmp(r.addr_max, r.addr_min, bytes) != 0)
      s += "-" + addr_str(r.addr_max, r.family, bracket);
    if (r.port_min) {
      s += ":" + std::to_string(r.port_min);
      if (r.port_max && r.port_max != r.port_min) s += "-" + std::to_string(r.port_max);
    }
    if (r.flags & kNatPersistent) s += ",persistent";
    if (r.flags & kNatHash) s += ",hash";
    if (r.flags & kNatRandom) s += ",random";
  }
  return s + ")";
}

std::string nat_parse(std::string_view args, NatRange* out) {
  NatRange r;
  for (std::string_view tok : split_commas(args)) {
    const size_t eq = tok.find('=');
    const std::string_view key = tok.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : tok.substr(eq + 1);
    std::string err;
    if (key == "src" || key == "dst") {
      r.flags |= key == "src" ? kNatSrc : kNatDst;
      err = parse_range(value, &r);
    } else if (key == "persistent") {
      r.flags |= kNatPersistent;
    } else if (key == "hash") {
      r.flags |= kNatHash;
    } else if (key == "random") {
      r.flags |= kNatRandom;
    } else {
      err = "invalid key \"" + std::string(key) + "\" in \"nat\" argument";
    }
    if (!err.empty()) return err;
  }
  if ((r.flags & kNatSrc) && (r.flags & kNatDst)) return "May only specify one of \"src\" or \"dst\".";
  if (!(r.flags & (kNatSrc | kNatDst))) {
    if (r.flags) return "Flags allowed only with \"src\" or \"dst\".";
    if (r.family) return "Range allowed only with \"src\" or \"dst\".";
  }
  if ((r.flags & kNatHash) && (r.flags & kNatRandom)) return "Both \"hash\" and \"random\" are not allowed.";
  *out = r;
  return "";
}

}  // namespace dps::base
