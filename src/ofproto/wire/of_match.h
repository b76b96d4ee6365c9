// of_match.h - the OpenFlow 1.3 match: value + mask over every OXM field,
// plus the Nicira (NXM_1 class) tunnel fields ovs-ofctl sends inside OXM.
//
// What: OfKey is what the OpenFlow pipeline looks up: the datapath FlowKey
// plus the pipeline-only fields that a datapath packet does not carry
// (metadata, in_phy_port, registers). OfMatch is a match over the OXM fields
// of OpenFlow 1.3 (OFPXMT_OFB_*) and the tunnel fields of Open vSwitch
// (tun_src/tun_dst, tun_ipv6_src/dst, tun_flags, tun_metadata0..63), stored
// as value/mask in OfKey layout, with the set of fields it was built from.
// It checks OpenFlow prerequisites with errors that name the field and the
// missing prerequisite, converts to and from FlowKey/FlowMask, and matches
// an OfKey while recording the bits it looked at (for megaflow wildcards).
//
// Design:
//  - Value/mask live in key space (OfKey layout, network byte order for the
//    FlowKey part, exactly the datapath encoding of flow_key_layout.h), so matching
//    is (key & mask) == value word by word and a classifier subtable is "all
//    rules with this mask". Field-by-field access (set/get) translates OXM
//    wire values to key bits:
//      vlan_vid  -> vlan_tci & 0x1fff (OFPVID_PRESENT is the CFI bit 0x1000,
//                   so vlan_vid=0 exact = untagged, 0x1000/0x1000 = tagged)
//      vlan_pcp  -> vlan_tci & 0xe000
//      ip_dscp   -> nw_tos >> 2, ip_ecn -> nw_tos & 3
//      ip_proto and arp_op (low byte) -> nw_proto
//      ipv4_src/dst and arp_spa/tpa -> nw_src/nw_dst
//      tcp/udp/sctp ports, icmpv4/v6 type/code -> tp_src/tp_dst
//      arp_sha/tha and ipv6_nd_sll/tll -> arp_sha/arp_tha
//      mpls_label/tc/bos -> bits of mpls_lse
//      pbb_isid  -> ipv6_label & 0xffffff (a PBB frame's I-SID; the
//                   eth_type prerequisites 0x88e7 / 0x86dd tell it from
//                   ipv6_label, flow_key_layout.h)
//      tunnel_id (tun_id) -> tun_id (64-bit network order, OVS semantics)
//      tun_src/dst, tun_ipv6_src/dst -> tun_ipv4_*/tun_ipv6_*
//      tun_flags -> tun_flags & kTunFlagOam (the only OpenFlow-visible bit)
//      tun_metadataN -> tun_opts[loc.offset .. +loc.len) and bit N of
//                   tun_md_present (value and mask: a match on the field
//                   also requires the option to be present, as in OVS)
//    Fields that share key bits are told apart by their prerequisites
//    (eth_type, ip_proto), which is why prerequisites are checked.
//  - tun_metadataN is variable-length: where it lives in tun_opts, and how
//    long it is, is the TLV table's mapping (TunMetadataLayout, kept by the
//    model's TlvTable). A FieldValue holds it right-aligned (the last
//    loc.len bytes of its kFieldValueMax), like OVS's mf_value; OfMatch
//    remembers the placement of each tun_metadata field it has, so it
//    encodes and prints itself without the table.
//  - in_port in an OfKey/OfMatch is the OpenFlow port number. The datapath
//    FlowKey carries the datapath port number; translating between the two
//    is the caller's (xlate's) job: it is a 1:1 map per bridge, so the mask
//    carries over unchanged.
//  - Key bits that no field covers (nw_frag, nw_ttl, tcp_flags, vlan_tci2,
//    the MPLS TTL, recirculation and conntrack words, tun_tos/ttl/tp_dst,
//    the datapath-only tun_flags bits) are never set in an OfMatch mask;
//    from_flow() drops them.
//  - Equality of two matches is equality of value and mask; the field set is
//    bookkeeping for prerequisites and formatting.
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "flow_key_layout.h"
#include "of_error.h"

