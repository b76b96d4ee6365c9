#include "of_actions.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <type_traits>

namespace dps::ofproto {

namespace {

// Per OfAction alternative, in variant order: its name (messages), its
// OFPAT_* number and its execution rank in the action set (OpenFlow 1.3.5
// section 5.10: copy TTL in, pops, push-MPLS, push-PBB, push-VLAN, copy TTL
// out, decrement TTL, sets, qos, group, output).
struct ActionInfo {
  const char* name;
  uint16_t ofpat;
  int set_rank;
};
constexpr ActionInfo kActionInfo[] = {
    {"output", 0, 10},        // ActOutput
    {"group", 22, 9},         // ActGroup
    {"set_field", 25, 7},     // ActSetField
    {"push_vlan", 17, 4},     // ActPushVlan
    {"pop_vlan", 18, 1},      // ActPopVlan
    {"push_mpls", 19, 2},     // ActPushMpls
    {"pop_mpls", 20, 1},      // ActPopMpls
    {"set_mpls_ttl", 15, 7},  // ActSetMplsTtl
    {"dec_mpls_ttl", 16, 6},  // ActDecMplsTtl
    {"set_nw_ttl", 23, 7},    // ActSetNwTtl
    {"dec_ttl", 24, 6},       // ActDecNwTtl
    {"copy_ttl_out", 11, 5},  // ActCopyTtlOut
    {"copy_ttl_in", 12, 0},   // ActCopyTtlIn
    {"set_queue", 21, 8},     // ActSetQueue
    {"ct", 0xffff, 7},        // ActCt (NXAST_CT)
    {"ct_clear", 0xffff, 7},  // ActCtClear (NXAST_CT_CLEAR)
    {"resubmit", 0xffff, 7},  // ActResubmit (NXAST_RESUBMIT[_TABLE]); not in an action set
    {"load", 0xffff, 7},      // ActRegLoad (NXAST_REG_LOAD)
    {"move", 0xffff, 7},      // ActRegMove (NXAST_REG_MOVE)
    {"note", 0xffff, 7},      // ActNote (NXAST_NOTE); not in an action set
    {"sample", 0xffff, 7},    // ActSample (NXAST_SAMPLE, SAMPLE2, SAMPLE3)
    {"push_pbb", 26, 3},      // ActPushPbb
    {"pop_pbb", 27, 1},       // ActPopPbb
};
static_assert(std::size(kActionInfo) == std::variant_size_v<OfAction>);
static_assert(std::is_same_v<std::variant_alternative_t<13, OfAction>, ActSetQueue>);

int set_rank(const OfAction& a) { return kActionInfo[a.index()].set_rank; }

bool same_slot(const OfAction& a, const OfAction& b) {
  if (a.index() != b.index()) return false;
  if (auto* sa = std::get_if<ActSetField>(&a))
    return sa->field == std::get<ActSetField>(b).field;
  return true;
}

MaybeError bad_action(BadActionCode code, std::string msg) {
  return OfError::make(OfErrorType::kBadAction, code, std::move(msg));
}

// Checks the actions of one list in order, keeping track of what the packet
// is known to look like after each (state_: the match, then push/pop).
// Errors start with where(): "push_vlan (action 2): ...".
#define OF_CHECK(expr)                      \
  do {                                      \
    if (MaybeError e_ = (expr)) return e_;  \
  } while (0)

// Where move may write: registers, metadata, the datapath's set_field fields.
bool move_dst_ok(OxmField f) {
  if (is_register(f) || f == OxmField::kMetadata) return true;
  return f != OxmField::kTunnelId &&
         std::ranges::find(kDpSettableFields, f) != std::end(kDpSettableFields);
}

class ActionChecker {
 public:
  ActionChecker(const OfMatch& match, const ValidationContext& ctx) : state_(match), ctx_(ctx) {}

