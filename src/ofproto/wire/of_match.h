// of_match.h - the OpenFlow 1.3 match: value + mask over every OXM field.
//
// What: OfKey is what the OpenFlow pipeline looks up: the datapath FlowKey
// plus the pipeline-only fields that a datapath packet does not carry
// (metadata, tunnel_id, pbb_isid, in_phy_port). OfMatch is a match over the
// OXM fields of OpenFlow 1.3 (OFPXMT_OFB_*), stored as value/mask in OfKey
// layout, with the set of OXM fields it was built from. It checks OpenFlow
// prerequisites with errors that name the field and the missing
// prerequisite, converts to and from FlowKey/FlowMask, and matches an OfKey
// while recording the bits it looked at (for megaflow wildcards).
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
//    Fields that share key bits are told apart by their prerequisites
//    (eth_type, ip_proto), which is why prerequisites are checked.
//  - in_port in an OfKey/OfMatch is the OpenFlow port number. The datapath
//    FlowKey carries the datapath port number; translating between the two
//    is the caller's (xlate's) job: it is a 1:1 map per bridge, so the mask
//    carries over unchanged.
//  - Key bits that no OXM field covers (nw_frag, nw_ttl, tcp_flags,
//    vlan_tci2, the MPLS TTL) are never set in an OfMatch mask; from_flow()
//    drops them.
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
};
inline constexpr unsigned kNumOxmFields = 40;            // OFPXMT_OFB_* of OpenFlow 1.3
inline constexpr uint16_t kOxmClassOpenflowBasic = 0x8000;  // OFPXMC_OPENFLOW_BASIC
inline constexpr uint16_t kOfpVidPresent = 0x1000;        // OFPVID_PRESENT
inline constexpr uint16_t kOfpVidNone = 0x0000;           // OFPVID_NONE

// Static description of one OXM field.
struct OxmFieldInfo {
  OxmField field;
  const char* name;       // OXM name as ovs-ofctl prints it: "eth_src", "ipv4_dst"
  uint8_t width;          // bytes on the wire (oxm_length without mask)
  uint8_t bits;           // significant bits (vlan_vid 13, ip_dscp 6, ...)
  bool maskable;          // OpenFlow 1.3 allows a mask (plus OVS's L4 ports)
};

const OxmFieldInfo& oxm_field_info(OxmField f);
// Accepts the OXM names above; nullopt for anything else.
std::optional<OxmField> oxm_field_by_name(std::string_view name);

// A field value or mask as on the wire: big-endian in bytes[0..width).
struct FieldValue {
  std::array<uint8_t, 16> bytes{};

  static FieldValue from_u64(uint64_t v, unsigned width);
  static FieldValue from_bytes(const uint8_t* p, unsigned width);
  // All-ones over the field's significant bits (exact-match mask).
  static FieldValue exact(OxmField f);
  uint64_t to_u64(unsigned width) const;
  bool operator==(const FieldValue&) const = default;
};

// Pipeline fields that are not part of the datapath key. Host byte order.
struct PipelineFields {
  uint64_t metadata = 0;
  uint64_t tunnel_id = 0;
  uint32_t pbb_isid = 0;     // low 24 bits
  uint32_t in_phy_port = 0;  // OpenFlow port number
};

// What the OpenFlow tables look up: the datapath key (in_port = OpenFlow port
// number) plus pipeline fields. The same layout serves as a mask (OfMask).
struct OfKey {
  FlowKey flow{};
  PipelineFields pipe{};

  static constexpr unsigned kPipeWords = 3;
  static constexpr unsigned kWords = datapath::kFlowWords + kPipeWords;
  // Word view: words 0..15 = flow, 16..18 = pipe.
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
// not check ranges; OfMatch::set() does.
void put_field(OfKey* key, OxmField f, const FieldValue& v);
FieldValue get_field(const OfKey& key, OxmField f);

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
  MaybeError set(OxmField f, const FieldValue& value, const FieldValue* mask = nullptr);
  // Convenience for numeric fields.
  MaybeError set_u64(OxmField f, uint64_t value);
  MaybeError set_u64_masked(OxmField f, uint64_t value, uint64_t mask);
  void clear(OxmField f);
  // Sets f = value exactly, replacing whatever the match had on those bits
  // and any field sharing them. No checks: used to track how actions change
  // the packet (push_vlan, push_mpls) when validating set_field prerequisites.
  void force(OxmField f, const FieldValue& value);

  bool has(OxmField f) const { return (fields_ >> static_cast<unsigned>(f)) & 1; }
  uint64_t field_set() const { return fields_; }
  // Wire value/mask of a field that has() is true for.
  FieldValue value_of(OxmField f) const { return get_field(value_, f); }
  FieldValue mask_of(OxmField f) const { return get_field(mask_, f); }
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
  // (metadata, tunnel_id, pbb_isid, in_phy_port), which a datapath flow
  // cannot express; *value/*mask are filled either way.
  bool to_flow(FlowKey* value, FlowMask* mask) const;
  // Builds a match from key-space value/mask (e.g. a megaflow), deriving the
  // OXM field set from the mask and, for shared bits, from eth_type/ip_proto
  // (nw_src under eth_type=0x0806 is arp_spa, otherwise ipv4_src, ...).
  // Bits no OXM field covers are dropped. value is ANDed with mask.
  static OfMatch from_flow(const FlowKey& value, const FlowMask& mask,
                           const PipelineFields* pipe_value = nullptr,
                           const PipelineFields* pipe_mask = nullptr);

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
  OfKey value_{};
  OfMask mask_{};
  uint64_t fields_ = 0;  // bit f = OxmField f present
};

// Formats a wire value of field f: decimal for small integers, hex for
// eth_type/metadata/tunnel_id, xx:xx:.. for MACs, dotted quad, IPv6 text.
std::string format_field_value(OxmField f, const FieldValue& v);

}  // namespace dps::ofproto
