// of_handler.h - OpenFlow 1.3 message dispatch: one decoded request in,
// Ofproto calls, replies and errors out; and the asynchronous messages
// (packet-in, flow-removed, port-status) fanned out to the channels.
//
// What: OfHandler::handle() takes one framed message received on a
// channel, decodes it (of_codec.h), checks the channel's state (HELLO
// negotiated, role), applies it to the Ofproto (flow/group/port/table-mod,
// packet-out, buffered packets) and appends the encoded replies - or the
// OFPT_ERROR with the specification's type/code and the request's first 64
// bytes - to the channel's outbox. publish_async() drains Ofproto's
// packet-ins and removed rules, polls the port set for PORT_STATUS, and
// appends to every channel whose role and async masks ask for each message.
// PacketBufferPool keeps the whole frames of truncated packet-ins (the
// upcall hands the channel the whole frame and the action's max_len) so a
// FLOW_MOD/PACKET_OUT can name them by buffer_id and act on all of it.
//
// Design: the handler holds no sockets; ChannelState is the per-connection
// OpenFlow state (role, async masks, miss_send_len, outbox) that the
// connection manager owns and flushes. The switch-wide state lives here:
// the role generation id, the buffer pool, the last port snapshot. Because
// every Ofproto call is synchronous (it returns after the datapath stopped
// using what changed), a BARRIER is answered at once and still follows
// everything before it. Meters reach Ofproto's meter API in one place
// (of_handler.cc, "Meters").
//
// Thread-safety: the ofproto thread only (the connection manager polls its
// io_context there), so it calls Ofproto directly, without locks.
#pragma once

#include <array>
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "of_codec.h"
#include "of_messages.h"
#include "ofproto.h"

namespace dps::ofproto {

// Packet-in buffers: 256 frames of at most 9 KiB is ~2.3 MiB, enough for a
// controller that answers within a few hundred packet-ins.
inline constexpr size_t kPacketBuffers = 256;
// Frame bytes one PACKET_IN can carry: a 64 KiB message less the header,
// the fixed part and a match with in_port (a larger frame is cut and
// buffered even under OFPCML_NO_BUFFER).
inline constexpr size_t kMaxPacketInData = 65535 - 64;
// Packet-ins taken from Ofproto per publish_async() round (bounds a round).
inline constexpr size_t kPacketInsPerRound = 256;

// Async masks of a new channel (OpenFlow 1.3.5 section 6.1.1 defaults).
AsyncConfig default_async_config();

// The OpenFlow state of one connection.
struct ChannelState {
  uint64_t id = 0;              // connection id (logs)
  std::string peer;             // "127.0.0.1:34567" (logs)
  bool hello_done = false;      // version negotiated
  bool closing = false;         // close once the outbox is flushed
  // Back-pressure: bytes in the connection's send queue (kept by the
  // connection manager) plus the outbox; at soft_limit and above, async
  // messages are dropped.
  size_t queued_bytes = 0;
  size_t outbox_bytes = 0;
  size_t soft_limit = SIZE_MAX;
  ControllerRole role = ControllerRole::kEqual;
  AsyncConfig async = default_async_config();
  uint16_t config_flags = kFragNormal;
  uint16_t miss_send_len = kDefaultMissSendLen;
  std::vector<Bytes> outbox;    // encoded messages to send, in order
  // counters
  uint64_t rx_messages = 0;
  uint64_t errors_sent = 0;
  uint64_t async_dropped = 0;   // packet-ins etc. dropped while congested
  bool is_slave() const { return role == ControllerRole::kSlave; }
  bool congested() const { return queued_bytes + outbox_bytes >= soft_limit; }
  void push(Bytes b) {
    outbox_bytes += b.size();
    outbox.push_back(std::move(b));
  }
};

// Frames of truncated packet-ins, named by buffer id. Ids encode the slot
// (low 8 bits) and a generation, so an id whose slot was reused is stale.
class PacketBufferPool {
 public:
  uint32_t store(uint32_t in_port, std::span<const uint8_t> frame);
  // Takes the frame of `id` (each buffer is used once). Errors:
  // bad_request/buffer_unknown (never issued or overwritten), buffer_empty
  // (already used).
  MaybeError take(uint32_t id, uint32_t* in_port, Bytes* frame);

