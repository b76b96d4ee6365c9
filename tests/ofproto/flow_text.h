// flow_text.h - a flow in ovs-ofctl's text syntax parsed for a test (Catch2
// REQUIREs it parses), or the parser's error message.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "flow_parser.h"

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

}  // namespace dps::test
