// of_codec_fuzz.cc - libFuzzer target for the OpenFlow 1.3 decoder.
//
// Every input must either decode or produce an OfError with a message;
// never crash, never read outside the input (AddressSanitizer). A decoded
// message must re-encode, and the re-encoded bytes must decode to the same
// message (the codec is a bijection on what it accepts, up to padding).
// The input is also pushed through MessageFramer in two pieces, and every
// rejected input's error reply must encode to at most 8 + 4 + 64 bytes.
//
// Build and run: scripts/fuzz-of-codec.sh SECONDS (clang, outside meson).
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "of_codec.h"

using namespace dps::ofproto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  for (bool accept : {false, true}) {
    DecodeOptions opt;
    opt.accept_experimenter = accept;
    OfMessage msg;
    MaybeError err = decode(in, &msg, opt);
    if (err) {
      if (err->message.empty()) abort();
      Bytes reply = encode(make_error_reply(*err, in));
      if (reply.size() > 8 + 4 + 64) abort();
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
