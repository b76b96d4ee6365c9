// reconciler_test.cc - the reconciler without an EAL: a fake port table
// (DpPorts) that records every open and close, real bridges (BridgeSet over
// a DpBacker on a do-nothing datapath), and desired states built by hand.
// Covers: the plan (the difference between desired and running state, and
// that computing it changes nothing), the order apply() takes (removed
// bridges disconnect first, ports close before bridges go, bridges are
// added before their ports open, so a device freed in a round is reused in
// the same round), ofport_request renumbering, validation errors, patch
// ports, VLAN settings, pmd-cpu-mask, and the write-back fed by
// Netdev::info().
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/dp_ports.h"
#include "daemon/reconciler.h"
#include "daemon/vhost_ports.h"
#include "dp_backer.h"
#include "dp_interface.h"
#include "ofproto.h"

using namespace dps;
using namespace dps::daemon;

namespace {

// A port with no device: fixed details, no traffic.
class FakeNetdev final : public netdev::Netdev {
 public:
  FakeNetdev(const netdev::PortConfig& pc, netdev::NetdevInfo info) : Netdev(pc.name), pc_(pc), info_(info) {}
  std::string type() const override { return pc_.type.empty() ? "dpdk" : pc_.type; }
  uint16_t n_rxq() const override { return pc_.n_rxq; }
  uint16_t n_txq() const override { return 2; }
  uint16_t rx_burst(uint16_t, rte_mbuf**, uint16_t) override { return 0; }
  uint16_t tx_burst(unsigned, rte_mbuf**, uint16_t) override { return 0; }
  bool link_up() const override { return info_.link_up; }
  netdev::NetdevInfo info() const override { return info_; }
  netdev::PortStats stats() const override {
    netdev::PortStats s;
    s.rx_packets = 7;
    return s;
  }
  const netdev::PortConfig& config() const { return pc_; }
  // An MTU above 9000 is refused (to see the error path).
  std::string set_mtu(uint32_t mtu) override {
    if (mtu > 9000) return "fake: MTU " + std::to_string(mtu) + " is too large";
    info_.mtu = mtu;
    return "";
  }

 private:
  netdev::PortConfig pc_;
  netdev::NetdevInfo info_;
};

// The port table: a device (devargs) opens once; "fail" never opens. Every
// call is logged ("add NAME", "del NAME") with a snapshot of what the test
// wants to know at that moment (on_event).
class FakePorts final : public DpPorts {
 public:
  std::vector<uint32_t> port_numbers() const override {
    std::vector<uint32_t> out;
    for (auto& [no, p] : ports) out.push_back(no);
    return out;
  }
  const netdev::Netdev* port(uint32_t no) const override {
    auto it = ports.find(no);
    return it == ports.end() ? nullptr : it->second.get();
  }
  uint32_t add_port(const netdev::PortConfig& pc, uint32_t no) override {
    if (pc.devargs == "fail") throw std::runtime_error("port " + pc.name + ": device probe failed");
    for (auto& [n, p] : ports)
      if (!pc.devargs.empty() && p->config().devargs == pc.devargs)
        throw std::runtime_error("port " + pc.name + ": device " + pc.devargs + " is in use");
    if (pc.name == "taken") throw std::runtime_error("internal port taken: a kernel interface named taken already exists");
    if (!no || ports.count(no))
      for (no = 1; ports.count(no);) no++;
    netdev::NetdevInfo info;
    info.link_up = true;
    info.hw_addr = std::array<uint8_t, 6>{0x02, 0xAB, 0, 0, 0, static_cast<uint8_t>(no)};
    info.mtu = pc.mtu ? pc.mtu : 1500;
    info.driver_name = "net_fake";
    info.device_id = no + 100;
    ports[no] = std::make_unique<FakeNetdev>(pc, info);
    event("add " + pc.name);
    return no;
  }
  void del_port(uint32_t no) override {
    event("del " + ports.at(no)->name());
    ports.erase(no);
  }
  std::string set_port_mtu(uint32_t no, uint32_t mtu) override {
    event("mtu " + ports.at(no)->name() + " " + std::to_string(mtu));
    return ports.at(no)->set_mtu(mtu);
  }
  std::vector<unsigned> pmd_lcores() const override { return lcores; }
  std::vector<unsigned> default_pmd_lcores() const override { return {1, 2, 3}; }
  std::string check_pmd_lcores(const std::vector<unsigned>& l) const override {
    return std::count(l.begin(), l.end(), 0u) ? "lcore 0 is the main lcore" : "";
  }
  void set_pmd_lcores(const std::vector<unsigned>& l) override {
    lcores = l;
    event("pmds");
  }
  // Recorded, not logged: the log is the order of port changes.
  void set_rxq_policy(const datapath::RxqPolicy& p) override {
    rxq_policy = p;
    rxq_policy_sets++;
  }

