#include "database.h"

#include <algorithm>

namespace dps::confdb {

Database::Database(std::shared_ptr<const DatabaseSchema> schema)
    : schema_(std::move(schema)), tables_(schema_->tables.size()) {}

const Row* Database::find_row(size_t table, const Uuid& uuid) const {
  auto it = tables_[table].find(uuid);
  return it == tables_[table].end() ? nullptr : &it->second;
}

Row* Database::find_row(size_t table, const Uuid& uuid) {
  auto it = tables_[table].find(uuid);
  return it == tables_[table].end() ? nullptr : &it->second;
}

Row Database::new_row(size_t table, const Uuid& uuid) const {
  Row r;
  r.uuid = uuid;
  r.version = Uuid::random();
  for (auto& c : schema_->tables[table].columns) r.columns.push_back(Datum::default_for(c.type));
  return r;
}

namespace {

// Visits every reference atom of a row: fn(column, is_value, index, ref_table_pos, strong).
template <typename Fn>
void for_each_ref_column(const DatabaseSchema& s, size_t table, Fn&& fn) {
  auto& ts = s.tables[table];
  for (size_t c = 0; c < ts.columns.size(); ++c) {
    auto& t = ts.columns[c].type;
    if (t.key.is_ref()) fn(c, false, s.table_pos(t.key.ref_table), t.key.ref_strong);
    if (t.value && t.value->is_ref()) fn(c, true, s.table_pos(t.value->ref_table), t.value->ref_strong);
  }
}

// Visits every strong reference in the database, table by table:
// fn(table, row uuid, column, ref_table_pos, target uuid).
template <typename Fn>
void for_each_strong_ref(const DatabaseSchema& s, const std::vector<Table>& tables, Fn&& fn) {
  for (size_t t = 0; t < tables.size(); ++t) {
    for_each_ref_column(s, t, [&](size_t c, bool is_value, size_t ref_t, bool strong) {
      if (!strong) return;
      for (auto& [uuid, row] : tables[t]) {
        const Datum& d = row.columns[c];
        for (size_t i = 0; i < d.size(); ++i) fn(t, uuid, c, ref_t, std::get<Uuid>(is_value ? d.values[i] : d.keys[i]));
      }
    });
  }
}

}  // namespace

void Database::finalize(std::set<std::pair<size_t, Uuid>>& touched) {
  // 1. Drop weak references to rows that no longer exist, and collect garbage
  //    (non-root rows without strong references), until nothing changes:
  //    removing a row can orphan others and dangle more weak references.
  for (bool changed = true; changed;) {
    drop_dangling_weak_refs(touched);
    changed = collect_garbage(touched);
  }
  // 2. Every strong reference must name an existing row.
  check_strong_refs();
  // 3. Per-row element counts (weak-reference removal can go below min), maxRows
  //    and unique indexes.
  for (size_t t = 0; t < tables_.size(); ++t) {
    check_row_counts(t, touched);
    check_indexes(t);
  }
}

void Database::drop_dangling_weak_refs(std::set<std::pair<size_t, Uuid>>& touched) {
  for (size_t t = 0; t < tables_.size(); ++t) {
    for_each_ref_column(*schema_, t, [&](size_t c, bool is_value, size_t ref_t, bool strong) {
      if (strong) return;
      for (auto& [uuid, row] : tables_[t]) {
        Datum& d = row.columns[c];
        for (size_t i = d.size(); i-- > 0;) {
          const Atom& a = is_value ? d.values[i] : d.keys[i];
          if (!find_row(ref_t, std::get<Uuid>(a))) {
            d.erase_at(i);
            touched.insert({t, uuid});
          }
        }
      }
    });
  }
}

bool Database::collect_garbage(std::set<std::pair<size_t, Uuid>>& touched) {
  std::vector<std::map<Uuid, size_t>> refcount(tables_.size());
  for_each_strong_ref(*schema_, tables_, [&](size_t, const Uuid& uuid, size_t, size_t ref_t, const Uuid& target) {
    if (target != uuid) ++refcount[ref_t][target];  // self-references do not keep a row alive
  });
  bool removed = false;
  for (size_t t = 0; t < tables_.size(); ++t) {
    if (schema_->tables[t].is_root) continue;
    for (auto it = tables_[t].begin(); it != tables_[t].end();) {
      if (!refcount[t].count(it->first)) {
        touched.insert({t, it->first});
        it = tables_[t].erase(it);
        removed = true;
      } else {
        ++it;
      }
    }
  }
  return removed;
}

void Database::check_strong_refs() const {
  const auto& s = *schema_;
  for_each_strong_ref(s, tables_, [&](size_t t, const Uuid& uuid, size_t c, size_t ref_t, const Uuid& target) {
    if (!find_row(ref_t, target))
      fail("referential integrity violation",
           "table " + s.tables[t].name + " column " + s.tables[t].columns[c].name + " in row " + uuid.to_string() +
               " references nonexistent row " + target.to_string() + " in table " + s.tables[ref_t].name);
  });
}

// maxRows, and the minimum element count of every column of the rows the
// transaction touched.
void Database::check_row_counts(size_t t, const std::set<std::pair<size_t, Uuid>>& touched) const {
  auto& ts = schema_->tables[t];
  if (tables_[t].size() > ts.max_rows)
    fail("constraint violation", "transaction causes table " + ts.name + " to contain " +
                                     std::to_string(tables_[t].size()) + " rows, more than the schema limit of " +
                                     std::to_string(ts.max_rows));
  for (auto& key : touched) {
    if (key.first != t) continue;
    auto* row = find_row(t, key.second);
    if (!row) continue;
    for (size_t c = 0; c < ts.columns.size(); ++c) {
      auto& type = ts.columns[c].type;
      if (row->columns[c].size() < type.min)
        fail("constraint violation", "table " + ts.name + " column " + ts.columns[c].name + " in row " +
                                         row->uuid.to_string() + " has fewer values than its minimum of " +
                                         std::to_string(type.min));
    }
  }
}

void Database::check_indexes(size_t t) const {
  auto& ts = schema_->tables[t];
  for (auto& index : ts.indexes) {
    std::map<std::string, Uuid> seen;
    for (auto& [uuid, row] : tables_[t]) {
      json key = json::array();
      for (size_t c : index) key.push_back(datum_to_json(row.columns[c], ts.columns[c].type));
      auto [it, fresh] = seen.emplace(key.dump(), uuid);
      if (fresh) continue;
      std::string cols, vals;
      for (size_t k = 0; k < index.size(); ++k) {
        if (k) {
          cols += ", ";
          vals += ", ";
        }
        cols += ts.columns[index[k]].name;
        vals += datum_to_json(row.columns[index[k]], ts.columns[index[k]].type).dump();
      }
      fail("constraint violation", "transaction causes multiple rows in table " + ts.name +
                                       " to have identical values (" + vals + ") for index on column(s) " + cols +
                                       ": rows " + it->second.to_string() + " and " + uuid.to_string());
    }
  }
}

json Database::row_to_json(size_t table, const Row& row, const std::vector<std::string>* columns,
                           bool skip_defaults, bool durable_only) const {
  auto& ts = schema_->tables[table];
  json j = json::object();
  auto put = [&](size_t c) {
    auto& cs = ts.columns[c];
    if (durable_only && cs.ephemeral) return;
    if (skip_defaults && row.columns[c] == Datum::default_for(cs.type)) return;
    j[cs.name] = datum_to_json(row.columns[c], cs.type);
  };
  if (!columns) {
    j["_uuid"] = atom_to_json(row.uuid);
    j["_version"] = atom_to_json(row.version);
    for (size_t c = 0; c < ts.columns.size(); ++c) put(c);
    return j;
  }
  for (auto& name : *columns) {
    if (name == "_uuid") j["_uuid"] = atom_to_json(row.uuid);
    else if (name == "_version") j["_version"] = atom_to_json(row.version);
    else if (auto c = ts.find_column(name)) put(*c);
  }
  return j;
}

json Database::snapshot_json() const {
  json j = json::object();
  for (size_t t = 0; t < tables_.size(); ++t) {
    if (tables_[t].empty()) continue;
    json tj = json::object();
    for (auto& [uuid, row] : tables_[t]) {
      json r = row_to_json(t, row, nullptr, true, true);
      r.erase("_uuid");
      r.erase("_version");
      tj[uuid.to_string()] = std::move(r);
    }
    j[schema_->tables[t].name] = std::move(tj);
  }
  return j;
}

void Database::load_snapshot_json(const json& j) {
  for (auto& t : tables_) t.clear();
  apply_record_json(j);
}

void Database::apply_record_json(const json& j) {
  if (!j.is_object()) fail("syntax error", "log record is not an object");
  for (auto& [tname, tj] : j.items()) {
    if (tname[0] == '_') continue;  // _comment, _date
    size_t t = schema_->table_pos(tname);
    auto& ts = schema_->tables[t];
    for (auto& [ustr, rj] : tj.items()) {
      auto uuid = Uuid::parse(ustr);
      if (!uuid) fail("syntax error", "log record has bad row UUID " + ustr);
      if (rj.is_null()) {
        tables_[t].erase(*uuid);
        continue;
      }
      Row row = new_row(t, *uuid);
      for (auto& [cname, dj] : rj.items()) {
        auto c = ts.find_column(cname);
        if (!c) fail("unknown column", "log record names unknown column " + tname + "." + cname);
        // The record was validated when it was committed; constraints of the
        // current schema are not re-checked so that an old log still loads.
        row.columns[*c] = datum_from_json(dj, ts.columns[*c].type, nullptr, tname + "." + cname, false);
      }
      tables_[t][*uuid] = std::move(row);
    }
  }
}

ChangeSet Database::diff(const Database& before, const std::set<std::pair<size_t, Uuid>>& touched) const {
  ChangeSet cs;
  for (auto& [t, uuid] : touched) {
    const Row* o = before.find_row(t, uuid);
    const Row* n = find_row(t, uuid);
    if (!o && !n) continue;
    if (o && n && o->columns == n->columns) continue;
    RowChange rc;
    rc.table = t;
    rc.uuid = uuid;
    if (o) rc.old_row = *o;
    if (n) rc.new_row = *n;
    auto& ts = schema_->tables[t];
    if (!o || !n) {
      cs.durable_change = true;
    } else {
      for (size_t c = 0; c < ts.columns.size(); ++c)
        if (!ts.columns[c].ephemeral && o->columns[c] != n->columns[c]) cs.durable_change = true;
    }
    cs.rows.push_back(std::move(rc));
  }
  return cs;
}

}  // namespace dps::confdb
