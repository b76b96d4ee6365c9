// runtime_methods.h - the daemon's runtime (appctl-style) JSON-RPC methods:
// one table of name, parameter doc, mutates flag and handler.
//
// What: dpif/pmd-stats-show, dpif/pmd-stats-total, dpif/pmd-stats-clear,
//   dpif/flow-count, dpif/pmd-rxq-show, dpif/pmd-rxq-rebalance,
//   dpif/dump-flows, dpif/add-flow, dpif/del-flow, ofproto/trace, fdb/show,
//   ofproto/dump-flows, ofproto/add-flows, ofproto/del-flows,
//   ofproto/list-bridges, netdev/port-stats, netdev/port-xstats (the
//   bridge methods find the bridge by name among the daemon's bridges),
//   tnl/route-add, tnl/route-del, tnl/route-show, tnl/neigh-show,
//   tnl/neigh-flush, tnl/neigh-set, tnl/ports-show, tnl/stats-show (the
//   backer's TunnelContext; ovs-appctl's tnl/* and ovs-router/*) (names from docs/jsonrpc.md;
//   version, vlog/set and list-commands are confdb built-ins).
// Design: every handler here runs on the control (ofproto) thread, because
//   it reads or changes the Datapath / Ofproto, which only that thread may
//   touch. ConfigDaemon registers each one with the JSON-RPC server as an
//   async method: the RPC thread posts the call to the ControlQueue, the
//   control loop runs it, and the answer is posted back to the RPC
//   io_context, which sends the reply. A handler throws
//   confdb::RpcError{json} or std::invalid_argument (the message is the
//   error reply) for bad parameters.
// Thread-safety: handlers: control thread only. The table is constant.
#pragma once

#include <nlohmann/json.hpp>

#include <span>

#include "../datapath/datapath.h"

namespace dps::ofproto {
class BridgeSet;
}

namespace dps::daemon {

class Reconciler;
class SamplingAgents;

// Debug datapath flows (dpif/add-flow) get ufids from here: above the
// config file's static flows (1, 2, ...) and below the miss path's (2^40).
inline constexpr uint64_t kDebugFlowUfidBase = uint64_t{1} << 32;

struct RuntimeTargets {
  datapath::Datapath& dp;
  ofproto::BridgeSet* bridges;  // null: no OpenFlow bridge (trace / fdb fail)
  Reconciler& rec;
  SamplingAgents* sampling = nullptr;  // the control loop's sFlow / IPFIX agents, while it runs
  uint64_t next_debug_ufid = kDebugFlowUfidBase;
};

struct RuntimeMethodDef {
  const char* name;
  const char* doc;   // "[params] -> result: what it does"
  bool mutates;      // changes datapath state
  nlohmann::json (*handler)(RuntimeTargets& t, const nlohmann::json& params);
};

std::span<const RuntimeMethodDef> runtime_methods();

}  // namespace dps::daemon
