#include "desired_config.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <tuple>

#include "config_store.h"

namespace dps::daemon {
namespace {

using nlohmann::json;

// ---- RFC 7047 wire format -> plain values ----------------------------------

// The elements of a set column: ["set",[...]] or a bare atom.
std::vector<json> set_elems(const json& v) {
  if (v.is_array() && v.size() == 2 && v[0] == "set") return v[1].get<std::vector<json>>();
  if (v.is_null()) return {};
  return {v};
}

std::string uuid_text(const json& v) {
  return v.is_array() && v.size() == 2 ? v[1].get<std::string>() : std::string();
}

std::string atom_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::map<std::string, std::string> map_of(const json& v) {
  std::map<std::string, std::string> out;
  if (v.is_array() && v.size() == 2 && v[0] == "map")
    for (auto& kv : v[1]) out[atom_text(kv[0])] = atom_text(kv[1]);
  return out;
}

std::optional<int64_t> opt_int(const json& v) {
  auto e = set_elems(v);
  if (e.empty() || !e[0].is_number_integer()) return std::nullopt;
  return e[0].get<int64_t>();
}

std::string opt_string(const json& v) {
  auto e = set_elems(v);
  return e.empty() ? std::string() : atom_text(e[0]);
}

json select_all(const char* table) {
  return {{"op", "select"}, {"table", table}, {"where", json::array()}};
}

json str_map(const std::map<std::string, std::string>& m) {
  json pairs = json::array();
  for (auto& [k, v] : m) pairs.push_back(json::array({k, v}));
  return json::array({"map", pairs});
}

std::string hex_mask(const std::vector<unsigned>& cores) {
  // Cores above 63 do not fit the 64-bit mask we print; say so in the value
  // rather than silently dropping them.
  uint64_t mask = 0;
  for (unsigned c : cores)
    if (c < 64) mask |= uint64_t{1} << c;
  std::ostringstream s;
  s << "0x" << std::hex << mask;
  return s.str();
}

}  // namespace

std::vector<std::string> eal_vdevs(const std::vector<std::string>& eal) {
  std::vector<std::string> out;
  for (size_t k = 0; k < eal.size(); k++) {
    if (eal[k] == "--vdev" && k + 1 < eal.size()) out.push_back(eal[k + 1]);
    else if (eal[k].rfind("--vdev=", 0) == 0) out.push_back(eal[k].substr(7));
  }
  return out;
}

namespace {

using RowsByUuid = std::map<std::string, const json*>;

RowsByUuid by_uuid(const json& rows) {
  RowsByUuid out;
  for (auto& row : rows) out[uuid_text(row["_uuid"])] = &row;
  return out;
}

// Port UUID -> the name of the interface the daemon uses for it (the first
// of its interfaces that exists, as port_interfaces() takes them; a bond's
// is the Port's own name).
std::map<std::string, std::string> port_iface_names(const RowsByUuid& ports, const RowsByUuid& ifaces) {
  std::map<std::string, std::string> out;
  for (const auto& [uuid, port] : ports) {
    if (set_elems(port->value("interfaces", json())).size() > 1) {
      out[uuid] = (*port)["name"].get<std::string>();
      continue;
    }
    for (auto& iu : set_elems(port->value("interfaces", json())))
      if (auto it = ifaces.find(uuid_text(iu)); it != ifaces.end()) {
        out[uuid] = (*it->second)["name"].get<std::string>();
        break;
      }
  }
  return out;
}

std::vector<std::string> port_names(const json& refs, const std::map<std::string, std::string>& names) {
  std::vector<std::string> out;
  for (auto& r : set_elems(refs))
    if (auto it = names.find(uuid_text(r)); it != names.end()) out.push_back(it->second);
  std::sort(out.begin(), out.end());
  return out;
}

ofproto::MirrorConfig mirror_want(const json& m, const std::map<std::string, std::string>& port_names_by_uuid) {
  ofproto::MirrorConfig c;
  c.uuid = uuid_text(m["_uuid"]);
  c.name = m.value("name", json("")).get<std::string>();
  c.select_all = m.value("select_all", json(false)).get<bool>();
  c.select_src_port = port_names(m.value("select_src_port", json()), port_names_by_uuid);
  c.select_dst_port = port_names(m.value("select_dst_port", json()), port_names_by_uuid);
  for (auto& v : set_elems(m.value("select_vlan", json())))
    if (v.is_number_integer()) c.select_vlan.push_back(static_cast<uint16_t>(v.get<int64_t>()));
  std::sort(c.select_vlan.begin(), c.select_vlan.end());
  std::vector<std::string> out = port_names(m.value("output_port", json()), port_names_by_uuid);
  if (!out.empty()) c.output_port = out[0];
  if (auto v = opt_int(m.value("output_vlan", json()))) c.output_vlan = static_cast<uint16_t>(*v);
  c.snaplen = opt_int(m.value("snaplen", json()));
  return c;
}

// Bridge.mirrors as plain values, sorted by name (then UUID).
std::vector<ofproto::MirrorConfig> bridge_mirrors(const json& b, const RowsByUuid& mirrors,
                                                  const std::map<std::string, std::string>& port_names_by_uuid) {
  std::vector<ofproto::MirrorConfig> out;
  for (auto& mu : set_elems(b.value("mirrors", json())))
    if (auto it = mirrors.find(uuid_text(mu)); it != mirrors.end())
      out.push_back(mirror_want(*it->second, port_names_by_uuid));
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.name, x.uuid) < std::tie(y.name, y.uuid);
  });
  return out;
}

