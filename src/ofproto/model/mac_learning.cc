#include "mac_learning.h"

#include <algorithm>
#include <cstdio>

namespace dps::ofproto {

std::string mac_to_string(const MacAddr& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

uint64_t MacLearning::key_of(const MacAddr& mac, uint16_t vlan) {
  uint64_t k = 0;
  for (uint8_t b : mac) k = (k << 8) | b;
  return k | (uint64_t{vlan} << 48);
}

void MacLearning::log(MacChange c) {
  generation_++;
  if (changes_.size() >= kMacMaxChangeLog) {
    overflow_ = true;
    return;
  }
  changes_.push_back(c);
}

void MacLearning::erase(Lru::iterator it, MacChangeKind why) {
  log({why, it->mac, it->vlan, it->port, 0});
  index_.erase(key_of(it->mac, it->vlan));
  lru_.erase(it);
}

LearnResult MacLearning::learn(const MacAddr& mac, uint16_t vlan, uint32_t port, int64_t now_ms) {
  if (!may_learn(mac, vlan)) return LearnResult::kNotLearned;
  uint64_t key = key_of(mac, vlan);
  auto it = index_.find(key);
  if (it != index_.end()) {
    Lru::iterator e = it->second;
    // An entry that already aged out but was not expired yet counts as new.
    const bool stale = now_ms - e->learned_ms >= idle_ms_;
    e->learned_ms = now_ms;
    lru_.splice(lru_.end(), lru_, e);
    if (e->port == port && !stale) return LearnResult::kRefreshed;
    uint32_t old = e->port;
    e->port = port;
    if (stale) {
      log({MacChangeKind::kLearned, mac, vlan, 0, port});
      e->tag = generation_;
      n_learned_++;
      return LearnResult::kNew;
    }
    log({MacChangeKind::kMoved, mac, vlan, old, port});
    e->tag = generation_;
    n_moved_++;
    return LearnResult::kMoved;
  }
  if (max_entries_ == 0) return LearnResult::kNotLearned;
  while (index_.size() >= max_entries_) {
    n_evicted_++;
    erase(lru_.begin(), MacChangeKind::kEvicted);
  }
  log({MacChangeKind::kLearned, mac, vlan, 0, port});
  lru_.push_back(MacEntry{mac, vlan, port, now_ms, generation_});
  index_.emplace(key, std::prev(lru_.end()));
  n_learned_++;
  return LearnResult::kNew;
}

const MacEntry* MacLearning::find(const MacAddr& mac, uint16_t vlan) const {
  auto it = index_.find(key_of(mac, vlan));
  return it == index_.end() ? nullptr : &*it->second;
}

std::optional<uint32_t> MacLearning::lookup(const MacAddr& mac, uint16_t vlan, int64_t now_ms) const {
  const MacEntry* e = find(mac, vlan);
  if (!e || now_ms - e->learned_ms >= idle_ms_) return std::nullopt;
  return e->port;
}

size_t MacLearning::expire(int64_t now_ms) {
  size_t n = 0;
  // The LRU list is ordered by learned_ms, so expired entries are a prefix.
  while (!lru_.empty() && now_ms - lru_.front().learned_ms >= idle_ms_) {
    erase(lru_.begin(), MacChangeKind::kExpired);
    n_expired_++;
    n++;
  }
  return n;
}

void MacLearning::flush() {
  while (!lru_.empty()) erase(lru_.begin(), MacChangeKind::kFlushed);
}

void MacLearning::flush_port(uint32_t port) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->port == port) erase(it, MacChangeKind::kFlushed);
    it = next;
  }
}

void MacLearning::set_max_entries(size_t n) {
  max_entries_ = n;
  while (index_.size() > max_entries_) {
    n_evicted_++;
    erase(lru_.begin(), MacChangeKind::kEvicted);
  }
}

void MacLearning::set_flood_vlans(std::set<uint16_t> vlans) {
  flood_vlans_ = std::move(vlans);
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (is_flood_vlan(it->vlan)) erase(it, MacChangeKind::kFlushed);
    it = next;
  }
}

std::vector<MacChange> MacLearning::take_changes(bool* overflow) {
  if (overflow) *overflow = overflow_;
  overflow_ = false;
  std::vector<MacChange> out;
  out.swap(changes_);
  return out;
}

std::vector<MacEntry> MacLearning::dump() const {
  std::vector<MacEntry> out(lru_.begin(), lru_.end());
  std::sort(out.begin(), out.end(), [](const MacEntry& a, const MacEntry& b) {
    if (a.port != b.port) return a.port < b.port;
    if (a.vlan != b.vlan) return a.vlan < b.vlan;
    return a.mac < b.mac;
  });
  return out;
}

std::string MacLearning::format_fdb(int64_t now_ms) const {
  std::string out = " port  VLAN  MAC                Age\n";
  char buf[96];
  for (const MacEntry& e : dump()) {
    std::snprintf(buf, sizeof buf, "%5u  %4u  %s  %3lld\n", e.port, e.vlan, mac_to_string(e.mac).c_str(),
                  static_cast<long long>((now_ms - e.learned_ms) / 1000));
    out += buf;
  }
  return out;
}

}  // namespace dps::ofproto
