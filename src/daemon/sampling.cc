#include "sampling.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <stdexcept>

#include "config_daemon.h"
#include "datapath.h"
#include "flow_key_fields.h"
#include "ofproto.h"
#include "socket_address.h"

namespace dps::daemon {
namespace {

using exporter::from_sockaddr;
using exporter::IpAddress;

// The first IPv4 (else IPv6) address of network device `name`.
std::optional<IpAddress> device_address(const std::string& name) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<IpAddress> v4, v6;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || name != i->ifa_name) continue;
    if (i->ifa_addr->sa_family == AF_INET && !v4) v4 = from_sockaddr(i->ifa_addr);
    if (i->ifa_addr->sa_family == AF_INET6 && !v6) v6 = from_sockaddr(i->ifa_addr);
  }
  freeifaddrs(list);
  return v4 ? v4 : v6;
}

// The source address the kernel picks towards `to` (a connected UDP socket
// sends nothing).
std::optional<IpAddress> source_towards(const exporter::Endpoint& to) {
  sockaddr_storage ss;
  const socklen_t len = exporter::to_sockaddr(to, &ss);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  std::optional<IpAddress> out;
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) == 0)
    out = from_sockaddr(reinterpret_cast<sockaddr*>(&local));
  close(fd);
  return out;
}

// "IP" and "[IP6]" get the default port; then parse_endpoint's rules.
std::optional<exporter::Endpoint> parse_target(std::string t, uint16_t default_port, std::string* error) {
  if (IpAddress::parse(t)) {
    t = (t.find(':') != std::string::npos ? "[" + t + "]" : t) + ":" + std::to_string(default_port);
  } else if (!t.empty() && t.front() == '[' && t.back() == ']') {
    t += ":" + std::to_string(default_port);
  }
  return exporter::parse_endpoint(t, error);
}

std::nullopt_t fail(std::string* error, const std::string& what) {
  *error = "sFlow: " + what;
  return std::nullopt;
}

bool check_range(std::string* error, const char* column, int64_t v, int64_t lo, int64_t hi, const char* unit) {
  if (v >= lo && v <= hi) return true;
  fail(error, std::string(column) + "=" + std::to_string(v) + ": must be " + std::to_string(lo) + ".." +
                  std::to_string(hi) + unit);
  return false;
}

// The sFlow output field of a sample's cookie.
uint32_t sflow_output(uint32_t out) {
  if (out == datapath::kSampleOutNone) return exporter::sflow_if_discard(256);  // 256: unknown reason
  if (out & datapath::kSampleOutMultiple) return exporter::sflow_if_multiple(out & ~datapath::kSampleOutMultiple);
  return exporter::sflow_if_index(out);
}

nlohmann::json collectors_json(const exporter::UdpExporter& out) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& col : out.collectors())
    targets.push_back({{"target", col.target.str()}, {"sent", col.sent}, {"send_errors", col.send_errors},
                       {"last_error", col.last_error}});
  return targets;
}

uint64_t epoch_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

std::optional<SflowSettings> sflow_settings(const SflowWant& w, std::string* error) {
  SflowSettings s;
  const int64_t sampling = w.sampling.value_or(kSflowDefaultSampling);
  const int64_t polling = w.polling.value_or(kSflowDefaultPolling);
  const int64_t header = w.header.value_or(kSflowDefaultHeader);
  if (!check_range(error, "sampling", sampling, 1, UINT32_MAX, "") ||
      !check_range(error, "polling", polling, 0, 86400, " seconds") ||
      !check_range(error, "header", header, 4, 256, " bytes"))
    return std::nullopt;
  s.sampling = static_cast<uint32_t>(sampling);
  s.polling_s = static_cast<uint32_t>(polling);
  s.header = static_cast<uint32_t>(header);
  std::vector<exporter::Endpoint> eps;
  for (const std::string& t : w.targets) {
    std::string why;
    auto ep = parse_target(t, exporter::kSflowPort, &why);
    if (!ep) return fail(error, "targets=\"" + t + "\": " + why);
    eps.push_back(*ep);
    s.targets.push_back(ep->str());
  }
  if (eps.empty()) return fail(error, "targets: none given");
  if (!w.agent.empty()) {
    auto a = IpAddress::parse(w.agent);
    if (!a) a = device_address(w.agent);
    if (!a) return fail(error, "agent=\"" + w.agent + "\": not an IP address nor a network device with one");
    s.agent = *a;
  } else {
    auto a = source_towards(eps.front());
    if (!a) return fail(error, "agent: no route to " + eps.front().str() + " to take an agent address from");
    s.agent = *a;
  }
  return s;
}

