// flow_key_test.cc - flow key extraction, hashing and formatting.
//
// Coverage goal: every protocol flow_key.h lists (with the OVS encodings it
// documents), both parsers (the IPv4 fast path and the general parser must
// give identical keys and hashes), every truncation point of every sample
// frame, malformed headers, random corruption, the batch API (with and
// without an RSS hash) and the masked hash's consistency with
// flow_key_apply_mask. Frames are copied into exact-size heap buffers so the
// sanitizer build catches any read past the end. No EAL: the batch tests use
// stack-built mbuf headers, which is all rte_pktmbuf_mtod needs.
#include <arpa/inet.h>
#include <rte_mbuf.h>

#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <set>

#include "flow_key.h"
#include "packet_builder.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

// Parses f from an exact-size heap copy.
FlowKey parse(const std::vector<uint8_t>& f, uint32_t port = 1, uint32_t* hash = nullptr) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[f.size()]);
  if (!f.empty()) std::memcpy(buf.get(), f.data(), f.size());
  FlowKey k;
  std::memset(&k, 0xee, sizeof k);  // extraction must zero it
  uint32_t h = flow_key_extract(buf.get(), static_cast<uint32_t>(f.size()), port, &k);
  if (hash) *hash = h;
  return k;
}

uint32_t hash_of(const std::vector<uint8_t>& f, uint32_t port = 1) {
  uint32_t h;
  parse(f, port, &h);
  return h;
}

FlowKey l2_key(uint16_t type, uint32_t port = 1, const Mac& dst = kMacB, const Mac& src = kMacA) {
  FlowKey k{};
  k.in_port = port;
  k.eth_type = htons(type);
  std::memcpy(k.dl_dst, dst.data(), 6);
  std::memcpy(k.dl_src, src.data(), 6);
  return k;
}

FlowKey ipv4_key(const char* src, const char* dst, uint8_t proto, uint16_t sport = 0,
                 uint16_t dport = 0, uint8_t ttl = 64) {
  FlowKey k = l2_key(kEthTypeIpv4);
  k.nw_src = ip4(src);
  k.nw_dst = ip4(dst);
  k.nw_proto = proto;
  k.nw_ttl = ttl;
  k.tp_src = htons(sport);
  k.tp_dst = htons(dport);
  return k;
}

FlowKey ipv6_key(const char* src, const char* dst, uint8_t proto, uint16_t sport = 0,
                 uint16_t dport = 0) {
  FlowKey k = l2_key(kEthTypeIpv6);
  Ip6 a = ip6(src);
  std::memcpy(k.ipv6_src, a.data(), 16);
  a = ip6(dst);
  std::memcpy(k.ipv6_dst, a.data(), 16);
  k.nw_proto = proto;
  k.nw_ttl = 64;
  k.tp_src = htons(sport);
  k.tp_dst = htons(dport);
  return k;
}

#define CHECK_KEY(got, want)                                                  \
  do {                                                                        \
    INFO("got:  " << flow_key_format(got));                                   \
    INFO("want: " << flow_key_format(want));                                  \
    CHECK(flow_key_equal(got, want));                                         \
  } while (0)

std::vector<uint8_t> udp4(uint16_t sport = 1234, uint16_t dport = 80) {
  return PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(sport, dport).payload(18).build();
}

// Every sample frame used by the truncation and corruption sweeps.
std::vector<std::vector<uint8_t>> sample_frames() {
  std::vector<std::vector<uint8_t>> v;
  v.push_back(udp4());
  v.push_back(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.options_len = 8})
                  .tcp(1, 2, 0x12, {.options_len = 12}).payload(5).build());
  v.push_back(PacketBuilder().eth().vlan(0x2064).ipv4("10.0.0.1", "10.0.0.2").udp(7, 8).build());
  v.push_back(PacketBuilder().eth().vlan(10, 0x88a8).vlan(20).ipv4("10.0.0.1", "10.0.0.2")
                  .tcp(7, 8).build());
  v.push_back(PacketBuilder().eth().mpls(100, 0, false).mpls(200).ipv4("1.1.1.1", "2.2.2.2")
                  .udp(1, 2).build());
  v.push_back(PacketBuilder().eth().arp(1, kMacA, "10.0.0.1", Mac{}, "10.0.0.2").build());
  v.push_back(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.mf = true}).udp(3, 4)
                  .payload(8).build());
  v.push_back(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(8, 0).payload(8).build());
  v.push_back(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").sctp(5, 6).payload(4).build());
  v.push_back(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").tcp(10, 20, 0x18).build());
  v.push_back(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0, 16)
                  .ipv6_ext(60).ipv6_ext(43, 24).ipv6_frag(0, true).ipv6_ext(51, 16)
                  .udp(1, 2).payload(3).build());
  v.push_back(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").ipv6_esp().payload(16)
                  .build());
  v.push_back(PacketBuilder().eth().ipv6("fe80::1", "ff02::1:ff00:2")
                  .nd(135, "2001:db8::2", kMacA).build());
  v.push_back(PacketBuilder().eth().ipv6("fe80::2", "fe80::1")
                  .nd(136, "2001:db8::2", std::nullopt, kMacB).build());
  v.push_back(PacketBuilder().eth().ethertype(0x0030).payload(48).build());
  return v;
}

}  // namespace

