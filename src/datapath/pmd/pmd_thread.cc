#include "pmd_thread.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "flow_key.h"
#include "pmd_stages.h"
#include "tunnel_actions.h"

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

bool modifies_packet(ActType t) {
  return t != ActType::kOutput && t != ActType::kUserspace && t != ActType::kSample &&
         t != ActType::kBondOutput;
}

}  // namespace

PmdThread::PmdThread(const PmdConfig& cfg)
    : cfg_(cfg),
      commands_("pmd" + std::to_string(cfg.index)),
      misses_("miss" + std::to_string(cfg.index)),
      arena_(cfg.max_flows),
      out_(cfg.index, &counters_),
      rxq_stats_(new RxqStats[kMaxRxqsPerPmd]),
      recirc_(new RecircQueue[2]),
      emc_stage_(kEmcMinHitPermille, kMinSample, kProbeEvery),
      train_stage_(kTrainMinHitPermille, kMinSample, kProbeEvery) {
  emc_.set_insert_inv_prob(cfg.emc_insert_inv_prob);
  cls_.set_smc_enabled(cfg.smc_enabled);
  rxqs_.reserve(kMaxRxqsPerPmd);
  cmd_busy_cycles_ = rte_get_tsc_hz() / 1'000'000 * kCommandsBusyUs;
  cmd_idle_cycles_ = rte_get_tsc_hz() / 1'000'000 * kCommandsIdleUs;
  tsc_per_ms_ = std::max<uint64_t>(rte_get_tsc_hz() / 1000, 1);
  if (cfg.ct) {
    ct_thread_ = cfg.ct->register_thread();
    cfg.ct->frag().set_free_fn([](void* m) { rte_pktmbuf_free(static_cast<rte_mbuf*>(m)); });
    frag_buf_.reset(new uint8_t[conntrack::kIpfMaxDatagram]);
  }
}

PmdThread::~PmdThread() {
  stop();
  if (ct_thread_) cfg_.ct->unregister_thread(ct_thread_);
}

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
  // TSC reads cost ~40 cycles on some CPUs: one per iteration plus two per
  // busy rx queue (its burst's start and end), doubling as the "used" time
  // stamp of the flows hit in that burst.
  const uint64_t start = rte_rdtsc();
  now_tsc_ = start;
  if (ct_thread_) ct_thread_->quiesce();  // no connection pointer is held between iterations
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
  // The queue's load is its bursts' processing alone: not the empty polls,
  // commands or preemption since the iteration began (a light queue polled
  // first would carry them all, and the cycles placement would follow).
  const uint64_t t0 = rte_rdtsc();
  now_tsc_ = t0;
  process_batch(q.port_no, pkts, n);
  const uint64_t now = rte_rdtsc();
  RxqStats& st = rxq_stats_[i];
  st.packets.store(st.packets.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  st.cycles.store(st.cycles.load(std::memory_order_relaxed) + (now - t0), std::memory_order_relaxed);
  now_tsc_ = now;
  return n;
}

// The stages are inline (pmd_stages.h); this is their one caller on the PMD.
void PmdThread::process_batch(uint32_t in_port, rte_mbuf** pkts, unsigned n) {
  const Burst in{pkts, n, in_port};
  PmdBatch b;
  counters_.add(kRxPackets, n);
  const BatchMasks m = parse(in, b);
  const uint32_t miss = classify(in, b, m);
  if (DPS_UNLIKELY(miss)) upcall_misses(in, b, m.train, miss);
  if (const uint32_t hits = m.all & ~miss) execute(in, b, m, hits);
  drain_recirc();
}

