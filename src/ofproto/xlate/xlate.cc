#include "xlate.h"

#include <arpa/inet.h>
#include <endian.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>

#include "flow_parser.h"
#include "lacp.h"
#include "tnl_header.h"
#include "tunnel_context.h"
#include "xlate_ct.h"

namespace dps::ofproto {

namespace {

using datapath::DpAction;
using datapath::FlowKey;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr uint16_t kCfi = 0x1000;
constexpr uint32_t kLseBos = 0x100;  // MPLS label stack entry: bottom of stack

// Builds and appends a trace line only when a trace was asked for.
#define TRACE(expr)              \
  do {                           \
    if (opts_.trace) trace(expr); \
  } while (0)

uint64_t bit(OxmField f) { return 1ull << static_cast<unsigned>(f); }

MacAddr mac_of(const uint8_t* p) {
  MacAddr m;
  std::memcpy(m.data(), p, 6);
  return m;
}

// The key's tunnel metadata words (tun_id .. tun_opts).
constexpr unsigned kTunWord0 = offsetof(FlowKey, tun_id) / 8;
constexpr unsigned kTunWords = datapath::kFlowWords - kTunWord0;
static_assert(offsetof(FlowKey, tun_id) % 8 == 0);

struct TunWords {
  uint64_t w[kTunWords];
};

TunWords tun_words(const FlowKey& k) {
  TunWords t;
  for (unsigned i = 0; i < kTunWords; i++) t.w[i] = k.words()[kTunWord0 + i];
  return t;
}

void set_tun_words(FlowKey* k, const TunWords& t) {
  for (unsigned i = 0; i < kTunWords; i++) k->words()[kTunWord0 + i] = t.w[i];
}

bool any_byte(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return true;
  return false;
}

// Where an encapsulated packet goes: the state tunnel output gathers.
struct TnlSend {
  IpAddr remote, local;  // local zero: the route's source
  uint64_t key = 0;
  uint8_t tos = 0, ttl = 64;
  uint8_t opts[datapath::kTunOptsMax] = {};
  uint8_t opts_len = 0;
};

struct TnlNext {
  Bridge* bridge = nullptr;         // the underlay bridge
  const LocalPort* port = nullptr;  // its internal port (the source)
  IpAddr src, next_hop;
  MacAddr dmac{};
};

class Xlator {
 public:
  Xlator(Bridge& br, const FlowKey& key, uint32_t of_in_port, const XlateOptions& opts)
      : bp_(&br), opts_(opts), in_of_port_(of_in_port) {
    flow_.flow = key;
    flow_.flow.in_port = of_in_port;
    flow_.pipe.in_phy_port = of_in_port;
    base_ = flow_;
    orig_ = flow_;
  }

  XlateResult finish() {
    res_.mask = wc_.flow;
    res_.mask.in_port = 0xffffffffu;  // megaflows are per input port
    res_.mask.recirc_id = 0xffffffffu;  // and per pass (xlate_ct.h)
    // Bits no datapath key carries stay zero in the mask.
    res_.mask.pad0 = res_.mask.pad1 = 0;
    res_.mask.ext_words = 0;
    finish_tunnel_mask(&res_.mask);
    if (failed_) {
      res_.actions.n = 0;
      res_.mirrors.clear();
    } else {
      add_ipfix_output_samples();
    }
    return std::move(res_);
  }

  // IPFIX output sampling (as OVS's compose_ipfix_action(ctx, out_port)):
  // before an output to a datapath port (not a tunnel push / pop, not a
  // bond), a sample by the IPFIX sampler of the bridge doing the output -
  // through a patch port, the peer's. Recorded as the outputs are emitted.
  struct IpfixOutput {
    unsigned at;  // index of the output action
    BridgeSampler sampler;
    uint32_t dp_port;
  };
  // Not in an underlay translation (its outputs become tnl_push: the
  // encapsulated packet exists only as it leaves, so there is no place for
  // a sample of it).
  void note_ipfix_output(uint32_t dp_port) {
    const BridgeSampler& s = bp_->sampling.ipfix;
    if (s.rate && s.output && !tnl_depth_) ipfix_outs_.push_back({res_.actions.n, s, dp_port});
  }
  // The recorded samples into the list, each just before its output; none
  // when they do not all fit (as the input sample, a full list is not
  // sampled).
  void add_ipfix_output_samples() {
    if (ipfix_outs_.empty() || res_.actions.n + ipfix_outs_.size() > datapath::kMaxDpActions) return;
    datapath::DpActions acts;
    size_t next = 0;
    for (unsigned i = 0; i < res_.actions.n; i++) {
      for (; next < ipfix_outs_.size() && ipfix_outs_[next].at == i; next++) {
        const IpfixOutput& o = ipfix_outs_[next];
        acts.add(datapath::act_sample(o.sampler.slot, o.sampler.rate,
                                      {datapath::SampleKind::kIpfixBridge, datapath::kSampleEgress, 0, o.dp_port,
                                       o.sampler.obs_domain, o.sampler.obs_point}));
      }
      acts.add(res_.actions.acts[i]);
    }
    res_.actions = acts;
  }

  // A packet arriving on member dp_in of bond `in`: slow-protocol frames
  // (LACP) go to the slow path and nowhere else; the bond's receive policy
  // (bonding.h: inactive members, SLB floods) may drop it. False: the
  // translation ends here.
  bool bond_receive(const BridgePort& in, uint32_t dp_in) {
    unwildcard(OxmField::kEthType);
    if (flow_.flow.eth_type == htons(kEthTypeSlow)) {
      emit(datapath::act_userspace(kSlowProtocolCookie));
      TRACE("bond " + in.name + ": slow protocol frame (LACP) -> slow path");
      return false;
    }
    const Bond& b = *in.bond;
    const bool multicast = flow_.flow.dl_dst[0] & 1;
    if (b.rx_depends_on_multicast()) wc_.flow.dl_dst[0] |= 1;
    if (b.may_receive(dp_in, multicast)) return true;
    const BondMember* m = b.member(dp_in);
    TRACE("bond " + in.name + ": member " + (m ? m->name : std::to_string(dp_in)) +
          (m && m->enabled ? " is not the active member" : " is disabled") + ", dropped");
    return false;
  }

  // Bits of wildcards found outside this translator (tunnel receive).
  void add_wildcards(const datapath::FlowMask& m) {
    for (unsigned w = 0; w < datapath::kFlowWords; w++) wc_.flow.words()[w] |= m.words()[w];
  }

  // A packet decapsulated on tunnel port r: maps its raw Geneve options
  // through the TLV table. False: dropped (bad options).
  bool tunnel_receive(const TnlPortRef& r) {
    FlowKey& f = flow_.flow;
    rx_tunnel_ = true;
    rx_opts_len_ = std::min<uint8_t>(f.tun_opts_len, datapath::kTunOptsMax);
    TRACE("tunnel port " + r.name + " (" + tunnel_type_name(r.cfg->type) + ") receives: tun_id=0x" +
          hex(be64toh(f.tun_id)) + " " + tun_addr(false).str() + "->" + tun_addr(true).str());
    uint8_t raw[datapath::kTunOptsMax];
    std::memcpy(raw, f.tun_opts, rx_opts_len_);
    GeneveOptsError e = geneve_opts_to_mapped(bp_->tnl->tlv(), raw, rx_opts_len_, &f);
    if (e != GeneveOptsError::kNone) {
      tnl_drop(geneve_opts_error_name(e), &TnlStats::rx_bad_options);
      return false;
    }
    base_ = flow_;
    orig_ = flow_;
    return true;
  }

  // No tunnel port takes a decapsulated packet (or other tunnel trouble):
  // a counted drop, traced.
  void tnl_drop(const std::string& why, uint64_t TnlStats::*counter) {
    TRACE("tunnel: " + why + ": dropped");
    if (opts_.account && bp_->tnl) bp_->tnl->stats().*counter += 1;
  }

  void run_pipeline(uint8_t table) {
    walk(table);
  }

  // A packet as received (recirc_id 0): ingress mirrors, then table 0. A
  // recirculated one (ct(table=T)) continues in table T.
  void run_from(uint32_t recirc_id) {
    if (!recirc_id) {
      mirror_ingress();
      return run_pipeline(0);
    }
    if (std::optional<uint8_t> mt = mpls_recirc_table(recirc_id)) {
      TRACE("recirculation id 0x" + hex(recirc_id) + ": after pop_mpls/pop_pbb, continues in table " +
            std::to_string(*mt));
      return run_pipeline(*mt);
    }
    std::optional<uint8_t> t = ct_recirc_table(recirc_id);
    if (!t) {
      const FrozenState* fs = bp_->frozen.find(recirc_id);
      if (!fs) return fail("unknown recirculation id 0x" + hex(recirc_id));
      if (fs->continuation) return resume(*fs, recirc_id);
      t = fs->table;
      flow_.pipe.metadata = fs->metadata;
      std::memcpy(flow_.pipe.regs, fs->regs, sizeof fs->regs);
      base_ = flow_;
      orig_ = flow_;
      TRACE("recirculation id 0x" + hex(recirc_id) + ": frozen metadata and registers restored");
    }
    TRACE("recirculation id 0x" + hex(recirc_id) + ": ct continues in table " + std::to_string(*t));
    run_pipeline(*t);
  }

  void run_actions(const ActionList& actions) { do_actions(actions, 0); }

  // Ingress mirroring (OVS mirror_ingress_packet): the packet as received,
  // before the pipeline, to the mirrors selecting the input port.
  void mirror_ingress() {
    if (bp_->mirrors.empty()) return;
    const PortMirrors* pm = bp_->mirrors.port(in_of_port_);
    const BridgePort* in = bp_->port(in_of_port_);
    if (pm && pm->src && in) mirror(*in, pm->src);
  }

  // Trace lines are built only when tracing (TRACE below): never on the
  // normal miss path.
  void trace(const std::string& s) {
    if (opts_.trace) {
      opts_.trace->append(std::string(static_cast<size_t>(indent_) * 4, ' '));
      opts_.trace->append(s);
      opts_.trace->push_back('\n');
    }
  }

 private:
  void fail(const std::string& why) {
    if (!failed_) {
      failed_ = true;
      res_.error = why;
      TRACE("error: " + why + " (flow dropped)");
    }
  }

  void emit(const DpAction& a) {
    if (failed_) return;
    flush_encap_undo();
    if (!res_.actions.add(a))
      fail("translation needs more than " + std::to_string(datapath::kMaxDpActions) + " datapath actions");
  }

  void unwildcard(OxmField f) { put_field(&wc_, f, FieldValue::exact(f)); }

  // ---- pipeline ----
  // The tables from `table` on, then the action set.
  void walk(uint8_t table) {
    if (walk_tables(table, true)) run_action_set();
  }

  // The action set at the end of the pipeline. Freezing in it (pop_mpls,
  // then an action needing the inner header) carries its rest over.
  void run_action_set() {
    if (failed_ || halted_ || aset_.empty()) return;
    ActionList set = aset_.ordered();
    aset_.clear();
    TRACE("action set: " + format_actions(set));
    indent_++;
    do_actions(set, 0);
    if (freezing_) finish_freeze(true);
    indent_--;
  }

  // A rule's instructions after its apply-actions (OpenFlow 1.3.5 5.9).
  void rule_rest(const Instructions& in) {
    if (in.clear_actions) aset_.clear();
    if (in.write) aset_.write(*in.write);
    if (in.write_metadata) {
      uint64_t& md = flow_.pipe.metadata;
      md = (md & ~in.write_metadata->mask) | (in.write_metadata->value & in.write_metadata->mask);
    }
  }

  // Table lookups from `table` along goto-table; honor_miss false (a
  // resubmit): a miss does nothing, whatever the table's miss config.
  // False when a table miss (drop, controller, past the last table) or a
  // recirculation ended the pipeline: the action set is not executed.
  bool walk_tables(uint8_t table, bool honor_miss) {
    while (!failed_ && !halted_) {
      if (inner_unknown() && !recirc_into(table)) return false;
      FlowTable& t = bp_->pipeline.table(table);
      Rule* r = t.lookup(flow_, &wc_);
      res_.visits.push_back(TableVisit{bp_, table, r ? int32_t{r->priority} : -1,
                                       !(flow_ == orig_)});
      if (opts_.account) t.count_lookup(opts_.packets, r != nullptr);
      if (!r && !honor_miss) {
        TRACE("table " + std::to_string(table) + ": no match (resubmit: nothing done)");
        return true;
      }
      if (!r) {
        switch (t.miss) {
          case TableMiss::kDrop:
            TRACE("table " + std::to_string(table) + ": no match -> drop");
            return false;
          case TableMiss::kController:
            TRACE("table " + std::to_string(table) + ": no match -> controller");
            controller(PacketInReason::kNoMatch, table, ~0ull, kControllerNoBuffer, true);
            return false;
          case TableMiss::kContinue:
            TRACE("table " + std::to_string(table) + ": no match -> next table");
            if (table + 1u >= kNumTables) return false;
            table++;
            continue;
        }
      }
      res_.rules.push_back(r->shared_from_this());
      if (opts_.account) r->account(opts_.packets, opts_.bytes, opts_.now_ms);
      if (opts_.trace) {
        std::string m = format_match(r->match);
        trace("table " + std::to_string(table) + ": priority=" + std::to_string(r->priority) +
            (m.empty() ? "" : "," + m) + " cookie=0x" + [&] {
              char b[20];
              std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(r->cookie));
              return std::string(b);
            }() + " actions=" + format_instructions(r->instructions));
      }
      cur_table_ = table;
      cur_cookie_ = r->cookie;
      // The table-miss flow entry (OpenFlow 1.3.5 5.4): its packet-ins have
      // reason no_match.
      cur_miss_ = r->priority == 0 && r->match == OfMatch{};
      const Instructions& in = r->instructions;
      indent_++;
      if (in.meter) meter(*in.meter);  // the first instruction (OpenFlow 1.3.5 5.9)
      if (in.apply) do_actions(*in.apply, 0);
      if (freezing_) {
        freeze_rule_rest(in);
        indent_--;
        return false;
      }
      rule_rest(in);
      indent_--;
      if (in.goto_table) {
        table = *in.goto_table;
        continue;
      }
      break;
    }
    return true;
  }

