// commands.h - dpsctl's command table and its entry point.
//
// What: configuration commands in ovs-vsctl's vocabulary (add-br, add-port,
//   set, get, list, find, show, ...) that become one RFC 7047 transaction,
//   and runtime commands forwarded to the JSON-RPC methods the daemon
//   registers (pmd-stats-show -> "dpif/pmd-stats-show", ...).
// Design: one table (commands.cc): name, argument synopsis, short help,
//   handler, kind. Config commands run against a snapshot of the database
//   read at start; each command appends operations to one transaction and
//   updates the snapshot, so `add-port br0 p1 -- set Interface p1 type=dpdk`
//   sees the row it just created (by its named-uuid). Set and map edits use
//   "mutate" insert/delete, which compose safely with concurrent clients.
//   Unless --no-wait, the transaction also bumps next_cfg and dpsctl waits
//   for the daemon to copy it into cur_cfg (the change is live).
// Thread-safety: single-threaded tool.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace dps::cli {

inline constexpr const char* kDefaultDb = "unix:/var/run/dpswitch/db.sock";

// Exit codes.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,      // the command ran and failed (server error, no such bridge, ...)
  kExitUsage = 2,       // unknown command or bad argument
  kExitNoDaemon = 3,    // cannot connect to the database socket
  kExitTimeout = 4,     // --timeout expired
};

enum class CommandKind { Config, Runtime };

struct CommandInfo {
  const char* name;
  const char* synopsis;
  const char* help;
  CommandKind kind;
};
std::vector<CommandInfo> command_list();

// Runs dpsctl with argv[1..] (options and commands); writes output and
// errors to the given streams; returns the exit code.
int run_dpsctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace dps::cli