// Stage 3. A train packet carries its head's key (keys[i] of a train packet
// is not written).
void PmdThread::upcall_misses(Burst in, const PmdBatch& b, uint32_t train, uint32_t miss) {
  Upcall ups[netdev::kMaxBurst];
  unsigned n = 0;
  for (uint32_t m = miss; m; m &= m - 1) {
    unsigned i = __builtin_ctz(m);
    unsigned head = i;
    while (train & (uint32_t{1} << head)) head--;
    Upcall& u = ups[n++];
    u.key = b.keys[head];
    u.pkt = in.pkts[i];
    u.hash = b.hashes[i];
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
  if (sampled_output(acts, pkts, n, flow->key)) return;
  execute_actions(acts, pkts, n, flow->key.in_port);
}

// The general loop's setup (slot walk, copy decisions) costs more than the
// countdowns of a bridge's samplers: IPFIX 1:1000 (an input and an output
// sample on each forwarding flow) cost 11% of the 100k-flow workload
// through it, 0.4% here (scripts/perf-visibility.py, one run each). The key
// (in_port) is read only when a packet is sampled.
DPS_ALWAYS_INLINE bool PmdThread::sampled_output(const DpActions& acts, rte_mbuf** pkts, unsigned n,
                                                 const FlowKey& key) {
  const unsigned last = acts.n - 1u;
  if (acts.n < 2 || acts.n > 3 || acts.acts[last].type != ActType::kOutput) return false;
  for (unsigned k = 0; k < last; k++)
    if (acts.acts[k].type != ActType::kSample) return false;
  for (unsigned k = 0; k < last; k++) run_sample(acts.acts[k], pkts, n, &key, 0);
  out_.add_bulk(acts.acts[last].arg32, pkts, n);
  return true;
}

// An output that is not the last action: the packets go on to the later
// actions, so the port gets a copy (copy: a later action rewrites them) or
// a reference.
DPS_ALWAYS_INLINE void PmdThread::output_copies(uint32_t port_no, rte_mbuf* const* pkts,
                                                unsigned n, bool copy) {
  for (unsigned i = 0; i < n; i++) {
    if (copy) {
      rte_mbuf* c = rte_pktmbuf_copy(pkts[i], pkts[i]->pool, 0, UINT32_MAX);
      if (c)
        out_.add(port_no, c);
      else
        counters_.add(kTxDropped, 1);
    } else {
      rte_mbuf_refcnt_update(pkts[i], 1);
      out_.add(port_no, pkts[i]);
    }
  }
}

// Each packet to the member its bucket names; a bond that is not set, or
// a bucket without a member, drops (counted by the batcher as tx drops).
// The burst's buckets in one pass, then one add_bulk per member.
DPS_ALWAYS_INLINE void PmdThread::bond_output(uint32_t id, rte_mbuf* const* pkts, unsigned n,
                                              bool keep, bool copy) {
  rte_mbuf* ms[netdev::kMaxBurst];
  unsigned w = 0;
  for (unsigned i = 0; i < n; i++) {
    rte_mbuf* m = pkts[i];
    if (keep && copy) {
      m = rte_pktmbuf_copy(pkts[i], pkts[i]->pool, 0, UINT32_MAX);
      if (!m) {
        counters_.add(kTxDropped, 1);
        continue;
      }
    } else if (keep) {
      rte_mbuf_refcnt_update(m, 1);
    }
    ms[w++] = m;
  }
  DpBond* b = bonds_.get(id);
  if (DPS_UNLIKELY(!b)) {
    out_.add_bulk(kMaxPorts, ms, w);  // no such port: freed and counted
    return;
  }
  uint8_t k[netdev::kMaxBurst];
  b->buckets_of(ms, w, k);
  uint16_t port[netdev::kMaxBurst];
  for (unsigned i = 0; i < w; i++) {
    b->count(k[i]);
    port[i] = b->cfg.buckets[k[i]];
  }
  output_grouped(ms, port, w);
}

// pkts[i] to port[i] (n <= kMaxBurst): one add_bulk per distinct port, each
// port's packets in their order.
DPS_ALWAYS_INLINE void PmdThread::output_grouped(rte_mbuf* const* pkts, const uint16_t* port, unsigned n) {
  static_assert(netdev::kMaxBurst <= 32, "one bit per packet in a uint32_t");
  rte_mbuf* grp[netdev::kMaxBurst];
  uint32_t left = n == 32 ? ~0u : (1u << n) - 1;
  while (left) {
    const uint16_t p = port[__builtin_ctz(left)];
    unsigned g = 0;
    for (uint32_t rest = left; rest; rest &= rest - 1) {
      const unsigned j = static_cast<unsigned>(__builtin_ctz(rest));
      if (port[j] != p) continue;
      grp[g++] = pkts[j];
      left &= ~(1u << j);
    }
    out_.add_bulk(p, grp, g);
  }
}

// Drops the packets whose TTL / hop limit runs out; returns those left
// (compacted in order).
DPS_ALWAYS_INLINE unsigned PmdThread::dec_ttl(rte_mbuf** pkts, unsigned n) {
  unsigned w = 0;
  for (unsigned i = 0; i < n; i++) {
    if (action_dec_ttl(pkts[i])) {
      pkts[w++] = pkts[i];
    } else {
      rte_pktmbuf_free(pkts[i]);
      counters_.add(kDropped, 1);
    }
  }
  return w;
}

// The general case: each action in turn over the packets still alive.
// Inline into execute_actions, as are the two helpers above: one call per
// group, as before they had names.
DPS_ALWAYS_INLINE void PmdThread::execute_action_list(const DpActions& acts, rte_mbuf** pkts,
                                                      unsigned n, uint32_t in_port, unsigned first) {
  // `later_modifies[k]`: some action after k rewrites the packet, so an
  // output at k must send a copy; otherwise it shares the mbuf (refcnt).
  // Actions start at the slots in `starts` (a kTnlPush spans several).
  bool later_modifies[kMaxDpActions];
  unsigned starts[kMaxDpActions];
  unsigned n_starts = 0;
  for (unsigned k = 0; k < acts.n; k += action_slots(acts.acts[k])) starts[n_starts++] = k;
  bool mod = false;
  for (unsigned j = n_starts; j-- > 0;) {
    later_modifies[starts[j]] = mod;
    mod = mod || modifies_packet(acts.acts[starts[j]].type);
  }
  rte_mbuf* live[netdev::kMaxBurst];
  unsigned n_live = n;
  for (unsigned i = 0; i < n; i++) live[i] = pkts[i];
  unsigned j0 = 0;
  while (j0 < n_starts && starts[j0] < first) j0++;
  for (unsigned j = j0; j < n_starts && n_live; j++) {
    const DpAction& a = acts.acts[starts[j]];
    const bool last = j + 1 == n_starts;
    switch (a.type) {
      case ActType::kOutput:
        if (last) {
          out_.add_bulk(a.arg32, live, n_live);
          return;
        }
        output_copies(a.arg32, live, n_live, later_modifies[starts[j]]);
        break;
      case ActType::kBondOutput:
        bond_output(a.arg32, live, n_live, !last, later_modifies[starts[j]]);
        if (last) return;
        break;
      case ActType::kUserspace:
        upcall_userspace(a, live, n_live, in_port, !last);
        if (last) return;
        break;
      case ActType::kSample:
        run_sample(a, live, n_live, nullptr, in_port);
        break;
      case ActType::kTnlPop:
        run_tnl_pop(a, live, n_live, !last);
        if (last) return;
        break;
      case ActType::kTnlPush:
        run_tnl_push(&a, live, n_live, !last);
        if (last) return;
        break;
      case ActType::kCt:
        n_live = run_ct(&a, live, n_live, !last, in_port);
        if (DPS_UNLIKELY(n_ct_overflow_)) {  // the batch, then the fragments it had no room for
          ct_overflow_tail(acts, live, n_live, last ? acts.n : starts[j + 1], in_port);
          return;
        }
        if (last && a.arg32) return;  // all recirculated
        break;
      case ActType::kRecirc:
        run_recirc(a, live, n_live, !last, in_port);
        if (last) return;
        break;
      case ActType::kDecTtl: n_live = dec_ttl(live, n_live); break;
      case ActType::kPushVlan:
        for (unsigned i = 0; i < n_live; i++)
          action_push_vlan(live[i], a.arg16, static_cast<uint16_t>(a.arg32));
        break;
      case ActType::kPopVlan:
        for (unsigned i = 0; i < n_live; i++) action_pop_vlan(live[i]);
        break;
      case ActType::kMeter: n_live = run_meter(a.arg32, live, n_live); break;
      default:
        for (unsigned i = 0; i < n_live; i++) action_set_field(live[i], a);
        break;
    }
  }
  // The list ended without an output: the packets end here.
  if (n_live) rte_pktmbuf_free_bulk(live, n_live);
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
  execute_action_list(acts, pkts, n, in_port);
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
    if (DPS_UNLIKELY(classifying_ != nullptr)) keep_tunnel_words(pkts[i], &u.key);
    u.pkt = m;
    u.cookie = act.arg32;
    u.pmd = static_cast<uint16_t>(cfg_.index);
    u.reason = UpcallReason::kUserspace;
  }
  send_upcalls(ups, k);
}

