// metrics_text.h - the daemon's figures in the Prometheus text exposition
// format 0.0.4 (what GET /metrics answers; docs/visibility.md lists them).
//
// What: metrics_text() renders, from the Datapath:
//   - per port (labels port, port_no): rx/tx packets, bytes, dropped and
//     errors as counters (netdev::PortStats, as netdev/port-stats reports
//     them), link and admin state as gauges;
//   - per PMD (labels pmd, lcore): every PMD counter of pmd_counters.h -
//     received packets, hits by cache (train, emc, smc, megaflow),
//     upcalls, lost upcalls, cycles by state (busy, idle), tx packets and
//     drops, ... - as counters, and the gauges busy ratio and processing
//     cycles per packet (PmdTotals, the definitions pmd-stats-show uses),
//     datapath flows, megaflow masks, EMC active;
//   - datapath flows summed over the PMDs, the TSC frequency (to turn
//     cycles into seconds), dpswitchd's version (build_info);
//   - the connection tracker (connections, limit, packets, events);
//   - per bond member (labels bridge, bond, member; only when bonds exist):
//     enabled, active, carrier, LACP negotiated (per bond), tx packets by
//     the bond's hash buckets, LACPDUs received / sent / malformed - from
//     the views dpsctl bond/show and lacp/show print.
// Design: the figures come from where dpsctl's methods take them
//   (Datapath::pmd_stats() through PmdTotals, Netdev::stats()); this file
//   only names them. One flat table maps every PMD counter to its metric,
//   and a static_assert keeps it complete when a counter is added. The PMD
//   counters are "since the last dpif/pmd-stats-clear" (like
//   pmd-stats-show): a clear is a counter reset, which Prometheus' rate()
//   handles as it handles a restart.
// Thread-safety: the control thread (the Datapath's statistics readers may
//   run on any thread, but the port set may change only there).
#pragma once

#include <string>

#include "bond_show.h"

namespace dps::datapath {
class Datapath;
}

namespace dps::daemon {

// The Content-Type of metrics_text()'s output.
inline constexpr const char* kPromContentType = "text/plain; version=0.0.4; charset=utf-8";

// bridges: the bridges whose bonds are reported (none: no bond figures).
std::string metrics_text(const datapath::Datapath& dp, const BridgeList& bridges = {});

}  // namespace dps::daemon
