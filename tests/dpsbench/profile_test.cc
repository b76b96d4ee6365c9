// Coverage goal: every profile key parses from JSON and from flags, defaults
// resolve as documented, and every kind of bad value is rejected with a
// message naming the field and the value.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

#include "profile.h"

using namespace dps::dpsbench;
using Catch::Matchers::Contains;

TEST_CASE("rates parse in pps, with suffixes, as percentages and unlimited", "[dpsbench]") {
  CHECK(parse_rate("1000000", "rate").value == 1e6);
  CHECK(parse_rate("2.5mpps", "rate").value == 2.5e6);
  CHECK(parse_rate("500kpps", "rate").value == 5e5);
  CHECK(parse_rate("3M", "rate").value == 3e6);
  auto p = parse_rate("40%", "rate");
  CHECK(p.kind == RateKind::kPercent);
  CHECK(p.value == 40);
  CHECK(parse_rate("unlimited", "rate").kind == RateKind::kUnlimited);
  CHECK_THROWS_WITH(parse_rate("5xpps", "rate"), Contains("rate: '5xpps' is not a rate"));
  CHECK_THROWS_WITH(parse_rate("150%", "rate"), Contains("percentage in (0, 100]"));
  CHECK_THROWS_WITH(parse_rate("-3", "rate"), Contains("'-3'"));
}

TEST_CASE("durations, counts, speeds and addresses parse", "[dpsbench]") {
  CHECK(parse_duration("10", "d") == 10);
  CHECK(parse_duration("500ms", "d") == Approx(0.5));
  CHECK(parse_duration("2m", "d") == 120);
  CHECK(parse_count("10m", "packets") == 10000000);
  CHECK(parse_count("2k", "packets") == 2000);
  CHECK_THROWS_WITH(parse_count("1.5", "packets"), Contains("packets: '1.5'"));
  CHECK(parse_link_speed("25g", "l") == 25);
  CHECK(parse_link_speed("1000m", "l") == Approx(1));
  CHECK(format_mac(parse_mac("02:aa:bb:cc:dd:0f", "m")) == "02:aa:bb:cc:dd:0f");
  CHECK_THROWS_WITH(parse_mac("02:aa:bb:cc:dd", "src_mac"), Contains("src_mac: '02:aa:bb:cc:dd' is not a MAC"));
  CHECK(parse_ipv4("10.1.2.3", "ip") == 0x0a010203);
  CHECK_THROWS_WITH(parse_ipv4("10.1.2.300", "dst_ip"), Contains("dst_ip: '10.1.2.300'"));
  CHECK(format_ipv6(parse_ipv6("fd00::5", "ip")) == "fd00::5");
}

TEST_CASE("a JSON profile sets every field", "[dpsbench]") {
  auto doc = nlohmann::json::parse(R"({
    "flows": 1024, "src_ip": "192.168.0.1", "dst_ip": "192.168.1.1",
    "src_mac": "02:00:00:00:00:aa", "dst_port": 4789,
    "vary": {"src_ip": 64, "dst_port": 16},
    "vlan": [100], "vlan_pcp": 3,
    "frame_size": "imix", "rate": "50%", "link_speed": "25g",
    "duration": "5s", "packets": "1m"})");
  TrafficProfile p = parse_profile_json(doc, "t.json");
  p.finalize();
  CHECK(p.flows == 1024);
  CHECK(p.src_ip4 == 0xc0a80001);
  CHECK(p.dst_port == 4789);
  CHECK(p.vary[static_cast<unsigned>(Field::kSrcIp)] == 64);
  CHECK(p.vary[static_cast<unsigned>(Field::kDstPort)] == 16);
  CHECK(p.vlans == std::vector<uint16_t>{100});
  CHECK(p.vlan_pcp == 3);
  CHECK(p.imix);
  CHECK(p.frame_sizes.size() == 12);
  CHECK(p.mean_frame_size() == Approx((7 * 64 + 4 * 594 + 1518) / 12.0));
  // 50% of 25 Gbit/s over the IMIX mean frame plus 20 B of wire overhead.
  CHECK(p.rate_pps() == Approx(0.5 * 25e9 / ((p.mean_frame_size() + 20) * 8)));
  CHECK(p.duration_s == 5);
  CHECK(p.packets == 1000000);
  // Round trip through to_json().
  TrafficProfile q = parse_profile_json(
      [&] {
        auto j = p.to_json();
        j.erase("link_speed_gbps");
        j.erase("duration_s");
        j["link_speed"] = p.link_gbps;
        j["duration"] = p.duration_s;
        j["l3"] = "ipv4";
        return j;
      }(),
      "roundtrip");
  q.finalize();
  CHECK(q.to_json() == p.to_json());
}

