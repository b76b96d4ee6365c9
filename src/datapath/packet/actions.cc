// actions.cc - header rewrites on one packet, and the action list's helpers.
//
// Every rewrite first locates its header with the same validity rules as the
// key parser (flow_key.cc): at most two VLAN tags, an IPv4 header whose IHL
// and total length are consistent, an IPv6 header whose payload length fits,
// L4 only when not a later fragment. A packet that fails them is left
// unchanged and the function returns false. Headers must lie in the first
// segment; lengths are checked against the whole packet.
//
// Checksums are updated incrementally with RFC 1624 eqn. 3,
// HC' = ~(~HC + ~m + m'), on 16-bit words exactly as they lie in memory (the
// one's-complement sum is byte-order independent, so no byte swaps):
//  - IPv4 address, TOS, TTL: the header checksum; addresses also the TCP/UDP
//    pseudo-header checksum (ICMPv4 and SCTP have no pseudo-header).
//  - IPv6 address: the TCP/UDP/ICMPv6 checksum, except the destination when
//    a routing header with segments left is present (the pseudo-header then
//    holds the final destination, as OVS).
//  - Ports: TCP/UDP checksum; SCTP's CRC32C is recomputed over the packet.
//  - UDP: a zero checksum ("none") stays zero; a result of zero is sent as
//    0xffff (RFC 768).
#include "actions.h"

#include <arpa/inet.h>
#include <immintrin.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "checksum.h"
#include "unaligned.h"
#include "compiler.h"
#include "flow_key.h"
#include "meter.h"

namespace dps::datapath {
namespace {

constexpr uint16_t be16(uint16_t x) { return __builtin_bswap16(x); }

using base::load16, base::load32, base::store16, base::store32;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoSctp = 132;
constexpr uint32_t kArpLen = 28;       // Ethernet/IPv4 ARP, the only one the key parser reads
constexpr uint32_t kIcmpHeaderLen = 8;  // as the key parser: type, code, checksum, 4 bytes
constexpr uint32_t kNdFixedLen = 24;    // ICMPv6 header + 16-byte target
constexpr uint32_t kPbbItagLen = 4;     // I-PCP, I-DEI, UCA, reserved, I-SID
constexpr uint32_t kPbbPushLen = 18;    // push_pbb: ethertype 0x88e7, I-TAG, C-DA, C-SA
constexpr uint8_t kNdSolicit = 135;
constexpr uint8_t kNdAdvert = 136;

// --- RFC 1624 incremental checksum ----------------------------------------

using base::csum_finish;
using base::csum_replace16;
using base::csum_replace2;
using base::csum_replace4;
using base::csum_replace_bytes;

// Applies an update to the checksum field at p: f(old) -> new.
template <typename F>
inline void update_csum_at(uint8_t* p, F f) {
  store16(p, f(load16(p)));
}
// UDP: 0 means "no checksum" and stays 0; a computed 0 is sent as 0xffff.
template <typename F>
inline void update_udp_csum_at(uint8_t* p, F f) {
  const uint16_t c = load16(p);
  if (c == 0) return;
  const uint16_t n = f(c);
  store16(p, n == 0 ? 0xffff : n);
}

// SCTP CRC32C (RFC 4960 appendix B) over the whole SCTP packet with the
// checksum field taken as zero; stored little-endian as on the wire.
void sctp_recompute(uint8_t* sctp, uint32_t len) {
  store32(sctp + 8, 0);
  uint64_t crc = 0xffffffff;
  uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    std::memcpy(&v, sctp + i, 8);
    crc = _mm_crc32_u64(crc, v);
  }
  uint32_t c = static_cast<uint32_t>(crc);
  for (; i < len; i++) c = _mm_crc32_u8(c, sctp[i]);
  store32(sctp + 8, ~c);
}

// --- header location ----------------------------------------------------

struct L2 {
  uint8_t* data;
  uint32_t size;    // bytes in the first segment
  uint32_t total;   // bytes in the packet
  uint32_t l3;      // offset of L3
  uint16_t type;    // ethertype after the tags, network order
};

// Ethernet + up to two VLAN tags, as the key parser.
bool locate_l2(rte_mbuf* m, L2* l2) {
  l2->data = rte_pktmbuf_mtod(m, uint8_t*);
  l2->size = rte_pktmbuf_data_len(m);
  l2->total = rte_pktmbuf_pkt_len(m);
  if (l2->size < 14) return false;
  uint32_t off = 12;
  uint16_t type = load16(l2->data + off);
  for (int i = 0; i < 2; i++) {
    if (type != be16(kEthTypeVlan) && type != be16(kEthTypeQinQ)) break;
    if (l2->size - off < 6) return false;
    off += 4;
    type = load16(l2->data + off);
  }
  l2->type = type;
  l2->l3 = off + 2;
  return true;
}

struct L3 {
  uint8_t* ip;
  uint8_t* l4;          // null: no L4 to touch (later fragment, ESP, truncated)
  uint32_t l4_len;      // bytes of L4 header + payload present (first segment)
  uint32_t l4_total;    // L4 length per the IP header
  uint8_t proto;
  bool v6_final_dst_elsewhere;  // IPv6 routing header with segments left
};

// Where locate_ip() found the IP header: bytes from it to the end of the
// first segment and of the packet.
struct IpAt {
  uint8_t* ip;
  uint32_t size;
  uint32_t total;
};

// The IP header of version 4 or 6 behind ethertype eth_type, its fixed
// part (fixed_len bytes) in the first segment: sets l3->ip, with no L4 yet.
bool locate_ip(rte_mbuf* m, uint16_t eth_type, unsigned version, uint32_t fixed_len, IpAt* at,
               L3* l3) {
  L2 l2;
  if (!locate_l2(m, &l2) || l2.type != be16(eth_type)) return false;
  *at = {l2.data + l2.l3, l2.size - l2.l3, l2.total - l2.l3};
  if (at->size < fixed_len || (at->ip[0] >> 4) != version) return false;
  l3->ip = at->ip;
  l3->l4 = nullptr;
  l3->l4_len = 0;
  l3->l4_total = 0;
  l3->v6_final_dst_elsewhere = false;
  return true;
}

bool locate_ipv4(rte_mbuf* m, L3* l3) {
  IpAt at;
  if (!locate_ip(m, kEthTypeIpv4, 4, 20, &at, l3)) return false;
  uint8_t* ip = at.ip;
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  const uint32_t tot_len = be16(load16(ip + 2));
  if (ihl < 20 || ihl > at.size || tot_len < ihl || tot_len > at.total) return false;
  l3->proto = ip[9];
  l3->l4_total = tot_len - ihl;
  if ((load16(ip + 6) & be16(0x1fff)) == 0) {  // not a later fragment
    l3->l4 = ip + ihl;
    l3->l4_len = std::min(tot_len, at.size) - ihl;
  }
  return true;
}

bool locate_ipv6(rte_mbuf* m, L3* l3) {
  IpAt at;
  if (!locate_ip(m, kEthTypeIpv6, 6, 40, &at, l3)) return false;
  uint8_t* ip = at.ip;
  const uint32_t plen = be16(load16(ip + 4));
  if (plen > at.total - 40) return false;
  uint8_t nh = ip[6];
  uint32_t off = 40;
  const uint32_t end = 40 + plen;
  const uint32_t avail = std::min(end, at.size);
  for (;;) {
    if (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 44) {
      if (off + 8 > avail) break;
      const uint8_t* h = ip + off;
      uint32_t hlen = nh == 44 ? 8 : nh == 51 ? (h[1] + 2u) * 4 : (h[1] + 1u) * 8;
      if (nh == 43 && h[3] > 0) l3->v6_final_dst_elsewhere = true;
      if (nh == 44 && (load16(h + 2) & be16(0xfff8))) break;  // later fragment
      if (off + hlen > avail) break;
      nh = h[0];
      off += hlen;
      continue;
    }
    if (nh != 50 && nh != 59) {  // an upper layer (ESP and no-next have none to touch)
      l3->proto = nh;
      l3->l4 = ip + off;
      l3->l4_len = avail - off;
      l3->l4_total = end - off;
    }
    break;
  }
  if (!l3->l4) l3->proto = 0;
  return true;
}

// L4 checksum field for proto when its header is present, else null.
uint8_t* l4_csum_field(const L3& l3) {
  if (!l3.l4) return nullptr;
  switch (l3.proto) {
    case kProtoTcp: return l3.l4_len >= 20 ? l3.l4 + 16 : nullptr;
    case kProtoUdp: return l3.l4_len >= 8 ? l3.l4 + 6 : nullptr;
    case kProtoIcmpv6: return l3.l4_len >= 4 ? l3.l4 + 2 : nullptr;
    default: return nullptr;
  }
}

// --- the rewrites ---------------------------------------------------------

bool set_eth(rte_mbuf* m, const DpAction& a, unsigned offset) {
  if (rte_pktmbuf_data_len(m) < 14) return false;
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*) + offset, a.data, 6);
  return true;
}

