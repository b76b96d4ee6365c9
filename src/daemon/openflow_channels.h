// openflow_channels.h - the daemon's OpenFlow channels: one
// ConnectionManager per bridge.
//
// What: the start-up bridge gets the --openflow targets; every bridge gets
//   the controllers, fail_mode and protocols of its Bridge row in the config
//   store (ovs-vsctl set-controller / set-fail-mode / set Bridge protocols),
//   re-applied whenever the reconciler sees them change (its OpenFlowHook).
//   A bridge's connections close before the bridge is removed.
// Design: managers are created on first use and kept by bridge name; each
//   bridge has a datapath id stable across restarts: the start-up bridge 1,
//   any other a 48-bit FNV-1a hash of its name (OVS derives one from a MAC).
//   A setting that cannot be applied (bad target, port in use) is logged and
//   the bridge keeps its previous channel.
// Thread-safety: the control thread only, like the Ofprotos.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "desired_config.h"

namespace dps::ofproto {
class BridgeSet;
class ConnectionManager;
class Ofproto;
}  // namespace dps::ofproto

namespace dps::daemon {

class ConfigDaemon;

// The datapath id of a bridge: 1 for the start-up bridge, else from its name
// (never 1).
uint64_t bridge_datapath_id(const std::string& bridge, const std::string& startup_bridge);

class OpenFlowChannels {
 public:
  OpenFlowChannels(std::vector<std::string> startup_targets, std::string startup_bridge);
  ~OpenFlowChannels();
  OpenFlowChannels(const OpenFlowChannels&) = delete;
  OpenFlowChannels& operator=(const OpenFlowChannels&) = delete;

  // Start-up: the start-up bridge's --openflow channel, then the bridges the
  // store configured; from then on the reconciler's changes are followed.
  void attach(ofproto::BridgeSet& bridges, ConfigDaemon& confd);
  // The reconciler's hook: apply a bridge's settings, or (ofp == null) close
  // its connections.
  void apply(const BridgeWant& bridge, ofproto::Ofproto* ofp);
  // One control-loop round of every channel; returns the work done.
  unsigned run();
  // Closes every connection.
  void clear();

 private:
  ofproto::ConnectionManager& manager(ofproto::Ofproto& ofp);

  std::vector<std::string> startup_targets_;
  std::string startup_bridge_;
  std::map<std::string, std::unique_ptr<ofproto::ConnectionManager>> managers_;  // by bridge
};

}  // namespace dps::daemon
