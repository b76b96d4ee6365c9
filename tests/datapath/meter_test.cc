// meter_test.cc - the meter token buckets without an EAL: TSC and TSC
// frequency injected, packets given by size (DpMeter::refill / admit, the
// arithmetic DpMeter::run uses). Coverage goal: rate and burst in pktps and
// kbps, the default burst, buckets that never overfill, band choice (highest
// rate exceeded), per-band counters, counters carried over a modify, the AF
// DSCP remark rule, and the datapath action's text form.
// meter_eal_test.cc runs real mbufs through DpMeter::run and a PMD.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "actions.h"
#include "dp_flow_text.h"
#include "meter.h"

using namespace dps::datapath;

namespace {

// A 1 MHz "TSC": one tick per microsecond keeps the arithmetic readable.
constexpr uint64_t kHz = 1'000'000;
constexpr uint64_t kMs = kHz / 1000;

DpMeterConfig one_band(bool pktps, uint32_t rate, uint32_t burst,
                       MeterBandKind kind = MeterBandKind::kDrop, uint8_t prec = 0) {
  DpMeterConfig c;
  c.pktps = pktps;
  c.bands.push_back(DpMeterBand{kind, prec, rate, burst});
  return c;
}

// Offers `n` packets of `bytes` at time t; returns how many conformed.
unsigned offer(DpMeter& m, uint64_t t, unsigned n, uint32_t bytes = 64) {
  m.refill(t);
  unsigned ok = 0;
  for (unsigned i = 0; i < n; i++) ok += m.admit(bytes) < 0;
  return ok;
}

}  // namespace

TEST_CASE("pktps: a full bucket passes the burst, then the rate", "[datapath][meter]") {
  DpMeter m(one_band(true, 1000, 100), kHz, 0);
  CHECK(m.tokens(0) == Approx(100));
  // All at once: exactly the burst.
  CHECK(offer(m, 0, 500) == 100);
  // 10 ms later: 10 tokens at 1000/s.
  CHECK(offer(m, 10 * kMs, 500) == 10);
  // One second of 32-packet bursts every millisecond: the rate, +-1.
  unsigned passed = 0;
  for (uint64_t t = 11; t <= 1010; t++) passed += offer(m, t * kMs, 32);
  CHECK(passed == 1000);
  const DpMeterStats s = m.stats();
  CHECK(s.packets == 500 + 500 + 1000 * 32);
  CHECK(s.bytes == s.packets * 64);
  REQUIRE(s.bands.size() == 1);
  CHECK(s.bands[0].packets == s.packets - 100 - 10 - 1000);
  CHECK(s.bands[0].bytes == s.bands[0].packets * 64);
}

TEST_CASE("the bucket never holds more than the burst", "[datapath][meter]") {
  DpMeter m(one_band(true, 1000, 20), kHz, 0);
  CHECK(offer(m, 0, 100) == 20);
  // An hour idle refills only up to the burst.
  CHECK(offer(m, 3600 * kHz, 100) == 20);
  CHECK(m.tokens(0) == Approx(0));
  // A TSC value before the last refill (another core's read) adds nothing.
  CHECK(offer(m, 3600 * kHz - 5 * kMs, 100) == 0);
}

TEST_CASE("pktps below the offered rate: the long-run pass rate is the meter rate",
          "[datapath][meter]") {
  // 250 pktps offered 1000 pktps (one packet per ms) for 4 s.
  DpMeter m(one_band(true, 250, 1), kHz, 0);
  unsigned passed = 0;
  for (uint64_t t = 1; t <= 4000; t++) passed += offer(m, t * kMs, 1);
  CHECK(passed >= 999);
  CHECK(passed <= 1001);
}

TEST_CASE("kbps meters count bits and ignore the packet count", "[datapath][meter]") {
  // 800 kbit/s = 100000 bytes/s; burst 100 kbit = 12500 bytes.
  DpMeter m(one_band(false, 800, 100), kHz, 0);
  CHECK(m.tokens(0) == Approx(100000));  // bits
  // 1250-byte frames: 10 fit the burst.
  CHECK(offer(m, 0, 50, 1250) == 10);
  // 100 ms: 10000 bytes = 8 such frames, or 156 64-byte frames.
  CHECK(offer(m, 100 * kMs, 50, 1250) == 8);
  CHECK(offer(m, 200 * kMs, 500, 64) == 156);
  // One second of 1250-byte frames every ms: 100000 bytes/s = 80 frames.
  unsigned passed = 0;
  for (uint64_t t = 201; t <= 1200; t++) passed += offer(m, t * kMs, 1, 1250);
  CHECK(passed >= 79);
  CHECK(passed <= 81);
}

TEST_CASE("without a burst the bucket holds one second of the rate", "[datapath][meter]") {
  DpMeter p(one_band(true, 300, 0), kHz, 0);
  CHECK(offer(p, 0, 1000) == 300);
  // kbps: one second of 1000 kbit/s = 1e6 bits.
  DpMeter k(one_band(false, 1000, 0), kHz, 0);
  CHECK(k.tokens(0) == Approx(1e6));
  // A rate below one frame per second still holds one full-size frame.
  DpMeter tiny(one_band(false, 1, 0), kHz, 0);
  CHECK(tiny.tokens(0) == Approx(kMeterMinBurstBits));
  CHECK(offer(tiny, 0, 2, 1522) == 1);
}

