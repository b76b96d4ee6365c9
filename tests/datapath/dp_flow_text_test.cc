// dp_flow_text tests: the datapath flow syntax of the config file and the
// dpctl-style commands parses into the right key/mask/actions, round-trips
// through flow_key_format(), and rejects bad input with the offending token.
#include <catch2/catch.hpp>

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
