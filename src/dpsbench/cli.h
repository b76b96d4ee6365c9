// cli.h - dpsbench's command line: mode, ports, profile flags, run control,
// output options and EAL arguments, parsed into a CliOptions value.
//
// What: parse_cli() never exits or prints; it throws CliError with a precise
// message (which option, which value, what was expected). usage() is the
// --help text. eal_args() builds the EAL argument list: --lcores (main lcore
// floating, one worker per --cores CPU), the process's own --file-prefix,
// --no-pci when every port is a vdev, quiet logging, then the user's
// arguments after "--".
//
// Thread-safety: plain functions on values.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "engine.h"

namespace dps::dpsbench {

class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CliOptions {
  EngineOptions engine;
  std::vector<unsigned> cores;         // CPUs for worker lcores; empty: the last online CPU
  std::string file_prefix;             // empty: dpsbench-<pid>
  std::vector<std::string> eal_extra;  // after "--"
  bool json = false;                   // results JSON on stdout
  std::string json_out;                // ... or into this file
  std::string plot;                    // .png / .svg
  bool quiet = false;
  bool verbose = false;
  bool help = false;
  bool progress_forced_off = false;
};

CliOptions parse_cli(const std::vector<std::string>& args);
std::string usage();
std::vector<std::string> eal_args(const CliOptions& o, unsigned online_cpus, int pid);
// The default ports: two memif clients (ids 0 and 1) on one socket.
std::vector<std::string> default_ports(const std::string& socket = kDefaultMemifSocket);

}  // namespace dps::dpsbench
