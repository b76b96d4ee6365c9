// output_format.h - text rendering of JSON results for dpsctl.
//
// What: runtime methods answer with JSON; dpsctl prints an array of objects
//   as an aligned table (one column per key, in first-seen order), an object
//   as aligned "key: value" lines, and anything else as its JSON text.
//   `--format json` bypasses this and prints the JSON itself.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dps::cli {

std::string format_text(const nlohmann::json& value);
std::string format_json(const nlohmann::json& value);

}  // namespace dps::cli