std::vector<std::string> sorted_strings(const json& v) {
  std::vector<std::string> out;
  for (auto& e : set_elems(v)) out.push_back(atom_text(e));
  std::sort(out.begin(), out.end());
  return out;
}

// The row a Bridge column (a 0..1 reference) names, or null.
const json* referenced(const json& b, const char* column, const RowsByUuid& rows) {
  std::vector<json> refs = set_elems(b.value(column, json()));
  if (refs.empty()) return nullptr;
  auto it = rows.find(uuid_text(refs[0]));
  return it == rows.end() ? nullptr : it->second;
}

IpfixWant ipfix_want(const json& r) {
  IpfixWant w;
  w.targets = sorted_strings(r.value("targets", json()));
  w.sampling = opt_int(r.value("sampling", json()));
  w.obs_domain_id = opt_int(r.value("obs_domain_id", json()));
  w.obs_point_id = opt_int(r.value("obs_point_id", json()));
  w.cache_active_timeout = opt_int(r.value("cache_active_timeout", json()));
  w.cache_max_flows = opt_int(r.value("cache_max_flows", json()));
  w.other_config = map_of(r.value("other_config", json()));
  return w;
}

// The Flow_Sample_Collector_Set rows whose bridge is `b` and that name an
// IPFIX row.
std::map<uint32_t, IpfixWant> flow_sample_sets(const json& b, const json& sets, const RowsByUuid& ipfix) {
  std::map<uint32_t, IpfixWant> out;
  const std::string me = uuid_text(b["_uuid"]);
  for (auto& row : sets) {
    if (uuid_text(row.value("bridge", json())) != me) continue;
    if (const json* r = referenced(row, "ipfix", ipfix))
      out[static_cast<uint32_t>(row.value("id", json(0)).get<int64_t>())] = ipfix_want(*r);
  }
  return out;
}

// Bridge.sflow / ipfix / netflow as plain values.
void bridge_samplers(const json& b, const RowsByUuid& sflow, const RowsByUuid& ipfix,
                     const RowsByUuid& netflow, BridgeWant* bw) {
  if (const json* r = referenced(b, "sflow", sflow)) {
    SflowWant& w = bw->sflow.emplace();
    w.targets = sorted_strings(r->value("targets", json()));
    w.sampling = opt_int(r->value("sampling", json()));
    w.polling = opt_int(r->value("polling", json()));
    w.header = opt_int(r->value("header", json()));
    w.agent = opt_string(r->value("agent", json()));
  }
  if (const json* r = referenced(b, "ipfix", ipfix)) bw->ipfix = ipfix_want(*r);
  if (const json* r = referenced(b, "netflow", netflow)) {
    NetflowWant& w = bw->netflow.emplace();
    w.targets = sorted_strings(r->value("targets", json()));
    w.engine_type = opt_int(r->value("engine_type", json()));
    w.engine_id = opt_int(r->value("engine_id", json()));
    w.add_id_to_interface = r->value("add_id_to_interface", json(false)).get<bool>();
    w.active_timeout = r->value("active_timeout", json(0)).get<int64_t>();
  }
}

