#include <catch2/catch.hpp>

#include "ct_helpers.h"
#include "ct_packet.h"

using namespace dps::conntrack;
using namespace dps::test;

TEST_CASE("ct parse: IPv4 TCP tuple and segment fields") {
  auto p = tcp4("10.0.0.1", "10.0.0.2", 1000, 80, kTcpSyn | kTcpAck, 77, 99, 5, 4000);
  CtPacket c;
  REQUIRE(ct_parse(p.data(), p.size(), &c) == CtParse::kOk);
  CHECK(c.tuple.family == 4);
  CHECK(c.tuple.proto == kProtoTcp);
  CHECK(c.tuple.src[0] == 10);
  CHECK(c.tuple.src[3] == 1);
  CHECK(c.tuple.dst[3] == 2);
  CHECK(c.tuple.sport == 1000);
  CHECK(c.tuple.dport == 80);
  CHECK(c.seq == 77);
  CHECK(c.ack == 99);
  CHECK(c.window == 4000);
  CHECK(c.payload_len == 5);
  CHECK(c.tcp_flags == (kTcpSyn | kTcpAck));
  CHECK(c.wscale == 0);
}

TEST_CASE("ct parse: the TCP window-scale option, capped at 14") {
  TcpOpts o;
  o.options_len = 4;
  auto p = l3_of(PacketBuilder().eth().ipv4("1.1.1.1", "2.2.2.2").tcp(1, 2, kTcpSyn, o).build());
  p[20 + 20 + 1] = 3;  // NOP, kind 3, len 3, shift
  p[20 + 20 + 2] = 3;
  p[20 + 20 + 3] = 7;
  CtPacket c;
  REQUIRE(ct_parse(p.data(), p.size(), &c) == CtParse::kOk);
  CHECK(c.wscale == (kWscaleFlag | 7));
  p[20 + 20 + 3] = 20;
  REQUIRE(ct_parse(p.data(), p.size(), &c) == CtParse::kOk);
  CHECK(c.wscale == (kWscaleFlag | 14));
  p[20 + 20 + 2] = 9;  // option length past the header
  CHECK(ct_parse(p.data(), p.size(), &c) == CtParse::kMalformed);
}

TEST_CASE("ct parse: every truncation of TCP, UDP, ICMP and IPv6 packets is caught") {
  std::vector<std::vector<uint8_t>> pkts = {
      tcp4("10.0.0.1", "10.0.0.2", 1, 2, kTcpAck, 1, 1),
      udp4("10.0.0.1", "10.0.0.2", 1, 2),
      icmp4("10.0.0.1", "10.0.0.2", 8, 7),
      udp6("2001:db8::1", "2001:db8::2", 1, 2),
      icmp4_error("10.0.0.9", "10.0.0.1", 3, 1, tcp4("10.0.0.1", "10.0.0.2", 1, 2, kTcpAck, 1, 1)),
  };
  for (const auto& p : pkts) {
    CtPacket c;
    REQUIRE(ct_parse(p.data(), p.size(), &c) == CtParse::kOk);
    for (size_t n = 0; n < p.size(); n++) {
      INFO("length " << n << " of " << p.size());
      CHECK(ct_parse(p.data(), n, &c) == CtParse::kTruncated);
    }
  }
}

TEST_CASE("ct parse: bad headers, fragments and non-IP") {
  CtPacket c;
  auto p = udp4("10.0.0.1", "10.0.0.2", 1, 2);
  auto bad = p;
  bad[0] = 0x44;  // IHL 4
  CHECK(ct_parse(bad.data(), bad.size(), &c) == CtParse::kMalformed);
  bad = p;
  bad[0] = 0x25;
  CHECK(ct_parse(bad.data(), bad.size(), &c) == CtParse::kNotIp);
  Ipv4Opts later;
  later.frag_offset = 10;
  auto frag = l3_of(PacketBuilder().eth().ipv4("1.1.1.1", "2.2.2.2", later).payload(16).build());
  CHECK(ct_parse(frag.data(), frag.size(), &c) == CtParse::kFragment);
  auto tcp = tcp4("10.0.0.1", "10.0.0.2", 1, 2, kTcpAck, 1, 1);
  tcp[20 + 12] = 0x40;  // data offset 4
  CHECK(ct_parse(tcp.data(), tcp.size(), &c) == CtParse::kMalformed);
  auto v6frag = l3_of(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2")
                          .ipv6_frag(3, false).udp(1, 2).build());
  CHECK(ct_parse(v6frag.data(), v6frag.size(), &c) == CtParse::kFragment);
}

TEST_CASE("ct parse: IPv6 extension headers are skipped") {
  auto p = l3_of(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2")
                     .ipv6_ext(0, 8).ipv6_ext(60, 16).udp(53, 5353).build());
  CtPacket c;
  REQUIRE(ct_parse(p.data(), p.size(), &c) == CtParse::kOk);
  CHECK(c.tuple.family == 6);
  CHECK(c.tuple.proto == kProtoUdp);
  CHECK(c.tuple.sport == 53);
  CHECK(c.tuple.dport == 5353);
  CHECK(c.tuple.src[15] == 1);
}

TEST_CASE("ct parse: ICMP echo keys on the id; an error keys on the quoted packet, reversed") {
  CtPacket c;
  auto echo = icmp4("10.0.0.1", "10.0.0.2", 8, 0x1234);
  REQUIRE(ct_parse(echo.data(), echo.size(), &c) == CtParse::kOk);
  CHECK(c.tuple.sport == 0x1234);
  CHECK(c.tuple.icmp_type == 8);
  CHECK_FALSE(c.icmp_error);
  auto quoted = udp4("10.0.0.1", "10.0.0.2", 1111, 53);
  auto err = icmp4_error("10.0.0.2", "10.0.0.1", 3, 3, quoted);
  REQUIRE(ct_parse(err.data(), err.size(), &c) == CtParse::kOk);
  CHECK(c.icmp_error);
  CHECK(c.tuple.proto == kProtoUdp);
  CHECK(c.tuple.sport == 53);
  CHECK(c.tuple.dport == 1111);
  CHECK(c.tuple.src[3] == 2);
  auto unknown = icmp4("10.0.0.1", "10.0.0.2", 42, 1);
  CHECK(ct_parse(unknown.data(), unknown.size(), &c) == CtParse::kMalformed);
}
