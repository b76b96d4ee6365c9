// Datapath command path: the combined install+execute command, posting past
// a full command ring (backlog, order kept, bounded for the miss path), and
// the lifetime of a DpFlow whose async install failed while later commands
// for its ufid were still queued. Coverage goal: every path by which a
// DpFlow slot goes back to its arena (failed install, remove, flush) waits
// for the last outstanding command naming it.
#include <catch2/catch.hpp>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <chrono>
#include <thread>

#include "datapath.h"
#include "dp_flow_text.h"
#include "dp_rig.h"
#include "packet_builder.h"
#include "ring_netdev.h"
#include "test_eal.h"

using namespace dps;
using namespace dps::datapath;
using dps::test::PacketBuilder;

namespace {

DatapathConfig small_config() {
  DatapathConfig cfg;
  cfg.pmd_lcores = {1};
  cfg.n_mbufs = 16384;
  cfg.max_flows_per_pmd = 32 * 1024;
  return cfg;
}

FlowSpec spec(const std::string& match, const std::string& actions, uint64_t ufid) {
  FlowSpec s;
  parse_flow_match(match, &s.key, &s.mask);
  s.actions = parse_dp_actions(actions);
  s.ufid = ufid;
  return s;
}

std::vector<uint8_t> udp_frame(const char* src_ip) {
  return PacketBuilder()
      .eth(test::mac("02:00:00:00:00:02"), test::mac("02:00:00:00:00:01"))
      .ipv4(src_ip, "10.0.0.2")
      .udp(1234, 80)
      .payload(18)
      .build();
}

}  // namespace

TEST_CASE("a failed async install keeps its flow slot until a queued modify completes",
          "[datapath][eal]") {
  test::ensure_eal();
  Datapath dp(small_config());  // PMD not started: commands wait until applied by hand
  REQUIRE(dp.put_flow(spec("in_port=1,eth_type=0x0800", "output:2", 1)) == 0);
  REQUIRE(dp.flow_slots_in_use(0) == 1);

  // Same key and mask under another ufid: the PMD refuses it (-EEXIST).
  REQUIRE(dp.post_install(0, spec("in_port=1,eth_type=0x0800", "output:3", 2)) == 0);
  dp.apply_pending(0);  // applied, completion not reaped yet
  // The control side still lists the instance, so a modify names its slot.
  REQUIRE(dp.post_modify(2, parse_dp_actions("output:4")) == 0);
  dp.poll();  // reaps the failed install; the modify is still queued

  auto failed = dp.take_failed_installs();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].ufid == 2);
  CHECK(failed[0].result == -EEXIST);
  CHECK(dp.post_remove(2) == -ENOENT);  // the ufid is forgotten...
  CHECK(dp.flow_slots_in_use(0) == 2);  // ...but its slot is not reusable yet

  dp.sync();  // the modify is applied (to an uninstalled flow) and reaped
  CHECK(dp.flow_slots_in_use(0) == 1);
  auto flows = dp.dump_flows();
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].spec.ufid == 1);
  CHECK(flows[0].spec.actions.n == 1);
  CHECK(flows[0].spec.actions.acts[0].arg32 == 2);
}

TEST_CASE("a failed async install keeps its flow slot until a queued remove completes",
          "[datapath][eal]") {
  test::ensure_eal();
  Datapath dp(small_config());
  REQUIRE(dp.put_flow(spec("in_port=1,eth_type=0x0800", "output:2", 1)) == 0);
  REQUIRE(dp.post_install(0, spec("in_port=1,eth_type=0x0800", "output:3", 2)) == 0);
  dp.apply_pending(0);
  REQUIRE(dp.post_remove(2) == 0);  // forgets ufid 2 now, the PMD later
  dp.poll();
  CHECK(dp.take_failed_installs().size() == 1);
  CHECK(dp.flow_slots_in_use(0) == 2);
  dp.sync();
  CHECK(dp.flow_slots_in_use(0) == 1);
  CHECK(dp.n_flows() == 1);
  // Slots freed this way are reused normally.
  REQUIRE(dp.put_flow(spec("in_port=2,eth_type=0x0800", "output:1", 3)) == 0);
  CHECK(dp.flow_slots_in_use(0) == 2);
  REQUIRE(dp.del_flow(3) == 0);
  CHECK(dp.flow_slots_in_use(0) == 1);
}

