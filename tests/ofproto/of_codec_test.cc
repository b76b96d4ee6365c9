// of_codec_test.cc - the OpenFlow 1.3 wire codec.
//
// Coverage goal: every message type and every multipart body round-trips
// (typed -> bytes -> typed, and bytes -> typed -> the same bytes); every
// prefix of every message is rejected with bad_request/bad_len or decodes
// to something that re-encodes (never a crash or an over-read: ASan builds
// and the fuzzer check the latter); malformed headers, OXM, actions,
// instructions, buckets, bands and multipart bodies get the exact
// OFPET_*/code of the spec; the framer and the multipart splitter respect
// the 64 KiB limit. Independent checks against Open vSwitch:
//  - every message we encode is printed by `ovs-ofctl ofp-print` without a
//    decode error, with the contents we put in;
//  - ovs-ofctl -O OpenFlow13 talks to a fake switch built on this codec
//    (add-flow, mod-flows, del-flows --strict, add-group, add-meter,
//    mod-port, packet-out and the dump commands): what it sends decodes,
//    and what we answer is printed back as expected.
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "flow_parser.h"
#include "of_codec.h"

using namespace dps::ofproto;

// GCC 12's libstdc++ reports bogus overreads/overlaps on the byte-vector
// building below at -O2/-O3 (GCC PR 105545 family); the codec itself is
// checked by ASan under the fuzzer.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overread"
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---- sample messages ------------------------------------------------------------

OfMatch must_match(std::initializer_list<std::tuple<OxmField, uint64_t, uint64_t>> fields) {
  OfMatch m;
  for (auto [f, v, mask] : fields) {
    MaybeError e = mask ? m.set_u64_masked(f, v, mask) : m.set_u64(f, v);
    if (e) FAIL(e->message);
  }
  return m;
}

FieldValue ipv6(const char* text) {
  FieldValue v;
  REQUIRE(inet_pton(AF_INET6, text, v.bytes.data()) == 1);
  return v;
}

OfMatch rich_match() {
  OfMatch m = must_match({{OxmField::kInPort, 3, 0},
                          {OxmField::kMetadata, 0x1200, 0xff00},
                          {OxmField::kEthSrc, 0x0000aabbccddee01, 0},
                          {OxmField::kEthDst, 0x0000010000000000, 0x0000010000000000},
                          {OxmField::kEthType, 0x0800, 0},
                          {OxmField::kVlanVid, 0x1000 | 42, 0},
                          {OxmField::kVlanPcp, 3, 0},
                          {OxmField::kIpDscp, 46, 0},
                          {OxmField::kIpProto, 6, 0},
                          {OxmField::kIpv4Src, 0xc0a80001, 0},
                          {OxmField::kIpv4Dst, 0x0a000000, 0xff000000},
                          {OxmField::kTcpDst, 80, 0},
                          {OxmField::kTunnelId, 0x77, 0}});
  return m;
}

OfMatch ipv6_match() {
  OfMatch m = must_match({{OxmField::kEthType, 0x86dd, 0}, {OxmField::kIpProto, 58, 0},
                          {OxmField::kIcmpv6Type, 135, 0}, {OxmField::kIpv6Flabel, 0x12345, 0}});
  FieldValue src = ipv6("2001:db8::1");
  FieldValue mask = ipv6("ffff:ffff::");
  FieldValue src_masked = ipv6("2001:db8::");
  REQUIRE_FALSE(m.set(OxmField::kIpv6Src, src_masked, &mask));
  REQUIRE_FALSE(m.set(OxmField::kIpv6NdTarget, src));
  return m;
}

ActionList rich_actions() {
  ActSetField sf;
  sf.field = OxmField::kIpv4Dst;
  sf.value = FieldValue::from_u64(0x0a000063, 4);
  ActSetField vid;
  vid.field = OxmField::kVlanVid;
  vid.value = FieldValue::from_u64(0x1000 | 7, 2);
  ActSetField mac;
  mac.field = OxmField::kEthDst;
  mac.value = FieldValue::from_u64(0x0000020000000001, 6);
  return {ActPushVlan{0x8100}, vid,  sf,   mac, ActDecNwTtl{},  ActSetNwTtl{9},
          ActSetQueue{2},      ActGroup{5},  ActOutput{2, 0}, ActOutput{kPortController, 128},
          ActPopVlan{},        ActPushMpls{0x8847}, ActSetMplsTtl{3}, ActDecMplsTtl{},
          ActPopMpls{0x0800}};
}

Instructions rich_instructions() {
  Instructions in;
  in.meter = 7;
  in.apply = rich_actions();
  in.clear_actions = true;
  in.write = ActionList{ActOutput{4, 0}};
  in.write_metadata = WriteMetadata{0xabcd, 0xffff};
  in.goto_table = 3;
  return in;
}

PortDesc port(uint32_t no, const std::string& name) {
  PortDesc p;
  p.port_no = no;
  p.hw_addr = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(no)};
  p.name = name;
  p.config = 0;
  p.state = kPortStateLive;
  p.curr = kPf10GbFd | kPfFiber;
  p.advertised = 0;
  p.supported = kPf10GbFd;
  p.curr_speed = 10000000;
  p.max_speed = 10000000;
  return p;
}

Bytes frame() {
  // Ethernet + IPv4 + UDP, 60 bytes.
  Bytes f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 46, 0, 1, 0, 0,
             64,   17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 26, 0, 0};
  f.resize(60, 0xab);
  return f;
}

TableFeatures table_features(uint8_t id) {
  TableFeatures t;
  t.table_id = id;
  t.name = "table" + std::to_string(id);
  t.metadata_match = ~0ull;
  t.metadata_write = ~0ull;
  t.max_entries = 1000000;
  auto prop = [&](TableFeaturePropType type, std::vector<uint32_t> ids) {
    t.properties.push_back(TableFeatureProp{type, std::move(ids)});
  };
  std::vector<uint32_t> insts = {1, 2, 3, 4, 5, 6};
  std::vector<uint32_t> acts = {0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25};
  std::vector<uint32_t> next;
  for (unsigned n = id + 1u; n < 4; n++) next.push_back(n);
  std::vector<uint32_t> oxm;
  for (unsigned f = 0; f < kNumOxmFields; f++)
    oxm.push_back(uint32_t{0x8000} << 16 | f << 9 | oxm_field_info(static_cast<OxmField>(f)).width);
  prop(TableFeaturePropType::kInstructions, insts);
  prop(TableFeaturePropType::kInstructionsMiss, insts);
  prop(TableFeaturePropType::kNextTables, next);
  prop(TableFeaturePropType::kNextTablesMiss, next);
  prop(TableFeaturePropType::kWriteActions, acts);
  prop(TableFeaturePropType::kWriteActionsMiss, acts);
  prop(TableFeaturePropType::kApplyActions, acts);
  prop(TableFeaturePropType::kApplyActionsMiss, acts);
  prop(TableFeaturePropType::kMatch, oxm);
  prop(TableFeaturePropType::kWildcards, oxm);
  prop(TableFeaturePropType::kWriteSetfield, oxm);
  prop(TableFeaturePropType::kWriteSetfieldMiss, oxm);
  prop(TableFeaturePropType::kApplySetfield, oxm);
  prop(TableFeaturePropType::kApplySetfieldMiss, oxm);
  return t;
}

FlowStats flow_stats(uint16_t priority) {
  return FlowStats{
      .table_id = 1, .duration_sec = 12, .duration_nsec = 500000000, .priority = priority,
      .idle_timeout = 10, .hard_timeout = 0, .flags = kFlagSendFlowRem, .cookie = 0xc0ffee,
      .packet_count = 1234, .byte_count = 567890,
      .match = must_match({{OxmField::kInPort, 1, 0}, {OxmField::kEthType, 0x0800, 0},
                           {OxmField::kIpProto, 6, 0}, {OxmField::kIpv4Dst, 0x0a000000, 0xff000000},
                           {OxmField::kTcpDst, 80, 0}}),
      .instructions = Instructions{.apply = ActionList{ActOutput{2, 0}}, .goto_table = 2}};
}

// tun_metadata0: 4 bytes at 0, tun_metadata1: 8 bytes at 4: the placement
// a decoder without a TLV table gives them too (in order, wire lengths).
TunMetadataLayout tunnel_layout() {
  TunMetadataLayout l;
  l.loc[0] = {0, 4};
  l.loc[1] = {4, 8};
  return l;
}

FlowMod tunnel_flow_mod() {
  const TunMetadataLayout tlv = tunnel_layout();
  FlowMod fm;
  MaybeError e = parse_flow(
      "priority=300,tun_id=0x2a/0xffff,tun_src=10.0.0.0/8,tun_dst=192.168.1.1,"
      "tun_ipv6_src=2001:db8::1,tun_flags=+oam,tun_metadata0=0x1234,tun_metadata1=0x50000/0xff0000,"
      "ip actions=set_field:10.1.1.1->tun_dst,set_field:0x7->tun_id,set_field:0xabcd->tun_metadata0,"
      "output:2",
      &fm, FlowParseMode::kAdd, false, &tlv);
  if (e) FAIL(e->message);
  return fm;
}

OfMatch tunnel_packet_in_match() {
  const TunMetadataLayout tlv = tunnel_layout();
  dps::datapath::FlowKey f{};
  f.tun_id = htobe64(0x2a);
  f.tun_ipv4_src = htonl(0x0a000001);
  f.tun_ipv4_dst = htonl(0x0a000002);
  f.tun_opts[3] = 0x99;
  f.tun_md_present = 1;
  OfMatch m = must_match({{OxmField::kInPort, 3, 0}});
  m.add_tunnel_metadata(f, &tlv);
  return m;
}

GroupBucket bucket(uint16_t weight, uint32_t out) {
  GroupBucket b;
  b.weight = weight;
  b.actions = {ActOutput{out, 0}};
  return b;
}

