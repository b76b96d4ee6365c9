#include <catch2/catch.hpp>

#include <functional>
#include <numeric>

#include "byte_reader.h"
#include "sflow.h"

using namespace dps::exporter;
using namespace dps::test;

namespace {

// The test agent (192.0.2.1, sub-agent 7), then changed by `tweak`.
SflowAgentConfig agent(const std::function<void(SflowAgentConfig&)>& tweak = nullptr) {
  SflowAgentConfig c;
  c.agent = *IpAddress::parse("192.0.2.1");
  c.sub_agent_id = 7;
  if (tweak) tweak(c);
  return c;
}

std::vector<uint8_t> frame(size_t n) {
  std::vector<uint8_t> f(n);
  std::iota(f.begin(), f.end(), uint8_t{0});
  return f;
}

// A sample of `pkt` (which must outlive it) from data source 1.
SflowFlowSample sample_of(const std::vector<uint8_t>& pkt, uint32_t frame_length) {
  SflowFlowSample s;
  s.source_index = 1;
  s.frame_length = frame_length;
  s.header = pkt;
  return s;
}

}  // namespace

TEST_CASE("sflow: a flow sample with raw header and extended switch, byte by byte") {
  SflowEncoder enc(agent());
  std::vector<uint8_t> pkt = frame(60);
  SflowFlowSample s;
  s.source_index = 3;
  s.sampling_rate = 1000;
  s.sample_pool = 5000;
  s.drops = 2;
  s.input = sflow_if_index(3);
  s.output = sflow_if_index(4);
  s.frame_length = 60;
  s.header = pkt;
  s.ext_switch = SflowExtendedSwitch{10, 3, 20, 5};
  REQUIRE(enc.add_flow_sample(s));
  auto dgs = enc.take(12345);
  REQUIRE(dgs.size() == 1);
  const std::vector<uint8_t>& d = dgs[0];
  Bytes b{d};
  REQUIRE(d.size() == 176);
  check_fields(b, 0, {U32(5),           // version
                      U32(1),           // agent address type IPv4
                      U32(0xc0000201),  // 192.0.2.1
                      U32(7),           // sub-agent
                      U32(1),           // datagram sequence
                      U32(12345),       // uptime
                      U32(1),           // samples
                      U32(kSflowFlowSampleType),
                      U32(140),         // sample length
                      U32(1),           // sample sequence of source 3
                      U32(3),           // source id: type 0, index 3
                      U32(1000), U32(5000), U32(2), U32(3), U32(4),
                      U32(2),           // flow records
                      U32(kSflowRawHeaderFormat),
                      U32(76),          // 16 + 60
                      U32(kSflowHeaderEthernet),
                      U32(64),          // frame length with FCS
                      U32(4),           // stripped
                      U32(60),          // header bytes
                      Raw(pkt),
                      U32(kSflowExtendedSwitchFormat), U32(16), U32(10), U32(3), U32(20), U32(5)});
  CHECK(enc.pending() == 0);
  CHECK(enc.take(1).empty());
}

TEST_CASE("sflow: header cut to header_bytes and padded to 4; no extended switch") {
  SflowEncoder enc(agent([](SflowAgentConfig& c) { c.header_bytes = 61; }));
  std::vector<uint8_t> pkt = frame(200);
  SflowFlowSample s = sample_of(pkt, 1500);
  s.output = sflow_if_multiple(3);
  REQUIRE(enc.add_flow_sample(s));
  auto d = enc.take(0).at(0);
  Bytes b{d};
  CHECK(b.u32(32) == 32 + 8 + 16 + 64);  // 61 header bytes padded to 64
  CHECK(b.u32(60) == 0x80000003);        // output: 3 interfaces
  CHECK(b.u32(56) == kSflowIfUnknown);
  CHECK(b.u32(64) == 1);
  CHECK(b.u32(72) == 16 + 64);
  CHECK(b.u32(80) == 1504);
  CHECK(b.u32(88) == 61);
  CHECK(b.slice(92, 61) == std::vector<uint8_t>(pkt.begin(), pkt.begin() + 61));
  CHECK(b.slice(153, 3) == std::vector<uint8_t>{0, 0, 0});
  CHECK(d.size() == 28 + 8 + 32 + 8 + 16 + 64);
}