TEST_CASE("packet builder checksums match known vectors", "[datapath][flow_key]") {
  // RFC 1071-style example header (Wikipedia "IPv4 header checksum").
  const uint8_t hdr[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                           0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  CHECK(ipv4_header_checksum(hdr, 20) == 0xb861);
  // RFC 3720 B.4: CRC32C of 32 zero bytes.
  const uint8_t zeros[32] = {};
  CHECK(crc32c_bitwise(zeros, 32) == 0x8a9136aa);

  for (const auto& f : sample_frames()) CHECK(checksum_errors(f) == "");
  std::vector<uint8_t> f = udp4();
  f[14 + 20 + 9] ^= 1;  // payload byte under the UDP checksum
  CHECK(checksum_errors(f).find("udp checksum") != std::string::npos);
  f = udp4();
  f[14 + 8] ^= 1;  // TTL under the IPv4 header checksum
  CHECK(checksum_errors(f).find("ipv4 header checksum") != std::string::npos);
}

TEST_CASE("IPv4 UDP and TCP, untagged", "[datapath][flow_key]") {
  CHECK_KEY(parse(udp4(1234, 80)), ipv4_key("10.0.0.1", "10.0.0.2", 17, 1234, 80));

  auto f = PacketBuilder().eth().ipv4("192.168.1.1", "192.168.2.2", {.tos = 0xb9, .ttl = 7})
               .tcp(40000, 443, 0x12).build();
  FlowKey want = ipv4_key("192.168.1.1", "192.168.2.2", 6, 40000, 443, 7);
  want.nw_tos = 0xb9;
  want.tcp_flags = htons(0x12);
  CHECK_KEY(parse(f), want);

  // TCP with options; tcp_flags is the low 12 bits of the offset/flags word
  // (NS and the 3 reserved bits included, as OVS), never the data offset.
  f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2, 0x11, {.options_len = 8})
          .payload(4).build();
  f[14 + 20 + 12] |= 0x0f;  // reserved (3 bits) + NS
  want = ipv4_key("10.0.0.1", "10.0.0.2", 6, 1, 2);
  want.tcp_flags = htons(0xf11);
  CHECK_KEY(parse(f), want);

  // DF is not a fragment; Ethernet padding after the datagram is ignored.
  f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.df = true}).udp(5, 6).pad(20).build();
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 17, 5, 6));
}

TEST_CASE("IPv4 options, ICMP, SCTP and other protocols", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.options_len = 40}).udp(9, 10)
               .build();
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 17, 9, 10));

  f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(3, 4).build();
  // ICMP type/code in the low byte of tp_src/tp_dst, network order.
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 1, 3, 4));

  f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").sctp(2905, 2906).build();
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 132, 2905, 2906));

  f = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.proto = 47}).payload(20).build();
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 47));
}

TEST_CASE("IPv4 fragments", "[datapath][flow_key]") {
  auto first = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.mf = true}).udp(1, 2)
                   .payload(16).build();
  FlowKey want = ipv4_key("10.0.0.1", "10.0.0.2", 17, 1, 2);
  want.nw_frag = kFragAny;
  CHECK_KEY(parse(first), want);

  auto later = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.mf = true, .frag_offset = 3})
                   .udp(1, 2).payload(16).build();
  want = ipv4_key("10.0.0.1", "10.0.0.2", 17);  // no L4 fields
  want.nw_frag = kFragAny | kFragLater;
  CHECK_KEY(parse(later), want);

  auto last = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.frag_offset = 3})
                  .payload(16).build();
  want.nw_proto = 253;
  CHECK_KEY(parse(last), want);
}

