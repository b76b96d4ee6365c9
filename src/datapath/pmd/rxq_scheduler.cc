#include "rxq_scheduler.h"

#include <rte_lcore.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

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

RxqScheduler::RxqScheduler(const std::vector<std::unique_ptr<PmdThread>>& pmds,
                           PmdChannel& channel)
    : pmds_(pmds), channel_(channel) {
  slot_start_tsc_ = last_lb_tsc_ = rte_get_tsc_cycles();
  reset_pmds();
}

void RxqScheduler::reset_pmds() {
  placed_.clear();
  isolated_.assign(pmds_.size(), false);
  base_.clear();
  for (auto& [key, q] : loads_) q.last_raw = 0;
  pmd_busy_.assign(pmds_.size(), std::vector<uint64_t>(kHistory, 0));
  pmd_busy_last_.clear();
  for (auto& p : pmds_) pmd_busy_last_.push_back(p->counters().get(kBusyCycles));
}

void RxqScheduler::fold_counters() {
  for (const Placed& p : placed_) {
    if (p.pmd >= pmds_.size()) continue;
    const uint64_t raw = pmds_[p.pmd]->rxq_stats(p.pos).cycles.load(std::memory_order_relaxed);
    QueueLoad& q = loads_[{p.port_no, p.queue}];
    q.cur += raw >= q.last_raw ? raw - q.last_raw : raw;
    q.last_raw = raw;
  }
}

uint64_t RxqScheduler::history(const QueueLoad& q) const {
  uint64_t sum = q.cur;
  for (unsigned i = 0; i < kHistory; i++) sum += q.slot[i];
  return sum;
}

std::vector<RxqDemand> RxqScheduler::demands(
    const std::map<uint32_t, netdev::NetdevPtr>& ports) const {
  std::vector<RxqDemand> d;
  for (auto& [no, p] : ports) {
    const int numa = p->info().numa_node;
    auto aff = policy_.affinity.find(no);
    for (uint16_t q = 0; q < p->n_rxq(); q++) {
      RxqDemand r{no, q, numa, 0, -1};
      if (auto it = loads_.find({no, q}); it != loads_.end()) r.load = history(it->second);
      if (aff != policy_.affinity.end())
        if (auto c = aff->second.find(q); c != aff->second.end()) r.pinned_lcore = static_cast<int>(c->second);
      d.push_back(r);
    }
  }
  return d;
}

Placement RxqScheduler::current_placement(const std::vector<RxqDemand>& d) const {
  Placement pl{std::vector<int>(d.size(), -1), isolated_, {}};
  for (size_t k = 0; k < d.size(); k++)
    for (const Placed& p : placed_)
      if (p.port_no == d[k].port_no && p.queue == d[k].queue) pl.pmd[k] = static_cast<int>(p.pmd);
  return pl;
}

