#include "lacp.h"

#include <cstring>
#include <tuple>

#include "unaligned.h"

namespace dps::ofproto {
namespace {

constexpr uint8_t kLacpMac[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x02};
constexpr size_t kPayload = 110;

using base::load_be16;
using base::store_be16;

// One actor or partner TLV body (18 bytes after type and length).
LacpInfo read_info(const uint8_t* p) {
  LacpInfo i;
  i.sys_priority = load_be16(p);
  std::memcpy(i.sys_id.data(), p + 2, 6);
  i.key = load_be16(p + 8);
  i.port_priority = load_be16(p + 10);
  i.port = load_be16(p + 12);
  i.state = p[14];
  return i;
}

void write_info(uint8_t* p, uint8_t type, const LacpInfo& i) {
  p[0] = type;
  p[1] = 20;
  store_be16(p + 2, i.sys_priority);
  std::memcpy(p + 4, i.sys_id.data(), 6);
  store_be16(p + 10, i.key);
  store_be16(p + 12, i.port_priority);
  store_be16(p + 14, i.port);
  p[16] = i.state;
}

}  // namespace

std::optional<Lacpdu> parse_lacpdu(std::span<const uint8_t> f, std::string* error) {
  size_t off = 12;
  if (f.size() >= 16 && load_be16(f.data() + 12) == 0x8100) off = 16;  // a tagged LACPDU is still one
  if (f.size() < off + 2 + kPayload) {
    *error = "LACPDU too short (" + std::to_string(f.size()) + " bytes)";
    return std::nullopt;
  }
  const uint8_t* p = f.data() + off;
  if (load_be16(p) != kEthTypeSlow || p[2] != kSlowSubtypeLacp) {
    *error = "not a LACPDU (ethertype/subtype)";
    return std::nullopt;
  }
  p += 2;
  // subtype, version, then actor (type 1, len 20), partner (type 2, len 20),
  // collector (type 3, len 16), terminator (type 0, len 0).
  if (p[2] != 1 || p[3] != 20 || p[22] != 2 || p[23] != 20 || p[42] != 3 || p[43] != 16) {
    *error = "LACPDU TLVs out of order or of the wrong length";
    return std::nullopt;
  }
  Lacpdu d;
  d.actor = read_info(p + 4);
  d.partner = read_info(p + 24);
  d.collector_max_delay = load_be16(p + 44);
  return d;
}

std::vector<uint8_t> build_lacpdu(const std::array<uint8_t, 6>& src_mac, const Lacpdu& pdu) {
  std::vector<uint8_t> f(kLacpduFrameLen, 0);
  std::memcpy(f.data(), kLacpMac, 6);
  std::memcpy(f.data() + 6, src_mac.data(), 6);
  store_be16(f.data() + 12, kEthTypeSlow);
  uint8_t* p = f.data() + 14;
  p[0] = kSlowSubtypeLacp;
  p[1] = 1;  // version
  write_info(p + 2, 1, pdu.actor);
  write_info(p + 22, 2, pdu.partner);
  p[42] = 3;
  p[43] = 16;
  store_be16(p + 44, pdu.collector_max_delay);
  // p[58], p[59]: terminator type 0, length 0; the rest is reserved (zero).
  return f;
}

std::string lacp_state_text(uint8_t s) {
  static const char* names[8] = {"activity", "timeout", "aggregation", "synchronized",
                                 "collecting", "distributing", "defaulted", "expired"};
  std::string out;
  for (int b = 0; b < 8; b++)
    if (s & (1 << b)) {
      if (!out.empty()) out += ' ';
      out += names[b];
    }
  return out;
}

const char* lacp_rx_status_name(LacpRxStatus s) {
  switch (s) {
    case LacpRxStatus::kCurrent: return "current";
    case LacpRxStatus::kExpired: return "expired";
    case LacpRxStatus::kDefaulted: return "defaulted";
  }
  return "?";
}

void Lacp::configure(const LacpSettings& s) {
  if (s == s_) return;
  s_ = s;
  for (auto& [id, m] : members_) m.ntt = true;
  update_attached();
}

void Lacp::set_member(uint32_t id, uint16_t port, const std::array<uint8_t, 6>& mac) {
  LacpMemberState& m = members_[id];
  if (m.port != port || m.mac != mac) m.ntt = true;
  m.port = port;
  m.mac = mac;
  update_attached();
}

void Lacp::remove_member(uint32_t id) {
  members_.erase(id);
  update_attached();
}

void Lacp::rx(uint32_t id, std::span<const uint8_t> frame, int64_t now_ms) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  std::string error;
  std::optional<Lacpdu> pdu = parse_lacpdu(frame, &error);
  if (!pdu) {
    it->second.rx_bad++;
    return;
  }
  rx_pdu(id, *pdu, now_ms);
}

