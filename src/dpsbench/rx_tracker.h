// rx_tracker.h - receive-side accounting: loss, reordering and duplicates
// from the payload tags' sequence numbers, and one-way latency.
//
// What: an RxTracker belongs to one receiving port. It keeps one
// SequenceTracker per stream (a stream is one sending port: the tag's stream
// id), and one latency histogram for the port. Accounting is therefore per
// (receiving port, stream); totals are sums over ports and streams. When a
// switch splits one stream across two receiving ports, each port sees gaps
// that are not losses: use the sender-side count (flowgen mode, or
// `tx - unique` across processes) for exact loss in such topologies.
//
// Design: a SequenceTracker keeps the highest sequence seen and a bitmap of
// the last kWindow sequences. A frame above the highest opens a gap counted
// as provisionally lost; a later frame that fills a gap is "reordered" and
// un-counts one loss; a frame whose bit is already set is a duplicate; a frame
// older than the window is counted as reordered (it cannot be checked for
// duplication). The first frame of a stream sets the origin: frames sent
// before the receiver started are not losses. 32-bit sequences are widened to
// 64 bits relative to the highest seen, so they survive wrap-around.
// Everything is fixed-size: no allocation per packet.
//
// Thread-safety: one writer (the lcore polling the port). Counters are
// relaxed atomics written with load+store, so the control thread may read
// them (and copy the histogram) at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "frame.h"
#include "latency_histogram.h"

namespace dps::dpsbench {

// Streams a receiver tracks (sending ports); tags with a higher id are counted
// as "foreign". 64 sending ports is far beyond any dpsbench setup.
inline constexpr unsigned kMaxStreams = 64;

struct SeqCounters {
  uint64_t received = 0;    // tagged frames, duplicates included
  uint64_t lost = 0;        // sequence gaps not (yet) filled
  uint64_t reordered = 0;   // frames that arrived after a higher sequence
  uint64_t duplicates = 0;
  uint64_t first_seq = 0;   // origin (the first sequence seen)
  uint64_t highest = 0;     // highest sequence seen (64-bit widened)
  uint64_t unique() const { return received - duplicates; }
};

class SequenceTracker {
 public:
  // 4096 sequences: far deeper than any reordering a switch or NIC causes
  // (a few bursts), and 512 bytes, so 64 streams stay in L2.
  static constexpr uint64_t kWindow = 4096;

  void on_seq(uint32_t seq32) {
    if (!started_) {
      started_ = true;
      highest_ = seq32;
      first_ = seq32;
      set(seq32);
      received_++;
      return;
    }
    received_++;
    uint64_t seq = highest_ + static_cast<int64_t>(static_cast<int32_t>(seq32 - static_cast<uint32_t>(highest_)));
    if (seq > highest_) {
      uint64_t gap = seq - highest_ - 1;
      lost_ += gap;
      if (gap >= kWindow) {
        bits_.fill(0);
      } else {
        for (uint64_t s = highest_ + 1; s < seq; s++) clear(s);
      }
      set(seq);
      highest_ = seq;
    } else if (highest_ - seq >= kWindow || seq < first_) {
      // Too old to check (or before the origin): a late frame.
      reordered_++;
      if (seq >= first_ && lost_) lost_--;
    } else if (test(seq)) {
      duplicates_++;
    } else {
      set(seq);
      reordered_++;
      if (lost_) lost_--;
    }
  }

  SeqCounters counters() const {
    SeqCounters c;
    c.received = received_;
    c.lost = lost_;
    c.reordered = reordered_;
    c.duplicates = duplicates_;
    c.first_seq = first_;
    c.highest = highest_;
    return c;
  }
  bool started() const { return started_; }

 private:
  void set(uint64_t s) { bits_[(s / 64) % kWords] |= uint64_t{1} << (s % 64); }
  void clear(uint64_t s) { bits_[(s / 64) % kWords] &= ~(uint64_t{1} << (s % 64)); }
  bool test(uint64_t s) const { return bits_[(s / 64) % kWords] >> (s % 64) & 1; }

  static constexpr uint64_t kWords = kWindow / 64;
  bool started_ = false;
  uint64_t highest_ = 0, first_ = 0;
  uint64_t received_ = 0, lost_ = 0, reordered_ = 0, duplicates_ = 0;
  std::array<uint64_t, kWords> bits_{};
};

// Per receiving port. Lives in memory owned by the control thread; written
// only by the port's rx lcore.
class RxTracker {
 public:
  // Accounts one received burst (frame data pointers and lengths without
  // FCS). Latency is kept in TSC cycles and converted when reporting.
  inline void on_burst(const uint8_t* const* data, const uint16_t* lens, unsigned n, uint64_t now_tsc);

  // Control thread: a consistent-enough copy of the counters.
  struct Snapshot {
    uint64_t packets = 0, bytes = 0, untagged = 0, foreign = 0;
    SeqCounters seq;  // summed over streams
    unsigned streams = 0;
  };
  Snapshot snapshot() const;
  SeqCounters stream(unsigned s) const;
  const LatencyHistogram& latency() const { return latency_; }

 private:
  static void bump(std::atomic<uint64_t>& a, uint64_t d) {
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  // Publishes one stream's counters for snapshot(); called once per burst.
  void publish(unsigned s);

  struct Published {
    std::atomic<uint64_t> received{0}, lost{0}, reordered{0}, duplicates{0}, first{0}, highest{0};
  };
  std::atomic<uint64_t> packets_{0}, bytes_{0}, untagged_{0}, foreign_{0};
  std::array<SequenceTracker, kMaxStreams> trackers_{};
  std::array<Published, kMaxStreams> published_{};
  LatencyHistogram latency_;
};

inline void RxTracker::on_burst(const uint8_t* const* data, const uint16_t* lens, unsigned n, uint64_t now) {
  uint64_t bytes = 0, untagged = 0, foreign = 0;
  uint64_t touched = 0;  // bitmap of streams seen in this burst
  uint64_t lats[64];
  unsigned n_lat = 0;
  if (n > 64) n = 64;  // callers pass one burst (<= 64)
  for (unsigned i = 0; i < n; i++) {
    bytes += lens[i] + kFcsLen;
    Tag tag;
    if (!find_tag(data[i], lens[i], &tag)) {
      untagged++;
      continue;
    }
    if (tag.stream >= kMaxStreams) {
      foreign++;
      continue;
    }
    trackers_[tag.stream].on_seq(tag.seq);
    touched |= uint64_t{1} << tag.stream;
    uint64_t lat = (now - tag.tsc48) & ((uint64_t{1} << 48) - 1);
    // A timestamp "from the future" (TSC skew between cores) reads as ~2^48.
    if (lat > (uint64_t{1} << 47)) lat = 0;
    lats[n_lat++] = lat;
  }
  latency_.record_many(lats, n_lat);
  bump(packets_, n);
  bump(bytes_, bytes);
  if (untagged) bump(untagged_, untagged);
  if (foreign) bump(foreign_, foreign);
  while (touched) {
    publish(static_cast<unsigned>(__builtin_ctzll(touched)));
    touched &= touched - 1;
  }
}

}  // namespace dps::dpsbench
