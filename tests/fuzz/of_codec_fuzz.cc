// of_codec_fuzz.cc - libFuzzer target for the OpenFlow 1.3 decoder.
//
// Every input must either decode or produce an OfError with a message
// (without a TLV table, as a controller decodes, and with one, as the switch
// does: tun_metadata fields placed by it);
// never crash, never read outside the input (AddressSanitizer). A decoded
// message must re-encode, and the re-encoded bytes must decode to the same
// message (the codec is a bijection on what it accepts, up to padding).
// The input is also pushed through MessageFramer in two pieces, and every
// rejected input's error reply must encode to at most 8 + 4 + 4 + 64 bytes
// (the 4: the experimenter id of a Nicira error, NXTTMFC_* and the like).
//
// Build and run: scripts/fuzz-of-codec.sh SECONDS (clang, outside meson).
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "of_codec.h"

using namespace dps::ofproto;

// A switch's TLV table: tun_metadata0..3 mapped (4, 8, 4, 32 bytes).
const TunMetadataLayout& switch_tlv() {
  static const TunMetadataLayout l = [] {
    TunMetadataLayout t;
    t.loc[0] = {0, 4};
    t.loc[1] = {4, 8};
    t.loc[2] = {12, 4};
    t.loc[3] = {16, 32};
    return t;
  }();
  return l;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  for (int mode : {0, 1, 2}) {
    DecodeOptions opt;
    opt.accept_experimenter = mode == 1;
    opt.tlv = mode == 2 ? &switch_tlv() : nullptr;  // as the switch decodes
    OfMessage msg;
    MaybeError err = decode(in, &msg, opt);
    if (err) {
      if (err->message.empty()) abort();
      Bytes reply = encode(make_error_reply(*err, in));
      // header, type, code, (experimenter id: Nicira errors), 64 bytes
      if (reply.size() > 8 + 4 + 4 + 64) abort();
      continue;
    }
    Bytes again;
    try {
      again = encode(msg);
    } catch (const std::length_error&) {
      abort();  // it came from at most 65535 bytes
    }
    OfMessage back;
    if (decode(again, &back, opt)) abort();
    if (!(back == msg)) abort();
  }
  // Framing: the same bytes split at an arbitrary point.
  MessageFramer framer;
  size_t cut = size ? data[0] % (size + 1) : 0;
  framer.append(in.subspan(0, cut));
  framer.append(in.subspan(cut));
  Bytes m;
  size_t total = 0;
  for (;;) {
    MessageFramer::Status st = framer.next(&m);
    if (st != MessageFramer::Status::kMessage) {
      if (st == MessageFramer::Status::kBadLength) (void)encode(framer.error_message());
      break;
    }
    if (m.size() < 8) abort();
    total += m.size();
    OfMessage msg;
    (void)decode(m, &msg);
  }
  if (total > size) abort();
  return 0;
}
