// tnl_frames.h - tunnel frames for the datapath tests: VXLAN, Geneve and
// GRE packets around an inner frame (PacketBuilder), a kTnlPush action list
// with a complete template, and pop(): tnl_pop_parse + strip on a copy.
#pragma once

#include <catch2/catch.hpp>

#include <vector>

#include "actions.h"
#include "dp_test_util.h"
#include "packet_builder.h"
#include "tunnel_actions.h"

namespace dps::test {

using namespace datapath;  // NOLINT: test helpers over the datapath's vocabulary

inline constexpr uint32_t kTunnelPort = 5;

inline std::vector<uint8_t> inner_frame(const char* dst = "10.1.0.2", uint16_t sport = 1000) {
  return PacketBuilder().eth().ipv4("10.1.0.1", dst).udp(sport, 53).payload(30).build();
}

inline std::vector<uint8_t> vxlan_hdr(uint32_t vni, uint8_t flags = 0x08) {
  return {flags, 0, 0, 0, static_cast<uint8_t>(vni >> 16), static_cast<uint8_t>(vni >> 8),
          static_cast<uint8_t>(vni), 0};
}

inline std::vector<uint8_t> geneve_hdr(uint32_t vni, const std::vector<uint8_t>& opts, bool oam = false,
                                uint16_t proto = 0x6558) {
  std::vector<uint8_t> h = {static_cast<uint8_t>(opts.size() / 4), static_cast<uint8_t>(oam ? 0x80 : 0),
                            static_cast<uint8_t>(proto >> 8), static_cast<uint8_t>(proto),
                            static_cast<uint8_t>(vni >> 16), static_cast<uint8_t>(vni >> 8),
                            static_cast<uint8_t>(vni), 0};
  for (uint8_t b : opts) h.push_back(b);  // (insert() of an empty range: a GCC 12 false -Wstringop-overflow)
  return h;
}

inline std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline std::vector<uint8_t> vxlan_frame(uint32_t vni, const std::vector<uint8_t>& inner, bool udp_csum = false,
                                 Ipv4Opts o = {}) {
  return PacketBuilder().eth().ipv4("192.168.1.1", "192.168.1.2", o).udp(40000, 4789, udp_csum)
      .bytes(cat(vxlan_hdr(vni), inner)).build();
}

// GRE with the given flags (C 0x8000, K 0x2000, S 0x1000); the checksum
// is computed when C is set.
inline std::vector<uint8_t> gre_frame(uint16_t flags, uint32_t key, const std::vector<uint8_t>& inner,
                               uint16_t proto = 0x6558) {
  std::vector<uint8_t> g = {static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags),
                            static_cast<uint8_t>(proto >> 8), static_cast<uint8_t>(proto)};
  if (flags & 0x8000) g.insert(g.end(), 4, 0);
  if (flags & 0x2000)
    for (int s = 24; s >= 0; s -= 8) g.push_back(static_cast<uint8_t>(key >> s));
  if (flags & 0x1000) g.insert(g.end(), {0, 0, 0, 7});
  g = cat(g, inner);
  if (flags & 0x8000) {
    const uint16_t c = static_cast<uint16_t>(~csum_fold(csum_add(0, g.data(), g.size())));
    g[4] = static_cast<uint8_t>(c >> 8);
    g[5] = static_cast<uint8_t>(c);
  }
  Ipv4Opts o;
  o.proto = kIpProtoGre;
  return PacketBuilder().eth().ipv4("192.168.1.1", "192.168.1.2", o).bytes(g).build();
}

struct Popped {
  TnlPopError err;
  uint32_t hdr_len = 0;
  TnlMd md;
  std::vector<uint8_t> inner;
};

inline Popped pop(const std::vector<uint8_t>& frame, TunnelType type) {
  FakeMbuf m(frame);
  Popped r;
  r.err = tnl_pop_parse(&m.m, type, &r.hdr_len, &r.md);
  if (r.err == TnlPopError::kNone) {
    tnl_pop_strip(&m.m, r.hdr_len, r.md.inner_len);
    r.inner = m.bytes();
  }
  r.md.opts = nullptr;  // pointed into m
  return r;
}

// A kTnlPush action list: the template is a complete outer header whose
// lengths and checksums tnl_push overwrites.
inline DpActions push_actions(TunnelType type, bool v6, uint8_t flags, uint32_t out_port, uint16_t mtu = 1500) {
  PacketBuilder b;
  b.eth();
  if (v6) {
    b.ipv6("fd00::1", "fd00::2");
  } else {
    Ipv4Opts o;
    o.df = true;
    o.id = 0;
    if (type == TunnelType::kGre) o.proto = kIpProtoGre;
    b.ipv4("192.168.1.1", "192.168.1.2", o);
  }
  std::vector<uint8_t> tail;
  if (type == TunnelType::kGre) {
    tail = flags & kTnlGreCsum ? std::vector<uint8_t>{0x80, 0, 0x65, 0x58, 0, 0, 0, 0}
                               : std::vector<uint8_t>{0, 0, 0x65, 0x58};
    b.bytes(tail);
  } else {
    b.udp(0, type == TunnelType::kVxlan ? 4789 : 6081, false);
    b.bytes(type == TunnelType::kVxlan ? vxlan_hdr(42) : geneve_hdr(42, {}));
  }
  std::vector<uint8_t> h = b.build();
  if (!v6) {  // as ofproto's build_tnl_header: total length 0, checksum over it
    h[16] = h[17] = h[24] = h[25] = 0;
    const uint16_t c = ipv4_header_checksum(h.data() + 14, 20);
    h[24] = static_cast<uint8_t>(c >> 8);
    h[25] = static_cast<uint8_t>(c);
  }
  TnlPushInfo info;
  info.type = type;
  info.flags = static_cast<uint8_t>(flags | (v6 ? kTnlOuterIpv6 : 0));
  info.l3_ofs = 14;
  info.l4_ofs = static_cast<uint8_t>(v6 ? 54 : 34);
  info.mtu = mtu;
  DpActions a;
  REQUIRE(add_tnl_push(&a, info, h.data(), static_cast<uint16_t>(h.size()), out_port));
  return a;
}

}  // namespace dps::test
