// tnl_xlate_test.cc - translation with native tunneling, the OVS
// "userspace tunneling" layout: br-int (a VM port and tunnel ports) and
// br-phy (the NIC and the internal port br-phy holding the local endpoint
// address 192.168.1.1/24). Covered: decapsulation (tnl_pop instead of the
// output to the internal port, and its megaflow mask), a decapsulated
// packet received by the right tunnel port (and dropped, counted, when
// none takes it or its Geneve options are bad; the raw-option mask),
// encapsulation with a known neighbour (tnl_push with the exact header and
// the underlay's output port; VLAN folded in; flood = one push per port;
// unfoldable underlay actions refused), a missing neighbour (ARP / ND
// request queued, packet dropped, rate limit), gateways, key=flow and
// remote_ip=flow from set_field and from received metadata, neighbour
// snooping, and, over the miss path and the revalidator, a neighbour
// learned from an ARP reply turning a drop megaflow into tnl_push.
#include <arpa/inet.h>
#include <endian.h>

#include <catch2/catch.hpp>
#include <algorithm>

#include "bridge_fixtures.h"
#include "flow_parser.h"
#include "ofproto_rig.h"
#include "packet_builder.h"
#include "tnl_fixtures.h"
#include "tnl_header.h"
#include "tunnel_context.h"
#include "xlate.h"

using namespace dps::ofproto;
namespace dp = dps::datapath;
using dps::test::add_tunnel;
using dps::test::ip;
using dps::test::tlv_with;
using dps::test::tunnel;

namespace {

const MacAddr kLocalMac = {0x02, 0xaa, 0, 0, 0, 0x01};   // br-phy's tap device
const MacAddr kRemoteMac = {0x02, 0xbb, 0, 0, 0, 0x02};  // 192.168.1.2
const MacAddr kGwMac = {0x02, 0xcc, 0, 0, 0, 0xfe};      // 192.168.1.254

void add(Bridge& b, const std::string& text) {
  FlowMod fm;
  MaybeError e = parse_flow(text, &fm);
  INFO(text << ": " << (e ? e->message : ""));
  REQUIRE_FALSE(e);
  e = b.pipeline.flow_mod(fm, 0);
  REQUIRE_FALSE(e);
}

LocalPort phy_local() {
  LocalPort lp;
  lp.bridge = "br-phy";
  lp.name = "br-phy";
  lp.of_port = kPortLocal;
  lp.dp_port = 20;
  lp.mac = kLocalMac;
  lp.mtu = 1550;
  lp.addrs = {LocalAddr{ip("192.168.1.1"), 24}, LocalAddr{ip("2001:db8::1"), 64}};
  return lp;
}

// br-int: VM on OpenFlow 1 (datapath 11), vx0 on 2 (12, VXLAN to
// 192.168.1.2, key 42). br-phy: NIC on 1 (21), LOCAL (20).
struct TnlRig {
  Bridge br_int = dps::test::make_bridge(1, "br-int", 10);
  Bridge phy = dps::test::make_bridge(1, "br-phy", 20);
  BridgeMap bm;
  TunnelContext t{bm};
  XlateOptions opts;

