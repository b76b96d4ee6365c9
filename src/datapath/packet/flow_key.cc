// flow_key.cc - packet parsing into FlowKey, the key hash, and key formatting.
//
// Two parsers share one contract (flow_key.h):
//  - an inline fast path for the frames a switch sees most: untagged or one
//    802.1Q tag, IPv4 with IHL 5, not a fragment, UDP or TCP. It zeroes the
//    key with three 32-byte stores, writes the five populated words with
//    scalar stores built from a handful of loads, and hashes those words from
//    registers. Every check that could fail falls through to
//  - the general parser (out of line), which handles every protocol listed
//    in flow_key.h and every malformed or truncated frame, bounds-checking
//    each header before it reads it. It follows Open vSwitch's
//    miniflow_extract() where the two could differ (validity rules, ND
//    options, 802.2 frames, IPv6 later fragments).
// Both produce identical keys and hashes for the frames the fast path takes;
// the tests check this by parsing the same flow with IHL 5 and with options.
#include "flow_key.h"

#include <arpa/inet.h>
#include <immintrin.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "compiler.h"
#include "unaligned.h"

namespace dps::datapath {
namespace {

constexpr uint16_t be16(uint16_t x) { return __builtin_bswap16(x); }
constexpr uint32_t be32(uint32_t x) { return __builtin_bswap32(x); }

using base::load16, base::load32, base::load64;

constexpr uint32_t kEthHeaderLen = 14;
constexpr uint32_t kVlanHeaderLen = 4;
constexpr uint32_t kIpv4HeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kTcpHeaderLen = 20;
constexpr uint32_t kSctpHeaderLen = 12;
constexpr uint32_t kIcmpHeaderLen = 8;   // type, code, checksum, 4 bytes of data
constexpr uint32_t kArpEthIpv4Len = 28;
constexpr uint32_t kMaxVlanHeaders = 2;  // outer + inner (QinQ), as OVS

constexpr uint8_t kIpProtoHop = 0;
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoUdp = 17;
constexpr uint8_t kIpProtoRouting = 43;
constexpr uint8_t kIpProtoFragment = 44;
constexpr uint8_t kIpProtoEsp = 50;
constexpr uint8_t kIpProtoAuth = 51;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint8_t kIpProtoNoNext = 59;
constexpr uint8_t kIpProtoDstOpts = 60;
constexpr uint8_t kIpProtoSctp = 132;

constexpr uint8_t kNdNeighborSolicit = 135;
constexpr uint8_t kNdNeighborAdvert = 136;
constexpr uint8_t kNdOptSourceLinkAddr = 1;
constexpr uint8_t kNdOptTargetLinkAddr = 2;

// Arbitrary odd constant so a key of all zeroes does not hash to 0.
constexpr uint32_t kHashSeed = 0x9e3779b9;

// Unrolled by hand: GCC turns the loop form into a memset, inlined as
// `rep stosq` for the whole key, ~30 cycles per general-parser packet (an
// MPLS LSR's every packet) where eight AVX stores take a few.
template <unsigned kFrom>
DPS_ALWAYS_INLINE void zero_words(FlowKey* key) {
  static_assert(kFrom % 4 == 0 && kFlowWords % 4 == 0);
  const __m256i z = _mm256_setzero_si256();
  [&]<unsigned... I>(std::integer_sequence<unsigned, I...>) {
    (_mm256_storeu_si256(reinterpret_cast<__m256i*>(key->words() + kFrom + 4 * I), z), ...);
  }(std::make_integer_sequence<unsigned, (kFlowWords - kFrom) / 4>{});
}

// Words 0..4 (in_port, eth_type, VLAN, MACs, IPv4 addresses, L4 ports and
// protocol) are what distinguishes most microflows; they are always hashed.
DPS_ALWAYS_INLINE uint32_t hash_first_words(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3,
                                            uint64_t w4) {
  // Two independent CRC chains (3 + 2 instructions deep instead of 5): CRC
  // is linear, so a CRC over all five words is (a bijection of) the first
  // chain XOR the second; this differs from it only in that bijection and
  // spreads as well, at 9 instead of 15 cycles of latency per packet.
  uint64_t a = _mm_crc32_u64(_mm_crc32_u64(_mm_crc32_u64(kHashSeed, w0), w1), w2);
  uint64_t b = _mm_crc32_u64(_mm_crc32_u64(0, w3), w4);
  return static_cast<uint32_t>(a ^ b);
}

// The key hash: a function of the key alone (equal keys, equal hashes).
// Words 5..7 (MPLS, IPv6 label, ARP/ND link addresses, extension-header
// flags) are hashed only when one is non-zero and the IPv6 line only for
// IPv6, so the common IPv4 case costs five CRC32 instructions.
uint32_t key_hash(const FlowKey& key) {
  const auto* w = key.words();
  uint64_t h = hash_first_words(w[0], w[1], w[2], w[3], w[4]);
  if ((w[5] | w[6] | w[7]) != 0) {
    h = _mm_crc32_u64(h, w[5]);
    h = _mm_crc32_u64(h, w[6]);
    h = _mm_crc32_u64(h, w[7]);
  }
  if (key.eth_type == be16(kEthTypeIpv6)) {
    for (unsigned i = 8; i < 14; i++) h = _mm_crc32_u64(h, w[i]);
  }
  return static_cast<uint32_t>(h);
}

// ---------------------------------------------------------------------------
// General parser. Each helper receives the bytes that remain valid for its
// header (`size`), checks the header fits before reading it, and fills only
// fields it validated.

// L4 for IPv4 and IPv6 (ICMPv6 is parse_icmpv6). `size` is the IP payload
// length that is present.
void parse_l4(const uint8_t* l4, uint32_t size, uint8_t proto, bool ipv4, FlowKey* key) {
  switch (proto) {
    case kIpProtoTcp: {
      if (size < kTcpHeaderLen) return;
      uint32_t tcp_len = (l4[12] >> 4) * 4u;
      if (tcp_len < kTcpHeaderLen || tcp_len > size) return;
      std::memcpy(&key->tp_src, l4, 4);  // tp_src, tp_dst
      key->tcp_flags = load16(l4 + 12) & be16(0x0fff);
      return;
    }
    case kIpProtoUdp:
      if (size < kUdpHeaderLen) return;
      std::memcpy(&key->tp_src, l4, 4);
      return;
    case kIpProtoSctp:
      if (size < kSctpHeaderLen) return;
      std::memcpy(&key->tp_src, l4, 4);
      return;
    case kIpProtoIcmp:  // ICMPv4 only means something over IPv4
      if (!ipv4 || size < kIcmpHeaderLen) return;
      key->tp_src = be16(l4[0]);
      key->tp_dst = be16(l4[1]);
      return;
    default:
      return;
  }
}

// ICMPv6 with Neighbor Discovery: type/code whenever the 8-byte header is
// present; target and link-layer options all or nothing (as OVS: a bad or
// duplicated option discards the ND fields).
void parse_icmpv6(const uint8_t* l4, uint32_t size, FlowKey* key) {
  if (size < kIcmpHeaderLen) return;
  const uint8_t type = l4[0];
  const uint8_t code = l4[1];
  key->tp_src = be16(type);
  key->tp_dst = be16(code);
  if (code != 0 || (type != kNdNeighborSolicit && type != kNdNeighborAdvert)) return;
  const uint8_t* p = l4 + kIcmpHeaderLen;
  size -= kIcmpHeaderLen;
  if (size < 16) return;
  const uint8_t* target = p;
  p += 16;
  size -= 16;
  const uint8_t* sll = nullptr;
  const uint8_t* tll = nullptr;
  while (size >= 8) {
    const uint32_t opt_len = p[1] * 8u;
    if (opt_len == 0 || opt_len > size) return;
    if (opt_len == 8 && p[0] == kNdOptSourceLinkAddr) {
      if (sll) return;
      sll = p + 2;
    } else if (opt_len == 8 && p[0] == kNdOptTargetLinkAddr) {
      if (tll) return;
      tll = p + 2;
    }
    p += opt_len;
    size -= opt_len;
  }
  std::memcpy(key->nd_target, target, 16);
  if (sll) std::memcpy(key->arp_sha, sll, 6);
  if (tll) std::memcpy(key->arp_tha, tll, 6);
}

// `size` bytes are readable from ip; `extra` more belong to the packet in
// later mbuf segments (they count for length validation, are never read).
void parse_ipv4(const uint8_t* ip, uint32_t size, uint32_t extra, FlowKey* key) {
  if (size < kIpv4HeaderLen) return;
  if ((ip[0] >> 4) != 4) return;
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  const uint32_t tot_len = be16(load16(ip + 2));
  // As OVS ipv4_sanity_check(): an inconsistent header yields no L3 fields.
  if (ihl < kIpv4HeaderLen || ihl > size || tot_len < ihl || tot_len > size + extra) return;
  key->nw_tos = ip[1];
  key->nw_ttl = ip[8];
  key->nw_proto = ip[9];
  std::memcpy(&key->nw_src, ip + 12, 8);  // nw_src, nw_dst
  const uint16_t frag_off = load16(ip + 6);
  if (frag_off & be16(0x3fff)) {  // MF or a non-zero offset
    key->nw_frag = kFragAny;
    if (frag_off & be16(0x1fff)) {
      key->nw_frag |= kFragLater;
      return;
    }
  }
  parse_l4(ip + ihl, std::min(tot_len, size) - ihl, ip[9], true, key);
}

// Order of extension headers recommended by RFC 8200 4.1, used for
// OFPIEH_UNSEQ: hop-by-hop, destination (before routing), routing, fragment,
// authentication, ESP, destination (final).
enum ExtRank : int { kRankHop, kRankDest1, kRankRouter, kRankFrag, kRankAuth, kRankEsp, kRankDest2 };

// What next-header value nh is to the OFPIEH flags: its flag and its rank;
// flag 0 for the end of the chain (an upper layer, or no next header).
// `seen`: the flags of the headers before it (a destination-options header
// after any of dest/routing/fragment/auth/ESP is the final one).
struct ExtKind {
  uint16_t flag;
  int rank;
};
inline ExtKind ipv6_ext_kind(uint8_t nh, uint16_t seen) {
  switch (nh) {
    case kIpProtoHop: return {kIehHop, kRankHop};
    case kIpProtoDstOpts:
      return {kIehDest, (seen & (kIehDest | kIehRouter | kIehFrag | kIehAuth | kIehEsp))
                            ? kRankDest2
                            : kRankDest1};
    case kIpProtoRouting: return {kIehRouter, kRankRouter};
    case kIpProtoFragment: return {kIehFrag, kRankFrag};
    case kIpProtoAuth: return {kIehAuth, kRankAuth};
    case kIpProtoEsp: return {kIehEsp, kRankEsp};
    default: return {0, 0};
  }
}

// The OFPIEH flags of a chain of extension headers, built header by header.
struct ExtChain {
  uint16_t flags = 0;
  int last_rank = -1;
  bool final_dest_seen = false;

