#include "reconciler.h"

#include "rxq_policy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <variant>

#include "../datapath/datapath.h"
#include "ofproto.h"
#include "vhost_ports.h"

namespace dps::daemon {
namespace {

std::string norm_type(const std::string& t) { return t.empty() ? "dpdk" : t; }

bool same_shape(const netdev::PortConfig& a, const netdev::PortConfig& b) {
  return norm_type(a.type) == norm_type(b.type) && a.devargs == b.devargs && a.n_rxq == b.n_rxq &&
         a.n_txq == b.n_txq && a.rx_desc == b.rx_desc && a.tx_desc == b.tx_desc && a.mtu == b.mtu;
}

// Parses options:KEY as an integer in [lo, hi]; false with *error set when
// present and bad.
bool option_int(const InterfaceWant& w, const char* key, int64_t lo, int64_t hi, int64_t* out,
                std::string* error) {
  auto it = w.options.find(key);
  if (it == w.options.end()) return true;
  const std::string& s = it->second;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) {
    *error = "options:" + std::string(key) + "=\"" + s + "\" is not an integer in " +
             std::to_string(lo) + ".." + std::to_string(hi);
    return false;
  }
  *out = v;
  return true;
}

bool is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// options:KEY as a descriptor count: a power of two in 1..32768.
bool option_desc(const InterfaceWant& w, const char* key, uint16_t* out, std::string* error) {
  int64_t v = *out;
  if (!option_int(w, key, 1, 32768, &v, error)) return false;
  if (!is_pow2(v)) {
    *error = "options:" + std::string(key) + "=" + std::to_string(v) + " is not a power of two";
    return false;
  }
  *out = static_cast<uint16_t>(v);
  return true;
}

// mtu_request, when given, in 68..65535; false with *error otherwise.
bool check_mtu_request(const InterfaceWant& w, std::string* error) {
  if (w.mtu_request && (*w.mtu_request < 68 || *w.mtu_request > 65535)) {
    *error = "mtu_request=" + std::to_string(*w.mtu_request) + " is outside 68..65535";
    return false;
  }
  return true;
}

// An internal port's MAC ("" = the kernel's choice): xx:xx:xx:xx:xx:xx,
// unicast.
std::optional<std::array<uint8_t, 6>> parse_mac(const std::string& s) {
  std::array<uint8_t, 6> m{};
  unsigned v[6];
  char end;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
    return std::nullopt;
  for (int i = 0; i < 6; i++) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

bool check_internal_mac(const InterfaceWant& w, std::string* error) {
  if (w.mac.empty()) return true;
  std::optional<std::array<uint8_t, 6>> m = parse_mac(w.mac);
  if (m && !((*m)[0] & 1) && *m != std::array<uint8_t, 6>{}) return true;
  *error = "interface " + w.name + ": mac \"" + w.mac + "\" is not a unicast Ethernet address (xx:xx:xx:xx:xx:xx)" +
           (w.name == w.bridge ? " (Bridge other_config:hwaddr)" : "");
  return false;
}

// A vxlan/geneve/gre interface: its parsed options, or the error.
void tunnel_want(const InterfaceWant& w, PortWant* x) {
  auto parsed = ofproto::parse_tunnel_options(w.name, ofproto::tunnel_type_from_name(w.type), w.options);
  if (auto* e = std::get_if<std::string>(&parsed)) {
    x->error = *e;
    return;
  }
  x->tunnel = std::make_shared<const ofproto::TunnelConfig>(std::get<ofproto::TunnelConfig>(parsed));
  x->kind = PortWant::Kind::kTunnel;
  x->pc = netdev::PortConfig{};
  x->pc->name = w.name;
  x->pc->type = "tunnel";
}

std::string format_mac(const std::array<uint8_t, 6>& a) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
  return buf;
}

InterfaceReport error_report(const std::string& name, const std::string& error) {
  InterfaceReport r;
  r.name = name;
  r.ofport = -1;
  r.error = error;
  return r;
}

// A port with no device behind it (patch): always up.
InterfaceReport up_report(const std::string& name, int64_t ofport) {
  InterfaceReport r;
  r.name = name;
  r.ofport = ofport;
  r.link_state = "up";
  r.admin_state = "up";
  return r;
}

// A vhost-user port's Interface.status, with OVS's keys (mode, socket,
// status, numa, num_of_vrings, tx_retries) and the guest's enabled queues.
void add_vhost_status(const netdev::VhostInfo& v, const netdev::PortConfig& pc,
                      std::map<std::string, std::string>* st) {
  const bool client = pc.devargs.find(",client=1") != std::string::npos;
  const size_t at = pc.devargs.find(",iface=");
  (*st)["mode"] = client ? "client" : "server";
  if (at != std::string::npos) (*st)["socket"] = pc.devargs.substr(at + 7, pc.devargs.find(',', at + 7) - (at + 7));
  (*st)["status"] = v.connected ? "connected" : "disconnected";
  (*st)["tx_retries"] = std::to_string(pc.tx_retries);
  if (!v.connected) return;
  (*st)["numa"] = std::to_string(v.numa_node);
  (*st)["num_of_vrings"] = std::to_string(v.vrings);
  (*st)["n_rxq_enabled"] = std::to_string(v.rxq_enabled);
  (*st)["n_txq_enabled"] = std::to_string(v.txq_enabled);
}

// Interface.ofport of an OpenFlow port number (LOCAL is 65534, as in OVS).
int64_t ofport_value(uint32_t of_port) { return of_port == ofproto::kPortLocal ? kOfppLocal : of_port; }

// What every report of an open port says: name, number, link and admin state.
InterfaceReport port_report(const std::string& name, uint32_t of_port, const netdev::Netdev& nd) {
  InterfaceReport r;
  r.name = name;
  r.ofport = ofport_value(of_port);
  r.link_state = nd.link_up() ? "up" : "down";
  r.admin_state = nd.admin_up() ? "up" : "down";
  return r;
}

// The names of the entries of m (a map by name) for which pred holds.
template <typename Map, typename Pred>
std::vector<std::string> names_where(const Map& m, Pred pred) {
  std::vector<std::string> out;
  for (const auto& [name, v] : m)
    if (pred(name, v)) out.push_back(name);
  return out;
}

// Why each valid patch interface cannot be joined (absent: it can).
std::map<std::string, std::string> patch_errors(
    const std::map<std::string, const InterfaceWant*>& patch_wants) {
  std::map<std::string, std::string> errors;
  for (auto& [name, w] : patch_wants) {
    auto pit = w->options.find("peer");
    if (pit == w->options.end() || pit->second.empty()) {
      errors[name] = "patch port " + name + ": options:peer is required";
    } else if (pit->second == name) {
      errors[name] = "patch port " + name + ": options:peer names the port itself";
    } else if (!patch_wants.count(pit->second)) {
      errors[name] = "patch port " + name + ": peer " + pit->second + " does not exist";
    }
  }
  return errors;
}

}  // namespace

