// ct_tuple.h - the connection tracker's vocabulary: tuples, ct_state bits,
// timeouts.
//
// What: CtTuple is one direction of a connection as the tracker keys it
//   (zone, family, protocol, addresses, ports or ICMP id/type/code); the
//   other direction is ct_tuple_reverse() of it (no NAT yet). CtState are
//   OVS's CS_* bits as ct_state carries them in the flow key; CtTimeouts are
//   OVS's default userspace timeouts (lib/conntrack-private.h), per
//   protocol state.
// Design: a tuple is 44 bytes of plain data with no padding holes (IPv4
//   addresses in the first 4 bytes of src/dst, the rest zero), so equality is
//   memcmp and the hash reads 11 32-bit words.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace dps::conntrack {

// ct_state bits (OVS CS_*), as the FlowKey's ct_state byte holds them.
enum CtState : uint8_t {
  kCsNew = 0x01,
  kCsEstablished = 0x02,
  kCsRelated = 0x04,
  kCsReplyDir = 0x08,
  kCsInvalid = 0x10,
  kCsTracked = 0x20,
  kCsSrcNat = 0x40,
  kCsDstNat = 0x80,
};

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;

struct CtTuple {
  uint8_t src[16];     // IPv4: first 4 bytes, network order
  uint8_t dst[16];
  uint16_t sport;      // host order; ICMP echo: the id
  uint16_t dport;      // host order; ICMP echo: the id
  uint16_t zone;
  uint8_t proto;       // IP protocol
  uint8_t family;      // 4 or 6
  uint8_t icmp_type;   // ICMP/ICMPv6 only
  uint8_t icmp_code;
  uint8_t pad[2];      // zero
  bool operator==(const CtTuple& o) const { return std::memcmp(this, &o, sizeof o) == 0; }
};
static_assert(sizeof(CtTuple) == 44);

// The reply of an ICMP query type (echo 8 -> 0, timestamp 13 -> 14, info 15
// -> 16, ICMPv6 echo 128 -> 129), or the request of a reply; 0xff for
// anything else.
uint8_t ct_icmp_reverse_type(uint8_t family, uint8_t type);
// True for ICMP/ICMPv6 query requests that may start a connection.
bool ct_icmp_is_request(uint8_t family, uint8_t type);

// The other direction's tuple.
CtTuple ct_tuple_reverse(const CtTuple& t);
uint32_t ct_tuple_hash(const CtTuple& t);

// OVS's dump form of one direction: "src=A,dst=B,sport=P,dport=Q" (TCP, UDP,
// SCTP...) or "src=A,dst=B,id=I,type=T,code=C" (ICMP).
std::string ct_tuple_format(const CtTuple& t);
// "tcp", "udp", "icmp", "icmpv6" or the protocol number.
std::string ct_proto_name(uint8_t proto);

// A partial tuple for dpctl/flush-conntrack, in OVS's ct-tuple syntax:
// "ct_nw_src=A,ct_nw_dst=B,ct_nw_proto=P,ct_tp_src=S,ct_tp_dst=D"
// (ct_ipv6_src/dst for IPv6; icmp_id, icmp_type, icmp_code for ICMP). A
// connection matches when every field given equals its tuple's.
struct CtTupleFilter {
  enum Field : uint16_t {
    kSrc = 1, kDst = 2, kProto = 4, kSport = 8, kDport = 16, kIcmpId = 32, kIcmpType = 64, kIcmpCode = 128,
  };
  uint16_t fields = 0;
  CtTuple t{};  // the values; family set by the addresses (0: either)
};
bool ct_tuple_filter_match(const CtTupleFilter& f, const CtTuple& t);
// An error text, or "" with *out set.
std::string ct_tuple_filter_parse(const std::string& text, CtTupleFilter* out);

// Timeouts in milliseconds, OVS's defaults.
struct CtTimeouts {
  int64_t tcp_syn_sent = 30 * 1000;        // TCP_FIRST_PACKET
  int64_t tcp_opening = 30 * 1000;         // TCP_OPENING
  int64_t tcp_established = 24LL * 3600 * 1000;
  int64_t tcp_closing = 15 * 60 * 1000;    // TCP_CLOSING
  int64_t tcp_fin_wait = 45 * 1000;        // TCP_FIN_WAIT
  int64_t tcp_closed = 30 * 1000;          // TCP_CLOSED
  int64_t other_first = 60 * 1000;         // UDP / other IP
  int64_t other_multiple = 60 * 1000;
  int64_t other_bidir = 30 * 1000;
  int64_t icmp_first = 60 * 1000;
  int64_t icmp_reply = 30 * 1000;
};

}  // namespace dps::conntrack
