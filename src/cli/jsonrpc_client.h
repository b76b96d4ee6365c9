// jsonrpc_client.h - a small blocking JSON-RPC client for dpsctl.
//
// What: connects to "unix:PATH" or "tcp:IP:PORT", sends requests, waits for
//   the matching reply (keeping notifications that arrive meanwhile), with an
//   optional overall deadline.
// Design: Boost.Asio async operations driven by io_context::run_for, so every
//   wait honours the deadline without threads or signals. Messages are split
//   from the stream by the server's own framer (confdb/framing).
// Thread-safety: one instance per thread.
#pragma once

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <stdexcept>
#include <limits>
#include <string>

#include "jsonrpc_framer.h"

namespace dps::cli {

using json = nlohmann::json;

// Why a call failed, mapped to dpsctl's exit codes by main.cc.
struct ClientError : std::runtime_error {
  enum Kind { Connect, Timeout, Protocol } kind;
  ClientError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
};

class JsonRpcClient {
 public:
  // Throws ClientError(Connect) naming the target when it cannot connect.
  explicit JsonRpcClient(const std::string& target);
  ~JsonRpcClient();

  // 0 = wait forever.
  void set_deadline(std::chrono::milliseconds from_now);
  // Sends a request and returns the whole reply message ({id, result, error}).
  json call(const std::string& method, json params);
  // Next notification (from the queue or the socket).
  json next_notification();
  const std::string& target() const { return target_; }

 private:
  json read_message();
  void write(const std::string& s);

  std::string target_;
  boost::asio::io_context io_;
  std::optional<boost::asio::local::stream_protocol::socket> unix_;
  std::optional<boost::asio::ip::tcp::socket> tcp_;
  // Our own daemon's replies: no size or depth limit beyond the framer's.
  confdb::JsonFramer framer_{std::numeric_limits<size_t>::max()};
  std::deque<json> notes_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  uint64_t next_id_ = 0;
};

}  // namespace dps::cli
