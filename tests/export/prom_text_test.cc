#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "prom_text.h"

using namespace dps::exporter;

TEST_CASE("prom text: families grouped in declaration order with HELP and TYPE") {
  PromText p;
  auto rx = p.counter("dpswitch_port_rx_packets_total", "Packets received.");
  auto up = p.gauge("dpswitch_port_up", "1 when the link is up.");
  auto unused = p.gauge("dpswitch_unused", "No samples: left out.");
  (void)unused;
  // Interleaved, as a loop over ports adds them.
  p.add(rx, {{"port", "p1"}}, uint64_t{5});
  p.add(up, {{"port", "p1"}}, 1.0);
  p.add(rx, {{"port", "p2"}, {"port_no", "2"}}, uint64_t{18446744073709551615ull});
  p.add(up, {{"port", "p2"}}, 0.0);
  CHECK(p.text() ==
        "# HELP dpswitch_port_rx_packets_total Packets received.\n"
        "# TYPE dpswitch_port_rx_packets_total counter\n"
        "dpswitch_port_rx_packets_total{port=\"p1\"} 5\n"
        "dpswitch_port_rx_packets_total{port=\"p2\",port_no=\"2\"} 18446744073709551615\n"
        "# HELP dpswitch_port_up 1 when the link is up.\n"
        "# TYPE dpswitch_port_up gauge\n"
        "dpswitch_port_up{port=\"p1\"} 1\n"
        "dpswitch_port_up{port=\"p2\"} 0\n");
}

TEST_CASE("prom text: escaping, values without labels, doubles") {
  PromText p;
  auto g = p.gauge("g", "a \\ back\nslash");
  p.add(g, {{"v", "q\"uo\\te\nx"}}, 0.25);
  p.add(g, {}, std::numeric_limits<double>::quiet_NaN());
  p.add(g, {{"i", "1"}}, std::numeric_limits<double>::infinity());
  p.add(g, {{"i", "2"}}, -std::numeric_limits<double>::infinity());
  p.add(g, {{"i", "3"}}, 1e21);
  CHECK(p.text() ==
        "# HELP g a \\\\ back\\nslash\n"
        "# TYPE g gauge\n"
        "g{v=\"q\\\"uo\\\\te\\nx\"} 0.25\n"
        "g NaN\n"
        "g{i=\"1\"} +Inf\n"
        "g{i=\"2\"} -Inf\n"
        "g{i=\"3\"} 1e+21\n");
}

TEST_CASE("prom text: names are checked; counters end in _total; no family twice") {
  PromText p;
  CHECK_THROWS_WITH(p.gauge("1abc", ""), Catch::Contains("bad metric name"));
  CHECK_THROWS_WITH(p.gauge("a-b", ""), Catch::Contains("bad metric name"));
  CHECK_THROWS_WITH(p.counter("dpswitch_packets", ""), Catch::Contains("_total"));
  auto f = p.gauge("ns:metric_1", "");
  CHECK_THROWS_WITH(p.gauge("ns:metric_1", ""), Catch::Contains("declared twice"));
  CHECK_THROWS_WITH(p.add(f, {{"__reserved", "x"}}, 1.0), Catch::Contains("bad label name"));
  CHECK_THROWS_WITH(p.add(f, {{"a:b", "x"}}, 1.0), Catch::Contains("bad label name"));
  CHECK(PromText::valid_label_name("port_no"));
  CHECK_FALSE(PromText::valid_label_name(""));
}
