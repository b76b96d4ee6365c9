// SignatureMatchCache (OVS's SMC), tested directly, and its use by the
// classifier.
//
// Coverage: size rounding; the set chosen by the hash's low bits and the
// signature by its top 12; insert then match; one way per signature (a
// second hash with the same signature in the same set replaces the first:
// the collision the classifier's verification resolves); an empty way only
// ever "matches" with an index that is no flow; eviction of a full set in
// rotating order; indexes too wide are not cached; clear. In the
// classifier: not consulted below kSmcMinSubtables subtables, a stale
// candidate fails verification, and disabling clears it and stops its use.
// No EAL.
#include <catch2/catch.hpp>

#include <vector>

#include "dp_test_util.h"
#include "flow_arena.h"
#include "megaflow_classifier.h"
#include "signature_match_cache.h"

using namespace dps::datapath;

namespace {

// A hash with signature `sig` (top 12 bits) landing in set `set`.
uint32_t hash_of(uint32_t sig, uint32_t set, uint32_t middle = 0) {
  return sig << 20 | middle << 12 | set;
}

// The index cached for hash, or -1.
int64_t find(const SignatureMatchCache& smc, uint32_t hash) {
  const auto& s = smc.set(hash);
  const unsigned m = SignatureMatchCache::match(s, hash);
  if (!m) return -1;
  return SignatureMatchCache::index_of(s.entries[__builtin_ctz(m)]);
}

DpFlow* make_flow(FlowArena& arena, uint32_t nw_dst, uint32_t dst_mask) {
  FlowKey k{};
  k.nw_dst = nw_dst;
  FlowMask m{};
  m.nw_dst = dst_mask;
  return dps::test::make_flow(arena, k, m);
}

}  // namespace

TEST_CASE("smc: sizes, sets and signatures", "[datapath][smc]") {
  CHECK(SignatureMatchCache(0).entries() == kSmcWays);
  CHECK(SignatureMatchCache(100).entries() == 128);
  CHECK(SignatureMatchCache(kSmcEntries).entries() == kSmcEntries);

  SignatureMatchCache smc(4 * kSmcWays);  // 4 sets
  CHECK(smc.count_used() == 0);
  smc.insert(hash_of(0x123, 1), 42);
  CHECK(find(smc, hash_of(0x123, 1)) == 42);
  CHECK(find(smc, hash_of(0x123, 2)) == -1);  // another set
  CHECK(find(smc, hash_of(0x124, 1)) == -1);  // another signature
  CHECK(find(smc, hash_of(0x123, 5)) == 42);  // set bits beyond the 4 sets are not used
  CHECK(&smc.set(hash_of(0x123, 1)) == &smc.set(hash_of(0x999, 1)));
  CHECK(smc.count_used() == 1);
}

TEST_CASE("smc: one way per signature; a colliding hash replaces it", "[datapath][smc]") {
  SignatureMatchCache smc(kSmcWays);
  const uint32_t h1 = hash_of(0x321, 0, 0x11), h2 = hash_of(0x321, 0, 0x22);
  smc.insert(h1, 10);
  smc.insert(h2, 20);  // same set, same signature: the same way
  CHECK(smc.count_used() == 1);
  CHECK(find(smc, h1) == 20);  // a wrong candidate for h1: verification's job
  CHECK(find(smc, h2) == 20);
  smc.insert(h1, 11);
  CHECK(find(smc, h2) == 11);
  CHECK(smc.count_used() == 1);
}

TEST_CASE("smc: empty ways never yield a flow index", "[datapath][smc]") {
  SignatureMatchCache smc(kSmcWays);
  const uint32_t all_ones_sig = hash_of(0xfff, 0);
  const auto& s = smc.set(all_ones_sig);
  const unsigned m = SignatureMatchCache::match(s, all_ones_sig);
  CHECK(m == (1u << kSmcWays) - 1);  // every empty way "matches"...
  for (unsigned w = 0; w < kSmcWays; w++)
    CHECK(SignatureMatchCache::index_of(s.entries[w]) == kSmcIndexMask);  // ...with no index
  CHECK(kSmcIndexMask > kSmcMaxIndex);
  smc.insert(all_ones_sig, 5);
  CHECK(find(smc, all_ones_sig) == 5);
  CHECK(smc.count_used() == 1);
}

