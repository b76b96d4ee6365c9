// Native tunneling in the datapath (tunnel_actions.h, the PMD's tnl_pop /
// tnl_push and its recirculation queue):
//  - tnl_pop_parse takes VXLAN, Geneve (options, OAM) and GRE (key,
//    checksum, sequence) over IPv4 and IPv6, and refuses, by name, every
//    malformed outer header (checksums, flags, versions, lengths, fragments);
//  - tnl_push fills lengths, checksums and the UDP source port so that the
//    result parses back to the inner frame (the round trip), and refuses
//    oversize packets and missing headroom;
//  - in a PMD: a tnl_pop flow, then the inner flow chosen by tun_id on the
//    tunnel port; a miss reaches the miss ring with the tunnel metadata; a
//    tnl_push flow outputs an encapsulated frame on the underlay port.
// No EAL (FakeMbuf / pmd_rig.h): the sanitizer build runs these.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <set>

#include "pmd_rig.h"
#include "pmd_stages.h"
#include "tnl_frames.h"

using namespace dps::datapath;
using namespace dps::test;

TEST_CASE("tnl_pop_parse: VXLAN, Geneve and GRE outer headers into tunnel metadata",
          "[datapath][tunnel]") {
  const std::vector<uint8_t> inner = inner_frame();
  SECTION("VXLAN over IPv4, no UDP checksum") {
    Ipv4Opts o;
    o.df = true;
    o.tos = 0x28;
    o.ttl = 17;
    Popped r = pop(vxlan_frame(0x123456, inner, false, o), TunnelType::kVxlan);
    REQUIRE(r.err == TnlPopError::kNone);
    CHECK(r.hdr_len == 50);
    CHECK(r.inner == inner);
    CHECK(r.md.tun_id == __builtin_bswap64(0x123456));
    CHECK(r.md.ipv4_src == inet_addr("192.168.1.1"));
    CHECK(r.md.ipv4_dst == inet_addr("192.168.1.2"));
    CHECK(r.md.tp_dst == htons(4789));
    CHECK(r.md.tos == 0x28);
    CHECK(r.md.ttl == 17);
    CHECK(r.md.flags == (kTunFlagKey | kTunFlagDontFrag));
  }
  SECTION("VXLAN with a UDP checksum: verified, csum flag") {
    Popped r = pop(vxlan_frame(7, inner, true), TunnelType::kVxlan);
    REQUIRE(r.err == TnlPopError::kNone);
    CHECK(r.md.flags == (kTunFlagKey | kTunFlagCsum));
    CHECK(r.inner == inner);
  }
  SECTION("Geneve with an option and the OAM bit, over IPv6") {
    const std::vector<uint8_t> opt = {0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef};
    std::vector<uint8_t> f = PacketBuilder().eth().ipv6("fd00::1", "fd00::2").udp(40000, 6081)
                                 .bytes(cat(geneve_hdr(99, opt, true), inner)).build();
    FakeMbuf m(f);
    uint32_t hdr_len = 0;
    TnlMd md;
    REQUIRE(tnl_pop_parse(&m.m, TunnelType::kGeneve, &hdr_len, &md) == TnlPopError::kNone);
    CHECK(hdr_len == 14 + 40 + 8 + 8 + 8);
    CHECK(md.tun_id == __builtin_bswap64(99));
    CHECK(md.flags == (kTunFlagKey | kTunFlagOam | kTunFlagCsum));
    REQUIRE(md.opts_len == 8);
    CHECK(std::equal(opt.begin(), opt.end(), md.opts));
    CHECK(md.ipv4_dst == 0);
    CHECK(md.ipv6_dst[15] == 2);
    tnl_pop_strip(&m.m, hdr_len, md.inner_len);
    FlowKey k;
    const uint32_t h = flow_key_extract(rte_pktmbuf_mtod(&m.m, const uint8_t*), m.m.data_len, kTunnelPort, &k);
    const uint32_t th = tnl_md_to_key(md, &k, h);
    CHECK(th != h);
    CHECK(k.in_port == kTunnelPort);
    CHECK(k.ext_words == 1);
    CHECK(k.tun_opts_len == 8);
    CHECK(k.tun_opts[4] == 0xde);
    CHECK(k.tun_ipv6_src[15] == 1);
    CHECK(k.nw_dst == inet_addr("10.1.0.2"));
  }
  SECTION("GRE with checksum, key and sequence number") {
    Popped r = pop(gre_frame(0xb000, 0xabcdef01, inner), TunnelType::kGre);
    REQUIRE(r.err == TnlPopError::kNone);
    CHECK(r.hdr_len == 14 + 20 + 16);
    CHECK(r.md.tun_id == __builtin_bswap64(0xabcdef01));
    CHECK(r.md.flags == (kTunFlagKey | kTunFlagCsum));
    CHECK(r.md.tp_dst == 0);
    CHECK(r.inner == inner);
  }
  SECTION("GRE without a key: tun_id 0, no key flag") {
    Popped r = pop(gre_frame(0, 0, inner), TunnelType::kGre);
    REQUIRE(r.err == TnlPopError::kNone);
    CHECK(r.md.tun_id == 0);
    CHECK(r.md.flags == 0);
  }
  SECTION("Ethernet padding after a short outer frame is trimmed") {
    std::vector<uint8_t> tiny = PacketBuilder().eth().ethertype(0x88b5).build();
    std::vector<uint8_t> f = vxlan_frame(1, tiny);
    f.insert(f.end(), 6, 0);
    Popped r = pop(f, TunnelType::kVxlan);
    REQUIRE(r.err == TnlPopError::kNone);
    CHECK(r.inner == tiny);
  }
}

