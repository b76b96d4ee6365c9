// tnl_router_test.cc - the tunnel control state: the router (longest
// prefix over connected and user routes, IPv4 and IPv6, source selection,
// prefix parsing), the neighbour cache (learn, age, flush, static,
// snooping rules, change log), the tunnel port index (listener classes,
// receive tiers, staleness) and the tunnel context (requests and their
// rate limit, change keys, runtime-command errors).
#include <arpa/inet.h>
#include <endian.h>

#include <catch2/catch.hpp>
#include <algorithm>

#include "bridge_fixtures.h"
#include "tnl_fixtures.h"
#include "tunnel_context.h"

using namespace dps::ofproto;
namespace dp = dps::datapath;
using dps::test::add_tunnel;
using dps::test::ip;
using dps::test::tunnel;

namespace {

LocalPort local(const char* bridge, uint32_t dp_port, std::vector<std::pair<const char*, uint8_t>> addrs) {
  LocalPort p;
  p.bridge = bridge;
  p.name = bridge;
  p.of_port = kPortLocal;
  p.dp_port = dp_port;
  p.mac = {0x02, 0xaa, 0, 0, 0, static_cast<uint8_t>(dp_port)};
  for (auto& [a, len] : addrs) p.addrs.push_back(LocalAddr{ip(a), len});
  return p;
}

std::shared_ptr<TunnelConfig> vxlan(const char* remote, uint64_t key = 0) {
  return tunnel(dp::TunnelType::kVxlan, remote, key);
}

// A decapsulated key: in_port, VNI, outer src -> dst (IPv4).
dp::FlowKey rx_key(uint32_t in_port, uint64_t vni, const char* src, const char* dst) {
  dp::FlowKey k{};
  k.in_port = in_port;
  k.tun_id = htobe64(vni);
  k.tun_ipv4_src = ip(src).v4_be();
  k.tun_ipv4_dst = ip(dst).v4_be();
  return k;
}

}  // namespace

TEST_CASE("tnl router: longest prefix over connected and user routes", "[ofproto][tunnel]") {
  TnlRouter r;
  CHECK(r.set_local_ports({local("br-phy", 20, {{"192.168.1.1", 24}, {"2001:db8::1", 64}}),
                           local("br-b", 30, {{"10.9.0.1", 16}})}));
  CHECK_FALSE(r.set_local_ports({local("br-phy", 20, {{"192.168.1.1", 24}, {"2001:db8::1", 64}}),
                                 local("br-b", 30, {{"10.9.0.1", 16}})}));  // unchanged
  std::string why;
  auto a = r.lookup(ip("192.168.1.77"), &why);
  REQUIRE(a);
  CHECK(a->route->bridge == "br-phy");
  CHECK_FALSE(a->route->user);
  CHECK(a->src == ip("192.168.1.1"));
  CHECK(a->next_hop == ip("192.168.1.77"));
  CHECK(a->port->dp_port == 20);
  // No route.
  CHECK_FALSE(r.lookup(ip("172.16.0.1"), &why));
  CHECK(why == "no route to 172.16.0.1");
  // A default route via a gateway on br-phy: the source is the address
  // whose subnet holds the gateway.
  REQUIRE_FALSE(r.add_route(ip("0.0.0.0"), 0, "br-phy", ip("192.168.1.254")));
  auto d = r.lookup(ip("172.16.0.1"));
  REQUIRE(d);
  CHECK(d->route->user);
  CHECK(d->next_hop == ip("192.168.1.254"));
  CHECK(d->src == ip("192.168.1.1"));
  // A longer user route wins over a shorter connected one, and at equal
  // length a user route wins over the connected one.
  REQUIRE_FALSE(r.add_route(ip("10.9.5.0"), 24, "br-phy", ip("192.168.1.253")));
  CHECK(r.lookup(ip("10.9.5.5"))->route->bridge == "br-phy");
  CHECK(r.lookup(ip("10.9.6.5"))->route->bridge == "br-b");
  REQUIRE_FALSE(r.add_route(ip("10.9.0.0"), 16, "br-phy", IpAddr{}));
  CHECK(r.lookup(ip("10.9.6.5"))->route->user);
  CHECK(r.lookup(ip("10.9.6.5"))->src == ip("192.168.1.1"));  // br-phy's only IPv4 address
  CHECK(r.del_route(ip("10.9.0.0"), 16));
  CHECK_FALSE(r.del_route(ip("10.9.0.0"), 16));
  CHECK(r.lookup(ip("10.9.6.5"))->route->bridge == "br-b");
  // Errors.
  CHECK(r.add_route(ip("10.9.5.0"), 24, "br-b", IpAddr{}).value_or("").find("exists") != std::string::npos);
  CHECK(r.add_route(ip("10.1.0.0"), 16, "br-b", ip("2001:db8::9")).value_or("").find("family") != std::string::npos);
  // IPv6 routes never answer IPv4 destinations and vice versa.
  auto v6 = r.lookup(ip("2001:db8::42"));
  REQUIRE(v6);
  CHECK(v6->src == ip("2001:db8::1"));
  CHECK_FALSE(r.lookup(ip("2001:db9::1")));
  // A user route on a bridge with no address of the family.
  REQUIRE_FALSE(r.add_route(ip("2001:db9::"), 32, "br-b", IpAddr{}));
  CHECK_FALSE(r.lookup(ip("2001:db9::1"), &why));
  CHECK(why.find("no IPv6 address") != std::string::npos);
  // Local ports by datapath port and by address.
  CHECK(r.local_port(30)->bridge == "br-b");
  CHECK(r.local_port(31) == nullptr);
  CHECK(r.port_with_addr(ip("2001:db8::1"))->dp_port == 20);
  CHECK(r.port_with_addr(ip("2001:db8::2")) == nullptr);
}

