// actions.h - datapath actions: what a megaflow does to the packets it matches.
//
// What: DpActions is a short, fixed-capacity list of DpAction, stored inline
// in a DpFlow so executing a flow touches no other memory. The ofproto layer
// translates OpenFlow actions into this list; the PMD executes it once per
// group of packets that hit the same flow.
//
// Design: a DpAction is 24 bytes: a type, a 16-bit and a 32-bit argument and
// 16 bytes of data (an address). Set-field actions rewrite the header in
// place and fix the IPv4 header checksum and the L4 (TCP, UDP, ICMP,
// ICMPv6) checksum incrementally (RFC 1624); SCTP's CRC32C is recomputed. push/pop VLAN move the MAC addresses with a 4-byte
// prepend/adj, push/pop MPLS (4 bytes) and PBB (18 bytes) likewise. Output does not send: it appends to the PMD's per-port tx
// batch. When an output is followed by more actions, the packet is copied
// first so that later rewrites cannot change what was already queued.
//
// Thread-safety: DpActions is a value. The header-rewrite functions touch
// only the mbuf they are given; the PMD that owns the mbuf calls them.
#pragma once

#include <cstdint>
#include <string>

#include "ct_nat.h"
#include "tunnel_header.h"

struct rte_mbuf;

namespace dps::datapath {

enum class ActType : uint8_t {
  kOutput,       // arg32 = datapath port number
  kSetEthSrc,    // data[0..5]
  kSetEthDst,    // data[0..5]
  kSetIpv4Src,   // arg32 (network order)
  kSetIpv4Dst,   // arg32 (network order)
  kSetIpv4Tos,   // arg16 low byte = new DSCP<<2 (ECN bits kept)
  kSetIpv4Ttl,   // arg16 low byte
  kDecTtl,       // IPv4 TTL / IPv6 hop limit minus one (a packet at 0/1 is dropped)
  kSetIpv6Src,   // data[0..15]
  kSetIpv6Dst,   // data[0..15]
  kSetTpSrc,     // arg16 (network order): TCP/UDP/SCTP source port
  kSetTpDst,     // arg16 (network order): TCP/UDP/SCTP destination port
  kPushVlan,     // arg16 = TPID (host order), arg32 = TCI (host order, no CFI)
  kPopVlan,
  kSetVlanVid,   // arg16 = VID (host order); pushes a tag when untagged
  kSetVlanPcp,   // arg16 = PCP
  kUserspace,    // to the ofproto thread (controller, sampling); arg32 = cookie
  kMeter,        // arg32 = datapath meter id: the PMD's token buckets may drop or remark (meter.h)
  kBondOutput,   // arg32 = datapath bond id: each packet to the member its bucket names (dp_bond.h)
  // Native tunneling (tunnel_header.h, tunnel_actions.h). kTnlPop ends the
  // list for the packet: the inner packet is classified again (the PMD's
  // recirculation queue) with in_port = arg32 and the tunnel metadata in
  // its key; actions after it do not run on that packet.
  kTnlPop,       // arg16 = TunnelType, arg32 = tunnel port: strip the outer headers (validated;
                 // bad ones are dropped and counted), tunnel metadata into the key,
                 // in_port = arg32, classify again
  kTnlPush,      // arg16 = header bytes, arg32 = output (underlay) port, data = TnlPushInfo;
                 // the header's raw bytes fill the next ceil(arg16 / 24) slots whole
                 // (no type byte: every walker steps with action_slots())
  // OpenFlow 1.3 set-fields beyond the ones above. Each is a no-op (false)
  // on a packet without its header, as every set-field.
  kSetIpEcn,       // arg16 = ECN 0..3: IPv4 TOS (header checksum fixed) or IPv6 traffic class
  kSetIpv6Dscp,    // arg16 = DSCP<<2: IPv6 traffic class (ECN bits kept)
  kSetIpv6Flabel,  // arg32 = flow label (host order, 20 bits)
  kSetIpv6Hlim,    // arg16 = hop limit
  kSetIcmpType,    // arg16 = type, arg32 = 4 (ICMP over IPv4) or 6 (ICMPv6 over IPv6); checksum fixed
  kSetIcmpCode,    // arg16 = code, arg32 as kSetIcmpType
  kSetArpOp,       // arg16 = opcode (host order)
  kSetArpSpa,      // arg32 (network order)
  kSetArpTpa,      // arg32 (network order)
  kSetArpSha,      // data[0..5]
  kSetArpTha,      // data[0..5]
  kSetNdTarget,    // data[0..15]: NS/NA target (ICMPv6 checksum fixed)
  kSetNdSll,       // data[0..5]: NS source link-layer option, when present
  kSetNdTll,       // data[0..5]: NA target link-layer option, when present
  kSetEthType,     // arg16 = ethertype (host order): the innermost one, after the VLAN tags
  kSetIpProto,     // arg16 = IPv4 protocol (header checksum fixed) / IPv6 next header (fixed header)
  // Connection tracking (conntrack.h): the packet goes through the shared
  // connection table. arg16 = zone, arg32 = recirculation id (0: none, the
  // list goes on; else the packet is classified again with that recirc_id
  // and the ct fields in its key; a copy when actions follow), data[0] =
  // kCtFlag*, data[4..7] / data[8..11] = mark / mark mask (host order).
  // With kCtFlagLabel the next 2 slots hold the label and its mask (16 + 16
  // bytes, network order); with kCtFlagNat the next 2 slots (after the
  // label's) hold the NAT request, a base::NatRange's bytes. Every walker
  // steps with action_slots().
  kCt,
  // Sampling (sample_slots.h): arg16 = sampler slot, arg32 = N; every Nth
  // packet the PMD runs through the slot is copied, as it is at this point,
  // to the ofproto thread (Upcall kSample) with data = DpSampleCookie. A
  // full miss ring drops the copy (counted); the packet itself goes on.
  kSample,
  // MPLS (RFC 3032), after the VLAN tags as OVS. Each is a no-op (false) on
  // a packet that is not MPLS (push: none).
  kPushMpls,     // arg16 = ethertype (0x8847/0x8848), arg32 = the new LSE (host order)
  kPopMpls,      // arg16 = the ethertype left in the frame
  kSetMplsLse,   // arg32 = value, data[0..3] = mask (host order): top LSE = (lse & ~mask) | value
  kCopyTtlOut,   // TTL of the next-to-outermost header (LSE or IP) into the top LSE
  kCopyTtlIn,    // top LSE's TTL into the next-to-outermost header (LSE, or IP: checksum fixed)
  // Classify the packet again (a copy when actions follow), its key parsed
  // anew with recirc_id = arg32 (pop_mpls to IP, pop_pbb: the inner header).
  kRecirc,
  // PBB (IEEE 802.1ah, ethertype 0x88e7; OpenFlow 1.3 push_pbb / pop_pbb).
  // Push puts a backbone header in front of the whole frame, tags
  // included: B-DA, B-SA = the frame's own addresses (set_field rewrites
  // them), 0x88e7, the I-TAG, then the frame from its C-DA on. Pop strips
  // everything before the C-DA (B-DA, B-SA, B-TAGs, 0x88e7, I-TAG). Both
  // are one prepend/adj of the mbuf; no-ops (false) on frames without the
  // header (pop, set) or too short (push: under 14 bytes, or no headroom).
  kPushPbb,      // arg32 = the I-TAG TCI (host order: I-PCP 3, I-DEI 1, UCA 1, res 3, I-SID 24);
                 // arg16 & kPbbBda / kPbbBsa: the B-DA is data[0..5] / the B-SA data[6..11]
                 // (a set_field eth_dst / eth_src right after the push, folded in)
  kPopPbb,
  kSetPbbIsid,   // arg32 = I-SID (24 bits) of the outer I-TAG
};
inline constexpr uint16_t kPbbBda = 1;
inline constexpr uint16_t kPbbBsa = 2;
inline constexpr uint8_t kCtFlagCommit = 1;
inline constexpr uint8_t kCtFlagForce = 2;
inline constexpr uint8_t kCtFlagMark = 4;
inline constexpr uint8_t kCtFlagLabel = 8;
inline constexpr uint8_t kCtFlagNat = 16;  // nat given: 2 slots hold its NatRange
// The packets were translated by an earlier ct(nat) in this zone: their
// key's +snat / +dnat (which the megaflow matches), as the same bits, so
// flags & kCtFlagNatted is what conntrack's CtAction::natted takes. The
// tracker finds them by the reversed tuple and does not translate them
// again (OVS's natted).
inline constexpr uint8_t kCtFlagNattedSrc = conntrack::kCsSrcNat;
inline constexpr uint8_t kCtFlagNattedDst = conntrack::kCsDstNat;
inline constexpr uint8_t kCtFlagNatted = kCtFlagNattedSrc | kCtFlagNattedDst;
static_assert((kCtFlagNatted & (kCtFlagCommit | kCtFlagForce | kCtFlagMark | kCtFlagLabel | kCtFlagNat)) == 0);

struct DpAction {
  ActType type;
  uint8_t pad;
  uint16_t arg16;
  uint32_t arg32;
  uint8_t data[16];
};
static_assert(sizeof(DpAction) == 24);

// What a sample tells the slow path besides the packet (kSample's data;
// copied into the Upcall). Integers in host order.
enum class SampleKind : uint8_t {
  kSflow = 1,        // a bridge's sFlow sampler
  kIpfixBridge = 2,  // a bridge's IPFIX sampler
  kIpfixFlow = 3,    // an OpenFlow sample() action: a Flow_Sample_Collector_Set's exporter
};
inline constexpr uint32_t kSampleOutNone = 0xffffffffu;      // dropped: no output
inline constexpr uint32_t kSampleOutMultiple = 0x80000000u;  // | number of outputs (> 1)
inline constexpr uint8_t kSampleEgress = 0x01;  // flags: kIpfixBridge taken at the output `out`
struct DpSampleCookie {
  SampleKind kind;
  uint8_t flags;         // kSampleEgress
  uint16_t arg;          // kIpfixFlow: 1 in how many (the action's rate); kSflow: the VLAN TCI
                         // the packet leaves with (host order, CFI set when tagged; 0: untagged)
  uint32_t out;          // the datapath output port, kSampleOutNone or kSampleOutMultiple | n
  uint32_t obs_domain;   // IPFIX observation domain / point ids (0 when none)
  uint32_t obs_point;
  bool operator==(const DpSampleCookie&) const = default;
};
static_assert(sizeof(DpSampleCookie) == 16);

// 32 = a NORMAL/FLOOD flood to 30 ports plus a VLAN rewrite or two (768 B
// inline in each flow); translations needing more fail with a precise error.
inline constexpr unsigned kMaxDpActions = 32;

struct DpActions {
  uint8_t n = 0;  // 0 = drop
  DpAction acts[kMaxDpActions];

