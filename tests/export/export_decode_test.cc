// The encoders' output decoded by decoders nobody here wrote.
//
// tshark: the sFlow, IPFIX and NetFlow v5 datagrams go into one pcap as
//   UDP from 192.0.2.1 to 192.0.2.99 ports 6343 / 4739 / 2055 (the ports
//   Wireshark decodes them on); tshark must flag no frame as malformed and
//   report no expert error, and its fields must show the values encoded
//   (including the sampled headers' inner IP/TCP/UDP fields).
// nfcapd + nfdump (skipped with a warning when nfdump is not installed):
//   the IPFIX and NetFlow v5 datagrams are sent through UdpExporter to a
//   real nfcapd on 127.0.0.1; nfdump must list the flows with their
//   addresses, ports, protocol, packets and bytes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "flow_cache.h"
#include "ipfix.h"
#include "netflow_v5.h"
#include "packet_builder.h"
#include "sample_flows.h"
#include "sflow.h"
#include "udp_exporter.h"

using namespace dps::exporter;
using namespace dps::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kBootMs = 1'700'000'000'000ull;
constexpr uint64_t kNowMs = kBootMs + 20'000;

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

bool have(const char* tool) { return !run(std::string("command -v ") + tool + " 2>/dev/null").empty(); }

struct TempDir {
  fs::path path;
  TempDir() {
    char t[] = "/tmp/dps-export-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Classic pcap (microseconds, Ethernet).
class PcapWriter {
 public:
  explicit PcapWriter(const fs::path& p) : out_(p, std::ios::binary) {
    put32(0xa1b2c3d4);
    put16(2);
    put16(4);
    put32(0);
    put32(0);
    put32(65535);
    put32(1);
  }
  void udp(uint16_t dport, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> f = PacketBuilder()
                                 .eth(mac("02:00:00:00:00:99"), mac("02:00:00:00:00:01"))
                                 .ipv4("192.0.2.1", "192.0.2.99")
                                 .udp(50000, dport)
                                 .bytes(payload)
                                 .build();
    put32(static_cast<uint32_t>(kNowMs / 1000));
    put32(frames_++);
    put32(static_cast<uint32_t>(f.size()));
    put32(static_cast<uint32_t>(f.size()));
    out_.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
  }
  void close() { out_.close(); }

 private:
  void put16(uint16_t v) { out_.write(reinterpret_cast<const char*>(&v), 2); }
  void put32(uint32_t v) { out_.write(reinterpret_cast<const char*>(&v), 4); }
  std::ofstream out_;
  uint32_t frames_ = 0;
};

// The sampled packets and the flows of the test.
std::vector<uint8_t> tcp_packet() {
  return PacketBuilder()
      .eth(mac("02:00:00:00:00:02"), mac("02:00:00:00:00:01"))
      .vlan(100 | 3 << 13)
      .ipv4("10.0.0.1", "10.0.0.2")
      .tcp(1234, 80)
      .payload(200)
      .build();
}

std::vector<uint8_t> udp6_packet() {
  return PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").udp(33333, 44444).payload(30).build();
}

std::vector<uint8_t> sflow_datagram() {
  SflowAgentConfig c;
  c.agent = *IpAddress::parse("192.0.2.1");
  c.sub_agent_id = 7;
  SflowEncoder enc(c);
  std::vector<uint8_t> tcp = tcp_packet(), udp6 = udp6_packet();
  SflowFlowSample s;
  s.source_index = 1;
  s.sampling_rate = 1000;
  s.sample_pool = 4000;
  s.input = sflow_if_index(1);
  s.output = sflow_if_index(2);
  s.frame_length = static_cast<uint32_t>(tcp.size());
  s.header = tcp;
  s.ext_switch = SflowExtendedSwitch{100, 3, 200, 0};
  enc.add_flow_sample(s);
  s.source_index = 2;
  s.input = sflow_if_index(2);
  s.output = sflow_if_discard(256);
  s.frame_length = static_cast<uint32_t>(udp6.size());
  s.header = udp6;
  s.ext_switch.reset();
  enc.add_flow_sample(s);
  SflowCounterSample cs;
  cs.source_index = 1;
  cs.ifc.if_index = 1;
  cs.ifc.if_speed = 10'000'000'000ull;
  cs.ifc.admin_up = cs.ifc.oper_up = true;
  cs.ifc.in_octets = 123456789012ull;
  cs.ifc.in_ucast = 1000;
  cs.ifc.out_octets = 987654321ull;
  cs.ifc.out_ucast = 900;
  cs.ifc.out_discards = 5;
  enc.add_counter_sample(cs);
  auto d = enc.take(12345);
  REQUIRE(d.size() == 1);
  return d[0];
}

// Flow records as a FlowCache makes them from sampled packets.
std::vector<FlowRecord> flow_records() {
  FlowCache cache(FlowCacheConfig{});
  std::vector<FlowRecord> out;
  FlowFields tcp = tcp_flow_fields();
  tcp.tcp_flags = 0x02;
  cache.add(tcp, 100, kBootMs + 1000, &out);
  tcp.tcp_flags = 0x10;
  for (int i = 0; i < 9; i++) cache.add(tcp, 100, kBootMs + 2000 + i, &out);
  FlowFields udp = tcp;
  udp.proto = 17;
  udp.tcp_flags = 0;
  udp.src = *IpAddress::parse("10.0.0.3");
  udp.src_port = 5000;
  udp.dst_port = 53;
  for (int i = 0; i < 3; i++) cache.add(udp, 80, kBootMs + 3000, &out);
  FlowFields v6 = udp;
  v6.eth_type = kEthTypeIpv6;
  v6.src = *IpAddress::parse("2001:db8::1");
  v6.dst = *IpAddress::parse("2001:db8::2");
  v6.direction = kFlowEgress;  // sampled at its output port
  cache.add(v6, 90, kBootMs + 4000, &out);
  FlowFields arp;
  arp.in_if = 1;
  arp.eth_type = 0x0806;
  arp.src_mac = {2, 0, 0, 0, 0, 1};
  arp.dst_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  cache.add(arp, 60, kBootMs + 5000, &out);
  cache.flush(&out);
  REQUIRE(out.size() == 4);
  return out;
}

// tshark -T fields of one display filter: one map (field -> value, several
// occurrences comma-separated) per matching frame.
std::vector<std::map<std::string, std::string>> tshark_fields(const fs::path& pcap, const std::string& filter,
                                                              const std::vector<std::string>& fields) {
  std::string cmd = "tshark -n -r " + pcap.string() + " -Y '" + filter + "' -T fields -E separator=/t";
  for (const std::string& f : fields) cmd += " -e " + f;
  std::vector<std::map<std::string, std::string>> rows;
  std::istringstream in(run(cmd + " 2>/dev/null"));
  std::string line;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> row;
    std::istringstream cells(line);
    std::string cell;
    for (const std::string& f : fields) {
      std::getline(cells, cell, '\t');
      row[f] = cell;
      cell.clear();
    }
    rows.push_back(row);
  }
  return rows;
}

// The three kinds of datagram, as a collector receives them.
struct Datagrams {
  std::vector<uint8_t> sflow = sflow_datagram();
  std::vector<std::vector<uint8_t>> ipfix;
  std::vector<std::vector<uint8_t>> netflow;
  // `rounds` exports of the same records (sequence numbers move on).
  explicit Datagrams(int rounds) {
    std::vector<FlowRecord> recs = flow_records();
    IpfixEncoder ix(IpfixConfig{.observation_domain = 42});
    NetflowV5Encoder nf(NetflowV5Config{.engine_type = 1, .engine_id = 2, .boot_ms = kBootMs});
    for (int r = 0; r < rounds; r++) {
      for (auto& m : ix.encode(recs, static_cast<uint32_t>(kNowMs / 1000) + r)) ipfix.push_back(m);
      for (auto& d : nf.encode(recs, kNowMs + 1000 * r)) netflow.push_back(d);
    }
  }
};

// Each wanted field of the one matching frame has the wanted value.
void expect_fields(const fs::path& pcap, const std::string& filter, const std::map<std::string, std::string>& want) {
  std::vector<std::string> fields;
  for (auto& [k, v] : want) fields.push_back(k);
  auto rows = tshark_fields(pcap, filter, fields);
  REQUIRE(rows.size() == 1);
  for (auto& [k, v] : want) {
    INFO(filter << ": " << k);
    CHECK(rows[0][k] == v);
  }
}

const char* kBadFilter = "_ws.malformed || _ws.expert.severity >= \"Warning\"";

}  // namespace

