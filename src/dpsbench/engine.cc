#include "engine.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "dpdk_netdev.h"
#include "frame.h"
#include "mbuf_pool.h"
#include "rx_tracker.h"

namespace dps::dpsbench {

using netdev::DpdkNetdev;

Mode parse_mode(const std::string& s) {
  if (s == "txonly") return Mode::kTxOnly;
  if (s == "rxonly") return Mode::kRxOnly;
  if (s == "io") return Mode::kIo;
  if (s == "flowgen") return Mode::kFlowgen;
  throw std::invalid_argument("unknown mode '" + s + "' (modes: txonly, rxonly, io, flowgen)");
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kTxOnly: return "txonly";
    case Mode::kRxOnly: return "rxonly";
    case Mode::kIo: return "io";
    case Mode::kFlowgen: return "flowgen";
  }
  return "?";
}

namespace {

// Burst size cap: the stack arrays in the loops are this big.
inline constexpr unsigned kMaxBurst = 64;
// Rate-limited senders catch up at most this much backlog after a stall: on
// a dedicated core stalls do not happen; on a shared one (CI, a laptop) the
// average rate still holds through scheduler time slices of a few ms.
inline constexpr double kCatchUpSeconds = 0.01;
// A memif client whose link is not up this long after connecting reconnects
// (until the link timeout): a server that accepted it before its own port
// was started never completes the handshake.
inline constexpr double kMemifReconnectSeconds = 3;
// The tx slot every port is opened with: n_tx_slots = 0 gives one tx queue
// used by slot 0 alone, so tx_burst never takes the queue lock. (Tx jobs call
// rte_eth_tx_burst on that queue directly: they keep refused frames for the
// next poll instead of having Netdev::tx_burst free them.)
inline constexpr unsigned kTxSlot = 0;

std::atomic<bool> g_interrupted{false};

void bump(std::atomic<uint64_t>& a, uint64_t d) {
  a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// Reverse direction for odd flowgen ports: swap every src/dst pair.
TrafficProfile reversed(TrafficProfile p) {
  std::swap(p.src_mac, p.dst_mac);
  std::swap(p.src_ip4, p.dst_ip4);
  std::swap(p.src_ip6, p.dst_ip6);
  std::swap(p.src_port, p.dst_port);
  auto& v = p.vary;
  std::swap(v[static_cast<unsigned>(Field::kSrcMac)], v[static_cast<unsigned>(Field::kDstMac)]);
  std::swap(v[static_cast<unsigned>(Field::kSrcIp)], v[static_cast<unsigned>(Field::kDstIp)]);
  std::swap(v[static_cast<unsigned>(Field::kSrcPort)], v[static_cast<unsigned>(Field::kDstPort)]);
  return p;
}

// The value of `key` in a devargs string ("net_memif0,role=client,..."), or
// `def` when absent.
std::string devarg(const std::string& devargs, const std::string& key, const std::string& def) {
  size_t pos = devargs.find(',');
  while (pos != std::string::npos) {
    size_t start = pos + 1;
    pos = devargs.find(',', start);
    std::string kv = devargs.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
  }
  return def;
}

// A memif port in the client role (the role devarg defaults to client).
bool is_memif_client(const std::string& devargs) {
  return devargs.rfind("net_memif", 0) == 0 && devarg(devargs, "role", "client") == "client";
}

// A duration in messages as they always read: the first five characters of
// std::to_string ("10.00").
std::string seconds_text(double s) { return std::to_string(s).substr(0, 5); }

// A memif client started before its server fails for good (DPDK does not
// retry the connect), and re-probing it races with the server's handshake;
// so wait until the server's unix socket is listening (/proc/net/unix lists
// it, "@path" when abstract -- DPDK's default) before opening the port.
// Returns false on timeout. Not a memif client: returns true at once.
bool wait_for_memif_server(const std::string& devargs, double deadline) {
  if (!is_memif_client(devargs)) return true;
  std::string path = devarg(devargs, "socket", "/run/memif.sock");
  bool abstract = devarg(devargs, "socket-abstract", "yes") != "no";
  std::string want = abstract ? "@" + path : path;
  for (;;) {
    std::ifstream unix_socks("/proc/net/unix");
    std::string line;
    while (std::getline(unix_socks, line)) {
      // Fields: Num RefCount Protocol Flags Type St Inode Path; listening
      // sockets have __SO_ACCEPTCON (0x10000) in Flags.
      std::istringstream f(line);
      std::string num, ref, proto, flags, type, st, inode, p;
      if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode >> p)) continue;
      if (p == want && (std::stoul(flags, nullptr, 16) & 0x10000)) return true;
    }
    if (now_s() >= deadline) return false;
    sleep_s(0.05);
  }
}

void zero_data_room(rte_mempool*, void*, void* obj, unsigned) {
  auto* m = static_cast<rte_mbuf*>(obj);
  std::memset(m->buf_addr, 0, m->buf_len);
}

}  // namespace

// --- jobs -------------------------------------------------------------------

