#include "group_table.h"

#include <string>

namespace dps::ofproto {

namespace {

// Deeper chains than this are treated as loops (and never walked further).
constexpr int kMaxGroupChain = 32;

MaybeError gm_error(GroupModFailedCode c, std::string msg) {
  return OfError::make(OfErrorType::kGroupModFailed, c, std::move(msg));
}

const char* type_name(GroupType t) {
  switch (t) {
    case GroupType::kAll: return "all";
    case GroupType::kSelect: return "select";
    case GroupType::kIndirect: return "indirect";
    case GroupType::kFastFailover: return "fast_failover";
  }
  return "?";
}

std::string group_name(uint32_t id) { return "group " + std::to_string(id); }

}  // namespace

const Group* GroupTable::find(uint32_t group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

Group* GroupTable::find(uint32_t group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

// True when group `from` (with its buckets replaced by *override_buckets when
// from == override_id) forwards, directly or through a chain, to `target`.
bool GroupTable::reaches(uint32_t from, uint32_t target,
                         const std::vector<GroupBucket>* override_buckets, uint32_t override_id,
                         int depth) const {
  if (depth > kMaxGroupChain) return true;
  const std::vector<GroupBucket>* buckets = nullptr;
  if (from == override_id && override_buckets) {
    buckets = override_buckets;
  } else {
    const Group* g = find(from);
    if (!g) return false;
    buckets = &g->buckets;
  }
  for (const GroupBucket& b : *buckets)
    for (const OfAction& a : b.actions)
      if (auto* ga = std::get_if<ActGroup>(&a)) {
        if (ga->group_id == target) return true;
        if (reaches(ga->group_id, target, override_buckets, override_id, depth + 1)) return true;
      }
  return false;
}

MaybeError GroupTable::apply(const GroupMod& mod, int64_t now_ms, std::vector<uint32_t>* deleted) {
  if (mod.command == GroupModCommand::kDelete) return remove(mod.group_id, deleted);
  if (MaybeError e = check_mod(mod)) return e;
  for (size_t i = 0; i < mod.buckets.size(); i++)
    if (MaybeError e = check_bucket(mod, i)) return e;
  if (MaybeError e = check_loops(mod)) return e;
  Group& g = groups_[mod.group_id];
  if (mod.command == GroupModCommand::kAdd) {
    g.created_ms = now_ms;
    g.packet_count = g.byte_count = 0;
  }
  g.group_id = mod.group_id;
  g.type = mod.type;
  g.buckets = mod.buckets;
  return std::nullopt;
}

MaybeError GroupTable::remove(uint32_t group_id, std::vector<uint32_t>* deleted) {
  std::vector<uint32_t> victims;
  if (group_id == kGroupAll) {
    for (const auto& [id, g] : groups_) victims.push_back(id);
  } else if (contains(group_id)) {
    for (const auto& [id, g] : groups_) {
      if (id == group_id) continue;
      for (const GroupBucket& b : g.buckets)
        for (const OfAction& a : b.actions)
          if (auto* ga = std::get_if<ActGroup>(&a); ga && ga->group_id == group_id)
            return gm_error(GroupModFailedCode::kChainedGroup,
                            group_name(group_id) + " cannot be deleted: group " + std::to_string(id) +
                                " forwards to it");
    }
    victims.push_back(group_id);
  }
  for (uint32_t id : victims) groups_.erase(id);
  if (deleted) *deleted = victims;
  return std::nullopt;
}

MaybeError GroupTable::check_mod(const GroupMod& mod) const {
  const std::string gname = group_name(mod.group_id);
  if (mod.command != GroupModCommand::kAdd && mod.command != GroupModCommand::kModify)
    return gm_error(GroupModFailedCode::kBadCommand, "unknown group-mod command");
  if (mod.group_id > kGroupMax)
    return gm_error(GroupModFailedCode::kInvalidGroup, gname + " is a reserved group id");
  if (static_cast<uint8_t>(mod.type) > 3)
    return gm_error(GroupModFailedCode::kBadType, gname + ": unknown group type");
  bool exists = contains(mod.group_id);
  if (mod.command == GroupModCommand::kAdd && exists)
    return gm_error(GroupModFailedCode::kGroupExists, gname + " already exists");
  if (mod.command == GroupModCommand::kModify && !exists)
    return gm_error(GroupModFailedCode::kUnknownGroup, gname + " does not exist");
  if (mod.buckets.size() > kMaxBucketsPerGroup)
    return gm_error(GroupModFailedCode::kOutOfBuckets,
                    gname + " has " + std::to_string(mod.buckets.size()) + " buckets (limit " +
                        std::to_string(kMaxBucketsPerGroup) + ")");
  if (mod.type == GroupType::kIndirect && mod.buckets.size() != 1)
    return gm_error(GroupModFailedCode::kInvalidGroup,
                    gname + ": an indirect group needs exactly one bucket, got " +
                        std::to_string(mod.buckets.size()));
  return std::nullopt;
}

MaybeError GroupTable::check_bucket(const GroupMod& mod, size_t i) const {
  const GroupBucket& b = mod.buckets[i];
  const std::string where = group_name(mod.group_id) + " bucket " + std::to_string(i + 1);
  if (mod.type != GroupType::kSelect && b.weight != 0)
    return gm_error(GroupModFailedCode::kWeightUnsupported,
                    where + ": weight is only valid in select groups, not " + type_name(mod.type));
  if (mod.type == GroupType::kFastFailover && b.watch_port == kPortAny && b.watch_group == kGroupAny)
    return gm_error(GroupModFailedCode::kBadWatch,
                    where + ": a fast_failover bucket needs watch_port or watch_group");
  if (b.watch_group != kGroupAny && b.watch_group != mod.group_id && !contains(b.watch_group))
    return gm_error(GroupModFailedCode::kBadWatch,
                    where + ": watch_group " + std::to_string(b.watch_group) + " does not exist");
  ValidationContext ctx = validation;
  ctx.group_exists = [this, &mod](uint32_t id) { return id == mod.group_id || contains(id); };
  ctx.set_field_prereqs = false;
  if (MaybeError e = validate_actions(b.actions, OfMatch{}, ctx)) {
    e->message = where + ": " + e->message;
    if (e->type == OfErrorType::kBadAction && e->code == static_cast<uint16_t>(BadActionCode::kBadOutGroup))
      return gm_error(GroupModFailedCode::kUnknownGroup, e->message);
    return e;
  }
  return std::nullopt;
}

// Loops: the new buckets must not reach this group again.
MaybeError GroupTable::check_loops(const GroupMod& mod) const {
  for (const GroupBucket& b : mod.buckets)
    for (const OfAction& a : b.actions)
      if (auto* ga = std::get_if<ActGroup>(&a))
        if (ga->group_id == mod.group_id ||
            reaches(ga->group_id, mod.group_id, &mod.buckets, mod.group_id, 0))
          return gm_error(GroupModFailedCode::kLoop,
                          group_name(mod.group_id) + ": forwarding to group " +
                              std::to_string(ga->group_id) + " would make a loop");
  return std::nullopt;
}

bool GroupTable::bucket_live(const GroupBucket& b, int depth) const {
  if (depth > kMaxGroupChain) return false;
  if (b.watch_port != kPortAny && port_live && !port_live(b.watch_port)) return false;
  if (b.watch_group != kGroupAny) {
    const Group* g = find(b.watch_group);
    if (!g) return false;
    bool any = false;
    for (const GroupBucket& x : g->buckets) any = any || bucket_live(x, depth + 1);
    if (!any) return false;
  }
  return true;
}

int GroupTable::select_bucket(const Group& g, uint32_t hash) const {
  uint64_t total = 0;
  for (const GroupBucket& b : g.buckets)
    if (b.weight && bucket_live(b)) total += b.weight;
  if (!total) return -1;
  // Scale the hash into [0, total) without modulo bias worth mentioning.
  uint64_t point = (uint64_t{hash} * total) >> 32;
  for (size_t i = 0; i < g.buckets.size(); i++) {
    const GroupBucket& b = g.buckets[i];
    if (!b.weight || !bucket_live(b)) continue;
    if (point < b.weight) return static_cast<int>(i);
    point -= b.weight;
  }
  return -1;
}

int GroupTable::first_live_bucket(const Group& g) const {
  for (size_t i = 0; i < g.buckets.size(); i++)
    if (bucket_live(g.buckets[i])) return static_cast<int>(i);
  return -1;
}

}  // namespace dps::ofproto
