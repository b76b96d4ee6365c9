// connmgr_test.cc - the OpenFlow channel end to end in one process: a
// ConnectionManager over an Ofproto on the fake datapath, driven by
// in-process TCP clients that speak the wire protocol through the codec.
//
// Coverage goal: every channel mechanism a controller depends on - HELLO
// negotiation (and its failure), ECHO, FEATURES, FLOW_MOD + multipart dump,
// errors with the spec's type/code and the connection staying up, BARRIER
// ordering, roles with generation ids, multipart splitting, PACKET_IN
// (reasons, miss_send_len, buffer ids), PACKET_OUT, PORT_STATUS,
// fail-open, reconnecting controllers, and back-pressure from a slow reader.
#include <utility>  // before any boost/asio include under C++20

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <thread>

#include "connmgr.h"
#include "of_codec.h"
#include "ofproto.h"
#include "ofproto_rig.h"
#include "packet_builder.h"

using namespace dps::ofproto;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::vector<uint8_t> frame(size_t payload = 18) { return dps::test::udp_frame({.payload = payload}); }

// An Ofproto with three ports on the fake datapath (on the steady clock:
// probes and backoff are real time) and a connection manager listening on
// a free port.
struct Rig : dps::test::OfprotoRig {
  std::unique_ptr<ConnectionManager> cm;

  explicit Rig(ConnMgrConfig cc = {}, OfprotoConfig oc = {})
      : OfprotoRig(std::move(oc), {.test_clock = false}) {
    if (cc.targets.empty()) cc.targets = {"ptcp:0:127.0.0.1"};
    cm = std::make_unique<ConnectionManager>(*ofp, cc);
  }
  uint16_t port() const { return cm->listening_ports().at(0); }
  void pump() {
    ofp->run();
    cm->run();
  }
};

// A controller: a blocking TCP socket read without blocking, pumping the
// rig while it waits.
struct Client {
  Rig& rig;
  asio::io_context io;
  tcp::socket sock{io};
  MessageFramer framer;
  bool eof = false;

  explicit Client(Rig& r, bool handshake = true, int rcvbuf = 0) : rig(r) {
    sock.open(tcp::v4());
    if (rcvbuf) sock.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), rig.port()));
    if (handshake) {
      auto h = recv();
      REQUIRE(h);
      REQUIRE(std::holds_alternative<Hello>(h->body));
      send(OfMessage{kOfpVersion13, 1, Hello{}});
    }
  }
  void send_raw(const Bytes& b) { asio::write(sock, asio::buffer(b)); }
  void send(const OfMessage& m) { send_raw(encode(m)); }
  std::optional<Bytes> recv_raw(int timeout_ms = 3000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Bytes msg;
    while (std::chrono::steady_clock::now() < end) {
      if (framer.next(&msg) == MessageFramer::Status::kMessage) return msg;
      rig.pump();
      boost::system::error_code ec;
      size_t avail = sock.available(ec);
      if (ec) {
        eof = true;
        return std::nullopt;
      }
      if (avail) {
        std::vector<uint8_t> buf(avail);
        size_t n = sock.read_some(asio::buffer(buf), ec);
        if (ec) {
          eof = true;
          return std::nullopt;
        }
        framer.append(std::span<const uint8_t>(buf.data(), n));
      } else {
        // Detect an orderly close: poll for readability without blocking.
        sock.non_blocking(true);
        uint8_t b;
        size_t n = sock.receive(asio::buffer(&b, 1), tcp::socket::message_peek, ec);
        sock.non_blocking(false);
        if (ec == asio::error::eof || (!ec && n == 0)) {
          eof = true;
          return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    return std::nullopt;
  }
  std::optional<OfMessage> recv(int timeout_ms = 3000) {
    auto raw = recv_raw(timeout_ms);
    if (!raw) return std::nullopt;
    OfMessage m;
    DecodeOptions o;
    o.accept_experimenter = true;
    MaybeError e = decode(*raw, &m, o);
    INFO((e ? e->message : ""));
    REQUIRE_FALSE(e);
    return m;
  }
  // The next message of type T (skipping echo requests and async messages
  // of other types).
  template <typename T>
  std::optional<std::pair<uint32_t, T>> expect(int timeout_ms = 3000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      auto m = recv(timeout_ms);
      if (!m) return std::nullopt;
      if (auto* t = std::get_if<T>(&m->body)) return std::pair{m->xid, *t};
      if (auto* e = std::get_if<ErrorMsg>(&m->body))
        FAIL_CHECK("unexpected error " << of_error_name(e->type, e->code));
    }
    return std::nullopt;
  }
  ErrorMsg expect_error(uint32_t xid) {
    auto m = recv();
    REQUIRE(m);
    auto* e = std::get_if<ErrorMsg>(&m->body);
    INFO("got " << of_type_name(message_type(m->body)));
    REQUIRE(e);
    CHECK(m->xid == xid);
    return *e;
  }
  // The error answering xid, of this type and code.
  template <typename Code>
  ErrorMsg expect_error(uint32_t xid, OfErrorType type, Code code) {
    ErrorMsg e = expect_error(xid);
    CHECK(e.type == type);
    CHECK(e.code == static_cast<uint16_t>(code));
    return e;
  }
  // A round trip that proves the connection is still up.
  void check_alive(uint32_t xid = 0x7777) {
    send(OfMessage{kOfpVersion13, xid, EchoRequest{{1, 2, 3}}});
    auto r = expect<EchoReply>();
    REQUIRE(r);
    CHECK(r->first == xid);
    CHECK(r->second.data == Bytes{1, 2, 3});
  }
  FlowStatsReply dump_flows(uint32_t xid = 50) {
    send(OfMessage{kOfpVersion13, xid, MultipartRequest{0, FlowStatsRequest{}}});
    FlowStatsReply all;
    for (;;) {
      auto r = expect<MultipartReply>();
      REQUIRE(r);
      for (auto& f : std::get<FlowStatsReply>(r->second.body).flows) all.flows.push_back(f);
      if (!(r->second.flags & kMultipartMore)) break;
    }
    return all;
  }
};

FlowMod add_rule(uint16_t priority, uint32_t in_port, uint32_t out_port) {
  FlowMod fm;
  fm.priority = priority;
  fm.match.set_u64(OxmField::kInPort, in_port);
  fm.instructions.apply = ActionList{ActOutput{out_port}};
  return fm;
}

OfMessage msg(uint32_t xid, OfBody body) { return OfMessage{kOfpVersion13, xid, std::move(body)}; }

}  // namespace

