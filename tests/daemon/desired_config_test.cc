// The store side of the daemon without an EAL: importing the start-up
// configuration into an empty store, recording --vdev ports on later starts,
// and reading the desired state back (bridges, ports, VLANs, controllers,
// bonds reported as errors). Coverage goal: every branch of
// import_startup_config() and the wire-format decoding of
// read_desired_config().
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config_store.h"
#include "daemon/daemon_config.h"
#include "daemon/desired_config.h"
#include "daemon/sampling.h"

using namespace dps::daemon;
using nlohmann::json;

namespace {

std::unique_ptr<dps::confdb::ConfigStore> memory_store() {
  return dps::confdb::ConfigStore::open(DPS_SCHEMA_PATH, "");
}

DaemonConfig two_vdev_ports() {
  DaemonConfig cfg;
  cfg.eal = {"-l", "0,1", "--vdev", "net_null0", "--vdev=net_null1"};
  for (uint32_t no : {1u, 2u}) {
    dps::netdev::PortConfig pc;
    pc.name = "p" + std::to_string(no);
    pc.devargs = "net_null" + std::to_string(no - 1);
    cfg.ports.emplace_back(no, pc);
  }
  cfg.pmd_cores = {1, 3};
  cfg.flow_limit = 1234;
  cfg.openflow = {"ptcp:6653"};
  return cfg;
}

json uuid_of(dps::confdb::ConfigStore& store, const char* table, const std::string& name) {
  json r = store.transact_or_throw(json::array(
      {{{"op", "select"}, {"table", table}, {"where", json::array({json::array({"name", "==", name})})}}}));
  return r[0]["rows"][0]["_uuid"];
}

const InterfaceWant* find(const DesiredConfig& d, const std::string& name) {
  for (auto& w : d.interfaces)
    if (w.name == name) return &w;
  return nullptr;
}

}  // namespace

TEST_CASE("eal_vdevs finds both spellings of --vdev", "[daemon]") {
  CHECK(eal_vdevs({"-l", "0", "--vdev", "a,x=1", "--vdev=b", "--vdev"}) ==
        std::vector<std::string>{"a,x=1", "b"});
}

