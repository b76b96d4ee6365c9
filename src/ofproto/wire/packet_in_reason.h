// packet_in_reason.h - ofp_packet_in_reason, shared by the translation
// (xlate.h: why a packet goes to the controller) and the wire messages
// (of_messages.h: PacketIn.reason), so both headers can be included in one
// translation unit.
#pragma once

#include <cstdint>

namespace dps::ofproto {

// ofp_packet_in_reason
enum class PacketInReason : uint8_t { kNoMatch = 0, kAction = 1, kInvalidTtl = 2 };

}  // namespace dps::ofproto
