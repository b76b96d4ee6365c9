#include "bonding.h"

#include <algorithm>
#include <charconv>

#include "enum_names.h"

namespace dps::ofproto {
namespace {

using datapath::kBondBuckets;
using datapath::kBondNoMember;

std::optional<int64_t> parse_i64(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// other_config:KEY as an integer in [lo, hi]; "" when absent or good.
std::string oc_int(const BondColumns& c, const char* key, int64_t lo, int64_t hi, int64_t* out) {
  auto it = c.other_config.find(key);
  if (it == c.other_config.end()) return "";
  auto v = parse_i64(it->second);
  if (!v || *v < lo || *v > hi)
    return "port " + c.port + ": other_config:" + key + "=\"" + it->second + "\" is not an integer in " +
           std::to_string(lo) + ".." + std::to_string(hi);
  *out = *v;
  return "";
}

// other_config:KEY, one of `a` (-> false) or `b` (-> true).
std::string oc_choice(const BondColumns& c, const char* key, const char* a, const char* b, bool* out) {
  auto it = c.other_config.find(key);
  if (it == c.other_config.end()) return "";
  if (it->second == a) *out = false;
  else if (it->second == b) *out = true;
  else return "port " + c.port + ": other_config:" + key + "=\"" + it->second + "\" is not " + a + " or " + b;
  return "";
}

std::string delay(const BondColumns& c, const char* col, const std::optional<int64_t>& v, int64_t* out) {
  if (!v) return "";
  if (*v < 0 || *v > 2147483647)
    return "port " + c.port + ": " + col + "=" + std::to_string(*v) + " is not in 0..2147483647";
  *out = *v;
  return "";
}

constexpr base::EnumName<BondMode> kBondModeNames[] = {
    {BondMode::kActiveBackup, "active-backup"},
    {BondMode::kBalanceSlb, "balance-slb"},
    {BondMode::kBalanceTcp, "balance-tcp"},
};
constexpr base::EnumName<LacpMode> kLacpModeNames[] = {
    {LacpMode::kOff, "off"},
    {LacpMode::kActive, "active"},
    {LacpMode::kPassive, "passive"},
};

// bond_mode (empty: active-backup) and lacp (empty: off).
std::string modes_text(const BondColumns& c, BondConfig* b) {
  if (c.bond_mode.empty()) b->mode = BondMode::kActiveBackup;
  else if (auto m = base::enum_from_name(c.bond_mode, kBondModeNames)) b->mode = *m;
  else
    return "port " + c.port + ": bond_mode \"" + c.bond_mode +
           "\" is not active-backup, balance-slb or balance-tcp";
  if (c.lacp.empty()) b->lacp = LacpMode::kOff;
  else if (auto m = base::enum_from_name(c.lacp, kLacpModeNames)) b->lacp = *m;
  else return "port " + c.port + ": lacp \"" + c.lacp + "\" is not active, passive or off";
  return "";
}

}  // namespace

const char* bond_mode_name(BondMode m) { return base::enum_name(m, kBondModeNames); }

const char* lacp_mode_name(LacpMode m) { return base::enum_name(m, kLacpModeNames); }

std::variant<BondConfig, std::string> parse_bond_config(const BondColumns& c, std::string* warning) {
  BondConfig b;
  std::string e = modes_text(c, &b);
  if (e.empty()) e = oc_choice(c, "lacp-time", "slow", "fast", &b.lacp_fast);
  if (e.empty()) e = oc_choice(c, "lacp-fallback-ab", "false", "true", &b.fallback_ab);
  if (e.empty()) e = oc_choice(c, "bond-detect-mode", "carrier", "miimon", &b.miimon);
  if (e.empty()) e = oc_int(c, "bond-rebalance-interval", 0, 2147483647, &b.rebalance_ms);
  if (e.empty()) e = oc_int(c, "bond-miimon-interval", 1, 2147483647, &b.miimon_ms);
  if (e.empty()) e = delay(c, "bond_updelay", c.updelay, &b.updelay_ms);
  if (e.empty()) e = delay(c, "bond_downdelay", c.downdelay, &b.downdelay_ms);
  if (!e.empty()) return e;
  // As OVS: below 1 s the rebalance interval is 1 s (0 disables it).
  if (b.rebalance_ms > 0 && b.rebalance_ms < 1000) b.rebalance_ms = 1000;
  warning->clear();
  if (b.mode == BondMode::kBalanceTcp && b.lacp == LacpMode::kOff)
    *warning = "port " + c.port + ": balance-tcp without LACP: the partner must be a static link "
               "aggregation (lacp=active or passive is what OVS expects for balance-tcp)";
  else if (b.fallback_ab && b.lacp == LacpMode::kOff)
    *warning = "port " + c.port + ": other_config:lacp-fallback-ab has no effect with lacp=off";
  return b;
}

Bond::Bond(std::string name, uint32_t dp_id, BondConfig cfg)
    : name_(std::move(name)), dp_id_(dp_id), cfg_(cfg) {
  buckets_.fill(kBondNoMember);
}

const BondMember* Bond::member(uint32_t dp_port) const {
  auto it = members_.find(dp_port);
  return it == members_.end() ? nullptr : &it->second;
}

const BondMember* Bond::member_by_name(const std::string& name) const {
  for (const auto& [no, m] : members_)
    if (m.name == name) return &m;
  return nullptr;
}

BondChange Bond::set_config(const BondConfig& cfg, int64_t now_ms) {
  if (cfg == cfg_) return {};
  const bool hash_changed = cfg.mode != cfg_.mode;
  cfg_ = cfg;
  BondChange ch = refresh(now_ms);
  ch.buckets |= hash_changed;
  ch.rx = true;
  return ch;
}

BondChange Bond::set_members(const std::vector<std::pair<std::string, uint32_t>>& members, int64_t now_ms) {
  std::map<uint32_t, BondMember> next;
  for (const auto& [name, dp] : members) {
    auto it = members_.find(dp);
    BondMember m = it != members_.end() ? it->second : BondMember{};
    m.name = name;
    m.dp_port = dp;
    next[dp] = m;
  }
  bool same = next.size() == members_.size() &&
              std::equal(next.begin(), next.end(), members_.begin(),
                         [](const auto& a, const auto& b) { return a.first == b.first; });
  members_ = std::move(next);
  BondChange ch = refresh(now_ms);
  if (!same) ch.rx = true;
  return ch;
}

BondChange Bond::carrier(uint32_t dp_port, bool up, int64_t now_ms) {
  auto it = members_.find(dp_port);
  if (it == members_.end() || it->second.carrier == up) return {};
  BondMember& m = it->second;
  m.carrier = up;
  // OVS: with no member enabled, the first one up is enabled at once.
  const bool any_enabled = std::any_of(members_.begin(), members_.end(),
                                       [](const auto& kv) { return kv.second.enabled; });
  const int64_t d = up ? (any_enabled ? cfg_.updelay_ms : 0) : cfg_.downdelay_ms;
  m.delay_until = d > 0 ? now_ms + d : -1;
  return refresh(now_ms);
}

BondChange Bond::run(int64_t now_ms) {
  bool due = false;
  for (auto& [no, m] : members_)
    if (m.delay_until >= 0 && now_ms >= m.delay_until) {
      m.delay_until = -1;
      due = true;
    }
  return due ? refresh(now_ms) : BondChange{};
}

BondChange Bond::set_lacp_negotiated(bool negotiated, bool fallback, int64_t now_ms) {
  if (negotiated == lacp_negotiated_ && fallback == fallback_) return {};
  const BondMode before = mode();
  lacp_negotiated_ = negotiated;
  fallback_ = fallback;
  BondChange ch = refresh(now_ms);
  ch.rx = true;
  ch.buckets |= mode() != before;
  return ch;
}

BondChange Bond::set_lacp(uint32_t dp_port, bool ok, int64_t now_ms) {
  auto it = members_.find(dp_port);
  if (it == members_.end() || it->second.lacp_ok == ok) return {};
  it->second.lacp_ok = ok;
  return refresh(now_ms);
}

bool Bond::set_admin(const std::string& member, bool enabled, BondChange* ch, int64_t now_ms) {
  for (auto& [no, m] : members_)
    if (m.name == member) {
      m.admin_enabled = enabled;
      *ch |= refresh(now_ms);
      return true;
    }
  return false;
}

bool Bond::set_active(const std::string& member, BondChange* ch) {
  const BondMember* m = member_by_name(member);
  if (!m || !m->enabled) return false;
  if (m->dp_port == active_) return true;
  active_ = m->dp_port;
  ch->rx = true;
  if (mode() == BondMode::kActiveBackup) {
    buckets_.fill(static_cast<uint16_t>(active_));
    ch->buckets = true;
  }
  return true;
}

bool Bond::member_should_enable(const BondMember& m) const {
  // A pending delay keeps the member as it was until it is due.
  const bool link = m.delay_until >= 0 ? m.enabled : m.carrier;
  return link && m.admin_enabled && m.lacp_ok;
}

BondChange Bond::refresh(int64_t /*now_ms*/) {
  BondChange ch;
  for (auto& [no, m] : members_) {
    bool want = member_should_enable(m);
    if (want == m.enabled) continue;
    m.enabled = want;
    m.enabled_changes++;
    ch.rx = true;
  }
  const BondMember* act = member(active_);
  if (!act || !act->enabled) {
    uint32_t next = 0;
    for (const auto& [no, m] : members_)
      if (m.enabled) {
        next = no;
        break;
      }
    if (next != active_) {
      active_ = next;
      ch.rx = true;
    }
  }
  const auto before = buckets_;
  fill_buckets();
  ch.buckets = buckets_ != before;
  return ch;
}

// Active-backup: every bucket names the active member. Balanced modes:
// buckets of members no longer enabled go to the enabled member with the
// fewest buckets; then, while some member has two buckets more than
// another, the fullest gives one (its highest) to the emptiest.
void Bond::fill_buckets() {
  if (mode() == BondMode::kActiveBackup) {
    buckets_.fill(active_ ? static_cast<uint16_t>(active_) : kBondNoMember);
    return;
  }
  std::map<uint16_t, unsigned> count;  // enabled member -> buckets
  for (const auto& [no, m] : members_)
    if (m.enabled) count[static_cast<uint16_t>(no)] = 0;
  if (count.empty()) {
    buckets_.fill(kBondNoMember);
    return;
  }
  for (uint16_t& b : buckets_)
    if (count.count(b)) count[b]++;
    else b = kBondNoMember;
  auto fewest = [&]() {
    return std::min_element(count.begin(), count.end(), [](auto& a, auto& b) { return a.second < b.second; });
  };
  for (uint16_t& b : buckets_)
    if (b == kBondNoMember) {
      auto f = fewest();
      b = f->first;
      f->second++;
    }
  for (;;) {
    auto lo = fewest();
    auto hi = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) { return a.second < b.second; });
    if (hi->second < lo->second + 2) break;
    for (unsigned k = kBondBuckets; k-- > 0;)
      if (buckets_[k] == hi->first) {
        buckets_[k] = lo->first;
        break;
      }
    hi->second--;
    lo->second++;
  }
}

