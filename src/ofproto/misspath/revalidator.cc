#include "revalidator.h"

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "xlate.h"

namespace dps::ofproto {

namespace {

// Geneve options are raw in a megaflow and TLV-mapped in a rule's match:
// those words (tun_md_present, tun_opts) cannot be compared, and count as
// overlapping.
constexpr unsigned kTunOptsWord0 = offsetof(datapath::FlowKey, tun_md_present) / 8;
static_assert(offsetof(datapath::FlowKey, tun_opts) / 8 == kTunOptsWord0 + 1);

uint64_t elapsed_ns(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

}  // namespace

Revalidator::Revalidator(const BridgeMap& bridges, UkeyTable& ukeys, DpInterface& dp,
                         ControllerEventTable& events, int64_t idle_ms)
    : bridges_(bridges), ukeys_(ukeys), dp_(dp), events_(events), idle_ms_(idle_ms) {}

void Revalidator::note_change(uint64_t ns) {
  stats_.changes++;
  stats_.change_ns_total += ns;
  stats_.change_ns_max = std::max(stats_.change_ns_max, ns);
}

bool Revalidator::affected_by_add(const Bridge& b, const Ukey& u, const Rule& r) const {
  for (const TableVisit& v : u.visits) {
    if (v.bridge != &b || v.table != r.table_id) continue;
    if (v.priority >= 0 && r.priority < v.priority) continue;  // the old winner still wins
    // (A lookup in a bridge reached over a patch port counts as rewritten:
    // its in_port is the peer port.)
    if (v.rewritten) return true;
    const BridgePort* in = b.port_by_dp(u.key.in_port);
    if (!in) return true;
    // The megaflow's region (masked key; pipeline fields as at table 0)
    // against the rule's: disjoint when they disagree on a bit both fix.
    OfKey k;
    k.flow = u.masked;
    k.flow.in_port = in->of_port;
    k.pipe.in_phy_port = in->of_port;
    OfMask m;
    m.flow = u.mask;
    m.pipe.metadata = ~uint64_t{0};
    m.pipe.in_phy_port = ~uint32_t{0};
    const OfKey& rv = r.match.value();
    const OfMask& rm = r.match.mask();
    bool disjoint = false;
    for (unsigned w = 0; w < OfKey::kWords && !disjoint; w++)
      disjoint = w < kTunOptsWord0 && ((k.word(w) ^ rv.word(w)) & m.word(w) & rm.word(w)) != 0;
    if (!disjoint) return true;
  }
  return false;
}

bool Revalidator::roll_up(Ukey* u, int64_t now_ms) {
  auto st = dp_.flow_stats(u->ufid);
  if (!st) return false;
  if (st->packets > u->packets_seen) {
    uint64_t dp = st->packets - u->packets_seen;
    uint64_t db = st->bytes > u->bytes_seen ? st->bytes - u->bytes_seen : 0;
    for (const RulePtr& r : u->rules) r->account(dp, db, now_ms);
    account_visits(u->visits, dp);  // TABLE stats (ukeys only name live bridges)
    account_mirrors(u->mirrors, dp, db);
    if (stats_hook_) stats_hook_(u->key, u->actions, dp, db, now_ms);
    u->packets_seen = st->packets;
    u->bytes_seen = st->bytes;
    u->used_ms = now_ms;
    // Traffic on a megaflow never reaches NORMAL's learning: refresh the
    // source entries it learned so they do not age out under traffic.
    for (const MacDep& m : u->macs)
      if (Bridge* b = m.learned ? bridges_.live(m.bridge) : nullptr) b->mac.learn(m.mac, m.vlan, m.port, now_ms);
  }
  return true;
}

void Revalidator::remove(Ukey* u) {
  dp_.post_remove(u->ufid);
  ukeys_.erase(u);
}

Revalidator::Verdict Revalidator::revalidate_one(Ukey* u, int64_t now_ms) {
  if (!roll_up(u, now_ms)) {  // its datapath flow is gone already
    stats_.vanished++;
    ukeys_.erase(u);
    return Verdict::kKeep;
  }
  Bridge* entry = bridges_.owner(u->key.in_port);
  if (!entry) entry = bridges_.find(u->key.in_port);  // the fallback that translated it
  if (!entry) {  // no bridge left
    stats_.deleted++;
    remove(u);
    return Verdict::kDelete;
  }
  XlateOptions o;
  o.now_ms = now_ms;
  o.may_learn = false;
  XlateResult r = xlate(*entry, u->key, o);
  stats_.revalidated++;
  events_.rewrite(&r.actions, r.controller);
  for (unsigned w = 0; w < datapath::kFlowWords; w++)
    if (r.mask.words()[w] & ~u->mask.words()[w]) {
      stats_.deleted++;
      remove(u);
      return Verdict::kDelete;
    }
  Verdict v = Verdict::kKeep;
  if (!(r.actions == u->actions)) {
    dp_.post_modify(u->ufid, r.actions);
    u->actions = r.actions;
    stats_.modified++;
    v = Verdict::kModify;
  }
  ukeys_.set_deps(u, std::move(r));
  return v;
}

size_t Revalidator::revalidate(std::vector<Ukey*>& set, int64_t now_ms) {
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  size_t changed = 0;
  for (Ukey* u : set)
    if (revalidate_one(u, now_ms) != Verdict::kKeep) changed++;
  if (changed) {
    dp_.barrier();
    stats_.barriers++;
  }
  return changed;
}

size_t Revalidator::on_flow_mod(const Bridge& bridge, const FlowModResult& res, int64_t now_ms) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Ukey*> set;
  auto add = [&](Ukey* u) { set.push_back(u); };
  for (const RulePtr& r : res.modified) ukeys_.for_dep(dep_rule(r.get()), add);
  for (const RemovedRule& rr : res.removed) ukeys_.for_dep(dep_rule(rr.rule.get()), add);
  for (const RulePtr& r : res.added)
    ukeys_.for_dep(dep_table(&bridge, r->table_id), [&](Ukey* u) {
      if (affected_by_add(bridge, *u, *r)) set.push_back(u);
    });
  size_t n = set.empty() ? 0 : revalidate(set, now_ms);
  note_change(elapsed_ns(t0));
  return n;
}

size_t Revalidator::revalidate_deps(const std::vector<uint64_t>& deps, int64_t now_ms) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Ukey*> set;
  for (uint64_t d : deps) ukeys_.for_dep(d, [&](Ukey* u) { set.push_back(u); });
  size_t n = set.empty() ? 0 : revalidate(set, now_ms);
  note_change(elapsed_ns(t0));
  return n;
}

