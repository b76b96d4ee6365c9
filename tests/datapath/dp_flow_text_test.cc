// dp_flow_text tests: the datapath flow syntax of the config file and the
// dpctl-style commands parses into the right key/mask/actions, round-trips
// through flow_key_format(), and rejects bad input with the offending token.
#include <catch2/catch.hpp>

#include <cstring>

#include <arpa/inet.h>

#include "dp_flow_text.h"

using namespace dps::datapath;

TEST_CASE("datapath matches parse into key and mask", "[datapath][flow_text]") {
  FlowKey k;
  FlowMask m;
  parse_flow_match("in_port=3,eth_type=0x0800,nw_dst=172.16.9.9/12,nw_proto=17,tp_dst=53", &k, &m);
  CHECK(k.in_port == 3);
  CHECK(m.in_port == 0xffffffffu);
  CHECK(k.eth_type == htons(0x0800));
  CHECK(m.nw_dst == htonl(0xfff00000));
  CHECK(k.nw_dst == htonl(0xac100000));  // masked
  CHECK(k.nw_proto == 17);
  CHECK(k.tp_dst == htons(53));
  CHECK(m.nw_src == 0);
  CHECK(flow_key_format(k, &m) ==
        "in_port=3,eth_type=0x0800,nw_dst=172.16.0.0/255.240.0.0,nw_proto=17,tp_dst=53");

  parse_flow_match("dl_dst=02:00:00:00:00:01/ff:ff:ff:00:00:00,ipv6_src=2001:db8::1/32", &k, &m);
  CHECK(k.dl_dst[2] == 0);
  CHECK(m.dl_dst[3] == 0);
  CHECK(m.ipv6_src[3] == 0xff);
  CHECK(m.ipv6_src[4] == 0);
}

TEST_CASE("datapath actions parse in order", "[datapath][flow_text]") {
  DpActions a = parse_dp_actions("set_eth_dst:02:aa:bb:cc:dd:ee,push_vlan:100:3,set_tp_dst:8080,2");
  REQUIRE(a.n == 4);
  CHECK(a.acts[0].type == ActType::kSetEthDst);
  CHECK(a.acts[0].data[5] == 0xee);
  CHECK(a.acts[1].type == ActType::kPushVlan);
  CHECK(a.acts[1].arg32 == (3u << 13 | 100));
  CHECK(a.acts[2].arg16 == htons(8080));
  CHECK(a.acts[3].type == ActType::kOutput);
  CHECK(a.acts[3].arg32 == 2);
  CHECK(parse_dp_actions("drop").n == 0);
  CHECK(parse_dp_actions("").n == 0);
}

TEST_CASE("MPLS and recirculation datapath actions parse", "[datapath][flow_text]") {
  DpActions a = parse_dp_actions(
      "push_mpls:0x8847:0x00064140,set_mpls:0x3f:0xff,copy_ttl_out,copy_ttl_in,pop_mpls:0x0800,recirc:0x12,1");
  REQUIRE(a.n == 7);
  CHECK(a.acts[0].type == ActType::kPushMpls);
  CHECK(a.acts[0].arg16 == 0x8847);
  CHECK(a.acts[0].arg32 == (100u << 12 | 1u << 8 | 64));
  CHECK(a.acts[1].type == ActType::kSetMplsLse);
  CHECK(a.acts[1].arg32 == 0x3f);
  uint32_t mask;
  std::memcpy(&mask, a.acts[1].data, 4);
  CHECK(mask == 0xff);
  CHECK(a.acts[2].type == ActType::kCopyTtlOut);
  CHECK(a.acts[3].type == ActType::kCopyTtlIn);
  CHECK(a.acts[4].type == ActType::kPopMpls);
  CHECK(a.acts[4].arg16 == 0x0800);
  CHECK(a.acts[5].type == ActType::kRecirc);
  CHECK(a.acts[5].arg32 == 0x12);
  std::memcpy(&mask, parse_dp_actions("set_mpls:0x12345678").acts[0].data, 4);
  CHECK(mask == 0xffffffffu);
  CHECK_THROWS_WITH(parse_dp_actions("push_mpls:0x0800:1"), Catch::Contains("not an MPLS ethertype"));
  CHECK_THROWS_WITH(parse_dp_actions("push_mpls:0x8847"), Catch::Contains("takes 2 argument(s)"));
  CHECK_THROWS_WITH(parse_dp_actions("copy_ttl_in:3"), Catch::Contains("takes no argument"));
  CHECK_THROWS_WITH(parse_dp_actions("set_mpls:0x1:0x2:0x3"), Catch::Contains("takes 1..2 argument(s)"));
}

