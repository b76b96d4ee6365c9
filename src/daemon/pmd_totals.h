// pmd_totals.h - the PMD counters and every figure derived from them,
// defined once.
//
// What: PmdTotals holds PMD counters (one PMD's, summed over all PMDs, or
//   the difference of two such sums: a measurement window) with the flow
//   and mask counts, and derives the figures that the run summary, the
//   dpif/pmd-stats-* JSON-RPC methods and the text formats report.
// Design: a plain value; each derived figure is one method here, so the
//   summary and the RPC methods cannot define a figure two ways. Names as
//   OVS's pmd-stats-show / pmd-perf-show use them:
//     processing_cycles_per_pkt  busy cycles / packets ("avg processing
//                                cycles per packet");
//     cycles_per_pkt             (busy + idle) cycles / packets ("avg cycles
//                                per packet");
//     busy_pct                   busy / (busy + idle) cycles, in percent;
//     subtable_lookups_per_hit   subtables probed per megaflow hit;
//     pct_of_packets(c)          counter c per received packet, in percent
//                                (the cache hit split).
//   Every ratio is 0 when its denominator is 0.
// Thread-safety: a value; built from Datapath::pmd_stats() copies.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "../datapath/datapath.h"

namespace dps::daemon {

struct PmdTotals {
  std::array<uint64_t, datapath::kNumPmdCounters> counters{};
  uint64_t flows = 0;   // megaflows summed over the PMDs
  uint32_t masks = 0;   // the most subtables (masks) of one PMD
  unsigned pmds = 0;    // how many PMDs were summed

  static PmdTotals of(const datapath::PmdStatsView& v);
  static PmdTotals sum(const std::vector<datapath::PmdStatsView>& views);
  // The counters of this minus those of `earlier` (a window); flows, masks
  // and pmds stay this one's (they are levels, not counts).
  PmdTotals since(const PmdTotals& earlier) const;

  uint64_t get(datapath::PmdCounter c) const { return counters[c]; }
  double value(datapath::PmdCounter c) const { return static_cast<double>(counters[c]); }
  double packets() const { return value(datapath::kRxPackets); }

  double processing_cycles_per_pkt() const;
  double cycles_per_pkt() const;
  double busy_pct() const;
  double subtable_lookups_per_hit() const;
  double pct_of_packets(datapath::PmdCounter c) const;
};

}  // namespace dps::daemon