TEST_CASE("first start imports the start-up configuration as bridge br0", "[daemon]") {
  auto store = memory_store();
  DaemonConfig cfg = two_vdev_ports();
  cfg.ports[1].second.n_rxq = 4;
  cfg.cli_options = {"--flow-idle-ms", "500"};
  ImportReport rep = import_startup_config(*store, cfg, "br0", {{"p1", 1}, {"p2", 2}}, "test 1.0");
  CHECK(rep.imported);
  DesiredConfig d = read_desired_config(*store);
  REQUIRE(d.bridges.size() == 1);
  CHECK(d.bridges[0].name == "br0");
  CHECK(d.bridges[0].controllers == std::vector<std::string>{"ptcp:6653"});
  CHECK(d.other_config.at("pmd-cpu-mask") == "0xa");
  CHECK(d.other_config.at("flow-limit") == "1234");
  CHECK(d.other_config.count("max-idle") == 0);  // given on the command line: this run only
  REQUIRE(d.interfaces.size() == 3);  // br0 (internal), p1, p2
  const InterfaceWant* p2 = find(d, "p2");
  REQUIRE(p2);
  CHECK(p2->type == "dpdk");
  CHECK(p2->bridge == "br0");
  CHECK(p2->options.at("dpdk-devargs") == "net_null1");
  CHECK(p2->options.at("n_rxq") == "4");
  CHECK(p2->ofport_request == 2);
  REQUIRE(find(d, "br0"));
  CHECK(find(d, "br0")->type == "internal");
  CHECK(find(d, "p1")->options.count("n_rxq") == 0);  // defaults are not written

  SECTION("a later start changes nothing when every --vdev port is recorded") {
    ImportReport again = import_startup_config(*store, cfg, "br0", {}, "test 1.0");
    CHECK_FALSE(again.imported);
    CHECK(again.pinned.empty());
    CHECK(read_desired_config(*store) == d);
  }
  SECTION("ports of an earlier run's --vdev arguments are dropped; the user's stay") {
    store->transact_or_throw(json::array({
        {{"op", "insert"}, {"table", "Interface"},
         {"row", {{"name", "user1"}, {"type", "dpdk"},
                  {"options", json::array({"map", json::array({json::array({"dpdk-devargs", "net_null7"})})})}}},
         {"uuid-name", "iu"}},
        {{"op", "insert"}, {"table", "Port"},
         {"row", {{"name", "user1"}, {"interfaces", json::array({"named-uuid", "iu"})}}}, {"uuid-name", "pu"}},
        {{"op", "mutate"}, {"table", "Bridge"}, {"where", json::array()},
         {"mutations", json::array({json::array({"ports", "insert", json::array({"set", json::array({json::array({"named-uuid", "pu"})})})})})}},
    }));
    DaemonConfig other = cfg;
    other.eal = {"-l", "0,1", "--vdev", "net_null0"};  // net_null1 (p2) not given now
    other.ports.resize(1);
    ImportReport again = import_startup_config(*store, other, "br0", {{"p1", 1}}, "test 1.0");
    CHECK(again.dropped == std::vector<std::string>{"p2"});
    DesiredConfig now = read_desired_config(*store);
    CHECK(find(now, "p2") == nullptr);
    CHECK(find(now, "p1") != nullptr);
    CHECK(find(now, "user1") != nullptr);
  }
  SECTION("a --vdev port deleted from the store comes back on the next start") {
    json p1_uuid = uuid_of(*store, "Port", "p1");
    store->transact_or_throw(json::array(
        {{{"op", "mutate"},
          {"table", "Bridge"},
          {"where", json::array({json::array({"name", "==", "br0"})})},
          {"mutations", json::array({json::array({"ports", "delete", json::array({"set", json::array({p1_uuid})})})})}}}));
    REQUIRE(find(read_desired_config(*store), "p1") == nullptr);
    ImportReport again = import_startup_config(*store, cfg, "br0", {{"p1", 1}}, "test 1.0");
    CHECK(again.pinned == std::vector<std::string>{"p1"});
    DesiredConfig now = read_desired_config(*store);
    const InterfaceWant* p1 = find(now, "p1");
    REQUIRE(p1);
    CHECK(p1->options.at("dpdk-devargs") == "net_null0");
    CHECK(p1->ofport_request == 1);
  }
}

TEST_CASE("read_desired_config decodes VLANs and a bond's members", "[daemon]") {
  auto store = memory_store();
  store->transact_or_throw(json::array({
      {{"op", "insert"}, {"table", "Interface"}, {"row", {{"name", "a"}, {"type", "dpdk"}}}, {"uuid-name", "ia"}},
      {{"op", "insert"}, {"table", "Interface"}, {"row", {{"name", "b"}}}, {"uuid-name", "ib"}},
      {{"op", "insert"}, {"table", "Interface"},
       {"row", {{"name", "c"}, {"options", json::array({"map", json::array({json::array({"dpdk-devargs", "net_null3"})})})}}},
       {"uuid-name", "ic"}},
      {{"op", "insert"}, {"table", "Port"},
       {"row", {{"name", "bond0"}, {"interfaces", json::array({"set", json::array({json::array({"named-uuid", "ia"}),
                                                                                   json::array({"named-uuid", "ib"})})})}}},
       {"uuid-name", "pb"}},
      {{"op", "insert"}, {"table", "Port"},
       {"row", {{"name", "c"}, {"interfaces", json::array({"named-uuid", "ic"})}, {"tag", 10},
                {"trunks", json::array({"set", json::array({30, 20})})}, {"vlan_mode", "native-untagged"}}},
       {"uuid-name", "pc"}},
      {{"op", "insert"}, {"table", "Bridge"},
       {"row", {{"name", "brx"}, {"fail_mode", "secure"},
                {"ports", json::array({"set", json::array({json::array({"named-uuid", "pb"}), json::array({"named-uuid", "pc"})})})}}},
       {"uuid-name", "br"}},
      {{"op", "insert"}, {"table", "Open_vSwitch"},
       {"row", {{"bridges", json::array({"named-uuid", "br"})}, {"next_cfg", 7}}}},
  }));
  DesiredConfig d = read_desired_config(*store);
  CHECK(d.next_cfg == 7);
  REQUIRE(d.bridges.size() == 1);
  CHECK(d.bridges[0].fail_mode == "secure");
  const InterfaceWant* c = find(d, "c");
  REQUIRE(c);
  CHECK(c->tag == 10);
  CHECK(c->trunks == std::vector<int64_t>{20, 30});
  CHECK(c->vlan_mode == "native-untagged");
  CHECK(c->options.at("dpdk-devargs") == "net_null3");
  CHECK(c->config_error.empty());
  // Both interfaces of Port bond0 are its members, without an error.
  const InterfaceWant* a = find(d, "a");
  const InterfaceWant* b = find(d, "b");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->config_error.empty());
  CHECK(b->config_error.empty());
  CHECK(a->port == "bond0");
  CHECK(a->bond_members == std::vector<std::string>{"a", "b"});
  CHECK(b->bond_members == a->bond_members);
}

