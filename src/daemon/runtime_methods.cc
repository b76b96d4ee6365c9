#include "runtime_methods.h"

#include <rte_cycles.h>

#include <cstdlib>
#include <optional>
#include <algorithm>
#include <stdexcept>
#include <string>

#include "bond_show.h"
#include "dp_flow_text.h"
#include "ofproto.h"
#include "pmd_stats_format.h"
#include "tunnel_context.h"
#include "pmd_totals.h"
#include "reconciler.h"
#include "run_summary.h"
#include "sampling.h"

namespace dps::daemon {
namespace {

using nlohmann::json;

std::string string_param(const json& params, size_t i, const char* what) {
  if (params.size() <= i || !params[i].is_string())
    throw std::invalid_argument(std::string("missing parameter ") + std::to_string(i + 1) + ": " + what);
  return params[i].get<std::string>();
}

void no_more_params(const json& params, size_t n, const char* method) {
  if (params.size() > n)
    throw std::invalid_argument(std::string(method) + " takes at most " + std::to_string(n) +
                                " parameter(s), got " + std::to_string(params.size()));
}

// The bridge named br, or an error that lists the bridges there are.
ofproto::Ofproto& find_bridge(RuntimeTargets& t, const std::string& br) {
  if (!t.bridges) throw std::invalid_argument("no OpenFlow bridge in this daemon");
  if (ofproto::Ofproto* o = t.bridges->find(br)) return *o;
  throw std::invalid_argument("no bridge named " + br + " (bridges: " + t.bridges->names_text() + ")");
}

// A port given by name or number.
uint32_t find_port(RuntimeTargets& t, const json& p) {
  if (p.is_number_unsigned()) {
    uint32_t no = p.get<uint32_t>();
    if (t.dp.port(no)) return no;
    throw std::invalid_argument("no port number " + std::to_string(no));
  }
  std::string s = p.is_string() ? p.get<std::string>() : p.dump();
  if (auto no = t.dp.port_no(s)) return *no;
  throw std::invalid_argument("no port named " + s);
}

void parse_flow(const std::string& text, datapath::FlowKey* key, datapath::FlowMask* mask) {
  try {
    datapath::parse_flow_match(text, key, mask);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("bad flow \"" + text + "\": " + e.what());
  }
}

// The canonical text of a (key, mask) pair, used to find a dumped flow.
std::string canonical(const datapath::FlowKey& key, const datapath::FlowMask& mask) {
  datapath::FlowKey masked;
  datapath::flow_key_apply_mask(key, mask, &masked);
  return datapath::flow_key_format(masked, &mask);
}

// ---- handlers (control thread) ---------------------------------------------

json pmd_stats_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpif/pmd-stats-show");
  return pmd_stats_json(t.dp);
}

json pmd_stats_clear(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpif/pmd-stats-clear");
  t.dp.clear_pmd_stats();
  return json{{"cleared_pmds", t.dp.n_pmds()}};
}

// The PMD counters summed over every PMD since the last clear, with the
// figures OVS derives from them, under the names the shared benchmark
// harness reads (its --stats-cmd contract; OVS's pmd-stats-show and
// pmd-perf-show mean the same by them):
//   processing_cycles_per_pkt  busy cycles / packets (OVS "avg processing
//                              cycles per packet"; pmd-stats-show's
//                              per-PMD cycles_per_pkt is this figure);
//   cycles_per_pkt             (busy + idle) cycles / packets (OVS "avg
//                              cycles per packet");
//   upcalls / failed_upcalls   misses handed to the ofproto thread / dropped
//                              because the miss ring was full;
//   subtable_lookups_per_hit   subtables probed per megaflow hit;
//   datapath_flows             megaflows summed over the PMDs (OVS dpctl/show);
//   megaflow_masks             the most subtables (masks) of one PMD;
//   duration_s                 since the last clear (OVS "Measurement duration").
//   emc_hits                   exact-key hits: EMC hits plus train_hits
//                              (packets with the same key as their
//                              predecessor, resolved without a lookup; also
//                              reported alone, as are the EMC's own hits in
//                              emc_lookup_hits), so the split adds up to
//                              the packets as OVS's does.
// simple_match_hits is absent because there is no such cache here.
json pmd_stats_total(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpif/pmd-stats-total");
  using namespace datapath;
  PmdTotals sum = PmdTotals::sum(t.dp.pmd_stats());
  double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  uint64_t now = rte_get_tsc_cycles();
  uint64_t since = t.dp.stats_cleared_tsc();
  json j = json::object();
  for (unsigned c = 0; c < kNumPmdCounters; c++) j[std::string(kPmdCounterInfo[c].name)] = sum.counters[c];
  j["emc_lookup_hits"] = sum.get(kEmcHits);
  j["emc_hits"] = sum.get(kEmcHits) + sum.get(kTrainHits);
  j["pmds"] = sum.pmds;
  j["duration_s"] = (now - std::min(now, since)) / tsc_hz;
  j["tsc_ghz"] = tsc_hz / 1e9;
  j["processing_cycles"] = sum.get(kBusyCycles);
  j["processing_cycles_per_pkt"] = sum.processing_cycles_per_pkt();
  j["cycles_per_pkt"] = sum.cycles_per_pkt();
  j["busy_pct"] = sum.busy_pct();
  j["subtable_lookups_per_hit"] = sum.subtable_lookups_per_hit();
  j["datapath_flows"] = sum.flows;
  j["megaflow_masks"] = sum.masks;
  return j;
}

// Megaflows summed over the PMDs: cheap (one relaxed load per PMD), for
// callers that sample it quickly (the harness's --flows-cmd).
json flow_count(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpif/flow-count");
  return t.dp.installed_flows();
}

// As ovs-appctl memory/show: what the datapath holds.
json memory_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "memory/show");
  return {{"mbufs", t.dp.pool().size()}, {"mbufs_in_use", t.dp.pool().in_use()},
          {"datapath_flows", t.dp.installed_flows()}, {"ports", t.dp.port_numbers().size()}};
}

