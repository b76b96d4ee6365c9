// meter.h - OpenFlow meters in the datapath: per-PMD token buckets.
//
// What: a DpMeter is one meter as one PMD enforces it: a token bucket per
// band, the meter's input counters and each band's counters. A megaflow
// whose actions contain kMeter(id) runs its packet group through the PMD's
// DpMeter for id; packets over a drop band are freed, packets over a
// dscp_remark band get their DSCP drop precedence raised and go on.
// PmdMeters is a PMD's table of them, a fixed array indexed by datapath
// meter id (0..kMaxMeters-1); ofproto maps OpenFlow meter ids onto it.
//
// Design: OpenFlow 1.3 semantics (section 5.7): the band applied to a
// packet is the band with the highest rate among those the packet exceeds.
// Every band keeps its own bucket; a packet takes tokens from each band
// whose bucket holds its cost, and exceeds the others (as OVS's userspace
// datapath). Bands are kept sorted by rate, highest first, so the first band
// exceeded is the one applied. Units: packets (pktps) or bits (kbps; rate in
// 1000 bit/s, burst in 1000 bits). The bucket counts tokens scaled by the TSC
// frequency (unit x hz) in unsigned 128-bit integers: a refill is
// elapsed_tsc x rate and a packet costs units x hz, both exact, with no
// division, no rounding drift and no overflow for any 32-bit rate and burst.
// Buckets refill once per packet group (the PMD's per-burst TSC), start full,
// and hold `burst` units (OFPMF_BURST) or, without it, one second of the
// band's rate (as OVS), and a kbps bucket at least one full-size frame
// (kMeterMinBurstBits). Each PMD enforces the full rate on the packets it
// handles: a meter shared by flows on N PMDs lets up to N x rate through
// (no cross-core state, no lock; RSS keeps a flow on one PMD).
//
// Thread-safety: a DpMeter is built and freed by the control thread and
// mutated only by the PMD that holds it in its PmdMeters (which the PMD
// changes only when applying a command). Counters are single-writer relaxed
// atomics that any thread may read. PmdMeters: PMD-thread only; no locks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

struct rte_mbuf;

namespace dps::datapath {

// 4096 meters: controllers use one per tenant / port / traffic class, a few
// hundred in practice; the per-PMD table is then 32 KiB of pointers.
inline constexpr uint32_t kMaxMeters = 4096;
// 8 bands per meter: bands are rate tiers (remark above X, drop above Y);
// each costs a bucket check per packet, and a handful covers every use.
inline constexpr unsigned kMaxMeterBands = 8;
// The smallest kbps bucket (bits), or a frame that size could never pass:
// a 1518-byte Ethernet frame plus a VLAN tag. Smaller bursts are raised to it.
inline constexpr uint32_t kMeterMinBurstBits = 1522 * 8;

enum class MeterBandKind : uint8_t {
  kDrop,        // packets over the rate are dropped
  kDscpRemark,  // packets over the rate get prec_level added to their DSCP drop precedence
};

struct DpMeterBand {
  MeterBandKind kind = MeterBandKind::kDrop;
  uint8_t prec_level = 0;  // kDscpRemark
  uint32_t rate = 0;       // kbit/s or packets/s; > 0
  uint32_t burst = 0;      // kbit or packets; 0 = one second of rate
};

struct DpMeterConfig {
  bool pktps = false;              // false: kbps
  std::vector<DpMeterBand> bands;  // at most kMaxMeterBands, any order
};

struct DpMeterBandStats {
  uint64_t packets = 0;  // packets this band was applied to (dropped or remarked)
  uint64_t bytes = 0;
};

struct DpMeterStats {
  uint64_t packets = 0;  // packets that entered the meter
  uint64_t bytes = 0;
  std::vector<DpMeterBandStats> bands;  // in configuration order
};

class DpMeter {
 public:
  // Buckets start full at now_tsc; tsc_hz is the TSC frequency (tests
  // inject both).
  DpMeter(const DpMeterConfig& cfg, uint64_t tsc_hz, uint64_t now_tsc);
  DpMeter(const DpMeter&) = delete;
  DpMeter& operator=(const DpMeter&) = delete;

  // PMD: meters pkts[0..n) at now_tsc. Packets over a drop band are freed;
  // remarked and conforming packets are compacted to the front of pkts in
  // arrival order. Returns how many remain.
  unsigned run(rte_mbuf** pkts, unsigned n, uint64_t now_tsc);

  // The bucket arithmetic run() uses, for tests without mbufs: refill to
  // now_tsc, then decide one packet of `bytes`: -1 conforms, else the index
  // (configuration order) of the band applied. Counts the packet.
  void refill(uint64_t now_tsc);
  int admit(uint32_t bytes);

  // Any thread: counters so far.
  DpMeterStats stats() const;
  // PMD (when swapping a modified meter in): continue the counters of `old`
  // (the meter's totals, and bands by position).
  void carry_stats_from(const DpMeter& old);
  unsigned n_bands() const { return n_bands_; }
  // Tokens of band i (configuration order), in units (tests).
  double tokens(unsigned i) const;

 private:
  struct Band {
    unsigned __int128 tokens;    // units x hz
    unsigned __int128 capacity;  // burst units x hz
    uint64_t rate;               // units per second
    uint8_t cfg_index;           // position in the configuration (stats order)
    MeterBandKind kind;
    uint8_t prec_level;
  };
  // Single writer (the PMD): load + store, no locked instruction.
  static void bump(std::atomic<uint64_t>& c, uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  int decide(uint32_t bytes);  // index into bands_ (rate order), or -1

  std::array<Band, kMaxMeterBands> bands_{};  // by rate, highest first
  unsigned n_bands_ = 0;
  bool pktps_ = false;
  uint64_t hz_;
  uint64_t last_tsc_;
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::array<std::atomic<uint64_t>, kMaxMeterBands> band_packets_{};  // configuration order
  std::array<std::atomic<uint64_t>, kMaxMeterBands> band_bytes_{};
};

// A PMD's meters by datapath meter id. PMD-thread only; no locks.
class PmdMeters {
 public:
  DpMeter* get(uint32_t id) const { return id < kMaxMeters ? meters_[id] : nullptr; }
  // Installs m (null = remove) and returns the meter it replaces, for the
  // control thread to free. A replaced meter's counters carry over to m.
  DpMeter* swap(uint32_t id, DpMeter* m);

 private:
  std::array<DpMeter*, kMaxMeters> meters_{};
};

// Adds prec_level to the drop precedence of an RFC 2597 assured-forwarding
// DSCP (AFxy -> AFx(min(3, y + prec_level))); other codepoints are kept.
uint8_t meter_remark_dscp(uint8_t dscp, uint8_t prec_level);

}  // namespace dps::datapath
