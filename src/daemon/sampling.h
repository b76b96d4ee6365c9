// sampling.h - the bridges' sFlow agents and IPFIX exporters: Bridge.sflow /
// Bridge.ipfix rows in, sFlow v5 datagrams and IPFIX messages to the
// collectors out (docs/visibility.md).
//
// What: SamplingAgents keeps one SflowAgent per bridge whose sflow column
//   names a valid sFlow row, and one IpfixAgent per valid IPFIX row. Configuring one checks the row (sflow_settings:
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
#include "flow_cache.h"
#include "ipfix.h"
#include "netflow_v5.h"
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
inline constexpr int64_t kIpfixDefaultSampling = 400;
inline constexpr int64_t kNetflowDefaultActiveTimeout = 600;  // seconds (NetFlow.active_timeout 0)
inline constexpr uint64_t kNetflowIdleMs = 15000;

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

// An IPFIX row, checked.
struct IpfixSettings {
  std::vector<std::string> targets;  // "IP:PORT"
  uint32_t sampling = kIpfixDefaultSampling;
  uint32_t obs_domain = 0, obs_point = 0;
  uint32_t cache_active_timeout_s = 0;  // with cache_max_flows: 0 = no cache
  uint32_t cache_max_flows = 0;
  // other_config enable-input-sampling / enable-output-sampling, as OVS:
  // both on unless set to "true".
  bool input = true, output = true;
  bool caching() const { return cache_active_timeout_s && cache_max_flows; }
};

// nullopt with *error ("IPFIX: <column>=<value>: <reason>").
std::optional<IpfixSettings> ipfix_settings(const IpfixWant& w, std::string* error);

// An IPFIX exporter. The bridge's (Bridge.ipfix): input samples make
// ingress records, output samples (kSampleEgress) egress records of their
// port; each sample a record at
// once (no cache, as OVS without cache_active_timeout / cache_max_flows), or
// aggregated in the flow cache (active timeout, max flows) and exported as
// flows end; counts are scaled by the sampling rate (records estimate the
// traffic). A Flow_Sample_Collector_Set's (per_flow: OpenFlow sample()
// actions): each sample a record scaled by its action's rate, in messages
// of the action's observation domain; the row's sampling, ids and cache
// settings are the bridge sampler's and do not apply (as OVS).
class IpfixAgent {
 public:
  IpfixAgent(const IpfixSettings& s, uint16_t slot, bool per_flow = false);
  ~IpfixAgent();
  void add_sample(const ofproto::SampleEvent& e, uint64_t now_epoch_ms);
  unsigned flush(uint64_t now_epoch_ms, bool force = false);
  nlohmann::json show() const;
  uint16_t slot() const { return slot_; }

 private:
  exporter::IpfixEncoder& encoder(uint32_t domain);

  IpfixSettings s_;
  uint16_t slot_;
  bool per_flow_;
  std::unique_ptr<exporter::FlowCache> cache_;
  std::map<uint32_t, exporter::IpfixEncoder> enc_;  // by observation domain
  exporter::UdpExporter out_;
  std::map<uint32_t, std::vector<exporter::FlowRecord>> pending_;  // by observation domain
  uint64_t last_flush_ms_ = 0;
  uint64_t samples_ = 0, records_ = 0;
};

// A NetFlow row, checked.
struct NetflowSettings {
  std::vector<std::string> targets;  // "IP:PORT"
  uint8_t engine_type = 0, engine_id = 0;
  int64_t active_timeout_s = kNetflowDefaultActiveTimeout;  // -1: none
};

// nullopt with *error ("NetFlow: <column>=<value>: <reason>").
std::optional<NetflowSettings> netflow_settings(const NetflowWant& w, std::string* error);

// The bridge's NetFlow v5 exporter, as OVS's netflow.c: not sampled; every
// megaflow's traffic (FlowStatsHook: the miss path's first packets, then
// the revalidator's counter deltas) adds to its IPv4 flow (in / out port,
// addresses, protocol, TOS, ports; translation pins them), and a record
// goes out every active_timeout for an active flow and when a flow has
// been idle kNetflowIdleMs.
class NetflowAgent {
 public:
  NetflowAgent(const NetflowSettings& s, uint64_t now_epoch_ms);
  void account(const datapath::FlowKey& key, const datapath::DpActions& actions, uint64_t packets,
               uint64_t bytes, uint64_t now_epoch_ms);
  unsigned flush(uint64_t now_epoch_ms);
  nlohmann::json show() const;