 private:
  struct Slot {
    uint32_t id = kOfpNoBuffer;
    uint32_t in_port = 0;
    bool full = false;
    Bytes frame;
  };
  std::array<Slot, kPacketBuffers> slots_{};
  uint32_t next_ = 0;  // sequence; id = (seq / kPacketBuffers) << 8 | slot
};

struct HandlerConfig {
  uint64_t datapath_id = 0x0000'0000'0000'0001ull;
  std::string mfr_desc = "dpswitch project";
  std::string hw_desc = "dpswitch userspace switch (DPDK)";
  std::string sw_desc = "dpswitch";
  std::string serial_num = "None";
  std::string dp_desc;  // empty: the bridge name
};

struct HandlerStats {
  uint64_t messages = 0;
  uint64_t errors = 0;
  uint64_t packet_ins = 0;          // sent (summed over channels)
  uint64_t packet_ins_dropped = 0;  // congested channel
  uint64_t flow_removed = 0;
  uint64_t port_status = 0;
};

class OfHandler {
 public:
  using ForEachChannel = std::function<void(const std::function<void(ChannelState&)>&)>;

  OfHandler(Ofproto& ofp, HandlerConfig cfg = {});

  // The channels, for role changes (a new master demotes the others) and
  // async fan-out.
  void set_channels(ForEachChannel each) { each_ = std::move(each); }
  // Bridge.protocols: empty = every version we speak; otherwise HELLO fails
  // (HELLO_FAILED/INCOMPATIBLE) unless it names OpenFlow13.
  void set_protocols(const std::vector<std::string>& protocols) {
    of13_allowed_ = protocols.empty() ||
                    std::find(protocols.begin(), protocols.end(), "OpenFlow13") != protocols.end();
  }

  // The HELLO a new channel sends first.
  static Bytes hello();
  // Handles one framed message received on ch (bytes = header length).
  void handle(ChannelState& ch, std::span<const uint8_t> raw);
  // Packet-ins, flow-removed and port-status for all channels. `check_ports`
  // re-reads the port set (cheap, but not every round).
  void publish_async(bool check_ports);

  const HandlerStats& stats() const { return stats_; }
  PacketBufferPool& buffers() { return buffers_; }

 private:
  void send(ChannelState& ch, uint32_t xid, OfBody body);
  void send_error(ChannelState& ch, const OfError& e, std::span<const uint8_t> raw);
  MaybeError dispatch(ChannelState& ch, const OfMessage& m, std::span<const uint8_t> raw);
  MaybeError on_hello(ChannelState& ch, const OfMessage& m, std::span<const uint8_t> raw);
  MaybeError on_role(ChannelState& ch, uint32_t xid, const RoleRequest& r);
  MaybeError on_flow_mod(const FlowModMsg& fm);
  MaybeError on_packet_out(const PacketOut& po);
  MaybeError on_set_config(ChannelState& ch, const SetConfig& c);
  MaybeError on_table_mod(const TableMod& tm);
  MaybeError on_tlv_table_mod(const TlvTableMod& mod);
  FeaturesReply features() const;

  // --- Multipart: one request in, the reply body out ---
  MaybeError on_multipart(ChannelState& ch, uint32_t xid, const MultipartRequest& req);
  MaybeError multipart_body(const MultipartRequest& req, MultipartReplyBody* body);
  MaybeError flow_stats(const FlowStatsRequest& f, int64_t now, MultipartReplyBody* body);
  MaybeError aggregate(const AggregateRequest& a, MultipartReplyBody* body);
  MaybeError port_stats(const PortStatsRequest& p, int64_t now, MultipartReplyBody* body);
  TableStatsReply table_stats();
  GroupStatsReply group_stats(const GroupStatsRequest& g, int64_t now) const;
  GroupDescReply group_desc() const;
  // The rules a flow-stats / aggregate request selects, as dump-flows orders them.
  MaybeError flow_filter(const FlowStatsRequest& f, std::vector<RulePtr>* rules);
  TableFeaturesReply table_features() const;
  void deliver(const std::function<bool(ChannelState&)>& wants, OfBody body, bool droppable,
               uint64_t* counter);
  void poll_ports();

  // --- Meters (the one place that calls Ofproto's meter API) ---
  MaybeError meter_mod(const MeterMod& mm);
  MeterStatsReply meter_stats(uint32_t meter_id);
  MeterConfigReply meter_config(uint32_t meter_id);
  MeterFeaturesReply meter_features() const;

  Ofproto& ofp_;
  HandlerConfig cfg_;
  ForEachChannel each_;
  bool of13_allowed_ = true;
  PacketBufferPool buffers_;
  HandlerStats stats_;
  bool generation_set_ = false;
  uint64_t generation_id_ = 0;
  std::map<uint32_t, PortDesc> ports_;  // last snapshot, for PORT_STATUS
  int64_t start_ms_ = 0;
};

}  // namespace dps::ofproto