// ---- SflowAgent -----------------------------------------------------------------

SflowAgent::SflowAgent(const SflowSettings& s, uint16_t slot, datapath::Datapath& dp)
    : s_(s), slot_(slot), dp_(dp), base_(dp.sample_counters(slot)),
      enc_({.agent = s.agent, .sub_agent_id = 0, .max_datagram = 1400, .header_bytes = s.header}) {
  std::string error;
  if (!out_.set_collectors(s.targets, &error)) throw std::invalid_argument("sFlow: " + error);
}

datapath::SampleCounters SflowAgent::counters() const {
  datapath::SampleCounters c = dp_.sample_counters(slot_);
  c.pool -= std::min(c.pool, base_.pool);
  c.sampled -= std::min(c.sampled, base_.sampled);
  c.lost -= std::min(c.lost, base_.lost);
  return c;
}

void SflowAgent::add_sample(const ofproto::SampleEvent& e) {
  const datapath::SampleCounters c = counters();
  exporter::SflowFlowSample fs;
  fs.source_index = 0;  // the bridge (OVS: one sampler per bridge)
  fs.sampling_rate = s_.sampling;
  fs.sample_pool = static_cast<uint32_t>(c.pool);
  fs.drops = static_cast<uint32_t>(c.lost);
  fs.input = exporter::sflow_if_index(e.in_port);
  fs.output = sflow_output(e.cookie.out);
  fs.frame_length = e.frame_len;
  fs.header = std::span<const uint8_t>(e.header.data(), e.header.size());
  // Extended switch data: the VLAN and priority in (the key) and out (the
  // translation's, in the cookie); untagged is VLAN 0, as OVS.
  const uint32_t in = ntohs(e.key.vlan_tci), out = e.cookie.arg;
  fs.ext_switch = exporter::SflowExtendedSwitch{.src_vlan = in & 0xfffu, .src_priority = in >> 13,
                                                .dst_vlan = out & 0xfffu, .dst_priority = out >> 13};
  if (enc_.add_flow_sample(fs)) flow_samples_++;
}

void SflowAgent::poll(const ofproto::Ofproto& ofp, int64_t now_ms) {
  if (start_ms_ < 0) {
    start_ms_ = last_flush_ms_ = now_ms;
    next_poll_ms_ = now_ms + int64_t{s_.polling_s} * 1000;
  }
  if (!s_.polling_s || now_ms < next_poll_ms_) return;
  next_poll_ms_ = now_ms + int64_t{s_.polling_s} * 1000;
  for (const auto& [no, bp] : ofp.bridge().ports) {
    if (bp.is_patch() || bp.is_tunnel()) continue;
    const netdev::Netdev* nd = dp_.port(bp.dp_port);
    if (!nd) continue;
    const netdev::PortStats st = nd->stats();
    const netdev::NetdevInfo info = nd->info();
    exporter::SflowCounterSample cs;
    cs.source_index = bp.dp_port;
    exporter::SflowIfCounters& c = cs.ifc;
    c.if_index = bp.dp_port;
    c.if_speed = uint64_t{info.link_speed_mbps} * 1'000'000;
    c.if_direction = info.link_speed_mbps ? (info.full_duplex ? 1 : 2) : 0;
    c.admin_up = nd->admin_up();
    c.oper_up = info.link_up;
    c.in_octets = st.rx_bytes;
    c.in_ucast = static_cast<uint32_t>(st.rx_packets);  // the datapath does not split by cast
    c.in_discards = static_cast<uint32_t>(st.rx_dropped);
    c.in_errors = static_cast<uint32_t>(st.rx_errors);
    c.out_octets = st.tx_bytes;
    c.out_ucast = static_cast<uint32_t>(st.tx_packets);
    c.out_discards = static_cast<uint32_t>(st.tx_dropped);
    c.out_errors = static_cast<uint32_t>(st.tx_errors);
    if (enc_.add_counter_sample(cs)) counter_samples_++;
  }
}

