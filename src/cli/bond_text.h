// bond_text.h - dpsctl's text for bond/show and lacp/show, laid out as
// ovs-appctl bond/show and lacp/show (plus lacp/show-stats' counters).
//
// What: bond_show_text / lacp_show_text render the JSON the daemon answers
// (daemon/bond_show.h documents its keys) as OVS's blocks: "---- NAME ----",
// the bond's settings, then one paragraph per member. `--format json`
// prints the JSON itself instead.
//
// Design: pure functions of the JSON; a key the daemon did not send is
// printed as "?" rather than failing (an older daemon).
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dps::cli {

std::string bond_show_text(const nlohmann::json& bonds);
std::string lacp_show_text(const nlohmann::json& bonds);

}  // namespace dps::cli
