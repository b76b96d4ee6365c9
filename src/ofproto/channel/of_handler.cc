#include "of_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "overloaded.h"

namespace dps::ofproto {

namespace {

template <typename Code>
OfError err(OfErrorType t, Code c, std::string msg) {
  return OfError::make(t, c, std::move(msg));
}

OfError is_slave_error(const char* what) {
  return err(OfErrorType::kBadRequest, BadRequestCode::kIsSlave,
             std::string(what) + " is not allowed from a controller in the slave role");
}

// OFPIT_* numbers: goto_table, write_metadata, write/apply/clear actions, meter.
constexpr uint32_t kInstructionTypes[] = {1, 2, 3, 4, 5, 6};
// The actions and set-field fields advertised are the datapath's
// (kDpActionTypes, kDpSettableFields in of_actions.h): what validation accepts.

GroupFeaturesReply group_features() {
  GroupFeaturesReply out;
  out.types = 0xf;  // all, select, indirect, fast failover
  out.capabilities = kGroupCapSelectWeight | kGroupCapSelectLiveness | kGroupCapChaining |
                     kGroupCapChainingChecks;
  uint32_t acts = 0;
  for (uint32_t a : kDpActionTypes) acts |= 1u << a;
  out.max_groups = {65535, 65535, 65535, 65535};
  out.actions = {acts, acts, acts, acts};
  return out;
}

uint32_t oxm_header(OxmField f) {
  return (uint32_t{kOxmClassOpenflowBasic} << 16) | (uint32_t{static_cast<uint8_t>(f)} << 9) |
         oxm_field_info(f).width;
}

}  // namespace

AsyncConfig default_async_config() {
  AsyncConfig a;
  // master/equal: packet-ins for no_match and action, every port status and
  // flow-removed reason; slave: port status only.
  a.packet_in_mask = {(1u << 0) | (1u << 1), 0};
  a.port_status_mask = {0x7, 0x7};
  a.flow_removed_mask = {0xf, 0};
  return a;
}

// --- PacketBufferPool -------------------------------------------------------------

uint32_t PacketBufferPool::store(uint32_t in_port, std::span<const uint8_t> frame) {
  uint32_t seq = next_++;
  uint32_t slot = seq % kPacketBuffers;
  uint32_t id = ((seq / kPacketBuffers) << 8 | slot) & 0x7fffffffu;  // never OFP_NO_BUFFER
  Slot& s = slots_[slot];
  s.id = id;
  s.in_port = in_port;
  s.full = true;
  s.frame.assign(frame.begin(), frame.end());
  return id;
}

MaybeError PacketBufferPool::take(uint32_t id, uint32_t* in_port, Bytes* frame) {
  Slot& s = slots_[id & 0xff];
  if (s.id != id)
    return err(OfErrorType::kBadRequest, BadRequestCode::kBufferUnknown,
               "buffer_id " + std::to_string(id) + " is unknown or was overwritten");
  if (!s.full)
    return err(OfErrorType::kBadRequest, BadRequestCode::kBufferEmpty,
               "buffer_id " + std::to_string(id) + " was already used");
  s.full = false;
  *in_port = s.in_port;
  *frame = std::move(s.frame);
  s.frame.clear();
  return std::nullopt;
}

// --- OfHandler ----------------------------------------------------------------------

OfHandler::OfHandler(Ofproto& ofp, HandlerConfig cfg) : ofp_(ofp), cfg_(std::move(cfg)) {
  if (cfg_.dp_desc.empty()) cfg_.dp_desc = ofp_.bridge().name;
  start_ms_ = ofp_.now_ms();
  for (PortDesc& d : ofp_.port_descs()) ports_[d.port_no] = std::move(d);
}

Bytes OfHandler::hello() { return encode(OfMessage{kOfpVersion13, 0, Hello{}}); }

void OfHandler::send(ChannelState& ch, uint32_t xid, OfBody body) {
  ch.push(encode(OfMessage{kOfpVersion13, xid, std::move(body)}));
}

void OfHandler::send_error(ChannelState& ch, const OfError& e, std::span<const uint8_t> raw) {
  spdlog::debug("openflow #{} {}: error {}: {}", ch.id, ch.peer, of_error_name(e.type, e.code),
                e.message);
  OfMessage reply = make_error_reply(e, raw);
  // The spec asks for at least 64 bytes of the request; like OVS we send
  // all of it (so decoders can parse it), as far as the 64 KiB frame allows.
  auto& em = std::get<ErrorMsg>(reply.body);
  if (e.type != OfErrorType::kHelloFailed && raw.size() > em.data.size())
    em.data.assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(
                                                  raw.size(), kOfpMaxMessageLen - 12)));
  ch.push(encode(reply));
  ch.errors_sent++;
  stats_.errors++;
}

