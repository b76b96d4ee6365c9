// ofproto.h - the OpenFlow switch on top of the datapath: the facade the
// daemon's control loop (and later the OpenFlow channel and the config
// store) calls.
//
// What: Ofproto is ONE bridge (br0 by default): its OpenFlow ports (each
// maps to a datapath port, or is a patch port to another bridge), its
// pipeline and MAC table, its removed-rule queue and OpenFlow channel
// state. The datapath side - installed-flow records (ukeys), the miss path
// (UpcallHandler), the Revalidator - is the DpBacker (dp_backer.h), shared
// by every bridge of the daemon; a one-bridge Ofproto (built over a
// Datapath or a DpInterface) owns a private backer. BridgeSet owns the
// bridges of a daemon by name. It offers:
//  - rules: flow_mod()/group_mod() (C++ API; they return after the
//    datapath stopped using what the change invalidated), add_flows() for
//    `ovs-ofctl add-flows` text, load_rules_file(), the default
//    `priority=0,actions=NORMAL` learning switch;
//  - run(): one non-blocking round of the control loop;
//  - views: dump_flows() (ovs-ofctl syntax with counters), fdb_show(),
//    trace() (ofproto/trace), packet-ins for the OpenFlow channel,
//    removed rules (for flow_removed), statistics.
//
// Design: DpBacker::run() is one round of phases for all bridges: handle
// upcalls (drain, translate from the in_port's bridge, install, execute);
// reap datapath completions and drop the ukeys of installs a PMD refused;
// per bridge (run_bridge): re-translate what MAC-table changes affect, and
// every kTimerMs expire rules (idle/hard timeouts) and MAC entries; continue
// the periodic sweep (counters, learning refresh, idle megaflows), a slice
// per round, starting a new pass every sweep interval (a quarter of the idle
// timeout, at most 1 s). Ofproto::run() runs its backer's round (with
// several bridges, call DpBacker::run() once per round instead). OpenFlow
// port numbers are per bridge; datapath port numbers are global. Time
// comes from an injectable millisecond clock (the backer's).
// A debug churn generator (set_churn_rate) issues flow-mods at a fixed rate
// from run(), for the rule-churn benchmark.
//
// Thread-safety: everything on the one thread that owns the Datapath's
// control side (dpswitchd's main loop).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bridge.h"
#include "lacp.h"
#include "dp_backer.h"
#include "dp_interface.h"
#include "of_messages.h"
#include "pipeline.h"
#include "revalidator.h"
#include "tlv_table.h"
#include "ukey.h"
#include "upcall_handler.h"

namespace dps::ofproto {

// Rule and MAC expiry run this often.
inline constexpr int64_t kTimerMs = 100;
// Removed rules kept for the OpenFlow channel's flow_removed messages.
inline constexpr size_t kMaxRemovedQueue = 4096;

struct OfprotoConfig {
  std::string bridge = "br0";
  int64_t flow_idle_ms = kDefaultFlowIdleMs;
  size_t flow_limit = kDefaultFlowLimit;
  int64_t mac_idle_ms = kMacDefaultIdleMs;
  size_t mac_max_entries = kMacDefaultMaxEntries;
  UpcallConfig upcall;  // its flow_limit is overridden by flow_limit
  std::function<int64_t()> clock;  // ms; null = steady clock
  // PACKET_OUT buffers: an mbuf whose data_len is len; null = the real
  // datapath's pool (tests over a fake datapath give their own).
  std::function<rte_mbuf*(uint32_t len)> packet_alloc;
  // The switch's Geneve TLV table; null = the bridge makes its own.
  // BridgeSet puts one table here for all its bridges.
  std::shared_ptr<TlvTable> tlv_table;
};

// The cookie of the fail-open rule (standalone fail mode, no controller):
// priority 0, empty match, actions=NORMAL in table 0.
inline constexpr uint64_t kFailOpenCookie = 0xfa11'0fe1'0000'0000ull;

struct OfprotoStats {
  UpcallStats upcall;
  RevalidatorStats revalidator;
  size_t ukeys = 0;
  size_t ukey_masks = 0;
  size_t rules = 0;
  size_t mac_entries = 0;
  uint64_t flow_mods = 0;
  uint64_t flow_mod_errors = 0;
  uint64_t churn_mods = 0;
};

class Ofproto final : public BackerBridge {
 public:
  // One bridge over a private backer on a real datapath: ports are taken
  // from it by sync_ports().
  explicit Ofproto(datapath::Datapath& dp, OfprotoConfig cfg = {});
  // One bridge over a private backer on any DpInterface (tests).
  Ofproto(std::unique_ptr<DpInterface> dp, OfprotoConfig cfg);
  // One of several bridges over a shared backer (no ports yet). The
  // backer's settings (flow idle time, flow limit, upcall config, clock)
  // apply; cfg gives the name, MAC table settings and packet_alloc.
  Ofproto(DpBacker& backer, OfprotoConfig cfg);
  // Detaches from a shared backer: the bridge's megaflows, port mapping,
  // packet-ins and the other bridges' patch ports into it go (the datapath
  // must still run).
  ~Ofproto();
  Ofproto(const Ofproto&) = delete;
  Ofproto& operator=(const Ofproto&) = delete;