bool set_ipv4_addr(rte_mbuf* m, uint32_t new_addr, unsigned offset) {
  L3 l3;
  if (!locate_ipv4(m, &l3)) return false;
  uint8_t* field = l3.ip + offset;
  const uint32_t old_addr = load32(field);
  if (old_addr == new_addr) return true;
  store32(field, new_addr);
  update_csum_at(l3.ip + 10, [&](uint16_t c) { return csum_replace4(c, old_addr, new_addr); });
  if (l3.l4) {
    auto upd = [&](uint16_t c) { return csum_replace4(c, old_addr, new_addr); };
    if (l3.proto == kProtoTcp && l3.l4_len >= 20)
      update_csum_at(l3.l4 + 16, upd);
    else if (l3.proto == kProtoUdp && l3.l4_len >= 8)
      update_udp_csum_at(l3.l4 + 6, upd);
  }
  return true;
}

// Rewrites one byte of the IPv4 header (TOS at 1, TTL at 8) and fixes the
// header checksum over the 16-bit word that holds it.
bool set_ipv4_byte(rte_mbuf* m, unsigned offset, uint8_t value, uint8_t keep_mask) {
  L3 l3;
  if (!locate_ipv4(m, &l3)) return false;
  uint8_t* word = l3.ip + (offset & ~1u);
  const uint16_t old16 = load16(word);
  l3.ip[offset] = static_cast<uint8_t>((l3.ip[offset] & keep_mask) | (value & ~keep_mask));
  const uint16_t new16 = load16(word);
  update_csum_at(l3.ip + 10, [&](uint16_t c) { return csum_replace2(c, old16, new16); });
  return true;
}

bool set_ipv6_addr(rte_mbuf* m, const uint8_t* new_addr, bool dst) {
  L3 l3;
  if (!locate_ipv6(m, &l3)) return false;
  uint8_t* field = l3.ip + (dst ? 24 : 8);
  uint8_t old_addr[16];
  std::memcpy(old_addr, field, 16);
  std::memcpy(field, new_addr, 16);
  if (dst && l3.v6_final_dst_elsewhere) return true;
  if (uint8_t* c = l4_csum_field(l3)) {
    auto upd = [&](uint16_t v) { return csum_replace16(v, old_addr, new_addr); };
    if (l3.proto == kProtoUdp)
      update_udp_csum_at(c, upd);
    else
      update_csum_at(c, upd);
  }
  return true;
}

bool set_tp_port(rte_mbuf* m, uint16_t new_port, unsigned offset) {
  L3 l3;
  if (!locate_ipv4(m, &l3) && !locate_ipv6(m, &l3)) return false;
  if (!l3.l4) return false;
  const uint32_t need = l3.proto == kProtoTcp ? 20 : l3.proto == kProtoUdp ? 8
                        : l3.proto == kProtoSctp ? 12 : 0;
  if (need == 0 || l3.l4_len < need) return false;
  uint8_t* field = l3.l4 + offset;
  const uint16_t old_port = load16(field);
  if (old_port == new_port) return true;
  if (l3.proto == kProtoSctp) {
    // The CRC covers the whole SCTP packet: it must be all here.
    if (l3.l4_len < l3.l4_total) return false;
    store16(field, new_port);
    sctp_recompute(l3.l4, l3.l4_total);
    return true;
  }
  store16(field, new_port);
  auto upd = [&](uint16_t c) { return csum_replace2(c, old_port, new_port); };
  if (l3.proto == kProtoTcp)
    update_csum_at(l3.l4 + 16, upd);
  else
    update_udp_csum_at(l3.l4 + 6, upd);
  return true;
}

// Writes the bits of the IPv6 traffic class not in keep_mask (the class
// spans the low nibble of byte 0 and the high nibble of byte 1). No
// checksum covers it.
void set_ipv6_tclass(uint8_t* ip, uint8_t value, uint8_t keep_mask) {
  const uint8_t tc = static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
  const uint8_t ntc = static_cast<uint8_t>((tc & keep_mask) | (value & ~keep_mask));
  ip[0] = static_cast<uint8_t>((ip[0] & 0xf0) | ntc >> 4);
  ip[1] = static_cast<uint8_t>((ip[1] & 0x0f) | (ntc & 0x0f) << 4);
}

