// pmd_channel.h - the control side of the PMDs' command rings.
//
// What: PmdChannel is how the Datapath's control thread talks to its PMDs:
// it makes commands (a free list), posts them (ring, else a FIFO backlog),
// waits for one (wait_for, sync, barrier), reaps completions (poll) and
// carries out their side effects, and keeps the reference counts that
// decide when a retired DpFlow may go back to its PMD's arena.
//
// Design:
//  - Posting never spins: a command that does not fit in a PMD's ring waits
//    in that PMD's backlog (FIFO, so order is kept) and every poll(),
//    wait_for() and later post() moves it on. post_bounded() (the miss
//    path's installs and executes) refuses instead once the backlog holds
//    kCommandBacklogMax commands; everything else is always accepted.
//  - Commands come from a free list (heap objects, recycled), so the miss
//    path does not allocate per command.
//  - A DpFlow goes back to its arena only once it is retired (removed,
//    flushed, or its install failed) AND no command naming it is still
//    queued or unreaped: post() takes a reference on cmd->flow, completion
//    (or release() of a command waited for) drops it, so a slot is never
//    reused while a PMD may still read it through an older command.
//  - A reaped command's side effects are done here (packets it did not run
//    freed, retired flows, meters the PMD let go of); a refused install is
//    first reported to the owner's InstallFailed callback (the owner keeps
//    the ufid records), then its flow is retired.
//  - A command waited for is handed back as it completed: the caller reads
//    its result and then release()s it.
//
// Thread-safety: one control thread (the Datapath's owner); never a PMD.
// The PMD set it talks to is the owner's vector, read at each call; after
// the owner rebuilds it, reset() forgets the old PMDs' state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "command_ring.h"
#include "pmd_thread.h"

namespace dps::datapath {

// Commands a PMD's backlog may hold before the miss path's posts (install,
// execute) fail: 2x the ring, a few upcall rounds; beyond that the PMD is
// far behind and dropping new misses is better than queueing (~9 MB).
inline constexpr size_t kCommandBacklogMax = 2 * kCommandRingSize;

class PmdChannel {
 public:
  // An install (kInstall / kInstallExecute) the PMD refused with `result`;
  // called before the flow is retired.
  using InstallFailed = std::function<void(unsigned pmd, DpFlow* flow, int result)>;

  PmdChannel(const std::vector<std::unique_ptr<PmdThread>>& pmds, InstallFailed on_failed);
  ~PmdChannel();
  PmdChannel(const PmdChannel&) = delete;
  PmdChannel& operator=(const PmdChannel&) = delete;

  // The PMD set was rebuilt: per-PMD state starts afresh (nothing may be
  // outstanding on the old PMDs).
  void reset();

  // A command of `type` in its default state, with a fresh sequence number.
  PmdCommand* make(PmdCmdType type);
  // Back to the free list (it must not be queued or unreaped).
  void recycle(PmdCommand* cmd);
  // A command waited for: drops its flow reference and recycles it.
  void release(unsigned pmd, PmdCommand* cmd);

  void post(unsigned pmd, PmdCommand* cmd);
  // false (nothing posted) when the backlog is full even after moving it on.
  bool post_bounded(unsigned pmd, PmdCommand* cmd);
  bool backlog_full(unsigned pmd);
  // Until `cmd` (posted to pmd) completes; completes what else comes back.
  void wait_for(unsigned pmd, PmdCommand* cmd);
  // post() then wait_for(); returns cmd for its result (then release() it).
  PmdCommand* call(unsigned pmd, PmdCommand* cmd);

  // Reaps and completes what every PMD has done; returns how many.
  unsigned poll();
  // Every PMD has applied everything posted before the call.
  void sync();
  // As sync(), and the tx batches of the iterations that applied it are
  // flushed too (two kSync rounds: the second is taken by a later iteration
  // than the first).
  void barrier();
  // Tests, PMDs stopped: lets `pmd` apply what is queued (one iteration's
  // budget) without reaping.
  void apply_pending(unsigned pmd);

  // A flow that left (or never entered) its PMD's classifier goes back to
  // the arena now, or after the last command naming it completes.
  void retire_flow(unsigned pmd, DpFlow* f);

 private:
  // Control-side state per PMD.
  struct PmdSide {
    std::deque<PmdCommand*> backlog;    // posted, not yet in the ring (FIFO)
    std::vector<uint32_t> flow_refs;    // by DpFlow::index: outstanding commands naming it
    std::vector<uint8_t> flow_retired;  // by DpFlow::index: free once flow_refs drops to 0
  };

  void flush_backlog(unsigned pmd);
  // One round for `pmd`: moves its backlog on, lets it apply when stopped,
  // completes what it handed back except `waited`, which sets *found.
  // Returns how many commands came back.
  unsigned reap_round(unsigned pmd, PmdCommand* waited, bool* found);
  void complete(unsigned pmd, PmdCommand* cmd);
  void ref_flow(unsigned pmd, DpFlow* f);
  void unref_flow(unsigned pmd, DpFlow* f);

  const std::vector<std::unique_ptr<PmdThread>>& pmds_;
  InstallFailed on_failed_;
  std::vector<PmdSide> side_;
  std::vector<PmdCommand*> free_;
  uint64_t next_seq_ = 1;
};

}  // namespace dps::datapath
