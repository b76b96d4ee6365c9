// of_actions.h - OpenFlow 1.3 actions and instructions as typed C++ values.
//
// What: OfAction is one OpenFlow action (output, group, set_field, push/pop
// VLAN, MPLS and PBB, TTL actions, set_queue); ActionList is an ordered list of
// them (apply-actions, a group bucket); ActionSet is the per-packet action
// set of write-actions/clear-actions; Instructions is the instruction set of
// one flow entry (meter, apply, clear, write, write-metadata, goto-table).
// validate_instructions() checks everything a flow-mod must check about them
// against the rule's match and table, with OpenFlow error codes.
//
// Design: std::variant of small structs, so xlate is a std::visit and the
// codec and the text parser build the same values. Reserved port and group
// numbers are the OpenFlow 1.3 ones (OFPP_*, OFPG_*), so they cross the wire
// unchanged. Instructions holds each instruction type at most once, which is
// what OpenFlow allows; their execution order is fixed by the spec (meter,
// apply, clear, write, write-metadata, goto), not by the order they arrived.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nat_range.h"
#include "of_error.h"
#include "of_match.h"

namespace dps::ofproto {

// ofp_port_no reserved values.
inline constexpr uint32_t kPortMax = 0xffffff00;       // OFPP_MAX: last physical port
inline constexpr uint32_t kPortInPort = 0xfffffff8;    // OFPP_IN_PORT
inline constexpr uint32_t kPortTable = 0xfffffff9;     // OFPP_TABLE (packet-out only)
inline constexpr uint32_t kPortNormal = 0xfffffffa;    // OFPP_NORMAL
inline constexpr uint32_t kPortFlood = 0xfffffffb;     // OFPP_FLOOD
inline constexpr uint32_t kPortAll = 0xfffffffc;       // OFPP_ALL
inline constexpr uint32_t kPortController = 0xfffffffd;  // OFPP_CONTROLLER
inline constexpr uint32_t kPortLocal = 0xfffffffe;     // OFPP_LOCAL
inline constexpr uint32_t kPortAny = 0xffffffff;       // OFPP_ANY: "no port" in filters

// A reserved port an output action may name (IN_PORT, TABLE, NORMAL, FLOOD,
// ALL, CONTROLLER, LOCAL; not ANY).
inline bool is_reserved_output(uint32_t port) {
  switch (port) {
    case kPortInPort:
    case kPortTable:
    case kPortNormal:
    case kPortFlood:
    case kPortAll:
    case kPortController:
    case kPortLocal: return true;
    default: return false;
  }
}

// ofp_group reserved values.
inline constexpr uint32_t kGroupMax = 0xffffff00;  // OFPG_MAX
inline constexpr uint32_t kGroupAll = 0xfffffffc;  // OFPG_ALL (group delete)
inline constexpr uint32_t kGroupAny = 0xffffffff;  // OFPG_ANY (filters)

// ofp_controller_max_len: send the whole packet, do not buffer.
inline constexpr uint16_t kControllerNoBuffer = 0xffff;

// OpenFlow tables 0..254; 255 (OFPTT_ALL) means "all tables" in requests.
inline constexpr unsigned kNumTables = 255;
inline constexpr uint8_t kTableAll = 0xff;

struct ActOutput {
  uint32_t port = 0;
  uint16_t max_len = kControllerNoBuffer;  // CONTROLLER only: bytes to send
  bool operator==(const ActOutput&) const = default;
};
struct ActGroup {
  uint32_t group_id = 0;
  bool operator==(const ActGroup&) const = default;
};
struct ActSetField {
  OxmField field = OxmField::kEthDst;
  FieldValue value;  // wire form
  bool operator==(const ActSetField&) const = default;
};
struct ActPushVlan {
  uint16_t ethertype = 0x8100;  // 0x8100 or 0x88a8
  bool operator==(const ActPushVlan&) const = default;
};
struct ActPopVlan {
  bool operator==(const ActPopVlan&) const = default;
};
struct ActPushMpls {
  uint16_t ethertype = 0x8847;  // 0x8847 or 0x8848
  bool operator==(const ActPushMpls&) const = default;
};
struct ActPopMpls {
  uint16_t ethertype = 0x0800;  // ethertype of the payload
  bool operator==(const ActPopMpls&) const = default;
};
// PBB (IEEE 802.1ah): push a backbone header (ethertype 0x88e7 and a new
// I-TAG) in front of the frame, or pop the outer one (datapath/actions.h).
struct ActPushPbb {
  uint16_t ethertype = 0x88e7;  // the only one
  bool operator==(const ActPushPbb&) const = default;
};
struct ActPopPbb {
  bool operator==(const ActPopPbb&) const = default;
};
struct ActSetMplsTtl {
  uint8_t ttl = 0;
  bool operator==(const ActSetMplsTtl&) const = default;
};
struct ActDecMplsTtl {
  bool operator==(const ActDecMplsTtl&) const = default;
};
struct ActSetNwTtl {
  uint8_t ttl = 0;
  bool operator==(const ActSetNwTtl&) const = default;
};
struct ActDecNwTtl {
  bool operator==(const ActDecNwTtl&) const = default;
};
struct ActCopyTtlOut {
  bool operator==(const ActCopyTtlOut&) const = default;
};
struct ActCopyTtlIn {
  bool operator==(const ActCopyTtlIn&) const = default;
};
struct ActSetQueue {
  uint32_t queue_id = 0;
  bool operator==(const ActSetQueue&) const = default;
};

// Nicira actions of stateful pipelines, as ovs-ofctl sends them.
// resubmit([port],[table]) (NXAST_RESUBMIT / NXAST_RESUBMIT_TABLE): looks
// the packet up again in `table` (kResubmitCurrentTable: the table of the
// rule running it) with in_port = `in_port` (kPortInPort: unchanged), runs
// the rule found, and continues with the next action. OpenFlow 1.3 port
// numbers (the wire's 16-bit OpenFlow 1.0 numbers converted).
inline constexpr uint8_t kResubmitCurrentTable = 0xff;
struct ActResubmit {
  uint32_t in_port = kPortInPort;
  uint8_t table = kResubmitCurrentTable;
  bool operator==(const ActResubmit&) const = default;
};
// load:VALUE->FIELD[ofs..ofs+nbits-1] (NXAST_REG_LOAD) on a register
// (reg0..15, xreg0..7); a masked set_field on a register arrives as this
// too, as ovs-ofctl encodes it. A whole-field load on any other field is a
// set_field (ActSetField).
struct ActRegLoad {
  OxmField dst = OxmField::kReg0;
  uint8_t ofs = 0;
  uint8_t nbits = 32;  // 1..64
  uint64_t value = 0;
  bool operator==(const ActRegLoad&) const = default;
};
// move:SRC[a..b]->DST[c..d] (NXAST_REG_MOVE): copies nbits bits. SRC is
// any match field but tun_metadata; DST a register, metadata, or a field
// set_field writes in the datapath (kDpSettableFields, not tunnel ones).
struct ActRegMove {
  OxmField src = OxmField::kReg0;
  OxmField dst = OxmField::kReg0;
  uint16_t src_ofs = 0, dst_ofs = 0;
  uint16_t nbits = 32;  // 1..128
  bool operator==(const ActRegMove&) const = default;
};
// note:XX.XX... (NXAST_NOTE): opaque bytes, no effect. Kept with the
// padding the wire gives them (length 6 + 8k), so it prints as OVS prints it.
struct ActNote {
  std::vector<uint8_t> bytes;
  bool operator==(const ActNote&) const = default;
};
// The bits [ofs, ofs + nbits) of a field value of `width` bytes (bit 0 the
// least significant), right-aligned in 16 bytes (nbits <= 128), and
// writing such bits into a value.
FieldValue field_bits(const FieldValue& v, unsigned width, unsigned ofs, unsigned nbits);
void set_field_bits(FieldValue* v, unsigned width, unsigned ofs, unsigned nbits, const FieldValue& bits);

// Connection tracking (Nicira NXAST_CT / NXAST_CT_CLEAR, as ovs-ofctl
// sends them): ct(commit, force, zone=N, table=T, exec(...)) and ct_clear.
// exec() holds what OVS allows there on a commit: set_field (OFPAT_SET_FIELD)
// or load (NXAST_REG_LOAD, bits ofs..ofs+nbits-1) on ct_mark or ct_label;
// each is kept in the form it came in, so it prints back as it was written.
// zone=NXM_NX_REGn[a..b] (zone_src set) takes the zone from those bits of
// a register at translation time (a 16-bit range, as OVS requires).
// nat(...) (NXAST_NAT nested first, as ovs-ofctl sends it) is kept apart
// from exec() as a base::NatRange. Not supported (refused with an
// OpenFlow error, never ignored): alg=, other nested actions.
inline constexpr uint8_t kCtNoTable = 0xff;  // NX_CT_RECIRC_NONE
struct CtExec {
  OxmField field = OxmField::kCtMark;  // kCtMark or kCtLabel
  bool load = false;                   // NXAST_REG_LOAD, else OFPAT_SET_FIELD
  uint8_t ofs = 0;                     // load: first bit (from the least significant)
  uint8_t nbits = 0;                   // load: 1..64 bits
  FieldValue value;                    // set_field: the field's value; load: from_u64(bits, 8)
  bool operator==(const CtExec&) const = default;
};
struct ActCt {
  bool commit = false;
  bool force = false;
  uint16_t zone = 0;
  std::optional<OxmField> zone_src;  // zone from a register's bits
  uint8_t zone_ofs = 0;              // zone_src: first bit (16 bits)
  uint8_t table = kCtNoTable;  // recirculate into this table with the ct fields set
  std::vector<CtExec> exec;
  std::optional<base::NatRange> nat;
  bool operator==(const ActCt&) const = default;
};
struct ActCtClear {
  bool operator==(const ActCtClear&) const = default;
};
// Per-flow sampling (Nicira NXAST_SAMPLE / SAMPLE2 / SAMPLE3, as ovs-ofctl
// sends them): sample(probability=P, collector_set_id=C, obs_domain_id=D,
// obs_point_id=O[, sampling_port=N][, ingress|egress]) copies P/65535 of
// the packets to the bridge's Flow_Sample_Collector_Set C (an IPFIX
// exporter). The datapath samples deterministically 1 in round(65535/P).
inline constexpr uint16_t kSamplePortNone = 0xffff;  // OFPP_NONE (16-bit, as on the wire)
enum class SampleDirection : uint8_t { kDefault = 0, kIngress = 1, kEgress = 2 };
struct ActSample {
  uint16_t probability = 0;  // 1..65535 (0 is refused)
  uint32_t collector_set_id = 0;
  uint32_t obs_domain_id = 0;
  uint32_t obs_point_id = 0;
  uint16_t sampling_port = kSamplePortNone;
  SampleDirection direction = SampleDirection::kDefault;
  bool operator==(const ActSample&) const = default;
};
// 1 in how many packets a sample() samples.
inline uint32_t sample_rate(uint16_t probability) {
  return probability ? (65535u + probability / 2) / probability : 0;
}

// What exec() does to the connection: mark and label value under mask
// (label in wire byte order).
struct CtExecEffect {
  uint32_t mark = 0, mark_mask = 0;
  uint8_t label[16] = {}, label_mask[16] = {};
};
CtExecEffect ct_exec_effect(const ActCt& ct);

using OfAction = std::variant<ActOutput, ActGroup, ActSetField, ActPushVlan, ActPopVlan,
                              ActPushMpls, ActPopMpls, ActSetMplsTtl, ActDecMplsTtl,
                              ActSetNwTtl, ActDecNwTtl, ActCopyTtlOut, ActCopyTtlIn,
                              ActSetQueue, ActCt, ActCtClear, ActResubmit, ActRegLoad,
                              ActRegMove, ActNote, ActSample, ActPushPbb, ActPopPbb>;
using ActionList = std::vector<OfAction>;

// The action set (OpenFlow 1.3 section 5.10): at most one action of each
// type (one set_field per field), executed in the spec's order when the
// pipeline ends: copy TTL in, pop, push-MPLS, push-VLAN, copy TTL out,
// decrement TTL, set (TTLs, fields), qos, group, output. When a group is in
// the set, the output is ignored.
class ActionSet {
 public:
  // write-actions: each action replaces the one of its type already present.
  void write(const ActionList& actions);
  void clear() { slots_.clear(); }
  bool empty() const { return slots_.empty(); }
  // The actions in execution order.
  ActionList ordered() const;
  bool operator==(const ActionSet&) const = default;

