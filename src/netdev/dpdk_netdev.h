// dpdk_netdev.h - a port backed by a DPDK ethdev: a physical NIC given by PCI
// address, or any vdev (net_memif, net_vhost, net_virtio_user, net_af_packet,
// net_tap, net_pcap, net_ring, net_null) given by its devargs string.
//
// What: opening probes the device (hot-plug) unless the EAL already created
// it from --vdev/-a arguments, configures rx/tx queues against the device's
// limits, and starts it. Closing stops and closes it and hot-unplugs the
// device when no other port of it remains (so the same devargs can be
// opened again, e.g. a port moved between bridges); every mbuf held by its
// queues goes back to the pool.
//
// Design: tx slots (one per PMD, plus the control slot) map onto the device's
// tx queues. With at least as many queues as slots each slot owns a queue and
// transmits without a lock; otherwise slots share queues round-robin and a
// shared queue takes its spinlock once per burst (a vhost-user port with one
// queue pair and two PMDs). A vhost-user port follows its guest (VhostState:
// slots remapped onto the queues the guest enabled, so every vhost queue
// takes the lock) and retries a burst the guest's ring did not take
// (PortConfig::tx_retries). Tx drops and retries are counted per slot (no
// shared atomics).
//
// Thread-safety: see netdev.h. open()/destruction on the control thread only.
#pragma once

#include <rte_spinlock.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

#include "compiler.h"
#include "netdev.h"
#include "vhost_state.h"

struct rte_mempool;

namespace dps::netdev {

// A port that could not be opened: says which port, which devargs, and what
// DPDK reported. The daemon logs it and carries on with its other ports.
class NetdevError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DpdkNetdev final : public Netdev {
 public:
  // n_tx_slots: the number of PMD threads that will transmit (the control
  // slot is added on top). Throws NetdevError.
  static std::unique_ptr<DpdkNetdev> open(const PortConfig& cfg, rte_mempool* pool,
                                          unsigned n_tx_slots);
  ~DpdkNetdev() override;

  std::string type() const override { return "dpdk"; }
  uint16_t n_rxq() const override { return n_rxq_; }
  uint16_t n_txq() const override { return n_txq_; }
  uint16_t port_id() const { return port_id_; }
  const std::string& devargs() const { return devargs_; }

  uint16_t rx_burst(uint16_t q, rte_mbuf** pkts, uint16_t n) override;
  uint16_t tx_burst(unsigned slot, rte_mbuf** pkts, uint16_t n) override;

  // The ethdev's link status; for net_af_packet the kernel interface's
  // (IFF_UP and IFF_RUNNING: one ioctl), which the vdev does not report.
  bool link_up() const override;
  NetdevInfo info() const override;
  PortStats stats() const override;
  void clear_stats() override;
  std::vector<std::pair<std::string, uint64_t>> xstats() const override;
  // Which tx queue a slot uses and whether it is shared (for stats/tests).
  uint16_t txq_of_slot(unsigned slot) const;
  bool txq_shared(uint16_t q) const { return txqs_[q].shared; }

 private:
  DpdkNetdev(const PortConfig& cfg, uint16_t port_id);
  void configure(const PortConfig& cfg, rte_mempool* pool, unsigned n_tx_slots);

  struct alignas(kCacheLine) TxQueue {
    rte_spinlock_t lock;
    bool shared = false;
  };
  struct alignas(kCacheLine) SlotCounters {
    std::atomic<uint64_t> tx_dropped{0};  // written by the slot's owner only (relaxed)
    std::atomic<uint64_t> tx_retries{0};
  };
  uint16_t send(uint16_t q, rte_mbuf** pkts, uint16_t n);

  std::string devargs_;
  std::string dev_name_;
  std::string kernel_iface_;  // net_af_packet: the kernel interface (its carrier is the link state)
  uint16_t port_id_;
  bool started_ = false;
  uint16_t n_rxq_ = 0;
  uint16_t n_txq_ = 0;
  std::vector<uint16_t> slot_queue_;  // index: slot (last = control slot)
  std::unique_ptr<TxQueue[]> txqs_;
  std::unique_ptr<SlotCounters[]> slot_counters_;
  uint8_t tx_retries_ = 0;
  std::unique_ptr<VhostState> vhost_;  // net_vhost ports: the guest's queues
  PortStats base_{};  // counters at the last clear_stats()
};

}  // namespace dps::netdev
