#include "ct_tcp.h"

#include <algorithm>

namespace dps::conntrack {

namespace {

bool seq_gt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
bool seq_geq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

// 1500 is pf's arbitrary fudge factor.
constexpr int64_t kMaxAckWindow = 0xffff + 1500;

uint32_t div_round_up(uint32_t a, uint32_t shift) { return (a + (1u << shift) - 1) >> shift; }

// The window scales that apply to a packet (0 during the handshake).
void window_scales(const TcpPeer& src, const TcpPeer& dst, uint8_t flags, uint8_t* sws,
                   uint8_t* dws) {
  *sws = *dws = 0;
  if (flags & kTcpSyn) return;
  if ((src.wscale & kWscaleFlag) && (dst.wscale & kWscaleFlag)) {
    *sws = src.wscale & kWscaleMask;
    *dws = dst.wscale & kWscaleMask;
  } else if ((src.wscale & kWscaleUnknown) && (dst.wscale & kWscaleUnknown)) {
    *sws = *dws = kTcpMaxWscale;
  }
}

// The segment as the checks see it.
struct Seg {
  uint32_t seq, orig_seq, end, ack;
  uint32_t win;
  uint8_t sws, dws;
  bool check_ackskew = true;
};

// The first packet seen from this end (the responder's SYN+ACK).
void first_from_src(TcpPeer* src, TcpPeer* dst, const CtPacket& p, Seg* s) {
  if (p.tcp_flags & kTcpSyn) {
    s->end++;
    if (dst->wscale & kWscaleFlag) {
      src->wscale = p.wscale;
      if (src->wscale & kWscaleFlag) {
        s->sws = src->wscale & kWscaleMask;
        s->win = div_round_up(s->win, s->sws);
        s->dws = dst->wscale & kWscaleMask;
      } else {
        dst->max_win = static_cast<uint16_t>(dst->max_win << (dst->wscale & kWscaleMask));
        dst->wscale = 0;  // in case of a retransmitted SYN+ACK
      }
    }
  }
  if (p.tcp_flags & kTcpFin) s->end++;
  src->seqlo = s->seq;
  src->state = kTcpsSynSent;
  uint32_t room = std::max<uint32_t>(1, uint32_t{dst->max_win} << s->dws);
  if (src->seqhi == 1 || seq_geq(s->end + room, src->seqhi)) {
    src->seqhi = s->end + room;
    s->check_ackskew = false;  // picking up a connection: be permissive
  }
  if (s->win > src->max_win) src->max_win = static_cast<uint16_t>(s->win);
}

// Window bookkeeping of an accepted segment.
void advance(TcpPeer* src, TcpPeer* dst, const Seg& s) {
  if (src->max_win < s.win) src->max_win = static_cast<uint16_t>(s.win);
  if (seq_gt(s.end, src->seqlo)) src->seqlo = s.end;
  uint32_t scaled = s.win << s.sws;
  if (seq_geq(s.ack + scaled, dst->seqhi)) dst->seqhi = s.ack + std::max<uint32_t>(scaled, 1);
}

void advance_states(TcpPeer* src, TcpPeer* dst, uint8_t flags) {
  if ((flags & kTcpSyn) && src->state < kTcpsSynSent) src->state = kTcpsSynSent;
  if ((flags & kTcpFin) && src->state < kTcpsClosing) src->state = kTcpsClosing;
  if (flags & kTcpAck) {
    if (dst->state == kTcpsSynSent) {
      dst->state = kTcpsEstablished;
    } else if (dst->state == kTcpsClosing) {
      dst->state = kTcpsFinWait2;
    }
  }
  if (flags & kTcpRst) src->state = dst->state = kTcpsTimeWait;
}

int64_t timeout_for(const TcpPeer& src, const TcpPeer& dst, const CtTimeouts& tm) {
  if (src.state >= kTcpsFinWait2 && dst.state >= kTcpsFinWait2) return tm.tcp_closed;
  if (src.state >= kTcpsClosing && dst.state >= kTcpsClosing) return tm.tcp_fin_wait;
  if (src.state < kTcpsEstablished || dst.state < kTcpsEstablished) return tm.tcp_opening;
  if (src.state >= kTcpsClosing || dst.state >= kTcpsClosing) return tm.tcp_closing;
  return tm.tcp_established;
}

bool in_window(const TcpPeer& src, const TcpPeer& dst, const Seg& s, uint8_t flags) {
  int64_t ackskew = s.check_ackskew ? static_cast<int32_t>(dst.seqlo - s.ack) : 0;
  bool rst_ok = !(flags & kTcpRst) || s.orig_seq == src.seqlo || s.orig_seq == src.seqlo + 1 ||
                s.orig_seq + 1 == src.seqlo;
  return seq_geq(src.seqhi, s.end)                                    // inside the window
         && seq_geq(s.seq, src.seqlo - (uint32_t{dst.max_win} << s.dws))  // <= 1 window back
         && ackskew >= -kMaxAckWindow                                 // ACK not too far back
         && ackskew <= (kMaxAckWindow << s.sws)                       // nor forward
         && rst_ok;
}

// pf's loose case: shotgunned SYNs, a stream picked up late, packets just
// after the close. Accepted without refreshing the timeout.
bool loose_window(const TcpPeer& src, const TcpPeer& dst, const Seg& s) {
  return (dst.state < kTcpsSynSent || dst.state >= kTcpsFinWait2 || src.state >= kTcpsFinWait2) &&
         seq_geq(src.seqhi + kMaxAckWindow, s.end) && seq_geq(s.seq, src.seqlo - kMaxAckWindow);
}

Seg make_seg(TcpPeer* src, TcpPeer* dst, const CtPacket& p) {
  Seg s{};
  s.seq = s.orig_seq = p.seq;
  s.win = p.window;
  window_scales(*src, *dst, p.tcp_flags, &s.sws, &s.dws);
  s.end = s.seq + p.payload_len;
  if (src->state < kTcpsSynSent) {
    first_from_src(src, dst, p, &s);
  } else {
    if (p.tcp_flags & kTcpSyn) s.end++;
    if (p.tcp_flags & kTcpFin) s.end++;
  }
  s.ack = p.ack;
  bool rst_ack = (p.tcp_flags & (kTcpAck | kTcpRst)) == (kTcpAck | kTcpRst);
  if (!(p.tcp_flags & kTcpAck) || (p.ack == 0 && rst_ack)) s.ack = dst->seqlo;
  if (s.seq == s.end) s.seq = s.end = src->seqlo;  // no data: ease the checks
  return s;
}

}  // namespace

const char* tcp_state_name(uint8_t s) {
  static const char* const kNames[] = {"CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RECV",
                                       "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING",
                                       "LAST_ACK",   "FIN_WAIT_2", "TIME_WAIT"};
  return s <= kTcpsTimeWait ? kNames[s] : "UNKNOWN";
}

bool tcp_invalid_flags(uint8_t f) {
  if (f & kTcpSyn) {
    if (f & (kTcpRst | kTcpFin)) return true;
  } else if (!(f & (kTcpAck | kTcpRst))) {
    return true;
  }
  return !(f & kTcpAck) && (f & (kTcpFin | kTcpPsh | kTcpUrg));
}

bool tcp_valid_new(const CtPacket& p) {
  if (tcp_invalid_flags(p.tcp_flags)) return false;
  return !((p.tcp_flags & kTcpSyn) && (p.tcp_flags & kTcpAck));
}

int64_t tcp_new_conn(const CtPacket& p, const CtTimeouts& tm, TcpConn* c) {
  *c = TcpConn{};
  TcpPeer& src = c->peer[0];
  TcpPeer& dst = c->peer[1];
  src.seqlo = p.seq;
  src.seqhi = src.seqlo + p.payload_len + 1;
  if (p.tcp_flags & kTcpSyn) {
    src.seqhi++;
    src.wscale = p.wscale;
  } else {
    src.wscale = dst.wscale = kWscaleUnknown;
  }
  uint32_t win = std::max<uint32_t>(p.window, 1);
  if (src.wscale & kWscaleFlag) win = div_round_up(win, src.wscale & kWscaleMask);
  src.max_win = static_cast<uint16_t>(win);
  if (p.tcp_flags & kTcpFin) src.seqhi++;
  dst.seqhi = 1;
  dst.max_win = 1;
  src.state = kTcpsSynSent;
  dst.state = kTcpsClosed;
  return tm.tcp_syn_sent;
}

CtUpdate tcp_conn_update(TcpConn* c, const CtPacket& p, bool reply, bool liberal,
                         const CtTimeouts& tm, int64_t* timeout) {
  TcpPeer* src = &c->peer[reply ? 1 : 0];
  TcpPeer* dst = &c->peer[reply ? 0 : 1];
  uint8_t flags = p.tcp_flags;
  if (tcp_invalid_flags(flags)) return CtUpdate::kInvalid;
  if ((flags & kTcpSyn) && !(flags & kTcpAck) && dst->state >= kTcpsFinWait2 &&
      src->state >= kTcpsFinWait2) {
    src->state = dst->state = kTcpsClosed;
    return CtUpdate::kNew;  // a new connection reusing a closed one's tuple
  }
  Seg s = make_seg(src, dst, p);
  if (liberal || in_window(*src, *dst, s, flags)) {
    advance(src, dst, s);
    advance_states(src, dst, flags);
    *timeout = timeout_for(*src, *dst, tm);
  } else if (loose_window(*src, *dst, s)) {
    advance(src, dst, s);
    if ((flags & kTcpFin) && src->state < kTcpsClosing) src->state = kTcpsClosing;
    if (flags & kTcpRst) src->state = dst->state = kTcpsTimeWait;
  } else {
    return CtUpdate::kInvalid;
  }
  // Until the responder has answered, the originator's packets are +new.
  return c->peer[1].state < kTcpsSynSent ? CtUpdate::kValidNew : CtUpdate::kValid;
}

uint8_t tcp_display_state(const TcpConn& c) {
  uint8_t s = std::max(c.peer[0].state, c.peer[1].state);
  if (s == kTcpsFinWait2) return kTcpsTimeWait;
  if (s == kTcpsSynRecv) return kTcpsEstablished;
  return s;
}

}  // namespace dps::conntrack
