#include "methods.h"

#include <algorithm>

namespace dps::confdb {

// name, handler, doc, mutates
const std::vector<MethodDef>& MethodTable::db_methods() {
  static const std::vector<MethodDef> kMethods = {
      {"list_dbs", &JsonRpcServer::m_list_dbs,
       "[] -> [db-name]: the databases served (only Open_vSwitch)", false},
      {"get_schema", &JsonRpcServer::m_get_schema,
       "[db-name] -> schema: the RFC 7047 schema of the database", false},
      {"transact", &JsonRpcServer::m_transact,
       "[db-name, op...] -> [result...]: run operations atomically; replies after the commit is on disk", true},
      {"cancel", &JsonRpcServer::m_cancel,
       "notification [request-id]: abort a transact blocked in a wait (it gets error \"canceled\")", false},
      {"monitor", &JsonRpcServer::m_monitor,
       "[db-name, monitor-id, {table: request}] -> table-updates; then \"update\" notifications", false},
      {"monitor_cancel", &JsonRpcServer::m_monitor_cancel,
       "[monitor-id] -> {}: stop a monitor", false},
      {"lock", &JsonRpcServer::m_lock,
       "[lock-name] -> {\"locked\": bool}; \"locked\" notification when acquired later", false},
      {"steal", &JsonRpcServer::m_steal,
       "[lock-name] -> {\"locked\": true}; the previous owner gets \"stolen\"", false},
      {"unlock", &JsonRpcServer::m_unlock,
       "[lock-name] -> {}: release or stop waiting for a lock", false},
      {"echo", &JsonRpcServer::m_echo,
       "[any...] -> the same params (liveness probe)", false},
  };
  return kMethods;
}

const MethodDef* MethodTable::find(std::string_view name) {
  for (auto& m : db_methods())
    if (name == m.name) return &m;
  return nullptr;
}

namespace {

json syntax_error(const std::string& details) { return OvsdbError{"syntax error", details}.to_json(); }

}  // namespace

bool JsonRpcServer::check_db(Peer& p, const json& id, const json& params, size_t min_params) {
  if (params.size() < min_params || !params[0].is_string()) {
    p.send(rpc_error(id, syntax_error("params must start with the database name")));
    return false;
  }
  if (params[0] != store_.schema().name) {
    p.send(rpc_error(id, OvsdbError{"unknown database", "no database named " + params[0].get<std::string>()}.to_json()));
    return false;
  }
  return true;
}

void JsonRpcServer::m_list_dbs(const std::shared_ptr<Peer>& p, const json& id, const json&) {
  p->send(rpc_reply(id, json::array({store_.schema().name})));
}

void JsonRpcServer::m_get_schema(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (!check_db(*p, id, params, 1)) return;
  p->send(rpc_reply(id, store_.schema().raw));
}

void JsonRpcServer::m_transact(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (!check_db(*p, id, params, 1)) return;
  start_transaction(p, id, json(params.begin() + 1, params.end()));
}

void JsonRpcServer::m_cancel(const std::shared_ptr<Peer>& p, const json&, const json& params) {
  if (params.size() != 1) return;  // a notification: nothing to answer
  cancel_pending(*p, params[0]);
}

void JsonRpcServer::m_monitor(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (!check_db(*p, id, params, 3)) return;
  if (params.size() != 3 || !params[2].is_object()) {
    p->send(rpc_error(id, syntax_error("monitor params must be [db-name, monitor-id, {table: request}]")));
    return;
  }
  std::string key = params[1].dump();
  if (p->monitors.count(key)) {
    p->send(rpc_error(id, OvsdbError{"duplicate monitor ID", "monitor " + key + " already exists"}.to_json()));
    return;
  }
  const auto& schema = store_.schema();
  Monitor mon;
  mon.id = params[1];
  try {
    for (auto& [tname, req] : params[2].items()) {
      MonitorTable mt;
      mt.table = schema.table_pos(tname);
      auto& ts = schema.tables[mt.table];
      mt.initial = mt.insert = mt.remove = mt.modify = false;
      std::set<size_t> cols;
      bool all_columns = false;
      json reqs = req.is_array() ? req : json::array({req});
      for (auto& r : reqs) {
        if (!r.is_object()) fail("syntax error", "monitor request for " + tname + " must be an object");
        if (auto c = r.find("columns"); c != r.end()) {
          if (!c->is_array()) fail("syntax error", "\"columns\" for " + tname + " must be an array");
          for (auto& cn : *c) {
            if (!cn.is_string()) fail("syntax error", "column names must be strings");
            auto pos = ts.find_column(cn.get<std::string>());
            if (!pos) {
              if (cn == "_uuid" || cn == "_version") continue;
              fail("unknown column", "table " + tname + " has no column named " + cn.get<std::string>());
            }
            cols.insert(*pos);
          }
        } else {
          all_columns = true;
        }
        json sel = r.value("select", json::object());
        if (!sel.is_object()) fail("syntax error", "\"select\" for " + tname + " must be an object");
        auto flag = [&](const char* n) {
          auto it = sel.find(n);
          if (it == sel.end()) return true;
          if (!it->is_boolean()) fail("syntax error", std::string("\"") + n + "\" must be a boolean");
          return it->get<bool>();
        };
        mt.initial |= flag("initial");
        mt.insert |= flag("insert");
        mt.remove |= flag("delete");
        mt.modify |= flag("modify");
      }
      if (all_columns)
        for (size_t c = 0; c < ts.columns.size(); ++c) cols.insert(c);
      mt.columns.assign(cols.begin(), cols.end());
      mon.tables.push_back(std::move(mt));
    }
  } catch (const OvsdbError& e) {
    p->send(rpc_error(id, e.to_json()));
    return;
  }
  // Initial contents.
  json initial = json::object();
  const Database& db = store_.db();
  for (auto& mt : mon.tables) {
    if (!mt.initial) continue;
    json tj = json::object();
    for (auto& [uuid, row] : db.table(mt.table)) {
      json r = json::object();
      for (size_t c : mt.columns)
        r[schema.tables[mt.table].columns[c].name] =
            datum_to_json(row.columns[c], schema.tables[mt.table].columns[c].type);
      tj[uuid.to_string()] = {{"new", r}};
    }
    if (!tj.empty()) initial[schema.tables[mt.table].name] = std::move(tj);
  }
  p->monitors.emplace(key, std::move(mon));
  p->send(rpc_reply(id, initial));
}

void JsonRpcServer::m_monitor_cancel(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (params.size() != 1) {
    p->send(rpc_error(id, syntax_error("monitor_cancel params must be [monitor-id]")));
    return;
  }
  if (!p->monitors.erase(params[0].dump())) {
    p->send(rpc_error(id, OvsdbError{"unknown monitor", "no monitor " + params[0].dump()}.to_json()));
    return;
  }
  p->send(rpc_reply(id, json::object()));
}

static bool lock_params_ok(Peer& p, const json& id, const json& params) {
  if (params.size() == 1 && params[0].is_string()) return true;
  p.send(rpc_error(id, syntax_error("params must be [lock-name]")));
  return false;
}

void JsonRpcServer::m_lock(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (!lock_params_ok(*p, id, params)) return;
  auto& q = locks_[params[0].get<std::string>()];
  if (std::find(q.begin(), q.end(), p.get()) != q.end()) {
    p->send(rpc_error(id, OvsdbError{"duplicate lock", "lock " + params[0].dump() + " already requested"}.to_json()));
    return;
  }
  q.push_back(p.get());
  p->send(rpc_reply(id, {{"locked", q.front() == p.get()}}));
}

void JsonRpcServer::m_steal(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (!lock_params_ok(*p, id, params)) return;
  auto& q = locks_[params[0].get<std::string>()];
  Peer* victim = q.empty() ? nullptr : q.front();
  q.erase(std::remove(q.begin(), q.end(), p.get()), q.end());
  q.push_front(p.get());
  p->send(rpc_reply(id, {{"locked", true}}));
  if (victim && victim != p.get()) {
    // The victim stays queued, behind the thief: it gets "locked" again when
    // the thief lets go.
    victim->send(rpc_notify("stolen", json::array({params[0]})));
  }
}

void JsonRpcServer::m_unlock(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  if (!lock_params_ok(*p, id, params)) return;
  auto it = locks_.find(params[0].get<std::string>());
  if (it != locks_.end()) {
    auto& q = it->second;
    bool was_owner = !q.empty() && q.front() == p.get();
    q.erase(std::remove(q.begin(), q.end(), p.get()), q.end());
    if (was_owner && !q.empty()) q.front()->send(rpc_notify("locked", json::array({params[0]})));
    if (q.empty()) locks_.erase(it);
  }
  p->send(rpc_reply(id, json::object()));
}

void JsonRpcServer::m_echo(const std::shared_ptr<Peer>& p, const json& id, const json& params) {
  p->send(rpc_reply(id, params));
}

}  // namespace dps::confdb
