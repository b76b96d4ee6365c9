// pmd_stages.h - the stages of PmdThread::process_batch, inline.
//
// What: the definitions of the per-burst stages declared in pmd_thread.h:
// parse -> classify (EMC -> SMC -> megaflow) -> upcall the misses ->
// execute into the tx batches. Each stage takes the Burst, the PmdBatch and
// the masks it needs and returns what the next one reads, so the data flow
// between stages is in their signatures.
//
// Design: always_inline, so process_batch (pmd_thread.cc) compiles to the
// one body it was before the stages had names (no calls, no copies of keys:
// the stages share the PmdBatch's arrays). The upcall stage is cold and out
// of line (pmd_thread.cc), as are execute_flow and the general action list.
// Included by pmd_thread.cc and by the stage unit tests.
//
// Thread-safety: as PmdThread's loop: the PMD's lcore only (or a test thread
// driving a PMD that is not running).
#pragma once

#include <rte_mbuf.h>

#include "flow_key.h"
#include "pmd_thread.h"

namespace dps::datapath {

namespace pmd_detail {

// The bit loops below spell out __builtin_ctz and 1u << i as the loop body
// did before it had stage names: GCC turns those into bt/tzcnt, but not the
// same expressions behind small helpers (measured: +1 instruction a packet).
inline uint32_t low_mask(unsigned n) { return n >= 32 ? 0xffffffffu : (1u << n) - 1; }

// Train packets take their predecessor's result: a miss stays a miss, a hit
// its flow (bit 0 is never a train packet). Returns the misses.
DPS_ALWAYS_INLINE uint32_t follow_trains(DpFlow** flows, uint32_t train, uint32_t miss) {
  for (uint32_t t = train; t; t &= t - 1) {
    unsigned i = __builtin_ctz(t);
    if (miss & (uint32_t{1} << (i - 1)))
      miss |= uint32_t{1} << i;
    else
      flows[i] = flows[i - 1];
  }
  return miss;
}

}  // namespace pmd_detail

// --- Stage 1: parse -----------------------------------------------------------
// A key and a hash per packet. `train`: packets whose key equals the
// previous packet's (see flow_key_extract_batch); they are not parsed and
// later take the previous packet's lookup result.
DPS_ALWAYS_INLINE BatchMasks PmdThread::parse(Burst in, PmdBatch& b) {
  const bool trains = train_stage_.active();
  BatchMasks m;
  m.all = pmd_detail::low_mask(in.n);
  m.train = flow_key_extract_batch(in.pkts, in.n, in.in_port, b.keys, b.hashes, trains);
  m.todo = m.all & ~m.train;
  if (trains) {
    const unsigned t = __builtin_popcount(m.train);
    counters_.add(kTrainHits, t);
    train_stage_.record(in.n, t);
  }
  return m;
}

// --- Stage 2: classify ----------------------------------------------------------
DPS_ALWAYS_INLINE uint32_t PmdThread::classify(Burst in, PmdBatch& b, const BatchMasks& m) {
  const bool emc_on = emc_stage_.active();
  uint32_t miss = m.todo;
  if (emc_on) miss &= ~emc_lookup(b, m.todo);
  if (miss) miss &= ~megaflow_lookup(in, b, miss, emc_on);
  return pmd_detail::follow_trains(b.flows, m.train, miss);
}

DPS_ALWAYS_INLINE uint32_t PmdThread::emc_lookup(PmdBatch& b, uint32_t todo) {
  const uint32_t hit = emc_.lookup_batch(b.keys, b.hashes, todo, b.flows);
  const unsigned h = __builtin_popcount(hit);
  counters_.add(kEmcHits, h);
  emc_stage_.record(__builtin_popcount(todo), h);
  return hit;
}

// SMC, then the subtables in rank order (MegaflowClassifier); a hit goes
// into the EMC with its insert probability while the EMC is on.
DPS_ALWAYS_INLINE uint32_t PmdThread::megaflow_lookup(Burst in, PmdBatch& b, uint32_t todo,
                                                      bool emc_on) {
  ClassifierStats cs;
  const uint32_t found = cls_.lookup_batch(b.keys, b.hashes, in.n, todo, b.flows, &cs);
  counters_.add(kSubtableLookups, cs.subtable_probes);
  counters_.add(kSmcHits, cs.smc_hits);
  counters_.add(kMegaflowHits, cs.hits - cs.smc_hits);
  if (emc_on)
    for (uint32_t f = found; f; f &= f - 1) {
      unsigned i = __builtin_ctz(f);
      emc_.maybe_insert(b.keys[i], b.hashes[i], b.flows[i]);
    }
  return found;
}

// --- Stage 3: upcall the misses (cold: pmd_thread.cc) ---------------------------

// --- Stage 4: execute -------------------------------------------------------------
// Cheapest shape first: the whole burst on one flow; then single-output
// flows packet by packet; the rest grouped by flow.
DPS_ALWAYS_INLINE void PmdThread::execute(Burst in, const PmdBatch& b, const BatchMasks& m,
                                          uint32_t hits) {
  if (hits == m.all && execute_single_flow(in, b, m)) return;
  if (const uint32_t grouped = execute_single_outputs(in, b, m.train, hits))
    execute_grouped(in, b, m.train, grouped);
}

// The common case: the whole burst hit one flow (one big flow, or many
// microflows under one megaflow). No grouping, no copies. Every packet hit.
DPS_ALWAYS_INLINE bool PmdThread::execute_single_flow(Burst in, const PmdBatch& b,
                                                     const BatchMasks& m) {
  DpFlow* const f0 = b.flows[0];
  bool same = true;
  for (unsigned i = 0; i < in.n; i++) same &= b.flows[i] == f0;
  if (!same) return false;
  uint16_t tcp_flags = 0;  // train packets repeat their predecessor's flags
  for (uint32_t t = m.todo; t; t &= t - 1) tcp_flags |= b.keys[__builtin_ctz(t)].tcp_flags;
  execute_flow(f0, in.pkts, in.n, tcp_flags);
  return true;
}

// Flows with a single output (NORMAL to a known MAC, output:N: the common
// case; or output to a bond, whose member the packet's bucket names) are
// executed packet by packet: when a burst spreads over many flows,
// building a group per flow costs more than it saves. Returns the packets
// left for execute_grouped.
DPS_ALWAYS_INLINE uint32_t PmdThread::execute_single_outputs(Burst in, const PmdBatch& b,
                                                             uint32_t train, uint32_t hits) {
  uint32_t grouped = 0;
  for (uint32_t h = hits; h; h &= h - 1) {
    unsigned i = __builtin_ctz(h);
    DpFlow* f = b.flows[i];
    const DpActions& a = f->actions;
    const bool to_bond = a.n == 1 && a.acts[0].type == ActType::kBondOutput;  // output:bond0, balanced
    if (DPS_LIKELY(a.single_output() || to_bond)) {
      uint16_t flags = train & (uint32_t{1} << i) ? 0 : b.keys[i].tcp_flags;
      f->count(1, rte_pktmbuf_pkt_len(in.pkts[i]), now_tsc_, flags);
      if (DPS_LIKELY(!to_bond))
        out_.add(a.acts[0].arg32, in.pkts[i]);
      else
        bond_output_one(a.acts[0].arg32, in.pkts[i]);
    } else {
      grouped |= uint32_t{1} << i;
    }
  }
  return grouped;
}

// One packet of a flow whose only action is the bond: to its bucket's
// member, without the general action loop's setup.
DPS_ALWAYS_INLINE void PmdThread::bond_output_one(uint32_t id, rte_mbuf* m) {
  DpBond* b = bonds_.get(id);
  if (DPS_UNLIKELY(!b)) {
    out_.add(kMaxPorts, m);  // no such port: freed and counted
    return;
  }
  const unsigned k = b->bucket(m);
  b->count(k);
  out_.add(b->cfg.buckets[k], m);
}

// The others are grouped by flow, keeping arrival order within each flow
// (OVS packet_batch_per_flow), so their actions run once per group. A flow's
// batch_stamp/batch_group (its hot line) find its group without a search.
DPS_ALWAYS_INLINE void PmdThread::execute_grouped(Burst in, const PmdBatch& b, uint32_t train,
                                                  uint32_t grouped) {
  struct Group {
    DpFlow* flow;
    uint16_t n;
    uint16_t tcp_flags;
    rte_mbuf* pkts[netdev::kMaxBurst];
  };
  Group groups[netdev::kMaxBurst];
  unsigned n_groups = 0;
  const uint32_t stamp = ++batch_stamp_;
  for (uint32_t m = grouped; m; m &= m - 1) {
    unsigned i = __builtin_ctz(m);
    DpFlow* f = b.flows[i];
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
    g->pkts[g->n++] = in.pkts[i];
    if (!(train & (uint32_t{1} << i))) g->tcp_flags |= b.keys[i].tcp_flags;
  }
  for (unsigned g = 0; g < n_groups; g++)
    execute_flow(groups[g].flow, groups[g].pkts, groups[g].n, groups[g].tcp_flags);
}

}  // namespace dps::datapath
