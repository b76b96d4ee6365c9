#include "config_daemon.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <rte_version.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <filesystem>

#include "ofproto.h"
#include "config_store.h"
#include "jsonrpc_server.h"
#include "vswitch_schema.h"  // generated from src/confdb/vswitch.ovsschema

namespace dps::daemon {
namespace {

using nlohmann::json;

std::shared_ptr<const confdb::DatabaseSchema> embedded_schema() {
  return std::make_shared<const confdb::DatabaseSchema>(
      confdb::DatabaseSchema::from_json(json::parse(kVswitchSchemaJson)));
}

}  // namespace

std::string ConfigDaemon::version() {
#ifdef DPS_VERSION
  std::string v = "dpswitchd " DPS_VERSION;
#else
  std::string v = "dpswitchd";
#endif
  return v + " (" + rte_version() + ")";
}

ConfigDaemon::ConfigDaemon(const DaemonConfig& cfg, datapath::Datapath& dp,
                           ofproto::BridgeSet* bridges, std::string bridge_name)
    : dp_(dp), ports_(dp), rec_(ports_, bridges, cfg.ports, std::move(bridge_name)),
      targets_{dp, bridges, rec_} {
  next_stats_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStatsIntervalMs);
  std::set<std::string> overrides;
  for (auto& o : cfg.cli_options) {
    if (o == "--flow-idle-ms") overrides.insert("max-idle");
    if (o == "--flow-limit") overrides.insert("flow-limit");
  }
  rec_.set_startup_overrides(std::move(overrides));
  if (cfg.no_db) {
    spdlog::info("config store disabled (--no-db)");
    return;
  }
  if (!open_store(cfg)) return;
  try {
    initialize(cfg);
  } catch (const confdb::OvsdbError& e) {
    // (OvsdbError is not a std::exception: turn it into one for main().)
    throw std::runtime_error("config store " + (cfg.db_path.empty() ? std::string(kDefaultDbPath) : cfg.db_path) +
                             ": " + e.error + ": " + e.details);
  }
  subscription_ = store_->subscribe([this](const confdb::ChangeSet& cs, const confdb::Database&) {
    if (cs.durable_change) on_commit();
  });
  start_server(cfg, !cfg.remotes.empty());
  work_.emplace(boost::asio::make_work_guard(io_));
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "dps-rpc");
    io_.run();
  });
}

void ConfigDaemon::initialize(const DaemonConfig& cfg) {
  // First start: import; later starts: record the --vdev ports.
  ImportReport imp = import_startup_config(*store_, cfg, rec_.bridge_name(), rec_.open_ports(), version());
  if (imp.imported)
    spdlog::info("config store: first start, imported {} port(s) as bridge {}", cfg.ports.size(),
                 rec_.bridge_name());
  for (auto& p : imp.pinned) spdlog::info("config store: recorded --vdev port {}", p);
  for (auto& p : imp.dropped)
    spdlog::info("config store: removed port {} (an earlier run's --vdev, not given now)", p);
  confdb::Uuid root = store_->ensure_root_row();
  store_->transact(json::array({{{"op", "update"},
                                 {"table", "Open_vSwitch"},
                                 {"where", json::array({json::array({"_uuid", "==", confdb::atom_to_json(root)})})},
                                 {"row",
                                  {{"dpdk_initialized", true},
                                   {"dpdk_version", rte_version()},
                                   {"ovs_version", version()},
                                   {"datapath_types", json::array({"set", json::array({"netdev"})})},
                                   {"iface_types", json::array({"set", supported_iface_types()})}}}}}));

  // The first reconciliation, synchronously (the RPC thread is not running
  // yet, so this thread may use the store).
  DesiredConfig d = read_desired_config(*store_);
  WriteBack wb = rec_.apply(d);
  write_back(wb, true);
  other_config_ = d.other_config;
  last_sent_ = std::move(d);
}

