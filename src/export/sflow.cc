#include "sflow.h"

#include <algorithm>
#include <string>

#include "byte_writer.h"

namespace dps::exporter {
namespace {

constexpr uint32_t kMaxSourceIndex = 0xFFFFFF;
constexpr uint32_t kMaxHeaderBytes = 256;

// A (format, length) block around what `body` writes; the length is filled
// in after it.
template <typename Body>
void put_block(ByteWriter& w, uint32_t format, Body body) {
  w.u32(format);
  const size_t at = w.size();
  w.u32(0);
  body();
  w.put_u32_at(at, static_cast<uint32_t>(w.size() - at - 4));
}

// Queues a flow or counter sample: a `format` block with the source's next
// sequence number (in *seqs), the source id and what `body` writes (its
// fields and records). False, nothing queued, when the source index does not
// fit in 24 bits.
template <typename Body>
bool queue_sample(std::vector<std::vector<uint8_t>>* pending, std::map<uint32_t, uint32_t>* seqs,
                  uint32_t format, uint32_t source_index, Body body) {
  if (source_index > kMaxSourceIndex) return false;
  std::vector<uint8_t> rec;
  ByteWriter w(rec);
  put_block(w, format, [&] {
    w.u32(++(*seqs)[source_index]);
    w.u32(source_index);  // source type 0 (ifIndex) in the top byte
    body(w);
  });
  pending->push_back(std::move(rec));
  return true;
}

void put_raw_header(ByteWriter& w, const SflowFlowSample& s, uint32_t header_bytes) {
  const uint32_t n = std::min({header_bytes, s.frame_length, static_cast<uint32_t>(s.header.size())});
  put_block(w, kSflowRawHeaderFormat, [&] {
    w.u32(kSflowHeaderEthernet);
    w.u32(s.frame_length + 4);  // with the FCS, as OVS reports it
    w.u32(4);                   // stripped: the FCS
    w.u32(n);
    w.bytes(s.header.first(n));
    w.pad4();
  });
}

void put_ext_switch(ByteWriter& w, const SflowExtendedSwitch& x) {
  put_block(w, kSflowExtendedSwitchFormat, [&] {
    w.u32(x.src_vlan);
    w.u32(x.src_priority);
    w.u32(x.dst_vlan);
    w.u32(x.dst_priority);
  });
}

void put_if_counters(ByteWriter& w, const SflowIfCounters& c) {
  put_block(w, kSflowGenericIfCountersFormat, [&] {
    w.u32(c.if_index);
    w.u32(c.if_type);
    w.u64(c.if_speed);
    w.u32(c.if_direction);
    w.u32((c.admin_up ? 1u : 0u) | (c.oper_up ? 2u : 0u));
    w.u64(c.in_octets);
    for (uint32_t v : {c.in_ucast, c.in_mcast, c.in_bcast, c.in_discards, c.in_errors, c.in_unknown_protos})
      w.u32(v);
    w.u64(c.out_octets);
    for (uint32_t v : {c.out_ucast, c.out_mcast, c.out_bcast, c.out_discards, c.out_errors, c.promiscuous})
      w.u32(v);
  });
}

}  // namespace

SflowEncoder::SflowEncoder(SflowAgentConfig cfg) : cfg_(cfg) {
  if (cfg_.max_datagram < kSflowMinDatagram)
    throw std::invalid_argument("sFlow max datagram size " + std::to_string(cfg_.max_datagram) +
                                " is below " + std::to_string(kSflowMinDatagram) + " bytes");
  if (cfg_.header_bytes < 4 || cfg_.header_bytes > kMaxHeaderBytes)
    throw std::invalid_argument("sFlow header size " + std::to_string(cfg_.header_bytes) +
                                " is not from 4 to " + std::to_string(kMaxHeaderBytes) + " bytes");
}

bool SflowEncoder::add_flow_sample(const SflowFlowSample& s) {
  const bool ok = queue_sample(&pending_, &flow_seq_, kSflowFlowSampleType, s.source_index, [&](ByteWriter& w) {
    w.u32(s.sampling_rate);
    w.u32(s.sample_pool);
    w.u32(s.drops);
    w.u32(s.input);
    w.u32(s.output);
    w.u32(s.ext_switch ? 2 : 1);
    put_raw_header(w, s, cfg_.header_bytes);
    if (s.ext_switch) put_ext_switch(w, *s.ext_switch);
  });
  if (!ok) rejected_++;
  return ok;
}

bool SflowEncoder::add_counter_sample(const SflowCounterSample& s) {
  const bool ok = queue_sample(&pending_, &counter_seq_, kSflowCounterSampleType, s.source_index,
                               [&](ByteWriter& w) {
                                 w.u32(1);
                                 put_if_counters(w, s.ifc);
                               });
  if (!ok) rejected_++;
  return ok;
}

void SflowEncoder::begin_datagram(std::vector<uint8_t>& d, uint32_t uptime_ms) {
  ByteWriter w(d);
  w.u32(5);
  w.u32(cfg_.agent.v6 ? 2 : 1);
  w.bytes(std::span<const uint8_t>(cfg_.agent.b.data(), cfg_.agent.v6 ? 16 : 4));
  w.u32(cfg_.sub_agent_id);
  w.u32(++datagram_seq_);
  w.u32(uptime_ms);
  w.u32(0);  // samples: set when the datagram is closed
}

std::vector<std::vector<uint8_t>> SflowEncoder::take(uint32_t uptime_ms) {
  std::vector<std::vector<uint8_t>> out;
  size_t i = 0;
  while (i < pending_.size()) {
    std::vector<uint8_t> d;
    begin_datagram(d, uptime_ms);
    uint32_t n = 0;
    // At least one sample per datagram (a sample always fits: see the limits).
    while (i < pending_.size() && (n == 0 || d.size() + pending_[i].size() <= cfg_.max_datagram)) {
      d.insert(d.end(), pending_[i].begin(), pending_[i].end());
      n++;
      i++;
    }
    ByteWriter(d).put_u32_at(header_size() - 4, n);
    out.push_back(std::move(d));
  }
  pending_.clear();
  return out;
}

}  // namespace dps::exporter