struct alignas(64) TxJob {
  unsigned port = 0;
  uint16_t port_id = 0;  // ethdev port; queue 0 is this job's alone
  rte_mempool* pool = nullptr;
  std::unique_ptr<FrameBuilder> fb;
  unsigned burst = 32;
  uint64_t limit = 0;  // packets, 0 = none
  uint64_t catch_up = 0;  // cycles of rate debt kept after a stall
  // Written by the main lcore, read by the worker.
  std::atomic<uint64_t> cycles_per_pkt{0};  // 0 = unlimited
  std::atomic<bool> active{false};
  // Written by the worker, read by the main lcore.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> packets{0}, bytes{0}, refused{0}, nombuf{0};
  std::atomic<uint64_t> first_tsc{0}, last_tsc{0};
  // Worker-private cursors.
  uint32_t seq = 0, flow = 0, size_pos = 0;
  uint64_t next_tsc = 0, built_total = 0;
  bool was_active = false;
  // Frames built but refused by the device (ring full), in sequence order:
  // sent first at the next poll, never rebuilt or dropped.
  rte_mbuf* pending[kMaxBurst];
  uint16_t pending_len[kMaxBurst];
  unsigned pending_pos = 0, n_pending = 0;

  void account(unsigned sent, const uint16_t* lens, uint64_t now);
  // Sends what is pending; true when nothing is left.
  bool flush_pending(uint64_t now);
  // One poll of the tx loop: builds and sends at most one burst.
  void poll(uint64_t now);
  // After the workers stopped: frames never sent go back to the pool.
  void drop_pending();
};

inline void TxJob::account(unsigned sent, const uint16_t* lens, uint64_t now) {
  uint64_t b = 0;
  for (unsigned i = 0; i < sent; i++) b += lens[i] + kFcsLen;
  bump(packets, sent);
  bump(bytes, b);
  if (!first_tsc.load(std::memory_order_relaxed)) first_tsc.store(now, std::memory_order_relaxed);
  last_tsc.store(now, std::memory_order_relaxed);
}

inline bool TxJob::flush_pending(uint64_t now) {
  if (!n_pending) return true;
  uint16_t sent = rte_eth_tx_burst(port_id, 0, pending + pending_pos, static_cast<uint16_t>(n_pending));
  if (sent) account(sent, pending_len + pending_pos, now);
  pending_pos += sent;
  n_pending -= sent;
  return n_pending == 0;
}

inline void TxJob::poll(uint64_t now) {
  if (!active.load(std::memory_order_relaxed)) {
    was_active = false;
    flush_pending(now);  // built frames are committed: they still go out
    return;
  }
  if (!flush_pending(now)) return;  // the device is still full
  unsigned n = burst;
  uint64_t cpp = cycles_per_pkt.load(std::memory_order_relaxed);
  if (cpp) {
    if (!was_active) next_tsc = now;  // a (re)start does not send a backlog
    if (now < next_tsc) return;
    // After a stall (preemption on a shared core), send the backlog of at
    // most kCatchUpSeconds at full speed; older debt is forgiven.
    if (now - next_tsc > catch_up) next_tsc = now - catch_up;
    uint64_t due = (now - next_tsc) / cpp + 1;
    n = static_cast<unsigned>(std::min<uint64_t>(n, due));
  }
  was_active = true;
  if (limit) {
    uint64_t left = limit - built_total;
    if (left == 0) {
      done.store(true, std::memory_order_relaxed);
      return;
    }
    n = static_cast<unsigned>(std::min<uint64_t>(n, left));
  }
  rte_mbuf* pkts[kMaxBurst];
  uint16_t lens[kMaxBurst];
  // Raw allocation: the tx pool is private and every mbuf in it is a
  // one-segment packet at the default headroom (rte_pktmbuf_init at pool
  // creation; drivers free it back with next/nb_segs reset), so only the
  // lengths and the headroom are stored below. rte_pktmbuf_alloc_bulk's
  // reset reads buf_len from each cold header first, about a tenth of
  // the transmit loop.
  if (rte_mempool_get_bulk(pool, reinterpret_cast<void**>(pkts), n) != 0) {
    bump(nombuf, 1);
    return;
  }
  // The headers come back cold from the pool: start every miss at once.
  for (unsigned i = 0; i < n; i++) rte_prefetch0(pkts[i]);
  const auto& sizes = fb->sizes();
  const uint32_t n_flows = fb->n_flows();
  const uint32_t n_sizes = static_cast<uint32_t>(sizes.size());
  uint32_t f = flow, sp = size_pos;
  for (unsigned i = 0; i < n; i++) {
    rte_mbuf* m = pkts[i];
    const SizeInfo& sz = sizes[sp];
    m->data_off = RTE_PKTMBUF_HEADROOM;
    fb->write(rte_pktmbuf_mtod(m, uint8_t*), f, sz, seq + i, now);
    m->data_len = sz.data_len;
    m->pkt_len = sz.data_len;
    lens[i] = sz.data_len;
    if (++f == n_flows) f = 0;
    if (++sp == n_sizes) sp = 0;
  }
  flow = f;
  size_pos = sp;
  seq += n;
  built_total += n;
  if (cpp) next_tsc += cpp * n;
  uint16_t sent = rte_eth_tx_burst(port_id, 0, pkts, static_cast<uint16_t>(n));
  if (sent) account(sent, lens, now);
  if (sent < n) {
    // Keep the rest for the next poll (they hold the next sequences).
    n_pending = n - sent;
    pending_pos = 0;
    std::memcpy(pending, pkts + sent, n_pending * sizeof(rte_mbuf*));
    std::memcpy(pending_len, lens + sent, n_pending * sizeof(uint16_t));
    bump(refused, n_pending);
  }
}

