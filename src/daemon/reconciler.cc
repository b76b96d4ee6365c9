#include "reconciler.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ether.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "../netdev/dpdk_netdev.h"
#include "../ofproto/ofproto.h"

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

}  // namespace

Reconciler::Reconciler(datapath::Datapath& dp, ofproto::Ofproto* ofp,
                       const std::vector<std::pair<uint32_t, netdev::PortConfig>>& startup_ports,
                       std::string bridge_name)
    : dp_(dp), ofp_(ofp), bridge_(std::move(bridge_name)) {
  for (uint32_t no : dp_.port_numbers()) {
    Open o;
    o.port_no = no;
    o.pc.name = dp_.port(no)->name();
    o.pc.type = dp_.port(no)->type();
    for (auto& [req, pc] : startup_ports)
      if (pc.name == o.pc.name) o.pc = pc;
    open_[o.pc.name] = o;
  }
}

std::optional<netdev::PortConfig> Reconciler::port_config(const InterfaceWant& w, std::string* error) {
  netdev::PortConfig pc;
  pc.name = w.name;
  pc.type = norm_type(w.type);
  if (pc.type == "dpdk") {
    auto it = w.options.find("dpdk-devargs");
    if (it == w.options.end() || it->second.empty()) {
      *error = "interface " + w.name + ": options:dpdk-devargs is required for type dpdk";
      return std::nullopt;
    }
    pc.devargs = it->second;
  }
  int64_t v = pc.n_rxq;
  // 1024 queues: DPDK's RTE_MAX_QUEUES_PER_PORT; the PMD table is the real bound.
  if (!option_int(w, "n_rxq", 1, 1024, &v, error)) return std::nullopt;
  pc.n_rxq = static_cast<uint16_t>(v);
  v = pc.n_txq;
  if (!option_int(w, "n_txq", 0, 1024, &v, error)) return std::nullopt;
  pc.n_txq = static_cast<uint16_t>(v);
  v = pc.rx_desc;
  if (!option_int(w, "n_rxq_desc", 1, 32768, &v, error)) return std::nullopt;
  if (!is_pow2(v)) {
    *error = "options:n_rxq_desc=" + std::to_string(v) + " is not a power of two";
    return std::nullopt;
  }
  pc.rx_desc = static_cast<uint16_t>(v);
  v = pc.tx_desc;
  if (!option_int(w, "n_txq_desc", 1, 32768, &v, error)) return std::nullopt;
  if (!is_pow2(v)) {
    *error = "options:n_txq_desc=" + std::to_string(v) + " is not a power of two";
    return std::nullopt;
  }
  pc.tx_desc = static_cast<uint16_t>(v);
  if (w.mtu_request) {
    if (*w.mtu_request < 68 || *w.mtu_request > 65535) {
      *error = "mtu_request=" + std::to_string(*w.mtu_request) + " is outside 68..65535";
      return std::nullopt;
    }
    pc.mtu = static_cast<uint32_t>(*w.mtu_request);
  }
  return pc;
}

void Reconciler::close_port(const std::string& name) {
  auto it = open_.find(name);
  if (it == open_.end()) return;
  uint32_t no = it->second.port_no;
  // The bridge first: its megaflows stop outputting to the port before the
  // PMDs drop it from their tables.
  if (ofp_) ofp_->remove_port(no);
  dp_.del_port(no);
  spdlog::info("reconfigure: closed port {} (was {})", name, no);
  open_.erase(it);
}

