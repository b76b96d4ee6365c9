#include "socket_address.h"

#include <netinet/in.h>

#include <cstring>

namespace dps::exporter {

socklen_t to_sockaddr(const Endpoint& to, sockaddr_storage* ss) {
  *ss = sockaddr_storage{};
  if (to.addr.v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(to.port);
    std::memcpy(&a->sin6_addr, to.addr.b.data(), 16);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(to.port);
  std::memcpy(&a->sin_addr, to.addr.b.data(), 4);
  return sizeof *a;
}

IpAddress from_sockaddr(const sockaddr* sa) {
  IpAddress a;
  if (sa->sa_family == AF_INET6) {
    a.v6 = true;
    std::memcpy(a.b.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  } else {
    std::memcpy(a.b.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  }
  return a;
}

}  // namespace dps::exporter