TEST_CASE("tnl router: version changes with routes and addresses", "[ofproto][tunnel]") {
  TnlRouter r;
  uint64_t v = r.version();
  r.set_local_ports({local("br-phy", 20, {{"192.168.1.1", 24}})});
  CHECK(r.version() != v);
  v = r.version();
  r.add_route(ip("10.0.0.0"), 8, "br-phy", ip("192.168.1.254"));
  CHECK(r.version() != v);
  v = r.version();
  r.set_local_ports({local("br-phy", 20, {{"192.168.1.1", 24}})});
  CHECK(r.version() == v);
}

TEST_CASE("tnl router: prefix parsing", "[ofproto][tunnel]") {
  IpAddr p;
  uint8_t len = 0;
  CHECK_FALSE(parse_prefix("10.1.0.0/16", &p, &len));
  CHECK(p == ip("10.1.0.0"));
  CHECK(len == 16);
  CHECK_FALSE(parse_prefix("10.1.2.3", &p, &len));
  CHECK(len == 32);
  CHECK_FALSE(parse_prefix("2001:db8::/32", &p, &len));
  CHECK(len == 32);
  CHECK(p.v6);
  CHECK(parse_prefix("10.1.2.3/16", &p, &len).value_or("") == "10.1.2.3/16: host bits set (network is 10.1.0.0/16)");
  CHECK(parse_prefix("10.1.0.0/33", &p, &len).value_or("") == "10.1.0.0/33: prefix length must be 0..32");
  CHECK(parse_prefix("10.1.0.0/", &p, &len).has_value());
  CHECK(parse_prefix("10.1.0.0/1a", &p, &len).has_value());
  CHECK(parse_prefix("bogus/8", &p, &len).value_or("") == "\"bogus\" is not an IPv4 or IPv6 address");
  CHECK(ip_masked(ip("2001:db8:ffff::1"), 36) == ip("2001:db8:f000::"));
  CHECK(ip_in_prefix(ip("10.1.200.3"), ip("10.1.0.0"), 16));
  CHECK_FALSE(ip_in_prefix(ip("10.2.0.3"), ip("10.1.0.0"), 16));
  CHECK_FALSE(ip_in_prefix(ip("::a01:3"), ip("10.1.0.0"), 16));
}

