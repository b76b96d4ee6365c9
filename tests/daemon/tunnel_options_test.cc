// tunnel_options_test.cc - parse_tunnel_options(): Interface.options of a
// vxlan / geneve / gre port as OVS users write them, into TunnelConfig, and
// the precise error for each kind of bad value (the reconciler puts it in
// Interface.error).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <map>
#include <string>
#include <variant>

#include "tunnel_config.h"

using namespace dps;
using ofproto::TunnelConfig;
using datapath::TunnelType;
using Options = std::map<std::string, std::string>;

namespace {

TunnelConfig ok(TunnelType type, const Options& o) {
  auto r = ofproto::parse_tunnel_options("t0", type, o);
  if (auto* e = std::get_if<std::string>(&r)) FAIL("unexpected error: " << *e);
  return std::get<TunnelConfig>(r);
}

std::string error(TunnelType type, const Options& o) {
  auto r = ofproto::parse_tunnel_options("t0", type, o);
  if (std::holds_alternative<TunnelConfig>(r)) return "(no error)";
  return std::get<std::string>(r);
}

}  // namespace

TEST_CASE("tunnel options: the OVS defaults and plain values", "[tunnel][options]") {
  TunnelConfig c = ok(TunnelType::kVxlan, {{"remote_ip", "172.16.1.2"}});
  CHECK(c.type == TunnelType::kVxlan);
  CHECK(c.remote_ip.str() == "172.16.1.2");
  CHECK_FALSE(c.remote_ip.v6);
  CHECK(c.remote_ip.v4_be() == htonl(0xac100102));
  CHECK(c.local_ip.is_zero());
  CHECK(c.in_key == 0);
  CHECK(c.out_key == 0);
  CHECK_FALSE(c.in_key_flow);
  CHECK(c.udp_dst_port() == 4789);
  CHECK(c.ttl == 64);
  CHECK(c.tos == 0);
  CHECK(c.df_default);
  CHECK_FALSE(c.csum);
  CHECK_FALSE(c.gre_key_present);
  CHECK(ok(TunnelType::kGeneve, {{"remote_ip", "10.0.0.1"}}).udp_dst_port() == 6081);
  CHECK(ok(TunnelType::kGre, {{"remote_ip", "10.0.0.1"}}).udp_dst_port() == 0);

  c = ok(TunnelType::kGeneve, {{"remote_ip", "2001:db8::2"},
                              {"local_ip", "2001:db8::1"},
                              {"key", "0x10"},
                              {"dst_port", "6082"},
                              {"tos", "inherit"},
                              {"ttl", "32"},
                              {"df_default", "false"},
                              {"csum", "true"},
                              {"packet_type", "legacy_l2"}});
  CHECK(c.remote_ip.v6);
  CHECK(c.remote_ip.str() == "2001:db8::2");
  CHECK(c.local_ip.str() == "2001:db8::1");
  CHECK(c.in_key == 16);
  CHECK(c.out_key == 16);
  CHECK(c.udp_dst_port() == 6082);
  CHECK(c.tos_inherit);
  CHECK(c.ttl == 32);
  CHECK_FALSE(c.ttl_inherit);
  CHECK_FALSE(c.df_default);
  CHECK(c.csum);
  // Equal options, equal configs (the reconciler replaces a config only when it differs).
  CHECK(ok(TunnelType::kVxlan, {{"remote_ip", "1.2.3.4"}, {"key", "7"}}) ==
        ok(TunnelType::kVxlan, {{"key", "7"}, {"remote_ip", "1.2.3.4"}}));
}

TEST_CASE("tunnel options: 'flow' values and the key directions", "[tunnel][options]") {
  TunnelConfig c = ok(TunnelType::kVxlan, {{"remote_ip", "flow"}, {"key", "flow"}, {"tos", "inherit"}, {"ttl", "inherit"}});
  CHECK(c.remote_ip_flow);
  CHECK(c.in_key_flow);
  CHECK(c.out_key_flow);
  CHECK(c.tos_inherit);
  CHECK(c.ttl_inherit);
  // in_key / out_key override key in their direction, whatever the order.
  c = ok(TunnelType::kVxlan, {{"remote_ip", "1.1.1.1"}, {"key", "5"}, {"out_key", "flow"}});
  CHECK(c.in_key == 5);
  CHECK_FALSE(c.in_key_flow);
  CHECK(c.out_key_flow);
  c = ok(TunnelType::kVxlan, {{"remote_ip", "1.1.1.1"}, {"in_key", "9"}, {"out_key", "10"}});
  CHECK(c.in_key == 9);
  CHECK(c.out_key == 10);
  // GRE: 32-bit keys; any key option puts the K bit on the wire.
  c = ok(TunnelType::kGre, {{"remote_ip", "1.1.1.1"}, {"key", "4294967295"}, {"packet_type", "legacy_l2"}});
  CHECK(c.out_key == 0xffffffffu);
  CHECK(c.gre_key_present);
  CHECK_FALSE(ok(TunnelType::kGre, {{"remote_ip", "1.1.1.1"}}).gre_key_present);
  CHECK(ok(TunnelType::kGre, {{"remote_ip", "1.1.1.1"}, {"in_key", "flow"}}).gre_key_present);
  // remote_ip=flow with a fixed local_ip of either family.
  c = ok(TunnelType::kVxlan, {{"remote_ip", "flow"}, {"local_ip", "2001:db8::1"}});
  CHECK(c.local_ip.v6);
}

