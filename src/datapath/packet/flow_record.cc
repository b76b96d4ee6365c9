#include "flow_record.h"

#include <algorithm>

namespace dps::datapath {

bool FlowInstances::on(unsigned pmd) const {
  for (const auto& [p, f] : *this)
    if (p == pmd) return true;
  return false;
}

void FlowInstances::push_back(const Item& it) {
  if (!spilled_ && n_ == 2) {
    heap_.assign(inline_, inline_ + 2);
    spilled_ = true;
  }
  if (spilled_)
    heap_.push_back(it);
  else
    inline_[n_] = it;
  n_++;
}

void FlowInstances::erase(const Item& it) {
  Item* b = begin();
  Item* e = std::remove(b, b + n_, it);
  unsigned left = static_cast<unsigned>(e - b);
  if (spilled_) heap_.resize(left);
  n_ = left;
}

void FlowRecord::set(const FlowSpec& spec) {
  flow_key_apply_mask(spec.key, spec.mask, &key);
  mask = spec.mask;
  ufid = spec.ufid;
  set_actions(spec.actions);
}

FlowSpec FlowRecord::spec() const {
  FlowSpec s;
  s.key = key;
  s.mask = mask;
  s.ufid = ufid;
  s.actions.n = 0;
  for (const DpAction& a : actions) s.actions.acts[s.actions.n++] = a;
  return s;
}

void FlowRecord::fill(DpFlow* f) const {
  f->key = key;
  f->mask = mask;
  f->actions.n = static_cast<uint8_t>(actions.size());
  std::copy(actions.begin(), actions.end(), f->actions.acts);
  f->ufid = ufid;
}

}  // namespace dps::datapath
