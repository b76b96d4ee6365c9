#include "tunnel_actions.h"

#include <immintrin.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>

namespace dps::datapath {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoSctp = 132;
constexpr uint16_t kEthTypeTeb = 0x6558;  // transparent Ethernet bridging
constexpr uint16_t kGreCsum = 0x8000;
constexpr uint16_t kGreKey = 0x2000;
constexpr uint16_t kGreSeq = 0x1000;
constexpr uint32_t kEthLen = 14;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd24(const uint8_t* p) { return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]; }
inline uint32_t rd32(const uint8_t* p) { return uint32_t{rd16(p)} << 16 | rd16(p + 2); }
inline void wr16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

// The outer frame as received: its first segment and the IP header's place.
struct Outer {
  uint8_t* p;
  uint32_t size;   // bytes in the first segment
  uint32_t total;  // bytes in the packet
  uint32_t l3;
  uint16_t type;   // ethertype after at most two VLAN tags
  bool ip_csum_good;  // the NIC verified the IPv4 header checksum
  bool l4_csum_good;  // the NIC verified the UDP checksum
};

// Where the IP header says its payload is.
struct OuterIp {
  uint32_t l4;      // offset of the UDP / GRE header
  uint32_t l4_len;  // IP payload bytes
  uint8_t proto;
};

