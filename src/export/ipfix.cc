#include "ipfix.h"

#include <array>
#include <stdexcept>
#include <string>

#include "byte_writer.h"

namespace dps::exporter {
namespace {

using namespace ie;

// The IPv4 and IPv6 templates differ only in their address elements.
constexpr std::array<IpfixFieldSpec, 19> ip_fields(uint16_t src, uint16_t dst, uint16_t len) {
  return {{
      {kSourceMacAddress, 6}, {kDestinationMacAddress, 6}, {kEthernetType, 2}, {kVlanId, 2},
      {src, len}, {dst, len}, {kProtocolIdentifier, 1}, {kIpClassOfService, 1}, {kTcpControlBits, 2},
      {kSourceTransportPort, 2}, {kDestinationTransportPort, 2},
      {kIngressInterface, 4}, {kEgressInterface, 4}, {kFlowDirection, 1}, {kPacketDeltaCount, 8},
      {kOctetDeltaCount, 8}, {kFlowStartMilliseconds, 8}, {kFlowEndMilliseconds, 8}, {kFlowEndReason, 1},
  }};
}
constexpr auto kIpv4Fields = ip_fields(kSourceIpv4Address, kDestinationIpv4Address, 4);
constexpr auto kIpv6Fields = ip_fields(kSourceIpv6Address, kDestinationIpv6Address, 16);
constexpr IpfixFieldSpec kL2Fields[] = {
    {kSourceMacAddress, 6}, {kDestinationMacAddress, 6}, {kEthernetType, 2}, {kVlanId, 2},
    {kIngressInterface, 4}, {kEgressInterface, 4}, {kFlowDirection, 1}, {kPacketDeltaCount, 8},
    {kOctetDeltaCount, 8}, {kFlowStartMilliseconds, 8}, {kFlowEndMilliseconds, 8}, {kFlowEndReason, 1},
};
constexpr uint16_t kTemplateIds[] = {kIpfixTemplateIpv4, kIpfixTemplateIpv6, kIpfixTemplateL2};

size_t record_size(std::span<const IpfixFieldSpec> fields) {
  size_t n = 0;
  for (const IpfixFieldSpec& f : fields) n += f.length;
  return n;
}

// One field of a record, by information element.
void put_field(ByteWriter& w, const IpfixFieldSpec& spec, const FlowRecord& r) {
  const FlowFields& f = r.f;
  switch (spec.id) {
    case kSourceMacAddress: w.bytes(f.src_mac); break;
    case kDestinationMacAddress: w.bytes(f.dst_mac); break;
    case kEthernetType: w.u16(f.eth_type); break;
    case kVlanId: w.u16(f.vlan); break;
    case kSourceIpv4Address:
    case kSourceIpv6Address: w.bytes(std::span<const uint8_t>(f.src.b.data(), spec.length)); break;
    case kDestinationIpv4Address:
    case kDestinationIpv6Address: w.bytes(std::span<const uint8_t>(f.dst.b.data(), spec.length)); break;
    case kProtocolIdentifier: w.u8(f.proto); break;
    case kIpClassOfService: w.u8(f.tos); break;
    case kTcpControlBits: w.u16(f.tcp_flags); break;
    case kSourceTransportPort: w.u16(f.src_port); break;
    case kDestinationTransportPort: w.u16(f.dst_port); break;
    case kIngressInterface: w.u32(f.in_if); break;
    case kEgressInterface: w.u32(f.out_if); break;
    case kFlowDirection: w.u8(f.direction); break;
    case kPacketDeltaCount: w.u64(r.packets); break;
    case kOctetDeltaCount: w.u64(r.bytes); break;
    case kFlowStartMilliseconds: w.u64(r.start_ms); break;
    case kFlowEndMilliseconds: w.u64(r.end_ms); break;
    case kFlowEndReason: w.u8(static_cast<uint8_t>(r.reason)); break;
    default: w.zeros(spec.length); break;
  }
}

}  // namespace

std::span<const IpfixFieldSpec> IpfixEncoder::template_fields(uint16_t id) {
  switch (id) {
    case kIpfixTemplateIpv4: return kIpv4Fields;
    case kIpfixTemplateIpv6: return kIpv6Fields;
    case kIpfixTemplateL2: return kL2Fields;
    default: return {};
  }
}

uint16_t IpfixEncoder::template_for(const FlowRecord& r) {
  // An IPv4/IPv6 ethertype whose addresses are of the other family cannot be
  // told apart from a parse failure: the L2 template then.
  if (r.f.is_ipv4() && !r.f.src.v6) return kIpfixTemplateIpv4;
  if (r.f.is_ipv6() && r.f.src.v6) return kIpfixTemplateIpv6;
  return kIpfixTemplateL2;
}

// The message being built: header, optional template set, data sets.
struct IpfixEncoder::Builder {
  IpfixEncoder& enc;
  uint32_t export_time_s;
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> msg;
  size_t set_at = 0;     // offset of the open data set's header (0: none)
  uint16_t set_id = 0;
  unsigned records = 0;  // in msg

