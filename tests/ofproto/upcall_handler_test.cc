// upcall_handler_test.cc - the miss path over a fake datapath (no EAL):
// grouping of equal keys into one translation, one install per megaflow per
// PMD (a PMD missing again while the install is in flight, different
// microflows of one megaflow), per-PMD installs, the flow limit, first
// packets executed with the translated actions, NORMAL learning on a miss,
// refused installs, and packet-ins (reason, table, cookie, in_port,
// truncation, rate limit).
#include <catch2/catch.hpp>

#include "ofproto_rig.h"
#include "packet_builder.h"

using namespace dps;
using namespace dps::ofproto;

namespace {

// Two PMDs: misses and installs are per PMD.
struct Rig : test::OfprotoRig {
  explicit Rig(OfprotoConfig cfg = {}, unsigned n_ports = 3)
      : OfprotoRig(std::move(cfg), {.n_ports = n_ports, .n_pmds = 2}) {}
};

std::vector<uint8_t> udp(const char* src_ip, const char* dst_ip, uint16_t sport = 1000,
                         const char* src_mac = "02:00:00:00:00:01",
                         const char* dst_mac = "02:00:00:00:00:02", size_t payload = 18) {
  return test::udp_frame({src_mac, dst_mac, src_ip, dst_ip, sport, 80, payload});
}

}  // namespace

TEST_CASE("equal keys are one miss: one translation, one install, all packets executed",
          "[ofproto][upcall]") {
  Rig r;
  r.rules("priority=10,ip,in_port=1,nw_dst=10.0.0.0/8,actions=output:2\npriority=0,actions=drop");
  auto f = udp("192.168.0.1", "10.1.2.3");
  for (int i = 0; i < 10; i++) r.dp->miss(0, 1, f);
  CHECK(r.ofp->run() == 10);
  auto st = r.ofp->stats();
  CHECK(st.upcall.misses == 1);
  CHECK(st.upcall.xlates == 1);
  REQUIRE(r.dp->installs.size() == 1);
  CHECK(r.dp->installs[0].pmd == 0);
  CHECK(datapath::format_actions(r.dp->installs[0].spec.actions) == "output:2");
  // The megaflow matches what the rule looked at, not the UDP ports.
  CHECK(r.dp->installs[0].spec.mask.tp_src == 0);
  CHECK(r.dp->installs[0].spec.mask.in_port == 0xffffffffu);
  REQUIRE(r.dp->execs.size() == 1);
  CHECK(r.dp->execs[0].n == 10);
  CHECK(r.dp->execs[0].in_port == 1);
  CHECK(r.dp->live() == 0);
  // First packets are counted on the rule.
  CHECK(r.ofp->dump_flows().find("n_packets=10") != std::string::npos);
}

TEST_CASE("a PMD missing again on a megaflow being installed does not install it twice",
          "[ofproto][upcall]") {
  Rig r;
  r.rules("priority=10,ip,in_port=1,nw_dst=10.0.0.0/8,actions=output:2\npriority=0,actions=drop");
  r.dp->miss(0, 1, udp("192.168.0.1", "10.1.2.3", 1000));
  r.ofp->run();
  REQUIRE(r.dp->installs.size() == 1);
  // Same microflow again, and other microflows of the same megaflow, before
  // the PMD applied the install.
  r.dp->miss(0, 1, udp("192.168.0.1", "10.1.2.3", 1000));
  r.dp->miss(0, 1, udp("192.168.0.1", "10.1.2.3", 2000));
  r.dp->miss(0, 1, udp("192.168.0.9", "10.9.9.9", 3000));
  r.ofp->run();
  CHECK(r.dp->installs.size() == 1);
  CHECK(r.ofp->stats().upcall.covered == 3);
  CHECK(r.ofp->stats().upcall.xlates == 1);  // covered misses need no translation
  CHECK(r.dp->execs.size() == 4);
  for (auto& e : r.dp->execs) CHECK(datapath::format_actions(e.actions) == "output:2");
  // A different megaflow is installed.
  r.dp->miss(0, 1, udp("192.168.0.1", "11.0.0.1"));
  r.ofp->run();
  CHECK(r.dp->installs.size() == 2);
  CHECK(r.ofp->ukeys().size() == 2);
}

