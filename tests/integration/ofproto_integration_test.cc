// Integration tests of the OpenFlow pipeline over the real datapath (EAL
// with --no-huge, PMD threads on lcores 1 and 2, RingNetdev ports): the
// miss path translating and installing megaflows and forwarding first
// packets, NORMAL learning between three ports (flooding, then unicast, fdb
// entries), a multi-table pipeline with header rewrites, a rule change under
// traffic (no packet leaves by the old actions once flow_mod returned, and
// none is lost), idle expiry of megaflows, a miss storm that must not
// cost an established flow a single packet (misses are dropped and counted
// at the miss ring instead), and packet-outs sampled by the PMD (the
// bridge's sFlow sampler, a sample() action in the packet-out), and
// fragmented datagrams through the conntrack tutorial's firewall (held,
// reassembled, tracked, sent on as the same fragments in order).
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "dp_backer.h"
#include "dp_rig.h"
#include "ip_fragment.h"
#include "ofproto.h"
#include "packet_builder.h"

using namespace dps;
using namespace dps::datapath;
using dps::ofproto::Ofproto;
using dps::ofproto::OfprotoConfig;
using dps::ofproto::MaybeError;
using Clock = std::chrono::steady_clock;

namespace {

// An Ofproto over the rig's datapath, running on the test thread: pump()
// runs the slow path and collects what the ports sent.
struct OfRig : test::DpRig {
  std::unique_ptr<Ofproto> ofp;
  // Frames collected per port number (kept when keep_frames), and counts.
  std::vector<std::vector<test::Frame>> frames;
  std::vector<uint64_t> count;
  bool keep_frames = true;

  OfRig(unsigned n_ports, std::vector<unsigned> lcores, OfprotoConfig cfg = {},
        const char* rules = nullptr)
      // Deep rings: the test thread also runs the slow path and may drain late.
      : DpRig({.n_ports = n_ports, .lcores = std::move(lcores), .n_mbufs = 32768,
               .max_flows_per_pmd = 65536, .ring_size = 65536, .port_prefix = "of"}),
        frames(n_ports + 1),
        count(n_ports + 1, 0) {
    ofp = std::make_unique<Ofproto>(*dp, cfg);
    if (rules) {
      auto e = ofp->add_flows(rules);
      INFO((e ? e->message : ""));
      REQUIRE_FALSE(e);
    } else {
      ofp->install_default_normal();
    }
    dp->start();
  }
  ~OfRig() override {
    dp->stop();
    drain();
    ofp.reset();
    dp->shutdown();
  }

  void drain() {
    for (unsigned p = 1; p < frames.size(); p++)
      count[p] += DpRig::drain(p, keep_frames ? &frames[p] : nullptr);
  }
  // Runs the ofproto loop (and collects outputs) for ms milliseconds, or
  // until done() holds.
  template <class Pred>
  bool pump_until(Pred done, int ms) {
    auto end = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < end) {
      unsigned w = ofp->run();
      drain();
      if (done()) return true;
      if (!w) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return done();
  }
  void pump(int ms) {
    pump_until([] { return false; }, ms);
  }
  uint64_t tx(unsigned port_no) { return port(port_no).stats().tx_packets; }
  void clear() {
    for (auto& f : frames) f.clear();
    std::fill(count.begin(), count.end(), 0);
  }
};

std::vector<uint8_t> frame(const char* src_mac, const char* dst_mac, const char* src_ip,
                           const char* dst_ip, uint16_t sport = 1000) {
  return test::udp_frame({src_mac, dst_mac, src_ip, dst_ip, sport, 80});
}

const char* kA = "02:00:00:00:00:0a";
const char* kB = "02:00:00:00:00:0b";
const char* kC = "02:00:00:00:00:0c";

}  // namespace

TEST_CASE("NORMAL: flooding, learning, then unicast between three ports",
          "[integration][eal][ofproto]") {
  OfRig r(3, {1, 2});
  auto ab = frame(kA, kB, "10.0.0.1", "10.0.0.2");
  auto ba = frame(kB, kA, "10.0.0.2", "10.0.0.1");
  // A -> B, B unknown: flooded to 2 and 3, not back to 1.
  r.inject(1, ab);
  REQUIRE(r.pump_until([&] { return r.count[2] == 1 && r.count[3] == 1; }, 2000));
  CHECK(r.frames[2][0] == ab);
  CHECK(r.frames[3][0] == ab);
  // B -> A: A was learned on port 1: unicast.
  r.inject(2, ba);
  REQUIRE(r.pump_until([&] { return r.count[1] == 1; }, 2000));
  CHECK(r.frames[1][0] == ba);
  r.pump(50);
  CHECK(r.count[3] == 1);  // nothing more flooded
  // A -> B again: B is known now; its megaflow was re-translated to unicast.
  r.clear();
  r.inject(1, ab, 20);
  REQUIRE(r.pump_until([&] { return r.count[2] == 20; }, 2000));
  r.pump(50);
  CHECK(r.count[3] == 0);
  CHECK(r.count[1] == 0);
  std::string fdb = r.ofp->fdb_show();
  INFO(fdb);
  CHECK(fdb.find(kA) != std::string::npos);
  CHECK(fdb.find(kB) != std::string::npos);
  CHECK(r.ofp->stats().mac_entries == 2);
  // C behind port 3 answers A: A's entry stays on port 1.
  r.clear();
  r.inject(3, frame(kC, kA, "10.0.0.3", "10.0.0.1"));
  REQUIRE(r.pump_until([&] { return r.count[1] == 1; }, 2000));
  CHECK(r.count[2] == 0);
}

