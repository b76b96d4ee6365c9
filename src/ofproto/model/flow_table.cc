#include "flow_table.h"

#include <rte_byteorder.h>

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

// --- Subtable -------------------------------------------------------------------

uint64_t FlowTable::Subtable::hash(const OfKey& key) const {
  uint64_t h = 0x243f6a8885a308d3ull;
  for (unsigned j = 0; j < n_words; j++) {
    unsigned i = words[j];
    h = mix(h, key.word(i) & mask.word(i));
  }
  return h;
}

FlowTable::Slot* FlowTable::Subtable::add_entry(const OfKey& key, uint64_t h) {
  slots.fit(n_entries + 1, 16);
  uint32_t e;
  if (!free_entries.empty()) {
    e = free_entries.back();
    free_entries.pop_back();
  } else {
    e = static_cast<uint32_t>(entries.size());
    entries.emplace_back();
    values.resize(values.size() + n_words);
  }
  uint64_t* v = values.data() + size_t{e} * n_words;
  for (unsigned j = 0; j < n_words; j++) v[j] = key.word(words[j]) & mask.word(words[j]);
  n_entries++;
  return slots.place(Slot{h, nullptr, e, true});
}

void FlowTable::Subtable::remove_entry(Slot* s) {
  entries[s->entry].rules.clear();
  entries[s->entry].rules.shrink_to_fit();
  free_entries.push_back(s->entry);
  n_entries--;
  slots.erase(s);
}

OfKey FlowTable::Subtable::value_of(uint32_t e) const {
  OfKey k;
  const uint64_t* v = values.data() + size_t{e} * n_words;
  for (unsigned j = 0; j < n_words; j++) k.set_word(words[j], v[j]);
  return k;
}

// --- FlowTable --------------------------------------------------------------------

namespace {
uint32_t* trie_field(OfKey& k, int f) { return f == 0 ? &k.flow.nw_src : &k.flow.nw_dst; }
uint32_t trie_field(const OfKey& k, int f) { return rte_be_to_cpu_32(f == 0 ? k.flow.nw_src : k.flow.nw_dst); }
}  // namespace

void FlowTable::trie_update(const Subtable& st, const OfKey& value, bool add) {
  if (st.trie == kNoTrie) return;
  uint32_t a = trie_field(value, st.trie) & ipv4_prefix_mask_host(st.plen);
  if (add)
    tries_[st.trie].insert(a, st.plen);
  else
    tries_[st.trie].remove(a, st.plen);
}

Rule* FlowTable::lookup(const OfKey& key, OfMask* wc) const {
  Rule* best = nullptr;
  uint64_t lens[2];
  unsigned examined[2];
  bool walked[2] = {false, false};
  for (const auto& st : subtables_) {
    if (best && st->max_priority <= best->priority) break;
    if (st->trie != kNoTrie) {
      const int f = st->trie;
      if (!walked[f]) {
        lens[f] = tries_[f].lookup(trie_field(key, f), &examined[f]);
        walked[f] = true;
      }
      if (!(lens[f] >> st->plen & 1)) {  // no rule here can match
        if (wc) *trie_field(*wc, f) |= rte_cpu_to_be_32(ipv4_prefix_mask_host(examined[f]));
        continue;
      }
    }
    if (wc)
      for (unsigned j = 0; j < st->n_words; j++) {
        unsigned i = st->words[j];
        wc->set_word(i, wc->word(i) | st->mask.word(i));
      }
    const Slot* s = st->find(key, st->hash(key));
    if (!s) continue;
    Rule* r = s->top;
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
    for (int f : {kTrieNwDst, kTrieNwSrc}) {
      uint32_t m = trie_field(mask, f);
      unsigned len = static_cast<unsigned>(__builtin_popcount(m));
      if (len > 0 && m == ipv4_prefix_mask_host(len)) {
        owned->trie = static_cast<int8_t>(f);
        owned->plen = static_cast<uint8_t>(len);
        break;
      }
    }
    st = owned.get();
    by_mask_.emplace(mask, st);
    subtables_.push_back(std::move(owned));
  }
  const OfKey& value = r->match.value();
  uint64_t h = st->hash(value);
  Slot* s = st->find(value, h);
  if (!s) s = st->add_entry(value, h);
  auto& rules = st->entries[s->entry].rules;
  auto pos = std::find_if(rules.begin(), rules.end(),
                          [&](const RulePtr& x) { return x->priority < r->priority; });
  rules.insert(pos, r);
  s->top = rules.front().get();
  st->priorities[r->priority]++;
  st->n_rules++;
  trie_update(*st, r->match.value(), true);
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
  Slot* s = st->find(value, st->hash(value));
  if (!s) return false;
  auto& rules = st->entries[s->entry].rules;
  auto pos = std::find_if(rules.begin(), rules.end(), [&](const RulePtr& x) { return x.get() == r; });
  if (pos == rules.end()) return false;
  RulePtr keep = *pos;  // r may be owned only by this entry
  rules.erase(pos);
  trie_update(*st, keep->match.value(), false);
  if (rules.empty())
    st->remove_entry(s);
  else
    s->top = rules.front().get();
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
  const Slot* s = st->find(match.value(), st->hash(match.value()));
  if (!s) return nullptr;
  for (const RulePtr& r : st->entries[s->entry].rules)
    if (r->priority == priority) return r;
  return nullptr;
}

void FlowTable::for_each_subsumed(const OfMatch& match,
                                  const std::function<void(const RulePtr&)>& fn) const {
  // Collect first: fn may remove rules.
  std::vector<RulePtr> hits;
  for (const auto& st : subtables_) {
    if (!of_mask_covers(st->mask, match.mask())) continue;
    for (uint32_t e = 0; e < st->entries.size(); e++) {
      const Entry& en = st->entries[e];
      if (!en.rules.empty() && of_key_matches(st->value_of(e), match.mask(), match.value()))
        hits.insert(hits.end(), en.rules.begin(), en.rules.end());
    }
  }
  for (const RulePtr& r : hits) fn(r);
}

bool FlowTable::overlaps(const OfMatch& match, uint16_t priority) const {
  for (const auto& st : subtables_) {
    if (!st->priorities.count(priority)) continue;
    for (const Entry& en : st->entries)
      for (const RulePtr& r : en.rules)
        if (r->priority == priority && r->match.overlaps(match)) return true;
  }
  return false;
}

void FlowTable::for_each(const std::function<void(const RulePtr&)>& fn) const {
  std::vector<RulePtr> all;
  all.reserve(n_rules_);
  for (const auto& st : subtables_)
    for (const Entry& en : st->entries) all.insert(all.end(), en.rules.begin(), en.rules.end());
  for (const RulePtr& r : all) fn(r);
}

}  // namespace dps::ofproto
