// One rule of the ovs-ofctl syntax, in stages: split off actions=, split the
// match part into key[=value] tokens, apply the flow keywords (table,
// priority, cookie, flags, ...) and protocol shorthands, then the match
// fields in three passes (dl_type, nw_proto, the rest), the checks that
// need the whole match, and the instructions (action_parser.cc).
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "flow_parser.h"
#include "match_fields.h"
#include "syntax_text.h"

namespace dps::ofproto {

using namespace syntax;

namespace {

// The two halves of a rule's text.
struct RuleText {
  std::string_view match;
  std::string_view actions;
  bool have_actions = false;
};

// One token of the match part: "key" or "key=value" (key in lower case).
struct MatchTok {
  std::string key;
  std::string_view value;
  bool has_value;
};

// What dl_vlan / dl_vlan_pcp said, for the checks after all fields.
struct VlanNotes {
  bool pcp = false;       // dl_vlan_pcp given
  bool untagged = false;  // dl_vlan=0xffff
};

FlowMod empty_flow_mod(FlowParseMode mode, bool strict) {
  FlowMod fm;
  switch (mode) {
    case FlowParseMode::kAdd: fm.command = FlowModCommand::kAdd; break;
    case FlowParseMode::kModify:
      fm.command = strict ? FlowModCommand::kModifyStrict : FlowModCommand::kModify;
      fm.table_id = kTableAll;
      break;
    case FlowParseMode::kDelete:
      fm.command = strict ? FlowModCommand::kDeleteStrict : FlowModCommand::kDelete;
      fm.table_id = kTableAll;
      break;
  }
  return fm;
}

// Splits off actions= (also "action="); deletes take none, the others need them.
MaybeError split_rule(std::string_view text, FlowParseMode mode, RuleText* out) {
  out->match = text;
  for (const char* kw : {"actions=", "action="}) {
    size_t pos = text.find(kw);
    if (pos != std::string_view::npos && (pos == 0 || std::string_view(" \t,").find(text[pos - 1]) != std::string_view::npos)) {
      out->match = text.substr(0, pos);
      out->actions = text.substr(pos + std::strlen(kw));
      out->have_actions = true;
      break;
    }
  }
  if (mode == FlowParseMode::kDelete && out->have_actions)
    return perr("actions are not allowed when deleting flows");
  if (mode != FlowParseMode::kDelete && !out->have_actions)
    return perr("missing actions= (use actions=drop for a rule that drops)");
  return std::nullopt;
}

// Tokens separated by commas and/or white space.
std::vector<MatchTok> tokenize(std::string_view s) {
  auto sep = [&](size_t i) { return s[i] == ',' || std::isspace(static_cast<unsigned char>(s[i])); };
  std::vector<MatchTok> toks;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && sep(i)) i++;
    size_t start = i;
    while (i < s.size() && !sep(i)) i++;
    if (i == start) break;
    std::string_view t = s.substr(start, i - start);
    size_t eq = t.find('=');
    if (eq == std::string_view::npos)
      toks.push_back({lower(t), {}, false});
    else
      toks.push_back({lower(t.substr(0, eq)), t.substr(eq + 1), true});
  }
  return toks;
}

// --- Flow keywords (not match fields) ----------------------------------------------

struct FlowKeyword;
using KeywordFn = MaybeError (*)(const MatchTok&, FlowParseMode, const FlowKeyword&, FlowMod*);
struct FlowKeyword {
  const char* name;
  KeywordFn apply;
  bool valued;                        // key=value: never read as a match field
  uint16_t FlowMod::*u16 = nullptr;   // kw_u16: the field it sets
  uint16_t flag = 0;                  // kw_flag: the flow-mod flag it sets
};

// The token's value as a number 0..max.
MaybeError keyword_value(const MatchTok& t, uint64_t max, uint64_t* v) {
  if (!t.has_value) return perr(t.key + " needs a value");
  auto p = parse_uint_max(t.value, max);
  if (!p) return perr(t.key + ": bad value '" + std::string(t.value) + "' (max " + std::to_string(max) + ")");
  *v = *p;
  return std::nullopt;
}

// table=N, or table=all for modify and delete.
MaybeError kw_table(const MatchTok& t, FlowParseMode mode, const FlowKeyword&, FlowMod* fm) {
  if (!t.has_value) return perr("table needs a value");
  uint64_t v;
  if (lower(t.value) == "all") {
    v = kTableAll;
  } else {
    auto p = parse_uint(t.value);
    if (!p) return perr("table: bad value '" + std::string(t.value) + "'");
    v = *p;
  }
  if (v == kTableAll && mode == FlowParseMode::kAdd)
    return perr("table " + std::string(t.value) + " out of range 0..254 (add needs one table)");
  if (v > kTableAll) return perr("table " + std::string(t.value) + " out of range 0..254");
  fm->table_id = static_cast<uint8_t>(v);
  return std::nullopt;
}

