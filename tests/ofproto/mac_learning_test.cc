// mac_learning_test.cc - MAC learning with an injected clock: learn/lookup
// per VLAN, aging (lookups stop at the deadline, expire() removes), LRU
// eviction at the size limit, no learning from multicast sources or flood
// VLANs, MAC moves and the change log / generations the revalidator uses.
#include <algorithm>
#include <catch2/catch.hpp>

#include "mac_learning.h"

using namespace dps::ofproto;

namespace {
MacAddr mac(uint8_t last, uint8_t first = 0x02) { return {first, 0, 0, 0, 0, last}; }
}  // namespace

TEST_CASE("mac learning: learn and lookup are per VLAN", "[ofproto]") {
  MacLearning ml;
  CHECK(ml.learn(mac(1), 10, 1, 0) == LearnResult::kNew);
  CHECK(ml.learn(mac(1), 20, 2, 0) == LearnResult::kNew);
  CHECK(ml.lookup(mac(1), 10, 1) == 1u);
  CHECK(ml.lookup(mac(1), 20, 1) == 2u);
  CHECK_FALSE(ml.lookup(mac(1), 30, 1));
  CHECK_FALSE(ml.lookup(mac(2), 10, 1));
  CHECK(ml.learn(mac(1), 10, 1, 5) == LearnResult::kRefreshed);
  CHECK(ml.size() == 2);
  CHECK(ml.n_learned() == 2);
}

TEST_CASE("mac learning: no learning from multicast sources or flood VLANs", "[ofproto]") {
  MacLearning ml;
  CHECK(ml.learn(mac(1, 0x01), 0, 1, 0) == LearnResult::kNotLearned);
  CHECK(ml.learn(MacAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 1, 0) == LearnResult::kNotLearned);
  CHECK(ml.size() == 0);
  REQUIRE(ml.learn(mac(2), 100, 1, 0) == LearnResult::kNew);
  ml.set_flood_vlans({100});
  CHECK(ml.size() == 0);  // flushed
  CHECK(ml.learn(mac(2), 100, 1, 0) == LearnResult::kNotLearned);
  CHECK(ml.learn(mac(2), 101, 1, 0) == LearnResult::kNew);
  CHECK(ml.is_flood_vlan(100));
  CHECK_FALSE(ml.may_learn(mac(3), 100));
}