  // resubmit([port],[table]): one more lookup, its rule's instructions, then
  // back to the next action (OVS xlate_table_action). Depth and count are
  // bounded as in OVS; past them the translation fails (a counted drop).
  void resubmit(const ActResubmit& a) {
    if (resubmit_depth_ >= kMaxResubmitDepth || resubmits_ >= kMaxResubmits) {
      res_.limit_drop = true;
      return fail(resubmit_depth_ >= kMaxResubmitDepth
                      ? "resubmit: over max translation depth " + std::to_string(kMaxResubmitDepth)
                      : "resubmit: over " + std::to_string(kMaxResubmits) + " resubmits");
    }
    resubmits_++;
    const uint8_t table = a.table == kResubmitCurrentTable ? cur_table_ : a.table;
    const uint32_t saved_in = flow_.flow.in_port;
    if (a.in_port != kPortInPort) flow_.flow.in_port = a.in_port;
    const uint8_t saved_table = cur_table_;
    const uint64_t saved_cookie = cur_cookie_;
    const bool saved_miss = cur_miss_;
    TRACE("resubmit -> table " + std::to_string(table) +
          (a.in_port != kPortInPort ? " with in_port " + format_port(a.in_port) : ""));
    resubmit_depth_++;
    lookup_nest_++;
    indent_++;
    walk_tables(table, false);
    indent_--;
    lookup_nest_--;
    resubmit_depth_--;
    flow_.flow.in_port = saved_in;
    cur_table_ = saved_table;
    cur_cookie_ = saved_cookie;
    cur_miss_ = saved_miss;
  }

  // load:V->REG[a..b]: registers are translation state (no datapath action).
  void reg_load(const ActRegLoad& l) {
    FieldValue v = get_field(flow_, l.dst);
    set_field_bits(&v, oxm_field_info(l.dst).width, l.ofs, l.nbits, FieldValue::from_u64(l.value, 16));
    put_field(&flow_, l.dst, v);
  }

  // move:SRC[..]->DST[..]: the source bits it reads are pinned in the
  // megaflow; a packet-field destination becomes a set_field of the whole
  // field (its other bits, the packet's own, pinned too).
  void reg_move(const ActRegMove& m) {
    const unsigned sw = oxm_field_info(m.src).width, dw = oxm_field_info(m.dst).width;
    FieldValue ones;
    std::fill(ones.bytes.begin(), ones.bytes.begin() + 16, 0xff);
    FieldValue wsrc = get_field(wc_, m.src);
    set_field_bits(&wsrc, sw, m.src_ofs, m.nbits, ones);
    put_field(&wc_, m.src, wsrc);
    const FieldValue bits = field_bits(get_field(flow_, m.src), sw, m.src_ofs, m.nbits);
    FieldValue v = get_field(flow_, m.dst);
    set_field_bits(&v, dw, m.dst_ofs, m.nbits, bits);
    if (is_register(m.dst) || m.dst == OxmField::kMetadata) {
      put_field(&flow_, m.dst, v);
      return;
    }
    if (m.nbits != dw * 8u) unwildcard(m.dst);
    set_field(ActSetField{m.dst, v});
  }

  // Meter instruction: the datapath meter action at this point of the
  // action list (before the rule's apply-actions; in table 0, first). A
  // dscp_remark band rewrites packets the translation does not see: later
  // tables match the packet as it was (as OVS).
  void meter(uint32_t id) {
    const Meter* m = bp_->pipeline.meters().find(id);
    if (!m) return fail("meter:" + std::to_string(id) + " does not exist");
    TRACE("meter:" + std::to_string(id) + " (datapath meter " + std::to_string(m->dp_id) + ")");
    emit(datapath::act_meter(m->dp_id));
  }

  // ---- actions ----
  // An action that froze the translation (need_recirc) did nothing: it and
  // the actions after it are the continuation's first actions.
  void do_actions(const ActionList& actions, int gdepth) {
    for (size_t i = 0; i < actions.size(); i++) {
      if (failed_ || halted_) return;
      do_action(actions[i], gdepth);
      if (freezing_) {
        frz_.cont.apply = ActionList(actions.begin() + static_cast<std::ptrdiff_t>(i), actions.end());
        return;
      }
    }
  }

  void do_action(const OfAction& a, int gdepth) {
    if (l2_unknown_ && !runs_on_unparsed_frame(a))
      return fail(std::string(action_name(a)) + " after pop_pbb: the customer frame is not parsed in this pass");
    std::visit(Overloaded{
                   [&](const ActOutput& o) { output(o.port, o.max_len); },
                   [&](const ActGroup& g) { group(g.group_id, gdepth); },
                   [&](const ActSetField& s) { set_field(s); },
                   [&](const ActPushVlan& p) { push_vlan(p.ethertype); },
                   [&](const ActPopVlan&) { pop_vlan(); },
                   [&](const ActPushMpls& p) { push_mpls(p.ethertype); },
                   [&](const ActPopMpls& p) { pop_mpls(p.ethertype); },
                   [&](const ActSetMplsTtl& t) { set_mpls_bits(0xff, t.ttl); },
                   [&](const ActDecMplsTtl&) { dec_mpls_ttl(); },
                   [&](const ActSetNwTtl& t) { set_nw_ttl(t.ttl); },
                   [&](const ActDecNwTtl&) { dec_ttl(); },
                   [&](const ActCopyTtlOut&) { copy_ttl(true); },
                   [&](const ActCopyTtlIn&) { copy_ttl(false); },
                   [&](const ActSetQueue& q) { TRACE("set_queue:" + std::to_string(q.queue_id) + " (no QoS queues: ignored)"); },
                   [&](const ActCt& c) { ct(c); },
                   [&](const ActCtClear&) { ct_clear_fields(&flow_.flow); },
                   [&](const ActResubmit& r) { resubmit(r); },
                   [&](const ActRegLoad& l) { reg_load(l); },
                   [&](const ActRegMove& m) { reg_move(m); },
                   [&](const ActNote&) {},
                   [&](const ActSample& s) { sample(s); },
                   [&](const ActPushPbb&) { push_pbb(); },
                   [&](const ActPopPbb&) { pop_pbb(); },
               },
               a);
  }

  bool is_ipv4() {
    unwildcard(OxmField::kEthType);
    return flow_.flow.eth_type == htons(datapath::kEthTypeIpv4);
  }
  bool is_ipv6() {
    unwildcard(OxmField::kEthType);
    return flow_.flow.eth_type == htons(datapath::kEthTypeIpv6);
  }

  // Whether the packet has the header field f lives in, reading (and so
  // pinning) only what decides it. Flow rules are validated against their
  // match; group buckets are not, so this is what makes a bucket's
  // set_field on a packet without that header a no-op (as OVS).
  bool header_present(OxmField f) {
    auto et = [&](uint16_t a, uint16_t b2 = 0) {
      unwildcard(OxmField::kEthType);
      uint16_t e = ntohs(flow_.flow.eth_type);
      return e == a || (b2 && e == b2);
    };
    auto proto = [&](uint8_t p, uint16_t e1 = datapath::kEthTypeIpv4, uint16_t e2 = datapath::kEthTypeIpv6) {
      if (!et(e1, e2)) return false;
      unwildcard(OxmField::kIpProto);
      return flow_.flow.nw_proto == p;
    };
    // ND fields: an NS (135) or NA (136) with code 0, as the key parser.
    auto nd = [&](uint8_t t1, uint8_t t2) {
      if (!proto(58, datapath::kEthTypeIpv6)) return false;
      unwildcard(OxmField::kIcmpv6Type);
      unwildcard(OxmField::kIcmpv6Code);
      const uint16_t t = ntohs(flow_.flow.tp_src);
      return flow_.flow.tp_dst == 0 && (t == t1 || t == t2);
    };
    switch (f) {
      case OxmField::kIpv4Src:
      case OxmField::kIpv4Dst: return et(datapath::kEthTypeIpv4);
      case OxmField::kIpDscp:
      case OxmField::kIpEcn:
      case OxmField::kIpProto: return et(datapath::kEthTypeIpv4, datapath::kEthTypeIpv6);
      case OxmField::kIpv6Src:
      case OxmField::kIpv6Dst:
      case OxmField::kIpv6Flabel: return et(datapath::kEthTypeIpv6);
      case OxmField::kIcmpv4Type:
      case OxmField::kIcmpv4Code: return proto(1, datapath::kEthTypeIpv4, 0);
      case OxmField::kIcmpv6Type:
      case OxmField::kIcmpv6Code: return proto(58, datapath::kEthTypeIpv6, 0);
      case OxmField::kArpOp:
      case OxmField::kArpSpa:
      case OxmField::kArpTpa:
      case OxmField::kArpSha:
      case OxmField::kArpTha: return et(datapath::kEthTypeArp);
      case OxmField::kIpv6NdTarget: return nd(135, 136);
      case OxmField::kIpv6NdSll: return nd(135, 135);
      case OxmField::kIpv6NdTll: return nd(136, 136);
      case OxmField::kTcpSrc:
      case OxmField::kTcpDst: return proto(6);
      case OxmField::kUdpSrc:
      case OxmField::kUdpDst: return proto(17);
      case OxmField::kSctpSrc:
      case OxmField::kSctpDst: return proto(132);
      case OxmField::kVlanVid:
      case OxmField::kVlanPcp:
        wc_.flow.vlan_tci |= htons(kCfi);
        return ntohs(flow_.flow.vlan_tci) & kCfi;
      case OxmField::kPbbIsid: return et(datapath::kEthTypePbb);
      default: return true;
    }
  }

  // Fields a set_field writes without reading any header past L2.5.
  static bool outer_field(OxmField f) {
    switch (f) {
      case OxmField::kEthSrc:
      case OxmField::kEthDst:
      case OxmField::kEthType:
      case OxmField::kVlanVid:
      case OxmField::kVlanPcp:
      case OxmField::kMetadata:
      case OxmField::kMplsLabel:
      case OxmField::kMplsTc:
      case OxmField::kMplsBos: return true;
      default: return static_cast<unsigned>(f) >= 40 || f == OxmField::kTunnelId;
    }
  }

  // A set_field of f after a pop to a header the key does not hold fails
  // (pop_pbb) or freezes the translation (pop_mpls): true, it does not run now.
  bool set_field_waits(OxmField f) {
    const std::string what = std::string("set_field ") + oxm_field_info(f).name;
    if (l2_unknown_ && !packet_free_field(f))
      return fail(what + " after pop_pbb: the customer frame is not parsed in this pass"), true;
    if (l3_unknown_ && !outer_field(f))
      return need_recirc(what + " after pop_mpls: the header under it is not parsed in this pass"), true;
    return false;
  }

  void set_field(const ActSetField& s) {
    FieldValue v = s.value;
    if (set_field_waits(s.field)) return;
    switch (s.field) {
      case OxmField::kMplsLabel: return set_mpls_bits(0xfffff000u, static_cast<uint32_t>(v.to_u64(4) << 12));
      case OxmField::kMplsTc: return set_mpls_bits(0xe00u, static_cast<uint32_t>((v.to_u64(1) & 7) << 9));
      case OxmField::kMplsBos: return set_mpls_bits(kLseBos, static_cast<uint32_t>((v.to_u64(1) & 1) << 8));
      default: break;
    }
    if (!header_present(s.field)) {
      TRACE(std::string("set_field ") + oxm_field_info(s.field).name + ": header not present, skipped");
      return;
    }
    if (is_register(s.field)) {
      put_field(&flow_, s.field, v);
      return;
    }
    if (set_tunnel_field(s)) return;
    switch (s.field) {
      case OxmField::kVlanVid: {
        wc_.flow.vlan_tci = 0xffff;  // commit compares the new tag with the packet's
        uint16_t tci = ntohs(flow_.flow.vlan_tci);
        tci = static_cast<uint16_t>((tci & 0xe000) | kCfi | (v.to_u64(2) & 0xfff));
        flow_.flow.vlan_tci = htons(tci);
        return;
      }
      case OxmField::kVlanPcp: {
        wc_.flow.vlan_tci = 0xffff;
        uint16_t tci = ntohs(flow_.flow.vlan_tci);
        tci = static_cast<uint16_t>((tci & 0x1fff) | ((v.to_u64(1) & 7) << 13));
        flow_.flow.vlan_tci = htons(tci);
        return;
      }
      case OxmField::kMetadata:
        flow_.pipe.metadata = v.to_u64(8);
        return;
      case OxmField::kTunnelId:
        put_field(&flow_, s.field, v);  // FlowKey::tun_id: later matches see it
        tun_set_.tun_id = ~uint64_t{0};
        return;
      case OxmField::kEthSrc:
      case OxmField::kEthDst:
      case OxmField::kEthType:
      case OxmField::kIpProto:
      case OxmField::kIpv4Src:
      case OxmField::kIpv4Dst:
      case OxmField::kTcpSrc:
      case OxmField::kTcpDst:
      case OxmField::kUdpSrc:
      case OxmField::kUdpDst:
      case OxmField::kSctpSrc:
      case OxmField::kSctpDst:
      case OxmField::kIpv6Src:
      case OxmField::kIpv6Dst:
      case OxmField::kIpDscp:  // header_present() checked the family: commit() reads it
      case OxmField::kIpEcn:
      case OxmField::kIpv6Flabel:
      case OxmField::kIcmpv4Type:
      case OxmField::kIcmpv4Code:
      case OxmField::kIcmpv6Type:
      case OxmField::kIcmpv6Code:
      case OxmField::kArpOp:
      case OxmField::kArpSpa:
      case OxmField::kArpTpa:
      case OxmField::kArpSha:
      case OxmField::kArpTha:
      case OxmField::kIpv6NdTarget:
      case OxmField::kIpv6NdSll:
      case OxmField::kIpv6NdTll:
      case OxmField::kPbbIsid:
        break;
      default:
        return fail(std::string("set_field ") + oxm_field_info(s.field).name +
                    " is not supported by the datapath");
    }
    put_field(&flow_, s.field, v);
    dirty_ |= bit(s.field);
    touched_ |= bit(s.field);
  }

