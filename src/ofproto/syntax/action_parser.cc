// The actions= part of the ovs-ofctl syntax: instructions and actions,
// table-driven (kActionSyntax: keyword -> rank and handler).
#include <string>
#include <string_view>
#include <vector>

#include "flow_parser.h"
#include "match_fields.h"
#include "syntax_text.h"

namespace dps::ofproto {

using namespace syntax;

namespace {

// Action parsing state: what is known about the packet (for mod_tp_*, and
// mod_vlan_vid's implicit push).
struct ActState {
  OfMatch match;
  const TunMetadataLayout* tlv = nullptr;  // the switch's TLV table, or none
  bool vlan_present() const {
    return match.has(OxmField::kVlanVid) &&
           (match.mask_of(OxmField::kVlanVid).to_u64(2) & kOfpVidPresent) &&
           (match.value_of(OxmField::kVlanVid).to_u64(2) & kOfpVidPresent);
  }
  // The packet is tagged from here on.
  void tagged() { match.force(OxmField::kVlanVid, FieldValue::from_u64(kOfpVidPresent, 2)); }
};

// One action token, "name", "name:arg" or "name(arg)".
struct ActionTok {
  std::string name;  // lower case
  std::string_view arg;
  bool paren = false;
  std::string what;  // the token as written, for errors

