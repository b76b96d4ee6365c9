// ofproto_rig.h - one Ofproto over the fake datapath (fake_dp.h, no EAL),
// the rig of the miss-path, revalidator, meter, channel and handler unit
// tests: ports 1..n are datapath ports 1..n, the clock is the test's
// `now` (or the steady clock), PACKET_OUT buffers come from the fake.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "fake_dp.h"
#include "ofproto.h"

namespace dps::test {

// A config whose packet-ins are limited to `rate` per second with bursts
// of `burst`.
inline ofproto::OfprotoConfig packet_in_limit(double rate, double burst) {
  ofproto::OfprotoConfig c;
  c.upcall.packet_in_rate = rate;
  c.upcall.packet_in_burst = burst;
  return c;
}
// A config whose packet-ins are never rate limited (tests that count them).
inline ofproto::OfprotoConfig unlimited_packet_ins() { return packet_in_limit(1e6, 1e6); }

struct OfprotoRigOptions {
  unsigned n_ports = 3;
  unsigned n_pmds = 1;
  bool test_clock = true;  // false: Ofproto's steady clock (for tests with real timeouts)
};

struct OfprotoRig {
  FakeDp* dp = nullptr;
  int64_t now = 1000;            // ms, when test_clock
  std::vector<rte_mbuf*> sent;   // PACKET_OUT mbufs, in order (the fake keeps them alive)
  std::unique_ptr<ofproto::Ofproto> ofp;

  explicit OfprotoRig(ofproto::OfprotoConfig cfg = {}, OfprotoRigOptions o = {}) {
    auto f = std::make_unique<FakeDp>(o.n_pmds);
    dp = f.get();
    if (o.test_clock) cfg.clock = [this] { return now; };
    cfg.packet_alloc = [this](uint32_t len) {
      rte_mbuf* m = dp->packet(std::vector<uint8_t>(len));
      sent.push_back(m);
      return m;
    };
    ofp = std::make_unique<ofproto::Ofproto>(std::move(f), cfg);
    for (uint32_t i = 1; i <= o.n_ports; i++) ofp->add_port(i, i, "p" + std::to_string(i));
  }

  // ovs-ofctl add-flows text; any error fails the test.
  void rules(const std::string& text) {
    ofproto::MaybeError e = ofp->add_flows(text);
    INFO(text << ": " << (e ? e->message : ""));
    REQUIRE_FALSE(e);
  }
  // One miss on PMD 0, translated; returns the ufid installed.
  uint64_t miss(uint32_t in_port, const std::vector<uint8_t>& frame) {
    size_t before = dp->installs.size();
    dp->miss(0, in_port, frame);
    ofp->run();
    REQUIRE(dp->installs.size() == before + 1);
    return dp->installs.back().spec.ufid;
  }
  // A miss whose translation sends to the controller, executed as the PMD
  // would: the packet comes back up with the userspace action's cookie.
  // After it, ofp->take_packet_ins() holds the packet-in.
  void miss_to_controller(uint32_t in_port, const std::vector<uint8_t>& frame, unsigned pmd = 0) {
    size_t before = dp->execs.size();
    dp->miss(pmd, in_port, frame);
    ofp->run();
    REQUIRE(dp->execs.size() == before + 1);
    REQUIRE(dp->hand_up(before, pmd, in_port, frame));
    ofp->run();
  }
  std::string actions(uint64_t ufid) const {
    return datapath::format_actions(dp->flows.at(ufid).spec.actions);
  }
  bool installed(uint64_t ufid) const { return dp->flows.count(ufid) != 0; }
};

}  // namespace dps::test
