// setfield_actions_test.cc - the OpenFlow 1.3 set-fields beyond addresses
// and ports: ip_ecn (IPv4, IPv6), ip_dscp on IPv6, ipv6_flabel, the IPv6
// hop limit, ICMPv4/ICMPv6 type and code, the ARP fields and the ND target
// and link-layer options.
//
// Coverage goal: each action on every header shape it applies to (VLAN and
// QinQ tags, IPv4 options, IPv6 extension headers, odd payloads, Ethernet
// padding), and on shapes that lack its header (false, frame unchanged).
// Oracle, independent of the code under test: the rewritten frame must be
// byte-identical to the frame PacketBuilder builds directly with the new
// values (its checksums computed in full), and checksum_errors() re-parses
// it and recomputes every checksum (IPv4 header, ICMP, ICMPv6 with its
// pseudo-header) from scratch.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <functional>
#include <random>
#include <tuple>

#include "actions.h"
#include "dp_test_util.h"
#include "packet_builder.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

// The header fields the frames below are built from.
struct F {
  uint8_t tos = 0x02;         // IPv4 TOS / IPv6 traffic class
  uint32_t flabel = 0x12345;  // IPv6 only
  uint8_t ttl = 64;
  uint8_t icmp_type = 8, icmp_code = 0;
  uint16_t arp_op = 1;
  std::string spa = "10.0.0.1", tpa = "10.0.0.2";
  Mac sha = kMacA, tha = kMacB;
  std::string target = "fe80::1";
  Mac lladdr = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
};

using Build = std::function<std::vector<uint8_t>(const F&)>;

// What a frame carries: the header each set-field needs.
enum class Kind { kUdp, kIcmp, kArp, kNs, kNa };

struct Frame {
  const char* name;
  Kind kind;
  bool v6;  // the IP version (IP frames)
  Build build;
};

// IP frames carrying UDP or ICMP (icmp: true) with every header shape.
std::vector<Frame> ip_frames(bool icmp) {
  auto l4 = [icmp](PacketBuilder& b, const F& f, bool v6) {
    if (!icmp)
      b.udp(1000, 2000);
    else if (v6)
      b.icmp6(f.icmp_type, f.icmp_code, 0x00420001);
    else
      b.icmp(f.icmp_type, f.icmp_code, 0x00420001);
    b.payload(23, 0x5c);  // odd: the checksum's padding byte
  };
  const Kind k = icmp ? Kind::kIcmp : Kind::kUdp;
  return {
      {"ipv4", k, false,
       [=](const F& f) {
         PacketBuilder b;
         b.eth().ipv4("10.0.0.1", "10.0.0.2", {.tos = f.tos, .ttl = f.ttl});
         l4(b, f, false);
         return b.build();
       }},
      {"qinq+ipv4 options+padding", k, false,
       [=](const F& f) {
         PacketBuilder b;
         b.eth().vlan(0x3005, 0x88a8).vlan(7).ipv4("192.168.1.1", "172.16.0.9",
                                                  {.tos = f.tos, .ttl = f.ttl, .options_len = 8});
         l4(b, f, false);
         return b.pad(9).build();
       }},
      {"ipv6", k, true,
       [=](const F& f) {
         PacketBuilder b;
         b.eth().ipv6("2001:db8::1", "2001:db8::2",
                      {.tclass = f.tos, .flow_label = f.flabel, .hop_limit = f.ttl});
         l4(b, f, true);
         return b.build();
       }},
      {"vlan+ipv6 ext headers", k, true,
       [=](const F& f) {
         PacketBuilder b;
         b.eth().vlan(42).ipv6("2001:db8::a", "2001:db8::b",
                               {.tclass = f.tos, .flow_label = f.flabel, .hop_limit = f.ttl})
             .ipv6_ext(0, 16).ipv6_ext(60).ipv6_frag(0, false);
         l4(b, f, true);
         return b.build();
       }},
  };
}

