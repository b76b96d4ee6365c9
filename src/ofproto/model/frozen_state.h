// frozen_state.h - the pipeline state a recirculation carries.
//
// What: FrozenStates interns the OpenFlow state a recirculated packet must
// resume with (OVS's frozen_state in ofproto-dpif-rid.c). Two kinds:
// - ct(table=T): the table, the metadata and the registers reg0..15; the
//   action set starts empty in table T.
// - a continuation (translation froze after pop_mpls, xlate.cc): the
//   rest of the frozen rule's instructions (`cont`: its remaining apply
//   actions, then its clear / write / write_metadata / goto_table), the
//   action set, metadata, registers, the patch ports crossed from the
//   entry bridge (the bridge the rest runs in), and the frozen rule's
//   table and cookie (packet-ins of the rest report them).
// intern() gives each distinct state one recirculation id; find() resolves
// an id when the recirculated packet misses.
// Design: this state is translation-time state, never in the datapath key;
// the recirculation id stands for it, and every megaflow matches recirc_id
// exactly, so a megaflow of the second pass is specific to one frozen
// state. Ids are kFrozenRecircBase + index, never reused (a revalidated
// megaflow resolves its id again); at most kMaxFrozen states per bridge:
// past that intern() returns nullopt and the translation fails (a counted
// drop). The index is a hash of the state's text forms to candidate ids,
// compared whole. Zero metadata and registers after ct need no entry
// (xlate_ct.h gives them the table's fixed id); so does a continuation
// that is only a lookup in table T with nothing else (mpls_recirc_id).
// Patch ports are named by port number, not bridge pointer: a removed
// bridge or port is found missing at resume (a translation error).
// Thread-safety: owned by a Bridge; ofproto thread only (xlate).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "flow_parser.h"
#include "of_actions.h"
#include "of_match.h"

namespace dps::ofproto {

inline constexpr uint32_t kFrozenRecircBase = 0xc6000000u;
inline constexpr uint32_t kMaxFrozen = 65536;

struct FrozenState {
  uint8_t table = 0;  // ct: the table to continue in; continuation: the frozen rule's table
  uint64_t metadata = 0;
  uint32_t regs[kNumRegs] = {};
  bool continuation = false;
  Instructions cont;                  // continuation: what runs first (never a meter)
  ActionSet action_set;               // continuation: the action set as frozen
  std::vector<uint32_t> patch_path;   // continuation: patch ports crossed, from the entry bridge
  uint64_t cookie = 0;                // continuation: the frozen rule's cookie
  bool table_miss = false;            // continuation: the frozen rule is a table-miss entry
  bool operator==(const FrozenState&) const = default;
};

class FrozenStates {
 public:
  std::optional<uint32_t> intern(const FrozenState& s) {
    const size_t h = hash(s);
    auto [lo, hi] = index_.equal_range(h);
    for (auto it = lo; it != hi; ++it)
      if (states_[it->second - kFrozenRecircBase] == s) return it->second;
    if (states_.size() >= kMaxFrozen) return std::nullopt;
    const uint32_t id = kFrozenRecircBase + static_cast<uint32_t>(states_.size());
    states_.push_back(s);
    index_.emplace(h, id);
    return id;
  }
  const FrozenState* find(uint32_t id) const {
    if (id < kFrozenRecircBase || id - kFrozenRecircBase >= states_.size()) return nullptr;
    return &states_[id - kFrozenRecircBase];
  }
  size_t size() const { return states_.size(); }

 private:
  static size_t hash(const FrozenState& s) {
    std::string k(reinterpret_cast<const char*>(s.regs), sizeof s.regs);
    k.append(reinterpret_cast<const char*>(&s.metadata), sizeof s.metadata);
    k.append(reinterpret_cast<const char*>(&s.cookie), sizeof s.cookie);
    k.push_back(static_cast<char>(s.table));
    k.push_back(static_cast<char>(s.continuation | s.table_miss << 1));
    for (uint32_t p : s.patch_path) k.append(reinterpret_cast<const char*>(&p), sizeof p);
    if (s.continuation) k += format_instructions(s.cont) + "|" + format_actions(s.action_set.ordered());
    return std::hash<std::string>{}(k);
  }

  std::unordered_multimap<size_t, uint32_t> index_;
  std::vector<FrozenState> states_;
};

}  // namespace dps::ofproto
