// conntrack.h - the connection table shared by all PMD threads.
//
// What: Conntrack tracks connections (IPv4/IPv6; TCP with window checks,
//   UDP and other IP, ICMP/ICMPv6 queries; ICMP errors are +rel to the
//   connection they quote) per zone, each with a 32-bit mark and a 128-bit
//   label. process() is the ct() action: it classifies one packet
//   (ct_state bits), creates the connection on commit, sets mark and label
//   from exec(), and returns what the flow key's ct fields become.
//   Connections expire by protocol state (OVS's default timeouts); the
//   number of connections is limited globally and per zone (a commit over
//   a limit leaves the packet +new, uncommitted, and is counted).
//   NAT (ct_nat.h): a commit with nat(src|dst=...) gives the new connection
//   a translated reply tuple no other connection uses; every packet of a
//   translated connection that goes through ct(nat) is rewritten (replies
//   un-NATed, ICMP errors about it too) and gets +snat/+dnat. When no
//   tuple is free the packet is dropped (CtResult::drop) and counted.
//   Fragments: process() itself sees whole packets; a first fragment given
//   to it is tracked by its L4 header, a later one is +trk+inv (counted as
//   "fragments"). The datapath's ct() does not give it fragments: it holds
//   them in frag() (ct_frag.h, an IpFrag owned here, swept by sweep())
//   until their datagram is complete, tracks the reassembled datagram with
//   process() once and sends the fragments on with that result.
//
// Design:
//   - The table is kShards shards, each with its own spinlock, a fixed
//     bucket array of intrusive chains, and a free list of connection
//     objects. A connection has two nodes, one per direction (original
//     and reply tuple), each chained in the shard its own hash picks, so a
//     packet of either direction is found with one hash, one shard lock,
//     one chain walk. There is no global lock: lookup takes one shard
//     lock, insert takes the (one or two) shards of its two tuples in
//     index order. Counters are per thread (CtThread).
//   - A connection's mutable state (protocol state, mark, label) is guarded
//     by its own spinlock; its expiry time is an atomic.
//   - A translated connection is found by its reply tuple like any other;
//     the tuple is chosen under the lock of the shard it goes into (each
//     candidate: lock, check that no live node has it, link), so two PMDs
//     can never hand out the same one. Its tuples and NAT bits never change
//     after it is linked, so they are read without the connection's lock.
//   - Only the sweeper removes connections: sweep() (control thread) walks
//     a budget of buckets per call without taking any lock (being the only
//     thread that unlinks, it sees stable chains; a PMD publishes a node,
//     release, only once it and its connection are complete), then unlinks
//     the connections past their expiry under their shard locks, and
//     retires them. A PMD never waits on it longer than one unlink (before,
//     the walk held each shard lock across its cache misses, and a control
//     thread preempted there stalled the PMD for a time slice). A TCP
//     connection reopened after close, or dropped by ct(force), is only
//     marked expired by the PMD and skipped by lookups until the sweeper
//     unlinks it.
//   - Retired connections are reused only after every registered thread
//     passed a quiescent point (CtThread::quiesce(), once per PMD loop
//     iteration): epoch-based reclamation, so a PMD may keep using a
//     connection pointer it found under a shard lock after releasing it.
//   - Memory: connection objects are allocated in chunks of kChunk per
//     shard and never freed while the table lives. sweep() also tops up
//     the free list of every shard in use (built outside the lock) to
//     twice what the shard handed out since the last sweep, at least
//     kChunk, at most 8 kChunk, 64 chunks in all per sweep: a PMD
//     allocates only a shard's first chunk, or when commits outrun that
//     between two sweeps (a new chunk is fresh memory: page faults, a third
//     of a PMD committing connections when it took them all). Buckets are
//     fixed at construction (chains grow beyond the expected size, they
//     never rehash, so no PMD ever stalls on a resize).
//
// Thread-safety: process() from any number of registered threads at once
//   (each with its own CtThread). sweep(), flush(), dump(), set_* and the
//   stats readers from one control thread, concurrently with process().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ct_frag.h"
#include "ct_nat.h"
#include "ct_packet.h"
#include "ct_tcp.h"
#include "ct_tuple.h"

