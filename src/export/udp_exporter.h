// udp_exporter.h - sends export datagrams to a list of UDP collectors.
//
// What: UdpExporter holds collectors ("IP:PORT", IPv4 or [IPv6]) and sends
//   each datagram to every one of them. A send that fails - the socket
//   buffer is full (EAGAIN), the network is unreachable, the collector's
//   port is closed (ECONNREFUSED, learnt from the ICMP error and reported
//   on a later send) - is counted per collector and remembered as its last
//   error; nothing blocks or retries (export over UDP is lossy by design,
//   and the collector sees the gap in the sequence numbers).
// Design: one connected, non-blocking SOCK_DGRAM socket per collector (as
//   OVS's collectors), opened by set_collectors() (connect() on UDP only
//   sets the peer: it does not block); send() with MSG_DONTWAIT.
//   set_collectors() parses all targets first and changes nothing when one
//   is bad (the error names it); a socket that cannot be opened leaves its
//   collector in place with the error counted at every send.
// Thread-safety: none; one owner thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "endpoint.h"

namespace dps::exporter {

struct CollectorStats {
  Endpoint target;
  int fd = -1;               // connected socket; -1 when it could not be opened (last_error)
  uint64_t sent = 0;         // datagrams handed to the kernel
  uint64_t send_errors = 0;  // datagrams that could not be sent
  std::string last_error;    // strerror of the last failure ("" if none)
};

class UdpExporter {
 public:
  UdpExporter() = default;
  ~UdpExporter();
  UdpExporter(const UdpExporter&) = delete;
  UdpExporter& operator=(const UdpExporter&) = delete;

  // Replaces the collectors; false with *error (naming the bad target) and
  // no change when one does not parse. Counters restart.
  bool set_collectors(const std::vector<std::string>& targets, std::string* error);
  // Sends one datagram to every collector; returns how many took it.
  unsigned send(std::span<const uint8_t> datagram);

  const std::vector<CollectorStats>& collectors() const { return collectors_; }
  uint64_t send_errors() const;  // over all collectors

 private:
  void close_all();

  std::vector<CollectorStats> collectors_;
};

}  // namespace dps::exporter
