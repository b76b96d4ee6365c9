// Unit tests for rx queue placement (rxq_placement.h): the three policies,
// pinning and isolation, NUMA preference on an injected topology, the
// per-PMD limit, the configuration parsers and the auto load balance dry
// run's variance comparison.
#include <catch2/catch.hpp>

#include "rxq_placement.h"

using namespace dps::datapath;

namespace {

// Queues q0..qn-1 of port 1 with these loads.
std::vector<RxqDemand> queues(std::vector<uint64_t> loads) {
  std::vector<RxqDemand> out;
  for (size_t i = 0; i < loads.size(); i++)
    out.push_back({1, static_cast<uint16_t>(i), -1, loads[i], -1});
  return out;
}

std::vector<PmdSlot> pmds(unsigned n, int numa = -1) {
  std::vector<PmdSlot> out;
  for (unsigned i = 0; i < n; i++) out.push_back({i + 1, numa});
  return out;
}

Placement place(const std::vector<RxqDemand>& q, const std::vector<PmdSlot>& p, RxqAssignMode m,
                bool isolate = true) {
  return place_rxqs(q, p, {m, isolate, 64});
}

}  // namespace

TEST_CASE("roundrobin places queues in order, PMDs in turn, whatever the load", "[rxq]") {
  auto pl = place(queues({100, 90, 1, 1}), pmds(2), RxqAssignMode::kRoundRobin);
  CHECK(pl.pmd == std::vector<int>{0, 1, 0, 1});
  CHECK(pl.warnings.empty());
}

TEST_CASE("cycles sorts by load and walks the PMDs up and down", "[rxq]") {
  // Sorted: q1 (90), q3 (80), q0 (10), q2 (5) -> PMDs 0, 1, 1, 0.
  auto pl = place(queues({10, 90, 5, 80}), pmds(2), RxqAssignMode::kCycles);
  CHECK(pl.pmd == std::vector<int>{1, 0, 0, 1});
  // The two heavy queues are on different PMDs and each PMD has two queues.
  auto load = pmd_loads(queues({10, 90, 5, 80}), pl, 2);
  CHECK(load == std::vector<uint64_t>{95, 90});
}

TEST_CASE("group puts each queue on the least loaded PMD, however many queues it has", "[rxq]") {
  // One 100 queue against four 25s: cycles would give each PMD an equal
  // count (100+25+25 vs 25+25); group gives 100 vs 25*4.
  auto q = queues({100, 25, 25, 25, 25});
  auto g = place(q, pmds(2), RxqAssignMode::kGroup);
  CHECK(pmd_loads(q, g, 2) == std::vector<uint64_t>{100, 100});
  auto c = place(q, pmds(2), RxqAssignMode::kCycles);
  CHECK(pmd_loads(q, c, 2) == std::vector<uint64_t>{150, 50});
  // Equal loads: fewer queues wins the tie.
  auto z = place(queues({0, 0, 0, 0}), pmds(2), RxqAssignMode::kGroup);
  CHECK(pmd_loads(queues({1, 1, 1, 1}), z, 2) == std::vector<uint64_t>{2, 2});
}

TEST_CASE("a pinned queue goes to its core's PMD, which is then isolated", "[rxq]") {
  auto q = queues({50, 50, 50, 50});
  q[2].pinned_lcore = 2;  // PMD index 1 runs lcore 2
  auto pl = place(q, pmds(2), RxqAssignMode::kCycles);
  CHECK(pl.pmd[2] == 1);
  CHECK(pl.isolated == std::vector<bool>{false, true});
  CHECK(pl.pmd[0] == 0);
  CHECK(pl.pmd[1] == 0);
  CHECK(pl.pmd[3] == 0);
  SECTION("with isolate off (group) the pinned PMD takes others too") {
    auto g = place(q, pmds(2), RxqAssignMode::kGroup, false);
    CHECK(g.pmd[2] == 1);
    CHECK(g.isolated == std::vector<bool>{false, false});
    CHECK(pmd_loads(q, g, 2) == std::vector<uint64_t>{100, 100});
  }
  SECTION("a core without a PMD is reported and the queue placed like the others") {
    q[2].pinned_lcore = 7;
    auto b = place(q, pmds(2), RxqAssignMode::kRoundRobin);
    CHECK(b.pmd[2] >= 0);
    CHECK(b.isolated == std::vector<bool>{false, false});
    REQUIRE(b.warnings.size() == 1);
    CHECK(b.warnings[0].find("core 7 runs no PMD") != std::string::npos);
  }
  SECTION("every PMD isolated: the other queues are not polled, and it is said") {
    q[0].pinned_lcore = 1;
    auto b = place(q, pmds(2), RxqAssignMode::kCycles);
    CHECK(b.pmd[1] == -1);
    CHECK(b.pmd[3] == -1);
    CHECK(b.warnings.size() == 2);
  }
}