unsigned SflowAgent::flush(int64_t now_ms, bool force) {
  if (!enc_.pending() || (!force && now_ms - last_flush_ms_ < kFlushMs)) return 0;
  last_flush_ms_ = now_ms;
  const auto uptime = static_cast<uint32_t>(now_ms - (start_ms_ < 0 ? now_ms : start_ms_));
  unsigned n = 0;
  for (const auto& d : enc_.take(uptime)) {
    out_.send(d);
    n++;
  }
  return n;
}

nlohmann::json SflowAgent::show() const {
  const datapath::SampleCounters c = counters();
  return {{"agent", s_.agent.str()},         {"sampling", s_.sampling},
          {"polling", s_.polling_s},         {"header", s_.header},
          {"slot", slot_},                   {"sample_pool", c.pool},
          {"sampled", c.sampled},            {"lost", c.lost},
          {"flow_samples", flow_samples_},   {"counter_samples", counter_samples_},
          {"datagrams", enc_.datagrams()},   {"targets", collectors_json(out_)}};
}

// ---- IPFIX ----------------------------------------------------------------------

std::optional<IpfixSettings> ipfix_settings(const IpfixWant& w, std::string* error) {
  IpfixSettings s;
  auto bad = [error](const std::string& what) {
    *error = "IPFIX: " + what;
    return std::nullopt;
  };
  // The schema bounds sampling (>= 1), the ids and cache_active_timeout.
  s.sampling = static_cast<uint32_t>(w.sampling.value_or(kIpfixDefaultSampling));
  s.obs_domain = static_cast<uint32_t>(w.obs_domain_id.value_or(0));
  s.obs_point = static_cast<uint32_t>(w.obs_point_id.value_or(0));
  s.cache_active_timeout_s = static_cast<uint32_t>(w.cache_active_timeout.value_or(0));
  s.cache_max_flows = static_cast<uint32_t>(std::min<int64_t>(w.cache_max_flows.value_or(0), 1 << 22));
  // As OVS's bridge.c: input and output sampling are on unless the key
  // says "true" (vswitch.xml: "set this column to true to disable").
  auto disabled = [&w](const char* key) {
    auto it = w.other_config.find(key);
    return it != w.other_config.end() && it->second == "true";
  };
  s.input = !disabled("enable-input-sampling");
  s.output = !disabled("enable-output-sampling");
  for (const std::string& t : w.targets) {
    std::string why;
    auto ep = parse_target(t, exporter::kIpfixPort, &why);
    if (!ep) return bad("targets=\"" + t + "\": " + why);
    s.targets.push_back(ep->str());
  }
  if (s.targets.empty()) return bad("targets: none given");
  return s;
}

IpfixAgent::IpfixAgent(const IpfixSettings& s, uint16_t slot, bool per_flow)
    : s_(s), slot_(slot), per_flow_(per_flow) {
  if (s.caching() && !per_flow)
    cache_ = std::make_unique<exporter::FlowCache>(exporter::FlowCacheConfig{
        .active_timeout_ms = uint64_t{s.cache_active_timeout_s} * 1000,
        .inactive_timeout_ms = uint64_t{s.cache_active_timeout_s} * 1000,
        .capacity = s.cache_max_flows,
        .scale = s.sampling,
        .tcp_end = true});
  std::string error;
  if (!out_.set_collectors(s.targets, &error)) throw std::invalid_argument("IPFIX: " + error);
}

IpfixAgent::~IpfixAgent() {
  if (!cache_) return;
  cache_->flush(&pending_[s_.obs_domain]);  // what the cache holds goes out (flowEndReason 4)
  flush(epoch_ms(), true);
}

