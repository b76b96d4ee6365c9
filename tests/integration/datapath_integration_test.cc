// Integration tests: frames through the real datapath (EAL with --no-huge,
// PMD threads on lcores 1 and 2, RingNetdev ports), asserting what comes out
// of which port. Coverage goal: forwarding by an installed megaflow, actions
// applied on the way, misses reaching the miss ring with their key, multiple
// PMDs each polling their own queues, flow removal taking effect, and a clean
// shutdown that returns every mbuf to the pool.
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <chrono>
#include <thread>

#include "dp_rig.h"
#include "packet_builder.h"

using namespace dps;
using namespace dps::datapath;

namespace {

// n ports on a datapath whose PMDs run on `lcores`.
struct Rig : test::DpRig {
  explicit Rig(unsigned n_ports, std::vector<unsigned> lcores = {1})
      : DpRig({.n_ports = n_ports, .lcores = std::move(lcores), .port_prefix = "it"}) {}
};

std::vector<uint8_t> udp_frame(const char* dst_ip, uint16_t dport = 80) {
  return test::udp_frame({.dst_ip = dst_ip, .sport = 1234, .dport = dport});
}

}  // namespace

TEST_CASE("a megaflow forwards matching frames unchanged to its output port",
          "[integration][eal]") {
  Rig rig(3);
  REQUIRE(rig.put("in_port=1,eth_type=0x0800,nw_dst=10.1.0.0/16", "output:3", 1) == 0);
  rig.dp->start();
  auto frame = udp_frame("10.1.2.3");
  rig.inject(1, frame, 100);
  auto out = rig.collect(3, 100);
  REQUIRE(out.size() == 100);
  CHECK(out[0] == frame);
  CHECK(rig.collect(2, 1, 100).empty());
  auto st = rig.dp->flow_stats(1);
  REQUIRE(st);
  CHECK(st->packets == 100);
  CHECK(st->bytes == 100 * frame.size());
}

TEST_CASE("a miss reaches the miss ring with its key and the packet", "[integration][eal]") {
  Rig rig(2);
  REQUIRE(rig.put("in_port=1,eth_type=0x0800,nw_dst=10.1.0.0/16", "output:2", 1) == 0);
  rig.dp->start();
  rig.inject(1, udp_frame("192.168.1.1", 53));
  Upcall up[4];
  unsigned n = 0;
  for (int i = 0; i < 2000 && n == 0; i++) {
    n = rig.dp->drain_upcalls(0, up, 4);
    if (!n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(n == 1);
  CHECK(up[0].reason == UpcallReason::kMiss);
  CHECK(up[0].key.in_port == 1);
  CHECK(up[0].key.nw_dst == htonl(0xc0a80101));
  CHECK(up[0].key.tp_dst == htons(53));
  rte_pktmbuf_free(up[0].pkt);
  CHECK(rig.collect(2, 1, 100).empty());
}

TEST_CASE("actions rewrite headers on the way out", "[integration][eal]") {
  Rig rig(2);
  REQUIRE(rig.put("in_port=1,eth_type=0x0800", "set_eth_dst:02:aa:bb:cc:dd:ee,push_vlan:100,output:2",
                  7) == 0);
  rig.dp->start();
  rig.inject(1, udp_frame("10.9.9.9"));
  auto out = rig.collect(2, 1);
  REQUIRE(out.size() == 1);
  const auto& f = out[0];
  REQUIRE(f.size() == udp_frame("10.9.9.9").size() + 4);
  CHECK(f[0] == 0x02);
  CHECK(f[1] == 0xaa);
  CHECK(f[5] == 0xee);
  CHECK(f[12] == 0x81);  // 802.1Q tag
  CHECK(f[13] == 0x00);
  CHECK(((f[14] << 8 | f[15]) & 0x0fff) == 100);
  CHECK(f[16] == 0x08);  // inner ethertype IPv4
  CHECK(test::checksum_errors(f) == "");
}

TEST_CASE("output to several ports floods copies", "[integration][eal]") {
  Rig rig(4);
  REQUIRE(rig.put("in_port=1", "output:2,output:3,output:4", 1) == 0);
  rig.dp->start();
  auto frame = udp_frame("10.0.0.9");
  rig.inject(1, frame, 10);
  for (unsigned p = 2; p <= 4; p++) {
    auto out = rig.collect(p, 10);
    REQUIRE(out.size() == 10);
    CHECK(out[9] == frame);
  }
}

TEST_CASE("two PMDs each forward the queues they poll", "[integration][eal]") {
  Rig rig(4, {1, 2});
  REQUIRE(rig.dp->n_pmds() == 2);
  auto asg = rig.dp->rxq_assignment();
  REQUIRE(asg.size() == 4);
  CHECK(asg[0].pmd != asg[1].pmd);  // round-robin
  REQUIRE(rig.put("in_port=1", "output:3", 1) == 0);
  REQUIRE(rig.put("in_port=2", "output:4", 2) == 0);
  rig.dp->start();
  rig.inject(1, udp_frame("10.0.0.1"), 50);
  rig.inject(2, udp_frame("10.0.0.2"), 50);
  CHECK(rig.collect(3, 50).size() == 50);
  CHECK(rig.collect(4, 50).size() == 50);
  auto stats = rig.dp->pmd_stats();
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].counters[kRxPackets] == 50);
  CHECK(stats[1].counters[kRxPackets] == 50);
}

