// ukey_test.cc - installed-flow records: actions stored at their used
// length (inline up to kUkeyInlineActions, heap beyond) converting both ways
// with DpActions, the ukey pool (slots reused, cache-line aligned), and the
// table's exact / covering / ufid lookups over pooled ukeys.
#include <catch2/catch.hpp>
#include <set>

#include "ukey.h"

using namespace dps::ofproto;
using dps::datapath::DpActions;

namespace {

DpActions outputs(unsigned n) {
  DpActions a;
  for (unsigned i = 0; i < n; i++) a.add(dps::datapath::act_output(100 + i));
  return a;
}

}  // namespace

TEST_CASE("ukey actions: used length, inline and on the heap, round trip", "[ofproto]") {
  for (unsigned n : {0u, 1u, kUkeyInlineActions, kUkeyInlineActions + 1, 20u,
                     unsigned{dps::datapath::kMaxDpActions}}) {
    DpActions full = outputs(n);
    UkeyActions u = full;
    CHECK(u.size() == n);
    CHECK(u == full);
    DpActions back = u;
    CHECK(back == full);
    CHECK(dps::datapath::format_actions(back) == dps::datapath::format_actions(full));
    // Copies are deep; reassigning a shorter and a longer list works.
    UkeyActions copy = u;
    u = outputs(2);
    CHECK(u.size() == 2);
    CHECK(copy == full);
    u = outputs(n + 1 <= dps::datapath::kMaxDpActions ? n + 1 : n);
    CHECK(u == outputs(n + 1 <= dps::datapath::kMaxDpActions ? n + 1 : n));
    CHECK_FALSE(copy == outputs(n == 0 ? 1 : n - 1));
  }
  // Different arguments compare different.
  DpActions a = outputs(6);
  UkeyActions u = a;
  a.acts[5].arg32 = 7;
  CHECK_FALSE(u == a);
}

TEST_CASE("ukey pool: aligned slots, reused after delete", "[ofproto]") {
  std::vector<Ukey*> ukeys;
  std::set<Ukey*> seen;
  for (int i = 0; i < 5000; i++) {
    auto* u = new Ukey;
    CHECK(reinterpret_cast<uintptr_t>(u) % 64 == 0);
    CHECK(u->ufid == 0);  // constructed, whatever the slot held before
    CHECK(u->actions.size() == 0);
    u->ufid = static_cast<uint64_t>(i) + 1;
    u->actions = outputs(i % 8);
    CHECK(seen.insert(u).second);  // distinct while alive
    ukeys.push_back(u);
  }
  for (int i = 0; i < 5000; i++) CHECK(ukeys[static_cast<size_t>(i)]->ufid == static_cast<uint64_t>(i) + 1);
  Ukey* last = ukeys.back();
  ukeys.pop_back();
  delete last;
  auto* again = new Ukey;
  CHECK(again == last);  // newest freed slot first
  delete again;
  for (Ukey* u : ukeys) delete u;
}

TEST_CASE("ukey table: exact, covering and ufid lookups over pooled ukeys", "[ofproto]") {
  UkeyTable t;
  dps::datapath::FlowMask mask{};
  mask.in_port = 0xffffffffu;
  mask.nw_src = 0xffffffffu;
  for (uint32_t i = 0; i < 3000; i++) {
    auto u = std::make_unique<Ukey>();
    u->ufid = 1000 + i;
    u->pmd = static_cast<uint16_t>(i % 2);
    u->key.in_port = 1;
    u->key.nw_src = i;
    u->key.nw_dst = 77;  // wildcarded
    dps::datapath::flow_key_apply_mask(u->key, mask, &u->masked);
    u->mask = mask;
    u->actions = outputs(1 + i % 6);
    t.insert(std::move(u), XlateResult{});
  }
  CHECK(t.size() == 3000);
  CHECK(t.n_masks() == 1);
  dps::datapath::FlowKey k{};
  k.in_port = 1;
  k.nw_src = 2001;
  k.nw_dst = 5;
  Ukey* c = t.find_covering(1, k);
  REQUIRE(c);
  CHECK(c->ufid == 3001);
  CHECK(c->actions == outputs(1 + 2001 % 6));
  CHECK(t.find_covering(0, k) == nullptr);  // another PMD's megaflow
  dps::datapath::FlowKey m{};
  dps::datapath::flow_key_apply_mask(k, mask, &m);
  CHECK(t.find(1, m, mask) == c);
  CHECK(t.find_ufid(3001) == c);
  t.erase(c);
  CHECK(t.find_ufid(3001) == nullptr);
  CHECK(t.find_covering(1, k) == nullptr);
  CHECK(t.size() == 2999);
  CHECK(t.find_ufid(3002) != nullptr);

  // The miss path: a covering probe that finds nothing, then the insert of
  // the translated megaflow (which reuses the probe's hash): the exact and
  // covering lookups must find it, under the same mask and under a new one.
  for (int round = 0; round < 2; round++) {
    dps::datapath::FlowMask m2 = mask;
    if (round == 1) m2.nw_dst = 0xffffffffu;  // a second mask
    dps::datapath::FlowKey miss{};
    miss.in_port = 1;
    miss.nw_src = 90000 + static_cast<uint32_t>(round);
    miss.nw_dst = 5;
    REQUIRE(t.find_covering(0, miss) == nullptr);
    auto u = std::make_unique<Ukey>();
    u->ufid = 50000 + static_cast<uint64_t>(round);
    u->pmd = 0;
    u->key = miss;
    dps::datapath::flow_key_apply_mask(miss, m2, &u->masked);
    u->mask = m2;
    dps::datapath::FlowMask m2copy = m2;
    dps::datapath::FlowKey masked = u->masked;
    Ukey* in = t.insert(std::move(u), XlateResult{});
    CHECK(t.find(0, masked, m2copy) == in);
    CHECK(t.find_covering(0, miss) == in);
  }
  CHECK(t.n_masks() == 2);
}