  TnlRig() {
    BridgePort local;
    local.of_port = kPortLocal;
    local.dp_port = 20;
    local.name = "br-phy";
    phy.add_port(local);
    add_tunnel(br_int, 2, 12, "vx0", tunnel(dp::TunnelType::kVxlan, "192.168.1.2", 42));
    bm.add_bridge(&br_int);
    bm.add_bridge(&phy);
    t.set_address_source([](const BridgeMap&) { return std::vector<LocalPort>{phy_local()}; });
    t.refresh_addresses();
    br_int.tnl = phy.tnl = &t;
    add(phy, "priority=10,in_port=1,actions=LOCAL");
    add(phy, "priority=10,in_port=LOCAL,actions=output:1");
    add(br_int, "priority=10,in_port=1,actions=output:2");
    add(br_int, "priority=10,in_port=2,actions=output:1");
    opts.now_ms = 1000;
    opts.account = true;
    opts.packets = 1;
  }
  XlateResult run(Bridge& b, const dp::FlowKey& k) { return xlate(b, k, opts); }
  void know_remote() { t.neigh().learn("br-phy", ip("192.168.1.2"), kRemoteMac, 0); }
};

// A VXLAN packet from 192.168.1.2 to us, as the NIC delivers it.
dp::FlowKey outer_vxlan(uint16_t dport = 4789, const char* dst = "192.168.1.1") {
  dp::FlowKey k{};
  k.in_port = 21;
  std::memcpy(k.dl_dst, kLocalMac.data(), 6);
  std::memcpy(k.dl_src, kRemoteMac.data(), 6);
  k.eth_type = htons(0x0800);
  k.nw_src = ip("192.168.1.2").v4_be();
  k.nw_dst = ip(dst).v4_be();
  k.nw_proto = 17;
  k.nw_ttl = 64;
  k.tp_src = htons(51234);
  k.tp_dst = htons(dport);
  return k;
}

// The inner packet after tnl_pop: in_port = the tunnel port, metadata set.
dp::FlowKey decapsulated(uint32_t in_port, uint64_t vni) {
  dp::FlowKey k = dps::test::tcp_key(in_port, 1, 2);
  k.nw_src = htonl(0x0a000001);
  k.nw_dst = htonl(0x0a000002);
  k.tun_id = htobe64(vni);
  k.tun_ipv4_src = ip("192.168.1.2").v4_be();
  k.tun_ipv4_dst = ip("192.168.1.1").v4_be();
  k.tun_ttl = 64;
  k.tun_tp_dst = htons(4789);
  k.tun_flags = dp::kTunFlagKey;
  k.ext_words = 1;
  return k;
}

// The VM's packet to the overlay (inner TOS ECN bits `ecn`).
dp::FlowKey from_vm(uint8_t ecn = 0) {
  dp::FlowKey k = dps::test::tcp_key(11, 1, 2);
  k.nw_src = htonl(0x0a000001);
  k.nw_dst = htonl(0x0a000002);
  k.nw_ttl = 64;
  k.nw_tos = ecn;
  return k;
}

// The header tnl_push should carry for vx0 (VXLAN, key 42).
TnlHeader expected_vxlan(uint64_t key = 42, const char* remote = "192.168.1.2", uint8_t tos = 0) {
  TnlHeaderParams p;
  p.type = dp::TunnelType::kVxlan;
  p.eth_src = kLocalMac;
  p.eth_dst = kRemoteMac;
  p.src = ip(remote).v6 ? ip("2001:db8::1") : ip("192.168.1.1");
  p.dst = ip(remote);
  p.tos = tos;
  p.ttl = 64;
  p.key = key;
  p.udp_dst = 4789;
  p.mtu = 1550;
  TnlHeader h;
  REQUIRE_FALSE(build_tnl_header(p, &h));
  return h;
}

// Checks that actions slot `at` is tnl_push(h, out_port); returns the next slot.
unsigned check_push(const dp::DpActions& a, unsigned at, const TnlHeader& h, uint32_t out_port) {
  REQUIRE(at < a.n);
  const dp::DpAction& p = a.acts[at];
  REQUIRE(p.type == dp::ActType::kTnlPush);
  CHECK(p.arg32 == out_port);
  CHECK(p.arg16 == h.len);
  dp::TnlPushInfo info;
  std::memcpy(&info, p.data, sizeof info);
  CHECK(info.type == h.info.type);
  CHECK(info.flags == h.info.flags);
  CHECK(info.l3_ofs == h.info.l3_ofs);
  CHECK(info.l4_ofs == h.info.l4_ofs);
  CHECK(info.mtu == h.info.mtu);
  unsigned slots = dp::action_slots(p);
  REQUIRE(at + slots <= a.n);
  CHECK(std::memcmp(&a.acts[at + 1], h.bytes, h.len) == 0);
  return at + slots;
}

bool has_dep(const XlateResult& r, uint64_t d) {
  return std::find(r.tnl_deps.begin(), r.tnl_deps.end(), d) != r.tnl_deps.end();
}

}  // namespace

