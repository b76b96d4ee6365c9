#include "udp_exporter.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket_address.h"

namespace dps::exporter {
namespace {

// A non-blocking UDP socket connected to `to`; -1 with *error.
int open_connected(const Endpoint& to, std::string* error) {
  int fd = ::socket(to.addr.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(to, &ss);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

UdpExporter::~UdpExporter() { close_all(); }

void UdpExporter::close_all() {
  for (CollectorStats& c : collectors_)
    if (c.fd >= 0) ::close(c.fd);
  collectors_.clear();
}

bool UdpExporter::set_collectors(const std::vector<std::string>& targets, std::string* error) {
  std::vector<CollectorStats> next;
  for (const std::string& t : targets) {
    std::optional<Endpoint> ep = parse_endpoint(t, error);
    if (!ep) return false;
    next.push_back(CollectorStats{*ep, -1, 0, 0, ""});
  }
  close_all();
  for (CollectorStats& c : next) c.fd = open_connected(c.target, &c.last_error);
  collectors_ = std::move(next);
  return true;
}

unsigned UdpExporter::send(std::span<const uint8_t> datagram) {
  unsigned ok = 0;
  for (CollectorStats& c : collectors_) {
    if (c.fd < 0) {
      c.send_errors++;  // last_error says why the socket is missing
      continue;
    }
    ssize_t n = ::send(c.fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(datagram.size())) {
      c.sent++;
      ok++;
      continue;
    }
    c.send_errors++;
    c.last_error = n < 0 ? std::strerror(errno) : "short send";
  }
  return ok;
}

uint64_t UdpExporter::send_errors() const {
  uint64_t n = 0;
  for (const CollectorStats& c : collectors_) n += c.send_errors;
  return n;
}

}  // namespace dps::exporter