namespace dps::ofproto {

using datapath::FlowKey;
using datapath::FlowMask;

// OpenFlow 1.3 OXM basic-class field numbers (OFPXMT_OFB_*), so the wire
// codec maps oxm_field directly: static_cast<OxmField>(oxm_field).
enum class OxmField : uint8_t {
  kInPort = 0,
  kInPhyPort = 1,
  kMetadata = 2,
  kEthDst = 3,
  kEthSrc = 4,
  kEthType = 5,
  kVlanVid = 6,
  kVlanPcp = 7,
  kIpDscp = 8,
  kIpEcn = 9,
  kIpProto = 10,
  kIpv4Src = 11,
  kIpv4Dst = 12,
  kTcpSrc = 13,
  kTcpDst = 14,
  kUdpSrc = 15,
  kUdpDst = 16,
  kSctpSrc = 17,
  kSctpDst = 18,
  kIcmpv4Type = 19,
  kIcmpv4Code = 20,
  kArpOp = 21,
  kArpSpa = 22,
  kArpTpa = 23,
  kArpSha = 24,
  kArpTha = 25,
  kIpv6Src = 26,
  kIpv6Dst = 27,
  kIpv6Flabel = 28,
  kIcmpv6Type = 29,
  kIcmpv6Code = 30,
  kIpv6NdTarget = 31,
  kIpv6NdSll = 32,
  kIpv6NdTll = 33,
  kMplsLabel = 34,
  kMplsTc = 35,
  kMplsBos = 36,
  kPbbIsid = 37,
  kTunnelId = 38,
  kIpv6Exthdr = 39,
  // Open vSwitch's tunnel fields (NXM_1 class inside OXM); not OFB numbers.
  kTunIpv4Src = 40,
  kTunIpv4Dst = 41,
  kTunIpv6Src = 42,
  kTunIpv6Dst = 43,
  kTunFlags = 44,
  kTunMetadata0 = 45,  // .. kTunMetadata0 + 63
  // Open vSwitch's connection-tracking fields (NXM_1 class inside OXM).
  kCtState = 109,
  kCtZone = 110,
  kCtMark = 111,
  kCtLabel = 112,
  // Open vSwitch's registers: reg0..15 (NXM_1 fields 0..15, 32 bits) and
  // xreg0..7 (OFPXMC_PACKET_REGS 0x8001 fields 0..7, 64 bits: xregN is
  // reg2N in its upper half and reg2N+1 in its lower half, as in OVS).
  // Pipeline state, never in the datapath key (PipelineFields::regs).
  kReg0 = 113,   // .. kReg0 + 15
  kXreg0 = 129,  // .. kXreg0 + 7
};
// OFPXMT_OFB_* of OpenFlow 1.3: fields 0..kNumOxmFields-1 (loops over the
// header-rewriting fields use this bound).
inline constexpr unsigned kNumOxmFields = 40;
inline constexpr unsigned kNumTunMetadata = 64;
inline constexpr unsigned kNumRegs = 16;
inline constexpr unsigned kNumXregs = 8;
// Every match field: the OFB ones, the tunnel ones, the conntrack ones,
// the registers.
inline constexpr unsigned kNumMatchFields = 45 + kNumTunMetadata + 4 + kNumRegs + kNumXregs;
inline constexpr OxmField reg_field(unsigned n) {
  return static_cast<OxmField>(static_cast<unsigned>(OxmField::kReg0) + n);
}
inline constexpr OxmField xreg_field(unsigned n) {
  return static_cast<OxmField>(static_cast<unsigned>(OxmField::kXreg0) + n);
}
inline constexpr bool is_reg(OxmField f) {
  return static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kReg0) &&
         static_cast<unsigned>(f) < static_cast<unsigned>(OxmField::kReg0) + kNumRegs;
}
inline constexpr bool is_xreg(OxmField f) {
  return static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kXreg0) &&
         static_cast<unsigned>(f) < static_cast<unsigned>(OxmField::kXreg0) + kNumXregs;
}
// reg0..15 or xreg0..7: pipeline registers.
inline constexpr bool is_register(OxmField f) { return is_reg(f) || is_xreg(f); }
inline constexpr unsigned reg_index(OxmField f) {
  return static_cast<unsigned>(f) - static_cast<unsigned>(is_reg(f) ? OxmField::kReg0 : OxmField::kXreg0);
}
inline constexpr OxmField tun_metadata_field(unsigned index) {
  return static_cast<OxmField>(static_cast<unsigned>(OxmField::kTunMetadata0) + index);
}
inline constexpr bool is_tun_metadata(OxmField f) {
  return static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kTunMetadata0) &&
         static_cast<unsigned>(f) < static_cast<unsigned>(OxmField::kCtState);
}
// ct_state, ct_zone, ct_mark, ct_label: FlowKey words 15..17.
inline constexpr bool is_ct_field(OxmField f) {
  return static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kCtState) &&
         static_cast<unsigned>(f) <= static_cast<unsigned>(OxmField::kCtLabel);
}
inline constexpr unsigned tun_metadata_index(OxmField f) {
  return static_cast<unsigned>(f) - static_cast<unsigned>(OxmField::kTunMetadata0);
}
// True for the fields that live in the tunnel words of the key.
inline constexpr bool is_tunnel_field(OxmField f) {
  return f == OxmField::kTunnelId ||
         (static_cast<unsigned>(f) >= static_cast<unsigned>(OxmField::kTunIpv4Src) &&
          static_cast<unsigned>(f) < static_cast<unsigned>(OxmField::kCtState));
}
inline constexpr uint16_t kOxmClassOpenflowBasic = 0x8000;  // OFPXMC_OPENFLOW_BASIC
inline constexpr uint16_t kOxmClassNxm1 = 0x0001;           // OFPXMC_NXM_1 (Nicira)
inline constexpr uint16_t kOxmClassPacketRegs = 0x8001;     // OFPXMC_PACKET_REGS (xregN)
inline constexpr uint16_t kOfpVidPresent = 0x1000;        // OFPVID_PRESENT
inline constexpr uint16_t kOfpVidNone = 0x0000;           // OFPVID_NONE