inline void TxJob::drop_pending() {
  if (n_pending) rte_pktmbuf_free_bulk(pending + pending_pos, n_pending);
  n_pending = 0;
}

struct alignas(64) RxJob {
  unsigned port = 0;
  DpdkNetdev* dev = nullptr;
  DpdkNetdev* peer = nullptr;  // io mode: forward here
  unsigned peer_index = 0;
  unsigned burst = 32;
  std::unique_ptr<RxTracker> tracker;  // null in io mode
  std::atomic<uint64_t> packets{0}, bytes{0}, fwd_refused{0};
  std::atomic<uint64_t> first_tsc{0}, last_tsc{0};

  void poll() {
    rte_mbuf* pkts[kMaxBurst];
    uint16_t n = dev->rx_burst(0, pkts, static_cast<uint16_t>(burst));
    if (!n) return;
    uint64_t now = rte_rdtsc();
    uint64_t b = 0;
    if (peer) {
      for (unsigned i = 0; i < n; i++) b += pkts[i]->pkt_len + kFcsLen;
      uint16_t sent = peer->tx_burst(kTxSlot, pkts, n);
      if (sent < n) bump(fwd_refused, n - sent);
      bump(packets, n);
      bump(bytes, b);
    } else {
      const uint8_t* data[kMaxBurst];
      uint16_t lens[kMaxBurst];
      for (unsigned i = 0; i < n; i++) {
        data[i] = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
        rte_prefetch0(data[i]);
        lens[i] = pkts[i]->data_len;
      }
      tracker->on_burst(data, lens, n, now);
      rte_pktmbuf_free_bulk(pkts, n);
      bump(packets, n);
    }
    if (!first_tsc.load(std::memory_order_relaxed)) first_tsc.store(now, std::memory_order_relaxed);
    last_tsc.store(now, std::memory_order_relaxed);
  }

  uint64_t byte_count() const {
    return tracker ? tracker->snapshot().bytes : bytes.load(std::memory_order_relaxed);
  }
};

struct Worker {
  unsigned lcore = 0;
  std::vector<TxJob*> tx;
  std::vector<RxJob*> rx;
  const std::atomic<bool>* stop = nullptr;
};

int worker_main(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  // A receive-only worker reads the TSC only when a burst arrived (in
  // RxJob::poll): an rdtsc per empty poll is measurable at 40 Mpps.
  const bool sends = !w->tx.empty();
  while (!w->stop->load(std::memory_order_relaxed)) {
    if (sends) {
      uint64_t now = rte_rdtsc();
      for (TxJob* t : w->tx) t->poll(now);
    }
    for (RxJob* r : w->rx) r->poll();
  }
  return 0;
}

// --- the engine -------------------------------------------------------------

struct Engine::Impl {
  EngineOptions o;
  std::unique_ptr<netdev::MbufPool> rx_pool, tx_pool;
  std::vector<std::unique_ptr<DpdkNetdev>> ports;
  std::vector<netdev::PortConfig> port_cfgs;
  std::vector<std::unique_ptr<TxJob>> tx;
  std::vector<std::unique_ptr<RxJob>> rx;
  std::vector<Worker> workers;
  std::atomic<bool> stop{false};
  bool launched = false;
  double hz = 0;
  nlohmann::json timeline = nlohmann::json::array();

  // Timeline state.
  struct Prev {
    double t = 0;
    uint64_t tx = 0, rx = 0;
    std::vector<std::unique_ptr<LatencyHistogram>> hist;
  } prev;

  double us(uint64_t cycles) const { return static_cast<double>(cycles) * 1e6 / hz; }

  // Closes and reopens port i (before the workers run) and re-points its
  // jobs. Used when a memif client connected but its link never came up: a
  // server that accepts before its port is started leaves the client stuck.
  void reopen(size_t i, double deadline) {
    ports[i].reset();
    if (!wait_for_memif_server(port_cfgs[i].devargs, deadline))
      throw std::runtime_error("port " + std::to_string(i) + " (devargs '" + port_cfgs[i].devargs +
                               "'): the memif server went away while waiting for the link");
    ports[i] = DpdkNetdev::open(port_cfgs[i], rx_pool->get(), 0);
    for (auto& t : tx)
      if (t->port == i) t->port_id = ports[i]->port_id();
    for (auto& r : rx) {
      if (r->port == i) r->dev = ports[i].get();
      if (r->peer && r->peer_index == i) r->peer = ports[i].get();
    }
  }

  uint64_t tx_packets() const {
    uint64_t s = 0;
    for (auto& t : tx) s += t->packets.load(std::memory_order_relaxed);
    return s;
  }
  uint64_t rx_packets() const {
    uint64_t s = 0;
    for (auto& r : rx) s += r->packets.load(std::memory_order_relaxed);
    return s;
  }
  uint64_t rx_unique() const {
    uint64_t s = 0;
    for (auto& r : rx) s += r->tracker ? r->tracker->snapshot().seq.unique() : r->packets.load();
    return s;
  }
  // Merged latency over every rx port, copied now.
  std::unique_ptr<LatencyHistogram> latency_now() const {
    auto h = std::make_unique<LatencyHistogram>();
    for (auto& r : rx)
      if (r->tracker) h->merge(r->tracker->latency());
    return h;
  }

