#include "tunnel_context.h"

#include <algorithm>
#include <string_view>

#include "syntax_text.h"
#include "tnl_header.h"

namespace dps::ofproto {

namespace {

constexpr int64_t kAddrFallbackMs = 2000;  // re-read period without netlink
constexpr int64_t kNetlinkPollMs = 100;

}  // namespace

// Dependency keys only need to spread (a collision costs a needless
// re-translation, never a missed one).
uint64_t tnl_dep_route() { return std::hash<std::string_view>{}("tnl-route"); }

uint64_t tnl_dep_neigh(const std::string& bridge, const IpAddr& ip) {
  return std::hash<std::string>{}("tnl-neigh/" + bridge + "/" + ip.str());
}

TunnelContext::TunnelContext(const BridgeMap& bridges) : bridges_(bridges), ports_(bridges) {}

TunnelContext::~TunnelContext() = default;

void TunnelContext::set_tlv_table(const TlvTable* tlv) {
  tlv_ = tlv;
  tlv_version_ = tlv ? tlv->version() : 0;
  all_changed_ = true;
}

Bridge* TunnelContext::bridge_by_name(const std::string& name) const {
  for (Bridge* b : bridges_.bridges())
    if (b->name == name) return b;
  return nullptr;
}

bool TunnelContext::request_neigh(const LocalPort& port, const IpAddr& src, const IpAddr& next_hop,
                                  int64_t now_ms) {
  Want& w = wanted_[{port.bridge, next_hop}];
  w.wanted_ms = now_ms;
  if (w.requested_ms >= 0 && now_ms - w.requested_ms < kNeighRetryMs) return false;
  if (requests_.size() >= kMaxTnlRequests) return false;
  w.requested_ms = now_ms;
  TnlRequest r;
  r.bridge = port.bridge;
  r.of_in_port = port.of_port;
  r.frame = next_hop.v6 ? build_nd_ns(port.mac, src, next_hop) : build_arp_request(port.mac, src, next_hop);
  requests_.push_back(std::move(r));
  stats_.neigh_requests++;
  return true;
}

void TunnelContext::snooped(const LocalPort& port, const NeighObservation& o, int64_t now_ms) {
  if (!o.gratuitous && !port.has_addr(o.target)) return;  // someone else's reply
  if (neigh_.learn(port.bridge, o.ip, o.mac, now_ms)) stats_.neigh_snooped++;
}

void TunnelContext::ports_changed() {
  ports_.invalidate();
  addrs_dirty_ = true;
}

void TunnelContext::set_address_source(std::function<std::vector<LocalPort>(const BridgeMap&)> fn) {
  addr_source_ = std::move(fn);
  addrs_dirty_ = true;
}

void TunnelContext::refresh_addresses() {
  std::vector<LocalPort> v = addr_source_ ? addr_source_(bridges_) : kernel_local_ports(bridges_);
  if (router_.set_local_ports(std::move(v))) routes_changed_ = true;
  addrs_dirty_ = false;
}

void TunnelContext::run(int64_t now_ms) {
  if (!addr_source_ && now_ms >= next_poll_ms_) {
    if (!netlink_) netlink_ = std::make_unique<NetlinkWatch>();
    if (netlink_->pending()) addrs_dirty_ = true;
    next_poll_ms_ = now_ms + (netlink_->ok() ? kNetlinkPollMs : kAddrFallbackMs);
    if (!netlink_->ok()) addrs_dirty_ = true;
  }
  if (addrs_dirty_) refresh_addresses();
  if (now_ms >= next_age_ms_) {
    next_age_ms_ = now_ms + kNeighRetryMs;
    neigh_.expire(now_ms);
    retry_wanted(now_ms);
  }
  if (tlv_ && tlv_->version() != tlv_version_) {
    tlv_version_ = tlv_->version();
    all_changed_ = true;
  }
}

// A neighbour still wanted and still unknown: re-translate the megaflows
// waiting for it (their translation asks again), once per kNeighRetryMs.
void TunnelContext::retry_wanted(int64_t now_ms) {
  for (auto it = wanted_.begin(); it != wanted_.end();) {
    Want& w = it->second;
    const auto& [bridge, ip] = it->first;
    if (now_ms - w.wanted_ms > kNeighWantMs || neigh_.lookup(bridge, ip, now_ms)) {
      it = wanted_.erase(it);
      continue;
    }
    if (now_ms - w.retried_ms >= kNeighRetryMs && now_ms - w.requested_ms >= kNeighRetryMs) {
      w.retried_ms = now_ms;
      retry_deps_.push_back(tnl_dep_neigh(bridge, ip));
    }
    ++it;
  }
}

std::vector<TnlRequest> TunnelContext::take_requests() {
  std::vector<TnlRequest> out;
  out.swap(requests_);
  return out;
}

TnlChanges TunnelContext::take_changes() {
  TnlChanges c;
  c.all = all_changed_;
  if (routes_changed_) c.deps.push_back(tnl_dep_route());
  for (const auto& [bridge, ip] : neigh_.take_changes()) c.deps.push_back(tnl_dep_neigh(bridge, ip));
  c.deps.insert(c.deps.end(), retry_deps_.begin(), retry_deps_.end());
  std::sort(c.deps.begin(), c.deps.end());
  c.deps.erase(std::unique(c.deps.begin(), c.deps.end()), c.deps.end());
  all_changed_ = routes_changed_ = false;
  retry_deps_.clear();
  return c;
}

std::optional<std::string> TunnelContext::route_add(const std::string& prefix, const std::string& bridge,
                                                    const std::string& gw) {
  IpAddr p, g;
  uint8_t plen = 0;
  if (auto e = parse_prefix(prefix, &p, &plen)) return e;
  if (!bridge_by_name(bridge)) return "no bridge named " + bridge;
  if (!gw.empty() && !IpAddr::parse(gw, &g)) return "gateway \"" + gw + "\" is not an IP address";
  if (auto e = router_.add_route(p, plen, bridge, g)) return e;
  routes_changed_ = true;
  return std::nullopt;
}

std::optional<std::string> TunnelContext::route_del(const std::string& prefix) {
  IpAddr p;
  uint8_t plen = 0;
  if (auto e = parse_prefix(prefix, &p, &plen)) return e;
  if (!router_.del_route(p, plen)) return "no user route to " + p.str() + "/" + std::to_string(plen);
  routes_changed_ = true;
  return std::nullopt;
}

std::optional<std::string> TunnelContext::neigh_set(const std::string& bridge, const std::string& ip,
                                                    const std::string& mac) {
  IpAddr a;
  MacAddr m;
  if (!bridge_by_name(bridge)) return "no bridge named " + bridge;
  if (!IpAddr::parse(ip, &a)) return "\"" + ip + "\" is not an IP address";
  if (!syntax::parse_mac(mac, m.data())) return "\"" + mac + "\" is not a MAC address";
  neigh_.set_static(bridge, a, m);
  return std::nullopt;
}

}  // namespace dps::ofproto
