#include "pmd_stats_format.h"

#include <rte_cycles.h>

#include <cstdio>

namespace dps::datapath {

nlohmann::json pmd_stats_json(const Datapath& dp) {
  nlohmann::json out = nlohmann::json::array();
  double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  for (const PmdStatsView& v : dp.pmd_stats()) {
    nlohmann::json j;
    j["pmd"] = v.pmd;
    j["lcore"] = v.lcore;
    for (unsigned c = 0; c < kNumPmdCounters; c++)
      j[std::string(kPmdCounterInfo[c].name)] = v.counters[c];
    double pkts = static_cast<double>(v.counters[kRxPackets]);
    double busy = static_cast<double>(v.counters[kBusyCycles]);
    double idle = static_cast<double>(v.counters[kIdleCycles]);
    double mf = static_cast<double>(v.counters[kMegaflowHits]);
    j["cycles_per_pkt"] = pkts > 0 ? busy / pkts : 0.0;
    j["busy_pct"] = busy + idle > 0 ? 100.0 * busy / (busy + idle) : 0.0;
    j["subtable_lookups_per_hit"] = mf > 0 ? v.counters[kSubtableLookups] / mf : 0.0;
    j["max_iteration_us"] = v.max_iteration_cycles / tsc_hz * 1e6;
    j["datapath_flows"] = v.flows;
    j["megaflow_masks"] = v.subtables;
    j["emc_active"] = v.emc_active;
    out.push_back(j);
  }
  return out;
}

std::string pmd_stats_text(const Datapath& dp) {
  std::string s;
  char line[256];
  for (const auto& j : pmd_stats_json(dp)) {
    double pkts = std::max(1.0, j["packets"].get<double>());
    std::snprintf(line, sizeof line, "pmd %u (lcore %u):\n", j["pmd"].get<unsigned>(),
                  j["lcore"].get<unsigned>());
    s += line;
    std::snprintf(line, sizeof line,
                  "  packets received: %llu\n  avg cycles per packet: %.1f (busy %.1f%%, "
                  "longest iteration %.1f us)\n",
                  static_cast<unsigned long long>(j["packets"].get<uint64_t>()),
                  j["cycles_per_pkt"].get<double>(), j["busy_pct"].get<double>(),
                  j["max_iteration_us"].get<double>());
    s += line;
    std::snprintf(line, sizeof line,
                  "  train hits: %llu (%.1f%%)\n"
                  "  emc hits: %llu (%.1f%%%s)\n  smc hits: %llu (%.1f%%)\n"
                  "  megaflow hits: %llu (%.1f%%), avg subtable lookups per hit: %.2f\n",
                  static_cast<unsigned long long>(j["train_hits"].get<uint64_t>()),
                  100 * j["train_hits"].get<double>() / pkts,
                  static_cast<unsigned long long>(j["emc_hits"].get<uint64_t>()),
                  100 * j["emc_hits"].get<double>() / pkts,
                  j["emc_active"].get<bool>() ? "" : ", EMC bypassed: low hit rate",
                  static_cast<unsigned long long>(j["smc_hits"].get<uint64_t>()),
                  100 * j["smc_hits"].get<double>() / pkts,
                  static_cast<unsigned long long>(j["megaflow_hits"].get<uint64_t>()),
                  100 * j["megaflow_hits"].get<double>() / pkts,
                  j["subtable_lookups_per_hit"].get<double>());
    s += line;
    std::snprintf(line, sizeof line,
                  "  upcalls: %llu, lost upcalls: %llu\n  tx packets: %llu, tx dropped: %llu, "
                  "dropped by actions: %llu\n  datapath flows: %u over %u masks\n",
                  static_cast<unsigned long long>(j["upcalls"].get<uint64_t>()),
                  static_cast<unsigned long long>(j["failed_upcalls"].get<uint64_t>()),
                  static_cast<unsigned long long>(j["tx_packets"].get<uint64_t>()),
                  static_cast<unsigned long long>(j["tx_dropped"].get<uint64_t>()),
                  static_cast<unsigned long long>(j["dropped"].get<uint64_t>()),
                  j["datapath_flows"].get<unsigned>(), j["megaflow_masks"].get<unsigned>());
    s += line;
  }
  return s;
}

nlohmann::json pmd_rxq_json(const Datapath& dp) {
  nlohmann::json out = nlohmann::json::array();
  auto stats = dp.pmd_stats();
  for (const RxqAssignment& a : dp.rxq_assignment()) {
    uint64_t pmd_busy = stats[a.pmd].counters[kBusyCycles];
    out.push_back({{"port", a.port}, {"port_no", a.port_no}, {"queue", a.queue}, {"pmd", a.pmd},
                   {"packets", a.packets}, {"cycles", a.cycles},
                   {"pmd_usage_pct", pmd_busy ? 100.0 * a.cycles / pmd_busy : 0.0}});
  }
  return out;
}

std::string pmd_rxq_text(const Datapath& dp) {
  std::string s;
  char line[160];
  for (const auto& j : pmd_rxq_json(dp)) {
    std::snprintf(line, sizeof line, "pmd %u: port %-12s queue %u  packets %llu  pmd usage %5.1f%%\n",
                  j["pmd"].get<unsigned>(), j["port"].get<std::string>().c_str(),
                  j["queue"].get<unsigned>(),
                  static_cast<unsigned long long>(j["packets"].get<uint64_t>()),
                  j["pmd_usage_pct"].get<double>());
    s += line;
  }
  return s;
}

}  // namespace dps::datapath