  // UNREP and UNSEQ for one more header (before its own flag is set).
  void order(uint8_t nh, ExtKind k) {
    if (nh == kIpProtoDstOpts) {
      if (k.rank == kRankDest2) {
        if (final_dest_seen) flags |= kIehUnrep;
        final_dest_seen = true;
      }
    } else if (flags & k.flag) {
      flags |= kIehUnrep;
    }
    if (k.rank < last_rank) flags |= kIehUnseq;
    last_rank = std::max(last_rank, k.rank);
  }
};

// The length of the extension header at p (its first 8 bytes are present).
inline uint32_t ipv6_ext_len(uint8_t nh, const uint8_t* p) {
  if (nh == kIpProtoFragment) return 8;
  if (nh == kIpProtoAuth) return (p[1] + 2u) * 4;
  return (p[1] + 1u) * 8;
}

// The end of the chain at nh (not an extension header): the upper layer.
void ipv6_upper_layer(uint8_t nh, const uint8_t* p, uint32_t left, uint16_t flags,
                      FlowKey* key) {
  key->ipv6_exthdr = nh == kIpProtoNoNext ? flags | kIehNoNext : flags;
  key->nw_proto = nh;
  if (nh == kIpProtoNoNext) return;
  if (nh == kIpProtoIcmpv6)
    parse_icmpv6(p, left, key);
  else
    parse_l4(p, left, nh, false, key);
}

// A fragment header at p: sets nw_frag; true for a later fragment, which
// ends the parse (as OVS: no L4 and nw_proto = fragment).
bool ipv6_fragment(const uint8_t* p, uint16_t flags, FlowKey* key) {
  const uint16_t offlg = load16(p + 2);
  if (!(offlg & be16(0xfff9))) return false;  // neither offset nor M: not a real fragment
  key->nw_frag = kFragAny;
  if (!(offlg & be16(0xfff8))) return false;
  key->nw_frag |= kFragLater;
  key->ipv6_exthdr = flags;
  key->nw_proto = kIpProtoFragment;
  return true;
}

// The extension headers from nh at p (`left` readable payload bytes), then
// the upper layer. A truncated header keeps the flags validated so far.
void parse_ipv6_chain(uint8_t nh, const uint8_t* p, uint32_t left, FlowKey* key) {
  ExtChain c;
  for (;;) {
    const ExtKind k = ipv6_ext_kind(nh, c.flags);
    if (k.flag == 0) return ipv6_upper_layer(nh, p, left, c.flags, key);
    c.order(nh, k);
    if (nh == kIpProtoEsp) {  // encrypted from here on
      key->ipv6_exthdr = c.flags | kIehEsp;
      key->nw_proto = nh;
      return;
    }
    const uint32_t hlen = left < 8 ? UINT32_MAX : ipv6_ext_len(nh, p);
    if (hlen > left) {
      key->ipv6_exthdr = c.flags;
      return;
    }
    c.flags |= k.flag;
    if (nh == kIpProtoFragment && ipv6_fragment(p, c.flags, key)) return;
    nh = p[0];
    p += hlen;
    left -= hlen;
  }
}

void parse_ipv6(const uint8_t* ip, uint32_t size, uint32_t extra, FlowKey* key) {
  if (size < kIpv6HeaderLen) return;
  const uint32_t vtcfl = be32(load32(ip));
  if ((vtcfl >> 28) != 6) return;
  const uint32_t plen = be16(load16(ip + 4));
  if (plen > size + extra - kIpv6HeaderLen) return;
  key->nw_tos = static_cast<uint8_t>(vtcfl >> 20);
  key->ipv6_label = be32(vtcfl & 0x000fffff);
  key->nw_ttl = ip[7];
  std::memcpy(key->ipv6_src, ip + 8, 16);
  std::memcpy(key->ipv6_dst, ip + 24, 16);
  // Readable payload: the payload length, as far as it is present.
  parse_ipv6_chain(ip[6], ip + kIpv6HeaderLen, std::min(plen, size - kIpv6HeaderLen), key);
}

// The whole frame (`len` readable bytes, `extra` more in later segments).
// Zeroes the key first.
[[gnu::noinline]] void parse_general(const uint8_t* p, uint32_t len, uint32_t extra,
                                     uint32_t in_port, FlowKey* key) {
  zero_words<0>(key);
  key->in_port = in_port;
  if (len < kEthHeaderLen) return;
  std::memcpy(reinterpret_cast<uint8_t*>(key) + offsetof(FlowKey, dl_dst), p, 12);
  uint32_t off = 12;  // at the (first) ethertype / TPID
  uint16_t type = load16(p + off);
  for (unsigned i = 0; i < kMaxVlanHeaders; i++) {
    if (type != be16(kEthTypeVlan) && type != be16(kEthTypeQinQ)) break;
    if (len - off < kVlanHeaderLen + 2) break;  // truncated tag: treat as non-VLAN, as OVS
    const uint16_t tci = load16(p + off + 2) | be16(kVlanCfi);
    if (i == 0)
      key->vlan_tci = tci;
    else
      key->vlan_tci2 = tci;
    off += kVlanHeaderLen;
    type = load16(p + off);
  }
  off += 2;
  if (be16(type) < 0x600) {  // 802.3 length field
    key->eth_type = be16(kEthTypeNotEthII);
    return;
  }
  key->eth_type = type;
  const uint8_t* l3 = p + off;
  const uint32_t size = len - off;
  switch (be16(type)) {
    case kEthTypeIpv4:
      parse_ipv4(l3, size, extra, key);
      return;
    case kEthTypeIpv6:
      parse_ipv6(l3, size, extra, key);
      return;
    case kEthTypeArp: {
      if (size < kArpEthIpv4Len) return;
      if (load16(l3) != be16(1) || load16(l3 + 2) != be16(kEthTypeIpv4) || l3[4] != 6 ||
          l3[5] != 4)
        return;
      const uint16_t op = be16(load16(l3 + 6));
      if (op <= 0xff) key->nw_proto = static_cast<uint8_t>(op);  // OVS keeps the low byte only
      std::memcpy(key->arp_sha, l3 + 8, 6);
      std::memcpy(&key->nw_src, l3 + 14, 4);
      std::memcpy(key->arp_tha, l3 + 18, 6);
      std::memcpy(&key->nw_dst, l3 + 24, 4);
      return;
    }
    case kEthTypeMpls:
    case kEthTypeMplsMcast:
      if (size >= 4) key->mpls_lse = load32(l3);
      return;
    case kEthTypePbb:  // the I-SID of the I-TAG, in ipv6_label (flow_key_layout.h)
      if (size >= 4) key->ipv6_label = load32(l3) & be32(0x00ffffff);
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------
// Fast path: [one 802.1Q tag] + IPv4 IHL 5, not a fragment, UDP or TCP with a
// consistent length. Returns false (having written nothing) otherwise.
template <bool kHash>
DPS_ALWAYS_INLINE bool extract_fast(const uint8_t* p, uint32_t len, uint32_t in_port,
                                    FlowKey* key, uint32_t* hash) {
  if (len < kEthHeaderLen + kIpv4HeaderLen + kUdpHeaderLen) return false;
  uint64_t type = load16(p + 12);
  uint64_t tci = 0;
  uint32_t l3 = kEthHeaderLen;
  if (type == be16(kEthTypeVlan)) {
    tci = load16(p + 14) | be16(kVlanCfi);
    type = load16(p + 16);
    l3 += kVlanHeaderLen;
    if (len < l3 + kIpv4HeaderLen + kUdpHeaderLen) return false;
  }
  const uint8_t* ip = p + l3;
  const uint32_t tot_len = be16(load16(ip + 2));
  const uint8_t proto = ip[9];
  // One compound test for everything the common case shares; branch-free to
  // evaluate so it costs one well-predicted jump.
  const bool ipv4_plain = (type == be16(kEthTypeIpv4)) & (ip[0] == 0x45) &
                          ((load16(ip + 6) & be16(0x3fff)) == 0) & (tot_len <= len - l3);
  if (!ipv4_plain) return false;
  const uint8_t* l4 = ip + kIpv4HeaderLen;
  uint64_t tcp_flags = 0;
  if (proto == kIpProtoUdp) {
    if (tot_len < kIpv4HeaderLen + kUdpHeaderLen) return false;
  } else if (proto == kIpProtoTcp) {
    if (tot_len < kIpv4HeaderLen + kTcpHeaderLen) return false;
    const uint32_t tcp_len = (l4[12] >> 4) * 4u;
    if (tcp_len < kTcpHeaderLen || tcp_len > tot_len - kIpv4HeaderLen) return false;
    tcp_flags = load16(l4 + 12) & be16(0x0fff);
  } else {
    return false;
  }
  // Little-endian word images of the key (see the layout in flow_key.h).
  const uint64_t w0 = in_port | (type << 32) | (tci << 48);
  const uint64_t w1 = load64(p);                                         // dl_dst, dl_src[0..1]
  const uint64_t w2 = load32(p + 8) | (static_cast<uint64_t>(ip[1]) << 56);  // dl_src[2..5], nw_tos
  const uint64_t w3 = load64(ip + 12);                                   // nw_src, nw_dst
  const uint64_t w4 = load32(l4) | (static_cast<uint64_t>(proto) << 32) |
                      (static_cast<uint64_t>(ip[8]) << 40) | (tcp_flags << 48);
  zero_words<4>(key);
  auto* w = key->words();
  w[0] = w0;
  w[1] = w1;
  w[2] = w2;
  w[3] = w3;
  w[4] = w4;
  if constexpr (kHash) *hash = hash_first_words(w0, w1, w2, w3, w4);
  return true;
}

// `extra`: bytes of the packet beyond the `len` readable ones (later mbuf
// segments). The fast path ignores it: its length check is then merely
// conservative, and a datagram that continues past the first segment goes
// to the general parser.
template <bool kHash>
DPS_ALWAYS_INLINE uint32_t extract(const uint8_t* p, uint32_t len, uint32_t extra,
                                   uint32_t in_port, FlowKey* key) {
  uint32_t hash = 0;
  if (DPS_LIKELY(extract_fast<kHash>(p, len, in_port, key, &hash))) return hash;
  parse_general(p, len, extra, in_port, key);
  if constexpr (kHash) return key_hash(*key);
  return 0;
}

// Mixes the NIC's RSS hash with in_port: the same 5-tuple arriving on two
// ports is two flows.
inline uint32_t rss_mix(uint32_t rss, uint32_t in_port) {
  return _mm_crc32_u32(rss, in_port);
}

}  // namespace

uint32_t flow_key_extract(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key) {
  return extract<true>(data, len, 0, in_port, key);
}

namespace {

// Burst trains. Consecutive packets of one flow usually differ only in bytes
// the key does not contain (IP ID and checksum, TCP sequence numbers, window
// and checksum, UDP length and checksum, payload). A packet whose
// fast-path-readable header bytes equal the previous packet's, at the same
// length, has the same key: it is copied instead of parsed, and the PMD reuses
// the previous packet's lookup result. The masks list exactly the bytes
// extract_fast() reads, for the four layouts it accepts (untagged or one
// 802.1Q tag, then IPv4 with IHL 5 and UDP or TCP); the fast path's length
// checks depend only on the data length, which must be equal too.
struct TrainMask {
  alignas(32) uint8_t m[64];
};

constexpr TrainMask make_train_mask(bool vlan, bool tcp) {
  TrainMask t{};
  const unsigned l3 = vlan ? 18 : 14;
  for (unsigned i = 0; i < l3; i++) t.m[i] = 0xff;                 // MACs, tags, ethertype
  for (unsigned i : {0u, 1u, 2u, 3u, 6u, 7u, 8u, 9u}) t.m[l3 + i] = 0xff;  // IHL, TOS, length, frag, TTL, proto
  for (unsigned i = 12; i < 20; i++) t.m[l3 + i] = 0xff;          // addresses
  for (unsigned i = 20; i < 24; i++) t.m[l3 + i] = 0xff;          // ports
  if (tcp) t.m[l3 + 32] = t.m[l3 + 33] = 0xff;                     // data offset, flags
  return t;
}

constexpr TrainMask kTrainMasks[4] = {make_train_mask(false, false), make_train_mask(false, true),
                                      make_train_mask(true, false), make_train_mask(true, true)};

// MPLS (an LSR's traffic) and PBB (a backbone core's or edge's): the
// general parser reads the MACs, at most one tag, the ethertype and the top
// label stack entry or the I-TAG, 4 bytes either way, nothing beyond.
constexpr TrainMask make_mpls_train_mask(bool vlan) {
  TrainMask t{};
  for (unsigned i = 0; i < (vlan ? 18u : 14u) + 4; i++) t.m[i] = 0xff;
  return t;
}

constexpr TrainMask kMplsTrainMasks[2] = {make_mpls_train_mask(false), make_mpls_train_mask(true)};

// The train a packet parsed into `key` can head, if any.
inline const TrainMask* train_of(const FlowKey& key, bool fast) {
  if (fast) return &kTrainMasks[(key.vlan_tci ? 2 : 0) + (key.nw_proto == kIpProtoTcp)];
  const bool four = key.eth_type == be16(kEthTypeMpls) || key.eth_type == be16(kEthTypeMplsMcast) ||
                    key.eth_type == be16(kEthTypePbb);
  return four && key.vlan_tci2 == 0 ? &kMplsTrainMasks[key.vlan_tci ? 1 : 0] : nullptr;
}
// Both packets must have this many readable bytes from their data start (the
// masks end before byte 52; mbuf data rooms are far larger).
constexpr uint32_t kTrainSpan = 64;

inline bool same_train(const uint8_t* a, const uint8_t* b, const TrainMask& t) {
  const __m256i m0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.m));
  const __m256i m1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.m + 32));
  __m256i d0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
  __m256i d1 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 32)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32)));
  __m256i d = _mm256_or_si256(_mm256_and_si256(d0, m0), _mm256_and_si256(d1, m1));
  return _mm256_testz_si256(d, d);
}

}  // namespace

