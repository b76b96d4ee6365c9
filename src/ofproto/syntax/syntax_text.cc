#include "syntax_text.h"

#include "of_actions.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace dps::ofproto::syntax {

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

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

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

}  // namespace dps::ofproto::syntax
