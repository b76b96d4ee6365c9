// xlate_ct.h - translation of the connection-tracking actions.
//
// What: ct(...) becomes the datapath's kCt action (zone, commit/force, the
//   mark and label exec() sets, the nat() request); ct(table=T) also gives it a recirculation
//   id, and the recirculated packet's miss is translated from table T of
//   the bridge that owns its in_port, with the ct fields in its key.
// Design: with zero metadata and registers the recirculation id names the
//   table and nothing else (kCtRecircBase | T). Otherwise the metadata and
//   registers are frozen with the table in the bridge's FrozenStates
//   (model/frozen_state.h) and the id names that entry, so table T sees
//   them again, as OVS's frozen state. The action set starts empty in
//   table T. Every megaflow matches recirc_id exactly, so a recirculated
//   packet never hits a first-pass megaflow.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>

#include "actions.h"
#include "flow_key.h"
#include "of_actions.h"

namespace dps::ofproto {

inline constexpr uint32_t kCtRecircBase = 0xc7000000u;
inline uint32_t ct_recirc_id(uint8_t table) { return kCtRecircBase | table; }
// The table a recirculation id continues in; nullopt when it is not ct's.
inline std::optional<uint8_t> ct_recirc_table(uint32_t id) {
  if ((id & 0xffffff00u) != kCtRecircBase) return std::nullopt;
  return static_cast<uint8_t>(id & 0xff);
}

// pop_mpls (or pop_pbb) to a payload the key did not parse, then a lookup
// in table T with nothing else to carry: the packet is classified again from
// table T (kMplsRecircBase | T), its key parsed anew; the same stateless
// naming as ct's. Anything more is a frozen continuation
// (model/frozen_state.h).
inline constexpr uint32_t kMplsRecircBase = 0xc8000000u;
inline uint32_t mpls_recirc_id(uint8_t table) { return kMplsRecircBase | table; }
inline std::optional<uint8_t> mpls_recirc_table(uint32_t id) {
  if ((id & 0xffffff00u) != kMplsRecircBase) return std::nullopt;
  return static_cast<uint8_t>(id & 0xff);
}

// The datapath arguments of ct(), with the zone and recirculation id the
// translation resolved (zone_src, frozen state).
datapath::DpCtArgs ct_dp_args(const ActCt& ct, uint16_t zone, uint32_t recirc_id);
// The kCtFlagNatted* of a ct() in `zone` on a packet whose key is `flow`:
// its +snat / +dnat when an earlier ct(nat) in the same zone set them. A
// recirculated pass adds ct_zone and those ct_state bits to `mask`, so the
// megaflow holds only packets the flags are right for.
uint8_t ct_natted_flags(const datapath::FlowKey& flow, uint16_t zone, datapath::FlowKey* mask);
// ct_clear: the packet is untracked again.
void ct_clear_fields(datapath::FlowKey* key);

}  // namespace dps::ofproto
