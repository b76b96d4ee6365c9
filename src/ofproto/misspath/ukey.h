// ukey.h - installed-flow records ("ukeys"): what the ofproto thread knows
// about every megaflow it installed in a PMD.
//
// What: a Ukey is one megaflow on one PMD: ufid (the datapath flow id), the
// PMD, the key of the miss that created it, the masked key and mask, the
// datapath actions, and what the translation depended on (rules, groups,
// table lookups, MAC entries, controller events for its kUserspace
// cookies), plus the datapath counters last rolled up into the rules and
// the creation / last-use times. UkeyTable owns the ukeys and indexes them:
//  - exactly, by (pmd, masked key, mask): a PMD that misses again on a flow
//    being installed finds its ukey and does not install it twice;
//  - by covering: find_covering(pmd, key) probes each distinct mask in use
//    (tuple-space search on the control side), to skip translation of a
//    packet whose megaflow is already being installed;
//  - by dependency: a change to a rule, group, table or MAC entry (or to
//    tunnel state: a route, a neighbour; XlateResult::tnl_deps) names a
//    64-bit dependency key; for_dep() visits the ukeys that recorded it.
//
// Design: dependency keys are hashes of (kind, owner, id). Two different
// dependencies that hash alike only make the revalidator look at more ukeys
// than needed: a collision costs time, never correctness. The sweep list is
// a vector with swap-remove, so an incremental sweep (a slice per round)
// visits every ukey once per pass in O(1) per step. The indexes are flat
// open-addressing tables (FlatIndex) and per-dependency vectors with
// swap-remove (each ukey remembers its position in each), so inserting or
// erasing a ukey costs a few cache lines and no allocation in steady state:
// the miss path inserts one per new megaflow.
//
// Thread-safety: owned by the ofproto thread; nothing here is shared with
// PMDs (they know flows only by ufid, through the datapath).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actions.h"
#include "flow_key.h"
#include "probe_slots.h"
#include "xlate.h"

namespace dps::ofproto {

// Megaflow traffic for flow accounting (NetFlow, set by the daemon): the
// key of the megaflow's first packet, its actions, and the packets / bytes
// since the last call: the miss path's first packets, then the datapath
// counter deltas the revalidator rolls up.
using FlowStatsHook = std::function<void(const datapath::FlowKey& key, const datapath::DpActions& actions,
                                         uint64_t packets, uint64_t bytes, int64_t now_ms)>;

// A megaflow's datapath actions at their used length: up to
// kUkeyInlineActions inline, longer lists on the heap. A full DpActions is
// ~770 bytes, more than the rest of a ukey together, and the miss path
// writes one ukey per new megaflow; most megaflows have one to four actions
// (an output; a rewrite or two and an output). Converts to and from
// DpActions, which the datapath interface takes.
inline constexpr unsigned kUkeyInlineActions = 4;  // 96 bytes: the common cases, no heap

class UkeyActions {
 public:
  UkeyActions() = default;
  UkeyActions(const datapath::DpActions& a) { assign(a.acts, a.n); }  // NOLINT: implicit on purpose
  UkeyActions(const UkeyActions& o) { assign(o.data(), o.n_); }
  UkeyActions& operator=(const UkeyActions& o) {
    if (this != &o) assign(o.data(), o.n_);
    return *this;
  }
  UkeyActions& operator=(const datapath::DpActions& a) {
    assign(a.acts, a.n);
    return *this;
  }
  // The full form, for the datapath interface (a copy of size() entries).
  operator datapath::DpActions() const {  // NOLINT: implicit on purpose
    datapath::DpActions a;
    a.n = n_;
    std::copy(data(), data() + n_, a.acts);
    return a;
  }
  bool operator==(const datapath::DpActions& o) const;

  unsigned size() const { return n_; }
  const datapath::DpAction* data() const { return heap_ ? heap_.get() : inline_; }

 private:
  void assign(const datapath::DpAction* acts, unsigned n);

  uint8_t n_ = 0;
  datapath::DpAction inline_[kUkeyInlineActions];
  std::unique_ptr<datapath::DpAction[]> heap_;  // when n_ > kUkeyInlineActions
};

struct Ukey {
  // Ukeys live in a pool of huge-page slabs (ukey.cc): the miss path makes
  // one per new megaflow, and fresh 4 KB pages cost a fault every few ukeys.
  // Freed ukeys are reused, newest first. Any thread may allocate or free.
  static void* operator new(size_t size);
  static void operator delete(void* p, size_t size);

