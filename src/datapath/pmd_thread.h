// pmd_thread.h - one poll-mode driver thread, pinned to one lcore.
//
// What: a PmdThread owns a set of rx queues, its exact-match cache, its
// megaflow classifier and the flows in it (FlowArena), a tx slot on every
// port (OutputBatcher), a command ring (control -> PMD) and a miss ring
// (PMD -> ofproto). Its loop, like OVS pmd_thread_main:
//   1. apply pending commands (the only place its tables change);
//   2. for each rx queue: rx_burst up to 32, then process_batch():
//      extract keys -> EMC -> megaflow classifier -> miss ring, then
//      single-output flows packet by packet and the others grouped by flow
//      (actions run once per group), into per-port tx batches;
//   3. flush the tx batches;
//   4. every kHousekeepingInterval iterations: re-rank subtables, sweep
//      the EMC, decide whether the EMC and the train check are worth
//      their cost (AdaptiveStage).
//
// Design: nothing in the loop allocates, locks or makes a syscall; one
// virtual call per rx burst and per tx burst. Counters are relaxed stores.
//
// Thread-safety: the public control methods (start, stop, commands(),
// misses(), arena(), counters(), rxq_stats()) are for the single control
// thread, except counters()/rxq_stats() which any thread may read.
// Everything else runs on the PMD's lcore.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../netdev/compiler.h"
#include "command_ring.h"
#include "exact_match_cache.h"
#include "flow_arena.h"
#include "megaflow_classifier.h"
#include "meter.h"
#include "miss_ring.h"
#include "output_batcher.h"
#include "pmd_counters.h"

struct rte_mbuf;

namespace dps::datapath {

// Housekeeping every 1024 iterations: ~0.1 ms when busy, rare enough to cost
// nothing per packet, often enough that a hot subtable is promoted quickly.
inline constexpr unsigned kHousekeepingInterval = 1024;
// An rx queue list longer than this is refused at assignment.
inline constexpr unsigned kMaxRxqsPerPmd = 64;
// Commands taken from the ring per dequeue.
inline constexpr unsigned kCommandsPerIteration = 32;
// Command budget of one iteration. While rx is busy: at most 256 commands
// and ~20 us (an install is ~0.1-0.5 us), so an install storm takes most of
// the PMD's time but no forwarding iteration grows beyond a few tens of us.
// After an idle iteration nothing waits in the rx queues: up to 1024
// commands and ~200 us, still far below the 1 ms iteration bound.
inline constexpr unsigned kCommandsBusyMax = 256;
inline constexpr unsigned kCommandsBusyUs = 20;
inline constexpr unsigned kCommandsIdleMax = 1024;
inline constexpr unsigned kCommandsIdleUs = 200;

// A fast-path stage that is skipped while it does not pay: a cache probe or
// a shortcut check that costs every packet a few cycles and saves the
// packets it succeeds for many. It stays active while at least min_permille
// of its tries succeed (judged over windows of at least min_sample tries,
// at housekeeping); once off, it is re-enabled for one housekeeping round in
// every probe_every, to notice when traffic changed. PMD-thread only.
class AdaptiveStage {
 public:
  AdaptiveStage(uint64_t min_permille, uint64_t min_sample, unsigned probe_every)
      : min_permille_(min_permille), min_sample_(min_sample), probe_every_(probe_every) {}
  bool active() const { return active_; }
  void record(uint64_t tries, uint64_t wins) {
    tries_ += tries;
    wins_ += wins;
  }
  // Once per housekeeping round (round = its sequence number). Returns true
  // when the stage has just been turned off. may_disable = false keeps it on
  // (and the window running).
  bool review(uint64_t round, bool may_disable = true) {
    if (!active_) {
      if (round % probe_every_ == 0) active_ = true;
      return false;
    }
    if (tries_ < min_sample_) return false;
    bool pays = wins_ * 1000 >= tries_ * min_permille_;
    tries_ = wins_ = 0;
    if (pays || !may_disable) return false;
    active_ = false;
    return true;
  }

