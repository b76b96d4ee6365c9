// of_group.h - OpenFlow 1.3 group vocabulary as it travels on the wire.
//
// What: group types, buckets (weight, watch port/group, actions and their
// counters) and the group-mod request: what OFPT_GROUP_MOD and the group
// multipart replies carry, and what the text syntax parses and prints.
//
// Design: plain values. The group table (model/group_table.h) keeps groups
// built from these and applies GroupMods with OpenFlow's semantics.
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <cstdint>
#include <vector>

#include "of_actions.h"

namespace dps::ofproto {

enum class GroupType : uint8_t {
  kAll = 0,           // OFPGT_ALL
  kSelect = 1,        // OFPGT_SELECT
  kIndirect = 2,      // OFPGT_INDIRECT
  kFastFailover = 3,  // OFPGT_FF
};

// Buckets per group; OpenFlow has no limit, this bounds a group-mod's cost
// (a 64-port flood group fits easily).
inline constexpr size_t kMaxBucketsPerGroup = 256;

struct GroupBucket {
  uint16_t weight = 0;                // select only
  uint32_t watch_port = kPortAny;     // fast-failover liveness
  uint32_t watch_group = kGroupAny;   // fast-failover liveness
  ActionList actions;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  bool operator==(const GroupBucket& o) const {
    return weight == o.weight && watch_port == o.watch_port && watch_group == o.watch_group &&
           actions == o.actions;
  }
};

enum class GroupModCommand : uint8_t { kAdd = 0, kModify = 1, kDelete = 2 };

struct GroupMod {
  GroupModCommand command = GroupModCommand::kAdd;
  GroupType type = GroupType::kAll;
  uint32_t group_id = 0;  // kGroupAll allowed for delete
  std::vector<GroupBucket> buckets;
  bool operator==(const GroupMod&) const = default;
};

}  // namespace dps::ofproto
