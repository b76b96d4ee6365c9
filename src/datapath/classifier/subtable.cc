#include "subtable.h"

#include <immintrin.h>
#include <nmmintrin.h>

#include <bit>
#include <cstring>
#include <type_traits>

#include "compiler.h"

namespace dps::datapath {

namespace {

// Fixed, non-zero start so an all-zero masked key does not hash to 0.
inline constexpr uint32_t kSubtableHashSeed = 0x5bd1e995u;
// Keep the table at most 2/3 full: at that load a 5-slot bucket overflows
// rarely, so a miss reads one line.
inline constexpr uint32_t kMaxLoadNum = 2, kMaxLoadDen = 3;

// Bit s set when b.hashes[s] == h (slots 0..4 of the first 32 bytes).
inline unsigned match_hashes(const void* bucket, uint32_t h) {
  __m256i v = _mm256_load_si256(static_cast<const __m256i*>(bucket));
  __m256i eq = _mm256_cmpeq_epi32(v, _mm256_set1_epi32(static_cast<int>(h)));
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(eq))) &
         ((1u << kSubtableBucketSlots) - 1);
}

}  // namespace

MaskWords::MaskWords(const FlowMask& mask) {
  const uint64_t* w = mask.words();
  for (unsigned i = 0; i < kFlowWords; i++) {
    if (w[i]) {
      idx[n] = static_cast<uint8_t>(i);
      bits[n] = w[i];
      n++;
    }
  }
}

uint32_t MaskWords::hash(const FlowKey& key) const {
  const uint64_t* k = key.words();
  uint64_t h = kSubtableHashSeed;
  for (unsigned i = 0; i < n; i++) h = _mm_crc32_u64(h, k[idx[i]] & bits[i]);
  uint32_t x = static_cast<uint32_t>(h);
  return x ^ (x >> 16);  // CRC's high bits carry the later words into the index
}

Subtable::Subtable(const FlowMask& mask) : mask_(mask), words_(mask) {}

Subtable::~Subtable() { delete[] table_; }

void Subtable::place(DpFlow* flow, uint32_t hash) {
  uint32_t b = hash & bucket_mask_;
  for (;;) {
    Bucket& bk = table_[b];
    for (unsigned s = 0; s < kSubtableBucketSlots; s++) {
      if (!bk.flows[s]) {
        bk.flows[s] = flow;
        bk.hashes[s] = hash;
        return;
      }
    }
    bk.overflow++;
    b = (b + 1) & bucket_mask_;
  }
}

void Subtable::rehash(uint32_t nbuckets) {
  Bucket* old = table_;
  uint32_t old_n = nbuckets_;
  table_ = new Bucket[nbuckets];
  std::memset(static_cast<void*>(table_), 0, sizeof(Bucket) * nbuckets);
  nbuckets_ = nbuckets;
  bucket_mask_ = nbuckets - 1;
  if (old) {
    for (uint32_t b = 0; b < old_n; b++)
      for (unsigned s = 0; s < kSubtableBucketSlots; s++)
        if (old[b].flows[s]) place(old[b].flows[s], old[b].hashes[s]);
    delete[] old;
  } else {
    for (uint32_t i = 0; i < size_ && i < kLinearMaxFlows; i++)
      place(small_[i], words_.hash(small_[i]->key));
  }
}

void Subtable::reserve(uint32_t flows) {
  uint32_t need = 1;
  while (uint64_t{need} * kSubtableBucketSlots * kMaxLoadNum < uint64_t{flows} * kMaxLoadDen)
    need <<= 1;
  if (need > nbuckets_) rehash(need);
}

DpFlow* Subtable::find_from(const FlowKey& key, uint32_t hash, uint32_t b) const {
  for (uint32_t step = 0; step < nbuckets_; step++) {
    const Bucket& bk = table_[b];
    for (unsigned m = match_hashes(&bk, hash); m; m &= m - 1) {
      DpFlow* f = bk.flows[std::countr_zero(m)];
      if (f && words_.equal(key, f->key)) return f;
    }
    if (bk.overflow == 0) return nullptr;
    b = (b + 1) & bucket_mask_;
  }
  return nullptr;
}

DpFlow* Subtable::find(const FlowKey& key, uint32_t hash) const {
  return find_from(key, hash, hash & bucket_mask_);
}

bool Subtable::insert(DpFlow* flow) {
  if (lookup(flow->key)) return false;
  if (size_ < kLinearMaxFlows && table_ == nullptr) {
    small_[size_++] = flow;
    return true;
  }
  reserve(size_ + 1);
  place(flow, words_.hash(flow->key));
  size_++;
  return true;
}

bool Subtable::remove(DpFlow* flow) {
  if (table_ == nullptr) {
    for (uint32_t i = 0; i < size_; i++) {
      if (small_[i] == flow) {
        small_[i] = small_[size_ - 1];
        small_[--size_] = nullptr;
        return true;
      }
    }
    return false;
  }
  uint32_t hash = words_.hash(flow->key);
  uint32_t home = hash & bucket_mask_;
  uint32_t b = home;
  for (uint32_t step = 0; step < nbuckets_; step++) {
    Bucket& bk = table_[b];
    for (unsigned s = 0; s < kSubtableBucketSlots; s++) {
      if (bk.flows[s] == flow) {
        bk.flows[s] = nullptr;
        bk.hashes[s] = 0;
        for (uint32_t p = home; p != b; p = (p + 1) & bucket_mask_) table_[p].overflow--;
        if (--size_ == 0) {  // back to the hash-free form
          delete[] table_;
          table_ = nullptr;
          nbuckets_ = bucket_mask_ = 0;
        }
        return true;
      }
    }
    if (bk.overflow == 0) return false;
    b = (b + 1) & bucket_mask_;
  }
  return false;
}