 private:
  std::vector<OfAction> slots_;  // unordered; one per type (per field for set_field)
};

struct WriteMetadata {
  uint64_t value = 0;
  uint64_t mask = 0;
  bool operator==(const WriteMetadata&) const = default;
};

struct Instructions {
  std::optional<uint32_t> meter;             // OFPIT_METER
  std::optional<ActionList> apply;           // OFPIT_APPLY_ACTIONS
  bool clear_actions = false;                // OFPIT_CLEAR_ACTIONS
  std::optional<ActionList> write;           // OFPIT_WRITE_ACTIONS
  std::optional<WriteMetadata> write_metadata;  // OFPIT_WRITE_METADATA
  std::optional<uint8_t> goto_table;         // OFPIT_GOTO_TABLE
  bool operator==(const Instructions&) const = default;

  // True when apply or write actions contain an output to port (for the
  // out_port filter of flow-mod delete and flow stats).
  bool outputs_to_port(uint32_t port) const;
  // True when apply or write actions contain a group action for group_id.
  bool outputs_to_group(uint32_t group_id) const;
  // Calls fn for every group id referenced (to check existence / delete).
  void for_each_group(const std::function<void(uint32_t)>& fn) const;
  bool empty() const {
    return !meter && !apply && !clear_actions && !write && !write_metadata && !goto_table;
  }
};

// What validation needs to know outside the rule itself.
struct ValidationContext {
  // True when group_id exists; null = any group id accepted.
  std::function<bool(uint32_t)> group_exists;
  // True when port (1..kPortMax) exists; null = any port accepted (ports
  // may be added later; OpenFlow allows rules for ports not yet present).
  std::function<bool(uint32_t)> port_exists;
  // True when meter_id exists; null = any accepted.
  std::function<bool(uint32_t)> meter_exists;
  bool packet_out = false;  // output:TABLE is allowed only in packet-out
  // Check set_field prerequisites against the match. Group buckets turn it
  // off: a group serves many flows, so (as in OVS) a set_field whose header
  // is absent is skipped per packet at translation instead.
  bool set_field_prereqs = true;
  // Refuse what the datapath cannot execute (dp_executes()): bad_action /
  // bad_type, or bad_set_type for a set_field. Off only where the OpenFlow
  // semantics alone are checked (the text parser's tests).
  bool datapath_check = true;
};

// What the datapath executes: the one table behind flow-mod, group-mod and
// packet-out validation (validate_actions with datapath_check) and the
// table-features and group-features replies. Everything else is refused
// when the controller sends it, never installed and then dropped per packet.
//
// OFPAT_* numbers: output, copy_ttl_out/in, set/dec_mpls_ttl, push/pop_vlan,
// push/pop_mpls, set_queue (accepted, no QoS queues: ignored), group,
// set_nw_ttl, dec_nw_ttl, set_field, push/pop_pbb.
inline constexpr uint16_t kDpActionTypes[] = {0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
// The OpenFlow-basic fields set_field writes. Not in_port/in_phy_port,
// ipv6_exthdr. (The
// NXM tunnel fields, tun_metadataN among them, are settable as well.)
inline constexpr OxmField kDpSettableFields[] = {
    OxmField::kMetadata,     OxmField::kEthDst,       OxmField::kEthSrc,       OxmField::kEthType,
    OxmField::kVlanVid,      OxmField::kVlanPcp,      OxmField::kIpDscp,       OxmField::kIpEcn,
    OxmField::kIpProto,      OxmField::kIpv4Src,      OxmField::kIpv4Dst,      OxmField::kTcpSrc,
    OxmField::kTcpDst,       OxmField::kUdpSrc,       OxmField::kUdpDst,       OxmField::kSctpSrc,
    OxmField::kSctpDst,      OxmField::kIcmpv4Type,   OxmField::kIcmpv4Code,   OxmField::kArpOp,
    OxmField::kArpSpa,       OxmField::kArpTpa,       OxmField::kArpSha,       OxmField::kArpTha,
    OxmField::kIpv6Src,      OxmField::kIpv6Dst,      OxmField::kIpv6Flabel,   OxmField::kIcmpv6Type,
    OxmField::kIcmpv6Code,   OxmField::kIpv6NdTarget, OxmField::kIpv6NdSll,    OxmField::kIpv6NdTll,
    OxmField::kMplsLabel,    OxmField::kMplsTc,       OxmField::kMplsBos,      OxmField::kPbbIsid,
    OxmField::kTunnelId,
};
// OFPAT_* number of an action.
uint16_t action_type(const OfAction& a);
// True when the datapath executes a (kDpActionTypes; for set_field, the
// field is in kDpSettableFields or is a tunnel field).
bool dp_executes(const OfAction& a);

// Checks one action list as it would run on packets matching `match`
// (set_field prerequisites must be guaranteed by the match or by earlier
// push actions: bad_action/match_inconsistent). Errors name the action.
MaybeError validate_actions(const ActionList& actions, const OfMatch& match,
                            const ValidationContext& ctx);
// Checks the instructions of a rule in table_id: goto-table must go forward
// to an existing table (bad_instruction/bad_table_id), write-metadata,
// meters, and every action list.
MaybeError validate_instructions(const Instructions& insts, const OfMatch& match,
                                 uint8_t table_id, const ValidationContext& ctx);

// A set_field on tun_metadataN against the switch's TLV table: not mapped
// is NXFMFC_INVALID_TLV_FIELD, a value wider than the mapping
// bad_action/bad_set_argument. No table (null), or another field: accepted.
MaybeError check_set_field_tlv(const ActSetField& s, const TunMetadataLayout* tlv);

// "output", "group", "set_field", ... for messages.
const char* action_name(const OfAction& a);

}  // namespace dps::ofproto
