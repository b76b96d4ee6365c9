// Packets for the conntrack tests: L3 buffers (the IP header first).
#pragma once

#include <cstdint>
#include <vector>

#include "conntrack.h"
#include "packet_builder.h"

namespace dps::test {

inline std::vector<uint8_t> l3_of(std::vector<uint8_t> frame) {
  frame.erase(frame.begin(), frame.begin() + 14);
  return frame;
}

inline std::vector<uint8_t> tcp4(const char* src, const char* dst, uint16_t sp, uint16_t dp,
                                 uint8_t flags, uint32_t seq, uint32_t ack, size_t payload = 0,
                                 uint16_t window = 8192) {
  TcpOpts o;
  o.seq = seq;
  o.ack = ack;
  o.window = window;
  return l3_of(PacketBuilder().eth().ipv4(src, dst).tcp(sp, dp, flags, o).payload(payload).build());
}

inline std::vector<uint8_t> udp4(const char* src, const char* dst, uint16_t sp, uint16_t dp) {
  return l3_of(PacketBuilder().eth().ipv4(src, dst).udp(sp, dp).payload(10).build());
}

inline std::vector<uint8_t> udp6(const char* src, const char* dst, uint16_t sp, uint16_t dp) {
  return l3_of(PacketBuilder().eth().ipv6(src, dst).udp(sp, dp).payload(10).build());
}

inline std::vector<uint8_t> icmp4(const char* src, const char* dst, uint8_t type, uint16_t id) {
  return l3_of(PacketBuilder().eth().ipv4(src, dst).icmp(type, 0, uint32_t{id} << 16 | 1).build());
}

// An ICMP error from `from` quoting the first 28 bytes of `quoted` (an L3
// buffer).
inline std::vector<uint8_t> icmp4_error(const char* from, const char* to, uint8_t type,
                                        uint8_t code, const std::vector<uint8_t>& quoted) {
  std::vector<uint8_t> q(quoted.begin(), quoted.begin() + std::min<size_t>(28, quoted.size()));
  return l3_of(PacketBuilder().eth().ipv4(from, to).icmp(type, code, 0).bytes(q).build());
}

// The ct() action as a test writes it.
inline conntrack::CtAction ct_act(bool commit, uint16_t zone = 0) {
  conntrack::CtAction a;
  a.commit = commit;
  a.zone = zone;
  return a;
}

// A table and one registered thread.
struct CtRig {
  explicit CtRig(conntrack::CtConfig cfg = {}) : ct(cfg), th(ct.register_thread()) {}
  uint8_t run(const std::vector<uint8_t>& p, bool commit = true, uint16_t zone = 0,
              int64_t now = 1000) {
    std::vector<uint8_t> copy = p;
    return run_act(&copy, ct_act(commit, zone), now);
  }
  // The packet as the action leaves it (NAT rewrites it).
  uint8_t run_act(std::vector<uint8_t>* p, const conntrack::CtAction& a, int64_t now = 1000) {
    last = ct.process(th, p->data(), p->size(), a, now);
    return last.state;
  }
  conntrack::Conntrack ct;
  conntrack::CtThread* th;
  conntrack::CtResult last;
};

// The ct_state combinations the tests expect most.
inline constexpr uint8_t kNewTrk = conntrack::kCsNew | conntrack::kCsTracked;
inline constexpr uint8_t kEstTrk = conntrack::kCsEstablished | conntrack::kCsTracked;
inline constexpr uint8_t kEstRpl = conntrack::kCsEstablished | conntrack::kCsReplyDir | conntrack::kCsTracked;
inline constexpr uint8_t kInvTrk = conntrack::kCsInvalid | conntrack::kCsTracked;

}  // namespace dps::test
