// prefix_trie.h - a binary trie of IPv4 prefixes, for the OpenFlow
// classifier's prefix tracking (Open vSwitch's classifier "prefixes").
//
// What: PrefixTrie stores (address, length 1..32) prefixes with reference
// counts (one per rule whose match has that prefix on the field). lookup()
// walks an address and answers two things: which prefix lengths have a
// stored prefix equal to the address's leading bits, and how many leading
// bits of the address the walk looked at. FlowTable uses it to skip a
// subtable whose prefix length cannot match, un-wildcarding only the bits
// the walk examined instead of the subtable's whole mask - so 16 rules of
// 16 different nw_dst prefix lengths give about 16 megaflows, not one per
// destination.
//
// Design: one node per prefix bit (child indices into a vector, a free
// list for reuse, a count of prefixes ending at the node and a count of
// prefixes passing through it, so removal prunes empty branches). Correctness
// of the skip: the walk branches only on the examined bits, so every address
// that agrees on them walks the same path, stops at the same node and gets
// the same set of lengths.
//
// Thread-safety: owned by one FlowTable on the ofproto thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dps::ofproto {

class PrefixTrie {
 public:
  PrefixTrie();
  // addr in host order; only its leading plen bits count. 1 <= plen <= 32.
  void insert(uint32_t addr, unsigned plen);
  // Removes one reference; returns false if the prefix was not stored.
  bool remove(uint32_t addr, unsigned plen);
  // Bit L (1..32) set: a stored prefix of length L equals addr's first L
  // bits. *examined = leading bits of addr the answer depends on (1..32).
  uint64_t lookup(uint32_t addr, unsigned* examined) const;
  size_t n_prefixes() const { return n_prefixes_; }
  bool empty() const { return n_prefixes_ == 0; }

 private:
  struct Node {
    uint32_t child[2] = {0, 0};  // 0 = none (node 0 is the root)
    uint32_t ends = 0;           // prefixes ending here
    uint32_t below = 0;          // prefixes ending here or deeper
  };
  uint32_t new_node();

  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
  size_t n_prefixes_ = 0;
};

// The host-order mask of the leading n bits of an IPv4 address (0 <= n <= 32).
inline uint32_t ipv4_prefix_mask_host(unsigned n) { return n == 0 ? 0 : ~uint32_t{0} << (32 - n); }

}  // namespace dps::ofproto