// The innermost ethertype (after at most two VLAN tags).
bool set_eth_type(rte_mbuf* m, uint16_t eth_type) {
  L2 l2;
  if (!locate_l2(m, &l2)) return false;
  store16(l2.data + l2.l3 - 2, be16(eth_type));
  return true;
}

// IPv4's protocol (header checksum fixed) or the IPv6 fixed header's next
// header (no checksum covers it).
bool set_ip_proto(rte_mbuf* m, uint8_t proto) {
  L3 l3;
  if (locate_ipv4(m, &l3)) return set_ipv4_byte(m, 9, proto, 0x00);
  if (!locate_ipv6(m, &l3)) return false;
  l3.ip[6] = proto;
  return true;
}

// ECN on either IP version: the IPv4 TOS (header checksum fixed) or the
// IPv6 traffic class.
bool set_ip_ecn(rte_mbuf* m, uint8_t ecn) {
  L3 l3;
  if (locate_ipv4(m, &l3)) return set_ipv4_byte(m, 1, ecn & 0x03, 0xfc);
  if (!locate_ipv6(m, &l3)) return false;
  set_ipv6_tclass(l3.ip, ecn & 0x03, 0xfc);
  return true;
}

bool set_ipv6_fixed(rte_mbuf* m, const DpAction& a) {
  L3 l3;
  if (!locate_ipv6(m, &l3)) return false;
  switch (a.type) {
    case ActType::kSetIpv6Dscp: set_ipv6_tclass(l3.ip, static_cast<uint8_t>(a.arg16), 0x03); break;
    case ActType::kSetIpv6Flabel:
      store32(l3.ip, (load32(l3.ip) & htonl(0xfff00000u)) | htonl(a.arg32 & 0xfffff));
      break;
    default: l3.ip[7] = static_cast<uint8_t>(a.arg16); break;  // kSetIpv6Hlim
  }
  return true;
}

// ICMP type (offset 0) or code (1) of ICMPv4 over IPv4 (v6 false) or
// ICMPv6 over IPv6. The checksum is fixed over the word holding the byte;
// ICMPv6's pseudo-header does not contain it.
bool set_icmp_byte(rte_mbuf* m, bool v6, unsigned offset, uint8_t value) {
  L3 l3;
  if (!(v6 ? locate_ipv6(m, &l3) : locate_ipv4(m, &l3))) return false;
  if (!l3.l4 || l3.proto != (v6 ? kProtoIcmpv6 : kProtoIcmp) || l3.l4_len < kIcmpHeaderLen)
    return false;
  const uint16_t old16 = load16(l3.l4);
  l3.l4[offset] = value;
  const uint16_t new16 = load16(l3.l4);
  update_csum_at(l3.l4 + 2, [&](uint16_t c) { return csum_replace2(c, old16, new16); });
  // RFC 1624's equation yields 0x0000 both for a sum of 0xffff (right) and
  // for all-zero data (wrong: 0xffff). Only ICMPv4 has no pseudo-header to
  // make its data non-zero: settle a 0 by summing the message (rare).
  if (!v6 && load16(l3.l4 + 2) == 0 && l3.l4_len == l3.l4_total) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < l3.l4_len; i += 2) sum += load16(l3.l4 + i);
    if (l3.l4_len & 1) sum += load16(std::array<uint8_t, 2>{l3.l4[l3.l4_len - 1], 0}.data());
    store16(l3.l4 + 2, csum_finish(sum));
  }
  return true;
}

// The Ethernet/IPv4 ARP header, validated as the key parser does; null
// when absent. ARP has no checksum.
uint8_t* locate_arp(rte_mbuf* m) {
  L2 l2;
  if (!locate_l2(m, &l2) || l2.type != be16(kEthTypeArp) || l2.size - l2.l3 < kArpLen) return nullptr;
  uint8_t* p = l2.data + l2.l3;
  if (load16(p) != be16(1) || load16(p + 2) != be16(kEthTypeIpv4) || p[4] != 6 || p[5] != 4)
    return nullptr;
  return p;
}

bool set_arp(rte_mbuf* m, const DpAction& a) {
  uint8_t* p = locate_arp(m);
  if (!p) return false;
  switch (a.type) {
    case ActType::kSetArpOp: store16(p + 6, be16(a.arg16)); break;
    case ActType::kSetArpSha: std::memcpy(p + 8, a.data, 6); break;
    case ActType::kSetArpSpa: store32(p + 14, a.arg32); break;
    case ActType::kSetArpTha: std::memcpy(p + 18, a.data, 6); break;
    default: store32(p + 24, a.arg32); break;  // kSetArpTpa
  }
  return true;
}

// A Neighbor Solicitation / Advertisement (code 0) in the first segment:
// its ICMPv6 header, or null.
uint8_t* locate_nd(rte_mbuf* m, uint32_t* len) {
  L3 l3;
  if (!locate_ipv6(m, &l3) || !l3.l4 || l3.proto != kProtoIcmpv6 || l3.l4_len < kNdFixedLen)
    return nullptr;
  if (l3.l4[1] != 0 || (l3.l4[0] != kNdSolicit && l3.l4[0] != kNdAdvert)) return nullptr;
  *len = l3.l4_len;
  return l3.l4;
}

// The link-layer address of ND option `type` (1 = source, 2 = target), null
// when the option is absent or the options are malformed or repeat it (the
// key parser then has no ND fields either).
uint8_t* nd_option_lladdr(uint8_t* icmp, uint32_t len, uint8_t type) {
  uint8_t* found = nullptr;
  uint32_t off = kNdFixedLen;
  while (len - off >= 8) {
    const uint32_t opt_len = icmp[off + 1] * 8u;
    if (opt_len == 0 || opt_len > len - off) return nullptr;
    if (opt_len == 8 && icmp[off] == type) {
      if (found) return nullptr;
      found = icmp + off + 2;
    }
    off += opt_len;
  }
  return found;
}

// Rewrites n bytes at field inside the ICMPv6 message at icmp (at an even
// offset of it) and fixes its checksum.
void icmpv6_rewrite(uint8_t* icmp, uint8_t* field, const uint8_t* value, unsigned n) {
  uint8_t old[16];
  std::memcpy(old, field, n);
  std::memcpy(field, value, n);
  update_csum_at(icmp + 2, [&](uint16_t c) { return csum_replace_bytes(c, old, value, n); });
}

bool set_nd(rte_mbuf* m, const DpAction& a) {
  uint32_t len = 0;
  uint8_t* icmp = locate_nd(m, &len);
  if (!icmp) return false;
  if (a.type == ActType::kSetNdTarget) {
    icmpv6_rewrite(icmp, icmp + 8, a.data, 16);
    return true;
  }
  // SLL is the solicitation's option, TLL the advertisement's (as OVS).
  const bool sll = a.type == ActType::kSetNdSll;
  if (icmp[0] != (sll ? kNdSolicit : kNdAdvert)) return false;
  uint8_t* mac = nd_option_lladdr(icmp, len, sll ? 1 : 2);
  if (!mac) return false;
  icmpv6_rewrite(icmp, mac, a.data, 6);
  return true;
}