Reconciler::Reconciler(DpPorts& dp, ofproto::BridgeSet* bridges,
                       const std::vector<std::pair<uint32_t, netdev::PortConfig>>& startup_ports,
                       std::string bridge_name)
    : dp_(dp), bridges_(bridges), bridge_(std::move(bridge_name)) {
  ofproto::Ofproto* start = ofproto(bridge_);
  for (uint32_t no : dp_.port_numbers()) {
    Open o;
    o.port_no = no;
    o.of_port = no;
    o.bridge = bridge_;
    if (start)
      if (auto it = start->bridge().of_by_dp.find(no); it != start->bridge().of_by_dp.end())
        o.of_port = it->second;
    o.pc.name = dp_.port(no)->name();
    o.pc.type = dp_.port(no)->type();
    for (auto& [req, pc] : startup_ports)
      if (pc.name == o.pc.name) o.pc = pc;
    open_[o.pc.name] = o;
  }
}

std::optional<netdev::PortConfig> Reconciler::port_config(const InterfaceWant& w, const VhostGlobals& vhost,
                                                          std::string* error) {
  netdev::PortConfig pc;
  pc.name = w.name;
  pc.type = norm_type(w.type);
  int64_t v = pc.n_rxq;
  // 1024 queues: DPDK's RTE_MAX_QUEUES_PER_PORT; the PMD table is the real bound.
  if (!option_int(w, "n_rxq", 1, 1024, &v, error)) return std::nullopt;
  pc.n_rxq = static_cast<uint16_t>(v);
  v = pc.n_txq;
  if (!option_int(w, "n_txq", 0, 1024, &v, error)) return std::nullopt;
  pc.n_txq = static_cast<uint16_t>(v);
  if (!option_desc(w, "n_rxq_desc", &pc.rx_desc, error)) return std::nullopt;
  if (!option_desc(w, "n_txq_desc", &pc.tx_desc, error)) return std::nullopt;
  if (!check_mtu_request(w, error)) return std::nullopt;
  if (w.mtu_request) pc.mtu = static_cast<uint32_t>(*w.mtu_request);
  if (pc.type == "dpdk") {
    auto it = w.options.find("dpdk-devargs");
    if (it == w.options.end() || it->second.empty()) {
      *error = "interface " + w.name + ": options:dpdk-devargs is required for type dpdk";
      return std::nullopt;
    }
    pc.devargs = it->second;
  } else if (is_vhost_type(pc.type)) {
    std::optional<std::string> devargs = vhost_devargs(w, vhost, pc.n_rxq, error);
    if (!devargs) return std::nullopt;
    v = 8;  // OVS's default; 32 at most, as OVS
    if (!option_int(w, "tx-retries-max", 0, 32, &v, error)) return std::nullopt;
    pc.tx_retries = static_cast<uint8_t>(v);
    pc.type = "dpdk";  // a DPDK ethdev over the net_vhost vdev
    pc.devargs = *devargs;
  }
  return pc;
}

void Reconciler::bond_want(const InterfaceWant& w, PortWant* x) {
  const std::string& t = w.type;
  if (t == "internal" || t == "patch" || ofproto::tunnel_type_from_name(t) != datapath::TunnelType::kNone) {
    x->error = "port " + w.port + ": interface " + w.name + " of type " + t +
               " cannot be a bond member (devices only: dpdk, dpdkvhostuser, dpdkvhostuserclient, ring)";
    return;
  }
  std::string warning;
  auto parsed = ofproto::parse_bond_config(w.bond, &warning);
  if (auto* e = std::get_if<std::string>(&parsed)) {
    x->error = *e;
    return;
  }
  x->bond = std::make_shared<const ofproto::BondConfig>(std::get<ofproto::BondConfig>(parsed));
  x->bond_warning = warning;
}

PortWant Reconciler::classify_one(const InterfaceWant& w,
                                  const std::map<std::string, const BridgeWant*>& bridges,
                                  bool have_bridges, const VhostGlobals& vhost) {
  PortWant x;
  x.w = &w;
  const auto& types = supported_iface_types();
  if (w.bridge.empty() || !bridges.count(w.bridge)) {
    x.error = "interface " + w.name + ": bridge " + (w.bridge.empty() ? "(none)" : w.bridge) +
              " does not exist";
  } else if (!w.config_error.empty()) {
    x.error = w.config_error;
  } else if (w.is_bond_member() && (bond_want(w, &x), !x.error.empty())) {
    // x.error says why
  } else if (!w.type.empty() && std::find(types.begin(), types.end(), w.type) == types.end()) {
    std::string list;
    for (auto& t : types) list += (list.empty() ? "" : ", ") + t;
    x.error = "interface " + w.name + ": type '" + w.type + "' is not supported (supported: " + list + ")";
  } else if (w.type == "internal") {
    if (check_mtu_request(w, &x.error) && check_internal_mac(w, &x.error)) {
      x.kind = PortWant::Kind::kInternal;
      x.pc = netdev::PortConfig{};
      x.pc->name = w.name;
      x.pc->type = "internal";
    }
  } else if (ofproto::tunnel_type_from_name(w.type) != datapath::TunnelType::kNone) {
    tunnel_want(w, &x);
  } else if (w.type == "patch") {
    if (have_bridges) x.kind = PortWant::Kind::kPatch;
    else x.error = "patch port " + w.name + ": this daemon runs no OpenFlow bridge";
  } else if ((x.pc = port_config(w, vhost, &x.error))) {
    x.kind = PortWant::Kind::kDevice;
  }
  return x;
}

