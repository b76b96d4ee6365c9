#include "ndr_search.h"

#include <algorithm>
#include <stdexcept>

namespace dps::dpsbench {
namespace {

struct Bounds {
  double lo = 0;  // highest rate known to pass
  double hi = 0;  // lowest rate known to fail (0: none yet)
};

double judged_rate(const TrialResult& r, const NdrOptions& o) {
  // A sender that could not reach the offered rate is judged at what it sent.
  if (r.achieved_pps > 0 && r.achieved_pps < r.offered_pps * (1 - o.resolution)) return r.achieved_pps;
  return r.offered_pps;
}

void search(const TrialFn& trial, const NdrOptions& o, double threshold, const std::string& phase,
            Bounds b, NdrResult& out, double& result) {
  const double step = o.resolution * o.max_pps;
  bool first = b.hi == 0 && b.lo == 0;
  while (out.trials.size() < o.max_trials) {
    double rate;
    if (first) {
      rate = o.max_pps;
    } else {
      double hi = b.hi > 0 ? b.hi : o.max_pps;
      if (hi - b.lo <= step) break;
      rate = (b.lo + hi) / 2;
    }
    first = false;
    TrialResult r = trial(rate);
    r.offered_pps = rate;
    bool pass = r.tx > 0 && r.loss_ratio() <= threshold;
    out.trials.push_back({phase, r, pass});
    double at = judged_rate(r, o);
    if (pass) {
      b.lo = std::max(b.lo, at);
      if (at >= o.max_pps * (1 - o.resolution)) break;  // passes at the top
    } else {
      b.hi = b.hi > 0 ? std::min(b.hi, rate) : rate;
      if (b.hi <= step) break;  // fails even near zero
    }
  }
  result = b.lo;
}

}  // namespace

NdrResult ndr_pdr_search(const TrialFn& trial, const NdrOptions& o) {
  if (!(o.max_pps > 0)) throw std::invalid_argument("NDR search: max rate must be positive");
  if (!(o.resolution > 0 && o.resolution < 1))
    throw std::invalid_argument("NDR search: resolution must be in (0, 1)");
  if (!(o.pdr_loss >= 0 && o.pdr_loss < 1))
    throw std::invalid_argument("NDR search: PDR loss ratio must be in [0, 1)");
  NdrResult out;
  search(trial, o, 0.0, "ndr", Bounds{}, out, out.ndr_pps);
  if (!o.pdr) return out;
  // Seed the PDR bounds from the NDR trials.
  Bounds b;
  bool seeded = false;
  for (const auto& t : out.trials) {
    double at = judged_rate(t.result, o);
    if (t.result.tx > 0 && t.result.loss_ratio() <= o.pdr_loss) {
      b.lo = std::max(b.lo, at);
    } else {
      b.hi = b.hi > 0 ? std::min(b.hi, t.result.offered_pps) : t.result.offered_pps;
    }
    seeded = true;
  }
  if (seeded && b.hi == 0) {
    out.pdr_pps = b.lo;  // the NDR already passed at the top
    return out;
  }
  search(trial, o, o.pdr_loss, "pdr", b, out, out.pdr_pps);
  return out;
}

}  // namespace dps::dpsbench
