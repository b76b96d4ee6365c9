// Subtable: one mask's hash table of megaflows, tested directly.
//
// Coverage: the mask reduced to its non-zero words (hash and compare ignore
// the rest); insert / duplicate / remove / lookup in the linear form (up to
// kLinearMaxFlows flows) and the hashed form, and the switch between them;
// two flows whose masked keys hash alike (found by search) stay apart;
// buckets that overflow into their neighbours (every flow still found after
// half are removed, and absent keys still miss); reserve() sizes the table
// once; lookup_batch agrees with lookup for masks of 1..4 words and for the
// generic width. No EAL.
#include <catch2/catch.hpp>

#include <random>
#include <unordered_map>
#include <vector>

#include "dp_test_util.h"
#include "flow_arena.h"
#include "subtable.h"

using namespace dps::datapath;
using dps::test::make_flow;

namespace {

FlowMask mask_in_port_nw_dst() {
  FlowMask m{};
  m.in_port = 0xffffffff;
  m.nw_dst = 0xffffffff;
  return m;
}

FlowKey key_dst(uint32_t dst, uint32_t in_port = 1) {
  FlowKey k{};
  k.in_port = in_port;
  k.nw_dst = dst;
  k.tp_src = static_cast<uint16_t>(dst * 31);  // outside the mask: must not matter
  return k;
}

// A mask over `words` distinct words of the key (0 < words <= kFlowWords).
FlowMask mask_of_words(unsigned words) {
  FlowMask m{};
  for (unsigned w = 0; w < words; w++) m.words()[w * kFlowWords / words] = 0x00ff00ff00ff00ffull;
  return m;
}

}  // namespace

TEST_CASE("subtable: the mask's non-zero words, hashed and compared alone", "[datapath][subtable]") {
  FlowMask m = mask_in_port_nw_dst();
  MaskWords mw(m);
  REQUIRE(mw.n == 2);
  CHECK(mw.idx[0] == 0);
  CHECK(mw.idx[1] == 3);
  FlowKey a = key_dst(7), b = key_dst(7);
  b.tp_src = 999;  // outside the mask
  b.dl_src[0] = 1;
  CHECK(mw.hash(a) == mw.hash(b));
  FlowKey masked;
  flow_key_apply_mask(a, m, &masked);
  CHECK(mw.equal(b, masked));
  CHECK_FALSE(mw.equal(key_dst(8), masked));
  CHECK(mw.hash(key_dst(8)) != mw.hash(a));
}

TEST_CASE("subtable: linear form, hashed form and back", "[datapath][subtable]") {
  FlowArena arena(1024);
  const FlowMask m = mask_in_port_nw_dst();
  Subtable st(m);
  std::vector<DpFlow*> flows;
  for (uint32_t i = 0; i < 6; i++) flows.push_back(make_flow(arena, key_dst(100 + i), m));

  REQUIRE(st.insert(flows[0]));
  REQUIRE(st.insert(flows[1]));
  CHECK(st.buckets() == 0);  // up to kLinearMaxFlows: no table
  CHECK(st.lookup(key_dst(101)) == flows[1]);
  CHECK(st.lookup(key_dst(106)) == nullptr);
  CHECK_FALSE(st.insert(make_flow(arena, key_dst(101), m)));  // duplicate masked key
  CHECK(st.size() == 2);

  for (uint32_t i = 2; i < 6; i++) REQUIRE(st.insert(flows[i]));
  CHECK(st.buckets() > 0);
  CHECK(st.size() == 6);
  for (uint32_t i = 0; i < 6; i++) CHECK(st.lookup(key_dst(100 + i)) == flows[i]);
  CHECK(st.lookup(key_dst(100, 2)) == nullptr);  // in_port is in the mask
  CHECK_FALSE(st.insert(make_flow(arena, key_dst(103), m)));

  for (uint32_t i = 0; i < 6; i++) {
    REQUIRE(st.remove(flows[i]));
    CHECK_FALSE(st.remove(flows[i]));
    CHECK(st.lookup(key_dst(100 + i)) == nullptr);
    for (uint32_t j = i + 1; j < 6; j++) CHECK(st.lookup(key_dst(100 + j)) == flows[j]);
  }
  CHECK(st.size() == 0);
  CHECK(st.buckets() == 0);  // empty: back to the hash-free form
  REQUIRE(st.insert(flows[3]));
  CHECK(st.lookup(key_dst(103)) == flows[3]);
}

