// actions_test.cc - header rewrites, checksum updates, VLAN push/pop, and the
// action list's helpers.
//
// Coverage goal: every rewrite on every header shape it applies to (IPv4
// TCP/UDP/UDP without checksum/ICMP/SCTP, with IP options and VLAN tags;
// IPv6 TCP/UDP/ICMPv6/SCTP with extension headers), its no-op cases
// (absent header, later fragment, untagged pop), and the checksum rules.
// The oracle is independent of the code under test: the rewritten frame must
// be byte-identical to the frame PacketBuilder builds directly with the new
// values (full checksum computation), and checksum_errors() recomputes every
// checksum from scratch. Random values drive most cases.
//
// These tests use mbuf headers built on the stack over a heap buffer (with
// headroom for push_vlan): rte_pktmbuf_prepend/adj only touch data_off,
// data_len and pkt_len, so no EAL is needed and the sanitizer build runs them.
// actions_eal_test.cc repeats the essentials on pool mbufs.
#include <arpa/inet.h>
#include <rte_mbuf.h>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <random>

#include "actions.h"
#include "dp_test_util.h"
#include "flow_key.h"
#include "packet_builder.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

// The fields a shape is built from; rewrites change one of them.
struct P {
  std::string src4 = "10.0.0.1", dst4 = "10.0.0.2";
  std::string src6 = "2001:db8::1", dst6 = "2001:db8::2";
  uint8_t tos = 0x01;  // ECN bit set, to see it kept
  uint8_t ttl = 64;
  uint16_t sport = 1000, dport = 2000;
  Mac eth_src = kMacA, eth_dst = kMacB;
};

enum class L4 { kTcp, kUdp, kUdpNoCsum, kIcmp, kSctp };

struct Shape {
  const char* name;
  bool v6;
  L4 l4;
  std::function<std::vector<uint8_t>(const P&)> make;
};

std::vector<Shape> shapes() {
  std::vector<Shape> v;
  auto l4 = [](PacketBuilder& b, L4 k, const P& p, bool v6) {
    switch (k) {
      case L4::kTcp: b.tcp(p.sport, p.dport, 0x18, {.seq = 0x12345678}); break;
      case L4::kUdp: b.udp(p.sport, p.dport); break;
      case L4::kUdpNoCsum: b.udp(p.sport, p.dport, false); break;
      case L4::kIcmp: v6 ? b.icmp6(128, 0, 0x00420001) : b.icmp(8, 0, 0x00420001); break;
      case L4::kSctp: b.sctp(p.sport, p.dport); break;
    }
    b.payload(23, 0x5c);  // odd length: exercises the checksum's padding byte
  };
  for (L4 k : {L4::kTcp, L4::kUdp, L4::kUdpNoCsum, L4::kIcmp, L4::kSctp}) {
    v.push_back({"ipv4", false, k, [=](const P& p) {
                   PacketBuilder b;
                   b.eth(p.eth_dst, p.eth_src).ipv4(p.src4.c_str(), p.dst4.c_str(),
                                                   {.tos = p.tos, .ttl = p.ttl});
                   l4(b, k, p, false);
                   return b.build();
                 }});
    v.push_back({"qinq+ipv4 options", false, k, [=](const P& p) {
                   PacketBuilder b;
                   b.eth(p.eth_dst, p.eth_src).vlan(0x3005, 0x88a8).vlan(0x0007)
                       .ipv4(p.src4.c_str(), p.dst4.c_str(),
                             {.tos = p.tos, .ttl = p.ttl, .options_len = 12});
                   l4(b, k, p, false);
                   return b.build();
                 }});
    if (k == L4::kUdpNoCsum) continue;  // not valid over IPv6
    v.push_back({"ipv6", true, k, [=](const P& p) {
                   PacketBuilder b;
                   b.eth(p.eth_dst, p.eth_src)
                       .ipv6(p.src6.c_str(), p.dst6.c_str(), {.tclass = p.tos, .hop_limit = p.ttl});
                   l4(b, k, p, true);
                   return b.build();
                 }});
    v.push_back({"vlan+ipv6 ext headers", true, k, [=](const P& p) {
                   PacketBuilder b;
                   b.eth(p.eth_dst, p.eth_src).vlan(42)
                       .ipv6(p.src6.c_str(), p.dst6.c_str(), {.tclass = p.tos, .hop_limit = p.ttl})
                       .ipv6_ext(0, 16).ipv6_ext(60).ipv6_frag(0, false).ipv6_ext(51, 16);
                   l4(b, k, p, true);
                   return b.build();
                 }});
  }
  return v;
}