void OfHandler::handle(ChannelState& ch, std::span<const uint8_t> raw) {
  ch.rx_messages++;
  stats_.messages++;
  OfMessage m;
  DecodeOptions opts;
  opts.tlv = &ofp_.tlv_table().layout();  // tun_metadataN must be mapped
  if (MaybeError e = decode(raw, &m, opts)) {
    // A HELLO that does not decode still ends the negotiation.
    if (!ch.hello_done) ch.closing = true;
    send_error(ch, *e, raw);
    return;
  }
  MaybeError e = ch.hello_done || std::holds_alternative<Hello>(m.body)
                     ? dispatch(ch, m, raw)
                     : err(OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible,
                           std::string("expected OFPT_HELLO first, got ") +
                               of_type_name(message_type(m.body)));
  if (e) {
    if (e->type == OfErrorType::kHelloFailed) ch.closing = true;
    send_error(ch, *e, raw);
  }
}

MaybeError OfHandler::on_hello(ChannelState& ch, const OfMessage& m, std::span<const uint8_t>) {
  const Hello& h = std::get<Hello>(m.body);
  if (ch.hello_done) return std::nullopt;  // a repeated HELLO is harmless
  if (!of13_allowed_)
    return err(OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible,
               "OpenFlow 1.3 is not among the bridge's protocols (Bridge.protocols), the only "
               "version this switch speaks");
  bool ok = h.has_bitmap ? (h.versions & (1u << kOfpVersion13)) != 0 : m.version >= kOfpVersion13;
  if (!ok)
    return err(OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible,
               "this switch speaks OpenFlow 1.3 (wire version 0x04) only; the peer offers " +
                   (h.has_bitmap ? "version bitmap 0x" + fmt::format("{:x}", h.versions)
                                 : "version 0x" + fmt::format("{:02x}", m.version)));
  ch.hello_done = true;
  spdlog::info("openflow #{} {}: OpenFlow 1.3 negotiated", ch.id, ch.peer);
  return std::nullopt;
}

namespace {

// Messages that change the switch: not from a controller in the slave role.
bool master_only(const OfBody& body) {
  return std::holds_alternative<PacketOut>(body) || std::holds_alternative<FlowModMsg>(body) ||
         std::holds_alternative<GroupModMsg>(body) || std::holds_alternative<PortMod>(body) ||
         std::holds_alternative<TableMod>(body) || std::holds_alternative<MeterMod>(body) ||
         std::holds_alternative<TlvTableMod>(body);
}

// Switch-to-controller messages: a controller sending one gets bad_type.
template <typename T>
constexpr bool kSentBySwitches =
    std::is_same_v<T, FeaturesReply> || std::is_same_v<T, GetConfigReply> ||
    std::is_same_v<T, PacketIn> || std::is_same_v<T, FlowRemoved> || std::is_same_v<T, PortStatus> ||
    std::is_same_v<T, MultipartReply> || std::is_same_v<T, BarrierReply> ||
    std::is_same_v<T, RoleReply> || std::is_same_v<T, GetAsyncReply> ||
    std::is_same_v<T, TlvTableReply>;

}  // namespace