uint32_t flow_key_extract_batch(rte_mbuf* const* pkts, unsigned n, uint32_t in_port,
                                FlowKey* keys, uint32_t* hashes, bool detect_trains) {
  // 4 packets ahead: enough to cover a DRAM/LLC miss at ~15 cycles per packet.
  constexpr unsigned kPrefetchAhead = 4;
  for (unsigned i = 0; i < std::min(n, kPrefetchAhead); i++)
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], const void*));
  uint32_t same = 0;
  const TrainMask* train = nullptr;  // set when the previous packet can start a train
  const uint8_t* prev = nullptr;
  uint32_t prev_len = 0;
  for (unsigned i = 0; i < n; i++) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], const void*));
    const rte_mbuf* m = pkts[i];
    const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t extra = m->pkt_len - m->data_len;  // 0 unless chained
    const bool rss = m->ol_flags & RTE_MBUF_F_RX_RSS_HASH;
    const bool spannable = extra == 0 && static_cast<uint32_t>(m->buf_len - m->data_off) >= kTrainSpan;
    if (train && spannable && m->data_len == prev_len && same_train(data, prev, *train)) {
      hashes[i] = rss ? rss_mix(m->hash.rss, in_port) : hashes[i - 1];
      same |= uint32_t{1} << i;
      prev = data;
      continue;
    }
    bool fast;
    if (rss) {
      uint32_t unused;
      fast = extract_fast<false>(data, m->data_len, in_port, &keys[i], &unused);
      if (!fast) parse_general(data, m->data_len, extra, in_port, &keys[i]);
      hashes[i] = rss_mix(m->hash.rss, in_port);
    } else {
      fast = extract_fast<true>(data, m->data_len, in_port, &keys[i], &hashes[i]);
      if (!fast) {
        parse_general(data, m->data_len, extra, in_port, &keys[i]);
        hashes[i] = key_hash(keys[i]);
      }
    }
    train = spannable && detect_trains ? train_of(keys[i], fast) : nullptr;
    prev = data;
    prev_len = m->data_len;
  }
  return same;
}

