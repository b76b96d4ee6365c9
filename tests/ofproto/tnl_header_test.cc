// tnl_header_test.cc - the outer headers native tunneling pushes, byte by
// byte for each type and family (VXLAN, Geneve with options, GRE with
// checksum and key; IPv4 and IPv6), the push info the PMD reads, folding
// underlay VLAN / Ethernet rewrites into a header, the outer flow key, the
// ARP and ND requests (checked by the independent verifier and by the
// datapath's own parser), and Geneve options raw <-> TLV-mapped.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "flow_key.h"
#include "packet_builder.h"
#include "tnl_fixtures.h"
#include "tnl_header.h"

using namespace dps::ofproto;
namespace dp = dps::datapath;
using dps::test::ip;
using dps::test::tlv_with;

namespace {

const MacAddr kSrc = {0x02, 0xaa, 0, 0, 0, 0x01};
const MacAddr kDst = {0x02, 0xbb, 0, 0, 0, 0x02};

TnlHeaderParams params(dp::TunnelType type, const char* src, const char* dst) {
  TnlHeaderParams p;
  p.type = type;
  p.eth_src = kSrc;
  p.eth_dst = kDst;
  p.src = ip(src);
  p.dst = ip(dst);
  p.tos = 0x28;
  p.ttl = 33;
  p.key = 0x123456;
  p.udp_dst = type == dp::TunnelType::kGeneve ? 6081 : 4789;
  p.mtu = 1600;
  return p;
}

uint16_t be16_at(const TnlHeader& h, unsigned off) {
  return static_cast<uint16_t>(h.bytes[off] << 8 | h.bytes[off + 1]);
}

uint32_t be24_at(const TnlHeader& h, unsigned off) {
  return uint32_t{h.bytes[off]} << 16 | uint32_t{h.bytes[off + 1]} << 8 | h.bytes[off + 2];
}

bool bytes_eq(const TnlHeader& h, unsigned off, const void* p, size_t n) {
  return std::memcmp(h.bytes + off, p, n) == 0;
}

void check_eth(const TnlHeader& h, uint16_t type) {
  CHECK(bytes_eq(h, 0, kDst.data(), 6));
  CHECK(bytes_eq(h, 6, kSrc.data(), 6));
  CHECK(be16_at(h, 12) == type);
}

// IPv4 at 14: version/IHL, TOS, zero length and id, DF, TTL, protocol,
// a checksum valid for the template, addresses.
void check_ipv4(const TnlHeader& h, uint8_t proto, bool df) {
  CHECK(h.bytes[14] == 0x45);
  CHECK(h.bytes[15] == 0x28);
  CHECK(be16_at(h, 16) == 0);
  CHECK(be16_at(h, 18) == 0);
  CHECK(be16_at(h, 20) == (df ? 0x4000 : 0));
  CHECK(h.bytes[22] == 33);
  CHECK(h.bytes[23] == proto);
  CHECK(inet_csum(h.bytes + 14, 20) == 0);  // the template's checksum verifies
  CHECK(be16_at(h, 24) != 0);
  CHECK(bytes_eq(h, 26, ip("192.168.1.1").b.data(), 4));
  CHECK(bytes_eq(h, 30, ip("192.168.1.2").b.data(), 4));
  CHECK(h.info.l3_ofs == 14);
  CHECK(h.info.l4_ofs == 34);
}

void check_ipv6(const TnlHeader& h, uint8_t proto) {
  CHECK(h.bytes[14] == (0x60 | 0x28 >> 4));
  CHECK(h.bytes[15] == ((0x28 & 0xf) << 4));
  CHECK(be16_at(h, 16) == 0);  // flow label low bits
  CHECK(be16_at(h, 18) == 0);  // payload length: the PMD's
  CHECK(h.bytes[20] == proto);
  CHECK(h.bytes[21] == 33);
  CHECK(bytes_eq(h, 22, ip("2001:db8::1").b.data(), 16));
  CHECK(bytes_eq(h, 38, ip("2001:db8::2").b.data(), 16));
  CHECK(h.info.l3_ofs == 14);
  CHECK(h.info.l4_ofs == 54);
  CHECK(h.info.flags & dp::kTnlOuterIpv6);
}

// UDP at off: source port, length and checksum for the PMD.
void check_udp(const TnlHeader& h, unsigned off, uint16_t dport) {
  CHECK(be16_at(h, off) == 0);
  CHECK(be16_at(h, off + 2) == dport);
  CHECK(be16_at(h, off + 4) == 0);
  CHECK(be16_at(h, off + 6) == 0);
}

}  // namespace