MaybeError OfHandler::dispatch(ChannelState& ch, const OfMessage& m, std::span<const uint8_t> raw) {
  const uint32_t xid = m.xid;
  if (ch.is_slave() && master_only(m.body)) return is_slave_error(of_type_name(message_type(m.body)));
  return std::visit(
      Overloaded{
          [&](const Hello&) -> MaybeError { return on_hello(ch, m, raw); },
          [&](const ErrorMsg& e) -> MaybeError {
            spdlog::warn("openflow #{} {}: controller sent error {}", ch.id, ch.peer,
                         of_error_name(e.type, e.code));
            return std::nullopt;
          },
          [&](const EchoRequest& r) -> MaybeError {
            send(ch, xid, EchoReply{r.data});
            return std::nullopt;
          },
          [&](const EchoReply&) -> MaybeError { return std::nullopt; },
          [&](const ExperimenterMsg& x) -> MaybeError {
            return err(OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter,
                       "experimenter 0x" + fmt::format("{:08x}", x.experimenter) +
                           " is not supported");
          },
          [&](const FeaturesRequest&) -> MaybeError {
            send(ch, xid, features());
            return std::nullopt;
          },
          [&](const GetConfigRequest&) -> MaybeError {
            send(ch, xid, GetConfigReply{ch.config_flags, ch.miss_send_len});
            return std::nullopt;
          },
          [&](const SetConfig& c) -> MaybeError { return on_set_config(ch, c); },
          [&](const PacketOut& po) -> MaybeError { return on_packet_out(po); },
          [&](const FlowModMsg& fm) -> MaybeError { return on_flow_mod(fm); },
          [&](const GroupModMsg& gm) -> MaybeError { return ofp_.group_mod(gm.mod); },
          [&](const PortMod& pm) -> MaybeError {
            MaybeError e = ofp_.port_mod(pm);
            if (!e) poll_ports();  // the PORT_STATUS follows the change at once
            return e;
          },
          [&](const TableMod& tm) -> MaybeError { return on_table_mod(tm); },
          [&](const MeterMod& mm) -> MaybeError { return meter_mod(mm); },
          [&](const MultipartRequest& r) -> MaybeError { return on_multipart(ch, xid, r); },
          [&](const BarrierRequest&) -> MaybeError {
            // Every request before this one was applied synchronously.
            send(ch, xid, BarrierReply{});
            return std::nullopt;
          },
          [&](const RoleRequest& r) -> MaybeError { return on_role(ch, xid, r); },
          [&](const GetAsyncRequest&) -> MaybeError {
            send(ch, xid, GetAsyncReply{ch.async});
            return std::nullopt;
          },
          [&](const SetAsync& s) -> MaybeError {
            ch.async = s.config;
            return std::nullopt;
          },
          [&](const TlvTableMod& t) -> MaybeError { return on_tlv_table_mod(t); },
          [&](const TlvTableRequest&) -> MaybeError {
            send(ch, xid, ofp_.tlv_table().reply());
            return std::nullopt;
          },
          [&](const auto& body) -> MaybeError {
            static_assert(kSentBySwitches<std::decay_t<decltype(body)>>,
                          "a controller-to-switch message without a handler");
            return err(OfErrorType::kBadRequest, BadRequestCode::kBadType,
                       std::string(of_type_name(message_type(m.body))) + " is sent by switches");
          },
      },
      m.body);
}

FeaturesReply OfHandler::features() const {
  FeaturesReply r;
  r.datapath_id = cfg_.datapath_id;
  r.n_buffers = static_cast<uint32_t>(kPacketBuffers);
  r.n_tables = static_cast<uint8_t>(kNumTables - 1);  // 0..254 (n_tables is 8 bits)
  r.capabilities = kCapFlowStats | kCapTableStats | kCapPortStats | kCapGroupStats;
  return r;
}

