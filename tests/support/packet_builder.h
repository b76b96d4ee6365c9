// packet_builder.h - test frames built layer by layer, and an independent
// checksum verifier.
//
// Building: call the layers outermost first, then build(). build() fills in
// every length (IPv4 total length, IPv6 payload length, UDP length), every
// link to the next layer (ethertype, IPv4 protocol, IPv6 next header) and
// every checksum (IPv4 header, TCP/UDP/ICMP/ICMPv6 with pseudo-header, SCTP
// CRC32C), so the frame is valid unless the test pokes bytes afterwards.
//
//   using namespace dps::test;
//   std::vector<uint8_t> f = PacketBuilder()
//       .eth(mac("02:00:00:00:00:02"), mac("02:00:00:00:00:01"))  // dst, src
//       .vlan(100)                                               // 802.1Q, TCI 100
//       .ipv4("10.0.0.1", "10.0.0.2", {.ttl = 5})                // src, dst, options
//       .udp(1234, 80)
//       .payload(18)
//       .build();
//
// Layers: eth, vlan (repeat for QinQ; tpid 0x88a8 for an S-tag), ethertype
// (an explicit type/length value, e.g. 0x0040 for an 802.3 frame), mpls
// (repeat to stack), pbb (802.1ah I-TAG and C-DA/C-SA), arp, ipv4 (options, fragments), ipv6, ipv6_ext
// (hop-by-hop 0, routing 43, destination 60, authentication 51), ipv6_frag,
// ipv6_esp, tcp, udp, sctp, icmp, icmp6, nd (ICMPv6 NS/NA with target and
// SLL/TLL options), payload/bytes, and pad (Ethernet padding after the IP
// datagram, not counted in the IP lengths). After build(), l3_offset() and
// l4_offset() give where the (last) L3 and L4 headers start. udp_frame()
// is the common Ethernet/IPv4/UDP test frame in one call.
//
// Verifying: checksum_errors(frame) re-parses the frame on its own (it shares
// nothing with the datapath's parser or incremental checksum code), recomputes
// the IPv4 header checksum and the L4 checksum in full and returns "" when
// all are valid, else a description of what is wrong (through a PBB I-TAG
// to the customer frame's). Fragments' L4
// checksums are not checked (they span several frames).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace dps::test {

using Mac = std::array<uint8_t, 6>;
using Ip6 = std::array<uint8_t, 16>;

// "02:00:00:00:00:01" -> Mac; aborts on a malformed string (a test bug).
inline Mac mac(const char* s) {
  Mac m{};
  unsigned b[6];
  if (std::sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
    std::fprintf(stderr, "packet_builder: bad MAC '%s'\n", s);
    std::abort();
  }
  for (int i = 0; i < 6; i++) m[i] = static_cast<uint8_t>(b[i]);
  return m;
}

// "10.0.0.1" -> network-order uint32_t.
inline uint32_t ip4(const char* s) {
  in_addr a{};
  if (inet_pton(AF_INET, s, &a) != 1) {
    std::fprintf(stderr, "packet_builder: bad IPv4 address '%s'\n", s);
    std::abort();
  }
  return a.s_addr;
}

// "2001:db8::1" -> 16 bytes.
inline Ip6 ip6(const char* s) {
  Ip6 a{};
  if (inet_pton(AF_INET6, s, a.data()) != 1) {
    std::fprintf(stderr, "packet_builder: bad IPv6 address '%s'\n", s);
    std::abort();
  }
  return a;
}

inline const Mac kMacA = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
inline const Mac kMacB = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

struct Ipv4Opts {
  uint8_t tos = 0;
  uint8_t ttl = 64;
  uint16_t id = 1;
  bool df = false;
  bool mf = false;              // more fragments
  uint16_t frag_offset = 0;     // in 8-byte units
  uint8_t options_len = 0;      // bytes of IP options (multiple of 4, NOPs)
  int proto = -1;               // -1: from the next layer (253 when none)
};

struct Ipv6Opts {
  uint8_t tclass = 0;
  uint32_t flow_label = 0;      // low 20 bits
  uint8_t hop_limit = 64;
  int next_header = -1;         // -1: from the next layer (59 when none)
};

