// pmd_thread.h - one poll-mode driver thread, pinned to one lcore.
//
// What: a PmdThread owns a set of rx queues, its exact-match cache, its
// megaflow classifier and the flows in it (FlowArena), a tx slot on every
// port (OutputBatcher), a command ring (control -> PMD) and a miss ring
// (PMD -> ofproto). Its loop, like OVS pmd_thread_main:
//   1. apply pending commands (the only place its tables change;
//      pmd_commands.cc, one function per command);
//   2. for each rx queue: rx_burst up to 32, then process_batch(), which
//      runs the Burst through four stages (pmd_stages.h), passing a PmdBatch
//      (keys, hashes, flows) and BatchMasks (which packets are where):
//        parse     keys and hashes; burst trains marked, not parsed;
//        classify  EMC -> SMC -> megaflow subtables; trains follow their
//                  predecessor; returns the misses;
//        upcall    the misses into the miss ring (cold);
//        execute   the whole burst on one flow at once, single-output flows
//                  packet by packet, the others grouped by flow (actions run
//                  once per group), into per-port tx batches;
//      At ct(), IP fragments are held (the shared conntrack::IpFrag)
//      until their datagram is complete, which is then tracked once and
//      its fragments sent on in order with its result ("Fragments" in
//      pmd_thread.cc);
//      A packet whose actions end in tnl_pop (tunnel_actions.h) is
//      stripped, its inner key extracted with the tunnel metadata and put
//      in the recirculation queue; after the burst, the queue is classified
//      and executed like a burst (SMC -> megaflow; the EMC never holds
//      tunnel keys: it compares words 0..15 only), up to kMaxRecircDepth
//      passes (tunnel in tunnel);
//   3. flush the tx batches;
//   4. every kHousekeepingInterval iterations: re-rank subtables, sweep
//      the EMC, decide whether the EMC and the train check are worth
//      their cost (AdaptiveStage).
//
// Design: nothing in the loop allocates, locks or makes a syscall; one
// virtual call per rx burst and per tx burst. Counters are relaxed stores.
// The stages are inline (always_inline) into process_batch, so naming them
// costs nothing; they are public so unit tests can drive them on a crafted
// batch. The rings are LocalRings: a PmdThread needs no EAL until start().
//
// Thread-safety: the public control methods (start, stop, commands(),
// misses(), arena(), counters(), rxq_stats()) are for the single control
// thread, except counters()/rxq_stats() which any thread may read.
// Everything else (run_once, process_batch and the stages) runs on the
// PMD's lcore, or on the test thread driving a PMD that is not running.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "compiler.h"
#include "conntrack.h"
#include "adaptive_stage.h"
#include "command_ring.h"
#include "exact_match_cache.h"
#include "flow_arena.h"
#include "megaflow_classifier.h"
#include "dp_bond.h"
#include "meter.h"
#include "miss_ring.h"
#include "output_batcher.h"
#include "pmd_counters.h"
#include "sample_slots.h"

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
// Passes through the recirculation queue after one burst (OVS
// MAX_RECIRC_DEPTH): packets still recirculating after that are dropped.
inline constexpr unsigned kMaxRecircDepth = 6;

struct PmdConfig {
  unsigned index = 0;        // 0..n_pmds-1; also its tx slot on every port
  unsigned lcore = 1;        // EAL lcore it is pinned to
  uint32_t max_flows = kFlowArenaDefaultMax;
  uint32_t emc_insert_inv_prob = 100;  // 1 in N classifier hits goes into the EMC
  bool smc_enabled = true;
  conntrack::Conntrack* ct = nullptr;  // the shared connection table (kCt), or none
};

// One rx burst, as the stages read it. Passed by value: it stays in
// registers (a pointer stored through a DpFlow* could otherwise alias it and
// force a reload per packet).
struct Burst {
  rte_mbuf** pkts;
  unsigned n;        // 1..kMaxBurst
  uint32_t in_port;  // datapath port the burst came from
};

// What the stages work out about a burst, per packet. Not initialised: each
// stage writes what the next one reads (see the stages).
struct PmdBatch {
  alignas(64) FlowKey keys[netdev::kMaxBurst];  // parse: every packet not in a train
  uint32_t hashes[netdev::kMaxBurst];           // parse: every packet
  DpFlow* flows[netdev::kMaxBurst];             // classify: every hit
};

// Which packets of a burst are where, from parse (bit i = packet i).
struct BatchMasks {
  uint32_t all;    // the n packets
  uint32_t train;  // same headers as packet i-1: keys[i] not written
  uint32_t todo;   // all & ~train: the packets classify looks up
};

// Packets waiting to be classified again (after tnl_pop), with their keys.
struct RecircQueue {
  PmdBatch b;
  rte_mbuf* pkts[netdev::kMaxBurst];
  unsigned n = 0;
};

