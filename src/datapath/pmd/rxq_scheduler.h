// rxq_scheduler.h - which PMD polls which rx queue, and the PMD set itself.
//
// What: RxqScheduler assigns every rx queue of every port to a PMD, hands
// each PMD its rx queue list and the tx port table (one kSetPorts each,
// waited for), and reports the assignment with each queue's packets and
// cycles since the last clear. It also checks and builds the PMD set
// (check_pmd_lcores, make_pmds) for the Datapath's construction and its
// set_pmd_lcores (pmd-cpu-mask at run time).
//
// Design: round-robin over the queues in port-number order (OVS's
// "roundrobin"), at most kMaxRxqsPerPmd per PMD (the rest are logged and not
// polled). Every PMD restarts its per-queue counters when it takes a new
// list; clear_stats() keeps a per-queue baseline instead of touching the
// PMDs (as OVS pmd-stats-clear).
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

namespace dps::datapath {

struct RxqAssignment {
  uint32_t port_no;
  std::string port;
  uint16_t queue;
  unsigned pmd;
  uint64_t packets;
  uint64_t cycles;
};

class RxqScheduler {
 public:
  // Why `lcores` cannot run PMDs (empty, a duplicate, not an EAL lcore of
  // this process, the main lcore), or "" when it can.
  static std::string check_pmd_lcores(const std::vector<unsigned>& lcores);
  // One PMD per lcore, indexes 0..n-1, otherwise configured as `proto`.
  static std::vector<std::unique_ptr<PmdThread>> make_pmds(const std::vector<unsigned>& lcores,
                                                           const PmdConfig& proto);

  RxqScheduler(const std::vector<std::unique_ptr<PmdThread>>& pmds, PmdChannel& channel)
      : pmds_(pmds), channel_(channel) {}

  // Assigns the rx queues of `ports` to the PMDs and installs the lists and
  // the tx table on every PMD; returns once each has taken them (so a port
  // missing from `ports` is no longer polled or sent to).
  void assign(const std::map<uint32_t, netdev::NetdevPtr>& ports);
  // The current assignment, counters relative to the last clear_stats().
  std::vector<RxqAssignment> assignment() const;
  void clear_stats();

 private:
  const std::vector<std::unique_ptr<PmdThread>>& pmds_;
  PmdChannel& channel_;
  std::vector<RxqAssignment> assignment_;                // counters zero
  std::vector<std::pair<uint64_t, uint64_t>> base_;  // (packets, cycles) at the last clear
};

}  // namespace dps::datapath