  void begin(bool templates) {
    msg.clear();
    ByteWriter w(msg);
    w.u16(kIpfixVersion);
    w.u16(0);  // length: at finish()
    w.u32(export_time_s);
    w.u32(enc.seq_);
    w.u32(enc.cfg_.observation_domain);
    if (templates) put_templates(w);
    records = 0;
  }
  void put_templates(ByteWriter& w) {
    size_t at = w.size();
    w.u16(kIpfixTemplateSetId);
    w.u16(0);
    for (uint16_t id : kTemplateIds) {
      std::span<const IpfixFieldSpec> fields = template_fields(id);
      w.u16(id);
      w.u16(static_cast<uint16_t>(fields.size()));
      for (const IpfixFieldSpec& f : fields) {
        w.u16(f.id);
        w.u16(f.length);
      }
    }
    w.put_u16_at(at + 2, static_cast<uint16_t>(w.size() - at));
    enc.templates_sent_s_ = export_time_s;
    enc.templates_due_ = false;
  }
  void close_set() {
    if (set_at) ByteWriter(msg).put_u16_at(set_at + 2, static_cast<uint16_t>(msg.size() - set_at));
    set_at = 0;
    set_id = 0;
  }
  void finish() {
    close_set();
    ByteWriter(msg).put_u16_at(2, static_cast<uint16_t>(msg.size()));
    out.push_back(std::move(msg));
    enc.messages_++;
  }
  void add(const FlowRecord& r) {
    uint16_t id = template_for(r);
    std::span<const IpfixFieldSpec> fields = template_fields(id);
    size_t need = record_size(fields) + (id == set_id ? 0 : 4);
    if (msg.size() + need > enc.cfg_.max_message && (records || msg.size() > kIpfixHeaderBytes)) {
      finish();
      begin(enc.cfg_.template_refresh_s == 0);
    }
    ByteWriter w(msg);
    if (id != set_id) {
      close_set();
      set_at = w.size();
      set_id = id;
      w.u16(id);
      w.u16(0);
    }
    for (const IpfixFieldSpec& f : fields) put_field(w, f, r);
    records++;
    enc.seq_++;
  }
};

IpfixEncoder::IpfixEncoder(IpfixConfig cfg) : cfg_(cfg) {
  if (cfg_.max_message < kIpfixMinMessage || cfg_.max_message > 65535)
    throw std::invalid_argument("IPFIX max message size " + std::to_string(cfg_.max_message) +
                                " is not from " + std::to_string(kIpfixMinMessage) + " to 65535 bytes");
}

bool IpfixEncoder::templates_now(uint32_t t) const {
  return templates_due_ || !templates_sent_s_ || cfg_.template_refresh_s == 0 ||
         t - *templates_sent_s_ >= cfg_.template_refresh_s;
}

std::vector<std::vector<uint8_t>> IpfixEncoder::encode(std::span<const FlowRecord> records,
                                                       uint32_t export_time_s) {
  if (records.empty()) return {};
  Builder b{*this, export_time_s, {}, {}, 0, 0, 0};
  b.begin(templates_now(export_time_s));
  for (const FlowRecord& r : records) b.add(r);
  b.finish();
  return std::move(b.out);
}

}  // namespace dps::exporter
