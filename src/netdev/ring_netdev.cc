#include "ring_netdev.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dpdk_netdev.h"

namespace dps::netdev {
namespace {

rte_ring* make_ring(const std::string& name, unsigned size, unsigned flags) {
  unsigned n = 1;
  while (n < size) n <<= 1;
  rte_ring* r = rte_ring_create(name.c_str(), n, SOCKET_ID_ANY, flags);
  if (!r) throw NetdevError("ring port " + name + ": " + rte_strerror(rte_errno));
  return r;
}

uint64_t bytes_of(rte_mbuf* const* pkts, unsigned n) {
  uint64_t b = 0;
  for (unsigned i = 0; i < n; i++) b += rte_pktmbuf_pkt_len(pkts[i]);
  return b;
}

void add_relaxed(std::atomic<uint64_t>& c, uint64_t v) {
  c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

}  // namespace

RingNetdev::RingNetdev(const std::string& name, unsigned ring_size) : Netdev(name) {
  rx_ = make_ring("rx_" + name, ring_size, RING_F_SC_DEQ);
  try {
    tx_ = make_ring("tx_" + name, ring_size, RING_F_SC_DEQ);
  } catch (...) {
    rte_ring_free(rx_);
    throw;
  }
}

RingNetdev::~RingNetdev() {
  rte_mbuf* m;
  for (rte_ring* r : {rx_, tx_}) {
    while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(r);
  }
}

uint16_t RingNetdev::rx_burst(uint16_t, rte_mbuf** pkts, uint16_t n) {
  unsigned got = rte_ring_dequeue_burst(rx_, reinterpret_cast<void**>(pkts), n, nullptr);
  if (got) {
    add_relaxed(rx_packets_, got);
    add_relaxed(rx_bytes_, bytes_of(pkts, got));
  }
  return static_cast<uint16_t>(got);
}

uint16_t RingNetdev::tx_burst(unsigned, rte_mbuf** pkts, uint16_t n) {
  unsigned sent = admin_up()
                      ? rte_ring_enqueue_burst(tx_, reinterpret_cast<void**>(pkts), n, nullptr)
                      : 0;
  // Many producers: atomic adds (this port is for tests and patch ports).
  tx_packets_.fetch_add(sent, std::memory_order_relaxed);
  tx_bytes_.fetch_add(bytes_of(pkts, sent), std::memory_order_relaxed);
  if (sent < n) {
    tx_dropped_.fetch_add(n - sent, std::memory_order_relaxed);
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
  return static_cast<uint16_t>(sent);
}

PortStats RingNetdev::stats() const {
  PortStats s;
  s.rx_packets = rx_packets_.load(std::memory_order_relaxed);
  s.rx_bytes = rx_bytes_.load(std::memory_order_relaxed);
  s.tx_packets = tx_packets_.load(std::memory_order_relaxed);
  s.tx_bytes = tx_bytes_.load(std::memory_order_relaxed);
  s.tx_dropped = tx_dropped_.load(std::memory_order_relaxed);
  return s;
}

unsigned RingNetdev::inject(rte_mbuf* const* pkts, unsigned n) {
  return rte_ring_enqueue_burst(rx_, reinterpret_cast<void* const*>(pkts), n, nullptr);
}

unsigned RingNetdev::collect(rte_mbuf** pkts, unsigned n) {
  return rte_ring_dequeue_burst(tx_, reinterpret_cast<void**>(pkts), n, nullptr);
}

}  // namespace dps::netdev
