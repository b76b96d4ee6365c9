#include "flow_cache.h"

#include <stdexcept>

namespace dps::exporter {
namespace {

// now - t, 0 when the caller's clock stepped back.
uint64_t elapsed(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

}  // namespace

size_t FlowCache::KeyHash::operator()(const Key& k) const {
  // FNV-1a over the key fields.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  };
  mix(k.in_if, 4);
  mix(k.vlan, 2);
  mix(k.eth_type, 2);
  for (uint8_t b : k.src.b) mix(b, 1);
  for (uint8_t b : k.dst.b) mix(b, 1);
  mix(k.proto, 1);
  mix(k.src_port, 2);
  mix(k.dst_port, 2);
  mix(k.direction, 1);
  mix(k.out_if, 4);
  return static_cast<size_t>(h);
}

FlowCache::FlowCache(FlowCacheConfig cfg) : cfg_(cfg) {
  if (cfg_.capacity == 0 || cfg_.capacity >= kNil) throw std::invalid_argument("flow cache capacity must be from 1 to 2^32-2");
  if (cfg_.scale == 0) throw std::invalid_argument("flow cache scale (sampling rate) must be at least 1");
  if (cfg_.active_timeout_ms == 0 || cfg_.inactive_timeout_ms == 0)
    throw std::invalid_argument("flow cache timeouts must be at least 1 ms");
  slots_.resize(cfg_.capacity);
  free_.reserve(cfg_.capacity);
  for (size_t i = cfg_.capacity; i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
  map_.reserve(cfg_.capacity);
}

FlowCache::Key FlowCache::key_of(const FlowFields& f) {
  return Key{f.in_if, f.vlan, f.eth_type, f.src, f.dst, f.proto, f.src_port, f.dst_port, f.direction,
             f.direction == kFlowEgress ? f.out_if : 0};
}

void FlowCache::unlink(List& l, Links Slot::*m, uint32_t i) {
  Links& x = slots_[i].*m;
  if (x.prev != kNil) (slots_[x.prev].*m).next = x.next;
  else l.head = x.next;
  if (x.next != kNil) (slots_[x.next].*m).prev = x.prev;
  else l.tail = x.prev;
  x = Links{};
}

void FlowCache::push_back(List& l, Links Slot::*m, uint32_t i) {
  Links& x = slots_[i].*m;
  x.prev = l.tail;
  x.next = kNil;
  if (l.tail != kNil) (slots_[l.tail].*m).next = i;
  else l.head = i;
  l.tail = i;
}

void FlowCache::end(uint32_t i, FlowEndReason why, std::vector<FlowRecord>* out) {
  Slot& s = slots_[i];
  s.rec.reason = why;
  s.rec.packets *= cfg_.scale;
  s.rec.bytes *= cfg_.scale;
  out->push_back(s.rec);
  stats_.records++;
  unlink(lru_, &Slot::lru, i);
  unlink(created_, &Slot::created, i);
  map_.erase(s.key);
  free_.push_back(i);
}

uint32_t FlowCache::create(const Key& k, const FlowFields& f, uint64_t now_ms, std::vector<FlowRecord>* out) {
  if (free_.empty()) {
    stats_.evictions++;
    end(lru_.head, FlowEndReason::kLackOfResources, out);
  }
  uint32_t i = free_.back();
  free_.pop_back();
  Slot& s = slots_[i];
  s.key = k;
  s.rec = FlowRecord{};
  s.rec.f = f;
  s.rec.f.tcp_flags = 0;
  s.rec.start_ms = now_ms;
  map_.emplace(k, i);
  push_back(lru_, &Slot::lru, i);
  push_back(created_, &Slot::created, i);
  stats_.flows++;
  return i;
}

void FlowCache::add(const FlowFields& f, uint32_t length, uint64_t now_ms, std::vector<FlowRecord>* out) {
  stats_.packets++;
  Key k = key_of(f);
  auto it = map_.find(k);
  uint32_t i;
  if (it != map_.end() && elapsed(now_ms, slots_[it->second].rec.start_ms) >= cfg_.active_timeout_ms) {
    end(it->second, FlowEndReason::kActiveTimeout, out);  // reported; goes on as a new record
    it = map_.end();
  }
  if (it == map_.end()) {
    i = create(k, f, now_ms, out);
  } else {
    i = it->second;
    unlink(lru_, &Slot::lru, i);
    push_back(lru_, &Slot::lru, i);
  }
  FlowRecord& r = slots_[i].rec;
  r.packets++;
  r.bytes += length;
  r.end_ms = now_ms;
  r.f.tcp_flags |= f.tcp_flags;
  if (f.out_if) r.f.out_if = f.out_if;
  if (cfg_.tcp_end && f.proto == 6 && (f.tcp_flags & (kTcpFin | kTcpRst)))
    end(i, FlowEndReason::kEndOfFlow, out);
}

void FlowCache::expire(uint64_t now_ms, std::vector<FlowRecord>* out) {
  while (lru_.head != kNil && elapsed(now_ms, slots_[lru_.head].rec.end_ms) >= cfg_.inactive_timeout_ms)
    end(lru_.head, FlowEndReason::kIdleTimeout, out);
  while (created_.head != kNil && elapsed(now_ms, slots_[created_.head].rec.start_ms) >= cfg_.active_timeout_ms)
    end(created_.head, FlowEndReason::kActiveTimeout, out);
}

void FlowCache::flush(std::vector<FlowRecord>* out) {
  while (created_.head != kNil) end(created_.head, FlowEndReason::kForcedEnd, out);
}

}  // namespace dps::exporter