// Every Nth packet of the slot (sample_slots.h) copied to the miss ring
// with the action's cookie; the packets themselves go on unchanged.
DPS_ALWAYS_INLINE void PmdThread::run_sample(const DpAction& a, rte_mbuf* const* pkts, unsigned n,
                                             const FlowKey* key, uint32_t in_port) {
  uint8_t pos[netdev::kMaxBurst];
  const unsigned k = samples_.pick(a.arg16, a.arg32 ? a.arg32 : 1, n, pos);
  if (DPS_UNLIKELY(k != 0)) send_samples(a, pkts, pos, k, key ? key->in_port : in_port);
}

void PmdThread::send_samples(const DpAction& a, rte_mbuf* const* pkts, const uint8_t* pos, unsigned k,
                             uint32_t in_port) {
  Upcall ups[netdev::kMaxBurst];
  unsigned m = 0;
  for (unsigned i = 0; i < k; i++) {
    rte_mbuf* pkt = pkts[pos[i]];
    rte_mbuf* c = rte_pktmbuf_copy(pkt, pkt->pool, 0, UINT32_MAX);
    if (!c) continue;
    Upcall& u = ups[m++];
    u.hash = flow_key_extract(rte_pktmbuf_mtod(c, const uint8_t*), rte_pktmbuf_data_len(c), in_port,
                              &u.key);
    if (DPS_UNLIKELY(classifying_ != nullptr)) keep_tunnel_words(pkt, &u.key);
    u.pkt = c;
    u.cookie = a.arg16;
    u.sample = sample_cookie(a);
    u.pmd = static_cast<uint16_t>(cfg_.index);
    u.reason = UpcallReason::kSample;
  }
  const unsigned done = misses_.enqueue_burst(ups, m);
  for (unsigned i = done; i < m; i++) rte_pktmbuf_free(ups[i].pkt);
  samples_.count(a.arg16, done, k - done);
}

