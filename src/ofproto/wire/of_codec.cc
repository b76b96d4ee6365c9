// of_codec.cc - OpenFlow messages: the header, one decoder and one encoder
// per message body, make_error_reply() and MessageFramer.
//
// Decoding is table-driven: kBodies gives each OFPT_* its length rule
// (any, exactly, at least N body bytes) and its decoder; the length is
// checked before the decoder runs. Bodies that are a fixed structure are
// described once by their layout() (of_codec_io.h) and decoded/encoded
// from it; the others have a short function each. The parts of messages
// (match, actions, buckets, ...) are in of_codec_parts.cc, multipart
// bodies in of_codec_multipart.cc.
#include "of_codec.h"

#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>

#include "of_codec_io.h"

namespace dps::ofproto::wire {

// ---- layouts -------------------------------------------------------------------

constexpr void layout(auto& io, Is<FeaturesReply> auto& f) {
  io(f.datapath_id);
  io(f.n_buffers);
  io(f.n_tables);
  io(f.auxiliary_id);
  io.pad(2);
  io(f.capabilities);
  io.pad(4);  // reserved
}
constexpr void layout(auto& io, IsAny<GetConfigReply, SetConfig> auto& c) {
  io(c.flags);
  io(c.miss_send_len);
}
constexpr void layout(auto& io, Is<PortStatus> auto& p) {
  io(p.reason);
  io.pad(7);
  io(p.desc);
}
constexpr void layout(auto& io, Is<PortMod> auto& p) {
  io(p.port_no);
  io.pad(4);
  io(p.hw_addr);
  io.pad(2);
  io(p.config);
  io(p.mask);
  io(p.advertise);
  io.pad(4);
}
constexpr void layout(auto& io, Is<TableMod> auto& t) {
  io(t.table_id);
  io.pad(3);
  io(t.config);
}
constexpr void layout(auto& io, IsAny<RoleRequest, RoleReply> auto& r) {
  io(r.role);
  io.pad(4);
  io(r.generation_id);
}
constexpr void layout(auto& io, Is<AsyncConfig> auto& a) {
  io(a.packet_in_mask);
  io(a.port_status_mask);
  io(a.flow_removed_mask);
}
constexpr void layout(auto& io, IsAny<GetAsyncReply, SetAsync> auto& a) { io(a.config); }
constexpr void layout(auto& io, IsAny<EchoRequest, EchoReply> auto& e) { io.rest(e.data); }
constexpr void layout(auto& io, Is<ExperimenterMsg> auto& x) {
  io(x.experimenter);
  io(x.exp_type);
  io.rest(x.data);
}

// The fixed parts before a match.
constexpr void layout(auto& io, Is<PacketIn> auto& p) {
  io(p.buffer_id);
  io(p.total_len);
  io(p.reason);
  io(p.table_id);
  io(p.cookie);
}
constexpr void layout(auto& io, Is<FlowRemoved> auto& f) {
  io(f.cookie);
  io(f.priority);
  io(f.reason);
  io(f.table_id);
  io(f.duration_sec);
  io(f.duration_nsec);
  io(f.idle_timeout);
  io(f.hard_timeout);
  io(f.packet_count);
  io(f.byte_count);
}
constexpr void layout(auto& io, Is<FlowModMsg> auto& m) {
  auto& fm = m.mod;
  io(fm.cookie);
  io(fm.cookie_mask);
  io(fm.table_id);
  io(fm.command);
  io(fm.idle_timeout);
  io(fm.hard_timeout);
  io(fm.priority);
  io(m.buffer_id);
  io(fm.out_port);
  io(fm.out_group);
  io(fm.flags);
  io.pad(2);
}
constexpr void layout(auto& io, Is<MeterMod> auto& m) {  // then bands
  io(m.command);
  io(m.flags);
  io(m.meter_id);
}

namespace {

static_assert(wire_size<FeaturesReply> == 24);
static_assert(wire_size<PortMod> == 32);
static_assert(wire_size<TableMod> == 8);
static_assert(wire_size<RoleRequest> == 16);
static_assert(wire_size<SetAsync> == 24);
static_assert(wire_size<FlowRemoved> == 40);

std::string hex(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "%x", v);
  return b;
}

// ---- decoders: the body after the header, its length already checked ----------

using BodyDecoder = MaybeError (*)(Reader&, OfBody*, const DecodeOptions&);

// Bodies that are their layout and nothing else.
template <class T>
MaybeError decode_plain(Reader& r, OfBody* out, const DecodeOptions&) {
  *out = read_layout<T>(r);
  return std::nullopt;
}

MaybeError decode_hello(Reader& r, OfBody* out, const DecodeOptions&) {
  Hello h;
  h.has_bitmap = false;
  h.versions = 0;
  while (r.left() >= 4) {
    const size_t off = r.offset();
    uint16_t etype = r.peek16(0);
    uint16_t elen = r.peek16(2);
    if (elen < 4 || elen > r.left())
      return bad_len("hello element length " + std::to_string(elen) + " is invalid" + at(off));
    Reader e = r.sub(elen);
    r.skip(pad8(elen) - elen);  // clamped: the last element may omit its padding
    e.skip(4);
    if (etype == kHelloElemVersionBitmap) {
      if (e.left() % 4 != 0 || e.empty())
        return bad_len("hello version bitmap length " + std::to_string(elen) +
                       " is not 4 + a multiple of 4" + at(off));
      h.has_bitmap = true;
      h.versions = e.u32();  // later words are versions >= 32
    }
  }
  *out = h;
  return std::nullopt;
}

MaybeError check_at_least(const Reader& r, size_t body, const char* what);

MaybeError decode_error(Reader& r, OfBody* out, const DecodeOptions&) {
  ErrorMsg e;
  e.type = static_cast<OfErrorType>(r.u16());
  e.code = r.u16();
  if (e.type == OfErrorType::kExperimenter) {
    OF_TRY(check_at_least(r, 4, "experimenter OFPT_ERROR"));
    e.experimenter = r.u32();
  }
  e.data = r.rest();
  *out = std::move(e);
  return std::nullopt;
}

// ---- Nicira TLV-table messages (after the experimenter id and subtype) ----------

OfError ttm_error(NxErrorCode c, std::string m) { return OfError::nx(c, std::move(m)); }

// nx_tlv_map entries to the end of r, checked as OVS's
// decode_tlv_table_mappings() does: option length a multiple of 4 up to
// 124 (NXTTMFC_BAD_OPT_LEN), index below max_fields (NXTTMFC_BAD_FIELD_IDX).
MaybeError decode_tlv_maps(Reader& r, unsigned max_fields, std::vector<TlvMap>* out) {
  if (r.left() % 8)
    return bad_len("TLV table mappings of " + std::to_string(r.left()) +
                   " bytes are not a multiple of 8" + at(r.offset()));
  while (!r.empty()) {
    const size_t off = r.offset();
    TlvMap m;
    m.opt_class = r.u16();
    m.opt_type = r.u8();
    m.opt_len = r.u8();
    m.index = r.u16();
    r.skip(2);
    if (m.opt_len % 4 || m.opt_len > 124)
      return ttm_error(NxErrorCode::kTtmBadOptLen, "TLV option length " + std::to_string(m.opt_len) +
                                                       " is not a multiple of 4 up to 124" + at(off));
    if (m.index >= max_fields)
      return ttm_error(NxErrorCode::kTtmBadFieldIdx, "TLV field index " + std::to_string(m.index) +
                                                         " is above tun_metadata" +
                                                         std::to_string(max_fields - 1) + at(off));
    out->push_back(m);
  }
  return std::nullopt;
}

MaybeError decode_tlv_table_mod(Reader& r, OfBody* out) {
  if (r.left() < 8) return bad_len("NXT_TLV_TABLE_MOD is shorter than its 24-byte minimum");
  TlvTableMod m;
  const uint16_t command = r.u16();
  r.skip(6);
  if (command > static_cast<uint16_t>(TlvTableCommand::kClear))
    return ttm_error(NxErrorCode::kTtmBadCommand,
                     "TLV table command " + std::to_string(command) + " is not add (0), delete (1) or clear (2)");
  m.command = static_cast<TlvTableCommand>(command);
  OF_TRY(decode_tlv_maps(r, kNumTunMetadata, &m.maps));
  *out = std::move(m);
  return std::nullopt;
}

MaybeError decode_tlv_table_reply(Reader& r, OfBody* out) {
  if (r.left() < 16) return bad_len("NXT_TLV_TABLE_REPLY is shorter than its 32-byte minimum");
  TlvTableReply m;
  m.max_option_space = r.u32();
  m.max_fields = r.u16();
  r.skip(10);
  OF_TRY(decode_tlv_maps(r, m.max_fields, &m.maps));
  *out = std::move(m);
  return std::nullopt;
}

// The Nicira messages this codec knows (the TLV-table ones); *handled false
// for any other experimenter message.
MaybeError decode_nicira(Reader& r, OfBody* out, bool* handled) {
  Reader h = r;
  const uint32_t vendor = h.u32();
  const uint32_t subtype = h.u32();
  *handled = vendor == kNxVendorId &&
             (subtype == kNxtTlvTableMod || subtype == kNxtTlvTableRequest || subtype == kNxtTlvTableReply);
  if (!*handled) return std::nullopt;
  if (subtype == kNxtTlvTableMod) return decode_tlv_table_mod(h, out);
  if (subtype == kNxtTlvTableReply) return decode_tlv_table_reply(h, out);
  if (!h.empty()) return bad_len("NXT_TLV_TABLE_REQUEST has a body");
  *out = TlvTableRequest{};
  return std::nullopt;
}

MaybeError decode_experimenter(Reader& r, OfBody* out, const DecodeOptions& opt) {
  bool handled = false;
  OF_TRY(decode_nicira(r, out, &handled));
  if (handled) return std::nullopt;
  if (!opt.accept_experimenter) {
    Reader id = r;
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter,
               "experimenter " + std::to_string(id.u32()) + " is not supported");
  }
  return decode_plain<ExperimenterMsg>(r, out, opt);
}