TEST_CASE("sflow: generic interface counters, byte by byte") {
  SflowEncoder enc(agent());
  SflowCounterSample cs;
  cs.source_index = 9;
  SflowIfCounters& c = cs.ifc;
  c.if_index = 9;
  c.if_speed = 10'000'000'000ull;
  c.admin_up = true;
  c.oper_up = true;
  c.in_octets = 0x1'0000'0002ull;
  c.in_ucast = 11, c.in_mcast = 12, c.in_bcast = 13, c.in_discards = 14, c.in_errors = 15, c.in_unknown_protos = 16;
  c.out_octets = 77;
  c.out_ucast = 21, c.out_mcast = 22, c.out_bcast = 23, c.out_discards = 24, c.out_errors = 25;
  c.promiscuous = 2;
  REQUIRE(enc.add_counter_sample(cs));
  auto d = enc.take(5).at(0);
  Bytes b{d};
  REQUIRE(d.size() == 28 + 8 + 12 + 8 + 88);
  check_fields(b, 28, {U32(kSflowCounterSampleType), U32(108),
                       U32(1),  // counter sample sequence
                       U32(9),  // source
                       U32(1),  // records
                       U32(kSflowGenericIfCountersFormat), U32(88)});
  size_t o = 56;
  check_fields(b, o, {U32(9), U32(6), U64(10'000'000'000ull),
                      U32(1),  // full duplex
                      U32(3),  // admin and oper up
                      U64(0x1'0000'0002ull)});
  for (uint32_t k = 0; k < 6; k++) CHECK(b.u32(o + 32 + 4 * k) == 11 + k);
  CHECK(b.u64(o + 56) == 77);
  for (uint32_t k = 0; k < 5; k++) CHECK(b.u32(o + 64 + 4 * k) == 21 + k);
  CHECK(b.u32(o + 84) == 2);
}

TEST_CASE("sflow: sequence numbers per datagram, per source and per sample kind") {
  SflowEncoder enc(agent());
  std::vector<uint8_t> pkt = frame(64);
  SflowFlowSample s = sample_of(pkt, 64);
  enc.add_flow_sample(s);
  enc.add_flow_sample(s);
  s.source_index = 2;
  enc.add_flow_sample(s);
  SflowCounterSample cs;
  cs.source_index = 1;
  enc.add_counter_sample(cs);
  auto d = enc.take(0).at(0);
  Bytes b{d};
  CHECK(b.u32(16) == 1);
  CHECK(b.u32(24) == 4);
  size_t at = 28;
  std::vector<std::pair<uint32_t, uint32_t>> seen;  // (sequence, source)
  for (int i = 0; i < 4; i++) {
    seen.emplace_back(b.u32(at + 8), b.u32(at + 12));
    at += 8 + b.u32(at + 4);
  }
  CHECK(at == d.size());
  CHECK(seen == std::vector<std::pair<uint32_t, uint32_t>>{{1, 1}, {2, 1}, {1, 2}, {1, 1}});
  enc.add_counter_sample(cs);
  auto d2 = enc.take(0).at(0);
  CHECK(Bytes{d2}.u32(16) == 2);      // next datagram
  CHECK(Bytes{d2}.u32(28 + 8) == 2);  // source 1's second counter sample
  CHECK(enc.datagrams() == 2);
}

TEST_CASE("sflow: many samples split into datagrams under max_datagram") {
  SflowEncoder enc(agent([](SflowAgentConfig& c) { c.max_datagram = 512; }));
  std::vector<uint8_t> pkt = frame(128);
  SflowFlowSample s = sample_of(pkt, 128);
  for (int i = 0; i < 10; i++) REQUIRE(enc.add_flow_sample(s));
  auto dgs = enc.take(0);
  uint32_t samples = 0, seq = 0;
  for (auto& d : dgs) {
    CHECK(d.size() <= 512);
    samples += Bytes{d}.u32(24);
    CHECK(Bytes{d}.u32(16) == ++seq);
  }
  CHECK(samples == 10);
  CHECK(dgs.size() == 5);  // 2 samples (2 x 192 bytes) per 512-byte datagram
}

TEST_CASE("sflow: IPv6 agent address; bad input refused") {
  SflowEncoder enc(agent([](SflowAgentConfig& c) { c.agent = *IpAddress::parse("2001:db8::1"); }));
  SflowCounterSample cs;
  cs.source_index = 1u << 24;
  CHECK_FALSE(enc.add_counter_sample(cs));
  SflowFlowSample s;
  s.source_index = 1u << 24;
  CHECK_FALSE(enc.add_flow_sample(s));
  CHECK(enc.rejected() == 2);
  cs.source_index = 5;
  REQUIRE(enc.add_counter_sample(cs));
  auto d = enc.take(0).at(0);
  Bytes b{d};
  CHECK(b.u32(4) == 2);
  CHECK(b.u32(8) == 0x20010db8);
  CHECK(b.u32(20) == 1);  // the address's last word
  CHECK(b.u32(24) == 7);
  CHECK(b.u32(36) == 1);  // samples
  CHECK(b.u32(40) == kSflowCounterSampleType);

  CHECK_THROWS_WITH(SflowEncoder(agent([](SflowAgentConfig& c) { c.max_datagram = 100; })),
                    Catch::Contains("below 512"));
  CHECK_THROWS_WITH(SflowEncoder(agent([](SflowAgentConfig& c) { c.header_bytes = 300; })),
                    Catch::Contains("header size 300"));
}
