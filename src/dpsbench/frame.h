// frame.h - dpsbench frames: per-flow header templates, the payload tag, and
// the receive-side tag parser.
//
// What: FrameBuilder turns a TrafficProfile into one pre-built template per
// flow (Ethernet, 0-2 VLAN tags, IPv4 or IPv6, UDP, payload tag) and writes a
// frame of any of the profile's sizes from it. find_tag() locates and decodes
// the tag in a received frame.
//
// Design: the tag (kTagLen = 14 bytes, right after the UDP header) is
//   magic 0xD5B7 (2, big-endian) | stream id (2, big-endian) |
//   sequence (4, little-endian) | TSC bits 0..47 (6, little-endian).
// 14 bytes so a 64-byte frame carries it even with one VLAN tag over IPv4.
// The stream id is the sending port's index; the sequence counts per stream.
// The tx loop copies a fixed 96-byte template slot (headers + tag + zero
// padding), stores the two length fields for the frame size, the sequence and
// the timestamp, and finishes both checksums from partial sums kept in the
// template: IPv4 header checksum = ~(base + total_length) and the UDP
// checksum = ~(base + 2 * udp_length + tag words) -- full, valid UDP
// checksums for IPv4 and IPv6 at the cost of about ten additions per frame.
// The payload beyond the tag must be zero (the checksum assumes it): the
// engine zeroes its tx pool's data rooms once at creation and nothing else
// ever writes into them.
//
// Thread-safety: a FrameBuilder is immutable after construction; any number
// of threads may call write() concurrently.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "profile.h"

