// byte_reader.h - big-endian reads at offsets, and wire layouts checked
// field by field, for the encoder tests.
//
// What: Bytes reads 1/2/4/8-byte big-endian words and slices of an encoded
// buffer; check_fields() CHECKs a run of consecutive fields against their
// expected values, one Catch2 assertion per field, each failure naming the
// field's offset.
//   Bytes b{datagram};
//   size_t end = check_fields(b, 24, {U32(0x0a000001), U16(80), U8(6),
//                                     Raw(std::vector<uint8_t>(8, 0))});
// Design: each field's offset is the previous one's plus its width, so a
// layout is written once as the wire has it (no offset arithmetic by hand)
// and the returned end offset checks the record's length.
// Thread-safety: none needed (test code; Bytes only reads).
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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

// One expected field: a big-endian word of `width` bytes (1, 2, 4 or 8)
// equal to `value`, or, when `raw` is not empty, exactly those bytes.
struct Field {
  size_t width;
  uint64_t value;
  std::vector<uint8_t> raw;
};
inline Field U8(uint64_t v) { return {1, v, {}}; }
inline Field U16(uint64_t v) { return {2, v, {}}; }
inline Field U32(uint64_t v) { return {4, v, {}}; }
inline Field U64(uint64_t v) { return {8, v, {}}; }
inline Field Raw(std::vector<uint8_t> bytes) { return {bytes.size(), 0, std::move(bytes)}; }

// CHECKs the fields one after the other from offset `at` (one assertion
// each); returns the offset just past the last one.
inline size_t check_fields(const Bytes& b, size_t at, std::initializer_list<Field> fields) {
  for (const Field& f : fields) {
    INFO("field at offset " << at << " (" << f.width << " bytes)");
    if (!f.raw.empty()) {
      CHECK(b.slice(at, f.width) == f.raw);
    } else {
      uint64_t v = 0;
      for (size_t i = 0; i < f.width; i++) v = v << 8 | b.u8(at + i);
      CHECK(v == f.value);
    }
    at += f.width;
  }
  return at;
}

}  // namespace dps::test