void IpfixAgent::add_sample(const ofproto::SampleEvent& e, uint64_t now_epoch_ms) {
  samples_++;
  exporter::FlowFields f = exporter::flow_fields_from_key(e.key);
  const uint32_t out = e.cookie.out;
  f.out_if = (out == datapath::kSampleOutNone || (out & datapath::kSampleOutMultiple)) ? 0 : out;
  // An output sample (OVS's output sampling): an egress record of that port.
  if (e.cookie.flags & datapath::kSampleEgress) f.direction = exporter::kFlowEgress;
  if (cache_) {
    cache_->add(f, e.frame_len, now_epoch_ms, &pending_[s_.obs_domain]);
    return;
  }
  // A sample() action's sample carries its own rate and observation domain.
  const uint32_t scale = per_flow_ ? std::max<uint32_t>(1, e.cookie.arg) : s_.sampling;
  exporter::FlowRecord r;
  r.f = f;
  r.packets = scale;
  r.bytes = uint64_t{e.frame_len} * scale;
  r.start_ms = r.end_ms = now_epoch_ms;
  r.reason = exporter::FlowEndReason::kActiveTimeout;
  pending_[per_flow_ ? e.cookie.obs_domain : s_.obs_domain].push_back(r);
}

// One encoder (template state, sequence) per observation domain, as RFC
// 7011 keeps them.
exporter::IpfixEncoder& IpfixAgent::encoder(uint32_t domain) {
  auto it = enc_.find(domain);
  if (it == enc_.end())
    it = enc_.emplace(domain, exporter::IpfixConfig{.observation_domain = domain, .max_message = 1400,
                                                    .template_refresh_s = 600})
             .first;
  return it->second;
}

unsigned IpfixAgent::flush(uint64_t now_epoch_ms, bool force) {
  if (cache_ && !force) cache_->expire(now_epoch_ms, &pending_[s_.obs_domain]);
  if (!force && now_epoch_ms < last_flush_ms_ + uint64_t{kFlushMs}) return 0;
  last_flush_ms_ = now_epoch_ms;
  unsigned n = 0;
  for (auto& [domain, records] : pending_) {
    for (const auto& m : encoder(domain).encode(records, static_cast<uint32_t>(now_epoch_ms / 1000))) {
      out_.send(m);
      n++;
    }
    records_ += records.size();
  }
  pending_.clear();
  return n;
}

nlohmann::json IpfixAgent::show() const {
  uint64_t messages = 0;
  for (const auto& [domain, e] : enc_) messages += e.messages();
  nlohmann::json j = {{"slot", slot_}, {"samples", samples_}, {"records", records_},
                      {"messages", messages}, {"targets", collectors_json(out_)}};
  if (per_flow_) return j;  // rate and ids come with each sample() action
  j.update({{"sampling", s_.sampling}, {"obs_domain_id", s_.obs_domain}, {"obs_point_id", s_.obs_point},
            {"cache_active_timeout", s_.cache_active_timeout_s}, {"cache_max_flows", s_.cache_max_flows},
            {"input_sampling", s_.input}, {"output_sampling", s_.output}});
  return j;
}

// ---- NetFlow ----------------------------------------------------------------------

std::optional<NetflowSettings> netflow_settings(const NetflowWant& w, std::string* error) {
  NetflowSettings s;
  for (const std::string& t : w.targets) {
    std::string why;
    auto ep = exporter::parse_endpoint(t, &why);  // OVS wants the port
    if (!ep) {
      *error = "NetFlow: targets=\"" + t + "\": " + why;
      return std::nullopt;
    }
    s.targets.push_back(ep->str());
  }
  if (s.targets.empty()) {
    *error = "NetFlow: targets: none given";
    return std::nullopt;
  }
  s.engine_type = static_cast<uint8_t>(w.engine_type.value_or(0));  // the schema bounds both
  s.engine_id = static_cast<uint8_t>(w.engine_id.value_or(0));
  s.active_timeout_s = w.active_timeout == 0 ? kNetflowDefaultActiveTimeout : w.active_timeout;
  if (w.add_id_to_interface) spdlog::warn("NetFlow: add_id_to_interface is recorded, not applied");
  return s;
}

