// vhost_state.h - what a net_vhost port knows of its guest, and which tx
// queue each transmitting slot uses.
//
// What: VhostState follows the guest's vrings (enabled / disabled, through
// DPDK's RTE_ETH_EVENT_QUEUE_STATE callback) and remaps the slots (PMDs and
// the control thread) onto the tx queues the guest has enabled, as OVS's
// netdev_dpdk_remap_txqs: a guest that enables one queue pair of four still
// receives from every PMD, instead of losing what three of them send.
// info() reports the connection, the vrings, the guest's NUMA node and the
// socket for Interface.status and dpsctl.
//
// Design: the callbacks (queue state, link state) run on DPDK's
// vhost-events thread; the queue one drains the
// port's queue events into two bitmaps and rewrites the slot map, all
// relaxed atomics that a PMD reads once per burst. Several slots may then
// share a queue: the port locks each vhost tx queue per burst (DpdkNetdev).
// While the guest has no tx queue enabled the static map stays (its
// packets are counted as tx drops by the device, as before).
//
// Thread-safety: queue_of_slot() on any slot's thread; info() on the
// control thread; the constructor and destructor on the control thread
// (the destructor unregisters the callback and waits for a running one).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netdev.h"

namespace dps::netdev {

class VhostState {
 public:
  // n_slots: every slot's static queue is slot % n_txq.
  VhostState(std::string name, uint16_t port_id, uint16_t n_rxq, uint16_t n_txq, size_t n_slots);
  ~VhostState();
  VhostState(const VhostState&) = delete;
  VhostState& operator=(const VhostState&) = delete;

  uint16_t queue_of_slot(size_t slot) const {
    return slot_queue_[slot].load(std::memory_order_relaxed);
  }
  VhostInfo info() const;
  // DPDK's callback (vhost-events thread): a vring changed state, or the
  // link did (a guest that goes away leaves no vring enabled).
  void on_event(bool link_change);

 private:
  void drain_events();
  void remap();

  std::string name_;
  uint16_t port_id_;
  uint16_t n_rxq_, n_txq_;
  size_t n_slots_;
  std::unique_ptr<std::atomic<uint16_t>[]> slot_queue_;
  std::atomic<uint64_t> rx_enabled_{0};  // bit q: the guest enabled our rx queue q (its tx vring)
  std::atomic<uint64_t> tx_enabled_{0};  // bit q: our tx queue q (its rx vring)
  std::atomic<uint64_t> remaps_{0};
};

}  // namespace dps::netdev
