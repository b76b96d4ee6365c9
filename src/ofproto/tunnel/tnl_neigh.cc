#include "tnl_neigh.h"

#include <arpa/inet.h>

#include <cstring>

namespace dps::ofproto {

namespace {

// ARP reply opcode; ICMPv6 and its neighbour advertisement type.
constexpr uint8_t kArpOpReply = 2, kIcmpv6 = 58, kNdNeighborAdvert = 136;

bool mac_zero(const uint8_t* m) {
  static const uint8_t z[6] = {};
  return std::memcmp(m, z, 6) == 0;
}

std::optional<NeighObservation> snoop_arp(const datapath::FlowKey& f, datapath::FlowMask* wc) {
  if (wc) {
    wc->nw_src = wc->nw_dst = 0xffffffffu;
    wc->nw_proto = 0xff;
    std::memset(wc->arp_sha, 0xff, 6);
  }
  bool garp = f.nw_src == f.nw_dst;
  if ((!garp && f.nw_proto != kArpOpReply) || mac_zero(f.arp_sha) || f.nw_src == 0) return std::nullopt;
  NeighObservation o;
  o.ip = ip_from_v4(f.nw_src);
  std::memcpy(o.mac.data(), f.arp_sha, 6);
  o.target = ip_from_v4(f.nw_dst);
  o.gratuitous = garp;
  return o;
}

std::optional<NeighObservation> snoop_nd(const datapath::FlowKey& f, datapath::FlowMask* wc) {
  if (wc) {
    wc->nw_proto = 0xff;
    wc->tp_src = wc->tp_dst = 0xffff;
  }
  if (f.nw_proto != kIcmpv6 || f.tp_src != htons(kNdNeighborAdvert) || f.tp_dst != 0) return std::nullopt;
  // RFC 4861: advertisements answering our solicitations carry the target
  // link-layer address (Linux omits it elsewhere: those are ignored).
  if (wc) {
    std::memset(wc->arp_tha, 0xff, 6);
    std::memset(wc->nd_target, 0xff, 16);
    std::memset(wc->ipv6_dst, 0xff, 16);
  }
  if (mac_zero(f.arp_tha)) return std::nullopt;
  NeighObservation o;
  o.ip = ip_from_v6(f.nd_target);
  std::memcpy(o.mac.data(), f.arp_tha, 6);
  o.target = ip_from_v6(f.ipv6_dst);
  // Unsolicited advertisements go to all-nodes (ff02::1).
  o.gratuitous = f.ipv6_dst[0] == 0xff;
  return o;
}

}  // namespace

std::optional<NeighObservation> snoop_neighbor(const datapath::FlowKey& f, datapath::FlowMask* wc) {
  if (wc) wc->eth_type = 0xffff;
  if (f.eth_type == htons(datapath::kEthTypeArp)) return snoop_arp(f, wc);
  if (f.eth_type == htons(datapath::kEthTypeIpv6)) return snoop_nd(f, wc);
  return std::nullopt;
}

std::optional<MacAddr> TnlNeigh::lookup(const std::string& bridge, const IpAddr& ip, int64_t now_ms) const {
  auto it = map_.find(Key{bridge, ip});
  if (it == map_.end()) return std::nullopt;
  const NeighEntry& e = it->second;
  if (!e.is_static && e.expires_ms <= now_ms) return std::nullopt;
  return e.mac;
}

bool TnlNeigh::learn(const std::string& bridge, const IpAddr& ip, const MacAddr& mac, int64_t now_ms) {
  Key k{bridge, ip};
  auto [it, fresh] = map_.try_emplace(k);
  NeighEntry& e = it->second;
  if (!fresh && e.is_static) return false;
  bool change = fresh || e.mac != mac || e.expires_ms <= now_ms;
  e.bridge = bridge;
  e.ip = ip;
  e.mac = mac;
  e.expires_ms = now_ms + aging_ms_;
  if (change) changed(k);
  return change;
}

void TnlNeigh::set_static(const std::string& bridge, const IpAddr& ip, const MacAddr& mac) {
  Key k{bridge, ip};
  NeighEntry& e = map_[k];
  e.bridge = bridge;
  e.ip = ip;
  e.mac = mac;
  e.is_static = true;
  changed(k);
}

size_t TnlNeigh::flush(const std::string& bridge) {
  return erase_where([&](const Key& k, const NeighEntry&) { return bridge.empty() || k.first == bridge; });
}

size_t TnlNeigh::expire(int64_t now_ms) {
  return erase_where([&](const Key&, const NeighEntry& e) { return !e.is_static && e.expires_ms <= now_ms; });
}

std::vector<NeighEntry> TnlNeigh::entries() const {
  std::vector<NeighEntry> out;
  out.reserve(map_.size());
  for (const auto& [k, e] : map_) out.push_back(e);
  return out;
}

std::vector<std::pair<std::string, IpAddr>> TnlNeigh::take_changes() {
  std::vector<Key> out;
  out.swap(changes_);
  return out;
}

}  // namespace dps::ofproto
