#include "command_ring.h"

#include <rte_errno.h>
#include <rte_ring.h>

#include <stdexcept>

namespace dps::datapath {

CommandRing::CommandRing(const std::string& name, unsigned size) {
  unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;
  requests_ = rte_ring_create(("cq_" + name).c_str(), size, SOCKET_ID_ANY, flags);
  // Every posted command comes back exactly once and at most `size` are in
  // flight, so a completion ring of the same size can never be full.
  completions_ = rte_ring_create(("cc_" + name).c_str(), size, SOCKET_ID_ANY, flags);
  if (!requests_ || !completions_) {
    rte_ring_free(requests_);
    rte_ring_free(completions_);
    throw std::runtime_error("cannot create command ring " + name + ": " +
                             rte_strerror(rte_errno));
  }
}

CommandRing::~CommandRing() {
  rte_ring_free(requests_);
  rte_ring_free(completions_);
}

bool CommandRing::post(PmdCommand* cmd) {
  // Posted and not yet reaped never exceeds the completion ring's capacity.
  if (outstanding_ >= rte_ring_get_capacity(completions_)) return false;
  if (rte_ring_enqueue(requests_, cmd) != 0) return false;
  outstanding_++;
  return true;
}

unsigned CommandRing::reap(PmdCommand** out, unsigned n) {
  unsigned got = rte_ring_dequeue_burst(completions_, reinterpret_cast<void**>(out), n, nullptr);
  outstanding_ -= got;
  return got;
}

unsigned CommandRing::take(PmdCommand** out, unsigned n) {
  return rte_ring_dequeue_burst(requests_, reinterpret_cast<void**>(out), n, nullptr);
}

void CommandRing::complete(PmdCommand* cmd) { rte_ring_enqueue(completions_, cmd); }

}  // namespace dps::datapath
