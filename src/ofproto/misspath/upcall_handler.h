// upcall_handler.h - the miss path: PMD misses in, megaflows and first
// packets back out.
//
// What: UpcallHandler::run() drains every PMD's miss ring (bursts, up to
// kUpcallBatch upcalls per round), groups packets with equal keys on the
// same PMD into one miss (Open vSwitch's flow_miss batching), translates
// each miss once starting in the bridge that owns its in_port (BridgeMap:
// several bridges share the datapath; NORMAL learns here), installs the
// megaflow (key & mask, mask, actions) on the PMD that missed and hands the
// group's packets back to that PMD with the actions, so the first packets
// are forwarded. Userspace upcalls (CONTROLLER actions, table-miss to
// controller) become packet-in records in a bounded, rate-limited queue
// that the OpenFlow channel of each bridge takes with take_packet_ins():
// a packet-in belongs to the bridge whose table sent it.
//
// Design, a round's phases (as ofproto-dpif-upcall.c's handler):
//   1. kDrain:     copy up to kUpcallBatch records out of the miss rings;
//   2. kGroup:     open-addressing table keyed by (pmd, hash, key): each
//                  group is one miss, its packets chained in arrival order;
//   3. kTranslate: per miss, first the ukey of an install in flight that
//                  already covers the key (find_covering: no translation at
//                  all); else xlate, then the exact ukey lookup by (pmd,
//                  masked key, mask) - an equal megaflow being installed
//                  is not installed twice;
//   4. kInstall:   a new ukey and post_install_execute (one command: the
//                  PMD inserts the megaflow, then runs the group's first 32
//                  packets with its actions), unless the flow limit is
//                  reached (then the packets are only executed);
//   5. kExecute:   post_execute of the group's other packets, 32 per command.
// The first packets are not counted by the megaflow, so the miss accounts
// them to the rules itself (xlate's `account` option).
//
// Thread-safety: the ofproto thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <memory>
#include <string>
#include <vector>

#include "bridge.h"
#include "dp_interface.h"
#include "ukey.h"
#include "upcall.h"

namespace dps::ofproto {

// 1024 upcalls per round: a full miss ring of one PMD is 4096, so a storm
// drains in a few rounds while each round's latency stays ~1 ms.
inline constexpr unsigned kUpcallBatch = 1024;
// Default flow limit (installed megaflows over all PMDs), as OVS's.
inline constexpr size_t kDefaultFlowLimit = 200'000;

// A packet for the controller, queued until the OpenFlow channel takes it
// (not the wire message: that is of_messages.h PacketIn).
struct PacketInEvent {
  const Bridge* bridge = nullptr;  // whose table sent it (its controllers get it)
  PacketInReason reason = PacketInReason::kAction;
  uint8_t table_id = 0;
  uint64_t cookie = 0;
  uint32_t in_port = 0;      // OpenFlow port number
  uint32_t total_len = 0;    // frame length
  std::vector<uint8_t> data;  // the whole frame: the channel cuts it and buffers it
  uint16_t max_len = kControllerNoBuffer;  // output:CONTROLLER max_len (xlate.h ControllerEvent)
  bool use_miss_send_len = false;          // no action: the channel's miss_send_len applies
  // The packet's flow key for its tunnel metadata (words 18..31; tun_metadata
  // in the OpenFlow, TLV-mapped form): the packet-in's match carries it.
  // All zero for a packet that did not arrive through a tunnel.
  datapath::FlowKey tunnel{};
};

// A packet a kSample action picked (sample_slots.h), queued until the
// daemon's sampling agents take it (take_samples).
inline constexpr uint32_t kSampleHeaderMax = 256;  // bytes of the packet kept
struct SampleEvent {
  uint16_t slot = 0;               // the sampler (BridgeSampler::slot)
  datapath::DpSampleCookie cookie{};
  uint32_t in_port = 0;            // datapath port it arrived on
  uint32_t frame_len = 0;          // the packet's length
  std::vector<uint8_t> header;     // its first min(frame_len, kSampleHeaderMax) bytes
  datapath::FlowKey key{};         // as the PMD extracted it
};

struct UpcallConfig {
  size_t flow_limit = kDefaultFlowLimit;
  // Packet-ins: token bucket (OVS controller_rate_limit / burst_limit) and
  // the queue the OpenFlow channel drains; beyond either they are dropped
  // and counted.
  double packet_in_rate = 1000;  // per second
  double packet_in_burst = 100;
  size_t packet_in_queue = 1024;
  size_t sample_queue = 4096;    // samples waiting for take_samples; beyond, dropped and counted
};

struct UpcallStats {
  uint64_t upcalls = 0;          // records drained (miss + userspace)
  uint64_t misses = 0;           // groups of equal keys
  uint64_t xlates = 0;
  uint64_t installs = 0;         // megaflows posted
  uint64_t covered = 0;          // misses served by a ukey already being installed
  uint64_t flow_limit_hits = 0;  // misses not installed because of the flow limit
  uint64_t install_failures = 0;
  uint64_t execute_failures = 0; // command ring full: packets dropped
  uint64_t xlate_errors = 0;
  uint64_t xlate_limit_drops = 0;  // packets dropped: resubmit depth/count, frozen states full
  uint64_t restore_wait_drops = 0;  // packets dropped untranslated under flow-restore-wait
  uint64_t userspace = 0;
  uint64_t slow_protocol = 0;    // slow-protocol frames (LACP) given to the slow path
  uint64_t packet_ins = 0;
  uint64_t packet_ins_rate_dropped = 0;
  uint64_t packet_ins_queue_dropped = 0;
  uint64_t samples = 0;          // kSample upcalls queued
  uint64_t samples_dropped = 0;  // kSample upcalls dropped: sample queue full
  uint64_t busy_ns = 0;          // time spent handling drained upcalls (wall clock)
  uint64_t cpu_ns = 0;           // the same, CPU time of the ofproto thread (less
                                 // than busy_ns when the core is shared)
};

class UpcallHandler {
 public:
  UpcallHandler(const BridgeMap& bridges, UkeyTable& ukeys, DpInterface& dp, ControllerEventTable& events,
                const UpcallConfig& cfg = {});

