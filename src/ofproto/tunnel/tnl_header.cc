#include "tnl_header.h"

#include <arpa/inet.h>

#include <cstring>

namespace dps::ofproto {

using datapath::ActType;
using datapath::DpAction;
using datapath::FlowKey;
using datapath::TunnelType;

namespace {

constexpr unsigned kEthLen = 14;
constexpr unsigned kIpv4Len = 20;
constexpr unsigned kIpv6Len = 40;
constexpr unsigned kUdpLen = 8;
constexpr unsigned kVxlanLen = 8;
constexpr unsigned kGeneveLen = 8;
constexpr uint8_t kIpProtoUdp = 17;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint16_t kGreFlagCsum = 0x8000;
constexpr uint16_t kGreFlagKey = 0x2000;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}

void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

bool is_vlan_tpid(uint16_t t) { return t == datapath::kEthTypeVlan || t == datapath::kEthTypeQinQ; }

uint8_t* put_eth(uint8_t* p, const MacAddr& dst, const MacAddr& src, uint16_t type) {
  std::memcpy(p, dst.data(), 6);
  std::memcpy(p + 6, src.data(), 6);
  put16(p + 12, type);
  return p + kEthLen;
}

// IPv4 or IPv6 header with zero lengths (and identification); returns its end.
uint8_t* put_ip(uint8_t* p, const TnlHeaderParams& hp, uint8_t proto) {
  if (!hp.dst.v6) {
    p[0] = 0x45;
    p[1] = hp.tos;
    put16(p + 6, hp.df ? 0x4000 : 0);
    p[8] = hp.ttl;
    p[9] = proto;
    std::memcpy(p + 12, hp.src.b.data(), 4);
    std::memcpy(p + 16, hp.dst.b.data(), 4);
    put16(p + 10, inet_csum(p, kIpv4Len));
    return p + kIpv4Len;
  }
  p[0] = static_cast<uint8_t>(0x60 | hp.tos >> 4);
  p[1] = static_cast<uint8_t>((hp.tos & 0x0f) << 4);
  p[6] = proto;
  p[7] = hp.ttl;
  std::memcpy(p + 8, hp.src.b.data(), 16);
  std::memcpy(p + 24, hp.dst.b.data(), 16);
  return p + kIpv6Len;
}

bool any_critical(const uint8_t* opts, unsigned len) {
  for (unsigned off = 0; off + 4 <= len; off += 4 + (opts[off + 3] & 0x1f) * 4u)
    if (opts[off + 2] & kGeneveCritical) return true;
  return false;
}

// The tunnel header after UDP (VXLAN, Geneve) or the GRE header; its end.
uint8_t* put_tunnel(uint8_t* p, const TnlHeaderParams& hp) {
  switch (hp.type) {
    case TunnelType::kVxlan:
      p[0] = 0x08;  // I flag: the VNI is valid
      put24(p + 4, static_cast<uint32_t>(hp.key & 0xffffff));
      return p + kVxlanLen;
    case TunnelType::kGeneve:
      p[0] = static_cast<uint8_t>(hp.opts_len / 4);  // version 0
      p[1] = any_critical(hp.opts, hp.opts_len) ? 0x40 : 0;
      put16(p + 2, kEthTypeTeb);
      put24(p + 4, static_cast<uint32_t>(hp.key & 0xffffff));
      if (hp.opts_len) std::memcpy(p + kGeneveLen, hp.opts, hp.opts_len);
      return p + kGeneveLen + hp.opts_len;
    default: {  // GRE
      uint16_t flags = (hp.csum ? kGreFlagCsum : 0) | (hp.gre_key ? kGreFlagKey : 0);
      put16(p, flags);
      put16(p + 2, kEthTypeTeb);
      p += 4;
      if (hp.csum) p += 4;  // checksum (the PMD's) + reserved
      if (hp.gre_key) {
        put32(p, static_cast<uint32_t>(hp.key));
        p += 4;
      }
      return p;
    }
  }
}

}  // namespace