  // set_field on a field the key stores in its tunnel words (tun_id,
  // tun_src / tun_dst, tun_metadataN, ...): no datapath action, it only
  // changes what a later tunnel output encapsulates with. The bits it wrote
  // are constants of the translation from then on (never pinned).
  bool set_tunnel_field(const ActSetField& s) {
    // OpenFlow 1.3's basic fields (OFPXMT_OFB_* 0..39): only tunnel_id can
    // live there; the others need no probe.
    if (static_cast<unsigned>(s.field) < 40 && s.field != OxmField::kTunnelId) return false;
    TunMetadataLoc loc{};
    if (is_tun_metadata(s.field) && bp_->tlv_table)
      loc = bp_->tlv_table->layout().loc[tun_metadata_index(s.field)];
    OfKey probe{};
    put_field(&probe, s.field, FieldValue::exact(s.field), loc);
    bool tun = false;
    for (unsigned w = 0; w < OfKey::kWords; w++) {
      if (!probe.word(w)) continue;
      if (w < kTunWord0 || w >= datapath::kFlowWords) return false;
      tun = true;
    }
    if (!tun) return false;
    put_field(&flow_, s.field, s.value, loc);
    for (unsigned w = kTunWord0; w < datapath::kFlowWords; w++) tun_set_.words()[w] |= probe.flow.words()[w];
    TRACE(std::string("set_field ") + oxm_field_info(s.field).name + " (tunnel metadata)");
    return true;
  }

  // IPv4 TTL or IPv6 hop limit; commit() picks the action by eth_type
  // (pinned here). Not IP: nothing to set (as OVS).
  void set_nw_ttl(uint8_t ttl) {
    if (!is_ipv4() && !is_ipv6()) {
      TRACE("set_nw_ttl: not IP, ignored");
      return;
    }
    nw_ttl_unknown_ = false;
    flow_.flow.nw_ttl = ttl;
    ttl_dirty_ = true;
  }

  void dec_ttl() {
    if (!is_ipv4() && !is_ipv6()) {
      TRACE("dec_ttl: not IP, ignored");
      return;
    }
    commit();
    emit(datapath::act_dec_ttl());
  }

  // Emits the datapath actions that turn base_'s outer tag into `want`
  // (a TCI, CFI set when tagged); single tag level.
  // Equal tags need no pinning: base_ and flow_ differ only after a VLAN
  // action or NORMAL changed flow_. When they differ, the actions emitted
  // carry tag bits that may be the packet's own (a re-pushed tag keeps its
  // PCP), so the whole TCI is pinned.
  void vlan_to(uint16_t want_host) {
    uint16_t have = ntohs(base_.flow.vlan_tci);
    if (!(have & kCfi)) have = 0;  // untagged, whatever else the bits say
    if (!(want_host & kCfi)) want_host = 0;
    if (have == want_host) return;
    wc_.flow.vlan_tci = 0xffff;
    bool have_tag = have & kCfi, want_tag = want_host & kCfi;
    if (!have_tag && want_tag) {
      emit(datapath::act_push_vlan(datapath::kEthTypeVlan, static_cast<uint16_t>(want_host & ~kCfi)));
    } else if (have_tag && !want_tag) {
      emit(datapath::act_pop_vlan());
    } else {
      if ((have & 0xfff) != (want_host & 0xfff)) emit(datapath::act_set_vlan_vid(want_host & 0xfff));
      if ((have >> 13) != (want_host >> 13)) emit(datapath::act_set_vlan_pcp(static_cast<uint8_t>(want_host >> 13)));
    }
    base_.flow.vlan_tci = htons(want_host);
  }

  void commit() {
    flush_encap_undo();
    vlan_to(ntohs(flow_.flow.vlan_tci));
    if (mpls_dirty_) {
      log_mpls(MplsOp::kSet);
      emit(datapath::act_set_mpls_lse(lse(), mpls_dirty_));
      base_.flow.mpls_lse = flow_.flow.mpls_lse;
      mpls_dirty_ = 0;
    }
    if (ttl_dirty_) {
      emit(v6() ? datapath::act_set_ipv6_hlim(flow_.flow.nw_ttl) : datapath::act_set_ipv4_ttl(flow_.flow.nw_ttl));
      base_.flow.nw_ttl = flow_.flow.nw_ttl;
      ttl_dirty_ = false;
    }
    if (!dirty_) return;
    // eth_type last: every other field is written under the packet's
    // ethertype as it was (the datapath finds the headers by it).
    auto write = [&](OxmField fld) {
      if (fold_into_push_pbb(fld)) return put_field(&base_, fld, get_field(flow_, fld));
      if (std::optional<DpAction> a = set_action(fld)) emit(*a);
      put_field(&base_, fld, get_field(flow_, fld));
    };
    // The I-SID first: right after push_pbb it goes into the pushed I-TAG.
    if (dirty_ & bit(OxmField::kPbbIsid)) write(OxmField::kPbbIsid);
    for (unsigned i = 0; i < kNumOxmFields && !failed_; i++) {
      OxmField fld = static_cast<OxmField>(i);
      if (fld != OxmField::kEthType && fld != OxmField::kPbbIsid && (dirty_ & bit(fld))) write(fld);
    }
    if (!failed_ && (dirty_ & bit(OxmField::kEthType))) write(OxmField::kEthType);
    dirty_ = 0;
  }

  // The key's eth_type is IPv6 (set_field and set_nw_ttl pinned it).
  bool v6() const { return flow_.flow.eth_type == htons(datapath::kEthTypeIpv6); }

  // The datapath action that writes field fld of flow_ into the packet.
  std::optional<DpAction> set_action(OxmField fld) const {
    namespace dp = datapath;
    const FlowKey& f = flow_.flow;
    const auto u8 = [](uint16_t be) { return static_cast<uint8_t>(ntohs(be)); };
    switch (fld) {
      case OxmField::kEthSrc: return dp::act_set_eth_src(f.dl_src);
      case OxmField::kEthDst: return dp::act_set_eth_dst(f.dl_dst);
      case OxmField::kIpv4Src: return dp::act_set_ipv4_src(f.nw_src);
      case OxmField::kIpv4Dst: return dp::act_set_ipv4_dst(f.nw_dst);
      case OxmField::kIpDscp: {
        const uint8_t dscp = static_cast<uint8_t>(f.nw_tos >> 2);
        return v6() ? dp::act_set_ipv6_dscp(dscp) : dp::act_set_ipv4_tos(dscp);
      }
      case OxmField::kIpEcn: return dp::act_set_ip_ecn(f.nw_tos & 3);
      case OxmField::kEthType: return dp::act_set_eth_type(ntohs(f.eth_type));
      case OxmField::kIpProto: return dp::act_set_ip_proto(f.nw_proto);
      case OxmField::kTcpSrc:
      case OxmField::kUdpSrc:
      case OxmField::kSctpSrc: return dp::act_set_tp_src(f.tp_src);
      case OxmField::kTcpDst:
      case OxmField::kUdpDst:
      case OxmField::kSctpDst: return dp::act_set_tp_dst(f.tp_dst);
      case OxmField::kIcmpv4Type: return dp::act_set_icmp_type(false, u8(f.tp_src));
      case OxmField::kIcmpv4Code: return dp::act_set_icmp_code(false, u8(f.tp_dst));
      case OxmField::kIcmpv6Type: return dp::act_set_icmp_type(true, u8(f.tp_src));
      case OxmField::kIcmpv6Code: return dp::act_set_icmp_code(true, u8(f.tp_dst));
      case OxmField::kArpOp: return dp::act_set_arp_op(f.nw_proto);
      case OxmField::kArpSpa: return dp::act_set_arp_spa(f.nw_src);
      case OxmField::kArpTpa: return dp::act_set_arp_tpa(f.nw_dst);
      case OxmField::kArpSha: return dp::act_set_arp_sha(f.arp_sha);
      case OxmField::kArpTha: return dp::act_set_arp_tha(f.arp_tha);
      case OxmField::kIpv6Src: return dp::act_set_ipv6_src(f.ipv6_src);
      case OxmField::kIpv6Dst: return dp::act_set_ipv6_dst(f.ipv6_dst);
      case OxmField::kIpv6Flabel: return dp::act_set_ipv6_flabel(ntohl(f.ipv6_label));
      case OxmField::kIpv6NdTarget: return dp::act_set_nd_target(f.nd_target);
      case OxmField::kIpv6NdSll: return dp::act_set_nd_sll(f.arp_sha);
      case OxmField::kIpv6NdTll: return dp::act_set_nd_tll(f.arp_tha);
      case OxmField::kPbbIsid: return dp::act_set_pbb_isid(ntohl(f.ipv6_label));
      default: return std::nullopt;
    }
  }

  void push_vlan(uint16_t tpid) {
    commit();
    wc_.flow.vlan_tci = 0xffff;  // the new tag copies the old one
    uint16_t old = ntohs(flow_.flow.vlan_tci);
    uint16_t tci = static_cast<uint16_t>((old & kCfi) ? old : 0);
    emit(datapath::act_push_vlan(tpid, static_cast<uint16_t>(tci & ~kCfi)));
    for (OfKey* k : {&flow_, &base_}) {
      k->flow.vlan_tci2 = k->flow.vlan_tci;
      k->flow.vlan_tci = htons(static_cast<uint16_t>(tci | kCfi));
    }
  }

  // ct(): the datapath's kCt (xlate_ct.h). Later actions see the packet's
  // ct fields as they were (as OVS); table=T continues in the recirculated
  // translation, which must start in this bridge.
  void ct(const ActCt& c) {
    if (failed_) return;
    if (c.table != kCtNoTable && bp_ != entry_bp_)
      return fail("ct(table=" + std::to_string(c.table) + ") in a bridge reached through a patch port is not supported");
    uint16_t zone = c.zone;
    if (c.zone_src)
      zone = static_cast<uint16_t>(field_bits(get_field(flow_, *c.zone_src), oxm_field_info(*c.zone_src).width,
                                              c.zone_ofs, 16).bytes[14] << 8 |
                                   field_bits(get_field(flow_, *c.zone_src), oxm_field_info(*c.zone_src).width,
                                              c.zone_ofs, 16).bytes[15]);
    uint32_t recirc = 0;
    if (c.table != kCtNoTable) {
      FrozenState fs;
      fs.table = c.table;
      fs.metadata = flow_.pipe.metadata;
      std::memcpy(fs.regs, flow_.pipe.regs, sizeof fs.regs);
      if (!fs.metadata && std::all_of(std::begin(fs.regs), std::end(fs.regs), [](uint32_t r) { return r == 0; })) {
        recirc = ct_recirc_id(c.table);
      } else if (std::optional<uint32_t> id = bp_->frozen.intern(fs)) {
        recirc = *id;
      } else {
        res_.limit_drop = true;
        return fail("ct: more than " + std::to_string(kMaxFrozen) + " frozen recirculation states");
      }
    }
    flush_encap_undo();
    datapath::DpCtArgs args = ct_dp_args(c, zone, recirc);
    args.flags |= ct_natted_flags(flow_.flow, zone, &wc_.flow);
    TRACE("ct: zone " + std::to_string(zone) + (c.commit ? ", commit" : "") +
          (c.table != kCtNoTable ? ", then table " + std::to_string(c.table) + " (recirculated, id 0x" +
                                       hex(recirc) + ")" : ""));
    if (!datapath::add_ct_action(&res_.actions, args))
      fail("translation needs more than " + std::to_string(datapath::kMaxDpActions) + " datapath actions");
  }

  // sample(): kSample here (the packet as the actions so far made it), 1 in
  // round(65535 / probability), into the datapath slot of the bridge's
  // collector set. The sample's output port is the list's, filled in at the
  // end (xlate: set_flow_sample_outputs).
  void sample(const ActSample& s) {
    auto it = bp_->sampling.flow_sets.find(s.collector_set_id);
    if (it == bp_->sampling.flow_sets.end()) {
      TRACE("sample: no Flow_Sample_Collector_Set " + std::to_string(s.collector_set_id) +
            " on bridge " + bp_->name + ": not sampled");
      return;
    }
    commit();
    const uint32_t rate = sample_rate(s.probability);
    TRACE("sample: 1 in " + std::to_string(rate) + " to collector set " + std::to_string(s.collector_set_id));
    emit(datapath::act_sample(it->second, rate,
                              {datapath::SampleKind::kIpfixFlow, 0, static_cast<uint16_t>(rate),
                               datapath::kSampleOutNone, s.obs_domain_id, s.obs_point_id}));
  }

  void pop_vlan() {
    commit();
    wc_.flow.vlan_tci = 0xffff;
    if (!(ntohs(flow_.flow.vlan_tci) & kCfi)) {
      TRACE("pop_vlan: packet has no VLAN tag, ignored");
      return;
    }
    wc_.flow.vlan_tci2 = 0xffff;
    emit(datapath::act_pop_vlan());
    for (OfKey* k : {&flow_, &base_}) {
      k->flow.vlan_tci = k->flow.vlan_tci2;
      k->flow.vlan_tci2 = 0;
    }
  }


  // ---- MPLS ----
  // flow_.mpls_lse is the top label stack entry (pinned whenever read: a
  // pin on an entry this translation pushed is a pin on the packet's own
  // value, narrower but exact); mpls_below_ the entries
  // under it that this translation pushed (known), inner_type_ the payload's
  // ethertype when this translation pushed the first label onto it (flow_'s
  // L3 fields still describe it). Popping past what is known leaves the top
  // LSE (mpls_unknown_) or the L3 header (l3_unknown_) unknown: an action
  // or table lookup that needs it freezes the translation and recirculates
  // the packet, its key parsed anew (need_recirc, as OVS recirc_for_mpls).
  static bool mpls_type(uint16_t et) { return et == datapath::kEthTypeMpls || et == datapath::kEthTypeMplsMcast; }
  bool is_mpls() {
    unwildcard(OxmField::kEthType);
    return mpls_type(ntohs(flow_.flow.eth_type));
  }
  bool inner_unknown() const { return l3_unknown_ || mpls_unknown_; }
  uint32_t lse() const { return ntohl(flow_.flow.mpls_lse); }