  void set_rate_total(double pps_total) {
    double per_port = tx.empty() ? 0 : pps_total / static_cast<double>(tx.size());
    uint64_t cpp = per_port > 0 ? std::max<uint64_t>(1, static_cast<uint64_t>(hz / per_port)) : 0;
    for (auto& t : tx) t->cycles_per_pkt.store(cpp, std::memory_order_relaxed);
  }
  void set_active(bool on) {
    for (auto& t : tx) t->active.store(on, std::memory_order_relaxed);
  }

  void sample(double t0, bool print) {
    double t = now_s();
    uint64_t txp = tx_packets(), rxp = rx_packets();
    auto h = latency_now();
    auto interval = std::make_unique<LatencyHistogram>();
    interval->copy_from(*h);
    if (!prev.hist.empty()) interval->subtract(*prev.hist[0]);
    double dt = t - prev.t;
    nlohmann::json s;
    s["t"] = t - t0;
    s["tx_mpps"] = dt > 0 ? static_cast<double>(txp - prev.tx) / dt / 1e6 : 0;
    s["rx_mpps"] = dt > 0 ? static_cast<double>(rxp - prev.rx) / dt / 1e6 : 0;
    s["lat_p50_us"] = us(interval->percentile(0.5));
    s["lat_p99_us"] = us(interval->percentile(0.99));
    s["lat_max_us"] = us(interval->count() ? interval->max() : 0);
    timeline.push_back(s);
    if (print) {
      std::printf("\r%6.1fs  tx %8.3f Mpps  rx %8.3f Mpps  lost %-10llu p99 %8.1f us   ", t - t0,
                  s["tx_mpps"].get<double>(), s["rx_mpps"].get<double>(),
                  static_cast<unsigned long long>(total_lost()), s["lat_p99_us"].get<double>());
      std::fflush(stdout);
    }
    prev.t = t;
    prev.tx = txp;
    prev.rx = rxp;
    prev.hist.clear();
    prev.hist.push_back(std::move(h));
  }

  uint64_t total_lost() const {
    if (o.mode == Mode::kFlowgen) {
      uint64_t t = tx_packets(), u = rx_unique();
      return t > u ? t - u : 0;
    }
    uint64_t s = 0;
    for (auto& r : rx)
      if (r->tracker) s += r->tracker->snapshot().seq.lost;
    return s;
  }

  nlohmann::json latency_json(const LatencyHistogram& h) const {
    nlohmann::json j;
    j["samples"] = h.count();
    j["min_us"] = us(h.min());
    j["mean_us"] = h.mean() * 1e6 / hz;
    j["p50_us"] = us(h.percentile(0.5));
    j["p99_us"] = us(h.percentile(0.99));
    j["p999_us"] = us(h.percentile(0.999));
    j["max_us"] = us(h.max());
    return j;
  }

  double span_s(uint64_t first, uint64_t last) const {
    return first && last > first ? static_cast<double>(last - first) / hz : 0;
  }

  // Stages of the constructor, in order.
  void check_options();
  void create_pools();
  void open_ports();
  void create_jobs();
  void assign_workers();

  // Stages of run(), in order.
  void wait_for_links();
  void launch_workers();
  nlohmann::json run_ndr();                         // the NDR/PDR search: the "ndr" document
  bool run_traffic(double t0, double run_timeout);  // one run of the mode: true on timeout
  void stop_workers();
  nlohmann::json results(double t0, bool timed_out, const nlohmann::json& ndr) const;

 private:
  void open_port(unsigned i);
  TrialResult ndr_trial(double rate, unsigned& trial_no);

  // Sums over the ports for the "total" document.
  struct Totals {
    uint64_t tx = 0, tx_bytes = 0, rx = 0, rx_bytes = 0;
    double tx_span = 0, rx_span = 0;
  };
  nlohmann::json port_json(size_t i, Totals& tot) const;
  nlohmann::json tx_json(const TxJob& t, Totals& tot) const;
  nlohmann::json rx_json(const RxJob& r, Totals& tot) const;
  nlohmann::json total_json(const Totals& tot) const;
};

namespace {

double mpps(uint64_t packets, double span) { return span > 0 ? static_cast<double>(packets) / span / 1e6 : 0; }

// Layer-1 rate: the bytes plus the per-frame wire overhead (preamble, IFG).
double gbps_l1(uint64_t packets, uint64_t bytes, double span) {
  return span > 0 ? static_cast<double>(bytes + packets * kWireOverhead) * 8 / span / 1e9 : 0;
}

double gbps_l2(uint64_t bytes, double span) { return span > 0 ? static_cast<double>(bytes) * 8 / span / 1e9 : 0; }

// The counters and rates of one direction of one port.
nlohmann::json throughput_json(uint64_t packets, uint64_t bytes, double span) {
  return {{"packets", packets},
          {"bytes", bytes},
          {"seconds", span},
          {"mpps", mpps(packets, span)},
          {"gbps_l1", gbps_l1(packets, bytes, span)},
          {"gbps_l2", gbps_l2(bytes, span)}};
}

// Without --timeout: long enough for the whole run plus a margin.
double default_run_timeout(const EngineOptions& o) {
  if (o.run_timeout_s > 0) return o.run_timeout_s;
  if (o.ndr) return (o.ndr_opts.max_trials + 1) * (o.trial_s + o.drain_s + 0.5) + 30;
  if (o.profile.duration_s > 0) return o.profile.duration_s + o.drain_s + 30;
  return 60;
}

}  // namespace