TEST_CASE("tnl neigh: learn, refresh, age, static, flush, change log", "[ofproto][tunnel]") {
  TnlNeigh n;
  n.set_aging_ms(1000);
  MacAddr m1 = {2, 0, 0, 0, 0, 1}, m2 = {2, 0, 0, 0, 0, 2};
  CHECK_FALSE(n.lookup("br-phy", ip("10.0.0.2"), 0));
  CHECK(n.learn("br-phy", ip("10.0.0.2"), m1, 0));
  CHECK(n.lookup("br-phy", ip("10.0.0.2"), 999) == m1);
  CHECK_FALSE(n.lookup("br-other", ip("10.0.0.2"), 0));  // per bridge
  CHECK_FALSE(n.learn("br-phy", ip("10.0.0.2"), m1, 500));  // refresh: no change
  CHECK(n.lookup("br-phy", ip("10.0.0.2"), 1499) == m1);
  CHECK_FALSE(n.lookup("br-phy", ip("10.0.0.2"), 1500));  // expired, still listed until expire()
  CHECK(n.learn("br-phy", ip("10.0.0.2"), m2, 600));       // moved
  auto ch = n.take_changes();
  REQUIRE(ch.size() == 2);
  CHECK(ch[0].second == ip("10.0.0.2"));
  CHECK(n.take_changes().empty());
  n.set_static("br-phy", ip("2001:db8::2"), m1);
  CHECK_FALSE(n.learn("br-phy", ip("2001:db8::2"), m2, 0));  // static wins
  CHECK(n.expire(5000) == 1);                               // the learned one
  CHECK(n.lookup("br-phy", ip("2001:db8::2"), 1'000'000) == m1);
  CHECK(n.take_changes().size() == 2);  // static set, expiry
  n.learn("br-a", ip("10.0.0.3"), m1, 0);
  n.learn("br-b", ip("10.0.0.4"), m1, 0);
  CHECK(n.flush("br-a") == 1);
  CHECK(n.size() == 2);
  CHECK(n.flush() == 2);
  CHECK(n.size() == 0);
}

TEST_CASE("tnl neigh: what snooping learns from", "[ofproto][tunnel]") {
  dp::FlowKey f{};
  dp::FlowMask wc{};
  f.eth_type = htons(dp::kEthTypeArp);
  f.nw_proto = 2;  // reply
  f.nw_src = ip("10.0.0.2").v4_be();
  f.nw_dst = ip("10.0.0.1").v4_be();
  f.arp_sha[0] = 0x02;
  f.arp_sha[5] = 0x22;
  auto o = snoop_neighbor(f, &wc);
  REQUIRE(o);
  CHECK(o->ip == ip("10.0.0.2"));
  CHECK(o->mac == MacAddr{0x02, 0, 0, 0, 0, 0x22});
  CHECK(o->target == ip("10.0.0.1"));
  CHECK_FALSE(o->gratuitous);
  CHECK(wc.eth_type == 0xffff);
  CHECK(wc.nw_proto == 0xff);
  CHECK(wc.nw_src == 0xffffffffu);
  CHECK(wc.arp_sha[0] == 0xff);
  f.nw_proto = 1;  // a request teaches nothing...
  CHECK_FALSE(snoop_neighbor(f, nullptr));
  f.nw_dst = f.nw_src;  // ...unless gratuitous
  REQUIRE(snoop_neighbor(f, nullptr));
  CHECK(snoop_neighbor(f, nullptr)->gratuitous);
  std::memset(f.arp_sha, 0, 6);
  CHECK_FALSE(snoop_neighbor(f, nullptr));  // no sender MAC
  // ND: an advertisement with a target link-layer address.
  dp::FlowKey n{};
  n.eth_type = htons(dp::kEthTypeIpv6);
  n.nw_proto = 58;
  n.tp_src = htons(136);
  IpAddr t = ip("2001:db8::2"), me = ip("2001:db8::1");
  std::memcpy(n.nd_target, t.b.data(), 16);
  std::memcpy(n.ipv6_dst, me.b.data(), 16);
  CHECK_FALSE(snoop_neighbor(n, nullptr));  // no TLL
  n.arp_tha[0] = 0x02;
  n.arp_tha[5] = 0x33;
  auto nd = snoop_neighbor(n, nullptr);
  REQUIRE(nd);
  CHECK(nd->ip == t);
  CHECK(nd->target == me);
  CHECK(nd->mac[5] == 0x33);
  n.tp_src = htons(135);  // a solicitation
  CHECK_FALSE(snoop_neighbor(n, nullptr));
  dp::FlowKey ipv4{};
  ipv4.eth_type = htons(dp::kEthTypeIpv4);
  CHECK_FALSE(snoop_neighbor(ipv4, nullptr));
}