uint32_t flow_key_hash_masked(const FlowKey& key, const FlowMask& mask) {
  const auto* k = key.words();
  const auto* m = mask.words();
  uint64_t h = kHashSeed;
  for (unsigned i = 0; i < kFlowWords; i++) {
    if (m[i]) h = _mm_crc32_u64(h, k[i] & m[i]);
  }
  return static_cast<uint32_t>(h);
}

// ---------------------------------------------------------------------------
// Formatting (cold).
namespace {

void append(std::string* out, const char* fmt, auto... args) {
  char buf[128];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (!out->empty()) out->push_back(',');
  out->append(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}

bool any(const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i]) return true;
  return false;
}

bool all_ones(const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0xff) return false;
  return true;
}

std::string hex16(uint16_t be) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", be16(be));
  return buf;
}

}  // namespace

std::string mac_str(const uint8_t* m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return buf;
}

std::string ip4_str(uint32_t be) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &be, buf, sizeof buf);
  return buf;
}

std::string ip6_str(const uint8_t* a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, buf, sizeof buf);
  return buf;
}

// A field is shown when its mask is non-zero (or, without a mask, when its
// value is non-zero); a partial mask is shown as value/mask, as ovs-dpctl.
#define DPS_FIELD(field) \
  (mask ? any(&mask->field, sizeof key.field) : any(&key.field, sizeof key.field))
