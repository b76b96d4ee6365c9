#include "dpdk_netdev.h"

#include "kernel_if.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace dps::netdev {
namespace {

std::string dev_name_of(const std::string& devargs) {
  return devargs.substr(0, devargs.find(','));
}

std::string errstr(int err) { return rte_strerror(err < 0 ? -err : err); }

// The kernel interface behind a net_af_packet device ("iface=NAME" in its
// devargs), "" for other devices.
std::string af_packet_iface(const std::string& devargs) {
  if (devargs.rfind("net_af_packet", 0) != 0 && devargs.rfind("eth_af_packet", 0) != 0) return "";
  size_t k = devargs.find("iface=");
  if (k == std::string::npos) return "";
  k += 6;
  return devargs.substr(k, devargs.find(',', k) - k);
}

}  // namespace

DpdkNetdev::DpdkNetdev(const PortConfig& cfg, uint16_t port_id)
    : Netdev(cfg.name), devargs_(cfg.devargs), dev_name_(dev_name_of(cfg.devargs)),
      kernel_iface_(af_packet_iface(cfg.devargs)), port_id_(port_id) {}

std::unique_ptr<DpdkNetdev> DpdkNetdev::open(const PortConfig& cfg, rte_mempool* pool,
                                             unsigned n_tx_slots) {
  auto fail = [&](const std::string& what) -> NetdevError {
    return NetdevError("port " + cfg.name + " (devargs '" + cfg.devargs + "'): " + what);
  };
  if (cfg.devargs.empty()) throw fail("no devargs given");
  std::string name = dev_name_of(cfg.devargs);
  uint16_t port_id;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    int rc = rte_dev_probe(cfg.devargs.c_str());
    if (rc < 0) throw fail("device probe failed: " + errstr(rc));
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0)
      throw fail("probe succeeded but no ethernet port named '" + name + "' appeared");
  }
  std::unique_ptr<DpdkNetdev> dev(new DpdkNetdev(cfg, port_id));
  try {
    dev->configure(cfg, pool, n_tx_slots);
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
  return dev;
}

void DpdkNetdev::configure(const PortConfig& cfg, rte_mempool* pool, unsigned n_tx_slots) {
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(port_id_, &info);
  if (rc != 0) throw std::runtime_error("cannot read device info: " + errstr(rc));

  unsigned want_rxq = std::max<unsigned>(1, cfg.n_rxq);
  unsigned want_txq = cfg.n_txq ? cfg.n_txq : n_tx_slots + 1;
  n_rxq_ = static_cast<uint16_t>(std::min<unsigned>(want_rxq, std::max<uint16_t>(1, info.max_rx_queues)));
  n_txq_ = static_cast<uint16_t>(std::min<unsigned>(want_txq, std::max<uint16_t>(1, info.max_tx_queues)));
  if (n_rxq_ < want_rxq)
    spdlog::warn("port {}: device offers {} rx queues, {} requested", name(), n_rxq_, want_rxq);

  rte_eth_conf conf{};
  if (n_rxq_ > 1) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    if (!conf.rx_adv_conf.rss_conf.rss_hf) conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  rc = rte_eth_dev_configure(port_id_, n_rxq_, n_txq_, &conf);
  if (rc != 0) throw std::runtime_error("rte_eth_dev_configure failed: " + errstr(rc));
  if (cfg.mtu) {
    rc = rte_eth_dev_set_mtu(port_id_, static_cast<uint16_t>(cfg.mtu));
    if (rc != 0) spdlog::warn("port {}: cannot set MTU {}: {}", name(), cfg.mtu, errstr(rc));
  }
  uint16_t nb_rxd = cfg.rx_desc, nb_txd = cfg.tx_desc;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id_, &nb_rxd, &nb_txd);
  int socket = rte_eth_dev_socket_id(port_id_);
  if (socket < 0) socket = SOCKET_ID_ANY;
  for (uint16_t q = 0; q < n_rxq_; q++) {
    rc = rte_eth_rx_queue_setup(port_id_, q, nb_rxd, socket, nullptr, pool);
    if (rc != 0)
      throw std::runtime_error("rx queue " + std::to_string(q) + " setup failed: " + errstr(rc));
  }
  for (uint16_t q = 0; q < n_txq_; q++) {
    rc = rte_eth_tx_queue_setup(port_id_, q, nb_txd, socket, nullptr);
    if (rc != 0)
      throw std::runtime_error("tx queue " + std::to_string(q) + " setup failed: " + errstr(rc));
  }

  // Slot -> queue: slots 0..n_tx_slots-1 are PMDs, slot n_tx_slots is the
  // control thread's. Queues used by more than one slot take their lock.
  txqs_.reset(new TxQueue[n_txq_]);
  std::vector<unsigned> users(n_txq_, 0);
  for (unsigned s = 0; s <= n_tx_slots; s++) {
    uint16_t q = static_cast<uint16_t>(s % n_txq_);
    slot_queue_.push_back(q);
    users[q]++;
  }
  for (uint16_t q = 0; q < n_txq_; q++) {
    rte_spinlock_init(&txqs_[q].lock);
    txqs_[q].shared = users[q] > 1;
  }
  slot_counters_.reset(new SlotCounters[slot_queue_.size()]);

  rc = rte_eth_dev_start(port_id_);
  if (rc != 0) throw std::runtime_error("rte_eth_dev_start failed: " + errstr(rc));
  started_ = true;
  rte_eth_promiscuous_enable(port_id_);  // a switch port sees every frame
  tx_retries_ = cfg.tx_retries;
  if (rte_eth_dev_info dev{}; rte_eth_dev_info_get(port_id_, &dev) == 0 && dev.driver_name &&
                              std::string_view(dev.driver_name) == "net_vhost") {
    vhost_ = std::make_unique<VhostState>(name(), port_id_, n_rxq_, n_txq_, slot_queue_.size());
    for (uint16_t q = 0; q < n_txq_; q++) txqs_[q].shared = true;  // slots follow the guest's queues
  }
  spdlog::info("port {}: dpdk port {} '{}' started, {} rxq, {} txq ({}), {} rx / {} tx descriptors",
               name(), port_id_, devargs_, n_rxq_, n_txq_,
               n_txq_ > n_tx_slots ? "one per PMD" : "shared, locked", nb_rxd, nb_txd);
}

