// tnl_ports.h - which tunnel port receives a packet (Open vSwitch's
// lib/tnl-ports.c and the receive side of ofproto/tunnel.c).
//
// What: TnlPorts indexes the tunnel ports of every bridge (BridgePort::
// tunnel) in two steps, as OVS's userspace tunneling does:
//  1. listener(): an outer packet addressed to a local endpoint is
//     decapsulated when it is UDP to a tunnel port's destination port
//     (4789 VXLAN / 6081 Geneve by default) or GRE and some tunnel port
//     of that kind accepts that local address (local_ip unset, =flow, or
//     equal). The answer is the class's representative port: the lowest
//     datapath port of the ports sharing (type, UDP port); tnl_pop sends
//     the inner packet in on it.
//  2. receive(): the decapsulated packet (in_port = a representative, the
//     tunnel metadata in the key) is given to the best port of that class:
//     in_key exact before key=flow, remote_ip exact before remote_ip=flow,
//     local_ip exact, then unset, then =flow (tnl_find's order); within a
//     tier the lowest datapath port. No port: the packet is dropped
//     (counted by the caller).
//
// Design: the index is rebuilt from the bridges when invalidate() was
// called (port added, removed or reconfigured: the daemon calls it with
// every revalidate-all) and checked on use (an entry whose bridge, port
// or config object is gone forces a rebuild), so a stale pointer is never
// followed. A class holds a handful of ports; receive() scans its class.
//
// Thread-safety: the ofproto thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bridge.h"
#include "flow_key_layout.h"

namespace dps::ofproto {

struct TnlPortRef {
  Bridge* bridge = nullptr;
  uint32_t of_port = 0;
  uint32_t dp_port = 0;
  std::string name;
  std::shared_ptr<const TunnelConfig> cfg;
};

class TnlPorts {
 public:
  explicit TnlPorts(const BridgeMap& bridges) : bridges_(bridges) {}
  void invalidate() { dirty_ = true; }

  // Step 1, for an outer packet (IPv4/IPv6 already known to be addressed
  // to local): proto 17 (with the UDP destination port, network order) or
  // 47. Null when no tunnel port listens there.
  const TnlPortRef* listener(uint8_t proto, uint16_t udp_dst_be, const IpAddr& local);
  // Step 2: the port that receives a decapsulated packet that arrived on
  // datapath port key.in_port. Ors the tunnel fields it read into *wc.
  const TnlPortRef* receive(const datapath::FlowKey& key, datapath::FlowMask* wc);
  // Whether dp_port is a tunnel port (a representative or not).
  bool is_tunnel_dp_port(uint32_t dp_port);
  // Every tunnel port, by class (for tnl/ports-show).
  std::vector<TnlPortRef> all();

 private:
  struct ClassKey {
    bool gre;
    uint16_t udp_port;  // host order, 0 for GRE
    auto operator<=>(const ClassKey&) const = default;
  };
  void refresh();
  bool valid(const TnlPortRef& r) const;

  const BridgeMap& bridges_;
  bool dirty_ = true;
  std::map<ClassKey, std::vector<TnlPortRef>> classes_;  // each sorted by dp_port
  std::map<uint32_t, ClassKey> class_of_;                 // dp_port -> class
};

}  // namespace dps::ofproto
