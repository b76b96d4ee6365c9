#include "transaction.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace dps::confdb {

namespace {

constexpr int kUuidColumn = -1;
constexpr int kVersionColumn = -2;

enum class Func { Lt, Le, Eq, Ne, Ge, Gt, Includes, Excludes };

struct Condition {
  int column;
  Func func;
  Datum value;
};

using Touched = std::set<std::pair<size_t, Uuid>>;

const json& member(const json& op, const char* name, const std::string& where) {
  auto it = op.find(name);
  if (it == op.end()) fail("syntax error", where + ": missing \"" + name + "\"");
  return *it;
}

// `j`, the operation's member `name`, must be an array.
void expect_array(const json& j, const char* name, const std::string& where) {
  if (!j.is_array()) fail("syntax error", where + ": \"" + name + "\" must be an array");
}

// Conditions and mutations share one notation: an array (the operation's
// member `name`) of `what`s, each [column, function or mutator, value].
// Calls fn(column, function or mutator, value) for each, in order.
template <typename Fn>
void for_each_triple(const json& j, const char* name, const char* what, const char* middle,
                     const std::string& where, Fn&& fn) {
  expect_array(j, name, where);
  for (auto& e : j) {
    if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !e[1].is_string())
      fail("syntax error", where + ": " + what + " must be [column, " + middle + ", value], got " + e.dump());
    fn(e[0].get<std::string>(), e[1].get<std::string>(), e[2]);
  }
}

// How a column is written: by insert (any column), update or mutate (only a
// mutable one). Names the way in the errors.
enum class Write { kInsert, kUpdate, kMutate };

// The position of column `name` in `ts`, or the error an insert, update or
// mutate of it gets.
size_t writable_column(const TableSchema& ts, const std::string& name, const std::string& where, Write how) {
  auto c = ts.find_column(name);
  if (!c) {
    if (name == "_uuid" || name == "_version")
      fail("constraint violation",
           where + ": column " + name + (how == Write::kMutate ? " cannot be mutated" : " cannot be written"));
    fail("unknown column", where + ": table " + ts.name + " has no column named " + name);
  }
  if (how != Write::kInsert && !ts.columns[*c].is_mutable)
    fail("constraint violation", where + ": cannot " + (how == Write::kMutate ? "mutate" : "update") +
                                     " immutable column " + name + " in table " + ts.name);
  return *c;
}

// One parsed element of a mutate's "mutations".
struct Mutation {
  size_t column;
  std::string mutator;
  Datum value;
  bool value_is_map;
};

class Executor {
 public:
  Executor(const Database& db, const TxnContext& ctx) : before_(db), work_(db), ctx_(ctx) {
    resolver_ = [this](const std::string& name) { return symbol(name); };
  }

  TxnOutcome run(const json& ops);

 private:
  json run_op(const json& op, size_t index);
  json op_insert(const json& op, const std::string& where);
  json op_select(const json& op, const std::string& where);
  json op_update(const json& op, const std::string& where);
  json op_mutate(const json& op, const std::string& where);
  json op_delete(const json& op, const std::string& where);
  json op_wait(const json& op, const std::string& where);

  Uuid symbol(const std::string& name) {
    auto it = symbols_.find(name);
    if (it != symbols_.end()) return it->second.first;
    Uuid u = Uuid::random();
    symbols_.emplace(name, std::make_pair(u, false));
    return u;
  }

  size_t table_of(const json& op, const std::string& where) {
    const json& t = member(op, "table", where);
    if (!t.is_string()) fail("syntax error", where + ": \"table\" must be a string");
    return work_.schema().table_pos(t.get<std::string>());
  }

  std::vector<Condition> parse_where(size_t table, const json& where_json, const std::string& where);
  bool matches(const Row& row, const std::vector<Condition>& conds) const;
  std::vector<Uuid> select_rows(size_t table, const std::vector<Condition>& conds) const;
  std::vector<std::pair<size_t, Datum>> parse_row(size_t table, const json& row, const std::string& where,
                                                  bool is_update);
  std::vector<std::string> parse_columns(size_t table, const json& cols, const std::string& where);
  Condition parse_condition(size_t table, const std::string& col, const std::string& fn, const json& value,
                            const std::string& where);
  Mutation parse_mutation(size_t table, const std::string& col, const std::string& m, const json& value,
                          const std::string& where);

