#include "run_summary.h"

#include <rte_cycles.h>

#include <cstdio>
#include <fstream>

#include "ofproto.h"
#include "pmd_stats_format.h"

namespace dps::daemon {
namespace {

using namespace datapath;
using nlohmann::json;

json window_json(const RunSnapshot& a, const RunSnapshot& b) {
  double secs = b.t - a.t;
  PmdTotals w = b.pmd.since(a.pmd);
  auto per_sec = [secs](double v) { return secs > 0 ? v / secs / 1e6 : 0; };
  json j;
  j["duration_s"] = secs;
  j["packets"] = w.packets();
  // Forwarded = packets the ports accepted from the PMDs (some vdevs, e.g.
  // memif, do not keep tx counters across a peer's disconnect).
  j["mpps"] = per_sec(w.value(kTxPackets));
  j["mpps_port_tx"] = per_sec(static_cast<double>(b.port_tx - a.port_tx));
  j["mpps_rx"] = per_sec(w.packets());
  j["cycles_per_pkt"] = w.processing_cycles_per_pkt();
  j["busy_pct"] = w.busy_pct();
  j["train_hits"] = w.value(kTrainHits);
  j["emc_hits"] = w.value(kEmcHits);
  j["smc_hits"] = w.value(kSmcHits);
  j["megaflow_hits"] = w.value(kMegaflowHits);
  j["upcalls"] = w.value(kUpcalls);
  j["failed_upcalls"] = w.value(kLostUpcalls);
  j["hit_split_pct"] = {{"train", w.pct_of_packets(kTrainHits)},
                        {"emc", w.pct_of_packets(kEmcHits)},
                        {"smc", w.pct_of_packets(kSmcHits)},
                        {"megaflow", w.pct_of_packets(kMegaflowHits)},
                        {"upcall", w.pct_of_packets(kUpcalls)}};
  j["subtable_lookups_per_hit"] = w.subtable_lookups_per_hit();
  j["tx_dropped"] = w.value(kTxDropped);
  j["tsc_ghz"] = rte_get_tsc_hz() / 1e9;
  j["datapath_flows"] = static_cast<uint32_t>(b.pmd.flows);
  j["megaflow_masks"] = b.pmd.masks;
  return j;
}

// The miss path's and the revalidator's counters, by their JSON names.
template <typename Stats>
struct CounterField {
  const char* name;
  uint64_t Stats::*field;
};
using ofproto::RevalidatorStats;
using ofproto::UpcallStats;
constexpr CounterField<UpcallStats> kUpcallFields[] = {
    {"upcalls", &UpcallStats::upcalls},
    {"misses", &UpcallStats::misses},
    {"xlates", &UpcallStats::xlates},
    {"installs", &UpcallStats::installs},
    {"covered", &UpcallStats::covered},
    {"flow_limit_hits", &UpcallStats::flow_limit_hits},
    {"install_failures", &UpcallStats::install_failures},
    {"execute_failures", &UpcallStats::execute_failures},
    {"xlate_errors", &UpcallStats::xlate_errors},
    {"xlate_limit_drops", &UpcallStats::xlate_limit_drops},
    {"restore_wait_drops", &UpcallStats::restore_wait_drops},
    {"packet_ins", &UpcallStats::packet_ins},
};
constexpr CounterField<RevalidatorStats> kRevalidatorFields[] = {
    {"revalidated", &RevalidatorStats::revalidated},
    {"modified", &RevalidatorStats::modified},
    {"deleted", &RevalidatorStats::deleted},
    {"idle_expired", &RevalidatorStats::idle_expired},
    {"barriers", &RevalidatorStats::barriers},
    {"changes", &RevalidatorStats::changes},
};

template <typename Stats, size_t N>
void put_counters(json& o, const Stats& s, const CounterField<Stats> (&fields)[N]) {
  for (const CounterField<Stats>& f : fields) o[f.name] = s.*f.field;
}

double per(uint64_t ns, uint64_t n) { return n ? ns / 1e3 / n : 0.0; }

void print_window(const json& j) {
  const json& split = j["hit_split_pct"];
  std::printf(
      "\n=== dpswitchd run summary (%.1f s window) ===\n"
      "  forwarded        %.2f Mpps (sent by the PMDs), received %.2f Mpps\n"
      "  cycles/packet    %.1f (PMD busy %.1f%%, TSC %.2f GHz)\n"
      "  hit split        train %.1f%%  EMC %.1f%%  SMC %.1f%%  megaflow %.1f%%  upcall %.1f%%\n"
      "  subtables/hit    %.2f over %u masks, %u datapath flows\n"
      "  upcalls          %.0f (lost: %.0f), tx dropped %.0f\n",
      j["duration_s"].get<double>(), j["mpps"].get<double>(), j["mpps_rx"].get<double>(),
      j["cycles_per_pkt"].get<double>(), j["busy_pct"].get<double>(), j["tsc_ghz"].get<double>(),
      split["train"].get<double>(), split["emc"].get<double>(), split["smc"].get<double>(),
      split["megaflow"].get<double>(), split["upcall"].get<double>(),
      j["subtable_lookups_per_hit"].get<double>(), j["megaflow_masks"].get<unsigned>(),
      j["datapath_flows"].get<unsigned>(), j["upcalls"].get<double>(),
      j["failed_upcalls"].get<double>(), j["tx_dropped"].get<double>());
}

void print_ofproto(const json& o) {
  auto u = [&o](const char* key) { return o[key].get<unsigned long long>(); };
  std::printf(
      "  ofproto          %llu misses, %llu megaflows installed (%.2f us/miss), %llu ukeys, "
      "%llu rules, %llu MACs\n"
      "  revalidator      %llu re-translated, %llu modified, %llu deleted, %llu idle-expired\n",
      u("misses"), u("installs"), o["us_per_miss"].get<double>(), u("ukeys"), u("rules"),
      u("mac_entries"), u("revalidated"), u("modified"), u("deleted"), u("idle_expired"));
}

}  // namespace

// Miss-path and revalidator figures are the shared backer's; rules, MACs
// and flow-mods are summed over the bridges.
json ofproto_json(const ofproto::BridgeSet& bridges, const ofproto::DpBacker& backer) {
  ofproto::UpcallStats up = backer.handler().stats();
  ofproto::RevalidatorStats rv = backer.revalidator().stats();
  uint64_t rules = 0, mac_entries = 0, flow_mods = 0, churn_mods = 0;
  for (const auto& [name, ofp] : bridges.all()) {
    ofproto::OfprotoStats b = ofp->stats();
    rules += b.rules;
    mac_entries += b.mac_entries;
    flow_mods += b.flow_mods;
    churn_mods += b.churn_mods;
  }
  json o;
  o["bridges"] = bridges.size();
  put_counters(o, up, kUpcallFields);
  o["us_per_miss"] = per(up.busy_ns, up.misses);
  o["us_per_upcall"] = per(up.busy_ns, up.upcalls);
  o["cpu_us_per_miss"] = per(up.cpu_ns, up.misses);
  o["ukeys"] = backer.ukeys().size();
  o["ukey_masks"] = backer.ukeys().n_masks();
  o["rules"] = rules;
  o["mac_entries"] = mac_entries;
  o["flow_mods"] = flow_mods;
  o["churn_mods"] = churn_mods;
  put_counters(o, rv, kRevalidatorFields);
  o["change_us_max"] = rv.change_ns_max / 1e3;
  o["change_us_avg"] = per(rv.change_ns_total, rv.changes);
  return o;
}

RunSnapshot take_snapshot(const Datapath& dp, double t) {
  RunSnapshot s;
  s.t = t;
  for (uint32_t no : dp.port_numbers()) {
    netdev::PortStats st = dp.port(no)->stats();
    s.port_tx += st.tx_packets;
    s.port_rx += st.rx_packets;
  }
  s.pmd = PmdTotals::sum(dp.pmd_stats());
  return s;
}

RunRecorder::RunRecorder(const DaemonConfig& cfg, Datapath& dp)
    : cfg_(cfg), dp_(dp), first_(take_snapshot(dp, 0)), window_open_(cfg.warmup_s <= 0) {}

bool RunRecorder::tick(double t, const ofproto::DpBacker& backer) {
  if (cfg_.sample_tx_ms > 0 && t >= next_sample_ && tx_samples_.size() < 100000) {
    tx_samples_.push_back({t, take_snapshot(dp_, t).port_tx, backer.ukeys().size(), dp_.installed_flows()});
    next_sample_ = t + cfg_.sample_tx_ms / 1000.0;
  }
  if (!window_open_ && t >= cfg_.warmup_s) {
    dp_.clear_pmd_stats();  // per-PMD figures cover the window only
    first_ = take_snapshot(dp_, t);
    window_open_ = true;
  }
  return !(cfg_.duration_s > 0 && t >= cfg_.warmup_s + cfg_.duration_s);
}

json RunRecorder::summary(double t, const ofproto::BridgeSet& bridges,
                          const ofproto::DpBacker& backer) const {
  json j = window_json(first_, take_snapshot(dp_, t));
  j["ofproto"] = ofproto_json(bridges, backer);
  if (cfg_.sample_tx_ms > 0) j["tx_samples"] = tx_samples_;
  return j;
}

void finish_summary(const DaemonConfig& cfg, const Datapath& dp, json summary) {
  if (cfg.summary) {
    print_window(summary);
    print_ofproto(summary["ofproto"]);
    std::fflush(stdout);
    std::printf("\n%s\n%s", pmd_stats_text(dp).c_str(), pmd_rxq_text(dp).c_str());
  }
  summary["pmds"] = pmd_stats_json(dp);
  summary["rxqs"] = pmd_rxq_json(dp);
  if (!cfg.summary_json.empty()) std::ofstream(cfg.summary_json) << summary.dump(2) << "\n";
}

}  // namespace dps::daemon
