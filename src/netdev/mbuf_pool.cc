#include "mbuf_pool.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <stdexcept>

namespace dps::netdev {

MbufPool::MbufPool(const std::string& name, unsigned n_mbufs, int socket, uint16_t data_room) {
  unsigned n = 1;
  while (n - 1 < n_mbufs) n <<= 1;
  pool_ = rte_pktmbuf_pool_create(name.c_str(), n - 1, kMbufCacheSize, 0, data_room, socket);
  if (!pool_)
    throw std::runtime_error("cannot create mbuf pool '" + name + "' of " +
                             std::to_string(n - 1) + " mbufs: " + rte_strerror(rte_errno));
}

MbufPool::~MbufPool() { rte_mempool_free(pool_); }

unsigned MbufPool::size() const { return pool_->size; }
unsigned MbufPool::in_use() const { return rte_mempool_in_use_count(pool_); }
unsigned MbufPool::available() const { return rte_mempool_avail_count(pool_); }

}  // namespace dps::netdev
