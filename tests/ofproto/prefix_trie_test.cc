#include <catch2/catch.hpp>

#include <random>
#include <utility>
#include <vector>

#include "prefix_trie.h"

using dps::ofproto::ipv4_prefix_mask_host;
using dps::ofproto::PrefixTrie;

namespace {
// Brute force: lengths L with a stored prefix equal to addr's first L bits.
uint64_t oracle(const std::vector<std::pair<uint32_t, unsigned>>& ps, uint32_t addr) {
  uint64_t lens = 0;
  for (auto [a, l] : ps)
    if (((a ^ addr) & ipv4_prefix_mask_host(l)) == 0) lens |= uint64_t{1} << l;
  return lens;
}
}  // namespace

TEST_CASE("prefix trie: lengths equal a brute-force scan, and depend only on the examined bits",
          "[ofproto][classifier]") {
  std::mt19937 rng(7);
  PrefixTrie t;
  std::vector<std::pair<uint32_t, unsigned>> ps;
  for (int i = 0; i < 300; i++) {
    unsigned l = 1 + rng() % 32;
    uint32_t a = static_cast<uint32_t>(rng()) & ipv4_prefix_mask_host(l);
    // Cluster half of them under 10/8 so walks go deep.
    if (i % 2) a = (0x0a000000u | (a >> 8)) & ipv4_prefix_mask_host(l);
    t.insert(a, l);
    ps.emplace_back(a, l);
  }
  for (int i = 0; i < 20000; i++) {
    uint32_t addr = static_cast<uint32_t>(rng());
    if (i % 2) addr = 0x0a000000u | (addr >> 8);
    unsigned ex = 0;
    uint64_t lens = t.lookup(addr, &ex);
    REQUIRE(lens == oracle(ps, addr));
    REQUIRE(ex >= 1);
    REQUIRE(ex <= 32);
    // Any address agreeing on the examined bits gets the same answer.
    uint32_t other = (addr & ipv4_prefix_mask_host(ex)) | (static_cast<uint32_t>(rng()) & ~ipv4_prefix_mask_host(ex));
    unsigned ex2 = 0;
    REQUIRE(t.lookup(other, &ex2) == lens);
    REQUIRE(ex2 == ex);
  }
}

TEST_CASE("prefix trie: removal is reference counted and prunes", "[ofproto][classifier]") {
  PrefixTrie t;
  t.insert(0x0a000000u, 8);
  t.insert(0x0a000000u, 8);
  t.insert(0x0a010000u, 16);
  unsigned ex = 0;
  CHECK(t.lookup(0x0a010203u, &ex) == ((uint64_t{1} << 8) | (uint64_t{1} << 16)));
  CHECK(ex == 17);  // walked 16 levels, the 17th bit found no child
  CHECK(t.remove(0x0a000000u, 8));
  CHECK(t.lookup(0x0a010203u, &ex) == ((uint64_t{1} << 8) | (uint64_t{1} << 16)));
  CHECK(t.remove(0x0a000000u, 8));
  CHECK_FALSE(t.remove(0x0a000000u, 8));
  CHECK_FALSE(t.remove(0x0b000000u, 8));
  CHECK(t.lookup(0x0a010203u, &ex) == (uint64_t{1} << 16));
  CHECK(t.remove(0x0a010000u, 16));
  CHECK(t.empty());
  CHECK(t.lookup(0x0a010203u, &ex) == 0);
  CHECK(ex == 1);  // the root has no child left
}
