#include "miss_ring.h"

#include <rte_errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <stdexcept>

namespace dps::datapath {

MissRing::MissRing(const std::string& name, unsigned size) {
  ring_ = rte_ring_create_elem(name.c_str(), sizeof(Upcall), size, SOCKET_ID_ANY,
                               RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
  if (!ring_)
    throw std::runtime_error("cannot create miss ring " + name + ": " + rte_strerror(rte_errno));
}

MissRing::~MissRing() { rte_ring_free(ring_); }

unsigned MissRing::enqueue_burst(const Upcall* ups, unsigned n) {
  unsigned done = rte_ring_enqueue_burst_elem(ring_, ups, sizeof(Upcall), n, nullptr);
  if (done < n) lost_.store(lost_.load(std::memory_order_relaxed) + (n - done),
                            std::memory_order_relaxed);
  return done;
}

unsigned MissRing::dequeue_burst(Upcall* out, unsigned n) {
  return rte_ring_dequeue_burst_elem(ring_, out, sizeof(Upcall), n, nullptr);
}

unsigned MissRing::count() const { return rte_ring_count(ring_); }

}  // namespace dps::datapath
