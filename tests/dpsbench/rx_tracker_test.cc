// Coverage goal: the sequence tracker classifies in-order, lost, reordered,
// duplicate, very late and wrapped sequences as documented; RxTracker splits
// streams by tag, counts untagged and foreign frames and records latency.
#include <catch2/catch.hpp>

#include "frame.h"
#include "frame_burst.h"
#include "rx_tracker.h"

using namespace dps::dpsbench;

TEST_CASE("sequence tracker counts loss, reordering and duplicates", "[dpsbench]") {
  SequenceTracker t;
  for (uint32_t s = 10; s < 20; s++) t.on_seq(s);  // origin 10: 0..9 are not losses
  auto c = t.counters();
  CHECK(c.received == 10);
  CHECK(c.lost == 0);
  CHECK(c.first_seq == 10);
  t.on_seq(25);  // 20..24 missing
  CHECK(t.counters().lost == 5);
  t.on_seq(22);  // fills a gap: reordered
  c = t.counters();
  CHECK(c.lost == 4);
  CHECK(c.reordered == 1);
  t.on_seq(22);  // again: duplicate
  t.on_seq(25);
  c = t.counters();
  CHECK(c.duplicates == 2);
  CHECK(c.lost == 4);
  CHECK(c.unique() == 12);
  // A frame older than the window is late, not checkable for duplication.
  t.on_seq(25 + SequenceTracker::kWindow + 10);
  t.on_seq(21);
  c = t.counters();
  CHECK(c.reordered == 2);
  CHECK(c.lost == 4 + SequenceTracker::kWindow + 9 - 1);
}

TEST_CASE("sequence tracker survives 32-bit wrap-around", "[dpsbench]") {
  SequenceTracker t;
  for (uint32_t s = 0xfffffff0u; s != 0x10u; s++) t.on_seq(s);
  auto c = t.counters();
  CHECK(c.received == 32);
  CHECK(c.lost == 0);
  CHECK(c.reordered == 0);
  CHECK(c.highest == 0x10000000full);
}

TEST_CASE("rx tracker accounts per stream and records latency", "[dpsbench]") {
  TrafficProfile p;
  p.finalize();
  FrameBuilder s0(p, 0), s1(p, 1), s99(p, 99);
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 8; i++) frames.push_back(s0.build(0, 0, i, 1000 + i));
  for (uint32_t i = 0; i < 4; i++) frames.push_back(s1.build(0, 0, i * 2, 1000));  // every other one lost
  frames.push_back(s99.build(0, 0, 0, 0));                                       // foreign stream id
  frames.push_back(std::vector<uint8_t>(60, 0));                                 // not ours
  test::FrameBurst burst(frames);
  auto rx = std::make_unique<RxTracker>();
  rx->on_burst(burst.ptrs.data(), burst.lens.data(), burst.size(), 2000);
  auto snap = rx->snapshot();
  CHECK(snap.packets == 14);
  CHECK(snap.bytes == 14 * 64);
  CHECK(snap.untagged == 1);
  CHECK(snap.foreign == 1);
  CHECK(snap.streams == 2);
  CHECK(rx->stream(0).received == 8);
  CHECK(rx->stream(0).lost == 0);
  CHECK(rx->stream(1).received == 4);
  CHECK(rx->stream(1).lost == 3);
  CHECK(snap.seq.lost == 3);
  CHECK(rx->latency().count() == 12);
  CHECK(rx->latency().min() == 2000 - 1007);
  CHECK(rx->latency().max() == 1000);
  // TSC wrap of the 48-bit stamp: sent just before, received just after.
  auto rx2 = std::make_unique<RxTracker>();
  auto f = s0.build(0, 0, 0, (uint64_t{1} << 48) - 10);
  const uint8_t* fp = f.data();
  uint16_t fl = static_cast<uint16_t>(f.size());
  rx2->on_burst(&fp, &fl, 1, (uint64_t{5} << 48) + 5);
  CHECK(rx2->latency().max() == 15);
}