json pmd_rxq_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpif/pmd-rxq-show");
  return pmd_rxq_json(t.dp);
}

// As ovs-appctl dpif-netdev/pmd-rxq-rebalance: every queue placed again by
// its measured load, whatever the improvement.
json pmd_rxq_rebalance(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpif/pmd-rxq-rebalance");
  const datapath::RebalanceResult r = t.dp.rebalance_rxqs();
  return {{"moved", r.moved}, {"queues_moved", r.queues_moved}, {"variance_gain_pct", r.gain_pct},
          {"mode", datapath::rxq_assign_name(t.dp.rxq_policy().placement.mode)}, {"reason", r.reason}};
}

json dump_flows(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "dpif/dump-flows");
  // With a bridge: the megaflows whose in_port is one of its ports.
  ofproto::Ofproto* only = params.empty() ? nullptr : &find_bridge(t, string_param(params, 0, "bridge"));
  double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  uint64_t now = rte_get_tsc_cycles();
  json out = json::array();
  for (const datapath::FlowDump& f : t.dp.dump_flows()) {
    if (only && f.spec.mask.in_port && !only->bridge().of_by_dp.count(f.spec.key.in_port)) continue;
    json pmds = json::array();
    for (unsigned p : f.pmds) pmds.push_back(p);
    json used = f.stats.used_tsc ? json((now - std::min(now, f.stats.used_tsc)) / tsc_hz) : json("never");
    out.push_back({{"ufid", f.spec.ufid},
                   {"match", datapath::flow_key_format(f.spec.key, &f.spec.mask)},
                   {"packets", f.stats.packets},
                   {"bytes", f.stats.bytes},
                   {"used_s", used},
                   {"pmds", pmds},
                   {"actions", datapath::format_actions(f.spec.actions)}});
  }
  return out;
}

json add_flow(RuntimeTargets& t, const json& params) {
  no_more_params(params, 2, "dpif/add-flow");
  std::string match = string_param(params, 0, "flow");
  std::string actions = string_param(params, 1, "actions");
  datapath::FlowSpec spec;
  parse_flow(match, &spec.key, &spec.mask);
  try {
    spec.actions = datapath::parse_dp_actions(actions);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("bad actions \"" + actions + "\": " + e.what());
  }
  for (unsigned i = 0; i < spec.actions.n; i++) {
    const datapath::DpAction& a = spec.actions.acts[i];
    if (a.type == datapath::ActType::kOutput && !t.dp.port(a.arg32))
      throw std::invalid_argument("actions \"" + actions + "\": no port " + std::to_string(a.arg32));
  }
  spec.ufid = t.next_debug_ufid++;
  int rc = t.dp.put_flow(spec);
  if (rc == -EEXIST) throw std::invalid_argument("a datapath flow with this match exists: " + canonical(spec.key, spec.mask));
  if (rc == -E2BIG) throw std::invalid_argument("datapath flow limit reached");
  if (rc != 0) throw std::invalid_argument("install failed: error " + std::to_string(-rc));
  return json{{"ufid", spec.ufid}, {"match", canonical(spec.key, spec.mask)}};
}

json del_flow(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "dpif/del-flow");
  std::string match = string_param(params, 0, "flow");
  datapath::FlowKey key;
  datapath::FlowMask mask;
  parse_flow(match, &key, &mask);
  std::string want = canonical(key, mask);
  for (const datapath::FlowDump& f : t.dp.dump_flows())
    if (datapath::flow_key_format(f.spec.key, &f.spec.mask) == want) {
      t.dp.del_flow(f.spec.ufid);
      return json{{"deleted", f.spec.ufid}, {"match", want}};
    }
  throw std::invalid_argument("no datapath flow matches " + want);
}

json trace(RuntimeTargets& t, const json& params) {
  no_more_params(params, 2, "ofproto/trace");
  ofproto::Ofproto& ofp = find_bridge(t, string_param(params, 0, "bridge"));
  datapath::FlowKey key;
  datapath::FlowMask mask;
  parse_flow(string_param(params, 1, "flow"), &key, &mask);
  return ofp.trace(key);
}