std::string rand_ip4(std::mt19937& rng) {
  char b[32];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", unsigned(rng() % 256), unsigned(rng() % 256), unsigned(rng() % 256), unsigned(rng() % 256));
  return b;
}
std::string rand_ip6(std::mt19937& rng) {
  char b[64];
  unsigned w[8];
  for (unsigned& x : w) x = static_cast<unsigned>(rng() % 65536);
  std::snprintf(b, sizeof b, "%x:%x:%x:%x:%x:%x:%x:%x", w[0], w[1], w[2], w[3], w[4], w[5], w[6],
                w[7]);
  return b;
}

}  // namespace

TEST_CASE("set-field rewrites equal frames built with the new values", "[datapath][actions]") {
  std::mt19937 rng(2024);
  int applied_count = 0;
  for (const Shape& s : shapes()) {
    for (int iter = 0; iter < 40; iter++) {
      P p;
      p.src4 = rand_ip4(rng);
      p.dst4 = rand_ip4(rng);
      p.src6 = rand_ip6(rng);
      p.dst6 = rand_ip6(rng);
      p.sport = static_cast<uint16_t>(rng());
      p.dport = static_cast<uint16_t>(rng());
      p.tos = static_cast<uint8_t>(rng());
      p.ttl = static_cast<uint8_t>(2 + rng() % 250);
      const std::vector<uint8_t> before = s.make(p);
      REQUIRE(checksum_errors(before) == "");

      // Each case: the action, the expected parameters, and whether the
      // shape has the header (else: false and unchanged).
      P q = p;
      std::vector<std::tuple<const char*, DpAction, P, bool>> cases;
      q = p; q.eth_src = Mac{0x0e, 1, 2, 3, 4, static_cast<uint8_t>(iter)};
      cases.emplace_back("eth_src", act_set_eth_src(q.eth_src.data()), q, true);
      q = p; q.eth_dst = Mac{0x0e, 9, 8, 7, 6, static_cast<uint8_t>(iter)};
      cases.emplace_back("eth_dst", act_set_eth_dst(q.eth_dst.data()), q, true);
      q = p; q.src4 = rand_ip4(rng);
      cases.emplace_back("ipv4_src", act_set_ipv4_src(ip4(q.src4.c_str())), q, !s.v6);
      q = p; q.dst4 = rand_ip4(rng);
      cases.emplace_back("ipv4_dst", act_set_ipv4_dst(ip4(q.dst4.c_str())), q, !s.v6);
      q = p; const uint8_t dscp = static_cast<uint8_t>(rng() % 64);
      q.tos = static_cast<uint8_t>(dscp << 2 | (p.tos & 3));
      cases.emplace_back("ipv4_tos", act_set_ipv4_tos(dscp), q, !s.v6);
      q = p; q.ttl = static_cast<uint8_t>(rng());
      cases.emplace_back("ipv4_ttl", act_set_ipv4_ttl(q.ttl), q, !s.v6);
      q = p; q.ttl = static_cast<uint8_t>(p.ttl - 1);
      cases.emplace_back("dec_ttl", act_dec_ttl(), q, true);
      q = p; q.src6 = rand_ip6(rng);
      cases.emplace_back("ipv6_src", act_set_ipv6_src(ip6(q.src6.c_str()).data()), q, s.v6);
      q = p; q.dst6 = rand_ip6(rng);
      cases.emplace_back("ipv6_dst", act_set_ipv6_dst(ip6(q.dst6.c_str()).data()), q, s.v6);
      q = p; q.sport = static_cast<uint16_t>(rng());
      cases.emplace_back("tp_src", act_set_tp_src(htons(q.sport)), q, s.l4 != L4::kIcmp);
      q = p; q.dport = static_cast<uint16_t>(rng());
      cases.emplace_back("tp_dst", act_set_tp_dst(htons(q.dport)), q, s.l4 != L4::kIcmp);

      for (auto& [what, act, want_p, has] : cases) {
        INFO(s.name << " l4=" << static_cast<int>(s.l4) << " action " << what << " = "
                    << format_actions([&] { DpActions l; l.add(act); return l; }()));
        bool ok = false;
        const std::vector<uint8_t> after = rewrite(before, act, &ok);
        CHECK(ok == has);
        if (has) {
          CHECK_FRAME(after, s.make(want_p));
          CHECK(checksum_errors(after) == "");
          applied_count++;
        } else {
          CHECK_FRAME(after, before);
        }
      }
    }
  }
  CHECK(applied_count > 3000);
}

