// of_handler_test.cc - the OpenFlow connection handler driven directly: no
// sockets, no connection manager; ChannelStates stand for connections, and
// what OfHandler::handle() and publish_async() append to their outboxes is
// decoded and checked. The Ofproto runs over the fake datapath.
//
// Coverage goal: the HELLO state machine (nothing but HELLO before
// negotiation, version bitmap and header version, Bridge.protocols, a
// repeated HELLO, undecodable first messages close); ECHO (same xid and
// data, no answer to replies) and messages only switches send; roles
// (equal by default, one master demoting the other, generation ids with
// stale detection across wrap-around, bad roles, what a slave may not do);
// async config (GET_ASYNC defaults, SET_ASYNC round trip, and packet-in,
// port-status and flow-removed delivered per role and per reason by the
// masks, never to channels before HELLO, dropped when congested).
#include <catch2/catch.hpp>

#include <algorithm>
#include <list>
#include <optional>

#include "of_codec.h"
#include "of_handler.h"
#include "ofproto_rig.h"
#include "packet_builder.h"

using namespace dps::ofproto;
using dps::test::OfprotoRig;

namespace {

FlowMod add_rule(uint16_t priority, uint32_t in_port, uint32_t out_port, uint16_t flags = 0) {
  FlowMod fm;
  fm.priority = priority;
  fm.flags = flags;
  fm.match.set_u64(OxmField::kInPort, in_port);
  fm.instructions.apply = ActionList{ActOutput{out_port}};
  return fm;
}

// An OfHandler over the rig's Ofproto, and the channels it fans out to.
struct HandlerRig : OfprotoRig {
  OfHandler handler;
  std::list<ChannelState> channels;  // stable addresses

  HandlerRig() : OfprotoRig(dps::test::unlimited_packet_ins()), handler(*ofp) {
    handler.set_channels([this](const std::function<void(ChannelState&)>& f) {
      for (ChannelState& c : channels) f(c);
    });
  }
  // A new connection; negotiated: HELLO exchanged (and nothing answered).
  ChannelState& open(bool negotiated = true) {
    ChannelState& ch = channels.emplace_back();
    ch.id = channels.size();
    if (negotiated) {
      send(ch, Hello{});
      REQUIRE(ch.hello_done);
      REQUIRE(ch.outbox.empty());
    }
    return ch;
  }
  // A negotiated channel in `role` (master and slave with generation 1),
  // with `async` masks when given.
  ChannelState& open_as(ControllerRole role, std::optional<AsyncConfig> async = std::nullopt) {
    ChannelState& ch = open();
    if (role != ControllerRole::kEqual) {
      send(ch, RoleRequest{role, 1}, 1);
      REQUIRE(only<RoleReply>(ch, 1).role == role);
    }
    if (async) send(ch, SetAsync{*async}, 2);
    REQUIRE(ch.outbox.empty());
    return ch;
  }
  void send(ChannelState& ch, OfBody body, uint32_t xid = 1, uint8_t version = kOfpVersion13) {
    handler.handle(ch, encode(OfMessage{version, xid, std::move(body)}));
  }
  // Everything queued on ch, decoded; the outbox is emptied.
  std::vector<OfMessage> take(ChannelState& ch) {
    std::vector<OfMessage> out;
    for (const Bytes& b : ch.outbox) {
      OfMessage m;
      MaybeError e = decode(b, &m);
      INFO((e ? e->message : ""));
      REQUIRE_FALSE(e);
      out.push_back(std::move(m));
    }
    ch.outbox.clear();
    ch.outbox_bytes = 0;
    return out;
  }
  // The one message queued on ch, of type T, with its xid.
  template <typename T>
  T only(ChannelState& ch, uint32_t xid) {
    std::vector<OfMessage> msgs = take(ch);
    REQUIRE(msgs.size() == 1);
    INFO("got " << of_type_name(message_type(msgs[0].body)));
    CHECK(msgs[0].xid == xid);
    const T* t = std::get_if<T>(&msgs[0].body);
    REQUIRE(t);
    return *t;
  }
  template <typename Code>
  void expect_error(ChannelState& ch, uint32_t xid, OfErrorType type, Code code) {
    ErrorMsg e = only<ErrorMsg>(ch, xid);
    INFO("error " << of_error_name(e.type, e.code));
    CHECK(e.type == type);
    CHECK(e.code == static_cast<uint16_t>(code));
  }
  // How many messages of type T each channel has queued (outboxes emptied).
  template <typename T>
  std::vector<size_t> received() {
    std::vector<size_t> n;
    for (ChannelState& c : channels) {
      size_t k = 0;
      for (const OfMessage& m : take(c)) k += std::holds_alternative<T>(m.body);
      n.push_back(k);
    }
    return n;
  }
};

AsyncConfig masks(uint32_t packet_in, uint32_t port_status, uint32_t flow_removed) {
  AsyncConfig a;
  a.packet_in_mask = {packet_in, packet_in};
  a.port_status_mask = {port_status, port_status};
  a.flow_removed_mask = {flow_removed, flow_removed};
  return a;
}

}  // namespace

