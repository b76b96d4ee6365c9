#include "flow_table.h"

#include <algorithm>

namespace dps::ofproto {

size_t FlowTable::KeyHash::operator()(const OfKey& k) const {
  // Stored keys are already masked, so hashing every word equals hashing
  // under the subtable's mask (of_key_hash skips zero mask words only).
  static const OfMask kAll = [] {
    OfMask m;
    for (unsigned i = 0; i < OfKey::kWords; i++) m.set_word(i, ~0ull);
    return m;
  }();
  return static_cast<size_t>(of_key_hash(k, kAll));
}

Rule* FlowTable::lookup(const OfKey& key, OfMask* wc) const {
  lookups_++;
  Rule* best = nullptr;
  OfKey masked;
  for (const auto& st : subtables_) {
    if (best && st->max_priority <= best->priority) break;
    if (wc) of_mask_or(wc, st->mask);
    of_key_and(key, st->mask, &masked);
    auto it = st->buckets.find(masked);
    if (it == st->buckets.end()) continue;
    Rule* r = it->second.front().get();
    if (!best || r->priority > best->priority) best = r;
  }
  if (best) matches_++;
  return best;
}

FlowTable::Subtable* FlowTable::find_subtable(const OfMask& mask) const {
  auto it = by_mask_.find(mask);
  return it == by_mask_.end() ? nullptr : it->second;
}

void FlowTable::resort() {
  std::stable_sort(subtables_.begin(), subtables_.end(),
                   [](const auto& a, const auto& b) { return a->max_priority > b->max_priority; });
}

void FlowTable::insert(const RulePtr& r) {
  const OfMask& mask = r->match.mask();
  Subtable* st = find_subtable(mask);
  if (!st) {
    auto owned = std::make_unique<Subtable>();
    owned->mask = mask;
    st = owned.get();
    by_mask_.emplace(mask, st);
    subtables_.push_back(std::move(owned));
  }
  auto& rules = st->buckets[r->match.value()];
  auto pos = std::find_if(rules.begin(), rules.end(),
                          [&](const RulePtr& x) { return x->priority < r->priority; });
  rules.insert(pos, r);
  st->priorities[r->priority]++;
  st->n_rules++;
  n_rules_++;
  r->live = true;
  if (st->n_rules == 1 || r->priority > st->max_priority) {
    st->max_priority = st->priorities.begin()->first;
    resort();
  }
}

bool FlowTable::remove(const Rule* r) {
  Subtable* st = find_subtable(r->match.mask());
  if (!st) return false;
  auto it = st->buckets.find(r->match.value());
  if (it == st->buckets.end()) return false;
  auto& rules = it->second;
  auto pos = std::find_if(rules.begin(), rules.end(), [&](const RulePtr& x) { return x.get() == r; });
  if (pos == rules.end()) return false;
  RulePtr keep = *pos;  // r may be owned only by this bucket
  rules.erase(pos);
  if (rules.empty()) st->buckets.erase(it);
  keep->live = false;
  n_rules_--;
  st->n_rules--;
  auto pit = st->priorities.find(keep->priority);
  if (--pit->second == 0) st->priorities.erase(pit);
  if (st->n_rules == 0) {
    by_mask_.erase(st->mask);
    subtables_.erase(std::find_if(subtables_.begin(), subtables_.end(),
                                  [&](const auto& p) { return p.get() == st; }));
  } else if (st->priorities.begin()->first != st->max_priority) {
    st->max_priority = st->priorities.begin()->first;
    resort();
  }
  return true;
}

RulePtr FlowTable::find_strict(const OfMatch& match, uint16_t priority) const {
  Subtable* st = find_subtable(match.mask());
  if (!st) return nullptr;
  auto it = st->buckets.find(match.value());
  if (it == st->buckets.end()) return nullptr;
  for (const RulePtr& r : it->second)
    if (r->priority == priority) return r;
  return nullptr;
}

void FlowTable::for_each_subsumed(const OfMatch& match,
                                  const std::function<void(const RulePtr&)>& fn) const {
  // Collect first: fn may remove rules.
  std::vector<RulePtr> hits;
  for (const auto& st : subtables_) {
    if (!of_mask_covers(st->mask, match.mask())) continue;
    for (const auto& [value, rules] : st->buckets)
      if (of_key_matches(value, match.mask(), match.value()))
        hits.insert(hits.end(), rules.begin(), rules.end());
  }
  for (const RulePtr& r : hits) fn(r);
}

bool FlowTable::overlaps(const OfMatch& match, uint16_t priority) const {
  for (const auto& st : subtables_) {
    if (!st->priorities.count(priority)) continue;
    for (const auto& [value, rules] : st->buckets)
      for (const RulePtr& r : rules)
        if (r->priority == priority && r->match.overlaps(match)) return true;
  }
  return false;
}

void FlowTable::for_each(const std::function<void(const RulePtr&)>& fn) const {
  std::vector<RulePtr> all;
  all.reserve(n_rules_);
  for (const auto& st : subtables_)
    for (const auto& [value, rules] : st->buckets) all.insert(all.end(), rules.begin(), rules.end());
  for (const RulePtr& r : all) fn(r);
}

}  // namespace dps::ofproto
