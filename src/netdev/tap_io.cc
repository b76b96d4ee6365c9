#include "tap_io.h"

#include <pthread.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace dps::netdev {
namespace {

// Frames moved per channel and direction in one round.
constexpr unsigned kBurst = 32;
// The largest frame a tap hands over (64 KiB: any MTU the kernel allows).
constexpr size_t kMaxFrame = 65536;
// Chains longer than this are copied into one buffer for write(2).
constexpr unsigned kMaxIov = 16;

void add_relaxed(std::atomic<uint64_t>& c, uint64_t v) {
  c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The part of a frame beyond the first mbuf (in `rest`) as further segments
// of m; false (m untouched beyond its first segment) when the pool is dry.
bool append_chain(rte_mempool* pool, rte_mbuf* m, const uint8_t* rest, size_t len) {
  rte_mbuf* last = m;
  while (len) {
    rte_mbuf* seg = rte_pktmbuf_alloc(pool);
    if (!seg) return false;
    size_t n = std::min<size_t>(len, rte_pktmbuf_tailroom(seg));
    std::memcpy(rte_pktmbuf_mtod(seg, uint8_t*), rest, n);
    seg->data_len = static_cast<uint16_t>(n);
    last->next = seg;
    last = seg;
    m->nb_segs++;
    m->pkt_len += static_cast<uint32_t>(n);
    rest += n;
    len -= n;
  }
  return true;
}

enum class ReadResult { kGot, kEmpty, kDropped, kError };

// Reads one frame into a fresh mbuf (*out on kGot). kDropped: no mbuf, the
// frame was read and dropped (counted), so the kernel queue does not stall
// on us; kError: read(2) failed otherwise (counted).
ReadResult read_frame(TapChannel& ch, uint8_t* scratch, rte_mbuf** out) {
  rte_mbuf* m = rte_pktmbuf_alloc(ch.pool);
  size_t room = m ? rte_pktmbuf_tailroom(m) : 0;
  iovec iov[2] = {{m ? rte_pktmbuf_mtod(m, void*) : nullptr, room}, {scratch, kMaxFrame}};
  ssize_t r = ::readv(ch.fd, iov, 2);
  if (r < 0 || (r == 0 && m)) {
    rte_pktmbuf_free(m);
    if (r < 0 && errno == EAGAIN) return ReadResult::kEmpty;
    add_relaxed(ch.rx_errors, 1);
    return ReadResult::kError;
  }
  size_t len = static_cast<size_t>(r);
  if (!m) {
    add_relaxed(ch.rx_dropped, 1);
    return ReadResult::kDropped;
  }
  m->data_len = static_cast<uint16_t>(std::min(len, room));
  m->pkt_len = static_cast<uint32_t>(m->data_len);
  if (len > room && !append_chain(ch.pool, m, scratch, len - room)) {
    rte_pktmbuf_free(m);
    add_relaxed(ch.rx_dropped, 1);
    return ReadResult::kDropped;
  }
  *out = m;
  return ReadResult::kGot;
}

// Writes one frame (a chain: writev) to the tap.
void write_frame(TapChannel& ch, rte_mbuf* m, uint8_t* scratch) {
  iovec iov[kMaxIov];
  int n = 0;
  ssize_t r;
  if (m->nb_segs <= kMaxIov) {
    for (rte_mbuf* s = m; s; s = s->next)
      iov[n++] = {rte_pktmbuf_mtod(s, void*), s->data_len};
    r = ::writev(ch.fd, iov, n);
  } else {
    const void* flat = rte_pktmbuf_read(m, 0, std::min<uint32_t>(m->pkt_len, kMaxFrame), scratch);
    r = ::write(ch.fd, flat, std::min<uint32_t>(m->pkt_len, kMaxFrame));
  }
  if (r >= 0) {
    add_relaxed(ch.tx_packets, 1);
    add_relaxed(ch.tx_bytes, static_cast<uint64_t>(r));
  } else if (errno == EIO) {
    add_relaxed(ch.tx_down, 1);  // the tap is down: like a NIC without link
  } else {
    add_relaxed(ch.tx_errors, 1);
  }
}

}  // namespace

TapIo& TapIo::instance() {
  static TapIo io;
  return io;
}

TapIo::~TapIo() { stop(); }

void TapIo::start() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  evfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || evfd_ < 0) {
    std::string why = std::strerror(errno);
    stop();
    throw std::runtime_error("tap I/O thread: cannot create epoll/eventfd: " + why);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the eventfd
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev);
  scratch_.resize(kMaxFrame);
  stop_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "dps-tap");
    // Below the control thread (which may run at a negative nice): a flood
    // towards a tap must not starve the miss path on the shared core.
    setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 0);
    run();
  });
}

void TapIo::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    wake();
    thread_.join();
  }
  if (epfd_ >= 0) ::close(epfd_);
  if (evfd_ >= 0) ::close(evfd_);
  epfd_ = evfd_ = -1;
  channels_.clear();
}

