#include "commands.h"

#include "bond_text.h"
#include "jsonrpc_client.h"
#include "output_format.h"

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace dps::cli {

namespace {

// A command failed in a way the user can fix; `code` is the exit code.
struct CmdError {
  std::string msg;
  int code = kExitFailed;
};
[[noreturn]] void usage_error(const std::string& m) { throw CmdError{m, kExitUsage}; }
[[noreturn]] void cmd_fail(const std::string& m) { throw CmdError{m, kExitFailed}; }

// ---- column types from the schema (client side) ----------------------------

struct BaseT {
  std::string type = "string";
  std::string ref_table;
  std::set<std::string> enumeration;
};
struct ColT {
  BaseT key;
  std::optional<BaseT> value;
  uint64_t min = 1, max = 1;
  bool is_map() const { return value.has_value(); }
};

BaseT base_from(const json& j) {
  BaseT b;
  if (j.is_string()) {
    b.type = j;
    return b;
  }
  b.type = j.value("type", "string");
  b.ref_table = j.value("refTable", "");
  if (j.contains("enum")) {
    const json& e = j["enum"];
    if (e.is_array() && e.size() == 2 && e[0] == "set")
      for (auto& x : e[1]) b.enumeration.insert(x.is_string() ? x.get<std::string>() : x.dump());
    else
      b.enumeration.insert(e.is_string() ? e.get<std::string>() : e.dump());
  }
  return b;
}

ColT col_from(const json& j) {
  ColT c;
  if (!j.is_object() || !j.contains("key")) {
    c.key = base_from(j);
    return c;
  }
  c.key = base_from(j["key"]);
  if (j.contains("value")) c.value = base_from(j["value"]);
  c.min = j.value("min", 1);
  if (j.contains("max")) c.max = j["max"].is_string() ? UINT64_MAX : j["max"].get<uint64_t>();
  return c;
}

// ---- datum helpers (wire format) -------------------------------------------

std::vector<json> set_atoms(const json& d) {
  if (d.is_array() && d.size() == 2 && d[0] == "set") return std::vector<json>(d[1].begin(), d[1].end());
  if (d.is_null()) return {};
  return {d};
}

std::vector<std::pair<json, json>> map_pairs(const json& d) {
  std::vector<std::pair<json, json>> out;
  if (d.is_array() && d.size() == 2 && d[0] == "map")
    for (auto& p : d[1]) out.emplace_back(p[0], p[1]);
  return out;
}

json make_set(const std::vector<json>& atoms) {
  if (atoms.size() == 1) return atoms[0];
  return json::array({"set", atoms});
}

bool needs_quotes(const std::string& s) {
  if (s.empty() || s == "true" || s == "false") return true;
  if (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '_') return true;
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return true;
  return false;
}

std::string atom_text(const json& a) {
  if (a.is_string()) {
    std::string s = a;
    return needs_quotes(s) ? a.dump() : s;
  }
  if (a.is_array() && a.size() == 2 && a[0] == "uuid") return a[1];
  if (a.is_array() && a.size() == 2 && a[0] == "named-uuid") return "@" + a[1].get<std::string>();
  return a.dump();
}

std::string datum_text(const json& d, const ColT& t) {
  if (t.is_map()) {
    std::string s = "{";
    bool first = true;
    for (auto& [k, v] : map_pairs(d)) {
      s += (first ? "" : ", ") + atom_text(k) + "=" + atom_text(v);
      first = false;
    }
    return s + "}";
  }
  auto atoms = set_atoms(d);
  if (t.min == 1 && t.max == 1 && atoms.size() == 1) return atom_text(atoms[0]);
  if (t.max == 1 && atoms.size() == 1) return atom_text(atoms[0]);
  std::string s = "[";
  for (size_t i = 0; i < atoms.size(); ++i) s += (i ? ", " : "") + atom_text(atoms[i]);
  return s + "]";
}

// Splits "a,b,{c,d}" at top-level commas, honouring quotes and brackets.
std::vector<std::string> split_top(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool q = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (q) {
      cur += c;
      if (c == '\\' && i + 1 < s.size()) cur += s[++i];
      else if (c == '"') q = false;
      continue;
    }
    if (c == '"') q = true;
    else if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') --depth;
    if (c == sep && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  for (auto& x : out) {
    size_t b = x.find_first_not_of(' '), e = x.find_last_not_of(' ');
    x = b == std::string::npos ? "" : x.substr(b, e - b + 1);
  }
  return out;
}

// Finds the first unquoted occurrence of `c` (for KEY=VALUE).
size_t find_unquoted(const std::string& s, char c) {
  bool q = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (q) {
      if (s[i] == '\\') ++i;
      else if (s[i] == '"') q = false;
    } else if (s[i] == '"') {
      q = true;
    } else if (s[i] == c) {
      return i;
    }
  }
  return std::string::npos;
}

// ---- the configuration context ---------------------------------------------

struct Options {
  std::string db = kDefaultDb;
  bool no_wait = false;
  int timeout_s = 0;
  std::string format = "text";
};

struct CmdOptions {
  bool may_exist = false;
  bool if_exists = false;
  bool bare = false;
  std::optional<std::vector<std::string>> columns;
  std::vector<std::string> ids;  // --id=@name
};

class Ctx {
 public:
  Ctx(JsonRpcClient& rpc, std::ostream& o) : out(o), rpc_(rpc) {}

  void load() {
    json sr = rpc_.call("get_schema", json::array({"Open_vSwitch"}));
    if (!sr["error"].is_null()) cmd_fail("get_schema failed: " + sr["error"].dump());
    schema = sr["result"];
    json ops = json::array({"Open_vSwitch"});
    std::vector<std::string> names;
    for (auto& [t, _] : schema["tables"].items()) {
      names.push_back(t);
      ops.push_back({{"op", "select"}, {"table", t}, {"where", json::array()}});
    }
    json r = rpc_.call("transact", ops);
    if (!r["error"].is_null()) cmd_fail("reading the database failed: " + r["error"].dump());
    for (size_t i = 0; i < names.size(); ++i)
      for (auto& row : r["result"][i]["rows"]) rows[names[i]][row["_uuid"][1].get<std::string>()] = row;
  }

  ColT column(const std::string& table, const std::string& col) const {
    if (!schema["tables"].contains(table)) usage_error("unknown table \"" + table + "\"");
    if (col == "_uuid") return ColT{BaseT{"uuid", "", {}}, std::nullopt, 1, 1};
    const json& cols = schema["tables"][table]["columns"];
    if (!cols.contains(col)) usage_error(table + " does not contain a column whose name matches \"" + col + "\"");
    return col_from(cols[col]["type"]);
  }

  std::vector<std::string> column_names(const std::string& table) const {
    std::vector<std::string> out;
    for (auto& [c, _] : schema["tables"][table]["columns"].items()) out.push_back(c);
    std::sort(out.begin(), out.end());
    return out;
  }

  static json ref(const std::string& id) {
    return id[0] == '@' ? json::array({"named-uuid", id.substr(1)}) : json::array({"uuid", id});
  }
  static json where_id(const std::string& id) { return json::array({json::array({"_uuid", "==", ref(id)})}); }

  std::string root() {
    auto& t = rows["Open_vSwitch"];
    if (t.empty()) {  // like ovs-vsctl: create the root row when missing
      return insert("Open_vSwitch", json::object());
    }
    return t.begin()->first;
  }

  std::string insert(const std::string& table, json row, std::string name = "") {
    if (name.empty()) name = "row" + std::to_string(++seq_);
    ops.push_back({{"op", "insert"}, {"table", table}, {"uuid-name", name}, {"row", row}});
    row["_uuid"] = json::array({"named-uuid", name});
    rows[table]["@" + name] = row;
    mutated = true;
    return "@" + name;
  }

  void update(const std::string& table, const std::string& id, const json& row) {
    ops.push_back({{"op", "update"}, {"table", table}, {"where", where_id(id)}, {"row", row}});
    for (auto& [k, v] : row.items()) rows[table][id][k] = v;
    mutated = true;
  }

  // Set/map edits through "mutate", mirrored in the snapshot.
  void set_insert(const std::string& table, const std::string& id, const std::string& col, const std::vector<json>& atoms) {
    mutate(table, id, col, "insert", make_set_wire(atoms));
    json& d = rows[table][id][col];
    auto cur = set_atoms(d);
    for (auto& a : atoms)
      if (std::find(cur.begin(), cur.end(), a) == cur.end()) cur.push_back(a);
    d = json::array({"set", cur});
  }
  void set_delete(const std::string& table, const std::string& id, const std::string& col, const std::vector<json>& atoms) {
    mutate(table, id, col, "delete", make_set_wire(atoms));
    json& d = rows[table][id][col];
    auto cur = set_atoms(d);
    std::vector<json> keep;
    for (auto& a : cur)
      if (std::find(atoms.begin(), atoms.end(), a) == atoms.end()) keep.push_back(a);
    d = json::array({"set", keep});
  }
  void map_put(const std::string& table, const std::string& id, const std::string& col, const json& k, const json& v) {
    ops.push_back({{"op", "mutate"}, {"table", table}, {"where", where_id(id)},
                   {"mutations", json::array({json::array({col, "delete", json::array({"set", json::array({k})})}),
                                              json::array({col, "insert", json::array({"map", json::array({json::array({k, v})})})})})}});
    mutated = true;
    json& d = rows[table][id][col];
    json pairs = json::array();
    for (auto& [pk, pv] : map_pairs(d))
      if (pk != k) pairs.push_back(json::array({pk, pv}));
    pairs.push_back(json::array({k, v}));
    d = json::array({"map", pairs});
  }

  static json make_set_wire(const std::vector<json>& atoms) { return json::array({"set", atoms}); }

  void mutate(const std::string& table, const std::string& id, const std::string& col, const char* m, const json& v) {
    ops.push_back({{"op", "mutate"}, {"table", table}, {"where", where_id(id)},
                   {"mutations", json::array({json::array({col, m, v})})}});
    mutated = true;
  }

  // Finds a row by name-like key; empty string if absent.
  std::string find_by(const std::string& table, const std::string& col, const std::string& value) {
    for (auto& [id, row] : rows[table])
      if (row.contains(col) && row[col] == value) return id;
    return "";
  }

  std::string find_record(const std::string& table, const std::string& key, bool must = true) {
    if (!schema["tables"].contains(table)) usage_error("unknown table \"" + table + "\"");
    auto& t = rows[table];
    if (key == "." && table == "Open_vSwitch") return root();
    if (t.count(key)) return key;
    if (key[0] == '@' && t.count(key)) return key;
    for (const char* c : {"name", "target"})
      if (schema["tables"][table]["columns"].contains(c)) {
        std::string id = find_by(table, c, key);
        if (!id.empty()) return id;
      }
    // A unique UUID prefix, as ovs-vsctl accepts.
    std::string match;
    for (auto& [id, _] : t)
      if (key.size() >= 4 && id.rfind(key, 0) == 0) {
        if (!match.empty()) cmd_fail("multiple rows in " + table + " match \"" + key + "\"");
        match = id;
      }
    if (match.empty() && must) cmd_fail("no row \"" + key + "\" in table " + table);
    return match;
  }

  std::string bridge(const std::string& name, bool must = true) {
    std::string id = find_by("Bridge", "name", name);
    if (id.empty() && must) cmd_fail("no bridge named " + name);
    return id;
  }

  std::string name_of(const std::string& table, const std::string& id) {
    auto& r = rows[table][id];
    return r.contains("name") ? r["name"].get<std::string>() : id;
  }
  std::string id_of(const json& ref_atom) {
    std::string id = ref_atom[1].get<std::string>();
    if (ref_atom[0] == "named-uuid") id.insert(id.begin(), '@');
    return id;
  }
  // The rows of `table` a reference column points to, as (name, id) sorted
  // by name (stable output whatever the UUIDs).
  std::vector<std::pair<std::string, std::string>> by_name(const json& refs,
                                                           const std::string& table) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& r : set_atoms(refs)) out.emplace_back(name_of(table, id_of(r)), id_of(r));
    std::sort(out.begin(), out.end());
    return out;
  }

  // Parses one atom in ovs-vsctl's text syntax.
  json parse_atom(const std::string& text, const BaseT& b, const std::string& what) {
    std::string s = text;
    if (b.type == "string") {
      if (!s.empty() && s[0] == '"') {
        json j = json::parse(s, nullptr, false);
        if (!j.is_string()) usage_error(what + ": bad quoted string " + s);
        s = j;
      }
      if (!b.enumeration.empty() && !b.enumeration.count(s)) {
        std::string allowed;
        for (auto& e : b.enumeration) allowed += (allowed.empty() ? "" : ", ") + e;
        usage_error(what + ": \"" + s + "\" is not one of the allowed values (" + allowed + ")");
      }
      return s;
    }
    if (b.type == "integer") {
      try {
        size_t pos;
        long long v = std::stoll(s, &pos, 0);
        if (pos != s.size()) throw std::invalid_argument(s);
        return v;
      } catch (...) {
        usage_error(what + ": \"" + s + "\" is not a valid integer");
      }
    }
    if (b.type == "real") {
      try {
        size_t pos;
        double v = std::stod(s, &pos);
        if (pos != s.size()) throw std::invalid_argument(s);
        return v;
      } catch (...) {
        usage_error(what + ": \"" + s + "\" is not a valid real number");
      }
    }
    if (b.type == "boolean") {
      if (s == "true") return true;
      if (s == "false") return false;
      usage_error(what + ": \"" + s + "\" is not a valid boolean (true or false)");
    }
    // uuid
    if (!s.empty() && s[0] == '@') return json::array({"named-uuid", s.substr(1)});
    if (!b.ref_table.empty()) {
      std::string id = find_record(b.ref_table, s, false);
      if (id.empty()) usage_error(what + ": no row \"" + s + "\" in table " + b.ref_table);
      return ref(id);
    }
    return json::array({"uuid", s});
  }

  json parse_datum(const std::string& text, const ColT& t, const std::string& what) {
    std::string s = text;
    if (t.is_map()) {
      if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
      json pairs = json::array();
      if (!s.empty())
        for (auto& kv : split_top(s, ',')) {
          size_t eq = find_unquoted(kv, '=');
          if (eq == std::string::npos) usage_error(what + ": map element \"" + kv + "\" must be KEY=VALUE");
          pairs.push_back(json::array({parse_atom(kv.substr(0, eq), t.key, what),
                                       parse_atom(kv.substr(eq + 1), *t.value, what)}));
        }
      return json::array({"map", pairs});
    }
    std::vector<json> atoms;
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    else if (t.max == 1 && t.min == 1) return parse_atom(s, t.key, what);
    if (!s.empty())
      for (auto& e : split_top(s, ',')) atoms.push_back(parse_atom(e, t.key, what));
    if (atoms.size() < t.min || atoms.size() > t.max)
      usage_error(what + ": " + std::to_string(atoms.size()) + " value(s) where the column allows " +
                  std::to_string(t.min) + " to " + (t.max == UINT64_MAX ? "unlimited" : std::to_string(t.max)));
    return make_set(atoms);
  }

  json schema;
  std::map<std::string, std::map<std::string, json>> rows;
  json ops = json::array();
  bool mutated = false;
  std::ostream& out;

 private:
  JsonRpcClient& rpc_;
  int seq_ = 0;
};

