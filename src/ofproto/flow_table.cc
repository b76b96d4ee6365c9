#include "flow_table.h"

#include <algorithm>

namespace dps::ofproto {

namespace {

inline uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 32);
}

}  // namespace

size_t FlowTable::KeyHash::operator()(const OfKey& k) const {
  uint64_t h = 0;
  for (unsigned i = 0; i < OfKey::kWords; i++) h = mix(h, k.word(i));
  return static_cast<size_t>(h);
}

uint64_t FlowTable::Subtable::hash(const OfKey& key) const {
  uint64_t h = 0x243f6a8885a308d3ull;
  for (unsigned j = 0; j < n_words; j++) {
    unsigned i = words[j];
    h = mix(h, key.word(i) & mask.word(i));
  }
  return h;
}

FlowTable::Entry* FlowTable::Subtable::find(const OfKey& key, uint64_t h) {
  auto it = buckets.find(h);
  if (it == buckets.end()) return nullptr;
  for (Entry& e : it->second) {
    bool eq = true;
    for (unsigned j = 0; j < n_words && eq; j++) {
      unsigned i = words[j];
      eq = (key.word(i) & mask.word(i)) == e.value.word(i);
    }
    if (eq) return &e;
  }
  return nullptr;
}

Rule* FlowTable::lookup(const OfKey& key, OfMask* wc) const {
  Rule* best = nullptr;
  for (const auto& st : subtables_) {
    if (best && st->max_priority <= best->priority) break;
    if (wc)
      for (unsigned j = 0; j < st->n_words; j++) {
        unsigned i = st->words[j];
        wc->set_word(i, wc->word(i) | st->mask.word(i));
      }
    const Entry* e = st->find(key, st->hash(key));
    if (!e) continue;
    Rule* r = e->rules.front().get();
    if (!best || r->priority > best->priority) best = r;
  }
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
    for (unsigned i = 0; i < OfKey::kWords; i++)
      if (mask.word(i)) owned->words[owned->n_words++] = static_cast<uint8_t>(i);
    st = owned.get();
    by_mask_.emplace(mask, st);
    subtables_.push_back(std::move(owned));
  }
  const OfKey& value = r->match.value();
  uint64_t h = st->hash(value);
  Entry* e = st->find(value, h);
  if (!e) {
    auto& vec = st->buckets[h];
    vec.push_back(Entry{value, {}});
    e = &vec.back();
  }
  auto pos = std::find_if(e->rules.begin(), e->rules.end(),
                          [&](const RulePtr& x) { return x->priority < r->priority; });
  e->rules.insert(pos, r);
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
  const OfKey& value = r->match.value();
  uint64_t h = st->hash(value);
  auto bit = st->buckets.find(h);
  if (bit == st->buckets.end()) return false;
  auto& vec = bit->second;
  auto eit = std::find_if(vec.begin(), vec.end(), [&](const Entry& e) { return e.value == value; });
  if (eit == vec.end()) return false;
  auto& rules = eit->rules;
  auto pos = std::find_if(rules.begin(), rules.end(), [&](const RulePtr& x) { return x.get() == r; });
  if (pos == rules.end()) return false;
  RulePtr keep = *pos;  // r may be owned only by this entry
  rules.erase(pos);
  if (rules.empty()) {
    vec.erase(eit);
    if (vec.empty()) st->buckets.erase(bit);
  }
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
  const Entry* e = st->find(match.value(), st->hash(match.value()));
  if (!e) return nullptr;
  for (const RulePtr& r : e->rules)
    if (r->priority == priority) return r;
  return nullptr;
}

void FlowTable::for_each_subsumed(const OfMatch& match,
                                  const std::function<void(const RulePtr&)>& fn) const {
  // Collect first: fn may remove rules.
  std::vector<RulePtr> hits;
  for (const auto& st : subtables_) {
    if (!of_mask_covers(st->mask, match.mask())) continue;
    for (const auto& [h, vec] : st->buckets)
      for (const Entry& e : vec)
        if (of_key_matches(e.value, match.mask(), match.value()))
          hits.insert(hits.end(), e.rules.begin(), e.rules.end());
  }
  for (const RulePtr& r : hits) fn(r);
}

bool FlowTable::overlaps(const OfMatch& match, uint16_t priority) const {
  for (const auto& st : subtables_) {
    if (!st->priorities.count(priority)) continue;
    for (const auto& [h, vec] : st->buckets)
      for (const Entry& e : vec)
        for (const RulePtr& r : e.rules)
          if (r->priority == priority && r->match.overlaps(match)) return true;
  }
  return false;
}

void FlowTable::for_each(const std::function<void(const RulePtr&)>& fn) const {
  std::vector<RulePtr> all;
  all.reserve(n_rules_);
  for (const auto& st : subtables_)
    for (const auto& [h, vec] : st->buckets)
      for (const Entry& e : vec) all.insert(all.end(), e.rules.begin(), e.rules.end());
  for (const RulePtr& r : all) fn(r);
}

}  // namespace dps::ofproto