TEST_CASE("UDP checksum 0 stays 0; a computed 0 becomes 0xffff", "[datapath][actions]") {
  auto f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2, false).payload(4).build();
  for (const DpAction& a : {act_set_ipv4_src(ip4("1.2.3.4")), act_set_tp_dst(htons(99))}) {
    auto out = rewrite(f, a);
    CHECK(out[14 + 20 + 6] == 0);
    CHECK(out[14 + 20 + 7] == 0);
  }
  // Find a port whose full checksum is 0 (sent as 0xffff), reach it by rewrite.
  auto build = [](uint16_t sport) {
    return PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(sport, 2).payload(4).build();
  };
  const auto base = build(1);
  const uint16_t c0 = static_cast<uint16_t>(base[14 + 26] << 8 | base[14 + 27]);
  // Raising sport by d lowers the checksum by d (one's complement): d = c0.
  const uint16_t sport = static_cast<uint16_t>(1 + c0);
  const auto want = build(sport);
  REQUIRE(want[14 + 26] == 0xff);
  REQUIRE(want[14 + 27] == 0xff);
  CHECK_FRAME(rewrite(base, act_set_tp_src(htons(sport))), want);
}

TEST_CASE("rewrites skip fragments' L4, absent headers and truncated frames",
          "[datapath][actions]") {
  // Later IPv4 fragment: addresses change with the header checksum; the
  // bytes where ports would be are payload and stay.
  auto later = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.frag_offset = 10})
                   .payload(16, 0x33).build();
  bool ok;
  auto out = rewrite(later, act_set_ipv4_src(ip4("10.9.9.9")), &ok);
  CHECK(ok);
  CHECK(checksum_errors(out) == "");
  CHECK(std::vector<uint8_t>(out.begin() + 34, out.end()) == std::vector<uint8_t>(16, 0x33));
  CHECK_FRAME(rewrite(later, act_set_tp_src(htons(5)), &ok), later);
  CHECK_FRAME(rewrite(later, act_set_ipv6_src(ip6("::1").data()), &ok), later);
  CHECK(!ok);

  auto v6later = PacketBuilder().eth().ipv6("::1", "::2").ipv6_frag(8, true).payload(16).build();
  CHECK_FRAME(rewrite(v6later, act_set_tp_dst(htons(5)), &ok), v6later);
  CHECK(!ok);

  // ESP: no L4 to touch; the address still changes.
  auto esp = PacketBuilder().eth().ipv6("::1", "::2").ipv6_esp().payload(16).build();
  CHECK_FRAME(rewrite(esp, act_set_tp_dst(htons(5)), &ok), esp);
  CHECK(!ok);
  out = rewrite(esp, act_set_ipv6_src(ip6("::7").data()), &ok);
  CHECK(ok);
  CHECK(out[14 + 8 + 15] == 7);

  // Routing header with segments left: dst changes, L4 checksum untouched
  // (the pseudo-header holds the final destination).
  auto rh = PacketBuilder().eth().ipv6("::1", "::2").ipv6_ext(43, 24).tcp(1, 2).build();
  rh[14 + 40 + 3] = 1;  // segments left
  out = rewrite(rh, act_set_ipv6_dst(ip6("::9").data()), &ok);
  CHECK(ok);
  CHECK(out[14 + 24 + 15] == 9);
  const size_t tcp_csum = 14 + 40 + 24 + 16;
  CHECK(out[tcp_csum] == rh[tcp_csum]);
  CHECK(out[tcp_csum + 1] == rh[tcp_csum + 1]);

  // Non-IP frame: IP rewrites are no-ops.
  auto arp = PacketBuilder().eth().arp(1, kMacA, "10.0.0.1", Mac{}, "10.0.0.2").build();
  for (const DpAction& a : {act_set_ipv4_src(1), act_set_ipv4_ttl(3), act_set_tp_src(1),
                            act_set_ipv6_dst(ip6("::3").data()), act_set_vlan_pcp(3)}) {
    CHECK_FRAME(rewrite(arp, a, &ok), arp);
    CHECK(!ok);
  }

  // Inconsistent IPv4 header (total length beyond the frame): untouched.
  auto bad = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  bad[14 + 2] = 0x05;
  CHECK_FRAME(rewrite(bad, act_set_ipv4_dst(1), &ok), bad);
  CHECK(!ok);

  // Every truncation of a TCP frame under every rewrite: no read or write
  // past the frame (sanitizer build), never a false "applied" on a frame
  // too short for the header.
  auto tcp = PacketBuilder().eth().vlan(3).ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).build();
  auto tcp6 = PacketBuilder().eth().ipv6("::1", "::2").ipv6_ext(0).tcp(1, 2).build();
  const uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
  for (const auto& frame : {tcp, tcp6}) {
    for (size_t cut = 0; cut <= frame.size(); cut++) {
      std::vector<uint8_t> f(frame.begin(), frame.begin() + static_cast<long>(cut));
      for (const DpAction& a :
           {act_set_eth_src(mac), act_set_ipv4_src(7), act_set_ipv4_tos(5), act_dec_ttl(),
            act_set_ipv6_dst(ip6("::5").data()), act_set_tp_src(9), act_set_tp_dst(9),
            act_pop_vlan(), act_push_vlan(0x8100, 5), act_set_vlan_vid(4), act_set_vlan_pcp(2)}) {
        bool applied;
        auto out = rewrite(f, a, &applied);
        if (cut < 14 && a.type != ActType::kDecTtl) CHECK(!applied);  // (dec_ttl: not IP, kept)
        if (a.type == ActType::kSetTpSrc && cut < frame.size()) {
          INFO("cut " << cut << " of " << frame.size());
          CHECK(!applied);
        }
      }
    }
  }
}

