// packet_batch.h - a fixed-capacity POD batch of mbuf pointers (at most one
// rx burst). No heap, no constructor: it lives on the PMD's stack or inside
// per-port output batchers, and is reset by setting count = 0.
#pragma once

#include <cassert>
#include <cstdint>
#include <type_traits>

struct rte_mbuf;

namespace dps::netdev {

// 32 = DPDK's customary burst: large enough to amortise the per-burst driver
// and lookup overhead, small enough that 32 keys (4 KiB) stay in L1.
inline constexpr uint16_t kMaxBurst = 32;

struct PacketBatch {
  uint16_t count;
  rte_mbuf* pkts[kMaxBurst];

  void clear() { count = 0; }
  bool full() const { return count == kMaxBurst; }
  bool empty() const { return count == 0; }
  // Unchecked: the caller guarantees room (asserted in debug builds).
  void add(rte_mbuf* m) {
    assert(count < kMaxBurst);
    pkts[count++] = m;
  }
};
static_assert(std::is_trivial_v<PacketBatch>);

}  // namespace dps::netdev
