// of_codec_parts.cc - the parts OpenFlow messages are built from: the OXM
// match, actions, instructions, group buckets and meter bands, and the
// length-prefixed element framing they share (see of_codec_io.h).
//
// Actions are table-driven: kActionWire gives each OfAction alternative its
// OFPAT_* type, length and name; its fields are its layout(), so one table
// and one layout serve both directions.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "of_codec.h"
#include "of_codec_io.h"

namespace dps::ofproto::wire {

// ---- layouts -------------------------------------------------------------------
// (In namespace wire itself, not an unnamed one: Get and Put find them by
// argument-dependent lookup.)

// The argument of an action after its 4-byte header, before the padding.
constexpr void layout(auto& io, Is<ActOutput> auto& a) {
  io(a.port);
  io(a.max_len);
}
constexpr void layout(auto& io, Is<ActGroup> auto& a) { io(a.group_id); }
constexpr void layout(auto& io, Is<ActSetQueue> auto& a) { io(a.queue_id); }
constexpr void layout(auto& io, Is<ActPushVlan> auto& a) { io(a.ethertype); }
constexpr void layout(auto& io, Is<ActPushMpls> auto& a) { io(a.ethertype); }
constexpr void layout(auto& io, Is<ActPushPbb> auto& a) { io(a.ethertype); }
constexpr void layout(auto& io, Is<ActPopMpls> auto& a) { io(a.ethertype); }
constexpr void layout(auto& io, Is<ActSetMplsTtl> auto& a) { io(a.ttl); }
constexpr void layout(auto& io, Is<ActSetNwTtl> auto& a) { io(a.ttl); }

// ofp_bucket before its actions; the length is patched / checked by kBucketRule.
constexpr void layout(auto& io, Is<GroupBucket> auto& b) {
  io.pad(2);
  io(b.weight);
  io(b.watch_port);
  io(b.watch_group);
  io.pad(4);
}

namespace {

// OFPAT_*
enum ActionType : uint16_t {
  kAtOutput = 0, kAtCopyTtlOut = 11, kAtCopyTtlIn = 12, kAtSetMplsTtl = 15, kAtDecMplsTtl = 16,
  kAtPushVlan = 17, kAtPopVlan = 18, kAtPushMpls = 19, kAtPopMpls = 20, kAtSetQueue = 21,
  kAtGroup = 22, kAtSetNwTtl = 23, kAtDecNwTtl = 24, kAtSetField = 25, kAtPushPbb = 26,
  kAtPopPbb = 27, kAtExperimenter = 0xffff,
};

// OFPIT_*
enum InstructionType : uint16_t {
  kItGotoTable = 1, kItWriteMetadata = 2, kItWriteActions = 3, kItApplyActions = 4,
  kItClearActions = 5, kItMeter = 6, kItExperimenter = 0xffff,
};

constexpr ElementRule kActionRule = element_rule("action", kActionHeaderLen, 2, true, false,
                                         OfErrorType::kBadAction, BadActionCode::kBadLen);
constexpr ElementRule kInstructionRule =
    element_rule("instruction", 8, 2, true, false, OfErrorType::kBadInstruction,
         BadInstructionCode::kBadLen);
constexpr ElementRule kBucketRule = element_rule("bucket", kBucketFixedLen, 0, false, false,
                                         OfErrorType::kGroupModFailed,
                                         GroupModFailedCode::kBadBucket);
constexpr ElementRule kBandRule = element_rule("meter band", kMeterBandLen, 2, false, true,
                                       OfErrorType::kMeterModFailed, MeterModFailedCode::kBadBand);

// ---- OXM / match ---------------------------------------------------------------

uint32_t oxm_header(OxmField f, bool hasmask, unsigned len) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  return uint32_t{fi.oxm_class} << 16 | uint32_t{fi.oxm_field} << 9 | uint32_t{hasmask} << 8 | len;
}

// The wire bytes of a value: the first `width` bytes, or for tun_metadata
// (right-aligned) the last `width`.
void put_value(Writer& w, OxmField f, const FieldValue& v, unsigned width) {
  const size_t from = is_tun_metadata(f) ? kFieldValueMax - width : 0;
  w.bytes(std::span<const uint8_t>(v.bytes.data() + from, width));
}

// Longest tun_metadata value on the wire (OVS's TLV_MAX_OPT_SIZE).
constexpr unsigned kTlvMaxOptSize = 124;

// An OXM TLV header (class, field, hasmask, length).
struct OxmHeader {
  uint16_t cls;
  unsigned field;
  bool hasmask;
  unsigned len;
};
OxmHeader split_oxm_header(uint32_t hdr) {
  return {static_cast<uint16_t>(hdr >> 16), (hdr >> 9) & 0x7f, ((hdr >> 8) & 1) != 0,
          hdr & 0xff};
}

std::string hex4(uint16_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "%04x", v);
  return b;
}

// The ofp_match header: type OXM, length within what is left (padded to 8).
MaybeError check_match_header(const Reader& r) {
  const size_t start = r.offset();
  if (r.left() < 4) return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
                               "match header truncated" + at(start));
  uint16_t type = r.peek16(0);
  uint16_t len = r.peek16(2);
  if (type != kOfpmtOxm)
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadType,
               "match type " + std::to_string(type) + " is not OFPMT_OXM (1)" + at(start));
  if (len < 4)
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "match length " + std::to_string(len) + " is below 4" + at(start));
  if (pad8(len) > r.left())
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "match length " + std::to_string(len) + " (padded " + std::to_string(pad8(len)) +
                   ") exceeds the " + std::to_string(r.left()) + " bytes left" + at(start));
  return std::nullopt;
}

// The field an OXM header names: an OpenFlow basic field, or one of the
// NXM_1 tunnel fields ovs-ofctl puts in OpenFlow 1.3 messages.
// The NXM headers (NXM_OF class 0, NXM_NX class 1) of fields that are an
// OXM field under another number, same width and meaning, as ovs-ofctl
// writes them in NXAST_REG_MOVE / REG_LOAD (move:NXM_OF_ETH_SRC[]->...).
// NXM_OF_IN_PORT, VLAN_TCI and IP_TOS differ from their OXM fields in width
// or bits and are not aliased.
constexpr uint16_t kOxmClassNxm0 = 0x0000;  // OFPXMC_NXM_0 (NXM_OF_*)
struct NxmAlias {
  uint16_t cls;
  uint8_t field;
  OxmField f;
};
constexpr NxmAlias kNxmAliases[] = {
    {0, 1, OxmField::kEthDst},        {0, 2, OxmField::kEthSrc},         {0, 3, OxmField::kEthType},
    {0, 6, OxmField::kIpProto},       {0, 7, OxmField::kIpv4Src},        {0, 8, OxmField::kIpv4Dst},
    {0, 9, OxmField::kTcpSrc},        {0, 10, OxmField::kTcpDst},        {0, 11, OxmField::kUdpSrc},
    {0, 12, OxmField::kUdpDst},       {0, 13, OxmField::kIcmpv4Type},    {0, 14, OxmField::kIcmpv4Code},
    {0, 15, OxmField::kArpOp},        {0, 16, OxmField::kArpSpa},        {0, 17, OxmField::kArpTpa},
    {1, 17, OxmField::kArpSha},       {1, 18, OxmField::kArpTha},        {1, 19, OxmField::kIpv6Src},
    {1, 20, OxmField::kIpv6Dst},      {1, 21, OxmField::kIcmpv6Type},    {1, 22, OxmField::kIcmpv6Code},
    {1, 23, OxmField::kIpv6NdTarget}, {1, 24, OxmField::kIpv6NdSll},     {1, 25, OxmField::kIpv6NdTll},
    {1, 27, OxmField::kIpv6Flabel},
};

