#include "prefix_trie.h"

namespace dps::ofproto {

PrefixTrie::PrefixTrie() { nodes_.emplace_back(); }

uint32_t PrefixTrie::new_node() {
  if (!free_.empty()) {
    uint32_t i = free_.back();
    free_.pop_back();
    nodes_[i] = Node{};
    return i;
  }
  nodes_.emplace_back();
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void PrefixTrie::insert(uint32_t addr, unsigned plen) {
  uint32_t n = 0;
  nodes_[0].below++;
  for (unsigned d = 0; d < plen; d++) {
    unsigned b = addr >> (31 - d) & 1;
    uint32_t c = nodes_[n].child[b];
    if (!c) {
      c = new_node();  // may reallocate nodes_: index again below
      nodes_[n].child[b] = c;
    }
    n = c;
    nodes_[n].below++;
  }
  nodes_[n].ends++;
  n_prefixes_++;
}

bool PrefixTrie::remove(uint32_t addr, unsigned plen) {
  // Find the path first: nothing changes unless the prefix is stored.
  uint32_t path[33];
  uint32_t n = 0;
  path[0] = 0;
  for (unsigned d = 0; d < plen; d++) {
    n = nodes_[n].child[addr >> (31 - d) & 1];
    if (!n) return false;
    path[d + 1] = n;
  }
  if (nodes_[n].ends == 0) return false;
  nodes_[n].ends--;
  for (unsigned d = 0; d <= plen; d++) nodes_[path[d]].below--;
  // Prune the branch below the deepest node that still holds prefixes.
  for (unsigned d = plen; d >= 1; d--) {
    if (nodes_[path[d]].below) break;
    nodes_[path[d - 1]].child[addr >> (31 - (d - 1)) & 1] = 0;
    free_.push_back(path[d]);
  }
  n_prefixes_--;
  return true;
}

uint64_t PrefixTrie::lookup(uint32_t addr, unsigned* examined) const {
  uint64_t lens = 0;
  uint32_t n = 0;
  for (unsigned d = 0; d < 32; d++) {
    n = nodes_[n].child[addr >> (31 - d) & 1];
    if (!n) {
      *examined = d + 1;  // bits 0..d decided that the walk stops here
      return lens;
    }
    if (nodes_[n].ends) lens |= uint64_t{1} << (d + 1);
  }
  *examined = 32;
  return lens;
}

}  // namespace dps::ofproto