namespace dps::conntrack {

struct CtConfig {
  uint32_t max_conns = 3000000;    // OVS's default global limit
  uint32_t expected_conns = 65536;  // sizes the bucket arrays (2 buckets per connection)
  bool tcp_liberal = false;        // skip TCP window checks
  CtTimeouts timeouts;
};

// The ct() action's parameters that the tracker needs.
struct CtAction {
  uint16_t zone = 0;
  bool commit = false;
  bool force = false;
  bool set_mark = false;
  uint32_t mark = 0, mark_mask = 0;
  bool set_label = false;
  uint8_t label[16] = {}, label_mask[16] = {};
  bool nat = false;     // nat given: translate (new connections as nat_spec says)
  CtNatSpec nat_spec;
  // The packet's kCsSrcNat/kCsDstNat from an earlier ct(nat) in this same
  // zone (0 otherwise). As in OVS, such a packet is found by its reversed
  // tuple when its own is not a connection's, keeps these bits and is not
  // translated again.
  uint8_t natted = 0;
};

// What the packet's ct fields become.
struct CtResult {
  uint8_t state = 0;     // CtState bits, always kCsTracked
  uint16_t zone = 0;
  uint32_t mark = 0;
  uint8_t label[16] = {};
  bool has_orig = false; // orig is the connection's original tuple
  CtTuple orig{};
  bool drop = false;     // NAT found no free tuple: the packet must not leave untranslated
};

// Per-thread counters (one writer, read relaxed by the control thread).
#define DPS_CT_COUNTERS(X)                                                  \
  X(kPackets, "packets")                                                    \
  X(kCreated, "conns_created")                                              \
  X(kInvalid, "invalid")                                                    \
  X(kTruncated, "truncated_headers")                                        \
  X(kMalformed, "malformed_headers")                                        \
  X(kFragments, "fragments")                                                \
  X(kRelated, "related")                                                    \
  X(kFull, "conntrack_full")                                                \
  X(kZoneFull, "conntrack_zone_full")                                       \
  X(kTcpInvalidWindow, "tcp_invalid")                                       \
  X(kNatExhausted, "nat_exhausted")

enum CtCounter : unsigned {
#define DPS_CT_ENUM(e, n) e,
  DPS_CT_COUNTERS(DPS_CT_ENUM)
#undef DPS_CT_ENUM
  kCtCounterCount
};
const char* ct_counter_name(unsigned c);

class Conntrack;

// One thread's handle: its quiescent-state slot and its counters.
class alignas(64) CtThread {
 public:
  // Announces that this thread holds no connection pointer now.
  void quiesce();
  uint64_t counter(unsigned c) const { return ctr_[c].load(std::memory_order_relaxed); }
  // nat(random)'s generator (xorshift32; this thread's only).
  uint32_t random() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_;
  }

