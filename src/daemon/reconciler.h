// reconciler.h - applies the config store's desired state to the datapath
// and the OpenFlow bridge, like Open vSwitch's bridge_reconfigure().
//
// What: Reconciler::apply() takes a DesiredConfig snapshot and makes the
//   running switch match it: creates and removes bridges (one Ofproto per
//   Bridge row, in the BridgeSet over the shared DpBacker), opens, closes
//   and re-opens DpdkNetdev ports (Datapath::add_port/del_port) for the
//   Interfaces of every bridge, honours ofport_request (per bridge) and
//   options (dpdk-devargs, n_rxq, n_txq, n_rxq_desc, n_txq_desc) and
//   mtu_request, joins patch ports (type=patch, options:peer=INTERFACE: a
//   BridgePort with peer_bridge/peer_port, no datapath port), pushes Port
//   VLAN settings (tag, trunks, vlan_mode) and the port set to each
//   bridge, applies Open_vSwitch other_config:max-idle / flow-limit, and
//   hands each Bridge's controller / fail_mode / protocols to the OpenFlow
//   hook (with the bridge's Ofproto; null before the bridge goes). It returns the
//   write-back: per Interface ofport (or -1 and error, with the reason),
//   link_state, admin_state, mac_in_use, mtu, and the cfg to publish as
//   cur_cfg. collect_stats() gives the periodic statistics write-back.
// Design: a port is identified by its Interface name. Its "shape" (the
//   PortConfig derived from type/options/mtu_request plus a differing
//   ofport_request) decides whether it must be re-opened; ports whose shape
//   did not change are not touched, so their traffic is not disturbed (the
//   datapath re-sends every PMD its port table, which PMDs apply between
//   iterations). Order: new bridges, removals (ports of removed bridges
//   too), bridges removed, re-opens, additions, patch ports, so a number or
//   a device freed by a removal can be reused in the same round. A new
//   bridge without controllers starts as a learning switch (NORMAL), as in
//   OVS. OpenFlow port numbers are per bridge (ofport_request, else the
//   datapath number when free in the bridge, else the lowest free one);
//   datapath port numbers are global. A patch port whose peer interface
//   (a patch port of an existing bridge) is missing gets the error "patch
//   port X: peer Y does not exist" until the peer appears.
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
struct Bridge;
class BridgeSet;
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

// What the reconciler hands to the OpenFlow channel: a bridge's controller
// targets, fail mode and protocols, with its Ofproto; ofp == null when the
// bridge is about to be removed (close its connections now).
using OpenFlowHook = std::function<void(const BridgeWant& bridge, ofproto::Ofproto* ofp)>;

// OVS's pmd-cpu-mask ("0x6", "6", any length): the selected core numbers
// (here EAL lcore ids), ascending; nullopt with *error when malformed/empty.
std::optional<std::vector<unsigned>> parse_cpu_mask(const std::string& text, std::string* error);

class Reconciler {
 public:
  // `bridges` may be null (no OpenFlow bridges: ports only). The ports
  // already in `dp` were opened by the start-up code from `startup_ports`
  // as ports of `bridge_name` (the start-up bridge); they are adopted (kept
  // if the store asks for the same shape and bridge).
  Reconciler(datapath::Datapath& dp, ofproto::BridgeSet* bridges,
             const std::vector<std::pair<uint32_t, netdev::PortConfig>>& startup_ports,
             std::string bridge_name);

  WriteBack apply(const DesiredConfig& want);
  // Statistics, link state and MAC of every open port.
  std::vector<InterfaceReport> collect_stats() const;

  void set_openflow_hook(OpenFlowHook h) { openflow_hook_ = std::move(h); }
  // The bridges as last applied (empty before the first apply), so a hook
  // installed after the first apply can catch up.
  const std::map<std::string, BridgeWant>& applied_bridges() const { return applied_bridges_; }
  // Open_vSwitch other_config keys whose start-up value came from the
  // command line: the first apply() leaves them alone (the command line
  // wins for this run); later changes in the store are applied.
  void set_startup_overrides(std::set<std::string> keys) { startup_overrides_ = std::move(keys); }
  // The start-up bridge's name (first import into an empty store).
  const std::string& bridge_name() const { return bridge_; }
  ofproto::BridgeSet* bridges() const { return bridges_; }
  // Interface name -> datapath port number of the open ports.
  std::map<std::string, uint32_t> open_ports() const;
  uint64_t reconfigurations() const { return reconfigurations_; }

 private:
  struct Open {
    uint32_t port_no = 0;  // datapath
    uint32_t of_port = 0;  // in `bridge`
    std::string bridge;
    netdev::PortConfig pc;
    std::optional<int64_t> vlan_tag;
    std::vector<int64_t> trunks;
    std::string vlan_mode;
  };
  // The PortConfig an Interface asks for, or the reason it cannot be had.
  static std::optional<netdev::PortConfig> port_config(const InterfaceWant& w, std::string* error);
  // A patch port as added to its bridge.
  struct Patch {
    std::string bridge;
    uint32_t of_port = 0;
    std::string peer;         // peer interface
    ofproto::Bridge* peer_bridge = nullptr;
    uint32_t peer_port = 0;
    std::optional<int64_t> vlan_tag;
    std::vector<int64_t> trunks;
    std::string vlan_mode;
  };
  ofproto::Ofproto* ofproto(const std::string& bridge) const;
  void close_port(const std::string& name);
  void remove_patch(const std::string& name);
  // The OpenFlow number for a new port of `bridge`.
  uint32_t choose_of_port(ofproto::Ofproto* ofp, const InterfaceWant& w, uint32_t dp_port) const;
  void push_vlan(ofproto::Ofproto* ofp, uint32_t of_port, const std::optional<int64_t>& tag,
                 const std::vector<int64_t>& trunks, const std::string& vlan_mode);
  void apply_patches(const DesiredConfig& want, WriteBack* wb, std::set<std::string>* vlan_bridges);
  InterfaceReport report(const std::string& name, const Open& o) const;
  void apply_other_config(const std::map<std::string, std::string>& oc);
  void apply_pmd_cpu_mask(const std::map<std::string, std::string>& oc);

  datapath::Datapath& dp_;
  ofproto::BridgeSet* bridges_;
  std::string bridge_;
  std::map<std::string, Open> open_;     // by Interface name
  std::map<std::string, Patch> patches_;  // by Interface name
  std::map<std::string, BridgeWant> applied_bridges_;
  std::map<std::string, std::string> applied_other_config_;
  bool other_config_applied_ = false;
  std::set<std::string> startup_overrides_;
  OpenFlowHook openflow_hook_;
  uint64_t reconfigurations_ = 0;
};

}  // namespace dps::daemon