bool outer_l2(rte_mbuf* m, Outer* o) {
  o->p = rte_pktmbuf_mtod(m, uint8_t*);
  o->size = rte_pktmbuf_data_len(m);
  o->total = rte_pktmbuf_pkt_len(m);
  o->ip_csum_good = (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
  o->l4_csum_good = (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  uint32_t off = 12;
  for (int tags = 0;; tags++) {
    if (off + 2 > o->size) return false;
    const uint16_t t = rd16(o->p + off);
    if ((t == kEthTypeVlan || t == kEthTypeQinQ) && tags < 2) {
      off += 4;
      continue;
    }
    o->type = t;
    o->l3 = off + 2;
    return true;
  }
}

TnlPopError parse_ipv4(const Outer& o, TnlMd* md, OuterIp* ip) {
  const uint8_t* h = o.p + o.l3;
  if (o.l3 + 20 > o.size) return TnlPopError::kTruncated;
  if (h[0] >> 4 != 4) return TnlPopError::kBadIp;
  const uint32_t ihl = (h[0] & 0x0fu) * 4, tot = rd16(h + 2);
  if (ihl < 20 || o.l3 + ihl > o.size || tot < ihl || o.l3 + tot > o.total) return TnlPopError::kTruncated;
  const uint16_t frag = rd16(h + 6);
  if (frag & 0x3fff) return TnlPopError::kBadIp;  // a fragment: OVS does not reassemble either
  if (!o.ip_csum_good && rte_raw_cksum(h, ihl) != 0xffff) return TnlPopError::kBadChecksum;
  md->ipv4_src = load<uint32_t>(h + 12);
  md->ipv4_dst = load<uint32_t>(h + 16);
  md->tos = h[1];
  md->ttl = h[8];
  if (frag & 0x4000) md->flags |= kTunFlagDontFrag;
  *ip = {o.l3 + ihl, tot - ihl, h[9]};
  return TnlPopError::kNone;
}

// No extension headers: UDP or GRE right after the fixed header (OVS
// likewise).
TnlPopError parse_ipv6(const Outer& o, TnlMd* md, OuterIp* ip) {
  const uint8_t* h = o.p + o.l3;
  if (o.l3 + 40 > o.size) return TnlPopError::kTruncated;
  if (h[0] >> 4 != 6) return TnlPopError::kBadIp;
  const uint32_t plen = rd16(h + 4);
  if (o.l3 + 40 + plen > o.total) return TnlPopError::kTruncated;
  std::memcpy(md->ipv6_src, h + 8, 16);
  std::memcpy(md->ipv6_dst, h + 24, 16);
  md->tos = static_cast<uint8_t>((h[0] & 0x0f) << 4 | h[1] >> 4);
  md->ttl = h[7];
  *ip = {o.l3 + 40, plen, h[6]};
  return TnlPopError::kNone;
}

// The UDP checksum over the pseudo-header and the UDP packet is right.
bool udp_csum_ok(rte_mbuf* m, const Outer& o, const OuterIp& ip, uint32_t ulen) {
  uint16_t raw;
  if (rte_raw_cksum_mbuf(m, ip.l4, ulen, &raw)) return false;
  const void* h = o.p + o.l3;
  const uint32_t ph = o.type == kEthTypeIpv4 ? rte_ipv4_phdr_cksum(static_cast<const rte_ipv4_hdr*>(h), 0)
                                             : rte_ipv6_phdr_cksum(static_cast<const rte_ipv6_hdr*>(h), 0);
  return fold(ph + raw) == 0xffff;
}

// VXLAN (RFC 7348) or Geneve (RFC 8926) after the UDP header at u.
TnlPopError parse_udp_tunnel(TunnelType type, const uint8_t* u, uint32_t ulen, uint32_t room,
                             uint32_t* tnl_len, TnlMd* md) {
  const uint8_t* t = u + 8;
  if (ulen < 16 || room < 16) return TnlPopError::kTruncated;
  if (type == TunnelType::kVxlan) {
    if (rd32(t) != 0x08000000u || (t[7] != 0)) return TnlPopError::kBadTunnel;
    md->tun_id = __builtin_bswap64(rd24(t + 4));
    md->flags |= kTunFlagKey;
    *tnl_len = 8;
    return TnlPopError::kNone;
  }
  const uint32_t opts = (t[0] & 0x3fu) * 4;
  if ((t[0] >> 6) != 0 || rd16(t + 2) != kEthTypeTeb) return TnlPopError::kBadTunnel;
  if (16 + opts > ulen || 16 + opts > room) return TnlPopError::kTruncated;
  if (opts > kTunOptsMax) return TnlPopError::kTooManyOpts;
  md->tun_id = __builtin_bswap64(rd24(t + 4));
  md->flags |= kTunFlagKey | (t[1] & 0x80 ? kTunFlagOam : 0);
  md->opts = t + 8;
  md->opts_len = static_cast<uint8_t>(opts);
  *tnl_len = 8 + opts;
  return TnlPopError::kNone;
}

TnlPopError parse_udp(rte_mbuf* m, TunnelType type, const Outer& o, const OuterIp& ip,
                      uint32_t* hdr_len, uint32_t* inner_len, TnlMd* md) {
  if (ip.proto != kProtoUdp) return TnlPopError::kBadTunnel;
  if (ip.l4 + 8 > o.size) return TnlPopError::kTruncated;
  const uint8_t* u = o.p + ip.l4;
  const uint32_t ulen = rd16(u + 4);
  if (ulen < 8 || ulen > ip.l4_len) return TnlPopError::kTruncated;
  if (load<uint16_t>(u + 6) != 0 || o.type == kEthTypeIpv6) {  // IPv6: the checksum is mandatory
    if (!o.l4_csum_good && !udp_csum_ok(m, o, ip, ulen)) return TnlPopError::kBadChecksum;
    md->flags |= kTunFlagCsum;
  }
  md->tp_dst = load<uint16_t>(u + 2);
  uint32_t tnl_len = 0;
  TnlPopError e = parse_udp_tunnel(type, u, ulen, o.size - ip.l4, &tnl_len, md);
  if (e != TnlPopError::kNone) return e;
  *hdr_len = ip.l4 + 8 + tnl_len;
  *inner_len = ulen - 8 - tnl_len;
  return TnlPopError::kNone;
}

// GRE (RFC 2784 / 2890) carrying Ethernet: C, K and S are the only flags.
TnlPopError parse_gre(rte_mbuf* m, const Outer& o, const OuterIp& ip, uint32_t* hdr_len,
                      uint32_t* inner_len, TnlMd* md) {
  if (ip.proto != kIpProtoGre) return TnlPopError::kBadTunnel;
  if (ip.l4 + 4 > o.size || ip.l4_len < 4) return TnlPopError::kTruncated;
  const uint8_t* g = o.p + ip.l4;
  const uint16_t flags = rd16(g);
  if ((flags & ~(kGreCsum | kGreKey | kGreSeq)) || rd16(g + 2) != kEthTypeTeb) return TnlPopError::kBadTunnel;
  const uint32_t len = 4 + (flags & kGreCsum ? 4 : 0) + (flags & kGreKey ? 4 : 0) + (flags & kGreSeq ? 4 : 0);
  if (ip.l4 + len > o.size || len > ip.l4_len) return TnlPopError::kTruncated;
  if (flags & kGreCsum) {
    uint16_t raw;
    if (rte_raw_cksum_mbuf(m, ip.l4, ip.l4_len, &raw) || raw != 0xffff) return TnlPopError::kBadChecksum;
    md->flags |= kTunFlagCsum;
  }
  if (flags & kGreKey) {
    md->tun_id = __builtin_bswap64(rd32(g + 4 + (flags & kGreCsum ? 4 : 0)));
    md->flags |= kTunFlagKey;
  }
  *hdr_len = ip.l4 + len;
  *inner_len = ip.l4_len - len;
  return TnlPopError::kNone;
}

}  // namespace

const char* tnl_pop_error_name(TnlPopError e) {
  switch (e) {
    case TnlPopError::kNone: return "none";
    case TnlPopError::kTruncated: return "truncated";
    case TnlPopError::kBadIp: return "bad outer IP header";
    case TnlPopError::kBadChecksum: return "bad checksum";
    case TnlPopError::kBadTunnel: return "bad tunnel header";
    case TnlPopError::kTooManyOpts: return "too many Geneve options";
    case TnlPopError::kEcnNotEct: return "outer ECN CE over a Not-ECT inner packet";
  }
  return "?";
}

TnlPopError tnl_pop_parse(rte_mbuf* m, TunnelType type, uint32_t* hdr_len, TnlMd* md) {
  *md = TnlMd{};
  Outer o;
  if (!outer_l2(m, &o)) return TnlPopError::kTruncated;
  OuterIp ip;
  TnlPopError e = o.type == kEthTypeIpv4   ? parse_ipv4(o, md, &ip)
                  : o.type == kEthTypeIpv6 ? parse_ipv6(o, md, &ip)
                                           : TnlPopError::kBadIp;
  if (e != TnlPopError::kNone) return e;
  uint32_t inner_len = 0;
  e = type == TunnelType::kGre ? parse_gre(m, o, ip, hdr_len, &inner_len, md)
                               : parse_udp(m, type, o, ip, hdr_len, &inner_len, md);
  if (e != TnlPopError::kNone) return e;
  if (inner_len < kEthLen || *hdr_len + kEthLen > o.size) return TnlPopError::kTruncated;
  md->inner_len = inner_len;
  return TnlPopError::kNone;
}

void tnl_pop_strip(rte_mbuf* m, uint32_t hdr_len, uint32_t inner_len) {
  rte_pktmbuf_adj(m, static_cast<uint16_t>(hdr_len));
  const uint32_t len = rte_pktmbuf_pkt_len(m);
  if (len > inner_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(len - inner_len));
  // What the NIC said was of the outer packet.
  m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_RSS_HASH);
}

