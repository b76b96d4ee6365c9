// unaligned.h - loads and stores of 16/32/64-bit values at any address.
//
// What: load16/32/64 read, store16/32 write a value in memory (host) byte
//   order at a byte pointer with no alignment promise: packet header
//   fields, which sit wherever the frame's offsets put them. load_be16/32
//   and store_be16 do the same in network byte order, giving host values.
// Design: memcpy of the value's size, which the compiler turns into one
//   plain load or store on x86 (no UB from a misaligned cast).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>

namespace dps::base {

inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint16_t load_be16(const uint8_t* p) { return __builtin_bswap16(load16(p)); }
inline uint32_t load_be32(const uint8_t* p) { return __builtin_bswap32(load32(p)); }
inline void store_be16(uint8_t* p, uint16_t v) { store16(p, __builtin_bswap16(v)); }

}  // namespace dps::base
