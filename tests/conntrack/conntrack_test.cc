#include <catch2/catch.hpp>

#include <thread>

#include "ct_helpers.h"

using namespace dps::conntrack;
using namespace dps::test;

namespace {


auto a2b() { return udp4("10.0.0.1", "10.0.0.2", 5000, 53); }
auto b2a() { return udp4("10.0.0.2", "10.0.0.1", 53, 5000); }

}  // namespace

TEST_CASE("conntrack: UDP is +new until the reply, then +est both ways") {
  CtRig r;
  CHECK(r.run(a2b()) == kNewTrk);
  CHECK(r.run(a2b()) == kNewTrk);
  CHECK(r.run(b2a()) == kEstRpl);
  CHECK(r.run(a2b()) == kEstTrk);
  CHECK(r.ct.n_conns() == 1);
  CHECK(ct_entry_format(r.ct.dump()[0]) ==
        "udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=5000,dport=53),"
        "reply=(src=10.0.0.2,dst=10.0.0.1,sport=53,dport=5000)");
}

TEST_CASE("conntrack: without commit nothing is remembered") {
  CtRig r;
  CHECK(r.run(a2b(), false) == kNewTrk);
  CHECK(r.ct.n_conns() == 0);
  CHECK(r.run(b2a(), false) == kNewTrk);  // a new connection from B
  CHECK_FALSE(r.last.has_orig);
}

TEST_CASE("conntrack: IPv6 UDP") {
  CtRig r;
  CHECK(r.run(udp6("2001:db8::1", "2001:db8::2", 1, 2)) == kNewTrk);
  CHECK(r.run(udp6("2001:db8::2", "2001:db8::1", 2, 1)) == kEstRpl);
  CHECK(ct_entry_format(r.ct.dump()[0]) ==
        "udp,orig=(src=2001:db8::1,dst=2001:db8::2,sport=1,dport=2),"
        "reply=(src=2001:db8::2,dst=2001:db8::1,sport=2,dport=1)");
}

TEST_CASE("conntrack: ICMP echo is a connection, an unsolicited echo reply is invalid") {
  CtRig r;
  CHECK(r.run(icmp4("10.0.0.2", "10.0.0.1", 0, 9)) == kInvTrk);
  CHECK(r.run(icmp4("10.0.0.1", "10.0.0.2", 8, 9)) == kNewTrk);
  CHECK(r.run(icmp4("10.0.0.2", "10.0.0.1", 0, 9)) == kEstRpl);
  CHECK(r.run(icmp4("10.0.0.1", "10.0.0.2", 8, 9)) == kEstTrk);
  CHECK(r.run(icmp4("10.0.0.2", "10.0.0.1", 0, 10)) == kInvTrk);  // another id
  CHECK(ct_entry_format(r.ct.dump()[0]) ==
        "icmp,orig=(src=10.0.0.1,dst=10.0.0.2,id=9,type=8,code=0),"
        "reply=(src=10.0.0.2,dst=10.0.0.1,id=9,type=0,code=0)");
}

TEST_CASE("conntrack: an ICMP error about a tracked connection is +rel; about none, +inv") {
  CtRig r;
  auto syn = tcp4("10.0.0.1", "10.0.0.2", 40000, 80, kTcpSyn, 1, 0);
  REQUIRE(r.run(syn) == kNewTrk);
  // A router on the way answers A's SYN with "port unreachable".
  auto err = icmp4_error("192.168.9.9", "10.0.0.1", 3, 3, syn);
  CHECK(r.run(err) == (kCsRelated | kCsReplyDir | kCsTracked));
  CHECK(r.last.has_orig);
  CHECK(r.last.orig.dport == 80);
  auto other = tcp4("10.0.0.1", "10.0.0.2", 40001, 80, kTcpSyn, 1, 0);
  CHECK(r.run(icmp4_error("192.168.9.9", "10.0.0.1", 11, 0, other)) == kInvTrk);
  CHECK(r.ct.n_conns() == 1);
  CHECK(r.ct.stats().counters[kRelated] == 1);
}

TEST_CASE("conntrack: zones isolate connections") {
  CtRig r;
  CHECK(r.run(a2b(), true, 1) == kNewTrk);
  CHECK(r.run(b2a(), true, 2) == kNewTrk);  // another zone: another connection
  CHECK(r.run(b2a(), true, 1) == kEstRpl);
  CHECK(r.ct.n_conns() == 2);
  CHECK(r.ct.dump(1).size() == 1);
  CHECK(ct_entry_format(r.ct.dump(2)[0]).find(",zone=2") != std::string::npos);
  CHECK(r.ct.flush(2) == 1);
  CHECK(r.ct.n_conns() == 1);
  CHECK(r.run(b2a(), true, 1) == kEstRpl);
}

