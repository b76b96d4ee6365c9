#include "local_ring.h"

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <stdexcept>

#include "huge_mem.h"

namespace dps::datapath {

LocalRing::LocalRing(const std::string& name, unsigned esize, unsigned count) {
  const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;
  // As rte_ring_create_elem: an exact-size ring of `count` has the next
  // power of two above count slots.
  const ssize_t bytes = rte_ring_get_memsize_elem(esize, rte_align32pow2(count + 1));
  if (bytes < 0) throw std::runtime_error("cannot size ring " + name);
  bytes_ = static_cast<size_t>(bytes);
  ring_ = static_cast<rte_ring*>(base::huge_map(bytes_));
  if (!ring_) throw std::runtime_error("cannot map memory for ring " + name);
  if (rte_ring_init(ring_, name.c_str(), count, flags) != 0) {
    base::huge_unmap(ring_, bytes_);
    throw std::runtime_error("cannot initialise ring " + name);
  }
}

LocalRing::~LocalRing() { base::huge_unmap(ring_, bytes_); }

}  // namespace dps::datapath