json fdb_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "fdb/show");
  return find_bridge(t, string_param(params, 0, "bridge")).fdb_show();
}

json of_dump_flows(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "ofproto/dump-flows");
  return find_bridge(t, string_param(params, 0, "bridge")).dump_flows();
}

json of_add_flows(RuntimeTargets& t, const json& params) {
  no_more_params(params, 2, "ofproto/add-flows");
  ofproto::Ofproto& ofp = find_bridge(t, string_param(params, 0, "bridge"));
  if (auto e = ofp.add_flows(string_param(params, 1, "flows"))) throw std::invalid_argument(e->message);
  return json{{"rules", ofp.stats().rules}};
}

json of_del_flows(RuntimeTargets& t, const json& params) {
  no_more_params(params, 2, "ofproto/del-flows");
  ofproto::Ofproto& ofp = find_bridge(t, string_param(params, 0, "bridge"));
  std::string match = params.size() > 1 ? string_param(params, 1, "match") : std::string();
  if (auto e = ofp.del_flows(match)) throw std::invalid_argument(e->message);
  return json{{"rules", ofp.stats().rules}};
}

json list_bridges(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "ofproto/list-bridges");
  json out = json::array();
  if (!t.bridges) return out;
  for (const auto& [name, ofp] : t.bridges->all()) {
    json ports = json::array();
    for (const auto& [no, bp] : ofp->bridge().ports) {
      json p = {{"name", bp.name}, {"ofport", no}};
      if (bp.is_patch()) p["peer"] = bp.peer_bridge->name + ":" + std::to_string(bp.peer_port);
      else p["dp_port"] = bp.dp_port;
      ports.push_back(std::move(p));
    }
    out.push_back({{"bridge", name}, {"rules", ofp->stats().rules}, {"ports", std::move(ports)}});
  }
  return out;
}

json port_stats(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "netdev/port-stats");
  std::vector<uint32_t> ports;
  if (params.empty()) ports = t.dp.port_numbers();
  else ports.push_back(find_port(t, params[0]));
  json out = json::array();
  for (uint32_t no : ports) {
    const netdev::Netdev* nd = t.dp.port(no);
    netdev::PortStats s = nd->stats();
    out.push_back({{"port", nd->name()},
                   {"port_no", no},
                   {"link", nd->link_up() ? "up" : "down"},
                   {"rx_packets", s.rx_packets},
                   {"rx_bytes", s.rx_bytes},
                   {"rx_dropped", s.rx_dropped},
                   {"rx_errors", s.rx_errors},
                   {"tx_packets", s.tx_packets},
                   {"tx_bytes", s.tx_bytes},
                   {"tx_dropped", s.tx_dropped},
                   {"tx_errors", s.tx_errors},
                   {"tx_retries", s.tx_retries}});
    if (auto v = nd->info().vhost)
      out.back()["vhost"] = {{"connected", v->connected}, {"numa", v->numa_node}, {"vrings", v->vrings},
                             {"rxq_enabled", v->rxq_enabled}, {"txq_enabled", v->txq_enabled},
                             {"txq_remaps", v->txq_remaps}};
  }
  return out;
}

json port_xstats(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "netdev/port-xstats");
  if (params.empty()) throw std::invalid_argument("missing parameter 1: port");
  const netdev::Netdev* nd = t.dp.port(find_port(t, params[0]));
  json out = json::object();
  for (auto& [k, v] : nd->xstats()) out[k] = v;
  return out;
}

// ---- native tunneling (ovs-appctl tnl/* and ovs-router/*) -----------------

ofproto::TunnelContext& tunnels(RuntimeTargets& t) {
  if (!t.bridges) throw std::invalid_argument("no OpenFlow bridge in this daemon");
  return t.bridges->backer().tunnels();
}

json ok_or_throw(const std::optional<std::string>& err) {
  if (err) throw std::invalid_argument(*err);
  return "OK";
}

json tnl_route_add(RuntimeTargets& t, const json& params) {
  no_more_params(params, 3, "tnl/route-add");
  std::string gw = params.size() > 2 ? string_param(params, 2, "gateway") : std::string();
  return ok_or_throw(tunnels(t).route_add(string_param(params, 0, "IP/PLEN"), string_param(params, 1, "bridge"), gw));
}

json tnl_route_del(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "tnl/route-del");
  return ok_or_throw(tunnels(t).route_del(string_param(params, 0, "IP/PLEN")));
}

// ovs-router/show: user routes ("User") and the internal ports' connected
// routes ("Cached", as OVS calls the routes it read from the kernel), in
// lookup order.
json tnl_route_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "tnl/route-show");
  json out = json::array();
  for (const ofproto::TnlRoute& r : tunnels(t).router().routes())
    out.push_back({{"type", r.user ? "User" : "Cached"},
                   {"prefix", r.prefix.str() + "/" + std::to_string(r.plen)},
                   {"bridge", r.bridge},
                   {"gw", r.gw.is_zero() ? json() : json(r.gw.str())},
                   {"src", r.user ? json() : json(r.src.str())}});
  return out;
}

