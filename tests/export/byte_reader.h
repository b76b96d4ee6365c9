// byte_reader.h - big-endian reads at offsets, for the encoder tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dps::test {

struct Bytes {
  const std::vector<uint8_t>& d;
  uint8_t u8(size_t at) const { return d.at(at); }
  uint16_t u16(size_t at) const { return static_cast<uint16_t>(d.at(at) << 8 | d.at(at + 1)); }
  uint32_t u32(size_t at) const { return uint32_t{u16(at)} << 16 | u16(at + 2); }
  uint64_t u64(size_t at) const { return uint64_t{u32(at)} << 32 | u32(at + 4); }
  std::vector<uint8_t> slice(size_t at, size_t n) const {
    return std::vector<uint8_t>(d.begin() + static_cast<long>(at), d.begin() + static_cast<long>(at + n));
  }
};

}  // namespace dps::test