// Every message body and every multipart body, with non-default contents.
std::vector<OfMessage> sample_messages() {
  std::vector<OfMessage> v;
  uint32_t xid = 100;
  auto add = [&](OfBody b) { v.push_back(OfMessage{kOfpVersion13, xid++, std::move(b)}); };
  auto mreq = [&](MultipartRequestBody b, uint16_t flags = 0) {
    add(MultipartRequest{flags, std::move(b)});
  };
  auto mrep = [&](MultipartReplyBody b, uint16_t flags = 0) {
    add(MultipartReply{flags, std::move(b)});
  };

  add(Hello{});
  add(Hello{true, (1u << 1) | (1u << 4)});
  {
    FlowModMsg offending;  // a whole 64-byte flow-mod
    offending.mod.match = must_match({{OxmField::kInPort, 1, 0}});
    Bytes b = encode(OfMessage{kOfpVersion13, 99, offending});
    REQUIRE(b.size() == 64);
    add(ErrorMsg{OfErrorType::kBadMatch, static_cast<uint16_t>(BadMatchCode::kBadPrereq), 0, b});
  }
  add(ErrorMsg{OfErrorType::kExperimenter, 9, 0x2320, Bytes{1, 2, 3}});
  add(EchoRequest{Bytes{1, 2, 3, 4, 5}});
  add(EchoReply{Bytes{9, 8, 7}});
  add(ExperimenterMsg{0x2320, 17, Bytes{0, 1, 2, 3, 4, 5, 6, 7}});
  add(FeaturesRequest{});
  add(FeaturesReply{0x0000feedbeef0001, 256, 254, 0,
                    kCapFlowStats | kCapTableStats | kCapPortStats | kCapGroupStats});
  add(GetConfigRequest{});
  add(GetConfigReply{kFragNormal, 128});
  add(SetConfig{kFragDrop, 0xffff});
  add(PacketIn{.buffer_id = 17, .total_len = 60, .reason = PacketInReason::kAction, .table_id = 2,
               .cookie = 0x1122334455667788,
               .match = must_match({{OxmField::kInPort, 3, 0}, {OxmField::kMetadata, 0x99, 0}}),
               .data = frame()});
  add(FlowRemoved{.cookie = 0xabc, .priority = 200, .reason = RemovedReason::kIdleTimeout,
                  .table_id = 4, .duration_sec = 30, .duration_nsec = 1000, .idle_timeout = 10,
                  .hard_timeout = 60, .packet_count = 42, .byte_count = 4200,
                  .match = rich_match()});
  add(PortStatus{PortReason::kModify, port(7, "dpdk7")});
  add(PacketOut{.buffer_id = kOfpNoBuffer, .in_port = kPortController,
                .actions = {ActOutput{kPortTable, 0}, ActOutput{2, 0}}, .data = frame()});
  add(FlowModMsg{FlowMod{.command = FlowModCommand::kAdd, .table_id = 1, .priority = 1000,
                          .match = rich_match(), .cookie = 0x55, .idle_timeout = 30,
                          .hard_timeout = 300, .flags = kFlagSendFlowRem | kFlagCheckOverlap,
                          .instructions = rich_instructions()}});
  add(FlowModMsg{FlowMod{.command = FlowModCommand::kDeleteStrict, .table_id = kTableAll,
                          .match = ipv6_match(), .cookie = 0x10, .cookie_mask = 0xf0,
                          .out_port = 5, .out_group = 9},
                 77});
  add(GroupModMsg{GroupMod{.command = GroupModCommand::kAdd, .type = GroupType::kSelect,
                           .group_id = 5, .buckets = {bucket(10, 1), bucket(20, 2)}}});
  {
    GroupBucket watching = bucket(0, 3);
    watching.watch_port = 3;
    add(GroupModMsg{GroupMod{.command = GroupModCommand::kModify, .type = GroupType::kFastFailover,
                             .group_id = 6, .buckets = {watching}}});
  }
  // OpenFlow 1.3 copy-TTL actions (Open vSwitch does not implement them).
  add(PacketOut{.in_port = 1, .actions = {ActCopyTtlOut{}, ActCopyTtlIn{}, ActOutput{2, 0}}});
  add(PortMod{7, {0x02, 0, 0, 0, 0, 7}, kPortConfigDown, kPortConfigDown, 0});
  add(TableMod{3, 0});
  // Tunnel fields (NXM_1 OXMs) and the Nicira TLV-table messages.
  add(FlowModMsg{tunnel_flow_mod()});
  add(PacketIn{.buffer_id = kOfpNoBuffer, .total_len = 60, .reason = PacketInReason::kAction,
               .table_id = 0, .cookie = 7, .match = tunnel_packet_in_match(), .data = frame()});
  add(TlvTableMod{TlvTableCommand::kAdd, {{0xffff, 0, 4, 0}, {0x0102, 0x80, 8, 1}}});
  add(TlvTableMod{TlvTableCommand::kDelete, {{0xffff, 0, 4, 0}}});
  add(TlvTableMod{TlvTableCommand::kClear, {}});
  add(TlvTableRequest{});
  add(TlvTableReply{48, 64, {{0xffff, 0, 4, 0}, {0x0102, 0x80, 8, 1}}});
  mreq(DescRequest{});
  {
    FlowStatsRequest f{.table_id = 1, .out_port = 2, .cookie = 5, .cookie_mask = 0xff,
                       .match = must_match({{OxmField::kEthType, 0x0806, 0}, {OxmField::kArpOp, 1, 0}})};
    mreq(f);
    mreq(AggregateRequest{f});
  }
  mreq(TableStatsRequest{});
  mreq(PortStatsRequest{kPortAny});
  mreq(QueueStatsRequest{1, kOfpqAll});
  mreq(GroupStatsRequest{kGroupAll});
  mreq(GroupDescRequest{});
  mreq(GroupFeaturesRequest{});
  mreq(MeterStatsRequest{kMeterAll});
  mreq(MeterConfigRequest{3});
  mreq(MeterFeaturesRequest{});
  mreq(TableFeaturesRequest{});
  mreq(TableFeaturesRequest{{table_features(0)}}, kMultipartMore);
  mreq(PortDescRequest{});
  mrep(DescReply{"dpswitch project", "DPDK userspace switch", "0.1", "none", "br0"});
  mrep(FlowStatsReply{{flow_stats(100), flow_stats(200)}});
  mrep(AggregateReply{1000, 64000, 3});
  mrep(TableStatsReply{{TableStats{0, 5, 1000, 900}, TableStats{1, 0, 100, 0}}});
  mrep(PortStatsReply{{PortStats{.port_no = 1, .rx_packets = 10, .tx_packets = 20, .rx_bytes = 640,
                                  .tx_bytes = 1280, .rx_dropped = 1, .duration_sec = 5}}});
  mrep(QueueStatsReply{{QueueStats{1, 0, 100, 2, 0, 3, 4}}});
  mrep(GroupStatsReply{{GroupStats{5, 1, 10, 1000, 7, 8, {{4, 400}, {6, 600}}}}});
  mrep(GroupDescReply{{GroupDesc{GroupType::kAll, 1, {bucket(0, 1), bucket(0, 2)}},
                       GroupDesc{GroupType::kIndirect, 2, {bucket(0, 3)}}}});
  mrep(GroupFeaturesReply{0xf, kGroupCapSelectWeight | kGroupCapChaining,
                          {65535, 65535, 65535, 65535}, {1, 1, 1, 1}});
  mrep(MeterStatsReply{{MeterStats{1, 2, 100, 6400, 9, 0, {{5, 320}}}}});
  mrep(MeterConfigReply{{MeterConfig{kMeterFlagKbps | kMeterFlagBurst, 1,
                                     {MeterBand{MeterBandType::kDrop, 1000, 100, 0, 0},
                                      MeterBand{MeterBandType::kDscpRemark, 500, 50, 1, 0}}}}});
  mrep(MeterFeaturesReply{65536, (1u << 1) | (1u << 2), 0xf, 2, 0});
  mrep(TableFeaturesReply{{table_features(0), table_features(1)}}, kMultipartMore);
  mrep(PortDescReply{{port(1, "p1"), port(2, "a-very-long-port-name-truncated")}});
  add(BarrierRequest{});
  add(BarrierReply{});
  add(RoleRequest{ControllerRole::kMaster, 12});
  add(RoleReply{ControllerRole::kSlave, 13});
  add(GetAsyncRequest{});
  add(GetAsyncReply{AsyncConfig{{7, 0}, {7, 7}, {15, 0}}});
  add(SetAsync{AsyncConfig{{3, 1}, {7, 0}, {1, 1}}});
  add(MeterMod{MeterModCommand::kAdd, kMeterFlagKbps | kMeterFlagBurst, 1,
               {MeterBand{MeterBandType::kDrop, 1000, 100, 0, 0},
                MeterBand{MeterBandType::kDscpRemark, 500, 50, 2, 0}}});
  return v;
}

// The port name survives only to 15 characters.
OfMessage expected_after_wire(OfMessage m) {
  if (auto* r = std::get_if<MultipartReply>(&m.body))
    if (auto* pd = std::get_if<PortDescReply>(&r->body))
      for (auto& p : pd->ports) p.name = p.name.substr(0, kOfpMaxPortNameLen - 1);
  return m;
}

DecodeOptions lenient() {
  DecodeOptions o;
  o.accept_experimenter = true;
  return o;
}

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

void set_len(Bytes* b) {
  (*b)[2] = static_cast<uint8_t>(b->size() >> 8);
  (*b)[3] = static_cast<uint8_t>(b->size());
}