#define DPS_PARTIAL(field) (mask && !all_ones(&mask->field, sizeof key.field))
#define DPS_MASKED(field, fmt)                                        \
  if (DPS_FIELD(field)) {                                             \
    append(&out, #field "=%s", fmt(key.field).c_str());               \
    if (DPS_PARTIAL(field)) out.append("/").append(fmt(mask->field)); \
  }

namespace {

std::string hex64(uint64_t be) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(__builtin_bswap64(be)));
  return buf;
}

// Words 14..31: recirculation and tunnel metadata (ovs-dpctl's names).
void format_ext(const FlowKey& key, const FlowMask* mask, std::string& out) {
  // recirc_id is exact in every megaflow: shown when not 0 (a recirculated pass).
  if (key.recirc_id) append(&out, "recirc_id=0x%x", key.recirc_id);
  if (DPS_FIELD(ct_state)) append(&out, "ct_state=0x%x", key.ct_state);
  if (DPS_FIELD(ct_zone)) append(&out, "ct_zone=%u", key.ct_zone);
  if (DPS_FIELD(ct_mark)) append(&out, "ct_mark=0x%x", key.ct_mark);
  if (DPS_FIELD(ct_label)) {
    std::string l;
    char b[4];
    for (uint8_t x : key.ct_label) l += (std::snprintf(b, sizeof b, "%02x", x), b);
    append(&out, "ct_label=0x%s", l.c_str());
  }
  if (DPS_FIELD(dp_hash)) append(&out, "dp_hash=0x%08x", key.dp_hash);
  DPS_MASKED(tun_id, hex64);
  DPS_MASKED(tun_ipv4_src, ip4_str);
  DPS_MASKED(tun_ipv4_dst, ip4_str);
  DPS_MASKED(tun_ipv6_src, ip6_str);
  DPS_MASKED(tun_ipv6_dst, ip6_str);
  if (DPS_FIELD(tun_flags)) append(&out, "tun_flags=0x%x", key.tun_flags);
  if (DPS_FIELD(tun_tos)) append(&out, "tun_tos=%u", key.tun_tos);
  if (DPS_FIELD(tun_ttl)) append(&out, "tun_ttl=%u", key.tun_ttl);
  if (DPS_FIELD(tun_tp_dst)) append(&out, "tun_tp_dst=%u", be16(key.tun_tp_dst));
  if (DPS_FIELD(tun_opts_len)) {
    std::string opts;
    char b[4];
    for (unsigned i = 0; i < key.tun_opts_len && i < kTunOptsMax; i++) {
      std::snprintf(b, sizeof b, "%02x", key.tun_opts[i]);
      opts += b;
    }
    append(&out, "tun_opts=%s", opts.empty() ? "none" : opts.c_str());
  }
}

}  // namespace