MaybeError OfHandler::on_set_config(ChannelState& ch, const SetConfig& c) {
  if ((c.flags & kFragMask) == kFragReasm || (c.flags & ~uint16_t{kFragMask}))
    return err(OfErrorType::kSwitchConfigFailed, SwitchConfigFailedCode::kBadFlags,
               "set_config: flags 0x" + fmt::format("{:x}", c.flags) +
                   " (fragment reassembly is not supported)");
  ch.config_flags = c.flags;
  ch.miss_send_len = c.miss_send_len;
  return std::nullopt;
}

MaybeError OfHandler::on_table_mod(const TableMod& tm) {
  if (tm.table_id >= kNumTables && tm.table_id != kTableAll)
    return err(OfErrorType::kTableModFailed, TableModFailedCode::kBadTable,
               "table_mod: table " + std::to_string(tm.table_id) + " does not exist");
  if (tm.config & ~kTableConfigDeprecatedMask)
    return err(OfErrorType::kTableModFailed, TableModFailedCode::kBadConfig,
               "table_mod: config 0x" + fmt::format("{:x}", tm.config) +
                   " (OpenFlow 1.3 defines no table config bits)");
  return std::nullopt;  // table-miss behaviour is a rule in 1.3: nothing to change
}

// NXT_TLV_TABLE_MOD: all-or-nothing (TlvTable::apply); megaflows that
// mapped Geneve options under the old table are translated again.
MaybeError OfHandler::on_tlv_table_mod(const TlvTableMod& mod) {
  if (MaybeError e = ofp_.tlv_table().apply(mod)) return e;
  ofp_.revalidator().revalidate_all(ofp_.now_ms());
  spdlog::info("openflow: {} TLV table now has {} mappings", ofp_.bridge().name,
               ofp_.tlv_table().mappings().size());
  return std::nullopt;
}

MaybeError OfHandler::on_role(ChannelState& ch, uint32_t xid, const RoleRequest& r) {
  if (r.role != ControllerRole::kNoChange && r.role != ControllerRole::kEqual &&
      r.role != ControllerRole::kMaster && r.role != ControllerRole::kSlave)
    return err(OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kBadRole,
               "role_request: role " + std::to_string(static_cast<uint32_t>(r.role)) +
                   " is not nochange/equal/master/slave");
  if (r.role == ControllerRole::kMaster || r.role == ControllerRole::kSlave) {
    // Stale when older than the newest generation seen (wrap-around
    // comparison, OpenFlow 1.3.5 section 6.3.6).
    if (generation_set_ && static_cast<int64_t>(r.generation_id - generation_id_) < 0)
      return err(OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kStale,
                 "role_request: generation_id " + std::to_string(r.generation_id) +
                     " is older than " + std::to_string(generation_id_));
    generation_set_ = true;
    generation_id_ = r.generation_id;
  }
  if (r.role == ControllerRole::kMaster && each_) {
    each_([&](ChannelState& other) {
      if (&other != &ch && other.role == ControllerRole::kMaster)
        other.role = ControllerRole::kSlave;
    });
  }
  if (r.role != ControllerRole::kNoChange) ch.role = r.role;
  send(ch, xid, RoleReply{ch.role, generation_set_ ? generation_id_ : 0});
  return std::nullopt;
}

MaybeError OfHandler::on_flow_mod(const FlowModMsg& fm) {
  const bool uses_buffer = fm.buffer_id != kOfpNoBuffer &&
                           (fm.mod.command == FlowModCommand::kAdd ||
                            fm.mod.command == FlowModCommand::kModify ||
                            fm.mod.command == FlowModCommand::kModifyStrict);
  uint32_t in_port = 0;
  Bytes frame;
  if (uses_buffer)
    if (MaybeError e = buffers_.take(fm.buffer_id, &in_port, &frame)) return e;
  if (MaybeError e = ofp_.flow_mod(fm.mod)) return e;
  if (uses_buffer) {
    // The buffered packet goes through the tables, now with the new rule.
    if (MaybeError e = ofp_.packet_out(in_port, frame, ActionList{ActOutput{kPortTable}}))
      spdlog::debug("flow_mod: buffer {}: {}", fm.buffer_id, e->message);
  }
  return std::nullopt;
}

