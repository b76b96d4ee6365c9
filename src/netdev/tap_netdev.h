// tap_netdev.h - an internal port: a kernel tap device named after the
// port, so the host's own stack sits on the bridge (`ip addr add` on it).
//
// What: TapNetdev::open creates tap `cfg.name` (kernel_if.h), sets its MTU
// (cfg.mtu, else 1500) and brings it up; destroying the port closes the
// fd, which removes the device. One rx and one tx queue. The MTU can be
// changed in place (set_mtu) so addresses the user configured survive it.
//
// Design: the PMDs only touch two rte_rings; the syscalls are made by the
// TapIo thread (tap_io.h), so polling an idle internal port costs a PMD one
// empty ring dequeue, and sending to one never blocks a PMD on the kernel.
// Details come from the kernel (MAC, MTU, IFF_UP/IFF_RUNNING, ifindex).
//
// Thread-safety: as netdev.h. rx_burst: the one PMD polling queue 0;
// tx_burst: any PMD or the control slot (multi-producer ring).
#pragma once

#include <memory>

#include "netdev.h"
#include "tap_io.h"

struct rte_mempool;

namespace dps::netdev {

class TapNetdev final : public Netdev {
 public:
  // Throws NetdevError naming the port and the reason.
  static std::unique_ptr<TapNetdev> open(const PortConfig& cfg, rte_mempool* pool);
  ~TapNetdev() override;

  std::string type() const override { return "internal"; }
  // PMD side: the two rings.
  uint16_t rx_burst(uint16_t q, rte_mbuf** pkts, uint16_t n) override;
  uint16_t tx_burst(unsigned slot, rte_mbuf** pkts, uint16_t n) override;
  uint16_t n_rxq() const override { return 1; }
  uint16_t n_txq() const override { return 1; }
  // Control side: the kernel device (kernel_if.h) and the TapIo counters.
  std::string set_mtu(uint32_t mtu) override;
  bool link_up() const override;
  NetdevInfo info() const override;
  PortStats stats() const override;
  void clear_stats() override;

 private:
  explicit TapNetdev(const std::string& name);
  PortStats raw_stats() const;

  TapChannel ch_;
  TapIo* io_ = &TapIo::instance();
  bool attached_ = false;  // served by io_
  PortStats base_{};  // counters at the last clear_stats()
};

}  // namespace dps::netdev