  MaybeError need_arg() const {
    if (arg.empty()) return perr("action '" + what + "' needs an argument");
    return std::nullopt;
  }
  // The argument as a number 0..max.
  MaybeError num(uint64_t max, uint64_t* v) const {
    if (MaybeError e = need_arg()) return e;
    auto p = parse_uint_max(arg, max);
    if (!p) return perr("action '" + what + "': bad number '" + std::string(arg) + "' (max " + std::to_string(max) + ")");
    *v = *p;
    return std::nullopt;
  }
};

// Where a token's result goes. insts is null inside write_actions(...) and
// buckets, where instructions are not allowed.
struct ActionSink {
  ActState& st;
  ActionList* apply;
  Instructions* insts;
};

MaybeError split_action(std::string_view tok, ActionTok* t) {
  std::string_view name = tok;
  size_t colon = tok.find(':'), lp = tok.find('(');
  if (lp != std::string_view::npos && (colon == std::string_view::npos || lp < colon)) {
    if (tok.back() != ')') return perr("action '" + std::string(tok) + "': missing ')'");
    name = trim(tok.substr(0, lp));
    t->arg = trim(tok.substr(lp + 1, tok.size() - lp - 2));
    t->paren = true;
  } else if (colon != std::string_view::npos) {
    name = trim(tok.substr(0, colon));
    t->arg = trim(tok.substr(colon + 1));
  }
  t->name = lower(name);
  t->what = std::string(tok);
  return std::nullopt;
}

MaybeError parse_action_list(std::string_view text, ActState& st, ActionList* out,
                             Instructions* insts, int* last_rank);

// Hands each top-level comma-separated item of `args` to `parse`; the
// first error (unbalanced parentheses or parse's) wins.
template <typename Parse>
MaybeError for_each_item(std::string_view args, Parse parse) {
  std::vector<std::string_view> items;
  if (MaybeError e = split_top(args, &items)) return e;
  for (std::string_view i : items)
    if (MaybeError e = parse(i)) return e;
  return std::nullopt;
}

// The contiguous run of one bits of a mask: [*lo, *lo + *n); false when the
// mask is zero or its ones are not contiguous.
bool mask_run(uint64_t m, unsigned* lo, unsigned* n) {
  if (!m) return false;
  *lo = static_cast<unsigned>(__builtin_ctzll(m));
  const uint64_t run = m >> *lo;
  if (run & (run + 1)) return false;
  *n = run == ~uint64_t{0} ? 64u : static_cast<unsigned>(__builtin_ctzll(~run));
  return true;
}

// set_field:V/M->regN: ovs-ofctl sends a load of the mask's bits.
MaybeError parse_reg_set_masked(OxmField f, std::string_view vtext, ActionList* out, const std::string& what) {
  const size_t slash = vtext.find('/');
  const unsigned bits = oxm_field_info(f).bits;
  auto v = parse_uint_max(trim(vtext.substr(0, slash)), bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1);
  auto m = parse_uint_max(trim(vtext.substr(slash + 1)), bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1);
  unsigned lo = 0, n = 0;
  if (!v || !m) return perr(what + ": bad value or mask for " + oxm_field_info(f).name);
  if (!mask_run(*m, &lo, &n)) return perr(what + ": only a mask of contiguous bits is supported");
  out->push_back(ActRegLoad{f, static_cast<uint8_t>(lo), static_cast<uint8_t>(n), (*v & *m) >> lo});
  return std::nullopt;
}

// "VALUE->FIELD": one set_field action (no mask in OpenFlow 1.3).
MaybeError parse_set_field(std::string_view arg, ActState& st, ActionList* out, const std::string& what) {
  size_t arrow = arg.find("->");
  if (arrow == std::string_view::npos)
    return perr(what + ": expected VALUE->FIELD, got '" + std::string(arg) + "'");
  std::string_view vtext = trim(arg.substr(0, arrow));
  std::string fname = lower(trim(arg.substr(arrow + 2)));
  OxmField f;
  if (MaybeError e = resolve_field(fname, context_of(st.match), &f)) {
    e->message = what + ": " + e->message;
    return e;
  }
  if (vtext.find('/') != std::string_view::npos && is_register(f)) return parse_reg_set_masked(f, vtext, out, what);
  if (vtext.find('/') != std::string_view::npos)
    return perr(what + ": OpenFlow 1.3 set_field takes no mask ('" + std::string(vtext) + "')");
  FieldValue v;
  std::optional<FieldValue> mask;
  if (MaybeError e = parse_field_value(f, vtext, fname, &v, &mask)) {
    e->message = what + ": " + e->message;
    return e;
  }
  if (MaybeError e = check_set_field_tlv(ActSetField{f, v}, st.tlv)) {
    e->message = what + ": " + e->message;
    return e;
  }
  out->push_back(ActSetField{f, v});
  if (f == OxmField::kVlanVid && !st.vlan_present()) st.tagged();
  return std::nullopt;
}

// load:VALUE->DST: a whole-field load is set_field (as OVS encodes it);
// loads into part of a field are not supported.
MaybeError parse_load(std::string_view arg, ActState& st, ActionList* out, const std::string& what) {
  size_t arrow = arg.find("->");
  if (arrow == std::string_view::npos)
    return perr(what + ": expected VALUE->DST, got '" + std::string(arg) + "'");
  OxmField f;
  bool whole = false;
  unsigned ofs = 0, nbits = 0;
  if (MaybeError e = parse_subfield(arg.substr(arrow + 2), context_of(st.match), &f, &whole, &ofs, &nbits)) {
    e->message = what + ": " + e->message;
    return e;
  }
  const OxmFieldInfo& fi = oxm_field_info(f);
  if (is_register(f)) {  // NXAST_REG_LOAD of any bits
    auto v = parse_uint_max(trim(arg.substr(0, arrow)), nbits >= 64 ? ~uint64_t{0} : (uint64_t{1} << nbits) - 1);
    if (!v) return perr(what + ": bad value '" + std::string(trim(arg.substr(0, arrow))) + "' for " +
                        std::to_string(nbits) + " bits");
    out->push_back(ActRegLoad{f, static_cast<uint8_t>(ofs), static_cast<uint8_t>(nbits), *v});
    return std::nullopt;
  }
  if (!whole)
    return perr(what + ": loading into part of " + fi.name +
                " is not supported (load whole fields, FIELD[], or use set_field)");
  // The value is a number (right-aligned); fixed fields take its last
  // `width` bytes, which must hold all of it.
  FieldValue n;
  if (!parse_hex_bytes(trim(arg.substr(0, arrow)), &n))
    return perr(what + ": bad value '" + std::string(trim(arg.substr(0, arrow))) + "'");
  ActSetField s{f, n};
  if (!is_tun_metadata(f)) {
    if (field_value_len(tun_metadata_field(0), n) > fi.width)
      return perr(what + ": value does not fit in " + fi.name);
    s.value = FieldValue::from_bytes(n.bytes.data() + kFieldValueMax - fi.width, fi.width);
    OfMatch probe;  // range (vlan_pcp, tun_flags, ...)
    if (MaybeError e = probe.set(f, s.value)) return perr(what + ": " + e->message);
  }
  if (MaybeError e = check_set_field_tlv(s, st.tlv)) {
    e->message = what + ": " + e->message;
    return e;
  }
  out->push_back(s);
  return std::nullopt;
}

// --- Instructions -----------------------------------------------------------------

MaybeError ins_meter(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xffffffffull, &v)) return e;
  s.insts->meter = static_cast<uint32_t>(v);
  return std::nullopt;
}

