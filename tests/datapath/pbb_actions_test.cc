// pbb_actions_test.cc - the datapath's PBB (IEEE 802.1ah) actions on one
// packet: push (untagged and tagged frames: the tags stay in the customer
// frame, the addresses are copied out as B-DA/B-SA), pop (with and without
// a B-TAG), the I-SID write, and their no-ops; and the flow key's parse of
// a PBB frame (the I-SID in ipv6_label, nothing past the I-TAG).
//
// Oracle, independent of the code under test: the frame PacketBuilder
// builds directly with the expected headers (its pbb() layer writes the
// I-TAG and the C-DA/C-SA), byte for byte.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "actions.h"
#include "dp_test_util.h"
#include "flow_key.h"
#include "packet_builder.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

const Mac kBda = {0x02, 0xbb, 0, 0, 0, 0x01};
const Mac kBsa = {0x02, 0xbb, 0, 0, 0, 0x02};

// The customer frame's layers after its addresses.
std::vector<uint8_t> ip_tail(PacketBuilder b) {
  return b.ipv4("10.0.0.1", "10.0.0.2", {.ttl = 9}).udp(1, 2).payload(9).build();
}

void check_rewrite(const std::vector<uint8_t>& in, const DpAction& a, const std::vector<uint8_t>& want,
                   bool applied = true) {
  bool ok = false;
  const std::vector<uint8_t> got = rewrite(in, a, &ok);
  DpActions l;
  l.add(a);
  INFO(format_actions(l) << hex_diff(got, want));
  CHECK(ok == applied);
  CHECK(got == want);
  CHECK(checksum_errors(got) == "");
}

}  // namespace

TEST_CASE("PBB actions: push in front of the whole frame, tags included", "[datapath][actions][pbb]") {
  // B-DA/B-SA = the frame's addresses, then the I-TAG as given, then the
  // frame from its C-DA on.
  check_rewrite(ip_tail(PacketBuilder().eth()), act_push_pbb(0x123456),
                ip_tail(PacketBuilder().eth().pbb(0x123456)));
  check_rewrite(ip_tail(PacketBuilder().eth().vlan(0xa007)), act_push_pbb(5u << 29 | 1u << 27 | 0xabcdef),
                ip_tail(PacketBuilder().eth().pbb(0xabcdef, kMacB, kMacA, 5, false, true).vlan(0xa007)));
  check_rewrite(ip_tail(PacketBuilder().eth().vlan(8, 0x88a8).vlan(7)), act_push_pbb(1),
                ip_tail(PacketBuilder().eth().pbb(1).vlan(8, 0x88a8).vlan(7)));
  // The backbone addresses given (a set_field eth_dst/eth_src folded in):
  // both, or one and the frame's own other.
  check_rewrite(ip_tail(PacketBuilder().eth().vlan(7)), act_push_pbb(0x123456, kBda.data(), kBsa.data()),
                ip_tail(PacketBuilder().eth(kBda, kBsa).pbb(0x123456).vlan(7)));
  check_rewrite(ip_tail(PacketBuilder().eth()), act_push_pbb(9, kBda.data()),
                ip_tail(PacketBuilder().eth(kBda, kMacA).pbb(9)));
  check_rewrite(ip_tail(PacketBuilder().eth()), act_push_pbb(9, nullptr, kBsa.data()),
                ip_tail(PacketBuilder().eth(kMacB, kBsa).pbb(9)));
  // Too short for an Ethernet header: left alone.
  const std::vector<uint8_t> runt(13, 0x55);
  check_rewrite(runt, act_push_pbb(1), runt, false);
}

TEST_CASE("PBB actions: pop strips the backbone header and B-TAG, set writes the I-SID",
          "[datapath][actions][pbb]") {
  const auto customer = [] { return ip_tail(PacketBuilder().eth(kMacB, kMacA).vlan(7)); };
  check_rewrite(ip_tail(PacketBuilder().eth(kBda, kBsa).pbb(77).vlan(7)), act_pop_pbb(), customer());
  check_rewrite(ip_tail(PacketBuilder().eth(kBda, kBsa).vlan(100, 0x88a8).pbb(77, kMacB, kMacA, 3).vlan(7)),
                act_pop_pbb(), customer());
  check_rewrite(ip_tail(PacketBuilder().eth(kBda, kBsa).vlan(100, 0x88a8).pbb(77, kMacB, kMacA, 3, true)),
                act_set_pbb_isid(0xfedcba),
                ip_tail(PacketBuilder().eth(kBda, kBsa).vlan(100, 0x88a8).pbb(0xfedcba, kMacB, kMacA, 3, true)));
  // Not PBB, or the I-TAG and customer header cut short: no-ops.
  check_rewrite(customer(), act_pop_pbb(), customer(), false);
  check_rewrite(customer(), act_set_pbb_isid(5), customer(), false);
  std::vector<uint8_t> cut = PacketBuilder().eth(kBda, kBsa).pbb(77).build();
  cut.resize(14 + 4 + 12);  // no customer ethertype
  check_rewrite(cut, act_pop_pbb(), cut, false);
}

TEST_CASE("flow key: a PBB frame's I-SID is in ipv6_label, after the B-TAG", "[datapath][flow_key][pbb]") {
  FlowKey k;
  const auto f = ip_tail(PacketBuilder().eth(kBda, kBsa).vlan(0x2064, 0x88a8).pbb(0xc0ffee, kMacB, kMacA, 7, true, true));
  flow_key_extract(f.data(), static_cast<uint32_t>(f.size()), 3, &k);
  CHECK(k.eth_type == htons(0x88e7));
  CHECK(k.vlan_tci == htons(0x3064));
  CHECK(k.ipv6_label == htonl(0xc0ffee));  // I-PCP, I-DEI and UCA are not in the key
  CHECK(k.nw_src == 0);                     // the customer frame is not parsed
  CHECK(k.nw_proto == 0);
  CHECK(flow_key_format(k, nullptr).find("pbb_isid=0xc0ffee") != std::string::npos);
  // A truncated I-TAG (after the B-TAG, 3 of its 4 bytes): no I-SID.
  flow_key_extract(f.data(), 18 + 3, 3, &k);
  CHECK(k.eth_type == htons(0x88e7));
  CHECK(k.ipv6_label == 0);
}
