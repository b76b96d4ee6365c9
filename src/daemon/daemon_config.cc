#include "daemon_config.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

namespace dps::daemon {
namespace {

using nlohmann::json;

template <typename T>
T get_typed(const json& j, const std::string& where) {
  try {
    return j.get<T>();
  } catch (const json::exception& e) {
    throw ConfigError(where + ": wrong type (" + std::string(e.what()) + ")");
  }
}

void check_keys(const json& obj, const std::set<std::string>& allowed, const std::string& where) {
  for (auto& [k, v] : obj.items())
    if (!allowed.count(k)) {
      std::string list;
      for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw ConfigError(where + ": unknown key '" + k + "' (known: " + list + ")");
    }
}

}  // namespace

std::string usage() {
  return R"(usage: dpswitchd [EAL options] -- [options]

options:
  --config FILE        JSON configuration (see docs/user-guide.md)
  --openflow TARGET    OpenFlow listener/connection: ptcp:PORT[:IP] or tcp:IP:PORT (repeatable)
  --rules FILE         OpenFlow rules in ovs-ofctl add-flows syntax, loaded at start
  --flow-idle-ms MS    remove megaflows idle for MS milliseconds (default 10000)
  --flow-limit N       install at most N megaflows from the miss path (default 200000)
  --churn-rate N       debug: issue N flow-mods per second (rule-churn benchmark)
  --sample-tx-ms MS    record port tx every MS ms in the summary JSON (flow-setup benchmark)
  --nice N             priority (-20..19) of the control thread and the daemon's autogroup
                       (default -10, as ovs-ctl runs ovs-vswitchd; 0 leaves it alone)
  --pmd-cores LIST     lcores for PMD threads, e.g. 1 or 1,2 (default: all but the main lcore)
  --mbufs N            mbuf pool size (default: sized from the ports)
  --max-flows N        datapath flow limit per PMD (default 200000)
  --emc-insert-prob N  insert 1 in N megaflow hits into the EMC (0 = never; default 100)
  --no-smc             disable the signature-match cache
  --duration SEC       exit after SEC seconds (default: run until SIGTERM/SIGINT)
  --warmup SEC         start the summary window after SEC seconds
  --summary            print a readable run summary at exit
  --summary-json FILE  write the run summary as JSON at exit
  --log-level LEVEL    trace|debug|info|warn|error (default info)
  --remote REMOTE      config store JSON-RPC listener: punix:PATH or ptcp:PORT[:IP]
                       (repeatable; default punix:/var/run/dpswitch/db.sock)
  --db FILE            config store file (default /var/lib/dpswitch/conf.db)
  --no-db              run without the config store (no ovs-vsctl/dpsctl, nothing persisted)
  --metrics-listen ADDR  Prometheus endpoint GET /metrics on IP:PORT, [IPv6]:PORT or PORT
                       (127.0.0.1); beats other_config:metrics-listen (default: off)
  -h, --help           this text
)";
}

namespace {

// The state of one command-line parse.
struct CliState {
  DaemonConfig& cfg;
  bool openflow_from_cli = false;  // the first --openflow replaces the file's list
};

// One option occurrence: its name and value ("" for a flag).
struct CliArg {
  const std::string& opt;
  const std::string& value;

