#include "tap_netdev.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>

#include "dpdk_netdev.h"
#include "kernel_if.h"

namespace dps::netdev {
namespace {

constexpr unsigned kRingSize = 1024;
constexpr uint32_t kDefaultMtu = 1500;

std::atomic<unsigned> g_ring_seq{0};

rte_ring* make_ring(const char* dir, unsigned flags) {
  std::string name = std::string("tap") + dir + std::to_string(g_ring_seq.fetch_add(1));
  return rte_ring_create(name.c_str(), kRingSize, SOCKET_ID_ANY, flags);
}

void drain_free(rte_ring* r) {
  if (!r) return;
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(r);
}

}  // namespace

TapNetdev::TapNetdev(const std::string& name) : Netdev(name) { ch_.name = name; }

std::unique_ptr<TapNetdev> TapNetdev::open(const PortConfig& cfg, rte_mempool* pool) {
  auto fail = [&](const std::string& why) { return NetdevError("internal port " + cfg.name + ": " + why); };
  std::unique_ptr<TapNetdev> dev(new TapNetdev(cfg.name));
  TapChannel& ch = dev->ch_;
  ch.pool = pool;
  std::string error;
  ch.fd = create_tap(cfg.name, &error);
  if (ch.fd < 0) throw fail(error);
  ch.to_switch = make_ring("s", RING_F_SP_ENQ | RING_F_SC_DEQ);
  ch.to_kernel = make_ring("k", RING_F_SC_DEQ);
  if (!ch.to_switch || !ch.to_kernel) throw fail(std::string("cannot create its rings: ") + rte_strerror(rte_errno));
  uint32_t mtu = cfg.mtu ? cfg.mtu : kDefaultMtu;
  if (std::string e = set_kernel_if_mtu(cfg.name, mtu); !e.empty()) throw fail(e);
  if (std::string e = set_kernel_if_up(cfg.name, true); !e.empty()) throw fail(e);
  try {
    dev->io_->attach(&ch);
    dev->attached_ = true;
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
  spdlog::info("port {}: internal port, kernel tap device {} (MTU {}) up", cfg.name, cfg.name, mtu);
  return dev;
}

TapNetdev::~TapNetdev() {
  if (attached_) io_->detach(&ch_);
  if (ch_.fd >= 0) ::close(ch_.fd);  // a non-persistent tap goes with its fd
  drain_free(ch_.to_switch);
  drain_free(ch_.to_kernel);
}

uint16_t TapNetdev::rx_burst(uint16_t, rte_mbuf** pkts, uint16_t n) {
  return static_cast<uint16_t>(
      rte_ring_sc_dequeue_burst(ch_.to_switch, reinterpret_cast<void**>(pkts), n, nullptr));
}

uint16_t TapNetdev::tx_burst(unsigned, rte_mbuf** pkts, uint16_t n) {
  unsigned sent = DPS_LIKELY(admin_up())
                      ? rte_ring_mp_enqueue_burst(ch_.to_kernel, reinterpret_cast<void**>(pkts), n, nullptr)
                      : 0;
  if (DPS_UNLIKELY(sent < n)) {
    ch_.tx_ring_full.fetch_add(n - sent, std::memory_order_relaxed);
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
  if (sent) io_->kick();
  return static_cast<uint16_t>(sent);
}

bool TapNetdev::link_up() const {
  auto st = kernel_if_state(name());
  return st && st->up && st->running;
}

NetdevInfo TapNetdev::info() const {
  NetdevInfo out;
  out.driver_name = "tap";
  out.kernel_name = name();
  if (auto st = kernel_if_state(name())) {
    out.hw_addr = st->mac;
    out.mtu = st->mtu;
    out.link_up = st->up && st->running;
    out.ifindex = st->ifindex;
    out.full_duplex = true;
  }
  return out;
}

PortStats TapNetdev::raw_stats() const {
  auto ld = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  PortStats s;
  s.rx_packets = ld(ch_.rx_packets);
  s.rx_bytes = ld(ch_.rx_bytes);
  s.rx_dropped = ld(ch_.rx_dropped);
  s.rx_errors = ld(ch_.rx_errors);
  s.tx_packets = ld(ch_.tx_packets);
  s.tx_bytes = ld(ch_.tx_bytes);
  s.tx_dropped = ld(ch_.tx_ring_full) + ld(ch_.tx_down);
  s.tx_errors = ld(ch_.tx_errors);
  return s;
}

PortStats TapNetdev::stats() const {
  PortStats s = raw_stats();
  s.rx_packets -= base_.rx_packets;
  s.rx_bytes -= base_.rx_bytes;
  s.rx_dropped -= base_.rx_dropped;
  s.rx_errors -= base_.rx_errors;
  s.tx_packets -= base_.tx_packets;
  s.tx_bytes -= base_.tx_bytes;
  s.tx_dropped -= base_.tx_dropped;
  s.tx_errors -= base_.tx_errors;
  return s;
}

void TapNetdev::clear_stats() { base_ = raw_stats(); }

std::string TapNetdev::set_mtu(uint32_t mtu) {
  std::string e = set_kernel_if_mtu(name(), mtu);
  if (e.empty()) spdlog::info("port {}: MTU {}", name(), mtu);
  return e;
}

}  // namespace dps::netdev