TEST_CASE("tnl xlate: output to the local endpoint decapsulates", "[ofproto][tunnel]") {
  TnlRig r;
  XlateResult res = r.run(r.phy, outer_vxlan());
  INFO(res.error);
  REQUIRE(res.actions.n == 1);
  CHECK(res.actions.acts[0].type == dp::ActType::kTnlPop);
  CHECK(res.actions.acts[0].arg16 == static_cast<uint16_t>(dp::TunnelType::kVxlan));
  CHECK(res.actions.acts[0].arg32 == 12);  // vx0's datapath port
  // The mask covers what decided, not the outer source port or address.
  const dp::FlowMask& m = res.mask;
  CHECK(m.in_port == 0xffffffffu);
  CHECK(m.eth_type == 0xffff);
  CHECK(m.nw_dst == 0xffffffffu);
  CHECK(m.nw_proto == 0xff);
  CHECK(m.nw_frag == 0xff);
  CHECK(m.tp_dst == 0xffff);
  CHECK(m.dl_dst[0] == 0xff);
  CHECK(m.tp_src == 0);
  CHECK(m.nw_src == 0);
  CHECK(m.tun_id == 0);
  CHECK(has_dep(res, tnl_dep_route()));
  CHECK(r.t.stats().decap_flows == 1);
  // The sender's MAC was learned for its address.
  CHECK(r.t.neigh().lookup("br-phy", ip("192.168.1.2"), 1000) == kRemoteMac);

  // Not for a tunnel: plain output to the internal port.
  for (dp::FlowKey k : {outer_vxlan(4790), outer_vxlan(4789, "192.168.1.77")}) {
    res = r.run(r.phy, k);
    REQUIRE(res.actions.n == 1);
    CHECK(res.actions.acts[0].type == dp::ActType::kOutput);
    CHECK(res.actions.acts[0].arg32 == 20);
  }
  dp::FlowKey frag = outer_vxlan();
  frag.nw_frag = dp::kFragAny;
  res = r.run(r.phy, frag);
  CHECK(res.actions.acts[0].type == dp::ActType::kOutput);
  dp::FlowKey other_mac = outer_vxlan();
  other_mac.dl_dst[5] = 0x77;  // flooded to the internal port, not its MAC
  res = r.run(r.phy, other_mac);
  CHECK(res.actions.acts[0].type == dp::ActType::kOutput);
  // Without a tunnel context nothing is decapsulated.
  r.phy.tnl = nullptr;
  res = r.run(r.phy, outer_vxlan());
  CHECK(res.actions.acts[0].type == dp::ActType::kOutput);
  CHECK(res.tnl_deps.empty());
}

TEST_CASE("tnl xlate: IPv6 and GRE decapsulation", "[ofproto][tunnel]") {
  TnlRig r;
  auto gre = tunnel(dp::TunnelType::kGre, "2001:db8::2", 0);
  add_tunnel(r.br_int, 3, 13, "gre0", gre);
  r.t.ports().invalidate();
  dp::FlowKey k{};
  k.in_port = 21;
  std::memcpy(k.dl_dst, kLocalMac.data(), 6);
  k.eth_type = htons(0x86dd);
  IpAddr me = ip("2001:db8::1"), peer = ip("2001:db8::2");
  std::memcpy(k.ipv6_src, peer.b.data(), 16);
  std::memcpy(k.ipv6_dst, me.b.data(), 16);
  k.nw_proto = 47;
  XlateResult res = r.run(r.phy, k);
  REQUIRE(res.actions.n == 1);
  CHECK(res.actions.acts[0].type == dp::ActType::kTnlPop);
  CHECK(res.actions.acts[0].arg16 == static_cast<uint16_t>(dp::TunnelType::kGre));
  CHECK(res.actions.acts[0].arg32 == 13);
  CHECK(res.mask.ipv6_dst[15] == 0xff);
  CHECK(res.mask.tp_dst == 0);  // GRE: no port
}

