#include "command_ring.h"

#include <rte_ring.h>

namespace dps::datapath {

// Every posted command comes back exactly once and at most `size` are in
// flight, so a completion ring of the same size can never be full.
CommandRing::CommandRing(const std::string& name, unsigned size)
    : requests_("cq_" + name, sizeof(PmdCommand*), size),
      completions_("cc_" + name, sizeof(PmdCommand*), size) {}

bool CommandRing::post(PmdCommand* cmd) {
  // Posted and not yet reaped never exceeds the completion ring's capacity.
  if (outstanding_ >= rte_ring_get_capacity(completions_.get())) return false;
  if (rte_ring_enqueue(requests_.get(), cmd) != 0) return false;
  outstanding_++;
  return true;
}

unsigned CommandRing::reap(PmdCommand** out, unsigned n) {
  unsigned got =
      rte_ring_dequeue_burst(completions_.get(), reinterpret_cast<void**>(out), n, nullptr);
  outstanding_ -= got;
  return got;
}

unsigned CommandRing::take(PmdCommand** out, unsigned n) {
  return rte_ring_dequeue_burst(requests_.get(), reinterpret_cast<void**>(out), n, nullptr);
}

void CommandRing::complete(PmdCommand* cmd) { rte_ring_enqueue(completions_.get(), cmd); }

}  // namespace dps::datapath
