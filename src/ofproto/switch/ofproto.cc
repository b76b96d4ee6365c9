#include "ofproto.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <cstring>
#include <sstream>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dpdk_netdev.h"
#include "flow_parser.h"
#include "xlate.h"

namespace dps::ofproto {

namespace {

// Churn rules sit above any workload rule and match a benchmark address
// range (198.18.0.0/15, RFC 2544) no real traffic uses.
constexpr uint16_t kChurnPriority = 60000;
constexpr uint64_t kChurnLive = 1000;

BackerConfig backer_config(const OfprotoConfig& c) {
  BackerConfig b;
  b.flow_idle_ms = c.flow_idle_ms;
  b.flow_limit = c.flow_limit;
  b.upcall = c.upcall;
  b.clock = c.clock;
  return b;
}

}  // namespace

Ofproto::Ofproto(datapath::Datapath& dp, OfprotoConfig cfg)
    : cfg_(std::move(cfg)), own_backer_(std::make_unique<DpBacker>(dp, backer_config(cfg_))) {
  backer_ = own_backer_.get();
  init();
  sync_ports();
}

Ofproto::Ofproto(std::unique_ptr<DpInterface> dp, OfprotoConfig cfg)
    : cfg_(std::move(cfg)),
      own_backer_(std::make_unique<DpBacker>(std::move(dp), backer_config(cfg_))) {
  backer_ = own_backer_.get();
  init();
}

Ofproto::Ofproto(DpBacker& backer, OfprotoConfig cfg) : cfg_(std::move(cfg)), backer_(&backer) {
  init();
}

void Ofproto::init() {
  real_dp_ = backer_->real_dp();
  bridge_.name = cfg_.bridge;
  // The TLV table: the BridgeSet's (shared by its bridges), or our own.
  bridge_.tlv_table = cfg_.tlv_table ? cfg_.tlv_table : std::make_shared<TlvTable>();
  bridge_.tlv_table->attach(&bridge_);
  bridge_.mac.set_idle_ms(cfg_.mac_idle_ms);
  bridge_.mac.set_max_entries(cfg_.mac_max_entries);
  bridge_.pipeline.groups().port_live = [this](uint32_t p) {
    const BridgePort* bp = bridge_.port(p);
    return bp && bp->live;
  };
  backer_->attach(*this);
}

Ofproto::~Ofproto() {
  bridge_.tlv_table->detach(&bridge_);
  // A private backer goes with the bridge (no datapath commands: the
  // datapath may be gone already); a shared one forgets the bridge.
  if (!own_backer_) {
    for (auto& [no, rt] : bonds_) {
      backer_->dp().del_bond(rt.bond->dp_id());
      backer_->free_bond_id(rt.bond->dp_id());
    }
    backer_->detach(*this);
  }
}

// --- Ports ----------------------------------------------------------------------

void Ofproto::add_port(uint32_t of_port, uint32_t dp_port, const std::string& name) {
  release_port(of_port);
  BridgePort p;
  p.of_port = of_port;
  p.dp_port = dp_port;
  p.name = name;
  bridge_.add_port(p);
  backer_->map_port(dp_port, *this);
  // Floods and NORMAL decisions depend on the port set.
  backer_->revalidator().revalidate_all(now_ms());
}

void Ofproto::add_tunnel_port(uint32_t of_port, uint32_t dp_port, const std::string& name,
                              std::shared_ptr<const TunnelConfig> tunnel) {
  auto it = bridge_.ports.find(of_port);
  if (it != bridge_.ports.end() && it->second.is_tunnel() && it->second.dp_port == dp_port) {
    it->second.tunnel = std::move(tunnel);  // an option change: the port stays
  } else {
    release_port(of_port);
    BridgePort p;
    p.of_port = of_port;
    p.dp_port = dp_port;
    p.name = name;
    p.tunnel = std::move(tunnel);
    bridge_.add_port(p);
    backer_->map_port(dp_port, *this);
  }
  backer_->revalidator().revalidate_all(now_ms());
}

void Ofproto::add_patch_port(uint32_t of_port, const std::string& name, Bridge& peer,
                             uint32_t peer_port) {
  release_port(of_port);
  BridgePort p;
  p.of_port = of_port;
  p.name = name;
  p.peer_bridge = &peer;
  p.peer_port = peer_port;
  bridge_.add_port(p);
  backer_->revalidator().revalidate_all(now_ms());
}

void Ofproto::remove_port(uint32_t of_port) {
  if (!bridge_.ports.count(of_port)) return;
  release_port(of_port);
  bridge_.remove_port(of_port);
  backer_->revalidator().revalidate_all(now_ms());
}

bool Ofproto::set_mirrors(std::vector<MirrorConfig> cfgs) {
  if (!bridge_.set_mirrors(std::move(cfgs))) return false;
  backer_->revalidator().revalidate_all(now_ms());
  return true;
}

bool Ofproto::set_sampling(const BridgeSampling& s) {
  if (bridge_.sampling == s) return false;
  bridge_.sampling = s;
  backer_->revalidator().revalidate_all(now_ms());
  return true;
}

void Ofproto::sync_ports() {
  if (!real_dp_) return;
  for (uint32_t no : real_dp_->port_numbers())
    if (!bridge_.port(no) && !backer_->bridges().owner(no))
      add_port(no, no, real_dp_->port(no)->name());
}

uint32_t Ofproto::free_of_port() const {
  uint32_t no = 1;
  for (const auto& [n, bp] : bridge_.ports) {
    if (n > no) break;
    if (n == no) no++;
  }
  return no;
}

// --- Rules ----------------------------------------------------------------------

void Ofproto::queue_removed(const FlowModResult& res) {
  for (const RemovedRule& r : res.removed)
    if (removed_.size() < kMaxRemovedQueue) removed_.push_back(r);
}

void Ofproto::after_change(const FlowModResult& res) {
  queue_removed(res);
  backer_->revalidator().on_flow_mod(bridge_, res, now_ms());
}

MaybeError Ofproto::counted(MaybeError e) {
  if (e) flow_mod_errors_++;
  else flow_mods_++;
  return e;
}

MaybeError Ofproto::flow_mod(const FlowMod& fm) {
  int64_t now = now_ms();
  // (The revalidator rolls the counters of the megaflows it re-translates
  // into the old rules first, so changed or removed rules keep their packets.)
  FlowModResult res;
  if (MaybeError e = counted(bridge_.pipeline.flow_mod(fm, now, &res))) return e;
  after_change(res);
  return std::nullopt;
}

MaybeError Ofproto::group_mod(const GroupMod& gm) {
  int64_t now = now_ms();
  FlowModResult res;
  if (MaybeError e = counted(bridge_.pipeline.group_mod(gm, now, &res))) return e;
  queue_removed(res);
  Revalidator& rv = backer_->revalidator();
  if (gm.group_id == kGroupAll) {
    rv.revalidate_all(now);
  } else {
    rv.on_flow_mod(bridge_, res, now);
    rv.on_groups_changed({gm.group_id}, now);
  }
  return std::nullopt;
}

MaybeError Ofproto::add_flows(std::string_view text) {
  std::vector<FlowMod> fms;
  if (MaybeError e = parse_flows(text, &fms, FlowParseMode::kAdd, &tlv_table().layout())) return e;
  std::vector<FlowMod> undo;
  for (size_t i = 0; i < fms.size(); i++) {
    if (MaybeError e = flow_mod(fms[i])) {
      for (FlowMod& u : undo) flow_mod(u);
      e->message = "rule " + std::to_string(i + 1) + ": " + e->message;
      return e;
    }
    FlowMod del;
    del.command = FlowModCommand::kDeleteStrict;
    del.table_id = fms[i].table_id;
    del.priority = fms[i].priority;
    del.match = fms[i].match;
    undo.push_back(del);
  }
  return std::nullopt;
}

MaybeError Ofproto::mod_flows(std::string_view text, bool strict) {
  FlowMod fm;
  if (MaybeError e = parse_flow(text, &fm, FlowParseMode::kModify, strict, &tlv_table().layout())) return e;
  return flow_mod(fm);
}

MaybeError Ofproto::del_flows(std::string_view text, bool strict) {
  FlowMod fm;
  if (MaybeError e = parse_flow(text, &fm, FlowParseMode::kDelete, strict, &tlv_table().layout())) return e;
  return flow_mod(fm);
}

MaybeError Ofproto::add_group(std::string_view text) {
  GroupMod gm;
  if (MaybeError e = parse_group(text, &gm)) return e;
  return group_mod(gm);
}

MaybeError Ofproto::load_rules_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return OfError::make(OfErrorType::kBadRequest, BadRequestCode::kBadLen,
                         "rules file " + path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  if (MaybeError e = add_flows(ss.str())) {
    e->message = "rules file " + path + ": " + e->message;
    return e;
  }
  return std::nullopt;
}

void Ofproto::install_default_normal() {
  MaybeError e = add_flows("priority=0,actions=NORMAL");
  if (e) spdlog::error("{}: default NORMAL rule: {}", bridge_.name, e->message);
}

// --- Meters -------------------------------------------------------------------------

MaybeError Ofproto::meter_mod(const MeterMod& mm) {
  const int64_t now = now_ms();
  MeterModResult mres;
  FlowModResult res;
  if (MaybeError e = bridge_.pipeline.meter_mod(mm, now, &mres, &res)) return e;
  // Added / modified: in the datapath before a megaflow can name them.
  for (const Meter& m : mres.set)
    if (int rc = backer_->dp().set_meter(m.dp_id, MeterTable::to_dp(m)); rc != 0)
      spdlog::error("{}: meter {}: datapath meter {} refused the configuration ({})",
                    bridge_.name, m.id, m.dp_id, rc);
  if (mres.deleted.empty()) return std::nullopt;
  // Deleted: their rules are gone; once the megaflows that used them are
  // re-translated (and the PMDs stopped using the old actions), the
  // datapath meters can go.
  after_change(res);
  for (const Meter& m : mres.deleted) backer_->dp().del_meter(m.dp_id);
  return std::nullopt;
}

std::vector<MeterStats> Ofproto::meter_stats(uint32_t meter_id) {
  const int64_t now = now_ms();
  std::vector<MeterStats> out;
  for (const auto& [id, m] : bridge_.pipeline.meters().all()) {
    if (meter_id != kMeterAll && id != meter_id) continue;
    MeterStats s;
    s.meter_id = id;
    s.flow_count = bridge_.pipeline.meter_flow_count(id);
    split_ms(now - m.created_ms, &s.duration_sec, &s.duration_nsec);
    std::optional<datapath::DpMeterStats> dp = backer_->dp().meter_stats(m.dp_id);
    if (dp) {
      s.packet_in_count = dp->packets;
      s.byte_in_count = dp->bytes;
    }
    s.bands.resize(m.bands.size());
    for (size_t b = 0; dp && b < m.bands.size() && b < dp->bands.size(); b++) {
      s.bands[b].packet_band_count = dp->bands[b].packets;
      s.bands[b].byte_band_count = dp->bands[b].bytes;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<MeterConfig> Ofproto::meter_config(uint32_t meter_id) const {
  std::vector<MeterConfig> out;
  for (const auto& [id, m] : bridge_.pipeline.meters().all())
    if (meter_id == kMeterAll || id == meter_id) out.push_back(MeterTable::config(m));
  return out;
}

MaybeError Ofproto::add_meter(std::string_view text) {
  MeterMod mm;
  if (MaybeError e = parse_meter(text, &mm)) return e;
  return meter_mod(mm);
}

std::string Ofproto::dump_meters() const {
  std::string out;
  for (const auto& [id, m] : bridge_.pipeline.meters().all()) out += format_meter(m) + "\n";
  return out;
}

std::string Ofproto::dump_meter_stats() {
  std::string out;
  for (const MeterStats& s : meter_stats(kMeterAll)) out += format_meter_stats(s) + "\n";
  return out;
}

// --- Control loop -------------------------------------------------------------------

unsigned Ofproto::run() { return backer_->run(); }

unsigned Ofproto::run_bridge(int64_t now) {
  unsigned work = 0;
  bool overflow = false;
  std::vector<MacChange> changes = bridge_.mac.take_changes(&overflow);
  if (!changes.empty() || overflow)
    work += backer_->revalidator().on_mac_changes(bridge_, changes, overflow, now);

  if (now >= next_timer_ms_) {
    next_timer_ms_ = now + kTimerMs;
    FlowModResult res;
    for (RemovedRule& r : bridge_.pipeline.expire(now)) res.removed.push_back(std::move(r));
    if (!res.removed.empty()) {
      after_change(res);
      work++;
    }
    bridge_.mac.expire(now);  // changes are handled next round
  }
  if (churn_rate_ > 0) churn(now);
  if (!bonds_.empty()) work += run_bonds(now);
  return work;
}

void Ofproto::set_flow_idle_ms(int64_t ms) { backer_->set_flow_idle_ms(ms); }

// --- Debug churn -----------------------------------------------------------------------

void Ofproto::set_churn_rate(double per_s) {
  churn_rate_ = per_s;
  churn_start_ms_ = now_ms();
  churn_done_ = 0;
}

void Ofproto::churn(int64_t now) {
  uint64_t due = static_cast<uint64_t>(churn_rate_ * static_cast<double>(now - churn_start_ms_) / 1000.0);
  // Catch up at most 64 per round so one round stays short.
  for (int k = 0; k < 64 && churn_done_ < due; k++, churn_done_++) {
    uint64_t i = churn_seq_++;
    FlowMod fm;
    uint64_t slot = (i / 2) % kChurnLive;
    fm.command = (i % 2 == 0) ? FlowModCommand::kAdd : FlowModCommand::kDeleteStrict;
    if (fm.command == FlowModCommand::kDeleteStrict) slot = ((i / 2) + kChurnLive / 2) % kChurnLive;
    fm.priority = kChurnPriority;
    fm.match.set_u64(OxmField::kEthType, datapath::kEthTypeIpv4);
    fm.match.set_u64(OxmField::kIpv4Dst, 0xc6120000u + static_cast<uint32_t>(slot));
    fm.instructions.apply = ActionList{};
    flow_mod(fm);
  }
}

// --- Views ---------------------------------------------------------------------------

std::string Ofproto::dump_flows(bool with_stats) {
  int64_t now = now_ms();
  backer_->revalidator().roll_up_all(now);
  std::string out;
  for (unsigned t = 0; t < kNumTables; t++) {
    const FlowTable& ft = bridge_.pipeline.table(static_cast<uint8_t>(t));
    if (!ft.size()) continue;
    std::vector<RulePtr> rules;
    ft.for_each([&](const RulePtr& r) { rules.push_back(r); });
    std::sort(rules.begin(), rules.end(), [](const RulePtr& a, const RulePtr& b) {
      return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
    });
    for (const RulePtr& r : rules) out += format_flow_stats(rule_flow_stats(*r, now), with_stats) + "\n";
  }
  return out;
}

std::string Ofproto::dump_groups() const {
  std::string out;
  for (const auto& [id, g] : bridge_.pipeline.groups().all())
    out += format_group(GroupDesc{g.type, g.group_id, g.buckets}) + "\n";
  return out;
}

std::string Ofproto::fdb_show() { return bridge_.mac.format_fdb(now_ms()); }

std::string Ofproto::trace(const datapath::FlowKey& key) {
  return xlate_trace(bridge_, key, now_ms());
}

std::vector<RemovedRule> Ofproto::take_removed_rules(size_t max) {
  std::vector<RemovedRule> out;
  while (!removed_.empty() && out.size() < max) {
    out.push_back(std::move(removed_.front()));
    removed_.pop_front();
  }
  return out;
}

OfprotoStats Ofproto::stats() const {
  OfprotoStats s;
  s.upcall = backer_->handler().stats();
  s.revalidator = backer_->revalidator().stats();
  s.ukeys = backer_->ukeys().size();
  s.ukey_masks = backer_->ukeys().n_masks();
  s.rules = bridge_.pipeline.rule_count();
  s.mac_entries = bridge_.mac.size();
  s.flow_mods = flow_mods_;
  s.flow_mod_errors = flow_mod_errors_;
  s.churn_mods = churn_done_;
  return s;
}

// --- OpenFlow channel ---------------------------------------------------------------

namespace {

// The devices behind an OpenFlow port: a bond's members, none for a patch
// port or without a real datapath.
std::vector<netdev::Netdev*> port_netdevs(const datapath::Datapath* dp, const BridgePort& bp) {
  std::vector<netdev::Netdev*> out;
  if (dp)
    for (uint32_t d : bp.dp_ports())
      if (netdev::Netdev* nd = dp->port(d)) out.push_back(nd);
  return out;
}

// Largest frame a PACKET_OUT may carry (jumbo frames of the datapath).
constexpr size_t kMaxPacketOutBytes = 9216;

MaybeError port_mod_error(PortModFailedCode c, std::string msg) {
  return OfError::make(OfErrorType::kPortModFailed, c, std::move(msg));
}

}  // namespace

std::vector<PortDesc> Ofproto::port_descs() const {
  std::vector<PortDesc> out;
  for (const auto& [no, bp] : bridge_.ports) {
    PortDesc d;
    d.port_no = no;
    d.name = bp.name;
    const netdev::Netdev* nd = (real_dp_ && !bp.is_patch()) ? real_dp_->port(bp.dp_port) : nullptr;
    bool link = bp.live;
    if (nd) {
      link = nd->link_up();
      if (!nd->admin_up()) d.config |= kPortConfigDown;
      netdev::NetdevInfo info = nd->info();
      if (info.hw_addr) d.hw_addr = *info.hw_addr;
      if (info.link_speed_mbps) d.curr_speed = d.max_speed = info.link_speed_mbps * 1000;  // Mbps -> kbps
    }
    if (bp.no_recv) d.config |= kPortConfigNoRecv;
    if (bp.no_fwd) d.config |= kPortConfigNoFwd;
    if (bp.no_packet_in) d.config |= kPortConfigNoPacketIn;
    if (bp.no_flood) d.config |= 1u << 3;  // OFPPC_NO_FLOOD (1.0 bit, OVS keeps it)
    d.state = link ? kPortStateLive : kPortStateLinkDown;
    uint32_t feat = kPfFiber;
    if (d.curr_speed >= 100'000'000) feat |= kPf100GbFd;
    else if (d.curr_speed >= 40'000'000) feat |= kPf40GbFd;
    else if (d.curr_speed >= 10'000'000) feat |= kPf10GbFd;
    else if (d.curr_speed >= 1'000'000) feat |= kPf1GbFd;
    else feat |= kPfOther;
    d.curr = d.advertised = d.supported = feat;
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<PortStats> Ofproto::port_stats(uint32_t of_port) const {
  const BridgePort* bp = bridge_.port(of_port);
  if (!bp) return std::nullopt;
  // The same counters by the same names: a bond's are its members' sums, a
  // patch port has none.
  netdev::PortStats s;
  for (const netdev::Netdev* nd : port_netdevs(real_dp_, *bp)) {
    const netdev::PortStats m = nd->stats();
    s.rx_packets += m.rx_packets, s.tx_packets += m.tx_packets, s.rx_bytes += m.rx_bytes;
    s.tx_bytes += m.tx_bytes, s.rx_dropped += m.rx_dropped, s.tx_dropped += m.tx_dropped;
    s.rx_errors += m.rx_errors, s.tx_errors += m.tx_errors;
  }
  return PortStats{.port_no = of_port, .rx_packets = s.rx_packets, .tx_packets = s.tx_packets,
                   .rx_bytes = s.rx_bytes, .tx_bytes = s.tx_bytes, .rx_dropped = s.rx_dropped,
                   .tx_dropped = s.tx_dropped, .rx_errors = s.rx_errors, .tx_errors = s.tx_errors};
}

MaybeError Ofproto::port_mod(const PortMod& pm) {
  auto it = bridge_.ports.find(pm.port_no);
  if (it == bridge_.ports.end())
    return port_mod_error(PortModFailedCode::kBadPort,
                          "port_mod: port " + std::to_string(pm.port_no) + " is not a port of " +
                              bridge_.name);
  BridgePort& bp = it->second;
  constexpr uint32_t kNoFlood = 1u << 3;
  constexpr uint32_t kKnown =
      kPortConfigDown | kPortConfigNoRecv | kPortConfigNoFwd | kPortConfigNoPacketIn | kNoFlood;
  if (pm.mask & ~kKnown)
    return port_mod_error(PortModFailedCode::kBadConfig,
                          "port_mod: port " + std::to_string(pm.port_no) +
                              ": unknown config bits in mask 0x" + fmt::format("{:x}", pm.mask));
  // hw_addr must be the port's own (OpenFlow uses it to catch a stale port
  // number); all-zero is accepted for ports whose MAC is unknown.
  std::array<uint8_t, 6> mac{};
  for (const PortDesc& d : port_descs())
    if (d.port_no == pm.port_no) mac = d.hw_addr;
  if (pm.hw_addr != mac)
    return port_mod_error(PortModFailedCode::kBadHwAddr,
                          "port_mod: port " + std::to_string(pm.port_no) +
                              ": hw_addr is not the port's MAC address");
  auto want = [&](uint32_t bit, bool cur) { return (pm.mask & bit) ? (pm.config & bit) != 0 : cur; };
  if (pm.mask & kPortConfigDown)  // every member of a bond
    for (netdev::Netdev* nd : port_netdevs(real_dp_, bp)) nd->set_admin_up(!(pm.config & kPortConfigDown));
  bool changed = false;
  auto set = [&](bool& flag, uint32_t bit) {
    bool v = want(bit, flag);
    changed |= v != flag;
    flag = v;
  };
  set(bp.no_recv, kPortConfigNoRecv);
  set(bp.no_fwd, kPortConfigNoFwd);
  set(bp.no_packet_in, kPortConfigNoPacketIn);
  set(bp.no_flood, kNoFlood);
  if (changed) backer_->revalidator().revalidate_all(now_ms());
  return std::nullopt;
}

rte_mbuf* Ofproto::frame_mbuf(std::span<const uint8_t> frame) {
  rte_mbuf* m = nullptr;
  if (cfg_.packet_alloc) {
    m = cfg_.packet_alloc(static_cast<uint32_t>(frame.size()));
  } else if (real_dp_) {
    m = rte_pktmbuf_alloc(real_dp_->pool().get());
    if (m && rte_pktmbuf_tailroom(m) < frame.size()) {
      rte_pktmbuf_free(m);
      m = nullptr;
    }
  }
  if (!m) return nullptr;
  if (cfg_.packet_alloc) {  // comes with data_len = frame.size()
    std::memcpy(rte_pktmbuf_mtod(m, char*), frame.data(), frame.size());
  } else {
    char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    std::memcpy(p, frame.data(), frame.size());
  }
  return m;
}

MaybeError Ofproto::packet_out(uint32_t of_in_port, std::span<const uint8_t> frame,
                               const ActionList& actions) {
  const BridgePort* bp = nullptr;
  if (of_in_port <= kPortMax) {
    bp = bridge_.port(of_in_port);
    if (!bp)
      return OfError::make(OfErrorType::kBadRequest, BadRequestCode::kBadPort,
                           "packet_out: in_port " + std::to_string(of_in_port) +
                               " is not a port of " + bridge_.name);
  } else if (of_in_port != kPortController && of_in_port != kPortLocal) {
    return OfError::make(OfErrorType::kBadRequest, BadRequestCode::kBadPort,
                         "packet_out: in_port 0x" + fmt::format("{:x}", of_in_port) +
                             " must be a port, CONTROLLER or LOCAL");
  }
  if (frame.size() < 14 || frame.size() > kMaxPacketOutBytes)
    return OfError::make(OfErrorType::kBadRequest, BadRequestCode::kBadPacket,
                         "packet_out: a frame of " + std::to_string(frame.size()) +
                             " bytes (14.." + std::to_string(kMaxPacketOutBytes) + " accepted)");
  // The actions as a flow-mod's (what the datapath cannot execute is
  // refused); set_field prerequisites are the packet's (xlate skips a
  // set_field whose header is absent).
  ValidationContext vc = bridge_.pipeline.context();
  vc.packet_out = true;
  vc.set_field_prereqs = false;
  if (MaybeError e = validate_actions(actions, OfMatch{}, vc)) {
    e->message = "packet_out: " + e->message;
    return e;
  }
  // LOCAL is the bridge's own internal port when it has one (as OVS, the
  // packet then enters the datapath there: a sample's input is that port).
  if (of_in_port == kPortLocal) bp = bridge_.port(kPortLocal);
  uint32_t dp_in = bp && !bp->is_patch() ? bp->dp_port : 0;
  datapath::FlowKey key{};
  datapath::flow_key_extract(frame.data(), static_cast<uint32_t>(frame.size()), dp_in, &key);
  XlateOptions opts;
  opts.now_ms = now_ms();
  // output:TABLE: the packet counts in the rules and tables it goes through.
  opts.account = true;
  opts.packets = 1;
  opts.bytes = frame.size();
  XlateResult r = xlate_packet_out(bridge_, key, of_in_port, actions, opts);
  if (!r.error.empty())
    return OfError::make(OfErrorType::kBadAction, BadActionCode::kBadArgument,
                         "packet_out: " + r.error);
  if (r.actions.n == 0) return std::nullopt;  // dropped: nothing to execute
  backer_->events().rewrite(&r.actions, r.controller);
  rte_mbuf* m = frame_mbuf(frame);
  if (!m)
    return OfError::make(OfErrorType::kBadRequest, BadRequestCode::kEperm,
                         "packet_out: no packet buffer free");
  if (!backer_->dp().post_execute(0, dp_in, &m, 1, r.actions))
    return OfError::make(OfErrorType::kBadRequest, BadRequestCode::kEperm,
                         "packet_out: the PMD's command ring is full");
  return std::nullopt;
}

void Ofproto::set_fail_open(bool on) {
  if (on == fail_open_) return;
  fail_open_ = on;
  FlowMod fm;
  fm.table_id = 0;
  fm.priority = 0;
  fm.cookie = kFailOpenCookie;
  if (on) {
    if (bridge_.pipeline.table(0).find_strict(fm.match, 0)) {
      spdlog::info("{}: fail-open: table 0 has a catch-all rule already; none added", bridge_.name);
      return;
    }
    fm.command = FlowModCommand::kAdd;
    fm.flags = kFlagCheckOverlap;
    fm.instructions.apply = ActionList{ActOutput{kPortNormal}};
    if (MaybeError e = flow_mod(fm))
      spdlog::info("{}: fail-open: a catch-all rule exists, none added ({})", bridge_.name, e->message);
    else
      spdlog::info("{}: fail-open: no controller, behaving as a learning switch", bridge_.name);
  } else {
    fm.command = FlowModCommand::kDeleteStrict;
    fm.cookie_mask = ~uint64_t{0};  // only the rule fail-open added
    flow_mod(fm);
    spdlog::info("{}: fail-open off", bridge_.name);
  }
}

// --- BridgeSet ---------------------------------------------------------------------

Ofproto* BridgeSet::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.get();
}

Ofproto& BridgeSet::add(const std::string& name) {
  if (Ofproto* o = find(name)) return *o;
  OfprotoConfig c = defaults_;
  c.bridge = name;
  auto o = std::make_unique<Ofproto>(backer_, std::move(c));
  Ofproto& ref = *o;
  by_name_.emplace(name, std::move(o));
  spdlog::info("bridge {} created", name);
  return ref;
}

bool BridgeSet::remove(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return false;
  const std::string gone = it->first;  // `name` may be the key itself (clear())
  std::unique_ptr<Ofproto> o = std::move(it->second);
  by_name_.erase(it);
  o.reset();  // detaches: megaflows, ports, packet-ins, patch peers
  spdlog::info("bridge {} removed", gone);
  return true;
}

void BridgeSet::clear() {
  while (!by_name_.empty()) remove(by_name_.begin()->first);
}

std::vector<std::string> BridgeSet::names() const {
  std::vector<std::string> out;
  for (const auto& [n, o] : by_name_) out.push_back(n);
  return out;
}

std::string BridgeSet::names_text() const {
  std::string out;
  for (const auto& [n, o] : by_name_) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace dps::ofproto