MaybeError OfHandler::on_packet_out(const PacketOut& po) {
  if (po.buffer_id == kOfpNoBuffer) return ofp_.packet_out(po.in_port, po.data, po.actions);
  uint32_t in_port = 0;
  Bytes frame;
  if (MaybeError e = buffers_.take(po.buffer_id, &in_port, &frame)) return e;
  return ofp_.packet_out(po.in_port, frame, po.actions);
}

// --- Multipart ----------------------------------------------------------------------

MaybeError OfHandler::flow_filter(const FlowStatsRequest& f, std::vector<RulePtr>* rules) {
  if (f.table_id >= kNumTables && f.table_id != kTableAll)
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadTableId,
               "flow stats: table " + std::to_string(f.table_id) + " does not exist");
  ofp_.roll_up_rule_counters();
  Pipeline& p = ofp_.bridge().pipeline;
  for (unsigned t = 0; t < kNumTables; t++) {
    if (f.table_id != kTableAll && t != f.table_id) continue;
    const FlowTable& ft = p.table(static_cast<uint8_t>(t));
    if (!ft.size()) continue;
    std::vector<RulePtr> here;
    ft.for_each_subsumed(f.match, [&](const RulePtr& r) {
      if ((r->cookie & f.cookie_mask) != (f.cookie & f.cookie_mask)) return;
      if (f.out_port != kPortAny && !r->instructions.outputs_to_port(f.out_port)) return;
      if (f.out_group != kGroupAny && !r->instructions.outputs_to_group(f.out_group)) return;
      if (r->cookie == kFailOpenCookie && r->priority == 0 && t == 0) return;  // hidden
      here.push_back(r);
    });
    std::sort(here.begin(), here.end(), [](const RulePtr& a, const RulePtr& b) {
      return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
    });
    rules->insert(rules->end(), here.begin(), here.end());
  }
  return std::nullopt;
}

TableFeaturesReply OfHandler::table_features() const {
  std::vector<uint32_t> match_ids, set_ids, actions(std::begin(kDpActionTypes), std::end(kDpActionTypes));
  for (unsigned f = 0; f < kNumOxmFields; f++) match_ids.push_back(oxm_header(static_cast<OxmField>(f)));
  for (OxmField f : kDpSettableFields) set_ids.push_back(oxm_header(f));
  TableFeaturesReply r;
  for (unsigned t = 0; t < kNumTables; t++) {
    TableFeatures tf;
    tf.table_id = static_cast<uint8_t>(t);
    tf.name = "table" + std::to_string(t);
    tf.metadata_match = ~uint64_t{0};
    tf.metadata_write = ~uint64_t{0};
    tf.config = 0;
    tf.max_entries = 1'000'000;
    std::vector<uint32_t> insts;
    for (uint32_t i : kInstructionTypes)
      if (i != 1 || t + 1 < kNumTables) insts.push_back(i);  // the last table has no goto
    std::vector<uint32_t> next;
    for (unsigned n = t + 1; n < kNumTables; n++) next.push_back(n);
    using P = TableFeaturePropType;
    for (auto [a, b, ids] : {std::tuple{P::kInstructions, P::kInstructionsMiss, &insts},
                             std::tuple{P::kNextTables, P::kNextTablesMiss, &next},
                             std::tuple{P::kWriteActions, P::kWriteActionsMiss, &actions},
                             std::tuple{P::kApplyActions, P::kApplyActionsMiss, &actions},
                             std::tuple{P::kWriteSetfield, P::kWriteSetfieldMiss, &set_ids},
                             std::tuple{P::kApplySetfield, P::kApplySetfieldMiss, &set_ids}}) {
      tf.properties.push_back({a, *ids});
      tf.properties.push_back({b, *ids});
    }
    tf.properties.push_back({P::kMatch, match_ids});
    tf.properties.push_back({P::kWildcards, match_ids});
    r.tables.push_back(std::move(tf));
  }
  return r;
}

