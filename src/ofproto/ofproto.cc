#include "ofproto.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "flow_parser.h"
#include "xlate.h"

namespace dps::ofproto {

namespace {

// Churn rules sit above any workload rule and match a benchmark address
// range (198.18.0.0/15, RFC 2544) no real traffic uses.
constexpr uint16_t kChurnPriority = 60000;
constexpr uint64_t kChurnLive = 1000;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Ofproto::Ofproto(datapath::Datapath& dp, OfprotoConfig cfg)
    : Ofproto(std::make_unique<DatapathDp>(dp), std::move(cfg)) {
  real_dp_ = &dp;
  sync_ports();
}

Ofproto::Ofproto(std::unique_ptr<DpInterface> dp, OfprotoConfig cfg)
    : cfg_(std::move(cfg)), dp_(std::move(dp)) {
  bridge_.name = cfg_.bridge;
  bridge_.mac.set_idle_ms(cfg_.mac_idle_ms);
  bridge_.mac.set_max_entries(cfg_.mac_max_entries);
  UpcallConfig uc = cfg_.upcall;
  uc.flow_limit = cfg_.flow_limit;
  handler_ = std::make_unique<UpcallHandler>(bridge_, ukeys_, *dp_, events_, uc);
  revalidator_ = std::make_unique<Revalidator>(bridge_, ukeys_, *dp_, events_, cfg_.flow_idle_ms);
  bridge_.pipeline.groups().port_live = [this](uint32_t p) {
    const BridgePort* bp = bridge_.port(p);
    return bp && bp->live;
  };
}

Ofproto::~Ofproto() = default;

int64_t Ofproto::now_ms() const { return cfg_.clock ? cfg_.clock() : steady_ms(); }

// --- Ports ----------------------------------------------------------------------

void Ofproto::add_port(uint32_t of_port, uint32_t dp_port, const std::string& name) {
  BridgePort p;
  p.of_port = of_port;
  p.dp_port = dp_port;
  p.name = name;
  bridge_.add_port(p);
  // Floods and NORMAL decisions depend on the port set.
  revalidator_->revalidate_all(now_ms());
}

void Ofproto::remove_port(uint32_t of_port) {
  bridge_.remove_port(of_port);
  revalidator_->revalidate_all(now_ms());
}

void Ofproto::sync_ports() {
  if (!real_dp_) return;
  for (uint32_t no : real_dp_->port_numbers())
    if (!bridge_.port(no)) add_port(no, no, real_dp_->port(no)->name());
}

// --- Rules ----------------------------------------------------------------------

void Ofproto::after_change(const FlowModResult& res) {
  for (const RemovedRule& r : res.removed)
    if (removed_.size() < kMaxRemovedQueue) removed_.push_back(r);
  revalidator_->on_flow_mod(res, now_ms());
}

MaybeError Ofproto::flow_mod(const FlowMod& fm) {
  int64_t now = now_ms();
  // (The revalidator rolls the counters of the megaflows it re-translates
  // into the old rules first, so changed or removed rules keep their packets.)
  FlowModResult res;
  if (MaybeError e = bridge_.pipeline.flow_mod(fm, now, &res)) {
    flow_mod_errors_++;
    return e;
  }
  flow_mods_++;
  after_change(res);
  return std::nullopt;
}

MaybeError Ofproto::group_mod(const GroupMod& gm) {
  int64_t now = now_ms();
  FlowModResult res;
  if (MaybeError e = bridge_.pipeline.group_mod(gm, now, &res)) {
    flow_mod_errors_++;
    return e;
  }
  flow_mods_++;
  for (const RemovedRule& r : res.removed)
    if (removed_.size() < kMaxRemovedQueue) removed_.push_back(r);
  if (gm.group_id == kGroupAll) {
    revalidator_->revalidate_all(now);
  } else {
    revalidator_->on_flow_mod(res, now);
    revalidator_->on_groups_changed({gm.group_id}, now);
  }
  return std::nullopt;
}

MaybeError Ofproto::add_flows(std::string_view text) {
  std::vector<FlowMod> fms;
  if (MaybeError e = parse_flows(text, &fms)) return e;
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
  if (MaybeError e = parse_flow(text, &fm, FlowParseMode::kModify, strict)) return e;
  return flow_mod(fm);
}

MaybeError Ofproto::del_flows(std::string_view text, bool strict) {
  FlowMod fm;
  if (MaybeError e = parse_flow(text, &fm, FlowParseMode::kDelete, strict)) return e;
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

// --- Control loop -------------------------------------------------------------------

unsigned Ofproto::run() {
  int64_t now = now_ms();
  unsigned work = handler_->run(now);
  work += dp_->poll();
  for (const datapath::InstallFailure& f : dp_->take_failed_installs()) {
    Ukey* u = ukeys_.find_ufid(f.ufid);
    if (u && u->pmd == f.pmd) ukeys_.erase(u);  // the datapath already forgot it
  }
  bool overflow = false;
  std::vector<MacChange> changes = bridge_.mac.take_changes(&overflow);
  if (!changes.empty() || overflow) work += revalidator_->on_mac_changes(changes, overflow, now);

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
  if (!pass_running_ && now >= next_pass_ms_) {
    pass_running_ = true;
    next_pass_ms_ = now + std::clamp<int64_t>(revalidator_->idle_ms() / 4, 1, 1000);
  }
  if (pass_running_ && revalidator_->sweep(now)) pass_running_ = false;
  if (churn_rate_ > 0) churn(now);
  return work;
}

void Ofproto::set_flow_idle_ms(int64_t ms) {
  revalidator_->set_idle_ms(ms);
  next_pass_ms_ = 0;
}

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
  revalidator_->roll_up_all(now);
  std::string out;
  for (unsigned t = 0; t < kNumTables; t++) {
    const FlowTable& ft = bridge_.pipeline.table(static_cast<uint8_t>(t));
    if (!ft.size()) continue;
    std::vector<RulePtr> rules;
    ft.for_each([&](const RulePtr& r) { rules.push_back(r); });
    std::sort(rules.begin(), rules.end(), [](const RulePtr& a, const RulePtr& b) {
      return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
    });
    for (const RulePtr& r : rules) out += format_rule(*r, with_stats, now) + "\n";
  }
  return out;
}

std::string Ofproto::dump_groups() const {
  std::string out;
  for (const auto& [id, g] : bridge_.pipeline.groups().all()) out += format_group(g) + "\n";
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
  s.upcall = handler_->stats();
  s.revalidator = revalidator_->stats();
  s.ukeys = ukeys_.size();
  s.ukey_masks = ukeys_.n_masks();
  s.rules = bridge_.pipeline.rule_count();
  s.mac_entries = bridge_.mac.size();
  s.flow_mods = flow_mods_;
  s.flow_mod_errors = flow_mod_errors_;
  s.churn_mods = churn_done_;
  return s;
}

}  // namespace dps::ofproto