TEST_CASE("channel: HELLO negotiates 1.3, FEATURES and GET_CONFIG answer", "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig, false);
  auto h = c.recv();
  REQUIRE(h);
  auto* hello = std::get_if<Hello>(&h->body);
  REQUIRE(hello);
  CHECK(hello->has_bitmap);
  CHECK((hello->versions & (1u << kOfpVersion13)));
  // A peer offering 1.0..1.5 by bitmap negotiates 1.3.
  c.send(msg(1, Hello{true, (1u << 1) | (1u << 4) | (1u << 6)}));
  c.send(msg(2, FeaturesRequest{}));
  auto f = c.expect<FeaturesReply>();
  REQUIRE(f);
  CHECK(f->first == 2);
  CHECK(f->second.n_buffers == kPacketBuffers);
  CHECK(f->second.n_tables == 254);
  CHECK((f->second.capabilities & kCapFlowStats));
  c.send(msg(3, GetConfigRequest{}));
  auto g = c.expect<GetConfigReply>();
  REQUIRE(g);
  CHECK(g->second.miss_send_len == kDefaultMissSendLen);
  CHECK(rig.cm->n_connections() == 1);
}

TEST_CASE("channel: a peer without OpenFlow 1.3 gets HELLO_FAILED and is closed",
          "[ofproto][connmgr]") {
  Rig rig;
  SECTION("bitmap without 1.3") {
    Client c(rig, false);
    REQUIRE(c.recv());
    c.send(OfMessage{0x06, 9, Hello{true, 1u << 6}});
    c.expect_error(9, OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible);
    CHECK_FALSE(c.recv(1500));
    CHECK(c.eof);
  }
  SECTION("OpenFlow 1.0 header, no bitmap") {
    Client c(rig, false);
    REQUIRE(c.recv());
    c.send_raw({0x01, 0x00, 0x00, 0x08, 0, 0, 0, 5});
    ErrorMsg e = c.expect_error(5);
    CHECK(e.type == OfErrorType::kHelloFailed);
    CHECK_FALSE(c.recv(1500));
    CHECK(c.eof);
  }
  CHECK(rig.cm->n_connections() == 0);
}

TEST_CASE("channel: ECHO both ways; an idle peer is probed and then dropped",
          "[ofproto][connmgr]") {
  ConnMgrConfig cc;
  cc.probe_interval_ms = 200;
  Rig rig(cc);
  Client c(rig);
  c.check_alive(42);
  // Stay silent: the switch sends an ECHO_REQUEST after ~200 ms ...
  auto probe = c.expect<EchoRequest>(2000);
  REQUIRE(probe);
  CHECK(rig.cm->stats().probes_sent >= 1);
  // ... and drops the connection ~200 ms later when it is not answered.
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!c.eof && std::chrono::steady_clock::now() < end) c.recv(100);
  CHECK(c.eof);
  CHECK(rig.cm->stats().probe_timeouts == 1);
  // A peer that answers stays.
  Client d(rig);
  for (int i = 0; i < 3; i++) {
    auto p = d.expect<EchoRequest>(2000);
    REQUIRE(p);
    d.send(msg(p->first, EchoReply{p->second.data}));
  }
  CHECK_FALSE(d.eof);
}