ConfigDaemon::~ConfigDaemon() {
  if (thread_.joinable()) {
    boost::asio::post(io_, [this] {
      if (server_) server_->stop();
      io_.stop();
    });
    work_.reset();
    thread_.join();
  }
  server_.reset();
  if (store_ && subscription_) store_->unsubscribe(subscription_);
  store_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

bool ConfigDaemon::open_store(const DaemonConfig& cfg) {
  bool explicit_db = !cfg.db_path.empty();
  std::string path = explicit_db ? cfg.db_path : kDefaultDbPath;
  auto give_up = [&](const std::string& why) {
    if (explicit_db) throw std::runtime_error("--db " + path + ": " + why);
    spdlog::warn("config store {}: {}; running without the config store (give --db FILE or "
                 "--no-db)", path, why);
    return false;
  };
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string lock_path = path + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return give_up("cannot open lock file " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    return give_up("locked by another process (" + lock_path + ")");
  }
  try {
    store_ = confdb::ConfigStore::open(embedded_schema(), path);
  } catch (const confdb::OvsdbError& e) {
    return give_up(e.error + ": " + e.details);
  } catch (const std::exception& e) {
    return give_up(e.what());
  }
  spdlog::info("config store: {}", path);
  return true;
}

void ConfigDaemon::start_server(const DaemonConfig& cfg, bool explicit_remotes) {
  confdb::ServerOptions so;
  so.version = version();
  server_ = std::make_unique<confdb::JsonRpcServer>(io_, *store_, so);
  std::vector<std::string> remotes = explicit_remotes ? cfg.remotes : std::vector<std::string>{kDefaultRemote};
  for (auto& r : remotes) {
    try {
      server_->listen(r);
      spdlog::info("config store: listening on {}{}", r,
                   r.rfind("ptcp:", 0) == 0 ? " (port " + std::to_string(server_->tcp_port()) + ")" : "");
    } catch (const std::exception& e) {
      if (explicit_remotes) throw;
      spdlog::warn("{} (ovs-vsctl/dpsctl cannot reach this daemon; give --remote)", e.what());
    }
  }
  // Runtime methods: the RPC thread posts the call to the control thread,
  // which posts the answer back.
  for (const RuntimeMethodDef& def : runtime_methods()) {
    server_->add_async_method(
        def.name, def.doc, def.mutates,
        [this, def](const json& params, confdb::JsonRpcServer::Reply reply) {
          queue_.post([this, def, params, reply = std::move(reply)] {
            json res;
            bool err = false;
            try {
              res = def.handler(targets_, params);
            } catch (const confdb::RpcError& e) {
              res = e.error;
              err = true;
            } catch (const std::exception& e) {
              res = std::string(def.name) + ": " + e.what();
              err = true;
            }
            boost::asio::post(io_, [reply, res = std::move(res), err]() mutable {
              reply(std::move(res), err);
            });
          });
        });
  }
}

// ---- RPC thread ------------------------------------------------------------

void ConfigDaemon::on_commit() {
  // Read the snapshot after the notification returns (the commit may be one
  // of several queued), once per burst of commits.
  if (snapshot_posted_) return;
  snapshot_posted_ = true;
  boost::asio::post(io_, [this] {
    snapshot_posted_ = false;
    snapshot();
  });
}

void ConfigDaemon::snapshot() {
  DesiredConfig d;
  try {
    d = read_desired_config(*store_);
  } catch (const confdb::OvsdbError& e) {
    spdlog::error("config store: cannot read the configuration: {}: {}", e.error, e.details);
    return;
  }
  if (last_sent_ && *last_sent_ == d) return;  // our own write-backs, or no-op changes
  last_sent_ = d;
  bool was_empty;
  {
    std::lock_guard<std::mutex> g(mailbox_mu_);
    was_empty = !mailbox_;
    mailbox_ = std::move(d);
  }
  if (was_empty) queue_.post([this] { reconcile(); });
}

void ConfigDaemon::write_back(const WriteBack& wb, bool with_state) {
  json ops = json::array();
  for (const InterfaceReport& r : wb.interfaces) {
    const confdb::ConfigStore::InterfaceState st{
        .ofport = r.ofport, .error = r.error, .link_state = r.link_state,
        .admin_state = r.admin_state, .mac_in_use = r.mac_in_use, .mtu = r.mtu,
        .ifindex = r.ifindex, .statistics = r.statistics, .status = r.status};
    json row = confdb::ConfigStore::interface_row(st, with_state);
    if (row.empty()) continue;
    ops.push_back({{"op", "update"},
                   {"table", "Interface"},
                   {"where", json::array({json::array({"name", "==", r.name})})},
                   {"row", row}});
  }
  for (const MirrorReport& m : wb.mirrors) {
    json stats = json::array();
    for (const auto& [k, v] : m.statistics) stats.push_back(json::array({k, v}));
    ops.push_back({{"op", "update"},
                   {"table", "Mirror"},
                   {"where", json::array({json::array({"_uuid", "==", json::array({"uuid", m.uuid})})})},
                   {"row", {{"statistics", json::array({"map", stats})}}}});
  }
  if (wb.cur_cfg)
    ops.push_back({{"op", "update"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                   {"row", {{"cur_cfg", *wb.cur_cfg}}}});
  if (ops.empty()) return;
  confdb::TxnOutcome out = store_->transact(ops);
  for (auto& r : out.result)
    if (r.is_object() && r.contains("error"))
      spdlog::warn("config store: write-back failed: {}: {}", r["error"].get<std::string>(),
                   r.value("details", ""));
}

// ---- control thread --------------------------------------------------------

void ConfigDaemon::reconcile() {
  std::optional<DesiredConfig> d;
  {
    std::lock_guard<std::mutex> g(mailbox_mu_);
    d.swap(mailbox_);
  }
  if (!d) return;
  WriteBack wb = rec_.apply(*d);
  other_config_ = d->other_config;
  if (other_config_hook_) other_config_hook_(other_config_);
  boost::asio::post(io_, [this, wb = std::move(wb)] { write_back(wb, true); });
}

unsigned ConfigDaemon::run() {
  unsigned work = queue_.drain();
  if (!store_) return work;
  auto now = std::chrono::steady_clock::now();
  if (now >= next_stats_) {
    next_stats_ = now + std::chrono::milliseconds(kStatsIntervalMs);
    WriteBack wb;
    wb.interfaces = rec_.collect_stats();
    wb.mirrors = rec_.collect_mirror_stats();
    if (!wb.interfaces.empty() || !wb.mirrors.empty())
      boost::asio::post(io_, [this, wb = std::move(wb)] { write_back(wb, false); });
    work++;
  }
  return work;
}

}  // namespace dps::daemon
