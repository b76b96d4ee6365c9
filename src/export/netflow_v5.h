// netflow_v5.h - NetFlow version 5 export datagrams (Cisco's fixed format,
// as OVS still sends it for the NetFlow table).
//
// What: NetflowV5Encoder turns IPv4 FlowRecords into NetFlow v5 datagrams:
//   a 24-byte header (version 5, count, sys_uptime, unix_secs/nsecs,
//   flow_sequence, engine type/id, sampling mode and interval) and up to 30
//   48-byte records (addresses, next hop 0, input/output interface, packets,
//   octets, first/last in sys_uptime milliseconds, ports, TCP flags,
//   protocol, TOS; AS numbers and masks 0).
// Design: v5 has IPv4 and 16/32-bit fields only: records of other families
//   are skipped, an interface above 65535 is written as 0 and a count above
//   2^32-1 as 2^32-1, each counted (skipped(), clamped()). flow_sequence is
//   the number of records exported before the datagram. Times are
//   milliseconds since the Unix epoch; sys_uptime is now - boot. Announce
//   a sampling interval only for records with sampled (unscaled) counts:
//   collectors (nfcapd) scale by it, so counts a FlowCache already scaled
//   (FlowCacheConfig::scale) go with sampling_interval 0.
// Thread-safety: none; one encoder per exporter.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "export_record.h"

namespace dps::exporter {

inline constexpr uint16_t kNetflowPort = 2055;
inline constexpr size_t kNetflowV5HeaderBytes = 24;
inline constexpr size_t kNetflowV5RecordBytes = 48;
inline constexpr unsigned kNetflowV5MaxRecords = 30;

struct NetflowV5Config {
  uint8_t engine_type = 0;
  uint8_t engine_id = 0;
  uint16_t sampling_interval = 0;  // 1 in N packet sampling (0: none), < 2^14
  uint64_t boot_ms = 0;            // the exporter's start, ms since the Unix epoch
};

class NetflowV5Encoder {
 public:
  // Throws std::invalid_argument for a sampling interval of 2^14 or more.
  explicit NetflowV5Encoder(NetflowV5Config cfg);

  std::vector<std::vector<uint8_t>> encode(std::span<const FlowRecord> records, uint64_t now_ms);

  uint32_t sequence() const { return seq_; }  // records exported so far
  uint64_t skipped() const { return skipped_; }  // non-IPv4 records
  uint64_t clamped() const { return clamped_; }  // fields that did not fit

 private:
  void put_record(std::vector<uint8_t>& d, const FlowRecord& r);
  uint32_t uptime(uint64_t ms) const;

  NetflowV5Config cfg_;
  uint32_t seq_ = 0;
  uint64_t skipped_ = 0;
  uint64_t clamped_ = 0;
};

}  // namespace dps::exporter
