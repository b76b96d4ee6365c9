#include "of_codec.h"

#include "overloaded.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace dps::ofproto {

namespace {


// ---- wire constants ----------------------------------------------------------

inline constexpr uint16_t kOfpmtOxm = 1;            // OFPMT_OXM
inline constexpr uint16_t kHelloElemVersionBitmap = 1;  // OFPHET_VERSIONBITMAP
inline constexpr size_t kActionHeaderLen = 8;
inline constexpr size_t kFlowModFixedLen = 40;      // ofp_flow_mod minus header and match
inline constexpr size_t kFlowStatsFixedLen = 48;    // ofp_flow_stats minus match
inline constexpr size_t kPortLen = 64;              // sizeof(ofp_port)
inline constexpr size_t kPortStatsLen = 112;        // sizeof(ofp_port_stats)
inline constexpr size_t kQueueStatsLen = 40;        // sizeof(ofp_queue_stats)
inline constexpr size_t kTableStatsLen = 24;        // sizeof(ofp_table_stats)
inline constexpr size_t kGroupStatsFixedLen = 40;   // ofp_group_stats minus bucket counters
inline constexpr size_t kBucketCounterLen = 16;
inline constexpr size_t kBucketFixedLen = 16;       // ofp_bucket minus actions
inline constexpr size_t kGroupDescFixedLen = 8;
inline constexpr size_t kMeterStatsFixedLen = 40;
inline constexpr size_t kMeterBandStatsLen = 16;
inline constexpr size_t kMeterConfigFixedLen = 8;
inline constexpr size_t kMeterBandLen = 16;
inline constexpr size_t kTableFeaturesFixedLen = 64;
inline constexpr size_t kDescLen = 4 * kDescStrLen + kSerialNumLen;  // 1056
inline constexpr size_t kMultipartHeaderLen = 16;   // ofp_header + type, flags, pad

enum ActionType : uint16_t {
  kAtOutput = 0,
  kAtCopyTtlOut = 11,
  kAtCopyTtlIn = 12,
  kAtSetMplsTtl = 15,
  kAtDecMplsTtl = 16,
  kAtPushVlan = 17,
  kAtPopVlan = 18,
  kAtPushMpls = 19,
  kAtPopMpls = 20,
  kAtSetQueue = 21,
  kAtGroup = 22,
  kAtSetNwTtl = 23,
  kAtDecNwTtl = 24,
  kAtSetField = 25,
  kAtPushPbb = 26,
  kAtPopPbb = 27,
  kAtExperimenter = 0xffff,
};

enum InstructionType : uint16_t {
  kItGotoTable = 1,
  kItWriteMetadata = 2,
  kItWriteActions = 3,
  kItApplyActions = 4,
  kItClearActions = 5,
  kItMeter = 6,
  kItExperimenter = 0xffff,
};

size_t pad8(size_t n) { return (n + 7) & ~size_t{7}; }

// ---- errors ------------------------------------------------------------------

template <typename Code>
OfError err(OfErrorType t, Code c, std::string msg) {
  return OfError::make(t, c, std::move(msg));
}
OfError bad_len(std::string msg) {
  return err(OfErrorType::kBadRequest, BadRequestCode::kBadLen, std::move(msg));
}
std::string at(size_t off) { return " at byte " + std::to_string(off); }

#define OF_TRY(expr)                 \
  do {                               \
    if (MaybeError e_ = (expr)) return e_; \
  } while (0)

// ---- reading -----------------------------------------------------------------

// Bounds-checked big-endian reader over a span. Every read is preceded by a
// length check of the structure it belongs to; the reads themselves also
// check and return zeros past the end (defence in depth: a missing check is
// a wrong value, never an out-of-bounds read).
class Reader {
 public:
  Reader(std::span<const uint8_t> b, size_t base) : b_(b), base_(base) {}

  size_t left() const { return b_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }  // absolute, in the message
  bool empty() const { return left() == 0; }

  uint8_t u8() {
    if (left() < 1) return pos_ = b_.size(), 0;
    return b_[pos_++];
  }
  uint16_t u16() {
    if (left() < 2) return pos_ = b_.size(), 0;
    uint16_t v = static_cast<uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  uint64_t u64() {
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
    Reader r(b_.subspan(pos_, n), offset());
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
  template <size_t N>
  std::array<uint8_t, N> arr() {
    std::array<uint8_t, N> a{};
    auto s = bytes(N);
    std::copy(s.begin(), s.end(), a.begin());
    return a;
  }

 private:
  std::span<const uint8_t> b_;
  size_t base_;
  size_t pos_ = 0;
};

// ---- writing -----------------------------------------------------------------

class Writer {
 public:
  explicit Writer(Bytes* out) : o_(out) {}
  size_t size() const { return o_->size(); }
  void u8(uint8_t v) { o_->push_back(v); }
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
  void zeros(size_t n) { o_->insert(o_->end(), n, 0); }
  void pad_to8(size_t start) { zeros(pad8(size() - start) - (size() - start)); }
  void bytes(std::span<const uint8_t> b) { o_->insert(o_->end(), b.begin(), b.end()); }
  void str(const std::string& s, size_t field) {
    size_t n = std::min(s.size(), field - 1);  // always NUL-terminated
    o_->insert(o_->end(), s.begin(), s.begin() + static_cast<ptrdiff_t>(n));
    zeros(field - n);
  }
  // Writes a 16-bit length at `at`, checking it fits.
  void patch16(size_t at, size_t v, const char* what) {
    if (v > 0xffff) throw std::length_error(std::string(what) + " longer than 65535 bytes");
    (*o_)[at] = static_cast<uint8_t>(v >> 8);
    (*o_)[at + 1] = static_cast<uint8_t>(v);
  }

 private:
  Bytes* o_;
};

// ---- OXM / match ---------------------------------------------------------------

uint32_t oxm_header(OxmField f, bool hasmask, unsigned len) {
  return uint32_t{kOxmClassOpenflowBasic} << 16 | uint32_t{static_cast<uint8_t>(f)} << 9 |
         uint32_t{hasmask} << 8 | len;
}

void put_value(Writer& w, const FieldValue& v, unsigned width) {
  w.bytes(std::span<const uint8_t>(v.bytes.data(), width));
}

MaybeError decode_match_at(Reader& r, OfMatch* out) {
  const size_t start = r.offset();
  if (r.left() < 4) return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
                               "match header truncated" + at(start));
  uint16_t type = r.peek16(0);
  uint16_t len = r.peek16(2);
  if (type != kOfpmtOxm)
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadType,
               "match type " + std::to_string(type) + " is not OFPMT_OXM (1)" + at(start));
  if (len < 4)
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "match length " + std::to_string(len) + " is below 4" + at(start));
  if (pad8(len) > r.left())
    return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
               "match length " + std::to_string(len) + " (padded " + std::to_string(pad8(len)) +
                   ") exceeds the " + std::to_string(r.left()) + " bytes left" + at(start));
  Reader m = r.sub(len);
  r.skip(pad8(len) - len);
  m.skip(4);
  OfMatch match;
  while (!m.empty()) {
    const size_t off = m.offset();
    if (m.left() < 4)
      return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
                 "OXM header truncated (" + std::to_string(m.left()) + " bytes left)" + at(off));
    uint32_t hdr = m.u32();
    uint16_t cls = static_cast<uint16_t>(hdr >> 16);
    unsigned field = (hdr >> 9) & 0x7f;
    bool hasmask = (hdr >> 8) & 1;
    unsigned olen = hdr & 0xff;
    if (olen > m.left())
      return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
                 "OXM length " + std::to_string(olen) + " exceeds the " +
                     std::to_string(m.left()) + " bytes left in the match" + at(off));
    if (cls != kOxmClassOpenflowBasic)
      return err(OfErrorType::kBadMatch, BadMatchCode::kBadField,
                 "OXM class 0x" + [&] {
                   char b[8];
                   std::snprintf(b, sizeof b, "%04x", cls);
                   return std::string(b);
                 }() + " is not supported (only OFPXMC_OPENFLOW_BASIC)" + at(off));
    if (field >= kNumOxmFields)
      return err(OfErrorType::kBadMatch, BadMatchCode::kBadField,
                 "unknown OXM field " + std::to_string(field) + at(off));
    OxmField f = static_cast<OxmField>(field);
    const OxmFieldInfo& fi = oxm_field_info(f);
    if (olen != fi.width * (hasmask ? 2u : 1u))
      return err(OfErrorType::kBadMatch, BadMatchCode::kBadLen,
                 std::string(fi.name) + " OXM length " + std::to_string(olen) + " should be " +
                     std::to_string(fi.width * (hasmask ? 2u : 1u)) + at(off));
    FieldValue value = FieldValue::from_bytes(m.bytes(fi.width).data(), fi.width);
    FieldValue mask;
    if (hasmask) mask = FieldValue::from_bytes(m.bytes(fi.width).data(), fi.width);
    if (MaybeError e = match.set(f, value, hasmask ? &mask : nullptr)) {
      e->message += at(off);
      return e;
    }
  }
  if (MaybeError e = match.check_prerequisites()) return e;
  *out = std::move(match);
  return std::nullopt;
}

// ---- actions -------------------------------------------------------------------

bool valid_output_port(uint32_t port) { return (port >= 1 && port <= kPortMax) || is_reserved_output(port); }

