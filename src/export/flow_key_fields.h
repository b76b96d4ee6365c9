// flow_key_fields.h - the FlowFields of a datapath flow key, for the code
// that feeds sampled packets to a FlowCache or an IPFIX/NetFlow exporter.
//
// What: flow_fields_from_key() reads base's FlowKey layout (network order
//   fields, flow_key_layout.h) into host-order FlowFields: ingress port,
//   VLAN id of the outer tag, ethertype, MACs, IPv4 or IPv6 addresses, IP
//   protocol, TOS, ports (ICMP/ICMPv6: dst_port = type << 8 | code), TCP
//   flags. Non-IP keys (ARP, MPLS, ...) give only the L2 fields.
// Design: a pure function over the shared key layout; no datapath code.
// Thread-safety: pure.
#pragma once

#include "flow_key_layout.h"
#include "export_record.h"

namespace dps::exporter {

FlowFields flow_fields_from_key(const datapath::FlowKey& key);

}  // namespace dps::exporter
