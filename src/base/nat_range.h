// nat_range.h - a NAT request as ct(nat(...)) carries it, shared by the
// OpenFlow layers (wire form, ovs-ofctl text), the datapath's ct action and
// the connection tracker.
//
// What: NatRange is Nicira's NXAST_NAT in plain form: source or
//   destination NAT (or neither: "apply the connection's NAT"), an optional
//   address range (IPv4 or IPv6) and port range, and the persistent / hash
//   / random flags. nat_format() and nat_parse() are ovs-ofctl's text form
//   ("nat(src=10.0.0.1-10.0.0.9:1024-2047,random)"), errors worded as OVS.
// Design: addresses in network order (IPv4 in the first 4 bytes), ports in
//   host order; a zero max means "the min alone", as on the wire.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dps::base {

// NX_NAT_F_* (as on the wire).
inline constexpr uint8_t kNatSrc = 1;
inline constexpr uint8_t kNatDst = 2;
inline constexpr uint8_t kNatPersistent = 4;
inline constexpr uint8_t kNatHash = 8;
inline constexpr uint8_t kNatRandom = 16;
inline constexpr uint8_t kNatFlagsMask = 31;

struct NatRange {
  uint8_t flags = 0;          // kNat*; neither src nor dst: an existing connection's NAT only
  uint8_t family = 0;         // 4 or 6: addresses given; 0: none
  uint8_t addr_min[16] = {};  // network order; IPv4 in the first 4 bytes
  uint8_t addr_max[16] = {};  // all zero: addr_min alone
  uint16_t port_min = 0;      // host order; 0: no port range
  uint16_t port_max = 0;      // 0: port_min alone
  bool operator==(const NatRange&) const = default;
};

// "nat" or "nat(src=...,random)", as ovs-ofctl prints it.
std::string nat_format(const NatRange& r);
// The text inside nat(...) (empty for a bare nat); an error text, or "" with
// *out set.
std::string nat_parse(std::string_view args, NatRange* out);

}  // namespace dps::base