TEST_CASE("tnl xlate: a decapsulated packet is received by its tunnel port", "[ofproto][tunnel]") {
  TnlRig r;
  XlateResult res = r.run(r.br_int, decapsulated(12, 42));
  INFO(res.error);
  REQUIRE(res.actions.n == 1);
  CHECK(res.actions.acts[0].type == dp::ActType::kOutput);
  CHECK(res.actions.acts[0].arg32 == 11);
  CHECK(res.mask.tun_id == ~uint64_t{0});
  CHECK(res.mask.tun_ipv4_src == 0xffffffffu);
  CHECK(res.mask.tun_ipv4_dst == 0xffffffffu);
  CHECK(res.mask.tun_opts_len == 0xff);
  CHECK(res.mask.tun_md_present == 0);
  CHECK(res.mask.ext_words == 0);
  // Another VNI: no port takes it: dropped and counted.
  res = r.run(r.br_int, decapsulated(12, 43));
  CHECK(res.actions.n == 0);
  CHECK(res.error.empty());
  CHECK(res.mask.tun_id == ~uint64_t{0});
  CHECK(r.t.stats().rx_no_port == 1);
  // A second port of the class with key=flow takes every other VNI; the
  // representative (in_port) does not decide.
  auto any = tunnel(dp::TunnelType::kVxlan, "flow", 0);
  any->in_key_flow = true;
  add_tunnel(r.br_int, 3, 13, "vx-any", any);
  add(r.br_int, "priority=10,in_port=3,actions=drop");
  add(r.br_int, "priority=20,in_port=3,tcp,actions=output:1,output:1");
  r.t.ports().invalidate();
  res = r.run(r.br_int, decapsulated(12, 43));
  CHECK(res.actions.n == 2);  // through vx-any's rule
  res = r.run(r.br_int, decapsulated(13, 42));
  CHECK(res.actions.n == 1);  // vx0 (exact key) wins
}

TEST_CASE("tnl xlate: Geneve options mapped, unknown critical ones dropped", "[ofproto][tunnel]") {
  TnlRig r;
  add_tunnel(r.br_int, 3, 13, "gnv0", tunnel(dp::TunnelType::kGeneve, "192.168.1.2", 42));
  add(r.br_int, "priority=10,in_port=3,actions=output:1");
  r.t.ports().invalidate();
  TlvTable tlv = tlv_with({TlvMapping{0x0102, 0x80, 4, 0, 0}});
  r.t.set_tlv_table(&tlv);
  dp::FlowKey k = decapsulated(13, 42);
  k.tun_tp_dst = htons(6081);
  const uint8_t known[] = {0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef};
  std::memcpy(k.tun_opts, known, sizeof known);
  k.tun_opts_len = sizeof known;
  XlateResult res = r.run(r.br_int, k);
  REQUIRE(res.actions.n == 1);
  CHECK(res.actions.acts[0].arg32 == 11);
  // The megaflow is over the raw options: their length and bytes, exactly.
  CHECK(res.mask.tun_opts_len == 0xff);
  for (unsigned i = 0; i < dp::kTunOptsMax; i++) CHECK(res.mask.tun_opts[i] == (i < sizeof known ? 0xff : 0));
  CHECK(res.mask.tun_md_present == 0);
  // An unknown critical option: dropped, counted, same exact mask.
  const uint8_t crit[] = {0x00, 0x07, 0x81, 0x00};
  std::memcpy(k.tun_opts, crit, sizeof crit);
  std::memset(k.tun_opts + 4, 0, 4);
  k.tun_opts_len = sizeof crit;
  res = r.run(r.br_int, k);
  CHECK(res.actions.n == 0);
  CHECK(r.t.stats().rx_bad_options == 1);
  CHECK(res.mask.tun_opts[3] == 0xff);
  CHECK(res.mask.tun_opts[4] == 0);
  // Without the critical bit it is ignored.
  k.tun_opts[2] = 0x01;
  res = r.run(r.br_int, k);
  CHECK(res.actions.n == 1);
}

