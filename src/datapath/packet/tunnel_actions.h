// tunnel_actions.h - what the PMD does to one packet for tnl_pop and
// tnl_push (the vocabulary is tunnel_header.h).
//
// What:
//  - tnl_pop_parse(): validates the outer headers of a packet received on
//    the underlay (Ethernet, up to two VLAN tags, IPv4 or IPv6, UDP +
//    VXLAN / Geneve, or GRE) and returns their length and the tunnel
//    metadata (TnlMd); tnl_pop_strip() then removes them. A bad header is a
//    TnlPopError (the PMD drops and counts it), never a guess: IPv4 header
//    checksum, fragments, lengths, a present UDP / GRE checksum, VXLAN
//    flags (RFC 7348: I set, reserved bits 0), Geneve version 0 and
//    protocol 0x6558 (RFC 8926), GRE version 0 without routing and
//    protocol 0x6558 (RFC 2784/2890: gretap).
//  - tnl_pop_ecn(): RFC 6040's decapsulation of an outer CE mark.
//  - tnl_md_to_key(): the metadata into a freshly extracted key of the
//    inner packet (words 18..31, ext_words = 1).
//  - tnl_push(): prepends the pre-built outer header of a kTnlPush action
//    and fills the per-packet fields (IP lengths, IPv4 identification and
//    checksum, UDP length and source port from the inner flow's hash, UDP
//    and GRE checksums when asked for).
//
// Design: as OVS's netdev-native-tnl.c (*_pop_header / *_push_header), on
// rte_mbufs. A checksum the NIC marked good (RTE_MBUF_F_RX_*_CKSUM_GOOD)
// is not verified again. The outer headers must lie in the first segment (they always
// do for a NIC frame of ordinary size); checksums cover chained payloads
// (rte_raw_cksum_mbuf). No allocation, no lock, no syscall.
//
// Thread-safety: pure functions over the caller's packet and structs.
#pragma once

#include <cstdint>

#include "actions.h"
#include "flow_key_layout.h"
#include "tunnel_header.h"

struct rte_mbuf;

namespace dps::datapath {

enum class TnlPopError : uint8_t {
  kNone,
  kTruncated,    // a header is cut short, or lengths disagree
  kBadIp,        // not IPv4/IPv6, options/extension headers we do not take, fragment
  kBadChecksum,  // IPv4 header, UDP or GRE checksum wrong
  kBadTunnel,    // VXLAN / Geneve / GRE header not as the standard says, or not this type
  kTooManyOpts,  // Geneve options longer than the key holds (kTunOptsMax)
  kEcnNotEct,    // outer ECN CE over a Not-ECT inner IP packet (RFC 6040: drop)
};
const char* tnl_pop_error_name(TnlPopError e);

// Tunnel metadata of one received packet (FlowKey's tun_* fields). No
// default member initializers: the PMD keeps a burst's worth on its stack
// and tnl_pop_parse() writes every field.
struct TnlMd {
  uint64_t tun_id;  // network order
  uint32_t ipv4_src, ipv4_dst;  // network order
  uint8_t ipv6_src[16], ipv6_dst[16];
  uint16_t flags;   // kTunFlag*
  uint8_t tos, ttl;
  uint16_t tp_dst;  // network order
  uint8_t opts_len;
  const uint8_t* opts;  // raw Geneve options inside the packet
  uint32_t inner_len;   // bytes of the inner frame
};

// Parses the outer headers of m as tunnel `type`; on success *hdr_len is
// their length and *md the metadata (every field written; opts points into m).
TnlPopError tnl_pop_parse(rte_mbuf* m, TunnelType type, uint32_t* hdr_len, TnlMd* md);
// Strips hdr_len bytes, and the outer frame's padding after the inner frame.
void tnl_pop_strip(rte_mbuf* m, uint32_t hdr_len, uint32_t inner_len);
// RFC 6040 decapsulation (as OVS): an outer CE (outer_tos & 3 == 3) marks an
// ECN-capable inner IPv4/IPv6 packet CE (IPv4 checksum updated) and makes a
// Not-ECT one undeliverable (kEcnNotEct); otherwise nothing changes.
TnlPopError tnl_pop_ecn(rte_mbuf* m, uint8_t outer_tos);
// Writes md into key (extracted from the inner packet) and returns its hash
// with the tunnel fields mixed in.
uint32_t tnl_md_to_key(const TnlMd& md, FlowKey* key, uint32_t inner_hash);

enum class TnlPushError : uint8_t { kNone, kTooBig, kNoHeadroom };
// push = the kTnlPush action; its header bytes follow it in the list.
// ip_id: the PMD's IPv4 identification counter (used when DF is clear).
TnlPushError tnl_push(rte_mbuf* m, const DpAction* push, uint16_t* ip_id);
// Hash of the inner packet's addresses and ports (the UDP source port's
// entropy): IPv4/IPv6 5-tuple, else the Ethernet addresses.
uint32_t tnl_inner_hash(const rte_mbuf* m);

}  // namespace dps::datapath
