// tnl_fixtures.h - helpers of the tunnel tests (Catch2): addresses, tunnel
// port configs and ports, and a TLV table with given mappings.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "bridge.h"
#include "tlv_table.h"
#include "tunnel_config.h"

namespace dps::test {

inline ofproto::IpAddr ip(const char* s) {
  ofproto::IpAddr a;
  REQUIRE(ofproto::IpAddr::parse(s, &a));
  return a;
}

// A tunnel config to `remote` ("flow" for remote_ip=flow) with in_key =
// out_key = key.
inline std::shared_ptr<ofproto::TunnelConfig> tunnel(datapath::TunnelType type, const char* remote,
                                                     uint64_t key) {
  auto c = std::make_shared<ofproto::TunnelConfig>();
  c->type = type;
  if (std::string(remote) == "flow") c->remote_ip_flow = true;
  else c->remote_ip = ip(remote);
  c->in_key = c->out_key = key;
  return c;
}

inline void add_tunnel(ofproto::Bridge& b, uint32_t of_port, uint32_t dp_port, const char* name,
                       std::shared_ptr<const ofproto::TunnelConfig> cfg) {
  ofproto::BridgePort p;
  p.of_port = of_port;
  p.dp_port = dp_port;
  p.name = name;
  p.tunnel = std::move(cfg);
  b.add_port(p);
}

// The table's mutations belong to the OpenFlow field layer (TLV-table
// messages); the tests fill the mappings directly.
inline ofproto::TlvTable tlv_with(std::vector<ofproto::TlvMapping> maps) {
  ofproto::TlvTable t;
  const_cast<std::vector<ofproto::TlvMapping>&>(t.mappings()) = std::move(maps);
  return t;
}

}  // namespace dps::test
