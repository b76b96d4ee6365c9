// run_summary.h - dpswitchd's end-of-run summary (--summary, --summary-json).
//
// What: RunRecorder follows the run from the control loop: it opens the
//   measurement window after --warmup (clearing the PMD counters), samples
//   port tx every --sample-tx-ms, and says when --duration is over. At the
//   end it gives the window's figures as JSON (throughput, cycles/packet,
//   cache hit split, miss path and revalidator counters); finish_summary()
//   adds the per-PMD and per-rx-queue figures once the PMDs stopped, prints
//   the readable summary and writes the JSON file.
// Design: the PMD figures come from PmdTotals (one definition of each);
//   the JSON keys are what scripts/ and the shared perf harness read. Note
//   the summary's "cycles_per_pkt" is PmdTotals::processing_cycles_per_pkt()
//   (busy cycles per packet, the historical key of this file).
// Thread-safety: the control thread only.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>

#include "daemon_config.h"
#include "pmd_totals.h"

namespace dps::ofproto {
class BridgeSet;
class DpBacker;
}  // namespace dps::ofproto

namespace dps::daemon {

// The counters a window is measured by, at one instant.
struct RunSnapshot {
  double t = 0;  // seconds since the start
  uint64_t port_tx = 0;
  uint64_t port_rx = 0;
  PmdTotals pmd;
};

RunSnapshot take_snapshot(const datapath::Datapath& dp, double t);

// The miss path's and the revalidator's counters (xlate_errors,
// xlate_limit_drops, ...) with the bridges' rule and MAC totals: the
// summary's "ofproto" object, and dpsctl upcall/show.
nlohmann::json ofproto_json(const ofproto::BridgeSet& bridges, const ofproto::DpBacker& backer);

class RunRecorder {
 public:
  RunRecorder(const DaemonConfig& cfg, datapath::Datapath& dp);

  // One control-loop round at t seconds since the start: the window opens
  // after --warmup, tx samples are taken. False once --duration is over.
  bool tick(double t, const ofproto::DpBacker& backer);
  // The window's figures up to t (call before the bridges go).
  nlohmann::json summary(double t, const ofproto::BridgeSet& bridges,
                         const ofproto::DpBacker& backer) const;

 private:
  const DaemonConfig& cfg_;
  datapath::Datapath& dp_;
  RunSnapshot first_;
  bool window_open_;
  nlohmann::json tx_samples_ = nlohmann::json::array();
  double next_sample_ = 0;
};

// After Datapath::stop(): adds the per-PMD and per-rx-queue figures, prints
// the readable summary (--summary) and writes the JSON (--summary-json).
void finish_summary(const DaemonConfig& cfg, const datapath::Datapath& dp, nlohmann::json summary);

}  // namespace dps::daemon
