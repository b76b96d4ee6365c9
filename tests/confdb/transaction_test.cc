// Coverage goal: every RFC 7047 §5.2 operation, its success result and its
// errors; all-or-nothing commits; the commit-time rules (strong/weak refs,
// garbage collection, indexes, maxRows, element counts); type validation.
#include <catch2/catch.hpp>

#include "confdb_test_util.h"
#include "transaction.h"

using namespace dps::confdb;
using namespace dps::confdb::test;

namespace {

json where_uuid(const json& u) { return json::array({json::array({"_uuid", "==", u})}); }

std::unique_ptr<ConfigStore> mem_store() { return ConfigStore::open(vswitch_schema(), ""); }

json add_bridge_ops(const std::string& br, const json& root) {
  return json::array({
      {{"op", "insert"}, {"table", "Interface"}, {"uuid-name", "i"}, {"row", {{"name", br}, {"type", "internal"}}}},
      {{"op", "insert"}, {"table", "Port"}, {"uuid-name", "p"},
       {"row", {{"name", br}, {"interfaces", json::array({"named-uuid", "i"})}}}},
      {{"op", "insert"}, {"table", "Bridge"}, {"uuid-name", "b"},
       {"row", {{"name", br}, {"ports", json::array({"named-uuid", "p"})}}}},
      {{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", where_uuid(root)},
       {"mutations", json::array({json::array({"bridges", "insert", json::array({"named-uuid", "b"})})})}},
  });
}

size_t rows(const ConfigStore& s, const char* table) { return s.db().table(s.schema().table_pos(table)).size(); }

// A store of two root tables: A.peers holds weak references (at least
// `min_peers`) to B; one row of each, A's peers naming B's row. Returns the
// uuid of A's row.
std::unique_ptr<ConfigStore> weak_ref_store(int min_peers, Uuid* a) {
  json schema_json = json::parse(R"({
    "name":"W","version":"1.0.0","tables":{
      "A":{"isRoot":true,"columns":{"peers":{"type":{"key":{"type":"uuid","refTable":"B","refType":"weak"},"max":"unlimited"}}}},
      "B":{"isRoot":true,"columns":{"n":{"type":"integer"}}}}})");
  schema_json["tables"]["A"]["columns"]["peers"]["type"]["min"] = min_peers;
  auto s = ConfigStore::open(std::make_shared<const DatabaseSchema>(DatabaseSchema::from_json(schema_json)), "");
  json r = s->transact_or_throw(json::array({{{"op", "insert"}, {"table", "B"}, {"uuid-name", "b"}, {"row", {{"n", 1}}}},
                                             {{"op", "insert"}, {"table", "A"}, {"row", {{"peers", json::array({"named-uuid", "b"})}}}}}));
  *a = *Uuid::parse(r[1]["uuid"][1].get<std::string>());
  return s;
}

}  // namespace

TEST_CASE("uuid parse and format round-trip", "[confdb]") {
  Uuid u = Uuid::random();
  auto p = Uuid::parse(u.to_string());
  REQUIRE(p);
  CHECK(*p == u);
  CHECK_FALSE(Uuid::parse("not-a-uuid"));
  CHECK_FALSE(Uuid::parse("0123456789abcdef0123456789abcdef0123"));
  CHECK(Uuid::parse("550e8400-e29b-41d4-a716-446655440000")->to_string() == "550e8400-e29b-41d4-a716-446655440000");
}

TEST_CASE("schema loads with the OVS tables and roots and indexes", "[confdb]") {
  auto s = vswitch_schema();
  CHECK(s->name == "Open_vSwitch");
  for (auto t : {"Open_vSwitch", "Bridge", "Port", "Interface", "Controller", "Manager"}) CHECK(s->find_table(t));
  CHECK(s->table("Open_vSwitch").is_root);
  CHECK_FALSE(s->table("Bridge").is_root);
  CHECK(s->table("Open_vSwitch").max_rows == 1);
  CHECK(s->table("Bridge").indexes.size() == 1);
  CHECK_FALSE(s->table("Bridge").columns[*s->table("Bridge").find_column("name")].is_mutable);
  CHECK(s->table("Interface").columns[*s->table("Interface").find_column("statistics")].ephemeral);
  CHECK_THROWS_AS(DatabaseSchema::from_json(json::parse(R"({"name":"x","tables":{"T":{"columns":{"c":{"type":"nope"}}}}})")),
                  OvsdbError);
  CHECK_THROWS_AS(DatabaseSchema::from_json(json::parse(
                      R"({"name":"x","tables":{"T":{"columns":{"c":{"type":{"key":{"type":"uuid","refTable":"Nope"}}}}}}})")),
                  OvsdbError);
}

