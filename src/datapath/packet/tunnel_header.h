// tunnel_header.h - the vocabulary of native tunneling shared by the slow
// path (which builds outer headers) and the PMD (which copies them).
//
// What: TunnelType names the encapsulations; TnlPushInfo describes a
// pre-built outer header (Ethernet + IPv4/IPv6 + UDP/GRE + VXLAN/Geneve)
// that a kTnlPush action carries inline in the flow's action list (see
// actions.h): where its IP and L4 headers start, which fields the PMD fills
// per packet, and the underlay MTU for the oversize check.
//
// Design: like OVS's ovs_action_push_tnl: the header is complete except for
// the per-packet fields (IP total/payload length, IPv4 identification and
// checksum, UDP length, source port and checksum, GRE checksum), so the
// PMD does one copy and a few stores. An IPv4 template has total length
// and identification 0 and its header checksum computed over those zeros:
// the PMD adds the real values to it. The UDP source port is taken from the
// inner flow's hash in [udp_src_min, udp_src_max] (ECMP entropy, as in
// OVS: 32768..61000 by default).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>

namespace dps::datapath {

enum class TunnelType : uint8_t { kNone = 0, kVxlan = 1, kGeneve = 2, kGre = 3 };

inline const char* tunnel_type_str(TunnelType type) {
  switch (type) {
    case TunnelType::kVxlan: return "vxlan";
    case TunnelType::kGeneve: return "geneve";
    case TunnelType::kGre: return "gre";
    default: return "none";
  }
}

inline constexpr uint16_t kVxlanPort = 4789;
inline constexpr uint16_t kGenevePort = 6081;
inline constexpr uint8_t kIpProtoGre = 47;

// Largest outer header: Ethernet + VLAN (18) + IPv6 (40) + UDP (8) + Geneve
// (8) + kTunOptsMax (48) = 122.
inline constexpr unsigned kTnlHeaderMax = 128;

enum TnlPushFlag : uint8_t {
  kTnlOuterIpv6 = 1 << 0,  // outer header is IPv6 (else IPv4)
  kTnlUdpCsum = 1 << 1,    // compute the outer UDP checksum (IPv6 always does)
  kTnlGreCsum = 1 << 2,    // GRE header has the C bit: compute its checksum
};

// Fits DpAction::data (16 bytes).
struct TnlPushInfo {
  TunnelType type = TunnelType::kNone;
  uint8_t flags = 0;         // TnlPushFlag
  uint8_t l3_ofs = 14;       // offset of the outer IP header
  uint8_t l4_ofs = 34;       // offset of the UDP / GRE header
  uint16_t udp_src_min = 32768;  // host order
  uint16_t udp_src_max = 61000;  // host order
  uint16_t mtu = 1500;       // underlay port MTU: larger encapsulated packets are dropped
  uint8_t pad[6] = {};
};
static_assert(sizeof(TnlPushInfo) == 16);

}  // namespace dps::datapath
