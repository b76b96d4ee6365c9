// of_codec_multipart.cc - the bodies of OFPT_MULTIPART_REQUEST / _REPLY
// (OFPMP_*), their split into 64 KiB parts, and table features.
//
// A multipart body has one of three shapes, and the codec of each shape is
// written once:
//  - a fixed structure (DESC and the *_FEATURES replies, the AGGREGATE
//    reply, the port/queue/group/meter requests, the empty requests): its
//    layout(), its length checked to be exactly wire_size;
//  - a list of entries (kEntries names the member): fixed-size entries
//    (table, port and queue stats, ports) are a layout of wire_size bytes;
//    variable-size ones (flow, group and meter stats, group descs, meter
//    configs, table features) are length-prefixed elements framed by their
//    kRule, with a layout for the fixed part and code for the rest;
//  - the flow-stats filter (FLOW and AGGREGATE requests).
// Decoding dispatches on a table from ofp_multipart_type to the decoder of
// the variant alternative with that index: both body variants list their
// alternatives in OFPMP_* order.
#include <tuple>
#include <utility>

#include "of_codec.h"
#include "of_codec_io.h"

namespace dps::ofproto::wire {

// ---- layouts -------------------------------------------------------------------

// Requests that name one port, group or meter: the id and 4 bytes of padding.
constexpr void layout(auto& io, IsAny<PortStatsRequest, GroupStatsRequest, MeterStatsRequest,
                                      MeterConfigRequest> auto& r) {
  auto& [id] = r;
  io(id);
  io.pad(4);
}
constexpr void layout(auto& io, Is<QueueStatsRequest> auto& q) {
  io(q.port_no);
  io(q.queue_id);
}
constexpr void layout(auto& io, Is<FlowStatsRequest> auto& f) {  // the part before the match
  io(f.table_id);
  io.pad(3);
  io(f.out_port);
  io(f.out_group);
  io.pad(4);
  io(f.cookie);
  io(f.cookie_mask);
}

constexpr void layout(auto& io, Is<DescReply> auto& d) {
  io.str(d.mfr_desc, kDescStrLen);
  io.str(d.hw_desc, kDescStrLen);
  io.str(d.sw_desc, kDescStrLen);
  io.str(d.serial_num, kSerialNumLen);
  io.str(d.dp_desc, kDescStrLen);
}
constexpr void layout(auto& io, Is<AggregateReply> auto& a) {
  io(a.packet_count);
  io(a.byte_count);
  io(a.flow_count);
  io.pad(4);
}
constexpr void layout(auto& io, Is<GroupFeaturesReply> auto& g) {
  io(g.types);
  io(g.capabilities);
  io(g.max_groups);
  io(g.actions);
}
constexpr void layout(auto& io, Is<MeterFeaturesReply> auto& m) {
  io(m.max_meter);
  io(m.band_types);
  io(m.capabilities);
  io(m.max_bands);
  io(m.max_color);
  io.pad(2);
}

// Fixed-size entries.
constexpr void layout(auto& io, Is<TableStats> auto& t) {
  io(t.table_id);
  io.pad(3);
  io(t.active_count);
  io(t.lookup_count);
  io(t.matched_count);
}
constexpr void layout(auto& io, Is<PortStats> auto& p) {
  io(p.port_no);
  io.pad(4);
  for (auto* v : {&p.rx_packets, &p.tx_packets, &p.rx_bytes, &p.tx_bytes, &p.rx_dropped,
                  &p.tx_dropped, &p.rx_errors, &p.tx_errors, &p.rx_frame_err, &p.rx_over_err,
                  &p.rx_crc_err, &p.collisions})
    io(*v);
  io(p.duration_sec);
  io(p.duration_nsec);
}
constexpr void layout(auto& io, Is<QueueStats> auto& q) {
  io(q.port_no);
  io(q.queue_id);
  io(q.tx_bytes);
  io(q.tx_packets);
  io(q.tx_errors);
  io(q.duration_sec);
  io(q.duration_nsec);
}

// The fixed part of variable-size entries, their length field included
// (written as zero, patched by write_element; skipped when read).
constexpr void layout(auto& io, Is<FlowStats> auto& f) {  // then match, instructions
  io.pad(2);
  io(f.table_id);
  io.pad(1);
  io(f.duration_sec);
  io(f.duration_nsec);
  io(f.priority);
  io(f.idle_timeout);
  io(f.hard_timeout);
  io(f.flags);
  io.pad(4);
  io(f.cookie);
  io(f.packet_count);
  io(f.byte_count);
}
constexpr void layout(auto& io, Is<GroupStats> auto& g) {  // then bucket counters
  io.pad(4);
  io(g.group_id);
  io(g.ref_count);
  io.pad(4);
  io(g.packet_count);
  io(g.byte_count);
  io(g.duration_sec);
  io(g.duration_nsec);
}
constexpr void layout(auto& io, Is<GroupDesc> auto& g) {  // then buckets
  io.pad(2);
  io(g.type);
  io.pad(1);
  io(g.group_id);
}
constexpr void layout(auto& io, Is<MeterStats> auto& m) {  // then band counters
  io(m.meter_id);
  io.pad(8);  // length at 4
  io(m.flow_count);
  io(m.packet_in_count);
  io(m.byte_in_count);
  io(m.duration_sec);
  io(m.duration_nsec);
}
constexpr void layout(auto& io, Is<MeterConfig> auto& m) {  // then bands
  io.pad(2);
  io(m.flags);
  io(m.meter_id);
}
constexpr void layout(auto& io, Is<TableFeatures> auto& t) {  // then properties
  io.pad(2);
  io(t.table_id);
  io.pad(5);
  io.str(t.name, kOfpMaxTableNameLen);
  io(t.metadata_match);
  io(t.metadata_write);
  io(t.config);
  io(t.max_entries);
}
constexpr void layout(auto& io, IsAny<BucketCounter, MeterBandStats> auto& c) {
  auto& [packets, bytes] = c;
  io(packets);
  io(bytes);
}

namespace {

static_assert(wire_size<TableStats> == kTableStatsLen);
static_assert(wire_size<PortStats> == kPortStatsLen);
static_assert(wire_size<QueueStats> == kQueueStatsLen);
static_assert(wire_size<FlowStats> == kFlowStatsFixedLen);
static_assert(wire_size<GroupStats> == kGroupStatsFixedLen);
static_assert(wire_size<BucketCounter> == kBucketCounterLen);
static_assert(wire_size<MeterStats> == kMeterStatsFixedLen);
static_assert(wire_size<MeterBandStats> == kMeterBandStatsLen);
static_assert(wire_size<GroupDesc> == kGroupDescFixedLen);
static_assert(wire_size<MeterConfig> == kMeterConfigFixedLen);

// ---- which bodies are lists, and how their entries are framed ------------------

// The bodies that are a list of entries, by the member that holds them.
constexpr auto kLists = std::make_tuple(
    &FlowStatsReply::flows, &TableStatsReply::tables, &PortStatsReply::ports,
    &QueueStatsReply::queues, &GroupStatsReply::groups, &GroupDescReply::groups,
    &MeterStatsReply::meters, &MeterConfigReply::meters, &TableFeaturesReply::tables,
    &TableFeaturesRequest::tables, &PortDescReply::ports);

template <class M>
struct MemberOf;
template <class C, class T>
struct MemberOf<T C::*> {
  using Class = C;
};

template <class B, class M, class... Rest>
constexpr auto entries_in(M m, Rest... rest) {
  if constexpr (std::is_same_v<typename MemberOf<M>::Class, B>)
    return m;
  else if constexpr (sizeof...(Rest) > 0)
    return entries_in<B>(rest...);
  else
    return nullptr;
}

// The member of B in kLists (its entries), or nullptr when B is not a list.
template <class B>
inline constexpr auto kEntries = std::apply([](auto... m) { return entries_in<B>(m...); }, kLists);

template <class B>
inline constexpr bool kIsList = !std::is_null_pointer_v<std::remove_const_t<decltype(kEntries<B>)>>;

constexpr ElementRule stats_rule(const char* what, size_t min_len, size_t len_at) {
  return element_rule(what, min_len, len_at, false, false, OfErrorType::kBadRequest,
                      BadRequestCode::kBadLen);
}

// How a variable-size entry is framed; what == nullptr: a fixed-size entry.
template <class E>
inline constexpr ElementRule kRule{};
template <>
inline constexpr ElementRule kRule<FlowStats> = stats_rule("flow stats", kFlowStatsFixedLen + 8, 0);
template <>
inline constexpr ElementRule kRule<GroupStats> = stats_rule("group stats", kGroupStatsFixedLen, 0);
template <>
inline constexpr ElementRule kRule<GroupDesc> = stats_rule("group desc", kGroupDescFixedLen, 0);
template <>
inline constexpr ElementRule kRule<MeterStats> = stats_rule("meter stats", kMeterStatsFixedLen, 4);
template <>
inline constexpr ElementRule kRule<MeterConfig> =
    stats_rule("meter config", kMeterConfigFixedLen, 0);
template <>
inline constexpr ElementRule kRule<TableFeatures> =
    element_rule("table features", kTableFeaturesFixedLen, 0, false, false,
                 OfErrorType::kTableFeaturesFailed, TableFeaturesFailedCode::kBadLen);

// "OFPMP_PORT_STATS request", for errors.
template <class B>
std::string body_name() {
  constexpr size_t kRequest = kIndexIn<B, MultipartRequestBody>;
  constexpr bool kIsRequest = kRequest < std::variant_size_v<MultipartRequestBody>;
  constexpr size_t kType = kIsRequest ? kRequest : kIndexIn<B, MultipartReplyBody>;
  return std::string(multipart_type_name(static_cast<MultipartType>(kType))) +
         (kIsRequest ? " request" : " reply");
}

OfError wrong_body_len(const Reader& r, size_t want, const std::string& what) {
  return bad_len(what + " body is " + std::to_string(r.left()) + " bytes, should be " +
                 std::to_string(want) + at(r.offset()));
}

// ---- table features ------------------------------------------------------------

enum class PropKind { kInstructionIds, kTableIds, kActionIds, kOxmIds, kExperimenter, kUnknown };

PropKind prop_kind(uint16_t type) {
  switch (type) {
    case 0: case 1: return PropKind::kInstructionIds;
    case 2: case 3: return PropKind::kTableIds;
    case 4: case 5: case 6: case 7: return PropKind::kActionIds;
    case 8: case 10: case 12: case 13: case 14: case 15: return PropKind::kOxmIds;
    case 0xfffe: case 0xffff: return PropKind::kExperimenter;
    default: return PropKind::kUnknown;
  }
}

OfError table_features_error(TableFeaturesFailedCode c, const std::string& m, size_t off) {
  return err(OfErrorType::kTableFeaturesFailed, c, m + at(off));
}

// The ids of a property (p past its 4-byte header) by its kind.
MaybeError decode_prop_ids(Reader& p, uint16_t ptype, uint16_t plen, size_t poff,
                           std::vector<uint32_t>* ids) {
  switch (prop_kind(ptype)) {
    case PropKind::kInstructionIds:
    case PropKind::kActionIds:
      while (!p.empty()) {
        if (p.left() < 4)
          return table_features_error(TableFeaturesFailedCode::kBadLen,
                                      "truncated id in property", p.offset());
        uint16_t id = p.peek16(0);
        uint16_t idlen = p.peek16(2);
        if (idlen < 4 || idlen > p.left())
          return table_features_error(TableFeaturesFailedCode::kBadLen,
                                      "id length " + std::to_string(idlen) + " is invalid",
                                      p.offset());
        p.skip(idlen);
        ids->push_back(id);
      }
      return std::nullopt;
    case PropKind::kTableIds:
      while (!p.empty()) ids->push_back(p.u8());
      return std::nullopt;
    case PropKind::kOxmIds:
    case PropKind::kExperimenter:
      if (p.left() % 4 != 0 || (prop_kind(ptype) == PropKind::kExperimenter && p.left() < 8))
        return table_features_error(TableFeaturesFailedCode::kBadLen,
                                    "property " + std::to_string(ptype) + " length " +
                                        std::to_string(plen) + " is not 4 + a multiple of 4",
                                    poff);
      while (!p.empty()) ids->push_back(p.u32());
      return std::nullopt;
    case PropKind::kUnknown: break;
  }
  return table_features_error(TableFeaturesFailedCode::kBadType,
                              "table feature property type " + std::to_string(ptype) +
                                  " is unknown",
                              poff);
}

// One table feature property (padded to 8) off t.
MaybeError decode_prop(Reader& t, TableFeatureProp* prop) {
  const size_t poff = t.offset();
  if (t.left() < 4)
    return table_features_error(TableFeaturesFailedCode::kBadLen,
                                "table feature property truncated", poff);
  uint16_t ptype = t.peek16(0);
  uint16_t plen = t.peek16(2);
  if (plen < 4 || pad8(plen) > t.left())
    return table_features_error(TableFeaturesFailedCode::kBadLen,
                                "table feature property " + std::to_string(ptype) + " length " +
                                    std::to_string(plen) + " (padded to 8) exceeds the " +
                                    std::to_string(t.left()) + " bytes left",
                                poff);
  Reader p = t.sub(plen);
  t.skip(pad8(plen) - plen);
  p.skip(4);
  prop->type = static_cast<TableFeaturePropType>(ptype);
  return decode_prop_ids(p, ptype, plen, poff, &prop->ids);
}

void encode_prop(const TableFeatureProp& p, Writer& w) {
  size_t ps = w.size();
  uint16_t ptype = static_cast<uint16_t>(p.type);
  w.u16(ptype);
  w.u16(0);
  switch (prop_kind(ptype)) {
    case PropKind::kInstructionIds:
    case PropKind::kActionIds:
      for (uint32_t id : p.ids) {
        w.u16(static_cast<uint16_t>(id));
        w.u16(4);
      }
      break;
    case PropKind::kTableIds:
      for (uint32_t id : p.ids) w.u8(static_cast<uint8_t>(id));
      break;
    case PropKind::kOxmIds:
    case PropKind::kExperimenter:
      for (uint32_t id : p.ids) w.u32(id);
      break;
    case PropKind::kUnknown:
      throw std::invalid_argument("table feature property type " + std::to_string(ptype) +
                                  " is unknown");
  }
  w.patch16(ps + 2, w.size() - ps, "table feature property");
  w.pad_to8(ps);
}

// ---- variable-size entries: what follows the fixed part ------------------------

// Entries that end in 16-byte counters (group stats: per bucket, meter
// stats: per band).
template <class E, class C>
MaybeError decode_with_counters(Reader& e, E* out, std::vector<C> E::*counters, const char* what) {
  if ((e.left() - wire_size<E>) % wire_size<C>)
    return bad_len(std::string(what) + " are not a multiple of 16 bytes" + at(e.offset()));
  Get io(e);
  io(*out);
  while (!e.empty()) (out->*counters).push_back(read_layout<C>(e));
  return std::nullopt;
}

MaybeError decode_entry(Reader& e, FlowStats* f) {
  Get io(e);
  io(*f);
  OF_TRY(decode_match_at(e, &f->match));
  return decode_instructions_at(e, &f->instructions);
}
MaybeError decode_entry(Reader& e, GroupStats* g) {
  return decode_with_counters(e, g, &GroupStats::buckets, "group stats bucket counters");
}
MaybeError decode_entry(Reader& e, MeterStats* m) {
  return decode_with_counters(e, m, &MeterStats::bands, "meter band stats");
}
MaybeError decode_entry(Reader& e, GroupDesc* g) {
  const size_t type_end = e.offset() + 3;  // where the error points
  Get io(e);
  io(*g);
  if (static_cast<uint8_t>(g->type) > static_cast<uint8_t>(GroupType::kFastFailover))
    return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadType,
               "group type " + std::to_string(static_cast<uint8_t>(g->type)) + " is unknown" +
                   at(type_end));
  return decode_buckets(e, &g->buckets);
}
MaybeError decode_entry(Reader& e, MeterConfig* m) {
  Get io(e);
  io(*m);
  return decode_bands(e, &m->bands);
}
MaybeError decode_entry(Reader& t, TableFeatures* tf) {
  Get io(t);
  io(*tf);
  while (!t.empty()) {
    TableFeatureProp prop;
    OF_TRY(decode_prop(t, &prop));
    tf->properties.push_back(std::move(prop));
  }
  return std::nullopt;
}

void encode_entry_rest(const FlowStats& f, Writer& w) {
  encode_match_w(f.match, w);
  encode_instructions_w(f.instructions, w);
}
void encode_entry_rest(const GroupStats& g, Writer& w) {
  for (const auto& b : g.buckets) write_layout(w, b);
}
void encode_entry_rest(const MeterStats& m, Writer& w) {
  for (const auto& b : m.bands) write_layout(w, b);
}
void encode_entry_rest(const GroupDesc& g, Writer& w) { encode_buckets(g.buckets, w); }
void encode_entry_rest(const MeterConfig& m, Writer& w) { encode_bands(m.bands, w); }
void encode_entry_rest(const TableFeatures& t, Writer& w) {
  for (const auto& p : t.properties) encode_prop(p, w);
}

// ---- entries and lists of them -------------------------------------------------

template <class E>
void encode_entry(const E& e, Writer& w) {
  if constexpr (kRule<E>.what == nullptr) {
    write_layout(w, e);
  } else {
    write_element(w, kRule<E>, [&] {
      write_layout(w, e);
      encode_entry_rest(e, w);
    });
  }
}

// The entries of a list body; `body` names it in errors about fixed-size
// entries.
template <class E>
MaybeError decode_entries(Reader& r, std::vector<E>* out, std::string (*body)()) {
  if constexpr (kRule<E>.what == nullptr) {
    if (r.left() % wire_size<E> != 0)
      return bad_len(body() + " body of " + std::to_string(r.left()) +
                     " bytes is not a multiple of " + std::to_string(wire_size<E>) +
                     at(r.offset()));
    while (!r.empty()) out->push_back(read_layout<E>(r));
    return std::nullopt;
  } else {
    return for_each_element(r, kRule<E>, [&](Reader& e) -> MaybeError {
      E item;
      OF_TRY(decode_entry(e, &item));
      out->push_back(std::move(item));
      return std::nullopt;
    });
  }
}

// ---- bodies --------------------------------------------------------------------

MaybeError decode_flow_stats_request(Reader& r, FlowStatsRequest* out, MultipartType type) {
  if (r.left() < 32 + 8)  // the filter and an empty match
    return bad_len(std::string(multipart_type_name(type)) + " request body of " +
                   std::to_string(r.left()) + " bytes is too short (at least 40)" +
                   at(r.offset()));
  Get io(r);
  io(*out);
  OF_TRY(decode_match_at(r, &out->match));
  if (!r.empty())
    return bad_len(std::string(multipart_type_name(type)) + " request has " +
                   std::to_string(r.left()) + " bytes after the match" + at(r.offset()));
  return std::nullopt;
}

MaybeError decode_body(Reader& r, FlowStatsRequest* out) {
  return decode_flow_stats_request(r, out, MultipartType::kFlow);
}
MaybeError decode_body(Reader& r, AggregateRequest* out) {
  return decode_flow_stats_request(r, &out->filter, MultipartType::kAggregate);
}
template <class B>
MaybeError decode_body(Reader& r, B* out) {
  if constexpr (kIsList<B>) {
    return decode_entries(r, &(out->*kEntries<B>), &body_name<B>);
  } else {
    if (r.left() != wire_size<B>) return wrong_body_len(r, wire_size<B>, body_name<B>());
    Get io(r);
    io(*out);
    return std::nullopt;
  }
}

void encode_body(const FlowStatsRequest& f, Writer& w) {
  write_layout(w, f);
  encode_match_w(f.match, w);
}
void encode_body(const AggregateRequest& a, Writer& w) { encode_body(a.filter, w); }
template <class B>
void encode_body(const B& b, Writer& w) {
  if constexpr (kIsList<B>) {
    for (const auto& e : b.*kEntries<B>) encode_entry(e, w);
  } else {
    write_layout(w, b);
  }
}

// Decodes alternative I of the body variant V.
template <class V, size_t I>
MaybeError decode_alternative(Reader& r, V* out) {
  std::variant_alternative_t<I, V> body;
  OF_TRY(decode_body(r, &body));
  *out = std::move(body);
  return std::nullopt;
}

template <class V, size_t... I>
constexpr auto body_decoders(std::index_sequence<I...>) {
  return std::array<MaybeError (*)(Reader&, V*), sizeof...(I)>{&decode_alternative<V, I>...};
}

template <class V>
MaybeError decode_typed(uint16_t type, Reader& r, V* out, const char* dir) {
  static constexpr auto kDecoders =
      body_decoders<V>(std::make_index_sequence<std::variant_size_v<V>>{});
  if (type < kDecoders.size()) return kDecoders[type](r, out);
  if (type == static_cast<uint16_t>(MultipartType::kExperimenter))
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter,
               std::string("experimenter multipart ") + dir + " is not supported");
  return err(OfErrorType::kBadRequest, BadRequestCode::kBadMultipart,
             "multipart type " + std::to_string(type) + " is unknown");
}