  MaybeError check(const OfAction& a) {
    action_ = &a;
    index_++;
    if (ctx_.datapath_check && !std::holds_alternative<ActSetField>(a) && !dp_executes(a))
      return fail(BadActionCode::kBadType, "not supported by the datapath");
    return std::visit(*this, a);
  }

  MaybeError operator()(const ActOutput& o) {
    if (o.port == 0 || o.port == kPortAny)
      return fail(BadActionCode::kBadOutPort,
                  "port " + std::to_string(o.port) + " is not a valid output port");
    if (o.port > kPortMax && !is_reserved_output(o.port))
      return fail(BadActionCode::kBadOutPort,
                  "port " + std::to_string(o.port) + " is not a valid reserved port");
    if (o.port == kPortTable && !ctx_.packet_out)
      return fail(BadActionCode::kBadOutPort, "output to TABLE is only valid in packet-out");
    if (o.port <= kPortMax && ctx_.port_exists && !ctx_.port_exists(o.port))
      return fail(BadActionCode::kBadOutPort,
                  "port " + std::to_string(o.port) + " does not exist");
    return std::nullopt;
  }

  MaybeError operator()(const ActGroup& g) {
    if (g.group_id > kGroupMax)
      return fail(BadActionCode::kBadOutGroup,
                  "group " + std::to_string(g.group_id) + " is a reserved group id");
    if (ctx_.group_exists && !ctx_.group_exists(g.group_id))
      return fail(BadActionCode::kBadOutGroup,
                  "group " + std::to_string(g.group_id) + " does not exist");
    return std::nullopt;
  }

  MaybeError operator()(const ActSetField& s) {
    if (s.field == OxmField::kInPhyPort || s.field == OxmField::kIpv6Exthdr ||
        s.field == OxmField::kInPort)
      return fail(BadActionCode::kBadSetType,
                  std::string("field ") + oxm_field_info(s.field).name + " cannot be set");
    if (ctx_.datapath_check && !dp_executes(s))
      return fail(BadActionCode::kBadSetType,
                  std::string("field ") + oxm_field_info(s.field).name + " is not supported by the datapath");
    // tun_metadata values were checked against the TLV table when decoded
    // or parsed (this check has no table); tunnel fields need no header.
    if (is_tun_metadata(s.field)) return std::nullopt;
    OfMatch probe;
    FieldValue v = s.value;
    if (s.field == OxmField::kVlanVid) {
      // Set-field carries the VID with or without OFPVID_PRESENT.
      v = FieldValue::from_u64(v.to_u64(2) & 0x1fff, 2);
    }
    if (MaybeError e = probe.set(s.field, v))
      return fail(BadActionCode::kBadSetArgument, e->message);
    if (!ctx_.set_field_prereqs) return std::nullopt;
    if (s.field == OxmField::kVlanVid) return check_tagged();
    return check_prerequisites(s.field);
  }

  MaybeError operator()(const ActPushVlan& p) {
    if (p.ethertype != 0x8100 && p.ethertype != 0x88a8)
      return fail(BadActionCode::kBadArgument, "ethertype must be 0x8100 or 0x88a8");
    state_.force(OxmField::kVlanVid, FieldValue::from_u64(kOfpVidPresent, 2));
    return std::nullopt;
  }

  MaybeError operator()(const ActPopVlan&) {
    // The packet may still carry an inner tag: nothing is known.
    state_.clear(OxmField::kVlanVid);
    state_.clear(OxmField::kVlanPcp);
    return std::nullopt;
  }

  MaybeError operator()(const ActPushMpls& p) {
    if (p.ethertype != 0x8847 && p.ethertype != 0x8848)
      return fail(BadActionCode::kBadArgument, "ethertype must be 0x8847 or 0x8848");
    state_ = OfMatch{};
    state_.force(OxmField::kEthType, FieldValue::from_u64(p.ethertype, 2));
    return std::nullopt;
  }

