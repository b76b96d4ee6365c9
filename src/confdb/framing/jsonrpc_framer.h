// jsonrpc_framer.h - splits a byte stream into JSON texts.
//
// What: RFC 7047 JSON-RPC runs over a raw stream with no length prefix: a
//   message ends where its outermost object closes. The framer finds those
//   ends without parsing, so a message is parsed once, whole.
// Design: a small state machine over the bytes (nesting depth, inside a
//   string, after a backslash). Bytes of an incomplete message stay buffered;
//   a message larger than the limit, or bytes that cannot start a message,
//   put the framer in a sticky error state (the session then disconnects).
// Thread-safety: one instance per connection, used by its one reader.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace dps::confdb {

// Deeper nesting is refused before parsing: no RFC 7047 message nests beyond
// a dozen levels, and a bound keeps recursive consumers (dump) safe.
inline constexpr int kMaxJsonDepth = 256;

class JsonFramer {
 public:
  explicit JsonFramer(size_t max_message_bytes) : max_(max_message_bytes) {}

  void feed(const char* data, size_t n) { buf_.append(data, n); }
  // The next complete message, if any. Check error() when it returns nullopt.
  std::optional<std::string> next();
  const std::string& error() const { return error_; }
  size_t buffered() const { return buf_.size(); }

 private:
  std::string buf_;
  size_t scan_ = 0;     // bytes of buf_ already scanned
  size_t start_ = 0;    // start of the current message in buf_
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  size_t max_;
  std::string error_;
};

}  // namespace dps::confdb
