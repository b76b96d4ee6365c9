// match_fields.h - match field names and values of the ovs-ofctl syntax,
// shared by the flow parser (matches), the action parser (set_field and
// the mod_* rewrites) and the printer.
//
// What: resolve_field() turns an OVS or OXM field name into the OXM field
// under the protocol context of a match (nw_src is ipv4_src, or arp_spa
// after `arp`; tp_dst is tcp_dst, udp_dst or sctp_dst after the protocol);
// parse_field_value() reads "value[/mask]" for a field by its kind (MAC,
// IPv4, IPv6 or number); kShorthands lists the protocol shorthands (ip,
// tcp6, arp, ...) both the parser and the printer use.
//
// Design: name tables and free functions; errors name the field as the user
// wrote it and, for context-dependent names, what is missing.
//
// Thread-safety: pure functions and constant tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "of_error.h"
#include "of_match.h"

namespace dps::ofproto::syntax {

// How a field's value is written (of_match.h OxmValueKind).
using Kind = OxmValueKind;
inline Kind kind_of(OxmField f) { return oxm_value_kind(f); }

// Parses "value[/mask]" for field f. `name` is what the user wrote.
MaybeError parse_field_value(OxmField f, std::string_view text, const std::string& name,
                             FieldValue* value, std::optional<FieldValue>* mask);

// Context for OVS names whose field depends on the protocol.
struct Ctx {
  std::optional<uint16_t> eth_type;
  std::optional<uint8_t> proto;
};
Ctx context_of(const OfMatch& m);

// Resolves an OVS or OXM field name to the OXM field, given the protocol
// context. Error messages for context-dependent names say what is missing.
MaybeError resolve_field(const std::string& name, const Ctx& c, OxmField* out);

// Sets field f from text into m; values are ANDed with their masks.
// tun_metadataN is placed by tlv (not mapped there: NXFMFC_INVALID_TLV_FIELD);
// without a table it is placed after the match's other tun_metadata fields
// with its written length, as ovs-ofctl does.
MaybeError set_match_field(OfMatch* m, OxmField f, std::string_view text, const std::string& name,
                           const TunMetadataLayout* tlv = nullptr);

// The field of an NXM name or a field name with an optional bit range, as
// load/move write it: "NXM_NX_TUN_ID[]", "tun_dst", "NXM_NX_TUN_ID[0..31]".
// *whole is false when the range is not the whole field.
// ofs/nbits (when given) receive the bit range (the whole field: 0, width * 8).
MaybeError parse_subfield(std::string_view text, const Ctx& c, OxmField* out, bool* whole,
                          unsigned* ofs = nullptr, unsigned* nbits = nullptr);

// A number as load writes it, right-aligned in a FieldValue: "0x" and up
// to 2 * kFieldValueMax hex digits, or decimal.
bool parse_hex_bytes(std::string_view text, FieldValue* out);

// "+oam" / "-oam" as ovs-ofctl prints tun_flags (value, mask of the oam bit).
std::string format_tun_flags(uint64_t value, uint64_t mask);

struct Shorthand {
  const char* name;
  uint16_t eth_type;
  int proto;  // -1 = none
};
// flat table
inline constexpr Shorthand kShorthands[] = {
    {"ip", 0x0800, -1},    {"ipv6", 0x86dd, -1}, {"icmp", 0x0800, 1},   {"icmp6", 0x86dd, 58},
    {"tcp", 0x0800, 6},    {"tcp6", 0x86dd, 6},  {"udp", 0x0800, 17},   {"udp6", 0x86dd, 17},
    {"sctp", 0x0800, 132}, {"sctp6", 0x86dd, 132}, {"arp", 0x0806, -1}, {"rarp", 0x8035, -1},
    {"mpls", 0x8847, -1},  {"mplsm", 0x8848, -1},
};

}  // namespace dps::ofproto::syntax
