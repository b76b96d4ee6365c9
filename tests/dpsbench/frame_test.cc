// Coverage goal: frames built from templates are well-formed for every header
// combination (IPv4/IPv6, 0/1/2 VLAN tags) and size, with both checksums
// verified by an independent byte-wise recomputation; flows vary exactly as
// the mixed-radix rule says; find_tag() decodes what write() encoded and
// rejects what is not ours.
#include <catch2/catch.hpp>

#include <set>
#include <tuple>

#include "frame.h"

using namespace dps::dpsbench;

namespace {

// Independent RFC 1071 checksum: big-endian byte pairs, end-around carry.
uint16_t ref_csum(const std::vector<uint8_t>& b) {
  uint32_t s = 0;
  for (size_t i = 0; i < b.size(); i += 2) {
    uint32_t w = b[i] << 8 | (i + 1 < b.size() ? b[i + 1] : 0);
    s += w;
    while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<uint16_t>(~s & 0xffff);
}

uint16_t be16(const std::vector<uint8_t>& f, size_t off) { return static_cast<uint16_t>(f[off] << 8 | f[off + 1]); }

// Checks lengths and both checksums of a frame; returns the L3 offset.
void verify(const std::vector<uint8_t>& f, bool ipv6, unsigned l3) {
  unsigned l4 = l3 + (ipv6 ? 40 : 20);
  unsigned udp_len = static_cast<unsigned>(f.size()) - l4;
  REQUIRE(be16(f, l4 + 4) == udp_len);
  std::vector<uint8_t> pseudo;
  if (ipv6) {
    REQUIRE(be16(f, l3 + 4) == udp_len);
    pseudo.assign(f.begin() + l3 + 8, f.begin() + l3 + 40);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(udp_len >> 8), static_cast<uint8_t>(udp_len), 0, 0, 0, 17});
  } else {
    REQUIRE(be16(f, l3 + 2) == f.size() - l3);
    std::vector<uint8_t> ip(f.begin() + l3, f.begin() + l3 + 20);
    CHECK(ref_csum(ip) == 0);  // a valid header sums to 0xffff
    pseudo.assign(f.begin() + l3 + 12, f.begin() + l3 + 20);
    pseudo.insert(pseudo.end(), {0, 17, static_cast<uint8_t>(udp_len >> 8), static_cast<uint8_t>(udp_len)});
  }
  std::vector<uint8_t> all = pseudo;
  all.insert(all.end(), f.begin() + l4, f.end());
  CHECK(be16(f, l4 + 6) != 0);
  CHECK(ref_csum(all) == 0);
}

}  // namespace

TEST_CASE("frames carry valid checksums for every header combination", "[dpsbench]") {
  auto [ipv6, n_vlans] = GENERATE(std::make_tuple(false, 0), std::make_tuple(false, 1), std::make_tuple(false, 2),
                                  std::make_tuple(true, 0), std::make_tuple(true, 1), std::make_tuple(true, 2));
  TrafficProfile p;
  p.ipv6 = ipv6;
  p.vlans.assign(static_cast<size_t>(n_vlans), 0);
  for (int i = 0; i < n_vlans; i++) p.vlans[i] = static_cast<uint16_t>(100 + i);
  p.vlan_pcp = 5;
  p.frame_sizes = {static_cast<uint16_t>(p.min_frame_size()), 128, 594, 1518, 9000};
  p.flows = 7;
  p.finalize();
  FrameBuilder fb(p, 3);
  unsigned l3 = 14 + 4 * static_cast<unsigned>(n_vlans);
  REQUIRE(fb.l2_len() == l3);
  uint64_t tscs[] = {0, 1, 0xffffffffffffull, 0x123456789abcdefull};
  uint32_t seqs[] = {0, 1, 0xffff, 0xffffffffu, 0x8000fffe};
  for (uint32_t flow = 0; flow < fb.n_flows(); flow++)
    for (unsigned s = 0; s < fb.sizes().size(); s++)
      for (uint64_t tsc : tscs)
        for (uint32_t seq : seqs) {
          auto f = fb.build(flow, s, seq, tsc);
          REQUIRE(f.size() == p.frame_sizes[s] - 4u);
          verify(f, ipv6, l3);
          Tag tag;
          REQUIRE(find_tag(f.data(), static_cast<uint32_t>(f.size()), &tag));
          CHECK(tag.stream == 3);
          CHECK(tag.seq == seq);
          CHECK(tag.tsc48 == (tsc & 0xffffffffffffull));
        }
  // VLAN tags: QinQ outer TPID 0x88a8, single tag 0x8100, PCP in the TCI.
  auto f = fb.build(0, 0, 0, 0);
  if (n_vlans == 2) {
    CHECK(be16(f, 12) == 0x88a8);
    CHECK(be16(f, 16) == 0x8100);
    CHECK(be16(f, 18) == (5 << 13 | 101));
  } else if (n_vlans == 1) {
    CHECK(be16(f, 12) == 0x8100);
    CHECK(be16(f, 14) == (5 << 13 | 100));
  }
  CHECK(be16(f, l3 - 2) == (ipv6 ? 0x86dd : 0x0800));
}

