// Coverage goal: the real Open vSwitch clients (ovs-vsctl from openvswitch-switch,
// ovsdb-client from openvswitch-common; scripts/bootstrap.sh installs both) drive our server
// unchanged: bridge/port/interface/controller lifecycle with and without
// --no-wait (dpsdb_testserver's reconciler sets cur_cfg), errors, dump and a
// live monitor.
#include <catch2/catch.hpp>

#include "confdb_test_util.h"

using namespace dps::confdb::test;

namespace {

struct Vsctl {
  std::string sock;
  std::pair<int, std::string> operator()(const std::string& args) const {
    return run("ovs-vsctl --db=unix:" + sock + " --timeout=10 " + args);
  }
  // Runs a command that must succeed; returns its output.
  std::string ok(const std::string& args) const {
    auto [rc, out] = (*this)(args);
    INFO("ovs-vsctl " << args << ": " << last_stderr());
    CHECK(rc == 0);
    return out;
  }
  // Runs a command that must fail; returns its error output.
  std::string fails(const std::string& args) const {
    auto [rc, out] = (*this)(args);
    INFO("ovs-vsctl " << args);
    CHECK(rc != 0);
    return last_stderr();
  }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("interop: ovs-vsctl drives the store", "[confdb][interop]") {
  TempDir dir;
  TestServer srv(dir.path);
  Vsctl vsctl{srv.sock};

  auto [rc, out] = vsctl("add-br br0");
  INFO(last_stderr());
  REQUIRE(rc == 0);
  vsctl.ok("--no-wait add-br br1");
  CHECK(vsctl.ok("list-br") == "br0\nbr1\n");
  vsctl.ok("add-port br0 dpdk0 -- set Interface dpdk0 type=dpdk options:dpdk-devargs=net_null0");
  vsctl.ok("set Interface dpdk0 options:n_rxq=2 mtu_request=9000");
  CHECK(vsctl.ok("get Interface dpdk0 type options:dpdk-devargs options:n_rxq mtu_request") ==
        "dpdk\nnet_null0\n\"2\"\n9000\n");
  CHECK(vsctl.ok("get Interface dpdk0 ofport") == "1\n");  // written by the reconciler before cur_cfg
  vsctl.ok("set-controller br0 tcp:127.0.0.1:6653");
  vsctl.ok("set-fail-mode br0 secure");
  out = vsctl.ok("show");
  CHECK(has(out, "Bridge br0"));
  CHECK(has(out, "Controller \"tcp:127.0.0.1:6653\""));
  CHECK(has(out, "fail_mode: secure"));
  CHECK(has(out, "type: dpdk"));
  CHECK(has(vsctl.ok("--columns=name,type find Interface type=dpdk"), "dpdk0"));
  CHECK(has(vsctl.ok("--columns=name,fail_mode list Bridge br0"), "secure"));
  CHECK(vsctl.ok("list-ports br0") == "dpdk0\n");

  // Errors come back as ovs-vsctl reports them, and change nothing.
  CHECK(has(vsctl.fails("set Bridge br0 fail_mode=bogus"), "constraint violation"));
  vsctl.fails("add-br br0");
  // The reconciler reports Interface.error; ovs-vsctl prints it (and, like
  // with ovs-vswitchd, still exits 0 because the row was committed).
  vsctl("add-port br1 bad -- set Interface bad type=fail");
  CHECK(has(last_stderr(), "could not open network device bad"));

  vsctl.ok("del-port br0 dpdk0");
  vsctl.ok("del-controller br0");
  vsctl.ok("--no-wait del-br br1");
  CHECK(vsctl.ok("list-br") == "br0\n");
  out = vsctl.ok("--bare --columns=name list Interface");
  CHECK_FALSE(has(out, "dpdk0"));  // garbage-collected with its port
  CHECK_FALSE(has(out, "bad"));    // went with br1

  // The state survives a restart of the server.
  srv.stop();
  srv.start();
  CHECK(vsctl.ok("list-br") == "br0\n");
}

TEST_CASE("interop: ovsdb-client dump and monitor", "[confdb][interop]") {
  TempDir dir;
  TestServer srv(dir.path);
  Vsctl vsctl{srv.sock};
  REQUIRE(vsctl("--no-wait add-br br0").first == 0);
  auto [rc, out] = run("ovsdb-client dump unix:" + srv.sock);
  CHECK(rc == 0);
  CHECK(out.find("Bridge table") != std::string::npos);
  CHECK(out.find("br0") != std::string::npos);
  std::tie(rc, out) = run("ovsdb-client list-dbs unix:" + srv.sock);
  CHECK(out == "Open_vSwitch\n");
  std::tie(rc, out) = run("ovsdb-client get-schema-version unix:" + srv.sock + " Open_vSwitch");
  CHECK(out == "8.3.1\n");

  // A live monitor sees a bridge added after it started.
  std::string log = dir / "monitor.out";
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec ovsdb-client monitor unix:" + srv.sock + " Open_vSwitch Bridge name > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 300; ++i) {
      std::ifstream f(log);
      std::string s((std::istreambuf_iterator<char>(f)), {});
      if (s.find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  CHECK(wait_for("br0"));
  REQUIRE(vsctl("--no-wait add-br live1").first == 0);
  CHECK(wait_for("live1"));
  REQUIRE(vsctl("--no-wait del-br live1").first == 0);
  CHECK(wait_for("delete"));
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
}
