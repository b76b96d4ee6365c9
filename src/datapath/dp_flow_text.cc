#include "dp_flow_text.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <stdexcept>
#include <vector>

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

template <typename T>
void set_be(T* field, uint64_t v) {
  if constexpr (sizeof(T) == 2)
    *field = htons(static_cast<uint16_t>(v));
  else
    *field = htonl(static_cast<uint32_t>(v));
}

void prefix_mask(uint8_t* mask, unsigned bytes, unsigned len) {
  std::memset(mask, 0, bytes);
  for (unsigned i = 0; i < len; i++) mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
}

}  // namespace

void parse_flow_match(const std::string& text, FlowKey* key, FlowMask* mask) {
  std::memset(static_cast<void*>(key), 0, sizeof *key);
  std::memset(static_cast<void*>(mask), 0, sizeof *mask);
  for (const std::string& tok : split(text, ',')) {
    if (tok.empty()) continue;
    size_t eq = tok.find('=');
    if (eq == std::string::npos) bad(tok, "expected field=value");
    std::string f = tok.substr(0, eq), v = tok.substr(eq + 1), m;
    size_t slash = v.find('/');
    if (slash != std::string::npos) {
      m = v.substr(slash + 1);
      v = v.substr(0, slash);
    }
    auto int_field = [&](auto* kf, auto* mf, uint64_t max, bool be) {
      using T = std::remove_pointer_t<decltype(kf)>;
      uint64_t val = parse_uint(tok, v, max);
      uint64_t msk = m.empty() ? max : parse_uint(tok, m, max);
      if (be) {
        set_be(kf, val & msk);
        set_be(mf, msk);
      } else {
        *kf = static_cast<T>(val & msk);
        *mf = static_cast<T>(msk);
      }
    };
    if (f == "in_port") {
      if (!m.empty()) bad(tok, "in_port cannot be masked");
      int_field(&key->in_port, &mask->in_port, 0xffffffffu, false);
    } else if (f == "eth_type") {
      int_field(&key->eth_type, &mask->eth_type, 0xffff, true);
    } else if (f == "vlan_tci") {
      int_field(&key->vlan_tci, &mask->vlan_tci, 0xffff, true);
    } else if (f == "vlan_tci2") {
      int_field(&key->vlan_tci2, &mask->vlan_tci2, 0xffff, true);
    } else if (f == "dl_src" || f == "dl_dst" || f == "arp_sha" || f == "arp_tha") {
      uint8_t* kf = f == "dl_src" ? key->dl_src : f == "dl_dst" ? key->dl_dst
                    : f == "arp_sha" ? key->arp_sha : key->arp_tha;
      uint8_t* mf = f == "dl_src" ? mask->dl_src : f == "dl_dst" ? mask->dl_dst
                    : f == "arp_sha" ? mask->arp_sha : mask->arp_tha;
      parse_mac(tok, v, kf);
      if (m.empty())
        std::memset(mf, 0xff, 6);
      else
        parse_mac(tok, m, mf);
      for (int i = 0; i < 6; i++) kf[i] &= mf[i];
    } else if (f == "nw_src" || f == "nw_dst") {
      uint32_t* kf = f == "nw_src" ? &key->nw_src : &key->nw_dst;
      uint32_t* mf = f == "nw_src" ? &mask->nw_src : &mask->nw_dst;
      *kf = parse_ip4(tok, v);
      if (m.empty()) {
        *mf = 0xffffffffu;
      } else if (m.find('.') != std::string::npos) {
        *mf = parse_ip4(tok, m);
      } else {
        unsigned len = static_cast<unsigned>(parse_uint(tok, m, 32));
        prefix_mask(reinterpret_cast<uint8_t*>(mf), 4, len);
      }
      *kf &= *mf;
    } else if (f == "ipv6_src" || f == "ipv6_dst" || f == "nd_target") {
      uint8_t* kf = f == "ipv6_src" ? key->ipv6_src : f == "ipv6_dst" ? key->ipv6_dst : key->nd_target;
      uint8_t* mf = f == "ipv6_src" ? mask->ipv6_src : f == "ipv6_dst" ? mask->ipv6_dst : mask->nd_target;
      parse_ip6(tok, v, kf);
      if (m.empty())
        std::memset(mf, 0xff, 16);
      else if (m.find(':') != std::string::npos)
        parse_ip6(tok, m, mf);
      else
        prefix_mask(mf, 16, static_cast<unsigned>(parse_uint(tok, m, 128)));
      for (int i = 0; i < 16; i++) kf[i] &= mf[i];
    } else if (f == "ipv6_label") {
      int_field(&key->ipv6_label, &mask->ipv6_label, 0xfffff, true);
    } else if (f == "mpls_lse") {
      int_field(&key->mpls_lse, &mask->mpls_lse, 0xffffffffu, true);
    } else if (f == "nw_proto") {
      int_field(&key->nw_proto, &mask->nw_proto, 0xff, false);
    } else if (f == "nw_tos") {
      int_field(&key->nw_tos, &mask->nw_tos, 0xff, false);
    } else if (f == "nw_ttl") {
      int_field(&key->nw_ttl, &mask->nw_ttl, 0xff, false);
    } else if (f == "tp_src") {
      int_field(&key->tp_src, &mask->tp_src, 0xffff, true);
    } else if (f == "tp_dst") {
      int_field(&key->tp_dst, &mask->tp_dst, 0xffff, true);
    } else if (f == "tcp_flags") {
      int_field(&key->tcp_flags, &mask->tcp_flags, 0xfff, true);
    } else if (f == "nw_frag") {
      mask->nw_frag = kFragAny | kFragLater;
      if (v == "no") key->nw_frag = 0;
      else if (v == "first") key->nw_frag = kFragAny;
      else if (v == "later") key->nw_frag = kFragAny | kFragLater;
      else bad(tok, "nw_frag is one of no, first, later");
    } else {
      bad(tok, "unknown field '" + f + "'");
    }
  }
}

