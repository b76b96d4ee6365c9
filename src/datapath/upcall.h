// upcall.h - the record a PMD hands to the ofproto side for a packet it could
// not (or was told not to) handle itself.
#pragma once

#include <cstdint>

#include "actions.h"
#include "flow_key.h"

struct rte_mbuf;

namespace dps::datapath {

enum class UpcallReason : uint8_t {
  kMiss,       // no megaflow matched
  kUserspace,  // a kUserspace action (e.g. to the controller)
  kSample,     // a kSample action picked the packet (cookie = slot)
};

struct Upcall {
  FlowKey key;        // as extracted on the PMD (first so it stays 64B aligned)
  rte_mbuf* pkt;      // owned by the consumer once dequeued
  uint32_t hash;      // the key's hash, for grouping equal keys
  uint32_t cookie;    // kUserspace: the action's cookie; kSample: the sampler slot
  DpSampleCookie sample;  // kSample: the action's cookie
  uint16_t pmd;       // PMD index that missed (where to install and execute)
  UpcallReason reason;
};
static_assert(sizeof(Upcall) % 4 == 0, "rte_ring_elem needs a multiple of 4 bytes");

}  // namespace dps::datapath
