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
// the same mask share a Subtable: an open-addressing hash table from the
// masked value to an entry holding the rules with that value (sorted by
// priority, highest first). A lookup visits subtables in decreasing order of
// their highest rule priority and stops as soon as the next subtable cannot
// hold a rule of higher priority than the best found so far (ties go to the
// earlier subtable, so the result is deterministic). Every subtable visited
// ORs its whole mask into the wildcards - its hash probe looked at all those
// bits, found or not - and the subtables skipped by the early exit
// contribute nothing: a packet that agrees on those bits visits the same
// subtables, probes the same buckets and stops at the same place.
// Prefix tracking (OVS's classifier "prefixes"): a subtable whose mask on
// nw_dst (else nw_src) is a CIDR prefix of length L keeps its rules'
// prefixes in a trie per field; before probing it, lookup walks the trie
// once per field and, when no stored prefix of length L equals the packet's
// first L bits, skips the subtable and un-wildcards only the bits the walk
// examined (prefix_trie.h says why that is exact). Without it, a packet
// matched by a /8 rule got a megaflow exact on the /32 rule's bits. Cost: one
// masked hash + probe per visited subtable, independent of the number of
// rules; a table of one mask (50k exact nw_src rules) is one probe. A probe
// touches the slot (hash and the entry's best rule, cached there) and the
// entry's masked words, stored packed (only the mask's non-zero words) in
// one array per subtable; it allocates nothing (nor does the trie walk,
// at most one per field per lookup). (OVS's staged lookup, which narrows
// the wildcards of a subtable probe further, is not done here.)
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
#include "prefix_trie.h"
#include "probe_slots.h"

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
  // One slot of a subtable's hash index. `top` caches the entry's
  // highest-priority rule so that a hit needs no other memory but the
  // entry's packed value.
  struct Slot {
    uint64_t hash = 0;
    Rule* top = nullptr;
    uint32_t entry = 0;  // index into Subtable::entries
    bool used = false;
  };
  // Rules sharing one masked value, by priority, highest first. The value
  // itself is Subtable::values[entry * n_words ...].
  struct Entry {
    std::vector<RulePtr> rules;  // empty = free entry
  };
  static constexpr int8_t kNoTrie = -1, kTrieNwSrc = 0, kTrieNwDst = 1;
  struct Subtable {
    OfMask mask;
    uint8_t words[OfKey::kWords];  // indices of the mask's non-zero words
    uint8_t n_words = 0;
    uint16_t max_priority = 0;
    // Prefix tracking: the IPv4 field (kTrieNwSrc / kTrieNwDst) whose mask
    // here is a CIDR prefix of length plen > 0, or kNoTrie.
    int8_t trie = kNoTrie;
    uint8_t plen = 0;
    size_t n_rules = 0;
    std::map<uint16_t, unsigned, std::greater<>> priorities;  // priority -> rule count
    // Open addressing (probe_slots.h), at most half full; one slot per
    // entry in use.
    ProbeSlots<Slot> slots;
    size_t n_entries = 0;
    std::vector<Entry> entries;
    // n_words masked words per entry (none for the empty mask: index it
    // with values.data() + ..., which is defined on an empty vector).
    std::vector<uint64_t> values;
    std::vector<uint32_t> free_entries;

    // Hash of key & mask over the mask's words (a masked value hashes the same).
    uint64_t hash(const OfKey& key) const;
    // True when key & mask equals entry e's value.
    bool entry_matches(uint32_t e, const OfKey& key) const {
      const uint64_t* v = values.data() + size_t{e} * n_words;
      uint64_t diff = 0;
      for (unsigned j = 0; j < n_words; j++) diff |= (key.word(words[j]) & mask.word(words[j])) ^ v[j];
      return diff == 0;
    }
    // The slot of the entry whose value equals key & mask, or null.
    const Slot* find(const OfKey& key, uint64_t h) const {
      return slots.find(h, [&](const Slot& s) { return entry_matches(s.entry, key); });
    }
    Slot* find(const OfKey& key, uint64_t h) {
      return slots.find(h, [&](const Slot& s) { return entry_matches(s.entry, key); });
    }
    // A new entry for key & mask (hash h), indexed; returns its slot.
    Slot* add_entry(const OfKey& key, uint64_t h);
    // Unindexes and frees the entry of slot s.
    void remove_entry(Slot* s);
    // The entry's value as a full OfKey (words outside the mask zero).
    OfKey value_of(uint32_t e) const;
  };

  Subtable* find_subtable(const OfMask& mask) const;
  // Adds / removes the prefix of a rule value of st in st's trie.
  void trie_update(const Subtable& st, const OfKey& value, bool add);
  void resort();

  uint8_t id_;
  size_t n_rules_ = 0;
  // Sorted by max_priority, highest first; the order lookup visits them.
  std::vector<std::unique_ptr<Subtable>> subtables_;
  // Prefix tries of nw_src and nw_dst over the rules of subtables that
  // track that field (prefix_trie.h).
  PrefixTrie tries_[2];
  std::unordered_map<OfMask, Subtable*, KeyHash> by_mask_;
  mutable uint64_t lookups_ = 0;
  mutable uint64_t matches_ = 0;
};

}  // namespace dps::ofproto