TEST_CASE("tnl header: VXLAN over IPv4, field by field", "[ofproto][tunnel]") {
  TnlHeader h;
  REQUIRE_FALSE(build_tnl_header(params(dp::TunnelType::kVxlan, "192.168.1.1", "192.168.1.2"), &h));
  CHECK(h.len == 50);
  check_eth(h, 0x0800);
  check_ipv4(h, 17, true);
  check_udp(h, 34, 4789);
  CHECK(h.bytes[42] == 0x08);  // I flag
  CHECK(be24_at(h, 43) == 0);
  CHECK(be24_at(h, 46) == 0x123456);  // VNI
  CHECK(h.bytes[49] == 0);
  CHECK(h.info.type == dp::TunnelType::kVxlan);
  CHECK(h.info.flags == 0);  // no checksum asked
  CHECK(h.info.mtu == 1600);
  CHECK(h.info.udp_src_min == 32768);
  CHECK(h.info.udp_src_max == 61000);
  // csum=true asks the PMD for the UDP checksum; df=false clears DF.
  TnlHeaderParams p = params(dp::TunnelType::kVxlan, "192.168.1.1", "192.168.1.2");
  p.csum = true;
  p.df = false;
  p.key = 0xff000001;  // only 24 bits fit
  REQUIRE_FALSE(build_tnl_header(p, &h));
  CHECK(h.info.flags == dp::kTnlUdpCsum);
  CHECK(be16_at(h, 20) == 0);
  CHECK(be24_at(h, 46) == 1);
}

TEST_CASE("tnl header: VXLAN over IPv6", "[ofproto][tunnel]") {
  TnlHeader h;
  REQUIRE_FALSE(build_tnl_header(params(dp::TunnelType::kVxlan, "2001:db8::1", "2001:db8::2"), &h));
  CHECK(h.len == 70);
  check_eth(h, 0x86dd);
  check_ipv6(h, 17);
  check_udp(h, 54, 4789);
  CHECK(h.bytes[62] == 0x08);
  CHECK(be24_at(h, 66) == 0x123456);
  CHECK(h.info.flags == (dp::kTnlOuterIpv6 | dp::kTnlUdpCsum));  // IPv6 UDP always has a checksum
  // Mixed families are refused.
  CHECK(build_tnl_header(params(dp::TunnelType::kVxlan, "192.168.1.1", "2001:db8::2"), &h).has_value());
}

TEST_CASE("tnl header: Geneve with options, IPv4 and IPv6", "[ofproto][tunnel]") {
  const uint8_t opts[] = {0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef,  // critical, 4 bytes
                          0xff, 0xff, 0x05, 0x00};                          // 0 bytes
  TnlHeaderParams p = params(dp::TunnelType::kGeneve, "192.168.1.1", "192.168.1.2");
  p.opts = opts;
  p.opts_len = sizeof opts;
  TnlHeader h;
  REQUIRE_FALSE(build_tnl_header(p, &h));
  CHECK(h.len == 50 + sizeof opts);
  check_ipv4(h, 17, true);
  check_udp(h, 34, 6081);
  CHECK(h.bytes[42] == sizeof opts / 4);  // version 0, option length in words
  CHECK(h.bytes[43] == 0x40);             // C: a critical option is present
  CHECK(be16_at(h, 44) == 0x6558);
  CHECK(be24_at(h, 46) == 0x123456);
  CHECK(bytes_eq(h, 50, opts, sizeof opts));
  CHECK(h.info.type == dp::TunnelType::kGeneve);
  // No critical option: no C bit. IPv6.
  p = params(dp::TunnelType::kGeneve, "2001:db8::1", "2001:db8::2");
  p.opts = opts + 8;
  p.opts_len = 4;
  REQUIRE_FALSE(build_tnl_header(p, &h));
  CHECK(h.len == 70 + 4);
  check_ipv6(h, 17);
  check_udp(h, 54, 6081);
  CHECK(h.bytes[62] == 1);
  CHECK(h.bytes[63] == 0);
  // Too long or not a multiple of 4.
  uint8_t big[60] = {};
  p.opts = big;
  p.opts_len = 60;
  CHECK(build_tnl_header(p, &h).has_value());
  p.opts_len = 6;
  CHECK(build_tnl_header(p, &h).has_value());
}