// A datagram reassembled at ct() whose fragments are being sent on with
// its ct result (pmd_thread.cc, "Fragments").
struct FragOut {
  conntrack::FragList* d = nullptr;
  unsigned next = 0;  // the next fragment to send
  conntrack::CtResult r;
  uint32_t recirc_id = 0;
  uint32_t in_port = 0;
  bool keep = false;
};
// Datagrams a PMD keeps for the recirculation queue, which had no room.
inline constexpr unsigned kMaxFragPending = 16;

struct RxqStats {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> cycles{0};  // processing cycles spent on this queue's bursts
};

class PmdThread {
 public:
  // Builds the tables and rings; no EAL needed until start().
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
  // kSample counters of one slot (relaxed loads), added to *out.
  void add_sample_counters(unsigned slot, SampleCounters* out) const { samples_.add_to(slot, out); }

  // Runs the loop on the calling thread until stop() (tests use it directly).
  void run();
  // One iteration (tests drive the PMD by hand without a thread).
  void run_once();
  // Control thread, only while the PMD is not running: applies what is queued.
  void drain_commands() { apply_commands(); }

  // --- The burst's way through the PMD (pmd_stages.h) ------------------------
  // One rx burst from in_port: the four stages below, in order. The inline
  // ones are defined in pmd_stages.h (include it to call them).
  void process_batch(uint32_t in_port, rte_mbuf** pkts, unsigned n);
  // -> b.keys/hashes; returns the masks.
  inline BatchMasks parse(Burst in, PmdBatch& b);
  // -> b.flows of the hits; returns the misses (train packets included).
  inline uint32_t classify(Burst in, PmdBatch& b, const BatchMasks& m);
  // The misses (a train packet with its head's key) into the miss ring.
  DPS_COLD void upcall_misses(Burst in, const PmdBatch& b, uint32_t train, uint32_t miss);
  // The hits (hits != 0) through their flows' actions into the tx batches.
  inline void execute(Burst in, const PmdBatch& b, const BatchMasks& m, uint32_t hits);

 private:
  static int launch(void* arg);
  unsigned poll_rxq(unsigned i);
  void housekeeping();

  // classify, in order.
  inline uint32_t emc_lookup(PmdBatch& b, uint32_t todo);
  inline uint32_t megaflow_lookup(Burst in, PmdBatch& b, uint32_t todo, bool emc_on);
  // execute, cheapest shape first.
  inline bool execute_single_flow(Burst in, const PmdBatch& b, const BatchMasks& m);
  inline uint32_t execute_single_outputs(Burst in, const PmdBatch& b, uint32_t train,
                                         uint32_t hits);
  inline void execute_grouped(Burst in, const PmdBatch& b, uint32_t train, uint32_t grouped);

  // Actions (pmd_thread.cc).
  void execute_flow(DpFlow* flow, rte_mbuf** pkts, unsigned n, uint16_t tcp_flags);
  void execute_actions(const DpActions& acts, rte_mbuf** pkts, unsigned n, uint32_t in_port);
  // From the action at slot `first` (0: all of them).
  inline void execute_action_list(const DpActions& acts, rte_mbuf** pkts, unsigned n,
                                  uint32_t in_port, unsigned first = 0);
  inline void output_copies(uint32_t port_no, rte_mbuf* const* pkts, unsigned n, bool copy);
  inline unsigned dec_ttl(rte_mbuf** pkts, unsigned n);
  // Meters (meter.h): kMeter runs the group through meters_[id].
  unsigned run_meter(uint32_t id, rte_mbuf** pkts, unsigned n);
  // Bonds (dp_bond.h): kBondOutput sends each packet to its bucket's member;
  // keep = later actions still need the packets (a reference or, with
  // copy, a copy goes out).
  inline void bond_output(uint32_t id, rte_mbuf* const* pkts, unsigned n, bool keep, bool copy);
  inline void bond_output_one(uint32_t id, rte_mbuf* m);
  inline void output_grouped(rte_mbuf* const* pkts, const uint16_t* port, unsigned n);
  DPS_COLD void upcall_userspace(const DpAction& act, rte_mbuf** pkts, unsigned n,
                                 uint32_t in_port, bool keep);
  void send_upcalls(const Upcall* ups, unsigned n);
  // kSample: the slot's countdown here (hot, one subtraction per group);
  // the rare copies to the ofproto thread out of line.
  inline void run_sample(const DpAction& a, rte_mbuf* const* pkts, unsigned n, const FlowKey* key,
                         uint32_t in_port);
  DPS_COLD void send_samples(const DpAction& a, rte_mbuf* const* pkts, const uint8_t* pos, unsigned k,
                             uint32_t in_port);
  // Samples then one output (a bridge's sFlow / IPFIX on a forwarding
  // flow): false when the list is not that.
  inline bool sampled_output(const DpActions& acts, rte_mbuf** pkts, unsigned n, const FlowKey& key);
  // Native tunneling (tunnel_actions.h); keep = later actions still need
  // the packets (the action works on copies).
  void run_tnl_pop(const DpAction& a, rte_mbuf** pkts, unsigned n, bool keep);
  // kCt: each packet through the connection table; with a recirculation
  // id, into the recirculation queue with the ct fields in its key (a copy
  // when keep).
  unsigned run_ct(const DpAction* a, rte_mbuf** pkts, unsigned n, bool keep, uint32_t in_port);
  // Fragments at ct() (cold): held in the table until their datagram is
  // complete; the datagram tracked once, its fragments sent on in order
  // with its result. Those that do not fit the batch go through the rest
  // of the actions in further batches (ct_overflow_tail) or, for ct(table=)
  // without room in the recirculation queue, wait in frag_pending_ until
  // it drained (flush_frag_pending, before the burst ends).
  DPS_COLD unsigned hold_fragments(rte_mbuf** pkts, uint8_t** l3, size_t* len, unsigned n, uint32_t frags,
                                   uint16_t zone, int64_t now_ms, conntrack::FragList** done, unsigned* n_done);
  DPS_COLD unsigned emit_datagrams(conntrack::FragList* const* done, unsigned n_done,
                                   const conntrack::CtAction& act, uint32_t recirc_id, rte_mbuf** pkts,
                                   unsigned w, bool keep, uint32_t in_port, int64_t now_ms);
  unsigned emit_frags(FragOut* o, rte_mbuf** pkts, unsigned w, unsigned room);
  DPS_COLD void ct_overflow_tail(const DpActions& acts, rte_mbuf** pkts, unsigned n_pkts, unsigned first,
                                uint32_t in_port);
  DPS_COLD void flush_frag_pending();
  // kRecirc: each packet (a copy when keep) into the recirculation queue,
  // its key parsed anew with recirc_id = a.arg32.
  void run_recirc(const DpAction& a, rte_mbuf** pkts, unsigned n, bool keep, uint32_t in_port);
  // One packet (a copy when keep) into the recirculation queue, its key
  // parsed anew with recirc_id; nullptr (counted) when the queue is full or
  // no copy could be made.
  FlowKey* queue_recirc(rte_mbuf* pkt, bool keep, uint32_t in_port, uint32_t recirc_id);
  void run_tnl_push(const DpAction* a, rte_mbuf** pkts, unsigned n, bool keep);
  // Classifies and executes the recirculation queue until it stays empty
  // (out of line: a burst of plain traffic pays one test).
  void drain_recirc() {
    if (recirc_[recirc_fill_].n) drain_recirc_slow();
  }
  void drain_recirc_slow();
  void classify_recirc(RecircQueue& q);
  void keep_tunnel_words(const rte_mbuf* pkt, FlowKey* key) const;