TEST_CASE("flags override the file and defaults resolve", "[dpsbench]") {
  TrafficProfile p;
  REQUIRE(apply_profile_flag(p, "--flows", "100"));
  REQUIRE(apply_profile_flag(p, "frame-size", "80,128,1518"));
  REQUIRE(apply_profile_flag(p, "src-ip", "fd00::10"));
  CHECK_FALSE(apply_profile_flag(p, "no-such-flag", "1"));
  p.finalize();
  CHECK(p.ipv6);
  CHECK(p.frame_sizes == std::vector<uint16_t>{80, 128, 1518});
  // flows > 1 and nothing varies: src_ip takes `flows` values.
  CHECK(p.vary[static_cast<unsigned>(Field::kSrcIp)] == 100);
  TrafficProfile v;
  apply_profile_flag(v, "flows", "10");
  apply_profile_flag(v, "vary", "dst_port");  // count omitted -> flows
  v.finalize();
  CHECK(v.vary[static_cast<unsigned>(Field::kDstPort)] == 10);
  CHECK(v.vary[static_cast<unsigned>(Field::kSrcIp)] == 1);
}

TEST_CASE("bad profiles fail with precise errors", "[dpsbench]") {
  auto fails = [](const char* text) {
    TrafficProfile p = parse_profile_json(nlohmann::json::parse(text), "bad.json");
    p.finalize();
  };
  CHECK_THROWS_WITH(fails(R"({"flowz": 3})"), Contains("bad.json: unknown key 'flowz'"));
  CHECK_THROWS_WITH(fails(R"({"frame_size": 32})"), Contains("frame_size: '32'"));
  CHECK_THROWS_WITH(fails(R"({"frame_size": 64, "l3": "ipv6"})"),
                    Contains("64 bytes is too small for IPv6/UDP") && Contains("minimum is 80"));
  CHECK_THROWS_WITH(fails(R"({"frame_size": 64, "vlan": [1, 2]})"), Contains("minimum is 68"));
  CHECK_THROWS_WITH(fails(R"({"flows": 100, "vary": {"src_port": 4, "dst_port": 4}})"),
                    Contains("only 16 distinct flows but flows is 100"));
  CHECK_THROWS_WITH(fails(R"({"vary": {"ttl": 4}})"), Contains("unknown field 'ttl'"));
  CHECK_THROWS_WITH(fails(R"({"vlan": [1, 2, 3]})"), Contains("at most 2"));
  CHECK_THROWS_WITH(fails(R"({"vlan": [5000]})"), Contains("vlan: '5000'"));
  CHECK_THROWS_WITH(fails(R"({"duration": 0})"), Contains("both are 0"));
  CHECK_THROWS_WITH(fails(R"({"src_port": 65000, "vary": {"src_port": 1000}})"), Contains("past 65535"));
  CHECK_THROWS_WITH(fails(R"({"rate": {"x": 1}})"), Contains("rate: unsupported value"));
  CHECK_THROWS_WITH(fails(R"([1, 2])"), Contains("must be a JSON object"));
  // A file that is not JSON names the file.
  std::string path = "/tmp/dpsbench-bad-" + std::to_string(::getpid()) + ".json";
  { std::ofstream(path) << "{ flows: 1 "; }
  CHECK_THROWS_WITH(load_profile_file(path), Contains(path + ": not valid JSON"));
  std::remove(path.c_str());
  CHECK_THROWS_WITH(load_profile_file("/nonexistent/x.json"), Contains("cannot open"));
}
