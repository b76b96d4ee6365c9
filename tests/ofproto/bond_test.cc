// bond_test.cc - bonding.h and lacp.h on plain values: configuration
// errors, bucket tables through failover and recovery (only the dead
// member's buckets move), up/down delays, the receive policy, balance-slb
// rebalancing, and the LACP state machine on constructed LACPDUs (state
// bits, expiry and defaulting, a partner in another aggregator kept out,
// fallback to active-backup).
#include <algorithm>
#include <catch2/catch.hpp>

#include "bonding.h"
#include "lacp.h"

using namespace dps::ofproto;
using dps::datapath::kBondBuckets;

namespace {

BondConfig cfg_of(BondMode m) {
  BondConfig c;
  c.mode = m;
  return c;
}

unsigned count(const Bond& b, uint32_t dp) {
  return static_cast<unsigned>(std::count(b.buckets().begin(), b.buckets().end(), dp));
}

Bond two_up(BondMode m, BondConfig c = {}) {
  c.mode = m;
  Bond b("bond0", 0, c);
  b.set_members({{"p0", 1}, {"p1", 2}}, 0);
  b.carrier(1, true, 0);
  b.carrier(2, true, 0);
  return b;
}

}  // namespace

TEST_CASE("bond config: defaults and precise errors", "[bond]") {
  std::string warn;
  BondColumns c;
  c.port = "bond0";
  auto ok = parse_bond_config(c, &warn);
  REQUIRE(std::holds_alternative<BondConfig>(ok));
  CHECK(std::get<BondConfig>(ok).mode == BondMode::kActiveBackup);
  CHECK(std::get<BondConfig>(ok).lacp == LacpMode::kOff);
  c.bond_mode = "balance-xor";
  CHECK(std::get<std::string>(parse_bond_config(c, &warn)) ==
        "port bond0: bond_mode \"balance-xor\" is not active-backup, balance-slb or balance-tcp");
  c.bond_mode = "balance-tcp";
  c.lacp = "on";
  CHECK(std::get<std::string>(parse_bond_config(c, &warn)) == "port bond0: lacp \"on\" is not active, passive or off");
  c.lacp = "off";
  REQUIRE(std::holds_alternative<BondConfig>(parse_bond_config(c, &warn)));
  CHECK(warn.find("balance-tcp without LACP") != std::string::npos);
  c.lacp = "active";
  c.other_config["lacp-time"] = "quick";
  CHECK(std::get<std::string>(parse_bond_config(c, &warn)) ==
        "port bond0: other_config:lacp-time=\"quick\" is not slow or fast");
  c.other_config["lacp-time"] = "fast";
  c.other_config["bond-rebalance-interval"] = "10";
  c.downdelay = -5;
  CHECK(std::get<std::string>(parse_bond_config(c, &warn)) == "port bond0: bond_downdelay=-5 is not in 0..2147483647");
  c.downdelay = 50;
  auto b = std::get<BondConfig>(parse_bond_config(c, &warn));
  CHECK(b.lacp_fast);
  CHECK(b.rebalance_ms == 1000);  // as OVS: at least 1 s
  CHECK(b.downdelay_ms == 50);
  CHECK(warn.empty());
}

TEST_CASE("bond config: each mode's name (as bond/show prints it) parses back to it", "[bond]") {
  std::string warn;
  auto parsed = [&](const char* bond_mode, const char* lacp) {
    BondColumns c;
    c.port = "bond0";
    c.bond_mode = bond_mode;
    c.lacp = lacp;
    auto r = parse_bond_config(c, &warn);
    REQUIRE(std::holds_alternative<BondConfig>(r));
    return std::get<BondConfig>(r);
  };
  for (BondMode m : {BondMode::kActiveBackup, BondMode::kBalanceSlb, BondMode::kBalanceTcp})
    CHECK(parsed(bond_mode_name(m), "active").mode == m);
  for (LacpMode l : {LacpMode::kOff, LacpMode::kActive, LacpMode::kPassive})
    CHECK(parsed("active-backup", lacp_mode_name(l)).lacp == l);
  CHECK(std::string(bond_mode_name(BondMode::kBalanceSlb)) == "balance-slb");
  CHECK(std::string(lacp_mode_name(LacpMode::kPassive)) == "passive");
}