TEST_CASE("of_handler: HELLO negotiates OpenFlow 1.3 and nothing else comes first",
          "[ofproto][of_handler]") {
  HandlerRig r;
  OfMessage hello;
  REQUIRE_FALSE(decode(OfHandler::hello(), &hello));
  CHECK(hello.version == kOfpVersion13);
  REQUIRE(std::holds_alternative<Hello>(hello.body));
  CHECK((std::get<Hello>(hello.body).versions & (1u << kOfpVersion13)));

  SECTION("a request before HELLO fails the negotiation and closes") {
    ChannelState& ch = r.open(false);
    r.send(ch, FeaturesRequest{}, 3);
    r.expect_error(ch, 3, OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible);
    CHECK_FALSE(ch.hello_done);
    CHECK(ch.closing);
    CHECK(ch.errors_sent == 1);
  }
  SECTION("a version bitmap with 1.3 among others negotiates; nothing is answered") {
    ChannelState& ch = r.open(false);
    r.send(ch, Hello{true, (1u << 1) | (1u << 4) | (1u << 6)}, 2);
    CHECK(ch.hello_done);
    CHECK_FALSE(ch.closing);
    CHECK(ch.outbox.empty());
    // Now requests are served, and a repeated HELLO changes nothing.
    r.send(ch, FeaturesRequest{}, 4);
    FeaturesReply f = r.only<FeaturesReply>(ch, 4);
    CHECK(f.n_buffers == kPacketBuffers);
    r.send(ch, Hello{true, 1u << 1}, 5);  // even one without 1.3
    CHECK(ch.outbox.empty());
    CHECK(ch.hello_done);
    CHECK_FALSE(ch.closing);
  }
  SECTION("a version bitmap without 1.3 fails") {
    ChannelState& ch = r.open(false);
    r.send(ch, Hello{true, (1u << 1) | (1u << 5)}, 6);
    r.expect_error(ch, 6, OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible);
    CHECK_FALSE(ch.hello_done);
    CHECK(ch.closing);
  }
  SECTION("without a bitmap the header version decides") {
    ChannelState& newer = r.open(false);
    r.send(newer, Hello{false, 0}, 7, 0x05);
    CHECK(newer.hello_done);
    CHECK(newer.outbox.empty());
    ChannelState& older = r.open(false);
    r.handler.handle(older, Bytes{0x01, 0x00, 0x00, 0x08, 0, 0, 0, 8});  // OpenFlow 1.0 HELLO
    r.expect_error(older, 8, OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible);
    CHECK(older.closing);
  }
  SECTION("Bridge.protocols without OpenFlow13 refuses every HELLO") {
    r.handler.set_protocols({"OpenFlow10", "OpenFlow14"});
    ChannelState& ch = r.open(false);
    r.send(ch, Hello{}, 9);
    r.expect_error(ch, 9, OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible);
    CHECK(ch.closing);
    r.handler.set_protocols({"OpenFlow13", "OpenFlow14"});
    ChannelState& ok = r.open(false);
    r.send(ok, Hello{}, 10);
    CHECK(ok.hello_done);
    r.handler.set_protocols({});
    CHECK(r.open().hello_done);
  }
  SECTION("an undecodable first message closes the channel") {
    ChannelState& ch = r.open(false);
    r.handler.handle(ch, Bytes{0x04, 0x00, 0x00, 0x10, 0, 0, 0, 11, 0, 1, 0, 4});  // bad length
    std::vector<OfMessage> m = r.take(ch);
    REQUIRE(m.size() == 1);
    CHECK(std::holds_alternative<ErrorMsg>(m[0].body));
    CHECK(ch.closing);
  }
  SECTION("counters") {
    ChannelState& ch = r.open();
    r.send(ch, BarrierRequest{}, 12);
    r.send(ch, ErrorMsg{}, 13);
    r.take(ch);
    CHECK(ch.rx_messages == 3);
    CHECK(ch.errors_sent == 0);
    CHECK(r.handler.stats().messages == 3);
    CHECK(r.handler.stats().errors == 0);
  }
}

