// flow_table_test.cc - the priority classifier of one OpenFlow table.
//
// Coverage goal (as OVS tests/test-classifier.c): for random rule sets over
// several fields with random masks and overlapping priorities, and random
// packets,
//  1. lookup() returns a rule of the highest priority among the rules that
//     match (checked against a linear scan), or null exactly when none does;
//  2. the recorded wildcard mask is sufficient: any packet that agrees with
//     the looked-up packet on every recorded bit gets the same rule
//     (checked on packets that differ randomly in every other bit);
//  3. the recorded mask is the union of the masks of visited subtables only
//     (a single /32 rule above a catch-all does not un-wildcard fields of
//     lower subtables once it hits).
// Plus insert/remove/strict/non-strict/overlap queries.
#include <arpa/inet.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "flow_table.h"

using namespace dps::ofproto;

namespace {

struct Domain {
  std::mt19937_64 rng;
  explicit Domain(uint64_t seed) : rng(seed) {}
  uint64_t pick(std::initializer_list<uint64_t> xs) {
    auto it = xs.begin();
    std::advance(it, rng() % xs.size());
    return *it;
  }
  OfKey packet() {
    OfKey k;
    k.flow.in_port = static_cast<uint32_t>(1 + rng() % 4);
    k.flow.eth_type = htons(static_cast<uint16_t>(pick({0x0800, 0x0800, 0x86dd})));
    k.flow.vlan_tci = htons(static_cast<uint16_t>(pick({0, 0x1000 | 10, 0x1000 | 20})));
    k.flow.nw_src = htonl(0x0a000000u | static_cast<uint32_t>((rng() % 4) << 8 | rng() % 4));
    k.flow.nw_dst = htonl(0x0a000000u | static_cast<uint32_t>((rng() % 4) << 8 | rng() % 4));
    k.flow.nw_proto = static_cast<uint8_t>(pick({6, 17}));
    k.flow.tp_dst = htons(static_cast<uint16_t>(pick({80, 443, 53})));
    k.pipe.metadata = rng() % 3;
    return k;
  }
  // A random rule match over a random subset of fields.
  OfMatch match() {
    OfMatch m;
    OfKey p = packet();
    if (rng() % 3 == 0) (void)m.set_u64(OxmField::kInPort, p.flow.in_port);
    if (rng() % 2 == 0) (void)m.set_u64(OxmField::kEthType, ntohs(p.flow.eth_type));
    if (rng() % 4 == 0) (void)m.set_u64(OxmField::kVlanVid, ntohs(p.flow.vlan_tci) & 0x1fff);
    if (rng() % 2 == 0) {
      uint32_t plen = static_cast<uint32_t>(pick({8, 16, 24, 30, 32}));
      uint32_t mask = ~0u << (32 - plen);
      (void)m.set_u64_masked(OxmField::kIpv4Src, ntohl(p.flow.nw_src) & mask, mask);
    }
    if (rng() % 2 == 0) {
      uint32_t plen = static_cast<uint32_t>(pick({16, 24, 32}));
      uint32_t mask = ~0u << (32 - plen);
      (void)m.set_u64_masked(OxmField::kIpv4Dst, ntohl(p.flow.nw_dst) & mask, mask);
    }
    if (rng() % 3 == 0) (void)m.set_u64(OxmField::kIpProto, p.flow.nw_proto);
    if (rng() % 3 == 0) (void)m.set_u64(OxmField::kTcpDst, ntohs(p.flow.tp_dst));
    if (rng() % 5 == 0) (void)m.set_u64_masked(OxmField::kMetadata, p.pipe.metadata, 3);
    return m;
  }
  // p with every bit outside wc replaced: from the domain or fully random.
  OfKey variant(const OfKey& p, const OfMask& wc) {
    OfKey r = (rng() % 2) ? packet() : OfKey{};
    for (unsigned i = 0; i < OfKey::kWords; i++)
      if (rng() % 2) r.set_word(i, r.word(i) ^ rng());
    for (unsigned i = 0; i < OfKey::kWords; i++)
      r.set_word(i, (r.word(i) & ~wc.word(i)) | (p.word(i) & wc.word(i)));
    return r;
  }
};

RulePtr make_rule(const OfMatch& m, uint16_t prio, uint64_t id) {
  auto r = std::make_shared<Rule>();
  r->match = m;
  r->priority = prio;
  r->id = id;
  return r;
}

}  // namespace