struct TcpOpts {
  uint32_t seq = 1;
  uint32_t ack = 0;
  uint16_t window = 8192;
  uint8_t options_len = 0;      // bytes of TCP options (multiple of 4, NOPs)
};

// --- checksum primitives (shared by the builder and the verifier) ---------

// 32-bit accumulation of 16-bit big-endian words (odd byte padded with 0).
inline uint32_t csum_add(uint32_t sum, const uint8_t* p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}
inline uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Bitwise CRC32C (Castagnoli, reflected 0x82F63B78), no table, no SSE4.2:
// independent of the datapath's hardware CRC.
inline uint32_t crc32c_bitwise(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffff;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

// IPv4 header checksum over ihl bytes, the checksum field counted as zero;
// returns the value to store (host order).
inline uint16_t ipv4_header_checksum(const uint8_t* ip, size_t ihl) {
  uint32_t s = csum_add(0, ip, 10);
  s = csum_add(s, ip + 12, ihl - 12);
  return static_cast<uint16_t>(~csum_fold(s));
}

class PacketBuilder {
 public:
  PacketBuilder& eth(const Mac& dst = kMacB, const Mac& src = kMacA) {
    put(dst.data(), 6);
    put(src.data(), 6);
    type_slot_ = static_cast<int>(f_.size());
    put16(0);
    return *this;
  }
  // One VLAN tag; call twice for QinQ (outer first).
  PacketBuilder& vlan(uint16_t tci, uint16_t tpid = 0x8100) {
    link_type(tpid);
    put16(tci);
    type_slot_ = static_cast<int>(f_.size());
    put16(0);
    return *this;
  }
  // Writes the pending ethertype/length field explicitly.
  PacketBuilder& ethertype(uint16_t type) {
    link_type(type);
    return *this;
  }
  PacketBuilder& mpls(uint32_t label, uint8_t tc = 0, bool bos = true, uint8_t ttl = 64) {
    link_type(0x8847);
    put32(label << 12 | (tc & 7u) << 9 | (bos ? 1u : 0u) << 8 | ttl);
    return *this;
  }
  // An IEEE 802.1ah I-TAG (ethertype 0x88e7: I-PCP, I-DEI, UCA, reserved,
  // I-SID) and the customer frame's C-DA, C-SA; the layers after it are the
  // customer frame's (vlan, ipv4, ...).
  PacketBuilder& pbb(uint32_t isid, const Mac& c_dst = kMacB, const Mac& c_src = kMacA,
                     uint8_t pcp = 0, bool dei = false, bool uca = false) {
    link_type(0x88e7);
    put32(uint32_t{pcp & 7u} << 29 | (dei ? 1u : 0u) << 28 | (uca ? 1u : 0u) << 27 | (isid & 0xffffff));
    put(c_dst.data(), 6);
    put(c_src.data(), 6);
    type_slot_ = static_cast<int>(f_.size());
    put16(0);
    return *this;
  }
  PacketBuilder& arp(uint16_t op, const Mac& sha, const char* spa, const Mac& tha,
                     const char* tpa) {
    link_type(0x0806);
    l3_ = f_.size();
    put16(1);
    put16(0x0800);
    put8(6);
    put8(4);
    put16(op);
    put(sha.data(), 6);
    uint32_t a = ip4(spa);
    put(&a, 4);
    put(tha.data(), 6);
    a = ip4(tpa);
    put(&a, 4);
    return *this;
  }
  PacketBuilder& ipv4(const char* src, const char* dst, const Ipv4Opts& o = {}) {
    link_type(0x0800);
    const size_t off = f_.size();
    l3_ = off;
    put8(static_cast<uint8_t>(0x40 | (5 + o.options_len / 4)));
    put8(o.tos);
    put16(0);  // total length: build()
    put16(o.id);
    put16(static_cast<uint16_t>((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) |
                                (o.frag_offset & 0x1fff)));
    put8(o.ttl);
    proto_slot_ = static_cast<int>(f_.size());
    put8(o.proto >= 0 ? static_cast<uint8_t>(o.proto) : 253);
    if (o.proto >= 0) proto_slot_ = -1;
    put16(0);  // checksum: build()
    uint32_t a = ip4(src);
    put(&a, 4);
    a = ip4(dst);
    put(&a, 4);
    for (int i = 0; i < o.options_len; i++) put8(1);  // NOP
    layers_.push_back({Kind::kIpv4, off, 0});
    return *this;
  }
  PacketBuilder& ipv6(const char* src, const char* dst, const Ipv6Opts& o = {}) {
    link_type(0x86dd);
    const size_t off = f_.size();
    l3_ = off;
    put32(6u << 28 | static_cast<uint32_t>(o.tclass) << 20 | (o.flow_label & 0xfffff));
    put16(0);  // payload length: build()
    proto_slot_ = static_cast<int>(f_.size());
    put8(o.next_header >= 0 ? static_cast<uint8_t>(o.next_header) : 59);
    if (o.next_header >= 0) proto_slot_ = -1;
    put8(o.hop_limit);
    Ip6 a = ip6(src);
    put(a.data(), 16);
    a = ip6(dst);
    put(a.data(), 16);
    layers_.push_back({Kind::kIpv6, off, 0});
    return *this;
  }
  // IPv6 extension header: hop-by-hop (0), routing (43), destination (60) or
  // authentication (51), `bytes` long in all (a multiple of 8; of 4 for AH).
  PacketBuilder& ipv6_ext(uint8_t type, uint16_t bytes = 8) {
    link_proto(type);
    proto_slot_ = static_cast<int>(f_.size());
    put8(59);
    put8(static_cast<uint8_t>(type == 51 ? bytes / 4 - 2 : bytes / 8 - 1));
    for (int i = 2; i < bytes; i++) put8(type == 0 || type == 60 ? (i == 2 ? 1 : 0) : 0);
    if (type == 0 || type == 60) f_[f_.size() - bytes + 3] = static_cast<uint8_t>(bytes - 4);
    return *this;  // (hop-by-hop/destination: one PadN option filling the header)
  }
  PacketBuilder& ipv6_frag(uint16_t offset_units, bool more, uint32_t id = 1) {
    link_proto(44);
    proto_slot_ = static_cast<int>(f_.size());
    put8(59);
    put8(0);
    put16(static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
    put32(id);
    return *this;
  }
  PacketBuilder& ipv6_esp(uint32_t spi = 0x100) {
    link_proto(50);
    put32(spi);
    put32(1);  // sequence number
    return *this;
  }
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = 0x02, const TcpOpts& o = {}) {
    link_proto(6);
    const size_t off = begin_l4();
    put16(sport);
    put16(dport);
    put32(o.seq);
    put32(o.ack);
    put16(static_cast<uint16_t>((5 + o.options_len / 4) << 12 | flags));
    put16(o.window);
    put16(0);  // checksum
    put16(0);  // urgent pointer
    for (int i = 0; i < o.options_len; i++) put8(1);
    layers_.push_back({Kind::kTcp, off, 16});
    return *this;
  }
  PacketBuilder& udp(uint16_t sport, uint16_t dport, bool checksum = true) {
    link_proto(17);
    const size_t off = begin_l4();
    put16(sport);
    put16(dport);
    put16(0);  // length
    put16(0);  // checksum
    layers_.push_back({checksum ? Kind::kUdp : Kind::kUdpNoCsum, off, 6});
    return *this;
  }
  PacketBuilder& sctp(uint16_t sport, uint16_t dport, uint32_t vtag = 0x11223344) {
    link_proto(132);
    const size_t off = begin_l4();
    put16(sport);
    put16(dport);
    put32(vtag);
    put32(0);  // CRC32C
    layers_.push_back({Kind::kSctp, off, 8});
    return *this;
  }
  PacketBuilder& icmp(uint8_t type, uint8_t code, uint32_t rest = 0x00010001) {
    return icmp_header(1, Kind::kIcmp, type, code, rest);
  }
  PacketBuilder& icmp6(uint8_t type, uint8_t code, uint32_t rest = 0) {
    return icmp_header(58, Kind::kIcmp6, type, code, rest);
  }
  // Neighbor Solicitation (135) / Advertisement (136) with optional
  // source (SLL) / target (TLL) link-layer address options.
  PacketBuilder& nd(uint8_t type, const char* target, std::optional<Mac> sll = {},
                    std::optional<Mac> tll = {}) {
    icmp6(type, 0, type == 136 ? 0x60000000u : 0u);
    Ip6 t = ip6(target);
    put(t.data(), 16);
    if (sll) {
      put8(1);
      put8(1);
      put(sll->data(), 6);
    }
    if (tll) {
      put8(2);
      put8(1);
      put(tll->data(), 6);
    }
    return *this;
  }
  PacketBuilder& payload(size_t n, uint8_t fill = 0xa5) {
    f_.insert(f_.end(), n, fill);
    return *this;
  }
  PacketBuilder& bytes(const std::vector<uint8_t>& b) {
    put(b.data(), b.size());
    return *this;
  }
  // Ethernet padding: bytes after the datagram, outside every IP length.
  PacketBuilder& pad(size_t n) {
    if (!ip_end_) ip_end_ = f_.size();
    f_.insert(f_.end(), n, 0);
    return *this;
  }

  std::vector<uint8_t> build() {
    std::vector<uint8_t> f = f_;
    const size_t end = ip_end_ ? *ip_end_ : f.size();
    if (type_slot_ >= 0) set16(f, static_cast<size_t>(type_slot_), 0x88b5);  // local experimental
    for (const Layer& l : layers_) {
      if (l.kind == Kind::kIpv4)
        set16(f, l.off + 2, static_cast<uint16_t>(end - l.off));
      else if (l.kind == Kind::kIpv6)
        set16(f, l.off + 4, static_cast<uint16_t>(end - l.off - 40));
      else if (l.kind == Kind::kUdp || l.kind == Kind::kUdpNoCsum)
        set16(f, l.off + 4, static_cast<uint16_t>(end - l.off));
    }
    for (const Layer& l : layers_) {
      if (l.kind == Kind::kIpv4 || l.kind == Kind::kIpv6 || l.kind == Kind::kUdpNoCsum) continue;
      const uint8_t* seg = f.data() + l.off;
      const size_t seg_len = end - l.off;
      if (l.kind == Kind::kSctp) {
        uint32_t crc = crc32c_bitwise(seg, seg_len);
        std::memcpy(&f[l.off + 8], &crc, 4);  // little-endian on the wire (RFC 4960 B)
        continue;
      }
      uint32_t s = csum_add(0, seg, seg_len);
      if (l.kind != Kind::kIcmp) s += pseudo_sum(f, l, seg_len);
      uint16_t c = static_cast<uint16_t>(~csum_fold(s));
      if (c == 0 && l.kind == Kind::kUdp) c = 0xffff;
      set16(f, l.off + l.csum_at, c);
    }
    for (const Layer& l : layers_) {
      if (l.kind != Kind::kIpv4) continue;
      const size_t ihl = (f[l.off] & 0x0f) * 4u;
      set16(f, l.off + 10, ipv4_header_checksum(&f[l.off], ihl));
    }
    return f;
  }

  size_t l3_offset() const { return l3_; }
  size_t l4_offset() const { return l4_; }

 private:
  enum class Kind { kIpv4, kIpv6, kTcp, kUdp, kUdpNoCsum, kSctp, kIcmp, kIcmp6 };
  struct Layer {
    Kind kind;
    size_t off;
    size_t csum_at;  // checksum offset within the L4 header
  };

  void put(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; i++) f_.push_back(b[i]);  // (insert() trips GCC 12 -Wstringop-overflow)
  }
  void put8(uint8_t v) { f_.push_back(v); }
  void put16(uint16_t v) {
    put8(static_cast<uint8_t>(v >> 8));
    put8(static_cast<uint8_t>(v));
  }
  void put32(uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v));
  }
  static void set16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
  }
  void link_type(uint16_t t) {
    if (type_slot_ >= 0) set16(f_, static_cast<size_t>(type_slot_), t);
    type_slot_ = -1;
  }
  void link_proto(uint8_t p) {
    if (proto_slot_ >= 0) f_[static_cast<size_t>(proto_slot_)] = p;
    proto_slot_ = -1;
  }
  size_t begin_l4() {
    l4_ = f_.size();
    return l4_;
  }
  // ICMP and ICMPv6 share the header: type, code, checksum, 4 bytes rest.
  PacketBuilder& icmp_header(uint8_t proto, Kind kind, uint8_t type, uint8_t code, uint32_t rest) {
    link_proto(proto);
    const size_t off = begin_l4();
    put8(type);
    put8(code);
    put16(0);
    put32(rest);
    layers_.push_back({kind, off, 2});
    return *this;
  }
  // Pseudo-header sum for the L4 layer l from its nearest enclosing IP layer.
  uint32_t pseudo_sum(const std::vector<uint8_t>& f, const Layer& l, size_t seg_len) const {
    const Layer* ip = nullptr;
    for (const Layer& x : layers_) {
      if (x.off >= l.off) break;
      if (x.kind == Kind::kIpv4 || x.kind == Kind::kIpv6) ip = &x;
    }
    if (!ip) return 0;
    const uint8_t proto = l.kind == Kind::kTcp ? 6 : l.kind == Kind::kIcmp6 ? 58
                          : l.kind == Kind::kSctp ? 132 : 17;
    if (ip->kind == Kind::kIpv4) {
      uint32_t s = csum_add(0, &f[ip->off + 12], 8);
      return s + proto + static_cast<uint32_t>(seg_len);
    }
    uint32_t s = csum_add(0, &f[ip->off + 8], 32);
    return s + proto + static_cast<uint32_t>(seg_len >> 16) + static_cast<uint32_t>(seg_len & 0xffff);
  }

  std::vector<uint8_t> f_;
  std::vector<Layer> layers_;
  int type_slot_ = -1;   // ethertype field waiting for the next layer
  int proto_slot_ = -1;  // IPv4 protocol / IPv6 next header waiting for the next layer
  std::optional<size_t> ip_end_;
  size_t l3_ = 0;
  size_t l4_ = 0;
};

