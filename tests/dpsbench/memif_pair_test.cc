// Integration: dpsbench txonly -> dpsbench rxonly over a memif pair, two
// processes, --no-huge, each with its own --file-prefix and a memif socket in
// a private temp dir. Asserts that every frame sent was received, exactly
// once and in order, with latency figures present; and that bad input ends
// with a precise error and the documented exit code instead of a hang.
//
// The topology is a parameter: run_pair() takes the tx and rx devargs, so the
// same test runs through a switch by making both sides memif clients of the
// switch's sockets (start the switch first; the clients retry until it is up).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

std::string dpsbench_path() {
  const char* env = std::getenv("DPSBENCH");
  return env ? env : DPSBENCH_PATH;
}

struct Proc {
  pid_t pid = -1;
  std::string out;  // stdout+stderr file
};

Proc spawn(const std::vector<std::string>& args, const std::string& out) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  Proc p;
  p.out = out;
  int rc = posix_spawn(&p.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return p;
}

// Waits up to `seconds`; on timeout kills the process (by its pid) and
// returns -1. Otherwise returns the exit code.
int wait_for(Proc& p, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(p.pid, &status, WNOHANG);
    if (r == p.pid) {
      p.pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, &status, 0);
      p.pid = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/dpsbench-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::vector<std::string> common(const std::string& prefix, unsigned cpu) {
  return {"--quiet", "--cores", std::to_string(cpu), "--file-prefix", prefix, "--link-timeout", "20s"};
}

std::vector<std::string> eal_tail() { return {"--", "--no-huge", "-m", "1024"}; }

struct PairResult {
  nlohmann::json tx, rx;
};

// Starts rxonly on rx_devargs, then txonly on tx_devargs sending `packets`
// at `rate`; both must exit 0 within the time limit.
PairResult run_pair(const TempDir& dir, const std::string& tx_devargs, const std::string& rx_devargs,
                    const std::string& packets, const std::string& rate, const std::string& extra_profile = "",
                    bool wait_ready = false) {
  unsigned cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  std::string tag = std::to_string(getpid());
  auto rx_args = std::vector<std::string>{dpsbench_path(), "rxonly", "--port", rx_devargs, "--idle", "1s",
                                          "--timeout", "60s", "--json-out", dir.path + "/rx.json",
                                          "--ready-file", dir.path + "/rx.ready"};
  for (auto& a : common("dpsb-rx-" + tag, 0)) rx_args.push_back(a);
  for (auto& a : eal_tail()) rx_args.push_back(a);
  Proc rx = spawn(rx_args, dir.path + "/rx.log");
  if (wait_ready) {
    // Through a switch the receiver must be up before the sender starts, or
    // the switch drops the first frames (a port without link).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    while (access((dir.path + "/rx.ready").c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto tx_args = std::vector<std::string>{dpsbench_path(), "txonly", "--port", tx_devargs, "--packets", packets,
                                          "--duration", "0", "--rate", rate, "--json-out", dir.path + "/tx.json",
                                          "--linger", "30s"};
  if (!extra_profile.empty()) tx_args.insert(tx_args.end(), {"--profile", extra_profile});
  for (auto& a : common("dpsb-tx-" + tag, cpus > 1 ? 1 : 0)) tx_args.push_back(a);
  for (auto& a : eal_tail()) tx_args.push_back(a);
  Proc tx = spawn(tx_args, dir.path + "/tx.log");
  int tx_rc = wait_for(tx, 90);
  int rx_rc = wait_for(rx, 30);
  INFO("tx log:\n" << slurp(dir.path + "/tx.log") << "\nrx log:\n" << slurp(dir.path + "/rx.log"));
  REQUIRE(tx_rc == 0);
  REQUIRE(rx_rc == 0);
  PairResult r;
  r.tx = nlohmann::json::parse(slurp(dir.path + "/tx.json"));
  r.rx = nlohmann::json::parse(slurp(dir.path + "/rx.json"));
  return r;
}

}  // namespace

