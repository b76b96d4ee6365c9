#include "pmd_thread.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "flow_key.h"

namespace dps::datapath {
namespace {

// The EMC is skipped while it hits less than 1 in 20 lookups (a working set
// far larger than it: probing costs a cache miss per packet for nothing).
// Every kProbeEvery housekeeping rounds it is re-enabled for one round to
// see whether traffic changed.
constexpr uint64_t kEmcMinHitPermille = 50;
constexpr unsigned kProbeEvery = 16;
constexpr uint64_t kMinSample = 4096;
// The train check (flow_key_extract_batch) costs ~3 cycles per packet and a
// train packet saves its parse and its lookups (~20 cycles): below 1 train
// packet in 10 it is turned off the same way.
constexpr uint64_t kTrainMinHitPermille = 100;

uint32_t low_mask(unsigned n) { return n >= 32 ? 0xffffffffu : (1u << n) - 1; }

bool modifies_packet(ActType t) {
  return t != ActType::kOutput && t != ActType::kUserspace;
}

}  // namespace

PmdThread::PmdThread(const PmdConfig& cfg)
    : cfg_(cfg),
      commands_("pmd" + std::to_string(cfg.index)),
      misses_("miss" + std::to_string(cfg.index)),
      arena_(cfg.max_flows),
      emc_stage_(kEmcMinHitPermille, kMinSample, kProbeEvery),
      train_stage_(kTrainMinHitPermille, kMinSample, kProbeEvery),
      out_(cfg.index, &counters_),
      rxq_stats_(new RxqStats[kMaxRxqsPerPmd]) {
  emc_.set_insert_inv_prob(cfg.emc_insert_inv_prob);
  cls_.set_smc_enabled(cfg.smc_enabled);
  rxqs_.reserve(kMaxRxqsPerPmd);
  cmd_busy_cycles_ = rte_get_tsc_hz() / 1'000'000 * kCommandsBusyUs;
  cmd_idle_cycles_ = rte_get_tsc_hz() / 1'000'000 * kCommandsIdleUs;
}

PmdThread::~PmdThread() { stop(); }

int PmdThread::launch(void* arg) {
  static_cast<PmdThread*>(arg)->run();
  return 0;
}

void PmdThread::start() {
  if (running_) return;
  stop_.store(false, std::memory_order_relaxed);
  int rc = rte_eal_remote_launch(&PmdThread::launch, this, cfg_.lcore);
  if (rc != 0)
    throw std::runtime_error("cannot launch PMD " + std::to_string(cfg_.index) + " on lcore " +
                             std::to_string(cfg_.lcore) + ": " + rte_strerror(-rc) +
                             " (is the lcore in the EAL core list and not the main lcore?)");
  running_ = true;
}

void PmdThread::stop() {
  if (!running_) return;
  stop_.store(true, std::memory_order_release);
  rte_eal_wait_lcore(cfg_.lcore);
  running_ = false;
  apply_commands();  // what was posted before stop still completes
  out_.flush();
}

void PmdThread::run() {
  spdlog::info("pmd {}: polling on lcore {}", cfg_.index, rte_lcore_id());
  while (!stop_.load(std::memory_order_acquire)) run_once();
  out_.flush();
}

void PmdThread::run_once() {
  // TSC reads cost ~40 cycles on some CPUs: one per iteration plus one per
  // busy rx queue, each doubling as the next queue's start time and as the
  // "used" time stamp of the flows hit in that burst.
  const uint64_t start = rte_rdtsc();
  now_tsc_ = start;
  apply_commands();
  unsigned rx = 0;
  for (unsigned i = 0; i < rxqs_.size(); i++) rx += poll_rxq(i);
  last_rx_idle_ = rx == 0;
  out_.flush();
  uint64_t end = rte_rdtsc();
  uint64_t cycles = end - start;
  counters_.add(rx ? kBusyCycles : kIdleCycles, cycles);
  counters_.add(kIterations, 1);
  if (DPS_UNLIKELY(max_iter_reset_.load(std::memory_order_relaxed))) {
    max_iter_reset_.store(false, std::memory_order_relaxed);
    max_iter_.store(0, std::memory_order_relaxed);
  }
  if (cycles > max_iter_.load(std::memory_order_relaxed))
    max_iter_.store(cycles, std::memory_order_relaxed);
  if (DPS_UNLIKELY(++iteration_ % kHousekeepingInterval == 0)) housekeeping();
}

unsigned PmdThread::poll_rxq(unsigned i) {
  const RxqRef& q = rxqs_[i];
  if (DPS_UNLIKELY(!q.port->admin_up())) return 0;
  rte_mbuf* pkts[netdev::kMaxBurst];
  uint16_t n = q.port->rx_burst(q.queue, pkts, netdev::kMaxBurst);
  if (n == 0) return 0;
  process_batch(q.port_no, pkts, n);
  uint64_t now = rte_rdtsc();
  RxqStats& st = rxq_stats_[i];
  st.packets.store(st.packets.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  st.cycles.store(st.cycles.load(std::memory_order_relaxed) + (now - now_tsc_),
                  std::memory_order_relaxed);
  now_tsc_ = now;
  return n;
}

void PmdThread::process_batch(uint32_t in_port, rte_mbuf** pkts, unsigned n) {
  alignas(64) FlowKey keys[netdev::kMaxBurst];
  uint32_t hashes[netdev::kMaxBurst];
  DpFlow* flows[netdev::kMaxBurst];

  counters_.add(kRxPackets, n);
  // `train`: packets whose key equals the previous packet's (see
  // flow_key_extract_batch); they take the previous packet's lookup result.
  const bool trains = train_stage_.active();
  const uint32_t train = flow_key_extract_batch(pkts, n, in_port, keys, hashes, trains);
  const uint32_t all = low_mask(n);
  const uint32_t todo = all & ~train;
  if (trains) {
    unsigned t = __builtin_popcount(train);
    counters_.add(kTrainHits, t);
    train_stage_.record(n, t);
  }

  uint32_t hit = 0;
  const bool emc_on = emc_stage_.active();
  if (emc_on) {
    hit = emc_.lookup_batch(keys, hashes, todo, flows);
    unsigned h = __builtin_popcount(hit);
    counters_.add(kEmcHits, h);
    emc_stage_.record(__builtin_popcount(todo), h);
  }
  uint32_t miss = todo & ~hit;
  if (miss) {
    ClassifierStats cs;
    uint32_t found = cls_.lookup_batch(keys, hashes, n, miss, flows, &cs);
    counters_.add(kSubtableLookups, cs.subtable_probes);
    counters_.add(kSmcHits, cs.smc_hits);
    counters_.add(kMegaflowHits, cs.hits - cs.smc_hits);
    if (emc_on)
      for (uint32_t m = found; m; m &= m - 1) {
        unsigned i = __builtin_ctz(m);
        emc_.maybe_insert(keys[i], hashes[i], flows[i]);
      }
    miss &= ~found;
  }
  // Train packets follow their predecessor (bit 0 is never a train packet).
  for (uint32_t t = train; t; t &= t - 1) {
    unsigned i = __builtin_ctz(t);
    if (miss & (uint32_t{1} << (i - 1)))
      miss |= uint32_t{1} << i;
    else
      flows[i] = flows[i - 1];
  }
  if (DPS_UNLIKELY(miss)) upcall_misses(pkts, keys, hashes, miss, train);

  const uint32_t hits = all & ~miss;
  if (!hits) return;
  // The common case: the whole burst hit one flow (one big flow, or many
  // microflows under one megaflow). No grouping, no copies.
  DpFlow* f0 = flows[__builtin_ctz(hits)];
  if (hits == all) {
    bool same = true;
    for (unsigned i = 0; i < n; i++) same &= flows[i] == f0;
    if (same) {
      uint16_t tcp_flags = 0;  // train packets repeat their predecessor's flags
      for (uint32_t t = todo; t; t &= t - 1) tcp_flags |= keys[__builtin_ctz(t)].tcp_flags;
      execute_flow(f0, pkts, n, tcp_flags);
      return;
    }
  }
  // Flows with a single output (NORMAL to a known MAC, output:N: the common
  // case) are executed packet by packet: when a burst spreads over many
  // flows, building a group per flow costs more than it saves. The others
  // are grouped by flow, keeping arrival order within each flow (OVS
  // packet_batch_per_flow), so their actions run once per group.
  uint32_t grouped = 0;
  for (uint32_t m = hits; m; m &= m - 1) {
    unsigned i = __builtin_ctz(m);
    DpFlow* f = flows[i];
    const DpActions& a = f->actions;
    if (DPS_LIKELY(a.single_output())) {
      uint16_t flags = train & (uint32_t{1} << i) ? 0 : keys[i].tcp_flags;
      f->count(1, rte_pktmbuf_pkt_len(pkts[i]), now_tsc_, flags);
      out_.add(a.acts[0].arg32, pkts[i]);
    } else {
      grouped |= uint32_t{1} << i;
    }
  }
  if (!grouped) return;
  struct Group {
    DpFlow* flow;
    uint16_t n;
    uint16_t tcp_flags;
    rte_mbuf* pkts[netdev::kMaxBurst];
  };
  Group groups[netdev::kMaxBurst];
  unsigned n_groups = 0;
  uint32_t stamp = ++batch_stamp_;
  for (uint32_t m = grouped; m; m &= m - 1) {
    unsigned i = __builtin_ctz(m);
    DpFlow* f = flows[i];
    Group* g;
    if (f->batch_stamp == stamp) {
      g = &groups[f->batch_group];
    } else {
      f->batch_stamp = stamp;
      f->batch_group = static_cast<uint8_t>(n_groups);
      g = &groups[n_groups++];
      g->flow = f;
      g->n = 0;
      g->tcp_flags = 0;
    }
    g->pkts[g->n++] = pkts[i];
    if (!(train & (uint32_t{1} << i))) g->tcp_flags |= keys[i].tcp_flags;
  }
  for (unsigned g = 0; g < n_groups; g++)
    execute_flow(groups[g].flow, groups[g].pkts, groups[g].n, groups[g].tcp_flags);
}

void PmdThread::upcall_misses(rte_mbuf** pkts, const FlowKey* keys, const uint32_t* hashes,
                              uint32_t miss_mask, uint32_t train) {
  Upcall ups[netdev::kMaxBurst];
  unsigned n = 0;
  for (uint32_t m = miss_mask; m; m &= m - 1) {
    unsigned i = __builtin_ctz(m);
    unsigned head = i;
    while (train & (uint32_t{1} << head)) head--;  // a train packet has its head's key
    Upcall& u = ups[n++];
    u.key = keys[head];
    u.pkt = pkts[i];
    u.hash = hashes[i];
    u.cookie = 0;
    u.pmd = static_cast<uint16_t>(cfg_.index);
    u.reason = UpcallReason::kMiss;
  }
  send_upcalls(ups, n);
}

void PmdThread::send_upcalls(const Upcall* ups, unsigned n) {
  unsigned done = misses_.enqueue_burst(ups, n);
  counters_.add(kUpcalls, done);
  if (done < n) {  // ring full: the slow path is behind; drop, never wait
    counters_.add(kLostUpcalls, n - done);
    for (unsigned i = done; i < n; i++) rte_pktmbuf_free(ups[i].pkt);
  }
}

void PmdThread::execute_flow(DpFlow* flow, rte_mbuf** pkts, unsigned n, uint16_t tcp_flags) {
  uint64_t bytes = 0;
  for (unsigned i = 0; i < n; i++) bytes += rte_pktmbuf_pkt_len(pkts[i]);
  flow->count(n, bytes, now_tsc_, tcp_flags);
  const DpActions& acts = flow->actions;
  // One output: decided from the flow's first cache line (dp_flow.h); the
  // key's line is read only by the general case.
  if (DPS_LIKELY(acts.single_output())) {
    out_.add_bulk(acts.acts[0].arg32, pkts, n);
    return;
  }
  execute_actions(acts, pkts, n, flow->key.in_port);
}

void PmdThread::execute_actions(const DpActions& acts, rte_mbuf** pkts, unsigned n,
                                uint32_t in_port) {
  // The common cases: drop, and one output.
  if (acts.n == 0) {
    rte_pktmbuf_free_bulk(pkts, n);
    counters_.add(kDropped, n);
    return;
  }
  if (DPS_LIKELY(acts.single_output())) {
    out_.add_bulk(acts.acts[0].arg32, pkts, n);
    return;
  }
  // General case. `later_modifies[k]`: some action after k rewrites the packet,
  // so an output at k must send a copy; otherwise it shares the mbuf (refcnt).
  bool later_modifies[kMaxDpActions];
  bool mod = false;
  for (int k = acts.n - 1; k >= 0; k--) {
    later_modifies[k] = mod;
    mod = mod || modifies_packet(acts.acts[k].type);
  }
  rte_mbuf* live[netdev::kMaxBurst];
  unsigned n_live = n;
  for (unsigned i = 0; i < n; i++) live[i] = pkts[i];
  for (unsigned k = 0; k < acts.n && n_live; k++) {
    const DpAction& a = acts.acts[k];
    bool last = k + 1 == acts.n;
    switch (a.type) {
      case ActType::kOutput:
        if (last) {
          out_.add_bulk(a.arg32, live, n_live);
          return;
        }
        for (unsigned i = 0; i < n_live; i++) {
          if (later_modifies[k]) {
            rte_mbuf* c = rte_pktmbuf_copy(live[i], live[i]->pool, 0, UINT32_MAX);
            if (c)
              out_.add(a.arg32, c);
            else
              counters_.add(kTxDropped, 1);
          } else {
            rte_mbuf_refcnt_update(live[i], 1);
            out_.add(a.arg32, live[i]);
          }
        }
        break;
      case ActType::kUserspace:
        upcall_userspace(a, live, n_live, in_port, !last);
        if (last) return;
        break;
      case ActType::kDecTtl: {
        unsigned w = 0;
        for (unsigned i = 0; i < n_live; i++) {
          if (action_dec_ttl(live[i])) {
            live[w++] = live[i];
          } else {
            rte_pktmbuf_free(live[i]);
            counters_.add(kDropped, 1);
          }
        }
        n_live = w;
        break;
      }
      case ActType::kPushVlan:
        for (unsigned i = 0; i < n_live; i++) action_push_vlan(live[i], a.arg16, static_cast<uint16_t>(a.arg32));
        break;
      case ActType::kPopVlan:
        for (unsigned i = 0; i < n_live; i++) action_pop_vlan(live[i]);
        break;
      case ActType::kMeter:
        n_live = run_meter(a.arg32, live, n_live);
        break;
      default:
        for (unsigned i = 0; i < n_live; i++) action_set_field(live[i], a);
        break;
    }
  }
  // The list ended without an output: the packets end here.
  if (n_live) rte_pktmbuf_free_bulk(live, n_live);
}

void PmdThread::upcall_userspace(const DpAction& act, rte_mbuf** pkts, unsigned n,
                                 uint32_t in_port, bool keep) {
  Upcall ups[netdev::kMaxBurst];
  unsigned k = 0;
  for (unsigned i = 0; i < n; i++) {
    rte_mbuf* m = keep ? rte_pktmbuf_copy(pkts[i], pkts[i]->pool, 0, UINT32_MAX) : pkts[i];
    if (!m) continue;
    Upcall& u = ups[k++];
    u.hash = flow_key_extract(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m),
                              in_port, &u.key);
    u.pkt = m;
    u.cookie = act.arg32;
    u.pmd = static_cast<uint16_t>(cfg_.index);
    u.reason = UpcallReason::kUserspace;
  }
  send_upcalls(ups, k);
}

void PmdThread::apply_commands() {
  // Bursts of kCommandsPerIteration until the ring is empty or the
  // iteration's budget (count and time, see kCommandsBusyMax) is spent.
  const unsigned max_cmds = last_rx_idle_ ? kCommandsIdleMax : kCommandsBusyMax;
  const uint64_t deadline = now_tsc_ + (last_rx_idle_ ? cmd_idle_cycles_ : cmd_busy_cycles_);
  PmdCommand* cmds[kCommandsPerIteration];
  unsigned total = 0;
  while (total < max_cmds) {
    unsigned n = commands_.take(cmds, kCommandsPerIteration);
    if (!n) break;
    for (unsigned i = 0; i < n; i++) apply(cmds[i]);
    // Published before the completions, so a caller that saw its command
    // complete also sees the table sizes it produced.
    counters_.add(kCommands, n);
    n_flows_.store(cls_.size(), std::memory_order_relaxed);
    n_subtables_.store(cls_.subtable_count(), std::memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) commands_.complete(cmds[i]);
    total += n;
    if (n < kCommandsPerIteration || rte_rdtsc() >= deadline) break;
  }
}

void PmdThread::apply(PmdCommand* cmd) {
  switch (cmd->type) {
    case PmdCmdType::kInstall:
    case PmdCmdType::kInstallExecute:
      switch (cls_.insert(cmd->flow)) {
        case InsertResult::kOk: cmd->result = 0; break;
        case InsertResult::kDuplicate: cmd->result = -EEXIST; break;
        default: cmd->result = -EINVAL; break;
      }
      if (cmd->type == PmdCmdType::kInstallExecute && cmd->n_pkts) {
        // The flow's actions even when the insert failed (a duplicate: the
        // packets still go where the translation said). Not counted by the
        // flow: the slow path accounted them to the rules.
        execute_actions(cmd->flow->actions, cmd->pkts, cmd->n_pkts, cmd->in_port);
        cmd->n_pkts = 0;
      }
      break;
    case PmdCmdType::kModify:
      if (cmd->flow->installed)
        cmd->flow->actions = cmd->actions;
      else
        cmd->result = -ENOENT;
      break;
    case PmdCmdType::kRemove:
      cmd->result = cls_.remove(cmd->flow) ? 0 : -ENOENT;
      break;
    case PmdCmdType::kFlush:
      cls_.flush([&](DpFlow* f) { cmd->flows.push_back(f); });
      break;
    case PmdCmdType::kExecute: {
      const DpActions acts = cmd->actions;
      execute_actions(acts, cmd->pkts, cmd->n_pkts, cmd->in_port);
      cmd->n_pkts = 0;
      break;
    }
    case PmdCmdType::kSetPorts:
      out_.flush();
      rxqs_.swap(cmd->rxqs);
      out_.set_ports(cmd->txports);
      for (unsigned i = 0; i < kMaxRxqsPerPmd; i++) {
        rxq_stats_[i].packets.store(0, std::memory_order_relaxed);
        rxq_stats_[i].cycles.store(0, std::memory_order_relaxed);
      }
      break;
    case PmdCmdType::kSync:
      break;
    case PmdCmdType::kMeterSet:
    case PmdCmdType::kMeterDel:
      apply_meter(cmd);
      break;
  }
}

// --- Meters -------------------------------------------------------------------

unsigned PmdThread::run_meter(uint32_t id, rte_mbuf** pkts, unsigned n) {
  DpMeter* m = meters_.get(id);
  // No such meter: pass. (Ofproto removes the megaflows that use a meter
  // before the meter itself, so this is only a dpctl-made flow.)
  if (DPS_UNLIKELY(!m)) return n;
  const unsigned kept = m->run(pkts, n, now_tsc_);
  if (kept != n) counters_.add(kDropped, n - kept);
  return kept;
}

void PmdThread::apply_meter(PmdCommand* cmd) {
  if (cmd->meter_id >= kMaxMeters) {
    cmd->result = -EINVAL;
    return;
  }
  DpMeter* in = cmd->type == PmdCmdType::kMeterSet ? cmd->meter : nullptr;
  DpMeter* old = meters_.swap(cmd->meter_id, in);
  cmd->result = cmd->type == PmdCmdType::kMeterDel && !old ? -ENOENT : 0;
  cmd->meter = old;  // the control side frees it
}

void PmdThread::housekeeping() {
  cls_.rerank();
  emc_.sweep(64);
  // Skip the EMC and the train check while they do not pay (AdaptiveStage).
  // With EMC inserts turned off (probability 0) the EMC stays as configured.
  const uint64_t round = iteration_ / kHousekeepingInterval;
  if (emc_stage_.review(round, emc_.insert_inv_prob() > 0)) emc_.clear();
  train_stage_.review(round);
  emc_active_pub_.store(emc_stage_.active(), std::memory_order_relaxed);
}

}  // namespace dps::datapath
