#include "connmgr.h"

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <stdexcept>

namespace dps::ofproto {

namespace asio = boost::asio;
using asio::ip::tcp;

// Bytes read from a socket per completion.
inline constexpr size_t kReadBufferBytes = 16u << 10;

struct ConnectionManager::Conn {
  explicit Conn(tcp::socket s) : sock(std::move(s)) {}
  tcp::socket sock;
  ChannelState ch;
  MessageFramer framer;
  std::array<uint8_t, kReadBufferBytes> rbuf{};
  std::deque<Bytes> queue;  // references stay valid on push_back (in-flight writes)
  size_t queued = 0;
  size_t in_flight = 0;     // messages of the queue's front being written
  bool reading = false;
  bool writing = false;
  bool dead = false;
  int64_t last_rx_ms = 0;
  bool probe_sent = false;
  std::shared_ptr<Active> active;  // the controller target it serves, if any
};

struct ConnectionManager::Listener {
  explicit Listener(asio::io_context& io) : acceptor(io) {}
  OfTarget target;
  tcp::acceptor acceptor;
  bool closed = false;
};

struct ConnectionManager::Active {
  OfTarget target;
  std::unique_ptr<tcp::socket> connecting;
  ConnPtr conn;
  int64_t next_attempt_ms = 0;
  int64_t backoff_ms = 0;
  bool removed = false;
};

// --- Targets -----------------------------------------------------------------------

OfTarget OfTarget::parse(const std::string& text) {
  OfTarget t;
  t.text = text;
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("OpenFlow target '" + text + "': " + why +
                                 " (expected ptcp:PORT[:IP] or tcp:IP[:PORT])");
  };
  auto port_of = [&](const std::string& s) -> uint16_t {
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), ::isdigit))
      throw bad("'" + s + "' is not a TCP port number");
    unsigned long v = std::stoul(s);
    if (v > 65535) throw bad("port " + s + " is out of range");
    return static_cast<uint16_t>(v);
  };
  auto check_ip = [&](const std::string& ip) {
    boost::system::error_code ec;
    asio::ip::make_address(ip, ec);
    if (ec) throw bad("'" + ip + "' is not an IP address");
  };
  if (text.rfind("ptcp:", 0) == 0) {
    t.passive = true;
    std::string rest = text.substr(5);
    size_t colon = rest.find(':');
    t.port = port_of(rest.substr(0, colon));
    t.ip = colon == std::string::npos ? "127.0.0.1" : rest.substr(colon + 1);
    check_ip(t.ip);
  } else if (text.rfind("tcp:", 0) == 0) {
    std::string rest = text.substr(4);
    size_t colon = rest.rfind(':');
    t.ip = rest.substr(0, colon);
    if (colon != std::string::npos) t.port = port_of(rest.substr(colon + 1));
    check_ip(t.ip);
    if (t.port == 0) throw bad("port 0 cannot be connected to");
  } else {
    throw bad("unknown method");
  }
  return t;
}

// --- Life ----------------------------------------------------------------------------

ConnectionManager::ConnectionManager(Ofproto& ofp, ConnMgrConfig cfg)
    : ofp_(ofp), cfg_(std::move(cfg)), handler_(ofp_, cfg_.handler), work_(io_.get_executor()) {
  if (cfg_.fail_open_delay_ms < 0) cfg_.fail_open_delay_ms = cfg_.probe_interval_ms;
  handler_.set_channels([this](const std::function<void(ChannelState&)>& fn) {
    for (const ConnPtr& c : conns_)
      if (!c->dead) fn(c->ch);
  });
  set_fail_mode(cfg_.fail_mode);
  std::vector<std::string> targets = std::move(cfg_.targets);
  cfg_.targets.clear();
  set_targets(targets);
}

ConnectionManager::~ConnectionManager() {
  for (const ConnPtr& c : std::list<ConnPtr>(conns_)) close(c, "shutting down");
  for (auto& l : listeners_) {
    boost::system::error_code ec;
    l->closed = true;
    l->acceptor.close(ec);
  }
  for (auto& a : actives_) {
    a->removed = true;
    if (a->connecting) {
      boost::system::error_code ec;
      a->connecting->close(ec);
    }
  }
  // Let the cancelled operations complete while the sockets still exist.
  io_.restart();
  io_.poll();
  if (ofp_.fail_open()) ofp_.set_fail_open(false);
}