void TapIo::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(evfd_, &one, sizeof one);  // fails only when already signalled
}

void TapIo::attach(TapChannel* ch) {
  std::unique_lock lk(mu_);
  if (!thread_.joinable()) start();
  wanted_.push_back(ch);
  uint64_t seq = ++change_seq_;
  changed_.store(true);
  wake();
  cv_.wait(lk, [&] { return applied_seq_ >= seq; });
}

void TapIo::detach(TapChannel* ch) {
  std::unique_lock lk(mu_);
  std::erase(wanted_, ch);
  uint64_t seq = ++change_seq_;
  changed_.store(true);
  wake();
  cv_.wait(lk, [&] { return applied_seq_ >= seq; });
  if (wanted_.empty()) {
    lk.unlock();
    stop();
  }
}

// The thread takes the wanted channel list (epoll registrations follow).
void TapIo::apply_changes() {
  std::lock_guard lk(mu_);
  changed_.store(false);
  for (TapChannel* ch : channels_)
    if (std::find(wanted_.begin(), wanted_.end(), ch) == wanted_.end())
      ::epoll_ctl(epfd_, EPOLL_CTL_DEL, ch->fd, nullptr);
  for (TapChannel* ch : wanted_)
    if (std::find(channels_.begin(), channels_.end(), ch) == channels_.end()) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLET;
      ev.data.ptr = ch;
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, ch->fd, &ev) != 0)
        spdlog::error("tap {}: epoll registration failed: {}", ch->name, std::strerror(errno));
      ch->readable = true;
    }
  channels_ = wanted_;
  applied_seq_ = change_seq_;
  cv_.notify_all();
}

bool TapIo::service_rx(TapChannel& ch) {
  if (!ch.readable) return false;
  unsigned room = rte_ring_free_count(ch.to_switch);
  ch.blocked = room == 0;
  if (ch.blocked) return false;
  rte_mbuf* got[kBurst];
  unsigned n = 0, limit = std::min(room, kBurst);
  uint64_t bytes = 0;
  bool progress = false;
  while (n < limit) {
    ReadResult r = read_frame(ch, scratch_.data(), &got[n]);
    if (r == ReadResult::kEmpty || r == ReadResult::kError) {
      ch.readable = false;  // until the next edge
      break;
    }
    progress = true;
    if (r == ReadResult::kDropped) continue;
    bytes += got[n]->pkt_len;
    n++;
  }
  if (n) {
    rte_ring_sp_enqueue_burst(ch.to_switch, reinterpret_cast<void**>(got), n, nullptr);
    add_relaxed(ch.rx_packets, n);
    add_relaxed(ch.rx_bytes, bytes);
  }
  return progress;
}

bool TapIo::service_tx(TapChannel& ch) {
  rte_mbuf* pkts[kBurst];
  unsigned n = rte_ring_sc_dequeue_burst(ch.to_kernel, reinterpret_cast<void**>(pkts), kBurst, nullptr);
  for (unsigned i = 0; i < n; i++) write_frame(ch, pkts[i], scratch_.data());
  if (n) rte_pktmbuf_free_bulk(pkts, n);
  return n != 0;
}

bool TapIo::service(TapChannel& ch) {
  bool tx = service_tx(ch);
  bool rx = service_rx(ch);
  return tx || rx;
}

int TapIo::prepare_sleep() {
  sleeping_.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool blocked = false;
  for (TapChannel* ch : channels_) {
    if (!rte_ring_empty(ch->to_kernel) || (ch->readable && !ch->blocked)) {
      sleeping_.store(false, std::memory_order_relaxed);
      return 0;
    }
    blocked |= ch->blocked;
  }
  if (changed_.load() || stop_.load()) {
    sleeping_.store(false, std::memory_order_relaxed);
    return 0;
  }
  return blocked ? 1 : -1;
}

void TapIo::run() {
  epoll_event evs[64];
  int64_t last_work = now_ns();
  while (!stop_.load(std::memory_order_relaxed)) {
    bool spinning = now_ns() - last_work < kSpinNs;
    int timeout = spinning ? 0 : prepare_sleep();
    int n = ::epoll_wait(epfd_, evs, 64, timeout);
    if (timeout != 0) {
      sleeping_.store(false, std::memory_order_relaxed);
      add_relaxed(wakeups_, 1);
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr) {
        static_cast<TapChannel*>(evs[i].data.ptr)->readable = true;
      } else {
        uint64_t v;
        while (::read(evfd_, &v, sizeof v) == sizeof v) {}
      }
    }
    if (changed_.load(std::memory_order_acquire)) apply_changes();
    bool busy = false;
    for (TapChannel* ch : channels_) busy |= service(*ch);
    if (busy) last_work = now_ns();
  }
}

}  // namespace dps::netdev
