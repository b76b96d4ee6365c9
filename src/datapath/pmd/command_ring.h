// command_ring.h - how the control side changes a PMD's state.
//
// What: PmdCommand is a change to apply (install / modify / remove / flush
// flows, execute packets with given actions, replace the rx queue list,
// synchronise). CommandRing is a pair of single-producer/single-consumer
// rte_rings of command pointers (LocalRings: no EAL needed): control -> PMD
// ("requests") and PMD -> control ("completions").
//
// Design: the PMD is the only writer of its flow tables; it applies requests
// at the top of each loop iteration, so lookups need no lock and no RCU.
// Commands are allocated and recycled by the control side only (PmdChannel
// keeps a free list, so the miss path does not allocate per command): the
// PMD never allocates, it hands each command back through the completion
// ring with its result filled in, and the control side recycles it (and
// frees any flow it retired).
//
// Thread-safety: post() and reap() from the single control thread that owns
// the datapath; take() and complete() from the owning PMD only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "packet_batch.h"
#include "actions.h"
#include "local_ring.h"

struct rte_mbuf;

namespace dps::netdev {
class Netdev;
}

namespace dps::datapath {

struct DpFlow;
class DpMeter;
struct DpBond;

// A PMD's view of one rx queue it polls.
struct RxqRef {
  netdev::Netdev* port;
  uint32_t port_no;  // datapath port number (in_port)
  uint16_t queue;
};

// A PMD's view of one port it may transmit to, indexed by port number.
struct TxPortRef {
  netdev::Netdev* port = nullptr;
};

enum class PmdCmdType : uint8_t {
  kInstall,   // flow: insert into the classifier (fails with -EEXIST on a duplicate)
  kModify,    // flow: replace its actions with `actions`
  kRemove,    // flow: remove from the classifier; its generation is bumped
  kFlush,     // remove every flow; completed flows are listed in `flows`
  kExecute,   // run `actions` on pkts[0..n_pkts) (the miss path's first packets)
  kInstallExecute,  // kInstall, then run the flow's actions (installed or not) on
                    // pkts[0..n_pkts): one command per new megaflow
  kSetPorts,  // replace the rx queue list and the tx port table
  kSync,      // nothing: completes once everything before it is applied
  kMeterSet,  // meter: install `meter` as meter_id; the one it replaces comes back in `meter`
  kMeterDel,  // meter: remove meter_id; the removed one comes back in `meter`
  kBondSet,   // bond: install `bond` as bond_id; the one it replaces comes back in `bond`
  kBondDel,   // bond: remove bond_id; the removed one comes back in `bond`
};

struct PmdCommand {
  PmdCmdType type = PmdCmdType::kSync;
  int result = 0;                  // set by the PMD: 0 or -errno
  uint64_t seq = 0;                // set by the control side
  DpFlow* flow = nullptr;
  DpActions actions;               // kModify, kExecute
  uint16_t n_pkts = 0;             // kExecute, kInstallExecute
  uint32_t in_port = 0;            // kExecute, kInstallExecute: the packets' in_port
  rte_mbuf* pkts[netdev::kMaxBurst];
  std::vector<RxqRef> rxqs;        // kSetPorts (swapped, never copied, on the PMD)
  std::vector<TxPortRef> txports;  // kSetPorts
  std::vector<DpFlow*> flows;      // kFlush: the flows removed (pre-reserved by control)
  DpMeter* meter = nullptr;        // kMeterSet / kMeterDel (built and freed by control)
  uint32_t meter_id = 0;           // kMeterSet / kMeterDel: datapath meter id
  DpBond* bond = nullptr;          // kBondSet / kBondDel (built and freed by control)
  uint32_t bond_id = 0;            // kBondSet / kBondDel: datapath bond id
};

// 4096 outstanding commands per PMD: a whole upcall round (1024 misses, one
// kInstallExecute each) fits several times over; beyond it the control side
// keeps a backlog (Datapath), it never waits and the PMD never blocks.
inline constexpr unsigned kCommandRingSize = 4096;

class CommandRing {
 public:
  explicit CommandRing(const std::string& name, unsigned size = kCommandRingSize);

  // Control side. post() returns false when `size` commands are outstanding.
  bool post(PmdCommand* cmd);
  unsigned reap(PmdCommand** out, unsigned n);
  // PMD side.
  unsigned take(PmdCommand** out, unsigned n);
  void complete(PmdCommand* cmd);  // the completion ring is sized to never fill

 private:
  LocalRing requests_;
  LocalRing completions_;
  unsigned outstanding_ = 0;  // control side only: posted - reaped
};

}  // namespace dps::datapath
