#include "jsonrpc_server.h"

#include "jsonrpc_framer.h"
#include "methods.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <deque>
#include <filesystem>
#include <stdexcept>

namespace dps::confdb {

namespace asio = boost::asio;
using asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

json rpc_reply(const json& id, json result) {
  return json{{"id", id}, {"result", std::move(result)}, {"error", nullptr}};
}
json rpc_error(const json& id, json error) {
  return json{{"id", id}, {"result", nullptr}, {"error", std::move(error)}};
}
json rpc_notify(const std::string& method, json params) {
  return json{{"id", nullptr}, {"method", method}, {"params", std::move(params)}};
}

namespace {

// 64 KiB reads: one syscall takes a typical transact or a burst of requests.
inline constexpr size_t kReadChunk = 64 * 1024;

template <typename Socket>
class SocketSession : public Peer, public std::enable_shared_from_this<SocketSession<Socket>> {
 public:
  SocketSession(Socket sock, JsonRpcServer& srv, std::string name)
      : sock_(std::move(sock)), srv_(srv), framer_(srv.options().max_message_bytes), name_(std::move(name)) {}

  void start() { read(); }
  std::string name() const override { return name_; }
  bool alive() const override { return !closed_; }

  void send(const json& msg) override {
    if (closed_ || closing_) return;
    std::string s = msg.dump(-1, ' ', false, json::error_handler_t::replace);
    backlog_ += s.size();
    if (backlog_ > srv_.options().max_backlog_bytes) {
      spdlog::warn("confdb: {}: {} bytes of unsent output, disconnecting a client that does not read", name_,
                   backlog_);
      close();
      return;
    }
    outq_.push_back(std::move(s));
    if (!writing_) write();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    sock_.close(ec);
    auto keep = this->shared_from_this();
    srv_.detach(*this);
  }

