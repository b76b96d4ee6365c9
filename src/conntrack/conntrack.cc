#include "conntrack.h"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "spin_lock.h"

namespace dps::conntrack {

namespace {

using Spin = base::SpinLock;

// UDP / other IP (OVS OTHERS_*) and ICMP (ICMPS_*) connection states.
enum OtherState : uint8_t { kFirst, kMultiple, kBidir };

uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 16;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace


struct Node {
  Node* next = nullptr;
  CtTuple key{};
  uint32_t hash = 0;
  uint8_t dir = 0;  // 0 original, 1 reply
  Conntrack::Conn* conn = nullptr;
};

struct Conntrack::Conn {
  Node node[2];
  std::atomic<int64_t> expiration{0};  // ms; <= now: dead
  Spin lock;                           // guards what follows
  uint32_t mark = 0;
  uint8_t label[16] = {};
  uint8_t other_state = kFirst;
  uint8_t nat = 0;  // kCsSrcNat / kCsDstNat; set before linking, never changed
  TcpConn tcp;
  // Owned by the shard locks / the control thread.
  bool linked = false;
  uint64_t retire_epoch = 0;
  Conn* free_next = nullptr;
  Shard* home = nullptr;
};

// kChunk connections, constructed, threaded into a free list from the
// first to the last (free_next null).
std::unique_ptr<Conntrack::Conn[]> make_chunk() {
  auto ch = std::make_unique<Conntrack::Conn[]>(Conntrack::kChunk);
  for (unsigned i = 0; i + 1 < Conntrack::kChunk; i++) ch[i].free_next = &ch[i + 1];
  return ch;
}

struct Conntrack::Shard {
  Spin lock;
  // Heads written with release under the lock; read under the lock, or
  // without it by the control thread (head(): acquire), the only thread
  // that unlinks.
  std::vector<Node*> buckets;
  Conn* free_list = nullptr;
  std::vector<std::unique_ptr<Conn[]>> chunks;
  // Written under the lock; read without it by provision().
  std::atomic<uint32_t> n_free{0};
  std::atomic<uint32_t> n_chunks{0};
  std::atomic<uint64_t> n_allocs{0};
  uint64_t allocs_seen = 0;  // provision()'s (control thread)

