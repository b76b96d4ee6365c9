// meter_eal_test.cc - meters on real mbufs (EAL, --no-huge): DpMeter::run
// across simulated time (injected TSC), the dscp_remark band rewriting real
// IPv4 and IPv6 headers, and a meter enforced by a running PMD on a
// megaflow's packets through Datapath::set_meter / meter_stats / del_meter.
// meter_test.cc covers the bucket arithmetic without an EAL.
#include <rte_mbuf.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "datapath.h"
#include "dp_flow_text.h"
#include "dp_rig.h"
#include "meter.h"
#include "packet_builder.h"
#include "ring_netdev.h"
#include "test_eal.h"

using namespace dps;
using namespace dps::datapath;
using dps::test::PacketBuilder;

namespace {

std::vector<uint8_t> udp4(uint8_t dscp = 0) {
  return PacketBuilder()
      .eth()
      .ipv4("10.0.0.1", "10.0.0.2", {.tos = static_cast<uint8_t>(dscp << 2)})
      .udp(1234, 80)
      .payload(18)
      .build();
}

DpMeterConfig pktps(uint32_t rate, uint32_t burst, MeterBandKind kind = MeterBandKind::kDrop,
                    uint8_t prec = 0) {
  DpMeterConfig c;
  c.pktps = true;
  c.bands.push_back(DpMeterBand{kind, prec, rate, burst});
  return c;
}

}  // namespace

TEST_CASE("a 1000 pktps meter over a second of simulated 32-packet bursts",
          "[datapath][meter][eal]") {
  test::ensure_eal();
  rte_mempool* pool = test::test_pool();
  const unsigned avail = rte_mempool_avail_count(pool);
  constexpr uint64_t kHz = 1'000'000;  // simulated TSC: 1 tick = 1 us
  DpMeter m(pktps(1000, 50), kHz, 0);
  const auto frame = udp4();
  unsigned passed = 0, offered = 0;
  // A burst every millisecond from t = 0 to 999 ms: 50 (the bucket) plus
  // 999 ms x 1 packet/ms pass.
  for (uint64_t t = 0; t < 1000; t++) {
    rte_mbuf* pkts[32];
    for (auto& p : pkts) p = test::make_mbuf(frame);
    const unsigned kept = m.run(pkts, 32, t * 1000);
    offered += 32;
    passed += kept;
    rte_pktmbuf_free_bulk(pkts, kept);  // the survivors are at the front
  }
  CHECK(passed == 50 + 999);
  const DpMeterStats s = m.stats();
  CHECK(s.packets == offered);
  CHECK(s.bytes == uint64_t{offered} * frame.size());
  CHECK(s.bands[0].packets == offered - passed);
  // Every dropped mbuf went back to the pool.
  CHECK(rte_mempool_avail_count(pool) == avail);
}

TEST_CASE("a dscp_remark band remarks real packets over its rate", "[datapath][meter][eal]") {
  test::ensure_eal();
  DpMeter m(pktps(10, 2, MeterBandKind::kDscpRemark, 1), 1'000'000, 0);
  rte_mbuf* pkts[5];
  for (auto& p : pkts) p = test::make_mbuf(udp4(10));  // AF11
  rte_mbuf* orig[5];
  std::copy(pkts, pkts + 5, orig);
  REQUIRE(m.run(pkts, 5, 0) == 5);  // remarked, not dropped
  for (int i = 0; i < 5; i++) CHECK(pkts[i] == orig[i]);  // order kept
  CHECK(test::mbuf_bytes(pkts[0]) == udp4(10));
  CHECK(test::mbuf_bytes(pkts[1]) == udp4(10));
  for (int i = 2; i < 5; i++) {
    CHECK(test::mbuf_bytes(pkts[i]) == udp4(12));  // AF12, checksum fixed
    CHECK(test::checksum_errors(test::mbuf_bytes(pkts[i])) == "");
  }
  CHECK(m.stats().bands[0].packets == 3);
  rte_pktmbuf_free_bulk(pkts, 5);

  // IPv6: the DSCP sits across the version/traffic-class/flow-label bytes.
  auto v6 = [](uint8_t tclass) {
    return PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2",
                                     {.tclass = tclass, .flow_label = 0xabcde})
        .udp(1, 2).payload(8).build();
  };
  rte_mbuf* p6 = test::make_mbuf(v6(34 << 2 | 1));  // AF41, ECN 01
  CHECK(action_remark_dscp(p6, 2));
  CHECK(test::mbuf_bytes(p6) == v6(38 << 2 | 1));   // AF43, ECN and flow label kept
  rte_pktmbuf_free(p6);
  // Not IP: untouched.
  auto arp = PacketBuilder().eth().arp(1, test::kMacA, "10.0.0.1", test::kMacB, "10.0.0.2").build();
  rte_mbuf* pa = test::make_mbuf(arp);
  CHECK_FALSE(action_remark_dscp(pa, 1));
  CHECK(test::mbuf_bytes(pa) == arp);
  rte_pktmbuf_free(pa);
}