std::vector<Frame> arp_frames() {
  auto arp = [](PacketBuilder& b, const F& f) {
    b.arp(f.arp_op, f.sha, f.spa.c_str(), f.tha, f.tpa.c_str());
  };
  return {
      {"arp", Kind::kArp, false,
       [=](const F& f) {
         PacketBuilder b;
         b.eth();
         arp(b, f);
         return b.build();
       }},
      {"vlan+arp+padding", Kind::kArp, false,
       [=](const F& f) {
         PacketBuilder b;
         b.eth().vlan(100);
         arp(b, f);
         return b.pad(18).build();
       }},
  };
}

// Neighbor Solicitation (with SLL) and Advertisement (with TLL).
std::vector<Frame> nd_frames() {
  return {
      {"ns+sll", Kind::kNs, true,
       [](const F& f) {
         return PacketBuilder().eth().ipv6("fe80::2", "ff02::1:ff00:1",
                                           {.tclass = f.tos, .flow_label = f.flabel, .hop_limit = f.ttl})
             .nd(135, f.target.c_str(), f.lladdr).build();
       }},
      {"vlan+ext+na+tll", Kind::kNa, true,
       [](const F& f) {
         return PacketBuilder().eth().vlan(5).ipv6("fe80::1", "fe80::2",
                                                   {.tclass = f.tos, .flow_label = f.flabel, .hop_limit = f.ttl})
             .ipv6_ext(60).nd(136, f.target.c_str(), {}, f.lladdr).build();
       }},
  };
}

std::string rand_ip4(std::mt19937& rng) {
  return std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
         std::to_string(rng() % 256) + "." + std::to_string(rng() % 256);
}

Mac rand_mac(std::mt19937& rng) {
  Mac m;
  for (uint8_t& b : m) b = static_cast<uint8_t>(rng());
  return m;
}

// One rewrite: its action, the fields it should produce, and a predicate
// telling the frames that have its header.
struct Case {
  std::string what;
  DpAction act;
  F want;
  std::function<bool(const Frame&)> applies;
  // The ND frames' ICMPv6 type and code are the ND builder's own (F cannot
  // describe them changed): ICMPv6 type/code cases skip them.
  bool on_nd = true;
};

// The cases with random new values over base fields f.
std::vector<Case> cases(std::mt19937& rng, const F& f) {
  std::vector<Case> v;
  auto is_ip = [](const Frame& fr) { return fr.kind != Kind::kArp; };  // IP frames incl. ND
  auto is_ip6 = [](const Frame& fr) { return fr.kind != Kind::kArp && fr.v6; };
  auto is_arp = [](const Frame& fr) { return fr.kind == Kind::kArp; };
  auto is_icmp4 = [](const Frame& fr) { return fr.kind == Kind::kIcmp && !fr.v6; };
  auto is_icmp6 = [](const Frame& fr) { return fr.kind == Kind::kIcmp && fr.v6; };
  F q = f;
  const uint8_t ecn = static_cast<uint8_t>(rng() % 4), dscp = static_cast<uint8_t>(rng() % 64);
  q.tos = static_cast<uint8_t>((f.tos & 0xfc) | ecn);
  v.push_back({"ip_ecn", act_set_ip_ecn(ecn), q, is_ip});
  q = f, q.tos = static_cast<uint8_t>(dscp << 2 | (f.tos & 3));
  v.push_back({"ipv6_dscp", act_set_ipv6_dscp(dscp), q, is_ip6});
  q = f, q.flabel = rng() & 0xfffff;
  v.push_back({"ipv6_flabel", act_set_ipv6_flabel(q.flabel), q, is_ip6});
  q = f, q.ttl = static_cast<uint8_t>(rng());
  v.push_back({"ipv6_hlim", act_set_ipv6_hlim(q.ttl), q, is_ip6});
  q = f, q.icmp_type = static_cast<uint8_t>(rng() % 128);
  v.push_back({"icmpv4_type", act_set_icmp_type(false, q.icmp_type), q, is_icmp4});
  v.push_back({"icmpv6_type", act_set_icmp_type(true, q.icmp_type), q, is_icmp6, false});
  q = f, q.icmp_code = static_cast<uint8_t>(rng());
  v.push_back({"icmpv4_code", act_set_icmp_code(false, q.icmp_code), q, is_icmp4});
  v.push_back({"icmpv6_code", act_set_icmp_code(true, q.icmp_code), q, is_icmp6, false});
  q = f, q.arp_op = static_cast<uint16_t>(rng());
  v.push_back({"arp_op", act_set_arp_op(q.arp_op), q, is_arp});
  q = f, q.spa = rand_ip4(rng);
  v.push_back({"arp_spa", act_set_arp_spa(ip4(q.spa.c_str())), q, is_arp});
  q = f, q.tpa = rand_ip4(rng);
  v.push_back({"arp_tpa", act_set_arp_tpa(ip4(q.tpa.c_str())), q, is_arp});
  q = f, q.sha = rand_mac(rng);
  v.push_back({"arp_sha", act_set_arp_sha(q.sha.data()), q, is_arp});
  q = f, q.tha = rand_mac(rng);
  v.push_back({"arp_tha", act_set_arp_tha(q.tha.data()), q, is_arp});
  q = f, q.target = "2001:db8::" + std::to_string(rng() % 10000);
  v.push_back({"nd_target", act_set_nd_target(ip6(q.target.c_str()).data()), q,
               [](const Frame& fr) { return fr.kind == Kind::kNs || fr.kind == Kind::kNa; }});
  q = f, q.lladdr = rand_mac(rng);
  v.push_back({"nd_sll", act_set_nd_sll(q.lladdr.data()), q,
               [](const Frame& fr) { return fr.kind == Kind::kNs; }});
  v.push_back({"nd_tll", act_set_nd_tll(q.lladdr.data()), q,
               [](const Frame& fr) { return fr.kind == Kind::kNa; }});
  return v;
}

}  // namespace