 private:
  void read() {
    auto self = this->shared_from_this();
    sock_.async_read_some(asio::buffer(rbuf_), [self](const boost::system::error_code& ec, size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    framer_.feed(rbuf_.data(), n);
    while (auto text = framer_.next()) {
      json msg = json::parse(*text, nullptr, false);
      if (msg.is_discarded()) {
        fatal("syntax error: message is not valid JSON");
        return;
      }
      srv_.handle(this->shared_from_this(), msg);
      if (closed_) return;
    }
    if (!framer_.error().empty()) {
      fatal(framer_.error());
      return;
    }
    read();
  }

  // Tells the client why, then disconnects once that is written.
  void fatal(const std::string& why) {
    spdlog::info("confdb: {}: {}; disconnecting", name_, why);
    send(rpc_error(nullptr, why));
    closing_ = true;
    if (!writing_) close();
  }

  void write() {
    writing_ = true;
    auto self = this->shared_from_this();
    asio::async_write(sock_, asio::buffer(outq_.front()), [self](const boost::system::error_code& ec, size_t) {
      if (self->closed_) return;
      self->backlog_ -= self->outq_.front().size();
      self->outq_.pop_front();
      if (ec) {
        self->close();
        return;
      }
      if (!self->outq_.empty()) {
        self->write();
        return;
      }
      self->writing_ = false;
      if (self->closing_) self->close();
    });
  }

  Socket sock_;
  JsonRpcServer& srv_;
  JsonFramer framer_;
  std::string name_;
  std::array<char, kReadChunk> rbuf_;
  std::deque<std::string> outq_;
  size_t backlog_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace

struct JsonRpcServer::Listener {
  std::string remote;
  std::unique_ptr<unix_stream::acceptor> unix_acc;
  std::unique_ptr<tcp::acceptor> tcp_acc;
  std::string unix_path;
  size_t serial = 0;
};

JsonRpcServer::JsonRpcServer(asio::io_context& io, ConfigStore& store, ServerOptions opts)
    : io_(io), store_(store), opts_(std::move(opts)) {
  subscription_ = store_.subscribe([this](const ChangeSet& cs, const Database&) { on_commit(cs); });
  add_builtin_runtime_methods();
}

JsonRpcServer::~JsonRpcServer() {
  *alive_ = false;
  stop();
  store_.unsubscribe(subscription_);
}

void JsonRpcServer::stop() {
  for (auto& l : listeners_) {
    boost::system::error_code ec;
    if (l->unix_acc) {
      l->unix_acc->close(ec);
      ::unlink(l->unix_path.c_str());
    }
    if (l->tcp_acc) l->tcp_acc->close(ec);
  }
  listeners_.clear();
  auto peers = peers_;
  for (auto& p : peers) {
    if (auto* u = dynamic_cast<SocketSession<unix_stream::socket>*>(p.get())) u->close();
    else if (auto* t = dynamic_cast<SocketSession<tcp::socket>*>(p.get())) t->close();
  }
  peers_.clear();
  pending_.clear();
}

void JsonRpcServer::listen(const std::string& remote) {
  auto l = std::make_unique<Listener>();
  l->remote = remote;
  auto fail_remote = [&](const std::string& why) {
    throw std::runtime_error("cannot listen on " + remote + ": " + why);
  };
  if (remote.rfind("punix:", 0) == 0) {
    l->unix_path = remote.substr(6);
    if (l->unix_path.empty()) fail_remote("empty socket path");
    std::error_code fec;
    auto dir = std::filesystem::path(l->unix_path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, fec);
    ::unlink(l->unix_path.c_str());  // a stale socket from a previous run
    boost::system::error_code ec;
    l->unix_acc = std::make_unique<unix_stream::acceptor>(io_);
    l->unix_acc->open(unix_stream(), ec);
    if (!ec) l->unix_acc->bind(unix_stream::endpoint(l->unix_path), ec);
    if (!ec) l->unix_acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail_remote(ec.message());
    ::chmod(l->unix_path.c_str(), 0660);
  } else if (remote.rfind("ptcp:", 0) == 0) {
    std::string rest = remote.substr(5);
    std::string port_s = rest, ip = "127.0.0.1";
    if (auto colon = rest.find(':'); colon != std::string::npos) {
      port_s = rest.substr(0, colon);
      ip = rest.substr(colon + 1);
      if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    }
    char* end = nullptr;
    long port = std::strtol(port_s.c_str(), &end, 10);
    if (port_s.empty() || *end || port < 0 || port > 65535) fail_remote("bad port \"" + port_s + "\"");
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(ip, ec);
    if (ec) fail_remote("bad address \"" + ip + "\"");
    tcp::endpoint ep(addr, static_cast<uint16_t>(port));
    l->tcp_acc = std::make_unique<tcp::acceptor>(io_);
    l->tcp_acc->open(ep.protocol(), ec);
    if (!ec) l->tcp_acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) l->tcp_acc->bind(ep, ec);
    if (!ec) l->tcp_acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail_remote(ec.message());
    tcp_port_ = l->tcp_acc->local_endpoint().port();
  } else {
    fail_remote("remote must be punix:PATH or ptcp:PORT[:IP]");
  }
  Listener* lp = l.get();
  listeners_.push_back(std::move(l));
  accept(lp);
}

void JsonRpcServer::accept(Listener* l) {
  auto alive = alive_;
  if (l->unix_acc) {
    l->unix_acc->async_accept([this, l, alive](const boost::system::error_code& ec, unix_stream::socket s) {
      if (!*alive || ec == asio::error::operation_aborted) return;
      if (!ec) {
        auto sess = std::make_shared<SocketSession<unix_stream::socket>>(
            std::move(s), *this, "unix:" + l->unix_path + "#" + std::to_string(++l->serial));
        attach(sess);
        sess->start();
      }
      accept(l);
    });
  } else {
    l->tcp_acc->async_accept([this, l, alive](const boost::system::error_code& ec, tcp::socket s) {
      if (!*alive || ec == asio::error::operation_aborted) return;
      if (!ec) {
        boost::system::error_code e2;
        auto ep = s.remote_endpoint(e2);
        std::string name = "tcp:" + (e2 ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port()));
        auto sess = std::make_shared<SocketSession<tcp::socket>>(std::move(s), *this, name);
        attach(sess);
        sess->start();
      }
      accept(l);
    });
  }
}

void JsonRpcServer::attach(const std::shared_ptr<Peer>& peer) { peers_.insert(peer); }

void JsonRpcServer::detach(Peer& peer) {
  release_locks(peer);
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto p = it->second.peer.lock();
    if (!p || p.get() == &peer) it = pending_.erase(it);
    else ++it;
  }
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    if (it->get() == &peer) {
      peers_.erase(it);
      break;
    }
  }
}

void JsonRpcServer::handle(const std::shared_ptr<Peer>& peer, const json& msg) {
  if (!msg.is_object()) {
    peer->send(rpc_error(nullptr, "syntax error: a JSON-RPC message must be a JSON object"));
    return;
  }
  json id = msg.contains("id") ? msg["id"] : json(nullptr);
  auto mit = msg.find("method");
  if (mit == msg.end()) {
    // A reply (to nothing we sent: the server sends no requests) is ignored.
    if (msg.contains("result") || msg.contains("error")) return;
    peer->send(rpc_error(id, "syntax error: message has neither \"method\" nor \"result\""));
    return;
  }
  if (!mit->is_string()) {
    peer->send(rpc_error(id, "syntax error: \"method\" must be a string"));
    return;
  }
  const std::string& method = mit->get_ref<const std::string&>();
  json params = msg.contains("params") ? msg["params"] : json::array();
  if (!params.is_array()) {
    peer->send(rpc_error(id, "syntax error: \"params\" must be an array"));
    return;
  }
  bool notification = id.is_null();
  if (notification && method != "cancel") {
    // Notifications get no reply; the only one a client sends is "cancel".
    if (method == "echo") return;
  }
  if (const MethodDef* m = MethodTable::find(method)) {
    (this->*(m->handler))(peer, id, params);
    return;
  }
  auto rit = runtime_.find(method);
  if (rit == runtime_.end()) {
    if (!notification) peer->send(rpc_error(id, "unknown method"));
    return;
  }
  std::weak_ptr<Peer> weak = peer;
  auto replied = std::make_shared<bool>(false);
  Reply reply = [weak, id, notification, replied](json value, bool is_error) {
    if (*replied) return;
    *replied = true;
    auto p = weak.lock();
    if (!p || notification) return;
    p->send(is_error ? rpc_error(id, std::move(value)) : rpc_reply(id, std::move(value)));
  };
  try {
    rit->second.handler(params, reply);
  } catch (const RpcError& e) {
    reply(e.error, true);
  } catch (const OvsdbError& e) {
    reply(e.to_json(), true);
  } catch (const std::exception& e) {
    reply(json(e.what()), true);
  }
}

void JsonRpcServer::add_method(const std::string& name, const std::string& doc, bool mutates, SyncHandler h) {
  add_async_method(name, doc, mutates, [h = std::move(h)](const json& params, Reply reply) {
    reply(h(params), false);
  });
}

void JsonRpcServer::add_async_method(const std::string& name, const std::string& doc, bool mutates,
                                     AsyncHandler h) {
  if (MethodTable::find(name)) throw std::invalid_argument("method " + name + " is a database method");
  runtime_[name] = RuntimeMethod{doc, mutates, std::move(h)};
}

void JsonRpcServer::remove_method(const std::string& name) { runtime_.erase(name); }

std::vector<JsonRpcServer::MethodInfo> JsonRpcServer::methods() const {
  std::vector<MethodInfo> out;
  for (auto& m : MethodTable::db_methods()) out.push_back({m.name, m.doc, m.mutates, true});
  for (auto& [name, m] : runtime_) out.push_back({name, m.doc, m.mutates, false});
  return out;
}

void JsonRpcServer::add_builtin_runtime_methods() {
  add_method("list-commands", "[] -> [{name, doc, mutates}]: every method this server answers", false,
             [this](const json&) {
               json out = json::array();
               for (auto& m : methods())
                 out.push_back({{"name", m.name}, {"doc", m.doc}, {"mutates", m.mutates}});
               return out;
             });
  add_method("version", "[] -> {\"version\": STRING}: the daemon's version", false,
             [this](const json&) { return json{{"version", opts_.version}}; });
  add_method("vlog/set", "[LEVEL] -> {\"level\": LEVEL}: set the log level (trace, debug, info, warn, err, off)",
             true, [](const json& params) {
               if (params.size() != 1 || !params[0].is_string())
                 throw RpcError{"vlog/set takes one parameter: the level"};
               auto lvl = spdlog::level::from_str(params[0].get<std::string>());
               if (lvl == spdlog::level::off && params[0] != "off")
                 throw RpcError{"unknown log level " + params[0].dump() +
                                " (use trace, debug, info, warn, err, critical or off)"};
               spdlog::set_level(lvl);
               return json{{"level", spdlog::level::to_string_view(lvl).data()}};
             });
}

// ---- transactions ----------------------------------------------------------

void JsonRpcServer::start_transaction(const std::shared_ptr<Peer>& p, const json& id, json ops) {
  PendingTxn t;
  t.peer = p;
  t.id = id;
  t.ops = std::move(ops);
  t.start = std::chrono::steady_clock::now();
  run_txn(std::move(t), false);
}

void JsonRpcServer::run_txn(PendingTxn t, bool timed_out) {
  auto peer = t.peer.lock();
  if (!peer || !peer->alive()) return;
  TxnContext ctx;
  ctx.owns_lock = [this, raw = peer.get()](const std::string& l) { return owns_lock(*raw, l); };
  ctx.elapsed = timed_out ? std::chrono::milliseconds(std::numeric_limits<int32_t>::max())
                          : std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - t.start);
  TxnOutcome out = store_.transact(t.ops, ctx);
  if (!out.blocked) {
    if (t.timer) t.timer->cancel();
    peer->send(rpc_reply(t.id, std::move(out.result)));
    return;
  }
  if (t.key == 0) t.key = ++pending_serial_;
  uint64_t key = t.key;
  if (out.retry_within && !t.timer) {
    t.timer = std::make_unique<asio::steady_timer>(io_);
    t.timer->expires_after(*out.retry_within);
    auto alive = alive_;
    t.timer->async_wait([this, alive, key](const boost::system::error_code& ec) {
      if (ec || !*alive) return;
      auto node = pending_.extract(key);
      if (node.empty()) return;
      run_txn(std::move(node.mapped()), true);
    });
  }
  pending_.emplace(key, std::move(t));
}