// Outer tag's TCI position, or null when untagged.
uint8_t* outer_tci(rte_mbuf* m) {
  if (rte_pktmbuf_data_len(m) < 18) return nullptr;
  uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
  const uint16_t tpid = load16(p + 12);
  if (tpid != be16(kEthTypeVlan) && tpid != be16(kEthTypeQinQ)) return nullptr;
  return p + 14;
}

}  // namespace

bool action_push_vlan(rte_mbuf* m, uint16_t tpid, uint16_t tci) {
  if (rte_pktmbuf_data_len(m) < 14) return false;
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 4));
  if (!p) return false;  // no headroom
  std::memmove(p, p + 4, 12);
  store16(p + 12, be16(tpid));
  store16(p + 14, be16(tci));
  return true;
}

bool action_pop_vlan(rte_mbuf* m) {
  uint8_t* tci = outer_tci(m);
  if (!tci) return false;
  uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
  std::memmove(p + 4, p, 12);
  rte_pktmbuf_adj(m, 4);
  return true;
}

bool action_dec_ttl(rte_mbuf* m) {
  L3 l3;
  if (locate_ipv4(m, &l3)) {
    const uint8_t ttl = l3.ip[8];
    if (ttl <= 1) return false;
    const uint16_t old16 = load16(l3.ip + 8);
    l3.ip[8] = static_cast<uint8_t>(ttl - 1);
    const uint16_t new16 = load16(l3.ip + 8);
    update_csum_at(l3.ip + 10, [&](uint16_t c) { return csum_replace2(c, old16, new16); });
    return true;
  }
  if (locate_ipv6(m, &l3)) {
    if (l3.ip[7] <= 1) return false;
    l3.ip[7]--;
    return true;
  }
  return true;  // not IP: nothing to decrement, not dropped (as OVS)
}

namespace {

constexpr uint32_t kLseBos = 0x100;

// The top label stack entry of an MPLS frame, or null (not MPLS, truncated).
uint8_t* locate_mpls(rte_mbuf* m, L2* l2) {
  if (!locate_l2(m, l2)) return nullptr;
  if (l2->type != be16(kEthTypeMpls) && l2->type != be16(kEthTypeMplsMcast)) return nullptr;
  return l2->size >= l2->l3 + 4 ? l2->data + l2->l3 : nullptr;
}

bool push_mpls(rte_mbuf* m, uint16_t ethertype, uint32_t lse) {
  L2 l2;
  if (!locate_l2(m, &l2)) return false;
  const uint32_t hdr = l2.l3 - 2;  // addresses and tags: they move, the ethertype is rewritten
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 4));
  if (!p) return false;  // no headroom
  std::memmove(p, p + 4, hdr);
  store16(p + hdr, be16(ethertype));
  store32(p + hdr + 2, __builtin_bswap32(lse));
  return true;
}

bool pop_mpls(rte_mbuf* m, uint16_t ethertype) {
  L2 l2;
  if (!locate_mpls(m, &l2)) return false;
  const uint32_t hdr = l2.l3 - 2;
  std::memmove(l2.data + 4, l2.data, hdr);
  rte_pktmbuf_adj(m, 4);
  store16(l2.data + 4 + hdr, be16(ethertype));
  return true;
}

// The IP header right after the bottom of the stack at `lse` (IPv4 or IPv6
// by its version nibble), or null.
uint8_t* ip_after_bos(const L2& l2, uint8_t* lse, uint32_t min_len) {
  uint8_t* ip = lse + 4;
  if (ip + min_len > l2.data + l2.size) return nullptr;
  const unsigned v = ip[0] >> 4;
  if (v == 4 && ip + 20 <= l2.data + l2.size) return ip;
  if (v == 6 && ip + 40 <= l2.data + l2.size) return ip;
  return nullptr;
}

// copy_ttl_out (out = true) / copy_ttl_in between the top LSE and the next
// header: the second LSE, or the IP header under the bottom of the stack.
bool copy_ttl(rte_mbuf* m, bool out) {
  L2 l2;
  uint8_t* lse = locate_mpls(m, &l2);
  if (!lse) return false;
  const uint32_t top = __builtin_bswap32(load32(lse));
  if (!(top & kLseBos)) {
    if (lse + 8 > l2.data + l2.size) return false;
    uint8_t* next_ttl = lse + 7;
    if (out) lse[3] = *next_ttl;
    else *next_ttl = lse[3];
    return true;
  }
  uint8_t* ip = ip_after_bos(l2, lse, 1);
  if (!ip) return false;
  uint8_t* ttl = (ip[0] >> 4) == 4 ? ip + 8 : ip + 7;
  if (out) {
    lse[3] = *ttl;
  } else if ((ip[0] >> 4) == 4) {
    const uint16_t old16 = load16(ip + 8);
    ip[8] = lse[3];
    const uint16_t new16 = load16(ip + 8);
    update_csum_at(ip + 10, [&](uint16_t c) { return csum_replace2(c, old16, new16); });
  } else {
    *ttl = lse[3];
  }
  return true;
}

}  // namespace

bool action_mpls(rte_mbuf* m, const DpAction& a) {
  switch (a.type) {
    case ActType::kPushMpls: return push_mpls(m, a.arg16, a.arg32);
    case ActType::kPopMpls: return pop_mpls(m, a.arg16);
    case ActType::kSetMplsLse: {
      L2 l2;
      uint8_t* lse = locate_mpls(m, &l2);
      if (!lse) return false;
      uint32_t mask;
      std::memcpy(&mask, a.data, 4);
      const uint32_t v = (__builtin_bswap32(load32(lse)) & ~mask) | (a.arg32 & mask);
      store32(lse, __builtin_bswap32(v));
      return true;
    }
    case ActType::kCopyTtlOut: return copy_ttl(m, true);
    case ActType::kCopyTtlIn: return copy_ttl(m, false);
    default: return false;
  }
}