TEST_CASE("set-fields: ECN, DSCP, flow label, hop limit, ICMP, ARP, ND equal frames built "
          "with the new values",
          "[datapath][actions][setfield]") {
  std::mt19937 rng(1313);
  std::vector<Frame> frames = ip_frames(false);
  for (const auto& list : {ip_frames(true), arp_frames(), nd_frames()})
    frames.insert(frames.end(), list.begin(), list.end());
  int applied = 0, skipped = 0;
  for (const Frame& fr : frames) {
    for (int iter = 0; iter < 30; iter++) {
      F f;
      f.tos = static_cast<uint8_t>(rng());
      f.ttl = static_cast<uint8_t>(rng());
      f.icmp_type = static_cast<uint8_t>(rng() % 128);  // never ND (135, 136)
      f.icmp_code = static_cast<uint8_t>(rng());
      f.arp_op = static_cast<uint16_t>(1 + rng() % 2);
      f.sha = rand_mac(rng);
      const std::vector<uint8_t> before = fr.build(f);
      REQUIRE(checksum_errors(before) == "");
      for (const Case& c : cases(rng, f)) {
        if (!c.on_nd && (fr.kind == Kind::kNs || fr.kind == Kind::kNa)) continue;
        INFO(fr.name << " kind " << static_cast<int>(fr.kind) << ": " << c.what);
        bool ok = false;
        const std::vector<uint8_t> after = rewrite(before, c.act, &ok);
        const bool has = c.applies(fr);
        CHECK(ok == has);
        if (has) {
          CHECK_FRAME(after, fr.build(c.want));
          CHECK(checksum_errors(after) == "");
          applied++;
        } else {
          CHECK_FRAME(after, before);
          skipped++;
        }
      }
    }
  }
  // Every frame kind saw rewrites and no-ops.
  CHECK(applied > 1000);
  CHECK(skipped > 1000);
}

