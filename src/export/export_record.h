// export_record.h - one flow as the IPFIX and NetFlow exporters report it, and
// the fields a sampled packet contributes to it.
//
// What: FlowFields are a packet's key fields (ingress interface, VLAN,
//   ethertype, IP addresses, protocol, L4 ports) plus the non-key fields a
//   record carries (MACs, TOS, TCP flags, egress interface). FlowRecord is
//   a finished flow: fields, packet and byte counts, first/last packet
//   times (milliseconds since the Unix epoch) and why it ended.
// Design: plain values in host byte order (MACs and addresses as on the
//   wire). ICMP and ICMPv6 follow NetFlow's convention: src_port 0,
//   dst_port = type << 8 | code. Non-IP flows (ARP, ...) have unspecified
//   addresses and ports; eth_type tells them apart.
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>

#include "endpoint.h"

namespace dps::exporter {

inline constexpr uint16_t kEthTypeIpv4 = 0x0800;
inline constexpr uint16_t kEthTypeIpv6 = 0x86dd;
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpRst = 0x04;

// IPFIX flowDirection (IANA IE 61): sampled as it entered the switch, or
// at an output port (an egress record names that port).
inline constexpr uint8_t kFlowIngress = 0;
inline constexpr uint8_t kFlowEgress = 1;

struct FlowFields {
  uint32_t in_if = 0;       // ingress interface (datapath port number)
  uint32_t out_if = 0;      // egress interface (0: none / unknown)
  uint16_t vlan = 0;        // 802.1Q VLAN id, 0: untagged
  uint16_t eth_type = 0;    // after the VLAN tags
  std::array<uint8_t, 6> src_mac{};
  std::array<uint8_t, 6> dst_mac{};
  IpAddress src;            // IPv4 / IPv6 flows
  IpAddress dst;
  uint8_t proto = 0;        // IP protocol
  uint8_t tos = 0;          // IPv4 TOS / IPv6 traffic class
  uint16_t src_port = 0;    // TCP/UDP/SCTP; ICMP: 0
  uint16_t dst_port = 0;    // TCP/UDP/SCTP; ICMP: type << 8 | code
  uint8_t tcp_flags = 0;    // TCP flags (FIN 0x01 ... CWR 0x80)
  uint8_t direction = kFlowIngress;  // IPFIX flowDirection: where the packet was observed

  bool is_ipv4() const { return eth_type == kEthTypeIpv4; }
  bool is_ipv6() const { return eth_type == kEthTypeIpv6; }
};

// IPFIX flowEndReason (IANA IE 136) values.
enum class FlowEndReason : uint8_t {
  kIdleTimeout = 1,
  kActiveTimeout = 2,
  kEndOfFlow = 3,       // TCP FIN or RST seen
  kForcedEnd = 4,       // flush (exporter shutdown or reconfiguration)
  kLackOfResources = 5, // evicted from a full cache
};

struct FlowRecord {
  FlowFields f;           // key fields; MACs/TOS of the first packet, OR of TCP flags
  uint64_t packets = 0;
  uint64_t bytes = 0;     // layer-2 bytes (frame lengths without FCS)
  uint64_t start_ms = 0;  // first packet, ms since the Unix epoch
  uint64_t end_ms = 0;    // last packet
  FlowEndReason reason = FlowEndReason::kIdleTimeout;
};

}  // namespace dps::exporter