std::optional<OxmField> field_of(uint16_t cls, unsigned field) {
  if (cls != kOxmClassOpenflowBasic && cls != kOxmClassNxm0 && cls != kOxmClassNxm1 &&
      cls != kOxmClassPacketRegs)
    return std::nullopt;
  if (cls == kOxmClassOpenflowBasic && field >= kNumOxmFields) return std::nullopt;
  if (cls != kOxmClassNxm0)
    if (std::optional<OxmField> f = oxm_field_by_wire(cls, static_cast<uint8_t>(field))) return f;
  for (const NxmAlias& a : kNxmAliases)
    if (a.cls == cls && a.field == field) return a.f;
  return std::nullopt;
}

// The header NXAST_REG_MOVE names f by, as ovs-ofctl encodes it: the NXM
// header where the field has one, else its OXM header.
uint32_t move_header(OxmField f) {
  const unsigned width = oxm_field_info(f).width;
  for (const NxmAlias& a : kNxmAliases)
    if (a.f == f) return uint32_t{a.cls} << 16 | uint32_t{a.field} << 9 | width;
  return oxm_header(f, false, width);
}

std::string unknown_field_text(uint16_t cls, unsigned field) {
  if (cls == kOxmClassOpenflowBasic) return "unknown OXM field " + std::to_string(field);
  if (cls == kOxmClassNxm1) return "NXM_1 field " + std::to_string(field) + " is not supported";
  if (cls == kOxmClassNxm0) return "NXM_0 field " + std::to_string(field) + " is not supported";
  return "OXM class 0x" + hex4(cls) +
         " is not supported (only OFPXMC_OPENFLOW_BASIC and the NXM_1 tunnel fields)";
}

// A variable-length (tun_metadata) value of `width` wire bytes, right-aligned
// into a FieldValue; false when it has non-zero bytes beyond kFieldValueMax.
bool read_var_value(Reader& m, unsigned width, FieldValue* out) {
  auto b = m.bytes(width);
  *out = FieldValue{};
  const unsigned skip = width > kFieldValueMax ? width - kFieldValueMax : 0;
  for (unsigned i = 0; i < skip; i++)
    if (b[i]) return false;
  std::memcpy(out->bytes.data() + kFieldValueMax - (width - skip), b.data() + skip, width - skip);
  return true;
}

// Without a TLV table (decoding a switch's replies) the tun_metadata fields
// of a match are placed one after the other in index order, each with its
// wire length (OVS's decoder places them as they come; index order makes
// the result canonical: a match re-encodes to the same bytes). Fields that
// do not fit in the option bytes of a flow stay unplaced (an error when
// decoded). m: a reader over the match's OXMs.
void place_dynamic(Reader m, TunMetadataLayout* dyn) {
  std::array<uint8_t, kNumTunMetadata> want{};
  while (m.left() >= 4) {
    const auto [cls, field, hasmask, olen] = split_oxm_header(m.u32());
    if (olen > m.left()) break;
    m.skip(olen);
    const std::optional<OxmField> f = field_of(cls, field);
    if (!f || !is_tun_metadata(*f) || want[tun_metadata_index(*f)]) continue;
    want[tun_metadata_index(*f)] =
        static_cast<uint8_t>(std::clamp(hasmask ? olen / 2 : olen, 1u, unsigned{kFieldValueMax}));
  }
  unsigned end = 0;
  for (unsigned n = 0; n < kNumTunMetadata; n++) {
    if (!want[n] || end + want[n] > datapath::kTunOptsMax) continue;
    dyn->loc[n] = {static_cast<uint8_t>(end), want[n]};
    end += want[n];
  }
}

MaybeError decode_tun_metadata_oxm(Reader& m, OfMatch* match, OxmField f, bool hasmask,
                                   unsigned olen, size_t off, TunMetadataLayout* dyn) {
  const char* name = oxm_field_info(f).name;
  if ((hasmask && olen % 2) || (hasmask ? olen / 2 : olen) > kTlvMaxOptSize)
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               std::string(name) + " OXM length " + std::to_string(olen) + " is invalid (at most " +
                   std::to_string(kTlvMaxOptSize) + " bytes" + (hasmask ? ", twice with a mask)" : ")") + at(off));
  const unsigned width = hasmask ? olen / 2 : olen;
  FieldValue value, mask;
  if (!read_var_value(m, width, &value) || (hasmask && !read_var_value(m, width, &mask)))
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadValue,
               std::string(name) + " is wider than the " + std::to_string(kFieldValueMax) +
                   " option bytes a flow holds" + at(off));
  const TunMetadataLayout* tlv = m.tlv() ? m.tlv() : dyn;
  if (!m.tlv() && !dyn->mapped(tun_metadata_index(f)))
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "tun_metadata fields of the match exceed the " + std::to_string(datapath::kTunOptsMax) +
                   " option bytes a flow holds" + at(off));
  if (MaybeError e = match->set(f, value, hasmask ? &mask : nullptr, tlv)) {
    e->message += at(off);
    return e;
  }
  return std::nullopt;
}

// One OXM TLV of a match into *match.
MaybeError decode_oxm(Reader& m, OfMatch* match, TunMetadataLayout* dyn) {
  const size_t off = m.offset();
  if (m.left() < 4)
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "OXM header truncated (" + std::to_string(m.left()) + " bytes left)" + at(off));
  const auto [cls, field, hasmask, olen] = split_oxm_header(m.u32());
  if (olen > m.left())
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "OXM length " + std::to_string(olen) + " exceeds the " +
                   std::to_string(m.left()) + " bytes left in the match" + at(off));
  const std::optional<OxmField> of = field_of(cls, field);
  if (!of) return err(OfErrorType::kBadMatch, BadMatchCode::kBadField, unknown_field_text(cls, field) + at(off));
  const OxmField f = *of;
  if (is_tun_metadata(f)) return decode_tun_metadata_oxm(m, match, f, hasmask, olen, off, dyn);
  const OxmFieldInfo& fi = oxm_field_info(f);
  if (olen != fi.width * (hasmask ? 2u : 1u))
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               std::string(fi.name) + " OXM length " + std::to_string(olen) + " should be " +
                   std::to_string(fi.width * (hasmask ? 2u : 1u)) + at(off));
  FieldValue value = FieldValue::from_bytes(m.bytes(fi.width).data(), fi.width);
  FieldValue mask;
  if (hasmask) mask = FieldValue::from_bytes(m.bytes(fi.width).data(), fi.width);
  if (MaybeError e = match->set(f, value, hasmask ? &mask : nullptr)) {
    e->message += at(off);
    return e;
  }
  return std::nullopt;
}

// ---- actions -------------------------------------------------------------------

