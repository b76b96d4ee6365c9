#include "megaflow_classifier.h"

#include <algorithm>
#include <bit>

namespace dps::datapath {

const char* insert_result_name(InsertResult r) {
  switch (r) {
    case InsertResult::kOk: return "ok";
    case InsertResult::kDuplicate: return "a flow with the same mask and masked key is installed";
    case InsertResult::kAlreadyInstalled: return "flow is already installed";
    case InsertResult::kKeyNotMasked: return "flow key has bits set outside its mask";
    case InsertResult::kIndexInUse: return "another installed flow has the same arena index";
  }
  return "?";
}

MegaflowClassifier::MegaflowClassifier() = default;
MegaflowClassifier::~MegaflowClassifier() = default;

Subtable* MegaflowClassifier::find_subtable(const FlowMask& mask) const {
  for (const auto& st : subtables_) {
    const uint64_t* a = st->mask().words();
    const uint64_t* b = mask.words();
    uint64_t diff = 0;
    for (unsigned i = 0; i < kFlowWords; i++) diff |= a[i] ^ b[i];
    if (diff == 0) return st.get();
  }
  return nullptr;
}

InsertResult MegaflowClassifier::insert(DpFlow* flow) {
  if (flow->installed) return InsertResult::kAlreadyInstalled;
  for (unsigned i = 0; i < kFlowWords; i++)
    if (flow->key.words()[i] & ~flow->mask.words()[i]) return InsertResult::kKeyNotMasked;
  if (flow->index < by_index_.size() && by_index_[flow->index].flow)
    return InsertResult::kIndexInUse;

  Subtable* st = find_subtable(flow->mask);
  bool created = false;
  if (!st) {
    subtables_.push_back(std::make_unique<Subtable>(flow->mask));
    st = subtables_.back().get();
    created = true;
  }
  if (!st->insert(flow)) {
    if (created) subtables_.pop_back();
    return InsertResult::kDuplicate;
  }
  if (flow->index >= by_index_.size())
    by_index_.resize(std::max<size_t>(flow->index + 1, by_index_.size() * 2));
  by_index_[flow->index] = {flow, st};
  flow->installed = true;
  nflows_++;
  return InsertResult::kOk;
}

bool MegaflowClassifier::remove(DpFlow* flow) {
  if (flow->index >= by_index_.size() || by_index_[flow->index].flow != flow) return false;
  Subtable* st = by_index_[flow->index].subtable;
  if (!st->remove(flow)) return false;
  by_index_[flow->index] = {};
  flow->installed = false;
  flow->gen.store(flow->gen.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  nflows_--;
  if (st->size() == 0) {
    auto it = std::find_if(subtables_.begin(), subtables_.end(),
                           [st](const auto& p) { return p.get() == st; });
    subtables_.erase(it);
  }
  return true;
}

void MegaflowClassifier::flush(const std::function<void(DpFlow*)>& on_removed) {
  for (Slot& s : by_index_) {
    if (!s.flow) continue;
    DpFlow* f = s.flow;
    s = {};
    f->installed = false;
    f->gen.store(f->gen.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    if (on_removed) on_removed(f);
  }
  subtables_.clear();
  nflows_ = 0;
  if (smc_) smc_->clear();
}

DpFlow* MegaflowClassifier::lookup(const FlowKey& key) {
  stats_.lookups++;
  for (const auto& st : subtables_) {
    stats_.subtable_probes++;
    if (DpFlow* f = st->lookup(key)) {
      st->hits++;
      stats_.hits++;
      return f;
    }
  }
  return nullptr;
}

uint32_t MegaflowClassifier::smc_lookup(const FlowKey* keys, const uint32_t* hashes,
                                        uint32_t todo, DpFlow** flows) const {
  uint32_t cand[32];
  const Slot* slots = by_index_.data();
  const uint32_t nslots = static_cast<uint32_t>(by_index_.size());
  // Pass 1: prefetch the sets.
  for (uint32_t m = todo; m; m &= m - 1) smc_->prefetch(hashes[std::countr_zero(m)]);
  // Pass 2: signature match; prefetch the first candidate's slot.
  uint32_t have = 0;
  for (uint32_t m = todo; m; m &= m - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(m));
    const auto& s = smc_->set(hashes[i]);
    for (unsigned w = SignatureMatchCache::match(s, hashes[i]); w; w &= w - 1) {
      uint32_t idx = SignatureMatchCache::index_of(s.entries[std::countr_zero(w)]);
      if (idx < nslots) {
        cand[i] = idx;
        have |= uint32_t{1} << i;
        __builtin_prefetch(&slots[idx]);
        break;
      }
    }
  }
  // Pass 3: verify under the flow's mask. A signature collision or a stale
  // index fails here and the key goes on to the subtables.
  uint32_t hit = 0;
  for (uint32_t m = have; m; m &= m - 1) {
    unsigned i = static_cast<unsigned>(std::countr_zero(m));
    const Slot& sl = slots[cand[i]];
    if (sl.flow && sl.subtable->matches(keys[i], *sl.flow)) {
      flows[i] = sl.flow;
      hit |= uint32_t{1} << i;
    }
  }
  return hit;
}

uint32_t MegaflowClassifier::lookup_batch(const FlowKey* keys, const uint32_t* hashes,
                                          unsigned n, uint32_t todo, DpFlow** flows,
                                          ClassifierStats* stats) {
  if (n < 32) todo &= (uint32_t{1} << n) - 1;
  ClassifierStats c;
  c.lookups = static_cast<unsigned>(std::popcount(todo));
  uint32_t found = 0;
  uint32_t remaining = todo;
  // With one subtable an SMC probe costs as much as the subtable probe it
  // would save (measured), so the SMC is consulted from two subtables up.
  const bool use_smc = hashes != nullptr && smc_in_use();
  if (use_smc && remaining) {
    found = smc_lookup(keys, hashes, remaining, flows);
    remaining &= ~found;
    c.smc_hits = static_cast<unsigned>(std::popcount(found));
  }
  for (const auto& st : subtables_) {
    if (!remaining) break;
    c.subtable_probes += static_cast<unsigned>(std::popcount(remaining));
    uint32_t hit = st->lookup_batch(keys, remaining, flows);
    if (hit) {
      st->hits += static_cast<unsigned>(std::popcount(hit));
      remaining &= ~hit;
      found |= hit;
      if (use_smc)
        for (uint32_t m = hit; m; m &= m - 1) {
          unsigned i = static_cast<unsigned>(std::countr_zero(m));
          smc_->insert(hashes[i], flows[i]->index);
        }
    }
  }
  c.hits = static_cast<unsigned>(std::popcount(found));
  stats_.add(c);
  if (stats) stats->add(c);
  return found;
}

void MegaflowClassifier::rerank() {
  std::stable_sort(subtables_.begin(), subtables_.end(),
                   [](const auto& a, const auto& b) { return a->hits > b->hits; });
  uint64_t total = 0, probes = 0;
  for (size_t r = 0; r < subtables_.size(); r++) {
    total += subtables_[r]->hits;
    probes += (r + 1) * subtables_[r]->hits;
    subtables_[r]->hits = 0;
  }
  if (total) smc_pays_ = static_cast<double>(probes) >= kSmcMinProbes * static_cast<double>(total);
}

void MegaflowClassifier::set_smc_enabled(bool on, uint32_t entries) {
  if (on && !smc_)
    smc_ = std::make_unique<SignatureMatchCache>(entries);
  smc_on_ = on;
  if (!on && smc_) smc_->clear();  // stale entries would be verified anyway; start clean
}

}  // namespace dps::datapath