// --- Native tunneling and recirculation -------------------------------------------

namespace {
rte_mbuf* own_or_copy(rte_mbuf* m, bool keep) {
  return keep ? rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX) : m;
}
}  // namespace

// Each packet stripped and queued; then the inner keys of all of them in
// one flow_key_extract_batch (in_port = the tunnel port) and the metadata
// into words 18..31.
void PmdThread::run_tnl_pop(const DpAction& a, rte_mbuf** pkts, unsigned n, bool keep) {
  RecircQueue& q = recirc_[recirc_fill_];
  const auto type = static_cast<TunnelType>(a.arg16);
  const unsigned first = q.n;
  TnlMd md[netdev::kMaxBurst];
  for (unsigned i = 0; i < n; i++) {
    rte_mbuf* m = own_or_copy(pkts[i], keep);
    if (!m) {
      counters_.add(kDropped, 1);
      continue;
    }
    TnlMd& d = md[q.n - first];
    uint32_t hdr_len = 0;
    const bool room = q.n < netdev::kMaxBurst;
    if (DPS_UNLIKELY(!room || tnl_pop_parse(m, type, &hdr_len, &d) != TnlPopError::kNone)) {
      rte_pktmbuf_free(m);
      counters_.add(room ? kTnlPopErrors : kRecircDropped, 1);
      continue;
    }
    tnl_pop_strip(m, hdr_len, d.inner_len);
    if (DPS_UNLIKELY(tnl_pop_ecn(m, d.tos) != TnlPopError::kNone)) {
      rte_pktmbuf_free(m);
      counters_.add(kTnlPopErrors, 1);
      continue;
    }
    q.pkts[q.n++] = m;
  }
  if (q.n == first) return;
  flow_key_extract_batch(q.pkts + first, q.n - first, a.arg32, q.b.keys + first, q.b.hashes + first, false);
  for (unsigned k = first; k < q.n; k++) q.b.hashes[k] = tnl_md_to_key(md[k - first], &q.b.keys[k], q.b.hashes[k]);
}

