#include "jsonrpc_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace dps::cli {

namespace asio = boost::asio;

JsonRpcClient::JsonRpcClient(const std::string& target) : target_(target) {
  boost::system::error_code ec;
  if (target.rfind("unix:", 0) == 0) {
    unix_.emplace(io_);
    unix_->connect(asio::local::stream_protocol::endpoint(target.substr(5)), ec);
  } else if (target.rfind("tcp:", 0) == 0) {
    std::string rest = target.substr(4);
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) throw ClientError(ClientError::Connect, target + ": expected tcp:IP:PORT");
    std::string ip = rest.substr(0, colon), port = rest.substr(colon + 1);
    if (ip.size() > 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    auto addr = asio::ip::make_address(ip, ec);
    if (ec) throw ClientError(ClientError::Connect, target + ": bad address " + ip);
    tcp_.emplace(io_);
    tcp_->connect(asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(std::stoi(port))), ec);
  } else {
    throw ClientError(ClientError::Connect, target + ": the database must be unix:PATH or tcp:IP:PORT");
  }
  if (ec)
    throw ClientError(ClientError::Connect,
                      target + ": database connection failed (" + ec.message() + "); is dpswitchd running?");
}

JsonRpcClient::~JsonRpcClient() = default;

void JsonRpcClient::set_deadline(std::chrono::milliseconds from_now) {
  if (from_now.count() <= 0) deadline_.reset();
  else deadline_ = std::chrono::steady_clock::now() + from_now;
}

void JsonRpcClient::write(const std::string& s) {
  boost::system::error_code ec;
  if (unix_) asio::write(*unix_, asio::buffer(s), ec);
  else asio::write(*tcp_, asio::buffer(s), ec);
  if (ec) throw ClientError(ClientError::Protocol, target_ + ": send failed (" + ec.message() + ")");
}

json JsonRpcClient::read_message() {
  for (;;) {
    if (auto text = framer_.next()) {
      json j = json::parse(*text, nullptr, false);
      if (j.is_discarded()) throw ClientError(ClientError::Protocol, target_ + ": server sent invalid JSON");
      return j;
    }
    if (!framer_.error().empty()) throw ClientError(ClientError::Protocol, target_ + ": server sent invalid JSON");
    char chunk[65536];
    boost::system::error_code ec = asio::error::would_block;
    size_t n = 0;
    auto done = [&](const boost::system::error_code& e, size_t got) {
      ec = e;
      n = got;
    };
    if (unix_) unix_->async_read_some(asio::buffer(chunk), done);
    else tcp_->async_read_some(asio::buffer(chunk), done);
    io_.restart();
    if (deadline_) {
      io_.run_until(*deadline_);
      if (ec == asio::error::would_block) {
        if (unix_) unix_->cancel();
        else tcp_->cancel();
        io_.restart();
        io_.run();
        throw ClientError(ClientError::Timeout, target_ + ": timed out waiting for the daemon");
      }
    } else {
      io_.run();
    }
    if (ec) throw ClientError(ClientError::Protocol, target_ + ": connection closed (" + ec.message() + ")");
    framer_.feed(chunk, n);
  }
}

json JsonRpcClient::call(const std::string& method, json params) {
  json id = ++next_id_;
  write(json{{"method", method}, {"params", std::move(params)}, {"id", id}}.dump());
  for (;;) {
    json m = read_message();
    if (m.contains("method")) {
      if (m["method"] == "echo" && !m["id"].is_null())  // answer the server's liveness probe
        write(json{{"id", m["id"]}, {"result", m["params"]}, {"error", nullptr}}.dump());
      else
        notes_.push_back(std::move(m));
      continue;
    }
    if (m.value("id", json()) == id) return m;
  }
}

json JsonRpcClient::next_notification() {
  if (!notes_.empty()) {
    json m = std::move(notes_.front());
    notes_.pop_front();
    return m;
  }
  for (;;) {
    json m = read_message();
    if (m.contains("method")) return m;
  }
}

}  // namespace dps::cli