  MaybeError operator()(const ActPopMpls& p) {
    if (!state_.has(OxmField::kEthType) || !state_.is_exact(OxmField::kEthType))
      return fail(BadActionCode::kMatchInconsistent,
                  "requires eth_type=0x8847 or 0x8848 in the match");
    const FieldValue et = state_.value_of(OxmField::kEthType);
    if (et.to_u64(2) != 0x8847 && et.to_u64(2) != 0x8848)
      return fail(BadActionCode::kMatchInconsistent,
                  "packet is not MPLS (eth_type=" + format_field_value(OxmField::kEthType, et) +
                      ")");
    state_ = OfMatch{};
    state_.force(OxmField::kEthType, FieldValue::from_u64(p.ethertype, 2));
    return std::nullopt;
  }

  MaybeError operator()(const ActPushPbb& p) {
    if (p.ethertype != 0x88e7) return fail(BadActionCode::kBadArgument, "ethertype must be 0x88e7");
    // The outer frame is a PBB one; everything else is the customer frame's.
    state_ = OfMatch{};
    state_.force(OxmField::kEthType, FieldValue::from_u64(p.ethertype, 2));
    return std::nullopt;
  }

  MaybeError operator()(const ActPopPbb&) {
    if (!state_.has(OxmField::kEthType) || !state_.is_exact(OxmField::kEthType) ||
        state_.value_of(OxmField::kEthType).to_u64(2) != 0x88e7)
      return fail(BadActionCode::kMatchInconsistent, "requires eth_type=0x88e7 (PBB) in the match");
    state_ = OfMatch{};  // the customer frame: nothing known
    return std::nullopt;
  }

  // ct needs an IP packet; exec() only on a commit, as OVS.
  MaybeError operator()(const ActCt& c) {
    const bool ip = state_.has(OxmField::kEthType) && state_.is_exact(OxmField::kEthType) &&
                    (state_.value_of(OxmField::kEthType).to_u64(2) == 0x0800 ||
                     state_.value_of(OxmField::kEthType).to_u64(2) == 0x86dd);
    if (!ip) return fail(BadActionCode::kMatchInconsistent, "ct requires ip or ipv6 in the match");
    const uint64_t et = state_.value_of(OxmField::kEthType).to_u64(2);
    if (c.nat && c.nat->family && (c.nat->family == 4) != (et == 0x0800))
      return fail(BadActionCode::kMatchInconsistent,
                  std::string("nat: an IPv") + (c.nat->family == 4 ? "4" : "6") + " range needs " +
                      (c.nat->family == 4 ? "ip" : "ipv6") + " in the match");
    if (!c.exec.empty() && !c.commit)
      return fail(BadActionCode::kBadArgument, "exec() requires commit");
    if (c.table != kCtNoTable && c.table >= kNumTables)
      return fail(BadActionCode::kBadArgument, "invalid table " + std::to_string(c.table));
    if (c.zone_src && (!is_register(*c.zone_src) || c.zone_ofs + 16u > oxm_field_info(*c.zone_src).bits))
      return fail(BadActionCode::kBadArgument, "zone= takes 16 bits of a register");
    return std::nullopt;
  }

  MaybeError operator()(const ActResubmit& r) {
    if (r.in_port != kPortInPort && (r.in_port == 0 || (r.in_port > kPortMax && r.in_port != kPortLocal)))
      return fail(BadActionCode::kBadArgument, "in_port " + std::to_string(r.in_port) + " is not a valid port");
    return std::nullopt;
  }

  MaybeError operator()(const ActRegLoad& l) {
    if (!is_register(l.dst))
      return fail(BadActionCode::kBadArgument, std::string("load into ") + oxm_field_info(l.dst).name +
                                                   " bits is not supported (registers only)");
    const unsigned bits = oxm_field_info(l.dst).bits;
    if (l.nbits < 1 || l.nbits > 64 || l.ofs + l.nbits > bits)
      return fail(BadActionCode::kBadArgument, "bits " + std::to_string(l.ofs) + ".." +
                                                   std::to_string(l.ofs + l.nbits - 1) + " are outside " +
                                                   oxm_field_info(l.dst).name);
    if (l.nbits < 64 && (l.value >> l.nbits))
      return fail(BadActionCode::kBadArgument, "value does not fit in " + std::to_string(l.nbits) + " bits");
    return std::nullopt;
  }