MaybeError kw_u16(const MatchTok& t, FlowParseMode, const FlowKeyword& kw, FlowMod* fm) {
  uint64_t v;
  if (MaybeError e = keyword_value(t, 0xffff, &v)) return e;
  fm->*kw.u16 = static_cast<uint16_t>(v);
  return std::nullopt;
}

// cookie=V, or cookie=V/M when modifying or deleting (no mask: exact there).
MaybeError kw_cookie(const MatchTok& t, FlowParseMode mode, const FlowKeyword&, FlowMod* fm) {
  if (!t.has_value) return perr("cookie needs a value");
  std::string_view vs;
  std::optional<std::string_view> ms;
  split_mask(t.value, &vs, &ms);
  auto c = parse_uint(vs);
  if (!c) return perr("cookie: bad value '" + std::string(vs) + "'");
  fm->cookie = *c;
  if (ms) {
    if (mode == FlowParseMode::kAdd) return perr("cookie mask is only allowed when modifying or deleting flows");
    auto cm = parse_uint(*ms);
    if (!cm) return perr("cookie: bad mask '" + std::string(*ms) + "'");
    fm->cookie_mask = *cm;
  } else if (mode != FlowParseMode::kAdd) {
    fm->cookie_mask = ~0ull;
  }
  return std::nullopt;
}

MaybeError kw_out_port(const MatchTok& t, FlowParseMode mode, const FlowKeyword&, FlowMod* fm) {
  if (mode != FlowParseMode::kDelete) return perr("out_port is only allowed when deleting flows");
  auto p = t.has_value ? parse_port(t.value) : std::nullopt;
  if (!p) return perr("out_port: bad port '" + std::string(t.value) + "'");
  fm->out_port = *p;
  return std::nullopt;
}

MaybeError kw_out_group(const MatchTok& t, FlowParseMode mode, const FlowKeyword&, FlowMod* fm) {
  if (mode != FlowParseMode::kDelete) return perr("out_group is only allowed when deleting flows");
  uint64_t v;
  if (MaybeError e = keyword_value(t, 0xffffffffull, &v)) return e;
  fm->out_group = static_cast<uint32_t>(v);
  return std::nullopt;
}

MaybeError kw_flag(const MatchTok&, FlowParseMode, const FlowKeyword& kw, FlowMod* fm) {
  fm->flags |= kw.flag;
  return std::nullopt;
}

// dump-flows statistics: ignored so a dump can be loaded back.
MaybeError kw_stat(const MatchTok&, FlowParseMode, const FlowKeyword&, FlowMod*) { return std::nullopt; }

// flat table
constexpr FlowKeyword kFlowKeywords[] = {
    {"table", kw_table, true},
    {"priority", kw_u16, true, &FlowMod::priority},
    {"idle_timeout", kw_u16, true, &FlowMod::idle_timeout},
    {"hard_timeout", kw_u16, true, &FlowMod::hard_timeout},
    {"cookie", kw_cookie, true},
    {"out_port", kw_out_port, true},
    {"out_group", kw_out_group, true},
    {"send_flow_rem", kw_flag, false, nullptr, kFlagSendFlowRem},
    {"check_overlap", kw_flag, false, nullptr, kFlagCheckOverlap},
    {"reset_counts", kw_flag, false, nullptr, kFlagResetCounts},
    {"no_packet_counts", kw_flag, false, nullptr, kFlagNoPktCounts},
    {"no_byte_counts", kw_flag, false, nullptr, kFlagNoBytCounts},
    {"duration", kw_stat, true},
    {"n_packets", kw_stat, true},
    {"n_bytes", kw_stat, true},
    {"idle_age", kw_stat, true},
    {"hard_age", kw_stat, true},
};

// --- Protocol shorthands ---------------------------------------------------------------

