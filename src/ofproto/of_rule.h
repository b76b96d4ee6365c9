// of_rule.h - one OpenFlow flow entry, and the flow-mod request that
// creates, changes or removes entries.
//
// What: a Rule is (table, priority, match, cookie, timeouts, flags,
// instructions) plus its life: creation and last-use times for the timeouts
// and packet/byte counters. FlowMod is the C++ form of OFPT_FLOW_MOD, called
// by the OpenFlow channel, the rule-file loader and the config client.
//
// Design: rules are shared_ptr so that installed-flow records (ukeys) and
// in-progress translations can keep the rules they came from; `live` turns
// false when a rule leaves its table, which is how a holder learns that its
// rule no longer applies. A rule's match and priority never change after it
// is created (a modify changes instructions and cookie-free state only;
// an add with the same match and priority replaces the rule object).
// Times are milliseconds on the owner's clock (injected: every call that
// needs the time takes `now_ms`).
//
// Thread-safety: owned by the ofproto thread; nothing here is shared with
// PMDs (megaflow counters reach rules through the ukeys, on that thread).
#pragma once

#include <cstdint>
#include <memory>

#include "of_actions.h"
#include "of_match.h"

namespace dps::ofproto {

// ofp_flow_mod_flags
enum FlowModFlags : uint16_t {
  kFlagSendFlowRem = 1 << 0,
  kFlagCheckOverlap = 1 << 1,
  kFlagResetCounts = 1 << 2,
  kFlagNoPktCounts = 1 << 3,
  kFlagNoBytCounts = 1 << 4,
};

// ofp_flow_removed_reason
enum class RemovedReason : uint8_t {
  kIdleTimeout = 0,
  kHardTimeout = 1,
  kDelete = 2,
  kGroupDelete = 3,
};

// Default priority of an OpenFlow flow-mod that gives none (OFP_DEFAULT_PRIORITY).
inline constexpr uint16_t kDefaultPriority = 0x8000;

struct Rule : std::enable_shared_from_this<Rule> {
  uint64_t id = 0;  // unique within a Pipeline, never reused
  uint8_t table_id = 0;
  uint16_t priority = kDefaultPriority;
  OfMatch match;
  uint64_t cookie = 0;
  uint16_t idle_timeout = 0;  // seconds, 0 = none
  uint16_t hard_timeout = 0;  // seconds, 0 = none
  uint16_t flags = 0;         // FlowModFlags
  Instructions instructions;

  int64_t created_ms = 0;   // for duration and the hard timeout
  int64_t modified_ms = 0;  // last add/modify
  int64_t used_ms = 0;      // last packet (or created_ms), for the idle timeout
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  bool live = false;        // in its table now

  // Adds traffic seen by megaflows translated through this rule.
  void account(uint64_t packets, uint64_t bytes, int64_t now_ms) {
    if (!(flags & kFlagNoPktCounts)) packet_count += packets;
    if (!(flags & kFlagNoBytCounts)) byte_count += bytes;
    if (packets && now_ms > used_ms) used_ms = now_ms;
  }
  // The reason this rule expires at now_ms, if it does.
  std::optional<RemovedReason> expired(int64_t now_ms) const {
    if (hard_timeout && now_ms >= created_ms + int64_t{hard_timeout} * 1000)
      return RemovedReason::kHardTimeout;
    if (idle_timeout && now_ms >= used_ms + int64_t{idle_timeout} * 1000)
      return RemovedReason::kIdleTimeout;
    return std::nullopt;
  }
};
using RulePtr = std::shared_ptr<Rule>;

enum class FlowModCommand : uint8_t {
  kAdd = 0,           // OFPFC_ADD
  kModify = 1,        // OFPFC_MODIFY
  kModifyStrict = 2,  // OFPFC_MODIFY_STRICT
  kDelete = 3,        // OFPFC_DELETE
  kDeleteStrict = 4,  // OFPFC_DELETE_STRICT
};

struct FlowMod {
  FlowModCommand command = FlowModCommand::kAdd;
  uint8_t table_id = 0;  // kTableAll allowed for delete (and modify, as OVS does)
  uint16_t priority = kDefaultPriority;
  OfMatch match;
  uint64_t cookie = 0;
  uint64_t cookie_mask = 0;  // modify/delete: only rules with (cookie & mask) == (rule.cookie & mask)
  uint16_t idle_timeout = 0;
  uint16_t hard_timeout = 0;
  uint16_t flags = 0;
  uint32_t out_port = kPortAny;    // delete: only rules that output to this port
  uint32_t out_group = kGroupAny;  // delete: only rules that output to this group
  Instructions instructions;
};

}  // namespace dps::ofproto