TEST_CASE("real TSC frequencies: no overflow at the extremes", "[datapath][meter]") {
  const uint64_t hz = 3'500'000'000ull;
  // The largest kbps rate and burst: the bucket is ~4.3e12 bits x 3.5e9.
  DpMeter big(one_band(false, 0xffffffffu, 0xffffffffu), hz, 1000);
  CHECK(big.tokens(0) == Approx(4294967295.0 * 1000));
  CHECK(offer(big, 1000, 1000, 9000) == 1000);
  // A year of elapsed TSC refills without wrapping.
  DpMeter slow(one_band(true, 1, 5), hz, 0);
  CHECK(offer(slow, 0, 10) == 5);
  CHECK(offer(slow, hz * 86400 * 365, 10) == 5);
  // 1 pktps at 3.5 GHz: a packet 0.9 s later does not pass, 1 s later does.
  CHECK(offer(slow, hz * 86400 * 365 + hz * 9 / 10, 1) == 0);
  CHECK(offer(slow, hz * 86400 * 365 + hz, 1) == 1);
}

TEST_CASE("bands: the highest-rate band exceeded applies", "[datapath][meter]") {
  // Configured out of rate order: remark above 100 pktps, drop above 200.
  DpMeterConfig c;
  c.pktps = true;
  c.bands.push_back(DpMeterBand{MeterBandKind::kDscpRemark, 1, 100, 10});
  c.bands.push_back(DpMeterBand{MeterBandKind::kDrop, 0, 200, 20});
  DpMeter m(c, kHz, 0);
  // 30 at once: 10 conform, 10 exceed only the remark band, 10 exceed both.
  m.refill(0);
  std::vector<int> got;
  for (int i = 0; i < 30; i++) got.push_back(m.admit(64));
  CHECK(std::count(got.begin(), got.end(), -1) == 10);
  CHECK(std::count(got.begin(), got.end(), 0) == 10);  // index = configuration order
  CHECK(std::count(got.begin(), got.end(), 1) == 10);
  // Order: conforming first, then remarked, then dropped.
  CHECK(got[9] == -1);
  CHECK(got[10] == 0);
  CHECK(got[29] == 1);
  DpMeterStats s = m.stats();
  CHECK(s.packets == 30);
  REQUIRE(s.bands.size() == 2);
  CHECK(s.bands[0].packets == 10);
  CHECK(s.bands[1].packets == 10);
  CHECK(s.bands[1].bytes == 640);
}

TEST_CASE("a meter without bands only counts", "[datapath][meter]") {
  DpMeterConfig c;
  c.pktps = true;
  DpMeter m(c, kHz, 0);
  CHECK(offer(m, 0, 1000, 100) == 1000);
  CHECK(m.stats().packets == 1000);
  CHECK(m.stats().bytes == 100000);
  CHECK(m.stats().bands.empty());
}

TEST_CASE("a replaced meter's counters carry over; buckets start full", "[datapath][meter]") {
  PmdMeters table;
  auto* a = new DpMeter(one_band(true, 10, 10), kHz, 0);
  CHECK(table.swap(7, a) == nullptr);
  CHECK(table.get(7) == a);
  CHECK(offer(*a, 0, 25) == 10);
  auto* b = new DpMeter(one_band(true, 50, 50), kHz, 0);
  DpMeter* old = table.swap(7, b);
  CHECK(old == a);
  delete old;
  CHECK(table.get(7) == b);
  CHECK(b->stats().packets == 25);
  CHECK(b->stats().bands[0].packets == 15);
  CHECK(offer(*b, 0, 60) == 50);
  CHECK(b->stats().packets == 85);
  CHECK(table.swap(7, nullptr) == b);
  CHECK(table.get(7) == nullptr);
  delete b;
  CHECK(table.get(kMaxMeters) == nullptr);
}

TEST_CASE("dscp remark raises the AF drop precedence only", "[datapath][meter]") {
  // AF11 = 10, AF12 = 12, AF13 = 14, AF41 = 34, AF43 = 38.
  CHECK(meter_remark_dscp(10, 1) == 12);
  CHECK(meter_remark_dscp(10, 2) == 14);
  CHECK(meter_remark_dscp(12, 3) == 14);  // capped at the highest precedence
  CHECK(meter_remark_dscp(14, 1) == 14);
  CHECK(meter_remark_dscp(34, 2) == 38);
  CHECK(meter_remark_dscp(0, 1) == 0);    // best effort
  CHECK(meter_remark_dscp(46, 1) == 46);  // EF
  CHECK(meter_remark_dscp(48, 1) == 48);  // CS6
  CHECK(meter_remark_dscp(8, 1) == 8);    // CS1 (drop precedence 0)
  CHECK(meter_remark_dscp(11, 1) == 11);  // not a standard codepoint
}

TEST_CASE("the meter action's text form", "[datapath][meter]") {
  DpActions a;
  a.add(act_meter(5));
  a.add(act_output(2));
  CHECK(format_actions(a) == "meter(5),output:2");
  DpActions p = parse_dp_actions("meter:5,output:2");
  CHECK(p == a);
}
