// bridge_fixtures.h - bridges and flow keys for the translation tests and
// the ofproto benchmarks (no Catch2, no EAL, no datapath): a bridge whose
// OpenFlow port N is datapath port dp_base + N, patch port pairs between
// two bridges, and the IPv4/TCP flow key most translation cases start from.
#pragma once

#include <arpa/inet.h>

#include <string>

#include "bridge.h"
#include "flow_key.h"
#include "flow_parser.h"

namespace dps::test {

// Adds the rule in ovs-ofctl syntax to b's pipeline: "" when done, else the
// parser's or the pipeline's error (tests: CHECK(add_rule(...) == "")).
inline std::string add_rule(ofproto::Bridge& b, const std::string& text) {
  ofproto::FlowMod fm;
  if (auto e = ofproto::parse_flow(text, &fm)) return "parse: " + e->message;
  if (auto e = b.pipeline.flow_mod(fm, 0)) return "flow_mod: " + e->message;
  return "";
}

// OpenFlow port of_port (named "p<of_port>") on datapath port dp_port.
inline void add_bridge_port(ofproto::Bridge& b, uint32_t of_port, uint32_t dp_port) {
  ofproto::BridgePort p;
  p.of_port = of_port;
  p.dp_port = dp_port;
  p.name = "p" + std::to_string(of_port);
  b.add_port(p);
}

// A bridge with OpenFlow ports 1..n_ports on datapath ports dp_base + N.
inline ofproto::Bridge make_bridge(unsigned n_ports = 4, const char* name = "br0",
                                   uint32_t dp_base = 10) {
  ofproto::Bridge b;
  b.name = name;
  for (uint32_t i = 1; i <= n_ports; i++) add_bridge_port(b, i, dp_base + i);
  return b;
}

// A patch port pair: a's port a_port <-> b's port b_port.
inline void add_patch(ofproto::Bridge& a, uint32_t a_port, ofproto::Bridge& b, uint32_t b_port) {
  ofproto::BridgePort pa, pb;
  pa.of_port = a_port;
  pa.peer_bridge = &b;
  pa.peer_port = b_port;
  pb.of_port = b_port;
  pb.peer_bridge = &a;
  pb.peer_port = a_port;
  a.add_port(pa);
  b.add_port(pb);
}

// IPv4/TCP to port 80 on datapath port dp_in, from 02:00:00:00:00:<src_mac>
// to 02:00:00:00:00:<dst_mac>; addresses, source port and TTL left zero.
inline datapath::FlowKey tcp_key(uint32_t dp_in, uint8_t src_mac, uint8_t dst_mac) {
  datapath::FlowKey k{};
  k.in_port = dp_in;
  k.eth_type = htons(0x0800);
  k.dl_src[0] = 0x02;
  k.dl_src[5] = src_mac;
  k.dl_dst[0] = 0x02;
  k.dl_dst[5] = dst_mac;
  k.nw_proto = 6;
  k.tp_dst = htons(80);
  return k;
}

}  // namespace dps::test