// Each OfAction alternative on the wire, in variant order. len 0: set_field,
// whose length follows its OXM (8 + OXM, padded to 8).
struct ActionWire {
  uint16_t type;
  uint8_t len;
  const char* name;  // in length errors ("push_vlan action length 16 should be 8")
};
constexpr ActionWire kActionWire[] = {
    {kAtOutput, 16, "output"},          {kAtGroup, 8, "group"},
    {kAtSetField, 0, "set_field"},      {kAtPushVlan, 8, "push_vlan"},
    {kAtPopVlan, 8, "pop_vlan"},        {kAtPushMpls, 8, "push_mpls"},
    {kAtPopMpls, 8, "pop_mpls"},        {kAtSetMplsTtl, 8, "set_mpls_ttl"},
    {kAtDecMplsTtl, 8, "dec_mpls_ttl"}, {kAtSetNwTtl, 8, "set_nw_ttl"},
    {kAtDecNwTtl, 8, "dec_nw_ttl"},     {kAtCopyTtlOut, 8, "copy_ttl_out"},
    {kAtCopyTtlIn, 8, "copy_ttl_in"},   {kAtSetQueue, 8, "set_queue"},
    {kAtExperimenter, 0, "ct"},         {kAtExperimenter, 16, "ct_clear"},  // Nicira
    {kAtExperimenter, 16, "resubmit"},  {kAtExperimenter, 24, "load"},
    {kAtExperimenter, 24, "move"},      {kAtExperimenter, 0, "note"},
    {kAtExperimenter, 0, "sample"},     {kAtPushPbb, 8, "push_pbb"},
    {kAtPopPbb, 8, "pop_pbb"},
};
static_assert(std::size(kActionWire) == std::variant_size_v<OfAction>);

// OFPAT_* -> index into kActionWire / OfAction, -1 for none.
constexpr auto kActionIndexByType = [] {
  std::array<int8_t, kAtPopPbb + 1> t{};
  t.fill(-1);
  for (size_t i = 0; i < std::size(kActionWire); i++)
    if (kActionWire[i].type < t.size()) t[kActionWire[i].type] = static_cast<int8_t>(i);
  return t;
}();

OfError action_error(BadActionCode c, std::string m) {
  return err(OfErrorType::kBadAction, c, std::move(m));
}

bool valid_output_port(uint32_t port) {
  return (port >= 1 && port <= kPortMax) || is_reserved_output(port);
}

MaybeError check_decoded(const ActOutput& o) {
  if (!valid_output_port(o.port))
    return action_error(BadActionCode::kBadOutPort,
                        "output to invalid port " + std::to_string(o.port));
  return std::nullopt;
}
MaybeError check_decoded(const auto&) { return std::nullopt; }

// The value of a set_field (or whole-field load) on f: in range for the
// field (tun_metadata: against the TLV table).
MaybeError check_set_value(const Reader& a, const ActSetField& s) {
  if (is_tun_metadata(s.field)) return check_set_field_tlv(s, a.tlv());
  OfMatch probe;  // value range check only
  if (MaybeError e = probe.set(s.field, s.value))
    return action_error(BadActionCode::kBadSetArgument, "set_field: " + e->message);
  return std::nullopt;
}

// The OXM of a set_field action (its 4-byte action header read), len the
// action's length. Tunnel fields come as NXM_1 OXMs; tun_metadata values
// have any length up to 124 (ovs-ofctl drops leading zero bytes). hdr_len:
// the action's bytes before the OXM (4; 10 in NXAST_REG_LOAD2).
MaybeError decode_set_field(Reader& a, uint16_t len, ActionList* out, unsigned hdr_len = 4) {
  const auto [cls, field, hasmask, olen] = split_oxm_header(a.u32());
  const std::optional<OxmField> of = field_of(cls, field);
  if (!of)
    return action_error(BadActionCode::kBadSetType, "set_field of unsupported OXM class " +
                                                        std::to_string(cls) + " field " +
                                                        std::to_string(field));
  const OxmField f = *of;
  const OxmFieldInfo& fi = oxm_field_info(f);
  auto bad = [&](BadActionCode c, const std::string& m) {
    return action_error(c, std::string("set_field ") + fi.name + m);
  };
  if (hasmask) return bad(BadActionCode::kBadSetArgument, " carries a mask");
  const bool var = is_tun_metadata(f);
  if (var ? olen > kTlvMaxOptSize : olen != fi.width)
    return bad(BadActionCode::kBadSetLen, " OXM length " + std::to_string(olen) + " should be " +
                                              (var ? "at most " + std::to_string(kTlvMaxOptSize)
                                                   : std::to_string(fi.width)));
  if (len != pad8(hdr_len + 4 + olen))
    return bad(BadActionCode::kBadSetLen, " action length " + std::to_string(len) +
                                              " should be " + std::to_string(pad8(hdr_len + 4 + olen)));
  ActSetField s;
  s.field = f;
  if (!var) s.value = FieldValue::from_bytes(a.bytes(olen).data(), olen);
  else if (!read_var_value(a, olen, &s.value))
    return bad(BadActionCode::kBadSetArgument,
               " value is wider than the " + std::to_string(kFieldValueMax) + " option bytes a flow holds");
  OF_TRY(check_set_value(a, s));
  out->push_back(s);
  return std::nullopt;
}

// Nicira actions (OFPAT_EXPERIMENTER, NX_VENDOR_ID) ovs-ofctl sends for
// `load`: NXAST_REG_LOAD and NXAST_REG_LOAD2. A load of a whole field is a
// set_field; a load into part of a field is not supported.
constexpr uint16_t kNxastRegLoad = 7;
constexpr uint16_t kNxastRegLoad2 = 33;

MaybeError decode_reg_load(Reader& a, uint16_t len, ActionList* out) {
  if (len != 24)
    return action_error(BadActionCode::kBadLen, "NXAST_REG_LOAD length " + std::to_string(len) + " should be 24");
  const uint16_t ofs_nbits = a.u16();
  const auto [cls, field, hasmask, width] = split_oxm_header(a.u32());
  const uint64_t value = a.u64();
  const std::optional<OxmField> of = field_of(cls, field);
  if (!of || hasmask || is_tun_metadata(*of) || width != oxm_field_info(*of).width)
    return action_error(BadActionCode::kBadArgument,
                        "load: destination NXM class " + std::to_string(cls) + " field " +
                            std::to_string(field) + " is not supported");
  const unsigned ofs = ofs_nbits >> 6, nbits = (ofs_nbits & 0x3f) + 1u;
  const char* name = oxm_field_info(*of).name;
  if (is_register(*of)) {
    if (ofs + nbits > width * 8u || (nbits < 64 && (value >> nbits)))
      return action_error(BadActionCode::kBadArgument,
                          std::string("load: bits ") + std::to_string(ofs) + ".." +
                              std::to_string(ofs + nbits - 1) + " or the value do not fit " + name);
    out->push_back(ActRegLoad{*of, static_cast<uint8_t>(ofs), static_cast<uint8_t>(nbits), value});
    return std::nullopt;
  }
  if (ofs != 0 || nbits != width * 8)
    return action_error(BadActionCode::kBadArgument,
                        std::string("load: into bits ") + std::to_string(ofs) + ".." +
                            std::to_string(ofs + nbits - 1) + " of " + name +
                            " is not supported (only whole fields; use set_field)");
  if (nbits < 64 && (value >> nbits))
    return action_error(BadActionCode::kBadArgument,
                        std::string("load: value does not fit in ") + std::to_string(nbits) + " bits of " + name);
  ActSetField s{*of, FieldValue::from_u64(value, width)};
  OF_TRY(check_set_value(a, s));
  out->push_back(s);
  return std::nullopt;
}

