// ct_fuzz_test.cc - the conntrack packet path (parse, track, NAT rewrite)
// on mutated packets: truncated at every length, header bytes and length
// fields flipped, bogus TCP options, ICMP errors quoting garbage. Each
// packet lives in a buffer of exactly its length, so under the sanitizer
// build (make asan) a read or a NAT write one byte past it fails the test.
// Deterministic (seeded) so a failure reproduces.
#include <catch2/catch.hpp>

#include <random>

#include "ct_helpers.h"
#include "ip_fragment.h"
#include "nat_range.h"

using namespace dps::conntrack;
using namespace dps::test;

namespace {

std::vector<std::vector<uint8_t>> seeds() {
  TcpOpts o;
  o.seq = 1;
  o.window = 100;
  std::vector<std::vector<uint8_t>> s = {
      tcp4("10.0.0.1", "10.0.0.2", 1000, 80, kTcpSyn, 1, 0, 0),
      tcp4("10.0.0.2", "10.0.0.1", 80, 1000, kTcpSyn | kTcpAck, 9, 2, 0),
      tcp4("10.0.0.1", "10.0.0.2", 1000, 80, kTcpAck, 2, 10, 40),
      udp4("10.0.0.1", "10.0.0.2", 5000, 53),
      udp4("10.0.0.2", "10.0.0.1", 53, 5000),
      udp6("fd00::1", "fd00::2", 5000, 53),
      icmp4("10.0.0.1", "10.0.0.2", 8, 7),
      icmp4_error("10.0.0.9", "10.0.0.1", 3, 3, tcp4("10.0.0.1", "10.0.0.2", 1000, 80, kTcpSyn, 1, 0)),
      icmp4_error("10.0.0.9", "10.0.0.2", 11, 0, udp4("10.0.0.2", "10.0.0.1", 53, 5000)),
      l3_of(PacketBuilder().eth().ipv6("fd00::1", "fd00::2").tcp(1000, 80, kTcpSyn, o).build()),
  };
  return s;
}

CtAction action(unsigned k) {
  CtAction a = ct_act(k % 4 != 3);
  if (k % 3 == 0) return a;
  a.nat = true;
  const char* spec = k % 3 == 1 ? "src=10.0.0.100:2000-2003" : (k & 1) ? "dst=10.0.0.5-10.0.0.6" : "";
  REQUIRE(dps::base::nat_parse(spec, &a.nat_spec).empty());
  return a;
}

// One mutation of p: truncation, byte flips in the headers, or a length /
// header-length / option field set to an arbitrary value.
std::vector<uint8_t> mutate(std::vector<uint8_t> p, std::mt19937& rng) {
  const unsigned what = rng() % 4;
  if (what == 0) {
    p.resize(rng() % (p.size() + 1));
  } else if (what == 1) {
    for (unsigned n = 1 + rng() % 4; n-- > 0 && !p.empty();) p[rng() % std::min<size_t>(p.size(), 80)] ^= 1u << (rng() % 8);
  } else if (what == 2 && p.size() > 40) {
    const unsigned at[] = {0, 2, 3, 4, 5, 6, 9, 32, 33, 40};  // IHL, lengths, frag, proto, TCP offset/options
    p[at[rng() % 10]] = static_cast<uint8_t>(rng());
  } else if (!p.empty()) {
    p.resize(p.size() + rng() % 24, static_cast<uint8_t>(rng()));  // trailing bytes / options
  }
  return p;
}

}  // namespace