ofproto::Ofproto* Reconciler::ofproto(const std::string& bridge) const {
  return bridges_ ? bridges_->find(bridge) : nullptr;
}

void Reconciler::close_port(const std::string& name) {
  auto it = open_.find(name);
  if (it == open_.end()) return;
  uint32_t no = it->second.port_no;
  // The bridge first: its megaflows stop outputting to the port before the
  // PMDs drop it from their tables (a bond member's buckets move first).
  auto bond = bonds_.find(it->second.bond);
  if (!it->second.bond.empty()) {
    ofproto::Ofproto* ofp = ofproto(it->second.bridge);
    if (ofp && bond != bonds_.end()) ofp->bond_drop_member(bond->second.of_port, no);
  } else if (ofproto::Ofproto* ofp = ofproto(it->second.bridge)) {
    auto bp = ofp->bridge().ports.find(it->second.of_port);
    if (bp != ofp->bridge().ports.end() && !bp->second.is_patch() && bp->second.dp_port == no)
      ofp->remove_port(it->second.of_port);
  }
  dp_.del_port(no);
  spdlog::info("reconfigure: closed port {} of bridge {} (was datapath port {})", name,
               it->second.bridge, no);
  open_.erase(it);
}

void Reconciler::remove_patch(const std::string& name) {
  auto it = patches_.find(name);
  if (it == patches_.end()) return;
  if (ofproto::Ofproto* ofp = ofproto(it->second.bridge)) {
    auto bp = ofp->bridge().ports.find(it->second.of_port);
    if (bp != ofp->bridge().ports.end() && bp->second.is_patch()) ofp->remove_port(it->second.of_port);
  }
  spdlog::info("reconfigure: removed patch port {} of bridge {}", name, it->second.bridge);
  patches_.erase(it);
}

uint32_t Reconciler::choose_of_port(ofproto::Ofproto* ofp, const InterfaceWant& w,
                                    uint32_t dp_port) const {
  // The bridge's own internal port is OpenFlow port LOCAL, as in OVS.
  if (w.type == "internal" && w.name == w.bridge) return ofproto::kPortLocal;
  if (!ofp) return dp_port;
  const auto& ports = ofp->bridge().ports;
  if (w.ofport_request) {
    int64_t r = *w.ofport_request;
    if (r >= 1 && r <= ofproto::kPortMax && !ports.count(static_cast<uint32_t>(r)))
      return static_cast<uint32_t>(r);
    spdlog::warn("reconfigure: interface {}: ofport_request {} is {} in bridge {}; choosing another "
                 "number", w.name, r, r >= 1 && r <= ofproto::kPortMax ? "in use" : "out of range",
                 w.bridge);
  }
  if (dp_port >= 1 && dp_port <= ofproto::kPortMax && !ports.count(dp_port)) return dp_port;
  return ofp->free_of_port();
}

bool Reconciler::update_vlan(ofproto::Ofproto* ofp, uint32_t of_port, const Vlan& want, Vlan* cur,
                             bool force) {
  if (!force && *cur == want) return false;
  *cur = want;
  if (!ofp) return true;
  auto& ports = ofp->bridge().ports;
  auto it = ports.find(of_port);
  if (it == ports.end()) return true;
  ofproto::BridgePort& bp = it->second;
  // OVS: vlan_mode empty means access when tag is set, else trunk.
  bool access = want.mode == "access" || (want.mode.empty() && want.tag);
  bp.vlan_mode = access ? ofproto::VlanMode::kAccess : ofproto::VlanMode::kTrunk;
  bp.tag = want.tag ? static_cast<uint16_t>(*want.tag) : 0;
  bp.trunks.clear();
  for (int64_t t : want.trunks) bp.trunks.insert(static_cast<uint16_t>(t));
  return true;
}

// Open_vSwitch other_config:flow-restore-wait (as OVS): "true" holds
// forwarding while a controller restores the flows after a restart.
void Reconciler::apply_flow_restore_wait(const std::map<std::string, std::string>& oc) {
  auto it = oc.find("flow-restore-wait");
  bool on = it != oc.end() && it->second == "true";
  if (!bridges_ || on == flow_restore_wait_) return;
  flow_restore_wait_ = on;
  bridges_->backer().set_flow_restore_wait(on);
  spdlog::info("reconfigure: flow-restore-wait = {}{}", on,
               on ? " (misses dropped, nothing installed until it is cleared)" : "");
}

void Reconciler::apply_other_config(const std::map<std::string, std::string>& oc) {
  if (other_config_applied_ && oc == applied_other_config_) return;
  bool first = !other_config_applied_;
  other_config_applied_ = true;
  auto changed = [&](const char* key) {
    if (first && startup_overrides_.count(key)) {
      auto it = oc.find(key);
      if (it != oc.end())
        spdlog::info("reconfigure: other_config:{}={} in the store; the command line wins for this run",
                     key, it->second);
      return false;
    }
    auto a = oc.find(key);
    auto b = applied_other_config_.find(key);
    bool ina = a != oc.end(), inb = b != applied_other_config_.end();
    return ina != inb || (ina && a->second != b->second);
  };
  auto num = [&](const char* key, uint64_t* out) {
    auto it = oc.find(key);
    if (it == oc.end()) return false;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), *out);
    if (ec != std::errc() || p != it->second.data() + it->second.size()) {
      spdlog::warn("reconfigure: Open_vSwitch other_config:{}=\"{}\" is not a non-negative integer "
                   "(ignored)", key, it->second);
      return false;
    }
    return true;
  };
  uint64_t v;
  if (changed("max-idle") && num("max-idle", &v) && bridges_) {
    bridges_->backer().set_flow_idle_ms(static_cast<int64_t>(v));
    spdlog::info("reconfigure: max-idle = {} ms", v);
  }
  if (changed("flow-limit") && num("flow-limit", &v) && bridges_) {
    bridges_->backer().set_flow_limit(v);
    spdlog::info("reconfigure: flow-limit = {}", v);
  }
  if (changed("pmd-cpu-mask")) apply_pmd_cpu_mask(oc);
  for (const char* key : {"emc-insert-inv-prob",
                          "smc-enable", "dpdk-extra", "dpdk-lcore-mask", "dpdk-socket-mem"})
    if (changed(key) && !first)
      spdlog::warn("reconfigure: other_config:{} changed; it is a start-up setting in this version "
                   "(command line / config file) and is not applied at run time", key);
  applied_other_config_ = oc;
}