TEST_CASE("channel: FLOW_MOD add/modify/delete and multipart FLOW/AGGREGATE", "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig);
  FlowMod a = add_rule(100, 1, 2);
  a.cookie = 0x55;
  c.send(msg(10, FlowModMsg{a}));
  c.send(msg(11, FlowModMsg{add_rule(90, 2, 1)}));
  FlowStatsReply d = c.dump_flows();
  REQUIRE(d.flows.size() == 2);
  CHECK(d.flows[0].priority == 100);
  CHECK(d.flows[0].cookie == 0x55);
  CHECK(d.flows[0].instructions == a.instructions);
  // Delete by cookie: only the first goes.
  FlowMod del;
  del.command = FlowModCommand::kDelete;
  del.table_id = kTableAll;
  del.cookie = 0x55;
  del.cookie_mask = ~uint64_t{0};
  c.send(msg(12, FlowModMsg{del}));
  c.send(msg(13, MultipartRequest{0, AggregateRequest{}}));
  auto agg = c.expect<MultipartReply>();
  REQUIRE(agg);
  CHECK(std::get<AggregateReply>(agg->second.body).flow_count == 1);
  CHECK(rig.ofp->stats().rules == 1);
}

TEST_CASE("channel: rejected messages get the spec's error and the connection stays up",
          "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig);
  SECTION("add to OFPTT_ALL: flow_mod_failed/bad_table_id, data = the request") {
    FlowMod fm = add_rule(1, 1, 2);
    fm.table_id = kTableAll;
    Bytes raw = encode(msg(20, FlowModMsg{fm}));
    c.send_raw(raw);
    ErrorMsg e = c.expect_error(20, OfErrorType::kFlowModFailed, FlowModFailedCode::kBadTableId);
    // At least the first 64 bytes (spec); all of it here, as OVS does.
    REQUIRE(raw.size() > kOfpErrorDataLen);
    CHECK(e.data == raw);
  }
  SECTION("unknown message type: bad_request/bad_type") {
    c.send_raw({0x04, 0x63, 0x00, 0x08, 0, 0, 0, 21});
    c.expect_error(21, OfErrorType::kBadRequest, BadRequestCode::kBadType);
  }
  SECTION("wrong version after HELLO: bad_request/bad_version") {
    c.send_raw({0x05, 0x02, 0x00, 0x08, 0, 0, 0, 22});
    c.expect_error(22, OfErrorType::kBadRequest, BadRequestCode::kBadVersion);
  }
  SECTION("experimenter message: bad_request/bad_experimenter") {
    c.send_raw({0x04, 0x04, 0x00, 0x10, 0, 0, 0, 23, 0x00, 0x00, 0x23, 0x20, 0, 0, 0, 1});
    c.expect_error(23, OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter);
  }
  SECTION("unknown group in an action: bad_action/bad_out_group") {
    FlowMod fm = add_rule(1, 1, 2);
    fm.instructions.apply = ActionList{ActGroup{77}};
    c.send(msg(24, FlowModMsg{fm}));
    c.expect_error(24, OfErrorType::kBadAction, BadActionCode::kBadOutGroup);
  }
  SECTION("PORT_MOD of a missing port: port_mod_failed/bad_port") {
    PortMod pm;
    pm.port_no = 99;
    pm.mask = kPortConfigDown;
    c.send(msg(25, pm));
    c.expect_error(25, OfErrorType::kPortModFailed, PortModFailedCode::kBadPort);
  }
  SECTION("PACKET_OUT naming a buffer never issued: bad_request/buffer_unknown") {
    PacketOut po;
    po.buffer_id = 0x1234;
    po.in_port = 1;
    po.actions = {ActOutput{2}};
    c.send(msg(26, po));
    c.expect_error(26, OfErrorType::kBadRequest, BadRequestCode::kBufferUnknown);
  }
  SECTION("a truncated message: bad_request/bad_len") {
    Bytes raw = encode(msg(27, FlowModMsg{add_rule(1, 1, 2)}));
    raw.resize(raw.size() - 8);
    raw[2] = static_cast<uint8_t>(raw.size() >> 8);
    raw[3] = static_cast<uint8_t>(raw.size());
    c.send_raw(raw);
    ErrorMsg e = c.expect_error(27);
    CHECK(e.type != OfErrorType::kHelloFailed);
  }
  c.check_alive();
  CHECK(rig.cm->n_connections() == 1);
}