BridgeWant bridge_want(const json& b, const RowsByUuid& controllers) {
  BridgeWant bw;
  bw.name = b["name"].get<std::string>();
  bw.fail_mode = opt_string(b.value("fail_mode", json()));
  for (auto& p : set_elems(b.value("protocols", json()))) bw.protocols.push_back(atom_text(p));
  for (auto& c : set_elems(b.value("controller", json()))) {
    auto it = controllers.find(uuid_text(c));
    if (it != controllers.end()) bw.controllers.push_back((*it->second)["target"].get<std::string>());
  }
  std::sort(bw.controllers.begin(), bw.controllers.end());
  std::sort(bw.protocols.begin(), bw.protocols.end());
  bw.datapath_type = b.value("datapath_type", json("")).get<std::string>();
  bw.other_config = map_of(b.value("other_config", json()));
  return bw;
}

// One Interface row of a Port row of `bridge`.
InterfaceWant interface_want(const json& ir, const json& port, const std::string& bridge) {
  InterfaceWant w;
  w.name = ir["name"].get<std::string>();
  w.type = ir.value("type", json("")).get<std::string>();
  w.port = port["name"].get<std::string>();
  w.bridge = bridge;
  w.options = map_of(ir.value("options", json()));
  w.other_config = map_of(ir.value("other_config", json()));
  w.ofport_request = opt_int(ir.value("ofport_request", json()));
  w.mtu_request = opt_int(ir.value("mtu_request", json()));
  w.mac = opt_string(ir.value("mac", json()));
  w.tag = opt_int(port.value("tag", json()));
  for (auto& t : set_elems(port.value("trunks", json())))
    if (t.is_number_integer()) w.trunks.push_back(t.get<int64_t>());
  std::sort(w.trunks.begin(), w.trunks.end());
  w.vlan_mode = opt_string(port.value("vlan_mode", json()));
  return w;
}

// A Port row's bonding columns (as OVS: a port with several interfaces,
// or with LACP on, is a bond).
ofproto::BondColumns bond_columns(const json& port) {
  ofproto::BondColumns c;
  c.port = port["name"].get<std::string>();
  c.bond_mode = opt_string(port.value("bond_mode", json()));
  c.lacp = opt_string(port.value("lacp", json()));
  if (auto v = port.value("bond_updelay", json()); v.is_number_integer() && v.get<int64_t>() != 0)
    c.updelay = v.get<int64_t>();
  if (auto v = port.value("bond_downdelay", json()); v.is_number_integer() && v.get<int64_t>() != 0)
    c.downdelay = v.get<int64_t>();
  c.other_config = map_of(port.value("other_config", json()));
  return c;
}

// The interfaces of one Port row; each interface counts once (`claimed`).
// A bond's members carry the member list and the Port's bonding columns.
void port_interfaces(const json& port, const std::string& bridge, const RowsByUuid& ifaces,
                     std::set<std::string>* claimed, std::vector<InterfaceWant>* out) {
  std::vector<const json*> rows;
  for (auto& iu : set_elems(port.value("interfaces", json()))) {
    auto iit = ifaces.find(uuid_text(iu));
    if (iit == ifaces.end()) continue;
    if (!claimed->insert((*iit->second)["name"].get<std::string>()).second) continue;
    rows.push_back(iit->second);
  }
  const ofproto::BondColumns bond = bond_columns(port);
  const bool is_bond = rows.size() > 1 || bond.lacp == "active" || bond.lacp == "passive";
  std::vector<std::string> names;
  for (const json* r : rows) names.push_back((*r)["name"].get<std::string>());
  std::sort(names.begin(), names.end());
  for (const json* r : rows) {
    InterfaceWant w = interface_want(*r, port, bridge);
    if (is_bond) {
      w.bond_members = names;
      w.bond = bond;
    }
    out->push_back(std::move(w));
  }
}

}  // namespace

const std::vector<std::string>& supported_iface_types() {
  static const std::vector<std::string> types = {"dpdk", "dpdkvhostuser", "dpdkvhostuserclient", "geneve", "gre",
                                                 "internal", "patch", "ring", "vxlan"};
  return types;
}

