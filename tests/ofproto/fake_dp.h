// fake_dp.h - a DpInterface without EAL or PMDs for the miss-path and
// revalidator unit tests: upcalls are queued by the test, installs /
// executions / modifications / removals and meter changes are recorded, flow
// and meter counters are set by the test, and packets are heap-made rte_mbuf
// structs (never given to DPDK).
#pragma once

#include <rte_mbuf.h>

#include <cerrno>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dp_interface.h"
#include "flow_key.h"

namespace dps::test {

struct FakeMbuf {
  rte_mbuf m;
  std::vector<uint8_t> bytes;
};

class FakeDp final : public ofproto::DpInterface {
 public:
  struct Flow {
    datapath::FlowSpec spec;
    unsigned pmd;
    datapath::FlowStats stats;
  };
  struct Exec {
    unsigned pmd;
    uint32_t in_port;
    unsigned n;
    datapath::DpActions actions;
  };

  explicit FakeDp(unsigned n_pmds = 2) : queues_(n_pmds) {}

  // A packet as a PMD would hand it up.
  rte_mbuf* packet(const std::vector<uint8_t>& frame) {
    auto fm = std::make_unique<FakeMbuf>();
    fm->bytes = frame;
    std::memset(&fm->m, 0, sizeof fm->m);
    fm->m.buf_addr = fm->bytes.data();
    fm->m.data_off = 0;
    fm->m.data_len = static_cast<uint16_t>(frame.size());
    fm->m.pkt_len = static_cast<uint32_t>(frame.size());
    fm->m.nb_segs = 1;
    rte_mbuf* m = &fm->m;
    mbufs_.push_back(std::move(fm));
    live_++;
    return m;
  }
  void miss(unsigned pmd, uint32_t in_port, const std::vector<uint8_t>& frame) {
    datapath::Upcall u{};
    u.hash = datapath::flow_key_extract(frame.data(), static_cast<uint32_t>(frame.size()), in_port, &u.key);
    u.pkt = packet(frame);
    u.pmd = static_cast<uint16_t>(pmd);
    u.reason = datapath::UpcallReason::kMiss;
    queues_[pmd].push_back(u);
  }
  void userspace(unsigned pmd, uint32_t in_port, const std::vector<uint8_t>& frame, uint32_t cookie) {
    miss(pmd, in_port, frame);
    queues_[pmd].back().reason = datapath::UpcallReason::kUserspace;
    queues_[pmd].back().cookie = cookie;
  }
  // A kSample action's copy of a packet (slot, cookie).
  void sample(unsigned pmd, uint32_t in_port, const std::vector<uint8_t>& frame, uint16_t slot,
              const datapath::DpSampleCookie& cookie) {
    miss(pmd, in_port, frame);
    queues_[pmd].back().reason = datapath::UpcallReason::kSample;
    queues_[pmd].back().cookie = slot;
    queues_[pmd].back().sample = cookie;
  }
  // What a PMD does with `copies` packets executed by execs[exec] when its
  // actions send to the controller: hands them up with the userspace
  // action's cookie. False (nothing queued) when there is no such action.
  bool hand_up(size_t exec, unsigned pmd, uint32_t in_port, const std::vector<uint8_t>& frame,
               unsigned copies = 1) {
    if (exec >= execs.size()) return false;
    const datapath::DpActions& a = execs[exec].actions;
    for (unsigned i = 0; i < a.n; i++) {
      if (a.acts[i].type != datapath::ActType::kUserspace) continue;
      for (unsigned c = 0; c < copies; c++) userspace(pmd, in_port, frame, a.acts[i].arg32);
      return true;
    }
    return false;
  }

  unsigned n_pmds() const override { return static_cast<unsigned>(queues_.size()); }
  unsigned drain_upcalls(unsigned pmd, datapath::Upcall* out, unsigned n) override {
    unsigned k = 0;
    while (k < n && !queues_[pmd].empty()) {
      out[k++] = queues_[pmd].front();
      queues_[pmd].pop_front();
    }
    return k;
  }
  int post_install(unsigned pmd, const datapath::FlowSpec& spec) override {
    if (fail_installs) return -E2BIG;
    installs.push_back({spec, pmd, {}});
    flows[spec.ufid] = Flow{spec, pmd, {}};
    return 0;
  }
  bool post_execute(unsigned pmd, uint32_t in_port, rte_mbuf* const*, unsigned n,
                    const datapath::DpActions& actions) override {
    execs.push_back({pmd, in_port, n, actions});
    live_ -= n;
    return true;
  }
  int post_modify(uint64_t ufid, const datapath::DpActions& actions) override {
    auto it = flows.find(ufid);
    if (it == flows.end()) return -ENOENT;
    it->second.spec.actions = actions;
    modifies.push_back(ufid);
    return 0;
  }
  int post_remove(uint64_t ufid) override {
    removes.push_back(ufid);
    return flows.erase(ufid) ? 0 : -ENOENT;
  }
  void barrier() override { barriers++; }
  std::optional<datapath::FlowStats> flow_stats(uint64_t ufid) const override {
    auto it = flows.find(ufid);
    if (it == flows.end()) return std::nullopt;
    return it->second.stats;
  }
  unsigned poll() override { return 0; }
  std::vector<datapath::InstallFailure> take_failed_installs() override {
    std::vector<datapath::InstallFailure> out;
    out.swap(failed);
    return out;
  }
  void free_packets(rte_mbuf* const*, unsigned n) override {
    freed += n;
    live_ -= n;
  }

  int set_meter(uint32_t id, const datapath::DpMeterConfig& cfg) override {
    if (id >= datapath::kMaxMeters) return -EINVAL;
    meters[id] = cfg;
    meter_ops.push_back("set:" + std::to_string(id));
    return 0;
  }
  int del_meter(uint32_t id) override {
    meter_ops.push_back("del:" + std::to_string(id));
    return meters.erase(id) ? 0 : -ENOENT;
  }
  std::optional<datapath::DpMeterStats> meter_stats(uint32_t id) const override {
    if (!meters.count(id)) return std::nullopt;
    auto it = meter_counters.find(id);
    return it == meter_counters.end() ? datapath::DpMeterStats{} : it->second;
  }

  // Packets handed to the slow path and not yet given back.
  long live() const { return live_; }

  std::vector<Flow> installs;
  std::map<uint64_t, Flow> flows;
  std::vector<Exec> execs;
  std::vector<uint64_t> modifies;
  std::vector<uint64_t> removes;
  std::vector<datapath::InstallFailure> failed;
  unsigned barriers = 0;
  unsigned freed = 0;
  bool fail_installs = false;
  std::map<uint32_t, datapath::DpMeterConfig> meters;          // by datapath meter id
  std::map<uint32_t, datapath::DpMeterStats> meter_counters;   // set by the test
  std::vector<std::string> meter_ops;                          // "set:ID" / "del:ID", in order

 private:
  std::vector<std::deque<datapath::Upcall>> queues_;
  std::vector<std::unique_ptr<FakeMbuf>> mbufs_;
  long live_ = 0;
};

}  // namespace dps::test