namespace {

// The I-TAG of a PBB frame (after the B-TAGs), or null (not PBB, or the
// I-TAG and the customer Ethernet header are not all in the first segment).
uint8_t* locate_itag(rte_mbuf* m, L2* l2) {
  if (!locate_l2(m, l2) || l2->type != be16(kEthTypePbb)) return nullptr;
  return l2->size >= l2->l3 + kPbbItagLen + 14 ? l2->data + l2->l3 : nullptr;
}

bool push_pbb(rte_mbuf* m, const DpAction& a) {
  if (rte_pktmbuf_data_len(m) < 14) return false;
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kPbbPushLen));
  if (!p) return false;  // no headroom
  // The frame now starts at p + 18: its addresses become the C-DA/C-SA in
  // place; the B-DA/B-SA in front are the action's, or copies of them.
  std::memcpy(p, p + kPbbPushLen, 12);
  if (a.arg16 & kPbbBda) std::memcpy(p, a.data, 6);
  if (a.arg16 & kPbbBsa) std::memcpy(p + 6, a.data + 6, 6);
  store16(p + 12, be16(kEthTypePbb));
  store32(p + 14, __builtin_bswap32(a.arg32));
  return true;
}

}  // namespace

bool action_pbb(rte_mbuf* m, const DpAction& a) {
  L2 l2;
  switch (a.type) {
    case ActType::kPushPbb: return push_pbb(m, a);
    case ActType::kPopPbb: {
      if (!locate_itag(m, &l2)) return false;
      rte_pktmbuf_adj(m, static_cast<uint16_t>(l2.l3 + kPbbItagLen));
      return true;
    }
    case ActType::kSetPbbIsid: {
      uint8_t* itag = locate_itag(m, &l2);
      if (!itag) return false;
      itag[1] = static_cast<uint8_t>(a.arg32 >> 16);
      itag[2] = static_cast<uint8_t>(a.arg32 >> 8);
      itag[3] = static_cast<uint8_t>(a.arg32);
      return true;
    }
    default: return false;
  }
}

bool action_set_field(rte_mbuf* m, const DpAction& a) {
  switch (a.type) {
    case ActType::kSetEthSrc: return set_eth(m, a, 6);
    case ActType::kSetEthDst: return set_eth(m, a, 0);
    case ActType::kSetIpv4Src: return set_ipv4_addr(m, a.arg32, 12);
    case ActType::kSetIpv4Dst: return set_ipv4_addr(m, a.arg32, 16);
    case ActType::kSetIpv4Tos:  // DSCP bits only; ECN kept
      return set_ipv4_byte(m, 1, static_cast<uint8_t>(a.arg16), 0x03);
    case ActType::kSetIpv4Ttl: return set_ipv4_byte(m, 8, static_cast<uint8_t>(a.arg16), 0x00);
    case ActType::kDecTtl: return action_dec_ttl(m);
    case ActType::kSetIpv6Src: return set_ipv6_addr(m, a.data, false);
    case ActType::kSetIpv6Dst: return set_ipv6_addr(m, a.data, true);
    case ActType::kSetTpSrc: return set_tp_port(m, a.arg16, 0);
    case ActType::kSetTpDst: return set_tp_port(m, a.arg16, 2);
    case ActType::kPushVlan: return action_push_vlan(m, a.arg16, static_cast<uint16_t>(a.arg32));
    case ActType::kPopVlan: return action_pop_vlan(m);
    case ActType::kSetVlanVid: {
      const uint16_t vid = a.arg16 & 0x0fff;
      if (uint8_t* tci = outer_tci(m)) {
        store16(tci, be16(static_cast<uint16_t>((be16(load16(tci)) & 0xf000) | vid)));
        return true;
      }
      return action_push_vlan(m, kEthTypeVlan, vid);
    }
    case ActType::kSetVlanPcp: {  // no tag, no-op (OpenFlow 1.3 set-field semantics)
      uint8_t* tci = outer_tci(m);
      if (!tci) return false;
      store16(tci, be16(static_cast<uint16_t>((be16(load16(tci)) & 0x1fff) | (a.arg16 & 7) << 13)));
      return true;
    }
    case ActType::kSetIpEcn: return set_ip_ecn(m, static_cast<uint8_t>(a.arg16));
    case ActType::kSetIpv6Dscp:
    case ActType::kSetIpv6Flabel:
    case ActType::kSetIpv6Hlim: return set_ipv6_fixed(m, a);
    case ActType::kSetIcmpType:
    case ActType::kSetIcmpCode:
      return set_icmp_byte(m, a.arg32 == 6, a.type == ActType::kSetIcmpCode,
                           static_cast<uint8_t>(a.arg16));
    case ActType::kSetArpOp:
    case ActType::kSetArpSpa:
    case ActType::kSetArpTpa:
    case ActType::kSetArpSha:
    case ActType::kSetArpTha: return set_arp(m, a);
    case ActType::kSetNdTarget:
    case ActType::kSetNdSll:
    case ActType::kSetNdTll: return set_nd(m, a);
    case ActType::kSetEthType: return set_eth_type(m, a.arg16);
    case ActType::kSetIpProto: return set_ip_proto(m, static_cast<uint8_t>(a.arg16));
    case ActType::kOutput:
    case ActType::kUserspace:
    case ActType::kMeter:
    case ActType::kSample:
    case ActType::kBondOutput:
    case ActType::kTnlPop:  // the PMD's own (tunnel_actions.h)
    case ActType::kTnlPush:
    case ActType::kPushMpls:
    case ActType::kPopMpls:
    case ActType::kSetMplsLse:
    case ActType::kCopyTtlOut:
    case ActType::kCopyTtlIn: return action_mpls(m, a);
    case ActType::kPushPbb:
    case ActType::kPopPbb:
    case ActType::kSetPbbIsid: return action_pbb(m, a);
    case ActType::kCt:
    case ActType::kRecirc:
      return false;
  }
  return false;
}

bool action_remark_dscp(rte_mbuf* m, uint8_t prec_level) {
  L3 l3;
  if (locate_ipv4(m, &l3)) {
    const uint8_t dscp = l3.ip[1] >> 2;
    const uint8_t want = meter_remark_dscp(dscp, prec_level);
    if (want != dscp) set_ipv4_byte(m, 1, static_cast<uint8_t>(want << 2), 0x03);
    return true;
  }
  if (locate_ipv6(m, &l3)) {  // traffic class: low nibble of byte 0, high nibble of byte 1
    const uint8_t tc = static_cast<uint8_t>((l3.ip[0] & 0x0f) << 4 | l3.ip[1] >> 4);
    set_ipv6_tclass(l3.ip, static_cast<uint8_t>(meter_remark_dscp(tc >> 2, prec_level) << 2), 0x03);
    return true;
  }
  return false;
}

// Byte-wise: DpAction has no implicit padding, and a kTnlPush's header
// slots are raw bytes in every field.
bool DpActions::operator==(const DpActions& o) const {
  return n == o.n && std::memcmp(acts, o.acts, n * sizeof(DpAction)) == 0;
}