TEST_CASE("channel: BARRIER is answered after everything before it", "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig);
  FlowMod bad = add_rule(1, 1, 2);
  bad.table_id = kTableAll;
  // Pipelined in one write: add, bad add, barrier, dump.
  Bytes all;
  for (const OfMessage& m : {msg(30, FlowModMsg{add_rule(5, 1, 2)}), msg(31, FlowModMsg{bad}),
                             msg(32, BarrierRequest{}),
                             msg(33, MultipartRequest{0, FlowStatsRequest{}})}) {
    Bytes b = encode(m);
    all.insert(all.end(), b.begin(), b.end());
  }
  c.send_raw(all);
  ErrorMsg e = c.expect_error(31);
  CHECK(e.type == OfErrorType::kFlowModFailed);
  auto b = c.recv();
  REQUIRE(b);
  CHECK(std::holds_alternative<BarrierReply>(b->body));
  CHECK(b->xid == 32);
  auto d = c.expect<MultipartReply>();
  REQUIRE(d);
  CHECK(d->first == 33);
  CHECK(std::get<FlowStatsReply>(d->second.body).flows.size() == 1);
}

TEST_CASE("channel: roles, generation ids and the slave's limits", "[ofproto][connmgr]") {
  Rig rig;
  Client a(rig), b(rig);
  a.send(msg(40, RoleRequest{ControllerRole::kMaster, 5}));
  auto ra = a.expect<RoleReply>();
  REQUIRE(ra);
  CHECK(ra->second.role == ControllerRole::kMaster);
  CHECK(ra->second.generation_id == 5);
  // An older generation is stale.
  b.send(msg(41, RoleRequest{ControllerRole::kMaster, 4}));
  ErrorMsg e = b.expect_error(41, OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kStale);
  // A newer one takes over; a becomes slave.
  b.send(msg(42, RoleRequest{ControllerRole::kMaster, 6}));
  auto rb = b.expect<RoleReply>();
  REQUIRE(rb);
  CHECK(rb->second.role == ControllerRole::kMaster);
  a.send(msg(43, RoleRequest{ControllerRole::kNoChange, 0}));
  ra = a.expect<RoleReply>();
  REQUIRE(ra);
  CHECK(ra->second.role == ControllerRole::kSlave);
  CHECK(ra->second.generation_id == 6);
  // A slave cannot change the switch.
  a.send(msg(44, FlowModMsg{add_rule(1, 1, 2)}));
  a.expect_error(44, OfErrorType::kBadRequest, BadRequestCode::kIsSlave);
  CHECK(rig.ofp->stats().rules == 0);
  // Async config: a slave gets no packet-ins by default.
  a.send(msg(45, GetAsyncRequest{}));
  auto as = a.expect<GetAsyncReply>();
  REQUIRE(as);
  CHECK(as->second.config.packet_in_mask[1] == 0);
  CHECK(as->second.config.packet_in_mask[0] == 3);
}

TEST_CASE("channel: a large FLOW reply is split into parts of at most 64 KiB", "[ofproto][connmgr]") {
  Rig rig;
  for (uint32_t i = 0; i < 3000; i++) {
    FlowMod fm;
    fm.priority = 10;
    fm.match.set_u64(OxmField::kEthType, 0x0800);
    fm.match.set_u64(OxmField::kIpv4Dst, 0x0a000000u + i);
    fm.instructions.apply = ActionList{ActOutput{2}};
    REQUIRE_FALSE(rig.ofp->flow_mod(fm));
  }
  Client c(rig);
  c.send(msg(50, MultipartRequest{0, FlowStatsRequest{}}));
  size_t parts = 0, flows = 0;
  for (;;) {
    auto raw = c.recv_raw();
    REQUIRE(raw);
    CHECK(raw->size() <= kOfpMaxMessageLen);
    OfMessage m;
    REQUIRE_FALSE(decode(*raw, &m));
    auto& r = std::get<MultipartReply>(m.body);
    CHECK(m.xid == 50);
    parts++;
    flows += std::get<FlowStatsReply>(r.body).flows.size();
    if (!(r.flags & kMultipartMore)) break;
  }
  CHECK(parts > 1);
  CHECK(flows == 3000);
}

