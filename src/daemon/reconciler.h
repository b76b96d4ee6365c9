// reconciler.h - applies the config store's desired state to the datapath
// and the OpenFlow bridge, like Open vSwitch's bridge_reconfigure().
//
// What: Reconciler::apply() takes a DesiredConfig snapshot and makes the
//   running switch match it: opens, closes and re-opens DpdkNetdev ports
//   (Datapath::add_port/del_port) for the Interfaces of the served bridge,
//   honours ofport_request and options (dpdk-devargs, n_rxq, n_txq,
//   n_rxq_desc, n_txq_desc) and mtu_request, pushes Port VLAN settings
//   (tag, trunks, vlan_mode) and the port set to the Ofproto bridge, applies
//   Open_vSwitch other_config:max-idle / flow-limit, and hands Bridge
//   controller / fail_mode / protocols to the OpenFlow hook. It returns the
//   write-back: per Interface ofport (or -1 and error, with the reason),
//   link_state, admin_state, mac_in_use, mtu, and the cfg to publish as
//   cur_cfg. collect_stats() gives the periodic statistics write-back.
// Design: a port is identified by its Interface name. Its "shape" (the
//   PortConfig derived from type/options/mtu_request plus a differing
//   ofport_request) decides whether it must be re-opened; ports whose shape
//   did not change are not touched, so their traffic is not disturbed (the
//   datapath re-sends every PMD its port table, which PMDs apply between
//   iterations). Order: removals, then re-opens, then additions, so a
//   number or a device freed by a removal can be reused in the same round.
//   One bridge is served (dpswitchd runs one Ofproto): the one named like
//   the Ofproto bridge, else the first by name (the Ofproto bridge takes
//   its name); interfaces of other bridges get an error.
// Thread-safety: the control (ofproto) thread only, like Datapath and
//   Ofproto.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../datapath/datapath.h"
#include "desired_config.h"

namespace dps::ofproto {
class Ofproto;
}

namespace dps::daemon {

// OpenFlow port number reported for an internal (bridge-local) interface.
inline constexpr int64_t kOfppLocal = 65534;

struct InterfaceReport {
  std::string name;
  std::optional<int64_t> ofport;       // -1 with an error
  std::optional<std::string> error;
  std::optional<std::string> link_state;
  std::optional<std::string> admin_state;
  std::optional<std::string> mac_in_use;
  std::optional<int64_t> mtu;
  std::map<std::string, int64_t> statistics;
  std::map<std::string, std::string> status;
};

struct WriteBack {
  std::optional<int64_t> cur_cfg;  // set when a snapshot was applied
  std::vector<InterfaceReport> interfaces;
};

// What the reconciler hands to the OpenFlow channel (which comes later):
// the served bridge's controller targets, fail mode and protocols.
using OpenFlowHook = std::function<void(const BridgeWant& bridge)>;

// OVS's pmd-cpu-mask ("0x6", "6", any length): the selected core numbers
// (here EAL lcore ids), ascending; nullopt with *error when malformed/empty.
std::optional<std::vector<unsigned>> parse_cpu_mask(const std::string& text, std::string* error);

class Reconciler {
 public:
  // `ofp` may be null (no OpenFlow bridge: ports only). The ports already
  // in `dp` were opened by the start-up code from `startup_ports`; they are
  // adopted (kept if the store asks for the same shape).
  Reconciler(datapath::Datapath& dp, ofproto::Ofproto* ofp,
             const std::vector<std::pair<uint32_t, netdev::PortConfig>>& startup_ports,
             std::string bridge_name);

  WriteBack apply(const DesiredConfig& want);
  // Statistics, link state and MAC of every open port.
  std::vector<InterfaceReport> collect_stats() const;

  void set_openflow_hook(OpenFlowHook h) { openflow_hook_ = std::move(h); }
  // The served bridge as last applied (null before the first apply), so a
  // hook installed after the first apply can catch up.
  const BridgeWant* applied_bridge() const { return bridge_applied_ ? &applied_bridge_ : nullptr; }
  // Open_vSwitch other_config keys whose start-up value came from the
  // command line: the first apply() leaves them alone (the command line
  // wins for this run); later changes in the store are applied.
  void set_startup_overrides(std::set<std::string> keys) { startup_overrides_ = std::move(keys); }
  const std::string& bridge_name() const { return bridge_; }
  // Interface name -> datapath port number of the open ports.
  std::map<std::string, uint32_t> open_ports() const;
  uint64_t reconfigurations() const { return reconfigurations_; }

 private:
  struct Open {
    uint32_t port_no = 0;
    netdev::PortConfig pc;
    std::optional<int64_t> vlan_tag;
    std::vector<int64_t> trunks;
    std::string vlan_mode;
  };
  // The PortConfig an Interface asks for, or the reason it cannot be had.
  static std::optional<netdev::PortConfig> port_config(const InterfaceWant& w, std::string* error);
  void close_port(const std::string& name);
  void push_vlan(const Open& o);
  InterfaceReport report(const std::string& name, const Open& o) const;
  void apply_other_config(const std::map<std::string, std::string>& oc);
  void apply_pmd_cpu_mask(const std::map<std::string, std::string>& oc);

  datapath::Datapath& dp_;
  ofproto::Ofproto* ofp_;
  std::string bridge_;
  std::map<std::string, Open> open_;  // by Interface name
  BridgeWant applied_bridge_;
  bool bridge_applied_ = false;
  std::map<std::string, std::string> applied_other_config_;
  bool other_config_applied_ = false;
  std::set<std::string> startup_overrides_;
  OpenFlowHook openflow_hook_;
  uint64_t reconfigurations_ = 0;
};

}  // namespace dps::daemon
