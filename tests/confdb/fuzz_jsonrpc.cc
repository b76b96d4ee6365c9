#include "fuzz_jsonrpc.h"

#include "confdb_test_util.h"
#include "jsonrpc_framer.h"
#include "jsonrpc_server.h"

#include <cstdlib>
#include <iostream>

namespace dps::confdb::test {

namespace {

class CapturePeer : public Peer {
 public:
  void send(const json& msg) override {
    msg.dump(-1, ' ', false, json::error_handler_t::replace);  // must serialize
    if (!msg.contains("method")) {
      // A reply: exactly id, result, error.
      if (msg.size() != 3 || !msg.contains("id") || !msg.contains("result") || !msg.contains("error")) {
        std::cerr << "bad reply shape: " << msg.dump() << "\n";
        std::abort();
      }
    }
    last = msg;
  }
  std::string name() const override { return "fuzz"; }
  json last;
};

}  // namespace

void fuzz_one(const uint8_t* data, size_t size) {
  static auto schema = vswitch_schema();
  boost::asio::io_context io;
  auto store = ConfigStore::open(schema, "");
  store->ensure_root_row();
  JsonRpcServer srv(io, *store);
  auto peer = std::make_shared<CapturePeer>();
  srv.attach(peer);
  JsonFramer framer(1 << 20);
  framer.feed(reinterpret_cast<const char*>(data), size);
  while (auto text = framer.next()) {
    json msg = json::parse(*text, nullptr, false);
    if (msg.is_discarded()) break;  // the session would disconnect here
    json before = store->db().snapshot_json();
    peer->last = nullptr;
    srv.handle(peer, msg);
    io.poll();
    // A transact whose reply carries an error must leave the database as it was.
    const json& r = peer->last;
    if (msg.is_object() && msg.value("method", json()) == "transact" && r.is_object() && r.contains("result") &&
        r["result"].is_array()) {
      bool failed = false;
      for (auto& e : r["result"]) failed |= e.is_object() && e.contains("error");
      if (failed && store->db().snapshot_json() != before) {
        std::cerr << "rejected transaction changed the database: " << msg.dump() << "\n";
        std::abort();
      }
    }
  }
  srv.detach(*peer);
}

}  // namespace dps::confdb::test