// --- construction -------------------------------------------------------------

// Fills in the mode's default port lists and rejects what cannot run.
void Engine::Impl::check_options() {
  if (o.ports.empty()) throw std::runtime_error("no ports given (use --port DEVARGS)");
  if (o.burst == 0 || o.burst > kMaxBurst)
    throw std::runtime_error("burst " + std::to_string(o.burst) + " out of range 1.." + std::to_string(kMaxBurst));
  const unsigned n = static_cast<unsigned>(o.ports.size());
  auto all = [&] {
    std::vector<unsigned> v(n);
    for (unsigned i = 0; i < n; i++) v[i] = i;
    return v;
  };
  if (o.tx_ports.empty() && (o.mode == Mode::kTxOnly || o.mode == Mode::kFlowgen)) o.tx_ports = all();
  if (o.rx_ports.empty() && o.mode != Mode::kTxOnly) o.rx_ports = all();
  if (o.mode == Mode::kTxOnly && !o.rx_ports.empty())
    throw std::runtime_error("--rx-ports has no meaning in txonly mode (it only sends)");
  if ((o.mode == Mode::kRxOnly || o.mode == Mode::kIo) && !o.tx_ports.empty())
    throw std::runtime_error(std::string("--tx-ports has no meaning in ") + mode_name(o.mode) +
                             " mode (rxonly only receives; io sends each port's frames to its pair)");
  for (const auto& [list, what] : {std::pair{&o.tx_ports, "tx"}, std::pair{&o.rx_ports, "rx"}})
    for (unsigned p : *list)
      if (p >= n)
        throw std::runtime_error(std::string(what) + " port " + std::to_string(p) + " does not exist (" +
                                 std::to_string(n) + " ports given)");
  if (o.mode != Mode::kRxOnly && o.mode != Mode::kIo) o.profile.validate();
  if (o.ndr && o.mode != Mode::kFlowgen)
    throw std::runtime_error("--ndr needs flowgen mode (it sends and receives in one process)");
  unsigned workers = rte_lcore_count() - 1;
  if (workers == 0)
    throw std::runtime_error("dpsbench needs at least one worker lcore besides the main lcore (EAL -l/--lcores)");
}

void Engine::Impl::create_pools() {
  int socket = static_cast<int>(rte_socket_id());
  if (socket < 0) socket = SOCKET_ID_ANY;
  rx_pool = std::make_unique<netdev::MbufPool>("dpsbench_rx", o.mbufs, socket);
  if (o.tx_ports.empty()) return;
  // Frames are single-segment: the tx data room holds the largest size.
  unsigned largest = *std::max_element(o.profile.frame_sizes.begin(), o.profile.frame_sizes.end()) - kFcsLen;
  auto room = static_cast<uint16_t>(std::max(2048u, largest) + RTE_PKTMBUF_HEADROOM);
  tx_pool = std::make_unique<netdev::MbufPool>("dpsbench_tx", o.mbufs, socket, room);
  rte_mempool_obj_iter(tx_pool->get(), zero_data_room, nullptr);
}

void Engine::Impl::open_ports() {
  for (unsigned i = 0; i < o.ports.size(); i++) open_port(i);
}

// A memif/vhost client cannot start before its server exists: retry the
// open until the link timeout, then report the last error.
void Engine::Impl::open_port(unsigned i) {
  netdev::PortConfig cfg;
  cfg.name = "port" + std::to_string(i);
  cfg.devargs = o.ports[i];
  cfg.n_rxq = 1;
  cfg.n_txq = 1;
  double deadline = now_s() + o.link_timeout_s;
  if (!wait_for_memif_server(cfg.devargs, deadline))
    throw std::runtime_error("port " + std::to_string(i) + " (devargs '" + cfg.devargs +
                             "'): no memif server listening on its socket after the " +
                             seconds_text(o.link_timeout_s) +
                             " s link timeout; is the peer (switch or memif server) running?");
  for (;;) {
    try {
      ports.push_back(DpdkNetdev::open(cfg, rx_pool->get(), 0));
      port_cfgs.push_back(cfg);
      return;
    } catch (const std::exception& e) {
      if (now_s() >= deadline)
        throw std::runtime_error(std::string(e.what()) + " (still failing after the " +
                                 seconds_text(o.link_timeout_s) + " s link timeout)");
      sleep_s(0.1);
    }
  }
}