MaybeError decode_reg_load2(Reader& a, uint16_t len, ActionList* out) {
  const uint32_t hdr = uint32_t{a.peek16(0)} << 16 | a.peek16(2);
  const auto [cls, field, hasmask, olen] = split_oxm_header(hdr);
  if (!hasmask) return decode_set_field(a, len, out, 10);
  return action_error(BadActionCode::kBadArgument,
                      "load: a masked NXAST_REG_LOAD2 (into part of a field) is not supported (class " +
                          std::to_string(cls) + " field " + std::to_string(field) + ", " +
                          std::to_string(olen) + " bytes); load whole fields or use set_field");
}

// ---- connection tracking: NXAST_CT (35) and NXAST_CT_CLEAR (43) ----
// nx_action_conntrack: flags, zone_src, zone (or ofs_nbits), recirc_table,
// pad[3], alg, then nested actions (exec): OFPAT_SET_FIELD and
// NXAST_REG_LOAD on ct_mark / ct_label.
constexpr uint16_t kNxastCt = 35;
constexpr uint16_t kNxastNat = 36;
constexpr uint16_t kNxastCtClear = 43;
constexpr uint16_t kNxCtFlagCommit = 1;
constexpr uint16_t kNxCtFlagForce = 2;

bool ct_exec_field(OxmField f) { return f == OxmField::kCtMark || f == OxmField::kCtLabel; }

// One NXAST_REG_LOAD inside exec() (its experimenter header read).
MaybeError decode_ct_load(Reader& a, uint16_t len, CtExec* x) {
  if (len != 24) return action_error(BadActionCode::kBadLen, "ct: NXAST_REG_LOAD length should be 24");
  const uint16_t ofs_nbits = a.u16();
  const auto [cls, field, hasmask, width] = split_oxm_header(a.u32());
  const std::optional<OxmField> f = field_of(cls, field);
  if (!f || hasmask || !ct_exec_field(*f) || width != oxm_field_info(*f).width)
    return action_error(BadActionCode::kBadArgument, "ct: exec() may only load into ct_mark or ct_label");
  x->field = *f;
  x->load = true;
  x->ofs = static_cast<uint8_t>(ofs_nbits >> 6);
  x->nbits = static_cast<uint8_t>((ofs_nbits & 0x3f) + 1);
  const uint64_t v = a.u64();
  if (x->ofs + x->nbits > width * 8u || (x->nbits < 64 && (v >> x->nbits)))
    return action_error(BadActionCode::kBadArgument, "ct: exec() load out of the field's bits");
  x->value = FieldValue::from_u64(v, 8);
  return std::nullopt;
}

// NXAST_NAT (its experimenter header read): flags, range_present, then
// the ranges present in order (IPv4 or IPv6 min/max, port min/max),
// checked as OVS's decode_NXAST_RAW_NAT does.
constexpr uint16_t kNatRangeV4Min = 1, kNatRangeV4Max = 2, kNatRangeV6Min = 4, kNatRangeV6Max = 8;
constexpr uint16_t kNatRangePortMin = 16, kNatRangePortMax = 32;

MaybeError nat_bad(const std::string& why) { return action_error(BadActionCode::kBadArgument, "nat: " + why); }

MaybeError decode_nat_addrs(Reader& n, uint16_t present, base::NatRange* r) {
  const bool v4 = present & kNatRangeV4Min, v6 = present & kNatRangeV6Min;
  if ((present & kNatRangeV4Max) && !v4) return nat_bad("an IPv4 max without a min");
  if ((present & kNatRangeV6Max) && !v6) return nat_bad("an IPv6 max without a min");
  if (v4 && (present & (kNatRangeV6Min | kNatRangeV6Max))) return nat_bad("both IPv4 and IPv6 ranges");
  if (!v4 && !v6) return std::nullopt;
  const unsigned bytes = v4 ? 4 : 16;
  const bool has_max = present & (v4 ? kNatRangeV4Max : kNatRangeV6Max);
  if (n.left() < bytes * (has_max ? 2u : 1u)) return nat_bad("the ranges do not fit the action");
  r->family = v4 ? 4 : 6;
  auto rd = [&](uint8_t* out) {
    const auto b = n.bytes(bytes);
    std::copy(b.begin(), b.end(), out);
  };
  rd(r->addr_min);
  if (std::all_of(r->addr_min, r->addr_min + bytes, [](uint8_t x) { return x == 0; }))
    return nat_bad("a zero address");
  if (!has_max) return std::nullopt;
  rd(r->addr_max);
  if (std::memcmp(r->addr_max, r->addr_min, bytes) < 0) return nat_bad("address max below min");
  return std::nullopt;
}

MaybeError decode_nat(Reader& n, ActCt* ct) {
  if (ct->nat) return nat_bad("more than one nat in ct()");
  n.skip(2);  // pad
  base::NatRange r;
  const uint16_t flags = n.u16(), present = n.u16();
  if (flags & ~base::kNatFlagsMask) return nat_bad("unknown flags " + std::to_string(flags));
  r.flags = static_cast<uint8_t>(flags);
  if ((flags & base::kNatSrc) && (flags & base::kNatDst)) return nat_bad("both src and dst");
  if ((flags & base::kNatHash) && (flags & base::kNatRandom)) return nat_bad("both hash and random");
  OF_TRY(decode_nat_addrs(n, present, &r));
  if ((present & kNatRangePortMax) && !(present & kNatRangePortMin)) return nat_bad("a port max without a min");
  if (present & kNatRangePortMin) {
    if (!r.family) return nat_bad("a port range without an address range");
    if (n.left() < ((present & kNatRangePortMax) ? 4u : 2u)) return nat_bad("the ranges do not fit the action");
    r.port_min = n.u16();
    if (!r.port_min) return nat_bad("port 0");
    if (present & kNatRangePortMax) r.port_max = n.u16();
    if ((present & kNatRangePortMax) && r.port_max < r.port_min) return nat_bad("port max below min");
  }
  ct->nat = r;
  return std::nullopt;
}

// One nested action of exec().
MaybeError decode_ct_nested(Reader& n, ActCt* ct) {
  const uint16_t type = n.u16(), len = n.u16();
  CtExec x;
  if (type == kAtSetField) {
    ActionList tmp;
    OF_TRY(decode_set_field(n, len, &tmp));
    const ActSetField& s = std::get<ActSetField>(tmp[0]);
    if (!ct_exec_field(s.field))
      return action_error(BadActionCode::kBadArgument,
                          std::string("ct: exec() may only set ct_mark or ct_label, not ") +
                              oxm_field_info(s.field).name);
    x.field = s.field;
    x.value = s.value;
  } else if (type == kAtExperimenter && len >= 16 && n.u32() == kNxVendorId) {
    const uint16_t sub = n.u16();
    if (sub == kNxastNat) return decode_nat(n, ct);
    if (sub != kNxastRegLoad)
      return action_error(BadActionCode::kBadArgument,
                          "ct: nested Nicira action " + std::to_string(sub) + " is not allowed in exec()");
    OF_TRY(decode_ct_load(n, len, &x));
  } else {
    return action_error(BadActionCode::kBadArgument,
                        "ct: nested action type " + std::to_string(type) + " is not allowed in exec()");
  }
  ct->exec.push_back(x);
  return std::nullopt;
}

