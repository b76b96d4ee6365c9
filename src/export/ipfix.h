// ipfix.h - IPFIX (RFC 7011) messages: templates and data records for the
// flow records of flow_cache.h.
//
// What: IpfixEncoder turns FlowRecords into IPFIX messages (version 10)
//   for one observation domain: a template set announcing three templates
//   and data sets using them:
//     256 IPv4: sourceMacAddress(56), destinationMacAddress(80),
//         ethernetType(256), vlanId(58), sourceIPv4Address(8),
//         destinationIPv4Address(12), protocolIdentifier(4),
//         ipClassOfService(5), tcpControlBits(6), sourceTransportPort(7),
//         destinationTransportPort(11), ingressInterface(10),
//         egressInterface(14), packetDeltaCount(2), octetDeltaCount(1),
//         flowStartMilliseconds(152), flowEndMilliseconds(153),
//         flowEndReason(136);
//     257 IPv6: the same with sourceIPv6Address(27) and
//         destinationIPv6Address(28);
//     258 other ethertypes: the L2 fields, interfaces, counts, times and
//         end reason.
//   (IANA "IPFIX Information Elements" numbers, all with their standard
//   lengths, no enterprise numbers.)
// Design: messages are at most max_message bytes (UDP: keep them under the
//   path MTU); records of one template are grouped into one set while they
//   come in a row. The header's sequence number counts the data records
//   sent before the message (RFC 7011 section 3.1). Over UDP templates must
//   be re-sent periodically (section 8.4): they go at the head of the first
//   message of an encode() call that comes template_refresh_s or more after
//   the last time (always in the first message, and after
//   resend_templates()). No padding.
// Thread-safety: none; one encoder per exporter.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "export_record.h"

namespace dps::exporter {

inline constexpr uint16_t kIpfixPort = 4739;
inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr uint16_t kIpfixTemplateSetId = 2;
inline constexpr uint16_t kIpfixTemplateIpv4 = 256;
inline constexpr uint16_t kIpfixTemplateIpv6 = 257;
inline constexpr uint16_t kIpfixTemplateL2 = 258;
inline constexpr size_t kIpfixHeaderBytes = 16;
inline constexpr size_t kIpfixMinMessage = 512;

// IANA IPFIX information element ids used by the templates.
namespace ie {
inline constexpr uint16_t kOctetDeltaCount = 1;
inline constexpr uint16_t kPacketDeltaCount = 2;
inline constexpr uint16_t kProtocolIdentifier = 4;
inline constexpr uint16_t kIpClassOfService = 5;
inline constexpr uint16_t kTcpControlBits = 6;
inline constexpr uint16_t kSourceTransportPort = 7;
inline constexpr uint16_t kSourceIpv4Address = 8;
inline constexpr uint16_t kIngressInterface = 10;
inline constexpr uint16_t kDestinationTransportPort = 11;
inline constexpr uint16_t kDestinationIpv4Address = 12;
inline constexpr uint16_t kEgressInterface = 14;
inline constexpr uint16_t kSourceIpv6Address = 27;
inline constexpr uint16_t kFlowDirection = 61;  // 0 ingress, 1 egress
inline constexpr uint16_t kDestinationIpv6Address = 28;
inline constexpr uint16_t kSourceMacAddress = 56;
inline constexpr uint16_t kVlanId = 58;
inline constexpr uint16_t kDestinationMacAddress = 80;
inline constexpr uint16_t kFlowEndReason = 136;
inline constexpr uint16_t kFlowStartMilliseconds = 152;
inline constexpr uint16_t kFlowEndMilliseconds = 153;
inline constexpr uint16_t kEthernetType = 256;
}  // namespace ie

struct IpfixConfig {
  uint32_t observation_domain = 0;
  size_t max_message = 1400;        // bytes, >= kIpfixMinMessage
  uint32_t template_refresh_s = 600;  // 0: templates in every message
};

// A template field: information element id and length in bytes.
struct IpfixFieldSpec {
  uint16_t id;
  uint16_t length;
};

class IpfixEncoder {
 public:
  // Throws std::invalid_argument for a max_message below kIpfixMinMessage.
  explicit IpfixEncoder(IpfixConfig cfg);

  // The records as IPFIX messages (none for no records), exported at
  // export_time_s (seconds since the Unix epoch).
  std::vector<std::vector<uint8_t>> encode(std::span<const FlowRecord> records, uint32_t export_time_s);
  void resend_templates() { templates_due_ = true; }

  uint32_t sequence() const { return seq_; }  // data records exported so far (mod 2^32)
  uint64_t messages() const { return messages_; }

  // The fields of template `id` (256..258) in order; empty for another id.
  static std::span<const IpfixFieldSpec> template_fields(uint16_t id);
  // The template a record is exported with.
  static uint16_t template_for(const FlowRecord& r);

 private:
  struct Builder;
  bool templates_now(uint32_t export_time_s) const;

  IpfixConfig cfg_;
  uint32_t seq_ = 0;
  uint64_t messages_ = 0;
  bool templates_due_ = true;
  std::optional<uint32_t> templates_sent_s_;
};

}  // namespace dps::exporter
