// Coverage goal: the summary prints every figure of a results document, and
// the plots are real gnuplot output files (PNG signature / SVG root) with the
// data inline; bad plot names are rejected.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "report.h"

using namespace dps::dpsbench;
using Catch::Matchers::Contains;

namespace {

nlohmann::json sample_results(bool ndr) {
  nlohmann::json r;
  r["mode"] = "flowgen";
  r["elapsed_s"] = 2.0;
  r["timed_out"] = false;
  r["wire_overhead_bytes"] = 20;
  r["ports"] = nlohmann::json::array();
  r["ports"].push_back({{"index", 0},
                        {"devargs", "net_memif0"},
                        {"tx", {{"packets", 1000}, {"mpps", 1.5}, {"gbps_l1", 1.008}, {"refused", 3}}},
                        {"rx", {{"packets", 990}, {"mpps", 1.4}, {"gbps_l1", 0.94}, {"lost", 10}, {"reordered", 2}, {"duplicates", 1}}}});
  r["total"] = {{"tx_mpps", 1.5}, {"rx_mpps", 1.4}, {"lost", 10}, {"loss_ratio", 0.01}, {"loss_basis", "sent - unique received"},
                {"latency", {{"samples", 990}, {"min_us", 1.0}, {"mean_us", 2.0}, {"p50_us", 1.9}, {"p99_us", 5.5}, {"p999_us", 7.0}, {"max_us", 9.0}}}};
  r["timeline"] = nlohmann::json::array();
  for (int i = 1; i <= 4; i++)
    r["timeline"].push_back({{"t", i * 0.5}, {"tx_mpps", 1.5}, {"rx_mpps", 1.4}, {"lat_p50_us", 1.9}, {"lat_p99_us", 5.5}, {"lat_max_us", 9.0}});
  if (ndr) {
    r["ndr"] = {{"ndr_pps", 2e6}, {"pdr_pps", 2.5e6}, {"ndr_gbps_l1", 1.3}, {"pdr_gbps_l1", 1.7}, {"pdr_loss_ratio", 0.001},
                {"trials", nlohmann::json::array({{{"offered_pps", 4e6}, {"achieved_pps", 4e6}, {"loss_ratio", 0.3}, {"pass", false}},
                                                  {{"offered_pps", 2e6}, {"achieved_pps", 2e6}, {"loss_ratio", 0.0}, {"pass", true}}})}};
  }
  return r;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("summary prints rates, loss, latency and the NDR", "[dpsbench]") {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  print_summary(sample_results(true), f);
  std::fclose(f);
  std::string s(buf, len);
  std::free(buf);
  CHECK_THAT(s, Contains("1.500 Mpps"));
  CHECK_THAT(s, Contains("lost 10 (1.0000%, sent - unique received)"));
  CHECK_THAT(s, Contains("p99 5.50"));
  CHECK_THAT(s, Contains("p99.9 7.00"));
  CHECK_THAT(s, Contains("NDR 2.000 Mpps"));
  CHECK_THAT(s, Contains("20 B/frame"));
}

TEST_CASE("plots are rendered by gnuplot to PNG and SVG", "[dpsbench]") {
  auto r = sample_results(true);
  std::string script = run_plot_script(r, "/tmp/x.png");
  CHECK_THAT(script, Contains("set terminal pngcairo"));
  CHECK_THAT(script, Contains("$run << EOD\n0.5 1.5 1.4 1.9 5.5 9\n"));
  CHECK_THROWS_WITH(write_plots(r, "/tmp/x.gif"), Contains("must be .png or .svg"));
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    WARN("gnuplot not installed: rendering not checked");
    return;
  }
  std::string base = "/tmp/dpsbench-plot-" + std::to_string(getpid());
  auto files = write_plots(r, base + ".png");
  REQUIRE(files == std::vector<std::string>{base + ".png", base + "-ndr.png"});
  for (const auto& p : files) {
    std::string bytes = slurp(p);
    REQUIRE(bytes.size() > 1000);
    CHECK(bytes.substr(1, 3) == "PNG");
    std::remove(p.c_str());
  }
  files = write_plots(r, base + ".svg");
  REQUIRE(files.size() == 2);
  CHECK_THAT(slurp(files[0]), Contains("<svg"));
  for (const auto& p : files) std::remove(p.c_str());
}