MaybeError OfHandler::on_multipart(ChannelState& ch, uint32_t xid, const MultipartRequest& req) {
  if (req.flags & kMultipartMore)
    return err(OfErrorType::kBadRequest, BadRequestCode::kMultipartBufferOverflow,
               "multipart requests in several parts are not supported");
  MultipartReply reply;
  if (MaybeError e = multipart_body(req, &reply.body)) return e;
  for (Bytes& part : encode_multipart_reply(xid, reply)) ch.push(std::move(part));
  return std::nullopt;
}

MaybeError OfHandler::multipart_body(const MultipartRequest& req, MultipartReplyBody* body) {
  const int64_t now = ofp_.now_ms();
  auto reply = [&](auto r) -> MaybeError {
    *body = std::move(r);
    return std::nullopt;
  };
  return std::visit(
      Overloaded{
          [&](const DescRequest&) -> MaybeError {
            return reply(DescReply{cfg_.mfr_desc, cfg_.hw_desc, cfg_.sw_desc, cfg_.serial_num,
                                   cfg_.dp_desc});
          },
          [&](const FlowStatsRequest& f) -> MaybeError { return flow_stats(f, now, body); },
          [&](const AggregateRequest& a) -> MaybeError { return aggregate(a, body); },
          [&](const TableStatsRequest&) -> MaybeError { return reply(table_stats()); },
          [&](const PortStatsRequest& p) -> MaybeError { return port_stats(p, now, body); },
          [&](const QueueStatsRequest&) -> MaybeError {
            return reply(QueueStatsReply{});  // no queues are configured
          },
          [&](const GroupStatsRequest& g) -> MaybeError { return reply(group_stats(g, now)); },
          [&](const GroupDescRequest&) -> MaybeError { return reply(group_desc()); },
          [&](const GroupFeaturesRequest&) -> MaybeError { return reply(group_features()); },
          [&](const MeterStatsRequest& m) -> MaybeError { return reply(meter_stats(m.meter_id)); },
          [&](const MeterConfigRequest& m) -> MaybeError { return reply(meter_config(m.meter_id)); },
          [&](const MeterFeaturesRequest&) -> MaybeError { return reply(meter_features()); },
          [&](const TableFeaturesRequest& t) -> MaybeError {
            if (!t.tables.empty())
              return err(OfErrorType::kTableFeaturesFailed, TableFeaturesFailedCode::kEperm,
                         "table features: the table set cannot be changed");
            return reply(table_features());
          },
          [&](const PortDescRequest&) -> MaybeError { return reply(PortDescReply{ofp_.port_descs()}); },
      },
      req.body);
}

MaybeError OfHandler::flow_stats(const FlowStatsRequest& f, int64_t now, MultipartReplyBody* body) {
  std::vector<RulePtr> rules;
  if (MaybeError e = flow_filter(f, &rules)) return e;
  FlowStatsReply out;
  for (const RulePtr& r : rules) {
    FlowStats s = rule_flow_stats(*r, now);
    if (r->flags & kFlagNoPktCounts) s.packet_count = ~uint64_t{0};
    if (r->flags & kFlagNoBytCounts) s.byte_count = ~uint64_t{0};
    out.flows.push_back(std::move(s));
  }
  *body = std::move(out);
  return std::nullopt;
}

MaybeError OfHandler::aggregate(const AggregateRequest& a, MultipartReplyBody* body) {
  std::vector<RulePtr> rules;
  if (MaybeError e = flow_filter(a.filter, &rules)) return e;
  AggregateReply out;
  for (const RulePtr& r : rules) {
    out.packet_count += r->packet_count;
    out.byte_count += r->byte_count;
    out.flow_count++;
  }
  *body = out;
  return std::nullopt;
}

