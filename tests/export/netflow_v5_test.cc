#include <catch2/catch.hpp>

#include "byte_reader.h"
#include "netflow_v5.h"
#include "sample_flows.h"

using namespace dps::exporter;
using namespace dps::test;

namespace {

constexpr uint64_t kBoot = 1'700'000'000'000ull;

FlowRecord rec() { return dps::test::tcp_flow_record(kBoot + 1000, kBoot + 5000); }

}  // namespace

TEST_CASE("netflow v5: header and one record, byte by byte") {
  NetflowV5Encoder enc(NetflowV5Config{.engine_type = 1, .engine_id = 2, .sampling_interval = 100, .boot_ms = kBoot});
  FlowRecord r = rec();
  auto dgs = enc.encode(std::span(&r, 1), kBoot + 6250);
  REQUIRE(dgs.size() == 1);
  const auto& d = dgs[0];
  Bytes b{d};
  REQUIRE(d.size() == 24 + 48);
  check_fields(b, 0, {U16(5), U16(1),
                      U32(6250),              // sys_uptime
                      U32(1'700'000'006u),    // unix_secs
                      U32(250'000'000u),      // unix_nsecs
                      U32(0),                 // flow_sequence
                      U8(1), U8(2),           // engine type, id
                      U16(1u << 14 | 100)});  // packet-interval sampling, 1 in 100
  check_fields(b, 24, {U32(0x0a000001), U32(0x0a000002), U32(0), U16(1), U16(2), U32(10), U32(1000),
                       U32(1000),  // first, uptime ms
                       U32(5000),  // last
                       U16(1234), U16(80), U8(0), U8(0x1b), U8(6), U8(0x10), Raw(std::vector<uint8_t>(8, 0))});
  CHECK(enc.sequence() == 1);
}

TEST_CASE("netflow v5: 30 records per datagram, flow_sequence, non-IPv4 skipped, clamping") {
  NetflowV5Encoder enc(NetflowV5Config{.boot_ms = kBoot});
  std::vector<FlowRecord> recs(31, rec());
  FlowRecord v6 = rec();
  v6.f.eth_type = kEthTypeIpv6;
  v6.f.src = *IpAddress::parse("::1");
  recs.insert(recs.begin() + 5, v6);
  recs.back().f.in_if = 70000;
  recs.back().packets = 1ull << 33;
  auto dgs = enc.encode(recs, kBoot + 10);
  REQUIRE(dgs.size() == 2);
  CHECK(Bytes{dgs[0]}.u16(2) == 30);
  CHECK(dgs[0].size() == 24 + 30 * 48);
  CHECK(Bytes{dgs[1]}.u16(2) == 1);
  CHECK(Bytes{dgs[1]}.u32(16) == 30);
  CHECK(Bytes{dgs[1]}.u16(24 + 12) == 0);           // ifindex 70000 does not fit
  CHECK(Bytes{dgs[1]}.u32(24 + 16) == 0xFFFFFFFFu);  // saturated
  CHECK(Bytes{dgs[1]}.u16(22) == 0);                 // no sampling announced
  CHECK(enc.skipped() == 1);
  CHECK(enc.clamped() == 2);
  CHECK(enc.sequence() == 31);
  FlowRecord early = rec();
  early.start_ms = kBoot - 5;  // before boot: uptime 0
  CHECK(Bytes{enc.encode(std::span(&early, 1), kBoot + 1).at(0)}.u32(24 + 24) == 0);
  CHECK_THROWS_WITH(NetflowV5Encoder(NetflowV5Config{.sampling_interval = 1u << 14}), Catch::Contains("14 bits"));
}