TEST_CASE("classifier: highest priority wins, strict find, remove", "[ofproto]") {
  FlowTable t;
  OfMatch any;
  OfMatch ip;
  REQUIRE_FALSE(ip.set_u64(OxmField::kEthType, 0x0800));
  OfMatch net10 = ip;
  REQUIRE_FALSE(net10.set_u64_masked(OxmField::kIpv4Dst, 0x0a000000, 0xff000000));
  auto r_any = make_rule(any, 0, 1);
  auto r_ip = make_rule(ip, 10, 2);
  auto r_net = make_rule(net10, 5, 3);  // more specific but lower priority
  auto r_net_hi = make_rule(net10, 20, 4);
  t.insert(r_any);
  t.insert(r_ip);
  t.insert(r_net);
  CHECK(t.size() == 3);
  CHECK(t.n_subtables() == 3);
  OfKey k;
  k.flow.eth_type = htons(0x0800);
  k.flow.nw_dst = htonl(0x0a010101);
  CHECK(t.lookup(k, nullptr) == r_ip.get());
  t.insert(r_net_hi);
  CHECK(t.n_subtables() == 3);
  CHECK(t.lookup(k, nullptr) == r_net_hi.get());
  CHECK(t.find_strict(net10, 5) == r_net);
  CHECK(t.find_strict(net10, 20) == r_net_hi);
  CHECK(t.find_strict(net10, 6) == nullptr);
  CHECK(r_net_hi->live);
  CHECK(t.remove(r_net_hi.get()));
  CHECK_FALSE(r_net_hi->live);
  CHECK_FALSE(t.remove(r_net_hi.get()));
  CHECK(t.lookup(k, nullptr) == r_ip.get());
  k.flow.eth_type = htons(0x86dd);
  CHECK(t.lookup(k, nullptr) == r_any.get());
  CHECK(t.remove(r_any.get()));
  CHECK(t.lookup(k, nullptr) == nullptr);
  CHECK(t.remove(r_net.get()));
  CHECK(t.remove(r_ip.get()));
  CHECK(t.size() == 0);
  CHECK(t.n_subtables() == 0);
  // Lookups are not counted by lookup() (a lookup may stand for many
  // packets); the caller counts packets (xlate).
  CHECK(t.lookup_count() == 0);
  t.count_lookup(3, true);
  t.count_lookup(2, false);
  CHECK(t.lookup_count() == 5);
  CHECK(t.matched_count() == 3);
}

