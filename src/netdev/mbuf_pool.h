// mbuf_pool.h - creation and lifetime of the packet buffer pools.
//
// What: one rte_mempool of packet mbufs per NUMA socket, shared by every port
// on that socket (ports give it to their rx queues), sized for the ports'
// descriptor rings, the PMDs' in-flight batches and the miss rings, and
// capped by the memory the EAL actually has (hugepages or --no-huge -m).
//
// Thread-safety: create/destroy on the control thread; the pool itself is
// DPDK's lock-free mempool with per-lcore caches (any thread may alloc/free).
#pragma once

#include <cstdint>
#include <string>

struct rte_mempool;

namespace dps::netdev {

// 256 = DPDK's recommended per-lcore cache: 8 bursts, refilled in bulk.
inline constexpr unsigned kMbufCacheSize = 256;
// Smallest pool we create: 16K mbufs fit in --no-huge -m 1024 with room to spare.
inline constexpr unsigned kMinMbufs = 16384;

class MbufPool {
 public:
  // n_mbufs is rounded up to 2^k - 1 (the mempool's best size) when that
  // adds at most 1/8; otherwise it is taken as it is. Throws
  // std::runtime_error (with DPDK's reason) when the pool cannot be created.
  MbufPool(const std::string& name, unsigned n_mbufs, int socket,
           uint16_t data_room = 2048 + 128 /* RTE_PKTMBUF_HEADROOM */);
  ~MbufPool();
  MbufPool(const MbufPool&) = delete;
  MbufPool& operator=(const MbufPool&) = delete;

  rte_mempool* get() const { return pool_; }
  unsigned size() const;
  unsigned in_use() const;  // mbufs allocated and not yet returned
  unsigned available() const;

 private:
  rte_mempool* pool_ = nullptr;
};

}  // namespace dps::netdev
