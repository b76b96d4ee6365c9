// dpswitchd - the composition root: configuration, EAL, datapath, the
// OpenFlow bridge (ofproto) and the control loop that runs it.
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <thread>

#include <sys/resource.h>

#include "daemon/config_daemon.h"
#include "daemon/daemon_config.h"
#include "datapath/datapath.h"
#include "datapath/dp_flow_text.h"
#include "datapath/pmd_stats_format.h"
#include "netdev/dpdk_netdev.h"
#include "netdev/eal.h"
#include "connmgr.h"
#include "ofproto.h"

namespace {

// The control thread's priority (--nice): setpriority() on this thread, and
// the same value as the autogroup nice of the daemon's session, which is
// what weighs against other sessions' processes when autogroups are on.
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

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

using dps::datapath::Datapath;
using dps::datapath::kNumPmdCounters;
using dps::datapath::PmdCounter;
using nlohmann::json;

struct Snapshot {
  double t = 0;
  uint64_t port_tx = 0;
  uint64_t port_rx = 0;
  std::array<uint64_t, kNumPmdCounters> pmd{};
};

Snapshot take_snapshot(const Datapath& dp, double t) {
  Snapshot s;
  s.t = t;
  for (uint32_t no : dp.port_numbers()) {
    auto st = dp.port(no)->stats();
    s.port_tx += st.tx_packets;
    s.port_rx += st.rx_packets;
  }
  for (auto& v : dp.pmd_stats())
    for (unsigned c = 0; c < kNumPmdCounters; c++) s.pmd[c] += v.counters[c];
  return s;
}

json summarize(const Snapshot& a, const Snapshot& b, const Datapath& dp) {
  using namespace dps::datapath;
  double secs = b.t - a.t;
  auto d = [&](PmdCounter c) { return static_cast<double>(b.pmd[c] - a.pmd[c]); };
  double pkts = d(kRxPackets);
  double hits_total = std::max(1.0, pkts);
  json j;
  j["duration_s"] = secs;
  j["packets"] = pkts;
  // Forwarded = packets the ports accepted from the PMDs (some vdevs, e.g.
  // memif, do not keep tx counters across a peer's disconnect).
  j["mpps"] = secs > 0 ? d(kTxPackets) / secs / 1e6 : 0;
  j["mpps_port_tx"] = secs > 0 ? (b.port_tx - a.port_tx) / secs / 1e6 : 0;
  j["mpps_rx"] = secs > 0 ? pkts / secs / 1e6 : 0;
  j["cycles_per_pkt"] = pkts > 0 ? d(kBusyCycles) / pkts : 0;
  j["busy_pct"] = (d(kBusyCycles) + d(kIdleCycles)) > 0
                      ? 100.0 * d(kBusyCycles) / (d(kBusyCycles) + d(kIdleCycles)) : 0;
  j["train_hits"] = d(kTrainHits);
  j["emc_hits"] = d(kEmcHits);
  j["smc_hits"] = d(kSmcHits);
  j["megaflow_hits"] = d(kMegaflowHits);
  j["upcalls"] = d(kUpcalls);
  j["failed_upcalls"] = d(kLostUpcalls);
  j["hit_split_pct"] = {{"train", 100 * d(kTrainHits) / hits_total},
                        {"emc", 100 * d(kEmcHits) / hits_total},
                        {"smc", 100 * d(kSmcHits) / hits_total},
                        {"megaflow", 100 * d(kMegaflowHits) / hits_total},
                        {"upcall", 100 * d(kUpcalls) / hits_total}};
  double mf = d(kMegaflowHits);
  j["subtable_lookups_per_hit"] = mf > 0 ? d(kSubtableLookups) / mf : 0;
  j["tx_dropped"] = d(kTxDropped);
  j["tsc_ghz"] = rte_get_tsc_hz() / 1e9;
  uint32_t flows = 0, masks = 0;
  for (auto& v : dp.pmd_stats()) {
    flows += v.flows;
    masks = std::max(masks, v.subtables);
  }
  j["datapath_flows"] = flows;
  j["megaflow_masks"] = masks;
  return j;
}

void print_summary(const json& j) {
  std::printf(
      "\n=== dpswitchd run summary (%.1f s window) ===\n"
      "  forwarded        %.2f Mpps (sent by the PMDs), received %.2f Mpps\n"
      "  cycles/packet    %.1f (PMD busy %.1f%%, TSC %.2f GHz)\n"
      "  hit split        train %.1f%%  EMC %.1f%%  SMC %.1f%%  megaflow %.1f%%  upcall %.1f%%\n"
      "  subtables/hit    %.2f over %u masks, %u datapath flows\n"
      "  upcalls          %.0f (lost: %.0f), tx dropped %.0f\n",
      j["duration_s"].get<double>(), j["mpps"].get<double>(), j["mpps_rx"].get<double>(),
      j["cycles_per_pkt"].get<double>(), j["busy_pct"].get<double>(), j["tsc_ghz"].get<double>(),
      j["hit_split_pct"]["train"].get<double>(), j["hit_split_pct"]["emc"].get<double>(),
      j["hit_split_pct"]["smc"].get<double>(),
      j["hit_split_pct"]["megaflow"].get<double>(), j["hit_split_pct"]["upcall"].get<double>(),
      j["subtable_lookups_per_hit"].get<double>(), j["megaflow_masks"].get<unsigned>(),
      j["datapath_flows"].get<unsigned>(), j["upcalls"].get<double>(),
      j["failed_upcalls"].get<double>(), j["tx_dropped"].get<double>());
  const json& o = j["ofproto"];
  std::printf(
      "  ofproto          %llu misses, %llu megaflows installed (%.2f us/miss), %llu ukeys, "
      "%llu rules, %llu MACs\n"
      "  revalidator      %llu re-translated, %llu modified, %llu deleted, %llu idle-expired\n",
      o["misses"].get<unsigned long long>(), o["installs"].get<unsigned long long>(),
      o["us_per_miss"].get<double>(), o["ukeys"].get<unsigned long long>(),
      o["rules"].get<unsigned long long>(), o["mac_entries"].get<unsigned long long>(),
      o["revalidated"].get<unsigned long long>(), o["modified"].get<unsigned long long>(),
      o["deleted"].get<unsigned long long>(), o["idle_expired"].get<unsigned long long>());
  std::fflush(stdout);
}

// Miss-path and revalidator figures are the shared backer's; rules, MACs
// and flow-mods are summed over the bridges.
json ofproto_json(const dps::ofproto::BridgeSet& bridges, const dps::ofproto::DpBacker& backer) {
  dps::ofproto::OfprotoStats s;
  s.upcall = backer.handler().stats();
  s.revalidator = backer.revalidator().stats();
  s.ukeys = backer.ukeys().size();
  s.ukey_masks = backer.ukeys().n_masks();
  for (const auto& [name, ofp] : bridges.all()) {
    auto b = ofp->stats();
    s.rules += b.rules;
    s.mac_entries += b.mac_entries;
    s.flow_mods += b.flow_mods;
    s.flow_mod_errors += b.flow_mod_errors;
    s.churn_mods += b.churn_mods;
  }
  json o;
  o["bridges"] = bridges.size();
  o["upcalls"] = s.upcall.upcalls;
  o["misses"] = s.upcall.misses;
  o["xlates"] = s.upcall.xlates;
  o["installs"] = s.upcall.installs;
  o["covered"] = s.upcall.covered;
  o["flow_limit_hits"] = s.upcall.flow_limit_hits;
  o["install_failures"] = s.upcall.install_failures;
  o["execute_failures"] = s.upcall.execute_failures;
  o["xlate_errors"] = s.upcall.xlate_errors;
  o["packet_ins"] = s.upcall.packet_ins;
  o["us_per_miss"] = s.upcall.misses ? s.upcall.busy_ns / 1e3 / s.upcall.misses : 0.0;
  o["us_per_upcall"] = s.upcall.upcalls ? s.upcall.busy_ns / 1e3 / s.upcall.upcalls : 0.0;
  o["cpu_us_per_miss"] = s.upcall.misses ? s.upcall.cpu_ns / 1e3 / s.upcall.misses : 0.0;
  o["ukeys"] = s.ukeys;
  o["ukey_masks"] = s.ukey_masks;
  o["rules"] = s.rules;
  o["mac_entries"] = s.mac_entries;
  o["flow_mods"] = s.flow_mods;
  o["churn_mods"] = s.churn_mods;
  o["revalidated"] = s.revalidator.revalidated;
  o["modified"] = s.revalidator.modified;
  o["deleted"] = s.revalidator.deleted;
  o["idle_expired"] = s.revalidator.idle_expired;
  o["barriers"] = s.revalidator.barriers;
  o["changes"] = s.revalidator.changes;
  o["change_us_max"] = s.revalidator.change_ns_max / 1e3;
  o["change_us_avg"] =
      s.revalidator.changes ? s.revalidator.change_ns_total / 1e3 / s.revalidator.changes : 0.0;
  return o;
}

std::vector<unsigned> pmd_lcores(const dps::daemon::DaemonConfig& cfg) {
  if (!cfg.pmd_cores.empty()) return cfg.pmd_cores;
  std::vector<unsigned> out;
  unsigned lc;
  RTE_LCORE_FOREACH_WORKER(lc) out.push_back(lc);
  return out;
}

int run(int argc, char** argv) {
  dps::daemon::DaemonConfig cfg;
  try {
    cfg = dps::daemon::parse_command_line(argc, argv);
  } catch (const dps::daemon::ConfigError& e) {
    if (*e.what()) std::fprintf(stderr, "dpswitchd: %s\n", e.what());
    std::fputs(dps::daemon::usage().c_str(), *e.what() ? stderr : stdout);
    return *e.what() ? 2 : 0;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));

