// sample_slots_test.cc - the datapath's 1-in-N sampling countdown.
//
// Coverage goal: exactly every Nth packet sampled across groups of any
// size, the countdown carried between groups, N = 1, a smaller N cutting a
// running countdown, slots independent, the pool and the sampled / lost
// counters.
#include <catch2/catch.hpp>

#include <vector>

#include "sample_slots.h"

using dps::datapath::SampleCounters;
using dps::datapath::SampleSlots;

namespace {

// The global indexes of the packets sampled over groups of the given sizes.
std::vector<unsigned> picks(SampleSlots& s, unsigned slot, uint32_t rate, std::vector<unsigned> groups) {
  std::vector<unsigned> out;
  unsigned base = 0;
  for (unsigned n : groups) {
    uint8_t pos[32];
    unsigned k = s.pick(slot, rate, n, pos);
    for (unsigned i = 0; i < k; i++) {
      REQUIRE(pos[i] < n);
      out.push_back(base + pos[i]);
    }
    base += n;
  }
  return out;
}

}  // namespace

TEST_CASE("sample slots: every Nth packet, across groups", "[datapath][sample]") {
  SampleSlots s;
  // 3 in a row then 5, 1, 32, 7: packets 4, 9, 14, ... (every 5th, 1-based).
  std::vector<unsigned> got = picks(s, 0, 5, {3, 5, 1, 32, 7});
  std::vector<unsigned> want;
  for (unsigned i = 4; i < 48; i += 5) want.push_back(i);
  CHECK(got == want);
  SampleCounters c;
  s.add_to(0, &c);
  CHECK(c.pool == 48);
  s.count(0, 9, 1);
  c = {};
  s.add_to(0, &c);
  CHECK(c.sampled == 9);
  CHECK(c.lost == 1);
}

TEST_CASE("sample slots: 1 in 1 samples all; slots are independent", "[datapath][sample]") {
  SampleSlots s;
  CHECK(picks(s, 1, 1, {4, 2}) == std::vector<unsigned>{0, 1, 2, 3, 4, 5});
  CHECK(picks(s, 2, 1000, {32, 32}).empty());
  SampleCounters c1, c2;
  s.add_to(1, &c1);
  s.add_to(2, &c2);
  CHECK(c1.pool == 6);
  CHECK(c2.pool == 64);
}

TEST_CASE("sample slots: a smaller rate cuts the running countdown", "[datapath][sample]") {
  SampleSlots s;
  CHECK(picks(s, 0, 1000, {10}).empty());  // 990 to go
  CHECK(picks(s, 0, 4, {8}) == std::vector<unsigned>{3, 7});
}
