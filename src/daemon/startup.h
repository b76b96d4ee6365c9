// startup.h - dpswitchd's start-up steps, in the order main() takes them:
// the command line, the datapath's configuration, the start-up ports and
// static flows, the start-up bridge with its rules, the control thread's
// priority.
//
// What: each step reads the DaemonConfig and builds or fills one part; the
//   composition root (src/main.cc) owns the parts and wires them together.
//   A step that must stop the daemon logs why and returns false / nullopt
//   (exit status 2); a port or flow that cannot be had is logged and left
//   out (the daemon carries on without it).
// Design: free functions over the parts, so main() shows the whole start-up
//   at a glance and each step can be read alone.
// Thread-safety: the main (control) thread, before the PMDs start.
#pragma once

#include <optional>
#include <string>

#include "../datapath/datapath.h"
#include "daemon_config.h"

namespace dps::ofproto {
struct BackerConfig;
class BridgeSet;
}  // namespace dps::ofproto

namespace dps::daemon {

// The start-up bridge: the --vdev / config-file ports and --openflow targets.
inline constexpr const char* kStartupBridge = "br0";

// The parsed command line; nullopt when the daemon should exit with
// *exit_code (usage printed: 0 for --help, 2 for an error).
std::optional<DaemonConfig> command_line(int argc, char** argv, int* exit_code);
// PMD lcores (checked against the EAL's), mbufs sized for the ports, flow
// limits. Call after the EAL is up; nullopt when no valid PMD core is left.
std::optional<datapath::DatapathConfig> datapath_config(const DaemonConfig& cfg);
// The configured ports (a port that fails to open is logged and skipped).
void open_startup_ports(datapath::Datapath& dp, const DaemonConfig& cfg);
// The config file's static datapath flows (ufids 1, 2, ...).
void install_static_flows(datapath::Datapath& dp, const DaemonConfig& cfg);
ofproto::BackerConfig backer_config(const DaemonConfig& cfg);
// The start-up bridge over every datapath port (same numbers). Its rules: the
// --rules file; else, without an OpenFlow target, a learning switch
// (priority=0,actions=NORMAL); with one, an empty table (the controller
// fills it). False when the rules file cannot be loaded.
bool add_startup_bridge(ofproto::BridgeSet& bridges, const DaemonConfig& cfg);
// The control thread's priority (--nice): setpriority() on this thread, and
// the same value as the autogroup nice of the daemon's session, which is
// what weighs against other sessions' processes when autogroups are on.
void apply_priority(int nice);

}  // namespace dps::daemon