TEST_CASE("classifier: wildcards cover only the visited subtables", "[ofproto]") {
  FlowTable t;
  OfMatch exact_dst;
  REQUIRE_FALSE(exact_dst.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(exact_dst.set_u64(OxmField::kIpv4Dst, 0x0a000001));
  OfMatch by_port;
  REQUIRE_FALSE(by_port.set_u64(OxmField::kInPort, 3));
  t.insert(make_rule(exact_dst, 100, 1));
  t.insert(make_rule(by_port, 50, 2));
  t.insert(make_rule(OfMatch{}, 0, 3));

  OfKey k;
  k.flow.eth_type = htons(0x0800);
  k.flow.nw_dst = htonl(0x0a000001);
  k.flow.in_port = 3;
  OfMask wc;
  Rule* r = t.lookup(k, &wc);
  REQUIRE(r);
  CHECK(r->id == 1);
  CHECK(wc.flow.nw_dst == 0xffffffff);
  CHECK(wc.flow.in_port == 0);  // the in_port subtable was never visited

  k.flow.nw_dst = htonl(0x0a000002);
  OfMask wc2;
  r = t.lookup(k, &wc2);
  REQUIRE(r);
  CHECK(r->id == 2);
  // Prefix tracking: 10.0.0.2 leaves the /32 rule's trie path at bit 30,
  // so 31 bits prove the exact_dst subtable cannot match.
  CHECK(wc2.flow.nw_dst == htonl(0xfffffffe));
  CHECK(wc2.flow.in_port == 0xffffffff);
  CHECK(wc2.flow.tp_dst == 0);
}

TEST_CASE("classifier oracle: random rules, lookups agree with a linear scan and wildcards are sufficient",
          "[ofproto]") {
  for (uint64_t seed = 1; seed <= 12; seed++) {
    Domain d(seed);
    FlowTable t;
    std::vector<RulePtr> rules;
    const int n_rules = 20 + static_cast<int>(seed * 15);
    for (int i = 0; i < n_rules; i++) {
      OfMatch m = d.match();
      uint16_t prio = static_cast<uint16_t>(d.rng() % 8);  // many ties and overlaps
      if (t.find_strict(m, prio)) continue;
      auto r = make_rule(m, prio, rules.size() + 1);
      t.insert(r);
      rules.push_back(r);
    }
    // Remove a few to exercise re-ranking.
    for (int i = 0; i < 5 && !rules.empty(); i++) {
      size_t idx = d.rng() % rules.size();
      REQUIRE(t.remove(rules[idx].get()));
      rules.erase(rules.begin() + static_cast<long>(idx));
    }
    REQUIRE(t.size() == rules.size());
    for (int p = 0; p < 300; p++) {
      OfKey k = d.packet();
      OfMask wc;
      Rule* got = t.lookup(k, &wc);
      int best = -1;
      for (const RulePtr& r : rules)
        if (r->match.matches(k)) best = std::max(best, int{r->priority});
      if (best < 0) {
        REQUIRE(got == nullptr);
      } else {
        REQUIRE(got != nullptr);
        REQUIRE(got->priority == best);
        REQUIRE(got->match.matches(k));
      }
      for (int v = 0; v < 20; v++) {
        OfKey k2 = d.variant(k, wc);
        REQUIRE(t.lookup(k2, nullptr) == got);
      }
    }
  }
}

TEST_CASE("classifier: non-strict queries and overlap", "[ofproto]") {
  FlowTable t;
  OfMatch ip, ip_dst, arp;
  REQUIRE_FALSE(ip.set_u64(OxmField::kEthType, 0x0800));
  ip_dst = ip;
  REQUIRE_FALSE(ip_dst.set_u64(OxmField::kIpv4Dst, 0x0a000001));
  REQUIRE_FALSE(arp.set_u64(OxmField::kEthType, 0x0806));
  t.insert(make_rule(ip, 10, 1));
  t.insert(make_rule(ip_dst, 10, 2));
  t.insert(make_rule(arp, 10, 3));
  std::vector<uint64_t> ids;
  t.for_each_subsumed(ip, [&](const RulePtr& r) { ids.push_back(r->id); });
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<uint64_t>{1, 2});
  ids.clear();
  t.for_each_subsumed(OfMatch{}, [&](const RulePtr& r) { ids.push_back(r->id); });
  CHECK(ids.size() == 3);
  ids.clear();
  t.for_each_subsumed(ip_dst, [&](const RulePtr& r) { ids.push_back(r->id); });
  CHECK(ids == std::vector<uint64_t>{2});

  OfMatch ip_src;
  REQUIRE_FALSE(ip_src.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(ip_src.set_u64(OxmField::kIpv4Src, 1));
  CHECK(t.overlaps(ip_src, 10));   // overlaps ip and ip_dst
  CHECK_FALSE(t.overlaps(ip_src, 11));
  OfMatch v6;
  REQUIRE_FALSE(v6.set_u64(OxmField::kEthType, 0x86dd));
  CHECK_FALSE(t.overlaps(v6, 10));
}

TEST_CASE("classifier: many rules in few subtables", "[ofproto]") {
  FlowTable t;
  std::vector<RulePtr> rules;
  for (uint32_t i = 0; i < 5000; i++) {
    OfMatch m;
    REQUIRE_FALSE(m.set_u64(OxmField::kEthType, 0x0800));
    if (i % 2)
      REQUIRE_FALSE(m.set_u64(OxmField::kIpv4Dst, 0x0a000000 + i));
    else
      REQUIRE_FALSE(m.set_u64_masked(OxmField::kIpv4Dst, (0x0b000000 + i) << 8, 0xffffff00));
    auto r = make_rule(m, static_cast<uint16_t>(i % 2 ? 100 : 50), i + 1);
    t.insert(r);
    rules.push_back(r);
  }
  CHECK(t.n_subtables() == 2);
  OfKey k;
  k.flow.eth_type = htons(0x0800);
  k.flow.nw_dst = htonl(0x0a000000 + 4001);
  Rule* r = t.lookup(k, nullptr);
  REQUIRE(r);
  CHECK(r->id == 4002);
  k.flow.nw_dst = htonl(((0x0b000000u + 4000) << 8) | 0x7f);
  r = t.lookup(k, nullptr);
  REQUIRE(r);
  CHECK(r->id == 4001);
}

// The per-subtable hash index (open addressing, backward-shift deletion,
// entry reuse, the best rule cached per slot) under churn: one mask,
// thousands of values, some with two priorities; removals in random order
// must keep every remaining value findable (a broken backward shift loses
// entries behind the hole) and the cached best rule right.
TEST_CASE("classifier: one mask under insert/remove churn agrees with a map", "[ofproto]") {
  FlowTable t;
  std::mt19937_64 rng(7);
  constexpr uint32_t kValues = 20000;
  auto match_of = [](uint32_t v) {
    OfMatch m;
    (void)m.set_u64(OxmField::kEthType, 0x0800);
    (void)m.set_u64(OxmField::kIpv4Src, 0x0a000000 + v);
    return m;
  };
  // value -> rules by priority (the oracle)
  std::map<uint32_t, std::map<uint16_t, RulePtr>> oracle;
  uint64_t id = 1;
  auto add = [&](uint32_t v, uint16_t prio) {
    auto r = make_rule(match_of(v), prio, id++);
    t.insert(r);
    oracle[v][prio] = r;
  };
  for (uint32_t v = 0; v < kValues; v++) {
    add(v, 100);
    if (v % 7 == 0) add(v, 200);
  }
  // A rule of another mask below (ip,nw_dst=0.0.0.0: matches every packet
  // looked up here): never visited when the exact subtable hits, so nw_dst
  // stays wildcarded then.
  OfMatch low;
  REQUIRE_FALSE(low.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(low.set_u64(OxmField::kIpv4Dst, 0));
  auto any = make_rule(low, 0, id++);
  t.insert(any);
  CHECK(t.n_subtables() == 2);

  auto check_all = [&] {
    OfKey k;
    k.flow.eth_type = htons(0x0800);
    for (uint32_t v = 0; v < kValues + 100; v++) {
      k.flow.nw_src = htonl(0x0a000000 + v);
      OfMask wc;
      Rule* r = t.lookup(k, &wc);
      auto it = oracle.find(v);
      if (it == oracle.end() || it->second.empty()) {
        REQUIRE(r == any.get());
      } else {
        REQUIRE(r == it->second.rbegin()->second.get());
        // One probe: only the exact subtable's bits are un-wildcarded.
        REQUIRE(wc.flow.nw_src == 0xffffffffu);
        REQUIRE(wc.flow.nw_dst == 0);
      }
    }
  };
  check_all();

  // Remove a random 60% of the rules (sometimes the best of a value, so the
  // cached best must fall back to the lower priority).
  std::vector<RulePtr> all;
  for (auto& [v, by_prio] : oracle)
    for (auto& [p, r] : by_prio) all.push_back(r);
  std::shuffle(all.begin(), all.end(), rng);
  for (size_t i = 0; i < all.size() * 6 / 10; i++) {
    const RulePtr& r = all[i];
    REQUIRE(t.remove(r.get()));
    REQUIRE_FALSE(t.remove(r.get()));
    uint32_t v = ntohl(r->match.value().flow.nw_src) - 0x0a000000;
    oracle[v].erase(r->priority);
  }
  check_all();
  size_t n = 0;
  for (auto& [v, by_prio] : oracle) n += by_prio.size();
  CHECK(t.size() == n + 1);
  size_t visited = 0;
  t.for_each([&](const RulePtr&) { visited++; });
  CHECK(visited == n + 1);

  // Re-add everything removed (freed entries are reused) and look again.
  for (size_t i = 0; i < all.size() * 6 / 10; i++) {
    const RulePtr& r = all[i];
    REQUIRE_FALSE(t.find_strict(r->match, r->priority));
    t.insert(r);
    uint32_t v = ntohl(r->match.value().flow.nw_src) - 0x0a000000;
    oracle[v][r->priority] = r;
  }
  check_all();
  // Non-strict: every rule of 10.0.0.0/24 (values 0..255).
  OfMatch net;
  REQUIRE_FALSE(net.set_u64(OxmField::kEthType, 0x0800));
  REQUIRE_FALSE(net.set_u64_masked(OxmField::kIpv4Src, 0x0a000000, 0xffffff00));
  size_t in_net = 0;
  t.for_each_subsumed(net, [&](const RulePtr& r) {
    CHECK((ntohl(r->match.value().flow.nw_src) & 0xffffff00u) == 0x0a000000u);
    in_net++;
  });
  size_t want = 0;
  for (uint32_t v = 0; v < 256; v++) want += oracle[v].size();
  CHECK(in_net == want);
}

TEST_CASE("classifier: prefix tracking gives one megaflow per prefix rule, not per address",
          "[ofproto][classifier]") {
  // subtables-16's shape: 16 nw_dst rules of different prefix lengths at
  // priority = length. A packet matched by a short prefix must not get a
  // megaflow exact on the longer rules' bits, and the megaflow must still be
  // exact enough: every key under it gets the same rule.
  FlowTable t;
  const unsigned lens[] = {32, 30, 29, 27, 26, 24, 22, 21, 19, 18, 16, 14, 13, 11, 10, 8};
  std::vector<uint32_t> bases;
  for (unsigned i = 0; i < 16; i++) {
    uint32_t base = (0x0a000000u | (i << 20)) & ipv4_prefix_mask_host(lens[i]);
    OfMatch m;
    REQUIRE_FALSE(m.set_u64(OxmField::kEthType, 0x0800));
    REQUIRE_FALSE(m.set_u64_masked(OxmField::kIpv4Dst, base, ipv4_prefix_mask_host(lens[i])));
    t.insert(make_rule(m, static_cast<uint16_t>(lens[i]), i + 1));
    bases.push_back(base);
  }
  std::mt19937 rng(3);
  std::set<std::pair<uint32_t, uint32_t>> megaflows;  // (masked nw_dst, mask)
  for (int n = 0; n < 2000; n++) {
    unsigned i = rng() % 16;
    OfKey k;
    k.flow.eth_type = htons(0x0800);
    uint32_t addr = bases[i] | (static_cast<uint32_t>(rng()) & ~ipv4_prefix_mask_host(lens[i]));
    k.flow.nw_dst = htonl(addr);
    OfMask wc;
    Rule* r = t.lookup(k, &wc);
    REQUIRE(r);
    megaflows.emplace(addr & ntohl(wc.flow.nw_dst), ntohl(wc.flow.nw_dst));
    // Same answer for any key under the megaflow.
    for (int j = 0; j < 20; j++) {
      OfKey k2 = k;
      uint32_t m = ntohl(wc.flow.nw_dst);
      k2.flow.nw_dst = htonl((addr & m) | (static_cast<uint32_t>(rng()) & ~m));
      REQUIRE(t.lookup(k2, nullptr) == r);
    }
  }
  // Without tracking every packet under a prefix shorter than /32 got a
  // /32 megaflow (about one per packet: ~1900 here); with it a few per rule.
  CHECK(megaflows.size() < 200);
}