std::optional<std::vector<unsigned>> parse_cpu_mask(const std::string& text, std::string* error) {
  std::string_view v = text;
  if (v.starts_with("0x") || v.starts_with("0X")) v.remove_prefix(2);
  if (v.empty()) {
    *error = "is empty";
    return std::nullopt;
  }
  std::vector<unsigned> cores;
  for (size_t i = 0; i < v.size(); i++) {  // from the right: nibble k holds cores 4k..4k+3
    char c = v[v.size() - 1 - i];
    unsigned nib;
    if (c >= '0' && c <= '9') nib = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') nib = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') nib = static_cast<unsigned>(c - 'A' + 10);
    else {
      *error = std::string("is not a hexadecimal mask (character '") + c + "')";
      return std::nullopt;
    }
    for (unsigned b = 0; b < 4; b++)
      if (nib >> b & 1) cores.push_back(static_cast<unsigned>(4 * i + b));
  }
  std::sort(cores.begin(), cores.end());
  if (cores.empty()) *error = "selects no core";
  if (cores.empty()) return std::nullopt;
  return cores;
}

// Rx queue placement: Open_vSwitch other_config and each open interface's
// pmd-rxq-affinity. A changed policy places every queue again.
void Reconciler::apply_rxq_policy(const DesiredConfig& want) {
  std::vector<IfaceRxqConfig> ifaces;
  for (const InterfaceWant& w : want.interfaces) {
    auto o = open_.find(w.name);
    auto a = w.other_config.find("pmd-rxq-affinity");
    if (o != open_.end() && a != w.other_config.end())
      ifaces.push_back({w.name, o->second.port_no, a->second});
  }
  std::vector<std::string> errors;
  datapath::RxqPolicy p = rxq_policy(want.other_config, ifaces, &errors);
  if (errors != rxq_policy_errors_)
    for (const std::string& e : errors) spdlog::warn("reconfigure: {}", e);
  rxq_policy_errors_ = errors;
  if (rxq_policy_ && *rxq_policy_ == p) return;
  dp_.set_rxq_policy(p);
  spdlog::info("reconfigure: pmd-rxq-assign={}{}, auto load balance {}; rx queues placed again",
               datapath::rxq_assign_name(p.placement.mode),
               p.affinity.empty() ? "" : " with pmd-rxq-affinity", p.auto_lb ? "on" : "off");
  rxq_policy_ = p;
}

void Reconciler::apply_pmd_cpu_mask(const std::map<std::string, std::string>& oc) {
  auto it = oc.find("pmd-cpu-mask");
  // Removing the key means the default: every EAL lcore but the main one.
  std::vector<unsigned> lcores;
  std::string text = it == oc.end() ? "(default)" : it->second;
  if (it == oc.end()) {
    lcores = dp_.default_pmd_lcores();
  } else {
    std::string error;
    auto cores = parse_cpu_mask(it->second, &error);
    if (!cores) {
      spdlog::error("reconfigure: other_config:pmd-cpu-mask=\"{}\" {}; PMDs unchanged", it->second, error);
      return;
    }
    lcores = *cores;
  }
  if (std::string why = dp_.check_pmd_lcores(lcores); !why.empty()) {
    spdlog::error("reconfigure: other_config:pmd-cpu-mask={}: {}; PMDs unchanged", text, why);
    return;
  }
  if (lcores == dp_.pmd_lcores()) return;
  // The new PMDs start with empty flow tables: remove the miss path's
  // megaflows (their counters roll up into the rules) so misses install
  // afresh; flows put on every PMD are carried over by the datapath.
  if (bridges_) bridges_->backer().revalidator().flush();
  dp_.set_pmd_lcores(lcores);
  std::string list;
  for (unsigned l : lcores) list += (list.empty() ? "" : ",") + std::to_string(l);
  spdlog::info("reconfigure: pmd-cpu-mask={}: PMDs on lcores {}, rx queues reassigned", text, list);
}

// ---- plan: the difference between the desired and the running state -------

std::map<std::string, PortWant> Reconciler::classify(
    const DesiredConfig& want, const std::map<std::string, const BridgeWant*>& bridges) const {
  std::map<std::string, PortWant> out;
  std::map<std::string, std::string> devargs_owner;
  const VhostGlobals vhost = vhost_globals(want.other_config);
  for (const InterfaceWant& w : want.interfaces) {
    PortWant x = classify_one(w, bridges, bridges_ != nullptr, vhost);
    if (x.kind == PortWant::Kind::kDevice && !x.pc->devargs.empty()) {
      auto [it, fresh] = devargs_owner.emplace(x.pc->devargs, w.name);
      if (!fresh) {
        x.error = "dpdk-devargs " + x.pc->devargs + " is already used by interface " + it->second;
        x.pc.reset();
        x.kind = PortWant::Kind::kError;
      }
    }
    out[w.name] = std::move(x);
  }
  return out;
}