int64_t ConnectionManager::now_ms() const { return ofp_.now_ms(); }

void ConnectionManager::set_fail_mode(const std::string& mode) {
  if (!mode.empty() && mode != "standalone" && mode != "secure")
    throw std::invalid_argument("fail_mode '" + mode + "': expected standalone or secure");
  cfg_.fail_mode = mode;
  update_fail_mode(now_ms());
}

void ConnectionManager::set_targets(const std::vector<std::string>& targets) {
  std::vector<OfTarget> want;
  for (const std::string& s : targets) want.push_back(OfTarget::parse(s));  // all or nothing
  auto named = [&](const OfTarget& t) {
    return std::any_of(want.begin(), want.end(), [&](const OfTarget& w) { return w.text == t.text; });
  };
  // Close what is no longer named.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (named((*it)->target)) { ++it; continue; }
    boost::system::error_code ec;
    (*it)->closed = true;
    (*it)->acceptor.close(ec);
    spdlog::info("openflow: stopped listening on {}", (*it)->target.text);
    it = listeners_.erase(it);
  }
  for (auto it = actives_.begin(); it != actives_.end();) {
    if (named((*it)->target)) { ++it; continue; }
    (*it)->removed = true;
    if ((*it)->conn) close((*it)->conn, "controller target removed");
    if ((*it)->connecting) {
      boost::system::error_code ec;
      (*it)->connecting->close(ec);
    }
    it = actives_.erase(it);
  }
  // Open what is new.
  for (const OfTarget& t : want) {
    bool have = std::any_of(listeners_.begin(), listeners_.end(),
                            [&](auto& l) { return l->target.text == t.text; }) ||
                std::any_of(actives_.begin(), actives_.end(),
                            [&](auto& a) { return a->target.text == t.text; });
    if (have) continue;
    if (t.passive) {
      open_listener(t);
    } else {
      auto a = std::make_shared<Active>();
      a->target = t;
      a->backoff_ms = cfg_.min_backoff_ms;
      actives_.push_back(a);
      spdlog::info("openflow: controller {}", t.text);
    }
  }
  cfg_.targets = targets;
  if (actives_.empty()) no_controller_since_ms_ = -1;
  update_fail_mode(now_ms());
}

// --- Listeners ---------------------------------------------------------------------------

void ConnectionManager::open_listener(const OfTarget& t) {
  auto l = std::make_shared<Listener>(io_);
  l->target = t;
  tcp::endpoint ep(asio::ip::make_address(t.ip), t.port);
  boost::system::error_code ec;
  l->acceptor.open(ep.protocol(), ec);
  if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) l->acceptor.bind(ep, ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("OpenFlow listener " + t.text + ": cannot listen on " + t.ip + ":" +
                             std::to_string(t.port) + ": " + ec.message());
  spdlog::info("openflow: listening on {} ({}:{})", t.text, t.ip, l->acceptor.local_endpoint().port());
  listeners_.push_back(l);
  accept_next(l);
}

void ConnectionManager::accept_next(const std::shared_ptr<Listener>& l) {
  l->acceptor.async_accept([this, l](const boost::system::error_code& ec, tcp::socket sock) {
    work_done_++;
    if (l->closed) return;
    if (ec) {
      spdlog::warn("openflow: accept on {}: {}", l->target.text, ec.message());
    } else {
      stats_.accepted++;
      adopt(std::move(sock), nullptr);
    }
    accept_next(l);
  });
}

std::vector<uint16_t> ConnectionManager::listening_ports() const {
  std::vector<uint16_t> out;
  for (auto& l : listeners_) {
    boost::system::error_code ec;
    auto ep = l->acceptor.local_endpoint(ec);
    out.push_back(ec ? 0 : ep.port());
  }
  return out;
}

// --- Active connections -----------------------------------------------------------------