void Reconciler::push_vlan(const Open& o) {
  if (!ofp_) return;
  auto& ports = ofp_->bridge().ports;
  auto it = ports.find(o.port_no);
  if (it == ports.end()) return;
  ofproto::BridgePort& bp = it->second;
  // OVS: vlan_mode empty means access when tag is set, else trunk.
  bool access = o.vlan_mode == "access" || (o.vlan_mode.empty() && o.vlan_tag);
  bp.vlan_mode = access ? ofproto::VlanMode::kAccess : ofproto::VlanMode::kTrunk;
  bp.tag = o.vlan_tag ? static_cast<uint16_t>(*o.vlan_tag) : 0;
  bp.trunks.clear();
  for (int64_t t : o.trunks) bp.trunks.insert(static_cast<uint16_t>(t));
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
  if (changed("max-idle") && num("max-idle", &v) && ofp_) {
    ofp_->set_flow_idle_ms(static_cast<int64_t>(v));
    spdlog::info("reconfigure: max-idle = {} ms", v);
  }
  if (changed("flow-limit") && num("flow-limit", &v) && ofp_) {
    ofp_->set_flow_limit(v);
    spdlog::info("reconfigure: flow-limit = {}", v);
  }
  if (changed("pmd-cpu-mask")) apply_pmd_cpu_mask(oc);
  for (const char* key : {"pmd-rxq-assign", "pmd-rxq-isolate", "emc-insert-inv-prob",
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

void Reconciler::apply_pmd_cpu_mask(const std::map<std::string, std::string>& oc) {
  auto it = oc.find("pmd-cpu-mask");
  // Removing the key means the default: every EAL lcore but the main one.
  std::vector<unsigned> lcores;
  std::string text = it == oc.end() ? "(default)" : it->second;
  if (it == oc.end()) {
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
  } else {
    std::string error;
    auto cores = parse_cpu_mask(it->second, &error);
    if (!cores) {
      spdlog::error("reconfigure: other_config:pmd-cpu-mask=\"{}\" {}; PMDs unchanged", it->second, error);
      return;
    }
    lcores = *cores;
  }
  if (std::string why = datapath::Datapath::check_pmd_lcores(lcores); !why.empty()) {
    spdlog::error("reconfigure: other_config:pmd-cpu-mask={}: {}; PMDs unchanged", text, why);
    return;
  }
  if (lcores == dp_.pmd_lcores()) return;
  // The new PMDs start with empty flow tables: remove the miss path's
  // megaflows (their counters roll up into the rules) so misses install
  // afresh; flows put on every PMD are carried over by the datapath.
  if (ofp_) ofp_->revalidator().flush();
  dp_.set_pmd_lcores(lcores);
  std::string list;
  for (unsigned l : lcores) list += (list.empty() ? "" : ",") + std::to_string(l);
  spdlog::info("reconfigure: pmd-cpu-mask={}: PMDs on lcores {}, rx queues reassigned", text, list);
}

WriteBack Reconciler::apply(const DesiredConfig& want) {
  reconfigurations_++;
  WriteBack wb;
  wb.cur_cfg = want.next_cfg;

  // The served bridge.
  const BridgeWant* served = nullptr;
  for (auto& b : want.bridges)
    if (b.name == bridge_) served = &b;
  if (!served && !want.bridges.empty()) {
    served = &want.bridges.front();
    spdlog::info("reconfigure: serving bridge {} (was {})", served->name, bridge_);
    bridge_ = served->name;
    if (ofp_) ofp_->bridge().name = bridge_;
  }

  // Desired ports of the served bridge, with their shapes or errors.
  struct Want {
    const InterfaceWant* w;
    std::optional<netdev::PortConfig> pc;
    std::string error;
    bool internal = false;
  };
  std::map<std::string, Want> wants;
  std::map<std::string, std::string> devargs_owner;
  for (auto& w : want.interfaces) {
    Want x{&w, std::nullopt, {}, false};
    if (!served || w.bridge != served->name) {
      x.error = "bridge " + w.bridge + " is not served: dpswitchd runs one bridge (" +
                (served ? served->name : std::string("none")) + ")";
    } else if (!w.config_error.empty()) {
      x.error = w.config_error;
    } else if (w.type == "internal") {
      x.internal = true;
    } else {
      x.pc = port_config(w, &x.error);
      if (x.pc && !x.pc->devargs.empty()) {
        auto [it, fresh] = devargs_owner.emplace(x.pc->devargs, w.name);
        if (!fresh) {
          x.error = "dpdk-devargs " + x.pc->devargs + " is already used by interface " + it->second;
          x.pc.reset();
        }
      }
    }
    wants[w.name] = std::move(x);
  }

  // 1. Close what is gone, failed validation, or changed shape / number.
  std::vector<std::string> to_close;
  for (auto& [name, o] : open_) {
    auto it = wants.find(name);
    if (it == wants.end() || !it->second.pc) {
      to_close.push_back(name);
      continue;
    }
    const InterfaceWant& w = *it->second.w;
    // Re-number only when the requested number is available; otherwise the
    // port keeps its number (no flapping on every reconfiguration).
    bool renumber = w.ofport_request && *w.ofport_request != o.port_no &&
                    *w.ofport_request >= 1 && *w.ofport_request < datapath::kMaxPorts &&
                    !dp_.port(static_cast<uint32_t>(*w.ofport_request));
    if (!same_shape(*it->second.pc, o.pc) || renumber) to_close.push_back(name);
  }
  for (auto& name : to_close) close_port(name);

  // 2. Open what is missing, honouring ofport_request when the number is free.
  bool vlan_changed = false;
  for (auto& [name, x] : wants) {
    InterfaceReport rep;
    rep.name = name;
    if (x.internal) {
      rep.ofport = kOfppLocal;
      rep.link_state = "up";
      rep.admin_state = "up";
      rep.status["driver_name"] = "internal (no datapath device)";
      wb.interfaces.push_back(std::move(rep));
      continue;
    }
    if (!x.pc) {
      rep.ofport = -1;
      rep.error = x.error;
      wb.interfaces.push_back(std::move(rep));
      continue;
    }
    const InterfaceWant& w = *x.w;
    auto oit = open_.find(name);
    if (oit == open_.end()) {
      uint32_t req = 0;
      if (w.ofport_request) {
        int64_t r = *w.ofport_request;
        if (r >= 1 && r < datapath::kMaxPorts && !dp_.port(static_cast<uint32_t>(r)))
          req = static_cast<uint32_t>(r);
        else
          spdlog::warn("reconfigure: interface {}: ofport_request {} is {}; choosing another number",
                       name, r, r >= 1 && r < datapath::kMaxPorts ? "in use" : "out of range");
      }
      Open o;
      o.pc = *x.pc;
      try {
        o.port_no = dp_.add_port(o.pc, req);
      } catch (const std::exception& e) {
        rep.ofport = -1;
        rep.error = e.what();
        spdlog::error("reconfigure: {}", e.what());
        wb.interfaces.push_back(std::move(rep));
        continue;
      }
      if (ofp_) ofp_->add_port(o.port_no, o.port_no, name);
      spdlog::info("reconfigure: opened port {} ({}) as {}", name, o.pc.devargs, o.port_no);
      oit = open_.emplace(name, std::move(o)).first;
      vlan_changed = true;
    }
    Open& o = oit->second;
    if (o.vlan_tag != w.tag || o.trunks != w.trunks || o.vlan_mode != w.vlan_mode) {
      o.vlan_tag = w.tag;
      o.trunks = w.trunks;
      o.vlan_mode = w.vlan_mode;
      push_vlan(o);
      vlan_changed = true;
    }
    wb.interfaces.push_back(report(name, o));
  }
  if (vlan_changed && ofp_) ofp_->revalidator().revalidate_all(ofp_->now_ms());

  // 3. Bridge-level settings.
  apply_other_config(want.other_config);
  if (served && (!bridge_applied_ || !(*served == applied_bridge_))) {
    applied_bridge_ = *served;
    bridge_applied_ = true;
    if (openflow_hook_) {
      openflow_hook_(applied_bridge_);
    } else if (!served->controllers.empty() || !served->fail_mode.empty()) {
      std::string ctl;
      for (auto& c : served->controllers) ctl += (ctl.empty() ? "" : ",") + c;
      spdlog::info("reconfigure: bridge {}: controller [{}], fail_mode '{}' stored; no OpenFlow "
                   "channel is attached to apply them", served->name, ctl, served->fail_mode);
    }
  }
  return wb;
}

InterfaceReport Reconciler::report(const std::string& name, const Open& o) const {
  InterfaceReport r;
  r.name = name;
  r.ofport = o.port_no;
  const netdev::Netdev* nd = dp_.port(o.port_no);
  if (!nd) return r;
  r.link_state = nd->link_up() ? "up" : "down";
  r.admin_state = nd->admin_up() ? "up" : "down";
  r.status["n_rxq"] = std::to_string(nd->n_rxq());
  r.status["n_txq"] = std::to_string(nd->n_txq());
  if (auto* d = dynamic_cast<const netdev::DpdkNetdev*>(nd)) {
    rte_ether_addr mac;
    if (rte_eth_macaddr_get(d->port_id(), &mac) == 0) {
      char buf[RTE_ETHER_ADDR_FMT_SIZE];
      rte_ether_format_addr(buf, sizeof buf, &mac);
      std::string s(buf);
      std::transform(s.begin(), s.end(), s.begin(), ::tolower);
      r.mac_in_use = s;
    }
    uint16_t mtu = 0;
    if (rte_eth_dev_get_mtu(d->port_id(), &mtu) == 0) r.mtu = mtu;
    rte_eth_dev_info info;
    if (rte_eth_dev_info_get(d->port_id(), &info) == 0 && info.driver_name)
      r.status["driver_name"] = info.driver_name;
    r.status["port_id"] = std::to_string(d->port_id());
  }
  return r;
}

std::vector<InterfaceReport> Reconciler::collect_stats() const {
  std::vector<InterfaceReport> out;
  for (auto& [name, o] : open_) {
    const netdev::Netdev* nd = dp_.port(o.port_no);
    if (!nd) continue;
    InterfaceReport r;
    r.name = name;
    r.ofport = o.port_no;
    r.link_state = nd->link_up() ? "up" : "down";
    r.admin_state = nd->admin_up() ? "up" : "down";
    netdev::PortStats s = nd->stats();
    auto i64 = [](uint64_t v) { return static_cast<int64_t>(v); };
    r.statistics = {{"rx_packets", i64(s.rx_packets)}, {"tx_packets", i64(s.tx_packets)},
                    {"rx_bytes", i64(s.rx_bytes)},     {"tx_bytes", i64(s.tx_bytes)},
                    {"rx_dropped", i64(s.rx_dropped)}, {"tx_dropped", i64(s.tx_dropped)},
                    {"rx_errors", i64(s.rx_errors)},   {"tx_errors", i64(s.tx_errors)}};
    out.push_back(std::move(r));
  }
  return out;
}

std::map<std::string, uint32_t> Reconciler::open_ports() const {
  std::map<std::string, uint32_t> out;
  for (auto& [name, o] : open_) out[name] = o.port_no;
  return out;
}

}  // namespace dps::daemon
