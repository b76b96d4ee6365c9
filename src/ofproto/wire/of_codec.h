// of_codec.h - the OpenFlow 1.3.5 wire codec: bytes <-> OfMessage.
//
// What: decode() turns one framed OpenFlow message into a typed OfMessage
// or the OfError (type/code as the specification names them) that the
// switch must answer with; encode() turns an OfMessage into wire bytes.
// Around them: make_error_reply() builds the OFPT_ERROR for a rejected
// message (its xid and first 64 bytes), MessageFramer splits a TCP byte
// stream into messages, and split_multipart_reply() cuts a large reply into
// parts of at most 64 KiB chained with OFPMPF_REPLY_MORE.
//
// Design: a bounds-checked reader over std::span; no length field is
// trusted: every header, OXM, action, instruction, bucket, band, property
// and stats entry length is checked against what is left of its parent
// before it is used, and against the minimum and padding the spec gives
// (OXM match and set-field padded to 8; actions, instructions, buckets and
// stats entries multiples of 8). Errors carry the spec's code and a message
// naming the element and byte offset. The codec checks structure and
// ranges only (unknown types, bad lengths, bad OXM, reserved ports where no
// reserved port is allowed); semantics that need switch state (group and
// meter existence, table ranges for add, set-field prerequisites against
// the match) are Pipeline's validate_instructions(). Matches are checked for
// OXM prerequisites here (bad_match/bad_prereq), as the spec puts that in
// the match's decoding. Encoding writes matches in OXM field order and
// instructions in execution order (meter, apply, clear, write,
// write-metadata, goto-table).
//
// Where: of_codec.cc has the header and one decoder/encoder per message
// (decoding dispatches on a table by OFPT_*), of_codec_parts.cc the match,
// actions, instructions, buckets and bands, of_codec_multipart.cc the
// OFPMP_* bodies and table features; of_codec_io.h is their shared toolbox
// (reader, writer, one layout() per fixed structure for both directions).
//
// Thread-safety: pure functions; MessageFramer is a plain value owned by
// one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "of_error.h"
#include "of_messages.h"

namespace dps::ofproto {

struct DecodeOptions {
  // OFPT_EXPERIMENTER and experimenter errors are decoded into
  // ExperimenterMsg when true; when false (the switch: it implements no
  // experimenter extension) they are rejected with
  // bad_request/bad_experimenter, as the spec asks.
  bool accept_experimenter = false;
  // The switch's TLV table: tun_metadataN in matches and set_fields must be
  // mapped there (NXFMFC_INVALID_TLV_FIELD otherwise) and is placed at its
  // mapping. Null (a controller decoding a switch's messages): placed in
  // the order they come, with their wire lengths.
  const TunMetadataLayout* tlv = nullptr;
};

// Decodes exactly one message: bytes.size() must equal the header length.
// On error *out is unspecified. HELLO of any version decodes (version
// negotiation needs it); any other message must be version 0x04
// (bad_request/bad_version).
MaybeError decode(std::span<const uint8_t> bytes, OfMessage* out,
                  const DecodeOptions& options = {});

// Encodes msg. Throws std::length_error when the result would exceed
// 65535 bytes (split multipart replies with split_multipart_reply first)
// and std::invalid_argument for a table-feature property type it does not
// know. Strings longer than their field are truncated (port names to 15
// characters, always NUL-terminated); OfMatch values are valid by
// construction.
Bytes encode(const OfMessage& msg);

// Sub-encoders, exposed for tests and for table-features/stat sizing.
void encode_match(const OfMatch& match, Bytes* out);  // ofp_match, padded to 8
void encode_actions(const ActionList& actions, Bytes* out);
void encode_instructions(const Instructions& insts, Bytes* out);
MaybeError decode_match(std::span<const uint8_t> bytes, OfMatch* out, size_t* consumed,
                        const TunMetadataLayout* tlv = nullptr);
MaybeError decode_actions(std::span<const uint8_t> bytes, ActionList* out,
                          const TunMetadataLayout* tlv = nullptr);
MaybeError decode_instructions(std::span<const uint8_t> bytes, Instructions* out,
                               const TunMetadataLayout* tlv = nullptr);

// The OFPT_ERROR answering `offending` (a framed message, possibly
// malformed): same xid (0 when fewer than 8 bytes), version 0x04, data =
// the first 64 bytes of the offending message. For hello_failed the data is
// the error's message text instead, as the spec asks.
OfMessage make_error_reply(const OfError& error, std::span<const uint8_t> offending);

// Splits a reply into parts that each encode to at most max_len bytes
// (default and upper bound 65535): every part but the last carries
// OFPMPF_REPLY_MORE, the last carries reply.flags. Single-entry bodies
// (DESC, AGGREGATE, GROUP_FEATURES, METER_FEATURES) are one part. Throws
// std::length_error when one entry alone does not fit.
std::vector<MultipartReply> split_multipart_reply(const MultipartReply& reply,
                                                  size_t max_len = kOfpMaxMessageLen);
// Same, encoded, all with the given xid.
std::vector<Bytes> encode_multipart_reply(uint32_t xid, const MultipartReply& reply,
                                          size_t max_len = kOfpMaxMessageLen);

// Splits a TCP byte stream into OpenFlow messages by header length.
// Memory is bounded: at most one partial message (< 64 KiB) plus the bytes
// of the last append() are kept.
class MessageFramer {
 public:
  enum class Status : uint8_t {
    kNeedMore,   // no complete message buffered
    kMessage,    // *msg holds one message (header length bytes)
    kBadLength,  // header length < 8: the stream cannot be resynchronized;
                 // answer bad_request/bad_len (error_message()) and close
  };

  void append(std::span<const uint8_t> data);
  Status next(Bytes* msg);
  // The error to send for kBadLength, built from the buffered header.
  OfMessage error_message() const;
  size_t buffered() const { return buf_.size() - head_; }

 private:
  Bytes buf_;
  size_t head_ = 0;
};

}  // namespace dps::ofproto
