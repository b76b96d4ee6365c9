#include "control_loop.h"

#include <chrono>
#include <thread>

#include "ofproto.h"
#include "config_daemon.h"
#include "metrics_server.h"
#include "metrics_text.h"
#include "openflow_channels.h"
#include "run_summary.h"
#include "sampling.h"

namespace dps::daemon {

nlohmann::json run_control_loop(const DaemonConfig& cfg, datapath::Datapath& dp,
                                ofproto::BridgeSet& bridges, ConfigDaemon& confd,
                                OpenFlowChannels& channels, const std::atomic<bool>& stop) {
  ofproto::DpBacker& backer = bridges.backer();
  auto t0 = std::chrono::steady_clock::now();
  auto now_s = [t0] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  RunRecorder recorder(cfg, dp);
  MetricsServer metrics([&dp, &bridges] { return metrics_text(dp, bridge_list(bridges)); });
  attach_metrics(metrics, cfg, confd);
  SamplingAgents sampling(dp, bridges);
  attach_sampling(sampling, bridges, confd);
  while (!stop.load()) {
    unsigned work = backer.run();  // every bridge's round
    work += sampling.run(backer.now_ms());
    work += confd.run();
    work += channels.run();
    work += metrics.run();
    if (!recorder.tick(now_s(), backer)) break;
    if (!work) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  detach_sampling(confd);
  return recorder.summary(now_s(), bridges, backer);
}

}  // namespace dps::daemon