TEST_CASE("a multi-table pipeline rewrites headers and outputs by table 1",
          "[integration][eal][ofproto]") {
  OfRig r(3, {1, 2}, {},
          "table=0,priority=10,ip,in_port=1,actions=set_field:02:aa:bb:cc:dd:ee->eth_dst,goto_table:1\n"
          "table=0,priority=0,actions=drop\n"
          "table=1,priority=20,ip,nw_dst=10.1.0.0/16,actions=output:3\n"
          "table=1,priority=10,ip,actions=set_field:10.99.0.1->ipv4_dst,output:2\n");
  r.inject(1, frame(kA, kB, "10.0.0.1", "10.1.2.3"), 5);
  r.inject(1, frame(kA, kB, "10.0.0.1", "10.2.0.1"), 7);
  r.inject(2, frame(kA, kB, "10.0.0.1", "10.1.2.3"), 3);  // table 0 drops
  REQUIRE(r.pump_until([&] { return r.count[3] == 5 && r.count[2] == 7; }, 2000));
  r.pump(50);
  CHECK(r.count[1] == 0);
  CHECK(r.count[2] == 7);
  const auto& f3 = r.frames[3][0];
  CHECK(f3[0] == 0x02);
  CHECK(f3[1] == 0xaa);
  CHECK(f3[5] == 0xee);
  const auto& f2 = r.frames[2][6];
  CHECK(f2[1] == 0xaa);
  CHECK(f2[30] == 10);  // ipv4 dst 10.99.0.1
  CHECK(f2[31] == 99);
  CHECK(f2[33] == 1);
  CHECK(test::checksum_errors(f2) == "");
  // Port 2's packets are dropped by table 0: nothing to wait for on a port,
  // so wait for the rule's counter (the second PMD may lag on a busy host).
  std::string flows;
  r.pump_until([&] { return (flows = r.ofp->dump_flows()).find("n_packets=3, n_bytes") != std::string::npos; },
               2000);
  INFO(flows);
  CHECK(flows.find("n_packets=5, n_bytes") != std::string::npos);  // table 1 /16 rule
  CHECK(flows.find("n_packets=3, n_bytes") != std::string::npos);  // table-0 drop rule
  CHECK(flows.find("n_packets=12, n_bytes") != std::string::npos); // table-0 in_port=1 rule
}

