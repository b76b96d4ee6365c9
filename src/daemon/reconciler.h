// reconciler.h - applies the config store's desired state to the datapath
// and the OpenFlow bridges, like Open vSwitch's bridge_reconfigure().
//
// What: Reconciler::apply() takes a DesiredConfig snapshot and makes the
//   running switch match it: creates and removes bridges (one Ofproto per
//   Bridge row, in the BridgeSet over the shared DpBacker), opens, closes
//   and re-opens datapath ports (DpPorts::add_port/del_port) for the
//   Interfaces of every bridge, honours ofport_request (per bridge) and
//   options (dpdk-devargs, n_rxq, n_txq, n_rxq_desc, n_txq_desc) and
//   mtu_request, joins patch ports (type=patch, options:peer=INTERFACE: a
//   BridgePort with peer_bridge/peer_port, no datapath port), pushes Port
//   VLAN settings (tag, trunks, vlan_mode) and the port set to each
//   bridge, applies Open_vSwitch other_config:max-idle / flow-limit /
//   pmd-cpu-mask, and hands each Bridge's controller / fail_mode /
//   protocols to the OpenFlow hook (with the bridge's Ofproto; null before
//   the bridge goes). Internal ports (type=internal, and the bridge's own
//   port named after it, which is OpenFlow port LOCAL) are kernel tap
//   devices named after the Interface (netdev type "internal"), with
//   mtu_request or else the bridge's MTU (the smallest MTU of its device
//   ports, 1500 without any), changed in place when it changes. Tunnel
//   ports (type=vxlan/geneve/gre) are datapath ports with no device (netdev
//   type "tunnel") whose BridgePort carries the TunnelConfig parsed from
//   options (Ofproto::add_tunnel_port); an option change replaces the config
//   in place, a bad option is the Interface's error (the port is not
//   created, or is removed) while the rest of the round is applied. It
//   returns the write-back: per Interface ofport (or -1 and error, with the
//   reason), link_state, admin_state, mac_in_use, mtu, status, and the cfg
//   to publish as cur_cfg. collect_stats() gives the periodic statistics
//   write-back.
// Design: first plan() computes the difference between the desired and the
//   running state (ReconcilePlan) without changing anything; apply() then
//   carries it out in stages, removals before additions, so a number or a
//   device freed by a removal can be reused in the same round:
//     0. flow-restore-wait (before any port can send a miss);
//     1. removed bridges lose their OpenFlow connections (the hook, null);
//     2. ports that are gone, failed validation, moved to another bridge,
//        or changed shape / number are closed;
//     3. patch ports that are gone, failed or moved are removed;
//     4. removed bridges go (their megaflows and rules with them);
//     5. new bridges are added (without controllers: a learning switch,
//        NORMAL, as in OVS);
//     6. missing ports are opened, VLAN settings pushed; bond members
//        (the Interfaces of a Port with several, or with LACP on) are
//        datapath ports that become one OpenFlow port per bond
//        (Ofproto::set_bond), whose members come and go without
//        disturbing the others;
//     7. patch ports are joined;
//     8. each bridge's mirrors are set (a bad one is logged with its
//        reason and left out; a change re-translates the megaflows); if a
//        port set or VLAN changed, the megaflows are re-translated;
//     9. Open_vSwitch other_config, then each bridge's OpenFlow settings.
//   A port is identified by its Interface name. Its "shape" (the PortConfig
//   derived from type/options/mtu_request plus a differing ofport_request)
//   decides whether it must be re-opened; ports whose shape did not change
//   are not touched, so their traffic is not disturbed (the datapath
//   re-sends every PMD its port table, which PMDs apply between
//   iterations). OpenFlow port numbers are per bridge (ofport_request, else
//   the datapath number when free in the bridge, else the lowest free one);
//   datapath port numbers are global. A patch port whose peer interface (a
//   patch port of an existing bridge) is missing gets the error "patch port
//   X: peer Y does not exist" until the peer appears. Port details
//   (MAC, MTU, driver) come from Netdev::info(): nothing here knows the
//   device type.
// Thread-safety: the control (ofproto) thread only, like Datapath and
//   Ofproto.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../netdev/kernel_if.h"
#include "../netdev/netdev.h"
#include "desired_config.h"
#include "dp_ports.h"
#include "tunnel_config.h"
#include "vhost_ports.h"

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
  std::optional<int64_t> ifindex;      // a kernel device's (internal ports)
  std::map<std::string, int64_t> statistics;
  std::map<std::string, std::string> status;
};

// Mirror.statistics of one row (tx_packets / tx_bytes: what the datapath
// flows that copy to the mirror carried, ofproto/model/mirror.h).
struct MirrorReport {
  std::string uuid;
  std::map<std::string, int64_t> statistics;
};

struct WriteBack {
  std::optional<int64_t> cur_cfg;  // set when a snapshot was applied
  std::vector<InterfaceReport> interfaces;
  std::vector<MirrorReport> mirrors;
};

