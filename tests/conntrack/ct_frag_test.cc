// ct_frag_test.cc - fragment reassembly in front of the tracker (ct_frag.h),
// driven as the datapath's ct() drives it: each fragment into add(), a
// complete datagram reassembled (compared byte for byte with the datagram
// the fragments were cut from), tracked with process() once, NAT copied
// back into the fragments. Limits, timeout, overlap, duplicates, and the
// counters of each refusal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "ct_helpers.h"
#include "ip_fragment.h"
#include "nat_range.h"

using namespace dps::conntrack;
using namespace dps::test;

namespace {

int g_freed = 0;
void count_free(void*) { g_freed++; }

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return v;
}

std::vector<uint8_t> udp4_big(const char* src, const char* dst, uint16_t sp, uint16_t dp, size_t n) {
  return l3_of(PacketBuilder().eth().ipv4(src, dst, {.id = 77}).udp(sp, dp).bytes(pattern(n)).build());
}

// A tracker and its fragment table as one PMD uses them; fragments are
// L3 buffers the rig keeps alive (the table holds pointers into them).
struct FragRig {
  FragRig() { ct.frag().set_free_fn(count_free); g_freed = 0; }
  IpFrag& ipf() { return ct.frag(); }
  // Adds fragment `f` (a copy the rig keeps); *done on completion.
  FragVerdict add(const std::vector<uint8_t>& f, uint16_t zone = 0, int64_t now = 1000) {
    bufs.push_back(std::make_unique<std::vector<uint8_t>>(f));
    return ipf().add(bufs.back().get(), bufs.back()->data(), f.size(), zone, now, &done);
  }
  // Adds them all in order; true when the last completed the datagram.
  bool add_all(const std::vector<std::vector<uint8_t>>& fs, uint16_t zone = 0) {
    FragVerdict v = FragVerdict::kInvalid;
    for (const auto& f : fs) v = add(f, zone);
    return v == FragVerdict::kComplete;
  }
  std::vector<uint8_t> reassembled() {
    std::vector<uint8_t> out(kIpfMaxDatagram);
    out.resize(IpFrag::reassemble(*done, out.data(), out.size()));
    return out;
  }
  // The reassembled datagram through ct(); NAT copied back.
  uint8_t track(const CtAction& a) {
    buf = reassembled();
    last = ct.process(th, buf.data(), buf.size(), a, 1000);
    if (a.nat) IpFrag::apply_nat(*done, buf.data());
    return last.state;
  }
  // The fragments of the completed list, as they are now.
  std::vector<std::vector<uint8_t>> frags() const {
    std::vector<std::vector<uint8_t>> out;
    for (unsigned i = 0; i < done->n; i++) out.push_back(*static_cast<std::vector<uint8_t>*>(done->frags[i].pkt));
    return out;
  }
  uint64_t v4(unsigned c) const { return ct.frag().counter(4, c); }
  uint64_t v6(unsigned c) const { return ct.frag().counter(6, c); }

  Conntrack ct;
  CtThread* th = ct.register_thread();
  std::vector<std::unique_ptr<std::vector<uint8_t>>> bufs;
  FragList* done = nullptr;
  std::vector<uint8_t> buf;
  CtResult last;
};

CtAction nat_act(bool commit, const char* spec) {
  CtAction a = ct_act(commit);
  a.nat = true;
  REQUIRE(dps::base::nat_parse(spec, &a.nat_spec).empty());
  return a;
}

bool ipv4_header_ok(const std::vector<uint8_t>& f) {
  return ipv4_header_checksum(f.data(), (f[0] & 15) * 4u) == (f[10] << 8 | f[11]);
}

}  // namespace

TEST_CASE("frag: in order and out of order, the datagram is rebuilt exactly", "[ct][frag]") {
  const auto dg = udp4_big("10.0.0.1", "10.0.0.2", 5000, 53, 3000);
  auto fs = fragment_ip(dg, 1500, 77);
  REQUIRE(fs.size() == 3);
  for (const auto& f : fs) CHECK(ip_is_fragment(f.data(), f.size()));
  CHECK_FALSE(ip_is_fragment(dg.data(), dg.size()));
  SECTION("in order") {}
  SECTION("out of order") { std::swap(fs[0], fs[2]); }
  SECTION("last first") { std::rotate(fs.begin(), fs.begin() + 2, fs.end()); }
  FragRig r;
  CHECK(r.add(fs[0]) == FragVerdict::kHeld);
  CHECK(r.add(fs[1]) == FragVerdict::kHeld);
  CHECK(r.ipf().status().nfrag == 2);
  CHECK(r.ipf().status().n_lists == 1);
  REQUIRE(r.add(fs[2]) == FragVerdict::kComplete);
  CHECK(r.reassembled() == dg);
  CHECK(r.done->frags[0].start == 0);  // sorted: sent in datagram order
  CHECK(r.done->frags[2].end == dg.size() - 20);
  CHECK(r.track(ct_act(true)) == kNewTrk);
  r.ipf().release(r.done, r.done->n);
  CHECK(r.ipf().status().nfrag == 0);
  CHECK(r.v4(kIpfAccepted) == 3);
  CHECK(r.v4(kIpfReassembled) == 1);
  CHECK(r.v4(kIpfCompleted) == 3);
  CHECK(g_freed == 0);  // sent on, not freed
  CHECK(r.ct.stats().counters[kFragments] == 0);
}