// ---- config command handlers -----------------------------------------------

using Args = std::vector<std::string>;
using ConfigHandler = std::function<void(Ctx&, const Args&, const CmdOptions&)>;
using RuntimeHandler = std::function<json(const Args&)>;  // params to send

void cmd_init(Ctx& c, const Args&, const CmdOptions&) { c.root(); }

void cmd_add_br(Ctx& c, const Args& a, const CmdOptions& o) {
  if (a.size() != 1) usage_error("add-br takes exactly one bridge name (fake bridges are not supported)");
  if (!c.bridge(a[0], false).empty()) {
    if (o.may_exist) return;
    cmd_fail("cannot create a bridge named " + a[0] + " because a bridge named " + a[0] + " already exists");
  }
  if (!c.find_by("Port", "name", a[0]).empty() || !c.find_by("Interface", "name", a[0]).empty())
    cmd_fail("cannot create a bridge named " + a[0] + " because a port or interface named " + a[0] + " already exists");
  std::string i = c.insert("Interface", {{"name", a[0]}, {"type", "internal"}});
  std::string p = c.insert("Port", {{"name", a[0]}, {"interfaces", Ctx::ref(i)}});
  std::string b = c.insert("Bridge", {{"name", a[0]}, {"ports", Ctx::ref(p)}});
  c.set_insert("Open_vSwitch", c.root(), "bridges", {Ctx::ref(b)});
}

