#include "bond_show.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "ofproto.h"

namespace dps::daemon {
namespace {

using nlohmann::json;
using ofproto::Bond;
using ofproto::BondMember;
using ofproto::Lacp;
using ofproto::LacpInfo;
using ofproto::Ofproto;

// Calls f(bridge name, ofproto, bond runtime) for every bond (named only,
// when given); throws when only names none.
template <class F>
void each_bond(const BridgeList& bridges, const std::string& only, F f) {
  std::string names;
  bool found = false;
  for (const auto& [br, ofp] : bridges)
    for (const auto& [of_port, rt] : ofp->bonds()) {
      names += (names.empty() ? "" : ", ") + rt.bond->name();
      if (!only.empty() && rt.bond->name() != only) continue;
      found = true;
      f(br, *ofp, rt);
    }
  if (!only.empty() && !found)
    throw std::invalid_argument("no bond named " + only + " (bonds: " + (names.empty() ? "none" : names) + ")");
}

// Why a member carries no traffic (empty when it does).
std::string disabled_reason(const BondMember& m) {
  if (m.enabled) return "";
  if (!m.admin_enabled) return "disabled by bond/disable-member";
  if (m.delay_until >= 0) return m.carrier ? "waiting for updelay" : "waiting for downdelay";
  if (!m.carrier) return "no carrier";
  if (!m.lacp_ok) return "LACP: not attached or partner not in sync";
  return "";
}

json member_json(const Ofproto::BondRt& rt, const BondMember& m, const std::vector<uint64_t>& tx, int64_t now) {
  json j = {{"member", m.name},      {"dp_port", m.dp_port},          {"enabled", m.enabled},
            {"carrier", m.carrier},  {"admin_enabled", m.admin_enabled}, {"lacp_ok", m.lacp_ok},
            {"active", rt.bond->active() == m.dp_port && m.dp_port != 0},
            {"enabled_changes", m.enabled_changes}};
  if (std::string why = disabled_reason(m); !why.empty()) j["reason"] = why;
  if (m.delay_until >= 0) {
    j["delay"] = m.carrier ? "updelay" : "downdelay";
    j["delay_expires_ms"] = std::max<int64_t>(0, m.delay_until - now);
  }
  json hashes = json::array();
  unsigned n = 0;
  uint64_t total = 0, load = 0;
  const auto& buckets = rt.bond->buckets();
  for (unsigned b = 0; b < buckets.size(); b++) {
    if (buckets[b] != m.dp_port) continue;
    n++;
    const uint64_t t = b < tx.size() ? tx[b] : 0;
    const uint64_t l = t - (b < rt.tx_at_rebalance.size() ? std::min(t, rt.tx_at_rebalance[b]) : 0);
    total += t;
    load += l;
    if (t) hashes.push_back({{"hash", b}, {"tx_packets", t}, {"load_packets", l}});
  }
  j["buckets"] = n;
  j["tx_packets"] = total;
  j["load_packets"] = load;
  j["hashes"] = std::move(hashes);
  return j;
}

json bond_json(const std::string& br, const Ofproto& ofp, const Ofproto::BondRt& rt) {
  const Bond& b = *rt.bond;
  const auto& c = b.config();
  const int64_t now = ofp.now_ms();
  const bool rebalancing = c.rebalance_ms > 0 && b.mode() != ofproto::BondMode::kActiveBackup;
  const BondMember* act = b.member(b.active());
  json j = {{"bridge", br},
            {"bond", b.name()},
            {"bond_mode", ofproto::bond_mode_name(b.mode())},
            {"configured_mode", ofproto::bond_mode_name(c.mode)},
            {"lacp", ofproto::lacp_mode_name(c.lacp)},
            {"lacp_status", c.lacp == ofproto::LacpMode::kOff ? "off" : b.lacp_negotiated() ? "negotiated" : "configured"},
            {"lacp_fallback_ab", c.fallback_ab},
            {"updelay_ms", c.updelay_ms},
            {"downdelay_ms", c.downdelay_ms},
            {"rebalance_interval_ms", c.rebalance_ms},
            {"next_rebalance_ms", rebalancing ? json(std::max<int64_t>(0, rt.next_rebalance_ms - now)) : json()},
            {"active_member", act ? json(act->name) : json()},
            {"datapath_bond_id", b.dp_id()},
            {"carrier_changes", rt.carrier_changes},
            {"rebalanced_buckets", rt.rebalanced_buckets},
            {"learning_packets", rt.learning_packets}};
  const std::vector<uint64_t> tx = ofp.bond_bucket_tx(b);
  json members = json::array();
  for (const auto& [no, m] : b.members()) members.push_back(member_json(rt, m, tx, now));
  j["members"] = std::move(members);
  return j;
}

std::string mac_text(const std::array<uint8_t, 6>& m) {
  char s[18];
  snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return s;
}

json info_json(const LacpInfo& i) {
  return {{"sys_id", mac_text(i.sys_id)}, {"sys_priority", i.sys_priority}, {"port_id", i.port},
          {"port_priority", i.port_priority}, {"key", i.key}, {"state", ofproto::lacp_state_text(i.state)},
          {"state_bits", i.state}};
}

json lacp_json(const std::string& br, const Ofproto::BondRt& rt) {
  const Lacp& l = *rt.lacp;
  const auto& s = l.settings();
  json j = {{"bridge", br},
            {"bond", rt.bond->name()},
            {"status", std::string(s.active ? "active" : "passive") + (l.negotiated() ? " negotiated" : "")},
            {"negotiated", l.negotiated()},
            {"sys_id", mac_text(s.sys_id)},
            {"sys_priority", s.sys_priority},
            {"aggregation_key", s.key},
            {"lacp_time", s.fast ? "fast" : "slow"},
            {"lacp_fallback_ab", s.fallback_ab}};
  json members = json::array();
  for (const auto& [id, m] : l.members()) {
    const BondMember* bm = rt.bond->member(id);
    const LacpInfo actor = l.actor_info(id);
    members.push_back({{"member", bm ? bm->name : std::to_string(id)},
                       {"dp_port", id},
                       {"status", ofproto::lacp_rx_status_name(m.status)},
                       {"attached", m.attached},
                       {"may_enable", l.may_enable(id)},
                       {"port_id", actor.port},
                       {"port_priority", actor.port_priority},
                       {"actor", info_json(actor)},
                       {"partner", info_json(m.partner)},
                       {"rx_pdus", m.rx_pdus},
                       {"tx_pdus", m.tx_pdus},
                       {"rx_bad_pdus", m.rx_bad},
                       {"link_expired", m.expired},
                       {"link_defaulted", m.defaulted}});
  }
  j["members"] = std::move(members);
  j["rx_ignored"] = rt.lacp_rx_ignored;
  return j;
}

}  // namespace

BridgeList bridge_list(const ofproto::BridgeSet& bridges) {
  BridgeList out;
  for (const auto& [name, ofp] : bridges.all()) out.emplace_back(name, ofp.get());
  return out;
}

json bond_show_json(const BridgeList& bridges, const std::string& only) {
  json out = json::array();
  each_bond(bridges, only, [&](const std::string& br, const Ofproto& ofp, const Ofproto::BondRt& rt) {
    out.push_back(bond_json(br, ofp, rt));
  });
  return out;
}

json lacp_show_json(const BridgeList& bridges, const std::string& only) {
  json out = json::array();
  bool lacp_named = false;
  each_bond(bridges, only, [&](const std::string& br, const Ofproto&, const Ofproto::BondRt& rt) {
    if (!rt.lacp) return;
    lacp_named = true;
    out.push_back(lacp_json(br, rt));
  });
  if (!only.empty() && !lacp_named) throw std::invalid_argument("bond " + only + " does not run LACP (lacp=off)");
  return out;
}

}  // namespace dps::daemon
