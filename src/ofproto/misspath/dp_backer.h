// dp_backer.h - the datapath side shared by every bridge of the daemon
// (Open vSwitch's dpif backer under several ofprotos).
//
// What: DpBacker owns the one DpInterface (the datapath), the installed-flow
// records (UkeyTable), the interned controller events, the miss path
// (UpcallHandler) and the Revalidator, and knows which bridge owns each
// datapath port (BridgeMap). Bridges (BackerBridge: the Ofproto objects above) attach to it; a miss
// is translated starting in the bridge that owns its in_port, a ukey is
// re-translated from that bridge, and packet-ins / removed rules go to the
// Ofproto of the bridge whose table produced them. run() is one round of
// the control loop for ALL bridges: upcalls, datapath completions, each
// bridge's timers (rule and MAC expiry, MAC-change revalidation), and a
// slice of the periodic sweep.
//
// Design: datapath port numbers are global (one datapath); OpenFlow port
// numbers are per bridge (Bridge::ports). The backer does not own the
// Ofprotos: an Ofproto attaches in its constructor and detaches in its
// destructor, which removes every megaflow that entered through the bridge
// or crossed it (patch ports), its ports' mapping, its queued packet-ins,
// and the patch ports of other bridges that point into it. An Ofproto built
// the one-bridge way (Ofproto(dp, cfg)) owns a private backer.
//
// Native tunneling: the backer owns the TunnelContext (tunnel_context.h)
// of its datapath; every attached bridge points at it (Bridge::tnl). A
// backer round also runs it: re-reads internal ports' addresses when they
// changed, ages neighbours, re-translates what tunnel changes affect
// (Revalidator::on_tunnel_changes) and sends the ARP / ND requests
// translation queued, each as a packet-out (output:TABLE) of the underlay
// bridge from its internal port. Port changes (map_port, attach, ...)
// have the context's port index and addresses refreshed.
//
// Thread-safety: the ofproto (control) thread only, like everything it owns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "bridge.h"
#include "dp_interface.h"
#include "revalidator.h"
#include "ukey.h"
#include "upcall_handler.h"

namespace dps::ofproto {

// A bridge attached to the backer: what the backer needs of the per-bridge
// switch above it (Ofproto implements it). Virtual calls per bridge per
// control-loop round or configuration change, never per packet.
class BackerBridge {
 public:
  virtual Bridge& bridge() = 0;
  virtual const Bridge& bridge() const = 0;
  // One round of the bridge's own timers (rule and MAC expiry, MAC-change
  // revalidation). Returns the work done.
  virtual unsigned run_bridge(int64_t now_ms) = 0;
  // Removes an OpenFlow port (a patch port whose peer bridge went away).
  virtual void remove_port(uint32_t of_port) = 0;
  // OFPT_PACKET_OUT semantics (Ofproto::packet_out): the tunnel code sends
  // its ARP / ND requests this way.
  virtual MaybeError packet_out(uint32_t of_in_port, std::span<const uint8_t> frame,
                                const ActionList& actions) = 0;
  // A slow-protocol frame (LACP) received on datapath port dp_port, a bond
  // member of this bridge.
  virtual void slow_protocol_rx(uint32_t /*dp_port*/, std::span<const uint8_t> /*frame*/) {}

 protected:
  ~BackerBridge() = default;
};

struct BackerConfig {
  int64_t flow_idle_ms = kDefaultFlowIdleMs;
  size_t flow_limit = kDefaultFlowLimit;
  UpcallConfig upcall;             // its flow_limit is overridden by flow_limit
  std::function<int64_t()> clock;  // ms; null = steady clock
};

class DpBacker {
 public:
  // Over a real datapath (Ofprotos read port details and mbufs from it).
  explicit DpBacker(datapath::Datapath& dp, BackerConfig cfg = {});
  // Over any DpInterface (tests).
  DpBacker(std::unique_ptr<DpInterface> dp, BackerConfig cfg);
  ~DpBacker();
  DpBacker(const DpBacker&) = delete;
  DpBacker& operator=(const DpBacker&) = delete;

  // --- Bridges (called by the Ofproto of each bridge) ---------------------------------------------
  void attach(BackerBridge& ofp);
  void detach(BackerBridge& ofp);
  // dp_port now belongs to ofp's bridge (misses on it start there).
  void map_port(uint32_t dp_port, BackerBridge& ofp);
  void unmap_port(uint32_t dp_port, const BackerBridge& ofp);
  // The Ofproto owning a datapath port; null when none.
  BackerBridge* ofproto_of_port(uint32_t dp_port) const;
  // The Ofproto of a bridge; null when it is not attached.
  BackerBridge* ofproto_of(const Bridge* b) const;
  const std::vector<BackerBridge*>& ofprotos() const { return ofprotos_; }
  const BridgeMap& bridges() const { return bridges_; }
  // Datapath bond ids (dp_bond.h), shared by the bridges: the lowest free
  // one, or -1 when all datapath::kMaxBonds are taken.
  int alloc_bond_id();
  void free_bond_id(uint32_t id);

  // --- Control loop ----------------------------------------------------------------
  // One non-blocking round for every bridge. Returns the work done.
  unsigned run();

  // --- Settings and parts ----------------------------------------------------------
  void set_flow_idle_ms(int64_t ms);
  void set_flow_limit(size_t n) { handler_->set_flow_limit(n); }
  void set_flow_restore_wait(bool on) { handler_->set_flow_restore_wait(on); }
  // NetFlow's accounting (FlowStatsHook): the miss path and the revalidator.
  void set_flow_stats_hook(const FlowStatsHook& h) {
    handler_->set_flow_stats_hook(h);
    revalidator_->set_flow_stats_hook(h);
  }
  int64_t now_ms() const;
  DpInterface& dp() { return *dp_; }
  datapath::Datapath* real_dp() const { return real_dp_; }
  UkeyTable& ukeys() { return ukeys_; }
  const UkeyTable& ukeys() const { return ukeys_; }
  ControllerEventTable& events() { return events_; }
  UpcallHandler& handler() { return *handler_; }
  const UpcallHandler& handler() const { return *handler_; }
  Revalidator& revalidator() { return *revalidator_; }
  const Revalidator& revalidator() const { return *revalidator_; }
  TunnelContext& tunnels() { return *tnl_; }
  const TunnelContext& tunnels() const { return *tnl_; }

 private:
  // The tunnel part of a round. Returns the work done.
  unsigned run_tunnels(int64_t now);
  void send_request(const TnlRequest& r);

  BackerConfig cfg_;
  datapath::Datapath* real_dp_ = nullptr;
  std::unique_ptr<DpInterface> dp_;
  BridgeMap bridges_;
  std::unique_ptr<TunnelContext> tnl_;  // reads bridges_
  std::vector<BackerBridge*> ofprotos_;  // attach order (the first is br0 in dpswitchd)
  UkeyTable ukeys_;
  ControllerEventTable events_;
  std::unique_ptr<UpcallHandler> handler_;
  std::unique_ptr<Revalidator> revalidator_;
  int64_t next_pass_ms_ = 0;
  bool pass_running_ = false;
  uint64_t request_errors_ = 0;
  std::vector<bool> bond_ids_ = std::vector<bool>(datapath::kMaxBonds, false);
};

}  // namespace dps::ofproto