TEST_CASE("bond: balance-tcp buckets split evenly; a dead member's buckets move, only those", "[bond]") {
  Bond b = two_up(BondMode::kBalanceTcp);
  CHECK(count(b, 1) == kBondBuckets / 2);
  CHECK(count(b, 2) == kBondBuckets / 2);
  auto before = b.buckets();
  BondChange ch = b.carrier(2, false, 10);
  CHECK(ch.buckets);
  CHECK(count(b, 1) == kBondBuckets);
  for (unsigned k = 0; k < kBondBuckets; k++)
    if (before[k] == 1) CHECK(b.buckets()[k] == 1);  // p0's flows stay
  b.carrier(2, true, 20);
  CHECK(count(b, 2) == kBondBuckets / 2);
  CHECK(b.dp_config().hash == dps::datapath::BondHash::kL4);
}

TEST_CASE("bond: active-backup fails over and keeps the active member on recovery", "[bond]") {
  Bond b = two_up(BondMode::kActiveBackup);
  CHECK(b.active() == 1);
  CHECK(count(b, 1) == kBondBuckets);
  CHECK(b.may_receive(1, false));
  CHECK_FALSE(b.may_receive(2, false));
  BondChange ch = b.carrier(1, false, 5);
  CHECK((ch.buckets && ch.rx));
  CHECK(b.active() == 2);
  CHECK(count(b, 2) == kBondBuckets);
  b.carrier(1, true, 6);
  CHECK(b.active() == 2);  // no flapping back
  BondChange c2;
  CHECK(b.set_active("p0", &c2));
  CHECK(b.active() == 1);
  CHECK(c2.buckets);
}

TEST_CASE("bond: updelay and downdelay", "[bond]") {
  BondConfig c;
  c.updelay_ms = 100;
  c.downdelay_ms = 50;
  Bond b = two_up(BondMode::kActiveBackup, c);  // the first up is enabled at once (none was)
  CHECK(b.member(1)->enabled);
  CHECK_FALSE(b.member(2)->enabled);  // waiting for updelay
  b.run(99);
  CHECK_FALSE(b.member(2)->enabled);
  b.run(100);
  CHECK(b.member(2)->enabled);
  b.carrier(1, false, 200);
  CHECK(b.member(1)->enabled);
  CHECK(b.active() == 1);
  b.run(250);
  CHECK_FALSE(b.member(1)->enabled);
  CHECK(b.active() == 2);
}

TEST_CASE("bond: SLB drops floods on non-active members; admin disable", "[bond]") {
  Bond b = two_up(BondMode::kBalanceSlb);
  CHECK(b.rx_depends_on_multicast());
  CHECK(b.may_receive(1, true));
  CHECK_FALSE(b.may_receive(2, true));
  CHECK(b.may_receive(2, false));
  BondChange ch;
  CHECK(b.set_admin("p1", false, &ch, 1));
  CHECK(count(b, 1) == kBondBuckets);
  CHECK_FALSE(b.may_receive(2, false));
  CHECK_FALSE(b.set_admin("nope", false, &ch, 1));
}

TEST_CASE("bond: member hot add and remove keep the others' buckets", "[bond]") {
  Bond b = two_up(BondMode::kBalanceSlb);
  auto before = b.buckets();
  b.set_members({{"p0", 1}, {"p1", 2}, {"p2", 3}}, 5);
  b.carrier(3, true, 5);
  unsigned moved = 0;
  for (unsigned k = 0; k < kBondBuckets; k++) moved += before[k] != b.buckets()[k];
  CHECK(moved == count(b, 3));  // only what p2 took
  CHECK(count(b, 3) >= kBondBuckets / 3 - 1);
  b.set_members({{"p0", 1}, {"p2", 3}}, 6);
  CHECK(count(b, 2) == 0);
  CHECK(count(b, 1) + count(b, 3) == kBondBuckets);
}

TEST_CASE("bond rebalancing: moves the fewest buckets that even the load", "[bond]") {
  std::array<uint16_t, kBondBuckets> owner;
  for (unsigned k = 0; k < kBondBuckets; k++) owner[k] = k < 128 ? 1 : 2;
  std::vector<uint64_t> load(kBondBuckets, 0);
  load[0] = 1000;  // member 1: 1000 + 600; member 2: 0
  load[1] = 600;
  unsigned moved = rebalance_buckets(&owner, load, {1, 2});
  CHECK(moved == 1);
  CHECK(owner[0] == 2);  // 1000 vs 600: the closest to half of 1600
  CHECK(owner[1] == 1);
  // Balanced already: nothing moves.
  CHECK(rebalance_buckets(&owner, load, {1, 2}) == 0);
  // One bucket carrying everything cannot be split: it stays.
  std::vector<uint64_t> one(kBondBuckets, 0);
  one[5] = 500;
  CHECK(rebalance_buckets(&owner, one, {1, 2}) == 0);
}

