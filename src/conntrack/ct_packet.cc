#include "ct_packet.h"

#include <cstring>

#include "unaligned.h"

namespace dps::conntrack {

namespace {

// The L3 header's result: where L4 starts and how long it is.
struct L3 {
  CtParse res = CtParse::kOk;
  size_t l4_off = 0;
  size_t l4_len = 0;
};

// quoted: the header inside an ICMP error, followed by only the start of
// its packet (the length fields cover more than the buffer holds).
L3 parse_ipv4(const uint8_t* p, size_t len, bool quoted, CtTuple* t) {
  L3 r;
  if (len < 20) return {CtParse::kTruncated};
  size_t ihl = (p[0] & 0x0f) * 4u;
  size_t total = base::load_be16(p + 2);
  if (ihl < 20 || total < ihl) return {CtParse::kMalformed};
  if (quoted && total > len) total = len;
  if (len < ihl || len < total) return {CtParse::kTruncated};
  uint16_t frag = base::load_be16(p + 6);
  if (frag & 0x1fff) return {CtParse::kFragment};
  t->family = 4;
  t->proto = p[9];
  std::memcpy(t->src, p + 12, 4);
  std::memcpy(t->dst, p + 16, 4);
  r.l4_off = ihl;
  r.l4_len = total - ihl;
  return r;
}

// Skips hop-by-hop, routing, destination options and AH; a fragment header
// with a non-zero offset is kFragment.
L3 parse_ipv6(const uint8_t* p, size_t len, bool quoted, CtTuple* t) {
  if (len < 40) return {CtParse::kTruncated};
  size_t end = 40 + base::load_be16(p + 4);
  if (quoted && end > len) end = len;
  if (len < end) return {CtParse::kTruncated};
  t->family = 6;
  std::memcpy(t->src, p + 8, 16);
  std::memcpy(t->dst, p + 24, 16);
  uint8_t nh = p[6];
  size_t off = 40;
  for (;;) {
    if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {
      if (end - off < 8) return {CtParse::kTruncated};
      size_t hlen = nh == 51 ? (p[off + 1] + 2u) * 4 : (p[off + 1] + 1u) * 8;
      if (end - off < hlen) return {CtParse::kTruncated};
      nh = p[off];
      off += hlen;
    } else if (nh == 44) {
      if (end - off < 8) return {CtParse::kTruncated};
      if (base::load_be16(p + off + 2) & 0xfff8) return {CtParse::kFragment};
      nh = p[off];
      off += 8;
    } else {
      break;
    }
  }
  t->proto = nh;
  L3 r;
  r.l4_off = off;
  r.l4_len = end - off;
  return r;
}

L3 parse_l3(const uint8_t* p, size_t len, bool quoted, CtTuple* t) {
  if (len < 1) return {CtParse::kTruncated};
  switch (p[0] >> 4) {
    case 4: return parse_ipv4(p, len, quoted, t);
    case 6: return parse_ipv6(p, len, quoted, t);
    default: return {CtParse::kNotIp};
  }
}

// The window-scale option of a TCP header of hlen bytes.
CtParse tcp_options(const uint8_t* tcp, size_t hlen, uint8_t* wscale) {
  size_t i = 20;
  while (i < hlen) {
    uint8_t kind = tcp[i];
    if (kind == 0) break;
    if (kind == 1) {
      i++;
      continue;
    }
    if (hlen - i < 2 || tcp[i + 1] < 2 || hlen - i < tcp[i + 1]) return CtParse::kMalformed;
    if (kind == 3 && tcp[i + 1] == 3) {
      uint8_t shift = tcp[i + 2] > kTcpMaxWscale ? kTcpMaxWscale : tcp[i + 2];
      *wscale = kWscaleFlag | shift;
    }
    i += tcp[i + 1];
  }
  return CtParse::kOk;
}

CtParse parse_tcp(const uint8_t* l4, size_t len, CtPacket* out) {
  if (len < 20) return CtParse::kTruncated;
  size_t hlen = (l4[12] >> 4) * 4u;
  if (hlen < 20) return CtParse::kMalformed;
  if (len < hlen) return CtParse::kTruncated;
  out->tuple.sport = base::load_be16(l4);
  out->tuple.dport = base::load_be16(l4 + 2);
  out->seq = base::load_be32(l4 + 4);
  out->ack = base::load_be32(l4 + 8);
  out->tcp_flags = l4[13];
  out->window = base::load_be16(l4 + 14);
  out->payload_len = static_cast<uint32_t>(len - hlen);
  return tcp_options(l4, hlen, &out->wscale);
}

bool icmp_error_type(uint8_t family, uint8_t type) {
  if (family == 6) return type >= 1 && type <= 4;
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

CtParse parse_l4(const uint8_t* l4, size_t len, bool inner, CtPacket* out);

// An ICMP error: the embedded IP header and at least 8 bytes of its L4.
CtParse parse_icmp_error(const uint8_t* inner, size_t len, CtPacket* out) {
  CtPacket in;
  L3 l3 = parse_l3(inner, len, true, &in.tuple);
  if (l3.res == CtParse::kFragment || l3.res == CtParse::kNotIp) return CtParse::kMalformed;
  if (l3.res != CtParse::kOk) return l3.res;
  if (l3.l4_len < 8) return CtParse::kTruncated;
  if (in.tuple.family != out->tuple.family) return CtParse::kMalformed;
  CtParse r = parse_l4(inner + l3.l4_off, l3.l4_len, true, &in);
  if (r != CtParse::kOk) return r;
  out->inner_l4_off = static_cast<uint32_t>(l3.l4_off);
  out->inner_l4_len = static_cast<uint32_t>(l3.l4_len);
  out->tuple = ct_tuple_reverse(in.tuple);
  out->icmp_error = true;
  return CtParse::kOk;
}

CtParse parse_icmp(const uint8_t* l4, size_t len, bool inner, CtPacket* out) {
  if (len < 8) return CtParse::kTruncated;
  uint8_t type = l4[0];
  out->tuple.icmp_type = type;
  out->tuple.icmp_code = l4[1];
  if (!inner && icmp_error_type(out->tuple.family, type)) {
    return parse_icmp_error(l4 + 8, len - 8, out);
  }
  if (ct_icmp_reverse_type(out->tuple.family, type) == 0xff) return CtParse::kMalformed;
  out->tuple.sport = out->tuple.dport = base::load_be16(l4 + 4);
  return CtParse::kOk;
}

// inner: inside an ICMP error, where only 8 bytes of L4 are guaranteed.
CtParse parse_l4(const uint8_t* l4, size_t len, bool inner, CtPacket* out) {
  switch (out->tuple.proto) {
    case kProtoTcp:
      if (inner) {
        out->tuple.sport = base::load_be16(l4);
        out->tuple.dport = base::load_be16(l4 + 2);
        return CtParse::kOk;
      }
      return parse_tcp(l4, len, out);
    case kProtoUdp:
    case 136:  // UDP-Lite
    case 132:  // SCTP
    case 33:   // DCCP
      if (len < 8) return CtParse::kTruncated;
      out->tuple.sport = base::load_be16(l4);
      out->tuple.dport = base::load_be16(l4 + 2);
      return CtParse::kOk;
    case kProtoIcmp:
      if (out->tuple.family != 4) return CtParse::kMalformed;
      return parse_icmp(l4, len, inner, out);
    case kProtoIcmpv6:
      if (out->tuple.family != 6) return CtParse::kMalformed;
      return parse_icmp(l4, len, inner, out);
    default:
      return CtParse::kOk;  // other IP: addresses and protocol only
  }
}

}  // namespace

CtParse ct_parse(const uint8_t* l3, size_t len, CtPacket* out) {
  *out = CtPacket{};
  L3 r = parse_l3(l3, len, false, &out->tuple);
  if (r.res != CtParse::kOk) return r.res;
  out->l4_off = static_cast<uint32_t>(r.l4_off);
  out->l4_len = static_cast<uint32_t>(r.l4_len);
  return parse_l4(l3 + r.l4_off, r.l4_len, false, out);
}

}  // namespace dps::conntrack