MaybeError decode_ct(Reader& a, uint16_t len, ActionList* out) {
  if (len < 24 || len % 8)
    return action_error(BadActionCode::kBadLen, "NXAST_CT length " + std::to_string(len) +
                                                    " should be 24 or more, a multiple of 8");
  ActCt ct;
  const uint16_t flags = a.u16();
  const uint32_t zone_src = a.u32();
  ct.zone = a.u16();
  if (zone_src) {
    const auto [zcls, zfield, zmask, zlen] = split_oxm_header(zone_src);
    const std::optional<OxmField> zf = field_of(zcls, zfield);
    const unsigned ofs = ct.zone >> 6, nbits = (ct.zone & 0x3f) + 1u;
    if (!zf || zmask || !is_register(*zf) || zlen != oxm_field_info(*zf).width || nbits != 16 ||
        ofs + nbits > zlen * 8u)
      return action_error(BadActionCode::kBadArgument,
                          "ct: zone= from a field takes 16 bits of a register (reg0..15, xreg0..7)");
    ct.zone_src = *zf;
    ct.zone_ofs = static_cast<uint8_t>(ofs);
    ct.zone = 0;
  }
  ct.table = a.u8();
  a.skip(3);
  const uint16_t alg = a.u16();
  if (flags & ~(kNxCtFlagCommit | kNxCtFlagForce))
    return action_error(BadActionCode::kBadArgument, "ct: unknown flags " + std::to_string(flags));
  if (alg) return action_error(BadActionCode::kBadArgument, "ct: alg= is not supported");
  ct.commit = flags & kNxCtFlagCommit;
  ct.force = flags & kNxCtFlagForce;
  while (!a.empty()) {
    const uint16_t nlen = a.peek16(2);
    if (nlen < 8 || nlen % 8 || nlen > a.left())
      return action_error(BadActionCode::kBadLen, "ct: nested action length " + std::to_string(nlen));
    Reader n = a.sub(nlen);
    OF_TRY(decode_ct_nested(n, &ct));
  }
  if (!ct.exec.empty() && !ct.commit)
    return action_error(BadActionCode::kBadArgument, "ct: exec() requires commit");
  out->push_back(ct);
  return std::nullopt;
}

// ---- per-flow sampling: NXAST_SAMPLE (29), SAMPLE2 (38), SAMPLE3 (41) ----
// SAMPLE: probability, collector_set_id, obs_domain_id, obs_point_id (24
// bytes); SAMPLE2 adds sampling_port (16-bit) and 6 pad bytes (32); SAMPLE3
// a direction byte in the first of them. ovs-ofctl sends the shortest form
// that holds the action.
constexpr uint16_t kNxastSample = 29;
constexpr uint16_t kNxastSample2 = 38;
constexpr uint16_t kNxastSample3 = 41;

MaybeError decode_sample(Reader& a, uint16_t subtype, uint16_t len, ActionList* out) {
  const uint16_t want = subtype == kNxastSample ? 24 : 32;
  const char* name = subtype == kNxastSample ? "NXAST_SAMPLE" : subtype == kNxastSample2 ? "NXAST_SAMPLE2" : "NXAST_SAMPLE3";
  if (len != want)
    return action_error(BadActionCode::kBadLen, std::string(name) + " length " + std::to_string(len) +
                                                    " should be " + std::to_string(want));
  ActSample s;
  s.probability = a.u16();
  s.collector_set_id = a.u32();
  s.obs_domain_id = a.u32();
  s.obs_point_id = a.u32();
  if (subtype != kNxastSample) s.sampling_port = a.u16();
  if (subtype == kNxastSample3) {
    const uint8_t d = a.u8();
    if (d > static_cast<uint8_t>(SampleDirection::kEgress))
      return action_error(BadActionCode::kBadArgument, "sample: direction " + std::to_string(d) + " is not 0, 1 or 2");
    s.direction = static_cast<SampleDirection>(d);
  }
  if (!s.probability) return action_error(BadActionCode::kBadArgument, "sample: probability 0");
  out->push_back(s);
  return std::nullopt;
}

void encode_nx_header(Writer& w, uint16_t len, uint16_t subtype) {
  w.u16(kAtExperimenter);
  w.u16(len);
  w.u32(kNxVendorId);
  w.u16(subtype);
}

// ---- resubmit, move, note --------------------------------------------------
constexpr uint16_t kNxastResubmit = 1;
constexpr uint16_t kNxastRegMove = 6;
constexpr uint16_t kNxastNote = 8;
constexpr uint16_t kNxastResubmitTable = 14;

// OpenFlow 1.0 port numbers (resubmit's in_port) to and from OpenFlow 1.3's.
uint32_t port_from_of10(uint16_t p) { return p >= 0xff00 ? 0xffff0000u | p : p; }
uint16_t port_to_of10(uint32_t p) { return static_cast<uint16_t>(p >= kPortMax ? p & 0xffff : p); }

// nx_action_resubmit: in_port, table (NXAST_RESUBMIT: ignored, 255), pad[3].
MaybeError decode_resubmit(Reader& a, uint16_t len, uint16_t subtype, ActionList* out) {
  if (len != 16) return action_error(BadActionCode::kBadLen, "resubmit action length should be 16");
  ActResubmit r;
  r.in_port = port_from_of10(a.u16());
  const uint8_t table = a.u8();
  r.table = subtype == kNxastResubmitTable ? table : kResubmitCurrentTable;
  if (subtype == kNxastResubmitTable && (a.u8() | a.u8() | a.u8()))
    return action_error(BadActionCode::kBadArgument, "resubmit: padding must be zero");
  if (r.in_port != kPortInPort && r.in_port != kPortLocal && (r.in_port == 0 || r.in_port > kPortMax))
    return action_error(BadActionCode::kBadOutPort, "resubmit: invalid in_port " + std::to_string(r.in_port));
  out->push_back(r);
  return std::nullopt;
}

// nx_action_reg_move: n_bits, src_ofs, dst_ofs, src, dst (NXM headers).
MaybeError decode_reg_move(Reader& a, uint16_t len, ActionList* out) {
  if (len != 24) return action_error(BadActionCode::kBadLen, "NXAST_REG_MOVE length should be 24");
  ActRegMove m;
  m.nbits = a.u16();
  m.src_ofs = a.u16();
  m.dst_ofs = a.u16();
  OxmField* ends[2] = {&m.src, &m.dst};
  for (OxmField* e : ends) {
    const auto [cls, field, hasmask, width] = split_oxm_header(a.u32());
    const std::optional<OxmField> f = field_of(cls, field);
    if (!f || hasmask || is_tun_metadata(*f) || width != oxm_field_info(*f).width)
      return action_error(BadActionCode::kBadArgument, "move: NXM class " + std::to_string(cls) +
                                                           " field " + std::to_string(field) + " is not supported");
    *e = *f;
  }
  if (m.nbits == 0 || m.src_ofs + m.nbits > oxm_field_info(m.src).width * 8u ||
      m.dst_ofs + m.nbits > oxm_field_info(m.dst).width * 8u)
    return action_error(BadActionCode::kBadArgument, "move: bit range outside its field");
  out->push_back(m);
  return std::nullopt;
}

