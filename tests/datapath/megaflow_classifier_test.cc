// MegaflowClassifier / Subtable / SMC.
//
// Coverage goal (in the spirit of Open vSwitch tests/test-classifier.c):
// against a brute-force reference (a plain list of installed flows, scanned
// with key & mask == flow key), for random megaflow sets drawn from a small
// value space so that keys match often, over many masks (including words in
// the key's second cache line, prefix masks and the all-wildcard mask):
//  - lookup() and lookup_batch() hit exactly when some installed flow matches,
//    and always return a flow that matches;
//  - when flows do not overlap, both return exactly the reference's flow,
//    with and without the signature match cache;
//  - batch and single lookups return the same flow for every key;
//  - the above stays true across insertions that grow subtables past their
//    linear and hashed forms, removals (including emptying subtables),
//    reranking, and flow slots reused for different megaflows (SMC).
// Plus targeted cases: overlapping masks resolved by rank, rerank order,
// duplicate / malformed inserts, retirement (installed, gen), counters.
// Pure data structure: no EAL.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "dp_test_util.h"
#include "flow_arena.h"
#include "megaflow_classifier.h"

using namespace dps::datapath;
using dps::test::make_flow;

namespace {

// The value space: each field takes one of a few values, so random keys hit
// random megaflows often.
struct Space {
  static constexpr uint32_t in_ports[] = {1, 2};
  static constexpr uint16_t eth_types[] = {0x0008, 0xdd86};
  static constexpr uint32_t nw_srcs[] = {0x0100000a, 0x0200000a, 0x0300000a};
  static constexpr uint32_t nw_dsts[] = {0x010010ac, 0x020010ac, 0x01ff10ac};
  static constexpr uint16_t tp_srcs[] = {0x5000, 0xbb01};
  static constexpr uint8_t nw_protos[] = {6, 17};
  static constexpr uint8_t v6_first[] = {0x20, 0xfe};  // ipv6_src[0]
};

FlowKey random_key(std::mt19937& rng) {
  FlowKey k{};
  k.in_port = Space::in_ports[rng() % 2];
  k.eth_type = Space::eth_types[rng() % 2];
  k.nw_src = Space::nw_srcs[rng() % 3];
  k.nw_dst = Space::nw_dsts[rng() % 3];
  k.tp_src = Space::tp_srcs[rng() % 2];
  k.nw_proto = Space::nw_protos[rng() % 2];
  k.ipv6_src[0] = Space::v6_first[rng() % 2];
  k.ipv6_src[15] = static_cast<uint8_t>(rng() % 2);
  return k;
}

// One of 2^8 masks: each field fully significant or not; nw_dst may be a
// /16 prefix instead of /32 (network order: the first two bytes).
FlowMask random_mask(std::mt19937& rng) {
  FlowMask m{};
  uint32_t bits = rng();
  if (bits & 1) m.in_port = 0xffffffff;
  if (bits & 2) m.eth_type = 0xffff;
  if (bits & 4) m.nw_src = 0xffffffff;
  if (bits & 8) m.nw_dst = (bits & 0x100) ? 0x0000ffff : 0xffffffff;
  if (bits & 16) m.tp_src = 0xffff;
  if (bits & 32) m.nw_proto = 0xff;
  if (bits & 64) m.ipv6_src[0] = 0xff;
  if (bits & 128) m.ipv6_src[15] = 0xff;
  return m;
}

bool matches(const FlowKey& key, const DpFlow& f) {
  for (unsigned i = 0; i < kFlowWords; i++)
    if ((key.words()[i] & f.mask.words()[i]) != f.key.words()[i]) return false;
  return true;
}

// Checks one burst of random keys against the reference list.
void check_burst(MegaflowClassifier& cls, const std::vector<DpFlow*>& installed,
                 std::mt19937& rng, bool disjoint) {
  FlowKey keys[32];
  uint32_t hashes[32];
  DpFlow* out[32] = {};
  unsigned n = 1 + rng() % 32;
  for (unsigned i = 0; i < n; i++) {
    keys[i] = random_key(rng);
    hashes[i] = rng() % 64;  // few distinct hashes: SMC signature collisions
  }
  uint32_t todo = (n == 32 ? 0xffffffffu : (1u << n) - 1) & rng();
  uint32_t hit = cls.lookup_batch(keys, hashes, n, todo, out);
  CHECK((hit & ~todo) == 0);
  for (unsigned i = 0; i < n; i++) {
    if (!(todo >> i & 1)) {
      CHECK(out[i] == nullptr);  // untouched
      continue;
    }
    DpFlow* ref = nullptr;
    for (DpFlow* f : installed)
      if (matches(keys[i], *f)) {
        ref = f;
        break;
      }
    DpFlow* single = cls.lookup(keys[i]);
    bool b = hit >> i & 1;
    CHECK(b == (ref != nullptr));
    CHECK((single != nullptr) == (ref != nullptr));
    if (b) {
      REQUIRE(out[i] != nullptr);
      CHECK(matches(keys[i], *out[i]));
      CHECK(out[i]->installed);
      if (!cls.smc_enabled()) CHECK(out[i] == single);
      if (disjoint) CHECK(out[i] == ref);
    }
    if (single) {
      CHECK(matches(keys[i], *single));
      if (disjoint) CHECK(single == ref);
    }
  }
}

bool overlaps(const DpFlow& a, const FlowKey& key, const FlowMask& mask) {
  // Two megaflows overlap when they agree on every bit both masks care about.
  for (unsigned i = 0; i < kFlowWords; i++) {
    uint64_t both = a.mask.words()[i] & mask.words()[i];
    if ((a.key.words()[i] & both) != (key.words()[i] & both)) return false;
  }
  return true;
}

void random_run(bool smc, bool disjoint, uint32_t seed) {
  std::mt19937 rng(seed);
  FlowArena arena(4096);
  MegaflowClassifier cls;
  cls.set_smc_enabled(smc, 64);  // tiny SMC: constant replacement
  std::vector<DpFlow*> installed;
  for (int step = 0; step < 600; step++) {
    unsigned op = rng() % 10;
    if (op < 5 || installed.empty()) {
      FlowKey key = random_key(rng);
      FlowMask mask = random_mask(rng);
      bool clash = false;
      for (DpFlow* f : installed) {
        bool same_mask = std::equal(f->mask.words(), f->mask.words() + kFlowWords, mask.words());
        if ((disjoint || same_mask) && overlaps(*f, key, mask)) clash = true;
      }
      DpFlow* f = make_flow(arena, key, mask);
      InsertResult r = cls.insert(f);
      if (clash) {
        // Same mask + same masked key is a duplicate; a disjoint run skips
        // overlapping flows of other masks before trying.
        bool dup = false;
        for (DpFlow* g : installed)
          if (std::equal(g->mask.words(), g->mask.words() + kFlowWords, mask.words()) &&
              std::equal(g->key.words(), g->key.words() + kFlowWords, f->key.words()))
            dup = true;
        if (dup) {
          CHECK(r == InsertResult::kDuplicate);
        } else if (r == InsertResult::kOk) {
          REQUIRE(cls.remove(f));
        }
        CHECK_FALSE(f->installed);
        arena.free(f);
      } else {
        REQUIRE(r == InsertResult::kOk);
        installed.push_back(f);
      }
    } else if (op < 7) {
      size_t i = rng() % installed.size();
      DpFlow* f = installed[i];
      uint32_t gen = f->gen.load();
      REQUIRE(cls.remove(f));
      CHECK(f->gen.load() == gen + 1);
      CHECK_FALSE(f->installed);
      CHECK_FALSE(cls.remove(f));
      installed.erase(installed.begin() + static_cast<long>(i));
      arena.free(f);  // FIFO reuse later hands the slot to another megaflow
    } else if (op == 7) {
      cls.rerank();
    } else {
      check_burst(cls, installed, rng, disjoint);
    }
    REQUIRE(cls.size() == installed.size());
  }
  for (int i = 0; i < 200; i++) check_burst(cls, installed, rng, disjoint);
}

}  // namespace