DpActions parse_dp_actions(const std::string& text) {
  DpActions acts;
  for (const std::string& tok : split(text, ',')) {
    if (tok.empty() || tok == "drop") continue;
    size_t colon = tok.find(':');
    std::string name = tok.substr(0, colon);
    std::vector<std::string> args;
    if (colon != std::string::npos) args = split(tok.substr(colon + 1), ':');
    auto need = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi)
        bad(tok, name + " takes " + std::to_string(lo) +
                     (hi > lo ? ".." + std::to_string(hi) : "") + " argument(s)");
    };
    DpAction a{};
    if (std::isdigit(static_cast<unsigned char>(name[0])) && args.empty()) {
      a = act_output(static_cast<uint32_t>(parse_uint(tok, name, 0xffffffffu)));
    } else if (name == "output") {
      need(1, 1);
      a = act_output(static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
    } else if (name == "push_vlan") {
      need(1, 3);
      uint16_t vid = static_cast<uint16_t>(parse_uint(tok, args[0], 4095));
      uint16_t pcp = args.size() > 1 ? static_cast<uint16_t>(parse_uint(tok, args[1], 7)) : 0;
      uint16_t tpid = args.size() > 2 ? static_cast<uint16_t>(parse_uint(tok, args[2], 0xffff))
                                      : kEthTypeVlan;
      a = act_push_vlan(tpid, static_cast<uint16_t>(pcp << 13 | vid));
    } else if (name == "pop_vlan" || name == "strip_vlan") {
      need(0, 0);
      a = act_pop_vlan();
    } else if (name == "dec_ttl") {
      need(0, 0);
      a.type = ActType::kDecTtl;
    } else if (name == "set_vlan_vid") {
      need(1, 1);
      a.type = ActType::kSetVlanVid;
      a.arg16 = static_cast<uint16_t>(parse_uint(tok, args[0], 4095));
    } else if (name == "set_vlan_pcp") {
      need(1, 1);
      a.type = ActType::kSetVlanPcp;
      a.arg16 = static_cast<uint16_t>(parse_uint(tok, args[0], 7));
    } else if (name == "set_eth_src" || name == "set_eth_dst") {
      // MAC addresses contain ':', so take the rest of the token.
      a.type = name == "set_eth_src" ? ActType::kSetEthSrc : ActType::kSetEthDst;
      parse_mac(tok, tok.substr(colon + 1), a.data);
    } else if (name == "set_ipv4_src" || name == "set_ipv4_dst") {
      need(1, 1);
      a.type = name == "set_ipv4_src" ? ActType::kSetIpv4Src : ActType::kSetIpv4Dst;
      a.arg32 = parse_ip4(tok, args[0]);
    } else if (name == "set_ipv6_src" || name == "set_ipv6_dst") {
      a.type = name == "set_ipv6_src" ? ActType::kSetIpv6Src : ActType::kSetIpv6Dst;
      parse_ip6(tok, tok.substr(colon + 1), a.data);
    } else if (name == "set_ipv4_tos") {
      need(1, 1);
      a.type = ActType::kSetIpv4Tos;
      a.arg16 = static_cast<uint16_t>(parse_uint(tok, args[0], 63) << 2);
    } else if (name == "set_ipv4_ttl") {
      need(1, 1);
      a.type = ActType::kSetIpv4Ttl;
      a.arg16 = static_cast<uint16_t>(parse_uint(tok, args[0], 255));
    } else if (name == "set_tp_src" || name == "set_tp_dst") {
      need(1, 1);
      a.type = name == "set_tp_src" ? ActType::kSetTpSrc : ActType::kSetTpDst;
      a.arg16 = htons(static_cast<uint16_t>(parse_uint(tok, args[0], 0xffff)));
    } else if (name == "userspace") {
      need(0, 1);
      a = act_userspace(args.empty() ? 0 : static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
    } else if (name == "meter") {
      need(1, 1);
      a = act_meter(static_cast<uint32_t>(parse_uint(tok, args[0], 0xffffffffu)));
    } else {
      bad(tok, "unknown action '" + name + "'");
    }
    if (!acts.add(a))
      bad(tok, "more than " + std::to_string(kMaxDpActions) + " actions in one flow");
  }
  return acts;
}

}  // namespace dps::datapath
