// database.h - the in-memory contents of one RFC 7047 database.
//
// What: every table's rows (uuid -> Row), plus the commit-time rules that make
//   a state legal: referential integrity of strong references, silent removal
//   of dangling weak references, garbage collection of non-root rows nothing
//   strongly references, unique indexes, maxRows and element counts.
// Design: a Database is a value. A transaction works on a copy and replaces
//   the committed one only when every operation and every commit-time check
//   has passed, so a failed transaction leaves no trace (all-or-nothing). A
//   configuration database holds hundreds of rows, so the copy costs
//   microseconds; nothing on the datapath waits for it.
// Thread-safety: a value type; the owner (ConfigStore) confines it to the
//   thread that runs its io_context.
#pragma once

#include "schema.h"

#include <map>
#include <memory>
#include <set>
#include <utility>

namespace dps::confdb {

struct Row {
  Uuid uuid;
  Uuid version;
  std::vector<Datum> columns;  // in TableSchema::columns order
  bool operator==(const Row&) const = default;
};

using Table = std::map<Uuid, Row>;

// One row's fate in a committed transaction. old_row empty = inserted,
// new_row empty = deleted.
struct RowChange {
  size_t table = 0;
  Uuid uuid;
  std::optional<Row> old_row;
  std::optional<Row> new_row;
};

struct ChangeSet {
  std::vector<RowChange> rows;
  std::string comment;
  bool durable_change = false;  // touches a non-ephemeral column
  bool empty() const { return rows.empty(); }
};

class Database {
 public:
  explicit Database(std::shared_ptr<const DatabaseSchema> schema);

  const DatabaseSchema& schema() const { return *schema_; }
  const std::shared_ptr<const DatabaseSchema>& schema_ptr() const { return schema_; }
  Table& table(size_t i) { return tables_[i]; }
  const Table& table(size_t i) const { return tables_[i]; }
  size_t n_tables() const { return tables_.size(); }
  const Row* find_row(size_t table, const Uuid& uuid) const;
  Row* find_row(size_t table, const Uuid& uuid);
  Row new_row(size_t table, const Uuid& uuid) const;  // every column at its default

  // Commit-time fix-ups and checks (see file comment). Rows it deletes or
  // edits are added to `touched`. Throws OvsdbError on a violation.
  void finalize(std::set<std::pair<size_t, Uuid>>& touched);

  // Row/column <-> JSON.
  json row_to_json(size_t table, const Row& row, const std::vector<std::string>* columns,
                   bool skip_defaults = false, bool durable_only = false) const;
  // The whole database: {"Table": {"uuid": {col: datum}}}, durable columns only.
  json snapshot_json() const;
  void load_snapshot_json(const json& j);
  // Applies one durable log record {"Table": {"uuid": row-or-null}}.
  void apply_record_json(const json& j);

  // Diff of two states restricted to `touched` rows.
  ChangeSet diff(const Database& before, const std::set<std::pair<size_t, Uuid>>& touched) const;

 private:
  // finalize()'s stages. collect_garbage() returns true when it removed a row.
  void drop_dangling_weak_refs(std::set<std::pair<size_t, Uuid>>& touched);
  bool collect_garbage(std::set<std::pair<size_t, Uuid>>& touched);
  void check_strong_refs() const;
  void check_row_counts(size_t table, const std::set<std::pair<size_t, Uuid>>& touched) const;
  void check_indexes(size_t table) const;

  std::shared_ptr<const DatabaseSchema> schema_;
  std::vector<Table> tables_;
};

}  // namespace dps::confdb
