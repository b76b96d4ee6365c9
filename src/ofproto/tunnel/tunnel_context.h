// tunnel_context.h - everything native tunneling needs on the control
// side, in one object per datapath (DpBacker owns it; every attached
// Bridge points at it through Bridge::tnl, so each translation, trace and
// packet-out sees it).
//
// What: TunnelContext holds the router (routes and the internal ports'
// addresses), the neighbour cache, the tunnel port index, the TLV table
// (set_tlv_table: the switch's; null = no mappings), the tunnel counters,
// and two queues the control loop drains:
//  - requests (take_requests): ARP / ND requests translation asked for
//    when an encapsulation's next hop was unknown, each to be sent as a
//    packet-out with output:TABLE into the underlay bridge from its
//    internal port. request_neigh() queues at most one per neighbour per
//    kNeighRetryMs; while a neighbour stays wanted (a translation asked for
//    it in the last kNeighWantMs) run() re-revalidates its megaflows every
//    kNeighRetryMs, which asks again;
//  - changes (take_changes): the dependency keys (tnl_dep_*) whose
//    megaflows must be re-translated: routes (any route or local-address
//    change; decapsulation depends on the addresses too), a neighbour
//    (bridge, IP) that was learned, changed, expired or flushed, or
//    everything (the TLV table changed).
// run() is the periodic part: re-reads the kernel's addresses when
// netlink says they changed or a port came or went (refresh_addresses),
// ages neighbours once a second, retries wanted neighbours, watches the
// TLV table's version.
//
// Design: dependency keys, not a global version: a neighbour change
// re-translates only the megaflows that looked that neighbour up. Costs
// are per control-loop round and per translation, never per packet.
//
// Thread-safety: the ofproto thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bridge.h"
#include "tlv_table.h"
#include "tnl_kernel.h"
#include "tnl_neigh.h"
#include "tnl_ports.h"
#include "tnl_router.h"

namespace dps::ofproto {

inline constexpr int64_t kNeighRetryMs = 1000;
inline constexpr int64_t kNeighWantMs = 3000;
inline constexpr size_t kMaxTnlRequests = 256;

// Dependency keys of translations on tunnel state (UkeyTable indexes them
// like its own).
uint64_t tnl_dep_route();
uint64_t tnl_dep_neigh(const std::string& bridge, const IpAddr& ip);

// Counters (packets, when the translation accounts; requests sent).
struct TnlStats {
  uint64_t decap_flows = 0;       // translations that emitted tnl_pop
  uint64_t encap_flows = 0;       // translations that emitted tnl_push
  uint64_t rx_no_port = 0;        // decapsulated, no tunnel port accepts it: dropped
  uint64_t rx_bad_options = 0;    // unknown critical / mis-sized / malformed Geneve options: dropped
  uint64_t tx_no_remote = 0;      // remote_ip=flow without tun_dst: dropped
  uint64_t tx_no_route = 0;       // no route (or no source address): dropped
  uint64_t tx_no_neigh = 0;       // next hop's MAC unknown: dropped, request sent
  uint64_t tx_errors = 0;         // header could not be built / underlay unsupported: dropped
  uint64_t neigh_requests = 0;    // ARP / ND requests queued
  uint64_t neigh_snooped = 0;     // neighbour entries learned or changed by snooping
};

// An ARP / ND request to send into `bridge` as received on its internal port.
struct TnlRequest {
  std::string bridge;
  uint32_t of_in_port = 0;
  std::vector<uint8_t> frame;
};

struct TnlChanges {
  bool all = false;           // re-translate everything
  std::vector<uint64_t> deps;  // else: the megaflows with these dependencies
  bool empty() const { return !all && deps.empty(); }
};

class TunnelContext {
 public:
  explicit TunnelContext(const BridgeMap& bridges);
  ~TunnelContext();

  TnlRouter& router() { return router_; }
  const TnlRouter& router() const { return router_; }
  TnlNeigh& neigh() { return neigh_; }
  const TnlNeigh& neigh() const { return neigh_; }
  TnlPorts& ports() { return ports_; }
  void set_tlv_table(const TlvTable* tlv);
  const TlvTable* tlv() const { return tlv_; }
  TnlStats& stats() { return stats_; }
  const TnlStats& stats() const { return stats_; }
  // The live bridge of that name, or null.
  Bridge* bridge_by_name(const std::string& name) const;

  // --- translation side -------------------------------------------------------
  // Queues an ARP (IPv4) or ND (IPv6) request for next_hop from (src, port's
  // MAC) into the port's bridge, unless one went out less than
  // kNeighRetryMs ago; marks the neighbour wanted. True when queued.
  bool request_neigh(const LocalPort& port, const IpAddr& src, const IpAddr& next_hop, int64_t now_ms);
  // What snooping saw on output to internal port `port` (learned when the
  // packet is gratuitous or addressed to one of the port's addresses).
  void snooped(const LocalPort& port, const NeighObservation& o, int64_t now_ms);

  // --- control loop -------------------------------------------------------------
  // Ports came, went or changed: rebuild the port index and re-read the
  // kernel's addresses on the next run().
  void ports_changed();
  // Re-reads the internal ports' addresses now (a change becomes a route change).
  void refresh_addresses();
  // Replaces how addresses are read (tests; default kernel_local_ports).
  void set_address_source(std::function<std::vector<LocalPort>(const BridgeMap&)> fn);
  void run(int64_t now_ms);
  std::vector<TnlRequest> take_requests();
  TnlChanges take_changes();
  bool has_work() const {
    return !requests_.empty() || routes_changed_ || all_changed_ || !retry_deps_.empty() || neigh_.has_changes();
  }

  // --- runtime commands (errors as text) ---------------------------------------
  std::optional<std::string> route_add(const std::string& prefix, const std::string& bridge,
                                       const std::string& gw);
  std::optional<std::string> route_del(const std::string& prefix);
  std::optional<std::string> neigh_set(const std::string& bridge, const std::string& ip, const std::string& mac);

 private:
  struct Want {
    int64_t requested_ms = -1;  // last request queued
    int64_t wanted_ms = 0;      // last translation that needed it
    int64_t retried_ms = 0;     // last re-revalidation
  };
  void retry_wanted(int64_t now_ms);

  const BridgeMap& bridges_;
  TnlRouter router_;
  TnlNeigh neigh_;
  TnlPorts ports_;
  const TlvTable* tlv_ = nullptr;
  uint64_t tlv_version_ = 0;
  TnlStats stats_;
  std::vector<TnlRequest> requests_;
  std::map<std::pair<std::string, IpAddr>, Want> wanted_;
  std::vector<uint64_t> retry_deps_;
  bool routes_changed_ = false;
  bool all_changed_ = false;
  bool addrs_dirty_ = true;
  uint64_t router_version_seen_ = 0;
  int64_t next_age_ms_ = 0;
  int64_t next_poll_ms_ = 0;
  std::function<std::vector<LocalPort>(const BridgeMap&)> addr_source_;
  std::unique_ptr<NetlinkWatch> netlink_;
};

}  // namespace dps::ofproto