void ConnectionManager::start_connect(const std::shared_ptr<Active>& a, int64_t now) {
  a->connecting = std::make_unique<tcp::socket>(io_);
  a->next_attempt_ms = now + a->backoff_ms;
  a->backoff_ms = std::min(a->backoff_ms * 2, cfg_.max_backoff_ms);
  tcp::endpoint ep(asio::ip::make_address(a->target.ip), a->target.port);
  a->connecting->async_connect(ep, [this, a](const boost::system::error_code& ec) {
    work_done_++;
    if (a->removed) return;
    std::unique_ptr<tcp::socket> s = std::move(a->connecting);
    if (ec) {
      stats_.connect_failures++;
      spdlog::debug("openflow: {}: connect: {} (retry in {} ms)", a->target.text, ec.message(),
                    a->next_attempt_ms - now_ms());
      return;
    }
    stats_.connected++;
    a->conn = adopt(std::move(*s), a);
  });
}

// --- Connections -------------------------------------------------------------------------

ConnectionManager::ConnPtr ConnectionManager::adopt(tcp::socket sock,
                                                    const std::shared_ptr<Active>& active) {
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  sock.non_blocking(true, ec);
  auto c = std::make_shared<Conn>(std::move(sock));
  c->ch.id = next_id_++;
  c->ch.soft_limit = cfg_.send_queue_soft;
  auto ep = c->sock.remote_endpoint(ec);
  c->ch.peer = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  c->active = active;
  c->last_rx_ms = now_ms();
  conns_.push_back(c);
  spdlog::info("openflow #{}: {} {}", c->ch.id, active ? "connected to controller" : "accepted",
               c->ch.peer);
  c->ch.push(OfHandler::hello());
  flush(c);
  start_read(c);
  return c;
}

void ConnectionManager::start_read(const ConnPtr& c) {
  if (c->dead || c->reading || c->ch.closing || c->queued >= cfg_.send_queue_soft) return;
  c->reading = true;
  c->sock.async_read_some(asio::buffer(c->rbuf),
                          [this, c](const boost::system::error_code& ec, size_t n) {
                            work_done_++;
                            on_read(c, ec, n);
                          });
}

void ConnectionManager::on_read(const ConnPtr& c, const boost::system::error_code& ec, size_t n) {
  c->reading = false;
  if (c->dead) return;
  if (ec) {
    close(c, ec == asio::error::eof ? "closed by peer" : ec.message());
    return;
  }
  c->last_rx_ms = now_ms();
  c->probe_sent = false;
  c->framer.append(std::span<const uint8_t>(c->rbuf.data(), n));
  Bytes msg;
  for (;;) {
    MessageFramer::Status st = c->framer.next(&msg);
    if (st == MessageFramer::Status::kNeedMore) break;
    if (st == MessageFramer::Status::kBadLength) {
      // The stream cannot be resynchronized: answer and close.
      c->ch.push(encode(c->framer.error_message()));
      c->ch.closing = true;
      break;
    }
    bool was_up = c->ch.hello_done;
    handler_.handle(c->ch, msg);
    if (!was_up && c->ch.hello_done && c->active) c->active->backoff_ms = cfg_.min_backoff_ms;
    if (c->ch.closing) break;
  }
  flush(c);
  start_read(c);  // unless congested or closing; run() resumes it
}

void ConnectionManager::flush(const ConnPtr& c) {
  if (c->dead) return;
  for (Bytes& b : c->ch.outbox) {
    c->queued += b.size();
    c->queue.push_back(std::move(b));
  }
  c->ch.outbox.clear();
  c->ch.outbox_bytes = 0;
  c->ch.queued_bytes = c->queued;
  if (c->queued > cfg_.send_queue_max) {
    stats_.hard_limit_cuts++;
    close(c, "send queue over " + std::to_string(cfg_.send_queue_max) + " bytes (peer too slow)");
    return;
  }
  start_write(c);
}