TEST_CASE("each PMD gets its own megaflow", "[ofproto][upcall]") {
  Rig r;
  r.rules("priority=10,ip,actions=output:2");
  auto f = udp("192.168.0.1", "10.1.2.3");
  r.dp->miss(0, 1, f);
  r.dp->miss(1, 1, f);
  r.ofp->run();
  REQUIRE(r.dp->installs.size() == 2);
  CHECK(r.dp->installs[0].pmd != r.dp->installs[1].pmd);
  CHECK(r.dp->installs[0].spec.ufid != r.dp->installs[1].spec.ufid);
}

TEST_CASE("the flow limit refuses installs but still forwards", "[ofproto][upcall]") {
  OfprotoConfig cfg;
  cfg.flow_limit = 2;
  Rig r(cfg);
  r.rules("priority=10,ip,in_port=1,nw_src=192.168.0.0/16,actions=output:2\n"
          "priority=20,ip,in_port=1,nw_src=192.168.0.1,actions=output:3");
  // Sources whose megaflows stay apart under prefix tracking: each leaves
  // the /32 rule's prefix at a different bit (/32, /17, /18, /19, /20).
  for (const char* src : {"192.168.0.1", "192.168.128.1", "192.168.64.1", "192.168.32.1", "192.168.16.1"})
    r.dp->miss(0, 1, udp(src, "10.0.0.1"));
  r.ofp->run();
  CHECK(r.dp->installs.size() == 2);
  CHECK(r.ofp->stats().upcall.flow_limit_hits == 3);
  CHECK(r.dp->execs.size() == 5);
  CHECK(r.dp->live() == 0);
}

TEST_CASE("flow-restore-wait: misses dropped untranslated, nothing installed, until cleared",
          "[ofproto][upcall]") {
  Rig r;
  r.ofp->backer().set_flow_restore_wait(true);
  r.rules("priority=10,ip,actions=output:2");  // flow-mods are accepted meanwhile
  for (int i = 0; i < 3; i++) r.dp->miss(0, 1, udp("192.168.0.1", "10.1.2.3"));
  r.ofp->run();
  CHECK(r.dp->installs.empty());
  CHECK(r.ofp->stats().upcall.xlates == 0);
  CHECK(r.ofp->stats().upcall.restore_wait_drops == 3);
  CHECK(r.dp->execs.empty());  // dropped here, not executed
  CHECK(r.dp->live() == 0);    // and freed
  r.ofp->backer().set_flow_restore_wait(false);
  r.dp->miss(0, 1, udp("192.168.0.1", "10.1.2.3"));
  r.ofp->run();
  REQUIRE(r.dp->installs.size() == 1);
  CHECK(datapath::format_actions(r.dp->installs[0].spec.actions) == "output:2");
  CHECK(r.ofp->stats().upcall.restore_wait_drops == 3);
}

TEST_CASE("a refused install drops its ukey", "[ofproto][upcall]") {
  Rig r;
  r.rules("priority=10,ip,actions=output:2");
  r.dp->fail_installs = true;
  r.dp->miss(0, 1, udp("192.168.0.1", "10.0.0.1"));
  r.ofp->run();
  CHECK(r.ofp->ukeys().size() == 0);
  CHECK(r.ofp->stats().upcall.install_failures == 1);
  CHECK(r.dp->execs.size() == 1);  // still forwarded
  // Refused later by the PMD (async): reported through take_failed_installs.
  r.dp->fail_installs = false;
  r.dp->miss(0, 1, udp("192.168.0.1", "10.0.0.1"));
  r.ofp->run();
  REQUIRE(r.ofp->ukeys().size() == 1);
  uint64_t ufid = r.dp->installs.back().spec.ufid;
  r.dp->failed.push_back({ufid, 0, -EEXIST});
  r.ofp->run();
  CHECK(r.ofp->ukeys().size() == 0);
}