TEST_CASE("of_handler: ECHO, BARRIER, and messages only a switch sends",
          "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& ch = r.open();
  r.send(ch, EchoRequest{{1, 2, 3}}, 0x1234);
  CHECK(r.only<EchoReply>(ch, 0x1234).data == Bytes{1, 2, 3});
  Bytes big(1000);
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 7);
  r.send(ch, EchoRequest{big}, 0x1235);
  CHECK(r.only<EchoReply>(ch, 0x1235).data == big);
  r.send(ch, EchoRequest{}, 0x1236);
  CHECK(r.only<EchoReply>(ch, 0x1236).data.empty());
  // Replies and the controller's own errors are taken silently.
  r.send(ch, EchoReply{{9}}, 0x1237);
  r.send(ch, ErrorMsg{OfErrorType::kBadRequest, 1, {}}, 0x1238);
  CHECK(ch.outbox.empty());
  CHECK(ch.errors_sent == 0);
  // BARRIER: answered at once with its xid.
  r.send(ch, BarrierRequest{}, 0x1239);
  r.only<BarrierReply>(ch, 0x1239);
  // Switch-to-controller messages sent to the switch: bad_request/bad_type.
  const std::vector<OfBody> wrong = {FeaturesReply{}, GetConfigReply{}, PortStatus{},
                                     BarrierReply{},  RoleReply{},      GetAsyncReply{}};
  uint32_t xid = 0x2000;
  for (const OfBody& b : wrong) {
    INFO(of_type_name(message_type(b)));
    r.send(ch, b, ++xid);
    r.expect_error(ch, xid, OfErrorType::kBadRequest, BadRequestCode::kBadType);
  }
  CHECK(ch.errors_sent == wrong.size());
  CHECK_FALSE(ch.closing);  // errors after HELLO keep the channel
}

TEST_CASE("of_handler: roles and generation ids", "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& a = r.open();
  ChannelState& b = r.open();
  ChannelState& c = r.open();
  CHECK(a.role == ControllerRole::kEqual);
  // No change: the current role, generation 0 while none was given.
  r.send(a, RoleRequest{ControllerRole::kNoChange, 77}, 1);
  RoleReply rr = r.only<RoleReply>(a, 1);
  CHECK(rr.role == ControllerRole::kEqual);
  CHECK(rr.generation_id == 0);

  r.send(a, RoleRequest{ControllerRole::kMaster, 5}, 2);
  rr = r.only<RoleReply>(a, 2);
  CHECK(rr.role == ControllerRole::kMaster);
  CHECK(rr.generation_id == 5);
  // An older generation is stale, for master and slave requests alike.
  r.send(b, RoleRequest{ControllerRole::kMaster, 4}, 3);
  r.expect_error(b, 3, OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kStale);
  r.send(b, RoleRequest{ControllerRole::kSlave, 4}, 4);
  r.expect_error(b, 4, OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kStale);
  CHECK(b.role == ControllerRole::kEqual);
  CHECK(a.role == ControllerRole::kMaster);
  // The same generation is not stale; a second master demotes the first.
  r.send(b, RoleRequest{ControllerRole::kMaster, 5}, 5);
  CHECK(r.only<RoleReply>(b, 5).role == ControllerRole::kMaster);
  CHECK(a.role == ControllerRole::kSlave);
  CHECK(b.role == ControllerRole::kMaster);
  // Equal neither checks nor moves the generation, and demotes nobody.
  r.send(c, RoleRequest{ControllerRole::kEqual, 1}, 6);
  rr = r.only<RoleReply>(c, 6);
  CHECK(rr.role == ControllerRole::kEqual);
  CHECK(rr.generation_id == 5);
  CHECK(b.role == ControllerRole::kMaster);
  // Generations compare with wrap-around: 2^64 - 16 is older than 5 ...
  r.send(c, RoleRequest{ControllerRole::kSlave, ~uint64_t{0} - 15}, 7);
  r.expect_error(c, 7, OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kStale);
  // ... and, once it is the newest, 3 is newer than it.
  r.send(c, RoleRequest{ControllerRole::kSlave, 1ull << 63}, 8);
  CHECK(r.only<RoleReply>(c, 8).generation_id == 1ull << 63);
  r.send(c, RoleRequest{ControllerRole::kSlave, ~uint64_t{0} - 15}, 9);
  CHECK(r.only<RoleReply>(c, 9).generation_id == ~uint64_t{0} - 15);
  r.send(c, RoleRequest{ControllerRole::kSlave, 3}, 10);
  rr = r.only<RoleReply>(c, 10);
  CHECK(rr.role == ControllerRole::kSlave);
  CHECK(rr.generation_id == 3);
  // A role that does not exist.
  r.send(c, RoleRequest{static_cast<ControllerRole>(7), 3}, 11);
  r.expect_error(c, 11, OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kBadRole);
  CHECK(c.role == ControllerRole::kSlave);
}