  // Bits of the top LSE written with constants (set_mpls_ttl, set_field
  // mpls_label/tc/bos): one masked datapath write at commit, nothing pinned.
  void set_mpls_bits(uint32_t mask, uint32_t value) {
    if (!is_mpls()) {
      TRACE("set MPLS field: packet is not MPLS, ignored");
      return;
    }
    flow_.flow.mpls_lse = htonl((lse() & ~mask) | (value & mask));
    mpls_dirty_ |= mask;
    if (mask & 0xff) mpls_ttl_unknown_ = false;
  }

  // As OVS: the TTL is read (pinned) here; an expiring packet goes to the
  // controller (reason invalid_ttl) and its translation stops.
  void dec_mpls_ttl() {
    if (!is_mpls()) {
      TRACE("dec_mpls_ttl: packet is not MPLS, ignored");
      return;
    }
    if (mpls_unknown_ || mpls_ttl_unknown_)
      return need_recirc("dec_mpls_ttl: the MPLS TTL is not known here (after pop_mpls of a stacked label or copy_ttl_out)");
    wc_.flow.mpls_lse |= htonl(0xff);  // pins the packet's own entry too when the top is ours: exact
    const uint8_t ttl = static_cast<uint8_t>(lse() & 0xff);
    if (ttl <= 1) {
      TRACE("dec_mpls_ttl: TTL " + std::to_string(ttl) + " expires -> controller (invalid_ttl)");
      controller(PacketInReason::kInvalidTtl, cur_table_, cur_cookie_, kControllerNoBuffer, true);
      halted_ = true;
      return;
    }
    set_mpls_bits(0xff, ttl - 1u);
  }

  void push_mpls(uint16_t et) {
    commit();
    const uint16_t cur = ntohs(flow_.flow.eth_type);
    unwildcard(OxmField::kEthType);
    uint32_t top;
    if (mpls_type(cur)) {
      if (mpls_unknown_ || mpls_ttl_unknown_)
        return need_recirc("push_mpls: the label under it is not known here (after pop_mpls of a stacked label or copy_ttl_out)");
      wc_.flow.mpls_lse = 0xffffffffu;  // the new entry copies the top one
      top = lse() & ~kLseBos;
      mpls_below_.push_back(lse());
    } else {
      if (l3_unknown_ || nw_ttl_unknown_)
        return need_recirc("push_mpls: the IP header under it is not known here (after pop_mpls or copy_ttl_in)");
      uint32_t label = cur == datapath::kEthTypeIpv6 ? 2 : 0;  // explicit null, as OVS
      uint32_t tc = 0, ttl = 64;
      if (cur == datapath::kEthTypeIpv4 || cur == datapath::kEthTypeIpv6) {
        wc_.flow.nw_tos |= 0xfc;
        wc_.flow.nw_ttl = 0xff;
        tc = (flow_.flow.nw_tos >> 2) & 7;
        if (flow_.flow.nw_ttl) ttl = flow_.flow.nw_ttl;
      }
      top = label << 12 | tc << 9 | kLseBos | ttl;
      inner_type_ = cur;
      mpls_below_.clear();
    }
    log_mpls(MplsOp::kPush);
    emit(datapath::act_push_mpls(et, top));
    for (OfKey* k : {&flow_, &base_}) {
      k->flow.eth_type = htons(et);
      k->flow.mpls_lse = htonl(top);
    }
  }

  void pop_mpls(uint16_t et) {
    if (!is_mpls()) {
      TRACE("pop_mpls: packet is not MPLS, ignored");
      return;
    }
    commit();
    if (mpls_unknown_) return need_recirc("pop_mpls: the top label is not known here (after pop_mpls of a stacked label)");
    wc_.flow.mpls_lse |= htonl(kLseBos);
    const bool bos = lse() & kLseBos;
    log_mpls(MplsOp::kPop);
    emit(datapath::act_pop_mpls(et));
    uint32_t next = 0;
    if (mpls_type(et)) {
      // Another label follows (or, under the bottom, the payload is not one:
      // either way the key does not know it unless this translation pushed it).
      if (!bos && !mpls_below_.empty()) {
        next = mpls_below_.back();
        mpls_below_.pop_back();
      } else {
        mpls_unknown_ = true;
      }
    } else {
      mpls_unknown_ = false;
      l3_unknown_ = l3_unknown_ || !bos || inner_type_ != et;
    }
    if (bos) inner_type_ = 0;
    for (OfKey* k : {&flow_, &base_}) {
      k->flow.eth_type = htons(et);
      k->flow.mpls_lse = htonl(next);
    }
    mpls_ttl_unknown_ = mpls_unknown_below_ttl_ && mpls_type(et);
    mpls_unknown_below_ttl_ = false;
  }

  // copy_ttl_out / copy_ttl_in between the top LSE and the next header
  // (the second LSE, or the IP header under the bottom). copy_ttl_out from a
  // header this translation knows (one it pushed onto, pinned) is a set of
  // the top TTL; otherwise, and for copy_ttl_in, the datapath copies on the
  // packet's own headers and the TTL written is unknown here from then on.
  void copy_ttl(bool out) {
    const char* name = out ? "copy_ttl_out" : "copy_ttl_in";
    if (!is_mpls()) {
      TRACE(std::string(name) + ": packet is not MPLS, ignored");
      return;
    }
    if (mpls_unknown_)
      return need_recirc(std::string(name) + ": the top label is not known here (after pop_mpls of a stacked label)");
    wc_.flow.mpls_lse |= htonl(kLseBos);
    const bool bos = lse() & kLseBos;
    const bool ip_known = bos && !l3_unknown_ && !nw_ttl_unknown_ &&
                          (inner_type_ == datapath::kEthTypeIpv4 || inner_type_ == datapath::kEthTypeIpv6);
    if (out && !bos && !mpls_below_.empty()) return set_mpls_bits(0xff, mpls_below_.back() & 0xff);
    if (out && ip_known) {
      wc_.flow.nw_ttl = 0xff;
      return set_mpls_bits(0xff, flow_.flow.nw_ttl);
    }
    commit();
    log_mpls(MplsOp::kOpaque);
    emit(out ? datapath::act_copy_ttl_out() : datapath::act_copy_ttl_in());
    if (out) {
      mpls_ttl_unknown_ = true;
    } else if (!bos && !mpls_below_.empty()) {
      if (mpls_ttl_unknown_) mpls_unknown_below_ttl_ = true;
      mpls_below_.back() = (mpls_below_.back() & ~0xffu) | (lse() & 0xff);
    } else {
      nw_ttl_unknown_ = true;
    }
  }

  // ---- PBB (IEEE 802.1ah) ----
  // push_pbb puts a backbone header in front of the frame (datapath/
  // actions.h): the outer frame is then eth_type 0x88e7 with the frame's
  // own addresses (set_field eth_dst/eth_src rewrite them), untagged, its
  // I-SID in ipv6_label (flow_key_layout.h). OpenFlow 1.3.5 table 8: the
  // I-SID copies the PBB I-SID of a frame that already was PBB (else 0),
  // the I-PCP the outer VLAN PCP (else 0); both are pinned when read. After
  // pop_pbb the customer frame is not known at all (l2_unknown_): a table
  // lookup recirculates, outputs and address rewrites run, other readers
  // refuse (runs_on_unparsed_frame).
  void push_pbb() {
    commit();
    unwildcard(OxmField::kEthType);
    uint32_t isid = 0;
    if (flow_.flow.eth_type == htons(datapath::kEthTypePbb)) {
      unwildcard(OxmField::kPbbIsid);
      isid = ntohl(flow_.flow.ipv6_label) & 0xffffff;
    }
    wc_.flow.vlan_tci |= htons(0xe000 | kCfi);
    const uint16_t tci = ntohs(flow_.flow.vlan_tci);
    const uint32_t pcp = (tci & kCfi) ? tci >> 13 : 0;
    log_mpls(MplsOp::kPbb);
    emit(datapath::act_push_pbb(pcp << 29 | isid));
    for (OfKey* k : {&flow_, &base_}) {
      clear_above_l2(&k->flow);
      k->flow.eth_type = htons(datapath::kEthTypePbb);
      k->flow.ipv6_label = htonl(isid);
    }
    // The outer frame is known from here; the MPLS state was the inner one's.
    mpls_below_.clear();
    inner_type_ = 0;
    mpls_unknown_ = mpls_ttl_unknown_ = mpls_unknown_below_ttl_ = false;
    nw_ttl_unknown_ = l3_unknown_ = false;
  }

  void pop_pbb() {
    unwildcard(OxmField::kEthType);
    if (flow_.flow.eth_type != htons(datapath::kEthTypePbb)) {
      TRACE("pop_pbb: packet is not PBB, ignored");
      return;
    }
    commit();
    log_mpls(MplsOp::kPbb);
    emit(datapath::act_pop_pbb());
    for (OfKey* k : {&flow_, &base_}) {
      clear_above_l2(&k->flow);
      k->flow.eth_type = 0;
    }
    l2_unknown_ = l3_unknown_ = true;
  }

  // The key's L2 tags and everything after them zeroed (in_port, the MACs,
  // the recirculation, conntrack and tunnel words kept).
  static void clear_above_l2(FlowKey* k) {
    k->vlan_tci = k->vlan_tci2 = 0;
    k->nw_frag = k->nw_tos = k->nw_proto = k->nw_ttl = 0;
    k->nw_src = k->nw_dst = 0;
    k->tp_src = k->tp_dst = k->tcp_flags = 0;
    k->mpls_lse = k->ipv6_label = 0;
    std::memset(k->arp_sha, 0, 6);
    std::memset(k->arp_tha, 0, 6);
    k->ipv6_exthdr = 0;
    std::memset(k->ipv6_src, 0, 16);
    std::memset(k->ipv6_dst, 0, 16);
    std::memset(k->nd_target, 0, 16);
  }

  // Fields a set_field writes without knowing the frame: its addresses (at
  // fixed offsets), and what is not in the packet (metadata, registers,
  // tunnel metadata).
  static bool packet_free_field(OxmField f) {
    return f == OxmField::kEthSrc || f == OxmField::kEthDst || f == OxmField::kMetadata ||
           is_register(f) || f == OxmField::kTunnelId || static_cast<unsigned>(f) >= 40;
  }

  // What may follow pop_pbb before the customer frame is parsed again (the
  // next table lookup recirculates): outputs (not NORMAL, not with port
  // mirrors: both read the frame), groups (their buckets are checked
  // action by action), address and metadata set_fields, register loads and
  // moves between registers and metadata, set_queue, note, ct_clear,
  // resubmit (a table lookup).
  bool runs_on_unparsed_frame(const OfAction& a) const {
    auto meta = [](OxmField f) { return is_register(f) || f == OxmField::kMetadata; };
    if (auto* o = std::get_if<ActOutput>(&a)) return o->port != kPortNormal && bp_->mirrors.empty();
    if (auto* m = std::get_if<ActRegMove>(&a)) return meta(m->src) && meta(m->dst);
    return std::holds_alternative<ActGroup>(a) || std::holds_alternative<ActSetField>(a) ||
           std::holds_alternative<ActRegLoad>(a) || std::holds_alternative<ActSetQueue>(a) ||
           std::holds_alternative<ActNote>(a) || std::holds_alternative<ActCtClear>(a) ||
           std::holds_alternative<ActResubmit>(a);
  }

  // set_field pbb_isid, eth_dst or eth_src right after push_pbb: the I-SID
  // goes into the pushed I-TAG, the addresses into the pushed backbone
  // header (one datapath action instead of up to four).
  bool fold_into_push_pbb(OxmField fld) {
    if (failed_ || res_.actions.n == 0) return false;
    DpAction& last = res_.actions.acts[res_.actions.n - 1];
    if (last.type != datapath::ActType::kPushPbb) return false;
    const FlowKey& f = flow_.flow;
    switch (fld) {
      case OxmField::kPbbIsid:
        last.arg32 = (last.arg32 & 0xff000000u) | (ntohl(f.ipv6_label) & 0xffffff);
        return true;
      case OxmField::kEthDst:
        std::memcpy(last.data, f.dl_dst, 6);
        last.arg16 |= datapath::kPbbBda;
        return true;
      case OxmField::kEthSrc:
        std::memcpy(last.data + 6, f.dl_src, 6);
        last.arg16 |= datapath::kPbbBsa;
        return true;
      default: return false;
    }
  }

  // ---- freezing (OVS freeze_unroll_actions / finish_freezing) ----
  // An action (or table lookup) needs what the key does not hold after
  // pop_mpls: the translation stops before it (freezing_), do_actions
  // keeps it and the actions after it, the rule's other instructions
  // follow (freeze_rule_rest), and finish_freeze interns all that with the
  // action set, metadata and registers and emits the recirculation. The
  // next pass (resume) parses the packet anew and goes on from there. A
  // group bucket freezes its own copy of the packet (clone); a patch
  // port's peer freezes in its own bridge (patch_path_). Inside a resubmit
  // or output:TABLE, in a packet-out, or with connection-tracking state in
  // the key (lost by the new parse) the translation fails instead (why).
  void need_recirc(const std::string& why) {
    if (!failed_ && !freezing_ && !no_freeze_ && !lookup_nest_) wc_.flow.ct_state = 0xff;
    const char* no = lookup_nest_          ? "inside a resubmit or output:TABLE"
                     : no_freeze_          ? "in a packet-out"
                     : flow_.flow.ct_state ? "with connection-tracking state (the new parse would lose it)"
                                           : nullptr;
    if (no) return fail(why + "; the recirculation this needs is not supported " + no);
    TRACE(why + ": the translation freezes here, the packet is recirculated");
    freezing_ = true;
  }

  // The frozen rule's instructions after its apply-actions.
  void freeze_rule_rest(const Instructions& in) {
    frz_.cont.clear_actions = in.clear_actions;
    frz_.cont.write = in.write;
    frz_.cont.write_metadata = in.write_metadata;
    frz_.cont.goto_table = in.goto_table;
    finish_freeze(true);
  }

