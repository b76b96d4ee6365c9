// dp_rig.h - the EAL test rig: a real Datapath (PMD threads on the test
// EAL's lcores 1 and 2, see test_eal.h) with RingNetdev ports numbered 1..n,
// and the moves every datapath-level integration test makes: install a
// flow from its dpctl text, put frames into a port's rx ring, take what a
// port transmitted. Tests over ofproto put an Ofproto on top of `dp`.
//
// Link test_dp_rig_dep (tests/support/meson.build); only in builds with
// eal_tests (a real EAL and PMD threads).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datapath.h"
#include "ring_netdev.h"

namespace dps::test {

using Frame = std::vector<uint8_t>;

// A FlowSpec from dpctl text: "in_port=1,eth_type=0x0800" and "output:2".
datapath::FlowSpec flow_spec(const std::string& match, const std::string& actions, uint64_t ufid);

// n RingNetdev ports added to dp as ports 1..n (ring names: prefix and a
// process-wide sequence number; each add REQUIREd): index i = port i+1.
std::vector<netdev::RingNetdev*> add_ring_ports(datapath::Datapath& dp, unsigned n, const std::string& prefix,
                                                unsigned ring_size = 4096);

// A frame in a fresh mbuf of dp's pool; nullptr when the pool is empty.
rte_mbuf* dp_mbuf(datapath::Datapath& dp, const Frame& frame);

struct DpRigConfig {
  unsigned n_ports = 2;
  std::vector<unsigned> lcores = {1};   // one PMD per lcore
  unsigned n_mbufs = 16384;
  uint32_t max_flows_per_pmd = 4096;
  unsigned ring_size = 4096;            // each port's rx and tx ring
  std::string port_prefix = "rig";      // ring names: prefix + a process-wide sequence
};

class DpRig {
 public:
  explicit DpRig(const DpRigConfig& cfg);
  virtual ~DpRig() = default;
  DpRig(const DpRig&) = delete;
  DpRig& operator=(const DpRig&) = delete;

  netdev::RingNetdev& port(unsigned port_no) { return *ports.at(port_no - 1); }

  // A frame in a fresh mbuf of the datapath's pool; nullptr when the pool
  // is empty (traffic threads retry).
  rte_mbuf* mbuf(const Frame& frame);
  // `copies` of the frame into port_no's rx ring; any failure fails the test.
  void inject(unsigned port_no, const Frame& frame, unsigned copies = 1);
  // Up to n copies into port_no's rx ring, as many as the pool and the ring
  // take (the rest is freed): what a traffic thread sends per round.
  unsigned offer(unsigned port_no, const Frame& frame, unsigned n);
  // What port_no transmitted, until `want` frames arrived or `ms` passed.
  std::vector<Frame> collect(unsigned port_no, unsigned want, int ms = 2000);
  // What port_no transmitted so far (without waiting), appended to *frames
  // when given; returns how many there were.
  unsigned drain(unsigned port_no, std::vector<Frame>* frames);
  // Installs a flow from dpctl text (0 or -errno).
  int put(const std::string& match, const std::string& actions, uint64_t ufid);

  std::unique_ptr<datapath::Datapath> dp;
  std::vector<netdev::RingNetdev*> ports;  // index i = port number i+1
};

}  // namespace dps::test
