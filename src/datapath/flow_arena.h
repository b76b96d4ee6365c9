// flow_arena.h - the memory every DpFlow of one PMD lives in.
//
// What: FlowArena hands out DpFlow slots and takes them back. Each slot has a
// fixed index (DpFlow::index, dense from 0) and keeps its address for the
// whole life of the arena, so a PMD may hold a DpFlow* (EMC) or an index
// (signature match cache) to a slot that has since been retired and reused:
// such a reference is detected as stale, never dereferenced as freed memory.
//
// Design: slots come in chunks of kFlowArenaChunk flows. The chunk table is
// sized once for max_flows and never reallocated, chunks are allocated on
// demand and freed only by the destructor. Free slots form a FIFO queue, so a
// retired slot is reused as late as possible: stale cache references to it
// (EMC pointers, SMC indexes) have the longest time to be swept or replaced
// before the slot holds a new flow (they are harmless either way: the EMC
// checks the generation, the SMC verifies the key under the flow's mask).
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

// 1024 flows x ~700 B = ~700 KB per chunk: big enough that 100k flows take
// ~100 allocations, small enough that an idle PMD does not pin megabytes.
inline constexpr uint32_t kFlowArenaChunk = 1024;
// Default limit per PMD, like OVS's flow-limit order of magnitude (200k).
inline constexpr uint32_t kFlowArenaDefaultMax = 256 * 1024;

class FlowArena {
 public:
  // max_flows is rounded up to a whole number of chunks; it is a hard limit.
  explicit FlowArena(uint32_t max_flows = kFlowArenaDefaultMax);
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