TEST_CASE("PBB datapath actions parse and print", "[datapath][flow_text][pbb]") {
  DpActions a = parse_dp_actions("push_pbb:0xa8123456,set_pbb_isid:0x42,pop_pbb,2");
  REQUIRE(a.n == 4);
  CHECK(a.acts[0].type == ActType::kPushPbb);
  CHECK(a.acts[0].arg32 == 0xa8123456u);
  CHECK(a.acts[1].type == ActType::kSetPbbIsid);
  CHECK(a.acts[1].arg32 == 0x42);
  CHECK(a.acts[2].type == ActType::kPopPbb);
  CHECK(a.acts[3].type == ActType::kOutput);
  CHECK(a == [] {
    DpActions b;
    b.add(act_push_pbb(0xa8123456u));
    b.add(act_set_pbb_isid(0x42));
    b.add(act_pop_pbb());
    b.add(act_output(2));
    return b;
  }());
  CHECK(format_actions(a) == "push_pbb(itag=0xa8123456),set_pbb_isid(0x42),pop_pbb,output:2");
  CHECK_THROWS_WITH(parse_dp_actions("set_pbb_isid:0x1000000"), Catch::Contains("larger than"));
  CHECK_THROWS_WITH(parse_dp_actions("pop_pbb:1"), Catch::Contains("takes no argument"));
  CHECK_THROWS_WITH(parse_dp_actions("push_pbb"), Catch::Contains("takes 1 argument"));
  FlowKey k;
  FlowMask m;
  CHECK_THROWS_WITH(parse_flow_match("pbb_isid=0x1000000", &k, &m), Catch::Contains("larger than"));
}