// Multipart splitting: bodies with a list of entries.
template <class Reply, class Entry>
std::vector<MultipartReply> split_list(const MultipartReply& whole, const Reply& rep,
                                       std::vector<Entry> Reply::*member, size_t max_len) {
  std::vector<MultipartReply> parts;
  const size_t budget = max_len - kMultipartHeaderLen;
  Reply cur;
  size_t used = 0;
  for (const Entry& e : rep.*member) {
    Bytes tmp;
    Writer w(&tmp);
    encode_entry(e, w);
    if (tmp.size() > budget)
      throw std::length_error("one multipart entry of " + std::to_string(tmp.size()) +
                              " bytes does not fit in a message");
    if (used + tmp.size() > budget) {
      parts.push_back(MultipartReply{kMultipartMore, std::move(cur)});
      cur = Reply{};
      used = 0;
    }
    (cur.*member).push_back(e);
    used += tmp.size();
  }
  parts.push_back(MultipartReply{whole.flags, std::move(cur)});
  return parts;
}

}  // namespace

MaybeError decode_multipart(uint16_t type, Reader& r, MultipartRequestBody* out) {
  return decode_typed(type, r, out, "request");
}
MaybeError decode_multipart(uint16_t type, Reader& r, MultipartReplyBody* out) {
  return decode_typed(type, r, out, "reply");
}
void encode_multipart(const MultipartRequestBody& body, Writer& w) {
  std::visit([&](const auto& b) { encode_body(b, w); }, body);
}
void encode_multipart(const MultipartReplyBody& body, Writer& w) {
  std::visit([&](const auto& b) { encode_body(b, w); }, body);
}

}  // namespace dps::ofproto::wire