TEST_CASE("tunnel options: each bad value gets a precise error", "[tunnel][options]") {
  const TunnelType vx = TunnelType::kVxlan;
  CHECK(error(vx, {}) == "t0: options:remote_ip is required for a vxlan port (an IP address or 'flow')");
  CHECK(error(vx, {{"remote_ip", "notanip"}}) ==
        "t0: options:remote_ip: 'notanip' is not an IPv4 or IPv6 address (nor 'flow')");
  CHECK(error(vx, {{"remote_ip", "0.0.0.0"}}) == "t0: options:remote_ip: 0.0.0.0 is the unspecified address");
  CHECK(error(vx, {{"remote_ip", "239.1.1.1"}}) ==
        "t0: options:remote_ip: 239.1.1.1 is a multicast address (not supported)");
  CHECK(error(vx, {{"remote_ip", "ff02::1"}}) == "t0: options:remote_ip: ff02::1 is a multicast address (not supported)");
  // One option beside a valid remote_ip.
  struct Bad {
    TunnelType type;
    const char* key;
    const char* value;
    const char* want;
  };
  const Bad kBad[] = {
      {TunnelType::kVxlan, "key", "16777216",
       "t0: options:key: 16777216 is out of range (a 24-bit VXLAN VNI: 0..16777215, or 'flow')"},
      {TunnelType::kVxlan, "in_key", "-1",
       "t0: options:in_key: '-1' is not a number (a 24-bit VXLAN VNI: 0..16777215, or 'flow')"},
      {TunnelType::kGre, "out_key", "4294967296",
       "t0: options:out_key: 4294967296 is out of range (a 32-bit GRE key: 0..4294967295, or 'flow')"},
      {TunnelType::kVxlan, "dst_port", "70000",
       "t0: options:dst_port: '70000' is not a UDP port (1..65535)"},
      {TunnelType::kVxlan, "dst_port", "0",
       "t0: options:dst_port: '0' is not a UDP port (1..65535)"},
      {TunnelType::kGre, "dst_port", "4789",
       "t0: options:dst_port is not supported for a gre port (supported: csum, df_default, in_key, key, "
         "local_ip, out_key, packet_type, remote_ip, tos, ttl)"},
      {TunnelType::kVxlan, "bogus", "1",
       "t0: options:bogus is not supported for a vxlan port (supported: csum, df_default, dst_port, in_key, "
         "key, local_ip, out_key, packet_type, remote_ip, tos, ttl)"},
      {TunnelType::kVxlan, "tos", "1",
       "t0: options:tos: 1 sets ECN bits (a DSCP value << 2 is expected: a multiple of 4 in 0..252)"},
      {TunnelType::kVxlan, "tos", "256",
       "t0: options:tos: '256' is not a number in 0..255 (nor 'inherit')"},
      {TunnelType::kVxlan, "ttl", "0",
       "t0: options:ttl: '0' is not a number in 1..255 (nor 'inherit')"},
      {TunnelType::kVxlan, "csum", "yes",
       "t0: options:csum: 'yes' is not 'true' or 'false'"},
      {TunnelType::kVxlan, "df_default", "",
       "t0: options:df_default: '' is not 'true' or 'false'"},
      {TunnelType::kVxlan, "packet_type", "legacy_l3",
       "t0: options:packet_type: 'legacy_l3' is not supported for a vxlan port by dpswitchd (tunnels carry "
         "Ethernet frames: legacy_l2)"},
      {TunnelType::kGre, "packet_type", "legacy_l3",
       "t0: options:packet_type: 'legacy_l3' is not supported for a gre port by dpswitchd (tunnels carry "
         "Ethernet frames: legacy_l2)"},
      {TunnelType::kVxlan, "packet_type", "ptap",
       "t0: options:packet_type: 'ptap' is not supported for a vxlan port by dpswitchd (tunnels carry "
         "Ethernet frames: legacy_l2)"},
      {TunnelType::kVxlan, "packet_type", "l2",
       "t0: options:packet_type: 'l2' is not a packet type (legacy_l2, legacy_l3)"},
  };
  for (const Bad& b : kBad) {
    INFO(b.key << "=" << b.value);
    CHECK(error(b.type, {{"remote_ip", "1.1.1.1"}, {b.key, b.value}}) == b.want);
  }
  CHECK(error(vx, {{"remote_ip", "2001:db8::2"}, {"local_ip", "10.0.0.1"}}) ==
        "t0: options:local_ip: 10.0.0.1 is IPv4 but remote_ip 2001:db8::2 is IPv6");
  CHECK(error(TunnelType::kNone, {{"remote_ip", "1.1.1.1"}}) == "t0: not a tunnel type");
}