  void event(const std::string& what) {
    log.push_back(what);
    if (on_event) on_event(what);
  }

  std::map<uint32_t, std::unique_ptr<FakeNetdev>> ports;
  std::vector<unsigned> lcores{1};
  datapath::RxqPolicy rxq_policy;
  unsigned rxq_policy_sets = 0;
  std::vector<std::string> log;
  std::function<void(const std::string&)> on_event;
};

// A datapath with no PMDs: nothing to drain, every post succeeds.
class NullDp final : public ofproto::DpInterface {
 public:
  unsigned n_pmds() const override { return 1; }
  unsigned drain_upcalls(unsigned, datapath::Upcall*, unsigned) override { return 0; }
  int post_install(unsigned, const datapath::FlowSpec&) override { return 0; }
  bool post_execute(unsigned, uint32_t, rte_mbuf* const*, unsigned, const datapath::DpActions&) override {
    return true;
  }
  int post_modify(uint64_t, const datapath::DpActions&) override { return 0; }
  int post_remove(uint64_t) override { return 0; }
  void barrier() override {}
  std::optional<datapath::FlowStats> flow_stats(uint64_t) const override { return std::nullopt; }
  unsigned poll() override { return 0; }
  std::vector<datapath::InstallFailure> take_failed_installs() override { return {}; }
  void free_packets(rte_mbuf* const*, unsigned) override {}
  int set_meter(uint32_t, const datapath::DpMeterConfig&) override { return 0; }
  int del_meter(uint32_t) override { return 0; }
  std::optional<datapath::DpMeterStats> meter_stats(uint32_t) const override { return std::nullopt; }
};

netdev::PortConfig device(const std::string& name, const std::string& devargs) {
  netdev::PortConfig pc;
  pc.name = name;
  pc.type = "dpdk";
  pc.devargs = devargs;
  return pc;
}

InterfaceWant want(const std::string& name, const std::string& bridge, const std::string& type) {
  InterfaceWant w;
  w.name = name;
  w.port = name;
  w.bridge = bridge;
  w.type = type;
  return w;
}

InterfaceWant iface(const std::string& name, const std::string& bridge, const std::string& devargs) {
  InterfaceWant w = want(name, bridge, "dpdk");
  w.options["dpdk-devargs"] = devargs;
  return w;
}

InterfaceWant patch(const std::string& name, const std::string& bridge, const std::string& peer) {
  InterfaceWant w = want(name, bridge, "patch");
  if (!peer.empty()) w.options["peer"] = peer;
  return w;
}

InterfaceWant internal(const std::string& name, const std::string& bridge) {
  return want(name, bridge, "internal");
}

InterfaceWant tunnel(const std::string& name, const std::string& bridge, const std::string& type,
                     std::map<std::string, std::string> options) {
  InterfaceWant w = want(name, bridge, type);
  w.options = std::move(options);
  return w;
}

BridgeWant bridge(const std::string& name) {
  BridgeWant b;
  b.name = name;
  return b;
}

// The start-up state: bridge br0 with p1 (net_null0) and p2 (net_null1) as
// datapath and OpenFlow ports 1 and 2, as dpswitchd opens them.
struct Rig {
  FakePorts ports;
  std::unique_ptr<ofproto::DpBacker> backer;
  std::unique_ptr<ofproto::BridgeSet> bridges;
  std::unique_ptr<Reconciler> rec;
  std::vector<std::string> hook_calls;  // "BRIDGE:up" / "BRIDGE:down"

  Rig() {
    backer = std::make_unique<ofproto::DpBacker>(std::make_unique<NullDp>(), ofproto::BackerConfig{});
    bridges = std::make_unique<ofproto::BridgeSet>(*backer);
    ofproto::Ofproto& br0 = bridges->add("br0");
    std::vector<std::pair<uint32_t, netdev::PortConfig>> startup = {{1, device("p1", "net_null0")},
                                                                    {2, device("p2", "net_null1")}};
    for (auto& [no, pc] : startup) br0.add_port(no, ports.add_port(pc, no), pc.name);
    ports.log.clear();
    rec = std::make_unique<Reconciler>(ports, bridges.get(), startup, "br0");
    rec->set_openflow_hook([this](const BridgeWant& b, ofproto::Ofproto* o) {
      hook_calls.push_back(b.name + (o ? ":up" : ":down"));
      ports.log.push_back("hook " + b.name + (o ? ":up" : ":down"));
    });
  }

  // The store as first imported: br0 with its internal port, p1 and p2.
  static DesiredConfig startup_config() {
    DesiredConfig d;
    d.next_cfg = 1;
    d.bridges = {bridge("br0")};
    d.interfaces = {internal("br0", "br0"), iface("p1", "br0", "net_null0"), iface("p2", "br0", "net_null1")};
    return d;
  }

