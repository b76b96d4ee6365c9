#include "cli.h"

#include <algorithm>
#include <sstream>

namespace dps::dpsbench {
namespace {

std::vector<unsigned> parse_index_list(const std::string& v, const std::string& what) {
  std::vector<unsigned> out;
  std::istringstream in(v);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      unsigned long n = std::stoul(item, &used);
      if (used != item.size() || n > 1023) throw std::invalid_argument(item);
      out.push_back(static_cast<unsigned>(n));
    } catch (const std::exception&) {
      throw CliError(what + ": '" + v + "' is not a comma-separated list of indices (e.g. 0,1)");
    }
  }
  if (out.empty()) throw CliError(what + ": empty list");
  return out;
}

double parse_ratio(const std::string& v, const std::string& what) {
  std::string s = v;
  bool pct = !s.empty() && s.back() == '%';
  if (pct) s.pop_back();
  double r;
  try {
    size_t used = 0;
    r = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(v);
  } catch (const std::exception&) {
    throw CliError(what + ": '" + v + "' is not a ratio (e.g. 0.001 or 0.1%)");
  }
  if (pct) r /= 100;
  if (!(r >= 0 && r < 1)) throw CliError(what + ": '" + v + "' must be in [0, 1) (or [0%, 100%))");
  return r;
}

}  // namespace

std::vector<std::string> default_ports(const std::string& socket) {
  return {"net_memif0,role=client,id=0,socket=" + socket, "net_memif1,role=client,id=1,socket=" + socket};
}

std::string usage() {
  return R"(usage: dpsbench MODE [options] [-- EAL arguments]

modes (testpmd vocabulary):
  txonly    send the traffic profile on every (--tx-ports) port
  rxonly    receive, check sequence tags, count loss/reordering/duplicates, latency
  io        forward port 2k <-> 2k+1 (a single port back to itself)
  flowgen   send on every port and receive on every port: exact loss and latency
            through a device under test; --ndr runs an RFC 2544 NDR/PDR search

ports:
  --port DEVARGS        a DPDK port (repeatable, in index order): net_memif0,role=client,
                        socket=/path,id=0 | net_virtio_user0,path=... | net_af_packet0,iface=eth0
                        | net_tap0 | 0000:03:00.0. Default: two memif clients (ids 0, 1) on
                        )" + std::string(kDefaultMemifSocket) + R"(
  --memif-socket PATH   the default memif pair on another socket
  --tx-ports LIST       ports that send (default: all, in txonly/flowgen)
  --rx-ports LIST       ports that receive (default: all, in rxonly/io/flowgen)

traffic profile (flags override --profile FILE.json; JSON keys = flag names with '_'):
  --profile FILE        JSON profile
  --flows N             flows per port (default 1)
  --vary F[=N],...      fields that vary across flows, mixed radix: src_mac dst_mac src_ip
                        dst_ip src_port dst_port (N defaults to --flows)
  --src-mac/--dst-mac MAC  --src-ip/--dst-ip ADDR (IPv4 or IPv6)  --src-port/--dst-port N
  --l3 ipv4|ipv6        --vlan ID[,INNER]  --vlan-pcp P
  --frame-size S|S1,S2,..|imix   sizes with FCS (64..9026); imix = 7:4:1 of 64/594/1518
  --rate R              per tx port: 1000000, 2.5mpps, 40% (of --link-speed), unlimited
  --link-speed G        Gbit/s for % rates (default 10)
  --duration T          10s, 500ms (default 10s; 0 = until --packets)
  --packets N           per tx port (txonly/flowgen); rxonly: stop after N received

run control:
  --cores LIST          CPUs for worker lcores: one CPU runs tx and rx; two run one
                        direction each (default: the last online CPU)
  --burst N             burst size (default 32, max 64)
  --mbufs N             mbufs per pool (default 16384; rx and tx pools)
  --link-timeout T      fail if a link is not up after T (default 10s)
  --timeout T           hard limit on the run (default duration + 30s; 60s for rxonly)
  --idle T              rx modes: stop T after the last frame arrived
  --drain T             keep receiving T after tx stops (default 200ms)
  --linger T            then keep the ports open until the peer closes, at most T
                        (a sender over memif: let the receiver finish first)
  --interval T          timeline sampling period (default 500ms)
  --file-prefix P       EAL file prefix (default dpsbench-<pid>)
  --ready-file FILE     create FILE once every link is up and traffic is being
                        polled (start a sender after its receiver is ready)

NDR/PDR (flowgen):
  --ndr                 binary search for the no-drop rate and the partial-drop rate
  --trial T             trial duration (default 2s)
  --resolution R        stop when the bounds are within R of the max (default 0.5%)
  --pdr-loss R          loss ratio allowed for the PDR (default 0.1%)
  --max-rate R          top of the search (default: --rate, else the generator maximum)

output:
  --json                results as JSON on stdout (summary to stderr)
  --json-out FILE       results as JSON into FILE
  --plot FILE.png|.svg  throughput/latency over the run (+ FILE-ndr.png for --ndr), via gnuplot
  --quiet               no summary, no progress line
  -v, --verbose         DPDK and port logs
  -h, --help
)";
}

