// of_codec_io.h - the codec's own toolbox, shared by its three files and
// used nowhere else: the bounds-checked Reader and the Writer, wire layouts
// described once for both directions, length-prefixed element framing, and
// the sub-codecs one file of the codec calls in another.
//
// What:
//  - Reader / Writer: big-endian access over a span / a growing Bytes.
//  - layout(io, v): the fields of a fixed part of a wire structure, in wire
//    order, written once per structure. With io = Get it reads them, with
//    io = Put it writes them, so an encoder and its decoder cannot drift
//    apart. read_layout<T>() / write_layout() run one.
//  - ElementRule / next_element(): actions, instructions, buckets, bands,
//    table features and variable-size stats entries all start with a 16-bit
//    length that is checked the same way (minimum, multiple of 8, within what
//    is left); a rule names the element and the OpenFlow error to answer.
//  - The sub-codecs: match/actions/instructions/buckets/bands
//    (of_codec_parts.cc) and multipart bodies (of_codec_multipart.cc), used
//    by the message codec (of_codec.cc).
//
// Design: everything inline or declared here lives in namespace
// dps::ofproto::wire; nothing here allocates beyond what the decoded values
// hold. Errors carry the element name and byte offset ("... at byte 24").
//
// Thread-safety: pure functions; Reader and Writer are stack values.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "byte_writer.h"
#include "of_error.h"
#include "of_messages.h"

namespace dps::ofproto::wire {

// ---- wire constants ----------------------------------------------------------

inline constexpr uint16_t kOfpmtOxm = 1;                // OFPMT_OXM
inline constexpr uint16_t kHelloElemVersionBitmap = 1;  // OFPHET_VERSIONBITMAP
inline constexpr size_t kActionHeaderLen = 8;
inline constexpr size_t kFlowModFixedLen = 40;     // ofp_flow_mod minus header and match
inline constexpr size_t kFlowStatsFixedLen = 48;   // ofp_flow_stats minus match
inline constexpr size_t kPortLen = 64;             // sizeof(ofp_port)
inline constexpr size_t kPortStatsLen = 112;       // sizeof(ofp_port_stats)
inline constexpr size_t kQueueStatsLen = 40;       // sizeof(ofp_queue_stats)
inline constexpr size_t kTableStatsLen = 24;       // sizeof(ofp_table_stats)
inline constexpr size_t kGroupStatsFixedLen = 40;  // ofp_group_stats minus bucket counters
inline constexpr size_t kBucketCounterLen = 16;
inline constexpr size_t kBucketFixedLen = 16;      // ofp_bucket minus actions
inline constexpr size_t kGroupDescFixedLen = 8;
inline constexpr size_t kMeterStatsFixedLen = 40;
inline constexpr size_t kMeterBandStatsLen = 16;
inline constexpr size_t kMeterConfigFixedLen = 8;
inline constexpr size_t kMeterBandLen = 16;
inline constexpr size_t kTableFeaturesFixedLen = 64;
inline constexpr size_t kDescLen = 4 * kDescStrLen + kSerialNumLen;  // 1056
inline constexpr size_t kMultipartHeaderLen = 16;  // ofp_header + type, flags, pad

inline size_t pad8(size_t n) { return (n + 7) & ~size_t{7}; }

// ---- errors ------------------------------------------------------------------

template <typename Code>
OfError err(OfErrorType t, Code c, std::string msg) {
  return OfError::make(t, c, std::move(msg));
}
inline OfError bad_len(std::string msg) {
  return err(OfErrorType::kBadRequest, BadRequestCode::kBadLen, std::move(msg));
}
inline std::string at(size_t off) { return " at byte " + std::to_string(off); }

#define OF_TRY(expr)                       \
  do {                                     \
    if (MaybeError e_ = (expr)) return e_; \
  } while (0)

// ---- reading -----------------------------------------------------------------

// Bounds-checked big-endian reader over a span. Every read is preceded by a
// length check of the structure it belongs to; the reads themselves also
// check and return zeros past the end (defence in depth: a missing check is
// a wrong value, never an out-of-bounds read). The integer reads are
// forced inline: the flow-mod decoder is made of them.
class Reader {
 public:
  Reader() = default;
  Reader(std::span<const uint8_t> b, size_t base, const TunMetadataLayout* tlv = nullptr)
      : b_(b), base_(base), tlv_(tlv) {}

