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

#include <catch2/catch.hpp>
#include <random>

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
  CHECK(wc2.flow.nw_dst == 0xffffffff);
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