bool Reconciler::must_close(const Open& o, const PortWant* x) const {
  if (!x || x->kind != o.kind || x->w->bridge != o.bridge) return true;
  if (o.bond != (x->w->is_bond_member() ? x->w->port : std::string())) return true;
  if (!o.bond.empty()) return !same_shape(*x->pc, o.pc);  // the bond has the number
  if (o.of_port == ofproto::kPortLocal) return !same_shape(*x->pc, o.pc);  // LOCAL keeps its number
  const std::optional<int64_t>& req = x->w->ofport_request;
  // Re-number only when the requested number is free in the bridge;
  // otherwise the port keeps its number (no flapping on every
  // reconfiguration).
  ofproto::Ofproto* ofp = ofproto(o.bridge);
  bool renumber = req && *req != o.of_port && *req >= 1 && *req <= ofproto::kPortMax &&
                  (ofp ? !ofp->bridge().ports.count(static_cast<uint32_t>(*req))
                       : !dp_.port(static_cast<uint32_t>(*req)));
  return !same_shape(*x->pc, o.pc) || renumber;
}

ReconcilePlan Reconciler::plan(const DesiredConfig& want) const {
  ReconcilePlan p;
  for (const BridgeWant& b : want.bridges) p.bridges[b.name] = &b;
  if (bridges_) {
    for (const std::string& name : bridges_->names())
      if (!p.bridges.count(name)) p.bridges_to_remove.push_back(name);
    for (const auto& [name, b] : p.bridges)
      if (!bridges_->find(name)) p.bridges_to_add.push_back(name);
  }
  p.ports = classify(want, p.bridges);
  auto want_of = [&p](const std::string& name) -> const PortWant* {
    auto it = p.ports.find(name);
    return it == p.ports.end() ? nullptr : &it->second;
  };
  p.ports_to_close = names_where(open_, [&](const std::string& name, const Open& o) {
    return must_close(o, want_of(name));
  });
  p.patches_to_remove = names_where(patches_, [&](const std::string& name, const Patch& pt) {
    const PortWant* x = want_of(name);
    return !x || x->kind != PortWant::Kind::kPatch || x->w->bridge != pt.bridge;
  });
  std::set<std::string> closing(p.ports_to_close.begin(), p.ports_to_close.end());
  p.ports_to_open = names_where(p.ports, [&](const std::string& name, const PortWant& x) {
    return x.opens_port() && (!open_.count(name) || closing.count(name));
  });
  return p;
}

// ---- apply: the stages, in order -------------------------------------------

WriteBack Reconciler::apply(const DesiredConfig& want) {
  reconfigurations_++;
  const ReconcilePlan plan = this->plan(want);
  WriteBack wb;
  wb.cur_cfg = want.next_cfg;
  apply_flow_restore_wait(want.other_config);  // before any port opens
  disconnect_bridges(plan.bridges_to_remove);
  for (const std::string& name : plan.ports_to_close) close_port(name);
  for (const std::string& name : plan.patches_to_remove) remove_patch(name);
  remove_bridges(plan.bridges_to_remove);
  add_bridges(plan);
  std::set<std::string> vlan_bridges;  // bridges whose port set or VLANs changed
  open_ports(plan, &wb, &vlan_bridges);
  apply_patches(want, &wb, &vlan_bridges);
  apply_mirrors(plan);
  revalidate(vlan_bridges);
  apply_other_config(want.other_config);
  apply_rxq_policy(want);
  apply_bridge_settings(plan);
  return wb;
}

// Removed bridges lose their OpenFlow connections before anything else goes.
void Reconciler::disconnect_bridges(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto it = applied_bridges_.find(name);
    BridgeWant bw;
    bw.name = name;
    if (openflow_hook_) openflow_hook_(it != applied_bridges_.end() ? it->second : bw, nullptr);
    if (sampling_hook_) sampling_hook_(it != applied_bridges_.end() ? it->second : bw, nullptr);
    applied_bridges_.erase(name);
  }
}

// Removed bridges go after their ports: their megaflows, rules and patch
// ports with them.
void Reconciler::remove_bridges(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    for (auto it = patches_.begin(); it != patches_.end();)
      it = it->second.bridge == name ? patches_.erase(it) : std::next(it);
    std::erase_if(bonds_, [&](const auto& kv) { return kv.second.bridge == name; });
    bridges_->remove(name);
    spdlog::info("reconfigure: bridge {} removed", name);
  }
}

void Reconciler::add_bridges(const ReconcilePlan& plan) {
  for (const std::string& name : plan.bridges_to_add) {
    ofproto::Ofproto& ofp = bridges_->add(name);
    // As OVS: a new bridge forwards as a learning switch until a
    // controller (or ovs-ofctl) says otherwise.
    if (plan.bridges.at(name)->controllers.empty()) ofp.install_default_normal();
    spdlog::info("reconfigure: bridge {} added", name);
  }
}

// Opens what is missing (the datapath number of ofport_request when it is
// free, the OpenFlow number of ofport_request when it is free in the
// bridge), replaces changed tunnel configs, pushes VLAN settings, sets the
// internal ports' MTUs, and reports every non-patch interface.
void Reconciler::open_ports(const ReconcilePlan& plan, WriteBack* wb,
                            std::set<std::string>* vlan_bridges) {
  std::map<std::string, InterfaceReport> failed;
  for (const auto& [name, x] : plan.ports) {
    if (!x.opens_port()) continue;
    auto oit = open_.find(name);
    if (oit == open_.end()) {
      InterfaceReport rep;
      if (!open_port(name, x, &rep)) {
        failed.emplace(name, std::move(rep));
        continue;
      }
      oit = open_.find(name);
      vlan_bridges->insert(x.w->bridge);
    } else if (x.kind == PortWant::Kind::kTunnel && *oit->second.tunnel != *x.tunnel) {
      retunnel(name, oit->second, x);
    }
    Open& o = oit->second;
    if (update_vlan(ofproto(o.bridge), o.of_port, Vlan::of(*x.w), &o.vlan, false))
      vlan_bridges->insert(o.bridge);
  }
  apply_internal_mtus(plan);
  apply_bonds(plan, vlan_bridges);
  for (const auto& [name, x] : plan.ports) {
    if (x.kind == PortWant::Kind::kPatch) continue;  // apply_patches()
    if (x.kind == PortWant::Kind::kError) {
      wb->interfaces.push_back(error_report(name, x.error));
    } else if (auto f = failed.find(name); f != failed.end()) {
      wb->interfaces.push_back(std::move(f->second));
    } else {
      wb->interfaces.push_back(report(name, open_.at(name)));
    }
  }
}

