#include "pmd_stats_format.h"

#include <rte_cycles.h>

#include <cstdarg>
#include <cstdio>

#include "pmd_totals.h"

namespace dps::daemon {
namespace {

using namespace datapath;
using nlohmann::json;

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// Appends printf-formatted text (one line or a few, as before) to s.
[[gnu::format(printf, 2, 3)]] void append(std::string& s, const char* fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  s += line;
}

// One PMD's counters (names from pmd_counters.h) and its figures. The
// per-PMD cycles_per_pkt is the processing figure (busy cycles / packets),
// as in OVS's pmd-stats-show.
json one_pmd_json(const PmdStatsView& v, double tsc_hz) {
  PmdTotals t = PmdTotals::of(v);
  json j;
  j["pmd"] = v.pmd;
  j["lcore"] = v.lcore;
  for (unsigned c = 0; c < kNumPmdCounters; c++) j[std::string(kPmdCounterInfo[c].name)] = v.counters[c];
  j["cycles_per_pkt"] = t.processing_cycles_per_pkt();
  j["busy_pct"] = t.busy_pct();
  j["subtable_lookups_per_hit"] = t.subtable_lookups_per_hit();
  j["max_iteration_us"] = v.max_iteration_cycles / tsc_hz * 1e6;
  j["datapath_flows"] = v.flows;
  j["megaflow_masks"] = v.subtables;
  j["emc_active"] = v.emc_active;
  return j;
}

void append_pmd_text(std::string& s, const PmdStatsView& v, double tsc_hz) {
  PmdTotals t = PmdTotals::of(v);
  append(s, "pmd %u (lcore %u):\n", v.pmd, v.lcore);
  append(s,
         "  packets received: %llu\n  avg cycles per packet: %.1f (busy %.1f%%, "
         "longest iteration %.1f us)\n",
         ull(t.get(kRxPackets)), t.processing_cycles_per_pkt(), t.busy_pct(),
         v.max_iteration_cycles / tsc_hz * 1e6);
  append(s,
         "  train hits: %llu (%.1f%%)\n"
         "  emc hits: %llu (%.1f%%%s)\n  smc hits: %llu (%.1f%%)\n"
         "  megaflow hits: %llu (%.1f%%), avg subtable lookups per hit: %.2f\n",
         ull(t.get(kTrainHits)), t.pct_of_packets(kTrainHits), ull(t.get(kEmcHits)),
         t.pct_of_packets(kEmcHits), v.emc_active ? "" : ", EMC bypassed: low hit rate",
         ull(t.get(kSmcHits)), t.pct_of_packets(kSmcHits), ull(t.get(kMegaflowHits)),
         t.pct_of_packets(kMegaflowHits), t.subtable_lookups_per_hit());
  append(s,
         "  upcalls: %llu, lost upcalls: %llu\n  tx packets: %llu, tx dropped: %llu, "
         "dropped by actions: %llu\n  datapath flows: %u over %u masks\n",
         ull(t.get(kUpcalls)), ull(t.get(kLostUpcalls)), ull(t.get(kTxPackets)),
         ull(t.get(kTxDropped)), ull(t.get(kDropped)), v.flows, v.subtables);
}

}  // namespace

json pmd_stats_json(const Datapath& dp) {
  json out = json::array();
  double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  for (const PmdStatsView& v : dp.pmd_stats()) out.push_back(one_pmd_json(v, tsc_hz));
  return out;
}

std::string pmd_stats_text(const Datapath& dp) {
  std::string s;
  double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  for (const PmdStatsView& v : dp.pmd_stats()) append_pmd_text(s, v, tsc_hz);
  return s;
}

// As ovs-appctl dpif-netdev/pmd-rxq-show: per queue its PMD and the share
// of that PMD's cycles it took over the load history (the figure the
// cycles and group placements use).
json pmd_rxq_json(const Datapath& dp) {
  json out = json::array();
  const auto& lcores = dp.pmd_lcores();
  for (const RxqAssignment& a : dp.rxq_assignment())
    out.push_back({{"port", a.port}, {"port_no", a.port_no}, {"queue", a.queue}, {"pmd", a.pmd},
                   {"lcore", a.pmd < lcores.size() ? lcores[a.pmd] : 0}, {"pinned", a.pinned},
                   {"isolated", a.isolated_pmd}, {"packets", a.packets}, {"cycles", a.cycles},
                   {"pmd_usage_pct", a.usage_pct}});
  return out;
}

std::string pmd_rxq_text(const Datapath& dp) {
  std::string s;
  for (const auto& j : pmd_rxq_json(dp))
    append(s, "pmd %u (core %u%s): port %-12s queue %u%s  packets %llu  pmd usage %5.1f%%\n",
           j["pmd"].get<unsigned>(), j["lcore"].get<unsigned>(),
           j["isolated"].get<bool>() ? ", isolated" : "", j["port"].get<std::string>().c_str(),
           j["queue"].get<unsigned>(), j["pinned"].get<bool>() ? " (pinned)" : "",
           ull(j["packets"].get<uint64_t>()), j["pmd_usage_pct"].get<double>());
  return s;
}

}  // namespace dps::daemon
