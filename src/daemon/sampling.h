// sampling.h - the bridges' sFlow agents: Bridge.sflow rows in, sFlow v5
// datagrams to the collectors out (docs/visibility.md).
//
// What: SamplingAgents keeps one SflowAgent per bridge whose sflow column
//   names a valid sFlow row. Configuring one checks the row (sflow_settings:
//   a bad value is logged with the column, the value and the reason, and
//   that bridge's sampling stays as it was), gives the sampler a datapath
//   slot and sets the bridge's BridgeSampler (Ofproto::set_sampling: the
//   megaflows are re-translated with kSample first). run(), once per control
//   loop round, takes the samples the miss path queued
//   (UpcallHandler::take_samples), turns each into a flow sample (raw
//   header cut to `header` bytes, sampling rate, the slot's sample pool and
//   drops from the datapath, input and output interface), polls each port's
//   counters every `polling` seconds into counter samples, and sends the
//   datagrams to every target (UdpExporter) at most every kFlushMs.
// Design: as OVS's dpif-sflow, the sampler is the bridge: flow samples have
//   data source 0 (ifIndex type) and one sequence; the interface numbers
//   (input, output, counter sources) are datapath port numbers. The agent
//   address is the `agent` column (an IP address, or a network device whose
//   first address is used), else the source address the kernel would pick
//   for the first target. Defaults as OVS: sampling 400, polling 30 s,
//   header 128 bytes, target port 6343.
// Thread-safety: the control thread only (it owns the bridges, the miss
//   path and the datapath's control API).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "desired_config.h"
#include "sflow.h"
#include "udp_exporter.h"
#include "upcall_handler.h"

namespace dps::datapath {
class Datapath;
}
namespace dps::ofproto {
class BridgeSet;
class Ofproto;
}

namespace dps::daemon {

inline constexpr int64_t kSflowDefaultSampling = 400;
inline constexpr int64_t kSflowDefaultPolling = 30;
inline constexpr int64_t kSflowDefaultHeader = 128;
inline constexpr int64_t kFlushMs = 100;

// An sFlow row, checked.
struct SflowSettings {
  std::vector<std::string> targets;  // "IP:PORT"
  uint32_t sampling = kSflowDefaultSampling;
  uint32_t polling_s = kSflowDefaultPolling;  // 0: no counter samples
  uint32_t header = kSflowDefaultHeader;
  exporter::IpAddress agent;
};

// nullopt with *error ("sFlow: <column>=<value>: <reason>") when a value
// is out of range, a target does not parse or no agent address is found.
std::optional<SflowSettings> sflow_settings(const SflowWant& w, std::string* error);

class SflowAgent {
 public:
  // Throws std::invalid_argument (a target the exporter refuses).
  SflowAgent(const SflowSettings& s, uint16_t slot, datapath::Datapath& dp);

  void add_sample(const ofproto::SampleEvent& e);
  // Counter samples of the bridge's datapath ports when polling is due.
  void poll(const ofproto::Ofproto& ofp, int64_t now_ms);
  // Sends what is pending (every kFlushMs). Returns datagrams sent.
  unsigned flush(int64_t now_ms, bool force = false);
  nlohmann::json show() const;
  const SflowSettings& settings() const { return s_; }
  uint16_t slot() const { return slot_; }

 private:
  datapath::SampleCounters counters() const;  // the slot's, since this agent began

  SflowSettings s_;
  uint16_t slot_;
  datapath::Datapath& dp_;
  datapath::SampleCounters base_;  // the slot's counters when this agent began
  exporter::SflowEncoder enc_;
  exporter::UdpExporter out_;
  int64_t start_ms_ = -1;
  int64_t last_flush_ms_ = 0;
  int64_t next_poll_ms_ = 0;
  uint64_t flow_samples_ = 0;
  uint64_t counter_samples_ = 0;
};

class SamplingAgents {
 public:
  SamplingAgents(datapath::Datapath& dp, ofproto::BridgeSet& bridges);
  ~SamplingAgents();

  // A bridge's row(s) as the reconciler applied them (ofp null: the bridge
  // is going). Errors are logged; the bridge keeps its previous sampling.
  void apply(const BridgeWant& b, ofproto::Ofproto* ofp);
  // One control-loop round: samples, polling, sends. Returns work done.
  unsigned run(int64_t now_ms);
  // dpsctl sflow/show: each bridge's agent (or its error) and counters.
  nlohmann::json show() const;

 private:
  struct PerBridge {
    std::optional<SflowWant> sflow_want;  // as last applied
    std::unique_ptr<SflowAgent> sflow;
    std::string sflow_error;
  };
  void apply_sflow(const std::string& name, PerBridge& pb, const std::optional<SflowWant>& w,
                   ofproto::Ofproto& ofp);
  std::optional<uint16_t> take_slot();

  datapath::Datapath& dp_;
  ofproto::BridgeSet& bridges_;
  std::map<std::string, PerBridge> by_bridge_;
  std::vector<bool> slot_used_;
  std::map<uint16_t, SflowAgent*> sflow_by_slot_;
  uint64_t unclaimed_ = 0;  // samples of no agent (a sampler removed in flight)
};

class ConfigDaemon;
// Applies the bridges the reconciler already applied and hooks `s` to its
// later changes (nothing without a config store).
void attach_sampling(SamplingAgents& s, ofproto::BridgeSet& bridges, ConfigDaemon& confd);
void detach_sampling(ConfigDaemon& confd);

}  // namespace dps::daemon