TEST_CASE("VLAN, QinQ and 802.3 frames", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth().vlan(0xa064).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  FlowKey want = ipv4_key("10.0.0.1", "10.0.0.2", 17, 1, 2);
  want.vlan_tci = htons(0xa064 | kVlanCfi);  // PCP 5, VID 100, CFI forced on
  CHECK_KEY(parse(f), want);

  // VID 0 PCP 0 differs from untagged.
  f = PacketBuilder().eth().vlan(0).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  CHECK(parse(f).vlan_tci == htons(kVlanCfi));

  for (uint16_t outer : {kEthTypeQinQ, kEthTypeVlan}) {
    f = PacketBuilder().eth().vlan(10, outer).vlan(20).ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2, 0)
            .build();
    want = ipv4_key("10.0.0.1", "10.0.0.2", 6, 1, 2);
    want.vlan_tci = htons(10 | kVlanCfi);
    want.vlan_tci2 = htons(20 | kVlanCfi);
    CHECK_KEY(parse(f), want);
  }

  // A third tag is not parsed: eth_type is its TPID (as OVS, two tags max).
  f = PacketBuilder().eth().vlan(1).vlan(2).vlan(3).ipv4("10.0.0.1", "10.0.0.2").build();
  want = l2_key(kEthTypeVlan);
  want.vlan_tci = htons(1 | kVlanCfi);
  want.vlan_tci2 = htons(2 | kVlanCfi);
  CHECK_KEY(parse(f), want);

  // 802.3 length field: eth_type 0x05ff and nothing else (no SNAP parse).
  f = PacketBuilder().eth().ethertype(46).bytes({0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00})
          .payload(38).build();
  CHECK_KEY(parse(f), l2_key(kEthTypeNotEthII));
  f = PacketBuilder().eth().vlan(7).ethertype(0x5dc).payload(46).build();
  want = l2_key(kEthTypeNotEthII);
  want.vlan_tci = htons(7 | kVlanCfi);
  CHECK_KEY(parse(f), want);

  // Unknown ethertype: L2 only.
  f = PacketBuilder().eth().ethertype(0x88cc).payload(46).build();
  CHECK_KEY(parse(f), l2_key(0x88cc));
}

TEST_CASE("MPLS: outermost label stack entry only", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth().mpls(1000, 5, false, 9).mpls(2000).ipv4("10.0.0.1", "10.0.0.2")
               .udp(1, 2).build();
  FlowKey want = l2_key(kEthTypeMpls);
  want.mpls_lse = htonl(1000u << 12 | 5u << 9 | 9);
  CHECK_KEY(parse(f), want);

  f = PacketBuilder().eth().ethertype(kEthTypeMplsMcast).bytes({0x00, 0x01, 0x01, 0x40}).build();
  want = l2_key(kEthTypeMplsMcast);
  want.mpls_lse = htonl(0x00010140);
  CHECK_KEY(parse(f), want);
}

TEST_CASE("ARP", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth().arp(2, kMacA, "10.0.0.1", kMacB, "10.0.0.2").build();
  FlowKey want = l2_key(kEthTypeArp);
  want.nw_proto = 2;
  want.nw_src = ip4("10.0.0.1");
  want.nw_dst = ip4("10.0.0.2");
  std::memcpy(want.arp_sha, kMacA.data(), 6);
  std::memcpy(want.arp_tha, kMacB.data(), 6);
  CHECK_KEY(parse(f), want);

  // Opcode above 0xff: addresses kept, nw_proto 0 (OVS matches the low byte only).
  auto big_op = f;
  big_op[14 + 6] = 0x01;
  want.nw_proto = 0;
  CHECK_KEY(parse(big_op), want);

  // Not Ethernet/IPv4 ARP: L2 only.
  auto bad = f;
  bad[14 + 1] = 6;  // htype 6 (IEEE 802)
  CHECK_KEY(parse(bad), l2_key(kEthTypeArp));
  bad = f;
  bad[14 + 5] = 16;  // plen 16
  CHECK_KEY(parse(bad), l2_key(kEthTypeArp));
}

TEST_CASE("IPv6 TCP, UDP and header fields", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth()
               .ipv6("2001:db8::1", "2001:db8::2", {.tclass = 0xb8, .flow_label = 0xabcde,
                                                   .hop_limit = 3})
               .tcp(1000, 22, 0x19).payload(10).build();
  FlowKey want = ipv6_key("2001:db8::1", "2001:db8::2", 6, 1000, 22);
  want.nw_tos = 0xb8;
  want.ipv6_label = htonl(0xabcde);
  want.nw_ttl = 3;
  want.tcp_flags = htons(0x19);
  CHECK_KEY(parse(f), want);

  f = PacketBuilder().eth().vlan(5).ipv6("::1", "::2").udp(53, 5353).build();
  want = ipv6_key("::1", "::2", 17, 53, 5353);
  want.vlan_tci = htons(5 | kVlanCfi);
  CHECK_KEY(parse(f), want);

  f = PacketBuilder().eth().ipv6("::1", "::2").sctp(7, 8).build();
  CHECK_KEY(parse(f), ipv6_key("::1", "::2", 132, 7, 8));

  // ICMPv4 inside IPv6 is not ICMP: no type/code.
  f = PacketBuilder().eth().ipv6("::1", "::2", {.next_header = 1}).payload(8).build();
  CHECK_KEY(parse(f), ipv6_key("::1", "::2", 1));
}