void PmdThread::run_tnl_push(const DpAction* a, rte_mbuf** pkts, unsigned n, bool keep) {
  // The header goes into headroom nobody has touched since the mbuf was
  // last used: ask for those lines (for writing) before filling any.
  if (!keep)
    for (unsigned i = 0; i < n; i++) {
      const char* d = rte_pktmbuf_mtod(pkts[i], const char*);
      __builtin_prefetch(d - a->arg16, 1);
      __builtin_prefetch(d - 1, 1);
    }
  for (unsigned i = 0; i < n; i++) {
    rte_mbuf* m = own_or_copy(pkts[i], keep);
    if (!m) {
      counters_.add(kDropped, 1);
    } else if (DPS_LIKELY(tnl_push(m, a, &tnl_ip_id_) == TnlPushError::kNone)) {
      out_.add(a->arg32, m);
    } else {
      rte_pktmbuf_free(m);
      counters_.add(kTnlPushErrors, 1);
    }
  }
}

// A decapsulated packet's upcall key keeps its tunnel metadata (words
// 16..31 of the key it was classified with).
void PmdThread::keep_tunnel_words(const rte_mbuf* pkt, FlowKey* key) const {
  const RecircQueue& q = *classifying_;
  for (unsigned i = 0; i < q.n; i++) {
    if (q.pkts[i] != pkt) continue;
    for (unsigned w = kBaseWords; w < kFlowWords; w++) key->words()[w] = q.b.keys[i].words()[w];
    key->ext_words = q.b.keys[i].ext_words;
    return;
  }
}

// Queue A is classified while its actions fill queue B, then B, and so on.
void PmdThread::drain_recirc_slow() {
  for (unsigned depth = 0; recirc_[recirc_fill_].n; depth++) {
    RecircQueue& q = recirc_[recirc_fill_];
    recirc_fill_ ^= 1;
    if (depth < kMaxRecircDepth) {
      classify_recirc(q);
    } else {
      rte_pktmbuf_free_bulk(q.pkts, q.n);
      counters_.add(kRecircDropped, q.n);
    }
    q.n = 0;
  }
  if (DPS_UNLIKELY(n_frag_pending_) && !frag_flushing_) flush_frag_pending();
}

// A burst whose keys are made: no trains, no EMC (tunnel keys differ from
// plain ones only past word 15, which the EMC does not compare).
void PmdThread::classify_recirc(RecircQueue& q) {
  const Burst in{q.pkts, q.n, 0};
  const uint32_t all = pmd_detail::low_mask(q.n);
  const BatchMasks m{all, 0, all};
  counters_.add(kRecirculated, q.n);
  const uint32_t miss = all & ~megaflow_lookup(in, q.b, all, false);
  if (miss) upcall_misses(in, q.b, 0, miss);
  classifying_ = &q;
  if (const uint32_t hits = all & ~miss) execute(in, q.b, m, hits);
  classifying_ = nullptr;
}