TEST_CASE("txonly -> rxonly over a memif pair: every frame arrives once, with latency", "[dpsbench][eal][memif]") {
  TempDir dir;
  std::string sock = dir.path + "/pair.sock";
  // Direct pair: the sender is the memif server. Through a switch, both would
  // be clients of the switch's sockets.
  auto r = run_pair(dir, "net_memif0,role=server,id=0,socket=" + sock, "net_memif0,role=client,id=0,socket=" + sock,
                    "300000", "1mpps");
  const auto& tx = r.tx["total"];
  const auto& rx = r.rx["total"];
  CHECK(tx["tx_packets"].get<uint64_t>() == 300000);
  CHECK(rx["rx_packets"].get<uint64_t>() == tx["tx_packets"].get<uint64_t>());
  CHECK(rx["rx_unique"].get<uint64_t>() == 300000);
  CHECK(rx["lost"].get<uint64_t>() == 0);
  CHECK(rx["duplicates"].get<uint64_t>() == 0);
  CHECK(rx["reordered"].get<uint64_t>() == 0);
  const auto& lat = rx["latency"];
  CHECK(lat["samples"].get<uint64_t>() == 300000);
  CHECK(lat["p50_us"].get<double>() > 0);
  CHECK(lat["min_us"].get<double>() <= lat["p50_us"].get<double>());
  CHECK(lat["p50_us"].get<double>() <= lat["p99_us"].get<double>());
  CHECK(lat["p99_us"].get<double>() <= lat["p999_us"].get<double>());
  CHECK(lat["p999_us"].get<double>() <= lat["max_us"].get<double>());
  // The rx port saw one stream (the sender's port 0) starting at sequence 0.
  const auto& streams = r.rx["ports"][0]["rx"]["streams"];
  REQUIRE(streams.size() == 1);
  CHECK(streams[0]["first_seq"].get<uint64_t>() == 0);
  CHECK(streams[0]["highest_seq"].get<uint64_t>() == 299999);
}

TEST_CASE("txonly -> rxonly with an IMIX, VLAN, many-flow profile", "[dpsbench][eal][memif]") {
  TempDir dir;
  std::string sock = dir.path + "/pair.sock";
  std::string prof = dir.path + "/profile.json";
  std::ofstream(prof) << R"({"flows": 1000, "vary": {"src_ip": 100, "dst_port": 10}, "vlan": [42],
                             "frame_size": "imix"})";
  auto r = run_pair(dir, "net_memif0,role=server,id=0,socket=" + sock, "net_memif0,role=client,id=0,socket=" + sock,
                    "120000", "500kpps", prof);
  CHECK(r.rx["total"]["rx_packets"].get<uint64_t>() == 120000);
  CHECK(r.rx["total"]["lost"].get<uint64_t>() == 0);
  // IMIX bytes: 10000 cycles of 7x64 + 4x594 + 1x1518 (FCS included).
  CHECK(r.tx["ports"][0]["tx"]["bytes"].get<uint64_t>() == 10000ull * (7 * 64 + 4 * 594 + 1518));
  CHECK(r.rx["ports"][0]["rx"]["bytes"].get<uint64_t>() == 10000ull * (7 * 64 + 4 * 594 + 1518));
  CHECK(r.rx["ports"][0]["rx"]["untagged"].get<uint64_t>() == 0);
}

