// subtable.h - one mask's hash table of megaflows (a tuple of tuple-space search).
//
// What: every DpFlow in a Subtable has the same mask; the table maps the
// masked key to the flow. MegaflowClassifier keeps one Subtable per distinct
// mask and probes them in turn.
//
// Design: the mask is reduced once to its list of non-zero 64-bit words
// (most megaflow masks touch 2..4 of the 16), and hashing (CRC32C, one
// instruction per word) and comparing touch only those words. The table is
// open addressing over 64-byte buckets of 5 slots: 5 hashes, an overflow
// count and 5 DpFlow*, so a probe reads one line and compares the hashes
// with one AVX2 instruction; the flow's key is read only on a hash match.
// A full bucket spills to the next one (linear probing by bucket) and counts
// the spill in its overflow field; a lookup continues past a bucket only
// when that count is non-zero, so at the load we keep (<= 2/3) a miss nearly
// always costs exactly one line. The table doubles when it passes the load
// limit (the PMD can reserve() ahead to keep the rehash off its loop).
// Tiny subtables (<= kLinearMaxFlows flows, the common case for wide masks
// where one megaflow covers a whole traffic class) skip hashing entirely and
// compare the burst against their few flows directly.
//
// Thread-safety: PMD-thread only (owned by one MegaflowClassifier); no locks.
// The flows' key/mask are only read here and must not change while the flow
// is in the table.
#pragma once

#include <cstdint>
#include <vector>

#include "dp_flow.h"
#include "flow_key.h"

namespace dps::datapath {

inline constexpr unsigned kSubtableBucketSlots = 5;  // 5 x (4 B hash + 8 B ptr) + 4 B = 64 B
// A direct compare of a 2-3 word mask costs about what hashing it does, so up
// to this many flows a scan of the flow list beats hash + bucket probe.
inline constexpr unsigned kLinearMaxFlows = 2;

// The non-zero words of a mask, in word order.
struct MaskWords {
  uint8_t n = 0;
  uint8_t idx[kFlowWords] = {};
  uint64_t bits[kFlowWords] = {};

  explicit MaskWords(const FlowMask& mask);
  // CRC32C of key & mask over the listed words (key need not be masked).
  uint32_t hash(const FlowKey& key) const;
  // (key & mask) == masked over the listed words; masked must be pre-masked.
  bool equal(const FlowKey& key, const FlowKey& masked) const {
    const uint64_t* k = key.words();
    const uint64_t* m = masked.words();
    uint64_t diff = 0;
    for (unsigned i = 0; i < n; i++) diff |= (k[idx[i]] & bits[i]) ^ m[idx[i]];
    return diff == 0;
  }
};

class Subtable {
 public:
  explicit Subtable(const FlowMask& mask);
  ~Subtable();
  Subtable(const Subtable&) = delete;
  Subtable& operator=(const Subtable&) = delete;

  const FlowMask& mask() const { return mask_; }
  const MaskWords& words() const { return words_; }
  uint32_t size() const { return size_; }
  uint32_t buckets() const { return nbuckets_; }

  // flow->mask must equal mask() and flow->key must be masked. Returns false
  // (and changes nothing) when a flow with the same masked key is present.
  bool insert(DpFlow* flow);
  // Returns false when this flow is not in the table.
  bool remove(DpFlow* flow);
  // Grows the table now so that `flows` flows fit without a rehash.
  void reserve(uint32_t flows);

  // The flow whose masked key equals key & mask, or nullptr.
  DpFlow* lookup(const FlowKey& key) const;
  // For each bit i set in todo (i < 32): looks up keys[i]; on a hit sets
  // flows[i]. Returns the hit bits (a subset of todo).
  uint32_t lookup_batch(const FlowKey* keys, uint32_t todo, DpFlow** flows) const;
  // Whether key matches flow under this subtable's mask (flow must be in it).
  bool matches(const FlowKey& key, const DpFlow& flow) const { return words_.equal(key, flow.key); }

  // Hits counted by the classifier since the last rerank.
  uint64_t hits = 0;

 private:
  struct alignas(64) Bucket {
    uint32_t hashes[kSubtableBucketSlots];
    uint32_t overflow;  // entries that passed this bucket because it was full
    DpFlow* flows[kSubtableBucketSlots];  // nullptr = free slot
  };
  static_assert(sizeof(Bucket) == 64);

  DpFlow* find(const FlowKey& key, uint32_t hash) const;
  DpFlow* find_from(const FlowKey& key, uint32_t hash, uint32_t b) const;
  void place(DpFlow* flow, uint32_t hash);
  void rehash(uint32_t nbuckets);
  template <unsigned N>
  uint32_t lookup_linear_n(const FlowKey* keys, uint32_t todo, DpFlow** flows) const;
  template <unsigned N>
  uint32_t lookup_hashed_n(const FlowKey* keys, uint32_t todo, DpFlow** flows) const;

  FlowMask mask_;
  MaskWords words_;
  uint32_t size_ = 0;
  uint32_t nbuckets_ = 0;
  uint32_t bucket_mask_ = 0;
  Bucket* table_ = nullptr;
  DpFlow* small_[kLinearMaxFlows] = {};  // the flows while size_ <= kLinearMaxFlows
};

}  // namespace dps::datapath