void cmd_del_br(Ctx& c, const Args& a, const CmdOptions& o) {
  std::string b = c.bridge(a[0], !o.if_exists);
  if (b.empty()) return;
  c.set_delete("Open_vSwitch", c.root(), "bridges", {Ctx::ref(b)});
  c.rows["Bridge"].erase(b);
}

void cmd_list_br(Ctx& c, const Args&, const CmdOptions&) {
  std::vector<std::string> names;
  for (auto& [id, r] : c.rows["Bridge"]) names.push_back(r["name"]);
  std::sort(names.begin(), names.end());
  for (auto& n : names) c.out << n << "\n";
}

void cmd_br_exists(Ctx& c, const Args& a, const CmdOptions&) {
  if (c.bridge(a[0], false).empty()) throw CmdError{"", 2};
}

std::vector<std::string> bridge_ports(Ctx& c, const std::string& b) {
  std::vector<std::string> out;
  for (auto& p : set_atoms(c.rows["Bridge"][b]["ports"])) out.push_back(c.id_of(p));
  return out;
}

void cmd_add_port(Ctx& c, const Args& a, const CmdOptions& o) {
  std::string b = c.bridge(a[0]);
  const std::string& port = a[1];
  if (!c.find_by("Port", "name", port).empty()) {
    if (o.may_exist) return;
    cmd_fail("cannot create a port named " + port + " because a port named " + port + " already exists");
  }
  json prow = {{"name", port}};
  std::string i = c.insert("Interface", {{"name", port}});
  prow["interfaces"] = Ctx::ref(i);
  for (size_t k = 2; k < a.size(); ++k) {
    size_t eq = find_unquoted(a[k], '=');
    if (eq == std::string::npos) usage_error("add-port: \"" + a[k] + "\" must be COLUMN=VALUE");
    std::string col = a[k].substr(0, eq);
    prow[col] = c.parse_datum(a[k].substr(eq + 1), c.column("Port", col), "Port." + col);
  }
  std::string p = c.insert("Port", prow);
  c.set_insert("Bridge", b, "ports", {Ctx::ref(p)});
}

void cmd_del_port(Ctx& c, const Args& a, const CmdOptions& o) {
  const std::string& port = a.back();
  std::string p = c.find_by("Port", "name", port);
  if (p.empty()) {
    if (o.if_exists) return;
    cmd_fail("no port named " + port);
  }
  std::string owner;
  for (auto& [bid, br] : c.rows["Bridge"])
    for (auto& pid : bridge_ports(c, bid))
      if (pid == p) owner = bid;
  if (a.size() == 2 && (owner.empty() || c.name_of("Bridge", owner) != a[0]))
    cmd_fail("bridge " + a[0] + " does not have a port " + port);
  if (owner.empty()) cmd_fail("port " + port + " is not in any bridge");
  c.set_delete("Bridge", owner, "ports", {Ctx::ref(p)});
}

void cmd_list_ports(Ctx& c, const Args& a, const CmdOptions&) {
  std::string b = c.bridge(a[0]);
  std::vector<std::string> names;
  for (auto& p : bridge_ports(c, b)) {
    std::string n = c.name_of("Port", p);
    if (n != a[0]) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) c.out << n << "\n";
}

void cmd_list_ifaces(Ctx& c, const Args& a, const CmdOptions&) {
  std::string b = c.bridge(a[0]);
  std::vector<std::string> names;
  for (auto& p : bridge_ports(c, b))
    for (auto& i : set_atoms(c.rows["Port"][p]["interfaces"])) {
      std::string n = c.name_of("Interface", c.id_of(i));
      if (n != a[0]) names.push_back(n);
    }
  std::sort(names.begin(), names.end());
  for (auto& n : names) c.out << n << "\n";
}

void cmd_port_to_br(Ctx& c, const Args& a, const CmdOptions&) {
  std::string p = c.find_by("Port", "name", a[0]);
  if (p.empty()) cmd_fail("no port named " + a[0]);
  for (auto& [bid, br] : c.rows["Bridge"])
    for (auto& pid : bridge_ports(c, bid))
      if (pid == p) {
        c.out << c.name_of("Bridge", bid) << "\n";
        return;
      }
  cmd_fail("port " + a[0] + " is not in any bridge");
}

void cmd_set_controller(Ctx& c, const Args& a, const CmdOptions&) {
  std::string b = c.bridge(a[0]);
  std::vector<json> refs;
  for (size_t k = 1; k < a.size(); ++k) refs.push_back(Ctx::ref(c.insert("Controller", {{"target", a[k]}})));
  c.update("Bridge", b, {{"controller", json::array({"set", refs})}});
}

void cmd_del_controller(Ctx& c, const Args& a, const CmdOptions&) {
  c.update("Bridge", c.bridge(a[0]), {{"controller", json::array({"set", json::array()})}});
}

void cmd_get_controller(Ctx& c, const Args& a, const CmdOptions&) {
  std::vector<std::string> t;
  for (auto& r : set_atoms(c.rows["Bridge"][c.bridge(a[0])]["controller"]))
    t.push_back(c.rows["Controller"][c.id_of(r)]["target"]);
  std::sort(t.begin(), t.end());
  for (auto& x : t) c.out << x << "\n";
}

