#include "rx_tracker.h"

namespace dps::dpsbench {

void RxTracker::publish(unsigned s) {
  SeqCounters c = trackers_[s].counters();
  Published& p = published_[s];
  p.received.store(c.received, std::memory_order_relaxed);
  p.lost.store(c.lost, std::memory_order_relaxed);
  p.reordered.store(c.reordered, std::memory_order_relaxed);
  p.duplicates.store(c.duplicates, std::memory_order_relaxed);
  p.first.store(c.first_seq, std::memory_order_relaxed);
  p.highest.store(c.highest, std::memory_order_relaxed);
}

SeqCounters RxTracker::stream(unsigned s) const {
  const Published& p = published_[s];
  SeqCounters c;
  c.received = p.received.load(std::memory_order_relaxed);
  c.lost = p.lost.load(std::memory_order_relaxed);
  c.reordered = p.reordered.load(std::memory_order_relaxed);
  c.duplicates = p.duplicates.load(std::memory_order_relaxed);
  c.first_seq = p.first.load(std::memory_order_relaxed);
  c.highest = p.highest.load(std::memory_order_relaxed);
  return c;
}

RxTracker::Snapshot RxTracker::snapshot() const {
  Snapshot s;
  s.packets = packets_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.untagged = untagged_.load(std::memory_order_relaxed);
  s.foreign = foreign_.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < kMaxStreams; i++) {
    SeqCounters c = stream(i);
    if (!c.received) continue;
    s.streams++;
    s.seq.received += c.received;
    s.seq.lost += c.lost;
    s.seq.reordered += c.reordered;
    s.seq.duplicates += c.duplicates;
  }
  return s;
}

}  // namespace dps::dpsbench