TEST_CASE("IPv6 extension headers and OFPIEH flags", "[datapath][flow_key]") {
  auto with = [](auto&& build_ext) {
    PacketBuilder b;
    b.eth().ipv6("2001:db8::1", "2001:db8::2");
    build_ext(b);
    return parse(b.build());
  };

  FlowKey k = with([](PacketBuilder& b) {
    b.ipv6_ext(0, 16).ipv6_ext(60).ipv6_ext(43, 24).ipv6_ext(51, 24).ipv6_ext(60).udp(1, 2);
  });
  FlowKey want = ipv6_key("2001:db8::1", "2001:db8::2", 17, 1, 2);
  want.ipv6_exthdr = kIehHop | kIehDest | kIehRouter | kIehAuth;
  CHECK_KEY(k, want);

  // Routing before hop-by-hop: out of sequence.
  k = with([](PacketBuilder& b) { b.ipv6_ext(43).ipv6_ext(0).tcp(1, 2, 0); });
  CHECK(k.ipv6_exthdr == (kIehRouter | kIehHop | kIehUnseq));
  CHECK(k.tp_dst == htons(2));

  // Routing twice: unexpected repeat.
  k = with([](PacketBuilder& b) { b.ipv6_ext(43).ipv6_ext(43).tcp(1, 2, 0); });
  CHECK(k.ipv6_exthdr == (kIehRouter | kIehUnrep));

  // Destination options three times: the third is a repeat.
  k = with([](PacketBuilder& b) { b.ipv6_ext(60).ipv6_ext(43).ipv6_ext(60).ipv6_ext(60).udp(1, 2); });
  CHECK(k.ipv6_exthdr == (kIehDest | kIehRouter | kIehUnrep));

  // Fragment after authentication: out of sequence.
  k = with([](PacketBuilder& b) { b.ipv6_ext(51, 16).ipv6_frag(0, true).udp(1, 2); });
  CHECK(k.ipv6_exthdr == (kIehAuth | kIehFrag | kIehUnseq));

  // ESP: parsing stops, nw_proto 50.
  k = with([](PacketBuilder& b) { b.ipv6_ext(0).ipv6_esp().payload(20); });
  want = ipv6_key("2001:db8::1", "2001:db8::2", 50);
  want.ipv6_exthdr = kIehHop | kIehEsp;
  CHECK_KEY(k, want);

  // No next header.
  k = with([](PacketBuilder& b) { b.ipv6_ext(60); });
  want = ipv6_key("2001:db8::1", "2001:db8::2", 59);
  want.ipv6_exthdr = kIehDest | kIehNoNext;
  CHECK_KEY(k, want);
}

TEST_CASE("IPv6 fragments", "[datapath][flow_key]") {
  auto first = PacketBuilder().eth().ipv6("::1", "::2").ipv6_frag(0, true).udp(1, 2).payload(8)
                   .build();
  FlowKey want = ipv6_key("::1", "::2", 17, 1, 2);
  want.nw_frag = kFragAny;
  want.ipv6_exthdr = kIehFrag;
  CHECK_KEY(parse(first), want);

  // Later fragment: no L4, nw_proto = 44 (as OVS).
  auto later = PacketBuilder().eth().ipv6("::1", "::2").ipv6_frag(4, false).udp(1, 2).payload(8)
                   .build();
  want = ipv6_key("::1", "::2", 44);
  want.nw_frag = kFragAny | kFragLater;
  want.ipv6_exthdr = kIehFrag;
  CHECK_KEY(parse(later), want);

  // Atomic fragment (offset 0, M 0): a fragment header but not a fragment.
  auto atomic = PacketBuilder().eth().ipv6("::1", "::2").ipv6_frag(0, false).tcp(1, 2, 0).build();
  want = ipv6_key("::1", "::2", 6, 1, 2);
  want.ipv6_exthdr = kIehFrag;
  CHECK_KEY(parse(atomic), want);
}