  // in_pipeline: the pipeline's own packet (its action set is frozen, the
  // translation ends); false: a group bucket's copy (no action set; the
  // packet goes on after the bucket).
  void finish_freeze(bool in_pipeline) {
    freezing_ = false;
    FrozenState fs = std::move(frz_);
    frz_ = FrozenState{};
    fs.continuation = true;
    const bool lookup_only = fs.cont.apply == std::nullopt && fs.cont == Instructions{.goto_table = fs.cont.goto_table};
    if (!lookup_only) {
      fs.table = cur_table_;
      fs.cookie = cur_cookie_;
      fs.table_miss = cur_miss_;
    }
    fs.metadata = flow_.pipe.metadata;
    std::memcpy(fs.regs, flow_.pipe.regs, sizeof fs.regs);
    if (in_pipeline) fs.action_set = aset_;
    fs.patch_path = patch_path_;
    commit();
    uint32_t id = 0;
    if (lookup_only && fs.cont.goto_table && fs == FrozenState{.continuation = true, .cont = fs.cont}) {
      id = mpls_recirc_id(*fs.cont.goto_table);
    } else if (std::optional<uint32_t> i = entry_bp_->frozen.intern(fs)) {
      id = *i;
    } else {
      res_.limit_drop = true;
      return fail("pop_mpls: more than " + std::to_string(kMaxFrozen) + " frozen recirculation states");
    }
    TRACE("recirculation (id 0x" + hex(id) + "): continues with " +
          (fs.cont.empty() ? std::string("nothing") : format_instructions(fs.cont)) +
          (fs.action_set.empty() ? "" : ", action set " + format_actions(fs.action_set.ordered())));
    emit(datapath::act_recirc(id));
    freezes_++;
    if (in_pipeline) halted_ = true;
  }

  // After pop_mpls to a payload whose headers the key does not hold, the
  // lookup in `table` needs the packet parsed anew (OVS recirculates too).
  bool recirc_into(uint8_t table) {
    need_recirc("table " + std::to_string(table) + ": a lookup after pop_mpls needs the header under it");
    if (!freezing_) return false;
    frz_.cont = Instructions{};
    frz_.cont.goto_table = table;
    finish_freeze(true);
    return false;
  }

  // The recirculated packet of a frozen translation: through the patch
  // ports it had crossed, then the frozen rest (its actions, the rule's
  // other instructions, the tables from its goto, the action set).
  void resume(const FrozenState& fs, uint32_t id) {
    const TunWords tun_wc = tun_words(wc_.flow);
    for (uint32_t p : fs.patch_path) {
      const BridgePort* bp = bp_->port(p);
      if (!bp || !bp->is_patch()) return fail("recirculation id 0x" + hex(id) + ": patch port " + std::to_string(p) +
                                              " of bridge " + bp_->name + " is gone");
      enter_peer(*bp);
    }
    flow_.pipe.metadata = fs.metadata;
    std::memcpy(flow_.pipe.regs, fs.regs, sizeof fs.regs);
    aset_ = fs.action_set;
    cur_table_ = fs.table;
    cur_cookie_ = fs.cookie;
    cur_miss_ = fs.table_miss;
    base_ = flow_;
    orig_ = flow_;
    TRACE("recirculation id 0x" + hex(id) + ": resumes in bridge " + bp_->name + " with " +
          format_instructions(fs.cont));
    const Instructions& in = fs.cont;
    indent_++;
    if (in.apply) do_actions(*in.apply, 0);
    indent_--;
    if (freezing_) {
      freeze_rule_rest(in);
    } else if (!failed_ && !halted_) {
      rule_rest(in);
      if (!in.goto_table || walk_tables(*in.goto_table, true)) run_action_set();
    }
    if (!fs.patch_path.empty()) set_tun_words(&wc_.flow, tun_wc);
  }

  // resume(): into the peer of patch port p for good (patch() comes back).
  void enter_peer(const BridgePort& p) {
    bp_ = p.peer_bridge;
    in_of_port_ = p.peer_port;
    flow_.flow.in_port = p.peer_port;
    flow_.pipe = PipelineFields{};
    flow_.pipe.in_phy_port = p.peer_port;
    set_tun_words(&flow_.flow, TunWords{});
    TunWords ones;
    std::fill(std::begin(ones.w), std::end(ones.w), ~uint64_t{0});
    set_tun_words(&tun_set_, ones);
    patch_path_.push_back(p.of_port);
    patch_depth_++;
  }

  // ---- undoing a group bucket's MPLS changes ----
  // The datapath has one packet: a bucket's push / pop / label writes stay
  // on it. Every one is logged (log_mpls); where the bucket ends, the
  // inverse list is planned (plan_encap_undo) and emitted before the next
  // datapath action (flush_encap_undo), so what follows the group sees the
  // packet as it came (OpenFlow 1.3.5 5.6.1: each bucket works on a copy).
  // Nothing follows: nothing is emitted. An inverse that cannot be built
  // (a label the translation does not know, a TTL copied by the datapath,
  // a rewrite of the header under a pushed or popped label) fails the
  // translation only when something follows.
  struct MplsOp {
    enum Kind : uint8_t { kPush, kPop, kSet, kOpaque, kPbb } kind;  // kOpaque: a TTL copy
    uint16_t et_before;   // base_'s ethertype before the op
    uint32_t lse_before;  // base_'s top LSE before it (host order)
    bool known;           // lse_before is known (not after pop_mpls of a stacked label)
    unsigned at;          // its index in res_.actions
  };
  struct EncapSnap {
    size_t log;
    uint16_t flow_et, base_et;
    uint32_t flow_lse, base_lse, dirty;
    std::vector<uint32_t> below;
    uint16_t inner_type;
    bool mpls_unknown, mpls_ttl_unknown, below_ttl, nw_ttl_unknown, l3_unknown, l2_unknown;
  };
  struct EncapUndo {
    bool active = false;
    size_t log_from = 0;
    std::vector<DpAction> acts;
    std::string error;
    bool pin_lse = false;
    uint16_t et = 0;
    uint32_t lse = 0;
  };

  void log_mpls(MplsOp::Kind k) {
    flush_encap_undo();
    const uint16_t et = ntohs(base_.flow.eth_type);
    mpls_log_.push_back({k, et, ntohl(base_.flow.mpls_lse), !(mpls_type(et) && mpls_unknown_), res_.actions.n});
  }

  EncapSnap encap_snap() const {
    return {mpls_log_.size(), ntohs(flow_.flow.eth_type), ntohs(base_.flow.eth_type), ntohl(flow_.flow.mpls_lse),
            ntohl(base_.flow.mpls_lse), mpls_dirty_, mpls_below_, inner_type_, mpls_unknown_, mpls_ttl_unknown_,
            mpls_unknown_below_ttl_, nw_ttl_unknown_, l3_unknown_, l2_unknown_};
  }

  // Where a bucket ends: the translation's MPLS view as it was, and the
  // datapath packet's to be restored if it changed.
  void encap_restore(const EncapSnap& s) {
    if (mpls_log_.size() > s.log) {
      plan_encap_undo(s);
      flow_.flow.eth_type = htons(s.flow_et);
    }
    flow_.flow.mpls_lse = htonl(s.flow_lse);
    mpls_dirty_ = s.dirty;
    mpls_below_ = s.below;
    inner_type_ = s.inner_type;
    mpls_unknown_ = s.mpls_unknown;
    mpls_ttl_unknown_ = s.mpls_ttl_unknown;
    mpls_unknown_below_ttl_ = s.below_ttl;
    nw_ttl_unknown_ = s.nw_ttl_unknown;
    l3_unknown_ = s.l3_unknown;
    l2_unknown_ = s.l2_unknown;
  }

  // Datapath actions that leave the packet's headers past L2 alone (L2 and
  // VLAN changes are undone by clone() on the restored packet).
  static bool keeps_inner(datapath::ActType t) {
    using datapath::ActType;
    switch (t) {
      case ActType::kOutput: case ActType::kBondOutput: case ActType::kUserspace: case ActType::kSample:
      case ActType::kMeter: case ActType::kTnlPop: case ActType::kTnlPush: case ActType::kCt:
      case ActType::kRecirc: case ActType::kPushMpls: case ActType::kPopMpls: case ActType::kSetMplsLse:
      case ActType::kCopyTtlOut: case ActType::kCopyTtlIn:  // (logged: MplsOp::kOpaque)
      case ActType::kPushPbb: case ActType::kPopPbb:          // (logged: MplsOp::kPbb)
      case ActType::kSetEthSrc: case ActType::kSetEthDst: case ActType::kPushVlan: case ActType::kPopVlan:
      case ActType::kSetVlanVid: case ActType::kSetVlanPcp: return true;
      default: return false;
    }
  }

  void plan_encap_undo(const EncapSnap& s) {
    EncapUndo u;
    u.active = true;
    u.log_from = s.log;
    u.et = s.base_et;
    u.lse = s.base_lse;
    const datapath::DpActions& a = res_.actions;
    for (unsigned i = mpls_log_[s.log].at; i < a.n && u.error.empty(); i += datapath::action_slots(a.acts[i]))
      if (!keeps_inner(a.acts[i].type))
        u.error = "a group bucket rewrote the packet under an MPLS push or pop (" +
                  datapath::format_actions(acts_of(a.acts[i])) + "): the packet cannot be restored for the actions after the group";
    // A write to an entry the bucket pushed needs no undo: the pop takes it.
    auto on_pushed = [&](size_t j) {
      while (j-- > s.log)
        if (mpls_log_[j].kind != MplsOp::kSet) return mpls_log_[j].kind == MplsOp::kPush;
      return false;
    };
    for (size_t j = mpls_log_.size(); j-- > s.log && u.error.empty();) {
      const MplsOp& e = mpls_log_[j];
      if (e.kind == MplsOp::kSet && on_pushed(j)) continue;
      if (e.kind == MplsOp::kPush) {
        u.acts.push_back(datapath::act_pop_mpls(e.et_before));
      } else if (e.kind == MplsOp::kOpaque || e.kind == MplsOp::kPbb || !e.known) {
        u.error = std::string("a group bucket ") +
                  (e.kind == MplsOp::kOpaque ? "copied a TTL (copy_ttl_in/out)"
                   : e.kind == MplsOp::kPbb  ? "pushed or popped PBB"
                                             : "changed a label the translation does not know") +
                  ": the packet cannot be restored for the actions after the group";
      } else {
        u.pin_lse = true;  // the entry restored is the packet's own (or one this translation pushed): exact
        u.acts.push_back(e.kind == MplsOp::kPop ? datapath::act_push_mpls(e.et_before, e.lse_before)
                                                : datapath::act_set_mpls_lse(e.lse_before, 0xffffffffu));
      }
    }
    undo_ = std::move(u);
  }

  static datapath::DpActions acts_of(const DpAction& x) {
    datapath::DpActions l;
    l.add(x);
    return l;
  }

  void flush_encap_undo() {
    if (!undo_.active) return;
    EncapUndo u = std::move(undo_);
    undo_ = EncapUndo{};
    if (!u.error.empty()) return fail(u.error);
    if (u.pin_lse) wc_.flow.mpls_lse = 0xffffffffu;
    TRACE("the group bucket's MPLS changes undone: " + [&] {
      datapath::DpActions l;
      for (const DpAction& x : u.acts) l.add(x);
      return datapath::format_actions(l);
    }());
    for (const DpAction& x : u.acts)
      if (!res_.actions.add(x))
        return fail("translation needs more than " + std::to_string(datapath::kMaxDpActions) + " datapath actions");
    mpls_log_.resize(u.log_from);  // the bucket's ops and their inverses: nothing to undo at an outer level
    base_.flow.eth_type = htons(u.et);
    base_.flow.mpls_lse = htonl(u.lse);
  }

  // Runs fn on a clone of the packet state: header changes made inside do
  // not leak out (group buckets, per-port NORMAL variants).
  template <class Fn>
  void clone(Fn&& fn) {
    OfKey saved = flow_;
    TunWords saved_tun_set = tun_words(tun_set_);
    uint64_t saved_touched = touched_;
    uint64_t saved_dirty = dirty_;
    bool saved_ttl = ttl_dirty_;
    const EncapSnap snap = encap_snap();
    touched_ = 0;
    clone_depth_++;
    fn();
    if (freezing_) finish_freeze(false);  // the bucket's copy recirculates; the packet goes on
    clone_depth_--;
    encap_restore(snap);
    // The tag count may have changed inside (push/pop): restore it on the
    // datapath packet; commit() then fixes the outer tag's VID/PCP.
    auto tags = [](const OfKey& k) {
      return ((ntohs(k.flow.vlan_tci) & kCfi) ? 1 : 0) + ((ntohs(k.flow.vlan_tci2) & kCfi) ? 1 : 0);
    };
    if (tags(base_) != tags(saved)) {
      wc_.flow.vlan_tci = wc_.flow.vlan_tci2 = 0xffff;
      while (tags(base_) > tags(saved) && !failed_) {
        emit(datapath::act_pop_vlan());
        base_.flow.vlan_tci = base_.flow.vlan_tci2;
        base_.flow.vlan_tci2 = 0;
      }
      while (tags(base_) < tags(saved) && !failed_) {
        uint16_t t = ntohs(tags(base_) == 0 && saved.flow.vlan_tci2 ? saved.flow.vlan_tci2 : saved.flow.vlan_tci);
        emit(datapath::act_push_vlan(datapath::kEthTypeVlan, static_cast<uint16_t>(t & ~kCfi)));
        base_.flow.vlan_tci2 = base_.flow.vlan_tci;
        base_.flow.vlan_tci = htons(t);
      }
    }
    uint64_t changed = touched_;
    for (unsigned i = 0; i < kNumOxmFields; i++) {
      OxmField f = static_cast<OxmField>(i);
      if (!(changed & bit(f))) continue;
      // Restoring the packet's own value: the megaflow must pin it.
      put_field(&flow_, f, get_field(saved, f));
      unwildcard(f);
      dirty_ |= bit(f);
    }
    flow_.flow.vlan_tci = saved.flow.vlan_tci;
    flow_.flow.vlan_tci2 = saved.flow.vlan_tci2;
    flow_.flow.nw_ttl = saved.flow.nw_ttl;
    flow_.pipe = saved.pipe;
    set_tun_words(&flow_.flow, tun_words(saved.flow));  // tunnel fields set inside stay inside
    set_tun_words(&tun_set_, saved_tun_set);
    if (flow_.flow.nw_ttl != base_.flow.nw_ttl) ttl_dirty_ = true;
    else ttl_dirty_ = saved_ttl;
    dirty_ |= saved_dirty;
    touched_ = saved_touched | changed;
  }

