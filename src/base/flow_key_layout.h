// flow_key_layout.h - the compact parsed form of a packet that every lookup uses.
//
// What: FlowKey holds every header field the datapath can match on, at fixed
// offsets, in network byte order (as on the wire), plus in_port. A FlowMask
// is the same layout where a 1 bit means "this bit matters".
//
// Design: 256 bytes = 32 64-bit words = four cache lines, 64-byte aligned.
// Fixed offsets let a megaflow subtable hash and compare only the words its
// mask touches (most masks touch 2..4 words). The first line holds L2, IPv4,
// ARP, L4 and MPLS; the second line holds the IPv6 addresses and ND target
// (zero for every non-IPv6 packet) and the recirculation / conntrack word
// pair (zero on a packet's first pass). Words 16..31 hold the conntrack
// label and the tunnel metadata: they are zero unless ext_words is non-zero,
// which only decapsulation and conntrack set, so the hit path compares,
// hashes and clears only the first two lines for plain traffic. Fields that
// are absent in a packet are zero, so "field == 0 under mask" is well
// defined for every key.
// Encoding follows Open vSwitch's struct flow:
//  - vlan_tci: the TCI with the CFI/DEI bit (0x1000) forced on when a tag is
//    present, so "untagged" (0) differs from "VID 0, PCP 0" (0x1000).
//  - eth_type: the type after the VLAN tags (0x8847 for MPLS, 0x0800 for IPv4);
//    frames with a length field (< 0x600) get 0x05ff (802.2, no SNAP parse).
//  - PBB (IEEE 802.1ah, eth_type 0x88e7 after the B-TAG): ipv6_label holds
//    the I-TAG's I-SID (low 24 bits, network order), the OpenFlow pbb_isid;
//    the I-PCP, I-DEI and UCA bits are not in the key and nothing past the
//    I-TAG (the customer frame) is parsed. An overlay: a frame has an IPv6
//    flow label or an I-SID, never both, and every match on either bit set
//    carries its eth_type (0x86dd / 0x88e7, the OpenFlow prerequisite), so a
//    megaflow never confuses the two.
//  - ARP: nw_src/nw_dst = SPA/TPA, nw_proto = opcode (low byte), arp_sha/tha.
//  - ICMP/ICMPv6: tp_src = type, tp_dst = code (each in the low byte, network
//    order 16-bit like OVS).
//  - ND (ICMPv6 135/136): nd_target, arp_sha = SLL option, arp_tha = TLL.
//  - nw_frag: kFragAny for any fragment, plus kFragLater for offset != 0;
//    later fragments carry no L4 fields.
//  - Tunnel metadata (after tnl_pop) follows OVS's struct flow_tnl: tun_id is
//    the VNI / GRE key as a 64-bit network-order integer (VXLAN VNI 42 is
//    tun_id 0x2a); IPv4 and IPv6 outer addresses have separate fields (the
//    other family's stay zero); tun_flags are FLOW_TNL_F_* (kTunFlag*).
//    Geneve options: the datapath key holds them raw (tun_opts, tun_opts_len
//    bytes, as on the wire; OVS's "udpif" form); the OpenFlow flow that
//    xlate builds from it holds them mapped through the TLV table
//    (tun_metadataN at its table offset in tun_opts, tun_md_present bit N).
// The hash used by the EMC and the miss ring is computed once at extraction
// (CRC32C over the fields that vary between microflows) and stored beside
// the key, never inside it.
//
// Where: the layout is shared vocabulary (the OpenFlow match is stored in
// it), so it lives in base; the parser, the hashes and the text form that
// need the datapath are declared in datapath/flow_key.h.
//
// Thread-safety: plain values; keys live on a PMD's stack or inside one
// owner's tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace dps::datapath {

inline constexpr unsigned kFlowWords = 32;
// Words 0..kBaseWords-1 are the whole key when ext_words == 0.
inline constexpr unsigned kBaseWords = 16;

