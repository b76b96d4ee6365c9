// datapath.h - the datapath facade used by the daemon and ofproto.
//
// What: owns the mbuf pool, the ports (numbered 0..kMaxPorts-1; the daemon
// numbers them from 1 like OpenFlow) and the PMD threads; installs,
// modifies, removes and dumps datapath flows; hands misses to the slow path
// and executes its verdicts on the PMD that missed; meters; reports PMD and
// port statistics.
//
// Design: a facade over three pieces. Every change to a PMD is a command
// through PmdChannel (pmd_channel.h: posting with a backlog, the command
// free list, completions, and when a retired DpFlow may be freed). Rx queues
// go to PMDs through RxqScheduler (rxq_scheduler.h), which also checks and
// builds the PMD set. What was installed is kept per ufid as a FlowRecord
// (flow_record.h). The *_sync calls post and then wait for the PMD's
// completion (control-plane API for the config file, dpctl-style debugging
// and tests). The async calls (post_*) return immediately; poll() reaps
// completions. Flows are identified by a ufid chosen by the caller; one ufid
// may be installed on several PMDs (one DpFlow each). The miss path's posts
// (install, execute) fail once a PMD's backlog holds kCommandBacklogMax
// commands; modify / remove / sync are always accepted.
//
// Thread-safety: one control thread owns a Datapath (the ofproto thread in
// dpswitchd). Nothing here may be called from a PMD. Statistics getters read
// relaxed counters and may run concurrently with forwarding.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../netdev/mbuf_pool.h"
#include "../netdev/netdev.h"
#include "conntrack.h"
#include "dp_flow.h"
#include "flow_record.h"
#include "dp_bond.h"
#include "meter.h"
#include "pmd_channel.h"
#include "pmd_thread.h"
#include "rxq_scheduler.h"
#include "upcall.h"

namespace dps::datapath {

// The connection tracker's bucket arrays are sized for this many
// connections (2M buckets, 16 MiB): chains stay short up to about 1M and
// the PMDs' lookups find the bucket in one miss.
inline constexpr uint32_t kCtExpectedConns = 1u << 20;

struct DatapathConfig {
  std::vector<unsigned> pmd_lcores = {1};  // one PMD per lcore, pinned
  unsigned n_mbufs = netdev::kMinMbufs;    // pool size (rounded up to 2^k - 1)
  uint32_t max_flows_per_pmd = kFlowArenaDefaultMax;
  uint32_t emc_insert_inv_prob = 100;
  bool smc_enabled = true;
};

struct FlowStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t used_tsc = 0;  // latest over PMDs, 0 = never
  uint16_t tcp_flags = 0;
};

struct FlowDump {
  FlowSpec spec;
  FlowStats stats;
  std::vector<unsigned> pmds;
};

// An async install (post_install) the PMD refused (e.g. -EEXIST), reported
// once by take_failed_installs() after poll() reaped it.
struct InstallFailure {
  uint64_t ufid;
  unsigned pmd;
  int result;
};

struct PmdStatsView {
  unsigned pmd;
  unsigned lcore;
  std::array<uint64_t, kNumPmdCounters> counters;
  uint64_t max_iteration_cycles;
  uint32_t flows;
  uint32_t subtables;
  bool emc_active;
};

class Datapath {
 public:
  explicit Datapath(const DatapathConfig& cfg);
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  void start();  // launches the PMDs
  void stop();   // stops the PMDs (ports stay open)
  // Stops the PMDs, frees queued misses, removes every flow and closes every
  // port. Returns the mbufs still out of the pool afterwards: 0 unless
  // someone outside the datapath holds packets. Idempotent.
  unsigned shutdown();
  unsigned n_pmds() const { return static_cast<unsigned>(pmds_.size()); }
  const std::vector<unsigned>& pmd_lcores() const { return cfg_.pmd_lcores; }
  // Why `lcores` cannot run PMDs (empty, a duplicate, not an EAL lcore of
  // this process, the main lcore), or "" when it can.
  static std::string check_pmd_lcores(const std::vector<unsigned>& lcores);
  // Replaces the PMD threads by one per lcore of `lcores` (pmd-cpu-mask at
  // run time). The PMDs are stopped, their flows flushed and the threads
  // rebuilt; rx queues are placed again by the rxq policy, flows put on every PMD
  // (put_flow with pmd < 0: config file, dpctl) and meters are re-installed,
  // and the PMDs restart if they were running. Flows the miss path
  // installed are gone (flush the slow path's records first). Returns false
  // when `lcores` is already the PMD set; throws std::invalid_argument with
  // check_pmd_lcores()'s reason.
  bool set_pmd_lcores(const std::vector<unsigned>& lcores);
  netdev::MbufPool& pool() { return *pool_; }
  const netdev::MbufPool& pool() const { return *pool_; }

