#include "ct_frag.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "checksum.h"
#include "unaligned.h"

namespace dps::conntrack {

namespace {

enum ListState : uint8_t { kFree, kOpen, kFailed, kDone };

using base::load_be16;
using base::load_be32;
using base::store_be16;

void ipv4_fix_checksum(uint8_t* ip, size_t ihl) {
  base::store16(ip + 10, 0);
  base::store16(ip + 10, base::csum_finish(base::csum_partial(ip, ihl, 0)));
}

const char* const kNames[] = {
#define DPS_IPF_NAME(e, n, ...) n,
    DPS_IPF_COUNTERS(DPS_IPF_NAME)
#undef DPS_IPF_NAME
};

// A fragment's key, place and kind; `bad` is the counter of what is wrong
// with it (kIpfCounterCount: nothing).
struct FragInfo {
  FragKey key{};
  Frag f;
  bool last = false;
  unsigned bad = kIpfCounterCount;
};

FragInfo bad(unsigned c) {
  FragInfo fi;
  fi.bad = c;
  return fi;
}

// Checks shared by both families: a fragment with more to follow carries a
// multiple of 8 bytes (at least 8) and is at least `min` bytes of IP
// packet; the datagram (head bytes of headers before the data) fits 65535.
FragInfo check_lengths(FragInfo fi, size_t ip_len, uint32_t min, size_t limit) {
  const uint32_t data = fi.f.end - fi.f.start;
  if (!fi.last && (data == 0 || data % 8)) return bad(kIpfMalformed);
  if (!fi.last && ip_len < min) return bad(kIpfTooSmall);
  if (fi.f.end > limit) return bad(kIpfInconsistent);
  return fi;
}

FragInfo parse_v4(uint8_t* l3, size_t len, uint32_t min) {
  const size_t ihl = (l3[0] & 0x0f) * 4u;
  const size_t total = load_be16(l3 + 2);
  if (ihl < 20 || total < ihl || total > len) return bad(kIpfMalformed);
  const uint16_t fo = load_be16(l3 + 6);
  FragInfo fi;
  fi.key.family = 4;
  fi.key.proto = l3[9];
  fi.key.id = load_be16(l3 + 4);
  std::memcpy(fi.key.src, l3 + 12, 4);
  std::memcpy(fi.key.dst, l3 + 16, 4);
  fi.last = !(fo & 0x2000);
  fi.f.start = (fo & 0x1fffu) * 8;
  fi.f.end = fi.f.start + static_cast<uint32_t>(total - ihl);
  fi.f.data_off = static_cast<uint16_t>(ihl);
  return check_lengths(fi, total, min, 65535 - ihl);
}

// The header chain up to the fragment header: its offset (0: none) and the
// offset of the next-header byte that names it.
size_t v6_frag_header(const uint8_t* l3, size_t end, size_t* nh_off) {
  uint8_t nh = l3[6];
  size_t off = 40;
  *nh_off = 6;
  while (nh == 0 || nh == 43 || nh == 60) {
    if (end - off < 8) return 0;
    const size_t hlen = (l3[off + 1] + 1u) * 8;
    if (end - off < hlen) return 0;
    *nh_off = off;
    nh = l3[off];
    off += hlen;
  }
  return nh == 44 && end - off >= 8 ? off : 0;
}

FragInfo parse_v6(uint8_t* l3, size_t len, uint32_t min) {
  const size_t total = 40 + size_t{load_be16(l3 + 4)};
  if (total > len) return bad(kIpfMalformed);
  size_t nh_off = 0;
  const size_t off = v6_frag_header(l3, total, &nh_off);
  if (!off) return bad(kIpfMalformed);
  const uint16_t fo = load_be16(l3 + off + 2);
  FragInfo fi;
  fi.key.family = 6;
  fi.key.proto = l3[off];
  fi.key.id = load_be32(l3 + off + 4);
  std::memcpy(fi.key.src, l3 + 8, 16);
  std::memcpy(fi.key.dst, l3 + 24, 16);
  fi.last = !(fo & 1);
  fi.f.start = fo & 0xfff8u;
  fi.f.end = fi.f.start + static_cast<uint32_t>(total - off - 8);
  fi.f.data_off = static_cast<uint16_t>(off + 8);
  fi.f.nh_off = static_cast<uint16_t>(nh_off);
  return check_lengths(fi, total, min, 65535 - (off - 40));
}

uint32_t key_hash(const FragKey& k) {
  uint32_t h = 2166136261u;  // FNV-1a
  const auto* p = reinterpret_cast<const uint8_t*>(&k);
  for (size_t i = 0; i < sizeof k; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

}  // namespace

bool ipv6_is_fragment_slow(const uint8_t* l3, size_t len) {
  const size_t total = std::min(len, 40 + size_t{load_be16(l3 + 4)});
  size_t nh_off = 0;
  const size_t off = v6_frag_header(l3, total, &nh_off);
  return off && (load_be16(l3 + off + 2) & 0xfff9) != 0;
}

const char* ipf_counter_name(unsigned c) { return c < kIpfCounterCount ? kNames[c] : "?"; }

IpFrag::IpFrag(FreeFn free_fn, unsigned max_lists)
    : free_fn_(free_fn), pool_(max_lists), buckets_(kBuckets, nullptr) {
  for (FragList& l : pool_) to_free_list(&l);
}

IpFrag::~IpFrag() { flush(); }

void IpFrag::to_free_list(FragList* l) {
  l->state = kFree;
  l->hnext = free_;
  free_ = l;
}

void IpFrag::free_pkts(void* const* p, unsigned n) {
  const FreeFn f = free_fn_.load(std::memory_order_relaxed);
  if (f)
    for (unsigned i = 0; i < n; i++) f(p[i]);
}

FragList* IpFrag::lookup(const FragKey& k, uint32_t h) {
  for (FragList* l = buckets_[h % kBuckets]; l; l = l->hnext)
    if (l->key == k) return l;
  return nullptr;
}

FragList* IpFrag::create(const FragKey& k, uint32_t h, int64_t now) {
  FragList* l = free_;
  free_ = l->hnext;
  l->key = k;
  l->state = kOpen;
  l->have_last = false;
  l->n = 0;
  l->last_end = l->bytes = 0;
  l->expiration = now + kIpfTimeoutMs;
  l->hnext = buckets_[h % kBuckets];
  buckets_[h % kBuckets] = l;
  l->fifo_next = nullptr;
  l->fifo_prev = fifo_tail_;
  (fifo_tail_ ? fifo_tail_->fifo_next : fifo_head_) = l;
  fifo_tail_ = l;
  n_lists_++;
  return l;
}

void IpFrag::unlink(FragList* l) {
  for (FragList** pp = &buckets_[key_hash(l->key) % kBuckets]; *pp; pp = &(*pp)->hnext) {
    if (*pp == l) {
      *pp = l->hnext;
      break;
    }
  }
  (l->fifo_prev ? l->fifo_prev->fifo_next : fifo_head_) = l->fifo_next;
  (l->fifo_next ? l->fifo_next->fifo_prev : fifo_tail_) = l->fifo_prev;
  n_lists_--;
}

// The datagram goes wrong: what it holds goes to out (freed by the caller,
// counted as `reason`), the list stays as a tombstone until it expires.
void IpFrag::fail(FragList* l, unsigned reason, unsigned* freed, void** out) {
  for (unsigned i = 0; i < l->n; i++) out[(*freed)++] = l->frags[i].pkt;
  nfrag_.fetch_sub(l->n, std::memory_order_relaxed);
  count(l->key.family, reason, l->n + 1u);  // the held ones and this one
  l->n = 0;
  l->state = kFailed;
  l->fail_counter = static_cast<uint8_t>(reason);
}

FragVerdict IpFrag::insert(FragList* l, const Frag& f, bool last, unsigned* freed, void** out) {
  const uint8_t fam = l->key.family;
  unsigned reason = kIpfCounterCount;
  for (unsigned i = 0; i < l->n && reason == kIpfCounterCount; i++) {
    const Frag& g = l->frags[i];
    if (g.start == f.start && g.end == f.end) {
      count(fam, kIpfDuplicate);
      return FragVerdict::kInvalid;
    }
    if (f.start < g.end && g.start < f.end) reason = kIpfOverlap;
    if (last && g.end > f.end) reason = kIpfInconsistent;
  }
  if (l->have_last && (last ? f.end != l->last_end : f.end > l->last_end)) reason = kIpfInconsistent;
  if (reason == kIpfCounterCount && l->n == kMaxFragsPerDatagram) reason = kIpfLimit;
  if (reason != kIpfCounterCount) {
    fail(l, reason, freed, out);
    return FragVerdict::kInvalid;
  }
  l->frags[l->n++] = f;
  l->bytes += f.end - f.start;
  if (last) {
    l->have_last = true;
    l->last_end = f.end;
  }
  nfrag_.fetch_add(1, std::memory_order_relaxed);
  count(fam, kIpfAccepted);
  if (!l->have_last || l->bytes != l->last_end) return FragVerdict::kHeld;
  std::sort(l->frags, l->frags + l->n, [](const Frag& a, const Frag& b) { return a.start < b.start; });
  count(fam, kIpfReassembled);
  return FragVerdict::kComplete;
}

FragVerdict IpFrag::add(void* pkt, uint8_t* l3, size_t len, uint16_t zone, int64_t now,
                        FragList** done) {
  const bool v4 = (l3[0] >> 4) == 4;
  FragInfo fi = v4 ? parse_v4(l3, len, min_v4_.load(std::memory_order_relaxed))
                   : parse_v6(l3, len, min_v6_.load(std::memory_order_relaxed));
  if (fi.bad != kIpfCounterCount) {
    count(v4 ? 4 : 6, fi.bad);
    return FragVerdict::kInvalid;
  }
  fi.key.zone = zone;
  fi.f.pkt = pkt;
  fi.f.l3 = l3;
  const uint32_t h = key_hash(fi.key);
  void* to_free[kMaxFragsPerDatagram];
  unsigned n_free = 0;
  FragVerdict v = FragVerdict::kInvalid;
  {
    std::lock_guard<base::SpinLock> g(lock_);
    FragList* l = lookup(fi.key, h);
    const bool room = nfrag_.load(std::memory_order_relaxed) < nfrag_max_.load(std::memory_order_relaxed);
    if (l && l->state == kFailed) {
      count(fi.key.family, l->fail_counter);
    } else if (!room || (!l && !free_)) {
      count(fi.key.family, kIpfLimit);
    } else {
      if (!l) l = create(fi.key, h, now);
      v = insert(l, fi.f, fi.last, &n_free, to_free);
      if (v == FragVerdict::kComplete) {
        unlink(l);
        l->state = kDone;
        *done = l;
      }
    }
  }
  free_pkts(to_free, n_free);
  return v;
}

void IpFrag::release(FragList* d, unsigned sent) {
  sent = std::min<unsigned>(sent, d->n);
  for (unsigned i = sent; i < d->n; i++) free_pkts(&d->frags[i].pkt, 1);
  count(d->key.family, kIpfCompleted, sent);
  if (d->n > sent) count(d->key.family, kIpfPurged, d->n - sent);
  nfrag_.fetch_sub(d->n, std::memory_order_relaxed);
  d->n = 0;
  std::lock_guard<base::SpinLock> g(lock_);
  to_free_list(d);
}

size_t IpFrag::sweep(int64_t now, size_t budget) {
  size_t removed = 0;
  void* pkts[kMaxFragsPerDatagram];
  while (removed < budget) {
    unsigned n = 0;
    uint8_t family = 4;
    {
      std::lock_guard<base::SpinLock> g(lock_);
      FragList* l = fifo_head_;
      if (!l || (now >= 0 && l->expiration > now)) break;
      for (unsigned i = 0; i < l->n; i++) pkts[n++] = l->frags[i].pkt;
      family = l->key.family;
      nfrag_.fetch_sub(l->n, std::memory_order_relaxed);
      unlink(l);
      to_free_list(l);
    }
    if (n) count(family, kIpfExpired, n);
    free_pkts(pkts, n);
    removed++;
  }
  return removed;
}

size_t IpFrag::flush() { return sweep(-1, SIZE_MAX); }

bool IpFrag::set_max_nfrag(uint32_t n) {
  if (n > kIpfMaxNfragUbound) return false;
  nfrag_max_.store(n, std::memory_order_relaxed);
  return true;
}

bool IpFrag::set_min_frag(uint8_t family, uint32_t bytes) {
  if (bytes < kIpfMinFragLbound || bytes > 65535) return false;
  (family == 4 ? min_v4_ : min_v6_).store(bytes, std::memory_order_relaxed);
  return true;
}

IpfStatus IpFrag::status() const {
  IpfStatus s;
  s.v4_enabled = enabled(4);
  s.v6_enabled = enabled(6);
  s.min_v4 = min_v4_.load(std::memory_order_relaxed);
  s.min_v6 = min_v6_.load(std::memory_order_relaxed);
  s.nfrag_max = nfrag_max_.load(std::memory_order_relaxed);
  s.nfrag = nfrag_.load(std::memory_order_relaxed);
  {
    std::lock_guard<base::SpinLock> g(lock_);
    s.n_lists = n_lists_;
  }
  s.max_lists = static_cast<uint32_t>(pool_.size());
  for (unsigned c = 0; c < kIpfCounterCount; c++) {
    s.v4[c] = counter(4, c);
    s.v6[c] = counter(6, c);
  }
  return s;
}

size_t IpFrag::reassemble(const FragList& d, uint8_t* out, size_t cap) {
  if (d.n == 0 || d.frags[0].start != 0) return 0;
  const Frag& f0 = d.frags[0];
  const bool v6 = d.key.family == 6;
  const size_t head = f0.data_off - (v6 ? 8u : 0u);  // IPv6: without the fragment header
  const size_t total = head + d.last_end;
  if (total > cap || total - (v6 ? 40 : 0) > 65535) return 0;
  std::memcpy(out, f0.l3, head);
  for (unsigned i = 0; i < d.n; i++) {
    const Frag& f = d.frags[i];
    std::memcpy(out + head + f.start, f.l3 + f.data_off, f.end - f.start);
  }
  if (v6) {
    out[f0.nh_off] = f0.l3[f0.data_off - 8];  // the fragment header's next header
    store_be16(out + 4, static_cast<uint16_t>(total - 40));
  } else {
    store_be16(out + 2, static_cast<uint16_t>(total));
    out[6] &= 0xc0;  // MF and the offset cleared, DF kept
    out[7] = 0;
    ipv4_fix_checksum(out, head);
  }
  return total;
}

void IpFrag::apply_nat(FragList& d, const uint8_t* reass) {
  const bool v6 = d.key.family == 6;
  const size_t at = v6 ? 8 : 12, n = v6 ? 32 : 8;
  for (unsigned i = 0; i < d.n; i++) {
    Frag& f = d.frags[i];
    if (std::memcmp(f.l3 + at, reass + at, n) == 0) continue;
    std::memcpy(f.l3 + at, reass + at, n);
    if (!v6) ipv4_fix_checksum(f.l3, f.data_off);
  }
  Frag& f0 = d.frags[0];
  const size_t head = f0.data_off - (v6 ? 8u : 0u);
  std::memcpy(f0.l3 + f0.data_off, reass + head, f0.end - f0.start);
}

}  // namespace dps::conntrack