void Engine::Impl::create_jobs() {
  const unsigned n = static_cast<unsigned>(ports.size());
  for (unsigned p : o.tx_ports) {
    auto t = std::make_unique<TxJob>();
    t->port = p;
    t->port_id = ports[p]->port_id();
    t->pool = tx_pool->get();
    t->burst = o.burst;
    t->limit = o.profile.packets;
    t->catch_up = static_cast<uint64_t>(hz * kCatchUpSeconds);
    bool reverse = o.mode == Mode::kFlowgen && (p % 2 == 1);
    t->fb = std::make_unique<FrameBuilder>(reverse ? reversed(o.profile) : o.profile, static_cast<uint16_t>(p));
    tx.push_back(std::move(t));
  }
  for (unsigned p : o.rx_ports) {
    auto r = std::make_unique<RxJob>();
    r->port = p;
    r->dev = ports[p].get();
    r->burst = o.burst;
    if (o.mode == Mode::kIo) {
      unsigned peer = n == 1 ? p : (p ^ 1u);
      if (peer >= n) peer = p;
      r->peer = ports[peer].get();
      r->peer_index = peer;
    } else {
      r->tracker = std::make_unique<RxTracker>();
    }
    rx.push_back(std::move(r));
  }
}

// Lcores: one runs everything, or tx jobs and rx jobs on separate lcores.
void Engine::Impl::assign_workers() {
  std::vector<unsigned> lcores;
  unsigned lc;
  RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
  bool split = lcores.size() >= 2 && !tx.empty() && !rx.empty();
  if (split) {
    workers.resize(2);
    for (auto& t : tx) workers[0].tx.push_back(t.get());
    for (auto& r : rx) workers[1].rx.push_back(r.get());
  } else if (o.mode == Mode::kIo && lcores.size() >= 2 && rx.size() >= 2) {
    workers.resize(2);
    for (size_t i = 0; i < rx.size(); i++) workers[i % 2].rx.push_back(rx[i].get());
  } else {
    workers.resize(1);
    for (auto& t : tx) workers[0].tx.push_back(t.get());
    for (auto& r : rx) workers[0].rx.push_back(r.get());
  }
  for (size_t i = 0; i < workers.size(); i++) {
    workers[i].lcore = lcores[i];
    workers[i].stop = &stop;
  }
}

Engine::Engine(EngineOptions opts) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.o = std::move(opts);
  m.hz = static_cast<double>(rte_get_tsc_hz());
  m.check_options();
  m.create_pools();
  m.open_ports();
  m.create_jobs();
  m.assign_workers();
}

void Engine::interrupt() { g_interrupted.store(true, std::memory_order_relaxed); }

Engine::~Engine() {
  if (impl_ && impl_->launched) {
    impl_->stop.store(true);
    rte_eal_mp_wait_lcore();
  }
  if (impl_)
    for (auto& t : impl_->tx) t->drop_pending();
}

// --- the run --------------------------------------------------------------------

// Every link up, bounded by the link timeout; a memif client whose link
// stays down is reopened (see reopen()).
void Engine::Impl::wait_for_links() {
  double deadline = now_s() + o.link_timeout_s;
  std::vector<double> opened(ports.size(), now_s());
  for (;;) {
    std::string down;
    for (size_t i = 0; i < ports.size(); i++) {
      if (ports[i]->link_up()) continue;
      down += (down.empty() ? "" : ", ") + std::string("port ") + std::to_string(i) + " (" + o.ports[i] + ")";
      if (is_memif_client(o.ports[i]) && now_s() - opened[i] > kMemifReconnectSeconds && now_s() < deadline) {
        reopen(i, deadline);
        opened[i] = now_s();
      }
    }
    if (down.empty()) break;
    if (now_s() > deadline)
      throw std::runtime_error("link did not come up within " + seconds_text(o.link_timeout_s) + " s on " + down +
                               "; is the peer (switch or memif server) running?");
    sleep_s(0.02);
  }
  for (auto& p : ports) p->clear_stats();
}

void Engine::Impl::launch_workers() {
  for (auto& w : workers) {
    int rc = rte_eal_remote_launch(worker_main, &w, w.lcore);
    if (rc != 0) {
      stop.store(true);
      rte_eal_mp_wait_lcore();
      throw std::runtime_error("cannot launch worker on lcore " + std::to_string(w.lcore));
    }
  }
  launched = true;
  if (!o.ready_file.empty() && !std::ofstream(o.ready_file))
    spdlog::warn("cannot write the ready file {}", o.ready_file);
}

// One NDR/PDR trial: trial_s at a set total rate, counters diffed.
TrialResult Engine::Impl::ndr_trial(double rate, unsigned& trial_no) {
  if (g_interrupted.load(std::memory_order_relaxed)) throw std::runtime_error("NDR search interrupted");
  uint64_t tx0 = tx_packets(), rx0 = rx_unique();
  auto h0 = latency_now();
  set_rate_total(rate);
  set_active(true);
  double ts = now_s();
  sleep_s(o.trial_s);
  set_active(false);
  double te = now_s();
  sleep_s(o.drain_s);
  TrialResult r;
  r.offered_pps = rate;
  r.tx = tx_packets() - tx0;
  r.rx = rx_unique() - rx0;
  r.achieved_pps = static_cast<double>(r.tx) / (te - ts);
  auto h = latency_now();
  h->subtract(*h0);
  r.latency_p50_us = us(h->percentile(0.5));
  r.latency_p99_us = us(h->percentile(0.99));
  if (o.progress) {
    std::printf("\rtrial %2u: offered %9.3f Mpps  sent %9.3f Mpps  loss %.6f%%   \n", ++trial_no, rate / 1e6,
                r.achieved_pps / 1e6, r.loss_ratio() * 100);
    std::fflush(stdout);
  }
  return r;
}

