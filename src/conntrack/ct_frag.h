// ct_frag.h - IP fragment reassembly in front of the connection tracker.
//
// What: IpFrag holds the fragments of IPv4 and IPv6 datagrams that reach a
//   ct() action until their datagram is complete, as OVS's userspace
//   conntrack does (lib/ipf.c). The caller (the datapath's ct() action)
//   hands it each fragment it sees (add()): the fragment is kept (kHeld),
//   refused (kInvalid: the caller passes it on +trk+inv) or completes its
//   datagram (kComplete: the FragList is the caller's). The caller then
//   rebuilds the datagram in a buffer of its own (reassemble()), tracks it
//   with Conntrack::process() once, copies a NAT rewrite back into the
//   fragments (apply_nat(): addresses in every fragment, the first
//   fragment's L4 bytes, which hold the L4 header and its checksum over
//   the whole datagram), sends the original fragments on in order with
//   that result, and gives the list back (release()).
//   Limits (OVS's defaults): fragments held at once (nfrag_max 1000, at
//   most kMaxNfragUbound), datagrams being reassembled (kMaxLists),
//   fragments per datagram (kMaxFragsPerDatagram), minimum size of a
//   fragment that is not the last (1200 bytes IPv4, 1280 IPv6, the whole
//   IP packet), 15 s to complete a datagram. Refused and dropped fragments
//   are counted per family (IpfCounter); nothing is dropped uncounted.
//   A datagram goes wrong as a whole: a fragment overlapping another, one
//   past 65535 bytes, a second last fragment with another end, data past
//   the last fragment's end, or more fragments than a list holds frees
//   what it holds (counted) and leaves a tombstone that refuses (and
//   counts) the rest of its fragments until it expires. An exact duplicate
//   of a fragment held is refused alone (counted), the datagram goes on.
// Design: one table shared by all PMD threads behind one spinlock: the
//   fragments of one datagram may come in on different rx queues (and so
//   PMDs), and fragments are rare, so the lock is taken only for a
//   fragment (never for other packets: is_fragment() is a header test).
//   Lists come from a pool preallocated at construction (kMaxLists lists
//   of kMaxFragsPerDatagram slots); a fixed bucket array chains them by
//   key (zone, family, source, destination, IP id / IPv6 fragment id,
//   protocol). Nothing allocates after construction. The timeout is the
//   same for every list, so lists expire in creation order: an intrusive
//   FIFO, and sweep() takes expired lists off its head. A completed list
//   leaves the hash and the FIFO: the thread that completed it owns it
//   until release(). Packets are opaque (void*: this library knows no
//   DPDK); the owner frees them through the FreeFn given at construction.
// Thread-safety: add(), release(), sweep(), flush() and the setters from
//   any thread (the table's spinlock; a critical section is one lookup and
//   one list update, or sweep()'s bounded batch; packets are freed outside
//   it). reassemble() and apply_nat() touch only the caller's list and
//   buffer. Counters are relaxed atomics.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "spin_lock.h"