TnlPopError tnl_pop_ecn(rte_mbuf* m, uint8_t outer_tos) {
  if ((outer_tos & 3) != 3) return TnlPopError::kNone;
  Outer o;
  if (!outer_l2(m, &o)) return TnlPopError::kNone;  // not IP: nothing to mark
  uint8_t* ip = o.p + o.l3;
  if (o.type == kEthTypeIpv4 && o.l3 + 20 <= o.size && ip[0] >> 4 == 4) {
    if ((ip[1] & 3) == 0) return TnlPopError::kEcnNotEct;
    const uint16_t old_word = load<uint16_t>(ip);
    ip[1] |= 3;
    const uint16_t new_word = load<uint16_t>(ip);
    // RFC 1624 eqn. 3 on the 16-bit word that holds the TOS byte.
    const uint32_t sum = static_cast<uint16_t>(~load<uint16_t>(ip + 10)) +
                         static_cast<uint32_t>(static_cast<uint16_t>(~old_word)) + new_word;
    const uint16_t c = static_cast<uint16_t>(~fold(sum));
    std::memcpy(ip + 10, &c, 2);
  } else if (o.type == kEthTypeIpv6 && o.l3 + 40 <= o.size && ip[0] >> 4 == 6) {
    if ((ip[1] & 0x30) == 0) return TnlPopError::kEcnNotEct;  // ECN: bits 4..5 of byte 1
    ip[1] |= 0x30;
  }
  return TnlPopError::kNone;
}

uint32_t tnl_md_to_key(const TnlMd& md, FlowKey* key, uint32_t inner_hash) {
  key->tun_id = md.tun_id;
  key->tun_ipv4_src = md.ipv4_src;
  key->tun_ipv4_dst = md.ipv4_dst;
  std::memcpy(key->tun_ipv6_src, md.ipv6_src, 16);
  std::memcpy(key->tun_ipv6_dst, md.ipv6_dst, 16);
  key->tun_flags = md.flags;
  key->tun_tos = md.tos;
  key->tun_ttl = md.ttl;
  key->tun_tp_dst = md.tp_dst;
  key->tun_opts_len = md.opts_len;
  if (md.opts_len) std::memcpy(key->tun_opts, md.opts, md.opts_len);
  key->ext_words = 1;
  const FlowKey::FlowWord* w = key->words();
  uint64_t h = _mm_crc32_u64(_mm_crc32_u64(inner_hash, w[18]), w[19]);
  if (!md.ipv4_dst)
    for (unsigned i = 20; i < 24; i++) h = _mm_crc32_u64(h, w[i]);
  return static_cast<uint32_t>(h);
}