template <class T>
MaybeError decode_config(Reader& r, OfBody* out, const DecodeOptions&) {
  T c = read_layout<T>(r);
  if (c.flags & ~uint16_t{kFragMask})
    return err(OfErrorType::kSwitchConfigFailed, SwitchConfigFailedCode::kBadFlags,
               "config flags " + std::to_string(c.flags) +
                   " have unknown bits (only OFPC_FRAG_* allowed)");
  *out = c;
  return std::nullopt;
}

// The error for an enum read off the wire beyond `last`, the highest value
// this switch knows ("<what> N is unknown"); nullopt when it is known.
template <typename E, typename Code>
MaybeError check_known(E value, E last, OfErrorType type, Code code, const char* what) {
  using U = std::underlying_type_t<E>;
  if (static_cast<U>(value) <= static_cast<U>(last)) return std::nullopt;
  return err(type, code,
             std::string(what) + " " + std::to_string(static_cast<uint32_t>(value)) +
                 " is unknown");
}

template <class T>
MaybeError decode_role(Reader& r, OfBody* out, const DecodeOptions&) {
  T role = read_layout<T>(r);
  OF_TRY(check_known(role.role, ControllerRole::kSlave, OfErrorType::kRoleRequestFailed,
                     RoleRequestFailedCode::kBadRole, "controller role"));
  *out = role;
  return std::nullopt;
}