NetflowAgent::NetflowAgent(const NetflowSettings& s, uint64_t now_epoch_ms)
    : s_(s), enc_({.engine_type = s.engine_type, .engine_id = s.engine_id, .sampling_interval = 0,
                   .boot_ms = now_epoch_ms}) {
  std::string error;
  if (!out_.set_collectors(s.targets, &error)) throw std::invalid_argument("NetFlow: " + error);
}

void NetflowAgent::account(const datapath::FlowKey& key, const datapath::DpActions& actions, uint64_t packets,
                           uint64_t bytes, uint64_t now_epoch_ms) {
  exporter::FlowFields f = exporter::flow_fields_from_key(key);
  if (!f.is_ipv4() || !packets) return;  // NetFlow v5 is IPv4 only
  unsigned outputs = 0;
  for (unsigned i = 0; i < actions.n; i += datapath::action_slots(actions.acts[i]))
    if (actions.acts[i].type == datapath::ActType::kOutput && outputs++ == 0) f.out_if = actions.acts[i].arg32;
  if (outputs != 1) f.out_if = 0;  // dropped or several: as OVS, no single output
  Flow& fl = flows_[Key{f.in_if, f.out_if, f.src.v4_host(), f.dst.v4_host(), f.proto, f.tos, f.src_port,
                        f.dst_port}];
  if (!fl.rec.packets) {
    fl.rec.f = f;
    fl.rec.start_ms = now_epoch_ms;
    if (!fl.window_ms) fl.window_ms = now_epoch_ms;
  }
  fl.rec.f.tcp_flags |= f.tcp_flags;
  fl.rec.packets += packets;
  fl.rec.bytes += bytes;
  fl.rec.end_ms = now_epoch_ms;
}

unsigned NetflowAgent::flush(uint64_t now_epoch_ms) {
  if (now_epoch_ms < last_flush_ms_ + uint64_t{kFlushMs}) return 0;
  last_flush_ms_ = now_epoch_ms;
  const uint64_t active_ms = s_.active_timeout_s > 0 ? uint64_t(s_.active_timeout_s) * 1000 : 0;
  for (auto it = flows_.begin(); it != flows_.end();) {
    Flow& fl = it->second;
    const bool idle = now_epoch_ms >= fl.rec.end_ms + kNetflowIdleMs;
    const bool active = active_ms && now_epoch_ms >= fl.window_ms + active_ms;
    if ((idle || active) && fl.rec.packets) {
      fl.rec.reason = idle ? exporter::FlowEndReason::kIdleTimeout : exporter::FlowEndReason::kActiveTimeout;
      pending_.push_back(fl.rec);
      fl.rec.packets = fl.rec.bytes = 0;
      fl.rec.f.tcp_flags = 0;
    }
    if (active) fl.window_ms = now_epoch_ms;
    it = idle ? flows_.erase(it) : std::next(it);
  }
  if (pending_.empty()) return 0;
  unsigned n = 0;
  for (const auto& d : enc_.encode(pending_, now_epoch_ms)) {
    out_.send(d);
    n++;
  }
  records_ += pending_.size();
  datagrams_ += n;
  pending_.clear();
  return n;
}

nlohmann::json NetflowAgent::show() const {
  return {{"engine_type", s_.engine_type}, {"engine_id", s_.engine_id}, {"active_timeout", s_.active_timeout_s},
          {"flows", flows_.size()},        {"records", records_},        {"datagrams", datagrams_},
          {"targets", collectors_json(out_)}};
}

// ---- SamplingAgents ------------------------------------------------------------

SamplingAgents::SamplingAgents(datapath::Datapath& dp, ofproto::BridgeSet& bridges)
    : dp_(dp), bridges_(bridges), slot_used_(datapath::kMaxSampleSlots, false) {
  bridges_.backer().set_flow_stats_hook(
      [this](const datapath::FlowKey& k, const datapath::DpActions& a, uint64_t p, uint64_t b, int64_t) {
        account(k, a, p, b);
      });
}

SamplingAgents::~SamplingAgents() { bridges_.backer().set_flow_stats_hook(nullptr); }