  void output(uint32_t port, uint16_t max_len) {
    switch (port) {
      case kPortInPort:
        if (in_of_port_ == kPortController || !bp_->port(in_of_port_)) {
          TRACE("output:IN_PORT: no input port, dropped");
          return;
        }
        out_to(in_of_port_, true);
        return;
      case kPortNormal: normal(); return;
      case kPortFlood:
      case kPortAll:
        for (const auto& [num, p] : bp_->ports) {
          if (num == in_of_port_ || p.no_fwd || !p.live) continue;
          if (port == kPortFlood && p.no_flood) continue;
          out_to(num, false);
        }
        return;
      case kPortController:
        controller(cur_miss_ ? PacketInReason::kNoMatch : PacketInReason::kAction, cur_table_,
                   cur_cookie_, max_len, false);
        return;
      case kPortLocal: out_to(kPortLocal, false); return;
      case kPortTable:
        TRACE("output:TABLE -> table 0");
        lookup_nest_++;
        walk(0);
        lookup_nest_--;
        return;
      default:
        if (port == in_of_port_) {
          TRACE("output:" + std::to_string(port) + " is the input port: skipped (use IN_PORT)");
          return;
        }
        out_to(port, false);
    }
  }

  void out_to(uint32_t of_port, bool allow_in_port) {
    const BridgePort* p = bp_->port(of_port);
    if (!p) {
      TRACE("output:" + format_port(of_port) + ": no such port, dropped");
      return;
    }
    if (p->no_fwd || (!allow_in_port && of_port == in_of_port_)) return;
    if (p->is_patch()) return patch(*p);
    port_output(*p);
  }

  // Output to a datapath port: a tunnel port encapsulates, an internal
  // port that is a local tunnel endpoint for the packet decapsulates.
  void port_output(const BridgePort& p) {
    if (p.is_tunnel()) return tunnel_output(p);
    commit();
    if (p.is_bond()) {
      // The member is chosen per packet in the datapath (dp_bond.h).
      emit(datapath::act_bond_output(p.bond->dp_id()));
      TRACE("output:" + format_port(p.of_port) + " (bond " + p.name + ", datapath bond " +
            std::to_string(p.bond->dp_id()) + ")");
      mirror_egress(p);
      return;
    }
    if (terminate_tunnel(p)) return;
    note_ipfix_output(p.dp_port);
    emit(datapath::act_output(p.dp_port));
    TRACE("output:" + format_port(p.of_port) + " (datapath port " + std::to_string(p.dp_port) + ")");
    mirror_egress(p);
  }

  // Continues in the peer bridge, then restores this bridge's context. The
  // packet's header state carries over (and back, as after any output).
  void patch(const BridgePort& p) {
    if (patch_depth_ >= kMaxPatchDepth)
      return fail("patch port loop: more than " + std::to_string(kMaxPatchDepth) + " bridge crossings");
    TRACE("output:" + format_port(p.of_port) + " -> patch to bridge " + p.peer_bridge->name +
          " port " + std::to_string(p.peer_port));
    Bridge* saved_br = bp_;
    uint32_t saved_in = in_of_port_;
    PipelineFields saved_pipe = flow_.pipe;
    ActionSet saved_set = std::move(aset_);
    uint8_t saved_table = cur_table_;
    uint64_t saved_cookie = cur_cookie_;
    bool saved_miss = cur_miss_;
    if (const BridgePort* peer = p.peer_bridge->port(p.peer_port); peer && peer->no_recv) {
      TRACE("patch peer port " + std::to_string(p.peer_port) + " has no_recv: dropped");
      return;
    }
    patch_depth_++;
    patch_path_.push_back(p.of_port);
    const unsigned saved_freezes = freezes_;
    indent_++;
    bp_ = p.peer_bridge;
    in_of_port_ = p.peer_port;
    flow_.flow.in_port = p.peer_port;
    flow_.pipe = PipelineFields{};
    flow_.pipe.in_phy_port = p.peer_port;
    aset_ = ActionSet{};
    const MirrorMask saved_mirrored = mirrored_;  // the peer's mirrors are other bits
    mirrored_ = 0;
    mirror_ingress();
    // The peer sees no tunnel metadata (as OVS): zero constants there,
    // so nothing the peer reads of them is a dependency of the megaflow.
    const TunWords tun_flow = tun_words(flow_.flow), tun_wc = tun_words(wc_.flow), tun_set = tun_words(tun_set_);
    set_tun_words(&flow_.flow, TunWords{});
    TunWords ones;
    std::fill(std::begin(ones.w), std::end(ones.w), ~uint64_t{0});
    set_tun_words(&tun_set_, ones);
    walk(0);
    set_tun_words(&flow_.flow, tun_flow);
    set_tun_words(&wc_.flow, tun_wc);
    set_tun_words(&tun_set_, tun_set);
    bp_ = saved_br;
    in_of_port_ = saved_in;
    flow_.flow.in_port = saved_in;
    flow_.pipe = saved_pipe;
    aset_ = std::move(saved_set);
    mirrored_ = saved_mirrored;
    cur_table_ = saved_table;
    cur_cookie_ = saved_cookie;
    cur_miss_ = saved_miss;
    // The peer froze its packet (pop_mpls, recirculated with the peer's
    // state): this bridge goes on with the packet as the peer left it.
    if (freezes_ != saved_freezes) halted_ = false;
    indent_--;
    patch_path_.pop_back();
    patch_depth_--;
  }

  void controller(PacketInReason reason, uint8_t table, uint64_t cookie, uint16_t max_len,
                  bool use_miss_send_len) {
    commit();
    res_.controller.push_back({reason, table, cookie, max_len, use_miss_send_len, bp_, in_of_port_});
    emit(datapath::act_userspace(static_cast<uint32_t>(res_.controller.size() - 1)));
    TRACE("controller (reason " + std::to_string(static_cast<int>(reason)) + ", table " +
          std::to_string(table) + ")");
  }