DesiredConfig read_desired_config(confdb::ConfigStore& store) {
  json r = store.transact_or_throw(json::array({select_all("Open_vSwitch"), select_all("Bridge"),
                                                select_all("Port"), select_all("Interface"),
                                                select_all("Controller"), select_all("Mirror"),
                                                select_all("sFlow"), select_all("IPFIX"), select_all("NetFlow"),
                                                select_all("Flow_Sample_Collector_Set")}));
  DesiredConfig d;
  const json& root_rows = r[0]["rows"];
  if (!root_rows.empty()) {
    d.next_cfg = root_rows[0].value("next_cfg", json(0)).get<int64_t>();
    d.other_config = map_of(root_rows[0].value("other_config", json()));
  }
  RowsByUuid ports = by_uuid(r[2]["rows"]), ifaces = by_uuid(r[3]["rows"]), controllers = by_uuid(r[4]["rows"]);
  RowsByUuid mirrors = by_uuid(r[5]["rows"]);
  RowsByUuid sflow = by_uuid(r[6]["rows"]), ipfix = by_uuid(r[7]["rows"]), netflow = by_uuid(r[8]["rows"]);
  const std::map<std::string, std::string> iface_of_port = port_iface_names(ports, ifaces);
  std::set<std::string> claimed;  // interfaces reached from some bridge
  for (auto& b : r[1]["rows"]) {
    d.bridges.push_back(bridge_want(b, controllers));
    d.bridges.back().mirrors = bridge_mirrors(b, mirrors, iface_of_port);
    bridge_samplers(b, sflow, ipfix, netflow, &d.bridges.back());
    d.bridges.back().flow_sample_sets = flow_sample_sets(b, r[9]["rows"], ipfix);
    const BridgeWant& bw = d.bridges.back();
    const size_t first = d.interfaces.size();
    for (auto& pu : set_elems(b.value("ports", json()))) {
      auto pit = ports.find(uuid_text(pu));
      if (pit != ports.end()) port_interfaces(*pit->second, bw.name, ifaces, &claimed, &d.interfaces);
    }
    auto hwaddr = bw.other_config.find("hwaddr");
    for (size_t i = first; i < d.interfaces.size() && hwaddr != bw.other_config.end(); i++)
      if (d.interfaces[i].name == bw.name) d.interfaces[i].mac = hwaddr->second;
  }
  std::sort(d.bridges.begin(), d.bridges.end(),
            [](const BridgeWant& a, const BridgeWant& b) { return a.name < b.name; });
  std::sort(d.interfaces.begin(), d.interfaces.end(),
            [](const InterfaceWant& a, const InterfaceWant& b) { return a.name < b.name; });
  return d;
}