json tnl_neigh_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "tnl/neigh-show");
  int64_t now = t.bridges ? t.bridges->backer().now_ms() : 0;
  json out = json::array();
  for (const ofproto::NeighEntry& e : tunnels(t).neigh().entries()) {
    json expires = e.is_static ? json() : json(std::max<int64_t>(0, e.expires_ms - now) / 1000.0);
    out.push_back({{"ip", e.ip.str()},
                   {"mac", ofproto::mac_to_string(e.mac)},
                   {"bridge", e.bridge},
                   {"state", e.is_static ? "static" : e.expires_ms <= now ? "STALE" : "learned"},
                   {"expires_s", expires}});
  }
  return out;
}

json tnl_neigh_flush(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "tnl/neigh-flush");
  std::string br = params.empty() ? std::string() : string_param(params, 0, "bridge");
  if (!br.empty()) find_bridge(t, br);
  return json{{"flushed", tunnels(t).neigh().flush(br)}};
}

json tnl_neigh_set(RuntimeTargets& t, const json& params) {
  no_more_params(params, 3, "tnl/neigh-set");
  return ok_or_throw(tunnels(t).neigh_set(string_param(params, 0, "bridge"), string_param(params, 1, "IP"),
                                          string_param(params, 2, "MAC")));
}

std::string flow_or(bool flow, const std::string& v) { return flow ? "flow" : v; }

json tnl_ports_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "tnl/ports-show");
  json out = json::array();
  for (const ofproto::TnlPortRef& r : tunnels(t).ports().all()) {
    const ofproto::TunnelConfig& c = *r.cfg;
    out.push_back({{"port", r.name},
                   {"bridge", r.bridge->name},
                   {"ofport", r.of_port},
                   {"dp_port", r.dp_port},
                   {"type", ofproto::tunnel_type_name(c.type)},
                   {"dst_port", c.udp_dst_port()},
                   {"local", flow_or(c.local_ip_flow, c.local_ip.is_zero() ? "any" : c.local_ip.str())},
                   {"remote", flow_or(c.remote_ip_flow, c.remote_ip.str())},
                   {"in_key", flow_or(c.in_key_flow, std::to_string(c.in_key))},
                   {"out_key", flow_or(c.out_key_flow, std::to_string(c.out_key))}});
  }
  return out;
}

// The miss path's counters now: translations that failed (xlate_errors:
// their megaflows drop), packets dropped at translation limits, ...
json upcall_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "upcall/show");
  if (!t.bridges) throw std::invalid_argument("no OpenFlow bridge in this daemon");
  return ofproto_json(*t.bridges, t.bridges->backer());
}

json tnl_stats_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "tnl/stats-show");
  const ofproto::TnlStats& s = tunnels(t).stats();
  return json{{"decap_flows", s.decap_flows},       {"encap_flows", s.encap_flows},
              {"rx_no_port", s.rx_no_port},         {"rx_bad_options", s.rx_bad_options},
              {"tx_no_remote", s.tx_no_remote},     {"tx_no_route", s.tx_no_route},
              {"tx_no_neigh", s.tx_no_neigh},       {"tx_errors", s.tx_errors},
              {"neigh_requests", s.neigh_requests}, {"neigh_snooped", s.neigh_snooped}};
}

// Every bridge's mirrors (of BRIDGE): applied or the reason not, counters.
json mirror_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "mirror/show");
  std::string only = params.size() > 0 ? string_param(params, 0, "bridge") : std::string();
  if (!only.empty()) find_bridge(t, only);
  json out = json::array();
  if (!t.bridges) return out;
  for (const auto& [name, ofp] : t.bridges->all()) {
    if (!only.empty() && name != only) continue;
    const ofproto::MirrorSet& ms = ofp->bridge().mirrors;
    std::vector<ofproto::MirrorStatus> st = ms.status();
    for (size_t i = 0; i < st.size(); i++) {
      const ofproto::MirrorConfig& c = ms.configs()[i];
      json m = {{"bridge", name}, {"mirror", c.name}, {"status", st[i].error.empty() ? "applied" : "error"},
                {"tx_packets", st[i].tx_packets}, {"tx_bytes", st[i].tx_bytes}};
      if (!c.output_port.empty()) m["output_port"] = c.output_port;
      if (c.output_vlan) m["output_vlan"] = *c.output_vlan;
      if (!st[i].error.empty()) m["error"] = st[i].error;
      if (c.snaplen) m["snaplen"] = std::to_string(*c.snaplen) + " (not applied)";
      out.push_back(std::move(m));
    }
  }
  return out;
}

// ---- connection tracking (ovs-appctl dpctl/*-conntrack, ct-*) ----