  Node*& bucket(uint32_t hash) { return buckets[(hash / kShards) & (buckets.size() - 1)]; }
  Node* head(size_t idx) const { return __atomic_load_n(&buckets[idx], __ATOMIC_ACQUIRE); }
  static void publish(Node*& slot, Node* n) { __atomic_store_n(&slot, n, __ATOMIC_RELEASE); }
  // Under the lock: a chunk from make_chunk() onto the free list.
  void add_chunk(std::unique_ptr<Conn[]> ch) {
    ch[kChunk - 1].free_next = free_list;
    free_list = &ch[0];
    chunks.push_back(std::move(ch));
    n_free.store(n_free.load(std::memory_order_relaxed) + kChunk, std::memory_order_relaxed);
    n_chunks.store(static_cast<uint32_t>(chunks.size()), std::memory_order_relaxed);
  }
  // Under the lock. Takes a chunk itself only when provision() fell behind
  // (and for the shard's first chunk).
  Conn* alloc() {
    if (!free_list) add_chunk(make_chunk());
    Conn* c = free_list;
    free_list = c->free_next;
    n_free.store(n_free.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    n_allocs.store(n_allocs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return c;
  }
  void release(Conn* c) {  // under the lock
    c->free_next = free_list;
    free_list = c;
    n_free.store(n_free.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void unlink(Node* n) {
    for (Node** pp = &bucket(n->hash); *pp; pp = &(*pp)->next) {
      if (*pp == n) {
        *pp = n->next;
        return;
      }
    }
  }
};

namespace {

// Locks the shards of a connection's two tuples, lowest first.
class PairLock {
 public:
  PairLock(Conntrack::Shard* a, Conntrack::Shard* b) : a_(std::min(a, b)), b_(std::max(a, b)) {
    a_->lock.lock();
    if (b_ != a_) b_->lock.lock();
  }
  ~PairLock() {
    if (b_ != a_) b_->lock.unlock();
    a_->lock.unlock();
  }

 private:
  Conntrack::Shard* a_;
  Conntrack::Shard* b_;
};

const char* const kCounterNames[] = {
#define DPS_CT_NAME(e, n) n,
    DPS_CT_COUNTERS(DPS_CT_NAME)
#undef DPS_CT_NAME
};

bool valid_new(const CtPacket& p) {
  switch (p.tuple.proto) {
    case kProtoTcp: return tcp_valid_new(p);
    case kProtoIcmp:
    case kProtoIcmpv6: return ct_icmp_is_request(p.tuple.family, p.tuple.icmp_type);
    default: return true;
  }
}

void masked_set(uint8_t* dst, const uint8_t* v, const uint8_t* m, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = static_cast<uint8_t>((dst[i] & ~m[i]) | (v[i] & m[i]));
}

}  // namespace

const char* ct_counter_name(unsigned c) { return c < kCtCounterCount ? kCounterNames[c] : "?"; }

// Quiescent-state based reclamation, as DPDK's RCU QSBR library: acquire
// the global epoch, publish it with release (every use of a connection
// before this point happens-before the reclaimer's acquire load in
// min_thread_epoch). No store, and no fence, while the epoch has not moved:
// a seq_cst store here was an xchg per PMD iteration, 10% of a vhost PMD's
// cycles under load.
void CtThread::quiesce() {
  const uint64_t e = ct_->epoch_.load(std::memory_order_acquire);
  if (e != epoch_.load(std::memory_order_relaxed)) epoch_.store(e, std::memory_order_release);
}

Conntrack::Conntrack(CtConfig cfg)
    : cfg_(cfg),
      max_conns_(cfg.max_conns),
      liberal_(cfg.tcp_liberal),
      zone_count_(new std::atomic<uint32_t>[65536]),
      zone_limit_(new std::atomic<uint32_t>[65536]),
      threads_(new CtThread[kMaxThreads]) {
  for (unsigned z = 0; z < 65536; z++) {
    zone_count_[z].store(0);
    zone_limit_[z].store(0);
  }
  const uint32_t per_shard = pow2_at_least(std::max<uint32_t>(cfg.expected_conns, 1) * 2 / kShards);
  for (unsigned i = 0; i < kShards; i++) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->buckets.assign(per_shard, nullptr);
  }
  for (unsigned i = 0; i < kMaxThreads; i++) threads_[i].ct_ = this;
}

Conntrack::~Conntrack() = default;

size_t Conntrack::n_buckets() const { return shards_.size() * shards_[0]->buckets.size(); }

CtThread* Conntrack::register_thread() {
  for (unsigned i = 0; i < kMaxThreads; i++) {
    bool expected = false;
    if (threads_[i].active_.compare_exchange_strong(expected, true)) {
      threads_[i].quiesce();
      return &threads_[i];
    }
  }
  return nullptr;
}

void Conntrack::unregister_thread(CtThread* t) { t->active_.store(false); }

uint64_t Conntrack::min_thread_epoch() const {
  uint64_t m = UINT64_MAX;
  for (unsigned i = 0; i < kMaxThreads; i++) {
    if (threads_[i].active_.load()) m = std::min(m, threads_[i].epoch_.load());
  }
  return m;
}

void Conntrack::set_zone_limit(uint16_t zone, uint32_t limit) { zone_limit_[zone].store(limit); }
uint32_t Conntrack::zone_limit(uint16_t zone) const { return zone_limit_[zone].load(); }
uint32_t Conntrack::zone_count(uint16_t zone) const { return zone_count_[zone].load(); }

Conntrack::Conn* Conntrack::lookup(const CtTuple& key, uint32_t hash, int64_t now, bool* reply) {
  Shard& s = shard_of(hash);
  std::lock_guard<Spin> g(s.lock);
  for (Node* n = s.bucket(hash); n; n = n->next) {
    if (n->hash == hash && n->key == key &&
        n->conn->expiration.load(std::memory_order_relaxed) > now) {
      *reply = n->dir == 1;
      return n->conn;
    }
  }
  return nullptr;
}

void Conntrack::prefetch(const uint8_t* const* l3, const size_t* len, unsigned n, uint16_t zone) {
  Node** slot[kPrefetchMax];
  unsigned k = 0;
  for (unsigned i = 0; i < n && k < kPrefetchMax; i++) {
    CtPacket p;
    if (!l3[i] || ct_parse(l3[i], len[i], &p) != CtParse::kOk) continue;
    p.tuple.zone = zone;
    const uint32_t h = ct_tuple_hash(p.tuple);
    slot[k] = &shard_of(h).bucket(h);
    __builtin_prefetch(slot[k++]);
  }
  for (unsigned i = 0; i < k; i++) {
    const Node* head = __atomic_load_n(slot[i], __ATOMIC_RELAXED);
    if (!head) continue;
    __builtin_prefetch(head);
    // The connection's expiration, wherever in it the node is (node[0] or node[1]).
    __builtin_prefetch(reinterpret_cast<const char*>(head) + offsetof(Conn, expiration));
    __builtin_prefetch(reinterpret_cast<const char*>(head) + offsetof(Conn, expiration) - sizeof(Node));
  }
}

bool Conntrack::commit_allowed(CtThread* t, uint16_t zone) {
  uint32_t zl = zone_limit_[zone].load(std::memory_order_relaxed);
  if (zl && zone_count_[zone].fetch_add(1) >= zl) {
    zone_count_[zone].fetch_sub(1);
    t->bump(kZoneFull);
    return false;
  }
  if (!zl) zone_count_[zone].fetch_add(1);
  if (n_conns_.fetch_add(1) >= max_conns_.load(std::memory_order_relaxed)) {
    n_conns_.fetch_sub(1);
    zone_count_[zone].fetch_sub(1);
    t->bump(kFull);
    return false;
  }
  return true;
}

void Conntrack::release_reservation(uint16_t zone) {
  n_conns_.fetch_sub(1);
  zone_count_[zone].fetch_sub(1);
}

// Creates the connection (commit_allowed() reserved its place); if another
// thread created it meanwhile, returns that one (*reply from its nodes).
// With NAT, tries the candidate reply tuples until one is free; none free:
// null, the reservation released, counted.
Conntrack::Conn* Conntrack::insert(CtThread* t, const CtPacket& p, const CtAction& a, int64_t now,
                                   bool* reply) {
  const CtTuple& orig = p.tuple;
  bool taken = false;
  const uint8_t flags = a.nat ? a.nat_spec.flags : 0;
  if (!(flags & (kNatSrc | kNatDst))) return link_new(t, p, ct_tuple_reverse(orig), 0, now, reply, nullptr);
  const uint32_t h = ct_tuple_hash(orig);
  CtTuple who = orig;  // persistent: the same address for the same client
  std::memset(who.dst, 0, sizeof who.dst);
  who.sport = who.dport = 0;
  const uint32_t addr_seed = (flags & kNatPersistent) ? ct_tuple_hash(who) : h;
  const uint32_t port_seed = (flags & kNatRandom) ? t->random() : h;
  NatCandidates cands(orig, a.nat_spec, addr_seed, port_seed);
  const uint8_t nat = (flags & kNatSrc) ? kCsSrcNat : kCsDstNat;
  CtTuple rep;
  while (cands.next(&rep)) {
    taken = false;
    Conn* c = link_new(t, p, rep, nat, now, reply, &taken);
    if (!taken) return c;
  }
  release_reservation(orig.zone);
  t->bump(kNatExhausted);
  return nullptr;
}

// Links a connection with reply tuple `rep` under both shard locks. taken
// (NAT): a live node already has `rep`; then nothing is linked.
Conntrack::Conn* Conntrack::link_new(CtThread* t, const CtPacket& p, const CtTuple& rep, uint8_t nat,
                                     int64_t now, bool* reply, bool* taken) {
  const CtTuple& orig = p.tuple;
  uint32_t ho = ct_tuple_hash(orig), hr = ct_tuple_hash(rep);
  Shard& so = shard_of(ho);
  Shard& sr = shard_of(hr);
  PairLock g(&so, &sr);
  for (Node* n = so.bucket(ho); n; n = n->next) {
    if (n->hash == ho && n->key == orig && n->conn->expiration.load() > now) {
      release_reservation(orig.zone);
      *reply = n->dir == 1;
      return n->conn;
    }
  }
  for (Node* n = taken ? sr.bucket(hr) : nullptr; n; n = n->next) {
    if (n->hash == hr && n->key == rep && n->conn->expiration.load() > now) {
      *taken = true;
      return nullptr;
    }
  }
  Conn* c = so.alloc();
  c->home = &so;
  // Everything is written before either node is published: the sweeper
  // walks chains without the locks (a reused connection's old expiration,
  // or the old hash of a node not yet written, must never be seen).
  c->node[0] = Node{so.bucket(ho), orig, ho, 0, c};
  c->node[1] = Node{sr.bucket(hr), rep, hr, 1, c};
  if (&so.bucket(ho) == &sr.bucket(hr)) c->node[1].next = &c->node[0];  // one chain: node[1] in front
  c->mark = 0;
  std::fill(std::begin(c->label), std::end(c->label), 0);
  c->other_state = kFirst;
  c->nat = nat;
  int64_t timeout = cfg_.timeouts.other_first;
  if (orig.proto == kProtoTcp) {
    timeout = tcp_new_conn(p, cfg_.timeouts, &c->tcp);
  } else if (orig.proto == kProtoIcmp || orig.proto == kProtoIcmpv6) {
    timeout = cfg_.timeouts.icmp_first;
  }
  c->expiration.store(now + timeout);
  c->linked = true;
  Shard::publish(so.bucket(ho), &c->node[0]);
  Shard::publish(sr.bucket(hr), &c->node[1]);
  t->bump(kCreated);
  *reply = false;
  return c;
}

namespace {

CtUpdate other_update(uint8_t* state, bool icmp, bool reply, const CtTimeouts& tm,
                      int64_t* timeout) {
  if (reply) {
    *state = kBidir;
  } else if (*state == kFirst) {
    *state = kMultiple;
  }
  if (icmp) {
    *timeout = *state == kBidir ? tm.icmp_reply : tm.icmp_first;
  } else {
    *timeout = *state == kBidir ? tm.other_bidir : tm.other_multiple;
  }
  return *state == kBidir ? CtUpdate::kValid : CtUpdate::kValidNew;
}

}  // namespace

void Conntrack::classify_existing(CtThread* t, Conn* c, const CtPacket& p, bool reply,
                                  int64_t now, CtResult* r) {
  int64_t timeout = -1;
  CtUpdate u;
  {
    std::lock_guard<Spin> g(c->lock);
    if (p.tuple.proto == kProtoTcp) {
      u = tcp_conn_update(&c->tcp, p, reply, liberal_.load(std::memory_order_relaxed),
                          cfg_.timeouts, &timeout);
    } else {
      bool icmp = p.tuple.proto == kProtoIcmp || p.tuple.proto == kProtoIcmpv6;
      u = other_update(&c->other_state, icmp, reply, cfg_.timeouts, &timeout);
    }
    if (timeout >= 0) c->expiration.store(now + timeout, std::memory_order_relaxed);
  }
  switch (u) {
    case CtUpdate::kValid: r->state |= kCsEstablished | (reply ? kCsReplyDir : 0); break;
    case CtUpdate::kValidNew: r->state |= kCsNew; break;
    case CtUpdate::kInvalid:
      r->state |= kCsInvalid;
      t->bump(kTcpInvalidWindow);
      break;
    case CtUpdate::kNew: c->expiration.store(0); break;  // the caller creates anew
  }
}

// A packet translated by an earlier ct(nat) in this zone carries the
// tuple its connection's other direction expects: look that up and turn
// the direction around (OVS initial_conn_lookup with natted).
Conntrack::Conn* Conntrack::lookup_natted(const CtTuple& t, int64_t now, bool* reply) {
  const CtTuple rev = ct_tuple_reverse(t);
  Conn* c = lookup(rev, ct_tuple_hash(rev), now, reply);
  if (c) *reply = !*reply;
  return c;
}

CtResult Conntrack::process(CtThread* t, uint8_t* l3, size_t len, const CtAction& a,
                            int64_t now) {
  t->bump(kPackets);
  CtResult r;
  r.zone = a.zone;
  r.state = kCsTracked;
  CtPacket p;
  CtParse pr = ct_parse(l3, len, &p);
  if (pr != CtParse::kOk) {
    t->bump(pr == CtParse::kTruncated ? kTruncated
            : pr == CtParse::kFragment ? kFragments : kMalformed);
    t->bump(kInvalid);
    r.state |= kCsInvalid;
    return r;
  }
  p.tuple.zone = a.zone;
  bool reply = false;
  Conn* c = lookup(p.tuple, ct_tuple_hash(p.tuple), now, &reply);
  if (!c && a.natted && !p.icmp_error) c = lookup_natted(p.tuple, now, &reply);
  r.state |= a.natted;
  if (p.icmp_error) {
    if (!c) {
      t->bump(kInvalid);
      r.state |= kCsInvalid;
      return r;
    }
    t->bump(kRelated);
    r.state |= kCsRelated | (reply ? kCsReplyDir : 0);
  } else {
    if (c && a.force && reply) {
      c->expiration.store(0);
      c = nullptr;
    }
    if (c) {
      classify_existing(t, c, p, reply, now, &r);
      if (c->expiration.load() == 0) {
        c = nullptr;  // a closed TCP connection's tuple reused by a new SYN
        r.state = kCsTracked | a.natted;
      }
    }
    if (!c) {
      if (!valid_new(p)) {
        t->bump(kInvalid);
        r.state |= kCsInvalid;
        return r;
      }
      r.state |= kCsNew;
      if (!a.commit || !commit_allowed(t, a.zone)) return r;
      c = insert(t, p, a, now, &reply);
      if (!c) {
        r.drop = true;
        return r;
      }
      if (reply) {  // created meanwhile by another thread, this is its reply
        r.state = kCsTracked | a.natted;
        classify_existing(t, c, p, reply, now, &r);
      }
    }
  }
  if (a.nat && c->nat && !a.natted) {
    uint8_t bits = 0;
    nat_apply(l3, len, p, nat_rewrite_for(c->nat, c->node[0].key, c->node[1].key, reply, &bits));
    r.state |= bits;
  }
  std::lock_guard<Spin> g(c->lock);
  if (a.commit && a.set_mark) c->mark = (c->mark & ~a.mark_mask) | (a.mark & a.mark_mask);
  if (a.commit && a.set_label) masked_set(c->label, a.label, a.label_mask, 16);
  r.mark = c->mark;
  std::copy(std::begin(c->label), std::end(c->label), r.label);
  r.has_orig = true;
  r.orig = c->node[0].key;
  return r;
}

void Conntrack::unlink_and_retire(Conn* c) {
  {
    PairLock g(&shard_of(c->node[0].hash), &shard_of(c->node[1].hash));
    if (!c->linked) return;
    shard_of(c->node[0].hash).unlink(&c->node[0]);
    shard_of(c->node[1].hash).unlink(&c->node[1]);
    c->linked = false;
  }
  n_conns_.fetch_sub(1);
  zone_count_[c->node[0].key.zone].fetch_sub(1);
  c->retire_epoch = epoch_.fetch_add(1) + 1;
  retired_.push_back(c);
}

void Conntrack::reclaim() {
  uint64_t safe = min_thread_epoch();
  auto keep = std::partition(retired_.begin(), retired_.end(),
                             [safe](Conn* c) { return c->retire_epoch > safe; });
  for (auto it = keep; it != retired_.end(); ++it) {
    Conn* c = *it;
    std::lock_guard<Spin> g(c->home->lock);
    c->home->release(c);
  }
  retired_.erase(keep, retired_.end());
}

// Tops up the free list of every shard in use to twice what it handed out
// since the last call (at least kChunk, at most kMaxSpareChunks chunks;
// kMaxChunksPerCall chunks in all per call, so a control thread that was
// kept off the CPU does not then stall on a burst of them), the chunks
// built outside the shard lock, so that PMDs committing connections find
// them ready.
void Conntrack::provision() {
  constexpr uint64_t kMaxSpareChunks = 8;
  constexpr unsigned kMaxChunksPerCall = 64;
  unsigned added = 0;
  for (auto& sp : shards_) {
    Shard& s = *sp;
    const uint64_t allocs = s.n_allocs.load(std::memory_order_relaxed);
    const uint64_t want = std::clamp<uint64_t>(2 * (allocs - s.allocs_seen), kChunk, kMaxSpareChunks * kChunk);
    s.allocs_seen = allocs;
    if (!s.n_chunks.load(std::memory_order_relaxed)) continue;
    while (s.n_free.load(std::memory_order_relaxed) < want && added < kMaxChunksPerCall) {
      auto ch = make_chunk();
      added++;
      std::lock_guard<Spin> g(s.lock);
      s.add_chunk(std::move(ch));
    }
  }
}

size_t Conntrack::sweep(int64_t now, size_t budget) {
  size_t per_shard = shards_[0]->buckets.size();
  size_t total = per_shard * kShards;
  std::vector<Conn*> doomed;
  for (size_t i = 0; i < budget && i < total; i++) {
    size_t idx = sweep_cursor_++ % total;
    // No lock: only this thread unlinks, and PMDs publish a node only
    // once it and its connection are complete (link_new).
    for (Node* n = shards_[idx / per_shard]->head(idx % per_shard); n; n = n->next) {
      if (n->dir == 0 && n->conn->expiration.load(std::memory_order_relaxed) <= now) doomed.push_back(n->conn);
    }
  }
  for (Conn* c : doomed) unlink_and_retire(c);
  reclaim();
  frag_.sweep(now);
  provision();
  return doomed.size();
}

size_t Conntrack::flush(std::optional<uint16_t> zone, const CtTupleFilter* orig,
                        const CtTupleFilter* reply) {
  std::vector<Conn*> doomed;
  for (auto& sp : shards_) {
    std::lock_guard<Spin> g(sp->lock);
    for (Node* head : sp->buckets) {
      for (Node* n = head; n; n = n->next) {
        if (n->dir != 0 || (zone && n->key.zone != *zone)) continue;
        if (orig && !ct_tuple_filter_match(*orig, n->key)) continue;
        if (reply && !ct_tuple_filter_match(*reply, n->conn->node[1].key)) continue;
        doomed.push_back(n->conn);
      }
    }
  }
  for (Conn* c : doomed) unlink_and_retire(c);
  reclaim();
  return doomed.size();
}

std::vector<CtEntry> Conntrack::dump(std::optional<uint16_t> zone) const {
  std::vector<CtEntry> out;
  for (auto& sp : shards_) {
    std::lock_guard<Spin> g(sp->lock);
    for (Node* head : sp->buckets) {
      for (Node* n = head; n; n = n->next) {
        if (n->dir != 0 || (zone && n->key.zone != *zone)) continue;
        Conn* c = n->conn;
        CtEntry e;
        e.orig = c->node[0].key;
        e.reply = c->node[1].key;
        e.expiration_ms = c->expiration.load();
        std::lock_guard<Spin> cg(c->lock);
        e.mark = c->mark;
        std::copy(std::begin(c->label), std::end(c->label), e.label);
        e.tcp = e.orig.proto == kProtoTcp;
        if (e.tcp) e.tcp_state = tcp_display_state(c->tcp);
        out.push_back(e);
      }
    }
  }
  return out;
}

CtStats Conntrack::stats(bool by_proto) const {
  CtStats s;
  s.n_conns = n_conns();
  s.ipf = frag_.status();
  for (unsigned i = 0; i < kMaxThreads; i++) {
    for (unsigned c = 0; c < kCtCounterCount; c++) s.counters[c] += threads_[i].counter(c);
  }
  if (!by_proto) return s;
  for (const CtEntry& e : dump()) {
    switch (e.orig.proto) {
      case kProtoTcp: s.by_proto_tcp++; break;
      case kProtoUdp: s.by_proto_udp++; break;
      case kProtoIcmp:
      case kProtoIcmpv6: s.by_proto_icmp++; break;
      default: s.by_proto_other++; break;
    }
  }
  return s;
}

std::string ct_entry_format(const CtEntry& e) {
  std::string s = ct_proto_name(e.orig.proto) + ",orig=(" + ct_tuple_format(e.orig) +
                  "),reply=(" + ct_tuple_format(e.reply) + ")";
  char buf[80];
  if (e.orig.zone) s += ",zone=" + std::to_string(e.orig.zone);
  if (e.mark) s += ",mark=" + std::to_string(e.mark);
  bool label = std::any_of(std::begin(e.label), std::end(e.label), [](uint8_t b) { return b; });
  if (label) {
    s += ",labels=0x";
    size_t i = 0;
    while (i < 15 && e.label[i] == 0) i++;  // no leading zeros, as OVS
    std::snprintf(buf, sizeof buf, "%x", e.label[i]);
    s += buf;
    for (i++; i < 16; i++) {
      std::snprintf(buf, sizeof buf, "%02x", e.label[i]);
      s += buf;
    }
  }
  if (e.tcp) s += std::string(",protoinfo=(state=") + tcp_state_name(e.tcp_state) + ")";
  return s;
}

}  // namespace dps::conntrack