TEST_CASE("of_handler: a slave reads but does not change the switch", "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& a = r.open_as(ControllerRole::kSlave);
  ChannelState& b = r.open_as(ControllerRole::kMaster);
  ChannelState& c = r.open();
  // What changes the switch is refused to a slave, with nothing changed.
  GroupMod gm;
  gm.group_id = 1;
  gm.buckets = {GroupBucket{}};
  PortMod pm;
  pm.port_no = 1;
  pm.config = kPortConfigNoFwd;
  pm.mask = kPortConfigNoFwd;
  PacketOut po;
  po.in_port = 1;
  po.actions = {ActOutput{2}};
  po.data = dps::test::udp_frame();
  MeterMod mm;
  mm.meter_id = 1;
  mm.bands = {MeterBand{}};
  const std::vector<OfBody> changes = {FlowModMsg{add_rule(1, 1, 2)}, GroupModMsg{gm}, pm, po,
                                       TableMod{0, 0}, mm};
  uint32_t xid = 100;
  for (const OfBody& body : changes) {
    INFO(of_type_name(message_type(body)));
    r.send(a, body, ++xid);
    r.expect_error(a, xid, OfErrorType::kBadRequest, BadRequestCode::kIsSlave);
  }
  CHECK(r.ofp->stats().rules == 0);
  CHECK(r.ofp->bridge().pipeline.groups().size() == 0);
  CHECK_FALSE(r.ofp->bridge().port(1)->no_fwd);
  CHECK(r.dp->execs.empty());
  CHECK(r.dp->meters.empty());
  // A slave still reads, and the master and equal channels change things.
  r.send(a, MultipartRequest{0, DescRequest{}}, 120);
  r.only<MultipartReply>(a, 120);
  r.send(b, changes[0], 121);
  r.send(c, FlowModMsg{add_rule(2, 2, 1)}, 123);
  CHECK(b.outbox.empty());
  CHECK(c.outbox.empty());
  CHECK(r.ofp->stats().rules == 2);
}

