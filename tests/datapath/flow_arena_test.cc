// FlowArena: dense stable indexes, FIFO reuse keeping generations, the limit.
// Pure data structure: no EAL.
#include <catch2/catch.hpp>

#include <set>
#include <vector>

#include "flow_arena.h"

using namespace dps::datapath;

TEST_CASE("arena hands out dense indexes that map back to the same slot", "[datapath]") {
  FlowArena arena(3000);
  REQUIRE(arena.max_flows() == 3 * kFlowArenaChunk);
  std::vector<DpFlow*> flows;
  std::set<uint32_t> indexes;
  for (int i = 0; i < 2500; i++) {
    DpFlow* f = arena.alloc();
    REQUIRE(f != nullptr);
    flows.push_back(f);
    indexes.insert(f->index);
    REQUIRE(arena.flow(f->index) == f);
  }
  CHECK(indexes.size() == 2500);
  CHECK(*indexes.rbegin() < arena.reserved());
  CHECK(arena.in_use() == 2500);
  // Earlier slots did not move when later chunks were added.
  for (DpFlow* f : flows) CHECK(arena.flow(f->index) == f);
}

TEST_CASE("arena reuses freed slots last-in-line and keeps their generation", "[datapath]") {
  FlowArena arena(kFlowArenaChunk);
  DpFlow* a = arena.alloc();
  a->gen.store(7);
  a->packets.store(99);
  DpAction out{};
  out.type = ActType::kOutput;
  out.arg32 = 3;
  a->actions.add(out);
  a->ufid = 42;
  const uint32_t a_index = a->index;
  arena.free(a);
  CHECK(arena.in_use() == 0);
  // FIFO: every never-used slot of the chunk comes out before a's slot again.
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i + 1 < kFlowArenaChunk; i++) {
    DpFlow* f = arena.alloc();
    REQUIRE(f != nullptr);
    CHECK(f->index != a_index);
    seen.insert(f->index);
  }
  DpFlow* again = arena.alloc();
  REQUIRE(again != nullptr);
  CHECK(again == a);
  CHECK(again->gen.load() == 7);  // never reset: stale EMC entries stay stale
  CHECK(again->packets.load() == 0);
  CHECK(again->actions.n == 0);
  CHECK(again->ufid == 0);
  CHECK_FALSE(again->installed);
}

TEST_CASE("arena returns nullptr at its limit and recovers after a free", "[datapath]") {
  FlowArena arena(kFlowArenaChunk);
  std::vector<DpFlow*> flows;
  for (uint32_t i = 0; i < kFlowArenaChunk; i++) flows.push_back(arena.alloc());
  CHECK(arena.alloc() == nullptr);
  CHECK(arena.in_use() == kFlowArenaChunk);
  arena.free(flows[10]);
  DpFlow* f = arena.alloc();
  CHECK(f == flows[10]);
  CHECK(arena.alloc() == nullptr);
}