void encode_action_as(const ActResubmit& r, Writer& w) {
  encode_nx_header(w, 16, kNxastResubmitTable);  // as ovs-ofctl, also for resubmit:PORT
  w.u16(port_to_of10(r.in_port));
  w.u8(r.table);
  w.zeros(3);
}
void encode_action_as(const ActRegLoad& l, Writer& w) {
  encode_nx_header(w, 24, kNxastRegLoad);
  w.u16(static_cast<uint16_t>(l.ofs << 6 | (l.nbits - 1)));
  w.u32(oxm_header(l.dst, false, oxm_field_info(l.dst).width));
  w.u64(l.value);
}
void encode_action_as(const ActRegMove& m, Writer& w) {
  encode_nx_header(w, 24, kNxastRegMove);
  w.u16(m.nbits);
  w.u16(m.src_ofs);
  w.u16(m.dst_ofs);
  w.u32(move_header(m.src));
  w.u32(move_header(m.dst));
}
void encode_action_as(const ActNote& n, Writer& w) {
  const size_t start = w.size();
  encode_nx_header(w, static_cast<uint16_t>(pad8(10 + n.bytes.size())), kNxastNote);
  w.bytes(std::span<const uint8_t>(n.bytes.data(), n.bytes.size()));
  w.pad_to8(start);
}

MaybeError decode_experimenter_action(Reader& a, uint16_t len, ActionList* out) {
  const uint32_t experimenter = a.u32();
  if (experimenter != kNxVendorId)
    return action_error(BadActionCode::kBadExperimenter,
                        "experimenter action " + std::to_string(experimenter) + " is not supported");
  if (len < 16)
    return action_error(BadActionCode::kBadLen, "Nicira action length " + std::to_string(len) + " is below 16");
  const uint16_t subtype = a.u16();
  if (subtype == kNxastRegLoad) return decode_reg_load(a, len, out);
  if (subtype == kNxastRegLoad2) return decode_reg_load2(a, len, out);
  if (subtype == kNxastResubmit || subtype == kNxastResubmitTable) return decode_resubmit(a, len, subtype, out);
  if (subtype == kNxastRegMove) return decode_reg_move(a, len, out);
  if (subtype == kNxastNote) {
    auto b = a.bytes(len - 10u);
    out->push_back(ActNote{std::vector<uint8_t>(b.begin(), b.end())});
    return std::nullopt;
  }
  if (subtype == kNxastCt) return decode_ct(a, len, out);
  if (subtype == kNxastSample || subtype == kNxastSample2 || subtype == kNxastSample3)
    return decode_sample(a, subtype, len, out);
  if (subtype == kNxastCtClear) {
    if (len != 16) return action_error(BadActionCode::kBadLen, "NXAST_CT_CLEAR length should be 16");
    out->push_back(ActCtClear{});
    return std::nullopt;
  }
  if (subtype == kNxastNat)
    return action_error(BadActionCode::kBadExpType, "nat outside ct() is not supported");
  return action_error(BadActionCode::kBadExpType,
                      "Nicira action subtype " + std::to_string(subtype) +
                          " is not supported (of the Nicira actions: load, move, resubmit, note, ct, ct_clear)");
}

template <class A>
MaybeError decode_action_as(Reader& a, uint16_t len, ActionList* out) {
  if constexpr (std::is_same_v<A, ActSetField>) {
    return decode_set_field(a, len, out);
  } else if constexpr (std::is_same_v<A, ActCt> || std::is_same_v<A, ActCtClear> ||
                       std::is_same_v<A, ActResubmit> || std::is_same_v<A, ActRegLoad> ||
                       std::is_same_v<A, ActRegMove> || std::is_same_v<A, ActNote> ||
                       std::is_same_v<A, ActSample>) {
    return decode_experimenter_action(a, len, out);  // (reached through OFPAT_EXPERIMENTER only)
  } else {
    A act = read_layout<A>(a);
    OF_TRY(check_decoded(act));
    out->push_back(act);
    return std::nullopt;
  }
}

using ActionDecoder = MaybeError (*)(Reader&, uint16_t, ActionList*);
template <size_t... I>
constexpr std::array<ActionDecoder, sizeof...(I)> action_decoders(std::index_sequence<I...>) {
  return {&decode_action_as<std::variant_alternative_t<I, OfAction>>...};
}
constexpr auto kActionDecoders =
    action_decoders(std::make_index_sequence<std::variant_size_v<OfAction>>{});

// One action (a reader over exactly it, length checked); errors without
// the position, which the caller appends.
MaybeError decode_action(Reader& a, ActionList* out) {
  const uint16_t type = a.u16();
  const uint16_t len = a.u16();
  if (type == kAtExperimenter) return decode_experimenter_action(a, len, out);
  const int index = type < kActionIndexByType.size() ? kActionIndexByType[type] : -1;
  if (index < 0)
    return action_error(BadActionCode::kBadType, "action type " + std::to_string(type) + " is unknown");
  const ActionWire& wire = kActionWire[index];
  if (wire.len != 0 && len != wire.len)
    return action_error(BadActionCode::kBadLen, std::string(wire.name) + " action length " +
                                                    std::to_string(len) + " should be " +
                                                    std::to_string(wire.len));
  return kActionDecoders[index](a, len, out);
}

void encode_action_as(const ActSetField& s, Writer& w) {
  // tun_metadata: without its leading zero bytes, as OVS sends it.
  const unsigned width = field_value_len(s.field, s.value);
  size_t start = w.size();
  w.u16(kAtSetField);
  w.u16(static_cast<uint16_t>(pad8(8 + width)));
  w.u32(oxm_header(s.field, false, width));
  put_value(w, s.field, s.value, width);
  w.pad_to8(start);
}
void encode_action_as(const ActCtClear&, Writer& w) {
  encode_nx_header(w, 16, kNxastCtClear);
  w.zeros(6);
}

void encode_action_as(const ActSample& s, Writer& w) {
  const bool has_dir = s.direction != SampleDirection::kDefault;
  const bool long_form = has_dir || s.sampling_port != kSamplePortNone;
  encode_nx_header(w, long_form ? 32 : 24, has_dir ? kNxastSample3 : long_form ? kNxastSample2 : kNxastSample);
  w.u16(s.probability);
  w.u32(s.collector_set_id);
  w.u32(s.obs_domain_id);
  w.u32(s.obs_point_id);
  if (!long_form) return;
  w.u16(s.sampling_port);
  w.u8(static_cast<uint8_t>(s.direction));
  w.zeros(5);
}