TEST_CASE("bad datapath flows are rejected naming the token", "[datapath][flow_text]") {
  FlowKey k;
  FlowMask m;
  CHECK_THROWS_WITH(parse_flow_match("in_port=1,bogus=2", &k, &m), Catch::Contains("unknown field 'bogus'"));
  CHECK_THROWS_WITH(parse_flow_match("nw_dst=300.1.1.1", &k, &m), Catch::Contains("not an IPv4 address"));
  CHECK_THROWS_WITH(parse_flow_match("tp_dst=70000", &k, &m), Catch::Contains("larger than 65535"));
  CHECK_THROWS_WITH(parse_flow_match("in_port", &k, &m), Catch::Contains("expected field=value"));
  CHECK_THROWS_WITH(parse_dp_actions("output:x"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(parse_dp_actions("frobnicate"), Catch::Contains("unknown action"));
  std::string many;
  for (unsigned i = 0; i <= kMaxDpActions; i++) many += "output:1,";
  CHECK_THROWS_WITH(parse_dp_actions(many),
                    Catch::Contains("more than " + std::to_string(kMaxDpActions) + " actions"));
}

TEST_CASE("every match field parses with and without a mask", "[datapath][flow_text]") {
  struct Case {
    const char* text;
    const char* formatted;  // flow_key_format(key, &mask)
  };
  const Case cases[] = {
      {"in_port=7", "in_port=7"},
      {"eth_type=0x86dd/0xff00", "eth_type=0x8600/0xff00"},
      {"vlan_tci=0x1064/0x1fff,vlan_tci2=0x1005", "vlan_tci=0x1064/0x1fff,vlan_tci2=0x1005"},
      {"dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff/01:00:00:00:00:00",
       "dl_src=02:00:00:00:00:01,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"},
      {"arp_sha=0a:0b:0c:0d:0e:0f/ff:ff:ff:00:00:00,arp_tha=01:02:03:04:05:06",
       "arp_sha=0a:0b:0c:00:00:00,arp_tha=01:02:03:04:05:06"},
      {"nw_src=10.1.2.3/8,nw_dst=192.168.7.9/255.255.0.255",
       "nw_src=10.0.0.0/255.0.0.0,nw_dst=192.168.0.9/255.255.0.255"},
      {"ipv6_src=2001:db8::1/64,ipv6_dst=fe80::1/ffff:ffff::",
       "ipv6_src=2001:db8::/ffff:ffff:ffff:ffff::,ipv6_dst=fe80::/ffff:ffff::"},
      {"nd_target=2001:db8::99,ipv6_label=0x12345/0xf0000",
       "ipv6_label=0x10000,nd_target=2001:db8::99"},
      {"mpls_lse=0x12345678/0xfffff000", "mpls_lse=0x12345000"},
      // PBB: the I-SID (24 bits, in ipv6_label) prints by its name under 0x88e7.
      {"eth_type=0x88e7,pbb_isid=0xabcdef", "eth_type=0x88e7,pbb_isid=0xabcdef"},
      {"nw_proto=6/0xf0,nw_tos=0xfc,nw_ttl=64", "nw_proto=0,nw_tos=252,nw_ttl=64"},
      {"tp_src=1000/0xff00,tp_dst=80,tcp_flags=0x012/0x0ff", "tp_src=768,tp_dst=80,tcp_flags=0x012"},
      {"nw_frag=no", "nw_frag=no"},
      {"nw_frag=first", "nw_frag=first"},
      {"nw_frag=later", "nw_frag=later"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    FlowKey k;
    FlowMask m;
    parse_flow_match(c.text, &k, &m);
    CHECK(flow_key_format(k, &m) == c.formatted);
    for (unsigned w = 0; w < kFlowWords; w++) CHECK((k.words()[w] & ~m.words()[w]) == 0);
  }
  // The masks flow_key_format does not show.
  FlowKey k;
  FlowMask m;
  parse_flow_match("arp_sha=0a:0b:0c:0d:0e:0f/ff:ff:ff:00:00:00,mpls_lse=1/0xfffff000", &k, &m);
  CHECK(m.arp_sha[2] == 0xff);
  CHECK(m.arp_sha[3] == 0);
  CHECK(m.arp_tha[0] == 0);
  CHECK(m.mpls_lse == htonl(0xfffff000));
  parse_flow_match("nw_proto=6/0xf0,tcp_flags=0x012/0x0ff,ipv6_label=0x12345/0xf0000,nw_frag=first",
                   &k, &m);
  CHECK(m.nw_proto == 0xf0);
  CHECK(m.tcp_flags == htons(0x0ff));
  CHECK(m.ipv6_label == htonl(0xf0000));
  CHECK(m.nw_frag == (kFragAny | kFragLater));
  CHECK(k.nw_frag == kFragAny);
  CHECK(m.in_port == 0);
  parse_flow_match("nw_src=10.1.2.3/0,ipv6_src=::/0", &k, &m);
  CHECK(m.nw_src == 0);
  CHECK(m.ipv6_src[0] == 0);
}

TEST_CASE("bad match values are rejected with the reason", "[datapath][flow_text]") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"nw_dst=1.2.3.4/33", "'nw_dst=1.2.3.4/33': value 33 is larger than 32"},
      {"in_port=1/1", "'in_port=1/1': in_port cannot be masked"},
      {"nw_frag=maybe", "'nw_frag=maybe': nw_frag is one of no, first, later"},
      {"dl_src=02:00:00:00:00",
       "'dl_src=02:00:00:00:00': '02:00:00:00:00' is not a MAC address (xx:xx:xx:xx:xx:xx)"},
      {"ipv6_dst=zz::1", "'ipv6_dst=zz::1': 'zz::1' is not an IPv6 address"},
      {"ipv6_dst=::1/129", "'ipv6_dst=::1/129': value 129 is larger than 128"},
      {"eth_type=-1", "'eth_type=-1': '-1' is not a number"},
      {"nw_ttl=256", "'nw_ttl=256': value 256 is larger than 255"},
      {"ipv6_label=0x100000", "'ipv6_label=0x100000': value 0x100000 is larger than 1048575"},
      {"tcp_flags=0x1000", "'tcp_flags=0x1000': value 0x1000 is larger than 4095"},
      {"=1", "'=1': unknown field ''"},
      {"nw_proto=", "'nw_proto=': missing value"},
  };
  for (const Case& c : cases) {
    FlowKey k;
    FlowMask m;
    CHECK_THROWS_WITH(parse_flow_match(c.text, &k, &m), c.error);
  }
}

