// port_stats.h - per-port counters in the vocabulary of OpenFlow port stats.
#pragma once

#include <cstdint>

namespace dps::netdev {

struct PortStats {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_dropped = 0;  // no mbuf / queue full at the device (imissed + rx_nombuf)
  uint64_t tx_dropped = 0;  // tx ring full: freed by us, never sent
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_retries = 0;  // extra tx_burst attempts (PortConfig::tx_retries)
};

}  // namespace dps::netdev
