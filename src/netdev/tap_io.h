// tap_io.h - the one thread that moves packets between the kernel tap
// devices of internal ports and the rings their TapNetdev shows the PMDs.
//
// What: a TapChannel is one tap: its fd, a ring towards the switch (filled
// here from read(2), drained by the PMD that polls the port) and a ring
// towards the kernel (filled by any PMD, drained here with write(2)).
// TapIo is the process-wide thread serving every channel: it sleeps in
// epoll_wait on the tap fds and an eventfd until a tap has a frame for the
// switch or a PMD has queued frames for a tap.
//
// Design: the PMDs never make a syscall for a tap: receiving is a ring
// dequeue (a few ns when idle, so an idle internal port costs the NIC
// ports next to it nothing), sending is a ring enqueue plus, only when the
// thread sleeps, one eventfd write per wake-up (kick(): the thread spins for
// kSpinNs after its last work before sleeping, so a stream of bursts pays
// it once). Lost wake-ups are excluded by the store-buffer pattern: the
// thread publishes `sleeping` then re-checks the rings; a PMD enqueues then
// reads `sleeping` (both with full fences). The tap fds are edge-triggered:
// a channel is read until EAGAIN (or until its ring towards the switch is
// full: then it is retried every millisecond, and the kernel queues or
// drops meanwhile, counted in its own statistics). Frames larger than one
// mbuf arrive as mbuf chains; chains are written with writev(2). The
// thread runs where it was created (the control thread's CPU, the main
// lcore's), at nice 0: a flood towards a tap never starves the control
// thread nor touches a PMD core.
//
// Thread-safety: attach()/detach() on the control thread (detach returns
// once the thread no longer touches the channel); kick() from any PMD;
// a channel's counters are written by one side each (see TapChannel) and
// read by anyone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "compiler.h"

struct rte_mempool;
struct rte_ring;

namespace dps::netdev {

struct TapChannel {
  std::string name;
  int fd = -1;
  rte_mempool* pool = nullptr;
  rte_ring* to_switch = nullptr;  // TapIo -> the PMD polling the port (SP/SC)
  rte_ring* to_kernel = nullptr;  // PMDs -> TapIo (MP/SC)
  // Written by the TapIo thread only (relaxed).
  alignas(kCacheLine) std::atomic<uint64_t> rx_packets{0};  // frames handed to the switch
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> rx_dropped{0};  // no mbuf for a frame (read and dropped)
  std::atomic<uint64_t> rx_errors{0};   // read(2) failed
  std::atomic<uint64_t> tx_packets{0};  // frames the kernel took
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> tx_down{0};     // the kernel refused: interface down (EIO)
  std::atomic<uint64_t> tx_errors{0};   // write(2) failed otherwise
  // Written by the PMDs (several: atomic add).
  alignas(kCacheLine) std::atomic<uint64_t> tx_ring_full{0};
  // TapIo thread only.
  bool readable = true;  // an edge was seen and EAGAIN not yet
  bool blocked = false;  // readable, but the ring towards the switch was full
};

struct TapIoStats {
  uint64_t wakeups = 0;  // epoll_wait returns after sleeping
  uint64_t kicks = 0;    // eventfd writes by PMDs
};

class TapIo {
 public:
  // Spin this long after the last frame before sleeping.
  static constexpr int64_t kSpinNs = 50'000;

  static TapIo& instance();
  ~TapIo();

  // Starts serving ch (and the thread, on first use). Throws std::runtime_error.
  void attach(TapChannel* ch);
  // Stops serving ch; returns once the thread no longer touches it (the
  // thread stops with the last channel).
  void detach(TapChannel* ch);

  // PMD side, after enqueueing into a channel's to_kernel ring.
  void kick() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (DPS_UNLIKELY(sleeping_.load(std::memory_order_relaxed)) && sleeping_.exchange(false)) {
      kicks_.fetch_add(1, std::memory_order_relaxed);
      wake();
    }
  }
  TapIoStats stats() const {
    return {wakeups_.load(std::memory_order_relaxed), kicks_.load(std::memory_order_relaxed)};
  }

 private:
  TapIo() = default;
  void start();
  void stop();
  void wake();
  void run();
  void apply_changes();
  bool service(TapChannel& ch);
  bool service_rx(TapChannel& ch);
  bool service_tx(TapChannel& ch);
  // Publishes `sleeping`, re-checks for work; the epoll timeout to use.
  int prepare_sleep();

  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<uint64_t> kicks_{0};
  std::vector<TapChannel*> channels_;  // the thread's list
  std::vector<uint8_t> scratch_;       // the thread's: frames beyond one mbuf

  // Control thread <-> TapIo thread.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TapChannel*> wanted_;  // guarded by mu_
  uint64_t change_seq_ = 0;          // guarded by mu_: bumped per change
  uint64_t applied_seq_ = 0;         // guarded by mu_: the thread caught up to this
  std::atomic<bool> changed_{false};
};

}  // namespace dps::netdev