TEST_CASE("tnl header: GRE with checksum and key, and without", "[ofproto][tunnel]") {
  TnlHeaderParams p = params(dp::TunnelType::kGre, "192.168.1.1", "192.168.1.2");
  p.csum = true;
  p.gre_key = true;
  p.key = 0xabcdef12;
  TnlHeader h;
  REQUIRE_FALSE(build_tnl_header(p, &h));
  CHECK(h.len == 34 + 12);
  check_eth(h, 0x0800);
  check_ipv4(h, 47, true);
  CHECK(be16_at(h, 34) == 0xa000);  // C | K, version 0
  CHECK(be16_at(h, 36) == 0x6558);  // Ethernet inside
  CHECK(be16_at(h, 38) == 0);       // checksum: the PMD's
  CHECK(be16_at(h, 40) == 0);
  CHECK(be16_at(h, 42) == 0xabcd);
  CHECK(be16_at(h, 44) == 0xef12);
  CHECK(h.info.flags == dp::kTnlGreCsum);
  CHECK(h.info.type == dp::TunnelType::kGre);
  p = params(dp::TunnelType::kGre, "2001:db8::1", "2001:db8::2");
  REQUIRE_FALSE(build_tnl_header(p, &h));
  CHECK(h.len == 54 + 4);
  check_ipv6(h, 47);
  CHECK(be16_at(h, 54) == 0);
  CHECK(be16_at(h, 56) == 0x6558);
  CHECK(h.info.flags == dp::kTnlOuterIpv6);  // no UDP, no GRE checksum
}

TEST_CASE("tnl header: underlay rewrites folded in, and the outer key", "[ofproto][tunnel]") {
  TnlHeader h;
  REQUIRE_FALSE(build_tnl_header(params(dp::TunnelType::kVxlan, "192.168.1.1", "192.168.1.2"), &h));
  dp::FlowKey k = tnl_outer_key(h, 7);
  CHECK(k.in_port == 7);
  CHECK(k.eth_type == htons(0x0800));
  CHECK(k.nw_src == ip("192.168.1.1").v4_be());
  CHECK(k.nw_dst == ip("192.168.1.2").v4_be());
  CHECK(k.nw_proto == 17);
  CHECK(k.nw_tos == 0x28);
  CHECK(k.nw_ttl == 33);
  CHECK(k.tp_dst == htons(4789));
  CHECK(k.vlan_tci == 0);
  TnlHeader v = h;
  REQUIRE(tnl_header_apply(dp::act_push_vlan(dp::kEthTypeVlan, 0x2064), &v));  // PCP 1, VID 100
  CHECK(v.len == 54);
  CHECK(v.info.l3_ofs == 18);
  CHECK(v.info.l4_ofs == 38);
  CHECK(be16_at(v, 12) == 0x8100);
  CHECK(be16_at(v, 14) == 0x2064);
  CHECK(be16_at(v, 16) == 0x0800);
  CHECK(std::memcmp(v.bytes + 18, h.bytes + 14, 36) == 0);
  k = tnl_outer_key(v, 7);
  CHECK(k.vlan_tci == htons(0x3064));  // CFI marks "tagged" in keys
  CHECK(k.eth_type == htons(0x0800));
  CHECK(k.nw_dst == ip("192.168.1.2").v4_be());
  REQUIRE(tnl_header_apply(dp::act_set_vlan_vid(200), &v));
  CHECK(be16_at(v, 14) == 0x20c8);
  REQUIRE(tnl_header_apply(dp::act_set_vlan_pcp(5), &v));
  CHECK(be16_at(v, 14) == 0xa0c8);
  REQUIRE(tnl_header_apply(dp::act_pop_vlan(), &v));
  CHECK(v.len == 50);
  CHECK(std::memcmp(v.bytes, h.bytes, 50) == 0);
  uint8_t m[6] = {2, 9, 9, 9, 9, 9};
  REQUIRE(tnl_header_apply(dp::act_set_eth_dst(m), &v));
  CHECK(std::memcmp(v.bytes, m, 6) == 0);
  CHECK_FALSE(tnl_header_apply(dp::act_set_ipv4_dst(1), &v));
  CHECK_FALSE(tnl_header_apply(dp::act_dec_ttl(), &v));
  // IPv6 outer key.
  REQUIRE_FALSE(build_tnl_header(params(dp::TunnelType::kGeneve, "2001:db8::1", "2001:db8::2"), &h));
  k = tnl_outer_key(h, 3);
  CHECK(k.eth_type == htons(0x86dd));
  CHECK(std::memcmp(k.ipv6_dst, ip("2001:db8::2").b.data(), 16) == 0);
  CHECK(k.nw_tos == 0x28);
  CHECK(k.nw_ttl == 33);
  CHECK(k.tp_dst == htons(6081));
}

