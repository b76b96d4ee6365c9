#include "prom_text.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace dps::exporter {
namespace {

bool name_char(char c, bool first, bool colon) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view n, bool colon) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); i++)
    if (!name_char(n[i], i == 0, colon)) return false;
  return true;
}

std::string escape_help(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\') s += "\\\\";
    else if (c == '\n') s += "\\n";
    else s += c;
  }
  return s;
}

}  // namespace

bool PromText::valid_metric_name(std::string_view name) { return valid_name(name, true); }

bool PromText::valid_label_name(std::string_view name) {
  return valid_name(name, false) && !name.starts_with("__");
}

std::string PromText::escape_label_value(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\') s += "\\\\";
    else if (c == '"') s += "\\\"";
    else if (c == '\n') s += "\\n";
    else s += c;
  }
  return s;
}

std::string PromText::format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

PromText::Family PromText::family(std::string_view name, PromType type, std::string_view help) {
  if (!valid_metric_name(name)) throw std::invalid_argument("bad metric name \"" + std::string(name) + "\"");
  if (type == PromType::kCounter && !name.ends_with("_total"))
    throw std::invalid_argument("counter \"" + std::string(name) + "\" does not end in _total");
  for (const FamilyData& f : families_)
    if (f.name == name) throw std::invalid_argument("metric \"" + std::string(name) + "\" declared twice");
  families_.push_back(FamilyData{std::string(name), type, escape_help(help), {}});
  return families_.size() - 1;
}

void PromText::add_line(Family f, const PromLabels& labels, std::string_view value) {
  FamilyData& fd = families_.at(f);
  std::string& s = fd.samples;
  s += fd.name;
  if (!labels.empty()) {
    s += '{';
    for (size_t i = 0; i < labels.size(); i++) {
      if (!valid_label_name(labels[i].name))
        throw std::invalid_argument("bad label name \"" + std::string(labels[i].name) + "\" in " + fd.name);
      if (i) s += ',';
      s += labels[i].name;
      s += "=\"";
      s += escape_label_value(labels[i].value);
      s += '"';
    }
    s += '}';
  }
  s += ' ';
  s += value;
  s += '\n';
}

void PromText::add(Family f, const PromLabels& labels, uint64_t value) {
  add_line(f, labels, std::to_string(value));
}

void PromText::add(Family f, const PromLabels& labels, double value) {
  add_line(f, labels, format_double(value));
}

std::string PromText::text() const {
  std::string out;
  for (const FamilyData& f : families_) {
    if (f.samples.empty()) continue;
    out += "# HELP " + f.name + " " + f.help + "\n";
    out += "# TYPE " + f.name + (f.type == PromType::kCounter ? " counter\n" : " gauge\n");
    out += f.samples;
  }
  return out;
}

}  // namespace dps::exporter