// Bytes a FieldValue holds: the widest field (tun_metadataN can be as wide
// as FlowKey::tun_opts).
inline constexpr unsigned kFieldValueMax = datapath::kTunOptsMax;

// Static description of one match field.
struct OxmFieldInfo {
  OxmField field;
  const char* name;       // OXM name as ovs-ofctl prints it: "eth_src", "ipv4_dst", "tun_src"
  uint8_t width;          // bytes on the wire (oxm_length without mask); tun_metadata:
                          // kFieldValueMax (its wire length varies)
  uint16_t bits;          // significant bits (vlan_vid 13, ip_dscp 6, ...)
  bool maskable;          // OpenFlow 1.3 allows a mask (plus OVS's L4 ports)
  uint16_t oxm_class;     // OFPXMC_OPENFLOW_BASIC or OFPXMC_NXM_1
  uint8_t oxm_field;      // field number within the class
  const char* nxm_name;   // "NXM_NX_TUN_ID" (load/move subfields), or null
};

// Any match field (f < kNumMatchFields).
const OxmFieldInfo& oxm_field_info(OxmField f);
// Accepts the names above ("tun_metadata5" too); nullopt for anything else.
std::optional<OxmField> oxm_field_by_name(std::string_view name);
// The field of an OXM class/field number (both OXM_OF_TUNNEL_ID and
// NXM_NX_TUN_ID give kTunnelId); nullopt when unknown.
std::optional<OxmField> oxm_field_by_wire(uint16_t oxm_class, uint8_t oxm_field);
// The field of an NXM name as load/move write it ("NXM_NX_TUN_IPV4_SRC",
// "NXM_NX_TUN_METADATA3", "NXM_OF_ETH_DST"); nullopt when unknown.
std::optional<OxmField> oxm_field_by_nxm_name(std::string_view name);

// A field value or mask as on the wire: big-endian in bytes[0..width).
// tun_metadataN values are right-aligned: bytes[kFieldValueMax - len ..).
struct FieldValue {
  std::array<uint8_t, kFieldValueMax> bytes{};

