#include "rxq_scheduler.h"

#include <rte_lcore.h>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace dps::datapath {

std::string RxqScheduler::check_pmd_lcores(const std::vector<unsigned>& lcores) {
  if (lcores.empty()) return "no PMD lcore given";
  std::string eal;
  unsigned lc;
  RTE_LCORE_FOREACH(lc) eal += (eal.empty() ? "" : ",") + std::to_string(lc);
  for (size_t i = 0; i < lcores.size(); i++) {
    const unsigned l = lcores[i];
    const auto before = lcores.begin() + static_cast<long>(i);
    if (std::find(lcores.begin(), before, l) != before)
      return "lcore " + std::to_string(l) + " is given twice";
    if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l))
      return "lcore " + std::to_string(l) + " is not an EAL lcore of this process (EAL lcores: " +
             eal + ")";
    if (l == rte_get_main_lcore())
      return "lcore " + std::to_string(l) + " is the main lcore (it runs the control plane)";
  }
  return "";
}

std::vector<std::unique_ptr<PmdThread>> RxqScheduler::make_pmds(
    const std::vector<unsigned>& lcores, const PmdConfig& proto) {
  std::vector<std::unique_ptr<PmdThread>> pmds;
  for (unsigned i = 0; i < lcores.size(); i++) {
    PmdConfig pc = proto;
    pc.index = i;
    pc.lcore = lcores[i];
    pmds.push_back(std::make_unique<PmdThread>(pc));
  }
  return pmds;
}

void RxqScheduler::assign(const std::map<uint32_t, netdev::NetdevPtr>& ports) {
  std::vector<std::vector<RxqRef>> rx(pmds_.size());
  std::vector<TxPortRef> tx(kMaxPorts);
  assignment_.clear();
  base_.clear();  // the PMDs restart their per-queue counters
  unsigned next = 0;
  for (auto& [no, p] : ports) {
    tx[no].port = p.get();
    for (uint16_t q = 0; q < p->n_rxq(); q++) {
      const unsigned pmd = next++ % pmds_.size();
      if (rx[pmd].size() >= kMaxRxqsPerPmd) {
        spdlog::error("port {} queue {}: PMD {} already polls {} queues; not polled", p->name(),
                      q, pmd, kMaxRxqsPerPmd);
        continue;
      }
      rx[pmd].push_back(RxqRef{p.get(), no, q});
      assignment_.push_back(RxqAssignment{no, p->name(), q, pmd, 0, 0});
    }
  }
  std::vector<PmdCommand*> cmds;
  for (unsigned i = 0; i < pmds_.size(); i++) {
    PmdCommand* cmd = channel_.make(PmdCmdType::kSetPorts);
    cmd->rxqs = std::move(rx[i]);
    cmd->txports = tx;
    channel_.post(i, cmd);
    cmds.push_back(cmd);
  }
  for (unsigned i = 0; i < pmds_.size(); i++) {
    channel_.wait_for(i, cmds[i]);
    channel_.release(i, cmds[i]);
  }
}

std::vector<RxqAssignment> RxqScheduler::assignment() const {
  std::vector<RxqAssignment> out = assignment_;
  std::vector<unsigned> idx(pmds_.size(), 0);
  for (size_t k = 0; k < out.size(); k++) {
    RxqAssignment& a = out[k];
    const RxqStats& s = pmds_[a.pmd]->rxq_stats(idx[a.pmd]++);
    a.packets = s.packets.load(std::memory_order_relaxed);
    a.cycles = s.cycles.load(std::memory_order_relaxed);
    if (k < base_.size()) {
      a.packets -= std::min(a.packets, base_[k].first);
      a.cycles -= std::min(a.cycles, base_[k].second);
    }
  }
  return out;
}

void RxqScheduler::clear_stats() {
  base_.clear();
  for (const RxqAssignment& a : assignment()) base_.emplace_back(a.packets, a.cycles);
}

}  // namespace dps::datapath