  ofproto::Ofproto* br(const std::string& name) const { return bridges->find(name); }
};

const InterfaceReport* find(const WriteBack& wb, const std::string& name) {
  for (auto& r : wb.interfaces)
    if (r.name == name) return &r;
  return nullptr;
}

size_t index_of(const std::vector<std::string>& log, const std::string& what) {
  auto it = std::find(log.begin(), log.end(), what);
  REQUIRE(it != log.end());
  return static_cast<size_t>(it - log.begin());
}

// The interface of that name in d.
InterfaceWant& want_of(DesiredConfig& d, const std::string& name) {
  for (auto& w : d.interfaces)
    if (w.name == name) return w;
  FAIL("no interface " << name);
  throw std::logic_error("unreachable");
}

void drop(DesiredConfig& d, const std::string& name) {
  std::erase_if(d.interfaces, [&](const InterfaceWant& w) { return w.name == name; });
}

using Kind = PortWant::Kind;
using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("the start-up state: the bridge's internal port opens, then nothing changes",
          "[daemon][reconciler]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  ReconcilePlan plan = rig.rec->plan(d);
  CHECK(plan.bridges_to_remove.empty());
  CHECK(plan.bridges_to_add.empty());
  CHECK(plan.ports_to_close.empty());
  CHECK(plan.ports_to_open == Names{"br0"});
  REQUIRE(plan.ports.size() == 3);
  CHECK(plan.ports.at("br0").kind == Kind::kInternal);
  CHECK(plan.ports.at("br0").pc->type == "internal");
  CHECK(plan.ports.at("p1").kind == Kind::kDevice);

  WriteBack wb = rig.rec->apply(d);
  // First apply: the internal port (a tap in the real datapath), then the
  // bridge's OpenFlow settings.
  CHECK(rig.ports.log == Names{"add br0", "hook br0:up"});
  CHECK(wb.cur_cfg == 1);
  REQUIRE(wb.interfaces.size() == 3);
  CHECK(find(wb, "br0")->ofport == kOfppLocal);
  CHECK(find(wb, "p1")->ofport == 1);
  CHECK(find(wb, "p2")->ofport == 2);

  rig.ports.log.clear();
  rig.rec->apply(d);
  CHECK(rig.ports.log.empty());  // same bridge settings: no hook call either
}

TEST_CASE("plan: the difference between desired and running state, without changing anything",
          "[daemon][reconciler]") {
  Rig rig;
  DesiredConfig running = Rig::startup_config();
  running.bridges.push_back(bridge("old"));
  rig.rec->apply(running);
  rig.ports.log.clear();

  DesiredConfig d = Rig::startup_config();
  d.bridges.push_back(bridge("br1"));
  d.interfaces[2].options["n_rxq"] = "2";              // p2 changes shape
  d.interfaces.push_back(iface("p3", "br0", "net_null2"));  // new
  d.interfaces.push_back(iface("p4", "br1", "net_null3"));  // new, on a new bridge
  d.interfaces.push_back(iface("p5", "nowhere", "net_null4"));
  d.interfaces.push_back(iface("p6", "br0", "net_null2"));  // p3's device
  InterfaceWant bad = iface("p7", "br0", "net_null5");
  bad.options["n_rxq_desc"] = "1000";
  d.interfaces.push_back(bad);
  d.interfaces.push_back(patch("x1", "br0", "x2"));

  ReconcilePlan plan = rig.rec->plan(d);
  CHECK(plan.bridges_to_remove == Names{"old"});
  CHECK(plan.bridges_to_add == Names{"br1"});
  CHECK(plan.ports_to_close == Names{"p2"});
  CHECK(plan.ports_to_open == Names{"p2", "p3", "p4"});
  CHECK(plan.patches_to_remove.empty());
  CHECK(plan.ports.at("p1").kind == Kind::kDevice);
  CHECK(plan.ports.at("p2").pc->n_rxq == 2);
  CHECK(plan.ports.at("p5").kind == Kind::kError);
  CHECK(plan.ports.at("p5").error == "interface p5: bridge nowhere does not exist");
  CHECK(plan.ports.at("p6").kind == Kind::kError);
  CHECK(plan.ports.at("p6").error == "dpdk-devargs net_null2 is already used by interface p3");
  CHECK(plan.ports.at("p7").error == "options:n_rxq_desc=1000 is not a power of two");
  CHECK(plan.ports.at("x1").kind == Kind::kPatch);

  // Nothing happened: no port opened or closed, no bridge added or removed.
  CHECK(rig.ports.log.empty());
  CHECK(rig.bridges->names() == Names{"br0", "old"});
  CHECK(rig.ports.ports.size() == 3);  // p1, p2 and br0
}

TEST_CASE("apply: removals before additions, bridges around their ports", "[daemon][reconciler]") {
  Rig rig;
  // Running: br0 (p1, p2) and bridge "old" with port q1.
  DesiredConfig before = Rig::startup_config();
  before.bridges.push_back(bridge("old"));
  before.interfaces.push_back(iface("q1", "old", "net_null9"));
  rig.rec->apply(before);
  REQUIRE(rig.br("old"));
  REQUIRE(rig.rec->open_ports().count("q1"));

  // Wanted: "old" gone, p2 moves to new bridge br1, p3 new on br1.
  DesiredConfig after = Rig::startup_config();
  after.bridges.push_back(bridge("br1"));
  after.interfaces[2].bridge = "br1";
  after.interfaces.push_back(iface("p3", "br1", "net_null3"));
  std::map<std::string, Names> bridges_at;  // event -> bridges that existed then
  rig.ports.on_event = [&](const std::string& e) { bridges_at[e] = rig.bridges->names(); };
  rig.ports.log.clear();
  WriteBack wb = rig.rec->apply(after);

  const Names& log = rig.ports.log;
  INFO("log: " << Catch::Detail::stringify(log));
  size_t disconnect = index_of(log, "hook old:down");
  size_t del_q1 = index_of(log, "del q1"), del_p2 = index_of(log, "del p2");
  size_t add_p2 = index_of(log, "add p2"), add_p3 = index_of(log, "add p3");
  size_t br1_up = index_of(log, "hook br1:up");
  CHECK(disconnect < std::min(del_q1, del_p2));            // connections close first
  CHECK(std::max(del_q1, del_p2) < std::min(add_p2, add_p3));  // removals before additions
  CHECK(std::max(add_p2, add_p3) < br1_up);                // bridge settings last
  // Ports close while their bridge is still there; the new bridge exists
  // before its ports open, the removed one is gone by then.
  CHECK(bridges_at["del q1"] == Names{"br0", "old"});
  CHECK(bridges_at["add p2"] == Names{"br0", "br1"});
  CHECK(rig.bridges->names() == Names{"br0", "br1"});

  // p2 is now OpenFlow port 2 of br1 (its datapath number is free there).
  CHECK(find(wb, "p2")->ofport == 2);
  CHECK(rig.br("br1")->bridge().port(2)->name == "p2");
  CHECK(rig.br("br0")->bridge().port(2) == nullptr);
  // A new bridge without controllers is a learning switch (one NORMAL rule).
  CHECK(rig.br("br1")->stats().rules == 1);
  CHECK_FALSE(find(wb, "q1"));
}

TEST_CASE("a device freed in a round is reused in the same round", "[daemon][reconciler]") {
  Rig rig;
  rig.rec->apply(Rig::startup_config());
  DesiredConfig d = Rig::startup_config();
  d.interfaces[1] = iface("p9", "br0", "net_null0");  // p1 renamed: same device
  rig.ports.log.clear();
  WriteBack wb = rig.rec->apply(d);
  CHECK(rig.ports.log == Names{"del p1", "add p9"});
  const InterfaceReport* p9 = find(wb, "p9");
  REQUIRE(p9);
  CHECK_FALSE(p9->error);
  CHECK(p9->ofport == 1);
}

TEST_CASE("ofport_request renumbers a port only when the number is free", "[daemon][reconciler]") {
  Rig rig;
  rig.rec->apply(Rig::startup_config());
  DesiredConfig d = Rig::startup_config();
  d.interfaces[1].ofport_request = 2;  // p1 asks for p2's number: kept as it is
  CHECK(rig.rec->plan(d).ports_to_close.empty());
  d.interfaces[1].ofport_request = 7;  // free: p1 is re-opened as 7
  CHECK(rig.rec->plan(d).ports_to_close == Names{"p1"});
  rig.ports.log.clear();
  WriteBack wb = rig.rec->apply(d);
  CHECK(rig.ports.log == Names{"del p1", "add p1"});
  CHECK(find(wb, "p1")->ofport == 7);
  CHECK(rig.br("br0")->bridge().port(7)->dp_port == rig.rec->open_ports().at("p1"));
}

TEST_CASE("ports that cannot be had are reported with the reason", "[daemon][reconciler]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.interfaces.push_back(iface("p3", "br0", "fail"));
  InterfaceWant no_devargs = iface("p4", "br0", "");
  no_devargs.options.clear();
  d.interfaces.push_back(no_devargs);
  InterfaceWant mtu = iface("p5", "br0", "net_null5");
  mtu.mtu_request = 20;
  d.interfaces.push_back(mtu);
  WriteBack wb = rig.rec->apply(d);
  for (const char* name : {"p3", "p4", "p5"}) {
    INFO(name);
    REQUIRE(find(wb, name));
    CHECK(find(wb, name)->ofport == -1);
  }
  CHECK(*find(wb, "p3")->error == "port p3: device probe failed");
  CHECK(*find(wb, "p4")->error == "interface p4: options:dpdk-devargs is required for type dpdk");
  CHECK(*find(wb, "p5")->error == "mtu_request=20 is outside 68..65535");
  CHECK(rig.rec->open_ports().size() == 3);  // p1, p2, br0
}

TEST_CASE("write-back: device details come from Netdev::info()", "[daemon][reconciler]") {
  Rig rig;
  WriteBack wb = rig.rec->apply(Rig::startup_config());
  const InterfaceReport* p2 = find(wb, "p2");
  REQUIRE(p2);
  CHECK(p2->mac_in_use == "02:ab:00:00:00:02");
  CHECK(p2->mtu == 1500);
  CHECK(p2->link_state == "up");
  CHECK(p2->admin_state == "up");
  CHECK(p2->status.at("driver_name") == "net_fake");
  CHECK(p2->status.at("port_id") == "102");
  CHECK(p2->status.at("n_txq") == "2");
  // A device that says nothing (a ring port) reports no MAC, MTU or driver.
  rig.ports.ports.at(1) = std::make_unique<FakeNetdev>(device("p1", "net_null0"), netdev::NetdevInfo{});
  wb = rig.rec->apply(Rig::startup_config());
  const InterfaceReport* p1 = find(wb, "p1");
  CHECK_FALSE(p1->mac_in_use);
  CHECK_FALSE(p1->mtu);
  CHECK(p1->status.count("driver_name") == 0);
  CHECK(p1->link_state == "down");

  std::vector<InterfaceReport> stats = rig.rec->collect_stats();
  REQUIRE(stats.size() == 3);  // br0, p1, p2
  CHECK(stats[1].name == "p1");
  CHECK(stats[1].statistics.at("rx_packets") == 7);
}

TEST_CASE("patch ports join their peer, or report why not", "[daemon][reconciler]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.bridges.push_back(bridge("br1"));
  d.interfaces.push_back(patch("x0", "br0", "x1"));
  d.interfaces.push_back(patch("x1", "br1", "x0"));
  d.interfaces.push_back(patch("y0", "br0", "nope"));
  d.interfaces.push_back(patch("z0", "br0", ""));
  WriteBack wb = rig.rec->apply(d);
  const InterfaceReport* x0 = find(wb, "x0");
  const InterfaceReport* x1 = find(wb, "x1");
  REQUIRE(x0);
  REQUIRE(x1);
  CHECK(x0->ofport == 3);  // the lowest free number of br0
  CHECK(x1->ofport == 1);
  CHECK(x0->status.at("peer") == "x1");
  const ofproto::BridgePort* bp = rig.br("br0")->bridge().port(3);
  REQUIRE(bp);
  CHECK(bp->peer_bridge == &rig.br("br1")->bridge());
  CHECK(bp->peer_port == 1);
  CHECK(*find(wb, "y0")->error == "patch port y0: peer nope does not exist");
  CHECK(*find(wb, "z0")->error == "patch port z0: options:peer is required");
  CHECK(rig.ports.ports.size() == 3);  // p1, p2, br0: no datapath port for a patch port

  // The peer goes: x0 leaves its bridge and reports the error.
  d.interfaces.pop_back();
  d.interfaces.pop_back();
  d.interfaces.pop_back();  // x1
  CHECK(rig.rec->plan(d).patches_to_remove == Names{"x1"});
  wb = rig.rec->apply(d);
  CHECK(*find(wb, "x0")->error == "patch port x0: peer x1 does not exist");
  CHECK(rig.br("br0")->bridge().port(3) == nullptr);
}

TEST_CASE("VLAN settings reach the bridge port", "[daemon][reconciler]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.interfaces[1].tag = 10;
  d.interfaces[2].trunks = {20, 30};
  rig.rec->apply(d);
  const ofproto::BridgePort* p1 = rig.br("br0")->bridge().port(1);
  const ofproto::BridgePort* p2 = rig.br("br0")->bridge().port(2);
  CHECK(p1->vlan_mode == ofproto::VlanMode::kAccess);
  CHECK(p1->tag == 10);
  CHECK(p2->vlan_mode == ofproto::VlanMode::kTrunk);
  CHECK(p2->trunks.count(20) == 1);
  CHECK(p2->trunks.count(30) == 1);
  d.interfaces[1].tag.reset();
  rig.rec->apply(d);
  CHECK(p1->vlan_mode == ofproto::VlanMode::kTrunk);
  CHECK(p1->tag == 0);
}

TEST_CASE("pmd-cpu-mask moves the PMDs; a bad mask leaves them", "[daemon][reconciler]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.other_config["pmd-cpu-mask"] = "0x6";
  rig.rec->apply(d);
  CHECK(rig.ports.lcores == std::vector<unsigned>{1, 2});
  d.other_config["pmd-cpu-mask"] = "0x1";  // the main lcore
  rig.rec->apply(d);
  CHECK(rig.ports.lcores == std::vector<unsigned>{1, 2});
  d.other_config["pmd-cpu-mask"] = "xyz";
  rig.rec->apply(d);
  CHECK(rig.ports.lcores == std::vector<unsigned>{1, 2});
  d.other_config.erase("pmd-cpu-mask");  // back to the default
  rig.rec->apply(d);
  CHECK(rig.ports.lcores == std::vector<unsigned>{1, 2, 3});
}

TEST_CASE("internal ports: LOCAL for the bridge's own, MTU from mtu_request or the bridge, in place",
          "[daemon][reconciler][internal]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.interfaces.push_back(internal("int1", "br0"));
  WriteBack wb = rig.rec->apply(d);
  uint32_t br0_dp = rig.rec->open_ports().at("br0");
  const ofproto::BridgePort* local = rig.br("br0")->bridge().port(ofproto::kPortLocal);
  REQUIRE(local);
  CHECK(local->dp_port == br0_dp);
  CHECK(local->name == "br0");
  CHECK(find(wb, "br0")->ofport == kOfppLocal);
  CHECK(find(wb, "br0")->mtu == 1500);  // p1 and p2 say 1500
  int64_t int1_of = *find(wb, "int1")->ofport;
  CHECK(int1_of >= 3);
  CHECK(int1_of < 65280);
  REQUIRE(rig.br("br0")->bridge().port(static_cast<uint32_t>(int1_of)));
  CHECK(rig.ports.ports.at(br0_dp)->config().type == "internal");
  CHECK(rig.ports.ports.at(br0_dp)->config().mtu == 1500);  // opened with the bridge MTU
  std::vector<InternalPortInfo> ints = rig.rec->internal_ports(false);
  REQUIRE(ints.size() == 2);
  CHECK(ints[0].name == "br0");
  CHECK(ints[0].of_port == ofproto::kPortLocal);
  CHECK_FALSE(ints[0].kernel);  // without kernel details
  CHECK(ints[1].name == "int1");

  SECTION("the bridge MTU is the smallest of its device ports'") {
    want_of(d, "p1").mtu_request = 9000;  // p1: re-opened; p2 still 1500
    rig.ports.log.clear();
    rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"del p1", "add p1"});
    want_of(d, "p2").mtu_request = 9000;  // p2 too: the bridge MTU is now 9000
    rig.ports.log.clear();
    wb = rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"del p2", "add p2", "mtu br0 9000", "mtu int1 9000"});
    CHECK(find(wb, "br0")->mtu == 9000);
    CHECK(rig.rec->open_ports().at("br0") == br0_dp);  // not re-opened
  }
  SECTION("mtu_request changes the MTU in place; a refused one is the error, the port stays") {
    want_of(d, "int1").mtu_request = 1400;
    rig.ports.log.clear();
    wb = rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"mtu int1 1400"});
    CHECK(find(wb, "int1")->mtu == 1400);
    CHECK_FALSE(find(wb, "int1")->error);
    want_of(d, "int1").mtu_request = 9100;
    rig.ports.log.clear();
    wb = rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"mtu int1 9100"});
    CHECK(*find(wb, "int1")->error == "fake: MTU 9100 is too large");
    CHECK(find(wb, "int1")->ofport == int1_of);
    CHECK(find(wb, "int1")->mtu == 1400);
    want_of(d, "int1").mtu_request.reset();  // back to the bridge's
    rig.ports.log.clear();
    wb = rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"mtu int1 1500"});
    CHECK_FALSE(find(wb, "int1")->error);
  }
  SECTION("removing the port or its bridge closes the device") {
    d.bridges.push_back(bridge("br1"));
    d.interfaces.push_back(internal("br1", "br1"));
    rig.rec->apply(d);
    REQUIRE(rig.br("br1"));
    CHECK(rig.br("br1")->bridge().port(ofproto::kPortLocal));
    drop(d, "int1");
    rig.ports.log.clear();
    rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"del int1"});
    d.bridges.pop_back();
    drop(d, "br1");
    rig.ports.log.clear();
    rig.rec->apply(d);
    CHECK(rig.ports.log == Names{"hook br1:down", "del br1"});
    CHECK(rig.br("br1") == nullptr);
    CHECK(rig.rec->internal_ports(false).size() == 1);
  }
  SECTION("a device that cannot be created is the interface's error; the rest is applied") {
    d.interfaces.push_back(internal("taken", "br0"));
    d.interfaces.push_back(iface("p3", "br0", "net_null3"));
    wb = rig.rec->apply(d);
    CHECK(*find(wb, "taken")->error == "internal port taken: a kernel interface named taken already exists");
    CHECK(find(wb, "taken")->ofport == -1);
    CHECK_FALSE(find(wb, "p3")->error);
  }
}