TEST_CASE("tnl xlate: encapsulation with a known neighbour", "[ofproto][tunnel]") {
  TnlRig r;
  r.know_remote();
  XlateResult res = r.run(r.br_int, from_vm());
  INFO(res.error);
  unsigned end = check_push(res.actions, 0, expected_vxlan(), 21);  // out of br-phy's NIC
  CHECK(end == res.actions.n);
  CHECK(has_dep(res, tnl_dep_route()));
  CHECK(has_dep(res, tnl_dep_neigh("br-phy", ip("192.168.1.2"))));
  CHECK(r.t.stats().encap_flows == 1);
  // The underlay's rule is a dependency too (a lookup of another packet).
  bool phy_visit = false;
  for (const TableVisit& v : res.visits) phy_visit |= v.bridge == &r.phy && v.rewritten;
  CHECK(phy_visit);
  CHECK(res.rules.size() == 2);
  // ECN is inherited (the mask says so); CE goes out as ECT(0).
  CHECK(res.mask.nw_tos == 0x03);
  res = r.run(r.br_int, from_vm(0x03));
  check_push(res.actions, 0, expected_vxlan(42, "192.168.1.2", 0x02), 21);
  // Tunnel fields were not looked at: key and remote come from the config.
  CHECK(res.mask.tun_id == 0);
  CHECK(res.mask.tun_ipv4_dst == 0);
  // ofproto/trace shows the decisions, the underlay bridge's included.
  std::string tr = xlate_trace(r.br_int, from_vm(), 1000);
  INFO(tr);
  CHECK(tr.find("tunnel port vx0 (vxlan)") != std::string::npos);
  CHECK(tr.find("tunneling to 192.168.1.2 via bridge br-phy port br-phy, source 192.168.1.1, next hop 192.168.1.2") !=
        std::string::npos);
  CHECK(tr.find("table 0: priority=10,in_port=LOCAL") != std::string::npos);
  CHECK(tr.find("tnl_push(50 header bytes) -> datapath port 21") != std::string::npos);
}

TEST_CASE("tnl xlate: the underlay's VLAN, floods and unfoldable actions", "[ofproto][tunnel]") {
  TnlRig r;
  r.know_remote();
  add(r.phy, "priority=20,in_port=LOCAL,actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:1");
  XlateResult res = r.run(r.br_int, from_vm());
  TnlHeader h = expected_vxlan();
  REQUIRE(tnl_header_apply(dp::act_push_vlan(dp::kEthTypeVlan, 100), &h));
  check_push(res.actions, 0, h, 21);
  // Two outputs: two pushes.
  dps::test::add_bridge_port(r.phy, 2, 22);
  add(r.phy, "priority=30,in_port=LOCAL,actions=output:1,output:2");
  res = r.run(r.br_int, from_vm());
  unsigned at = check_push(res.actions, 0, expected_vxlan(), 21);
  CHECK(check_push(res.actions, at, expected_vxlan(), 22) == res.actions.n);
  // An IP rewrite of the outer packet cannot be folded into the header.
  add(r.phy, "priority=40,ip,in_port=LOCAL,actions=set_field:10.0.0.9->ip_dst,output:1");
  res = r.run(r.br_int, from_vm());
  CHECK(res.actions.n == 0);
  CHECK(r.t.stats().tx_errors == 1);
}