namespace {

// What parse_cli() collects before it can resolve the profile: the flags it
// leaves to the profile, and the options that depend on the final profile.
struct ParseState {
  CliOptions o;
  bool mode_set = false;
  std::string memif_socket = kDefaultMemifSocket;
  std::vector<std::pair<std::string, std::string>> profile_flags;
  std::string profile_file;
  std::string max_rate_text;
  EngineOptions& e() { return o.engine; }
};

// One "--name[=value]" option of dpsbench's own (the profile flags are
// profile.h's). A flag (takes_value false) refuses "=value".
struct OptionDef {
  const char* name;
  bool takes_value;
  void (*apply)(ParseState& s, const std::string& value);
};

uint64_t parse_bounded(const std::string& v, const char* what, uint64_t lo, uint64_t hi, const char* range) {
  uint64_t n = parse_count(v, what);
  if (n < lo || n > hi) throw CliError(std::string(what) + ": '" + v + "' must be in " + range);
  return n;
}

// Short names keep the table one option a line.
using S = ParseState;
using V = const std::string&;

const std::vector<OptionDef>& option_table() {
  static const std::vector<OptionDef> kOptions = {
      {"mode", true, [](S& s, V v) { s.e().mode = parse_mode(v); s.mode_set = true; }},
      {"port", true, [](S& s, V v) { s.e().ports.push_back(v); }},
      {"memif-socket", true, [](S& s, V v) { s.memif_socket = v; }},
      {"tx-ports", true, [](S& s, V v) { s.e().tx_ports = parse_index_list(v, "--tx-ports"); }},
      {"rx-ports", true, [](S& s, V v) { s.e().rx_ports = parse_index_list(v, "--rx-ports"); }},
      {"profile", true, [](S& s, V v) { s.profile_file = v; }},
      {"cores", true, [](S& s, V v) { s.o.cores = parse_index_list(v, "--cores"); }},
      {"burst", true,
       [](S& s, V v) { s.e().burst = static_cast<unsigned>(parse_bounded(v, "--burst", 1, 64, "1..64")); }},
      {"mbufs", true,
       [](S& s, V v) {
         s.e().mbufs = static_cast<unsigned>(parse_bounded(v, "--mbufs", 1024, 1u << 24, "1024..16777216"));
       }},
      {"link-timeout", true, [](S& s, V v) { s.e().link_timeout_s = parse_duration(v, "--link-timeout"); }},
      {"timeout", true, [](S& s, V v) { s.e().run_timeout_s = parse_duration(v, "--timeout"); }},
      {"idle", true, [](S& s, V v) { s.e().idle_stop_s = parse_duration(v, "--idle"); }},
      {"drain", true, [](S& s, V v) { s.e().drain_s = parse_duration(v, "--drain"); }},
      {"linger", true, [](S& s, V v) { s.e().linger_s = parse_duration(v, "--linger"); }},
      {"ready-file", true, [](S& s, V v) { s.e().ready_file = v; }},
      {"interval", true,
       [](S& s, V v) {
         s.e().interval_s = parse_duration(v, "--interval");
         if (s.e().interval_s < 0.01) throw CliError("--interval: '" + v + "' is below 10ms");
       }},
      {"file-prefix", true, [](S& s, V v) { s.o.file_prefix = v; }},
      {"ndr", false, [](S& s, V) { s.e().ndr = true; }},
      {"trial", true, [](S& s, V v) { s.e().trial_s = parse_duration(v, "--trial"); }},
      {"resolution", true, [](S& s, V v) { s.e().ndr_opts.resolution = parse_ratio(v, "--resolution"); }},
      {"pdr-loss", true, [](S& s, V v) { s.e().ndr_opts.pdr_loss = parse_ratio(v, "--pdr-loss"); }},
      {"max-rate", true, [](S& s, V v) { s.max_rate_text = v; }},
      {"json", false, [](S& s, V) { s.o.json = true; }},
      {"json-out", true, [](S& s, V v) { s.o.json_out = v; }},
      {"plot", true, [](S& s, V v) { s.o.plot = v; }},
      {"quiet", false, [](S& s, V) { s.o.quiet = true; }},
      {"no-progress", false, [](S& s, V) { s.o.progress_forced_off = true; }},
      {"rx-packets", true, [](S& s, V v) { s.e().rx_packets = parse_count(v, "--rx-packets"); }},
  };
  return kOptions;
}

const OptionDef* find_option(const std::string& name) {
  for (const auto& d : option_table())
    if (name == d.name) return &d;
  return nullptr;
}

// A word that is not an option: the mode, once.
void parse_mode_word(ParseState& s, const std::string& a) {
  if (s.mode_set)
    throw CliError("unexpected argument '" + a + "' (the mode is already '" + mode_name(s.e().mode) + "')");
  try {
    s.e().mode = parse_mode(a);
  } catch (const std::invalid_argument& ex) {
    throw CliError(ex.what());
  }
  s.mode_set = true;
}

// args[i] is "--name[=value]" ('_' and '-' alike in names); a value not given
// with '=' is the next argument (i advances). Names outside the table are
// profile flags, resolved once every flag is read.
void parse_option(ParseState& s, const std::vector<std::string>& args, size_t& i) {
  std::string name = args[i].substr(2), value;
  bool has_value = false;
  if (auto eq = name.find('='); eq != std::string::npos) {
    value = name.substr(eq + 1);
    name = name.substr(0, eq);
    has_value = true;
  }
  std::replace(name.begin(), name.end(), '_', '-');
  const OptionDef* def = find_option(name);
  if (def && !def->takes_value) {
    if (has_value) throw CliError("--" + name + " takes no value");
  } else if (!has_value) {
    if (i + 1 >= args.size()) throw CliError("--" + name + " needs a value");
    value = args[++i];
  }
  if (!def) {
    s.profile_flags.emplace_back(name, value);
    return;
  }
  try {
    def->apply(s, value);
  } catch (const ProfileError& ex) {
    throw CliError(std::string("--") + ex.what());
  }
}

// The profile: the file, then the flags over it; what receivers make of it;
// and --max-rate, which may be relative to the profile's link speed.
void resolve_profile(ParseState& s) {
  EngineOptions& e = s.e();
  try {
    if (!s.profile_file.empty()) e.profile = load_profile_file(s.profile_file);
    for (const auto& [n, v] : s.profile_flags)
      if (!apply_profile_flag(e.profile, n, v)) throw CliError("unknown option --" + n + "; see --help");
    if (e.mode == Mode::kRxOnly || e.mode == Mode::kIo) {
      // Receivers: --packets is a stop count, --duration a time limit; the
      // profile's frame fields are not used.
      if (e.profile.packets && !e.rx_packets) e.rx_packets = e.profile.packets;
      bool duration_given = std::any_of(s.profile_flags.begin(), s.profile_flags.end(),
                                        [](auto& f) { return f.first == "duration"; });
      if (!duration_given && s.profile_file.empty() && (e.rx_packets || e.idle_stop_s > 0)) e.profile.duration_s = 0;
    } else {
      e.profile.finalize();
    }
    double max_rate_pps = 0;
    if (!s.max_rate_text.empty()) {
      TrafficProfile tmp = e.profile;
      tmp.rate = parse_rate(s.max_rate_text, "--max-rate");
      max_rate_pps = tmp.rate_pps();
    }
    e.ndr_opts.max_pps = max_rate_pps;
  } catch (const ProfileError& ex) {
    std::string msg = ex.what();
    throw CliError(s.profile_file.empty() || msg.rfind(s.profile_file, 0) == 0 ? "profile: " + msg : msg);
  }
}

}  // namespace

