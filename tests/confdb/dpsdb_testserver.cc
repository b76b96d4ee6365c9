// dpsdb_testserver - the config store and its JSON-RPC server without the
// datapath, for interop tests (ovs-vsctl, ovsdb-client, dpsctl).
//
// It plays the daemon's part with a trivial reconciler: after each commit it
// gives every Interface without an ofport the next free number (or, for
// type "fail", sets Interface.error) and copies next_cfg to cur_cfg, so that
// `ovs-vsctl` without --no-wait returns. It also registers stand-in runtime
// methods with the daemon's names so dpsctl's runtime commands can be tested.
//
//   dpsdb_testserver --schema FILE --db FILE --remote punix:PATH [--remote ptcp:PORT[:IP]]
#include <utility>

#include "config_store.h"
#include "jsonrpc_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <iostream>

using namespace dps::confdb;

namespace {

struct Reconciler {
  ConfigStore& store;
  boost::asio::io_context& io;
  bool posted = false;
  int64_t pmd_cycles = 0;

  void schedule() {
    if (posted) return;
    posted = true;
    boost::asio::post(io, [this] {
      posted = false;
      run();
    });
  }

  void run() {
    const auto& db = store.db();
    const auto& s = store.schema();
    size_t ti = s.table_pos("Interface");
    auto& ts = s.tables[ti];
    size_t c_ofport = *ts.find_column("ofport"), c_name = *ts.find_column("name"),
           c_type = *ts.find_column("type");
    int64_t next = 1;
    for (auto& [u, row] : db.table(ti))
      if (!row.columns[c_ofport].empty() && std::get<int64_t>(row.columns[c_ofport].keys[0]) < 65534)
        next = std::max(next, std::get<int64_t>(row.columns[c_ofport].keys[0]) + 1);
    std::vector<std::pair<std::string, std::string>> todo;
    for (auto& [u, row] : db.table(ti)) {
      if (!row.columns[c_ofport].empty()) continue;
      todo.emplace_back(std::get<std::string>(row.columns[c_name].keys[0]),
                        std::get<std::string>(row.columns[c_type].keys[0]));
    }
    for (auto& [name, type] : todo) {
      ConfigStore::InterfaceState st;
      if (type == "fail") {
        st.ofport = -1;
        st.error = "could not open network device " + name + " (No such device)";
      } else {
        st.ofport = type == "internal" ? 65534 : next++;
        st.link_state = "up";
        st.statistics = {{"rx_packets", 0}, {"tx_packets", 0}};
      }
      store.set_interface_state(name, st);
    }
    if (store.root_row() && store.cur_cfg() != store.next_cfg()) store.set_cur_cfg(store.next_cfg());
  }
};

void register_runtime(JsonRpcServer& srv, Reconciler& rec) {
  srv.add_method("dpif/pmd-stats-show", "[] -> per-PMD counters", false, [&rec](const json&) {
    return json::array({{{"pmd", 0}, {"core", 1}, {"numa", 0}, {"emc_hits", 1000 + rec.pmd_cycles},
                         {"megaflow_hits", 20}, {"upcalls", 3}, {"lost", 0}},
                        {{"pmd", 1}, {"core", 2}, {"numa", 0}, {"emc_hits", 7},
                         {"megaflow_hits", 0}, {"upcalls", 0}, {"lost", 0}}});
  });
  srv.add_method("dpif/pmd-stats-clear", "[] -> {}", true, [&rec](const json&) {
    rec.pmd_cycles = -1000;
    return json::object();
  });
  srv.add_method("dpif/pmd-rxq-show", "[] -> rxq assignment", false, [](const json&) {
    return json::array({{{"pmd", 0}, {"port", "p1"}, {"queue", 0}, {"usage", "3 %"}}});
  });
  srv.add_method("dpif/dump-flows", "[BRIDGE?] -> datapath flows", false, [](const json&) {
    return json::array({{{"match", "in_port=1,eth_type=0x0800"}, {"actions", "2"}, {"packets", 5}}});
  });
  srv.add_method("dpif/add-flow", "[FLOW, ACTIONS]", true, [](const json& p) {
    if (p.size() != 2) throw RpcError{"dpif/add-flow takes FLOW and ACTIONS"};
    return json{{"added", p[0]}};
  });
  srv.add_method("dpif/del-flow", "[FLOW]", true, [](const json& p) { return json{{"deleted", p.at(0)}}; });
  srv.add_method("ofproto/trace", "[BRIDGE, FLOW]", false, [](const json& p) {
    if (p.size() < 2) throw RpcError{"ofproto/trace needs BRIDGE and FLOW"};
    return json{{"bridge", p[0]}, {"flow", p[1]}, {"datapath_actions", "drop"}};
  });
  srv.add_method("fdb/show", "[BRIDGE]", false, [](const json& p) {
    if (p.size() != 1) throw RpcError{"fdb/show needs BRIDGE"};
    return json::array({{{"port", 1}, {"vlan", 0}, {"mac", "00:00:00:00:00:01"}, {"age", 3}}});
  });
  srv.add_method("netdev/port-stats", "[PORT?]", false, [](const json&) {
    return json::array({{{"port", "p1"}, {"rx_packets", 10}, {"tx_packets", 12}, {"rx_dropped", 0}}});
  });
  srv.add_method("netdev/port-xstats", "[PORT]", false, [](const json& p) {
    return json{{"port", p.empty() ? json("p1") : p[0]}, {"rx_good_packets", 10}};
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string schema, dbfile;
  std::vector<std::string> remotes;
  bool reconcile = true;  // off: cur_cfg never follows next_cfg (timeout tests)
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "dpsdb_testserver: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--schema") schema = val();
    else if (a == "--db") dbfile = val();
    else if (a == "--remote") remotes.push_back(val());
    else if (a == "-v") spdlog::set_level(spdlog::level::debug);
    else if (a == "--no-reconcile") reconcile = false;
    else {
      std::cerr << "dpsdb_testserver: unknown option " << a << "\n";
      return 2;
    }
  }
  if (schema.empty() || remotes.empty()) {
    std::cerr << "usage: dpsdb_testserver --schema FILE [--db FILE] --remote REMOTE...\n";
    return 2;
  }
  try {
    boost::asio::io_context io;
    auto store = ConfigStore::open(schema, dbfile);
    store->ensure_root_row();
    JsonRpcServer srv(io, *store, ServerOptions{.version = "dpsdb_testserver 0.1"});
    Reconciler rec{*store, io};
    if (reconcile) store->subscribe([&rec](const ChangeSet&, const Database&) { rec.schedule(); });
    register_runtime(srv, rec);
    for (auto& r : remotes) srv.listen(r);
    boost::asio::signal_set sigs(io, SIGINT, SIGTERM);
    sigs.async_wait([&](const boost::system::error_code&, int) {
      srv.stop();
      io.stop();
    });
    rec.schedule();
    std::cout << "ready" << std::endl;
    io.run();
  } catch (const OvsdbError& e) {
    std::cerr << "dpsdb_testserver: " << e.error << ": " << e.details << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "dpsdb_testserver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
