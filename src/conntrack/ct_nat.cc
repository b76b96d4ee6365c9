#include "ct_nat.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "checksum.h"

namespace dps::conntrack {

namespace {

constexpr uint8_t kProtoDccp = 33;
constexpr uint8_t kProtoUdpLite = 136;

uint32_t rd32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// a + i as 128-bit (family 6) or 32-bit (family 4) big-endian numbers.
void addr_add(const uint8_t* a, uint32_t i, unsigned bytes, uint8_t* out) {
  std::memcpy(out, a, bytes);
  uint64_t carry = i;
  for (unsigned k = bytes; k-- > 0 && carry;) {
    const uint64_t v = out[k] + (carry & 0xff);
    out[k] = static_cast<uint8_t>(v);
    carry = (carry >> 8) + (v >> 8);
  }
}

// Addresses in [min, max] (max zero: min alone); UINT32_MAX when more.
uint32_t addr_count(const CtNatSpec& s) {
  static const uint8_t kZero[16] = {};
  const unsigned bytes = s.family == 6 ? 16 : 4;
  if (std::memcmp(s.addr_max, kZero, bytes) == 0) return 1;
  if (std::memcmp(s.addr_max, s.addr_min, bytes - 4) != 0) return UINT32_MAX;
  const uint32_t lo = rd32(s.addr_min + bytes - 4), hi = rd32(s.addr_max + bytes - 4);
  return hi < lo ? 1 : (hi - lo == UINT32_MAX ? UINT32_MAX : hi - lo + 1);
}

}  // namespace

bool nat_has_ports(uint8_t proto) { return proto == kProtoTcp || proto == kProtoUdp; }

NatCandidates::NatCandidates(const CtTuple& orig, const CtNatSpec& spec, uint32_t addr_seed,
                             uint32_t port_seed)
    : orig_(orig), spec_(spec), src_(spec.flags & kNatSrc) {
  if (spec.family) {
    n_addrs_ = addr_count(spec);
    addr_start_ = addr_seed % n_addrs_;
  }
  if (!nat_has_ports(orig.proto)) return;  // the port stays
  const uint16_t port = src_ ? orig.sport : orig.dport;
  if (spec.port_min) {
    port_lo_ = spec.port_min;
    port_hi_ = std::max(spec.port_min, spec.port_max);
    try_orig_port_ = port >= port_lo_ && port <= port_hi_;
  } else if (src_) {  // the original port, else one of its class
    port_lo_ = port < 512 ? 1 : port < 1024 ? 600 : 1024;
    port_hi_ = port < 512 ? 511 : port < 1024 ? 1023 : 65535;
  } else {
    return;  // DNAT without a port range: the destination port stays
  }
  walk_ports_ = true;
  port_start_ = port_seed % (port_hi_ - port_lo_ + 1u);
}

void NatCandidates::set_addr(uint32_t i, uint8_t* out) const {
  if (!spec_.family) {
    std::memcpy(out, src_ ? orig_.src : orig_.dst, 16);
    return;
  }
  const uint32_t k = static_cast<uint32_t>((uint64_t{addr_start_} + i) % n_addrs_);
  std::memset(out, 0, 16);
  addr_add(spec_.addr_min, k, spec_.family == 6 ? 16 : 4, out);
}

bool NatCandidates::next(CtTuple* reply) {
  const uint16_t orig_port = src_ ? orig_.sport : orig_.dport;
  const uint32_t range = walk_ports_ ? port_hi_ - port_lo_ + 1u : 0;
  while (attempts_ < kMaxAttempts && addr_i_ < n_addrs_) {
    uint16_t port = orig_port;
    if (!port_phase_) {
      port_phase_ = true;
      if (!try_orig_port_) continue;
    } else if (port_i_ < range) {
      port = static_cast<uint16_t>(port_lo_ + (port_start_ + port_i_++) % range);
      if (try_orig_port_ && port == orig_port) continue;
    } else {
      addr_i_++;
      port_phase_ = false;
      port_i_ = 0;
      continue;
    }
    attempts_++;
    *reply = ct_tuple_reverse(orig_);
    set_addr(addr_i_, src_ ? reply->dst : reply->src);
    if (nat_has_ports(orig_.proto)) (src_ ? reply->dport : reply->sport) = port;
    return true;
  }
  return false;
}

NatRewrite nat_rewrite_for(uint8_t nat, const CtTuple& orig, const CtTuple& reply, bool reply_dir,
                           uint8_t* state_bits) {
  NatRewrite rw;
  *state_bits = 0;
  const bool snat = nat & kCsSrcNat, dnat = nat & kCsDstNat;
  // Original direction: toward the reply tuple's view; reply: back to the
  // original's. A reply to a SNATed connection is destination-translated.
  if (!reply_dir ? snat : dnat) {
    rw.src = true;
    std::memcpy(rw.src_addr, !reply_dir ? reply.dst : orig.dst, 16);
    rw.sport = !reply_dir ? reply.dport : orig.dport;
    *state_bits |= kCsSrcNat;
  }
  if (!reply_dir ? dnat : snat) {
    rw.dst = true;
    std::memcpy(rw.dst_addr, !reply_dir ? reply.src : orig.src, 16);
    rw.dport = !reply_dir ? reply.sport : orig.sport;
    *state_bits |= kCsDstNat;
  }
  return rw;
}

namespace {

// The L4 checksum field of a header of proto (len bytes present) that
// covers the IP pseudo-header; null when none (or not all there).
uint8_t* pseudo_csum_field(uint8_t proto, uint8_t* l4, size_t len, bool* udp) {
  *udp = proto == kProtoUdp;
  switch (proto) {
    case kProtoTcp: return len >= 18 ? l4 + 16 : nullptr;
    case kProtoUdp:
    case kProtoUdpLite:
    case kProtoDccp: return len >= 8 ? l4 + 6 : nullptr;
    case kProtoIcmpv6: return len >= 4 ? l4 + 2 : nullptr;
    default: return nullptr;
  }
}

// Applies f to the checksum at p; UDP's "no checksum" (0) stays, a computed
// 0 is sent as 0xffff (RFC 768).
template <typename F>
void update_csum(uint8_t* p, bool udp, F f) {
  if (!p) return;
  const uint16_t old = base::load16(p);
  if (udp && old == 0) return;
  uint16_t c = f(old);
  if (udp && c == 0) c = 0xffff;
  std::memcpy(p, &c, 2);
}

void set_addr(uint8_t* ip, uint8_t* field, const uint8_t* addr, bool v4, uint8_t* l4csum, bool udp) {
  if (v4) {
    const uint32_t o = base::load32(field), n = base::load32(addr);
    update_csum(ip + 10, false, [&](uint16_t c) { return base::csum_replace4(c, o, n); });
    update_csum(l4csum, udp, [&](uint16_t c) { return base::csum_replace4(c, o, n); });
    std::memcpy(field, addr, 4);
  } else {
    update_csum(l4csum, udp, [&](uint16_t c) { return base::csum_replace16(c, field, addr); });
    std::memcpy(field, addr, 16);
  }
}

void set_port(uint8_t* field, uint16_t port, uint8_t* l4csum, bool udp) {
  const uint8_t be[2] = {static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port)};
  const uint16_t o = base::load16(field), n = base::load16(be);
  update_csum(l4csum, udp, [&](uint16_t c) { return base::csum_replace2(c, o, n); });
  std::memcpy(field, be, 2);
}

// Addresses (and ports, when `ports` and the protocol has them) of one IP
// header whose L4 header of l4_len bytes is at l4.
void rewrite_header(uint8_t* ip, uint8_t proto, uint8_t* l4, size_t l4_len, const NatRewrite& rw,
                    bool v4, bool ports) {
  bool udp = false;
  uint8_t* csum = pseudo_csum_field(proto, l4, l4_len, &udp);
  uint8_t* src = ip + (v4 ? 12 : 8);
  uint8_t* dst = ip + (v4 ? 16 : 24);
  if (rw.src) set_addr(ip, src, rw.src_addr, v4, csum, udp);
  if (rw.dst) set_addr(ip, dst, rw.dst_addr, v4, csum, udp);
  if (!ports || !nat_has_ports(proto) || l4_len < 4) return;
  if (rw.src) set_port(l4, rw.sport, csum, udp);
  if (rw.dst) set_port(l4 + 2, rw.dport, csum, udp);
}

// The ICMP/ICMPv6 checksum of a message of n bytes, from scratch.
void icmp_recompute(const uint8_t* ip, bool v4, uint8_t* icmp, size_t n) {
  icmp[2] = icmp[3] = 0;
  uint32_t sum = 0;
  if (!v4) {  // pseudo-header: addresses, upper-layer length, next header
    const uint8_t ph[8] = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                           static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n), 0, 0, 0, kProtoIcmpv6};
    sum = base::csum_partial(ip + 8, 32, 0);
    sum = base::csum_partial(ph, 8, sum);
  }
  const uint16_t c = base::csum_finish(base::csum_partial(icmp, n, sum));
  std::memcpy(icmp + 2, &c, 2);
}

}  // namespace

void nat_apply(uint8_t* l3, size_t len, const CtPacket& p, const NatRewrite& rw) {
  const bool v4 = p.tuple.family == 4;
  if (p.l4_off + p.l4_len > len) return;
  uint8_t* l4 = l3 + p.l4_off;
  if (!p.icmp_error) {
    rewrite_header(l3, p.tuple.proto, l4, p.l4_len, rw, v4, true);
    return;
  }
  // The error goes one way; the packet it quotes went the other: the
  // quoted header gets the mirror image (source for destination).
  rewrite_header(l3, 0, nullptr, 0, rw, v4, false);
  NatRewrite in = rw;
  std::swap(in.src, in.dst);
  std::swap(in.src_addr, in.dst_addr);
  std::swap(in.sport, in.dport);
  uint8_t* inner = l4 + 8;
  const uint8_t inner_proto = p.tuple.proto;  // the tuple is the quoted packet's, reversed
  rewrite_header(inner, inner_proto, inner + p.inner_l4_off, p.inner_l4_len, in, v4, true);
  icmp_recompute(l3, v4, l4, p.l4_len);
}

}  // namespace dps::conntrack