struct alignas(64) FlowKey {
  // word 0
  uint32_t in_port;       // datapath port number, host order
  uint16_t eth_type;      // network order
  uint16_t vlan_tci;      // network order, outer tag, CFI set when present
  // words 1-2
  uint8_t dl_dst[6];
  uint8_t dl_src[6];
  uint16_t vlan_tci2;     // network order, inner tag (QinQ), CFI set when present
  uint8_t nw_frag;        // kFragAny | kFragLater
  uint8_t nw_tos;         // DSCP << 2 | ECN (IPv4 TOS / IPv6 traffic class)
  // word 3
  uint32_t nw_src;        // IPv4 source / ARP SPA, network order
  uint32_t nw_dst;        // IPv4 destination / ARP TPA, network order
  // word 4
  uint16_t tp_src;        // L4 source port / ICMP type, network order
  uint16_t tp_dst;        // L4 destination port / ICMP code, network order
  uint8_t nw_proto;       // IP protocol / ARP opcode
  uint8_t nw_ttl;         // IPv4 TTL / IPv6 hop limit
  uint16_t tcp_flags;     // network order, low 12 bits
  // word 5
  uint32_t mpls_lse;      // outermost MPLS label stack entry, network order
  uint32_t ipv6_label;    // network order, low 20 bits; PBB: the I-SID, low 24 bits
  // words 6-7
  uint8_t arp_sha[6];     // ARP SHA / ND source link-layer address
  uint8_t arp_tha[6];     // ARP THA / ND target link-layer address
  uint16_t ipv6_exthdr;   // OpenFlow 1.3 OFPIEH_* bits, host order
  uint8_t pad0;           // pad0 + pad1 fill words 6-7 to 16 bytes
  uint8_t pad1;
  // words 8-13: IPv6 only
  uint8_t ipv6_src[16];
  uint8_t ipv6_dst[16];
  uint8_t nd_target[16];
  // word 14: recirculation (0 on a packet's first pass)
  uint32_t recirc_id;     // host order; 0 = as received
  uint32_t dp_hash;       // host order; set before a recirculation that needs it
  // word 15: connection tracking, and the marker for words 16..31
  uint32_t ct_mark;       // host order
  uint16_t ct_zone;       // host order
  uint8_t ct_state;       // CS_* bits (conntrack)
  uint8_t ext_words;      // extracted keys: 0 = words 16..31 all zero. Never in a mask.
  // words 16-17
  uint8_t ct_label[16];
  // words 18-31: tunnel metadata, zero unless received through a tunnel
  uint64_t tun_id;        // network order (VNI / GRE key, low bits)
  uint32_t tun_ipv4_src;  // outer IPv4 source, network order
  uint32_t tun_ipv4_dst;  // outer IPv4 destination (our endpoint), network order
  uint8_t tun_ipv6_src[16];
  uint8_t tun_ipv6_dst[16];
  uint16_t tun_flags;     // host order, kTunFlag*
  uint8_t tun_tos;        // outer TOS / traffic class
  uint8_t tun_ttl;        // outer TTL / hop limit
  uint16_t tun_tp_dst;    // outer UDP destination port, network order (0 for GRE)
  uint8_t tun_opts_len;   // datapath form: bytes of raw Geneve options in tun_opts
  uint8_t tun_pad;
  uint64_t tun_md_present;  // OpenFlow form: bit N = tun_metadataN present
  uint8_t tun_opts[48];   // Geneve options: raw (datapath) or TLV-mapped (OpenFlow)

