// Printing in the ovs-ofctl syntax: matches, actions, instructions, flow
// entries and groups, so that what is printed parses back to the same rule.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "flow_parser.h"
#include "match_fields.h"
#include "overloaded.h"
#include "syntax_text.h"

namespace dps::ofproto {

using namespace syntax;

std::string format_port(uint32_t port) {
  switch (port) {
    case kPortInPort: return "IN_PORT";
    case kPortTable: return "TABLE";
    case kPortNormal: return "NORMAL";
    case kPortFlood: return "FLOOD";
    case kPortAll: return "ALL";
    case kPortController: return "CONTROLLER";
    case kPortLocal: return "LOCAL";
    case kPortAny: return "ANY";
    default: return std::to_string(port);
  }
}

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

// value[/mask]: addresses with a CIDR mask as a prefix length, numbers with
// a mask in hex.
std::string format_value_mask(OxmField f, const OfMatch& m) {
  if (f == OxmField::kTunFlags)
    return format_tun_flags(m.value_of(f).to_u64(2), m.mask_of(f).to_u64(2));
  if (f == OxmField::kCtState) return format_ct_state(m.value_of(f).to_u64(4), m.mask_of(f).to_u64(4));
  FieldValue v = m.value_of(f);
  std::string s = format_field_value(f, v);
  if (m.is_exact(f)) return s;
  FieldValue mk = m.mask_of(f);
  const OxmFieldInfo& fi = oxm_field_info(f);
  Kind k = kind_of(f);
  if (k == Kind::kIpv4 || k == Kind::kIpv6) {
    int p = prefix_len(mk, fi.width);
    if (p >= 0) return s + "/" + std::to_string(p);
  }
  if (k == Kind::kNum) return hex(v.to_u64(fi.width)) + "/" + hex(mk.to_u64(fi.width));
  return s + "/" + format_field_value(f, mk);
}

// The tunnel fields, first after the protocol shorthand as ovs-ofctl prints
// them: tun_id, tun_src, tun_dst, tun_ipv6_src/dst, tun_flags, then
// tun_metadataN in index order (a zero mask, "option present", bare).
void format_tunnel_fields(const OfMatch& m, std::vector<std::string>* parts) {
  static constexpr std::pair<const char*, OxmField> kTun[] = {
      {"tun_id", OxmField::kTunnelId},         {"tun_src", OxmField::kTunIpv4Src},
      {"tun_dst", OxmField::kTunIpv4Dst},      {"tun_ipv6_src", OxmField::kTunIpv6Src},
      {"tun_ipv6_dst", OxmField::kTunIpv6Dst}, {"tun_flags", OxmField::kTunFlags},
  };
  for (const auto& [name, f] : kTun)
    if (m.has(f)) parts->push_back(std::string(name) + "=" + format_value_mask(f, m));
  for (unsigned n = 0; n < kNumTunMetadata; n++) {
    const OxmField f = tun_metadata_field(n);
    if (!m.has(f)) continue;
    const std::string name = oxm_field_info(f).name;
    if (field_value_len(f, m.mask_of(f)) == 0) {
      parts->push_back(name);
      continue;
    }
    std::string s = name + "=" + format_field_value(f, m.value_of(f));
    if (!m.is_exact(f)) s += "/" + format_field_value(f, m.mask_of(f));
    parts->push_back(s);
  }
}

// What the protocol shorthand ("tcp", "ip", ...) at the front already says.
struct ShorthandDone {
  bool eth_type = false;
  bool proto = false;
};

// The shorthand for the match's eth_type (and ip_proto, when one names both).
ShorthandDone format_shorthand(const OfMatch& m, std::vector<std::string>* parts) {
  ShorthandDone done;
  Ctx c = context_of(m);
  if (!c.eth_type) return done;
  for (const Shorthand& s : kShorthands) {
    if (s.eth_type != *c.eth_type) continue;
    if (s.proto < 0 && !done.eth_type) {
      // Remember the plain shorthand; a protocol one may replace it.
      parts->push_back(s.name);
      done.eth_type = true;
    }
    if (s.proto >= 0 && c.proto && *c.proto == s.proto && m.is_exact(OxmField::kIpProto)) {
      if (done.eth_type) parts->pop_back();
      parts->push_back(s.name);
      done.eth_type = done.proto = true;
      break;
    }
  }
  return done;
}

// VLAN: dl_vlan / dl_vlan_pcp when they say it all, else vlan_tci.
void format_vlan(const OfMatch& m, std::vector<std::string>* parts) {
  if (!m.has(OxmField::kVlanVid) && !m.has(OxmField::kVlanPcp)) return;
  uint16_t vv = static_cast<uint16_t>(m.value_of(OxmField::kVlanVid).to_u64(2));
  uint16_t vm = m.has(OxmField::kVlanVid) ? static_cast<uint16_t>(m.mask_of(OxmField::kVlanVid).to_u64(2)) : 0;
  bool pcp = m.has(OxmField::kVlanPcp);
  uint16_t pv = static_cast<uint16_t>(m.value_of(OxmField::kVlanPcp).to_u64(1));
  if (vm == 0x1fff && (vv & kOfpVidPresent)) {
    parts->push_back("dl_vlan=" + std::to_string(vv & 0xfff));
    if (pcp) parts->push_back("dl_vlan_pcp=" + std::to_string(pv));
  } else if (vm == kOfpVidPresent && (vv & kOfpVidPresent) && pcp) {
    parts->push_back("dl_vlan_pcp=" + std::to_string(pv));
  } else {
    uint16_t tv = static_cast<uint16_t>(vv | (pcp ? pv << 13 : 0));
    uint16_t tm = static_cast<uint16_t>(vm | (pcp ? 0xe000 : 0));
    char buf[32];
    std::snprintf(buf, sizeof buf, "vlan_tci=0x%04x/0x%04x", tv, tm);
    parts->push_back(buf);
  }
}

// How one entry of the match printing order is printed.
enum class Print : uint8_t {
  kPlain,    // name=value[/mask]
  kInPort,   // in_port=port name
  kVlan,     // vlan_vid and vlan_pcp together (format_vlan)
  kEthType,  // plain unless the shorthand said it
  kIpProto,  // plain unless the shorthand said it
  kTos,      // ip_dscp as nw_tos=DSCP<<2
};
struct PrintedField {
  const char* name;
  OxmField field;
  Print how = Print::kPlain;
};
// The order and OVS names in which match fields print.
using F = OxmField;
// flat table
constexpr PrintedField kPrintOrder[] = {
    {"in_port", F::kInPort, Print::kInPort}, {"in_phy_port", F::kInPhyPort}, {"", F::kVlanVid, Print::kVlan},
    {"dl_src", F::kEthSrc}, {"dl_dst", F::kEthDst}, {"dl_type", F::kEthType, Print::kEthType},
    {"nw_src", F::kIpv4Src}, {"nw_dst", F::kIpv4Dst}, {"arp_spa", F::kArpSpa}, {"arp_tpa", F::kArpTpa},
    {"nw_proto", F::kIpProto, Print::kIpProto}, {"arp_op", F::kArpOp},
    {"nw_tos", F::kIpDscp, Print::kTos}, {"nw_ecn", F::kIpEcn},
    {"tp_src", F::kTcpSrc}, {"tp_src", F::kUdpSrc}, {"tp_src", F::kSctpSrc},
    {"tp_dst", F::kTcpDst}, {"tp_dst", F::kUdpDst}, {"tp_dst", F::kSctpDst},
    {"icmp_type", F::kIcmpv4Type}, {"icmp_code", F::kIcmpv4Code},
    {"icmp_type", F::kIcmpv6Type}, {"icmp_code", F::kIcmpv6Code},
    {"arp_sha", F::kArpSha}, {"arp_tha", F::kArpTha}, {"ipv6_src", F::kIpv6Src}, {"ipv6_dst", F::kIpv6Dst},
    {"ipv6_label", F::kIpv6Flabel}, {"nd_target", F::kIpv6NdTarget}, {"nd_sll", F::kIpv6NdSll},
    {"nd_tll", F::kIpv6NdTll}, {"mpls_label", F::kMplsLabel}, {"mpls_tc", F::kMplsTc},
    {"mpls_bos", F::kMplsBos}, {"pbb_isid", F::kPbbIsid},
    {"ipv6_exthdr", F::kIpv6Exthdr}, {"metadata", F::kMetadata},
};

void format_field(const PrintedField& pf, const OfMatch& m, ShorthandDone done,
                  std::vector<std::string>* parts) {
  if (pf.how == Print::kVlan) return format_vlan(m, parts);
  if (!m.has(pf.field)) return;
  const std::string name = pf.name;
  switch (pf.how) {
    case Print::kInPort:
      parts->push_back(name + "=" + format_port(static_cast<uint32_t>(m.value_of(pf.field).to_u64(4))));
      return;
    case Print::kTos:
      parts->push_back(name + "=" + std::to_string(m.value_of(pf.field).to_u64(1) << 2));
      return;
    case Print::kEthType:
      if (done.eth_type) return;
      break;
    case Print::kIpProto:
      if (done.proto) return;
      break;
    default: break;
  }
  parts->push_back(name + "=" + format_value_mask(pf.field, m));
}

// set_field:VALUE->FIELD; tunnel fields by their OVS names and values
// (tun_id, +oam).
std::string format_set_field(const ActSetField& s) {
  std::string value = s.field == OxmField::kTunFlags
                          ? format_tun_flags(s.value.to_u64(2), datapath::kTunFlagOam)
                          : format_field_value(s.field, s.value);
  const char* name = s.field == OxmField::kTunnelId ? "tun_id" : oxm_field_info(s.field).name;
  return "set_field:" + value + "->" + name;
}

// As OVS's format_SAMPLE.
std::string format_sample(const ActSample& s) {
  std::string out = "sample(probability=" + std::to_string(s.probability) +
                    ",collector_set_id=" + std::to_string(s.collector_set_id) +
                    ",obs_domain_id=" + std::to_string(s.obs_domain_id) +
                    ",obs_point_id=" + std::to_string(s.obs_point_id);
  if (s.sampling_port != kSamplePortNone) out += ",sampling_port=" + std::to_string(s.sampling_port);
  if (s.direction == SampleDirection::kIngress) out += ",ingress";
  if (s.direction == SampleDirection::kEgress) out += ",egress";
  return out + ")";
}

// FIELD[], FIELD[n] or FIELD[a..b] by the field's NXM name.
std::string format_subfield(OxmField f, unsigned ofs, unsigned nbits) {
  const OxmFieldInfo& fi = oxm_field_info(f);
  std::string s = fi.nxm_name ? fi.nxm_name : fi.name;
  if (ofs == 0 && nbits == fi.width * 8u) return s + "[]";
  if (nbits == 1) return s + "[" + std::to_string(ofs) + "]";
  return s + "[" + std::to_string(ofs) + ".." + std::to_string(ofs + nbits - 1) + "]";
}

std::string format_resubmit(const ActResubmit& r) {
  if (r.in_port != kPortInPort && r.table == kResubmitCurrentTable) return "resubmit:" + format_port(r.in_port);
  std::string s = "resubmit(";
  if (r.in_port != kPortInPort) s += format_port(r.in_port);
  s += ',';
  if (r.table != kResubmitCurrentTable) s += std::to_string(r.table);
  return s + ")";
}

std::string format_note(const ActNote& n) {
  std::string s = "note:";
  char b[4];
  for (size_t i = 0; i < n.bytes.size(); i++) {
    std::snprintf(b, sizeof b, "%02x", n.bytes[i]);
    if (i) s += '.';
    s += b;
  }
  return s;
}

// ct(commit,force,table=T,zone=Z,nat(...),exec(...)) in ovs-ofctl's order.
std::string format_ct(const ActCt& c) {
  std::vector<std::string> parts;
  if (c.commit) parts.push_back("commit");
  if (c.force) parts.push_back("force");
  if (c.table != kCtNoTable) parts.push_back("table=" + std::to_string(c.table));
  if (c.zone_src) parts.push_back("zone=" + format_subfield(*c.zone_src, c.zone_ofs, 16));
  else if (c.zone) parts.push_back("zone=" + std::to_string(c.zone));
  if (c.nat) parts.push_back(base::nat_format(*c.nat));
  if (!c.exec.empty()) {
    std::vector<std::string> ex;
    for (const CtExec& x : c.exec) {
      if (!x.load) {
        ex.push_back(format_set_field(ActSetField{x.field, x.value}));
        continue;
      }
      const unsigned bits = oxm_field_info(x.field).width * 8u;
      std::string range = x.ofs == 0 && x.nbits == bits ? "[]"
                          : x.nbits == 1 ? "[" + std::to_string(x.ofs) + "]"
                          : "[" + std::to_string(x.ofs) + ".." + std::to_string(x.ofs + x.nbits - 1) + "]";
      ex.push_back("load:" + hex(x.value.to_u64(8)) + "->" + oxm_field_info(x.field).nxm_name + range);
    }
    parts.push_back("exec(" + join(ex) + ")");
  }
  return "ct(" + join(parts) + ")";
}

// The conntrack fields, first as ovs-ofctl prints them (before the
// protocol shorthand): ct_state, ct_zone, ct_mark, ct_label.
void format_ct_fields(const OfMatch& m, std::vector<std::string>* parts) {
  for (OxmField f : {OxmField::kCtState, OxmField::kCtZone, OxmField::kCtMark, OxmField::kCtLabel})
    if (m.has(f)) parts->push_back(std::string(oxm_field_info(f).name) + "=" + format_value_mask(f, m));
}

// %#x as OVS prints registers: "0" for zero, "0x5" otherwise.
std::string hex_c(uint64_t v) { return v ? hex(v) : std::string("0"); }

// reg0..15 after the protocol shorthand, as ovs-ofctl prints them
// (xregN arrives split into its two registers).
void format_regs(const OfMatch& m, std::vector<std::string>* parts) {
  for (unsigned n = 0; n < kNumRegs; n++) {
    const OxmField f = reg_field(n);
    if (!m.has(f)) continue;
    std::string s = std::string(oxm_field_info(f).name) + "=" + hex_c(m.value_of(f).to_u64(4));
    if (!m.is_exact(f)) s += "/" + hex_c(m.mask_of(f).to_u64(4));
    parts->push_back(s);
  }
}

}  // namespace

