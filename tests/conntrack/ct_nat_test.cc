// ct_nat_test.cc - NAT in the connection tracker: each translated packet is
// compared byte for byte with the packet built directly with the addresses
// and ports it must carry (the builder computes every checksum in full, so
// a wrong incremental update shows as a byte difference), plus tuple
// allocation, exhaustion, ICMP errors and the ovs-ofctl text of nat().
#include <catch2/catch.hpp>

#include <set>

#include "ct_helpers.h"
#include "nat_range.h"

using namespace dps::conntrack;
using namespace dps::test;

namespace {

constexpr uint8_t kSnat = kCsSrcNat, kDnat = kCsDstNat;

// ct(commit?, nat(<text>)) as the datapath hands it to the tracker.
CtAction nat_act(bool commit, const char* nat_args, uint16_t zone = 0) {
  CtAction a = ct_act(commit, zone);
  a.nat = true;
  const std::string err = dps::base::nat_parse(nat_args, &a.nat_spec);
  INFO(err);
  REQUIRE(err.empty());
  return a;
}

std::string hexs(const std::vector<uint8_t>& v) {
  std::string s;
  char b[3];
  for (uint8_t x : v) s += (std::snprintf(b, sizeof b, "%02x", x), b);
  return s;
}

// The L3 buffer must now be exactly `want` (checksums included).
void same(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) { CHECK(hexs(got) == hexs(want)); }

std::string dump_line(const Conntrack& ct) {
  auto d = ct.dump();
  return d.size() == 1 ? ct_entry_format(d[0]) : std::to_string(d.size()) + " entries";
}

}  // namespace

TEST_CASE("nat: SNAT rewrites A's packets, un-NATs B's replies; dump shows both tuples", "[ct][nat]") {
  CtRig r;
  auto syn = tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpSyn, 100, 0);
  CHECK(r.run_act(&syn, nat_act(true, "src=20.0.0.100")) == (kNewTrk | kSnat));
  same(syn, tcp4("20.0.0.100", "20.0.0.2", 40000, 80, kTcpSyn, 100, 0));  // the port was free: kept
  CHECK(dump_line(r.ct) ==
        "tcp,orig=(src=10.0.0.1,dst=20.0.0.2,sport=40000,dport=80),"
        "reply=(src=20.0.0.2,dst=20.0.0.100,sport=80,dport=40000),protoinfo=(state=SYN_SENT)");
  // B answers the translated address; ct(nat) (no commit) un-NATs it.
  auto synack = tcp4("20.0.0.2", "20.0.0.100", 80, 40000, kTcpSyn | kTcpAck, 500, 101);
  CHECK(r.run_act(&synack, nat_act(false, "")) == (kEstRpl | kDnat));
  same(synack, tcp4("20.0.0.2", "10.0.0.1", 80, 40000, kTcpSyn | kTcpAck, 500, 101));
  auto ack = tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpAck, 101, 501, 20);
  CHECK(r.run_act(&ack, nat_act(false, "")) == (kEstTrk | kSnat));
  same(ack, tcp4("20.0.0.100", "20.0.0.2", 40000, 80, kTcpAck, 101, 501, 20));
  // Without nat in the action the packet is tracked, not rewritten.
  auto plain = tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpAck, 121, 501);
  CHECK(r.run_act(&plain, ct_act(false)) == kEstTrk);
  same(plain, tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpAck, 121, 501));
}

TEST_CASE("nat: a taken source port moves within its class; a port range is honoured", "[ct][nat]") {
  CtRig r;
  auto a = udp4("10.0.0.1", "20.0.0.2", 5000, 53);
  auto b = udp4("10.0.0.2", "20.0.0.2", 5000, 53);  // another client, the same port
  REQUIRE(r.run_act(&a, nat_act(true, "src=20.0.0.100")) == (kNewTrk | kSnat));
  REQUIRE(r.run_act(&b, nat_act(true, "src=20.0.0.100")) == (kNewTrk | kSnat));
  same(a, udp4("20.0.0.100", "20.0.0.2", 5000, 53));
  const uint16_t moved = static_cast<uint16_t>(b[20] << 8 | b[21]);
  CHECK(moved != 5000);
  CHECK(moved >= 1024);
  same(b, udp4("20.0.0.100", "20.0.0.2", moved, 53));
  // B's reply to the moved port reaches the second client.
  auto back = udp4("20.0.0.2", "20.0.0.100", 53, moved);
  CHECK(r.run_act(&back, nat_act(false, "")) == (kEstRpl | kDnat));
  same(back, udp4("20.0.0.2", "10.0.0.2", 53, 5000));
  // A range: the source port is always inside it.
  auto c = udp4("10.0.0.3", "20.0.0.2", 6000, 53);
  REQUIRE(r.run_act(&c, nat_act(true, "src=20.0.0.101:7000-7010,random")) == (kNewTrk | kSnat));
  const uint16_t p = static_cast<uint16_t>(c[20] << 8 | c[21]);
  CHECK(p >= 7000);
  CHECK(p <= 7010);
}

