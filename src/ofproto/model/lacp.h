// lacp.h - IEEE 802.1AX Link Aggregation Control Protocol on the slow
// path, as OVS's lacp.c: LACPDU encoding, and the actor / partner state of
// each member of one bond.
//
// What: parse_lacpdu / build_lacpdu turn an Ethernet frame (slow
// protocols ethertype 0x8809, subtype 1, to 01:80:c2:00:00:02) into an
// Lacpdu and back. Lacp holds, per member, what the partner last said
// (its actor information: system priority and id, key, port priority and
// number, state bits), the receive status (current / expired /
// defaulted) and the transmit timer. rx() takes a received LACPDU, run()
// the timers, take_tx() the LACPDUs due now (periodic: every 1 s when the
// partner asked for the short timeout, else 30 s; at once when the partner
// has stale information about us, need-to-transmit), may_enable() says
// whether a member may carry traffic.
//
// Design: OVS's rules. A member's partner information expires after 3
// intervals of our own requested rate (3 s fast, 90 s slow): it becomes
// EXPIRED (one more interval, partner marked short-timeout) and then
// DEFAULTED (partner forgotten). The lead is the member whose partner has
// the best (priority, system id) among non-defaulted members; a member is
// attached when it is not defaulted and its partner has the lead's system
// id and key and is aggregatable, so a member cabled to another aggregator
// (a different system or key) stays out. may_enable = attached and the
// partner in sync, or (lacp-fallback-ab) every member while no partner
// answers at all (the bond then runs active-backup). Passive mode only
// transmits to a partner that is active. Pure logic: times are arguments.
//
// Thread-safety: owned by the control (ofproto) thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dps::ofproto {

inline constexpr uint16_t kEthTypeSlow = 0x8809;
inline constexpr uint8_t kSlowSubtypeLacp = 1;
inline constexpr size_t kLacpduFrameLen = 124;  // 14 + 110

// Actor / partner state bits.
enum : uint8_t {
  kLacpActivity = 1 << 0,
  kLacpTimeout = 1 << 1,  // short timeout (fast)
  kLacpAggregation = 1 << 2,
  kLacpSync = 1 << 3,
  kLacpCollecting = 1 << 4,
  kLacpDistributing = 1 << 5,
  kLacpDefaulted = 1 << 6,
  kLacpExpired = 1 << 7,
};

struct LacpInfo {
  uint16_t sys_priority = 0;
  std::array<uint8_t, 6> sys_id{};
  uint16_t key = 0;
  uint16_t port_priority = 0;
  uint16_t port = 0;
  uint8_t state = 0;
  bool operator==(const LacpInfo&) const = default;
  // Same aggregation partner: system and key (the state and port aside).
  bool same_aggregator(const LacpInfo& o) const {
    return sys_priority == o.sys_priority && sys_id == o.sys_id && key == o.key;
  }
};

struct Lacpdu {
  LacpInfo actor;
  LacpInfo partner;
  uint16_t collector_max_delay = 0;
};

// nullopt when the frame is not a well-formed LACPDU (why in *error).
std::optional<Lacpdu> parse_lacpdu(std::span<const uint8_t> frame, std::string* error);
// The whole Ethernet frame (kLacpduFrameLen bytes) from src_mac.
std::vector<uint8_t> build_lacpdu(const std::array<uint8_t, 6>& src_mac, const Lacpdu& pdu);
// "ACT,TIMEOUT,AGG,SYNC,COL,DIST,DEF,EXP" as set in state.
std::string lacp_state_text(uint8_t state);

enum class LacpRxStatus : uint8_t { kCurrent, kExpired, kDefaulted };
const char* lacp_rx_status_name(LacpRxStatus s);

struct LacpSettings {
  std::array<uint8_t, 6> sys_id{};
  uint16_t sys_priority = 65534;
  uint16_t key = 0;
  bool active = true;       // lacp=active (else passive)
  bool fast = false;        // lacp-time=fast
  bool fallback_ab = false; // lacp-fallback-ab
  bool operator==(const LacpSettings&) const = default;
};

struct LacpMemberState {
  uint16_t port = 0;                 // our port number in LACPDUs
  std::array<uint8_t, 6> mac{};      // source MAC of its LACPDUs
  LacpRxStatus status = LacpRxStatus::kDefaulted;
  LacpInfo partner;                  // what the partner said about itself
  LacpInfo partner_view;             // what the partner said about us
  bool attached = false;
  bool ntt = true;                   // need to transmit
  int64_t rx_deadline = -1;          // ms: the status ages at this time
  int64_t next_tx = 0;               // ms: the next periodic LACPDU
  uint64_t rx_pdus = 0, tx_pdus = 0, rx_bad = 0;
  uint64_t expired = 0, defaulted = 0;  // times the partner information expired / was forgotten
};

class Lacp {
 public:
  static constexpr int64_t kFastMs = 1000, kSlowMs = 30000, kRxMultiplier = 3;

  void configure(const LacpSettings& s);
  const LacpSettings& settings() const { return s_; }
  // Members by id (the caller's: the datapath port number).
  void set_member(uint32_t id, uint16_t port, const std::array<uint8_t, 6>& mac);
  void remove_member(uint32_t id);
  // A received LACPDU (the frame; a malformed one is counted).
  void rx(uint32_t id, std::span<const uint8_t> frame, int64_t now_ms);
  void rx_pdu(uint32_t id, const Lacpdu& pdu, int64_t now_ms);
  // Member id's carrier changed. As OVS's lacp_member_carrier_changed: a
  // member with a current partner, or in an active bond one with expired
  // partner information, has it expired (short timeout, out of sync); a
  // defaulted member has none. Every member transmits now. A partner that cannot see carrier itself
  // (OVS-DPDK over af_packet) re-aggregates at once instead of after its
  // slow-rate timeout. Returns true when attachment changed.
  bool carrier_changed(uint32_t id, int64_t now_ms);
  // Timers: rx expiry. Returns true when attachment changed.
  bool run(int64_t now_ms);
  // The LACPDUs due at now_ms: (member id, frame).
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> take_tx(int64_t now_ms);
  bool may_enable(uint32_t id) const;
  // Some member has a partner (not defaulted).
  bool negotiated() const { return negotiated_; }
  const std::map<uint32_t, LacpMemberState>& members() const { return members_; }
  // Our actor information as sent on member id.
  LacpInfo actor_info(uint32_t id) const;

 private:
  void update_attached();

  LacpSettings s_;
  std::map<uint32_t, LacpMemberState> members_;
  bool negotiated_ = false;
};

}  // namespace dps::ofproto