void cmd_set_fail_mode(Ctx& c, const Args& a, const CmdOptions&) {
  if (a[1] != "standalone" && a[1] != "secure")
    usage_error("fail-mode must be \"standalone\" or \"secure\", not \"" + a[1] + "\"");
  c.update("Bridge", c.bridge(a[0]), {{"fail_mode", a[1]}});
}

void cmd_del_fail_mode(Ctx& c, const Args& a, const CmdOptions&) {
  c.update("Bridge", c.bridge(a[0]), {{"fail_mode", json::array({"set", json::array()})}});
}

void cmd_get_fail_mode(Ctx& c, const Args& a, const CmdOptions&) {
  auto v = set_atoms(c.rows["Bridge"][c.bridge(a[0])]["fail_mode"]);
  if (!v.empty()) c.out << v[0].get<std::string>() << "\n";
}

void cmd_set_manager(Ctx& c, const Args& a, const CmdOptions&) {
  std::vector<json> refs;
  for (auto& t : a) refs.push_back(Ctx::ref(c.insert("Manager", {{"target", t}})));
  c.update("Open_vSwitch", c.root(), {{"manager_options", json::array({"set", refs})}});
}

void cmd_del_manager(Ctx& c, const Args&, const CmdOptions&) {
  c.update("Open_vSwitch", c.root(), {{"manager_options", json::array({"set", json::array()})}});
}

// COLUMN[:KEY]=VALUE
struct Setting {
  std::string column, key, value;
  bool has_key = false, has_value = false;
};
Setting parse_setting(const std::string& s) {
  Setting out;
  size_t eq = find_unquoted(s, '=');
  std::string lhs = eq == std::string::npos ? s : s.substr(0, eq);
  if (eq != std::string::npos) {
    out.value = s.substr(eq + 1);
    out.has_value = true;
  }
  size_t colon = lhs.find(':');
  out.column = lhs.substr(0, colon);
  if (colon != std::string::npos) {
    out.key = lhs.substr(colon + 1);
    out.has_key = true;
  }
  return out;
}

void cmd_set(Ctx& c, const Args& a, const CmdOptions& o) {
  std::string id = c.find_record(a[0], a[1], !o.if_exists);
  if (id.empty()) return;
  json row = json::object();
  for (size_t k = 2; k < a.size(); ++k) {
    Setting s = parse_setting(a[k]);
    if (!s.has_value) usage_error("set: \"" + a[k] + "\" must be COLUMN[:KEY]=VALUE");
    ColT t = c.column(a[0], s.column);
    std::string what = a[0] + "." + s.column;
    if (s.has_key) {
      if (!t.is_map()) usage_error(what + " is not a map: COLUMN:KEY=VALUE needs a map column");
      c.map_put(a[0], id, s.column, c.parse_atom(s.key, t.key, what), c.parse_atom(s.value, *t.value, what));
    } else {
      row[s.column] = c.parse_datum(s.value, t, what);
    }
  }
  if (!row.empty()) c.update(a[0], id, row);
}

void cmd_get(Ctx& c, const Args& a, const CmdOptions& o) {
  std::string id = c.find_record(a[0], a[1], !o.if_exists);
  if (id.empty()) return;
  for (size_t k = 2; k < a.size(); ++k) {
    Setting s = parse_setting(a[k]);
    ColT t = c.column(a[0], s.column);
    const json& d = s.column == "_uuid" ? c.rows[a[0]][id]["_uuid"] : c.rows[a[0]][id][s.column];
    if (s.has_key) {
      if (!t.is_map()) usage_error(a[0] + "." + s.column + " is not a map");
      json key = c.parse_atom(s.key, t.key, s.column);
      bool found = false;
      for (auto& [mk, mv] : map_pairs(d))
        if (mk == key) {
          c.out << atom_text(mv) << "\n";
          found = true;
        }
      if (!found && !o.if_exists) cmd_fail("no key \"" + s.key + "\" in " + a[0] + " record \"" + a[1] + "\" column " + s.column);
    } else {
      c.out << datum_text(d, t) << "\n";
    }
  }
}

void print_record(Ctx& c, const std::string& table, const std::string& id, const CmdOptions& o, bool& first) {
  if (!first && !o.bare) c.out << "\n";
  first = false;
  std::vector<std::string> cols;
  if (o.columns) cols = *o.columns;
  else {
    cols.push_back("_uuid");
    for (auto& n : c.column_names(table)) cols.push_back(n);
  }
  auto& row = c.rows[table][id];
  for (auto& col : cols) {
    ColT t = c.column(table, col);
    std::string v = datum_text(row.value(col, json::array({"set", json::array()})), t);
    if (o.bare) {
      c.out << v << "\n";
    } else {
      std::string name = col;
      name.resize(std::max<size_t>(name.size(), 20), ' ');
      c.out << name << ": " << v << "\n";
    }
  }
}

void cmd_list(Ctx& c, const Args& a, const CmdOptions& o) {
  bool first = true;
  if (a.size() > 1) {
    for (size_t k = 1; k < a.size(); ++k) {
      std::string id = c.find_record(a[0], a[k], !o.if_exists);
      if (!id.empty()) print_record(c, a[0], id, o, first);
    }
    return;
  }
  c.column(a[0], "_uuid");  // validates the table
  for (auto& [id, _] : c.rows[a[0]]) print_record(c, a[0], id, o, first);
}

void cmd_find(Ctx& c, const Args& a, const CmdOptions& o) {
  c.column(a[0], "_uuid");
  bool first = true;
  for (auto& [id, row] : c.rows[a[0]]) {
    bool ok = true;
    for (size_t k = 1; k < a.size() && ok; ++k) {
      Setting s = parse_setting(a[k]);
      if (!s.has_value) usage_error("find: \"" + a[k] + "\" must be COLUMN[:KEY]=VALUE");
      ColT t = c.column(a[0], s.column);
      const json& d = row.value(s.column, json::array({"set", json::array()}));
      if (s.has_key) {
        if (!t.is_map()) usage_error(a[0] + "." + s.column + " is not a map");
        json key = c.parse_atom(s.key, t.key, s.column), val = c.parse_atom(s.value, *t.value, s.column);
        ok = false;
        for (auto& [mk, mv] : map_pairs(d)) ok |= mk == key && mv == val;
      } else {
        json want = c.parse_datum(s.value, t, a[0] + "." + s.column);
        if (t.is_map()) ok = map_pairs(want) == map_pairs(d);
        else {
          auto x = set_atoms(want), y = set_atoms(d);
          std::sort(x.begin(), x.end());
          std::sort(y.begin(), y.end());
          ok = x == y;
        }
      }
    }
    if (ok) print_record(c, a[0], id, o, first);
  }
}

void cmd_clear(Ctx& c, const Args& a, const CmdOptions& o) {
  std::string id = c.find_record(a[0], a[1], !o.if_exists);
  if (id.empty()) return;
  json row = json::object();
  for (size_t k = 2; k < a.size(); ++k) {
    ColT t = c.column(a[0], a[k]);
    if (t.min > 0) usage_error(a[0] + "." + a[k] + " cannot be cleared: it must have at least one value");
    row[a[k]] = t.is_map() ? json::array({"map", json::array()}) : json::array({"set", json::array()});
  }
  c.update(a[0], id, row);
}