TEST_CASE("of_handler: GET_ASYNC and SET_ASYNC", "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& ch = r.open();
  r.send(ch, GetAsyncRequest{}, 1);
  AsyncConfig d = r.only<GetAsyncReply>(ch, 1).config;
  CHECK(d == default_async_config());
  // OpenFlow 1.3.5 section 6.1.1 defaults: master/equal get packet-ins for
  // no_match and action, all port-status and flow-removed; a slave only
  // port-status.
  CHECK(d.packet_in_mask[0] == 0x3);
  CHECK(d.packet_in_mask[1] == 0);
  CHECK(d.port_status_mask[0] == 0x7);
  CHECK(d.port_status_mask[1] == 0x7);
  CHECK(d.flow_removed_mask[0] == 0xf);
  CHECK(d.flow_removed_mask[1] == 0);
  AsyncConfig mine = masks(0x4, 0x2, 0x1);
  mine.packet_in_mask[1] = 0x1;
  r.send(ch, SetAsync{mine}, 2);
  CHECK(ch.outbox.empty());
  r.send(ch, GetAsyncRequest{}, 3);
  CHECK(r.only<GetAsyncReply>(ch, 3).config == mine);
  // Per channel: another channel keeps the defaults.
  ChannelState& other = r.open();
  r.send(other, GetAsyncRequest{}, 4);
  CHECK(r.only<GetAsyncReply>(other, 4).config == default_async_config());
}

TEST_CASE("of_handler: packet-ins go to the channels whose role and mask ask for the reason",
          "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& master = r.open_as(ControllerRole::kMaster);
  r.open_as(ControllerRole::kSlave);
  r.open_as(ControllerRole::kEqual, masks(1u << 0, 0x7, 0xf));  // no_match only
  r.open_as(ControllerRole::kSlave, masks(1u << 1, 0x7, 0));    // a slave asking for action
  ChannelState& before_hello = r.open(false);
  REQUIRE(r.channels.size() == 5);

  r.rules("priority=10,in_port=1,actions=CONTROLLER:65535\npriority=0,actions=CONTROLLER:65535");
  const auto f = dps::test::udp_frame();
  r.miss_to_controller(1, f);  // reason action
  r.handler.publish_async(false);
  CHECK(r.received<PacketIn>() == std::vector<size_t>{1, 0, 0, 1, 0});
  r.miss_to_controller(2, f);  // the table-miss entry: reason no_match
  r.handler.publish_async(false);
  CHECK(r.received<PacketIn>() == std::vector<size_t>{1, 0, 1, 0, 0});
  CHECK(r.handler.stats().packet_ins == 4);
  CHECK(before_hello.outbox.empty());

  // What the packet-in carries.
  r.miss_to_controller(2, f);
  r.handler.publish_async(false);
  std::vector<OfMessage> m = r.take(master);
  REQUIRE(m.size() == 1);
  const PacketIn& pi = std::get<PacketIn>(m[0].body);
  CHECK(pi.reason == PacketInReason::kNoMatch);
  CHECK(pi.total_len == f.size());
  CHECK(pi.data == f);
  CHECK(pi.buffer_id == kOfpNoBuffer);
  OfMatch in2;
  in2.set_u64(OxmField::kInPort, 2);
  CHECK(pi.match == in2);
  r.received<PacketIn>();

  // A congested channel loses packet-ins (counted); the others get theirs.
  master.soft_limit = 1;
  master.queued_bytes = 1;
  r.miss_to_controller(1, f);
  r.handler.publish_async(false);
  CHECK(r.received<PacketIn>() == std::vector<size_t>{0, 0, 0, 1, 0});
  CHECK(master.async_dropped == 1);
  CHECK(r.handler.stats().packet_ins_dropped == 1);
}

TEST_CASE("of_handler: port-status follows the port set, filtered by reason", "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& all = r.open();
  r.open_as(ControllerRole::kSlave);
  r.open_as(ControllerRole::kEqual, masks(0x3, 1u << 1, 0xf));  // deletes only
  r.open_as(ControllerRole::kEqual, masks(0x3, 0, 0xf));        // no port status
  r.open(false);                                                 // not negotiated: nothing

  r.ofp->add_port(7, 7, "p7");
  r.handler.publish_async(false);  // ports are not looked at this round
  CHECK(r.received<PortStatus>() == std::vector<size_t>{0, 0, 0, 0, 0});
  r.handler.publish_async(true);
  std::vector<OfMessage> m = r.take(all);
  REQUIRE(m.size() == 1);
  const PortStatus& ps = std::get<PortStatus>(m[0].body);
  CHECK(ps.reason == PortReason::kAdd);
  CHECK(ps.desc.port_no == 7);
  CHECK(ps.desc.name == "p7");
  CHECK(r.received<PortStatus>() == std::vector<size_t>{0, 1, 0, 0, 0});
  r.handler.publish_async(true);  // nothing changed: nothing sent
  CHECK(r.received<PortStatus>() == std::vector<size_t>{0, 0, 0, 0, 0});
  // PORT_MOD from a channel: the status (reason modify) follows at once.
  PortMod pm;
  pm.port_no = 7;
  pm.config = kPortConfigNoFwd;
  pm.mask = kPortConfigNoFwd;
  r.send(all, pm, 4);
  m = r.take(all);
  REQUIRE(m.size() == 1);
  CHECK(std::get<PortStatus>(m[0].body).reason == PortReason::kModify);
  CHECK(r.received<PortStatus>() == std::vector<size_t>{0, 1, 0, 0, 0});
  r.ofp->remove_port(7);
  r.handler.publish_async(true);
  CHECK(r.received<PortStatus>() == std::vector<size_t>{1, 1, 1, 0, 0});
  CHECK(r.handler.stats().port_status == 7);  // add 2, modify 2, delete 3
}

