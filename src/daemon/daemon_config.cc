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
  -h, --help           this text
)";
}

DaemonConfig parse_command_line(int argc, char** argv) {
  DaemonConfig cfg;
  int i = 1;
  for (; i < argc && std::string(argv[i]) != "--"; i++) cfg.eal.push_back(argv[i]);
  if (i < argc) i++;  // skip "--"
  // The file first, so every option given on the command line overrides it.
  bool eal_from_cli = !cfg.eal.empty();
  for (int k = i; k + 1 < argc; k++)
    if (std::string(argv[k]) == "--config") load_config_file(argv[k + 1], &cfg, eal_from_cli);
  auto value = [&](const std::string& opt) -> std::string {
    if (i + 1 >= argc) throw ConfigError("option " + opt + " needs a value");
    return argv[++i];
  };
  auto number = [&](const std::string& opt) -> double {
    std::string v = value(opt);
    try {
      size_t pos;
      double d = std::stod(v, &pos);
      if (pos != v.size() || d < 0) throw std::invalid_argument(v);
      return d;
    } catch (const std::exception&) {
      throw ConfigError("option " + opt + ": '" + v + "' is not a non-negative number");
    }
  };
  bool openflow_from_cli = false;
  for (; i < argc; i++) {
    std::string a = argv[i];
    cfg.cli_options.push_back(a);
    if (a == "--config") value(a);  // loaded above
    else if (a == "--openflow") {
      if (!openflow_from_cli) cfg.openflow.clear();
      openflow_from_cli = true;
      cfg.openflow.push_back(value(a));
    }
    else if (a == "--rules") cfg.rules_file = value(a);
    else if (a == "--flow-idle-ms") cfg.flow_idle_ms = static_cast<int64_t>(number(a));
    else if (a == "--flow-limit") cfg.flow_limit = static_cast<uint64_t>(number(a));
    else if (a == "--churn-rate") cfg.churn_rate = number(a);
    else if (a == "--sample-tx-ms") cfg.sample_tx_ms = number(a);
    else if (a == "--nice") {
      std::string v = value(a);
      int n = 0;
      size_t pos = 0;
      try {
        n = std::stoi(v, &pos);
      } catch (const std::exception&) {
        pos = 0;
      }
      if (pos == 0 || pos != v.size() || n < -20 || n > 19)
        throw ConfigError("option --nice: '" + v + "' is not a priority from -20 to 19");
      cfg.nice = n;
    }
    else if (a == "--pmd-cores") {
      std::string v = value(a);
      cfg.pmd_cores.clear();
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string c = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        try {
          cfg.pmd_cores.push_back(static_cast<unsigned>(std::stoul(c)));
        } catch (const std::exception&) {
          throw ConfigError("--pmd-cores: '" + c + "' is not a core number");
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (a == "--mbufs") cfg.mbufs = static_cast<unsigned>(number(a));
    else if (a == "--max-flows") cfg.max_flows = static_cast<uint32_t>(number(a));
    else if (a == "--emc-insert-prob") cfg.emc_insert_inv_prob = static_cast<uint32_t>(number(a));
    else if (a == "--no-smc") cfg.smc = false;
    else if (a == "--duration") cfg.duration_s = number(a);
    else if (a == "--warmup") cfg.warmup_s = number(a);
    else if (a == "--summary") cfg.summary = true;
    else if (a == "--summary-json") cfg.summary_json = value(a);
    else if (a == "--log-level") cfg.log_level = value(a);
    else if (a == "--remote") {
      std::string r = value(a);
      if (r.rfind("punix:", 0) != 0 && r.rfind("ptcp:", 0) != 0)
        throw ConfigError("--remote: '" + r + "' is not punix:PATH or ptcp:PORT[:IP]");
      cfg.remotes.push_back(r);
    } else if (a == "--db") cfg.db_path = value(a);
    else if (a == "--no-db") cfg.no_db = true;
    else if (a == "-h" || a == "--help") throw ConfigError("");
    else throw ConfigError("unknown option '" + a + "'");
  }
  if (!eal_from_cli && cfg.eal.empty()) cfg.eal = {"-l", "0,1", "--main-lcore", "0", "--no-pci"};
  // --vdev devices become ports 1..n when no ports were configured.
  if (cfg.ports.empty()) {
    uint32_t no = 1;
    for (size_t k = 0; k + 1 < cfg.eal.size(); k++)
      if (cfg.eal[k] == "--vdev") {
        netdev::PortConfig pc;
        pc.devargs = cfg.eal[k + 1];
        pc.name = "p" + std::to_string(no);
        cfg.ports.emplace_back(no++, pc);
      }
  }
  return cfg;
}

void load_config_file(const std::string& path, DaemonConfig* cfg, bool eal_from_cli) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open config file " + path);
  json j;
  try {
    j = json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw ConfigError(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw ConfigError(path + ": top level must be an object");
  check_keys(j, {"eal", "pmd_cores", "mbufs", "max_flows", "emc_insert_inv_prob", "smc", "ports",
                 "flows", "openflow", "rules", "flow_idle_ms", "flow_limit", "log_level", "comment"},
             path);
  if (j.contains("eal") && !eal_from_cli)
    cfg->eal = get_typed<std::vector<std::string>>(j["eal"], path + ": eal");
  if (j.contains("pmd_cores"))
    cfg->pmd_cores = get_typed<std::vector<unsigned>>(j["pmd_cores"], path + ": pmd_cores");
  if (j.contains("mbufs")) cfg->mbufs = get_typed<unsigned>(j["mbufs"], path + ": mbufs");
  if (j.contains("max_flows")) cfg->max_flows = get_typed<uint32_t>(j["max_flows"], path + ": max_flows");
  if (j.contains("emc_insert_inv_prob"))
    cfg->emc_insert_inv_prob = get_typed<uint32_t>(j["emc_insert_inv_prob"], path + ": emc_insert_inv_prob");
  if (j.contains("smc")) cfg->smc = get_typed<bool>(j["smc"], path + ": smc");
  if (j.contains("openflow"))
    cfg->openflow = get_typed<std::vector<std::string>>(j["openflow"], path + ": openflow");
  if (j.contains("rules")) cfg->rules_file = get_typed<std::string>(j["rules"], path + ": rules");
  if (j.contains("flow_idle_ms"))
    cfg->flow_idle_ms = get_typed<int64_t>(j["flow_idle_ms"], path + ": flow_idle_ms");
  if (j.contains("flow_limit")) cfg->flow_limit = get_typed<uint64_t>(j["flow_limit"], path + ": flow_limit");
  if (j.contains("log_level")) cfg->log_level = get_typed<std::string>(j["log_level"], path + ": log_level");
  if (j.contains("ports")) {
    if (!j["ports"].is_array()) throw ConfigError(path + ": ports must be an array");
    std::set<std::string> names;
    std::set<uint32_t> numbers;
    for (size_t k = 0; k < j["ports"].size(); k++) {
      const json& p = j["ports"][k];
      std::string where = path + ": ports[" + std::to_string(k) + "]";
      if (!p.is_object()) throw ConfigError(where + " must be an object");
      check_keys(p, {"name", "type", "devargs", "port_no", "n_rxq", "n_txq", "rx_desc", "tx_desc", "mtu"},
                 where);
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
      uint32_t no = get_typed<uint32_t>(p.value("port_no", json(0)), where + ".port_no");
      if (!names.insert(pc.name).second) throw ConfigError(where + ": duplicate port name " + pc.name);
      if (no && !numbers.insert(no).second)
        throw ConfigError(where + ": duplicate port_no " + std::to_string(no));
      cfg->ports.emplace_back(no, pc);
    }
  }
  if (j.contains("flows")) {
    if (!j["flows"].is_array()) throw ConfigError(path + ": flows must be an array");
    for (size_t k = 0; k < j["flows"].size(); k++) {
      const json& f = j["flows"][k];
      std::string where = path + ": flows[" + std::to_string(k) + "]";
      if (!f.is_object()) throw ConfigError(where + " must be an object");
      check_keys(f, {"match", "actions"}, where);
      cfg->flows.push_back({get_typed<std::string>(f.value("match", json("")), where + ".match"),
                            get_typed<std::string>(f.value("actions", json("")), where + ".actions")});
    }
  }
}

}  // namespace dps::daemon
