// revalidator.h - keeps installed megaflows true to the rules and the MAC
// table, rolls their counters up into the rules, and expires idle ones.
//
// What: after a flow-mod / group-mod, the Revalidator finds the ukeys the
// change may affect, re-translates each (no learning) and then keeps,
// modifies (same mask or looser, new actions) or deletes (the new
// translation needs bits the megaflow does not match on) its megaflow; it
// returns only after the PMDs applied the changes and flushed what they had
// queued (Datapath barrier), so no packet leaves by the old actions once a
// flow-mod call returned. MAC-table changes (learned, moved, expired,
// evicted, flushed) re-translate the ukeys that looked that entry up. A
// periodic sweep, a slice per round, reads each megaflow's counters, adds
// the delta to the rules it came from (OpenFlow rule statistics and idle
// timeouts), refreshes the MAC entries its traffic keeps alive (a megaflow
// hides its packets from NORMAL's learning), and removes megaflows idle for
// idle_ms (default 10 s).
//
// Design: which ukeys a change may affect, from the dependencies xlate
// recorded (ukey.h):
//   - rule modified or removed: the ukeys whose translation went through it;
//   - rule added to table T with priority P: the ukeys that looked up T and
//     matched there a rule of priority <= P (or none), and, when the packet
//     looked up was the unmodified key, whose megaflow overlaps the new
//     rule's match; a lookup after header or metadata rewrites counts as
//     affected (conservative);
//   - group changed: the ukeys that executed (or referenced) it;
//   - MAC entry (mac, vlan) changed: the ukeys NORMAL looked it up for;
//   - tunnel state (on_tunnel_changes, from TunnelContext::take_changes):
//     a route or internal-port address change, the ukeys that routed an
//     encapsulation or checked an internal port for decapsulation; a
//     neighbour (bridge, IP) learned / changed / expired / flushed (or
//     still missing: the periodic retry), the ukeys that looked it up; the
//     TLV table, everything;
//   - anything else (ports, table config): revalidate_all() (which also
//     has the tunnel port index rebuilt before re-translating).
// A ukey is re-translated from its entry bridge (the owner of its in_port,
// BridgeMap); one whose entry bridge is gone is deleted. Rule, table and
// MAC changes name the bridge they happened in.
// Verdict per ukey, as OVS revalidate_ukey(): new mask has bits outside the
// megaflow's mask -> delete (the megaflow is too wide now); else actions
// differ -> modify; else keep. Counters are rolled up before re-translation
// so the old rules get the packets they forwarded.
//
// Thread-safety: the ofproto thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "bridge.h"
#include "dp_interface.h"
#include "pipeline.h"
#include "tunnel_context.h"
#include "ukey.h"

namespace dps::ofproto {

// Megaflows idle this long are removed (OVS's max-idle default).
inline constexpr int64_t kDefaultFlowIdleMs = 10'000;
// Ukeys a sweep step looks at: ~0.5 ms of counter reads, so a round of the
// ofproto thread stays short while a pass over 200k flows takes ~100 rounds.
inline constexpr size_t kSweepSlice = 2048;

struct RevalidatorStats {
  uint64_t revalidated = 0;   // re-translations
  uint64_t modified = 0;      // megaflows given new actions
  uint64_t deleted = 0;       // megaflows removed by revalidation
  uint64_t idle_expired = 0;  // megaflows removed by the idle timeout
  uint64_t vanished = 0;      // ukeys whose datapath flow was gone
  uint64_t barriers = 0;
  uint64_t sweeps = 0;        // full passes completed
  uint64_t changes = 0;       // flow-mods / group-mods / MAC batches handled
  uint64_t change_ns_total = 0;
  uint64_t change_ns_max = 0;
};

class Revalidator {
 public:
  Revalidator(const BridgeMap& bridges, UkeyTable& ukeys, DpInterface& dp, ControllerEventTable& events,
              int64_t idle_ms = kDefaultFlowIdleMs);

  // Each returns the number of megaflows modified or deleted, after the
  // PMDs applied them (barrier when non-zero).
  // `bridge`: the bridge whose pipeline / MAC table changed.
  size_t on_flow_mod(const Bridge& bridge, const FlowModResult& res, int64_t now_ms);
  size_t on_groups_changed(const std::vector<uint32_t>& group_ids, int64_t now_ms);
  size_t on_mac_changes(const Bridge& bridge, const std::vector<MacChange>& changes, bool overflow,
                        int64_t now_ms);
  size_t revalidate_all(int64_t now_ms);
  size_t on_tunnel_changes(const TnlChanges& changes, int64_t now_ms);
  // The tunnel state translations use (its port index is invalidated by
  // revalidate_all: ports changed). Null: none.
  void set_tunnels(TunnelContext* t) { tnl_ = t; }
  // Called with each megaflow's counter deltas as they are rolled up.
  void set_flow_stats_hook(FlowStatsHook h) { stats_hook_ = std::move(h); }
  // Removes the megaflows that entered through `bridge` or went through it
  // (tables, MAC entries): before the bridge is destroyed. Returns how many.
  size_t forget_bridge(const Bridge& bridge, int64_t now_ms);

  // One slice of the periodic pass (roll-up, learning refresh, idle
  // expiry) over up to `budget` ukeys. Returns true when the slice
  // completed a full pass.
  bool sweep(int64_t now_ms, size_t budget = kSweepSlice);
  // Rolls every ukey's counters up into its rules now (flow stats requests).
  void roll_up_all(int64_t now_ms);
  // Removes every megaflow the miss path installed.
  void flush();

  void set_idle_ms(int64_t ms) { idle_ms_ = ms; }
  int64_t idle_ms() const { return idle_ms_; }
  const RevalidatorStats& stats() const { return stats_; }

 private:
  enum class Verdict : uint8_t {
    kKeep,    // same actions, megaflow still exact enough
    kModify,  // same or looser mask, new actions
    kDelete,  // the new translation needs bits the megaflow ignores
  };
  bool affected_by_add(const Bridge& b, const Ukey& u, const Rule& r) const;
  size_t revalidate(std::vector<Ukey*>& set, int64_t now_ms);
  // The ukeys that recorded any of deps.
  size_t revalidate_deps(const std::vector<uint64_t>& deps, int64_t now_ms);
  Verdict revalidate_one(Ukey* u, int64_t now_ms);
  // Reads u's datapath counters; false when its flow is gone.
  bool roll_up(Ukey* u, int64_t now_ms);
  void remove(Ukey* u);
  void note_change(uint64_t ns);

  const BridgeMap& bridges_;
  UkeyTable& ukeys_;
  DpInterface& dp_;
  ControllerEventTable& events_;
  TunnelContext* tnl_ = nullptr;
  int64_t idle_ms_;
  size_t cursor_ = 0;
  RevalidatorStats stats_;
  FlowStatsHook stats_hook_;
};

}  // namespace dps::ofproto