TEST_CASE("tnl ports: listener classes and receive tiers", "[ofproto][tunnel]") {
  Bridge br = dps::test::make_bridge(1, "br-int", 10);
  add_tunnel(br, 2, 12, "vx-any", vxlan("flow", 0));
  auto c5 = vxlan("192.168.1.5", 5);
  add_tunnel(br, 3, 13, "vx5", c5);
  auto cflow = vxlan("192.168.1.5");
  cflow->in_key_flow = cflow->out_key_flow = true;
  add_tunnel(br, 4, 14, "vx5-keyflow", cflow);
  auto g = std::make_shared<TunnelConfig>();
  g->type = dp::TunnelType::kGeneve;
  g->remote_ip_flow = true;
  g->local_ip = ip("192.168.1.1");
  add_tunnel(br, 5, 15, "gnv", g);
  BridgeMap bm;
  bm.add_bridge(&br);
  TnlPorts ports(bm);
  // Listener: UDP 4789 -> the lowest datapath port of the VXLAN class.
  const TnlPortRef* l = ports.listener(17, htons(4789), ip("192.168.1.1"));
  REQUIRE(l);
  CHECK(l->dp_port == 12);
  CHECK_FALSE(ports.listener(17, htons(4790), ip("192.168.1.1")));
  CHECK_FALSE(ports.listener(47, 0, ip("192.168.1.1")));  // no GRE port
  REQUIRE(ports.listener(17, htons(6081), ip("192.168.1.1")));
  CHECK_FALSE(ports.listener(17, htons(6081), ip("192.168.1.2")));  // local_ip differs
  // Receive tiers: exact key + exact remote first.
  dp::FlowMask wc{};
  CHECK(ports.receive(rx_key(12, 5, "192.168.1.5", "192.168.1.1"), &wc)->name == "vx5");
  CHECK(wc.tun_id == ~uint64_t{0});
  CHECK(wc.tun_ipv4_src == 0xffffffffu);
  // Another key from that remote: key=flow beats remote=flow? No: in_key
  // exact is the outer tier, so key 0 from the remote goes to vx-any
  // (key 0 exact, remote=flow) before vx5-keyflow (key=flow).
  CHECK(ports.receive(rx_key(12, 0, "192.168.1.5", "192.168.1.1"), &wc)->name == "vx-any");
  CHECK(ports.receive(rx_key(12, 7, "192.168.1.5", "192.168.1.1"), &wc)->name == "vx5-keyflow");
  CHECK(ports.receive(rx_key(12, 7, "192.168.1.6", "192.168.1.1"), &wc) == nullptr);
  // The class comes from in_port: the Geneve port is not a candidate for
  // a VXLAN representative.
  CHECK(ports.receive(rx_key(15, 0, "192.168.1.6", "192.168.1.1"), &wc)->name == "gnv");
  CHECK(ports.receive(rx_key(15, 0, "192.168.1.6", "192.168.1.2"), &wc) == nullptr);
  CHECK(ports.receive(rx_key(11, 0, "192.168.1.6", "192.168.1.1"), &wc) == nullptr);  // not a tunnel port
  CHECK(ports.is_tunnel_dp_port(14));
  CHECK_FALSE(ports.is_tunnel_dp_port(11));
  CHECK(ports.all().size() == 4);
  // A port replaced without invalidate(): the stale entry is noticed.
  br.remove_port(3);
  CHECK(ports.receive(rx_key(12, 5, "192.168.1.5", "192.168.1.1"), &wc)->name == "vx5-keyflow");
  br.remove_port(2);
  CHECK(ports.listener(17, htons(4789), ip("192.168.1.1"))->dp_port == 14);
}

