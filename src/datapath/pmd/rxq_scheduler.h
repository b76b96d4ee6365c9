// rxq_scheduler.h - which PMD polls which rx queue, the load history behind
// that choice, PMD auto load balance, and the PMD set itself.
//
// What: RxqScheduler assigns every rx queue of every port to a PMD under the
// configured policy (RxqPolicy: pmd-rxq-assign, pmd-rxq-isolate, each
// port's pmd-rxq-affinity, auto load balance), hands each PMD its rx queue
// list and the tx port table, and reports the assignment with each queue's
// packets, cycles and measured usage. tick() keeps a per-queue history of
// processing cycles (kHistory slots of policy.slot_ms each, as OVS's six
// 10 s intervals) and, when a PMD has been over the load threshold for the
// whole history, runs a dry-run placement and moves queues if that improves
// the variance of the PMD loads by the improvement threshold (at most once
// per auto_lb_interval_ms). It also checks and builds the PMD set
// (check_pmd_lcores, make_pmds) for the Datapath.
//
// Design: the placement itself is rxq_placement.h (pure). A new assignment
// is installed in two steps when queues move: first every PMD drops the
// queues it is losing (and waits), then every PMD takes its new list; a
// queue is therefore never polled by two PMDs, and while it moves its
// packets wait in the device's ring (nothing is dropped unless the ring
// overflows in that time, which takes a few hundred microseconds at most).
// A PMD restarts its per-queue counters when it takes a new list, so the
// counters are folded into the history (keyed by port and queue, not by
// position) before every change.
//
// Thread-safety: the Datapath's control thread. assignment() reads the
// PMDs' relaxed counters and may run while they forward.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netdev.h"
#include "pmd_channel.h"
#include "pmd_thread.h"
#include "rxq_placement.h"

namespace dps::datapath {

struct RxqAssignment {
  uint32_t port_no;
  std::string port;
  uint16_t queue;
  unsigned pmd;
  uint64_t packets;     // since the last clear_stats()
  uint64_t cycles;      // since the last clear_stats()
  double usage_pct;     // share of its PMD's cycles over the history window
  bool pinned;
  bool isolated_pmd;
};

struct RxqPolicy {
  PlacementPolicy placement;
  std::map<uint32_t, std::map<uint16_t, unsigned>> affinity;  // port_no -> queue -> core
  bool auto_lb = true;                   // on by default (OVS ships it off)
  unsigned auto_lb_load_threshold = 95;  // %, a PMD this busy for the whole history
  unsigned auto_lb_improvement_threshold = 25;  // %, variance improvement needed
  uint64_t auto_lb_interval_ms = 60000;  // at most one automatic move per interval
  uint64_t slot_ms = 10000;              // one history slot
  bool operator==(const RxqPolicy&) const = default;
};

struct RebalanceResult {
  bool moved = false;
  int gain_pct = 0;     // dry run's variance improvement
  unsigned queues_moved = 0;
  std::string reason;   // why (not) moved, for the log and dpsctl
};

class RxqScheduler {
 public:
  static constexpr unsigned kHistory = 6;

  // Why `lcores` cannot run PMDs (empty, a duplicate, not an EAL lcore of
  // this process, the main lcore), or "" when it can.
  static std::string check_pmd_lcores(const std::vector<unsigned>& lcores);
  // One PMD per lcore, indexes 0..n-1, otherwise configured as `proto`.
  static std::vector<std::unique_ptr<PmdThread>> make_pmds(const std::vector<unsigned>& lcores,
                                                           const PmdConfig& proto);

  RxqScheduler(const std::vector<std::unique_ptr<PmdThread>>& pmds, PmdChannel& channel);

  // Places the rx queues of `ports` by the policy and the measured loads
  // and installs the lists and the tx table on every PMD; returns once
  // each has taken them (a port missing from `ports` is no longer polled
  // or sent to).
  void assign(const std::map<uint32_t, netdev::NetdevPtr>& ports);
  // The PMD set was rebuilt: forget the old PMDs' lists and loads.
  void reset_pmds();
  void set_policy(const RxqPolicy& p) { policy_ = p; }
  const RxqPolicy& policy() const { return policy_; }
  // Dry run, then the move when forced (pmd-rxq-rebalance) or worth it.
  RebalanceResult rebalance(const std::map<uint32_t, netdev::NetdevPtr>& ports, bool force);
  // Called often by the control thread: closes a history slot every
  // policy.slot_ms and runs auto load balance. Returns true when it moved
  // queues.
  bool tick(const std::map<uint32_t, netdev::NetdevPtr>& ports);
  // Closes the current history slot now (tests; tick() does it on time).
  void end_slot();

  std::vector<RxqAssignment> assignment() const;
  // Each PMD's busy share (%) in every completed history slot, oldest first.
  std::vector<std::vector<double>> pmd_load_history() const;
  void clear_stats();

 private:
  struct QueueLoad {
    uint64_t slot[kHistory] = {};
    uint64_t cur = 0;       // cycles in the open slot
    uint64_t last_raw = 0;  // the PMD's counter when last folded
  };
  struct Placed {
    uint32_t port_no;
    std::string port;
    uint16_t queue;
    unsigned pmd;
    unsigned pos;  // index in that PMD's list (its rxq_stats slot)
    bool pinned;
  };
  using Key = std::pair<uint32_t, uint16_t>;

  void fold_counters();
  std::vector<RxqDemand> demands(const std::map<uint32_t, netdev::NetdevPtr>& ports) const;
  Placement current_placement(const std::vector<RxqDemand>& d) const;
  unsigned install(const std::map<uint32_t, netdev::NetdevPtr>& ports,
                   const std::vector<RxqDemand>& d, const Placement& pl);
  void post_lists(std::vector<std::vector<RxqRef>> rx,
                  const std::map<uint32_t, netdev::NetdevPtr>& ports);
  uint64_t history(const QueueLoad& q) const;
  bool overloaded() const;

  const std::vector<std::unique_ptr<PmdThread>>& pmds_;
  PmdChannel& channel_;
  RxqPolicy policy_;
  std::vector<Placed> placed_;
  std::vector<bool> isolated_;
  std::map<Key, QueueLoad> loads_;
  std::vector<std::pair<uint64_t, uint64_t>> base_;  // (packets, cycles) at the last clear
  // History slots: TSC length, and each PMD's busy cycles in it.
  uint64_t slot_tsc_[kHistory] = {};
  std::vector<std::vector<uint64_t>> pmd_busy_;  // [pmd][slot]
  std::vector<uint64_t> pmd_busy_last_;
  unsigned slot_ = 0, filled_ = 0;
  uint64_t slot_start_tsc_ = 0;
  uint64_t last_lb_tsc_ = 0;
};

}  // namespace dps::datapath
