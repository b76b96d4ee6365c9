// dpswitchd - the composition root: configuration, EAL, datapath, and the
// control loop that (for now) consumes the miss rings.
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "daemon/daemon_config.h"
#include "datapath/datapath.h"
#include "datapath/dp_flow_text.h"
#include "datapath/pmd_stats_format.h"
#include "netdev/dpdk_netdev.h"
#include "netdev/eal.h"

namespace {

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
  j["mpps"] = secs > 0 ? (b.port_tx - a.port_tx) / secs / 1e6 : 0;
  j["mpps_rx"] = secs > 0 ? pkts / secs / 1e6 : 0;
  j["cycles_per_pkt"] = pkts > 0 ? d(kBusyCycles) / pkts : 0;
  j["busy_pct"] = (d(kBusyCycles) + d(kIdleCycles)) > 0
                      ? 100.0 * d(kBusyCycles) / (d(kBusyCycles) + d(kIdleCycles)) : 0;
  j["emc_hits"] = d(kEmcHits);
  j["smc_hits"] = d(kSmcHits);
  j["megaflow_hits"] = d(kMegaflowHits);
  j["upcalls"] = d(kUpcalls);
  j["failed_upcalls"] = d(kLostUpcalls);
  j["hit_split_pct"] = {{"emc", 100 * d(kEmcHits) / hits_total},
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
      "  forwarded        %.2f Mpps (port tx), received %.2f Mpps\n"
      "  cycles/packet    %.1f (PMD busy %.1f%%, TSC %.2f GHz)\n"
      "  hit split        EMC %.1f%%  SMC %.1f%%  megaflow %.1f%%  upcall %.1f%%\n"
      "  subtables/hit    %.2f over %u masks, %u datapath flows\n"
      "  upcalls          %.0f (lost: %.0f), tx dropped %.0f\n",
      j["duration_s"].get<double>(), j["mpps"].get<double>(), j["mpps_rx"].get<double>(),
      j["cycles_per_pkt"].get<double>(), j["busy_pct"].get<double>(), j["tsc_ghz"].get<double>(),
      j["hit_split_pct"]["emc"].get<double>(), j["hit_split_pct"]["smc"].get<double>(),
      j["hit_split_pct"]["megaflow"].get<double>(), j["hit_split_pct"]["upcall"].get<double>(),
      j["subtable_lookups_per_hit"].get<double>(), j["megaflow_masks"].get<unsigned>(),
      j["datapath_flows"].get<unsigned>(), j["upcalls"].get<double>(),
      j["failed_upcalls"].get<double>(), j["tx_dropped"].get<double>());
  std::fflush(stdout);
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

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  dp.start();

  // The control loop: consumes misses (until the ofproto pipeline owns them:
  // count and free), reaps PMD completions, keeps time for the summary.
  auto t0 = std::chrono::steady_clock::now();
  auto now_s = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Snapshot first = take_snapshot(dp, 0);
  bool window_open = cfg.warmup_s <= 0;
  uint64_t misses_freed = 0;
  dps::datapath::Upcall ups[32];
  while (!g_stop.load()) {
    unsigned got = 0;
    for (unsigned p = 0; p < dp.n_pmds(); p++) {
      unsigned n = dp.drain_upcalls(p, ups, 32);
      for (unsigned i = 0; i < n; i++) rte_pktmbuf_free(ups[i].pkt);
      got += n;
    }
    misses_freed += got;
    dp.poll();
    double t = now_s();
    if (!window_open && t >= cfg.warmup_s) {
      dp.clear_pmd_stats();  // per-PMD figures cover the window only
      first = take_snapshot(dp, t);
      window_open = true;
    }
    if (cfg.duration_s > 0 && t >= cfg.warmup_s + cfg.duration_s) break;
    if (!got) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  Snapshot last = take_snapshot(dp, now_s());
  json summary = summarize(first, last, dp);
  summary["misses_consumed"] = misses_freed;
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