  bool full() const { return n == kMaxDpActions; }
  // The common case the PMD executes without the general loop.
  bool single_output() const { return n == 1 && acts[0].type == ActType::kOutput; }
  // Appends; returns false (and changes nothing) when full.
  bool add(const DpAction& a) {
    if (n == kMaxDpActions) return false;
    acts[n++] = a;
    return true;
  }
  bool operator==(const DpActions& o) const;
};

// Slots the action at `a` occupies (1, or 1 + its header slots for kTnlPush).
inline unsigned action_slots(const DpAction& a) {
  if (a.type == ActType::kCt) return 1 + ((a.data[0] & kCtFlagLabel) ? 2 : 0) + ((a.data[0] & kCtFlagNat) ? 2 : 0);
  return a.type == ActType::kTnlPush ? 1 + (a.arg16 + sizeof(DpAction) - 1) / sizeof(DpAction) : 1;
}

// The ct action's arguments (kCt above).
struct DpCtArgs {
  uint16_t zone = 0;
  uint32_t recirc_id = 0;
  uint8_t flags = 0;  // kCtFlag*
  uint32_t mark = 0, mark_mask = 0;
  uint8_t label[16] = {}, label_mask[16] = {};
  conntrack::CtNatSpec nat;  // with kCtFlagNat
};
// Appends kCt (and its label and NAT slots); false (nothing added) when it does not fit.
bool add_ct_action(DpActions* acts, const DpCtArgs& ct);
// The arguments of the kCt at `a` (its following slots too).
DpCtArgs ct_action_args(const DpAction* a);

// Convenience constructors (control plane). Unused argument bytes are zero,
// so equal actions compare equal.
DpAction act_output(uint32_t port);
DpAction act_userspace(uint32_t cookie);
DpAction act_meter(uint32_t meter_id);
DpAction act_sample(uint16_t slot, uint32_t rate, const DpSampleCookie& cookie);
DpSampleCookie sample_cookie(const DpAction& a);
DpAction act_bond_output(uint32_t bond_id);
DpAction act_push_vlan(uint16_t tpid, uint16_t tci);
DpAction act_pop_vlan();
DpAction act_set_eth_src(const uint8_t mac[6]);
DpAction act_set_eth_dst(const uint8_t mac[6]);
DpAction act_set_ipv4_src(uint32_t addr_be);
DpAction act_set_ipv4_dst(uint32_t addr_be);
DpAction act_set_ipv4_tos(uint8_t dscp);  // DSCP value 0..63 (stored as DSCP<<2)
DpAction act_set_ipv4_ttl(uint8_t ttl);
DpAction act_dec_ttl();
DpAction act_set_ipv6_src(const uint8_t addr[16]);
DpAction act_set_ipv6_dst(const uint8_t addr[16]);
DpAction act_set_tp_src(uint16_t port_be);
DpAction act_set_tp_dst(uint16_t port_be);
DpAction act_set_vlan_vid(uint16_t vid);
DpAction act_set_vlan_pcp(uint8_t pcp);
DpAction act_set_ip_ecn(uint8_t ecn);
DpAction act_set_ipv6_dscp(uint8_t dscp);  // DSCP value 0..63 (stored as DSCP<<2)
DpAction act_set_ipv6_flabel(uint32_t label);
DpAction act_set_ipv6_hlim(uint8_t hlim);
DpAction act_set_icmp_type(bool v6, uint8_t type);
DpAction act_set_icmp_code(bool v6, uint8_t code);
DpAction act_set_arp_op(uint16_t op);
DpAction act_set_arp_spa(uint32_t addr_be);
DpAction act_set_arp_tpa(uint32_t addr_be);
DpAction act_set_arp_sha(const uint8_t mac[6]);
DpAction act_set_arp_tha(const uint8_t mac[6]);
DpAction act_set_nd_target(const uint8_t addr[16]);
DpAction act_set_nd_sll(const uint8_t mac[6]);
DpAction act_set_nd_tll(const uint8_t mac[6]);
DpAction act_set_eth_type(uint16_t eth_type);
DpAction act_set_ip_proto(uint8_t proto);
DpAction act_push_mpls(uint16_t ethertype, uint32_t lse);
DpAction act_pop_mpls(uint16_t ethertype);
DpAction act_set_mpls_lse(uint32_t value, uint32_t mask);
DpAction act_copy_ttl_out();
DpAction act_copy_ttl_in();
DpAction act_recirc(uint32_t recirc_id);
// bda / bsa: the backbone addresses (kPbbBda / kPbbBsa), else the frame's own.
DpAction act_push_pbb(uint32_t itag, const uint8_t* bda = nullptr, const uint8_t* bsa = nullptr);
DpAction act_pop_pbb();
DpAction act_set_pbb_isid(uint32_t isid);
DpAction act_tnl_pop(TunnelType type, uint32_t tunnel_port);
// Appends kTnlPush and its header slots; false (actions unchanged) when the
// header is longer than kTnlHeaderMax or the list has no room for it.
bool add_tnl_push(DpActions* actions, const TnlPushInfo& info, const uint8_t* header,
                  uint16_t header_len, uint32_t out_port);

// Header rewrites on one packet. Each returns false when the packet does not
// have the header the action needs (then the packet is left unchanged);
// set-fields on absent headers are no-ops, as in OVS.
bool action_set_field(rte_mbuf* m, const DpAction& a);
bool action_push_vlan(rte_mbuf* m, uint16_t tpid, uint16_t tci);
bool action_pop_vlan(rte_mbuf* m);
// The MPLS actions above (kPushMpls .. kCopyTtlIn); false when the packet
// has no label stack (push: no headroom or no Ethernet header).
bool action_mpls(rte_mbuf* m, const DpAction& a);
// The PBB actions above (kPushPbb .. kSetPbbIsid).
bool action_pbb(rte_mbuf* m, const DpAction& a);
// Returns false when the TTL/hop limit would reach 0 (caller drops it).
bool action_dec_ttl(rte_mbuf* m);
// Meter dscp_remark band: adds prec_level to the drop precedence of an
// assured-forwarding DSCP (meter_remark_dscp) in the IPv4 header (checksum
// fixed) or the IPv6 traffic class. False when not IP (packet unchanged).
bool action_remark_dscp(rte_mbuf* m, uint8_t prec_level);

// "output:2,push_vlan(tpid=0x8100,tci=100),..." / "drop"; ovs-dpctl-like.
std::string format_actions(const DpActions& actions);

}  // namespace dps::datapath