void SamplingAgents::account(const datapath::FlowKey& key, const datapath::DpActions& actions, uint64_t packets,
                             uint64_t bytes) {
  if (!netflow_agents_) return;
  const ofproto::Bridge* b = bridges_.backer().bridges().owner(key.in_port);
  auto it = b ? by_bridge_.find(b->name) : by_bridge_.end();
  if (it != by_bridge_.end() && it->second.netflow.agent)
    it->second.netflow.agent->account(key, actions, packets, bytes, epoch_ms());
}

void SamplingAgents::apply_netflow(const std::string& bridge, PerBridge& pb, const std::optional<NetflowWant>& w,
                                   ofproto::Ofproto& ofp) {
  pb.netflow_want = w;
  ofproto::BridgeSampling bs = ofp.bridge().sampling;
  std::string error;
  std::optional<NetflowSettings> s;
  std::unique_ptr<NetflowAgent> agent;
  if (w && (s = netflow_settings(*w, &error))) {
    try {
      agent = std::make_unique<NetflowAgent>(*s, epoch_ms());
    } catch (const std::invalid_argument& e) {
      error = e.what();
    }
  }
  if (w && !agent) {
    pb.netflow.error = error;
    spdlog::error("reconfigure: bridge {}: {}; NetFlow {}", bridge, error, pb.netflow.agent ? "left as it was" : "off");
    return;
  }
  pb.netflow.error.clear();
  netflow_agents_ += (agent ? 1 : 0) - (pb.netflow.agent ? 1 : 0);
  pb.netflow.agent = std::move(agent);
  bs.netflow = pb.netflow.agent != nullptr;
  if (ofp.set_sampling(bs))
    spdlog::info("reconfigure: bridge {}: NetFlow {}", bridge, bs.netflow ? "on" : "off");
}

IpfixAgent* SamplingAgents::set_agent(const PerBridge& pb, uint16_t slot) {
  for (const auto& [id, sl] : pb.sets)
    if (sl.agent && sl.agent->slot() == slot) return sl.agent.get();
  return nullptr;
}

std::optional<uint16_t> SamplingAgents::take_slot() {
  for (uint16_t i = 0; i < slot_used_.size(); i++)
    if (!slot_used_[i]) {
      slot_used_[i] = true;
      return i;
    }
  return std::nullopt;
}

void SamplingAgents::release(uint16_t slot) {
  slot_used_[slot] = false;
  by_slot_.erase(slot);
}

void SamplingAgents::apply(const BridgeWant& b, ofproto::Ofproto* ofp) {
  auto it = by_bridge_.find(b.name);
  if (!ofp) {  // the bridge goes, and its megaflows with it
    if (it == by_bridge_.end()) return;
    if (it->second.sflow.agent) release(it->second.sflow.agent->slot());
    if (it->second.ipfix.agent) release(it->second.ipfix.agent->slot());
    if (it->second.netflow.agent) netflow_agents_--;
    for (const auto& [id, sl] : it->second.sets)
      if (sl.agent) release(sl.agent->slot());
    by_bridge_.erase(it);
    return;
  }
  PerBridge& pb = by_bridge_[b.name];
  if (pb.sflow_want != b.sflow) {
    pb.sflow_want = b.sflow;
    std::string error;
    std::optional<SflowSettings> s;
    if (b.sflow) s = sflow_settings(*b.sflow, &error);
    reconfigure(b.name, "sFlow", pb.sflow, b.sflow.has_value(), error,
                [&](uint16_t slot) { return std::make_unique<SflowAgent>(*s, slot, dp_); },
                {s ? s->sampling : 0, 0, 0, 0}, &ofproto::BridgeSampling::sflow, *ofp, &pb);
  }
  if (pb.ipfix_want != b.ipfix) {
    pb.ipfix_want = b.ipfix;
    std::string error;
    std::optional<IpfixSettings> s;
    if (b.ipfix) s = ipfix_settings(*b.ipfix, &error);
    reconfigure(b.name, "IPFIX", pb.ipfix, b.ipfix.has_value(), error,
                [&](uint16_t slot) { return std::make_unique<IpfixAgent>(*s, slot); },
                {s ? s->sampling : 0, 0, s ? s->obs_domain : 0, s ? s->obs_point : 0, s ? s->input : true,
                 s ? s->output : false},
                &ofproto::BridgeSampling::ipfix, *ofp, &pb);
  }
  if (pb.netflow_want != b.netflow) apply_netflow(b.name, pb, b.netflow, *ofp);
  apply_flow_sets(b.name, pb, b.flow_sample_sets, *ofp);
}