TEST_CASE("mac learning: aging with an injected clock", "[ofproto]") {
  MacLearning ml(300'000);
  ml.learn(mac(1), 0, 1, 1'000);
  ml.learn(mac(2), 0, 2, 100'000);
  CHECK(ml.lookup(mac(1), 0, 300'999) == 1u);
  CHECK_FALSE(ml.lookup(mac(1), 0, 301'000));  // aged out even before expire()
  CHECK(ml.expire(300'999) == 0);
  CHECK(ml.expire(301'000) == 1);
  CHECK(ml.size() == 1);
  // Refreshing restarts the clock.
  ml.learn(mac(2), 0, 2, 350'000);
  CHECK(ml.expire(420'000) == 0);
  CHECK(ml.lookup(mac(2), 0, 649'999) == 2u);
  CHECK(ml.expire(650'000) == 1);
  CHECK(ml.size() == 0);
  CHECK(ml.n_expired() == 2);
  // A configurable idle time.
  ml.set_idle_ms(10'000);
  ml.learn(mac(3), 0, 3, 0);
  CHECK(ml.expire(9'999) == 0);
  CHECK(ml.expire(10'000) == 1);
  // An entry that aged out but was not yet expired counts as new when seen again.
  ml.learn(mac(4), 0, 4, 0);
  CHECK(ml.learn(mac(4), 0, 4, 20'000) == LearnResult::kNew);
}

TEST_CASE("mac learning: size limit evicts the least recently learned", "[ofproto]") {
  MacLearning ml(kMacDefaultIdleMs, 3);
  ml.learn(mac(1), 0, 1, 0);
  ml.learn(mac(2), 0, 1, 1);
  ml.learn(mac(3), 0, 1, 2);
  ml.learn(mac(1), 0, 1, 3);  // refresh: 2 is now the oldest
  ml.learn(mac(4), 0, 1, 4);
  CHECK(ml.size() == 3);
  CHECK_FALSE(ml.find(mac(2), 0));
  CHECK(ml.find(mac(1), 0));
  CHECK(ml.find(mac(3), 0));
  CHECK(ml.find(mac(4), 0));
  CHECK(ml.n_evicted() == 1);
  ml.set_max_entries(1);
  CHECK(ml.size() == 1);
  CHECK(ml.find(mac(4), 0));  // the most recently learned survives
  bool overflow = true;
  auto changes = ml.take_changes(&overflow);
  CHECK_FALSE(overflow);
  CHECK(std::count_if(changes.begin(), changes.end(),
                      [](const MacChange& c) { return c.kind == MacChangeKind::kEvicted; }) == 3);
}

TEST_CASE("mac learning: moves are reported with old and new port; generations", "[ofproto]") {
  MacLearning ml;
  uint64_t g0 = ml.generation();
  ml.learn(mac(1), 5, 1, 0);
  uint64_t g1 = ml.generation();
  CHECK(g1 > g0);
  CHECK(ml.find(mac(1), 5)->tag == g1);
  ml.learn(mac(1), 5, 1, 10);  // refresh: not a change
  CHECK(ml.generation() == g1);
  auto changes = ml.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == MacChangeKind::kLearned);
  CHECK(changes[0].new_port == 1);

  CHECK(ml.learn(mac(1), 5, 7, 20) == LearnResult::kMoved);
  CHECK(ml.generation() > g1);
  CHECK(ml.find(mac(1), 5)->tag == ml.generation());
  CHECK(ml.lookup(mac(1), 5, 21) == 7u);
  changes = ml.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == MacChangeKind::kMoved);
  CHECK(changes[0].old_port == 1);
  CHECK(changes[0].new_port == 7);
  CHECK(changes[0].vlan == 5);
  CHECK(changes[0].mac == mac(1));
  CHECK(ml.take_changes().empty());
  CHECK(ml.n_moved() == 1);

  ml.learn(mac(2), 5, 7, 30);
  ml.learn(mac(3), 5, 8, 30);
  ml.flush_port(7);
  CHECK(ml.size() == 1);
  changes = ml.take_changes();
  CHECK(std::count_if(changes.begin(), changes.end(),
                      [](const MacChange& c) { return c.kind == MacChangeKind::kFlushed && c.old_port == 7; }) == 2);
}

TEST_CASE("mac learning: change log overflow is reported", "[ofproto]") {
  MacLearning ml(kMacDefaultIdleMs, 100000);
  for (uint32_t i = 0; i < kMacMaxChangeLog + 10; i++)
    ml.learn(MacAddr{0x02, 0, 0, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}, 0, 1, 0);
  bool overflow = false;
  auto changes = ml.take_changes(&overflow);
  CHECK(overflow);
  CHECK(changes.size() == kMacMaxChangeLog);
  ml.learn(mac(1, 0x06), 0, 1, 0);
  changes = ml.take_changes(&overflow);
  CHECK_FALSE(overflow);
  CHECK(changes.size() == 1);
}

TEST_CASE("mac learning: fdb dump is sorted and shows ages", "[ofproto]") {
  MacLearning ml;
  ml.learn(mac(9), 20, 2, 0);
  ml.learn(mac(3), 10, 2, 0);
  ml.learn(mac(5), 10, 1, 5'000);
  auto d = ml.dump();
  REQUIRE(d.size() == 3);
  CHECK(d[0].port == 1);
  CHECK(d[1].vlan == 10);
  CHECK(d[2].vlan == 20);
  std::string s = ml.format_fdb(65'000);
  CHECK(s.find("02:00:00:00:00:05") != std::string::npos);
  CHECK(s.find("   60\n") != std::string::npos);
  CHECK(s.find("   65\n") != std::string::npos);
}
