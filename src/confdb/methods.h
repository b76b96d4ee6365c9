// methods.h - the table of JSON-RPC database methods (RFC 7047 §4.1).
//
// What: one row per method: its name on the wire, the handler, a one-line
//   doc (docs/jsonrpc.md repeats it) and whether it can change the database.
// Design: a static table, like BESS's command tables and VPP's CLI
//   registrations, so the full protocol surface reads in one place; runtime
//   (appctl-like) methods are registered by the daemon at run time instead
//   (JsonRpcServer::add_method).
// Thread-safety: immutable.
#pragma once

#include "jsonrpc_server.h"

namespace dps::confdb {

struct MethodDef {
  const char* name;
  void (JsonRpcServer::*handler)(const std::shared_ptr<Peer>&, const json& id, const json& params);
  const char* doc;
  bool mutates;
};

struct MethodTable {
  static const std::vector<MethodDef>& db_methods();
  static const MethodDef* find(std::string_view name);
};

}  // namespace dps::confdb
