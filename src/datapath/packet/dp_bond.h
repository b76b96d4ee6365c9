// dp_bond.h - bond output in the datapath: a packet's member is chosen on the
// PMD, by hash into a bucket table, with no recirculation.
//
// What: a DpBond is one bond as one PMD outputs to it: how the packet is
// hashed (balance-tcp: its L4 5-tuple, or the NIC's RSS hash when the
// packet carries one; balance-slb: source MAC and VLAN; active-backup: no
// hash, every bucket names the active member), kBondBuckets buckets each
// naming the datapath port of a member (kBondNoMember: drop, counted), and
// a tx packet counter per bucket (what balance-slb rebalancing measures).
// PmdBonds is a PMD's table of them, a fixed array indexed by datapath bond
// id (0..kMaxBonds-1); the ofproto layer allocates the ids. A megaflow
// outputs to a bond with kBondOutput(id): the choice is made per packet at
// action time, so a megaflow never needs the L4 fields for the choice to be
// right, and a changed bucket table (failover, rebalancing) takes effect on
// the next packet without touching any flow (OVS's hash-then-select,
// without its recirculation round trip).
//
// Design: the control thread builds one DpBond per PMD and swaps it in with
// a kBondSet command (the PMD applies it between bursts and hands the old
// one back to be freed: the RCU-style publication of meters); the bucket
// counters carry over into the replacement. Hashes read the headers from
// the mbuf (a few loads), no key is needed.
//
// Thread-safety: a DpBond is built and freed by the control thread; its
// bucket table is immutable once posted; the counters are written by the
// one PMD that holds it (relaxed single-writer) and read by anyone.
// PmdBonds: PMD thread only, no locks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

struct rte_mbuf;

namespace dps::datapath {

inline constexpr uint32_t kMaxBonds = 64;
inline constexpr unsigned kBondBuckets = 256;
inline constexpr uint16_t kBondNoMember = 0xffff;
static_assert(kBondBuckets <= 256, "buckets_of() stores a bucket in a byte");

enum class BondHash : uint8_t {
  kActive,     // active-backup: bucket 0 names the active member
  kL4,         // balance-tcp: L3+L4 5-tuple (or RSS)
  kSrcMacVlan  // balance-slb: source MAC and VLAN
};

// What the control thread asks of a bond: its hash and its buckets.
struct DpBondConfig {
  BondHash hash = BondHash::kActive;
  std::array<uint16_t, kBondBuckets> buckets{};  // datapath port per bucket, kBondNoMember = drop
  bool operator==(const DpBondConfig&) const = default;
};

struct DpBond {
  explicit DpBond(const DpBondConfig& c) : cfg(c) {}
  DpBondConfig cfg;
  std::array<std::atomic<uint64_t>, kBondBuckets> tx{};  // packets per bucket (relaxed)

  // The bucket of a packet under cfg.hash.
  unsigned bucket(const rte_mbuf* m) const;
  // The buckets of n packets into out[0..n): bucket() of each, with one
  // dispatch on cfg.hash per burst and the hash inlined in its loop (the
  // PMD's kBondOutput path).
  void buckets_of(rte_mbuf* const* pkts, unsigned n, uint8_t* out) const;
  void count(unsigned b) { tx[b].store(tx[b].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
};

// balance-tcp: the packet's RSS hash when the NIC gave one, else a hash of
// (IP source, IP destination, protocol, L4 ports), IPv4 or IPv6 behind up
// to two VLAN tags; other frames hash their MAC addresses.
uint32_t bond_hash_l4(const rte_mbuf* m);
// balance-slb: source MAC and the outer VLAN id (0 untagged).
uint32_t bond_hash_src_mac_vlan(const rte_mbuf* m);
// A 32-bit hash to a bucket (the high bits mixed in).
inline unsigned bond_bucket_of(uint32_t h) { return (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & (kBondBuckets - 1); }

class PmdBonds {
 public:
  DpBond* get(uint32_t id) const { return id < kMaxBonds ? bonds_[id] : nullptr; }
  // Installs b (null = remove) and returns the bond it replaces, for the
  // control thread to free. A replaced bond's counters carry over to b.
  DpBond* swap(uint32_t id, DpBond* b);

 private:
  std::array<DpBond*, kMaxBonds> bonds_{};
};

}  // namespace dps::datapath
