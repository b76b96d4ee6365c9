// bonding.h - a bond: one OpenFlow port over several datapath ports
// (members), as OVS's bonding (ofproto/bond.c): which member sends what,
// which member may receive what, and the liveness rules behind both.
//
// What: BondConfig is a Port row's bonding columns, parsed and checked
// (parse_bond_config: bond_mode, lacp, bond_updelay / bond_downdelay,
// other_config:lacp-time, bond-rebalance-interval, bond-detect-mode,
// bond-miimon-interval, lacp-fallback-ab). Bond is the state of one bond:
// its members (datapath port, carrier, enabled, administratively
// disabled, LACP verdict), the active member, and the bucket table the
// datapath hashes packets into (datapath::kBondBuckets buckets, each
// naming a member; dp_bond.h). The control thread feeds it carrier
// readings and LACP verdicts and asks it for the datapath table
// (dp_config) and for the receive policy translation applies
// (may_receive).
//
// Design: pure logic over plain values (no datapath, no clock: whatever
// depends on time takes now_ms), so the rules are unit-tested. A member's
// carrier change takes effect after bond_updelay / bond_downdelay (0: at
// once). A member that stops being enabled gives its buckets to the
// enabled members at once (the one with the fewest buckets first, so the
// table stays even); a member that becomes enabled takes buckets from the
// others until the counts are even, and no more (as few flows move as
// possible). balance-slb also rebalances by measured load
// (rebalance_buckets). The active member (active-backup; the member that
// receives floods in balance-slb) stays while it is enabled; else the
// enabled member with the lowest datapath port takes over.
//
// Thread-safety: owned by the control (ofproto) thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dp_bond.h"

namespace dps::ofproto {

// The kUserspace cookie translation gives slow-protocol frames (LACP)
// received on bond members: the upcall handler hands them to the bridge's
// slow path (never to a controller). Outside the interned event ids.
inline constexpr uint32_t kSlowProtocolCookie = 0xfffffffeu;

enum class BondMode : uint8_t { kActiveBackup, kBalanceSlb, kBalanceTcp };
enum class LacpMode : uint8_t { kOff, kActive, kPassive };

const char* bond_mode_name(BondMode m);
const char* lacp_mode_name(LacpMode m);

struct BondConfig {
  BondMode mode = BondMode::kActiveBackup;
  LacpMode lacp = LacpMode::kOff;
  bool lacp_fast = false;            // other_config:lacp-time=fast (1 s), else slow (30 s)
  bool fallback_ab = false;          // other_config:lacp-fallback-ab
  int64_t rebalance_ms = 10000;      // other_config:bond-rebalance-interval (0: never)
  bool miimon = false;               // other_config:bond-detect-mode=miimon
  int64_t miimon_ms = 200;           // other_config:bond-miimon-interval
  int64_t updelay_ms = 0;            // bond_updelay
  int64_t downdelay_ms = 0;          // bond_downdelay
  bool operator==(const BondConfig&) const = default;
};

// A Port row's bonding columns as plain values ("" / absent = default).
struct BondColumns {
  std::string port;
  std::string bond_mode;
  std::string lacp;
  std::optional<int64_t> updelay, downdelay;
  std::map<std::string, std::string> other_config;
  bool operator==(const BondColumns&) const = default;
};

// The parsed configuration, or the precise reason it is refused (the text
// that goes into Interface.error of every member). balance-tcp without
// LACP is accepted with a warning in *warning (OVS: it works, but the
// partner may not be able to balance); a bad value of any key is refused.
std::variant<BondConfig, std::string> parse_bond_config(const BondColumns& c, std::string* warning);

struct BondMember {
  std::string name;
  uint32_t dp_port = 0;
  bool carrier = false;        // the last carrier reading
  bool enabled = false;        // carries traffic (carrier after its delay, admin, LACP)
  bool admin_enabled = true;   // bond/enable-member, bond/disable-member
  bool lacp_ok = true;         // LACP lets it aggregate (always true without LACP)
  int64_t delay_until = -1;    // a carrier change waiting for up/down delay (ms), -1 none
  uint64_t enabled_changes = 0;
};

// What a call changed, for the caller to act on.
struct BondChange {
  bool buckets = false;  // the datapath table (dp_config) changed
  bool rx = false;       // the receive policy (may_receive) changed: re-translate
  BondChange& operator|=(const BondChange& o) {
    buckets |= o.buckets;
    rx |= o.rx;
    return *this;
  }
};

class Bond {
 public:
  Bond(std::string name, uint32_t dp_id, BondConfig cfg);