// As OVS's encode_NAT: the ranges that are set, padded to 8 bytes.
void encode_nat(const base::NatRange& r, Writer& w) {
  const size_t start = w.size();
  encode_nx_header(w, 0, kNxastNat);
  w.zeros(2);
  w.u16(r.flags);
  const size_t present_at = w.size();
  w.u16(0);
  uint16_t present = 0;
  const unsigned bytes = r.family == 6 ? 16 : 4;
  auto zero = [&](const uint8_t* a) { return std::all_of(a, a + bytes, [](uint8_t x) { return x == 0; }); };
  if (r.family && !zero(r.addr_min)) {
    present |= r.family == 6 ? kNatRangeV6Min : kNatRangeV4Min;
    w.bytes({r.addr_min, bytes});
  }
  if (r.family && !zero(r.addr_max)) {
    present |= r.family == 6 ? kNatRangeV6Max : kNatRangeV4Max;
    w.bytes({r.addr_max, bytes});
  }
  if (r.family && r.port_min) {
    present |= kNatRangePortMin;
    w.u16(r.port_min);
  }
  if (r.family && r.port_max) {
    present |= kNatRangePortMax;
    w.u16(r.port_max);
  }
  w.put_u16_at(present_at, present);
  w.pad_to8(start);
  w.patch16(start + 2, w.size() - start, "nat action");
}

void encode_action_as(const ActCt& ct, Writer& w) {
  const size_t start = w.size();
  encode_nx_header(w, 0, kNxastCt);
  w.u16(static_cast<uint16_t>((ct.commit ? kNxCtFlagCommit : 0) | (ct.force ? kNxCtFlagForce : 0)));
  if (ct.zone_src) {  // zone from 16 bits of a register: ofs_nbits
    w.u32(oxm_header(*ct.zone_src, false, oxm_field_info(*ct.zone_src).width));
    w.u16(static_cast<uint16_t>(ct.zone_ofs << 6 | 15));
  } else {
    w.u32(0);  // zone_src: an immediate zone
    w.u16(ct.zone);
  }
  w.u8(ct.table);
  w.zeros(3);
  w.u16(0);  // alg
  if (ct.nat) encode_nat(*ct.nat, w);
  for (const CtExec& x : ct.exec) {
    if (!x.load) {
      encode_action_as(ActSetField{x.field, x.value}, w);
      continue;
    }
    encode_nx_header(w, 24, kNxastRegLoad);
    w.u16(static_cast<uint16_t>(x.ofs << 6 | (x.nbits - 1)));
    w.u32(oxm_header(x.field, false, oxm_field_info(x.field).width));
    w.u64(x.value.to_u64(8));
  }
  w.patch16(start + 2, w.size() - start, "ct action");
}

template <class A>
void encode_action_as(const A& a, Writer& w) {
  const ActionWire& wire = kActionWire[kIndexIn<A, OfAction>];
  const size_t start = w.size();
  w.u16(wire.type);
  w.u16(wire.len);
  write_layout(w, a);
  w.zeros(start + wire.len - w.size());
}

// ---- instructions ----------------------------------------------------------------

// One instruction (a reader over exactly it, length checked) into *in.
MaybeError decode_instruction(Reader& ir, Instructions* in) {
  const size_t off = ir.offset();
  const uint16_t type = ir.u16();
  const uint16_t len = ir.u16();
  auto bad = [&](BadInstructionCode c, const std::string& m) {
    return err(OfErrorType::kBadInstruction, c, m + at(off));
  };
  auto dup = [&](const char* name) {
    return bad(BadInstructionCode::kUnsupInst, std::string("duplicate ") + name + " instruction");
  };
  // A fixed-length instruction: its length, then that it is the first one.
  auto once = [&](size_t want, const char* name, bool seen) -> MaybeError {
    if (len != want)
      return bad(BadInstructionCode::kBadLen, std::string(name) + " instruction length " +
                                                  std::to_string(len) + " should be " +
                                                  std::to_string(want));
    if (seen) return dup(name);
    return std::nullopt;
  };
  switch (type) {
    case kItGotoTable:
      OF_TRY(once(8, "goto_table", in->goto_table.has_value()));
      in->goto_table = ir.u8();
      return std::nullopt;
    case kItWriteMetadata:
      OF_TRY(once(24, "write_metadata", in->write_metadata.has_value()));
      ir.skip(4);
      in->write_metadata = WriteMetadata{ir.u64(), ir.u64()};
      return std::nullopt;
    case kItWriteActions:
    case kItApplyActions: {
      const bool apply = type == kItApplyActions;
      std::optional<ActionList>& list = apply ? in->apply : in->write;
      if (list) return dup(apply ? "apply_actions" : "write_actions");
      ir.skip(4);
      ActionList acts;
      OF_TRY(decode_actions_at(ir, &acts));
      list = std::move(acts);
      return std::nullopt;
    }
    case kItClearActions:
      OF_TRY(once(8, "clear_actions", in->clear_actions));
      in->clear_actions = true;
      return std::nullopt;
    case kItMeter:
      OF_TRY(once(8, "meter", in->meter.has_value()));
      in->meter = ir.u32();
      return std::nullopt;
    case kItExperimenter:
      return bad(BadInstructionCode::kBadExperimenter,
                 "experimenter instruction " + std::to_string(ir.u32()) + " is not supported");
    default:
      return bad(BadInstructionCode::kUnknownInst,
                 "instruction type " + std::to_string(type) + " is unknown");
  }
}

// An instruction with one argument (8 or 24 bytes): type, length, its
// fields after `pad` bytes of padding.
template <class... V>
void encode_instruction(Writer& w, uint16_t type, size_t pad, V... fields) {
  const size_t start = w.size();
  w.u16(type);
  w.u16(static_cast<uint16_t>(pad8(4 + pad + (sizeof(V) + ... + 0))));
  w.zeros(pad);
  Put io(w);
  (io(fields), ...);
  w.pad_to8(start);
}

void encode_action_instruction(Writer& w, uint16_t type, const ActionList& list) {
  write_element(w, kInstructionRule, [&] {
    w.u16(type);
    w.u16(0);
    w.zeros(4);
    encode_action_list(list, w);
  });
}

}  // namespace

OfError element_error(const Reader& r, const ElementRule& rule) {
  const std::string where = at(r.offset());
  if (r.left() < rule.min_len)
    return OfError{rule.error, rule.code,
                   std::string(rule.what) + (rule.typed ? " header" : "") + " truncated (" +
                       std::to_string(r.left()) + " bytes left)" + where};
  std::string m = rule.what;
  if (rule.typed) m += " type " + std::to_string(r.peek16(0));
  m += " length " + std::to_string(r.peek16(rule.len_at));
  if (rule.exact) return OfError{rule.error, rule.code, m + " should be " +
                                                            std::to_string(rule.min_len) + where};
  return OfError{rule.error, rule.code,
                 m + " is invalid (must be a multiple of 8, at least " +
                     std::to_string(rule.min_len) + ", within the " + std::to_string(r.left()) +
                     " bytes left)" + where};
}

