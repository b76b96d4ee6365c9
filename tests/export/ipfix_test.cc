#include <catch2/catch.hpp>

#include "byte_reader.h"
#include "ipfix.h"
#include "sample_flows.h"

using namespace dps::exporter;
using namespace dps::test;

namespace {

FlowRecord v4_record() {
  FlowRecord r = dps::test::tcp_flow_record(1'700'000'000'123ull, 1'700'000'004'567ull);
  r.f.direction = kFlowEgress;
  return r;
}

constexpr uint32_t kNow = 1'700'000'010;

}  // namespace

TEST_CASE("ipfix: templates carry the IANA element ids and lengths") {
  using V = std::vector<std::pair<uint16_t, uint16_t>>;
  auto fields = [](uint16_t id) {
    V v;
    for (auto f : IpfixEncoder::template_fields(id)) v.emplace_back(f.id, f.length);
    return v;
  };
  CHECK(fields(256) == V{{56, 6}, {80, 6}, {256, 2}, {58, 2}, {8, 4}, {12, 4}, {4, 1}, {5, 1}, {6, 2},
                         {7, 2}, {11, 2}, {10, 4}, {14, 4}, {61, 1}, {2, 8}, {1, 8}, {152, 8}, {153, 8}, {136, 1}});
  CHECK(fields(257) == V{{56, 6}, {80, 6}, {256, 2}, {58, 2}, {27, 16}, {28, 16}, {4, 1}, {5, 1}, {6, 2},
                         {7, 2}, {11, 2}, {10, 4}, {14, 4}, {61, 1}, {2, 8}, {1, 8}, {152, 8}, {153, 8}, {136, 1}});
  CHECK(fields(258) == V{{56, 6}, {80, 6}, {256, 2}, {58, 2}, {10, 4}, {14, 4}, {61, 1}, {2, 8}, {1, 8},
                         {152, 8}, {153, 8}, {136, 1}});
  CHECK(IpfixEncoder::template_fields(259).empty());
}

TEST_CASE("ipfix: first message = header, template set, one IPv4 data record, byte by byte") {
  IpfixEncoder enc(IpfixConfig{.observation_domain = 42});
  FlowRecord r = v4_record();
  auto msgs = enc.encode(std::span(&r, 1), kNow);
  REQUIRE(msgs.size() == 1);
  const auto& m = msgs[0];
  Bytes b{m};
  // Header.
  CHECK(m.size() == 16 + 216 + 4 + 74);
  check_fields(b, 0, {U16(10), U16(m.size()), U32(kNow),
                      U32(0),  // no data record before this message
                      U32(42)});
  // Template set: 3 templates.
  check_fields(b, 16, {U16(2), U16(216), U16(256), U16(19), U16(56), U16(6)});
  size_t t2 = 20 + 4 + 19 * 4;
  CHECK(b.u16(t2) == 257);
  CHECK(b.u16(t2 + 2) == 19);
  size_t t3 = t2 + 4 + 19 * 4;
  CHECK(b.u16(t3) == 258);
  CHECK(b.u16(t3 + 2) == 12);
  CHECK(t3 + 4 + 12 * 4 == 16 + 216);
  // Data set: its header, then the record.
  size_t end = check_fields(b, 232, {U16(256), U16(78), Raw({2, 0, 0, 0, 0, 1}), Raw({2, 0, 0, 0, 0, 2}),
                                     U16(0x0800), U16(100), U32(0x0a000001), U32(0x0a000002), U8(6), U8(0x10),
                                     U16(0x1b), U16(1234), U16(80), U32(1), U32(2),
                                     U8(1),  // flowDirection: egress
                                     U64(10), U64(1000), U64(1'700'000'000'123ull), U64(1'700'000'004'567ull),
                                     U8(1)});
  CHECK(end == m.size());
  CHECK(enc.sequence() == 1);
}