TableStatsReply OfHandler::table_stats() {
  // Megaflow hits count as lookups in the tables their translation
  // visited: roll them up first (as for rule counters).
  ofp_.roll_up_rule_counters();
  TableStatsReply out;
  for (unsigned t = 0; t < kNumTables; t++) {
    const FlowTable& ft = ofp_.bridge().pipeline.table(static_cast<uint8_t>(t));
    out.tables.push_back({static_cast<uint8_t>(t), static_cast<uint32_t>(ft.size()),
                          ft.lookup_count(), ft.matched_count()});
  }
  return out;
}

MaybeError OfHandler::port_stats(const PortStatsRequest& p, int64_t now, MultipartReplyBody* body) {
  PortStatsReply out;
  for (const auto& [no, bp] : ofp_.bridge().ports) {
    if (p.port_no != kPortAny && p.port_no != no) continue;
    if (auto s = ofp_.port_stats(no)) {
      split_ms(now - start_ms_, &s->duration_sec, &s->duration_nsec);
      out.ports.push_back(*s);
    }
  }
  if (p.port_no != kPortAny && out.ports.empty())
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadPort,
               "port stats: port " + std::to_string(p.port_no) + " does not exist");
  *body = std::move(out);
  return std::nullopt;
}

GroupStatsReply OfHandler::group_stats(const GroupStatsRequest& g, int64_t now) const {
  GroupStatsReply out;
  std::map<uint32_t, uint32_t> refs;
  const Pipeline& p = ofp_.bridge().pipeline;
  for (unsigned t = 0; t < kNumTables; t++)
    p.table(static_cast<uint8_t>(t)).for_each([&](const RulePtr& r) {
      r->instructions.for_each_group([&](uint32_t id) { refs[id]++; });
    });
  for (const auto& [id, grp] : p.groups().all()) {
    if (g.group_id != kGroupAll && g.group_id != id) continue;
    GroupStats s;
    s.group_id = id;
    s.ref_count = refs[id];
    s.packet_count = grp.packet_count;
    s.byte_count = grp.byte_count;
    split_ms(now - grp.created_ms, &s.duration_sec, &s.duration_nsec);
    for (const GroupBucket& b : grp.buckets) s.buckets.push_back({b.packet_count, b.byte_count});
    out.groups.push_back(std::move(s));
  }
  return out;
}

GroupDescReply OfHandler::group_desc() const {
  GroupDescReply out;
  for (const auto& [id, grp] : ofp_.bridge().pipeline.groups().all())
    out.groups.push_back({grp.type, id, grp.buckets});
  return out;
}

// --- Asynchronous messages ------------------------------------------------------------

void OfHandler::deliver(const std::function<bool(ChannelState&)>& wants, OfBody body,
                        bool droppable, uint64_t* counter) {
  if (!each_) return;
  Bytes wire;
  each_([&](ChannelState& ch) {
    if (!ch.hello_done || ch.closing || !wants(ch)) return;
    if (droppable && ch.congested()) {
      ch.async_dropped++;
      stats_.packet_ins_dropped++;
      return;
    }
    if (wire.empty()) wire = encode(OfMessage{kOfpVersion13, 0, body});
    ch.push(wire);
    (*counter)++;
  });
}