// --- ready-made frames --------------------------------------------------------

// The fields of udp_frame(); designated initializers name what a test
// changes: udp_frame({.dst_ip = "10.1.2.3", .dport = 53}).
struct UdpFrame {
  const char* src_mac = "02:00:00:00:00:01";
  const char* dst_mac = "02:00:00:00:00:02";
  const char* src_ip = "10.0.0.1";
  const char* dst_ip = "10.0.0.2";
  uint16_t sport = 1000;
  uint16_t dport = 80;
  size_t payload = 18;
};

// Ethernet / IPv4 / UDP with a payload of 0xa5 bytes (64 bytes by default).
inline std::vector<uint8_t> udp_frame(const UdpFrame& f = {}) {
  return PacketBuilder()
      .eth(mac(f.dst_mac), mac(f.src_mac))
      .ipv4(f.src_ip, f.dst_ip)
      .udp(f.sport, f.dport)
      .payload(f.payload)
      .build();
}

// --- independent verifier --------------------------------------------------

namespace detail {
inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

inline std::string l4_errors(const uint8_t* l4, size_t n, uint8_t proto, uint32_t pseudo,
                             bool ipv6) {
  char msg[160];
  auto check = [&](const char* what, size_t csum_at, uint32_t pseudo_part) -> std::string {
    if (n < csum_at + 2) return std::string(what) + " header truncated";
    uint32_t s = csum_add(pseudo_part, l4, n);
    if (csum_fold(s) == 0xffff) return "";
    uint32_t s0 = pseudo_part + csum_add(0, l4, csum_at) + csum_add(0, l4 + csum_at + 2, n - csum_at - 2);
    std::snprintf(msg, sizeof msg, "%s checksum 0x%04x, expected 0x%04x", what,
                  rd16(l4 + csum_at), static_cast<uint16_t>(~csum_fold(s0)));
    return msg;
  };
  switch (proto) {
    case 6: return check("tcp", 16, pseudo + 6 + static_cast<uint32_t>(n));
    case 17:
      if (n >= 8 && rd16(l4 + 6) == 0) return ipv6 ? "udp checksum 0 in IPv6" : "";
      if (n >= 8 && rd16(l4 + 4) != n) {
        std::snprintf(msg, sizeof msg, "udp length %u, expected %zu", rd16(l4 + 4), n);
        return msg;
      }
      return check("udp", 6, pseudo + 17 + static_cast<uint32_t>(n));
    case 1: return ipv6 ? "" : check("icmp", 2, 0);
    case 58: return check("icmpv6", 2, pseudo + 58 + static_cast<uint32_t>(n));
    case 132: {
      if (n < 12) return "sctp header truncated";
      std::vector<uint8_t> c(l4, l4 + n);
      std::memset(&c[8], 0, 4);
      uint32_t want = crc32c_bitwise(c.data(), n);
      uint32_t got;
      std::memcpy(&got, l4 + 8, 4);
      if (got == want) return "";
      std::snprintf(msg, sizeof msg, "sctp crc32c 0x%08x, expected 0x%08x", got, want);
      return msg;
    }
    default: return "";
  }
}
}  // namespace detail