  dps::netdev::EalOptions eo;
  eo.args = cfg.eal;
  dps::netdev::Eal eal("dpswitchd", eo);

  dps::datapath::DatapathConfig dc;
  dc.pmd_lcores = pmd_lcores(cfg);
  if (dc.pmd_lcores.empty()) {
    spdlog::error("no lcore left for a PMD thread: give the EAL at least two (-l 0,1)");
    return 2;
  }
  for (unsigned lc : dc.pmd_lcores)
    if (!rte_lcore_is_enabled(lc) || lc == rte_get_main_lcore()) {
      spdlog::error("PMD core {} is not an EAL worker lcore (EAL lcores: -l ...)", lc);
      return 2;
    }
  unsigned need = 0;
  for (auto& [no, pc] : cfg.ports)
    need += pc.n_rxq * pc.rx_desc + (dc.pmd_lcores.size() + 1) * pc.tx_desc;
  need += static_cast<unsigned>(dc.pmd_lcores.size()) * (dps::datapath::kMissRingSize + 2048);
  dc.n_mbufs = std::max(cfg.mbufs, need + dps::netdev::kMinMbufs);
  dc.max_flows_per_pmd = cfg.max_flows;
  dc.emc_insert_inv_prob = cfg.emc_insert_inv_prob;
  dc.smc_enabled = cfg.smc;