 private:
  friend class Conntrack;
  void bump(unsigned c) {
    ctr_[c].store(ctr_[c].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  Conntrack* ct_ = nullptr;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> active_{false};
  uint32_t rng_ = 0x9e3779b9u;
  std::atomic<uint64_t> ctr_[kCtCounterCount] = {};
};

// One connection as dump-conntrack shows it.
struct CtEntry {
  CtTuple orig, reply;
  uint32_t mark = 0;
  uint8_t label[16] = {};
  int64_t expiration_ms = 0;
  bool tcp = false;
  uint8_t tcp_state = 0;  // tcp_display_state
};
// OVS's dump-conntrack line: "tcp,orig=(...),reply=(...),zone=N,mark=M,
// labels=0x..,protoinfo=(state=ESTABLISHED)".
std::string ct_entry_format(const CtEntry& e);

struct CtStats {
  uint64_t n_conns = 0;
  uint64_t counters[kCtCounterCount] = {};
  uint64_t by_proto_tcp = 0, by_proto_udp = 0, by_proto_icmp = 0, by_proto_other = 0;
  IpfStatus ipf;  // fragment reassembly (ct_frag.h)
};

class Conntrack {
 public:
  static constexpr unsigned kShards = 64;
  static constexpr unsigned kMaxThreads = 128;
  static constexpr unsigned kChunk = 1024;

  explicit Conntrack(CtConfig cfg = {});
  ~Conntrack();
  Conntrack(const Conntrack&) = delete;
  Conntrack& operator=(const Conntrack&) = delete;

  // Registers the calling thread; nullptr when kMaxThreads are registered.
  // The handle lives as long as the Conntrack.
  CtThread* register_thread();
  void unregister_thread(CtThread* t);

  // The ct() action on one packet (l3: its IP header, len readable bytes;
  // NAT rewrites them).
  CtResult process(CtThread* t, uint8_t* l3, size_t len, const CtAction& a, int64_t now_ms);
  // Before process() on a batch of n (<= kPrefetchMax) packets in `zone`
  // (l3[i] null: not IP, skipped):
  // brings each one's bucket, then its chain head's node and connection,
  // toward the cache, so the lookups that follow overlap their misses
  // instead of taking three in a row each. Takes no lock and changes
  // nothing (a head read while another thread relinks is only a wasted
  // prefetch: connections live in chunks never freed while the table does).
  static constexpr unsigned kPrefetchMax = 64;
  void prefetch(const uint8_t* const* l3, const size_t* len, unsigned n, uint16_t zone);

  // Control thread. Visits up to `buckets` buckets from where the last call
  // stopped, removing expired connections; frees what no thread can still
  // see. Returns the number removed.
  size_t sweep(int64_t now_ms, size_t buckets);
  // Removes every connection (of one zone; whose original / reply tuple
  // matches the filters given).
  size_t flush(std::optional<uint16_t> zone = std::nullopt, const CtTupleFilter* orig = nullptr,
               const CtTupleFilter* reply = nullptr);
  std::vector<CtEntry> dump(std::optional<uint16_t> zone = std::nullopt) const;
  // by_proto: also count the connections by protocol (a walk of the table).
  CtStats stats(bool by_proto = true) const;

  uint32_t n_conns() const { return n_conns_.load(std::memory_order_relaxed); }
  uint32_t max_conns() const { return max_conns_.load(std::memory_order_relaxed); }
  size_t n_buckets() const;  // over all shards (what a full sweep visits)
  void set_max_conns(uint32_t n) { max_conns_.store(n, std::memory_order_relaxed); }
  // 0 = no limit for the zone.
  void set_zone_limit(uint16_t zone, uint32_t limit);
  uint32_t zone_limit(uint16_t zone) const;
  uint32_t zone_count(uint16_t zone) const;
  void set_tcp_liberal(bool on) { liberal_.store(on, std::memory_order_relaxed); }
  // Fragment reassembly in front of process() (ct_frag.h): the datapath's
  // ct() action holds fragments here; sweep() expires them.
  IpFrag& frag() { return frag_; }
  const IpFrag& frag() const { return frag_; }

  struct Conn;
  struct Shard;

 private:
  friend class CtThread;
  Shard& shard_of(uint32_t hash) { return *shards_[hash % kShards]; }
  Conn* lookup(const CtTuple& key, uint32_t hash, int64_t now, bool* reply);
  Conn* lookup_natted(const CtTuple& t, int64_t now, bool* reply);
  Conn* insert(CtThread* t, const CtPacket& p, const CtAction& a, int64_t now, bool* reply);
  Conn* link_new(CtThread* t, const CtPacket& p, const CtTuple& rep, uint8_t nat, int64_t now,
                 bool* reply, bool* taken);
  void release_reservation(uint16_t zone);
  void classify_existing(CtThread* t, Conn* c, const CtPacket& p, bool reply, int64_t now,
                         CtResult* r);
  bool commit_allowed(CtThread* t, uint16_t zone);
  void unlink_and_retire(Conn* c);
  void reclaim();
  void provision();
  uint64_t min_thread_epoch() const;

  CtConfig cfg_;
  std::atomic<uint32_t> max_conns_;
  std::atomic<bool> liberal_;
  std::atomic<uint32_t> n_conns_{0};
  std::unique_ptr<std::atomic<uint32_t>[]> zone_count_;
  std::unique_ptr<std::atomic<uint32_t>[]> zone_limit_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<CtThread[]> threads_;
  std::atomic<uint64_t> epoch_{1};
  std::vector<Conn*> retired_;  // control thread only
  size_t sweep_cursor_ = 0;     // control thread only
  IpFrag frag_;
};

}  // namespace dps::conntrack
