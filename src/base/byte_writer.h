// byte_writer.h - big-endian (network order) serialisation into a byte vector.
//
// What: ByteWriter appends integers in network byte order, raw bytes and
//   XDR padding to a std::vector<uint8_t>, and patches a length field once
//   the bytes it covers are written. The export encoders (sFlow,
//   IPFIX, NetFlow v5) and the OpenFlow codec write through it.
// Design: a thin wrapper over one vector the caller owns; positions are
//   offsets (never pointers), so patching stays valid when the vector grows.
//   The OpenFlow codec's Writer (ofproto/wire/of_codec_io.h) extends it with
//   fixed-width strings and checked length patches.
// Thread-safety: none; one writer per vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dps {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  // Zero bytes up to the next multiple of 4 (XDR opaque padding).
  void pad4() { zeros((4 - out_.size() % 4) % 4); }

  // Overwrites an already written field at offset `at`.
  void put_u16_at(size_t at, uint16_t v) {
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  void put_u32_at(size_t at, uint32_t v) {
    put_u16_at(at, static_cast<uint16_t>(v >> 16));
    put_u16_at(at + 2, static_cast<uint16_t>(v));
  }

 protected:
  std::vector<uint8_t>& out_;
};

}  // namespace dps
