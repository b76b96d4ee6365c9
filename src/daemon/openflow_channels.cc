#include "openflow_channels.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "connmgr.h"
#include "ofproto.h"
#include "config_daemon.h"

namespace dps::daemon {

uint64_t bridge_datapath_id(const std::string& bridge, const std::string& startup_bridge) {
  if (bridge == startup_bridge) return ofproto::HandlerConfig{}.datapath_id;
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bridge) h = (h ^ c) * 0x100000001b3ull;
  return (h & 0xffff'ffff'ffffull) | 2;  // never 1 (the start-up bridge)
}

OpenFlowChannels::OpenFlowChannels(std::vector<std::string> startup_targets, std::string startup_bridge)
    : startup_targets_(std::move(startup_targets)), startup_bridge_(std::move(startup_bridge)) {}

OpenFlowChannels::~OpenFlowChannels() = default;

ofproto::ConnectionManager& OpenFlowChannels::manager(ofproto::Ofproto& ofp) {
  const std::string& name = ofp.bridge().name;
  auto& cm = managers_[name];
  if (!cm) {
    ofproto::ConnMgrConfig cc;
    if (name == startup_bridge_) cc.targets = startup_targets_;
    cc.handler.sw_desc = ConfigDaemon::version();
    cc.handler.datapath_id = bridge_datapath_id(name, startup_bridge_);
    cm = std::make_unique<ofproto::ConnectionManager>(ofp, cc);
  }
  return *cm;
}

void OpenFlowChannels::attach(ofproto::BridgeSet& bridges, ConfigDaemon& confd) {
  // (The first reconciliation may have removed the start-up bridge: the
  // store decides.)
  if (auto* start = bridges.find(startup_bridge_); start && !startup_targets_.empty()) manager(*start);
  if (!confd.enabled()) return;
  for (const auto& [name, b] : confd.reconciler().applied_bridges())
    if (auto* o = bridges.find(name)) apply(b, o);
  confd.reconciler().set_openflow_hook([this](const BridgeWant& b, ofproto::Ofproto* o) { apply(b, o); });
}

void OpenFlowChannels::apply(const BridgeWant& b, ofproto::Ofproto* ofp) {
  if (!ofp) {
    if (managers_.erase(b.name)) spdlog::info("bridge {}: OpenFlow connections closed", b.name);
    return;
  }
  std::vector<std::string> targets;
  if (b.name == startup_bridge_) targets = startup_targets_;
  for (const std::string& c : b.controllers)
    if (std::find(targets.begin(), targets.end(), c) == targets.end()) targets.push_back(c);
  try {
    ofproto::ConnectionManager& cm = manager(*ofp);
    cm.set_targets(targets);
    cm.set_fail_mode(b.fail_mode);
    cm.handler().set_protocols(b.protocols);
  } catch (const std::exception& e) {
    spdlog::error("bridge {}: controller/fail_mode not applied: {}", b.name, e.what());
  }
}

unsigned OpenFlowChannels::run() {
  unsigned work = 0;
  for (auto& [name, cm] : managers_) work += cm->run();
  return work;
}

void OpenFlowChannels::clear() { managers_.clear(); }

}  // namespace dps::daemon
