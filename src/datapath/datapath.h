// datapath.h - the datapath facade used by the daemon and ofproto.
//
// What: owns the mbuf pool, the ports (numbered 0..kMaxPorts-1; the daemon
// numbers them from 1 like OpenFlow) and the PMD threads; assigns rx queues
// to PMDs; installs, modifies, removes and dumps datapath flows; hands misses
// to the slow path and executes its verdicts on the PMD that missed; reports
// PMD and port statistics.
//
// Design: every change to a PMD goes through its command ring. The *_sync
// calls post and then wait for the PMD's completion (control-plane API for the
// config file, dpctl-style debugging and tests). The async calls (post_*)
// return immediately; poll() reaps completions, frees retired flows and
// commands. Flows are identified by a ufid chosen by the caller; one ufid may
// be installed on several PMDs (one DpFlow each).
//
// Thread-safety: one control thread owns a Datapath (the ofproto thread in
// dpswitchd). Nothing here may be called from a PMD. Statistics getters read
// relaxed counters and may run concurrently with forwarding.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../netdev/mbuf_pool.h"
#include "../netdev/netdev.h"
#include "dp_flow.h"
#include "pmd_thread.h"
#include "upcall.h"

namespace dps::datapath {

struct DatapathConfig {
  std::vector<unsigned> pmd_lcores = {1};  // one PMD per lcore, pinned
  unsigned n_mbufs = netdev::kMinMbufs;    // pool size (rounded up to 2^k - 1)
  uint32_t max_flows_per_pmd = kFlowArenaDefaultMax;
  uint32_t emc_insert_inv_prob = 100;
  bool smc_enabled = true;
};

struct FlowSpec {
  FlowKey key;  // masked here
  FlowMask mask;
  DpActions actions;
  uint64_t ufid = 0;
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

struct RxqAssignment {
  uint32_t port_no;
  std::string port;
  uint16_t queue;
  unsigned pmd;
  uint64_t packets;
  uint64_t cycles;
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
  netdev::MbufPool& pool() { return *pool_; }

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
  int post_install(unsigned pmd, const FlowSpec& spec);
  // Asks `pmd` to execute actions on pkts (the first packets of a miss).
  // Takes ownership of the packets. Returns false (and frees them) if the
  // command ring is full.
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

  // --- Statistics -----------------------------------------------------------
  std::vector<PmdStatsView> pmd_stats() const;  // relative to the last clear
  void clear_pmd_stats();

 private:
  struct FlowRecord {
    FlowSpec spec;
    std::vector<std::pair<unsigned, DpFlow*>> instances;  // (pmd, flow)
  };
  PmdCommand* new_command(PmdCmdType type);
  void post(unsigned pmd, PmdCommand* cmd);
  void wait_for(unsigned pmd, PmdCommand* cmd);
  void complete(unsigned pmd, PmdCommand* cmd);
  void push_port_tables();
  int install_on(unsigned pmd, const FlowSpec& spec, FlowRecord& rec, bool wait);

  DatapathConfig cfg_;
  std::unique_ptr<netdev::MbufPool> pool_;
  std::vector<std::unique_ptr<PmdThread>> pmds_;
  std::map<uint32_t, netdev::NetdevPtr> ports_;
  std::vector<RxqAssignment> rxq_assignment_;
  std::map<uint64_t, FlowRecord> flows_;
  std::vector<std::array<uint64_t, kNumPmdCounters>> stats_base_;
  std::vector<std::pair<uint64_t, uint64_t>> rxq_base_;  // (packets, cycles) at the last clear
  std::vector<InstallFailure> failed_installs_;
  uint64_t next_seq_ = 1;
  bool started_ = false;
};

}  // namespace dps::datapath