MaybeError ins_clear_actions(const ActionTok&, ActionSink& s) {
  s.insts->clear_actions = true;
  return std::nullopt;
}

MaybeError ins_write_actions(const ActionTok& t, ActionSink& s) {
  if (!t.paren) return perr("write_actions needs a list in parentheses: write_actions(output:1)");
  ActionList w;
  ActState inner = s.st;
  if (MaybeError e = parse_action_list(t.arg, inner, &w, nullptr, nullptr)) return e;
  s.insts->write = std::move(w);
  return std::nullopt;
}

MaybeError ins_write_metadata(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  std::string_view vs;
  std::optional<std::string_view> ms;
  split_mask(t.arg, &vs, &ms);
  auto val = parse_uint(vs);
  auto mask = ms ? parse_uint(*ms) : std::optional<uint64_t>(~0ull);
  if (!val || !mask) return perr("write_metadata: bad value '" + std::string(t.arg) + "'");
  if (*val & ~*mask) return perr("write_metadata: value " + std::string(vs) + " has bits outside its mask");
  s.insts->write_metadata = WriteMetadata{*val, *mask};
  return std::nullopt;
}

MaybeError ins_goto_table(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xff, &v)) return e;
  if (v >= kNumTables) return perr("goto_table:" + std::string(t.arg) + ": table out of range 0..254");
  s.insts->goto_table = static_cast<uint8_t>(v);
  return std::nullopt;
}

// --- Actions ------------------------------------------------------------------------

MaybeError act_drop(const ActionTok&, ActionSink&) { return perr("drop must be the only action"); }

MaybeError act_output(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  auto p = parse_port(t.arg);
  if (!p || *p == kPortAny) return perr("output: bad port '" + std::string(t.arg) + "'");
  s.apply->push_back(ActOutput{*p});
  return std::nullopt;
}

// controller, controller:N, controller(max_len=N[,reason=...]): only
// max_len is meaningful here.
MaybeError act_controller(const ActionTok& t, ActionSink& s) {
  ActOutput o{kPortController, kControllerNoBuffer};
  if (!t.arg.empty()) {
    std::string_view a = t.arg;
    if (t.paren) {
      std::vector<std::string_view> parts;
      if (MaybeError e = split_top(a, &parts)) return e;
      for (std::string_view p : parts) {
        size_t eq = p.find('=');
        if (eq == std::string_view::npos || trim(p.substr(0, eq)) != "max_len")
          return perr("controller(): only max_len=N is supported, got '" + std::string(p) + "'");
        a = p.substr(eq + 1);
      }
    }
    auto ml = parse_uint_max(a, 0xffff);
    if (!ml) return perr("controller: bad max_len '" + std::string(a) + "'");
    o.max_len = static_cast<uint16_t>(*ml);
  }
  s.apply->push_back(o);
  return std::nullopt;
}

MaybeError act_group(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xffffffffull, &v)) return e;
  s.apply->push_back(ActGroup{static_cast<uint32_t>(v)});
  return std::nullopt;
}

MaybeError act_set_queue(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xffffffffull, &v)) return e;
  s.apply->push_back(ActSetQueue{static_cast<uint32_t>(v)});
  return std::nullopt;
}

MaybeError act_push_vlan(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xffff, &v)) return e;
  if (v != 0x8100 && v != 0x88a8) return perr("push_vlan: ethertype must be 0x8100 or 0x88a8");
  s.apply->push_back(ActPushVlan{static_cast<uint16_t>(v)});
  s.st.tagged();
  return std::nullopt;
}

MaybeError act_pop_vlan(const ActionTok&, ActionSink& s) {
  s.apply->push_back(ActPopVlan{});
  s.st.match.clear(OxmField::kVlanVid);
  s.st.match.clear(OxmField::kVlanPcp);
  return std::nullopt;
}

// push_mpls / pop_mpls: the ethertype argument (push: 0x8847 or 0x8848).
// After either, only the new ethertype is known about the packet.
MaybeError act_mpls(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xffff, &v)) return e;
  const bool push = t.name == "push_mpls";
  if (push && v != 0x8847 && v != 0x8848) return perr("push_mpls: ethertype must be 0x8847 or 0x8848");
  if (push) s.apply->push_back(ActPushMpls{static_cast<uint16_t>(v)});
  else s.apply->push_back(ActPopMpls{static_cast<uint16_t>(v)});
  s.st.match = OfMatch{};
  s.st.match.force(OxmField::kEthType, FieldValue::from_u64(v, 2));
  return std::nullopt;
}

