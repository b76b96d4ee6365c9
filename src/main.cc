// dpswitchd - the composition root: it builds the parts in order and wires
// them together; each step lives in src/daemon/ (startup.h: configuration,
// datapath, start-up bridge; openflow_channels.h; config_daemon.h: the
// config store; control_loop.h; run_summary.h).
//
// Parts, in the order they are built (and torn down in reverse): the EAL,
// the Datapath with its ports and static flows, one DpBacker (ukeys, miss
// path, revalidator) under the BridgeSet, the OpenFlow channels, the config
// store (which may add and remove bridges and ports), then the PMDs start
// and the control loop runs until SIGINT/SIGTERM or --duration.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <memory>

#include "daemon/config_daemon.h"
#include "daemon/control_loop.h"
#include "daemon/openflow_channels.h"
#include "daemon/run_summary.h"
#include "daemon/startup.h"
#include "netdev/eal.h"
#include "ofproto.h"

namespace {

using namespace dps;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int run(int argc, char** argv) {
  int exit_code = 0;
  std::optional<daemon::DaemonConfig> parsed = daemon::command_line(argc, argv, &exit_code);
  if (!parsed) return exit_code;
  const daemon::DaemonConfig& cfg = *parsed;
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  netdev::Eal eal("dpswitchd", netdev::EalOptions{cfg.eal});

  std::optional<datapath::DatapathConfig> dc = daemon::datapath_config(cfg);
  if (!dc) return 2;
  datapath::Datapath dp(*dc);
  daemon::open_startup_ports(dp, cfg);
  daemon::install_static_flows(dp, cfg);
  ofproto::DpBacker backer(dp, daemon::backer_config(cfg));
  ofproto::BridgeSet bridges(backer);
  if (!daemon::add_startup_bridge(bridges, cfg)) return 2;
  daemon::OpenFlowChannels channels(cfg.openflow, daemon::kStartupBridge);
  // The config store: import and first reconciliation now (before the PMDs
  // start), then ovs-vsctl/dpsctl are served; changes apply in the loop.
  auto confd = std::make_unique<daemon::ConfigDaemon>(cfg, dp, &bridges, daemon::kStartupBridge);
  channels.attach(bridges, *confd);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  dp.start();
  daemon::apply_priority(cfg.nice);
  nlohmann::json summary = daemon::run_control_loop(cfg, dp, bridges, *confd, channels, g_stop);
  channels.clear();  // closes the OpenFlow connections
  confd.reset();     // stops the RPC thread before the datapath goes
  bridges.clear();   // their megaflows go while the PMDs still run
  dp.stop();
  daemon::finish_summary(cfg, dp, std::move(summary));
  unsigned left = dp.shutdown();
  spdlog::log(left ? spdlog::level::warn : spdlog::level::info,
              "stopped cleanly; {} mbufs out of the pool after shutdown", left);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
