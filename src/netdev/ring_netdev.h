// ring_netdev.h - a port made of two rte_rings, for tests and patch ports.
//
// What: rx_burst dequeues from the "rx" ring, tx_burst enqueues into the "tx"
// ring. A test injects frames by enqueueing mbufs into rx_ring() and collects
// what the switch sent from tx_ring(). One rx queue.
//
// Design: the rx ring is single-consumer (one PMD polls it); the tx ring is
// multi-producer so every PMD and the control slot may send without a lock.
//
// Thread-safety: as netdev.h; inject()/collect() from any single thread.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "compiler.h"
#include "netdev.h"

struct rte_ring;

namespace dps::netdev {

class RingNetdev final : public Netdev {
 public:
  // Ring sizes are rounded up to a power of two. Throws NetdevError.
  RingNetdev(const std::string& name, unsigned ring_size = 4096);
  ~RingNetdev() override;

  std::string type() const override { return "ring"; }
  uint16_t n_rxq() const override { return 1; }
  uint16_t n_txq() const override { return 1; }
  uint16_t rx_burst(uint16_t q, rte_mbuf** pkts, uint16_t n) override;
  uint16_t tx_burst(unsigned slot, rte_mbuf** pkts, uint16_t n) override;
  bool link_up() const override { return true; }
  // Always up; no MAC, MTU or driver (a ring is not a device).
  NetdevInfo info() const override {
    NetdevInfo i;
    i.link_up = true;
    return i;
  }
  PortStats stats() const override;

  // Test side: frames into the switch / frames the switch sent. inject()
  // returns how many were enqueued (the rest stay owned by the caller).
  unsigned inject(rte_mbuf* const* pkts, unsigned n);
  unsigned collect(rte_mbuf** pkts, unsigned n);
  rte_ring* rx_ring() const { return rx_; }
  rte_ring* tx_ring() const { return tx_; }

 private:
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
  // rx counters: single writer (the polling PMD); tx counters: many writers.
  alignas(kCacheLine) std::atomic<uint64_t> rx_packets_{0};
  std::atomic<uint64_t> rx_bytes_{0};
  alignas(kCacheLine) std::atomic<uint64_t> tx_packets_{0};
  std::atomic<uint64_t> tx_bytes_{0};
  std::atomic<uint64_t> tx_dropped_{0};
};

}  // namespace dps::netdev