// push_pbb:0x88e7 / pop_pbb. After push only eth_type=0x88e7 is known about
// the packet, after pop nothing (the customer frame).
MaybeError act_pbb(const ActionTok& t, ActionSink& s) {
  s.st.match = OfMatch{};
  if (t.name == "pop_pbb") {
    s.apply->push_back(ActPopPbb{});
    return std::nullopt;
  }
  uint64_t v;
  if (MaybeError e = t.num(0xffff, &v)) return e;
  if (v != 0x88e7) return perr("push_pbb: ethertype must be 0x88e7");
  s.apply->push_back(ActPushPbb{static_cast<uint16_t>(v)});
  s.st.match.force(OxmField::kEthType, FieldValue::from_u64(v, 2));
  return std::nullopt;
}

MaybeError act_set_mpls_ttl(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xff, &v)) return e;
  s.apply->push_back(ActSetMplsTtl{static_cast<uint8_t>(v)});
  return std::nullopt;
}

MaybeError act_set_nw_ttl(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xff, &v)) return e;
  s.apply->push_back(ActSetNwTtl{static_cast<uint8_t>(v)});
  return std::nullopt;
}

MaybeError act_dec_ttl(const ActionTok& t, ActionSink& s) {
  if (!t.arg.empty()) return perr("dec_ttl: controller ids are not supported ('" + t.what + "')");
  s.apply->push_back(ActDecNwTtl{});
  return std::nullopt;
}

// Actions without an argument (any argument is ignored, as before).
template <typename A>
MaybeError act_plain(const ActionTok&, ActionSink& s) {
  s.apply->push_back(A{});
  return std::nullopt;
}

MaybeError act_set_field(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  return parse_set_field(t.arg, s.st, s.apply, "set_field:" + std::string(t.arg));
}

MaybeError act_load(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  return parse_load(t.arg, s.st, s.apply, "load:" + std::string(t.arg));
}

// move:SRC[a..b]->DST[c..d] (both ranges of the same width).
MaybeError act_move(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  const std::string what = "move:" + std::string(t.arg);
  const size_t arrow = t.arg.find("->");
  if (arrow == std::string_view::npos) return perr(what + ": expected SRC->DST");
  ActRegMove m;
  unsigned so = 0, sn = 0, dofs = 0, dn = 0;
  bool whole;
  const Ctx c = context_of(s.st.match);
  if (MaybeError e = parse_subfield(trim(t.arg.substr(0, arrow)), c, &m.src, &whole, &so, &sn))
    return perr(what + ": " + e->message);
  if (MaybeError e = parse_subfield(trim(t.arg.substr(arrow + 2)), c, &m.dst, &whole, &dofs, &dn))
    return perr(what + ": " + e->message);
  if (sn != dn)
    return perr(what + ": source field is " + std::to_string(sn) + " bits wide but destination is " +
                std::to_string(dn) + " bits wide");
  m.src_ofs = static_cast<uint16_t>(so);
  m.dst_ofs = static_cast<uint16_t>(dofs);
  m.nbits = static_cast<uint16_t>(sn);
  s.apply->push_back(m);
  return std::nullopt;
}

// resubmit:PORT, resubmit([PORT],[TABLE]).
MaybeError act_resubmit(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  ActResubmit r;
  std::string_view port = t.arg, table;
  if (t.paren) {
    const size_t comma = t.arg.find(',');
    if (comma == std::string_view::npos) return perr("resubmit(" + std::string(t.arg) + "): expected (PORT,TABLE)");
    port = trim(t.arg.substr(0, comma));
    table = trim(t.arg.substr(comma + 1));
    if (table.find(',') != std::string_view::npos)
      return perr("resubmit(" + std::string(t.arg) + "): ',ct' (resubmit with the conntrack tuple) is not supported");
  }
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p || *p == kPortAny || *p == 0 || (*p > kPortMax && *p != kPortInPort && *p != kPortLocal))
      return perr("resubmit: bad port '" + std::string(port) + "'");
    r.in_port = *p;
  }
  if (!table.empty()) {
    auto n = parse_uint_max(table, kNumTables - 1);
    if (!n) return perr("resubmit: bad table '" + std::string(table) + "' (0.." + std::to_string(kNumTables - 1) + ")");
    r.table = static_cast<uint8_t>(*n);
  }
  if (port.empty() && table.empty()) return perr("resubmit: at least one of port and table is required");
  s.apply->push_back(r);
  return std::nullopt;
}