TEST_CASE("read_desired_config reads a bridge's mirrors with port names", "[daemon][mirror]") {
  auto store = memory_store();
  auto ref = [](const char* n) { return json::array({"named-uuid", n}); };
  auto set = [](json elems) { return json::array({"set", std::move(elems)}); };
  store->transact_or_throw(json::array({
      {{"op", "insert"}, {"table", "Interface"}, {"row", {{"name", "if1"}}}, {"uuid-name", "i1"}},
      {{"op", "insert"}, {"table", "Interface"}, {"row", {{"name", "if2"}}}, {"uuid-name", "i2"}},
      {{"op", "insert"}, {"table", "Port"}, {"row", {{"name", "p1"}, {"interfaces", ref("i1")}}}, {"uuid-name", "p1"}},
      {{"op", "insert"}, {"table", "Port"}, {"row", {{"name", "p2"}, {"interfaces", ref("i2")}}}, {"uuid-name", "p2"}},
      {{"op", "insert"}, {"table", "Mirror"},
       {"row", {{"name", "m1"}, {"select_src_port", ref("p1")}, {"select_dst_port", set(json::array({ref("p1"), ref("p2")}))},
                {"select_vlan", set(json::array({20, 10}))}, {"output_port", ref("p2")}, {"snaplen", 128}}},
       {"uuid-name", "m1"}},
      {{"op", "insert"}, {"table", "Mirror"}, {"row", {{"name", "m0"}, {"select_all", true}, {"output_vlan", 300}}},
       {"uuid-name", "m0"}},
      {{"op", "insert"}, {"table", "Bridge"},
       {"row", {{"name", "br0"}, {"ports", set(json::array({ref("p1"), ref("p2")}))},
                {"mirrors", set(json::array({ref("m1"), ref("m0")}))}}},
       {"uuid-name", "br"}},
      {{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", {{"bridges", ref("br")}}}},
  }));
  DesiredConfig d = read_desired_config(*store);
  REQUIRE(d.bridges.size() == 1);
  const auto& ms = d.bridges[0].mirrors;
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].name == "m0");
  CHECK(ms[0].select_all);
  CHECK(ms[0].output_vlan == 300);
  CHECK(ms[0].output_port.empty());
  CHECK(ms[1].name == "m1");
  CHECK(ms[1].select_src_port == std::vector<std::string>{"if1"});  // the Port's interface
  CHECK(ms[1].select_dst_port == std::vector<std::string>{"if1", "if2"});
  CHECK(ms[1].select_vlan == std::vector<uint16_t>{10, 20});
  CHECK(ms[1].output_port == "if2");
  CHECK(ms[1].snaplen == 128);
  CHECK(ms[1].uuid.size() == 36);
  // A mirror's statistics are not configuration: writing them changes nothing.
  store->transact_or_throw(json::array({{{"op", "update"}, {"table", "Mirror"},
                                         {"where", json::array({json::array({"name", "==", "m1"})})},
                                         {"row", {{"statistics", json::array({"map", json::array({json::array({"tx_packets", 5})})})}}}}}));
  CHECK(read_desired_config(*store) == d);
}

