// ip_fragment.h - splits an IP datagram (L3 buffer, IP header first) into
// fragments as a host does: IPv4 with the header copied (MF, offset, total
// length, header checksum set); IPv6 with a fragment header after the
// unfragmentable part (IPv6 header, hop-by-hop, routing, destination
// options). Each fragment carries at most `mtu` bytes of IP packet.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "packet_builder.h"

namespace dps::test {

inline std::vector<std::vector<uint8_t>> fragment_ipv4(const std::vector<uint8_t>& p, size_t mtu, uint16_t id) {
  const size_t ihl = (p[0] & 0x0f) * 4u;
  const size_t chunk = (mtu - ihl) & ~size_t{7};
  std::vector<std::vector<uint8_t>> out;
  for (size_t off = 0; off < p.size() - ihl; off += chunk) {
    const size_t n = std::min(chunk, p.size() - ihl - off);
    std::vector<uint8_t> f(p.begin(), p.begin() + ihl);
    f.insert(f.end(), p.begin() + ihl + off, p.begin() + ihl + off + n);
    const bool more = off + n < p.size() - ihl;
    const uint16_t fo = static_cast<uint16_t>((p[6] & 0x40) << 8 | (more ? 0x2000 : 0) | off / 8);
    f[2] = static_cast<uint8_t>(f.size() >> 8);
    f[3] = static_cast<uint8_t>(f.size());
    f[4] = static_cast<uint8_t>(id >> 8);
    f[5] = static_cast<uint8_t>(id);
    f[6] = static_cast<uint8_t>(fo >> 8);
    f[7] = static_cast<uint8_t>(fo);
    f[10] = f[11] = 0;
    const uint16_t c = ipv4_header_checksum(f.data(), ihl);
    f[10] = static_cast<uint8_t>(c >> 8);
    f[11] = static_cast<uint8_t>(c);
    out.push_back(std::move(f));
  }
  return out;
}

inline std::vector<std::vector<uint8_t>> fragment_ipv6(const std::vector<uint8_t>& p, size_t mtu, uint32_t id) {
  size_t unfrag = 40, nh_off = 6;
  while (p[nh_off] == 0 || p[nh_off] == 43 || p[nh_off] == 60) {
    const size_t at = unfrag;
    unfrag += (p[at + 1] + 1u) * 8;
    nh_off = at;
  }
  const uint8_t next = p[nh_off];
  const size_t chunk = (mtu - unfrag - 8) & ~size_t{7};
  std::vector<std::vector<uint8_t>> out;
  for (size_t off = 0; off < p.size() - unfrag; off += chunk) {
    const size_t n = std::min(chunk, p.size() - unfrag - off);
    const bool more = off + n < p.size() - unfrag;
    std::vector<uint8_t> f(p.begin(), p.begin() + unfrag);
    f[nh_off] = 44;
    const uint16_t fo = static_cast<uint16_t>(off | (more ? 1 : 0));
    const uint8_t fh[8] = {next, 0, static_cast<uint8_t>(fo >> 8), static_cast<uint8_t>(fo),
                           static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                           static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    f.insert(f.end(), fh, fh + 8);
    f.insert(f.end(), p.begin() + unfrag + off, p.begin() + unfrag + off + n);
    f[4] = static_cast<uint8_t>((f.size() - 40) >> 8);
    f[5] = static_cast<uint8_t>(f.size() - 40);
    out.push_back(std::move(f));
  }
  return out;
}

inline std::vector<std::vector<uint8_t>> fragment_ip(const std::vector<uint8_t>& p, size_t mtu, uint32_t id) {
  return (p[0] >> 4) == 4 ? fragment_ipv4(p, mtu, static_cast<uint16_t>(id)) : fragment_ipv6(p, mtu, id);
}

}  // namespace dps::test
