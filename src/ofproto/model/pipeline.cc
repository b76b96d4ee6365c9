#include "pipeline.h"

namespace dps::ofproto {

namespace {

MaybeError fm_error(FlowModFailedCode c, std::string msg) {
  return OfError::make(OfErrorType::kFlowModFailed, c, std::move(msg));
}

}  // namespace

Pipeline::Pipeline() {
  tables_.reserve(kNumTables);
  for (unsigned i = 0; i < kNumTables; i++) tables_.emplace_back(static_cast<uint8_t>(i));
}

size_t Pipeline::rule_count() const {
  size_t n = 0;
  for (const FlowTable& t : tables_) n += t.size();
  return n;
}

ValidationContext Pipeline::context() const {
  ValidationContext ctx = validation_;
  ctx.group_exists = [this](uint32_t id) { return groups_.contains(id); };
  ctx.meter_exists = [this](uint32_t id) { return meters_.contains(id); };
  return ctx;
}

bool Pipeline::out_ok(const FlowMod& fm, const Rule& r) const {
  if (fm.out_port != kPortAny && !r.instructions.outputs_to_port(fm.out_port)) return false;
  if (fm.out_group != kGroupAny && !r.instructions.outputs_to_group(fm.out_group)) return false;
  return true;
}

void Pipeline::remove_rule(const RulePtr& r, RemovedReason why, FlowModResult* res) {
  tables_[r->table_id].remove(r.get());
  timed_.erase(r);
  if (res) res->removed.push_back({r, why});
}

MaybeError Pipeline::add(const FlowMod& fm, int64_t now_ms, FlowModResult* res) {
  if (fm.table_id == kTableAll)
    return fm_error(FlowModFailedCode::kBadTableId, "add-flow needs one table, not table=all (255)");
  FlowTable& t = tables_[fm.table_id];
  RulePtr old = t.find_strict(fm.match, fm.priority);
  if ((fm.flags & kFlagCheckOverlap) && !old && t.overlaps(fm.match, fm.priority))
    return fm_error(FlowModFailedCode::kOverlap,
                    "rule overlaps an existing rule of priority " + std::to_string(fm.priority) +
                        " in table " + std::to_string(fm.table_id));
  if (!old && t.size() >= t.max_rules)
    return fm_error(FlowModFailedCode::kTableFull,
                    "table " + std::to_string(fm.table_id) + " is full (" +
                        std::to_string(t.max_rules) + " rules)");
  auto r = std::make_shared<Rule>();
  r->id = next_rule_id_++;
  r->table_id = fm.table_id;
  r->priority = fm.priority;
  r->match = fm.match;
  r->cookie = fm.cookie;
  r->idle_timeout = fm.idle_timeout;
  r->hard_timeout = fm.hard_timeout;
  r->flags = fm.flags;
  r->instructions = fm.instructions;
  r->created_ms = r->modified_ms = r->used_ms = now_ms;
  if (old) {
    // Identical match and priority: replace; keep counters unless RESET_COUNTS.
    if (!(fm.flags & kFlagResetCounts)) {
      r->packet_count = old->packet_count;
      r->byte_count = old->byte_count;
    }
    remove_rule(old, RemovedReason::kDelete, res);
  }
  t.insert(r);
  if (r->idle_timeout || r->hard_timeout) timed_.insert(r);
  if (res) res->added.push_back(r);
  return std::nullopt;
}

MaybeError Pipeline::flow_mod(const FlowMod& fm, int64_t now_ms, FlowModResult* res) {
  if (MaybeError e = fm.match.check_prerequisites()) return e;
  const bool is_add = fm.command == FlowModCommand::kAdd;
  const bool is_modify =
      fm.command == FlowModCommand::kModify || fm.command == FlowModCommand::kModifyStrict;
  if (is_add || is_modify) {
    // A rule in table=all is checked as if in table 0 (goto must still go forward
    // from every table it lands in; checked per rule below for modify).
    uint8_t t = fm.table_id == kTableAll ? 0 : fm.table_id;
    if (MaybeError e = validate_instructions(fm.instructions, fm.match, t, context())) return e;
  }
  switch (fm.command) {
    case FlowModCommand::kAdd: {
      MaybeError e = add(fm, now_ms, res);
      if (!e) version_++;
      return e;
    }
    case FlowModCommand::kModify:
    case FlowModCommand::kModifyStrict:
    case FlowModCommand::kDelete:
    case FlowModCommand::kDeleteStrict: break;
    default:
      return fm_error(FlowModFailedCode::kBadCommand,
                      "unknown flow-mod command " + std::to_string(static_cast<int>(fm.command)));
  }
  const bool strict =
      fm.command == FlowModCommand::kModifyStrict || fm.command == FlowModCommand::kDeleteStrict;
  std::vector<RulePtr> hits;
  auto consider = [&](const RulePtr& r) {
    if (!cookie_ok(fm, *r)) return;
    if (!is_modify && !out_ok(fm, *r)) return;
    hits.push_back(r);
  };
  for (unsigned i = 0; i < kNumTables; i++) {
    if (fm.table_id != kTableAll && i != fm.table_id) continue;
    FlowTable& t = tables_[i];
    if (t.size() == 0) continue;
    if (strict) {
      if (RulePtr r = t.find_strict(fm.match, fm.priority)) consider(r);
    } else {
      t.for_each_subsumed(fm.match, consider);
    }
  }
  if (is_modify) {
    if (fm.instructions.goto_table)
      for (const RulePtr& r : hits)
        if (*fm.instructions.goto_table <= r->table_id)
          return OfError::make(OfErrorType::kBadInstruction, BadInstructionCode::kBadTableId,
                               "goto_table:" + std::to_string(*fm.instructions.goto_table) +
                                   " would not go forward from table " + std::to_string(r->table_id));
    for (const RulePtr& r : hits) {
      r->instructions = fm.instructions;
      r->modified_ms = now_ms;
      if (fm.flags & kFlagResetCounts) r->packet_count = r->byte_count = 0;
      if (res) res->modified.push_back(r);
    }
  } else {
    for (const RulePtr& r : hits) remove_rule(r, RemovedReason::kDelete, res);
  }
  if (!hits.empty()) version_++;
  return std::nullopt;
}

MaybeError Pipeline::group_mod(const GroupMod& gm, int64_t now_ms, FlowModResult* res) {
  groups_.validation = validation_;
  std::vector<uint32_t> deleted;
  if (MaybeError e = groups_.apply(gm, now_ms, &deleted)) return e;
  if (!deleted.empty()) {
    std::unordered_set<uint32_t> gone(deleted.begin(), deleted.end());
    std::vector<RulePtr> victims;
    for (FlowTable& t : tables_) {
      if (t.size() == 0) continue;
      t.for_each([&](const RulePtr& r) {
        bool uses = false;
        r->instructions.for_each_group([&](uint32_t id) { uses = uses || gone.count(id); });
        if (uses) victims.push_back(r);
      });
    }
    for (const RulePtr& r : victims) remove_rule(r, RemovedReason::kGroupDelete, res);
  }
  version_++;
  return std::nullopt;
}

MaybeError Pipeline::meter_mod(const MeterMod& mm, int64_t now_ms, MeterModResult* meters,
                               FlowModResult* res) {
  MeterModResult local;
  if (!meters) meters = &local;
  if (MaybeError e = meters_.apply(mm, now_ms, meters)) return e;
  if (!meters->deleted.empty()) {
    std::unordered_set<uint32_t> gone;
    for (const Meter& m : meters->deleted) gone.insert(m.id);
    std::vector<RulePtr> victims;
    for (FlowTable& t : tables_) {
      if (t.size() == 0) continue;
      t.for_each([&](const RulePtr& r) {
        if (r->instructions.meter && gone.count(*r->instructions.meter)) victims.push_back(r);
      });
    }
    for (const RulePtr& r : victims) remove_rule(r, RemovedReason::kDelete, res);
  }
  version_++;
  return std::nullopt;
}

uint32_t Pipeline::meter_flow_count(uint32_t meter_id) const {
  uint32_t n = 0;
  for (const FlowTable& t : tables_) {
    if (t.size() == 0) continue;
    t.for_each([&](const RulePtr& r) { n += r->instructions.meter == meter_id; });
  }
  return n;
}

std::vector<RemovedRule> Pipeline::expire(int64_t now_ms) {
  std::vector<RemovedRule> out;
  for (const RulePtr& r : timed_)
    if (auto why = r->expired(now_ms)) out.push_back({r, *why});
  for (const RemovedRule& x : out) {
    tables_[x.rule->table_id].remove(x.rule.get());
    timed_.erase(x.rule);
  }
  if (!out.empty()) version_++;
  return out;
}

}  // namespace dps::ofproto
