#include "netflow_v5.h"

#include <stdexcept>
#include <string>

#include "byte_writer.h"

namespace dps::exporter {

NetflowV5Encoder::NetflowV5Encoder(NetflowV5Config cfg) : cfg_(cfg) {
  if (cfg_.sampling_interval >= (1u << 14))
    throw std::invalid_argument("NetFlow v5 sampling interval " + std::to_string(cfg_.sampling_interval) +
                                " does not fit in 14 bits");
}

uint32_t NetflowV5Encoder::uptime(uint64_t ms) const {
  return ms > cfg_.boot_ms ? static_cast<uint32_t>(ms - cfg_.boot_ms) : 0;
}

void NetflowV5Encoder::put_record(std::vector<uint8_t>& d, const FlowRecord& r) {
  ByteWriter w(d);
  auto u16_or_0 = [this](uint32_t v) -> uint16_t {
    if (v <= 0xFFFF) return static_cast<uint16_t>(v);
    clamped_++;
    return 0;
  };
  auto u32_sat = [this](uint64_t v) -> uint32_t {
    if (v <= 0xFFFFFFFFull) return static_cast<uint32_t>(v);
    clamped_++;
    return 0xFFFFFFFFu;
  };
  w.u32(r.f.src.v4_host());
  w.u32(r.f.dst.v4_host());
  w.u32(0);  // next hop
  w.u16(u16_or_0(r.f.in_if));
  w.u16(u16_or_0(r.f.out_if));
  w.u32(u32_sat(r.packets));
  w.u32(u32_sat(r.bytes));
  w.u32(uptime(r.start_ms));
  w.u32(uptime(r.end_ms));
  w.u16(r.f.src_port);
  w.u16(r.f.dst_port);
  w.u8(0);
  w.u8(r.f.tcp_flags);
  w.u8(r.f.proto);
  w.u8(r.f.tos);
  w.u16(0);  // src_as
  w.u16(0);  // dst_as
  w.u8(0);   // src_mask
  w.u8(0);   // dst_mask
  w.u16(0);
}

std::vector<std::vector<uint8_t>> NetflowV5Encoder::encode(std::span<const FlowRecord> records, uint64_t now_ms) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> d;
  unsigned n = 0;
  auto finish = [&] {
    ByteWriter(d).put_u16_at(2, static_cast<uint16_t>(n));
    seq_ += n;
    out.push_back(std::move(d));
    d.clear();
    n = 0;
  };
  for (const FlowRecord& r : records) {
    if (!r.f.is_ipv4() || r.f.src.v6) {
      skipped_++;
      continue;
    }
    if (d.empty()) {
      ByteWriter w(d);
      w.u16(5);
      w.u16(0);  // count: at finish
      w.u32(uptime(now_ms));
      w.u32(static_cast<uint32_t>(now_ms / 1000));
      w.u32(static_cast<uint32_t>(now_ms % 1000 * 1000000));
      w.u32(seq_);
      w.u8(cfg_.engine_type);
      w.u8(cfg_.engine_id);
      w.u16(cfg_.sampling_interval ? static_cast<uint16_t>(1u << 14 | cfg_.sampling_interval) : 0);
    }
    put_record(d, r);
    if (++n == kNetflowV5MaxRecords) finish();
  }
  if (n) finish();
  return out;
}

}  // namespace dps::exporter