// note:XX.XX.XX (hex bytes, '.' separators optional), padded as on the wire.
MaybeError act_note(const ActionTok& t, ActionSink& s) {
  ActNote n;
  std::string_view a = t.arg;
  while (!a.empty()) {
    if (a.front() == '.') {
      a.remove_prefix(1);
      continue;
    }
    auto hexv = [](char ch) -> int {
      if (ch >= '0' && ch <= '9') return ch - '0';
      ch = static_cast<char>(ch | 0x20);
      return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    };
    if (a.size() < 2 || hexv(a[0]) < 0 || hexv(a[1]) < 0)
      return perr("note:" + std::string(t.arg) + ": expected hex bytes (XX.XX...)");
    n.bytes.push_back(static_cast<uint8_t>(hexv(a[0]) << 4 | hexv(a[1])));
    a.remove_prefix(2);
  }
  n.bytes.resize((n.bytes.size() + 10 + 7) / 8 * 8 - 10);
  s.apply->push_back(n);
  return std::nullopt;
}

// OpenFlow 1.0 style rewrites (mod_dl_src:V, ...), as ovs-ofctl turns them
// into set_field: the target field is in the rewrite's table entry.
const char* rewrite_target(const std::string& name);

MaybeError act_rewrite(const ActionTok& t, ActionSink& s) {
  if (MaybeError e = t.need_arg()) return e;
  return parse_set_field(std::string(t.arg) + "->" + rewrite_target(t.name), s.st, s.apply, t.what);
}

MaybeError act_mod_nw_tos(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xff, &v)) return e;
  if (v & 3) return perr("mod_nw_tos:" + std::string(t.arg) + ": the low 2 (ECN) bits must be zero");
  return parse_set_field(std::to_string(v >> 2) + "->ip_dscp", s.st, s.apply, t.what);
}

// mod_vlan_vid on a packet not known to be tagged pushes a tag first.
MaybeError act_mod_vlan_vid(const ActionTok& t, ActionSink& s) {
  uint64_t v;
  if (MaybeError e = t.num(0xfff, &v)) return e;
  if (!s.st.vlan_present()) {
    s.apply->push_back(ActPushVlan{0x8100});
    s.st.tagged();
  }
  return parse_set_field(std::to_string(v | kOfpVidPresent) + "->vlan_vid", s.st, s.apply, t.what);
}

// --- Connection tracking ------------------------------------------------------------

// A set_field mask over contiguous bits (at most 64): the load ovs-ofctl
// sends for it (NXAST_REG_LOAD of value >> ofs into [ofs, ofs + n)).
MaybeError ct_mask_to_load(const std::string& what, const FieldValue& mask, CtExec* x) {
  const unsigned bytes = oxm_field_info(x->field).width;
  auto bit = [&](const FieldValue& v, unsigned b) { return (v.bytes[bytes - 1 - b / 8] >> (b % 8)) & 1; };
  unsigned lo = 0;
  while (lo < bytes * 8 && !bit(mask, lo)) lo++;
  unsigned hi = lo;
  while (hi < bytes * 8 && bit(mask, hi)) hi++;
  for (unsigned b = hi; b < bytes * 8; b++)
    if (bit(mask, b)) return perr(what + ": only a mask of contiguous bits is supported");
  if (hi == lo || hi - lo > 64) return perr(what + ": a mask of 1 to 64 contiguous bits is supported");
  uint64_t v = 0;
  for (unsigned b = hi; b-- > lo;) v = v << 1 | bit(x->value, b);
  x->load = true;
  x->ofs = static_cast<uint8_t>(lo);
  x->nbits = static_cast<uint8_t>(hi - lo);
  x->value = FieldValue::from_u64(v, 8);
  return std::nullopt;
}

