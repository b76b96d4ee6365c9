// xlate.h - translation of a datapath flow key through a bridge's OpenFlow
// tables into datapath actions and a megaflow wildcard mask.
//
// What: xlate() takes a FlowKey as a PMD extracted it (in_port = datapath
// port) and walks the pipeline from table 0: apply-actions run at once,
// write/clear-actions build the action set (run when the pipeline ends),
// write-metadata, goto-table, groups (all, select by a stable hash,
// indirect, fast-failover by port liveness), output to ports and to the
// reserved ports (IN_PORT, ALL, FLOOD, NORMAL, CONTROLLER, LOCAL),
// set-field, push/pop VLAN, TTL actions, table-miss by table config. The
// result: datapath actions, the megaflow mask (every key bit any lookup or
// action decision read, and nothing else), the rules used (for ukeys and
// stats), controller events, and optionally a trace.
//
// Design, as OVS ofproto-dpif-xlate.c in miniature:
//  - Two views of the packet: `flow` (what OpenFlow actions made of it; the
//    next table looks this up) and `base` (what the datapath packet will
//    look like after the actions emitted so far). Header rewrites are
//    "committed" lazily - just before an output/userspace action - as
//    datapath set actions for the fields that changed, so rewrites that are
//    never observed cost nothing. A field set by an action is committed
//    unconditionally (no dependency on the packet's value, so no
//    un-wildcarding); a field restored after a clone (group "all" bucket,
//    NORMAL flood variants) is un-wildcarded, because the restored value is
//    the packet's own.
//  - Wildcards: every table lookup ORs in the masks of the subtables it
//    visited (FlowTable::lookup). Actions add what they depend on: NORMAL
//    reads in_port, VLAN (VID+CFI), dl_src (learning) and dl_dst; select
//    groups read the hashed fields; dec_ttl reads eth_type; VLAN commits
//    read the TCI. in_port is always exact (megaflows are per in_port).
//  - Controller actions become kUserspace with cookie = index into
//    XlateResult::controller, which carries reason, table, rule cookie and
//    max_len for the packet-in.
//  - OFPPC_NO_RECV on the input port (or on the peer side of a patch
//    port): the packet is dropped before any table; the megaflow is
//    in_port (exact) alone, so it covers exactly that port's packets.
//  - Table statistics: with opts.account, every table visit adds the
//    packets to the table's lookup count and, when a rule matched, to its
//    matched count (FlowTable::count_lookup); account_visits() rolls
//    datapath hits of an installed megaflow up the same way.
//  - Patch ports: output to a patch port continues in the peer bridge's
//    pipeline at table 0 with in_port = the peer port, fresh metadata and
//    action set, and the header changes made so far; outputs there are
//    datapath ports of the same datapath. The megaflow covers both bridges.
//  - Native tunneling (bridge.tnl, ofproto/tunnel/; OVS
//    ofproto-dpif-xlate.c native_tunnel_output / terminate_native_tunnel):
//     * receive: a key whose in_port is a tunnel port (a decapsulated
//       packet) is given to the tunnel port that accepts its tunnel
//       metadata (TnlPorts::receive: key, remote, local), whose bridge
//       translates it with that port as in_port; raw Geneve options are
//       mapped through the TLV table first (an unknown critical option,
//       a length that differs from its mapping or a malformed list drops
//       the packet, counted). The megaflow pins the tunnel addresses and
//       tun_id, tun_opts_len, and the raw options exactly.
//     * decapsulation: output to an internal port whose kernel device has
//       the packet's IP destination, UDP to a tunnel port's port or GRE,
//       unfragmented (and to the device's MAC) becomes tnl_pop(type,
//       the class's port) instead; the mask covers what decided it. ARP
//       replies / gratuitous ARPs and ND advertisements output to an
//       internal port teach the neighbour cache (miss path only).
//     * encapsulation: output to a tunnel port takes remote / key / local
//       from the port's config or, for =flow, from the flow's tunnel
//       fields (set_field), tos / ttl from config or inherited (ECN always
//       inherited), Geneve options from the flow's mapped tun_metadata;
//       then the route, the neighbour (unknown: an ARP / ND request is
//       queued and the packet dropped), the header; the outer packet is
//       translated through the route's bridge as received on its internal
//       port (no learning), and each output there becomes tnl_push(header,
//       port), with VLAN / Ethernet rewrites folded into the header. Tunnel
//       fields the flow carried into the decision are pinned in the mask
//       unless an action set them. The translation records tnl_deps (route,
//       neighbour) for the revalidator.
//     * set_field on a tunnel field changes only what a later tunnel output
//       uses; crossing a patch port clears the tunnel fields (as OVS).
//  - Mirrors (bridge.mirrors, OVS mirror_packet): before the pipeline the
//    packet as received goes to the mirrors selecting its input port
//    (select_src_port / select_all); after each output to a datapath port,
//    the packet as output goes to the mirrors selecting that port
//    (select_dst_port / select_all). select_vlan filters on the VLAN as the
//    selected port classifies the packet (VID and CFI pinned). A copy goes
//    to the output port as NORMAL would send that VLAN there, or (RSPAN,
//    output_vlan) tagged to every port carrying the VLAN but the input
//    port. A mirror's destination gets one copy per packet (dup masks); a
//    patch crossing mirrors again with the peer bridge's mirrors. NORMAL
//    drops what a mirror output port receives, never learns there and
//    never forwards or floods to it. snaplen is not applied.
//  - MPLS: after pop_mpls to a header the key did not parse, the action
//    or lookup that needs it freezes the translation (the rest, the action
//    set, metadata, registers, the bridge behind patch ports: a
//    FrozenState) and recirculates; the next pass resumes there. A group
//    bucket's MPLS changes are undone for the actions after the group.
//  - Limits: goto-table only goes forward, group chains are bounded
//    (kMaxGroupDepth); a translation needing more than kMaxDpActions
//    datapath actions, a rewrite the datapath cannot do, or a freeze that
//    cannot resume (inside a resubmit, a packet-out) fails with `error`
//    set and drop actions.
//
// Thread-safety: runs on the ofproto thread; mutates bridge.mac (learning)
// only when opts.may_learn.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actions.h"
#include "bridge.h"
#include "flow_key.h"
#include "packet_in_reason.h"