  // The value as a non-negative number.
  double number() const {
    try {
      size_t pos;
      double d = std::stod(value, &pos);
      if (pos != value.size() || d < 0) throw std::invalid_argument(value);
      return d;
    } catch (const std::exception&) {
      throw ConfigError("option " + opt + ": '" + value + "' is not a non-negative number");
    }
  }
};

int nice_value(const std::string& v) {
  int n = 0;
  size_t pos = 0;
  try {
    n = std::stoi(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size() || n < -20 || n > 19)
    throw ConfigError("option --nice: '" + v + "' is not a priority from -20 to 19");
  return n;
}

std::vector<unsigned> core_list(const std::string& v) {
  std::vector<unsigned> cores;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string c = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      cores.push_back(static_cast<unsigned>(std::stoul(c)));
    } catch (const std::exception&) {
      throw ConfigError("--pmd-cores: '" + c + "' is not a core number");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return cores;
}

struct OptionDef {
  const char* name;
  bool takes_value;
  void (*apply)(CliState& s, const CliArg& a);
};

// Every option after "--" (usage() documents them).
const OptionDef kOptions[] = {
    {"--config", true, [](CliState&, const CliArg&) {}},  // loaded before the others
    {"--openflow", true,
     [](CliState& s, const CliArg& a) {
       if (!s.openflow_from_cli) s.cfg.openflow.clear();
       s.openflow_from_cli = true;
       s.cfg.openflow.push_back(a.value);
     }},
    {"--rules", true, [](CliState& s, const CliArg& a) { s.cfg.rules_file = a.value; }},
    {"--flow-idle-ms", true, [](CliState& s, const CliArg& a) { s.cfg.flow_idle_ms = static_cast<int64_t>(a.number()); }},
    {"--flow-limit", true, [](CliState& s, const CliArg& a) { s.cfg.flow_limit = static_cast<uint64_t>(a.number()); }},
    {"--churn-rate", true, [](CliState& s, const CliArg& a) { s.cfg.churn_rate = a.number(); }},
    {"--sample-tx-ms", true, [](CliState& s, const CliArg& a) { s.cfg.sample_tx_ms = a.number(); }},
    {"--nice", true, [](CliState& s, const CliArg& a) { s.cfg.nice = nice_value(a.value); }},
    {"--pmd-cores", true, [](CliState& s, const CliArg& a) { s.cfg.pmd_cores = core_list(a.value); }},
    {"--mbufs", true, [](CliState& s, const CliArg& a) { s.cfg.mbufs = static_cast<unsigned>(a.number()); }},
    {"--max-flows", true, [](CliState& s, const CliArg& a) { s.cfg.max_flows = static_cast<uint32_t>(a.number()); }},
    {"--emc-insert-prob", true,
     [](CliState& s, const CliArg& a) { s.cfg.emc_insert_inv_prob = static_cast<uint32_t>(a.number()); }},
    {"--no-smc", false, [](CliState& s, const CliArg&) { s.cfg.smc = false; }},
    {"--duration", true, [](CliState& s, const CliArg& a) { s.cfg.duration_s = a.number(); }},
    {"--warmup", true, [](CliState& s, const CliArg& a) { s.cfg.warmup_s = a.number(); }},
    {"--summary", false, [](CliState& s, const CliArg&) { s.cfg.summary = true; }},
    {"--summary-json", true, [](CliState& s, const CliArg& a) { s.cfg.summary_json = a.value; }},
    {"--log-level", true, [](CliState& s, const CliArg& a) { s.cfg.log_level = a.value; }},
    {"--remote", true,
     [](CliState& s, const CliArg& a) {
       if (a.value.rfind("punix:", 0) != 0 && a.value.rfind("ptcp:", 0) != 0)
         throw ConfigError("--remote: '" + a.value + "' is not punix:PATH or ptcp:PORT[:IP]");
       s.cfg.remotes.push_back(a.value);
     }},
    {"--db", true, [](CliState& s, const CliArg& a) { s.cfg.db_path = a.value; }},
    {"--no-db", false, [](CliState& s, const CliArg&) { s.cfg.no_db = true; }},
    {"--metrics-listen", true, [](CliState& s, const CliArg& a) { s.cfg.metrics_listen = a.value; }},
    {"-h", false, [](CliState&, const CliArg&) { throw ConfigError(""); }},
    {"--help", false, [](CliState&, const CliArg&) { throw ConfigError(""); }},
};

const OptionDef* find_option(const std::string& name) {
  for (const OptionDef& d : kOptions)
    if (name == d.name) return &d;
  return nullptr;
}

// --vdev devices become ports 1..n when no ports were configured.
void ports_from_vdevs(DaemonConfig* cfg) {
  if (!cfg->ports.empty()) return;
  uint32_t no = 1;
  for (size_t k = 0; k + 1 < cfg->eal.size(); k++)
    if (cfg->eal[k] == "--vdev") {
      netdev::PortConfig pc;
      pc.devargs = cfg->eal[k + 1];
      pc.name = "p" + std::to_string(no);
      cfg->ports.emplace_back(no++, pc);
    }
}

}  // namespace

DaemonConfig parse_command_line(int argc, char** argv) {
  DaemonConfig cfg;
  int i = 1;
  for (; i < argc && std::string(argv[i]) != "--"; i++) cfg.eal.push_back(argv[i]);
  if (i < argc) i++;  // skip "--"
  // The file first, so every option given on the command line overrides it.
  bool eal_from_cli = !cfg.eal.empty();
  for (int k = i; k + 1 < argc; k++)
    if (std::string(argv[k]) == "--config") load_config_file(argv[k + 1], &cfg, eal_from_cli);
  CliState state{cfg};
  for (; i < argc; i++) {
    std::string opt = argv[i];
    cfg.cli_options.push_back(opt);
    const OptionDef* def = find_option(opt);
    if (!def) throw ConfigError("unknown option '" + opt + "'");
    std::string value;
    if (def->takes_value) {
      if (i + 1 >= argc) throw ConfigError("option " + opt + " needs a value");
      value = argv[++i];
    }
    def->apply(state, CliArg{opt, value});
  }
  if (!eal_from_cli && cfg.eal.empty()) cfg.eal = {"-l", "0,1", "--main-lcore", "0", "--no-pci"};
  ports_from_vdevs(&cfg);
  return cfg;
}

namespace {

// Sets *out from j[key] when the key is there (a type mismatch names it).
template <typename T>
void take(const json& j, const char* key, const std::string& path, T* out) {
  if (j.contains(key)) *out = get_typed<T>(j[key], path + ": " + key);
}

json parse_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open config file " + path);
  try {
    return json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw ConfigError(path + ": invalid JSON: " + e.what());
  }
}

netdev::PortConfig port_entry(const json& p, const std::string& where, uint32_t* no) {
  if (!p.is_object()) throw ConfigError(where + " must be an object");
  check_keys(p, {"name", "type", "devargs", "port_no", "n_rxq", "n_txq", "rx_desc", "tx_desc", "mtu"}, where);
  netdev::PortConfig pc;
  if (!p.contains("name")) throw ConfigError(where + ": missing 'name'");
  pc.name = get_typed<std::string>(p["name"], where + ".name");
  pc.type = p.value("type", "dpdk");
  if (pc.type == "dpdk" && !p.contains("devargs"))
    throw ConfigError(where + " (" + pc.name + "): missing 'devargs'");
  pc.devargs = p.value("devargs", "");
  pc.n_rxq = get_typed<uint16_t>(p.value("n_rxq", json(1)), where + ".n_rxq");
  pc.n_txq = get_typed<uint16_t>(p.value("n_txq", json(0)), where + ".n_txq");
  pc.rx_desc = get_typed<uint16_t>(p.value("rx_desc", json(1024)), where + ".rx_desc");
  pc.tx_desc = get_typed<uint16_t>(p.value("tx_desc", json(1024)), where + ".tx_desc");
  pc.mtu = get_typed<uint32_t>(p.value("mtu", json(0)), where + ".mtu");
  *no = get_typed<uint32_t>(p.value("port_no", json(0)), where + ".port_no");
  return pc;
}

void load_ports(const json& ports, const std::string& path, DaemonConfig* cfg) {
  if (!ports.is_array()) throw ConfigError(path + ": ports must be an array");
  std::set<std::string> names;
  std::set<uint32_t> numbers;
  for (size_t k = 0; k < ports.size(); k++) {
    std::string where = path + ": ports[" + std::to_string(k) + "]";
    uint32_t no = 0;
    netdev::PortConfig pc = port_entry(ports[k], where, &no);
    if (!names.insert(pc.name).second) throw ConfigError(where + ": duplicate port name " + pc.name);
    if (no && !numbers.insert(no).second) throw ConfigError(where + ": duplicate port_no " + std::to_string(no));
    cfg->ports.emplace_back(no, pc);
  }
}

void load_flows(const json& flows, const std::string& path, DaemonConfig* cfg) {
  if (!flows.is_array()) throw ConfigError(path + ": flows must be an array");
  for (size_t k = 0; k < flows.size(); k++) {
    const json& f = flows[k];
    std::string where = path + ": flows[" + std::to_string(k) + "]";
    if (!f.is_object()) throw ConfigError(where + " must be an object");
    check_keys(f, {"match", "actions"}, where);
    cfg->flows.push_back({get_typed<std::string>(f.value("match", json("")), where + ".match"),
                          get_typed<std::string>(f.value("actions", json("")), where + ".actions")});
  }
}

}  // namespace

