#include "ct_tuple.h"

#include <arpa/inet.h>
#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dps::conntrack {

namespace {

struct IcmpPair {
  uint8_t request, reply;
};
constexpr IcmpPair kIcmp4Pairs[] = {{8, 0}, {13, 14}, {15, 16}, {17, 18}};
constexpr IcmpPair kIcmp6Pairs[] = {{128, 129}};

template <size_t N>
uint8_t reverse_in(const IcmpPair (&pairs)[N], uint8_t type) {
  for (const IcmpPair& p : pairs) {
    if (p.request == type) return p.reply;
    if (p.reply == type) return p.request;
  }
  return 0xff;
}

std::string addr_text(const CtTuple& t, const uint8_t* a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(t.family == 6 ? AF_INET6 : AF_INET, a, buf, sizeof buf);
  return buf;
}

bool is_icmp(uint8_t proto) { return proto == kProtoIcmp || proto == kProtoIcmpv6; }

}  // namespace

uint8_t ct_icmp_reverse_type(uint8_t family, uint8_t type) {
  return family == 6 ? reverse_in(kIcmp6Pairs, type) : reverse_in(kIcmp4Pairs, type);
}

bool ct_icmp_is_request(uint8_t family, uint8_t type) {
  if (family == 6) return type == 128;
  return std::any_of(std::begin(kIcmp4Pairs), std::end(kIcmp4Pairs),
                     [type](const IcmpPair& p) { return p.request == type; });
}

CtTuple ct_tuple_reverse(const CtTuple& t) {
  CtTuple r = t;
  std::memcpy(r.src, t.dst, 16);
  std::memcpy(r.dst, t.src, 16);
  r.sport = t.dport;
  r.dport = t.sport;
  if (is_icmp(t.proto)) r.icmp_type = ct_icmp_reverse_type(t.family, t.icmp_type);
  return r;
}

// CRC32-C over the tuple in two independent chains (the instruction's
// latency overlaps), about 20 cycles; a multiply-xor fold without SSE 4.2.
uint32_t ct_tuple_hash(const CtTuple& t) {
#ifdef __SSE4_2__
  uint64_t w[5];
  uint32_t tail;
  std::memcpy(w, &t, sizeof w);
  std::memcpy(&tail, reinterpret_cast<const uint8_t*>(&t) + sizeof w, sizeof tail);
  static_assert(sizeof w + sizeof tail == sizeof(CtTuple));
  uint64_t a = _mm_crc32_u64(0x9e3779b9u, w[0]), b = _mm_crc32_u64(0x7f4a7c15u, w[1]);
  a = _mm_crc32_u64(a, w[2]);
  b = _mm_crc32_u64(b, w[3]);
  a = _mm_crc32_u64(a, w[4]);
  b = _mm_crc32_u32(static_cast<uint32_t>(b), tail);
  const uint64_t h = (a << 32 | b) * 0xff51afd7ed558ccdULL;  // mixes both chains into every bit
  return static_cast<uint32_t>(h >> 32);
#else
  uint32_t w[sizeof(CtTuple) / 4];
  std::memcpy(w, &t, sizeof w);
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (uint32_t x : w) {
    h ^= x;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
  }
  return static_cast<uint32_t>(h ^ (h >> 29));
#endif
}

std::string ct_proto_name(uint8_t proto) {
  switch (proto) {
    case kProtoTcp: return "tcp";
    case kProtoUdp: return "udp";
    case kProtoIcmp: return "icmp";
    case kProtoIcmpv6: return "icmpv6";
    case 132: return "sctp";
    case 136: return "udplite";
    case 33: return "dccp";
    default: return std::to_string(proto);
  }
}

std::string ct_tuple_format(const CtTuple& t) {
  std::string s = "src=" + addr_text(t, t.src) + ",dst=" + addr_text(t, t.dst);
  char buf[64];
  if (is_icmp(t.proto)) {
    std::snprintf(buf, sizeof buf, ",id=%u,type=%u,code=%u", t.sport, t.icmp_type, t.icmp_code);
  } else if (t.sport || t.dport) {
    std::snprintf(buf, sizeof buf, ",sport=%u,dport=%u", t.sport, t.dport);
  } else {
    buf[0] = 0;
  }
  return s + buf;
}

