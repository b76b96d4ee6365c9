#include "mbuf_pool.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <stdexcept>

namespace dps::netdev {

MbufPool::MbufPool(const std::string& name, unsigned n_mbufs, int socket, uint16_t data_room) {
  uint64_t n = 1;
  while (n - 1 < n_mbufs) n <<= 1;
  // 2^k - 1 is the mempool's best size, but not at any price: a pool just
  // above a power of two (1M resident pcap packets + 64K) would double.
  unsigned count = n - 1 <= uint64_t{n_mbufs} * 9 / 8 ? static_cast<unsigned>(n - 1) : n_mbufs;
  pool_ = rte_pktmbuf_pool_create(name.c_str(), count, kMbufCacheSize, 0, data_room, socket);
  if (!pool_)
    throw std::runtime_error("cannot create mbuf pool '" + name + "' of " +
                             std::to_string(count) + " mbufs: " + rte_strerror(rte_errno));
}

MbufPool::~MbufPool() { rte_mempool_free(pool_); }

unsigned MbufPool::size() const { return pool_->size; }
unsigned MbufPool::in_use() const { return rte_mempool_in_use_count(pool_); }
unsigned MbufPool::available() const { return rte_mempool_avail_count(pool_); }

}  // namespace dps::netdev
