// jsonrpc_server.h - the RFC 7047 JSON-RPC server of the config store.
//
// What: listens on "punix:PATH" (mode 0660) and "ptcp:PORT[:IP]" (127.0.0.1
//   unless an address is given) remotes, one session per client, and answers
//   the database methods of methods.cc (list_dbs, get_schema, transact,
//   cancel, monitor, monitor_cancel, lock, steal, unlock, echo) plus runtime
//   methods the daemon registers (appctl-style names such as
//   "dpif/pmd-stats-show"). Anything else gets ovsdb-server's "unknown
//   method" error, so clients that try newer methods fall back.
// Design: everything runs on one io_context thread. The server subscribes to
//   the ConfigStore: after each commit it sends "update" notifications to the
//   monitors, then re-runs transactions blocked in a "wait" (ovsdb-server's
//   triggers). Each session bounds its input message size and its output
//   backlog; a client that breaks either, or sends malformed JSON, gets an
//   error and is disconnected without affecting anyone else. The dispatch
//   logic sees a client as a Peer, so tests and the fuzzer drive it without
//   sockets.
// Thread-safety: not thread-safe; call only on the io_context's thread (post
//   to it from elsewhere). Runtime handlers run on that thread too.
#pragma once

#include <utility>  // before any boost/asio include under C++20

#include "config_store.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <set>

namespace dps::confdb {

// 4 MiB: a full Open_vSwitch dump with thousands of ports is well under 1 MiB;
// anything bigger is a broken or hostile client (ovsdb-server has no limit,
// we prefer a bounded buffer per connection).
inline constexpr size_t kMaxMessageBytes = 4u << 20;
// 64 MiB of unsent replies/updates per client: a monitor that stops reading
// is dropped instead of growing the daemon without bound.
inline constexpr size_t kMaxBacklogBytes = 64u << 20;

struct ServerOptions {
  size_t max_message_bytes = kMaxMessageBytes;
  size_t max_backlog_bytes = kMaxBacklogBytes;
  std::string version = "dpswitch";  // returned by the "version" runtime method
};

// An error a runtime handler throws to answer with a JSON-RPC error.
struct RpcError {
  json error;
};

struct MonitorTable {
  size_t table = 0;
  std::vector<size_t> columns;  // monitored columns (schema positions)
  bool initial = true, insert = true, remove = true, modify = true;
};

struct Monitor {
  json id;
  std::vector<MonitorTable> tables;
};

// One client as the dispatcher sees it.
class Peer {
 public:
  virtual ~Peer() = default;
  virtual void send(const json& msg) = 0;
  virtual std::string name() const = 0;
  virtual bool alive() const { return true; }

  std::map<std::string, Monitor> monitors;  // by monitor id's JSON text
};

class JsonRpcServer {
 public:
  using SyncHandler = std::function<json(const json& params)>;
  using Reply = std::function<void(json result_or_error, bool is_error)>;
  using AsyncHandler = std::function<void(const json& params, Reply reply)>;

  JsonRpcServer(boost::asio::io_context& io, ConfigStore& store, ServerOptions opts = {});
  ~JsonRpcServer();
  JsonRpcServer(const JsonRpcServer&) = delete;
  JsonRpcServer& operator=(const JsonRpcServer&) = delete;

  // Starts listening on "punix:PATH" or "ptcp:PORT[:IP]". Throws
  // std::runtime_error naming the remote and the reason.
  void listen(const std::string& remote);
  // Port actually bound by the last ptcp: remote (for "ptcp:0").
  uint16_t tcp_port() const { return tcp_port_; }
  // Closes listeners and every session.
  void stop();

  // Runtime (appctl-like) methods, run on the io_context's thread. A
  // handler throws RpcError (or any std::exception) to answer with an error.
  // Registering an existing name replaces it.
  void add_method(const std::string& name, const std::string& doc, bool mutates, SyncHandler h);
  void add_async_method(const std::string& name, const std::string& doc, bool mutates, AsyncHandler h);
  void remove_method(const std::string& name);

  // Socket-less entry points (tests, fuzzer, sessions).
  void attach(const std::shared_ptr<Peer>& peer);
  void detach(Peer& peer);
  void handle(const std::shared_ptr<Peer>& peer, const json& msg);
  size_t n_sessions() const { return peers_.size(); }
  ConfigStore& store() { return store_; }
  const ServerOptions& options() const { return opts_; }
  boost::asio::io_context& io() { return io_; }

  // The method table of methods.cc plus the runtime methods.
  struct MethodInfo {
    std::string name, doc;
    bool mutates;
    bool builtin;
  };
  std::vector<MethodInfo> methods() const;

  // Builds a table-updates object for `mon` from one commit; empty if nothing
  // it watches changed. Exposed for tests.
  json monitor_updates(const Monitor& mon, const ChangeSet& cs) const;

 private:
  friend struct MethodTable;
  struct PendingTxn {
    std::weak_ptr<Peer> peer;
    json id;
    json ops;
    std::chrono::steady_clock::time_point start;
    std::unique_ptr<boost::asio::steady_timer> timer;
    uint64_t key = 0;  // stable across retries: the timer finds it by this
  };
  struct RuntimeMethod {
    std::string doc;
    bool mutates;
    AsyncHandler handler;
  };

  // methods.cc: the database methods.
  void m_list_dbs(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_get_schema(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_transact(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_cancel(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_monitor(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_monitor_cancel(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_lock(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_steal(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_unlock(const std::shared_ptr<Peer>& p, const json& id, const json& params);
  void m_echo(const std::shared_ptr<Peer>& p, const json& id, const json& params);

  bool check_db(Peer& p, const json& id, const json& params, size_t min_params);
  void on_commit(const ChangeSet& cs);
  void start_transaction(const std::shared_ptr<Peer>& p, const json& id, json ops);
  void run_txn(PendingTxn t, bool timed_out);
  void retry_pending();
  void cancel_pending(Peer& p, const json& id);
  struct Listener;
  void accept(Listener* l);
  bool owns_lock(const Peer& p, const std::string& lock) const;
  void release_locks(Peer& p);
  void add_builtin_runtime_methods();

  boost::asio::io_context& io_;
  ConfigStore& store_;
  ServerOptions opts_;
  size_t subscription_ = 0;
  std::set<std::shared_ptr<Peer>> peers_;
  std::map<uint64_t, PendingTxn> pending_;  // transactions blocked in a "wait"
  uint64_t pending_serial_ = 0;
  bool retry_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards posted handlers
  std::map<std::string, std::deque<Peer*>> locks_;  // front = owner
  std::map<std::string, RuntimeMethod> runtime_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  uint16_t tcp_port_ = 0;
};

// Wire helpers.
json rpc_reply(const json& id, json result);
json rpc_error(const json& id, json error);
json rpc_notify(const std::string& method, json params);

}  // namespace dps::confdb
