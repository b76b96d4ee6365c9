// dpsbench: the testpmd-style traffic generator and receiver (see
// docs/dpsbench.md). Exit codes: 0 traffic flowed; 1 bad command line or
// profile; 2 setup failed (EAL, port, link timeout); 3 run timeout; 4 the run
// ended but no traffic was sent or received.
#include <rte_eal.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "cli.h"
#include "eal.h"
#include "engine.h"
#include "report.h"

using namespace dps::dpsbench;

namespace {
void on_signal(int) { Engine::interrupt(); }

// DPDK leaves its runtime directory (/var/run/dpdk/<file-prefix>) behind;
// dpsbench runs often, each time with a fresh prefix, so remove ours on exit
// (after rte_eal_cleanup: this object is declared before the Eal).
struct RuntimeDirCleanup {
  std::string dir;
  ~RuntimeDirCleanup() {
    if (dir.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("dpsbench"));
  CliOptions cli;
  try {
    cli = parse_cli(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dpsbench: %s\n", e.what());
    return 1;
  }
  if (cli.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  spdlog::set_level(cli.verbose ? spdlog::level::info : spdlog::level::warn);
  cli.engine.progress = !cli.quiet && !cli.json && !cli.progress_forced_off && isatty(STDOUT_FILENO);

  RuntimeDirCleanup runtime_dir;
  std::unique_ptr<dps::netdev::Eal> eal;
  nlohmann::json results;
  bool timed_out = false;
  try {
    dps::netdev::EalOptions eo;
    eo.args = eal_args(cli, static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN)), getpid());
    eal = std::make_unique<dps::netdev::Eal>("dpsbench", eo);
    runtime_dir.dir = rte_eal_get_runtime_dir();
  } catch (const CliError& e) {
    std::fprintf(stderr, "dpsbench: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dpsbench: %s\n", e.what());
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    Engine engine(cli.engine);
    results = engine.run();
    timed_out = engine.timed_out();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dpsbench: %s\n", e.what());
    return 2;
  }
  if (cli.json) std::printf("%s\n", results.dump(2).c_str());
  if (!cli.json_out.empty()) {
    std::ofstream(cli.json_out) << results.dump(2) << "\n";
  }
  if (!cli.quiet) print_summary(results, cli.json ? stderr : stdout);
  if (!cli.plot.empty()) {
    try {
      for (const auto& f : write_plots(results, cli.plot)) std::fprintf(stderr, "dpsbench: wrote %s\n", f.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dpsbench: plot: %s\n", e.what());
    }
  }
  if (timed_out) {
    std::fprintf(stderr, "dpsbench: run timeout reached\n");
    return 3;
  }
  const auto& t = results["total"];
  bool flowed = cli.engine.mode == Mode::kTxOnly ? t["tx_packets"].get<uint64_t>() > 0
                                                 : t["rx_packets"].get<uint64_t>() > 0;
  if (!flowed) {
    std::fprintf(stderr, "dpsbench: no traffic %s\n", cli.engine.mode == Mode::kTxOnly ? "sent" : "received");
    return 4;
  }
  return 0;
}