  static FieldValue from_u64(uint64_t v, unsigned width);
  static FieldValue from_bytes(const uint8_t* p, unsigned width);
  // All-ones over the field's significant bits (exact-match mask).
  static FieldValue exact(OxmField f);
  uint64_t to_u64(unsigned width) const;
  bool operator==(const FieldValue&) const = default;
};

// Where tun_metadataN lives in FlowKey::tun_opts of an OpenFlow flow: the
// TLV table's mapping. len 0 = not mapped.
struct TunMetadataLoc {
  uint8_t offset = 0;
  uint8_t len = 0;
  bool operator==(const TunMetadataLoc&) const = default;
};
// The placement of every tun_metadataN (the TLV table as the wire and
// syntax layers see it; model/tlv_table.h keeps it).
struct TunMetadataLayout {
  std::array<TunMetadataLoc, kNumTunMetadata> loc{};
  bool mapped(unsigned index) const { return index < kNumTunMetadata && loc[index].len != 0; }
  bool operator==(const TunMetadataLayout&) const = default;
};

// Pipeline fields that are not part of the datapath key. Host byte order.
// regs: reg0..15, zero when the pipeline starts (as in OVS), carried
// across ct(table=T) recirculation in the frozen state (xlate_ct.h).
struct PipelineFields {
  uint64_t metadata = 0;
  uint32_t reserved = 0;     // (pbb_isid lives in FlowKey::ipv6_label)
  uint32_t in_phy_port = 0;  // OpenFlow port number
  uint32_t regs[kNumRegs] = {};
};

// What the OpenFlow tables look up: the datapath key (in_port = OpenFlow port
// number) plus pipeline fields. The same layout serves as a mask (OfMask).
struct OfKey {
  FlowKey flow{};
  PipelineFields pipe{};

  static constexpr unsigned kPipeWords = 2 + kNumRegs / 2;
  static constexpr unsigned kWords = datapath::kFlowWords + kPipeWords;
  // Word view: words 0..kFlowWords-1 = flow, then pipe.
  uint64_t word(unsigned i) const;
  void set_word(unsigned i, uint64_t v);

  bool operator==(const OfKey& o) const;
};
static_assert(sizeof(PipelineFields) == OfKey::kPipeWords * 8);
using OfMask = OfKey;

// Word-wise helpers. All inline: the classifier calls them per subtable.
inline uint64_t OfKey::word(unsigned i) const {
  if (i < datapath::kFlowWords) return flow.words()[i];
  uint64_t w;
  std::memcpy(&w, reinterpret_cast<const char*>(&pipe) + 8 * (i - datapath::kFlowWords), 8);
  return w;
}
inline void OfKey::set_word(unsigned i, uint64_t v) {
  if (i < datapath::kFlowWords) {
    flow.words()[i] = v;
    return;
  }
  std::memcpy(reinterpret_cast<char*>(&pipe) + 8 * (i - datapath::kFlowWords), &v, 8);
}
inline bool OfKey::operator==(const OfKey& o) const {
  return datapath::flow_key_equal(flow, o.flow) &&
         std::memcmp(&pipe, &o.pipe, sizeof pipe) == 0;
}
// out = key & mask
void of_key_and(const OfKey& key, const OfMask& mask, OfKey* out);
// *acc |= mask
void of_mask_or(OfMask* acc, const OfMask& mask);
// True when (key & mask) == value.
bool of_key_matches(const OfKey& key, const OfMask& mask, const OfKey& value);
// 64-bit hash of key & mask (a masked key hashes the same as itself).
uint64_t of_key_hash(const OfKey& key, const OfMask& mask);
// True when every bit set in b is also set in a.
bool of_mask_covers(const OfMask& a, const OfMask& b);
bool of_mask_is_zero(const OfMask& m);

// Writes field f of key (value or mask) from/to wire form. put_field() does
// not check ranges; OfMatch::set() does. tun_metadata fields need their
// placement (loc; without it they write / read nothing); put_field() also
// sets the field's tun_md_present bit, get_field() ignores it.
void put_field(OfKey* key, OxmField f, const FieldValue& v, TunMetadataLoc loc = {});
FieldValue get_field(const OfKey& key, OxmField f, TunMetadataLoc loc = {});

