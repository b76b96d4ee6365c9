// miss_ring.h - the lock-free ring that carries upcalls from one PMD to the
// ofproto thread.
//
// What: a typed single-producer/single-consumer wrapper over rte_ring with
// Upcall-sized elements (the record is copied into the ring; no allocation),
// plus a counter of upcalls lost because the ring was full.
//
// Design: rte_ring keeps producer and consumer indexes on separate cache
// lines (a LocalRing: no EAL needed). Bursts follow rte_ring's "burst"
// semantics: enqueue_burst copies as many records as fit and returns that
// count; the caller frees and counts the rest (a PMD never waits for the
// slow path). Sized so that a miss storm fills
// the ring in well under a millisecond, which bounds the slow path's backlog
// and the latency of a first packet instead of queueing seconds of misses.
//
// Thread-safety: enqueue_burst() from the owning PMD only; dequeue_burst()
// from the one consumer thread only; lost()/count() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "compiler.h"
#include "local_ring.h"
#include "upcall.h"

namespace dps::datapath {

// 4096 upcalls = 768 KiB per PMD; at ~10 Mpps of misses that is 0.4 ms.
inline constexpr unsigned kMissRingSize = 4096;

class MissRing {
 public:
  // Throws std::runtime_error when the ring cannot be created.
  explicit MissRing(const std::string& name, unsigned size = kMissRingSize);

  // Producer. Returns how many of the n records were enqueued; the caller
  // owns the packets of the rest. Failures are added to lost().
  unsigned enqueue_burst(const Upcall* ups, unsigned n);
  // Consumer. Returns how many records were copied into out (at most n).
  unsigned dequeue_burst(Upcall* out, unsigned n);

  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }
  unsigned count() const;

 private:
  LocalRing ring_;
  alignas(kCacheLine) std::atomic<uint64_t> lost_{0};  // producer-written
};

}  // namespace dps::datapath