TEST_CASE("frag: UDP both ways and ICMP echo are tracked as the whole datagram", "[ct][frag]") {
  FragRig r;
  REQUIRE(r.add_all(fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 5000, 53, 4000), 1500, 1)));
  CHECK(r.track(ct_act(true)) == kNewTrk);
  r.ipf().release(r.done, r.done->n);
  REQUIRE(r.add_all(fragment_ip(udp4_big("10.0.0.2", "10.0.0.1", 53, 5000, 2000), 1500, 1)));
  CHECK(r.track(ct_act(false)) == kEstRpl);
  r.ipf().release(r.done, r.done->n);
  // ping -s 3000: request and reply
  auto echo = [](const char* s, const char* d, uint8_t type) {
    return l3_of(PacketBuilder().eth().ipv4(s, d).icmp(type, 0, 0x00420001).bytes(pattern(3000)).build());
  };
  REQUIRE(r.add_all(fragment_ip(echo("10.0.0.1", "10.0.0.2", 8), 1500, 9)));
  CHECK(r.track(ct_act(true)) == kNewTrk);
  r.ipf().release(r.done, r.done->n);
  REQUIRE(r.add_all(fragment_ip(echo("10.0.0.2", "10.0.0.1", 0), 1500, 9)));
  CHECK(r.track(ct_act(false)) == kEstRpl);
  r.ipf().release(r.done, r.done->n);
  CHECK(r.ct.n_conns() == 2);
}

TEST_CASE("frag: IPv6 fragment header after hop-by-hop and destination options", "[ct][frag]") {
  const auto dg = l3_of(PacketBuilder().eth().ipv6("fd00::1", "fd00::2").ipv6_ext(0).ipv6_ext(60, 16)
                            .udp(5000, 53).bytes(pattern(5000)).build());
  auto fs = fragment_ip(dg, 1400, 0x12345678);
  REQUIRE(fs.size() == 4);
  CHECK(fs[1][6] == 0);                                  // hop-by-hop first
  for (const auto& f : fs) CHECK(ip_is_fragment(f.data(), f.size()));
  FragRig r;
  std::swap(fs[1], fs[3]);
  REQUIRE(r.add_all(fs));
  CHECK(r.reassembled() == dg);
  CHECK(r.track(ct_act(true)) == kNewTrk);
  CHECK(r.last.orig.sport == 5000);
  r.ipf().release(r.done, r.done->n);
  CHECK(r.v6(kIpfReassembled) == 1);
  CHECK(r.v4(kIpfAccepted) == 0);
  // An atomic fragment (offset 0, no MF) is no fragment: the tracker parses through it.
  const auto atomic = l3_of(PacketBuilder().eth().ipv6("fd00::1", "fd00::2").ipv6_frag(0, false).udp(1, 2).build());
  CHECK_FALSE(ip_is_fragment(atomic.data(), atomic.size()));
}

TEST_CASE("frag: a duplicate is refused alone, the datagram completes", "[ct][frag]") {
  const auto dg = udp4_big("10.0.0.1", "10.0.0.2", 5000, 53, 3000);
  const auto fs = fragment_ip(dg, 1500, 77);
  FragRig r;
  CHECK(r.add(fs[0]) == FragVerdict::kHeld);
  CHECK(r.add(fs[0]) == FragVerdict::kInvalid);
  CHECK(r.v4(kIpfDuplicate) == 1);
  CHECK(r.add(fs[1]) == FragVerdict::kHeld);
  REQUIRE(r.add(fs[2]) == FragVerdict::kComplete);
  CHECK(r.reassembled() == dg);
  r.ipf().release(r.done, r.done->n);
}

