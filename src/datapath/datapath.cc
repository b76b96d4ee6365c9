#include "datapath.h"

#include <rte_mbuf.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <thread>

#include "../netdev/netdev_registry.h"

namespace dps::datapath {

Datapath::Datapath(const DatapathConfig& cfg) : cfg_(cfg) {
  if (cfg_.pmd_lcores.empty()) throw std::invalid_argument("datapath needs at least one PMD core");
  pool_ = std::make_unique<netdev::MbufPool>("dps_mbufs", std::max(cfg_.n_mbufs, netdev::kMinMbufs),
                                             SOCKET_ID_ANY);
  create_pmds();
  flows_.reserve(64 * 1024);  // the miss path's first 64k megaflows without rehashing
}

void Datapath::create_pmds() {
  for (unsigned i = 0; i < cfg_.pmd_lcores.size(); i++) {
    PmdConfig pc;
    pc.index = i;
    pc.lcore = cfg_.pmd_lcores[i];
    pc.max_flows = cfg_.max_flows_per_pmd;
    pc.emc_insert_inv_prob = cfg_.emc_insert_inv_prob;
    pc.smc_enabled = cfg_.smc_enabled;
    pmds_.push_back(std::make_unique<PmdThread>(pc));
  }
  stats_base_.assign(pmds_.size(), {});
  stats_cleared_tsc_ = rte_get_tsc_cycles();
  side_.clear();
  side_.resize(pmds_.size());
}

std::string Datapath::check_pmd_lcores(const std::vector<unsigned>& lcores) {
  if (lcores.empty()) return "no PMD lcore given";
  std::string eal;
  unsigned lc;
  RTE_LCORE_FOREACH(lc) eal += (eal.empty() ? "" : ",") + std::to_string(lc);
  for (size_t i = 0; i < lcores.size(); i++) {
    unsigned l = lcores[i];
    if (std::find(lcores.begin(), lcores.begin() + static_cast<long>(i), l) != lcores.begin() + static_cast<long>(i))
      return "lcore " + std::to_string(l) + " is given twice";
    if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l))
      return "lcore " + std::to_string(l) + " is not an EAL lcore of this process (EAL lcores: " + eal + ")";
    if (l == rte_get_main_lcore())
      return "lcore " + std::to_string(l) + " is the main lcore (it runs the control plane)";
  }
  return "";
}

void Datapath::drop_misses_and_flows() {
  Upcall ups[32];
  for (unsigned p = 0; p < pmds_.size(); p++) {
    unsigned n;
    while ((n = drain_upcalls(p, ups, 32)) > 0)
      for (unsigned i = 0; i < n; i++) rte_pktmbuf_free(ups[i].pkt);
  }
  flush_flows();
  poll();
}

bool Datapath::set_pmd_lcores(const std::vector<unsigned>& lcores) {
  if (std::string why = check_pmd_lcores(lcores); !why.empty()) throw std::invalid_argument(why);
  if (lcores == cfg_.pmd_lcores) return false;
  const bool was_started = started_;
  std::vector<FlowSpec> everywhere;
  for (auto& [ufid, rec] : flows_)
    if (rec.everywhere) everywhere.push_back(rec.spec());
  // Quiesce the old PMDs: stop polling, give back queued misses, apply
  // what is posted (flush_flows posts after it and waits), then let go.
  stop();
  drop_misses_and_flows();
  pmds_.clear();
  for (auto& [id, inst] : meters_)  // the PMDs that used them are gone
    for (DpMeter* m : inst) delete m;
  meters_.clear();
  cfg_.pmd_lcores = lcores;
  create_pmds();
  push_port_tables();
  if (was_started) start();
  for (const FlowSpec& spec : everywhere)
    if (int rc = put_flow(spec, -1); rc != 0)
      spdlog::error("pmd change: flow {:#x} not re-installed: {}", spec.ufid, rc);
  auto cfgs = std::move(meter_cfgs_);
  meter_cfgs_.clear();
  for (auto& [id, mc] : cfgs) set_meter(id, mc);
  return true;
}

