#include "config_store.h"

#include <spdlog/spdlog.h>

namespace dps::confdb {

std::unique_ptr<ConfigStore> ConfigStore::open(const std::string& schema_path, const std::string& db_path) {
  return open(std::make_shared<const DatabaseSchema>(DatabaseSchema::load_file(schema_path)), db_path);
}

std::unique_ptr<ConfigStore> ConfigStore::open(std::shared_ptr<const DatabaseSchema> schema,
                                               const std::string& db_path) {
  std::unique_ptr<ConfigStore> s(new ConfigStore(std::move(schema)));
  if (!db_path.empty()) {
    s->file_ = std::make_unique<StoreFile>();
    s->torn_bytes_ = s->file_->open(db_path, s->db_);
    if (s->torn_bytes_)
      spdlog::warn("confdb: {}: dropped {} bytes of torn tail (an unacknowledged write)", db_path,
                   s->torn_bytes_);
    if (s->file_->wants_compaction()) s->file_->compact(s->db_);
  }
  return s;
}

json ConfigStore::durable_record(const ChangeSet& cs) const {
  json rec = json::object();
  if (!cs.comment.empty()) rec["_comment"] = cs.comment;
  for (auto& rc : cs.rows) {
    auto& tname = schema().tables[rc.table].name;
    json& tj = rec[tname];
    if (!rc.new_row) {
      tj[rc.uuid.to_string()] = nullptr;
    } else {
      json r = db_.row_to_json(rc.table, *rc.new_row, nullptr, true, true);
      r.erase("_uuid");
      r.erase("_version");
      tj[rc.uuid.to_string()] = std::move(r);
    }
  }
  return rec;
}

TxnOutcome ConfigStore::transact(const json& ops, const TxnContext& ctx) {
  TxnOutcome out = execute_transaction(db_, ops, ctx);
  if (!out.ok || !out.new_db) return out;
  if (file_ && out.changes.durable_change) {
    try {
      file_->append(durable_record(out.changes));
    } catch (const OvsdbError& e) {
      // Nothing was swapped in: the transaction did not happen.
      spdlog::error("confdb: commit failed: {}", e.details);
      out.ok = false;
      out.new_db.reset();
      out.result.push_back(e.to_json());
      return out;
    }
  }
  db_ = std::move(*out.new_db);
  out.new_db.reset();
  if (file_ && file_->wants_compaction()) {
    try {
      file_->compact(db_);
    } catch (const OvsdbError& e) {
      spdlog::warn("confdb: compaction failed (the log stays valid): {}", e.details);
    }
  }
  notify(out.changes);
  return out;
}

json ConfigStore::transact_or_throw(const json& ops) {
  TxnOutcome out = transact(ops);
  if (out.blocked) fail("timed out", "transaction would block");
  for (auto& r : out.result)
    if (r.is_object() && r.contains("error"))
      throw OvsdbError{r["error"].get<std::string>(), r.value("details", "")};
  return out.result;
}

void ConfigStore::notify(ChangeSet change) {
  pending_.push_back(std::move(change));
  if (notifying_) return;
  notifying_ = true;
  while (!pending_.empty()) {
    ChangeSet cs = std::move(pending_.front());
    pending_.pop_front();
    // Copy the ids: a callback may unsubscribe (itself or others).
    std::vector<size_t> ids;
    for (auto& [id, cb] : subscribers_) ids.push_back(id);
    for (size_t id : ids) {
      auto it = subscribers_.find(id);
      if (it == subscribers_.end()) continue;
      auto cb = it->second;  // keep alive if it unsubscribes itself
      cb(cs, db_);
    }
  }
  notifying_ = false;
}

size_t ConfigStore::subscribe(CommitCallback cb) {
  subscribers_[next_sub_] = std::move(cb);
  return next_sub_++;
}

void ConfigStore::unsubscribe(size_t id) { subscribers_.erase(id); }

std::optional<Uuid> ConfigStore::root_row() const {
  auto* t = schema().find_table("Open_vSwitch");
  if (!t) return std::nullopt;
  auto& rows = db_.table(schema().table_pos("Open_vSwitch"));
  if (rows.empty()) return std::nullopt;
  return rows.begin()->first;
}

Uuid ConfigStore::ensure_root_row() {
  if (auto u = root_row()) return *u;
  json r = transact_or_throw(json::array({{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", json::object()}}}));
  return *Uuid::parse(r[0]["uuid"][1].get<std::string>());
}

static int64_t root_int(const ConfigStore& s, const char* col) {
  auto u = s.root_row();
  if (!u) return 0;
  auto v = s.get("Open_vSwitch", *u, col);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}

int64_t ConfigStore::next_cfg() const { return root_int(*this, "next_cfg"); }
int64_t ConfigStore::cur_cfg() const { return root_int(*this, "cur_cfg"); }

void ConfigStore::set_cur_cfg(int64_t cfg) {
  auto u = root_row();
  if (!u || cur_cfg() == cfg) return;
  transact_or_throw(json::array({{{"op", "update"},
                                  {"table", "Open_vSwitch"},
                                  {"where", json::array({json::array({"_uuid", "==", atom_to_json(*u)})})},
                                  {"row", {{"cur_cfg", cfg}}}}}));
}

json ConfigStore::interface_row(const InterfaceState& st, bool with_ofport_error) {
  auto opt = [](const auto& v) -> json {
    if (!v) return json::array({"set", json::array()});
    return json(*v);
  };
  auto map = [](const auto& m) {
    json pairs = json::array();
    for (auto& [k, v] : m) pairs.push_back(json::array({k, v}));
    return json::array({"map", pairs});
  };
  json row = json::object();
  if (with_ofport_error) {
    row["ofport"] = opt(st.ofport);
    row["error"] = opt(st.error);
  }
  if (st.link_state) row["link_state"] = *st.link_state;
  if (st.admin_state) row["admin_state"] = *st.admin_state;
  if (st.mac_in_use) row["mac_in_use"] = *st.mac_in_use;
  if (st.mtu) row["mtu"] = *st.mtu;
  if (st.ifindex) row["ifindex"] = *st.ifindex;
  if (!st.statistics.empty()) row["statistics"] = map(st.statistics);
  if (!st.status.empty()) row["status"] = map(st.status);
  return row;
}

bool ConfigStore::set_interface_state(const std::string& name, const InterfaceState& st) {
  json row = interface_row(st);
  json r = transact_or_throw(json::array({{{"op", "update"},
                                           {"table", "Interface"},
                                           {"where", json::array({json::array({"name", "==", name})})},
                                           {"row", row}}}));
  return r[0].value("count", 0) > 0;
}

std::optional<json> ConfigStore::get(const std::string& table, const Uuid& row, const std::string& column) const {
  auto* ts = schema().find_table(table);
  if (!ts) return std::nullopt;
  auto c = ts->find_column(column);
  if (!c) return std::nullopt;
  const Row* r = db_.find_row(schema().table_pos(table), row);
  if (!r) return std::nullopt;
  return datum_to_json(r->columns[*c], ts->columns[*c].type);
}

}  // namespace dps::confdb