 private:
  struct Key {
    uint32_t in_if, out_if, src, dst;
    uint8_t proto, tos;
    uint16_t src_port, dst_port;
    auto operator<=>(const Key&) const = default;
  };
  struct Flow {
    exporter::FlowRecord rec;   // packets / bytes since the last record
    uint64_t window_ms = 0;     // when the current record began (active timeout)
  };
  NetflowSettings s_;
  exporter::NetflowV5Encoder enc_;
  exporter::UdpExporter out_;
  std::map<Key, Flow> flows_;
  std::vector<exporter::FlowRecord> pending_;
  uint64_t last_flush_ms_ = 0;
  uint64_t records_ = 0, datagrams_ = 0;
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
  // dpsctl sflow/show, ipfix/show: each bridge's agent (or its error) and counters.
  nlohmann::json show_sflow() const;
  nlohmann::json show_ipfix() const;
  nlohmann::json show_netflow() const;

 private:
  template <typename Agent>
  struct Slotted {
    std::unique_ptr<Agent> agent;
    std::string error;
  };
  struct PerBridge {
    std::optional<SflowWant> sflow_want;  // as last applied
    Slotted<SflowAgent> sflow;
    std::optional<IpfixWant> ipfix_want;
    Slotted<IpfixAgent> ipfix;
    std::optional<NetflowWant> netflow_want;
    Slotted<NetflowAgent> netflow;
    std::map<uint32_t, IpfixWant> set_wants;           // Flow_Sample_Collector_Set, as last applied
    std::map<uint32_t, Slotted<IpfixAgent>> sets;      // by collector_set_id
  };
  void apply_flow_sets(const std::string& bridge, PerBridge& pb, const std::map<uint32_t, IpfixWant>& wants,
                       ofproto::Ofproto& ofp);
  void apply_netflow(const std::string& bridge, PerBridge& pb, const std::optional<NetflowWant>& w,
                     ofproto::Ofproto& ofp);
  void account(const datapath::FlowKey& key, const datapath::DpActions& actions, uint64_t packets,
               uint64_t bytes);
  // A new agent in sl from make(slot) (its slot kept, else a free one;
  // make may throw std::invalid_argument), or an error (settings: `error`
  // non-empty) logged with sl as it was. Returns whether sl has a new agent.
  template <typename Agent, typename Make>
  bool replace_agent(const std::string& bridge, const std::string& what, Slotted<Agent>& sl, std::string error,
                     Make make, PerBridge* pb);
  // One sampler of one bridge: off (!on), or replace_agent() and the
  // bridge's sampler set from it.
  template <typename Agent, typename Make>
  void reconfigure(const std::string& bridge, const char* what, Slotted<Agent>& sl, bool on, std::string error,
                   Make make, ofproto::BridgeSampler sampler, ofproto::BridgeSampler ofproto::BridgeSampling::*field,
                   ofproto::Ofproto& ofp, PerBridge* pb);
  template <typename Agent>
  static nlohmann::json slotted_json(const std::string& bridge, const Slotted<Agent>& sl);
  template <typename Agent, typename Want>
  nlohmann::json show_kind(const std::optional<Want> PerBridge::*want, const Slotted<Agent> PerBridge::*sampler) const;
  void release(uint16_t slot);
  std::optional<uint16_t> take_slot();
  static IpfixAgent* set_agent(const PerBridge& pb, uint16_t slot);  // the set sampling into slot

  datapath::Datapath& dp_;
  ofproto::BridgeSet& bridges_;
  std::map<std::string, PerBridge> by_bridge_;
  std::vector<bool> slot_used_;
  std::map<uint16_t, PerBridge*> by_slot_;
  size_t netflow_agents_ = 0;
  uint64_t unclaimed_ = 0;  // samples of no agent (a sampler removed in flight)
};

class ConfigDaemon;
// Applies the bridges the reconciler already applied and hooks `s` to its
// later changes (nothing without a config store).
void attach_sampling(SamplingAgents& s, ofproto::BridgeSet& bridges, ConfigDaemon& confd);
void detach_sampling(ConfigDaemon& confd);

}  // namespace dps::daemon