TEST_CASE("classifier random megaflows agree with brute force", "[datapath]") {
  for (uint32_t seed = 1; seed <= 8; seed++) {
    INFO("seed " << seed);
    random_run(false, false, seed);
    random_run(false, true, seed + 100);
    random_run(true, false, seed + 200);
    random_run(true, true, seed + 300);
  }
}

TEST_CASE("classifier overlapping masks: rank decides, rerank follows hits", "[datapath]") {
  FlowArena arena(1024);
  MegaflowClassifier cls;
  FlowKey k{};
  k.eth_type = 0x0008;
  k.nw_dst = 0x010010ac;  // 172.16.0.1
  FlowMask wide{}, narrow{};
  wide.eth_type = narrow.eth_type = 0xffff;
  wide.nw_dst = 0x000000ff;    // /8
  narrow.nw_dst = 0xffffffff;  // /32
  DpFlow* a = make_flow(arena, k, wide);
  DpFlow* b = make_flow(arena, k, narrow);
  REQUIRE(cls.insert(a) == InsertResult::kOk);
  REQUIRE(cls.insert(b) == InsertResult::kOk);
  REQUIRE(cls.subtable_count() == 2);
  CHECK(cls.lookup(k) == a);  // insertion order before any rerank

  // Traffic that only the narrow subtable can hit is probed there second;
  // its hits make that subtable first after rerank.
  FlowKey keys[32];
  DpFlow* out[32];
  // /8 matches 172.x too: use a key outside 172/8 for the narrow-only flow.
  FlowKey outside = k;
  outside.nw_dst = 0x0100000a;  // 10.0.0.1
  DpFlow* d = make_flow(arena, outside, narrow);
  REQUIRE(cls.insert(d) == InsertResult::kOk);
  for (int i = 0; i < 32; i++) keys[i] = outside;
  CHECK(cls.lookup_batch(keys, nullptr, 32, 0xffffffff, out) == 0xffffffffu);
  CHECK(out[31] == d);
  CHECK(cls.subtable(0).mask().nw_dst == wide.nw_dst);
  cls.rerank();
  CHECK(cls.subtable(0).mask().nw_dst == narrow.nw_dst);
  CHECK(cls.subtable(0).hits == 0);
  CHECK(cls.lookup(k) == b);  // the overlap now resolves to the first-ranked subtable
}

