// tnl_neigh.h - the tunnel neighbour cache (Open vSwitch's
// tnl-neigh-cache): the Ethernet address of an IP next hop on an underlay
// bridge, for the outer header of encapsulated packets.
//
// What: TnlNeigh maps (bridge, IP) -> MAC. Entries are learned by snooping
// ARP replies, gratuitous ARPs and IPv6 neighbour advertisements seen by
// the translation (snoop_neighbor() says what a packet teaches), or set by
// hand (`dpsctl tnl/neigh-set BRIDGE IP MAC`, static: they never age).
// Learned entries expire aging_ms after they were last confirmed (OVS's
// default: 15 minutes); expire() removes them. Every change (new entry,
// other MAC, removal) is logged for the revalidator (take_changes()), so
// the megaflows that used (or missed) that neighbour are re-translated.
// (Which neighbours translation is waiting for, and the ARP / ND requests
// for them, are the tunnel context's: tunnel_context.h.)
//
// Design: an ordered map keyed by (bridge, IP): tens of entries, looked up
// once per encapsulating translation (never on the hit path). Re-learning
// the same MAC only extends the entry and logs nothing.
//
// Thread-safety: the ofproto thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flow_key_layout.h"
#include "mac_learning.h"
#include "tnl_router.h"
#include "tunnel_config.h"

namespace dps::ofproto {

inline constexpr int64_t kNeighDefaultAgingMs = 15 * 60 * 1000;

struct NeighEntry {
  std::string bridge;
  IpAddr ip;
  MacAddr mac{};
  int64_t expires_ms = 0;  // learned entries
  bool is_static = false;
};

// What a packet teaches about a neighbour (IP -> MAC), if anything.
struct NeighObservation {
  IpAddr ip;
  MacAddr mac{};
  IpAddr target;  // whom it was addressed to (ARP tpa, NA destination), to check it is ours
  bool gratuitous = false;
};

// ARP replies and gratuitous ARPs (spa == tpa) with a non-zero sender MAC,
// and ND neighbour advertisements with a target link-layer address. ORs
// into *wc the key bits it looked at (null: none recorded).
std::optional<NeighObservation> snoop_neighbor(const datapath::FlowKey& f, datapath::FlowMask* wc);

class TnlNeigh {
 public:
  // The MAC of ip on bridge; nullopt when unknown or expired.
  std::optional<MacAddr> lookup(const std::string& bridge, const IpAddr& ip, int64_t now_ms) const;
  // Learns (or refreshes) an entry. True when it is new or its MAC changed.
  // A static entry is not overwritten by learning.
  bool learn(const std::string& bridge, const IpAddr& ip, const MacAddr& mac, int64_t now_ms);
  // A static entry (tnl/neigh-set).
  void set_static(const std::string& bridge, const IpAddr& ip, const MacAddr& mac);
  // Removes every entry (of bridge, when given). Returns how many.
  size_t flush(const std::string& bridge = "");
  // Removes learned entries expired at now_ms. Returns how many.
  size_t expire(int64_t now_ms);
  void set_aging_ms(int64_t ms) { aging_ms_ = ms; }
  int64_t aging_ms() const { return aging_ms_; }
  std::vector<NeighEntry> entries() const;
  size_t size() const { return map_.size(); }

  // Changed (bridge, IP) pairs since the last call.
  std::vector<std::pair<std::string, IpAddr>> take_changes();
  bool has_changes() const { return !changes_.empty(); }

 private:
  using Key = std::pair<std::string, IpAddr>;
  void changed(const Key& k) { changes_.push_back(k); }
  // Removes (and logs) the entries pred(key, entry) selects.
  template <class Pred>
  size_t erase_where(Pred pred) {
    size_t n = 0;
    for (auto it = map_.begin(); it != map_.end();) {
      if (!pred(it->first, it->second)) {
        ++it;
        continue;
      }
      changed(it->first);
      it = map_.erase(it);
      n++;
    }
    return n;
  }

  std::map<Key, NeighEntry> map_;
  std::vector<Key> changes_;
  int64_t aging_ms_ = kNeighDefaultAgingMs;
};

}  // namespace dps::ofproto