// "zone=N" (dump-conntrack, flush-conntrack).
std::optional<uint16_t> zone_param(const json& params, const char* method) {
  no_more_params(params, 1, method);
  if (params.empty()) return std::nullopt;
  const std::string z = string_param(params, 0, "zone=N");
  char* end = nullptr;
  const unsigned long v = z.rfind("zone=", 0) == 0 ? std::strtoul(z.c_str() + 5, &end, 10) : 0;
  if (!end || *end || z.size() == 5 || v > 0xffff)
    throw std::invalid_argument(std::string(method) + ": expected zone=N (0..65535), got '" + z + "'");
  return static_cast<uint16_t>(v);
}

json ct_dump(RuntimeTargets& t, const json& params) {
  const std::optional<uint16_t> zone = zone_param(params, "dpctl/dump-conntrack");
  std::vector<conntrack::CtEntry> es = t.dp.conntrack().dump(zone);
  std::vector<std::string> lines;
  for (const conntrack::CtEntry& e : es) lines.push_back(conntrack::ct_entry_format(e));
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// [zone=N] [ct-orig-tuple [ct-reply-tuple]], as ovs-appctl dpctl/flush-conntrack.
json ct_flush(RuntimeTargets& t, const json& params) {
  const char* method = "dpctl/flush-conntrack";
  no_more_params(params, 3, method);
  size_t i = 0;
  std::optional<uint16_t> zone;
  if (!params.empty() && string_param(params, 0, "zone=N").rfind("zone=", 0) == 0)
    zone = zone_param(json::array({params[i++]}), method);
  conntrack::CtTupleFilter f[2];
  const size_t n_tuples = params.size() - i;
  if (n_tuples > 2) throw std::invalid_argument(std::string(method) + ": at most two tuples (original, reply)");
  for (size_t k = 0; k < n_tuples; k++) {
    const std::string e = conntrack::ct_tuple_filter_parse(string_param(params, i + k, "ct-tuple"), &f[k]);
    if (!e.empty()) throw std::invalid_argument(std::string(method) + ": " + e);
  }
  return json{{"flushed", t.dp.conntrack().flush(zone, n_tuples > 0 ? &f[0] : nullptr,
                                                  n_tuples > 1 ? &f[1] : nullptr)}};
}

json ct_stats_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpctl/ct-stats-show");
  const conntrack::CtStats s = t.dp.conntrack().stats();
  std::string out = "Connections Stats:\n    Total: " + std::to_string(s.n_conns) + "\n";
  const std::pair<const char*, uint64_t> protos[] = {
      {"TCP", s.by_proto_tcp}, {"UDP", s.by_proto_udp}, {"ICMP", s.by_proto_icmp}, {"OTHER", s.by_proto_other}};
  for (const auto& [name, n] : protos)
    if (n) out += std::string("    ") + name + ": " + std::to_string(n) + "\n";
  out += "Tracker counters:\n";
  for (unsigned c = 0; c < conntrack::kCtCounterCount; c++)
    out += std::string("    ") + conntrack::ct_counter_name(c) + ": " + std::to_string(s.counters[c]) + "\n";
  out += "Fragment reassembly (v4 / v6):\n";
  out += "    held: " + std::to_string(s.ipf.nfrag) + " fragments, " + std::to_string(s.ipf.n_lists) + " datagrams\n";
  for (unsigned c = 0; c < conntrack::kIpfCounterCount; c++)
    out += std::string("    ") + conntrack::ipf_counter_name(c) + ": " + std::to_string(s.ipf.v4[c]) + " / " +
           std::to_string(s.ipf.v6[c]) + "\n";
  return out;
}

// OVS's dpctl/ipf-get-status text, plus dpswitch's extra counters.
json ipf_get_status(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpctl/ipf-get-status");
  const conntrack::IpfStatus s = t.dp.conntrack().frag().status();
  std::string out = "        Fragmentation Module Status\n        ---------------------------\n";
  auto line = [&out](const std::string& k, uint64_t v) { out += "        " + k + ": " + std::to_string(v) + "\n"; };
  line("v4 enabled", s.v4_enabled);
  line("v6 enabled", s.v6_enabled);
  line("max num frags (v4/v6)", s.nfrag_max);
  line("num frag", s.nfrag);
  line("datagrams being reassembled", s.n_lists);
  line("max datagrams", s.max_lists);
  line("max frags per datagram", conntrack::kMaxFragsPerDatagram);
  line("timeout (ms)", conntrack::kIpfTimeoutMs);
  line("min v4 frag size", s.min_v4);
  for (unsigned c = 0; c < conntrack::kIpfCounterCount; c++)
    line(std::string("v4 frags ") + conntrack::ipf_counter_name(c), s.v4[c]);
  line("min v6 frag size", s.min_v6);
  for (unsigned c = 0; c < conntrack::kIpfCounterCount; c++)
    line(std::string("v6 frags ") + conntrack::ipf_counter_name(c), s.v6[c]);
  return out;
}