namespace dps::ofproto {

// Group chains deeper than this are cut (GroupTable rejects loops; this
// bounds the cost of long legitimate chains).
inline constexpr int kMaxGroupDepth = 16;
// Patch-port crossings per translation; more means a loop of patch ports
// (e.g. two bridges flooding into each other), which fails the translation.
inline constexpr int kMaxPatchDepth = 8;
// resubmit nesting and total per translation, as OVS (MAX_DEPTH 64,
// MAX_RESUBMITS 64 * 64).
inline constexpr int kMaxResubmitDepth = 64;
inline constexpr int kMaxResubmits = 64 * 64;

// ofp_packet_in_reason: packet_in_reason.h

// reason: kAction for output:CONTROLLER, kNoMatch for the table-miss flow
// entry's output:CONTROLLER (priority 0, empty match; OpenFlow 1.3.5
// ofp_packet_in_reason) and for a table-miss by table config. The action's
// max_len says how much of the frame the packet-in carries (the channel
// buffers the rest); packet-ins the pipeline sends by itself (table config
// miss, invalid TTL) have no action, so the channel's miss_send_len cuts
// them instead (OpenFlow 1.3.5 section 7.3.2).
struct ControllerEvent {
  PacketInReason reason = PacketInReason::kAction;
  uint8_t table_id = 0;
  uint64_t cookie = 0;  // of the rule that sent it (all-ones for a table miss)
  uint16_t max_len = kControllerNoBuffer;
  bool use_miss_send_len = false;  // no output action: miss_send_len applies, not max_len
  // The bridge whose table sent it and the packet's OpenFlow in_port there
  // (after a patch crossing: the peer port): its packet-in goes to that
  // bridge's controllers.
  const Bridge* bridge = nullptr;
  uint32_t in_port = 0;
};

// One table lookup of a translation, for the revalidator: a rule added to
// this table with a priority >= `priority` may change the result. When
// `rewritten` is false the packet looked up was the original key (same
// in_port and headers, empty pipeline fields), so only rules overlapping
// the megaflow can matter; otherwise any added rule may.
struct TableVisit {
  const Bridge* bridge = nullptr;
  uint8_t table = 0;
  int32_t priority = -1;  // of the rule matched; -1 = table miss
  bool rewritten = false;
};

// A MAC table entry NORMAL read (destination lookup, found or not) or
// learned from (source): a change to it may change the result.
struct MacDep {
  const Bridge* bridge = nullptr;
  MacAddr mac{};
  uint16_t vlan = 0;
  uint32_t port = 0;      // learned: the OpenFlow input port; lookup: 0
  bool learned = false;   // source learning (true) or destination lookup
};

struct XlateOptions {
  int64_t now_ms = 0;
  bool may_learn = true;          // NORMAL learns dl_src (false when revalidating)
  bool account = false;           // add packets/bytes to the rules used
  uint64_t packets = 0, bytes = 0;  // for account
  std::string* trace = nullptr;   // ofproto/trace: human-readable steps appended
};

struct XlateResult {
  datapath::DpActions actions;
  datapath::FlowMask mask{};  // megaflow mask over the datapath key (in_port exact)
  std::vector<RulePtr> rules;  // every rule the packet went through, in order
  std::vector<ControllerEvent> controller;
  std::vector<uint32_t> groups;  // groups executed (or referenced and missing)
  std::vector<TableVisit> visits;  // every table lookup, in order
  std::vector<MacDep> macs;        // MAC entries NORMAL depended on
  std::vector<uint64_t> tnl_deps;  // tunnel state it used (tnl_dep_route / tnl_dep_neigh)
  MirrorCounterRefs mirrors;       // counters of the mirrors it copies to (each once)
  bool learned = false;          // NORMAL changed the MAC table
  std::string error;             // non-empty: translation failed, actions = drop
  // The failure was a translation limit (resubmit depth or count, frozen
  // recirculation states): the miss path counts these drops.
  bool limit_drop = false;
};

// Adds `packets` to the lookup (and, for a matched visit, matched) count
// of every table in visits that belongs to `only` (null: every bridge; the
// revalidator passes its own, as a peer bridge may be gone).
void account_visits(const std::vector<TableVisit>& visits, uint64_t packets,
                    const Bridge* only = nullptr);

// Translates key (in_port = datapath port number) through bridge.
XlateResult xlate(Bridge& bridge, const datapath::FlowKey& key, const XlateOptions& opts);

// Translates an action list on its own (packet-out): OFPP_TABLE runs the
// pipeline from table 0. of_in_port is the packet-out's in_port (an
// OpenFlow number, or kPortController for none); key.in_port is ignored.
XlateResult xlate_packet_out(Bridge& bridge, const datapath::FlowKey& key, uint32_t of_in_port,
                             const ActionList& actions, const XlateOptions& opts);

// The full trace text for `key` (tables, rules, actions, megaflow and
// datapath actions), for ofproto/trace. Never learns.
std::string xlate_trace(Bridge& bridge, const datapath::FlowKey& key, int64_t now_ms);

}  // namespace dps::ofproto