std::string format_match(const OfMatch& m) {
  std::vector<std::string> parts;
  format_ct_fields(m, &parts);
  const ShorthandDone done = format_shorthand(m, &parts);
  format_regs(m, &parts);
  format_tunnel_fields(m, &parts);
  for (const PrintedField& pf : kPrintOrder) format_field(pf, m, done, &parts);
  return join(parts);
}

std::string format_actions(const ActionList& actions) {
  if (actions.empty()) return "drop";
  std::string out;
  for (const OfAction& a : actions) {
    if (!out.empty()) out += ',';
    out += std::visit(
        Overloaded{
            [](const ActOutput& o) -> std::string {
              if (o.port == kPortController) return "CONTROLLER:" + std::to_string(o.max_len);
              if (o.port > kPortMax) return format_port(o.port);
              return "output:" + std::to_string(o.port);
            },
            [](const ActGroup& g) -> std::string { return "group:" + std::to_string(g.group_id); },
            [](const ActSetField& s) -> std::string { return format_set_field(s); },
            [](const ActPushVlan& p) -> std::string { return "push_vlan:" + hex(p.ethertype); },
            [](const ActPopVlan&) -> std::string { return "pop_vlan"; },
            [](const ActPushMpls& p) -> std::string {
              char b[32];
              std::snprintf(b, sizeof b, "push_mpls:0x%04x", p.ethertype);
              return b;
            },
            [](const ActPopMpls& p) -> std::string {
              char b[32];
              std::snprintf(b, sizeof b, "pop_mpls:0x%04x", p.ethertype);
              return b;
            },
            [](const ActPushPbb& p) -> std::string { return "push_pbb:" + hex(p.ethertype); },
            [](const ActPopPbb&) -> std::string { return "pop_pbb"; },
            [](const ActSetMplsTtl& t) -> std::string { return "set_mpls_ttl:" + std::to_string(t.ttl); },
            [](const ActDecMplsTtl&) -> std::string { return "dec_mpls_ttl"; },
            [](const ActSetNwTtl& t) -> std::string { return "mod_nw_ttl:" + std::to_string(t.ttl); },
            [](const ActDecNwTtl&) -> std::string { return "dec_ttl"; },
            [](const ActCopyTtlOut&) -> std::string { return "copy_ttl_out"; },
            [](const ActCopyTtlIn&) -> std::string { return "copy_ttl_in"; },
            [](const ActSetQueue& q) -> std::string { return "set_queue:" + std::to_string(q.queue_id); },
            [](const ActCt& c) -> std::string { return format_ct(c); },
            [](const ActCtClear&) -> std::string { return "ct_clear"; },
            [](const ActResubmit& r) -> std::string { return format_resubmit(r); },
            [](const ActRegLoad& l) -> std::string {
              return "load:" + (l.value ? hex(l.value) : std::string("0")) + "->" +
                     format_subfield(l.dst, l.ofs, l.nbits);
            },
            [](const ActRegMove& m) -> std::string {
              return "move:" + format_subfield(m.src, m.src_ofs, m.nbits) + "->" +
                     format_subfield(m.dst, m.dst_ofs, m.nbits);
            },
            [](const ActNote& n) -> std::string { return format_note(n); },
            [](const ActSample& s) -> std::string { return format_sample(s); },
        },
        a);
  }
  return out;
}

