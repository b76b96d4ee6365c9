// engine.h - the dpsbench DPDK engine: ports, worker lcores and the tx/rx
// loops for the txonly, rxonly, io and flowgen modes.
//
// What: Engine opens the ports (dps::netdev::DpdkNetdev from devargs), waits
// for their links (bounded), launches the worker lcores and runs the control
// loop on the main lcore: stop conditions, the progress line, the per-interval
// timeline and, in flowgen mode, the RFC 2544 NDR/PDR trials.
//
// Design: the work is a list of jobs, spread over the worker lcores: a TxJob
// (one per transmitting port: templates, rate limiter, sequence counter) and
// an RxJob (one per receiving port: an RxTracker, or a peer port in io mode).
// With one worker lcore it runs every job (tx and rx interleaved); with two or
// more, tx jobs and rx jobs go to different lcores (one lcore per direction).
// The tx loop per burst: bulk-allocate from a private, zeroed tx pool, write
// each frame from its flow template (flows round-robin, sizes cycled), one
// rdtsc per burst for the timestamp, one rte_eth_tx_burst. Frames the device
// refuses (a full memif/vhost ring) stay pending, in sequence order, and go
// first at the next poll: nothing built is rebuilt or dropped, so the
// receiver sees no gap, and a full ring costs one empty tx_burst per poll.
// The rate limiter is a TSC deadline per burst.
// Modes: txonly sends, rxonly receives and checks tags, io forwards port 2k
// <-> 2k+1 (or a single port back to itself) without inspecting, flowgen
// sends on every port and receives on every port (exact loss = sent - unique
// received; odd ports send the reverse direction: MACs, IPs and L4 ports
// swapped, so a learning switch sees both sides).
//
// Thread-safety: Engine's public methods run on the main lcore. Workers share
// with it only relaxed atomics (counters, the stop/active flags, the rate).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ndr_search.h"
#include "profile.h"

namespace dps::dpsbench {

enum class Mode { kTxOnly, kRxOnly, kIo, kFlowgen };
Mode parse_mode(const std::string& s);  // throws std::invalid_argument
const char* mode_name(Mode m);

// The default port pair: two memif clients on one socket (ids 0 and 1), the
// switch being the memif server.
inline constexpr const char* kDefaultMemifSocket = "/tmp/dpswitch/memif.sock";
// Defaults for sizing: 16K mbufs per pool fits --no-huge -m 1024 twice over.
inline constexpr unsigned kDefaultMbufs = 16384;

struct EngineOptions {
  Mode mode = Mode::kFlowgen;
  std::vector<std::string> ports;      // devargs, in port-index order
  std::vector<unsigned> tx_ports;      // empty: the mode's default
  std::vector<unsigned> rx_ports;
  TrafficProfile profile;
  unsigned burst = 32;
  unsigned mbufs = kDefaultMbufs;
  double link_timeout_s = 10;          // wait for every link this long, then fail
  double run_timeout_s = 0;            // 0: duration + 30 s (rxonly without duration: 60 s)
  double idle_stop_s = 0;              // rx: stop this long after the last frame (0: off)
  uint64_t rx_packets = 0;             // rx: stop once this many frames arrived (0: off)
  double drain_s = 0.2;                // after tx stops, keep receiving this long
  // After the run, with the workers stopped, keep the ports open until every
  // link is down (the peer closed first) or this long. A memif peer whose
  // link drops while it polls can crash inside DPDK's memif PMD (the
  // disconnect unmaps the rings under its rx_burst), so a sender should let
  // the receiver finish and close first.
  double linger_s = 0;
  // Written (empty) once every link is up and the workers run: scripts and
  // tests start the sender after the receiver is really receiving.
  std::string ready_file;
  double interval_s = 0.5;             // timeline sampling period
  bool progress = false;               // live line on stdout
  // flowgen NDR/PDR search
  bool ndr = false;
  double trial_s = 2;
  NdrOptions ndr_opts;
};

class Engine {
 public:
  // Opens the ports and checks the options against them. Requires a running
  // EAL with at least one worker lcore. Throws std::runtime_error with a
  // precise message (which port, which devargs, what failed).
  explicit Engine(EngineOptions opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Waits for the links, runs the mode (or the NDR search) and returns the
  // results document. Throws std::runtime_error on link timeout.
  nlohmann::json run();
  // True when the run ended because of the run timeout (not a normal stop).
  bool timed_out() const { return timed_out_; }

  // Async-signal-safe: makes a running run() stop as if its duration ended.
  static void interrupt();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  bool timed_out_ = false;
};

}  // namespace dps::dpsbench