TEST_CASE("dec_ttl: decrement, refuse at 0/1, ignore non-IP", "[datapath][actions]") {
  for (uint8_t ttl : {uint8_t{0}, uint8_t{1}}) {
    auto v4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.ttl = ttl}).udp(1, 2).build();
    FakeMbuf m4(v4);
    CHECK(!action_dec_ttl(&m4.m));
    CHECK_FRAME(m4.bytes(), v4);
    auto v6 = PacketBuilder().eth().ipv6("::1", "::2", {.hop_limit = ttl}).udp(1, 2).build();
    FakeMbuf m6(v6);
    CHECK(!action_dec_ttl(&m6.m));
    CHECK_FRAME(m6.bytes(), v6);
  }
  auto v4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.ttl = 2}).udp(1, 2).build();
  FakeMbuf m4(v4);
  CHECK(action_dec_ttl(&m4.m));
  CHECK_FRAME(m4.bytes(),
              PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.ttl = 1}).udp(1, 2).build());
  auto arp = PacketBuilder().eth().arp(1, kMacA, "10.0.0.1", Mac{}, "10.0.0.2").build();
  FakeMbuf ma(arp);
  CHECK(action_dec_ttl(&ma.m));
  CHECK_FRAME(ma.bytes(), arp);
}

TEST_CASE("push_vlan, pop_vlan, set_vlan_vid, set_vlan_pcp", "[datapath][actions]") {
  auto inner = [](PacketBuilder& b) { b.ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload(6); };
  auto frame = [&](std::initializer_list<std::pair<uint16_t, uint16_t>> tags) {
    PacketBuilder b;
    b.eth();
    for (auto [tci, tpid] : tags) b.vlan(tci, tpid);
    inner(b);
    return b.build();
  };
  const auto untagged = frame({});
  const auto tagged = frame({{0xa064, 0x8100}});
  const auto qinq = frame({{0x0007, 0x88a8}, {0xa064, 0x8100}});

  FakeMbuf m(untagged);
  CHECK(action_push_vlan(&m.m, 0x8100, 0xa064));
  CHECK_FRAME(m.bytes(), tagged);
  CHECK(m.m.data_off == kHeadroom - 4);
  CHECK(m.m.pkt_len == tagged.size());
  CHECK(action_push_vlan(&m.m, 0x88a8, 0x0007));
  CHECK_FRAME(m.bytes(), qinq);
  CHECK(action_pop_vlan(&m.m));
  CHECK_FRAME(m.bytes(), tagged);
  CHECK(action_pop_vlan(&m.m));
  CHECK_FRAME(m.bytes(), untagged);
  CHECK(m.m.data_off == kHeadroom);
  CHECK(!action_pop_vlan(&m.m));  // untagged: no-op
  CHECK_FRAME(m.bytes(), untagged);

  // The key parser agrees with the rewritten frame.
  FakeMbuf k(untagged);
  REQUIRE(action_push_vlan(&k.m, 0x8100, 0x2005));
  FlowKey key;
  flow_key_extract(rte_pktmbuf_mtod(&k.m, const uint8_t*), k.m.data_len, 1, &key);
  CHECK(key.vlan_tci == htons(0x3005));
  CHECK(key.tp_dst == htons(2));

  // No headroom: push fails and leaves the packet alone.
  FakeMbuf tight(untagged, 2);
  CHECK(!action_push_vlan(&tight.m, 0x8100, 1));
  CHECK_FRAME(tight.bytes(), untagged);

  // set_vlan_vid keeps PCP; pushes a tag (PCP 0) when untagged.
  CHECK_FRAME(rewrite(tagged, act_set_vlan_vid(0x123)), frame({{0xa123, 0x8100}}));
  CHECK_FRAME(rewrite(qinq, act_set_vlan_vid(9)), frame({{0x0009, 0x88a8}, {0xa064, 0x8100}}));
  CHECK_FRAME(rewrite(untagged, act_set_vlan_vid(77)), frame({{77, 0x8100}}));
  // set_vlan_pcp keeps VID and DEI; no-op without a tag.
  CHECK_FRAME(rewrite(tagged, act_set_vlan_pcp(2)), frame({{0x4064, 0x8100}}));
  auto dei = frame({{0x1064, 0x8100}});
  CHECK_FRAME(rewrite(dei, act_set_vlan_pcp(7)), frame({{0xf064, 0x8100}}));
  bool ok;
  CHECK_FRAME(rewrite(untagged, act_set_vlan_pcp(2), &ok), untagged);
  CHECK(!ok);
  // Through action_set_field as the PMD calls it.
  CHECK_FRAME(rewrite(tagged, act_pop_vlan()), untagged);
  CHECK_FRAME(rewrite(untagged, act_push_vlan(0x8100, 0xa064)), tagged);
}