TEST_CASE("classifier rejects duplicates, unmasked keys and reinstalls", "[datapath]") {
  FlowArena arena(1024);
  MegaflowClassifier cls;
  FlowKey k{};
  k.in_port = 3;
  k.nw_src = 0x0100000a;
  FlowMask m{};
  m.in_port = 0xffffffff;
  m.nw_src = 0xffffffff;
  DpFlow* a = make_flow(arena, k, m);
  DpFlow* dup = make_flow(arena, k, m);
  CHECK(cls.insert(a) == InsertResult::kOk);
  CHECK(a->installed);
  CHECK(cls.insert(a) == InsertResult::kAlreadyInstalled);
  CHECK(cls.insert(dup) == InsertResult::kDuplicate);
  CHECK_FALSE(dup->installed);
  DpFlow* bad = make_flow(arena, k, m);
  bad->key.nw_dst = 5;  // outside the mask
  CHECK(cls.insert(bad) == InsertResult::kKeyNotMasked);
  CHECK(std::string(insert_result_name(InsertResult::kKeyNotMasked)).find("mask") !=
        std::string::npos);
  CHECK(cls.size() == 1);
  CHECK(cls.subtable_count() == 1);
  CHECK(cls.flow_by_index(a->index) == a);
  REQUIRE(cls.remove(a));
  CHECK(cls.subtable_count() == 0);  // emptied subtable is destroyed
  CHECK(cls.flow_by_index(a->index) == nullptr);
  CHECK(cls.lookup(k) == nullptr);
  CHECK(cls.insert(dup) == InsertResult::kOk);  // the slot is free again
  CHECK(cls.lookup(k) == dup);
}

