// virtual_netdev.h - a datapath port with no device: a tunnel port
// (vxlan/geneve/gre).
//
// What: a number in the datapath's port table and nothing else: no rx or
// tx queues, so no PMD polls it. Packets "arrive" on it when the tnl_pop
// action strips a tunnel header received on the underlay and sets in_port
// to it; output to it is translated into tnl_push + output to the underlay,
// so a frame handed to tx_burst directly is dropped and counted.
//
// Design: always up; info() says nothing (no MAC, no MTU: the tunnel's
// MTU is its underlay's, checked by the encap action).
//
// Thread-safety: as netdev.h; the drop counter takes atomic adds.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <memory>

#include "netdev.h"

namespace dps::netdev {

class VirtualNetdev final : public Netdev {
 public:
  explicit VirtualNetdev(const std::string& name) : Netdev(name) {}
  std::string type() const override { return "tunnel"; }
  uint16_t n_rxq() const override { return 0; }
  uint16_t n_txq() const override { return 0; }
  uint16_t rx_burst(uint16_t, rte_mbuf**, uint16_t) override { return 0; }
  uint16_t tx_burst(unsigned, rte_mbuf** pkts, uint16_t n) override {
    rte_pktmbuf_free_bulk(pkts, n);
    tx_dropped_.fetch_add(n, std::memory_order_relaxed);
    return 0;
  }
  bool link_up() const override { return true; }
  NetdevInfo info() const override {
    NetdevInfo i;
    i.link_up = true;
    return i;
  }
  PortStats stats() const override {
    PortStats s;
    s.tx_dropped = tx_dropped_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::atomic<uint64_t> tx_dropped_{0};
};

}  // namespace dps::netdev