// --- Connection tracking --------------------------------------------------------

namespace {

// The IP header of an Ethernet frame (after up to two VLAN tags).
bool locate_l3(rte_mbuf* m, uint8_t** l3, size_t* len) {
  uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
  const size_t n = rte_pktmbuf_data_len(m);
  for (size_t off = 12; off + 2 <= n && off <= 20; off += 4) {
    const uint16_t t = static_cast<uint16_t>(p[off] << 8 | p[off + 1]);
    if (t == kEthTypeVlan || t == kEthTypeQinQ) continue;
    if (t != kEthTypeIpv4 && t != kEthTypeIpv6) return false;
    *l3 = p + off + 2;
    *len = n - off - 2;
    return true;
  }
  return false;
}

conntrack::CtAction ct_action_of(const DpCtArgs& a) {
  conntrack::CtAction c;
  c.zone = a.zone;
  c.commit = a.flags & kCtFlagCommit;
  c.force = a.flags & kCtFlagForce;
  c.set_mark = a.flags & kCtFlagMark;
  c.mark = a.mark;
  c.mark_mask = a.mark_mask;
  c.set_label = a.flags & kCtFlagLabel;
  std::memcpy(c.label, a.label, 16);
  std::memcpy(c.label_mask, a.label_mask, 16);
  c.nat = a.flags & kCtFlagNat;
  c.nat_spec = a.nat;
  c.natted = a.flags & kCtFlagNatted;
  return c;
}

void ct_result_to_key(const conntrack::CtResult& r, uint32_t recirc_id, FlowKey* k) {
  k->recirc_id = recirc_id;
  k->ct_state = r.state;
  k->ct_zone = r.zone;
  k->ct_mark = r.mark;
  std::memcpy(k->ct_label, r.label, 16);
  for (uint8_t b : r.label) k->ext_words |= b ? 1 : 0;
}

}  // namespace

// Returns the packets left (NAT drops those it found no tuple for),
// compacted in order.
unsigned PmdThread::run_ct(const DpAction* a, rte_mbuf** pkts, unsigned n, bool keep, uint32_t in_port) {
  const DpCtArgs args = ct_action_args(a);
  const conntrack::CtAction act = ct_action_of(args);
  const int64_t now_ms = static_cast<int64_t>(now_tsc_ / tsc_per_ms_);
  static_assert(netdev::kMaxBurst <= conntrack::Conntrack::kPrefetchMax);
  uint8_t* l3[netdev::kMaxBurst];
  size_t len[netdev::kMaxBurst];
  unsigned n_ip = 0;
  uint32_t frags = 0;
  for (unsigned i = 0; i < n; i++)
    if (ct_thread_ && locate_l3(pkts[i], &l3[i], &len[i])) {
      n_ip++;
      if (DPS_UNLIKELY(conntrack::ip_is_fragment(l3[i], len[i]))) frags |= 1u << i;
    } else {
      l3[i] = nullptr;
    }
  conntrack::FragList* done[netdev::kMaxBurst];
  unsigned n_done = 0;
  if (DPS_UNLIKELY(frags)) n = hold_fragments(pkts, l3, len, n, frags, args.zone, now_ms, done, &n_done);
  if (n_ip > 1) cfg_.ct->prefetch(l3, len, n, args.zone);
  unsigned w = 0;
  for (unsigned i = 0; i < n; i++) {
    conntrack::CtResult r;
    r.zone = args.zone;
    r.state = conntrack::kCsTracked | conntrack::kCsInvalid;
    if (l3[i]) r = cfg_.ct->process(ct_thread_, l3[i], len[i], act, now_ms);
    if (DPS_UNLIKELY(r.drop)) {
      rte_pktmbuf_free(pkts[i]);
      counters_.add(kDropped, 1);
      continue;
    }
    pkts[w++] = pkts[i];
    if (!args.recirc_id) continue;
    if (FlowKey* k = queue_recirc(pkts[i], keep, in_port, args.recirc_id)) ct_result_to_key(r, args.recirc_id, k);
  }
  if (DPS_UNLIKELY(n_done)) w = emit_datagrams(done, n_done, act, args.recirc_id, pkts, w, keep, in_port, now_ms);
  return w;
}

