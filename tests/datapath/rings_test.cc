// The rings between threads: the miss ring (PMD -> ofproto) keeps order,
// copies whole records, refuses what does not fit and counts it as lost;
// the command ring (control -> PMD -> control) keeps order and bounds the
// commands outstanding so its completion ring can never overflow. Both are
// LocalRings: no EAL needed.
#include <catch2/catch.hpp>

#include "command_ring.h"
#include "miss_ring.h"

using namespace dps::datapath;

TEST_CASE("the miss ring keeps order, refuses when full and counts the loss",
          "[datapath][rings]") {
  MissRing ring("t_miss", 64);
  Upcall in[40];
  for (unsigned i = 0; i < 40; i++) {
    in[i] = Upcall{};
    in[i].hash = i;
    in[i].key.nw_src = 1000 + i;
    in[i].pkt = reinterpret_cast<rte_mbuf*>(uintptr_t(i + 1));
  }
  CHECK(ring.enqueue_burst(in, 40) == 40);
  CHECK(ring.enqueue_burst(in, 40) == 24);  // 64 slots in all
  CHECK(ring.lost() == 16);
  CHECK(ring.count() == 64);
  Upcall out[64];
  REQUIRE(ring.dequeue_burst(out, 64) == 64);
  for (unsigned i = 0; i < 40; i++) {
    CHECK(out[i].hash == i);
    CHECK(out[i].key.nw_src == 1000 + i);
  }
  CHECK(out[40].hash == 0);  // the second burst follows the first
  CHECK(ring.dequeue_burst(out, 64) == 0);
}

TEST_CASE("the command ring keeps order and bounds outstanding commands",
          "[datapath][rings]") {
  CommandRing ring("t_cmd", 8);
  PmdCommand cmds[10];
  for (unsigned i = 0; i < 10; i++) cmds[i].seq = i;
  for (unsigned i = 0; i < 8; i++) REQUIRE(ring.post(&cmds[i]));
  CHECK_FALSE(ring.post(&cmds[8]));  // 8 outstanding: full until reaped
  PmdCommand* taken[16];
  REQUIRE(ring.take(taken, 16) == 8);
  for (unsigned i = 0; i < 8; i++) {
    CHECK(taken[i]->seq == i);
    ring.complete(taken[i]);
  }
  CHECK_FALSE(ring.post(&cmds[8]));  // completed but not reaped still counts
  PmdCommand* done[16];
  REQUIRE(ring.reap(done, 3) == 3);
  CHECK(done[0]->seq == 0);
  CHECK(ring.post(&cmds[8]));
}