namespace {

// Interface.external_ids marking the ports recorded from EAL --vdev
// arguments: they belong to the run that gave them, not to the user's
// configuration, so a later start without that --vdev drops them.
constexpr const char* kOriginKey = "dpswitch-origin";
constexpr const char* kOriginCmdline = "cmdline";

bool given(const DaemonConfig& cfg, const char* option) {
  return std::find(cfg.cli_options.begin(), cfg.cli_options.end(), option) != cfg.cli_options.end();
}

json named(const std::string& uuid_name) { return json::array({"named-uuid", uuid_name}); }

json insert_op(const char* table, json row, const std::string& uuid_name) {
  return {{"op", "insert"}, {"table", table}, {"row", std::move(row)}, {"uuid-name", uuid_name}};
}

json comment_op(const char* text) { return {{"op", "comment"}, {"comment", text}}; }

json where_name(const std::string& name) { return json::array({json::array({"name", "==", name})}); }

bool is_vdev(const std::vector<std::string>& vdevs, const std::string& devargs) {
  return std::find(vdevs.begin(), vdevs.end(), devargs) != vdevs.end();
}

// Insert ops for one start-up port: Interface + Port; returns the Port's
// uuid-name.
std::string add_port_ops(json& ops, const netdev::PortConfig& pc, uint32_t number, size_t k,
                         bool from_cmdline) {
  std::map<std::string, std::string> options;
  if (!pc.devargs.empty()) options["dpdk-devargs"] = pc.devargs;
  if (pc.n_rxq != 1) options["n_rxq"] = std::to_string(pc.n_rxq);
  if (pc.n_txq != 0) options["n_txq"] = std::to_string(pc.n_txq);
  if (pc.rx_desc != 1024) options["n_rxq_desc"] = std::to_string(pc.rx_desc);
  if (pc.tx_desc != 1024) options["n_txq_desc"] = std::to_string(pc.tx_desc);
  json irow = {{"name", pc.name}, {"type", pc.type.empty() ? "dpdk" : pc.type}, {"options", str_map(options)}};
  if (number) irow["ofport_request"] = number;
  if (pc.mtu) irow["mtu_request"] = pc.mtu;
  if (from_cmdline) irow["external_ids"] = str_map({{kOriginKey, kOriginCmdline}});
  std::string iname = "iface" + std::to_string(k), pname = "port" + std::to_string(k);
  ops.push_back(insert_op("Interface", irow, iname));
  ops.push_back(insert_op("Port", {{"name", pc.name}, {"interfaces", named(iname)}}, pname));
  return pname;
}

// The number a start-up port got (port_numbers), else its configured one.
uint32_t number_of(const std::map<std::string, uint32_t>& port_numbers, const std::string& name,
                   uint32_t fallback) {
  auto it = port_numbers.find(name);
  return it != port_numbers.end() && it->second ? it->second : fallback;
}

// Open_vSwitch other_config on first start. Settings given on the command
// line are for this run only and are not recorded; the config file's (and
// the defaults) are.
std::map<std::string, std::string> startup_other_config(const DaemonConfig& cfg) {
  std::map<std::string, std::string> oc;
  if (!cfg.pmd_cores.empty() && !given(cfg, "--pmd-cores")) oc["pmd-cpu-mask"] = hex_mask(cfg.pmd_cores);
  if (!given(cfg, "--emc-insert-prob")) oc["emc-insert-inv-prob"] = std::to_string(cfg.emc_insert_inv_prob);
  if (!given(cfg, "--no-smc")) oc["smc-enable"] = cfg.smc ? "true" : "false";
  if (!given(cfg, "--flow-idle-ms")) oc["max-idle"] = std::to_string(cfg.flow_idle_ms);
  if (!given(cfg, "--flow-limit")) oc["flow-limit"] = std::to_string(cfg.flow_limit);
  return oc;
}

// Insert ops for the bridge's ports: its internal port, as ovs-vsctl add-br
// creates it, then the start-up ports. Returns the Port references.
json startup_port_ops(json& ops, const DaemonConfig& cfg, const std::string& bridge,
                      const std::map<std::string, uint32_t>& port_numbers) {
  json port_refs = json::array();
  ops.push_back(insert_op("Interface", {{"name", bridge}, {"type", "internal"}}, "ifacelocal"));
  ops.push_back(insert_op("Port", {{"name", bridge}, {"interfaces", named("ifacelocal")}}, "portlocal"));
  port_refs.push_back(named("portlocal"));
  std::vector<std::string> vdevs = eal_vdevs(cfg.eal);
  size_t k = 0;
  for (auto& [no, pc] : cfg.ports)
    port_refs.push_back(named(add_port_ops(ops, pc, number_of(port_numbers, pc.name, no), k++,
                                           is_vdev(vdevs, pc.devargs))));
  return port_refs;
}

// Insert ops for the --openflow controllers; returns their references.
json controller_ops(json& ops, const std::vector<std::string>& targets) {
  json refs = json::array();
  for (size_t c = 0; c < targets.size(); c++) {
    std::string cname = "ctl" + std::to_string(c);
    ops.push_back(insert_op("Controller", {{"target", targets[c]}}, cname));
    refs.push_back(named(cname));
  }
  return refs;
}

// First start: the JSON config file (and --vdev ports) become the store.
void import_first_start(confdb::ConfigStore& store, const DaemonConfig& cfg, const std::string& bridge,
                        const std::map<std::string, uint32_t>& port_numbers, const std::string& version) {
  json ops = json::array();
  json port_refs = startup_port_ops(ops, cfg, bridge, port_numbers);
  json brow = {{"name", bridge}, {"ports", json::array({"set", port_refs})}, {"datapath_type", "netdev"}};
  json ctl_refs = controller_ops(ops, cfg.openflow);
  if (!ctl_refs.empty()) brow["controller"] = json::array({"set", ctl_refs});
  ops.push_back(insert_op("Bridge", brow, "bridge"));
  ops.push_back({{"op", "insert"},
                 {"table", "Open_vSwitch"},
                 {"row",
                  {{"bridges", named("bridge")},
                   {"other_config", str_map(startup_other_config(cfg))},
                   {"ovs_version", version},
                   {"datapath_types", json::array({"set", json::array({"netdev"})})},
                   {"iface_types", json::array({"set", supported_iface_types()})}}}});
  ops.push_back(comment_op("dpswitchd: imported the start-up configuration"));
  store.transact_or_throw(ops);
}

// Ports recorded from an earlier run's --vdev arguments that this run does
// not give: removed (their Port rows from every bridge; GC does the rest).
void drop_stale_vdev_ports(confdb::ConfigStore& store, const std::vector<std::string>& vdevs,
                           ImportReport* rep) {
  json marked = json::array({json::array({"external_ids", "includes", str_map({{kOriginKey, kOriginCmdline}})})});
  json r = store.transact_or_throw(json::array(
      {{{"op", "select"}, {"table", "Interface"}, {"where", marked}}, select_all("Port")}));
  json stale = json::array();
  for (auto& iface : r[0]["rows"]) {
    if (is_vdev(vdevs, map_of(iface["options"])["dpdk-devargs"])) continue;
    for (auto& port : r[1]["rows"])
      for (auto& iu : set_elems(port["interfaces"]))
        if (iu == iface["_uuid"]) {
          stale.push_back(port["_uuid"]);
          rep->dropped.push_back(iface["name"].get<std::string>());
        }
  }
  if (stale.empty()) return;
  json del = json::array({json::array({"ports", "delete", json::array({"set", stale})})});
  store.transact_or_throw(json::array(
      {{{"op", "mutate"}, {"table", "Bridge"}, {"where", json::array()}, {"mutations", del}},
       comment_op("dpswitchd: dropped ports of an earlier run's --vdev arguments")}));
}

// Ops that put the new Port references into `bridge`, creating it when the
// store has no such bridge.
void attach_ports_ops(json& ops, const json& refs, const std::string& bridge, bool have_bridge) {
  json add = json::array({json::array({"ports", "insert", json::array({"set", refs})})});
  if (have_bridge) {
    ops.push_back({{"op", "mutate"}, {"table", "Bridge"}, {"where", where_name(bridge)}, {"mutations", add}});
    return;
  }
  ops.push_back(insert_op("Bridge", {{"name", bridge}, {"datapath_type", "netdev"}, {"ports", json::array({"set", refs})}},
                          "bridge"));
  json link = json::array({json::array({"bridges", "insert", json::array({"set", json::array({named("bridge")})})})});
  ops.push_back({{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", json::array()}, {"mutations", link}});
}

// Later starts: --vdev ports whose device the store lacks are recorded
// (marked as from the command line).
void record_vdev_ports(confdb::ConfigStore& store, const DaemonConfig& cfg, const std::string& bridge,
                       const std::map<std::string, uint32_t>& port_numbers,
                       const std::vector<std::string>& vdevs, ImportReport* rep) {
  DesiredConfig d = read_desired_config(store);
  std::set<std::string> devargs_known, names_known;
  for (auto& w : d.interfaces) {
    names_known.insert(w.name);
    auto it = w.options.find("dpdk-devargs");
    if (it != w.options.end()) devargs_known.insert(it->second);
  }
  // Interfaces not reachable from a bridge are garbage-collected, so
  // names_known covers every Interface row.
  json ops = json::array();
  json refs = json::array();
  size_t k = 0;
  for (auto& [no, pc] : cfg.ports) {
    if (!is_vdev(vdevs, pc.devargs) || devargs_known.count(pc.devargs)) continue;
    if (names_known.count(pc.name)) {
      // The name is taken by an interface over another device: the command
      // line wins; point that interface at this device.
      json row = {{"type", "dpdk"},
                  {"options", str_map({{"dpdk-devargs", pc.devargs}})},
                  {"external_ids", str_map({{kOriginKey, kOriginCmdline}})}};
      ops.push_back({{"op", "update"}, {"table", "Interface"}, {"where", where_name(pc.name)}, {"row", row}});
    } else {
      refs.push_back(named(add_port_ops(ops, pc, number_of(port_numbers, pc.name, no), k++, true)));
    }
    rep->pinned.push_back(pc.name);
  }
  if (rep->pinned.empty()) return;
  bool have_bridge = std::any_of(d.bridges.begin(), d.bridges.end(),
                                 [&](const BridgeWant& b) { return b.name == bridge; });
  if (!refs.empty()) attach_ports_ops(ops, refs, bridge, have_bridge);
  ops.push_back(comment_op("dpswitchd: recorded the EAL --vdev ports"));
  store.transact_or_throw(ops);
}

}  // namespace

ImportReport import_startup_config(confdb::ConfigStore& store, const DaemonConfig& cfg,
                                   const std::string& bridge,
                                   const std::map<std::string, uint32_t>& port_numbers,
                                   const std::string& version) {
  ImportReport rep;
  if (!store.root_row()) {
    import_first_start(store, cfg, bridge, port_numbers, version);
    rep.imported = true;
    return rep;
  }
  std::vector<std::string> vdevs = eal_vdevs(cfg.eal);
  drop_stale_vdev_ports(store, vdevs, &rep);
  if (!vdevs.empty()) record_vdev_ports(store, cfg, bridge, port_numbers, vdevs, &rep);
  return rep;
}

}  // namespace dps::daemon
