// pmd_stats_format.h - PMD and rx-queue statistics as text and JSON, in the
// spirit of OVS's dpif-netdev/pmd-stats-show, pmd-perf-show and pmd-rxq-show.
// Used by dpswitchd's run summary and its runtime JSON-RPC methods.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "datapath.h"

namespace dps::datapath {

// Per PMD: packets, cycles/packet, busy vs idle, EMC/SMC/megaflow hits,
// subtable lookups per hit, upcalls and lost upcalls, flows, masks.
nlohmann::json pmd_stats_json(const Datapath& dp);
std::string pmd_stats_text(const Datapath& dp);
// Per rx queue: port, queue, PMD, packets and share of the PMD's cycles.
nlohmann::json pmd_rxq_json(const Datapath& dp);
std::string pmd_rxq_text(const Datapath& dp);

}  // namespace dps::datapath
