// mpls_actions_test.cc - the datapath's MPLS actions on one packet: push
// (after the VLAN tags, onto IP or onto a label), pop (to a label or to IP),
// the masked LSE write, copy_ttl_out / copy_ttl_in (between labels, and
// with the IPv4 header, its checksum fixed), and their no-ops.
//
// Oracle, independent of the code under test: the frame PacketBuilder
// builds directly with the expected headers, byte for byte, and
// checksum_errors() over it.
#include <catch2/catch.hpp>

#include "actions.h"
#include "dp_test_util.h"
#include "packet_builder.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

std::vector<uint8_t> ip_frame(PacketBuilder b, uint8_t ttl = 64) {
  return b.ipv4("10.0.0.1", "10.0.0.2", {.tos = 0x20, .ttl = ttl}).udp(1, 2).payload(9).build();
}

constexpr uint32_t lse(uint32_t label, uint32_t tc, bool bos, uint32_t ttl) {
  return label << 12 | tc << 9 | (bos ? 0x100u : 0u) | ttl;
}

void check_rewrite(const std::vector<uint8_t>& in, const DpAction& a, const std::vector<uint8_t>& want,
                   bool applied = true) {
  bool ok = false;
  const std::vector<uint8_t> got = rewrite(in, a, &ok);
  INFO(format_actions([&] {
    DpActions l;
    l.add(a);
    return l;
  }()) << hex_diff(got, want));
  CHECK(ok == applied);
  CHECK(got == want);
  CHECK(checksum_errors(got) == "");
}

}  // namespace

TEST_CASE("MPLS actions: push and pop, untagged, tagged and QinQ", "[datapath][actions][mpls]") {
  const auto e = [] { return PacketBuilder().eth(); };
  check_rewrite(ip_frame(e()), act_push_mpls(0x8847, lse(5, 1, true, 64)), ip_frame(e().mpls(5, 1, true, 64)));
  check_rewrite(ip_frame(e().vlan(7)), act_push_mpls(0x8847, lse(5, 1, true, 64)),
                ip_frame(e().vlan(7).mpls(5, 1, true, 64)));
  check_rewrite(ip_frame(e().vlan(8, 0x88a8).vlan(7)), act_push_mpls(0x8847, lse(5, 0, true, 3)),
                ip_frame(e().vlan(8, 0x88a8).vlan(7).mpls(5, 0, true, 3)));
  check_rewrite(ip_frame(e().mpls(9, 0, true, 4)), act_push_mpls(0x8847, lse(1, 0, false, 4)),
                ip_frame(e().mpls(1, 0, false, 4).mpls(9, 0, true, 4)));
  // 0x8848: the builder's mpls() writes 0x8847; the ethertype is patched.
  std::vector<uint8_t> mc = ip_frame(e().mpls(5, 0, true, 64));
  mc[12] = 0x88;
  mc[13] = 0x48;
  check_rewrite(ip_frame(e()), act_push_mpls(0x8848, lse(5, 0, true, 64)), mc);
  check_rewrite(mc, act_pop_mpls(0x0800), ip_frame(e()));
  check_rewrite(ip_frame(e().vlan(7).mpls(1, 0, false, 4).mpls(9, 0, true, 4)), act_pop_mpls(0x8847),
                ip_frame(e().vlan(7).mpls(9, 0, true, 4)));
  check_rewrite(ip_frame(e().vlan(7).mpls(9, 0, true, 4)), act_pop_mpls(0x0800), ip_frame(e().vlan(7)));
  // Not MPLS: pop and the LSE write leave the frame alone.
  check_rewrite(ip_frame(e()), act_pop_mpls(0x0800), ip_frame(e()), false);
  check_rewrite(ip_frame(e()), act_set_mpls_lse(7, 0xff), ip_frame(e()), false);
}

TEST_CASE("MPLS actions: masked LSE writes and the TTL copies", "[datapath][actions][mpls]") {
  const auto e = [] { return PacketBuilder().eth(); };
  check_rewrite(ip_frame(e().mpls(9, 3, true, 4)), act_set_mpls_lse(lse(77, 0, false, 0), 0xfffff000u),
                ip_frame(e().mpls(77, 3, true, 4)));
  check_rewrite(ip_frame(e().mpls(9, 3, true, 4)), act_set_mpls_lse(lse(0, 6, false, 200), 0xeffu),
                ip_frame(e().mpls(9, 6, true, 200)));
  // Between two labels.
  check_rewrite(ip_frame(e().mpls(1, 0, false, 4).mpls(9, 0, true, 40)), act_copy_ttl_out(),
                ip_frame(e().mpls(1, 0, false, 40).mpls(9, 0, true, 40)));
  check_rewrite(ip_frame(e().mpls(1, 0, false, 4).mpls(9, 0, true, 40)), act_copy_ttl_in(),
                ip_frame(e().mpls(1, 0, false, 4).mpls(9, 0, true, 4)));
  // With the IPv4 header under the bottom of the stack (its checksum fixed).
  check_rewrite(ip_frame(e().mpls(9, 0, true, 4), 33), act_copy_ttl_out(), ip_frame(e().mpls(9, 0, true, 33), 33));
  check_rewrite(ip_frame(e().mpls(9, 0, true, 4), 33), act_copy_ttl_in(), ip_frame(e().mpls(9, 0, true, 4), 4));
  // IPv6 hop limit.
  auto v6 = [&](uint8_t lse_ttl, uint8_t hlim) {
    return e().mpls(9, 0, true, lse_ttl).ipv6("fe80::1", "fe80::2", {.hop_limit = hlim}).udp(1, 2).payload(5).build();
  };
  check_rewrite(v6(4, 70), act_copy_ttl_in(), v6(4, 4));
  check_rewrite(v6(4, 70), act_copy_ttl_out(), v6(70, 70));
}
