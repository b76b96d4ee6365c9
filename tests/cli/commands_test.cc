// Coverage goal: dpsctl's config commands (one transaction per invocation,
// "--" joining, --no-wait / waiting for cur_cfg), its runtime commands with
// text and JSON output, and its error messages and exit codes, driven
// in-process against dpsdb_testserver.
#include <catch2/catch.hpp>

#include "commands.h"
#include "confdb_test_util.h"
#include "output_format.h"

#include <sstream>

using namespace dps::cli;
using dps::confdb::test::TempDir;
using dps::confdb::test::TestServer;

namespace {

struct Result {
  int rc;
  std::string out, err;
};

Result dpsctl(const std::string& sock, std::vector<std::string> args) {
  args.insert(args.begin(), "--db=unix:" + sock);
  args.insert(args.begin() + 1, "--timeout=10");
  std::ostringstream out, err;
  int rc = run_dpsctl(args, out, err);
  return {rc, out.str(), err.str()};
}

}  // namespace

TEST_CASE("dpsctl config commands over the wire", "[cli]") {
  TempDir dir;
  TestServer srv(dir.path);
  auto run = [&](std::vector<std::string> a) { return dpsctl(srv.sock, std::move(a)); };
  REQUIRE(run({"add-br", "br0"}).rc == 0);
  Result r = run({"add-port", "br0", "dpdk0", "--", "set", "Interface", "dpdk0", "type=dpdk",
                  "options:dpdk-devargs=net_null0", "options:n_rxq=2", "--", "set", "Port", "dpdk0", "tag=10"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  r = run({"get", "Interface", "dpdk0", "type", "options:dpdk-devargs", "options:n_rxq", "ofport"});
  CHECK(r.out == "dpdk\nnet_null0\n\"2\"\n1\n");  // ofport: the change was live when dpsctl returned
  CHECK(run({"get", "Port", "dpdk0", "tag"}).out == "10\n");
  CHECK(run({"list-br"}).out == "br0\n");
  CHECK(run({"list-ports", "br0"}).out == "dpdk0\n");
  CHECK(run({"port-to-br", "dpdk0"}).out == "br0\n");
  CHECK(run({"set-controller", "br0", "tcp:127.0.0.1:6653", "tcp:127.0.0.1:6654"}).rc == 0);
  CHECK(run({"get-controller", "br0"}).out == "tcp:127.0.0.1:6653\ntcp:127.0.0.1:6654\n");
  CHECK(run({"set-fail-mode", "br0", "secure"}).rc == 0);
  CHECK(run({"get-fail-mode", "br0"}).out == "secure\n");
  r = run({"show"});
  CHECK(r.out.find("    Bridge br0\n        Controller \"tcp:127.0.0.1:6653\"") != std::string::npos);
  CHECK(r.out.find("            tag: 10\n            Interface dpdk0\n                type: dpdk\n") != std::string::npos);
  r = run({"--columns=name,type", "find", "Interface", "type=dpdk"});
  CHECK(r.out == "name                : dpdk0\ntype                : dpdk\n");
  r = run({"--bare", "--columns=name", "list", "Bridge"});
  CHECK(r.out == "br0\n");
  CHECK(run({"add", "Bridge", "br0", "protocols", "OpenFlow13"}).rc == 0);
  CHECK(run({"add", "Bridge", "br0", "protocols", "OpenFlow10"}).rc == 0);
  CHECK(run({"get", "Bridge", "br0", "protocols"}).out == "[OpenFlow10, OpenFlow13]\n");
  CHECK(run({"remove", "Bridge", "br0", "protocols", "OpenFlow10"}).rc == 0);
  CHECK(run({"get", "Bridge", "br0", "protocols"}).out == "[OpenFlow13]\n");
  CHECK(run({"set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x6"}).rc == 0);
  CHECK(run({"get", "Open_vSwitch", ".", "other_config:pmd-cpu-mask"}).out == "\"0x6\"\n");
  CHECK(run({"remove", "Open_vSwitch", ".", "other_config", "pmd-cpu-mask"}).rc == 0);
  CHECK(run({"get", "Open_vSwitch", ".", "other_config"}).out == "{}\n");
  CHECK(run({"clear", "Bridge", "br0", "protocols"}).rc == 0);
  CHECK(run({"get", "Bridge", "br0", "protocols"}).out == "[]\n");
  CHECK(run({"--no-wait", "add-br", "br1"}).rc == 0);
  CHECK(run({"--may-exist", "add-br", "br1"}).rc == 0);
  CHECK(run({"br-exists", "br1"}).rc == 0);

  // Errors: precise, with exit codes, and nothing changed.
  r = run({"add-br", "br0"});
  CHECK(r.rc == kExitFailed);
  CHECK(r.err == "dpsctl: cannot create a bridge named br0 because a bridge named br0 already exists\n");
  r = run({"set", "Bridge", "br0", "fail_mode=bogus"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err.find("\"bogus\" is not one of the allowed values") != std::string::npos);
  r = run({"set", "Port", "dpdk0", "tag=4096"});  // caught by the server's constraint check
  CHECK(r.rc == kExitFailed);
  CHECK(r.err.find("constraint violation") != std::string::npos);
  CHECK(run({"get", "Port", "dpdk0", "tag"}).out == "10\n");
  r = run({"set", "Bridge", "br0", "nosuch=1"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err.find("nosuch") != std::string::npos);
  CHECK(run({"del-br", "nope"}).rc == kExitFailed);
  CHECK(run({"--if-exists", "del-br", "nope"}).rc == 0);
  CHECK(run({"br-exists", "nope"}).rc == 2);
  CHECK(run({"add-br"}).rc == kExitUsage);

  CHECK(run({"del-port", "br0", "dpdk0"}).rc == 0);
  CHECK(run({"list-ports", "br0"}).out.empty());
  CHECK(run({"del-controller", "br0"}).rc == 0);
  CHECK(run({"get-controller", "br0"}).out.empty());
  CHECK(run({"del-br", "br1"}).rc == 0);
  CHECK(run({"list-br"}).out == "br0\n");
}

TEST_CASE("dpsctl runtime commands and output formats", "[cli]") {
  TempDir dir;
  TestServer srv(dir.path);
  auto run = [&](std::vector<std::string> a) { return dpsctl(srv.sock, std::move(a)); };
  Result r = run({"pmd-stats-show"});
  REQUIRE(r.rc == 0);
  CHECK(r.out.rfind("core  emc_hits", 0) == 0);
  CHECK(r.out.find("\n   1      1000") != std::string::npos);  // numbers right-aligned under their header
  r = run({"--format=json", "pmd-stats-show"});
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.size() == 2);
  CHECK(j[0]["emc_hits"] == 1000);
  CHECK(run({"pmd-stats-clear"}).rc == 0);
  CHECK(nlohmann::json::parse(run({"-f", "json", "pmd-stats-show"}).out)[0]["emc_hits"] == 0);
  r = run({"trace", "br0", "in_port=1"});
  CHECK(r.out.find("datapath_actions: drop") != std::string::npos);
  CHECK(run({"fdb-show", "br0"}).out.find("00:00:00:00:00:01") != std::string::npos);
  CHECK(run({"version"}).out == "version: dpsdb_testserver 0.1\n");
  CHECK(run({"log-level", "warn"}).rc == 0);
  r = run({"log-level", "loud"});
  CHECK(r.rc == kExitFailed);
  CHECK(r.err.find("unknown log level") != std::string::npos);
  r = run({"call", "no/such-method"});
  CHECK(r.rc == kExitFailed);
  CHECK(r.err.find("unknown method") != std::string::npos);
  r = run({"fdb-show"});
  CHECK(r.rc == kExitUsage);
  r = run({"pmd-stats-show", "--", "list-br"});
  CHECK(r.rc == kExitUsage);
  r = run({"frobnicate"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err == "dpsctl: unknown command \"frobnicate\" (see dpsctl --help)\n");
}

TEST_CASE("dpsctl reports a missing daemon and a timeout", "[cli]") {
  TempDir dir;
  Result r = dpsctl(dir / "absent.sock", {"list-br"});
  CHECK(r.rc == kExitNoDaemon);
  CHECK(r.err.find(dir / "absent.sock") != std::string::npos);
  TestServer srv(dir.path, "--no-reconcile");
  std::ostringstream out, err;
  int rc = run_dpsctl({"--db=unix:" + srv.sock, "--timeout=1", "add-br", "br0"}, out, err);
  CHECK(rc == kExitTimeout);
  CHECK(err.str().find("timed out") != std::string::npos);
  // The change itself was committed; only the wait for cur_cfg timed out.
  CHECK(dpsctl(srv.sock, {"list-br"}).out == "br0\n");
  CHECK(dpsctl(srv.sock, {"--no-wait", "add-br", "br1"}).rc == 0);
}

TEST_CASE("text output aligns tables and key/value objects", "[cli]") {
  auto t = format_text(nlohmann::json::parse(R"([{"name":"p1","rx":5},{"name":"port22","rx":1234}])"));
  CHECK(t == "name      rx\np1         5\nport22  1234\n");
  CHECK(format_text(nlohmann::json::parse(R"({"a":1,"long_key":"x"})")) == "a:        1\nlong_key: x\n");
  CHECK(format_text("plain") == "plain\n");
}

TEST_CASE("bench-stats and count-dp-flows: the benchmark harness's stats and flows commands", "[cli]") {
  TempDir dir;
  TestServer srv(dir.path);
  auto run = [&](std::vector<std::string> a) { return dpsctl(srv.sock, std::move(a)); };
  // clear is pmd-stats-clear; the answer is one line of JSON even with the
  // default text format (the harness parses what `show` prints).
  Result r = run({"bench-stats", "clear"});
  REQUIRE(r.rc == 0);
  CHECK(r.out == "{}\n");
  CHECK(nlohmann::json::parse(run({"-f", "json", "pmd-stats-show"}).out)[0]["emc_hits"] == 0);
  // show and count-dp-flows call their own methods (this test server has neither).
  r = run({"bench-stats", "show"});
  CHECK(r.rc == kExitFailed);
  CHECK(r.err.find("\"dpif/pmd-stats-total\"") != std::string::npos);
  r = run({"count-dp-flows"});
  CHECK(r.rc == kExitFailed);
  CHECK(r.err.find("\"dpif/flow-count\"") != std::string::npos);
  // A verb other than clear/show is a usage error, found before connecting.
  r = dpsctl(dir / "absent.sock", {"bench-stats", "reset"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err == "dpsctl: bench-stats takes \"clear\" or \"show\", not \"reset\"\n");
  CHECK(run({"bench-stats"}).rc == kExitUsage);
  CHECK(run({"count-dp-flows", "br0"}).rc == kExitUsage);
}

TEST_CASE("dpsctl command-line errors are found before connecting", "[cli]") {
  auto run = [](std::vector<std::string> a) {
    a.insert(a.begin(), "--db=unix:/nonexistent/dpsctl-test.sock");
    std::ostringstream out, err;
    int rc = run_dpsctl(a, out, err);
    return Result{rc, out.str(), err.str()};
  };
  Result r = run({"--help", "--bogus"});
  CHECK(r.rc == kExitOk);
  CHECK(r.out.rfind("usage: dpsctl [OPTIONS] COMMAND", 0) == 0);
  CHECK(r.out.find("\n  add-br BRIDGE\n") != std::string::npos);
  CHECK(r.out.find("\nRuntime commands (answered by dpswitchd):\n") != std::string::npos);
  r = run({"--bogus", "list-br"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err == "dpsctl: unknown option \"--bogus\" (see dpsctl --help)\n");
  r = run({"--format=xml", "list-br"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err == "dpsctl: --format must be text or json, not \"xml\"\n");
  r = run({"--timeout", "soon", "list-br"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err.rfind("dpsctl: bad number in an option: ", 0) == 0);
  r = run({});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err == "dpsctl: missing command (see dpsctl --help)\n");
  r = run({"--may-exist"});
  CHECK(r.err == "dpsctl: missing command after options\n");
  r = run({"--bare", "--colour", "list", "Bridge"});
  CHECK(r.err == "dpsctl: unknown command option \"--colour\"\n");
  r = run({"list-br", "--", "add-br"});
  CHECK(r.rc == kExitUsage);
  CHECK(r.err == "dpsctl: \"add-br\" takes 1 argument(s): add-br BRIDGE\n");
  CHECK(run({"set", "Bridge"}).err == "dpsctl: \"set\" takes 3 or more argument(s): set TABLE RECORD COLUMN[:KEY]=VALUE...\n");
  r = run({"list-br", "--", "pmd-stats-show"});
  CHECK(r.err == "dpsctl: a runtime command cannot be joined with other commands by \"--\"\n");
  // A well-formed command line gets as far as the connection.
  r = run({"-t", "1", "-f", "json", "--no-wait", "--", "list-br", "--", "--", "list-br"});
  CHECK(r.rc == kExitNoDaemon);
}