MaybeError decode_actions_at(Reader& r, ActionList* out) {
  ActionList list;
  while (!r.empty()) {
    const size_t off = r.offset();
    auto bad = [&](BadActionCode c, const std::string& m) {
      return err(OfErrorType::kBadAction, c, m + at(off));
    };
    if (r.left() < kActionHeaderLen)
      return bad(BadActionCode::kBadLen,
                 "action header truncated (" + std::to_string(r.left()) + " bytes left)");
    uint16_t type = r.peek16(0);
    uint16_t len = r.peek16(2);
    if (len < kActionHeaderLen || len % 8 != 0 || len > r.left())
      return bad(BadActionCode::kBadLen,
                 "action type " + std::to_string(type) + " length " + std::to_string(len) +
                     " is invalid (must be a multiple of 8, at least 8, within the " +
                     std::to_string(r.left()) + " bytes left)");
    Reader a = r.sub(len);
    a.skip(4);
    auto fixed = [&](size_t want, const char* name) -> MaybeError {
      if (len != want)
        return bad(BadActionCode::kBadLen, std::string(name) + " action length " +
                                               std::to_string(len) + " should be " +
                                               std::to_string(want));
      return std::nullopt;
    };
    switch (type) {
      case kAtOutput: {
        OF_TRY(fixed(16, "output"));
        ActOutput o;
        o.port = a.u32();
        o.max_len = a.u16();
        if (!valid_output_port(o.port))
          return bad(BadActionCode::kBadOutPort,
                     "output to invalid port " + std::to_string(o.port));
        list.push_back(o);
        break;
      }
      case kAtCopyTtlOut: OF_TRY(fixed(8, "copy_ttl_out")); list.push_back(ActCopyTtlOut{}); break;
      case kAtCopyTtlIn: OF_TRY(fixed(8, "copy_ttl_in")); list.push_back(ActCopyTtlIn{}); break;
      case kAtSetMplsTtl:
        OF_TRY(fixed(8, "set_mpls_ttl"));
        list.push_back(ActSetMplsTtl{a.u8()});
        break;
      case kAtDecMplsTtl: OF_TRY(fixed(8, "dec_mpls_ttl")); list.push_back(ActDecMplsTtl{}); break;
      case kAtPushVlan:
        OF_TRY(fixed(8, "push_vlan"));
        list.push_back(ActPushVlan{a.u16()});
        break;
      case kAtPopVlan: OF_TRY(fixed(8, "pop_vlan")); list.push_back(ActPopVlan{}); break;
      case kAtPushMpls:
        OF_TRY(fixed(8, "push_mpls"));
        list.push_back(ActPushMpls{a.u16()});
        break;
      case kAtPopMpls:
        OF_TRY(fixed(8, "pop_mpls"));
        list.push_back(ActPopMpls{a.u16()});
        break;
      case kAtSetQueue:
        OF_TRY(fixed(8, "set_queue"));
        list.push_back(ActSetQueue{a.u32()});
        break;
      case kAtGroup:
        OF_TRY(fixed(8, "group"));
        list.push_back(ActGroup{a.u32()});
        break;
      case kAtSetNwTtl:
        OF_TRY(fixed(8, "set_nw_ttl"));
        list.push_back(ActSetNwTtl{a.u8()});
        break;
      case kAtDecNwTtl: OF_TRY(fixed(8, "dec_nw_ttl")); list.push_back(ActDecNwTtl{}); break;
      case kAtSetField: {
        uint32_t hdr = a.u32();
        uint16_t cls = static_cast<uint16_t>(hdr >> 16);
        unsigned field = (hdr >> 9) & 0x7f;
        bool hasmask = (hdr >> 8) & 1;
        unsigned olen = hdr & 0xff;
        if (cls != kOxmClassOpenflowBasic || field >= kNumOxmFields)
          return bad(BadActionCode::kBadSetType,
                     "set_field of unsupported OXM class " + std::to_string(cls) + " field " +
                         std::to_string(field));
        OxmField f = static_cast<OxmField>(field);
        const OxmFieldInfo& fi = oxm_field_info(f);
        if (hasmask)
          return bad(BadActionCode::kBadSetArgument,
                     std::string("set_field ") + fi.name + " carries a mask");
        if (olen != fi.width)
          return bad(BadActionCode::kBadSetLen, std::string("set_field ") + fi.name +
                                                    " OXM length " + std::to_string(olen) +
                                                    " should be " + std::to_string(fi.width));
        if (len != pad8(8 + olen))
          return bad(BadActionCode::kBadSetLen,
                     std::string("set_field ") + fi.name + " action length " +
                         std::to_string(len) + " should be " + std::to_string(pad8(8 + olen)));
        ActSetField s;
        s.field = f;
        s.value = FieldValue::from_bytes(a.bytes(olen).data(), olen);
        OfMatch probe;  // value range check only
        if (MaybeError e = probe.set(f, s.value))
          return bad(BadActionCode::kBadSetArgument, "set_field: " + e->message);
        list.push_back(s);
        break;
      }
      case kAtExperimenter:
        return bad(BadActionCode::kBadExperimenter,
                   "experimenter action " + std::to_string(a.u32()) + " is not supported");
      default:
        return bad(BadActionCode::kBadType,
                   "action type " + std::to_string(type) +
                       (type == kAtPushPbb || type == kAtPopPbb ? " (PBB) is not supported"
                                                                : " is unknown"));
    }
  }
  *out = std::move(list);
  return std::nullopt;
}

void encode_action(const OfAction& act, Writer& w) {
  auto simple = [&](uint16_t type) {
    w.u16(type);
    w.u16(8);
    w.zeros(4);
  };
  std::visit(
      Overloaded{
          [&](const ActOutput& o) {
            w.u16(kAtOutput);
            w.u16(16);
            w.u32(o.port);
            w.u16(o.max_len);
            w.zeros(6);
          },
          [&](const ActGroup& g) {
            w.u16(kAtGroup);
            w.u16(8);
            w.u32(g.group_id);
          },
          [&](const ActSetField& s) {
            const OxmFieldInfo& fi = oxm_field_info(s.field);
            size_t start = w.size();
            w.u16(kAtSetField);
            w.u16(static_cast<uint16_t>(pad8(8 + fi.width)));
            w.u32(oxm_header(s.field, false, fi.width));
            put_value(w, s.value, fi.width);
            w.pad_to8(start);
          },
          [&](const ActPushVlan& p) {
            w.u16(kAtPushVlan);
            w.u16(8);
            w.u16(p.ethertype);
            w.zeros(2);
          },
          [&](const ActPopVlan&) { simple(kAtPopVlan); },
          [&](const ActPushMpls& p) {
            w.u16(kAtPushMpls);
            w.u16(8);
            w.u16(p.ethertype);
            w.zeros(2);
          },
          [&](const ActPopMpls& p) {
            w.u16(kAtPopMpls);
            w.u16(8);
            w.u16(p.ethertype);
            w.zeros(2);
          },
          [&](const ActSetMplsTtl& t) {
            w.u16(kAtSetMplsTtl);
            w.u16(8);
            w.u8(t.ttl);
            w.zeros(3);
          },
          [&](const ActDecMplsTtl&) { simple(kAtDecMplsTtl); },
          [&](const ActSetNwTtl& t) {
            w.u16(kAtSetNwTtl);
            w.u16(8);
            w.u8(t.ttl);
            w.zeros(3);
          },
          [&](const ActDecNwTtl&) { simple(kAtDecNwTtl); },
          [&](const ActCopyTtlOut&) { simple(kAtCopyTtlOut); },
          [&](const ActCopyTtlIn&) { simple(kAtCopyTtlIn); },
          [&](const ActSetQueue& q) {
            w.u16(kAtSetQueue);
            w.u16(8);
            w.u32(q.queue_id);
          },
      },
      act);
}

// ---- instructions ----------------------------------------------------------------

MaybeError decode_instructions_at(Reader& r, Instructions* out) {
  Instructions in;
  while (!r.empty()) {
    const size_t off = r.offset();
    auto bad = [&](BadInstructionCode c, const std::string& m) {
      return err(OfErrorType::kBadInstruction, c, m + at(off));
    };
    if (r.left() < 8)
      return bad(BadInstructionCode::kBadLen,
                 "instruction header truncated (" + std::to_string(r.left()) + " bytes left)");
    uint16_t type = r.peek16(0);
    uint16_t len = r.peek16(2);
    if (len < 8 || len % 8 != 0 || len > r.left())
      return bad(BadInstructionCode::kBadLen,
                 "instruction type " + std::to_string(type) + " length " + std::to_string(len) +
                     " is invalid (must be a multiple of 8, at least 8, within the " +
                     std::to_string(r.left()) + " bytes left)");
    Reader ir = r.sub(len);
    ir.skip(4);
    auto fixed = [&](size_t want, const char* name) -> MaybeError {
      if (len != want)
        return bad(BadInstructionCode::kBadLen, std::string(name) + " instruction length " +
                                                    std::to_string(len) + " should be " +
                                                    std::to_string(want));
      return std::nullopt;
    };
    auto dup = [&](const char* name) {
      return bad(BadInstructionCode::kUnsupInst,
                 std::string("duplicate ") + name + " instruction");
    };
    switch (type) {
      case kItGotoTable:
        OF_TRY(fixed(8, "goto_table"));
        if (in.goto_table) return dup("goto_table");
        in.goto_table = ir.u8();
        break;
      case kItWriteMetadata: {
        OF_TRY(fixed(24, "write_metadata"));
        if (in.write_metadata) return dup("write_metadata");
        ir.skip(4);
        WriteMetadata wm;
        wm.value = ir.u64();
        wm.mask = ir.u64();
        in.write_metadata = wm;
        break;
      }
      case kItWriteActions:
      case kItApplyActions: {
        const bool apply = type == kItApplyActions;
        if ((apply ? in.apply : in.write).has_value())
          return dup(apply ? "apply_actions" : "write_actions");
        ir.skip(4);
        ActionList acts;
        OF_TRY(decode_actions_at(ir, &acts));
        (apply ? in.apply : in.write) = std::move(acts);
        break;
      }
      case kItClearActions:
        OF_TRY(fixed(8, "clear_actions"));
        if (in.clear_actions) return dup("clear_actions");
        in.clear_actions = true;
        break;
      case kItMeter:
        OF_TRY(fixed(8, "meter"));
        if (in.meter) return dup("meter");
        in.meter = ir.u32();
        break;
      case kItExperimenter:
        return bad(BadInstructionCode::kBadExperimenter,
                   "experimenter instruction " + std::to_string(ir.u32()) + " is not supported");
      default:
        return bad(BadInstructionCode::kUnknownInst,
                   "instruction type " + std::to_string(type) + " is unknown");
    }
  }
  *out = std::move(in);
  return std::nullopt;
}

void encode_action_list(const ActionList& actions, Writer& w) {
  for (const auto& a : actions) encode_action(a, w);
}

void encode_instructions_w(const Instructions& in, Writer& w) {
  if (in.meter) {
    w.u16(kItMeter);
    w.u16(8);
    w.u32(*in.meter);
  }
  auto actions = [&](uint16_t type, const ActionList& list) {
    size_t start = w.size();
    w.u16(type);
    w.u16(0);
    w.zeros(4);
    encode_action_list(list, w);
    w.patch16(start + 2, w.size() - start, "instruction");
  };
  if (in.apply) actions(kItApplyActions, *in.apply);
  if (in.clear_actions) {
    w.u16(kItClearActions);
    w.u16(8);
    w.zeros(4);
  }
  if (in.write) actions(kItWriteActions, *in.write);
  if (in.write_metadata) {
    w.u16(kItWriteMetadata);
    w.u16(24);
    w.zeros(4);
    w.u64(in.write_metadata->value);
    w.u64(in.write_metadata->mask);
  }
  if (in.goto_table) {
    w.u16(kItGotoTable);
    w.u16(8);
    w.u8(*in.goto_table);
    w.zeros(3);
  }
}

