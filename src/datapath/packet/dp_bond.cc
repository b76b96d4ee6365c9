#include "dp_bond.h"

#include <rte_mbuf.h>
#include <x86intrin.h>

#include <cstring>

namespace dps::datapath {
namespace {

constexpr uint16_t kEthVlan = 0x8100, kEthQinQ = 0x88a8, kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd;

uint16_t be16_at(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint32_t crc_bytes(uint32_t h, const uint8_t* p, unsigned n) {
  for (; n >= 4; p += 4, n -= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    h = _mm_crc32_u32(h, v);
  }
  for (; n; p++, n--) h = _mm_crc32_u8(h, *p);
  return h;
}

// The ethertype after up to two VLAN tags; *off = the L3 offset. *vid =
// the outer VLAN id (0 untagged). 0 when the frame is too short.
uint16_t l3_type(const uint8_t* d, uint32_t len, uint32_t* off, uint16_t* vid) {
  uint32_t o = 12;
  *vid = 0;
  if (len < 14) return 0;
  uint16_t t = be16_at(d + o);
  for (int tags = 0; tags < 2 && (t == kEthVlan || t == kEthQinQ); tags++) {
    if (len < o + 6) return 0;
    if (tags == 0) *vid = be16_at(d + o + 2) & 0x0fff;
    o += 4;
    t = be16_at(d + o);
  }
  *off = o + 2;
  return t;
}

// L4 ports after an IP header of protocol proto (TCP, UDP, SCTP), or 0.
uint32_t l4_ports(const uint8_t* d, uint32_t len, uint32_t l4, uint8_t proto) {
  if ((proto != 6 && proto != 17 && proto != 132) || len < l4 + 4) return 0;
  uint32_t v;
  std::memcpy(&v, d + l4, 4);
  return v;
}

// The hashes, inlined into buckets_of()'s loops.
[[gnu::always_inline]] inline uint32_t hash_l4(const rte_mbuf* m) {
  if (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) return m->hash.rss;
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  uint32_t off = 0;
  uint16_t vid;
  const uint16_t t = l3_type(d, len, &off, &vid);
  if (t == kEthIpv4 && len >= off + 20) {
    const uint8_t* ip = d + off;
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    const bool frag = (be16_at(ip + 6) & 0x3fff) != 0;
    uint32_t h = crc_bytes(ip[9], ip + 12, 8);
    return frag ? h : _mm_crc32_u32(h, l4_ports(d, len, off + ihl, ip[9]));
  }
  if (t == kEthIpv6 && len >= off + 40) {
    const uint8_t* ip = d + off;
    uint32_t h = crc_bytes(ip[6], ip + 8, 32);
    return _mm_crc32_u32(h, l4_ports(d, len, off + 40, ip[6]));
  }
  return crc_bytes(t, d, len < 12 ? len : 12);
}

[[gnu::always_inline]] inline uint32_t hash_src_mac_vlan(const rte_mbuf* m) {
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  uint32_t off = 0;
  uint16_t vid = 0;
  l3_type(d, len, &off, &vid);
  return len >= 12 ? crc_bytes(vid, d + 6, 6) : 0;
}

}  // namespace

uint32_t bond_hash_l4(const rte_mbuf* m) { return hash_l4(m); }
uint32_t bond_hash_src_mac_vlan(const rte_mbuf* m) { return hash_src_mac_vlan(m); }

unsigned DpBond::bucket(const rte_mbuf* m) const {
  switch (cfg.hash) {
    case BondHash::kL4: return bond_bucket_of(bond_hash_l4(m));
    case BondHash::kSrcMacVlan: return bond_bucket_of(bond_hash_src_mac_vlan(m));
    case BondHash::kActive: break;
  }
  return 0;
}

void DpBond::buckets_of(rte_mbuf* const* pkts, unsigned n, uint8_t* out) const {
  switch (cfg.hash) {
    case BondHash::kL4:
      for (unsigned i = 0; i < n; i++) out[i] = static_cast<uint8_t>(bond_bucket_of(hash_l4(pkts[i])));
      return;
    case BondHash::kSrcMacVlan:
      for (unsigned i = 0; i < n; i++)
        out[i] = static_cast<uint8_t>(bond_bucket_of(hash_src_mac_vlan(pkts[i])));
      return;
    case BondHash::kActive: break;
  }
  std::memset(out, 0, n);
}

DpBond* PmdBonds::swap(uint32_t id, DpBond* b) {
  DpBond* old = bonds_[id];
  if (old && b)
    for (unsigned i = 0; i < kBondBuckets; i++)
      b->tx[i].store(old->tx[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
  bonds_[id] = b;
  return old;
}

}  // namespace dps::datapath
