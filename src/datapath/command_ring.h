// command_ring.h - how the control side changes a PMD's state.
//
// What: PmdCommand is a change to apply (install / modify / remove / flush
// flows, execute packets with given actions, replace the rx queue list,
// synchronise). CommandRing is a pair of single-producer/single-consumer
// rte_rings of command pointers: control -> PMD ("requests") and PMD ->
// control ("completions").
//
// Design: the PMD is the only writer of its flow tables; it applies requests
// at the top of each loop iteration, so lookups need no lock and no RCU.
// Commands are allocated and freed by the control side only: the PMD never
// allocates, it hands each command back through the completion ring with its
// result filled in, and the control side frees it (and any flow it retired).
//
// Thread-safety: post() and reap() from the single control thread that owns
// the datapath; take() and complete() from the owning PMD only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../netdev/packet_batch.h"
#include "actions.h"

struct rte_ring;
struct rte_mbuf;

namespace dps::netdev {
class Netdev;
}

namespace dps::datapath {

struct DpFlow;

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
  kSetPorts,  // replace the rx queue list and the tx port table
  kSync,      // nothing: completes once everything before it is applied
};

struct PmdCommand {
  PmdCmdType type = PmdCmdType::kSync;
  int result = 0;                  // set by the PMD: 0 or -errno
  uint64_t seq = 0;                // set by the control side
  DpFlow* flow = nullptr;
  DpActions actions;               // kModify, kExecute
  uint16_t n_pkts = 0;             // kExecute
  uint32_t in_port = 0;            // kExecute: the packets' in_port
  rte_mbuf* pkts[netdev::kMaxBurst];
  std::vector<RxqRef> rxqs;        // kSetPorts (swapped, never copied, on the PMD)
  std::vector<TxPortRef> txports;  // kSetPorts
  std::vector<DpFlow*> flows;      // kFlush: the flows removed (pre-reserved by control)
};

// 1024 outstanding commands per PMD: a burst of flow installs from one
// translation round fits; a full ring makes the control side wait, never
// the PMD.
inline constexpr unsigned kCommandRingSize = 1024;

class CommandRing {
 public:
  explicit CommandRing(const std::string& name, unsigned size = kCommandRingSize);
  ~CommandRing();
  CommandRing(const CommandRing&) = delete;
  CommandRing& operator=(const CommandRing&) = delete;

  // Control side. post() returns false when `size` commands are outstanding.
  bool post(PmdCommand* cmd);
  unsigned reap(PmdCommand** out, unsigned n);
  // PMD side.
  unsigned take(PmdCommand** out, unsigned n);
  void complete(PmdCommand* cmd);  // the completion ring is sized to never fill

 private:
  rte_ring* requests_;
  rte_ring* completions_;
  unsigned outstanding_ = 0;  // control side only: posted - reaped
};

}  // namespace dps::datapath
