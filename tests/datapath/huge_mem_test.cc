// huge_mem_test.cc - huge-page-advised anonymous memory: aligned, zeroed,
// writable, prefault keeps contents; and a FlowArena on it with part of its
// slots prefaulted behaves as one without.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>

#include "flow_arena.h"
#include "huge_mem.h"

using namespace dps::base;
using namespace dps::datapath;

TEST_CASE("huge_map: 2 MB aligned, zero, writable; prefault keeps contents", "[datapath]") {
  const size_t n = 3 * kHugePageSize + 12345;
  auto* p = static_cast<unsigned char*>(huge_map(n));
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % kHugePageSize == 0);
  bool zero = true;
  for (size_t i = 0; i < n; i += 511) zero = zero && p[i] == 0;
  CHECK(zero);
  for (size_t i = 0; i < n; i += 4093) p[i] = static_cast<unsigned char>(i % 251 + 1);
  huge_prefault(p, n);
  bool kept = true;
  for (size_t i = 0; i < n; i += 4093) kept = kept && p[i] == static_cast<unsigned char>(i % 251 + 1);
  CHECK(kept);
  p[n - 1] = 9;
  CHECK(p[n - 1] == 9);
  huge_unmap(p, n);
}

TEST_CASE("flow arena: prefaulted and lazy slots alike", "[datapath]") {
  // 3 chunks, the first ~1.5 prefaulted.
  FlowArena arena(3 * kFlowArenaChunk, kFlowArenaChunk + kFlowArenaChunk / 2);
  std::vector<DpFlow*> flows;
  for (uint32_t i = 0; i < 3 * kFlowArenaChunk; i++) {
    DpFlow* f = arena.alloc();
    REQUIRE(f != nullptr);
    CHECK(f->index == i);
    CHECK(arena.flow(i) == f);
    CHECK(f->actions.n == 0);
    CHECK(f->packets.load() == 0);
    f->ufid = i + 1;
    flows.push_back(f);
  }
  CHECK(arena.alloc() == nullptr);  // the limit
  for (uint32_t i = 0; i < flows.size(); i++) CHECK(flows[i]->ufid == i + 1);
  for (DpFlow* f : flows) arena.free(f);
  CHECK(arena.in_use() == 0);
  DpFlow* f = arena.alloc();
  CHECK(f == flows[0]);  // FIFO reuse
  arena.free(f);
}