void cmd_add_remove(Ctx& c, const Args& a, const CmdOptions& o, bool add) {
  std::string id = c.find_record(a[0], a[1], !o.if_exists);
  if (id.empty()) return;
  ColT t = c.column(a[0], a[2]);
  std::string what = a[0] + "." + a[2];
  if (t.is_map()) {
    json pairs = json::array(), keys = json::array();
    for (size_t k = 3; k < a.size(); ++k) {
      size_t eq = find_unquoted(a[k], '=');
      if (eq == std::string::npos) {
        if (add) usage_error(what + ": \"" + a[k] + "\" must be KEY=VALUE");
        keys.push_back(c.parse_atom(a[k], t.key, what));
      } else {
        pairs.push_back(json::array({c.parse_atom(a[k].substr(0, eq), t.key, what),
                                     c.parse_atom(a[k].substr(eq + 1), *t.value, what)}));
      }
    }
    if (!pairs.empty()) c.mutate(a[0], id, a[2], add ? "insert" : "delete", json::array({"map", pairs}));
    if (!keys.empty()) c.mutate(a[0], id, a[2], "delete", json::array({"set", keys}));
  } else {
    std::vector<json> atoms;
    for (size_t k = 3; k < a.size(); ++k)
      for (auto& e : split_top(a[k], ',')) atoms.push_back(c.parse_atom(e, t.key, what));
    if (add) c.set_insert(a[0], id, a[2], atoms);
    else c.set_delete(a[0], id, a[2], atoms);
  }
}

void cmd_show(Ctx& c, const Args&, const CmdOptions&) {
  auto& roots = c.rows["Open_vSwitch"];
  if (roots.empty()) return;
  auto& [rid, root] = *roots.begin();
  c.out << rid << "\n";
  auto str = [](const json& d) { return set_atoms(d); };
  for (auto& m : str(root["manager_options"])) c.out << "    Manager " << json(c.rows["Manager"][c.id_of(m)]["target"]).dump() << "\n";
  for (auto& [bname, bid] : c.by_name(root["bridges"], "Bridge")) {
    auto& br = c.rows["Bridge"][bid];
    c.out << "    Bridge " << atom_text(bname) << "\n";
    std::vector<std::pair<std::string, std::string>> ctls;  // sorted by target: stable output
    for (auto& ctl : str(br["controller"]))
      ctls.emplace_back(c.rows["Controller"][c.id_of(ctl)]["target"].get<std::string>(), c.id_of(ctl));
    std::sort(ctls.begin(), ctls.end());
    for (auto& [target, cid] : ctls) {
      c.out << "        Controller " << json(target).dump() << "\n";
      if (c.rows["Controller"][cid].value("is_connected", false)) c.out << "            is_connected: true\n";
    }
    for (auto& fm : str(br["fail_mode"])) c.out << "        fail_mode: " << fm.get<std::string>() << "\n";
    if (br.value("datapath_type", "") != "") c.out << "        datapath_type: " << br["datapath_type"].get<std::string>() << "\n";
    for (auto& [pname, pid] : c.by_name(br["ports"], "Port")) {
      auto& pr = c.rows["Port"][pid];
      c.out << "        Port " << atom_text(pname) << "\n";
      for (auto& tg : str(pr["tag"])) c.out << "            tag: " << tg.dump() << "\n";
      auto tr = str(pr["trunks"]);
      if (!tr.empty()) c.out << "            trunks: " << datum_text(pr["trunks"], c.column("Port", "trunks")) << "\n";
      for (auto& i : str(pr["interfaces"])) {
        auto& ir = c.rows["Interface"][c.id_of(i)];
        c.out << "            Interface " << atom_text(ir["name"]) << "\n";
        if (ir.value("type", "") != "") c.out << "                type: " << ir["type"].get<std::string>() << "\n";
        if (!map_pairs(ir["options"]).empty())
          c.out << "                options: " << datum_text(ir["options"], c.column("Interface", "options")) << "\n";
        for (auto& e : str(ir["error"])) c.out << "                error: " << e.dump() << "\n";
      }
    }
  }
  for (auto& v : str(root["ovs_version"])) c.out << "    ovs_version: " << v.dump() << "\n";
}

// ---- runtime commands: params builders -------------------------------------

RuntimeHandler pass_args() {
  return [](const Args& a) { return json(a); };
}

RuntimeHandler no_params() {
  return [](const Args&) { return json::array(); };
}

// bench-stats clear|show: the benchmark harness's --stats-cmd, which appends
// the verb (../shared/perf README, "Plugging in a new switch").
std::string bench_stats_method(const Args& a) {
  if (a[0] == "clear") return "dpif/pmd-stats-clear";
  if (a[0] == "show") return "dpif/pmd-stats-total";
  usage_error("bench-stats takes \"clear\" or \"show\", not \"" + a[0] + "\"");
}

// ---- the table -------------------------------------------------------------

struct CommandDef {
  const char* name;
  const char* synopsis;
  const char* help;
  int min_args, max_args;  // -1 = unlimited
  ConfigHandler config;    // set for config commands
  const char* method;      // set for runtime commands
  RuntimeHandler params;
  // Runtime commands whose method depends on the arguments: overrides method.
  std::string (*route)(const Args&) = nullptr;
  // Print the result as one line of JSON whatever --format says (for scripts
  // that parse it, like the benchmark harness).
  bool json_line = false;
  // Text output of its own (instead of format_text) unless --format json.
  std::string (*text)(const json&) = nullptr;
};

