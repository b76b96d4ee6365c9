#include "netdev_registry.h"

#include "dpdk_netdev.h"
#include "ring_netdev.h"
#include "tap_netdev.h"
#include "virtual_netdev.h"

namespace dps::netdev {

NetdevRegistry& NetdevRegistry::instance() {
  static NetdevRegistry registry;
  return registry;
}

bool NetdevRegistry::add(const std::string& type, NetdevFactory factory) {
  for (auto& [t, f] : factories_)
    if (t == type) return false;
  factories_.emplace_back(type, std::move(factory));
  return true;
}

NetdevPtr NetdevRegistry::create(const PortConfig& cfg, rte_mempool* pool,
                                 unsigned n_tx_slots) const {
  std::string type = cfg.type.empty() ? "dpdk" : cfg.type;
  for (auto& [t, f] : factories_)
    if (t == type) return f(cfg, pool, n_tx_slots);
  std::string known;
  for (auto& t : types()) known += (known.empty() ? "" : ", ") + t;
  throw NetdevError("port " + cfg.name + ": unknown port type '" + type + "' (known: " + known + ")");
}

std::vector<std::string> NetdevRegistry::types() const {
  std::vector<std::string> out;
  for (auto& [t, f] : factories_) out.push_back(t);
  return out;
}

namespace {

NetdevPtr make_dpdk(const PortConfig& cfg, rte_mempool* pool, unsigned n_tx_slots) {
  return DpdkNetdev::open(cfg, pool, n_tx_slots);
}
NetdevPtr make_ring(const PortConfig& cfg, rte_mempool*, unsigned) {
  return std::make_unique<RingNetdev>(cfg.name);
}
NetdevPtr make_internal(const PortConfig& cfg, rte_mempool* pool, unsigned) {
  return TapNetdev::open(cfg, pool);
}
NetdevPtr make_tunnel(const PortConfig& cfg, rte_mempool*, unsigned) {
  return std::make_unique<VirtualNetdev>(cfg.name);
}

}  // namespace

// Registered here rather than in their own .cc so a static library link never
// drops them (nothing else references those objects' registrars).
DPS_REGISTER_NETDEV("dpdk", make_dpdk);
DPS_REGISTER_NETDEV("ring", make_ring);
DPS_REGISTER_NETDEV("internal", make_internal);  // a kernel tap device (internal port)
DPS_REGISTER_NETDEV("tunnel", make_tunnel);      // no device (vxlan/geneve/gre port)

}  // namespace dps::netdev
