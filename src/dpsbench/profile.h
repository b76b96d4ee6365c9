// profile.h - a dpsbench traffic profile: what frames to send, how many
// flows and how they differ, at what rate and for how long.
//
// What: TrafficProfile is the validated, fully resolved description the
// engine and the frame builder consume. It comes from a small JSON document
// (parse_profile_json) and/or command-line flags (apply_profile_flag), in that
// order, so flags override the file. Every bad value is reported as a
// ProfileError naming the field, the offending value and what was expected.
//
// Design: flows vary in a mixed-radix way. The fields listed in `vary`, in the
// fixed order src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port, are the
// digits: flow i gives field k the value base_k + (i / prod_{j<k} n_j) % n_k.
// So the product of the counts is the number of distinct flows, and `flows`
// must not exceed it (otherwise flows would repeat, silently). Frame sizes
// count the 4-byte FCS (RFC 2544 convention): a 64-byte frame is a 60-byte
// mbuf. Rates in % of a link count 20 bytes of wire overhead per frame
// (preamble + SFD 8, inter-frame gap 12).
//
// Thread-safety: plain value type; build on the control thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dps::dpsbench {

class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Preamble + start-of-frame delimiter (8) + minimum inter-frame gap (12).
inline constexpr unsigned kWireOverhead = 20;
// The frame check sequence the NIC appends; counted in frame sizes.
inline constexpr unsigned kFcsLen = 4;
// Largest frame we build: 9000-byte jumbo MTU + Ethernet + 2 VLAN tags + FCS.
inline constexpr unsigned kMaxFrameSize = 9000 + 14 + 8 + 4;
// Mixed-radix flow fields, in digit order.
enum class Field : uint8_t { kSrcMac, kDstMac, kSrcIp, kDstIp, kSrcPort, kDstPort };
inline constexpr unsigned kNumFields = 6;
inline constexpr std::array<const char*, kNumFields> kFieldNames = {
    "src_mac", "dst_mac", "src_ip", "dst_ip", "src_port", "dst_port"};
// IMIX 7:4:1 of 64/594/1518 (the "simple IMIX"), interleaved so that a
// 12-frame cycle spreads the large frames out.
inline constexpr std::array<uint16_t, 12> kImixCycle = {64, 594, 64,  64, 594, 64,
                                                        1518, 64, 594, 64, 594, 64};

enum class RateKind : uint8_t { kUnlimited, kPps, kPercent };

struct Rate {
  RateKind kind = RateKind::kUnlimited;
  double value = 0;  // pps for kPps, percent (0..100] for kPercent
};

struct Ipv6Addr {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const Ipv6Addr&) const = default;
};

struct TrafficProfile {
  uint32_t flows = 1;
  bool ipv6 = false;
  std::array<uint8_t, 6> src_mac = {0x02, 0, 0, 0, 0, 0x01};
  std::array<uint8_t, 6> dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  uint32_t src_ip4 = 0x0a000001;  // 10.0.0.1, host order
  uint32_t dst_ip4 = 0x0a010001;  // 10.1.0.1
  Ipv6Addr src_ip6 = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  Ipv6Addr dst_ip6 = {{0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  uint16_t src_port = 1024;
  uint16_t dst_port = 1024;
  // Distinct values per field (1 = fixed). Default when flows > 1 and nothing
  // varies: src_ip takes `flows` values (testpmd flowgen varies addresses too).
  std::array<uint32_t, kNumFields> vary{1, 1, 1, 1, 1, 1};
  // 0, 1 or 2 VLAN ids (outer first); two tags = QinQ (outer TPID 0x88a8).
  std::vector<uint16_t> vlans;
  uint8_t vlan_pcp = 0;
  // Frame sizes cycled in this order; IMIX expands to kImixCycle.
  std::vector<uint16_t> frame_sizes = {64};
  bool imix = false;
  Rate rate;
  double link_gbps = 10;      // for percentage rates
  double duration_s = 10;     // 0: no time limit (then packets must be set)
  uint64_t packets = 0;       // 0: no packet limit

  // Smallest frame (with FCS) that holds the headers and the payload tag.
  unsigned min_frame_size() const;
  double mean_frame_size() const;
  // The rate in pps (0 = unlimited).
  double rate_pps() const;
  // Wire bits per second at `pps` for the profile's size mix, with overhead.
  double wire_bps(double pps) const;
  // Resolves defaults that depend on other fields (a vary count given without
  // a number takes `flows`; flows > 1 with nothing varying varies src_ip),
  // then validates. Call once after the last flag.
  void finalize();
  // Checks cross-field constraints; throws ProfileError.
  void validate() const;
  nlohmann::json to_json() const;
};

// Parses a JSON profile document (the keys are the flag names with '_').
// `where` prefixes every error (a file name). Unknown keys are errors.
TrafficProfile parse_profile_json(const nlohmann::json& doc, const std::string& where,
                                  TrafficProfile base = {});
TrafficProfile load_profile_file(const std::string& path);

// Applies one profile flag (name without leading "--", dashes or underscores)
// with its value. Returns false when `name` is not a profile flag.
bool apply_profile_flag(TrafficProfile& p, const std::string& name, const std::string& value);

// Value parsers (exposed for tests); each throws ProfileError naming `what`.
Rate parse_rate(const std::string& s, const std::string& what);
double parse_duration(const std::string& s, const std::string& what);
uint64_t parse_count(const std::string& s, const std::string& what);
double parse_link_speed(const std::string& s, const std::string& what);
std::array<uint8_t, 6> parse_mac(const std::string& s, const std::string& what);
uint32_t parse_ipv4(const std::string& s, const std::string& what);
Ipv6Addr parse_ipv6(const std::string& s, const std::string& what);
std::string format_mac(const std::array<uint8_t, 6>& m);
std::string format_ipv4(uint32_t a);
std::string format_ipv6(const Ipv6Addr& a);

}  // namespace dps::dpsbench
