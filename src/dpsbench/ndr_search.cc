#include "ndr_search.h"

#include <algorithm>
#include <stdexcept>

namespace dps::dpsbench {
namespace {

struct Bounds {
  double lo = 0;  // highest rate known to pass
  double hi = 0;  // lowest rate known to fail (0: none yet)
};

// A sender that could not reach the offered rate met back-pressure (a memif
// or vhost ring that stayed full): the device did not sustain that rate, but
// it did sustain what was sent.
bool fell_short(const TrialResult& r, const NdrOptions& o) {
  return r.achieved_pps > 0 && r.achieved_pps < r.offered_pps * (1 - o.resolution);
}

bool passes(const TrialResult& r, const NdrOptions& o, double threshold) {
  return r.tx > 0 && r.loss_ratio() <= threshold && !fell_short(r, o);
}

// Folds one trial into the bounds for `threshold`.
void update(Bounds& b, const TrialResult& r, const NdrOptions& o, double threshold) {
  if (passes(r, o, threshold)) {
    b.lo = std::max(b.lo, r.offered_pps);
    return;
  }
  b.hi = b.hi > 0 ? std::min(b.hi, r.offered_pps) : r.offered_pps;
  if (r.tx > 0 && r.loss_ratio() <= threshold) b.lo = std::max(b.lo, std::min(r.achieved_pps, b.hi));
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
    bool pass = passes(r, o, threshold);
    out.trials.push_back({phase, r, pass});
    update(b, r, o, threshold);
    if (pass && rate >= o.max_pps) break;  // passes at the top
    if (!pass && b.hi <= step) break;      // fails even near zero
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
  for (const auto& t : out.trials) update(b, t.result, o, o.pdr_loss);
  if (!out.trials.empty() && b.hi == 0) {
    out.pdr_pps = b.lo;  // the NDR already passed at the top
    return out;
  }
  search(trial, o, o.pdr_loss, "pdr", b, out, out.pdr_pps);
  return out;
}

}  // namespace dps::dpsbench