// ---- public --------------------------------------------------------------------

namespace dps::ofproto {

// Both body variants list their alternatives in OFPMP_* order.
static_assert(std::variant_size_v<MultipartReplyBody> == std::variant_size_v<MultipartRequestBody>);
static_assert(wire::kIndexIn<PortDescRequest, MultipartRequestBody> ==
              static_cast<size_t>(MultipartType::kPortDesc));
static_assert(wire::kIndexIn<PortDescReply, MultipartReplyBody> ==
              static_cast<size_t>(MultipartType::kPortDesc));

MultipartType multipart_type(const MultipartRequestBody& body) {
  return static_cast<MultipartType>(body.index());
}
MultipartType multipart_type(const MultipartReplyBody& body) {
  return static_cast<MultipartType>(body.index());
}

const char* multipart_type_name(MultipartType t) {
  static constexpr const char* kNames[] = {
      "OFPMP_DESC",      "OFPMP_FLOW",         "OFPMP_AGGREGATE",     "OFPMP_TABLE",
      "OFPMP_PORT_STATS", "OFPMP_QUEUE",       "OFPMP_GROUP",         "OFPMP_GROUP_DESC",
      "OFPMP_GROUP_FEATURES", "OFPMP_METER",   "OFPMP_METER_CONFIG",  "OFPMP_METER_FEATURES",
      "OFPMP_TABLE_FEATURES", "OFPMP_PORT_DESC",
  };
  if (t == MultipartType::kExperimenter) return "OFPMP_EXPERIMENTER";
  auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "OFPMP_UNKNOWN";
}

std::vector<MultipartReply> split_multipart_reply(const MultipartReply& reply, size_t max_len) {
  max_len = std::min(max_len, kOfpMaxMessageLen);
  if (max_len <= wire::kMultipartHeaderLen) throw std::invalid_argument("max_len too small");
  return std::visit(
      [&]<class B>(const B& body) {
        if constexpr (wire::kIsList<B>)
          return wire::split_list(reply, body, wire::kEntries<B>, max_len);
        else
          return std::vector<MultipartReply>{reply};
      },
      reply.body);
}

std::vector<Bytes> encode_multipart_reply(uint32_t xid, const MultipartReply& reply,
                                          size_t max_len) {
  std::vector<Bytes> out;
  for (auto& part : split_multipart_reply(reply, max_len)) {
    OfMessage m;
    m.xid = xid;
    m.body = std::move(part);
    out.push_back(encode(m));
  }
  return out;
}

}  // namespace dps::ofproto
