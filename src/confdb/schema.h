// schema.h - an RFC 7047 database schema (§3.2), parsed and checked.
//
// What: tables, their typed columns (mutable/ephemeral flags), root/non-root
//   flags, maxRows and indexes, for one database. The store validates every
//   value a client writes against it; get_schema returns it as JSON.
// Design: columns of a table are kept in a vector in schema order; the two
//   implicit columns _uuid and _version are not in it (rows carry them as
//   fields), but column_type() knows their types for conditions and selects.
//   If no table is marked isRoot every table is a root (RFC 7047 §3.2).
// Thread-safety: immutable after load; share freely.
#pragma once

#include "types.h"

#include <map>
#include <string>
#include <vector>

namespace dps::confdb {

struct ColumnSchema {
  std::string name;
  Type type;
  bool is_mutable = true;
  bool ephemeral = false;
};

struct TableSchema {
  std::string name;
  std::vector<ColumnSchema> columns;
  std::map<std::string, size_t, std::less<>> column_index;
  bool is_root = false;
  uint64_t max_rows = kUnlimited;
  std::vector<std::vector<size_t>> indexes;  // column positions of each unique index

  // Position in `columns`, or nullopt (also for _uuid / _version).
  std::optional<size_t> find_column(std::string_view name) const;
  // Type of any column including _uuid and _version; throws "unknown column".
  const Type& column_type(std::string_view name) const;
};

struct DatabaseSchema {
  std::string name;
  std::string version;
  std::string cksum;
  std::vector<TableSchema> tables;
  std::map<std::string, size_t, std::less<>> table_index;
  json raw;  // as loaded, for get_schema

  static DatabaseSchema from_json(const json& j);
  static DatabaseSchema load_file(const std::string& path);
  const TableSchema* find_table(std::string_view name) const;
  // Throws OvsdbError("unknown table") naming the table.
  const TableSchema& table(std::string_view name) const;
  size_t table_pos(std::string_view name) const;
};

// The implicit column types.
const Type& uuid_column_type();

}  // namespace dps::confdb