TEST_CASE("channel: PACKET_OUT executes; PACKET_IN carries reason, cookie, in_port, data",
          "[ofproto][connmgr]") {
  Rig rig({}, dps::test::unlimited_packet_ins());
  Client c(rig);
  const std::vector<uint8_t> f = frame(200);

  // PACKET_OUT to port 2 from port 1: one execution on PMD 0.
  PacketOut po;
  po.in_port = 1;
  po.actions = {ActOutput{2}};
  po.data = f;
  c.send(msg(60, po));
  c.send(msg(61, BarrierRequest{}));
  REQUIRE(c.expect<BarrierReply>());
  REQUIRE(rig.dp->execs.size() == 1);
  CHECK(rig.dp->execs[0].in_port == 1);
  CHECK(rig.dp->execs[0].actions.n == 1);

  // output:CONTROLLER comes back as a userspace action; the PMD would hand
  // the packet up with its cookie - the fake does it here.
  po.actions = {ActOutput{kPortController, 100}};
  c.send(msg(62, po));
  c.send(msg(63, BarrierRequest{}));
  REQUIRE(c.expect<BarrierReply>());
  REQUIRE(rig.dp->execs.size() == 2);
  REQUIRE(rig.dp->hand_up(1, 0, 1, f));
  auto pi = c.expect<PacketIn>();
  REQUIRE(pi);
  CHECK(pi->second.reason == PacketInReason::kAction);
  CHECK(pi->second.total_len == f.size());
  CHECK(pi->second.data.size() == 100);  // max_len of the action
  OfMatch in1;
  in1.set_u64(OxmField::kInPort, 1);
  CHECK(pi->second.match == in1);

  SECTION("table miss: miss_send_len cuts the data and the frame is buffered") {
    rig.ofp->bridge().pipeline.table(0).miss = TableMiss::kController;
    c.send(msg(64, SetConfig{kFragNormal, 64}));
    rig.miss_to_controller(1, f);
    auto pm = c.expect<PacketIn>();
    REQUIRE(pm);
    CHECK(pm->second.reason == PacketInReason::kNoMatch);
    CHECK(pm->second.data.size() == 64);
    CHECK(pm->second.cookie == ~uint64_t{0});
    REQUIRE(pm->second.buffer_id != kOfpNoBuffer);
    // A FLOW_MOD naming the buffer sends the packet through the new rule.
    size_t before = rig.dp->execs.size();
    FlowModMsg fm{add_rule(10, 1, 3), pm->second.buffer_id};
    c.send(msg(65, fm));
    c.send(msg(66, BarrierRequest{}));
    REQUIRE(c.expect<BarrierReply>());
    CHECK(rig.dp->execs.size() == before + 1);
    // The buffer is used once.
    c.send(msg(67, FlowModMsg{add_rule(11, 1, 3), pm->second.buffer_id}));
    ErrorMsg e = c.expect_error(67);
    CHECK(e.code == static_cast<uint16_t>(BadRequestCode::kBufferEmpty));
  }
  SECTION("async masks filter packet-ins") {
    AsyncConfig ac = default_async_config();
    ac.packet_in_mask[0] = 1u << 0;  // no_match only
    c.send(msg(70, SetAsync{ac}));
    REQUIRE(rig.dp->hand_up(1, 0, 1, f));
    c.send(msg(71, BarrierRequest{}));
    auto m = c.recv();
    REQUIRE(m);
    CHECK(std::holds_alternative<BarrierReply>(m->body));  // no PACKET_IN first
    CHECK_FALSE(c.recv(300));
  }
}

TEST_CASE("channel: PORT_STATUS on port add, delete and PORT_MOD", "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig);
  rig.ofp->add_port(7, 7, "p7");
  auto s = c.expect<PortStatus>();
  REQUIRE(s);
  CHECK(s->second.reason == PortReason::kAdd);
  CHECK(s->second.desc.port_no == 7);
  CHECK(s->second.desc.name == "p7");
  PortMod pm;
  pm.port_no = 7;
  pm.config = kPortConfigNoFwd;
  pm.mask = kPortConfigNoFwd;
  c.send(msg(80, pm));
  s = c.expect<PortStatus>();
  REQUIRE(s);
  CHECK(s->second.reason == PortReason::kModify);
  CHECK((s->second.desc.config & kPortConfigNoFwd));
  CHECK(rig.ofp->bridge().port(7)->no_fwd);
  rig.ofp->remove_port(7);
  s = c.expect<PortStatus>();
  REQUIRE(s);
  CHECK(s->second.reason == PortReason::kDelete);
}

TEST_CASE("channel: multiparts a controller asks for at start", "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig);
  c.send(msg(90, MultipartRequest{0, PortDescRequest{}}));
  auto pd = c.expect<MultipartReply>();
  REQUIRE(pd);
  CHECK(std::get<PortDescReply>(pd->second.body).ports.size() == 3);
  c.send(msg(91, MultipartRequest{0, PortStatsRequest{kPortAny}}));
  auto ps = c.expect<MultipartReply>();
  REQUIRE(ps);
  CHECK(std::get<PortStatsReply>(ps->second.body).ports.size() == 3);
  c.send(msg(92, MultipartRequest{0, TableFeaturesRequest{}}));
  size_t tables = 0;
  for (;;) {
    auto r = c.expect<MultipartReply>();
    REQUIRE(r);
    for (const TableFeatures& t : std::get<TableFeaturesReply>(r->second.body).tables) {
      tables++;
      // Every required property type is present (1.3.5 section 7.3.5.18).
      std::set<TableFeaturePropType> types;
      for (auto& p : t.properties) types.insert(p.type);
      CHECK(types.size() == 14);
    }
    if (!(r->second.flags & kMultipartMore)) break;
  }
  CHECK(tables == kNumTables);
  c.send(msg(93, MultipartRequest{0, DescRequest{}}));
  auto d = c.expect<MultipartReply>();
  REQUIRE(d);
  CHECK(std::get<DescReply>(d->second.body).dp_desc == "br0");
  c.send(msg(94, MultipartRequest{0, QueueStatsRequest{}}));
  auto q = c.expect<MultipartReply>();
  REQUIRE(q);
  CHECK(std::get<QueueStatsReply>(q->second.body).queues.empty());
}