TEST_CASE("ICMPv6 and neighbor discovery", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth().ipv6("::1", "::2").icmp6(128, 0).payload(8).build();
  CHECK_KEY(parse(f), ipv6_key("::1", "::2", 58, 128, 0));

  f = PacketBuilder().eth().ipv6("fe80::1", "ff02::1:ff00:2").nd(135, "2001:db8::2", kMacA)
          .build();
  FlowKey want = ipv6_key("fe80::1", "ff02::1:ff00:2", 58, 135, 0);
  Ip6 t = ip6("2001:db8::2");
  std::memcpy(want.nd_target, t.data(), 16);
  std::memcpy(want.arp_sha, kMacA.data(), 6);
  CHECK_KEY(parse(f), want);

  f = PacketBuilder().eth().ipv6("fe80::2", "fe80::1").nd(136, "2001:db8::2", std::nullopt, kMacB)
          .build();
  want = ipv6_key("fe80::2", "fe80::1", 58, 136, 0);
  std::memcpy(want.nd_target, t.data(), 16);
  std::memcpy(want.arp_tha, kMacB.data(), 6);
  CHECK_KEY(parse(f), want);

  // Unknown options (nonce, 8 bytes) are skipped.
  f = PacketBuilder().eth().ipv6("fe80::1", "fe80::2").nd(135, "2001:db8::2")
          .bytes({14, 1, 1, 2, 3, 4, 5, 6, 1, 1, 0x02, 0, 0, 0, 0, 0x0a}).build();
  want = ipv6_key("fe80::1", "fe80::2", 58, 135, 0);
  std::memcpy(want.nd_target, t.data(), 16);
  std::memcpy(want.arp_sha, kMacA.data(), 6);
  CHECK_KEY(parse(f), want);

  // Two SLL options, or an option of length 0: ND fields dropped, type/code kept.
  const FlowKey bare = ipv6_key("fe80::1", "fe80::2", 58, 135, 0);
  f = PacketBuilder().eth().ipv6("fe80::1", "fe80::2").nd(135, "2001:db8::2", kMacA)
          .bytes({1, 1, 2, 2, 2, 2, 2, 2}).build();
  CHECK_KEY(parse(f), bare);
  f = PacketBuilder().eth().ipv6("fe80::1", "fe80::2").nd(135, "2001:db8::2")
          .bytes({1, 0, 2, 2, 2, 2, 2, 2}).build();
  CHECK_KEY(parse(f), bare);
  // Option longer than what is left.
  f = PacketBuilder().eth().ipv6("fe80::1", "fe80::2").nd(135, "2001:db8::2")
          .bytes({1, 2, 2, 2, 2, 2, 2, 2}).build();
  CHECK_KEY(parse(f), bare);
  // ND needs code 0.
  f = PacketBuilder().eth().ipv6("fe80::1", "fe80::2").nd(135, "2001:db8::2", kMacA).build();
  f[14 + 40 + 1] = 1;
  CHECK_KEY(parse(f), ipv6_key("fe80::1", "fe80::2", 58, 135, 1));
}

TEST_CASE("malformed IPv4 and L4 headers", "[datapath][flow_key]") {
  const std::vector<uint8_t> good = udp4();
  const FlowKey l2 = l2_key(kEthTypeIpv4);
  auto mutate = [&](size_t at, uint8_t v) {
    auto f = good;
    f[at] = v;
    return parse(f);
  };
  const size_t ip = 14;
  CHECK_KEY(mutate(ip, 0x44), l2);  // IHL 4 < 5
  CHECK_KEY(mutate(ip, 0x4f), l2);  // IHL 15 = 60 bytes > datagram
  CHECK_KEY(mutate(ip, 0x65), l2);  // version 6 under 0x0800
  CHECK_KEY(mutate(ip + 2, 0x01), l2);     // total length 256+ > frame
  CHECK_KEY(mutate(ip + 3, 19), l2);       // total length 19 < IHL (high byte is 0)

  // Total length that cuts the UDP header: L3 fields, no ports.
  auto f = good;
  f[ip + 3] = 20 + 4;
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 17));

  // TCP data offset < 5 or beyond the segment: L3 only.
  auto tcp = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2, 0x10).build();
  f = tcp;
  f[ip + 20 + 12] = 0x40;
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 6));
  f = tcp;
  f[ip + 20 + 12] = 0x60;  // 24 bytes > 20 present
  CHECK_KEY(parse(f), ipv4_key("10.0.0.1", "10.0.0.2", 6));

  // Truncated VLAN tag: treated as untagged with eth_type 0x8100 (as OVS).
  auto v = PacketBuilder().eth().vlan(5).build();
  v.resize(16);
  CHECK_KEY(parse(v), l2_key(kEthTypeVlan));

  // IPv6 payload length beyond the frame: L2 only.
  auto v6 = PacketBuilder().eth().ipv6("::1", "::2").udp(1, 2).build();
  v6[14 + 4] = 0x10;
  CHECK_KEY(parse(v6), l2_key(kEthTypeIpv6));
  // Version 4 under 0x86dd.
  v6 = PacketBuilder().eth().ipv6("::1", "::2").udp(1, 2).build();
  v6[14] = 0x40;
  CHECK_KEY(parse(v6), l2_key(kEthTypeIpv6));

  // Extension header longer than the payload: header fields and the flags
  // validated so far, nw_proto 0.
  auto ext = PacketBuilder().eth().ipv6("::1", "::2").ipv6_ext(0).ipv6_ext(43).udp(1, 2).build();
  ext[14 + 40 + 8 + 1] = 200;
  FlowKey want = ipv6_key("::1", "::2", 0);
  want.ipv6_exthdr = kIehHop;
  CHECK_KEY(parse(ext), want);

  // Too short for Ethernet: only in_port.
  FlowKey only_port{};
  only_port.in_port = 9;
  CHECK_KEY(parse(std::vector<uint8_t>(13, 0xff), 9), only_port);
  CHECK_KEY(parse({}, 9), only_port);
}