  // Word view of the key. FlowWord is may_alias: word-wise and field-wise
  // accesses to one key must not be reordered under strict aliasing (they
  // were: a field store followed by flow_key_apply_mask lost the store). Keep
  // the type when taking the pointer (auto* / const FlowWord*), not uint64_t*.
  using FlowWord = uint64_t __attribute__((__may_alias__));
  const FlowWord* words() const { return reinterpret_cast<const FlowWord*>(this); }
  FlowWord* words() { return reinterpret_cast<FlowWord*>(this); }
};
static_assert(sizeof(FlowKey) == kFlowWords * 8);
static_assert(offsetof(FlowKey, dl_dst) == 8);
static_assert(offsetof(FlowKey, nw_src) == 24);
static_assert(offsetof(FlowKey, tp_src) == 32);
static_assert(offsetof(FlowKey, mpls_lse) == 40);
static_assert(offsetof(FlowKey, arp_sha) == 48);
static_assert(offsetof(FlowKey, ipv6_src) == 64);
static_assert(offsetof(FlowKey, recirc_id) == 112);
static_assert(offsetof(FlowKey, ct_label) == 128);
static_assert(offsetof(FlowKey, tun_id) == 144);
static_assert(offsetof(FlowKey, tun_flags) == 192);
static_assert(offsetof(FlowKey, tun_opts) == 208);

// A mask has the key's layout; 1 bits are significant.
using FlowMask = FlowKey;

inline constexpr uint8_t kFragAny = 1;
inline constexpr uint8_t kFragLater = 2;

// Ethertypes (host order; compare with ntohs(key.eth_type) or use be16()).
inline constexpr uint16_t kEthTypeIpv4 = 0x0800;
inline constexpr uint16_t kEthTypeArp = 0x0806;
inline constexpr uint16_t kEthTypeVlan = 0x8100;
inline constexpr uint16_t kEthTypeQinQ = 0x88a8;
inline constexpr uint16_t kEthTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEthTypeMpls = 0x8847;
inline constexpr uint16_t kEthTypeMplsMcast = 0x8848;
inline constexpr uint16_t kEthTypePbb = 0x88e7;  // 802.1ah I-TAG
inline constexpr uint16_t kEthTypeNotEthII = 0x05ff;
inline constexpr uint16_t kVlanCfi = 0x1000;

// FlowKey::tun_flags (OVS FLOW_TNL_F_*); only kTunFlagOam is an OpenFlow
// field bit (NXM tun_flags), the others describe the outer header.
inline constexpr uint16_t kTunFlagOam = 1 << 0;
inline constexpr uint16_t kTunFlagDontFrag = 1 << 1;
inline constexpr uint16_t kTunFlagCsum = 1 << 2;
inline constexpr uint16_t kTunFlagKey = 1 << 3;
// Capacity of FlowKey::tun_opts (Geneve option bytes a key can carry; the
// TLV table's total option length is limited to it).
inline constexpr unsigned kTunOptsMax = 48;

// OpenFlow 1.3 OFPIEH_* flags for ipv6_exthdr.
enum Ipv6ExtHdrFlag : uint16_t {
  kIehNoNext = 1 << 0,
  kIehEsp = 1 << 1,
  kIehAuth = 1 << 2,
  kIehDest = 1 << 3,
  kIehFrag = 1 << 4,
  kIehRouter = 1 << 5,
  kIehHop = 1 << 6,
  kIehUnrep = 1 << 7,
  kIehUnseq = 1 << 8,
};

// Exact equality of two keys (all 32 words: masked keys have ext_words 0
// and may still differ in words 16..31). The EMC has its own compare that
// skips words 16..31 of extracted keys with ext_words == 0.
inline bool flow_key_equal(const FlowKey& a, const FlowKey& b) {
  const FlowKey::FlowWord* x = a.words();
  const FlowKey::FlowWord* y = b.words();
  uint64_t diff = 0;
  for (unsigned i = 0; i < kFlowWords; i++) diff |= x[i] ^ y[i];
  return diff == 0;
}

// key & mask into *out.
inline void flow_key_apply_mask(const FlowKey& key, const FlowMask& mask, FlowKey* out) {
  for (unsigned i = 0; i < kFlowWords; i++) out->words()[i] = key.words()[i] & mask.words()[i];
}

}  // namespace dps::datapath