TEST_CASE("ipfix: templates again only after the refresh interval; sequence counts records") {
  IpfixEncoder enc(IpfixConfig{.observation_domain = 1, .template_refresh_s = 60});
  FlowRecord r = v4_record();
  std::vector<FlowRecord> two{r, r};
  CHECK(Bytes{enc.encode(two, kNow).at(0)}.u16(16) == 2);
  auto m2 = enc.encode(std::span(&r, 1), kNow + 59).at(0);
  CHECK(Bytes{m2}.u16(16) == 256);      // data set straight away
  CHECK(Bytes{m2}.u32(8) == 2);         // two records before it
  CHECK(m2.size() == 16 + 4 + 74);
  auto m3 = enc.encode(std::span(&r, 1), kNow + 60).at(0);
  CHECK(Bytes{m3}.u16(16) == 2);
  CHECK(Bytes{m3}.u32(8) == 3);
  enc.resend_templates();
  CHECK(Bytes{enc.encode(std::span(&r, 1), kNow + 61).at(0)}.u16(16) == 2);
  CHECK(enc.encode({}, kNow + 62).empty());
  CHECK(enc.messages() == 4);
}

TEST_CASE("ipfix: IPv6 and L2 records use their templates; sets follow the record order") {
  IpfixEncoder enc(IpfixConfig{});
  FlowRecord v4 = v4_record();
  FlowRecord v6 = v4;
  v6.f.eth_type = kEthTypeIpv6;
  v6.f.src = *IpAddress::parse("2001:db8::1");
  v6.f.dst = *IpAddress::parse("2001:db8::2");
  FlowRecord arp = v4;
  arp.f.eth_type = 0x0806;
  arp.f.src = arp.f.dst = IpAddress{};
  std::vector<FlowRecord> recs{v4, v4, v6, arp, v4};
  auto m = enc.encode(recs, kNow).at(0);
  Bytes b{m};
  size_t at = 16 + 216;
  std::vector<std::pair<uint16_t, uint16_t>> sets;
  while (at < m.size()) {
    sets.emplace_back(b.u16(at), b.u16(at + 2));
    at += b.u16(at + 2);
  }
  CHECK(at == m.size());
  CHECK(sets == std::vector<std::pair<uint16_t, uint16_t>>{{256, 4 + 2 * 74}, {257, 4 + 98}, {258, 4 + 58}, {256, 4 + 74}});
  size_t v6rec = 16 + 216 + 4 + 2 * 74 + 4;
  CHECK(b.u32(v6rec + 16) == 0x20010db8);
  CHECK(b.u32(v6rec + 28) == 1);
  CHECK(b.u32(v6rec + 44) == 2);
}

TEST_CASE("ipfix: messages stay under max_message; sequence numbers add up") {
  IpfixEncoder enc(IpfixConfig{.max_message = 512});
  std::vector<FlowRecord> recs(20, v4_record());
  auto msgs = enc.encode(recs, kNow);
  REQUIRE(msgs.size() > 1);
  uint32_t records = 0;
  for (size_t i = 0; i < msgs.size(); i++) {
    Bytes b{msgs[i]};
    CHECK(msgs[i].size() <= 512);
    CHECK(b.u16(2) == msgs[i].size());
    CHECK(b.u32(8) == records);
    size_t set = i == 0 ? 16 + 216 : 16;
    CHECK(b.u16(set) == 256);
    CHECK(set + b.u16(set + 2) == msgs[i].size());
    records += (b.u16(set + 2) - 4) / 74;
  }
  CHECK(records == 20);
  CHECK(enc.sequence() == 20);
  CHECK_THROWS_WITH(IpfixEncoder(IpfixConfig{.max_message = 100}), Catch::Contains("max message size 100"));
}

TEST_CASE("ipfix: template_refresh_s 0 puts the templates in every message") {
  IpfixEncoder enc(IpfixConfig{.max_message = 512, .template_refresh_s = 0});
  std::vector<FlowRecord> recs(10, v4_record());
  auto msgs = enc.encode(recs, kNow);
  REQUIRE(msgs.size() >= 2);
  for (auto& m : msgs) CHECK(Bytes{m}.u16(16) == 2);
}