// --- Fragments (conntrack/ct_frag.h) ------------------------------------------

// Takes the fragments out of the batch (compacted in order): held, or
// complete (their lists into done), or refused (left in, +trk+inv: l3 null).
unsigned PmdThread::hold_fragments(rte_mbuf** pkts, uint8_t** l3, size_t* len, unsigned n, uint32_t frags,
                                   uint16_t zone, int64_t now_ms, conntrack::FragList** done,
                                   unsigned* n_done) {
  conntrack::IpFrag& ipf = cfg_.ct->frag();
  unsigned w = 0;
  for (unsigned i = 0; i < n; i++) {
    if ((frags >> i & 1) && ipf.enabled((l3[i][0] >> 4) == 4 ? 4 : 6)) {
      conntrack::FragList* d = nullptr;
      const conntrack::FragVerdict v = ipf.add(pkts[i], l3[i], len[i], zone, now_ms, &d);
      if (v == conntrack::FragVerdict::kHeld) continue;
      if (v == conntrack::FragVerdict::kComplete) {
        done[(*n_done)++] = d;
        continue;
      }
      l3[i] = nullptr;  // refused (counted by the table): tracked as invalid
    }
    pkts[w] = pkts[i];
    l3[w] = l3[i];
    len[w] = len[i];
    w++;
  }
  return w;
}

// Each completed datagram: reassembled, tracked once, NAT copied back into
// its fragments, the fragments into the batch after the w packets there
// (with ct(table=), into the recirculation queue as well). What does not
// fit waits (FragOut). Returns the batch's new size.
unsigned PmdThread::emit_datagrams(conntrack::FragList* const* done, unsigned n_done,
                                   const conntrack::CtAction& act, uint32_t recirc_id, rte_mbuf** pkts,
                                   unsigned w, bool keep, uint32_t in_port, int64_t now_ms) {
  conntrack::IpFrag& ipf = cfg_.ct->frag();
  for (unsigned k = 0; k < n_done; k++) {
    FragOut o{done[k], 0, {}, recirc_id, in_port, keep};
    const size_t len = conntrack::IpFrag::reassemble(*o.d, frag_buf_.get(), conntrack::kIpfMaxDatagram);
    if (len) o.r = cfg_.ct->process(ct_thread_, frag_buf_.get(), len, act, now_ms);
    if (!len || o.r.drop) {
      ipf.release(o.d, 0);  // freed, counted as purged
      continue;
    }
    if (act.nat && (o.r.state & (conntrack::kCsSrcNat | conntrack::kCsDstNat)))
      conntrack::IpFrag::apply_nat(*o.d, frag_buf_.get());
    const bool only_recirc = recirc_id && !keep;  // the batch ends here: only the queue matters
    if (only_recirc) {
      emit_frags(&o, nullptr, 0, netdev::kMaxBurst - recirc_[recirc_fill_].n);
    } else {
      w = emit_frags(&o, pkts, w, netdev::kMaxBurst - w);
    }
    if (o.next == o.d->n) {
      ipf.release(o.d, o.d->n);
    } else if (!only_recirc) {
      ct_overflow_[n_ct_overflow_++] = o;
    } else if (n_frag_pending_ < kMaxFragPending) {
      frag_pending_[n_frag_pending_++] = o;
    } else {
      ipf.release(o.d, o.next);  // the rest freed, counted as purged
    }
  }
  return w;
}