class OfMatch {
 public:
  // The empty match (matches everything).
  OfMatch() = default;

  // Adds field f = value (mask null or all-ones: exact). Errors, with the
  // field's name in the message:
  //  - bad_match/dup_field: f already set;
  //  - bad_match/bad_value: value wider than the field (vlan_pcp=8, ...);
  //    arp_op > 255 (the datapath key holds its low byte only);
  //  - bad_match/bad_mask: a mask on a field that takes none, or wider than it;
  //  - bad_match/bad_wildcards: value has bits outside the mask.
  // Prerequisites are not checked here (fields arrive in any order); call
  // check_prerequisites() once the match is complete.
  // tun_metadataN takes its placement from tlv: not mapped there is
  // NXFMFC_INVALID_TLV_FIELD (as OVS answers); a value or mask wider than
  // the mapping is bad_match/bad_value / bad_mask. A zero mask on it still
  // matches "option present" (OVS prints it as a bare "tun_metadataN").
  MaybeError set(OxmField f, const FieldValue& value, const FieldValue* mask = nullptr,
                 const TunMetadataLayout* tlv = nullptr);
  // Convenience for numeric fields.
  MaybeError set_u64(OxmField f, uint64_t value);
  MaybeError set_u64_masked(OxmField f, uint64_t value, uint64_t mask);
  void clear(OxmField f);
  // Sets f = value exactly, replacing whatever the match had on those bits
  // and any field sharing them. No checks: used to track how actions change
  // the packet (push_vlan, push_mpls) when validating set_field prerequisites.
  void force(OxmField f, const FieldValue& value);

  bool has(OxmField f) const {
    unsigned i = static_cast<unsigned>(f);
    return (fields_[i / 64] >> (i % 64)) & 1;
  }
  // True when the match has any tunnel field.
  bool has_tunnel_fields() const;
  // Wire value/mask of a field that has() is true for (tun_metadata:
  // right-aligned, its mapping's length).
  FieldValue value_of(OxmField f) const { return get_field(value_, f, loc_of(f)); }
  FieldValue mask_of(OxmField f) const { return get_field(mask_, f, loc_of(f)); }
  // The placement of a tun_metadata field this match has (len 0 otherwise).
  TunMetadataLoc loc_of(OxmField f) const {
    return is_tun_metadata(f) ? md_loc_[tun_metadata_index(f)] : TunMetadataLoc{};
  }
  // The tun_metadata placements this match uses (for "is the mapping in
  // use" before the TLV table deletes one): bit N = tun_metadataN.
  uint64_t tun_metadata_set() const;
  // True when f's mask covers all of the field's bits.
  bool is_exact(OxmField f) const;

  // OpenFlow 1.3 table 12 prerequisites, transitively: error
  // bad_match/bad_prereq naming the first field (in OXM order) whose
  // prerequisite is missing and what it requires, e.g.
  // "tcp_dst requires ip_proto=6 (have no ip_proto)".
  MaybeError check_prerequisites() const;
  // True when every prerequisite of f holds in this match (used by set_field
  // validation: "the match guarantees the header is present").
  bool prerequisites_hold(OxmField f) const;

  const OfKey& value() const { return value_; }
  const OfMask& mask() const { return mask_; }

  // Matching. (key & mask) == value.
  bool matches(const OfKey& key) const { return of_key_matches(key, mask_, value_); }
  // Same, and ORs every bit it examined (this match's mask) into *wc.
  bool matches(const OfKey& key, OfMask* wc) const {
    of_mask_or(wc, mask_);
    return matches(key);
  }

  // Same over a datapath key (in_port = OpenFlow number) plus pipeline
  // fields, recording into a datapath wildcard mask (the FlowKey part of
  // this match's mask; pipeline fields are not datapath bits).
  bool matches(const FlowKey& key, const PipelineFields& pipe, FlowMask* wc) const {
    OfKey k{key, pipe};
    if (wc)
      for (unsigned i = 0; i < datapath::kFlowWords; i++) wc->words()[i] |= mask_.flow.words()[i];
    return matches(k);
  }

