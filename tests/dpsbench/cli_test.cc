// Coverage goal: the command line reaches EngineOptions as documented (mode,
// ports, defaults, profile flags, NDR options), EAL arguments carry our own
// file prefix and lcore layout, and bad input names the option.
#include <catch2/catch.hpp>

#include "cli.h"

using namespace dps::dpsbench;
using Catch::Matchers::Contains;

TEST_CASE("command line parses into engine options", "[dpsbench]") {
  auto o = parse_cli({"flowgen", "--port", "net_memif0,role=client,socket=/s,id=0", "--port=net_null0", "--flows",
                      "64", "--rate", "40%", "--ndr", "--trial", "500ms", "--resolution", "1%", "--pdr-loss",
                      "0.002", "--max-rate", "5mpps", "--cores", "0,1", "--json", "--", "--no-huge", "-m", "1024"});
  CHECK(o.engine.mode == Mode::kFlowgen);
  REQUIRE(o.engine.ports.size() == 2);
  CHECK(o.engine.ports[1] == "net_null0");
  CHECK(o.engine.profile.flows == 64);
  CHECK(o.engine.profile.rate.kind == RateKind::kPercent);
  CHECK(o.engine.ndr);
  CHECK(o.engine.trial_s == Approx(0.5));
  CHECK(o.engine.ndr_opts.resolution == Approx(0.01));
  CHECK(o.engine.ndr_opts.pdr_loss == Approx(0.002));
  CHECK(o.engine.ndr_opts.max_pps == Approx(5e6));
  CHECK(o.cores == std::vector<unsigned>{0, 1});
  CHECK(o.json);
  CHECK(o.eal_extra == std::vector<std::string>{"--no-huge", "-m", "1024"});
  auto eal = eal_args(o, 2, 1234);
  auto has = [&](const std::string& a, const std::string& b) {
    for (size_t i = 0; i + 1 < eal.size(); i++)
      if (eal[i] == a && eal[i + 1] == b) return true;
    return false;
  };
  CHECK(has("--lcores", "0@(0-1),1@0,2@1"));
  CHECK(has("--file-prefix", "dpsbench-1234"));
  CHECK(std::find(eal.begin(), eal.end(), "--no-pci") != eal.end());
  CHECK(eal.back() == "1024");
}

TEST_CASE("command line defaults", "[dpsbench]") {
  auto o = parse_cli({"txonly"});
  CHECK(o.engine.ports == default_ports());
  CHECK(o.engine.ports[0].find("role=client") != std::string::npos);
  CHECK(o.engine.profile.frame_sizes == std::vector<uint16_t>{64});
  auto eal = eal_args(o, 4, 1);
  CHECK(std::find(eal.begin(), eal.end(), "0@(0-3),1@3") != eal.end());
  // A PCI port: no --no-pci.
  auto p = parse_cli({"rxonly", "--port", "0000:03:00.0", "--idle", "1s"});
  auto pe = eal_args(p, 2, 1);
  CHECK(std::find(pe.begin(), pe.end(), "--no-pci") == pe.end());
  // Receivers with a stop condition drop the default 10 s duration.
  CHECK(p.engine.profile.duration_s == 0);
  CHECK(p.engine.idle_stop_s == 1);
}

TEST_CASE("bad command lines name the option", "[dpsbench]") {
  CHECK_THROWS_WITH(parse_cli({}), Contains("no mode given"));
  CHECK_THROWS_WITH(parse_cli({"blast"}), Contains("unknown mode 'blast'"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--nope", "1"}), Contains("unknown option --nope"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--port"}), Contains("--port needs a value"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--burst", "0"}), Contains("--burst: '0'"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--tx-ports", "a,b"}), Contains("--tx-ports: 'a,b'"));
  CHECK_THROWS_WITH(parse_cli({"flowgen", "--pdr-loss", "2"}), Contains("--pdr-loss: '2' must be in [0, 1)"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--json=1"}), Contains("--json takes no value"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--frame-size", "63"}), Contains("profile: frame_size: '63'"));
  auto o = parse_cli({"txonly", "--cores", "7"});
  CHECK_THROWS_WITH(eal_args(o, 2, 1), Contains("--cores: CPU 7 does not exist"));
}

TEST_CASE("every dpsbench option reaches its field", "[dpsbench]") {
  auto o = parse_cli({"--mode=io", "--memif_socket", "/m.sock", "--rx-ports=1", "--burst=64", "--mbufs", "1024",
                      "--link-timeout", "2s", "--timeout", "5s", "--idle", "300ms", "--drain", "1s", "--linger",
                      "3s", "--ready-file", "/r", "--interval", "10ms", "--file-prefix", "fp", "--json-out", "/j",
                      "--plot", "/p.png", "--quiet", "--no_progress", "--rx-packets", "7", "-v"});
  const auto& e = o.engine;
  CHECK(e.mode == Mode::kIo);
  CHECK(e.ports == default_ports("/m.sock"));
  CHECK(e.rx_ports == std::vector<unsigned>{1});
  CHECK(e.burst == 64);
  CHECK(e.mbufs == 1024);
  CHECK(e.link_timeout_s == Approx(2));
  CHECK(e.run_timeout_s == Approx(5));
  CHECK(e.idle_stop_s == Approx(0.3));
  CHECK(e.drain_s == Approx(1));
  CHECK(e.linger_s == Approx(3));
  CHECK(e.ready_file == "/r");
  CHECK(e.interval_s == Approx(0.01));
  CHECK(e.rx_packets == 7);
  CHECK(o.file_prefix == "fp");
  CHECK(o.json_out == "/j");
  CHECK(o.plot == "/p.png");
  CHECK(o.quiet);
  CHECK(o.progress_forced_off);
  CHECK(o.verbose);
  CHECK_FALSE(o.json);
  // Receivers: --packets is the stop count.
  CHECK(parse_cli({"rxonly", "--packets", "9"}).engine.rx_packets == 9);
  CHECK(parse_cli({"rxonly", "--help", "--nope", "1"}).help);  // help before the profile is resolved
}

TEST_CASE("dpsbench option values out of range", "[dpsbench]") {
  CHECK_THROWS_WITH(parse_cli({"txonly", "--burst", "65"}), Contains("--burst: '65' must be in 1..64"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--mbufs", "1023"}), Contains("--mbufs: '1023' must be in 1024..16777216"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--interval", "5ms"}), Contains("--interval: '5ms' is below 10ms"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "rxonly"}), Contains("unexpected argument 'rxonly' (the mode is already 'txonly')"));
  CHECK_THROWS_WITH(parse_cli({"flowgen", "--trial", "0s"}), Contains("--trial must be positive"));
  CHECK_THROWS_WITH(parse_cli({"flowgen", "--resolution", "x"}), Contains("--resolution: 'x' is not a ratio"));
  CHECK_THROWS_WITH(parse_cli({"flowgen", "--ndr=yes"}), Contains("--ndr takes no value"));
  CHECK_THROWS_WITH(parse_cli({"txonly", "--duration"}), Contains("--duration needs a value"));
  CHECK_THROWS_AS(parse_cli({"--mode", "blast"}), std::invalid_argument);
}