// What the reconciler hands to the OpenFlow channel: a bridge's controller
// targets, fail mode and protocols, with its Ofproto; ofp == null when the
// bridge is about to be removed (close its connections now).
using OpenFlowHook = std::function<void(const BridgeWant& bridge, ofproto::Ofproto* ofp)>;

// One desired Interface as the reconciler classifies it.
struct PortWant {
  enum class Kind { kDevice, kInternal, kTunnel, kPatch, kError };
  const InterfaceWant* w = nullptr;
  Kind kind = Kind::kError;
  std::optional<netdev::PortConfig> pc;  // kDevice/kInternal/kTunnel: the datapath port it asks for
  std::shared_ptr<const ofproto::TunnelConfig> tunnel;  // kTunnel: its parsed options
  std::string error;                     // kError: why it cannot be had
  // A bond member (kDevice): its Port's parsed bonding configuration and
  // the warning it gave ("" none).
  std::shared_ptr<const ofproto::BondConfig> bond;
  std::string bond_warning;
  // Kinds that are a datapath port.
  bool opens_port() const { return kind == Kind::kDevice || kind == Kind::kInternal || kind == Kind::kTunnel; }
};

// An open internal port (Reconciler::internal_ports()): its kernel device
// is named `name`; the kernel's view of it is read at the call.
struct InternalPortInfo {
  std::string name;      // = the kernel device's name
  std::string bridge;
  uint32_t of_port = 0;  // ofproto::kPortLocal for the bridge's own port
  uint32_t dp_port = 0;
  // With kernel details (else empty): the device as the kernel has it now.
  std::optional<netdev::KernelIfState> kernel;  // ifindex, up/running, MTU, MAC
  std::vector<netdev::KernelIfAddr> addrs;      // what `ip addr add` put on it
};

// The difference between the desired and the running state, computed before
// anything changes (names sorted within each list). It points into the
// DesiredConfig it was computed from: valid while that lives.
struct ReconcilePlan {
  std::map<std::string, const BridgeWant*> bridges;  // every wanted bridge
  std::vector<std::string> bridges_to_remove;  // running, no longer wanted
  std::vector<std::string> bridges_to_add;     // wanted, not running
  // Open ports that are gone, failed validation, moved to another bridge or
  // changed shape / number (the last two are re-opened).
  std::vector<std::string> ports_to_close;
  std::vector<std::string> patches_to_remove;  // gone, failed or moved
  std::vector<std::string> ports_to_open;      // wanted datapath ports (devices, internal, tunnel) not open after the closes
  std::map<std::string, PortWant> ports;       // every wanted interface
};

// OVS's pmd-cpu-mask ("0x6", "6", any length): the selected core numbers
// (here EAL lcore ids), ascending; nullopt with *error when malformed/empty.
std::optional<std::vector<unsigned>> parse_cpu_mask(const std::string& text, std::string* error);

class Reconciler {
 public:
  // `bridges` may be null (no OpenFlow bridges: ports only). The ports
  // already in `dp` were opened by the start-up code from `startup_ports`
  // as ports of `bridge_name` (the start-up bridge); they are adopted (kept
  // if the store asks for the same shape and bridge).
  Reconciler(DpPorts& dp, ofproto::BridgeSet* bridges,
             const std::vector<std::pair<uint32_t, netdev::PortConfig>>& startup_ports,
             std::string bridge_name);

  WriteBack apply(const DesiredConfig& want);
  // What apply(want) would change, without changing anything.
  ReconcilePlan plan(const DesiredConfig& want) const;
  // Statistics, link state and MAC of every open port.
  std::vector<InterfaceReport> collect_stats() const;
  // Mirror statistics of every bridge's mirrors (rows with a UUID).
  std::vector<MirrorReport> collect_mirror_stats() const;

  void set_openflow_hook(OpenFlowHook h) { openflow_hook_ = std::move(h); }
  // The same calls for the bridges' samplers (sampling.h: Bridge.sflow).
  void set_sampling_hook(OpenFlowHook h) { sampling_hook_ = std::move(h); }
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
  // The open internal ports, by name; with_kernel: also each device's
  // state and addresses (a few syscalls per port: control plane only).
  std::vector<InternalPortInfo> internal_ports(bool with_kernel = true) const;
  uint64_t reconfigurations() const { return reconfigurations_; }