// One exec() item: set_field:V[/M]->ct_mark|ct_label (a mask of contiguous
// bits becomes a load, as ovs-ofctl encodes it) or load:V->FIELD[a..b].
MaybeError parse_ct_exec_item(std::string_view tok, ActState& st, ActCt* ct) {
  ActionTok t;
  if (MaybeError e = split_action(tok, &t)) return e;
  const std::string what = "ct: exec(" + t.what + ")";
  size_t arrow = t.arg.find("->");
  if ((t.name != "set_field" && t.name != "load") || arrow == std::string_view::npos)
    return perr("ct action doesn't support nested action " + t.name);
  std::string_view vtext = trim(t.arg.substr(0, arrow));
  CtExec x;
  if (t.name == "load") {
    unsigned ofs = 0, nbits = 0;
    bool whole;
    if (MaybeError e = parse_subfield(t.arg.substr(arrow + 2), context_of(st.match), &x.field, &whole, &ofs, &nbits))
      return perr(what + ": " + e->message);
    FieldValue n;
    if (!parse_hex_bytes(vtext, &n) || field_value_len(tun_metadata_field(0), n) > 8)
      return perr(what + ": bad value '" + std::string(vtext) + "' (at most 64 bits)");
    x.load = true;
    x.ofs = static_cast<uint8_t>(ofs);
    x.nbits = static_cast<uint8_t>(nbits);
    x.value = FieldValue::from_bytes(n.bytes.data() + kFieldValueMax - 8, 8);
    if (nbits > 64 || (nbits < 64 && (x.value.to_u64(8) >> nbits)))
      return perr(what + ": the value does not fit in " + std::to_string(nbits) + " bits (loads of at most 64)");
  } else {
    std::string fname = lower(trim(t.arg.substr(arrow + 2)));
    if (MaybeError e = resolve_field(fname, context_of(st.match), &x.field)) return perr(what + ": " + e->message);
    std::optional<FieldValue> mask;
    if (MaybeError e = parse_field_value(x.field, vtext, fname, &x.value, &mask)) return perr(what + ": " + e->message);
    if (mask && (x.field == OxmField::kCtMark || x.field == OxmField::kCtLabel)) {
      if (MaybeError e = ct_mask_to_load(what, *mask, &x)) return e;
    }
  }
  if (x.field != OxmField::kCtMark && x.field != OxmField::kCtLabel)
    return perr(std::string(oxm_field_info(x.field).name) + " is read-only");
  ct->exec.push_back(x);
  return std::nullopt;
}

MaybeError parse_ct_arg(std::string_view tok, ActState& st, ActCt* ct) {
  ActionTok t;
  if (MaybeError e = split_action(tok, &t)) return e;
  if (t.name == "commit") {
    ct->commit = true;
  } else if (t.name == "force") {
    ct->force = true;
  } else if (t.name.rfind("zone=", 0) == 0) {
    const std::string_view ztext = std::string_view(t.what).substr(t.what.find('=') + 1);
    if (auto z = parse_uint_max(ztext, 0xffff)) {
      ct->zone = static_cast<uint16_t>(*z);
      return std::nullopt;
    }
    OxmField f;
    bool whole;
    unsigned ofs = 0, nbits = 0;
    if (parse_subfield(trim(ztext), context_of(st.match), &f, &whole, &ofs, &nbits) || !is_register(f) ||
        nbits != 16)
      return perr("ct: zone=" + std::string(ztext) +
                  ": a zone is a number 0..65535 or 16 bits of a register (NXM_NX_REGn[a..a+15])");
    ct->zone_src = f;
    ct->zone_ofs = static_cast<uint8_t>(ofs);
  } else if (t.name.rfind("table=", 0) == 0) {
    auto n = parse_uint_max(std::string_view(t.name).substr(6), kNumTables - 1);
    if (!n) return perr("ct: invalid table " + t.name.substr(6));
    ct->table = static_cast<uint8_t>(*n);
  } else if (t.name == "exec" && t.paren) {
    if (MaybeError e = for_each_item(t.arg, [&](std::string_view i) { return parse_ct_exec_item(i, st, ct); }))
      return e;
  } else if (t.name.rfind("alg=", 0) == 0) {
    return perr("ct: " + t.what + ": application-layer gateways (alg=) are not supported");
  } else if (t.name == "nat") {
    base::NatRange r;
    const std::string err = base::nat_parse(t.paren ? t.arg : std::string_view{}, &r);
    if (!err.empty()) return perr(err);
    if (ct->nat) return perr("ct: only one nat is allowed");
    ct->nat = r;
  } else {
    return perr("ct: unknown argument '" + t.what + "'");
  }
  return std::nullopt;
}

