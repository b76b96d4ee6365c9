// rxq_policy.h - the configuration of rx queue placement, read from the
// store: Open_vSwitch other_config pmd-rxq-assign, pmd-rxq-isolate,
// pmd-auto-lb, pmd-auto-lb-load-threshold, pmd-auto-lb-improvement-threshold,
// pmd-auto-lb-rebal-interval (minutes, as OVS) and dpswitch's
// pmd-auto-lb-slot-ms (the length of one of the six load-history slots; OVS
// fixes it at 10 s), plus each Interface's other_config:pmd-rxq-affinity.
//
// A value that does not parse is reported (one line each in *errors, for
// the log) and its default used; nothing else changes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rxq_scheduler.h"

namespace dps::daemon {

struct IfaceRxqConfig {
  std::string name;       // the Interface
  uint32_t port_no = 0;   // its datapath port
  std::string affinity;   // other_config:pmd-rxq-affinity ("" = none)
};

datapath::RxqPolicy rxq_policy(const std::map<std::string, std::string>& oc,
                               const std::vector<IfaceRxqConfig>& ifaces,
                               std::vector<std::string>* errors);

}  // namespace dps::daemon
