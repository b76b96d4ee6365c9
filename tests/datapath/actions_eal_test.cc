// actions_eal_test.cc - the rewrites on real pool mbufs (EAL, --no-huge):
// default headroom for push_vlan, chained mbufs whose payload is in a second
// segment (lengths checked against pkt_len, headers read from the first), and
// a rewrite sequence as the PMD runs it. actions_test.cc covers the rest
// without an EAL.
#include <arpa/inet.h>
#include <rte_mbuf.h>

#include <catch2/catch.hpp>

#include "actions.h"
#include "packet_builder.h"
#include "test_eal.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

std::vector<uint8_t> all_bytes(const rte_mbuf* m) {
  std::vector<uint8_t> out;
  for (const rte_mbuf* s = m; s; s = s->next) {
    const uint8_t* p = rte_pktmbuf_mtod(s, const uint8_t*);
    out.insert(out.end(), p, p + s->data_len);
  }
  return out;
}

// frame split after `first` bytes into a two-segment chain.
rte_mbuf* make_chain(const std::vector<uint8_t>& frame, size_t first) {
  rte_mbuf* a = make_mbuf(std::vector<uint8_t>(frame.begin(), frame.begin() + static_cast<long>(first)));
  rte_mbuf* b = make_mbuf(std::vector<uint8_t>(frame.begin() + static_cast<long>(first), frame.end()));
  REQUIRE(rte_pktmbuf_chain(a, b) == 0);
  return a;
}

}  // namespace

TEST_CASE("rewrites on pool mbufs", "[datapath][actions][eal]") {
  ensure_eal();
  auto untagged = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2", {.ttl = 9}).tcp(80, 1234, 0x10)
                      .payload(30).build();
  rte_mbuf* m = make_mbuf(untagged);
  const uint16_t headroom = rte_pktmbuf_headroom(m);
  CHECK(action_push_vlan(m, 0x8100, 0x0123));
  CHECK(action_set_field(m, act_set_ipv4_src(ip4("172.16.0.1"))));
  CHECK(action_set_field(m, act_set_tp_src(htons(8080))));
  CHECK(action_dec_ttl(m));
  auto want = PacketBuilder().eth().vlan(0x0123).ipv4("172.16.0.1", "10.0.0.2", {.ttl = 8})
                  .tcp(8080, 1234, 0x10).payload(30).build();
  CHECK(mbuf_bytes(m) == want);
  CHECK(checksum_errors(mbuf_bytes(m)) == "");
  CHECK(rte_pktmbuf_headroom(m) == headroom - 4);
  CHECK(action_pop_vlan(m));
  CHECK(rte_pktmbuf_headroom(m) == headroom);
  CHECK(rte_pktmbuf_pkt_len(m) == untagged.size());
  rte_pktmbuf_free(m);
}

TEST_CASE("rewrites on a chained mbuf: headers in the first segment", "[datapath][actions][eal]") {
  ensure_eal();
  auto frame = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(5, 6).payload(100).build();
  auto want = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.99").udp(5, 7).payload(100).build();
  rte_mbuf* m = make_chain(frame, 14 + 20 + 8 + 10);
  REQUIRE(m->nb_segs == 2);
  CHECK(action_set_field(m, act_set_ipv4_dst(ip4("10.0.0.99"))));
  CHECK(action_set_field(m, act_set_tp_dst(htons(7))));
  CHECK(all_bytes(m) == want);
  CHECK(checksum_errors(all_bytes(m)) == "");
  rte_pktmbuf_free(m);

  // SCTP's CRC needs the whole packet in the first segment: refused, unchanged.
  auto sctp = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").sctp(5, 6).payload(64).build();
  m = make_chain(sctp, 14 + 20 + 12 + 4);
  CHECK(!action_set_field(m, act_set_tp_dst(htons(7))));
  CHECK(all_bytes(m) == sctp);
  rte_pktmbuf_free(m);

  // IPv4 header split across segments: not rewritten.
  m = make_chain(frame, 14 + 10);
  CHECK(!action_set_field(m, act_set_ipv4_dst(ip4("10.0.0.99"))));
  CHECK(all_bytes(m) == frame);
  rte_pktmbuf_free(m);
}
