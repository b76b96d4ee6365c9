// desired_config.h - what the config store asks of the daemon, as plain
// values, and the start-up import of the JSON config file into the store.
//
// What: DesiredConfig is a snapshot of the columns the reconciler acts on
//   (Open_vSwitch.next_cfg / other_config, Bridge, Port, Interface,
//   Controller, Mirror, sFlow, IPFIX, NetFlow), read from the store in one select transaction. It is a
//   value: the RPC thread builds it, the control thread applies it.
//   import_startup_config() fills an empty store from the daemon's start-up
//   configuration (JSON file + --vdev ports) and, on later starts, records
//   the ports over EAL --vdev devices that the store lacks.
// Design: comparison is by value (operator==), so the RPC thread hands a new
//   snapshot to the control thread only when something the daemon acts on
//   changed (or next_cfg moved): the daemon's own write-backs (ofport,
//   statistics, cur_cfg) never trigger a reconfiguration.
// Thread-safety: plain values. The functions taking a ConfigStore run on
//   the store's thread (the RPC io_context thread, or the constructing
//   thread before that one starts).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon_config.h"
#include "bonding.h"
#include "mirror.h"

namespace dps::confdb {
class ConfigStore;
}

namespace dps::daemon {

struct InterfaceWant {
  std::string name;
  std::string type;     // Interface.type ("" counts as dpdk)
  std::string port;     // the owning Port's name
  std::string bridge;   // the owning Bridge's name ("" when no bridge holds it)
  std::map<std::string, std::string> options;
  std::map<std::string, std::string> other_config;
  std::optional<int64_t> ofport_request;
  std::optional<int64_t> mtu_request;
  // Interface.mac (internal ports); for a bridge's own internal port, the
  // Bridge's other_config:hwaddr when set (as OVS).
  std::string mac;
  // From the owning Port row.
  std::optional<int64_t> tag;
  std::vector<int64_t> trunks;
  std::string vlan_mode;
  // A bond member (its Port has several interfaces, or lacp=active/passive):
  // every member's name (sorted) and the Port's bonding columns; empty
  // for a plain port.
  std::vector<std::string> bond_members;
  ofproto::BondColumns bond;
  bool is_bond_member() const { return !bond_members.empty(); }
  // A problem found while reading.
  std::string config_error;
  bool operator==(const InterfaceWant&) const = default;
};

// The sFlow / IPFIX / NetFlow rows a Bridge points to, as stored (checked
// by the sampling agents, sampling.h, which log and show what is wrong).
struct SflowWant {
  std::vector<std::string> targets;  // sorted
  std::optional<int64_t> sampling, polling, header;
  std::string agent;
  bool operator==(const SflowWant&) const = default;
};
struct IpfixWant {
  std::vector<std::string> targets;  // sorted
  std::optional<int64_t> sampling, obs_domain_id, obs_point_id, cache_active_timeout, cache_max_flows;
  std::map<std::string, std::string> other_config;
  bool operator==(const IpfixWant&) const = default;
};
struct NetflowWant {
  std::vector<std::string> targets;  // sorted
  std::optional<int64_t> engine_type, engine_id;
  bool add_id_to_interface = false;
  int64_t active_timeout = 0;
  bool operator==(const NetflowWant&) const = default;
};

struct BridgeWant {
  std::string name;
  std::string fail_mode;                  // "", "standalone" or "secure"
  std::vector<std::string> protocols;     // e.g. OpenFlow13
  std::vector<std::string> controllers;   // Controller.target, sorted
  std::string datapath_type;
  std::map<std::string, std::string> other_config;
  // Bridge.mirrors, sorted by name; ports named by the interface the daemon
  // uses for the referenced Port (its first interface; a Port's name when
  // ovs-vsctl add-port made it). References to Port rows that are gone are
  // dropped (they are weak).
  std::vector<ofproto::MirrorConfig> mirrors;
  // Bridge.sflow / ipfix / netflow (absent: off).
  std::optional<SflowWant> sflow;
  std::optional<IpfixWant> ipfix;
  std::optional<NetflowWant> netflow;
  // Flow_Sample_Collector_Set rows of this bridge that name an IPFIX row:
  // id -> that row (the exporter of sample() actions with that
  // collector_set_id).
  std::map<uint32_t, IpfixWant> flow_sample_sets;
  bool operator==(const BridgeWant&) const = default;
};

struct DesiredConfig {
  int64_t next_cfg = 0;
  std::map<std::string, std::string> other_config;  // Open_vSwitch.other_config
  std::vector<BridgeWant> bridges;                  // sorted by name
  std::vector<InterfaceWant> interfaces;            // sorted by name
  bool operator==(const DesiredConfig&) const = default;
};

// The Interface types dpswitchd supports (Open_vSwitch.iface_types), sorted.
const std::vector<std::string>& supported_iface_types();

// One select transaction over the tables above. Throws confdb::OvsdbError.
DesiredConfig read_desired_config(confdb::ConfigStore& store);

// What import_startup_config() did, for the log.
struct ImportReport {
  bool imported = false;          // the store was empty: the start-up config was imported
  std::vector<std::string> pinned;  // --vdev ports recorded in a non-empty store
  std::vector<std::string> dropped; // ports of an earlier run's --vdev arguments, removed
};

// First start (the store has no Open_vSwitch row): writes the Open_vSwitch
// row (other_config from the start-up settings), bridge `bridge` with its
// internal port and one Port/Interface per start-up port (type dpdk,
// options:dpdk-devargs, ofport_request = its number). Later starts: the
// store is the source of truth, except for the ports over devices named by
// EAL --vdev arguments: such a port is added to the store when no Interface
// has its devargs yet, and is marked external_ids:dpswitch-origin=cmdline;
// marked ports whose device this run's --vdev arguments do not name are
// removed (they were an earlier run's command line, not configuration).
// Settings given on the command line are not recorded. `port_numbers` gives
// the number each start-up port got (0 when it is not open). Throws
// confdb::OvsdbError.
ImportReport import_startup_config(confdb::ConfigStore& store, const DaemonConfig& cfg,
                                   const std::string& bridge,
                                   const std::map<std::string, uint32_t>& port_numbers,
                                   const std::string& version);

// The devargs of the EAL --vdev arguments ("--vdev X" and "--vdev=X").
std::vector<std::string> eal_vdevs(const std::vector<std::string>& eal);

}  // namespace dps::daemon
