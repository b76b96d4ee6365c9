// tnl_router.h - the tunnel routing table (Open vSwitch's ovs-router): for
// an encapsulated packet to a remote endpoint, which underlay bridge it
// leaves through, from which local address, towards which next hop; and
// which addresses are this host's tunnel endpoints.
//
// What: TnlRouter holds
//  - the internal ports (LocalPort: the kernel tap device named after a
//    bridge's internal port, with its MAC, MTU and addresses as the kernel
//    has them); each address gives a connected route (its prefix, on the
//    port's bridge, source = the address);
//  - user routes (`dpsctl tnl/route-add IP/PLEN BRIDGE [GW]`).
// lookup(dst) is a longest-prefix match over both, IPv4 and IPv6 apart
// (an address matches only routes of its family); at equal prefix length a
// user route wins over a connected one. A user route's source address is
// chosen at lookup time among its bridge's addresses of the family: the
// first whose subnet holds the next hop, else the first one.
//
// Design: routes are few (tens); they live in one vector sorted by prefix
// length (longest first, user before connected), so lookup is a scan that
// stops at the first match. Local ports are indexed by datapath port
// number, because translation asks "is this output port an internal
// port?" for every output. version() changes whenever a lookup or a local
// address query could answer differently.
//
// Thread-safety: the ofproto thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mac_learning.h"
#include "tunnel_config.h"

namespace dps::ofproto {

// One address of an internal port.
struct LocalAddr {
  IpAddr ip;
  uint8_t plen = 0;
  bool operator==(const LocalAddr&) const = default;
};

// An internal port of a bridge as the kernel shows its tap device.
struct LocalPort {
  std::string bridge;  // bridge name
  std::string name;    // port name = kernel device name
  uint32_t of_port = 0;
  uint32_t dp_port = 0;
  MacAddr mac{};       // all zero: unknown
  uint16_t mtu = 1500;
  std::vector<LocalAddr> addrs;
  bool has_addr(const IpAddr& ip) const;
  bool operator==(const LocalPort&) const = default;
};

struct TnlRoute {
  IpAddr prefix;  // host bits zero
  uint8_t plen = 0;
  std::string bridge;
  IpAddr gw;      // zero: the destination is on the link
  bool user = false;  // tnl/route-add; else connected (an internal port's address)
  IpAddr src;     // connected routes: the address that made it
};

struct RouteResult {
  const TnlRoute* route = nullptr;
  const LocalPort* port = nullptr;  // the internal port owning src
  IpAddr src;
  IpAddr next_hop;  // the gateway, or the destination itself
};

// IP helpers (either family; a and the prefix must be of the same family).
IpAddr ip_from_v4(uint32_t be);        // network order
IpAddr ip_from_v6(const uint8_t* p);  // 16 bytes
bool ip_in_prefix(const IpAddr& a, const IpAddr& prefix, uint8_t plen);
IpAddr ip_masked(const IpAddr& a, uint8_t plen);
// "10.0.0.0/24" / "2001:db8::/64"; a bare address is a host route. Errors
// name the problem ("10.0.0.1/24: host bits set (network is 10.0.0.0/24)").
std::optional<std::string> parse_prefix(const std::string& text, IpAddr* prefix, uint8_t* plen);

class TnlRouter {
 public:
  // Replaces the internal ports (their connected routes follow). True when
  // anything changed.
  bool set_local_ports(std::vector<LocalPort> ports);
  const std::vector<LocalPort>& local_ports() const { return ports_; }
  // The internal port on datapath port dp_port, or null.
  const LocalPort* local_port(uint32_t dp_port) const;
  // The internal port that has address ip, or null.
  const LocalPort* port_with_addr(const IpAddr& ip) const;

  // User routes. add_route: error text for a bad route (family mismatch,
  // duplicate prefix); the bridge's existence is the caller's to check.
  std::optional<std::string> add_route(const IpAddr& prefix, uint8_t plen, const std::string& bridge,
                                       const IpAddr& gw);
  bool del_route(const IpAddr& prefix, uint8_t plen);
  // Longest-prefix match. Null with *why set when no route (or no source
  // address) exists.
  std::optional<RouteResult> lookup(const IpAddr& dst, std::string* why = nullptr) const;
  // Every route, in lookup order.
  const std::vector<TnlRoute>& routes() const { return routes_; }
  uint64_t version() const { return version_; }

 private:
  void rebuild();
  const LocalPort* source_for(const TnlRoute& r, const IpAddr& next_hop, IpAddr* src) const;

  std::vector<LocalPort> ports_;
  std::unordered_map<uint32_t, size_t> by_dp_;  // dp_port -> index in ports_
  std::vector<TnlRoute> user_;
  std::vector<TnlRoute> routes_;  // user_ + connected, lookup order
  uint64_t version_ = 0;
};

}  // namespace dps::ofproto
