#include "flow_arena.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "compiler.h"
#include "huge_mem.h"

namespace dps::datapath {

namespace {

[[noreturn]] DPS_COLD void arena_abort(const char* what, const void* p, uint32_t idx) {
  std::fprintf(stderr, "FlowArena: %s (flow %p, index %u)\n", what, p, idx);
  std::abort();
}

}  // namespace

FlowArena::FlowArena(uint32_t max_flows, uint32_t prefault_flows)
    : max_flows_((max_flows == 0 ? 1 : (max_flows + kFlowArenaChunk - 1) / kFlowArenaChunk) *
                 kFlowArenaChunk),
      slots_(static_cast<DpFlow*>(base::huge_map(size_t{max_flows_} * sizeof(DpFlow)))),
      chunks_(new std::atomic<DpFlow*>[max_flows_ / kFlowArenaChunk]),
      free_(max_flows_) {
  if (!slots_) throw std::bad_alloc();
  base::huge_prefault(slots_, size_t{std::min(prefault_flows, max_flows_)} * sizeof(DpFlow));
  for (uint32_t i = 0; i < max_flows_ / kFlowArenaChunk; i++)
    chunks_[i].store(nullptr, std::memory_order_relaxed);
}

FlowArena::~FlowArena() {
  for (uint32_t i = 0; i < reserved(); i++) slots_[i].~DpFlow();
  base::huge_unmap(slots_, size_t{max_flows_} * sizeof(DpFlow));
}

bool FlowArena::grow() {
  uint32_t base = reserved_.load(std::memory_order_relaxed);
  if (base >= max_flows_) return false;
  DpFlow* chunk = slots_ + base;
  for (uint32_t i = 0; i < kFlowArenaChunk; i++) {
    new (&chunk[i]) DpFlow;
    chunk[i].index = base + i;
    // FIFO: new slots go behind the ones already free.
    free_[(free_head_ + free_count_) % max_flows_] = base + i;
    free_count_++;
  }
  is_free_.resize(base + kFlowArenaChunk, 1);
  chunks_[base / kFlowArenaChunk].store(chunk, std::memory_order_release);
  reserved_.store(base + kFlowArenaChunk, std::memory_order_relaxed);
  return true;
}

DpFlow* FlowArena::alloc() {
  if (free_count_ == 0 && !grow()) return nullptr;
  uint32_t idx = free_[free_head_];
  free_head_ = (free_head_ + 1) % max_flows_;
  free_count_--;
  is_free_[idx] = 0;
  in_use_++;

  DpFlow* f = flow(idx);
  std::memset(static_cast<void*>(&f->key), 0, sizeof f->key);
  std::memset(static_cast<void*>(&f->mask), 0, sizeof f->mask);
  f->actions.n = 0;
  f->ufid = 0;
  f->hash = 0;
  f->installed = false;
  f->packets.store(0, std::memory_order_relaxed);
  f->bytes.store(0, std::memory_order_relaxed);
  f->used_tsc.store(0, std::memory_order_relaxed);
  f->tcp_flags.store(0, std::memory_order_relaxed);
  return f;  // gen is deliberately left as it is
}

void FlowArena::free(DpFlow* f) {
  if (f == nullptr) arena_abort("free(nullptr)", f, 0);
  uint32_t idx = f->index;
  if (idx >= reserved() || flow(idx) != f) arena_abort("free of a pointer not from this arena", f, idx);
  if (is_free_[idx]) arena_abort("double free", f, idx);
  if (f->installed) arena_abort("free of a flow still installed in a classifier", f, idx);
  is_free_[idx] = 1;
  free_[(free_head_ + free_count_) % max_flows_] = idx;
  free_count_++;
  in_use_--;
}

}  // namespace dps::datapath
