#include "endpoint.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace dps::exporter {

IpAddress IpAddress::v4(uint32_t h) {
  IpAddress a;
  a.b[0] = static_cast<uint8_t>(h >> 24);
  a.b[1] = static_cast<uint8_t>(h >> 16);
  a.b[2] = static_cast<uint8_t>(h >> 8);
  a.b[3] = static_cast<uint8_t>(h);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.b.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.b.data()) == 1) return a;
  return std::nullopt;
}

bool IpAddress::is_unspecified() const {
  for (size_t i = 0; i < (v6 ? 16u : 4u); i++)
    if (b[i]) return false;
  return true;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, b.data(), buf, sizeof buf);
  return buf;
}

std::string Endpoint::str() const {
  std::string s;
  if (addr.v6) s += '[';
  s += addr.str();
  if (addr.v6) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* error, bool allow_port0) {
  auto fail = [&](const std::string& why) -> std::optional<Endpoint> {
    error->assign(1, '"');
    error->append(text);
    error->append("\": ");
    error->append(why);
    return std::nullopt;
  };
  std::string_view host, port;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return fail("expected ':PORT' after ']'");
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected IP:PORT");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("an IPv6 address needs brackets: [IP]:PORT");
    port = text.substr(colon + 1);
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535 ||
      (p == 0 && !allow_port0))
    return fail("port \"" + std::string(port) + "\" is not a number from " +
                (allow_port0 ? "0" : "1") + " to 65535");
  std::optional<IpAddress> a = IpAddress::parse(host);
  if (!a) return fail(std::string(1, '"').append(host).append("\" is not an IPv4 or IPv6 address"));
  if (text.starts_with("[") && !a->v6) return fail("brackets are for IPv6 addresses only");
  return Endpoint{*a, static_cast<uint16_t>(p)};
}

}  // namespace dps::exporter