TEST_CASE("set-fields: explicit bytes for ECN on IPv6 and ICMPv4 type", "[datapath][actions][setfield]") {
  // IPv6 version/class/label word 6 0 0 12345 (class 0x00): ECN 3 makes it
  // 6 0 3 12345 -> bytes 60 31 23 45.
  auto v6 = PacketBuilder().eth().ipv6("::1", "::2", {.tclass = 0x00, .flow_label = 0x12345})
                .udp(1, 2).build();
  auto out = rewrite(v6, act_set_ip_ecn(3));
  CHECK(out[14] == 0x60);
  CHECK(out[15] == 0x31);
  CHECK(out[16] == 0x23);
  CHECK(out[17] == 0x45);
  // Echo request (8, 0) with rest 0: checksum ~(0x0800) = 0xf7ff. Type 0
  // (echo reply): ~0 = 0xffff.
  auto v4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(8, 0, 0).build();
  REQUIRE(v4[14 + 20 + 2] == 0xf7);
  REQUIRE(v4[14 + 20 + 3] == 0xff);
  out = rewrite(v4, act_set_icmp_type(false, 0));
  CHECK(out[14 + 20] == 0);
  CHECK(out[14 + 20 + 2] == 0xff);
  CHECK(out[14 + 20 + 3] == 0xff);
  CHECK(checksum_errors(out) == "");
  // Type and code 0xff (the data sums to 0xffff): the checksum is 0x0000,
  // not 0xffff (incremental equation and full sum agree).
  out = rewrite(v4, act_set_icmp_code(false, 0xff));
  out = rewrite(out, act_set_icmp_type(false, 0xff));
  CHECK(out[14 + 20 + 2] == 0);
  CHECK(out[14 + 20 + 3] == 0);
  CHECK(checksum_errors(out) == "");
}

TEST_CASE("set-fields: ND options absent, repeated or malformed are left alone",
          "[datapath][actions][setfield]") {
  const Mac m = {0x0e, 1, 2, 3, 4, 5};
  bool ok = true;
  // NS without an SLL option.
  auto ns = PacketBuilder().eth().ipv6("fe80::2", "fe80::1").nd(135, "fe80::1").build();
  CHECK_FRAME(rewrite(ns, act_set_nd_sll(m.data()), &ok), ns);
  CHECK_FALSE(ok);
  // Two SLL options: the key parser ignores the ND fields, so does the rewrite.
  auto twice = PacketBuilder().eth().ipv6("fe80::2", "fe80::1").nd(135, "fe80::1", kMacA)
                   .bytes({1, 1, 2, 2, 2, 2, 2, 2}).build();
  REQUIRE(checksum_errors(twice) == "");
  CHECK_FRAME(rewrite(twice, act_set_nd_sll(m.data()), &ok), twice);
  CHECK_FALSE(ok);
  // An option of length 0.
  auto zero = PacketBuilder().eth().ipv6("fe80::2", "fe80::1").nd(135, "fe80::1")
                  .bytes({1, 0, 2, 2, 2, 2, 2, 2}).build();
  CHECK_FRAME(rewrite(zero, act_set_nd_sll(m.data()), &ok), zero);
  CHECK_FALSE(ok);
  // ND with code 1 is not ND (the parser's rule).
  auto code1 = PacketBuilder().eth().ipv6("fe80::2", "fe80::1").icmp6(135, 1).payload(16, 0).build();
  CHECK_FRAME(rewrite(code1, act_set_nd_target(ip6("::9").data()), &ok), code1);
  CHECK_FALSE(ok);
  // The target of an NS without options is still rewritten.
  auto want = PacketBuilder().eth().ipv6("fe80::2", "fe80::1").nd(135, "::9").build();
  CHECK_FRAME(rewrite(ns, act_set_nd_target(ip6("::9").data()), &ok), want);
  CHECK(ok);
}

