#include "signature_match_cache.h"

#include <bit>

namespace dps::datapath {

SignatureMatchCache::SignatureMatchCache(uint32_t entries) {
  uint32_t sets = (entries < kSmcWays ? kSmcWays : entries) / kSmcWays;
  nsets_ = sets <= 1 ? 1 : uint32_t{1} << (32 - std::countl_zero(sets - 1));
  set_mask_ = nsets_ - 1;
  sets_ = new Set[nsets_];
  clear();
}

SignatureMatchCache::~SignatureMatchCache() { delete[] sets_; }

void SignatureMatchCache::clear() {
  for (uint32_t i = 0; i < nsets_; i++)
    for (unsigned w = 0; w < kSmcWays; w++) sets_[i].entries[w] = kSmcEmpty;
}

void SignatureMatchCache::insert(uint32_t hash, uint32_t index) {
  if (index > kSmcMaxIndex) return;
  Set& s = sets_[hash & set_mask_];
  const uint32_t entry = sig_of(hash) | index;
  unsigned way = kSmcWays;
  // The same signature most likely means the same microflow: overwrite it so
  // one packet hash never holds two ways.
  if (unsigned m = match(s, hash)) way = static_cast<unsigned>(std::countr_zero(m));
  if (way == kSmcWays) {
    for (unsigned w = 0; w < kSmcWays; w++) {
      if (s.entries[w] == kSmcEmpty) {
        way = w;
        break;
      }
    }
  }
  if (way == kSmcWays) way = victim_++ % kSmcWays;
  s.entries[way] = entry;
}

uint32_t SignatureMatchCache::count_used() const {
  uint32_t n = 0;
  for (uint32_t i = 0; i < nsets_; i++)
    for (unsigned w = 0; w < kSmcWays; w++) n += sets_[i].entries[w] != kSmcEmpty;
  return n;
}

}  // namespace dps::datapath
