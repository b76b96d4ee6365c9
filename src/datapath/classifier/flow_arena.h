// flow_arena.h - the memory every DpFlow of one PMD lives in.
//
// What: FlowArena hands out DpFlow slots and takes them back. Each slot has a
// fixed index (DpFlow::index, dense from 0) and keeps its address for the
// whole life of the arena, so a PMD may hold a DpFlow* (EMC) or an index
// (signature match cache) to a slot that has since been retired and reused:
// such a reference is detected as stale, never dereferenced as freed memory.
//
// Design: the arena reserves address space for max_flows slots once, at
// construction, as one range of transparent-huge-page memory (huge_mem.h),
// and makes the first prefault_flows slots resident right away (the rest
// costs address space only until used). Page faults on first touch of a
// slot were ~20% of the ofproto thread while it installed a storm of new
// megaflows (a fault every ~3 flows with 4 KB pages); in a VM a fresh 2 MB
// page can cost more still (the host backs it on first touch), so the
// faults are taken when the PMD is created, not on the miss path, and
// flows beyond the prefaulted ones fault in 2 MB pages (one per ~1700
// flows), which also spares the PMD's megaflow lookups TLB misses. Slots
// are constructed kFlowArenaChunk at a time as flows are needed (the chunk
// table publishes them). Slots keep their address until the arena is
// destroyed. Free slots form a FIFO queue,
// so a retired slot is reused as late as possible: stale cache references to
// it (EMC pointers, SMC indexes) have the longest time to be swept or
// replaced before the slot holds a new flow (they are harmless either way:
// the EMC checks the generation, the SMC verifies the key under the flow's
// mask).
// Generations: DpFlow::gen is never reset. The owning PMD bumps it when the
// flow leaves its classifier (MegaflowClassifier::remove), which turns every
// EMC entry holding (flow, old gen) into a miss. alloc() keeps gen as it is,
// so entries created before the slot was freed stay stale after reuse.
//
// Thread-safety (one arena per PMD):
//  - alloc(), free(), in_use(), reserved(): the control thread that installs
//    flows for this PMD (the ofproto/datapath thread), one at a time.
//  - flow(index): any thread, for an index of a slot that thread was handed
//    (an installed flow, or an index read from the PMD's own caches). Chunk
//    pointers are published with release stores before any of their slots is
//    handed out; slots reach the PMD through its command ring, which orders
//    the control thread's writes before the PMD's reads.
//  - Life cycle of a slot: control alloc() -> fills key/mask/actions/ufid ->
//    install command -> PMD MegaflowClassifier::insert -> ... -> delete
//    command -> PMD MegaflowClassifier::remove (gen++) -> PMD hands the
//    pointer back (reply ring) -> control free(). free() of an installed flow
//    is a caller bug and aborts.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dp_flow.h"

namespace dps::datapath {

// 1024 flows x ~1.2 KB = ~1.2 MB constructed per step: slots (and the free
// queue) grow in steps this size; the memory under them is faulted in 2 MB
// pages as the slots are first written.
inline constexpr uint32_t kFlowArenaChunk = 1024;
// Default limit per PMD, like OVS's flow-limit order of magnitude (200k).
inline constexpr uint32_t kFlowArenaDefaultMax = 256 * 1024;
// Slots made resident when the arena is created: 64k flows x ~1.2 KB =
// ~75 MB per PMD, so a flow-setup storm on a fresh PMD (up to 64k new
// megaflows) takes no page fault on the miss path.
inline constexpr uint32_t kFlowArenaDefaultPrefault = 64 * 1024;

class FlowArena {
 public:
  // max_flows is rounded up to a whole number of chunks; it is a hard limit.
  // The first min(prefault_flows, max_flows) slots are made resident now.
  // Throws std::bad_alloc when the address space cannot be reserved.
  explicit FlowArena(uint32_t max_flows = kFlowArenaDefaultMax,
                     uint32_t prefault_flows = kFlowArenaDefaultPrefault);
  ~FlowArena();
  FlowArena(const FlowArena&) = delete;
  FlowArena& operator=(const FlowArena&) = delete;

  // Control thread. Returns a slot with counters zeroed, actions empty,
  // installed = false, index set and gen unchanged; key/mask are zeroed.
  // Returns nullptr when max_flows slots are in use (the caller reports
  // "flow limit reached").
  DpFlow* alloc();

  // Control thread. Returns a retired slot (not installed in any classifier)
  // to the free queue. Aborts on a pointer that is not a slot of this arena,
  // on a slot that is still installed, and on a double free.
  void free(DpFlow* flow);

  // Any thread (see Thread-safety). index < reserved().
  DpFlow* flow(uint32_t index) const {
    return chunks_[index / kFlowArenaChunk].load(std::memory_order_acquire) +
           index % kFlowArenaChunk;
  }

  uint32_t max_flows() const { return max_flows_; }
  // Slots backed by memory (a multiple of kFlowArenaChunk).
  uint32_t reserved() const { return reserved_.load(std::memory_order_relaxed); }
  uint32_t in_use() const { return in_use_; }

 private:
  bool grow();

  const uint32_t max_flows_;
  DpFlow* slots_;  // max_flows_ slots of huge_map() memory, constructed up to reserved()
  std::unique_ptr<std::atomic<DpFlow*>[]> chunks_;  // max_flows_ / chunk entries
  std::atomic<uint32_t> reserved_{0};
  // FIFO of free indexes (ring of capacity max_flows_).
  std::vector<uint32_t> free_;
  uint32_t free_head_ = 0;
  uint32_t free_count_ = 0;
  std::vector<uint8_t> is_free_;  // per reserved slot, catches double free
  uint32_t in_use_ = 0;
};

}  // namespace dps::datapath
