// config_daemon.h - the config store inside dpswitchd: its JSON-RPC server
// thread, the reconciliation of the store into the datapath, and the runtime
// methods.
//
// What: ConfigDaemon opens the store file (--db), imports the start-up
//   configuration into an empty store (desired_config.h), listens on the
//   --remote sockets, keeps the running switch equal to the store
//   (reconciler.h) and serves the runtime methods (runtime_methods.h). The
//   control loop calls run() every round; that is where all of it touches
//   the Datapath and the Ofproto.
// Design: two threads.
//   - The RPC thread runs a private boost::asio::io_context: the
//     JsonRpcServer, the ConfigStore (its commits fsync, so they must not
//     stall the control loop) and every store read/write. After each durable
//     commit it reads a DesiredConfig snapshot; when that differs from the
//     last one handed over, it parks it in a one-slot mailbox (newer
//     snapshots replace older ones not yet taken) and posts a "reconcile"
//     closure on the ControlQueue.
//   - The control (ofproto) thread, in run(): drains the ControlQueue
//     (reconcile closures and runtime requests), and every
//     kStatsIntervalMs collects port statistics. Results go back to the RPC
//     thread with boost::asio::post(): write-backs (Interface.ofport/error/
//     link_state/..., then Open_vSwitch.cur_cfg = the applied next_cfg, in
//     one transaction) and runtime replies.
//   So config changes reach the datapath only through the control thread,
//   and the control thread never waits for the disk.
//   The store file is locked (flock on FILE.lock) so two daemons never share
//   it; with the default path, a locked or unusable store makes the daemon
//   run without the store (warning), with --db it is fatal.
// Thread-safety: construct, run() and destroy on the control thread. The
//   constructor does the first import and reconciliation synchronously
//   (before the RPC thread starts), so ports are settled before the PMDs
//   start forwarding.
#pragma once

#include <utility>  // before any boost/asio include under C++20

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "control_queue.h"
#include "daemon_config.h"
#include "desired_config.h"
#include "dp_ports.h"
#include "reconciler.h"
#include "runtime_methods.h"

namespace dps::confdb {
class ConfigStore;
class JsonRpcServer;
}  // namespace dps::confdb

namespace dps::daemon {

// Port statistics are written to Interface.statistics this often (OVS: 5 s).
inline constexpr int64_t kStatsIntervalMs = 5000;

class ConfigDaemon {
 public:
  // Throws std::runtime_error when an explicitly given --db / --remote
  // cannot be used. `bridges` may be null (ports only); `bridge_name` is the
  // start-up bridge (the --vdev ports' bridge on first import).
  ConfigDaemon(const DaemonConfig& cfg, datapath::Datapath& dp, ofproto::BridgeSet* bridges,
               std::string bridge_name);
  ~ConfigDaemon();
  ConfigDaemon(const ConfigDaemon&) = delete;
  ConfigDaemon& operator=(const ConfigDaemon&) = delete;

  // One control-loop round: reconcile, runtime requests, periodic stats.
  // Returns the work done (0: the caller may sleep).
  unsigned run();

  bool enabled() const { return store_ != nullptr; }
  // Called with Open_vSwitch other_config now and after each reconciliation
  // (control thread); the metrics endpoint follows its key this way.
  using OtherConfigHook = std::function<void(const std::map<std::string, std::string>&)>;
  void set_other_config_hook(OtherConfigHook h) {
    other_config_hook_ = std::move(h);
    other_config_hook_(other_config_);
  }
  Reconciler& reconciler() { return rec_; }
  // sflow/show and ipfix/show read these (null: none).
  void set_sampling(SamplingAgents* s) { targets_.sampling = s; }
  static std::string version();

 private:
  bool open_store(const DaemonConfig& cfg);
  // Import, first reconciliation and write-back (throws confdb::OvsdbError).
  void initialize(const DaemonConfig& cfg);
  void start_server(const DaemonConfig& cfg, bool explicit_remotes);
  // RPC thread.
  void on_commit();
  void snapshot();
  void write_back(const WriteBack& wb, bool with_state);
  // Control thread.
  void reconcile();

  datapath::Datapath& dp_;
  DatapathPorts ports_;  // the reconciler's view of dp_
  Reconciler rec_;
  RuntimeTargets targets_;
  ControlQueue queue_;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<confdb::ConfigStore> store_;
  std::unique_ptr<confdb::JsonRpcServer> server_;
  std::thread thread_;
  int lock_fd_ = -1;

  // RPC thread only.
  size_t subscription_ = 0;
  bool snapshot_posted_ = false;
  std::optional<DesiredConfig> last_sent_;

  // The mailbox between the two threads.
  std::mutex mailbox_mu_;
  std::optional<DesiredConfig> mailbox_;  // guarded by mailbox_mu_

  // Control thread only.
  std::chrono::steady_clock::time_point next_stats_;
  std::map<std::string, std::string> other_config_;  // as last applied
  OtherConfigHook other_config_hook_;
};

}  // namespace dps::daemon
