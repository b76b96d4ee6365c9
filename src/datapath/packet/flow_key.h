// flow_key.h - parsing packets into flow keys, and the keys' hashes and
// text form (the datapath's operations on the layout in
// base/flow_key_layout.h).
//
// What: flow_key_extract() parses one frame, flow_key_extract_batch() a
// burst of mbufs (with the burst-train check), flow_key_hash_masked() hashes
// a key under a megaflow mask, flow_key_format() prints a key.
//
// Design: see flow_key_layout.h for the encoding and flow_key.cc for the
// parser's shortcuts.
//
// Thread-safety: pure functions over caller-owned keys.
#pragma once

#include <cstdint>
#include <string>

#include "flow_key_layout.h"

struct rte_mbuf;

namespace dps::datapath {

// Parses `len` bytes of an Ethernet frame received on in_port into *key
// (zeroed first) and returns the key's hash. Parsing stops at the first
// header that is truncated or malformed; the fields parsed so far are kept
// and the rest stay zero. Never reads past data + len.
uint32_t flow_key_extract(const uint8_t* data, uint32_t len, uint32_t in_port,
                          FlowKey* key);

// Batch form for the PMD: keys[i]/hashes[i] for pkts[i]. Uses the NIC's RSS
// hash (mixed with in_port) when the mbuf carries one, else the CRC32C hash.
// Single-segment mbufs are parsed in place; the first segment of a chained
// mbuf is parsed as far as it goes. Returns the "train" mask: bit i set when
// packet i has the same key as packet i-1 because every header byte the
// parser reads is equal (same flow, e.g. consecutive segments of one TCP
// connection). For such packets hashes[i] is set but keys[i] is NOT written:
// the key is that of the nearest preceding packet without the bit.
// detect_trains = false skips the train check (every key is parsed; the
// result is 0): the PMD turns it off while trains are rare.
uint32_t flow_key_extract_batch(rte_mbuf* const* pkts, unsigned n, uint32_t in_port,
                                FlowKey* keys, uint32_t* hashes, bool detect_trains = true);

// CRC32C hash over the words of key selected by mask (word i is included when
// any bit of mask word i is set), each ANDed with the mask. Used by megaflow
// subtables; equal masked keys give equal hashes.
uint32_t flow_key_hash_masked(const FlowKey& key, const FlowMask& mask);

// Human-readable "in_port=1,eth_type=0x0800,nw_src=10.0.0.1,..." listing
// the fields that are non-zero in mask (all non-zero fields when mask is null),
// in the style of ovs-dpctl dump-flows. Cold; for logs, dumps and tests.
std::string flow_key_format(const FlowKey& key, const FlowMask* mask = nullptr);
// "02:00:00:00:00:0b", "10.0.0.1" (network order), "2001:db8::1": the
// address forms of the text above (and of format_actions()).
std::string mac_str(const uint8_t* m);
std::string ip4_str(uint32_t be);
std::string ip6_str(const uint8_t* a);

}  // namespace dps::datapath
