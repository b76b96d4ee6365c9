#include "miss_ring.h"

#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace dps::datapath {

MissRing::MissRing(const std::string& name, unsigned size) : ring_(name, sizeof(Upcall), size) {}

unsigned MissRing::enqueue_burst(const Upcall* ups, unsigned n) {
  unsigned done = rte_ring_enqueue_burst_elem(ring_.get(), ups, sizeof(Upcall), n, nullptr);
  if (done < n) lost_.store(lost_.load(std::memory_order_relaxed) + (n - done),
                            std::memory_order_relaxed);
  return done;
}

unsigned MissRing::dequeue_burst(Upcall* out, unsigned n) {
  return rte_ring_dequeue_burst_elem(ring_.get(), out, sizeof(Upcall), n, nullptr);
}

unsigned MissRing::count() const { return rte_ring_count(ring_.get()); }

}  // namespace dps::datapath