TEST_CASE("flows vary in mixed radix over the listed fields", "[dpsbench]") {
  TrafficProfile p;
  p.flows = 12;
  p.src_ip4 = 0x0a0000fe;  // 10.0.0.254: the third value carries into the next octet
  p.vary[static_cast<unsigned>(Field::kSrcIp)] = 3;
  p.vary[static_cast<unsigned>(Field::kDstPort)] = 4;
  p.vary[static_cast<unsigned>(Field::kSrcMac)] = 1;
  p.finalize();
  FrameBuilder fb(p, 0);
  std::set<std::pair<uint32_t, uint16_t>> seen;
  for (uint32_t i = 0; i < 12; i++) {
    auto f = fb.build(i, 0, 0, 0);
    uint32_t src = static_cast<uint32_t>(be16(f, 26)) << 16 | be16(f, 28);
    uint16_t dport = be16(f, 36);
    CHECK(src == 0x0a0000fe + i % 3);
    CHECK(dport == 1024 + i / 3);
    seen.insert({src, dport});
  }
  CHECK(seen.size() == 12);
  // IPv6 and MAC increments carry across bytes.
  TrafficProfile q;
  q.ipv6 = true;
  q.frame_sizes = {128};
  q.src_ip6 = parse_ipv6("fd00::ff", "t");
  q.src_mac = parse_mac("02:00:00:00:00:ff", "t");
  q.flows = 2;
  q.vary[static_cast<unsigned>(Field::kSrcMac)] = 2;
  q.vary[static_cast<unsigned>(Field::kSrcIp)] = 1;
  q.finalize();
  FrameBuilder fb6(q, 0);
  auto g = fb6.build(1, 0, 0, 0);
  CHECK(g[6 + 4] == 0x01);
  CHECK(g[6 + 5] == 0x00);
}

TEST_CASE("find_tag rejects frames that are not dpsbench frames", "[dpsbench]") {
  TrafficProfile p;
  p.finalize();
  FrameBuilder fb(p, 1);
  auto f = fb.build(0, 0, 42, 99);
  Tag tag;
  REQUIRE(find_tag(f.data(), static_cast<uint32_t>(f.size()), &tag));
  auto bad_magic = f;
  bad_magic[fb.tag_offset()] ^= 1;
  CHECK_FALSE(find_tag(bad_magic.data(), static_cast<uint32_t>(bad_magic.size()), &tag));
  auto tcp = f;
  tcp[14 + 9] = 6;
  CHECK_FALSE(find_tag(tcp.data(), static_cast<uint32_t>(tcp.size()), &tag));
  auto arp = f;
  arp[12] = 0x08;
  arp[13] = 0x06;
  CHECK_FALSE(find_tag(arp.data(), static_cast<uint32_t>(arp.size()), &tag));
  CHECK_FALSE(find_tag(f.data(), 40, &tag));  // truncated
  // A switch that pops a VLAN leaves the tag findable.
  TrafficProfile v;
  v.vlans = {7};
  v.finalize();
  FrameBuilder fbv(v, 2);
  auto tagged = fbv.build(0, 0, 5, 6);
  std::vector<uint8_t> popped(tagged.begin(), tagged.begin() + 12);
  popped.insert(popped.end(), tagged.begin() + 16, tagged.end());
  REQUIRE(find_tag(popped.data(), static_cast<uint32_t>(popped.size()), &tag));
  CHECK(tag.seq == 5);
  CHECK(tag.stream == 2);
}
