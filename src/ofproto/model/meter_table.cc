#include "meter_table.h"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace dps::ofproto {

namespace {

MaybeError mm_error(MeterModFailedCode c, std::string msg) {
  return OfError::make(OfErrorType::kMeterModFailed, c, std::move(msg));
}

constexpr uint16_t kKnownMeterFlags = kMeterFlagKbps | kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats;

std::string id_name(uint32_t id) {
  switch (id) {
    case kMeterSlowpath: return "OFPM_SLOWPATH";
    case kMeterController: return "OFPM_CONTROLLER";
    case kMeterAll: return "OFPM_ALL";
    default: return std::to_string(id);
  }
}

}  // namespace

const Meter* MeterTable::find(uint32_t id) const {
  auto it = meters_.find(id);
  return it == meters_.end() ? nullptr : &it->second;
}

uint32_t MeterTable::free_dp_id() const {
  std::vector<bool> used(max_meters, false);
  for (const auto& [id, m] : meters_)
    if (m.dp_id < used.size()) used[m.dp_id] = true;
  for (uint32_t i = 0; i < used.size(); i++)
    if (!used[i]) return i;
  return static_cast<uint32_t>(max_meters);  // none (the caller checked the count)
}

MaybeError MeterTable::check_config(const MeterMod& mm) const {
  const std::string where = "meter " + std::to_string(mm.meter_id);
  if (mm.flags & ~kKnownMeterFlags)
    return mm_error(MeterModFailedCode::kBadFlags,
                    where + ": unknown flag bits 0x" + [&] {
                      char b[8];
                      std::snprintf(b, sizeof b, "%x", mm.flags & ~kKnownMeterFlags);
                      return std::string(b);
                    }() + " (known: kbps, pktps, burst, stats)");
  const bool kbps = mm.flags & kMeterFlagKbps, pktps = mm.flags & kMeterFlagPktps;
  if (kbps == pktps)
    return mm_error(MeterModFailedCode::kBadFlags,
                    where + (kbps ? ": kbps and pktps are exclusive" : ": needs kbps or pktps"));
  if (mm.bands.size() > datapath::kMaxMeterBands)
    return mm_error(MeterModFailedCode::kOutOfBands,
                    where + ": " + std::to_string(mm.bands.size()) + " bands, at most " +
                        std::to_string(datapath::kMaxMeterBands));
  const bool burst = mm.flags & kMeterFlagBurst;
  for (size_t i = 0; i < mm.bands.size(); i++) {
    const MeterBand& b = mm.bands[i];
    const std::string bw = where + " band " + std::to_string(i + 1);
    if (b.type != MeterBandType::kDrop && b.type != MeterBandType::kDscpRemark)
      return mm_error(MeterModFailedCode::kBadBand,
                      bw + ": band type " + std::to_string(static_cast<unsigned>(b.type)) +
                          " is not supported (drop and dscp_remark are)");
    if (b.rate == 0) return mm_error(MeterModFailedCode::kBadRate, bw + ": rate 0");
    if (burst && b.burst_size == 0)
      return mm_error(MeterModFailedCode::kBadBurst, bw + ": burst flag with burst_size 0");
    if (burst && kbps && uint64_t{b.burst_size} * 1000 < datapath::kMeterMinBurstBits)
      return mm_error(MeterModFailedCode::kBadBurst,
                      bw + ": burst_size " + std::to_string(b.burst_size) +
                          " kbit cannot hold one full-size frame (at least " +
                          std::to_string((datapath::kMeterMinBurstBits + 999) / 1000) + " kbit)");
    if (b.type == MeterBandType::kDscpRemark && (b.prec_level < 1 || b.prec_level > 3))
      return mm_error(MeterModFailedCode::kBadBandValue,
                      bw + ": dscp_remark prec_level " + std::to_string(b.prec_level) +
                          " (drop precedence levels to add: 1..3)");
  }
  return std::nullopt;
}