TEST_CASE("posting past a full command ring keeps order and never blocks", "[datapath][eal]") {
  test::ensure_eal();
  Datapath dp(small_config());
  REQUIRE(dp.put_flow(spec("in_port=1,eth_type=0x0800", "output:2", 1)) == 0);
  // Far more modifies than the ring holds, with the PMD not applying any:
  // post must return (backlog), and the last one must win.
  const unsigned n = kCommandRingSize * 3;
  for (unsigned i = 0; i < n; i++)
    REQUIRE(dp.post_modify(1, parse_dp_actions("output:" + std::to_string(2 + i % 7))) == 0);
  dp.sync();
  auto flows = dp.dump_flows();
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].spec.actions.acts[0].arg32 == 2 + (n - 1) % 7);
}

TEST_CASE("the miss path's installs fail with -EAGAIN once the backlog is full",
          "[datapath][eal]") {
  test::ensure_eal();
  Datapath dp(small_config());
  const unsigned fit = kCommandRingSize + kCommandBacklogMax;
  unsigned i = 0;
  for (; i < fit; i++) {
    FlowSpec s = spec("in_port=1,eth_type=0x0800", "output:2", 100 + i);
    s.key.nw_src = rte_cpu_to_be_32(0x0a000000u + i);
    s.mask.nw_src = 0xffffffffu;
    REQUIRE(dp.post_install(0, s) == 0);
  }
  FlowSpec s = spec("in_port=1,eth_type=0x0800", "output:2", 100 + i);
  s.key.nw_src = rte_cpu_to_be_32(0x0a000000u + i);
  s.mask.nw_src = 0xffffffffu;
  CHECK(dp.post_install(0, s) == -EAGAIN);
  dp.sync();
  CHECK(dp.n_flows() == fit);
  CHECK(dp.take_failed_installs().empty());
  // Room again once the PMD caught up.
  CHECK(dp.post_install(0, s) == 0);
  dp.sync();
  CHECK(dp.n_flows() == fit + 1);
}

TEST_CASE("install+execute forwards the first packets and installs the megaflow",
          "[datapath][eal]") {
  test::ensure_eal();
  Datapath dp(small_config());
  std::vector<netdev::RingNetdev*> ports = test::add_ring_ports(dp, 2, "dpc");
  dp.start();
  auto frame = udp_frame("10.1.0.1");
  auto mbuf = [&] {
    rte_mbuf* m = test::dp_mbuf(dp, frame);
    REQUIRE(m);
    return m;
  };
  auto collect = [&](unsigned want) {
    unsigned got = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (got < want && std::chrono::steady_clock::now() < deadline) {
      rte_mbuf* m[32];
      unsigned n = ports[1]->collect(m, 32);
      for (unsigned i = 0; i < n; i++) {
        CHECK(test::mbuf_bytes(m[i]) == frame);
        rte_pktmbuf_free(m[i]);
      }
      got += n;
      if (!n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return got;
  };

  rte_mbuf* first[3] = {mbuf(), mbuf(), mbuf()};
  REQUIRE(dp.post_install_execute(0, spec("in_port=1,eth_type=0x0800,nw_src=10.1.0.1", "output:2", 7), 1,
                                  first, 3) == 0);
  CHECK(collect(3) == 3);
  dp.sync();
  REQUIRE(dp.n_flows() == 1);
  // Later packets hit the megaflow: forwarded without reaching the slow path.
  for (int i = 0; i < 4; i++) {
    rte_mbuf* m = mbuf();
    REQUIRE(ports[0]->inject(&m, 1) == 1);
  }
  CHECK(collect(4) == 4);
  Upcall up[8];
  CHECK(dp.drain_upcalls(0, up, 8) == 0);

  // A duplicate megaflow (same key and mask, new ufid): not installed, but
  // its packets still leave by the translated actions.
  rte_mbuf* dup[2] = {mbuf(), mbuf()};
  REQUIRE(dp.post_install_execute(0, spec("in_port=1,eth_type=0x0800,nw_src=10.1.0.1", "output:2", 8), 1,
                                  dup, 2) == 0);
  CHECK(collect(2) == 2);
  dp.sync();
  auto failed = dp.take_failed_installs();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].ufid == 8);
  CHECK(dp.n_flows() == 1);
  dp.stop();
  CHECK(dp.shutdown() == 0);
}