TEST_CASE("of_handler: flow-removed for SEND_FLOW_REM rules, filtered by role and reason",
          "[ofproto][of_handler]") {
  HandlerRig r;
  ChannelState& equal = r.open();
  r.open_as(ControllerRole::kSlave);
  r.open_as(ControllerRole::kEqual,  // hard timeouts only
            masks(0x3, 0x7, 1u << static_cast<int>(RemovedReason::kHardTimeout)));

  FlowMod notify = add_rule(10, 1, 2, kFlagSendFlowRem);
  notify.cookie = 0xfeed;
  FlowMod quiet = add_rule(11, 2, 1);
  r.send(equal, FlowModMsg{notify}, 3);
  r.send(equal, FlowModMsg{quiet}, 4);
  REQUIRE(equal.outbox.empty());
  FlowMod del;
  del.command = FlowModCommand::kDelete;
  del.table_id = kTableAll;
  r.send(equal, FlowModMsg{del}, 5);
  REQUIRE(r.ofp->stats().rules == 0);
  r.handler.publish_async(false);
  std::vector<OfMessage> m = r.take(equal);
  REQUIRE(m.size() == 1);  // the quiet rule sends nothing
  const FlowRemoved& fr = std::get<FlowRemoved>(m[0].body);
  CHECK(fr.reason == RemovedReason::kDelete);
  CHECK(fr.cookie == 0xfeed);
  CHECK(fr.priority == 10);
  CHECK(r.received<FlowRemoved>() == std::vector<size_t>{0, 0, 0});

  // A hard timeout: the channel that asked only for those gets it too.
  notify.hard_timeout = 2;
  r.send(equal, FlowModMsg{notify}, 6);
  r.now += 2500;
  r.ofp->run();
  REQUIRE(r.ofp->stats().rules == 0);
  r.handler.publish_async(false);
  CHECK(r.received<FlowRemoved>() == std::vector<size_t>{1, 0, 1});
  CHECK(r.handler.stats().flow_removed == 3);
}

