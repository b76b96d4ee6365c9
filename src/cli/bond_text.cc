#include "bond_text.h"

#include <sstream>

namespace dps::cli {
namespace {

using nlohmann::json;

// j[key] as text: strings bare, null as "<none>", absent as "?".
std::string val(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "?";
  const json& v = j[key];
  if (v.is_null()) return "<none>";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

bool flag(const json& j, const char* key) { return j.is_object() && j.value(key, false); }

void bond_member(std::ostringstream& o, const json& m) {
  o << "\nmember " << val(m, "member") << ": " << (flag(m, "enabled") ? "enabled" : "disabled") << "\n";
  if (flag(m, "active")) o << "  active member\n";
  o << "  may_enable: " << (flag(m, "lacp_ok") && flag(m, "carrier") ? "true" : "false") << "\n";
  o << "  carrier: " << (flag(m, "carrier") ? "up" : "down") << "\n";
  if (m.contains("reason")) o << "  reason: " << val(m, "reason") << "\n";
  if (m.contains("delay")) o << "  " << val(m, "delay") << " expires in " << val(m, "delay_expires_ms") << " ms\n";
  o << "  buckets: " << val(m, "buckets") << ", tx " << val(m, "tx_packets") << " packets, load "
    << val(m, "load_packets") << " packets\n";
  if (m.contains("hashes") && m["hashes"].is_array())
    for (const json& h : m["hashes"])
      o << "  hash " << val(h, "hash") << ": " << val(h, "load_packets") << " packets load (" << val(h, "tx_packets")
        << " total)\n";
}

void lacp_info(std::ostringstream& o, const char* who, const json& i) {
  o << "  " << who << " sys_id: " << val(i, "sys_id") << "\n"
    << "  " << who << " sys_priority: " << val(i, "sys_priority") << "\n"
    << "  " << who << " port_id: " << val(i, "port_id") << "\n"
    << "  " << who << " port_priority: " << val(i, "port_priority") << "\n"
    << "  " << who << " key: " << val(i, "key") << "\n"
    << "  " << who << " state: " << val(i, "state") << "\n";
}

}  // namespace

std::string bond_show_text(const json& bonds) {
  std::ostringstream o;
  for (const json& b : bonds) {
    o << "---- " << val(b, "bond") << " ----\n"
      << "bridge: " << val(b, "bridge") << "\n"
      << "bond_mode: " << val(b, "bond_mode");
    if (val(b, "bond_mode") != val(b, "configured_mode")) o << " (configured " << val(b, "configured_mode") << ")";
    o << "\nupdelay: " << val(b, "updelay_ms") << " ms\n"
      << "downdelay: " << val(b, "downdelay_ms") << " ms\n";
    if (b.contains("next_rebalance_ms") && !b["next_rebalance_ms"].is_null())
      o << "next rebalance: " << val(b, "next_rebalance_ms") << " ms\n";
    o << "lacp_status: " << val(b, "lacp_status") << "\n"
      << "lacp_fallback_ab: " << val(b, "lacp_fallback_ab") << "\n"
      << "active member: " << val(b, "active_member") << "\n"
      << "carrier changes: " << val(b, "carrier_changes") << ", rebalanced buckets: " << val(b, "rebalanced_buckets")
      << ", learning packets: " << val(b, "learning_packets") << "\n";
    if (b.contains("members") && b["members"].is_array())
      for (const json& m : b["members"]) bond_member(o, m);
    o << "\n";
  }
  return o.str();
}

std::string lacp_show_text(const json& bonds) {
  std::ostringstream o;
  for (const json& b : bonds) {
    o << "---- " << val(b, "bond") << " ----\n"
      << "  status: " << val(b, "status") << "\n"
      << "  sys_id: " << val(b, "sys_id") << "\n"
      << "  sys_priority: " << val(b, "sys_priority") << "\n"
      << "  aggregation key: " << val(b, "aggregation_key") << "\n"
      << "  lacp_time: " << val(b, "lacp_time") << "\n";
    if (!b.contains("members") || !b["members"].is_array()) continue;
    for (const json& m : b["members"]) {
      o << "\nmember: " << val(m, "member") << ": " << val(m, "status") << (flag(m, "attached") ? " attached" : " detached")
        << "\n"
        << "  port_id: " << val(m, "port_id") << "\n"
        << "  port_priority: " << val(m, "port_priority") << "\n"
        << "  may_enable: " << val(m, "may_enable") << "\n\n";
      lacp_info(o, "actor", m.value("actor", json::object()));
      o << "\n";
      lacp_info(o, "partner", m.value("partner", json::object()));
      o << "\n  TX PDUs: " << val(m, "tx_pdus") << "\n"
        << "  RX PDUs: " << val(m, "rx_pdus") << "\n"
        << "  RX Bad PDUs: " << val(m, "rx_bad_pdus") << "\n"
        << "  Link Expired: " << val(m, "link_expired") << "\n"
        << "  Link Defaulted: " << val(m, "link_defaulted") << "\n";
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace dps::cli