bool ct_tuple_filter_match(const CtTupleFilter& f, const CtTuple& t) {
  using F = CtTupleFilter;
  const unsigned n = f.t.family == 6 ? 16 : 4;
  if ((f.fields & (F::kSrc | F::kDst)) && f.t.family != t.family) return false;
  if ((f.fields & F::kSrc) && std::memcmp(f.t.src, t.src, n) != 0) return false;
  if ((f.fields & F::kDst) && std::memcmp(f.t.dst, t.dst, n) != 0) return false;
  if ((f.fields & F::kProto) && f.t.proto != t.proto) return false;
  if ((f.fields & (F::kSport | F::kIcmpId)) && f.t.sport != t.sport) return false;
  if ((f.fields & F::kDport) && f.t.dport != t.dport) return false;
  if ((f.fields & F::kIcmpType) && f.t.icmp_type != t.icmp_type) return false;
  if ((f.fields & F::kIcmpCode) && f.t.icmp_code != t.icmp_code) return false;
  return true;
}

namespace {

// One "key=value" of a ct-tuple into f.
std::string filter_item(const std::string& key, const std::string& val, CtTupleFilter* f) {
  using F = CtTupleFilter;
  const bool v6 = key == "ct_ipv6_src" || key == "ct_ipv6_dst";
  if (key == "ct_nw_src" || key == "ct_nw_dst" || v6) {
    const uint8_t fam = v6 ? 6 : 4;
    uint8_t* a = key.back() == 'c' ? f->t.src : f->t.dst;
    if ((f->t.family && f->t.family != fam) || inet_pton(v6 ? AF_INET6 : AF_INET, val.c_str(), a) != 1)
      return "invalid " + key + " '" + val + "'";
    f->t.family = fam;
    f->fields |= key.back() == 'c' ? F::kSrc : F::kDst;
    return "";
  }
  struct Num {
    const char* name;
    uint16_t field;
    unsigned long max;
  };
  static const Num kNums[] = {{"ct_nw_proto", F::kProto, 255}, {"ct_tp_src", F::kSport, 65535},
                              {"ct_tp_dst", F::kDport, 65535}, {"icmp_id", F::kIcmpId, 65535},
                              {"icmp_type", F::kIcmpType, 255}, {"icmp_code", F::kIcmpCode, 255}};
  for (const Num& n : kNums) {
    if (key != n.name) continue;
    char* end = nullptr;
    const unsigned long v = std::strtoul(val.c_str(), &end, 0);
    if (val.empty() || *end || v > n.max) return "invalid " + key + " '" + val + "'";
    f->fields |= n.field;
    if (n.field == F::kProto) f->t.proto = static_cast<uint8_t>(v);
    if (n.field == F::kSport || n.field == F::kIcmpId) f->t.sport = static_cast<uint16_t>(v);
    if (n.field == F::kDport) f->t.dport = static_cast<uint16_t>(v);
    if (n.field == F::kIcmpType) f->t.icmp_type = static_cast<uint8_t>(v);
    if (n.field == F::kIcmpCode) f->t.icmp_code = static_cast<uint8_t>(v);
    return "";
  }
  return "unknown ct-tuple field '" + key + "' (ct_nw_src, ct_nw_dst, ct_ipv6_src, ct_ipv6_dst, "
         "ct_nw_proto, ct_tp_src, ct_tp_dst, icmp_id, icmp_type, icmp_code)";
}

}  // namespace

std::string ct_tuple_filter_parse(const std::string& text, CtTupleFilter* out) {
  CtTupleFilter f;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return "expected key=value in ct-tuple, got '" + item + "'";
    if (std::string e = filter_item(item.substr(0, eq), item.substr(eq + 1), &f); !e.empty()) return e;
    pos = comma + 1;
  }
  *out = f;
  return "";
}

}  // namespace dps::conntrack