TEST_CASE("conntrack: commit sets mark and label under their masks; dump shows them") {
  CtRig r;
  CtAction a = ct_act(true);
  a.set_mark = true;
  a.mark = 0x12;
  a.mark_mask = 0xff;
  a.set_label = true;
  a.label[15] = 0x01;
  a.label_mask[15] = 0xff;
  a.label[0] = 0xab;
  a.label_mask[0] = 0x0f;
  auto p = a2b();
  CtResult res = r.ct.process(r.th, p.data(), p.size(), a, 1000);
  CHECK(res.mark == 0x12);
  CHECK(res.label[15] == 0x01);
  CHECK(res.label[0] == 0x0b);
  CHECK(r.run(b2a(), false) == kEstRpl);
  CHECK(r.last.mark == 0x12);
  CHECK(ct_entry_format(r.ct.dump()[0]) ==
        "udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=5000,dport=53),"
        "reply=(src=10.0.0.2,dst=10.0.0.1,sport=53,dport=5000),mark=18,"
        "labels=0xb000000000000000000000000000001");
}

TEST_CASE("conntrack: expiry by state, incremental sweep, lookups skip expired entries") {
  CtRig r;
  REQUIRE(r.run(a2b(), true, 0, 1000) == kNewTrk);  // other_first: 60 s
  CHECK(r.ct.sweep(1000 + 59999, 1 << 20) == 0);
  REQUIRE(r.run(b2a(), true, 0, 2000) == kEstRpl);  // bidir: 30 s from now
  CHECK(r.ct.dump()[0].expiration_ms == 2000 + 30000);
  CHECK(r.run(a2b(), false, 0, 32000) == kNewTrk);  // expired, not yet swept
  // The sweep visits a budget of buckets per call; enough calls remove it.
  size_t removed = 0;
  for (int i = 0; i < 10000 && removed == 0; i++) removed += r.ct.sweep(32000, 16);
  CHECK(removed == 1);
  CHECK(r.ct.n_conns() == 0);
}

TEST_CASE("conntrack: global and per-zone limits, counted") {
  CtRig r;
  r.ct.set_max_conns(2);
  CHECK(r.run(udp4("1.0.0.1", "1.0.0.2", 1, 1)) == kNewTrk);
  CHECK(r.run(udp4("1.0.0.1", "1.0.0.2", 2, 2)) == kNewTrk);
  CHECK(r.run(udp4("1.0.0.1", "1.0.0.2", 3, 3)) == kNewTrk);  // not committed
  CHECK(r.ct.n_conns() == 2);
  CHECK(r.ct.stats().counters[kFull] == 1);
  CHECK(r.run(udp4("1.0.0.2", "1.0.0.1", 3, 3)) == kNewTrk);  // so no reply state
  r.ct.set_max_conns(100);
  r.ct.set_zone_limit(7, 1);
  CHECK(r.run(udp4("1.0.0.1", "1.0.0.2", 4, 4), true, 7) == kNewTrk);
  CHECK(r.run(udp4("1.0.0.1", "1.0.0.2", 5, 5), true, 7) == kNewTrk);
  CHECK(r.ct.zone_count(7) == 1);
  CHECK(r.ct.stats().counters[kZoneFull] == 1);
  r.ct.flush();
  CHECK(r.ct.n_conns() == 0);
  CHECK(r.ct.zone_count(7) == 0);
}

TEST_CASE("conntrack: force ends a connection seen in the reply direction") {
  CtRig r;
  REQUIRE(r.run(a2b()) == kNewTrk);
  CtAction a = ct_act(true);
  a.force = true;
  auto p = b2a();
  CtResult res = r.ct.process(r.th, p.data(), p.size(), a, 1000);
  CHECK(res.state == kNewTrk);
  r.ct.sweep(1000, 1 << 20);
  auto d = r.ct.dump();
  REQUIRE(d.size() == 1);
  CHECK(d[0].orig.sport == 53);  // B -> A is the original direction now
}

TEST_CASE("conntrack: bad headers are +trk+inv and counted") {
  CtRig r;
  auto p = a2b();
  CHECK(r.run(std::vector<uint8_t>(p.begin(), p.begin() + 24)) == kInvTrk);
  CHECK(r.ct.stats().counters[kTruncated] == 1);
  CHECK(r.ct.stats().counters[kInvalid] == 1);
  CHECK(r.ct.n_conns() == 0);
}