namespace dps::dpsbench {

// Header sizes as DPDK defines them (IPv4 without options).
inline constexpr unsigned kEthHdrLen = sizeof(rte_ether_hdr);
inline constexpr unsigned kVlanHdrLen = sizeof(rte_vlan_hdr);
inline constexpr unsigned kIpv4HdrLen = sizeof(rte_ipv4_hdr);
inline constexpr unsigned kIpv6HdrLen = sizeof(rte_ipv6_hdr);
inline constexpr unsigned kUdpHdrLen = sizeof(rte_udp_hdr);
static_assert(kEthHdrLen == 14 && kVlanHdrLen == 4 && kIpv4HdrLen == 20 && kIpv6HdrLen == 40 &&
              kUdpHdrLen == 8);
inline constexpr unsigned kTagLen = 14;
inline constexpr uint16_t kTagMagic = 0xD5B7;
// Largest headers + tag: 14 + 2*4 + 40 + 8 + 14 = 84, rounded up to whole
// 32-byte AVX moves so the copy is three unaligned stores.
inline constexpr unsigned kTemplateBytes = 96;

struct alignas(64) FlowTemplate {
  uint8_t bytes[kTemplateBytes];  // headers + tag (seq/tsc 0) + zero padding
  uint32_t ip_sum;                // IPv4 header sum without total length
  uint32_t udp_sum;               // pseudo header + UDP + tag sum, lengths and seq/tsc left out
};
static_assert(sizeof(FlowTemplate) == 128);

// One frame size of the profile, with its length fields pre-swapped.
struct SizeInfo {
  uint16_t data_len;    // frame size minus FCS: the mbuf's length
  uint16_t l3_len_be;   // IPv4 total length / IPv6 payload length, big-endian
  uint16_t udp_len_be;  // UDP length, big-endian
};

// Decoded payload tag.
struct Tag {
  uint16_t stream;
  uint32_t seq;
  uint64_t tsc48;  // low 48 bits of the sender's TSC
};

// Ones'-complement folding of a 64-bit accumulator of native 16-bit words.
inline uint16_t fold_sum(uint64_t s) {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// Sum of native 16-bit words over [p, p+len); len even.
inline uint64_t raw_sum(const uint8_t* p, unsigned len) {
  uint64_t s = 0;
  for (unsigned i = 0; i + 1 < len; i += 2) {
    uint16_t w;
    std::memcpy(&w, p + i, 2);
    s += w;
  }
  return s;
}

class FrameBuilder {
 public:
  // Throws ProfileError if the profile does not validate.
  FrameBuilder(const TrafficProfile& profile, uint16_t stream);

  uint32_t n_flows() const { return static_cast<uint32_t>(templates_.size()); }
  const std::vector<SizeInfo>& sizes() const { return sizes_; }
  unsigned l2_len() const { return l3_off_; }
  unsigned tag_offset() const { return tag_off_; }
  uint16_t stream() const { return stream_; }

  // Writes a frame of sizes()[size_idx] for `flow` into dst (room for at
  // least max(data_len, kTemplateBytes) bytes, payload already zero).
  // Hot path: no branches beyond the IPv4/IPv6 one, no allocation.
  inline void write(uint8_t* dst, uint32_t flow, const SizeInfo& sz, uint32_t seq, uint64_t tsc) const;

  // Builds the complete frame (zero payload) into a fresh vector (tests, control).
  std::vector<uint8_t> build(uint32_t flow, unsigned size_idx, uint32_t seq, uint64_t tsc) const;

 private:
  std::vector<FlowTemplate> templates_;
  std::vector<SizeInfo> sizes_;
  unsigned l3_off_ = 0, l4_off_ = 0, tag_off_ = 0;
  bool ipv6_ = false;
  uint16_t stream_ = 0;
};

inline void FrameBuilder::write(uint8_t* dst, uint32_t flow, const SizeInfo& sz, uint32_t seq,
                                uint64_t tsc) const {
  const FlowTemplate& t = templates_[flow];
  std::memcpy(dst, t.bytes, kTemplateBytes);
  if (ipv6_) {
    std::memcpy(dst + l3_off_ + 4, &sz.l3_len_be, 2);
  } else {
    std::memcpy(dst + l3_off_ + 2, &sz.l3_len_be, 2);
    uint16_t ip_csum = static_cast<uint16_t>(~fold_sum(uint64_t{t.ip_sum} + sz.l3_len_be));
    std::memcpy(dst + l3_off_ + 10, &ip_csum, 2);
  }
  std::memcpy(dst + l4_off_ + 4, &sz.udp_len_be, 2);
  std::memcpy(dst + tag_off_ + 4, &seq, 4);
  std::memcpy(dst + tag_off_ + 8, &tsc, 6);  // little-endian: the low 48 bits
  uint64_t s = uint64_t{t.udp_sum} + 2u * sz.udp_len_be + (seq & 0xffff) + (seq >> 16) +
               (tsc & 0xffff) + ((tsc >> 16) & 0xffff) + ((tsc >> 32) & 0xffff);
  uint16_t udp_csum = static_cast<uint16_t>(~fold_sum(s));
  if (udp_csum == 0) udp_csum = 0xffff;  // RFC 768: 0 means "no checksum"
  std::memcpy(dst + l4_off_ + 6, &udp_csum, 2);
}

// Locates the tag in a received frame: Ethernet, up to two 802.1Q/802.1ad
// tags, IPv4 (any IHL, not a later fragment) or IPv6 (UDP as next header),
// UDP, then the magic. Returns false for anything else.
inline bool find_tag(const uint8_t* p, uint32_t len, Tag* tag) {
  uint32_t off = 12;
  if (len < kEthHdrLen + kIpv4HdrLen + kUdpHdrLen + kTagLen) return false;
  uint16_t type = static_cast<uint16_t>(p[off] << 8 | p[off + 1]);
  for (int i = 0; i < 2 && (type == 0x8100 || type == 0x88a8); i++) {
    off += 4;
    type = static_cast<uint16_t>(p[off] << 8 | p[off + 1]);
  }
  off += 2;
  if (type == 0x0800) {
    if (off + kIpv4HdrLen > len || p[off + 9] != 17) return false;
    if ((p[off + 6] & 0x1f) | p[off + 7]) return false;  // fragment offset != 0
    off += (p[off] & 0x0f) * 4u;
  } else if (type == 0x86dd) {
    if (off + kIpv6HdrLen > len || p[off + 6] != 17) return false;
    off += kIpv6HdrLen;
  } else {
    return false;
  }
  off += kUdpHdrLen;
  if (off + kTagLen > len || p[off] != (kTagMagic >> 8) || p[off + 1] != (kTagMagic & 0xff)) return false;
  tag->stream = static_cast<uint16_t>(p[off + 2] << 8 | p[off + 3]);
  std::memcpy(&tag->seq, p + off + 4, 4);
  // Two loads combined in registers: a 6-byte memcpy into a zeroed uint64_t
  // compiles to two narrow stack stores and one wide reload, a failed store
  // forward that cost about half of the receive loop.
  uint32_t lo;
  uint16_t hi;
  std::memcpy(&lo, p + off + 8, 4);
  std::memcpy(&hi, p + off + 12, 2);
  tag->tsc48 = uint64_t{lo} | uint64_t{hi} << 32;
  return true;
}

}  // namespace dps::dpsbench