TEST_CASE("decode: tshark reads sFlow, IPFIX and NetFlow v5 without a malformed frame, with our values") {
  REQUIRE(have("tshark"));  // scripts/bootstrap.sh installs it
  TempDir tmp;
  fs::path pcap = tmp.path / "export.pcap";
  Datagrams d(1);
  PcapWriter w(pcap);
  w.udp(kSflowPort, d.sflow);
  for (auto& m : d.ipfix) w.udp(kIpfixPort, m);
  for (auto& m : d.netflow) w.udp(kNetflowPort, m);
  w.close();

  auto protos = tshark_fields(pcap, "frame", {"frame.protocols"});
  REQUIRE(protos.size() == 3);
  CHECK(protos[0]["frame.protocols"].find(":udp:sflow:eth:") != std::string::npos);
  CHECK(protos[1]["frame.protocols"] == "eth:ethertype:ip:udp:cflow");
  CHECK(protos[2]["frame.protocols"] == "eth:ethertype:ip:udp:cflow");
  CHECK(tshark_fields(pcap, kBadFilter, {"frame.number"}).empty());

  SECTION("sFlow") {
    expect_fields(pcap, "sflow", {
        {"sflow_245.version", "5"}, {"sflow_245.agent", "192.0.2.1"}, {"sflow_245.sub_agent_id", "7"},
        {"sflow_245.sequence_number", "1"}, {"sflow_245.sysuptime", "12345"}, {"sflow_245.numsamples", "3"},
        {"sflow.flow_sample.sampling_rate", "1000,1000"}, {"sflow.flow_sample.sample_pool", "4000,4000"},
        {"sflow.flow_sample.input_interface", "1,2"}, {"sflow.flow_sample.output_interface_format", "0,1"},
        {"sflow.flow_sample.output_interface_value", "2,256"},
        {"sflow_245.header.frame_length", std::to_string(tcp_packet().size() + 4) + "," +
                                              std::to_string(udp6_packet().size() + 4)},
        {"sflow_245.header.sampled_header_length", "128," + std::to_string(udp6_packet().size())},
        {"sflow_245.header.payload_stripped", "4,4"}, {"sflow_245.vlan.in", "100"}, {"sflow_245.pri.in", "3"},
        {"sflow_245.vlan.out", "200"}, {"sflow_245.ifindex", "1"}, {"sflow_245.ifspeed", "10000000000"},
        {"sflow_245.ifinoct", "123456789012"}, {"sflow_245.ifinpkt", "1000"}, {"sflow_245.ifoutoct", "987654321"},
        {"sflow_245.ifoutdisc", "5"}, {"sflow_245.ifoper_status", "1"},
        // The sampled headers, decoded as packets: outer IP first.
        {"ip.src", "192.0.2.1,10.0.0.1"}, {"tcp.srcport", "1234"}, {"ipv6.src", "2001:db8::1"},
        {"udp.dstport", "6343,44444"}, {"vlan.id", "100"}});
  }
  SECTION("IPFIX") {
    expect_fields(pcap, "cflow.version == 10", {
        {"cflow.od_id", "42"}, {"cflow.sequence", "0"}, {"cflow.exporttime", "1700000020"},
        {"cflow.template_id", "256,257,258"}, {"cflow.srcaddr", "10.0.0.1,10.0.0.3"},
        {"cflow.dstaddr", "10.0.0.2,10.0.0.2"}, {"cflow.srcaddrv6", "2001:db8::1"},
        {"cflow.srcport", "1234,5000,5000"}, {"cflow.dstport", "80,53,53"}, {"cflow.protocol", "6,17,17"},
        {"cflow.packets", "10,3,1,1"}, {"cflow.octets", "1000,240,90,60"},
        {"cflow.abstimestart", "Nov 14, 2023 22:13:21.000000000 UTC,Nov 14, 2023 22:13:23.000000000 UTC,"
                               "Nov 14, 2023 22:13:24.000000000 UTC,Nov 14, 2023 22:13:25.000000000 UTC"},
        {"cflow.abstimeend", "Nov 14, 2023 22:13:22.008000000 UTC,Nov 14, 2023 22:13:23.000000000 UTC,"
                             "Nov 14, 2023 22:13:24.000000000 UTC,Nov 14, 2023 22:13:25.000000000 UTC"},
        {"cflow.srcmac", "02:00:00:00:00:01,02:00:00:00:00:01,02:00:00:00:00:01,02:00:00:00:00:01"},
        {"cflow.dstmac", "02:00:00:00:00:02,02:00:00:00:00:02,02:00:00:00:00:02,ff:ff:ff:ff:ff:ff"},
        {"cflow.vlanid", "100,100,100,0"}, {"cflow.inputint", "1,1,1,1"}, {"cflow.outputint", "2,2,2,0"},
        {"cflow.tcpflags", "0x0012,0x0000,0x0000"}, {"cflow.flow_end_reason", "4,4,4,4"},
        {"cflow.direction", "0,0,1,0"}});
  }
  SECTION("NetFlow v5") {
    expect_fields(pcap, "cflow.version == 5", {
        {"cflow.count", "2"}, {"cflow.sysuptime", "20.000000000"}, {"cflow.unix_secs", "1700000020"},
        {"cflow.sequence", "0"}, {"cflow.engine_type", "1"}, {"cflow.engine_id", "2"},
        {"cflow.srcaddr", "10.0.0.1,10.0.0.3"}, {"cflow.dstaddr", "10.0.0.2,10.0.0.2"},
        {"cflow.srcport", "1234,5000"}, {"cflow.dstport", "80,53"}, {"cflow.protocol", "6,17"},
        {"cflow.packets", "10,3"}, {"cflow.octets", "1000,240"}, {"cflow.timestart", "1.000000000,3.000000000"},
        {"cflow.timeend", "2.008000000,3.000000000"}, {"cflow.inputint", "1,1"}, {"cflow.outputint", "2,2"},
        {"cflow.tcpflags", "0x12,0x00"}});
  }
}

