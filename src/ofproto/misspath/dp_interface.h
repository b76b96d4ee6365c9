// dp_interface.h - the part of the datapath the miss path and the
// revalidator use, as an interface.
//
// What: DpInterface is what UpcallHandler and Revalidator call: drain the
// miss rings, post installs / executions / modifications / removals, a
// barrier, per-flow counters, completion reaping, freeing packets, meters.
// DatapathDp forwards each call to a real datapath::Datapath; unit tests
// substitute a fake that records the calls and needs no EAL.
//
// Design: a virtual call per control-plane operation (per miss group, per
// flow change), never per packet on a PMD. Ownership of packets follows
// Datapath: post_execute() always takes them; free_packets() gives back
// packets the slow path consumed itself (packet-ins, errors).
//
// Thread-safety: the ofproto thread only, like Datapath's control API.
#pragma once

#include <optional>
#include <vector>

#include "datapath.h"

namespace dps::ofproto {

class DpInterface {
 public:
  virtual ~DpInterface() = default;
  virtual unsigned n_pmds() const = 0;
  virtual unsigned drain_upcalls(unsigned pmd, datapath::Upcall* out, unsigned n) = 0;
  virtual int post_install(unsigned pmd, const datapath::FlowSpec& spec) = 0;
  virtual bool post_execute(unsigned pmd, uint32_t in_port, rte_mbuf* const* pkts, unsigned n,
                            const datapath::DpActions& actions) = 0;
  // Install and execute in one go (Datapath::post_install_execute): always
  // takes the packets. The default posts the two separately (fakes).
  virtual int post_install_execute(unsigned pmd, const datapath::FlowSpec& spec, uint32_t in_port,
                                   rte_mbuf* const* pkts, unsigned n) {
    int rc = post_install(pmd, spec);
    if (n) post_execute(pmd, in_port, pkts, n, spec.actions);
    return rc;
  }
  virtual int post_modify(uint64_t ufid, const datapath::DpActions& actions) = 0;
  virtual int post_remove(uint64_t ufid) = 0;
  virtual void barrier() = 0;
  virtual std::optional<datapath::FlowStats> flow_stats(uint64_t ufid) const = 0;
  virtual unsigned poll() = 0;
  virtual std::vector<datapath::InstallFailure> take_failed_installs() = 0;
  virtual void free_packets(rte_mbuf* const* pkts, unsigned n) = 0;
  // Meters (Datapath::set_meter / del_meter / meter_stats; synchronous).
  virtual int set_meter(uint32_t id, const datapath::DpMeterConfig& cfg) = 0;
  virtual int del_meter(uint32_t id) = 0;
  virtual std::optional<datapath::DpMeterStats> meter_stats(uint32_t id) const = 0;
  // Bonds (Datapath::set_bond / del_bond / bond_bucket_tx; synchronous).
  // A datapath without bonds (test fakes) accepts and counts nothing.
  virtual int set_bond(uint32_t, const datapath::DpBondConfig&) { return 0; }
  virtual int del_bond(uint32_t) { return 0; }
  virtual std::vector<uint64_t> bond_bucket_tx(uint32_t) const { return {}; }
};

class DatapathDp final : public DpInterface {
 public:
  explicit DatapathDp(datapath::Datapath& dp) : dp_(dp) {}
  unsigned n_pmds() const override { return dp_.n_pmds(); }
  unsigned drain_upcalls(unsigned pmd, datapath::Upcall* out, unsigned n) override {
    return dp_.drain_upcalls(pmd, out, n);
  }
  int post_install(unsigned pmd, const datapath::FlowSpec& spec) override {
    return dp_.post_install(pmd, spec);
  }
  bool post_execute(unsigned pmd, uint32_t in_port, rte_mbuf* const* pkts, unsigned n,
                    const datapath::DpActions& actions) override {
    return dp_.post_execute(pmd, in_port, pkts, n, actions);
  }
  int post_install_execute(unsigned pmd, const datapath::FlowSpec& spec, uint32_t in_port,
                           rte_mbuf* const* pkts, unsigned n) override {
    return dp_.post_install_execute(pmd, spec, in_port, pkts, n);
  }
  int post_modify(uint64_t ufid, const datapath::DpActions& actions) override {
    return dp_.post_modify(ufid, actions);
  }
  int post_remove(uint64_t ufid) override { return dp_.post_remove(ufid); }
  void barrier() override { dp_.barrier(); }
  std::optional<datapath::FlowStats> flow_stats(uint64_t ufid) const override {
    return dp_.flow_stats(ufid);
  }
  unsigned poll() override { return dp_.poll(); }
  std::vector<datapath::InstallFailure> take_failed_installs() override {
    return dp_.take_failed_installs();
  }
  void free_packets(rte_mbuf* const* pkts, unsigned n) override;
  int set_meter(uint32_t id, const datapath::DpMeterConfig& cfg) override {
    return dp_.set_meter(id, cfg);
  }
  int del_meter(uint32_t id) override { return dp_.del_meter(id); }
  std::optional<datapath::DpMeterStats> meter_stats(uint32_t id) const override {
    return dp_.meter_stats(id);
  }
  int set_bond(uint32_t id, const datapath::DpBondConfig& cfg) override { return dp_.set_bond(id, cfg); }
  int del_bond(uint32_t id) override { return dp_.del_bond(id); }
  std::vector<uint64_t> bond_bucket_tx(uint32_t id) const override { return dp_.bond_bucket_tx(id); }

 private:
  datapath::Datapath& dp_;
};

}  // namespace dps::ofproto
