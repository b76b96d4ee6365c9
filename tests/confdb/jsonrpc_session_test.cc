// Coverage goal: the JSON-RPC surface on a real unix socket: every database
// method, update notifications across clients, blocked waits released by
// another client's commit, cancel, locks, runtime methods, and bad input
// (malformed JSON, oversize messages, non-objects) that must not disturb
// other clients.
#include <catch2/catch.hpp>

#include "confdb_test_util.h"
#include "jsonrpc_server.h"

#include <sys/stat.h>

using namespace dps::confdb;
using namespace dps::confdb::test;

namespace {

struct ServerFixture {
  TempDir dir;
  boost::asio::io_context io;
  std::unique_ptr<ConfigStore> store;
  std::unique_ptr<JsonRpcServer> srv;
  std::thread thread;
  std::string sock;

  explicit ServerFixture(ServerOptions opts = {}) {
    store = ConfigStore::open(vswitch_schema(), dir / "conf.db");
    store->ensure_root_row();
    srv = std::make_unique<JsonRpcServer>(io, *store, opts);
    sock = dir / "db.sock";
    srv->listen("punix:" + sock);
    srv->add_method("test/add", "[a, b] -> a + b", false, [](const json& p) {
      if (p.size() != 2) throw RpcError{"test/add needs two numbers"};
      return json(p[0].get<int>() + p[1].get<int>());
    });
    thread = std::thread([this] { io.run(); });
  }
  ~ServerFixture() {
    boost::asio::post(io, [this] { srv->stop(); io.stop(); });
    thread.join();
  }
};

json txn(json ops) {
  json p = json::array({"Open_vSwitch"});
  for (auto& o : ops) p.push_back(o);
  return p;
}

}  // namespace