MaybeError decode_packet_in(Reader& r, OfBody* out, const DecodeOptions&) {
  PacketIn p = read_layout<PacketIn>(r);
  OF_TRY(decode_match_at(r, &p.match));
  if (r.left() < 2) return bad_len("OFPT_PACKET_IN has no room for the pad after the match");
  r.skip(2);
  p.data = r.rest();
  *out = std::move(p);
  return std::nullopt;
}

MaybeError decode_flow_removed(Reader& r, OfBody* out, const DecodeOptions&) {
  FlowRemoved f = read_layout<FlowRemoved>(r);
  OF_TRY(decode_match_at(r, &f.match));
  if (!r.empty()) return bad_len("OFPT_FLOW_REMOVED has bytes after the match" + at(r.offset()));
  *out = std::move(f);
  return std::nullopt;
}

bool valid_packet_out_in_port(uint32_t port) {
  return (port >= 1 && port <= kPortMax) || port == kPortController || port == kPortLocal ||
         port == kPortAny;
}

MaybeError decode_packet_out(Reader& r, OfBody* out, const DecodeOptions&) {
  PacketOut p;
  p.buffer_id = r.u32();
  p.in_port = r.u32();
  uint16_t actions_len = r.u16();
  r.skip(6);
  if (actions_len > r.left())
    return bad_len("packet-out actions_len " + std::to_string(actions_len) + " exceeds the " +
                   std::to_string(r.left()) + " bytes left");
  if (!valid_packet_out_in_port(p.in_port))
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadPort,
               "packet-out in_port " + std::to_string(p.in_port) + " is invalid");
  Reader a = r.sub(actions_len);
  OF_TRY(decode_actions_at(a, &p.actions));
  p.data = r.rest();
  *out = std::move(p);
  return std::nullopt;
}

