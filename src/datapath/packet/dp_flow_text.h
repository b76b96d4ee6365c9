// dp_flow_text.h - datapath flows as text, for the config file and the
// dpctl-style debugging commands (add-flow / dump-flows).
//
// Match: comma-separated field=value[/mask] using flow_key_format()'s names:
//   in_port=1,eth_type=0x0800,nw_dst=172.16.0.0/12,nw_proto=17,tp_dst=53
// Fields: in_port eth_type vlan_tci vlan_tci2 dl_src dl_dst nw_src nw_dst
// ipv6_src ipv6_dst ipv6_label nw_proto nw_tos nw_ttl nw_frag(no|first|later)
// tp_src tp_dst tcp_flags arp_sha arp_tha mpls_lse nd_target pbb_isid (the
// I-SID of a PBB frame, eth_type=0x88e7: stored in ipv6_label). A field given
// without a mask is matched exactly; fields not given are wildcarded.
// IPv4/IPv6 masks may be a prefix length or an address.
//
// Actions: comma-separated, executed in order; empty or "drop" drops:
//   output:N (or just N), push_vlan:VID[:PCP[:TPID]], pop_vlan,
//   set_vlan_vid:VID, set_vlan_pcp:PCP, set_eth_src:MAC, set_eth_dst:MAC,
//   set_ipv4_src:IP, set_ipv4_dst:IP, set_ipv4_tos:DSCP, set_ipv4_ttl:N,
//   dec_ttl, set_ipv6_src:IP6, set_ipv6_dst:IP6, set_tp_src:N, set_tp_dst:N,
//   set_ip_ecn:N, set_ipv6_dscp:DSCP, set_ipv6_flabel:N, set_ipv6_hlim:N,
//   set_icmpv4_type:N, set_icmpv4_code:N, set_icmpv6_type:N, set_icmpv6_code:N,
//   set_arp_op:N, set_arp_spa:IP, set_arp_tpa:IP, set_arp_sha:MAC,
//   set_arp_tha:MAC, set_nd_target:IP6, set_nd_sll:MAC, set_nd_tll:MAC,
//   userspace:COOKIE, meter:ID (datapath meter id, Datapath::set_meter),
//   push_mpls:ETHERTYPE:LSE, pop_mpls:ETHERTYPE, set_mpls:LSE[:MASK],
//   copy_ttl_out, copy_ttl_in, recirc:ID (LSE: the whole 32-bit label
//   stack entry, label << 12 | tc << 9 | bos << 8 | ttl),
//   push_pbb:ITAG (the 32-bit I-TAG TCI, pcp << 29 | dei << 28 | uca << 27 |
//   isid), pop_pbb, set_pbb_isid:ISID
//
// Errors: std::invalid_argument naming the offending token and why.
#pragma once

#include <string>

#include "actions.h"
#include "flow_key.h"

namespace dps::datapath {

void parse_flow_match(const std::string& text, FlowKey* key, FlowMask* mask);
DpActions parse_dp_actions(const std::string& text);

}  // namespace dps::datapath