void load_config_file(const std::string& path, DaemonConfig* cfg, bool eal_from_cli) {
  json j = parse_file(path);
  if (!j.is_object()) throw ConfigError(path + ": top level must be an object");
  check_keys(j, {"eal", "pmd_cores", "mbufs", "max_flows", "emc_insert_inv_prob", "smc", "ports",
                 "flows", "openflow", "rules", "flow_idle_ms", "flow_limit", "log_level", "comment"},
             path);
  if (!eal_from_cli) take(j, "eal", path, &cfg->eal);
  take(j, "pmd_cores", path, &cfg->pmd_cores);
  take(j, "mbufs", path, &cfg->mbufs);
  take(j, "max_flows", path, &cfg->max_flows);
  take(j, "emc_insert_inv_prob", path, &cfg->emc_insert_inv_prob);
  take(j, "smc", path, &cfg->smc);
  take(j, "openflow", path, &cfg->openflow);
  take(j, "rules", path, &cfg->rules_file);
  take(j, "flow_idle_ms", path, &cfg->flow_idle_ms);
  take(j, "flow_limit", path, &cfg->flow_limit);
  take(j, "log_level", path, &cfg->log_level);
  if (j.contains("ports")) load_ports(j["ports"], path, cfg);
  if (j.contains("flows")) load_flows(j["flows"], path, cfg);
}

}  // namespace dps::daemon
