// flow_table.h - one OpenFlow flow table: a priority classifier over rules.
//
// What: FlowTable holds the rules of one table and answers "which rule of
// highest priority matches this OfKey?", recording into a wildcard mask
// exactly the bits that the answer depended on, so the caller (xlate) can
// build a megaflow that covers every packet that would get the same answer.
// It also offers the queries flow-mod semantics need (strict find,
// non-strict "every rule at least as specific as this match", overlap).
// Flow-mod semantics themselves (cookies, out_port filters, timeouts) live in
// Pipeline (pipeline.h), which owns 255 of these.
//
// Design: tuple space search, as Open vSwitch lib/classifier.c. Rules with
// the same mask share a Subtable: a hash map from the masked value to the
// rules with that value (sorted by priority, highest first). A lookup visits
// subtables in decreasing order of their highest rule priority and stops as
// soon as the next subtable cannot hold a rule of higher priority than the
// best found so far (ties go to the earlier subtable, so the result is
// deterministic). Every subtable visited ORs its whole mask into the
// wildcards - its hash probe looked at all those bits, found or not - and
// the subtables skipped by the early exit contribute nothing: a packet that
// agrees on those bits visits the same subtables, probes the same buckets and
// stops at the same place. Cost: one masked hash + probe per visited
// subtable, independent of the number of rules. (OVS's staged lookup and
// prefix tries narrow the wildcards further; not done here: correctness
// first.)
//
// Thread-safety: owned by the ofproto thread; not shared with PMDs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "of_match.h"
#include "of_rule.h"

namespace dps::ofproto {

// Default limit on rules per table; OpenFlow's TABLE_FULL beyond it.
// 1M rules = a few hundred MB of rules: far above any real rule set, yet
// bounded so a runaway controller cannot exhaust memory.
inline constexpr size_t kDefaultMaxRulesPerTable = 1'000'000;

// What happens to a packet that matches no rule (OpenFlow 1.3: drop; a
// table-miss rule of priority 0 overrides it).
enum class TableMiss : uint8_t {
  kDrop,        // OpenFlow 1.3 default
  kController,  // send to controller (reason no_match), OpenFlow 1.0 style
  kContinue,    // go to the next table
};

class FlowTable {
 public:
  explicit FlowTable(uint8_t id = 0) : id_(id) {}
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;
  FlowTable(FlowTable&&) = default;
  FlowTable& operator=(FlowTable&&) = default;

  uint8_t id() const { return id_; }

  // The highest-priority rule matching key, or null (table miss). ORs into
  // *wc (may be null) the masks of the subtables examined. Does not count:
  // a lookup may stand for many packets or none (revalidation, trace), so
  // the caller counts packets with count_lookup().
  Rule* lookup(const OfKey& key, OfMask* wc) const;

  // Adds r (r->table_id, match and priority set). Precondition: no rule with
  // the same match and priority (use find_strict first).
  void insert(const RulePtr& r);
  // Removes r if it is in this table; returns whether it was.
  bool remove(const Rule* r);
  // The rule with exactly this match and priority.
  RulePtr find_strict(const OfMatch& match, uint16_t priority) const;
  // Every rule whose match is at least as specific as `match` (non-strict
  // flow-mod and flow-stats semantics). Visits only subtables whose mask
  // covers match's mask; within them, every rule (control plane).
  void for_each_subsumed(const OfMatch& match, const std::function<void(const RulePtr&)>& fn) const;
  // True when some rule of the same priority matches a packet that `match`
  // also matches (OFPFF_CHECK_OVERLAP).
  bool overlaps(const OfMatch& match, uint16_t priority) const;
  void for_each(const std::function<void(const RulePtr&)>& fn) const;

  size_t size() const { return n_rules_; }
  size_t n_subtables() const { return subtables_.size(); }

  // Configuration and OpenFlow table statistics.
  size_t max_rules = kDefaultMaxRulesPerTable;
  TableMiss miss = TableMiss::kDrop;
  // OpenFlow table statistics: packets looked up in / matched by this
  // table (xlate counts them per translated packet group and per megaflow
  // hit rolled up). Const: statistics, not table state.
  void count_lookup(uint64_t packets, bool matched) const {
    lookups_ += packets;
    if (matched) matches_ += packets;
  }
  uint64_t lookup_count() const { return lookups_; }
  uint64_t matched_count() const { return matches_; }

 private:
  struct KeyHash {
    size_t operator()(const OfKey& k) const;
  };
  // Rules sharing one masked value, by priority, highest first.
  struct Entry {
    OfKey value;
    std::vector<RulePtr> rules;
  };
  struct Subtable {
    OfMask mask;
    uint8_t words[OfKey::kWords];  // indices of the mask's non-zero words
    uint8_t n_words = 0;
    uint16_t max_priority = 0;
    size_t n_rules = 0;
    std::map<uint16_t, unsigned, std::greater<>> priorities;  // priority -> rule count
    // Keyed by hash of the masked words only; a vector absorbs collisions.
    std::unordered_map<uint64_t, std::vector<Entry>> buckets;

    // Hash of key & mask over the mask's words (a masked value hashes the same).
    uint64_t hash(const OfKey& key) const;
    // The entry whose value equals key & mask, or null.
    Entry* find(const OfKey& key, uint64_t h);
    const Entry* find(const OfKey& key, uint64_t h) const {
      return const_cast<Subtable*>(this)->find(key, h);
    }
  };

  Subtable* find_subtable(const OfMask& mask) const;
  void resort();

  uint8_t id_;
  size_t n_rules_ = 0;
  // Sorted by max_priority, highest first; the order lookup visits them.
  std::vector<std::unique_ptr<Subtable>> subtables_;
  std::unordered_map<OfMask, Subtable*, KeyHash> by_mask_;
  mutable uint64_t lookups_ = 0;
  mutable uint64_t matches_ = 0;
};

}  // namespace dps::ofproto
