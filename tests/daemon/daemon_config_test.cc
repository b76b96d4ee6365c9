// dpswitchd start-up configuration: command line over file over defaults,
// --vdev devices becoming ports 1..n, and precise errors for bad input.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "daemon/daemon_config.h"

using namespace dps::daemon;

namespace {

DaemonConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "dpswitchd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string write_file(const std::string& text) {
  char name[] = "/tmp/dps-cfg-XXXXXX";
  int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

}  // namespace

TEST_CASE("EAL --vdev devices become ports 1..n in order", "[daemon]") {
  auto cfg = parse({"-l", "0,1", "--vdev", "net_pcap0,rx_pcap=a.pcap", "--vdev", "net_null1", "--",
                    "--openflow", "ptcp:6653:127.0.0.1", "--mbufs", "70000"});
  REQUIRE(cfg.ports.size() == 2);
  CHECK(cfg.ports[0].first == 1);
  CHECK(cfg.ports[0].second.devargs == "net_pcap0,rx_pcap=a.pcap");
  CHECK(cfg.ports[1].first == 2);
  CHECK(cfg.openflow == std::vector<std::string>{"ptcp:6653:127.0.0.1"});
  CHECK(cfg.mbufs == 70000);
  CHECK(cfg.eal.front() == "-l");
}

TEST_CASE("the command line overrides the config file", "[daemon]") {
  std::string f = write_file(R"({
    // comments are allowed
    "eal": ["-l", "0-3"], "pmd_cores": [2, 3], "mbufs": 1000, "max_flows": 5,
    "ports": [{"name": "a", "devargs": "net_ring0", "port_no": 4}],
    "flows": [{"match": "in_port=4", "actions": "drop"}]
  })");
  auto cfg = parse({"--", "--config", f, "--pmd-cores", "1", "--max-flows", "9"});
  CHECK(cfg.eal == std::vector<std::string>{"-l", "0-3"});
  CHECK(cfg.pmd_cores == std::vector<unsigned>{1});
  CHECK(cfg.max_flows == 9);
  CHECK(cfg.mbufs == 1000);
  REQUIRE(cfg.ports.size() == 1);
  CHECK(cfg.ports[0].first == 4);
  CHECK(cfg.flows.size() == 1);
  auto cfg2 = parse({"-l", "0,1", "--", "--config", f});
  CHECK(cfg2.eal == std::vector<std::string>{"-l", "0,1"});  // EAL from the CLI wins
  std::remove(f.c_str());
}

TEST_CASE("bad configuration is reported precisely", "[daemon]") {
  CHECK_THROWS_WITH(parse({"--", "--frobnicate"}), Catch::Contains("unknown option '--frobnicate'"));
  CHECK_THROWS_WITH(parse({"--", "--mbufs"}), Catch::Contains("--mbufs needs a value"));
  CHECK_THROWS_WITH(parse({"--", "--duration", "abc"}), Catch::Contains("not a non-negative number"));
  CHECK_THROWS_WITH(parse({"--", "--config", "/nonexistent.json"}), Catch::Contains("cannot open"));
  std::string f = write_file(R"({"ports": [{"name": "a"}]})");
  CHECK_THROWS_WITH(parse({"--", "--config", f}), Catch::Contains("ports[0] (a): missing 'devargs'"));
  std::ofstream(f) << R"({"portz": []})";
  CHECK_THROWS_WITH(parse({"--", "--config", f}), Catch::Contains("unknown key 'portz'"));
  std::ofstream(f) << R"({"ports": [{"name": "a", "devargs": "x"}, {"name": "a", "devargs": "y"}]})";
  CHECK_THROWS_WITH(parse({"--", "--config", f}), Catch::Contains("duplicate port name a"));
  std::ofstream(f) << R"({"mbufs": "many"})";
  CHECK_THROWS_WITH(parse({"--", "--config", f}), Catch::Contains("mbufs: wrong type"));
  std::ofstream(f) << "{ not json";
  CHECK_THROWS_WITH(parse({"--", "--config", f}), Catch::Contains("invalid JSON"));
  std::remove(f.c_str());
}