TEST_CASE("tnl xlate: a missing neighbour sends ARP / ND and drops", "[ofproto][tunnel]") {
  TnlRig r;
  XlateResult res = r.run(r.br_int, from_vm());
  CHECK(res.actions.n == 0);
  CHECK(res.error.empty());
  CHECK(has_dep(res, tnl_dep_neigh("br-phy", ip("192.168.1.2"))));
  CHECK(r.t.stats().tx_no_neigh == 1);
  std::vector<TnlRequest> reqs = r.t.take_requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].bridge == "br-phy");
  CHECK(reqs[0].of_in_port == kPortLocal);
  CHECK(reqs[0].frame == build_arp_request(kLocalMac, ip("192.168.1.1"), ip("192.168.1.2")));
  // Within a second: no second request.
  r.opts.now_ms += 500;
  r.run(r.br_int, from_vm());
  CHECK(r.t.take_requests().empty());
  // Through a gateway: the gateway is the neighbour asked for.
  REQUIRE_FALSE(r.t.route_add("10.99.0.0/16", "br-phy", "192.168.1.254"));
  add_tunnel(r.br_int, 3, 13, "vx-far", tunnel(dp::TunnelType::kVxlan, "10.99.0.5", 7));
  add(r.br_int, "priority=20,in_port=1,tcp,actions=output:3");
  res = r.run(r.br_int, from_vm());
  reqs = r.t.take_requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].frame == build_arp_request(kLocalMac, ip("192.168.1.1"), ip("192.168.1.254")));
  r.t.neigh().learn("br-phy", ip("192.168.1.254"), kGwMac, 0);
  res = r.run(r.br_int, from_vm());
  REQUIRE(res.actions.n > 0);
  CHECK(std::memcmp(&res.actions.acts[1], kGwMac.data(), 6) == 0);  // dst MAC = the gateway's
  CHECK(std::memcmp(reinterpret_cast<const uint8_t*>(&res.actions.acts[1]) + 30, ip("10.99.0.5").b.data(), 4) == 0);
  // IPv6 remote: a neighbour solicitation.
  add_tunnel(r.br_int, 4, 14, "vx6", tunnel(dp::TunnelType::kVxlan, "2001:db8::2", 9));
  add(r.br_int, "priority=30,in_port=1,tcp,actions=output:4");
  res = r.run(r.br_int, from_vm());
  CHECK(res.actions.n == 0);
  reqs = r.t.take_requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].frame == build_nd_ns(kLocalMac, ip("2001:db8::1"), ip("2001:db8::2")));
  // No route at all.
  add_tunnel(r.br_int, 5, 15, "vx-nowhere", tunnel(dp::TunnelType::kVxlan, "172.16.0.1", 9));
  add(r.br_int, "priority=40,in_port=1,tcp,actions=output:5");
  res = r.run(r.br_int, from_vm());
  CHECK(res.actions.n == 0);
  CHECK(r.t.stats().tx_no_route == 1);
  CHECK(r.t.take_requests().empty());
}