TEST_CASE("tnl_pop_parse: malformed outer headers are refused by name", "[datapath][tunnel]") {
  const std::vector<uint8_t> inner = inner_frame();
  auto err = [](std::vector<uint8_t> f, TunnelType t) { return pop(f, t).err; };
  std::vector<uint8_t> f = vxlan_frame(5, inner);
  SECTION("IPv4 header checksum") {
    f[14 + 10] ^= 0x01;
    CHECK(err(f, TunnelType::kVxlan) == TnlPopError::kBadChecksum);
  }
  SECTION("UDP checksum present and wrong") {
    std::vector<uint8_t> g = vxlan_frame(5, inner, true);
    g.back() ^= 0xff;
    CHECK(err(g, TunnelType::kVxlan) == TnlPopError::kBadChecksum);
  }
  SECTION("VXLAN flags: I bit clear, or a reserved bit set") {
    f[42] = 0x00;
    CHECK(err(f, TunnelType::kVxlan) == TnlPopError::kBadTunnel);
    f[42] = 0x0c;
    CHECK(err(f, TunnelType::kVxlan) == TnlPopError::kBadTunnel);
  }
  SECTION("a fragment") {
    Ipv4Opts o;
    o.mf = true;
    CHECK(err(vxlan_frame(5, inner, false, o), TunnelType::kVxlan) == TnlPopError::kBadIp);
  }
  SECTION("cut short, and an IP length past the frame") {
    f.resize(14 + 20 + 8 + 4);
    CHECK(err(f, TunnelType::kVxlan) == TnlPopError::kTruncated);
    std::vector<uint8_t> g = vxlan_frame(5, inner);
    g.resize(g.size() - 10);
    CHECK(err(g, TunnelType::kVxlan) == TnlPopError::kTruncated);
  }
  SECTION("UDP for a GRE port, GRE for a VXLAN port") {
    CHECK(err(f, TunnelType::kGre) == TnlPopError::kBadTunnel);
    CHECK(err(gre_frame(0, 0, inner), TunnelType::kVxlan) == TnlPopError::kBadTunnel);
  }
  SECTION("Geneve: version 1, not Ethernet inside, options past the key's room") {
    auto geneve = [&](std::vector<uint8_t> h) {
      return PacketBuilder().eth().ipv4("192.168.1.1", "192.168.1.2").udp(1, 6081, false)
          .bytes(cat(h, inner)).build();
    };
    std::vector<uint8_t> v1 = geneve_hdr(1, {});
    v1[0] |= 0x40;
    CHECK(err(geneve(v1), TunnelType::kGeneve) == TnlPopError::kBadTunnel);
    CHECK(err(geneve(geneve_hdr(1, {}, false, 0x0800)), TunnelType::kGeneve) == TnlPopError::kBadTunnel);
    std::vector<uint8_t> big(kTunOptsMax + 4, 0);
    big[3] = static_cast<uint8_t>(big.size() / 4 - 1);  // one option spanning them all
    CHECK(err(geneve(geneve_hdr(1, big)), TunnelType::kGeneve) == TnlPopError::kTooManyOpts);
  }
  SECTION("GRE: routing bit, version 1, wrong checksum, not Ethernet inside") {
    CHECK(err(gre_frame(0x4000, 0, inner), TunnelType::kGre) == TnlPopError::kBadTunnel);
    CHECK(err(gre_frame(0x0001, 0, inner), TunnelType::kGre) == TnlPopError::kBadTunnel);
    CHECK(err(gre_frame(0, 0, inner, 0x0800), TunnelType::kGre) == TnlPopError::kBadTunnel);
    std::vector<uint8_t> g = gre_frame(0x8000, 0, inner);
    g.back() ^= 0x5a;
    CHECK(err(g, TunnelType::kGre) == TnlPopError::kBadChecksum);
  }
}

