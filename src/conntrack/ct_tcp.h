// ct_tcp.h - TCP connection tracking: states, window and sequence checks.
//
// What: the TCP part of a connection (one TcpPeer per direction) and the
//   functions that start and update it from a packet, as OVS's userspace
//   tracker does (lib/conntrack-tcp.c, after OpenBSD pf and Guido van
//   Rooij's "Real Stateful TCP Packet Filtering"): every segment must lie
//   in the window the other end advertised, may retransmit at most one
//   window back, may ACK at most one window forward, and a RST must carry
//   the exact (+/- 1) expected sequence number. `liberal` skips the window
//   checks (OVS's tcp_seq_chk=false), keeping the state machine.
// Design: pf's per-peer states (CLOSED .. TIME_WAIT, ct_dpif numbering);
//   the connection's timeout follows from the two peers' states.
// Thread-safety: plain values; the tracker holds the connection's lock.
#pragma once

#include <cstdint>

#include "ct_packet.h"
#include "ct_tuple.h"

namespace dps::conntrack {

// OVS ct_dpif_tcp_state numbering.
enum TcpState : uint8_t {
  kTcpsClosed = 0,
  kTcpsListen,
  kTcpsSynSent,
  kTcpsSynRecv,
  kTcpsEstablished,
  kTcpsCloseWait,
  kTcpsFinWait1,
  kTcpsClosing,
  kTcpsLastAck,
  kTcpsFinWait2,
  kTcpsTimeWait,
};
const char* tcp_state_name(uint8_t s);

struct TcpPeer {
  uint32_t seqlo = 0;   // highest sequence number sent
  uint32_t seqhi = 0;   // highest the other end ACKed + its window
  uint16_t max_win = 0; // largest window seen (unscaled)
  uint8_t wscale = 0;   // kWscale* bits
  uint8_t state = kTcpsClosed;
};

struct TcpConn {
  TcpPeer peer[2];  // [0] originator, [1] responder
};

enum class CtUpdate : uint8_t { kValid, kValidNew, kInvalid, kNew };

// Flag combinations that no segment may carry (SYN+RST, SYN+FIN, neither
// SYN nor ACK nor RST, FIN/PSH/URG without ACK).
bool tcp_invalid_flags(uint8_t flags);
// May this packet create a connection? (not SYN+ACK, valid flags)
bool tcp_valid_new(const CtPacket& p);
// The state of a new connection from its first packet; its timeout.
int64_t tcp_new_conn(const CtPacket& p, const CtTimeouts& tm, TcpConn* c);
// Updates c with a packet in direction `reply`; *timeout gets the
// connection's new timeout when the packet is accepted.
CtUpdate tcp_conn_update(TcpConn* c, const CtPacket& p, bool reply, bool liberal,
                         const CtTimeouts& tm, int64_t* timeout);
// The state dump-conntrack prints (OVS's coalesced max of both peers).
uint8_t tcp_display_state(const TcpConn& c);

}  // namespace dps::conntrack