TEST_CASE("DpActions equality and constructors", "[datapath][actions]") {
  DpActions a, b;
  CHECK(a == b);
  a.add(act_output(1));
  CHECK(!(a == b));
  b.add(act_output(1));
  CHECK(a == b);
  a.add(act_set_ipv4_src(ip4("10.0.0.1")));
  b.add(act_set_ipv4_src(ip4("10.0.0.2")));
  CHECK(!(a == b));
  b.acts[1] = act_set_ipv4_src(ip4("10.0.0.1"));
  CHECK(a == b);
  // Every byte counts (a tnl_push's header slots are raw bytes in every
  // field, `pad` included); the constructors leave pad 0.
  b.acts[1].pad = 0x5a;
  CHECK(!(a == b));
  b.acts[1].pad = 0;
  CHECK(a == b);
  b.acts[1] = act_set_ipv4_dst(ip4("10.0.0.1"));
  CHECK(!(a == b));
  b.acts[1] = act_set_ipv4_src(ip4("10.0.0.1"));
  const uint8_t m1[6] = {1, 2, 3, 4, 5, 6}, m2[6] = {1, 2, 3, 4, 5, 7};
  DpActions e1, e2;
  e1.add(act_set_eth_src(m1));
  e2.add(act_set_eth_src(m2));
  CHECK(!(e1 == e2));
  e2.acts[0] = act_set_eth_src(m1);
  CHECK(e1 == e2);
  // Entries past n do not matter.
  a.acts[5] = act_output(9);
  CHECK(a == b);

  DpActions full;
  for (unsigned i = 0; i < kMaxDpActions; i++) CHECK(full.add(act_output(i)));
  CHECK(full.full());
  CHECK(!full.add(act_output(99)));
  CHECK(full.n == kMaxDpActions);

  DpAction pv = act_push_vlan(0x88a8, 0x2064);
  CHECK(pv.type == ActType::kPushVlan);
  CHECK(pv.arg16 == 0x88a8);
  CHECK(pv.arg32 == 0x2064);
  CHECK(act_set_ipv4_tos(46).arg16 == 46 << 2);
  CHECK(act_set_vlan_vid(0x1fff).arg16 == 0x0fff);
}

TEST_CASE("format_actions", "[datapath][actions]") {
  DpActions none;
  CHECK(format_actions(none) == "drop");
  DpActions a;
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x0c};
  a.add(act_pop_vlan());
  a.add(act_push_vlan(0x8100, 100));
  a.add(act_set_eth_src(mac));
  a.add(act_set_ipv4_dst(ip4("192.168.0.9")));
  a.add(act_set_ipv4_tos(46));
  a.add(act_dec_ttl());
  a.add(act_set_ipv6_src(ip6("2001:db8::5").data()));
  a.add(act_set_tp_dst(htons(8080)));
  a.add(act_set_vlan_vid(7));
  a.add(act_set_vlan_pcp(3));
  a.add(act_userspace(42));
  a.add(act_output(2));
  CHECK(format_actions(a) ==
        "pop_vlan,push_vlan(tpid=0x8100,tci=100),set_eth_src(02:00:00:00:00:0c),"
        "set_ipv4_dst(192.168.0.9),set_ipv4_tos(dscp=46),dec_ttl,set_ipv6_src(2001:db8::5),"
        "set_tp_dst(8080),set_vlan_vid(7),set_vlan_pcp(3),userspace(cookie=42),output:2");
}