  const Database& before_;
  Database work_;
  const TxnContext& ctx_;
  NamedUuidResolver resolver_;
  std::map<std::string, std::pair<Uuid, bool>> symbols_;  // name -> (uuid, created)
  Touched touched_;
  bool blocked_ = false;
  std::optional<std::chrono::milliseconds> retry_within_;
  bool durable_ = false;
  std::string comment_;
};

TxnOutcome Executor::run(const json& ops) {
  TxnOutcome out;
  if (!ops.is_array()) {
    out.result.push_back(OvsdbError{"syntax error", "transact params must be an array"}.to_json());
    return out;
  }
  size_t i = 0;
  bool failed = false;
  for (; i < ops.size(); ++i) {
    try {
      json r = run_op(ops[i], i);
      if (blocked_) {
        out.blocked = true;
        out.retry_within = retry_within_;
        out.result = json::array();
        return out;
      }
      out.result.push_back(std::move(r));
    } catch (const OvsdbError& e) {
      out.result.push_back(e.to_json());
      failed = true;
      ++i;
      break;
    } catch (const json::exception& e) {
      out.result.push_back(OvsdbError{"syntax error", "operation " + std::to_string(i) + ": " + e.what()}.to_json());
      failed = true;
      ++i;
      break;
    }
  }
  if (failed) {
    for (; i < ops.size(); ++i) out.result.push_back(nullptr);
    return out;
  }
  try {
    work_.finalize(touched_);
  } catch (const OvsdbError& e) {
    out.result.push_back(e.to_json());
    return out;
  }
  out.ok = true;
  out.durable = durable_;
  out.changes = work_.diff(before_, touched_);
  out.changes.comment = comment_;
  if (!out.changes.empty()) {
    for (auto& rc : out.changes.rows) {
      if (!rc.new_row) continue;
      Row* r = work_.find_row(rc.table, rc.uuid);
      if (rc.old_row) r->version = Uuid::random();  // inserted rows already have a fresh one
      rc.new_row->version = r->version;
    }
    out.new_db = std::move(work_);
  }
  return out;
}

json Executor::run_op(const json& op, size_t index) {
  std::string where = "operation " + std::to_string(index);
  if (!op.is_object()) fail("syntax error", where + ": not a JSON object");
  const json& name = member(op, "op", where);
  if (!name.is_string()) fail("syntax error", where + ": \"op\" must be a string");
  const std::string& n = name.get_ref<const std::string&>();
  where += " (" + n + ")";
  if (n == "insert") return op_insert(op, where);
  if (n == "select") return op_select(op, where);
  if (n == "update") return op_update(op, where);
  if (n == "mutate") return op_mutate(op, where);
  if (n == "delete") return op_delete(op, where);
  if (n == "wait") return op_wait(op, where);
  if (n == "commit") {
    const json& d = member(op, "durable", where);
    if (!d.is_boolean()) fail("syntax error", where + ": \"durable\" must be a boolean");
    durable_ |= d.get<bool>();
    return json::object();
  }
  if (n == "abort") fail("aborted", "aborted by request");
  if (n == "comment") {
    const json& c = member(op, "comment", where);
    if (!c.is_string()) fail("syntax error", where + ": \"comment\" must be a string");
    comment_ += (comment_.empty() ? "" : "\n") + c.get<std::string>();
    return json::object();
  }
  if (n == "assert") {
    const json& l = member(op, "lock", where);
    if (!l.is_string()) fail("syntax error", where + ": \"lock\" must be a string");
    if (!ctx_.owns_lock || !ctx_.owns_lock(l.get<std::string>()))
      fail("not owner", where + ": this session does not own lock " + l.dump());
    return json::object();
  }
  fail("unknown operation", where + ": no operation named \"" + n + "\"");
}

