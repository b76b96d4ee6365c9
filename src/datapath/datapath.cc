#include "datapath.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "../netdev/netdev_registry.h"

namespace dps::datapath {

Datapath::Datapath(const DatapathConfig& cfg)
    : cfg_(cfg),
      ct_(std::make_unique<conntrack::Conntrack>(conntrack::CtConfig{.expected_conns = kCtExpectedConns})),
      channel_(pmds_, [this](unsigned p, DpFlow* f, int r) { install_failed(p, f, r); }),
      rxqs_(pmds_, channel_) {
  if (cfg_.pmd_lcores.empty()) throw std::invalid_argument("datapath needs at least one PMD core");
  pool_ = std::make_unique<netdev::MbufPool>("dps_mbufs", std::max(cfg_.n_mbufs, netdev::kMinMbufs),
                                             SOCKET_ID_ANY);
  create_pmds();
  flows_.reserve(64 * 1024);  // the miss path's first 64k megaflows without rehashing
}

Datapath::~Datapath() {
  shutdown();
  pmds_.clear();
  ct_->frag().flush();  // the fragments it holds go back to pool_ while it is there
  drop_meter_instances();  // the PMDs are gone: nobody meters any more
}

// --- PMD set --------------------------------------------------------------------

PmdConfig Datapath::pmd_config() const {
  PmdConfig pc;
  pc.max_flows = cfg_.max_flows_per_pmd;
  pc.emc_insert_inv_prob = cfg_.emc_insert_inv_prob;
  pc.smc_enabled = cfg_.smc_enabled;
  pc.ct = ct_.get();
  return pc;
}

void Datapath::create_pmds() {
  pmds_ = RxqScheduler::make_pmds(cfg_.pmd_lcores, pmd_config());
  channel_.reset();
  rxqs_.reset_pmds();
  stats_base_.assign(pmds_.size(), {});
  stats_cleared_tsc_ = rte_get_tsc_cycles();
}

std::string Datapath::check_pmd_lcores(const std::vector<unsigned>& lcores) {
  return RxqScheduler::check_pmd_lcores(lcores);
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

void Datapath::drop_meter_instances() {
  for (auto& [id, inst] : meters_)
    for (DpMeter* m : inst) delete m;
  meters_.clear();
  for (auto& [id, inst] : bonds_)
    for (DpBond* b : inst) delete b;
  bonds_.clear();
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
  drop_meter_instances();
  cfg_.pmd_lcores = lcores;
  create_pmds();
  rxqs_.assign(ports_);
  if (was_started) start();
  for (const FlowSpec& spec : everywhere)
    if (int rc = put_flow(spec, -1); rc != 0)
      spdlog::error("pmd change: flow {:#x} not re-installed: {}", spec.ufid, rc);
  auto cfgs = std::move(meter_cfgs_);
  meter_cfgs_.clear();
  for (auto& [id, mc] : cfgs) set_meter(id, mc);
  auto bcfgs = std::move(bond_cfgs_);
  bond_cfgs_.clear();
  for (auto& [id, bc] : bcfgs) set_bond(id, bc);
  return true;
}

unsigned Datapath::shutdown() {
  stop();
  // Detach every port from the PMDs, then give back every packet and flow
  // before the ports and the pool go.
  std::map<uint32_t, netdev::NetdevPtr> ports;
  ports.swap(ports_);
  rxqs_.assign(ports_);
  drop_misses_and_flows();
  ports.clear();  // stops and closes the devices: their queues return their mbufs
  return pool_->in_use();
}

void Datapath::start() {
  if (started_) return;
  rxqs_.assign(ports_);
  for (auto& p : pmds_) p->start();
  started_ = true;
}

void Datapath::stop() {
  if (!started_) return;
  for (auto& p : pmds_) p->stop();
  poll();
  started_ = false;
}

template <typename Fill, typename Done>
void Datapath::on_every_pmd(PmdCmdType type, Fill each, Done done) {
  for (unsigned p = 0; p < pmds_.size(); p++) {
    PmdCommand* cmd = channel_.make(type);
    each(p, cmd);
    done(p, channel_.call(p, cmd));
    channel_.release(p, cmd);
  }
}

// --- Commands (PmdChannel) ----------------------------------------------------------

unsigned Datapath::poll() {
  ct_sweep();
  const unsigned n = channel_.poll();
  if (started_) rxqs_.tick(ports_);
  return n;
}

void Datapath::set_rxq_policy(const RxqPolicy& policy, bool reassign) {
  rxqs_.set_policy(policy);
  if (reassign) rxqs_.assign(ports_);
}

RebalanceResult Datapath::rebalance_rxqs() { return rxqs_.rebalance(ports_, true); }

int64_t Datapath::ct_now_ms() const {
  return static_cast<int64_t>(rte_get_tsc_cycles() / std::max<uint64_t>(rte_get_tsc_hz() / 1000, 1));
}

// A hundredth of the buckets per 10 ms: the whole table every second
// (2M buckets: 20k pointers read per call, about 20 us).
void Datapath::ct_sweep() {
  const uint64_t now = rte_get_tsc_cycles();
  if (now - ct_sweep_tsc_ < rte_get_tsc_hz() / 100) return;
  ct_sweep_tsc_ = now;
  ct_->sweep(ct_now_ms(), std::max<size_t>(1024, ct_->n_buckets() / 100));
}
void Datapath::sync() { channel_.sync(); }
void Datapath::barrier() { channel_.barrier(); }
void Datapath::apply_pending(unsigned pmd) { channel_.apply_pending(pmd); }
uint32_t Datapath::flow_slots_in_use(unsigned pmd) const { return pmds_[pmd]->arena().in_use(); }

std::vector<InstallFailure> Datapath::take_failed_installs() {
  std::vector<InstallFailure> out;
  out.swap(failed_installs_);
  return out;
}

void Datapath::install_failed(unsigned pmd, DpFlow* flow, int result) {
  if (failed_installs_.size() < (1u << 20))
    failed_installs_.push_back(InstallFailure{flow->ufid, pmd, result});
  auto it = flows_.find(flow->ufid);
  if (it == flows_.end()) return;
  FlowInstances& inst = it->second.instances;
  inst.erase(std::make_pair(pmd, flow));
  if (inst.empty()) flows_.erase(it);
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
  rxqs_.assign(ports_);
  return port_no;
}

bool Datapath::del_port(uint32_t port_no) {
  auto it = ports_.find(port_no);
  if (it == ports_.end()) return false;
  netdev::NetdevPtr victim = std::move(it->second);
  ports_.erase(it);
  rxqs_.assign(ports_);  // waits until no PMD polls or sends to it
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

std::vector<RxqAssignment> Datapath::rxq_assignment() const { return rxqs_.assignment(); }

// --- Flows --------------------------------------------------------------------

int Datapath::install_on(unsigned pmd, FlowRecord& rec, bool wait, PmdCommand* cmd) {
  DpFlow* f = pmds_[pmd]->arena().alloc();
  if (!f) return -E2BIG;
  rec.fill(f);
  if (!cmd) cmd = channel_.make(PmdCmdType::kInstall);
  cmd->flow = f;
  rec.instances.push_back({pmd, f});
  channel_.post(pmd, cmd);
  if (!wait) return 0;
  channel_.wait_for(pmd, cmd);
  const int rc = cmd->result;
  if (rc != 0) {
    rec.instances.pop_back();
    channel_.retire_flow(pmd, f);
  }
  channel_.release(pmd, cmd);
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

int Datapath::modify_flow(uint64_t ufid, const DpActions& actions) {
  int rc = post_modify(ufid, actions);
  if (rc == 0) sync();  // every PMD has applied it (and the commands are reaped)
  return rc;
}

int Datapath::del_flow(uint64_t ufid) {
  int rc = post_remove(ufid);
  if (rc == 0) sync();  // every PMD has removed it (and the flows are retired)
  return rc;
}

void Datapath::flush_flows() {
  on_every_pmd(
      PmdCmdType::kFlush,
      // Reserved here so the PMD never allocates while listing its flows.
      [&](unsigned p, PmdCommand* cmd) { cmd->flows.reserve(pmds_[p]->arena().in_use() + 1); },
      [&](unsigned p, PmdCommand* cmd) {
        for (DpFlow* f : cmd->flows) channel_.retire_flow(p, f);
      });
  flows_.clear();
}

namespace {

FlowStats stats_of(const FlowInstances& inst) {
  FlowStats s;
  for (auto& [p, f] : inst) {
    s.packets += f->packets.load(std::memory_order_relaxed);
    s.bytes += f->bytes.load(std::memory_order_relaxed);
    s.used_tsc = std::max(s.used_tsc, f->used_tsc.load(std::memory_order_relaxed));
    s.tcp_flags |= f->tcp_flags.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace

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

int Datapath::post_install(unsigned pmd, const FlowSpec& spec) {
  if (channel_.backlog_full(pmd)) return -EAGAIN;
  FlowRecord& rec = flows_[spec.ufid];
  if (rec.instances.on(pmd)) return -EEXIST;
  if (rec.instances.empty()) rec.set(spec);  // else: the flow as installed elsewhere
  int rc = install_on(pmd, rec, false);
  if (rc != 0 && rec.instances.empty()) flows_.erase(spec.ufid);
  return rc;
}

int Datapath::post_install_execute(unsigned pmd, const FlowSpec& spec, uint32_t in_port,
                                   rte_mbuf* const* pkts, unsigned n) {
  n = std::min<unsigned>(n, netdev::kMaxBurst);
  if (channel_.backlog_full(pmd)) {
    if (n) rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(pkts), n);
    return -EAGAIN;
  }
  auto [it, fresh] = flows_.try_emplace(spec.ufid);
  FlowRecord& rec = it->second;
  int rc = 0;
  if (fresh || rec.instances.empty())
    rec.set(spec);
  else if (rec.instances.on(pmd))  // else: the flow as installed elsewhere
    rc = -EEXIST;
  if (rc == 0) {
    PmdCommand* cmd = channel_.make(PmdCmdType::kInstallExecute);
    cmd->in_port = in_port;
    cmd->n_pkts = static_cast<uint16_t>(n);
    std::copy(pkts, pkts + n, cmd->pkts);
    rc = install_on(pmd, rec, false, cmd);
    if (rc == 0) return 0;
    channel_.recycle(cmd);  // not posted; the packets are still ours
  }
  if (rec.instances.empty()) flows_.erase(it);
  if (n) post_execute(pmd, in_port, pkts, n, spec.actions);
  return rc;
}

bool Datapath::post_execute(unsigned pmd, uint32_t in_port, rte_mbuf* const* pkts, unsigned n,
                            const DpActions& actions) {
  n = std::min<unsigned>(n, netdev::kMaxBurst);
  PmdCommand* cmd = channel_.make(PmdCmdType::kExecute);
  cmd->actions = actions;
  cmd->in_port = in_port;
  cmd->n_pkts = static_cast<uint16_t>(n);
  std::copy(pkts, pkts + n, cmd->pkts);
  if (!channel_.post_bounded(pmd, cmd)) {
    rte_pktmbuf_free_bulk(cmd->pkts, n);
    channel_.recycle(cmd);
    return false;
  }
  return true;
}

int Datapath::post_modify(uint64_t ufid, const DpActions& actions) {
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return -ENOENT;
  it->second.set_actions(actions);
  for (auto& [p, f] : it->second.instances) {
    PmdCommand* cmd = channel_.make(PmdCmdType::kModify);
    cmd->flow = f;
    cmd->actions = actions;
    channel_.post(p, cmd);
  }
  return 0;
}

int Datapath::post_remove(uint64_t ufid) {
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return -ENOENT;
  for (auto& [p, f] : it->second.instances) {
    PmdCommand* cmd = channel_.make(PmdCmdType::kRemove);
    cmd->flow = f;
    channel_.post(p, cmd);  // its completion frees f once the PMD removed it
  }
  flows_.erase(it);
  return 0;
}

// --- Meters ------------------------------------------------------------------------

int Datapath::set_meter(uint32_t id, const DpMeterConfig& cfg) {
  if (id >= kMaxMeters || cfg.bands.size() > kMaxMeterBands) return -EINVAL;
  for (const DpMeterBand& b : cfg.bands)
    if (b.rate == 0) return -EINVAL;
  const uint64_t hz = rte_get_tsc_hz();
  std::vector<DpMeter*> inst(pmds_.size());
  on_every_pmd(
      PmdCmdType::kMeterSet,
      [&](unsigned p, PmdCommand* cmd) {
        inst[p] = new DpMeter(cfg, hz, rte_rdtsc());
        cmd->meter = inst[p];
        cmd->meter_id = id;
      },
      // The one replaced (its counters carried over), or null.
      [](unsigned, PmdCommand* cmd) { delete cmd->meter; });
  meters_[id] = std::move(inst);
  meter_cfgs_[id] = cfg;
  return 0;
}

int Datapath::del_meter(uint32_t id) {
  auto it = meters_.find(id);
  if (it == meters_.end()) return -ENOENT;
  on_every_pmd(
      PmdCmdType::kMeterDel, [&](unsigned, PmdCommand* cmd) { cmd->meter_id = id; },
      [](unsigned, PmdCommand* cmd) { delete cmd->meter; });
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

// --- Bonds -------------------------------------------------------------------------

int Datapath::set_bond(uint32_t id, const DpBondConfig& cfg) {
  if (id >= kMaxBonds) return -EINVAL;
  std::vector<DpBond*> inst(pmds_.size());
  on_every_pmd(
      PmdCmdType::kBondSet,
      [&](unsigned p, PmdCommand* cmd) {
        inst[p] = new DpBond(cfg);
        cmd->bond = inst[p];
        cmd->bond_id = id;
      },
      [](unsigned, PmdCommand* cmd) { delete cmd->bond; });  // the one replaced
  bonds_[id] = std::move(inst);
  bond_cfgs_[id] = cfg;
  return 0;
}

int Datapath::del_bond(uint32_t id) {
  auto it = bonds_.find(id);
  if (it == bonds_.end()) return -ENOENT;
  on_every_pmd(
      PmdCmdType::kBondDel, [&](unsigned, PmdCommand* cmd) { cmd->bond_id = id; },
      [](unsigned, PmdCommand* cmd) { delete cmd->bond; });
  bonds_.erase(it);
  bond_cfgs_.erase(id);
  return 0;
}

std::vector<uint64_t> Datapath::bond_bucket_tx(uint32_t id) const {
  auto it = bonds_.find(id);
  if (it == bonds_.end()) return {};
  std::vector<uint64_t> out(kBondBuckets, 0);
  for (const DpBond* b : it->second)
    for (unsigned k = 0; k < kBondBuckets; k++) out[k] += b->tx[k].load(std::memory_order_relaxed);
  return out;
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

SampleCounters Datapath::sample_counters(unsigned slot) const {
  SampleCounters c;
  for (const auto& p : pmds_) p->add_sample_counters(slot, &c);
  return c;
}

uint64_t Datapath::installed_flows() const {
  uint64_t n = 0;
  for (const auto& t : pmds_) n += t->n_flows();
  return n;
}

void Datapath::clear_pmd_stats() {
  rxqs_.clear_stats();
  for (unsigned p = 0; p < pmds_.size(); p++) {
    stats_base_[p] = pmds_[p]->counters().snapshot();
    pmds_[p]->reset_max_iteration();
  }
  stats_cleared_tsc_ = rte_get_tsc_cycles();
}

}  // namespace dps::datapath
