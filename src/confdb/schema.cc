#include "schema.h"

#include <fstream>
#include <regex>
#include <sstream>

namespace dps::confdb {

const Type& uuid_column_type() {
  static const Type t = [] {
    Type x;
    x.key.type = AtomicType::Uuid;
    return x;
  }();
  return t;
}

std::optional<size_t> TableSchema::find_column(std::string_view n) const {
  auto it = column_index.find(n);
  if (it == column_index.end()) return std::nullopt;
  return it->second;
}

const Type& TableSchema::column_type(std::string_view n) const {
  if (n == "_uuid" || n == "_version") return uuid_column_type();
  auto c = find_column(n);
  if (!c) fail("unknown column", "table " + name + " has no column named " + std::string(n));
  return columns[*c].type;
}

static bool valid_id(const std::string& s) {
  static const std::regex re("[A-Za-z_][A-Za-z0-9_]*");
  return std::regex_match(s, re);
}

DatabaseSchema DatabaseSchema::from_json(const json& j) {
  auto bad = [](const std::string& what) { fail("syntax error", "schema: " + what); };
  if (!j.is_object()) bad("not a JSON object");
  if (!j.contains("name") || !j["name"].is_string()) bad("missing \"name\"");
  if (!j.contains("tables") || !j["tables"].is_object()) bad("missing \"tables\" object");
  DatabaseSchema s;
  s.raw = j;
  s.name = j["name"];
  if (!valid_id(s.name)) bad("invalid database name " + s.name);
  s.version = j.value("version", "");
  s.cksum = j.value("cksum", "");
  if (!s.version.empty() && !std::regex_match(s.version, std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")))
    bad("version must be x.y.z, got " + s.version);
  bool any_root = false;
  for (auto& [tname, tj] : j["tables"].items()) {
    std::string where = "table " + tname;
    if (!valid_id(tname) || tname[0] == '_') bad("invalid table name " + tname);
    if (!tj.is_object() || !tj.contains("columns") || !tj["columns"].is_object())
      bad(where + " needs a \"columns\" object");
    TableSchema t;
    t.name = tname;
    t.is_root = tj.value("isRoot", false);
    any_root |= t.is_root;
    if (tj.contains("maxRows")) {
      if (!tj["maxRows"].is_number_integer() || tj["maxRows"].get<int64_t>() < 1)
        bad(where + ": maxRows must be a positive integer");
      t.max_rows = tj["maxRows"].get<uint64_t>();
    }
    for (auto& [cname, cj] : tj["columns"].items()) {
      std::string cwhere = where + " column " + cname;
      if (!valid_id(cname) || cname[0] == '_') bad("invalid column name " + cwhere);
      if (!cj.is_object() || !cj.contains("type")) bad(cwhere + " needs a \"type\"");
      ColumnSchema c;
      c.name = cname;
      c.type = Type::from_json(cj["type"], "schema " + cwhere);
      c.is_mutable = cj.value("mutable", true);
      c.ephemeral = cj.value("ephemeral", false);
      t.column_index[cname] = t.columns.size();
      t.columns.push_back(std::move(c));
    }
    if (tj.contains("indexes")) {
      for (auto& ij : tj["indexes"]) {
        std::vector<size_t> idx;
        for (auto& cn : ij) {
          auto pos = t.find_column(cn.get<std::string>());
          if (!pos) bad(where + ": index names unknown column " + cn.dump());
          idx.push_back(*pos);
        }
        if (idx.empty()) bad(where + ": empty index");
        t.indexes.push_back(std::move(idx));
      }
    }
    s.table_index[tname] = s.tables.size();
    s.tables.push_back(std::move(t));
  }
  if (!any_root)
    for (auto& t : s.tables) t.is_root = true;
  for (auto& t : s.tables)
    for (auto& c : t.columns)
      for (const BaseType* bt : {&c.type.key, c.type.value ? &*c.type.value : nullptr})
        if (bt && bt->is_ref() && !s.find_table(bt->ref_table))
          bad("table " + t.name + " column " + c.name + " refers to unknown table " + bt->ref_table);
  return s;
}

DatabaseSchema DatabaseSchema::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("I/O error", "cannot open schema file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) fail("syntax error", "schema file " + path + " is not valid JSON");
  return from_json(j);
}

const TableSchema* DatabaseSchema::find_table(std::string_view n) const {
  auto it = table_index.find(n);
  return it == table_index.end() ? nullptr : &tables[it->second];
}

const TableSchema& DatabaseSchema::table(std::string_view n) const {
  return tables[table_pos(n)];
}

size_t DatabaseSchema::table_pos(std::string_view n) const {
  auto it = table_index.find(n);
  if (it == table_index.end()) fail("unknown table", "no table named " + std::string(n));
  return it->second;
}

}  // namespace dps::confdb