namespace {

// What the datapath cannot execute, and the error OpenFlow 1.3.5 names for
// it: an unsupported set_field type is bad_action/bad_set_type, an
// unsupported action bad_action/bad_type.
struct Refused {
  const char* what;
  OfAction action;
  BadActionCode code;
};

ActSetField set_zero(OxmField f) {
  return ActSetField{f, FieldValue::from_u64(0, oxm_field_info(f).width)};
}

std::vector<Refused> refused_actions() {
  auto set = [](OxmField f, uint64_t v) {
    return ActSetField{f, FieldValue::from_u64(v, oxm_field_info(f).width)};
  };
  constexpr BadActionCode kSet = BadActionCode::kBadSetType;
  return {
      {"set_field ipv6_exthdr", set(OxmField::kIpv6Exthdr, 1), kSet},
  };
}

// (priority, instructions) of every rule in table 0.
std::vector<std::pair<uint16_t, Instructions>> table0(HandlerRig& r) {
  std::vector<std::pair<uint16_t, Instructions>> v;
  r.ofp->bridge().pipeline.table(0).for_each(
      [&](const RulePtr& x) { v.emplace_back(x->priority, x->instructions); });
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return v;
}

// Sends body; the answer must be one OFPT_ERROR bad_action/code carrying
// the whole request.
void expect_refused(HandlerRig& r, ChannelState& ch, const OfBody& body, uint32_t xid,
                    BadActionCode code) {
  const Bytes raw = encode(OfMessage{kOfpVersion13, xid, body});
  r.handler.handle(ch, raw);
  ErrorMsg e = r.only<ErrorMsg>(ch, xid);
  INFO("error " << of_error_name(e.type, e.code));
  CHECK(e.type == OfErrorType::kBadAction);
  CHECK(e.code == static_cast<uint16_t>(code));
  CHECK(e.data == raw);
}

// The ids of property `type` of table 0 in the table-features reply.
std::vector<uint32_t> table_feature_ids(HandlerRig& r, ChannelState& ch, TableFeaturePropType type) {
  r.send(ch, MultipartRequest{0, TableFeaturesRequest{}}, 77);
  for (const OfMessage& m : r.take(ch)) {
    const auto* mp = std::get_if<MultipartReply>(&m.body);
    REQUIRE(mp);
    const auto* tf = std::get_if<TableFeaturesReply>(&mp->body);
    REQUIRE(tf);
    for (const TableFeatures& t : tf->tables)
      if (t.table_id == 0)
        for (const TableFeatureProp& p : t.properties)
          if (p.type == type) return p.ids;
  }
  FAIL("no such property");
  return {};
}

}  // namespace

TEST_CASE("of_handler: flow-mods and group-mods the datapath cannot execute are refused, "
          "nothing installed",
          "[ofproto][of_handler][setfield]") {
  HandlerRig r;
  ChannelState& ch = r.open();
  r.send(ch, FlowModMsg{add_rule(5, 1, 2)}, 1);
  REQUIRE(ch.outbox.empty());
  const auto before = table0(r);
  REQUIRE(before.size() == 1);
  uint32_t xid = 10;
  for (const Refused& x : refused_actions()) {
    INFO(x.what);
    FlowMod apply = add_rule(9, 1, 2);
    apply.instructions.apply = ActionList{x.action, ActOutput{2}};
    expect_refused(r, ch, FlowModMsg{apply}, ++xid, x.code);
    FlowMod write = add_rule(9, 1, 2);
    write.instructions.write = ActionList{x.action};
    expect_refused(r, ch, FlowModMsg{write}, ++xid, x.code);
    FlowMod modify = apply;
    modify.command = FlowModCommand::kModify;
    expect_refused(r, ch, FlowModMsg{modify}, ++xid, x.code);
    GroupMod gm;
    gm.group_id = 3;
    gm.buckets = {GroupBucket{}};
    gm.buckets[0].actions = {x.action, ActOutput{2}};
    expect_refused(r, ch, GroupModMsg{gm}, ++xid, x.code);
    PacketOut po;
    po.in_port = 1;
    po.actions = {x.action, ActOutput{2}};
    po.data = dps::test::udp_frame();
    expect_refused(r, ch, po, ++xid, x.code);
    CHECK(r.dp->execs.empty());
    CHECK(table0(r) == before);
    CHECK(r.ofp->stats().rules == 1);
    CHECK(r.ofp->bridge().pipeline.groups().size() == 0);
  }
  // The same actions with the datapath's fields and actions are accepted.
  FlowMod ok = add_rule(9, 1, 2);
  ok.match.set_u64(OxmField::kEthType, 0x86dd);
  ok.instructions.apply = ActionList{ActSetField{OxmField::kIpEcn, FieldValue::from_u64(1, 1)},
                                     ActSetNwTtl{7}, ActOutput{2}};
  r.send(ch, FlowModMsg{ok}, ++xid);
  CHECK(ch.outbox.empty());
  CHECK(r.ofp->stats().rules == 2);
}

