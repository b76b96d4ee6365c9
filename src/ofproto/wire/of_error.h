// of_error.h - control-plane errors of the ofproto layer, numbered as
// OpenFlow 1.3 (ofp_error_type / ofp_*_code) so the wire codec can send them
// as OFPT_ERROR unchanged, with a human-readable message that says what is
// wrong and where (for logs, the rule-file loader and JSON-RPC errors).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dps::ofproto {

// ofp_error_type (OpenFlow 1.3.5 section 7.4.4).
enum class OfErrorType : uint16_t {
  kHelloFailed = 0,
  kBadRequest = 1,
  kBadAction = 2,
  kBadInstruction = 3,
  kBadMatch = 4,
  kFlowModFailed = 5,
  kGroupModFailed = 6,
  kPortModFailed = 7,
  kTableModFailed = 8,
  kQueueOpFailed = 9,
  kSwitchConfigFailed = 10,
  kRoleRequestFailed = 11,
  kMeterModFailed = 12,
  kTableFeaturesFailed = 13,
  kExperimenter = 0xffff,
};

// ofp_bad_action_code
enum class BadActionCode : uint16_t {
  kBadType = 0, kBadLen = 1, kBadExperimenter = 2, kBadExpType = 3,
  kBadOutPort = 4, kBadArgument = 5, kEperm = 6, kTooMany = 7,
  kBadQueue = 8, kBadOutGroup = 9, kMatchInconsistent = 10,
  kUnsupportedOrder = 11, kBadTag = 12, kBadSetType = 13, kBadSetLen = 14,
  kBadSetArgument = 15,
};

// ofp_bad_instruction_code
enum class BadInstructionCode : uint16_t {
  kUnknownInst = 0, kUnsupInst = 1, kBadTableId = 2, kUnsupMetadata = 3,
  kUnsupMetadataMask = 4, kBadExperimenter = 5, kBadExpType = 6,
  kBadLen = 7, kEperm = 8,
};

// ofp_bad_match_code
enum class BadMatchCode : uint16_t {
  kBadType = 0, kBadLen = 1, kBadTag = 2, kBadDlAddrMask = 3,
  kBadNwAddrMask = 4, kBadWildcards = 5, kBadField = 6, kBadValue = 7,
  kBadMask = 8, kBadPrereq = 9, kDupField = 10, kEperm = 11,
};

// ofp_flow_mod_failed_code
enum class FlowModFailedCode : uint16_t {
  kUnknown = 0, kTableFull = 1, kBadTableId = 2, kOverlap = 3, kEperm = 4,
  kBadTimeout = 5, kBadCommand = 6, kBadFlags = 7,
};

// ofp_group_mod_failed_code
enum class GroupModFailedCode : uint16_t {
  kGroupExists = 0, kInvalidGroup = 1, kWeightUnsupported = 2,
  kOutOfGroups = 3, kOutOfBuckets = 4, kChainingUnsupported = 5,
  kWatchUnsupported = 6, kLoop = 7, kUnknownGroup = 8, kChainedGroup = 9,
  kBadType = 10, kBadCommand = 11, kBadBucket = 12, kBadWatch = 13,
  kEperm = 14,
};

// ofp_hello_failed_code
enum class HelloFailedCode : uint16_t { kIncompatible = 0, kEperm = 1 };

// ofp_bad_request_code
enum class BadRequestCode : uint16_t {
  kBadVersion = 0, kBadType = 1, kBadMultipart = 2, kBadExperimenter = 3,
  kBadExpType = 4, kEperm = 5, kBadLen = 6, kBufferEmpty = 7,
  kBufferUnknown = 8, kBadTableId = 9, kIsSlave = 10, kBadPort = 11,
  kBadPacket = 12, kMultipartBufferOverflow = 13,
};

// ofp_port_mod_failed_code
enum class PortModFailedCode : uint16_t {
  kBadPort = 0, kBadHwAddr = 1, kBadConfig = 2, kBadAdvertise = 3, kEperm = 4,
};

// ofp_table_mod_failed_code
enum class TableModFailedCode : uint16_t { kBadTable = 0, kBadConfig = 1, kEperm = 2 };

// ofp_switch_config_failed_code
enum class SwitchConfigFailedCode : uint16_t { kBadFlags = 0, kBadLen = 1, kEperm = 2 };

// ofp_role_request_failed_code
enum class RoleRequestFailedCode : uint16_t { kStale = 0, kUnsup = 1, kBadRole = 2 };

// ofp_meter_mod_failed_code
enum class MeterModFailedCode : uint16_t {
  kUnknown = 0, kMeterExists = 1, kInvalidMeter = 2, kUnknownMeter = 3,
  kBadCommand = 4, kBadFlags = 5, kBadRate = 6, kBadBurst = 7, kBadBand = 8,
  kBadBandValue = 9, kOutOfMeters = 10, kOutOfBands = 11,
};

// ofp_table_features_failed_code
enum class TableFeaturesFailedCode : uint16_t {
  kBadTable = 0, kBadMetadata = 1, kBadType = 2, kBadLen = 3, kBadArgument = 4, kEperm = 5,
};

// Open vSwitch's (Nicira's) errors in OpenFlow 1.2+: OFPET_EXPERIMENTER,
// experimenter NX_VENDOR_ID, exp_code as below ("NX1.2+(N)" in OVS's
// lib/ofp-errors.h). The TLV-table ones (NXTTMFC_*) answer
// NXT_TLV_TABLE_MOD; kInvalidTlvField answers a match or set_field on a
// tun_metadataN that the TLV table does not map.
inline constexpr uint32_t kNxVendorId = 0x00002320;
enum class NxErrorCode : uint16_t {
  kTtmBadCommand = 16,      // NXTTMFC_BAD_COMMAND
  kTtmBadOptLen = 17,       // NXTTMFC_BAD_OPT_LEN
  kTtmBadFieldIdx = 18,     // NXTTMFC_BAD_FIELD_IDX
  kTtmTableFull = 19,       // NXTTMFC_TABLE_FULL
  kTtmAlreadyMapped = 20,   // NXTTMFC_ALREADY_MAPPED
  kTtmDupEntry = 21,        // NXTTMFC_DUP_ENTRY
  kInvalidTlvField = 37,    // NXFMFC_INVALID_TLV_FIELD
  kTtmInvalidTlvDel = 38,   // NXTTMFC_INVALID_TLV_DEL
};

struct OfError {
  OfErrorType type = OfErrorType::kBadRequest;
  uint16_t code = 0;
  std::string message;  // what is wrong and where, e.g. "tcp_dst requires ip_proto=6"
  uint32_t experimenter = 0;  // type kExperimenter: whose code (kNxVendorId)

  template <typename Code>
  static OfError make(OfErrorType t, Code c, std::string msg) {
    return OfError{t, static_cast<uint16_t>(c), std::move(msg)};
  }
  static OfError nx(NxErrorCode c, std::string msg) {
    return OfError{OfErrorType::kExperimenter, static_cast<uint16_t>(c), std::move(msg), kNxVendorId};
  }
};

// nullopt = success. Control-plane calls that change state return this and
// change nothing when they fail.
using MaybeError = std::optional<OfError>;

// "bad_match/bad_prereq" style names, for logs and tests; Nicira errors by
// their OVS names ("NXTTMFC_DUP_ENTRY").
std::string of_error_name(OfErrorType type, uint16_t code);

}  // namespace dps::ofproto