TEST_CASE("conntrack fuzz: mutated packets through ct() and NAT", "[ct][fuzz]") {
  CtConfig cfg;
  cfg.expected_conns = 1024;
  CtRig r(cfg);
  std::mt19937 rng(12345);
  const auto base = seeds();
  std::vector<CtAction> acts;
  for (unsigned k = 0; k < 12; k++) acts.push_back(action(k));
  unsigned tracked = 0, nat = 0;
  for (unsigned i = 0; i < 200000; i++) {
    const std::vector<uint8_t> m = mutate(base[rng() % base.size()], rng);
    // Exactly sized heap copy: one byte past it is a sanitizer error.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[std::max<size_t>(m.size(), 1)]);
    std::copy(m.begin(), m.end(), buf.get());
    const CtResult res = r.ct.process(r.th, buf.get(), m.size(), acts[i % acts.size()], 1000 + i / 200);
    tracked += (res.state & kCsTracked) != 0;
    nat += (res.state & (kCsSrcNat | kCsDstNat)) != 0;
    // Only a packet of a connection is translated (OVS translates one the
    // window check finds invalid too).
    if (!res.has_orig) CHECK((res.state & (kCsSrcNat | kCsDstNat)) == 0);
    if (i % 20000 == 0) r.ct.sweep(1000 + i / 200, 4096);
  }
  CHECK(tracked == 200000);
  CHECK(nat > 1000);  // NAT ran on many of them, not only refused them
  const CtStats s = r.ct.stats();
  CHECK(s.counters[kTruncated] > 0);
  CHECK(s.counters[kMalformed] > 0);
  CHECK(s.counters[kCreated] > 0);
}

// Fragments of UDP / ICMP datagrams (IPv4, IPv6 with extension headers),
// mutated, shuffled between datagrams, into the reassembly table; every
// completed datagram rebuilt, tracked (with NAT) and its NAT copied back.
// The table holds pointers into the exactly sized buffers until they are
// released or flushed.
TEST_CASE("conntrack fuzz: mutated fragments through reassembly, ct() and NAT", "[ct][fuzz][frag]") {
  CtConfig cfg;
  cfg.expected_conns = 1024;
  CtRig r(cfg);
  IpFrag& ipf = r.ct.frag();
  REQUIRE(ipf.set_min_frag(4, 400));
  REQUIRE(ipf.set_min_frag(6, 400));
  std::mt19937 rng(777);
  std::vector<std::vector<uint8_t>> frags;
  for (uint32_t id = 1; id <= 4; id++) {
    const std::vector<uint8_t> pl(600 * id, static_cast<uint8_t>(id));
    for (auto& f : fragment_ip(l3_of(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1000, 53).bytes(pl).build()), 500, id))
      frags.push_back(f);
    for (auto& f : fragment_ip(l3_of(PacketBuilder().eth().ipv4("10.0.0.2", "10.0.0.1").icmp(8, 0).bytes(pl).build()), 600, id))
      frags.push_back(f);
    for (auto& f : fragment_ip(l3_of(PacketBuilder().eth().ipv6("fd00::1", "fd00::2").ipv6_ext(0).udp(1000, 53).bytes(pl).build()), 520, id))
      frags.push_back(f);
  }
  std::vector<std::unique_ptr<uint8_t[]>> held;
  std::vector<uint8_t> out(kIpfMaxDatagram);
  unsigned complete = 0;
  for (unsigned i = 0; i < 60000; i++) {
    const auto& base = frags[rng() % frags.size()];
    const std::vector<uint8_t> m = rng() % 3 ? base : mutate(base, rng);
    held.emplace_back(new uint8_t[std::max<size_t>(m.size(), 1)]);
    std::copy(m.begin(), m.end(), held.back().get());
    uint8_t* p = held.back().get();
    if (!ip_is_fragment(p, m.size())) continue;
    FragList* d = nullptr;
    if (ipf.add(p, p, m.size(), 0, 1000 + i / 100, &d) != FragVerdict::kComplete) continue;
    complete++;
    const size_t len = IpFrag::reassemble(*d, out.data(), out.size());
    if (len) {
      const CtResult res = r.ct.process(r.th, out.data(), len, action(i % 12), 1000 + i / 100);
      if (res.state & (kCsSrcNat | kCsDstNat)) IpFrag::apply_nat(*d, out.data());
    }
    ipf.release(d, d->n);
    if (i % 5000 == 4999) {
      ipf.flush();
      held.clear();
    }
  }
  ipf.flush();
  CHECK(complete > 100);
  CHECK(ipf.status().nfrag == 0);
  CHECK(ipf.counter(4, kIpfAccepted) > 0);
  CHECK(ipf.counter(6, kIpfReassembled) > 0);
  CHECK(ipf.counter(4, kIpfMalformed) + ipf.counter(4, kIpfOverlap) + ipf.counter(4, kIpfDuplicate) > 0);
}