nlohmann::json Engine::Impl::run_ndr() {
  NdrOptions no = o.ndr_opts;
  unsigned trial_no = 0;
  auto trial = [&](double rate) { return ndr_trial(rate, trial_no); };
  if (no.max_pps <= 0) no.max_pps = o.profile.rate_pps() * static_cast<double>(tx.size());
  double measured_max = 0;
  if (no.max_pps <= 0) {
    // Unlimited: the generator's own maximum is the top of the search.
    TrialResult r = trial(0);
    measured_max = r.achieved_pps;
    no.max_pps = measured_max;
  }
  if (no.max_pps <= 0) throw std::runtime_error("NDR search: the generator sent nothing (are the tx ports up?)");
  NdrResult res = ndr_pdr_search(trial, no);
  nlohmann::json j;
  j["max_pps"] = no.max_pps;
  j["measured_generator_max_pps"] = measured_max;
  j["resolution"] = no.resolution;
  j["pdr_loss_ratio"] = no.pdr_loss;
  j["trial_s"] = o.trial_s;
  j["ndr_pps"] = res.ndr_pps;
  j["pdr_pps"] = res.pdr_pps;
  j["ndr_gbps_l1"] = o.profile.wire_bps(res.ndr_pps) / 1e9;
  j["pdr_gbps_l1"] = o.profile.wire_bps(res.pdr_pps) / 1e9;
  j["trials"] = nlohmann::json::array();
  for (const auto& t : res.trials)
    j["trials"].push_back({{"phase", t.phase},
                           {"offered_pps", t.result.offered_pps},
                           {"achieved_pps", t.result.achieved_pps},
                           {"tx", t.result.tx},
                           {"rx", t.result.rx},
                           {"loss_ratio", t.result.loss_ratio()},
                           {"lat_p50_us", t.result.latency_p50_us},
                           {"lat_p99_us", t.result.latency_p99_us},
                           {"pass", t.pass}});
  return j;
}

// The control loop of a plain run: samples the timeline every interval and
// stops on the mode's conditions (tx: duration or packet limit, then the
// drain; rx: duration, packet count or idleness), on SIGINT or on timeout.
bool Engine::Impl::run_traffic(double t0, double run_timeout) {
  set_rate_total(o.profile.rate_pps() * static_cast<double>(tx.size()));
  set_active(true);
  double next_sample = t0 + o.interval_s;
  double tx_end = 0, last_rx_change = t0;
  uint64_t last_rx = 0;
  bool any_rx = false, timed_out = false;
  for (;;) {
    sleep_s(0.01);
    double t = now_s();
    if (t >= next_sample) {
      sample(t0, o.progress);
      next_sample += o.interval_s;
    }
    if (t - t0 > run_timeout) {
      timed_out = true;
      break;
    }
    if (g_interrupted.load(std::memory_order_relaxed)) break;
    uint64_t rxp = rx_packets();
    if (rxp != last_rx) {
      last_rx = rxp;
      last_rx_change = t;
      any_rx = true;
    }
    if (!tx.empty()) {
      if (tx_end == 0) {
        bool all_done = std::all_of(tx.begin(), tx.end(), [](auto& j) { return j->done.load(); });
        if (all_done || (o.profile.duration_s > 0 && t - t0 >= o.profile.duration_s)) {
          set_active(false);
          tx_end = t;
        }
      }
      // Even without rx jobs: the peer needs time to drain what is in flight
      // before closing the port takes the link (and the ring) down.
      if (tx_end > 0 && t - tx_end >= o.drain_s) break;
    } else {
      // rxonly / io: stop on duration, count or idleness.
      if (o.profile.duration_s > 0 && t - t0 >= o.profile.duration_s) break;
      if (o.rx_packets && rxp >= o.rx_packets) break;
      if (o.idle_stop_s > 0 && any_rx && t - last_rx_change >= o.idle_stop_s) break;
    }
  }
  sample(t0, o.progress);
  if (o.progress) std::printf("\n");
  return timed_out;
}

// Stops the workers, returns unsent frames to the pool, then (--linger)
// keeps the ports open until every link is down or the linger time is over.
void Engine::Impl::stop_workers() {
  stop.store(true);
  rte_eal_mp_wait_lcore();
  launched = false;
  for (auto& t : tx) t->drop_pending();
  if (o.linger_s <= 0) return;
  double until = now_s() + o.linger_s;
  auto any_up = [&] { return std::any_of(ports.begin(), ports.end(), [](auto& p) { return p->link_up(); }); };
  while (any_up() && now_s() < until && !g_interrupted.load(std::memory_order_relaxed)) sleep_s(0.02);
}

nlohmann::json Engine::run() {
  Impl& m = *impl_;
  m.wait_for_links();
  m.launch_workers();
  const double t0 = now_s();
  const double run_timeout = default_run_timeout(m.o);
  m.prev.t = t0;
  nlohmann::json ndr_json;
  if (m.o.ndr)
    ndr_json = m.run_ndr();
  else
    timed_out_ = m.run_traffic(t0, run_timeout);
  m.stop_workers();
  return m.results(t0, timed_out_, ndr_json);
}

// --- the results document ---------------------------------------------------------