TEST_CASE("NORMAL learns on a miss, floods unknown destinations, then forwards unicast",
          "[ofproto][upcall][normal]") {
  Rig r;
  r.rules("priority=0,actions=NORMAL");
  const char* A = "02:00:00:00:00:0a";
  const char* B = "02:00:00:00:00:0b";
  r.dp->miss(0, 1, udp("10.0.0.1", "10.0.0.2", 1, A, B));
  r.ofp->run();
  REQUIRE(r.dp->execs.size() == 1);
  CHECK(datapath::format_actions(r.dp->execs[0].actions) == "output:2,output:3");
  CHECK(r.ofp->fdb_show().find("02:00:00:00:00:0a") != std::string::npos);
  // B answers from port 2: unicast to port 1, and the A->B megaflow (which
  // flooded because B was unknown) is re-translated to unicast.
  r.dp->miss(0, 2, udp("10.0.0.2", "10.0.0.1", 1, B, A));
  r.ofp->run();
  REQUIRE(r.dp->execs.size() == 2);
  CHECK(datapath::format_actions(r.dp->execs[1].actions) == "output:1");
  uint64_t ab = r.dp->installs[0].spec.ufid;
  CHECK(datapath::format_actions(r.dp->flows[ab].spec.actions) == "output:2");
  CHECK(r.ofp->stats().mac_entries == 2);
}

TEST_CASE("controller actions become rate-limited packet-ins with reason, table and cookie",
          "[ofproto][upcall][controller]") {
  Rig r(test::packet_in_limit(10, 3));
  r.rules("table=0,priority=5,ip,actions=goto_table:3\n"
          "table=3,priority=7,cookie=0xabc,ip,actions=CONTROLLER:20");
  auto f = udp("10.0.0.1", "10.0.0.2", 5, "02:00:00:00:00:01", "02:00:00:00:00:02", 40);
  r.miss_to_controller(2, f);  // the first packet-in
  REQUIRE(r.dp->execs.size() == 1);
  REQUIRE(r.dp->execs[0].actions.n == 1);  // the controller action alone
  // The PMD hands more packets up with the action's cookie: past the burst.
  REQUIRE(r.dp->hand_up(0, 0, 2, f, 4));
  r.ofp->run();
  auto pins = r.ofp->take_packet_ins(100);
  REQUIRE(pins.size() == 3);  // burst of 3, then the rate limit
  CHECK(pins[0].reason == PacketInReason::kAction);
  CHECK(pins[0].table_id == 3);
  CHECK(pins[0].cookie == 0xabc);
  CHECK(pins[0].in_port == 2);
  CHECK(pins[0].total_len == f.size());
  CHECK(pins[0].max_len == 20);          // the channel cuts and buffers
  CHECK(pins[0].data.size() == f.size());  // the whole frame
  CHECK(std::equal(pins[0].data.begin(), pins[0].data.end(), f.begin()));
  CHECK(r.ofp->stats().upcall.packet_ins_rate_dropped == 2);
  CHECK(r.dp->live() == 0);
  // Tokens come back with time.
  r.now += 1000;
  REQUIRE(r.dp->hand_up(0, 0, 2, f));
  r.ofp->run();
  CHECK(r.ofp->take_packet_ins(100).size() == 1);
}

TEST_CASE("a table miss to the controller is a packet-in with reason no_match",
          "[ofproto][upcall][controller]") {
  Rig r;
  r.ofp->bridge().pipeline.table(0).miss = TableMiss::kController;
  auto f = udp("10.0.0.1", "10.0.0.2");
  r.dp->miss(1, 1, f);
  r.ofp->run();
  REQUIRE(r.dp->execs.size() == 1);
  uint32_t cookie = r.dp->execs[0].actions.acts[0].arg32;
  r.dp->userspace(1, 1, f, cookie);
  r.ofp->run();
  auto pins = r.ofp->take_packet_ins(10);
  REQUIRE(pins.size() == 1);
  CHECK(pins[0].reason == PacketInReason::kNoMatch);
  CHECK(pins[0].data.size() == f.size());
}