std::string format_instructions(const Instructions& in) {
  std::vector<std::string> parts;
  if (in.meter) parts.push_back("meter:" + std::to_string(*in.meter));
  if (in.apply && !in.apply->empty()) parts.push_back(format_actions(*in.apply));
  if (in.clear_actions) parts.push_back("clear_actions");
  if (in.write) parts.push_back("write_actions(" + (in.write->empty() ? std::string() : format_actions(*in.write)) + ")");
  if (in.write_metadata) {
    std::string s = "write_metadata:" + hex(in.write_metadata->value);
    if (in.write_metadata->mask != ~0ull) s += "/" + hex(in.write_metadata->mask);
    parts.push_back(s);
  }
  if (in.goto_table) parts.push_back("goto_table:" + std::to_string(*in.goto_table));
  if (parts.empty()) return "drop";
  return join(parts);
}

namespace {

std::string format_common(uint8_t table, uint16_t priority, uint64_t cookie, uint16_t idle,
                          uint16_t hard, uint16_t flags, const OfMatch& match,
                          const Instructions& insts, const std::string& stats) {
  std::string out;
  auto kv = [&](const std::string& s) {
    out += s;
    out += ", ";
  };
  if (cookie) kv("cookie=" + hex(cookie));
  out += stats;
  if (table) kv("table=" + std::to_string(table));
  if (priority != kDefaultPriority) kv("priority=" + std::to_string(priority));
  if (idle) kv("idle_timeout=" + std::to_string(idle));
  if (hard) kv("hard_timeout=" + std::to_string(hard));
  if (flags & kFlagSendFlowRem) kv("send_flow_rem");
  if (flags & kFlagCheckOverlap) kv("check_overlap");
  if (flags & kFlagResetCounts) kv("reset_counts");
  if (flags & kFlagNoPktCounts) kv("no_packet_counts");
  if (flags & kFlagNoBytCounts) kv("no_byte_counts");
  std::string m = format_match(match);
  if (!m.empty()) {
    out += m;
    out += ' ';
  } else if (out.size() >= 2) {
    out.pop_back();
    out.back() = ' ';
  }
  out += "actions=" + format_instructions(insts);
  return out;
}

}  // namespace