// flat table
const std::vector<CommandDef>& table() {
  static const std::vector<CommandDef> kCommands = {
      // name, synopsis, help, min, max, config handler, runtime method, params
      {"init", "", "create the Open_vSwitch root row if missing", 0, 0, cmd_init, nullptr, {}},
      {"show", "", "print an overview of the configuration", 0, 0, cmd_show, nullptr, {}},
      {"add-br", "BRIDGE", "create a bridge with its internal port (--may-exist)", 1, 1, cmd_add_br, nullptr, {}},
      {"del-br", "BRIDGE", "delete a bridge and its ports (--if-exists)", 1, 1, cmd_del_br, nullptr, {}},
      {"list-br", "", "print the names of all bridges", 0, 0, cmd_list_br, nullptr, {}},
      {"br-exists", "BRIDGE", "exit 2 if BRIDGE does not exist", 1, 1, cmd_br_exists, nullptr, {}},
      {"add-port", "BRIDGE PORT [COLUMN=VALUE]...", "add a port (one interface of the same name) to BRIDGE", 2, -1, cmd_add_port, nullptr, {}},
      {"del-port", "[BRIDGE] PORT", "delete PORT (from BRIDGE) (--if-exists)", 1, 2, cmd_del_port, nullptr, {}},
      {"list-ports", "BRIDGE", "print the names of BRIDGE's ports", 1, 1, cmd_list_ports, nullptr, {}},
      {"list-ifaces", "BRIDGE", "print the names of BRIDGE's interfaces", 1, 1, cmd_list_ifaces, nullptr, {}},
      {"port-to-br", "PORT", "print the bridge that contains PORT", 1, 1, cmd_port_to_br, nullptr, {}},
      {"set-controller", "BRIDGE TARGET...", "use the OpenFlow controller(s) TARGET for BRIDGE", 2, -1, cmd_set_controller, nullptr, {}},
      {"del-controller", "BRIDGE", "remove BRIDGE's controllers", 1, 1, cmd_del_controller, nullptr, {}},
      {"get-controller", "BRIDGE", "print BRIDGE's controllers", 1, 1, cmd_get_controller, nullptr, {}},
      {"set-fail-mode", "BRIDGE standalone|secure", "set BRIDGE's fail mode", 2, 2, cmd_set_fail_mode, nullptr, {}},
      {"del-fail-mode", "BRIDGE", "clear BRIDGE's fail mode", 1, 1, cmd_del_fail_mode, nullptr, {}},
      {"get-fail-mode", "BRIDGE", "print BRIDGE's fail mode", 1, 1, cmd_get_fail_mode, nullptr, {}},
      {"set-manager", "TARGET...", "set the OVSDB manager targets", 1, -1, cmd_set_manager, nullptr, {}},
      {"del-manager", "", "remove the OVSDB manager targets", 0, 0, cmd_del_manager, nullptr, {}},
      {"set", "TABLE RECORD COLUMN[:KEY]=VALUE...", "set columns (or map keys) of a record", 3, -1, cmd_set, nullptr, {}},
      {"get", "TABLE RECORD COLUMN[:KEY]...", "print columns (or map values) of a record", 3, -1, cmd_get, nullptr, {}},
      {"list", "TABLE [RECORD]...", "print records (--columns=A,B --bare)", 1, -1, cmd_list, nullptr, {}},
      {"find", "TABLE COLUMN[:KEY]=VALUE...", "print records that match", 1, -1, cmd_find, nullptr, {}},
      {"clear", "TABLE RECORD COLUMN...", "empty set or map columns", 3, -1, cmd_clear, nullptr, {}},
      {"add", "TABLE RECORD COLUMN [KEY=]VALUE...", "add values to a set or map column", 4, -1,
       [](Ctx& c, const Args& a, const CmdOptions& o) { cmd_add_remove(c, a, o, true); }, nullptr, {}},
      {"remove", "TABLE RECORD COLUMN KEY|VALUE|KEY=VALUE...", "remove values from a set or map column", 4, -1,
       [](Ctx& c, const Args& a, const CmdOptions& o) { cmd_add_remove(c, a, o, false); }, nullptr, {}},
      // Runtime commands: forwarded to the daemon's methods.
      {"pmd-stats-show", "", "per-PMD packet and cycle counters", 0, 0, {}, "dpif/pmd-stats-show", pass_args()},
      {"pmd-stats-clear", "", "reset the PMD counters", 0, 0, {}, "dpif/pmd-stats-clear", pass_args()},
      {"bench-stats", "clear|show", "clear: reset the PMD counters and start a measurement window; show: one JSON "
       "line of the window's totals over all PMDs (packets, duration_s, cycles_per_pkt, cache hits, upcalls, "
       "datapath_flows, ...; the benchmark harness's --stats-cmd)", 1, 1, {}, "", no_params(), bench_stats_method, true},
      {"pmd-rxq-show", "", "rx queue to PMD assignment and load", 0, 0, {}, "dpif/pmd-rxq-show", pass_args()},
      {"dpif-netdev/pmd-rxq-show", "", "rx queue to PMD assignment and each queue's PMD usage (as ovs-appctl)", 0, 0,
       {}, "dpif/pmd-rxq-show", pass_args()},
      {"dpif-netdev/pmd-rxq-rebalance", "", "place every rx queue again by its measured load", 0, 0, {},
       "dpif/pmd-rxq-rebalance", pass_args()},
      {"dump-dp-flows", "[BRIDGE]", "datapath (megaflow) flows", 0, 1, {}, "dpif/dump-flows", pass_args()},
      {"count-dp-flows", "", "the number of datapath (megaflow) flows over all PMDs (quick)", 0, 0, {}, "dpif/flow-count",
       pass_args()},
      {"add-dp-flow", "FLOW ACTIONS", "install a datapath flow (debugging)", 2, 2, {}, "dpif/add-flow", pass_args()},
      {"del-dp-flow", "FLOW", "delete a datapath flow (debugging)", 1, 1, {}, "dpif/del-flow", pass_args()},
      {"trace", "BRIDGE FLOW", "trace FLOW through BRIDGE's OpenFlow tables", 2, 2, {}, "ofproto/trace", pass_args()},
      {"fdb-show", "BRIDGE", "MAC learning table of BRIDGE", 1, 1, {}, "fdb/show", pass_args()},
      {"dump-flows", "BRIDGE", "OpenFlow rules of BRIDGE (ovs-ofctl syntax)", 1, 1, {}, "ofproto/dump-flows", pass_args()},
      {"add-flow", "BRIDGE FLOW", "add an OpenFlow rule to BRIDGE (ovs-ofctl syntax)", 2, 2, {}, "ofproto/add-flows", pass_args()},
      {"del-flows", "BRIDGE [MATCH]", "delete BRIDGE's OpenFlow rules (MATCH: those it covers)", 1, 2, {}, "ofproto/del-flows", pass_args()},
      {"sflow/show", "[BRIDGE]", "sFlow agents: on or the error, settings, samples, datagrams", 0, 1, {}, "sflow/show",
       pass_args()},
      {"ipfix/show", "[BRIDGE]", "bridge IPFIX exporters: on or the error, settings, records", 0, 1, {}, "ipfix/show",
       pass_args()},
      {"netflow/show", "[BRIDGE]", "NetFlow exporters: on or the error, settings, flows, records", 0, 1, {},
       "netflow/show", pass_args()},
      {"mirror/show", "[BRIDGE]", "mirrors: applied or the error, output, tx counters", 0, 1, {}, "mirror/show",
       pass_args()},
      // Bonds, named as ovs-appctl's bond/* and lacp/show.
      {"bond/show", "[PORT]", "bonds: mode, LACP status, active member, members enabled or why not, hash buckets "
       "and their load", 0, 1, {}, "bond/show", pass_args(), nullptr, false, bond_show_text},
      {"lacp/show", "[PORT]", "LACP of the bonds: our system, per member the actor and partner (system id, key, "
       "port, state bits) and LACPDU counters", 0, 1, {}, "lacp/show", pass_args(), nullptr, false, lacp_show_text},
      {"bond/set-active-member", "PORT MEMBER", "make MEMBER (enabled) the active member of bond PORT", 2, 2, {},
       "bond/set-active-member", pass_args()},
      {"bond/enable-member", "PORT MEMBER", "let MEMBER of bond PORT carry traffic again", 2, 2, {},
       "bond/enable-member", pass_args()},
      {"bond/disable-member", "PORT MEMBER", "take MEMBER out of bond PORT administratively", 2, 2, {},
       "bond/disable-member", pass_args()},
      {"list-bridges", "", "the daemon's bridges and their OpenFlow ports", 0, 0, {}, "ofproto/list-bridges", pass_args()},
      {"port-stats", "[PORT]", "port counters", 0, 1, {}, "netdev/port-stats", pass_args()},
      {"port-xstats", "PORT", "extended (driver) port counters", 1, 1, {}, "netdev/port-xstats", pass_args()},
      // Native tunneling, named as ovs-appctl's tnl/* commands.
      {"tnl/route-add", "IP/PLEN BRIDGE [GW]", "add a tunnel route: IP/PLEN leaves through BRIDGE (via GW)", 2, 3, {},
       "tnl/route-add", pass_args()},
      {"tnl/route-del", "IP/PLEN", "delete a tunnel route added by tnl/route-add", 1, 1, {}, "tnl/route-del", pass_args()},
      {"tnl/route-show", "", "tunnel routes (User: added; Cached: internal ports' addresses)", 0, 0, {}, "tnl/route-show",
       pass_args()},
      {"tnl/neigh-show", "", "the tunnel neighbour (ARP/ND) cache", 0, 0, {}, "tnl/neigh-show", pass_args()},
      {"tnl/neigh-flush", "[BRIDGE]", "empty the tunnel neighbour cache (of BRIDGE)", 0, 1, {}, "tnl/neigh-flush",
       pass_args()},
      {"tnl/neigh-set", "BRIDGE IP MAC", "add a static tunnel neighbour entry", 3, 3, {}, "tnl/neigh-set", pass_args()},
      {"tnl/ports-show", "", "tunnel ports: type, UDP port, local/remote endpoints, keys", 0, 0, {}, "tnl/ports-show",
       pass_args()},
      {"upcall/show", "", "miss-path counters: upcalls, installs, failed translations (xlate_errors), ...", 0, 0, {},
       "upcall/show", pass_args()},
      {"tnl/stats-show", "", "native tunneling counters (drops by reason, neighbour requests)", 0, 0, {},
       "tnl/stats-show", pass_args()},
      // Connection tracking, named as ovs-appctl's dpctl/* commands.
      {"dpctl/dump-conntrack", "[zone=N]", "tracked connections (of zone N), OVS's format", 0, 1, {},
       "dpctl/dump-conntrack", pass_args()},
      {"dpctl/flush-conntrack", "[zone=N] [ct-orig-tuple [ct-reply-tuple]]",
       "remove the tracked connections (of zone N; matching the tuples, e.g. ct_nw_src=10.0.0.1,ct_tp_dst=80)", 0, 3, {},
       "dpctl/flush-conntrack", pass_args()},
      {"dpctl/ct-stats-show", "", "connections by protocol, tracker counters", 0, 0, {}, "dpctl/ct-stats-show",
       pass_args()},
      {"dpctl/ct-get-nconns", "", "number of tracked connections", 0, 0, {}, "dpctl/ct-get-nconns", pass_args()},
      {"dpctl/ct-get-maxconns", "", "the connection limit", 0, 0, {}, "dpctl/ct-get-maxconns", pass_args()},
      {"dpctl/ct-set-maxconns", "N", "set the connection limit", 1, 1, {}, "dpctl/ct-set-maxconns", pass_args()},
      {"dpctl/ipf-get-status", "", "fragment reassembly: settings, fragments held, counters", 0, 0, {},
       "dpctl/ipf-get-status", pass_args()},
      {"dpctl/ipf-set-enabled", "v4|v6 enable|disable", "reassemble fragments at ct() or not", 2, 2, {},
       "dpctl/ipf-set-enabled", pass_args()},
      {"dpctl/ipf-set-min-frag", "v4|v6 N", "smallest non-last fragment accepted (bytes)", 2, 2, {},
       "dpctl/ipf-set-min-frag", pass_args()},
      {"dpctl/ipf-set-max-nfrags", "N", "fragments held at once (0..5000)", 1, 1, {}, "dpctl/ipf-set-max-nfrags",
       pass_args()},
      {"log-level", "LEVEL", "set the daemon's log level", 1, 1, {}, "vlog/set", pass_args()},
      {"version", "", "the daemon's version", 0, 0, {}, "version", pass_args()},
      {"memory/show", "", "packet buffers in the pool and in use, datapath flows, ports", 0, 0, {}, "memory/show",
       pass_args()},
      {"list-commands", "", "every method the daemon answers", 0, 0, {}, "list-commands", pass_args()},
      {"call", "METHOD [JSON]...", "call any JSON-RPC method with JSON parameters", 1, -1, {}, "", {}},
  };
  return kCommands;
}

