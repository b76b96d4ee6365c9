// ndr_search.h - RFC 2544 throughput search: the highest offered rate with no
// loss (NDR) and with loss at most a given ratio (PDR).
//
// What: ndr_pdr_search() drives an abstract trial function (offer `rate` pps
// for one trial, report what was sent and received) through two binary
// searches and returns both rates with every trial, in order, for reports
// and plots.
//
// Design: each search keeps the highest passing rate `lo` and the lowest
// failing rate `hi` (starting at 0 and max_pps) and tries max_pps first (a
// device faster than the generator passes at once), then the midpoint, until
// hi - lo <= resolution * max_pps. The PDR search starts from the bounds that
// the NDR trials already established (a rate with zero loss also passes the
// PDR; a rate whose loss exceeds the PDR ratio fails it), so it usually needs
// only a few more trials. A trial whose sender fell short of the offered rate
// by more than the resolution (back-pressure: a memif or vhost ring that
// stayed full) fails at the offered rate, but the rate it did achieve without
// loss still raises the lower bound.
//
// Thread-safety: runs on the caller's (control) thread; the trial function
// is called synchronously.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dps::dpsbench {

struct TrialResult {
  double offered_pps = 0;   // what the search asked for
  double achieved_pps = 0;  // what the sender actually sent (tx / duration)
  uint64_t tx = 0;
  uint64_t rx = 0;          // unique frames received back
  double latency_p50_us = 0, latency_p99_us = 0;  // optional, for reports
  double loss_ratio() const { return tx ? static_cast<double>(tx > rx ? tx - rx : 0) / static_cast<double>(tx) : 1.0; }
};

using TrialFn = std::function<TrialResult(double rate_pps)>;

struct NdrOptions {
  double max_pps = 0;        // upper bound of the search (line rate or generator max)
  double resolution = 0.005; // stop when hi - lo <= resolution * max_pps
  double pdr_loss = 0.001;   // PDR: loss ratio allowed (0.1%)
  bool pdr = true;           // also search the PDR
  unsigned max_trials = 40;  // hard cap over both searches
};

struct SearchTrial {
  std::string phase;  // "ndr" or "pdr"
  TrialResult result;
  bool pass = false;
};

struct NdrResult {
  double ndr_pps = 0;  // 0: no rate passed (not even the lowest tried)
  double pdr_pps = 0;
  std::vector<SearchTrial> trials;
};

// Throws std::invalid_argument for bad options (max_pps <= 0, resolution
// outside (0, 1), pdr_loss outside [0, 1)).
NdrResult ndr_pdr_search(const TrialFn& trial, const NdrOptions& opts);

}  // namespace dps::dpsbench