// ---- bonds ------------------------------------------------------------------

void Reconciler::apply_bonds(const ReconcilePlan& plan, std::set<std::string>* vlan_bridges) {
  struct Want {
    std::string bridge;
    const PortWant* x = nullptr;
    std::vector<std::pair<std::string, uint32_t>> members;
    uint32_t lowest = 0;
  };
  std::map<std::string, Want> want;
  for (const auto& [name, o] : open_) {
    auto x = plan.ports.find(name);
    if (o.bond.empty() || x == plan.ports.end() || !x->second.bond) continue;
    Want& b = want[o.bond];
    b.bridge = o.bridge;
    if (!b.x) b.x = &x->second;
    b.members.emplace_back(name, o.port_no);
    if (!b.lowest || o.port_no < b.lowest) b.lowest = o.port_no;
  }
  std::vector<std::string> gone;
  for (const auto& [port, bo] : bonds_)
    if (auto w = want.find(port); w == want.end() || w->second.bridge != bo.bridge) gone.push_back(port);
  for (const std::string& port : gone) remove_bond(port);
  for (auto& [port, b] : want) {
    ofproto::Ofproto* ofp = ofproto(b.bridge);
    if (!ofp) continue;
    auto cur = bonds_.find(port);
    const bool fresh = cur == bonds_.end();
    const uint32_t of_port = fresh ? choose_of_port(ofp, *b.x->w, b.lowest) : cur->second.of_port;
    if (std::string e = ofp->set_bond(of_port, port, *b.x->bond, b.members); !e.empty()) {
      spdlog::error("reconfigure: {}", e);
      continue;
    }
    BondOpen& bo = bonds_[port];
    if (fresh || bo.cfg != *b.x->bond) {
      std::string names;
      for (auto& [n, no] : b.members) names += (names.empty() ? "" : ",") + n;
      spdlog::info("reconfigure: bond {} is OpenFlow port {} of bridge {}: {}, lacp {}, members {}", port, of_port,
                   b.bridge, ofproto::bond_mode_name(b.x->bond->mode), ofproto::lacp_mode_name(b.x->bond->lacp),
                   names);
      if (!b.x->bond_warning.empty()) spdlog::warn("reconfigure: {}", b.x->bond_warning);
    }
    bo.bridge = b.bridge;
    bo.of_port = of_port;
    bo.cfg = *b.x->bond;
    if (update_vlan(ofp, of_port, Vlan::of(*b.x->w), &bo.vlan, fresh)) vlan_bridges->insert(b.bridge);
    for (auto& [n, no] : b.members) open_.at(n).of_port = of_port;
  }
}

void Reconciler::remove_bond(const std::string& port) {
  auto it = bonds_.find(port);
  if (it == bonds_.end()) return;
  if (ofproto::Ofproto* ofp = ofproto(it->second.bridge)) ofp->remove_port(it->second.of_port);
  spdlog::info("reconfigure: bond {} of bridge {} removed", port, it->second.bridge);
  bonds_.erase(it);
}

void Reconciler::retunnel(const std::string& name, Open& o, const PortWant& x) {
  o.tunnel = x.tunnel;
  if (ofproto::Ofproto* ofp = ofproto(o.bridge)) ofp->add_tunnel_port(o.of_port, o.port_no, name, o.tunnel);
  spdlog::info("reconfigure: tunnel port {} of bridge {}: options changed", name, o.bridge);
}

uint32_t Reconciler::internal_mtu(const InterfaceWant& w) const {
  if (w.mtu_request) return static_cast<uint32_t>(*w.mtu_request);
  std::optional<uint32_t> lowest;
  for (const auto& [name, o] : open_) {
    if (o.kind != PortWant::Kind::kDevice || o.bridge != w.bridge) continue;
    const netdev::Netdev* nd = dp_.port(o.port_no);
    std::optional<uint32_t> mtu = nd ? nd->info().mtu : std::nullopt;
    if (mtu && (!lowest || *mtu < *lowest)) lowest = mtu;
  }
  return lowest.value_or(1500);
}

// Internal ports follow mtu_request, else their bridge's MTU, and their
// mac, in place (the device and the addresses on it stay).
void Reconciler::apply_internal_mtus(const ReconcilePlan& plan) {
  for (auto& [name, o] : open_) {
    auto x = plan.ports.find(name);
    if (o.kind != PortWant::Kind::kInternal || x == plan.ports.end()) continue;
    apply_internal_mac(name, *x->second.w, &o);
    uint32_t want = internal_mtu(*x->second.w);
    if (want == o.mtu) continue;
    o.mtu_error = dp_.set_port_mtu(o.port_no, want);
    if (o.mtu_error.empty()) {
      spdlog::info("reconfigure: internal port {}: MTU {}", name, want);
      o.mtu = want;
    } else {
      spdlog::error("reconfigure: internal port {}: {}", name, o.mtu_error);
    }
  }
}

void Reconciler::apply_internal_mac(const std::string& name, const InterfaceWant& w, Open* o) {
  if (w.mac == o->mac) return;
  o->mac = w.mac;
  o->mac_error.clear();
  if (w.mac.empty()) return;  // the device keeps the address it has
  o->mac_error = netdev::set_kernel_if_mac(name, *parse_mac(w.mac));
  if (o->mac_error.empty())
    spdlog::info("reconfigure: internal port {}: MAC {}", name, w.mac);
  else
    spdlog::error("reconfigure: internal port {}: {}", name, o->mac_error);
}

