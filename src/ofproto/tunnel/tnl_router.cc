#include "tnl_router.h"

#include <algorithm>
#include <cstring>

namespace dps::ofproto {

bool LocalPort::has_addr(const IpAddr& ip) const {
  for (const LocalAddr& a : addrs)
    if (a.ip == ip) return true;
  return false;
}

IpAddr ip_from_v4(uint32_t be) {
  IpAddr a;
  std::memcpy(a.b.data(), &be, 4);
  return a;
}

IpAddr ip_from_v6(const uint8_t* p) {
  IpAddr a;
  a.v6 = true;
  std::memcpy(a.b.data(), p, 16);
  return a;
}

IpAddr ip_masked(const IpAddr& a, uint8_t plen) {
  IpAddr m = a;
  unsigned bytes = a.v6 ? 16 : 4;
  for (unsigned i = 0; i < bytes; i++) {
    unsigned bits = plen > 8 * i ? plen - 8 * i : 0;
    uint8_t keep = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    m.b[i] &= keep;
  }
  return m;
}

bool ip_in_prefix(const IpAddr& a, const IpAddr& prefix, uint8_t plen) {
  return a.v6 == prefix.v6 && ip_masked(a, plen) == prefix;
}

std::optional<std::string> parse_prefix(const std::string& text, IpAddr* prefix, uint8_t* plen) {
  size_t slash = text.find('/');
  std::string ip = text.substr(0, slash);
  IpAddr a;
  if (!IpAddr::parse(ip, &a)) return "\"" + ip + "\" is not an IPv4 or IPv6 address";
  unsigned max = a.v6 ? 128 : 32;
  unsigned len = max;
  if (slash != std::string::npos) {
    std::string l = text.substr(slash + 1);
    if (l.empty() || l.size() > 3 || !std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(l) > max)
      return text + ": prefix length must be 0.." + std::to_string(max);
    len = static_cast<unsigned>(std::stoul(l));
  }
  IpAddr net = ip_masked(a, static_cast<uint8_t>(len));
  if (!(net == a))
    return text + ": host bits set (network is " + net.str() + "/" + std::to_string(len) + ")";
  *prefix = net;
  *plen = static_cast<uint8_t>(len);
  return std::nullopt;
}

bool TnlRouter::set_local_ports(std::vector<LocalPort> ports) {
  std::sort(ports.begin(), ports.end(),
            [](const LocalPort& a, const LocalPort& b) { return a.dp_port < b.dp_port; });
  if (ports == ports_) return false;
  ports_ = std::move(ports);
  by_dp_.clear();
  for (size_t i = 0; i < ports_.size(); i++) by_dp_[ports_[i].dp_port] = i;
  rebuild();
  return true;
}

const LocalPort* TnlRouter::local_port(uint32_t dp_port) const {
  auto it = by_dp_.find(dp_port);
  return it == by_dp_.end() ? nullptr : &ports_[it->second];
}

const LocalPort* TnlRouter::port_with_addr(const IpAddr& ip) const {
  for (const LocalPort& p : ports_)
    if (p.has_addr(ip)) return &p;
  return nullptr;
}

std::optional<std::string> TnlRouter::add_route(const IpAddr& prefix, uint8_t plen,
                                                const std::string& bridge, const IpAddr& gw) {
  if (!gw.is_zero() && gw.v6 != prefix.v6)
    return "gateway " + gw.str() + " is not of the family of " + prefix.str();
  if (!(ip_masked(prefix, plen) == prefix))
    return prefix.str() + "/" + std::to_string(plen) + ": host bits set";
  for (const TnlRoute& r : user_)
    if (r.prefix == prefix && r.plen == plen)
      return "a route to " + prefix.str() + "/" + std::to_string(plen) + " exists (via " + r.bridge +
             "); delete it first";
  user_.push_back(TnlRoute{prefix, plen, bridge, gw, true, IpAddr{}});
  rebuild();
  return std::nullopt;
}

bool TnlRouter::del_route(const IpAddr& prefix, uint8_t plen) {
  auto n = std::erase_if(user_, [&](const TnlRoute& r) { return r.prefix == prefix && r.plen == plen; });
  if (!n) return false;
  rebuild();
  return true;
}

void TnlRouter::rebuild() {
  routes_ = user_;
  for (const LocalPort& p : ports_)
    for (const LocalAddr& a : p.addrs) {
      TnlRoute r;
      r.prefix = ip_masked(a.ip, a.plen);
      r.plen = a.plen;
      r.bridge = p.bridge;
      r.src = a.ip;
      routes_.push_back(std::move(r));
    }
  std::stable_sort(routes_.begin(), routes_.end(), [](const TnlRoute& a, const TnlRoute& b) {
    return a.plen != b.plen ? a.plen > b.plen : a.user > b.user;
  });
  version_++;
}

// The internal port of r's bridge that sources traffic to next_hop: for a
// connected route the port owning r.src; for a user route the first
// address of the family whose subnet holds next_hop, else the first one.
const LocalPort* TnlRouter::source_for(const TnlRoute& r, const IpAddr& next_hop, IpAddr* src) const {
  if (!r.user) {
    *src = r.src;
    return port_with_addr(r.src);
  }
  const LocalPort* first = nullptr;
  for (const LocalPort& p : ports_) {
    if (p.bridge != r.bridge) continue;
    for (const LocalAddr& a : p.addrs) {
      if (a.ip.v6 != next_hop.v6) continue;
      if (ip_in_prefix(next_hop, ip_masked(a.ip, a.plen), a.plen)) {
        *src = a.ip;
        return &p;
      }
      if (!first) {
        first = &p;
        *src = a.ip;
      }
    }
  }
  return first;
}

std::optional<RouteResult> TnlRouter::lookup(const IpAddr& dst, std::string* why) const {
  for (const TnlRoute& r : routes_) {
    if (!ip_in_prefix(dst, r.prefix, r.plen)) continue;
    RouteResult res;
    res.route = &r;
    res.next_hop = r.gw.is_zero() ? dst : r.gw;
    res.port = source_for(r, res.next_hop, &res.src);
    if (!res.port) {
      if (why)
        *why = "route " + r.prefix.str() + "/" + std::to_string(r.plen) + " via bridge " + r.bridge +
               ": the bridge's internal port has no IPv" + (dst.v6 ? "6" : "4") + " address";
      return std::nullopt;
    }
    return res;
  }
  if (why) *why = "no route to " + dst.str();
  return std::nullopt;
}

}  // namespace dps::ofproto
