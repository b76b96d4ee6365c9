#include "rxq_placement.h"

#include <algorithm>
#include <charconv>
#include <numeric>

#include "enum_names.h"

namespace dps::datapath {

constexpr base::EnumName<RxqAssignMode> kRxqAssignNames[] = {
    {RxqAssignMode::kRoundRobin, "roundrobin"},
    {RxqAssignMode::kCycles, "cycles"},
    {RxqAssignMode::kGroup, "group"},
};

std::optional<RxqAssignMode> parse_rxq_assign(std::string_view text) {
  return base::enum_from_name(text, kRxqAssignNames);
}

const char* rxq_assign_name(RxqAssignMode m) { return base::enum_name(m, kRxqAssignNames); }

namespace {

template <typename T>
bool parse_uint(std::string_view s, T* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

std::optional<std::map<uint16_t, unsigned>> parse_rxq_affinity(std::string_view text,
                                                                std::string* error) {
  std::map<uint16_t, unsigned> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const size_t colon = item.find(':');
    uint16_t q;
    unsigned core;
    if (colon == std::string_view::npos || !parse_uint(item.substr(0, colon), &q) ||
        !parse_uint(item.substr(colon + 1), &core)) {
      *error = std::string(item);
      *error += " is not queue:core";
      return std::nullopt;
    }
    if (!out.emplace(q, core).second) {
      *error = "queue " + std::to_string(q) + " is given twice";
      return std::nullopt;
    }
  }
  return out;
}

namespace {

// The PMDs a queue may go to, and the walk state of each NUMA node's set.
class Chooser {
 public:
  Chooser(const std::vector<PmdSlot>& pmds, const PlacementPolicy& pol, Placement& out)
      : pmds_(pmds), pol_(pol), out_(out), load_(pmds.size()), count_(pmds.size()) {}

  void take(size_t pmd, uint64_t load) {
    load_[pmd] += load;
    count_[pmd]++;
  }
  bool full(size_t pmd) const { return count_[pmd] >= pol_.max_per_pmd; }

  // Non-isolated, not full PMDs of `numa` (all nodes when none is there).
  std::vector<size_t> candidates(int numa, bool* remote) const {
    std::vector<size_t> local, any;
    for (size_t i = 0; i < pmds_.size(); i++) {
      if (out_.isolated[i] || full(i)) continue;
      any.push_back(i);
      if (numa < 0 || pmds_[i].numa < 0 || pmds_[i].numa == numa) local.push_back(i);
    }
    *remote = local.empty() && !any.empty();
    return local.empty() ? any : local;
  }

  size_t pick(const std::vector<size_t>& c, int numa) {
    Walk& w = walks_[numa];
    switch (pol_.mode) {
      case RxqAssignMode::kRoundRobin: return c[w.next++ % c.size()];
      case RxqAssignMode::kCycles: return c[up_down(w, c.size())];
      case RxqAssignMode::kGroup: break;
    }
    return *std::min_element(c.begin(), c.end(), [this](size_t a, size_t b) {
      return load_[a] != load_[b] ? load_[a] < load_[b] : count_[a] < count_[b];
    });
  }

 private:
  struct Walk {
    size_t next = 0;
    bool down = false;
  };
  // 0,1,..,n-1,n-1,..,0,0,1,..: each end is visited twice in a row.
  static size_t up_down(Walk& w, size_t n) {
    if (w.next >= n) w.next = n - 1;
    const size_t at = w.next;
    if (!w.down && at + 1 == n) w.down = true;
    else if (w.down && at == 0) w.down = false;
    else w.next = w.down ? at - 1 : at + 1;
    return at;
  }

