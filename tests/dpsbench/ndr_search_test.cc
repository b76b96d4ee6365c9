// Coverage goal: against a simulated device that drops everything above a
// known capacity, the NDR converges to the capacity within the resolution
// from below, the PDR to the rate where the loss equals the PDR ratio, the
// search stops within its trial cap, and edge cases (device faster than the
// generator, device that never passes, generator short of the offered rate)
// behave as documented.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "ndr_search.h"

using namespace dps::dpsbench;

namespace {

// A device with capacity `cap` pps and a trial of one second: everything
// above cap is dropped. `gen_max` caps what the generator can send.
struct SimDevice {
  double cap;
  double gen_max = 1e12;
  unsigned trials = 0;
  TrialResult operator()(double rate) {
    trials++;
    TrialResult r;
    double sent = std::min(rate, gen_max);
    r.achieved_pps = sent;
    r.tx = static_cast<uint64_t>(sent);
    r.rx = static_cast<uint64_t>(std::min(sent, cap));
    return r;
  }
};

}  // namespace

TEST_CASE("NDR and PDR converge on a device with a known drop threshold", "[dpsbench]") {
  double cap = GENERATE(1.234e6, 3.3e6, 7.77e6, 9.99e6);
  SimDevice dev{cap};
  NdrOptions o;
  o.max_pps = 10e6;
  o.resolution = 0.005;
  o.pdr_loss = 0.01;
  auto res = ndr_pdr_search(std::ref(dev), o);
  INFO("cap=" << cap << " ndr=" << res.ndr_pps << " pdr=" << res.pdr_pps);
  CHECK(res.ndr_pps <= cap);
  CHECK(res.ndr_pps >= cap - o.resolution * o.max_pps);
  double pdr_true = cap / (1 - o.pdr_loss);  // loss = 1 - cap/rate = 1%
  CHECK(res.pdr_pps <= pdr_true + 1);
  CHECK(res.pdr_pps >= std::min(pdr_true, o.max_pps) - o.resolution * o.max_pps);
  CHECK(res.pdr_pps >= res.ndr_pps);
  // log2(1/0.005) ~ 8 trials per search, plus the first.
  CHECK(res.trials.size() <= 20);
  CHECK(res.trials.size() == dev.trials);
  for (const auto& t : res.trials) CHECK((t.phase == "ndr" || t.phase == "pdr"));
}

TEST_CASE("NDR search edge cases", "[dpsbench]") {
  NdrOptions o;
  o.max_pps = 1e6;
  SECTION("device faster than the generator: one trial, NDR = max") {
    SimDevice dev{5e6};
    auto res = ndr_pdr_search(std::ref(dev), o);
    CHECK(res.ndr_pps == 1e6);
    CHECK(res.pdr_pps == 1e6);
    CHECK(dev.trials == 1);
  }
  SECTION("device that drops everything: no NDR, bounded trials") {
    SimDevice dev{0};
    auto res = ndr_pdr_search(std::ref(dev), o);
    CHECK(res.ndr_pps == 0);
    CHECK(res.pdr_pps == 0);
    CHECK(dev.trials <= o.max_trials);
  }
  SECTION("generator short of the offered rate is judged at what it sent") {
    SimDevice dev{5e6, 0.6e6};
    auto res = ndr_pdr_search(std::ref(dev), o);
    CHECK(res.ndr_pps == Approx(0.6e6));
  }
  SECTION("trial cap holds") {
    SimDevice dev{0.5e6};
    o.max_trials = 3;
    auto res = ndr_pdr_search(std::ref(dev), o);
    CHECK(res.trials.size() == 3);
  }
  SECTION("bad options are rejected") {
    SimDevice dev{1};
    o.max_pps = 0;
    CHECK_THROWS_AS(ndr_pdr_search(std::ref(dev), o), std::invalid_argument);
    o.max_pps = 1;
    o.resolution = 0;
    CHECK_THROWS_AS(ndr_pdr_search(std::ref(dev), o), std::invalid_argument);
  }
}
