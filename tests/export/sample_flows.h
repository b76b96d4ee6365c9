// sample_flows.h - the flow the export tests share: TCP 10.0.0.1:1234 ->
// 10.0.0.2:80 from port 1 to port 2 on VLAN 100, MACs 02:..:01 -> 02:..:02.
#pragma once

#include "export_record.h"

namespace dps::test {

inline exporter::FlowFields tcp_flow_fields() {
  exporter::FlowFields f;
  f.in_if = 1;
  f.out_if = 2;
  f.vlan = 100;
  f.eth_type = exporter::kEthTypeIpv4;
  f.src_mac = {2, 0, 0, 0, 0, 1};
  f.dst_mac = {2, 0, 0, 0, 0, 2};
  f.src = *exporter::IpAddress::parse("10.0.0.1");
  f.dst = *exporter::IpAddress::parse("10.0.0.2");
  f.proto = 6;
  f.src_port = 1234;
  f.dst_port = 80;
  return f;
}

// That flow as a record: TOS 0x10, flags 0x1b, 10 packets, 1000 bytes.
inline exporter::FlowRecord tcp_flow_record(uint64_t start_ms, uint64_t end_ms) {
  exporter::FlowRecord r;
  r.f = tcp_flow_fields();
  r.f.tos = 0x10;
  r.f.tcp_flags = 0x1b;
  r.packets = 10;
  r.bytes = 1000;
  r.start_ms = start_ms;
  r.end_ms = end_ms;
  return r;
}

}  // namespace dps::test
