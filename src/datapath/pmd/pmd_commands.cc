// The PMD side of the command ring (command_ring.h): how a PmdThread applies
// what the control thread asks of it. The only place its tables change.
#include <rte_cycles.h>

#include <cerrno>

#include "pmd_thread.h"

namespace dps::datapath {
namespace {

// A set (*obj goes in) or a delete (null goes in) on one of the PMD's tables
// by id (PmdMeters, PmdBonds); the object let go of comes back in *obj for
// the control side to free. -EINVAL (*obj kept) for an id past max, -ENOENT
// for a delete of nothing.
template <typename Table, typename T>
int set_or_del(Table& table, uint32_t id, uint32_t max, bool set, bool del, T** obj) {
  if (id >= max) return -EINVAL;
  T* old = table.swap(id, set ? *obj : nullptr);
  *obj = old;
  return del && !old ? -ENOENT : 0;
}

}  // namespace

void PmdThread::apply_commands() {
  // Bursts of kCommandsPerIteration until the ring is empty or the
  // iteration's budget (count and time, see kCommandsBusyMax) is spent.
  const unsigned max_cmds = last_rx_idle_ ? kCommandsIdleMax : kCommandsBusyMax;
  const uint64_t deadline = now_tsc_ + (last_rx_idle_ ? cmd_idle_cycles_ : cmd_busy_cycles_);
  PmdCommand* cmds[kCommandsPerIteration];
  unsigned total = 0;
  while (total < max_cmds) {
    unsigned n = commands_.take(cmds, kCommandsPerIteration);
    if (!n) break;
    for (unsigned i = 0; i < n; i++) apply(cmds[i]);
    // Published before the completions, so a caller that saw its command
    // complete also sees the table sizes it produced.
    counters_.add(kCommands, n);
    n_flows_.store(cls_.size(), std::memory_order_relaxed);
    n_subtables_.store(cls_.subtable_count(), std::memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) commands_.complete(cmds[i]);
    total += n;
    if (n < kCommandsPerIteration || rte_rdtsc() >= deadline) break;
  }
}

void PmdThread::apply(PmdCommand* cmd) {
  switch (cmd->type) {
    case PmdCmdType::kInstall:
    case PmdCmdType::kInstallExecute: cmd_install(cmd); break;
    case PmdCmdType::kModify: cmd_modify(cmd); break;
    case PmdCmdType::kRemove: cmd_remove(cmd); break;
    case PmdCmdType::kFlush: cmd_flush(cmd); break;
    case PmdCmdType::kExecute: cmd_execute(cmd); break;
    case PmdCmdType::kSetPorts: cmd_set_ports(cmd); break;
    case PmdCmdType::kSync: break;
    case PmdCmdType::kMeterSet:
    case PmdCmdType::kMeterDel: cmd_meter(cmd); break;
    case PmdCmdType::kBondSet:
    case PmdCmdType::kBondDel: cmd_bond(cmd); break;
  }
}

void PmdThread::cmd_install(PmdCommand* cmd) {
  switch (cls_.insert(cmd->flow)) {
    case InsertResult::kOk: cmd->result = 0; break;
    case InsertResult::kDuplicate: cmd->result = -EEXIST; break;
    default: cmd->result = -EINVAL; break;
  }
  if (cmd->type == PmdCmdType::kInstallExecute && cmd->n_pkts) {
    // The flow's actions even when the insert failed (a duplicate: the
    // packets still go where the translation said). Not counted by the
    // flow: the slow path accounted them to the rules.
    execute_actions(cmd->flow->actions, cmd->pkts, cmd->n_pkts, cmd->in_port);
    cmd->n_pkts = 0;
    drain_recirc();
  }
}

void PmdThread::cmd_modify(PmdCommand* cmd) {
  if (cmd->flow->installed)
    cmd->flow->actions = cmd->actions;
  else
    cmd->result = -ENOENT;
}

void PmdThread::cmd_remove(PmdCommand* cmd) { cmd->result = cls_.remove(cmd->flow) ? 0 : -ENOENT; }

// The control side reserved cmd->flows, so listing them does not allocate.
void PmdThread::cmd_flush(PmdCommand* cmd) {
  cls_.flush([&](DpFlow* f) { cmd->flows.push_back(f); });
}

void PmdThread::cmd_execute(PmdCommand* cmd) {
  const DpActions acts = cmd->actions;
  execute_actions(acts, cmd->pkts, cmd->n_pkts, cmd->in_port);
  cmd->n_pkts = 0;
  drain_recirc();
}

// New rx queue list (swapped: the old one goes back to be freed by the
// control side) and tx table; the per-queue counters start again.
void PmdThread::cmd_set_ports(PmdCommand* cmd) {
  out_.flush();
  rxqs_.swap(cmd->rxqs);
  out_.set_ports(cmd->txports);
  for (unsigned i = 0; i < kMaxRxqsPerPmd; i++) {
    rxq_stats_[i].packets.store(0, std::memory_order_relaxed);
    rxq_stats_[i].cycles.store(0, std::memory_order_relaxed);
  }
}

// kMeterSet / kMeterDel: the meter let go of comes back in cmd->meter for
// the control side to free.
void PmdThread::cmd_meter(PmdCommand* cmd) {
  cmd->result = set_or_del(meters_, cmd->meter_id, kMaxMeters, cmd->type == PmdCmdType::kMeterSet,
                           cmd->type == PmdCmdType::kMeterDel, &cmd->meter);
}

// kBondSet / kBondDel: as meters, the bond let go of comes back in cmd->bond.
void PmdThread::cmd_bond(PmdCommand* cmd) {
  cmd->result = set_or_del(bonds_, cmd->bond_id, kMaxBonds, cmd->type == PmdCmdType::kBondSet,
                           cmd->type == PmdCmdType::kBondDel, &cmd->bond);
}

}  // namespace dps::datapath