  uint64_t ufid = 0;
  uint16_t pmd = 0;
  datapath::FlowKey key{};     // the first miss's key (in_port = datapath port)
  datapath::FlowKey masked{};  // key & mask, as installed
  datapath::FlowMask mask{};
  UkeyActions actions;
  // What the translation depended on (replaced on every re-translation).
  std::vector<RulePtr> rules;
  std::vector<TableVisit> visits;
  std::vector<MacDep> macs;
  std::vector<ControllerEvent> controller;  // index = kUserspace cookie
  MirrorCounterRefs mirrors;  // the mirrors its actions copy to (statistics)
  // Dependency keys indexed for it: (key, dependency list, position in it).
  struct DepRef {
    uint64_t dep;
    uint32_t list;
    uint32_t pos;
  };
  std::vector<DepRef> deps;
  // Datapath counters already added to the rules.
  uint64_t packets_seen = 0;
  uint64_t bytes_seen = 0;
  int64_t created_ms = 0;
  int64_t used_ms = 0;  // last time its counters moved (or created_ms)
  // UkeyTable bookkeeping.
  uint64_t hash = 0;
  size_t list_index = 0;
  uint32_t mask_slot = 0;
};

// Dependency keys (see the header comment).
uint64_t dep_rule(const Rule* r);
uint64_t dep_group(const Bridge* b, uint32_t group_id);
uint64_t dep_table(const Bridge* b, uint8_t table);
uint64_t dep_mac(const Bridge* b, const MacAddr& mac, uint16_t vlan);
// Any translation through this bridge (port changes: re-translate all).
uint64_t dep_bridge(const Bridge* b);

// Hash of (pmd, key & mask, mask).
uint64_t ukey_hash(uint16_t pmd, const datapath::FlowKey& masked, const datapath::FlowMask& mask);

// Ukeys made resident when the first UkeyTable is created (~50 MB): a
// flow-setup storm's first 64k megaflows take no page fault for their
// ukeys on the miss path (the same reasoning as kFlowArenaDefaultPrefault).
inline constexpr size_t kUkeyPrefault = 64 * 1024;
// Makes the ukey pool hold memory for at least n ukeys in total, resident
// (once per process: the pool is shared and never shrinks).
void ukey_pool_reserve(size_t n);

// Masks probed by find_covering() at most; beyond, the caller translates
// (the exact find() after translation still prevents a second install).
inline constexpr size_t kMaxCoverMasks = 32;

// Controller events interned to 32-bit ids, which become the cookie of the
// datapath's kUserspace action. A userspace upcall then names its event
// directly, whatever the actions before it did to the packet (a key
// re-extracted after a set_field would not find its ukey). Distinct events
// are few (rule cookie x table x reason x max_len); the table is bounded
// and id kNoEvent stands for "unknown" beyond it.
class ControllerEventTable {
 public:
  static constexpr uint32_t kNoEvent = 0xffffffffu;
  // The cookie of slow-protocol frames (LACP) on bond members: not an
  // event; the upcall handler gives them to the bridge's slow path.
  static constexpr uint32_t kSlowProtocol = kSlowProtocolCookie;  // bonding.h
  static constexpr size_t kMaxEvents = 1u << 20;  // 1M events: far above any rule set
  uint32_t intern(const ControllerEvent& e);
  const ControllerEvent* get(uint32_t id) const {
    return id < events_.size() ? &events_[id] : nullptr;
  }
  // Rewrites the kUserspace cookies of actions (indexes into events, as
  // xlate emits them) into interned ids.
  void rewrite(datapath::DpActions* actions, const std::vector<ControllerEvent>& events);

 private:
  std::vector<ControllerEvent> events_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash_;
};

// Open-addressing multimap from a well-mixed 64-bit hash to a value, on
// ProbeSlots (probe_slots.h: linear probing, backward-shift deletion), at
// most half full. Equal hashes may repeat (distinct values).
template <typename V>
class FlatIndex {
 public:
  void insert(uint64_t h, V v) {
    slots_.fit(n_ + 1, kFirstCapacity);
    slots_.place(Slot{h, v, true});
    n_++;
  }
  // Removes the entry (h, v); false if absent.
  bool erase(uint64_t h, V v) {
    Slot* s = slots_.find(h, [&](const Slot& x) { return x.v == v; });
    if (!s) return false;
    slots_.erase(s);
    n_--;
    return true;
  }
  // The first value stored under h for which match(v), else `none`.
  template <typename Match>
  V find(uint64_t h, V none, Match&& match) const {
    const Slot* s = slots_.find(h, [&](const Slot& x) { return match(x.v); });
    return s ? s->v : none;
  }
  void clear() {
    slots_.clear();
    n_ = 0;
  }
  size_t size() const { return n_; }
  // Sizes the table for n entries without growing (no rehash, no fresh
  // memory on the miss path until then).
  void reserve(size_t n) { slots_.fit(n, kFirstCapacity); }