  // --- Ports -------------------------------------------------------------
  // Opens a port and gives its rx queues to PMDs. port_no 0 picks the lowest
  // free number >= 1. Throws netdev::NetdevError (which port, which devargs,
  // what DPDK said) or std::invalid_argument (number in use / out of range).
  uint32_t add_port(const netdev::PortConfig& cfg, uint32_t port_no = 0);
  // Adopts an already-created port object (tests: fakes, RingNetdev).
  uint32_t add_port(netdev::NetdevPtr port, uint32_t port_no = 0);
  // Stops polling it on every PMD, then closes it. Returns false if unknown.
  bool del_port(uint32_t port_no);
  netdev::Netdev* port(uint32_t port_no) const;
  std::optional<uint32_t> port_no(const std::string& name) const;
  std::vector<uint32_t> port_numbers() const;
  std::vector<RxqAssignment> rxq_assignment() const;
  // pmd-rxq-assign / -isolate / -affinity and auto load balance; with
  // `reassign` the queues are placed again under it at once.
  void set_rxq_policy(const RxqPolicy& policy, bool reassign);
  const RxqPolicy& rxq_policy() const { return rxqs_.policy(); }
  // pmd-rxq-rebalance: places every queue again by its measured load.
  RebalanceResult rebalance_rxqs();
  // History slots closed so far, as each PMD's busy % (oldest first).
  std::vector<std::vector<double>> pmd_load_history() const { return rxqs_.pmd_load_history(); }
  // Closes the open load-history slot now (tests; poll() does it on time).
  void end_rxq_slot() { rxqs_.end_slot(); }

  // --- Flows (synchronous) -------------------------------------------------
  // Installs on `pmd`, or on every PMD when pmd < 0. Returns 0, -EEXIST
  // (a flow with the same key and mask exists), -E2BIG (flow limit) or
  // -EINVAL (key has bits outside the mask: it is masked first, so never).
  int put_flow(const FlowSpec& spec, int pmd = -1);
  int modify_flow(uint64_t ufid, const DpActions& actions);
  int del_flow(uint64_t ufid);
  void flush_flows();
  std::vector<FlowDump> dump_flows();
  std::optional<FlowStats> flow_stats(uint64_t ufid) const;
  size_t n_flows() const { return flows_.size(); }

  // --- Miss path (async; for the ofproto thread) --------------------------
  unsigned drain_upcalls(unsigned pmd, Upcall* out, unsigned n);
  // Asks `pmd` to install spec (async); the result shows up in poll().
  // -EAGAIN: the PMD's command backlog is full (nothing posted).
  int post_install(unsigned pmd, const FlowSpec& spec);
  // post_install and post_execute of pkts with spec.actions in one command:
  // the PMD inserts the flow, then runs the packets with its actions. Takes
  // ownership of the packets in every case: they are executed (also when
  // the install itself fails, e.g. -E2BIG or -EEXIST, which is returned), or
  // freed with -EAGAIN when the PMD's command backlog is full.
  int post_install_execute(unsigned pmd, const FlowSpec& spec, uint32_t in_port,
                           rte_mbuf* const* pkts, unsigned n);
  // Asks `pmd` to execute actions on pkts (the first packets of a miss).
  // Takes ownership of the packets. Returns false (and frees them) if the
  // PMD's command backlog is full.
  bool post_execute(unsigned pmd, uint32_t in_port, rte_mbuf* const* pkts, unsigned n,
                    const DpActions& actions);
  // Async modify / remove of every instance of ufid (ordered after anything
  // posted before on the same PMDs). post_remove forgets the ufid at once;
  // its DpFlows are freed when the PMDs complete. -ENOENT if unknown.
  int post_modify(uint64_t ufid, const DpActions& actions);
  int post_remove(uint64_t ufid);
  // Returns once every PMD has applied everything posted before the call
  // AND flushed the tx batches of the iteration that applied it, so no
  // packet can leave by actions replaced before the barrier (two kSync
  // rounds: the second is taken by a later iteration than the first).
  void barrier();
  // Async installs refused by a PMD since the last call (after poll()).
  std::vector<InstallFailure> take_failed_installs();
  // Reaps completions of every PMD. Returns how many commands completed.
  unsigned poll();
  // Blocks until every command posted so far is applied by every PMD.
  void sync();
  // Tests only, while the PMDs are stopped: lets `pmd` apply what is queued
  // (one iteration's budget) without reaping the completions.
  void apply_pending(unsigned pmd);
  // DpFlow slots of `pmd` not yet back in its arena (installed, in flight,
  // or retired while a command naming them is outstanding).
  uint32_t flow_slots_in_use(unsigned pmd) const;