uint16_t inet_csum(const uint8_t* p, size_t n, uint32_t seed) {
  uint64_t sum = seed;
  for (size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::optional<std::string> build_tnl_header(const TnlHeaderParams& p, TnlHeader* out) {
  if (p.src.v6 != p.dst.v6) return "tunnel source " + p.src.str() + " and remote " + p.dst.str() + " differ in family";
  if (p.type != TunnelType::kVxlan && p.type != TunnelType::kGeneve && p.type != TunnelType::kGre)
    return "not a tunnel type";
  if (p.opts_len % 4 || (p.opts_len && p.type != TunnelType::kGeneve)) return "bad Geneve option length";
  unsigned need = kEthLen + (p.dst.v6 ? kIpv6Len : kIpv4Len) + 16 + p.opts_len;
  if (need > datapath::kTnlHeaderMax)
    return "outer header of " + std::to_string(need) + " bytes exceeds " + std::to_string(datapath::kTnlHeaderMax);
  TnlHeader h;
  bool gre = p.type == TunnelType::kGre;
  uint8_t* q = put_eth(h.bytes, p.eth_dst, p.eth_src, p.dst.v6 ? datapath::kEthTypeIpv6 : datapath::kEthTypeIpv4);
  h.info.l3_ofs = kEthLen;
  q = put_ip(q, p, gre ? datapath::kIpProtoGre : kIpProtoUdp);
  h.info.l4_ofs = static_cast<uint8_t>(q - h.bytes);
  if (!gre) {
    put16(q + 2, p.udp_dst);
    q += kUdpLen;
  }
  q = put_tunnel(q, p);
  h.len = static_cast<uint16_t>(q - h.bytes);
  h.info.type = p.type;
  h.info.flags = static_cast<uint8_t>((p.dst.v6 ? datapath::kTnlOuterIpv6 : 0) |
                                      (!gre && (p.csum || p.dst.v6) ? datapath::kTnlUdpCsum : 0) |
                                      (gre && p.csum ? datapath::kTnlGreCsum : 0));
  h.info.mtu = p.mtu;
  *out = h;
  return std::nullopt;
}

bool tnl_header_apply(const DpAction& a, TnlHeader* h) {
  uint8_t* b = h->bytes;
  bool tagged = is_vlan_tpid(get16(b + 12));
  switch (a.type) {
    case ActType::kSetEthSrc: std::memcpy(b + 6, a.data, 6); return true;
    case ActType::kSetEthDst: std::memcpy(b, a.data, 6); return true;
    case ActType::kPushVlan:
      if (h->len + 4u > datapath::kTnlHeaderMax) return false;
      std::memmove(b + 16, b + 12, h->len - 12u);
      put16(b + 12, a.arg16);
      put16(b + 14, static_cast<uint16_t>(a.arg32 & ~uint32_t{datapath::kVlanCfi}));
      h->len = static_cast<uint16_t>(h->len + 4);
      h->info.l3_ofs = static_cast<uint8_t>(h->info.l3_ofs + 4);
      h->info.l4_ofs = static_cast<uint8_t>(h->info.l4_ofs + 4);
      return true;
    case ActType::kPopVlan:
      if (!tagged) return true;
      std::memmove(b + 12, b + 16, h->len - 16u);
      h->len = static_cast<uint16_t>(h->len - 4);
      h->info.l3_ofs = static_cast<uint8_t>(h->info.l3_ofs - 4);
      h->info.l4_ofs = static_cast<uint8_t>(h->info.l4_ofs - 4);
      return true;
    case ActType::kSetVlanVid:
      if (tagged) put16(b + 14, static_cast<uint16_t>((get16(b + 14) & 0xf000) | (a.arg16 & 0x0fff)));
      return true;
    case ActType::kSetVlanPcp:
      if (tagged) put16(b + 14, static_cast<uint16_t>((get16(b + 14) & 0x1fff) | (a.arg16 & 7) << 13));
      return true;
    default: return false;
  }
}

FlowKey tnl_outer_key(const TnlHeader& h, uint32_t in_port) {
  FlowKey k{};
  const uint8_t* b = h.bytes;
  k.in_port = in_port;
  std::memcpy(k.dl_dst, b, 6);
  std::memcpy(k.dl_src, b + 6, 6);
  unsigned off = 12;
  if (is_vlan_tpid(get16(b + off))) {
    k.vlan_tci = htons(static_cast<uint16_t>(get16(b + off + 2) | datapath::kVlanCfi));
    off += 4;
    if (is_vlan_tpid(get16(b + off))) {
      k.vlan_tci2 = htons(static_cast<uint16_t>(get16(b + off + 2) | datapath::kVlanCfi));
      off += 4;
    }
  }
  k.eth_type = htons(get16(b + off));
  const uint8_t* ip = b + h.info.l3_ofs;
  if (h.info.flags & datapath::kTnlOuterIpv6) {
    k.nw_tos = static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
    k.nw_proto = ip[6];
    k.nw_ttl = ip[7];
    std::memcpy(k.ipv6_src, ip + 8, 16);
    std::memcpy(k.ipv6_dst, ip + 24, 16);
  } else {
    k.nw_tos = ip[1];
    k.nw_ttl = ip[8];
    k.nw_proto = ip[9];
    std::memcpy(&k.nw_src, ip + 12, 4);
    std::memcpy(&k.nw_dst, ip + 16, 4);
  }
  if (k.nw_proto == kIpProtoUdp) std::memcpy(&k.tp_dst, b + h.info.l4_ofs + 2, 2);
  return k;
}

std::vector<uint8_t> build_arp_request(const MacAddr& sha, const IpAddr& spa, const IpAddr& tpa) {
  std::vector<uint8_t> f(42);
  MacAddr bcast;
  bcast.fill(0xff);
  uint8_t* a = put_eth(f.data(), bcast, sha, datapath::kEthTypeArp);
  put16(a, 1);                        // Ethernet
  put16(a + 2, datapath::kEthTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 1);                    // request
  std::memcpy(a + 8, sha.data(), 6);
  std::memcpy(a + 14, spa.b.data(), 4);
  std::memcpy(a + 24, tpa.b.data(), 4);  // target MAC stays zero
  return f;
}

std::vector<uint8_t> build_nd_ns(const MacAddr& sha, const IpAddr& src, const IpAddr& target) {
  constexpr unsigned kIcmpLen = 32;  // header 4 + reserved 4 + target 16 + SLL option 8
  std::vector<uint8_t> f(kEthLen + kIpv6Len + kIcmpLen);
  // Solicited-node multicast ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX.
  uint8_t dst[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, target.b[13], target.b[14], target.b[15]};
  MacAddr dmac = {0x33, 0x33, 0xff, target.b[13], target.b[14], target.b[15]};
  uint8_t* ip = put_eth(f.data(), dmac, sha, datapath::kEthTypeIpv6);
  ip[0] = 0x60;
  put16(ip + 4, kIcmpLen);
  ip[6] = kIpProtoIcmpv6;
  ip[7] = 255;
  std::memcpy(ip + 8, src.b.data(), 16);
  std::memcpy(ip + 24, dst, 16);
  uint8_t* icmp = ip + kIpv6Len;
  icmp[0] = 135;  // neighbour solicitation
  std::memcpy(icmp + 8, target.b.data(), 16);
  icmp[24] = 1;  // source link-layer address, 8 bytes
  icmp[25] = 1;
  std::memcpy(icmp + 26, sha.data(), 6);
  // Pseudo-header: addresses, upper-layer length, next header.
  uint32_t seed = kIcmpLen + kIpProtoIcmpv6;
  uint16_t pseudo = static_cast<uint16_t>(~inet_csum(ip + 8, 32, seed));
  put16(icmp + 2, inet_csum(icmp, kIcmpLen, pseudo));
  return f;
}

const char* geneve_opts_error_name(GeneveOptsError e) {
  switch (e) {
    case GeneveOptsError::kNone: return "none";
    case GeneveOptsError::kMalformed: return "malformed Geneve options";
    case GeneveOptsError::kCritical: return "unknown critical Geneve option";
    case GeneveOptsError::kBadLength: return "Geneve option length differs from its TLV mapping";
  }
  return "?";
}

const TlvMapping* tlv_by_index(const TlvTable* tlv, unsigned index) {
  if (!tlv) return nullptr;
  for (const TlvMapping& m : tlv->mappings())
    if (m.index == index) return &m;
  return nullptr;
}

const TlvMapping* tlv_by_class_type(const TlvTable* tlv, uint16_t opt_class, uint8_t opt_type) {
  if (!tlv) return nullptr;
  for (const TlvMapping& m : tlv->mappings())
    if (m.opt_class == opt_class && m.opt_type == opt_type) return &m;
  return nullptr;
}

GeneveOptsError geneve_opts_to_mapped(const TlvTable* tlv, const uint8_t* raw, unsigned raw_len,
                                      FlowKey* flow) {
  std::memset(flow->tun_opts, 0, sizeof flow->tun_opts);
  flow->tun_md_present = 0;
  flow->tun_opts_len = 0;
  for (unsigned off = 0; off < raw_len;) {
    if (raw_len - off < 4) return GeneveOptsError::kMalformed;
    uint16_t cls = get16(raw + off);
    uint8_t type = raw[off + 2];
    unsigned len = (raw[off + 3] & 0x1fu) * 4;
    if (off + 4 + len > raw_len) return GeneveOptsError::kMalformed;
    if (const TlvMapping* m = tlv_by_class_type(tlv, cls, type)) {
      if (m->opt_len != len || m->offset + len > datapath::kTunOptsMax) return GeneveOptsError::kBadLength;
      std::memcpy(flow->tun_opts + m->offset, raw + off + 4, len);
      flow->tun_md_present |= uint64_t{1} << m->index;
    } else if (type & kGeneveCritical) {
      return GeneveOptsError::kCritical;
    }
    off += 4 + len;
  }
  return GeneveOptsError::kNone;
}

int geneve_opts_from_mapped(const TlvTable* tlv, const FlowKey& flow, uint8_t* out, unsigned cap) {
  unsigned n = 0;
  for (unsigned i = 0; i < TlvTable::kMaxFields; i++) {
    if (!(flow.tun_md_present >> i & 1)) continue;
    const TlvMapping* m = tlv_by_index(tlv, i);
    if (!m || m->offset + m->opt_len > datapath::kTunOptsMax) continue;
    if (n + 4u + m->opt_len > cap) return -1;
    put16(out + n, m->opt_class);
    out[n + 2] = m->opt_type;
    out[n + 3] = static_cast<uint8_t>(m->opt_len / 4);
    std::memcpy(out + n + 4, flow.tun_opts + m->offset, m->opt_len);
    n += 4u + m->opt_len;
  }
  return static_cast<int>(n);
}

}  // namespace dps::ofproto