template <typename Agent, typename Make>
bool SamplingAgents::replace_agent(const std::string& bridge, const std::string& what, Slotted<Agent>& sl,
                                   std::string error, Make make, PerBridge* pb) {
  std::optional<uint16_t> slot = sl.agent ? std::optional<uint16_t>(sl.agent->slot()) : std::nullopt;
  if (error.empty() && !slot && !(slot = take_slot()))
    error = what + ": no free datapath sampler (all in use)";
  std::unique_ptr<Agent> agent;
  if (error.empty()) {
    try {
      agent = make(*slot);
    } catch (const std::invalid_argument& e) {
      error = e.what();
      if (!sl.agent) slot_used_[*slot] = false;
    }
  }
  if (!agent) {
    sl.error = error;
    spdlog::error("reconfigure: bridge {}: {}; {} {}", bridge, error, what, sl.agent ? "left as it was" : "off");
    return false;
  }
  sl.error.clear();
  sl.agent = std::move(agent);  // the old one (same slot) flushes what it holds
  by_slot_[*slot] = pb;
  return true;
}

template <typename Agent, typename Make>
void SamplingAgents::reconfigure(const std::string& bridge, const char* what, Slotted<Agent>& sl, bool on,
                                 std::string error, Make make, ofproto::BridgeSampler sampler,
                                 ofproto::BridgeSampler ofproto::BridgeSampling::*field, ofproto::Ofproto& ofp,
                                 PerBridge* pb) {
  ofproto::BridgeSampling bs = ofp.bridge().sampling;
  if (!on) {
    sl.error.clear();
    if (!sl.agent) return;
    release(sl.agent->slot());
    sl.agent.reset();
    bs.*field = {};
    ofp.set_sampling(bs);
    spdlog::info("reconfigure: bridge {}: {} off", bridge, what);
    return;
  }
  if (!replace_agent(bridge, what, sl, std::move(error), make, pb)) return;
  sampler.slot = sl.agent->slot();
  bs.*field = sampler;
  ofp.set_sampling(bs);
  spdlog::info("reconfigure: bridge {}: {} at 1 in {} (datapath sampler {})", bridge, what, sampler.rate,
               sampler.slot);
}

// Flow_Sample_Collector_Set rows: one per-flow IPFIX agent each; the
// bridge's flow_sets name their slots for sample() actions.
void SamplingAgents::apply_flow_sets(const std::string& bridge, PerBridge& pb,
                                     const std::map<uint32_t, IpfixWant>& wants, ofproto::Ofproto& ofp) {
  if (pb.set_wants == wants) return;
  for (auto it = pb.sets.begin(); it != pb.sets.end();) {  // gone first: their slots are free again
    if (wants.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.agent) release(it->second.agent->slot());
    spdlog::info("reconfigure: bridge {}: Flow_Sample_Collector_Set {} off", bridge, it->first);
    it = pb.sets.erase(it);
  }
  for (const auto& [id, w] : wants) {
    auto was = pb.set_wants.find(id);
    if (was != pb.set_wants.end() && was->second == w) continue;
    std::string error;
    std::optional<IpfixSettings> s = ipfix_settings(w, &error);
    const std::string what = "Flow_Sample_Collector_Set " + std::to_string(id);
    if (replace_agent(bridge, what, pb.sets[id], error,
                      [&](uint16_t slot) { return std::make_unique<IpfixAgent>(*s, slot, true); }, &pb))
      spdlog::info("reconfigure: bridge {}: {} exports sample() actions (datapath sampler {})", bridge, what,
                   pb.sets[id].agent->slot());
  }
  pb.set_wants = wants;
  ofproto::BridgeSampling bs = ofp.bridge().sampling;
  bs.flow_sets.clear();
  for (const auto& [id, sl] : pb.sets)
    if (sl.agent) bs.flow_sets[id] = sl.agent->slot();
  ofp.set_sampling(bs);
}

