// Bond member choice (dp_bond.h). Coverage goal: the balance-slb and
// balance-tcp hashes spread structured traffic (sequential source MACs,
// sequential L4 ports: what a rack of VMs and a client's connections look
// like) over the buckets, whichever way the control thread splits the
// buckets between two members (halves or alternating). Both hashes are
// CRC32-C (linear over GF(2)) folded to 8 bits: structured inputs are where
// a linear hash could map everything into one half.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>

#include "dp_bond.h"
#include "packet_builder.h"
#include "test_eal.h"

using namespace dps::datapath;
using dps::test::PacketBuilder;

namespace {

struct Spread {
  std::array<unsigned, kBondBuckets> hits{};
  unsigned low_half = 0, even = 0, distinct = 0, n = 0;
  void add(unsigned b) {
    REQUIRE(b < kBondBuckets);
    distinct += hits[b]++ == 0;
    low_half += b < kBondBuckets / 2;
    even += b % 2 == 0;
    n++;
  }
  // Binomial(256, 1/2) has a standard deviation of 8: +-40 is 5 of them.
  void check() const {
    INFO("low half " << low_half << ", even " << even << ", distinct " << distinct << " of " << n);
    CHECK(low_half > n / 2 - 40);
    CHECK(low_half < n / 2 + 40);
    CHECK(even > n / 2 - 40);
    CHECK(even < n / 2 + 40);
    CHECK(distinct > n / 2);  // 256 into 256 at random: ~162 distinct
  }
};

unsigned bucket_of_frame(const std::vector<uint8_t>& f, bool slb) {
  rte_mbuf* m = dps::test::make_mbuf(f);
  const unsigned b = bond_bucket_of(slb ? bond_hash_src_mac_vlan(m) : bond_hash_l4(m));
  rte_pktmbuf_free(m);
  return b;
}

}  // namespace

TEST_CASE("balance-slb spreads sequential source MACs over both members", "[datapath][bond][eal]") {
  dps::test::ensure_eal();
  for (bool vlan : {false, true}) {
    Spread s;
    for (unsigned i = 0; i < 256; i++) {
      char mac[18];
      std::snprintf(mac, sizeof mac, "02:00:00:01:%02x:%02x", i >> 8, i & 0xff);
      PacketBuilder b;
      b.eth(dps::test::mac("02:00:00:00:02:02"), dps::test::mac(mac));
      if (vlan) b.vlan(100);
      s.add(bucket_of_frame(b.ipv4("10.0.0.1", "10.0.0.2").udp(1000, 53).payload(18).build(), true));
    }
    s.check();
  }
}

TEST_CASE("balance-tcp spreads sequential source ports over both members", "[datapath][bond][eal]") {
  dps::test::ensure_eal();
  Spread s;
  for (unsigned i = 0; i < 256; i++)
    s.add(bucket_of_frame(PacketBuilder()
                              .eth(dps::test::mac("02:00:00:00:02:02"), dps::test::mac("02:00:00:00:01:01"))
                              .ipv4("10.0.0.1", "10.0.0.2")
                              .tcp(static_cast<uint16_t>(40000 + i), 80)
                              .payload(6)
                              .build(),
                          false));
  s.check();
}