namespace {
DpAction make(ActType t, uint16_t arg16 = 0, uint32_t arg32 = 0) {
  DpAction a{};
  a.type = t;
  a.arg16 = arg16;
  a.arg32 = arg32;
  return a;
}
DpAction make_data(ActType t, const uint8_t* p, size_t n) {
  DpAction a = make(t);
  std::memcpy(a.data, p, n);
  return a;
}
}  // namespace

DpAction act_output(uint32_t port) { return make(ActType::kOutput, 0, port); }
DpAction act_userspace(uint32_t cookie) { return make(ActType::kUserspace, 0, cookie); }
DpAction act_meter(uint32_t meter_id) { return make(ActType::kMeter, 0, meter_id); }
DpAction act_sample(uint16_t slot, uint32_t rate, const DpSampleCookie& cookie) {
  DpAction a = make(ActType::kSample, slot, rate);
  std::memcpy(a.data, &cookie, sizeof cookie);
  return a;
}
DpSampleCookie sample_cookie(const DpAction& a) {
  DpSampleCookie c;
  std::memcpy(&c, a.data, sizeof c);
  return c;
}
DpAction act_bond_output(uint32_t bond_id) { return make(ActType::kBondOutput, 0, bond_id); }
DpAction act_push_vlan(uint16_t tpid, uint16_t tci) { return make(ActType::kPushVlan, tpid, tci); }
DpAction act_pop_vlan() { return make(ActType::kPopVlan); }
DpAction act_set_eth_src(const uint8_t mac[6]) { return make_data(ActType::kSetEthSrc, mac, 6); }
DpAction act_set_eth_dst(const uint8_t mac[6]) { return make_data(ActType::kSetEthDst, mac, 6); }
DpAction act_set_ipv4_src(uint32_t addr_be) { return make(ActType::kSetIpv4Src, 0, addr_be); }
DpAction act_set_ipv4_dst(uint32_t addr_be) { return make(ActType::kSetIpv4Dst, 0, addr_be); }
DpAction act_set_ipv4_tos(uint8_t dscp) {
  return make(ActType::kSetIpv4Tos, static_cast<uint16_t>((dscp & 0x3f) << 2));
}
DpAction act_set_ipv4_ttl(uint8_t ttl) { return make(ActType::kSetIpv4Ttl, ttl); }
DpAction act_dec_ttl() { return make(ActType::kDecTtl); }
DpAction act_set_ipv6_src(const uint8_t addr[16]) { return make_data(ActType::kSetIpv6Src, addr, 16); }
DpAction act_set_ipv6_dst(const uint8_t addr[16]) { return make_data(ActType::kSetIpv6Dst, addr, 16); }
DpAction act_set_tp_src(uint16_t port_be) { return make(ActType::kSetTpSrc, port_be); }
DpAction act_set_tp_dst(uint16_t port_be) { return make(ActType::kSetTpDst, port_be); }
DpAction act_set_vlan_vid(uint16_t vid) { return make(ActType::kSetVlanVid, vid & 0x0fff); }
DpAction act_set_vlan_pcp(uint8_t pcp) { return make(ActType::kSetVlanPcp, pcp & 7); }
DpAction act_set_ip_ecn(uint8_t ecn) { return make(ActType::kSetIpEcn, ecn & 3); }
DpAction act_set_ipv6_dscp(uint8_t dscp) {
  return make(ActType::kSetIpv6Dscp, static_cast<uint16_t>((dscp & 0x3f) << 2));
}
DpAction act_set_ipv6_flabel(uint32_t label) { return make(ActType::kSetIpv6Flabel, 0, label & 0xfffff); }
DpAction act_set_ipv6_hlim(uint8_t hlim) { return make(ActType::kSetIpv6Hlim, hlim); }
DpAction act_set_icmp_type(bool v6, uint8_t type) { return make(ActType::kSetIcmpType, type, v6 ? 6 : 4); }
DpAction act_set_icmp_code(bool v6, uint8_t code) { return make(ActType::kSetIcmpCode, code, v6 ? 6 : 4); }
DpAction act_set_arp_op(uint16_t op) { return make(ActType::kSetArpOp, op); }
DpAction act_set_arp_spa(uint32_t addr_be) { return make(ActType::kSetArpSpa, 0, addr_be); }
DpAction act_set_arp_tpa(uint32_t addr_be) { return make(ActType::kSetArpTpa, 0, addr_be); }
DpAction act_set_arp_sha(const uint8_t mac[6]) { return make_data(ActType::kSetArpSha, mac, 6); }
DpAction act_set_arp_tha(const uint8_t mac[6]) { return make_data(ActType::kSetArpTha, mac, 6); }
DpAction act_set_nd_target(const uint8_t addr[16]) { return make_data(ActType::kSetNdTarget, addr, 16); }
DpAction act_set_nd_sll(const uint8_t mac[6]) { return make_data(ActType::kSetNdSll, mac, 6); }
DpAction act_set_nd_tll(const uint8_t mac[6]) { return make_data(ActType::kSetNdTll, mac, 6); }
DpAction act_set_eth_type(uint16_t eth_type) { return make(ActType::kSetEthType, eth_type); }
DpAction act_set_ip_proto(uint8_t proto) { return make(ActType::kSetIpProto, proto); }
DpAction act_push_mpls(uint16_t ethertype, uint32_t lse) { return make(ActType::kPushMpls, ethertype, lse); }
DpAction act_pop_mpls(uint16_t ethertype) { return make(ActType::kPopMpls, ethertype); }
DpAction act_set_mpls_lse(uint32_t value, uint32_t mask) {
  DpAction a = make(ActType::kSetMplsLse, 0, value & mask);
  std::memcpy(a.data, &mask, 4);
  return a;
}
DpAction act_copy_ttl_out() { return make(ActType::kCopyTtlOut); }
DpAction act_copy_ttl_in() { return make(ActType::kCopyTtlIn); }
DpAction act_recirc(uint32_t recirc_id) { return make(ActType::kRecirc, 0, recirc_id); }
DpAction act_push_pbb(uint32_t itag, const uint8_t* bda, const uint8_t* bsa) {
  DpAction a = make(ActType::kPushPbb, 0, itag);
  if (bda) std::memcpy(a.data, bda, 6);
  if (bsa) std::memcpy(a.data + 6, bsa, 6);
  a.arg16 = (bda ? kPbbBda : 0) | (bsa ? kPbbBsa : 0);
  return a;
}
DpAction act_pop_pbb() { return make(ActType::kPopPbb); }
DpAction act_set_pbb_isid(uint32_t isid) { return make(ActType::kSetPbbIsid, 0, isid & 0xffffff); }
DpAction act_tnl_pop(TunnelType type, uint32_t tunnel_port) {
  return make(ActType::kTnlPop, static_cast<uint16_t>(type), tunnel_port);
}