TEST_CASE("conntrack: four threads commit, look up and reply while the sweeper expires") {
  Conntrack ct;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> clock{1000};
  std::atomic<int> bad{0};  // (Catch2 assertions are not thread-safe)
  auto worker = [&](int id) {
    CtThread* t = ct.register_thread();
    for (int i = 0; i < 20000; i++) {
      uint16_t port = static_cast<uint16_t>(1 + (i % 500));
      char src[32];
      std::snprintf(src, sizeof src, "10.%d.0.1", id);
      auto p = udp4(src, "10.9.9.9", port, 53);
      auto q = udp4("10.9.9.9", src, 53, port);
      CtAction a = ct_act(true);
      int64_t now = clock.load();
      uint8_t s1 = ct.process(t, p.data(), p.size(), a, now).state;
      uint8_t s2 = ct.process(t, q.data(), q.size(), a, now).state;
      if (!(s1 & kCsTracked) || (s1 & kCsInvalid) || (s2 & kCsInvalid)) bad++;
      if (i % 32 == 0) t->quiesce();
    }
    ct.unregister_thread(t);
  };
  std::thread sweeper([&] {
    while (!stop.load()) {
      clock.fetch_add(5000);  // every connection ages quickly
      ct.sweep(clock.load(), 4096);
    }
  });
  std::vector<std::thread> ws;
  for (int i = 0; i < 4; i++) ws.emplace_back(worker, i);
  for (auto& w : ws) w.join();
  stop = true;
  sweeper.join();
  CHECK(bad.load() == 0);
  CHECK(ct.n_conns() == ct.dump().size());
  // Entries already past their expiry may still be linked (a commit does not
  // reuse an expired tuple: it adds a new entry beside it) until a sweep.
  ct.sweep(clock.load(), 1 << 30);
  CHECK(ct.n_conns() <= 2000);
  ct.sweep(INT64_MAX / 2, 1 << 30);
  CHECK(ct.n_conns() == 0);
  CHECK(ct.stats().counters[kPackets] == 4 * 20000 * 2);
}

TEST_CASE("conntrack: flush by original / reply tuple (OVS's ct-tuple syntax)") {
  CtRig r;
  REQUIRE(r.run(udp4("10.0.0.1", "10.0.0.2", 5000, 53)) == kNewTrk);
  REQUIRE(r.run(udp4("10.0.0.1", "10.0.0.2", 5001, 53)) == kNewTrk);
  REQUIRE(r.run(tcp4("10.0.0.1", "10.0.0.2", 40000, 80, kTcpSyn, 1, 0)) == kNewTrk);
  REQUIRE(r.run(udp6("fd00::1", "fd00::2", 5000, 53)) == kNewTrk);
  CtTupleFilter f, g;
  REQUIRE(ct_tuple_filter_parse("ct_nw_src=10.0.0.1,ct_nw_proto=17,ct_tp_src=5001", &f) == "");
  CHECK(r.ct.flush(std::nullopt, &f) == 1);
  CHECK(r.ct.n_conns() == 3);
  // The reply tuple: the TCP connection's reply comes from port 80.
  REQUIRE(ct_tuple_filter_parse("ct_nw_src=10.0.0.2,ct_tp_src=80", &g) == "");
  CHECK(r.ct.flush(std::nullopt, &f, &g) == 0);  // f no longer matches anything
  CHECK(r.ct.flush(std::nullopt, nullptr, &g) == 1);
  REQUIRE(ct_tuple_filter_parse("ct_ipv6_src=fd00::1", &f) == "");
  CHECK(r.ct.flush(uint16_t{5}, &f) == 0);  // another zone
  CHECK(r.ct.flush(uint16_t{0}, &f) == 1);
  CHECK(r.ct.n_conns() == 1);
  CHECK(ct_tuple_filter_parse("ct_nw_src=10.0.0.300", &f) == "invalid ct_nw_src '10.0.0.300'");
  CHECK(ct_tuple_filter_parse("ct_tp_src=70000", &f) == "invalid ct_tp_src '70000'");
  CHECK(ct_tuple_filter_parse("ct_nw_src=10.0.0.1,ct_ipv6_dst=::1", &f) == "invalid ct_ipv6_dst '::1'");
  CHECK(ct_tuple_filter_parse("bogus=1", &f).find("unknown ct-tuple field 'bogus'") == 0);
}
