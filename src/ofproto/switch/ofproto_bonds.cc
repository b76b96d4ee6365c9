// Ofproto's bonds (ofproto.h "Bonds"): the control-thread side of
// bonding.h and lacp.h. Each round (run_bonds): carrier readings of the
// members every kCarrierPollMs (the netdev's link state, which for
// af_packet and tap ports is the kernel interface's), up/down delays, LACP
// timers and transmission, balance rebalancing; whatever changed the
// bucket table is published to the PMDs (Datapath::set_bond: the next
// packet uses it, no megaflow changes), whatever changed the receive
// policy re-translates the megaflows.
#include <rte_mbuf.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "datapath.h"
#include "ofproto.h"

namespace dps::ofproto {
namespace {

// A carrier reading costs a syscall or an ethdev call per member: every
// 5 ms keeps failover well under the 100 ms goal for nothing measurable.
constexpr int64_t kCarrierPollMs = 5;

std::array<uint8_t, 6> port_mac(const datapath::Datapath* dp, uint32_t dp_port) {
  std::array<uint8_t, 6> mac{};
  if (const netdev::Netdev* nd = dp ? dp->port(dp_port) : nullptr)
    if (auto hw = nd->info().hw_addr) mac = *hw;
  return mac;
}

}  // namespace

void Ofproto::release_port(uint32_t of_port) {
  auto it = bridge_.ports.find(of_port);
  if (it == bridge_.ports.end()) return;
  for (uint32_t d : it->second.dp_ports()) backer_->unmap_port(d, *this);
  if (auto b = bonds_.find(of_port); b != bonds_.end()) {
    backer_->dp().del_bond(b->second.bond->dp_id());
    backer_->free_bond_id(b->second.bond->dp_id());
    bonds_.erase(b);
  }
}

bool Ofproto::member_link_up(uint32_t dp_port) const {
  if (!real_dp_) return true;
  const netdev::Netdev* nd = real_dp_->port(dp_port);
  return nd && nd->admin_up() && nd->link_up();
}

std::string Ofproto::set_bond(uint32_t of_port, const std::string& name, const BondConfig& cfg,
                              const std::vector<std::pair<std::string, uint32_t>>& members) {
  const int64_t now = now_ms();
  auto it = bonds_.find(of_port);
  BondChange ch;
  if (it == bonds_.end()) {
    int id = backer_->alloc_bond_id();
    if (id < 0) return "bond " + name + ": all " + std::to_string(datapath::kMaxBonds) + " datapath bonds are in use";
    release_port(of_port);
    BondRt rt;
    rt.bond = std::make_shared<Bond>(name, static_cast<uint32_t>(id), cfg);
    it = bonds_.emplace(of_port, std::move(rt)).first;
    BridgePort p;
    p.of_port = of_port;
    p.name = name;
    p.bond = it->second.bond;
    bridge_.add_port(p);
    ch.buckets = ch.rx = true;
  }
  BondRt& rt = it->second;
  const std::vector<uint32_t> before = bridge_.ports.at(of_port).dp_ports();
  ch |= rt.bond->set_config(cfg, now);
  ch |= rt.bond->set_members(members, now);
  for (const auto& [mname, dp] : members) ch |= rt.bond->carrier(dp, member_link_up(dp), now);
  for (uint32_t d : before)
    if (!rt.bond->member(d)) backer_->unmap_port(d, *this);
  BridgePort& bp = bridge_.ports.at(of_port);
  bp.name = name;
  bp.dp_port = members.empty() ? 0 : rt.bond->members().begin()->first;
  bridge_.remap(of_port);
  for (uint32_t d : bp.dp_ports()) backer_->map_port(d, *this);
  configure_lacp(of_port, rt);
  ch |= lacp_verdicts(rt, now);
  publish(of_port, rt, ch);
  return "";
}

void Ofproto::bond_drop_member(uint32_t of_port, uint32_t dp_port) {
  auto it = bonds_.find(of_port);
  if (it == bonds_.end() || !it->second.bond->member(dp_port)) return;
  std::vector<std::pair<std::string, uint32_t>> rest;
  for (const auto& [no, m] : it->second.bond->members())
    if (no != dp_port) rest.emplace_back(m.name, no);
  set_bond(of_port, it->second.bond->name(), it->second.bond->config(), rest);
}

void Ofproto::configure_lacp(uint32_t of_port, BondRt& rt) {
  const BondConfig& c = rt.bond->config();
  if (c.lacp == LacpMode::kOff) {
    rt.lacp.reset();
    return;
  }
  if (!rt.lacp) rt.lacp = std::make_unique<Lacp>();
  const auto& members = rt.bond->members();
  for (auto it = rt.lacp->members().begin(); it != rt.lacp->members().end();) {
    const uint32_t id = it->first;
    ++it;
    if (!members.count(id)) rt.lacp->remove_member(id);
  }
  LacpSettings s;
  // The system id: the first member's MAC (stable while it stays).
  if (!members.empty()) s.sys_id = port_mac(real_dp_, members.begin()->first);
  s.key = static_cast<uint16_t>(of_port);
  s.active = c.lacp == LacpMode::kActive;
  s.fast = c.lacp_fast;
  s.fallback_ab = c.fallback_ab;
  rt.lacp->configure(s);
  for (const auto& [no, m] : members) rt.lacp->set_member(no, static_cast<uint16_t>(no), port_mac(real_dp_, no));
}

// LACP's word on each member (without LACP every member may aggregate).
BondChange Ofproto::lacp_verdicts(BondRt& rt, int64_t now) {
  BondChange ch;
  const bool negotiated = rt.lacp && rt.lacp->negotiated();
  ch |= rt.bond->set_lacp_negotiated(negotiated, rt.lacp && rt.bond->config().fallback_ab, now);
  for (const auto& [no, m] : rt.bond->members())
    ch |= rt.bond->set_lacp(no, !rt.lacp || rt.lacp->may_enable(no), now);
  return ch;
}

void Ofproto::send_lacpdus(BondRt& rt, int64_t now) {
  if (!rt.lacp) return;
  for (auto& [dp, frame] : rt.lacp->take_tx(now)) send_frame(dp, frame);
}

bool Ofproto::send_frame(uint32_t dp_port, std::span<const uint8_t> frame) {
  rte_mbuf* m = frame_mbuf(frame);
  if (!m) return false;
  datapath::DpActions acts;
  acts.add(datapath::act_output(dp_port));
  return backer_->dp().post_execute(0, dp_port, &m, 1, acts);
}

// Balanced bonds: every bond-rebalance-interval, buckets move from the
// busiest member to the idlest by the packets they carried since.
BondChange Ofproto::rebalance(BondRt& rt, int64_t now) {
  const BondConfig& c = rt.bond->config();
  if (c.rebalance_ms <= 0 || rt.bond->mode() == BondMode::kActiveBackup || now < rt.next_rebalance_ms) return {};
  rt.next_rebalance_ms = now + c.rebalance_ms;
  std::vector<uint64_t> tx = bond_bucket_tx(*rt.bond);
  if (tx.size() != datapath::kBondBuckets) return {};
  std::vector<uint64_t> load(tx.size(), 0);
  if (rt.tx_at_rebalance.size() == tx.size())
    for (size_t k = 0; k < tx.size(); k++) load[k] = tx[k] - rt.tx_at_rebalance[k];
  rt.tx_at_rebalance = tx;
  unsigned moved = rt.bond->rebalance(load);
  rt.rebalanced_buckets += moved;
  BondChange ch;
  ch.buckets = moved > 0;
  return ch;
}

unsigned Ofproto::run_bonds(int64_t now) {
  unsigned work = 0;
  for (auto& [of_port, rt] : bonds_) {
    BondChange ch = rt.bond->run(now);
    if (now >= rt.next_poll_ms) {
      rt.next_poll_ms = now + (rt.bond->config().miimon ? std::min<int64_t>(rt.bond->config().miimon_ms, kCarrierPollMs)
                                                        : kCarrierPollMs);
      for (const auto& [no, m] : rt.bond->members()) {
        const bool up = member_link_up(no);
        if (up == m.carrier) continue;
        rt.carrier_changes++;
        spdlog::info("bond {}: member {} carrier {}", rt.bond->name(), m.name, up ? "up" : "down");
        ch |= rt.bond->carrier(no, up, now);
        if (rt.lacp && rt.lacp->carrier_changed(no, now)) ch |= lacp_verdicts(rt, now);
      }
    }
    if (rt.lacp && rt.lacp->run(now)) ch |= lacp_verdicts(rt, now);
    send_lacpdus(rt, now);
    ch |= rebalance(rt, now);
    if (ch.buckets || ch.rx) work++;
    publish(of_port, rt, ch);
  }
  return work;
}

void Ofproto::publish(uint32_t of_port, BondRt& rt, BondChange ch) {
  const uint32_t active_before = rt.published_active;
  if (ch.buckets) {
    if (int rc = backer_->dp().set_bond(rt.bond->dp_id(), rt.bond->dp_config()); rc != 0)
      spdlog::error("bond {}: datapath bond {} not set: {}", rt.bond->name(), rt.bond->dp_id(), rc);
  }
  BridgePort& bp = bridge_.ports.at(of_port);
  bool live = false;
  for (const auto& [no, m] : rt.bond->members()) live |= m.enabled;
  if (bp.live != live) ch.rx = true;
  bp.live = live;
  rt.published_active = rt.bond->active();
  if (rt.published_active != active_before && rt.published_active) {
    const BondMember* m = rt.bond->member(rt.published_active);
    spdlog::info("bond {}: active member {}", rt.bond->name(), m ? m->name : "?");
    send_learning_packets(rt);
  }
  if (ch.rx) backer_->revalidator().revalidate_all(now_ms());
}

// As OVS on failover: one RARP per MAC learned on the bridge's other
// ports, out of the new active member, so the physical switch relearns
// where those MACs are now.
void Ofproto::send_learning_packets(BondRt& rt) {
  if (rt.bond->mode() == BondMode::kBalanceTcp || !rt.bond->active()) return;
  const uint32_t bond_of = bridge_.of_by_dp.count(rt.bond->active()) ? bridge_.of_by_dp.at(rt.bond->active()) : 0;
  for (const MacEntry& e : bridge_.mac.dump()) {
    if (e.port == bond_of) continue;
    std::vector<uint8_t> f(e.vlan ? 64 : 60, 0);
    std::memset(f.data(), 0xff, 6);
    std::memcpy(f.data() + 6, e.mac.data(), 6);
    size_t o = 12;
    if (e.vlan) {
      f[12] = 0x81;
      f[13] = 0x00;
      f[14] = static_cast<uint8_t>(e.vlan >> 8);
      f[15] = static_cast<uint8_t>(e.vlan);
      o = 16;
    }
    // RARP (0x8035) request: htype 1, ptype IPv4, hlen 6, plen 4, op 3,
    // sender and target hardware address = the MAC.
    const uint8_t hdr[10] = {0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03};
    std::memcpy(f.data() + o, hdr, sizeof hdr);
    std::memcpy(f.data() + o + 10, e.mac.data(), 6);
    std::memcpy(f.data() + o + 20, e.mac.data(), 6);
    if (send_frame(rt.bond->active(), f)) rt.learning_packets++;
  }
}

void Ofproto::slow_protocol_rx(uint32_t dp_port, std::span<const uint8_t> frame) {
  auto of = bridge_.of_by_dp.find(dp_port);
  if (of == bridge_.of_by_dp.end()) return;
  auto it = bonds_.find(of->second);
  if (it == bonds_.end()) return;
  BondRt& rt = it->second;
  if (!rt.lacp) {
    rt.lacp_rx_ignored++;
    return;
  }
  const int64_t now = now_ms();
  rt.lacp->rx(dp_port, frame, now);
  publish(it->first, rt, lacp_verdicts(rt, now));
  send_lacpdus(rt, now);
}

Ofproto::BondRt* Ofproto::bond_by_name(const std::string& port, uint32_t* of_port) {
  for (auto& [no, rt] : bonds_)
    if (rt.bond->name() == port) {
      *of_port = no;
      return &rt;
    }
  return nullptr;
}

std::string Ofproto::bond_set_active(const std::string& port, const std::string& member) {
  uint32_t of_port = 0;
  BondRt* rt = bond_by_name(port, &of_port);
  if (!rt) return "no bond named " + port + " in bridge " + bridge_.name;
  const BondMember* m = rt->bond->member_by_name(member);
  if (!m) return "bond " + port + " has no member " + member;
  BondChange ch;
  if (!rt->bond->set_active(member, &ch)) return "bond " + port + ": member " + member + " is disabled";
  publish(of_port, *rt, ch);
  return "";
}

std::string Ofproto::bond_set_enabled(const std::string& port, const std::string& member, bool enabled) {
  uint32_t of_port = 0;
  BondRt* rt = bond_by_name(port, &of_port);
  if (!rt) return "no bond named " + port + " in bridge " + bridge_.name;
  BondChange ch;
  if (!rt->bond->set_admin(member, enabled, &ch, now_ms())) return "bond " + port + " has no member " + member;
  publish(of_port, *rt, ch);
  return "";
}

}  // namespace dps::ofproto
