// ct_packet.h - what the connection tracker reads from a packet.
//
// What: ct_parse() turns a raw L3 buffer (IPv4 or IPv6 header first) into
//   a CtPacket: the packet's tuple, and for TCP the fields the window
//   tracker needs (seq, ack, window, flags, window-scale option, payload
//   length). An ICMP/ICMPv6 error (destination unreachable, time exceeded,
//   ...) is parsed down to its embedded header: its tuple is the reverse of
//   the embedded packet's, so it finds the connection the error is about.
// Design: every read is bounds-checked against the buffer length and the
//   IP length fields; a header that does not fit is kTruncated, a header
//   that cannot be right (IHL < 5, TCP data offset < 5, option lengths past
//   the header) is kMalformed, a non-first fragment (no L4 header) is
//   kFragment. The tracker marks all of them +trk+inv and counts them
//   (the datapath reassembles fragments before ct: ct_frag.h).
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ct_tuple.h"

namespace dps::conntrack {

enum class CtParse : uint8_t { kOk, kTruncated, kMalformed, kFragment, kNotIp };

// TCP window-scale byte (OVS CT_WSCALE_*): the shift in the low 4 bits.
inline constexpr uint8_t kWscaleFlag = 0x80;     // option present
inline constexpr uint8_t kWscaleUnknown = 0x40;  // connection picked up mid-stream
inline constexpr uint8_t kWscaleMask = 0x0f;
inline constexpr uint8_t kTcpMaxWscale = 14;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;

struct CtPacket {
  CtTuple tuple{};          // zone 0; the caller sets it
  bool icmp_error = false;  // tuple is the reversed embedded tuple
  // Where the headers are (byte offsets): L4 from the IP header, and for an
  // ICMP error the embedded packet's L4 from the embedded IP header (which
  // starts 8 bytes into the ICMP message). NAT rewrites through them.
  uint32_t l4_off = 0, l4_len = 0;
  uint32_t inner_l4_off = 0, inner_l4_len = 0;
  // TCP only
  uint32_t seq = 0, ack = 0;
  uint32_t payload_len = 0;
  uint16_t window = 0;      // unscaled, host order
  uint8_t tcp_flags = 0;
  uint8_t wscale = 0;       // kWscaleFlag | shift when the option is present
};

// l3 points at the IP header, len bytes of it are readable.
CtParse ct_parse(const uint8_t* l3, size_t len, CtPacket* out);

}  // namespace dps::conntrack