  // --- Ports ------------------------------------------------------------
  void add_port(uint32_t of_port, uint32_t dp_port, const std::string& name);
  // A patch port: output to it continues in `peer`'s pipeline as received
  // on peer_port (no datapath port).
  void add_patch_port(uint32_t of_port, const std::string& name, Bridge& peer, uint32_t peer_port);
  // A tunnel port (vxlan/geneve/gre): datapath port dp_port (a port with
  // no device: decapsulated packets arrive on it) carrying its parsed
  // options. Called again for the same of_port and dp_port it replaces the
  // config only (the port's flags and VLAN settings stay). Either way every
  // megaflow is re-translated.
  void add_tunnel_port(uint32_t of_port, uint32_t dp_port, const std::string& name,
                       std::shared_ptr<const TunnelConfig> tunnel);
  void remove_port(uint32_t of_port) override;

  // --- Bonds (ofproto_bonds.cc; bonding.h, lacp.h) ----------------------------
  // Creates or updates bond port of_port: its configuration and members
  // (interface name, datapath port). Members that stay keep their state and
  // their buckets, so their traffic is not disturbed. "" or the reason the
  // bond cannot be had (no free datapath bond id).
  std::string set_bond(uint32_t of_port, const std::string& name, const BondConfig& cfg,
                       const std::vector<std::pair<std::string, uint32_t>>& members);
  // Member dp_port is about to close: its buckets move to the others now.
  void bond_drop_member(uint32_t of_port, uint32_t dp_port);
  // One bond's slow-path state, for bond/show and lacp/show.
  struct BondRt {
    std::shared_ptr<Bond> bond;
    std::unique_ptr<Lacp> lacp;        // lacp=active/passive
    int64_t next_poll_ms = 0;          // carrier readings
    int64_t next_rebalance_ms = 0;
    std::vector<uint64_t> tx_at_rebalance;  // bucket counters at the last rebalance
    uint64_t carrier_changes = 0;
    uint64_t rebalanced_buckets = 0;
    uint64_t lacp_rx_ignored = 0;      // LACPDUs on a bond with lacp=off
    uint64_t learning_packets = 0;     // sent to the new active member
    uint32_t published_active = 0;     // the active member last announced
  };
  const std::map<uint32_t, BondRt>& bonds() const { return bonds_; }
  // Packets sent per bucket (datapath counters).
  std::vector<uint64_t> bond_bucket_tx(const Bond& b) const { return backer_->dp().bond_bucket_tx(b.dp_id()); }
  // dpsctl bond/set-active-member, bond/enable-member, bond/disable-member:
  // "" or the error.
  std::string bond_set_active(const std::string& port, const std::string& member);
  std::string bond_set_enabled(const std::string& port, const std::string& member, bool enabled);
  void slow_protocol_rx(uint32_t dp_port, std::span<const uint8_t> frame) override;
  // Makes every port of the datapath that no bridge owns an OpenFlow port
  // with its number.
  void sync_ports();
  // The lowest OpenFlow port number >= 1 not in use on this bridge.
  uint32_t free_of_port() const;

  // --- Rules --------------------------------------------------------------
  // Apply, then re-translate the affected megaflows and wait until the PMDs
  // use the new actions. Errors change nothing.
  MaybeError flow_mod(const FlowMod& fm);
  MaybeError group_mod(const GroupMod& gm);
  // `ovs-ofctl add-flows` text (one rule per line; '#' comments). All lines
  // are parsed before any is applied; a rule that fails to apply stops the
  // load with "line N: ..." and the rules added before it are removed again.
  MaybeError add_flows(std::string_view text);
  MaybeError add_flow(std::string_view line) { return add_flows(line); }
  // Non-strict (or strict) modify / delete in ovs-ofctl syntax.
  MaybeError mod_flows(std::string_view text, bool strict = false);
  MaybeError del_flows(std::string_view text, bool strict = false);
  MaybeError add_group(std::string_view text);
  // Reads a rules file; the error names the file (and the line).
  MaybeError load_rules_file(const std::string& path);
  // The learning-switch rule set: priority=0,actions=NORMAL.
  void install_default_normal();
  // Replaces the bridge's mirrors (Bridge::set_mirrors) and re-translates
  // every megaflow when they changed; false when nothing changed. Invalid
  // mirrors are left out: bridge().mirrors.errors() says why.
  bool set_mirrors(std::vector<MirrorConfig> cfgs);
  // Replaces the bridge's samplers (Bridge::sampling) and re-translates
  // every megaflow when they changed; false when nothing changed.
  bool set_sampling(const BridgeSampling& s);

