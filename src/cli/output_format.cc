#include "output_format.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace dps::cli {

using json = nlohmann::json;

static std::string cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

std::string format_text(const json& v) {
  std::ostringstream out;
  if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); })) {
    std::vector<std::string> cols;
    for (auto& row : v)
      for (auto& [k, _] : row.items())
        if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
    std::vector<size_t> width(cols.size());
    std::vector<bool> numeric(cols.size(), true);  // right-aligned, header included
    for (size_t c = 0; c < cols.size(); ++c) {
      width[c] = cols[c].size();
      for (auto& row : v) {
        json x = row.value(cols[c], json());
        width[c] = std::max(width[c], cell(x).size());
        numeric[c] = numeric[c] && x.is_number();
      }
    }
    auto line = [&](auto get) {
      std::string s;
      for (size_t c = 0; c < cols.size(); ++c) {
        std::string t = get(c);
        std::string pad(width[c] - t.size(), ' ');
        s += numeric[c] ? pad + t : t + pad;
        if (c + 1 < cols.size()) s += "  ";
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out << s << "\n";
    };
    line([&](size_t c) { return cols[c]; });
    for (auto& row : v) line([&](size_t c) { return cell(row.value(cols[c], json())); });
    return out.str();
  }
  if (v.is_object()) {
    size_t w = 0;
    for (auto& [k, _] : v.items()) w = std::max(w, k.size());
    for (auto& [k, val] : v.items()) out << k << ":" << std::string(w - k.size() + 1, ' ') << cell(val) << "\n";
    return out.str();
  }
  if (v.is_array()) {
    for (auto& e : v) out << cell(e) << "\n";
    return out.str();
  }
  return cell(v) + "\n";
}

std::string format_json(const json& v) { return v.dump(2) + "\n"; }

}  // namespace dps::cli