 private:
  // A Port's VLAN settings as pushed to its bridge.
  struct Vlan {
    std::optional<int64_t> tag;
    std::vector<int64_t> trunks;
    std::string mode;
    static Vlan of(const InterfaceWant& w) { return {w.tag, w.trunks, w.vlan_mode}; }
    bool operator==(const Vlan&) const = default;
  };
  struct Open {
    uint32_t port_no = 0;  // datapath
    uint32_t of_port = 0;  // in `bridge`
    std::string bridge;
    netdev::PortConfig pc;  // the shape (an internal port's MTU is not part of it)
    Vlan vlan;
    PortWant::Kind kind = PortWant::Kind::kDevice;
    std::shared_ptr<const ofproto::TunnelConfig> tunnel;  // kTunnel
    uint32_t mtu = 0;        // kInternal: the MTU last set
    std::string mtu_error;   // kInternal: why it could not be set
    std::string mac;         // kInternal: the mac last applied ("" = the kernel's)
    std::string mac_error;   // kInternal: why it could not be set
    std::string bond;        // a bond member: its Port (of_port is the bond's)
  };
  // A bond as given to its bridge (Ofproto::set_bond), by Port name.
  struct BondOpen {
    std::string bridge;
    uint32_t of_port = 0;
    ofproto::BondConfig cfg;
    Vlan vlan;
  };
  // A patch port as added to its bridge.
  struct Patch {
    std::string bridge;
    uint32_t of_port = 0;
    std::string peer;         // peer interface
    ofproto::Bridge* peer_bridge = nullptr;
    uint32_t peer_port = 0;
    Vlan vlan;
  };
  // The PortConfig an Interface asks for, or the reason it cannot be had.
  static std::optional<netdev::PortConfig> port_config(const InterfaceWant& w, const VhostGlobals& vhost,
                                                       std::string* error);
  // A bond member's bonding configuration, or the error.
  static void bond_want(const InterfaceWant& w, PortWant* x);
  // One interface as classified, before devargs conflicts are known.
  static PortWant classify_one(const InterfaceWant& w, const std::map<std::string, const BridgeWant*>& bridges,
                               bool have_bridges, const VhostGlobals& vhost);

  // plan() parts.
  std::map<std::string, PortWant> classify(const DesiredConfig& want,
                                           const std::map<std::string, const BridgeWant*>& bridges) const;
  bool must_close(const Open& o, const PortWant* want) const;

  // apply() stages, in order.
  void disconnect_bridges(const std::vector<std::string>& names);
  void close_port(const std::string& name);
  void remove_patch(const std::string& name);
  void remove_bridges(const std::vector<std::string>& names);
  void add_bridges(const ReconcilePlan& plan);
  void open_ports(const ReconcilePlan& plan, WriteBack* wb, std::set<std::string>* vlan_bridges);
  void apply_internal_mtus(const ReconcilePlan& plan);
  // Groups the open bond members by Port into their bridges' bond ports
  // (created, updated, removed); members report the bond's number.
  void apply_bonds(const ReconcilePlan& plan, std::set<std::string>* vlan_bridges);
  void remove_bond(const std::string& port);
  void apply_internal_mac(const std::string& name, const InterfaceWant& w, Open* o);
  void apply_patches(const DesiredConfig& want, WriteBack* wb, std::set<std::string>* vlan_bridges);
  void revalidate(const std::set<std::string>& vlan_bridges);
  void apply_flow_restore_wait(const std::map<std::string, std::string>& oc);
  void apply_mirrors(const ReconcilePlan& plan);
  void apply_other_config(const std::map<std::string, std::string>& oc);
  void apply_pmd_cpu_mask(const std::map<std::string, std::string>& oc);
  void apply_rxq_policy(const DesiredConfig& want);
  void apply_bridge_settings(const ReconcilePlan& plan);

  // Helpers of the stages.
  ofproto::Ofproto* ofproto(const std::string& bridge) const;
  // Opens a wanted datapath port; false with *rep set to the error.
  bool open_port(const std::string& name, const PortWant& x, InterfaceReport* rep);
  // A tunnel port's options changed: its BridgePort takes the new config.
  void retunnel(const std::string& name, Open& o, const PortWant& x);
  // mtu_request, else the bridge's MTU (its device ports' smallest, 1500).
  uint32_t internal_mtu(const InterfaceWant& w) const;
  // The OpenFlow number for a new port of `bridge`.
  uint32_t choose_of_port(ofproto::Ofproto* ofp, const InterfaceWant& w, uint32_t dp_port) const;
  // Pushes `want`'s VLAN settings when they differ from *cur; true if so.
  bool update_vlan(ofproto::Ofproto* ofp, uint32_t of_port, const Vlan& want, Vlan* cur, bool force);
  void reserve_patch(const std::string& name, const InterfaceWant& w);
  InterfaceReport join_patch(const std::string& name, const InterfaceWant& w,
                             std::set<std::string>* vlan_bridges);
  InterfaceReport report(const std::string& name, const Open& o) const;

  DpPorts& dp_;
  ofproto::BridgeSet* bridges_;
  std::string bridge_;
  std::map<std::string, Open> open_;     // by Interface name
  std::map<std::string, Patch> patches_;  // by Interface name
  std::map<std::string, BondOpen> bonds_;  // by Port name
  std::map<std::string, BridgeWant> applied_bridges_;
  OpenFlowHook sampling_hook_;
  std::map<std::string, std::vector<std::string>> mirror_errors_;  // by bridge: the errors last logged
  std::map<std::string, std::string> applied_other_config_;
  bool other_config_applied_ = false;
  bool flow_restore_wait_ = false;
  std::optional<datapath::RxqPolicy> rxq_policy_;     // as last given to the datapath
  std::vector<std::string> rxq_policy_errors_;       // as last logged
  std::set<std::string> startup_overrides_;
  OpenFlowHook openflow_hook_;
  uint64_t reconfigurations_ = 0;
};

}  // namespace dps::daemon