void encode_match_w(const OfMatch& m, Writer& w) {
  size_t start = w.size();
  w.u16(kOfpmtOxm);
  w.u16(0);
  for (unsigned i = 0; i < kNumOxmFields; i++) {
    OxmField f = static_cast<OxmField>(i);
    if (!m.has(f)) continue;
    const OxmFieldInfo& fi = oxm_field_info(f);
    bool exact = m.is_exact(f);
    w.u32(oxm_header(f, !exact, exact ? fi.width : 2u * fi.width));
    put_value(w, m.value_of(f), fi.width);
    if (!exact) put_value(w, m.mask_of(f), fi.width);
  }
  w.patch16(start + 2, w.size() - start, "match");
  w.pad_to8(start);
}

// ---- small structures ----------------------------------------------------------

void encode_port(const PortDesc& p, Writer& w) {
  w.u32(p.port_no);
  w.zeros(4);
  w.bytes(p.hw_addr);
  w.zeros(2);
  w.str(p.name, kOfpMaxPortNameLen);
  w.u32(p.config);
  w.u32(p.state);
  w.u32(p.curr);
  w.u32(p.advertised);
  w.u32(p.supported);
  w.u32(p.peer);
  w.u32(p.curr_speed);
  w.u32(p.max_speed);
}

PortDesc decode_port(Reader& r) {  // caller checked kPortLen
  PortDesc p;
  p.port_no = r.u32();
  r.skip(4);
  p.hw_addr = r.arr<6>();
  r.skip(2);
  p.name = r.str(kOfpMaxPortNameLen);
  p.config = r.u32();
  p.state = r.u32();
  p.curr = r.u32();
  p.advertised = r.u32();
  p.supported = r.u32();
  p.peer = r.u32();
  p.curr_speed = r.u32();
  p.max_speed = r.u32();
  return p;
}

MaybeError decode_buckets(Reader& r, std::vector<GroupBucket>* out) {
  std::vector<GroupBucket> buckets;
  while (!r.empty()) {
    const size_t off = r.offset();
    if (r.left() < kBucketFixedLen)
      return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadBucket,
                 "bucket truncated (" + std::to_string(r.left()) + " bytes left)" + at(off));
    uint16_t len = r.peek16(0);
    if (len < kBucketFixedLen || len % 8 != 0 || len > r.left())
      return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadBucket,
                 "bucket length " + std::to_string(len) +
                     " is invalid (must be a multiple of 8, at least 16, within the " +
                     std::to_string(r.left()) + " bytes left)" + at(off));
    Reader b = r.sub(len);
    b.skip(2);
    GroupBucket gb;
    gb.weight = b.u16();
    gb.watch_port = b.u32();
    gb.watch_group = b.u32();
    b.skip(4);
    OF_TRY(decode_actions_at(b, &gb.actions));
    buckets.push_back(std::move(gb));
  }
  *out = std::move(buckets);
  return std::nullopt;
}

void encode_buckets(const std::vector<GroupBucket>& buckets, Writer& w) {
  for (const auto& b : buckets) {
    size_t start = w.size();
    w.u16(0);
    w.u16(b.weight);
    w.u32(b.watch_port);
    w.u32(b.watch_group);
    w.zeros(4);
    encode_action_list(b.actions, w);
    w.patch16(start, w.size() - start, "bucket");
  }
}

MaybeError decode_bands(Reader& r, std::vector<MeterBand>* out) {
  std::vector<MeterBand> bands;
  while (!r.empty()) {
    const size_t off = r.offset();
    if (r.left() < kMeterBandLen)
      return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadBand,
                 "meter band truncated (" + std::to_string(r.left()) + " bytes left)" + at(off));
    uint16_t type = r.peek16(0);
    uint16_t len = r.peek16(2);
    if (len != kMeterBandLen)
      return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadBand,
                 "meter band length " + std::to_string(len) + " should be 16" + at(off));
    Reader b = r.sub(len);
    b.skip(4);
    MeterBand mb;
    mb.rate = b.u32();
    mb.burst_size = b.u32();
    switch (type) {
      case static_cast<uint16_t>(MeterBandType::kDrop): mb.type = MeterBandType::kDrop; break;
      case static_cast<uint16_t>(MeterBandType::kDscpRemark):
        mb.type = MeterBandType::kDscpRemark;
        mb.prec_level = b.u8();
        break;
      case static_cast<uint16_t>(MeterBandType::kExperimenter):
        mb.type = MeterBandType::kExperimenter;
        mb.experimenter = b.u32();
        break;
      default:
        return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadBand,
                   "meter band type " + std::to_string(type) + " is unknown" + at(off));
    }
    bands.push_back(mb);
  }
  *out = std::move(bands);
  return std::nullopt;
}

void encode_bands(const std::vector<MeterBand>& bands, Writer& w) {
  for (const auto& b : bands) {
    w.u16(static_cast<uint16_t>(b.type));
    w.u16(kMeterBandLen);
    w.u32(b.rate);
    w.u32(b.burst_size);
    if (b.type == MeterBandType::kDscpRemark) {
      w.u8(b.prec_level);
      w.zeros(3);
    } else if (b.type == MeterBandType::kExperimenter) {
      w.u32(b.experimenter);
    } else {
      w.zeros(4);
    }
  }
}

// ---- table features ----------------------------------------------------------------

enum class PropKind { kInstructionIds, kTableIds, kActionIds, kOxmIds, kExperimenter, kUnknown };

PropKind prop_kind(uint16_t type) {
  switch (type) {
    case 0: case 1: return PropKind::kInstructionIds;
    case 2: case 3: return PropKind::kTableIds;
    case 4: case 5: case 6: case 7: return PropKind::kActionIds;
    case 8: case 10: case 12: case 13: case 14: case 15: return PropKind::kOxmIds;
    case 0xfffe: case 0xffff: return PropKind::kExperimenter;
    default: return PropKind::kUnknown;
  }
}

MaybeError decode_table_features(Reader& r, std::vector<TableFeatures>* out) {
  std::vector<TableFeatures> tables;
  auto bad = [&](TableFeaturesFailedCode c, const std::string& m, size_t off) {
    return err(OfErrorType::kTableFeaturesFailed, c, m + at(off));
  };
  while (!r.empty()) {
    const size_t off = r.offset();
    if (r.left() < kTableFeaturesFixedLen)
      return bad(TableFeaturesFailedCode::kBadLen,
                 "table features truncated (" + std::to_string(r.left()) + " bytes left)", off);
    uint16_t len = r.peek16(0);
    if (len < kTableFeaturesFixedLen || len % 8 != 0 || len > r.left())
      return bad(TableFeaturesFailedCode::kBadLen,
                 "table features length " + std::to_string(len) +
                     " is invalid (must be a multiple of 8, at least 64, within the " +
                     std::to_string(r.left()) + " bytes left)",
                 off);
    Reader t = r.sub(len);
    t.skip(2);
    TableFeatures tf;
    tf.table_id = t.u8();
    t.skip(5);
    tf.name = t.str(kOfpMaxTableNameLen);
    tf.metadata_match = t.u64();
    tf.metadata_write = t.u64();
    tf.config = t.u32();
    tf.max_entries = t.u32();
    while (!t.empty()) {
      const size_t poff = t.offset();
      if (t.left() < 4)
        return bad(TableFeaturesFailedCode::kBadLen, "table feature property truncated", poff);
      uint16_t ptype = t.peek16(0);
      uint16_t plen = t.peek16(2);
      if (plen < 4 || pad8(plen) > t.left())
        return bad(TableFeaturesFailedCode::kBadLen,
                   "table feature property " + std::to_string(ptype) + " length " +
                       std::to_string(plen) + " (padded to 8) exceeds the " +
                       std::to_string(t.left()) + " bytes left",
                   poff);
      Reader p = t.sub(plen);
      t.skip(pad8(plen) - plen);
      p.skip(4);
      TableFeatureProp prop;
      prop.type = static_cast<TableFeaturePropType>(ptype);
      switch (prop_kind(ptype)) {
        case PropKind::kInstructionIds:
        case PropKind::kActionIds:
          while (!p.empty()) {
            if (p.left() < 4)
              return bad(TableFeaturesFailedCode::kBadLen, "truncated id in property", p.offset());
            uint16_t id = p.peek16(0);
            uint16_t idlen = p.peek16(2);
            if (idlen < 4 || idlen > p.left())
              return bad(TableFeaturesFailedCode::kBadLen,
                         "id length " + std::to_string(idlen) + " is invalid", p.offset());
            p.skip(idlen);
            prop.ids.push_back(id);
          }
          break;
        case PropKind::kTableIds:
          while (!p.empty()) prop.ids.push_back(p.u8());
          break;
        case PropKind::kOxmIds:
        case PropKind::kExperimenter:
          if (p.left() % 4 != 0 || (prop_kind(ptype) == PropKind::kExperimenter && p.left() < 8))
            return bad(TableFeaturesFailedCode::kBadLen,
                       "property " + std::to_string(ptype) + " length " + std::to_string(plen) +
                           " is not 4 + a multiple of 4",
                       poff);
          while (!p.empty()) prop.ids.push_back(p.u32());
          break;
        case PropKind::kUnknown:
          return bad(TableFeaturesFailedCode::kBadType,
                     "table feature property type " + std::to_string(ptype) + " is unknown",
                     poff);
      }
      tf.properties.push_back(std::move(prop));
    }
    tables.push_back(std::move(tf));
  }
  *out = std::move(tables);
  return std::nullopt;
}

void encode_table_features(const TableFeatures& tf, Writer& w) {
  size_t start = w.size();
  w.u16(0);
  w.u8(tf.table_id);
  w.zeros(5);
  w.str(tf.name, kOfpMaxTableNameLen);
  w.u64(tf.metadata_match);
  w.u64(tf.metadata_write);
  w.u32(tf.config);
  w.u32(tf.max_entries);
  for (const auto& p : tf.properties) {
    size_t ps = w.size();
    uint16_t ptype = static_cast<uint16_t>(p.type);
    w.u16(ptype);
    w.u16(0);
    switch (prop_kind(ptype)) {
      case PropKind::kInstructionIds:
      case PropKind::kActionIds:
        for (uint32_t id : p.ids) {
          w.u16(static_cast<uint16_t>(id));
          w.u16(4);
        }
        break;
      case PropKind::kTableIds:
        for (uint32_t id : p.ids) w.u8(static_cast<uint8_t>(id));
        break;
      case PropKind::kOxmIds:
      case PropKind::kExperimenter:
        for (uint32_t id : p.ids) w.u32(id);
        break;
      case PropKind::kUnknown:
        throw std::invalid_argument("table feature property type " + std::to_string(ptype) +
                                    " is unknown");
    }
    w.patch16(ps + 2, w.size() - ps, "table feature property");
    w.pad_to8(ps);
  }
  w.patch16(start, w.size() - start, "table features");
}

// ---- multipart entries ---------------------------------------------------------------