TEST_CASE("tnl xlate: key=flow and remote_ip=flow", "[ofproto][tunnel]") {
  TnlRig r;
  r.know_remote();
  auto kf = tunnel(dp::TunnelType::kVxlan, "192.168.1.2", 0);
  kf->out_key_flow = kf->in_key_flow = true;
  add_tunnel(r.br_int, 3, 13, "vx-kf", kf);
  r.t.ports().invalidate();
  // set_field on tun_id before the output: the VNI, not pinned.
  add(r.br_int, "priority=20,in_port=1,actions=set_field:0x99->tun_id,output:3");
  XlateResult res = r.run(r.br_int, from_vm());
  INFO(res.error);
  check_push(res.actions, 0, expected_vxlan(0x99), 21);
  CHECK(res.mask.tun_id == 0);
  // Carried over from a received packet: the VNI it came with, pinned.
  add(r.br_int, "priority=20,in_port=2,actions=output:3");
  res = r.run(r.br_int, decapsulated(12, 42));
  check_push(res.actions, 0, expected_vxlan(42), 21);
  CHECK(res.mask.tun_id == ~uint64_t{0});
  // remote_ip=flow with no tun_dst: dropped, counted.
  auto rf = tunnel(dp::TunnelType::kVxlan, "flow", 5);
  add_tunnel(r.br_int, 4, 14, "vx-rf", rf);
  r.t.ports().invalidate();
  add(r.br_int, "priority=30,in_port=1,actions=output:4");
  res = r.run(r.br_int, from_vm());
  CHECK(res.actions.n == 0);
  CHECK(r.t.stats().tx_no_remote == 1);
  CHECK(res.mask.tun_ipv4_dst == 0xffffffffu);  // what it looked at
  // A received packet's tun_dst is our own address: not tunneled back to us.
  add(r.br_int, "priority=30,in_port=2,actions=output:4");
  res = r.run(r.br_int, decapsulated(12, 42));
  CHECK(res.actions.n == 0);
  // set_field tun_dst gives remote_ip=flow its destination.
  FlowMod probe;
  REQUIRE_FALSE(parse_flow("priority=40,in_port=1,actions=set_field:192.168.1.2->tun_dst,output:4", &probe));
  REQUIRE_FALSE(r.br_int.pipeline.flow_mod(probe, 0));
  res = r.run(r.br_int, from_vm());
  check_push(res.actions, 0, expected_vxlan(5), 21);
  CHECK(res.mask.tun_ipv4_dst == 0);  // set by the action: a constant
}

TEST_CASE("tnl xlate: ARP replies to the internal port are snooped", "[ofproto][tunnel]") {
  TnlRig r;
  dp::FlowKey k{};
  k.in_port = 21;
  k.eth_type = htons(0x0806);
  k.nw_proto = 2;
  k.nw_src = ip("192.168.1.2").v4_be();
  k.nw_dst = ip("192.168.1.1").v4_be();
  std::memcpy(k.arp_sha, kRemoteMac.data(), 6);
  std::memcpy(k.dl_src, kRemoteMac.data(), 6);
  std::memcpy(k.dl_dst, kLocalMac.data(), 6);
  r.opts.may_learn = false;  // revalidation: no side effects
  XlateResult res = r.run(r.phy, k);
  CHECK(res.actions.n == 1);
  CHECK_FALSE(r.t.neigh().lookup("br-phy", ip("192.168.1.2"), 1000));
  CHECK(res.mask.arp_sha[0] == 0xff);  // same mask either way
  r.opts.may_learn = true;
  res = r.run(r.phy, k);
  CHECK(res.actions.n == 1);
  CHECK(res.actions.acts[0].arg32 == 20);  // still delivered to the host
  CHECK(r.t.neigh().lookup("br-phy", ip("192.168.1.2"), 1000) == kRemoteMac);
  CHECK(r.t.stats().neigh_snooped == 1);
  // A reply to someone else's address teaches nothing.
  k.nw_src = ip("192.168.1.3").v4_be();
  k.nw_dst = ip("192.168.1.9").v4_be();
  r.run(r.phy, k);
  CHECK_FALSE(r.t.neigh().lookup("br-phy", ip("192.168.1.3"), 1000));
}