void put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
void put32(Bytes* b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// A flow-mod (ADD, table 0) with the given raw OXM TLVs and raw
// instructions; the match is padded correctly.
Bytes raw_flow_mod(const Bytes& oxms, const Bytes& insts, uint16_t match_type = 1) {
  Bytes b = {kOfpVersion13, 14, 0, 0, 0, 0, 0, 1};
  b.resize(8 + 40, 0);
  for (size_t i = 24; i < 36; i++) b[8 + i] = 0xff;  // buffer_id, out_port, out_group
  size_t m = b.size();
  put16(&b, match_type);
  put16(&b, static_cast<uint16_t>(4 + oxms.size()));
  b.insert(b.end(), oxms.begin(), oxms.end());
  while ((b.size() - m) % 8) b.push_back(0);
  b.insert(b.end(), insts.begin(), insts.end());
  set_len(&b);
  return b;
}

Bytes oxm(uint16_t cls, unsigned field, bool hasmask, Bytes value) {
  Bytes b;
  put32(&b, uint32_t{cls} << 16 | field << 9 | uint32_t{hasmask} << 8 |
                static_cast<uint32_t>(value.size()));
  b.insert(b.end(), value.begin(), value.end());
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const auto& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}

// apply-actions instruction around raw action bytes.
Bytes apply(const Bytes& actions) {
  Bytes b;
  put16(&b, 4);
  put16(&b, static_cast<uint16_t>(8 + actions.size()));
  put32(&b, 0);
  b.insert(b.end(), actions.begin(), actions.end());
  return b;
}

Bytes output_action(uint32_t port, uint16_t len = 16) {
  Bytes b;
  put16(&b, 0);
  put16(&b, len);
  put32(&b, port);
  put16(&b, 0xffff);
  b.resize(len >= 10 ? len : 10, 0);
  return b;
}

OfError decode_error(const Bytes& b, const DecodeOptions& o = {}) {
  OfMessage m;
  MaybeError e = decode(b, &m, o);
  if (!e) FAIL("decoded without error: " << hex(b));
  return *e;
}

#define CHECK_OFERR(bytes, T, C)                                        \
  do {                                                                  \
    OfError e_ = decode_error(bytes);                                   \
    INFO(e_.message);                                                   \
    CHECK(of_error_name(e_.type, e_.code) ==                            \
          of_error_name(OfErrorType::T, static_cast<uint16_t>(C)));     \
  } while (0)

// max_len only means something for output:CONTROLLER; Open vSwitch sends 0
// elsewhere, our text parser leaves the default.
void normalize_max_len(ActionList* list) {
  for (auto& a : *list)
    if (auto* o = std::get_if<ActOutput>(&a); o && o->port != kPortController) o->max_len = 0;
}
void normalize_max_len(Instructions* in) {
  if (in->apply) normalize_max_len(&*in->apply);
  if (in->write) normalize_max_len(&*in->write);
}

// With OFC_CORPUS_DIR set, messages are also written there as fuzz seeds
// (tests/fuzz/corpus_of/ was made this way; see scripts/fuzz-of-codec.sh).
void save_seed(const Bytes& b, const std::string& what) {
  const char* dir = getenv("OFC_CORPUS_DIR");
  if (!dir) return;
  static int n = 0;
  std::string path = std::string(dir) + "/" + what + "-" + std::to_string(n++) + ".bin";
  if (FILE* f = fopen(path.c_str(), "wb")) {
    fwrite(b.data(), 1, b.size(), f);
    fclose(f);
  }
}

// ---- ovs-ofctl helpers ----------------------------------------------------------------

bool have_ovs_ofctl() { return access("/usr/bin/ovs-ofctl", X_OK) == 0; }

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string ofp_print(const Bytes& b) { return run("/usr/bin/ovs-ofctl ofp-print " + hex(b)); }

bool ovs_decode_ok(const std::string& out) {
  return out.find("***") == std::string::npos && out.find("decode error") == std::string::npos &&
         out.find("OFPBRC") == std::string::npos && out.find("bad ") == std::string::npos &&
         out.find("unknown") == std::string::npos;
}

// A switch built on the codec, for one ovs-ofctl connection: sends HELLO,
// answers FEATURES, GET_CONFIG, BARRIER, ECHO, ROLE and every multipart
// request with canned replies, and records what it received.
class FakeSwitch {
 public:
  FakeSwitch() {
    lfd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(lfd_, 1) == 0);
    socklen_t len = sizeof a;
    getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeSwitch() {
    finish();
    close(lfd_);
  }
  std::string target() const { return "tcp:127.0.0.1:" + std::to_string(port_); }
  // Waits for the connection to end; then received()/errors() are final.
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<OfMessage>& received() const { return received_; }
  const std::vector<std::string>& errors() const { return errors_; }

  template <typename T>
  std::vector<T> bodies() const {
    std::vector<T> out;
    for (const auto& m : received_)
      if (auto* b = std::get_if<T>(&m.body)) out.push_back(*b);
    return out;
  }

 private:
  void send_msg(int fd, uint32_t xid, OfBody body) {
    OfMessage m{kOfpVersion13, xid, std::move(body)};
    send_bytes(fd, encode(m));
  }
  void send_bytes(int fd, const Bytes& b) {
    if (getenv("OFC_DEBUG")) fprintf(stderr, "fake switch sends %s\n", hex(b).substr(0, 200).c_str());
    size_t off = 0;
    while (off < b.size()) {
      ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void reply_multipart(int fd, uint32_t xid, const MultipartRequest& req) {
    MultipartReplyBody body;
    switch (multipart_type(req.body)) {
      case MultipartType::kDesc:
        body = DescReply{"dpswitch project", "dpswitch", "0.1-test", "SN42", "br-test"};
        break;
      case MultipartType::kFlow:
        body = FlowStatsReply{{flow_stats(100)}};
        break;
      case MultipartType::kAggregate: body = AggregateReply{1234, 567890, 1}; break;
      case MultipartType::kTable:
        body = TableStatsReply{{TableStats{0, 1, 1000, 900}, TableStats{1, 1, 100, 50}}};
        break;
      case MultipartType::kPortStats: {
        PortStats p;
        p.port_no = 1;
        p.rx_packets = 11;
        p.tx_packets = 22;
        p.rx_bytes = 704;
        p.tx_bytes = 1408;
        body = PortStatsReply{{p}};
        break;
      }
      case MultipartType::kQueue: body = QueueStatsReply{}; break;
      case MultipartType::kGroup:
        body = GroupStatsReply{{GroupStats{5, 1, 10, 1000, 7, 0, {{4, 400}, {6, 600}}}}};
        break;
      case MultipartType::kGroupDesc:
        body = GroupDescReply{{GroupDesc{GroupType::kSelect, 5, {bucket(10, 1), bucket(20, 2)}}}};
        break;
      case MultipartType::kGroupFeatures:
        body = GroupFeaturesReply{0xf, kGroupCapSelectWeight | kGroupCapChaining,
                                  {65535, 65535, 65535, 65535}, {1, 1, 1, 1}};
        break;
      case MultipartType::kMeter:
        body = MeterStatsReply{{MeterStats{1, 2, 100, 6400, 9, 0, {{5, 320}}}}};
        break;
      case MultipartType::kMeterConfig:
        body = MeterConfigReply{{MeterConfig{kMeterFlagKbps | kMeterFlagBurst, 1,
                                             {MeterBand{MeterBandType::kDrop, 1000, 100, 0, 0}}}}};
        break;
      case MultipartType::kMeterFeatures:
        body = MeterFeaturesReply{65536, (1u << 1) | (1u << 2), 0xf, 2, 0};
        break;
      case MultipartType::kTableFeatures: {
        TableFeaturesReply r;
        for (uint8_t t = 0; t < 4; t++) r.tables.push_back(table_features(t));
        body = r;
        break;
      }
      case MultipartType::kPortDesc:
        body = PortDescReply{{port(1, "p1"), port(2, "p2")}};
        break;
      default: return;
    }
    for (const Bytes& b : encode_multipart_reply(xid, MultipartReply{0, body})) send_bytes(fd, b);
  }
  void handle(int fd, const Bytes& raw) {
    OfMessage m;
    if (MaybeError e = decode(raw, &m)) {
      errors_.push_back(of_error_name(e->type, e->code) + ": " + e->message + " in " + hex(raw));
      send_bytes(fd, encode(make_error_reply(*e, raw)));
      return;
    }
    received_.push_back(m);
    save_seed(raw, std::string("ovs-") + of_type_name(message_type(m.body)));
    if (getenv("OFC_DEBUG")) {
      fprintf(stderr, "fake switch got %s xid=%u %s\n", of_type_name(message_type(m.body)), m.xid, hex(raw).c_str());
    }
    std::visit(Overloaded{
                   [&](const FeaturesRequest&) {
                     send_msg(fd, m.xid,
                              FeaturesReply{0x0000feedbeef0001, 0, 254, 0,
                                            kCapFlowStats | kCapTableStats | kCapPortStats |
                                                kCapGroupStats});
                   },
                   [&](const GetConfigRequest&) { send_msg(fd, m.xid, GetConfigReply{0, 128}); },
                   [&](const BarrierRequest&) { send_msg(fd, m.xid, BarrierReply{}); },
                   [&](const EchoRequest& e) { send_msg(fd, m.xid, EchoReply{e.data}); },
                   [&](const RoleRequest& r) {
                     send_msg(fd, m.xid, RoleReply{r.role, r.generation_id});
                   },
                   [&](const MultipartRequest& r) { reply_multipart(fd, m.xid, r); },
                   [&](const auto&) {},
               },
               m.body);
  }
  // Serves every connection ovs-ofctl opens (some commands open a second
  // one), until finish() is called and all connections have closed.
  void serve() {
    struct Conn {
      int fd;
      MessageFramer framer;
    };
    std::vector<Conn> conns;
    uint8_t buf[65536];
    for (int idle_ms = 0; idle_ms < 20000;) {
      if (stop_ && conns.empty()) break;
      std::vector<pollfd> fds;
      fds.push_back(pollfd{lfd_, POLLIN, 0});
      for (auto& c : conns) fds.push_back(pollfd{c.fd, POLLIN, 0});
      int n = poll(fds.data(), fds.size(), 100);
      if (n <= 0) {
        idle_ms += 100;
        if (stop_) break;  // ovs-ofctl exited and nothing more arrives
        continue;
      }
      idle_ms = 0;
      if (fds[0].revents & POLLIN) {
        int fd = accept(lfd_, nullptr, nullptr);
        if (fd >= 0) {
          send_msg(fd, 1, Hello{});
          conns.push_back(Conn{fd, {}});
        }
      }
      for (size_t i = 1; i < fds.size(); i++) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        Conn& c = conns[i - 1];
        ssize_t got = recv(c.fd, buf, sizeof buf, 0);
        bool done = got <= 0;
        if (!done) {
          c.framer.append(std::span<const uint8_t>(buf, static_cast<size_t>(got)));
          Bytes msg;
          MessageFramer::Status st;
          while ((st = c.framer.next(&msg)) == MessageFramer::Status::kMessage) handle(c.fd, msg);
          if (st == MessageFramer::Status::kBadLength) {
            errors_.push_back("framing: bad length");
            done = true;
          }
        }
        if (done) {
          close(c.fd);
          c.fd = -1;
        }
      }
      std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
    }
    for (auto& c : conns) close(c.fd);
  }

  std::atomic<bool> stop_{false};
  int lfd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<OfMessage> received_;
  std::vector<std::string> errors_;
};

struct OfctlRun {
  std::string output;
  std::vector<OfMessage> received;
  std::vector<std::string> errors;
};

// Runs `ovs-ofctl -O OpenFlow13 <cmd> <fake switch> <args>`.
OfctlRun ofctl(const std::string& cmd, const std::string& args, const std::string& opts = "") {
  FakeSwitch sw;
  OfctlRun r;
  r.output = run("/usr/bin/ovs-ofctl -O OpenFlow13 -t 10 " + opts + " " + cmd + " " +
                 sw.target() + " " + args);
  sw.finish();
  r.received = sw.received();
  r.errors = sw.errors();
  return r;
}

template <typename T>
std::vector<T> of_type(const OfctlRun& r) {
  std::vector<T> out;
  for (const auto& m : r.received)
    if (auto* b = std::get_if<T>(&m.body)) out.push_back(*b);
  return out;
}

}  // namespace

// ---- round trips ------------------------------------------------------------------

TEST_CASE("every message type round-trips through the wire", "[ofproto][codec]") {
  auto msgs = sample_messages();
  std::set<size_t> body_kinds;
  std::set<uint16_t> mp_req, mp_rep;
  for (const auto& m : msgs) {
    INFO(of_type_name(message_type(m.body)));
    body_kinds.insert(m.body.index());
    if (auto* r = std::get_if<MultipartRequest>(&m.body))
      mp_req.insert(static_cast<uint16_t>(multipart_type(r->body)));
    if (auto* r = std::get_if<MultipartReply>(&m.body))
      mp_rep.insert(static_cast<uint16_t>(multipart_type(r->body)));
    Bytes b = encode(m);
    save_seed(b, of_type_name(message_type(m.body)));
    CHECK(b[0] == kOfpVersion13);
    CHECK(b[1] == static_cast<uint8_t>(message_type(m.body)));
    CHECK((size_t{b[2]} << 8 | b[3]) == b.size());
    OfMessage back;
    MaybeError e = decode(b, &back, lenient());
    INFO((e ? e->message : std::string()));
    REQUIRE_FALSE(e);
    CHECK(back == expected_after_wire(m));
    CHECK(encode(back) == b);
  }
  CHECK(body_kinds.size() == std::variant_size_v<OfBody>);
  CHECK(mp_req.size() == 14);
  CHECK(mp_rep.size() == 14);
}

TEST_CASE("wire layout of fixed messages matches the spec sizes", "[ofproto][codec]") {
  auto size_of = [](OfBody b) { return encode(OfMessage{kOfpVersion13, 1, std::move(b)}).size(); };
  CHECK(size_of(Hello{}) == 16);
  CHECK(size_of(FeaturesRequest{}) == 8);
  CHECK(size_of(FeaturesReply{}) == 32);
  CHECK(size_of(SetConfig{}) == 12);
  CHECK(size_of(PortStatus{}) == 80);
  CHECK(size_of(PortMod{}) == 40);
  CHECK(size_of(TableMod{}) == 16);
  CHECK(size_of(RoleRequest{}) == 24);
  CHECK(size_of(SetAsync{}) == 32);
  CHECK(size_of(MultipartReply{0, DescReply{}}) == 16 + 1056);
  CHECK(size_of(MultipartReply{0, AggregateReply{}}) == 16 + 24);
  CHECK(size_of(MultipartReply{0, PortStatsReply{{PortStats{}}}}) == 16 + 112);
  CHECK(size_of(MultipartReply{0, MeterFeaturesReply{}}) == 16 + 16);
  CHECK(size_of(MultipartReply{0, GroupFeaturesReply{}}) == 16 + 40);
  FlowModMsg empty;
  CHECK(size_of(empty) == 56);  // 48 + an empty match padded to 8
  // ofp_match of in_port alone: 4 + 8 = 12 bytes, padded to 16.
  Bytes m;
  encode_match(must_match({{OxmField::kInPort, 1, 0}}), &m);
  CHECK(m == Bytes{0, 1, 0, 12, 0x80, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0});
  // set_field eth_dst: 4 + 4 + 6 = 14 bytes, padded to 16.
  ActSetField sf;
  sf.field = OxmField::kEthDst;
  sf.value = FieldValue::from_u64(0x0000aabbccddeeff, 6);
  Bytes a;
  encode_actions({sf}, &a);
  CHECK(a == Bytes{0, 25, 0, 16, 0x80, 0, 6, 6, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0});
}

TEST_CASE("codec: PBB actions and the pbb_isid match, byte for byte", "[ofproto][codec][pbb]") {
  // OFPAT_PUSH_PBB (26) with its ethertype, set_field pbb_isid (OXM field
  // 37, 3 bytes), OFPAT_POP_PBB (27): ofp_action_push / ofp_action_header.
  const ActionList acts = {ActPushPbb{0x88e7}, ActSetField{OxmField::kPbbIsid, FieldValue::from_u64(0x123456, 3)},
                           ActPopPbb{}};
  const Bytes want = {0, 26, 0, 8,  0x88, 0xe7, 0,    0,    0, 25, 0, 16, 0x80, 0, 0x4a, 3,
                      0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 27, 0, 8,  0,    0, 0,    0};
  Bytes a;
  encode_actions(acts, &a);
  CHECK(a == want);
  ActionList back;
  REQUIRE_FALSE(decode_actions(want, &back));
  CHECK(back == acts);
  // eth_type=0x88e7, pbb_isid=0x123400/0xffff00 (maskable, OXM_HASMASK).
  Bytes m;
  encode_match(must_match({{OxmField::kEthType, 0x88e7, 0}, {OxmField::kPbbIsid, 0x123400, 0xffff00}}), &m);
  CHECK(m == Bytes{0, 1, 0, 20, 0x80, 0, 0x0a, 2, 0x88, 0xe7, 0x80, 0, 0x4b, 6, 0x12, 0x34, 0x00, 0xff, 0xff,
                   0x00, 0, 0, 0, 0});
  // pop_pbb's length is fixed.
  ActionList bad;
  MaybeError e = decode_actions(Bytes{0, 27, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, &bad);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(BadActionCode::kBadLen));
}

// ---- malformed input -------------------------------------------------------------------

TEST_CASE("every truncation of every message is rejected or decodes safely", "[ofproto][codec]") {
  size_t checked = 0;
  for (const auto& m : sample_messages()) {
    Bytes full = encode(m);
    for (size_t n = 0; n < full.size(); n++) {
      Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
      // (a) header length left as it was: always bad_request/bad_len.
      CHECK_OFERR(cut, kBadRequest, BadRequestCode::kBadLen);
      // (b) header length patched to the cut: the body is truncated. Either
      // an error, or a shorter valid message (echo data, packet data...).
      if (n >= 8) {
        set_len(&cut);
        OfMessage out;
        MaybeError e = decode(cut, &out, lenient());
        // (HELLO ignores a trailing partial element, so it may shrink.)
        if (e)
          CHECK(!e->message.empty());
        else if (!std::holds_alternative<Hello>(out.body))
          CHECK(encode(out).size() == n);
      }
      checked++;
    }
  }
  CHECK(checked > 5000);
}

TEST_CASE("header errors carry the spec codes", "[ofproto][codec]") {
  Bytes features = encode(OfMessage{kOfpVersion13, 9, FeaturesRequest{}});
  Bytes b = features;
  b[0] = 0x01;
  CHECK_OFERR(b, kBadRequest, BadRequestCode::kBadVersion);
  b = features;
  b[1] = 30;
  CHECK_OFERR(b, kBadRequest, BadRequestCode::kBadType);
  b[1] = 22;  // queue_get_config_request: not supported
  CHECK_OFERR(b, kBadRequest, BadRequestCode::kBadType);
  b = features;
  b.push_back(0);
  CHECK_OFERR(b, kBadRequest, BadRequestCode::kBadLen);  // length says 8, 9 bytes
  set_len(&b);
  CHECK_OFERR(b, kBadRequest, BadRequestCode::kBadLen);  // features request with a body
  // A HELLO of another version decodes (version negotiation).
  Bytes hello = encode(OfMessage{0x06, 1, Hello{true, 1u << 6}});
  OfMessage h;
  REQUIRE_FALSE(decode(hello, &h));
  CHECK(h.version == 0x06);
  CHECK(std::get<Hello>(h.body).versions == 1u << 6);
  // Experimenter message: rejected by the switch unless asked to accept.
  Bytes x = encode(OfMessage{kOfpVersion13, 3, ExperimenterMsg{0x2320, 1, {}}});
  CHECK_OFERR(x, kBadRequest, BadRequestCode::kBadExperimenter);
  // Multipart: unknown type, experimenter type.
  Bytes mp = encode(OfMessage{kOfpVersion13, 4, MultipartRequest{0, DescRequest{}}});
  mp[9] = 99;
  CHECK_OFERR(mp, kBadRequest, BadRequestCode::kBadMultipart);
  mp[8] = 0xff;
  mp[9] = 0xff;
  CHECK_OFERR(mp, kBadRequest, BadRequestCode::kBadExperimenter);
  // Role, flow-mod command and flags, group-mod, meter-mod, packet-out.
  Bytes role = encode(OfMessage{kOfpVersion13, 5, RoleRequest{ControllerRole::kMaster, 1}});
  role[11] = 4;
  CHECK_OFERR(role, kRoleRequestFailed, RoleRequestFailedCode::kBadRole);
  CHECK(decode_error(role).message.find("controller role 4 is unknown") != std::string::npos);
  Bytes fm = raw_flow_mod({}, {});
  fm[8 + 17] = 5;
  CHECK_OFERR(fm, kFlowModFailed, FlowModFailedCode::kBadCommand);
  CHECK(decode_error(fm).message.find("flow-mod command 5 is unknown") != std::string::npos);
  {
    Bytes f2 = encode(OfMessage{kOfpVersion13, 1, FlowModMsg{}});
    f2[8 + 36] = 0x01;  // flags high byte: bit 8, unknown
    CHECK_OFERR(f2, kFlowModFailed, FlowModFailedCode::kBadFlags);
  }
  GroupModMsg gm;
  gm.mod.group_id = 1;
  Bytes g = encode(OfMessage{kOfpVersion13, 1, gm});
  g[10] = 4;
  CHECK_OFERR(g, kGroupModFailed, GroupModFailedCode::kBadType);
  g[10] = 0;
  g[9] = 3;
  CHECK_OFERR(g, kGroupModFailed, GroupModFailedCode::kBadCommand);
  gm.mod.buckets = {bucket(0, 1)};
  g = encode(OfMessage{kOfpVersion13, 1, gm});
  g[16 + 1] = 40;  // bucket length 40 > the 32 bytes left
  CHECK_OFERR(g, kGroupModFailed, GroupModFailedCode::kBadBucket);
  MeterMod mm{MeterModCommand::kAdd, kMeterFlagKbps, 1, {MeterBand{}}};
  Bytes mb = encode(OfMessage{kOfpVersion13, 1, mm});
  mb[17] = 7;  // band type 7
  CHECK_OFERR(mb, kMeterModFailed, MeterModFailedCode::kBadBand);
  mb = encode(OfMessage{kOfpVersion13, 1, mm});
  mb[9] = 9;
  CHECK_OFERR(mb, kMeterModFailed, MeterModFailedCode::kBadCommand);
  CHECK(decode_error(mb).message.find("meter-mod command 9 is unknown") != std::string::npos);
  PacketOut po;
  po.in_port = 0;
  CHECK_OFERR(encode(OfMessage{kOfpVersion13, 1, po}), kBadRequest, BadRequestCode::kBadPort);
  po.in_port = 1;
  po.actions = {ActOutput{2, 0}};
  Bytes pob = encode(OfMessage{kOfpVersion13, 1, po});
  pob[17] = 24;  // actions_len 24 > 16 bytes left
  CHECK_OFERR(pob, kBadRequest, BadRequestCode::kBadLen);
  Bytes sc = encode(OfMessage{kOfpVersion13, 1, SetConfig{kFragNormal, 128}});
  sc[9] = 0x10;
  CHECK_OFERR(sc, kSwitchConfigFailed, SwitchConfigFailedCode::kBadFlags);
}

TEST_CASE("bad OXM matches get bad_match codes", "[ofproto][codec]") {
  Bytes in_port = oxm(0x8000, 0, false, {0, 0, 0, 1});
  Bytes eth_ip = oxm(0x8000, 5, false, {0x08, 0x00});
  Bytes proto_tcp = oxm(0x8000, 10, false, {6});
  // Valid baseline.
  OfMessage ok;
  REQUIRE_FALSE(decode(raw_flow_mod(cat({in_port, eth_ip, proto_tcp}), {}), &ok));
  CHECK(std::get<FlowModMsg>(ok.body).mod.match.has(OxmField::kIpProto));

  CHECK_OFERR(raw_flow_mod(in_port, {}, 0), kBadMatch, BadMatchCode::kBadType);
  CHECK_OFERR(raw_flow_mod(oxm(0x0001, 127, false, {0, 0}), {}), kBadMatch, BadMatchCode::kBadField);
  CHECK_OFERR(raw_flow_mod(oxm(0xffff, 0, false, {0, 0, 0, 0}), {}), kBadMatch,
              BadMatchCode::kBadField);
  CHECK_OFERR(raw_flow_mod(oxm(0x8000, 45, false, {0, 0}), {}), kBadMatch, BadMatchCode::kBadField);
  CHECK_OFERR(raw_flow_mod(oxm(0x8000, 0, false, {0, 0, 1}), {}), kBadMatch, BadMatchCode::kBadLen);
  CHECK_OFERR(raw_flow_mod(cat({in_port, in_port}), {}), kBadMatch, BadMatchCode::kDupField);
  // tcp_dst without ip_proto=6.
  CHECK_OFERR(raw_flow_mod(cat({eth_ip, oxm(0x8000, 14, false, {0, 80})}), {}), kBadMatch,
              BadMatchCode::kBadPrereq);
  // ipv4_src without eth_type.
  CHECK_OFERR(raw_flow_mod(oxm(0x8000, 11, false, {10, 0, 0, 1}), {}), kBadMatch,
              BadMatchCode::kBadPrereq);
  // ipv4_dst 10.0.0.1/255.0.0.0: value bits outside the mask.
  CHECK_OFERR(raw_flow_mod(cat({eth_ip, oxm(0x8000, 12, true, {10, 0, 0, 1, 255, 0, 0, 0})}), {}),
              kBadMatch, BadMatchCode::kBadWildcards);
  // vlan_pcp 8 does not fit 3 bits.
  CHECK_OFERR(raw_flow_mod(cat({oxm(0x8000, 6, false, {0x10, 0x01}), oxm(0x8000, 7, false, {8})}), {}),
              kBadMatch, BadMatchCode::kBadValue);
  // eth_type takes no mask.
  CHECK_OFERR(raw_flow_mod(oxm(0x8000, 5, true, {0x08, 0x00, 0xff, 0x00}), {}), kBadMatch,
              BadMatchCode::kBadMask);
  // OXM length running past the match.
  Bytes over = raw_flow_mod(in_port, {});
  over[48 + 4 + 3] = 12;
  CHECK_OFERR(over, kBadMatch, BadMatchCode::kBadLen);
  // Match length running past the message.
  Bytes mlen = raw_flow_mod(in_port, {});
  mlen[48 + 3] = 200;
  CHECK_OFERR(mlen, kBadMatch, BadMatchCode::kBadLen);
  // Match length 12 but padding missing (message ends at 48 + 12).
  Bytes nopad = raw_flow_mod(in_port, {});
  nopad.resize(48 + 12);
  set_len(&nopad);
  CHECK_OFERR(nopad, kBadMatch, BadMatchCode::kBadLen);
}

TEST_CASE("bad actions and instructions get bad_action / bad_instruction codes",
          "[ofproto][codec]") {
  auto fm = [](const Bytes& insts) { return raw_flow_mod({}, insts); };
  OfMessage ok;
  REQUIRE_FALSE(decode(fm(apply(output_action(2))), &ok));
  CHECK(std::get<FlowModMsg>(ok.body).mod.instructions.apply->size() == 1);

  CHECK_OFERR(fm(apply(output_action(0))), kBadAction, BadActionCode::kBadOutPort);
  CHECK_OFERR(fm(apply(output_action(kPortAny))), kBadAction, BadActionCode::kBadOutPort);
  CHECK_OFERR(fm(apply(output_action(0xffffff01))), kBadAction, BadActionCode::kBadOutPort);
  Bytes out24 = output_action(2, 24);
  CHECK_OFERR(fm(apply(out24)), kBadAction, BadActionCode::kBadLen);  // output must be 16
  Bytes short_len = output_action(2);
  short_len[3] = 12;  // not a multiple of 8
  CHECK_OFERR(fm(apply(short_len)), kBadAction, BadActionCode::kBadLen);
  short_len[3] = 4;  // below the header
  CHECK_OFERR(fm(apply(short_len)), kBadAction, BadActionCode::kBadLen);
  Bytes past = output_action(2);
  past[3] = 32;  // past the instruction
  CHECK_OFERR(fm(apply(past)), kBadAction, BadActionCode::kBadLen);
  Bytes unknown = {0, 99, 0, 8, 0, 0, 0, 0};
  CHECK_OFERR(fm(apply(unknown)), kBadAction, BadActionCode::kBadType);
  Bytes exp = {0xff, 0xff, 0, 8, 0, 0, 0xab, 0xcd};
  CHECK_OFERR(fm(apply(exp)), kBadAction, BadActionCode::kBadExperimenter);
  Bytes nx_short = {0xff, 0xff, 0, 8, 0, 0, 0x23, 0x20};  // a Nicira action is >= 16 bytes
  CHECK_OFERR(fm(apply(nx_short)), kBadAction, BadActionCode::kBadLen);
  // set_field: unknown class, masked, wrong OXM length, wrong padding, bad value.
  auto set_field = [](uint16_t cls, unsigned field, bool hasmask, Bytes value, int len = -1) {
    Bytes o = oxm(cls, field, hasmask, std::move(value));
    Bytes a;
    put16(&a, 25);
    size_t l = len >= 0 ? static_cast<size_t>(len) : (4 + o.size() + 7) / 8 * 8;
    put16(&a, static_cast<uint16_t>(l));
    a.insert(a.end(), o.begin(), o.end());
    a.resize(l, 0);
    return a;
  };
  REQUIRE_FALSE(decode(fm(apply(set_field(0x8000, 3, false, {2, 0, 0, 0, 0, 1}))), &ok));
  CHECK_OFERR(fm(apply(set_field(0x0001, 127, false, {2, 0, 0, 0, 0, 1}))), kBadAction,
              BadActionCode::kBadSetType);
  CHECK_OFERR(fm(apply(set_field(0x8000, 47, false, {0, 0}))), kBadAction,
              BadActionCode::kBadSetType);
  CHECK_OFERR(fm(apply(set_field(0x8000, 12, true, {10, 0, 0, 0, 255, 0, 0, 0}))), kBadAction,
              BadActionCode::kBadSetArgument);
  CHECK_OFERR(fm(apply(set_field(0x8000, 12, false, {10, 0, 0}))), kBadAction,
              BadActionCode::kBadSetLen);
  CHECK_OFERR(fm(apply(set_field(0x8000, 12, false, {10, 0, 0, 1}, 24))), kBadAction,
              BadActionCode::kBadSetLen);
  CHECK_OFERR(fm(apply(set_field(0x8000, 7, false, {9}))), kBadAction,
              BadActionCode::kBadSetArgument);  // vlan_pcp 9

  // Instructions.
  Bytes goto_tbl = {0, 1, 0, 8, 2, 0, 0, 0};
  REQUIRE_FALSE(decode(fm(goto_tbl), &ok));
  CHECK(std::get<FlowModMsg>(ok.body).mod.instructions.goto_table == 2);
  CHECK_OFERR(fm(Bytes{0, 7, 0, 8, 0, 0, 0, 0}), kBadInstruction, BadInstructionCode::kUnknownInst);
  CHECK_OFERR(fm(Bytes{0xff, 0xff, 0, 8, 0, 0, 0x23, 0x20}), kBadInstruction,
              BadInstructionCode::kBadExperimenter);
  CHECK_OFERR(fm(Bytes{0, 1, 0, 4, 2, 0, 0, 0}), kBadInstruction, BadInstructionCode::kBadLen);
  CHECK_OFERR(fm(Bytes{0, 1, 0, 16, 2, 0, 0, 0}), kBadInstruction, BadInstructionCode::kBadLen);
  CHECK_OFERR(fm(Bytes{0, 1, 0, 8, 2, 0}), kBadInstruction, BadInstructionCode::kBadLen);
  CHECK_OFERR(fm(Bytes{0, 2, 0, 8, 0, 0, 0, 0}), kBadInstruction, BadInstructionCode::kBadLen);
  CHECK_OFERR(fm(cat({goto_tbl, goto_tbl})), kBadInstruction, BadInstructionCode::kUnsupInst);
}

TEST_CASE("error replies carry the offender's xid and first 64 bytes", "[ofproto][codec]") {
  FlowModMsg m;
  m.mod.match = rich_match();
  m.mod.instructions = rich_instructions();
  Bytes bad = encode(OfMessage{kOfpVersion13, 0xdeadbeef, m});
  REQUIRE(bad.size() > 64);
  OfError e = OfError::make(OfErrorType::kBadMatch, BadMatchCode::kBadPrereq, "x");
  OfMessage reply = make_error_reply(e, bad);
  CHECK(reply.xid == 0xdeadbeef);
  const auto& em = std::get<ErrorMsg>(reply.body);
  CHECK(em.type == OfErrorType::kBadMatch);
  CHECK(em.code == 9);
  CHECK(em.data == Bytes(bad.begin(), bad.begin() + 64));
  Bytes wire = encode(reply);
  CHECK(wire.size() == 8 + 4 + 64);
  // Shorter than 64: all of it; shorter than a header: xid 0.
  Bytes tiny = {4, 5, 0};
  OfMessage r2 = make_error_reply(OfError::make(OfErrorType::kBadRequest, BadRequestCode::kBadLen, ""), tiny);
  CHECK(r2.xid == 0);
  CHECK(std::get<ErrorMsg>(r2.body).data == tiny);
  // hello_failed carries text.
  OfMessage r3 = make_error_reply(
      OfError::make(OfErrorType::kHelloFailed, HelloFailedCode::kIncompatible, "need OpenFlow 1.3"),
      encode(OfMessage{0x01, 3, Hello{false, 0}}));
  CHECK(std::string(std::get<ErrorMsg>(r3.body).data.begin(), std::get<ErrorMsg>(r3.body).data.end()) ==
        "need OpenFlow 1.3");
  CHECK(r3.xid == 3);
}

// ---- framing and multipart splitting -----------------------------------------------------

TEST_CASE("framer splits a byte stream at header lengths", "[ofproto][codec]") {
  auto msgs = sample_messages();
  Bytes stream;
  std::vector<Bytes> want;
  for (const auto& m : msgs) {
    want.push_back(encode(m));
    stream.insert(stream.end(), want.back().begin(), want.back().end());
  }
  std::mt19937 rng(7);
  for (int trial = 0; trial < 5; trial++) {
    MessageFramer f;
    std::vector<Bytes> got;
    size_t off = 0;
    while (off < stream.size()) {
      size_t n = std::min(stream.size() - off, size_t{1} + rng() % (trial == 0 ? 3 : 3000));
      f.append(std::span<const uint8_t>(stream.data() + off, n));
      off += n;
      Bytes msg;
      while (f.next(&msg) == MessageFramer::Status::kMessage) got.push_back(msg);
      CHECK(f.buffered() < 65536 + 3000);
    }
    CHECK(got == want);
    CHECK(f.buffered() == 0);
  }
  MessageFramer f;
  Bytes bad = {4, 0, 0, 4, 0, 0, 0, 9};
  f.append(bad);
  Bytes msg;
  CHECK(f.next(&msg) == MessageFramer::Status::kBadLength);
  OfMessage e = f.error_message();
  CHECK(e.xid == 9);
  CHECK(std::get<ErrorMsg>(e.body).code == static_cast<uint16_t>(BadRequestCode::kBadLen));
  MessageFramer partial;
  partial.append(Bytes{4, 0, 0, 16, 0, 0});
  CHECK(partial.next(&msg) == MessageFramer::Status::kNeedMore);
}

TEST_CASE("multipart replies above 64 KiB are split with REPLY_MORE", "[ofproto][codec]") {
  PortDescReply ports;
  for (uint32_t i = 1; i <= 2500; i++) ports.ports.push_back(port(i, "p" + std::to_string(i)));
  auto parts = encode_multipart_reply(77, MultipartReply{0, ports});
  REQUIRE(parts.size() == 3);  // 2500 * 64 = 160000 bytes
  std::vector<PortDesc> joined;
  for (size_t i = 0; i < parts.size(); i++) {
    CHECK(parts[i].size() <= kOfpMaxMessageLen);
    OfMessage m;
    REQUIRE_FALSE(decode(parts[i], &m));
    CHECK(m.xid == 77);
    const auto& r = std::get<MultipartReply>(m.body);
    CHECK(r.flags == (i + 1 < parts.size() ? kMultipartMore : 0));
    const auto& pd = std::get<PortDescReply>(r.body);
    joined.insert(joined.end(), pd.ports.begin(), pd.ports.end());
  }
  CHECK(joined == ports.ports);

  FlowStatsReply flows;
  for (uint16_t i = 0; i < 1500; i++) flows.flows.push_back(flow_stats(i));
  auto fparts = split_multipart_reply(MultipartReply{0, flows});
  REQUIRE(fparts.size() >= 2);
  size_t total = 0;
  for (size_t i = 0; i < fparts.size(); i++) {
    Bytes b = encode(OfMessage{kOfpVersion13, 1, fparts[i]});
    CHECK(b.size() <= kOfpMaxMessageLen);
    CHECK(fparts[i].flags == (i + 1 < fparts.size() ? kMultipartMore : 0));
    total += std::get<FlowStatsReply>(fparts[i].body).flows.size();
  }
  CHECK(total == 1500);
  // A small limit forces one entry per part; an entry that cannot fit throws.
  CHECK(split_multipart_reply(MultipartReply{0, ports}, 16 + 64).size() == 2500);
  CHECK_THROWS_AS(split_multipart_reply(MultipartReply{0, ports}, 16 + 63), std::length_error);
  // Single-body replies are one part.
  CHECK(split_multipart_reply(MultipartReply{0, AggregateReply{}}).size() == 1);
  // Encoding an oversized message throws instead of wrapping the length.
  CHECK_THROWS_AS(encode(OfMessage{kOfpVersion13, 1, MultipartReply{0, ports}}), std::length_error);
}

// ---- independent decoder: ovs-ofctl ofp-print -------------------------------------------------

TEST_CASE("ovs-ofctl ofp-print decodes every message we encode", "[ofproto][codec][ovs]") {
  if (!have_ovs_ofctl()) {
    WARN("ovs-ofctl not installed; interop check skipped");
    return;
  }
  size_t n = 0;
  for (const auto& m : sample_messages()) {
    if (std::holds_alternative<ExperimenterMsg>(m.body)) continue;  // vendor-specific payload
    if (auto* p = std::get_if<PacketOut>(&m.body);
        p && std::holds_alternative<ActCopyTtlOut>(p->actions.at(0)))
      continue;  // OVS lacks OFPAT_COPY_TTL_*
    if (auto* e = std::get_if<ErrorMsg>(&m.body); e && e->type == OfErrorType::kExperimenter)
      continue;
    Bytes b = encode(m);
    std::string out = ofp_print(b);
    INFO(of_type_name(message_type(m.body)) << "\n" << hex(b) << "\n" << out);
    CHECK(ovs_decode_ok(out));
    CHECK(out.find("(OF1.3)") != std::string::npos);
    CHECK(out.find("xid=0x" + [&] {
      char x[16];
      std::snprintf(x, sizeof x, "%x", m.xid);
      return std::string(x);
    }()) != std::string::npos);
    n++;
  }
  CHECK(n > 50);
}

namespace {

// Every one of `parts` appears in the ovs-ofctl output s.
void check_has(const std::string& s, std::initializer_list<const char*> parts) {
  for (const char* part : parts) {
    INFO("expected \"" << part << "\" in:\n" << s);
    CHECK(s.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("ovs-ofctl prints the contents we put in", "[ofproto][codec][ovs]") {
  if (!have_ovs_ofctl()) {
    WARN("ovs-ofctl not installed; interop check skipped");
    return;
  }
  auto print = [](OfBody b) {
    std::string out = ofp_print(encode(OfMessage{kOfpVersion13, 0x42, std::move(b)}));
    if (getenv("OFC_DEBUG")) fprintf(stderr, "%s\n", out.c_str());
    INFO(out);
    CHECK(ovs_decode_ok(out));
    return out;
  };
  std::string s = print(FeaturesReply{0x0000feedbeef0001, 256, 254, 0,
                                      kCapFlowStats | kCapTableStats | kCapPortStats});
  check_has(s, {"OFPT_FEATURES_REPLY", "dpid:0000feedbeef0001", "n_tables:254", "n_buffers:256",
                "FLOW_STATS TABLE_STATS PORT_STATS"});

  s = print(MultipartReply{0, PortDescReply{{port(1, "dpdk-p1"), port(2, "dpdk-p2")}}});
  check_has(s, {"OFPST_PORT_DESC reply", "1(dpdk-p1): addr:02:00:00:00:00:01",
                "2(dpdk-p2): addr:02:00:00:00:00:02", "state:      LIVE", "10GB-FD"});

  s = print(MultipartReply{0, FlowStatsReply{{flow_stats(100)}}});
  check_has(s, {"OFPST_FLOW reply", "cookie=0xc0ffee", "table=1", "n_packets=1234",
                "n_bytes=567890", "idle_timeout=10",
                "priority=100,tcp,in_port=1,nw_dst=10.0.0.0/8,tp_dst=80",
                "actions=output:2,goto_table:2"});

  s = print(PacketIn{.buffer_id = kOfpNoBuffer, .total_len = 60, .reason = PacketInReason::kNoMatch,
                     .table_id = 3, .cookie = 0x99, .match = must_match({{OxmField::kInPort, 4, 0}}),
                     .data = frame()});
  // ("udp" and the addresses: the frame itself was parsed.)
  check_has(s, {"OFPT_PACKET_IN", "total_len=60", "in_port=4", "table_id=3", "cookie=0x99",
                "in_port=4 (via no_match)", "udp", "nw_src=10.0.0.1,nw_dst=10.0.0.2"});

  // Tunnel fields and the TLV table, as ovs-ofctl prints them.
  {
    FlowStats fs = flow_stats(100);
    fs.match = tunnel_flow_mod().match;
    fs.instructions = tunnel_flow_mod().instructions;
    s = print(MultipartReply{0, FlowStatsReply{{fs}}});
    check_has(s, {"priority=100,ip,tun_id=0x2a/0xffff,tun_src=10.0.0.0/8,tun_dst=192.168.1.1,"
                  "tun_ipv6_src=2001:db8::1,tun_flags=+oam,tun_metadata0=0x1234,tun_metadata1=0x50000/0xff0000",
                  "actions=set_field:10.1.1.1->tun_dst,set_field:0x7->tun_id,"
                  "set_field:0xabcd->tun_metadata0,output:2"});
    s = print(PacketIn{.buffer_id = kOfpNoBuffer, .total_len = 60, .reason = PacketInReason::kAction,
                       .table_id = 0, .cookie = 7, .match = tunnel_packet_in_match(), .data = frame()});
    check_has(s, {"OFPT_PACKET_IN", "tun_id=0x2a", "tun_src=10.0.0.1", "tun_dst=10.0.0.2",
                  "tun_metadata0=0x99", "in_port=3"});
    s = print(TlvTableReply{48, 64, {{0xffff, 0, 4, 0}, {0x0102, 0x80, 8, 1}}});
    check_has(s, {"NXT_TLV_TABLE_REPLY", "max option space=48 max fields=64", "allocated option space=12",
                  "tun_metadata0", "tun_metadata1"});
    s = print(TlvTableMod{TlvTableCommand::kAdd, {{0xffff, 0, 4, 0}}});
    check_has(s, {"NXT_TLV_TABLE_MOD", "ADD", "tun_metadata0"});
    FlowModMsg probe;
    Bytes req = encode(OfMessage{kOfpVersion13, 0x42, probe});
    for (auto [code, name] : {std::pair{NxErrorCode::kTtmDupEntry, "NXTTMFC_DUP_ENTRY"},
                              std::pair{NxErrorCode::kTtmInvalidTlvDel, "NXTTMFC_INVALID_TLV_DEL"},
                              std::pair{NxErrorCode::kInvalidTlvField, "NXFMFC_INVALID_TLV_FIELD"},
                              std::pair{NxErrorCode::kTtmTableFull, "NXTTMFC_TABLE_FULL"}}) {
      std::string out = ofp_print(encode(make_error_reply(OfError::nx(code, ""), req)));
      INFO(out);
      CHECK(out.find(name) != std::string::npos);
    }
  }

  // Asynchronous and reply messages from the sample set.
  struct Expect {
    OfpType type;
    std::vector<const char*> text;
  } expects[] = {
      {OfpType::kFlowRemoved,
       {"OFPT_FLOW_REMOVED", "priority=200,tcp,tun_id=0x77,metadata=0x1200/0xff00,in_port=3,dl_vlan=42",
        "nw_dst=10.0.0.0/8", "reason=idle table_id=4 cookie:0xabc", "idle10 hard60 pkts42 bytes4200"}},
      {OfpType::kPortStatus, {"OFPT_PORT_STATUS", "MOD: 7(dpdk7): addr:02:00:00:00:00:07", "LIVE"}},
      {OfpType::kRoleReply, {"role=secondary generation_id=13"}},
      {OfpType::kGetAsyncReply, {"PACKET_IN: no_match action invalid_ttl", "FLOW_REMOVED: idle hard delete group_delete"}},
      {OfpType::kGetConfigReply, {"frags=normal miss_send_len=128"}},
      {OfpType::kEchoReply, {"3 bytes of payload"}},
      {OfpType::kBarrierReply, {"OFPT_BARRIER_REPLY"}},
      {OfpType::kHello, {"version bitmap: 0x04"}},
  };
  for (const auto& ex : expects) {
    bool found = false;
    for (const auto& m : sample_messages()) {
      if (message_type(m.body) != ex.type) continue;
      found = true;
      std::string out = ofp_print(encode(m));
      INFO(out);
      CHECK(ovs_decode_ok(out));
      for (const char* t : ex.text) CHECK(out.find(t) != std::string::npos);
      break;
    }
    CHECK(found);
  }

  // Errors: ovs-ofctl names the code we sent, and decodes the embedded request.
  FlowModMsg fm;
  fm.mod.match = must_match({{OxmField::kInPort, 1, 0}});
  Bytes offending = encode(OfMessage{kOfpVersion13, 0x42, fm});
  struct {
    OfErrorType t;
    uint16_t c;
    const char* name;
  } errs[] = {
      {OfErrorType::kBadRequest, 0, "OFPBRC_BAD_VERSION"},
      {OfErrorType::kBadRequest, 1, "OFPBRC_BAD_TYPE"},
      {OfErrorType::kBadRequest, 2, "OFPBRC_BAD_STAT"}  /* OVS name */,
      {OfErrorType::kBadRequest, 3, "OFPBRC_BAD_VENDOR"}  /* OVS name */,
      {OfErrorType::kBadRequest, 6, "OFPBRC_BAD_LEN"},
      {OfErrorType::kBadRequest, 11, "OFPBRC_BAD_PORT"},
      {OfErrorType::kBadAction, 0, "OFPBAC_BAD_TYPE"},
      {OfErrorType::kBadAction, 1, "OFPBAC_BAD_LEN"},
      {OfErrorType::kBadAction, 4, "OFPBAC_BAD_OUT_PORT"},
      {OfErrorType::kBadAction, 13, "OFPBAC_BAD_SET_TYPE"},
      {OfErrorType::kBadAction, 14, "OFPBAC_BAD_SET_LEN"},
      {OfErrorType::kBadAction, 15, "OFPBAC_BAD_SET_ARGUMENT"},
      {OfErrorType::kBadInstruction, 0, "OFPBIC_UNKNOWN_INST"},
      {OfErrorType::kBadInstruction, 7, "OFPBIC_BAD_LEN"},
      {OfErrorType::kBadMatch, 1, "OFPBMC_BAD_LEN"},
      {OfErrorType::kBadMatch, 5, "OFPBMC_BAD_WILDCARDS"},
      {OfErrorType::kBadMatch, 6, "OFPBMC_BAD_FIELD"},
      {OfErrorType::kBadMatch, 7, "OFPBMC_BAD_VALUE"},
      {OfErrorType::kBadMatch, 8, "OFPBMC_BAD_MASK"},
      {OfErrorType::kBadMatch, 9, "OFPBMC_BAD_PREREQ"},
      {OfErrorType::kBadMatch, 10, "OFPBMC_DUP_FIELD"},
      {OfErrorType::kFlowModFailed, 1, "OFPFMFC_TABLE_FULL"},
      {OfErrorType::kFlowModFailed, 3, "OFPFMFC_OVERLAP"},
      {OfErrorType::kGroupModFailed, 8, "OFPGMFC_UNKNOWN_GROUP"},
      {OfErrorType::kMeterModFailed, 3, "OFPMMFC_UNKNOWN_METER"},
      {OfErrorType::kRoleRequestFailed, 2, "OFPRRFC_BAD_ROLE"},
  };
  for (const auto& e : errs) {
    OfMessage reply = make_error_reply(OfError{e.t, e.c, ""}, offending);
    std::string out = ofp_print(encode(reply));
    INFO(out);
    CHECK(out.find(std::string("OFPT_ERROR (OF1.3) (xid=0x42): ") + e.name) != std::string::npos);
    CHECK(out.find("OFPT_FLOW_MOD") != std::string::npos);  // embedded request decoded
  }
  CHECK(s.find("***") == std::string::npos);
}

// ---- ovs-ofctl as a controller talking to a codec-built switch -----------------------------------

TEST_CASE("ovs-ofctl flow commands decode, matching our own parser", "[ofproto][codec][ovs]") {
  if (!have_ovs_ofctl()) {
    WARN("ovs-ofctl not installed; interop check skipped");
    return;
  }
  const char* flows[] = {
      "table=1,priority=100,cookie=0x5,tcp,in_port=1,nw_src=192.168.0.0/16,nw_dst=10.0.0.1,"
      "tp_dst=80,actions=set_field:10.0.0.99->nw_dst,dec_ttl,output:2",
      "priority=10,dl_vlan=42,dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/"
      "01:00:00:00:00:00,actions=pop_vlan,group:5",
      "priority=20,udp6,ipv6_src=2001:db8::/32,tp_src=53,actions=push_vlan:0x8100,"
      "set_field:4196->vlan_vid,output:3",
      "priority=30,arp,arp_op=1,arp_tpa=10.0.0.1,actions=CONTROLLER:128,NORMAL",
      "priority=40,ip,ip_dscp=46,metadata=0x12/0xff,actions=meter:3,write_actions(output:4),"
      "write_metadata:0x5/0xff,goto_table:2",
      "priority=50,in_port=2,actions=clear_actions,goto_table:9",
      "priority=60,icmp,icmp_type=8,actions=set_queue:1,output:1",
  };
  for (const char* text : flows) {
    OfctlRun r = ofctl("add-flow", std::string("'") + text + "'");
    INFO(text << "\n" << r.output);
    for (const auto& e : r.errors) FAIL_CHECK(e);
    CHECK(r.output.empty());
    auto mods = of_type<FlowModMsg>(r);
    REQUIRE(mods.size() == 1);
    CHECK(of_type<BarrierRequest>(r).size() == 1);
    FlowMod want;
    MaybeError pe = parse_flow(text, &want, FlowParseMode::kAdd);
    if (pe) FAIL(pe->message);
    normalize_max_len(&want.instructions);
    FlowModMsg want_msg{want, kOfpNoBuffer};
    const FlowMod& got = mods[0].mod;
    INFO("ovs-ofctl: " << format_flow_mod(got) << "\nours:      " << format_flow_mod(want));
    INFO("ovs-ofctl: " << hex(encode(OfMessage{kOfpVersion13, 1, mods[0]})) << "\nours:      "
                       << hex(encode(OfMessage{kOfpVersion13, 1, want_msg})));
    CHECK(mods[0] == want_msg);
  }

  // mod-flows with a cookie mask, del-flows strict with out_port.
  OfctlRun r = ofctl("mod-flows", "'cookie=0x10/0xf0,tcp,actions=output:7'");
  for (const auto& e : r.errors) FAIL_CHECK(e);
  auto mods = of_type<FlowModMsg>(r);
  REQUIRE(mods.size() == 1);
  CHECK(mods[0].mod.command == FlowModCommand::kModify);
  CHECK(mods[0].mod.cookie == 0x10);
  CHECK(mods[0].mod.cookie_mask == 0xf0);
  CHECK(mods[0].mod.table_id == 0);  // what ovs-ofctl sends without table=
  r = ofctl("del-flows", "'priority=5,udp,out_port=3'", "--strict");
  for (const auto& e : r.errors) FAIL_CHECK(e);
  mods = of_type<FlowModMsg>(r);
  REQUIRE(mods.size() == 1);
  CHECK(mods[0].mod.command == FlowModCommand::kDeleteStrict);
  CHECK(mods[0].mod.out_port == 3);
  CHECK(mods[0].mod.priority == 5);
  CHECK(mods[0].mod.match.has(OxmField::kIpProto));
}

TEST_CASE("ovs-ofctl group, meter, port and packet-out commands decode", "[ofproto][codec][ovs]") {
  if (!have_ovs_ofctl()) {
    WARN("ovs-ofctl not installed; interop check skipped");
    return;
  }
  OfctlRun r = ofctl("add-group",
                     "'group_id=5,type=select,bucket=weight:10,actions=output:1,"
                     "bucket=weight:20,actions=set_field:00:00:00:00:00:09->eth_dst,output:2'");
  for (const auto& e : r.errors) FAIL_CHECK(e);
  auto groups = of_type<GroupModMsg>(r);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].mod.command == GroupModCommand::kAdd);
  CHECK(groups[0].mod.type == GroupType::kSelect);
  CHECK(groups[0].mod.group_id == 5);
  REQUIRE(groups[0].mod.buckets.size() == 2);
  CHECK(groups[0].mod.buckets[1].weight == 20);
  CHECK(groups[0].mod.buckets[1].actions.size() == 2);
  GroupMod want;
  REQUIRE_FALSE(parse_group("group_id=5,type=select,bucket=weight:10,actions=output:1,"
                            "bucket=weight:20,actions=set_field:00:00:00:00:00:09->eth_dst,output:2",
                            &want));
  for (auto& b : want.buckets) normalize_max_len(&b.actions);
  INFO("ovs-ofctl: " << hex(encode(OfMessage{kOfpVersion13, 1, groups[0]})) << "\nours:      "
                     << hex(encode(OfMessage{kOfpVersion13, 1, GroupModMsg{want}})));
  CHECK(groups[0] == GroupModMsg{want});

  r = ofctl("add-group", "'group_id=6,type=ff,bucket=watch_port:3,actions=output:3'");
  for (const auto& e : r.errors) FAIL_CHECK(e);
  groups = of_type<GroupModMsg>(r);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].mod.type == GroupType::kFastFailover);
  CHECK(groups[0].mod.buckets.at(0).watch_port == 3);
  r = ofctl("del-groups", "group_id=all");
  groups = of_type<GroupModMsg>(r);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].mod.command == GroupModCommand::kDelete);
  CHECK(groups[0].mod.group_id == kGroupAll);

  r = ofctl("add-meter", "'meter=1,kbps,burst,band=type=drop,rate=1000,burst_size=100'");
  for (const auto& e : r.errors) FAIL_CHECK(e);
  auto meters = of_type<MeterMod>(r);
  REQUIRE(meters.size() == 1);
  CHECK(meters[0] == MeterMod{MeterModCommand::kAdd, kMeterFlagKbps | kMeterFlagBurst, 1,
                              {MeterBand{MeterBandType::kDrop, 1000, 100, 0, 0}}});
  r = ofctl("add-meter", "'meter=2,pktps,band=type=dscp_remark,rate=500,prec_level=1'");
  for (const auto& e : r.errors) FAIL_CHECK(e);
  meters = of_type<MeterMod>(r);
  REQUIRE(meters.size() == 1);
  CHECK(meters[0].flags == kMeterFlagPktps);
  REQUIRE(meters[0].bands.size() == 1);
  CHECK(meters[0].bands[0].type == MeterBandType::kDscpRemark);
  CHECK(meters[0].bands[0].prec_level == 1);

  // mod-port looks the port up first (PORT_DESC reply from us), then sends PORT_MOD.
  r = ofctl("mod-port", "p2 down");
  INFO(r.output);
  for (const auto& e : r.errors) FAIL_CHECK(e);
  auto pm = of_type<PortMod>(r);
  REQUIRE(pm.size() == 1);
  CHECK(pm[0].port_no == 2);
  CHECK(pm[0].hw_addr == port(2, "").hw_addr);
  CHECK(pm[0].config == kPortConfigDown);
  CHECK(pm[0].mask == kPortConfigDown);

  Bytes f = frame();
  r = ofctl("packet-out", "'in_port=1,packet=" + hex(f) + ",actions=output:2,output:table'");
  INFO(r.output);
  for (const auto& e : r.errors) FAIL_CHECK(e);
  auto po = of_type<PacketOut>(r);
  REQUIRE(po.size() == 1);
  CHECK(po[0].buffer_id == kOfpNoBuffer);
  CHECK(po[0].in_port == 1);
  CHECK(po[0].data == f);
  CHECK(po[0].actions == ActionList{ActOutput{2, 0}, ActOutput{kPortTable, 0}});
}