TEST_CASE("classifier large subtable grows, removes and keeps answering", "[datapath]") {
  FlowArena arena(40000);
  MegaflowClassifier cls;
  FlowMask m{};
  m.in_port = 0xffffffff;
  m.eth_type = 0xffff;
  m.nw_src = 0xffffffff;
  std::vector<DpFlow*> flows;
  auto key_of = [](uint32_t i) {
    FlowKey k{};
    k.in_port = 1;
    k.eth_type = 0x0008;
    k.nw_src = 0x0a000000u + i * 7919;
    k.tp_src = static_cast<uint16_t>(i);  // not in the mask
    return k;
  };
  for (uint32_t i = 0; i < 30000; i++) {
    flows.push_back(make_flow(arena, key_of(i), m));
    REQUIRE(cls.insert(flows.back()) == InsertResult::kOk);
  }
  REQUIRE(cls.subtable_count() == 1);
  CHECK(cls.subtable(0).size() == 30000);
  for (uint32_t i = 0; i < 30000; i += 2) REQUIRE(cls.remove(flows[i]));
  uint32_t bad = 0;
  for (uint32_t base = 0; base < 30000; base += 32) {
    FlowKey keys[32];
    DpFlow* out[32] = {};
    for (uint32_t i = 0; i < 32; i++) keys[i] = key_of(base + i);
    uint32_t hit = cls.lookup_batch(keys, nullptr, 32, 0xffffffff, out);
    for (uint32_t i = 0; i < 32 && base + i < 30000; i++) {
      bool want = (base + i) % 2 == 1;
      if ((hit >> i & 1) != want) bad++;
      if (want && out[i] != flows[base + i]) bad++;
    }
  }
  CHECK(bad == 0);
  CHECK(cls.stats().hits == 15000);
}

TEST_CASE("classifier counters and SMC hits", "[datapath]") {
  FlowArena arena(1024);
  MegaflowClassifier cls;
  cls.set_smc_enabled(true, 1024);
  REQUIRE(cls.smc_enabled());
  // 4 masks (nw_dst /8 /16 /24 /32), one flow each, disjoint first octets.
  std::vector<DpFlow*> flows;
  for (uint32_t p = 0; p < 4; p++) {
    FlowKey k{};
    k.nw_dst = 20 + p;  // network order: first octet in the low byte
    FlowMask m{};
    m.nw_dst = static_cast<uint32_t>((uint64_t{1} << (8 * (p + 1))) - 1);
    flows.push_back(make_flow(arena, k, m));
    REQUIRE(cls.insert(flows.back()) == InsertResult::kOk);
  }
  FlowKey keys[32];
  uint32_t hashes[32];
  DpFlow* out[32] = {};
  for (uint32_t i = 0; i < 32; i++) {
    keys[i] = FlowKey{};
    keys[i].nw_dst = 23;  // only the /32 flow (20+3 ... rank 3) matches
    keys[i].nw_src = i;
    hashes[i] = 0x10000u * (i + 1) + i;
  }
  ClassifierStats st;
  CHECK(cls.lookup_batch(keys, hashes, 32, 0xffffffff, out, &st) == 0xffffffffu);
  CHECK(out[0] == flows[3]);
  CHECK(st.lookups == 32);
  CHECK(st.hits == 32);
  CHECK(st.smc_hits == 0);
  CHECK(st.subtable_probes == 4 * 32);  // probed all four subtables
  CHECK(cls.smc()->count_used() == 32);

  ClassifierStats st2;
  CHECK(cls.lookup_batch(keys, hashes, 32, 0xffffffff, out, &st2) == 0xffffffffu);
  CHECK(st2.smc_hits == 32);
  CHECK(st2.subtable_probes == 0);
  CHECK(cls.stats().lookups == 64);

  // The flow goes away: SMC candidates fail verification, nothing matches.
  REQUIRE(cls.remove(flows[3]));
  ClassifierStats st3;
  CHECK(cls.lookup_batch(keys, hashes, 32, 0xffffffff, out, &st3) == 0);
  CHECK(st3.smc_hits == 0);
  // Its slot reused for a different megaflow that these keys do not match.
  arena.free(flows[3]);
  for (uint32_t i = 0; i < kFlowArenaChunk - 4; i++) arena.alloc();  // walk the FIFO
  FlowKey nk{};
  nk.nw_dst = 99;
  FlowMask nm{};
  nm.nw_dst = 0xff;
  DpFlow* reused = make_flow(arena, nk, nm);
  REQUIRE(reused == flows[3]);
  REQUIRE(cls.insert(reused) == InsertResult::kOk);
  CHECK(cls.lookup_batch(keys, hashes, 32, 0xffffffff, out) == 0);
  for (uint32_t i = 0; i < 32; i++) keys[i].nw_dst = 99;
  CHECK(cls.lookup_batch(keys, hashes, 32, 0xffffffff, out) == 0xffffffffu);
  CHECK(out[5] == reused);
}