TEST_CASE("a PMD enforces a meter on a megaflow's packets", "[datapath][meter][eal]") {
  test::ensure_eal();
  DatapathConfig cfg;
  cfg.pmd_lcores = {1};
  cfg.n_mbufs = 8192;
  cfg.max_flows_per_pmd = 64;
  Datapath dp(cfg);
  std::vector<netdev::RingNetdev*> ports = test::add_ring_ports(dp, 2, "meter");
  auto inject = [&](unsigned n) {
    const auto frame = udp4();
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = test::dp_mbuf(dp, frame);
      REQUIRE(m);
      REQUIRE(ports[0]->inject(&m, 1) == 1);
    }
  };
  // Counts what port 2 sends until nothing more comes for 100 ms.
  auto drain = [&] {
    unsigned got = 0;
    auto quiet = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (std::chrono::steady_clock::now() < quiet) {
      rte_mbuf* m[32];
      unsigned n = ports[1]->collect(m, 32);
      if (n) {
        got += n;
        rte_pktmbuf_free_bulk(m, n);
        quiet = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return got;
  };

  CHECK(dp.set_meter(kMaxMeters, pktps(1, 1)) == -EINVAL);
  CHECK(dp.set_meter(3, pktps(0, 1)) == -EINVAL);
  REQUIRE(dp.set_meter(3, pktps(1000, 64)) == 0);
  FlowSpec spec;
  parse_flow_match("in_port=1,eth_type=0x0800", &spec.key, &spec.mask);
  spec.actions = parse_dp_actions("meter:3,output:2");
  spec.ufid = 1;
  REQUIRE(dp.put_flow(spec) == 0);
  dp.start();

  // 1000 packets at once: the bucket's 64, plus 1000/s for however long the
  // PMD took to go through them (the whole test run bounds it).
  const auto t0 = std::chrono::steady_clock::now();
  inject(1000);
  const unsigned passed = drain();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(passed >= 64);
  CHECK(passed <= 64 + static_cast<unsigned>(1000 * secs) + 1);
  auto st = dp.meter_stats(3);
  REQUIRE(st);
  CHECK(st->packets == 1000);
  REQUIRE(st->bands.size() == 1);
  CHECK(st->bands[0].packets == 1000 - passed);
  CHECK(dp.flow_stats(1)->packets == 1000);

  // Modify: a new rate, counters continue, the bucket starts full.
  REQUIRE(dp.set_meter(3, pktps(1000, 500)) == 0);
  inject(200);
  CHECK(drain() == 200);
  CHECK(dp.meter_stats(3)->packets == 1200);
  CHECK(dp.meter_stats(3)->bands[0].packets == 1000 - passed);

  // Deleted: a megaflow still naming it passes everything.
  CHECK(dp.del_meter(3) == 0);
  CHECK(dp.del_meter(3) == -ENOENT);
  CHECK_FALSE(dp.meter_stats(3));
  inject(600);
  CHECK(drain() == 600);
  CHECK(dp.shutdown() == 0);  // every mbuf is back
}
