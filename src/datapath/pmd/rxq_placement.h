// rxq_placement.h - which PMD should poll each rx queue, and whether moving
// queues is worth it (PMD auto load balance).
//
// What: the pure decision behind RxqScheduler: place_rxqs() maps rx queues
// with their measured load to PMDs under OVS's pmd-rxq-assign policies, and
// rebalance_gain() is the dry-run comparison of auto load balance. Also the
// parsers of the configuration text (pmd-rxq-assign, pmd-rxq-affinity).
//
// Design: as OVS 3.x (Documentation/topics/dpdk/pmd.rst):
// - pinned queues (pmd-rxq-affinity) go to the PMD on their core first;
//   with isolate (the default) that PMD then takes no other queue;
// - roundrobin: the other queues in port/queue order, PMDs in turn;
// - cycles: queues sorted by load, highest first, PMDs walked up then down
//   (0,1,..,n-1,n-1,..,0) so the heaviest queues land on different PMDs and
//   every PMD gets about as many queues;
// - group: queues sorted by load, each to the PMD whose estimated load
//   (everything placed on it so far, pinned queues included) is lowest,
//   fewer queues breaking ties: purely load-based;
// - a queue goes to a PMD of its NUMA node when there is one (any node
//   otherwise, with a warning); a PMD takes at most max_per_pmd queues.
// Loads are any additive figure (cycles over the history window).
//
// Thread-safety: pure functions on values; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dps::datapath {

enum class RxqAssignMode { kRoundRobin, kCycles, kGroup };

std::optional<RxqAssignMode> parse_rxq_assign(std::string_view text);
const char* rxq_assign_name(RxqAssignMode m);

// "queue:core,queue:core" (Interface other_config:pmd-rxq-affinity) into
// queue -> core. nullopt and *error on a malformed entry or a queue given
// twice.
std::optional<std::map<uint16_t, unsigned>> parse_rxq_affinity(std::string_view text,
                                                                std::string* error);

struct RxqDemand {
  uint32_t port_no;
  uint16_t queue;
  int numa = -1;            // -1: any node
  uint64_t load = 0;        // measured (e.g. cycles over the history)
  int pinned_lcore = -1;    // pmd-rxq-affinity, -1: none
};

struct PmdSlot {
  unsigned lcore;
  int numa = -1;
};

struct PlacementPolicy {
  RxqAssignMode mode = RxqAssignMode::kCycles;
  bool isolate = true;  // a PMD with a pinned queue takes no other
  unsigned max_per_pmd = 64;
  bool operator==(const PlacementPolicy&) const = default;
};

struct Placement {
  std::vector<int> pmd;                // per demand: PMD index, -1 = not polled
  std::vector<bool> isolated;          // per PMD
  std::vector<std::string> warnings;   // one line each, for the log
};

Placement place_rxqs(const std::vector<RxqDemand>& queues, const std::vector<PmdSlot>& pmds,
                     const PlacementPolicy& policy);

// Estimated load of each PMD under `placement`.
std::vector<uint64_t> pmd_loads(const std::vector<RxqDemand>& queues, const Placement& placement,
                                size_t n_pmds);
// Auto load balance's dry run: the improvement in % of the variance of the
// non-isolated PMDs' loads from `current` to `proposed` (0 when there is
// nothing to improve; can be negative when the proposal is worse).
int rebalance_gain_pct(const std::vector<RxqDemand>& queues, const Placement& current,
                       const Placement& proposed);

}  // namespace dps::datapath
