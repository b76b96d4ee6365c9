// Burst trains (flow_key_extract_batch's return mask). Coverage goal: a
// packet is marked as a train packet only if parsing it on its own gives
// exactly the key of the packet it follows (oracle: flow_key_extract of its
// own bytes), checked on hand-made cases and on random byte mutations of
// UDP/TCP, MPLS and PBB, tagged and untagged frames; and packets differing
// only in bytes outside the key (IP ID/checksum, TCP seq/ack/window, payload,
// for MPLS everything below the top label, for PBB the customer frame) are
// marked.
#include <catch2/catch.hpp>

#include <random>

#include "flow_key.h"
#include "packet_builder.h"
#include "test_eal.h"

using namespace dps::datapath;
using dps::test::PacketBuilder;

namespace {

std::vector<uint8_t> udp(uint16_t sport, bool vlan = false) {
  PacketBuilder b;
  b.eth(dps::test::mac("02:00:00:00:00:02"), dps::test::mac("02:00:00:00:00:01"));
  if (vlan) b.vlan(100);
  return b.ipv4("10.0.0.1", "10.0.0.2").udp(sport, 53).payload(18).build();
}

std::vector<uint8_t> tcp(uint32_t seq) {
  auto f = PacketBuilder()
               .eth(dps::test::mac("02:00:00:00:00:02"), dps::test::mac("02:00:00:00:00:01"))
               .ipv4("10.0.0.1", "10.0.0.2")
               .tcp(1000, 80)
               .payload(6)
               .build();
  for (int i = 0; i < 4; i++) f[38 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
  return f;
}

std::vector<uint8_t> mpls(uint32_t label, uint16_t sport, bool vlan = false, uint8_t ttl = 64) {
  PacketBuilder b;
  b.eth(dps::test::mac("02:00:00:00:00:02"), dps::test::mac("02:00:00:00:00:01"));
  if (vlan) b.vlan(100);
  return b.mpls(label, 0, true, ttl).ipv4("10.0.0.1", "10.0.0.2").udp(sport, 53).payload(18).build();
}

// A PBB frame (I-SID isid, behind an optional B-TAG) carrying udp(sport).
std::vector<uint8_t> pbb(uint32_t isid, uint16_t sport, bool vlan = false) {
  PacketBuilder b;
  b.eth(dps::test::mac("02:00:00:00:00:04"), dps::test::mac("02:00:00:00:00:03"));
  if (vlan) b.vlan(100, 0x88a8);
  return b.pbb(isid).ipv4("10.0.0.1", "10.0.0.2").udp(sport, 53).payload(18).build();
}

// Runs a batch and checks the oracle; returns the train mask.
uint32_t run(const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<rte_mbuf*> m;
  for (auto& f : frames) m.push_back(dps::test::make_mbuf(f));
  FlowKey keys[32];
  uint32_t hashes[32];
  uint32_t train = flow_key_extract_batch(m.data(), static_cast<unsigned>(m.size()), 7, keys, hashes);
  unsigned head = 0;
  for (unsigned i = 0; i < m.size(); i++) {
    FlowKey own;
    uint32_t own_hash = flow_key_extract(frames[i].data(), static_cast<uint32_t>(frames[i].size()), 7, &own);
    if (train & (1u << i)) {
      REQUIRE(i > 0);
      CHECK(flow_key_equal(own, keys[head]));
      CHECK(hashes[i] == own_hash);
    } else {
      head = i;
      CHECK(flow_key_equal(own, keys[i]));
      CHECK(hashes[i] == own_hash);
    }
  }
  for (auto* x : m) rte_pktmbuf_free(x);
  return train;
}

}  // namespace

TEST_CASE("packets differing only outside the key form a train", "[datapath][flow_key][eal]") {
  dps::test::ensure_eal();
  auto a = udp(1);
  auto a2 = a;
  a2[18] ^= 0x55;  // IP ID
  a2[24] ^= 0x11;  // IP checksum
  a2[45] ^= 0xff;  // payload
  auto b = udp(2);
  CHECK(run({a, a2, a, b, b}) == 0b10110u);
  CHECK(run({tcp(1), tcp(1000), tcp(99999)}) == 0b110u);
  CHECK(run({udp(1, true), udp(1, true), udp(1, false)}) == 0b010u);
  auto shorter = a;
  shorter.pop_back();
  CHECK(run({a, shorter}) == 0u);  // lengths differ: parsed
}

TEST_CASE("MPLS packets with the same top label entry form a train", "[datapath][flow_key][eal]") {
  dps::test::ensure_eal();
  // The payload below the label (here the inner UDP port) is not in the key.
  CHECK(run({mpls(100, 1), mpls(100, 2), mpls(100, 3)}) == 0b110u);
  CHECK(run({mpls(100, 1, true), mpls(100, 2, true), mpls(100, 1)}) == 0b010u);
  // A different label or TTL (both in the label entry) breaks the train.
  CHECK(run({mpls(100, 1), mpls(101, 1), mpls(101, 1, false, 63)}) == 0u);
  CHECK(run({udp(1), mpls(100, 1), udp(1)}) == 0u);
}

TEST_CASE("PBB packets with the same I-TAG form a train", "[datapath][flow_key][eal][pbb]") {
  dps::test::ensure_eal();
  // The customer frame behind the I-TAG is not in the key.
  CHECK(run({pbb(7, 1), pbb(7, 2), pbb(7, 3, false)}) == 0b110u);
  CHECK(run({pbb(7, 1, true), pbb(7, 2, true), pbb(7, 1)}) == 0b010u);
  CHECK(run({pbb(7, 1), pbb(8, 1), mpls(7, 1)}) == 0u);
}

TEST_CASE("random mutations never mark a packet whose key differs", "[datapath][flow_key][eal]") {
  dps::test::ensure_eal();
  std::mt19937 rng(42);
  std::vector<std::vector<uint8_t>> bases = {udp(5), udp(5, true), tcp(7), mpls(77, 5), mpls(77, 5, true),
                                             pbb(77, 5), pbb(77, 5, true)};
  unsigned marked = 0;
  for (int round = 0; round < 300; round++) {
    std::vector<std::vector<uint8_t>> frames;
    auto base = bases[rng() % bases.size()];
    for (int i = 0; i < 32; i++) {
      auto f = base;
      int flips = rng() % 3;
      for (int k = 0; k < flips; k++) f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      frames.push_back(f);
    }
    marked += __builtin_popcount(run(frames));
  }
  CHECK(marked > 1000);  // the oracle above is not vacuous
}
