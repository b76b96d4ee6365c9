// daemon_config.h - dpswitchd's start-up configuration: the JSON file under
// pmd-config/ plus command-line overrides.
//
// Precedence: command line > config file > built-in defaults. EAL arguments
// given before "--" replace the file's "eal" list entirely; --vdev devices
// given there become ports 1..n in order when the file lists no ports (the
// benchmark contract). docs/user-guide.md documents every key.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../netdev/netdev.h"

namespace dps::daemon {

struct FlowConfig {
  std::string match;    // dp_flow_text.h syntax
  std::string actions;
};

struct DaemonConfig {
  std::vector<std::string> eal;          // EAL arguments
  std::vector<unsigned> pmd_cores;       // empty: every EAL lcore but the main one
  unsigned mbufs = 0;                    // 0: sized from the ports
  uint32_t max_flows = 200000;
  uint32_t emc_insert_inv_prob = 100;
  bool smc = true;
  std::vector<std::pair<uint32_t, netdev::PortConfig>> ports;  // (port_no or 0, config)
  std::vector<FlowConfig> flows;
  std::vector<std::string> openflow;     // --openflow targets (ptcp:/tcp:)
  std::string rules_file;                // ovs-ofctl add-flows file loaded at start
  int64_t flow_idle_ms = 10000;          // idle megaflows are removed after this
  uint64_t flow_limit = 200000;          // megaflows the miss path installs at most
  double churn_rate = 0;                 // debug: flow-mods per second (rule-churn benchmark)
  double sample_tx_ms = 0;               // sample port tx into the summary every N ms (0: off)
  // Scheduling priority of the control (ofproto) thread and of the daemon's
  // autogroup: ovs-ctl's default for ovs-vswitchd (OVS_VSWITCHD_PRIORITY),
  // so the miss path is not starved by management tools sharing its core.
  int nice = -10;
  double duration_s = 0;                 // 0: run until SIGTERM/SIGINT
  double warmup_s = 0;                   // summary window starts after this
  std::string summary_json;              // write the run summary here at exit
  bool summary = false;                  // print a readable summary at exit
  std::string log_level = "info";
  // The config store (docs/config-store.md): JSON-RPC remotes and the store
  // file. Defaults apply when neither is given; an explicitly given one that
  // cannot be used is a fatal error, a default one a warning.
  std::vector<std::string> remotes;      // --remote punix:PATH | ptcp:PORT[:IP] (repeatable)
  std::string db_path;                   // --db FILE
  bool no_db = false;                    // --no-db: run without the config store
  std::vector<std::string> cli_options;  // options given after "--" (they beat the store at start)
  std::string metrics_listen;            // --metrics-listen: Prometheus endpoint (beats other_config)
};

inline constexpr const char* kDefaultRemote = "punix:/var/run/dpswitch/db.sock";
inline constexpr const char* kDefaultDbPath = "/var/lib/dpswitch/conf.db";

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses "dpswitchd [EAL args] [-- options]". Throws ConfigError with a
// message naming the bad option or key.
DaemonConfig parse_command_line(int argc, char** argv);
// Merges a JSON config file (keys documented in docs/user-guide.md).
void load_config_file(const std::string& path, DaemonConfig* cfg, bool eal_from_cli);
std::string usage();

}  // namespace dps::daemon
