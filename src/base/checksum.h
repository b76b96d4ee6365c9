// checksum.h - the Internet checksum (RFC 1071) and its incremental update
// (RFC 1624), shared by the datapath's header rewrites and conntrack's NAT.
//
// What: csum_replace*() turn a checksum field's value into the one it must
//   hold after some 16-bit words of the data it covers changed;
//   csum_partial()/csum_finish() compute one from scratch.
// Design: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), on 16-bit words exactly
//   as they lie in memory: the one's-complement sum is byte-order
//   independent, so nothing is byte-swapped and every value here is in
//   memory (network) order. Changed data must start at an even offset of
//   what the checksum covers (every header field the callers rewrite does).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "unaligned.h"

namespace dps::base {

// Folds a 32-bit one's-complement sum and complements it.
inline uint16_t csum_finish(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
inline uint32_t csum_delta32(uint32_t old32, uint32_t new32) {
  const uint32_t o = ~old32;
  return (o & 0xffff) + (o >> 16) + (new32 & 0xffff) + (new32 >> 16);
}
inline uint16_t csum_replace2(uint16_t csum, uint16_t old16, uint16_t new16) {
  return csum_finish(static_cast<uint16_t>(~csum) + static_cast<uint16_t>(~old16) + new16);
}
inline uint16_t csum_replace4(uint16_t csum, uint32_t old32, uint32_t new32) {
  return csum_finish(static_cast<uint16_t>(~csum) + csum_delta32(old32, new32));
}
// n bytes (even) that start at an even offset of the checksummed data.
inline uint16_t csum_replace_bytes(uint16_t csum, const uint8_t* old_bytes, const uint8_t* new_bytes,
                                   unsigned n) {
  uint32_t sum = static_cast<uint16_t>(~csum);
  for (unsigned i = 0; i < n; i += 2)
    sum += static_cast<uint16_t>(~load16(old_bytes + i)) + uint32_t{load16(new_bytes + i)};
  return csum_finish(sum);
}
inline uint16_t csum_replace16(uint16_t csum, const uint8_t* old_addr, const uint8_t* new_addr) {
  uint32_t sum = static_cast<uint16_t>(~csum);
  for (int i = 0; i < 16; i += 4) sum += csum_delta32(load32(old_addr + i), load32(new_addr + i));
  return csum_finish(sum);
}

// The one's-complement sum of n bytes added to sum (not folded, not
// complemented); an odd last byte is padded with zero.
inline uint32_t csum_partial(const uint8_t* p, size_t n, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < n; i += 2) sum += load16(p + i);
  if (i < n) {
    uint8_t last[2] = {p[i], 0};
    sum += load16(last);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

}  // namespace dps::base