std::string flow_key_format(const FlowKey& key, const FlowMask* mask) {
  std::string out;
  if (DPS_FIELD(in_port)) append(&out, "in_port=%u", key.in_port);
  DPS_MASKED(eth_type, hex16);
  DPS_MASKED(vlan_tci, hex16);
  DPS_MASKED(vlan_tci2, hex16);
  DPS_MASKED(dl_src, mac_str);
  DPS_MASKED(dl_dst, mac_str);
  if (DPS_FIELD(mpls_lse)) append(&out, "mpls_lse=0x%08x", be32(key.mpls_lse));
  DPS_MASKED(nw_src, ip4_str);
  DPS_MASKED(nw_dst, ip4_str);
  DPS_MASKED(ipv6_src, ip6_str);
  DPS_MASKED(ipv6_dst, ip6_str);
  if (DPS_FIELD(ipv6_label)) {
    if (key.eth_type == be16(kEthTypePbb))
      append(&out, "pbb_isid=0x%06x", be32(key.ipv6_label));
    else
      append(&out, "ipv6_label=0x%05x", be32(key.ipv6_label));
  }
  if (DPS_FIELD(ipv6_exthdr)) append(&out, "ipv6_exthdr=0x%03x", key.ipv6_exthdr);
  if (DPS_FIELD(nw_proto)) append(&out, "nw_proto=%u", key.nw_proto);
  if (DPS_FIELD(nw_tos)) append(&out, "nw_tos=%u", key.nw_tos);
  if (DPS_FIELD(nw_ttl)) append(&out, "nw_ttl=%u", key.nw_ttl);
  if (DPS_FIELD(nw_frag)) {
    const char* f = !(key.nw_frag & kFragAny) ? "no"
                    : (key.nw_frag & kFragLater) ? "later"
                                                 : "first";
    append(&out, "nw_frag=%s", f);
  }
  if (DPS_FIELD(arp_sha)) append(&out, "arp_sha=%s", mac_str(key.arp_sha).c_str());
  if (DPS_FIELD(arp_tha)) append(&out, "arp_tha=%s", mac_str(key.arp_tha).c_str());
  if (DPS_FIELD(tp_src)) append(&out, "tp_src=%u", be16(key.tp_src));
  if (DPS_FIELD(tp_dst)) append(&out, "tp_dst=%u", be16(key.tp_dst));
  if (DPS_FIELD(tcp_flags)) append(&out, "tcp_flags=0x%03x", be16(key.tcp_flags));
  if (DPS_FIELD(nd_target)) append(&out, "nd_target=%s", ip6_str(key.nd_target).c_str());
  format_ext(key, mask, out);
  return out;
}
#undef DPS_FIELD
#undef DPS_PARTIAL
#undef DPS_MASKED

}  // namespace dps::datapath