void JsonRpcServer::on_commit(const ChangeSet& cs) {
  for (auto& p : std::vector<std::shared_ptr<Peer>>(peers_.begin(), peers_.end())) {
    for (auto& [key, mon] : p->monitors) {
      json upd = monitor_updates(mon, cs);
      if (!upd.empty()) p->send(rpc_notify("update", json::array({mon.id, std::move(upd)})));
    }
  }
  // Blocked transactions are retried after the commit completes, from the
  // io_context: never inside the committing call.
  if (!pending_.empty() && !retry_posted_) {
    retry_posted_ = true;
    auto alive = alive_;
    asio::post(io_, [this, alive] {
      if (!*alive) return;
      retry_posted_ = false;
      retry_pending();
    });
  }
}

void JsonRpcServer::retry_pending() {
  std::vector<uint64_t> keys;
  for (auto& [k, t] : pending_) keys.push_back(k);
  for (uint64_t k : keys) {
    auto node = pending_.extract(k);
    if (node.empty()) continue;
    run_txn(std::move(node.mapped()), false);
  }
}

void JsonRpcServer::cancel_pending(Peer& p, const json& id) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    auto peer = it->second.peer.lock();
    if (peer.get() == &p && it->second.id == id) {
      if (it->second.timer) it->second.timer->cancel();
      p.send(rpc_error(id, OvsdbError{"canceled", "request canceled by the client"}.to_json()));
      pending_.erase(it);
      return;
    }
  }
}

