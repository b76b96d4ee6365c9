// dp_ports.h - the part of the datapath the reconciler drives, as an
// interface: the port table and the PMD cores.
//
// What: DpPorts opens, closes and looks up datapath ports and moves the PMDs
//   to other cores. DatapathPorts forwards each call to a real
//   datapath::Datapath; unit tests substitute a fake (no EAL, no devices)
//   that records the calls, so the order the reconciler applies changes in
//   can be checked.
// Design: one virtual call per control-plane operation (a port opened or
//   closed), never on a PMD. Semantics are Datapath's: add_port throws
//   netdev::NetdevError (or std::exception) when the port cannot be opened;
//   port_no 0 picks the lowest free number.
// Thread-safety: the control thread only, like Datapath's control API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../netdev/netdev.h"
#include "rxq_scheduler.h"

namespace dps::datapath {
class Datapath;
}

namespace dps::daemon {

// Every EAL worker lcore (all but the main one): the default PMD cores.
std::vector<unsigned> eal_worker_lcores();

class DpPorts {
 public:
  virtual ~DpPorts() = default;
  virtual std::vector<uint32_t> port_numbers() const = 0;
  virtual const netdev::Netdev* port(uint32_t port_no) const = 0;
  virtual uint32_t add_port(const netdev::PortConfig& cfg, uint32_t port_no) = 0;
  virtual void del_port(uint32_t port_no) = 0;
  // Netdev::set_mtu of an open port: "" when done, else the reason.
  virtual std::string set_port_mtu(uint32_t port_no, uint32_t mtu) = 0;
  // PMD cores: the current ones, the default (every EAL worker lcore), why a
  // set cannot be used ("" when it can), and moving the PMDs.
  virtual std::vector<unsigned> pmd_lcores() const = 0;
  virtual std::vector<unsigned> default_pmd_lcores() const = 0;
  virtual std::string check_pmd_lcores(const std::vector<unsigned>& lcores) const = 0;
  virtual void set_pmd_lcores(const std::vector<unsigned>& lcores) = 0;
  // Rx queue placement policy; the queues are placed again under it.
  virtual void set_rxq_policy(const datapath::RxqPolicy& policy) = 0;
};

class DatapathPorts final : public DpPorts {
 public:
  explicit DatapathPorts(datapath::Datapath& dp) : dp_(dp) {}
  std::vector<uint32_t> port_numbers() const override;
  const netdev::Netdev* port(uint32_t port_no) const override;
  uint32_t add_port(const netdev::PortConfig& cfg, uint32_t port_no) override;
  void del_port(uint32_t port_no) override;
  std::string set_port_mtu(uint32_t port_no, uint32_t mtu) override;
  std::vector<unsigned> pmd_lcores() const override;
  std::vector<unsigned> default_pmd_lcores() const override;
  std::string check_pmd_lcores(const std::vector<unsigned>& lcores) const override;
  void set_pmd_lcores(const std::vector<unsigned>& lcores) override;
  void set_rxq_policy(const datapath::RxqPolicy& policy) override;

 private:
  datapath::Datapath& dp_;
};

}  // namespace dps::daemon
