// mirror.h - the port mirrors of one bridge (the OVSDB Mirror table): which
// packets are copied, and where to.
//
// What: MirrorConfig is one Mirror row as plain values (ports named by the
// interface name a BridgePort carries). MirrorSet is a bridge's mirrors:
// the configs as given, an error per config that cannot apply, and the
// valid ones resolved to OpenFlow port numbers, with per port the mirrors
// that select what it receives (src), what is output to it (dst), and
// whether it is a mirror output port (reserved: NORMAL neither learns on it,
// forwards what it receives nor floods to it). Translation (xlate.cc) reads
// it; MirrorCounters count what the datapath flows that mirror carried.
//
// Design: as OVS ofproto/mirror.c. At most kMaxMirrors mirrors per bridge,
// one bit each (MirrorMask), so a translation remembers in one word which
// mirrors it already served. Mirrors with the same destination (output
// port, or output VLAN) form a "dup" mask: serving one serves them all, so
// a packet reaches each destination once. select_all selects every port
// except the mirror output ports. The per-port masks are recomputed from
// the configs whenever the configs or the bridge's ports change (resolve),
// so a config naming a port that arrives later starts to apply then. A
// config that fails validation (both output_port and output_vlan, neither,
// an output port not on the bridge or also selected, more than kMaxMirrors)
// is left out with a precise error; the others apply. Counters live in
// shared_ptrs keyed by the row's UUID (else its name): the ukeys of flows
// that mirror hold them, and a reconfiguration that keeps the row keeps
// its counters. snaplen is recorded but not applied (the datapath has no
// truncate action); translation says so in the trace.
//
// Thread-safety: owned by the ofproto thread, like Bridge. Counters are
// plain integers written on that thread (miss path and revalidator).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace dps::ofproto {

using MirrorMask = uint32_t;
// One bit per mirror in a MirrorMask (OVS MAX_MIRRORS).
inline constexpr size_t kMaxMirrors = 32;

struct MirrorConfig {
  std::string uuid;  // the Mirror row's UUID (statistics write-back); may be empty
  std::string name;
  bool select_all = false;
  std::vector<std::string> select_src_port;  // sorted
  std::vector<std::string> select_dst_port;  // sorted
  std::vector<uint16_t> select_vlan;         // sorted; empty = every VLAN
  std::string output_port;                   // "" = none
  std::optional<uint16_t> output_vlan;       // RSPAN
  std::optional<int64_t> snaplen;            // recorded, not applied
  bool operator==(const MirrorConfig&) const = default;
};

struct MirrorCounters {
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
};
using MirrorCounterRefs = std::vector<std::shared_ptr<MirrorCounters>>;

// Adds a datapath flow's new packets to each mirror it copies to.
inline void account_mirrors(const MirrorCounterRefs& refs, uint64_t packets, uint64_t bytes) {
  for (const auto& c : refs) {
    c->tx_packets += packets;
    c->tx_bytes += bytes;
  }
}

// A valid mirror, resolved.
struct Mirror {
  size_t cfg = 0;                     // index into MirrorSet::configs()
  uint32_t out_port = 0;              // OpenFlow number; 0 for RSPAN
  uint16_t out_vlan = 0;              // RSPAN VLAN; 0 with out_port
  std::set<uint16_t> vlans;           // empty = every VLAN
  MirrorMask dups = 0;                // mirrors with the same destination, itself included
  std::shared_ptr<MirrorCounters> counters;
};

struct PortMirrors {
  MirrorMask src = 0;   // mirrors selecting packets received on the port
  MirrorMask dst = 0;   // mirrors selecting packets output to it
  bool output = false;  // a mirror output port
};

// One config as applied, for dpsctl and the statistics write-back.
struct MirrorStatus {
  std::string uuid, name;
  std::string error;  // empty: applied
  uint64_t tx_packets = 0, tx_bytes = 0;
};

class MirrorSet {
 public:
  // Replaces the configs and resolves them against `ports` (interface name
  // -> OpenFlow number of this bridge's ports). False when the configs are
  // the ones already set (nothing changed).
  bool configure(std::vector<MirrorConfig> cfgs, const std::map<std::string, uint32_t>& ports);
  // The bridge's ports changed: resolves the same configs again.
  void resolve(const std::map<std::string, uint32_t>& ports);

  bool empty() const { return mirrors_.empty(); }
  // Null when no mirror involves the port.
  const PortMirrors* port(uint32_t of_port) const {
    auto it = ports_.find(of_port);
    return it == ports_.end() ? nullptr : &it->second;
  }
  bool is_output(uint32_t of_port) const {
    const PortMirrors* p = port(of_port);
    return p && p->output;
  }
  const Mirror& mirror(unsigned bit) const { return mirrors_[bit]; }
  const std::vector<MirrorConfig>& configs() const { return cfgs_; }
  // Per config, in configs() order: "" when it applies, else why not.
  const std::vector<std::string>& errors() const { return errors_; }
  std::vector<MirrorStatus> status() const;
  // The OpenFlow numbers of the output ports (their MAC entries go).
  std::vector<uint32_t> output_ports() const;

 private:
  std::string check(const MirrorConfig& c, const std::map<std::string, uint32_t>& ports) const;
  void add(size_t index, const std::map<std::string, uint32_t>& ports);
  void select_all_ports(const std::map<std::string, uint32_t>& ports);
  std::shared_ptr<MirrorCounters> counters_for(const MirrorConfig& c);

  std::vector<MirrorConfig> cfgs_;
  std::vector<std::string> errors_;
  std::vector<Mirror> mirrors_;  // index = bit
  std::unordered_map<uint32_t, PortMirrors> ports_;
  std::map<std::string, std::shared_ptr<MirrorCounters>> counters_;  // by UUID, else name
};

}  // namespace dps::ofproto