void ConnectionManager::start_write(const ConnPtr& c) {
  if (c->dead || c->writing) return;
  if (c->queue.empty()) {
    if (c->ch.closing) close(c, "closing after error");
    return;
  }
  std::vector<asio::const_buffer> bufs;
  size_t bytes = 0;
  for (const Bytes& b : c->queue) {
    if (!bufs.empty() && bytes + b.size() > kWriteGatherBytes) break;
    bufs.emplace_back(b.data(), b.size());
    bytes += b.size();
  }
  c->in_flight = bufs.size();
  c->writing = true;
  asio::async_write(c->sock, bufs, [this, c, bytes](const boost::system::error_code& ec, size_t) {
    work_done_++;
    c->writing = false;
    if (c->dead) return;
    if (ec) {
      close(c, "write: " + ec.message());
      return;
    }
    for (size_t i = 0; i < c->in_flight; i++) c->queue.pop_front();
    c->in_flight = 0;
    c->queued -= bytes;
    c->ch.queued_bytes = c->queued;
    start_write(c);
    start_read(c);
  });
}

void ConnectionManager::close(const ConnPtr& c, const std::string& why) {
  if (c->dead) return;
  c->dead = true;
  boost::system::error_code ec;
  c->sock.shutdown(tcp::socket::shutdown_both, ec);
  c->sock.close(ec);
  stats_.disconnects++;
  stats_.async_dropped += c->ch.async_dropped;
  spdlog::info("openflow #{} {}: disconnected: {}", c->ch.id, c->ch.peer, why);
  if (c->active && c->active->conn == c) c->active->conn.reset();
  conns_.remove(c);
}

// --- The round ------------------------------------------------------------------------------

void ConnectionManager::timers(int64_t now) {
  // Inactivity probe.
  if (cfg_.probe_interval_ms > 0) {
    for (const ConnPtr& c : std::list<ConnPtr>(conns_)) {
      int64_t idle = now - c->last_rx_ms;
      if (idle >= 2 * cfg_.probe_interval_ms) {
        stats_.probe_timeouts++;
        close(c, "no answer to the inactivity probe for " + std::to_string(idle) + " ms");
      } else if (idle >= cfg_.probe_interval_ms && !c->probe_sent && c->ch.hello_done) {
        c->probe_sent = true;
        stats_.probes_sent++;
        c->ch.push(encode(OfMessage{kOfpVersion13, 0, EchoRequest{}}));
        flush(c);
      }
    }
  }
  // Reconnects.
  for (const auto& a : actives_)
    if (!a->conn && !a->connecting && now >= a->next_attempt_ms) start_connect(a, now);
  // Paused readers whose queue drained.
  for (const ConnPtr& c : conns_) start_read(c);
}

void ConnectionManager::update_fail_mode(int64_t now) {
  bool want_open = false;
  if (cfg_.fail_mode != "secure" && !actives_.empty()) {
    if (controller_connected()) {
      no_controller_since_ms_ = -1;
    } else {
      if (no_controller_since_ms_ < 0) no_controller_since_ms_ = now;
      want_open = now - no_controller_since_ms_ >= cfg_.fail_open_delay_ms;
    }
  }
  if (want_open != ofp_.fail_open()) ofp_.set_fail_open(want_open);
}

unsigned ConnectionManager::run() {
  work_done_ = 0;
  io_.poll();
  const int64_t now = now_ms();
  bool ports = now >= next_port_poll_ms_;
  if (ports) next_port_poll_ms_ = now + kPortPollMs;
  handler_.publish_async(ports);
  for (const ConnPtr& c : std::list<ConnPtr>(conns_))
    if (!c->ch.outbox.empty()) flush(c);
  timers(now);
  update_fail_mode(now);
  return work_done_;
}

size_t ConnectionManager::n_connections() const {
  return static_cast<size_t>(
      std::count_if(conns_.begin(), conns_.end(), [](const ConnPtr& c) { return c->ch.hello_done; }));
}

bool ConnectionManager::controller_connected() const {
  return std::any_of(conns_.begin(), conns_.end(),
                     [](const ConnPtr& c) { return c->active && c->ch.hello_done; });
}

size_t ConnectionManager::queued_bytes() const {
  size_t n = 0;
  for (const ConnPtr& c : conns_) n += c->queued;
  return n;
}

}  // namespace dps::ofproto
