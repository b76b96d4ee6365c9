#include "meter.h"

#include <rte_mbuf.h>

#include <algorithm>

#include "actions.h"

namespace dps::datapath {

uint8_t meter_remark_dscp(uint8_t dscp, uint8_t prec_level) {
  const unsigned cls = dscp >> 3, drop = (dscp >> 1) & 3;
  if (cls < 1 || cls > 4 || drop == 0 || (dscp & 1)) return dscp;  // not AFxy
  const unsigned d = std::min(3u, drop + prec_level);
  return static_cast<uint8_t>((cls << 3) | (d << 1));
}

DpMeter::DpMeter(const DpMeterConfig& cfg, uint64_t tsc_hz, uint64_t now_tsc)
    : pktps_(cfg.pktps), hz_(tsc_hz), last_tsc_(now_tsc) {
  n_bands_ = static_cast<unsigned>(std::min<size_t>(cfg.bands.size(), kMaxMeterBands));
  for (unsigned i = 0; i < n_bands_; i++) {
    const DpMeterBand& b = cfg.bands[i];
    Band& x = bands_[i];
    // kbps: 1000 bits; pktps: packets.
    const uint64_t scale = pktps_ ? 1 : 1000;
    x.rate = uint64_t{b.rate} * scale;
    uint64_t burst = b.burst ? uint64_t{b.burst} * scale : x.rate;  // default: one second
    if (!pktps_) burst = std::max<uint64_t>(burst, kMeterMinBurstBits);
    x.capacity = static_cast<unsigned __int128>(burst) * hz_;
    x.tokens = x.capacity;
    x.cfg_index = static_cast<uint8_t>(i);
    x.kind = b.kind;
    x.prec_level = b.prec_level;
  }
  // Highest rate first: the first band a packet exceeds is the one applied.
  std::stable_sort(bands_.begin(), bands_.begin() + n_bands_,
                   [](const Band& a, const Band& b) { return a.rate > b.rate; });
}

void DpMeter::refill(uint64_t now_tsc) {
  if (now_tsc <= last_tsc_) return;  // same burst, or a TSC read before ours
  const uint64_t elapsed = now_tsc - last_tsc_;
  last_tsc_ = now_tsc;
  for (unsigned i = 0; i < n_bands_; i++) {
    Band& b = bands_[i];
    // elapsed < 2^64 and rate < 2^42: the product fits 128 bits.
    const unsigned __int128 add = static_cast<unsigned __int128>(elapsed) * b.rate;
    b.tokens = b.capacity - b.tokens <= add ? b.capacity : b.tokens + add;
  }
}

int DpMeter::decide(uint32_t bytes) {
  const uint64_t units = pktps_ ? 1 : uint64_t{bytes} * 8;
  const unsigned __int128 cost = static_cast<unsigned __int128>(units) * hz_;
  int applied = -1;
  for (unsigned i = 0; i < n_bands_; i++) {
    Band& b = bands_[i];
    if (b.tokens >= cost)
      b.tokens -= cost;
    else if (applied < 0)
      applied = static_cast<int>(i);  // the highest-rate band exceeded
  }
  return applied;
}

int DpMeter::admit(uint32_t bytes) {
  bump(packets_, 1);
  bump(bytes_, bytes);
  const int i = decide(bytes);
  if (i < 0) return -1;
  const unsigned c = bands_[i].cfg_index;
  bump(band_packets_[c], 1);
  bump(band_bytes_[c], bytes);
  return static_cast<int>(c);
}

unsigned DpMeter::run(rte_mbuf** pkts, unsigned n, uint64_t now_tsc) {
  refill(now_tsc);
  uint64_t in_bytes = 0;
  uint64_t band_pkts[kMaxMeterBands] = {};
  uint64_t band_bytes[kMaxMeterBands] = {};
  rte_mbuf* dropped[64];
  unsigned n_dropped = 0, kept = 0;
  for (unsigned k = 0; k < n; k++) {
    rte_mbuf* m = pkts[k];
    const uint32_t len = rte_pktmbuf_pkt_len(m);
    in_bytes += len;
    const int i = decide(len);
    if (i < 0) {
      pkts[kept++] = m;
      continue;
    }
    const Band& b = bands_[i];
    band_pkts[b.cfg_index]++;
    band_bytes[b.cfg_index] += len;
    if (b.kind == MeterBandKind::kDscpRemark) {
      action_remark_dscp(m, b.prec_level);
      pkts[kept++] = m;
    } else {
      dropped[n_dropped++] = m;
      if (n_dropped == 64) {
        rte_pktmbuf_free_bulk(dropped, n_dropped);
        n_dropped = 0;
      }
    }
  }
  if (n_dropped) rte_pktmbuf_free_bulk(dropped, n_dropped);
  // Counters once per group.
  bump(packets_, n);
  bump(bytes_, in_bytes);
  for (unsigned c = 0; c < n_bands_; c++) {
    if (!band_pkts[c]) continue;
    bump(band_packets_[c], band_pkts[c]);
    bump(band_bytes_[c], band_bytes[c]);
  }
  return kept;
}

DpMeterStats DpMeter::stats() const {
  DpMeterStats s;
  s.packets = packets_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.bands.resize(n_bands_);
  for (unsigned c = 0; c < n_bands_; c++) {
    s.bands[c].packets = band_packets_[c].load(std::memory_order_relaxed);
    s.bands[c].bytes = band_bytes_[c].load(std::memory_order_relaxed);
  }
  return s;
}

void DpMeter::carry_stats_from(const DpMeter& old) {
  bump(packets_, old.packets_.load(std::memory_order_relaxed));
  bump(bytes_, old.bytes_.load(std::memory_order_relaxed));
  const unsigned n = std::min(n_bands_, old.n_bands_);
  for (unsigned c = 0; c < n; c++) {
    bump(band_packets_[c], old.band_packets_[c].load(std::memory_order_relaxed));
    bump(band_bytes_[c], old.band_bytes_[c].load(std::memory_order_relaxed));
  }
}

double DpMeter::tokens(unsigned i) const {
  for (unsigned k = 0; k < n_bands_; k++)
    if (bands_[k].cfg_index == i) return static_cast<double>(bands_[k].tokens) / static_cast<double>(hz_);
  return 0;
}

DpMeter* PmdMeters::swap(uint32_t id, DpMeter* m) {
  if (id >= kMaxMeters) return m;  // refused: hand it back
  DpMeter* old = meters_[id];
  if (m && old) m->carry_stats_from(*old);
  meters_[id] = m;
  return old;
}

}  // namespace dps::datapath
