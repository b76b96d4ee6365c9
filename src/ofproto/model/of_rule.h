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

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>

#include "of_flow_mod.h"
#include "of_messages.h"

namespace dps::ofproto {

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

// What a flow-stats entry and a flow-removed message both say of a rule
// at now_ms: where it is, its age, timeouts, cookie, raw counters and match.
template <typename Msg>
Msg describe_rule(const Rule& r, int64_t now_ms) {
  Msg m;
  m.table_id = r.table_id;
  split_ms(now_ms - r.created_ms, &m.duration_sec, &m.duration_nsec);
  m.priority = r.priority;
  m.idle_timeout = r.idle_timeout;
  m.hard_timeout = r.hard_timeout;
  m.cookie = r.cookie;
  m.packet_count = r.packet_count;
  m.byte_count = r.byte_count;
  m.match = r.match;
  return m;
}

// The flow-stats entry of a rule at now_ms, with its raw counters (the
// OpenFlow reply replaces counters the rule does not keep by all-ones).
inline FlowStats rule_flow_stats(const Rule& r, int64_t now_ms) {
  FlowStats s = describe_rule<FlowStats>(r, now_ms);
  s.flags = r.flags;
  s.instructions = r.instructions;
  return s;
}

// The flow-removed message of a rule that left its table for `reason`.
inline FlowRemoved rule_flow_removed(const Rule& r, RemovedReason reason, int64_t now_ms) {
  FlowRemoved fr = describe_rule<FlowRemoved>(r, now_ms);
  fr.reason = reason;
  return fr;
}

}  // namespace dps::ofproto
