// hex_bytes.h - wire bytes as hex text and back, for tests that compare
// encodings with what ovs-ofctl sends (no Catch2 needed).
#pragma once

#include <cstdio>
#include <string>

#include "of_messages.h"

namespace dps::test {

inline std::string hex(const ofproto::Bytes& b) {
  std::string s;
  char x[4];
  for (uint8_t c : b) {
    std::snprintf(x, sizeof x, "%02x", c);
    s += x;
  }
  return s;
}

inline ofproto::Bytes unhex(const std::string& s) {
  ofproto::Bytes b;
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    b.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return b;
}

}  // namespace dps::test
