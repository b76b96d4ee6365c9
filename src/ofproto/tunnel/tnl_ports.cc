#include "tnl_ports.h"

#include <arpa/inet.h>
#include <endian.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace dps::ofproto {

using datapath::FlowKey;
using datapath::FlowMask;
using datapath::TunnelType;

namespace {

bool any_set(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return true;
  return false;
}

// The tier of c for a packet from remote to local with key (lower is
// better; -1: c does not accept it): tnl_find()'s order.
int receive_tier(const TunnelConfig& c, uint64_t key, const IpAddr& remote, const IpAddr& local) {
  int key_tier = c.in_key_flow ? 1 : c.in_key == key ? 0 : -1;
  int remote_tier = c.remote_ip_flow ? 1 : c.remote_ip == remote ? 0 : -1;
  int local_tier = c.local_ip_flow ? 2 : c.local_ip.is_zero() ? 1 : c.local_ip == local ? 0 : -1;
  if (key_tier < 0 || remote_tier < 0 || local_tier < 0) return -1;
  return key_tier * 6 + remote_tier * 3 + local_tier;
}

}  // namespace

void TnlPorts::refresh() {
  classes_.clear();
  class_of_.clear();
  for (Bridge* b : bridges_.bridges())
    for (const auto& [no, p] : b->ports) {
      if (!p.is_tunnel() || p.is_patch()) continue;
      ClassKey k{p.tunnel->type == TunnelType::kGre, p.tunnel->udp_dst_port()};
      classes_[k].push_back(TnlPortRef{b, no, p.dp_port, p.name, p.tunnel});
      class_of_[p.dp_port] = k;
    }
  for (auto& [k, v] : classes_)
    std::sort(v.begin(), v.end(), [](const TnlPortRef& a, const TnlPortRef& b) { return a.dp_port < b.dp_port; });
  dirty_ = false;
}

bool TnlPorts::valid(const TnlPortRef& r) const {
  if (!bridges_.live(r.bridge)) return false;
  const BridgePort* p = r.bridge->port(r.of_port);
  return p && p->dp_port == r.dp_port && p->tunnel == r.cfg;
}

const TnlPortRef* TnlPorts::listener(uint8_t proto, uint16_t udp_dst_be, const IpAddr& local) {
  if (proto != 17 && proto != datapath::kIpProtoGre) return nullptr;
  ClassKey k{proto != 17, proto == 17 ? ntohs(udp_dst_be) : uint16_t{0}};
  for (int attempt = 0; attempt < 2; attempt++) {
    if (dirty_) refresh();
    auto it = classes_.find(k);
    if (it == classes_.end()) return nullptr;
    const TnlPortRef* found = nullptr;
    for (const TnlPortRef& r : it->second) {
      const TunnelConfig& c = *r.cfg;
      if (c.local_ip_flow || c.local_ip.is_zero() || c.local_ip == local) {
        found = &r;
        break;
      }
    }
    if (!found || valid(*found)) return found;
    dirty_ = true;  // stale: rebuild and look again
  }
  return nullptr;
}

const TnlPortRef* TnlPorts::receive(const FlowKey& key, FlowMask* wc) {
  wc->tun_id = ~uint64_t{0};
  wc->tun_ipv4_src = wc->tun_ipv4_dst = 0xffffffffu;
  std::memset(wc->tun_ipv6_src, 0xff, 16);
  std::memset(wc->tun_ipv6_dst, 0xff, 16);
  IpAddr remote, local;
  if (any_set(key.tun_ipv6_dst, 16)) {
    remote.v6 = local.v6 = true;
    std::memcpy(remote.b.data(), key.tun_ipv6_src, 16);
    std::memcpy(local.b.data(), key.tun_ipv6_dst, 16);
  } else {
    std::memcpy(remote.b.data(), &key.tun_ipv4_src, 4);
    std::memcpy(local.b.data(), &key.tun_ipv4_dst, 4);
  }
  uint64_t tun_key = be64toh(key.tun_id);
  for (int attempt = 0; attempt < 2; attempt++) {
    if (dirty_) refresh();
    auto cls = class_of_.find(key.in_port);
    if (cls == class_of_.end()) return nullptr;
    const TnlPortRef* best = nullptr;
    int best_tier = INT_MAX;
    for (const TnlPortRef& r : classes_[cls->second]) {
      int t = receive_tier(*r.cfg, tun_key, remote, local);
      if (t >= 0 && t < best_tier) {
        best = &r;
        best_tier = t;
      }
    }
    if (!best || valid(*best)) return best;
    dirty_ = true;
  }
  return nullptr;
}

bool TnlPorts::is_tunnel_dp_port(uint32_t dp_port) {
  if (dirty_) refresh();
  return class_of_.count(dp_port) != 0;
}

std::vector<TnlPortRef> TnlPorts::all() {
  if (dirty_) refresh();
  std::vector<TnlPortRef> out;
  for (const auto& [k, v] : classes_)
    for (const TnlPortRef& r : v)
      if (valid(r)) out.push_back(r);
  return out;
}

}  // namespace dps::ofproto