TEST_CASE("tunnel context: requests, wanted neighbours, changes, commands", "[ofproto][tunnel]") {
  Bridge phy = dps::test::make_bridge(1, "br-phy", 20);
  BridgeMap bm;
  bm.add_bridge(&phy);
  TunnelContext t(bm);
  t.set_address_source([](const BridgeMap&) {
    return std::vector<LocalPort>{local("br-phy", 20, {{"192.168.1.1", 24}})};
  });
  t.run(0);
  TnlChanges c = t.take_changes();
  CHECK(c.deps == std::vector<uint64_t>{tnl_dep_route()});  // the addresses arrived
  const LocalPort& lp = *t.router().local_port(20);
  // One request per neighbour per second.
  CHECK(t.request_neigh(lp, ip("192.168.1.1"), ip("192.168.1.2"), 100));
  CHECK_FALSE(t.request_neigh(lp, ip("192.168.1.1"), ip("192.168.1.2"), 600));
  CHECK(t.request_neigh(lp, ip("192.168.1.1"), ip("192.168.1.3"), 600));
  auto reqs = t.take_requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].bridge == "br-phy");
  CHECK(reqs[0].of_in_port == kPortLocal);
  CHECK(reqs[0].frame.size() == 42);
  CHECK(t.stats().neigh_requests == 2);
  // Still wanted and unknown a second later: its megaflows are re-translated.
  t.run(1200);
  c = t.take_changes();
  CHECK(std::count(c.deps.begin(), c.deps.end(), tnl_dep_neigh("br-phy", ip("192.168.1.2"))) == 1);
  // Learned: a change for it, and it is no longer wanted.
  NeighObservation o;
  o.ip = ip("192.168.1.2");
  o.mac = {2, 0, 0, 0, 0, 2};
  o.target = ip("192.168.1.99");  // not ours: ignored
  t.snooped(lp, o, 1300);
  CHECK(t.take_changes().empty());
  o.target = ip("192.168.1.1");
  t.snooped(lp, o, 1300);
  CHECK(t.take_changes().deps == std::vector<uint64_t>{tnl_dep_neigh("br-phy", ip("192.168.1.2"))});
  CHECK(t.stats().neigh_snooped == 1);
  t.run(2500);  // .3 is still wanted (asked at 600), .2 is known
  c = t.take_changes();
  CHECK(c.deps == std::vector<uint64_t>{tnl_dep_neigh("br-phy", ip("192.168.1.3"))});
  t.run(10'000);  // nobody asked for .3 for long: forgotten
  t.run(11'000);
  CHECK(t.take_changes().empty());
  // Commands.
  CHECK(t.route_add("10.0.0.0/8", "br-nope", "").value_or("") == "no bridge named br-nope");
  CHECK(t.route_add("10.0.0.0/8", "br-phy", "x").value_or("") == "gateway \"x\" is not an IP address");
  CHECK_FALSE(t.route_add("10.0.0.0/8", "br-phy", "192.168.1.254"));
  CHECK(t.take_changes().deps == std::vector<uint64_t>{tnl_dep_route()});
  CHECK(t.route_del("10.0.0.0/16").value_or("") == "no user route to 10.0.0.0/16");
  CHECK_FALSE(t.route_del("10.0.0.0/8"));
  CHECK(t.neigh_set("br-phy", "10.0.0.1", "zz").value_or("") == "\"zz\" is not a MAC address");
  CHECK_FALSE(t.neigh_set("br-phy", "10.0.0.1", "02:00:00:00:00:09"));
  CHECK(t.neigh().lookup("br-phy", ip("10.0.0.1"), 1'000'000'000).has_value());
  CHECK(tnl_dep_neigh("br-phy", ip("10.0.0.1")) != tnl_dep_neigh("br-x", ip("10.0.0.1")));
}
