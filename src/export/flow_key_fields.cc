#include "flow_key_fields.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace dps::exporter {
namespace {

constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoIcmpv6 = 58;

}  // namespace

FlowFields flow_fields_from_key(const datapath::FlowKey& k) {
  FlowFields f;
  f.in_if = k.in_port;
  f.eth_type = ntohs(k.eth_type);
  uint16_t tci = ntohs(k.vlan_tci);
  f.vlan = (tci & datapath::kVlanCfi) ? static_cast<uint16_t>(tci & 0x0fff) : 0;
  std::copy(k.dl_src, k.dl_src + 6, f.src_mac.begin());
  std::copy(k.dl_dst, k.dl_dst + 6, f.dst_mac.begin());
  if (f.is_ipv4()) {
    std::memcpy(f.src.b.data(), &k.nw_src, 4);
    std::memcpy(f.dst.b.data(), &k.nw_dst, 4);
  } else if (f.is_ipv6()) {
    f.src.v6 = f.dst.v6 = true;
    std::memcpy(f.src.b.data(), k.ipv6_src, 16);
    std::memcpy(f.dst.b.data(), k.ipv6_dst, 16);
  } else {
    return f;
  }
  f.proto = k.nw_proto;
  f.tos = k.nw_tos;
  if (f.proto == kIpProtoIcmp || f.proto == kIpProtoIcmpv6) {
    f.dst_port = static_cast<uint16_t>((ntohs(k.tp_src) & 0xff) << 8 | (ntohs(k.tp_dst) & 0xff));
  } else {
    f.src_port = ntohs(k.tp_src);
    f.dst_port = ntohs(k.tp_dst);
  }
  if (f.proto == kIpProtoTcp) f.tcp_flags = static_cast<uint8_t>(ntohs(k.tcp_flags));
  return f;
}

}  // namespace dps::exporter
