// tlv_table.h - the Geneve TLV table: which option (class, type, length)
// is which tun_metadataN field (ovs-ofctl add-tlv-map / del-tlv-map /
// dump-tlv-map, NXT_TLV_TABLE_MOD / REQUEST / REPLY).
//
// What: up to 64 mappings option -> tun_metadataN. Each mapped field has an
// offset inside FlowKey::tun_opts of the OpenFlow flow (the "mapped" form),
// so a rule matches tun_metadataN at fixed key bits. layout() is the same
// placement as the wire and syntax layers take it (TunMetadataLayout), to
// decode and parse matches and set_fields against.
//
// Design: offsets are assigned at add time, in the order of the message's
// entries, first fit in 4-byte units; the total mapped length is at most
// kTunOptsMax (48) bytes. Offsets never move while mapped (rules hold key
// bits at them), so a fragmented table can refuse an add that would fit in
// total: NXTTMFC_TABLE_FULL either way. Every mutation is all-or-nothing
// (worked on a copy, committed at the end) and fails as OVS's
// tun_metadata_table_mod() and mf_vl_mff_map_mod_from_tun_metadata() do:
//  - add: a length not a multiple of 4 in 4..124 NXTTMFC_BAD_OPT_LEN (OVS
//    accepts 0; a field here needs bytes); an index >= 64
//    NXTTMFC_BAD_FIELD_IDX; an index already mapped (also twice in one
//    message) NXTTMFC_ALREADY_MAPPED; an option (class, type) already mapped,
//    whatever its length, NXTTMFC_DUP_ENTRY; no room NXTTMFC_TABLE_FULL;
//  - delete (by index; an unmapped index is a no-op) and clear: a mapping
//    that a rule of an attached bridge uses (match or set_field on
//    tun_metadataN, group buckets too) NXTTMFC_INVALID_TLV_DEL.
// version() changes with every successful mutation: translations that
// mapped Geneve options (TlvTable::by_option) depend on it.
//
// Thread-safety: ofproto thread only (one table per switch, shared by its
// bridges: BridgeSet gives every bridge the same one).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flow_key_layout.h"
#include "of_error.h"
#include "of_match.h"
#include "of_messages.h"

namespace dps::ofproto {

struct Bridge;
class Pipeline;

struct TlvMapping {
  uint16_t opt_class = 0;  // host order
  uint8_t opt_type = 0;
  uint8_t opt_len = 0;     // bytes of option data (multiple of 4)
  uint8_t index = 0;       // N of tun_metadataN
  uint8_t offset = 0;      // in FlowKey::tun_opts (mapped form)
  bool operator==(const TlvMapping&) const = default;
};

class TlvTable {
 public:
  static constexpr unsigned kMaxFields = kNumTunMetadata;            // 64
  static constexpr unsigned kMaxOptionSpace = datapath::kTunOptsMax;  // 48 bytes
  static constexpr unsigned kMaxOptLen = 124;  // a Geneve option's data, at most

  // The mapping of tun_metadataN, or null.
  const TlvMapping* by_index(unsigned index) const;
  // The mapping of a Geneve option, or null (len must match too).
  const TlvMapping* by_option(uint16_t opt_class, uint8_t opt_type, uint8_t opt_len) const;
  // In index order.
  const std::vector<TlvMapping>& mappings() const { return maps_; }
  // Changes when the table changes (translations depending on it revalidate).
  uint64_t version() const { return version_; }
  // The placement as OfMatch, the codec and the parser take it.
  const TunMetadataLayout& layout() const { return layout_; }

  // NXT_TLV_TABLE_MOD: add, delete or clear, all-or-nothing (errors above).
  MaybeError apply(const TlvTableMod& mod);
  MaybeError add(const std::vector<TlvMap>& maps);
  MaybeError remove(const std::vector<TlvMap>& maps);
  MaybeError clear();
  // NXT_TLV_TABLE_REPLY: limits and the mappings in index order.
  TlvTableReply reply() const;

  // Bridges whose rules keep a mapping from being deleted (Ofproto attaches
  // its bridge for its lifetime).
  void attach(const Bridge* b);
  void detach(const Bridge* b);
  // Bit N set: some rule of an attached bridge uses tun_metadataN.
  uint64_t indices_in_use() const;

 private:
  void commit(std::vector<TlvMapping> maps);

  std::vector<TlvMapping> maps_;  // sorted by index
  TunMetadataLayout layout_;
  uint64_t version_ = 0;
  std::vector<const Bridge*> users_;
};

// The tun_metadata indices a pipeline's rules and groups use (matches and
// set_field actions): bit N = tun_metadataN.
uint64_t tun_metadata_in_use(const Pipeline& p);

}  // namespace dps::ofproto