  Datapath dp(dc);
  for (auto& [no, pc] : cfg.ports) {
    try {
      uint32_t got = dp.add_port(pc, no);
      spdlog::info("port {} is datapath port {}", pc.name, got);
    } catch (const std::exception& e) {
      spdlog::error("{} (continuing without it)", e.what());
    }
  }
  uint64_t ufid = 1;
  for (auto& f : cfg.flows) {
    dps::datapath::FlowSpec spec;
    try {
      parse_flow_match(f.match, &spec.key, &spec.mask);
      spec.actions = dps::datapath::parse_dp_actions(f.actions);
    } catch (const std::invalid_argument& e) {
      spdlog::error("flow '{}' -> '{}': {} (skipped)", f.match, f.actions, e.what());
      continue;
    }
    spec.ufid = ufid++;
    int rc = dp.put_flow(spec);
    if (rc != 0)
      spdlog::error("flow '{}': install failed: {}", f.match, rte_strerror(-rc));
  }

  // One backer over the datapath (ukeys, miss path, revalidator) and the
  // bridges over it. The start-up bridge br0 gets every datapath port (same
  // numbers). Its rules: the --rules file; else, without an OpenFlow
  // target, a learning switch (priority=0,actions=NORMAL); with one, an
  // empty table (the controller fills it). The store may add bridges.
  dps::ofproto::BackerConfig bc;
  bc.flow_idle_ms = cfg.flow_idle_ms;
  bc.flow_limit = cfg.flow_limit;
  dps::ofproto::DpBacker backer(dp, bc);
  dps::ofproto::BridgeSet bridges(backer);
  const std::string kStartBridge = "br0";
  dps::ofproto::Ofproto& ofp = bridges.add(kStartBridge);
  ofp.sync_ports();
  if (!cfg.rules_file.empty()) {
    if (auto e = ofp.load_rules_file(cfg.rules_file)) {
      spdlog::error("{}", e->message);
      return 2;
    }
    spdlog::info("loaded {} rules from {}", ofp.stats().rules, cfg.rules_file);
  } else if (cfg.openflow.empty()) {
    ofp.install_default_normal();
  }
  if (cfg.churn_rate > 0) ofp.set_churn_rate(cfg.churn_rate);
  // The config store: import/reconcile now (before the PMDs start), then
  // serve ovs-vsctl/dpsctl; run() applies changes on this thread.
  // The OpenFlow channels, one ConnectionManager per bridge: --openflow
  // targets (for br0) plus the store's Bridge controller / fail_mode (ovs-vsctl
  // set-controller / set-fail-mode), re-applied whenever the reconciler
  // sees them change; a bridge's connections close before it is removed.
  std::map<std::string, std::unique_ptr<dps::ofproto::ConnectionManager>> connmgrs;
  auto make_connmgr = [&cfg, &connmgrs](dps::ofproto::Ofproto& o) -> dps::ofproto::ConnectionManager& {
    auto& cm = connmgrs[o.bridge().name];
    if (!cm) {
      dps::ofproto::ConnMgrConfig cc;
      if (o.bridge().name == "br0") cc.targets = cfg.openflow;
      cc.handler.sw_desc = dps::daemon::ConfigDaemon::version();
      // A datapath id per bridge, stable across restarts: br0 keeps 1, the
      // others a 48-bit FNV-1a hash of the name (OVS derives it from a MAC).
      if (o.bridge().name != "br0") {
        uint64_t h = 0xcbf29ce484222325ull;
        for (unsigned char c : o.bridge().name) h = (h ^ c) * 0x100000001b3ull;
        cc.handler.datapath_id = (h & 0xffff'ffff'ffffull) | 2;  // never 1 (br0)
      }
      cm = std::make_unique<dps::ofproto::ConnectionManager>(o, cc);
    }
    return *cm;
  };
  auto hook = [&cfg, &connmgrs, &make_connmgr](const dps::daemon::BridgeWant& b,
                                                 dps::ofproto::Ofproto* o) {
    if (!o) {
      if (connmgrs.erase(b.name)) spdlog::info("bridge {}: OpenFlow connections closed", b.name);
      return;
    }
    std::vector<std::string> targets;
    if (b.name == "br0") targets = cfg.openflow;
    for (const std::string& c : b.controllers)
      if (std::find(targets.begin(), targets.end(), c) == targets.end()) targets.push_back(c);
    try {
      dps::ofproto::ConnectionManager& cm = make_connmgr(*o);
      cm.set_targets(targets);
      cm.set_fail_mode(b.fail_mode);
      cm.handler().set_protocols(b.protocols);
    } catch (const std::exception& e) {
      spdlog::error("bridge {}: controller/fail_mode not applied: {}", b.name, e.what());
    }
  };
  auto confd = std::make_unique<dps::daemon::ConfigDaemon>(cfg, dp, &bridges, kStartBridge);
  // (The first reconciliation may have removed br0: the store decides.)
  if (auto* br0 = bridges.find(kStartBridge); br0 && !cfg.openflow.empty()) make_connmgr(*br0);
  if (confd->enabled()) {
    for (const auto& [name, b] : confd->reconciler().applied_bridges())
      if (auto* o = bridges.find(name)) hook(b, o);
    confd->reconciler().set_openflow_hook(hook);
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  dp.start();
  apply_priority(cfg.nice);

  // The control loop: one ofproto round (misses, completions, revalidation,
  // expiry), then time for the summary; sleeps briefly when idle.
  auto t0 = std::chrono::steady_clock::now();
  auto now_s = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Snapshot first = take_snapshot(dp, 0);
  bool window_open = cfg.warmup_s <= 0;
  json tx_samples = json::array();
  double next_sample = 0;
  while (!g_stop.load()) {
    unsigned work = backer.run();  // every bridge's round
    work += confd->run();
    for (auto& [name, cm] : connmgrs) work += cm->run();
    double t = now_s();
    if (cfg.sample_tx_ms > 0 && t >= next_sample && tx_samples.size() < 100000) {
      tx_samples.push_back(
          {t, take_snapshot(dp, t).port_tx, backer.ukeys().size(), dp.installed_flows()});
      next_sample = t + cfg.sample_tx_ms / 1000.0;
    }
    if (!window_open && t >= cfg.warmup_s) {
      dp.clear_pmd_stats();  // per-PMD figures cover the window only
      first = take_snapshot(dp, t);
      window_open = true;
    }
    if (cfg.duration_s > 0 && t >= cfg.warmup_s + cfg.duration_s) break;
    if (!work) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  Snapshot last = take_snapshot(dp, now_s());
  json summary = summarize(first, last, dp);
  summary["ofproto"] = ofproto_json(bridges, backer);
  if (cfg.sample_tx_ms > 0) summary["tx_samples"] = std::move(tx_samples);
  connmgrs.clear();  // closes the OpenFlow connections
  confd.reset();  // stops the RPC thread before the datapath goes
  bridges.clear();  // their megaflows go while the PMDs still run
  dp.stop();
  if (cfg.summary) {
    print_summary(summary);
    std::printf("\n%s\n%s", dps::datapath::pmd_stats_text(dp).c_str(),
                dps::datapath::pmd_rxq_text(dp).c_str());
  }
  summary["pmds"] = dps::datapath::pmd_stats_json(dp);
  summary["rxqs"] = dps::datapath::pmd_rxq_json(dp);
  if (!cfg.summary_json.empty()) std::ofstream(cfg.summary_json) << summary.dump(2) << "\n";
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