TEST_CASE("every truncation of every sample frame", "[datapath][flow_key]") {
  // A truncated frame keeps the fields it has whole: each byte of its key is
  // either zero or the full frame's byte, except eth_type (a truncated VLAN
  // tag leaves the TPID there). Never reads past the cut (ASan).
  size_t cuts = 0;
  for (const auto& frame : sample_frames()) {
    const FlowKey full = parse(frame, 7);
    for (size_t cut = 0; cut < frame.size(); cut++) {
      std::vector<uint8_t> f(frame.begin(), frame.begin() + static_cast<long>(cut));
      const FlowKey k = parse(f, 7);
      REQUIRE(k.in_port == 7);
      const uint8_t* kb = reinterpret_cast<const uint8_t*>(&k);
      const uint8_t* fb = reinterpret_cast<const uint8_t*>(&full);
      for (size_t i = 0; i < sizeof(FlowKey); i++) {
        if (i == offsetof(FlowKey, eth_type) || i == offsetof(FlowKey, eth_type) + 1) continue;
        if (kb[i] != 0 && kb[i] != fb[i]) {
          FAIL("cut " << cut << " byte " << i << "\n  full: " << flow_key_format(full)
                      << "\n  cut:  " << flow_key_format(k));
        }
      }
      if (cut < 14) {
        FlowKey only{};
        only.in_port = 7;
        REQUIRE(flow_key_equal(k, only));
      }
      cuts++;
    }
  }
  CHECK(cuts > 1000);
}

TEST_CASE("random corruption never reads past the frame", "[datapath][flow_key]") {
  std::mt19937 rng(12345);
  const auto frames = sample_frames();
  size_t parsed = 0;
  for (int iter = 0; iter < 20000; iter++) {
    std::vector<uint8_t> f = frames[rng() % frames.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; i++) f[14 + rng() % (f.size() - 14)] = static_cast<uint8_t>(rng());
    f.resize(14 + rng() % (f.size() - 13));
    FlowKey a = parse(f, 3);
    uint32_t h1, h2;
    parse(f, 3, &h1);
    FlowKey b = parse(f, 3, &h2);
    REQUIRE(flow_key_equal(a, b));  // deterministic, fully zeroed
    REQUIRE(h1 == h2);
    parsed++;
  }
  CHECK(parsed == 20000);
}

TEST_CASE("fast path and general parser agree on keys and hashes", "[datapath][flow_key]") {
  // IHL 5 takes the fast path, IHL 6 the general parser; IP options are not
  // part of the key, so keys and hashes must be identical.
  auto pair = [](auto&& finish) {
    PacketBuilder a, b;
    a.eth().ipv4("10.1.2.3", "10.4.5.6", {.tos = 0x10, .ttl = 9});
    b.eth().ipv4("10.1.2.3", "10.4.5.6", {.tos = 0x10, .ttl = 9, .options_len = 4});
    finish(a);
    finish(b);
    return std::make_pair(a.build(), b.build());
  };
  for (auto [fast, slow] :
       {pair([](PacketBuilder& b) { b.udp(1111, 2222).payload(10); }),
        pair([](PacketBuilder& b) { b.tcp(3333, 4444, 0x18).payload(10); }),
        pair([](PacketBuilder& b) { b.tcp(5, 6, 0x02, {.options_len = 20}); }),
        pair([](PacketBuilder& b) { b.udp(7, 8).pad(30); })}) {
    uint32_t hf, hs;
    FlowKey kf = parse(fast, 4, &hf);
    FlowKey ks = parse(slow, 4, &hs);
    CHECK_KEY(kf, ks);
    CHECK(hf == hs);
    CHECK(kf.tp_src != 0);
  }
  // One 802.1Q tag (fast) vs one 802.1ad tag (general): the key has no TPID.
  auto q = PacketBuilder().eth().vlan(300).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  auto ad = PacketBuilder().eth().vlan(300, 0x88a8).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  uint32_t hq, had;
  CHECK_KEY(parse(q, 1, &hq), parse(ad, 1, &had));
  CHECK(hq == had);
}