std::vector<std::pair<size_t, Datum>> Executor::parse_row(size_t table, const json& row,
                                                          const std::string& where, bool is_update) {
  auto& ts = work_.schema().tables[table];
  if (!row.is_object()) fail("syntax error", where + ": \"row\" must be an object");
  std::vector<std::pair<size_t, Datum>> out;
  for (auto& [cname, value] : row.items()) {
    size_t c = writable_column(ts, cname, where, is_update ? Write::kUpdate : Write::kInsert);
    out.emplace_back(c, datum_from_json(value, ts.columns[c].type, &resolver_, ts.name + "." + cname));
  }
  return out;
}

std::vector<std::string> Executor::parse_columns(size_t table, const json& cols, const std::string& where) {
  auto& ts = work_.schema().tables[table];
  std::vector<std::string> out;
  expect_array(cols, "columns", where);
  for (auto& c : cols) {
    if (!c.is_string()) fail("syntax error", where + ": column names must be strings");
    ts.column_type(c.get<std::string>());  // throws "unknown column"
    out.push_back(c.get<std::string>());
  }
  return out;
}

std::vector<Condition> Executor::parse_where(size_t table, const json& wj, const std::string& where) {
  std::vector<Condition> out;
  for_each_triple(wj, "where", "condition", "function", where,
                  [&](const std::string& col, const std::string& fn, const json& value) {
                    out.push_back(parse_condition(table, col, fn, value, where));
                  });
  return out;
}

Condition Executor::parse_condition(size_t table, const std::string& col, const std::string& fn, const json& value,
                                    const std::string& where) {
  static const std::map<std::string, Func> kFuncs = {
      {"<", Func::Lt},  {"<=", Func::Le}, {"==", Func::Eq},             {"!=", Func::Ne},
      {">=", Func::Ge}, {">", Func::Gt},  {"includes", Func::Includes}, {"excludes", Func::Excludes}};
  auto& ts = work_.schema().tables[table];
  Condition c;
  Type type = ts.column_type(col);
  if (col == "_uuid") c.column = kUuidColumn;
  else if (col == "_version") c.column = kVersionColumn;
  else c.column = static_cast<int>(*ts.find_column(col));
  auto f = kFuncs.find(fn);
  if (f == kFuncs.end()) fail("unknown function", where + ": no condition function named \"" + fn + "\"");
  c.func = f->second;
  bool ordered = c.func == Func::Lt || c.func == Func::Le || c.func == Func::Ge || c.func == Func::Gt;
  if (ordered) {
    if (type.is_map() || (type.key.type != AtomicType::Integer && type.key.type != AtomicType::Real) ||
        type.max != 1)
      fail("syntax error", where + ": function " + fn + " needs an integer or real column, not " + col);
    c.value = Datum::scalar(atom_from_json(value, type.key, &resolver_, where + " " + col));
  } else {
    Type relaxed = type;
    relaxed.min = 0;
    if (c.func == Func::Includes || c.func == Func::Excludes) relaxed.max = kUnlimited;
    // Condition values are compared, not stored: no range/enum checks.
    c.value = datum_from_json(value, relaxed, &resolver_, where + " " + col, false);
    if (c.value.size() > relaxed.max)
      fail("constraint violation", where + ": too many values for column " + col);
  }
  return c;
}

bool includes(const Datum& a, const Datum& b) {  // every element (pair) of b is in a
  for (size_t i = 0; i < b.size(); ++i) {
    auto j = a.find(b.keys[i]);
    if (!j) return false;
    if (!b.values.empty() && a.values[*j] != b.values[i]) return false;
  }
  return true;
}

bool excludes(const Datum& a, const Datum& b) {
  for (size_t i = 0; i < b.size(); ++i) {
    auto j = a.find(b.keys[i]);
    if (j && (b.values.empty() || a.values[*j] == b.values[i])) return false;
  }
  return true;
}