  const std::vector<PmdSlot>& pmds_;
  const PlacementPolicy& pol_;
  Placement& out_;
  std::vector<uint64_t> load_;
  std::vector<unsigned> count_;
  std::map<int, Walk> walks_;
};

std::string queue_name(const RxqDemand& q) {
  return "port " + std::to_string(q.port_no) + " queue " + std::to_string(q.queue);
}

// Pinned queues first; returns the indexes of the others.
std::vector<size_t> place_pinned(const std::vector<RxqDemand>& queues,
                                 const std::vector<PmdSlot>& pmds, const PlacementPolicy& pol,
                                 Chooser& ch, Placement& out) {
  std::vector<size_t> rest;
  for (size_t k = 0; k < queues.size(); k++) {
    const RxqDemand& q = queues[k];
    if (q.pinned_lcore < 0) {
      rest.push_back(k);
      continue;
    }
    auto it = std::find_if(pmds.begin(), pmds.end(), [&](const PmdSlot& p) {
      return p.lcore == static_cast<unsigned>(q.pinned_lcore);
    });
    const size_t i = static_cast<size_t>(it - pmds.begin());
    if (it == pmds.end() || ch.full(i)) {
      out.warnings.push_back(queue_name(q) + ": pmd-rxq-affinity core " +
                             std::to_string(q.pinned_lcore) +
                             (it == pmds.end() ? " runs no PMD" : " has no room") +
                             "; placed like an unpinned queue");
      rest.push_back(k);
      continue;
    }
    out.pmd[k] = static_cast<int>(i);
    ch.take(i, q.load);
    if (pol.isolate) out.isolated[i] = true;
  }
  return rest;
}

}  // namespace

Placement place_rxqs(const std::vector<RxqDemand>& queues, const std::vector<PmdSlot>& pmds,
                     const PlacementPolicy& policy) {
  Placement out{std::vector<int>(queues.size(), -1), std::vector<bool>(pmds.size(), false), {}};
  Chooser ch(pmds, policy, out);
  std::vector<size_t> rest = place_pinned(queues, pmds, policy, ch, out);
  if (policy.mode != RxqAssignMode::kRoundRobin)
    std::stable_sort(rest.begin(), rest.end(),
                     [&](size_t a, size_t b) { return queues[a].load > queues[b].load; });
  for (size_t k : rest) {
    const RxqDemand& q = queues[k];
    bool remote = false;
    const std::vector<size_t> c = ch.candidates(q.numa, &remote);
    if (c.empty()) {
      out.warnings.push_back(queue_name(q) + ": no PMD can take it (all isolated or full); not polled");
      continue;
    }
    if (remote)
      out.warnings.push_back(queue_name(q) + ": no PMD on NUMA node " + std::to_string(q.numa) +
                             "; polled from another node");
    const size_t i = ch.pick(c, remote ? -2 : q.numa);
    out.pmd[k] = static_cast<int>(i);
    ch.take(i, q.load);
  }
  return out;
}

std::vector<uint64_t> pmd_loads(const std::vector<RxqDemand>& queues, const Placement& placement,
                                size_t n_pmds) {
  std::vector<uint64_t> load(n_pmds, 0);
  for (size_t k = 0; k < queues.size() && k < placement.pmd.size(); k++)
    if (placement.pmd[k] >= 0 && static_cast<size_t>(placement.pmd[k]) < n_pmds)
      load[static_cast<size_t>(placement.pmd[k])] += queues[k].load;
  return load;
}

namespace {

double variance_of_shared(const std::vector<uint64_t>& load, const std::vector<bool>& isolated) {
  std::vector<double> v;
  for (size_t i = 0; i < load.size(); i++)
    if (i >= isolated.size() || !isolated[i]) v.push_back(static_cast<double>(load[i]));
  if (v.size() < 2) return 0;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return s / static_cast<double>(v.size());
}

}  // namespace

int rebalance_gain_pct(const std::vector<RxqDemand>& queues, const Placement& current,
                       const Placement& proposed) {
  const size_t n = std::max(current.isolated.size(), proposed.isolated.size());
  const double cur = variance_of_shared(pmd_loads(queues, current, n), current.isolated);
  const double next = variance_of_shared(pmd_loads(queues, proposed, n), proposed.isolated);
  if (cur <= 0) return 0;
  return static_cast<int>((cur - next) * 100.0 / cur);
}

}  // namespace dps::datapath