MaybeError MeterTable::apply(const MeterMod& mm, int64_t now_ms, MeterModResult* res) {
  const std::string where = "meter " + id_name(mm.meter_id);
  switch (mm.command) {
    case MeterModCommand::kAdd:
    case MeterModCommand::kModify:
    case MeterModCommand::kDelete: break;
    default:
      return mm_error(MeterModFailedCode::kBadCommand,
                      "unknown meter-mod command " + std::to_string(static_cast<unsigned>(mm.command)));
  }
  if (mm.command == MeterModCommand::kDelete) {
    if (mm.meter_id == 0 || (mm.meter_id > kMeterMax && mm.meter_id != kMeterAll))
      return mm_error(MeterModFailedCode::kInvalidMeter,
                      where + ": not a meter id (1.." + std::to_string(kMeterMax) + " or OFPM_ALL)");
    std::vector<uint32_t> victims;
    if (mm.meter_id == kMeterAll) {
      for (const auto& [id, m] : meters_) victims.push_back(id);
    } else if (contains(mm.meter_id)) {
      victims.push_back(mm.meter_id);
    }
    for (uint32_t id : victims) {
      auto it = meters_.find(id);
      if (res) res->deleted.push_back(it->second);
      meters_.erase(it);
    }
    return std::nullopt;
  }
  if (mm.meter_id == 0 || mm.meter_id > kMeterMax)
    return mm_error(MeterModFailedCode::kInvalidMeter,
                    where + ": meter ids are 1.." + std::to_string(kMeterMax) +
                        (mm.meter_id > kMeterMax ? " (this switch has no virtual meters)" : ""));
  if (MaybeError e = check_config(mm)) return e;
  auto it = meters_.find(mm.meter_id);
  if (mm.command == MeterModCommand::kAdd) {
    if (it != meters_.end()) return mm_error(MeterModFailedCode::kMeterExists, where + " exists");
    if (meters_.size() >= max_meters)
      return mm_error(MeterModFailedCode::kOutOfMeters,
                      where + ": the meter table is full (" + std::to_string(max_meters) + " meters)");
    Meter m;
    m.id = mm.meter_id;
    m.flags = mm.flags;
    m.bands = mm.bands;
    m.dp_id = free_dp_id();
    m.created_ms = now_ms;
    it = meters_.emplace(m.id, std::move(m)).first;
  } else {
    if (it == meters_.end())
      return mm_error(MeterModFailedCode::kUnknownMeter, where + " does not exist");
    it->second.flags = mm.flags;
    it->second.bands = mm.bands;
  }
  if (res) res->set.push_back(it->second);
  return std::nullopt;
}

MeterFeaturesReply MeterTable::features() {
  MeterFeaturesReply f;
  f.max_meter = datapath::kMaxMeters;
  f.band_types = 1u << static_cast<unsigned>(MeterBandType::kDrop) |
                 1u << static_cast<unsigned>(MeterBandType::kDscpRemark);
  f.capabilities = kKnownMeterFlags;
  f.max_bands = static_cast<uint8_t>(datapath::kMaxMeterBands);
  f.max_color = 0;
  return f;
}

MeterConfig MeterTable::config(const Meter& m) {
  MeterConfig c;
  c.flags = m.flags;
  c.meter_id = m.id;
  c.bands = m.bands;
  return c;
}

datapath::DpMeterConfig MeterTable::to_dp(const Meter& m) {
  datapath::DpMeterConfig c;
  c.pktps = m.flags & kMeterFlagPktps;
  for (const MeterBand& b : m.bands) {
    datapath::DpMeterBand d;
    d.kind = b.type == MeterBandType::kDscpRemark ? datapath::MeterBandKind::kDscpRemark
                                                  : datapath::MeterBandKind::kDrop;
    d.prec_level = b.prec_level;
    d.rate = b.rate;
    d.burst = (m.flags & kMeterFlagBurst) ? b.burst_size : 0;  // used only with BURST
    c.bands.push_back(d);
  }
  return c;
}

// --- Text -------------------------------------------------------------------

namespace {

MaybeError text_error(const std::string& msg) {
  return OfError::make(OfErrorType::kMeterModFailed, MeterModFailedCode::kUnknown, msg);
}

bool parse_u32(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits on ',' and whitespace, dropping empty pieces.
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ',' || std::isspace(static_cast<unsigned char>(s[i])))) i++;
    size_t j = i;
    while (j < s.size() && s[j] != ',' && !std::isspace(static_cast<unsigned char>(s[j]))) j++;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

