// socket_address.h - Endpoint and IpAddress to and from the socket API's
// sockaddr, for the callers that open sockets towards an endpoint (the UDP
// exporter, the sampling agents' source-address lookup).
//
// What: to_sockaddr() fills a sockaddr_storage (AF_INET or AF_INET6) from an
//   Endpoint and returns its length for connect()/bind(); from_sockaddr()
//   reads the address (not the port) of an AF_INET / AF_INET6 sockaddr.
// Design: plain conversions; no name resolution, no socket calls.
// Thread-safety: pure functions.
#pragma once

#include <sys/socket.h>

#include "endpoint.h"

namespace dps::exporter {

// *ss (zeroed first) as `to`; returns the length of the sockaddr_in or
// sockaddr_in6 written.
socklen_t to_sockaddr(const Endpoint& to, sockaddr_storage* ss);
// The address of `sa`: AF_INET6 as IPv6, anything else read as AF_INET.
IpAddress from_sockaddr(const sockaddr* sa);

}  // namespace dps::exporter
