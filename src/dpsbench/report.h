// report.h - turning a dpsbench results document into a human summary and
// gnuplot plots (PNG or SVG).
//
// What: print_summary() writes the table-like text summary; write_plots()
// renders throughput and latency over the run (and, when the document has an
// NDR search, offered rate and loss per trial into a second file named
// <stem>-ndr.<ext>) by piping a script with inline data to gnuplot.
//
// Thread-safety: control thread only; write_plots() forks gnuplot and waits.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace dps::dpsbench {

void print_summary(const nlohmann::json& results, std::FILE* out);

// Returns the files written. Throws std::runtime_error when the extension is
// neither .png nor .svg, or when gnuplot is missing or fails.
std::vector<std::string> write_plots(const nlohmann::json& results, const std::string& path);

// The gnuplot script for the run plot (exposed for tests).
std::string run_plot_script(const nlohmann::json& results, const std::string& path);

}  // namespace dps::dpsbench