DpdkNetdev::~DpdkNetdev() {
  vhost_.reset();  // no callback into this port from here on
  if (started_) {
    int rc = rte_eth_dev_stop(port_id_);
    if (rc != 0) spdlog::warn("port {}: stop failed: {}", name(), errstr(rc));
  }
  rte_eth_dev_info info{};
  rte_device* dev = rte_eth_dev_info_get(port_id_, &info) == 0 ? info.device : nullptr;
  rte_eth_dev_close(port_id_);  // releases the queues and every mbuf they hold
  // Hot-unplug the device once it has no ethdev port left: hot-plugged by
  // us, or given to the EAL (--vdev, a PCI address) alike. A closed port's
  // device would otherwise stay probed with no port, and opening the same
  // devargs again (a port moved to another bridge) could not bring it back.
  uint16_t other = 0;
  bool siblings = false;
  if (dev) RTE_ETH_FOREACH_DEV_OF(other, dev) siblings = true;
  if (dev && !siblings) {
    int rc = rte_dev_remove(dev);
    if (rc != 0) spdlog::warn("port {}: hot-unplug failed: {}", name(), errstr(rc));
  }
}

uint16_t DpdkNetdev::rx_burst(uint16_t q, rte_mbuf** pkts, uint16_t n) {
  return rte_eth_rx_burst(port_id_, q, pkts, n);
}

uint16_t DpdkNetdev::txq_of_slot(unsigned slot) const {
  return slot_queue_[std::min<size_t>(slot, slot_queue_.size() - 1)];
}

uint16_t DpdkNetdev::send(uint16_t q, rte_mbuf** pkts, uint16_t n) {
  TxQueue& txq = txqs_[q];
  if (!txq.shared) return rte_eth_tx_burst(port_id_, q, pkts, n);
  rte_spinlock_lock(&txq.lock);
  const uint16_t sent = rte_eth_tx_burst(port_id_, q, pkts, n);
  rte_spinlock_unlock(&txq.lock);
  return sent;
}