  MaybeError operator()(const ActRegMove& m) {
    const OxmFieldInfo& si = oxm_field_info(m.src);
    const OxmFieldInfo& di = oxm_field_info(m.dst);
    if (is_tun_metadata(m.src) || is_tun_metadata(m.dst))
      return fail(BadActionCode::kBadArgument, "tun_metadata fields cannot be moved");
    if (!move_dst_ok(m.dst))
      return fail(BadActionCode::kBadSetType, std::string("field ") + di.name + " cannot be a move destination");
    if (m.nbits < 1 || m.src_ofs + m.nbits > si.width * 8u || m.dst_ofs + m.nbits > di.width * 8u)
      return fail(BadActionCode::kBadArgument, std::to_string(m.nbits) + " bits do not fit " + si.name +
                                                   " or " + di.name);
    for (OxmField f : {m.src, m.dst})
      if (!is_register(f) && f != OxmField::kMetadata) OF_CHECK(check_prerequisites(f));
    return std::nullopt;
  }

  // TTL actions, copy TTL, set_queue, ct_clear, note: nothing to check.
  template <class A>
  MaybeError operator()(const A&) {
    return std::nullopt;
  }

 private:
  // As Open vSwitch: rewriting the VID needs a tag to rewrite.
  MaybeError check_tagged() const {
    bool tagged = state_.has(OxmField::kVlanVid) &&
                  (state_.mask_of(OxmField::kVlanVid).to_u64(2) & kOfpVidPresent) &&
                  (state_.value_of(OxmField::kVlanVid).to_u64(2) & kOfpVidPresent);
    if (!tagged)
      return fail(BadActionCode::kMatchInconsistent,
                  "vlan_vid can only be set on a tagged packet (match a VLAN or push_vlan first)");
    return std::nullopt;
  }

  // The header a set_field writes must be known to be there.
  MaybeError check_prerequisites(OxmField f) const {
    if (state_.prerequisites_hold(f)) return std::nullopt;
    OfMatch tmp = state_;
    tmp.force(f, FieldValue{});
    MaybeError pe = tmp.check_prerequisites();
    if (pe) return fail(BadActionCode::kMatchInconsistent, pe->message);
    return fail(BadActionCode::kMatchInconsistent,
                std::string(oxm_field_info(f).name) + " prerequisites are not met by the match");
  }

  // "set_field (action 3): <m>": the action's name and position come first.
  MaybeError fail(BadActionCode code, const std::string& m) const {
    return bad_action(code, std::string(action_name(*action_)) + " (action " +
                                std::to_string(index_) + "): " + m);
  }

