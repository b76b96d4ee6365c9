// local_ring.h - an rte_ring in the process's own memory.
//
// What: LocalRing owns one single-producer/single-consumer rte_ring of
// `count` elements of `esize` bytes (count usable slots exactly), for the
// command ring and the miss ring of a PMD.
//
// Design: the ring is laid out with rte_ring_init() in a range from
// base::huge_map() (transparent huge pages, as the EAL's hugepage memzones
// gave it before) instead of rte_ring_create(): it needs no EAL, so a
// PmdThread and its rings can be built in unit tests and in the sanitizer
// build, and ring names need not be unique across the process. The ring is
// not registered in the EAL's ring list (nothing looks it up by name).
//
// Thread-safety: construction and destruction by one thread while no one
// uses the ring; the ring itself is SP/SC (one producer, one consumer).
#pragma once

#include <cstddef>
#include <string>

struct rte_ring;

namespace dps::datapath {

class LocalRing {
 public:
  // Throws std::runtime_error (with `name`) when the ring cannot be made.
  LocalRing(const std::string& name, unsigned esize, unsigned count);
  ~LocalRing();
  LocalRing(const LocalRing&) = delete;
  LocalRing& operator=(const LocalRing&) = delete;

  rte_ring* get() const { return ring_; }

 private:
  rte_ring* ring_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace dps::datapath
