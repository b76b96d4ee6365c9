// flow_cache.h - the IPFIX / NetFlow flow cache: sampled packets in, flow
// records out on expiry.
//
// What: FlowCache aggregates sampled packets (FlowFields + length) into
//   flows keyed by (ingress interface, VLAN, ethertype, source and
//   destination address, IP protocol, source and destination port) - the
//   5-tuple, qualified by where it entered - and the direction (an egress
//   sample's flow is also per output port), and emits a FlowRecord when a
//   flow ends: idle for inactive_timeout (flowEndReason 1), older than
//   active_timeout (2; a long flow is reported every active_timeout and goes
//   on as a new record), a TCP FIN or RST (3), flush() (4), or evicted as the
//   least recently used flow when the cache is full (5). Counts are
//   multiplied by `scale` on emission (sampling 1 in N: scale N), so records
//   estimate the real traffic.
// Design: a fixed pool of `capacity` slots allocated up front, a hash map
//   from key to slot (reserved to capacity), and two intrusive lists over
//   the slots: by last packet (its front is the next idle flow) and by
//   creation (its front is the next active timeout), so expire() touches only
//   flows that expire, plus one list head each. Time is whatever the caller
//   passes (ms since the Unix epoch), so the cache is deterministic to test.
// Thread-safety: none; one owner thread (the exporter's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "export_record.h"

namespace dps::exporter {

struct FlowCacheConfig {
  uint64_t active_timeout_ms = 60000;
  uint64_t inactive_timeout_ms = 15000;
  size_t capacity = 65536;  // flows at once (>= 1)
  uint32_t scale = 1;       // multiply packets and bytes by this on emission
  bool tcp_end = true;      // end a TCP flow at FIN/RST
};

struct FlowCacheStats {
  uint64_t packets = 0;    // sampled packets added
  uint64_t flows = 0;      // flows created
  uint64_t records = 0;    // records emitted
  uint64_t evictions = 0;  // flows evicted for lack of room
};

class FlowCache {
 public:
  // Throws std::invalid_argument for a zero capacity, scale or timeout.
  explicit FlowCache(FlowCacheConfig cfg);

  // One sampled packet of `length` bytes at now_ms; records that end because
  // of it (eviction, active timeout, FIN/RST) are appended to *out.
  void add(const FlowFields& f, uint32_t length, uint64_t now_ms, std::vector<FlowRecord>* out);
  // Appends the flows idle or active for too long at now_ms.
  void expire(uint64_t now_ms, std::vector<FlowRecord>* out);
  // Ends every flow (reason kForcedEnd).
  void flush(std::vector<FlowRecord>* out);

  size_t size() const { return map_.size(); }
  const FlowCacheStats& stats() const { return stats_; }
  const FlowCacheConfig& config() const { return cfg_; }

 private:
  struct Key {
    uint32_t in_if;
    uint16_t vlan;
    uint16_t eth_type;
    IpAddress src, dst;
    uint8_t proto;
    uint16_t src_port, dst_port;
    uint8_t direction;  // ingress and egress samples are different flows
    uint32_t out_if;    // egress: per output port (ingress: 0)
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  static constexpr uint32_t kNil = UINT32_MAX;
  // An intrusive doubly linked list over the slots.
  struct Links {
    uint32_t prev = kNil, next = kNil;
  };
  struct List {
    uint32_t head = kNil, tail = kNil;
  };
  struct Slot {
    Key key;
    FlowRecord rec;
    Links lru;      // by last packet
    Links created;  // by creation
  };

  static Key key_of(const FlowFields& f);
  void unlink(List& l, Links Slot::*m, uint32_t i);
  void push_back(List& l, Links Slot::*m, uint32_t i);
  uint32_t create(const Key& k, const FlowFields& f, uint64_t now_ms, std::vector<FlowRecord>* out);
  void end(uint32_t i, FlowEndReason why, std::vector<FlowRecord>* out);

  FlowCacheConfig cfg_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::unordered_map<Key, uint32_t, KeyHash> map_;
  List lru_, created_;
  FlowCacheStats stats_;
};

}  // namespace dps::exporter