MaybeError act_ct(const ActionTok& t, ActionSink& s) {
  ActCt ct;
  if (MaybeError e = for_each_item(t.arg, [&](std::string_view a) { return parse_ct_arg(a, s.st, &ct); }))
    return e;
  if (!ct.exec.empty() && !ct.commit)
    return perr("ct: exec() requires commit (as OVS: \"CT action requires commit flag if actions other than NAT without arguments are specified\")");
  s.apply->push_back(ct);
  return std::nullopt;
}

// sample(probability=P,collector_set_id=C,obs_domain_id=D,obs_point_id=O
// [,sampling_port=N][,ingress|egress]), with OVS's errors.
MaybeError parse_sample_arg(std::string_view item, ActSample* a) {
  const size_t eq = item.find('=');
  const std::string key(item.substr(0, eq));
  const std::string_view val = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
  if (eq == std::string_view::npos) {
    if (key == "ingress") a->direction = SampleDirection::kIngress;
    else if (key == "egress") a->direction = SampleDirection::kEgress;
    else return perr("invalid key \"" + key + "\" in \"sample\" argument");
    return std::nullopt;
  }
  std::optional<uint64_t> n = parse_uint_max(val, key == "probability" || key == "sampling_port" ? 0xffff : 0xffffffffull);
  if (!n) return perr("sample: invalid " + key + " \"" + std::string(val) + "\"");
  if (key == "probability") {
    if (!*n) return perr("invalid probability value \"" + std::string(val) + "\"");
    a->probability = static_cast<uint16_t>(*n);
  } else if (key == "collector_set_id") {
    a->collector_set_id = static_cast<uint32_t>(*n);
  } else if (key == "obs_domain_id") {
    a->obs_domain_id = static_cast<uint32_t>(*n);
  } else if (key == "obs_point_id") {
    a->obs_point_id = static_cast<uint32_t>(*n);
  } else if (key == "sampling_port") {
    a->sampling_port = static_cast<uint16_t>(*n);
  } else {
    return perr("invalid key \"" + key + "\" in \"sample\" argument");
  }
  return std::nullopt;
}

MaybeError act_sample(const ActionTok& t, ActionSink& s) {
  ActSample a;
  if (MaybeError e = for_each_item(t.arg, [&](std::string_view i) { return parse_sample_arg(i, &a); })) return e;
  if (!a.probability) return perr("non-zero \"probability\" must be specified on sample");
  s.apply->push_back(a);
  return std::nullopt;
}

// --- The table ----------------------------------------------------------------------

// Instruction ranks: instructions come in this order, each at most once
// (apply actions: any number of actions in a row).
constexpr int kRankApply = 1;
constexpr const char* kRankNames[] = {"meter",         "apply actions",  "clear_actions",
                                      "write_actions", "write_metadata", "goto_table"};

struct ActionSyntax {
  const char* name;
  int rank;  // kRankApply for actions, else the instruction's rank
  MaybeError (*parse)(const ActionTok&, ActionSink&);
  const char* field = nullptr;  // OpenFlow 1.0 rewrites: the set_field target
};

// flat table
constexpr ActionSyntax kActionSyntax[] = {
    {"meter", 0, ins_meter},
    {"clear_actions", 2, ins_clear_actions},
    {"write_actions", 3, ins_write_actions},
    {"write_metadata", 4, ins_write_metadata},
    {"goto_table", 5, ins_goto_table},
    {"drop", kRankApply, act_drop},             {"output", kRankApply, act_output},
    {"controller", kRankApply, act_controller}, {"group", kRankApply, act_group},
    {"set_queue", kRankApply, act_set_queue},   {"push_vlan", kRankApply, act_push_vlan},
    {"pop_vlan", kRankApply, act_pop_vlan},     {"strip_vlan", kRankApply, act_pop_vlan},
    {"push_mpls", kRankApply, act_mpls},        {"pop_mpls", kRankApply, act_mpls},
    {"set_mpls_ttl", kRankApply, act_set_mpls_ttl},
    {"push_pbb", kRankApply, act_pbb},          {"pop_pbb", kRankApply, act_pbb},
    {"mod_nw_ttl", kRankApply, act_set_nw_ttl}, {"set_nw_ttl", kRankApply, act_set_nw_ttl},
    {"dec_mpls_ttl", kRankApply, act_plain<ActDecMplsTtl>},
    {"dec_ttl", kRankApply, act_dec_ttl},
    {"copy_ttl_out", kRankApply, act_plain<ActCopyTtlOut>},
    {"copy_ttl_in", kRankApply, act_plain<ActCopyTtlIn>},
    {"set_field", kRankApply, act_set_field},
    {"load", kRankApply, act_load},
    {"move", kRankApply, act_move},
    {"resubmit", kRankApply, act_resubmit},
    {"note", kRankApply, act_note},
    // OpenFlow 1.0 rewrites: set_field on the named field.
    {"mod_dl_src", kRankApply, act_rewrite, "eth_src"},
    {"mod_dl_dst", kRankApply, act_rewrite, "eth_dst"},
    {"mod_nw_src", kRankApply, act_rewrite, "nw_src"},
    {"mod_nw_dst", kRankApply, act_rewrite, "nw_dst"},
    {"mod_tp_src", kRankApply, act_rewrite, "tp_src"},
    {"mod_tp_dst", kRankApply, act_rewrite, "tp_dst"},
    {"mod_vlan_pcp", kRankApply, act_rewrite, "vlan_pcp"},
    {"mod_nw_ecn", kRankApply, act_rewrite, "ip_ecn"},
    {"mod_nw_tos", kRankApply, act_mod_nw_tos},
    {"mod_vlan_vid", kRankApply, act_mod_vlan_vid},
    {"ct", kRankApply, act_ct},
    {"ct_clear", kRankApply, act_plain<ActCtClear>},
    {"sample", kRankApply, act_sample},
};