TEST_CASE("frag: overlap drops the datagram, later fragments of it are refused", "[ct][frag]") {
  const auto dg = udp4_big("10.0.0.1", "10.0.0.2", 5000, 53, 3000);
  const auto fs = fragment_ip(dg, 1500, 5);     // data [0,1480) [1480,2960) [2960,3008)
  const auto odd = fragment_ip(dg, 1300, 5);    // [0,1280) [1280,2560) ...: overlaps
  FragRig r;
  CHECK(r.add(fs[0]) == FragVerdict::kHeld);
  CHECK(r.add(odd[1]) == FragVerdict::kInvalid);
  CHECK(r.v4(kIpfOverlap) == 2);  // the one held and this one
  CHECK(g_freed == 1);
  CHECK(r.ipf().status().nfrag == 0);
  CHECK(r.add(fs[1]) == FragVerdict::kInvalid);
  CHECK(r.add(fs[2]) == FragVerdict::kInvalid);
  CHECK(r.v4(kIpfOverlap) == 4);
  CHECK(r.ipf().sweep(1000 + kIpfTimeoutMs) == 1);  // the tombstone goes at the timeout
  CHECK(r.ipf().status().n_lists == 0);
}

TEST_CASE("frag: too small, past 65535, two different ends, data past the end", "[ct][frag]") {
  FragRig r;
  const auto small = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 2000), 600, 1);
  CHECK(r.add(small[0]) == FragVerdict::kInvalid);
  CHECK(r.v4(kIpfTooSmall) == 1);
  CHECK(r.add(small.back()) == FragVerdict::kHeld);  // a last fragment may be small
  const auto fs = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, 2);
  auto far = fs[1];
  far[6] = 0x1f;  // offset 8184 * 8 = 65472, + 1480 bytes: past 65535
  far[7] = 0xf8;
  CHECK(r.add(far) == FragVerdict::kInvalid);
  CHECK(r.v4(kIpfInconsistent) == 1);
  SECTION("a second last fragment with another end") {
    CHECK(r.add(fs[2]) == FragVerdict::kHeld);
    auto last2 = fs[1];
    last2[6] &= ~0x20;  // MF cleared: ends at 2960, not 3008
    CHECK(r.add(last2) == FragVerdict::kInvalid);
    CHECK(r.v4(kIpfInconsistent) == 3);  // + the held last and this one
  }
  SECTION("data past the last fragment's end") {
    auto shortlast = fs[1];
    shortlast[6] &= ~0x20;  // the datagram ends at 2960
    CHECK(r.add(shortlast) == FragVerdict::kHeld);
    CHECK(r.add(fs[2]) == FragVerdict::kInvalid);  // data at 2960..3008
    CHECK(r.v4(kIpfInconsistent) == 3);
  }
  SECTION("a middle fragment not a multiple of 8") {
    auto odd = fs[0];
    odd[3] -= 1;
    CHECK(r.add(odd) == FragVerdict::kInvalid);
    CHECK(r.v4(kIpfMalformed) == 1);
  }
}

TEST_CASE("frag: timeout frees the held fragments, counted", "[ct][frag]") {
  FragRig r;
  const auto fs = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, 3);
  CHECK(r.add(fs[0], 0, 1000) == FragVerdict::kHeld);
  CHECK(r.add(fs[1], 0, 5000) == FragVerdict::kHeld);
  CHECK(r.ipf().sweep(1000 + kIpfTimeoutMs - 1) == 0);
  CHECK(r.ipf().sweep(1000 + kIpfTimeoutMs) == 1);
  CHECK(r.v4(kIpfExpired) == 2);
  CHECK(g_freed == 2);
  CHECK(r.ipf().status().nfrag == 0);
  // The last one now starts a new datagram, which never completes.
  CHECK(r.add(fs[2], 0, 17000) == FragVerdict::kHeld);
  // Conntrack::sweep() sweeps the fragments too.
  r.ct.sweep(17000 + kIpfTimeoutMs, 16);
  CHECK(r.v4(kIpfExpired) == 3);
}

TEST_CASE("frag: limits on fragments held, datagrams, fragments per datagram", "[ct][frag]") {
  FragRig r;
  SECTION("max nfrags") {
    REQUIRE(r.ipf().set_max_nfrag(2));
    CHECK_FALSE(r.ipf().set_max_nfrag(kIpfMaxNfragUbound + 1));
    for (uint16_t id = 1; id <= 3; id++) {
      const auto fs = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, id);
      CHECK(r.add(fs[0]) == (id <= 2 ? FragVerdict::kHeld : FragVerdict::kInvalid));
    }
    CHECK(r.v4(kIpfLimit) == 1);
  }
  SECTION("fragments per datagram") {
    REQUIRE(r.ipf().set_min_frag(4, 400));
    CHECK_FALSE(r.ipf().set_min_frag(4, 399));
    const auto fs = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 30000), 420, 4);
    REQUIRE(fs.size() > kMaxFragsPerDatagram);
    for (unsigned i = 0; i < kMaxFragsPerDatagram; i++) CHECK(r.add(fs[i]) == FragVerdict::kHeld);
    CHECK(r.add(fs[kMaxFragsPerDatagram]) == FragVerdict::kInvalid);
    CHECK(r.v4(kIpfLimit) == kMaxFragsPerDatagram + 1);
    CHECK(g_freed == static_cast<int>(kMaxFragsPerDatagram));
  }
  SECTION("datagrams being reassembled") {
    IpFrag small(count_free, 2);
    std::vector<std::vector<uint8_t>> keep;
    for (uint16_t id = 1; id <= 3; id++) keep.push_back(fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, id)[0]);
    FragList* d = nullptr;
    for (auto& f : keep) small.add(&f, f.data(), f.size(), 0, 0, &d);
    CHECK(small.status().n_lists == 2);
    CHECK(small.counter(4, kIpfLimit) == 1);
  }
  SECTION("zones keep datagrams apart") {
    const auto fs = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, 6);
    CHECK(r.add(fs[0], 1) == FragVerdict::kHeld);
    CHECK(r.add(fs[1], 2) == FragVerdict::kHeld);
    CHECK(r.add(fs[2], 1) == FragVerdict::kHeld);
    CHECK(r.ipf().status().n_lists == 2);
  }
}