json JsonRpcServer::monitor_updates(const Monitor& mon, const ChangeSet& cs) const {
  const auto& schema = store_.schema();
  json out = json::object();
  for (auto& rc : cs.rows) {
    const MonitorTable* mt = nullptr;
    for (auto& t : mon.tables)
      if (t.table == rc.table) mt = &t;
    if (!mt) continue;
    auto& ts = schema.tables[rc.table];
    auto project = [&](const Row& r) {
      json j = json::object();
      for (size_t c : mt->columns) j[ts.columns[c].name] = datum_to_json(r.columns[c], ts.columns[c].type);
      return j;
    };
    json entry;
    if (!rc.old_row) {
      if (!mt->insert) continue;
      entry = {{"new", project(*rc.new_row)}};
    } else if (!rc.new_row) {
      if (!mt->remove) continue;
      entry = {{"old", project(*rc.old_row)}};
    } else {
      if (!mt->modify) continue;
      json old = json::object();
      for (size_t c : mt->columns)
        if (rc.old_row->columns[c] != rc.new_row->columns[c])
          old[ts.columns[c].name] = datum_to_json(rc.old_row->columns[c], ts.columns[c].type);
      if (old.empty()) continue;
      entry = {{"old", std::move(old)}, {"new", project(*rc.new_row)}};
    }
    out[ts.name][rc.uuid.to_string()] = std::move(entry);
  }
  return out;
}

// ---- locks -----------------------------------------------------------------

bool JsonRpcServer::owns_lock(const Peer& p, const std::string& lock) const {
  auto it = locks_.find(lock);
  return it != locks_.end() && !it->second.empty() && it->second.front() == &p;
}

void JsonRpcServer::release_locks(Peer& p) {
  for (auto it = locks_.begin(); it != locks_.end();) {
    auto& q = it->second;
    bool was_owner = !q.empty() && q.front() == &p;
    q.erase(std::remove(q.begin(), q.end(), &p), q.end());
    if (was_owner && !q.empty()) q.front()->send(rpc_notify("locked", json::array({it->first})));
    if (q.empty()) it = locks_.erase(it);
    else ++it;
  }
}

}  // namespace dps::confdb
