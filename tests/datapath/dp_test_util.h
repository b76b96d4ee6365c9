// dp_test_util.h - small pieces the datapath unit tests share: an mbuf
// header over a heap buffer (no pool, no EAL), one set-field applied to a
// frame and the frame comparison, and a flow from an arena.
#pragma once

#include <rte_mbuf.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "actions.h"
#include "dp_flow.h"
#include "flow_arena.h"
#include "flow_key.h"

namespace dps::test {

// An mbuf header over a heap buffer: headroom (filled with 0x77), the frame,
// then `tailroom` zero bytes (0: the buffer ends with the frame, so the
// sanitizer catches a read past it). rte_pktmbuf_prepend/adj/mtod need
// nothing more; freeing one needs a pool (it has none).
struct FakeMbuf {
  rte_mbuf m;
  std::unique_ptr<uint8_t[]> room;

  explicit FakeMbuf(const std::vector<uint8_t>& frame, uint16_t headroom = 128,
                    uint16_t tailroom = 0) {
    const size_t size = headroom + frame.size() + tailroom;
    room.reset(new uint8_t[size]);
    std::memset(room.get(), 0x77, headroom);
    if (!frame.empty()) std::memcpy(room.get() + headroom, frame.data(), frame.size());
    std::memset(room.get() + headroom + frame.size(), 0, tailroom);
    std::memset(&m, 0, sizeof m);
    m.buf_addr = room.get();
    m.buf_len = static_cast<uint16_t>(size);
    m.data_off = headroom;
    m.data_len = static_cast<uint16_t>(frame.size());
    m.pkt_len = m.data_len;
    m.nb_segs = 1;
    rte_mbuf_refcnt_set(&m, 1);
  }
  std::vector<uint8_t> bytes() const {
    const uint8_t* p = rte_pktmbuf_mtod(&m, const uint8_t*);
    return std::vector<uint8_t>(p, p + m.data_len);
  }
};

inline constexpr uint16_t kHeadroom = 128;

// Applies one action to a copy of frame (FakeMbuf, kHeadroom); returns the
// result (and whether the action reported that it applied).
inline std::vector<uint8_t> rewrite(const std::vector<uint8_t>& frame, const datapath::DpAction& a,
                                    bool* applied = nullptr) {
  FakeMbuf fm(frame, kHeadroom);
  bool ok = datapath::action_set_field(&fm.m, a);
  if (applied) *applied = ok;
  CHECK(fm.m.pkt_len == fm.m.data_len);
  return fm.bytes();
}

// " [i] got!=want" for each differing byte, or the sizes.
inline std::string hex_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  std::string s;
  char buf[40];
  for (size_t i = 0; i < a.size(); i++)
    if (a[i] != b[i]) {
      std::snprintf(buf, sizeof buf, " [%zu] %02x!=%02x", i, a[i], b[i]);
      s += buf;
    }
  return s;
}

#define CHECK_FRAME(got, want)                       \
  do {                                               \
    INFO("diff:" << dps::test::hex_diff(got, want)); \
    CHECK((got) == (want));                          \
  } while (0)

// A fresh flow of `arena` with mask and key & mask (not installed).
inline datapath::DpFlow* make_flow(datapath::FlowArena& arena, const datapath::FlowKey& key,
                                   const datapath::FlowMask& mask) {
  datapath::DpFlow* f = arena.alloc();
  REQUIRE(f != nullptr);
  f->mask = mask;
  datapath::flow_key_apply_mask(key, mask, &f->key);
  return f;
}

}  // namespace dps::test
