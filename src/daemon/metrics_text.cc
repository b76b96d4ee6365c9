#include "metrics_text.h"

#include <rte_cycles.h>

#include <algorithm>
#include <array>

#include "../datapath/datapath.h"
#include "config_daemon.h"
#include "pmd_totals.h"
#include "prom_text.h"

namespace dps::daemon {
namespace {

using exporter::PromLabels;
using exporter::PromText;
using namespace datapath;

struct PortCounterDef {
  const char* name;
  const char* help;
  uint64_t netdev::PortStats::*field;
};

// flat table
constexpr PortCounterDef kPortCounters[] = {
    {"dpswitch_port_rx_packets_total", "Packets received by the port.", &netdev::PortStats::rx_packets},
    {"dpswitch_port_rx_bytes_total", "Bytes received by the port.", &netdev::PortStats::rx_bytes},
    {"dpswitch_port_rx_dropped_total", "Packets the device dropped on receive (no mbuf, queue full).",
     &netdev::PortStats::rx_dropped},
    {"dpswitch_port_rx_errors_total", "Receive errors reported by the device.", &netdev::PortStats::rx_errors},
    {"dpswitch_port_tx_packets_total", "Packets sent by the port.", &netdev::PortStats::tx_packets},
    {"dpswitch_port_tx_bytes_total", "Bytes sent by the port.", &netdev::PortStats::tx_bytes},
    {"dpswitch_port_tx_dropped_total", "Packets not sent: the tx ring was full.", &netdev::PortStats::tx_dropped},
    {"dpswitch_port_tx_errors_total", "Transmit errors reported by the device.", &netdev::PortStats::tx_errors},
};

// A PMD counter's metric: a family of its own (label == nullptr; the help
// is the counter's, from pmd_counters.h) or one label value of a shared
// family (with the family's help).
struct PmdCounterDef {
  PmdCounter counter;
  const char* name;
  const char* label;
  const char* value;
  const char* family_help;
};

// flat table
constexpr PmdCounterDef kPmdCounters[] = {
    {kRxPackets, "dpswitch_pmd_rx_packets_total", nullptr, nullptr, nullptr},
    {kTrainHits, "dpswitch_pmd_hits_total", "cache", "train",
     "Packets resolved without a miss, by cache: train (same header as the previous packet), emc, smc, megaflow."},
    {kEmcHits, "dpswitch_pmd_hits_total", "cache", "emc", nullptr},
    {kSmcHits, "dpswitch_pmd_hits_total", "cache", "smc", nullptr},
    {kMegaflowHits, "dpswitch_pmd_hits_total", "cache", "megaflow", nullptr},
    {kUpcalls, "dpswitch_pmd_upcalls_total", nullptr, nullptr, nullptr},
    {kLostUpcalls, "dpswitch_pmd_lost_upcalls_total", nullptr, nullptr, nullptr},
    {kSubtableLookups, "dpswitch_pmd_subtable_lookups_total", nullptr, nullptr, nullptr},
    {kTxPackets, "dpswitch_pmd_tx_packets_total", nullptr, nullptr, nullptr},
    {kTxDropped, "dpswitch_pmd_tx_dropped_total", nullptr, nullptr, nullptr},
    {kDropped, "dpswitch_pmd_action_drops_total", nullptr, nullptr, nullptr},
    {kBusyCycles, "dpswitch_pmd_cycles_total", "state", "busy",
     "TSC cycles of the PMD's poll loop: busy (iterations that received packets) and idle."},
    {kIdleCycles, "dpswitch_pmd_cycles_total", "state", "idle", nullptr},
    {kIterations, "dpswitch_pmd_iterations_total", nullptr, nullptr, nullptr},
    {kCommands, "dpswitch_pmd_commands_total", nullptr, nullptr, nullptr},
    {kRecirculated, "dpswitch_pmd_recirculated_total", nullptr, nullptr, nullptr},
    {kRecircDropped, "dpswitch_pmd_recirc_drops_total", nullptr, nullptr, nullptr},
    {kTnlPopErrors, "dpswitch_pmd_tunnel_drops_total", "direction", "decap",
     "Tunnel packets dropped: decap (bad outer headers), encap (over the underlay MTU, or no headroom)."},
    {kTnlPushErrors, "dpswitch_pmd_tunnel_drops_total", "direction", "encap", nullptr},
};

// Every PMD counter exactly once, so a new counter cannot go unexported.
constexpr bool covers_every_counter() {
  std::array<int, kNumPmdCounters> seen{};
  for (const PmdCounterDef& d : kPmdCounters) seen[d.counter]++;
  for (int n : seen)
    if (n != 1) return false;
  return true;
}
static_assert(covers_every_counter(), "kPmdCounters must list every PmdCounter once");

void add_ports(PromText& p, const Datapath& dp) {
  std::array<PromText::Family, std::size(kPortCounters)> fam;
  for (size_t i = 0; i < fam.size(); i++) fam[i] = p.counter(kPortCounters[i].name, kPortCounters[i].help);
  auto link = p.gauge("dpswitch_port_link_up", "1 when the port's link is up.");
  auto admin = p.gauge("dpswitch_port_admin_up", "1 when the port is administratively up (polled, may send).");
  for (uint32_t no : dp.port_numbers()) {
    const netdev::Netdev* nd = dp.port(no);
    if (!nd) continue;
    netdev::PortStats s = nd->stats();
    PromLabels l{{"port", nd->name()}, {"port_no", std::to_string(no)}};
    for (size_t i = 0; i < fam.size(); i++) p.add(fam[i], l, s.*kPortCounters[i].field);
    p.add(link, l, nd->link_up() ? 1.0 : 0.0);
    p.add(admin, l, nd->admin_up() ? 1.0 : 0.0);
  }
}

// The PMD counters' families, declared in table order (a shared family once).
std::array<PromText::Family, std::size(kPmdCounters)> pmd_counter_families(PromText& p) {
  std::array<PromText::Family, std::size(kPmdCounters)> fam{};
  for (size_t i = 0; i < fam.size(); i++) {
    const PmdCounterDef& d = kPmdCounters[i];
    if (i > 0 && d.label && kPmdCounters[i - 1].label && std::string_view(kPmdCounters[i - 1].name) == d.name) {
      fam[i] = fam[i - 1];
      continue;
    }
    fam[i] = p.counter(d.name, d.family_help ? std::string_view(d.family_help) : kPmdCounterInfo[d.counter].help);
  }
  return fam;
}

void add_pmds(PromText& p, const Datapath& dp) {
  auto fam = pmd_counter_families(p);
  auto busy = p.gauge("dpswitch_pmd_busy_ratio",
                      "Busy cycles / all cycles since the last pmd-stats-clear (pmd-stats-show busy %, as a ratio).");
  auto cpp = p.gauge("dpswitch_pmd_cycles_per_packet",
                     "Busy cycles per received packet since the last pmd-stats-clear (pmd-stats-show).");
  auto flows = p.gauge("dpswitch_pmd_datapath_flows", "Megaflows installed in the PMD.");
  auto masks = p.gauge("dpswitch_pmd_megaflow_masks", "Megaflow subtables (masks) of the PMD.");
  auto emc = p.gauge("dpswitch_pmd_emc_active", "1 while the PMD probes its EMC (0: bypassed, low hit rate).");
  for (const PmdStatsView& v : dp.pmd_stats()) {
    PromLabels l{{"pmd", std::to_string(v.pmd)}, {"lcore", std::to_string(v.lcore)}};
    for (size_t i = 0; i < fam.size(); i++) {
      const PmdCounterDef& d = kPmdCounters[i];
      PromLabels li = l;
      if (d.label) li.push_back({d.label, d.value});
      p.add(fam[i], li, v.counters[d.counter]);
    }
    PmdTotals t = PmdTotals::of(v);
    p.add(busy, l, t.busy_pct() / 100);
    p.add(cpp, l, t.processing_cycles_per_pkt());
    p.add(flows, l, uint64_t{v.flows});
    p.add(masks, l, uint64_t{v.subtables});
    p.add(emc, l, v.emc_active ? 1.0 : 0.0);
  }
}

// The connection tracker: its size and limit, and its counters summed over
// the threads (no walk of the table: a scrape stays cheap at any size).
void add_conntrack(PromText& p, const conntrack::Conntrack& ct) {
  const conntrack::CtStats s = ct.stats(false);
  p.add(p.gauge("dpswitch_conntrack_connections", "Connections tracked (dpctl/ct-stats-show)."), {},
        s.n_conns);
  p.add(p.gauge("dpswitch_conntrack_connections_max", "The connection limit (dpctl/ct-set-maxconns)."), {},
        uint64_t{ct.max_conns()});
  p.add(p.counter("dpswitch_conntrack_packets_total", "Packets through a ct() action."), {},
        s.counters[conntrack::kPackets]);
  auto ev = p.counter("dpswitch_conntrack_events_total",
                      "Conntrack events, by kind: conns_created, invalid, truncated or malformed headers, "
                      "fragments, related, conntrack_full / conntrack_zone_full (a connection refused at "
                      "the limit), tcp_invalid (outside the TCP window).");
  for (unsigned c = 0; c < conntrack::kCtCounterCount; c++)
    if (c != conntrack::kPackets) p.add(ev, {{"event", conntrack::ct_counter_name(c)}}, s.counters[c]);
  p.add(p.gauge("dpswitch_conntrack_fragments_held", "IP fragments held for reassembly at ct() (dpctl/ipf-get-status)."),
        {}, uint64_t{s.ipf.nfrag});
  auto fr = p.counter("dpswitch_conntrack_fragments_total",
                      "IP fragments at ct(), by family and event (dpctl/ipf-get-status): accepted, completed "
                      "(sent on), reassembled (datagrams), expired, too_small, overlapped, duplicate, "
                      "inconsistent, malformed, over_limit, purged.");
  for (unsigned c = 0; c < conntrack::kIpfCounterCount; c++) {
    std::string name = conntrack::ipf_counter_name(c);
    std::replace(name.begin(), name.end(), ' ', '_');
    p.add(fr, {{"family", "ipv4"}, {"event", name}}, s.ipf.v4[c]);
    p.add(fr, {{"family", "ipv6"}, {"event", name}}, s.ipf.v6[c]);
  }
}

std::string str(const nlohmann::json& j) { return j.get<std::string>(); }

// Per bond member, from bond/show and lacp/show's views (one source).
void add_bonds(PromText& p, const BridgeList& bridges) {
  const nlohmann::json bonds = bond_show_json(bridges, ""), lacp = lacp_show_json(bridges, "");
  if (bonds.empty()) return;
  auto enabled = p.gauge("dpswitch_bond_member_enabled", "1 while the bond may send on the member (bond/show).");
  auto active = p.gauge("dpswitch_bond_member_active", "1 for the bond's active member (active-backup, SLB primary).");
  auto carrier = p.gauge("dpswitch_bond_member_carrier", "The member's carrier as the bond sees it.");
  auto tx = p.counter("dpswitch_bond_member_tx_packets_total",
                      "Packets the datapath sent on the member through the bond's hash buckets.");
  for (const auto& b : bonds)
    for (const auto& m : b["members"]) {
      PromLabels l{{"bridge", str(b["bridge"])}, {"bond", str(b["bond"])}, {"member", str(m["member"])}};
      uint64_t packets = 0;
      for (const auto& h : m.value("hashes", nlohmann::json::array())) packets += h["tx_packets"].get<uint64_t>();
      p.add(enabled, l, m["enabled"].get<bool>() ? 1.0 : 0.0);
      p.add(active, l, m["active"].get<bool>() ? 1.0 : 0.0);
      p.add(carrier, l, m["carrier"].get<bool>() ? 1.0 : 0.0);
      p.add(tx, l, packets);
    }
  if (lacp.empty()) return;
  auto negotiated = p.gauge("dpswitch_lacp_negotiated", "1 while LACP is negotiated on the bond (lacp/show).");
  auto pdus = p.counter("dpswitch_lacp_pdus_total", "LACPDUs by member and kind: rx, tx, rx_bad (malformed).");
  for (const auto& b : lacp) {
    p.add(negotiated, {{"bridge", str(b["bridge"])}, {"bond", str(b["bond"])}}, b["negotiated"].get<bool>() ? 1.0 : 0.0);
    for (const auto& m : b["members"])
      for (const auto& [kind, key] : {std::pair{"rx", "rx_pdus"}, {"tx", "tx_pdus"}, {"rx_bad", "rx_bad_pdus"}})
        p.add(pdus, {{"bridge", str(b["bridge"])}, {"bond", str(b["bond"])}, {"member", str(m["member"])}, {"kind", kind}},
              m[key].get<uint64_t>());
  }
}

}  // namespace

std::string metrics_text(const Datapath& dp, const BridgeList& bridges) {
  PromText p;
  auto info = p.gauge("dpswitch_build_info", "dpswitchd's version (value 1).");
  p.add(info, {{"version", ConfigDaemon::version()}}, 1.0);
  add_ports(p, dp);
  add_pmds(p, dp);
  add_conntrack(p, dp.conntrack());
  add_bonds(p, bridges);
  p.add(p.gauge("dpswitch_datapath_flows", "Megaflows installed, summed over the PMDs (dpif/flow-count)."), {},
        dp.installed_flows());
  p.add(p.gauge("dpswitch_pmds", "PMD threads."), {}, uint64_t{dp.n_pmds()});
  p.add(p.gauge("dpswitch_mbufs", "Packet buffers in the datapath's pool."), {}, uint64_t{dp.pool().size()});
  p.add(p.gauge("dpswitch_mbufs_in_use", "Packet buffers out of the pool: in rx rings, in flight, queued."), {},
        uint64_t{dp.pool().in_use()});
  p.add(p.gauge("dpswitch_tsc_hertz", "TSC frequency: cycles per second, to turn the cycle counters into seconds."),
        {}, static_cast<double>(rte_get_tsc_hz()));
  return p.text();
}

}  // namespace dps::daemon