TEST_CASE("channel: fail-open with a configured controller, removed when it connects",
          "[ofproto][connmgr]") {
  asio::io_context io;
  tcp::acceptor ctl(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = ctl.local_endpoint().port();
  ConnMgrConfig cc;
  cc.targets = {"ptcp:0:127.0.0.1", "tcp:127.0.0.1:" + std::to_string(port)};
  cc.fail_open_delay_ms = 0;
  cc.min_backoff_ms = 50;
  cc.max_backoff_ms = 200;
  Rig rig(cc);
  rig.pump();
  // The listener has not accepted yet: no controller, standalone -> fail-open.
  CHECK(rig.ofp->fail_open());
  CHECK(rig.ofp->stats().rules == 1);
  // A service connection does not hide the rule from the table, but dumps hide it.
  {
    Client svc(rig);
    CHECK(svc.dump_flows().flows.empty());
  }
  // The controller accepts: after HELLO the fail-open rule is gone.
  tcp::socket s(io);
  ctl.non_blocking(true);
  boost::system::error_code ec;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  do {
    rig.pump();
    ctl.accept(s, ec);
  } while (ec && std::chrono::steady_clock::now() < end);
  REQUIRE_FALSE(ec);
  asio::write(s, asio::buffer(encode(msg(1, Hello{}))));
  end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!rig.cm->controller_connected() && std::chrono::steady_clock::now() < end) rig.pump();
  REQUIRE(rig.cm->controller_connected());
  CHECK_FALSE(rig.ofp->fail_open());
  CHECK(rig.ofp->stats().rules == 0);
  // The controller goes away: fail-open again, and the switch reconnects.
  s.close();
  end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!rig.ofp->fail_open() && std::chrono::steady_clock::now() < end) rig.pump();
  CHECK(rig.ofp->fail_open());
  tcp::socket s2(io);
  end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  do {
    rig.pump();
    ctl.accept(s2, ec);
  } while (ec && std::chrono::steady_clock::now() < end);
  CHECK_FALSE(ec);
  end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (rig.cm->stats().connected < 2 && std::chrono::steady_clock::now() < end) rig.pump();
  CHECK(rig.cm->stats().connected == 2);
  // secure: nothing is added without a controller.
  rig.cm->set_fail_mode("secure");
  CHECK_FALSE(rig.ofp->fail_open());
  CHECK(rig.ofp->stats().rules == 0);
  // A catch-all rule of the operator is neither replaced nor removed.
  REQUIRE_FALSE(rig.ofp->add_flow("priority=0,actions=NORMAL"));
  rig.ofp->set_fail_open(true);
  rig.ofp->set_fail_open(false);
  CHECK(rig.ofp->stats().rules == 1);
}

TEST_CASE("channel: a slow reader loses packet-ins, never blocks the others",
          "[ofproto][connmgr]") {
  OfprotoConfig oc = dps::test::packet_in_limit(1e9, 1e9);
  oc.upcall.packet_in_queue = 100000;
  ConnMgrConfig cc;
  cc.send_queue_soft = 256 << 10;
  Rig rig(cc, oc);
  Client slow(rig, true, 4096);  // never reads after the handshake
  Client fast(rig);
  const std::vector<uint8_t> f = frame(1400);
  PacketOut po;
  po.in_port = 1;
  po.actions = {ActOutput{kPortController}};
  po.data = f;
  fast.send(msg(1, po));
  fast.send(msg(2, BarrierRequest{}));
  REQUIRE(fast.expect<BarrierReply>());
  const uint32_t cookie = rig.dp->execs.back().actions.acts[0].arg32;
  // 20000 packet-ins of ~1.5 KiB (30 MB): far beyond socket buffers. A
  // round's packet-ins (150 KB) fit below the soft mark of a reader that
  // keeps up.
  size_t fast_got = 0;
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 100; i++) rig.dp->userspace(0, 1, f, cookie);
    rig.pump();
    // The fast controller keeps up and keeps getting answers.
    while (auto m = fast.recv(5))
      if (std::holds_alternative<PacketIn>(m->body)) fast_got++;
    CHECK(rig.cm->queued_bytes() <= 2 * cc.send_queue_soft + (256u << 10));
  }
  fast.check_alive();
  CHECK(rig.cm->handler().stats().packet_ins_dropped > 0);
  CHECK(fast_got > 18000);
  CHECK(rig.cm->n_connections() == 2);  // the slow one is not cut for packet-ins
}