const char* rewrite_target(const std::string& name) { return find_named(kActionSyntax, name)->field; }

// Instruction order: `rank` may follow *last_rank. Top level only.
MaybeError check_rank(int rank, Instructions* insts, int* last_rank) {
  const char* iname = kRankNames[rank];
  if (!insts) return perr(std::string(iname) + " is an instruction; not allowed inside write_actions() or a bucket");
  if (rank < *last_rank)
    return perr(std::string("invalid instruction ordering: ") + iname + " must appear before " + kRankNames[*last_rank]);
  if (rank == *last_rank && rank != kRankApply) return perr(std::string(iname) + " appears twice");
  *last_rank = rank;
  return std::nullopt;
}

// One token. Instructions are checked for order first; any other token is
// an action of the apply-actions instruction, or a bare port ("2", "LOCAL")
// meaning output to it.
MaybeError parse_one(std::string_view tok, ActState& st, ActionList* apply, Instructions* insts,
                     int* last_rank) {
  ActionTok t;
  if (MaybeError e = split_action(tok, &t)) return e;
  ActionSink sink{st, apply, insts};
  const ActionSyntax* a = find_named(kActionSyntax, t.name);
  if (a && a->rank != kRankApply) {
    if (MaybeError e = check_rank(a->rank, insts, last_rank)) return e;
    return a->parse(t, sink);
  }
  if (insts)
    if (MaybeError e = check_rank(kRankApply, insts, last_rank)) return e;
  if (a) return a->parse(t, sink);
  if (t.arg.empty() && !t.paren) {
    if (auto p = parse_port(t.name); p && *p != kPortAny && *p != kPortTable) {
      apply->push_back(ActOutput{*p});
      return std::nullopt;
    }
  }
  return perr("unknown action '" + t.what + "'");
}

MaybeError parse_action_list(std::string_view text, ActState& st, ActionList* out,
                             Instructions* insts, int* last_rank) {
  std::vector<std::string_view> toks;
  if (MaybeError e = split_top(text, &toks)) return e;
  if (toks.size() == 1 && lower(toks[0]) == "drop") return std::nullopt;
  for (std::string_view t : toks)
    if (MaybeError e = parse_one(t, st, out, insts, last_rank)) return e;
  return std::nullopt;
}

}  // namespace

MaybeError parse_actions(std::string_view text, const OfMatch& match, ActionList* out,
                         const TunMetadataLayout* tlv) {
  ActState st{match, tlv};
  out->clear();
  return parse_action_list(text, st, out, nullptr, nullptr);
}

MaybeError parse_instructions(std::string_view text, const OfMatch& match, Instructions* out,
                              const TunMetadataLayout* tlv) {
  *out = Instructions{};
  ActState st{match, tlv};
  ActionList apply;
  int last_rank = -1;
  if (MaybeError e = parse_action_list(text, st, &apply, out, &last_rank)) return e;
  if (!apply.empty()) out->apply = std::move(apply);
  return std::nullopt;
}

}  // namespace dps::ofproto
