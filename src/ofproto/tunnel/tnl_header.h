// tnl_header.h - outer headers for native tunneling, built by the slow
// path (Open vSwitch's netdev-native-tnl.c *_build_header), and the
// frames the tunnel code sends itself (ARP requests, ND solicitations).
//
// What:
//  - build_tnl_header(): Ethernet + IPv4/IPv6 + UDP + VXLAN / Geneve (with
//    options), or + GRE (checksum and key options), as the TnlPushInfo +
//    raw bytes a kTnlPush action carries (datapath/tunnel_header.h). The
//    per-packet fields are left for the PMD: IP total / payload length 0,
//    IPv4 identification 0 (the IPv4 header checksum is computed over that
//    template, so the PMD may update it incrementally or recompute it),
//    UDP source port, length and checksum 0, GRE checksum 0.
//  - tnl_header_apply(): folds a datapath action of the underlay bridge's
//    translation (VLAN push/pop/set, Ethernet address rewrites) into the
//    template; anything else cannot be folded (false).
//  - build_arp_request() / build_nd_ns(): the neighbour requests sent out
//    of the underlay bridge when the next hop's MAC is unknown.
//  - Geneve options: raw (as on the wire: the datapath key's form) <->
//    mapped (tun_metadataN at its TLV-table offset: the OpenFlow form).
//    An unknown option with the critical bit (type & 0x80) and an option
//    whose length differs from its mapping make the packet undeliverable
//    (RFC 8926 3.5; OVS drops it), as do malformed option lists.
//
// Design: plain functions over byte arrays; no allocation except the
// returned request frames. Encodings: VXLAN RFC 7348 (flags 0x08, VNI in
// bits 8..31 of the second word), Geneve RFC 8926 (version 0, protocol
// 0x6558, C bit when an option is critical), GRE RFC 2784/2890 (protocol
// 0x6558: Ethernet inside).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actions.h"
#include "flow_key_layout.h"
#include "mac_learning.h"
#include "tlv_table.h"
#include "tunnel_config.h"
#include "tunnel_header.h"

namespace dps::ofproto {

inline constexpr uint16_t kEthTypeTeb = 0x6558;  // transparent Ethernet bridging
inline constexpr uint8_t kGeneveCritical = 0x80;  // option type bit

struct TnlHeaderParams {
  datapath::TunnelType type = datapath::TunnelType::kVxlan;
  MacAddr eth_src{}, eth_dst{};
  IpAddr src, dst;     // one family
  uint8_t tos = 0;     // outer TOS / traffic class
  uint8_t ttl = 64;
  bool df = true;      // IPv4 don't-fragment
  bool csum = false;   // UDP checksum (IPv4; IPv6 always) / GRE checksum
  uint64_t key = 0;    // VNI (low 24 bits) / GRE key (low 32 bits)
  bool gre_key = false;  // GRE: K bit
  uint16_t udp_dst = 0;  // host order
  const uint8_t* opts = nullptr;  // Geneve options, raw (multiple of 4 bytes)
  uint8_t opts_len = 0;
  uint16_t mtu = 1500;
};

struct TnlHeader {
  datapath::TnlPushInfo info;
  uint8_t bytes[datapath::kTnlHeaderMax] = {};
  uint16_t len = 0;
};

// Error text (header unchanged) for impossible parameters: mixed families,
// no such tunnel type, options too long.
std::optional<std::string> build_tnl_header(const TnlHeaderParams& p, TnlHeader* out);
// Folds one underlay action into the header; false when it cannot be.
bool tnl_header_apply(const datapath::DpAction& a, TnlHeader* h);
// The outer packet's flow key (what the underlay bridge translates).
datapath::FlowKey tnl_outer_key(const TnlHeader& h, uint32_t in_port);

// ARP request "who has tpa, tell spa" from sha (broadcast).
std::vector<uint8_t> build_arp_request(const MacAddr& sha, const IpAddr& spa, const IpAddr& tpa);
// ND neighbour solicitation for target from src, to its solicited-node
// multicast address, with the source link-layer address option.
std::vector<uint8_t> build_nd_ns(const MacAddr& sha, const IpAddr& src, const IpAddr& target);

// One's-complement sum helpers (RFC 1071), for tests and the builders.
uint16_t inet_csum(const uint8_t* p, size_t n, uint32_t seed = 0);

enum class GeneveOptsError : uint8_t { kNone, kMalformed, kCritical, kBadLength };
const char* geneve_opts_error_name(GeneveOptsError e);
// Raw options (raw_len bytes) -> mapped form in *flow (tun_opts at the
// mappings' offsets, tun_md_present bits; tun_opts_len = 0). Options with
// no mapping and no critical bit are ignored. tlv may be null (no
// mappings).
GeneveOptsError geneve_opts_to_mapped(const TlvTable* tlv, const uint8_t* raw, unsigned raw_len,
                                      datapath::FlowKey* flow);
// Mapped form -> raw options (for the outer Geneve header), in index
// order; fields with no mapping any more are left out. Returns the bytes
// written, or -1 when they do not fit in `cap`.
int geneve_opts_from_mapped(const TlvTable* tlv, const datapath::FlowKey& flow, uint8_t* out,
                            unsigned cap);
// The mapping of tun_metadataN / of an option (class, type), or null.
const TlvMapping* tlv_by_index(const TlvTable* tlv, unsigned index);
const TlvMapping* tlv_by_class_type(const TlvTable* tlv, uint16_t opt_class, uint8_t opt_type);

}  // namespace dps::ofproto