bool Executor::matches(const Row& row, const std::vector<Condition>& conds) const {
  for (auto& c : conds) {
    Datum own;
    const Datum* d;
    if (c.column == kUuidColumn) { own = Datum::scalar(row.uuid); d = &own; }
    else if (c.column == kVersionColumn) { own = Datum::scalar(row.version); d = &own; }
    else d = &row.columns[static_cast<size_t>(c.column)];
    bool ok;
    switch (c.func) {
      case Func::Eq: ok = *d == c.value; break;
      case Func::Ne: ok = *d != c.value; break;
      case Func::Includes: ok = includes(*d, c.value); break;
      case Func::Excludes: ok = excludes(*d, c.value); break;
      default: {
        if (d->size() != 1) { ok = false; break; }
        auto num = [](const Atom& a) {
          return a.index() == 0 ? static_cast<double>(std::get<int64_t>(a)) : std::get<double>(a);
        };
        const Atom& l = d->keys[0];
        const Atom& r = c.value.keys[0];
        bool lt, eq;
        if (l.index() == 0 && r.index() == 0) {
          lt = std::get<int64_t>(l) < std::get<int64_t>(r);
          eq = std::get<int64_t>(l) == std::get<int64_t>(r);
        } else {
          lt = num(l) < num(r);
          eq = num(l) == num(r);
        }
        switch (c.func) {
          case Func::Lt: ok = lt; break;
          case Func::Le: ok = lt || eq; break;
          case Func::Gt: ok = !lt && !eq; break;
          default: ok = !lt; break;
        }
      }
    }
    if (!ok) return false;
  }
  return true;
}

std::vector<Uuid> Executor::select_rows(size_t table, const std::vector<Condition>& conds) const {
  std::vector<Uuid> out;
  // Fast path: a leading "_uuid ==" condition names at most one row.
  if (!conds.empty() && conds[0].column == kUuidColumn && conds[0].func == Func::Eq) {
    if (conds[0].value.size() != 1) return out;
    const Row* r = work_.find_row(table, std::get<Uuid>(conds[0].value.keys[0]));
    if (r && matches(*r, conds)) out.push_back(r->uuid);
    return out;
  }
  for (auto& [uuid, row] : work_.table(table))
    if (matches(row, conds)) out.push_back(uuid);
  return out;
}

json Executor::op_insert(const json& op, const std::string& where) {
  size_t t = table_of(op, where);
  Uuid uuid;
  std::string uuid_name;
  if (auto it = op.find("uuid-name"); it != op.end()) {
    if (!it->is_string()) fail("syntax error", where + ": \"uuid-name\" must be a string");
    uuid_name = it->get<std::string>();
    auto s = symbols_.find(uuid_name);
    if (s != symbols_.end() && s->second.second)
      fail("duplicate uuid-name", where + ": uuid-name \"" + uuid_name + "\" is already used in this transaction");
  }
  if (auto it = op.find("uuid"); it != op.end()) {
    auto u = it->is_string() ? Uuid::parse(it->get<std::string>()) : std::nullopt;
    if (!u) fail("syntax error", where + ": \"uuid\" must be a UUID string");
    uuid = *u;
    if (!uuid_name.empty()) {
      auto s = symbols_.find(uuid_name);
      if (s != symbols_.end() && s->second.first != uuid)
        fail("syntax error", where + ": uuid-name was referenced before with another UUID");
    }
  } else {
    uuid = uuid_name.empty() ? Uuid::random() : symbol(uuid_name);
  }
  if (!uuid_name.empty()) symbols_[uuid_name] = {uuid, true};
  for (size_t i = 0; i < work_.n_tables(); ++i)
    if (work_.find_row(i, uuid)) fail("duplicate uuid", where + ": a row with UUID " + uuid.to_string() + " already exists");
  Row row = work_.new_row(t, uuid);
  if (auto it = op.find("row"); it != op.end())
    for (auto& [c, d] : parse_row(t, *it, where, false)) row.columns[c] = std::move(d);
  work_.table(t).emplace(uuid, std::move(row));
  touched_.insert({t, uuid});
  return json{{"uuid", atom_to_json(uuid)}};
}

json Executor::op_select(const json& op, const std::string& where) {
  size_t t = table_of(op, where);
  auto conds = parse_where(t, member(op, "where", where), where);
  std::optional<std::vector<std::string>> cols;
  if (auto it = op.find("columns"); it != op.end()) cols = parse_columns(t, *it, where);
  json rows = json::array();
  for (auto& u : select_rows(t, conds))
    rows.push_back(work_.row_to_json(t, *work_.find_row(t, u), cols ? &*cols : nullptr));
  return json{{"rows", rows}};
}

