// mac_learning.h - the VLAN-aware MAC learning table behind OFPP_NORMAL.
//
// What: a table (MAC, VLAN) -> port, learned from the source address of
// packets that reach NORMAL, aged out after an idle time (300 s by default,
// as Open vSwitch), bounded in size with least-recently-learned eviction,
// with per-VLAN flooding policy ("flood VLANs": never learn, always flood),
// and a change log plus generation numbers that tell the revalidator which
// entries changed, so megaflows that forwarded to an old port (or flooded
// because a MAC was unknown) are re-translated. dump() feeds `fdb/show`.
//
// Design: why learning is kept apart from forwarding. The PMDs never look
// at this table: they forward by megaflows, which already carry the
// decision ("dl_dst=M,vlan=V -> output:P") made by xlate on the ofproto
// thread. Learning is a side effect of translating a packet; forwarding
// is a read of the table by that same translation (as VPP splits
// l2_learn.c from l2_fwd.c, and OVS splits mac-learning.c from
// ofproto-dpif-xlate.c). Keeping them apart means (1) one writer, no
// locks: only the ofproto thread touches it; (2) a learn that changes the
// table is a *change event* the revalidator consumes to fix the megaflows
// that depended on the old state (a MAC move, a MAC newly learned that was
// flooded before, an expiry) - the data path itself never has to know;
// (3) the megaflow's mask records exactly what the decision read (dl_dst,
// vlan, and dl_src/in_port only when learning must happen again), which is
// xlate's business, not this table's.
//  - Storage: hash map from (MAC, VLAN) to a node in an LRU list ordered by
//    last learn; refreshing an entry moves it to the back; eviction and
//    expiry take from the front. Lookups do not reorder (as OVS).
//  - Generations: generation() increases on every change (learn of a new
//    entry, move, expiry, eviction, flush); each entry carries the
//    generation at which it last changed (its tag). take_changes() returns
//    and clears the change log; if the log overflowed, `overflow` is set and
//    the revalidator must revalidate everything that used NORMAL.
//  - Time is injected: every call takes now_ms.
//
// Thread-safety: owned by the ofproto thread; not shared with PMDs.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace dps::ofproto {

using MacAddr = std::array<uint8_t, 6>;

// Open vSwitch's defaults: entries idle for 300 s go; 8192 entries per bridge.
inline constexpr int64_t kMacDefaultIdleMs = 300'000;
inline constexpr size_t kMacDefaultMaxEntries = 8192;
// Changes kept for the revalidator between two take_changes(); beyond this
// it revalidates everything instead (bounded memory under a MAC storm).
inline constexpr size_t kMacMaxChangeLog = 4096;

inline bool mac_is_multicast(const MacAddr& m) { return m[0] & 1; }
std::string mac_to_string(const MacAddr& m);

struct MacEntry {
  MacAddr mac{};
  uint16_t vlan = 0;
  uint32_t port = 0;     // OpenFlow port number
  int64_t learned_ms = 0;  // last time learning confirmed it
  uint64_t tag = 0;      // generation of its last change
};

enum class MacChangeKind : uint8_t {
  kLearned,   // new entry (destination was unknown: flooded flows are stale)
  kMoved,     // port changed (flows to old_port are stale)
  kExpired,   // aged out
  kEvicted,   // pushed out by the size limit
  kFlushed,   // removed by flush / flush_port
};

struct MacChange {
  MacChangeKind kind;
  MacAddr mac;
  uint16_t vlan;
  uint32_t old_port;  // 0 for kLearned
  uint32_t new_port;  // 0 for removals
};

enum class LearnResult : uint8_t {
  kNotLearned,  // multicast source, or a flood VLAN
  kNew,
  kRefreshed,   // same port: only the age changed
  kMoved,       // seen on a different port
};

class MacLearning {
 public:
  explicit MacLearning(int64_t idle_ms = kMacDefaultIdleMs, size_t max_entries = kMacDefaultMaxEntries)
      : idle_ms_(idle_ms), max_entries_(max_entries) {}

  // Learns that `mac` on `vlan` is behind `port`.
  LearnResult learn(const MacAddr& mac, uint16_t vlan, uint32_t port, int64_t now_ms);
  // Port of (mac, vlan) if known and not aged out at now_ms.
  std::optional<uint32_t> lookup(const MacAddr& mac, uint16_t vlan, int64_t now_ms) const;
  const MacEntry* find(const MacAddr& mac, uint16_t vlan) const;
  // False for multicast sources and flood VLANs.
  bool may_learn(const MacAddr& src, uint16_t vlan) const {
    return !mac_is_multicast(src) && !is_flood_vlan(vlan);
  }

  // Removes entries idle for idle_ms or more; returns how many.
  size_t expire(int64_t now_ms);
  void flush();
  // Removes every entry on port (port deleted or link down).
  void flush_port(uint32_t port);

  void set_idle_ms(int64_t idle_ms) { idle_ms_ = idle_ms; }
  int64_t idle_ms() const { return idle_ms_; }
  // Shrinking evicts the least recently learned entries at once.
  void set_max_entries(size_t n);
  size_t max_entries() const { return max_entries_; }
  // VLANs that never learn and always flood; setting them flushes their entries.
  void set_flood_vlans(std::set<uint16_t> vlans);
  bool is_flood_vlan(uint16_t vlan) const { return flood_vlans_.count(vlan) != 0; }

  uint64_t generation() const { return generation_; }
  // The changes since the last call, oldest first. *overflow (if given) is
  // set when some were dropped (then revalidate all NORMAL flows).
  std::vector<MacChange> take_changes(bool* overflow = nullptr);

  size_t size() const { return index_.size(); }
  // Entries sorted by port, VLAN, MAC (fdb/show order).
  std::vector<MacEntry> dump() const;
  // "port  VLAN  MAC                Age" table like ovs-appctl fdb/show.
  std::string format_fdb(int64_t now_ms) const;

  // Statistics (fdb/stats-show).
  uint64_t n_learned() const { return n_learned_; }
  uint64_t n_moved() const { return n_moved_; }
  uint64_t n_expired() const { return n_expired_; }
  uint64_t n_evicted() const { return n_evicted_; }

 private:
  using Lru = std::list<MacEntry>;
  static uint64_t key_of(const MacAddr& mac, uint16_t vlan);
  void log(MacChange c);
  void erase(Lru::iterator it, MacChangeKind why);

  int64_t idle_ms_;
  size_t max_entries_;
  std::set<uint16_t> flood_vlans_;
  Lru lru_;  // front = least recently learned
  std::unordered_map<uint64_t, Lru::iterator> index_;
  uint64_t generation_ = 0;
  std::vector<MacChange> changes_;
  bool overflow_ = false;
  uint64_t n_learned_ = 0, n_moved_ = 0, n_expired_ = 0, n_evicted_ = 0;
};

}  // namespace dps::ofproto