TEST_CASE("jsonrpc: database methods and reply shape", "[confdb]") {
  ServerFixture f;
  struct stat st;
  REQUIRE(stat(f.sock.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  RawClient c(f.sock);
  json r = c.call("list_dbs", json::array());
  CHECK(r == json({{"id", 1}, {"result", json::array({"Open_vSwitch"})}, {"error", nullptr}}));
  r = c.call("get_schema", json::array({"Open_vSwitch"}));
  CHECK(r["result"]["name"] == "Open_vSwitch");
  r = c.call("get_schema", json::array({"_Server"}));
  CHECK(r["error"]["error"] == "unknown database");
  CHECK(r["result"].is_null());
  r = c.call("monitor_cond_since", json::array({"Open_vSwitch"}));
  CHECK(r["error"] == "unknown method");
  r = c.call("echo", json::array({"x", 1}));
  CHECK(r["result"] == json::array({"x", 1}));
  r = c.call("transact", txn(json::array({{{"op", "select"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                          {"columns", json::array({"next_cfg"})}}})));
  CHECK(r["result"][0]["rows"][0]["next_cfg"] == 0);
  r = c.call("transact", json::array({"Nope"}));
  CHECK(r["error"]["error"] == "unknown database");
  r = c.call("test/add", json::array({2, 3}));
  CHECK(r["result"] == 5);
  r = c.call("test/add", json::array({2}));
  CHECK(r["error"] == "test/add needs two numbers");
  r = c.call("list-commands", json::array());
  bool found = false;
  for (auto& m : r["result"]) found |= m["name"] == "test/add";
  CHECK(found);
}

TEST_CASE("jsonrpc: monitors get updates from other clients' commits", "[confdb]") {
  ServerFixture f;
  RawClient mon(f.sock), writer(f.sock);
  json r = mon.call("monitor", json::array({"Open_vSwitch", "m1",
                                            {{"Open_vSwitch", {{"columns", json::array({"next_cfg", "other_config"})}}},
                                             {"Bridge", json::object()}}}));
  REQUIRE(r["error"].is_null());
  REQUIRE(r["result"]["Open_vSwitch"].size() == 1);
  CHECK(r["result"]["Open_vSwitch"].begin().value()["new"]["next_cfg"] == 0);
  r = writer.call("transact", txn(json::array({{{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                               {"mutations", json::parse(R"([["next_cfg","+=",1]])")}}})));
  CHECK(r["result"][0]["count"] == 1);
  json u = mon.recv();
  CHECK(u["method"] == "update");
  CHECK(u["id"].is_null());
  CHECK(u["params"][0] == "m1");
  json row = u["params"][1]["Open_vSwitch"].begin().value();
  CHECK(row["old"] == json({{"next_cfg", 0}}));
  CHECK(row["new"]["next_cfg"] == 1);
  CHECK(row["new"].contains("other_config"));
  // Duplicate id, cancel, unknown monitor.
  CHECK(mon.call("monitor", json::array({"Open_vSwitch", "m1", {{"Bridge", json::object()}}}))["error"]["error"] ==
        "duplicate monitor ID");
  CHECK(mon.call("monitor_cancel", json::array({"m1"}))["result"] == json::object());
  CHECK(mon.call("monitor_cancel", json::array({"m1"}))["error"]["error"] == "unknown monitor");
}

TEST_CASE("jsonrpc: a blocked wait is released by a commit or times out or is canceled", "[confdb]") {
  ServerFixture f;
  RawClient a(f.sock), b(f.sock);
  json wait = {{"op", "wait"}, {"table", "Open_vSwitch"}, {"where", json::array()},
               {"columns", json::array({"next_cfg"})}, {"until", "=="}, {"rows", json::parse(R"([{"next_cfg":5}])")},
               {"timeout", 5000}};
  a.send({{"method", "transact"}, {"params", txn(json::array({wait}))}, {"id", "w"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  b.call("transact", txn(json::array({{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                       {"row", {{"next_cfg", 5}}}}})));
  json r = a.recv();
  CHECK(r["id"] == "w");
  CHECK(r["result"] == json::array({json::object()}));

  wait["rows"] = json::parse(R"([{"next_cfg":6}])");
  wait["timeout"] = 100;
  auto t0 = std::chrono::steady_clock::now();
  r = a.call("transact", txn(json::array({wait})));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(100));
  CHECK(r["result"][0]["error"] == "timed out");

  // Re-blocked by an unrelated commit, it still times out on schedule.
  wait["timeout"] = 300;
  a.send({{"method", "transact"}, {"params", txn(json::array({wait}))}, {"id", "w2"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  b.call("transact", txn(json::array({{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                       {"row", {{"next_cfg", 7}}}}})));
  r = a.recv();
  CHECK(r["id"] == "w2");
  CHECK(r["result"][0]["error"] == "timed out");

  wait.erase("timeout");
  a.send({{"method", "transact"}, {"params", txn(json::array({wait}))}, {"id", "forever"}});
  a.send({{"method", "cancel"}, {"params", json::array({"forever"})}, {"id", nullptr}});
  r = a.recv();
  CHECK(r["id"] == "forever");
  CHECK(r["error"]["error"] == "canceled");
}

TEST_CASE("jsonrpc: lock steal unlock and assert", "[confdb]") {
  ServerFixture f;
  RawClient a(f.sock), b(f.sock);
  CHECK(a.call("lock", json::array({"L"}))["result"]["locked"] == true);
  CHECK(b.call("lock", json::array({"L"}))["result"]["locked"] == false);
  json assert_op = txn(json::array({{{"op", "assert"}, {"lock", "L"}}}));
  CHECK(a.call("transact", assert_op)["result"][0] == json::object());
  CHECK(b.call("transact", assert_op)["result"][0]["error"] == "not owner");
  std::vector<json> notes;
  CHECK(a.call("unlock", json::array({"L"}))["result"] == json::object());
  json n = b.recv();
  CHECK(n["method"] == "locked");
  CHECK(n["params"] == json::array({"L"}));
  CHECK(a.call("steal", json::array({"L"}))["result"]["locked"] == true);
  n = b.recv();
  CHECK(n["method"] == "stolen");
  CHECK(b.call("transact", assert_op)["result"][0]["error"] == "not owner");
}

TEST_CASE("jsonrpc: malformed and oversize input disconnect only that client", "[confdb]") {
  ServerOptions opts;
  opts.max_message_bytes = 4096;
  ServerFixture f(opts);
  RawClient good(f.sock);
  {
    RawClient bad(f.sock);
    bad.send_text("{\"method\": \"echo\", \"params\": [1,]}");
    json e = bad.recv();
    CHECK(e["error"].get<std::string>().find("syntax error") != std::string::npos);
    CHECK(bad.recv().is_discarded());  // disconnected
  }
  {
    RawClient big(f.sock);
    big.send_text("{\"method\":\"echo\",\"params\":[\"" + std::string(8192, 'x') + "\"],\"id\":1}");
    json e = big.recv();
    CHECK(e["error"].get<std::string>().find("too long") != std::string::npos);
    CHECK(big.recv().is_discarded());
  }
  {
    RawClient junk(f.sock);
    junk.send_text("hello");
    CHECK(junk.recv()["error"].is_string());
  }
  {
    RawClient shapes(f.sock);
    CHECK(shapes.call("echo", json::object())["error"].is_string());  // params not an array
    shapes.send(json::array({1, 2}));
    CHECK(shapes.recv()["error"].is_string());
    CHECK(shapes.call("echo", json::array({1}))["result"] == json::array({1}));  // still connected
  }
  // Several messages in one write, split across writes.
  good.send_text(R"({"method":"echo","params":[1],"id":1}{"method":"echo","params":[2],"id":2} {"method":"ec)");
  CHECK(good.recv()["result"] == json::array({1}));
  CHECK(good.recv()["result"] == json::array({2}));
  good.send_text(R"(ho","params":[3],"id":3})");
  CHECK(good.recv()["result"] == json::array({3}));
}

TEST_CASE("jsonrpc: many clients at once", "[confdb]") {
  ServerFixture f;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(std::make_unique<RawClient>(f.sock));
  for (int i = 0; i < 50; ++i) {
    json r = clients[i]->call("transact", txn(json::array({{{"op", "mutate"}, {"table", "Open_vSwitch"},
                                                              {"where", json::array()},
                                                              {"mutations", json::parse(R"([["next_cfg","+=",1]])")}}})));
    CHECK(r["result"][0]["count"] == 1);
  }
  json r = clients[0]->call("transact", txn(json::array({{{"op", "select"}, {"table", "Open_vSwitch"},
                                                           {"where", json::array()}, {"columns", json::array({"next_cfg"})}}})));
  CHECK(r["result"][0]["rows"][0]["next_cfg"] == 50);
}
