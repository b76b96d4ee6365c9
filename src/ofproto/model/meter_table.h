// meter_table.h - the OpenFlow 1.3 meter table of one bridge.
//
// What: meters by OpenFlow meter id (1..OFPM_MAX), each with its flags
// (KBPS or PKTPS, BURST, STATS) and bands (drop, dscp_remark), added,
// modified and deleted with METER_MOD semantics and OpenFlow 1.3.5 error
// codes; the datapath meter id each one is enforced under; the conversion to
// the datapath's DpMeterConfig; METER_FEATURES; and the `ovs-ofctl
// add-meter` / dump-meters text forms.
//
// Design: apply() validates the whole message first and changes nothing on
// error. Controllers pick any id up to OFPM_MAX, the datapath has a fixed
// array of kMaxMeters, so every meter gets the lowest free datapath id when
// it is added and keeps it until deleted. Deleting a meter removes the rules
// that use it (OpenFlow 1.3.5 section 6.6): that is the Pipeline's job
// (meter_mod), and pushing meters to the datapath is Ofproto's. Rules may
// only name existing meters (ValidationContext::meter_exists), so a
// translation always finds the meter a rule names. Deleting an unknown meter
// is not an error (as OVS); deleting OFPM_ALL deletes every meter.
// The datapath ids are per table: bridges joined by patch ports each have
// their own meters and must not share one datapath's meter array.
//
// Thread-safety: owned by the ofproto thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "meter.h"
#include "of_error.h"
#include "of_messages.h"

namespace dps::ofproto {

struct Meter {
  uint32_t id = 0;     // OpenFlow meter id
  uint16_t flags = 0;  // MeterFlags
  std::vector<MeterBand> bands;
  uint32_t dp_id = 0;  // datapath meter id (0..datapath::kMaxMeters-1)
  int64_t created_ms = 0;
};

// What one meter-mod changed (copies: valid after the table changes again).
struct MeterModResult {
  std::vector<Meter> set;      // added or modified: push to the datapath
  std::vector<Meter> deleted;  // removed: their rules go, then the datapath meter
};

class MeterTable {
 public:
  // Applies mm. Errors (meter_mod_failed/*, changing nothing): bad_command,
  // invalid_meter (id 0, above OFPM_MAX, or a reserved id other than
  // OFPM_ALL for delete), meter_exists (add), unknown_meter (modify),
  // bad_flags (not exactly one of KBPS/PKTPS, unknown bits), out_of_bands
  // (more than kMaxMeterBands), bad_band (experimenter band), bad_rate (0),
  // bad_burst (BURST with burst_size 0, or a kbps burst below one frame),
  // bad_band_value (dscp_remark prec_level not 1..3), out_of_meters.
  MaybeError apply(const MeterMod& mm, int64_t now_ms, MeterModResult* res = nullptr);

  const Meter* find(uint32_t id) const;
  bool contains(uint32_t id) const { return meters_.count(id) != 0; }
  size_t size() const { return meters_.size(); }
  const std::map<uint32_t, Meter>& all() const { return meters_; }

  // Meters this table holds at most (tests lower it); <= kMaxMeters.
  size_t max_meters = datapath::kMaxMeters;

  static MeterFeaturesReply features();
  static MeterConfig config(const Meter& m);
  static datapath::DpMeterConfig to_dp(const Meter& m);

 private:
  MaybeError check_config(const MeterMod& mm) const;
  uint32_t free_dp_id() const;

  std::map<uint32_t, Meter> meters_;  // by OpenFlow id (ordered: dumps are sorted)
};

// `ovs-ofctl add-meter` syntax, e.g.
//   meter=1,kbps,burst,stats,band=type=drop,rate=1000,burst_size=100
//   meter=2,pktps,bands=type=dscp_remark,rate=500,prec_level=1,type=drop,rate=1000
// ("band=" and "bands=" both start the band list; every "type=" starts a
// band; fields may also be separated by spaces). Gives an add command.
MaybeError parse_meter(std::string_view text, MeterMod* out);
// One meter in the same syntax, space separated, as ovs-ofctl dump-meters:
//   meter=1 kbps burst stats bands=type=drop rate=1000 burst_size=100
std::string format_meter(const Meter& m);
// One meter's statistics, as ovs-ofctl meter-stats:
//   meter=1 flow_count=2 packet_in_count=10 byte_in_count=640 duration=1.500s bands: 0: packet_count=3 byte_count=192
std::string format_meter_stats(const MeterStats& s);

}  // namespace dps::ofproto