MaybeError decode_flow_mod(Reader& r, OfBody* out, const DecodeOptions&) {
  FlowModMsg m;
  Get io(r);
  io(m);
  FlowMod& fm = m.mod;
  OF_TRY(check_known(fm.command, FlowModCommand::kDeleteStrict, OfErrorType::kFlowModFailed,
                     FlowModFailedCode::kBadCommand, "flow-mod command"));
  constexpr uint16_t kKnownFlags = kFlagSendFlowRem | kFlagCheckOverlap | kFlagResetCounts |
                                   kFlagNoPktCounts | kFlagNoBytCounts;
  if (fm.flags & ~kKnownFlags)
    return err(OfErrorType::kFlowModFailed, FlowModFailedCode::kBadFlags,
               "flow-mod flags 0x" + hex(fm.flags) + " have unknown bits");
  OF_TRY(decode_match_at(r, &fm.match));
  OF_TRY(decode_instructions_at(r, &fm.instructions));
  *out = std::move(m);
  return std::nullopt;
}

MaybeError decode_group_mod(Reader& r, OfBody* out, const DecodeOptions&) {
  GroupModMsg m;
  uint16_t command = r.u16();
  uint8_t gtype = r.u8();
  r.skip(1);
  m.mod.group_id = r.u32();
  if (command > static_cast<uint16_t>(GroupModCommand::kDelete))
    return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadCommand,
               "group-mod command " + std::to_string(command) + " is unknown");
  if (gtype > static_cast<uint8_t>(GroupType::kFastFailover))
    return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadType,
               "group type " + std::to_string(gtype) + " is unknown");
  m.mod.command = static_cast<GroupModCommand>(command);
  m.mod.type = static_cast<GroupType>(gtype);
  OF_TRY(decode_buckets(r, &m.mod.buckets));
  *out = std::move(m);
  return std::nullopt;
}

MaybeError decode_meter_mod(Reader& r, OfBody* out, const DecodeOptions&) {
  MeterMod m = read_layout<MeterMod>(r);
  OF_TRY(check_known(m.command, MeterModCommand::kDelete, OfErrorType::kMeterModFailed,
                     MeterModFailedCode::kBadCommand, "meter-mod command"));
  constexpr uint16_t kKnownFlags =
      kMeterFlagKbps | kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats;
  if (m.flags & ~kKnownFlags)
    return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadFlags,
               "meter flags " + std::to_string(m.flags) + " have unknown bits");
  OF_TRY(decode_bands(r, &m.bands));
  *out = std::move(m);
  return std::nullopt;
}

