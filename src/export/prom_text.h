// prom_text.h - the Prometheus text exposition format, version 0.0.4.
//
// What: PromText collects metric families (counter or gauge: name, help)
//   and their samples (labels, value) and renders them as the text format a
//   Prometheus server scrapes: per family "# HELP", "# TYPE", then one
//   line per sample, `name{label="value",...} value`.
// Design: a family is declared once and gets a handle; samples can be added
//   to any family in any order (a loop over ports can feed several
//   families) and text() writes each family's lines together, in
//   declaration order, as the format requires. Families with no sample are
//   left out. Names are checked against the format's grammar (metric
//   [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*, no "__" label
//   prefix), counters must end in "_total" (the naming convention promtool
//   checks), and a family declared twice is refused: each a
//   std::invalid_argument, since they are programming errors. Label values
//   are escaped (\\, \", \n), HELP text too (\\, \n). Values: integers
//   exactly, doubles in their shortest round-trip form, NaN, +Inf, -Inf.
// Thread-safety: none; build and render on one thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dps::exporter {

enum class PromType { kCounter, kGauge };

struct PromLabel {
  std::string_view name;
  std::string value;
};
using PromLabels = std::vector<PromLabel>;

class PromText {
 public:
  using Family = size_t;

  Family counter(std::string_view name, std::string_view help) { return family(name, PromType::kCounter, help); }
  Family gauge(std::string_view name, std::string_view help) { return family(name, PromType::kGauge, help); }
  Family family(std::string_view name, PromType type, std::string_view help);

  void add(Family f, const PromLabels& labels, uint64_t value);
  void add(Family f, const PromLabels& labels, double value);

  std::string text() const;
  size_t families() const { return families_.size(); }

  static bool valid_metric_name(std::string_view name);
  static bool valid_label_name(std::string_view name);
  static std::string escape_label_value(std::string_view v);
  static std::string format_double(double v);

 private:
  struct FamilyData {
    std::string name;
    PromType type;
    std::string help;
    std::string samples;  // rendered sample lines
  };
  void add_line(Family f, const PromLabels& labels, std::string_view value);

  std::vector<FamilyData> families_;
};

}  // namespace dps::exporter
