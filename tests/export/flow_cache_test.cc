#include <catch2/catch.hpp>

#include <map>

#include "flow_cache.h"
#include "sample_flows.h"

using namespace dps::exporter;

namespace {

FlowFields tcp(uint16_t sport, uint8_t flags = 0x10) {
  FlowFields f = dps::test::tcp_flow_fields();
  f.src_port = sport;
  f.tcp_flags = flags;
  return f;
}

FlowCacheConfig cfg(size_t cap = 16) {
  return FlowCacheConfig{.active_timeout_ms = 1000, .inactive_timeout_ms = 100, .capacity = cap};
}

}  // namespace

TEST_CASE("flow cache: packets of one 5-tuple aggregate; idle flows expire") {
  FlowCache c(cfg());
  std::vector<FlowRecord> out;
  c.add(tcp(1, 0x02), 60, 1000, &out);
  c.add(tcp(1, 0x10), 1500, 1050, &out);
  c.add(tcp(2), 100, 1060, &out);
  FlowFields other_port = tcp(1);
  other_port.in_if = 2;  // same 5-tuple, another ingress: another flow
  c.add(other_port, 10, 1060, &out);
  CHECK(out.empty());
  CHECK(c.size() == 3);
  c.expire(1149, &out);
  CHECK(out.empty());
  c.expire(1150, &out);  // flow 1 idle for 100 ms
  REQUIRE(out.size() == 1);
  const FlowRecord& r = out[0];
  CHECK(r.f.src_port == 1);
  CHECK(r.packets == 2);
  CHECK(r.bytes == 1560);
  CHECK(r.start_ms == 1000);
  CHECK(r.end_ms == 1050);
  CHECK(r.f.tcp_flags == 0x12);
  CHECK(r.reason == FlowEndReason::kIdleTimeout);
  c.expire(1160, &out);
  CHECK(out.size() == 3);
  CHECK(c.size() == 0);
  CHECK(c.stats().flows == 3);
  CHECK(c.stats().records == 3);
  CHECK(c.stats().packets == 4);
}

TEST_CASE("flow cache: active timeout reports a long flow and starts a new record") {
  FlowCache c(cfg());
  std::vector<FlowRecord> out;
  for (uint64_t t = 0; t < 1000; t += 50) c.add(tcp(1), 100, t, &out);
  CHECK(out.empty());
  c.expire(1000, &out);  // 1000 ms since its first packet
  REQUIRE(out.size() == 1);
  CHECK(out[0].reason == FlowEndReason::kActiveTimeout);
  CHECK(out[0].packets == 20);
  // Through add(): the packet that comes after the active timeout.
  c.add(tcp(2), 100, 2000, &out);
  c.add(tcp(2), 100, 2090, &out);
  for (uint64_t t = 2180; t < 3000; t += 90) c.add(tcp(2), 100, t, &out);
  c.add(tcp(2), 100, 3000, &out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].reason == FlowEndReason::kActiveTimeout);
  CHECK(out[1].start_ms == 2000);
  CHECK(c.size() == 1);  // the new record holds the packet at 3000
  c.flush(&out);
  REQUIRE(out.size() == 3);
  CHECK(out[2].reason == FlowEndReason::kForcedEnd);
  CHECK(out[2].start_ms == 3000);
  CHECK(out[2].packets == 1);
}

TEST_CASE("flow cache: FIN or RST ends a TCP flow; not a UDP one") {
  FlowCache c(cfg());
  std::vector<FlowRecord> out;
  c.add(tcp(1, 0x02), 60, 0, &out);
  c.add(tcp(1, 0x11), 60, 10, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].reason == FlowEndReason::kEndOfFlow);
  CHECK(out[0].packets == 2);
  c.add(tcp(2, 0x04), 60, 20, &out);
  CHECK(out.size() == 2);
  FlowFields udp = tcp(3, 0x01);
  udp.proto = 17;
  c.add(udp, 60, 30, &out);
  CHECK(out.size() == 2);
  FlowCacheConfig no_end = cfg();
  no_end.tcp_end = false;
  FlowCache c2(no_end);
  c2.add(tcp(1, 0x01), 60, 0, &out);
  CHECK(out.size() == 2);
}

TEST_CASE("flow cache: a full cache evicts the least recently used flow") {
  FlowCache c(cfg(2));
  std::vector<FlowRecord> out;
  c.add(tcp(1), 60, 0, &out);
  c.add(tcp(2), 60, 1, &out);
  c.add(tcp(1), 60, 2, &out);  // 2 is now the least recently used
  c.add(tcp(3), 60, 3, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].f.src_port == 2);
  CHECK(out[0].reason == FlowEndReason::kLackOfResources);
  CHECK(c.stats().evictions == 1);
  CHECK(c.size() == 2);
}

TEST_CASE("flow cache: scale multiplies counts; a clock step back expires nothing; bad config") {
  FlowCacheConfig sc = cfg();
  sc.scale = 1000;
  FlowCache c(sc);
  std::vector<FlowRecord> out;
  c.add(tcp(1), 64, 5000, &out);
  c.add(tcp(1), 64, 5001, &out);
  c.expire(10, &out);  // earlier than the flow: not idle
  CHECK(out.empty());
  c.flush(&out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].packets == 2000);
  CHECK(out[0].bytes == 128000);
  CHECK_THROWS_WITH(FlowCache(cfg(0)), Catch::Contains("capacity"));
  FlowCacheConfig z = cfg();
  z.scale = 0;
  CHECK_THROWS_WITH(FlowCache(z), Catch::Contains("scale"));
  z = cfg();
  z.inactive_timeout_ms = 0;
  CHECK_THROWS_WITH(FlowCache(z), Catch::Contains("timeouts"));
}

TEST_CASE("flow cache: many flows through a small cache keep every packet counted") {
  FlowCache c(cfg(64));
  std::vector<FlowRecord> out;
  uint64_t t = 0;
  for (int round = 0; round < 50; round++)
    for (uint16_t p = 0; p < 100; p++) c.add(tcp(p), 100, t++, &out);
  c.flush(&out);
  uint64_t packets = 0, bytes = 0;
  for (const FlowRecord& r : out) {
    packets += r.packets;
    bytes += r.bytes;
  }
  CHECK(packets == 5000);
  CHECK(bytes == 500000);
  CHECK(c.size() == 0);
}

TEST_CASE("flow cache: ingress and egress samples are different flows; egress ones per output port") {
  FlowCache c(cfg());
  std::vector<FlowRecord> out;
  FlowFields in = tcp(1);
  in.out_if = 2;
  c.add(in, 100, 1000, &out);
  in.out_if = 3;  // an ingress record's egress port is not part of its key
  c.add(in, 100, 1000, &out);
  FlowFields eg = tcp(1);
  eg.direction = kFlowEgress;
  eg.out_if = 2;
  c.add(eg, 100, 1000, &out);
  c.add(eg, 100, 1000, &out);
  eg.out_if = 3;
  c.add(eg, 100, 1000, &out);
  CHECK(c.size() == 3);
  c.flush(&out);
  REQUIRE(out.size() == 3);
  std::map<std::pair<uint8_t, uint32_t>, uint64_t> packets;
  for (const FlowRecord& r : out) packets[{r.f.direction, r.f.direction == kFlowEgress ? r.f.out_if : 0}] += r.packets;
  CHECK(packets == std::map<std::pair<uint8_t, uint32_t>, uint64_t>{{{0, 0}, 2}, {{1, 2}, 2}, {{1, 3}, 1}});
}