  // Commands (pmd_commands.cc): the budgeted loop, then one function each.
  void apply_commands();
  void apply(PmdCommand* cmd);
  void cmd_install(PmdCommand* cmd);
  void cmd_modify(PmdCommand* cmd);
  void cmd_remove(PmdCommand* cmd);
  void cmd_flush(PmdCommand* cmd);
  void cmd_execute(PmdCommand* cmd);
  void cmd_set_ports(PmdCommand* cmd);
  void cmd_meter(PmdCommand* cmd);
  void cmd_bond(PmdCommand* cmd);

  PmdConfig cfg_;
  PmdCounters counters_;
  CommandRing commands_;
  MissRing misses_;
  FlowArena arena_;
  ExactMatchCache emc_;
  MegaflowClassifier cls_;
  OutputBatcher out_;
  PmdMeters meters_;
  SampleSlots samples_;  // kSample countdowns and counters
  PmdBonds bonds_;

  std::vector<RxqRef> rxqs_;
  std::unique_ptr<RxqStats[]> rxq_stats_;
  uint64_t iteration_ = 0;
  uint64_t now_tsc_ = 0;  // TSC at the start of the current burst
  bool last_rx_idle_ = true;    // the previous iteration received nothing
  uint64_t cmd_busy_cycles_ = 0;  // kCommandsBusyUs in TSC cycles
  uint64_t cmd_idle_cycles_ = 0;  // kCommandsIdleUs in TSC cycles
  uint32_t batch_stamp_ = 0;
  std::unique_ptr<RecircQueue[]> recirc_;  // two: one classified, one filled by its actions
  unsigned recirc_fill_ = 0;               // the one tnl_pop appends to
  const RecircQueue* classifying_ = nullptr;  // the queue whose hits are executing
  std::unique_ptr<uint8_t[]> frag_buf_;    // a reassembled datagram (kIpfMaxDatagram bytes)
  FragOut frag_pending_[kMaxFragPending];  // for the recirculation queue
  unsigned n_frag_pending_ = 0;
  bool frag_flushing_ = false;
  FragOut ct_overflow_[netdev::kMaxBurst];  // for the rest of the current action list
  unsigned n_ct_overflow_ = 0;
  conntrack::CtThread* ct_thread_ = nullptr;  // this PMD's handle on cfg_.ct (quiesces per iteration)
  uint64_t tsc_per_ms_ = 1;                  // conntrack's clock: TSC / tsc_per_ms_ = ms
  uint16_t tnl_ip_id_ = 0;                 // IPv4 identification of encapsulated packets (DF clear)
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
