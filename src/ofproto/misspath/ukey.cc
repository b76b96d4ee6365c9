#include "ukey.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>

#include "huge_mem.h"

namespace dps::ofproto {
namespace {

using datapath::FlowKey;
using datapath::FlowMask;
using datapath::kFlowWords;

inline uint64_t mix(uint64_t h) {
  // splitmix64 finaliser
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

inline uint64_t combine(uint64_t a, uint64_t b) { return mix(a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6))); }

uint64_t mask_hash(const FlowMask& m) {
  uint64_t h = 0x51ed27c0ffee1234ull;
  for (unsigned i = 0; i < kFlowWords; i++) h = combine(h, m.words()[i]);
  return h;
}

bool masked_equal(const FlowKey& a, const FlowKey& b) { return datapath::flow_key_equal(a, b); }

}  // namespace

uint64_t dep_rule(const Rule* r) { return combine(1, reinterpret_cast<uintptr_t>(r)); }
uint64_t dep_group(const Bridge* b, uint32_t group_id) {
  return combine(combine(2, reinterpret_cast<uintptr_t>(b)), group_id);
}
uint64_t dep_table(const Bridge* b, uint8_t table) {
  return combine(combine(3, reinterpret_cast<uintptr_t>(b)), table);
}
uint64_t dep_mac(const Bridge* b, const MacAddr& mac, uint16_t vlan) {
  uint64_t v = 0;
  std::memcpy(&v, mac.data(), 6);
  v |= uint64_t{vlan} << 48;
  return combine(combine(4, reinterpret_cast<uintptr_t>(b)), v);
}
uint64_t dep_bridge(const Bridge* b) { return combine(5, reinterpret_cast<uintptr_t>(b)); }

// ukey_hash with the mask's hash already known (find_covering has it cached).
static uint64_t ukey_hash_with(uint64_t mask_h, uint16_t pmd, const FlowKey& masked,
                               const FlowMask& mask) {
  uint64_t h = combine(mask_h, pmd);
  for (unsigned i = 0; i < kFlowWords; i++)
    if (mask.words()[i]) h = combine(h, masked.words()[i]);
  return h;
}

uint64_t ukey_hash(uint16_t pmd, const FlowKey& masked, const FlowMask& mask) {
  return ukey_hash_with(mask_hash(mask), pmd, masked, mask);
}

uint32_t ControllerEventTable::intern(const ControllerEvent& e) {
  uint64_t h = combine(combine(combine(static_cast<uint64_t>(e.reason), e.table_id), e.cookie), e.max_len);
  auto& ids = by_hash_[h];
  for (uint32_t id : ids) {
    const ControllerEvent& x = events_[id];
    if (x.reason == e.reason && x.table_id == e.table_id && x.cookie == e.cookie &&
        x.max_len == e.max_len && x.use_miss_send_len == e.use_miss_send_len &&
        x.bridge == e.bridge && x.in_port == e.in_port)
      return id;
  }
  if (events_.size() >= kMaxEvents) return kNoEvent;
  uint32_t id = static_cast<uint32_t>(events_.size());
  events_.push_back(e);
  ids.push_back(id);
  return id;
}

void ControllerEventTable::rewrite(datapath::DpActions* actions,
                                   const std::vector<ControllerEvent>& events) {
  // Step over kTnlPush header slots: their bytes are not actions.
  for (unsigned i = 0; i < actions->n; i += datapath::action_slots(actions->acts[i])) {
    datapath::DpAction& a = actions->acts[i];
    if (a.type != datapath::ActType::kUserspace || a.arg32 == kSlowProtocol) continue;
    a.arg32 = a.arg32 < events.size() ? intern(events[a.arg32]) : kNoEvent;
  }
}

// --- Ukey memory and actions ------------------------------------------------------

namespace {

// Slots are whole cache lines (FlowKey is 64-byte aligned, so is a Ukey).
constexpr size_t kUkeySlot = (sizeof(Ukey) + 63) & ~size_t{63};
// One 2 MB huge page per slab: ~3000 ukeys, one page fault.
constexpr size_t kUkeySlabBytes = base::kHugePageSize;
static_assert(alignof(Ukey) <= 64 && kUkeySlabBytes >= kUkeySlot);

// Slabs are never returned (the memory is reused for later ukeys); freed
// slots are linked through their first word. One mutex: the ofproto thread
// is the only user in practice, tests may create ukeys on other threads.
struct UkeyPool {
  std::mutex mu;
  void* free_list = nullptr;
  char* next = nullptr;  // bump allocation in the newest slab
  char* end = nullptr;
  std::vector<char*> spare;  // prefaulted slabs not yet in use
  size_t slabs = 0;          // made so far (in use or spare)
};

constexpr size_t kUkeysPerSlab = kUkeySlabBytes / kUkeySlot;

char* new_slab(bool prefault) {
  auto* slab = static_cast<char*>(base::huge_map(kUkeySlabBytes));
  if (!slab) throw std::bad_alloc();
  if (prefault) base::huge_prefault(slab, kUkeySlabBytes);
  return slab;
}

UkeyPool& ukey_pool() {
  static UkeyPool* pool = new UkeyPool;  // never destroyed: ukeys may outlive statics
  return *pool;
}

}  // namespace