TEST_CASE("channel: targets are checked", "[ofproto][connmgr]") {
  CHECK_THROWS_AS(OfTarget::parse("ptcp"), std::invalid_argument);
  CHECK_THROWS_AS(OfTarget::parse("ptcp:abc"), std::invalid_argument);
  CHECK_THROWS_AS(OfTarget::parse("tcp:1.2.3.4:70000"), std::invalid_argument);
  CHECK_THROWS_AS(OfTarget::parse("ssl:1.2.3.4:6653"), std::invalid_argument);
  OfTarget t = OfTarget::parse("ptcp:6653");
  CHECK(t.passive);
  CHECK(t.ip == "127.0.0.1");
  t = OfTarget::parse("tcp:10.0.0.1");
  CHECK_FALSE(t.passive);
  CHECK(t.port == kOfpTcpPort);
}

namespace {

// The bytes of a packet-out mbuf (single segment, as the fake makes them).
std::vector<uint8_t> mbuf_bytes(const rte_mbuf* m) {
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  return std::vector<uint8_t>(d, d + rte_pktmbuf_pkt_len(m));
}

// Installs table 0's table-miss flow entry: output:CONTROLLER with max_len.
void add_table_miss(Client& c, uint32_t xid, uint16_t max_len) {
  FlowMod fm;
  fm.priority = 0;
  fm.cookie = 0x99;
  fm.instructions.apply = ActionList{ActOutput{kPortController, max_len}};
  c.send(msg(xid, FlowModMsg{fm, kOfpNoBuffer}));
  c.send(msg(xid + 1, BarrierRequest{}));
  REQUIRE(c.expect<BarrierReply>());
}

// A miss on port 1 translated by the rig and handed up as the PMD would.
std::optional<PacketIn> miss_to_controller(Rig& rig, Client& c, const std::vector<uint8_t>& f) {
  rig.miss_to_controller(1, f);
  auto pi = c.expect<PacketIn>();
  if (!pi) return std::nullopt;
  return pi->second;
}

}  // namespace

TEST_CASE("channel: a cut packet-in buffers the whole frame; PACKET_OUT/FLOW_MOD use all of it",
          "[ofproto][connmgr]") {
  Rig rig({}, dps::test::unlimited_packet_ins());
  Client c(rig);
  const std::vector<uint8_t> f = frame(300);
  REQUIRE(f.size() > 300);

  add_table_miss(c, 10, 40);
  auto pi = miss_to_controller(rig, c, f);
  REQUIRE(pi);
  CHECK(pi->reason == PacketInReason::kNoMatch);  // table-miss flow entry
  CHECK(pi->cookie == 0x99);
  CHECK(pi->total_len == f.size());
  REQUIRE(pi->data.size() == 40);  // the action's max_len
  CHECK(std::equal(pi->data.begin(), pi->data.end(), f.begin()));
  REQUIRE(pi->buffer_id != kOfpNoBuffer);

  // PACKET_OUT naming the buffer sends the whole frame, not the 40 bytes.
  PacketOut po;
  po.buffer_id = pi->buffer_id;
  po.in_port = 1;
  po.actions = {ActOutput{2}};
  size_t execs = rig.dp->execs.size();
  c.send(msg(20, po));
  c.send(msg(21, BarrierRequest{}));
  REQUIRE(c.expect<BarrierReply>());
  REQUIRE(rig.dp->execs.size() == execs + 1);
  REQUIRE_FALSE(rig.sent.empty());
  CHECK(mbuf_bytes(rig.sent.back()) == f);
  // Used once.
  c.send(msg(22, po));
  CHECK(c.expect_error(22).code == static_cast<uint16_t>(BadRequestCode::kBufferEmpty));

  // FLOW_MOD naming a buffer: the whole frame goes through the new rule.
  pi = miss_to_controller(rig, c, f);
  REQUIRE(pi);
  REQUIRE(pi->buffer_id != kOfpNoBuffer);
  size_t sent = rig.sent.size();
  c.send(msg(23, FlowModMsg{add_rule(10, 1, 3), pi->buffer_id}));
  c.send(msg(24, BarrierRequest{}));
  REQUIRE(c.expect<BarrierReply>());
  REQUIRE(rig.sent.size() == sent + 1);
  CHECK(mbuf_bytes(rig.sent.back()) == f);
  const auto& out = rig.dp->execs.back().actions;
  REQUIRE(out.n == 1);
  CHECK(out.acts[0].type == dps::datapath::ActType::kOutput);
}

