// pmd_rig.h - a PmdThread on the test thread, without EAL: crafted packets
// (mbuf headers over heap buffers), fake ports that record what they are
// given, and flows installed through the PMD's own command ring.
//
// The mbufs have no pool: nothing the rig drives may free one (drop flows,
// copies and expired TTLs need pool mbufs: pmd_stages_eal_test.cc).
#pragma once

#include <rte_mbuf.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dp_flow_text.h"
#include "dp_test_util.h"
#include "flow_key.h"
#include "netdev.h"
#include "packet_builder.h"
#include "pmd_thread.h"

namespace dps::test {

using datapath::DpFlow;
using datapath::PmdCmdType;
using datapath::PmdCommand;
using datapath::PmdThread;

// UDP (or TCP with `tcp_flags`) from 10.0.0.1 to dst, ports sport -> 53.
inline std::vector<uint8_t> frame_to(const char* dst, uint16_t sport = 1000, int tcp_flags = -1) {
  PacketBuilder b;
  b.eth().ipv4("10.0.0.1", dst);
  if (tcp_flags >= 0)
    b.tcp(sport, 53, static_cast<uint8_t>(tcp_flags));
  else
    b.udp(sport, 53);
  return b.payload(18).build();
}

// A port that records the packets sent to it (and never frees them), and
// hands out queued packets on rx queue 0.
class FakePort : public netdev::Netdev {
 public:
  explicit FakePort(std::string name) : Netdev(std::move(name)) {}
  std::string type() const override { return "fake"; }
  netdev::NetdevInfo info() const override { return {}; }
  uint16_t n_rxq() const override { return 1; }
  uint16_t n_txq() const override { return 1; }
  uint16_t rx_burst(uint16_t, rte_mbuf** pkts, uint16_t n) override {
    uint16_t k = 0;
    while (k < n && !rx.empty()) {
      pkts[k++] = rx.front();
      rx.pop_front();
    }
    return k;
  }
  uint16_t tx_burst(unsigned, rte_mbuf** pkts, uint16_t n) override {
    sent.insert(sent.end(), pkts, pkts + n);
    bursts++;
    return n;
  }
  bool link_up() const override { return true; }
  netdev::PortStats stats() const override { return {}; }

  std::deque<rte_mbuf*> rx;
  std::vector<rte_mbuf*> sent;
  unsigned bursts = 0;
};

// One PMD (index 3), ports 1..3 (FakePort), every EMC insert taken.
class PmdRig {
 public:
  explicit PmdRig(uint32_t emc_insert_inv_prob = 1, bool smc = false) {
    datapath::PmdConfig pc;
    pc.index = 3;
    pc.max_flows = 1024;
    pc.emc_insert_inv_prob = emc_insert_inv_prob;
    pc.smc_enabled = smc;
    pmd = std::make_unique<PmdThread>(pc);
    PmdCommand* cmd = new_command(PmdCmdType::kSetPorts);
    cmd->txports.resize(datapath::kMaxPorts);
    for (uint32_t p = 1; p <= 3; p++) {
      ports[p] = std::make_unique<FakePort>("p" + std::to_string(p));
      cmd->txports[p].port = ports[p].get();
    }
    cmd->rxqs.push_back(datapath::RxqRef{ports[1].get(), 1, 0});
    run(cmd);
  }

  PmdCommand* new_command(PmdCmdType type) {
    cmds.push_back(std::make_unique<PmdCommand>());
    cmds.back()->type = type;
    return cmds.back().get();
  }
  // Posts cmd, lets the PMD apply it, reaps it; returns its result.
  int run(PmdCommand* cmd) {
    REQUIRE(pmd->commands().post(cmd));
    pmd->drain_commands();
    PmdCommand* done[4];
    REQUIRE(pmd->commands().reap(done, 4) == 1);
    REQUIRE(done[0] == cmd);
    return cmd->result;
  }
  // A flow from its text form (dp_flow_text.h), installed.
  DpFlow* install(const std::string& match, const std::string& actions) {
    DpFlow* f = make_flow(match, actions);
    PmdCommand* cmd = new_command(PmdCmdType::kInstall);
    cmd->flow = f;
    REQUIRE(run(cmd) == 0);
    return f;
  }
  DpFlow* make_flow(const std::string& match, const std::string& actions) {
    DpFlow* f = pmd->arena().alloc();
    REQUIRE(f != nullptr);
    datapath::parse_flow_match(match, &f->key, &f->mask);
    f->actions = datapath::parse_dp_actions(actions);
    return f;
  }
  // Packets made from frames (kept alive by the rig); returns their pointers.
  std::vector<rte_mbuf*> packets(const std::vector<std::vector<uint8_t>>& frames) {
    std::vector<rte_mbuf*> out;
    for (const auto& f : frames) {
      // Tailroom: the train check reads 64 bytes from the data start, as a
      // pool mbuf allows.
      mbufs.push_back(std::make_unique<FakeMbuf>(f, 128, 64));
      out.push_back(&mbufs.back()->m);
    }
    return out;
  }
  uint64_t counter(datapath::PmdCounter c) const { return pmd->counters().get(c); }
  FakePort& port(uint32_t p) { return *ports[p]; }

  std::unique_ptr<PmdThread> pmd;
  std::map<uint32_t, std::unique_ptr<FakePort>> ports;
  std::vector<std::unique_ptr<PmdCommand>> cmds;
  std::vector<std::unique_ptr<FakeMbuf>> mbufs;
};

// pkts as one burst from in_port, as process_batch gets it.
inline datapath::Burst burst_of(std::vector<rte_mbuf*>& pkts, uint32_t in_port = 1) {
  return datapath::Burst{pkts.data(), static_cast<unsigned>(pkts.size()), in_port};
}

}  // namespace dps::test
