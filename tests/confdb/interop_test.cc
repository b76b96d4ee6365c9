// Coverage goal: the real Open vSwitch clients (ovs-vsctl, ovsdb-client from
// openvswitch-common, installed by scripts/bootstrap.sh) drive our server
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
};

}  // namespace

TEST_CASE("interop: ovs-vsctl drives the store", "[confdb][interop]") {
  TempDir dir;
  TestServer srv(dir.path);
  Vsctl vsctl{srv.sock};

  auto [rc, out] = vsctl("add-br br0");
  INFO(last_stderr());
  REQUIRE(rc == 0);
  std::tie(rc, out) = vsctl("--no-wait add-br br1");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("list-br");
  CHECK(out == "br0\nbr1\n");
  std::tie(rc, out) = vsctl("add-port br0 dpdk0 -- set Interface dpdk0 type=dpdk options:dpdk-devargs=net_null0");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("set Interface dpdk0 options:n_rxq=2 mtu_request=9000");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("get Interface dpdk0 type options:dpdk-devargs options:n_rxq mtu_request");
  CHECK(out == "dpdk\nnet_null0\n\"2\"\n9000\n");
  std::tie(rc, out) = vsctl("get Interface dpdk0 ofport");
  CHECK(out == "1\n");  // written by the reconciler before cur_cfg
  std::tie(rc, out) = vsctl("set-controller br0 tcp:127.0.0.1:6653");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("set-fail-mode br0 secure");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("show");
  CHECK(out.find("Bridge br0") != std::string::npos);
  CHECK(out.find("Controller \"tcp:127.0.0.1:6653\"") != std::string::npos);
  CHECK(out.find("fail_mode: secure") != std::string::npos);
  CHECK(out.find("type: dpdk") != std::string::npos);
  std::tie(rc, out) = vsctl("--columns=name,type find Interface type=dpdk");
  CHECK(out.find("dpdk0") != std::string::npos);
  std::tie(rc, out) = vsctl("--columns=name,fail_mode list Bridge br0");
  CHECK(out.find("secure") != std::string::npos);
  std::tie(rc, out) = vsctl("list-ports br0");
  CHECK(out == "dpdk0\n");

  // Errors come back as ovs-vsctl reports them, and change nothing.
  std::tie(rc, out) = vsctl("set Bridge br0 fail_mode=bogus");
  CHECK(rc != 0);
  CHECK(last_stderr().find("constraint violation") != std::string::npos);
  std::tie(rc, out) = vsctl("add-br br0");
  CHECK(rc != 0);
  // The reconciler reports Interface.error; ovs-vsctl prints it (and, like
  // with ovs-vswitchd, still exits 0 because the row was committed).
  std::tie(rc, out) = vsctl("add-port br1 bad -- set Interface bad type=fail");
  CHECK(last_stderr().find("could not open network device bad") != std::string::npos);

  std::tie(rc, out) = vsctl("del-port br0 dpdk0");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("del-controller br0");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("--no-wait del-br br1");
  CHECK(rc == 0);
  std::tie(rc, out) = vsctl("list-br");
  CHECK(out == "br0\n");
  std::tie(rc, out) = vsctl("--bare --columns=name list Interface");
  CHECK(out.find("dpdk0") == std::string::npos);  // garbage-collected with its port
  CHECK(out.find("bad") == std::string::npos);    // went with br1

  // The state survives a restart of the server.
  srv.stop();
  srv.start();
  std::tie(rc, out) = vsctl("list-br");
  CHECK(out == "br0\n");
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