DpFlow* Subtable::lookup(const FlowKey& key) const {
  if (table_ == nullptr) {
    for (uint32_t i = 0; i < size_; i++)
      if (words_.equal(key, small_[i]->key)) return small_[i];
    return nullptr;
  }
  return find(key, words_.hash(key));
}

// The batch paths are specialized on the mask's word count (N = 1..4 covers
// nearly every megaflow; 0 = generic). The mask words are copied into locals
// first: the stores to flows[] could alias the uint8_t index array, which
// would otherwise force a reload of every index after every hit.
namespace {

template <unsigned N>
struct Words {
  unsigned n;
  unsigned idx[N ? N : kFlowWords];
  uint64_t bits[N ? N : kFlowWords];
  explicit Words(const MaskWords& mw) : n(N ? N : mw.n) {
    for (unsigned w = 0; w < n; w++) {
      idx[w] = mw.idx[w];
      bits[w] = mw.bits[w];
    }
  }
  uint32_t hash(const uint64_t* k) const {
    uint64_t h = kSubtableHashSeed;
    for (unsigned w = 0; w < n; w++) h = _mm_crc32_u64(h, k[idx[w]] & bits[w]);
    uint32_t x = static_cast<uint32_t>(h);
    return x ^ (x >> 16);
  }
  bool equal(const uint64_t* k, const uint64_t* masked) const {
    uint64_t diff = 0;
    for (unsigned w = 0; w < n; w++) diff |= (k[idx[w]] & bits[w]) ^ masked[idx[w]];
    return diff == 0;
  }
};

}  // namespace

template <unsigned N>
uint32_t Subtable::lookup_linear_n(const FlowKey* keys, uint32_t todo, DpFlow** flows) const {
  const Words<N> mw(words_);
  uint32_t hit = 0;
  for (uint32_t i = 0; i < size_; i++) {
    DpFlow* f = small_[i];
    uint64_t fk[N ? N : kFlowWords];
    for (unsigned w = 0; w < mw.n; w++) fk[w] = f->key.words()[mw.idx[w]];
    for (uint32_t m = todo & ~hit; m; m &= m - 1) {
      unsigned k = static_cast<unsigned>(std::countr_zero(m));
      const uint64_t* kw = keys[k].words();
      uint64_t diff = 0;
      for (unsigned w = 0; w < mw.n; w++) diff |= (kw[mw.idx[w]] & mw.bits[w]) ^ fk[w];
      if (diff == 0) {
        flows[k] = f;
        hit |= uint32_t{1} << k;
      }
    }
  }
  return hit;
}

template <unsigned N>
uint32_t Subtable::lookup_hashed_n(const FlowKey* keys, uint32_t todo, DpFlow** flows) const {
  const Words<N> mw(words_);
  const Bucket* table = table_;
  const uint32_t bmask = bucket_mask_;
  uint32_t hashes[32];
  // Pass 1: hash every pending key and prefetch its bucket.
  for (uint32_t m = todo; m; m &= m - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(m));
    uint32_t h = mw.hash(keys[i].words());
    hashes[i] = h;
    __builtin_prefetch(&table[h & bmask]);
  }
  // Pass 2: compare hashes in the home bucket, then the masked words.
  uint32_t hit = 0;
  for (uint32_t m = todo; m; m &= m - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(m));
    const uint32_t h = hashes[i];
    const Bucket& bk = table[h & bmask];
    DpFlow* found = nullptr;
    for (unsigned c = match_hashes(&bk, h); c; c &= c - 1) {
      DpFlow* f = bk.flows[std::countr_zero(c)];
      if (f && mw.equal(keys[i].words(), f->key.words())) {
        found = f;
        break;
      }
    }
    if (!found && bk.overflow) found = find_from(keys[i], h, ((h & bmask) + 1) & bmask);
    if (found) {
      flows[i] = found;
      hit |= uint32_t{1} << i;
    }
  }
  return hit;
}

namespace {

// fn(std::integral_constant<unsigned, N>) for the mask's word count N = 1..4,
// N = 0 (generic) otherwise: one switch for every specialised path.
template <typename Fn>
DPS_ALWAYS_INLINE uint32_t by_word_count(unsigned n, Fn fn) {
  switch (n) {
    case 1: return fn(std::integral_constant<unsigned, 1>{});
    case 2: return fn(std::integral_constant<unsigned, 2>{});
    case 3: return fn(std::integral_constant<unsigned, 3>{});
    case 4: return fn(std::integral_constant<unsigned, 4>{});
    default: return fn(std::integral_constant<unsigned, 0>{});
  }
}

}  // namespace

uint32_t Subtable::lookup_batch(const FlowKey* keys, uint32_t todo, DpFlow** flows) const {
  if (table_ == nullptr)
    return by_word_count(words_.n, [&](auto n) { return lookup_linear_n<n>(keys, todo, flows); });
  return by_word_count(words_.n, [&](auto n) { return lookup_hashed_n<n>(keys, todo, flows); });
}

}  // namespace dps::datapath