void encode_entry(const FlowStats& f, Writer& w) {
  size_t start = w.size();
  w.u16(0);
  w.u8(f.table_id);
  w.zeros(1);
  w.u32(f.duration_sec);
  w.u32(f.duration_nsec);
  w.u16(f.priority);
  w.u16(f.idle_timeout);
  w.u16(f.hard_timeout);
  w.u16(f.flags);
  w.zeros(4);
  w.u64(f.cookie);
  w.u64(f.packet_count);
  w.u64(f.byte_count);
  encode_match_w(f.match, w);
  encode_instructions_w(f.instructions, w);
  w.patch16(start, w.size() - start, "flow stats");
}
void encode_entry(const TableStats& t, Writer& w) {
  w.u8(t.table_id);
  w.zeros(3);
  w.u32(t.active_count);
  w.u64(t.lookup_count);
  w.u64(t.matched_count);
}
void encode_entry(const PortStats& p, Writer& w) {
  w.u32(p.port_no);
  w.zeros(4);
  for (uint64_t v : {p.rx_packets, p.tx_packets, p.rx_bytes, p.tx_bytes, p.rx_dropped,
                     p.tx_dropped, p.rx_errors, p.tx_errors, p.rx_frame_err, p.rx_over_err,
                     p.rx_crc_err, p.collisions})
    w.u64(v);
  w.u32(p.duration_sec);
  w.u32(p.duration_nsec);
}
void encode_entry(const QueueStats& q, Writer& w) {
  w.u32(q.port_no);
  w.u32(q.queue_id);
  w.u64(q.tx_bytes);
  w.u64(q.tx_packets);
  w.u64(q.tx_errors);
  w.u32(q.duration_sec);
  w.u32(q.duration_nsec);
}
void encode_entry(const GroupStats& g, Writer& w) {
  size_t start = w.size();
  w.u16(0);
  w.zeros(2);
  w.u32(g.group_id);
  w.u32(g.ref_count);
  w.zeros(4);
  w.u64(g.packet_count);
  w.u64(g.byte_count);
  w.u32(g.duration_sec);
  w.u32(g.duration_nsec);
  for (const auto& b : g.buckets) {
    w.u64(b.packet_count);
    w.u64(b.byte_count);
  }
  w.patch16(start, w.size() - start, "group stats");
}
void encode_entry(const GroupDesc& g, Writer& w) {
  size_t start = w.size();
  w.u16(0);
  w.u8(static_cast<uint8_t>(g.type));
  w.zeros(1);
  w.u32(g.group_id);
  encode_buckets(g.buckets, w);
  w.patch16(start, w.size() - start, "group desc");
}
void encode_entry(const MeterStats& m, Writer& w) {
  size_t start = w.size();
  w.u32(m.meter_id);
  w.u16(0);
  w.zeros(6);
  w.u32(m.flow_count);
  w.u64(m.packet_in_count);
  w.u64(m.byte_in_count);
  w.u32(m.duration_sec);
  w.u32(m.duration_nsec);
  for (const auto& b : m.bands) {
    w.u64(b.packet_band_count);
    w.u64(b.byte_band_count);
  }
  w.patch16(start + 4, w.size() - start, "meter stats");
}
void encode_entry(const MeterConfig& m, Writer& w) {
  size_t start = w.size();
  w.u16(0);
  w.u16(m.flags);
  w.u32(m.meter_id);
  encode_bands(m.bands, w);
  w.patch16(start, w.size() - start, "meter config");
}
void encode_entry(const TableFeatures& t, Writer& w) { encode_table_features(t, w); }
void encode_entry(const PortDesc& p, Writer& w) { encode_port(p, w); }

// Reads a list of entries whose length is at `len_at` (16-bit) with a
// minimum size; the entry reader gets a reader over exactly one entry.
template <typename T, typename F>
MaybeError read_var_entries(Reader& r, size_t len_at, size_t min_len, const char* what,
                            std::vector<T>* out, F&& one) {
  while (!r.empty()) {
    const size_t off = r.offset();
    if (r.left() < min_len)
      return bad_len(std::string(what) + " truncated (" + std::to_string(r.left()) +
                     " bytes left)" + at(off));
    uint16_t len = r.peek16(len_at);
    if (len < min_len || len % 8 != 0 || len > r.left())
      return bad_len(std::string(what) + " length " + std::to_string(len) +
                     " is invalid (must be a multiple of 8, at least " +
                     std::to_string(min_len) + ", within the " + std::to_string(r.left()) +
                     " bytes left)" + at(off));
    Reader e = r.sub(len);
    T item;
    OF_TRY(one(e, &item));
    out->push_back(std::move(item));
  }
  return std::nullopt;
}

template <typename T, typename F>
MaybeError read_fixed_entries(Reader& r, size_t len, const char* what, std::vector<T>* out,
                              F&& one) {
  if (r.left() % len != 0)
    return bad_len(std::string(what) + " body of " + std::to_string(r.left()) +
                   " bytes is not a multiple of " + std::to_string(len) + at(r.offset()));
  while (!r.empty()) {
    Reader e = r.sub(len);
    out->push_back(one(e));
  }
  return std::nullopt;
}

MaybeError expect_len(const Reader& r, size_t want, const char* what) {
  if (r.left() != want)
    return bad_len(std::string(what) + " body is " + std::to_string(r.left()) +
                   " bytes, should be " + std::to_string(want) + at(r.offset()));
  return std::nullopt;
}

MaybeError decode_flow_stats_request(Reader& r, FlowStatsRequest* out, const char* what) {
  if (r.left() < 32 + 8)
    return bad_len(std::string(what) + " request body of " + std::to_string(r.left()) +
                   " bytes is too short (at least 40)" + at(r.offset()));
  out->table_id = r.u8();
  r.skip(3);
  out->out_port = r.u32();
  out->out_group = r.u32();
  r.skip(4);
  out->cookie = r.u64();
  out->cookie_mask = r.u64();
  OF_TRY(decode_match_at(r, &out->match));
  if (!r.empty())
    return bad_len(std::string(what) + " request has " + std::to_string(r.left()) +
                   " bytes after the match" + at(r.offset()));
  return std::nullopt;
}

void encode_flow_stats_request(const FlowStatsRequest& f, Writer& w) {
  w.u8(f.table_id);
  w.zeros(3);
  w.u32(f.out_port);
  w.u32(f.out_group);
  w.zeros(4);
  w.u64(f.cookie);
  w.u64(f.cookie_mask);
  encode_match_w(f.match, w);
}

MaybeError decode_mp_request(uint16_t type, Reader& r, MultipartRequestBody* out) {
  auto empty_body = [&](auto v, const char* what) -> MaybeError {
    OF_TRY(expect_len(r, 0, what));
    *out = v;
    return std::nullopt;
  };
  auto id_pad = [&](const char* what, auto make) -> MaybeError {
    OF_TRY(expect_len(r, 8, what));
    uint32_t a = r.u32();
    uint32_t b = r.u32();
    *out = make(a, b);
    return std::nullopt;
  };
  switch (static_cast<MultipartType>(type)) {
    case MultipartType::kDesc: return empty_body(DescRequest{}, "OFPMP_DESC request");
    case MultipartType::kFlow: {
      FlowStatsRequest f;
      OF_TRY(decode_flow_stats_request(r, &f, "OFPMP_FLOW"));
      *out = std::move(f);
      return std::nullopt;
    }
    case MultipartType::kAggregate: {
      AggregateRequest a;
      OF_TRY(decode_flow_stats_request(r, &a.filter, "OFPMP_AGGREGATE"));
      *out = std::move(a);
      return std::nullopt;
    }
    case MultipartType::kTable: return empty_body(TableStatsRequest{}, "OFPMP_TABLE request");
    case MultipartType::kPortStats:
      return id_pad("OFPMP_PORT_STATS request",
                    [](uint32_t a, uint32_t) { return PortStatsRequest{a}; });
    case MultipartType::kQueue:
      return id_pad("OFPMP_QUEUE request",
                    [](uint32_t a, uint32_t b) { return QueueStatsRequest{a, b}; });
    case MultipartType::kGroup:
      return id_pad("OFPMP_GROUP request",
                    [](uint32_t a, uint32_t) { return GroupStatsRequest{a}; });
    case MultipartType::kGroupDesc:
      return empty_body(GroupDescRequest{}, "OFPMP_GROUP_DESC request");
    case MultipartType::kGroupFeatures:
      return empty_body(GroupFeaturesRequest{}, "OFPMP_GROUP_FEATURES request");
    case MultipartType::kMeter:
      return id_pad("OFPMP_METER request",
                    [](uint32_t a, uint32_t) { return MeterStatsRequest{a}; });
    case MultipartType::kMeterConfig:
      return id_pad("OFPMP_METER_CONFIG request",
                    [](uint32_t a, uint32_t) { return MeterConfigRequest{a}; });
    case MultipartType::kMeterFeatures:
      return empty_body(MeterFeaturesRequest{}, "OFPMP_METER_FEATURES request");
    case MultipartType::kTableFeatures: {
      TableFeaturesRequest t;
      OF_TRY(decode_table_features(r, &t.tables));
      *out = std::move(t);
      return std::nullopt;
    }
    case MultipartType::kPortDesc:
      return empty_body(PortDescRequest{}, "OFPMP_PORT_DESC request");
    case MultipartType::kExperimenter:
      return err(OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter,
                 "experimenter multipart request is not supported");
  }
  return err(OfErrorType::kBadRequest, BadRequestCode::kBadMultipart,
             "multipart type " + std::to_string(type) + " is unknown");
}