bool Reconciler::open_port(const std::string& name, const PortWant& x, InterfaceReport* failed) {
  const InterfaceWant& w = *x.w;
  ofproto::Ofproto* ofp = ofproto(w.bridge);
  uint32_t req = 0;
  if (w.ofport_request) {
    int64_t r = *w.ofport_request;
    if (r >= 1 && r < datapath::kMaxPorts && !dp_.port(static_cast<uint32_t>(r)))
      req = static_cast<uint32_t>(r);
    else if (!ofp)
      spdlog::warn("reconfigure: interface {}: ofport_request {} is {}; choosing another number",
                   name, r, r >= 1 && r < datapath::kMaxPorts ? "in use" : "out of range");
  }
  Open o;
  o.pc = *x.pc;
  o.bridge = w.bridge;
  o.kind = x.kind;
  o.tunnel = x.tunnel;
  netdev::PortConfig opening = o.pc;
  if (o.kind == PortWant::Kind::kInternal) opening.mtu = o.mtu = internal_mtu(w);
  if (w.type == "dpdkvhostuser") remove_stale_vhost_socket(opening.devargs);
  try {
    o.port_no = dp_.add_port(opening, req);
  } catch (const std::exception& e) {
    *failed = error_report(name, e.what());
    spdlog::error("reconfigure: {}", e.what());
    return false;
  }
  if (w.is_bond_member()) {
    o.bond = w.port;  // apply_bonds() makes it a member of its bond
    spdlog::info("reconfigure: opened {} port {}{} as a member of bond {} of bridge {} (datapath port {})",
                 o.pc.type, name, o.pc.devargs.empty() ? "" : " (" + o.pc.devargs + ")", w.port, w.bridge,
                 o.port_no);
    open_.emplace(name, std::move(o));
    return true;
  }
  o.of_port = choose_of_port(ofp, w, o.port_no);
  if (ofp && o.kind == PortWant::Kind::kTunnel) ofp->add_tunnel_port(o.of_port, o.port_no, name, o.tunnel);
  else if (ofp) ofp->add_port(o.of_port, o.port_no, name);
  spdlog::info("reconfigure: opened {} port {}{} as OpenFlow port {} of bridge {} (datapath port {})",
               o.pc.type, name, o.pc.devargs.empty() ? "" : " (" + o.pc.devargs + ")",
               o.of_port == ofproto::kPortLocal ? "LOCAL" : std::to_string(o.of_port), w.bridge, o.port_no);
  open_.emplace(name, std::move(o));
  return true;
}

// VLAN settings change what NORMAL does: the megaflows are re-translated
// (once: the backer's ukeys are shared by every bridge).
void Reconciler::revalidate(const std::set<std::string>& vlan_bridges) {
  if (!vlan_bridges.empty() && bridges_ && bridges_->size())
    bridges_->backer().revalidator().revalidate_all(bridges_->backer().now_ms());
}

// Mirrors after the ports they name. Errors are logged when they change
// (a port arriving later may fix one); dpsctl mirror/show lists them.
void Reconciler::apply_mirrors(const ReconcilePlan& plan) {
  for (const auto& [name, bw] : plan.bridges) {
    ofproto::Ofproto* ofp = ofproto(name);
    if (!ofp) continue;
    if (ofp->set_mirrors(bw->mirrors))
      for (const ofproto::MirrorConfig& c : bw->mirrors)
        if (c.snaplen)
          spdlog::warn("reconfigure: bridge {}: mirror {}: snaplen {} is recorded, not applied "
                       "(the datapath does not truncate)", name, c.name, *c.snaplen);
    const std::vector<std::string>& errors = ofp->bridge().mirrors.errors();
    std::vector<std::string>& logged = mirror_errors_[name];
    if (errors == logged) continue;
    for (size_t i = 0; i < errors.size(); i++) {
      if (!errors[i].empty()) spdlog::error("reconfigure: bridge {}: {}; mirror not applied", name, errors[i]);
      else spdlog::info("reconfigure: bridge {}: mirror {} applied", name, bw->mirrors[i].name);
    }
    logged = errors;
  }
}

void Reconciler::apply_bridge_settings(const ReconcilePlan& plan) {
  for (const auto& [name, bw] : plan.bridges) {
    auto it = applied_bridges_.find(name);
    if (it != applied_bridges_.end() && it->second == *bw) continue;
    applied_bridges_[name] = *bw;
    if (sampling_hook_) sampling_hook_(*bw, ofproto(name));
    if (openflow_hook_) {
      openflow_hook_(*bw, ofproto(name));
    } else if (!bw->controllers.empty() || !bw->fail_mode.empty()) {
      std::string ctl;
      for (auto& c : bw->controllers) ctl += (ctl.empty() ? "" : ",") + c;
      spdlog::info("reconfigure: bridge {}: controller [{}], fail_mode '{}' stored; no OpenFlow "
                   "channel is attached to apply them", name, ctl, bw->fail_mode);
    }
  }
}

// ---- patch ports -------------------------------------------------------------

// Peers and errors first, then OpenFlow numbers for every joinable side,
// then the ports themselves (each side needs the other's number).
void Reconciler::apply_patches(const DesiredConfig& want, WriteBack* wb,
                               std::set<std::string>* vlan_bridges) {
  std::map<std::string, const InterfaceWant*> patch_wants;  // valid patch interfaces
  for (auto& w : want.interfaces)
    if (w.type == "patch" && w.config_error.empty() && ofproto(w.bridge)) patch_wants[w.name] = &w;
  std::map<std::string, std::string> errors = patch_errors(patch_wants);
  // A side without a peer leaves its bridge (its number stays reserved only
  // while joined).
  for (auto& [name, w] : patch_wants)
    if (errors.count(name) && patches_.count(name)) {
      remove_patch(name);
      vlan_bridges->insert(w->bridge);
    }
  for (auto& [name, w] : patch_wants)
    if (!errors.count(name) && !patches_.count(name)) reserve_patch(name, *w);
  for (auto& [name, w] : patch_wants) {
    auto e = errors.find(name);
    wb->interfaces.push_back(e != errors.end() ? error_report(name, e->second)
                                               : join_patch(name, *w, vlan_bridges));
  }
}

