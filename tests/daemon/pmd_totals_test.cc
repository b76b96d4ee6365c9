// pmd_totals_test.cc - the PMD figures, defined once (daemon/pmd_totals.h):
// sums over PMDs, measurement windows, and each derived figure, including
// the empty cases (no packets, no cycles, no megaflow hits).
#include <catch2/catch.hpp>

#include "daemon/pmd_totals.h"

using namespace dps::datapath;
using dps::daemon::PmdTotals;

namespace {

PmdStatsView view(uint64_t packets, uint64_t busy, uint64_t idle, uint32_t flows, uint32_t masks) {
  PmdStatsView v{};
  v.counters[kRxPackets] = packets;
  v.counters[kBusyCycles] = busy;
  v.counters[kIdleCycles] = idle;
  v.flows = flows;
  v.subtables = masks;
  return v;
}

}  // namespace

TEST_CASE("PmdTotals sums counters and flows, keeps the most masks", "[daemon]") {
  PmdStatsView a = view(100, 4000, 1000, 3, 2);
  PmdStatsView b = view(300, 8000, 7000, 5, 4);
  b.counters[kEmcHits] = 150;
  PmdTotals t = PmdTotals::sum({a, b});
  CHECK(t.pmds == 2);
  CHECK(t.get(kRxPackets) == 400);
  CHECK(t.get(kEmcHits) == 150);
  CHECK(t.flows == 8);
  CHECK(t.masks == 4);
  CHECK(PmdTotals::of(a).masks == 2);
  CHECK(PmdTotals::of(a).pmds == 1);
}

TEST_CASE("processing vs total cycles per packet, busy share", "[daemon]") {
  PmdTotals t = PmdTotals::of(view(100, 4000, 1000, 0, 0));
  CHECK(t.processing_cycles_per_pkt() == Approx(40.0));  // busy / packets
  CHECK(t.cycles_per_pkt() == Approx(50.0));             // (busy + idle) / packets
  CHECK(t.busy_pct() == Approx(80.0));
}

TEST_CASE("hit split and subtable lookups per megaflow hit", "[daemon]") {
  PmdStatsView v = view(200, 0, 0, 0, 0);
  v.counters[kTrainHits] = 50;
  v.counters[kMegaflowHits] = 40;
  v.counters[kSubtableLookups] = 100;
  PmdTotals t = PmdTotals::of(v);
  CHECK(t.pct_of_packets(kTrainHits) == Approx(25.0));
  CHECK(t.pct_of_packets(kMegaflowHits) == Approx(20.0));
  CHECK(t.subtable_lookups_per_hit() == Approx(2.5));
}

TEST_CASE("every figure is 0 when its denominator is", "[daemon]") {
  PmdStatsView v = view(0, 0, 0, 0, 0);
  v.counters[kUpcalls] = 3;  // no packets counted (yet): the split is over at least 1
  PmdTotals t = PmdTotals::of(v);
  CHECK(t.processing_cycles_per_pkt() == 0);
  CHECK(t.cycles_per_pkt() == 0);
  CHECK(t.busy_pct() == 0);
  CHECK(t.subtable_lookups_per_hit() == 0);
  CHECK(t.pct_of_packets(kUpcalls) == Approx(300.0));
}

TEST_CASE("a window is the difference of two sums; flows are the later level", "[daemon]") {
  PmdTotals first = PmdTotals::sum({view(100, 1000, 500, 9, 3)});
  PmdTotals last = PmdTotals::sum({view(350, 6000, 1500, 4, 2)});
  PmdTotals w = last.since(first);
  CHECK(w.get(kRxPackets) == 250);
  CHECK(w.get(kBusyCycles) == 5000);
  CHECK(w.processing_cycles_per_pkt() == Approx(20.0));
  CHECK(w.cycles_per_pkt() == Approx(24.0));
  CHECK(w.flows == 4);
  CHECK(w.masks == 2);
}