MaybeError decode_mp_reply(uint16_t type, Reader& r, MultipartReplyBody* out) {
  switch (static_cast<MultipartType>(type)) {
    case MultipartType::kDesc: {
      OF_TRY(expect_len(r, kDescLen, "OFPMP_DESC reply"));
      DescReply d;
      d.mfr_desc = r.str(kDescStrLen);
      d.hw_desc = r.str(kDescStrLen);
      d.sw_desc = r.str(kDescStrLen);
      d.serial_num = r.str(kSerialNumLen);
      d.dp_desc = r.str(kDescStrLen);
      *out = std::move(d);
      return std::nullopt;
    }
    case MultipartType::kFlow: {
      FlowStatsReply rep;
      OF_TRY(read_var_entries(r, 0, kFlowStatsFixedLen + 8, "flow stats", &rep.flows,
                              [](Reader& e, FlowStats* f) -> MaybeError {
                                e.skip(2);
                                f->table_id = e.u8();
                                e.skip(1);
                                f->duration_sec = e.u32();
                                f->duration_nsec = e.u32();
                                f->priority = e.u16();
                                f->idle_timeout = e.u16();
                                f->hard_timeout = e.u16();
                                f->flags = e.u16();
                                e.skip(4);
                                f->cookie = e.u64();
                                f->packet_count = e.u64();
                                f->byte_count = e.u64();
                                OF_TRY(decode_match_at(e, &f->match));
                                return decode_instructions_at(e, &f->instructions);
                              }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kAggregate: {
      OF_TRY(expect_len(r, 24, "OFPMP_AGGREGATE reply"));
      AggregateReply a;
      a.packet_count = r.u64();
      a.byte_count = r.u64();
      a.flow_count = r.u32();
      *out = a;
      return std::nullopt;
    }
    case MultipartType::kTable: {
      TableStatsReply rep;
      OF_TRY(read_fixed_entries(r, kTableStatsLen, "OFPMP_TABLE reply", &rep.tables,
                                [](Reader& e) {
                                  TableStats t;
                                  t.table_id = e.u8();
                                  e.skip(3);
                                  t.active_count = e.u32();
                                  t.lookup_count = e.u64();
                                  t.matched_count = e.u64();
                                  return t;
                                }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kPortStats: {
      PortStatsReply rep;
      OF_TRY(read_fixed_entries(r, kPortStatsLen, "OFPMP_PORT_STATS reply", &rep.ports,
                                [](Reader& e) {
                                  PortStats p;
                                  p.port_no = e.u32();
                                  e.skip(4);
                                  for (uint64_t* v :
                                       {&p.rx_packets, &p.tx_packets, &p.rx_bytes, &p.tx_bytes,
                                        &p.rx_dropped, &p.tx_dropped, &p.rx_errors, &p.tx_errors,
                                        &p.rx_frame_err, &p.rx_over_err, &p.rx_crc_err,
                                        &p.collisions})
                                    *v = e.u64();
                                  p.duration_sec = e.u32();
                                  p.duration_nsec = e.u32();
                                  return p;
                                }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kQueue: {
      QueueStatsReply rep;
      OF_TRY(read_fixed_entries(r, kQueueStatsLen, "OFPMP_QUEUE reply", &rep.queues,
                                [](Reader& e) {
                                  QueueStats q;
                                  q.port_no = e.u32();
                                  q.queue_id = e.u32();
                                  q.tx_bytes = e.u64();
                                  q.tx_packets = e.u64();
                                  q.tx_errors = e.u64();
                                  q.duration_sec = e.u32();
                                  q.duration_nsec = e.u32();
                                  return q;
                                }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kGroup: {
      GroupStatsReply rep;
      OF_TRY(read_var_entries(r, 0, kGroupStatsFixedLen, "group stats", &rep.groups,
                              [](Reader& e, GroupStats* g) -> MaybeError {
                                if ((e.left() - kGroupStatsFixedLen) % kBucketCounterLen)
                                  return bad_len("group stats bucket counters are not a "
                                                 "multiple of 16 bytes" + at(e.offset()));
                                e.skip(4);
                                g->group_id = e.u32();
                                g->ref_count = e.u32();
                                e.skip(4);
                                g->packet_count = e.u64();
                                g->byte_count = e.u64();
                                g->duration_sec = e.u32();
                                g->duration_nsec = e.u32();
                                while (!e.empty()) {
                                  BucketCounter b;
                                  b.packet_count = e.u64();
                                  b.byte_count = e.u64();
                                  g->buckets.push_back(b);
                                }
                                return std::nullopt;
                              }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kGroupDesc: {
      GroupDescReply rep;
      OF_TRY(read_var_entries(r, 0, kGroupDescFixedLen, "group desc", &rep.groups,
                              [](Reader& e, GroupDesc* g) -> MaybeError {
                                e.skip(2);
                                uint8_t type = e.u8();
                                if (type > 3)
                                  return err(OfErrorType::kGroupModFailed,
                                             GroupModFailedCode::kBadType,
                                             "group type " + std::to_string(type) +
                                                 " is unknown" + at(e.offset()));
                                g->type = static_cast<GroupType>(type);
                                e.skip(1);
                                g->group_id = e.u32();
                                return decode_buckets(e, &g->buckets);
                              }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kGroupFeatures: {
      OF_TRY(expect_len(r, 40, "OFPMP_GROUP_FEATURES reply"));
      GroupFeaturesReply g;
      g.types = r.u32();
      g.capabilities = r.u32();
      for (auto& v : g.max_groups) v = r.u32();
      for (auto& v : g.actions) v = r.u32();
      *out = g;
      return std::nullopt;
    }
    case MultipartType::kMeter: {
      MeterStatsReply rep;
      OF_TRY(read_var_entries(r, 4, kMeterStatsFixedLen, "meter stats", &rep.meters,
                              [](Reader& e, MeterStats* m) -> MaybeError {
                                if ((e.left() - kMeterStatsFixedLen) % kMeterBandStatsLen)
                                  return bad_len("meter band stats are not a multiple of 16 "
                                                 "bytes" + at(e.offset()));
                                m->meter_id = e.u32();
                                e.skip(8);
                                m->flow_count = e.u32();
                                m->packet_in_count = e.u64();
                                m->byte_in_count = e.u64();
                                m->duration_sec = e.u32();
                                m->duration_nsec = e.u32();
                                while (!e.empty()) {
                                  MeterBandStats b;
                                  b.packet_band_count = e.u64();
                                  b.byte_band_count = e.u64();
                                  m->bands.push_back(b);
                                }
                                return std::nullopt;
                              }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kMeterConfig: {
      MeterConfigReply rep;
      OF_TRY(read_var_entries(r, 0, kMeterConfigFixedLen, "meter config", &rep.meters,
                              [](Reader& e, MeterConfig* m) -> MaybeError {
                                e.skip(2);
                                m->flags = e.u16();
                                m->meter_id = e.u32();
                                return decode_bands(e, &m->bands);
                              }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kMeterFeatures: {
      OF_TRY(expect_len(r, 16, "OFPMP_METER_FEATURES reply"));
      MeterFeaturesReply m;
      m.max_meter = r.u32();
      m.band_types = r.u32();
      m.capabilities = r.u32();
      m.max_bands = r.u8();
      m.max_color = r.u8();
      *out = m;
      return std::nullopt;
    }
    case MultipartType::kTableFeatures: {
      TableFeaturesReply rep;
      OF_TRY(decode_table_features(r, &rep.tables));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kPortDesc: {
      PortDescReply rep;
      OF_TRY(read_fixed_entries(r, kPortLen, "OFPMP_PORT_DESC reply", &rep.ports,
                                [](Reader& e) { return decode_port(e); }));
      *out = std::move(rep);
      return std::nullopt;
    }
    case MultipartType::kExperimenter:
      return err(OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter,
                 "experimenter multipart reply is not supported");
  }
  return err(OfErrorType::kBadRequest, BadRequestCode::kBadMultipart,
             "multipart type " + std::to_string(type) + " is unknown");
}

void encode_mp_request(const MultipartRequestBody& body, Writer& w) {
  std::visit(Overloaded{
                 [&](const FlowStatsRequest& f) { encode_flow_stats_request(f, w); },
                 [&](const AggregateRequest& a) { encode_flow_stats_request(a.filter, w); },
                 [&](const PortStatsRequest& p) {
                   w.u32(p.port_no);
                   w.zeros(4);
                 },
                 [&](const QueueStatsRequest& q) {
                   w.u32(q.port_no);
                   w.u32(q.queue_id);
                 },
                 [&](const GroupStatsRequest& g) {
                   w.u32(g.group_id);
                   w.zeros(4);
                 },
                 [&](const MeterStatsRequest& m) {
                   w.u32(m.meter_id);
                   w.zeros(4);
                 },
                 [&](const MeterConfigRequest& m) {
                   w.u32(m.meter_id);
                   w.zeros(4);
                 },
                 [&](const TableFeaturesRequest& t) {
                   for (const auto& tf : t.tables) encode_table_features(tf, w);
                 },
                 [&](const auto&) {},  // empty bodies
             },
             body);
}

void encode_mp_reply(const MultipartReplyBody& body, Writer& w) {
  auto each = [&](const auto& v) {
    for (const auto& e : v) encode_entry(e, w);
  };
  std::visit(Overloaded{
                 [&](const DescReply& d) {
                   w.str(d.mfr_desc, kDescStrLen);
                   w.str(d.hw_desc, kDescStrLen);
                   w.str(d.sw_desc, kDescStrLen);
                   w.str(d.serial_num, kSerialNumLen);
                   w.str(d.dp_desc, kDescStrLen);
                 },
                 [&](const FlowStatsReply& r) { each(r.flows); },
                 [&](const AggregateReply& a) {
                   w.u64(a.packet_count);
                   w.u64(a.byte_count);
                   w.u32(a.flow_count);
                   w.zeros(4);
                 },
                 [&](const TableStatsReply& r) { each(r.tables); },
                 [&](const PortStatsReply& r) { each(r.ports); },
                 [&](const QueueStatsReply& r) { each(r.queues); },
                 [&](const GroupStatsReply& r) { each(r.groups); },
                 [&](const GroupDescReply& r) { each(r.groups); },
                 [&](const GroupFeaturesReply& g) {
                   w.u32(g.types);
                   w.u32(g.capabilities);
                   for (uint32_t v : g.max_groups) w.u32(v);
                   for (uint32_t v : g.actions) w.u32(v);
                 },
                 [&](const MeterStatsReply& r) { each(r.meters); },
                 [&](const MeterConfigReply& r) { each(r.meters); },
                 [&](const MeterFeaturesReply& m) {
                   w.u32(m.max_meter);
                   w.u32(m.band_types);
                   w.u32(m.capabilities);
                   w.u8(m.max_bands);
                   w.u8(m.max_color);
                   w.zeros(2);
                 },
                 [&](const TableFeaturesReply& r) { each(r.tables); },
                 [&](const PortDescReply& r) { each(r.ports); },
             },
             body);
}

AsyncConfig decode_async(Reader& r) {
  AsyncConfig a;
  for (auto* arr : {&a.packet_in_mask, &a.port_status_mask, &a.flow_removed_mask})
    for (auto& v : *arr) v = r.u32();
  return a;
}
void encode_async(const AsyncConfig& a, Writer& w) {
  for (const auto* arr : {&a.packet_in_mask, &a.port_status_mask, &a.flow_removed_mask})
    for (uint32_t v : *arr) w.u32(v);
}

// ---- message bodies ---------------------------------------------------------------

MaybeError decode_body(OfpType type, Reader& r, OfMessage* msg, const DecodeOptions& opt) {
  auto fixed = [&](size_t body, const char* what) -> MaybeError {
    if (r.left() != body)
      return bad_len(std::string(what) + " is " + std::to_string(r.left() + kOfpHeaderLen) +
                     " bytes, should be " + std::to_string(body + kOfpHeaderLen));
    return std::nullopt;
  };
  auto at_least = [&](size_t body, const char* what) -> MaybeError {
    if (r.left() < body)
      return bad_len(std::string(what) + " is " + std::to_string(r.left() + kOfpHeaderLen) +
                     " bytes, shorter than its minimum " + std::to_string(body + kOfpHeaderLen));
    return std::nullopt;
  };
  switch (type) {
    case OfpType::kHello: {
      Hello h;
      h.has_bitmap = false;
      h.versions = 0;
      while (r.left() >= 4) {
        const size_t off = r.offset();
        uint16_t etype = r.peek16(0);
        uint16_t elen = r.peek16(2);
        if (elen < 4 || elen > r.left())
          return bad_len("hello element length " + std::to_string(elen) + " is invalid" +
                         at(off));
        Reader e = r.sub(elen);
        r.skip(pad8(elen) - elen);  // clamped: the last element may omit its padding
        e.skip(4);
        if (etype == kHelloElemVersionBitmap) {
          if (e.left() % 4 != 0 || e.empty())
            return bad_len("hello version bitmap length " + std::to_string(elen) +
                           " is not 4 + a multiple of 4" + at(off));
          h.has_bitmap = true;
          h.versions = e.u32();  // later words are versions >= 32
        }
      }
      msg->body = h;
      return std::nullopt;
    }
    case OfpType::kError: {
      OF_TRY(at_least(4, "OFPT_ERROR"));
      ErrorMsg e;
      e.type = static_cast<OfErrorType>(r.u16());
      e.code = r.u16();
      if (e.type == OfErrorType::kExperimenter) {
        OF_TRY(at_least(4, "experimenter OFPT_ERROR"));
        e.experimenter = r.u32();
      }
      e.data = r.rest();
      msg->body = std::move(e);
      return std::nullopt;
    }
    case OfpType::kEchoRequest: msg->body = EchoRequest{r.rest()}; return std::nullopt;
    case OfpType::kEchoReply: msg->body = EchoReply{r.rest()}; return std::nullopt;
    case OfpType::kExperimenter: {
      OF_TRY(at_least(8, "OFPT_EXPERIMENTER"));
      ExperimenterMsg x;
      x.experimenter = r.u32();
      x.exp_type = r.u32();
      if (!opt.accept_experimenter)
        return err(OfErrorType::kBadRequest, BadRequestCode::kBadExperimenter,
                   "experimenter " + std::to_string(x.experimenter) + " is not supported");
      x.data = r.rest();
      msg->body = std::move(x);
      return std::nullopt;
    }
    case OfpType::kFeaturesRequest:
      OF_TRY(fixed(0, "OFPT_FEATURES_REQUEST"));
      msg->body = FeaturesRequest{};
      return std::nullopt;
    case OfpType::kFeaturesReply: {
      OF_TRY(fixed(24, "OFPT_FEATURES_REPLY"));
      FeaturesReply f;
      f.datapath_id = r.u64();
      f.n_buffers = r.u32();
      f.n_tables = r.u8();
      f.auxiliary_id = r.u8();
      r.skip(2);
      f.capabilities = r.u32();
      msg->body = f;
      return std::nullopt;
    }
    case OfpType::kGetConfigRequest:
      OF_TRY(fixed(0, "OFPT_GET_CONFIG_REQUEST"));
      msg->body = GetConfigRequest{};
      return std::nullopt;
    case OfpType::kGetConfigReply:
    case OfpType::kSetConfig: {
      OF_TRY(fixed(4, type == OfpType::kSetConfig ? "OFPT_SET_CONFIG" : "OFPT_GET_CONFIG_REPLY"));
      uint16_t flags = r.u16();
      uint16_t miss = r.u16();
      if (flags & ~uint16_t{kFragMask})
        return err(OfErrorType::kSwitchConfigFailed, SwitchConfigFailedCode::kBadFlags,
                   "config flags " + std::to_string(flags) + " have unknown bits (only OFPC_FRAG_* allowed)");
      if (type == OfpType::kSetConfig)
        msg->body = SetConfig{flags, miss};
      else
        msg->body = GetConfigReply{flags, miss};
      return std::nullopt;
    }
    case OfpType::kPacketIn: {
      OF_TRY(at_least(16 + 8 + 2, "OFPT_PACKET_IN"));
      PacketIn p;
      p.buffer_id = r.u32();
      p.total_len = r.u16();
      p.reason = static_cast<PacketInReason>(r.u8());
      p.table_id = r.u8();
      p.cookie = r.u64();
      OF_TRY(decode_match_at(r, &p.match));
      if (r.left() < 2) return bad_len("OFPT_PACKET_IN has no room for the pad after the match");
      r.skip(2);
      p.data = r.rest();
      msg->body = std::move(p);
      return std::nullopt;
    }
    case OfpType::kFlowRemoved: {
      OF_TRY(at_least(40 + 8, "OFPT_FLOW_REMOVED"));
      FlowRemoved f;
      f.cookie = r.u64();
      f.priority = r.u16();
      f.reason = static_cast<RemovedReason>(r.u8());
      f.table_id = r.u8();
      f.duration_sec = r.u32();
      f.duration_nsec = r.u32();
      f.idle_timeout = r.u16();
      f.hard_timeout = r.u16();
      f.packet_count = r.u64();
      f.byte_count = r.u64();
      OF_TRY(decode_match_at(r, &f.match));
      if (!r.empty()) return bad_len("OFPT_FLOW_REMOVED has bytes after the match" + at(r.offset()));
      msg->body = std::move(f);
      return std::nullopt;
    }
    case OfpType::kPortStatus: {
      OF_TRY(fixed(8 + kPortLen, "OFPT_PORT_STATUS"));
      PortStatus ps;
      ps.reason = static_cast<PortReason>(r.u8());
      r.skip(7);
      ps.desc = decode_port(r);
      msg->body = std::move(ps);
      return std::nullopt;
    }
    case OfpType::kPacketOut: {
      OF_TRY(at_least(16, "OFPT_PACKET_OUT"));
      PacketOut p;
      p.buffer_id = r.u32();
      p.in_port = r.u32();
      uint16_t actions_len = r.u16();
      r.skip(6);
      if (actions_len > r.left())
        return bad_len("packet-out actions_len " + std::to_string(actions_len) +
                       " exceeds the " + std::to_string(r.left()) + " bytes left");
      if (!(p.in_port >= 1 && p.in_port <= kPortMax) && p.in_port != kPortController &&
          p.in_port != kPortLocal && p.in_port != kPortAny)
        return err(OfErrorType::kBadRequest, BadRequestCode::kBadPort,
                   "packet-out in_port " + std::to_string(p.in_port) + " is invalid");
      Reader a = r.sub(actions_len);
      OF_TRY(decode_actions_at(a, &p.actions));
      p.data = r.rest();
      msg->body = std::move(p);
      return std::nullopt;
    }
    case OfpType::kFlowMod: {
      OF_TRY(at_least(kFlowModFixedLen + 8, "OFPT_FLOW_MOD"));
      FlowModMsg m;
      FlowMod& fm = m.mod;
      fm.cookie = r.u64();
      fm.cookie_mask = r.u64();
      fm.table_id = r.u8();
      uint8_t command = r.u8();
      fm.idle_timeout = r.u16();
      fm.hard_timeout = r.u16();
      fm.priority = r.u16();
      m.buffer_id = r.u32();
      fm.out_port = r.u32();
      fm.out_group = r.u32();
      fm.flags = r.u16();
      r.skip(2);
      if (command > static_cast<uint8_t>(FlowModCommand::kDeleteStrict))
        return err(OfErrorType::kFlowModFailed, FlowModFailedCode::kBadCommand,
                   "flow-mod command " + std::to_string(command) + " is unknown");
      fm.command = static_cast<FlowModCommand>(command);
      constexpr uint16_t kKnownFlags = kFlagSendFlowRem | kFlagCheckOverlap | kFlagResetCounts |
                                       kFlagNoPktCounts | kFlagNoBytCounts;
      if (fm.flags & ~kKnownFlags)
        return err(OfErrorType::kFlowModFailed, FlowModFailedCode::kBadFlags,
                   "flow-mod flags 0x" + [&] {
                     char b[8];
                     std::snprintf(b, sizeof b, "%x", fm.flags);
                     return std::string(b);
                   }() + " have unknown bits");
      OF_TRY(decode_match_at(r, &fm.match));
      OF_TRY(decode_instructions_at(r, &fm.instructions));
      msg->body = std::move(m);
      return std::nullopt;
    }
    case OfpType::kGroupMod: {
      OF_TRY(at_least(8, "OFPT_GROUP_MOD"));
      GroupModMsg m;
      uint16_t command = r.u16();
      uint8_t gtype = r.u8();
      r.skip(1);
      m.mod.group_id = r.u32();
      if (command > static_cast<uint16_t>(GroupModCommand::kDelete))
        return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadCommand,
                   "group-mod command " + std::to_string(command) + " is unknown");
      if (gtype > static_cast<uint8_t>(GroupType::kFastFailover))
        return err(OfErrorType::kGroupModFailed, GroupModFailedCode::kBadType,
                   "group type " + std::to_string(gtype) + " is unknown");
      m.mod.command = static_cast<GroupModCommand>(command);
      m.mod.type = static_cast<GroupType>(gtype);
      OF_TRY(decode_buckets(r, &m.mod.buckets));
      msg->body = std::move(m);
      return std::nullopt;
    }
    case OfpType::kPortMod: {
      OF_TRY(fixed(32, "OFPT_PORT_MOD"));
      PortMod p;
      p.port_no = r.u32();
      r.skip(4);
      p.hw_addr = r.arr<6>();
      r.skip(2);
      p.config = r.u32();
      p.mask = r.u32();
      p.advertise = r.u32();
      msg->body = p;
      return std::nullopt;
    }
    case OfpType::kTableMod: {
      OF_TRY(fixed(8, "OFPT_TABLE_MOD"));
      TableMod t;
      t.table_id = r.u8();
      r.skip(3);
      t.config = r.u32();
      msg->body = t;
      return std::nullopt;
    }
    case OfpType::kMultipartRequest:
    case OfpType::kMultipartReply: {
      OF_TRY(at_least(8, type == OfpType::kMultipartRequest ? "OFPT_MULTIPART_REQUEST"
                                                             : "OFPT_MULTIPART_REPLY"));
      uint16_t mtype = r.u16();
      uint16_t flags = r.u16();
      r.skip(4);
      if (type == OfpType::kMultipartRequest) {
        MultipartRequest m;
        m.flags = flags;
        OF_TRY(decode_mp_request(mtype, r, &m.body));
        msg->body = std::move(m);
      } else {
        MultipartReply m;
        m.flags = flags;
        OF_TRY(decode_mp_reply(mtype, r, &m.body));
        msg->body = std::move(m);
      }
      return std::nullopt;
    }
    case OfpType::kBarrierRequest:
      OF_TRY(fixed(0, "OFPT_BARRIER_REQUEST"));
      msg->body = BarrierRequest{};
      return std::nullopt;
    case OfpType::kBarrierReply:
      OF_TRY(fixed(0, "OFPT_BARRIER_REPLY"));
      msg->body = BarrierReply{};
      return std::nullopt;
    case OfpType::kRoleRequest:
    case OfpType::kRoleReply: {
      OF_TRY(fixed(16, type == OfpType::kRoleRequest ? "OFPT_ROLE_REQUEST" : "OFPT_ROLE_REPLY"));
      uint32_t role = r.u32();
      r.skip(4);
      uint64_t gen = r.u64();
      if (role > static_cast<uint32_t>(ControllerRole::kSlave))
        return err(OfErrorType::kRoleRequestFailed, RoleRequestFailedCode::kBadRole,
                   "controller role " + std::to_string(role) + " is unknown");
      if (type == OfpType::kRoleRequest)
        msg->body = RoleRequest{static_cast<ControllerRole>(role), gen};
      else
        msg->body = RoleReply{static_cast<ControllerRole>(role), gen};
      return std::nullopt;
    }
    case OfpType::kGetAsyncRequest:
      OF_TRY(fixed(0, "OFPT_GET_ASYNC_REQUEST"));
      msg->body = GetAsyncRequest{};
      return std::nullopt;
    case OfpType::kGetAsyncReply:
    case OfpType::kSetAsync:
      OF_TRY(fixed(24, type == OfpType::kSetAsync ? "OFPT_SET_ASYNC" : "OFPT_GET_ASYNC_REPLY"));
      if (type == OfpType::kSetAsync)
        msg->body = SetAsync{decode_async(r)};
      else
        msg->body = GetAsyncReply{decode_async(r)};
      return std::nullopt;
    case OfpType::kMeterMod: {
      OF_TRY(at_least(8, "OFPT_METER_MOD"));
      MeterMod m;
      uint16_t command = r.u16();
      m.flags = r.u16();
      m.meter_id = r.u32();
      if (command > static_cast<uint16_t>(MeterModCommand::kDelete))
        return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadCommand,
                   "meter-mod command " + std::to_string(command) + " is unknown");
      m.command = static_cast<MeterModCommand>(command);
      if (m.flags & ~uint16_t{kMeterFlagKbps | kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats})
        return err(OfErrorType::kMeterModFailed, MeterModFailedCode::kBadFlags,
                   "meter flags " + std::to_string(m.flags) + " have unknown bits");
      OF_TRY(decode_bands(r, &m.bands));
      msg->body = std::move(m);
      return std::nullopt;
    }
    case OfpType::kQueueGetConfigRequest:
    case OfpType::kQueueGetConfigReply:
      break;  // not supported: bad_type below
  }
  return err(OfErrorType::kBadRequest, BadRequestCode::kBadType,
             "message type " + std::to_string(static_cast<unsigned>(type)) + " (" +
                 of_type_name(type) + ") is not supported");
}

void encode_body(const OfBody& body, Writer& w) {
  std::visit(
      Overloaded{
          [&](const Hello& h) {
            if (!h.has_bitmap) return;
            w.u16(kHelloElemVersionBitmap);
            w.u16(8);
            w.u32(h.versions);
          },
          [&](const ErrorMsg& e) {
            w.u16(static_cast<uint16_t>(e.type));
            w.u16(e.code);
            if (e.type == OfErrorType::kExperimenter) w.u32(e.experimenter);
            w.bytes(e.data);
          },
          [&](const EchoRequest& e) { w.bytes(e.data); },
          [&](const EchoReply& e) { w.bytes(e.data); },
          [&](const ExperimenterMsg& x) {
            w.u32(x.experimenter);
            w.u32(x.exp_type);
            w.bytes(x.data);
          },
          [&](const FeaturesReply& f) {
            w.u64(f.datapath_id);
            w.u32(f.n_buffers);
            w.u8(f.n_tables);
            w.u8(f.auxiliary_id);
            w.zeros(2);
            w.u32(f.capabilities);
            w.u32(0);  // reserved
          },
          [&](const GetConfigReply& c) {
            w.u16(c.flags);
            w.u16(c.miss_send_len);
          },
          [&](const SetConfig& c) {
            w.u16(c.flags);
            w.u16(c.miss_send_len);
          },
          [&](const PacketIn& p) {
            w.u32(p.buffer_id);
            w.u16(p.total_len);
            w.u8(static_cast<uint8_t>(p.reason));
            w.u8(p.table_id);
            w.u64(p.cookie);
            encode_match_w(p.match, w);
            w.zeros(2);
            w.bytes(p.data);
          },
          [&](const FlowRemoved& f) {
            w.u64(f.cookie);
            w.u16(f.priority);
            w.u8(static_cast<uint8_t>(f.reason));
            w.u8(f.table_id);
            w.u32(f.duration_sec);
            w.u32(f.duration_nsec);
            w.u16(f.idle_timeout);
            w.u16(f.hard_timeout);
            w.u64(f.packet_count);
            w.u64(f.byte_count);
            encode_match_w(f.match, w);
          },
          [&](const PortStatus& p) {
            w.u8(static_cast<uint8_t>(p.reason));
            w.zeros(7);
            encode_port(p.desc, w);
          },
          [&](const PacketOut& p) {
            w.u32(p.buffer_id);
            w.u32(p.in_port);
            size_t len_at = w.size();
            w.u16(0);
            w.zeros(6);
            size_t start = w.size();
            encode_action_list(p.actions, w);
            w.patch16(len_at, w.size() - start, "packet-out actions");
            w.bytes(p.data);
          },
          [&](const FlowModMsg& m) {
            const FlowMod& fm = m.mod;
            w.u64(fm.cookie);
            w.u64(fm.cookie_mask);
            w.u8(fm.table_id);
            w.u8(static_cast<uint8_t>(fm.command));
            w.u16(fm.idle_timeout);
            w.u16(fm.hard_timeout);
            w.u16(fm.priority);
            w.u32(m.buffer_id);
            w.u32(fm.out_port);
            w.u32(fm.out_group);
            w.u16(fm.flags);
            w.zeros(2);
            encode_match_w(fm.match, w);
            encode_instructions_w(fm.instructions, w);
          },
          [&](const GroupModMsg& m) {
            w.u16(static_cast<uint16_t>(m.mod.command));
            w.u8(static_cast<uint8_t>(m.mod.type));
            w.zeros(1);
            w.u32(m.mod.group_id);
            encode_buckets(m.mod.buckets, w);
          },
          [&](const PortMod& p) {
            w.u32(p.port_no);
            w.zeros(4);
            w.bytes(p.hw_addr);
            w.zeros(2);
            w.u32(p.config);
            w.u32(p.mask);
            w.u32(p.advertise);
            w.zeros(4);
          },
          [&](const TableMod& t) {
            w.u8(t.table_id);
            w.zeros(3);
            w.u32(t.config);
          },
          [&](const MultipartRequest& m) {
            w.u16(static_cast<uint16_t>(multipart_type(m.body)));
            w.u16(m.flags);
            w.zeros(4);
            encode_mp_request(m.body, w);
          },
          [&](const MultipartReply& m) {
            w.u16(static_cast<uint16_t>(multipart_type(m.body)));
            w.u16(m.flags);
            w.zeros(4);
            encode_mp_reply(m.body, w);
          },
          [&](const RoleRequest& r) {
            w.u32(static_cast<uint32_t>(r.role));
            w.zeros(4);
            w.u64(r.generation_id);
          },
          [&](const RoleReply& r) {
            w.u32(static_cast<uint32_t>(r.role));
            w.zeros(4);
            w.u64(r.generation_id);
          },
          [&](const GetAsyncReply& a) { encode_async(a.config, w); },
          [&](const SetAsync& a) { encode_async(a.config, w); },
          [&](const MeterMod& m) {
            w.u16(static_cast<uint16_t>(m.command));
            w.u16(m.flags);
            w.u32(m.meter_id);
            encode_bands(m.bands, w);
          },
          // Header-only messages.
          [&](const FeaturesRequest&) {},
          [&](const GetConfigRequest&) {},
          [&](const BarrierRequest&) {},
          [&](const BarrierReply&) {},
          [&](const GetAsyncRequest&) {},
      },
      body);
}

// Multipart splitting: bodies with a list of entries.
template <typename Reply, typename Entry>
std::vector<MultipartReply> split_list(const MultipartReply& whole, const Reply& rep,
                                       std::vector<Entry> Reply::*member, size_t max_len) {
  std::vector<MultipartReply> parts;
  const size_t budget = max_len - kMultipartHeaderLen;
  Reply cur;
  size_t used = 0;
  for (const Entry& e : rep.*member) {
    Bytes tmp;
    Writer w(&tmp);
    encode_entry(e, w);
    if (tmp.size() > budget)
      throw std::length_error("one multipart entry of " + std::to_string(tmp.size()) +
                              " bytes does not fit in a message");
    if (used + tmp.size() > budget) {
      parts.push_back(MultipartReply{kMultipartMore, std::move(cur)});
      cur = Reply{};
      used = 0;
    }
    (cur.*member).push_back(e);
    used += tmp.size();
  }
  parts.push_back(MultipartReply{whole.flags, std::move(cur)});
  return parts;
}

}  // namespace

// ---- public --------------------------------------------------------------------

bool FlowModMsg::operator==(const FlowModMsg& o) const {
  const FlowMod& a = mod;
  const FlowMod& b = o.mod;
  return buffer_id == o.buffer_id && a.command == b.command && a.table_id == b.table_id &&
         a.priority == b.priority && a.match == b.match && a.cookie == b.cookie &&
         a.cookie_mask == b.cookie_mask && a.idle_timeout == b.idle_timeout &&
         a.hard_timeout == b.hard_timeout && a.flags == b.flags && a.out_port == b.out_port &&
         a.out_group == b.out_group && a.instructions == b.instructions;
}

bool GroupModMsg::operator==(const GroupModMsg& o) const {
  return mod.command == o.mod.command && mod.type == o.mod.type &&
         mod.group_id == o.mod.group_id && mod.buckets == o.mod.buckets;
}

OfpType message_type(const OfBody& body) {
  static constexpr OfpType kTypes[] = {
      OfpType::kHello,          OfpType::kError,           OfpType::kEchoRequest,
      OfpType::kEchoReply,      OfpType::kExperimenter,    OfpType::kFeaturesRequest,
      OfpType::kFeaturesReply,  OfpType::kGetConfigRequest, OfpType::kGetConfigReply,
      OfpType::kSetConfig,      OfpType::kPacketIn,        OfpType::kFlowRemoved,
      OfpType::kPortStatus,     OfpType::kPacketOut,       OfpType::kFlowMod,
      OfpType::kGroupMod,       OfpType::kPortMod,         OfpType::kTableMod,
      OfpType::kMultipartRequest, OfpType::kMultipartReply, OfpType::kBarrierRequest,
      OfpType::kBarrierReply,   OfpType::kRoleRequest,     OfpType::kRoleReply,
      OfpType::kGetAsyncRequest, OfpType::kGetAsyncReply,  OfpType::kSetAsync,
      OfpType::kMeterMod,
  };
  static_assert(std::size(kTypes) == std::variant_size_v<OfBody>);
  return kTypes[body.index()];
}

MultipartType multipart_type(const MultipartRequestBody& body) {
  static constexpr MultipartType kTypes[] = {
      MultipartType::kDesc,          MultipartType::kFlow,         MultipartType::kAggregate,
      MultipartType::kTable,         MultipartType::kPortStats,    MultipartType::kQueue,
      MultipartType::kGroup,         MultipartType::kGroupDesc,    MultipartType::kGroupFeatures,
      MultipartType::kMeter,         MultipartType::kMeterConfig,  MultipartType::kMeterFeatures,
      MultipartType::kTableFeatures, MultipartType::kPortDesc,
  };
  static_assert(std::size(kTypes) == std::variant_size_v<MultipartRequestBody>);
  return kTypes[body.index()];
}

MultipartType multipart_type(const MultipartReplyBody& body) {
  // The reply variant lists the types in the same order as the request one.
  static_assert(std::variant_size_v<MultipartReplyBody> ==
                std::variant_size_v<MultipartRequestBody>);
  static constexpr MultipartType kTypes[] = {
      MultipartType::kDesc,          MultipartType::kFlow,         MultipartType::kAggregate,
      MultipartType::kTable,         MultipartType::kPortStats,    MultipartType::kQueue,
      MultipartType::kGroup,         MultipartType::kGroupDesc,    MultipartType::kGroupFeatures,
      MultipartType::kMeter,         MultipartType::kMeterConfig,  MultipartType::kMeterFeatures,
      MultipartType::kTableFeatures, MultipartType::kPortDesc,
  };
  return kTypes[body.index()];
}

const char* of_type_name(OfpType t) {
  static constexpr const char* kNames[] = {
      "OFPT_HELLO",          "OFPT_ERROR",           "OFPT_ECHO_REQUEST",
      "OFPT_ECHO_REPLY",     "OFPT_EXPERIMENTER",    "OFPT_FEATURES_REQUEST",
      "OFPT_FEATURES_REPLY", "OFPT_GET_CONFIG_REQUEST", "OFPT_GET_CONFIG_REPLY",
      "OFPT_SET_CONFIG",     "OFPT_PACKET_IN",       "OFPT_FLOW_REMOVED",
      "OFPT_PORT_STATUS",    "OFPT_PACKET_OUT",      "OFPT_FLOW_MOD",
      "OFPT_GROUP_MOD",      "OFPT_PORT_MOD",        "OFPT_TABLE_MOD",
      "OFPT_MULTIPART_REQUEST", "OFPT_MULTIPART_REPLY", "OFPT_BARRIER_REQUEST",
      "OFPT_BARRIER_REPLY",  "OFPT_QUEUE_GET_CONFIG_REQUEST", "OFPT_QUEUE_GET_CONFIG_REPLY",
      "OFPT_ROLE_REQUEST",   "OFPT_ROLE_REPLY",      "OFPT_GET_ASYNC_REQUEST",
      "OFPT_GET_ASYNC_REPLY", "OFPT_SET_ASYNC",      "OFPT_METER_MOD",
  };
  auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "OFPT_UNKNOWN";
}

const char* multipart_type_name(MultipartType t) {
  static constexpr const char* kNames[] = {
      "OFPMP_DESC",      "OFPMP_FLOW",         "OFPMP_AGGREGATE",     "OFPMP_TABLE",
      "OFPMP_PORT_STATS", "OFPMP_QUEUE",       "OFPMP_GROUP",         "OFPMP_GROUP_DESC",
      "OFPMP_GROUP_FEATURES", "OFPMP_METER",   "OFPMP_METER_CONFIG",  "OFPMP_METER_FEATURES",
      "OFPMP_TABLE_FEATURES", "OFPMP_PORT_DESC",
  };
  if (t == MultipartType::kExperimenter) return "OFPMP_EXPERIMENTER";
  auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "OFPMP_UNKNOWN";
}

MaybeError decode(std::span<const uint8_t> bytes, OfMessage* out, const DecodeOptions& options) {
  if (bytes.size() < kOfpHeaderLen)
    return bad_len("message of " + std::to_string(bytes.size()) +
                   " bytes is shorter than the 8-byte OpenFlow header");
  Reader r(bytes, 0);
  uint8_t version = r.u8();
  uint8_t type = r.u8();
  uint16_t length = r.u16();
  uint32_t xid = r.u32();
  if (length != bytes.size())
    return bad_len("header length " + std::to_string(length) + " does not match the " +
                   std::to_string(bytes.size()) + " bytes of the message");
  if (type != static_cast<uint8_t>(OfpType::kHello) && version != kOfpVersion13)
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadVersion,
               "OpenFlow version 0x" + std::to_string(version >> 4) +
                   std::to_string(version & 0xf) + " is not supported (only 0x04, OpenFlow 1.3)");
  if (type > static_cast<uint8_t>(OfpType::kMeterMod))
    return err(OfErrorType::kBadRequest, BadRequestCode::kBadType,
               "message type " + std::to_string(type) + " is unknown");
  OfMessage msg;
  msg.version = version;
  msg.xid = xid;
  OF_TRY(decode_body(static_cast<OfpType>(type), r, &msg, options));
  *out = std::move(msg);
  return std::nullopt;
}

Bytes encode(const OfMessage& msg) {
  Bytes out;
  out.reserve(64);
  Writer w(&out);
  w.u8(msg.version);
  w.u8(static_cast<uint8_t>(message_type(msg.body)));
  w.u16(0);
  w.u32(msg.xid);
  encode_body(msg.body, w);
  w.patch16(2, out.size(), of_type_name(message_type(msg.body)));
  return out;
}

void encode_match(const OfMatch& match, Bytes* out) {
  Writer w(out);
  encode_match_w(match, w);
}
void encode_actions(const ActionList& actions, Bytes* out) {
  Writer w(out);
  encode_action_list(actions, w);
}
void encode_instructions(const Instructions& insts, Bytes* out) {
  Writer w(out);
  encode_instructions_w(insts, w);
}
MaybeError decode_match(std::span<const uint8_t> bytes, OfMatch* out, size_t* consumed) {
  Reader r(bytes, 0);
  OF_TRY(decode_match_at(r, out));
  if (consumed) *consumed = bytes.size() - r.left();
  return std::nullopt;
}
MaybeError decode_actions(std::span<const uint8_t> bytes, ActionList* out) {
  Reader r(bytes, 0);
  return decode_actions_at(r, out);
}
MaybeError decode_instructions(std::span<const uint8_t> bytes, Instructions* out) {
  Reader r(bytes, 0);
  return decode_instructions_at(r, out);
}

OfMessage make_error_reply(const OfError& error, std::span<const uint8_t> offending) {
  OfMessage m;
  if (offending.size() >= kOfpHeaderLen) {
    Reader r(offending, 0);
    r.skip(4);
    m.xid = r.u32();
  }
  ErrorMsg e;
  e.type = error.type;
  e.code = error.code;
  if (error.type == OfErrorType::kHelloFailed) {
    e.data.assign(error.message.begin(), error.message.end());
  } else {
    size_t n = std::min(offending.size(), kOfpErrorDataLen);
    e.data.assign(offending.begin(), offending.begin() + static_cast<ptrdiff_t>(n));
  }
  m.body = std::move(e);
  return m;
}

std::vector<MultipartReply> split_multipart_reply(const MultipartReply& reply, size_t max_len) {
  max_len = std::min(max_len, kOfpMaxMessageLen);
  if (max_len <= kMultipartHeaderLen) throw std::invalid_argument("max_len too small");
  return std::visit(
      Overloaded{
          [&](const FlowStatsReply& r) { return split_list(reply, r, &FlowStatsReply::flows, max_len); },
          [&](const TableStatsReply& r) { return split_list(reply, r, &TableStatsReply::tables, max_len); },
          [&](const PortStatsReply& r) { return split_list(reply, r, &PortStatsReply::ports, max_len); },
          [&](const QueueStatsReply& r) { return split_list(reply, r, &QueueStatsReply::queues, max_len); },
          [&](const GroupStatsReply& r) { return split_list(reply, r, &GroupStatsReply::groups, max_len); },
          [&](const GroupDescReply& r) { return split_list(reply, r, &GroupDescReply::groups, max_len); },
          [&](const MeterStatsReply& r) { return split_list(reply, r, &MeterStatsReply::meters, max_len); },
          [&](const MeterConfigReply& r) { return split_list(reply, r, &MeterConfigReply::meters, max_len); },
          [&](const TableFeaturesReply& r) { return split_list(reply, r, &TableFeaturesReply::tables, max_len); },
          [&](const PortDescReply& r) { return split_list(reply, r, &PortDescReply::ports, max_len); },
          [&](const auto&) { return std::vector<MultipartReply>{reply}; },
      },
      reply.body);
}

std::vector<Bytes> encode_multipart_reply(uint32_t xid, const MultipartReply& reply,
                                          size_t max_len) {
  std::vector<Bytes> out;
  for (auto& part : split_multipart_reply(reply, max_len)) {
    OfMessage m;
    m.xid = xid;
    m.body = std::move(part);
    out.push_back(encode(m));
  }
  return out;
}

void MessageFramer::append(std::span<const uint8_t> data) {
  if (head_ > 0 && head_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

MessageFramer::Status MessageFramer::next(Bytes* msg) {
  size_t avail = buf_.size() - head_;
  if (avail < kOfpHeaderLen) return Status::kNeedMore;
  size_t len = size_t{buf_[head_ + 2]} << 8 | buf_[head_ + 3];
  if (len < kOfpHeaderLen) return Status::kBadLength;
  if (avail < len) return Status::kNeedMore;
  msg->assign(buf_.begin() + static_cast<ptrdiff_t>(head_),
              buf_.begin() + static_cast<ptrdiff_t>(head_ + len));
  head_ += len;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
  return Status::kMessage;
}

OfMessage MessageFramer::error_message() const {
  size_t avail = buf_.size() - head_;
  std::span<const uint8_t> hdr(buf_.data() + head_, std::min(avail, kOfpErrorDataLen));
  size_t len = avail >= 4 ? (size_t{buf_[head_ + 2]} << 8 | buf_[head_ + 3]) : 0;
  return make_error_reply(bad_len("header length " + std::to_string(len) +
                                  " is shorter than the 8-byte OpenFlow header"),
                          hdr);
}

}  // namespace dps::ofproto