TEST_CASE("tunnel ports: a device-less datapath port whose BridgePort carries the options",
          "[daemon][reconciler][tunnel]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.interfaces.push_back(tunnel("vx0", "br0", "vxlan", {{"remote_ip", "172.16.1.2"}, {"key", "5000"}}));
  d.interfaces.push_back(tunnel("vx1", "br0", "vxlan", {{"remote_ip", "notanip"}}));
  WriteBack wb = rig.rec->apply(d);
  REQUIRE(find(wb, "vx0"));
  CHECK_FALSE(find(wb, "vx0")->error);
  int64_t of = *find(wb, "vx0")->ofport;
  CHECK(of >= 1);
  CHECK(of < 65280);
  CHECK(find(wb, "vx0")->link_state == "up");
  uint32_t dp = rig.rec->open_ports().at("vx0");
  CHECK(rig.ports.ports.at(dp)->config().type == "tunnel");
  const ofproto::BridgePort* bp = rig.br("br0")->bridge().port(static_cast<uint32_t>(of));
  REQUIRE(bp);
  REQUIRE(bp->is_tunnel());
  CHECK(bp->dp_port == dp);
  CHECK(bp->tunnel->type == datapath::TunnelType::kVxlan);
  CHECK(bp->tunnel->remote_ip.str() == "172.16.1.2");
  CHECK(bp->tunnel->in_key == 5000);
  CHECK(bp->tunnel->out_key == 5000);
  CHECK(rig.br("br0")->bridge().port_by_dp(dp) == bp);
  // The bad one: precise error, no port, the rest of the round applied.
  CHECK(*find(wb, "vx1")->error == "vx1: options:remote_ip: 'notanip' is not an IPv4 or IPv6 address (nor 'flow')");
  CHECK(find(wb, "vx1")->ofport == -1);
  CHECK(rig.rec->open_ports().count("vx1") == 0);

  SECTION("an option change replaces the config in place") {
    auto before = bp->tunnel;
    want_of(d, "vx0").options["key"] = "flow";
    want_of(d, "vx0").options["dst_port"] = "8472";
    rig.ports.log.clear();
    wb = rig.rec->apply(d);
    CHECK(rig.ports.log.empty());  // no datapath port closed or opened
    bp = rig.br("br0")->bridge().port(static_cast<uint32_t>(of));
    REQUIRE(bp);
    CHECK(bp->tunnel != before);
    CHECK(bp->tunnel->in_key_flow);
    CHECK(bp->tunnel->out_key_flow);
    CHECK(bp->tunnel->udp_dst_port() == 8472);
    CHECK(find(wb, "vx0")->ofport == of);
    // The same options again: the very same config stays.
    auto same = bp->tunnel;
    rig.rec->apply(d);
    CHECK(rig.br("br0")->bridge().port(static_cast<uint32_t>(of))->tunnel == same);
  }
  SECTION("a type change keeps the datapath port; a bad option removes the port") {
    want_of(d, "vx0").type = "geneve";
    rig.ports.log.clear();
    rig.rec->apply(d);
    CHECK(rig.ports.log.empty());
    CHECK(rig.br("br0")->bridge().port(static_cast<uint32_t>(of))->tunnel->type == datapath::TunnelType::kGeneve);
    want_of(d, "vx0").options["key"] = "16777216";
    wb = rig.rec->apply(d);
    CHECK(*find(wb, "vx0")->error ==
          "vx0: options:key: 16777216 is out of range (a 24-bit Geneve VNI: 0..16777215, or 'flow')");
    CHECK(rig.ports.log == Names{"del vx0"});
    CHECK(rig.br("br0")->bridge().port(static_cast<uint32_t>(of)) == nullptr);
  }
  SECTION("an unsupported interface type is an error") {
    d.interfaces.push_back(tunnel("sys0", "br0", "system", {}));
    wb = rig.rec->apply(d);
    CHECK(*find(wb, "sys0")->error ==
          "interface sys0: type 'system' is not supported (supported: dpdk, dpdkvhostuser, dpdkvhostuserclient, geneve, gre, internal, patch, ring, vxlan)");
  }
}