  // One round (phases above). Returns the number of upcalls handled.
  unsigned run(int64_t now_ms);

  // Oldest first, at most max, of bridge b (null: of every bridge).
  std::vector<PacketInEvent> take_packet_ins(const Bridge* b, size_t max);
  // Drops the queued packet-ins of b (the bridge is being removed).
  void drop_packet_ins(const Bridge* b);
  size_t pending_packet_ins() const { return packet_ins_.size(); }
  // The queued samples, oldest first (all of them; the queue is bounded).
  std::vector<SampleEvent> take_samples();

  const UpcallStats& stats() const { return stats_; }
  // Where slow-protocol frames (ControllerEventTable::kSlowProtocol: LACP
  // on bond members) go: (datapath in_port, frame). Unset: dropped.
  using SlowProtocolRx = std::function<void(uint32_t dp_port, std::span<const uint8_t> frame)>;
  void set_slow_protocol_rx(SlowProtocolRx f) { slow_rx_ = std::move(f); }
  void set_flow_limit(size_t n) { cfg_.flow_limit = n; }
  // Open_vSwitch other_config:flow-restore-wait (as OVS): while set, misses
  // are dropped (counted) without translation and no megaflow is installed,
  // so nothing forwards through a pipeline the controller is still
  // restoring; flow-mods are accepted meanwhile.
  void set_flow_restore_wait(bool on) { restore_wait_ = on; }
  bool flow_restore_wait() const { return restore_wait_; }
  size_t flow_limit() const { return cfg_.flow_limit; }
  void set_flow_stats_hook(FlowStatsHook h) { stats_hook_ = std::move(h); }
  const UpcallConfig& config() const { return cfg_; }

 private:
  struct Group {
    uint32_t first;  // index into ups_ of the first packet
    uint32_t last;
    uint32_t n;
  };
  void group_misses(unsigned n, int64_t now_ms);
  void handle_miss(const Group& g, int64_t now_ms);
  void handle_userspace(const datapath::Upcall& u, int64_t now_ms);
  void handle_sample(const datapath::Upcall& u);
  void slow_protocol(const datapath::Upcall& u);
  // Executes the group's packets from index `from` on (default: all).
  void execute(const Group& g, const datapath::DpActions& actions) {
    execute(g, actions, g.first);
  }
  void execute(const Group& g, const datapath::DpActions& actions, uint32_t from);
  void install_failed(uint16_t pmd, int rc, const datapath::FlowKey& masked,
                      const datapath::FlowMask& mask);
  bool admit_packet_in(int64_t now_ms);

  const BridgeMap& bridges_;
  UkeyTable& ukeys_;
  DpInterface& dp_;
  ControllerEventTable& events_;
  UpcallConfig cfg_;
  bool restore_wait_ = false;
  SlowProtocolRx slow_rx_;
  UpcallStats stats_;
  uint64_t next_ufid_;

  std::vector<datapath::Upcall> ups_;   // kUpcallBatch records
  std::vector<uint32_t> next_;          // chain of a group's packets
  std::vector<Group> groups_;
  std::vector<uint32_t> slots_;         // open addressing: group index + 1, 0 = empty
  std::vector<uint32_t> used_slots_;

  std::deque<PacketInEvent> packet_ins_;
  std::vector<SampleEvent> samples_;
  FlowStatsHook stats_hook_;
  double tokens_;
  int64_t tokens_ms_ = 0;
};

}  // namespace dps::ofproto