TEST_CASE("nat: exhaustion drops the packet, counts it and creates nothing", "[ct][nat]") {
  CtRig r;
  std::set<uint16_t> ports;
  for (int i = 0; i < 2; i++) {
    auto p = udp4(i ? "10.0.0.2" : "10.0.0.1", "20.0.0.2", 4000, 53);
    REQUIRE(r.run_act(&p, nat_act(true, "src=20.0.0.100:5000-5001")) == (kNewTrk | kSnat));
    CHECK_FALSE(r.last.drop);
    ports.insert(static_cast<uint16_t>(p[20] << 8 | p[21]));
  }
  CHECK(ports == std::set<uint16_t>{5000, 5001});
  auto third = udp4("10.0.0.3", "20.0.0.2", 4000, 53);
  r.run_act(&third, nat_act(true, "src=20.0.0.100:5000-5001"));
  CHECK(r.last.drop);
  CHECK(r.ct.n_conns() == 2);
  CHECK(r.ct.zone_count(0) == 2);
  CHECK(r.ct.stats().counters[kNatExhausted] == 1);
  same(third, udp4("10.0.0.3", "20.0.0.2", 4000, 53));  // untouched
}

TEST_CASE("nat: DNAT of a virtual IP spreads clients over the backends; replies come from the VIP",
          "[ct][nat]") {
  CtRig r;
  std::set<std::string> backends;
  for (uint16_t sport = 30000; sport < 30040; sport++) {
    auto p = tcp4("10.0.0.1", "172.16.0.10", sport, 80, kTcpSyn, 1, 0);
    REQUIRE(r.run_act(&p, nat_act(true, "dst=10.0.0.2-10.0.0.3:8080")) == (kNewTrk | kDnat));
    const std::string be = std::to_string(p[16]) + "." + std::to_string(p[17]) + "." +
                           std::to_string(p[18]) + "." + std::to_string(p[19]);
    backends.insert(be);
    same(p, tcp4("10.0.0.1", be.c_str(), sport, 8080, kTcpSyn, 1, 0));
    auto rep = tcp4(be.c_str(), "10.0.0.1", 8080, sport, kTcpSyn | kTcpAck, 7, 2);
    CHECK(r.run_act(&rep, nat_act(false, "")) == (kEstRpl | kSnat));
    same(rep, tcp4("172.16.0.10", "10.0.0.1", 80, sport, kTcpSyn | kTcpAck, 7, 2));
  }
  CHECK(backends == std::set<std::string>{"10.0.0.2", "10.0.0.3"});
}

TEST_CASE("nat: an ICMP error about a SNATed connection is translated, outer and quoted", "[ct][nat]") {
  CtRig r;
  auto syn = tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpSyn, 1, 0);
  const auto orig_syn = syn;
  REQUIRE(r.run_act(&syn, nat_act(true, "src=20.0.0.100")) == (kNewTrk | kSnat));
  // A router beyond the NAT quotes the translated SYN to the NAT address.
  auto err = icmp4_error("192.168.9.9", "20.0.0.100", 3, 3, syn);
  CHECK(r.run_act(&err, nat_act(false, "")) == (kCsRelated | kCsReplyDir | kCsTracked | kDnat));
  same(err, icmp4_error("192.168.9.9", "10.0.0.1", 3, 3, orig_syn));
  std::vector<uint8_t> frame(14, 0);
  frame[12] = 0x08;
  frame.insert(frame.end(), err.begin(), err.end());
  CHECK(checksum_errors(frame) == "");
}