// "tcp" and the like set eth_type and ip_proto. Shorthands may repeat
// compatibly ("ip,...,tcp"), not conflict ("ip,arp").
MaybeError apply_shorthand(const std::string& key, OfMatch* m) {
  const Shorthand* sh = find_named(kShorthands, key);
  if (!sh) return perr("unknown field '" + key + "'");
  Ctx have = context_of(*m);
  if (have.eth_type && *have.eth_type != sh->eth_type)
    return perr(key + " conflicts with the eth_type already matched (" +
                format_field_value(OxmField::kEthType, m->value_of(OxmField::kEthType)) + ")");
  if (!have.eth_type)
    if (MaybeError e = m->set_u64(OxmField::kEthType, sh->eth_type)) {
      e->message = key + ": " + e->message;
      return e;
    }
  if (sh->proto < 0) return std::nullopt;
  if (have.proto && *have.proto != sh->proto)
    return perr(key + " conflicts with the ip_proto already matched (" + std::to_string(*have.proto) + ")");
  if (!have.proto)
    if (MaybeError e = m->set_u64(OxmField::kIpProto, static_cast<uint64_t>(sh->proto))) {
      e->message = key + ": " + e->message;
      return e;
    }
  return std::nullopt;
}

// A bare "tun_metadataN" (no value) matches "option present", as OVS prints it.
bool is_bare_tun_metadata(const MatchTok& t) {
  auto f = oxm_field_by_name(t.key);
  return !t.has_value && f && is_tun_metadata(*f);
}

// Pass 0, in token order: flow keywords, and protocol shorthands (the
// other tokens without a value).
MaybeError apply_keywords(const std::vector<MatchTok>& toks, FlowParseMode mode, FlowMod* fm) {
  for (const MatchTok& t : toks) {
    if (const FlowKeyword* kw = find_named(kFlowKeywords, t.key)) {
      if (MaybeError e = kw->apply(t, mode, *kw, fm)) return e;
    } else if (!t.has_value && !is_bare_tun_metadata(t)) {
      if (MaybeError e = apply_shorthand(t.key, &fm->match)) return e;
    }
  }
  return std::nullopt;
}

// --- Match fields with their own syntax ------------------------------------------------

MaybeError fld_in_port(std::string_view value, OfMatch* m, VlanNotes*) {
  auto p = parse_port(value);
  if (!p || *p == kPortAny) return perr("in_port: bad port '" + std::string(value) + "'");
  return m->set_u64(OxmField::kInPort, *p);
}

// dl_vlan=VID, or 0xffff for untagged packets.
MaybeError fld_dl_vlan(std::string_view value, OfMatch* m, VlanNotes* vlan) {
  auto p = parse_uint(value);
  if (!p || (*p > 0xfff && *p != 0xffff))
    return perr("dl_vlan: bad VLAN id '" + std::string(value) + "' (0..4095, or 0xffff for untagged)");
  if (*p == 0xffff) {
    vlan->untagged = true;
    return m->set_u64(OxmField::kVlanVid, kOfpVidNone);
  }
  return m->set_u64(OxmField::kVlanVid, *p | kOfpVidPresent);
}

MaybeError fld_dl_vlan_pcp(std::string_view value, OfMatch* m, VlanNotes* vlan) {
  auto p = parse_uint_max(value, 7);
  if (!p) return perr("dl_vlan_pcp: bad priority '" + std::string(value) + "' (0..7)");
  if (MaybeError e = m->set_u64(OxmField::kVlanPcp, *p)) return e;
  vlan->pcp = true;
  return std::nullopt;
}

// vlan_tci=TCI[/MASK]: VID+CFI bits to vlan_vid, PCP bits to vlan_pcp.
MaybeError fld_vlan_tci(std::string_view value, OfMatch* m, VlanNotes*) {
  std::string_view vs;
  std::optional<std::string_view> ms;
  split_mask(value, &vs, &ms);
  auto tv = parse_uint_max(vs, 0xffff);
  auto tm = ms ? parse_uint_max(*ms, 0xffff) : std::optional<uint64_t>(0xffff);
  if (!tv || !tm) return perr("vlan_tci: bad value '" + std::string(value) + "'");
  uint64_t val = *tv & *tm, msk = *tm;
  bool untagged = (msk & kOfpVidPresent) && !(val & kOfpVidPresent);
  if (msk & 0x1fff)
    if (MaybeError e = m->set_u64_masked(OxmField::kVlanVid, val & 0x1fff, msk & 0x1fff)) return e;
  if (!untagged && (msk & 0xe000)) {
    if ((msk & 0xe000) != 0xe000)
      return perr("vlan_tci: the PCP bits (0xe000) must be fully masked or not at all");
    if (MaybeError e = m->set_u64(OxmField::kVlanPcp, val >> 13)) return e;
  }
  return std::nullopt;
}

