#include "report.h"

#include <nlohmann/json.hpp>

#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <vector>

namespace dps::dpsbench {
namespace {

std::string terminal_for(const std::string& path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "png") return "pngcairo size 1000,700 noenhanced";
  if (ext == "svg") return "svg size 1000,700 noenhanced";
  throw std::runtime_error("plot file '" + path + "': extension must be .png or .svg");
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

void run_gnuplot(const std::string& script) {
  std::FILE* gp = ::popen("gnuplot 2>&1", "w");
  if (!gp) throw std::runtime_error("cannot start gnuplot (install gnuplot-nox)");
  std::fwrite(script.data(), 1, script.size(), gp);
  int rc = ::pclose(gp);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
    throw std::runtime_error("gnuplot failed (exit " + std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1) +
                             "); is gnuplot installed?");
}

double num(const nlohmann::json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0.0; }

}  // namespace

void print_summary(const nlohmann::json& r, std::FILE* out) {
  std::fprintf(out, "dpsbench %s: %.2f s%s (Gbit/s L1 counts %d B/frame of preamble + IFG)\n",
               r.value("mode", "?").c_str(), num(r, "elapsed_s"), r.value("timed_out", false) ? " (RUN TIMEOUT)" : "",
               r.value("wire_overhead_bytes", 20));
  for (const auto& p : r["ports"]) {
    std::fprintf(out, "port %d  %s\n", p["index"].get<int>(), p["devargs"].get<std::string>().c_str());
    if (p.contains("tx")) {
      const auto& t = p["tx"];
      std::fprintf(out, "  tx %12llu pkts  %8.3f Mpps  %7.3f Gbit/s L1  refused %llu\n",
                   t["packets"].get<unsigned long long>(), num(t, "mpps"), num(t, "gbps_l1"),
                   t["refused"].get<unsigned long long>());
    }
    if (p.contains("rx")) {
      const auto& x = p["rx"];
      std::fprintf(out, "  rx %12llu pkts  %8.3f Mpps  %7.3f Gbit/s L1", x["packets"].get<unsigned long long>(),
                   num(x, "mpps"), num(x, "gbps_l1"));
      if (x.contains("lost"))
        std::fprintf(out, "  lost %llu  reordered %llu  dup %llu", x["lost"].get<unsigned long long>(),
                     x["reordered"].get<unsigned long long>(), x["duplicates"].get<unsigned long long>());
      std::fprintf(out, "\n");
    }
  }
  const auto& t = r["total"];
  std::fprintf(out, "total  tx %.3f Mpps  rx %.3f Mpps", num(t, "tx_mpps"), num(t, "rx_mpps"));
  if (t.contains("lost"))
    std::fprintf(out, "  lost %llu (%.4f%%, %s)", t["lost"].get<unsigned long long>(), num(t, "loss_ratio") * 100,
                 t["loss_basis"].get<std::string>().c_str());
  std::fprintf(out, "\n");
  if (t.contains("latency") && t["latency"]["samples"].get<uint64_t>() > 0) {
    const auto& l = t["latency"];
    std::fprintf(out, "latency us  min %.2f  mean %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (%llu samples)\n",
                 num(l, "min_us"), num(l, "mean_us"), num(l, "p50_us"), num(l, "p99_us"), num(l, "p999_us"),
                 num(l, "max_us"), l["samples"].get<unsigned long long>());
  }
  if (r.contains("ndr")) {
    const auto& n = r["ndr"];
    std::fprintf(out, "NDR %.3f Mpps (%.3f Gbit/s L1)  PDR(loss<=%.4f%%) %.3f Mpps (%.3f Gbit/s L1)  in %zu trials\n",
                 num(n, "ndr_pps") / 1e6, num(n, "ndr_gbps_l1"), num(n, "pdr_loss_ratio") * 100, num(n, "pdr_pps") / 1e6,
                 num(n, "pdr_gbps_l1"), n["trials"].size());
  }
}

std::string run_plot_script(const nlohmann::json& r, const std::string& path) {
  std::ostringstream s;
  s << "set terminal " << terminal_for(path) << "\n";
  s << "set output " << quote(path) << "\n";
  s << "$run << EOD\n";
  for (const auto& p : r["timeline"])
    s << num(p, "t") << " " << num(p, "tx_mpps") << " " << num(p, "rx_mpps") << " " << num(p, "lat_p50_us") << " "
      << num(p, "lat_p99_us") << " " << num(p, "lat_max_us") << "\n";
  s << "EOD\n";
  s << "set multiplot layout 2,1 title " << quote("dpsbench " + r.value("mode", std::string("?"))) << "\n";
  s << "set grid\nset key outside right\nset xlabel 'time (s)'\n";
  s << "set ylabel 'Mpps'\nset yrange [0:*]\n";
  s << "plot $run using 1:2 with linespoints title 'tx', $run using 1:3 with linespoints title 'rx'\n";
  s << "set ylabel 'latency (us)'\nset logscale y\nset yrange [*:*]\n";
  s << "plot $run using 1:($4>0?$4:1/0) with linespoints title 'p50', $run using 1:($5>0?$5:1/0) with linespoints "
       "title 'p99', $run using 1:($6>0?$6:1/0) with lines title 'max'\n";
  s << "unset multiplot\n";
  return s.str();
}

std::vector<std::string> write_plots(const nlohmann::json& r, const std::string& path) {
  std::vector<std::string> written;
  terminal_for(path);  // validate early
  if (r.contains("timeline") && !r["timeline"].empty()) {
    run_gnuplot(run_plot_script(r, path));
    written.push_back(path);
  }
  if (r.contains("ndr")) {
    auto dot = path.rfind('.');
    std::string npath = path.substr(0, dot) + "-ndr" + path.substr(dot);
    std::ostringstream s;
    s << "set terminal " << terminal_for(npath) << "\nset output " << quote(npath) << "\n";
    s << "$ndr << EOD\n";
    int i = 1;
    for (const auto& t : r["ndr"]["trials"])
      s << i++ << " " << num(t, "offered_pps") / 1e6 << " " << num(t, "achieved_pps") / 1e6 << " "
        << num(t, "loss_ratio") * 100 << " " << (t.value("pass", false) ? 1 : 0) << "\n";
    s << "EOD\n";
    s << "set multiplot layout 2,1 title " << quote("NDR/PDR search") << "\n";
    s << "set grid\nset key outside right\nset xlabel 'trial'\nset ylabel 'Mpps'\nset yrange [0:*]\n";
    s << "plot $ndr using 1:2 with linespoints title 'offered', $ndr using 1:3 with points title 'sent', "
      << num(r["ndr"], "ndr_pps") / 1e6 << " with lines dt 2 title 'NDR', " << num(r["ndr"], "pdr_pps") / 1e6
      << " with lines dt 3 title 'PDR'\n";
    s << "set ylabel 'loss (%)'\nset yrange [0:1<*]\nplot $ndr using 1:4 with impulses lw 3 title 'loss'\n";
    s << "unset multiplot\n";
    run_gnuplot(s.str());
    written.push_back(npath);
  }
  return written;
}

}  // namespace dps::dpsbench
