// sflow.h - sFlow version 5 datagrams (sflow.org/sflow_version_5.txt).
//
// What: SflowEncoder turns flow samples (a sampled packet's first bytes:
//   "raw packet header" record, enterprise 0 format 1, plus "extended
//   switch" data, format 1001, when the VLANs are known) and counter samples
//   (generic interface counters, format 1) into sFlow v5 datagrams, with the
//   agent address, sub-agent id, datagram sequence number and uptime.
//   Plain structs in, bytes out: the caller owns sampling, polling and the
//   socket (udp_exporter.h).
// Design: add_*_sample() encodes one sample record at once (XDR: 32-bit
//   big-endian words, opaque data padded to 4 bytes) and numbers it in its
//   data source's sequence (one counter per source for flow samples, one for
//   counter samples, as the spec asks); take() packs the pending records
//   into datagrams of at most max_datagram bytes, each with the next
//   datagram sequence number. As in OVS, a raw header record reports
//   frame_length = packet length + 4 and stripped = 4 (the Ethernet FCS the
//   NIC removed). Data sources are ifIndex sources (type 0) whose index must
//   fit in 24 bits (the compact sample formats); a sample that does not is
//   refused and counted (rejected()).
// Thread-safety: none; one encoder per agent, used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "endpoint.h"

namespace dps::exporter {

inline constexpr uint16_t kSflowPort = 6343;

// The "interface" field of a flow sample (input/output): format in the top
// two bits, value below.
inline constexpr uint32_t kSflowIfUnknown = 0x3FFFFFFF;  // format 0: unknown
constexpr uint32_t sflow_if_index(uint32_t ifindex) { return ifindex & 0x3FFFFFFF; }
// Format 1: the packet was dropped; reason (e.g. 256 = unknown, 258 = ACL).
constexpr uint32_t sflow_if_discard(uint32_t reason) { return 0x40000000u | (reason & 0x3FFFFFFF); }
// Format 2: sent to n interfaces (0: an unknown number).
constexpr uint32_t sflow_if_multiple(uint32_t n) { return 0x80000000u | (n & 0x3FFFFFFF); }

// Enterprise-0 formats (sFlow v5 section 5).
inline constexpr uint32_t kSflowFlowSampleType = 1;
inline constexpr uint32_t kSflowCounterSampleType = 2;
inline constexpr uint32_t kSflowRawHeaderFormat = 1;
inline constexpr uint32_t kSflowExtendedSwitchFormat = 1001;
inline constexpr uint32_t kSflowGenericIfCountersFormat = 1;
inline constexpr uint32_t kSflowHeaderEthernet = 1;  // header_protocol ETHERNET-ISO88023

struct SflowExtendedSwitch {
  uint32_t src_vlan = 0;      // 802.1Q VLAN id of the incoming frame
  uint32_t src_priority = 0;  // 802.1p priority of the incoming frame
  uint32_t dst_vlan = 0;      // of the outgoing frame
  uint32_t dst_priority = 0;
};

struct SflowFlowSample {
  uint32_t source_index = 0;   // ifIndex of the sampling data source (< 2^24)
  uint32_t sampling_rate = 1;  // 1 in N
  uint32_t sample_pool = 0;    // packets that could have been sampled
  uint32_t drops = 0;          // samples lost for lack of resources
  uint32_t input = kSflowIfUnknown;   // interface field (sflow_if_*)
  uint32_t output = kSflowIfUnknown;
  uint32_t frame_length = 0;   // the packet's length as received, without FCS
  std::span<const uint8_t> header;  // its first bytes (cut to header_bytes)
  std::optional<SflowExtendedSwitch> ext_switch;
};

// Generic interface counters (RFC 2233 ifTable / ifXTable semantics).
struct SflowIfCounters {
  uint32_t if_index = 0;
  uint32_t if_type = 6;          // ethernetCsmacd
  uint64_t if_speed = 0;         // bits per second
  uint32_t if_direction = 1;     // 0 unknown, 1 full, 2 half duplex, 3 in, 4 out
  bool admin_up = false;         // ifStatus bit 0
  bool oper_up = false;          // ifStatus bit 1
  uint64_t in_octets = 0;
  uint32_t in_ucast = 0, in_mcast = 0, in_bcast = 0, in_discards = 0, in_errors = 0,
           in_unknown_protos = 0;
  uint64_t out_octets = 0;
  uint32_t out_ucast = 0, out_mcast = 0, out_bcast = 0, out_discards = 0, out_errors = 0;
  uint32_t promiscuous = 0;      // 1 true, 2 false (0: unknown)
};

struct SflowCounterSample {
  uint32_t source_index = 0;  // ifIndex (< 2^24)
  SflowIfCounters ifc;
};

struct SflowAgentConfig {
  IpAddress agent;              // the agent address in every datagram
  uint32_t sub_agent_id = 0;
  size_t max_datagram = 1400;   // UDP payload bytes, >= kSflowMinDatagram
  uint32_t header_bytes = 128;  // raw header bytes kept per sample, 4..256
};
inline constexpr size_t kSflowMinDatagram = 512;

class SflowEncoder {
 public:
  // Throws std::invalid_argument naming the bad setting.
  explicit SflowEncoder(SflowAgentConfig cfg);

  // Encode and queue one sample; false (counted in rejected()) when the
  // source index does not fit in 24 bits.
  bool add_flow_sample(const SflowFlowSample& s);
  bool add_counter_sample(const SflowCounterSample& s);
  size_t pending() const { return pending_.size(); }

  // The pending samples packed into datagrams (none when nothing is
  // pending); uptime_ms is the agent's uptime put into each.
  std::vector<std::vector<uint8_t>> take(uint32_t uptime_ms);

  uint32_t datagrams() const { return datagram_seq_; }  // datagrams made so far
  uint64_t rejected() const { return rejected_; }
  const SflowAgentConfig& config() const { return cfg_; }

 private:
  void begin_datagram(std::vector<uint8_t>& d, uint32_t uptime_ms);
  size_t header_size() const { return cfg_.agent.v6 ? 40 : 28; }

  SflowAgentConfig cfg_;
  std::vector<std::vector<uint8_t>> pending_;  // encoded sample records
  std::map<uint32_t, uint32_t> flow_seq_;      // by source index
  std::map<uint32_t, uint32_t> counter_seq_;
  uint32_t datagram_seq_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace dps::exporter