const CommandDef* find_command(const std::string& name) {
  for (auto& c : table())
    if (name == c.name) return &c;
  return nullptr;
}

std::string usage() {
  std::ostringstream o;
  o << "usage: dpsctl [OPTIONS] COMMAND [ARG...] [-- COMMAND [ARG...]]...\n\n"
       "Options:\n"
       "  --db=unix:PATH|tcp:IP:PORT  database socket (default " << kDefaultDb << ")\n"
       "  --no-wait                   do not wait for the daemon to apply the change\n"
       "  -t, --timeout=SECS          give up after SECS seconds (exit 4)\n"
       "  -f, --format=text|json      output format of runtime commands\n"
       "  -h, --help                  this help\n\n"
       "Per-command options: --may-exist --if-exists --columns=A,B --bare\n\n"
       "Configuration commands:\n";
  for (auto& c : table()) {
    if (!c.config && c.method == nullptr) continue;
    if (c.config) o << "  " << c.name << " " << c.synopsis << "\n      " << c.help << "\n";
  }
  o << "\nRuntime commands (answered by dpswitchd):\n";
  for (auto& c : table())
    if (!c.config) o << "  " << c.name << " " << c.synopsis << "\n      " << c.help << "\n";
  return o.str();
}

struct Invocation {
  const CommandDef* def;
  Args args;
  CmdOptions opts;
  std::string method;  // runtime commands: the JSON-RPC method ("" for "call")
};

// argv[i] is "NAME=VALUE", or NAME followed by its value (i advances).
std::optional<std::string> option_value(const std::vector<std::string>& argv, size_t& i, const std::string& name) {
  const std::string& a = argv[i];
  if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
  if (a == name && i + 1 < argv.size()) return argv[++i];
  return std::nullopt;
}

// The options before the first command; stops at the first command's own
// options. False: --help was given (the usage is printed).
bool parse_global_options(const std::vector<std::string>& argv, size_t& i, Options& opt, std::ostream& out) {
  for (; i < argv.size() && argv[i].rfind("-", 0) == 0 && argv[i] != "--"; ++i) {
    const std::string& a = argv[i];
    if (a == "-h" || a == "--help") {
      out << usage();
      return false;
    }
    if (a == "--no-wait") opt.no_wait = true;
    else if (auto v = option_value(argv, i, "--db")) opt.db = *v;
    else if (auto v = option_value(argv, i, "--timeout")) opt.timeout_s = std::stoi(*v);
    else if (auto v = option_value(argv, i, "-t")) opt.timeout_s = std::stoi(*v);
    else if (auto v = option_value(argv, i, "--format")) opt.format = *v;
    else if (auto v = option_value(argv, i, "-f")) opt.format = *v;
    else if (a == "--may-exist" || a == "--if-exists" || a == "--bare" || a.rfind("--columns=", 0) == 0 ||
             a.rfind("--id=", 0) == 0)
      break;  // first command's own options
    else usage_error("unknown option \"" + a + "\" (see dpsctl --help)");
  }
  if (opt.format != "text" && opt.format != "json") usage_error("--format must be text or json, not \"" + opt.format + "\"");
  return true;
}

