#include "upcall_handler.h"

#include <rte_mbuf.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>

namespace dps::ofproto {

using datapath::DpActions;
using datapath::FlowKey;
using datapath::Upcall;
using datapath::UpcallReason;

namespace {

// Open-addressing table: twice the batch, so probes stay short.
constexpr uint32_t kGroupSlots = 2 * kUpcallBatch;
// Upcalls drained from one PMD per dequeue call.
constexpr unsigned kDrainBurst = 64;
// ufids of megaflows installed by the miss path start here, far above the
// small numbers a config file's static datapath flows use.
constexpr uint64_t kFirstUfid = uint64_t{1} << 40;

uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void DatapathDp::free_packets(rte_mbuf* const* pkts, unsigned n) {
  if (n) rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(pkts), n);
}

UpcallHandler::UpcallHandler(const BridgeMap& bridges, UkeyTable& ukeys, DpInterface& dp,
                             ControllerEventTable& events, const UpcallConfig& cfg)
    : bridges_(bridges),
      ukeys_(ukeys),
      dp_(dp),
      events_(events),
      cfg_(cfg),
      next_ufid_(kFirstUfid),
      ups_(kUpcallBatch),
      next_(kUpcallBatch),
      slots_(kGroupSlots, 0),
      tokens_(cfg.packet_in_burst) {
  groups_.reserve(kUpcallBatch);
  used_slots_.reserve(kUpcallBatch);
}

unsigned UpcallHandler::run(int64_t now_ms) {
  // Phase kDrain.
  unsigned n = 0;
  for (unsigned p = 0; p < dp_.n_pmds() && n < kUpcallBatch; p++) {
    for (;;) {
      unsigned want = std::min(kDrainBurst, kUpcallBatch - n);
      unsigned got = dp_.drain_upcalls(p, ups_.data() + n, want);
      n += got;
      if (got < want || n == kUpcallBatch) break;
    }
  }
  if (!n) return 0;
  // Two clock reads (wall and thread CPU) per round of up to kUpcallBatch
  // upcalls, none per miss.
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t cpu0 = thread_cpu_ns();
  stats_.upcalls += n;
  // Phase kGroup (userspace upcalls are handled one by one on the way).
  group_misses(n, now_ms);
  // Phases kTranslate, kInstall, kExecute.
  for (const Group& g : groups_) handle_miss(g, now_ms);
  stats_.busy_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  stats_.cpu_ns += thread_cpu_ns() - cpu0;
  return n;
}

void UpcallHandler::group_misses(unsigned n, int64_t now_ms) {
  groups_.clear();
  for (uint32_t s : used_slots_) slots_[s] = 0;
  used_slots_.clear();
  for (unsigned i = 0; i < n; i++) {
    const Upcall& u = ups_[i];
    if (u.reason == UpcallReason::kUserspace) {
      handle_userspace(u, now_ms);
      continue;
    }
    if (u.reason == UpcallReason::kSample) {
      handle_sample(u);
      continue;
    }
    next_[i] = UINT32_MAX;
    uint32_t s = (u.hash ^ (uint32_t{u.pmd} * 0x9e3779b1u)) & (kGroupSlots - 1);
    for (;;) {
      uint32_t g = slots_[s];
      if (g == 0) {
        slots_[s] = static_cast<uint32_t>(groups_.size()) + 1;
        used_slots_.push_back(s);
        groups_.push_back(Group{i, i, 1});
        break;
      }
      Group& grp = groups_[g - 1];
      const Upcall& f = ups_[grp.first];
      if (f.hash == u.hash && f.pmd == u.pmd && datapath::flow_key_equal(f.key, u.key)) {
        next_[grp.last] = i;
        grp.last = i;
        grp.n++;
        break;
      }
      s = (s + 1) & (kGroupSlots - 1);
    }
  }
  stats_.misses += groups_.size();
}

void UpcallHandler::execute(const Group& g, const DpActions& actions, uint32_t from) {
  const Upcall& first = ups_[g.first];
  rte_mbuf* pkts[netdev::kMaxBurst];
  unsigned k = 0;
  for (uint32_t i = from; i != UINT32_MAX; i = next_[i]) {
    pkts[k++] = ups_[i].pkt;
    if (k == netdev::kMaxBurst || next_[i] == UINT32_MAX) {
      if (actions.n == 0) {
        dp_.free_packets(pkts, k);  // drop: no need to bother the PMD
      } else if (!dp_.post_execute(first.pmd, first.key.in_port, pkts, k, actions)) {
        stats_.execute_failures += k;  // the datapath freed them
      }
      k = 0;
    }
  }
}

void UpcallHandler::handle_miss(const Group& g, int64_t now_ms) {
  const Upcall& u = ups_[g.first];
  uint64_t bytes = 0;
  for (uint32_t i = g.first; i != UINT32_MAX; i = next_[i]) bytes += rte_pktmbuf_pkt_len(ups_[i].pkt);

  if (restore_wait_) {
    stats_.restore_wait_drops += g.n;
    execute(g, DpActions{});
    return;
  }
  // A megaflow for this key is already on its way to the PMD (the PMD
  // missed again before applying the install): no translation, no install.
  if (Ukey* uk = ukeys_.find_covering(u.pmd, u.key)) {
    stats_.covered++;
    for (const RulePtr& r : uk->rules) r->account(g.n, bytes, now_ms);
    account_visits(uk->visits, g.n);  // ukeys only name live bridges
    account_mirrors(uk->mirrors, g.n, bytes);
    if (stats_hook_) stats_hook_(u.key, uk->actions, g.n, bytes, now_ms);
    execute(g, uk->actions);
    return;
  }
  Bridge* bridge = bridges_.find(u.key.in_port);
  if (!bridge) {  // no bridge at all: nothing can forward it
    execute(g, DpActions{});
    return;
  }

  XlateOptions o;
  o.now_ms = now_ms;
  o.may_learn = true;
  o.account = true;
  o.packets = g.n;
  o.bytes = bytes;
  XlateResult r = xlate(*bridge, u.key, o);
  stats_.xlates++;
  if (r.limit_drop) stats_.xlate_limit_drops += g.n;
  if (!r.error.empty()) {
    // Installed as a drop megaflow, so that the flow's packets stop
    // reaching the slow path; the error is logged (rate-limited by count).
    if (stats_.xlate_errors++ < 16 || stats_.xlate_errors % 10000 == 0)
      spdlog::warn("{}: translation failed for {}: {}", bridge->name,
                   datapath::flow_key_format(u.key), r.error);
  }
  events_.rewrite(&r.actions, r.controller);
  if (stats_hook_) stats_hook_(u.key, r.actions, g.n, bytes, now_ms);  // not counted by the megaflow

  alignas(64) FlowKey masked;
  datapath::flow_key_apply_mask(u.key, r.mask, &masked);
  // find_covering above probed every mask in use unless there are more than
  // kMaxCoverMasks: an equal megaflow (same mask, same masked key) would
  // have been found there, so the exact lookup is needed only then.
  if (ukeys_.n_masks() > kMaxCoverMasks && ukeys_.find(u.pmd, masked, r.mask)) {
    stats_.covered++;
    execute(g, r.actions);
    return;
  }
  if (ukeys_.size() >= cfg_.flow_limit) {
    stats_.flow_limit_hits++;
    execute(g, r.actions);
    return;
  }
  auto uk = std::make_unique<Ukey>();
  uk->ufid = next_ufid_++;
  uk->pmd = u.pmd;
  uk->key = u.key;
  uk->masked = masked;
  uk->mask = r.mask;
  uk->actions = r.actions;
  uk->created_ms = uk->used_ms = now_ms;
  datapath::FlowSpec spec;
  spec.key = masked;
  spec.mask = r.mask;
  spec.actions = r.actions;
  spec.ufid = uk->ufid;
  if (r.actions.n == 0) {
    // A drop megaflow: the packets need no trip to the PMD.
    int rc = dp_.post_install(u.pmd, spec);
    execute(g, r.actions);
    if (rc != 0) {
      install_failed(u.pmd, rc, masked, r.mask);
      return;
    }
  } else {
    // One command installs the megaflow and runs the group's first (up to)
    // 32 packets with its actions; the rest, if any, follow as executes.
    rte_mbuf* pkts[netdev::kMaxBurst];
    unsigned k = 0;
    uint32_t i = g.first;
    for (; i != UINT32_MAX && k < netdev::kMaxBurst; i = next_[i]) pkts[k++] = ups_[i].pkt;
    int rc = dp_.post_install_execute(u.pmd, spec, u.key.in_port, pkts, k);
    if (rc == -EAGAIN) stats_.execute_failures += k;  // the datapath freed them
    if (i != UINT32_MAX) execute(g, r.actions, i);
    if (rc != 0) {
      install_failed(u.pmd, rc, masked, r.mask);
      return;
    }
  }
  stats_.installs++;
  ukeys_.insert(std::move(uk), std::move(r));
}

void UpcallHandler::install_failed(uint16_t pmd, int rc, const FlowKey& masked,
                                   const datapath::FlowMask& mask) {
  // -EAGAIN: the PMD's command backlog is full (it is far behind); the next
  // miss of the flow tries again. Not worth a warning.
  if (stats_.install_failures++ < 16 && rc != -EAGAIN)
    spdlog::warn("megaflow install on PMD {} failed ({}): {}", pmd, rc,
                 datapath::flow_key_format(masked, &mask));
}

bool UpcallHandler::admit_packet_in(int64_t now_ms) {
  if (now_ms > tokens_ms_) {
    tokens_ = std::min(cfg_.packet_in_burst,
                       tokens_ + cfg_.packet_in_rate * static_cast<double>(now_ms - tokens_ms_) / 1000.0);
    tokens_ms_ = now_ms;
  }
  if (tokens_ < 1) {
    stats_.packet_ins_rate_dropped++;
    return false;
  }
  if (packet_ins_.size() >= cfg_.packet_in_queue) {
    stats_.packet_ins_queue_dropped++;
    return false;
  }
  tokens_ -= 1;
  return true;
}

void UpcallHandler::handle_userspace(const Upcall& u, int64_t now_ms) {
  stats_.userspace++;
  if (u.cookie == ControllerEventTable::kSlowProtocol) return slow_protocol(u);
  const ControllerEvent* e = events_.get(u.cookie);
  const Bridge* entry = bridges_.owner(u.key.in_port);
  const BridgePort* in = entry ? entry->port_by_dp(u.key.in_port) : nullptr;
  // The bridge whose table sent it (events name it; a bridge removed since
  // gets nothing).
  const Bridge* to = e && e->bridge ? bridges_.live(e->bridge) : entry;
  if (e && in && to && admit_packet_in(now_ms)) {
    PacketInEvent pi;
    pi.bridge = to;
    pi.reason = e->reason;
    pi.table_id = e->table_id;
    pi.cookie = e->cookie;
    pi.in_port = e->bridge ? e->in_port : in->of_port;
    const rte_mbuf* m = u.pkt;
    pi.total_len = rte_pktmbuf_pkt_len(m);
    pi.max_len = e->max_len;
    pi.use_miss_send_len = e->use_miss_send_len;
    if (u.key.ext_words) pi.tunnel = u.key;
    // The whole frame (all segments): the channel sends max_len of it and
    // buffers it for a PACKET_OUT/FLOW_MOD naming the buffer id.
    pi.data.resize(pi.total_len);
    const void* d = rte_pktmbuf_read(m, 0, pi.total_len, pi.data.data());
    if (d && d != pi.data.data()) std::memcpy(pi.data.data(), d, pi.total_len);
    packet_ins_.push_back(std::move(pi));
    stats_.packet_ins++;
  }
  rte_mbuf* pkt = u.pkt;
  dp_.free_packets(&pkt, 1);
}

void UpcallHandler::handle_sample(const Upcall& u) {
  if (samples_.size() >= cfg_.sample_queue) {
    stats_.samples_dropped++;
  } else {
    SampleEvent& e = samples_.emplace_back();
    e.slot = static_cast<uint16_t>(u.cookie);
    e.cookie = u.sample;
    e.in_port = u.key.in_port;
    e.frame_len = rte_pktmbuf_pkt_len(u.pkt);
    e.header.resize(std::min(e.frame_len, kSampleHeaderMax));
    const void* d = rte_pktmbuf_read(u.pkt, 0, static_cast<uint32_t>(e.header.size()), e.header.data());
    if (d && d != e.header.data()) std::memcpy(e.header.data(), d, e.header.size());
    e.key = u.key;
    stats_.samples++;
  }
  rte_mbuf* pkt = u.pkt;
  dp_.free_packets(&pkt, 1);
}

// LACP on a bond member: to the bridge's slow path, never to a controller.
void UpcallHandler::slow_protocol(const Upcall& u) {
  stats_.slow_protocol++;
  const rte_mbuf* m = u.pkt;
  std::vector<uint8_t> frame(rte_pktmbuf_pkt_len(m));
  const void* d = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(frame.size()), frame.data());
  if (d && d != frame.data()) std::memcpy(frame.data(), d, frame.size());
  if (d && slow_rx_) slow_rx_(u.key.in_port, frame);
  rte_mbuf* pkt = u.pkt;
  dp_.free_packets(&pkt, 1);
}

std::vector<SampleEvent> UpcallHandler::take_samples() {
  std::vector<SampleEvent> out;
  out.swap(samples_);
  return out;
}

std::vector<PacketInEvent> UpcallHandler::take_packet_ins(const Bridge* b, size_t max) {
  std::vector<PacketInEvent> out;
  // One bridge's packet-ins are taken out of the shared queue in order; the
  // others keep theirs (the queue is bounded, so the scan is too).
  for (auto it = packet_ins_.begin(); it != packet_ins_.end() && out.size() < max;) {
    if (b && it->bridge != b) {
      ++it;
      continue;
    }
    out.push_back(std::move(*it));
    it = packet_ins_.erase(it);
  }
  return out;
}

void UpcallHandler::drop_packet_ins(const Bridge* b) {
  std::erase_if(packet_ins_, [b](const PacketInEvent& pi) { return pi.bridge == b; });
}

}  // namespace dps::ofproto