 private:
  uint64_t min_permille_;
  uint64_t min_sample_;
  unsigned probe_every_;
  bool active_ = true;
  uint64_t tries_ = 0;
  uint64_t wins_ = 0;
};

struct PmdConfig {
  unsigned index = 0;        // 0..n_pmds-1; also its tx slot on every port
  unsigned lcore = 1;        // EAL lcore it is pinned to
  uint32_t max_flows = kFlowArenaDefaultMax;
  uint32_t emc_insert_inv_prob = 100;  // 1 in N classifier hits goes into the EMC
  bool smc_enabled = true;
};

struct RxqStats {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> cycles{0};  // processing cycles spent on this queue's bursts
};

class PmdThread {
 public:
  explicit PmdThread(const PmdConfig& cfg);
  ~PmdThread();
  PmdThread(const PmdThread&) = delete;
  PmdThread& operator=(const PmdThread&) = delete;

  // Control thread. start() launches the loop on the lcore; stop() asks it
  // to finish, waits, and flushes what it still holds.
  void start();
  void stop();
  bool running() const { return running_; }

  unsigned index() const { return cfg_.index; }
  unsigned lcore() const { return cfg_.lcore; }
  CommandRing& commands() { return commands_; }
  MissRing& misses() { return misses_; }
  FlowArena& arena() { return arena_; }
  const PmdCounters& counters() const { return counters_; }
  const RxqStats& rxq_stats(unsigned i) const { return rxq_stats_[i]; }
  // Longest iteration (TSC cycles) since the last reset_max_iteration().
  uint64_t max_iteration_cycles() const { return max_iter_.load(std::memory_order_relaxed); }
  void reset_max_iteration() { max_iter_reset_.store(true, std::memory_order_relaxed); }
  uint32_t n_flows() const { return n_flows_.load(std::memory_order_relaxed); }
  uint32_t n_subtables() const { return n_subtables_.load(std::memory_order_relaxed); }
  bool emc_active() const { return emc_active_pub_.load(std::memory_order_relaxed); }

  // Runs the loop on the calling thread until stop() (tests use it directly).
  void run();
  // One iteration (tests drive the PMD by hand without a thread).
  void run_once();
  // Control thread, only while the PMD is not running: applies what is queued.
  void drain_commands() { apply_commands(); }

 private:
  static int launch(void* arg);
  void apply_commands();
  void apply(PmdCommand* cmd);
  unsigned poll_rxq(unsigned i);
  void process_batch(uint32_t in_port, rte_mbuf** pkts, unsigned n);
  DPS_COLD void upcall_misses(rte_mbuf** pkts, const FlowKey* keys, const uint32_t* hashes,
                              uint32_t miss_mask, uint32_t train);
  void send_upcalls(const Upcall* ups, unsigned n);
  void execute_flow(DpFlow* flow, rte_mbuf** pkts, unsigned n, uint16_t tcp_flags);
  void execute_actions(const DpActions& acts, rte_mbuf** pkts, unsigned n, uint32_t in_port);
  DPS_COLD void upcall_userspace(const DpAction& act, rte_mbuf** pkts, unsigned n,
                                 uint32_t in_port, bool keep);
  void housekeeping();
  // Meters (meter.h): kMeter runs the group through meters_[id].
  unsigned run_meter(uint32_t id, rte_mbuf** pkts, unsigned n);
  void apply_meter(PmdCommand* cmd);

  PmdConfig cfg_;
  PmdCounters counters_;
  CommandRing commands_;
  MissRing misses_;
  FlowArena arena_;
  ExactMatchCache emc_;
  MegaflowClassifier cls_;
  OutputBatcher out_;
  PmdMeters meters_;

  std::vector<RxqRef> rxqs_;
  std::unique_ptr<RxqStats[]> rxq_stats_;
  uint64_t iteration_ = 0;
  uint64_t now_tsc_ = 0;  // TSC at the start of the current burst
  bool last_rx_idle_ = true;    // the previous iteration received nothing
  uint64_t cmd_busy_cycles_ = 0;  // kCommandsBusyUs in TSC cycles
  uint64_t cmd_idle_cycles_ = 0;  // kCommandsIdleUs in TSC cycles
  uint32_t batch_stamp_ = 0;
  AdaptiveStage emc_stage_;    // probe the EMC at all (kEmcMinHitPermille)
  AdaptiveStage train_stage_;  // look for burst trains (kTrainMinHitPermille)

  std::atomic<bool> stop_{false};
  std::atomic<bool> max_iter_reset_{false};
  std::atomic<uint64_t> max_iter_{0};
  std::atomic<uint32_t> n_flows_{0};
  std::atomic<uint32_t> n_subtables_{0};
  std::atomic<bool> emc_active_pub_{true};
  bool running_ = false;
};

}  // namespace dps::datapath