unsigned SamplingAgents::run(int64_t now_ms) {
  if (by_bridge_.empty()) return 0;
  std::vector<ofproto::SampleEvent> events = bridges_.backer().handler().take_samples();
  const uint64_t now_epoch = epoch_ms();
  for (const ofproto::SampleEvent& e : events) {
    auto it = by_slot_.find(e.slot);
    PerBridge* pb = it == by_slot_.end() ? nullptr : it->second;
    SflowAgent* sf = pb ? pb->sflow.agent.get() : nullptr;
    IpfixAgent* ip = pb ? pb->ipfix.agent.get() : nullptr;
    if (e.cookie.kind == datapath::SampleKind::kSflow && sf && sf->slot() == e.slot) sf->add_sample(e);
    else if (e.cookie.kind == datapath::SampleKind::kIpfixBridge && ip && ip->slot() == e.slot)
      ip->add_sample(e, now_epoch);
    else if (IpfixAgent* fs = e.cookie.kind == datapath::SampleKind::kIpfixFlow && pb ? set_agent(*pb, e.slot) : nullptr)
      fs->add_sample(e, now_epoch);
    else unclaimed_++;
  }
  unsigned work = static_cast<unsigned>(events.size());
  for (auto& [name, pb] : by_bridge_) {
    if (pb.sflow.agent) {
      if (const ofproto::Ofproto* ofp = bridges_.find(name)) pb.sflow.agent->poll(*ofp, now_ms);
      work += pb.sflow.agent->flush(now_ms);
    }
    if (pb.ipfix.agent) work += pb.ipfix.agent->flush(now_epoch);
    for (auto& [id, sl] : pb.sets)
      if (sl.agent) work += sl.agent->flush(now_epoch);
    if (pb.netflow.agent) work += pb.netflow.agent->flush(now_epoch);
  }
  return work;
}

// {bridge, status: on|error, error?, the agent's figures}.
template <typename Agent>
nlohmann::json SamplingAgents::slotted_json(const std::string& bridge, const Slotted<Agent>& sl) {
  nlohmann::json j = {{"bridge", bridge}, {"status", sl.agent ? "on" : "error"}};
  if (!sl.error.empty()) j["error"] = sl.error;
  if (sl.agent) j.update(sl.agent->show());
  return j;
}

template <typename Agent, typename Want>
nlohmann::json SamplingAgents::show_kind(const std::optional<Want> PerBridge::*want,
                                         const Slotted<Agent> PerBridge::*sampler) const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, pb] : by_bridge_) {
    if (!(pb.*want)) continue;
    out.push_back(slotted_json(name, pb.*sampler));
  }
  return out;
}

nlohmann::json SamplingAgents::show_sflow() const { return show_kind(&PerBridge::sflow_want, &PerBridge::sflow); }
// The bridges' IPFIX rows, then their Flow_Sample_Collector_Sets.
nlohmann::json SamplingAgents::show_ipfix() const {
  nlohmann::json out = show_kind(&PerBridge::ipfix_want, &PerBridge::ipfix);
  for (const auto& [name, pb] : by_bridge_)
    for (const auto& [id, sl] : pb.sets) {
      out.push_back(slotted_json(name, sl));
      out.back()["collector_set_id"] = id;
    }
  return out;
}
nlohmann::json SamplingAgents::show_netflow() const {
  return show_kind(&PerBridge::netflow_want, &PerBridge::netflow);
}

void attach_sampling(SamplingAgents& s, ofproto::BridgeSet& bridges, ConfigDaemon& confd) {
  if (!confd.enabled()) return;
  for (const auto& [name, b] : confd.reconciler().applied_bridges())
    if (auto* o = bridges.find(name)) s.apply(b, o);
  confd.reconciler().set_sampling_hook([&s](const BridgeWant& b, ofproto::Ofproto* o) { s.apply(b, o); });
  confd.set_sampling(&s);
}

void detach_sampling(ConfigDaemon& confd) {
  confd.set_sampling(nullptr);
  if (confd.enabled()) confd.reconciler().set_sampling_hook(nullptr);
}

}  // namespace dps::daemon