json Executor::op_update(const json& op, const std::string& where) {
  size_t t = table_of(op, where);
  auto conds = parse_where(t, member(op, "where", where), where);
  auto values = parse_row(t, member(op, "row", where), where, true);
  auto rows = select_rows(t, conds);
  for (auto& u : rows) {
    Row* r = work_.find_row(t, u);
    for (auto& [c, d] : values) r->columns[c] = d;
    touched_.insert({t, u});
  }
  return json{{"count", rows.size()}};
}

json Executor::op_delete(const json& op, const std::string& where) {
  size_t t = table_of(op, where);
  auto conds = parse_where(t, member(op, "where", where), where);
  auto rows = select_rows(t, conds);
  for (auto& u : rows) {
    work_.table(t).erase(u);
    touched_.insert({t, u});
  }
  return json{{"count", rows.size()}};
}

// Integer arithmetic with the RFC's errors: "domain error" (division by
// zero) and "range error" (overflow).
Atom arith(const Atom& a, const std::string& m, const Atom& b, const std::string& where) {
  if (a.index() == 0) {
    int64_t x = std::get<int64_t>(a), y = std::get<int64_t>(b), r = 0;
    bool overflow = false;
    if (m == "+=") overflow = __builtin_add_overflow(x, y, &r);
    else if (m == "-=") overflow = __builtin_sub_overflow(x, y, &r);
    else if (m == "*=") overflow = __builtin_mul_overflow(x, y, &r);
    else if (m == "/=" || m == "%=") {
      if (y == 0) fail("domain error", where + ": division by zero");
      if (x == INT64_MIN && y == -1) overflow = true;
      else r = m == "/=" ? x / y : x % y;
    }
    if (overflow) fail("range error", where + ": integer overflow");
    return r;
  }
  double x = std::get<double>(a), y = std::get<double>(b), r = 0;
  if (m == "+=") r = x + y;
  else if (m == "-=") r = x - y;
  else if (m == "*=") r = x * y;
  else if (m == "/=") {
    if (y == 0) fail("domain error", where + ": division by zero");
    r = x / y;
  } else fail("syntax error", where + ": %= applies to integers only");
  if (!std::isfinite(r)) fail("range error", where + ": result out of range");
  return r;
}

Mutation Executor::parse_mutation(size_t t, const std::string& col, const std::string& m, const json& value,
                                  const std::string& where) {
  auto& ts = work_.schema().tables[t];
  size_t c = writable_column(ts, col, where, Write::kMutate);
  auto& cs = ts.columns[c];
  std::string cw = where + " " + ts.name + "." + col;
  Mutation mu{c, m, {}, false};
  if (m == "+=" || m == "-=" || m == "*=" || m == "/=" || m == "%=") {
    if (cs.type.is_map() || (cs.type.key.type != AtomicType::Integer && cs.type.key.type != AtomicType::Real))
      fail("constraint violation", cw + ": mutator " + m + " needs an integer or real column");
    if (m == "%=" && cs.type.key.type != AtomicType::Integer)
      fail("constraint violation", cw + ": mutator %= needs an integer column");
    BaseType plain;
    plain.type = cs.type.key.type;
    mu.value = Datum::scalar(atom_from_json(value, plain, &resolver_, cw));
  } else if (m == "insert" || m == "delete") {
    Type relaxed = cs.type;
    relaxed.min = 0;
    relaxed.max = kUnlimited;
    if (cs.type.is_map() && m == "delete" && !(value.is_array() && value.size() == 2 && value[0] == "map")) {
      relaxed.value.reset();  // delete by keys
    }
    mu.value_is_map = relaxed.is_map();
    mu.value = datum_from_json(value, relaxed, &resolver_, cw, m == "insert");
  } else {
    fail("syntax error", cw + ": unknown mutator \"" + m + "\"");
  }
  return mu;
}