std::string format_flow_mod(const FlowMod& fm) {
  return format_common(fm.table_id, fm.priority, fm.cookie, fm.idle_timeout, fm.hard_timeout,
                       fm.flags, fm.match, fm.instructions, "");
}

std::string format_flow_stats(const FlowStats& f, bool with_stats) {
  std::string stats;
  if (with_stats) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "duration=%u.%03us, n_packets=%llu, n_bytes=%llu, ",
                  f.duration_sec, f.duration_nsec / 1000000u,
                  static_cast<unsigned long long>(f.packet_count),
                  static_cast<unsigned long long>(f.byte_count));
    stats = buf;
  }
  return format_common(f.table_id, f.priority, f.cookie, f.idle_timeout, f.hard_timeout, f.flags,
                       f.match, f.instructions, stats);
}

std::string format_group(const GroupDesc& g) {
  static const char* kTypes[] = {"all", "select", "indirect", "ff"};
  std::string out = "group_id=" + std::to_string(g.group_id) + ",type=" + kTypes[static_cast<int>(g.type)];
  for (const GroupBucket& b : g.buckets) {
    out += ",bucket=";
    if (b.weight) out += "weight:" + std::to_string(b.weight) + ",";
    if (b.watch_port != kPortAny) out += "watch_port:" + format_port(b.watch_port) + ",";
    if (b.watch_group != kGroupAny) out += "watch_group:" + std::to_string(b.watch_group) + ",";
    out += "actions=" + format_actions(b.actions);
  }
  return out;
}

}  // namespace dps::ofproto