void OfHandler::publish_async(bool check_ports) {
  // Packet-ins (always drained, so the upcall queue never backs up).
  for (PacketInEvent& ev : ofp_.take_packet_ins(kPacketInsPerRound)) {
    const BridgePort* bp = ofp_.bridge().port(ev.in_port);
    if (bp && bp->no_packet_in) continue;
    const uint32_t bit = 1u << static_cast<uint8_t>(ev.reason);
    // How much of the frame a packet-in carries (OpenFlow 1.3.5 7.2.5,
    // 7.3.2, 7.4.1): the output action's max_len, or, for packet-ins the
    // pipeline sends without an action (table config miss, invalid TTL), the
    // channel's miss_send_len. OFPCML_NO_BUFFER: the whole frame, not
    // buffered. Less than the frame: that many bytes, and the whole frame
    // goes to the buffer pool under the buffer_id the message carries.
    // Channels may differ (miss_send_len), so one message per distinct
    // length, and one buffer per message.
    std::map<uint16_t, Bytes> by_len;  // len -> wire
    if (!each_) continue;
    each_([&](ChannelState& ch) {
      if (!ch.hello_done || ch.closing) return;
      if (!(ch.async.packet_in_mask[ch.is_slave() ? 1 : 0] & bit)) return;
      if (ch.congested()) {
        ch.async_dropped++;
        stats_.packet_ins_dropped++;
        return;
      }
      const uint16_t len = ev.use_miss_send_len ? ch.miss_send_len : ev.max_len;
      auto it = by_len.find(len);
      if (it == by_len.end()) {
        PacketIn pi;
        pi.reason = ev.reason;
        pi.table_id = ev.table_id;
        pi.cookie = ev.cookie;
        pi.total_len = static_cast<uint16_t>(std::min<uint32_t>(ev.total_len, 0xffff));
        pi.match.set_u64(OxmField::kInPort, ev.in_port);
        // Tunnel metadata travels in the packet-in's match, as in OVS.
        pi.match.add_tunnel_metadata(ev.tunnel, &ofp_.tlv_table().layout());
        size_t cut = std::min<size_t>(ev.data.size(), kMaxPacketInData);
        if (len != kControllerNoBuffer) cut = std::min<size_t>(cut, len);
        if (cut < ev.data.size()) pi.buffer_id = buffers_.store(ev.in_port, ev.data);
        pi.data.assign(ev.data.begin(), ev.data.begin() + static_cast<std::ptrdiff_t>(cut));
        it = by_len.emplace(len, encode(OfMessage{kOfpVersion13, 0, pi})).first;
      }
      ch.push(it->second);
      stats_.packet_ins++;
    });
  }
  // Flow-removed, for rules added with SEND_FLOW_REM.
  const int64_t now = ofp_.now_ms();
  for (RemovedRule& rr : ofp_.take_removed_rules(kPacketInsPerRound)) {
    const Rule& r = *rr.rule;
    if (!(r.flags & kFlagSendFlowRem)) continue;
    const FlowRemoved fr = rule_flow_removed(r, rr.reason, now);
    const uint32_t bit = 1u << static_cast<uint8_t>(rr.reason);
    deliver([&](ChannelState& ch) { return (ch.async.flow_removed_mask[ch.is_slave() ? 1 : 0] & bit) != 0; },
            fr, false, &stats_.flow_removed);
  }
  if (check_ports) poll_ports();
}

void OfHandler::poll_ports() {
  std::map<uint32_t, PortDesc> now;
  for (PortDesc& d : ofp_.port_descs()) now[d.port_no] = std::move(d);
  auto status = [&](PortReason reason, const PortDesc& d) {
    const uint32_t bit = 1u << static_cast<uint8_t>(reason);
    deliver([&](ChannelState& ch) { return (ch.async.port_status_mask[ch.is_slave() ? 1 : 0] & bit) != 0; },
            PortStatus{reason, d}, false, &stats_.port_status);
  };
  for (const auto& [no, d] : ports_)
    if (!now.count(no)) status(PortReason::kDelete, d);
  for (const auto& [no, d] : now) {
    auto it = ports_.find(no);
    if (it == ports_.end()) status(PortReason::kAdd, d);
    else if (!(it->second == d)) status(PortReason::kModify, d);
  }
  ports_ = std::move(now);
}

// --- Meters -----------------------------------------------------------------------
// The one place the channel reaches meters: Ofproto's meter API (meter_table.h).

MaybeError OfHandler::meter_mod(const MeterMod& mm) { return ofp_.meter_mod(mm); }

MeterStatsReply OfHandler::meter_stats(uint32_t meter_id) {
  return MeterStatsReply{ofp_.meter_stats(meter_id)};
}

MeterConfigReply OfHandler::meter_config(uint32_t meter_id) {
  return MeterConfigReply{ofp_.meter_config(meter_id)};
}

MeterFeaturesReply OfHandler::meter_features() const { return ofp_.meter_features(); }

}  // namespace dps::ofproto