namespace {

const std::array<uint8_t, 6> kSysA{0x02, 0, 0, 0, 0, 0xa};
const std::array<uint8_t, 6> kSysB{0x02, 0, 0, 0, 0, 0xb};
const std::array<uint8_t, 6> kSysC{0x02, 0, 0, 0, 0, 0xc};

Lacpdu partner_pdu(const std::array<uint8_t, 6>& sys, uint16_t key, uint16_t port, uint8_t state) {
  Lacpdu d;
  d.actor.sys_priority = 100;
  d.actor.sys_id = sys;
  d.actor.key = key;
  d.actor.port_priority = 1;
  d.actor.port = port;
  d.actor.state = state;
  return d;
}

Lacp two_member_lacp(bool fast, bool fallback = false) {
  Lacp l;
  LacpSettings s;
  s.sys_id = kSysA;
  s.key = 7;
  s.fast = fast;
  s.fallback_ab = fallback;
  l.configure(s);
  l.set_member(1, 1, kSysA);
  l.set_member(2, 2, kSysA);
  return l;
}

constexpr uint8_t kInSync = kLacpActivity | kLacpAggregation | kLacpSync | kLacpCollecting | kLacpDistributing;

}  // namespace

TEST_CASE("lacp: LACPDU encode / parse", "[lacp]") {
  Lacpdu d = partner_pdu(kSysB, 33, 4, kInSync | kLacpTimeout);
  d.partner = partner_pdu(kSysA, 7, 1, kLacpActivity).actor;
  std::vector<uint8_t> f = build_lacpdu(kSysB, d);
  REQUIRE(f.size() == kLacpduFrameLen);
  CHECK(f[0] == 0x01);
  CHECK(f[5] == 0x02);
  CHECK(f[12] == 0x88);
  CHECK(f[13] == 0x09);
  std::string err;
  auto back = parse_lacpdu(f, &err);
  REQUIRE(back);
  CHECK(back->actor == d.actor);
  CHECK(back->partner == d.partner);
  f[14 + 2 + 1] = 19;  // actor TLV length
  CHECK_FALSE(parse_lacpdu(f, &err));
  CHECK(err == "LACPDU TLVs out of order or of the wrong length");
  CHECK_FALSE(parse_lacpdu(std::span<const uint8_t>(f.data(), 40), &err));
  CHECK(lacp_state_text(kLacpActivity | kLacpSync) == "activity synchronized");
}

TEST_CASE("lacp: negotiation, actor state bits, periodic rate from the partner", "[lacp]") {
  Lacp l = two_member_lacp(true);
  CHECK_FALSE(l.negotiated());
  CHECK_FALSE(l.may_enable(1));
  auto tx = l.take_tx(0);  // active: LACPDUs at once (need to transmit)
  CHECK(tx.size() == 2);
  std::string err;
  auto first = parse_lacpdu(tx[0].second, &err);
  REQUIRE(first);
  CHECK((first->actor.state & (kLacpActivity | kLacpTimeout | kLacpAggregation | kLacpDefaulted)) ==
        (kLacpActivity | kLacpTimeout | kLacpAggregation | kLacpDefaulted));
  CHECK_FALSE(first->actor.state & kLacpSync);
  l.rx_pdu(1, partner_pdu(kSysB, 33, 1, kInSync | kLacpTimeout), 10);
  l.rx_pdu(2, partner_pdu(kSysB, 33, 2, kInSync | kLacpTimeout), 10);
  CHECK(l.negotiated());
  CHECK(l.may_enable(1));
  CHECK(l.may_enable(2));
  CHECK((l.actor_info(1).state & (kLacpSync | kLacpCollecting | kLacpDistributing)) ==
        (kLacpSync | kLacpCollecting | kLacpDistributing));
  // The partner asked for fast: one LACPDU a second per member.
  l.take_tx(10);
  CHECK(l.take_tx(500).empty());
  CHECK(l.take_tx(1010).size() == 2);
}

TEST_CASE("lacp: 3 missed intervals expire, then default; the member leaves", "[lacp]") {
  Lacp l = two_member_lacp(true);
  l.rx_pdu(1, partner_pdu(kSysB, 33, 1, kInSync), 0);
  l.rx_pdu(2, partner_pdu(kSysB, 33, 2, kInSync), 0);
  l.rx_pdu(2, partner_pdu(kSysB, 33, 2, kInSync), 2500);
  CHECK_FALSE(l.run(2999));
  CHECK(l.run(3000));  // member 1: 3 x 1 s without a LACPDU
  CHECK(l.members().at(1).status == LacpRxStatus::kExpired);
  CHECK(l.may_enable(1));  // still attached while expired (as OVS)
  CHECK(l.run(6000));
  CHECK(l.members().at(1).status == LacpRxStatus::kDefaulted);
  CHECK_FALSE(l.may_enable(1));
  CHECK(l.may_enable(2));  // member 2 heard at 2500: expires at 5500 only
  CHECK(l.members().at(2).status == LacpRxStatus::kExpired);
  // lacp/show's counters: member 1 expired once and was defaulted once.
  CHECK(l.members().at(1).expired == 1);
  CHECK(l.members().at(1).defaulted == 1);
  CHECK(l.members().at(2).expired == 1);
  CHECK(l.members().at(2).defaulted == 0);
}

