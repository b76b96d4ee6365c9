#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include "flow_key_fields.h"

using namespace dps::exporter;
using dps::datapath::FlowKey;

TEST_CASE("flow key fields: IPv4 TCP with a VLAN tag") {
  FlowKey k{};
  k.in_port = 3;
  k.eth_type = htons(0x0800);
  k.vlan_tci = htons(0x1000 | 0x2000 | 100);  // CFI, PCP 1, VID 100
  uint8_t src[6] = {2, 0, 0, 0, 0, 1}, dst[6] = {2, 0, 0, 0, 0, 2};
  std::copy(src, src + 6, k.dl_src);
  std::copy(dst, dst + 6, k.dl_dst);
  k.nw_src = htonl(0x0a000001);
  k.nw_dst = htonl(0x0a000002);
  k.nw_proto = 6;
  k.nw_tos = 0x28;
  k.tp_src = htons(1234);
  k.tp_dst = htons(80);
  k.tcp_flags = htons(0x012);
  FlowFields f = flow_fields_from_key(k);
  CHECK(f.in_if == 3);
  CHECK(f.eth_type == 0x0800);
  CHECK(f.vlan == 100);
  CHECK(f.src_mac[5] == 1);
  CHECK(f.dst_mac[5] == 2);
  CHECK(f.src == IpAddress::v4(0x0a000001));
  CHECK(f.dst == IpAddress::v4(0x0a000002));
  CHECK(f.proto == 6);
  CHECK(f.tos == 0x28);
  CHECK(f.src_port == 1234);
  CHECK(f.dst_port == 80);
  CHECK(f.tcp_flags == 0x12);
}

TEST_CASE("flow key fields: ICMP type/code, IPv6, non-IP, untagged VID 0") {
  FlowKey k{};
  k.eth_type = htons(0x0800);
  k.nw_proto = 1;
  k.tp_src = htons(8);  // echo request
  k.tp_dst = htons(0);
  FlowFields f = flow_fields_from_key(k);
  CHECK(f.src_port == 0);
  CHECK(f.dst_port == 0x0800);
  CHECK(f.vlan == 0);

  FlowKey k6{};
  k6.eth_type = htons(0x86dd);
  k6.ipv6_src[0] = 0x20;
  k6.ipv6_src[15] = 1;
  k6.ipv6_dst[15] = 2;
  k6.nw_proto = 17;
  k6.tp_src = htons(53);
  k6.tp_dst = htons(5353);
  k6.tcp_flags = htons(0x01);  // not TCP: ignored
  FlowFields f6 = flow_fields_from_key(k6);
  CHECK(f6.src.v6);
  CHECK(f6.src.b[0] == 0x20);
  CHECK(f6.src.b[15] == 1);
  CHECK(f6.dst.b[15] == 2);
  CHECK(f6.src_port == 53);
  CHECK(f6.dst_port == 5353);
  CHECK(f6.tcp_flags == 0);

  FlowKey arp{};
  arp.eth_type = htons(0x0806);
  arp.nw_proto = 1;  // ARP opcode
  arp.nw_src = htonl(1);
  FlowFields fa = flow_fields_from_key(arp);
  CHECK(fa.eth_type == 0x0806);
  CHECK(fa.proto == 0);
  CHECK(fa.src.is_unspecified());
}
