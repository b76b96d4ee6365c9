// netdev_registry.h - port type name -> factory ("dpdk", "ring", ...).
//
// Types define their factory in their own .cc and register it with
// DPS_REGISTER_NETDEV at static-initialisation time; tests may register a fake
// type the same way. create() is the only way the datapath makes ports.
//
// Thread-safety: registration happens before main(); create() on the control
// thread only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "netdev.h"

struct rte_mempool;

namespace dps::netdev {

using NetdevFactory =
    std::function<NetdevPtr(const PortConfig& cfg, rte_mempool* pool, unsigned n_tx_slots)>;

class NetdevRegistry {
 public:
  static NetdevRegistry& instance();
  bool add(const std::string& type, NetdevFactory factory);
  // Throws NetdevError for an unknown type or a port that fails to open.
  NetdevPtr create(const PortConfig& cfg, rte_mempool* pool, unsigned n_tx_slots) const;
  std::vector<std::string> types() const;

 private:
  std::vector<std::pair<std::string, NetdevFactory>> factories_;
};

#define DPS_REGISTER_NETDEV(type, factory) \
  static const bool dps_netdev_registered_##factory = \
      ::dps::netdev::NetdevRegistry::instance().add(type, factory)

}  // namespace dps::netdev