// nw_tos=TOS (DSCP << 2) to ip_dscp.
MaybeError fld_nw_tos(std::string_view value, OfMatch* m, VlanNotes*) {
  auto p = parse_uint_max(value, 0xff);
  if (!p || (*p & 3)) return perr("nw_tos: bad value '" + std::string(value) + "' (DSCP << 2, low 2 bits zero)");
  return m->set_u64(OxmField::kIpDscp, *p >> 2);
}

struct SpecialField {
  const char* name;
  MaybeError (*apply)(std::string_view value, OfMatch*, VlanNotes*);
};
// flat table
constexpr SpecialField kSpecialFields[] = {
    {"in_port", fld_in_port},   {"dl_vlan", fld_dl_vlan}, {"dl_vlan_pcp", fld_dl_vlan_pcp},
    {"vlan_tci", fld_vlan_tci}, {"nw_tos", fld_nw_tos},
};

MaybeError apply_field(const MatchTok& t, OfMatch* m, VlanNotes* vlan, const TunMetadataLayout* tlv) {
  if (const SpecialField* sf = find_named(kSpecialFields, t.key)) return sf->apply(t.value, m, vlan);
  OxmField f;
  if (MaybeError e = resolve_field(t.key, context_of(*m), &f)) return e;
  return set_match_field(m, f, t.value, t.key, tlv);
}

// Fields resolve in three passes so that names depending on the protocol
// see it: dl_type first, then nw_proto, then everything else.
int field_pass(const std::string& key) {
  if (key == "dl_type" || key == "eth_type") return 1;
  if (key == "nw_proto" || key == "ip_proto") return 2;
  return 3;
}

MaybeError apply_fields(const std::vector<MatchTok>& toks, OfMatch* m, VlanNotes* vlan,
                        const TunMetadataLayout* tlv) {
  for (int pass = 1; pass <= 3; pass++) {
    for (const MatchTok& t : toks) {
      if (is_bare_tun_metadata(t) && pass == 3) {
        if (MaybeError e = apply_field({t.key, "0/0", true}, m, vlan, tlv)) return e;
        continue;
      }
      if (!t.has_value || field_pass(t.key) != pass) continue;
      if (const FlowKeyword* kw = find_named(kFlowKeywords, t.key); kw && kw->valued) continue;
      if (MaybeError e = apply_field(t, m, vlan, tlv)) return e;
    }
  }
  return std::nullopt;
}

// The checks that need the whole match.
MaybeError finish_match(const VlanNotes& vlan, OfMatch* m) {
  // dl_vlan_pcp alone means "tagged with this PCP", as in OVS.
  if (vlan.pcp && !m->has(OxmField::kVlanVid))
    if (MaybeError e = m->set_u64_masked(OxmField::kVlanVid, kOfpVidPresent, kOfpVidPresent)) return e;
  if (vlan.untagged && m->has(OxmField::kVlanPcp))
    return perr("dl_vlan_pcp cannot be matched on untagged packets (dl_vlan=0xffff)");
  return m->check_prerequisites();
}

}  // namespace

MaybeError parse_flow(std::string_view text, FlowMod* out, FlowParseMode mode, bool strict,
                      const TunMetadataLayout* tlv) {
  RuleText rule;
  if (MaybeError e = split_rule(text, mode, &rule)) return e;
  FlowMod fm = empty_flow_mod(mode, strict);
  const std::vector<MatchTok> toks = tokenize(rule.match);
  if (MaybeError e = apply_keywords(toks, mode, &fm)) return e;
  VlanNotes vlan;
  if (MaybeError e = apply_fields(toks, &fm.match, &vlan, tlv)) return e;
  if (MaybeError e = finish_match(vlan, &fm.match)) return e;
  if (rule.have_actions) {
    std::string_view a = trim(rule.actions);
    if (a.empty()) return perr("actions= is empty (use actions=drop)");
    if (MaybeError e = parse_instructions(a, fm.match, &fm.instructions, tlv)) return e;
  }
  *out = std::move(fm);
  return std::nullopt;
}

MaybeError parse_flows(std::string_view text, std::vector<FlowMod>* out, FlowParseMode mode,
                       const TunMetadataLayout* tlv) {
  out->clear();
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line_no++;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    FlowMod fm;
    if (MaybeError e = parse_flow(line, &fm, mode, false, tlv)) {
      e->message = "line " + std::to_string(line_no) + ": " + e->message;
      return e;
    }
    out->push_back(std::move(fm));
  }
  return std::nullopt;
}

}  // namespace dps::ofproto
