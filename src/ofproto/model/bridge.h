// bridge.h - the per-bridge state translation reads: ports (OpenFlow port
// number <-> datapath port number, link state, flood/forward config, VLAN
// mode for NORMAL), the OpenFlow pipeline and the MAC learning table.
//
// What: Bridge is a small aggregate, not a service: the ofproto thread owns
// it, the config reconciler fills the port map, flow-mods go to pipeline,
// xlate reads all of it (and learns into mac).
//
// Design: ports are keyed by OpenFlow number with a reverse map from the
// datapath number, because a miss arrives with the datapath in_port and
// actions leave with datapath output ports. VLAN mode follows OVS Port
// columns: trunk (tagged; `trunks` empty = all VLANs, untagged = VLAN 0) or
// access (`tag`: untagged frames belong to VLAN tag, tagged ones are
// dropped). Bridges sharing one datapath are joined by patch port pairs
// (each side names the peer bridge and port); a packet crossing one is
// translated through the peer's tables in the same translation.
//
// Mirrors (mirror.h) name ports by BridgePort::name; they are resolved to
// OpenFlow numbers again whenever a port comes or goes.
//
// BridgeMap: several bridges share one datapath (one DpBacker); it maps a
// datapath port number to the bridge that owns the port, so a miss is
// translated from the bridge of its in_port.
//
// Thread-safety: owned by the ofproto thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "bonding.h"
#include "frozen_state.h"
#include "mac_learning.h"
#include "mirror.h"
#include "pipeline.h"
#include "tlv_table.h"
#include "tunnel_config.h"

namespace dps::ofproto {

class TunnelContext;  // ofproto/tunnel/tunnel_context.h

enum class VlanMode : uint8_t { kTrunk, kAccess };

struct BridgePort {
  uint32_t of_port = 0;   // OpenFlow number (1..kPortMax, or kPortLocal)
  uint32_t dp_port = 0;   // datapath port number
  std::string name;
  bool live = true;       // link up (fast-failover liveness, flooding)
  bool no_flood = false;  // OFPPC_NO_FLOOD: skipped by FLOOD and NORMAL flooding
  bool no_fwd = false;    // OFPPC_NO_FWD: never output to it
  // OpenFlow channel (PORT_MOD): OFPPC_NO_RECV (what arrives should be
  // dropped; recorded, not yet read by xlate) and OFPPC_NO_PACKET_IN (no
  // packet-ins for packets received on it; the channel filters them).
  // PORT_DOWN is the netdev's admin state.
  bool no_recv = false;
  bool no_packet_in = false;
  VlanMode vlan_mode = VlanMode::kTrunk;
  uint16_t tag = 0;              // access VLAN
  std::set<uint16_t> trunks;     // trunk VLANs; empty = all
  // Patch port: no datapath port; output goes into peer_bridge as if
  // received on peer_port, within the same translation (no recirculation).
  struct Bridge* peer_bridge = nullptr;
  uint32_t peer_port = 0;
  bool is_patch() const { return peer_bridge != nullptr; }
  // Tunnel port (vxlan/geneve/gre): a datapath port with no device; output
  // encapsulates (xlate builds tnl_push), and decapsulated packets arrive on
  // dp_port with the tunnel metadata in the key.
  std::shared_ptr<const TunnelConfig> tunnel;
  bool is_tunnel() const { return tunnel != nullptr; }
  // Bond (bonding.h): one OpenFlow port over its members' datapath ports;
  // dp_port is the first member's (port details), output hashes over the
  // members in the datapath (kBondOutput), every member maps to of_port.
  std::shared_ptr<Bond> bond;
  bool is_bond() const { return bond != nullptr; }
  // The datapath ports that map to this port: a bond's members, else
  // dp_port (none for a patch port).
  std::vector<uint32_t> dp_ports() const {
    if (is_patch()) return {};
    if (!bond) return {dp_port};
    std::vector<uint32_t> out;
    for (const auto& [no, m] : bond->members()) out.push_back(no);
    return out;
  }

  bool carries_vlan(uint16_t vlan) const {
    if (vlan_mode == VlanMode::kAccess) return vlan == tag;
    return trunks.empty() || trunks.count(vlan) != 0;
  }
};

// Bridge-level sampling (OVS Bridge.sflow / Bridge.ipfix; the daemon's
// agents set it): translation puts kSample(slot, 1 in rate) first in every
// megaflow the bridge translates from its ports, so only a sampling
// bridge's flows pay. rate 0 = off. The slot names the sampler in the
// datapath (sample_slots.h) and in the samples that come back.
struct BridgeSampler {
  uint32_t rate = 0;
  uint16_t slot = 0;
  uint32_t obs_domain = 0;  // IPFIX observation domain / point ids
  uint32_t obs_point = 0;
  // IPFIX: a sample of each packet as received (input), and one before
  // each output to a datapath port (output, OVS's output sampling; the
  // daemon turns it on as OVS does by default). sFlow: input only.
  bool input = true;
  bool output = false;
  bool operator==(const BridgeSampler&) const = default;
};
struct BridgeSampling {
  BridgeSampler sflow;
  BridgeSampler ipfix;
  // NetFlow (Bridge.netflow): IPv4 megaflows pin the NetFlow key (addresses,
  // protocol, TOS, ports), so each megaflow's counters are one flow's.
  bool netflow = false;
  // Flow_Sample_Collector_Set rows of this bridge: id -> datapath sampler
  // slot. An OpenFlow sample() names its set by id; a set not here is not
  // sampled (the translation says so in a trace).
  std::map<uint32_t, uint16_t> flow_sets;
  bool operator==(const BridgeSampling&) const = default;
};

struct Bridge {
  std::string name;
  Pipeline pipeline;
  MacLearning mac;
  std::map<uint32_t, BridgePort> ports;          // by OpenFlow number (ordered: floods are stable)
  std::unordered_map<uint32_t, uint32_t> of_by_dp;  // datapath number -> OpenFlow number
  // The switch's Geneve TLV table (shared by the bridges of a BridgeSet;
  // Ofproto sets it): xlate maps Geneve options to tun_metadataN with it.
  std::shared_ptr<TlvTable> tlv_table;
  // Native tunneling state shared by the bridges of one datapath (routes,
  // neighbours, tunnel ports); set while attached to a backer. Null: tunnel
  // output drops and nothing is decapsulated.
  TunnelContext* tnl = nullptr;
  MirrorSet mirrors;
  BridgeSampling sampling;
  // Registers and metadata frozen across ct(table=T) recirculations.
  FrozenStates frozen;