  // Datapath view: the FlowKey part (in_port still the OpenFlow number).
  // Returns false when the match also constrains pipeline-only fields
  // (metadata, in_phy_port, registers), which a datapath flow
  // cannot express; *value/*mask are filled either way.
  bool to_flow(FlowKey* value, FlowMask* mask) const;
  // Builds a match from key-space value/mask (e.g. a megaflow), deriving the
  // OXM field set from the mask and, for shared bits, from eth_type/ip_proto
  // (nw_src under eth_type=0x0806 is arp_spa, otherwise ipv4_src, ...).
  // Bits no OXM field covers are dropped. value is ANDed with mask.
  // tun_metadata bits are kept for the fields tlv maps (dropped without it).
  static OfMatch from_flow(const FlowKey& value, const FlowMask& mask,
                           const PipelineFields* pipe_value = nullptr,
                           const PipelineFields* pipe_mask = nullptr,
                           const TunMetadataLayout* tlv = nullptr);
  // Adds the tunnel metadata of a packet's OpenFlow flow (mapped form) as
  // exact fields, the way OVS fills a packet-in's match: tun_id, tun_src,
  // tun_dst, tun_ipv6_src/dst when non-zero, tun_flags when oam is set,
  // each tun_metadataN that is present and mapped in tlv. Fields already
  // in the match are left alone.
  void add_tunnel_metadata(const FlowKey& flow, const TunMetadataLayout* tlv);

  // Value/mask equality.
  bool operator==(const OfMatch& o) const { return value_ == o.value_ && mask_ == o.mask_; }

  // True when some key matches both (used by the overlap check).
  bool overlaps(const OfMatch& o) const;
  // True when every key this match matches also matches o (o is looser or equal).
  bool subsumed_by(const OfMatch& o) const;

  // "eth_type=0x0800,ipv4_dst=10.0.0.0/255.0.0.0,..." with OXM names, in OXM
  // order; "" for the empty match. (flow_parser.h formats the ovs-ofctl way.)
  std::string to_string() const;

 private:
  void mark(OxmField f) {
    unsigned i = static_cast<unsigned>(f);
    fields_[i / 64] |= 1ull << (i % 64);
  }
  void unmark(OxmField f) {
    unsigned i = static_cast<unsigned>(f);
    fields_[i / 64] &= ~(1ull << (i % 64));
  }
  MaybeError set_xreg(OxmField f, const FieldValue& value, const FieldValue* mask);
  MaybeError set_tun_metadata(OxmField f, const FieldValue& value, const FieldValue* mask,
                              const TunMetadataLayout* tlv);
  void mark_tunnel_fields(const FlowKey& mf, const TunMetadataLayout* tlv);

  OfKey value_{};
  OfMask mask_{};
  std::array<uint64_t, 3> fields_{};  // bit f = OxmField f present
  std::array<TunMetadataLoc, kNumTunMetadata> md_loc_{};  // tun_metadata fields present
};


// Formats a wire value of field f: decimal for small integers, hex for
// eth_type/metadata/tunnel_id, xx:xx:.. for MACs, dotted quad, IPv6 text;
// tun_metadata as OVS prints it: hex without leading zero bytes ("0x1234",
// "0").
std::string format_field_value(OxmField f, const FieldValue& v);
// How a field's value is written as text: a MAC address, an IPv4 or IPv6
// address, a number, a byte string of any length (tun_metadataN: "0x1234"),
// tunnel flags (+oam); the printer here and the ovs-ofctl syntax share it.
enum class OxmValueKind : uint8_t { kMac, kIpv4, kIpv6, kNum, kHex, kTunFlags, kCtState };
OxmValueKind oxm_value_kind(OxmField f);
// ct_state as ovs-ofctl prints it: "+new+trk", "-trk" (the mask's bits,
// lowest first: new est rel rpl inv trk snat dnat); "0" for no bits.
std::string format_ct_state(uint64_t value, uint64_t mask);
// The bit of one ct_state flag name ("new", "trk", ...).
std::optional<uint8_t> ct_state_bit(std::string_view name);
// OVS's byte length of a variable-length value: without its leading zero
// bytes (0 for zero). Fixed-width fields: their width.
unsigned field_value_len(OxmField f, const FieldValue& v);

}  // namespace dps::ofproto