TEST_CASE("of_handler: table-features advertise exactly what validation accepts",
          "[ofproto][of_handler][setfield]") {
  HandlerRig r;
  ChannelState& ch = r.open();
  const std::vector<uint32_t> set_ids = table_feature_ids(r, ch, TableFeaturePropType::kApplySetfield);
  const std::vector<uint32_t> act_ids = table_feature_ids(r, ch, TableFeaturePropType::kApplyActions);
  CHECK(set_ids == table_feature_ids(r, ch, TableFeaturePropType::kWriteSetfield));
  CHECK(act_ids == table_feature_ids(r, ch, TableFeaturePropType::kWriteActions));
  // Every OpenFlow-basic field: a group bucket setting it (no prerequisites
  // in buckets) is accepted exactly when the field is advertised.
  uint32_t xid = 100;
  unsigned accepted = 0;
  for (unsigned i = 0; i < kNumOxmFields; i++) {
    const OxmField f = static_cast<OxmField>(i);
    INFO(oxm_field_info(f).name);
    const uint32_t header = (uint32_t{kOxmClassOpenflowBasic} << 16) | (i << 9) | oxm_field_info(f).width;
    const bool advertised = std::find(set_ids.begin(), set_ids.end(), header) != set_ids.end();
    GroupMod gm;
    gm.group_id = 1000 + i;
    gm.buckets = {GroupBucket{}};
    gm.buckets[0].actions = {set_zero(f), ActOutput{2}};
    if (advertised) {
      r.send(ch, GroupModMsg{gm}, ++xid);
      CHECK(ch.outbox.empty());
      accepted++;
    } else {
      expect_refused(r, ch, GroupModMsg{gm}, ++xid, BadActionCode::kBadSetType);
    }
  }
  // 40 OFB fields less in_port, in_phy_port and ipv6_exthdr.
  CHECK(accepted == 37);
  // set_field, the VLAN, MPLS, PBB, copy-TTL and TTL actions are advertised.
  for (uint32_t a : {0u, 11u, 12u, 15u, 16u, 17u, 18u, 19u, 20u, 22u, 23u, 24u, 25u, 26u, 27u})
    CHECK(std::find(act_ids.begin(), act_ids.end(), a) != act_ids.end());
}

TEST_CASE("of_handler: PBB flow-mods the match does not allow are refused with the spec's error",
          "[ofproto][of_handler][pbb]") {
  HandlerRig r;
  ChannelState& ch = r.open();
  uint32_t xid = 200;
  auto rule = [](std::optional<uint16_t> eth_type, ActionList acts) {
    FlowMod fm = add_rule(9, 1, 2);
    if (eth_type) fm.match.set_u64(OxmField::kEthType, *eth_type);
    fm.instructions.apply = std::move(acts);
    return fm;
  };
  const ActSetField isid{OxmField::kPbbIsid, FieldValue::from_u64(0x123, 3)};
  // pop_pbb and set_field pbb_isid need eth_type=0x88e7 (match or push_pbb).
  expect_refused(r, ch, FlowModMsg{rule(0x0800, {ActPopPbb{}, ActOutput{2}})}, ++xid,
                 BadActionCode::kMatchInconsistent);
  expect_refused(r, ch, FlowModMsg{rule(std::nullopt, {ActPopPbb{}, ActOutput{2}})}, ++xid,
                 BadActionCode::kMatchInconsistent);
  expect_refused(r, ch, FlowModMsg{rule(0x0800, {isid, ActOutput{2}})}, ++xid, BadActionCode::kMatchInconsistent);
  // After pop_pbb nothing is known: a second one, or a set of the I-SID, is inconsistent.
  expect_refused(r, ch, FlowModMsg{rule(0x88e7, {ActPopPbb{}, isid, ActOutput{2}})}, ++xid,
                 BadActionCode::kMatchInconsistent);
  expect_refused(r, ch, FlowModMsg{rule(0x0800, {ActPushPbb{0x8100}, ActOutput{2}})}, ++xid,
                 BadActionCode::kBadArgument);
  CHECK(r.ofp->stats().rules == 0);
  // What the spec allows is installed.
  for (FlowMod fm : {rule(0x88e7, {ActPopPbb{}, ActOutput{2}}), rule(0x88e7, {isid, ActOutput{2}}),
                     rule(0x0800, {ActPushPbb{}, isid, ActOutput{2}})}) {
    fm.priority = static_cast<uint16_t>(10 + xid);
    r.send(ch, FlowModMsg{fm}, ++xid);
    CHECK(ch.outbox.empty());
  }
  CHECK(r.ofp->stats().rules == 3);
}
