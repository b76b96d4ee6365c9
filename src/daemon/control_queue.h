// control_queue.h - closures from the RPC thread to the control (ofproto)
// thread.
//
// What: the only way work reaches the control thread from the config
//   store's io_context thread: configuration snapshots to reconcile and
//   runtime requests (pmd stats, dump-flows, trace, ...) to execute. The
//   control loop calls drain() once per round.
// Design: a mutex-protected vector swapped out whole by drain(), plus an
//   atomic flag so an idle round costs one relaxed load and no lock. This is
//   control-plane traffic (a few messages per second); no PMD ever touches
//   it. Answers travel the other way by boost::asio::post() onto the RPC
//   io_context.
// Thread-safety: post() from any thread; drain() from the control thread
//   only. Closures run on the control thread, in posting order.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

namespace dps::daemon {

class ControlQueue {
 public:
  void post(std::function<void()> fn) {
    std::lock_guard<std::mutex> g(mu_);
    items_.push_back(std::move(fn));
    nonempty_.store(true, std::memory_order_release);
  }

  // Runs everything posted so far; returns how many closures ran.
  unsigned drain() {
    if (!nonempty_.load(std::memory_order_acquire)) return 0;
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> g(mu_);
      batch.swap(items_);
      nonempty_.store(false, std::memory_order_relaxed);
    }
    for (auto& fn : batch) fn();
    return static_cast<unsigned>(batch.size());
  }

 private:
  std::mutex mu_;
  std::vector<std::function<void()>> items_;  // guarded by mu_
  std::atomic<bool> nonempty_{false};
};

}  // namespace dps::daemon