Datapath::~Datapath() {
  shutdown();
  pmds_.clear();
  for (PmdCommand* c : free_cmds_) delete c;
  for (auto& [id, inst] : meters_)  // the PMDs are gone: nobody meters any more
    for (DpMeter* m : inst) delete m;
}

unsigned Datapath::shutdown() {
  stop();
  // Detach every port from the PMDs, then give back every packet and flow
  // before the ports and the pool go.
  std::map<uint32_t, netdev::NetdevPtr> ports;
  ports.swap(ports_);
  push_port_tables();
  drop_misses_and_flows();
  ports.clear();  // stops and closes the devices: their queues return their mbufs
  return pool_->in_use();
}

void Datapath::start() {
  if (started_) return;
  push_port_tables();
  for (auto& p : pmds_) p->start();
  started_ = true;
}

void Datapath::stop() {
  if (!started_) return;
  for (auto& p : pmds_) p->stop();
  poll();
  started_ = false;
}

// --- Commands ---------------------------------------------------------------

// Commands are heap objects recycled through free_cmds_ (code that still
// deletes one it waited for is fine: the list only holds what came back).
PmdCommand* Datapath::new_command(PmdCmdType type) {
  PmdCommand* cmd;
  if (!free_cmds_.empty()) {
    cmd = free_cmds_.back();
    free_cmds_.pop_back();
  } else {
    cmd = new PmdCommand;
  }
  cmd->type = type;
  cmd->seq = next_seq_++;
  return cmd;
}

void Datapath::recycle(PmdCommand* cmd) {
  // Back to the default state; the packet and action arrays are left as
  // they are (n_pkts and actions.n say what is valid).
  cmd->~PmdCommand();
  new (cmd) PmdCommand;
  free_cmds_.push_back(cmd);
}

void Datapath::ref_flow(unsigned pmd, DpFlow* f) {
  PmdSide& s = side_[pmd];
  if (f->index >= s.flow_refs.size()) {
    size_t n = std::max<size_t>(pmds_[pmd]->arena().reserved(), f->index + 1);
    s.flow_refs.resize(n, 0);
    s.flow_retired.resize(n, 0);
  }
  s.flow_refs[f->index]++;
}

void Datapath::unref_flow(unsigned pmd, DpFlow* f) {
  PmdSide& s = side_[pmd];
  if (--s.flow_refs[f->index] == 0 && s.flow_retired[f->index]) {
    s.flow_retired[f->index] = 0;
    pmds_[pmd]->arena().free(f);
  }
}

void Datapath::retire_flow(unsigned pmd, DpFlow* f) {
  PmdSide& s = side_[pmd];
  if (f->index < s.flow_refs.size() && s.flow_refs[f->index] > 0)
    s.flow_retired[f->index] = 1;  // freed by the last unref_flow
  else
    pmds_[pmd]->arena().free(f);
}

void Datapath::flush_backlog(unsigned pmd) {
  std::deque<PmdCommand*>& b = side_[pmd].backlog;
  CommandRing& ring = pmds_[pmd]->commands();
  while (!b.empty() && ring.post(b.front())) b.pop_front();
}

void Datapath::post(unsigned pmd, PmdCommand* cmd) {
  if (cmd->flow) ref_flow(pmd, cmd->flow);
  std::deque<PmdCommand*>& b = side_[pmd].backlog;
  if (!b.empty()) flush_backlog(pmd);
  // Behind a backlog it must wait its turn; poll() moves the backlog on.
  if (!b.empty() || !pmds_[pmd]->commands().post(cmd)) b.push_back(cmd);
}

bool Datapath::post_bounded(unsigned pmd, PmdCommand* cmd) {
  if (backlog_full(pmd)) return false;
  post(pmd, cmd);
  return true;
}

void Datapath::apply_pending(unsigned pmd) {
  flush_backlog(pmd);
  if (!pmds_[pmd]->running()) pmds_[pmd]->drain_commands();
}

uint32_t Datapath::flow_slots_in_use(unsigned pmd) const { return pmds_[pmd]->arena().in_use(); }

void Datapath::FlowRecord::set(const FlowSpec& spec) {
  flow_key_apply_mask(spec.key, spec.mask, &key);
  mask = spec.mask;
  ufid = spec.ufid;
  set_actions(spec.actions);
}

