// signature_match_cache.h - packet hash -> candidate megaflow index (OVS SMC).
//
// What: a second-level cache between the EMC and the subtable search, after
// Open vSwitch's signature match cache (lib/dpif-netdev-dfc.h). It stores no
// keys: an entry is a 12-bit signature of the packet hash and the index of
// the megaflow (DpFlow::index) the packet hit. A lookup turns the candidate
// index into the flow and verifies it by comparing the packet key under the
// flow's mask: one compare instead of a probe of every subtable before the
// right one. Because the verification is exact, a wrong candidate (signature
// collision, a flow removed or its slot reused) only costs a miss.
//
// Design: 16-way sets of one cache line; an entry is 32 bits: a 12-bit
// signature (the packet hash's top bits) over a 20-bit flow index, so 256K
// entries take 1 MB where an EMC of the same reach would need 32 MB of key
// copies. One AVX2 mask+compare checks all 16 ways. The
// set is chosen by the hash's low bits. Flows whose index does not fit 20
// bits (more than 1M flows in one arena) are simply not cached.
// Replacement: the same signature, else an empty way, else a victim from a
// rotating counter. The owner (MegaflowClassifier) maps an
// index to a flow and its subtable and does the verification; this class
// is only the table.
//
// Thread-safety: PMD-thread only; no locks (owned by one MegaflowClassifier).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dps::datapath {

// 256K entries (1 MB): 100k microflows fill a 16-way set to 6 on average,
// so sets rarely overflow (99.8% SMC hits in classifier_bench; 128K entries
// gave 95.4%), and 1 MB still sits in L2/L3 beside a PMD's working set.
inline constexpr uint32_t kSmcEntries = 256 * 1024;
inline constexpr unsigned kSmcWays = 16;
inline constexpr unsigned kSmcIndexBits = 20;
inline constexpr uint32_t kSmcIndexMask = (1u << kSmcIndexBits) - 1;
inline constexpr uint32_t kSmcMaxIndex = kSmcIndexMask - 1;  // all-ones = empty
inline constexpr uint32_t kSmcEmpty = UINT32_MAX;             // sig 0xfff, index all-ones

class SignatureMatchCache {
 public:
  struct alignas(64) Set {
    uint32_t entries[kSmcWays];  // sig << 20 | index; kSmcEmpty = free way
  };
  static_assert(sizeof(Set) == 64);

  // entries is rounded up to a power of two, at least kSmcWays.
  explicit SignatureMatchCache(uint32_t entries = kSmcEntries);
  ~SignatureMatchCache();
  SignatureMatchCache(const SignatureMatchCache&) = delete;
  SignatureMatchCache& operator=(const SignatureMatchCache&) = delete;

  const Set& set(uint32_t hash) const { return sets_[hash & set_mask_]; }
  void prefetch(uint32_t hash) const { __builtin_prefetch(&sets_[hash & set_mask_]); }
  static uint32_t sig_of(uint32_t hash) { return hash & ~kSmcIndexMask; }
  static uint32_t index_of(uint32_t entry) { return entry & kSmcIndexMask; }
  // Ways of s whose signature matches hash's (bit w = way w). An empty way
  // can match only a hash whose top 12 bits are all ones; its index
  // (kSmcIndexMask) is never a valid flow index.
  static unsigned match(const Set& s, uint32_t hash) {
    const __m256i sigmask = _mm256_set1_epi32(static_cast<int>(~kSmcIndexMask));
    const __m256i sig = _mm256_set1_epi32(static_cast<int>(sig_of(hash)));
    const __m256i* p = reinterpret_cast<const __m256i*>(s.entries);
    __m256i a = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_load_si256(p), sigmask), sig);
    __m256i b = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_load_si256(p + 1), sigmask), sig);
    unsigned lo = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(a)));
    unsigned hi = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(b)));
    return lo | hi << 8;
  }

  // Caches hash -> index (index <= kSmcMaxIndex, else ignored).
  void insert(uint32_t hash, uint32_t index);
  void clear();
  uint32_t entries() const { return nsets_ * kSmcWays; }
  uint32_t count_used() const;

 private:
  uint32_t nsets_;
  uint32_t set_mask_;
  uint32_t victim_ = 0;
  Set* sets_;
};

}  // namespace dps::datapath
