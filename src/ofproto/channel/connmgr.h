// connmgr.h - the OpenFlow 1.3 connection manager: passive listeners,
// active controller connections, and the per-connection channel machinery.
//
// What: ConnectionManager serves one Ofproto over OpenFlow 1.3. Targets are
// `ptcp:PORT[:IP]` (listen; default bind 127.0.0.1; port 0 = any free one)
// and `tcp:IP[:PORT]` (connect to a controller, default port 6653, with
// reconnect back-off from 1 s doubling to max_backoff). Any number of
// connections run at once. Each connection says HELLO (version bitmap
// 1.3), answers ECHO, probes an idle peer with ECHO after probe_interval
// and drops it after another probe_interval of silence, and feeds every
// framed message to OfHandler (of_handler.h). Fail mode: `secure` keeps
// the flow table as it is when no controller is connected; `standalone`
// (the default, as OVS) turns the bridge into a learning switch
// (Ofproto::set_fail_open) while tcp: controllers are configured and none
// has been connected for fail_open_delay, and back when one connects.
// ptcp: connections (ovs-ofctl and the like) are service connections and
// do not count as controllers, as in OVS.
//
// Design: Boost.Asio with an io_context owned here and POLLED from the
// control loop (run() calls io_.poll()), so every completion handler runs on
// the ofproto thread and calls Ofproto directly - no locks, no threads.
// Reads are asynchronous into a 16 KiB buffer, split by MessageFramer
// (lengths never trusted) and handled in arrival order. Writes go through
// a per-connection queue of encoded messages written with gathered
// async_write. Back-pressure: above send_queue_soft bytes queued the
// connection is "congested": the packet-ins for it are
// dropped and counted, and reading from it pauses (so its own requests
// cannot grow the queue) until the queue drains below the mark; above
// send_queue_max bytes (one huge reply on top of that) it is disconnected.
// So one slow controller never blocks the thread or the other connections.
//
// Thread-safety: construct, call and destroy on the ofproto thread only.
#pragma once

#include <utility>  // before any boost/asio include under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "of_handler.h"
#include "ofproto.h"

namespace dps::ofproto {

// Default OpenFlow port (IANA).
inline constexpr uint16_t kOfpTcpPort = 6653;
// Async messages are dropped above this many queued bytes (a controller
// ~1 s behind at 1000 packet-ins/s of 1 KiB).
inline constexpr size_t kSendQueueSoftBytes = 1u << 20;
// A connection queueing more than this is cut (the soft mark plus one
// maximal multipart reply sequence of a large flow table).
inline constexpr size_t kSendQueueMaxBytes = 64u << 20;
// Bytes gathered into one socket write.
inline constexpr size_t kWriteGatherBytes = 256u << 10;
// PORT_STATUS is detected by polling the port set this often.
inline constexpr int64_t kPortPollMs = 200;

struct ConnMgrConfig {
  std::vector<std::string> targets;   // ptcp:PORT[:IP] / tcp:IP[:PORT]
  std::string fail_mode;              // "", "standalone" or "secure"
  int64_t probe_interval_ms = 5000;   // inactivity probe (0: off)
  int64_t min_backoff_ms = 1000;
  int64_t max_backoff_ms = 8000;
  int64_t fail_open_delay_ms = -1;    // -1: probe_interval_ms
  size_t send_queue_soft = kSendQueueSoftBytes;
  size_t send_queue_max = kSendQueueMaxBytes;
  HandlerConfig handler;
};

struct ConnMgrStats {
  uint64_t accepted = 0;        // passive connections
  uint64_t connected = 0;       // active connections established
  uint64_t connect_failures = 0;
  uint64_t disconnects = 0;
  uint64_t probes_sent = 0;
  uint64_t probe_timeouts = 0;
  uint64_t hard_limit_cuts = 0;
  uint64_t async_dropped = 0;   // over all connections, closed ones included
};

// A parsed target. Throws std::invalid_argument naming what is wrong.
struct OfTarget {
  bool passive = false;
  std::string ip;
  uint16_t port = kOfpTcpPort;
  std::string text;
  static OfTarget parse(const std::string& text);
};

class ConnectionManager {
 public:
  // Throws std::invalid_argument for a malformed target or fail mode and
  // std::runtime_error when a listener cannot bind (address and reason).
  ConnectionManager(Ofproto& ofp, ConnMgrConfig cfg);
  ~ConnectionManager();
  ConnectionManager(const ConnectionManager&) = delete;
  ConnectionManager& operator=(const ConnectionManager&) = delete;

  // One control-loop round: completions (accept, connect, read, write),
  // async messages, probes, reconnects, fail mode. Returns the work done.
  unsigned run();

  // Applies a new target set (e.g. from the config store): listeners and
  // controllers no longer named are closed, new ones opened; unchanged ones
  // keep their connections. Same exceptions as the constructor.
  void set_targets(const std::vector<std::string>& targets);
  void set_fail_mode(const std::string& mode);

  // Bound ports of the listeners, in target order (ptcp:0 resolved).
  std::vector<uint16_t> listening_ports() const;
  // Connections that completed HELLO (controllers and service connections).
  size_t n_connections() const;
  bool controller_connected() const;
  // Bytes queued for sending over all connections.
  size_t queued_bytes() const;
  ConnMgrStats stats() const { return stats_; }
  OfHandler& handler() { return handler_; }

 private:
  struct Conn;
  struct Listener;
  struct Active;
  using ConnPtr = std::shared_ptr<Conn>;

  void open_listener(const OfTarget& t);
  void accept_next(const std::shared_ptr<Listener>& l);
  void start_connect(const std::shared_ptr<Active>& a, int64_t now);
  ConnPtr adopt(boost::asio::ip::tcp::socket sock, const std::shared_ptr<Active>& active);
  void start_read(const ConnPtr& c);
  void on_read(const ConnPtr& c, const boost::system::error_code& ec, size_t n);
  void flush(const ConnPtr& c);
  void start_write(const ConnPtr& c);
  void close(const ConnPtr& c, const std::string& why);
  void timers(int64_t now);
  void update_fail_mode(int64_t now);
  int64_t now_ms() const;

  Ofproto& ofp_;
  ConnMgrConfig cfg_;
  OfHandler handler_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::vector<std::shared_ptr<Active>> actives_;
  std::list<ConnPtr> conns_;
  ConnMgrStats stats_;
  uint64_t next_id_ = 1;
  int64_t next_port_poll_ms_ = 0;
  int64_t no_controller_since_ms_ = -1;
  unsigned work_done_ = 0;
};

}  // namespace dps::ofproto