size_t Revalidator::on_groups_changed(const std::vector<uint32_t>& group_ids, int64_t now_ms) {
  std::vector<uint64_t> deps;
  for (uint32_t g : group_ids) deps.push_back(dep_group(nullptr, g));
  return revalidate_deps(deps, now_ms);
}

size_t Revalidator::on_mac_changes(const Bridge& bridge, const std::vector<MacChange>& changes,
                                   bool overflow, int64_t now_ms) {
  if (changes.empty() && !overflow) return 0;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Ukey*> set;
  if (overflow) {
    for (size_t i = 0; i < ukeys_.size(); i++)
      if (!ukeys_.at(i)->macs.empty()) set.push_back(ukeys_.at(i));
  } else {
    for (const MacChange& c : changes)
      ukeys_.for_dep(dep_mac(&bridge, c.mac, c.vlan), [&](Ukey* u) { set.push_back(u); });
  }
  size_t n = set.empty() ? 0 : revalidate(set, now_ms);
  note_change(elapsed_ns(t0));
  return n;
}

size_t Revalidator::revalidate_all(int64_t now_ms) {
  auto t0 = std::chrono::steady_clock::now();
  if (tnl_) tnl_->ports().invalidate();
  std::vector<Ukey*> set;
  set.reserve(ukeys_.size());
  for (size_t i = 0; i < ukeys_.size(); i++) set.push_back(ukeys_.at(i));
  size_t n = set.empty() ? 0 : revalidate(set, now_ms);
  note_change(elapsed_ns(t0));
  return n;
}

size_t Revalidator::on_tunnel_changes(const TnlChanges& changes, int64_t now_ms) {
  if (changes.all) return revalidate_all(now_ms);
  return changes.deps.empty() ? 0 : revalidate_deps(changes.deps, now_ms);
}

bool Revalidator::sweep(int64_t now_ms, size_t budget) {
  size_t done = 0;
  while (done < budget && cursor_ < ukeys_.size()) {
    Ukey* u = ukeys_.at(cursor_);
    done++;
    if (!roll_up(u, now_ms)) {
      stats_.vanished++;
      ukeys_.erase(u);  // swap-remove: cursor_ now names the next one
      continue;
    }
    if (now_ms - u->used_ms >= idle_ms_) {
      stats_.idle_expired++;
      remove(u);
      continue;
    }
    cursor_++;
  }
  if (cursor_ >= ukeys_.size()) {
    cursor_ = 0;
    stats_.sweeps++;
    return true;
  }
  return false;
}

size_t Revalidator::forget_bridge(const Bridge& bridge, int64_t now_ms) {
  std::vector<Ukey*> gone;
  for (size_t i = 0; i < ukeys_.size(); i++) {
    Ukey* u = ukeys_.at(i);
    bool through = bridges_.owner(u->key.in_port) == &bridge;
    for (const TableVisit& v : u->visits) through |= v.bridge == &bridge;
    for (const MacDep& m : u->macs) through |= m.bridge == &bridge;
    for (const ControllerEvent& e : u->controller) through |= e.bridge == &bridge;
    if (through) gone.push_back(u);
  }
  // Counters first: the surviving bridges' rules keep the packets (the
  // bridge being removed is still alive here).
  for (Ukey* u : gone) {
    roll_up(u, now_ms);
    remove(u);
  }
  if (!gone.empty()) {
    dp_.barrier();
    stats_.barriers++;
  }
  stats_.deleted += gone.size();
  return gone.size();
}

void Revalidator::roll_up_all(int64_t now_ms) {
  for (size_t i = 0; i < ukeys_.size(); i++) roll_up(ukeys_.at(i), now_ms);
}

void Revalidator::flush() {
  while (ukeys_.size()) remove(ukeys_.at(ukeys_.size() - 1));
  dp_.barrier();
  cursor_ = 0;
}

}  // namespace dps::ofproto
