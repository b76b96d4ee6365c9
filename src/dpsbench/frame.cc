#include "frame.h"

#include <algorithm>

namespace dps::dpsbench {
namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Adds `n` to a big-endian unsigned integer of `len` bytes (wrapping).
void add_be(uint8_t* p, unsigned len, uint64_t n) {
  for (int i = static_cast<int>(len) - 1; i >= 0 && n; i--) {
    uint64_t v = p[i] + (n & 0xff);
    p[i] = static_cast<uint8_t>(v);
    n = (n >> 8) + (v >> 8);
  }
}

}  // namespace

FrameBuilder::FrameBuilder(const TrafficProfile& prof, uint16_t stream)
    : ipv6_(prof.ipv6), stream_(stream) {
  prof.validate();
  l3_off_ = kEthHdrLen + kVlanHdrLen * static_cast<unsigned>(prof.vlans.size());
  l4_off_ = l3_off_ + (ipv6_ ? kIpv6HdrLen : kIpv4HdrLen);
  tag_off_ = l4_off_ + kUdpHdrLen;

  for (uint16_t s : prof.frame_sizes) {
    SizeInfo si;
    si.data_len = static_cast<uint16_t>(s - kFcsLen);
    uint16_t l3_len = static_cast<uint16_t>(si.data_len - l3_off_);
    uint16_t udp_len = static_cast<uint16_t>(si.data_len - l4_off_);
    si.l3_len_be = rte_cpu_to_be_16(ipv6_ ? udp_len : l3_len);
    si.udp_len_be = rte_cpu_to_be_16(udp_len);
    sizes_.push_back(si);
  }

  templates_.resize(prof.flows);
  for (uint32_t f = 0; f < prof.flows; f++) {
    // Mixed-radix digits of f (see profile.h).
    uint64_t digit[kNumFields];
    uint64_t rest = f;
    for (unsigned k = 0; k < kNumFields; k++) {
      uint64_t n = std::max<uint32_t>(1, prof.vary[k]);
      digit[k] = rest % n;
      rest /= n;
    }
    FlowTemplate& t = templates_[f];
    std::memset(&t, 0, sizeof t);
    uint8_t* p = t.bytes;
    std::memcpy(p, prof.dst_mac.data(), 6);
    add_be(p, 6, digit[static_cast<unsigned>(Field::kDstMac)]);
    std::memcpy(p + 6, prof.src_mac.data(), 6);
    add_be(p + 6, 6, digit[static_cast<unsigned>(Field::kSrcMac)]);
    unsigned off = 12;
    for (size_t i = 0; i < prof.vlans.size(); i++) {
      bool outer_qinq = prof.vlans.size() == 2 && i == 0;
      put16(p + off, outer_qinq ? 0x88a8 : 0x8100);
      put16(p + off + 2, static_cast<uint16_t>(prof.vlan_pcp << 13 | prof.vlans[i]));
      off += 4;
    }
    put16(p + off, ipv6_ ? 0x86dd : 0x0800);
    uint8_t* l3 = p + l3_off_;
    uint8_t* l4 = p + l4_off_;
    uint64_t pseudo;
    if (ipv6_) {
      l3[0] = 0x60;
      l3[6] = 17;   // next header: UDP
      l3[7] = 64;   // hop limit
      std::memcpy(l3 + 8, prof.src_ip6.bytes.data(), 16);
      add_be(l3 + 8, 16, digit[static_cast<unsigned>(Field::kSrcIp)]);
      std::memcpy(l3 + 24, prof.dst_ip6.bytes.data(), 16);
      add_be(l3 + 24, 16, digit[static_cast<unsigned>(Field::kDstIp)]);
      pseudo = raw_sum(l3 + 8, 32) + rte_cpu_to_be_16(17);
      t.ip_sum = 0;
    } else {
      l3[0] = 0x45;
      l3[6] = 0x40;  // don't fragment
      l3[8] = 64;    // TTL
      l3[9] = 17;    // UDP
      uint32_t src = prof.src_ip4 + static_cast<uint32_t>(digit[static_cast<unsigned>(Field::kSrcIp)]);
      uint32_t dst = prof.dst_ip4 + static_cast<uint32_t>(digit[static_cast<unsigned>(Field::kDstIp)]);
      put16(l3 + 12, static_cast<uint16_t>(src >> 16));
      put16(l3 + 14, static_cast<uint16_t>(src));
      put16(l3 + 16, static_cast<uint16_t>(dst >> 16));
      put16(l3 + 18, static_cast<uint16_t>(dst));
      t.ip_sum = static_cast<uint32_t>(raw_sum(l3, kIpv4HdrLen));  // length and checksum are 0
      pseudo = raw_sum(l3 + 12, 8) + rte_cpu_to_be_16(17);
    }
    put16(l4, static_cast<uint16_t>(prof.src_port + digit[static_cast<unsigned>(Field::kSrcPort)]));
    put16(l4 + 2, static_cast<uint16_t>(prof.dst_port + digit[static_cast<unsigned>(Field::kDstPort)]));
    uint8_t* tag = p + tag_off_;
    put16(tag, kTagMagic);
    put16(tag + 2, stream);
    // UDP length, checksum, sequence and timestamp are 0 here; write() adds them.
    t.udp_sum = fold_sum(pseudo + raw_sum(l4, kUdpHdrLen + kTagLen));
  }
}

std::vector<uint8_t> FrameBuilder::build(uint32_t flow, unsigned size_idx, uint32_t seq, uint64_t tsc) const {
  const SizeInfo& sz = sizes_.at(size_idx);
  std::vector<uint8_t> buf(std::max<unsigned>(sz.data_len, kTemplateBytes), 0);
  write(buf.data(), flow, sz, seq, tsc);
  buf.resize(sz.data_len);
  return buf;
}

}  // namespace dps::dpsbench
