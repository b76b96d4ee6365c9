// of_messages.h - OpenFlow 1.3.5 messages as typed C++ values.
//
// What: one struct per OpenFlow 1.3 message (HELLO .. METER_MOD) and per
// multipart request/reply body, the OfMessage envelope (version, xid, body)
// and the protocol constants (OFPT_*, OFPP_* via of_actions.h, OFPC_*,
// OFPMP_*, flags). of_codec.h turns bytes into these and back.
//
// Design: plain aggregates with defaulted ==, so tests compare a decoded
// message with the one that was encoded. Matches, actions, instructions,
// flow-mods and group-mods reuse the ofproto data model (of_match.h,
// of_actions.h, of_rule.h, group_table.h) so the channel hands decoded
// requests to the Pipeline unchanged. Message bodies form one std::variant,
// multipart bodies two more (requests, replies); each alternative names the
// wire type it encodes. Byte strings (echo payloads, packet data, error
// data) are std::vector<uint8_t>; fixed-size text fields (port names, DESC
// strings) are std::string, truncated / NUL-padded by the codec.
//
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "of_actions.h"
#include "of_error.h"
#include "of_flow_mod.h"
#include "of_group.h"
#include "of_match.h"
#include "packet_in_reason.h"

namespace dps::ofproto {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kOfpVersion13 = 0x04;  // OFP_VERSION of OpenFlow 1.3
inline constexpr size_t kOfpHeaderLen = 8;      // sizeof(ofp_header)
inline constexpr size_t kOfpMaxMessageLen = 65535;  // ofp_header.length is 16 bits
// Bytes of the offending request an OFPT_ERROR carries (spec: at least 64).
inline constexpr size_t kOfpErrorDataLen = 64;
inline constexpr uint32_t kOfpNoBuffer = 0xffffffff;  // OFP_NO_BUFFER
inline constexpr size_t kOfpMaxPortNameLen = 16;      // OFP_MAX_PORT_NAME_LEN
inline constexpr size_t kOfpMaxTableNameLen = 32;     // OFP_MAX_TABLE_NAME_LEN
inline constexpr size_t kDescStrLen = 256;            // DESC_STR_LEN
inline constexpr size_t kSerialNumLen = 32;           // SERIAL_NUM_LEN
inline constexpr uint32_t kOfpqAll = 0xffffffff;      // OFPQ_ALL
inline constexpr uint32_t kMeterMax = 0xffff0000;     // OFPM_MAX
inline constexpr uint32_t kMeterSlowpath = 0xfffffffd;  // OFPM_SLOWPATH
inline constexpr uint32_t kMeterController = 0xfffffffe;  // OFPM_CONTROLLER
inline constexpr uint32_t kMeterAll = 0xffffffff;     // OFPM_ALL

// ofp_type
enum class OfpType : uint8_t {
  kHello = 0,
  kError = 1,
  kEchoRequest = 2,
  kEchoReply = 3,
  kExperimenter = 4,
  kFeaturesRequest = 5,
  kFeaturesReply = 6,
  kGetConfigRequest = 7,
  kGetConfigReply = 8,
  kSetConfig = 9,
  kPacketIn = 10,
  kFlowRemoved = 11,
  kPortStatus = 12,
  kPacketOut = 13,
  kFlowMod = 14,
  kGroupMod = 15,
  kPortMod = 16,
  kTableMod = 17,
  kMultipartRequest = 18,
  kMultipartReply = 19,
  kBarrierRequest = 20,
  kBarrierReply = 21,
  kQueueGetConfigRequest = 22,
  kQueueGetConfigReply = 23,
  kRoleRequest = 24,
  kRoleReply = 25,
  kGetAsyncRequest = 26,
  kGetAsyncReply = 27,
  kSetAsync = 28,
  kMeterMod = 29,
};

// ofp_multipart_type
enum class MultipartType : uint16_t {
  kDesc = 0,
  kFlow = 1,
  kAggregate = 2,
  kTable = 3,
  kPortStats = 4,
  kQueue = 5,
  kGroup = 6,
  kGroupDesc = 7,
  kGroupFeatures = 8,
  kMeter = 9,
  kMeterConfig = 10,
  kMeterFeatures = 11,
  kTableFeatures = 12,
  kPortDesc = 13,
  kExperimenter = 0xffff,
};
inline constexpr uint16_t kMultipartMore = 1;  // OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE

// ofp_capabilities
enum Capabilities : uint32_t {
  kCapFlowStats = 1 << 0,
  kCapTableStats = 1 << 1,
  kCapPortStats = 1 << 2,
  kCapGroupStats = 1 << 3,
  kCapIpReasm = 1 << 5,
  kCapQueueStats = 1 << 6,
  kCapPortBlocked = 1 << 8,
};

// ofp_config_flags
enum ConfigFlags : uint16_t {
  kFragNormal = 0,
  kFragDrop = 1,
  kFragReasm = 2,
  kFragMask = 3,
};
inline constexpr uint16_t kDefaultMissSendLen = 128;  // OFP_DEFAULT_MISS_SEND_LEN

// ofp_port_config
enum PortConfig : uint32_t {
  kPortConfigDown = 1 << 0,
  kPortConfigNoRecv = 1 << 2,
  kPortConfigNoFwd = 1 << 5,
  kPortConfigNoPacketIn = 1 << 6,
};
// ofp_port_state
enum PortState : uint32_t {
  kPortStateLinkDown = 1 << 0,
  kPortStateBlocked = 1 << 1,
  kPortStateLive = 1 << 2,
};
// ofp_port_features (subset used by ports here)
enum PortFeatures : uint32_t {
  kPf10MbHd = 1 << 0,
  kPf10MbFd = 1 << 1,
  kPf100MbHd = 1 << 2,
  kPf100MbFd = 1 << 3,
  kPf1GbHd = 1 << 4,
  kPf1GbFd = 1 << 5,
  kPf10GbFd = 1 << 6,
  kPf40GbFd = 1 << 7,
  kPf100GbFd = 1 << 8,
  kPf1TbFd = 1 << 9,
  kPfOther = 1 << 10,
  kPfCopper = 1 << 11,
  kPfFiber = 1 << 12,
  kPfAutoneg = 1 << 13,
  kPfPause = 1 << 14,
  kPfPauseAsym = 1 << 15,
};

// ofp_packet_in_reason: packet_in_reason.h
// ofp_port_reason
enum class PortReason : uint8_t { kAdd = 0, kDelete = 1, kModify = 2 };
// ofp_controller_role
enum class ControllerRole : uint32_t { kNoChange = 0, kEqual = 1, kMaster = 2, kSlave = 3 };
// ofp_meter_mod_command
enum class MeterModCommand : uint16_t { kAdd = 0, kModify = 1, kDelete = 2 };
// ofp_meter_flags
enum MeterFlags : uint16_t {
  kMeterFlagKbps = 1 << 0,
  kMeterFlagPktps = 1 << 1,
  kMeterFlagBurst = 1 << 2,
  kMeterFlagStats = 1 << 3,
};
// ofp_meter_band_type
enum class MeterBandType : uint16_t { kDrop = 1, kDscpRemark = 2, kExperimenter = 0xffff };
// ofp_table_config: only the deprecated mask exists in 1.3.
inline constexpr uint32_t kTableConfigDeprecatedMask = 3;

// ---- messages ---------------------------------------------------------------

// OFPT_HELLO. versions: bit v set = OpenFlow wire version v supported
// (OFPHET_VERSIONBITMAP, first 32 versions); has_bitmap false = no element.
struct Hello {
  bool has_bitmap = true;
  uint32_t versions = 1u << kOfpVersion13;
  bool operator==(const Hello&) const = default;
};

// OFPT_ERROR. For type kExperimenter, code is exp_type and experimenter set.
struct ErrorMsg {
  OfErrorType type = OfErrorType::kBadRequest;
  uint16_t code = 0;
  uint32_t experimenter = 0;
  Bytes data;  // offending message prefix, or ASCII text for HELLO_FAILED
  bool operator==(const ErrorMsg&) const = default;
};

struct EchoRequest {
  Bytes data;
  bool operator==(const EchoRequest&) const = default;
};
struct EchoReply {
  Bytes data;
  bool operator==(const EchoReply&) const = default;
};
struct ExperimenterMsg {
  uint32_t experimenter = 0;
  uint32_t exp_type = 0;
  Bytes data;
  bool operator==(const ExperimenterMsg&) const = default;
};

struct FeaturesRequest {
  bool operator==(const FeaturesRequest&) const = default;
};
struct FeaturesReply {
  uint64_t datapath_id = 0;
  uint32_t n_buffers = 0;
  uint8_t n_tables = 0;
  uint8_t auxiliary_id = 0;
  uint32_t capabilities = 0;
  bool operator==(const FeaturesReply&) const = default;
};

struct GetConfigRequest {
  bool operator==(const GetConfigRequest&) const = default;
};
struct GetConfigReply {
  uint16_t flags = kFragNormal;
  uint16_t miss_send_len = kDefaultMissSendLen;
  bool operator==(const GetConfigReply&) const = default;
};
struct SetConfig {
  uint16_t flags = kFragNormal;
  uint16_t miss_send_len = kDefaultMissSendLen;
  bool operator==(const SetConfig&) const = default;
};

struct PacketIn {
  uint32_t buffer_id = kOfpNoBuffer;
  uint16_t total_len = 0;
  PacketInReason reason = PacketInReason::kNoMatch;
  uint8_t table_id = 0;
  uint64_t cookie = 0;
  OfMatch match;  // in_port at least
  Bytes data;
  bool operator==(const PacketIn&) const = default;
};

// An age in milliseconds as the duration_sec / duration_nsec pair of the
// flow-removed and statistics messages (a negative age counts as 0).
inline void split_ms(int64_t ms, uint32_t* sec, uint32_t* nsec) {
  if (ms < 0) ms = 0;
  *sec = static_cast<uint32_t>(ms / 1000);
  *nsec = static_cast<uint32_t>((ms % 1000) * 1'000'000);
}

struct FlowRemoved {
  uint64_t cookie = 0;
  uint16_t priority = 0;
  RemovedReason reason = RemovedReason::kDelete;
  uint8_t table_id = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  uint16_t idle_timeout = 0;
  uint16_t hard_timeout = 0;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  OfMatch match;
  bool operator==(const FlowRemoved&) const = default;
};

// ofp_port (64 bytes on the wire).
struct PortDesc {
  uint32_t port_no = 0;
  std::array<uint8_t, 6> hw_addr{};
  std::string name;  // at most 15 characters survive the wire
  uint32_t config = 0;
  uint32_t state = 0;
  uint32_t curr = 0;
  uint32_t advertised = 0;
  uint32_t supported = 0;
  uint32_t peer = 0;
  uint32_t curr_speed = 0;  // kbps
  uint32_t max_speed = 0;   // kbps
  bool operator==(const PortDesc&) const = default;
};

struct PortStatus {
  PortReason reason = PortReason::kAdd;
  PortDesc desc;
  bool operator==(const PortStatus&) const = default;
};

struct PacketOut {
  uint32_t buffer_id = kOfpNoBuffer;
  uint32_t in_port = kPortController;
  ActionList actions;
  Bytes data;  // only when buffer_id == kOfpNoBuffer
  bool operator==(const PacketOut&) const = default;
};

// OFPT_FLOW_MOD: the data-model FlowMod plus the buffer to apply it to.
struct FlowModMsg {
  FlowMod mod;
  uint32_t buffer_id = kOfpNoBuffer;
  bool operator==(const FlowModMsg&) const = default;
};

struct GroupModMsg {
  GroupMod mod;
  bool operator==(const GroupModMsg&) const = default;
};

struct PortMod {
  uint32_t port_no = 0;
  std::array<uint8_t, 6> hw_addr{};
  uint32_t config = 0;
  uint32_t mask = 0;
  uint32_t advertise = 0;
  bool operator==(const PortMod&) const = default;
};

struct TableMod {
  uint8_t table_id = 0;
  uint32_t config = 0;
  bool operator==(const TableMod&) const = default;
};

struct BarrierRequest {
  bool operator==(const BarrierRequest&) const = default;
};
struct BarrierReply {
  bool operator==(const BarrierReply&) const = default;
};

struct RoleRequest {
  ControllerRole role = ControllerRole::kNoChange;
  uint64_t generation_id = 0;
  bool operator==(const RoleRequest&) const = default;
};
struct RoleReply {
  ControllerRole role = ControllerRole::kEqual;
  uint64_t generation_id = 0;
  bool operator==(const RoleReply&) const = default;
};

// The three async masks, [0] for master/equal, [1] for slave.
struct AsyncConfig {
  std::array<uint32_t, 2> packet_in_mask{};
  std::array<uint32_t, 2> port_status_mask{};
  std::array<uint32_t, 2> flow_removed_mask{};
  bool operator==(const AsyncConfig&) const = default;
};
struct GetAsyncRequest {
  bool operator==(const GetAsyncRequest&) const = default;
};
struct GetAsyncReply {
  AsyncConfig config;
  bool operator==(const GetAsyncReply&) const = default;
};
struct SetAsync {
  AsyncConfig config;
  bool operator==(const SetAsync&) const = default;
};

struct MeterBand {
  MeterBandType type = MeterBandType::kDrop;
  uint32_t rate = 0;
  uint32_t burst_size = 0;
  uint8_t prec_level = 0;     // dscp_remark
  uint32_t experimenter = 0;  // experimenter band
  bool operator==(const MeterBand&) const = default;
};

struct MeterMod {
  MeterModCommand command = MeterModCommand::kAdd;
  uint16_t flags = kMeterFlagKbps;
  uint32_t meter_id = 0;
  std::vector<MeterBand> bands;
  bool operator==(const MeterMod&) const = default;
};

// ---- multipart bodies -------------------------------------------------------

struct FlowStatsRequest {  // OFPMP_FLOW and OFPMP_AGGREGATE
  uint8_t table_id = kTableAll;
  uint32_t out_port = kPortAny;
  uint32_t out_group = kGroupAny;
  uint64_t cookie = 0;
  uint64_t cookie_mask = 0;
  OfMatch match;
  bool operator==(const FlowStatsRequest&) const = default;
};

struct DescRequest {
  bool operator==(const DescRequest&) const = default;
};
struct AggregateRequest {
  FlowStatsRequest filter;
  bool operator==(const AggregateRequest&) const = default;
};
struct TableStatsRequest {
  bool operator==(const TableStatsRequest&) const = default;
};
struct PortStatsRequest {
  uint32_t port_no = kPortAny;
  bool operator==(const PortStatsRequest&) const = default;
};
struct QueueStatsRequest {
  uint32_t port_no = kPortAny;
  uint32_t queue_id = kOfpqAll;
  bool operator==(const QueueStatsRequest&) const = default;
};
struct GroupStatsRequest {
  uint32_t group_id = kGroupAll;
  bool operator==(const GroupStatsRequest&) const = default;
};
struct GroupDescRequest {
  bool operator==(const GroupDescRequest&) const = default;
};
struct GroupFeaturesRequest {
  bool operator==(const GroupFeaturesRequest&) const = default;
};
struct MeterStatsRequest {
  uint32_t meter_id = kMeterAll;
  bool operator==(const MeterStatsRequest&) const = default;
};
struct MeterConfigRequest {
  uint32_t meter_id = kMeterAll;
  bool operator==(const MeterConfigRequest&) const = default;
};
struct MeterFeaturesRequest {
  bool operator==(const MeterFeaturesRequest&) const = default;
};
struct PortDescRequest {
  bool operator==(const PortDescRequest&) const = default;
};

// ofp_table_feature_prop_type
enum class TableFeaturePropType : uint16_t {
  kInstructions = 0,
  kInstructionsMiss = 1,
  kNextTables = 2,
  kNextTablesMiss = 3,
  kWriteActions = 4,
  kWriteActionsMiss = 5,
  kApplyActions = 6,
  kApplyActionsMiss = 7,
  kMatch = 8,
  kWildcards = 10,
  kWriteSetfield = 12,
  kWriteSetfieldMiss = 13,
  kApplySetfield = 14,
  kApplySetfieldMiss = 15,
  kExperimenter = 0xfffe,
  kExperimenterMiss = 0xffff,
};

// One table feature property. ids holds, by type: instruction types
// (instructions*), table ids (next_tables*), action types (*_actions*),
// OXM headers (match, wildcards, *_setfield*); for experimenter
// properties, experimenter id and exp_type followed by the data words.
struct TableFeatureProp {
  TableFeaturePropType type = TableFeaturePropType::kInstructions;
  std::vector<uint32_t> ids;
  bool operator==(const TableFeatureProp&) const = default;
};

struct TableFeatures {
  uint8_t table_id = 0;
  std::string name;
  uint64_t metadata_match = 0;
  uint64_t metadata_write = 0;
  uint32_t config = 0;
  uint32_t max_entries = 0;
  std::vector<TableFeatureProp> properties;
  bool operator==(const TableFeatures&) const = default;
};

// OFPMP_TABLE_FEATURES request: empty = query; otherwise the desired set.
struct TableFeaturesRequest {
  std::vector<TableFeatures> tables;
  bool operator==(const TableFeaturesRequest&) const = default;
};

using MultipartRequestBody =
    std::variant<DescRequest, FlowStatsRequest, AggregateRequest, TableStatsRequest,
                 PortStatsRequest, QueueStatsRequest, GroupStatsRequest, GroupDescRequest,
                 GroupFeaturesRequest, MeterStatsRequest, MeterConfigRequest,
                 MeterFeaturesRequest, TableFeaturesRequest, PortDescRequest>;

struct MultipartRequest {
  uint16_t flags = 0;  // kMultipartMore
  MultipartRequestBody body;
  bool operator==(const MultipartRequest&) const = default;
};

struct DescReply {
  std::string mfr_desc;
  std::string hw_desc;
  std::string sw_desc;
  std::string serial_num;
  std::string dp_desc;
  bool operator==(const DescReply&) const = default;
};

struct FlowStats {
  uint8_t table_id = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  uint16_t priority = 0;
  uint16_t idle_timeout = 0;
  uint16_t hard_timeout = 0;
  uint16_t flags = 0;
  uint64_t cookie = 0;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  OfMatch match;
  Instructions instructions;
  bool operator==(const FlowStats&) const = default;
};
struct FlowStatsReply {
  std::vector<FlowStats> flows;
  bool operator==(const FlowStatsReply&) const = default;
};

struct AggregateReply {
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  uint32_t flow_count = 0;
  bool operator==(const AggregateReply&) const = default;
};

struct TableStats {
  uint8_t table_id = 0;
  uint32_t active_count = 0;
  uint64_t lookup_count = 0;
  uint64_t matched_count = 0;
  bool operator==(const TableStats&) const = default;
};
struct TableStatsReply {
  std::vector<TableStats> tables;
  bool operator==(const TableStatsReply&) const = default;
};

struct PortStats {
  uint32_t port_no = 0;
  uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0, rx_errors = 0, tx_errors = 0;
  uint64_t rx_frame_err = 0, rx_over_err = 0, rx_crc_err = 0, collisions = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  bool operator==(const PortStats&) const = default;
};
struct PortStatsReply {
  std::vector<PortStats> ports;
  bool operator==(const PortStatsReply&) const = default;
};

struct QueueStats {
  uint32_t port_no = 0;
  uint32_t queue_id = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  bool operator==(const QueueStats&) const = default;
};
struct QueueStatsReply {
  std::vector<QueueStats> queues;
  bool operator==(const QueueStatsReply&) const = default;
};

struct BucketCounter {
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  bool operator==(const BucketCounter&) const = default;
};
struct GroupStats {
  uint32_t group_id = 0;
  uint32_t ref_count = 0;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  std::vector<BucketCounter> buckets;
  bool operator==(const GroupStats&) const = default;
};
struct GroupStatsReply {
  std::vector<GroupStats> groups;
  bool operator==(const GroupStatsReply&) const = default;
};

struct GroupDesc {
  GroupType type = GroupType::kAll;
  uint32_t group_id = 0;
  std::vector<GroupBucket> buckets;  // counters not on the wire
  bool operator==(const GroupDesc&) const = default;
};
struct GroupDescReply {
  std::vector<GroupDesc> groups;
  bool operator==(const GroupDescReply&) const = default;
};

struct GroupFeaturesReply {
  uint32_t types = 0;         // bit per GroupType
  uint32_t capabilities = 0;  // OFPGFC_*
  std::array<uint32_t, 4> max_groups{};
  std::array<uint32_t, 4> actions{};  // bit per OFPAT_* per group type
  bool operator==(const GroupFeaturesReply&) const = default;
};
// ofp_group_capabilities
enum GroupCapabilities : uint32_t {
  kGroupCapSelectWeight = 1 << 0,
  kGroupCapSelectLiveness = 1 << 1,
  kGroupCapChaining = 1 << 2,
  kGroupCapChainingChecks = 1 << 3,
};

struct MeterBandStats {
  uint64_t packet_band_count = 0;
  uint64_t byte_band_count = 0;
  bool operator==(const MeterBandStats&) const = default;
};
struct MeterStats {
  uint32_t meter_id = 0;
  uint32_t flow_count = 0;
  uint64_t packet_in_count = 0;
  uint64_t byte_in_count = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  std::vector<MeterBandStats> bands;
  bool operator==(const MeterStats&) const = default;
};
struct MeterStatsReply {
  std::vector<MeterStats> meters;
  bool operator==(const MeterStatsReply&) const = default;
};

struct MeterConfig {
  uint16_t flags = 0;
  uint32_t meter_id = 0;
  std::vector<MeterBand> bands;
  bool operator==(const MeterConfig&) const = default;
};
struct MeterConfigReply {
  std::vector<MeterConfig> meters;
  bool operator==(const MeterConfigReply&) const = default;
};

struct MeterFeaturesReply {
  uint32_t max_meter = 0;
  uint32_t band_types = 0;    // bit per MeterBandType
  uint32_t capabilities = 0;  // MeterFlags bits
  uint8_t max_bands = 0;
  uint8_t max_color = 0;
  bool operator==(const MeterFeaturesReply&) const = default;
};

struct TableFeaturesReply {
  std::vector<TableFeatures> tables;
  bool operator==(const TableFeaturesReply&) const = default;
};

struct PortDescReply {
  std::vector<PortDesc> ports;
  bool operator==(const PortDescReply&) const = default;
};

using MultipartReplyBody =
    std::variant<DescReply, FlowStatsReply, AggregateReply, TableStatsReply, PortStatsReply,
                 QueueStatsReply, GroupStatsReply, GroupDescReply, GroupFeaturesReply,
                 MeterStatsReply, MeterConfigReply, MeterFeaturesReply, TableFeaturesReply,
                 PortDescReply>;

struct MultipartReply {
  uint16_t flags = 0;  // kMultipartMore on all but the last part
  MultipartReplyBody body;
  bool operator==(const MultipartReply&) const = default;
};

// ---- Nicira TLV-table messages --------------------------------------------------
// OFPT_EXPERIMENTER with experimenter NX_VENDOR_ID and these subtypes
// (OVS include/openflow/nicira-ext.h): ovs-ofctl add-tlv-map / del-tlv-map
// send TLV_TABLE_MOD, dump-tlv-map sends TLV_TABLE_REQUEST.
inline constexpr uint32_t kNxtTlvTableMod = 24;
inline constexpr uint32_t kNxtTlvTableRequest = 25;
inline constexpr uint32_t kNxtTlvTableReply = 26;

// nx_tlv_map: Geneve option (class, type, length) <-> tun_metadata<index>.
struct TlvMap {
  uint16_t opt_class = 0;
  uint8_t opt_type = 0;
  uint8_t opt_len = 0;  // option data bytes: a multiple of 4, at most 124
  uint16_t index = 0;   // N of tun_metadataN, below 64
  bool operator==(const TlvMap&) const = default;
};

enum class TlvTableCommand : uint16_t { kAdd = 0, kDelete = 1, kClear = 2 };  // NXTTMC_*

struct TlvTableMod {
  TlvTableCommand command = TlvTableCommand::kAdd;
  std::vector<TlvMap> maps;  // none for kClear
  bool operator==(const TlvTableMod&) const = default;
};
struct TlvTableRequest {
  bool operator==(const TlvTableRequest&) const = default;
};
struct TlvTableReply {
  uint32_t max_option_space = 0;  // bytes of option data the switch can map
  uint16_t max_fields = 0;        // tun_metadata fields (64)
  std::vector<TlvMap> maps;
  bool operator==(const TlvTableReply&) const = default;
};

using OfBody =
    std::variant<Hello, ErrorMsg, EchoRequest, EchoReply, ExperimenterMsg, FeaturesRequest,
                 FeaturesReply, GetConfigRequest, GetConfigReply, SetConfig, PacketIn,
                 FlowRemoved, PortStatus, PacketOut, FlowModMsg, GroupModMsg, PortMod, TableMod,
                 MultipartRequest, MultipartReply, BarrierRequest, BarrierReply, RoleRequest,
                 RoleReply, GetAsyncRequest, GetAsyncReply, SetAsync, MeterMod, TlvTableMod,
                 TlvTableRequest, TlvTableReply>;

struct OfMessage {
  uint8_t version = kOfpVersion13;  // HELLO may carry another version
  uint32_t xid = 0;
  OfBody body;
  bool operator==(const OfMessage&) const = default;
};

// The wire type of a body / multipart body.
OfpType message_type(const OfBody& body);
MultipartType multipart_type(const MultipartRequestBody& body);
MultipartType multipart_type(const MultipartReplyBody& body);
// "OFPT_FLOW_MOD", "OFPMP_PORT_DESC", for logs and errors.
const char* of_type_name(OfpType t);
const char* multipart_type_name(MultipartType t);

}  // namespace dps::ofproto