bool Bond::may_receive(uint32_t dp_port, bool multicast) const {
  const BondMember* m = member(dp_port);
  if (!m || !m->enabled) return false;
  if (lacp_negotiated_ || mode() == BondMode::kBalanceTcp) return true;
  if (mode() == BondMode::kActiveBackup) return dp_port == active_;
  return !multicast || dp_port == active_;  // SLB: floods come back on the others
}

datapath::DpBondConfig Bond::dp_config() const {
  datapath::DpBondConfig c;
  c.hash = mode() == BondMode::kBalanceTcp   ? datapath::BondHash::kL4
           : mode() == BondMode::kBalanceSlb ? datapath::BondHash::kSrcMacVlan
                                                : datapath::BondHash::kActive;
  c.buckets = buckets_;
  return c;
}

unsigned Bond::rebalance(const std::vector<uint64_t>& load) {
  if (mode() == BondMode::kActiveBackup) return 0;
  std::vector<uint16_t> enabled;
  for (const auto& [no, m] : members_)
    if (m.enabled) enabled.push_back(static_cast<uint16_t>(no));
  return rebalance_buckets(&buckets_, load, enabled);
}

unsigned rebalance_buckets(std::array<uint16_t, kBondBuckets>* owner, const std::vector<uint64_t>& load,
                           const std::vector<uint16_t>& members, unsigned max_moves) {
  if (members.size() < 2 || load.size() < kBondBuckets) return 0;
  std::map<uint16_t, uint64_t> total;
  for (uint16_t m : members) total[m] = 0;
  for (unsigned b = 0; b < kBondBuckets; b++)
    if (auto it = total.find((*owner)[b]); it != total.end()) it->second += load[b];
  unsigned moved = 0;
  while (moved < max_moves) {
    auto by_load = [](auto& a, auto& b) { return a.second < b.second; };
    auto hi = std::max_element(total.begin(), total.end(), by_load);
    auto lo = std::min_element(total.begin(), total.end(), by_load);
    const uint64_t diff = hi->second - lo->second;
    // The bucket of hi whose move evens the two most: load closest to
    // diff / 2, and below diff (else the move makes it worse or equal).
    int best = -1;
    uint64_t best_gap = UINT64_MAX;
    for (unsigned b = 0; b < kBondBuckets; b++) {
      if ((*owner)[b] != hi->first || load[b] == 0 || load[b] >= diff) continue;
      const uint64_t gap = load[b] * 2 > diff ? load[b] * 2 - diff : diff - load[b] * 2;
      if (gap < best_gap) {
        best_gap = gap;
        best = static_cast<int>(b);
      }
    }
    if (best < 0) break;
    (*owner)[best] = lo->first;
    hi->second -= load[best];
    lo->second += load[best];
    moved++;
  }
  return moved;
}

}  // namespace dps::ofproto