FlowSpec Datapath::FlowRecord::spec() const {
  FlowSpec s;
  s.key = key;
  s.mask = mask;
  s.ufid = ufid;
  s.actions.n = 0;
  for (const DpAction& a : actions) s.actions.acts[s.actions.n++] = a;
  return s;
}

void Datapath::Instances::push_back(const Item& it) {
  if (!spilled_ && n_ == 2) {
    heap_.assign(inline_, inline_ + 2);
    spilled_ = true;
  }
  if (spilled_)
    heap_.push_back(it);
  else
    inline_[n_] = it;
  n_++;
}

void Datapath::Instances::erase(const Item& it) {
  Item* b = begin();
  Item* e = std::remove(b, b + n_, it);
  unsigned left = static_cast<unsigned>(e - b);
  if (spilled_) heap_.resize(left);
  n_ = left;
}

void Datapath::wait_for(unsigned pmd, PmdCommand* cmd) {
  PmdThread& t = *pmds_[pmd];
  PmdCommand* done[64];
  for (;;) {
    flush_backlog(pmd);
    if (!t.running()) t.drain_commands();
    unsigned n = t.commands().reap(done, 64);
    bool found = false;
    for (unsigned i = 0; i < n; i++) {
      if (done[i] == cmd)
        found = true;
      else
        complete(pmd, done[i]);
    }
    if (found) return;
    if (!n) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

// Side effects of an async command's completion; recycles the command.
void Datapath::complete(unsigned pmd, PmdCommand* cmd) {
  switch (cmd->type) {
    case PmdCmdType::kInstall:
    case PmdCmdType::kInstallExecute:
      if (cmd->result != 0) {
        if (failed_installs_.size() < (1u << 20))
          failed_installs_.push_back(InstallFailure{cmd->flow->ufid, pmd, cmd->result});
        auto it = flows_.find(cmd->flow->ufid);
        if (it != flows_.end()) {
          auto& inst = it->second.instances;
          inst.erase(std::make_pair(pmd, cmd->flow));
          if (inst.empty()) flows_.erase(it);
        }
        // Commands posted for the ufid after the install (modify, remove)
        // may still name the flow: it is freed after the last of them.
        retire_flow(pmd, cmd->flow);
      }
      if (cmd->n_pkts) rte_pktmbuf_free_bulk(cmd->pkts, cmd->n_pkts);  // not run (never)
      break;
    case PmdCmdType::kRemove:
      if (cmd->result == 0) retire_flow(pmd, cmd->flow);
      break;
    case PmdCmdType::kFlush:
      for (DpFlow* f : cmd->flows) retire_flow(pmd, f);
      break;
    case PmdCmdType::kExecute:
      if (cmd->n_pkts) rte_pktmbuf_free_bulk(cmd->pkts, cmd->n_pkts);
      break;
    case PmdCmdType::kMeterSet:
    case PmdCmdType::kMeterDel:
      delete cmd->meter;  // the meter the PMD let go of
      break;
    default:
      break;
  }
  if (cmd->flow) unref_flow(pmd, cmd->flow);
  recycle(cmd);
}

unsigned Datapath::poll() {
  unsigned total = 0;
  PmdCommand* done[64];
  for (unsigned p = 0; p < pmds_.size(); p++) {
    unsigned n;
    while ((n = pmds_[p]->commands().reap(done, 64)) > 0) {
      for (unsigned i = 0; i < n; i++) complete(p, done[i]);
      total += n;
    }
    flush_backlog(p);  // the reaped commands made room in the ring
  }
  return total;
}

int Datapath::post_modify(uint64_t ufid, const DpActions& actions) {
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return -ENOENT;
  it->second.set_actions(actions);
  for (auto& [p, f] : it->second.instances) {
    PmdCommand* cmd = new_command(PmdCmdType::kModify);
    cmd->flow = f;
    cmd->actions = actions;
    post(p, cmd);
  }
  return 0;
}

int Datapath::post_remove(uint64_t ufid) {
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return -ENOENT;
  for (auto& [p, f] : it->second.instances) {
    PmdCommand* cmd = new_command(PmdCmdType::kRemove);
    cmd->flow = f;
    post(p, cmd);  // complete() frees f once the PMD removed it
  }
  flows_.erase(it);
  return 0;
}

void Datapath::barrier() {
  for (int round = 0; round < 2; round++) {
    std::vector<PmdCommand*> cmds(pmds_.size(), nullptr);
    for (unsigned p = 0; p < pmds_.size(); p++) {
      cmds[p] = new_command(PmdCmdType::kSync);
      post(p, cmds[p]);
    }
    // Spin (with pauses) rather than sleep: a PMD iteration is microseconds
    // and a flow-mod waits for two of them.
    PmdCommand* done[64];
    unsigned left = static_cast<unsigned>(pmds_.size());
    while (left) {
      for (unsigned p = 0; p < pmds_.size(); p++) {
        if (!cmds[p]) continue;
        flush_backlog(p);
        if (!pmds_[p]->running()) pmds_[p]->drain_commands();
        unsigned n = pmds_[p]->commands().reap(done, 64);
        for (unsigned i = 0; i < n; i++) {
          if (done[i] == cmds[p]) {
            recycle(cmds[p]);
            cmds[p] = nullptr;
            left--;
          } else {
            complete(p, done[i]);
          }
        }
      }
      if (left) rte_pause();
    }
  }
}

std::vector<InstallFailure> Datapath::take_failed_installs() {
  std::vector<InstallFailure> out;
  out.swap(failed_installs_);
  return out;
}

void Datapath::sync() {
  for (unsigned p = 0; p < pmds_.size(); p++) {
    PmdCommand* cmd = new_command(PmdCmdType::kSync);
    post(p, cmd);
    wait_for(p, cmd);
    recycle(cmd);
  }
}

// --- Ports --------------------------------------------------------------------

uint32_t Datapath::add_port(const netdev::PortConfig& cfg, uint32_t port_no) {
  for (auto& [no, p] : ports_)
    if (p->name() == cfg.name)
      throw std::invalid_argument("port " + cfg.name + " already exists (port " +
                                  std::to_string(no) + ")");
  return add_port(netdev::NetdevRegistry::instance().create(cfg, pool_->get(), n_pmds()), port_no);
}

uint32_t Datapath::add_port(netdev::NetdevPtr port, uint32_t port_no) {
  if (port_no == 0) {
    port_no = 1;
    while (ports_.count(port_no)) port_no++;
  }
  if (port_no >= kMaxPorts)
    throw std::invalid_argument("port " + port->name() + ": port number " + std::to_string(port_no) +
                                " out of range (1.." + std::to_string(kMaxPorts - 1) + ")");
  if (ports_.count(port_no))
    throw std::invalid_argument("port " + port->name() + ": port number " +
                                std::to_string(port_no) + " is in use by " +
                                ports_[port_no]->name());
  ports_[port_no] = std::move(port);
  push_port_tables();
  return port_no;
}

bool Datapath::del_port(uint32_t port_no) {
  auto it = ports_.find(port_no);
  if (it == ports_.end()) return false;
  netdev::NetdevPtr victim = std::move(it->second);
  ports_.erase(it);
  push_port_tables();  // waits until no PMD polls or sends to it
  victim.reset();
  return true;
}

netdev::Netdev* Datapath::port(uint32_t port_no) const {
  auto it = ports_.find(port_no);
  return it == ports_.end() ? nullptr : it->second.get();
}

std::optional<uint32_t> Datapath::port_no(const std::string& name) const {
  for (auto& [no, p] : ports_)
    if (p->name() == name) return no;
  return std::nullopt;
}

std::vector<uint32_t> Datapath::port_numbers() const {
  std::vector<uint32_t> out;
  for (auto& [no, p] : ports_) out.push_back(no);
  return out;
}

// Round-robin rx queue assignment in port-number order (OVS's "roundrobin"),
// then every PMD gets its new rx list and tx table and acknowledges it.
void Datapath::push_port_tables() {
  std::vector<std::vector<RxqRef>> rx(pmds_.size());
  std::vector<TxPortRef> tx(kMaxPorts);
  rxq_assignment_.clear();
  rxq_base_.clear();  // the PMDs restart their per-queue counters
  unsigned next = 0;
  for (auto& [no, p] : ports_) {
    tx[no].port = p.get();
    for (uint16_t q = 0; q < p->n_rxq(); q++) {
      unsigned pmd = next++ % pmds_.size();
      if (rx[pmd].size() >= kMaxRxqsPerPmd) {
        spdlog::error("port {} queue {}: PMD {} already polls {} queues; not polled", p->name(),
                      q, pmd, kMaxRxqsPerPmd);
        continue;
      }
      rx[pmd].push_back(RxqRef{p.get(), no, q});
      rxq_assignment_.push_back(RxqAssignment{no, p->name(), q, pmd, 0, 0});
    }
  }
  std::vector<PmdCommand*> cmds;
  for (unsigned i = 0; i < pmds_.size(); i++) {
    PmdCommand* cmd = new_command(PmdCmdType::kSetPorts);
    cmd->rxqs = std::move(rx[i]);
    cmd->txports = tx;
    post(i, cmd);
    cmds.push_back(cmd);
  }
  for (unsigned i = 0; i < pmds_.size(); i++) {
    wait_for(i, cmds[i]);
    recycle(cmds[i]);
  }
}

std::vector<RxqAssignment> Datapath::rxq_assignment() const {
  std::vector<RxqAssignment> out = rxq_assignment_;
  std::vector<unsigned> idx(pmds_.size(), 0);
  for (size_t k = 0; k < out.size(); k++) {
    RxqAssignment& a = out[k];
    const RxqStats& s = pmds_[a.pmd]->rxq_stats(idx[a.pmd]++);
    a.packets = s.packets.load(std::memory_order_relaxed);
    a.cycles = s.cycles.load(std::memory_order_relaxed);
    if (k < rxq_base_.size()) {
      a.packets -= std::min(a.packets, rxq_base_[k].first);
      a.cycles -= std::min(a.cycles, rxq_base_[k].second);
    }
  }
  return out;
}

// --- Flows --------------------------------------------------------------------

int Datapath::install_on(unsigned pmd, FlowRecord& rec, bool wait, PmdCommand* cmd) {
  DpFlow* f = pmds_[pmd]->arena().alloc();
  if (!f) return -E2BIG;
  // From the record (key masked already); only the used action entries.
  f->key = rec.key;
  f->mask = rec.mask;
  f->actions.n = static_cast<uint8_t>(rec.actions.size());
  std::copy(rec.actions.begin(), rec.actions.end(), f->actions.acts);
  f->ufid = rec.ufid;
  if (!cmd) cmd = new_command(PmdCmdType::kInstall);
  cmd->flow = f;
  rec.instances.push_back({pmd, f});
  post(pmd, cmd);
  if (!wait) return 0;
  wait_for(pmd, cmd);
  int rc = cmd->result;
  recycle(cmd);
  if (rc != 0) {
    rec.instances.pop_back();
    retire_flow(pmd, f);
  }
  unref_flow(pmd, f);
  return rc;
}

int Datapath::put_flow(const FlowSpec& spec, int pmd) {
  if (flows_.count(spec.ufid)) return -EEXIST;
  FlowRecord& rec = flows_[spec.ufid];
  rec.set(spec);
  rec.everywhere = pmd < 0;
  int rc = 0;
  for (unsigned p = 0; p < pmds_.size(); p++) {
    if (pmd >= 0 && static_cast<unsigned>(pmd) != p) continue;
    int r = install_on(p, rec, true);
    if (r != 0 && rc == 0) rc = r;
  }
  if (rec.instances.empty()) flows_.erase(spec.ufid);
  return rc;
}

bool Datapath::backlog_full(unsigned pmd) {
  if (side_[pmd].backlog.size() < kCommandBacklogMax) return false;
  flush_backlog(pmd);
  return side_[pmd].backlog.size() >= kCommandBacklogMax;
}

int Datapath::post_install(unsigned pmd, const FlowSpec& spec) {
  if (backlog_full(pmd)) return -EAGAIN;
  FlowRecord& rec = flows_[spec.ufid];
  for (auto& [p, f] : rec.instances)
    if (p == pmd) return -EEXIST;
  if (rec.instances.empty()) rec.set(spec);  // else: the flow as installed elsewhere
  int rc = install_on(pmd, rec, false);
  if (rc != 0 && rec.instances.empty()) flows_.erase(spec.ufid);
  return rc;
}

int Datapath::post_install_execute(unsigned pmd, const FlowSpec& spec, uint32_t in_port,
                                   rte_mbuf* const* pkts, unsigned n) {
  n = std::min<unsigned>(n, netdev::kMaxBurst);
  if (backlog_full(pmd)) {
    if (n) rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(pkts), n);
    return -EAGAIN;
  }
  auto [it, fresh] = flows_.try_emplace(spec.ufid);
  FlowRecord& rec = it->second;
  int rc = 0;
  if (fresh || rec.instances.empty()) {
    rec.set(spec);
  } else {  // the flow as installed elsewhere
    for (auto& [p, f] : rec.instances)
      if (p == pmd) rc = -EEXIST;
  }
  if (rc == 0) {
    PmdCommand* cmd = new_command(PmdCmdType::kInstallExecute);
    cmd->in_port = in_port;
    cmd->n_pkts = static_cast<uint16_t>(n);
    std::copy(pkts, pkts + n, cmd->pkts);
    rc = install_on(pmd, rec, false, cmd);
    if (rc == 0) return 0;
    recycle(cmd);  // not posted; the packets are still ours
  }
  if (rec.instances.empty()) flows_.erase(it);
  if (n) post_execute(pmd, in_port, pkts, n, spec.actions);
  return rc;
}

int Datapath::modify_flow(uint64_t ufid, const DpActions& actions) {
  int rc = post_modify(ufid, actions);
  if (rc == 0) sync();  // every PMD has applied it (and the commands are reaped)
  return rc;
}

int Datapath::del_flow(uint64_t ufid) {
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return -ENOENT;
  for (auto& [p, f] : it->second.instances) {
    PmdCommand* cmd = new_command(PmdCmdType::kRemove);
    cmd->flow = f;
    post(p, cmd);
    wait_for(p, cmd);
    if (cmd->result == 0) retire_flow(p, f);
    unref_flow(p, f);
    recycle(cmd);
  }
  flows_.erase(it);
  return 0;
}

void Datapath::flush_flows() {
  for (unsigned p = 0; p < pmds_.size(); p++) {
    PmdCommand* cmd = new_command(PmdCmdType::kFlush);
    // Reserved here so the PMD never allocates while listing its flows.
    cmd->flows.reserve(pmds_[p]->arena().in_use() + 1);
    post(p, cmd);
    wait_for(p, cmd);
    for (DpFlow* f : cmd->flows) retire_flow(p, f);
    recycle(cmd);
  }
  flows_.clear();
}

template <typename Instances>
static FlowStats stats_of(const Instances& inst) {
  FlowStats s;
  for (auto& [p, f] : inst) {
    s.packets += f->packets.load(std::memory_order_relaxed);
    s.bytes += f->bytes.load(std::memory_order_relaxed);
    s.used_tsc = std::max(s.used_tsc, f->used_tsc.load(std::memory_order_relaxed));
    s.tcp_flags |= f->tcp_flags.load(std::memory_order_relaxed);
  }
  return s;
}

std::vector<FlowDump> Datapath::dump_flows() {
  poll();
  std::vector<FlowDump> out;
  for (auto& [ufid, rec] : flows_) {
    FlowDump d;
    d.spec = rec.spec();
    d.stats = stats_of(rec.instances);
    for (auto& [p, f] : rec.instances) d.pmds.push_back(p);
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(),
            [](const FlowDump& a, const FlowDump& b) { return a.spec.ufid < b.spec.ufid; });
  return out;
}

std::optional<FlowStats> Datapath::flow_stats(uint64_t ufid) const {
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return std::nullopt;
  return stats_of(it->second.instances);
}

// --- Miss path ------------------------------------------------------------------

unsigned Datapath::drain_upcalls(unsigned pmd, Upcall* out, unsigned n) {
  return pmds_[pmd]->misses().dequeue_burst(out, n);
}

bool Datapath::post_execute(unsigned pmd, uint32_t in_port, rte_mbuf* const* pkts, unsigned n,
                            const DpActions& actions) {
  n = std::min<unsigned>(n, netdev::kMaxBurst);
  PmdCommand* cmd = new_command(PmdCmdType::kExecute);
  cmd->actions = actions;
  cmd->in_port = in_port;
  cmd->n_pkts = static_cast<uint16_t>(n);
  std::copy(pkts, pkts + n, cmd->pkts);
  if (!post_bounded(pmd, cmd)) {
    rte_pktmbuf_free_bulk(cmd->pkts, n);
    recycle(cmd);
    return false;
  }
  return true;
}

// --- Meters ------------------------------------------------------------------------

int Datapath::set_meter(uint32_t id, const DpMeterConfig& cfg) {
  if (id >= kMaxMeters || cfg.bands.size() > kMaxMeterBands) return -EINVAL;
  for (const DpMeterBand& b : cfg.bands)
    if (b.rate == 0) return -EINVAL;
  const uint64_t hz = rte_get_tsc_hz();
  std::vector<DpMeter*> inst(pmds_.size());
  for (unsigned p = 0; p < pmds_.size(); p++) {
    inst[p] = new DpMeter(cfg, hz, rte_rdtsc());
    PmdCommand* cmd = new_command(PmdCmdType::kMeterSet);
    cmd->meter = inst[p];
    cmd->meter_id = id;
    post(p, cmd);
    wait_for(p, cmd);
    delete cmd->meter;  // the one replaced (its counters carried over)
    delete cmd;
  }
  meters_[id] = std::move(inst);
  meter_cfgs_[id] = cfg;
  return 0;
}

int Datapath::del_meter(uint32_t id) {
  auto it = meters_.find(id);
  if (it == meters_.end()) return -ENOENT;
  for (unsigned p = 0; p < pmds_.size(); p++) {
    PmdCommand* cmd = new_command(PmdCmdType::kMeterDel);
    cmd->meter_id = id;
    post(p, cmd);
    wait_for(p, cmd);
    delete cmd->meter;
    delete cmd;
  }
  meters_.erase(it);
  meter_cfgs_.erase(id);
  return 0;
}

std::optional<DpMeterStats> Datapath::meter_stats(uint32_t id) const {
  auto it = meters_.find(id);
  if (it == meters_.end()) return std::nullopt;
  DpMeterStats sum;
  for (const DpMeter* m : it->second) {
    DpMeterStats s = m->stats();
    sum.packets += s.packets;
    sum.bytes += s.bytes;
    if (sum.bands.size() < s.bands.size()) sum.bands.resize(s.bands.size());
    for (size_t b = 0; b < s.bands.size(); b++) {
      sum.bands[b].packets += s.bands[b].packets;
      sum.bands[b].bytes += s.bands[b].bytes;
    }
  }
  return sum;
}

// --- Statistics -------------------------------------------------------------------

std::vector<PmdStatsView> Datapath::pmd_stats() const {
  std::vector<PmdStatsView> out;
  for (unsigned p = 0; p < pmds_.size(); p++) {
    const PmdThread& t = *pmds_[p];
    PmdStatsView v;
    v.pmd = p;
    v.lcore = t.lcore();
    v.counters = t.counters().snapshot();
    for (unsigned c = 0; c < kNumPmdCounters; c++) v.counters[c] -= stats_base_[p][c];
    v.max_iteration_cycles = t.max_iteration_cycles();
    v.flows = t.n_flows();
    v.subtables = t.n_subtables();
    v.emc_active = t.emc_active();
    out.push_back(v);
  }
  return out;
}

uint64_t Datapath::installed_flows() const {
  uint64_t n = 0;
  for (const auto& t : pmds_) n += t->n_flows();
  return n;
}

void Datapath::clear_pmd_stats() {
  rxq_base_.clear();
  for (const RxqAssignment& a : rxq_assignment()) rxq_base_.emplace_back(a.packets, a.cycles);
  for (unsigned p = 0; p < pmds_.size(); p++) {
    stats_base_[p] = pmds_[p]->counters().snapshot();
    pmds_[p]->reset_max_iteration();
  }
  stats_cleared_tsc_ = rte_get_tsc_cycles();
}

}  // namespace dps::datapath