  // The TLV table the matches and set_fields of this message are decoded
  // against (sub-readers inherit it); null = none: tun_metadata fields are
  // placed as they come, the way ovs-ofctl decodes a switch's replies.
  const TunMetadataLayout* tlv() const { return tlv_; }

  size_t left() const { return b_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }  // absolute, in the message
  bool empty() const { return left() == 0; }

  uint8_t u8() {
    if (left() < 1) return pos_ = b_.size(), 0;
    return b_[pos_++];
  }
  [[gnu::always_inline]] uint16_t u16() {
    if (left() < 2) return pos_ = b_.size(), 0;
    uint16_t v = static_cast<uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  [[gnu::always_inline]] uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  [[gnu::always_inline]] uint64_t u64() {
    uint64_t hi = u32();
    return hi << 32 | u32();
  }
  void skip(size_t n) { pos_ += std::min(n, left()); }
  std::span<const uint8_t> bytes(size_t n) {
    n = std::min(n, left());
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  Bytes rest() {
    auto s = bytes(left());
    return Bytes(s.begin(), s.end());
  }
  // A reader over the next n bytes (n <= left() checked by the caller).
  Reader sub(size_t n) {
    n = std::min(n, left());
    Reader r(b_.subspan(pos_, n), offset(), tlv_);
    pos_ += n;
    return r;
  }
  uint16_t peek16(size_t at) const {
    if (left() < at + 2) return 0;
    return static_cast<uint16_t>(b_[pos_ + at] << 8 | b_[pos_ + at + 1]);
  }
  // A NUL-terminated string in a field of n bytes. The last byte always
  // counts as the terminator, so what decodes is what encode() can write.
  std::string str(size_t n) {
    auto s = bytes(n);
    size_t len = 0;
    while (len + 1 < s.size() && s[len]) len++;
    return std::string(reinterpret_cast<const char*>(s.data()), len);
  }

 private:
  std::span<const uint8_t> b_;
  size_t base_ = 0;
  size_t pos_ = 0;
  const TunMetadataLayout* tlv_ = nullptr;
};

// ---- writing -----------------------------------------------------------------

// The OpenFlow codec's writer: base's big-endian ByteWriter plus what
// OpenFlow structures need (NUL-padded fixed-width strings, 8-byte
// alignment, 16-bit length patches that refuse to overflow).
class Writer : public ByteWriter {
 public:
  explicit Writer(Bytes* out) : ByteWriter(*out) {}
  void pad_to8(size_t start) { zeros(pad8(size() - start) - (size() - start)); }
  void str(const std::string& s, size_t field) {
    size_t n = std::min(s.size(), field - 1);  // always NUL-terminated
    out_.insert(out_.end(), s.begin(), s.begin() + static_cast<ptrdiff_t>(n));
    zeros(field - n);
  }
  // Writes a 16-bit length at `at`, checking it fits.
  void patch16(size_t at, size_t v, const char* what) {
    if (v > 0xffff) throw std::length_error(std::string(what) + " longer than 65535 bytes");
    put_u16_at(at, static_cast<uint16_t>(v));
  }
};

// ---- variants ------------------------------------------------------------------

// The index of T among the alternatives of std::variant V.
template <class T, class V>
inline constexpr size_t kIndexIn = static_cast<size_t>(-1);
template <class T, class... Ts>
inline constexpr size_t kIndexIn<T, std::variant<Ts...>> = [] {
  constexpr bool kMatch[] = {std::is_same_v<T, Ts>...};
  size_t i = 0;
  while (i < sizeof...(Ts) && !kMatch[i]) i++;
  return i;
}();

// ---- layouts: one description, both directions -------------------------------

// A layout is an overload of
//     constexpr void layout(auto& io, Is<T> auto& v) { io(v.a); io.pad(2); io(v.b); }
// naming T's wire fields in order. io(x) reads or writes x by its type:
// unsigned integers by their width, enums as their underlying type,
// std::array element by element, a structure by its own layout(); io.pad(n)
// skips or zero-fills n bytes, io.str(s, n) is a NUL-padded text field of n
// bytes, io.rest(bytes) all that is left of the message. Layouts live in
// namespace wire (not an unnamed one): the walkers below find them by
// argument-dependent lookup.
template <class T, class U>
concept Is = std::is_same_v<std::remove_const_t<T>, U>;
template <class T, class... U>
concept IsAny = (Is<T, U> || ...);

template <class T>
inline constexpr bool kIsStdArray = false;
template <class T, size_t N>
inline constexpr bool kIsStdArray<std::array<T, N>> = true;

// An empty structure (a header-only message, an action without argument)
// has nothing on the wire.
template <class IO, class T>
  requires std::is_empty_v<std::remove_const_t<T>>
constexpr void layout(IO&, T&) {}

// Walks the fields of a layout; Self reads (T non-const) or writes (T
// const) each unsigned integer with scalar().
template <class Self>
class LayoutWalker {
 public:
  template <class T>
  constexpr void operator()(T& v) {
    using U = std::remove_const_t<T>;
    if constexpr (std::is_enum_v<U>) {
      auto u = static_cast<std::underlying_type_t<U>>(v);
      (*this)(u);
      if constexpr (!std::is_const_v<T>) v = static_cast<U>(u);
    } else if constexpr (kIsStdArray<U>) {
      for (auto& e : v) (*this)(e);
    } else if constexpr (std::is_class_v<U>) {
      layout(static_cast<Self&>(*this), v);
    } else {
      static_assert(std::is_unsigned_v<U>);
      static_cast<Self&>(*this).scalar(v);
    }
  }
};

class Get : public LayoutWalker<Get> {
 public:
  explicit Get(Reader& r) : r_(r) {}
  template <class T>
  void scalar(T& v) {
    if constexpr (sizeof(T) == 1) v = r_.u8();
    else if constexpr (sizeof(T) == 2) v = r_.u16();
    else if constexpr (sizeof(T) == 4) v = r_.u32();
    else v = r_.u64();
  }
  void pad(size_t n) { r_.skip(n); }
  void str(std::string& s, size_t field) { s = r_.str(field); }
  void rest(Bytes& b) { b = r_.rest(); }

 private:
  Reader& r_;
};

class Put : public LayoutWalker<Put> {
 public:
  explicit Put(Writer& w) : w_(w) {}
  template <class T>
  void scalar(T v) {
    if constexpr (sizeof(T) == 1) w_.u8(v);
    else if constexpr (sizeof(T) == 2) w_.u16(v);
    else if constexpr (sizeof(T) == 4) w_.u32(v);
    else w_.u64(v);
  }
  void pad(size_t n) { w_.zeros(n); }
  void str(const std::string& s, size_t field) { w_.str(s, field); }
  void rest(const Bytes& b) { w_.bytes(b); }

 private:
  Writer& w_;
};

// Adds up the bytes of a layout, at compile time (wire_size below).
class Count : public LayoutWalker<Count> {
 public:
  template <class T>
  constexpr void scalar(const T&) { n += sizeof(T); }
  constexpr void pad(size_t k) { n += k; }
  size_t n = 0;
};

template <class T>
T read_layout(Reader& r) {
  T v;
  Get io(r);
  io(v);
  return v;
}
template <class T>
void write_layout(Writer& w, const T& v) {
  Put io(w);
  io(v);
}

// The bytes a layout covers. Computed at compile time; given where a text
// field (std::string) keeps the compilers from doing that.
template <class T>
inline constexpr size_t wire_size = [] {
  T v{};
  Count c;
  c(v);
  return c.n;
}();
template <>
inline constexpr size_t wire_size<PortDesc> = kPortLen;
template <>
inline constexpr size_t wire_size<DescReply> = kDescLen;

// ofp_port, 64 bytes: in PORT_STATUS and the PORT_DESC reply.
constexpr void layout(auto& io, Is<PortDesc> auto& p) {
  io(p.port_no);
  io.pad(4);
  io(p.hw_addr);
  io.pad(2);
  io.str(p.name, kOfpMaxPortNameLen);
  io(p.config);
  io(p.state);
  io(p.curr);
  io(p.advertised);
  io(p.supported);
  io(p.peer);
  io(p.curr_speed);
  io(p.max_speed);
}

// ---- length-prefixed elements ------------------------------------------------

// How one kind of length-prefixed element is framed and what a bad length
// answers. The 16-bit length is at len_at; it must be at least min_len, a
// multiple of 8 and within what is left (exactly min_len when exact).
// Typed elements have a 16-bit type at 0 that the error names ("action type
// 3 length 12 is invalid ...", "action header truncated ...").
struct ElementRule {
  const char* what;
  size_t min_len;
  size_t len_at;
  bool typed;
  bool exact;
  OfErrorType error;
  uint16_t code;
};

template <class Code>
constexpr ElementRule element_rule(const char* what, size_t min_len, size_t len_at, bool typed,
                                   bool exact, OfErrorType error, Code code) {
  return {what, min_len, len_at, typed, exact, error, static_cast<uint16_t>(code)};
}

// The error for the element at the front of r, whose length is bad.
OfError element_error(const Reader& r, const ElementRule& rule);

// Splits the next element off r into *elem (a reader over exactly the
// element, offsets absolute), or the error for a bad length. Inline: it runs
// once per action on the flow-mod path, with a constant rule.
inline MaybeError next_element(Reader& r, const ElementRule& rule, Reader* elem) {
  if (r.left() >= rule.min_len) {
    const uint16_t len = r.peek16(rule.len_at);
    if (rule.exact ? len == rule.min_len
                   : len >= rule.min_len && len % 8 == 0 && len <= r.left()) {
      *elem = r.sub(len);
      return std::nullopt;
    }
  }
  return element_error(r, rule);
}

// Writes one element: body() writes it with a placeholder where its length
// goes, which is then patched (std::length_error past 65535 bytes).
template <class Fn>
void write_element(Writer& w, const ElementRule& rule, Fn&& body) {
  const size_t start = w.size();
  body();
  w.patch16(start + rule.len_at, w.size() - start, rule.what);
}

// Calls one(element_reader) for every element of r.
template <class Fn>
MaybeError for_each_element(Reader& r, const ElementRule& rule, Fn&& one) {
  while (!r.empty()) {
    Reader e;
    OF_TRY(next_element(r, rule, &e));
    OF_TRY(one(e));
  }
  return std::nullopt;
}

// ---- sub-codecs (of_codec_parts.cc) ------------------------------------------

MaybeError decode_match_at(Reader& r, OfMatch* out);
void encode_match_w(const OfMatch& m, Writer& w);
MaybeError decode_actions_at(Reader& r, ActionList* out);
void encode_action_list(const ActionList& actions, Writer& w);
MaybeError decode_instructions_at(Reader& r, Instructions* out);
void encode_instructions_w(const Instructions& in, Writer& w);
MaybeError decode_buckets(Reader& r, std::vector<GroupBucket>* out);
void encode_buckets(const std::vector<GroupBucket>& buckets, Writer& w);
MaybeError decode_bands(Reader& r, std::vector<MeterBand>* out);
void encode_bands(const std::vector<MeterBand>& bands, Writer& w);

// ---- multipart bodies (of_codec_multipart.cc) --------------------------------

// The body after the multipart header; type is the header's ofp_multipart_type.
MaybeError decode_multipart(uint16_t type, Reader& r, MultipartRequestBody* out);
MaybeError decode_multipart(uint16_t type, Reader& r, MultipartReplyBody* out);
void encode_multipart(const MultipartRequestBody& body, Writer& w);
void encode_multipart(const MultipartReplyBody& body, Writer& w);

}  // namespace dps::ofproto::wire
