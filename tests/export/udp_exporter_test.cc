#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "udp_exporter.h"

using namespace dps::exporter;

namespace {

// A UDP socket bound to 127.0.0.1 on a free port.
struct Sink {
  int fd = -1;
  uint16_t port = 0;
  Sink() {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Sink() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::vector<uint8_t> recv() {
    std::vector<uint8_t> b(2048);
    ssize_t n = ::recv(fd, b.data(), b.size(), 0);
    b.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return b;
  }
};

}  // namespace

TEST_CASE("udp exporter: each datagram reaches every collector") {
  Sink s1, s2;
  UdpExporter ex;
  std::string err;
  REQUIRE(ex.set_collectors({"127.0.0.1:" + std::to_string(s1.port), "127.0.0.1:" + std::to_string(s2.port)}, &err));
  std::vector<uint8_t> d{1, 2, 3, 4, 5};
  CHECK(ex.send(d) == 2);
  CHECK(s1.recv() == d);
  CHECK(s2.recv() == d);
  CHECK(ex.collectors().at(0).sent == 1);
  CHECK(ex.send_errors() == 0);
}

TEST_CASE("udp exporter: a bad target changes nothing; a closed port is counted") {
  Sink s;
  UdpExporter ex;
  std::string err;
  REQUIRE(ex.set_collectors({"127.0.0.1:" + std::to_string(s.port)}, &err));
  CHECK_FALSE(ex.set_collectors({"127.0.0.1:1", "collector:6343"}, &err));
  CHECK(err == "\"collector:6343\": \"collector\" is not an IPv4 or IPv6 address");
  REQUIRE(ex.collectors().size() == 1);
  CHECK(ex.collectors()[0].target.port == s.port);
  s.close();  // nobody listens there now: ICMP port unreachable
  std::vector<uint8_t> d{9};
  for (int i = 0; i < 5 && ex.send_errors() == 0; i++) {
    ex.send(d);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(ex.send_errors() >= 1);
  CHECK(ex.collectors()[0].last_error == "Connection refused");
}
