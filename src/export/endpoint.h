// endpoint.h - IP addresses and IP:PORT endpoints as the exporters and the
// metrics endpoint take them from configuration.
//
// What: IpAddress (IPv4 or IPv6, network order bytes), Endpoint (address +
//   port), and their text forms: "192.0.2.1:6343", "[2001:db8::1]:4739".
//   parse_endpoint() rejects anything else with a message that names the
//   problem (no host names: resolving would block the caller's thread).
// Design: plain values; parsing by inet_pton().
// Thread-safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dps::exporter {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> b{};  // IPv4: b[0..3]; network order

  static IpAddress v4(uint32_t host_order);
  static std::optional<IpAddress> parse(std::string_view text);
  uint32_t v4_host() const {
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  }
  bool is_unspecified() const;
  std::string str() const;
  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;
};

struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;
  std::string str() const;  // "IP:PORT" / "[IP6]:PORT"
  bool operator==(const Endpoint&) const = default;
};

// "IPv4:PORT" or "[IPv6]:PORT", PORT 1..65535 (0 too when allow_port0).
// nullopt with *error set (what is wrong, quoting the text) otherwise.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* error,
                                       bool allow_port0 = false);

}  // namespace dps::exporter