  void add_port(const BridgePort& p) {
    ports[p.of_port] = p;
    remap(p.of_port);
    if (!mirrors.configs().empty()) mirrors.resolve(port_names());
  }
  // of_by_dp again for one port (a bond's member set changed).
  void remap(uint32_t of_port) {
    std::erase_if(of_by_dp, [of_port](const auto& kv) { return kv.second == of_port; });
    if (const BridgePort* p = port(of_port))
      for (uint32_t d : p->dp_ports()) of_by_dp[d] = of_port;
  }
  void remove_port(uint32_t of_port) {
    auto it = ports.find(of_port);
    if (it == ports.end()) return;
    for (uint32_t d : it->second.dp_ports())
      if (auto m = of_by_dp.find(d); m != of_by_dp.end() && m->second == of_port) of_by_dp.erase(m);
    ports.erase(it);
    mac.flush_port(of_port);
    if (!mirrors.configs().empty()) mirrors.resolve(port_names());
  }
  // Replaces the mirrors; false when they are the ones already set. The
  // output ports' learned MACs go (a mirror output port learns nothing).
  bool set_mirrors(std::vector<MirrorConfig> cfgs) {
    if (!mirrors.configure(std::move(cfgs), port_names())) return false;
    for (uint32_t p : mirrors.output_ports()) mac.flush_port(p);
    return true;
  }
  // Port name -> OpenFlow number (mirrors name ports).
  std::map<std::string, uint32_t> port_names() const {
    std::map<std::string, uint32_t> out;
    for (const auto& [no, p] : ports)
      if (!p.name.empty()) out.emplace(p.name, no);
    return out;
  }
  const BridgePort* port(uint32_t of_port) const {
    auto it = ports.find(of_port);
    return it == ports.end() ? nullptr : &it->second;
  }
  const BridgePort* port_by_dp(uint32_t dp_port) const {
    auto it = of_by_dp.find(dp_port);
    return it == of_by_dp.end() ? nullptr : port(it->second);
  }
};

// Datapath port number -> owning bridge, and the set of live bridges (a
// dependency recorded as a `const Bridge*` is resolved here to the mutable
// bridge, and only while that bridge exists). A port no bridge owns falls
// back to the first bridge, whose translation reports "unknown datapath
// port" and installs a drop megaflow, as a one-bridge switch always did.
class BridgeMap {
 public:
  void add_bridge(Bridge* b) {
    if (std::find(bridges_.begin(), bridges_.end(), b) == bridges_.end()) bridges_.push_back(b);
  }
  // Forgets b and every port it owned.
  void remove_bridge(const Bridge* b) {
    std::erase(bridges_, b);
    std::erase_if(by_dp_, [b](const auto& kv) { return kv.second == b; });
  }
  void set_port(uint32_t dp_port, Bridge* b) { by_dp_[dp_port] = b; }
  // Only when the port is still b's (a port moved to another bridge stays).
  void erase_port(uint32_t dp_port, const Bridge* b) {
    auto it = by_dp_.find(dp_port);
    if (it != by_dp_.end() && it->second == b) by_dp_.erase(it);
  }
  // The bridge of a datapath port (owner, else the fallback; null without bridges).
  Bridge* find(uint32_t dp_port) const {
    auto it = by_dp_.find(dp_port);
    if (it != by_dp_.end()) return it->second;
    return bridges_.empty() ? nullptr : bridges_.front();
  }
  // The owner only (null when no bridge has the port).
  Bridge* owner(uint32_t dp_port) const {
    auto it = by_dp_.find(dp_port);
    return it == by_dp_.end() ? nullptr : it->second;
  }
  // b as a mutable live bridge, null when it is gone.
  Bridge* live(const Bridge* b) const {
    for (Bridge* x : bridges_)
      if (x == b) return x;
    return nullptr;
  }
  const std::vector<Bridge*>& bridges() const { return bridges_; }

 private:
  std::vector<Bridge*> bridges_;  // attach order; the first is the fallback
  std::unordered_map<uint32_t, Bridge*> by_dp_;
};

}  // namespace dps::ofproto
