// config_store.h - the daemon-facing facade of the configuration database.
//
// What: opens the Open_vSwitch database (schema file + store file), runs
//   transactions against it, makes each commit durable before reporting it,
//   tells subscribers about every committed change, and offers the write-back
//   helpers the daemon uses after reconciling (Interface.ofport / error /
//   link_state / statistics, Open_vSwitch.cur_cfg).
// Design: commit = execute on a copy -> append the durable part to the store
//   file (fdatasync) -> swap the copy in -> notify. A transaction that only
//   touches ephemeral columns (statistics, link_state, ...) is not written to
//   disk, as in ovsdb-server. Subscribers run synchronously after the swap; a
//   subscriber may itself commit (the reconciler sets cur_cfg): such nested
//   commits are queued and delivered in commit order after the current
//   notification returns, never recursively.
// Thread-safety: not thread-safe. Every call, including subscriber callbacks,
//   happens on the one thread that runs the JsonRpcServer's io_context; the
//   daemon posts to that io_context to reach the store from other threads.
#pragma once

#include "persistence.h"
#include "transaction.h"

#include <deque>
#include <functional>
#include <memory>

namespace dps::confdb {

class ConfigStore {
 public:
  using CommitCallback = std::function<void(const ChangeSet& change, const Database& now)>;

  // Loads the schema and opens (or creates) the store file. An empty
  // db_path keeps the database in memory only (tests, fuzzing).
  static std::unique_ptr<ConfigStore> open(const std::string& schema_path, const std::string& db_path);
  static std::unique_ptr<ConfigStore> open(std::shared_ptr<const DatabaseSchema> schema,
                                           const std::string& db_path);

  const Database& db() const { return db_; }
  const DatabaseSchema& schema() const { return db_.schema(); }
  size_t torn_bytes_recovered() const { return torn_bytes_; }
  const StoreFile* file() const { return file_.get(); }

  // Executes `ops` (transact params without the database name) and commits
  // on success. The outcome's `result` is the JSON-RPC reply's result.
  TxnOutcome transact(const json& ops, const TxnContext& ctx = {});
  // Convenience for the daemon and tests: transact and return the result
  // array; throws OvsdbError carrying the first error in it.
  json transact_or_throw(const json& ops);

  size_t subscribe(CommitCallback cb);
  void unsubscribe(size_t id);

  // ---- helpers for the daemon -------------------------------------------
  // The single Open_vSwitch row; created (next_cfg = cur_cfg = 0) if absent.
  Uuid ensure_root_row();
  std::optional<Uuid> root_row() const;
  int64_t next_cfg() const;
  int64_t cur_cfg() const;
  void set_cur_cfg(int64_t cfg);

  struct InterfaceState {
    std::optional<int64_t> ofport;          // set when the port is up in the datapath
    std::optional<std::string> error;       // set when it could not be added (ofport = -1)
    std::optional<std::string> link_state;  // "up" / "down"
    std::optional<std::string> admin_state;
    std::optional<std::string> mac_in_use;
    std::optional<int64_t> mtu;
    std::optional<int64_t> ifindex;          // a kernel device's (internal ports)
    std::map<std::string, int64_t> statistics;  // replaces the column when non-empty
    std::map<std::string, std::string> status;  // replaces the column when non-empty
  };
  // Writes the given fields of the Interface row named `name`. Returns false
  // when no such row exists. Fields left empty are cleared for ofport/error
  // (ofport and error are a pair) and left alone otherwise.
  bool set_interface_state(const std::string& name, const InterfaceState& st);
  // The Interface row (wire format) that writes `st`: what set_interface_state
  // updates, for callers that batch several rows into one transaction.
  // Without `with_ofport_error`, ofport and error are left out (left alone).
  static json interface_row(const InterfaceState& st, bool with_ofport_error = true);

  // Reads a column of a row as JSON (wire format); nullopt if absent.
  std::optional<json> get(const std::string& table, const Uuid& row, const std::string& column) const;

 private:
  ConfigStore(std::shared_ptr<const DatabaseSchema> schema) : db_(std::move(schema)) {}
  void notify(ChangeSet change);
  json durable_record(const ChangeSet& cs) const;

  Database db_;
  std::unique_ptr<StoreFile> file_;
  size_t torn_bytes_ = 0;
  std::map<size_t, CommitCallback> subscribers_;
  size_t next_sub_ = 1;
  bool notifying_ = false;
  std::deque<ChangeSet> pending_;
};

}  // namespace dps::confdb
