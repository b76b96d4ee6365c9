// pmd_stats_format.h - PMD and rx-queue statistics as text and JSON, in the
// spirit of OVS's dpif-netdev/pmd-stats-show, pmd-perf-show and pmd-rxq-show.
//
// What: the daemon's formatting of what the datapath reports as plain
//   structs (Datapath::pmd_stats(), rxq_assignment()); used by dpswitchd's
//   run summary and its runtime JSON-RPC methods.
// Design: the derived figures come from PmdTotals (pmd_totals.h); this file
//   only names and lays them out. The datapath knows nothing of JSON.
// Thread-safety: reads the Datapath's statistics (any thread may).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "../datapath/datapath.h"

namespace dps::daemon {

// Per PMD: packets, cycles/packet, busy vs idle, EMC/SMC/megaflow hits,
// subtable lookups per hit, upcalls and lost upcalls, flows, masks.
nlohmann::json pmd_stats_json(const datapath::Datapath& dp);
std::string pmd_stats_text(const datapath::Datapath& dp);
// Per rx queue: port, queue, PMD, packets and share of the PMD's cycles.
nlohmann::json pmd_rxq_json(const datapath::Datapath& dp);
std::string pmd_rxq_text(const datapath::Datapath& dp);

}  // namespace dps::daemon
