#include "pmd_channel.h"

#include <rte_mbuf.h>
#include <rte_pause.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <thread>

#include "meter.h"

namespace dps::datapath {

PmdChannel::PmdChannel(const std::vector<std::unique_ptr<PmdThread>>& pmds,
                       InstallFailed on_failed)
    : pmds_(pmds), on_failed_(std::move(on_failed)) {
  reset();
}

PmdChannel::~PmdChannel() {
  for (PmdCommand* c : free_) delete c;
}

void PmdChannel::reset() {
  side_.clear();
  side_.resize(pmds_.size());
}

// --- Commands -------------------------------------------------------------------

PmdCommand* PmdChannel::make(PmdCmdType type) {
  PmdCommand* cmd;
  if (!free_.empty()) {
    cmd = free_.back();
    free_.pop_back();
  } else {
    cmd = new PmdCommand;
  }
  cmd->type = type;
  cmd->seq = next_seq_++;
  return cmd;
}

void PmdChannel::recycle(PmdCommand* cmd) {
  // Back to the default state; the packet and action arrays are left as
  // they are (n_pkts and actions.n say what is valid).
  cmd->~PmdCommand();
  new (cmd) PmdCommand;
  free_.push_back(cmd);
}

void PmdChannel::release(unsigned pmd, PmdCommand* cmd) {
  if (cmd->flow) unref_flow(pmd, cmd->flow);
  recycle(cmd);
}

// --- Posting ----------------------------------------------------------------------

void PmdChannel::flush_backlog(unsigned pmd) {
  std::deque<PmdCommand*>& b = side_[pmd].backlog;
  CommandRing& ring = pmds_[pmd]->commands();
  while (!b.empty() && ring.post(b.front())) b.pop_front();
}

void PmdChannel::post(unsigned pmd, PmdCommand* cmd) {
  if (cmd->flow) ref_flow(pmd, cmd->flow);
  std::deque<PmdCommand*>& b = side_[pmd].backlog;
  if (!b.empty()) flush_backlog(pmd);
  // Behind a backlog it must wait its turn; poll() moves the backlog on.
  if (!b.empty() || !pmds_[pmd]->commands().post(cmd)) b.push_back(cmd);
}

bool PmdChannel::backlog_full(unsigned pmd) {
  if (side_[pmd].backlog.size() < kCommandBacklogMax) return false;
  flush_backlog(pmd);
  return side_[pmd].backlog.size() >= kCommandBacklogMax;
}

bool PmdChannel::post_bounded(unsigned pmd, PmdCommand* cmd) {
  if (backlog_full(pmd)) return false;
  post(pmd, cmd);
  return true;
}

// --- Waiting and reaping ------------------------------------------------------------

unsigned PmdChannel::reap_round(unsigned pmd, PmdCommand* waited, bool* found) {
  PmdThread& t = *pmds_[pmd];
  flush_backlog(pmd);
  if (!t.running()) t.drain_commands();
  PmdCommand* done[64];
  const unsigned n = t.commands().reap(done, 64);
  for (unsigned i = 0; i < n; i++) {
    if (done[i] == waited)
      *found = true;
    else
      complete(pmd, done[i]);
  }
  return n;
}

void PmdChannel::wait_for(unsigned pmd, PmdCommand* cmd) {
  for (;;) {
    bool found = false;
    const unsigned n = reap_round(pmd, cmd, &found);
    if (found) return;
    if (!n) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

PmdCommand* PmdChannel::call(unsigned pmd, PmdCommand* cmd) {
  post(pmd, cmd);
  wait_for(pmd, cmd);
  return cmd;
}

unsigned PmdChannel::poll() {
  unsigned total = 0;
  PmdCommand* done[64];
  for (unsigned p = 0; p < pmds_.size(); p++) {
    unsigned n;
    while ((n = pmds_[p]->commands().reap(done, 64)) > 0) {
      for (unsigned i = 0; i < n; i++) complete(p, done[i]);
      total += n;
    }
    flush_backlog(p);  // the reaped commands made room in the ring
  }
  return total;
}

void PmdChannel::sync() {
  for (unsigned p = 0; p < pmds_.size(); p++) release(p, call(p, make(PmdCmdType::kSync)));
}

void PmdChannel::barrier() {
  for (int round = 0; round < 2; round++) {
    std::vector<PmdCommand*> cmds(pmds_.size(), nullptr);
    for (unsigned p = 0; p < pmds_.size(); p++) {
      cmds[p] = make(PmdCmdType::kSync);
      post(p, cmds[p]);
    }
    // Spin (with pauses) rather than sleep: a PMD iteration is microseconds
    // and a flow-mod waits for two of them.
    unsigned left = static_cast<unsigned>(pmds_.size());
    while (left) {
      for (unsigned p = 0; p < pmds_.size(); p++) {
        bool found = false;
        if (!cmds[p]) continue;
        reap_round(p, cmds[p], &found);
        if (!found) continue;
        recycle(cmds[p]);
        cmds[p] = nullptr;
        left--;
      }
      if (left) rte_pause();
    }
  }
}

void PmdChannel::apply_pending(unsigned pmd) {
  flush_backlog(pmd);
  if (!pmds_[pmd]->running()) pmds_[pmd]->drain_commands();
}

// Side effects of an async command's completion; recycles the command.
void PmdChannel::complete(unsigned pmd, PmdCommand* cmd) {
  switch (cmd->type) {
    case PmdCmdType::kInstall:
    case PmdCmdType::kInstallExecute:
      if (cmd->result != 0) {
        on_failed_(pmd, cmd->flow, cmd->result);
        // Commands posted for the ufid after the install (modify, remove)
        // may still name the flow: it is freed after the last of them.
        retire_flow(pmd, cmd->flow);
      }
      if (cmd->n_pkts) rte_pktmbuf_free_bulk(cmd->pkts, cmd->n_pkts);  // not run (never)
      break;
    case PmdCmdType::kRemove:
      if (cmd->result == 0) retire_flow(pmd, cmd->flow);
      break;
    case PmdCmdType::kFlush:
      for (DpFlow* f : cmd->flows) retire_flow(pmd, f);
      break;
    case PmdCmdType::kExecute:
      if (cmd->n_pkts) rte_pktmbuf_free_bulk(cmd->pkts, cmd->n_pkts);
      break;
    case PmdCmdType::kMeterSet:
    case PmdCmdType::kMeterDel:
      delete cmd->meter;  // the meter the PMD let go of
      break;
    case PmdCmdType::kBondSet:
    case PmdCmdType::kBondDel:
      delete cmd->bond;  // the bond the PMD let go of
      break;
    default:
      break;
  }
  release(pmd, cmd);
}

// --- Flow references ------------------------------------------------------------------

void PmdChannel::ref_flow(unsigned pmd, DpFlow* f) {
  PmdSide& s = side_[pmd];
  if (f->index >= s.flow_refs.size()) {
    size_t n = std::max<size_t>(pmds_[pmd]->arena().reserved(), f->index + 1);
    s.flow_refs.resize(n, 0);
    s.flow_retired.resize(n, 0);
  }
  s.flow_refs[f->index]++;
}

void PmdChannel::unref_flow(unsigned pmd, DpFlow* f) {
  PmdSide& s = side_[pmd];
  if (--s.flow_refs[f->index] == 0 && s.flow_retired[f->index]) {
    s.flow_retired[f->index] = 0;
    pmds_[pmd]->arena().free(f);
  }
}

void PmdChannel::retire_flow(unsigned pmd, DpFlow* f) {
  PmdSide& s = side_[pmd];
  if (f->index < s.flow_refs.size() && s.flow_refs[f->index] > 0)
    s.flow_retired[f->index] = 1;  // freed by the last unref_flow
  else
    pmds_[pmd]->arena().free(f);
}

}  // namespace dps::datapath