void RxqScheduler::post_lists(std::vector<std::vector<RxqRef>> rx,
                              const std::map<uint32_t, netdev::NetdevPtr>& ports) {
  std::vector<TxPortRef> tx(kMaxPorts);
  for (auto& [no, p] : ports) tx[no].port = p.get();
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

// Installs `pl`: when queues move, first every PMD keeps only what stays
// with it, then every PMD takes its new list. Returns the queues moved.
unsigned RxqScheduler::install(const std::map<uint32_t, netdev::NetdevPtr>& ports,
                               const std::vector<RxqDemand>& d, const Placement& pl) {
  fold_counters();
  const Placement old = current_placement(d);
  std::vector<std::vector<RxqRef>> keep(pmds_.size()), rx(pmds_.size());
  std::vector<Placed> placed;
  unsigned moved = 0;
  for (size_t k = 0; k < d.size(); k++) {
    const int pmd = pl.pmd[k];
    if (old.pmd[k] >= 0 && old.pmd[k] != pmd) moved++;
    if (pmd < 0) continue;
    const auto i = static_cast<unsigned>(pmd);
    netdev::Netdev* dev = ports.at(d[k].port_no).get();
    const RxqRef ref{dev, d[k].port_no, d[k].queue};
    if (old.pmd[k] == pmd) keep[i].push_back(ref);
    placed.push_back({d[k].port_no, dev->name(), d[k].queue, i,
                      static_cast<unsigned>(rx[i].size()), d[k].pinned_lcore >= 0});
    rx[i].push_back(ref);
  }
  if (moved) post_lists(std::move(keep), ports);
  post_lists(std::move(rx), ports);
  placed_ = std::move(placed);
  isolated_ = pl.isolated;
  std::map<Key, QueueLoad> loads;  // the queues that still exist, counters restarted
  for (const RxqDemand& q : d)
    if (auto it = loads_.find({q.port_no, q.queue}); it != loads_.end())
      loads.emplace(it->first, it->second).first->second.last_raw = 0;
  loads_ = std::move(loads);
  base_.clear();
  return moved;
}

namespace {

std::vector<PmdSlot> pmd_slots(const std::vector<std::unique_ptr<PmdThread>>& pmds) {
  std::vector<PmdSlot> out;
  for (auto& p : pmds) {
    const unsigned s = rte_lcore_to_socket_id(p->lcore());
    out.push_back({p->lcore(), s == static_cast<unsigned>(SOCKET_ID_ANY) ? -1 : static_cast<int>(s)});
  }
  return out;
}

}  // namespace

void RxqScheduler::assign(const std::map<uint32_t, netdev::NetdevPtr>& ports) {
  const std::vector<RxqDemand> d = demands(ports);
  const Placement pl = place_rxqs(d, pmd_slots(pmds_), policy_.placement);
  for (const std::string& w : pl.warnings) spdlog::warn("rx queue assignment: {}", w);
  install(ports, d, pl);
}

RebalanceResult RxqScheduler::rebalance(const std::map<uint32_t, netdev::NetdevPtr>& ports,
                                        bool force) {
  fold_counters();
  const std::vector<RxqDemand> d = demands(ports);
  const Placement cur = current_placement(d);
  const Placement next = place_rxqs(d, pmd_slots(pmds_), policy_.placement);
  RebalanceResult r;
  r.gain_pct = rebalance_gain_pct(d, cur, next);
  if (next.pmd == cur.pmd && next.isolated == cur.isolated) {
    r.reason = "the placement is already what the policy gives";
    return r;
  }
  if (!force && r.gain_pct < static_cast<int>(policy_.auto_lb_improvement_threshold)) {
    r.reason = "a move would improve the PMD load variance by " + std::to_string(r.gain_pct) +
               "% (threshold " + std::to_string(policy_.auto_lb_improvement_threshold) + "%)";
    return r;
  }
  r.queues_moved = install(ports, d, next);
  r.moved = true;
  r.reason = std::to_string(r.queues_moved) + " queue(s) moved, PMD load variance " +
             (r.gain_pct >= 0 ? "improved by " : "worse by ") + std::to_string(std::abs(r.gain_pct)) + "%";
  return r;
}

void RxqScheduler::end_slot() {
  fold_counters();
  const uint64_t now = rte_get_tsc_cycles();
  for (auto& [key, q] : loads_) {
    q.slot[slot_] = q.cur;
    q.cur = 0;
  }
  slot_tsc_[slot_] = now - slot_start_tsc_;
  for (size_t i = 0; i < pmds_.size() && i < pmd_busy_.size(); i++) {
    const uint64_t b = pmds_[i]->counters().get(kBusyCycles);
    pmd_busy_[i][slot_] = b - std::min(b, pmd_busy_last_[i]);
    pmd_busy_last_[i] = b;
  }
  slot_ = (slot_ + 1) % kHistory;
  filled_ = std::min(filled_ + 1, kHistory);
  slot_start_tsc_ = now;
}

std::vector<std::vector<double>> RxqScheduler::pmd_load_history() const {
  std::vector<std::vector<double>> out(pmd_busy_.size());
  for (size_t i = 0; i < pmd_busy_.size(); i++)
    for (unsigned n = 0; n < filled_; n++) {
      const unsigned s = (slot_ + kHistory - filled_ + n) % kHistory;
      out[i].push_back(slot_tsc_[s] ? 100.0 * static_cast<double>(pmd_busy_[i][s]) /
                                          static_cast<double>(slot_tsc_[s])
                                    : 0.0);
    }
  return out;
}

// A PMD that shares its queues was over the threshold in every slot.
bool RxqScheduler::overloaded() const {
  if (filled_ < kHistory) return false;
  const auto hist = pmd_load_history();
  for (size_t i = 0; i < hist.size(); i++) {
    if (i < isolated_.size() && isolated_[i]) continue;
    bool all = true;
    for (double l : hist[i]) all = all && l >= policy_.auto_lb_load_threshold;
    if (all) return true;
  }
  return false;
}

bool RxqScheduler::tick(const std::map<uint32_t, netdev::NetdevPtr>& ports) {
  const uint64_t now = rte_get_tsc_cycles(), hz = rte_get_tsc_hz();
  if (now - slot_start_tsc_ < policy_.slot_ms * hz / 1000) return false;
  end_slot();
  const auto shared = std::count(isolated_.begin(), isolated_.end(), false);
  if (!policy_.auto_lb || policy_.placement.mode == RxqAssignMode::kRoundRobin || shared < 2 ||
      now - last_lb_tsc_ < policy_.auto_lb_interval_ms * hz / 1000 || !overloaded())
    return false;
  const RebalanceResult r = rebalance(ports, false);
  spdlog::info("PMD auto load balance: {}", r.reason);
  if (r.moved) last_lb_tsc_ = now;
  return r.moved;
}

std::vector<RxqAssignment> RxqScheduler::assignment() const {
  uint64_t window = rte_get_tsc_cycles() - slot_start_tsc_;
  for (unsigned s = 0; s < kHistory; s++) window += slot_tsc_[s];
  std::vector<RxqAssignment> out;
  for (size_t k = 0; k < placed_.size(); k++) {
    const Placed& p = placed_[k];
    const RxqStats& s = pmds_[p.pmd]->rxq_stats(p.pos);
    RxqAssignment a{p.port_no, p.port, p.queue, p.pmd, s.packets.load(std::memory_order_relaxed),
                    s.cycles.load(std::memory_order_relaxed), 0.0, p.pinned,
                    p.pmd < isolated_.size() && isolated_[p.pmd]};
    if (auto it = loads_.find({p.port_no, p.queue}); it != loads_.end() && window)
      a.usage_pct = 100.0 * static_cast<double>(history(it->second) + a.cycles -
                                                std::min(a.cycles, it->second.last_raw)) /
                    static_cast<double>(window);
    if (k < base_.size()) {
      a.packets -= std::min(a.packets, base_[k].first);
      a.cycles -= std::min(a.cycles, base_[k].second);
    }
    out.push_back(std::move(a));
  }
  return out;
}

void RxqScheduler::clear_stats() {
  base_.clear();
  for (const Placed& p : placed_) {
    const RxqStats& s = pmds_[p.pmd]->rxq_stats(p.pos);
    base_.emplace_back(s.packets.load(std::memory_order_relaxed),
                       s.cycles.load(std::memory_order_relaxed));
  }
}

}  // namespace dps::datapath