TEST_CASE("datum JSON wire format and constraints", "[confdb]") {
  auto s = vswitch_schema();
  const Type& trunks = s->table("Port").column_type("trunks");
  Datum d = datum_from_json(json::parse(R"(["set",[3,1,2]])"), trunks, nullptr, "t");
  CHECK(d.size() == 3);
  CHECK(datum_to_json(d, trunks) == json::parse(R"(["set",[1,2,3]])"));
  CHECK(datum_to_json(datum_from_json(7, trunks, nullptr, "t"), trunks) == 7);  // one-element set = bare atom
  CHECK_THROWS_AS(datum_from_json(json::parse(R"(["set",[4096]])"), trunks, nullptr, "t"), OvsdbError);
  CHECK_THROWS_AS(datum_from_json(json::parse(R"(["set",[1,1]])"), trunks, nullptr, "t"), OvsdbError);
  CHECK_THROWS_AS(datum_from_json("x", trunks, nullptr, "t"), OvsdbError);

  const Type& options = s->table("Interface").column_type("options");
  Datum m = datum_from_json(json::parse(R"(["map",[["b","2"],["a","1"]]])"), options, nullptr, "o");
  CHECK(datum_to_json(m, options) == json::parse(R"(["map",[["a","1"],["b","2"]]])"));
  CHECK_THROWS_AS(datum_from_json(json::parse(R"(["set",["a"]])"), options, nullptr, "o"), OvsdbError);

  const Type& fail_mode = s->table("Bridge").column_type("fail_mode");
  CHECK_NOTHROW(datum_from_json("secure", fail_mode, nullptr, "f"));
  try {
    datum_from_json("bogus", fail_mode, nullptr, "Bridge.fail_mode");
    FAIL("enum not enforced");
  } catch (const OvsdbError& e) {
    CHECK(e.error == "constraint violation");
    CHECK(e.details.find("Bridge.fail_mode") != std::string::npos);
  }
  const Type& tag = s->table("Port").column_type("tag");
  CHECK_THROWS_AS(datum_from_json(json::parse(R"(["set",[1,2]])"), tag, nullptr, "tag"), OvsdbError);  // max 1
  CHECK(datum_from_json(json::parse(R"(["set",[]])"), tag, nullptr, "tag").empty());
  const Type& uuid_t = uuid_column_type();
  CHECK_THROWS_AS(datum_from_json(json::parse(R"(["uuid","zz"])"), uuid_t, nullptr, "u"), OvsdbError);
  CHECK_THROWS_AS(datum_from_json(json::parse(R"(["named-uuid","x"])"), uuid_t, nullptr, "u"), OvsdbError);
}