TEST_CASE("tnl_push: lengths, checksums and source port; the result pops back to the inner frame",
          "[datapath][tunnel]") {
  const std::vector<uint8_t> inner = inner_frame();
  uint16_t ip_id = 100;
  struct Case {
    const char* name;
    TunnelType type;
    bool v6;
    uint8_t flags;
    uint16_t flags_seen;
  };
  const Case cases[] = {
      {"VXLAN/IPv4", TunnelType::kVxlan, false, 0, kTunFlagKey | kTunFlagDontFrag},
      {"VXLAN/IPv4 with UDP checksum", TunnelType::kVxlan, false, kTnlUdpCsum,
       kTunFlagKey | kTunFlagDontFrag | kTunFlagCsum},
      {"Geneve/IPv6 (UDP checksum always)", TunnelType::kGeneve, true, kTnlUdpCsum, kTunFlagKey | kTunFlagCsum},
      {"GRE/IPv4 with checksum", TunnelType::kGre, false, kTnlGreCsum, kTunFlagCsum | kTunFlagDontFrag},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      DpActions a = push_actions(c.type, c.v6, c.flags, 3);
      FakeMbuf m(inner);
      REQUIRE(tnl_push(&m.m, &a.acts[0], &ip_id) == TnlPushError::kNone);
      const std::vector<uint8_t> outer = m.bytes();
      Popped r = pop(outer, c.type);
      REQUIRE(r.err == TnlPopError::kNone);
      CHECK(r.inner == inner);
      CHECK(r.md.flags == c.flags_seen);
      if (c.type != TunnelType::kGre) {
        const unsigned u = c.v6 ? 54 : 34;
        const uint16_t sport = static_cast<uint16_t>(outer[u] << 8 | outer[u + 1]);
        CHECK(sport >= 32768);
        CHECK(sport <= 61000);
      }
      CHECK(ip_id == 100);  // DF set: the identification stays the template's
    }
  }
}