  uint32_t select_hash() {
    for (OxmField f : {OxmField::kEthSrc, OxmField::kEthDst, OxmField::kEthType, OxmField::kIpProto,
                       OxmField::kIpv4Src, OxmField::kIpv4Dst, OxmField::kIpv6Src, OxmField::kIpv6Dst})
      unwildcard(f);
    wc_.flow.vlan_tci |= htons(0x0fff);
    wc_.flow.tp_src = wc_.flow.tp_dst = 0xffff;
    OfMask m;
    m.flow = wc_.flow;  // only bits the megaflow pins: the hash is the same for all its packets
    uint64_t h = of_key_hash(flow_, m);
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  void group(uint32_t id, int depth) {
    if (depth >= kMaxGroupDepth) return fail("group chain deeper than " + std::to_string(kMaxGroupDepth));
    const GroupTable& gt = bp_->pipeline.groups();
    const Group* g = gt.find(id);
    res_.groups.push_back(id);  // also when missing: adding it changes the result
    if (!g) {
      TRACE("group:" + std::to_string(id) + ": no such group, dropped");
      return;
    }
    auto run_bucket = [&](size_t i) {
      TRACE("group:" + std::to_string(id) + " bucket " + std::to_string(i) + ": " +
            format_actions(g->buckets[i].actions));
      indent_++;
      clone([&] { do_actions(g->buckets[i].actions, depth + 1); });
      indent_--;
    };
    switch (g->type) {
      case GroupType::kAll:
        for (size_t i = 0; i < g->buckets.size() && !failed_; i++) run_bucket(i);
        return;
      case GroupType::kIndirect:
        if (!g->buckets.empty()) run_bucket(0);
        return;
      case GroupType::kSelect: {
        int b = gt.select_bucket(*g, select_hash());
        if (b < 0) {
          TRACE("group:" + std::to_string(id) + ": no live bucket, dropped");
          return;
        }
        run_bucket(static_cast<size_t>(b));
        return;
      }
      case GroupType::kFastFailover: {
        int b = gt.first_live_bucket(*g);
        if (b < 0) {
          TRACE("group:" + std::to_string(id) + ": no live bucket, dropped");
          return;
        }
        run_bucket(static_cast<size_t>(b));
        return;
      }
    }
  }

  // ---- NORMAL: VLAN-aware learning switch ----
  void normal() {
    const BridgePort* in = bp_->port(in_of_port_);
    if (!in) {
      TRACE("NORMAL: no input port, dropped");
      return;
    }
    if (bp_->mirrors.is_output(in_of_port_)) {
      TRACE("NORMAL: port " + std::to_string(in_of_port_) + " is reserved for mirror output, dropped");
      return;
    }
    wc_.flow.vlan_tci |= htons(0x1fff);
    uint16_t tci = ntohs(flow_.flow.vlan_tci);
    std::string why;
    std::optional<uint16_t> in_vlan = input_vlan(*in, tci, opts_.trace ? &why : nullptr);
    if (!in_vlan) {
      TRACE("NORMAL: " + why + ", dropped");
      return;
    }
    const uint16_t vlan = *in_vlan;
    unwildcard(OxmField::kEthSrc);
    unwildcard(OxmField::kEthDst);
    MacAddr src = mac_of(flow_.flow.dl_src), dst = mac_of(flow_.flow.dl_dst);
    if (bp_->mac.may_learn(src, vlan))
      res_.macs.push_back(MacDep{bp_, src, vlan, in_of_port_, true});
    if (!mac_is_multicast(dst)) res_.macs.push_back(MacDep{bp_, dst, vlan, 0, false});
    if (opts_.may_learn) {
      LearnResult lr = bp_->mac.learn(src, vlan, in_of_port_, opts_.now_ms);
      if (lr == LearnResult::kNew || lr == LearnResult::kMoved) {
        res_.learned = true;
        TRACE("NORMAL: learned " + mac_to_string(src) + " on port " + std::to_string(in_of_port_) +
              " VLAN " + std::to_string(vlan));
      }
    }
    if (!mac_is_multicast(dst)) {
      if (auto p = bp_->mac.lookup(dst, vlan, opts_.now_ms)) {
        if (*p == in_of_port_) {
          TRACE("NORMAL: " + mac_to_string(dst) + " is on the input port, dropped");
          return;
        }
        const BridgePort* op = bp_->port(*p);
        if (op && op->carries_vlan(vlan) && !op->no_fwd && !bp_->mirrors.is_output(*p)) {
          TRACE("NORMAL: " + mac_to_string(dst) + " -> port " + std::to_string(*p));
          out_vlan(*op, vlan, tci);
          return;
        }
      }
    }
    TRACE("NORMAL: flood VLAN " + std::to_string(vlan));
    // Ports needing no tag change first, then the others: fewer actions.
    const uint16_t start_tci = ntohs(base_.flow.vlan_tci);
    for (int pass = 0; pass < 2; pass++)
      for (const auto& [num, p] : bp_->ports) {
        if (num == in_of_port_ || !p.live || p.no_flood || p.no_fwd || !p.carries_vlan(vlan) ||
            bp_->mirrors.is_output(num))
          continue;
        bool same = want_tci(p, vlan, tci) == start_tci;
        if (same == (pass == 0)) out_vlan(p, vlan, tci);
      }
  }

  // The VLAN a frame with TCI `tci` belongs to as received on `in` (OVS
  // xvlan_input_translate), or nullopt (with *why when given) when the port
  // does not accept it.
  static std::optional<uint16_t> input_vlan(const BridgePort& in, uint16_t tci, std::string* why) {
    const bool tagged = tci & kCfi;
    const uint16_t vid = tci & 0xfff;
    if (in.vlan_mode == VlanMode::kAccess) {
      if (!tagged || vid == 0) return in.tag;
      if (why) *why = "tagged frame (VLAN " + std::to_string(vid) + ") on access port";
      return std::nullopt;
    }
    const uint16_t vlan = tagged ? vid : 0;
    if (in.carries_vlan(vlan)) return vlan;
    if (why) *why = "VLAN " + std::to_string(vlan) + " not trunked on the input port";
    return std::nullopt;
  }

  static uint16_t want_tci(const BridgePort& p, uint16_t vlan, uint16_t in_tci) {
    if (p.vlan_mode == VlanMode::kAccess || vlan == 0) return 0;
    uint16_t pcp = (in_tci & kCfi) ? (in_tci & 0xe000) : 0;
    return static_cast<uint16_t>(pcp | kCfi | vlan);
  }

  void out_vlan(const BridgePort& p, uint16_t vlan, uint16_t in_tci) {
    uint16_t saved = flow_.flow.vlan_tci;
    flow_.flow.vlan_tci = htons(want_tci(p, vlan, in_tci));
    if (p.is_patch()) patch(p);
    else port_output(p);
    flow_.flow.vlan_tci = saved;
  }

  // ---- mirrors (OVS mirror_packet) ----
  // Egress mirroring: the packet as just output to p.
  void mirror_egress(const BridgePort& p) {
    if (bp_->mirrors.empty()) return;
    const PortMirrors* pm = bp_->mirrors.port(p.of_port);
    if (pm && pm->dst) mirror(p, pm->dst);
  }

  // Copies the packet, as the datapath has it now, to the destination of
  // each mirror in `mask` (mirrors selecting port `on`) that selects its
  // VLAN (as `on` classifies it) and whose destination has not had this
  // packet yet. The VLAN decides, so its VID and CFI are pinned.
  void mirror(const BridgePort& on, MirrorMask mask) {
    mask &= ~mirrored_;
    if (!mask || failed_) return;
    wc_.flow.vlan_tci |= htons(0x1fff);
    const uint16_t tci = ntohs(flow_.flow.vlan_tci);
    const std::optional<uint16_t> vlan = input_vlan(on, tci, nullptr);
    if (!vlan) return;
    while (mask && !failed_) {
      const unsigned b = static_cast<unsigned>(std::countr_zero(mask));
      mask &= mask - 1;
      const Mirror& m = bp_->mirrors.mirror(b);
      if (!m.vlans.empty() && !m.vlans.count(*vlan)) continue;
      // Served now, before the copy's own output can mirror again.
      mirrored_ |= m.dups;
      mirror_to(m, *vlan, tci);
      mask &= ~mirrored_;
    }
  }

  // One mirror's copy: to its output port (tagged as that port carries
  // `vlan`), or RSPAN: tagged output_vlan on every port carrying that VLAN
  // except the input port and mirror output ports (unless the packet is
  // already in that VLAN).
  void mirror_to(const Mirror& m, uint16_t vlan, uint16_t tci) {
    const MirrorConfig& c = bp_->mirrors.configs()[m.cfg];
    TRACE("mirror " + c.name + (m.out_port ? " -> port " + format_port(m.out_port)
                                           : " -> VLAN " + std::to_string(m.out_vlan)) +
          (c.snaplen ? " (snaplen " + std::to_string(*c.snaplen) + " not applied: no datapath truncation)" : ""));
    const unsigned before = res_.actions.n;
    indent_++;
    if (m.out_port) {
      const BridgePort* p = bp_->port(m.out_port);
      if (p && !p->no_fwd) out_vlan(*p, vlan, tci);
    } else if (vlan != m.out_vlan) {
      for (const auto& [num, p] : bp_->ports)
        if (num != in_of_port_ && p.live && !p.no_fwd && p.carries_vlan(m.out_vlan) && !bp_->mirrors.is_output(num))
          out_vlan(p, m.out_vlan, tci);
    }
    indent_--;
    if (res_.actions.n == before) return;
    if (std::find(res_.mirrors.begin(), res_.mirrors.end(), m.counters) == res_.mirrors.end())
      res_.mirrors.push_back(m.counters);
    if (opts_.account) {
      m.counters->tx_packets += opts_.packets;
      m.counters->tx_bytes += opts_.bytes;
    }
  }

  // ---- native tunneling ----
  static std::string hex(uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
    return b;
  }

  // The flow's tunnel source or destination address (not pinned).
  IpAddr tun_addr(bool dst) const {
    const FlowKey& f = flow_.flow;
    const uint8_t* v6 = dst ? f.tun_ipv6_dst : f.tun_ipv6_src;
    if (any_byte(v6, 16)) return ip_from_v6(v6);
    return ip_from_v4(dst ? f.tun_ipv4_dst : f.tun_ipv4_src);
  }

  // Pins n bytes of the flow at field p (a tunnel field read by an
  // encapsulation), except the bits an action set.
  void pin_tun(const void* p, size_t n) {
    size_t off = static_cast<size_t>(static_cast<const uint8_t*>(p) - reinterpret_cast<const uint8_t*>(&flow_.flow));
    auto* wc = reinterpret_cast<uint8_t*>(&wc_.flow);
    const auto* set = reinterpret_cast<const uint8_t*>(&tun_set_);
    for (size_t i = off; i < off + n; i++) wc[i] |= static_cast<uint8_t>(~set[i]);
  }

  // The megaflow is over the datapath key: Geneve options raw there,
  // mapped in the flow the tables saw. Any use of the mapped options, and
  // any received tunnel packet, pins the raw option length; a received
  // packet's raw options are pinned whole (their validation decided).
  void finish_tunnel_mask(datapath::FlowMask* m) const {
    bool mapped = m->tun_md_present || any_byte(m->tun_opts, sizeof m->tun_opts);
    m->tun_md_present = 0;
    m->tun_pad = 0;
    std::memset(m->tun_opts, 0, sizeof m->tun_opts);
    if (mapped || rx_tunnel_) m->tun_opts_len = 0xff;
    std::memset(m->tun_opts, 0xff, rx_opts_len_);
  }

  // Output to internal port p whose device has the packet's IP destination,
  // UDP to a tunnel port's port or GRE: decapsulate instead (OVS
  // terminate_native_tunnel). Otherwise ARP / ND to it is snooped.
  bool terminate_tunnel(const BridgePort& p) {
    TunnelContext* t = bp_->tnl;
    const LocalPort* lp = t ? t->router().local_port(p.dp_port) : nullptr;
    if (!lp) return false;
    res_.tnl_deps.push_back(tnl_dep_route());  // its addresses decide
    if (lp->addrs.empty()) return false;
    const TnlPortRef* r = tunnel_listener(*lp);
    if (!r) {
      snoop(*lp);
      return false;
    }
    emit(datapath::act_tnl_pop(r->cfg->type, r->dp_port));
    TRACE("output:" + format_port(p.of_port) + " is a local tunnel endpoint: tnl_pop(" +
          tunnel_type_name(r->cfg->type) + ", port " + r->name + " = datapath port " + std::to_string(r->dp_port) + ")");
    if (opts_.account) t->stats().decap_flows++;
    // The sender's MAC answers for its address (OVS tnl_neigh_set; a side
    // effect only: not pinned).
    const FlowKey& f = flow_.flow;
    if (opts_.may_learn && f.eth_type == htons(datapath::kEthTypeIpv4))
      t->neigh().learn(lp->bridge, ip_from_v4(f.nw_src), mac_of(f.dl_src), opts_.now_ms);
    else if (opts_.may_learn)
      t->neigh().learn(lp->bridge, ip_from_v6(f.ipv6_src), mac_of(f.dl_src), opts_.now_ms);
    return true;
  }

  const TnlPortRef* tunnel_listener(const LocalPort& lp) {
    const FlowKey& f = flow_.flow;
    IpAddr dst;
    if (is_ipv4()) {
      wc_.flow.nw_dst = 0xffffffffu;
      dst = ip_from_v4(f.nw_dst);
    } else if (is_ipv6()) {
      std::memset(wc_.flow.ipv6_dst, 0xff, 16);
      dst = ip_from_v6(f.ipv6_dst);
    } else {
      return nullptr;
    }
    if (!lp.has_addr(dst)) return nullptr;
    if (lp.mac != MacAddr{}) {
      unwildcard(OxmField::kEthDst);
      if (mac_of(f.dl_dst) != lp.mac) return nullptr;
    }
    wc_.flow.nw_frag = 0xff;
    if (f.nw_frag) return nullptr;
    unwildcard(OxmField::kIpProto);
    if (f.nw_proto == 17) wc_.flow.tp_dst = 0xffff;
    return bp_->tnl->ports().listener(f.nw_proto, f.tp_dst, dst);
  }

  void snoop(const LocalPort& lp) {
    std::optional<NeighObservation> o = snoop_neighbor(flow_.flow, &wc_.flow);
    if (!o) return;
    TRACE("neighbour " + o->ip.str() + " is at " + mac_to_string(o->mac) + " (seen on " + lp.name + ")");
    if (opts_.may_learn) bp_->tnl->snooped(lp, *o, opts_.now_ms);
  }

  // Output to a tunnel port (OVS native_tunnel_output): the outer header
  // from the port's config and the flow, the route and the neighbour; the
  // outer packet goes through the underlay bridge as received on its
  // internal port, each of its outputs a tnl_push(header, port).
  void tunnel_output(const BridgePort& p) {
    if (!bp_->tnl) {
      TRACE("output:" + format_port(p.of_port) + ": tunnel port without tunnel support, dropped");
      return;
    }
    if (tnl_depth_ >= kMaxPatchDepth)
      return fail("tunnel output nested more than " + std::to_string(kMaxPatchDepth) + " times");
    TRACE("output:" + format_port(p.of_port) + " -> tunnel port " + p.name + " (" + tunnel_type_name(p.tunnel->type) + ")");
    TnlSend s;
    TnlNext nh;
    TnlHeader h;
    if (!tunnel_send(*p.tunnel, &s) || !tunnel_route(s, &nh) || !tunnel_header(*p.tunnel, s, nh, &h)) return;
    commit();
    underlay(nh, h);
  }

  // remote / local / key (OVS tnl_port_send), then tos / ttl and options.
  bool tunnel_send(const TunnelConfig& c, TnlSend* s) {
    FlowKey& f = flow_.flow;
    s->remote = c.remote_ip;
    if (c.remote_ip_flow) {
      pin_tun(f.tun_ipv6_dst, 16);
      pin_tun(&f.tun_ipv4_dst, 4);
      s->remote = tun_addr(true);
      if (s->remote.is_zero()) {
        tnl_drop("remote_ip=flow and the flow has no tun_dst", &TnlStats::tx_no_remote);
        return false;
      }
    }
    s->local = c.local_ip;
    if (c.local_ip_flow) {
      pin_tun(f.tun_ipv6_src, 16);
      pin_tun(&f.tun_ipv4_src, 4);
      s->local = tun_addr(false);
    }
    s->key = c.out_key;
    if (c.out_key_flow) {
      pin_tun(&f.tun_id, sizeof f.tun_id);
      s->key = be64toh(f.tun_id);
    }
    tunnel_tos_ttl(c, s);
    return c.type != datapath::TunnelType::kGeneve || tunnel_options(s);
  }

  void tunnel_tos_ttl(const TunnelConfig& c, TnlSend* s) {
    const FlowKey& f = flow_.flow;
    s->tos = c.tos;
    s->ttl = c.ttl;
    if (!is_ipv4() && !is_ipv6()) return;
    if (c.tos_inherit) {
      wc_.flow.nw_tos |= 0xfc;
      s->tos = f.nw_tos & 0xfc;
    }
    // ECN is always inherited; CE goes out as ECT(0) (RFC 6040 / OVS).
    wc_.flow.nw_tos |= 0x03;
    uint8_t ecn = f.nw_tos & 0x03;
    s->tos = static_cast<uint8_t>((s->tos & 0xfc) | (ecn == 0x03 ? 0x02 : ecn));
    if (c.ttl_inherit) {
      wc_.flow.nw_ttl = 0xff;
      s->ttl = f.nw_ttl;
    }
  }

  // Geneve options from the flow's mapped tun_metadata (pinned as read).
  bool tunnel_options(TnlSend* s) {
    FlowKey& f = flow_.flow;
    const TlvTable* tlv = bp_->tnl->tlv();
    pin_tun(&f.tun_md_present, sizeof f.tun_md_present);
    for (unsigned i = 0; i < TlvTable::kMaxFields; i++)
      if (f.tun_md_present >> i & 1)
        if (const TlvMapping* m = tlv_by_index(tlv, i)) pin_tun(f.tun_opts + m->offset, m->opt_len);
    int n = geneve_opts_from_mapped(tlv, f, s->opts, sizeof s->opts);
    if (n < 0) {
      tnl_drop("Geneve options longer than " + std::to_string(sizeof s->opts) + " bytes", &TnlStats::tx_errors);
      return false;
    }
    s->opts_len = static_cast<uint8_t>(n);
    return true;
  }

  // Route, source and next hop's MAC (OVS tnl_route_lookup_flow and
  // tnl_neigh_lookup). An unknown neighbour queues an ARP / ND request.
  bool tunnel_route(const TnlSend& s, TnlNext* nh) {
    TunnelContext& t = *bp_->tnl;
    res_.tnl_deps.push_back(tnl_dep_route());
    if (t.router().port_with_addr(s.remote)) {
      tnl_drop("not tunneling to our own address " + s.remote.str(), &TnlStats::tx_errors);
      return false;
    }
    std::string why;
    std::optional<RouteResult> rt = t.router().lookup(s.remote, &why);
    if (!rt) {
      tnl_drop("native tunnel routing failed: " + why, &TnlStats::tx_no_route);
      return false;
    }
    nh->bridge = t.bridge_by_name(rt->route->bridge);
    nh->port = rt->port;
    nh->src = s.local.is_zero() ? rt->src : s.local;
    nh->next_hop = rt->next_hop;
    std::string bad = !nh->bridge ? "the route's bridge " + rt->route->bridge + " does not exist"
                      : nh->src.v6 != s.remote.v6 ? "local_ip " + nh->src.str() + " is not of the remote's family"
                      : nh->port->mac == MacAddr{} ? "internal port " + nh->port->name + " has no Ethernet address"
                                                   : "";
    if (!bad.empty()) {
      tnl_drop(bad, &TnlStats::tx_errors);
      return false;
    }
    TRACE("tunneling to " + s.remote.str() + " via bridge " + nh->bridge->name + " port " + nh->port->name +
          ", source " + nh->src.str() + ", next hop " + nh->next_hop.str());
    res_.tnl_deps.push_back(tnl_dep_neigh(nh->port->bridge, nh->next_hop));
    std::optional<MacAddr> mac = t.neigh().lookup(nh->port->bridge, nh->next_hop, opts_.now_ms);
    if (!mac) {
      t.request_neigh(*nh->port, nh->src, nh->next_hop, opts_.now_ms);
      tnl_drop("neighbour " + nh->next_hop.str() + " on " + nh->port->bridge + " unknown, " +
                   (nh->next_hop.v6 ? "ND" : "ARP") + " request sent",
               &TnlStats::tx_no_neigh);
      return false;
    }
    nh->dmac = *mac;
    return true;
  }

  bool tunnel_header(const TunnelConfig& c, const TnlSend& s, const TnlNext& nh, TnlHeader* h) {
    TnlHeaderParams hp{.type = c.type, .eth_src = nh.port->mac, .eth_dst = nh.dmac, .src = nh.src,
                       .dst = s.remote, .tos = s.tos, .ttl = s.ttl, .df = c.df_default, .csum = c.csum,
                       .key = s.key, .gre_key = c.gre_key_present || c.out_key_flow,
                       .udp_dst = c.udp_dst_port(), .opts = s.opts, .opts_len = s.opts_len,
                       .mtu = nh.port->mtu};
    if (std::optional<std::string> e = build_tnl_header(hp, h)) {
      tnl_drop("outer header: " + *e, &TnlStats::tx_errors);
      return false;
    }
    return true;
  }

  // The outer packet through the underlay bridge, from its internal port,
  // without learning; its outputs become tnl_push (its VLAN and Ethernet
  // rewrites folded into the header); anything else it does cannot be
  // done to a template, and drops the packet (counted).
  void underlay(const TnlNext& nh, const TnlHeader& h) {
    FlowKey outer = tnl_outer_key(h, nh.port->dp_port);
    XlateOptions uo = opts_;
    uo.may_learn = false;
    Xlator sub(*nh.bridge, outer, nh.port->of_port, uo);
    sub.tnl_depth_ = tnl_depth_ + 1;
    sub.indent_ = indent_ + 1;
    sub.run_pipeline(0);
    XlateResult ur = sub.finish();
    merge_underlay(&ur);
    if (!ur.error.empty()) return tnl_drop("underlay translation failed: " + ur.error, &TnlStats::tx_errors);
    const datapath::DpActions& a = ur.actions;
    TnlHeader probe = h;
    for (unsigned i = 0; i < a.n; i += datapath::action_slots(a.acts[i]))
      if (a.acts[i].type != datapath::ActType::kOutput && !tnl_header_apply(a.acts[i], &probe))
        return tnl_drop("the underlay's actions (" + datapath::format_actions(a) + ") cannot apply to an outer header",
                        &TnlStats::tx_errors);
    TnlHeader cur = h;
    unsigned pushed = 0;
    for (unsigned i = 0; i < a.n && !failed_; i += datapath::action_slots(a.acts[i])) {
      if (a.acts[i].type != datapath::ActType::kOutput) {
        tnl_header_apply(a.acts[i], &cur);
        continue;
      }
      if (!datapath::add_tnl_push(&res_.actions, cur.info, cur.bytes, cur.len, a.acts[i].arg32))
        return fail("translation needs more than " + std::to_string(datapath::kMaxDpActions) + " datapath action slots");
      TRACE("tnl_push(" + std::to_string(cur.len) + " header bytes) -> datapath port " + std::to_string(a.acts[i].arg32));
      pushed++;
    }
    if (pushed && opts_.account) bp_->tnl->stats().encap_flows++;
    if (!pushed) TRACE("the underlay bridge dropped the encapsulated packet");
  }

  // The underlay translation's dependencies are this megaflow's (its table
  // lookups were of the outer packet: "rewritten" for the revalidator).
  void merge_underlay(XlateResult* ur) {
    for (RulePtr& r : ur->rules) res_.rules.push_back(std::move(r));
    for (TableVisit v : ur->visits) {
      v.rewritten = true;
      res_.visits.push_back(v);
    }
    res_.macs.insert(res_.macs.end(), ur->macs.begin(), ur->macs.end());
    res_.groups.insert(res_.groups.end(), ur->groups.begin(), ur->groups.end());
    res_.tnl_deps.insert(res_.tnl_deps.end(), ur->tnl_deps.begin(), ur->tnl_deps.end());
  }

  Bridge* bp_;  // the bridge being translated (changes across patch ports)
  Bridge* entry_bp_ = bp_;  // the bridge translation started in
  const XlateOptions& opts_;
  uint32_t in_of_port_;
  OfKey flow_;
  OfKey base_;
  OfKey orig_;  // flow_ as translation started (TableVisit::rewritten)
  OfMask wc_;
  uint64_t dirty_ = 0;    // OxmField bits set by actions, not yet committed
  uint64_t touched_ = 0;  // OxmField bits set by actions in the current clone
  bool ttl_dirty_ = false;
  ActionSet aset_;
  uint8_t cur_table_ = 0;
  uint64_t cur_cookie_ = 0;
  bool cur_miss_ = false;  // the current rule is a table-miss flow entry
  int indent_ = 0;
  int patch_depth_ = 0;
  std::vector<IpfixOutput> ipfix_outs_;  // IPFIX output samples to add (add_ipfix_output_samples)
  int resubmit_depth_ = 0;  // nested resubmits now
  int resubmits_ = 0;       // resubmits in this translation
  int tnl_depth_ = 0;       // underlay translations this one is nested in
  FlowKey tun_set_{};       // tunnel bits set by actions (constants: never pinned)
  bool rx_tunnel_ = false;  // a decapsulated packet
  uint8_t rx_opts_len_ = 0; // its raw Geneve option bytes
  MirrorMask mirrored_ = 0; // mirrors of bp_ this packet has reached (OVS ctx->mirrors)
  bool failed_ = false;
  bool halted_ = false;        // translation ends here (invalid TTL, recirculation)
  // MPLS state (push_mpls above).
  uint32_t mpls_dirty_ = 0;    // top LSE bits set, not yet committed
  std::vector<uint32_t> mpls_below_;
  uint16_t inner_type_ = 0;
  bool mpls_unknown_ = false;
  bool mpls_ttl_unknown_ = false;
  bool mpls_unknown_below_ttl_ = false;  // copy_ttl_in of an unknown TTL into mpls_below_
  bool nw_ttl_unknown_ = false;
  bool l3_unknown_ = false;
  bool l2_unknown_ = false;    // after pop_pbb: the customer frame (pop_pbb above)
  std::vector<MplsOp> mpls_log_;  // MPLS changes emitted (undone after a group bucket)
  EncapUndo undo_;                // a bucket's MPLS changes to undo before the next action
  int clone_depth_ = 0;
  // Freezing (need_recirc above).
  bool freezing_ = false;
  FrozenState frz_;               // the continuation being built
  unsigned freezes_ = 0;          // recirculations emitted by freezing
  int lookup_nest_ = 0;           // resubmits and output:TABLE walks in progress
  std::vector<uint32_t> patch_path_;  // patch ports crossed (OpenFlow numbers, from the entry bridge)

 public:
  bool no_freeze_ = false;        // packet-out: a recirculated packet has no pipeline to resume in

 private:
  XlateResult res_;
};

}  // namespace

namespace {

// A decapsulated packet (in_port = a tunnel port of some class): the port
// that accepts its tunnel metadata receives it, in that port's bridge.
XlateResult xlate_tunnel_rx(Bridge& bridge, const BridgePort& rep, const FlowKey& key,
                            const XlateOptions& opts) {
  datapath::FlowMask wc{};
  const TnlPortRef* r = bridge.tnl->ports().receive(key, &wc);
  Bridge& br = r ? *r->bridge : bridge;
  const BridgePort* in = r ? br.port(r->of_port) : &rep;
  Xlator x(br, key, in->of_port, opts);
  x.add_wildcards(wc);
  if (!r) {
    x.tnl_drop("no tunnel port accepts the decapsulated packet", &TnlStats::rx_no_port);
    return x.finish();
  }
  if (!x.tunnel_receive(*r)) return x.finish();
  if (in->no_recv) {
    if (opts.trace) opts.trace->append("port " + std::to_string(in->of_port) + " has no_recv: dropped\n");
    return x.finish();
  }
  x.run_from(key.recirc_id);
  return x.finish();
}


// The sFlow output field of a sampled packet: the one datapath port the
// actions send it to, kSampleOutNone (dropped) or kSampleOutMultiple | n.
// A bond output is one output to a member the datapath picks per packet:
// port 0 (sFlow ifIndex "unknown"). With `own`, a single output to a port
// of another bridge (through a patch port) is "multiple, 1", as OVS's
// fix_sflow_action: the port is not one of the sampling bridge's sFlow
// interfaces.
uint32_t sample_output(const datapath::DpActions& acts, const Bridge* own = nullptr) {
  uint32_t n = 0, port = datapath::kSampleOutNone;
  bool foreign = false;
  for (unsigned i = 0; i < acts.n; i += datapath::action_slots(acts.acts[i])) {
    const datapath::DpAction& a = acts.acts[i];
    if (a.type == datapath::ActType::kOutput || a.type == datapath::ActType::kTnlPush ||
        a.type == datapath::ActType::kTnlPop || a.type == datapath::ActType::kBondOutput) {
      n++;
      port = a.type == datapath::ActType::kBondOutput ? 0 : a.arg32;
      foreign = own && a.type == datapath::ActType::kOutput && !own->port_by_dp(a.arg32);
    }
  }
  if (n == 1 && foreign) return datapath::kSampleOutMultiple | 1;
  return n <= 1 ? port : datapath::kSampleOutMultiple | n;
}

// The VLAN TCI (host order, CFI set; 0 untagged) the packet has at the
// list's first output: the key's, through the VLAN actions before it
// (sFlow's extended switch data).
uint16_t output_tci(const FlowKey& key, const datapath::DpActions& acts) {
  uint16_t tci = ntohs(key.vlan_tci), inner = ntohs(key.vlan_tci2);
  for (unsigned i = 0; i < acts.n; i += datapath::action_slots(acts.acts[i])) {
    const datapath::DpAction& a = acts.acts[i];
    switch (a.type) {
      case datapath::ActType::kOutput:
      case datapath::ActType::kTnlPush:
      case datapath::ActType::kBondOutput: return tci;
      case datapath::ActType::kPushVlan:
        inner = tci;
        tci = static_cast<uint16_t>(a.arg32 | kCfi);
        break;
      case datapath::ActType::kPopVlan:
        tci = inner;
        inner = 0;
        break;
      case datapath::ActType::kSetVlanVid: tci = static_cast<uint16_t>((tci & 0xf000) | a.arg16 | kCfi); break;
      case datapath::ActType::kSetVlanPcp:
        tci = static_cast<uint16_t>((tci & 0x0fff) | a.arg16 << 13 | kCfi);
        break;
      default: break;
    }
  }
  return tci;
}

// Bridge-level samplers (bridge.sampling): kSample first, so the sample is
// the packet as received, with the output the rest of the list decided.
// A list with no room left is not sampled. As OVS, only the entry bridge
// samples (a peer bridge reached through a patch port does not), and a
// recirculated pass (ct, MPLS: recirc_id set) is not sampled again.
void add_bridge_samples(const Bridge& b, const FlowKey& key, XlateResult* r) {
  const BridgeSampling& s = b.sampling;
  if ((!s.sflow.rate && !(s.ipfix.rate && s.ipfix.input)) || key.recirc_id) return;
  datapath::DpActions acts;
  const uint32_t out = sample_output(r->actions);
  if (s.sflow.rate)
    acts.add(datapath::act_sample(s.sflow.slot, s.sflow.rate,
                                  {datapath::SampleKind::kSflow, 0, output_tci(key, r->actions),
                                   sample_output(r->actions, &b), 0, 0}));
  if (s.ipfix.rate && s.ipfix.input)
    acts.add(datapath::act_sample(s.ipfix.slot, s.ipfix.rate,
                                  {datapath::SampleKind::kIpfixBridge, 0, 0, out, s.ipfix.obs_domain,
                                   s.ipfix.obs_point}));
  if (acts.n + r->actions.n > datapath::kMaxDpActions) return;
  std::memcpy(acts.acts + acts.n, r->actions.acts, r->actions.n * sizeof(datapath::DpAction));
  acts.n = static_cast<uint8_t>(acts.n + r->actions.n);
  r->actions = acts;
}

XlateResult xlate_received(Bridge& bridge, const FlowKey& key, const XlateOptions& opts) {
  const BridgePort* in = bridge.port_by_dp(key.in_port);
  if (in && in->is_tunnel() && bridge.tnl) return xlate_tunnel_rx(bridge, *in, key, opts);
  if (!in) {
    XlateResult r;
    r.mask.in_port = 0xffffffffu;
    r.error = "packet from unknown datapath port " + std::to_string(key.in_port);
    if (opts.trace) opts.trace->append("error: " + r.error + "\n");
    return r;
  }
  Xlator x(bridge, key, in->of_port, opts);
  if (in->is_bond() && !x.bond_receive(*in, key.in_port)) return x.finish();
  if (in->no_recv) {
    // OFPPC_NO_RECV: drop before any table. The mask is in_port alone.
    if (opts.trace)
      opts.trace->append("port " + std::to_string(in->of_port) + " has no_recv: dropped\n");
    return x.finish();
  }
  x.run_from(key.recirc_id);
  return x.finish();
}

}  // namespace

// The output port of the list in every sample() action's cookie.
void set_flow_sample_outputs(XlateResult* r) {
  const uint32_t out = sample_output(r->actions);
  for (unsigned i = 0; i < r->actions.n; i += datapath::action_slots(r->actions.acts[i])) {
    datapath::DpAction& a = r->actions.acts[i];
    if (a.type != datapath::ActType::kSample) continue;
    datapath::DpSampleCookie c = datapath::sample_cookie(a);
    if (c.kind != datapath::SampleKind::kIpfixFlow) continue;
    c.out = out;
    a = datapath::act_sample(a.arg16, a.arg32, c);
  }
}

XlateResult xlate(Bridge& bridge, const FlowKey& key, const XlateOptions& opts) {
  XlateResult r = xlate_received(bridge, key, opts);
  set_flow_sample_outputs(&r);
  add_bridge_samples(bridge, key, &r);
  if (bridge.sampling.netflow) {  // as OVS's netflow_mask_wc
    r.mask.eth_type = 0xffff;
    if (key.eth_type == htons(0x0800)) {
      r.mask.nw_src = r.mask.nw_dst = 0xffffffffu;
      r.mask.nw_proto = r.mask.nw_tos = 0xff;
      r.mask.tp_src = r.mask.tp_dst = 0xffff;
    }
  }
  return r;
}

void account_visits(const std::vector<TableVisit>& visits, uint64_t packets, const Bridge* only) {
  if (!packets) return;
  for (const TableVisit& v : visits)
    if (v.bridge && (!only || v.bridge == only))
      v.bridge->pipeline.table(v.table).count_lookup(packets, v.priority >= 0);
}

// As OVS's xlate_actions for a packet-out (xin->ofpacts): the bridge's
// sFlow and IPFIX samplers sample it as a received packet (OVS skips only
// in_port NONE, which a packet-out cannot name here), and its sample()
// actions get the list's output.
XlateResult xlate_packet_out(Bridge& bridge, const FlowKey& key, uint32_t of_in_port,
                             const ActionList& actions, const XlateOptions& opts) {
  Xlator x(bridge, key, of_in_port, opts);
  x.no_freeze_ = true;
  x.run_actions(actions);
  XlateResult r = x.finish();
  if (!r.error.empty()) return r;
  set_flow_sample_outputs(&r);
  add_bridge_samples(bridge, key, &r);
  return r;
}

std::string xlate_trace(Bridge& bridge, const FlowKey& key, int64_t now_ms) {
  std::string out = "Flow: " + datapath::flow_key_format(key) + "\n\n";
  XlateOptions o;
  o.now_ms = now_ms;
  o.may_learn = false;
  o.trace = &out;
  XlateResult r = xlate(bridge, key, o);
  FlowKey masked;
  datapath::flow_key_apply_mask(key, r.mask, &masked);
  out += "\nMegaflow: " + datapath::flow_key_format(masked, &r.mask) + "\n";
  out += "Datapath actions: " + datapath::format_actions(r.actions) + "\n";
  if (!r.error.empty()) out += "Error: " + r.error + "\n";
  return out;
}

}  // namespace dps::ofproto