TEST_CASE("subtable: masked keys with equal hashes stay apart", "[datapath][subtable]") {
  const FlowMask m = mask_in_port_nw_dst();
  MaskWords mw(m);
  // The hash is linear in the key bits (CRC), so keys differing in one
  // word never collide: draw both words at random. Birthday search: ~4
  // colliding pairs expected among 200k keys.
  std::mt19937 rng(7);
  std::unordered_map<uint32_t, FlowKey> seen;
  FlowKey a{}, b{};
  bool found = false;
  for (uint32_t i = 0; i < 400000 && !found; i++) {
    const FlowKey k = key_dst(rng(), rng());
    auto [it, fresh] = seen.emplace(mw.hash(k), k);
    if (!fresh && (k.in_port != it->second.in_port || k.nw_dst != it->second.nw_dst)) {
      a = it->second;
      b = k;
      found = true;
    }
  }
  REQUIRE(found);
  REQUIRE(mw.hash(a) == mw.hash(b));

  FlowArena arena(1024);
  Subtable st(m);
  std::vector<DpFlow*> flows;
  for (const FlowKey& k : {a, b, key_dst(1), key_dst(2), key_dst(3)}) {
    flows.push_back(make_flow(arena, k, m));
    REQUIRE(st.insert(flows.back()));
  }
  CHECK(st.lookup(a) == flows[0]);
  CHECK(st.lookup(b) == flows[1]);
  FlowKey keys[2] = {a, b};
  DpFlow* out[2] = {};
  CHECK(st.lookup_batch(keys, 0x3, out) == 0x3);
  CHECK(out[0] == flows[0]);
  CHECK(out[1] == flows[1]);
  REQUIRE(st.remove(flows[0]));
  CHECK(st.lookup(a) == nullptr);
  CHECK(st.lookup(b) == flows[1]);
  CHECK(st.lookup_batch(keys, 0x3, out) == 0x2);
}

TEST_CASE("subtable: overflowing buckets keep every flow reachable", "[datapath][subtable]") {
  FlowArena arena(4096);
  const FlowMask m = mask_in_port_nw_dst();
  Subtable st(m);
  st.reserve(3000);  // sized once: inserting up to it never rehashes
  const uint32_t buckets = st.buckets();
  REQUIRE(buckets > 0);
  std::vector<DpFlow*> flows;
  for (uint32_t i = 0; i < 3000; i++) {
    flows.push_back(make_flow(arena, key_dst(0x0a000000 + i * 2654435761u), m));
    REQUIRE(st.insert(flows.back()));
  }
  CHECK(st.buckets() == buckets);
  // 3000 flows in 1024 buckets of 5: some 70 buckets have spilled.
  for (uint32_t i = 0; i < 3000; i++) REQUIRE(st.lookup(flows[i]->key) == flows[i]);
  for (uint32_t i = 0; i < 3000; i += 2) REQUIRE(st.remove(flows[i]));
  unsigned bad = 0;
  for (uint32_t i = 0; i < 3000; i++)
    bad += st.lookup(key_dst(0x0a000000 + i * 2654435761u)) != (i % 2 ? flows[i] : nullptr);
  CHECK(bad == 0);
  for (uint32_t i = 0; i < 1000; i++) CHECK(st.lookup(key_dst(0x7f000000 + i)) == nullptr);
  // Growth past the reservation rehashes and keeps the flows.
  for (uint32_t i = 0; i < 3000; i += 2) REQUIRE(st.insert(flows[i]));
  for (uint32_t i = 0; i < 1000; i++) {
    flows.push_back(make_flow(arena, key_dst(0x0b000000 + i), m));
    REQUIRE(st.insert(flows.back()));
  }
  CHECK(st.buckets() > buckets);
  bad = 0;
  for (DpFlow* f : flows) bad += st.lookup(f->key) != f;
  CHECK(bad == 0);
}

TEST_CASE("subtable: lookup_batch agrees with lookup for every mask width", "[datapath][subtable]") {
  std::mt19937 rng(12);
  for (unsigned words : {1u, 2u, 3u, 4u, 5u, 9u, 16u}) {
    for (unsigned nflows : {1u, 2u, 40u}) {  // linear and hashed forms
      INFO("words " << words << ", flows " << nflows);
      FlowArena arena(1024);
      const FlowMask m = mask_of_words(words);
      Subtable st(m);
      REQUIRE(st.words().n == words);
      std::vector<FlowKey> keys;
      for (unsigned i = 0; i < 64; i++) {
        FlowKey k{};
        for (unsigned w = 0; w < kFlowWords; w++) k.words()[w] = rng() % 4 * 0x0001000100010001ull;
        keys.push_back(k);
      }
      for (unsigned i = 0; i < nflows && i < keys.size(); i++) st.insert(make_flow(arena, keys[i], m));
      for (unsigned base = 0; base < 64; base += 32) {
        DpFlow* out[32] = {};
        const uint32_t hit = st.lookup_batch(&keys[base], 0xfffffffe, out);  // not key 0
        CHECK((hit & 1) == 0);
        for (unsigned i = 1; i < 32; i++) {
          DpFlow* want = st.lookup(keys[base + i]);
          CHECK(((hit >> i) & 1) == (want != nullptr));
          if (want) CHECK(out[i] == want);
          if (want) CHECK(st.matches(keys[base + i], *want));
        }
      }
    }
  }
}