TEST_CASE("tnl_push: the UDP source port follows the inner flow; oversize and headroom refused",
          "[datapath][tunnel]") {
  DpActions a = push_actions(TunnelType::kVxlan, false, 0, 3);
  uint16_t ip_id = 0;
  auto sport_of = [&](const std::vector<uint8_t>& inner) {
    FakeMbuf m(inner);
    REQUIRE(tnl_push(&m.m, &a.acts[0], &ip_id) == TnlPushError::kNone);
    const std::vector<uint8_t> o = m.bytes();
    return static_cast<uint16_t>(o[34] << 8 | o[35]);
  };
  std::set<uint16_t> ports;
  for (uint16_t s = 1; s <= 64; s++) ports.insert(sport_of(inner_frame("10.1.0.2", s)));
  CHECK(ports.size() >= 56);  // 64 flows over 28k ports: a few collisions at most
  CHECK(sport_of(inner_frame("10.1.0.2", 7)) == sport_of(inner_frame("10.1.0.2", 7)));
  SECTION("over the underlay MTU") {
    DpActions small = push_actions(TunnelType::kVxlan, false, 0, 3, 100);
    FakeMbuf m(inner_frame());  // 14 + 20 + 8 + 30 inner + 36 outer IP/UDP/VXLAN > 100
    CHECK(tnl_push(&m.m, &small.acts[0], &ip_id) == TnlPushError::kTooBig);
    CHECK(m.bytes() == inner_frame());
  }
  SECTION("no headroom") {
    FakeMbuf m(inner_frame(), 16);
    CHECK(tnl_push(&m.m, &a.acts[0], &ip_id) == TnlPushError::kNoHeadroom);
  }
  SECTION("format_actions steps over the header slots") {
    a.add(act_output(2));
    CHECK(format_actions(a) == "tnl_push(vxlan,header=50,ipv4,udp_src=32768-61000,mtu=1500,out=3),output:2");
  }
}

TEST_CASE("PMD: tnl_pop, the inner flow chosen by tun_id on the tunnel port, misses with metadata, tnl_push",
          "[datapath][tunnel][pmd]") {
  PmdRig rig;
  DpFlow* outer = rig.make_flow("in_port=1,eth_type=0x0800,nw_dst=192.168.1.2", "drop");
  outer->actions = DpActions{};
  outer->actions.add(act_tnl_pop(TunnelType::kVxlan, kTunnelPort));
  PmdCommand* cmd = rig.new_command(PmdCmdType::kInstall);
  cmd->flow = outer;
  REQUIRE(rig.run(cmd) == 0);
  for (auto [vni, port] : {std::pair<uint32_t, const char*>{42, "output:2"}, {43, "output:3"}}) {
    DpFlow* f = rig.make_flow("in_port=5", port);
    f->mask.tun_id = ~uint64_t{0};
    f->key.tun_id = __builtin_bswap64(vni);
    PmdCommand* c = rig.new_command(PmdCmdType::kInstall);
    c->flow = f;
    REQUIRE(rig.run(c) == 0);
  }
  const std::vector<uint8_t> inner = inner_frame();
  std::vector<rte_mbuf*> pkts = rig.packets({vxlan_frame(42, inner), vxlan_frame(43, inner),
                                             vxlan_frame(42, inner), vxlan_frame(44, inner)});
  for (rte_mbuf* p : pkts) rig.port(1).rx.push_back(p);
  rig.pmd->run_once();
  REQUIRE(rig.port(2).sent.size() == 2);
  REQUIRE(rig.port(3).sent.size() == 1);
  for (rte_mbuf* p : {rig.port(2).sent[0], rig.port(3).sent[0]}) {
    const uint8_t* d = rte_pktmbuf_mtod(p, const uint8_t*);
    CHECK(std::vector<uint8_t>(d, d + p->data_len) == inner);
  }
  CHECK(rig.counter(kRecirculated) == 4);
  CHECK(rig.counter(kTnlPopErrors) == 0);
  Upcall ups[4];
  REQUIRE(rig.pmd->misses().dequeue_burst(ups, 4) == 1);
  CHECK(ups[0].pkt == pkts[3]);
  CHECK(ups[0].key.in_port == kTunnelPort);
  CHECK(ups[0].key.tun_id == __builtin_bswap64(44));
  CHECK(ups[0].key.tun_ipv4_src == inet_addr("192.168.1.1"));
  CHECK(ups[0].key.nw_dst == inet_addr("10.1.0.2"));
  const std::string text = flow_key_format(ups[0].key);
  CHECK_THAT(text, Catch::Contains("in_port=5") && Catch::Contains("tun_id=0x2c") &&
                       Catch::Contains("tun_ipv4_src=192.168.1.1") && Catch::Contains("tun_tp_dst=4789"));

  SECTION("tnl_push: the underlay port gets a frame that pops back") {
    DpFlow* enc = rig.make_flow("in_port=2", "drop");
    enc->actions = push_actions(TunnelType::kVxlan, false, 0, 3);
    PmdCommand* c = rig.new_command(PmdCmdType::kInstall);
    c->flow = enc;
    REQUIRE(rig.run(c) == 0);
    std::vector<rte_mbuf*> in = rig.packets({inner});
    rig.pmd->process_batch(2, in.data(), 1);
    rig.pmd->run_once();
    REQUIRE(rig.port(3).sent.size() == 2);
    rte_mbuf* o = rig.port(3).sent[1];
    const uint8_t* d = rte_pktmbuf_mtod(o, const uint8_t*);
    Popped r = pop(std::vector<uint8_t>(d, d + o->data_len), TunnelType::kVxlan);
    REQUIRE(r.err == TnlPopError::kNone);
    CHECK(r.inner == inner);
    CHECK(r.md.tun_id == __builtin_bswap64(42));
  }
}

