#include "xlate_ct.h"

#include <cstring>

namespace dps::ofproto {

datapath::DpCtArgs ct_dp_args(const ActCt& ct, uint16_t zone, uint32_t recirc_id) {
  datapath::DpCtArgs a;
  a.zone = zone;
  if (ct.commit) a.flags |= datapath::kCtFlagCommit;
  if (ct.force) a.flags |= datapath::kCtFlagForce;
  a.recirc_id = recirc_id;
  const CtExecEffect e = ct_exec_effect(ct);
  if (e.mark_mask) {
    a.flags |= datapath::kCtFlagMark;
    a.mark = e.mark;
    a.mark_mask = e.mark_mask;
  }
  for (uint8_t b : e.label_mask) {
    if (!b) continue;
    a.flags |= datapath::kCtFlagLabel;
    std::memcpy(a.label, e.label, 16);
    std::memcpy(a.label_mask, e.label_mask, 16);
    break;
  }
  if (ct.nat) {
    a.flags |= datapath::kCtFlagNat;
    a.nat = *ct.nat;
  }
  return a;
}

uint8_t ct_natted_flags(const datapath::FlowKey& flow, uint16_t zone, datapath::FlowKey* mask) {
  if (!flow.recirc_id) return 0;  // a first pass: never tracked, ct_state 0
  mask->ct_zone = 0xffff;
  mask->ct_state |= datapath::kCtFlagNatted;  // the same bits as +snat / +dnat
  return flow.ct_zone == zone ? flow.ct_state & datapath::kCtFlagNatted : 0;
}

void ct_clear_fields(datapath::FlowKey* key) {
  key->ct_state = 0;
  key->ct_zone = 0;
  key->ct_mark = 0;
  std::memset(key->ct_label, 0, sizeof key->ct_label);
}

}  // namespace dps::ofproto