  // --- Meters (OpenFlow 1.3 METER_MOD and meter multiparts) --------------------
  // OFPT_METER_MOD: validates (MeterTable::apply lists the errors), puts
  // added / modified meters into the datapath before any megaflow can name
  // them; deleting a meter deletes the rules that use it, re-translates, and
  // only then removes the datapath meter. Errors change nothing.
  MaybeError meter_mod(const MeterMod& mm);
  // OFPMP_METER / OFPMP_METER_CONFIG for meter_id, or every meter for
  // OFPM_ALL (by id); empty when meter_id is unknown.
  std::vector<MeterStats> meter_stats(uint32_t meter_id);
  std::vector<MeterConfig> meter_config(uint32_t meter_id) const;
  MeterFeaturesReply meter_features() const { return MeterTable::features(); }
  // `ovs-ofctl add-meter` text (meter_table.h parse_meter), e.g.
  // "meter=1,kbps,burst,band=type=drop,rate=1000,burst_size=100".
  MaybeError add_meter(std::string_view text);
  // One line per meter, ovs-ofctl dump-meters syntax (format_meter).
  std::string dump_meters() const;
  // One line per meter, ovs-ofctl meter-stats syntax (format_meter_stats).
  std::string dump_meter_stats();

  // --- Control loop ---------------------------------------------------------
  // One non-blocking round. Returns the work done (upcalls + completions +
  // revalidations); 0 means the caller may sleep a little.
  unsigned run();
  // This bridge's part of a backer round (DpBacker::run calls it).
  unsigned run_bridge(int64_t now) override;

  // --- Views ----------------------------------------------------------------
  // ovs-ofctl dump-flows style, one rule per line (counters rolled up first).
  std::string dump_flows(bool with_stats = true);
  std::string dump_groups() const;
  std::string fdb_show();
  // ofproto/trace for a datapath key (in_port = datapath port number).
  std::string trace(const datapath::FlowKey& key);
  std::vector<PacketInEvent> take_packet_ins(size_t max) {
    return backer_->handler().take_packet_ins(&bridge_, max);
  }
  std::vector<RemovedRule> take_removed_rules(size_t max);
  OfprotoStats stats() const;

  // --- OpenFlow channel (connmgr.h, of_handler.h) -----------------------------
  // Every port of the bridge as ofp_port (name, MAC, PORT_DOWN/NO_* config,
  // link state, speed), by OpenFlow number.
  std::vector<PortDesc> port_descs() const;
  // Live counters of one port, read from the netdev now (never cached);
  // nullopt when of_port is not a port of the bridge.
  std::optional<PortStats> port_stats(uint32_t of_port) const;
  // OFPT_PORT_MOD: PORT_DOWN sets the netdev's admin state (PMDs skip an
  // admin-down port), NO_RECV / NO_FWD / NO_PACKET_IN / NO_FLOOD set the
  // BridgePort flags and re-translate every megaflow. Errors:
  // port_mod_failed/bad_port, bad_hw_addr (hw_addr is not the port's),
  // bad_config (a config bit this switch does not know).
  MaybeError port_mod(const PortMod& pm);
  // OFPT_PACKET_OUT: translates `actions` for `frame` (OFPP_TABLE runs the
  // pipeline) and has PMD 0 execute the result, the bridge's sFlow / IPFIX
  // samplers first (as OVS). of_in_port is an OpenFlow port, kPortController
  // or kPortLocal; the datapath in_port is the port's (0 for CONTROLLER, a
  // patch port, or a bridge without a LOCAL port). Errors: bad_request/bad_port,
  // bad_packet (empty or over 9 KiB), bad_action/* (translation failed),
  // bad_request/eperm (no mbuf or the PMD's command ring is full).
  MaybeError packet_out(uint32_t of_in_port, std::span<const uint8_t> frame,
                        const ActionList& actions);
  // Fail-open (standalone fail mode without a controller): adds / removes
  // the rule `priority=0,cookie=kFailOpenCookie,actions=NORMAL` in table 0.
  // An existing catch-all rule of priority 0 wins (nothing is added then).
  void set_fail_open(bool on);
  bool fail_open() const { return fail_open_; }
  // Rolls megaflow counters into the rules (before flow statistics).
  void roll_up_rule_counters() { backer_->revalidator().roll_up_all(now_ms()); }

