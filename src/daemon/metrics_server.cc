#include "metrics_server.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>

#include "config_daemon.h"
#include "daemon_config.h"
#include "http_request.h"
#include "metrics_text.h"

namespace dps::daemon {

namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<exporter::Endpoint> parse_metrics_address(const std::string& text, std::string* error) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
    return exporter::parse_endpoint("127.0.0.1:" + text, error, true);
  return exporter::parse_endpoint(text, error, true);
}

struct MetricsServer::Conn {
  Conn(asio::io_context& io, tcp::socket s) : sock(std::move(s)), timer(io) {}
  void close() {
    boost::system::error_code ec;
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    timer.cancel();
  }
  tcp::socket sock;
  asio::steady_timer timer;
  std::array<char, 2048> buf{};
  std::string in;
  std::string out;
};

MetricsServer::MetricsServer(std::function<std::string()> render)
    : work_(io_.get_executor()), render_(std::move(render)) {}

MetricsServer::~MetricsServer() { close(); }

bool MetricsServer::listening() const { return acceptor_ && acceptor_->is_open(); }

std::optional<exporter::Endpoint> MetricsServer::local_endpoint() const {
  if (!listening()) return std::nullopt;
  boost::system::error_code ec;
  tcp::endpoint ep = acceptor_->local_endpoint(ec);
  if (ec) return std::nullopt;
  std::string err;
  std::string host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
  return exporter::parse_endpoint(host + ":" + std::to_string(ep.port()), &err, true);
}

void MetricsServer::close() {
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
    acceptor_.reset();
  }
  for (auto& w : conns_)
    if (auto c = w.lock()) c->close();
  conns_.clear();
}

bool MetricsServer::set_address(const std::string& address, const std::string& source) {
  if (address == address_) return address.empty() || listening();
  close();
  address_ = address;
  if (address.empty()) {
    spdlog::info("metrics: endpoint off");
    return true;
  }
  std::string err;
  std::optional<exporter::Endpoint> ep = parse_metrics_address(address, &err);
  if (!ep) {
    spdlog::error("metrics: {}: {} (expected IP:PORT, [IPv6]:PORT or PORT); endpoint off", source, err);
    return false;
  }
  try {
    asio::ip::address ip = asio::ip::make_address(ep->addr.str());
    tcp::endpoint bind_to(ip, ep->port);
    acceptor_ = std::make_unique<tcp::acceptor>(io_);
    acceptor_->open(bind_to.protocol());
    acceptor_->set_option(tcp::acceptor::reuse_address(true));
    acceptor_->bind(bind_to);
    acceptor_->listen();
  } catch (const boost::system::system_error& e) {
    spdlog::error("metrics: {}: cannot listen on {}: {}; endpoint off", source, ep->str(), e.code().message());
    acceptor_.reset();
    return false;
  }
  spdlog::info("metrics: serving http://{}/metrics ({})", local_endpoint()->str(), source);
  accept();
  return true;
}

void MetricsServer::accept() {
  acceptor_->async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !listening()) return;
    if (!ec) {
      std::erase_if(conns_, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
      if (conns_.size() >= kMetricsMaxConnections) {
        boost::system::error_code ignored;
        s.close(ignored);
      } else {
        auto c = std::make_shared<Conn>(io_, std::move(s));
        conns_.push_back(c);
        start(std::move(c));
      }
    } else {
      spdlog::debug("metrics: accept: {}", ec.message());
    }
    accept();
  });
}

void MetricsServer::start(std::shared_ptr<Conn> c) {
  c->timer.expires_after(std::chrono::milliseconds(kMetricsIdleTimeoutMs));
  c->timer.async_wait([c](const boost::system::error_code& ec) {
    if (!ec) c->close();  // not answered in time
  });
  read(std::move(c));
}

void MetricsServer::read(std::shared_ptr<Conn> c) {
  c->sock.async_read_some(asio::buffer(c->buf), [this, c](const boost::system::error_code& ec, size_t n) {
    if (ec) {
      c->close();
      return;
    }
    c->in.append(c->buf.data(), n);
    on_request(c);
  });
}

void MetricsServer::on_request(std::shared_ptr<Conn> c) {
  exporter::HttpRequest req;
  std::string err;
  switch (exporter::parse_http_request(c->in, &req, &err)) {
    case exporter::HttpParse::kIncomplete: read(std::move(c)); return;
    case exporter::HttpParse::kTooLarge: respond(std::move(c), 431, "request header too large\n", false); return;
    case exporter::HttpParse::kBad: respond(std::move(c), 400, err + "\n", false); return;
    case exporter::HttpParse::kOk: break;
  }
  requests_++;
  bool head = req.method == "HEAD";
  if (req.method != "GET" && !head) {
    respond(std::move(c), 405, "only GET and HEAD\n", false, "text/plain; charset=utf-8", "Allow: GET, HEAD\r\n");
  } else if (req.path() == "/metrics") {
    std::string body;
    try {
      body = render_();
    } catch (const std::exception& e) {
      spdlog::error("metrics: rendering failed: {}", e.what());
      respond(std::move(c), 500, "rendering failed\n", head);
      return;
    }
    respond(std::move(c), 200, body, head, kPromContentType);
  } else if (req.path() == "/") {
    respond(std::move(c), 200, "dpswitchd: Prometheus metrics at /metrics\n", head);
  } else {
    respond(std::move(c), 404, "not found; the metrics are at /metrics\n", head);
  }
}

void MetricsServer::respond(std::shared_ptr<Conn> c, int status, const std::string& body, bool head_only,
                            const char* content_type, const char* extra) {
  c->out = exporter::http_response(status, content_type, body, head_only, extra);
  asio::async_write(c->sock, asio::buffer(c->out),
                    [c](const boost::system::error_code&, size_t) { c->close(); });
}

unsigned MetricsServer::run() { return static_cast<unsigned>(io_.poll()); }

void attach_metrics(MetricsServer& server, const DaemonConfig& cfg, ConfigDaemon& confd) {
  if (!cfg.metrics_listen.empty()) {
    server.set_address(cfg.metrics_listen, "--metrics-listen");
    confd.set_other_config_hook([told = false](const std::map<std::string, std::string>& oc) mutable {
      if (oc.count(kMetricsListenKey) && !told)
        spdlog::info("metrics: other_config:{} in the store; --metrics-listen wins for this run",
                     kMetricsListenKey);
      told = told || oc.count(kMetricsListenKey);
    });
    return;
  }
  confd.set_other_config_hook([&server](const std::map<std::string, std::string>& oc) {
    auto it = oc.find(kMetricsListenKey);
    server.set_address(it == oc.end() ? "" : it->second,
                       std::string("other_config:") + kMetricsListenKey + "=" +
                           (it == oc.end() ? "" : it->second));
  });
}

}  // namespace dps::daemon