uint8_t ipf_family_param(const json& params, const char* method) {
  const std::string f = string_param(params, 0, "v4|v6");
  if (f != "v4" && f != "v6") throw std::invalid_argument(std::string(method) + ": expected v4 or v6, got '" + f + "'");
  return f == "v4" ? 4 : 6;
}

uint32_t ipf_number_param(const json& params, size_t i, const char* method) {
  const std::string n = string_param(params, i, "N");
  char* end = nullptr;
  const unsigned long v = std::strtoul(n.c_str(), &end, 10);
  if (n.empty() || *end || v > UINT32_MAX)
    throw std::invalid_argument(std::string(method) + ": expected a number, got '" + n + "'");
  return static_cast<uint32_t>(v);
}

json ipf_set_enabled(RuntimeTargets& t, const json& params) {
  const char* method = "dpctl/ipf-set-enabled";
  no_more_params(params, 2, method);
  const uint8_t family = ipf_family_param(params, method);
  const std::string v = string_param(params, 1, "enable|disable");
  if (v != "enable" && v != "disable")
    throw std::invalid_argument(std::string(method) + ": expected enable or disable, got '" + v + "'");
  t.dp.conntrack().frag().set_enabled(family, v == "enable");
  return std::string("fragmentation reassembly ") + (v == "enable" ? "enabled" : "disabled");
}

json ipf_set_min_frag(RuntimeTargets& t, const json& params) {
  const char* method = "dpctl/ipf-set-min-frag";
  no_more_params(params, 2, method);
  const uint8_t family = ipf_family_param(params, method);
  const uint32_t v = ipf_number_param(params, 1, method);
  if (!t.dp.conntrack().frag().set_min_frag(family, v))
    throw std::invalid_argument(std::string(method) + ": the minimum fragment size must be " +
                                std::to_string(conntrack::kIpfMinFragLbound) + "..65535, got " + std::to_string(v));
  return "setting minimum fragment size successful";
}

json ipf_set_max_nfrags(RuntimeTargets& t, const json& params) {
  const char* method = "dpctl/ipf-set-max-nfrags";
  no_more_params(params, 1, method);
  const uint32_t v = ipf_number_param(params, 0, method);
  if (!t.dp.conntrack().frag().set_max_nfrag(v))
    throw std::invalid_argument(std::string(method) + ": at most " + std::to_string(conntrack::kIpfMaxNfragUbound) +
                                " fragments, got " + std::to_string(v));
  return "setting maximum fragments successful";
}

json ct_get_nconns(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpctl/ct-get-nconns");
  return t.dp.conntrack().n_conns();
}

json ct_get_maxconns(RuntimeTargets& t, const json& params) {
  no_more_params(params, 0, "dpctl/ct-get-maxconns");
  return t.dp.conntrack().max_conns();
}

json ct_set_maxconns(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "dpctl/ct-set-maxconns");
  const std::string n = string_param(params, 0, "maxconns");
  char* end = nullptr;
  const unsigned long long v = std::strtoull(n.c_str(), &end, 10);
  if (n.empty() || *end || v > UINT32_MAX)
    throw std::invalid_argument("dpctl/ct-set-maxconns: maxconns must be a number 0..4294967295, got '" + n + "'");
  t.dp.conntrack().set_max_conns(static_cast<uint32_t>(v));
  return "setting maxconns successful";
}

// Every bridge's sFlow agent / IPFIX exporter (of BRIDGE): on, or the error
// of its row, with settings and counters (sampling.h).
json sampler_show(RuntimeTargets& t, const json& params, const char* method, json (SamplingAgents::*show)() const) {
  no_more_params(params, 1, method);
  std::string only = params.size() > 0 ? string_param(params, 0, "bridge") : std::string();
  if (!only.empty()) find_bridge(t, only);
  json out = json::array();
  if (!t.sampling) return out;
  for (json& j : (t.sampling->*show)())
    if (only.empty() || j["bridge"] == only) out.push_back(std::move(j));
  return out;
}
json sflow_show(RuntimeTargets& t, const json& params) {
  return sampler_show(t, params, "sflow/show", &SamplingAgents::show_sflow);
}
json ipfix_show(RuntimeTargets& t, const json& params) {
  return sampler_show(t, params, "ipfix/show", &SamplingAgents::show_ipfix);
}
json netflow_show(RuntimeTargets& t, const json& params) {
  return sampler_show(t, params, "netflow/show", &SamplingAgents::show_netflow);
}

// ---- bonds (ovs-appctl bond/* and lacp/show) ----------------------------------

BridgeList bridge_list(RuntimeTargets& t) { return t.bridges ? dps::daemon::bridge_list(*t.bridges) : BridgeList{}; }

json bond_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "bond/show");
  return bond_show_json(bridge_list(t), params.empty() ? std::string() : string_param(params, 0, "port"));
}

json lacp_show(RuntimeTargets& t, const json& params) {
  no_more_params(params, 1, "lacp/show");
  return lacp_show_json(bridge_list(t), params.empty() ? std::string() : string_param(params, 0, "port"));
}