template <class M>
MaybeError decode_multipart_msg(Reader& r, OfBody* out, const DecodeOptions&) {
  const uint16_t type = r.u16();
  M m;
  m.flags = r.u16();
  r.skip(4);
  OF_TRY(decode_multipart(type, r, &m.body));
  *out = std::move(m);
  return std::nullopt;
}

// ---- the table -------------------------------------------------------------------

enum class BodyLen : uint8_t { kAny, kExactly, kAtLeast };

struct BodyCodec {
  OfpType type;
  BodyLen rule;
  uint16_t len;        // body bytes after the 8-byte header
  BodyDecoder decode;  // nullptr: not supported (bad_request/bad_type)
};

// Indexed by OFPT_*.
constexpr BodyCodec kBodies[] = {
    {OfpType::kHello, BodyLen::kAny, 0, decode_hello},
    {OfpType::kError, BodyLen::kAtLeast, 4, decode_error},
    {OfpType::kEchoRequest, BodyLen::kAny, 0, decode_plain<EchoRequest>},
    {OfpType::kEchoReply, BodyLen::kAny, 0, decode_plain<EchoReply>},
    {OfpType::kExperimenter, BodyLen::kAtLeast, 8, decode_experimenter},
    {OfpType::kFeaturesRequest, BodyLen::kExactly, 0, decode_plain<FeaturesRequest>},
    {OfpType::kFeaturesReply, BodyLen::kExactly, 24, decode_plain<FeaturesReply>},
    {OfpType::kGetConfigRequest, BodyLen::kExactly, 0, decode_plain<GetConfigRequest>},
    {OfpType::kGetConfigReply, BodyLen::kExactly, 4, decode_config<GetConfigReply>},
    {OfpType::kSetConfig, BodyLen::kExactly, 4, decode_config<SetConfig>},
    {OfpType::kPacketIn, BodyLen::kAtLeast, 16 + 8 + 2, decode_packet_in},
    {OfpType::kFlowRemoved, BodyLen::kAtLeast, 40 + 8, decode_flow_removed},
    {OfpType::kPortStatus, BodyLen::kExactly, 8 + kPortLen, decode_plain<PortStatus>},
    {OfpType::kPacketOut, BodyLen::kAtLeast, 16, decode_packet_out},
    {OfpType::kFlowMod, BodyLen::kAtLeast, kFlowModFixedLen + 8, decode_flow_mod},
    {OfpType::kGroupMod, BodyLen::kAtLeast, 8, decode_group_mod},
    {OfpType::kPortMod, BodyLen::kExactly, 32, decode_plain<PortMod>},
    {OfpType::kTableMod, BodyLen::kExactly, 8, decode_plain<TableMod>},
    {OfpType::kMultipartRequest, BodyLen::kAtLeast, 8, decode_multipart_msg<MultipartRequest>},
    {OfpType::kMultipartReply, BodyLen::kAtLeast, 8, decode_multipart_msg<MultipartReply>},
    {OfpType::kBarrierRequest, BodyLen::kExactly, 0, decode_plain<BarrierRequest>},
    {OfpType::kBarrierReply, BodyLen::kExactly, 0, decode_plain<BarrierReply>},
    {OfpType::kQueueGetConfigRequest, BodyLen::kAny, 0, nullptr},
    {OfpType::kQueueGetConfigReply, BodyLen::kAny, 0, nullptr},
    {OfpType::kRoleRequest, BodyLen::kExactly, 16, decode_role<RoleRequest>},
    {OfpType::kRoleReply, BodyLen::kExactly, 16, decode_role<RoleReply>},
    {OfpType::kGetAsyncRequest, BodyLen::kExactly, 0, decode_plain<GetAsyncRequest>},
    {OfpType::kGetAsyncReply, BodyLen::kExactly, 24, decode_plain<GetAsyncReply>},
    {OfpType::kSetAsync, BodyLen::kExactly, 24, decode_plain<SetAsync>},
    {OfpType::kMeterMod, BodyLen::kAtLeast, 8, decode_meter_mod},
};
static_assert(std::size(kBodies) == static_cast<size_t>(OfpType::kMeterMod) + 1);
static_assert([] {
  for (size_t i = 0; i < std::size(kBodies); i++)
    if (static_cast<size_t>(kBodies[i].type) != i) return false;
  return true;
}());