TEST_CASE("key hash: equal keys equal hashes, flows spread", "[datapath][flow_key]") {
  CHECK(hash_of(udp4(1, 2)) == hash_of(udp4(1, 2)));
  CHECK(hash_of(udp4(1, 2), 1) != hash_of(udp4(1, 2), 2));
  std::set<uint32_t> hashes;
  std::set<uint32_t> low_bits;
  for (uint16_t i = 0; i < 10000; i++) {
    uint32_t h = hash_of(udp4(static_cast<uint16_t>(1000 + i), 80));
    hashes.insert(h);
    low_bits.insert(h & 0x3fff);  // an 16k-entry table index
  }
  CHECK(hashes.size() >= 9990);
  CHECK(low_bits.size() > 7000);  // ~ 16384 * (1 - e^-0.61) = 7500 for a random function
  // Fields outside words 0..4 still reach the hash.
  auto a = PacketBuilder().eth().mpls(1).build();
  auto b = PacketBuilder().eth().mpls(2).build();
  CHECK(hash_of(a) != hash_of(b));
  auto c = PacketBuilder().eth().ipv6("::1", "::2").udp(1, 2).build();
  auto d = PacketBuilder().eth().ipv6("::1", "::3").udp(1, 2).build();
  CHECK(hash_of(c) != hash_of(d));
}

TEST_CASE("masked hash is consistent with flow_key_apply_mask", "[datapath][flow_key]") {
  std::mt19937_64 rng(99);
  auto random_key = [&] {
    FlowKey k;
    for (unsigned i = 0; i < kFlowWords; i++) k.words()[i] = rng();
    return k;
  };
  for (int iter = 0; iter < 2000; iter++) {
    FlowKey key = random_key();
    FlowMask mask{};
    // Sparse masks: a few words, some partial.
    for (int i = 0; i < 1 + iter % 4; i++) {
      unsigned w = static_cast<unsigned>(rng() % kFlowWords);
      mask.words()[w] |= (iter & 1) ? ~0ull : rng();
    }
    FlowKey masked;
    flow_key_apply_mask(key, mask, &masked);
    REQUIRE(flow_key_hash_masked(key, mask) == flow_key_hash_masked(masked, mask));
    // A key that differs only in bits outside the mask hashes the same.
    FlowKey other = key;
    for (unsigned i = 0; i < kFlowWords; i++) other.words()[i] ^= rng() & ~mask.words()[i];
    REQUIRE(flow_key_hash_masked(other, mask) == flow_key_hash_masked(key, mask));
    // A difference inside the mask changes the hash (CRC32C detects every
    // single-bit error).
    unsigned w = 0;
    while (mask.words()[w] == 0) w++;
    other = key;
    other.words()[w] ^= mask.words()[w] & (0ull - mask.words()[w]);  // lowest mask bit
    REQUIRE(flow_key_hash_masked(other, mask) != flow_key_hash_masked(key, mask));
  }
  FlowMask none{};
  CHECK(flow_key_hash_masked(random_key(), none) == flow_key_hash_masked(random_key(), none));
}

TEST_CASE("batch extraction matches single extraction; RSS hash mixed with in_port",
          "[datapath][flow_key]") {
  auto frames = sample_frames();
  const unsigned n = static_cast<unsigned>(frames.size());
  std::vector<rte_mbuf> mbufs(n);
  std::vector<std::unique_ptr<uint8_t[]>> bufs;
  std::vector<rte_mbuf*> pkts;
  for (unsigned i = 0; i < n; i++) {
    bufs.emplace_back(new uint8_t[frames[i].size()]);
    std::memcpy(bufs.back().get(), frames[i].data(), frames[i].size());
    rte_mbuf& m = mbufs[i];
    std::memset(&m, 0, sizeof m);
    m.buf_addr = bufs.back().get();
    m.data_off = 0;
    m.data_len = static_cast<uint16_t>(frames[i].size());
    m.pkt_len = m.data_len;
    m.nb_segs = 1;
    pkts.push_back(&m);
  }
  std::vector<FlowKey> keys(n);
  std::vector<uint32_t> hashes(n);
  flow_key_extract_batch(pkts.data(), n, 5, keys.data(), hashes.data());
  for (unsigned i = 0; i < n; i++) {
    uint32_t h;
    FlowKey k = parse(frames[i], 5, &h);
    CHECK_KEY(keys[i], k);
    CHECK(hashes[i] == h);
  }

  // With an RSS hash: keys unchanged, hash derived from (rss, in_port).
  for (unsigned i = 0; i < n; i++) {
    mbufs[i].ol_flags = RTE_MBUF_F_RX_RSS_HASH;
    mbufs[i].hash.rss = 0x1000 + (i % 2);
  }
  std::vector<FlowKey> keys2(n);
  std::vector<uint32_t> rss_p5(n), rss_p6(n);
  flow_key_extract_batch(pkts.data(), n, 5, keys2.data(), rss_p5.data());
  flow_key_extract_batch(pkts.data(), n, 6, keys2.data(), rss_p6.data());
  flow_key_extract_batch(pkts.data(), n, 5, keys2.data(), rss_p5.data());
  for (unsigned i = 0; i < n; i++) {
    CHECK_KEY(keys2[i], keys[i]);
    CHECK(rss_p5[i] == rss_p5[i % 2]);       // same RSS, same port: same hash
    CHECK(rss_p5[i] != rss_p6[i]);           // same RSS, other port: other hash
  }
  CHECK(rss_p5[0] != rss_p5[1]);
  flow_key_extract_batch(pkts.data(), 0, 5, keys2.data(), rss_p5.data());  // empty batch
}