// Applies one mutation to a row's datum; `cw` names the column in errors.
void apply_mutation(Datum& d, const Mutation& mu, const Type& type, const std::string& cw) {
  if (mu.mutator == "insert") {
    for (size_t i = 0; i < mu.value.size(); ++i)
      d.insert(mu.value.keys[i], mu.value_is_map ? std::optional<Atom>(mu.value.values[i]) : std::nullopt);
  } else if (mu.mutator == "delete") {
    for (size_t i = 0; i < mu.value.size(); ++i) {
      auto j = d.find(mu.value.keys[i]);
      if (!j) continue;
      if (mu.value_is_map && d.values[*j] != mu.value.values[i]) continue;
      d.erase_at(*j);
    }
  } else {
    Datum out;
    for (auto& k : d.keys) {
      Atom v = arith(k, mu.mutator, mu.value.keys[0], cw);
      type.key.check(v, cw);
      if (!out.insert(std::move(v))) fail("constraint violation", cw + ": mutation produces duplicate set elements");
    }
    d = std::move(out);
  }
  check_datum(d, type, cw);
}

json Executor::op_mutate(const json& op, const std::string& where) {
  size_t t = table_of(op, where);
  auto& ts = work_.schema().tables[t];
  auto conds = parse_where(t, member(op, "where", where), where);
  std::vector<Mutation> parsed;
  for_each_triple(member(op, "mutations", where), "mutations", "mutation", "mutator", where,
                  [&](const std::string& col, const std::string& m, const json& value) {
                    parsed.push_back(parse_mutation(t, col, m, value, where));
                  });
  auto rows = select_rows(t, conds);
  for (auto& u : rows) {
    Row* r = work_.find_row(t, u);
    for (auto& mu : parsed) {
      auto& cs = ts.columns[mu.column];
      apply_mutation(r->columns[mu.column], mu, cs.type, where + " " + ts.name + "." + cs.name);
    }
    touched_.insert({t, u});
  }
  return json{{"count", rows.size()}};
}

json Executor::op_wait(const json& op, const std::string& where) {
  size_t t = table_of(op, where);
  auto& ts = work_.schema().tables[t];
  std::optional<int64_t> timeout;
  if (auto it = op.find("timeout"); it != op.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      fail("syntax error", where + ": \"timeout\" must be a non-negative integer");
    timeout = it->get<int64_t>();
  }
  auto conds = parse_where(t, member(op, "where", where), where);
  auto cols = parse_columns(t, member(op, "columns", where), where);
  const json& until = member(op, "until", where);
  if (until != "==" && until != "!=") fail("syntax error", where + ": \"until\" must be \"==\" or \"!=\"");
  const json& rows = member(op, "rows", where);
  expect_array(rows, "rows", where);
  // Compare as multisets of projected rows, each rendered canonically.
  std::vector<std::string> expected, actual;
  for (auto& rj : rows) {
    if (!rj.is_object()) fail("syntax error", where + ": each of \"rows\" must be an object");
    json canon = json::object();
    for (auto& c : cols) {
      auto it = rj.find(c);
      if (it == rj.end()) fail("syntax error", where + ": row lacks column " + c + " named in \"columns\"");
      const Type& type = ts.column_type(c);
      canon[c] = datum_to_json(datum_from_json(*it, type, &resolver_, where + " " + c, false), type);
    }
    expected.push_back(canon.dump());
  }
  for (auto& u : select_rows(t, conds))
    actual.push_back(work_.row_to_json(t, *work_.find_row(t, u), &cols).dump());
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  bool equal = expected == actual;
  bool satisfied = until == "==" ? equal : !equal;
  if (satisfied) return json::object();
  if (timeout && (*timeout == 0 || ctx_.elapsed.count() >= *timeout))
    fail("timed out", where + ": \"wait\" condition on table " + ts.name + " not met within " +
                          std::to_string(*timeout) + " ms");
  blocked_ = true;
  if (timeout) {
    auto left = std::chrono::milliseconds(*timeout) - ctx_.elapsed;
    if (!retry_within_ || left < *retry_within_) retry_within_ = left;
  }
  return json::object();
}

}  // namespace

TxnOutcome execute_transaction(const Database& db, const json& ops, const TxnContext& ctx) {
  Executor ex(db, ctx);
  return ex.run(ops);
}

}  // namespace dps::confdb