TEST_CASE("lacp: a defaulted member transmits at our own fast rate (a partner without carrier)", "[lacp]") {
  Lacp l = two_member_lacp(true);
  CHECK(l.take_tx(0).size() == 2);  // nobody answered: both defaulted
  CHECK(l.take_tx(999).empty());
  CHECK(l.take_tx(1000).size() == 2);  // lacp-time=fast: every second, not 30 s
}

TEST_CASE("lacp: a carrier change expires the member's partner and transmits on every member", "[lacp]") {
  Lacp l = two_member_lacp(true);
  l.rx_pdu(1, partner_pdu(kSysB, 33, 1, kInSync | kLacpTimeout), 0);
  l.rx_pdu(2, partner_pdu(kSysB, 33, 2, kInSync | kLacpTimeout), 0);
  l.take_tx(0);
  CHECK(l.take_tx(100).empty());
  REQUIRE(l.may_enable(1));
  CHECK(l.carrier_changed(1, 100));  // attachment changed: member 1 out of sync
  CHECK(l.members().at(1).status == LacpRxStatus::kExpired);
  CHECK(l.members().at(1).expired == 1);
  CHECK_FALSE(l.may_enable(1));
  CHECK(l.may_enable(2));
  CHECK(l.take_tx(100).size() == 2);  // need to transmit: both, at once
  // The partner answers: current and in sync again, no timer waited for.
  l.rx_pdu(1, partner_pdu(kSysB, 33, 1, kInSync | kLacpTimeout), 150);
  CHECK(l.may_enable(1));
  // A member without a partner (defaulted) has nothing to expire, but
  // still transmits now; an unknown member changes nothing.
  Lacp d = two_member_lacp(true);
  d.take_tx(0);
  CHECK_FALSE(d.carrier_changed(1, 10));
  CHECK(d.members().at(1).status == LacpRxStatus::kDefaulted);
  CHECK(d.take_tx(10).size() == 2);
  CHECK_FALSE(d.carrier_changed(9, 20));
  CHECK(d.take_tx(20).empty());
}

TEST_CASE("lacp: a member whose partner is another aggregator stays out", "[lacp]") {
  Lacp l = two_member_lacp(false);
  l.rx_pdu(1, partner_pdu(kSysB, 33, 1, kInSync), 0);
  l.rx_pdu(2, partner_pdu(kSysC, 33, 1, kInSync), 0);  // another switch
  CHECK(l.negotiated());
  CHECK(l.may_enable(1) != l.may_enable(2));
  CHECK(l.may_enable(1));  // kSysB < kSysC: the lead
  l.rx_pdu(2, partner_pdu(kSysB, 34, 2, kInSync), 1);  // same switch, another key
  CHECK_FALSE(l.may_enable(2));
  l.rx_pdu(2, partner_pdu(kSysB, 33, 2, kInSync), 2);
  CHECK(l.may_enable(2));
}

TEST_CASE("lacp: fallback to active-backup when nobody answers; passive waits", "[lacp]") {
  Lacp fb = two_member_lacp(false, true);
  CHECK(fb.may_enable(1));
  CHECK(fb.may_enable(2));
  Bond b("bond0", 0, cfg_of(BondMode::kBalanceTcp));
  b.set_members({{"p0", 1}, {"p1", 2}}, 0);
  b.carrier(1, true, 0);
  b.carrier(2, true, 0);
  b.set_lacp_negotiated(false, true, 0);
  CHECK(b.mode() == BondMode::kActiveBackup);
  CHECK(count(b, b.active()) == kBondBuckets);
  b.set_lacp_negotiated(true, true, 1);
  CHECK(b.mode() == BondMode::kBalanceTcp);
  CHECK(count(b, 1) == kBondBuckets / 2);

  Lacp none = two_member_lacp(false, false);
  CHECK_FALSE(none.may_enable(1));
  Lacp passive;
  LacpSettings s;
  s.active = false;
  passive.configure(s);
  passive.set_member(1, 1, kSysA);
  CHECK(passive.take_tx(0).empty());
  passive.rx_pdu(1, partner_pdu(kSysB, 1, 1, kLacpActivity | kLacpAggregation), 0);
  CHECK(passive.take_tx(0).size() == 1);
}