  // --- Meters (synchronous; meter.h) ----------------------------------------
  // Installs or replaces meter id (0..kMaxMeters-1) on every PMD; a
  // replaced meter's counters carry over, its buckets start full. Returns 0,
  // or -EINVAL (id out of range, more than kMaxMeterBands, a zero rate).
  int set_meter(uint32_t id, const DpMeterConfig& cfg);
  // Removes meter id from every PMD. Returns 0 or -ENOENT. Megaflows still
  // naming it pass their packets unmetered.
  int del_meter(uint32_t id);
  // Counters summed over the PMDs; nullopt when id is not set.
  std::optional<DpMeterStats> meter_stats(uint32_t id) const;

  // --- Sampling (kSample, sample_slots.h) -------------------------------------
  // A slot's counters summed over the PMDs (relaxed loads; any thread).
  // They survive set_pmd_lcores only as far as the PMDs do.
  SampleCounters sample_counters(unsigned slot) const;
  // --- Bonds (synchronous; dp_bond.h) -------------------------------------------
  // Installs or replaces bond id (0..kMaxBonds-1) on every PMD (a replaced
  // bond's bucket counters carry over). Returns 0 or -EINVAL.
  int set_bond(uint32_t id, const DpBondConfig& cfg);
  // Removes bond id from every PMD (its megaflows drop). 0 or -ENOENT.
  int del_bond(uint32_t id);
  // Packets sent per bucket, summed over the PMDs (empty when id is not set).
  std::vector<uint64_t> bond_bucket_tx(uint32_t id) const;

  // --- Statistics -----------------------------------------------------------
  std::vector<PmdStatsView> pmd_stats() const;  // relative to the last clear
  // Megaflows installed in the PMDs' classifiers right now, summed over the
  // PMDs (one relaxed load each; what `dpctl/show`'s flow count means).
  uint64_t installed_flows() const;
  void clear_pmd_stats();
  // TSC when those figures were last zeroed (clear_pmd_stats, or the PMDs'
  // creation): the start of the measurement window (OVS pmd-perf-show's).
  uint64_t stats_cleared_tsc() const { return stats_cleared_tsc_; }

  // --- Connection tracking (conntrack.h) -------------------------------------
  // The connection table the PMDs' ct actions share. The control thread
  // reads and flushes it; poll() expires a slice of it every 10 ms.
  conntrack::Conntrack& conntrack() { return *ct_; }
  const conntrack::Conntrack& conntrack() const { return *ct_; }
  // Milliseconds on the PMDs' conntrack clock (the TSC).
  int64_t ct_now_ms() const;

 private:
  PmdConfig pmd_config() const;  // cfg_ as a PMD's (index and lcore aside)
  void create_pmds();            // one per cfg_.pmd_lcores
  // PMDs stopped: frees the queued misses' packets, flushes every flow and
  // reaps what the PMDs completed.
  void drop_misses_and_flows();
  void drop_meter_instances();  // the PMDs that used them are gone
  // PmdChannel's report of an async install the PMD refused.
  void install_failed(unsigned pmd, DpFlow* flow, int result);
  // Allocates the DpFlow, fills it from rec and posts `cmd` (a new kInstall
  // when null) for it; with wait, returns the PMD's verdict.
  int install_on(unsigned pmd, FlowRecord& rec, bool wait, PmdCommand* cmd = nullptr);
  // One command per PMD, each waited for in turn and then released; `each`
  // fills the command before it is posted, `done` reads it after.
  template <typename Fill, typename Done>
  void on_every_pmd(PmdCmdType type, Fill each, Done done);

  void ct_sweep();  // from poll(): a slice of the table every 10 ms

  DatapathConfig cfg_;
  std::unique_ptr<conntrack::Conntrack> ct_;  // before pmds_: they hold a handle on it
  uint64_t ct_sweep_tsc_ = 0;
  std::unique_ptr<netdev::MbufPool> pool_;
  std::vector<std::unique_ptr<PmdThread>> pmds_;
  PmdChannel channel_;    // talks to pmds_
  RxqScheduler rxqs_;     // pmds_ through channel_
  std::map<uint32_t, netdev::NetdevPtr> ports_;
  std::unordered_map<uint64_t, FlowRecord> flows_;
  std::map<uint32_t, DpMeterConfig> meter_cfgs_;  // for set_pmd_lcores
  std::map<uint32_t, std::vector<DpMeter*>> meters_;  // id -> instance per PMD (PMD-owned while set)
  std::map<uint32_t, DpBondConfig> bond_cfgs_;       // for set_pmd_lcores
  std::map<uint32_t, std::vector<DpBond*>> bonds_;   // id -> instance per PMD (PMD-owned while set)
  std::vector<std::array<uint64_t, kNumPmdCounters>> stats_base_;
  uint64_t stats_cleared_tsc_ = 0;
  std::vector<InstallFailure> failed_installs_;
  bool started_ = false;
};

}  // namespace dps::datapath