void* Ukey::operator new(size_t size) {
  if (size != sizeof(Ukey)) return ::operator new(size);
  UkeyPool& p = ukey_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (void* s = p.free_list) {
    p.free_list = *static_cast<void**>(s);
    return s;
  }
  if (p.next == p.end) {
    char* slab;
    if (!p.spare.empty()) {
      slab = p.spare.back();
      p.spare.pop_back();
    } else {
      slab = new_slab(false);
      p.slabs++;
    }
    p.next = slab;
    p.end = slab + kUkeysPerSlab * kUkeySlot;
  }
  void* s = p.next;
  p.next += kUkeySlot;
  return s;
}

void Ukey::operator delete(void* ptr, size_t size) {
  if (!ptr) return;
  if (size != sizeof(Ukey)) {
    ::operator delete(ptr);
    return;
  }
  UkeyPool& p = ukey_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  *static_cast<void**>(ptr) = p.free_list;
  p.free_list = ptr;
}

void ukey_pool_reserve(size_t n) {
  UkeyPool& p = ukey_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  while (p.slabs * kUkeysPerSlab < n) {
    p.spare.push_back(new_slab(true));
    p.slabs++;
  }
}

void UkeyActions::assign(const datapath::DpAction* acts, unsigned n) {
  datapath::DpAction* dst = inline_;
  if (n > kUkeyInlineActions) {
    if (!heap_ || n > n_) heap_.reset(new datapath::DpAction[n]);  // >= n entries kept
    dst = heap_.get();
  } else {
    heap_.reset();
  }
  std::copy(acts, acts + n, dst);
  n_ = static_cast<uint8_t>(n);
}

bool UkeyActions::operator==(const datapath::DpActions& o) const {
  return o.n == n_ && datapath::DpActions(*this) == o;  // DpActions ignores padding bytes
}

// --- UkeyTable --------------------------------------------------------------------

Ukey* UkeyTable::find(uint16_t pmd, const FlowKey& masked, const FlowMask& mask) const {
  uint64_t h = ukey_hash(pmd, masked, mask);
  return by_hash_.find(h, nullptr, [&](const Ukey* u) {
    return u->pmd == pmd && masked_equal(u->masked, masked) && masked_equal(u->mask, mask);
  });
}

Ukey* UkeyTable::find_covering(uint16_t pmd, const FlowKey& key) const {
  probe_.gen = ~uint64_t{0};
  if (live_masks_.size() > kMaxCoverMasks) return nullptr;
  for (size_t i = 0; i < live_masks_.size(); i++) {
    const uint32_t slot = live_masks_[i];
    const FlowMask& m = masks_[slot].mask;
    alignas(64) FlowKey masked;
    datapath::flow_key_apply_mask(key, m, &masked);
    uint64_t h = ukey_hash_with(masks_[slot].hash, pmd, masked, m);
    Ukey* u = by_hash_.find(h, nullptr, [&](const Ukey* c) {
      return c->pmd == pmd && masked_equal(c->masked, masked) && masked_equal(c->mask, m);
    });
    if (u) return u;
    probe_.hash[i] = h;
  }
  probe_.key = key;
  probe_.pmd = pmd;
  probe_.n = static_cast<uint32_t>(live_masks_.size());
  probe_.gen = masks_gen_;
  return nullptr;
}

Ukey* UkeyTable::find_ufid(uint64_t ufid) const {
  return by_ufid_.find(ufid, nullptr, [&](const Ukey* u) { return u->ufid == ufid; });
}

uint32_t UkeyTable::ref_mask(const FlowMask& m, uint32_t* pos) {
  *pos = UINT32_MAX;
  // A few masks in use (the usual case): compare them rather than hashing
  // the mask.
  if (live_masks_.size() <= kMaxCoverMasks)
    for (uint32_t i = 0; i < live_masks_.size(); i++) {
      MaskSlot& s = masks_[live_masks_[i]];
      if (masked_equal(s.mask, m)) {
        s.refs++;
        *pos = i;
        return live_masks_[i];
      }
    }
  uint64_t h = mask_hash(m);
  auto it = mask_by_hash_.find(h);
  if (it != mask_by_hash_.end() && masked_equal(masks_[it->second].mask, m)) {
    masks_[it->second].refs++;
    return it->second;
  }
  uint32_t slot = alloc_index(masks_, free_masks_);
  masks_[slot].mask = m;
  masks_[slot].hash = h;
  masks_[slot].refs = 1;
  if (it == mask_by_hash_.end()) mask_by_hash_[h] = slot;  // a colliding mask is just not shared
  live_masks_.push_back(slot);
  masks_gen_++;
  return slot;
}