// The bridge holding bond `port` (an error naming the bonds there are).
ofproto::Ofproto& bond_bridge(RuntimeTargets& t, const std::string& port) {
  if (t.bridges)
    for (const auto& [name, ofp] : t.bridges->all())
      for (const auto& [no, rt] : ofp->bonds())
        if (rt.bond->name() == port) return *ofp;
  bond_show_json(bridge_list(t), port);  // throws: no bond named port (bonds: ...)
  throw std::invalid_argument("no bond named " + port);
}

json bond_member_op(RuntimeTargets& t, const json& params, const char* method, int op) {
  no_more_params(params, 2, method);
  const std::string port = string_param(params, 0, "port");
  const std::string member = string_param(params, 1, "member");
  ofproto::Ofproto& ofp = bond_bridge(t, port);
  const std::string err = op == 0 ? ofp.bond_set_active(port, member) : ofp.bond_set_enabled(port, member, op > 0);
  if (!err.empty()) throw std::invalid_argument(err);
  return op == 0 ? "done" : op > 0 ? "enabled" : "disabled";
}
json bond_set_active(RuntimeTargets& t, const json& p) { return bond_member_op(t, p, "bond/set-active-member", 0); }
json bond_enable(RuntimeTargets& t, const json& p) { return bond_member_op(t, p, "bond/enable-member", 1); }
json bond_disable(RuntimeTargets& t, const json& p) { return bond_member_op(t, p, "bond/disable-member", -1); }