TEST_CASE("batch extraction of chained mbufs parses the first segment", "[datapath][flow_key]") {
  // IP lengths are checked against the whole packet (pkt_len); headers are
  // read from the first segment only. The second segment is never touched
  // (its mbuf header is not even set up).
  auto run = [](const std::vector<uint8_t>& frame, size_t first) {
    std::unique_ptr<uint8_t[]> seg(new uint8_t[first]);
    std::memcpy(seg.get(), frame.data(), first);
    rte_mbuf m;
    std::memset(&m, 0, sizeof m);
    m.buf_addr = seg.get();
    m.data_len = static_cast<uint16_t>(first);
    m.pkt_len = static_cast<uint32_t>(frame.size());
    m.nb_segs = 2;
    rte_mbuf* pkts[1] = {&m};
    FlowKey key;
    uint32_t hash;
    flow_key_extract_batch(pkts, 1, 1, &key, &hash);
    return key;
  };
  auto udp = PacketBuilder().eth().vlan(9).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload(200).build();
  CHECK_KEY(run(udp, 18 + 20 + 8 + 4), parse(udp));
  CHECK_KEY(run(udp, 18 + 20 + 8), parse(udp));
  FlowKey want = ipv4_key("10.0.0.1", "10.0.0.2", 17);  // UDP header not in the first segment
  want.vlan_tci = htons(9 | kVlanCfi);
  CHECK_KEY(run(udp, 18 + 20 + 4), want);
  want = l2_key(kEthTypeIpv4);  // IPv4 header not in the first segment
  want.vlan_tci = htons(9 | kVlanCfi);
  CHECK_KEY(run(udp, 18 + 10), want);

  auto v6 = PacketBuilder().eth().ipv6("::1", "::2").ipv6_ext(0).tcp(1, 2, 0x10).payload(300).build();
  CHECK_KEY(run(v6, 14 + 40 + 8 + 20), parse(v6));
  FlowKey want6 = ipv6_key("::1", "::2", 0);  // hop-by-hop header cut: flags so far, no proto
  CHECK_KEY(run(v6, 14 + 40 + 4), want6);
}

TEST_CASE("flow_key_format lists fields, masks and partial masks", "[datapath][flow_key]") {
  auto f = PacketBuilder().eth().vlan(100).ipv4("10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02).build();
  FlowKey k = parse(f, 3);
  std::string s = flow_key_format(k);
  for (const char* part : {"in_port=3", "eth_type=0x0800", "vlan_tci=0x1064",
                           "dl_src=02:00:00:00:00:0a", "dl_dst=02:00:00:00:00:0b",
                           "nw_src=10.0.0.1", "nw_dst=10.0.0.2", "nw_proto=6", "nw_ttl=64",
                           "tp_src=1234", "tp_dst=80", "tcp_flags=0x002"}) {
    INFO(s);
    CHECK(s.find(part) != std::string::npos);
  }
  CHECK(s.find("ipv6") == std::string::npos);
  CHECK(s.rfind("in_port=3,", 0) == 0);

  FlowMask m{};
  m.nw_src = htonl(0xffffff00);
  m.tp_dst = 0xffff;
  FlowKey masked;
  flow_key_apply_mask(k, m, &masked);
  CHECK(flow_key_format(masked, &m) == "nw_src=10.0.0.0/255.255.255.0,tp_dst=80");

  auto v6 = parse(PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").ipv6_frag(0, true)
                      .udp(1, 2).build());
  s = flow_key_format(v6);
  CHECK(s.find("ipv6_src=2001:db8::1") != std::string::npos);
  CHECK(s.find("ipv6_exthdr=0x010") != std::string::npos);
  CHECK(s.find("nw_frag=first") != std::string::npos);
}
