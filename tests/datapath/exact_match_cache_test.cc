// ExactMatchCache. Coverage goal: every lookup answer is either a miss or
// the flow most recently inserted for that exact key with a still-current
// generation, whatever the fill level (including far more keys than entries
// and colliding hashes); batch and single lookups agree; the insert
// probability is what was configured; sweep/clear drop exactly the entries
// they should. Pure data structure: no EAL.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "exact_match_cache.h"
#include "flow_arena.h"

using namespace dps::datapath;

namespace {

FlowKey make_key(uint32_t i) {
  FlowKey k{};
  k.in_port = 1;
  k.eth_type = 0x0008;
  k.nw_src = 0x0a000000u + i;
  k.nw_dst = 0xac100001u ^ (i * 2654435761u);
  k.tp_src = static_cast<uint16_t>(i);
  k.nw_proto = 17;
  return k;
}

// murmur3's finalizer: well-spread low bits, like a real packet hash.
uint32_t mix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

}  // namespace

TEST_CASE("emc insert then lookup hits, others miss", "[datapath]") {
  FlowArena arena(1024);
  ExactMatchCache emc(64);
  emc.set_insert_inv_prob(1);
  DpFlow* f1 = arena.alloc();
  DpFlow* f2 = arena.alloc();
  FlowKey k1 = make_key(1), k2 = make_key(2), k3 = make_key(3);
  CHECK(emc.maybe_insert(k1, mix(1), f1));
  CHECK(emc.maybe_insert(k2, mix(2), f2));
  CHECK(emc.lookup(k1, mix(1)) == f1);
  CHECK(emc.lookup(k2, mix(2)) == f2);
  CHECK(emc.lookup(k3, mix(3)) == nullptr);
  // Same hash, different key: still a miss.
  CHECK(emc.lookup(k3, mix(1)) == nullptr);

  FlowKey keys[3] = {k1, k3, k2};
  uint32_t hashes[3] = {mix(1), mix(3), mix(2)};
  DpFlow* out[3] = {nullptr, nullptr, nullptr};
  CHECK(emc.lookup_batch(keys, hashes, 0b111u, out) == 0b101u);
  CHECK(out[0] == f1);
  CHECK(out[1] == nullptr);
  CHECK(out[2] == f2);
  CHECK(emc.counters().hits >= 4);
}

TEST_CASE("emc entries of a retired flow are misses and get swept", "[datapath]") {
  FlowArena arena(1024);
  ExactMatchCache emc(4096);  // 1024 sets for 20 keys: no evictions
  emc.set_insert_inv_prob(1);
  DpFlow* f = arena.alloc();
  DpFlow* g = arena.alloc();
  for (uint32_t i = 0; i < 20; i++) emc.insert(make_key(i), mix(i), i % 2 ? f : g);
  REQUIRE(emc.count_valid() == 20);
  f->gen.store(f->gen.load() + 1);  // what MegaflowClassifier::remove does
  for (uint32_t i = 0; i < 20; i++)
    CHECK(emc.lookup(make_key(i), mix(i)) == (i % 2 ? nullptr : g));
  CHECK(emc.count_valid() == 10);
  uint32_t cleared = emc.sweep(emc.sets());
  CHECK(cleared == 10);
  CHECK(emc.counters().swept == 10);
  CHECK(emc.sweep(emc.sets()) == 0);
  // Re-inserting under the new generation makes it valid again.
  emc.insert(make_key(1), mix(1), f);
  CHECK(emc.lookup(make_key(1), mix(1)) == f);
  emc.clear();
  CHECK(emc.count_valid() == 0);
  CHECK(emc.lookup(make_key(0), mix(0)) == nullptr);
}

TEST_CASE("emc insert of a cached key updates it in place", "[datapath]") {
  FlowArena arena(1024);
  ExactMatchCache emc(16);
  DpFlow* f = arena.alloc();
  DpFlow* g = arena.alloc();
  emc.insert(make_key(5), 77, f);
  emc.insert(make_key(5), 77, g);
  CHECK(emc.count_valid() == 1);
  CHECK(emc.lookup(make_key(5), 77) == g);
}

TEST_CASE("emc colliding hashes keep distinct keys apart", "[datapath]") {
  FlowArena arena(1024);
  ExactMatchCache emc(64);
  std::vector<DpFlow*> flows;
  for (uint32_t i = 0; i < kEmcWays; i++) {
    flows.push_back(arena.alloc());
    emc.insert(make_key(i), 0x1234, flows.back());  // all in one set, same hash
  }
  for (uint32_t i = 0; i < kEmcWays; i++) CHECK(emc.lookup(make_key(i), 0x1234) == flows[i]);
  // One more evicts exactly one of them; the rest still answer correctly.
  DpFlow* extra = arena.alloc();
  emc.insert(make_key(100), 0x1234, extra);
  CHECK(emc.lookup(make_key(100), 0x1234) == extra);
  int still = 0;
  for (uint32_t i = 0; i < kEmcWays; i++) {
    DpFlow* r = emc.lookup(make_key(i), 0x1234);
    CHECK((r == nullptr || r == flows[i]));
    still += r != nullptr;
  }
  CHECK(still == static_cast<int>(kEmcWays) - 1);
}