MaybeError check_at_least(const Reader& r, size_t body, const char* what) {
  if (r.left() < body)
    return bad_len(std::string(what) + " is " + std::to_string(r.left() + kOfpHeaderLen) +
                   " bytes, shorter than its minimum " + std::to_string(body + kOfpHeaderLen));
  return std::nullopt;
}

MaybeError check_body_len(const Reader& r, const BodyCodec& codec) {
  const char* what = of_type_name(codec.type);
  switch (codec.rule) {
    case BodyLen::kAny: return std::nullopt;
    case BodyLen::kAtLeast: return check_at_least(r, codec.len, what);
    case BodyLen::kExactly:
      if (r.left() != codec.len)
        return bad_len(std::string(what) + " is " + std::to_string(r.left() + kOfpHeaderLen) +
                       " bytes, should be " + std::to_string(codec.len + kOfpHeaderLen));
      return std::nullopt;
  }
  return std::nullopt;
}

MaybeError decode_body(OfpType type, Reader& r, OfBody* out, const DecodeOptions& opt) {
  const BodyCodec& codec = kBodies[static_cast<size_t>(type)];
  if (!codec.decode)
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadType,
               "message type " + std::to_string(static_cast<unsigned>(type)) + " (" +
                   of_type_name(type) + ") is not supported");
  OF_TRY(check_body_len(r, codec));
  return codec.decode(r, out, opt);
}

// ---- encoders --------------------------------------------------------------------

// Bodies that are their layout and nothing else.
template <class T>
void encode_body(const T& b, Writer& w) {
  write_layout(w, b);
}

void encode_body(const Hello& h, Writer& w) {
  if (!h.has_bitmap) return;
  w.u16(kHelloElemVersionBitmap);
  w.u16(8);
  w.u32(h.versions);
}
void encode_body(const ErrorMsg& e, Writer& w) {
  w.u16(static_cast<uint16_t>(e.type));
  w.u16(e.code);
  if (e.type == OfErrorType::kExperimenter) w.u32(e.experimenter);
  w.bytes(e.data);
}
void encode_body(const PacketIn& p, Writer& w) {
  write_layout(w, p);
  encode_match_w(p.match, w);
  w.zeros(2);
  w.bytes(p.data);
}
void encode_body(const FlowRemoved& f, Writer& w) {
  write_layout(w, f);
  encode_match_w(f.match, w);
}
void encode_body(const PacketOut& p, Writer& w) {
  w.u32(p.buffer_id);
  w.u32(p.in_port);
  size_t len_at = w.size();
  w.u16(0);
  w.zeros(6);
  size_t start = w.size();
  encode_action_list(p.actions, w);
  w.patch16(len_at, w.size() - start, "packet-out actions");
  w.bytes(p.data);
}
void encode_body(const FlowModMsg& m, Writer& w) {
  write_layout(w, m);
  encode_match_w(m.mod.match, w);
  encode_instructions_w(m.mod.instructions, w);
}
void encode_body(const GroupModMsg& m, Writer& w) {
  w.u16(static_cast<uint16_t>(m.mod.command));
  w.u8(static_cast<uint8_t>(m.mod.type));
  w.zeros(1);
  w.u32(m.mod.group_id);
  encode_buckets(m.mod.buckets, w);
}
void encode_body(const MeterMod& m, Writer& w) {
  write_layout(w, m);
  encode_bands(m.bands, w);
}
void encode_tlv_maps(const std::vector<TlvMap>& maps, Writer& w) {
  for (const TlvMap& m : maps) {
    w.u16(m.opt_class);
    w.u8(m.opt_type);
    w.u8(m.opt_len);
    w.u16(m.index);
    w.zeros(2);
  }
}
void encode_body(const TlvTableMod& m, Writer& w) {
  w.u32(kNxVendorId);
  w.u32(kNxtTlvTableMod);
  w.u16(static_cast<uint16_t>(m.command));
  w.zeros(6);
  encode_tlv_maps(m.maps, w);
}
void encode_body(const TlvTableRequest&, Writer& w) {
  w.u32(kNxVendorId);
  w.u32(kNxtTlvTableRequest);
}
void encode_body(const TlvTableReply& m, Writer& w) {
  w.u32(kNxVendorId);
  w.u32(kNxtTlvTableReply);
  w.u32(m.max_option_space);
  w.u16(m.max_fields);
  w.zeros(10);
  encode_tlv_maps(m.maps, w);
}
template <class M>
  requires IsAny<M, MultipartRequest, MultipartReply>
