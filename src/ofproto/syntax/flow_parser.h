// flow_parser.h - the `ovs-ofctl add-flows` text syntax (OpenFlow 1.3 subset)
// to FlowMod, and rules back to the same text.
//
// What: parse_flow() reads one rule such as
//   table=1, priority=100, cookie=0x5, tcp,nw_dst=10.0.0.0/8,tp_dst=80 actions=output:2
// into a FlowMod; parse_flows() reads a whole file (blank lines and '#'
// comments skipped, errors prefixed with "line N: "); format_flow_mod() /
// format_flow_stats() print a rule in the same syntax, so a rule set can be loaded
// at start and dumped back. parse_group() reads the `ovs-ofctl add-group`
// syntax (group_id=1,type=select,bucket=weight:10,actions=output:1,...).
//
// Design: fields are applied in three passes (protocol shorthands and
// dl_type first, then nw_proto, then the rest) so that OVS's
// context-dependent names resolve: nw_src is ipv4_src, or arp_spa after
// `arp`; tp_dst is tcp_dst, udp_dst or sctp_dst after the protocol;
// icmp_type is icmpv4_type or icmpv6_type. Both OVS names (dl_src,
// nw_dst, tp_src, tun_id, ...) and OXM names (eth_src, ipv4_dst, ...)
// are accepted. Tunnel fields are OVS's: tun_id, tun_src, tun_dst,
// tun_ipv6_src, tun_ipv6_dst, tun_flags=+oam/-oam, tun_metadataN=0x..[/..]
// (a bare tun_metadataN: the option is present), printed first after the
// protocol shorthand as ovs-ofctl does; load:V->FIELD[] (a whole field) is a
// set_field. Differences from ovs-ofctl, on purpose:
//  - a field whose prerequisite is missing (tp_dst without a protocol) is an
//    error naming the field and the prerequisite, where ovs-ofctl silently
//    drops the field;
//  - table=255 is an error for add (ovs-ofctl quietly uses table 0);
//  - load into part of a field and move are errors (no register or
//    copy-field action here); set_field takes no mask.
// Like ovs-ofctl, values are ANDed with their masks (nw_src=1.2.3.4/16 is
// 1.2.0.0/16), instructions must come in OpenFlow order (meter, apply
// actions, clear_actions, write_actions, write_metadata, goto_table), and
// mod_vlan_vid on a packet not known to be tagged pushes a tag first.
// Files by concern: flow_parser.cc (a rule, in stages: keywords, fields,
// instructions), action_parser.cc (actions and instructions, a table from
// keyword to handler), group_parser.cc, flow_format.cc (printing);
// match_fields.h (field names and values) and syntax_text.h (numbers,
// addresses, ports, splitting) are what they share.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "of_error.h"
#include "of_messages.h"

namespace dps::ofproto {

enum class FlowParseMode : uint8_t {
  kAdd,     // actions required; cookie mask not allowed
  kModify,  // actions required; cookie=V/M allowed
  kDelete,  // no actions; cookie=V/M, out_port, out_group allowed
};

// Parses one rule into *out (command set from mode; modify/delete are
// non-strict unless `strict`). Errors are bad_request-ish OfErrors whose
// message names the token, e.g. "unknown field 'foo'",
// "nw_dst: bad IPv4 address '10.0.0.300'", "tp_dst requires tcp, udp or
// sctp in the match (ip_proto=6, 17 or 132)", "table 300 out of range 0..254".
// tlv: the switch's TLV table; tun_metadataN in the match and in set_field
// must be mapped there (NXFMFC_INVALID_TLV_FIELD). Without one (null),
// tun_metadata fields are placed in the order written, as ovs-ofctl does.
MaybeError parse_flow(std::string_view text, FlowMod* out,
                      FlowParseMode mode = FlowParseMode::kAdd, bool strict = false,
                      const TunMetadataLayout* tlv = nullptr);
// A file of rules, one per line.
MaybeError parse_flows(std::string_view text, std::vector<FlowMod>* out,
                       FlowParseMode mode = FlowParseMode::kAdd,
                       const TunMetadataLayout* tlv = nullptr);
// The ActionList / Instructions parsers on their own (for packet-out and
// group buckets), against the match the actions will run under.
MaybeError parse_actions(std::string_view text, const OfMatch& match, ActionList* out,
                         const TunMetadataLayout* tlv = nullptr);
MaybeError parse_instructions(std::string_view text, const OfMatch& match, Instructions* out,
                              const TunMetadataLayout* tlv = nullptr);

// `ovs-ofctl add-group` syntax: group_id=N,type=all|select|indirect|ff,
// bucket=[weight:W,][watch_port:P,][watch_group:G,]actions=...  (repeated).
MaybeError parse_group(std::string_view text, GroupMod* out);

// Formatting, OVS style. Match: "tcp,in_port=1,nw_dst=10.0.0.0/8,tp_dst=80".
std::string format_match(const OfMatch& m);
std::string format_actions(const ActionList& actions);  // "output:2,NORMAL" / "drop"
std::string format_instructions(const Instructions& insts);
// "table=1, priority=100, cookie=0x5, idle_timeout=10, tcp,tp_dst=80 actions=output:2";
// fields at their defaults (table 0, priority 32768, cookie 0, no timeouts) are omitted.
std::string format_flow_mod(const FlowMod& fm);
// Same for an installed rule; with_stats adds duration/n_packets/n_bytes
// like ovs-ofctl dump-flows (parse_flow() skips those keys).
// A flow entry as dump-flows prints it (with duration and counters when
// with_stats).
std::string format_flow_stats(const FlowStats& f, bool with_stats = false);
std::string format_group(const GroupDesc& g);
std::string format_port(uint32_t port);  // "2", "LOCAL", "CONTROLLER", ...

}  // namespace dps::ofproto