TEST_CASE("vhost-user interfaces open net_vhost devices as OVS users configure them",
          "[daemon][reconciler][vhost]") {
  Rig rig;
  DesiredConfig d = Rig::startup_config();
  d.other_config["vhost-sock-dir"] = "/tmp/dps-vhost";
  InterfaceWant server = tunnel("vh0", "br0", "dpdkvhostuser", {{"n_rxq", "2"}});
  InterfaceWant client = tunnel("vh1", "br0", "dpdkvhostuserclient", {{"vhost-server-path", "/tmp/vm1.sock"}});
  InterfaceWant no_path = tunnel("vh2", "br0", "dpdkvhostuserclient", {});
  InterfaceWant comma = tunnel("vh3", "br0", "dpdkvhostuserclient", {{"vhost-server-path", "/tmp/a,b"}});
  d.interfaces.insert(d.interfaces.end(), {server, client, no_path, comma});
  WriteBack wb = rig.rec->apply(d);
  auto devargs_of = [&](const std::string& name) -> std::string {
    for (auto& [no, p] : rig.ports.ports)
      if (p->name() == name) return p->config().devargs + " " + p->config().type;
    return "(not open)";
  };
  CHECK(devargs_of("vh0") == "net_vhost_vh0,iface=/tmp/dps-vhost/vh0,queues=2 dpdk");
  CHECK(devargs_of("vh1") == "net_vhost_vh1,iface=/tmp/vm1.sock,queues=1,client=1 dpdk");
  CHECK(find(wb, "vh0")->ofport > 0);
  CHECK(*find(wb, "vh2")->error ==
        "interface vh2: options:vhost-server-path is required for type dpdkvhostuserclient");
  CHECK(*find(wb, "vh3")->error ==
        "interface vh3: vhost-user socket /tmp/a,b contains a comma (not allowed in DPDK devargs)");
  CHECK(devargs_of("vh2") == "(not open)");
  // The same configuration again changes nothing; another socket
  // directory reopens the server port only.
  rig.ports.log.clear();
  rig.rec->apply(d);
  CHECK(rig.ports.log.empty());
  d.other_config["vhost-sock-dir"] = "/tmp/dps-vhost2";
  rig.rec->apply(d);
  CHECK(rig.ports.log == Names{"del vh0", "add vh0"});
  CHECK(devargs_of("vh0") == "net_vhost_vh0,iface=/tmp/dps-vhost2/vh0,queues=2 dpdk");
  // vhost-postcopy-support (global, as OVS) reopens every vhost port with it.
  d.other_config["vhost-postcopy-support"] = "true";
  rig.rec->apply(d);
  CHECK(devargs_of("vh0") == "net_vhost_vh0,iface=/tmp/dps-vhost2/vh0,queues=2,postcopy-support=1 dpdk");
  CHECK(devargs_of("vh1") == "net_vhost_vh1,iface=/tmp/vm1.sock,queues=1,client=1,postcopy-support=1 dpdk");
}

