#include "dp_backer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>


namespace dps::ofproto {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DpBacker::DpBacker(datapath::Datapath& dp, BackerConfig cfg)
    : DpBacker(std::make_unique<DatapathDp>(dp), std::move(cfg)) {
  real_dp_ = &dp;
}

DpBacker::DpBacker(std::unique_ptr<DpInterface> dp, BackerConfig cfg)
    : cfg_(std::move(cfg)), dp_(std::move(dp)), tnl_(std::make_unique<TunnelContext>(bridges_)) {
  UpcallConfig uc = cfg_.upcall;
  uc.flow_limit = cfg_.flow_limit;
  handler_ = std::make_unique<UpcallHandler>(bridges_, ukeys_, *dp_, events_, uc);
  revalidator_ = std::make_unique<Revalidator>(bridges_, ukeys_, *dp_, events_, cfg_.flow_idle_ms);
  revalidator_->set_tunnels(tnl_.get());
  handler_->set_slow_protocol_rx([this](uint32_t dp_port, std::span<const uint8_t> frame) {
    if (BackerBridge* b = ofproto_of_port(dp_port)) b->slow_protocol_rx(dp_port, frame);
  });
}

int DpBacker::alloc_bond_id() {
  for (uint32_t i = 0; i < bond_ids_.size(); i++)
    if (!bond_ids_[i]) {
      bond_ids_[i] = true;
      return static_cast<int>(i);
    }
  return -1;
}

void DpBacker::free_bond_id(uint32_t id) {
  if (id < bond_ids_.size()) bond_ids_[id] = false;
}

DpBacker::~DpBacker() = default;

int64_t DpBacker::now_ms() const { return cfg_.clock ? cfg_.clock() : steady_ms(); }

void DpBacker::attach(BackerBridge& ofp) {
  if (std::find(ofprotos_.begin(), ofprotos_.end(), &ofp) != ofprotos_.end()) return;
  ofprotos_.push_back(&ofp);
  bridges_.add_bridge(&ofp.bridge());
  ofp.bridge().tnl = tnl_.get();
  tnl_->ports_changed();
}

void DpBacker::detach(BackerBridge& ofp) {
  auto it = std::find(ofprotos_.begin(), ofprotos_.end(), &ofp);
  if (it == ofprotos_.end()) return;
  Bridge& b = ofp.bridge();
  // Megaflows that entered through the bridge or crossed it, while its
  // ports are still mapped (so they are recognized as its).
  size_t n = revalidator_->forget_bridge(b, now_ms());
  handler_->drop_packet_ins(&b);
  bridges_.remove_bridge(&b);
  ofprotos_.erase(it);
  b.tnl = nullptr;
  tnl_->neigh().flush(b.name);
  tnl_->ports_changed();
  // Other bridges' patch ports into this one lose their peer: remove them
  // (each re-translates what is left).
  for (BackerBridge* o : ofprotos_) {
    std::vector<uint32_t> dangling;
    for (const auto& [no, bp] : o->bridge().ports)
      if (bp.peer_bridge == &b) dangling.push_back(no);
    for (uint32_t no : dangling) {
      spdlog::info("{}: patch port {} lost its peer bridge {}", o->bridge().name, no, b.name);
      o->remove_port(no);
    }
  }
  if (n) spdlog::info("{}: removed {} megaflow(s) with the bridge", b.name, n);
}

void DpBacker::map_port(uint32_t dp_port, BackerBridge& ofp) {
  bridges_.set_port(dp_port, &ofp.bridge());
  tnl_->ports_changed();
}

void DpBacker::unmap_port(uint32_t dp_port, const BackerBridge& ofp) {
  bridges_.erase_port(dp_port, &ofp.bridge());
  tnl_->ports_changed();
}

BackerBridge* DpBacker::ofproto_of(const Bridge* b) const {
  for (BackerBridge* o : ofprotos_)
    if (&o->bridge() == b) return o;
  return nullptr;
}

BackerBridge* DpBacker::ofproto_of_port(uint32_t dp_port) const {
  const Bridge* b = bridges_.owner(dp_port);
  return b ? ofproto_of(b) : nullptr;
}

unsigned DpBacker::run() {
  int64_t now = now_ms();
  unsigned work = handler_->run(now);
  work += dp_->poll();
  for (const datapath::InstallFailure& f : dp_->take_failed_installs()) {
    Ukey* u = ukeys_.find_ufid(f.ufid);
    if (u && u->pmd == f.pmd) ukeys_.erase(u);  // the datapath already forgot it
  }
  for (BackerBridge* o : ofprotos_) work += o->run_bridge(now);
  work += run_tunnels(now);
  if (!pass_running_ && now >= next_pass_ms_) {
    pass_running_ = true;
    next_pass_ms_ = now + std::clamp<int64_t>(revalidator_->idle_ms() / 4, 1, 1000);
  }
  if (pass_running_ && revalidator_->sweep(now)) pass_running_ = false;
  return work;
}

unsigned DpBacker::run_tunnels(int64_t now) {
  tnl_->run(now);
  if (!tnl_->has_work()) return 0;
  unsigned work = 0;
  TnlChanges c = tnl_->take_changes();
  if (!c.empty()) work += 1 + static_cast<unsigned>(revalidator_->on_tunnel_changes(c, now));
  for (const TnlRequest& r : tnl_->take_requests()) {
    send_request(r);
    work++;
  }
  return work;
}

void DpBacker::send_request(const TnlRequest& r) {
  for (BackerBridge* o : ofprotos_) {
    if (o->bridge().name != r.bridge) continue;
    MaybeError e = o->packet_out(r.of_in_port, r.frame, ActionList{ActOutput{kPortTable}});
    if (e && (request_errors_++ < 16 || request_errors_ % 10000 == 0))
      spdlog::warn("{}: neighbour request not sent: {}", r.bridge, e->message);
    return;
  }
}

void DpBacker::set_flow_idle_ms(int64_t ms) {
  revalidator_->set_idle_ms(ms);
  next_pass_ms_ = 0;
}

}  // namespace dps::ofproto