TEST_CASE("read_desired_config reads a bridge's sFlow, IPFIX and NetFlow rows", "[daemon][sampling]") {
  auto store = memory_store();
  auto ref = [](const char* n) { return json::array({"named-uuid", n}); };
  auto set = [](json elems) { return json::array({"set", std::move(elems)}); };
  store->transact_or_throw(json::array({
      {{"op", "insert"}, {"table", "sFlow"},
       {"row", {{"targets", set(json::array({"127.0.0.1:6343", "10.0.0.1"}))}, {"sampling", 64}, {"polling", 1},
                {"header", 128}, {"agent", "lo"}}},
       {"uuid-name", "s"}},
      {{"op", "insert"}, {"table", "IPFIX"},
       {"row", {{"targets", "127.0.0.1:4739"}, {"sampling", 1}, {"obs_domain_id", 7}, {"obs_point_id", 9},
                {"cache_active_timeout", 10}, {"cache_max_flows", 100}}},
       {"uuid-name", "i"}},
      {{"op", "insert"}, {"table", "NetFlow"},
       {"row", {{"targets", "127.0.0.1:2055"}, {"engine_id", 3}, {"active_timeout", 30}}},
       {"uuid-name", "n"}},
      {{"op", "insert"}, {"table", "Bridge"},
       {"row", {{"name", "br0"}, {"sflow", ref("s")}, {"ipfix", ref("i")}, {"netflow", ref("n")}}},
       {"uuid-name", "br"}},
      {{"op", "insert"}, {"table", "Bridge"}, {"row", {{"name", "br1"}}}, {"uuid-name", "br1"}},
      {{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", {{"bridges", set(json::array({ref("br"), ref("br1")}))}}}},
  }));
  DesiredConfig d = read_desired_config(*store);
  REQUIRE(d.bridges.size() == 2);
  const BridgeWant& b = d.bridges[0];
  REQUIRE(b.sflow);
  CHECK(b.sflow->targets == std::vector<std::string>{"10.0.0.1", "127.0.0.1:6343"});
  CHECK(b.sflow->sampling == 64);
  CHECK(b.sflow->polling == 1);
  CHECK(b.sflow->header == 128);
  CHECK(b.sflow->agent == "lo");
  REQUIRE(b.ipfix);
  CHECK(b.ipfix->targets == std::vector<std::string>{"127.0.0.1:4739"});
  CHECK(b.ipfix->sampling == 1);
  CHECK(b.ipfix->obs_domain_id == 7);
  CHECK(b.ipfix->obs_point_id == 9);
  CHECK(b.ipfix->cache_active_timeout == 10);
  CHECK(b.ipfix->cache_max_flows == 100);
  REQUIRE(b.netflow);
  CHECK(b.netflow->engine_id == 3);
  CHECK_FALSE(b.netflow->engine_type);
  CHECK(b.netflow->active_timeout == 30);
  CHECK_FALSE(d.bridges[1].sflow);
  CHECK_FALSE(d.bridges[1].ipfix);
  CHECK_FALSE(d.bridges[1].netflow);
  // The schema's ranges are OVS's: out-of-range values never reach the daemon.
  CHECK_THROWS(store->transact_or_throw(json::array(
      {{{"op", "insert"}, {"table", "IPFIX"}, {"row", {{"sampling", 0}}}}})));
  CHECK_THROWS(store->transact_or_throw(json::array(
      {{{"op", "insert"}, {"table", "NetFlow"}, {"row", {{"targets", "x"}, {"engine_id", 256}}}}})));
  CHECK_THROWS(store->transact_or_throw(json::array(
      {{{"op", "insert"}, {"table", "IPFIX"}, {"row", {{"cache_active_timeout", 4201}}}}})));
}

TEST_CASE("ipfix_settings: input and output sampling are on unless other_config says true, as OVS",
          "[daemon][sampling]") {
  IpfixWant w;
  w.targets = {"127.0.0.1:4739"};
  std::string error;
  auto s = ipfix_settings(w, &error);
  REQUIRE(s);
  CHECK(s->input);
  CHECK(s->output);
  w.other_config = {{"enable-output-sampling", "true"}};  // vswitch.xml: "true to disable"
  s = ipfix_settings(w, &error);
  REQUIRE(s);
  CHECK(s->input);
  CHECK_FALSE(s->output);
  w.other_config = {{"enable-input-sampling", "true"}, {"enable-output-sampling", "false"}};
  s = ipfix_settings(w, &error);
  REQUIRE(s);
  CHECK_FALSE(s->input);
  CHECK(s->output);
}