TEST_CASE("vhost-sock-dir: absolute, or relative to the run directory", "[daemon][vhost]") {
  ::setenv("DPS_RUNDIR", "/run/dps-test", 1);
  CHECK(vhost_sock_dir({}) == "/run/dps-test");
  CHECK(vhost_sock_dir({{"vhost-sock-dir", "vhost"}}) == "/run/dps-test/vhost");
  CHECK(vhost_sock_dir({{"vhost-sock-dir", "/srv/vhost"}}) == "/srv/vhost");
  ::unsetenv("DPS_RUNDIR");
  CHECK(vhost_sock_dir({}) == "/var/run/dpswitch");
  InterfaceWant w = want(std::string(104, 'v'), "br0", "dpdkvhostuser");  // "/tmp/" + 104 = 109 bytes
  std::string error;
  CHECK_FALSE(vhost_devargs(w, {"/tmp"}, 1, &error));
  CHECK(error.find("is longer than a Unix socket path (107 bytes)") != std::string::npos);
}

TEST_CASE("a stale vhost-user server socket is removed, a live one is not", "[daemon][vhost]") {
  std::string path = "/tmp/dps-vhost-stale-" + std::to_string(::getpid());
  std::string devargs = "net_vhost_x,iface=" + path + ",queues=1";
  auto make_socket = [&](bool listen) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    if (listen) REQUIRE(::listen(fd, 1) == 0);
    return fd;
  };
  ::close(make_socket(false));  // what a crashed server leaves behind
  CHECK(remove_stale_vhost_socket(devargs));
  CHECK(::access(path.c_str(), F_OK) != 0);
  int live = make_socket(true);
  CHECK_FALSE(remove_stale_vhost_socket(devargs));
  CHECK(::access(path.c_str(), F_OK) == 0);
  ::close(live);
  ::unlink(path.c_str());
  CHECK_FALSE(remove_stale_vhost_socket("net_vhost_x,iface=/nonexistent/sock"));
}