void encode_body(const M& m, Writer& w) {
  w.u16(static_cast<uint16_t>(multipart_type(m.body)));
  w.u16(m.flags);
  w.zeros(4);
  encode_multipart(m.body, w);
}

}  // namespace
}  // namespace dps::ofproto::wire

// ---- public --------------------------------------------------------------------

namespace dps::ofproto {

OfpType message_type(const OfBody& body) {
  static constexpr OfpType kTypes[] = {
      OfpType::kHello,          OfpType::kError,           OfpType::kEchoRequest,
      OfpType::kEchoReply,      OfpType::kExperimenter,    OfpType::kFeaturesRequest,
      OfpType::kFeaturesReply,  OfpType::kGetConfigRequest, OfpType::kGetConfigReply,
      OfpType::kSetConfig,      OfpType::kPacketIn,        OfpType::kFlowRemoved,
      OfpType::kPortStatus,     OfpType::kPacketOut,       OfpType::kFlowMod,
      OfpType::kGroupMod,       OfpType::kPortMod,         OfpType::kTableMod,
      OfpType::kMultipartRequest, OfpType::kMultipartReply, OfpType::kBarrierRequest,
      OfpType::kBarrierReply,   OfpType::kRoleRequest,     OfpType::kRoleReply,
      OfpType::kGetAsyncRequest, OfpType::kGetAsyncReply,  OfpType::kSetAsync,
      OfpType::kMeterMod,       OfpType::kExperimenter,    OfpType::kExperimenter,
      OfpType::kExperimenter,
  };
  static_assert(std::size(kTypes) == std::variant_size_v<OfBody>);
  return kTypes[body.index()];
}

const char* of_type_name(OfpType t) {
  static constexpr const char* kNames[] = {
      "OFPT_HELLO",          "OFPT_ERROR",           "OFPT_ECHO_REQUEST",
      "OFPT_ECHO_REPLY",     "OFPT_EXPERIMENTER",    "OFPT_FEATURES_REQUEST",
      "OFPT_FEATURES_REPLY", "OFPT_GET_CONFIG_REQUEST", "OFPT_GET_CONFIG_REPLY",
      "OFPT_SET_CONFIG",     "OFPT_PACKET_IN",       "OFPT_FLOW_REMOVED",
      "OFPT_PORT_STATUS",    "OFPT_PACKET_OUT",      "OFPT_FLOW_MOD",
      "OFPT_GROUP_MOD",      "OFPT_PORT_MOD",        "OFPT_TABLE_MOD",
      "OFPT_MULTIPART_REQUEST", "OFPT_MULTIPART_REPLY", "OFPT_BARRIER_REQUEST",
      "OFPT_BARRIER_REPLY",  "OFPT_QUEUE_GET_CONFIG_REQUEST", "OFPT_QUEUE_GET_CONFIG_REPLY",
      "OFPT_ROLE_REQUEST",   "OFPT_ROLE_REPLY",      "OFPT_GET_ASYNC_REQUEST",
      "OFPT_GET_ASYNC_REPLY", "OFPT_SET_ASYNC",      "OFPT_METER_MOD",
  };
  auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "OFPT_UNKNOWN";
}

MaybeError decode(std::span<const uint8_t> bytes, OfMessage* out, const DecodeOptions& options) {
  using namespace wire;
  if (bytes.size() < kOfpHeaderLen)
    return bad_len("message of " + std::to_string(bytes.size()) +
                   " bytes is shorter than the 8-byte OpenFlow header");
  Reader r(bytes, 0, options.tlv);
  uint8_t version = r.u8();
  uint8_t type = r.u8();
  uint16_t length = r.u16();
  uint32_t xid = r.u32();
  if (length != bytes.size())
    return bad_len("header length " + std::to_string(length) + " does not match the " +
                   std::to_string(bytes.size()) + " bytes of the message");
  if (type != static_cast<uint8_t>(OfpType::kHello) && version != kOfpVersion13)
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadVersion,
               "OpenFlow version 0x" + std::to_string(version >> 4) +
                   std::to_string(version & 0xf) + " is not supported (only 0x04, OpenFlow 1.3)");
  if (type > static_cast<uint8_t>(OfpType::kMeterMod))
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadType,
               "message type " + std::to_string(type) + " is unknown");
  OfMessage msg;
  msg.version = version;
  msg.xid = xid;
  OF_TRY(decode_body(static_cast<OfpType>(type), r, &msg.body, options));
  *out = std::move(msg);
  return std::nullopt;
}

