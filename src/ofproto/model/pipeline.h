// pipeline.h - the OpenFlow tables and groups of one bridge.
//
// What: Pipeline holds tables 0..254 and the group table, applies flow-mods
// and group-mods with OpenFlow 1.3 semantics (add with overlap check and
// replace-identical, modify / modify-strict, delete / delete-strict with
// cookie/cookie_mask and out_port/out_group filters, table-miss through the
// table config), expires rules by idle/hard timeout on an injected clock,
// and reports which rules each change touched so the revalidator can find
// the megaflows affected.
//
// Design: every call that changes state validates everything first and
// changes nothing when it fails (one OfError, naming the problem). version()
// increases on every successful change, so a translation can tell that it
// ran against an older rule set. Rule ids are unique for the life of the
// pipeline. Rules with a timeout are also kept in a side set so expire()
// costs O(rules with timeouts), not O(all rules).
//
// Thread-safety: owned by the ofproto thread.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <utility>
#include <vector>

#include "flow_table.h"
#include "group_table.h"
#include "meter_table.h"
#include "of_rule.h"

namespace dps::ofproto {

struct RemovedRule {
  RulePtr rule;
  RemovedReason reason;
};

// What one flow-mod or group-mod changed.
struct FlowModResult {
  std::vector<RulePtr> added;
  std::vector<RulePtr> modified;  // instructions replaced in place
  std::vector<RemovedRule> removed;  // incl. a rule replaced by an identical add
};

class Pipeline {
 public:
  Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  Pipeline(Pipeline&&) = default;  // no self-pointers are kept between calls
  Pipeline& operator=(Pipeline&&) = default;

  FlowTable& table(uint8_t id) { return tables_[id]; }
  const FlowTable& table(uint8_t id) const { return tables_[id]; }
  GroupTable& groups() { return groups_; }
  const GroupTable& groups() const { return groups_; }
  MeterTable& meters() { return meters_; }
  const MeterTable& meters() const { return meters_; }

  // Applies a flow-mod. Errors: bad_match/* (prerequisites), bad_action/*,
  // bad_instruction/* (validate_instructions), flow_mod_failed/bad_table_id
  // (add to OFPTT_ALL), overlap, table_full, bad_command.
  MaybeError flow_mod(const FlowMod& fm, int64_t now_ms, FlowModResult* result = nullptr);
  // Applies a group-mod; deleting a group also deletes the rules that use it
  // (reason group_delete, reported in *result).
  MaybeError group_mod(const GroupMod& gm, int64_t now_ms, FlowModResult* result = nullptr);
  // Applies a meter-mod (MeterTable::apply); deleting a meter also deletes
  // the rules that use it (reason delete; OpenFlow 1.3 has no meter_delete
  // reason), reported in *result. *meters says what to push to the datapath.
  MaybeError meter_mod(const MeterMod& mm, int64_t now_ms, MeterModResult* meters,
                       FlowModResult* result = nullptr);
  // Rules whose instructions name meter_id (METER multipart flow_count).
  uint32_t meter_flow_count(uint32_t meter_id) const;
  // Removes rules whose idle or hard timeout passed at now_ms.
  std::vector<RemovedRule> expire(int64_t now_ms);

  size_t rule_count() const;
  uint64_t version() const { return version_; }
  // Ports and meters known to the bridge, for validation (null = accept any).
  ValidationContext& validation() { return validation_; }
  // validation() with the groups and meters that exist: what flow-mods are
  // checked with (packet-outs too).
  ValidationContext context() const;

 private:
  bool cookie_ok(const FlowMod& fm, const Rule& r) const {
    return (r.cookie & fm.cookie_mask) == (fm.cookie & fm.cookie_mask);
  }
  bool out_ok(const FlowMod& fm, const Rule& r) const;
  void remove_rule(const RulePtr& r, RemovedReason why, FlowModResult* res);
  MaybeError add(const FlowMod& fm, int64_t now_ms, FlowModResult* res);

  std::vector<FlowTable> tables_;
  GroupTable groups_;
  MeterTable meters_;
  ValidationContext validation_;
  std::unordered_set<RulePtr> timed_;  // rules with idle or hard timeout
  uint64_t next_rule_id_ = 1;
  uint64_t version_ = 0;
};

}  // namespace dps::ofproto