TEST_CASE("ovs-ofctl dump commands decode our replies", "[ofproto][codec][ovs]") {
  if (!have_ovs_ofctl()) {
    WARN("ovs-ofctl not installed; interop check skipped");
    return;
  }
  struct Case {
    const char* cmd;
    const char* args;
    MultipartType type;
    std::vector<const char*> expect;
  } cases[] = {
      {"dump-desc", "", MultipartType::kDesc,
       {"Manufacturer: dpswitch project", "Software: 0.1-test", "Serial Num: SN42", "DP Description: br-test"}},
      {"dump-flows", "", MultipartType::kFlow,
       {"cookie=0xc0ffee", "n_packets=1234", "priority=100,tcp,in_port=1,nw_dst=10.0.0.0/8,tp_dst=80",
        "actions=output:2,goto_table:2"}},
      {"dump-aggregate", "", MultipartType::kAggregate, {"packet_count=1234", "byte_count=567890", "flow_count=1"}},
      {"dump-tables", "", MultipartType::kTable, {"lookup=1000", "matched=900"}},
      {"dump-ports", "", MultipartType::kPortStats, {"port  1: rx pkts=11", "tx pkts=22"}},
      {"dump-ports-desc", "", MultipartType::kPortDesc, {"1(p1): addr:02:00:00:00:00:01", "2(p2)"}},
      {"dump-group-stats", "", MultipartType::kGroup, {"group_id=5", "packet_count=10", "bucket0:packet_count=4"}},
      {"dump-groups", "", MultipartType::kGroupDesc,
       {"group_id=5,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2"}},
      {"dump-group-features", "", MultipartType::kGroupFeatures, {"Types:  0xf", "Capabilities:  0x5", "max_groups=0xffff"}},
      {"dump-meters", "", MultipartType::kMeterConfig, {"meter=1 kbps burst bands=", "type=drop rate=1000 burst_size=100"}},
      {"meter-stats", "", MultipartType::kMeter, {"meter:1 flow_count:2 packet_in_count:100 byte_in_count:6400"}},
      {"meter-features", "", MultipartType::kMeterFeatures, {"max_meter:65536", "max_bands:2"}},
      {"dump-table-features", "", MultipartType::kTableFeatures, {"table 0 (\"table0\")", "max_entries=1000000"}},
      {"queue-stats", "", MultipartType::kQueue, {"OFPST_QUEUE reply"}},
  };
  for (const auto& c : cases) {
    OfctlRun r = ofctl(c.cmd, c.args);
    INFO(c.cmd << "\n" << r.output);
    for (const auto& e : r.errors) FAIL_CHECK(e);
    bool asked = false;
    for (const auto& req : of_type<MultipartRequest>(r)) asked |= multipart_type(req.body) == c.type;
    CHECK(asked);
    CHECK(ovs_decode_ok(r.output));
    for (const char* want : c.expect) CHECK(r.output.find(want) != std::string::npos);
  }
  // show: FEATURES_REPLY + PORT_DESC + GET_CONFIG.
  OfctlRun r = ofctl("show", "");
  INFO(r.output);
  for (const auto& e : r.errors) FAIL_CHECK(e);
  CHECK(r.output.find("dpid:0000feedbeef0001") != std::string::npos);
  CHECK(r.output.find("1(p1): addr:02:00:00:00:00:01") != std::string::npos);
  CHECK(r.output.find("OFPT_GET_CONFIG_REPLY") != std::string::npos);
  CHECK(r.output.find("miss_send_len=128") != std::string::npos);
}