void Reconciler::reserve_patch(const std::string& name, const InterfaceWant& w) {
  ofproto::Ofproto* ofp = ofproto(w.bridge);
  Patch pt;
  pt.bridge = w.bridge;
  pt.of_port = choose_of_port(ofp, w, 0);
  // Reserve the number now (the peer is attached below): a placeholder
  // patch port to this very bridge would loop, so it points nowhere yet.
  pt.peer = w.options.at("peer");
  patches_[name] = pt;
  ofproto::BridgePort hold;
  hold.of_port = pt.of_port;
  hold.name = name;
  hold.peer_bridge = &ofp->bridge();
  hold.peer_port = 0;  // OpenFlow ports start at 1: replaced by the join below
  hold.no_fwd = true;
  ofp->bridge().add_port(hold);
}

InterfaceReport Reconciler::join_patch(const std::string& name, const InterfaceWant& w,
                                       std::set<std::string>* vlan_bridges) {
  Patch& pt = patches_.at(name);
  pt.peer = w.options.at("peer");
  const Patch& peer = patches_.at(pt.peer);
  ofproto::Ofproto* ofp = ofproto(pt.bridge);
  ofproto::Bridge* peer_bridge = &ofproto(peer.bridge)->bridge();
  const ofproto::BridgePort* cur = ofp->bridge().port(pt.of_port);
  bool joined = false;
  if (!cur || cur->peer_bridge != peer_bridge || cur->peer_port != peer.of_port) {
    ofp->add_patch_port(pt.of_port, name, *peer_bridge, peer.of_port);
    pt.peer_bridge = peer_bridge;
    pt.peer_port = peer.of_port;
    spdlog::info("reconfigure: patch port {} is OpenFlow port {} of bridge {}, peer {} (bridge {} port {})",
                 name, pt.of_port, pt.bridge, pt.peer, peer.bridge, peer.of_port);
    joined = true;
  }
  if (update_vlan(ofp, pt.of_port, Vlan::of(w), &pt.vlan, joined)) vlan_bridges->insert(pt.bridge);
  InterfaceReport rep = up_report(name, pt.of_port);
  rep.status["peer"] = pt.peer;
  return rep;
}

// ---- reports -------------------------------------------------------------------

InterfaceReport Reconciler::report(const std::string& name, const Open& o) const {
  const netdev::Netdev* nd = dp_.port(o.port_no);
  if (!nd) {
    InterfaceReport r;
    r.name = name;
    r.ofport = ofport_value(o.of_port);
    return r;
  }
  InterfaceReport r = port_report(name, o.of_port, *nd);
  if (o.kind != PortWant::Kind::kTunnel) {
    r.status["n_rxq"] = std::to_string(nd->n_rxq());
    r.status["n_txq"] = std::to_string(nd->n_txq());
  }
  if (!o.mtu_error.empty()) r.error = o.mtu_error;
  if (!o.mac_error.empty()) r.error = o.mac_error;
  netdev::NetdevInfo info = nd->info();
  if (info.hw_addr) r.mac_in_use = format_mac(*info.hw_addr);
  if (info.mtu) r.mtu = *info.mtu;
  if (info.ifindex) r.ifindex = info.ifindex;
  if (!info.driver_name.empty()) r.status["driver_name"] = info.driver_name;
  if (info.device_id) r.status["port_id"] = std::to_string(*info.device_id);
  if (info.vhost) add_vhost_status(*info.vhost, o.pc, &r.status);
  return r;
}

std::vector<InterfaceReport> Reconciler::collect_stats() const {
  std::vector<InterfaceReport> out;
  for (auto& [name, o] : open_) {
    const netdev::Netdev* nd = dp_.port(o.port_no);
    if (!nd) continue;
    InterfaceReport r = port_report(name, o.of_port, *nd);
    netdev::PortStats s = nd->stats();
    auto i64 = [](uint64_t v) { return static_cast<int64_t>(v); };
    r.statistics = {{"rx_packets", i64(s.rx_packets)}, {"tx_packets", i64(s.tx_packets)},
                    {"rx_bytes", i64(s.rx_bytes)},     {"tx_bytes", i64(s.tx_bytes)},
                    {"rx_dropped", i64(s.rx_dropped)}, {"tx_dropped", i64(s.tx_dropped)},
                    {"rx_errors", i64(s.rx_errors)},   {"tx_errors", i64(s.tx_errors)}};
    if (o.pc.tx_retries) r.statistics["ovs_tx_retries"] = i64(s.tx_retries);  // OVS's name
    if (o.pc.devargs.starts_with("net_vhost_")) r.status = report(name, o).status;  // the guest comes and goes
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<MirrorReport> Reconciler::collect_mirror_stats() const {
  std::vector<MirrorReport> out;
  if (!bridges_) return out;
  for (const auto& [name, ofp] : bridges_->all())
    for (const ofproto::MirrorStatus& s : ofp->bridge().mirrors.status())
      if (!s.uuid.empty())
        out.push_back({s.uuid, {{"tx_packets", static_cast<int64_t>(s.tx_packets)},
                                {"tx_bytes", static_cast<int64_t>(s.tx_bytes)}}});
  return out;
}

std::vector<InternalPortInfo> Reconciler::internal_ports(bool with_kernel) const {
  std::vector<InternalPortInfo> out;
  for (auto& [name, o] : open_) {
    if (o.kind != PortWant::Kind::kInternal) continue;
    InternalPortInfo& i = out.emplace_back(InternalPortInfo{name, o.bridge, o.of_port, o.port_no, {}, {}});
    if (!with_kernel) continue;
    i.kernel = netdev::kernel_if_state(name);
    if (i.kernel) i.addrs = netdev::kernel_if_addrs(name);
  }
  return out;
}

std::map<std::string, uint32_t> Reconciler::open_ports() const {
  std::map<std::string, uint32_t> out;
  for (auto& [name, o] : open_) out[name] = o.port_no;
  return out;
}

}  // namespace dps::daemon