nlohmann::json Engine::Impl::results(double t0, bool timed_out, const nlohmann::json& ndr) const {
  nlohmann::json out;
  out["mode"] = mode_name(o.mode);
  out["tsc_hz"] = hz;
  out["elapsed_s"] = now_s() - t0;
  out["timed_out"] = timed_out;
  out["wire_overhead_bytes"] = kWireOverhead;
  if (o.mode != Mode::kRxOnly && o.mode != Mode::kIo) out["profile"] = o.profile.to_json();
  out["ports"] = nlohmann::json::array();
  Totals tot;
  for (size_t i = 0; i < ports.size(); i++) out["ports"].push_back(port_json(i, tot));
  out["total"] = total_json(tot);
  out["timeline"] = timeline;
  if (!ndr.is_null()) out["ndr"] = ndr;
  return out;
}

nlohmann::json Engine::Impl::port_json(size_t i, Totals& tot) const {
  nlohmann::json pj;
  pj["index"] = i;
  pj["devargs"] = o.ports[i];
  auto st = ports[i]->stats();
  pj["device"] = {{"rx_packets", st.rx_packets}, {"tx_packets", st.tx_packets},
                  {"rx_dropped", st.rx_dropped}, {"tx_dropped", st.tx_dropped}};
  for (auto& t : tx)
    if (t->port == i) pj["tx"] = tx_json(*t, tot);
  for (auto& r : rx)
    if (r->port == i) pj["rx"] = rx_json(*r, tot);
  return pj;
}

nlohmann::json Engine::Impl::tx_json(const TxJob& t, Totals& tot) const {
  uint64_t p = t.packets.load(), b = t.bytes.load();
  double span = span_s(t.first_tsc.load(), t.last_tsc.load());
  tot.tx_span = std::max(tot.tx_span, span);
  tot.tx += p;
  tot.tx_bytes += b;
  nlohmann::json j = throughput_json(p, b, span);
  j["refused"] = t.refused.load();
  j["no_mbuf"] = t.nombuf.load();
  return j;
}

nlohmann::json Engine::Impl::rx_json(const RxJob& r, Totals& tot) const {
  uint64_t p = r.packets.load(), b = r.byte_count();
  double span = span_s(r.first_tsc.load(), r.last_tsc.load());
  tot.rx_span = std::max(tot.rx_span, span);
  tot.rx += p;
  tot.rx_bytes += b;
  nlohmann::json j = throughput_json(p, b, span);
  if (!r.tracker) {
    j["forward_refused"] = r.fwd_refused.load();
    return j;
  }
  auto s = r.tracker->snapshot();
  j["tagged"] = s.seq.received;
  j["unique"] = s.seq.unique();
  j["lost"] = s.seq.lost;
  j["reordered"] = s.seq.reordered;
  j["duplicates"] = s.seq.duplicates;
  j["untagged"] = s.untagged;
  j["foreign"] = s.foreign;
  nlohmann::json streams = nlohmann::json::array();
  for (unsigned k = 0; k < kMaxStreams; k++) {
    auto c = r.tracker->stream(k);
    if (!c.received) continue;
    streams.push_back({{"stream", k}, {"received", c.received}, {"lost", c.lost},
                       {"reordered", c.reordered}, {"duplicates", c.duplicates},
                       {"first_seq", c.first_seq}, {"highest_seq", c.highest}});
  }
  j["streams"] = streams;
  j["latency"] = latency_json(r.tracker->latency());
  return j;
}

// Totals over every port; with sequence tags, loss as the mode defines it
// (flowgen: sent - unique received; rxonly: sequence gaps).
nlohmann::json Engine::Impl::total_json(const Totals& tot) const {
  nlohmann::json total;
  total["tx_packets"] = tot.tx;
  total["rx_packets"] = tot.rx;
  total["tx_mpps"] = mpps(tot.tx, tot.tx_span);
  total["rx_mpps"] = mpps(tot.rx, tot.rx_span);
  total["tx_gbps_l1"] = gbps_l1(tot.tx, tot.tx_bytes, tot.tx_span);
  total["rx_gbps_l1"] = gbps_l1(tot.rx, tot.rx_bytes, tot.rx_span);
  if (rx.empty() || !rx[0]->tracker) return total;
  uint64_t lost = 0, reord = 0, dup = 0, uniq = 0;
  for (auto& r : rx) {
    auto s = r->tracker->snapshot();
    lost += s.seq.lost;
    reord += s.seq.reordered;
    dup += s.seq.duplicates;
    uniq += s.seq.unique();
  }
  total["rx_unique"] = uniq;
  total["reordered"] = reord;
  total["duplicates"] = dup;
  if (o.mode == Mode::kFlowgen) {
    total["lost"] = tot.tx > uniq ? tot.tx - uniq : 0;
    total["loss_basis"] = "sent - unique received";
  } else {
    total["lost"] = lost;
    total["loss_basis"] = "sequence gaps";
  }
  uint64_t l = total["lost"];
  uint64_t base = o.mode == Mode::kFlowgen ? tot.tx : uniq + lost;
  total["loss_ratio"] = base ? static_cast<double>(l) / static_cast<double>(base) : 0.0;
  total["latency"] = latency_json(*latency_now());
  return total;
}

}  // namespace dps::dpsbench
