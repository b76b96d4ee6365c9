// syntax_text.h - the lexical pieces of the ovs-ofctl text syntax, shared by
// the flow, action, group and printing code of this folder.
//
// What: numbers (decimal or 0x hex), MAC / IPv4 / IPv6 addresses, port
// names, "value/mask" and top-level comma splitting, and the error every
// syntax error is (bad_request with a message naming the token).
//
// Design: free functions over std::string_view, no state; a parser returns
// nullopt / false on bad text and leaves the message to its caller, which
// knows the field or action the text belongs to. Internal to the syntax
// layer (namespace syntax); the public API is flow_parser.h.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "of_error.h"
#include "of_match.h"

namespace dps::ofproto::syntax {

// A syntax error: bad_request, code 0, with msg.
OfError perr(std::string msg);

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);

// Unsigned integer, decimal or 0x hex, no sign, no trailing junk.
std::optional<uint64_t> parse_uint(std::string_view s);
std::optional<uint64_t> parse_uint_max(std::string_view s, uint64_t max);
bool parse_mac(std::string_view s, uint8_t out[6]);
bool parse_ipv4(std::string_view s, uint32_t* host);
bool parse_ipv6(std::string_view s, uint8_t out[16]);
// Reserved port names (OpenFlow 1.3 numbers); OF1.0 numbers are accepted too.
std::optional<uint32_t> parse_port(std::string_view s);

// "v/m" -> v and m; "v" -> v and no mask.
void split_mask(std::string_view s, std::string_view* v, std::optional<std::string_view>* m);
// Splits "a,b(c,d),e" at top-level commas (empty pieces dropped).
MaybeError split_top(std::string_view s, std::vector<std::string_view>* out);

// The entry of a keyword table (entries with a `name`) named `name`, or null.
template <typename Entry, size_t N>
const Entry* find_named(const Entry (&table)[N], std::string_view name) {
  for (const Entry& e : table)
    if (name == e.name) return &e;
  return nullptr;
}

// "0x1f".
std::string hex(uint64_t v);
// Prefix length of a contiguous mask of `width` bytes, or -1.
int prefix_len(const FieldValue& m, unsigned width);

}  // namespace dps::ofproto::syntax
