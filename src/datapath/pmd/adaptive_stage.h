// adaptive_stage.h - a fast-path stage that switches itself off while it
// does not pay.
//
// What: AdaptiveStage guards a cache probe or a shortcut check that costs
// every packet a few cycles and saves the packets it succeeds for many (the
// PMD's EMC probe and burst-train check). It stays active while at least
// min_permille of its tries succeed, judged over windows of at least
// min_sample tries at each review (PMD housekeeping); once off, it is
// re-enabled for one review round in every probe_every, to notice when
// traffic changed.
//
// Design: two plain counters and a flag; record() is two adds, active() a
// load, so the check costs nothing next to the stage it guards.
//
// Thread-safety: owned by one PMD; not shared.
#pragma once

#include <cstdint>

namespace dps::datapath {

class AdaptiveStage {
 public:
  AdaptiveStage(uint64_t min_permille, uint64_t min_sample, unsigned probe_every)
      : min_permille_(min_permille), min_sample_(min_sample), probe_every_(probe_every) {}
  bool active() const { return active_; }
  void record(uint64_t tries, uint64_t wins) {
    tries_ += tries;
    wins_ += wins;
  }
  // Once per housekeeping round (round = its sequence number). Returns true
  // when the stage has just been turned off. may_disable = false keeps it on
  // (and the window running).
  bool review(uint64_t round, bool may_disable = true) {
    if (!active_) {
      if (round % probe_every_ == 0) active_ = true;
      return false;
    }
    if (tries_ < min_sample_) return false;
    bool pays = wins_ * 1000 >= tries_ * min_permille_;
    tries_ = wins_ = 0;
    if (pays || !may_disable) return false;
    active_ = false;
    return true;
  }

 private:
  uint64_t min_permille_;
  uint64_t min_sample_;
  unsigned probe_every_;
  bool active_ = true;
  uint64_t tries_ = 0;
  uint64_t wins_ = 0;
};

}  // namespace dps::datapath