constexpr RuntimeMethodDef kMethods[] = {
    {"dpif/pmd-stats-show", "[] -> [{pmd, lcore, counters...}]: per-PMD packet, cache and cycle counters", false, pmd_stats_show},
    {"dpif/pmd-stats-clear", "[] -> {cleared_pmds}: reset the PMD counters", true, pmd_stats_clear},
    {"dpif/pmd-stats-total", "[] -> {packets, duration_s, cycles_per_pkt, emc_hits, ..., datapath_flows, tsc_ghz}: the PMD counters summed over all PMDs since the last clear, with OVS's derived figures", false, pmd_stats_total},
    {"dpif/flow-count", "[] -> N: datapath flows (megaflows) summed over the PMDs", false, flow_count},
    {"memory/show", "[] -> {mbufs, mbufs_in_use, datapath_flows, ports}: what the datapath holds", false, memory_show},
    {"dpif/pmd-rxq-show", "[] -> [{port, queue, pmd, lcore, pinned, isolated, packets, cycles, pmd_usage_pct}]: rx queue assignment and each queue's share of its PMD over the load history", false, pmd_rxq_show},
    {"dpif/pmd-rxq-rebalance", "[] -> {moved, queues_moved, variance_gain_pct, mode, reason}: place every rx queue again by its measured load", true, pmd_rxq_rebalance},
    {"dpif/dump-flows", "[BRIDGE?] -> [{ufid, match, packets, bytes, used_s, pmds, actions}]: datapath flows (of the bridge's ports)", false, dump_flows},
    {"dpif/add-flow", "[FLOW, ACTIONS] -> {ufid, match}: install a datapath flow on every PMD (debugging)", true, add_flow},
    {"dpif/del-flow", "[FLOW] -> {deleted, match}: remove the datapath flow with exactly this match", true, del_flow},
    {"ofproto/trace", "[BRIDGE, FLOW] -> text: trace FLOW through the bridge's OpenFlow tables", false, trace},
    {"fdb/show", "[BRIDGE] -> text: the bridge's MAC learning table", false, fdb_show},
    {"ofproto/dump-flows", "[BRIDGE] -> text: the bridge's OpenFlow rules (ovs-ofctl syntax, with counters)", false, of_dump_flows},
    {"ofproto/add-flows", "[BRIDGE, FLOWS] -> {rules}: add rules in ovs-ofctl add-flows syntax (one per line)", true, of_add_flows},
    {"ofproto/del-flows", "[BRIDGE, MATCH?] -> {rules}: delete the rules MATCH covers (all without one)", true, of_del_flows},
    {"sflow/show", "[BRIDGE?] -> [{bridge, status, error?, agent, sampling, polling, header, sample_pool, sampled, lost, flow_samples, counter_samples, datagrams, targets}]: the sFlow agents (of BRIDGE)", false, sflow_show},
    {"ipfix/show", "[BRIDGE?] -> [{bridge, status, error?, sampling, obs_domain_id, obs_point_id, cache_active_timeout, cache_max_flows, samples, records, messages, targets}]: the bridge IPFIX exporters (of BRIDGE), then the Flow_Sample_Collector_Set exporters {bridge, collector_set_id, status, error?, samples, records, messages, targets}", false, ipfix_show},
    {"netflow/show", "[BRIDGE?] -> [{bridge, status, error?, engine_type, engine_id, active_timeout, flows, records, datagrams, targets}]: the NetFlow exporters (of BRIDGE)", false, netflow_show},
    {"mirror/show", "[BRIDGE?] -> [{bridge, mirror, status, error?, output_port?, output_vlan?, tx_packets, tx_bytes}]: the mirrors (of BRIDGE), applied or why not, with their counters", false, mirror_show},
    {"bond/show", "[PORT?] -> [{bridge, bond, bond_mode, lacp_status, updelay_ms, downdelay_ms, next_rebalance_ms, active_member, members: [{member, enabled, carrier, admin_enabled, lacp_ok, active, reason?, buckets, tx_packets, load_packets, hashes}]}]: the bonds (bond PORT)", false, bond_show},
    {"lacp/show", "[PORT?] -> [{bridge, bond, status, sys_id, sys_priority, aggregation_key, lacp_time, members: [{member, status, attached, may_enable, actor, partner, rx_pdus, tx_pdus, rx_bad_pdus, link_expired, link_defaulted}]}]: LACP of the bonds (bond PORT)", false, lacp_show},
    {"bond/set-active-member", "[PORT, MEMBER] -> text: make the enabled MEMBER the bond's active member", true, bond_set_active},
    {"bond/enable-member", "[PORT, MEMBER] -> text: let MEMBER carry traffic again (as its carrier and LACP allow)", true, bond_enable},
    {"bond/disable-member", "[PORT, MEMBER] -> text: take MEMBER out of the bond administratively", true, bond_disable},
    {"ofproto/list-bridges", "[] -> [{bridge, rules, ports}]: the bridges and their OpenFlow ports", false, list_bridges},
    {"netdev/port-stats", "[PORT?] -> [{port, port_no, link, rx_*, tx_*}]: port counters", false, port_stats},
    {"netdev/port-xstats", "[PORT] -> {name: value}: the driver's extended counters", false, port_xstats},
    {"tnl/route-add", "[IP/PLEN, BRIDGE, GW?] -> OK: add a tunnel route through BRIDGE (via GW)", true, tnl_route_add},
    {"tnl/route-del", "[IP/PLEN] -> OK: delete a tunnel route added by tnl/route-add", true, tnl_route_del},
    {"tnl/route-show", "[] -> [{type, prefix, bridge, gw, src}]: the tunnel routes in lookup order (User: tnl/route-add; Cached: internal ports' addresses)", false, tnl_route_show},
    {"tnl/neigh-show", "[] -> [{ip, mac, bridge, state, expires_s}]: the tunnel neighbour (ARP/ND) cache", false, tnl_neigh_show},
    {"tnl/neigh-flush", "[BRIDGE?] -> {flushed}: empty the tunnel neighbour cache (of BRIDGE)", true, tnl_neigh_flush},
    {"tnl/neigh-set", "[BRIDGE, IP, MAC] -> OK: a static tunnel neighbour entry", true, tnl_neigh_set},
    {"tnl/ports-show", "[] -> [{port, bridge, ofport, dp_port, type, dst_port, local, remote, in_key, out_key}]: the tunnel ports", false, tnl_ports_show},
    {"upcall/show", "[] -> {upcalls, misses, xlates, installs, xlate_errors, xlate_limit_drops, ..., ukeys, rules}: the miss path's and the revalidator's counters (failed translations: their megaflows drop)", false, upcall_show},
    {"tnl/stats-show", "[] -> {decap_flows, encap_flows, rx_no_port, ...}: native tunneling counters (drops by reason)", false, tnl_stats_show},
    {"dpctl/dump-conntrack", "[zone=N?] -> text: the tracked connections (of zone N), one per line in OVS's format", false, ct_dump},
    {"dpctl/flush-conntrack", "[zone=N?, ct-orig-tuple?, ct-reply-tuple?] -> {flushed}: remove the tracked connections (of zone N, matching the tuples)", true, ct_flush},
    {"dpctl/ct-stats-show", "[] -> text: connections by protocol and the tracker's counters", false, ct_stats_show},
    {"dpctl/ct-get-nconns", "[] -> N: tracked connections", false, ct_get_nconns},
    {"dpctl/ct-get-maxconns", "[] -> N: the connection limit", false, ct_get_maxconns},
    {"dpctl/ct-set-maxconns", "[N] -> text: set the connection limit (commits over it are counted as conntrack_full)", true, ct_set_maxconns},
    {"dpctl/ipf-get-status", "[] -> text: fragment reassembly at ct(): settings, fragments held, counters per family", false, ipf_get_status},
    {"dpctl/ipf-set-enabled", "[v4|v6, enable|disable] -> text: reassemble fragments at ct() (disabled: they are +trk+inv)", true, ipf_set_enabled},
    {"dpctl/ipf-set-min-frag", "[v4|v6, N] -> text: smallest fragment (IP packet bytes) but the last accepted", true, ipf_set_min_frag},
    {"dpctl/ipf-set-max-nfrags", "[N] -> text: fragments held at once (0..5000)", true, ipf_set_max_nfrags},
};

}  // namespace

std::span<const RuntimeMethodDef> runtime_methods() { return kMethods; }

}  // namespace dps::daemon