TEST_CASE("decode: the malformed check catches a truncated datagram (negative control)") {
  REQUIRE(have("tshark"));
  TempDir tmp;
  fs::path pcap = tmp.path / "bad.pcap";
  std::vector<uint8_t> d = sflow_datagram();
  d.resize(d.size() - 40);  // the counter sample is cut short
  PcapWriter w(pcap);
  w.udp(kSflowPort, d);
  w.close();
  CHECK(tshark_fields(pcap, kBadFilter, {"frame.number"}).size() == 1);
}

TEST_CASE("decode: nfcapd collects the IPFIX and NetFlow v5 datagrams sent by UdpExporter; nfdump lists them") {
  if (!have("nfcapd") || !have("nfdump")) {
    WARN("nfdump not installed (apt-get install nfdump, or scripts/bootstrap.sh): nfcapd check skipped");
    return;
  }
  TempDir tmp;
  uint16_t port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  fs::path log = tmp.path / "nfcapd.log";
  std::string dir = (tmp.path / "flows").string();
  fs::create_directories(dir);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen(log.c_str(), "a", stderr);
    std::string p = std::to_string(port);
    ::execlp("nfcapd", "nfcapd", "-w", dir.c_str(), "-p", p.c_str(), "-b", "127.0.0.1", nullptr);
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // nfcapd binds
  UdpExporter ex;
  std::string err;
  REQUIRE(ex.set_collectors({"127.0.0.1:" + std::to_string(port)}, &err));
  Datagrams d(2);  // two rounds: sequence numbers are checked
  for (auto& m : d.ipfix) CHECK(ex.send(m) == 1);
  for (auto& m : d.netflow) CHECK(ex.send(m) == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(ex.send_errors() == 0);
  std::string nflog = run("cat " + log.string());
  INFO(nflog);
  CHECK(nflog.find("Sequence Errors: 0, Bad Packets: 0") != std::string::npos);
  CHECK(nflog.find("Observation domain 42") != std::string::npos);

  std::istringstream out(run("nfdump -q -R " + dir + " -o 'fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt|%in|%out|%ts|%te' 2>&1"));
  std::map<std::string, int> rows;
  std::string line;
  while (std::getline(out, line)) {
    std::string norm;
    for (char c : line)
      if (c != ' ') norm += c;
    rows[norm]++;
  }
  // Each flow twice per protocol: 2 IPFIX rounds x 4 records, 2 NetFlow rounds x 2 (IPv4 only).
  std::map<std::string, int> want = {
      {"10.0.0.1|10.0.0.2|1234|80|TCP|10|1000|1|2|2023-11-1422:13:21.000|2023-11-1422:13:22.008", 4},
      {"10.0.0.3|10.0.0.2|5000|53|UDP|3|240|1|2|2023-11-1422:13:23.000|2023-11-1422:13:23.000", 4},
      {"2001:db8::1|2001:db8::2|5000|53|UDP|1|90|1|2|2023-11-1422:13:24.000|2023-11-1422:13:24.000", 2},
      {"0.0.0.0|0.0.0.0|0|0|0|1|60|1|0|2023-11-1422:13:25.000|2023-11-1422:13:25.000", 2}};
  CHECK(rows == want);
}