  const std::string& name() const { return name_; }
  uint32_t dp_id() const { return dp_id_; }
  const BondConfig& config() const { return cfg_; }
  BondChange set_config(const BondConfig& cfg, int64_t now_ms);
  // The member set: (name, datapath port). Members that stay keep their
  // state and buckets; a new member starts without carrier.
  BondChange set_members(const std::vector<std::pair<std::string, uint32_t>>& members, int64_t now_ms);
  const std::map<uint32_t, BondMember>& members() const { return members_; }
  const BondMember* member(uint32_t dp_port) const;
  const BondMember* member_by_name(const std::string& name) const;

  // A carrier reading (the netdev's link state) at now_ms.
  BondChange carrier(uint32_t dp_port, bool up, int64_t now_ms);
  // Timers: pending up/down delays that are due.
  BondChange run(int64_t now_ms);
  // The LACP verdict for a member (attached to the aggregator or not);
  // lacp_negotiated: the bond has a partner at all (active-backup and SLB
  // then let every enabled member receive, as OVS).
  BondChange set_lacp(uint32_t dp_port, bool ok, int64_t now_ms);
  // fallback: lacp-fallback-ab with LACP configured; while not negotiated
  // the bond then runs active-backup (mode()).
  BondChange set_lacp_negotiated(bool negotiated, bool fallback, int64_t now_ms);
  bool lacp_negotiated() const { return lacp_negotiated_; }
  // The mode in force: the configured one, or active-backup while LACP
  // falls back.
  BondMode mode() const { return fallback_ && !lacp_negotiated_ ? BondMode::kActiveBackup : cfg_.mode; }
  // dpsctl bond/enable-member, bond/disable-member, bond/set-active-member.
  // False when there is no such member (or it is not enabled, for the active).
  bool set_admin(const std::string& member, bool enabled, BondChange* ch, int64_t now_ms);
  bool set_active(const std::string& member, BondChange* ch);

  // The active member's datapath port (0 = none enabled).
  uint32_t active() const { return active_; }
  // Whether a packet arriving on member dp_port enters the bridge
  // (multicast: its destination is a group address).
  bool may_receive(uint32_t dp_port, bool multicast) const;
  // Whether receive depends on the destination's multicast bit (so the
  // megaflow must match it).
  bool rx_depends_on_multicast() const { return mode() == BondMode::kBalanceSlb && !lacp_negotiated_; }
  const std::array<uint16_t, datapath::kBondBuckets>& buckets() const { return buckets_; }
  datapath::DpBondConfig dp_config() const;
  // balance-slb: moves buckets from the most to the least loaded enabled
  // member by the packets each bucket carried (`load`, per bucket), while
  // that shrinks the difference; returns the number of buckets moved.
  unsigned rebalance(const std::vector<uint64_t>& load);

 private:
  BondChange refresh(int64_t now_ms);  // enabled flags, active member, buckets
  bool member_should_enable(const BondMember& m) const;
  void fill_buckets();

  std::string name_;
  uint32_t dp_id_;
  BondConfig cfg_;
  std::map<uint32_t, BondMember> members_;  // by datapath port
  uint32_t active_ = 0;
  bool lacp_negotiated_ = false;
  bool fallback_ = false;
  std::array<uint16_t, datapath::kBondBuckets> buckets_;
};

// The rebalancing step on plain values: `owner[b]` is bucket b's member
// (datapath port, kBondNoMember = none), `load[b]` its measured load,
// `members` the enabled members. Moves buckets from the most to the least
// loaded member while some bucket's load is below their difference
// (choosing the one closest to half of it: the move that evens them
// most), at most `max_moves`. Returns the number moved.
unsigned rebalance_buckets(std::array<uint16_t, datapath::kBondBuckets>* owner,
                           const std::vector<uint64_t>& load, const std::vector<uint16_t>& members,
                           unsigned max_moves = datapath::kBondBuckets);

}  // namespace dps::ofproto
