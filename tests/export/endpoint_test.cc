#include <netinet/in.h>

#include <catch2/catch.hpp>

#include "endpoint.h"
#include "socket_address.h"

using namespace dps::exporter;

TEST_CASE("endpoint: IPv4 and bracketed IPv6") {
  std::string err;
  auto a = parse_endpoint("127.0.0.1:9477", &err);
  REQUIRE(a);
  CHECK_FALSE(a->addr.v6);
  CHECK(a->addr.v4_host() == 0x7f000001);
  CHECK(a->port == 9477);
  CHECK(a->str() == "127.0.0.1:9477");
  auto b = parse_endpoint("[2001:db8::1]:6343", &err);
  REQUIRE(b);
  CHECK(b->addr.v6);
  CHECK(b->addr.b[0] == 0x20);
  CHECK(b->addr.b[15] == 1);
  CHECK(b->str() == "[2001:db8::1]:6343");
  CHECK(parse_endpoint("0.0.0.0:0", &err, true)->addr.is_unspecified());
  CHECK(IpAddress::v4(0xc0000201).str() == "192.0.2.1");
}

TEST_CASE("endpoint: errors name the problem") {
  // Input, and the error it must give ("" = any error).
  const std::pair<const char*, const char*> cases[] = {
      {"127.0.0.1", "\"127.0.0.1\": expected IP:PORT"},
      {"localhost:80", "\"localhost:80\": \"localhost\" is not an IPv4 or IPv6 address"},
      {"1.2.3.4:70000", "\"1.2.3.4:70000\": port \"70000\" is not a number from 1 to 65535"},
      {"1.2.3.4:0", ""},
      {"1.2.3.4:", ""},
      {"::1:80", "\"::1:80\": an IPv6 address needs brackets: [IP]:PORT"},
      {"[::1:80", "\"[::1:80\": missing ']' after the IPv6 address"},
      {"[1.2.3.4]:80", "\"[1.2.3.4]:80\": brackets are for IPv6 addresses only"},
  };
  for (auto [in, want] : cases) {
    std::string err;
    INFO(in);
    CHECK_FALSE(parse_endpoint(in, &err));
    CHECK(!err.empty());
    if (*want) CHECK(err == want);
  }
}

TEST_CASE("endpoint: to and from sockaddr") {
  std::string err;
  for (const char* text : {"192.0.2.7:4739", "[2001:db8::9]:6343"}) {
    INFO(text);
    auto ep = parse_endpoint(text, &err);
    REQUIRE(ep);
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(*ep, &ss);
    CHECK(ss.ss_family == (ep->addr.v6 ? AF_INET6 : AF_INET));
    CHECK(len == (ep->addr.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)));
    const uint16_t port = ep->addr.v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
    CHECK(ntohs(port) == ep->port);
    CHECK(from_sockaddr(reinterpret_cast<sockaddr*>(&ss)) == ep->addr);
  }
}