 private:
  static constexpr size_t kFirstCapacity = 64;
  struct Slot {
    uint64_t hash = 0;
    V v{};
    bool used = false;
  };

  ProbeSlots<Slot> slots_;
  size_t n_ = 0;
};

class UkeyTable {
 public:
  UkeyTable() {
    ukey_pool_reserve(kUkeyPrefault);
    by_hash_.reserve(kUkeyPrefault);
    by_ufid_.reserve(kUkeyPrefault);
    list_.reserve(kUkeyPrefault);
  }
  ~UkeyTable() { clear(); }
  UkeyTable(const UkeyTable&) = delete;
  UkeyTable& operator=(const UkeyTable&) = delete;

  // Exact lookup by masked key + mask on a PMD.
  Ukey* find(uint16_t pmd, const datapath::FlowKey& masked, const datapath::FlowMask& mask) const;
  // The ukey of `pmd` whose megaflow matches the unmasked key, if any
  // (null also when more than kMaxCoverMasks masks are in use).
  Ukey* find_covering(uint16_t pmd, const datapath::FlowKey& key) const;
  Ukey* find_ufid(uint64_t ufid) const;

  // Takes u (ufid, pmd, key, masked, mask set; hash computed here) and
  // indexes it with the dependencies of r (rules, visits, macs, groups,
  // controller events are moved into it).
  Ukey* insert(std::unique_ptr<Ukey> u, XlateResult&& r);
  // Replaces u's dependencies with r's (after a re-translation).
  void set_deps(Ukey* u, XlateResult&& r);
  void erase(Ukey* u);
  void clear();

  // Visits every ukey that recorded dependency `dep`. fn must not erase.
  void for_dep(uint64_t dep, const std::function<void(Ukey*)>& fn) const;
  size_t size() const { return list_.size(); }
  Ukey* at(size_t i) const { return list_[i]; }
  size_t n_masks() const { return masks_.size() - free_masks_.size(); }

 private:
  struct MaskSlot {
    datapath::FlowMask mask{};
    uint64_t hash = 0;
    uint32_t refs = 0;
  };
  void index_deps(Ukey* u, const XlateResult& r);
  void unindex_deps(Ukey* u);
  // *pos: m's index in live_masks_ when found there (UINT32_MAX otherwise).
  uint32_t ref_mask(const datapath::FlowMask& m, uint32_t* pos);
  void unref_mask(uint32_t slot);

  // The ukeys that recorded one dependency key (swap-remove; each ukey's
  // DepRef::pos is its index here).
  struct DepList {
    uint64_t dep = 0;
    std::vector<Ukey*> ukeys;
  };

  FlatIndex<Ukey*> by_ufid_;      // hash = ufid (mixed by FlatIndex)
  FlatIndex<Ukey*> by_hash_;      // hash = Ukey::hash
  FlatIndex<uint32_t> by_dep_;    // dependency key -> index into dep_lists_
  std::vector<DepList> dep_lists_;
  std::vector<uint32_t> free_dep_lists_;
  std::vector<uint64_t> dep_scratch_;
  std::vector<Ukey*> list_;       // owns the ukeys
  std::vector<MaskSlot> masks_;
  std::vector<uint32_t> free_masks_;
  std::unordered_map<uint64_t, uint32_t> mask_by_hash_;
  std::vector<uint32_t> live_masks_;  // slots with refs > 0, probe order
  uint64_t masks_gen_ = 0;            // bumped whenever live_masks_ changes
  // The last find_covering() that found nothing: its key, PMD and the ukey
  // hash it computed under each live mask (live_masks_ order), so that
  // insert() of the megaflow translated for that miss does not hash the
  // 128-byte key again. Valid while gen == masks_gen_.
  struct Probe {
    datapath::FlowKey key{};
    uint64_t gen = ~uint64_t{0};
    uint64_t hash[kMaxCoverMasks] = {};
    uint32_t n = 0;
    uint16_t pmd = 0;
  };
  mutable Probe probe_;
};

}  // namespace dps::ofproto