TEST_CASE("a deleted flow stops forwarding", "[integration][eal]") {
  Rig rig(2);
  REQUIRE(rig.put("in_port=1", "output:2", 1) == 0);
  rig.dp->start();
  rig.inject(1, udp_frame("10.0.0.1"), 5);
  REQUIRE(rig.collect(2, 5).size() == 5);
  REQUIRE(rig.dp->del_flow(1) == 0);
  rig.inject(1, udp_frame("10.0.0.1"), 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(rig.collect(2, 1, 100).empty());
  Upcall up[8];
  unsigned n = rig.dp->drain_upcalls(0, up, 8);
  CHECK(n == 5);
  for (unsigned i = 0; i < n; i++) rte_pktmbuf_free(up[i].pkt);
}

TEST_CASE("shutdown returns every mbuf to the pool", "[integration][eal]") {
  Rig rig(2, {1, 2});
  REQUIRE(rig.put("in_port=1", "output:2", 1) == 0);
  rig.dp->start();
  rig.inject(1, udp_frame("10.0.0.1"), 500);  // left in port 2's tx ring
  rig.inject(2, udp_frame("10.0.0.2"), 50);   // misses left in the miss ring
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(rig.dp->pool().in_use() > 0);
  CHECK(rig.dp->shutdown() == 0);
}

namespace {

// Ports 1 and 3 carry heavy traffic (32 frames a round), 2 and 4 light (one
// every 1024 rounds), all forwarded to the
// sinks 5 and 6, from a traffic thread that also drains the sinks. Under
// roundrobin on two PMDs both heavy queues start on PMD 0.
struct SkewRig : Rig {
  SkewRig() : Rig(6, {1, 2}) {
    RxqPolicy rr;
    rr.placement.mode = RxqAssignMode::kRoundRobin;
    dp->set_rxq_policy(rr, true);
    for (uint32_t p = 1; p <= 4; p++)
      REQUIRE(put("in_port=" + std::to_string(p), p % 2 ? "output:5" : "output:6", p) == 0);
    dp->start();
    traffic = std::thread([this] {
      const auto frame = udp_frame("10.0.0.9");
      // At most 2048 frames in flight: less than a sink's ring holds, so
      // every accepted frame has room to come out. The first port offered
      // rotates, so no heavy port takes the whole in-flight budget.
      for (unsigned round = 0; !stop.load(); round++) {
        for (unsigned j = 0; j < 4 && accepted - delivered < 2048; j++) {
          const unsigned p = 1 + (round + j) % 4;
          if (p % 2 || round % 1024 < 4) accepted += offer(p, frame, p % 2 ? 32 : 1);
        }
        delivered += drain(5, nullptr) + drain(6, nullptr);
      }
    });
  }
  ~SkewRig() override { finish(); }
  void finish() {
    if (!traffic.joinable()) return;
    stop = true;
    traffic.join();
    for (int i = 0; i < 200 && delivered < accepted; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      delivered += drain(5, nullptr) + drain(6, nullptr);
    }
  }
  unsigned pmd_of(uint32_t port) {
    for (const RxqAssignment& a : dp->rxq_assignment())
      if (a.port_no == port) return a.pmd;
    return ~0u;
  }
  std::atomic<bool> stop{false};
  uint64_t accepted = 0, delivered = 0;
  std::thread traffic;
};

}  // namespace

TEST_CASE("pmd-rxq-rebalance splits the heavy queues over the PMDs and loses no packet",
          "[integration][eal][rxq]") {
  SkewRig rig;
  REQUIRE(rig.pmd_of(1) == rig.pmd_of(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  rig.dp->end_rxq_slot();
  std::string before;
  for (const RxqAssignment& a : rig.dp->rxq_assignment())
    before += "port " + std::to_string(a.port_no) + " pmd " + std::to_string(a.pmd) + " packets " +
              std::to_string(a.packets) + " usage " + std::to_string(a.usage_pct) + "%; ";
  INFO(before);
  RxqPolicy cycles;
  cycles.placement.mode = RxqAssignMode::kCycles;
  rig.dp->set_rxq_policy(cycles, false);
  const RebalanceResult r = rig.dp->rebalance_rxqs();
  INFO(r.reason);
  CHECK(r.moved);
  CHECK(r.gain_pct >= 25);
  CHECK(rig.pmd_of(1) != rig.pmd_of(3));
  // The PMDs' loads under the new placement are within the improvement
  // threshold (25%) of each other, counted in the packets their queues
  // carry: the queues' measured cycles cannot be compared here, since the
  // test's traffic thread shares the two cores with the PMDs and the one it
  // preempts shows up to 1.5x the cycles per packet of the other. A
  // placement with both heavy queues on one PMD is at least 30:1.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  rig.dp->end_rxq_slot();
  std::vector<double> load(2, 0.0), usage(2, 0.0);
  for (const RxqAssignment& a : rig.dp->rxq_assignment()) {
    load.at(a.pmd) += static_cast<double>(a.packets);
    usage.at(a.pmd) += a.usage_pct;
  }
  INFO("PMD packets " << load[0] << " / " << load[1] << ", usage " << usage[0] << "% / " << usage[1] << "%");
  CHECK(std::abs(load[0] - load[1]) <= 0.25 * std::max(load[0], load[1]));
  rig.finish();
  CHECK(rig.accepted > 10000);
  CHECK(rig.delivered == rig.accepted);  // nothing lost across the move
}

TEST_CASE("auto load balance moves queues by itself when a PMD stays overloaded",
          "[integration][eal][rxq]") {
  SkewRig rig;
  RxqPolicy lb;
  lb.placement.mode = RxqAssignMode::kGroup;
  lb.auto_lb_load_threshold = 0;  // any busy PMD counts as overloaded here
  lb.auto_lb_interval_ms = 0;
  lb.slot_ms = 40;
  rig.dp->set_rxq_policy(lb, false);  // keep roundrobin's skewed placement for now
  REQUIRE(rig.pmd_of(1) == rig.pmd_of(3));
  // poll() closes a slot every 40 ms; after six the dry run finds the skew.
  for (int i = 0; i < 300 && rig.pmd_of(1) == rig.pmd_of(3); i++) {
    rig.dp->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(rig.pmd_of(1) != rig.pmd_of(3));
  CHECK(rig.dp->pmd_load_history().at(0).size() == RxqScheduler::kHistory);
  rig.finish();
  CHECK(rig.delivered == rig.accepted);
}

// Not in `make test` (hidden tag): the figures docs/performance.md quotes
// for PMD auto load balance, with OVS's history (six slots) at 1 s a slot.
//   build/tests/integration/integration_test "[.rxq-bench]"
TEST_CASE("auto load balance: time from skew to balance, packets lost", "[.rxq-bench]") {
  SkewRig rig;
  const auto t0 = std::chrono::steady_clock::now();
  RxqPolicy lb;
  lb.placement.mode = RxqAssignMode::kGroup;
  // The traffic thread shares two cores with both PMDs: it loads the
  // skewed PMD to about 40%, not to OVS's 95%.
  lb.auto_lb_load_threshold = 20;
  lb.slot_ms = 1000;
  lb.auto_lb_interval_ms = 0;
  rig.dp->set_rxq_policy(lb, false);
  while (rig.pmd_of(1) == rig.pmd_of(3) && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30)) {
    rig.dp->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(rig.pmd_of(1) != rig.pmd_of(3));
  const auto before = rig.dp->pmd_load_history();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  rig.dp->end_rxq_slot();
  rig.finish();
  const auto hist = rig.dp->pmd_load_history();
  std::printf("rxq-bench: skew to balance %.2f s (6 slots of 1 s); frames %llu accepted, %llu delivered, "
              "%lld lost; PMD busy before the move %.1f%% / %.1f%%, after %.1f%% / %.1f%%\n",
              secs, static_cast<unsigned long long>(rig.accepted),
              static_cast<unsigned long long>(rig.delivered),
              static_cast<long long>(rig.accepted - rig.delivered), before.at(0).back(), before.at(1).back(),
              hist.at(0).back(), hist.at(1).back());
  CHECK(rig.delivered == rig.accepted);
}