CliOptions parse_cli(const std::vector<std::string>& args) {
  ParseState s;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--") {
      s.o.eal_extra.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") s.o.help = true;
    else if (a == "-v" || a == "--verbose") s.o.verbose = true;
    else if (a.rfind("--", 0) != 0) parse_mode_word(s, a);
    else parse_option(s, args, i);
  }
  if (s.o.help) return s.o;
  if (!s.mode_set) throw CliError("no mode given (txonly, rxonly, io or flowgen); see --help");
  resolve_profile(s);
  EngineOptions& e = s.e();
  if (e.ports.empty()) e.ports = default_ports(s.memif_socket);
  if (e.trial_s <= 0) throw CliError("--trial must be positive");
  return s.o;
}

std::vector<std::string> eal_args(const CliOptions& o, unsigned online_cpus, int pid) {
  std::vector<unsigned> cores = o.cores;
  if (cores.empty()) cores.push_back(online_cpus ? online_cpus - 1 : 0);
  for (unsigned c : cores)
    if (c >= online_cpus)
      throw CliError("--cores: CPU " + std::to_string(c) + " does not exist (" + std::to_string(online_cpus) +
                     " online)");
  // Main lcore 0 floats over every CPU (it sleeps); workers are pinned.
  std::string lcores = "0@(0-" + std::to_string(online_cpus ? online_cpus - 1 : 0) + ")";
  for (size_t i = 0; i < cores.size(); i++) lcores += "," + std::to_string(i + 1) + "@" + std::to_string(cores[i]);
  std::vector<std::string> a = {"--lcores", lcores, "--file-prefix",
                                o.file_prefix.empty() ? "dpsbench-" + std::to_string(pid) : o.file_prefix,
                                "--no-telemetry"};
  bool all_vdev = std::all_of(o.engine.ports.begin(), o.engine.ports.end(),
                              [](const std::string& p) { return p.rfind("net_", 0) == 0 || p.rfind("eth_", 0) == 0; });
  if (all_vdev) a.push_back("--no-pci");
  if (!o.verbose) a.insert(a.end(), {"--log-level", "*:error"});
  a.insert(a.end(), o.eal_extra.begin(), o.eal_extra.end());
  return a;
}

}  // namespace dps::dpsbench
