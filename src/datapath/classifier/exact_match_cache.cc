#include "exact_match_cache.h"

#include <immintrin.h>

#include <bit>
#include <cstddef>
#include <cstring>

namespace dps::datapath {

// Key copies are stored as two 64-byte halves in separate arrays: `lo`
// (words 0-7: L2, IPv4, ARP, L4, MPLS) and `hi` (words 8-15: the IPv6
// addresses and ND target, zero for every other packet). A key whose hi half
// is non-zero is stored with pad0 (byte 62, always 0 in an extracted key)
// set in its lo copy, so a lookup of a key with a zero hi half compares one
// line and never mismatches an IPv6 entry with the same lo half.
struct alignas(64) KeyHalf {
  uint8_t b[64];
};

namespace {

constexpr unsigned kHiMarkerByte = offsetof(FlowKey, pad0);
static_assert(kHiMarkerByte >= 32 && kHiMarkerByte < 64);

inline __m256i hi_marker() {
  alignas(32) uint8_t m[32] = {};
  m[kHiMarkerByte - 32] = 1;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(m));
}

inline bool hi_zero(const FlowKey& k) {
  const __m256i* x = reinterpret_cast<const __m256i*>(&k);
  __m256i o = _mm256_or_si256(_mm256_load_si256(x + 2), _mm256_load_si256(x + 3));
  return _mm256_testz_si256(o, o);
}

// key == the stored (lo, hi) copy; key_hi_zero = hi_zero(key).
inline bool key_equal_stored(const FlowKey& key, bool key_hi_zero, const KeyHalf& lo,
                             const KeyHalf& hi) {
  const __m256i* x = reinterpret_cast<const __m256i*>(&key);
  const __m256i* y = reinterpret_cast<const __m256i*>(&lo);
  __m256i x1 = _mm256_load_si256(x + 1);
  if (!key_hi_zero) x1 = _mm256_xor_si256(x1, hi_marker());
  __m256i d = _mm256_xor_si256(_mm256_load_si256(x), _mm256_load_si256(y));
  d = _mm256_or_si256(d, _mm256_xor_si256(x1, _mm256_load_si256(y + 1)));
  if (!_mm256_testz_si256(d, d)) return false;
  if (key_hi_zero) return true;
  const __m256i* z = reinterpret_cast<const __m256i*>(&hi);
  d = _mm256_xor_si256(_mm256_load_si256(x + 2), _mm256_load_si256(z));
  d = _mm256_or_si256(d, _mm256_xor_si256(_mm256_load_si256(x + 3), _mm256_load_si256(z + 1)));
  return _mm256_testz_si256(d, d);
}

// Bit w set when hashes[w] == h.
inline unsigned match_hashes(const uint32_t* hashes, uint32_t h) {
  __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(hashes));
  __m128i eq = _mm_cmpeq_epi32(v, _mm_set1_epi32(static_cast<int>(h)));
  return static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(eq)));
}

uint32_t round_pow2(uint32_t v) {
  if (v <= 1) return 1;
  return uint32_t{1} << (32 - std::countl_zero(v - 1));
}

}  // namespace

ExactMatchCache::ExactMatchCache(uint32_t entries, uint32_t seed)
    : nsets_(round_pow2((entries < kEmcWays ? kEmcWays : entries) / kEmcWays)),
      set_mask_(nsets_ - 1),
      sets_(new Set[nsets_]),
      lo_(new KeyHalf[nsets_ * kEmcWays]),
      hi_(new KeyHalf[nsets_ * kEmcWays]),
      rng_(seed ? seed : 1) {
  set_insert_inv_prob(kEmcDefaultInsertInvProb);
  clear();
}

ExactMatchCache::~ExactMatchCache() {
  delete[] sets_;
  delete[] lo_;
  delete[] hi_;
}

void ExactMatchCache::set_insert_inv_prob(uint32_t inv_prob) {
  insert_inv_prob_ = inv_prob;
  if (inv_prob == 0)
    insert_threshold_ = 0;
  else if (inv_prob == 1)
    insert_threshold_ = UINT32_MAX;
  else
    insert_threshold_ = UINT32_MAX / inv_prob;
}

void ExactMatchCache::clear() {
  std::memset(static_cast<void*>(sets_), 0, sizeof(Set) * nsets_);
  sweep_cursor_ = 0;
}

