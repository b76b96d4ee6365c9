// probe_slots.h - the slot array of an open-addressing hash index.
//
// What: ProbeSlots<Slot> stores slots that carry their own well-mixed 64-bit
// hash (`Slot::hash`) and an in-use flag (`Slot::used`), and does the
// probing: find by hash and predicate, place, erase, grow. The classifier's
// subtables (flow_table.h) and the ukey indexes (FlatIndex, ukey.h) are
// built on it; what a slot holds besides its hash is theirs.
// alloc_index() is the other half such indexes share: the index of a free
// element of a vector, reused from a free list before the vector grows.
//
// Design: power-of-two capacity, Fibonacci-hashed home slot, linear
// probing, backward-shift deletion (no tombstones, so a miss stops at the
// first free slot). The owner keeps the load at most one half by calling
// fit() before place(). Equal hashes may repeat; find() returns the first
// slot whose predicate holds. Everything is inline: lookups compile to the
// same loop the owners had before they shared it.
//
// Thread-safety: none; owned by one thread, like its owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dps::ofproto {

template <typename Slot>
class ProbeSlots {
 public:
  bool empty() const { return slots_.empty(); }
  size_t capacity() const { return slots_.size(); }

  // The first used slot with hash h for which pred(slot), else null.
  template <typename Pred>
  const Slot* find(uint64_t h, Pred&& pred) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(h);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.hash == h && pred(s)) return &s;
    }
  }
  template <typename Pred>
  Slot* find(uint64_t h, Pred&& pred) {
    return const_cast<Slot*>(static_cast<const ProbeSlots*>(this)->find(h, pred));
  }

  // Grows (doubling, from first_cap) until n entries fit at most half full.
  void fit(size_t n, size_t first_cap) {
    while (2 * n > slots_.size()) grow(first_cap);
  }
  // Stores s (s.used set) in the first free slot of its probe sequence;
  // fit() must have made room. Pointers to slots stay valid until a grow.
  Slot* place(const Slot& s) {
    size_t i = home(s.hash);
    while (slots_[i].used) i = (i + 1) & mask_;
    slots_[i] = s;
    return &slots_[i];
  }
  // Frees slot s. Backward shift: pulls later slots of the cluster into the
  // hole when their home is not between the hole and their slot.
  void erase(Slot* s) {
    size_t i = static_cast<size_t>(s - slots_.data());
    for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (!slots_[j].used) break;
      size_t k = home(slots_[j].hash);
      if (((j - k) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
  }
  void clear() {
    slots_.clear();
    mask_ = 0;
    shift_ = 64;
  }

 private:
  size_t home(uint64_t h) const { return (h * 0x9e3779b97f4a7c15ull) >> shift_; }
  void grow(size_t first_cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    size_t cap = old.empty() ? first_cap : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    for (const Slot& s : old)
      if (s.used) place(s);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  unsigned shift_ = 64;
};

// An index into v for a new element: the last of free_list (popped), else
// a default-constructed element appended to v.
template <typename T>
uint32_t alloc_index(std::vector<T>& v, std::vector<uint32_t>& free_list) {
  if (!free_list.empty()) {
    uint32_t i = free_list.back();
    free_list.pop_back();
    return i;
  }
  v.emplace_back();
  return static_cast<uint32_t>(v.size() - 1);
}

}  // namespace dps::ofproto
