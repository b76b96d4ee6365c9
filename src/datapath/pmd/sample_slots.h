// sample_slots.h - the per-PMD state of the datapath's 1-in-N sampling
// (ActType::kSample).
//
// What: SampleSlots holds, per sampler slot (0..kMaxSampleSlots-1; the
// control thread gives each sampler, e.g. a bridge's sFlow, one slot and
// names it in the action), a countdown to the next sampled packet and three
// counters: the packets the sampler saw (sFlow's sample pool), the packets
// it sampled into the miss ring, and the samples lost because that ring was
// full.
// Design: deterministic 1-in-N as OVS-DPDK's per-packet random test is not:
// no random call, one subtraction per packet group. Each slot's countdown
// starts at N and counts the group's packets down; every time it reaches
// zero the packet there is sampled and it restarts at N, so exactly every
// Nth packet a PMD sees through that sampler is sampled (a change of N
// takes effect at once: a countdown above N is cut to N). The counters are
// relaxed atomics written by the PMD alone.
// Thread-safety: countdowns are the owning PMD's alone; the counters are
// read by anyone (relaxed loads).
#pragma once

#include <atomic>
#include <cstdint>

namespace dps::datapath {

inline constexpr unsigned kMaxSampleSlots = 64;

// Counters of one slot, summed over the PMDs by Datapath::sample_counters.
struct SampleCounters {
  uint64_t pool = 0;     // packets seen by the sampler
  uint64_t sampled = 0;  // packets sent to the ofproto thread
  uint64_t lost = 0;     // samples dropped: miss ring full
};

class SampleSlots {
 public:
  // Positions (< n) of the packets of a group of n to sample at 1 in rate
  // (rate >= 1) into pos; returns how many. Counts the pool.
  unsigned pick(unsigned slot, uint32_t rate, unsigned n, uint8_t* pos) {
    Slot& s = slots_[slot % kMaxSampleSlots];
    uint32_t c = s.countdown;
    if (c == 0 || c > rate) c = rate;
    unsigned k = 0;
    unsigned i = 0;
    while (c <= n - i) {
      i += c;
      pos[k++] = static_cast<uint8_t>(i - 1);
      c = rate;
    }
    s.countdown = c - (n - i);
    bump(s.pool, n);
    return k;
  }
  void count(unsigned slot, unsigned sampled, unsigned lost) {
    Slot& s = slots_[slot % kMaxSampleSlots];
    if (sampled) bump(s.sampled, sampled);
    if (lost) bump(s.lost, lost);
  }
  void add_to(unsigned slot, SampleCounters* out) const {
    const Slot& s = slots_[slot % kMaxSampleSlots];
    out->pool += s.pool.load(std::memory_order_relaxed);
    out->sampled += s.sampled.load(std::memory_order_relaxed);
    out->lost += s.lost.load(std::memory_order_relaxed);
  }

 private:
  static void bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  struct Slot {
    uint32_t countdown = 0;
    std::atomic<uint64_t> pool{0};
    std::atomic<uint64_t> sampled{0};
    std::atomic<uint64_t> lost{0};
  };
  Slot slots_[kMaxSampleSlots];
};

}  // namespace dps::datapath