Bytes encode(const OfMessage& msg) {
  Bytes out;
  out.reserve(64);
  wire::Writer w(&out);
  w.u8(msg.version);
  w.u8(static_cast<uint8_t>(message_type(msg.body)));
  w.u16(0);
  w.u32(msg.xid);
  std::visit([&](const auto& body) { wire::encode_body(body, w); }, msg.body);
  w.patch16(2, out.size(), of_type_name(message_type(msg.body)));
  return out;
}

OfMessage make_error_reply(const OfError& error, std::span<const uint8_t> offending) {
  OfMessage m;
  if (offending.size() >= kOfpHeaderLen) {
    wire::Reader r(offending, 0);
    r.skip(4);
    m.xid = r.u32();
  }
  ErrorMsg e;
  e.type = error.type;
  e.code = error.code;
  if (error.type == OfErrorType::kExperimenter) e.experimenter = error.experimenter;
  if (error.type == OfErrorType::kHelloFailed) {
    e.data.assign(error.message.begin(), error.message.end());
  } else {
    size_t n = std::min(offending.size(), kOfpErrorDataLen);
    e.data.assign(offending.begin(), offending.begin() + static_cast<ptrdiff_t>(n));
  }
  m.body = std::move(e);
  return m;
}

void MessageFramer::append(std::span<const uint8_t> data) {
  if (head_ > 0 && head_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

MessageFramer::Status MessageFramer::next(Bytes* msg) {
  size_t avail = buf_.size() - head_;
  if (avail < kOfpHeaderLen) return Status::kNeedMore;
  size_t len = size_t{buf_[head_ + 2]} << 8 | buf_[head_ + 3];
  if (len < kOfpHeaderLen) return Status::kBadLength;
  if (avail < len) return Status::kNeedMore;
  msg->assign(buf_.begin() + static_cast<ptrdiff_t>(head_),
              buf_.begin() + static_cast<ptrdiff_t>(head_ + len));
  head_ += len;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
  return Status::kMessage;
}

OfMessage MessageFramer::error_message() const {
  size_t avail = buf_.size() - head_;
  std::span<const uint8_t> hdr(buf_.data() + head_, std::min(avail, kOfpErrorDataLen));
  size_t len = avail >= 4 ? (size_t{buf_[head_ + 2]} << 8 | buf_[head_ + 3]) : 0;
  return make_error_reply(wire::bad_len("header length " + std::to_string(len) +
                                        " is shorter than the 8-byte OpenFlow header"),
                          hdr);
}

}  // namespace dps::ofproto