TEST_CASE("emc keys differing only in the IPv6 half stay apart", "[datapath]") {
  // The cache compares a key's second line (IPv6 addresses) only when it is
  // non-zero on either side: same first line, same hash, different second
  // lines (including all-zero) must each find their own flow.
  FlowArena arena(1024);
  ExactMatchCache emc(64);
  FlowKey v4 = make_key(7);
  FlowKey a = v4, b = v4;
  a.ipv6_src[15] = 1;
  b.ipv6_dst[0] = 0x20;
  b.nd_target[3] = 9;
  DpFlow* fa = arena.alloc();
  DpFlow* fb = arena.alloc();
  DpFlow* f4 = arena.alloc();
  emc.insert(a, 0x55, fa);
  CHECK(emc.lookup(v4, 0x55) == nullptr);  // zero second line vs a's
  CHECK(emc.lookup(b, 0x55) == nullptr);
  emc.insert(v4, 0x55, f4);
  emc.insert(b, 0x55, fb);
  CHECK(emc.count_valid() == 3);
  CHECK(emc.lookup(a, 0x55) == fa);
  CHECK(emc.lookup(b, 0x55) == fb);
  CHECK(emc.lookup(v4, 0x55) == f4);
  FlowKey keys[3] = {b, v4, a};
  uint32_t hashes[3] = {0x55, 0x55, 0x55};
  DpFlow* out[3] = {};
  CHECK(emc.lookup_batch(keys, hashes, 0b111u, out) == 0b111u);
  CHECK((out[0] == fb && out[1] == f4 && out[2] == fa));
  // Re-inserting a cached IPv6 key updates its entry instead of adding one.
  DpFlow* fa2 = arena.alloc();
  emc.insert(a, 0x55, fa2);
  CHECK(emc.count_valid() == 3);
  CHECK(emc.lookup(a, 0x55) == fa2);
}

TEST_CASE("emc overfilled never answers wrong; batch agrees with single", "[datapath]") {
  FlowArena arena(4096);
  ExactMatchCache emc(256);  // 256 entries for 5000 keys: constant eviction
  emc.set_insert_inv_prob(1);
  std::vector<DpFlow*> flows;
  for (int i = 0; i < 64; i++) flows.push_back(arena.alloc());
  std::mt19937 rng(7);
  std::map<uint32_t, DpFlow*> truth;  // key id -> flow last inserted
  for (int round = 0; round < 20000; round++) {
    uint32_t id = rng() % 5000;
    DpFlow* f = flows[rng() % flows.size()];
    emc.insert(make_key(id), mix(id), f);
    truth[id] = f;
    if (round % 997 == 0) {  // retire one flow now and then
      DpFlow* r = flows[rng() % flows.size()];
      r->gen.store(r->gen.load() + 1);
    }
  }
  CHECK(emc.count_valid() <= emc.entries());
  uint32_t hits_single = 0, hits_batch = 0;
  for (uint32_t base = 0; base < 5000; base += 32) {
    FlowKey keys[32];
    uint32_t hashes[32];
    DpFlow* out[32] = {};
    unsigned n = std::min<uint32_t>(32, 5000 - base);
    for (unsigned i = 0; i < n; i++) {
      keys[i] = make_key(base + i);
      hashes[i] = mix(base + i);
    }
    uint32_t hit = emc.lookup_batch(keys, hashes, n >= 32 ? ~0u : (1u << n) - 1, out);
    for (unsigned i = 0; i < n; i++) {
      DpFlow* single = emc.lookup(keys[i], hashes[i]);
      bool b = hit >> i & 1;
      CHECK(b == (single != nullptr));
      if (b) {
        CHECK(out[i] == single);
        auto it = truth.find(base + i);
        REQUIRE(it != truth.end());
        CHECK(out[i] == it->second);
        hits_batch++;
      }
      hits_single += single != nullptr;
    }
  }
  CHECK(hits_batch == hits_single);
  CHECK(hits_batch > 0);
  CHECK(hits_batch <= emc.entries());
}

TEST_CASE("emc probabilistic insert follows the configured probability", "[datapath]") {
  FlowArena arena(1024);
  DpFlow* f = arena.alloc();
  ExactMatchCache emc(1024, 12345);
  REQUIRE(emc.insert_inv_prob() == kEmcDefaultInsertInvProb);
  const int n = 100000;
  int written = 0;
  for (int i = 0; i < n; i++) written += emc.maybe_insert(make_key(i), mix(i), f);
  // Binomial(100000, 1/100): mean 1000, sd ~31.5; 5 sd either side.
  CHECK(written > 840);
  CHECK(written < 1160);
  CHECK(emc.counters().inserts == static_cast<uint64_t>(written));

  emc.set_insert_inv_prob(0);
  int none = 0;
  for (int i = 0; i < 1000; i++) none += emc.maybe_insert(make_key(i), mix(i), f);
  CHECK(none == 0);
  emc.set_insert_inv_prob(1);
  int all = 0;
  for (int i = 0; i < 1000; i++) all += emc.maybe_insert(make_key(i), mix(i), f);
  CHECK(all == 1000);
  emc.set_insert_inv_prob(4);
  int quarter = 0;
  for (int i = 0; i < 40000; i++) quarter += emc.maybe_insert(make_key(i), mix(i), f);
  CHECK(quarter > 9000);  // mean 10000, sd ~87
  CHECK(quarter < 11000);
}
