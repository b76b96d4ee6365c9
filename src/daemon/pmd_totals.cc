#include "pmd_totals.h"

#include <algorithm>

namespace dps::daemon {
namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

}  // namespace

PmdTotals PmdTotals::of(const datapath::PmdStatsView& v) {
  PmdTotals t;
  t.counters = v.counters;
  t.flows = v.flows;
  t.masks = v.subtables;
  t.pmds = 1;
  return t;
}

PmdTotals PmdTotals::sum(const std::vector<datapath::PmdStatsView>& views) {
  PmdTotals t;
  for (const datapath::PmdStatsView& v : views) {
    for (unsigned c = 0; c < datapath::kNumPmdCounters; c++) t.counters[c] += v.counters[c];
    t.flows += v.flows;
    t.masks = std::max(t.masks, v.subtables);
    t.pmds++;
  }
  return t;
}

PmdTotals PmdTotals::since(const PmdTotals& earlier) const {
  PmdTotals t = *this;
  for (unsigned c = 0; c < datapath::kNumPmdCounters; c++) t.counters[c] -= earlier.counters[c];
  return t;
}

double PmdTotals::processing_cycles_per_pkt() const {
  return ratio(value(datapath::kBusyCycles), packets());
}

double PmdTotals::cycles_per_pkt() const {
  return ratio(value(datapath::kBusyCycles) + value(datapath::kIdleCycles), packets());
}

double PmdTotals::busy_pct() const {
  double busy = value(datapath::kBusyCycles);
  return ratio(100.0 * busy, busy + value(datapath::kIdleCycles));
}

double PmdTotals::subtable_lookups_per_hit() const {
  return ratio(value(datapath::kSubtableLookups), value(datapath::kMegaflowHits));
}

double PmdTotals::pct_of_packets(datapath::PmdCounter c) const {
  return 100 * value(c) / std::max(1.0, packets());
}

}  // namespace dps::daemon
