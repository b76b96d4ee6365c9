#include "jsonrpc_framer.h"

namespace dps::confdb {

std::optional<std::string> JsonFramer::next() {
  if (!error_.empty()) return std::nullopt;
  for (; scan_ < buf_.size(); ++scan_) {
    char c = buf_[scan_];
    if (depth_ == 0) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        start_ = scan_ + 1;
        continue;
      }
      if (c != '{' && c != '[') {
        error_ = "syntax error: unexpected byte 0x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) +
                 "0123456789abcdef"[c & 15] + " between messages";
        return std::nullopt;
      }
      start_ = scan_;
      depth_ = 1;
      continue;
    }
    if (scan_ - start_ >= max_) break;
    if (in_string_) {
      if (escape_) escape_ = false;
      else if (c == '\\') escape_ = true;
      else if (c == '"') in_string_ = false;
      continue;
    }
    if (c == '"') in_string_ = true;
    else if (c == '{' || c == '[') {
      if (++depth_ > kMaxJsonDepth) {
        error_ = "syntax error: JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
        return std::nullopt;
      }
    }
    else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        std::string msg = buf_.substr(start_, scan_ + 1 - start_);
        buf_.erase(0, scan_ + 1);
        scan_ = start_ = 0;
        return msg;
      }
    }
  }
  if (depth_ > 0 && scan_ - start_ >= max_) {
    error_ = "message too long: more than " + std::to_string(max_) + " bytes";
    return std::nullopt;
  }
  if (depth_ == 0) {  // only whitespace buffered
    buf_.clear();
    scan_ = start_ = 0;
  }
  return std::nullopt;
}

}  // namespace dps::confdb
