#include "reconciler.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ether.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "../netdev/dpdk_netdev.h"
#include "ofproto.h"

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

Reconciler::Reconciler(datapath::Datapath& dp, ofproto::BridgeSet* bridges,
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

ofproto::Ofproto* Reconciler::ofproto(const std::string& bridge) const {
  return bridges_ ? bridges_->find(bridge) : nullptr;
}

void Reconciler::close_port(const std::string& name) {
  auto it = open_.find(name);
  if (it == open_.end()) return;
  uint32_t no = it->second.port_no;
  // The bridge first: its megaflows stop outputting to the port before the
  // PMDs drop it from their tables.
  if (ofproto::Ofproto* ofp = ofproto(it->second.bridge)) {
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

void Reconciler::push_vlan(ofproto::Ofproto* ofp, uint32_t of_port, const std::optional<int64_t>& tag,
                           const std::vector<int64_t>& trunks, const std::string& vlan_mode) {
  if (!ofp) return;
  auto& ports = ofp->bridge().ports;
  auto it = ports.find(of_port);
  if (it == ports.end()) return;
  ofproto::BridgePort& bp = it->second;
  // OVS: vlan_mode empty means access when tag is set, else trunk.
  bool access = vlan_mode == "access" || (vlan_mode.empty() && tag);
  bp.vlan_mode = access ? ofproto::VlanMode::kAccess : ofproto::VlanMode::kTrunk;
  bp.tag = tag ? static_cast<uint16_t>(*tag) : 0;
  bp.trunks.clear();
  for (int64_t t : trunks) bp.trunks.insert(static_cast<uint16_t>(t));
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
  if (bridges_) bridges_->backer().revalidator().flush();
  dp_.set_pmd_lcores(lcores);
  std::string list;
  for (unsigned l : lcores) list += (list.empty() ? "" : ",") + std::to_string(l);
  spdlog::info("reconfigure: pmd-cpu-mask={}: PMDs on lcores {}, rx queues reassigned", text, list);
}

WriteBack Reconciler::apply(const DesiredConfig& want) {
  reconfigurations_++;
  WriteBack wb;
  wb.cur_cfg = want.next_cfg;

  // 0. Bridges: new ones now (their ports are opened below); removed ones
  // lose their OpenFlow connections now, their ports in step 1, and go
  // after it.
  std::map<std::string, const BridgeWant*> want_bridges;
  for (auto& b : want.bridges) want_bridges[b.name] = &b;
  std::vector<std::string> gone_bridges;
  if (bridges_) {
    for (auto& [name, bw] : want_bridges) {
      if (bridges_->find(name)) continue;
      ofproto::Ofproto& ofp = bridges_->add(name);
      // As OVS: a new bridge forwards as a learning switch until a
      // controller (or ovs-ofctl) says otherwise.
      if (bw->controllers.empty()) ofp.install_default_normal();
      spdlog::info("reconfigure: bridge {} added", name);
    }
    for (const std::string& name : bridges_->names())
      if (!want_bridges.count(name)) gone_bridges.push_back(name);
    for (const std::string& name : gone_bridges) {
      auto it = applied_bridges_.find(name);
      BridgeWant bw;
      bw.name = name;
      if (openflow_hook_) openflow_hook_(it != applied_bridges_.end() ? it->second : bw, nullptr);
      applied_bridges_.erase(name);
    }
  }
  auto bridge_exists = [&](const std::string& name) {
    return bridges_ ? bridges_->find(name) != nullptr : want_bridges.count(name) != 0;
  };
  auto bridge_alive = [&](const std::string& name) {
    return bridge_exists(name) && want_bridges.count(name) != 0;
  };

  // Desired ports of every bridge, with their shapes or errors.
  struct Want {
    const InterfaceWant* w;
    std::optional<netdev::PortConfig> pc;
    std::string error;
    bool internal = false;
    bool patch = false;
  };
  std::map<std::string, Want> wants;
  std::map<std::string, std::string> devargs_owner;
  for (auto& w : want.interfaces) {
    Want x{&w, std::nullopt, {}, false, false};
    if (w.bridge.empty() || !bridge_alive(w.bridge)) {
      x.error = "interface " + w.name + ": bridge " + (w.bridge.empty() ? "(none)" : w.bridge) +
                " does not exist";
    } else if (!w.config_error.empty()) {
      x.error = w.config_error;
    } else if (w.type == "internal") {
      x.internal = true;
    } else if (w.type == "patch") {
      if (bridges_) x.patch = true;
      else x.error = "patch port " + w.name + ": this daemon runs no OpenFlow bridge";
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

  // 1. Close what is gone, failed validation, moved to another bridge, or
  // changed shape / number.
  std::vector<std::string> to_close;
  for (auto& [name, o] : open_) {
    auto it = wants.find(name);
    if (it == wants.end() || !it->second.pc || it->second.w->bridge != o.bridge) {
      to_close.push_back(name);
      continue;
    }
    const InterfaceWant& w = *it->second.w;
    // Re-number only when the requested number is free in the bridge;
    // otherwise the port keeps its number (no flapping on every
    // reconfiguration).
    ofproto::Ofproto* ofp = ofproto(o.bridge);
    bool renumber = w.ofport_request && *w.ofport_request != o.of_port &&
                    *w.ofport_request >= 1 && *w.ofport_request <= ofproto::kPortMax &&
                    (ofp ? !ofp->bridge().ports.count(static_cast<uint32_t>(*w.ofport_request))
                         : !dp_.port(static_cast<uint32_t>(*w.ofport_request)));
    if (!same_shape(*it->second.pc, o.pc) || renumber) to_close.push_back(name);
  }
  for (auto& name : to_close) close_port(name);
  // Patch ports that are gone, failed, or moved (re-added in step 3).
  std::vector<std::string> to_unpatch;
  for (auto& [name, pt] : patches_) {
    auto it = wants.find(name);
    if (it == wants.end() || !it->second.patch || it->second.w->bridge != pt.bridge)
      to_unpatch.push_back(name);
  }
  for (auto& name : to_unpatch) remove_patch(name);
  // Removed bridges go now: their megaflows, rules and connections with them.
  for (const std::string& name : gone_bridges) {
    for (auto it = patches_.begin(); it != patches_.end();)
      it = it->second.bridge == name ? patches_.erase(it) : std::next(it);
    bridges_->remove(name);
    spdlog::info("reconfigure: bridge {} removed", name);
  }

  // 2. Open what is missing: the datapath number of ofport_request when it
  // is free, the OpenFlow number of ofport_request when it is free in the
  // bridge.
  std::set<std::string> vlan_bridges;  // bridges whose port set or VLANs changed
  for (auto& [name, x] : wants) {
    if (x.patch) continue;  // step 3
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
    ofproto::Ofproto* ofp = ofproto(w.bridge);
    auto oit = open_.find(name);
    if (oit == open_.end()) {
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
      try {
        o.port_no = dp_.add_port(o.pc, req);
      } catch (const std::exception& e) {
        rep.ofport = -1;
        rep.error = e.what();
        spdlog::error("reconfigure: {}", e.what());
        wb.interfaces.push_back(std::move(rep));
        continue;
      }
      o.of_port = choose_of_port(ofp, w, o.port_no);
      if (ofp) ofp->add_port(o.of_port, o.port_no, name);
      spdlog::info("reconfigure: opened port {} ({}) as OpenFlow port {} of bridge {} (datapath port {})",
                   name, o.pc.devargs, o.of_port, w.bridge, o.port_no);
      oit = open_.emplace(name, std::move(o)).first;
      vlan_bridges.insert(w.bridge);
    }
    Open& o = oit->second;
    if (o.vlan_tag != w.tag || o.trunks != w.trunks || o.vlan_mode != w.vlan_mode) {
      o.vlan_tag = w.tag;
      o.trunks = w.trunks;
      o.vlan_mode = w.vlan_mode;
      push_vlan(ofp, o.of_port, o.vlan_tag, o.trunks, o.vlan_mode);
      vlan_bridges.insert(w.bridge);
    }
    wb.interfaces.push_back(report(name, o));
  }

  // 3. Patch ports.
  apply_patches(want, &wb, &vlan_bridges);
  // VLAN settings change what NORMAL does: the megaflows are re-translated
  // (once: the backer's ukeys are shared by every bridge).
  if (!vlan_bridges.empty() && bridges_ && bridges_->size())
    bridges_->backer().revalidator().revalidate_all(bridges_->backer().now_ms());

  // 4. Bridge-level settings.
  apply_other_config(want.other_config);
  for (auto& [name, bw] : want_bridges) {
    auto it = applied_bridges_.find(name);
    if (it != applied_bridges_.end() && it->second == *bw) continue;
    applied_bridges_[name] = *bw;
    if (openflow_hook_) {
      openflow_hook_(*bw, ofproto(name));
    } else if (!bw->controllers.empty() || !bw->fail_mode.empty()) {
      std::string ctl;
      for (auto& c : bw->controllers) ctl += (ctl.empty() ? "" : ",") + c;
      spdlog::info("reconfigure: bridge {}: controller [{}], fail_mode '{}' stored; no OpenFlow "
                   "channel is attached to apply them", name, ctl, bw->fail_mode);
    }
  }
  return wb;
}

void Reconciler::apply_patches(const DesiredConfig& want, WriteBack* wb,
                               std::set<std::string>* vlan_bridges) {
  std::map<std::string, const InterfaceWant*> patch_wants;  // valid patch interfaces
  for (auto& w : want.interfaces)
    if (w.type == "patch" && w.config_error.empty() && ofproto(w.bridge)) patch_wants[w.name] = &w;
  // Peers and errors first, then OpenFlow numbers for every joinable side,
  // then the ports themselves (each side needs the other's number).
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
  // A side without a peer, and ports whose peer side changed, are removed
  // from their bridge (their number stays reserved only while joined).
  for (auto& [name, w] : patch_wants) {
    auto it = patches_.find(name);
    if (it == patches_.end()) continue;
    if (errors.count(name)) {
      remove_patch(name);
      vlan_bridges->insert(w->bridge);
    }
  }
  for (auto& [name, w] : patch_wants) {
    if (errors.count(name) || patches_.count(name)) continue;
    ofproto::Ofproto* ofp = ofproto(w->bridge);
    Patch pt;
    pt.bridge = w->bridge;
    pt.of_port = choose_of_port(ofp, *w, 0);
    // Reserve the number now (the peer is attached below): a placeholder
    // patch port to this very bridge would loop, so it points nowhere yet.
    pt.peer = w->options.at("peer");
    patches_[name] = pt;
    ofproto::BridgePort hold;
    hold.of_port = pt.of_port;
    hold.name = name;
    hold.peer_bridge = &ofp->bridge();
    hold.peer_port = 0;  // OpenFlow ports start at 1: replaced by the join below
    hold.no_fwd = true;
    ofp->bridge().add_port(hold);
  }
  for (auto& [name, w] : patch_wants) {
    InterfaceReport rep;
    rep.name = name;
    if (auto e = errors.find(name); e != errors.end()) {
      rep.ofport = -1;
      rep.error = e->second;
      wb->interfaces.push_back(std::move(rep));
      continue;
    }
    Patch& pt = patches_.at(name);
    pt.peer = w->options.at("peer");
    const Patch& peer = patches_.at(pt.peer);
    ofproto::Ofproto* ofp = ofproto(pt.bridge);
    ofproto::Bridge* peer_bridge = &ofproto(peer.bridge)->bridge();
    const ofproto::BridgePort* cur = ofp->bridge().port(pt.of_port);
    bool vlan = pt.vlan_tag != w->tag || pt.trunks != w->trunks || pt.vlan_mode != w->vlan_mode;
    if (!cur || cur->peer_bridge != peer_bridge || cur->peer_port != peer.of_port) {
      ofp->add_patch_port(pt.of_port, name, *peer_bridge, peer.of_port);
      pt.peer_bridge = peer_bridge;
      pt.peer_port = peer.of_port;
      spdlog::info("reconfigure: patch port {} is OpenFlow port {} of bridge {}, peer {} (bridge {} port {})",
                   name, pt.of_port, pt.bridge, pt.peer, peer.bridge, peer.of_port);
      vlan = true;
    }
    if (vlan) {
      pt.vlan_tag = w->tag;
      pt.trunks = w->trunks;
      pt.vlan_mode = w->vlan_mode;
      push_vlan(ofp, pt.of_port, pt.vlan_tag, pt.trunks, pt.vlan_mode);
      vlan_bridges->insert(pt.bridge);
    }
    rep.ofport = pt.of_port;
    rep.link_state = "up";
    rep.admin_state = "up";
    rep.status["peer"] = pt.peer;
    wb->interfaces.push_back(std::move(rep));
  }
}

InterfaceReport Reconciler::report(const std::string& name, const Open& o) const {
  InterfaceReport r;
  r.name = name;
  r.ofport = o.of_port;
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
    r.ofport = o.of_port;
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
