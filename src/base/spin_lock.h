// spin_lock.h - a test-and-test-and-set spinlock.
//
// What: SpinLock, a BasicLockable (std::lock_guard works) for critical
//   sections of a few dozen instructions that PMD threads may enter: the
//   connection tracker's shards and connections, the fragment table.
// Design: one std::atomic_flag; lock() spins on a relaxed read (with the
//   CPU's pause hint) between acquiring attempts, so waiters do not bounce
//   the cache line. No fairness, no sleeping: hold it only for bounded work,
//   never across a syscall or an allocation a PMD could wait on.
// Thread-safety: lock()/unlock() from any thread; unlock() by the holder.
#pragma once

#include <atomic>

namespace dps::base {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class SpinLock {
 public:
  void lock() {
    while (f_.test_and_set(std::memory_order_acquire)) {
      while (f_.test(std::memory_order_relaxed)) cpu_relax();
    }
  }
  void unlock() { f_.clear(std::memory_order_release); }

 private:
  std::atomic_flag f_ = ATOMIC_FLAG_INIT;
};

}  // namespace dps::base