uint32_t ExactMatchCache::lookup_batch(const FlowKey* keys, const uint32_t* hashes, uint32_t todo,
                                       DpFlow** flows) {
  uint8_t cands[32];
  uint32_t hi_set = 0;  // keys with a non-zero hi half (IPv6)
  // Pass 1: prefetch every packet's set (one line each).
  for (uint32_t t = todo; t; t &= t - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(t));
    __builtin_prefetch(&sets_[hashes[i] & set_mask_]);
    if (!hi_zero(keys[i])) hi_set |= uint32_t{1} << i;
  }
  // Pass 2: hash match; prefetch the first candidate's key copy and flow.
  uint32_t with_cand = 0;
  for (uint32_t t = todo; t; t &= t - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(t));
    uint32_t si = hashes[i] & set_mask_;
    const Set& s = sets_[si];
    unsigned m = match_hashes(s.hashes, hashes[i]);
    cands[i] = static_cast<uint8_t>(m);
    if (m) {
      with_cand |= uint32_t{1} << i;
      unsigned w = static_cast<unsigned>(std::countr_zero(m));
      __builtin_prefetch(&lo_[si * kEmcWays + w]);
      if (hi_set & (uint32_t{1} << i)) __builtin_prefetch(&hi_[si * kEmcWays + w]);
      if (s.flows[w]) __builtin_prefetch(s.flows[w]);  // its first line: gen .. actions
    }
  }
  // Pass 3: verify generation and the full key.
  uint32_t hit = 0;
  for (uint32_t t = with_cand; t; t &= t - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(t));
    unsigned m = cands[i];
    if (m == 0) __builtin_unreachable();  // with_cand: at least one way matched
    uint32_t si = hashes[i] & set_mask_;
    const Set& s = sets_[si];
    const bool key_hi_zero = !(hi_set & (uint32_t{1} << i));
    do {
      unsigned w = static_cast<unsigned>(std::countr_zero(m));
      uint32_t e = si * kEmcWays + w;
      if (entry_valid(s, w) && key_equal_stored(keys[i], key_hi_zero, lo_[e], hi_[e])) {
        flows[i] = s.flows[w];
        hit |= uint32_t{1} << i;
        break;
      }
      m &= m - 1;
    } while (m);
  }
  counters_.lookups += static_cast<unsigned>(std::popcount(todo));
  counters_.hits += static_cast<unsigned>(std::popcount(hit));
  return hit;
}

DpFlow* ExactMatchCache::lookup(const FlowKey& key, uint32_t hash) {
  DpFlow* f = nullptr;
  lookup_batch(&key, &hash, 1, &f);  // todo = bit 0
  return f;
}

void ExactMatchCache::insert(const FlowKey& key, uint32_t hash, DpFlow* flow) {
  uint32_t si = hash & set_mask_;
  Set& s = sets_[si];
  unsigned way = kEmcWays;
  const bool key_hi_zero = hi_zero(key);
  // Same key already cached (valid or stale): update it in place.
  for (unsigned m = match_hashes(s.hashes, hash); m; m &= m - 1) {
    unsigned w = static_cast<unsigned>(std::countr_zero(m));
    uint32_t e = si * kEmcWays + w;
    if (s.flows[w] && key_equal_stored(key, key_hi_zero, lo_[e], hi_[e])) {
      way = w;
      break;
    }
  }
  if (way == kEmcWays) {
    for (unsigned w = 0; w < kEmcWays; w++) {
      if (!entry_valid(s, w)) {
        way = w;
        break;
      }
    }
  }
  if (way == kEmcWays) way = next_random() % kEmcWays;
  s.hashes[way] = hash;
  s.gens[way] = flow->gen.load(std::memory_order_relaxed);
  s.flows[way] = flow;
  uint32_t e = si * kEmcWays + way;
  std::memcpy(&lo_[e], &key, sizeof(KeyHalf));
  if (!key_hi_zero) {
    lo_[e].b[kHiMarkerByte] = 1;
    std::memcpy(&hi_[e], reinterpret_cast<const uint8_t*>(&key) + sizeof(KeyHalf), sizeof(KeyHalf));
  }
  counters_.inserts++;
}

uint32_t ExactMatchCache::sweep(uint32_t nsets) {
  if (nsets > nsets_) nsets = nsets_;
  uint32_t cleared = 0;
  for (uint32_t i = 0; i < nsets; i++) {
    Set& s = sets_[sweep_cursor_];
    for (unsigned w = 0; w < kEmcWays; w++) {
      if (s.flows[w] && !entry_valid(s, w)) {
        s.flows[w] = nullptr;
        s.hashes[w] = 0;
        cleared++;
      }
    }
    sweep_cursor_ = (sweep_cursor_ + 1) & set_mask_;
  }
  counters_.swept += cleared;
  return cleared;
}

uint32_t ExactMatchCache::count_valid() const {
  uint32_t n = 0;
  for (uint32_t i = 0; i < nsets_; i++)
    for (unsigned w = 0; w < kEmcWays; w++) n += entry_valid(sets_[i], w);
  return n;
}

}  // namespace dps::datapath