TEST_CASE("dpsbench fails fast and precisely on bad input", "[dpsbench][eal]") {
  TempDir dir;
  std::string tag = std::to_string(getpid());
  SECTION("unknown mode: exit 1") {
    Proc p = spawn({dpsbench_path(), "sendonly"}, dir.path + "/o.log");
    CHECK(wait_for(p, 10) == 1);
    CHECK_THAT(slurp(p.out), Catch::Matchers::Contains("unknown mode 'sendonly'"));
  }
  SECTION("bad profile: exit 1 naming the field") {
    Proc p = spawn({dpsbench_path(), "txonly", "--frame-size", "32"}, dir.path + "/o.log");
    CHECK(wait_for(p, 10) == 1);
    CHECK_THAT(slurp(p.out), Catch::Matchers::Contains("frame_size: '32'"));
  }
  SECTION("a peer that never comes up: exit 2 after the link timeout, no hang") {
    auto args = std::vector<std::string>{dpsbench_path(), "txonly", "--port",
                                         "net_memif0,role=client,id=0,socket=" + dir.path + "/nobody.sock",
                                         "--link-timeout", "1s", "--quiet", "--file-prefix", "dpsb-bad-" + tag};
    for (auto& a : eal_tail()) args.push_back(a);
    auto start = std::chrono::steady_clock::now();
    Proc p = spawn(args, dir.path + "/o.log");
    CHECK(wait_for(p, 30) == 2);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    CHECK_THAT(slurp(p.out), Catch::Matchers::Contains("nobody.sock") && Catch::Matchers::Contains("link timeout"));
  }
  SECTION("bad devargs: exit 2 naming the devargs") {
    auto args = std::vector<std::string>{dpsbench_path(), "rxonly", "--port", "net_nosuchdriver0,x=1",
                                         "--link-timeout", "1s", "--quiet", "--file-prefix", "dpsb-bad2-" + tag};
    for (auto& a : eal_tail()) args.push_back(a);
    Proc p = spawn(args, dir.path + "/o.log");
    CHECK(wait_for(p, 30) == 2);
    CHECK_THAT(slurp(p.out), Catch::Matchers::Contains("net_nosuchdriver0"));
  }
}

// Through dpswitchd: the switch is the memif server of one socket with ids 0
// (in_port 1) and 1 (port 2) and forwards port 1 -> port 2; dpsbench txonly
// and rxonly are its clients (issue 3's integration test).
TEST_CASE("txonly -> dpswitchd -> rxonly over memif", "[dpsbench][eal][memif][switch]") {
  TempDir dir;
  std::string dpswitchd = std::getenv("DPSWITCHD") ? std::getenv("DPSWITCHD") : DPSWITCHD_PATH;
  REQUIRE(access(dpswitchd.c_str(), X_OK) == 0);
  std::string sock = dir.path + "/switch.sock";
  std::ofstream(dir.path + "/switch.json") << R"({"flows": [{"match": "in_port=1", "actions": "output:2"}]})";
  unsigned cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  std::string pmd_cpu = cpus > 1 ? "1" : "0";
  Proc sw = spawn({dpswitchd, "--lcores", "0@0,1@" + pmd_cpu, "--main-lcore", "0", "--no-pci", "--no-huge", "-m",
                   "1024", "--file-prefix", "dpsb-sw-" + std::to_string(getpid()), "--vdev",
                   "net_memif0,role=server,id=0,socket=" + sock, "--vdev", "net_memif1,role=server,id=1,socket=" + sock,
                   "--", "--config", dir.path + "/switch.json", "--db", dir.path + "/conf.db",
                   "--remote", "punix:" + dir.path + "/db.sock", "--pmd-cores", "1", "--duration", "120",
                   "--log-level", "warn"},
                  dir.path + "/switch.log");
  // Low rate: three busy pollers share two CPUs here.
  auto r = run_pair(dir, "net_memif0,role=client,id=0,socket=" + sock, "net_memif1,role=client,id=1,socket=" + sock,
                    "50000", "20kpps", "", true);
  kill(sw.pid, SIGINT);
  CHECK(wait_for(sw, 30) == 0);
  std::error_code ec;  // dpswitchd leaves its EAL runtime directory behind
  std::filesystem::remove_all("/var/run/dpdk/dpsb-sw-" + std::to_string(getpid()), ec);
  CHECK(r.tx["total"]["tx_packets"].get<uint64_t>() == 50000);
  CHECK(r.rx["total"]["rx_unique"].get<uint64_t>() == 50000);
  CHECK(r.rx["total"]["lost"].get<uint64_t>() == 0);
  CHECK(r.rx["total"]["latency"]["samples"].get<uint64_t>() == 50000);
  CHECK(r.rx["total"]["latency"]["p99_us"].get<double>() > 0);
}
