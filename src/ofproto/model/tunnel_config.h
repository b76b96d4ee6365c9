// tunnel_config.h - the configuration of one tunnel port (type=vxlan,
// geneve or gre), as OVS users write it in Interface.options.
//
// What: TunnelConfig is the parsed, validated form of the options
// (remote_ip, local_ip, key / in_key / out_key, dst_port, tos, ttl,
// df_default, csum, packet_type); parse_tunnel_options() builds it or says
// precisely which option is wrong.
//
// Design: "flow" values (remote_ip=flow, key=flow, tos=inherit) are flags,
// not values: the translation takes them from the flow's tunnel metadata
// (set_field) at output. An IpAddr holds either family; the outer header
// family follows remote_ip. A BridgePort of a tunnel holds a shared_ptr to
// its (immutable) config; a config change replaces the pointer and
// revalidates.
//
// Thread-safety: immutable values after parsing.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "tunnel_header.h"

namespace dps::ofproto {

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> b{};  // IPv4 in b[0..3] (network order)
  bool is_zero() const;
  uint32_t v4_be() const;  // network-order IPv4 (v6 == false)
  std::string str() const;
  static bool parse(const std::string& text, IpAddr* out);
  bool operator==(const IpAddr&) const = default;
  auto operator<=>(const IpAddr&) const = default;
};

struct TunnelConfig {
  datapath::TunnelType type = datapath::TunnelType::kNone;
  IpAddr remote_ip;            // meaningless when remote_ip_flow
  bool remote_ip_flow = false;
  IpAddr local_ip;             // zero: chosen from the route
  bool local_ip_flow = false;
  uint64_t in_key = 0;         // VNI / GRE key expected on receive (host order)
  bool in_key_flow = false;    // any key accepted, reported in tun_id
  uint64_t out_key = 0;        // VNI / GRE key sent
  bool out_key_flow = false;   // taken from tun_id
  bool gre_key_present = false;  // GRE: a key option was given (K bit on the wire)
  uint16_t dst_port = 0;       // host order; 0 = the type's default (4789 / 6081)
  uint8_t tos = 0;
  bool tos_inherit = false;
  uint8_t ttl = 64;
  bool ttl_inherit = false;
  bool df_default = true;
  bool csum = false;

  uint16_t udp_dst_port() const;  // dst_port or the type's default; 0 for GRE
  bool operator==(const TunnelConfig&) const = default;
};

// "vxlan" / "geneve" / "gre" -> type; kNone for anything else.
datapath::TunnelType tunnel_type_from_name(const std::string& type);
const char* tunnel_type_name(datapath::TunnelType type);

// Parses Interface.options for a tunnel of `type`. On error returns the
// message for Interface.error ("vx0: options:remote_ip: 'x' is not an IP
// address") and leaves *out unchanged.
std::variant<TunnelConfig, std::string> parse_tunnel_options(
    const std::string& port_name, datapath::TunnelType type,
    const std::map<std::string, std::string>& options);

}  // namespace dps::ofproto