TEST_CASE("tnl header: ARP request and ND solicitation", "[ofproto][tunnel]") {
  std::vector<uint8_t> arp = build_arp_request(kSrc, ip("192.168.1.1"), ip("192.168.1.9"));
  REQUIRE(arp.size() == 42);
  dp::FlowKey k{};
  dp::flow_key_extract(arp.data(), static_cast<uint32_t>(arp.size()), 1, &k);
  CHECK(k.eth_type == htons(0x0806));
  CHECK(k.nw_proto == 1);  // request
  CHECK(k.nw_src == ip("192.168.1.1").v4_be());
  CHECK(k.nw_dst == ip("192.168.1.9").v4_be());
  CHECK(std::memcmp(k.arp_sha, kSrc.data(), 6) == 0);
  const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(std::memcmp(k.dl_dst, bcast, 6) == 0);
  CHECK(std::memcmp(k.dl_src, kSrc.data(), 6) == 0);

  IpAddr target = ip("2001:db8::1:2:3");
  std::vector<uint8_t> ns = build_nd_ns(kSrc, ip("2001:db8::1"), target);
  REQUIRE(ns.size() == 86);
  CHECK(dps::test::checksum_errors(ns) == "");  // IPv6 lengths and ICMPv6 checksum
  dp::flow_key_extract(ns.data(), static_cast<uint32_t>(ns.size()), 1, &k);
  CHECK(k.eth_type == htons(0x86dd));
  CHECK(k.nw_proto == 58);
  CHECK(k.nw_ttl == 255);
  CHECK(k.tp_src == htons(135));
  CHECK(std::memcmp(k.nd_target, target.b.data(), 16) == 0);
  CHECK(std::memcmp(k.arp_sha, kSrc.data(), 6) == 0);  // the SLL option
  const uint8_t snm[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x02, 0x00, 0x03};
  CHECK(std::memcmp(k.ipv6_dst, snm, 16) == 0);
  const uint8_t mmac[6] = {0x33, 0x33, 0xff, 0x02, 0x00, 0x03};
  CHECK(std::memcmp(k.dl_dst, mmac, 6) == 0);
}

TEST_CASE("tnl header: Geneve options raw <-> mapped through the TLV table", "[ofproto][tunnel]") {
  TlvTable tlv = tlv_with({TlvMapping{0x0102, 0x80, 4, 0, 0}, TlvMapping{0xffff, 0x05, 8, 3, 4}});
  const uint8_t raw[] = {0xff, 0xff, 0x05, 0x02, 1, 2, 3, 4, 5, 6, 7, 8,  // tun_metadata3
                         0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef,  // tun_metadata0 (critical, known)
                         0x00, 0x07, 0x01, 0x00};                         // unknown, not critical: ignored
  dp::FlowKey f{};
  f.tun_opts_len = sizeof raw;
  REQUIRE(geneve_opts_to_mapped(&tlv, raw, sizeof raw, &f) == GeneveOptsError::kNone);
  CHECK(f.tun_md_present == ((1ull << 0) | (1ull << 3)));
  CHECK(f.tun_opts_len == 0);
  const uint8_t md0[] = {0xde, 0xad, 0xbe, 0xef}, md3[] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(std::memcmp(f.tun_opts, md0, 4) == 0);
  CHECK(std::memcmp(f.tun_opts + 4, md3, 8) == 0);
  // Back to raw: index order, unknown option gone.
  uint8_t out[48];
  int n = geneve_opts_from_mapped(&tlv, f, out, sizeof out);
  REQUIRE(n == 20);
  CHECK(std::memcmp(out, raw + 12, 8) == 0);
  CHECK(std::memcmp(out + 8, raw, 12) == 0);
  CHECK(geneve_opts_from_mapped(&tlv, f, out, 12) == -1);
  // Unknown critical option: undeliverable.
  const uint8_t crit[] = {0x00, 0x07, 0x81, 0x00};
  CHECK(geneve_opts_to_mapped(&tlv, crit, sizeof crit, &f) == GeneveOptsError::kCritical);
  CHECK(geneve_opts_to_mapped(nullptr, crit, sizeof crit, &f) == GeneveOptsError::kCritical);
  // Known option, wrong length.
  const uint8_t bad_len[] = {0x01, 0x02, 0x80, 0x02, 1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(geneve_opts_to_mapped(&tlv, bad_len, sizeof bad_len, &f) == GeneveOptsError::kBadLength);
  // Truncated lists.
  CHECK(geneve_opts_to_mapped(&tlv, raw, 2, &f) == GeneveOptsError::kMalformed);
  CHECK(geneve_opts_to_mapped(&tlv, raw, 8, &f) == GeneveOptsError::kMalformed);
  CHECK(std::string(geneve_opts_error_name(GeneveOptsError::kCritical)) == "unknown critical Geneve option");
}
