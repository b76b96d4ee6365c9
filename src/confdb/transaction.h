// transaction.h - executes one RFC 7047 §5.2 "transact" request.
//
// What: insert (uuid-name / named-uuid, also forward references), select,
//   update, mutate, delete, wait, commit, abort, comment and assert against a
//   committed Database, producing the reply's result array and, when every
//   operation and the commit-time checks pass, the new Database and the
//   ChangeSet that leads to it.
// Design: the executor works on a copy of the database; the caller swaps it in
//   only on success, so a failed transaction changes nothing. A "wait" whose
//   condition is unmet with a timeout > 0 does not fail: the outcome says
//   `blocked` and the caller runs the same request again after the next commit
//   (or fails it with "timed out" once its deadline passes), as ovsdb-server's
//   triggers do. Errors follow the RFC: results up to the failing operation,
//   its error object, then nulls; a commit-time failure is one extra element.
// Thread-safety: a pure function of its inputs.
#pragma once

#include "database.h"

#include <chrono>
#include <functional>

namespace dps::confdb {

struct TxnContext {
  // True when the calling session owns `lock` (for "assert").
  std::function<bool(const std::string& lock)> owns_lock;
  // Time since the request first ran (waits with a timeout are measured from it).
  std::chrono::milliseconds elapsed{0};
};

struct TxnOutcome {
  json result = json::array();  // the "result" of the JSON-RPC reply
  bool ok = false;              // every operation succeeded (may have changes)
  bool blocked = false;         // unmet wait with time left: run again later
  std::optional<std::chrono::milliseconds> retry_within;  // when blocked with a timeout
  bool durable = false;         // a "commit" op asked for durability
  std::optional<Database> new_db;  // set when ok and something changed
  ChangeSet changes;
};

// `ops` is the params array without the leading database name.
TxnOutcome execute_transaction(const Database& db, const json& ops, const TxnContext& ctx);

}  // namespace dps::confdb