TEST_CASE("tnl_pop_ecn: RFC 6040 decapsulation of an outer CE", "[datapath][tunnel]") {
  auto v4 = [](uint8_t tos) {
    Ipv4Opts o;
    o.tos = tos;
    return PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2", o).udp(1, 2).payload(8).build();
  };
  auto tos_after = [](std::vector<uint8_t> f, uint8_t outer, TnlPopError* e) {
    FakeMbuf m(f);
    *e = tnl_pop_ecn(&m.m, outer);
    return m.bytes();
  };
  TnlPopError e;
  SECTION("outer CE over ECT(0): inner CE, IPv4 checksum still right") {
    std::vector<uint8_t> out = tos_after(v4(0x2a), 0x03, &e);
    CHECK(e == TnlPopError::kNone);
    CHECK(out[15] == 0x2b);
    const uint16_t c = ipv4_header_checksum(out.data() + 14, 20);
    CHECK(out[24] == (c >> 8));
    CHECK(out[25] == (c & 0xff));
  }
  SECTION("outer CE over Not-ECT: undeliverable") {
    tos_after(v4(0x28), 0x03, &e);
    CHECK(e == TnlPopError::kEcnNotEct);
  }
  SECTION("outer ECT without CE, or inner CE already: unchanged") {
    CHECK(tos_after(v4(0x00), 0x02, &e) == v4(0x00));
    CHECK(e == TnlPopError::kNone);
    CHECK(tos_after(v4(0x03), 0x03, &e) == v4(0x03));
  }
  SECTION("IPv6 ECT(1) under CE becomes CE; non-IP passes") {
    Ipv6Opts o;
    o.tclass = 0x01;
    std::vector<uint8_t> f = PacketBuilder().eth().ipv6("fd00::1", "fd00::2", o).udp(1, 2).build();
    std::vector<uint8_t> out = tos_after(f, 0x03, &e);
    CHECK(e == TnlPopError::kNone);
    CHECK(((out[14] & 0x0f) << 4 | out[15] >> 4) == 0x03);
    std::vector<uint8_t> arp = PacketBuilder().eth().ethertype(0x0806).payload(28).build();
    CHECK(tos_after(arp, 0x03, &e) == arp);
    CHECK(e == TnlPopError::kNone);
  }
}