// Up to `room` more fragments of o, in order, into pkts after w (pkts null:
// none) and, with o's recirculation id, the recirculation queue.
unsigned PmdThread::emit_frags(FragOut* o, rte_mbuf** pkts, unsigned w, unsigned room) {
  for (; room && o->next < o->d->n; room--) {
    auto* m = static_cast<rte_mbuf*>(o->d->frags[o->next++].pkt);
    if (pkts) pkts[w++] = m;
    if (!o->recirc_id) continue;
    if (FlowKey* k = queue_recirc(m, o->keep, o->in_port, o->recirc_id)) ct_result_to_key(o->r, o->recirc_id, k);
  }
  return w;
}

// A ct() whose fragments did not all fit its batch: the batch (n packets)
// through the rest of the action list (from slot `first`), then the
// fragments left, a batch at a time, so they leave in order. A ct() in
// that rest overflowing in turn is handled by its own call.
void PmdThread::ct_overflow_tail(const DpActions& acts, rte_mbuf** pkts, unsigned n_pkts, unsigned first,
                                 uint32_t in_port) {
  FragOut ov[netdev::kMaxBurst];
  const unsigned n = n_ct_overflow_;
  for (unsigned k = 0; k < n; k++) ov[k] = ct_overflow_[k];
  n_ct_overflow_ = 0;
  execute_action_list(acts, pkts, n_pkts, in_port, first);
  for (unsigned k = 0; k < n; k++) {
    while (ov[k].next < ov[k].d->n) {
      rte_mbuf* live[netdev::kMaxBurst];
      const unsigned w = emit_frags(&ov[k], live, 0, netdev::kMaxBurst);
      execute_action_list(acts, live, w, in_port, first);
    }
    cfg_.ct->frag().release(ov[k].d, ov[k].d->n);
  }
}

// The datagrams waiting for room in the recirculation queue: a queue's
// worth at a time, each followed by its recirculation, until none waits
// (bounded: a pipeline that recirculates them forever has the rest purged).
void PmdThread::flush_frag_pending() {
  frag_flushing_ = true;
  constexpr unsigned kRounds = 4 * (conntrack::kMaxFragsPerDatagram / netdev::kMaxBurst + 1) * kMaxRecircDepth;
  for (unsigned round = 0; n_frag_pending_ && round < kRounds; round++) {
    unsigned w = 0;
    for (unsigned p = 0; p < n_frag_pending_; p++) {
      FragOut& o = frag_pending_[p];
      emit_frags(&o, nullptr, 0, netdev::kMaxBurst - recirc_[recirc_fill_].n);
      if (o.next == o.d->n)
        cfg_.ct->frag().release(o.d, o.d->n);
      else
        frag_pending_[w++] = o;
    }
    n_frag_pending_ = w;
    drain_recirc();
  }
  for (unsigned p = 0; p < n_frag_pending_; p++) cfg_.ct->frag().release(frag_pending_[p].d, frag_pending_[p].next);
  n_frag_pending_ = 0;
  frag_flushing_ = false;
}

void PmdThread::run_recirc(const DpAction& a, rte_mbuf** pkts, unsigned n, bool keep, uint32_t in_port) {
  for (unsigned i = 0; i < n; i++) queue_recirc(pkts[i], keep, in_port, a.arg32);
}

FlowKey* PmdThread::queue_recirc(rte_mbuf* pkt, bool keep, uint32_t in_port, uint32_t recirc_id) {
  RecircQueue& q = recirc_[recirc_fill_];
  if (DPS_UNLIKELY(q.n >= netdev::kMaxBurst)) {
    if (!keep) rte_pktmbuf_free(pkt);
    counters_.add(kRecircDropped, 1);
    return nullptr;
  }
  rte_mbuf* m = own_or_copy(pkt, keep);
  if (!m) {
    counters_.add(kDropped, 1);
    return nullptr;
  }
  FlowKey& k = q.b.keys[q.n];
  const uint32_t h = flow_key_extract(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m), in_port, &k);
  if (DPS_UNLIKELY(classifying_ != nullptr)) keep_tunnel_words(pkt, &k);
  k.recirc_id = recirc_id;
  q.b.hashes[q.n] = h ^ (recirc_id * 0x9e3779b1u);
  q.pkts[q.n++] = m;
  return &k;
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