TEST_CASE("insert with forward named-uuid references then select and GC on delete", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  json r = s->transact_or_throw(add_bridge_ops("br0", atom_to_json(root)));
  REQUIRE(r.size() == 4);
  CHECK(r[3]["count"] == 1);
  CHECK(rows(*s, "Bridge") == 1);
  CHECK(rows(*s, "Port") == 1);

  // Forward reference: the mutate names the bridge before it is inserted.
  json fwd = json::array({
      {{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", where_uuid(atom_to_json(root))},
       {"mutations", json::array({json::array({"bridges", "insert", json::array({"named-uuid", "b2"})})})}},
      {{"op", "insert"}, {"table", "Bridge"}, {"uuid-name", "b2"}, {"row", {{"name", "br1"}}}},
  });
  s->transact_or_throw(fwd);
  CHECK(rows(*s, "Bridge") == 2);

  json sel = s->transact_or_throw(json::array(
      {{{"op", "select"}, {"table", "Bridge"}, {"where", json::array({json::array({"name", "==", "br0"})})},
        {"columns", json::array({"name", "ports", "_uuid"})}}}));
  REQUIRE(sel[0]["rows"].size() == 1);
  CHECK(sel[0]["rows"][0]["name"] == "br0");
  CHECK(sel[0]["rows"][0]["ports"][0] == "uuid");
  CHECK_FALSE(sel[0]["rows"][0].contains("fail_mode"));

  // Removing the bridge from the root collects bridge, port and interface.
  json bu = sel[0]["rows"][0]["_uuid"];
  s->transact_or_throw(json::array(
      {{{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", where_uuid(atom_to_json(root))},
        {"mutations", json::array({json::array({"bridges", "delete", bu})})}}}));
  CHECK(rows(*s, "Bridge") == 1);
  CHECK(rows(*s, "Port") == 0);
  CHECK(rows(*s, "Interface") == 0);

  // An inserted non-root row nobody references is collected at commit.
  s->transact_or_throw(json::array({{{"op", "insert"}, {"table", "Controller"}, {"row", {{"target", "tcp:1.2.3.4"}}}}}));
  CHECK(rows(*s, "Controller") == 0);
}

TEST_CASE("a failing operation rolls back the whole transaction", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  s->transact_or_throw(add_bridge_ops("br0", atom_to_json(root)));
  json before = s->db().snapshot_json();
  json ops = add_bridge_ops("br1", atom_to_json(root));
  ops.push_back({{"op", "update"}, {"table", "Bridge"}, {"where", json::array()}, {"row", {{"fail_mode", "bogus"}}}});
  ops.push_back({{"op", "comment"}, {"comment", "never reached"}});
  TxnOutcome out = s->transact(ops);
  CHECK_FALSE(out.ok);
  REQUIRE(out.result.size() == ops.size());
  CHECK(out.result[4]["error"] == "constraint violation");
  CHECK(out.result[5].is_null());
  CHECK(s->db().snapshot_json() == before);

  // Commit-time failure: duplicate index value -> one extra result element.
  out = s->transact(add_bridge_ops("br0", atom_to_json(root)));
  CHECK_FALSE(out.ok);
  REQUIRE(out.result.size() == 5);
  CHECK(out.result[4]["error"] == "constraint violation");
  CHECK(out.result[4]["details"].get<std::string>().find("index") != std::string::npos);
  CHECK(s->db().snapshot_json() == before);

  // Abort.
  out = s->transact(json::array({{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", json::object()}}, {{"op", "abort"}}}));
  CHECK(out.result[1]["error"] == "aborted");
  CHECK(rows(*s, "Open_vSwitch") == 1);
}

TEST_CASE("referential integrity and maxRows and immutable columns", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  s->transact_or_throw(add_bridge_ops("br0", atom_to_json(root)));
  json bogus = atom_to_json(Uuid::random());
  TxnOutcome out = s->transact(json::array(
      {{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", json::array()}, {"row", {{"bridges", bogus}}}}}));
  REQUIRE(out.result.size() == 2);
  CHECK(out.result[1]["error"] == "referential integrity violation");

  out = s->transact(json::array({{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", json::object()}}}));
  CHECK(out.result.back()["error"] == "constraint violation");  // maxRows 1

  out = s->transact(json::array(
      {{{"op", "update"}, {"table", "Bridge"}, {"where", json::array()}, {"row", {{"name", "x"}}}}}));
  CHECK(out.result[0]["error"] == "constraint violation");

  // Port.interfaces has min 1: emptying it is a constraint violation.
  out = s->transact(json::array({{{"op", "update"}, {"table", "Port"}, {"where", json::array()},
                                  {"row", {{"interfaces", json::array({"set", json::array()})}}}}}));
  CHECK(out.result[0]["error"] == "constraint violation");

  out = s->transact(json::array({{{"op", "select"}, {"table", "Nope"}, {"where", json::array()}}}));
  CHECK(out.result[0]["error"] == "unknown table");
  out = s->transact(json::array({{{"op", "select"}, {"table", "Bridge"}, {"where", json::array({json::array({"nope", "==", 1})})}}}));
  CHECK(out.result[0]["error"] == "unknown column");
  out = s->transact(json::array({{{"op", "frobnicate"}}}));
  CHECK(out.result[0]["error"] == "unknown operation");
  out = s->transact(json::array({{{"op", "insert"}, {"table", "Bridge"}, {"uuid-name", "a"}, {"row", {{"name", "q"}}}},
                                 {{"op", "insert"}, {"table", "Bridge"}, {"uuid-name", "a"}, {"row", {{"name", "r"}}}}}));
  CHECK(out.result[1]["error"] == "duplicate uuid-name");
}

TEST_CASE("mutate: arithmetic and set/map insert/delete and errors", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  json w = where_uuid(atom_to_json(root));
  auto mutate = [&](json muts) {
    return s->transact(json::array({{{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", w}, {"mutations", muts}}}));
  };
  CHECK(mutate(json::parse(R"([["next_cfg","+=",5],["next_cfg","*=",3],["next_cfg","-=",1],["next_cfg","%=",4]])")).ok);
  CHECK(s->next_cfg() == 2);
  TxnOutcome out = mutate(json::parse(R"([["next_cfg","/=",0]])"));
  CHECK(out.result[0]["error"] == "domain error");
  CHECK(mutate(json::parse(R"([["next_cfg","+=",9223372036854775807]])")).result[0]["error"] == "range error");
  CHECK(s->next_cfg() == 2);

  CHECK(mutate(json::parse(R"([["other_config","insert",["map",[["pmd-cpu-mask","0x6"],["a","1"]]]]])")).ok);
  CHECK(mutate(json::parse(R"([["other_config","insert",["map",[["a","2"]]]]])")).ok);  // existing key kept
  auto oc = *s->get("Open_vSwitch", root, "other_config");
  CHECK(oc == json::parse(R"(["map",[["a","1"],["pmd-cpu-mask","0x6"]]])"));
  CHECK(mutate(json::parse(R"([["other_config","delete",["map",[["a","9"]]]]])")).ok);  // value differs: kept
  CHECK(s->get("Open_vSwitch", root, "other_config")->at(1).size() == 2);
  CHECK(mutate(json::parse(R"([["other_config","delete",["set",["a"]]]])")).ok);  // delete by key
  CHECK(*s->get("Open_vSwitch", root, "other_config") == json::parse(R"(["map",[["pmd-cpu-mask","0x6"]]])"));
  CHECK(mutate(json::parse(R"([["datapath_types","insert",["set",["netdev","system"]]],["datapath_types","delete","system"]])")).ok);
  CHECK(*s->get("Open_vSwitch", root, "datapath_types") == "netdev");
  CHECK(mutate(json::parse(R"([["_uuid","insert",1]])")).result[0]["error"] == "constraint violation");
  CHECK(mutate(json::parse(R"([["datapath_types","+=",1]])")).result[0]["error"] == "constraint violation");
}

TEST_CASE("wait with timeout 0 and conditions and assert and comment", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  json w = where_uuid(atom_to_json(root));
  auto wait = [&](const char* until, json rows, json timeout) {
    json op = {{"op", "wait"}, {"table", "Open_vSwitch"}, {"where", w}, {"columns", json::array({"next_cfg"})},
               {"until", until}, {"rows", rows}};
    if (!timeout.is_null()) op["timeout"] = timeout;
    return s->transact(json::array({op}));
  };
  CHECK(wait("==", json::parse(R"([{"next_cfg":0}])"), 0).ok);
  TxnOutcome out = wait("==", json::parse(R"([{"next_cfg":1}])"), 0);
  CHECK(out.result[0]["error"] == "timed out");
  CHECK(wait("!=", json::parse(R"([{"next_cfg":1}])"), 0).ok);
  out = wait("==", json::parse(R"([{"next_cfg":1}])"), 1000);
  CHECK(out.blocked);
  CHECK(out.retry_within.has_value());
  out = wait("==", json::parse(R"([{"next_cfg":1}])"), nullptr);
  CHECK(out.blocked);
  CHECK_FALSE(out.retry_within.has_value());
  TxnContext late;
  late.elapsed = std::chrono::milliseconds(2000);
  json op = {{"op", "wait"}, {"table", "Open_vSwitch"}, {"where", w}, {"columns", json::array({"next_cfg"})},
             {"until", "=="}, {"rows", json::parse(R"([{"next_cfg":1}])")}, {"timeout", 1000}};
  CHECK(s->transact(json::array({op}), late).result[0]["error"] == "timed out");

  out = s->transact(json::array({{{"op", "assert"}, {"lock", "ovs_vswitchd"}}}));
  CHECK(out.result[0]["error"] == "not owner");
  TxnContext owner;
  owner.owns_lock = [](const std::string& l) { return l == "ovs_vswitchd"; };
  CHECK(s->transact(json::array({{{"op", "assert"}, {"lock", "ovs_vswitchd"}}}), owner).ok);

  // Ordered conditions and includes/excludes.
  s->transact_or_throw(json::array({{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", w},
                                     {"row", {{"next_cfg", 7}, {"iface_types", json::parse(R"(["set",["dpdk","internal"]])")}}}}}));
  auto count = [&](json cond) {
    json r = s->transact_or_throw(json::array({{{"op", "select"}, {"table", "Open_vSwitch"}, {"where", json::array({cond})}}}));
    return r[0]["rows"].size();
  };
  CHECK(count(json::parse(R"(["next_cfg","<",8])")) == 1);
  CHECK(count(json::parse(R"(["next_cfg",">=",8])")) == 0);
  CHECK(count(json::parse(R"(["iface_types","includes","dpdk"])")) == 1);
  CHECK(count(json::parse(R"(["iface_types","excludes","dpdk"])")) == 0);
  CHECK(count(json::parse(R"(["iface_types","excludes",["set",["vhost"]]])")) == 1);

  out = s->transact(json::array({{{"op", "comment"}, {"comment", "hello"}},
                                 {{"op", "update"}, {"table", "Open_vSwitch"}, {"where", w}, {"row", {{"next_cfg", 8}}}},
                                 {{"op", "commit"}, {"durable", true}}}));
  CHECK(out.ok);
  CHECK(out.changes.comment == "hello");
  CHECK(out.durable);
}

TEST_CASE("weak references are dropped when their target goes away", "[confdb]") {
  Uuid a;
  auto s = weak_ref_store(0, &a);
  CHECK(s->get("A", a, "peers")->at(0) == "uuid");
  s->transact_or_throw(json::array({{{"op", "delete"}, {"table", "B"}, {"where", json::array()}}}));
  CHECK(*s->get("A", a, "peers") == json::parse(R"(["set",[]])"));
}

TEST_CASE("subscribers see each commit and write-back helpers work", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  std::vector<ChangeSet> seen;
  s->subscribe([&](const ChangeSet& cs, const Database&) { seen.push_back(cs); });
  s->transact_or_throw(add_bridge_ops("br0", atom_to_json(root)));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].rows.size() == 4);  // interface, port, bridge inserted; root modified
  ConfigStore::InterfaceState st;
  st.ofport = 3;
  st.link_state = "up";
  st.statistics = {{"rx_packets", 5}};
  CHECK(s->set_interface_state("br0", st));
  CHECK_FALSE(s->set_interface_state("nope", st));
  CHECK(seen.size() == 2);
  s->transact_or_throw(json::array({{{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                     {"mutations", json::parse(R"([["next_cfg","+=",1]])")}}}));
  s->set_cur_cfg(s->next_cfg());
  CHECK(s->cur_cfg() == 1);
  // Nested commit from a subscriber is delivered after the current one.
  auto id = s->subscribe([&](const ChangeSet& cs, const Database&) {
    if (s->cur_cfg() != s->next_cfg()) s->set_cur_cfg(s->next_cfg());
    (void)cs;
  });
  size_t before = seen.size();
  s->transact_or_throw(json::array({{{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                     {"mutations", json::parse(R"([["next_cfg","+=",1]])")}}}));
  CHECK(s->cur_cfg() == 2);
  CHECK(seen.size() == before + 2);
  s->unsubscribe(id);
}

TEST_CASE("error details name the operation, the column and the rule", "[confdb]") {
  auto s = mem_store();
  Uuid root = s->ensure_root_row();
  json w = where_uuid(atom_to_json(root));
  auto details = [&](json op) {
    TxnOutcome out = s->transact(json::array({op}));
    REQUIRE_FALSE(out.ok);
    return out.result.back()["error"].get<std::string>() + ": " + out.result.back().value("details", "");
  };
  auto mutate = [&](const char* table, json where, const char* muts) {
    return details({{"op", "mutate"}, {"table", table}, {"where", where}, {"mutations", json::parse(muts)}});
  };
  auto select = [&](json where) { return details({{"op", "select"}, {"table", "Open_vSwitch"}, {"where", where}}); };
  s->transact_or_throw(add_bridge_ops("br0", atom_to_json(root)));

  // Columns written, updated and mutated.
  CHECK(details({{"op", "insert"}, {"table", "Bridge"}, {"row", {{"_uuid", "x"}}}}) ==
        "constraint violation: operation 0 (insert): column _uuid cannot be written");
  CHECK(details({{"op", "update"}, {"table", "Bridge"}, {"where", json::array()}, {"row", {{"name", "x"}}}}) ==
        "constraint violation: operation 0 (update): cannot update immutable column name in table Bridge");
  CHECK(details({{"op", "update"}, {"table", "Bridge"}, {"where", json::array()}, {"row", {{"nope", 1}}}}) ==
        "unknown column: operation 0 (update): table Bridge has no column named nope");
  CHECK(mutate("Bridge", json::array(), R"([["name","insert","x"]])") ==
        "constraint violation: operation 0 (mutate): cannot mutate immutable column name in table Bridge");
  CHECK(mutate("Open_vSwitch", w, R"([["_version","insert",1]])") ==
        "constraint violation: operation 0 (mutate): column _version cannot be mutated");
  CHECK(mutate("Open_vSwitch", w, R"([["nope","insert",1]])") ==
        "unknown column: operation 0 (mutate): table Open_vSwitch has no column named nope");
  CHECK(mutate("Open_vSwitch", w, R"([["next_cfg","^=",1]])") ==
        "syntax error: operation 0 (mutate) Open_vSwitch.next_cfg: unknown mutator \"^=\"");
  CHECK(mutate("Open_vSwitch", w, R"({"next_cfg":1})") ==
        "syntax error: operation 0 (mutate): \"mutations\" must be an array");
  CHECK(mutate("Open_vSwitch", w, R"([["next_cfg","+="]])") ==
        "syntax error: operation 0 (mutate): mutation must be [column, mutator, value], got [\"next_cfg\",\"+=\"]");

  // Conditions and column lists.
  CHECK(select(json::object()) == "syntax error: operation 0 (select): \"where\" must be an array");
  CHECK(select(json::parse(R"([["next_cfg",1,1]])")) ==
        "syntax error: operation 0 (select): condition must be [column, function, value], got [\"next_cfg\",1,1]");
  CHECK(select(json::parse(R"([["next_cfg","~=",1]])")) ==
        "unknown function: operation 0 (select): no condition function named \"~=\"");
  CHECK(details({{"op", "select"}, {"table", "Open_vSwitch"}, {"where", json::array()}, {"columns", "next_cfg"}}) ==
        "syntax error: operation 0 (select): \"columns\" must be an array");
  CHECK(details({{"op", "wait"}, {"table", "Open_vSwitch"}, {"where", w}, {"columns", json::array()},
                 {"until", "=="}, {"rows", json::object()}}) ==
        "syntax error: operation 0 (wait): \"rows\" must be an array");

  // The commit-time rules.
  json bogus = atom_to_json(Uuid::random());
  CHECK(details({{"op", "update"}, {"table", "Open_vSwitch"}, {"where", w}, {"row", {{"bridges", bogus}}}}) ==
        "referential integrity violation: table Open_vSwitch column bridges in row " + root.to_string() +
            " references nonexistent row " + bogus[1].get<std::string>() + " in table Bridge");
  CHECK(details({{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", json::object()}}) ==
        "constraint violation: transaction causes table Open_vSwitch to contain 2 rows, more than the schema "
        "limit of 1");
  TxnOutcome dup = s->transact(add_bridge_ops("br0", atom_to_json(root)));
  std::string d = dup.result.back()["details"];
  CHECK(d.rfind("transaction causes multiple rows in table Bridge to have identical values (\"br0\") for index on "
                "column(s) name: rows ", 0) == 0);

  // A weak reference whose removal leaves fewer values than the minimum.
  Uuid a;
  auto ws = weak_ref_store(1, &a);
  TxnOutcome out = ws->transact(json::array({{{"op", "delete"}, {"table", "B"}, {"where", json::array()}}}));
  CHECK(out.result.back()["details"] ==
        "table A column peers in row " + a.to_string() + " has fewer values than its minimum of 1");
}

TEST_CASE("interface_row: the Interface columns a write-back sets", "[confdb]") {
  ConfigStore::InterfaceState st;
  st.ofport = 3;
  st.link_state = "up";
  st.mtu = 1500;
  st.statistics = {{"rx_packets", 5}, {"tx_packets", 7}};
  st.status = {{"driver_name", "net_null"}};
  CHECK(ConfigStore::interface_row(st) == json::parse(R"({
    "ofport": 3, "error": ["set", []], "link_state": "up", "mtu": 1500,
    "statistics": ["map", [["rx_packets", 5], ["tx_packets", 7]]],
    "status": ["map", [["driver_name", "net_null"]]]})"));
  // Without ofport/error: only what is set.
  ConfigStore::InterfaceState stats_only;
  stats_only.admin_state = "down";
  stats_only.mac_in_use = "00:00:00:00:00:01";
  CHECK(ConfigStore::interface_row(stats_only, false) ==
        json::parse(R"({"admin_state": "down", "mac_in_use": "00:00:00:00:00:01"})"));
  CHECK(ConfigStore::interface_row(ConfigStore::InterfaceState{}, false).empty());
}
