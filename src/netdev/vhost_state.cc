#include "vhost_state.h"

#include <rte_eth_vhost.h>
#include <rte_ethdev.h>
#include <rte_vhost.h>

#include <spdlog/spdlog.h>

#include <bit>
#include <thread>

namespace dps::netdev {

namespace {

constexpr rte_eth_event_type kEvents[] = {RTE_ETH_EVENT_QUEUE_STATE, RTE_ETH_EVENT_INTR_LSC};

int vhost_event(uint16_t, rte_eth_event_type type, void* self, void*) {
  static_cast<VhostState*>(self)->on_event(type == RTE_ETH_EVENT_INTR_LSC);
  return 0;
}

}  // namespace

VhostState::VhostState(std::string name, uint16_t port_id, uint16_t n_rxq, uint16_t n_txq,
                       size_t n_slots)
    : name_(std::move(name)), port_id_(port_id), n_rxq_(n_rxq), n_txq_(n_txq), n_slots_(n_slots),
      slot_queue_(new std::atomic<uint16_t>[n_slots]) {
  for (size_t s = 0; s < n_slots; s++) slot_queue_[s].store(static_cast<uint16_t>(s % n_txq));
  for (rte_eth_event_type e : kEvents) rte_eth_dev_callback_register(port_id_, e, vhost_event, this);
  drain_events();  // a guest that connected before the callback was there
}

VhostState::~VhostState() {
  // -EAGAIN while the callback runs: wait for it.
  for (rte_eth_event_type e : kEvents)
    while (rte_eth_dev_callback_unregister(port_id_, e, vhost_event, this) == -EAGAIN)
      std::this_thread::yield();
}

void VhostState::on_event(bool link_change) {
  if (link_change && rte_eth_vhost_get_vid_from_port_id(port_id_) < 0) {
    rx_enabled_.store(0, std::memory_order_relaxed);  // the guest went away
    tx_enabled_.store(0, std::memory_order_relaxed);
    remap();
    return;
  }
  drain_events();
}

void VhostState::drain_events() {
  rte_eth_vhost_queue_event ev{};
  bool tx_changed = false;
  while (rte_eth_vhost_get_queue_event(port_id_, &ev) == 0) {
    if (ev.queue_id >= 64) continue;
    std::atomic<uint64_t>& bits = ev.rx ? rx_enabled_ : tx_enabled_;
    const uint64_t bit = uint64_t{1} << ev.queue_id;
    const uint64_t old = bits.load(std::memory_order_relaxed);
    bits.store(ev.enable ? old | bit : old & ~bit, std::memory_order_relaxed);
    tx_changed |= !ev.rx;
  }
  if (tx_changed) remap();
}

// Slot s takes the (s mod n)th enabled tx queue; none enabled: slot % n_txq.
void VhostState::remap() {
  std::vector<uint16_t> on;
  const uint64_t bits = tx_enabled_.load(std::memory_order_relaxed);
  for (uint16_t q = 0; q < n_txq_ && q < 64; q++)
    if (bits >> q & 1) on.push_back(q);
  for (size_t s = 0; s < n_slots_; s++)
    slot_queue_[s].store(on.empty() ? static_cast<uint16_t>(s % n_txq_) : on[s % on.size()],
                         std::memory_order_relaxed);
  remaps_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("port {}: the guest enabled {} of {} tx queues; {} tx slots remapped", name_,
               on.size(), n_txq_, n_slots_);
}

VhostInfo VhostState::info() const {
  VhostInfo v;
  v.txq_remaps = remaps_.load(std::memory_order_relaxed);
  const int vid = rte_eth_vhost_get_vid_from_port_id(port_id_);
  v.connected = vid >= 0;
  if (v.connected) {
    v.numa_node = rte_vhost_get_numa_node(vid);
    v.vrings = rte_vhost_get_vring_num(vid);
    char path[PATH_MAX] = {};
    if (rte_vhost_get_ifname(vid, path, sizeof path) == 0) v.socket = path;
  }
  const uint64_t mask_rx = n_rxq_ >= 64 ? ~uint64_t{0} : (uint64_t{1} << n_rxq_) - 1;
  const uint64_t mask_tx = n_txq_ >= 64 ? ~uint64_t{0} : (uint64_t{1} << n_txq_) - 1;
  if (!v.connected) return v;
  v.rxq_enabled = static_cast<unsigned>(std::popcount(rx_enabled_.load(std::memory_order_relaxed) & mask_rx));
  v.txq_enabled = static_cast<unsigned>(std::popcount(tx_enabled_.load(std::memory_order_relaxed) & mask_tx));
  return v;
}

}  // namespace dps::netdev