uint32_t tnl_inner_hash(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t n = rte_pktmbuf_data_len(m);
  if (n < kEthLen) return 0;
  uint32_t off = 12;
  for (int tags = 0; tags < 2 && off + 6 <= n; tags++) {
    const uint16_t t = rd16(p + off);
    if (t != kEthTypeVlan && t != kEthTypeQinQ) break;
    off += 4;
  }
  const uint16_t type = off + 2 <= n ? rd16(p + off) : 0;
  const uint8_t* ip = p + off + 2;
  const uint32_t room = n > off + 2 ? n - off - 2 : 0;
  uint64_t h = 0x9e3779b9;
  auto l4 = [&](uint8_t proto, uint32_t at) {
    h = _mm_crc32_u32(static_cast<uint32_t>(h), proto);
    if ((proto == kProtoTcp || proto == kProtoUdp || proto == kProtoSctp) && at + 4 <= room)
      h = _mm_crc32_u32(static_cast<uint32_t>(h), load<uint32_t>(ip + at));
  };
  if (type == kEthTypeIpv4 && room >= 20) {
    h = _mm_crc32_u64(h, load<uint64_t>(ip + 12));
    if ((rd16(ip + 6) & 0x1fff) == 0) l4(ip[9], (ip[0] & 0x0fu) * 4);
  } else if (type == kEthTypeIpv6 && room >= 40) {
    for (unsigned i = 8; i < 40; i += 8) h = _mm_crc32_u64(h, load<uint64_t>(ip + i));
    l4(ip[6], 40);
  } else {
    h = _mm_crc32_u64(h, load<uint64_t>(p));
    h = _mm_crc32_u32(static_cast<uint32_t>(h), load<uint32_t>(p + 8));
  }
  return static_cast<uint32_t>(h);
}

namespace {

void fill_udp(rte_mbuf* m, const TnlPushInfo& info, uint8_t* ip, uint8_t* u, uint32_t ulen,
              uint32_t hash) {
  wr16(u + 4, ulen);
  const uint32_t lo = info.udp_src_min, hi = info.udp_src_max >= lo ? info.udp_src_max : lo;
  wr16(u, lo + static_cast<uint32_t>((uint64_t{hash} * (hi - lo + 1)) >> 32));
  if (!(info.flags & kTnlUdpCsum)) return;
  u[6] = u[7] = 0;
  uint16_t raw = 0;
  rte_raw_cksum_mbuf(m, info.l4_ofs, ulen, &raw);
  const uint32_t ph = info.flags & kTnlOuterIpv6 ? rte_ipv6_phdr_cksum(reinterpret_cast<rte_ipv6_hdr*>(ip), 0)
                                                 : rte_ipv4_phdr_cksum(reinterpret_cast<rte_ipv4_hdr*>(ip), 0);
  uint16_t c = static_cast<uint16_t>(~fold(ph + raw));
  if (c == 0) c = 0xffff;  // RFC 768: zero means "no checksum"
  std::memcpy(u + 6, &c, 2);
}

}  // namespace

TnlPushError tnl_push(rte_mbuf* m, const DpAction* push, uint16_t* ip_id) {
  TnlPushInfo info;
  std::memcpy(&info, push->data, sizeof info);
  const uint32_t len = push->arg16;
  const uint32_t total = rte_pktmbuf_pkt_len(m) + len;
  if (total - info.l3_ofs > info.mtu) return TnlPushError::kTooBig;
  const uint32_t hash = tnl_inner_hash(m);
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(len)));
  if (!p) return TnlPushError::kNoHeadroom;
  std::memcpy(p, push + 1, len);
  uint8_t* ip = p + info.l3_ofs;
  uint8_t* l4 = p + info.l4_ofs;
  if (info.flags & kTnlOuterIpv6) {
    wr16(ip + 4, total - info.l3_ofs - 40);
  } else {
    // The template's checksum covers a zero length and identification:
    // add the real ones (RFC 1624 eqn. 3 with m = 0), from the action's
    // copy, without reading back the header just written.
    const uint8_t* tpl = reinterpret_cast<const uint8_t*>(push + 1) + info.l3_ofs;
    const uint16_t tot = __builtin_bswap16(static_cast<uint16_t>(total - info.l3_ofs));
    uint16_t id = load<uint16_t>(tpl + 4);
    if (!(tpl[6] & 0x40)) id = __builtin_bswap16((*ip_id)++);  // DF clear: a real identification
    const uint16_t c = static_cast<uint16_t>(~fold(static_cast<uint16_t>(~load<uint16_t>(tpl + 10)) + uint32_t{tot} + id));
    std::memcpy(ip + 2, &tot, 2);
    std::memcpy(ip + 4, &id, 2);
    std::memcpy(ip + 10, &c, 2);
  }
  if (info.type != TunnelType::kGre) {
    fill_udp(m, info, ip, l4, total - info.l4_ofs, hash);
  } else if (info.flags & kTnlGreCsum) {
    uint16_t raw = 0;
    rte_raw_cksum_mbuf(m, info.l4_ofs, total - info.l4_ofs, &raw);
    const uint16_t c = static_cast<uint16_t>(~raw);
    std::memcpy(l4 + 4, &c, 2);
  }
  return TnlPushError::kNone;
}

}  // namespace dps::datapath
