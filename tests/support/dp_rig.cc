#include "dp_rig.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <thread>

#include "dp_flow_text.h"
#include "test_eal.h"

namespace dps::test {

datapath::FlowSpec flow_spec(const std::string& match, const std::string& actions, uint64_t ufid) {
  datapath::FlowSpec s;
  datapath::parse_flow_match(match, &s.key, &s.mask);
  s.actions = datapath::parse_dp_actions(actions);
  s.ufid = ufid;
  return s;
}

std::vector<netdev::RingNetdev*> add_ring_ports(datapath::Datapath& dp, unsigned n, const std::string& prefix,
                                                unsigned ring_size) {
  static int seq = 0;  // ring names are process-wide
  std::vector<netdev::RingNetdev*> ports;
  for (unsigned i = 0; i < n; i++) {
    auto p = std::make_unique<netdev::RingNetdev>(prefix + std::to_string(seq++), ring_size);
    ports.push_back(p.get());
    REQUIRE(dp.add_port(std::move(p), i + 1) == i + 1);
  }
  return ports;
}

rte_mbuf* dp_mbuf(datapath::Datapath& dp, const Frame& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(dp.pool().get());
  if (!m) return nullptr;
  char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  std::memcpy(d, frame.data(), frame.size());
  return m;
}

DpRig::DpRig(const DpRigConfig& cfg) {
  ensure_eal();
  datapath::DatapathConfig dc;
  dc.pmd_lcores = cfg.lcores;
  dc.n_mbufs = cfg.n_mbufs;
  dc.max_flows_per_pmd = cfg.max_flows_per_pmd;
  dp = std::make_unique<datapath::Datapath>(dc);
  ports = add_ring_ports(*dp, cfg.n_ports, cfg.port_prefix, cfg.ring_size);
}

rte_mbuf* DpRig::mbuf(const Frame& frame) { return dp_mbuf(*dp, frame); }

void DpRig::inject(unsigned port_no, const Frame& frame, unsigned copies) {
  for (unsigned i = 0; i < copies; i++) {
    rte_mbuf* m = mbuf(frame);
    REQUIRE(m);
    REQUIRE(port(port_no).inject(&m, 1) == 1);
  }
}

unsigned DpRig::offer(unsigned port_no, const Frame& frame, unsigned n) {
  constexpr unsigned kMax = 64;
  rte_mbuf* m[kMax];
  unsigned k = 0;
  for (; k < n && k < kMax; k++)
    if (!(m[k] = mbuf(frame))) break;  // pool momentarily empty
  unsigned done = port(port_no).inject(m, k);
  for (unsigned i = done; i < k; i++) rte_pktmbuf_free(m[i]);  // ring full: the caller retries
  return done;
}

std::vector<Frame> DpRig::collect(unsigned port_no, unsigned want, int ms) {
  std::vector<Frame> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (out.size() < want && std::chrono::steady_clock::now() < deadline)
    if (!drain(port_no, &out)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return out;
}

unsigned DpRig::drain(unsigned port_no, std::vector<Frame>* frames) {
  unsigned total = 0, n;
  rte_mbuf* m[32];
  while ((n = port(port_no).collect(m, 32)) > 0) {
    for (unsigned i = 0; i < n; i++) {
      if (frames) frames->push_back(mbuf_bytes(m[i]));
      rte_pktmbuf_free(m[i]);
    }
    total += n;
  }
  return total;
}

int DpRig::put(const std::string& match, const std::string& actions, uint64_t ufid) {
  return dp->put_flow(flow_spec(match, actions, ufid));
}

}  // namespace dps::test
