// pmd_counters.h - the PMD statistics, declared once.
//
// What: one list of counters; the enum index, the JSON/text names exported
// over JSON-RPC and the storage all come from it (like VPP's foreach_*_error).
//
// Design: the PMD updates its counters once per batch with relaxed
// load+store (single writer, no atomic read-modify-write, no lock prefix);
// readers take relaxed loads. "Clear" never touches the PMD: the reader keeps
// a baseline and subtracts it (as OVS pmd-stats-clear does).
//
// Thread-safety: add() from the owning PMD only; get() from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "compiler.h"

namespace dps::datapath {

#define DPS_PMD_COUNTERS(X)                                                        \
  X(kRxPackets, "packets", "packets received")                                     \
  X(kTrainHits, "train_hits", "same header as the previous packet: no lookup")     \
  X(kEmcHits, "emc_hits", "exact-match cache hits")                                \
  X(kSmcHits, "smc_hits", "signature-match cache hits")                            \
  X(kMegaflowHits, "megaflow_hits", "megaflow classifier hits")                    \
  X(kUpcalls, "upcalls", "misses sent to the ofproto thread")                      \
  X(kLostUpcalls, "failed_upcalls", "misses dropped: miss ring full")              \
  X(kSubtableLookups, "subtable_lookups", "megaflow subtables probed")             \
  X(kTxPackets, "tx_packets", "packets handed to ports")                           \
  X(kTxDropped, "tx_dropped", "packets a port did not accept")                     \
  X(kDropped, "dropped", "packets dropped by actions (drop, ttl)")                 \
  X(kBusyCycles, "busy_cycles", "TSC cycles of iterations that received packets") \
  X(kIdleCycles, "idle_cycles", "TSC cycles of iterations that received nothing")  \
  X(kIterations, "iterations", "poll loop iterations")                             \
  X(kCommands, "commands", "commands applied from the command ring")               \
  X(kRecirculated, "recirculated", "packets classified again after tnl_pop")        \
  X(kRecircDropped, "recirc_dropped", "recirculations dropped: queue full or too deep") \
  X(kTnlPopErrors, "tnl_pop_errors", "tunnel packets dropped: bad outer headers")   \
  X(kTnlPushErrors, "tnl_push_errors", "encapsulations dropped: over the MTU or no headroom")

enum PmdCounter : unsigned {
#define DPS_X(id, name, help) id,
  DPS_PMD_COUNTERS(DPS_X)
#undef DPS_X
  kNumPmdCounters
};

struct PmdCounterInfo {
  std::string_view name;
  std::string_view help;
};

inline constexpr std::array<PmdCounterInfo, kNumPmdCounters> kPmdCounterInfo = {{
#define DPS_X(id, name, help) {name, help},
    DPS_PMD_COUNTERS(DPS_X)
#undef DPS_X
}};

class alignas(kCacheLine) PmdCounters {
 public:
  void add(PmdCounter c, uint64_t v) {
    auto& a = v_[c];
    a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  void set_max(PmdCounter c, uint64_t v) {
    auto& a = v_[c];
    if (v > a.load(std::memory_order_relaxed)) a.store(v, std::memory_order_relaxed);
  }
  uint64_t get(PmdCounter c) const { return v_[c].load(std::memory_order_relaxed); }
  std::array<uint64_t, kNumPmdCounters> snapshot() const {
    std::array<uint64_t, kNumPmdCounters> s{};
    for (unsigned i = 0; i < kNumPmdCounters; i++) s[i] = v_[i].load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kNumPmdCounters> v_{};
};

}  // namespace dps::datapath
