// dp_flow.h - one installed datapath flow (megaflow) of one PMD.
//
// What: a DpFlow is (masked key, mask, actions, counters). The megaflow
// classifier indexes it under its mask; the EMC caches exact keys that hit it.
//
// Design: each PMD has its own flows (as OVS's per-PMD dpcls); the same
// megaflow on two PMDs is two DpFlow objects. DpFlow memory comes from a
// FlowArena that never returns it to the heap while the datapath lives:
// a retired flow's slot is reused for a later flow with its generation
// number incremented. The EMC stores (DpFlow*, generation) and a lookup
// accepts the entry only if the generations still agree, so a stale EMC entry
// is harmless and no RCU is needed. Layout: the first cache line holds
// what a hit reads and writes (generation, batch scratch, counters, the
// first action), so an EMC hit on one of thousands of flows touches one
// line of the flow; key and mask, read only by the classifier and the slow
// path, come after.
//
// Thread-safety:
//  - key/mask/actions: written by the control thread before the flow is
//    installed; afterwards only by the owning PMD (modify command). The
//    control thread reads them only while it still owns the flow.
//  - gen: written by the owning PMD on retire (release), by the control thread
//    before reuse; read by the PMD's EMC lookups (acquire not needed: the
//    only writer while installed is the reader itself).
//  - packets/bytes/used_tsc/tcp_flags: written by the owning PMD only (relaxed
//    stores, no atomic RMW), read by any thread (relaxed loads).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "actions.h"
#include "flow_key.h"

namespace dps::datapath {

struct alignas(64) DpFlow {
  // --- Line 0: everything a cache hit touches (EMC generation check,
  // grouping, counters, and the actions of a single-output flow). Keep it
  // within 64 bytes: a hit on one of thousands of flows is a cache miss per
  // line touched.
  std::atomic<uint32_t> gen{0};
  // Owning PMD only, scratch for grouping one batch's packets by flow.
  uint32_t batch_stamp = 0;
  // Counters: single writer (the owning PMD), relaxed.
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> used_tsc{0};   // rte_rdtsc() of the last hit, 0 = never
  std::atomic<uint16_t> tcp_flags{0};  // OR of the TCP flags seen
  uint8_t batch_group = 0;
  bool installed = false;      // owning PMD: in the classifier right now
  uint32_t hash = 0;           // flow_key_hash_masked(key, mask)
  DpActions actions;           // n and acts[0] fall in line 0 (offset 40..67)
  // --- Cold: lookups compare the key only in the classifier.
  uint64_t ufid = 0;           // id chosen by the installer (ofproto ukey id)
  uint32_t index = 0;          // slot in the owning PMD's FlowArena; set once by the arena
  FlowKey key;                 // already ANDed with mask
  FlowMask mask;

  // Owning PMD only: counts a group of n packets / nbytes.
  void count(uint32_t n, uint64_t nbytes, uint64_t now_tsc, uint16_t flags) {
    packets.store(packets.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    bytes.store(bytes.load(std::memory_order_relaxed) + nbytes, std::memory_order_relaxed);
    used_tsc.store(now_tsc, std::memory_order_relaxed);
    if (flags)
      tcp_flags.store(tcp_flags.load(std::memory_order_relaxed) | flags,
                      std::memory_order_relaxed);
  }
};
// The single-output fast path reads actions.n, acts[0].type and acts[0].arg32.
static_assert(offsetof(DpFlow, actions) + offsetof(DpActions, acts) + offsetof(DpAction, arg32) +
                  sizeof(uint32_t) <= 64,
              "a single-output flow's hit must touch one cache line");

}  // namespace dps::datapath