TEST_CASE("smc: a full set evicts in rotating order", "[datapath][smc]") {
  SignatureMatchCache smc(kSmcWays);
  for (uint32_t i = 0; i < kSmcWays; i++) smc.insert(hash_of(i + 1, 0), 100 + i);
  REQUIRE(smc.count_used() == kSmcWays);
  for (uint32_t k = 0; k < kSmcWays; k++) {
    smc.insert(hash_of(0x800 + k, 0), 200 + k);  // a new signature each time
    CHECK(find(smc, hash_of(0x800 + k, 0)) == 200 + k);
    CHECK(find(smc, hash_of(k + 1, 0)) == -1);  // way k was the victim
    if (k + 1 < kSmcWays) CHECK(find(smc, hash_of(k + 2, 0)) == 100 + k + 1);
    CHECK(smc.count_used() == kSmcWays);
  }
  smc.insert(hash_of(0x900, 0), kSmcMaxIndex + 1);  // too wide: ignored
  CHECK(find(smc, hash_of(0x900, 0)) == -1);
  smc.insert(hash_of(0x901, 0), kSmcMaxIndex);  // the widest that fits
  CHECK(find(smc, hash_of(0x901, 0)) == kSmcMaxIndex);
  smc.clear();
  CHECK(smc.count_used() == 0);
  CHECK(find(smc, hash_of(0x901, 0)) == -1);
}

TEST_CASE("smc in the classifier: two subtables up, verified, disabled on demand",
          "[datapath][smc]") {
  FlowArena arena(1024);
  MegaflowClassifier cls;
  cls.set_smc_enabled(true, 1024);
  DpFlow* f8 = make_flow(arena, 10, 0xff);  // network order: 10.0.0.0/8
  REQUIRE(cls.insert(f8) == InsertResult::kOk);
  FlowKey keys[2] = {};
  keys[0].nw_dst = 10 | 1u << 24;
  keys[1].nw_dst = 10 | 2u << 24;
  const uint32_t hashes[2] = {hash_of(0x111, 3), hash_of(0x222, 4)};
  DpFlow* out[2] = {};
  ClassifierStats st;
  REQUIRE(cls.lookup_batch(keys, hashes, 2, 0x3, out, &st) == 0x3);
  CHECK(cls.smc()->count_used() == 0);  // one subtable: the SMC is not used

  DpFlow* f16 = make_flow(arena, 20 | 30u << 8, 0xffff);
  REQUIRE(cls.insert(f16) == InsertResult::kOk);
  REQUIRE(cls.lookup_batch(keys, hashes, 2, 0x3, out, &st) == 0x3);
  CHECK(cls.smc()->count_used() == 2);
  ClassifierStats st2;
  REQUIRE(cls.lookup_batch(keys, hashes, 2, 0x3, out, &st2) == 0x3);
  CHECK(st2.smc_hits == 2);
  CHECK(out[1] == f8);

  // A candidate that does not verify: another key under the same hashes.
  FlowKey other[2] = {};
  other[0].nw_dst = 20 | 30u << 8;  // f16's
  other[1].nw_dst = 77;              // nobody's
  ClassifierStats st3;
  CHECK(cls.lookup_batch(other, hashes, 2, 0x3, out, &st3) == 0x1);
  CHECK(st3.smc_hits == 0);
  CHECK(out[0] == f16);

  cls.set_smc_enabled(false);
  CHECK_FALSE(cls.smc_enabled());
  CHECK(cls.smc()->count_used() == 0);
  ClassifierStats st4;
  REQUIRE(cls.lookup_batch(keys, hashes, 2, 0x3, out, &st4) == 0x3);
  CHECK(st4.smc_hits == 0);
  CHECK(cls.smc()->count_used() == 0);  // not refreshed while off
  cls.set_smc_enabled(true);
  REQUIRE(cls.lookup_batch(keys, hashes, 2, 0x3, out, &st4) == 0x3);
  CHECK(cls.smc()->count_used() == 2);
}
