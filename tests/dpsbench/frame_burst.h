// frame_burst.h - received-burst views of built frames, for the rx tracker's
// tests and microbenchmarks.
//
// What: RxTracker::on_burst takes parallel arrays (frame pointers, lengths),
// as the rx loop fills them from mbufs; FrameBurst makes those arrays from
// frames held in vectors (FrameBuilder::build), in order.
// Design: a view: the pointers stay valid while the frames are neither
// destroyed nor resized.
// Thread-safety: a value; no shared state.
#pragma once

#include <cstdint>
#include <vector>

namespace dps::dpsbench::test {

struct FrameBurst {
  std::vector<const uint8_t*> ptrs;
  std::vector<uint16_t> lens;

  explicit FrameBurst(const std::vector<std::vector<uint8_t>>& frames) {
    for (auto& f : frames) {
      ptrs.push_back(f.data());
      lens.push_back(static_cast<uint16_t>(f.size()));
    }
  }
  unsigned size() const { return static_cast<unsigned>(ptrs.size()); }
};

}  // namespace dps::dpsbench::test
