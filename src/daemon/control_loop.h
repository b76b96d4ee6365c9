// control_loop.h - dpswitchd's control (ofproto) thread loop.
//
// What: each round runs the miss path and revalidation of every bridge (the
//   shared DpBacker), the config store's work (reconciliation, runtime
//   requests, statistics) and every OpenFlow channel, then lets the
//   RunRecorder sample; it sleeps 100 us when a round found no work. It ends
//   on `stop` (SIGINT/SIGTERM) or when --duration is over, and returns the
//   run summary taken at that moment (nothing is torn down yet).
// Design: one thread owns the Datapath's control API, the bridges and the
//   channels, so none of them takes a lock; other threads reach it only
//   through the ConfigDaemon's ControlQueue.
// Thread-safety: call on the control thread, after Datapath::start().
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>

#include "daemon_config.h"

namespace dps::datapath {
class Datapath;
}
namespace dps::ofproto {
class BridgeSet;
}

namespace dps::daemon {

class ConfigDaemon;
class OpenFlowChannels;

nlohmann::json run_control_loop(const DaemonConfig& cfg, datapath::Datapath& dp,
                                ofproto::BridgeSet& bridges, ConfigDaemon& confd,
                                OpenFlowChannels& channels, const std::atomic<bool>& stop);

}  // namespace dps::daemon