TEST_CASE("a rule change under traffic: no packet by the old actions once flow_mod returns",
          "[integration][eal][ofproto]") {
  OfRig r(3, {1, 2}, {}, "priority=10,ip,in_port=1,actions=output:2\npriority=0,actions=drop\n");
  r.keep_frames = false;
  std::atomic<uint64_t> injected{0};
  auto f = frame(kA, kB, "10.0.0.1", "10.0.0.2");
  // (A jthread: a failed REQUIRE below stops and joins it instead of
  // terminating the test run.)
  std::jthread inj([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      injected += r.offer(1, f, 16);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  for (int round = 0; round < 5; round++) {
    unsigned from = round % 2 ? 3 : 2, to = round % 2 ? 2 : 3;
    r.pump(100);
    // Traffic leaves by the current rule (the first install may lag on a busy host).
    REQUIRE(r.pump_until([&] { return r.tx(from) > 0; }, 5000));
    uint64_t before_to = r.tx(to);
    auto e = r.ofp->mod_flows("ip,in_port=1,actions=output:" + std::to_string(to));
    REQUIRE_FALSE(e);
    uint64_t at_return = r.tx(from);
    r.pump(100);
    INFO("round " << round);
    CHECK(r.tx(from) == at_return);  // nothing left by the old actions after the return
    CHECK(r.pump_until([&] { return r.tx(to) > before_to; }, 5000));
  }
  inj.request_stop();
  inj.join();
  r.pump(100);
  // Nothing lost: every injected packet left by port 2 or 3.
  r.pump_until([&] { return r.count[2] + r.count[3] == injected.load(); }, 5000);
  CHECK(r.count[2] + r.count[3] == injected.load());
  CHECK(r.ports[1]->stats().tx_dropped + r.ports[2]->stats().tx_dropped == 0);
  CHECK(r.ofp->stats().revalidator.modified >= 5);
}

TEST_CASE("idle megaflows expire", "[integration][eal][ofproto]") {
  OfprotoConfig cfg;
  cfg.flow_idle_ms = 200;
  OfRig r(2, {1}, cfg, "priority=10,ip,actions=output:2\n");
  r.inject(1, frame(kA, kB, "10.0.0.1", "10.0.0.2"));
  r.inject(1, frame(kA, kB, "10.0.0.1", "10.0.0.3"));
  REQUIRE(r.pump_until([&] { return r.count[2] == 2; }, 2000));
  CHECK(r.ofp->ukeys().size() == 1);  // one megaflow (the rule looks at eth_type only)
  CHECK(r.dp->n_flows() == 1);
  // Traffic keeps it alive ...
  for (int i = 0; i < 6; i++) {
    r.inject(1, frame(kA, kB, "10.0.0.1", "10.0.0.2"));
    r.pump(60);
  }
  CHECK(r.ofp->ukeys().size() == 1);
  // ... idleness removes it.
  REQUIRE(r.pump_until([&] { return r.ofp->ukeys().size() == 0; }, 2000));
  r.dp->sync();  // the removal is async: wait until the PMD applied it
  CHECK(r.dp->n_flows() == 0);
  // The PMD publishes its flow count just after completing the batch.
  CHECK(r.pump_until([&] { return r.dp->pmd_stats()[0].flows == 0; }, 1000));
  CHECK(r.ofp->stats().revalidator.idle_expired == 1);
  CHECK(r.ofp->dump_flows().find("n_packets=8,") != std::string::npos);
}

TEST_CASE("a miss storm does not cost an established flow a packet",
          "[integration][eal][ofproto]") {
  // Port 3's packets look up a rule exact on nw_src: every distinct source
  // is a new megaflow. (The rule's nw_dst prefix, which the storm matches,
  // makes prefix tracking consult nw_dst, so the probe and its full mask
  // stay.) Port 1's flow is established first. One PMD polls both.
  OfRig r(3, {1}, {},
          "priority=100,ip,in_port=1,nw_dst=10.1.0.0/16,actions=output:2\n"
          "priority=200,ip,in_port=3,nw_src=172.16.0.1,nw_dst=10.1.0.0/31,actions=output:2\n"
          "priority=50,ip,in_port=3,actions=drop\n"
          "priority=0,actions=drop\n");
  r.keep_frames = false;
  auto est = frame(kA, kB, "10.0.0.1", "10.1.0.1");
  r.inject(1, est);
  REQUIRE(r.pump_until([&] { return r.count[2] == 1; }, 2000));
  constexpr unsigned kEstablished = 20000, kStorm = 60000;
  std::atomic<bool> est_done{false}, storm_done{false};
  std::jthread t_est([&] {
    for (unsigned sent = 0; sent < kEstablished;) {
      sent += r.offer(1, est, std::min(8u, kEstablished - sent));
      std::this_thread::sleep_for(std::chrono::microseconds(10));
    }
    est_done = true;
  });
  std::jthread t_storm([&] {
    for (unsigned i = 0; i < kStorm;) {
      rte_mbuf* m[32];
      unsigned k = 0;
      for (; k < 32 && i + k < kStorm; k++) {
        uint32_t src = 0xac140000u + i + k;  // 172.20.0.0 + i
        char ip[20];
        std::snprintf(ip, sizeof ip, "%u.%u.%u.%u", src >> 24, (src >> 16) & 255, (src >> 8) & 255,
                      src & 255);
        m[k] = r.mbuf(frame(kC, kB, ip, "10.1.0.1"));
        if (!m[k]) break;
      }
      unsigned done = r.ports[2]->inject(m, k);
      for (unsigned j = done; j < k; j++) rte_pktmbuf_free(m[j]);
      i += done;
      if (done < k) std::this_thread::yield();
    }
    storm_done = true;
  });
  r.pump_until([&] { return est_done.load() && storm_done.load(); }, 30000);
  t_est.join();
  t_storm.join();
  r.pump(300);
  auto st = r.dp->pmd_stats()[0];
  uint64_t lost = st.counters[kLostUpcalls];
  INFO("storm upcalls " << st.counters[kUpcalls] << ", lost at the miss ring " << lost
                        << ", ofproto installs " << r.ofp->stats().upcall.installs
                        << ", port 2 tx " << r.tx(2) << " dropped "
                        << r.ports[1]->stats().tx_dropped << ", dropped by actions "
                        << st.counters[kDropped] << ", rx port1 " << r.ports[0]->stats().rx_packets);
  CHECK(r.count[2] == kEstablished + 1);  // every established packet, none of the storm
  CHECK(r.count[1] == 0);
  CHECK(st.counters[kUpcalls] + lost >= kStorm);  // every storm packet missed
  CHECK(r.ofp->stats().upcall.installs > 1000);
}

namespace {

// The IPv4/UDP payload every MPLS case carries, under `outer` (the layers
// above it, built by the test). Each expected frame is built the same way,
// independently of the datapath.
std::vector<uint8_t> mpls_case(const std::function<void(test::PacketBuilder&)>& outer,
                               const char* dst, test::Ipv4Opts ip = {}) {
  test::PacketBuilder b;
  b.eth(test::mac(kB), test::mac(kA));
  outer(b);
  return b.ipv4("10.9.9.9", dst, ip).udp(1000, 80).payload(20).build();
}

// One frame through the pipeline: `in` injected on port 1 three times (the
// first misses, the others hit the megaflow), `out` expected on `port`.
struct FrameCase {
  const char* what;
  std::vector<uint8_t> in, out;
  unsigned port;
};

// Runs each case, checks every output byte for byte and its checksums;
// returns the first output of each.
std::vector<std::vector<uint8_t>> run_frame_cases(OfRig& r, const std::vector<FrameCase>& cases) {
  std::vector<std::vector<uint8_t>> outputs;
  for (const FrameCase& c : cases) {
    INFO(c.what);
    r.clear();
    r.inject(1, c.in, 3);
    REQUIRE(r.pump_until([&] { return r.count[c.port] == 3; }, 2000));
    for (const auto& f : r.frames[c.port]) CHECK(f == c.out);
    CHECK(test::checksum_errors(r.frames[c.port][0]) == "");
    outputs.push_back(r.frames[c.port][0]);
  }
  return outputs;
}

// tshark's verdict on frames (a pcap it reads): the lines of its
// malformed/warning filter (none expected) and the fields asked for, one
// line per frame.
std::string tshark(const std::vector<std::vector<uint8_t>>& frames, const std::string& args) {
  char path[] = "/tmp/dps-mpls-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  FILE* f = fdopen(fd, "wb");
  const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};  // pcap, Ethernet
  std::fwrite(hdr, sizeof hdr, 1, f);
  for (const auto& fr : frames) {
    const uint32_t rec[4] = {0, 0, static_cast<uint32_t>(fr.size()), static_cast<uint32_t>(fr.size())};
    std::fwrite(rec, sizeof rec, 1, f);
    std::fwrite(fr.data(), fr.size(), 1, f);
  }
  std::fclose(f);
  std::string out;
  const std::string cmd = "tshark -n -r " + std::string(path) + " " + args + " 2>/dev/null";
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  std::remove(path);
  return out;
}

}  // namespace

TEST_CASE("MPLS push, pop, TTL and set_field through the pipeline, byte for byte",
          "[integration][eal][ofproto][mpls]") {
  using test::PacketBuilder;
  OfRig r(3, {1}, {},
          "priority=10,ip,nw_dst=10.0.0.1,actions=push_mpls:0x8847,set_field:100->mpls_label,output:2\n"
          "priority=10,ip,nw_dst=10.0.0.3,actions=push_mpls:0x8847,set_mpls_ttl:1,copy_ttl_out,"
          "push_mpls:0x8847,set_field:7->mpls_label,set_field:5->mpls_tc,output:2\n"
          "priority=10,ip,nw_dst=10.0.0.9,actions=push_vlan:0x88a8,set_field:4101->vlan_vid,output:2\n"
          "priority=10,mpls,mpls_label=200,actions=push_mpls:0x8847,set_field:300->mpls_label,"
          "dec_mpls_ttl,output:2\n"
          "priority=10,mpls,mpls_label=500,mpls_bos=0,actions=pop_mpls:0x8847,output:2\n"
          "priority=10,mpls,mpls_label=600,mpls_bos=1,actions=copy_ttl_in,pop_mpls:0x0800,goto_table:1\n"
          "priority=10,mpls,mpls_label=700,actions=dec_mpls_ttl,set_field:6->mpls_tc,output:2\n"
          "priority=0,actions=drop\n"
          "table=1,priority=10,ip,nw_dst=10.7.0.1,actions=dec_ttl,output:3\n"
          "table=1,priority=0,actions=drop\n");
  auto none = [](PacketBuilder&) {};
  const std::vector<FrameCase> cases = {
      {"push onto IPv4: TTL from IP, TC from the DSCP",
       mpls_case(none, "10.0.0.1", {.tos = 0x28, .ttl = 20}),
       mpls_case([](PacketBuilder& b) { b.mpls(100, 2, true, 20); }, "10.0.0.1", {.tos = 0x28, .ttl = 20}), 2},
      {"push onto a tagged IPv4 frame: after the tag",
       mpls_case([](PacketBuilder& b) { b.vlan(10); }, "10.0.0.1", {.ttl = 20}),
       mpls_case([](PacketBuilder& b) { b.vlan(10).mpls(100, 0, true, 20); }, "10.0.0.1", {.ttl = 20}), 2},
      {"two pushes, copy_ttl_out from IP",
       mpls_case(none, "10.0.0.3", {.ttl = 33}),
       mpls_case([](PacketBuilder& b) { b.mpls(7, 5, false, 33).mpls(0, 0, true, 33); }, "10.0.0.3",
                 {.ttl = 33}), 2},
      {"QinQ: push_vlan:0x88a8 over a C-tag",
       mpls_case([](PacketBuilder& b) { b.vlan(10); }, "10.0.0.9"),
       mpls_case([](PacketBuilder& b) { b.vlan(5, 0x88a8).vlan(10); }, "10.0.0.9"), 2},
      {"push onto a label: copies it, BOS clear; dec_mpls_ttl on the new top",
       mpls_case([](PacketBuilder& b) { b.mpls(200, 3, true, 9); }, "10.0.0.1"),
       mpls_case([](PacketBuilder& b) { b.mpls(300, 3, false, 8).mpls(200, 3, true, 9); }, "10.0.0.1"), 2},
      {"match the top of a stack, pop to the next label",
       mpls_case([](PacketBuilder& b) { b.mpls(500, 1, false, 30).mpls(600, 0, true, 40); }, "10.0.0.1"),
       mpls_case([](PacketBuilder& b) { b.mpls(600, 0, true, 40); }, "10.0.0.1"), 2},
      {"copy_ttl_in, pop to IPv4, recirculated: table 1 matches the inner header",
       mpls_case([](PacketBuilder& b) { b.mpls(600, 0, true, 40); }, "10.7.0.1"),
       mpls_case(none, "10.7.0.1", {.ttl = 39}), 3},
      {"dec_mpls_ttl and set_field mpls_tc",
       mpls_case([](PacketBuilder& b) { b.mpls(700, 0, true, 2); }, "10.0.0.1"),
       mpls_case([](PacketBuilder& b) { b.mpls(700, 6, true, 1); }, "10.0.0.1"), 2},
  };
  const std::vector<std::vector<uint8_t>> outputs = run_frame_cases(r, cases);
  // Wireshark's dissectors (not ours) read every output: nothing malformed,
  // and the label stacks and TTLs as built.
  CHECK(tshark(outputs, "-Y '_ws.malformed || _ws.expert.severity >= \"Warning\"'") == "");
  CHECK(tshark(outputs, "-T fields -e mpls.label -e mpls.ttl -e ip.ttl") ==
        "100\t20\t20\n100\t20\t20\n7,0\t33,33\t33\n\t\t64\n300,200\t8,9\t64\n600\t40\t64\n"
        "\t\t39\n700\t1\t64\n");
  // An expiring MPLS TTL: to the controller (none here), never out.
  r.clear();
  r.inject(1, mpls_case([](PacketBuilder& b) { b.mpls(700, 0, true, 1); }, "10.0.0.1"), 2);
  r.pump(100);
  CHECK(r.count[2] == 0);
  CHECK(r.count[3] == 0);
}

TEST_CASE("a packet-out is sampled by the bridge's sFlow sampler and its own sample() action",
          "[integration][eal][ofproto][sample]") {
  OfRig r(3, {1}, {}, "priority=0,actions=drop");
  ofproto::BridgeSampling s;
  s.sflow = {1, 3, 0, 0};       // every packet
  s.flow_sets = {{9, 4}};       // collector set 9 -> slot 4
  r.ofp->set_sampling(s);
  const auto f = frame(kA, kB, "10.0.0.1", "10.0.0.2");
  // From the controller, to port 2; from port 1, to port 3 through a sample().
  REQUIRE_FALSE(r.ofp->packet_out(ofproto::kPortController, f, {ofproto::ActOutput{2}}));
  REQUIRE_FALSE(r.ofp->packet_out(1, f,
                                  {ofproto::ActSample{.probability = 65535, .collector_set_id = 9,
                                                      .obs_domain_id = 5, .obs_point_id = 6},
                                   ofproto::ActOutput{3}}));
  std::vector<ofproto::SampleEvent> ev;
  r.pump_until(
      [&] {
        for (auto& e : r.ofp->backer().handler().take_samples()) ev.push_back(std::move(e));
        return ev.size() >= 3 && r.count[2] == 1 && r.count[3] == 1;
      },
      3000);
  CHECK(r.count[2] == 1);
  CHECK(r.count[3] == 1);
  REQUIRE(ev.size() == 3);
  // The PMD executed them in order: the sFlow sample of the first, then
  // the second's sFlow sample and its sample().
  CHECK(ev[0].slot == 3);
  CHECK(ev[0].cookie.kind == SampleKind::kSflow);
  CHECK(ev[0].in_port == 0);  // CONTROLLER: no input port
  CHECK(ev[0].cookie.out == 2);
  CHECK(ev[0].frame_len == f.size());
  CHECK(ev[0].header == std::vector<uint8_t>(f.begin(), f.begin() + std::min<size_t>(f.size(), ofproto::kSampleHeaderMax)));
  CHECK(ev[1].slot == 3);
  CHECK(ev[1].in_port == 1);
  CHECK(ev[1].cookie.out == 3);
  CHECK(ev[2].slot == 4);
  CHECK(ev[2].cookie.kind == SampleKind::kIpfixFlow);
  CHECK(ev[2].in_port == 1);
  CHECK(ev[2].cookie.out == 3);
  CHECK(ev[2].cookie.obs_domain == 5);
  CHECK(ev[2].cookie.obs_point == 6);
  CHECK(r.dp->sample_counters(3).sampled == 2);
  CHECK(r.dp->sample_counters(4).sampled == 1);
}

namespace {

// An IPv4/UDP frame (to dst, TTL ttl) under `layers` (everything from the
// outer Ethernet header on, built by the test). Each expected frame is
// built the same way, independently of the datapath.
std::vector<uint8_t> pbb_case(const std::function<void(test::PacketBuilder&)>& layers, const char* dst,
                              uint8_t ttl = 64) {
  test::PacketBuilder b;
  layers(b);
  return b.ipv4("10.9.9.9", dst, {.ttl = ttl}).udp(1000, 80).payload(20).build();
}

}  // namespace

TEST_CASE("PBB push, pop and set_field pbb_isid through the pipeline, byte for byte",
          "[integration][eal][ofproto][pbb]") {
  using test::PacketBuilder;
  using test::mac;
  OfRig r(3, {1}, {},
          "priority=10,ip,nw_dst=10.0.0.1,actions=push_pbb:0x88e7,set_field:0x123456->pbb_isid,"
          "set_field:02:00:00:00:bb:01->eth_dst,set_field:02:00:00:00:bb:02->eth_src,"
          "push_vlan:0x88a8,set_field:4196->vlan_vid,output:2\n"
          "priority=10,ip,nw_dst=10.0.0.2,actions=push_pbb:0x88e7,set_field:7->pbb_isid,output:2\n"
          "priority=10,eth_type=0x88e7,pbb_isid=0x123456,actions=pop_pbb,output:3\n"
          "priority=10,eth_type=0x88e7,pbb_isid=0x42,actions=pop_pbb,goto_table:1\n"
          "priority=10,eth_type=0x88e7,pbb_isid=0x99,actions=set_field:0x77->pbb_isid,output:2\n"
          "priority=0,actions=drop\n"
          "table=1,priority=10,ip,nw_dst=10.7.0.1,actions=dec_ttl,output:3\n"
          "table=1,priority=0,actions=drop\n");
  const char* kBda = "02:00:00:00:bb:01";
  const char* kBsa = "02:00:00:00:bb:02";
  const auto cust = [](PacketBuilder& b) { b.eth(mac(kB), mac(kA)); };
  const std::vector<FrameCase> cases = {
      {"push: I-TAG with its I-SID, B-DA/B-SA and a B-TAG (0x88a8) in front",
       pbb_case(cust, "10.0.0.1"),
       pbb_case([&](PacketBuilder& b) {
         b.eth(mac(kBda), mac(kBsa)).vlan(100, 0x88a8).pbb(0x123456, mac(kB), mac(kA));
       }, "10.0.0.1"), 2},
      {"push onto a tagged frame: I-PCP from the PCP, the C-tag stays in the customer frame",
       pbb_case([](PacketBuilder& b) { b.eth(mac(kB), mac(kA)).vlan(3 << 13 | 10); }, "10.0.0.2"),
       pbb_case([](PacketBuilder& b) {
         b.eth(mac(kB), mac(kA)).pbb(7, mac(kB), mac(kA), 3).vlan(3 << 13 | 10);
       }, "10.0.0.2"), 2},
      {"pop: the backbone header and its B-TAG go",
       pbb_case([&](PacketBuilder& b) {
         b.eth(mac(kBda), mac(kBsa)).vlan(100, 0x88a8).pbb(0x123456, mac(kB), mac(kA), 5);
       }, "10.0.0.1"),
       pbb_case(cust, "10.0.0.1"), 3},
      {"pop, recirculated: table 1 matches the customer frame's IPv4 header",
       pbb_case([&](PacketBuilder& b) { b.eth(mac(kBda), mac(kBsa)).pbb(0x42, mac(kB), mac(kA)); }, "10.7.0.1"),
       pbb_case(cust, "10.7.0.1", 63), 3},
      {"set_field pbb_isid on a PBB frame in transit",
       pbb_case([&](PacketBuilder& b) { b.eth(mac(kBda), mac(kBsa)).pbb(0x99, mac(kB), mac(kA), 2, true); },
                "10.0.0.5"),
       pbb_case([&](PacketBuilder& b) { b.eth(mac(kBda), mac(kBsa)).pbb(0x77, mac(kB), mac(kA), 2, true); },
                "10.0.0.5"), 2},
  };
  // (Checksums: the customer frame's, behind the I-TAG.)
  const std::vector<std::vector<uint8_t>> outputs = run_frame_cases(r, cases);
  // Wireshark's 802.1ah dissector (not ours) reads every output: nothing
  // malformed, the I-SIDs and customer TTLs as built.
  CHECK(tshark(outputs, "-Y '_ws.malformed || _ws.expert.severity >= \"Warning\"'") == "");
  CHECK(tshark(outputs, "-T fields -e ieee8021ah.isid -e ip.ttl") ==
        "1193046\t64\n7\t64\n\t64\n\t63\n119\t64\n");
  // The pop case's frame with an I-SID no rule matches, differing from the
  // matched one only in bit 20 (above an IPv6 flow label's 20 bits): the
  // pop case's megaflow pins all 24, so nothing leaves.
  r.clear();
  r.inject(1, pbb_case([&](PacketBuilder& b) {
             b.eth(mac(kBda), mac(kBsa)).vlan(100, 0x88a8).pbb(0x023456, mac(kB), mac(kA), 5);
           }, "10.0.0.1"), 2);
  r.pump(100);
  CHECK(r.count[2] + r.count[3] == 0);
}

// The recirculations pop_mpls needs (xlate.cc, freezing): the second pass
// resumes with what the first froze. Each output is compared with a frame
// built independently.
TEST_CASE("MPLS recirculations resume the frozen translation, byte for byte",
          "[integration][eal][ofproto][mpls]") {
  using test::PacketBuilder;
  OfRig r(3, {1}, {}, "priority=0,actions=drop\n");
  auto add_group = [&](const char* g) {
    MaybeError e = r.ofp->add_group(g);
    INFO((e ? e->message : ""));
    REQUIRE_FALSE(e);
  };
  add_group("group_id=1,type=all,bucket=set_field:10.1.1.1->ip_dst,output:2,bucket=output:3");
  add_group("group_id=2,type=indirect,bucket=push_mpls:0x8847,set_field:99->mpls_label,output:2");
  MaybeError e = r.ofp->add_flows(
      // The action set, metadata and a register cross the recirculation.
      "priority=10,mpls,mpls_label=600,actions=pop_mpls:0x0800,load:7->NXM_NX_REG0[],"
      "write_actions(output:3),write_metadata:0x5/0xff,goto_table:1\n"
      "table=1,priority=10,metadata=0x5/0xff,reg0=7,ip,nw_dst=10.7.0.1,actions=set_field:10->ip_dscp\n"
      "table=1,priority=0,actions=drop\n"
      // A bucket needing the header under the popped label: its copy
      // recirculates, the other bucket and the rule go on.
      "priority=10,mpls,mpls_label=700,actions=pop_mpls:0x0800,group:1\n"
      // A bucket's push is undone for the rule's output.
      "priority=10,mpls,mpls_label=800,actions=group:2,output:3\n"
      // After popping a stacked label: dec_mpls_ttl, push_mpls on the next one.
      "priority=10,mpls,mpls_label=500,mpls_bos=0,actions=pop_mpls:0x8847,dec_mpls_ttl,output:2\n"
      "priority=10,mpls,mpls_label=501,mpls_bos=0,actions=pop_mpls:0x8847,push_mpls:0x8847,"
      "set_field:99->mpls_label,output:2\n");
  INFO((e ? e->message : ""));
  REQUIRE_FALSE(e);
  struct Case {
    const char* what;
    std::vector<uint8_t> in;
    std::vector<std::pair<unsigned, std::vector<uint8_t>>> out;  // (port, frame)
  };
  auto none = [](PacketBuilder&) {};
  const std::vector<Case> cases = {
      {"action set, metadata, reg0 frozen",
       mpls_case([](PacketBuilder& b) { b.mpls(600, 0, true, 40); }, "10.7.0.1"),
       {{3, mpls_case(none, "10.7.0.1", {.tos = 0x28})}}},
      {"group bucket recirculates its copy",
       mpls_case([](PacketBuilder& b) { b.mpls(700, 0, true, 40); }, "10.7.0.1"),
       {{2, mpls_case(none, "10.1.1.1")}, {3, mpls_case(none, "10.7.0.1")}}},
      {"a bucket's push undone",
       mpls_case([](PacketBuilder& b) { b.mpls(800, 3, true, 40); }, "10.7.0.1"),
       {{2, mpls_case([](PacketBuilder& b) { b.mpls(99, 3, false, 40).mpls(800, 3, true, 40); }, "10.7.0.1")},
        {3, mpls_case([](PacketBuilder& b) { b.mpls(800, 3, true, 40); }, "10.7.0.1")}}},
      {"dec_mpls_ttl on the label under a popped one",
       mpls_case([](PacketBuilder& b) { b.mpls(500, 1, false, 30).mpls(610, 2, true, 40); }, "10.7.0.1"),
       {{2, mpls_case([](PacketBuilder& b) { b.mpls(610, 2, true, 39); }, "10.7.0.1")}}},
      {"push_mpls copies the label under a popped one",
       mpls_case([](PacketBuilder& b) { b.mpls(501, 1, false, 30).mpls(610, 2, true, 40); }, "10.7.0.1"),
       {{2, mpls_case([](PacketBuilder& b) { b.mpls(99, 2, false, 40).mpls(610, 2, true, 40); }, "10.7.0.1")}}},
  };
  std::vector<std::vector<uint8_t>> outputs;
  for (const Case& c : cases) {
    INFO(c.what);
    r.clear();
    r.inject(1, c.in, 3);  // the first misses twice (both passes), the others hit
    REQUIRE(r.pump_until([&] {
      for (const auto& [port, f] : c.out)
        if (r.count[port] < 3) return false;
      return true;
    }, 2000));
    r.pump(20);
    for (const auto& [port, want] : c.out) {
      CHECK(r.count[port] == 3);
      for (const auto& f : r.frames[port]) CHECK(f == want);
      CHECK(test::checksum_errors(r.frames[port][0]) == "");
      outputs.push_back(r.frames[port][0]);
    }
  }
  CHECK(tshark(outputs, "-Y '_ws.malformed || _ws.expert.severity >= \"Warning\"'") == "");
  CHECK(r.ofp->stats().upcall.xlate_errors == 0);
}

TEST_CASE("pop_mpls in a patch port's peer: the recirculated packet resumes there, byte for byte",
          "[integration][eal][ofproto][mpls]") {
  test::DpRig rig({.n_ports = 2, .lcores = {1}, .n_mbufs = 4096, .port_prefix = "mplsp"});
  auto backer = std::make_unique<ofproto::DpBacker>(*rig.dp);
  auto bridges = std::make_unique<ofproto::BridgeSet>(*backer);
  Ofproto& br0 = bridges->add("br0");
  Ofproto& br1 = bridges->add("br1");
  br0.add_port(1, 1, "p1");
  br1.add_port(2, 2, "p2");
  br0.add_patch_port(10, "patch0", br1.bridge(), 20);
  br1.add_patch_port(20, "patch1", br0.bridge(), 10);
  MaybeError e = br0.add_flows("in_port=1,mpls,actions=output:10\n");
  if (!e)
    e = br1.add_flows("in_port=20,mpls,actions=pop_mpls:0x0800,write_actions(output:2),goto_table:1\n"
                      "table=1,ip,nw_dst=10.7.0.1,actions=dec_ttl\n");
  INFO((e ? e->message : ""));
  REQUIRE_FALSE(e);
  rig.dp->start();
  rig.inject(1, mpls_case([](test::PacketBuilder& b) { b.mpls(600, 0, true, 40); }, "10.7.0.1"), 3);
  std::vector<test::Frame> out;
  const auto end = Clock::now() + std::chrono::seconds(2);
  while (out.size() < 3 && Clock::now() < end) {
    backer->run();
    rig.drain(2, &out);
  }
  REQUIRE(out.size() == 3);
  const std::vector<uint8_t> want = mpls_case([](test::PacketBuilder&) {}, "10.7.0.1", {.ttl = 63});
  for (const auto& f : out) CHECK(f == want);
  CHECK(backer->handler().stats().xlate_errors == 0);
  rig.dp->stop();
  rig.drain(2, nullptr);
  bridges.reset();
  backer.reset();
  rig.dp->shutdown();
}

namespace {

// The Ethernet frames of an IP datagram's fragments (mtu bytes of IP each).
std::vector<test::Frame> fragment_frames(const test::Frame& frame, size_t mtu, uint32_t id) {
  const test::Frame l3(frame.begin() + 14, frame.end());
  std::vector<test::Frame> out;
  for (const auto& f : test::fragment_ip(l3, mtu, id)) {
    test::Frame e(frame.begin(), frame.begin() + 14);
    e.insert(e.end(), f.begin(), f.end());
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<test::Frame> udp_frags(const test::Mac& from, const test::Mac& to, const char* src, const char* dst,
                                   uint16_t sp, uint16_t dp, size_t bytes, uint32_t id, bool v6 = false) {
  std::vector<uint8_t> pl(bytes);
  for (size_t i = 0; i < bytes; i++) pl[i] = static_cast<uint8_t>(i * 13 + id);
  test::PacketBuilder b;
  b.eth(to, from);
  if (v6) b.ipv6(src, dst); else b.ipv4(src, dst, {.id = static_cast<uint16_t>(id)});
  return fragment_frames(b.udp(sp, dp).bytes(pl).build(), 1500, id);
}

// Waits until port has sent want.size() frames: they must be want's
// fragments (in its order when `ordered`: on megaflows; a miss goes through
// the slow path, whose executions may reorder, as OVS's upcalls).
void expect_frags(OfRig& r, unsigned port, std::vector<test::Frame> want, bool ordered) {
  r.clear();
  REQUIRE(r.pump_until([&] { return r.count[port] >= want.size(); }, 3000));
  r.pump(20);
  CHECK(r.count[port] == want.size());
  std::string order;  // the fragments' indexes as they came out
  for (const auto& f : r.frames[port]) order += std::to_string(std::find(want.begin(), want.end(), f) - want.begin()) + " ";
  INFO("out: " << order);
  auto got = r.frames[port];
  if (!ordered) {
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
  }
  CHECK(got == want);
}

// The stateful firewall of OVS's conntrack tutorial: port 1 (A) may open
// connections to port 2 (B), B may only answer.
const char* kFirewall =
    "table=0,priority=1,actions=drop\n"
    "table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)\n"
    "table=0,priority=100,ipv6,ct_state=-trk,actions=ct(table=1)\n"
    "table=1,priority=100,ip,in_port=1,ct_state=+trk+new,actions=ct(commit),output:2\n"
    "table=1,priority=100,ip,in_port=1,ct_state=+trk+est,actions=output:2\n"
    "table=1,priority=100,ip,in_port=2,ct_state=+trk+new,actions=drop\n"
    "table=1,priority=100,ip,in_port=2,ct_state=+trk+est,actions=output:1\n"
    "table=1,priority=100,ipv6,in_port=1,ct_state=+trk+new,actions=ct(commit),output:2\n"
    "table=1,priority=100,ipv6,in_port=2,ct_state=+trk+est,actions=output:1\n";

}  // namespace

TEST_CASE("fragmented datagrams pass the conntrack firewall both ways as the same fragments",
          "[integration][eal][ofproto][ct]") {
  OfRig r(2, {1, 2}, {}, kFirewall);
  const test::Mac a = test::kMacA, b = test::kMacB;
  auto send = [&](unsigned port, const std::vector<test::Frame>& fs) {
    for (const auto& f : fs) r.inject(port, f);
  };
  // One datagram from port `in` (A = 1, B = 2), its fragments sent in the
  // order `perm` gives (empty: as cut), expected out of the other port;
  // `ordered`: in their order (the megaflows of that pass exist by then).
  struct Pass {
    unsigned in;
    const char *src, *dst;
    uint16_t sp, dp;
    size_t bytes;
    uint32_t id;
    bool v6;
    std::vector<unsigned> perm;
    bool ordered;
  };
  // A -> B (a DNS answer over EDNS, an NFS read), B -> A the reply, then
  // A -> B on the established connection; then the same on megaflows, out
  // of order in and in order out; then 60000 bytes on a new connection (41
  // fragments: more than a batch and the recirculation queue hold, and
  // ct(commit) in table 1 sees them all again) and 34 on it, established;
  // IPv6 both ways.
  const Pass passes[] = {
      {1, "10.0.0.1", "10.0.0.2", 5000, 53, 3000, 11, false, {2, 0, 1}, false},
      {2, "10.0.0.2", "10.0.0.1", 53, 5000, 2500, 12, false, {}, false},
      {1, "10.0.0.1", "10.0.0.2", 5000, 53, 3500, 16, false, {}, false},
      {1, "10.0.0.1", "10.0.0.2", 5000, 53, 3500, 17, false, {1, 2, 0}, true},
      {2, "10.0.0.2", "10.0.0.1", 53, 5000, 2500, 18, false, {}, true},
      {1, "10.0.0.1", "10.0.0.2", 5001, 53, 60000, 13, false, {}, true},
      {1, "10.0.0.1", "10.0.0.2", 5001, 53, 50000, 15, false, {}, true},
      {1, "fd00::1", "fd00::2", 6000, 53, 4000, 0x10001, true, {}, false},
      {2, "fd00::2", "fd00::1", 53, 6000, 3000, 0x20002, true, {}, false},
  };
  size_t v4_frags = 0, most = 0;
  for (const Pass& p : passes) {
    INFO("pass id " << p.id);
    const bool from_a = p.in == 1;
    const auto fs = udp_frags(from_a ? a : b, from_a ? b : a, p.src, p.dst, p.sp, p.dp, p.bytes, p.id, p.v6);
    REQUIRE((p.perm.empty() || p.perm.size() == fs.size()));
    std::vector<test::Frame> in;
    for (unsigned k : p.perm) in.push_back(fs[k]);
    send(p.in, p.perm.empty() ? fs : in);
    expect_frags(r, from_a ? 2 : 1, fs, p.ordered);
    if (!p.v6) v4_frags += fs.size();
    most = std::max(most, fs.size());
  }
  REQUIRE(most > netdev::kMaxBurst);
  // B -> A new: dropped, fragments and all.
  r.clear();
  send(2, udp_frags(b, a, "10.0.0.2", "10.0.0.1", 7000, 7001, 3000, 14));
  r.pump(200);
  CHECK(r.count[1] == 0);
  const conntrack::IpfStatus st = r.dp->conntrack().frag().status();
  CHECK(st.nfrag == 0);
  CHECK(st.v4[conntrack::kIpfAccepted] >= v4_frags);  // each held at least once
  CHECK(st.v4[conntrack::kIpfPurged] == 0);
  CHECK(st.v6[conntrack::kIpfReassembled] >= 2);
  CHECK(r.dp->conntrack().stats(false).counters[conntrack::kFragments] == 0);
}

TEST_CASE("SNAT of fragmented datagrams through the PMD: every fragment translated, checksums right",
          "[integration][eal][ofproto][ct]") {
  OfRig r(2, {1}, {},
          "table=0,priority=1,actions=drop\n"
          "table=0,priority=100,ip,actions=ct(table=1,nat)\n"
          "table=1,priority=100,ip,in_port=1,ct_state=+trk+new,actions=ct(commit,nat(src=10.0.0.100)),output:2\n"
          "table=1,priority=100,ip,in_port=1,ct_state=+trk+est,actions=output:2\n"
          "table=1,priority=100,ip,in_port=2,ct_state=+trk+est,actions=output:1\n");
  const test::Mac a = test::kMacA, b = test::kMacB;
  // What must come out: the fragments of the datagram the host would have
  // sent with the translated address (every checksum computed in full).
  auto expect = [&](unsigned port, const std::vector<test::Frame>& want) { expect_frags(r, port, want, false); };
  for (const auto& f : udp_frags(a, b, "10.0.0.1", "10.0.0.2", 40000, 53, 4000, 21)) r.inject(1, f);
  expect(2, udp_frags(a, b, "10.0.0.100", "10.0.0.2", 40000, 53, 4000, 21));
  for (const auto& f : udp_frags(b, a, "10.0.0.2", "10.0.0.100", 53, 40000, 3000, 22)) r.inject(2, f);
  expect(1, udp_frags(b, a, "10.0.0.2", "10.0.0.1", 53, 40000, 3000, 22));
  CHECK(r.dp->conntrack().frag().status().nfrag == 0);
}
