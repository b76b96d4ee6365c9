#include "dp_ports.h"

#include <rte_lcore.h>

#include "../datapath/datapath.h"

namespace dps::daemon {

std::vector<unsigned> eal_worker_lcores() {
  std::vector<unsigned> lcores;
  unsigned lc;
  RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
  return lcores;
}

std::vector<uint32_t> DatapathPorts::port_numbers() const { return dp_.port_numbers(); }

const netdev::Netdev* DatapathPorts::port(uint32_t port_no) const { return dp_.port(port_no); }

uint32_t DatapathPorts::add_port(const netdev::PortConfig& cfg, uint32_t port_no) {
  return dp_.add_port(cfg, port_no);
}

void DatapathPorts::del_port(uint32_t port_no) { dp_.del_port(port_no); }

std::string DatapathPorts::set_port_mtu(uint32_t port_no, uint32_t mtu) {
  netdev::Netdev* p = dp_.port(port_no);
  return p ? p->set_mtu(mtu) : "no datapath port " + std::to_string(port_no);
}

std::vector<unsigned> DatapathPorts::pmd_lcores() const { return dp_.pmd_lcores(); }

std::vector<unsigned> DatapathPorts::default_pmd_lcores() const { return eal_worker_lcores(); }

std::string DatapathPorts::check_pmd_lcores(const std::vector<unsigned>& lcores) const {
  return datapath::Datapath::check_pmd_lcores(lcores);
}

void DatapathPorts::set_pmd_lcores(const std::vector<unsigned>& lcores) { dp_.set_pmd_lcores(lcores); }
void DatapathPorts::set_rxq_policy(const datapath::RxqPolicy& policy) { dp_.set_rxq_policy(policy, true); }

}  // namespace dps::daemon
