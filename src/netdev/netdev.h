// netdev.h - the port abstraction every datapath port implements.
//
// What: a Netdev is one switch port: rx queues polled by PMD threads, tx
// queues written by PMD threads, link state and counters read by the control
// plane. Implementations: DpdkNetdev (any ethdev: PCI NIC or vdev, created from
// a devargs string), RingNetdev (two rte_rings; tests), TapNetdev (an
// internal port: a kernel tap device) and VirtualNetdev (a tunnel port: no
// device, no queues).
//
// Design: one virtual call per burst, never per packet. Queue ids are dense
// (0..n_rxq-1, 0..n_txq-1). Transmit takes a "tx slot" (the PMD's index); the
// port maps slots onto its real tx queues, and when it has fewer queues than
// slots (a vhost-user port with one queue pair and two PMDs) it serialises the
// sharers of one queue with a per-queue spinlock taken once per burst.
//
// Thread-safety:
//  - rx_burst(q): only the one PMD thread that owns rx queue q.
//  - tx_burst(slot): only the PMD thread whose index is `slot` (or the control
//    thread with slot == kControlTxSlot, which always takes the queue lock).
//  - stats(), link_up(), xstats(), info(): any thread, concurrently with the
//    above (control-plane calls: info() may ask the driver several things).
//  - start/stop/destruction: control thread, while no PMD polls the port.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "port_stats.h"

struct rte_mbuf;

namespace dps::netdev {

// Tx slot used by the control thread (e.g. a packet-out); distinct from every
// PMD index, so it never races with a PMD's unlocked private queue.
inline constexpr unsigned kControlTxSlot = 0xffff;

struct PortConfig {
  std::string name;        // switch-visible name, e.g. "p1"
  std::string type;        // registry type: "dpdk" (default) or "ring"
  std::string devargs;     // "0000:03:00.0" or "net_memif0,role=server,..."
  uint16_t n_rxq = 1;
  uint16_t n_txq = 0;      // 0: one per PMD thread plus one for the control thread
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  uint32_t mtu = 0;        // 0: leave the device default
  // Further tx_burst attempts when the device takes less than offered
  // (vhost-user: options:tx-retries-max, 8 by default as OVS).
  uint8_t tx_retries = 0;
};

// A vhost-user port's view of its guest (Interface.status as OVS shows it).
struct VhostInfo {
  bool connected = false;
  int numa_node = -1;        // the guest memory's node, -1: unknown
  unsigned vrings = 0;       // vrings the guest set up
  unsigned rxq_enabled = 0;  // our rx queues the guest enabled (its tx vrings)
  unsigned txq_enabled = 0;  // our tx queues the guest enabled (its rx vrings)
  uint64_t txq_remaps = 0;   // times the slots were remapped onto enabled queues
  std::string socket;        // the vhost-user socket path
};

// What the control plane shows about a port (OVSDB Interface columns, OpenFlow
// port descriptions), as plain values: nobody above src/netdev asks the
// driver directly. Unset/empty/0 means the device does not say.
struct NetdevInfo {
  std::optional<std::array<uint8_t, 6>> hw_addr;  // MAC address
  std::optional<uint32_t> mtu;
  std::string driver_name;
  std::optional<uint32_t> device_id;  // the driver's own port number (DPDK port id)
  bool link_up = false;
  uint32_t link_speed_mbps = 0;       // 0: unknown / no link
  bool full_duplex = false;
  // A port backed by a kernel network interface (an internal port's tap):
  // its name there and its ifindex; empty / 0 otherwise.
  std::string kernel_name;
  int ifindex = 0;
  int numa_node = -1;  // the device's NUMA node, -1: unknown / any
  std::optional<VhostInfo> vhost;  // net_vhost ports
};

class Netdev {
 public:
  virtual ~Netdev() = default;
  Netdev(const Netdev&) = delete;
  Netdev& operator=(const Netdev&) = delete;

  const std::string& name() const { return name_; }
  virtual std::string type() const = 0;
  virtual uint16_t n_rxq() const = 0;
  virtual uint16_t n_txq() const = 0;

  // Receives at most n packets from rx queue q into pkts. Returns how many were
  // received; 0 means nothing was waiting (never an error). The caller owns
  // the returned mbufs.
  virtual uint16_t rx_burst(uint16_t q, rte_mbuf** pkts, uint16_t n) = 0;

  // Sends n packets through the tx queue mapped to `slot`. Always takes
  // ownership of all n: what the device does not accept is freed here and
  // counted in tx_dropped. Returns how many were sent.
  virtual uint16_t tx_burst(unsigned slot, rte_mbuf** pkts, uint16_t n) = 0;

  virtual bool link_up() const = 0;
  virtual NetdevInfo info() const = 0;
  virtual PortStats stats() const = 0;
  virtual void clear_stats() {}
  virtual std::vector<std::pair<std::string, uint64_t>> xstats() const { return {}; }
  // Changes the MTU without re-opening the port (control thread); "" when
  // done, else the reason. Ports that must be re-opened for it say so.
  virtual std::string set_mtu(uint32_t mtu) {
    return "port " + name_ + " (" + type() + ") cannot change its MTU (" + std::to_string(mtu) +
           ") in place";
  }
  // Administrative state: a port that is down is not polled and sends
  // nothing (OpenFlow OFPPC_PORT_DOWN). Any thread; PMDs read it per burst.
  void set_admin_up(bool up) { admin_up_.store(up, std::memory_order_relaxed); }
  bool admin_up() const { return admin_up_.load(std::memory_order_relaxed); }

 protected:
  explicit Netdev(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
  std::atomic<bool> admin_up_{true};
};

using NetdevPtr = std::unique_ptr<Netdev>;

}  // namespace dps::netdev
