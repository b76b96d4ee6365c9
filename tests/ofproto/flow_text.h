// flow_text.h - a flow in ovs-ofctl's text syntax parsed for a test (Catch2
// REQUIREs it parses), or the parser's error message; a message decoded
// from wire bytes (REQUIREd to decode) and its FlowMod.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <variant>

#include "flow_parser.h"
#include "of_codec.h"

namespace dps::test {

inline ofproto::FlowMod parse_ok(const std::string& text,
                                 ofproto::FlowParseMode mode = ofproto::FlowParseMode::kAdd) {
  ofproto::FlowMod f;
  ofproto::MaybeError e = ofproto::parse_flow(text, &f, mode);
  INFO("'" << text << "': " << (e ? e->message : std::string("ok")));
  REQUIRE_FALSE(e);
  return f;
}

// The error, or "no error".
inline std::string parse_error(const std::string& text,
                               ofproto::FlowParseMode mode = ofproto::FlowParseMode::kAdd) {
  ofproto::FlowMod f;
  ofproto::MaybeError e = ofproto::parse_flow(text, &f, mode);
  return e ? e->message : std::string("no error");
}

// The message in `wire`; REQUIREs that it decodes (the failure shows
// `what`, when given, and the decoder's error).
inline ofproto::OfMessage decode_ok(std::span<const uint8_t> wire, const ofproto::DecodeOptions& opts = {},
                                    const std::string& what = "") {
  ofproto::OfMessage m;
  ofproto::MaybeError e = ofproto::decode(wire, &m, opts);
  INFO(what << (what.empty() ? "" : ": ") << (e ? e->message : std::string()));
  REQUIRE_FALSE(e);
  return m;
}

// The FlowMod of a decoded FLOW_MOD message.
inline const ofproto::FlowMod& flow_mod_of(const ofproto::OfMessage& m) {
  return std::get<ofproto::FlowModMsg>(m.body).mod;
}

}  // namespace dps::test
