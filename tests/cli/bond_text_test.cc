// dpsctl's text for bond/show and lacp/show (bond_text.h): OVS's layout
// from the daemon's JSON, and "?" for keys an older daemon does not send.
#include <catch2/catch.hpp>

#include "bond_text.h"

using dps::cli::bond_show_text;
using dps::cli::lacp_show_text;
using nlohmann::json;

namespace {

json one_bond() {
  return json::array({{{"bridge", "br0"}, {"bond", "bond0"}, {"bond_mode", "active-backup"},
                       {"configured_mode", "balance-tcp"}, {"lacp_status", "configured"},
                       {"lacp_fallback_ab", true}, {"updelay_ms", 0}, {"downdelay_ms", 200},
                       {"next_rebalance_ms", nullptr}, {"active_member", "p1"}, {"carrier_changes", 3},
                       {"rebalanced_buckets", 0}, {"learning_packets", 2},
                       {"members", json::array({{{"member", "p0"}, {"enabled", false}, {"carrier", false},
                                                 {"lacp_ok", true}, {"active", false}, {"reason", "no carrier"},
                                                 {"delay", "downdelay"}, {"delay_expires_ms", 150},
                                                 {"buckets", 0}, {"tx_packets", 0}, {"load_packets", 0},
                                                 {"hashes", json::array()}},
                                                {{"member", "p1"}, {"enabled", true}, {"carrier", true},
                                                 {"lacp_ok", true}, {"active", true}, {"buckets", 256},
                                                 {"tx_packets", 70}, {"load_packets", 7},
                                                 {"hashes", json::array({{{"hash", 4}, {"tx_packets", 70},
                                                                          {"load_packets", 7}}})}}})}}});
}

}  // namespace

TEST_CASE("bond/show text: OVS's layout, the mode in force, members and their hashes", "[cli][bond]") {
  const std::string t = bond_show_text(one_bond());
  CHECK(t.find("---- bond0 ----\n") == 0);
  CHECK(t.find("bond_mode: active-backup (configured balance-tcp)\n") != std::string::npos);
  CHECK(t.find("downdelay: 200 ms\n") != std::string::npos);
  CHECK(t.find("next rebalance") == std::string::npos);  // null: no rebalancing
  CHECK(t.find("lacp_status: configured\nlacp_fallback_ab: true\nactive member: p1\n") != std::string::npos);
  CHECK(t.find("\nmember p0: disabled\n  may_enable: false\n  carrier: down\n  reason: no carrier\n"
               "  downdelay expires in 150 ms\n") != std::string::npos);
  CHECK(t.find("\nmember p1: enabled\n  active member\n  may_enable: true\n") != std::string::npos);
  CHECK(t.find("  buckets: 256, tx 70 packets, load 7 packets\n  hash 4: 7 packets load (70 total)\n") !=
        std::string::npos);
}

TEST_CASE("lacp/show text: actor, partner and counters per member; absent keys are '?'", "[cli][lacp]") {
  json info = {{"sys_id", "aa:bb:cc:dd:ee:ff"}, {"sys_priority", 65534}, {"port_id", 3}, {"port_priority", 65535},
               {"key", 1}, {"state", "activity timeout aggregation synchronized collecting distributing"}};
  json b = json::array({{{"bond", "bond0"}, {"status", "active negotiated"}, {"sys_id", "02:00:00:00:00:01"},
                         {"sys_priority", 65534}, {"aggregation_key", 1}, {"lacp_time", "fast"},
                         {"members", json::array({{{"member", "d1"}, {"status", "current"}, {"attached", true},
                                                   {"port_id", 3}, {"port_priority", 65535}, {"may_enable", true},
                                                   {"actor", info}, {"partner", info}, {"rx_pdus", 9},
                                                   {"tx_pdus", 8}, {"rx_bad_pdus", 1}, {"link_expired", 0}}})}}});
  const std::string t = lacp_show_text(b);
  CHECK(t.find("---- bond0 ----\n  status: active negotiated\n  sys_id: 02:00:00:00:00:01\n") == 0);
  CHECK(t.find("\nmember: d1: current attached\n  port_id: 3\n") != std::string::npos);
  CHECK(t.find("  partner sys_id: aa:bb:cc:dd:ee:ff\n") != std::string::npos);
  CHECK(t.find("  partner state: activity timeout aggregation synchronized collecting distributing\n") !=
        std::string::npos);
  CHECK(t.find("  TX PDUs: 8\n  RX PDUs: 9\n  RX Bad PDUs: 1\n  Link Expired: 0\n  Link Defaulted: ?\n") !=
        std::string::npos);
}
