// megaflow_classifier.h - per-PMD tuple-space search over megaflows (dpcls).
//
// What: finds the installed megaflow (DpFlow) that matches a packet key. The
// second lookup of the hit path, after the EMC; a miss here is an upcall.
//
// Design: like Open vSwitch's dpcls (lib/dpif-netdev-lookup*.c). Megaflows
// never overlap (translation un-wildcards enough fields to guarantee it), so
// there are no priorities: the first flow that matches is the answer. One
// Subtable per distinct mask; a lookup probes subtables in rank order until
// the key is found. lookup_batch() runs the whole burst through one subtable
// before the next (hash every still-unmatched key, prefetch, compare), so the
// subtable's mask and buckets stay in L1 and memory latency overlaps across
// packets. rerank() (PMD housekeeping) sorts subtables by the hits they got
// since the last rerank, so the busiest masks are probed first, and works
// out from those hits how many subtables a hit probes in that order: below
// kSmcMinProbes the SMC (a random cache line, a slot and a verify) costs
// more than it saves and is skipped. (While the SMC answers, only its
// misses count: an interval without subtable hits keeps the decision.)
// Optional signature match cache (SignatureMatchCache, off by default as in
// OVS): when enabled, lookup_batch() first tries the SMC with the packet
// hashes; a verified SMC hit costs one masked compare instead of probing the
// subtables ahead of the right one, and every subtable hit refreshes the SMC.
// Flows are known by DpFlow::index (dense, from the FlowArena); the
// classifier keeps index -> (flow, subtable) for the SMC and for remove().
//
// Thread-safety: PMD-thread only; single writer, no locks. insert(),
// remove(), flush(), rerank(), set_smc_enabled() run on the owning PMD when it
// applies its command ring (or in housekeeping); lookups run on the same
// thread. remove() retires the flow: it bumps DpFlow::gen (release store), so
// EMC entries that point at it turn into misses, and the flow can then be
// handed back to the control thread for FlowArena::free(). Counters are plain
// integers for the PMD to publish.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "dp_flow.h"
#include "flow_key.h"
#include "signature_match_cache.h"
#include "subtable.h"

namespace dps::datapath {

// Below this many subtables lookup_batch() skips the SMC even when enabled:
// one subtable probe is as cheap as the SMC probe (classifier_bench).
inline constexpr size_t kSmcMinSubtables = 2;
// The SMC is consulted while a hit would otherwise probe at least this many
// subtables on average (in rank order, over the last rerank interval).
inline constexpr double kSmcMinProbes = 2.0;

struct ClassifierStats {
  uint64_t lookups = 0;          // keys looked up (bits set in todo)
  uint64_t hits = 0;             // keys matched (SMC or subtable)
  uint64_t smc_hits = 0;         // of hits, found through the SMC
  uint64_t subtable_probes = 0;  // (key, subtable) probes; / (hits - smc_hits) =
                                 // "subtable lookups per hit"
  void add(const ClassifierStats& o) {
    lookups += o.lookups;
    hits += o.hits;
    smc_hits += o.smc_hits;
    subtable_probes += o.subtable_probes;
  }
};

enum class InsertResult {
  kOk,
  kDuplicate,         // a flow with the same mask and masked key is installed
  kAlreadyInstalled,  // flow->installed is set (in this or another classifier)
  kKeyNotMasked,      // flow->key has bits outside flow->mask
  kIndexInUse,        // another installed flow has the same DpFlow::index
};
const char* insert_result_name(InsertResult r);

class MegaflowClassifier {
 public:
  MegaflowClassifier();
  ~MegaflowClassifier();
  MegaflowClassifier(const MegaflowClassifier&) = delete;
  MegaflowClassifier& operator=(const MegaflowClassifier&) = delete;

  // flow->key must already be ANDed with flow->mask. On kOk the flow is
  // installed (flow->installed = true) in the subtable of its mask (created
  // at the lowest rank if new). Otherwise nothing changes.
  InsertResult insert(DpFlow* flow);
  // Removes and retires an installed flow (installed = false, gen + 1). A
  // subtable left empty is destroyed. Returns false when the flow is not in
  // this classifier.
  bool remove(DpFlow* flow);
  // Removes and retires every flow, calling on_removed for each (cold).
  void flush(const std::function<void(DpFlow*)>& on_removed);

  // Single-key lookup in rank order (no SMC). Counts into stats().
  DpFlow* lookup(const FlowKey& key);
  // Looks up keys[i] for each bit i set in todo (n <= 32). hashes[i] are the
  // packet hashes (the EMC's); they are used only when the SMC is enabled and
  // may be null otherwise. Sets flows[i] for every hit, leaves misses
  // untouched, and returns the hit bits. Adds the call's counts to *stats
  // when given, and always to stats().
  uint32_t lookup_batch(const FlowKey* keys, const uint32_t* hashes, unsigned n, uint32_t todo,
                        DpFlow** flows, ClassifierStats* stats = nullptr);

  // Sorts subtables by hits since the last call (most first) and resets the
  // per-subtable hit counts. PMD housekeeping, e.g. once per second.
  void rerank();

  // Enables (allocating the cache with `entries` on first use) or disables
  // the SMC.
  void set_smc_enabled(bool on, uint32_t entries = kSmcEntries);
  bool smc_enabled() const { return smc_on_; }
  // Whether lookups consult the SMC now (enabled, and it pays: rerank()).
  bool smc_in_use() const { return smc_on_ && smc_pays_ && subtables_.size() >= kSmcMinSubtables; }
  const SignatureMatchCache* smc() const { return smc_.get(); }

  uint32_t size() const { return nflows_; }
  uint32_t subtable_count() const { return static_cast<uint32_t>(subtables_.size()); }
  // Subtables in probe order (tests, dumps, pmd stats).
  const Subtable& subtable(uint32_t rank) const { return *subtables_[rank]; }
  const ClassifierStats& stats() const { return stats_; }
  // The installed flow with this index, or nullptr.
  DpFlow* flow_by_index(uint32_t index) const {
    return index < by_index_.size() ? by_index_[index].flow : nullptr;
  }

 private:
  struct Slot {
    DpFlow* flow = nullptr;
    Subtable* subtable = nullptr;
  };

  Subtable* find_subtable(const FlowMask& mask) const;
  uint32_t smc_lookup(const FlowKey* keys, const uint32_t* hashes, uint32_t todo,
                      DpFlow** flows) const;

  std::vector<std::unique_ptr<Subtable>> subtables_;  // rank order
  std::vector<Slot> by_index_;
  std::unique_ptr<SignatureMatchCache> smc_;
  bool smc_on_ = false;
  bool smc_pays_ = true;  // rerank(): expected subtable probes per hit >= kSmcMinProbes
  uint32_t nflows_ = 0;
  ClassifierStats stats_;
};

}  // namespace dps::datapath