// ct(nat,table=1) then, in table 1, ct() again in the same zone: the
// packet carries its translated tuple, so the tracker finds it by the
// reversed one (the datapath passes the packet's +snat/+dnat as natted).
CtAction again(CtAction a, uint8_t natted) {
  a.natted = natted;
  return a;
}

TEST_CASE("nat: a second ct() in the same zone finds a translated packet's connection", "[ct][nat]") {
  CtRig r;
  auto syn = tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpSyn, 100, 0);
  REQUIRE(r.run_act(&syn, nat_act(true, "src=20.0.0.100")) == (kNewTrk | kSnat));
  auto synack = tcp4("20.0.0.2", "20.0.0.100", 80, 40000, kTcpSyn | kTcpAck, 500, 101);
  REQUIRE(r.run_act(&synack, nat_act(false, "")) == (kEstRpl | kDnat));
  // The reply, un-NATed, tracked again: the connection's reply direction.
  const auto unnated = synack;
  CHECK(r.run_act(&synack, again(ct_act(false), kDnat)) == (kEstRpl | kDnat));
  same(synack, unnated);
  auto ack = tcp4("10.0.0.1", "20.0.0.2", 40000, 80, kTcpAck, 101, 501, 20);
  REQUIRE(r.run_act(&ack, nat_act(false, "")) == (kEstTrk | kSnat));
  const auto translated = ack;
  // Without natted the translated tuple is nobody's: the ACK looks like a
  // new connection picked up midstream (OVS takes those).
  auto lone = ack;
  CHECK(r.run_act(&lone, ct_act(false)) == kNewTrk);
  // With it: the original direction, established; ct(nat) again does not
  // translate twice.
  CHECK(r.run_act(&ack, again(ct_act(false), kSnat)) == (kEstTrk | kSnat));
  CHECK(r.run_act(&ack, again(nat_act(false, ""), kSnat)) == (kEstTrk | kSnat));
  same(ack, translated);
  CHECK(r.ct.dump().size() == 1);
}

TEST_CASE("nat: IPv6 SNAT and its reply", "[ct][nat]") {
  CtRig r;
  auto p = udp6("fd00::1", "2001:db8::2", 5000, 53);
  REQUIRE(r.run_act(&p, nat_act(true, "src=2001:db8::100")) == (kNewTrk | kSnat));
  same(p, udp6("2001:db8::100", "2001:db8::2", 5000, 53));
  auto back = udp6("2001:db8::2", "2001:db8::100", 53, 5000);
  CHECK(r.run_act(&back, nat_act(false, "")) == (kEstRpl | kDnat));
  same(back, udp6("2001:db8::2", "fd00::1", 53, 5000));
}

TEST_CASE("nat: ovs-ofctl's text form and its errors", "[ct][nat]") {
  using dps::base::NatRange;
  for (const char* t : {"nat", "nat(src)", "nat(dst=10.0.0.1)", "nat(src=10.0.0.1-10.0.0.9:1024-2047,random)",
                        "nat(dst=[2001:db8::1]-[2001:db8::2]:80,persistent)", "nat(dst=2001:db8::5)",
                        "nat(src=10.0.0.1:80,hash)"}) {
    std::string s(t);
    const std::string args = s == "nat" ? "" : s.substr(4, s.size() - 5);
    NatRange r;
    INFO(t);
    REQUIRE(dps::base::nat_parse(args, &r) == "");
    CHECK(dps::base::nat_format(r) == t);
  }
  NatRange r;
  CHECK(dps::base::nat_parse("src,dst", &r) == "May only specify one of \"src\" or \"dst\".");
  CHECK(dps::base::nat_parse("random", &r) == "Flags allowed only with \"src\" or \"dst\".");
  CHECK(dps::base::nat_parse("src=10.0.0.1,hash,random", &r) == "Both \"hash\" and \"random\" are not allowed.");
  CHECK(dps::base::nat_parse("src=10.0.0.9-10.0.0.1", &r) == "invalid nat range \"10.0.0.9-10.0.0.1\"");
  CHECK(dps::base::nat_parse("src=10.0.0.1:90-80", &r) == "invalid nat range \"10.0.0.1:90-80\"");
  CHECK(dps::base::nat_parse("src=10.0.0.1x", &r).find("garbage (x)") == 0);
  CHECK(dps::base::nat_parse("bogus", &r) == "invalid key \"bogus\" in \"nat\" argument");
}
