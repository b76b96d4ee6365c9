// of_flow_mod.h - the OpenFlow 1.3 flow-mod request and the flow-entry
// vocabulary around it (flags, removal reasons, default priority).
//
// What: FlowMod is the C++ form of OFPT_FLOW_MOD, built by the wire codec,
// the text syntax (rule files, ovs-ofctl-style strings) and the config
// client, and applied by the pipeline (model/pipeline.h).
//
// Design: plain values; the match and instructions are the wire layer's
// OfMatch and Instructions.
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <cstdint>

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
  bool operator==(const FlowMod&) const = default;
};

}  // namespace dps::ofproto