TEST_CASE("frag: SNAT of a fragmented UDP datagram rewrites every fragment", "[ct][frag][nat]") {
  FragRig r;
  const auto dg = udp4_big("10.0.0.1", "20.0.0.2", 40000, 53, 4000);
  REQUIRE(r.add_all(fragment_ip(dg, 1500, 77)));
  CHECK(r.track(nat_act(true, "src=20.0.0.100")) == (kNewTrk | kCsSrcNat));
  const auto fs = r.frags();
  REQUIRE(fs.size() == 3);
  for (const auto& f : fs) {
    CHECK(f[12] == 20);
    CHECK(f[15] == 100);
    CHECK(ipv4_header_ok(f));
  }
  // The fragments put together again are the datagram the host would have
  // sent from 20.0.0.100: the first fragment's UDP checksum covers them all.
  FragRig again;
  REQUIRE(again.add_all(fs));
  const auto want = udp4_big("20.0.0.100", "20.0.0.2", 40000, 53, 4000);
  CHECK(again.reassembled() == want);
  again.ipf().release(again.done, again.done->n);
  r.ipf().release(r.done, r.done->n);
  // The reply, fragmented, is un-NATed the same way.
  REQUIRE(r.add_all(fragment_ip(udp4_big("20.0.0.2", "20.0.0.100", 53, 40000, 3000), 1500, 7)));
  CHECK(r.track(nat_act(false, "")) == (kEstRpl | kCsDstNat));
  for (const auto& f : r.frags()) {
    CHECK(f[19] == 1);  // 10.0.0.1
    CHECK(ipv4_header_ok(f));
  }
  r.ipf().release(r.done, r.done->n);
}

TEST_CASE("frag: release of a datagram not sent counts the rest as purged", "[ct][frag]") {
  FragRig r;
  REQUIRE(r.add_all(fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, 8)));
  r.ipf().release(r.done, 1);
  CHECK(r.v4(kIpfCompleted) == 1);
  CHECK(r.v4(kIpfPurged) == 2);
  CHECK(g_freed == 2);
  CHECK(r.ipf().status().nfrag == 0);
}

TEST_CASE("frag: SNAT of a fragmented IPv6 UDP datagram", "[ct][frag][nat]") {
  auto dg6 = [](const char* s, const char* d) {
    return l3_of(PacketBuilder().eth().ipv6(s, d).ipv6_ext(60).udp(40000, 53).bytes(pattern(4000)).build());
  };
  FragRig r;
  REQUIRE(r.add_all(fragment_ip(dg6("fd00::1", "fd00::2"), 1500, 0xabcd)));
  CHECK(r.track(nat_act(true, "src=fd00::100")) == (kNewTrk | kCsSrcNat));
  const auto fs = r.frags();
  FragRig again;
  REQUIRE(again.add_all(fs));
  CHECK(again.reassembled() == dg6("fd00::100", "fd00::2"));  // UDP checksum over it all
  again.ipf().release(again.done, again.done->n);
  r.ipf().release(r.done, r.done->n);
}

TEST_CASE("frag: disabled, fragments are the tracker's: +trk+inv, counted as fragments", "[ct][frag]") {
  FragRig r;
  r.ipf().set_enabled(4, false);
  CHECK_FALSE(r.ipf().enabled(4));
  CHECK(r.ipf().enabled(6));
  auto fs = fragment_ip(udp4_big("10.0.0.1", "10.0.0.2", 1, 2, 3000), 1500, 1);
  CHECK(r.ct.process(r.th, fs[1].data(), fs[1].size(), ct_act(true), 1000).state == kInvTrk);
  CHECK(r.ct.stats(false).counters[kFragments] == 1);
}