MaybeError decode_match_at(Reader& r, OfMatch* out) {
  OF_TRY(check_match_header(r));
  const uint16_t len = r.peek16(2);
  Reader m = r.sub(len);
  r.skip(pad8(len) - len);
  m.skip(4);
  OfMatch match;
  TunMetadataLayout dyn;  // tun_metadata placement when r has no TLV table
  if (!r.tlv()) place_dynamic(m, &dyn);
  while (!m.empty()) OF_TRY(decode_oxm(m, &match, &dyn));
  if (MaybeError e = match.check_prerequisites()) return e;
  *out = std::move(match);
  return std::nullopt;
}

void encode_match_w(const OfMatch& m, Writer& w) {
  size_t start = w.size();
  w.u16(kOfpmtOxm);
  w.u16(0);
  // OVS's order: registers before the conntrack fields.
  static const auto kOrder = [] {
    std::array<OxmField, kNumMatchFields> o{};
    unsigned n = 0;
    for (unsigned i = 0; i < kNumMatchFields; i++)
      if (!is_ct_field(static_cast<OxmField>(i)) && !is_register(static_cast<OxmField>(i)))
        o[n++] = static_cast<OxmField>(i);
    for (unsigned i = 0; i < kNumRegs; i++) o[n++] = reg_field(i);
    for (unsigned i = 0; i < kNumXregs; i++) o[n++] = xreg_field(i);
    for (OxmField f : {OxmField::kCtState, OxmField::kCtZone, OxmField::kCtMark, OxmField::kCtLabel}) o[n++] = f;
    return o;
  }();
  for (OxmField f : kOrder) {
    if (!m.has(f)) continue;
    // tun_metadata: the length of its TLV mapping (as OVS encodes a match).
    const unsigned width = is_tun_metadata(f) ? m.loc_of(f).len : oxm_field_info(f).width;
    bool exact = m.is_exact(f);
    w.u32(oxm_header(f, !exact, exact ? width : 2u * width));
    put_value(w, f, m.value_of(f), width);
    if (!exact) put_value(w, f, m.mask_of(f), width);
  }
  w.patch16(start + 2, w.size() - start, "match");
  w.pad_to8(start);
}

MaybeError decode_actions_at(Reader& r, ActionList* out) {
  ActionList list;
  OF_TRY(for_each_element(r, kActionRule, [&](Reader& a) -> MaybeError {
    const size_t off = a.offset();
    if (MaybeError e = decode_action(a, &list)) {
      e->message += at(off);
      return e;
    }
    return std::nullopt;
  }));
  *out = std::move(list);
  return std::nullopt;
}

void encode_action_list(const ActionList& actions, Writer& w) {
  for (const auto& act : actions) std::visit([&](const auto& a) { encode_action_as(a, w); }, act);
}

MaybeError decode_instructions_at(Reader& r, Instructions* out) {
  Instructions in;
  OF_TRY(for_each_element(r, kInstructionRule,
                          [&](Reader& ir) { return decode_instruction(ir, &in); }));
  *out = std::move(in);
  return std::nullopt;
}

// In execution order: meter, apply, clear, write, write-metadata, goto-table.
void encode_instructions_w(const Instructions& in, Writer& w) {
  if (in.meter) encode_instruction(w, kItMeter, 0, *in.meter);
  if (in.apply) encode_action_instruction(w, kItApplyActions, *in.apply);
  if (in.clear_actions) encode_instruction(w, kItClearActions, 0);
  if (in.write) encode_action_instruction(w, kItWriteActions, *in.write);
  if (in.write_metadata)
    encode_instruction(w, kItWriteMetadata, 4, in.write_metadata->value,
                       in.write_metadata->mask);
  if (in.goto_table) encode_instruction(w, kItGotoTable, 0, *in.goto_table);
}

MaybeError decode_buckets(Reader& r, std::vector<GroupBucket>* out) {
  std::vector<GroupBucket> buckets;
  OF_TRY(for_each_element(r, kBucketRule, [&](Reader& b) -> MaybeError {
    GroupBucket gb = read_layout<GroupBucket>(b);
    OF_TRY(decode_actions_at(b, &gb.actions));
    buckets.push_back(std::move(gb));
    return std::nullopt;
  }));
  *out = std::move(buckets);
  return std::nullopt;
}

void encode_buckets(const std::vector<GroupBucket>& buckets, Writer& w) {
  for (const auto& b : buckets)
    write_element(w, kBucketRule, [&] {
      write_layout(w, b);
      encode_action_list(b.actions, w);
    });
}

MaybeError decode_bands(Reader& r, std::vector<MeterBand>* out) {
  std::vector<MeterBand> bands;
  OF_TRY(for_each_element(r, kBandRule, [&](Reader& b) -> MaybeError {
    const size_t off = b.offset();
    const uint16_t type = b.u16();
    b.skip(2);
    MeterBand mb;
    mb.rate = b.u32();
    mb.burst_size = b.u32();
    mb.type = static_cast<MeterBandType>(type);
    switch (mb.type) {
      case MeterBandType::kDrop: break;
      case MeterBandType::kDscpRemark: mb.prec_level = b.u8(); break;
      case MeterBandType::kExperimenter: mb.experimenter = b.u32(); break;
      default:
        return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadBand,
                   "meter band type " + std::to_string(type) + " is unknown" + at(off));
    }
    bands.push_back(mb);
    return std::nullopt;
  }));
  *out = std::move(bands);
  return std::nullopt;
}

void encode_bands(const std::vector<MeterBand>& bands, Writer& w) {
  for (const auto& b : bands) {
    w.u16(static_cast<uint16_t>(b.type));
    w.u16(kMeterBandLen);
    w.u32(b.rate);
    w.u32(b.burst_size);
    if (b.type == MeterBandType::kDscpRemark) {
      w.u8(b.prec_level);
      w.zeros(3);
    } else if (b.type == MeterBandType::kExperimenter) {
      w.u32(b.experimenter);
    } else {
      w.zeros(4);
    }
  }
}

}  // namespace dps::ofproto::wire

// ---- public --------------------------------------------------------------------

namespace dps::ofproto {

void encode_match(const OfMatch& match, Bytes* out) {
  wire::Writer w(out);
  wire::encode_match_w(match, w);
}
void encode_actions(const ActionList& actions, Bytes* out) {
  wire::Writer w(out);
  wire::encode_action_list(actions, w);
}
void encode_instructions(const Instructions& insts, Bytes* out) {
  wire::Writer w(out);
  wire::encode_instructions_w(insts, w);
}
MaybeError decode_match(std::span<const uint8_t> bytes, OfMatch* out, size_t* consumed,
                        const TunMetadataLayout* tlv) {
  wire::Reader r(bytes, 0, tlv);
  OF_TRY(wire::decode_match_at(r, out));
  if (consumed) *consumed = bytes.size() - r.left();
  return std::nullopt;
}
MaybeError decode_actions(std::span<const uint8_t> bytes, ActionList* out,
                          const TunMetadataLayout* tlv) {
  wire::Reader r(bytes, 0, tlv);
  return wire::decode_actions_at(r, out);
}
MaybeError decode_instructions(std::span<const uint8_t> bytes, Instructions* out,
                               const TunMetadataLayout* tlv) {
  wire::Reader r(bytes, 0, tlv);
  return wire::decode_instructions_at(r, out);
}

}  // namespace dps::ofproto