  OfMatch state_;  // what the packet is known to look like here
  const ValidationContext& ctx_;
  const OfAction* action_ = nullptr;
  unsigned index_ = 0;
};

}  // namespace

const char* action_name(const OfAction& a) { return kActionInfo[a.index()].name; }

uint16_t action_type(const OfAction& a) { return kActionInfo[a.index()].ofpat; }

bool dp_executes(const OfAction& a) {
  if (action_type(a) == 0xffff) return true;  // Nicira: ct, ct_clear, resubmit, load, move, note
  if (std::ranges::find(kDpActionTypes, action_type(a)) == std::end(kDpActionTypes)) return false;
  const auto* s = std::get_if<ActSetField>(&a);
  return !s || is_tunnel_field(s->field) || is_register(s->field) ||
         std::ranges::find(kDpSettableFields, s->field) != std::end(kDpSettableFields);
}

namespace {

// Writes bits [ofs, ofs + n) of a big-endian field of `bytes` bytes.
void put_bits(uint8_t* v, uint8_t* m, unsigned bytes, unsigned ofs, unsigned n, uint64_t bits) {
  for (unsigned i = 0; i < n; i++) {
    const unsigned b = ofs + i;
    if (b >= bytes * 8) break;
    uint8_t& vb = v[bytes - 1 - b / 8];
    uint8_t& mb = m[bytes - 1 - b / 8];
    const uint8_t bit = static_cast<uint8_t>(1u << (b % 8));
    mb |= bit;
    vb = static_cast<uint8_t>((bits >> i) & 1 ? vb | bit : vb & ~bit);
  }
}

}  // namespace

FieldValue field_bits(const FieldValue& v, unsigned width, unsigned ofs, unsigned nbits) {
  FieldValue out;
  for (unsigned i = 0; i < nbits && ofs + i < width * 8; i++) {
    const unsigned b = ofs + i;
    if ((v.bytes[width - 1 - b / 8] >> (b % 8)) & 1) out.bytes[15 - i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  }
  return out;
}

void set_field_bits(FieldValue* v, unsigned width, unsigned ofs, unsigned nbits, const FieldValue& bits) {
  for (unsigned i = 0; i < nbits && ofs + i < width * 8; i++) {
    const unsigned b = ofs + i;
    const bool on = (bits.bytes[15 - i / 8] >> (i % 8)) & 1;
    uint8_t& byte = v->bytes[width - 1 - b / 8];
    const uint8_t bit = static_cast<uint8_t>(1u << (b % 8));
    byte = static_cast<uint8_t>(on ? byte | bit : byte & ~bit);
  }
}

CtExecEffect ct_exec_effect(const ActCt& ct) {
  CtExecEffect e;
  uint8_t mark[4] = {}, mark_mask[4] = {};
  for (const CtExec& x : ct.exec) {
    const bool label = x.field == OxmField::kCtLabel;
    uint8_t* v = label ? e.label : mark;
    uint8_t* m = label ? e.label_mask : mark_mask;
    const unsigned bytes = label ? 16 : 4;
    if (x.load) {
      put_bits(v, m, bytes, x.ofs, x.nbits, x.value.to_u64(8));
    } else {
      std::memcpy(v, x.value.bytes.data(), bytes);
      std::memset(m, 0xff, bytes);
    }
  }
  for (unsigned i = 0; i < 4; i++) {
    e.mark = e.mark << 8 | mark[i];
    e.mark_mask = e.mark_mask << 8 | mark_mask[i];
  }
  return e;
}

void ActionSet::write(const ActionList& actions) {
  for (const OfAction& a : actions) {
    auto it = std::find_if(slots_.begin(), slots_.end(),
                           [&](const OfAction& s) { return same_slot(s, a); });
    if (it != slots_.end())
      *it = a;
    else
      slots_.push_back(a);
  }
}

ActionList ActionSet::ordered() const {
  ActionList out(slots_.begin(), slots_.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const OfAction& a, const OfAction& b) { return set_rank(a) < set_rank(b); });
  bool has_group = std::any_of(out.begin(), out.end(), [](const OfAction& a) {
    return std::holds_alternative<ActGroup>(a);
  });
  if (has_group)
    std::erase_if(out, [](const OfAction& a) { return std::holds_alternative<ActOutput>(a); });
  return out;
}

static bool list_has(const std::optional<ActionList>& l, const std::function<bool(const OfAction&)>& p) {
  return l && std::any_of(l->begin(), l->end(), p);
}

bool Instructions::outputs_to_port(uint32_t port) const {
  auto p = [port](const OfAction& a) {
    auto* o = std::get_if<ActOutput>(&a);
    return o && o->port == port;
  };
  return list_has(apply, p) || list_has(write, p);
}

bool Instructions::outputs_to_group(uint32_t group_id) const {
  auto p = [group_id](const OfAction& a) {
    auto* g = std::get_if<ActGroup>(&a);
    return g && g->group_id == group_id;
  };
  return list_has(apply, p) || list_has(write, p);
}

void Instructions::for_each_group(const std::function<void(uint32_t)>& fn) const {
  for (const auto* l : {&apply, &write})
    if (*l)
      for (const OfAction& a : **l)
        if (auto* g = std::get_if<ActGroup>(&a)) fn(g->group_id);
}

MaybeError validate_actions(const ActionList& actions, const OfMatch& match,
                            const ValidationContext& ctx) {
  ActionChecker checker(match, ctx);
  for (const OfAction& a : actions)
    if (MaybeError e = checker.check(a)) return e;
  return std::nullopt;
}

MaybeError validate_instructions(const Instructions& insts, const OfMatch& match,
                                 uint8_t table_id, const ValidationContext& ctx) {
  if (insts.goto_table) {
    uint8_t t = *insts.goto_table;
    if (t <= table_id)
      return OfError::make(OfErrorType::kBadInstruction, BadInstructionCode::kBadTableId,
                           "goto_table:" + std::to_string(t) + " in table " + std::to_string(table_id) +
                               " must go to a later table");
    if (t >= kNumTables)
      return OfError::make(OfErrorType::kBadInstruction, BadInstructionCode::kBadTableId,
                           "goto_table:" + std::to_string(t) + " is past the last table (" +
                               std::to_string(kNumTables - 1) + ")");
  }
  if (insts.meter && (*insts.meter == 0 || (ctx.meter_exists && !ctx.meter_exists(*insts.meter))))
    return OfError::make(OfErrorType::kMeterModFailed, MeterModFailedCode::kUnknownMeter,
                         "meter:" + std::to_string(*insts.meter) + " does not exist");
  if (insts.write_metadata && (insts.write_metadata->value & ~insts.write_metadata->mask))
    return OfError::make(OfErrorType::kBadInstruction, BadInstructionCode::kUnsupMetadata,
                         "write_metadata value has bits outside its mask");
  if (insts.apply)
    if (MaybeError e = validate_actions(*insts.apply, match, ctx)) {
      e->message = "apply_actions: " + e->message;
      return e;
    }
  if (insts.write) {
    for (const OfAction& a : *insts.write)
      if (std::holds_alternative<ActResubmit>(a) || std::holds_alternative<ActNote>(a) ||
          std::holds_alternative<ActRegLoad>(a) || std::holds_alternative<ActRegMove>(a))
        return bad_action(BadActionCode::kUnsupportedOrder,
                          std::string("write_actions: ") + action_name(a) + " cannot be in an action set");
    // Action-set actions run after all apply-actions; validate them against
    // the match (conservative: the packet may have been rewritten).
    if (MaybeError e = validate_actions(*insts.write, match, ctx)) {
      e->message = "write_actions: " + e->message;
      return e;
    }
  }
  return std::nullopt;
}

MaybeError check_set_field_tlv(const ActSetField& s, const TunMetadataLayout* tlv) {
  if (!tlv || !is_tun_metadata(s.field)) return std::nullopt;
  const char* name = oxm_field_info(s.field).name;
  const unsigned idx = tun_metadata_index(s.field);
  if (!tlv->mapped(idx))
    return OfError::nx(NxErrorCode::kInvalidTlvField,
                       std::string("set_field: ") + name +
                           " is not mapped to a Geneve option in the TLV table (ovs-ofctl add-tlv-map)");
  if (field_value_len(s.field, s.value) > tlv->loc[idx].len)
    return bad_action(BadActionCode::kBadSetArgument,
                      std::string("set_field ") + name + " value " + format_field_value(s.field, s.value) +
                          " is wider than the " + std::to_string(tlv->loc[idx].len) + " bytes of its TLV mapping");
  return std::nullopt;
}

}  // namespace dps::ofproto
