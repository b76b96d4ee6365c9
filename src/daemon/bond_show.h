// bond_show.h - dpsctl bond/show and lacp/show: the bonds of every bridge as
// JSON (dpsctl renders them as ovs-appctl bond/show and lacp/show do).
//
// What: bond_show_json(): per bond its mode, LACP status, delays, the next
// rebalance, the active member and per member: enabled or not and why
// (carrier, admin, LACP), a pending up/down delay, its hash buckets and
// each bucket's packets (total and since the last rebalance: the load).
// lacp_show_json(): per bond with LACP our system (id, priority, key,
// rate), and per member its receive status, attachment, actor and partner
// information (system id, priority, key, port, state bits) and counters
// (LACPDUs received / sent / malformed, expiries, defaults).
//
// Design: read-only views over Ofproto::bonds() and the datapath's bucket
// counters; `only` picks one bond by port name (an unknown name is an
// error that lists the bonds there are).
//
// Thread-safety: control thread (the runtime method handlers' thread).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dps::ofproto {
class BridgeSet;
class Ofproto;
}

namespace dps::daemon {

using BridgeList = std::vector<std::pair<std::string, const ofproto::Ofproto*>>;

// Every bridge of the set, by name.
BridgeList bridge_list(const ofproto::BridgeSet& bridges);

// Throws std::invalid_argument when `only` names no bond.
nlohmann::json bond_show_json(const BridgeList& bridges, const std::string& only);
nlohmann::json lacp_show_json(const BridgeList& bridges, const std::string& only);

}  // namespace dps::daemon