namespace dps::conntrack {

// Per family (v4, v6): OVS's ipf counters (named as ovs-appctl
// dpctl/ipf-get-status prints them) plus the reasons OVS folds into
// "invalid".
#define DPS_IPF_COUNTERS(X)                                                          \
  X(kIpfAccepted, "accepted")           /* fragments held */                         \
  X(kIpfCompleted, "completed")    /* fragments sent on after their datagram */ \
  X(kIpfReassembled, "reassembled")     /* datagrams completed and tracked */        \
  X(kIpfExpired, "expired")             /* held fragments freed at the timeout */    \
  X(kIpfTooSmall, "too small")          /* non-last fragment under the minimum */    \
  X(kIpfOverlap, "overlapped")          /* overlapping fragments: datagram dropped */ \
  X(kIpfDuplicate, "duplicate")         /* exact duplicate of a fragment held */     \
  X(kIpfInconsistent, "inconsistent")   /* past 65535, two ends, data past the end */ \
  X(kIpfMalformed, "malformed")         /* lengths that cannot be right */           \
  X(kIpfLimit, "over limit")            /* nfrag_max, lists, fragments per list */   \
  X(kIpfPurged, "purged")               /* completed but not sent (NAT drop, ...) */

enum IpfCounter : unsigned {
#define DPS_IPF_ENUM(e, n, ...) e,
  DPS_IPF_COUNTERS(DPS_IPF_ENUM)
#undef DPS_IPF_ENUM
  kIpfCounterCount
};
const char* ipf_counter_name(unsigned c);

inline constexpr uint32_t kIpfMinV4FragDefault = 1200;  // OVS IPF_V4_FRAG_SIZE_MIN_DEF
inline constexpr uint32_t kIpfMinV6FragDefault = 1280;  // OVS IPF_V6_FRAG_SIZE_MIN_DEF
inline constexpr uint32_t kIpfMinFragLbound = 400;      // OVS IPF_V4/V6_FRAG_SIZE_LBOUND
inline constexpr uint32_t kIpfMaxNfragDefault = 1000;   // OVS IPF_MAX_FRAGS_DEFAULT
inline constexpr uint32_t kIpfMaxNfragUbound = 5000;    // OVS IPF_NFRAG_UBOUND
inline constexpr int64_t kIpfTimeoutMs = 15000;         // OVS IPF_FRAG_LIST_TIMEOUT
// The largest reassembled datagram: an IPv4 total length, or the IPv6
// header plus a payload length.
inline constexpr size_t kIpfMaxDatagram = 65535 + 40;

// True when the IP packet at l3 is a fragment (IPv4: MF or an offset; IPv6:
// a fragment header with MF or an offset after hop-by-hop / routing /
// destination options). The datapath asks this of every packet at ct():
// one byte test for IPv4, the next-header byte for most IPv6.
bool ipv6_is_fragment_slow(const uint8_t* l3, size_t len);
inline bool ip_is_fragment(const uint8_t* l3, size_t len) {
  if (len < 20) return false;
  if ((l3[0] >> 4) == 4) return ((l3[6] & 0x3f) | l3[7]) != 0;
  if ((l3[0] >> 4) != 6 || len < 40) return false;
  const uint8_t nh = l3[6];
  return (nh == 44 || nh == 0 || nh == 43 || nh == 60) && ipv6_is_fragment_slow(l3, len);
}

// One fragment held: the packet (opaque), its IP header and where its data
// lies in the datagram [start, end).
struct Frag {
  void* pkt = nullptr;
  uint8_t* l3 = nullptr;
  uint32_t start = 0, end = 0;
  uint16_t data_off = 0;  // its data, from l3 (IPv4: IHL; IPv6: after the fragment header)
  uint16_t nh_off = 0;    // IPv6: the next-header byte that names the fragment header
};

struct FragKey {
  uint8_t src[16], dst[16];
  uint32_t id;
  uint16_t zone;
  uint8_t family, proto;
  bool operator==(const FragKey&) const = default;
};

inline constexpr unsigned kMaxFragsPerDatagram = 64;  // 65535 bytes in 1200-byte fragments: 58

struct FragList {
  FragKey key{};
  uint8_t state = 0;          // internal (see ct_frag.cc)
  uint8_t fail_counter = 0;   // a tombstone's reason (IpfCounter)
  bool have_last = false;
  uint16_t n = 0;             // fragments in frags (sorted by start once complete)
  uint32_t last_end = 0;      // the datagram's data length, once the last fragment is in
  uint32_t bytes = 0;         // data held
  int64_t expiration = 0;
  FragList* hnext = nullptr;  // hash chain / free list
  FragList* fifo_next = nullptr;
  FragList* fifo_prev = nullptr;
  Frag frags[kMaxFragsPerDatagram];
};

enum class FragVerdict : uint8_t { kHeld, kComplete, kInvalid };

struct IpfStatus {
  bool v4_enabled = true, v6_enabled = true;
  uint32_t min_v4 = 0, min_v6 = 0, nfrag_max = 0, nfrag = 0, n_lists = 0, max_lists = 0;
  uint64_t v4[kIpfCounterCount] = {}, v6[kIpfCounterCount] = {};
};

class IpFrag {
 public:
  using FreeFn = void (*)(void* pkt);
  static constexpr unsigned kMaxLists = 1024;
  static constexpr unsigned kBuckets = 2048;