TEST_CASE("queues stay on their NUMA node's PMDs when it has any", "[rxq]") {
  // Injected topology: PMDs 0,1 on node 0, PMDs 2,3 on node 1.
  std::vector<PmdSlot> p{{1, 0}, {2, 0}, {3, 1}, {4, 1}};
  auto q = queues({10, 10, 10, 10});
  q[0].numa = q[1].numa = 1;
  q[2].numa = q[3].numa = 0;
  auto pl = place(q, p, RxqAssignMode::kRoundRobin);
  CHECK(pl.pmd == std::vector<int>{2, 3, 0, 1});
  CHECK(pl.warnings.empty());
  q[0].numa = 5;  // no PMD there: another node, with a warning
  auto r = place(q, p, RxqAssignMode::kGroup);
  CHECK(r.pmd[0] >= 0);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("NUMA node 5") != std::string::npos);
}

TEST_CASE("a PMD takes at most max_per_pmd queues", "[rxq]") {
  auto pl = place_rxqs(queues({1, 1, 1, 1, 1}), pmds(2), {RxqAssignMode::kRoundRobin, true, 2});
  CHECK(std::count(pl.pmd.begin(), pl.pmd.end(), -1) == 1);
  CHECK(pl.warnings.size() == 1);
}

TEST_CASE("the dry run's gain is the drop of the PMD load variance", "[rxq]") {
  auto q = queues({90, 10, 80, 5});
  auto skewed = place(q, pmds(2), RxqAssignMode::kRoundRobin);  // 170 vs 15
  auto balanced = place(q, pmds(2), RxqAssignMode::kCycles);     // 95 vs 90
  const int gain = rebalance_gain_pct(q, skewed, balanced);
  CHECK(gain > 90);
  CHECK(gain <= 100);
  CHECK(rebalance_gain_pct(q, balanced, skewed) < 0);
  CHECK(rebalance_gain_pct(q, balanced, balanced) == 0);
  // Isolated PMDs are left out of the variance.
  auto iso = balanced;
  iso.isolated = {true, false};
  CHECK(rebalance_gain_pct(q, iso, iso) == 0);
}

TEST_CASE("pmd-rxq-assign and pmd-rxq-affinity parse like OVS's", "[rxq]") {
  CHECK(parse_rxq_assign("group") == RxqAssignMode::kGroup);
  CHECK(parse_rxq_assign("roundrobin") == RxqAssignMode::kRoundRobin);
  CHECK(!parse_rxq_assign("Cycles"));
  for (RxqAssignMode m : {RxqAssignMode::kRoundRobin, RxqAssignMode::kCycles, RxqAssignMode::kGroup})
    CHECK(parse_rxq_assign(rxq_assign_name(m)) == m);
  CHECK(std::string(rxq_assign_name(RxqAssignMode::kCycles)) == "cycles");
  std::string err;
  auto a = parse_rxq_affinity("0:3,1:7", &err);
  REQUIRE(a);
  CHECK(*a == std::map<uint16_t, unsigned>{{0, 3}, {1, 7}});
  CHECK(!parse_rxq_affinity("0:3,x:7", &err));
  CHECK(err == "x:7 is not queue:core");
  CHECK(!parse_rxq_affinity("0:3,0:4", &err));
  CHECK(err == "queue 0 is given twice");
  CHECK(!parse_rxq_affinity("0", &err));
}