uint16_t DpdkNetdev::tx_burst(unsigned slot, rte_mbuf** pkts, uint16_t n) {
  unsigned s = std::min<size_t>(slot, slot_queue_.size() - 1);
  if (DPS_UNLIKELY(!admin_up())) {
    rte_pktmbuf_free_bulk(pkts, n);
    slot_counters_[s].tx_dropped.store(slot_counters_[s].tx_dropped.load(std::memory_order_relaxed) + n,
                                       std::memory_order_relaxed);
    return 0;
  }
  const uint16_t q = vhost_ ? vhost_->queue_of_slot(s) : slot_queue_[s];
  uint16_t sent = send(q, pkts, n);
  unsigned tries = 0;
  for (; DPS_UNLIKELY(sent < n) && tries < tx_retries_; tries++) sent += send(q, pkts + sent, n - sent);
  SlotCounters& c = slot_counters_[s];
  if (DPS_UNLIKELY(tries))
    c.tx_retries.store(c.tx_retries.load(std::memory_order_relaxed) + tries, std::memory_order_relaxed);
  if (DPS_UNLIKELY(sent < n)) {
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    c.tx_dropped.store(c.tx_dropped.load(std::memory_order_relaxed) + (n - sent), std::memory_order_relaxed);
  }
  return sent;
}

bool DpdkNetdev::link_up() const {
  // net_af_packet always says "up": the kernel interface knows (bonds
  // depend on it for failover).
  if (!kernel_iface_.empty()) {
    std::optional<KernelIfState> k = kernel_if_state(kernel_iface_);
    return k && k->up && k->running;
  }
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port_id_, &link) != 0) return false;
  return link.link_status == RTE_ETH_LINK_UP;
}

NetdevInfo DpdkNetdev::info() const {
  NetdevInfo out;
  out.device_id = port_id_;
  out.numa_node = rte_eth_dev_socket_id(port_id_);
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port_id_, &mac) == 0) {
    out.hw_addr.emplace();
    std::copy(mac.addr_bytes, mac.addr_bytes + 6, out.hw_addr->begin());
  }
  uint16_t mtu = 0;
  if (rte_eth_dev_get_mtu(port_id_, &mtu) == 0) out.mtu = mtu;
  rte_eth_dev_info dev{};
  if (rte_eth_dev_info_get(port_id_, &dev) == 0 && dev.driver_name) out.driver_name = dev.driver_name;
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port_id_, &link) == 0) {
    out.link_up = link.link_status == RTE_ETH_LINK_UP;
    if (link.link_speed != RTE_ETH_SPEED_NUM_NONE && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN)
      out.link_speed_mbps = link.link_speed;
    out.full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
  }
  if (vhost_) out.vhost = vhost_->info();
  return out;
}

PortStats DpdkNetdev::stats() const {
  PortStats s;
  rte_eth_stats st{};
  if (rte_eth_stats_get(port_id_, &st) == 0) {
    s.rx_packets = st.ipackets;
    s.tx_packets = st.opackets;
    s.rx_bytes = st.ibytes;
    s.tx_bytes = st.obytes;
    s.rx_dropped = st.imissed + st.rx_nombuf;
    s.rx_errors = st.ierrors;
    s.tx_errors = st.oerrors;
  }
  for (size_t i = 0; i < slot_queue_.size(); i++) {
    s.tx_dropped += slot_counters_[i].tx_dropped.load(std::memory_order_relaxed);
    s.tx_retries += slot_counters_[i].tx_retries.load(std::memory_order_relaxed);
  }
  // Devices whose counters cannot be reset (some vdevs) are rebased instead.
  s.rx_packets -= std::min(s.rx_packets, base_.rx_packets);
  s.tx_packets -= std::min(s.tx_packets, base_.tx_packets);
  s.rx_bytes -= std::min(s.rx_bytes, base_.rx_bytes);
  s.tx_bytes -= std::min(s.tx_bytes, base_.tx_bytes);
  s.rx_dropped -= std::min(s.rx_dropped, base_.rx_dropped);
  s.tx_dropped -= std::min(s.tx_dropped, base_.tx_dropped);
  s.rx_errors -= std::min(s.rx_errors, base_.rx_errors);
  s.tx_errors -= std::min(s.tx_errors, base_.tx_errors);
  s.tx_retries -= std::min(s.tx_retries, base_.tx_retries);
  return s;
}

void DpdkNetdev::clear_stats() {
  base_ = PortStats{};
  base_ = stats();
}

std::vector<std::pair<std::string, uint64_t>> DpdkNetdev::xstats() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  int n = rte_eth_xstats_get_names(port_id_, nullptr, 0);
  if (n <= 0) return out;
  std::vector<rte_eth_xstat_name> names(n);
  std::vector<rte_eth_xstat> vals(n);
  if (rte_eth_xstats_get_names(port_id_, names.data(), n) != n) return out;
  int got = rte_eth_xstats_get(port_id_, vals.data(), n);
  for (int i = 0; i < got && i < n; i++) out.emplace_back(names[vals[i].id].name, vals[i].value);
  return out;
}

}  // namespace dps::netdev
