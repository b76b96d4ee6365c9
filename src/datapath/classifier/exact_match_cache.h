// exact_match_cache.h - per-PMD exact-match cache (EMC): packet key -> flow.
//
// What: the first lookup of the hit path. It remembers, for recently seen
// microflows, the full FlowKey and the megaflow (DpFlow) it hit, so a packet
// of a cached microflow costs one hash-bucket probe and one 128-byte compare
// instead of a tuple-space search. Entries are added after a megaflow hit
// with a probability (default 1/100, like OVS emc-insert-inv-prob), so a
// flood of short flows does not keep rewriting the cache.
//
// Design: 4-way set-associative. The probe metadata of a set is one cache
// line: 4 hashes, 4 generations, 4 DpFlow* (struct of arrays, one SIMD
// compare for the hashes); the key copies live in separate arrays and are
// read only when a hash matches, in two 64-byte halves so that a non-IPv6
// key (whose second line is all zero) costs one line to compare. lookup_batch() works in three passes over
// the burst (prefetch sets; match hashes and prefetch the candidate key copy
// and flow; compare keys) so the memory latency of one packet overlaps the
// others. An entry is valid only while its recorded generation equals the
// flow's DpFlow::gen: the classifier bumps gen when it removes a flow, so
// entries pointing at a removed or reused flow are misses without any
// invalidation walk; sweep() clears them lazily so their ways get reused.
// The set index is the low bits of the packet hash; replacement prefers the
// same key, then an empty or stale way, then a pseudo-random way.
//
// Thread-safety: PMD-thread only; no locks. Every method, including the
// configuration setters, is called by the owning PMD (configuration changes
// arrive through its command ring). The DpFlows it points to must come from
// a FlowArena that outlives the cache. The counters are plain integers: the
// PMD copies them into its published (relaxed atomic) statistics.
#pragma once

#include <cstdint>
#include <memory>

#include "dp_flow.h"
#include "flow_key.h"

namespace dps::datapath {

struct KeyHalf;

// 8192 entries like OVS's EM_FLOW_HASH_ENTRIES: 128 KB of probe metadata
// (fits L2) + 1 MB of key copies.
inline constexpr uint32_t kEmcEntries = 8192;
inline constexpr uint32_t kEmcWays = 4;  // one 64-byte metadata line per set
// 1/100: OVS's default; keeps a 100k-microflow flood from rewriting the EMC on
// every packet while a long-lived flow still gets in after ~100 packets.
inline constexpr uint32_t kEmcDefaultInsertInvProb = 100;

struct EmcCounters {
  uint64_t lookups = 0;   // keys looked up
  uint64_t hits = 0;      // keys found (valid generation, equal key)
  uint64_t inserts = 0;   // entries written (after the probability draw)
  uint64_t swept = 0;     // stale entries cleared by sweep()
};

class ExactMatchCache {
 public:
  // entries is rounded up to a power of two, at least kEmcWays.
  explicit ExactMatchCache(uint32_t entries = kEmcEntries, uint32_t seed = 0x9e3779b9u);
  ~ExactMatchCache();
  ExactMatchCache(const ExactMatchCache&) = delete;
  ExactMatchCache& operator=(const ExactMatchCache&) = delete;

  // Looks up keys[i] for each bit i of todo (i < 32) with their packet
  // hashes. Sets flows[i] for every hit and returns the hit bitmask; flows[i]
  // of a miss is left untouched.
  uint32_t lookup_batch(const FlowKey* keys, const uint32_t* hashes, uint32_t todo,
                        DpFlow** flows);
  DpFlow* lookup(const FlowKey& key, uint32_t hash);

  // Inserts with the configured probability (the PMD calls this for every
  // megaflow hit). Returns true when the entry was written.
  bool maybe_insert(const FlowKey& key, uint32_t hash, DpFlow* flow) {
    if (insert_threshold_ == 0) return false;
    if (insert_threshold_ != UINT32_MAX && next_random() >= insert_threshold_) return false;
    insert(key, hash, flow);
    return true;
  }
  // Unconditional insert (or update when the key is cached already).
  void insert(const FlowKey& key, uint32_t hash, DpFlow* flow);

  // 0 = never insert (EMC disabled for inserts), 1 = always, N = 1/N.
  void set_insert_inv_prob(uint32_t inv_prob);
  uint32_t insert_inv_prob() const { return insert_inv_prob_; }

  // Clears stale entries (flow generation moved on) in the next `sets` sets,
  // continuing where the last call stopped. Returns the entries cleared.
  // PMD housekeeping calls this with a small number (e.g. 64 sets = 4 KB).
  uint32_t sweep(uint32_t sets);
  void clear();

  uint32_t entries() const { return nsets_ * kEmcWays; }
  uint32_t sets() const { return nsets_; }
  const EmcCounters& counters() const { return counters_; }
  // Number of valid entries (walks the whole cache; tests and dumps).
  uint32_t count_valid() const;

 private:
  struct alignas(64) Set {
    uint32_t hashes[kEmcWays];
    uint32_t gens[kEmcWays];
    DpFlow* flows[kEmcWays];  // nullptr = empty way
  };
  static_assert(sizeof(Set) == 64);

  uint32_t next_random() {  // xorshift32: 3 shifts, no multiply
    uint32_t x = rng_;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_ = x;
    return x;
  }
  static bool entry_valid(const Set& s, unsigned way) {
    const DpFlow* f = s.flows[way];
    return f != nullptr && f->gen.load(std::memory_order_relaxed) == s.gens[way];
  }

  uint32_t nsets_;
  uint32_t set_mask_;
  Set* sets_;        // nsets_ sets
  // Key copies, [set * kEmcWays + way], split in two 64-byte halves (see
  // exact_match_cache.cc): hi_ is read only for IPv6 keys.
  KeyHalf* lo_;
  KeyHalf* hi_;
  uint32_t rng_;
  uint32_t insert_inv_prob_ = kEmcDefaultInsertInvProb;
  uint32_t insert_threshold_;
  uint32_t sweep_cursor_ = 0;
  EmcCounters counters_;
};

}  // namespace dps::datapath