bool add_tnl_push(DpActions* actions, const TnlPushInfo& info, const uint8_t* header,
                  uint16_t header_len, uint32_t out_port) {
  DpAction push = make(ActType::kTnlPush, header_len, out_port);
  std::memcpy(push.data, &info, sizeof info);
  unsigned slots = action_slots(push);
  if (header_len > kTnlHeaderMax || actions->n + slots > kMaxDpActions) return false;
  actions->acts[actions->n] = push;
  std::memset(&actions->acts[actions->n + 1], 0, (slots - 1) * sizeof(DpAction));
  std::memcpy(&actions->acts[actions->n + 1], header, header_len);
  actions->n = static_cast<uint8_t>(actions->n + slots);
  return true;
}

namespace {

// tnl_push(vxlan,header=50,ipv4,udp_src=32768-61000,mtu=1500,out=2)
std::string format_tnl_push(const DpAction& a) {
  TnlPushInfo info;
  std::memcpy(&info, a.data, sizeof info);
  std::string s = "tnl_push(" + std::string(tunnel_type_str(info.type)) + ",header=" + std::to_string(a.arg16) +
                  (info.flags & kTnlOuterIpv6 ? ",ipv6" : ",ipv4");
  if (info.flags & (kTnlUdpCsum | kTnlGreCsum)) s += ",csum";
  if (info.type != TunnelType::kGre)
    s += ",udp_src=" + std::to_string(info.udp_src_min) + "-" + std::to_string(info.udp_src_max);
  return s + ",mtu=" + std::to_string(info.mtu) + ",out=" + std::to_string(a.arg32) + ")";
}

// The OpenFlow 1.3 set-fields added after the first set (kSetIpEcn ..
// kSetNdTll); "" for any other type.
std::string hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

std::string format_set_field_ext(const DpAction& a) {
  const std::string n16 = std::to_string(a.arg16);
  const std::string icmp = a.arg32 == 6 ? "icmpv6" : "icmpv4";
  switch (a.type) {
    case ActType::kSetIpEcn: return "set_ip_ecn(" + n16 + ")";
    case ActType::kSetIpv6Dscp: return "set_ipv6_dscp(dscp=" + std::to_string(a.arg16 >> 2) + ")";
    case ActType::kSetIpv6Flabel: return "set_ipv6_flabel(" + std::to_string(a.arg32) + ")";
    case ActType::kSetIpv6Hlim: return "set_ipv6_hlim(" + n16 + ")";
    case ActType::kSetIcmpType: return "set_" + icmp + "_type(" + n16 + ")";
    case ActType::kSetIcmpCode: return "set_" + icmp + "_code(" + n16 + ")";
    case ActType::kSetArpOp: return "set_arp_op(" + n16 + ")";
    case ActType::kSetArpSpa: return "set_arp_spa(" + ip4_str(a.arg32) + ")";
    case ActType::kSetArpTpa: return "set_arp_tpa(" + ip4_str(a.arg32) + ")";
    case ActType::kSetArpSha: return "set_arp_sha(" + mac_str(a.data) + ")";
    case ActType::kSetArpTha: return "set_arp_tha(" + mac_str(a.data) + ")";
    case ActType::kSetNdTarget: return "set_nd_target(" + ip6_str(a.data) + ")";
    case ActType::kSetNdSll: return "set_nd_sll(" + mac_str(a.data) + ")";
    case ActType::kSetNdTll: return "set_nd_tll(" + mac_str(a.data) + ")";
    case ActType::kSetEthType: return "set_eth_type(" + n16 + ")";
    case ActType::kSetIpProto: return "set_ip_proto(" + n16 + ")";
    case ActType::kPushMpls: return "push_mpls(eth_type=" + hex(a.arg16) + ",lse=" + hex(a.arg32) + ")";
    case ActType::kPopMpls: return "pop_mpls(eth_type=" + hex(a.arg16) + ")";
    case ActType::kSetMplsLse: {
      uint32_t mask;
      std::memcpy(&mask, a.data, 4);
      return "set_mpls(lse=" + hex(a.arg32) + "/" + hex(mask) + ")";
    }
    case ActType::kCopyTtlOut: return "copy_ttl_out";
    case ActType::kCopyTtlIn: return "copy_ttl_in";
    case ActType::kRecirc: return "recirc(" + hex(a.arg32) + ")";
    case ActType::kPushPbb:
      return "push_pbb(itag=" + hex(a.arg32) + (a.arg16 & kPbbBda ? ",b_da=" + mac_str(a.data) : "") +
             (a.arg16 & kPbbBsa ? ",b_sa=" + mac_str(a.data + 6) : "") + ")";
    case ActType::kPopPbb: return "pop_pbb";
    case ActType::kSetPbbIsid: return "set_pbb_isid(" + hex(a.arg32) + ")";
    default: return "";
  }
}

}  // namespace

// The NAT slots hold the NatRange as it is in memory (plain bytes, no
// padding), so the two directions cannot disagree on a layout.
static_assert(std::is_trivially_copyable_v<base::NatRange> && sizeof(base::NatRange) == 38 &&
              sizeof(base::NatRange) <= 2 * sizeof(DpAction));

bool add_ct_action(DpActions* acts, const DpCtArgs& ct) {
  const bool label = ct.flags & kCtFlagLabel, nat = ct.flags & kCtFlagNat;
  const unsigned slots = 1 + (label ? 2 : 0) + (nat ? 2 : 0);
  if (acts->n + slots > kMaxDpActions) return false;
  DpAction a{};
  a.type = ActType::kCt;
  a.arg16 = ct.zone;
  a.arg32 = ct.recirc_id;
  a.data[0] = ct.flags;
  std::memcpy(a.data + 4, &ct.mark, 4);
  std::memcpy(a.data + 8, &ct.mark_mask, 4);
  acts->acts[acts->n++] = a;
  uint8_t raw[2 * sizeof(DpAction)] = {};
  if (label) {
    std::memcpy(raw, ct.label, 16);
    std::memcpy(raw + 16, ct.label_mask, 16);
    std::memcpy(&acts->acts[acts->n], raw, sizeof raw);
    acts->n += 2;
  }
  if (nat) {
    std::memset(raw, 0, sizeof raw);
    std::memcpy(raw, &ct.nat, sizeof ct.nat);
    std::memcpy(&acts->acts[acts->n], raw, sizeof raw);
    acts->n += 2;
  }
  return true;
}