  explicit IpFrag(FreeFn free_fn = nullptr, unsigned max_lists = kMaxLists);
  ~IpFrag();  // frees what it holds (through free_fn)
  IpFrag(const IpFrag&) = delete;
  IpFrag& operator=(const IpFrag&) = delete;
  // The owner of the packets (the datapath) before any add().
  void set_free_fn(FreeFn f) { free_fn_.store(f, std::memory_order_relaxed); }

  // One fragment (ip_is_fragment() true; l3: len readable bytes, staying
  // where they are while held). kComplete: *done is the datagram's list,
  // the caller's until release().
  FragVerdict add(void* pkt, uint8_t* l3, size_t len, uint16_t zone, int64_t now_ms, FragList** done);
  // Gives a completed list back: the first `sent` fragments were sent on
  // (counted completed), the rest are freed (counted purged).
  void release(FragList* d, unsigned sent);
  // Frees the held fragments of lists past their timeout (at most
  // `budget` lists) and drops expired tombstones; returns the lists removed.
  size_t sweep(int64_t now_ms, size_t budget = 64);
  // Frees every list being reassembled (not the completed ones).
  size_t flush();

  // The datagram of a complete list in out (cap >= kIpfMaxDatagram): the
  // first fragment's headers, the data of all; IPv4 header checksum and
  // lengths set, the IPv6 fragment header taken out. Returns its length.
  static size_t reassemble(const FragList& d, uint8_t* out, size_t cap);
  // After ct(nat) rewrote the datagram reassemble() built: its addresses
  // into every fragment (IPv4 header checksums fixed) and its bytes over
  // the first fragment's data (the L4 header and checksum).
  static void apply_nat(FragList& d, const uint8_t* reass);

  bool enabled(uint8_t family) const {
    return (family == 4 ? v4_enabled_ : v6_enabled_).load(std::memory_order_relaxed);
  }
  void set_enabled(uint8_t family, bool on) { (family == 4 ? v4_enabled_ : v6_enabled_).store(on); }
  // false: out of range (kIpfMaxNfragUbound / kIpfMinFragLbound).
  bool set_max_nfrag(uint32_t n);
  bool set_min_frag(uint8_t family, uint32_t bytes);
  IpfStatus status() const;
  uint64_t counter(uint8_t family, unsigned c) const {
    return ctr_[family == 6][c].load(std::memory_order_relaxed);
  }

 private:
  void count(uint8_t family, unsigned c, uint64_t n = 1) {
    ctr_[family == 6][c].fetch_add(n, std::memory_order_relaxed);
  }
  FragList* lookup(const FragKey& k, uint32_t h);
  FragList* create(const FragKey& k, uint32_t h, int64_t now);
  FragVerdict insert(FragList* l, const Frag& f, bool last, unsigned* freed, void** out);
  void fail(FragList* l, unsigned reason, unsigned* freed, void** out);
  void unlink(FragList* l);
  void to_free_list(FragList* l);
  void free_pkts(void* const* p, unsigned n);

  std::atomic<FreeFn> free_fn_;
  mutable base::SpinLock lock_;
  std::vector<FragList> pool_;
  std::vector<FragList*> buckets_;
  FragList* free_ = nullptr;
  FragList* fifo_head_ = nullptr;
  FragList* fifo_tail_ = nullptr;
  uint32_t n_lists_ = 0;  // under the lock
  std::atomic<uint32_t> nfrag_{0};
  std::atomic<uint32_t> nfrag_max_{kIpfMaxNfragDefault};
  std::atomic<uint32_t> min_v4_{kIpfMinV4FragDefault}, min_v6_{kIpfMinV6FragDefault};
  std::atomic<bool> v4_enabled_{true}, v6_enabled_{true};
  std::atomic<uint64_t> ctr_[2][kIpfCounterCount] = {};
};

}  // namespace dps::conntrack