MaybeError parse_meter(std::string_view text, MeterMod* out) {
  MeterMod mm;
  mm.command = MeterModCommand::kAdd;
  mm.flags = 0;
  bool have_id = false, in_bands = false;
  for (std::string_view tok : tokens(text)) {
    const std::string t(tok);
    size_t eq = tok.find('=');
    std::string_view name = tok.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : tok.substr(eq + 1);
    if (!in_bands && (name == "band" || name == "bands")) {
      in_bands = true;
      // "band=type=drop": the rest is the first band field.
      eq = value.find('=');
      name = value.substr(0, eq);
      value = eq == std::string_view::npos ? std::string_view{} : value.substr(eq + 1);
      if (name.empty()) continue;  // "bands=" followed by a space
    }
    if (!in_bands) {
      if (name == "meter") {
        if (value == "all") {
          mm.meter_id = kMeterAll;
        } else if (!parse_u32(value, &mm.meter_id)) {
          return text_error("'" + t + "': meter id is not a number");
        }
        have_id = true;
      } else if (name == "kbps" && value.empty()) {
        mm.flags |= kMeterFlagKbps;
      } else if (name == "pktps" && value.empty()) {
        mm.flags |= kMeterFlagPktps;
      } else if (name == "burst" && value.empty()) {
        mm.flags |= kMeterFlagBurst;
      } else if (name == "stats" && value.empty()) {
        mm.flags |= kMeterFlagStats;
      } else {
        return text_error("'" + t + "': unknown meter field (meter, kbps, pktps, burst, stats, band)");
      }
      continue;
    }
    // Band fields.
    if (name == "type") {
      MeterBand b;
      if (value == "drop")
        b.type = MeterBandType::kDrop;
      else if (value == "dscp_remark")
        b.type = MeterBandType::kDscpRemark;
      else
        return text_error("'" + t + "': band type must be drop or dscp_remark");
      mm.bands.push_back(b);
      continue;
    }
    if (mm.bands.empty()) return text_error("'" + t + "': a band starts with type=");
    MeterBand& b = mm.bands.back();
    uint32_t v = 0;
    if (!parse_u32(value, &v)) return text_error("'" + t + "': value is not a number");
    if (name == "rate") {
      b.rate = v;
    } else if (name == "burst_size") {
      b.burst_size = v;
    } else if (name == "prec_level") {
      if (b.type != MeterBandType::kDscpRemark || v > 255)
        return text_error("'" + t + "': prec_level applies to dscp_remark bands (0..255)");
      b.prec_level = static_cast<uint8_t>(v);
    } else {
      return text_error("'" + t + "': unknown band field (type, rate, burst_size, prec_level)");
    }
  }
  if (!have_id) return text_error("meter=ID is missing");
  *out = std::move(mm);
  return std::nullopt;
}

std::string format_meter(const Meter& m) {
  std::string s = "meter=" + std::to_string(m.id);
  if (m.flags & kMeterFlagKbps) s += " kbps";
  if (m.flags & kMeterFlagPktps) s += " pktps";
  if (m.flags & kMeterFlagBurst) s += " burst";
  if (m.flags & kMeterFlagStats) s += " stats";
  s += " bands=";
  for (size_t i = 0; i < m.bands.size(); i++) {
    const MeterBand& b = m.bands[i];
    if (i) s += ' ';
    s += b.type == MeterBandType::kDscpRemark ? "type=dscp_remark" : "type=drop";
    s += " rate=" + std::to_string(b.rate);
    if (m.flags & kMeterFlagBurst) s += " burst_size=" + std::to_string(b.burst_size);
    if (b.type == MeterBandType::kDscpRemark) s += " prec_level=" + std::to_string(b.prec_level);
  }
  return s;
}

std::string format_meter_stats(const MeterStats& st) {
  char dur[32];
  std::snprintf(dur, sizeof dur, "%u.%03us", st.duration_sec, st.duration_nsec / 1000000);
  std::string s = "meter=" + std::to_string(st.meter_id) +
                  " flow_count=" + std::to_string(st.flow_count) +
                  " packet_in_count=" + std::to_string(st.packet_in_count) +
                  " byte_in_count=" + std::to_string(st.byte_in_count) + " duration=" + dur +
                  " bands:";
  for (size_t i = 0; i < st.bands.size(); i++) {
    s += ' ';
    s += std::to_string(i);
    s += ": packet_count=";
    s += std::to_string(st.bands[i].packet_band_count);
    s += " byte_count=";
    s += std::to_string(st.bands[i].byte_band_count);
  }
  return s;
}

}  // namespace dps::ofproto
