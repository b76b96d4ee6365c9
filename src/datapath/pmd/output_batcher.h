// output_batcher.h - per-PMD, per-output-port transmit batches.
//
// What: actions append packets to the batch of their output port; a batch is
// sent when it fills and at the end of every PMD iteration, so each port sees
// one tx_burst per iteration however the packets were grouped by flow.
//
// Design: a flat array indexed by datapath port number (no hashing), plus a
// list of the ports touched this iteration so the flush visits only those.
// Sending to a port that does not exist (a race with port removal) drops the
// packet and counts it.
//
// Thread-safety: PMD-thread only; no locks. set_ports() is applied by the
// PMD itself from its command ring, with every batch flushed first.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <vector>

#include "netdev.h"
#include "packet_batch.h"
#include "command_ring.h"
#include "pmd_counters.h"

namespace dps::datapath {

// Datapath port numbers are 0..kMaxPorts-1 (OpenFlow ports map onto them).
// 256 batches of 264 B = 66 KiB per PMD, of which only used ports are touched.
inline constexpr uint32_t kMaxPorts = 256;

class OutputBatcher {
 public:
  OutputBatcher(unsigned tx_slot, PmdCounters* counters)
      : slot_(tx_slot), counters_(counters) {
    for (auto& b : batches_) b.clear();
  }

  void set_ports(const std::vector<TxPortRef>& ports) {
    for (uint32_t i = 0; i < kMaxPorts; i++) ports_[i] = i < ports.size() ? ports[i].port : nullptr;
  }

  void add(uint32_t port_no, rte_mbuf* m) {
    if (DPS_UNLIKELY(port_no >= kMaxPorts || !ports_[port_no])) {
      rte_pktmbuf_free(m);
      counters_->add(kTxDropped, 1);
      return;
    }
    netdev::PacketBatch& b = batches_[port_no];
    if (!dirty_flag_[port_no]) {
      dirty_flag_[port_no] = true;
      dirty_[n_dirty_++] = port_no;
    }
    b.add(m);
    if (DPS_UNLIKELY(b.full())) send(port_no);
  }

  // Adds n packets to one port (the common single-output flow): one port
  // check, then the pointers are copied a batch at a time.
  void add_bulk(uint32_t port_no, rte_mbuf* const* pkts, unsigned n) {
    if (DPS_UNLIKELY(port_no >= kMaxPorts || !ports_[port_no])) {
      rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(pkts), n);
      counters_->add(kTxDropped, n);
      return;
    }
    if (!dirty_flag_[port_no]) {
      dirty_flag_[port_no] = true;
      dirty_[n_dirty_++] = port_no;
    }
    netdev::PacketBatch& b = batches_[port_no];
    while (n) {
      unsigned room = netdev::kMaxBurst - b.count;
      unsigned k = n < room ? n : room;
      for (unsigned i = 0; i < k; i++) b.pkts[b.count + i] = pkts[i];
      b.count = static_cast<uint16_t>(b.count + k);
      pkts += k;
      n -= k;
      if (b.full()) send(port_no);
    }
  }

  void flush() {
    for (unsigned i = 0; i < n_dirty_; i++) {
      uint32_t p = dirty_[i];
      dirty_flag_[p] = false;
      if (!batches_[p].empty()) send(p);
    }
    n_dirty_ = 0;
  }

 private:
  void send(uint32_t port_no) {
    netdev::PacketBatch& b = batches_[port_no];
    uint16_t n = b.count;
    uint16_t sent = ports_[port_no]->tx_burst(slot_, b.pkts, n);
    counters_->add(kTxPackets, sent);
    if (sent < n) counters_->add(kTxDropped, n - sent);
    b.clear();
  }

  unsigned slot_;
  PmdCounters* counters_;
  unsigned n_dirty_ = 0;
  uint32_t dirty_[kMaxPorts];
  bool dirty_flag_[kMaxPorts] = {};
  netdev::Netdev* ports_[kMaxPorts] = {};
  netdev::PacketBatch batches_[kMaxPorts];
};

}  // namespace dps::datapath