void Lacp::rx_pdu(uint32_t id, const Lacpdu& pdu, int64_t now_ms) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  LacpMemberState& m = it->second;
  m.rx_pdus++;
  m.status = LacpRxStatus::kCurrent;
  m.rx_deadline = now_ms + kRxMultiplier * (s_.fast ? kFastMs : kSlowMs);
  const bool partner_rate_changed = (m.partner.state ^ pdu.actor.state) & kLacpTimeout;
  m.partner = pdu.actor;
  // The partner's view of us is stale: tell it (need to transmit).
  LacpInfo mine = actor_info(id);
  const LacpInfo& view = pdu.partner;
  if (!(view.sys_priority == mine.sys_priority && view.sys_id == mine.sys_id && view.key == mine.key &&
        view.port == mine.port && view.port_priority == mine.port_priority &&
        ((view.state ^ mine.state) & (kLacpActivity | kLacpTimeout | kLacpAggregation | kLacpSync)) == 0))
    m.ntt = true;
  if (partner_rate_changed) m.next_tx = now_ms;
  m.partner_view = view;
  update_attached();
  // Attachment may have changed our own state bits: the partner should know.
  if (actor_info(id).state != mine.state) m.ntt = true;
}

bool Lacp::carrier_changed(uint32_t id, int64_t now_ms) {
  auto it = members_.find(id);
  if (it == members_.end()) return false;
  LacpMemberState& m = it->second;
  for (auto& [other, o] : members_) o.ntt = true;
  if (m.status != LacpRxStatus::kCurrent && !s_.active) return false;
  if (m.status == LacpRxStatus::kDefaulted) return false;  // no partner to expire
  m.status = LacpRxStatus::kExpired;
  m.expired++;
  m.partner.state = (m.partner.state | kLacpTimeout) & ~kLacpSync;
  m.rx_deadline = now_ms + kRxMultiplier * kFastMs;
  update_attached();
  return true;
}

bool Lacp::run(int64_t now_ms) {
  bool changed = false;
  for (auto& [id, m] : members_) {
    if (m.rx_deadline < 0 || now_ms < m.rx_deadline) continue;
    if (m.status == LacpRxStatus::kCurrent) {
      // One more interval at the short rate before the partner is forgotten.
      m.status = LacpRxStatus::kExpired;
      m.expired++;
      m.partner.state |= kLacpTimeout;
      m.rx_deadline = now_ms + kRxMultiplier * kFastMs;
    } else {
      m.status = LacpRxStatus::kDefaulted;
      m.defaulted++;
      m.partner = LacpInfo{};
      m.partner_view = LacpInfo{};
      m.rx_deadline = -1;
    }
    m.ntt = true;
    changed = true;
  }
  if (changed) update_attached();
  return changed;
}

LacpInfo Lacp::actor_info(uint32_t id) const {
  LacpInfo a;
  a.sys_priority = s_.sys_priority;
  a.sys_id = s_.sys_id;
  a.key = s_.key;
  a.port_priority = 65535;
  auto it = members_.find(id);
  if (it == members_.end()) return a;
  const LacpMemberState& m = it->second;
  a.port = m.port;
  a.state = kLacpAggregation;
  if (s_.active) a.state |= kLacpActivity;
  if (s_.fast) a.state |= kLacpTimeout;
  if (m.attached) a.state |= kLacpSync;
  if (m.status == LacpRxStatus::kDefaulted) a.state |= kLacpDefaulted;
  if (m.status == LacpRxStatus::kExpired) a.state |= kLacpExpired;
  if (may_enable(id)) a.state |= kLacpCollecting | kLacpDistributing;
  return a;
}

std::vector<std::pair<uint32_t, std::vector<uint8_t>>> Lacp::take_tx(int64_t now_ms) {
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> out;
  for (auto& [id, m] : members_) {
    // Passive: only to an active partner.
    if (!s_.active && !(m.partner.state & kLacpActivity)) continue;
    if (!m.ntt && now_ms < m.next_tx) continue;
    Lacpdu pdu;
    pdu.actor = actor_info(id);
    pdu.partner = m.partner;
    out.emplace_back(id, build_lacpdu(m.mac, pdu));
    m.ntt = false;
    m.tx_pdus++;
    // The partner's requested rate; with no partner (defaulted) our own, so
    // that a link coming back to a partner that cannot see carrier either
    // (OVS-DPDK's af_packet) re-aggregates within a fast interval, not 30 s.
    const bool fast = (m.partner.state & kLacpTimeout) || (m.status == LacpRxStatus::kDefaulted && s_.fast);
    m.next_tx = now_ms + (fast ? kFastMs : kSlowMs);
  }
  return out;
}

// OVS lacp_update_attached: the lead is the best partner among members
// with one; a member is attached when its partner is the lead's
// aggregator and aggregatable.
void Lacp::update_attached() {
  const LacpMemberState* lead = nullptr;
  for (const auto& [id, m] : members_) {
    if (m.status == LacpRxStatus::kDefaulted || !(m.partner.state & kLacpAggregation)) continue;
    if (!lead || std::tie(m.partner.sys_priority, m.partner.sys_id, m.partner.key) <
                     std::tie(lead->partner.sys_priority, lead->partner.sys_id, lead->partner.key))
      lead = &m;
  }
  negotiated_ = false;
  for (const auto& [id, m] : members_)
    if (m.status != LacpRxStatus::kDefaulted) negotiated_ = true;
  for (auto& [id, m] : members_)
    m.attached = lead && m.status != LacpRxStatus::kDefaulted && (m.partner.state & kLacpAggregation) &&
                 m.partner.same_aggregator(lead->partner);
}

bool Lacp::may_enable(uint32_t id) const {
  auto it = members_.find(id);
  if (it == members_.end()) return false;
  const LacpMemberState& m = it->second;
  if (!negotiated_) return s_.fallback_ab;
  return m.attached && (m.partner.state & kLacpSync);
}

}  // namespace dps::ofproto