TEST_CASE("classifier flush retires every flow", "[datapath]") {
  FlowArena arena(1024);
  MegaflowClassifier cls;
  std::vector<DpFlow*> flows;
  for (uint32_t i = 0; i < 10; i++) {
    FlowKey k{};
    k.nw_src = i;
    FlowMask m{};
    m.nw_src = 0xffffffff;
    if (i % 2) m.in_port = 0xffffffff;
    flows.push_back(make_flow(arena, k, m));
    REQUIRE(cls.insert(flows.back()) == InsertResult::kOk);
  }
  std::vector<DpFlow*> removed;
  cls.flush([&](DpFlow* f) { removed.push_back(f); });
  CHECK(removed.size() == 10);
  CHECK(cls.size() == 0);
  CHECK(cls.subtable_count() == 0);
  for (DpFlow* f : flows) {
    CHECK_FALSE(f->installed);
    CHECK(f->gen.load() == 1);
  }
}

TEST_CASE("smc set fills, replaces and ignores oversized indexes", "[datapath]") {
  SignatureMatchCache smc(kSmcWays);  // one set
  REQUIRE(smc.entries() == kSmcWays);
  auto hash_of = [](uint32_t sig) { return sig << (32 - 12) | 0x5; };
  auto find = [&](uint32_t hash) -> int64_t {
    const auto& s = smc.set(hash);
    unsigned m = SignatureMatchCache::match(s, hash);
    if (!m) return -1;
    return SignatureMatchCache::index_of(s.entries[__builtin_ctz(m)]);
  };
  for (uint32_t i = 0; i < kSmcWays; i++) smc.insert(hash_of(i + 1), 100 + i);
  CHECK(smc.count_used() == kSmcWays);
  for (uint32_t i = 0; i < kSmcWays; i++) CHECK(find(hash_of(i + 1)) == 100 + i);
  CHECK(find(hash_of(999)) == -1);
  // A full set: a new signature evicts exactly one entry.
  smc.insert(hash_of(500), 7);
  CHECK(smc.count_used() == kSmcWays);
  CHECK(find(hash_of(500)) == 7);
  int left = 0;
  for (uint32_t i = 0; i < kSmcWays; i++) left += find(hash_of(i + 1)) == 100 + i;
  CHECK(left == static_cast<int>(kSmcWays) - 1);
  // Same signature: overwritten in place, never two ways for one hash.
  smc.insert(hash_of(500), 8);
  CHECK(find(hash_of(500)) == 8);
  CHECK(smc.count_used() == kSmcWays);
  // Indexes that do not fit the entry are not cached.
  smc.insert(hash_of(600), kSmcMaxIndex + 1);
  CHECK(find(hash_of(600)) == -1);
  smc.clear();
  CHECK(smc.count_used() == 0);
  CHECK(find(hash_of(500)) == -1);
}