DpCtArgs ct_action_args(const DpAction* a) {
  DpCtArgs ct;
  ct.zone = a->arg16;
  ct.recirc_id = a->arg32;
  ct.flags = a->data[0];
  std::memcpy(&ct.mark, a->data + 4, 4);
  std::memcpy(&ct.mark_mask, a->data + 8, 4);
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(a + 1);
  if (ct.flags & kCtFlagLabel) {
    std::memcpy(ct.label, raw, 16);
    std::memcpy(ct.label_mask, raw + 16, 16);
    raw += 2 * sizeof(DpAction);
  }
  if (ct.flags & kCtFlagNat) std::memcpy(&ct.nat, raw, sizeof ct.nat);
  return ct;
}

namespace {

// "ct(commit,force,zone=5,mark=0x1/0xff,label=0x../0x..,nat(src=..),natted=dnat,recirc=0x..)".
std::string format_ct(const DpAction* a) {
  const DpCtArgs ct = ct_action_args(a);
  std::string s = "ct(";
  char buf[80];
  if (ct.flags & kCtFlagCommit) s += "commit,";
  if (ct.flags & kCtFlagForce) s += "force,";
  s += "zone=" + std::to_string(ct.zone);
  if (ct.flags & kCtFlagMark) {
    std::snprintf(buf, sizeof buf, ",mark=0x%x/0x%x", ct.mark, ct.mark_mask);
    s += buf;
  }
  if (ct.flags & kCtFlagLabel) {
    s += ",label=0x";
    for (uint8_t b : ct.label) s += (std::snprintf(buf, sizeof buf, "%02x", b), buf);
    s += "/0x";
    for (uint8_t b : ct.label_mask) s += (std::snprintf(buf, sizeof buf, "%02x", b), buf);
  }
  if (ct.flags & kCtFlagNat) s += "," + base::nat_format(ct.nat);
  if (ct.flags & kCtFlagNattedSrc) s += ",natted=snat";
  if (ct.flags & kCtFlagNattedDst) s += (ct.flags & kCtFlagNattedSrc) ? "+dnat" : ",natted=dnat";
  if (ct.recirc_id) {
    std::snprintf(buf, sizeof buf, ",recirc=0x%x", ct.recirc_id);
    s += buf;
  }
  return s + ")";
}

// sample(slot=S,rate=N,sflow,out=P) / out=none / out=multiple:N; ipfix (a
// bridge's; ipfix_egress at an output) and flow (a sample() action's) with
// obs ids.
std::string format_sample(const DpAction& a) {
  const DpSampleCookie c = sample_cookie(a);
  std::string out = "sample(slot=" + std::to_string(a.arg16) + ",rate=" + std::to_string(a.arg32);
  out += c.kind == SampleKind::kSflow         ? ",sflow"
         : c.kind == SampleKind::kIpfixBridge ? (c.flags & kSampleEgress ? ",ipfix_egress" : ",ipfix")
         : c.kind == SampleKind::kIpfixFlow   ? ",flow"
                                              : ",?";
  if (c.out == kSampleOutNone) out += ",out=none";
  else if (c.out & kSampleOutMultiple) out += ",out=multiple:" + std::to_string(c.out & ~kSampleOutMultiple);
  else out += ",out=" + std::to_string(c.out);
  if (c.kind == SampleKind::kSflow && c.arg) out += ",out_tci=" + std::to_string(c.arg);
  if (c.obs_domain || c.obs_point)
    out += ",obs_domain=" + std::to_string(c.obs_domain) + ",obs_point=" + std::to_string(c.obs_point);
  return out + ")";
}
}  // namespace

std::string format_actions(const DpActions& actions) {
  if (actions.n == 0) return "drop";
  std::string out;
  char buf[96];
  for (unsigned i = 0; i < actions.n; i += action_slots(actions.acts[i])) {
    const DpAction& a = actions.acts[i];
    if (i) out += ',';
    switch (a.type) {
      case ActType::kOutput: out += "output:" + std::to_string(a.arg32); break;
      case ActType::kUserspace: out += "userspace(cookie=" + std::to_string(a.arg32) + ")"; break;
      case ActType::kMeter: out += "meter(" + std::to_string(a.arg32) + ")"; break;
      case ActType::kSample: out += format_sample(a); break;
      case ActType::kBondOutput: out += "bond(" + std::to_string(a.arg32) + ")"; break;
      case ActType::kSetEthSrc: out += "set_eth_src(" + mac_str(a.data) + ")"; break;
      case ActType::kSetEthDst: out += "set_eth_dst(" + mac_str(a.data) + ")"; break;
      case ActType::kSetIpv4Src: out += "set_ipv4_src(" + ip4_str(a.arg32) + ")"; break;
      case ActType::kSetIpv4Dst: out += "set_ipv4_dst(" + ip4_str(a.arg32) + ")"; break;
      case ActType::kSetIpv4Tos:
        out += "set_ipv4_tos(dscp=" + std::to_string((a.arg16 & 0xff) >> 2) + ")";
        break;
      case ActType::kSetIpv4Ttl: out += "set_ipv4_ttl(" + std::to_string(a.arg16 & 0xff) + ")"; break;
      case ActType::kDecTtl: out += "dec_ttl"; break;
      case ActType::kSetIpv6Src: out += "set_ipv6_src(" + ip6_str(a.data) + ")"; break;
      case ActType::kSetIpv6Dst: out += "set_ipv6_dst(" + ip6_str(a.data) + ")"; break;
      case ActType::kSetTpSrc: out += "set_tp_src(" + std::to_string(be16(a.arg16)) + ")"; break;
      case ActType::kSetTpDst: out += "set_tp_dst(" + std::to_string(be16(a.arg16)) + ")"; break;
      case ActType::kPushVlan:
        std::snprintf(buf, sizeof buf, "push_vlan(tpid=0x%04x,tci=%u)", a.arg16, a.arg32 & 0xffff);
        out += buf;
        break;
      case ActType::kPopVlan: out += "pop_vlan"; break;
      case ActType::kSetVlanVid: out += "set_vlan_vid(" + std::to_string(a.arg16) + ")"; break;
      case ActType::kSetVlanPcp: out += "set_vlan_pcp(" + std::to_string(a.arg16) + ")"; break;
      case ActType::kTnlPop:
        out += "tnl_pop(" + std::string(tunnel_type_str(static_cast<TunnelType>(a.arg16))) + ",port=" +
               std::to_string(a.arg32) + ")";
        break;
      case ActType::kTnlPush: out += format_tnl_push(a); break;
      case ActType::kCt: out += format_ct(&a); break;
      default:
        if (std::string ext = format_set_field_ext(a); !ext.empty()) {
          out += ext;
          break;
        }
        std::snprintf(buf, sizeof buf, "unknown(type=%u)", static_cast<unsigned>(a.type));
        out += buf;
        break;
    }
  }
  return out;
}

}  // namespace dps::datapath
