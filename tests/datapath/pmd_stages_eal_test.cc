// The execute stage's paths that free or copy packets (they need pool
// mbufs, hence the EAL): a drop flow, an output followed by a rewrite (the
// port gets a copy), two outputs (one mbuf, two references), dec_ttl
// dropping expired packets. Every test ends with the pool as it began.
#include <catch2/catch.hpp>

#include "pmd_rig.h"
#include "pmd_stages.h"
#include "test_eal.h"

using namespace dps::datapath;
using namespace dps::test;

namespace {

constexpr const char* kTo10 = "in_port=1,eth_type=0x0800,nw_dst=10.0.0.0/8";


std::vector<uint8_t> ttl_frame(const char* dst, uint8_t ttl) {
  Ipv4Opts o;
  o.ttl = ttl;
  return PacketBuilder().eth().ipv4("10.0.0.1", dst, o).udp(1000, 53).payload(18).build();
}

FlowKey key_of(rte_mbuf* m) {
  FlowKey k;
  flow_key_extract(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, 1, &k);
  return k;
}

// Runs pkts through the PMD's stages and flushes the tx batches.
void run_burst(PmdRig& rig, std::vector<rte_mbuf*>& pkts) {
  for (rte_mbuf* p : pkts) rig.port(1).rx.push_back(p);
  rig.pmd->run_once();
}

void free_sent(PmdRig& rig) {
  for (uint32_t p = 1; p <= 3; p++)
    for (rte_mbuf* m : rig.port(p).sent) rte_pktmbuf_free(m);
}

}  // namespace

TEST_CASE("execute with pool mbufs: drop, copy before rewrite, shared outputs, dec_ttl",
          "[datapath][pmd][eal]") {
  ensure_eal();
  const unsigned avail = rte_mempool_avail_count(test_pool());
  {
    PmdRig rig;
    SECTION("a drop flow frees its packets and counts them") {
      rig.install(kTo10, "drop");
      std::vector<rte_mbuf*> pkts = {make_mbuf(frame_to("10.0.0.1")),
                                     make_mbuf(frame_to("10.0.0.2"))};
      run_burst(rig, pkts);
      CHECK(rig.counter(kDropped) == 2);
      CHECK(rte_mempool_avail_count(test_pool()) == avail);
    }
    SECTION("an output before a rewrite sends a copy of the packet as it was") {
      rig.install(kTo10, "output:2,set_tp_src:7,output:3");
      std::vector<rte_mbuf*> pkts = {make_mbuf(frame_to("10.0.0.1", 5))};
      run_burst(rig, pkts);
      REQUIRE(rig.port(2).sent.size() == 1);
      REQUIRE(rig.port(3).sent.size() == 1);
      CHECK(rig.port(2).sent[0] != pkts[0]);
      CHECK(rig.port(3).sent[0] == pkts[0]);
      CHECK(key_of(rig.port(2).sent[0]).tp_src == htons(5));
      CHECK(key_of(rig.port(3).sent[0]).tp_src == htons(7));
    }
    SECTION("two outputs share one mbuf") {
      rig.install(kTo10, "output:2,output:3");
      std::vector<rte_mbuf*> pkts = {make_mbuf(frame_to("10.0.0.1"))};
      run_burst(rig, pkts);
      REQUIRE(rig.port(2).sent.size() == 1);
      CHECK(rig.port(2).sent[0] == pkts[0]);
      CHECK(rig.port(3).sent[0] == pkts[0]);
      CHECK(rte_mbuf_refcnt_read(pkts[0]) == 2);
    }
    SECTION("dec_ttl drops the packets whose TTL runs out") {
      rig.install(kTo10, "dec_ttl,output:2");
      std::vector<rte_mbuf*> pkts = {make_mbuf(ttl_frame("10.0.0.1", 64)),
                                     make_mbuf(ttl_frame("10.0.0.2", 1)),
                                     make_mbuf(ttl_frame("10.0.0.3", 2))};
      run_burst(rig, pkts);
      CHECK(rig.port(2).sent == std::vector<rte_mbuf*>{pkts[0], pkts[2]});
      CHECK(key_of(pkts[0]).nw_ttl == 63);
      CHECK(key_of(pkts[2]).nw_ttl == 1);
      CHECK(rig.counter(kDropped) == 1);
    }
    free_sent(rig);
  }
  CHECK(rte_mempool_avail_count(test_pool()) == avail);
}