TEST_CASE("channel: packet-in length: the action's max_len, NO_BUFFER, and miss_send_len",
          "[ofproto][connmgr]") {
  Rig rig({}, dps::test::unlimited_packet_ins());
  Client c(rig);
  const std::vector<uint8_t> f = frame(200);
  c.send(msg(5, SetConfig{kFragNormal, 64}));

  SECTION("table-miss entry with OFPCML_NO_BUFFER: whole frame, not buffered, "
          "miss_send_len does not cut it") {
    add_table_miss(c, 10, kControllerNoBuffer);
    auto pi = miss_to_controller(rig, c, f);
    REQUIRE(pi);
    CHECK(pi->reason == PacketInReason::kNoMatch);
    CHECK(pi->buffer_id == kOfpNoBuffer);
    CHECK(pi->data == f);
  }
  SECTION("max_len 0: no data, the frame is buffered") {
    add_table_miss(c, 10, 0);
    auto pi = miss_to_controller(rig, c, f);
    REQUIRE(pi);
    CHECK(pi->data.empty());
    CHECK(pi->total_len == f.size());
    CHECK(pi->buffer_id != kOfpNoBuffer);
  }
  SECTION("max_len above the frame length: whole frame, nothing to buffer") {
    add_table_miss(c, 10, 1500);
    auto pi = miss_to_controller(rig, c, f);
    REQUIRE(pi);
    CHECK(pi->data == f);
    CHECK(pi->buffer_id == kOfpNoBuffer);
  }
  SECTION("a table miss by table config (no action): miss_send_len cuts and buffers") {
    rig.ofp->bridge().pipeline.table(0).miss = TableMiss::kController;
    auto pi = miss_to_controller(rig, c, f);
    REQUIRE(pi);
    CHECK(pi->reason == PacketInReason::kNoMatch);
    CHECK(pi->data.size() == 64);
    CHECK(pi->buffer_id != kOfpNoBuffer);
    // miss_send_len OFPCML_NO_BUFFER: the whole frame, unbuffered.
    c.send(msg(6, SetConfig{kFragNormal, kControllerNoBuffer}));
    c.send(msg(7, BarrierRequest{}));
    REQUIRE(c.expect<BarrierReply>());
    pi = miss_to_controller(rig, c, f);
    REQUIRE(pi);
    CHECK(pi->data == f);
    CHECK(pi->buffer_id == kOfpNoBuffer);
  }
}

TEST_CASE("channel: TABLE stats count lookups and matches, incl. megaflow hits",
          "[ofproto][connmgr]") {
  Rig rig;
  Client c(rig);
  FlowMod go;
  go.priority = 5;
  go.instructions.goto_table = 1;
  c.send(msg(10, FlowModMsg{go, kOfpNoBuffer}));
  FlowMod t1 = add_rule(5, 2, 3);
  t1.table_id = 1;
  c.send(msg(11, FlowModMsg{t1, kOfpNoBuffer}));
  c.send(msg(12, BarrierRequest{}));
  REQUIRE(c.expect<BarrierReply>());
  auto table_stats = [&](uint32_t xid) {
    c.send(msg(xid, MultipartRequest{0, TableStatsRequest{}}));
    auto r = c.expect<MultipartReply>();
    REQUIRE(r);
    return std::get<TableStatsReply>(r->second.body);
  };
  // Two misses from port 1 (table 1 misses), one from port 2 (both match).
  const std::vector<uint8_t> f = frame();
  rig.dp->miss(0, 1, f);
  rig.dp->miss(0, 1, f);
  rig.dp->miss(0, 2, f);
  rig.ofp->run();
  TableStatsReply s = table_stats(20);
  REQUIRE(s.tables.size() >= 2);
  CHECK(s.tables[0].active_count == 1);
  CHECK(s.tables[0].lookup_count == 3);
  CHECK(s.tables[0].matched_count == 3);
  CHECK(s.tables[1].lookup_count == 3);
  CHECK(s.tables[1].matched_count == 1);
  // Megaflow hits in the datapath roll up over the tables the megaflow's
  // translation visited: 7 more packets on port 2's megaflow.
  REQUIRE_FALSE(rig.dp->flows.empty());
  bool found = false;
  for (auto& [ufid, fl] : rig.dp->flows)
    if (fl.spec.key.in_port == 2) {
      fl.stats.packets = 7;
      fl.stats.bytes = 7 * f.size();
      found = true;
    }
  REQUIRE(found);
  s = table_stats(21);
  CHECK(s.tables[0].lookup_count == 10);
  CHECK(s.tables[0].matched_count == 10);
  CHECK(s.tables[1].lookup_count == 10);
  CHECK(s.tables[1].matched_count == 8);
  CHECK(s.tables[2].lookup_count == 0);
}