// Over the miss path: one bridge br0 (NIC p1, VM p2, vx0 on 4, internal
// port br0 on 5 with 192.168.1.1/24).
TEST_CASE("tnl xlate: a snooped neighbour revalidates the waiting megaflow", "[ofproto][tunnel][revalidator]") {
  dps::test::OfprotoRig r;
  r.ofp->add_port(4, 4, "vx0");
  r.ofp->add_port(5, 5, "br0");
  r.ofp->bridge().ports[4].tunnel = tunnel(dp::TunnelType::kVxlan, "192.168.1.2", 42);
  TunnelContext& t = r.ofp->backer().tunnels();
  t.set_address_source([](const BridgeMap&) {
    LocalPort lp = phy_local();
    lp.bridge = lp.name = "br0";
    lp.of_port = 5;
    lp.dp_port = 5;
    return std::vector<LocalPort>{lp};
  });
  t.ports_changed();
  r.rules("priority=10,in_port=2,actions=output:4\npriority=10,in_port=5,actions=output:1\n"
          "priority=10,in_port=1,actions=output:5\npriority=10,in_port=4,actions=output:2");
  r.ofp->run();
  std::vector<uint8_t> vm = dps::test::udp_frame({.src_ip = "10.0.0.1", .dst_ip = "10.0.0.2"});
  uint64_t flow = r.miss(2, vm);
  CHECK(r.actions(flow) == "drop");
  // The miss's round sent the ARP request out of br0 from its internal port.
  REQUIRE_FALSE(r.sent.empty());
  std::vector<uint8_t> arp = build_arp_request(kLocalMac, ip("192.168.1.1"), ip("192.168.1.2"));
  REQUIRE(rte_pktmbuf_data_len(r.sent.back()) == arp.size());
  CHECK(std::memcmp(rte_pktmbuf_mtod(r.sent.back(), uint8_t*), arp.data(), arp.size()) == 0);
  REQUIRE_FALSE(r.dp->execs.empty());
  CHECK(r.dp->execs.back().in_port == 5);
  CHECK(dps::datapath::format_actions(r.dp->execs.back().actions) == "output:1");
  // The reply comes back through the NIC to the internal port: snooped;
  // the waiting megaflow becomes tnl_push.
  std::vector<uint8_t> reply = dps::test::PacketBuilder()
                                   .eth(kLocalMac, kRemoteMac)
                                   .arp(2, kRemoteMac, "192.168.1.2", kLocalMac, "192.168.1.1")
                                   .build();
  r.miss(1, reply);
  CHECK(t.neigh().lookup("br0", ip("192.168.1.2"), r.now) == kRemoteMac);
  REQUIRE(r.installed(flow));
  CHECK(std::count(r.dp->modifies.begin(), r.dp->modifies.end(), flow) == 1);
  const dp::DpActions& a = r.dp->flows.at(flow).spec.actions;
  REQUIRE(a.n > 0);
  CHECK(a.acts[0].type == dp::ActType::kTnlPush);
  CHECK(a.acts[0].arg32 == 1);
  // Flushing the neighbour puts it back to drop (and asks again).
  size_t sent = r.sent.size();
  t.neigh().flush();
  r.now += 2000;
  r.ofp->run();
  CHECK(r.dp->flows.at(flow).spec.actions.n == 0);
  r.ofp->run();
  CHECK(r.sent.size() == sent + 1);
  // A static entry: tnl_push again. Then the internal port loses its
  // address: no route any more, the megaflow drops again.
  t.neigh().set_static("br0", ip("192.168.1.2"), kRemoteMac);
  r.ofp->run();
  CHECK(r.dp->flows.at(flow).spec.actions.n > 0);
  t.set_address_source([](const BridgeMap&) { return std::vector<LocalPort>{}; });
  r.ofp->run();
  CHECK(r.dp->flows.at(flow).spec.actions.n == 0);
  CHECK(t.router().routes().empty());
}

TEST_CASE("tnl xlate: IPFIX output sampling of the underlay leaves tnl_push alone", "[ofproto][tunnel][sample]") {
  TnlRig r;
  r.know_remote();
  r.phy.sampling.ipfix = {1, 4, 0, 0, true, true};  // br-phy: input and output sampling
  XlateResult res = r.run(r.br_int, from_vm());
  INFO(res.error);
  // The underlay's outputs are tnl_push: no sample in between, the
  // encapsulation still works.
  unsigned end = check_push(res.actions, 0, expected_vxlan(), 21);
  CHECK(end == res.actions.n);
  // br-int's own output sampling: before a VM port's output, as usual.
  r.br_int.sampling.ipfix = {1, 5, 0, 0, false, true};
  res = r.run(r.br_int, from_vm());
  CHECK(dp::format_actions(res.actions).find("ipfix_egress") == std::string::npos);  // a tunnel push: none
}
