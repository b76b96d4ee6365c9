#include "rxq_policy.h"

#include <charconv>

namespace dps::daemon {

namespace {

using Config = std::map<std::string, std::string>;

const std::string* find(const Config& oc, const char* key) {
  auto it = oc.find(key);
  return it == oc.end() ? nullptr : &it->second;
}

bool flag(const Config& oc, const char* key, bool dflt, std::vector<std::string>* errors) {
  const std::string* v = find(oc, key);
  if (!v) return dflt;
  if (*v == "true" || *v == "false") return *v == "true";
  errors->push_back("other_config:" + std::string(key) + "=\"" + *v +
                    "\" is not true or false (default " + (dflt ? "true" : "false") + " used)");
  return dflt;
}

// An integer in [lo, hi]; the default otherwise.
uint64_t number(const Config& oc, const char* key, uint64_t lo, uint64_t hi, uint64_t dflt,
                std::vector<std::string>* errors) {
  const std::string* v = find(oc, key);
  if (!v) return dflt;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec == std::errc() && p == v->data() + v->size() && n >= lo && n <= hi) return n;
  errors->push_back("other_config:" + std::string(key) + "=\"" + *v + "\" is not an integer in " +
                    std::to_string(lo) + ".." + std::to_string(hi) + " (default " +
                    std::to_string(dflt) + " used)");
  return dflt;
}

}  // namespace

datapath::RxqPolicy rxq_policy(const Config& oc, const std::vector<IfaceRxqConfig>& ifaces,
                               std::vector<std::string>* errors) {
  datapath::RxqPolicy p;
  if (const std::string* v = find(oc, "pmd-rxq-assign")) {
    if (auto m = datapath::parse_rxq_assign(*v)) p.placement.mode = *m;
    else errors->push_back("other_config:pmd-rxq-assign=\"" + *v +
                           "\" is not roundrobin, cycles or group (cycles used)");
  }
  p.placement.isolate = flag(oc, "pmd-rxq-isolate", true, errors);
  if (!p.placement.isolate && p.placement.mode != datapath::RxqAssignMode::kGroup) {
    errors->push_back("other_config:pmd-rxq-isolate=false needs pmd-rxq-assign=group "
                      "(pinned PMDs stay isolated)");
    p.placement.isolate = true;
  }
  p.auto_lb = flag(oc, "pmd-auto-lb", true, errors);
  p.auto_lb_load_threshold = static_cast<unsigned>(number(oc, "pmd-auto-lb-load-threshold", 0, 100, 95, errors));
  p.auto_lb_improvement_threshold =
      static_cast<unsigned>(number(oc, "pmd-auto-lb-improvement-threshold", 0, 100, 25, errors));
  uint64_t minutes = number(oc, "pmd-auto-lb-rebal-interval", 0, 20000, 1, errors);
  p.auto_lb_interval_ms = (minutes ? minutes : 1) * 60000;
  p.slot_ms = number(oc, "pmd-auto-lb-slot-ms", 10, 600000, 10000, errors);
  for (const IfaceRxqConfig& i : ifaces) {
    if (i.affinity.empty()) continue;
    std::string why;
    if (auto a = datapath::parse_rxq_affinity(i.affinity, &why)) p.affinity[i.port_no] = *a;
    else errors->push_back("Interface " + i.name + " other_config:pmd-rxq-affinity=\"" + i.affinity +
                           "\": " + why + " (not pinned)");
  }
  return p;
}

}  // namespace dps::daemon
