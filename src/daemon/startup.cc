#include "startup.h"

#include <rte_errno.h>
#include <rte_lcore.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <sys/resource.h>

#include "dp_flow_text.h"
#include "ofproto.h"
#include "dp_ports.h"

namespace dps::daemon {
namespace {

std::vector<unsigned> pmd_lcores(const DaemonConfig& cfg) {
  return cfg.pmd_cores.empty() ? eal_worker_lcores() : cfg.pmd_cores;
}

// Descriptors of every port's queues, the miss rings, and the minimum pool.
unsigned mbufs_needed(const DaemonConfig& cfg, size_t n_pmds) {
  unsigned need = 0;
  for (auto& [no, pc] : cfg.ports) need += pc.n_rxq * pc.rx_desc + (n_pmds + 1) * pc.tx_desc;
  need += static_cast<unsigned>(n_pmds) * (datapath::kMissRingSize + 2048);
  return need + netdev::kMinMbufs;
}

}  // namespace

std::optional<DaemonConfig> command_line(int argc, char** argv, int* exit_code) {
  try {
    return parse_command_line(argc, argv);
  } catch (const ConfigError& e) {
    bool error = *e.what() != '\0';  // empty: --help
    if (error) std::fprintf(stderr, "dpswitchd: %s\n", e.what());
    std::fputs(usage().c_str(), error ? stderr : stdout);
    *exit_code = error ? 2 : 0;
    return std::nullopt;
  }
}

std::optional<datapath::DatapathConfig> datapath_config(const DaemonConfig& cfg) {
  datapath::DatapathConfig dc;
  dc.pmd_lcores = pmd_lcores(cfg);
  if (dc.pmd_lcores.empty()) {
    spdlog::error("no lcore left for a PMD thread: give the EAL at least two (-l 0,1)");
    return std::nullopt;
  }
  for (unsigned lc : dc.pmd_lcores)
    if (!rte_lcore_is_enabled(lc) || lc == rte_get_main_lcore()) {
      spdlog::error("PMD core {} is not an EAL worker lcore (EAL lcores: -l ...)", lc);
      return std::nullopt;
    }
  dc.n_mbufs = std::max(cfg.mbufs, mbufs_needed(cfg, dc.pmd_lcores.size()));
  dc.max_flows_per_pmd = cfg.max_flows;
  dc.emc_insert_inv_prob = cfg.emc_insert_inv_prob;
  dc.smc_enabled = cfg.smc;
  return dc;
}

void open_startup_ports(datapath::Datapath& dp, const DaemonConfig& cfg) {
  for (auto& [no, pc] : cfg.ports) {
    try {
      uint32_t got = dp.add_port(pc, no);
      spdlog::info("port {} is datapath port {}", pc.name, got);
    } catch (const std::exception& e) {
      spdlog::error("{} (continuing without it)", e.what());
    }
  }
}

void install_static_flows(datapath::Datapath& dp, const DaemonConfig& cfg) {
  uint64_t ufid = 1;
  for (auto& f : cfg.flows) {
    datapath::FlowSpec spec;
    try {
      datapath::parse_flow_match(f.match, &spec.key, &spec.mask);
      spec.actions = datapath::parse_dp_actions(f.actions);
    } catch (const std::invalid_argument& e) {
      spdlog::error("flow '{}' -> '{}': {} (skipped)", f.match, f.actions, e.what());
      continue;
    }
    spec.ufid = ufid++;
    int rc = dp.put_flow(spec);
    if (rc != 0) spdlog::error("flow '{}': install failed: {}", f.match, rte_strerror(-rc));
  }
}

ofproto::BackerConfig backer_config(const DaemonConfig& cfg) {
  ofproto::BackerConfig bc;
  bc.flow_idle_ms = cfg.flow_idle_ms;
  bc.flow_limit = cfg.flow_limit;
  return bc;
}

bool add_startup_bridge(ofproto::BridgeSet& bridges, const DaemonConfig& cfg) {
  ofproto::Ofproto& ofp = bridges.add(kStartupBridge);
  ofp.sync_ports();
  if (!cfg.rules_file.empty()) {
    if (auto e = ofp.load_rules_file(cfg.rules_file)) {
      spdlog::error("{}", e->message);
      return false;
    }
    spdlog::info("loaded {} rules from {}", ofp.stats().rules, cfg.rules_file);
  } else if (cfg.openflow.empty()) {
    ofp.install_default_normal();
  }
  if (cfg.churn_rate > 0) ofp.set_churn_rate(cfg.churn_rate);
  return true;
}

void apply_priority(int nice) {
  if (nice == 0) return;
  if (setpriority(PRIO_PROCESS, 0, nice) != 0) {  // Linux: the calling thread
    spdlog::warn("--nice {}: cannot set the control thread's priority: {} (running at the default)",
                 nice, std::strerror(errno));
    return;
  }
  std::ofstream ag("/proc/self/autogroup");
  if (ag) ag << nice << std::flush;
  spdlog::info("control thread at nice {}{}", nice, ag ? " (and its autogroup)" : "");
}

}  // namespace dps::daemon