// "" when the IPv4 header checksum and the TCP/UDP/ICMP/ICMPv6/SCTP checksum
// of the frame are valid (or absent: non-IP frames, UDP checksum 0 over
// IPv4, fragments); otherwise what is wrong. Under an MPLS label stack the
// payload is IP by its version nibble (4 or 6).
inline std::string checksum_errors(const uint8_t* p, size_t len) {
  using detail::rd16;
  if (len < 14) return "";
  size_t off = 12;
  uint16_t type = rd16(p + off);
  while ((type == 0x8100 || type == 0x88a8) && off + 6 <= len) {
    off += 4;
    type = rd16(p + off);
  }
  off += 2;
  if (type == 0x88e7)  // 802.1ah: the customer frame behind the I-TAG, from its C-DA
    return off + 4 < len ? checksum_errors(p + off + 4, len - off - 4) : "";
  if (type == 0x8847 || type == 0x8848) {  // a label stack: the IP version after its bottom
    while (off + 4 <= len && !(p[off + 2] & 1)) off += 4;
    off += 4;
    if (off >= len) return "";
    type = (p[off] >> 4) == 4 ? 0x0800 : (p[off] >> 4) == 6 ? 0x86dd : 0;
  }
  const uint8_t* ip = p + off;
  const size_t n = len - off;
  char msg[160];
  if (type == 0x0800) {
    if (n < 20) return "ipv4 header truncated";
    const size_t ihl = (ip[0] & 0x0f) * 4u;
    const size_t tot = rd16(ip + 2);
    if (ihl < 20 || ihl > n || tot < ihl || tot > n) return "ipv4 lengths inconsistent";
    if (csum_fold(csum_add(0, ip, ihl)) != 0xffff) {
      std::snprintf(msg, sizeof msg, "ipv4 header checksum 0x%04x, expected 0x%04x", rd16(ip + 10),
                    ipv4_header_checksum(ip, ihl));
      return msg;
    }
    if (rd16(ip + 6) & 0x3fff) return "";  // fragment
    return detail::l4_errors(ip + ihl, tot - ihl, ip[9], csum_add(0, ip + 12, 8), false);
  }
  if (type == 0x86dd) {
    if (n < 40) return "ipv6 header truncated";
    const size_t plen = rd16(ip + 4);
    if (plen + 40 > n) return "ipv6 payload length exceeds frame";
    uint8_t nh = ip[6];
    size_t at = 40;
    const size_t end = 40 + plen;
    while (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 44) {
      if (at + 8 > end) return "ipv6 extension header truncated";
      if (nh == 44 && (rd16(ip + at + 2) & 0xfff9)) return "";  // fragment
      const size_t hl = nh == 44 ? 8 : nh == 51 ? (ip[at + 1] + 2u) * 4 : (ip[at + 1] + 1u) * 8;
      nh = ip[at];
      at += hl;
      if (at > end) return "ipv6 extension header truncated";
    }
    const size_t l4n = end - at;
    // l4_errors adds the protocol and the length to the address sum.
    return detail::l4_errors(ip + at, l4n, nh, csum_add(0, ip + 8, 32), true);
  }
  return "";
}

inline std::string checksum_errors(const std::vector<uint8_t>& f) {
  return checksum_errors(f.data(), f.size());
}

}  // namespace dps::test