  // --- Configuration and internals for tests ---------------------------------
  void set_flow_idle_ms(int64_t ms);
  void set_flow_limit(size_t n) { backer_->set_flow_limit(n); }
  // Debug: issue `per_s` flow-mods per second from run() (add then delete
  // rules `priority=<high>,ip,nw_dst=198.18.x.y actions=drop`, at most
  // kChurnLive alive), to measure rule churn under traffic. 0 = off.
  void set_churn_rate(double per_s);
  Bridge& bridge() override { return bridge_; }
  const Bridge& bridge() const override { return bridge_; }
  DpBacker& backer() { return *backer_; }
  // The Geneve TLV table (add-tlv-map): the same object as bridge().tlv_table.
  TlvTable& tlv_table() { return *bridge_.tlv_table; }
  const TlvTable& tlv_table() const { return *bridge_.tlv_table; }
  UkeyTable& ukeys() { return backer_->ukeys(); }
  Revalidator& revalidator() { return backer_->revalidator(); }
  int64_t now_ms() const { return backer_->now_ms(); }

 private:
  void init();
  // Queues the rules a change removed (flow-removed messages), then
  // revalidates what it touched.
  void after_change(const FlowModResult& res);
  void queue_removed(const FlowModResult& res);
  // Counts a flow/group mod as applied or failed; returns e.
  MaybeError counted(MaybeError e);
  void churn(int64_t now);
  // A copy of frame in a packet buffer; null when none is free.
  rte_mbuf* frame_mbuf(std::span<const uint8_t> frame);
  // Forgets the datapath ports of_port maps (its bond, when it is one).
  void release_port(uint32_t of_port);
  // Bonds.
  unsigned run_bonds(int64_t now);
  bool member_link_up(uint32_t dp_port) const;
  void configure_lacp(uint32_t of_port, BondRt& rt);
  BondChange lacp_verdicts(BondRt& rt, int64_t now);
  void send_lacpdus(BondRt& rt, int64_t now);
  BondChange rebalance(BondRt& rt, int64_t now);
  void publish(uint32_t of_port, BondRt& rt, BondChange ch);
  void send_learning_packets(BondRt& rt);
  bool send_frame(uint32_t dp_port, std::span<const uint8_t> frame);
  BondRt* bond_by_name(const std::string& port, uint32_t* of_port);

  OfprotoConfig cfg_;
  // Declared before bridge_: a private backer outlives the bridge.
  std::unique_ptr<DpBacker> own_backer_;
  DpBacker* backer_ = nullptr;
  datapath::Datapath* real_dp_ = nullptr;
  Bridge bridge_;
  std::deque<RemovedRule> removed_;
  int64_t next_timer_ms_ = 0;
  uint64_t flow_mods_ = 0;
  uint64_t flow_mod_errors_ = 0;
  // churn
  double churn_rate_ = 0;
  int64_t churn_start_ms_ = 0;
  uint64_t churn_done_ = 0;
  uint64_t churn_seq_ = 0;
  // OpenFlow channel
  bool fail_open_ = false;
  std::map<uint32_t, BondRt> bonds_;  // by OpenFlow port
};

// The bridges of one daemon over one backer, by name (dpswitchd: the
// reconciler creates and removes them, the runtime methods and the OpenFlow
// channels look them up).
class BridgeSet {
 public:
  // `defaults` is the template of every new bridge's OfprotoConfig.
  // Every bridge gets defaults.tlv_table (one is made when it is null), and
  // so does the backer's tunnel context: the Geneve options a tunnel port
  // receives and sends are mapped through the same table the flows use.
  BridgeSet(DpBacker& backer, OfprotoConfig defaults = {}) : backer_(backer), defaults_(std::move(defaults)) {
    if (!defaults_.tlv_table) defaults_.tlv_table = std::make_shared<TlvTable>();
    backer_.tunnels().set_tlv_table(defaults_.tlv_table.get());
  }
  // Bridges go before the backer (their megaflows with them).
  ~BridgeSet() {
    clear();
    backer_.tunnels().set_tlv_table(nullptr);
  }
  Ofproto* find(const std::string& name) const;
  // Creates the bridge (or returns the existing one).
  Ofproto& add(const std::string& name);
  // Destroys the bridge; false when there is none of that name.
  bool remove(const std::string& name);
  void clear();
  // Names, sorted ("br0, br1"), for errors that list them.
  std::vector<std::string> names() const;
  std::string names_text() const;
  size_t size() const { return by_name_.size(); }
  const std::map<std::string, std::unique_ptr<Ofproto>>& all() const { return by_name_; }
  DpBacker& backer() { return backer_; }

 private:
  DpBacker& backer_;
  OfprotoConfig defaults_;
  std::map<std::string, std::unique_ptr<Ofproto>> by_name_;
};

}  // namespace dps::ofproto
