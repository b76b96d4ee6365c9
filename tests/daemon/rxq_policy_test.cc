// Unit tests for the rx queue policy read from the store (rxq_policy.h):
// OVS's keys and defaults, pinning by interface, and precise errors that
// leave the defaults in place.
#include <catch2/catch.hpp>

#include "daemon/rxq_policy.h"

using namespace dps::daemon;
using dps::datapath::RxqAssignMode;

TEST_CASE("no keys: cycles, isolate, auto load balance on with OVS's thresholds", "[rxq]") {
  std::vector<std::string> errors;
  auto p = rxq_policy({}, {}, &errors);
  CHECK(errors.empty());
  CHECK(p.placement.mode == RxqAssignMode::kCycles);
  CHECK(p.placement.isolate);
  CHECK(p.auto_lb);
  CHECK(p.auto_lb_load_threshold == 95);
  CHECK(p.auto_lb_improvement_threshold == 25);
  CHECK(p.auto_lb_interval_ms == 60000);
  CHECK(p.slot_ms == 10000);
}

TEST_CASE("the keys as OVS users write them", "[rxq]") {
  std::vector<std::string> errors;
  auto p = rxq_policy({{"pmd-rxq-assign", "group"}, {"pmd-rxq-isolate", "false"},
                       {"pmd-auto-lb", "false"}, {"pmd-auto-lb-load-threshold", "70"},
                       {"pmd-auto-lb-improvement-threshold", "10"},
                       {"pmd-auto-lb-rebal-interval", "5"}},
                      {{"dpdk0", 3, "0:2,1:3"}, {"dpdk1", 4, ""}}, &errors);
  CHECK(errors.empty());
  CHECK(p.placement.mode == RxqAssignMode::kGroup);
  CHECK(!p.placement.isolate);
  CHECK(!p.auto_lb);
  CHECK(p.auto_lb_load_threshold == 70);
  CHECK(p.auto_lb_improvement_threshold == 10);
  CHECK(p.auto_lb_interval_ms == 5 * 60000);
  CHECK(p.affinity == std::map<uint32_t, std::map<uint16_t, unsigned>>{{3, {{0, 2}, {1, 3}}}});
}

TEST_CASE("bad values are reported one by one and their defaults kept", "[rxq]") {
  std::vector<std::string> errors;
  auto p = rxq_policy({{"pmd-rxq-assign", "fastest"}, {"pmd-auto-lb-load-threshold", "120"},
                       {"pmd-auto-lb", "yes"}, {"pmd-rxq-isolate", "false"}},
                      {{"dpdk0", 3, "0-2"}}, &errors);
  REQUIRE(errors.size() == 5);
  CHECK(errors[0] == "other_config:pmd-rxq-assign=\"fastest\" is not roundrobin, cycles or group (cycles used)");
  CHECK(errors[1].find("pmd-rxq-isolate=false needs pmd-rxq-assign=group") != std::string::npos);
  CHECK(errors[2] == "other_config:pmd-auto-lb=\"yes\" is not true or false (default true used)");
  CHECK(errors[3] == "other_config:pmd-auto-lb-load-threshold=\"120\" is not an integer in 0..100 (default 95 used)");
  CHECK(errors[4] == "Interface dpdk0 other_config:pmd-rxq-affinity=\"0-2\": 0-2 is not queue:core (not pinned)");
  CHECK(p.placement.mode == RxqAssignMode::kCycles);
  CHECK(p.placement.isolate);
  CHECK(p.auto_lb);
  CHECK(p.auto_lb_load_threshold == 95);
  CHECK(p.affinity.empty());
}
