// group_table.h - the OpenFlow 1.3 group table data model.
//
// What: groups of type all, select, indirect and fast-failover, each a list
// of buckets (weight, watch port/group, actions), added, modified and
// deleted with group-mod semantics and OpenFlow error codes, plus the two
// bucket choices translation needs: a select bucket by a stable weighted
// hash, and the first live bucket of a fast-failover group.
//
// Design: a std::map by group id (ordered, so dumps are sorted). Chaining
// (a bucket's group action) is allowed; adds and modifies that would create
// a loop are rejected (group_mod_failed/loop), and deleting a group that
// another group forwards to is rejected (chained_group). Removing the flows
// that use a deleted group is the Pipeline's job.
// Select: bucket i gets the hash range proportional to its weight among the
// live buckets, so a given flow hash always picks the same bucket while the
// set of live buckets is unchanged.
//
// Thread-safety: owned by the ofproto thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "of_error.h"
#include "of_group.h"

namespace dps::ofproto {

struct Group {
  uint32_t group_id = 0;
  GroupType type = GroupType::kAll;
  std::vector<GroupBucket> buckets;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  int64_t created_ms = 0;
};

class GroupTable {
 public:
  // Applies mod; on success *deleted (if given) receives the ids removed.
  // Errors (changing nothing): group_exists, unknown_group (modify),
  // invalid_group (reserved id, indirect without exactly one bucket),
  // bad_watch (fast-failover bucket watching nothing), weight_unsupported
  // (weight outside select), loop, chained_group, bad_bucket (actions).
  MaybeError apply(const GroupMod& mod, int64_t now_ms, std::vector<uint32_t>* deleted = nullptr);

  const Group* find(uint32_t group_id) const;
  Group* find(uint32_t group_id);
  bool contains(uint32_t group_id) const { return groups_.count(group_id) != 0; }
  size_t size() const { return groups_.size(); }
  const std::map<uint32_t, Group>& all() const { return groups_; }

  // Port liveness for fast-failover: null = every port is live.
  std::function<bool(uint32_t)> port_live;
  // Bucket is live: its watch port is live and its watch group has a live bucket.
  bool bucket_live(const GroupBucket& b, int depth = 0) const;
  // Index of the select bucket for a flow hash among live buckets with
  // weight > 0, or -1 when none.
  int select_bucket(const Group& g, uint32_t hash) const;
  // Index of the first live bucket of a fast-failover group, or -1.
  int first_live_bucket(const Group& g) const;

  // Validation hooks for bucket actions (ports/meters known to the bridge).
  ValidationContext validation;

 private:
  // The stages of apply(): delete, then for add/modify the checks of the
  // mod, of each bucket and for loops (each changes nothing on error).
  MaybeError remove(uint32_t group_id, std::vector<uint32_t>* deleted);
  MaybeError check_mod(const GroupMod& mod) const;
  MaybeError check_bucket(const GroupMod& mod, size_t i) const;
  MaybeError check_loops(const GroupMod& mod) const;
  bool reaches(uint32_t from, uint32_t target, const std::vector<GroupBucket>* override_buckets,
               uint32_t override_id, int depth) const;

  std::map<uint32_t, Group> groups_;
};

}  // namespace dps::ofproto