TEST_CASE("datapath set-field actions parse into the constructors' actions", "[datapath][flow_text][setfield]") {
  const uint8_t mac[6] = {0x0e, 1, 2, 3, 4, 5};
  uint8_t v6[16];
  REQUIRE(inet_pton(AF_INET6, "fe80::9", v6) == 1);
  DpActions want;
  for (const DpAction& a :
       {act_set_ip_ecn(3), act_set_ipv6_dscp(46), act_set_ipv6_flabel(0x12345), act_set_ipv6_hlim(7),
        act_set_icmp_type(false, 8), act_set_icmp_code(false, 1), act_set_icmp_type(true, 129),
        act_set_icmp_code(true, 4), act_set_arp_op(2), act_set_arp_spa(htonl(0x01020304)),
        act_set_arp_tpa(htonl(0x05060708)), act_set_arp_sha(mac), act_set_arp_tha(mac),
        act_set_nd_target(v6), act_set_nd_sll(mac), act_set_nd_tll(mac), act_set_ipv4_tos(10),
        act_dec_ttl(), act_set_tp_src(htons(99))})
    REQUIRE(want.add(a));
  const DpActions got = parse_dp_actions(
      "set_ip_ecn:3,set_ipv6_dscp:46,set_ipv6_flabel:0x12345,set_ipv6_hlim:7,set_icmpv4_type:8,"
      "set_icmpv4_code:1,set_icmpv6_type:129,set_icmpv6_code:4,set_arp_op:2,set_arp_spa:1.2.3.4,"
      "set_arp_tpa:5.6.7.8,set_arp_sha:0e:01:02:03:04:05,set_arp_tha:0e:01:02:03:04:05,"
      "set_nd_target:fe80::9,set_nd_sll:0e:01:02:03:04:05,set_nd_tll:0e:01:02:03:04:05,"
      "set_ipv4_tos:10,dec_ttl,set_tp_src:99");
  INFO(format_actions(got));
  CHECK(got == want);
  CHECK_THROWS_WITH(parse_dp_actions("set_ip_ecn:4"), Catch::Contains("larger than 3"));
  CHECK_THROWS_WITH(parse_dp_actions("set_ipv6_flabel:0x100000"), Catch::Contains("larger than 1048575"));
  CHECK_THROWS_WITH(parse_dp_actions("set_arp_spa:1.2.3"), Catch::Contains("not an IPv4 address"));
  CHECK_THROWS_WITH(parse_dp_actions("dec_ttl:1"), Catch::Contains("takes no argument"));
  CHECK_THROWS_WITH(parse_dp_actions("set_nd_sll"), Catch::Contains("takes 1 argument"));
}