// ---- fuzz regressions and seed corpus -------------------------------------------------

TEST_CASE("fixed-size strings decode to what encode can write", "[ofproto][codec]") {
  // Found by the fuzzer: a 16-byte port name without a NUL decoded to 16
  // characters, which encode() cannot write back (it keeps the terminator).
  Bytes b = encode(OfMessage{kOfpVersion13, 1, PortStatus{PortReason::kAdd, port(1, "x")}});
  for (size_t i = 0; i < kOfpMaxPortNameLen; i++) b[8 + 8 + 16 + i] = 'a';
  OfMessage m;
  REQUIRE_FALSE(decode(b, &m));
  CHECK(std::get<PortStatus>(m.body).desc.name == std::string(15, 'a'));
  OfMessage again;
  REQUIRE_FALSE(decode(encode(m), &again));
  CHECK(again == m);
}

TEST_CASE("the fuzz seed corpus decodes and round-trips", "[ofproto][codec]") {
  // Run from the repository root (make test) or the build directory (meson
  // test, where __FILE__ is relative to it).
  namespace fs = std::filesystem;
  fs::path dir;
  for (fs::path p : {fs::path("tests/fuzz/corpus_of"),
                     fs::path(__FILE__).parent_path() / ".." / "fuzz" / "corpus_of"})
    if (fs::is_directory(p)) {
      dir = p;
      break;
    }
  if (dir.empty()) {
    WARN("seed corpus not found at " << dir);
    return;
  }
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    FILE* f = fopen(entry.path().c_str(), "rb");
    REQUIRE(f);
    Bytes b(70000);
    b.resize(fread(b.data(), 1, b.size(), f));
    fclose(f);
    INFO(entry.path());
    OfMessage m;
    MaybeError e = decode(b, &m, lenient());
    REQUIRE_FALSE(e);
    OfMessage back;
    REQUIRE_FALSE(decode(encode(m), &back, lenient()));
    CHECK(back == m);
    n++;
  }
  CHECK(n >= 50);
}