void UkeyTable::unref_mask(uint32_t slot) {
  MaskSlot& s = masks_[slot];
  if (--s.refs) return;
  auto it = mask_by_hash_.find(s.hash);
  if (it != mask_by_hash_.end() && it->second == slot) mask_by_hash_.erase(it);
  live_masks_.erase(std::find(live_masks_.begin(), live_masks_.end(), slot));
  masks_gen_++;
  free_masks_.push_back(slot);
}

void UkeyTable::index_deps(Ukey* u, const XlateResult& r) {
  std::vector<uint64_t>& d = dep_scratch_;
  d.clear();
  for (const RulePtr& rule : r.rules) d.push_back(dep_rule(rule.get()));
  for (uint32_t g : r.groups) d.push_back(dep_group(nullptr, g));
  for (const TableVisit& v : r.visits) d.push_back(dep_table(v.bridge, v.table));
  for (const MacDep& m : r.macs) d.push_back(dep_mac(m.bridge, m.mac, m.vlan));
  d.insert(d.end(), r.tnl_deps.begin(), r.tnl_deps.end());  // tunnel_context.h tnl_dep_*
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  u->deps.clear();
  u->deps.reserve(d.size());
  for (uint64_t k : d) {
    uint32_t id = by_dep_.find(k, UINT32_MAX, [&](uint32_t l) { return dep_lists_[l].dep == k; });
    if (id == UINT32_MAX) {
      id = alloc_index(dep_lists_, free_dep_lists_);
      dep_lists_[id].dep = k;
      by_dep_.insert(k, id);
    }
    std::vector<Ukey*>& l = dep_lists_[id].ukeys;
    u->deps.push_back(Ukey::DepRef{k, id, static_cast<uint32_t>(l.size())});
    l.push_back(u);
  }
}

void UkeyTable::unindex_deps(Ukey* u) {
  for (const Ukey::DepRef& ref : u->deps) {
    DepList& dl = dep_lists_[ref.list];
    Ukey* last = dl.ukeys.back();
    if (last != u) {
      dl.ukeys[ref.pos] = last;
      for (Ukey::DepRef& lr : last->deps)
        if (lr.list == ref.list) {
          lr.pos = ref.pos;
          break;
        }
    }
    dl.ukeys.pop_back();
    if (dl.ukeys.empty()) {
      by_dep_.erase(dl.dep, ref.list);
      free_dep_lists_.push_back(ref.list);
    }
  }
  u->deps.clear();
}

Ukey* UkeyTable::insert(std::unique_ptr<Ukey> up, XlateResult&& r) {
  Ukey* u = up.release();
  uint32_t pos;
  u->mask_slot = ref_mask(u->mask, &pos);
  // The hash find_covering() computed for this miss under this mask, if it
  // was the last probe (u->masked is u->key & u->mask).
  if (pos != UINT32_MAX && probe_.gen == masks_gen_ && pos < probe_.n && probe_.pmd == u->pmd &&
      datapath::flow_key_equal(probe_.key, u->key))
    u->hash = probe_.hash[pos];
  else
    u->hash = ukey_hash_with(masks_[u->mask_slot].hash, u->pmd, u->masked, u->mask);
  u->list_index = list_.size();
  list_.push_back(u);
  by_hash_.insert(u->hash, u);
  by_ufid_.insert(u->ufid, u);
  set_deps(u, std::move(r));
  return u;
}

void UkeyTable::set_deps(Ukey* u, XlateResult&& r) {
  unindex_deps(u);
  index_deps(u, r);
  u->rules = std::move(r.rules);
  u->visits = std::move(r.visits);
  u->macs = std::move(r.macs);
  u->controller = std::move(r.controller);
  u->mirrors = std::move(r.mirrors);
}

void UkeyTable::erase(Ukey* u) {
  unindex_deps(u);
  unref_mask(u->mask_slot);
  by_hash_.erase(u->hash, u);
  by_ufid_.erase(u->ufid, u);
  Ukey* last = list_.back();
  list_[u->list_index] = last;
  last->list_index = u->list_index;
  list_.pop_back();
  delete u;
}

void UkeyTable::clear() {
  for (Ukey* u : list_) delete u;
  by_hash_.clear();
  by_dep_.clear();
  dep_lists_.clear();
  free_dep_lists_.clear();
  list_.clear();
  masks_.clear();
  free_masks_.clear();
  mask_by_hash_.clear();
  live_masks_.clear();
  masks_gen_++;
  by_ufid_.clear();
}

void UkeyTable::for_dep(uint64_t dep, const std::function<void(Ukey*)>& fn) const {
  uint32_t id = by_dep_.find(dep, UINT32_MAX, [&](uint32_t l) { return dep_lists_[l].dep == dep; });
  if (id == UINT32_MAX) return;
  for (Ukey* u : dep_lists_[id].ukeys) fn(u);
}

}  // namespace dps::ofproto
