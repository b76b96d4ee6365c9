// metrics_server.h - dpswitchd's Prometheus scrape endpoint: HTTP GET
// /metrics on a configurable address, off by default.
//
// What: MetricsServer listens on one TCP address and answers
//     GET/HEAD /metrics  200, the Prometheus text format (metrics_text.h);
//     GET/HEAD /         200, a one-line pointer to /metrics;
//     other paths 404, other methods 405 (Allow: GET, HEAD), a malformed
//     request 400, a header block over 8 KiB 431; a connection that has
//     not been answered within 5 s is closed.
//   One request per connection ("Connection: close"), at most
//   kMetricsMaxConnections at once (more are closed on accept).
//   The address comes from Open_vSwitch other_config:metrics-listen (ovs-vsctl
//   set Open_vSwitch . other_config:metrics-listen=127.0.0.1:9477; removing
//   the key turns the endpoint off) or, beating the store for the run, the
//   --metrics-listen option. Forms: IP:PORT, [IPv6]:PORT, or PORT alone for
//   127.0.0.1:PORT (loopback unless an address is given). A bad value or a
//   port in use is logged with the reason and the endpoint stays off.
// Design: Boost.Asio with an io_context owned here and POLLED from the
//   control loop (run() calls io_.poll(), as the OpenFlow channels do), so
//   accepting, reading, rendering and writing all happen on the control
//   thread between its other work, without blocking it: every socket
//   operation is asynchronous, and rendering reads counters the control
//   thread may read anyway (no lock, no copy of the datapath's tables).
// Thread-safety: construct, call and destroy on the control thread only.
#pragma once

#include <utility>  // before any boost/asio include under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "endpoint.h"

namespace dps::daemon {

class ConfigDaemon;
struct DaemonConfig;

inline constexpr size_t kMetricsMaxConnections = 16;
inline constexpr int kMetricsIdleTimeoutMs = 5000;
inline constexpr const char* kMetricsListenKey = "metrics-listen";

// "IP:PORT", "[IPv6]:PORT" or "PORT" (127.0.0.1); port 0 picks a free one.
std::optional<exporter::Endpoint> parse_metrics_address(const std::string& text, std::string* error);

class MetricsServer {
 public:
  // render: the body of GET /metrics (called on the control thread).
  explicit MetricsServer(std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Listen on `address` ("" = off); a no-op when it is the current one.
  // `source` names where it came from, for the log. False (endpoint off)
  // when the address is bad or cannot be bound; the log says why.
  bool set_address(const std::string& address, const std::string& source);
  // One control-loop round: the ready socket work. Returns handlers run.
  unsigned run();

  bool listening() const;
  // The bound address (port 0 resolved), when listening.
  std::optional<exporter::Endpoint> local_endpoint() const;
  uint64_t requests() const { return requests_; }

 private:
  struct Conn;
  void close();
  void accept();
  void start(std::shared_ptr<Conn> c);
  void read(std::shared_ptr<Conn> c);
  void respond(std::shared_ptr<Conn> c, int status, const std::string& body, bool head_only,
               const char* content_type = "text/plain; charset=utf-8", const char* extra = "");
  void on_request(std::shared_ptr<Conn> c);

  boost::asio::io_context io_;  // first member: destroyed last
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;  // poll() never stops it
  std::function<std::string()> render_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::weak_ptr<Conn>> conns_;
  std::string address_;  // as configured ("" = off)
  uint64_t requests_ = 0;
};

// Wires the server to its configuration: --metrics-listen when given (the
// store's key is then ignored for this run, with a log line), else the
// store's other_config:metrics-listen, followed as it changes.
void attach_metrics(MetricsServer& server, const DaemonConfig& cfg, ConfigDaemon& confd);

}  // namespace dps::daemon
