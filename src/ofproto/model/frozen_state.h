// frozen_state.h - the pipeline state a ct(table=T) recirculation carries.
//
// What: FrozenStates interns the OpenFlow state a recirculated packet must
// resume with: the table, the metadata and the registers reg0..15 (OVS's
// frozen_state in ofproto-dpif-rid.c, without the action set). intern()
// gives each distinct state one recirculation id; find() resolves an id
// when the recirculated packet misses.
// Design: registers and metadata are translation-time state, never in the
// datapath key; the recirculation id stands for them, and every megaflow
// matches recirc_id exactly, so a megaflow of the second pass is specific
// to one frozen state. Ids are kFrozenRecircBase + index, never reused
// (a revalidated megaflow resolves its id again); at most kMaxFrozen states
// per bridge: past that intern() returns nullopt and the translation fails
// (a counted drop). Zero metadata and registers need no entry (xlate_ct.h
// gives them the table's fixed id).
// Thread-safety: owned by a Bridge; ofproto thread only (xlate).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "of_match.h"

namespace dps::ofproto {

inline constexpr uint32_t kFrozenRecircBase = 0xc6000000u;
inline constexpr uint32_t kMaxFrozen = 65536;

struct FrozenState {
  uint8_t table = 0;
  uint64_t metadata = 0;
  uint32_t regs[kNumRegs] = {};
  bool operator<(const FrozenState& o) const {
    if (table != o.table) return table < o.table;
    if (metadata != o.metadata) return metadata < o.metadata;
    return std::memcmp(regs, o.regs, sizeof regs) < 0;
  }
};

class FrozenStates {
 public:
  std::optional<uint32_t> intern(const FrozenState& s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    if (states_.size() >= kMaxFrozen) return std::nullopt;
    const uint32_t id = kFrozenRecircBase + static_cast<uint32_t>(states_.size());
    states_.push_back(s);
    ids_.emplace(s, id);
    return id;
  }
  const FrozenState* find(uint32_t id) const {
    if (id < kFrozenRecircBase || id - kFrozenRecircBase >= states_.size()) return nullptr;
    return &states_[id - kFrozenRecircBase];
  }
  size_t size() const { return states_.size(); }

 private:
  std::map<FrozenState, uint32_t> ids_;
  std::vector<FrozenState> states_;
};

}  // namespace dps::ofproto