// One command from argv[i]: its options, its name, its arguments (up to the
// next "--"), checked against the command table.
Invocation parse_invocation(const std::vector<std::string>& argv, size_t& i) {
  Invocation inv{};
  for (; i < argv.size() && argv[i].rfind("--", 0) == 0 && argv[i] != "--"; ++i) {
    const std::string& a = argv[i];
    if (a == "--may-exist") inv.opts.may_exist = true;
    else if (a == "--if-exists") inv.opts.if_exists = true;
    else if (a == "--bare") inv.opts.bare = true;
    else if (a.rfind("--columns=", 0) == 0) inv.opts.columns = split_top(a.substr(10), ',');
    else usage_error("unknown command option \"" + a + "\"");
  }
  if (i >= argv.size()) usage_error("missing command after options");
  inv.def = find_command(argv[i]);
  if (!inv.def) usage_error("unknown command \"" + argv[i] + "\" (see dpsctl --help)");
  for (++i; i < argv.size() && argv[i] != "--"; ++i) inv.args.push_back(argv[i]);
  int n = static_cast<int>(inv.args.size());
  if (n < inv.def->min_args || (inv.def->max_args >= 0 && n > inv.def->max_args))
    usage_error(std::string("\"") + inv.def->name + "\" takes " +
                (inv.def->min_args == inv.def->max_args ? std::to_string(inv.def->min_args)
                                                        : std::to_string(inv.def->min_args) + " or more") +
                " argument(s): " + inv.def->name + " " + inv.def->synopsis);
  if (!inv.def->config) inv.method = inv.def->route ? inv.def->route(inv.args) : inv.def->method;
  return inv;
}

// The commands, separated by "--": any number of config commands, or one
// runtime command alone.
std::vector<Invocation> parse_invocations(const std::vector<std::string>& argv, size_t& i) {
  std::vector<Invocation> cmds;
  while (i < argv.size()) {
    if (argv[i] == "--") {
      ++i;
      continue;
    }
    cmds.push_back(parse_invocation(argv, i));
  }
  if (cmds.empty()) usage_error("missing command (see dpsctl --help)");
  bool any_runtime = false, any_config = false;
  for (auto& c : cmds) (c.def->config ? any_config : any_runtime) = true;
  if (any_runtime && (any_config || cmds.size() > 1))
    usage_error("a runtime command cannot be joined with other commands by \"--\"");
  return cmds;
}

// A runtime command: one call of the daemon's method, its result printed.
int run_runtime(JsonRpcClient& rpc, const Invocation& inv, const Options& opt, std::ostream& out) {
  std::string method = inv.method;
  json params;
  if (method.empty()) {  // "call"
    method = inv.args[0];
    params = json::array();
    for (size_t k = 1; k < inv.args.size(); ++k) {
      json p = json::parse(inv.args[k], nullptr, false);
      params.push_back(p.is_discarded() ? json(inv.args[k]) : p);
    }
  } else {
    params = inv.def->params(inv.args);
  }
  json r = rpc.call(method, params);
  if (!r["error"].is_null()) {
    const json& e = r["error"];
    std::string msg = e.is_string() ? e.get<std::string>() : e.dump();
    if (msg == "unknown method") msg = "the daemon does not support \"" + method + "\" (unknown method)";
    cmd_fail(msg);
  }
  if (inv.def->json_line) out << r["result"].dump() << "\n";
  else if (opt.format == "json") out << format_json(r["result"]);
  else out << (inv.def->text ? inv.def->text(r["result"]) : format_text(r["result"]));
  return kExitOk;
}

// The config commands' operations as one transaction. With `wait`, it also
// bumps next_cfg and reads it back: *cfg_index is that select's result index.
json config_transaction(Ctx& ctx, bool wait, const std::vector<std::string>& argv, size_t* cfg_index) {
  json ops = json::array({"Open_vSwitch"});
  for (auto& o : ctx.ops) ops.push_back(o);
  std::string root = ctx.root();
  if (wait) {
    ops.push_back({{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", Ctx::where_id(root)},
                   {"mutations", json::array({json::array({"next_cfg", "+=", 1})})}});
    ops.push_back({{"op", "select"}, {"table", "Open_vSwitch"}, {"where", Ctx::where_id(root)},
                   {"columns", json::array({"next_cfg"})}});
    *cfg_index = ops.size() - 2;  // index in the result array
  }
  std::string comment = "dpsctl:";
  for (auto& a : argv) comment += " " + a;
  ops.push_back({{"op", "comment"}, {"comment", comment}});
  return ops;
}

// Commits the transaction; fails with the first operation's error.
json commit(JsonRpcClient& rpc, const json& ops) {
  json r = rpc.call("transact", ops);
  if (!r["error"].is_null()) cmd_fail("transaction failed: " + r["error"].dump());
  for (auto& res : r["result"])
    if (res.is_object() && res.contains("error")) {
      std::string msg = res["error"].get<std::string>();
      if (res.contains("details")) msg += ": " + res["details"].get<std::string>();
      cmd_fail(msg);
    }
  return r;
}

// Config commands: run against a snapshot, committed as one transaction;
// unless --no-wait, returns once the daemon has applied it (cur_cfg).
int run_config(JsonRpcClient& rpc, std::vector<Invocation>& cmds, const Options& opt,
               const std::vector<std::string>& argv, std::ostream& out) {
  Ctx ctx(rpc, out);
  ctx.load();
  for (auto& inv : cmds) inv.def->config(ctx, inv.args, inv.opts);
  if (!ctx.mutated) return kExitOk;
  bool wait = !opt.no_wait;
  size_t cfg_index = 0;
  json ops = config_transaction(ctx, wait, argv, &cfg_index);
  if (wait) {
    // Monitor cur_cfg before committing so no update can be missed.
    json m = rpc.call("monitor", json::array({"Open_vSwitch", "dpsctl-cfg",
                                              {{"Open_vSwitch", {{"columns", json::array({"cur_cfg"})}}}}}));
    if (!m["error"].is_null()) wait = false;
  }
  json r = commit(rpc, ops);
  if (!wait) return kExitOk;
  int64_t target = r["result"][cfg_index]["rows"][0]["next_cfg"];
  for (;;) {
    json n = rpc.next_notification();
    if (n["method"] != "update") continue;
    for (auto& [u, ch] : n["params"][1]["Open_vSwitch"].items())
      if (ch.contains("new") && ch["new"].value("cur_cfg", int64_t{-1}) >= target) return kExitOk;
  }
}

}  // namespace

std::vector<CommandInfo> command_list() {
  std::vector<CommandInfo> out;
  for (auto& c : table())
    out.push_back({c.name, c.synopsis, c.help, c.config ? CommandKind::Config : CommandKind::Runtime});
  return out;
}

int run_dpsctl(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  try {
    Options opt;
    size_t i = 0;
    if (!parse_global_options(argv, i, opt, out)) return kExitOk;
    std::vector<Invocation> cmds = parse_invocations(argv, i);
    JsonRpcClient rpc(opt.db);
    rpc.set_deadline(std::chrono::seconds(opt.timeout_s));
    if (!cmds[0].def->config) return run_runtime(rpc, cmds[0], opt, out);
    return run_config(rpc, cmds, opt, argv, out);
  } catch (const CmdError& e) {
    if (!e.msg.empty()) err << "dpsctl: " << e.msg << "\n";
    return e.code;
  } catch (const ClientError& e) {
    err << "dpsctl: " << e.what() << "\n";
    return e.kind == ClientError::Connect ? kExitNoDaemon : e.kind == ClientError::Timeout ? kExitTimeout : kExitFailed;
  } catch (const std::invalid_argument& e) {
    err << "dpsctl: bad number in an option: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    err << "dpsctl: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace dps::cli