TEST_CASE("set-fields: truncated ARP and ICMP are left alone", "[datapath][actions][setfield]") {
  bool ok = true;
  auto arp = PacketBuilder().eth().arp(1, kMacA, "1.1.1.1", kMacB, "2.2.2.2").build();
  arp.resize(arp.size() - 1);
  CHECK_FRAME(rewrite(arp, act_set_arp_op(2), &ok), arp);
  CHECK_FALSE(ok);
  // A non-Ethernet/IPv4 ARP (hlen 8) is not parsed, so not rewritten.
  auto odd = PacketBuilder().eth().arp(1, kMacA, "1.1.1.1", kMacB, "2.2.2.2").build();
  odd[14 + 4] = 8;
  CHECK_FRAME(rewrite(odd, act_set_arp_spa(ip4("9.9.9.9")), &ok), odd);
  CHECK_FALSE(ok);
  auto icmp = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(8, 0).build();
  std::vector<uint8_t> cut(icmp.begin(), icmp.end() - 1);
  cut[14 + 3] = static_cast<uint8_t>(cut[14 + 3] - 1);  // IPv4 total length: 27
  // (the IPv4 checksum no longer matters: nothing may be touched)
  CHECK_FRAME(rewrite(cut, act_set_icmp_code(false, 3), &ok), cut);
  CHECK_FALSE(ok);
}

TEST_CASE("set-fields: format_actions", "[datapath][actions][setfield]") {
  DpActions l;
  const uint8_t mac[6] = {0, 1, 2, 3, 4, 5};
  for (const DpAction& a :
       {act_set_ip_ecn(3), act_set_ipv6_dscp(46), act_set_ipv6_flabel(0x12345), act_set_ipv6_hlim(7),
        act_set_icmp_type(false, 8), act_set_icmp_code(true, 4), act_set_arp_op(2),
        act_set_arp_spa(ip4("1.2.3.4")), act_set_arp_tpa(ip4("5.6.7.8")), act_set_arp_sha(mac),
        act_set_arp_tha(mac), act_set_nd_target(ip6("fe80::1").data()), act_set_nd_sll(mac),
        act_set_nd_tll(mac)})
    REQUIRE(l.add(a));
  CHECK(format_actions(l) ==
        "set_ip_ecn(3),set_ipv6_dscp(dscp=46),set_ipv6_flabel(74565),set_ipv6_hlim(7),"
        "set_icmpv4_type(8),set_icmpv6_code(4),set_arp_op(2),set_arp_spa(1.2.3.4),"
        "set_arp_tpa(5.6.7.8),set_arp_sha(00:01:02:03:04:05),set_arp_tha(00:01:02:03:04:05),"
        "set_nd_target(fe80::1),set_nd_sll(00:01:02:03:04:05),set_nd_tll(00:01:02:03:04:05)");
}

TEST_CASE("set-fields: eth_type after the tags, ip_proto on both IP versions", "[datapath][actions][setfield]") {
  // The innermost ethertype, behind an 802.1ad and an 802.1Q tag.
  auto q = PacketBuilder().eth().vlan(100, 0x88a8).vlan(200).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  REQUIRE(q[20] == 0x08);
  auto want = q;
  want[20] = 0x86;
  want[21] = 0xdd;
  bool ok = false;
  CHECK(rewrite(q, act_set_eth_type(0x86dd), &ok) == want);
  CHECK(ok);
  // IPv4: the protocol byte and the header checksum (recomputed in full
  // by checksum_errors, which does not know the L4 is no longer UDP).
  auto v4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  auto out = rewrite(v4, act_set_ip_proto(200), &ok);
  CHECK(ok);
  CHECK(out[14 + 9] == 200);
  uint32_t sum = 0;
  for (unsigned i = 14; i < 34; i += 2) sum += static_cast<uint32_t>(out[i] << 8 | out[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  CHECK(sum == 0xffff);
  for (unsigned i = 0; i < out.size(); i++)
    if (i != 14 + 9 && i != 14 + 10 && i != 14 + 11) CHECK(out[i] == v4[i]);
  // IPv6: the fixed header's next header, nothing else.
  auto v6 = PacketBuilder().eth().ipv6("::1", "::2").udp(1, 2).build();
  want = v6;
  want[14 + 6] = 59;
  CHECK(rewrite(v6, act_set_ip_proto(59), &ok) == want);
  CHECK(ok);
  // No IP header: nothing to write.
  auto arp = PacketBuilder().eth().arp(1, kMacA, "10.0.0.1", kMacB, "10.0.0.2").build();
  CHECK(rewrite(arp, act_set_ip_proto(6), &ok) == arp);
  CHECK_FALSE(ok);
}
