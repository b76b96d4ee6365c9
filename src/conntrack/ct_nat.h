// ct_nat.h - network address translation for the connection tracker.
//
// What: CtNatSpec (base::NatRange) is ct(nat(...))'s request for a new
//   connection: source or destination NAT to an address range and
//   optionally a port range.
//   NatCandidates lists the reply tuples such a connection may take, in the
//   order they are tried (the tracker keeps the first one no connection
//   uses). NatRewrite is what one packet of a translated connection gets
//   rewritten to, and nat_apply() rewrites it: addresses, ports, the IPv4
//   header checksum and the L4 checksum; an ICMP error's embedded header is
//   translated too (mirrored), and the ICMP checksum recomputed.
// Design: as OVS's userspace NAT (lib/conntrack.c). SNAT keeps the original
//   source port when it is free (and in the range, when one is given),
//   else tries the range (no range: the port's class, 1-511, 600-1023 or
//   1024-65535, as OVS and Linux); DNAT without a port range keeps the
//   destination port. The first address and port tried come from a hash
//   of the original tuple (addresses only with `persistent`), or from the
//   thread's generator with `random`; the walk then wraps around the range.
//   ICMP queries and other IP protocols translate addresses only. The walk
//   is bounded (kMaxAttempts tuples): a range that large with every tuple
//   taken counts as exhausted, so one packet never scans 2^32 tuples.
// Thread-safety: plain values and pure functions; nat_apply() writes only
//   the packet it is given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ct_packet.h"
#include "nat_range.h"
#include "ct_tuple.h"

namespace dps::conntrack {

// The request (base/nat_range.h: shared with the OpenFlow layers).
using CtNatSpec = base::NatRange;
using base::kNatDst;
using base::kNatHash;
using base::kNatPersistent;
using base::kNatRandom;
using base::kNatSrc;

// True for protocols whose ports NAT may change.
bool nat_has_ports(uint8_t proto);

class NatCandidates {
 public:
  static constexpr uint32_t kMaxAttempts = 8192;
  // seed: where the walk starts (hash or random, see Design).
  NatCandidates(const CtTuple& orig, const CtNatSpec& spec, uint32_t addr_seed, uint32_t port_seed);
  // The next reply tuple to try; false when there is none left.
  bool next(CtTuple* reply);

 private:
  void set_addr(uint32_t i, uint8_t* out) const;
  CtTuple orig_;
  CtNatSpec spec_;
  bool src_;
  uint32_t n_addrs_ = 1, addr_start_ = 0, addr_i_ = 0;
  uint16_t port_lo_ = 0, port_hi_ = 0;  // the range walked after the original port
  uint32_t port_start_ = 0, port_i_ = 0;
  bool try_orig_port_ = true, walk_ports_ = false;
  bool port_phase_ = false;  // this address's original port was offered
  uint32_t attempts_ = 0;
};

// What to write into one packet: the source and/or destination address and
// port (a port only for protocols with ports).
struct NatRewrite {
  bool src = false, dst = false;
  uint8_t src_addr[16] = {}, dst_addr[16] = {};
  uint16_t sport = 0, dport = 0;  // host order
};
// The rewrite of a packet of a connection translated as `nat` (kCsSrcNat /
// kCsDstNat) with these tuples, in the original or the reply direction.
// *state_bits gets the ct_state NAT bits the packet carries afterwards.
NatRewrite nat_rewrite_for(uint8_t nat, const CtTuple& orig, const CtTuple& reply, bool reply_dir,
                           uint8_t* state_bits);
// Rewrites the packet at l3 (len bytes, parsed into p).
void nat_apply(uint8_t* l3, size_t len, const CtPacket& p, const NatRewrite& rw);

}  // namespace dps::conntrack
