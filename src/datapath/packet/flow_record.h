// flow_record.h - what a caller installs (FlowSpec) and what the Datapath
// keeps of it per ufid (FlowRecord).
//
// What: FlowSpec is a megaflow as the Datapath's callers give it (key, mask,
// actions, ufid). FlowRecord is the control side's record of one installed
// ufid: its masked key, its mask, its actions, and the (PMD, DpFlow) pairs
// it is installed as (Instances).
//
// Design: a DpActions is ~770 bytes and most flows use one or two entries,
// while the miss path creates one record per new megaflow and touching less
// memory is most of its cost: the record keeps only the used action entries
// (a vector), and Instances keeps two (pmd, flow) pairs inline (a ufid is
// almost always on one PMD) and spills more to the heap.
//
// Thread-safety: plain values, owned by the Datapath's control thread.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "actions.h"
#include "dp_flow.h"
#include "flow_key.h"

namespace dps::datapath {

struct FlowSpec {
  FlowKey key;  // masked here
  FlowMask mask;
  DpActions actions;
  uint64_t ufid = 0;
};

// (pmd, flow) per PMD the ufid is on.
class FlowInstances {
 public:
  using Item = std::pair<unsigned, DpFlow*>;
  Item* begin() { return spilled_ ? heap_.data() : inline_; }
  Item* end() { return begin() + n_; }
  const Item* begin() const { return spilled_ ? heap_.data() : inline_; }
  const Item* end() const { return begin() + n_; }
  bool empty() const { return n_ == 0; }
  bool on(unsigned pmd) const;
  void push_back(const Item& it);
  void pop_back() {
    n_--;
    if (spilled_) heap_.pop_back();
  }
  void erase(const Item& it);  // if present

 private:
  Item inline_[2];
  std::vector<Item> heap_;
  uint32_t n_ = 0;
  bool spilled_ = false;
};

struct FlowRecord {
  FlowKey key;  // masked
  FlowMask mask;
  uint64_t ufid = 0;
  std::vector<DpAction> actions;
  FlowInstances instances;
  bool everywhere = false;  // put on every PMD (put_flow with pmd < 0)

  void set(const FlowSpec& spec);  // masks spec.key
  void set_actions(const DpActions& a) { actions.assign(a.acts, a.acts + a.n); }
  FlowSpec spec() const;
  // Fills a fresh DpFlow from the record: no FlowSpec copy, only the used
  // action entries.
  void fill(DpFlow* f) const;
};

}  // namespace dps::datapath
