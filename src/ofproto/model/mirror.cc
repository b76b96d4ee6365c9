#include "mirror.h"

#include <algorithm>

namespace dps::ofproto {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool MirrorSet::configure(std::vector<MirrorConfig> cfgs, const std::map<std::string, uint32_t>& ports) {
  if (cfgs == cfgs_) return false;
  cfgs_ = std::move(cfgs);
  // Counters of rows that are gone go with them.
  std::map<std::string, std::shared_ptr<MirrorCounters>> kept;
  for (const MirrorConfig& c : cfgs_) {
    const std::string& key = c.uuid.empty() ? c.name : c.uuid;
    if (auto it = counters_.find(key); it != counters_.end()) kept.insert(*it);
  }
  counters_ = std::move(kept);
  resolve(ports);
  return true;
}

// Why c cannot apply ("" when it can), in OVS's terms.
std::string MirrorSet::check(const MirrorConfig& c, const std::map<std::string, uint32_t>& ports) const {
  const std::string m = "mirror " + c.name + ": ";
  if (!c.output_port.empty() && c.output_vlan)
    return m + "both output_port (" + c.output_port + ") and output_vlan (" + std::to_string(*c.output_vlan) +
           ") are set; a mirror has one destination";
  if (c.output_port.empty() && !c.output_vlan) return m + "neither output_port nor output_vlan is set";
  if (!c.output_port.empty()) {
    if (!ports.count(c.output_port)) return m + "output_port " + c.output_port + " is not a port of this bridge";
    if (contains(c.select_src_port, c.output_port) || contains(c.select_dst_port, c.output_port))
      return m + "output_port " + c.output_port + " is also selected (select_src_port / select_dst_port)";
  }
  if (mirrors_.size() >= kMaxMirrors)
    return m + "more than " + std::to_string(kMaxMirrors) + " mirrors on one bridge";
  return "";
}

std::shared_ptr<MirrorCounters> MirrorSet::counters_for(const MirrorConfig& c) {
  auto& slot = counters_[c.uuid.empty() ? c.name : c.uuid];
  if (!slot) slot = std::make_shared<MirrorCounters>();
  return slot;
}

void MirrorSet::resolve(const std::map<std::string, uint32_t>& ports) {
  mirrors_.clear();
  ports_.clear();
  errors_.assign(cfgs_.size(), "");
  for (size_t i = 0; i < cfgs_.size(); i++) {
    errors_[i] = check(cfgs_[i], ports);
    if (errors_[i].empty()) add(i, ports);
  }
  select_all_ports(ports);
  // Mirrors with one destination share their bits.
  for (Mirror& a : mirrors_)
    for (size_t j = 0; j < mirrors_.size(); j++)
      if (mirrors_[j].out_port == a.out_port && mirrors_[j].out_vlan == a.out_vlan) a.dups |= MirrorMask{1} << j;
}

void MirrorSet::add(size_t index, const std::map<std::string, uint32_t>& ports) {
  const MirrorConfig& c = cfgs_[index];
  const MirrorMask bit = MirrorMask{1} << mirrors_.size();
  Mirror m;
  m.cfg = index;
  if (!c.output_port.empty()) m.out_port = ports.at(c.output_port);
  m.out_vlan = c.output_vlan.value_or(0);
  m.vlans.insert(c.select_vlan.begin(), c.select_vlan.end());
  m.counters = counters_for(c);
  if (m.out_port) ports_[m.out_port].output = true;
  // Selected ports not on this bridge select nothing (weak references).
  for (const std::string& n : c.select_src_port)
    if (auto it = ports.find(n); it != ports.end()) ports_[it->second].src |= bit;
  for (const std::string& n : c.select_dst_port)
    if (auto it = ports.find(n); it != ports.end()) ports_[it->second].dst |= bit;
  mirrors_.push_back(std::move(m));
}

// select_all: every port that is not a mirror output port.
void MirrorSet::select_all_ports(const std::map<std::string, uint32_t>& ports) {
  MirrorMask all = 0;
  for (size_t i = 0; i < mirrors_.size(); i++)
    if (cfgs_[mirrors_[i].cfg].select_all) all |= MirrorMask{1} << i;
  if (!all) return;
  for (const auto& [name, no] : ports) {
    if (is_output(no)) continue;
    PortMirrors& p = ports_[no];
    p.src |= all;
    p.dst |= all;
  }
}

std::vector<MirrorStatus> MirrorSet::status() const {
  std::vector<MirrorStatus> out;
  for (size_t i = 0; i < cfgs_.size(); i++) {
    MirrorStatus s{cfgs_[i].uuid, cfgs_[i].name, errors_[i]};
    auto it = counters_.find(cfgs_[i].uuid.empty() ? cfgs_[i].name : cfgs_[i].uuid);
    if (it != counters_.end()) {
      s.tx_packets = it->second->tx_packets;
      s.tx_bytes = it->second->tx_bytes;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<uint32_t> MirrorSet::output_ports() const {
  std::vector<uint32_t> out;
  for (const auto& [no, p] : ports_)
    if (p.output) out.push_back(no);
  return out;
}

}  // namespace dps::ofproto
