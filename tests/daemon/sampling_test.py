#!/usr/bin/env python3
"""sFlow and IPFIX (the OVSDB sFlow and IPFIX tables) through dpswitchd,
decoded by tshark.

Topology (made and removed by this script; names carry a per-run tag):

    ns A: a (02:5d:..:01)            ns B: b (02:5d:..:02)
          | veth                           | veth
    root: ha --af_packet--  [ br ]  --af_packet-- hb

dpswitchd runs with its own config store; the real ovs-vsctl builds the
bridge (NORMAL) and turns sFlow on with the issue's command (sampling=64,
polling=1, header=128, target 127.0.0.1:PORT). A sends 2000 UDP frames of
4 flows to B's MAC (raw AF_PACKET, a sequence number in each, so every
sampled header names the frame it came from); tshark captures the
datagrams on lo and decodes them (-d udp.port==PORT,sflow). Checked:
  - no datagram is malformed and tshark has no expert warning or error;
  - flow samples: as many as 1 in 64 of the frames gives (deterministic
    countdown: within a few of 2000/64), each header byte-identical to the
    first 128 bytes of the frame it names, frame_length = length + 4 and
    4 bytes stripped (the FCS, as OVS), sampling rate 64, input = A's port,
    output = B's port, sample pool growing to the frames the bridge saw,
    extended switch data (VLAN and priority in and out: 0, untagged);
  - counter samples every second for both ports, whose last values equal
    the ports' counters (dpsctl port-stats) once the traffic stopped;
  - a bad value (header=1000) is refused with a precise error in the log,
    and sampling goes on as it was;
  - `ovs-vsctl clear bridge BR sflow`: no more flow samples;
  - IPFIX with sampling=1, a flow cache (cache_active_timeout=1,
    cache_max_flows=100), obs_domain_id=42: tshark (-d udp.port==PORT,cflow)
    decodes version 10 messages of domain 42 with the templates, none
    malformed; input and output sampling (OVS's default): the ingress
    records (flowDirection 0) of the 4 flows sum to exactly the 2000 frames
    and 2000 x 200 bytes, 500 each, with A's and B's ports as ingress and
    egress interfaces, and so do the egress records (flowDirection 1);
    `clear bridge BR ipfix` stops them;
  - an OpenFlow sample() action (probability 65535, collector set 9,
    obs_domain_id 77) with a Flow_Sample_Collector_Set naming an IPFIX row:
    records in domain 77 summing to the 2000 frames, 500 per flow, with
    the ports; destroying the set stops them;
  - NetFlow (not sampled: every megaflow's counters) with active_timeout=1:
    tshark decodes NetFlow v5 records, none malformed, whose 4 flows sum
    to exactly the 2000 frames (500 each) and 2000 x 200 bytes, with the
    ports as input and output interfaces;
  - packet-outs and patch ports (sFlow at 1 in 1 on BR and on a second
    bridge that B's port moves to, joined by patch ports; agents 127.0.0.1
    and 127.0.0.2): ovs-ofctl packet-outs are sampled, from CONTROLLER with
    input 0, from A's port with that input, the header and output right;
    64 frames A -> B are sampled by BR's agent only, 64 B -> A by the second
    bridge's only, the one output a port of the other bridge reported as
    "multiple, 1" (as OVS); the second agent's counter samples name its port.
Usage: sampling_test.py DPSWITCHD DPSCTL. Needs root, ovs-vsctl, ovs-ofctl and
tshark (skipped, exit 77, without them).
"""
import concurrent.futures
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Ctl, Switch, check, free_port, guarded_switch, run, veth_in_netns  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TAG = "%x" % (os.getpid() & 0xffff)
NS = {"a": "smsfa" + TAG, "b": "smsfb" + TAG}
HOST = {"a": "smsha" + TAG, "b": "smshb" + TAG}
DEV = {k: "v" + k for k in NS}
MAC = {"a": "02:5d:00:00:00:01", "b": "02:5d:00:00:00:02"}
BR = "smbr" + TAG
BR2 = "smbs" + TAG  # the patch phase's second bridge
PATCH = ("smpa" + TAG, "smpb" + TAG)
FRAMES = 2000
FLOWS = 4
RATE = 64
HEADER = 128
FRAME_LEN = 200  # longer than HEADER: the header is cut


def setup():
    for k in NS:
        veth_in_netns(NS[k], HOST[k], DEV[k], MAC[k])


def teardown():
    for k in NS:
        run(["ip", "netns", "del", NS[k]], check_rc=False)
        run(["ip", "link", "del", HOST[k]], check_rc=False)


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def ip_csum(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(seq, flow, src="a", dst="b"):
    """An IPv4/UDP frame A -> B (or src -> dst) of FRAME_LEN bytes, seq in the payload."""
    payload = struct.pack("!II", 0x5d5d5d5d, seq).ljust(FRAME_LEN - 14 - 20 - 8, b"\x00")
    udp = struct.pack("!HHHH", 5000 + flow, 6000, 8 + len(payload), 0) + payload
    addr = {"a": "10.93.0.1", "b": "10.93.0.2"}
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xffff, 0, 64, 17, 0,
                     socket.inet_aton(addr[src]), socket.inet_aton(addr[dst]))
    ip = ip[:10] + struct.pack("!H", ip_csum(ip)) + ip[12:]
    return mac_bytes(MAC[dst]) + mac_bytes(MAC[src]) + b"\x08\x00" + ip + udp


# Sends frames given as hex lines on stdin out of an interface (AF_PACKET).
_SEND = """
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i, line in enumerate(sys.stdin):
    s.send(bytes.fromhex(line.strip()))
    if i % 50 == 49:
        time.sleep(0.005)
"""


def send(k, frames):
    data = "".join(f.hex() + "\n" for f in frames)
    r = subprocess.run(["ip", "netns", "exec", NS[k], sys.executable, "-c", _SEND, DEV[k]], input=data,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%d frames sent from %s" % (len(frames), k), r.stderr)


class Collector:
    """A UDP socket on 127.0.0.1:port (so nothing answers with ICMP errors)
    and tshark capturing lo into a pcap, for the whole run; flush() makes
    what was captured so far readable."""

    def __init__(self, tmp, port):
        self.port = port
        self.pcap = os.path.join(tmp, "collector.pcap")

    def __enter__(self):
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", self.port))
        cmd = ["tshark", "-q", "-i", "lo", "-f", "udp port %d" % self.port, "-w", self.pcap, "-F", "pcap",
               "-a", "duration:120"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "Capture started" in line:
                break
        return self

    def flush(self):
        time.sleep(0.3)  # tshark writes each packet as it comes (-w, no buffering of a pcap to a file)

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        self.proc.wait(timeout=30)
        self.sink.close()


def build(cfg):
    args = ["add-br", BR]
    for i, k in enumerate(NS):
        args += ["--", "add-port", BR, HOST[k], "--", "set", "Interface", HOST[k], "type=dpdk",
                 "options:dpdk-devargs=net_af_packet%d,iface=%s" % (i, HOST[k])]
    cfg.vsctl(*args)
    run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % BR], check_rc=False)
    run(["ip", "link", "set", BR, "down"], check_rc=False)
    ports = {}
    for k in NS:
        err = cfg.vsctl("get", "Interface", HOST[k], "error").stdout.strip()
        check(err in ("[]", ""), "%s is a port of the bridge" % HOST[k], err)
        ports[k] = int(cfg.vsctl("get", "Interface", HOST[k], "ofport").stdout.strip())
    return ports


FIELDS = ["frame.time_epoch", "sflow.flow_sample.sampling_rate", "sflow.flow_sample.sample_pool",
          "sflow.flow_sample.dropped_packets", "sflow.flow_sample.input_interface",
          "sflow.flow_sample.output_interface_value", "sflow.flow_sample.output_interface_format",
          "sflow_245.header.frame_length",
          "sflow_245.header.payload_stripped", "sflow_245.header", "sflow_245.ifindex",
          "sflow_245.ifinpkt", "sflow_245.ifinoct", "sflow_245.ifoutpkt", "sflow_245.ifoutoct",
          "sflow_245.version", "sflow_245.agent", "sflow_245.vlan.in", "sflow_245.vlan.out",
          "sflow_245.pri.in", "sflow_245.pri.out"]


def decode(pcap, port, since=0.0, until=1e12):
    """Per datagram captured in [since, until), each field's values (a
    list, in sample order)."""
    cmd = ["tshark", "-r", pcap, "-d", "udp.port==%d,sflow" % port, "-Y", "sflow", "-T", "fields",
           "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = run(cmd).stdout
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        row = {f: (c.split("|") if c else []) for f, c in zip(FIELDS, cols)}
        if since <= float(row["frame.time_epoch"][0]) < until:
            rows.append(row)
    return rows


def tshark_problems(pcap, port, proto, since, until=1e12):
    """Frames captured in [since, until) that tshark decoding UDP port
    `port` as `proto` flags as malformed or with an expert warning."""
    r = run(["tshark", "-r", pcap, "-d", "udp.port==%d,%s" % (port, proto), "-Y",
             "frame.time_epoch >= %f && frame.time_epoch < %f && (_ws.malformed || _ws.expert.severity >= 0x00600000)"
             % (since, until), "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"])
    return r.stdout.strip()


def flow_samples(rows):
    out = []
    for r in rows:
        for i in range(len(r["sflow.flow_sample.sampling_rate"])):
            out.append({k: r[f][i] if i < len(r[f]) else None for k, f in (
                ("rate", "sflow.flow_sample.sampling_rate"), ("pool", "sflow.flow_sample.sample_pool"),
                ("drops", "sflow.flow_sample.dropped_packets"),
                ("input", "sflow.flow_sample.input_interface"),
                ("output", "sflow.flow_sample.output_interface_value"),
                ("output_format", "sflow.flow_sample.output_interface_format"),
                ("frame_length", "sflow_245.header.frame_length"),
                ("stripped", "sflow_245.header.payload_stripped"), ("header", "sflow_245.header"),
                ("vlan_in", "sflow_245.vlan.in"), ("vlan_out", "sflow_245.vlan.out"),
                ("pri_in", "sflow_245.pri.in"), ("pri_out", "sflow_245.pri.out"))})
            out[-1]["agent"] = r["sflow_245.agent"][0] if r["sflow_245.agent"] else None
    return out


def tagged(samples):
    """{seq: [sample]} of the flow samples whose header is one of this
    test's frames (the payload's magic, then the sequence number)."""
    by_seq = {}
    for s in samples:
        h = bytes.fromhex((s["header"] or "").replace(":", ""))
        if len(h) >= 50 and h[42:46] == b"\x5d\x5d\x5d\x5d":
            by_seq.setdefault(struct.unpack("!I", h[46:50])[0], []).append(dict(s, header_bytes=h))
    return by_seq


def counter_samples(rows):
    out = []
    for r in rows:
        for i in range(len(r["sflow_245.ifindex"])):
            out.append({k: int(r[f][i]) for k, f in (
                ("ifindex", "sflow_245.ifindex"), ("inpkt", "sflow_245.ifinpkt"), ("inoct", "sflow_245.ifinoct"),
                ("outpkt", "sflow_245.ifoutpkt"), ("outoct", "sflow_245.ifoutoct"))})
    return out


def sampling_phase(cfg, cap, port, ports):
    since = time.time()
    # The command, unchanged (but for the port).
    cfg.vsctl("--", "--id=@s", "create", "sflow", "agent=lo", 'target="127.0.0.1:%d"' % port,
              "sampling=%d" % RATE, "polling=1", "header=%d" % HEADER, "--", "set", "bridge", BR, "sflow=@s")
    send("b", [mac_bytes("ff:ff:ff:ff:ff:ff") + mac_bytes(MAC["b"]) + b"\x88\xb5" + bytes(46)])  # B's MAC learnt
    time.sleep(0.3)
    frames = [frame(seq, seq % FLOWS) for seq in range(FRAMES)]
    send("a", frames)
    time.sleep(2)  # the last samples, and counter samples after the traffic
    shown = cfg.dpsctl("port-stats")
    stats = {p["port"]: p for p in shown} if isinstance(shown, list) else {}
    time.sleep(1.2)
    until = time.time()
    cap.flush()
    rows = decode(cap.pcap, port, since, until)
    check(len(rows) > 0, "tshark decodes %d sFlow datagrams" % len(rows))
    problems = tshark_problems(cap.pcap, port, "sflow", since, until)
    check(problems == "", "no datagram malformed, no expert warning", problems[:2000])
    check(all(r["sflow_245.version"] == ["5"] for r in rows), "all datagrams are sFlow v5")
    check(all(r["sflow_245.agent"] == ["127.0.0.1"] for r in rows), "agent address 127.0.0.1 (agent=lo)",
          set(str(r["sflow_245.agent"]) for r in rows))

    fs = flow_samples(rows)
    by_seq = {}
    for s in fs:
        h = bytes.fromhex((s["header"] or "").replace(":", ""))
        if len(h) >= 46 and h[42:46] == b"\x5d\x5d\x5d\x5d":
            by_seq.setdefault(struct.unpack("!I", h[46:50])[0], []).append((s, h))
    n = sum(len(v) for v in by_seq.values())
    want = FRAMES / RATE
    check(abs(n - want) <= 3, "%d flow samples of the %d frames at 1 in %d (%.1f expected)" % (n, FRAMES, RATE, want))
    bad = [seq for seq, v in by_seq.items() for s, h in v if h != frames[seq][:HEADER]]
    check(not bad, "every sampled header is the first %d bytes of the frame it names" % HEADER, bad[:5])
    ours = [s for v in by_seq.values() for s, _ in v]
    check(all(s["frame_length"] == str(FRAME_LEN + 4) and s["stripped"] == "4" for s in ours),
          "frame_length = %d + 4, 4 bytes stripped (FCS, as OVS)" % FRAME_LEN,
          [(s["frame_length"], s["stripped"]) for s in ours[:3]])
    check(all(s["rate"] == str(RATE) for s in fs), "sampling rate %d in every flow sample" % RATE)
    check(all((s["vlan_in"], s["vlan_out"], s["pri_in"], s["pri_out"]) == ("0", "0", "0", "0") for s in ours),
          "extended switch data in every flow sample: VLAN 0 and priority 0 in and out (untagged)",
          [(s["vlan_in"], s["vlan_out"]) for s in ours[:3]])
    check(all(s["input"] == str(ports["a"]) and s["output"] == str(ports["b"]) for s in ours),
          "input = A's port %d, output = B's port %d" % (ports["a"], ports["b"]),
          [(s["input"], s["output"]) for s in ours[:3]])
    # Sample k is taken at the sampler's packet 64 k: its pool is at least
    # that, and never more than the packets the bridge saw.
    pools = [int(s["pool"]) for s in fs]
    check(pools == sorted(pools) and pools and RATE * len(fs) <= pools[-1] <= FRAMES + 10,
          "the sample pool grows with the packets: %s after %d samples" % (pools[-1] if pools else None, len(fs)),
          pools[-5:])
    check(all(s["drops"] == "0" for s in fs), "no sample dropped")

    cs = counter_samples(rows)
    for k in NS:
        mine = [c for c in cs if c["ifindex"] == ports[k]]
        st = stats.get(HOST[k], {})
        last = mine[-1] if mine else {}
        check(len(mine) >= 3, "counter samples for %s every second (%d)" % (HOST[k], len(mine)))
        check(last.get("inpkt") == st.get("rx_packets") and last.get("outpkt") == st.get("tx_packets") and
              last.get("inoct") == st.get("rx_bytes") and last.get("outoct") == st.get("tx_bytes"),
              "%s's last counter sample equals its port counters" % HOST[k], (last, st))
    check(stats.get(HOST["a"], {}).get("rx_packets", 0) >= FRAMES, "A's port received the %d frames" % FRAMES)
    return len(rows)


def bad_value(cfg, cap, port, ports):
    uuid = cfg.vsctl("get", "bridge", BR, "sflow").stdout.strip()
    cfg.vsctl("set", "sflow", uuid, "header=1000")
    want = "sFlow: header=1000: must be 4..256 bytes"
    for _ in range(20):
        if want in open(cfg.sw.log_path).read():
            break
        time.sleep(0.25)
    check(want in open(cfg.sw.log_path).read(), "a bad header is refused with a precise error in the log",
          cfg.sw.log_tail(10))
    shown = cfg.dpsctl("sflow/show")
    check(isinstance(shown, list) and len(shown) == 1 and shown[0].get("error") == want and
          shown[0].get("status") == "on" and shown[0].get("header") == HEADER,
          "dpsctl sflow/show: the error, and the agent still on with header %d" % HEADER, shown)
    # Sampling goes on as it was: samples still come.
    got = count_flow_samples(cap, port)
    check(got > 0, "sampling goes on with the previous settings (%d flow samples)" % got)


def count_flow_samples(cap, port):
    since = time.time()
    send("a", [frame(seq, seq % FLOWS) for seq in range(500)])
    time.sleep(0.5)
    cap.flush()
    return len(flow_samples(decode(cap.pcap, port, since)))


def cleared(cfg, cap, port, ports):
    cfg.vsctl("clear", "bridge", BR, "sflow")
    time.sleep(0.3)
    got = count_flow_samples(cap, port)
    check(got == 0, "no flow samples once sFlow is cleared (%d)" % got)
    left = cfg.vsctl("list", "sflow").stdout.strip()
    check(left == "", "the unreferenced sFlow row is gone", left)


IPFIX_FIELDS = ["frame.time_epoch", "cflow.version", "cflow.od_id", "cflow.template_id", "cflow.srcport",
                "cflow.dstport", "cflow.packets", "cflow.octets", "cflow.inputint", "cflow.outputint",
                "cflow.direction"]


def ipfix_phase(cfg, cap, port, ports):
    since = time.time()
    cfg.vsctl("--", "--id=@i", "create", "ipfix", 'targets="127.0.0.1:%d"' % port, "sampling=1",
              "obs_domain_id=42", "obs_point_id=7", "cache_active_timeout=1", "cache_max_flows=100",
              "--", "set", "bridge", BR, "ipfix=@i")
    time.sleep(0.3)
    send("a", [frame(seq, seq % FLOWS) for seq in range(FRAMES)])
    time.sleep(2.5)  # active timeout 1 s, then the export
    cap.flush()
    rows = decode_cflow(cap, port, IPFIX_FIELDS, since)
    check(len(rows) > 0, "tshark decodes %d IPFIX messages" % len(rows))
    problems = tshark_problems(cap.pcap, port, "cflow", since)
    check(problems == "", "no IPFIX message malformed, no expert warning", problems[:2000])
    check(all(x["cflow.version"] == ["10"] and x["cflow.od_id"] == ["42"] for x in rows),
          "IPFIX version 10, observation domain 42", [(x["cflow.version"], x["cflow.od_id"]) for x in rows[:3]])
    check(any("256" in x["cflow.template_id"] for x in rows), "the IPv4 template (256) is sent")
    # As OVS, input and output sampling: each frame is an ingress and an
    # egress sample (flowDirection 0 / 1), each direction its own records.
    check_flow_records(rows, ports, "IPFIX ingress", direction="0")
    check_flow_records(rows, ports, "IPFIX egress", direction="1")
    shown = cfg.dpsctl("ipfix/show", BR)
    ok = isinstance(shown, list) and len(shown) == 1
    check(ok and shown[0].get("status") == "on" and shown[0].get("obs_domain_id") == 42 and
          shown[0].get("samples", 0) >= FRAMES and shown[0].get("records", 0) >= FLOWS,
          "dpsctl ipfix/show: on, domain 42, the %d samples, the records" % FRAMES, shown)
    cfg.vsctl("clear", "bridge", BR, "ipfix")
    time.sleep(0.3)
    since = time.time()
    send("a", [frame(seq, seq % FLOWS) for seq in range(200)])
    time.sleep(1.5)
    cap.flush()
    later = run(["tshark", "-r", cap.pcap, "-d", "udp.port==%d,cflow" % port, "-Y",
                 "cflow.packets && frame.time_epoch >= %f" % since, "-T", "fields", "-e", "frame.number"]).stdout.strip()
    check(later == "", "no IPFIX records once IPFIX is cleared", later)


def flow_sample_phase(cfg, cap, port, ports):
    """sample() actions into a Flow_Sample_Collector_Set's IPFIX exporter:
    records in the action's observation domain, one per sampled frame."""
    flow = ("priority=100,udp,actions=sample(probability=65535,collector_set_id=9,obs_domain_id=77,"
            "obs_point_id=5),NORMAL")
    out = cfg.dpsctl("add-flow", BR, flow)
    check("error" not in str(out).lower(), "dpsctl add-flow with sample()", out)
    since = time.time()
    cfg.vsctl("--", "--id=@br", "get", "bridge", BR, "--", "--id=@i", "create", "ipfix",
              'targets="127.0.0.1:%d"' % port, "--", "create", "Flow_Sample_Collector_Set", "id=9",
              "bridge=@br", "ipfix=@i")
    time.sleep(0.3)
    send("a", [frame(seq, seq % FLOWS) for seq in range(FRAMES)])
    time.sleep(1)
    cap.flush()
    rows = decode_cflow(cap, port, IPFIX_FIELDS, since)
    problems = tshark_problems(cap.pcap, port, "cflow", since)
    check(problems == "", "no per-flow IPFIX message malformed, no expert warning", problems[:2000])
    check(len(rows) > 0 and all(x["cflow.version"] == ["10"] and x["cflow.od_id"] == ["77"] for x in rows),
          "per-flow IPFIX: version 10, the action's observation domain 77",
          [(x["cflow.version"], x["cflow.od_id"]) for x in rows[:3]])
    check_flow_records(rows, ports, "per-flow IPFIX", direction="0")
    shown = [x for x in cfg.dpsctl("ipfix/show", BR) if x.get("collector_set_id") == 9]
    check(len(shown) == 1 and shown[0].get("status") == "on" and shown[0].get("samples", 0) >= FRAMES,
          "dpsctl ipfix/show: collector set 9 on, the %d samples" % FRAMES, shown)
    cfg.vsctl("--", "--all", "destroy", "Flow_Sample_Collector_Set")
    time.sleep(0.3)
    since = time.time()
    send("a", [frame(seq, seq % FLOWS) for seq in range(200)])
    time.sleep(1)
    cap.flush()
    check(decode_cflow(cap, port, IPFIX_FIELDS, since) == [], "no records once the collector set is gone")
    cfg.dpsctl("del-flows", BR, "udp")  # the sample() rule; the bridge's NORMAL rule stays


NETFLOW_FIELDS = ["frame.time_epoch", "cflow.version", "cflow.srcport", "cflow.dstport", "cflow.packets",
                  "cflow.octets", "cflow.inputint", "cflow.outputint"]


def decode_cflow(cap, port, fields, since):
    cmd = ["tshark", "-r", cap.pcap, "-d", "udp.port==%d,cflow" % port, "-Y", "cflow", "-T", "fields",
           "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    rows = []
    for line in run(cmd).stdout.splitlines():
        row = {f: (c.split("|") if c else []) for f, c in zip(fields, line.split("\t"))}
        if float(row["frame.time_epoch"][0]) >= since:
            rows.append(row)
    return rows


def check_flow_records(rows, ports, what, direction=None):
    """The records (IPFIX or NetFlow, as tshark's cflow fields; IPFIX: of
    one flowDirection) of the 4 flows add up exactly to the frames sent,
    with A's and B's ports."""
    per_flow, octets, ifs = {}, 0, set()
    for x in rows:
        for i in range(len(x["cflow.packets"])):
            sp, dp = int(x["cflow.srcport"][i]), int(x["cflow.dstport"][i])
            if dp != 6000 or not 5000 <= sp < 5000 + FLOWS:
                continue
            if direction is not None and x["cflow.direction"][i:i + 1] != [direction]:
                continue
            per_flow[sp] = per_flow.get(sp, 0) + int(x["cflow.packets"][i])
            octets += int(x["cflow.octets"][i])
            ifs.add((int(x["cflow.inputint"][i]), int(x["cflow.outputint"][i])))
    check(sum(per_flow.values()) == FRAMES and octets == FRAMES * FRAME_LEN,
          "the %s records sum to the %d frames and %d bytes (%d, %d)" % (
              what, FRAMES, FRAMES * FRAME_LEN, sum(per_flow.values()), octets))
    check(per_flow == {5000 + f: FRAMES // FLOWS for f in range(FLOWS)}, "%d per flow" % (FRAMES // FLOWS), per_flow)
    check(ifs == {(ports["a"], ports["b"])}, "input / ingress A's port, output / egress B's port", ifs)


def netflow_phase(cfg, cap, port, ports):
    since = time.time()
    cfg.vsctl("--", "--id=@n", "create", "netflow", 'targets="127.0.0.1:%d"' % port, "active_timeout=1",
              "engine_id=5", "--", "set", "bridge", BR, "netflow=@n")
    time.sleep(0.3)
    send("a", [frame(seq, seq % FLOWS) for seq in range(FRAMES)])
    time.sleep(4)  # the revalidator's roll-up (about a second), then the 1 s active timeout
    cap.flush()
    rows = decode_cflow(cap, port, NETFLOW_FIELDS, since)
    check(len(rows) > 0 and all(x["cflow.version"] == ["5"] for x in rows),
          "tshark decodes %d NetFlow v5 datagrams" % len(rows))
    problems = tshark_problems(cap.pcap, port, "cflow", since)
    check(problems == "", "no NetFlow datagram malformed, no expert warning", problems[:2000])
    check_flow_records(rows, ports, "NetFlow")
    shown = cfg.dpsctl("netflow/show", BR)
    check(isinstance(shown, list) and len(shown) == 1 and shown[0].get("status") == "on" and
          shown[0].get("engine_id") == 5 and shown[0].get("records", 0) >= FLOWS,
          "dpsctl netflow/show: on, engine 5, the records", shown)
    cfg.vsctl("clear", "bridge", BR, "netflow")


def controller_and_patch_phase(cfg, cap, port, ports):
    """Packet-outs and patch ports, with sFlow at 1 in 1 on two bridges
    (agents 127.0.0.1 and 127.0.0.2, one collector): B's port moves to a
    second bridge joined to the first by patch ports. As OVS:
      - a packet-out (ovs-ofctl over ptcp) is sampled by its bridge: from
        CONTROLLER with input 0 (unknown), from A's port with that input;
        the output its actions chose;
      - only the bridge a packet entered samples it: A -> B by the first
        bridge's agent, B -> A by the second's; the one output, a port of
        the other bridge, is "multiple, 1".
    """
    of_port = free_port()
    target = "tcp:127.0.0.1:%d" % of_port
    cfg.vsctl("set-controller", BR, "ptcp:%d:127.0.0.1" % of_port,
              "--", "add-br", BR2, "--", "del-port", BR, HOST["b"], "--", "add-port", BR2, HOST["b"], "--", "set",
              "Interface", HOST["b"], "type=dpdk", "options:dpdk-devargs=net_af_packet2,iface=%s" % HOST["b"],
              "--", "add-port", BR, PATCH[0], "--", "set", "Interface", PATCH[0], "type=patch",
              "options:peer=%s" % PATCH[1], "--", "add-port", BR2, PATCH[1], "--", "set", "Interface", PATCH[1],
              "type=patch", "options:peer=%s" % PATCH[0],
              "--", "--id=@s1", "create", "sflow", "agent=127.0.0.1", 'target="127.0.0.1:%d"' % port, "sampling=1",
              "polling=0", "header=%d" % HEADER, "--", "set", "bridge", BR, "sflow=@s1",
              "--", "--id=@s2", "create", "sflow", "agent=127.0.0.2", 'target="127.0.0.1:%d"' % port, "sampling=1",
              "polling=1", "header=%d" % HEADER, "--", "set", "bridge", BR2, "sflow=@s2")
    since = time.time()
    run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % BR2], check_rc=False)
    run(["ip", "link", "set", BR2, "down"], check_rc=False)
    err = cfg.vsctl("get", "Interface", HOST["b"], "error").stdout.strip()
    check(err in ("[]", ""), "%s moved to %s" % (HOST["b"], BR2), err)
    shown = cfg.dpsctl("port-stats")
    b2 = next((x["port_no"] for x in shown if x.get("port") == HOST["b"]), None) if isinstance(shown, list) else None
    check(b2 is not None, "%s's datapath port (its sFlow ifIndex) is %s" % (HOST["b"], b2), shown)
    for _ in range(40):
        if run(["ovs-ofctl", "-O", "OpenFlow13", "show", target], check_rc=False).returncode == 0:
            break
        time.sleep(0.1)
    outs = {90001: ("controller", frame(90001, 0), "output:%d" % ports["a"]),
            90002: (str(ports["a"]), frame(90002, 1), "output:IN_PORT")}
    for seq, (in_port, f, acts) in outs.items():
        r = run(["ovs-ofctl", "-O", "OpenFlow13", "packet-out", target,
                 "in_port=%s,packet=%s,actions=%s" % (in_port, f.hex(), acts)], check_rc=False)
        check(r.returncode == 0, "ovs-ofctl packet-out in_port=%s,actions=%s" % (in_port, acts), r.stderr.strip()[:300])
    # Both MACs learnt on both bridges, then 64 frames each way.
    send("b", [mac_bytes("ff:ff:ff:ff:ff:ff") + mac_bytes(MAC["b"]) + b"\x88\xb5" + bytes(46)])
    send("a", [mac_bytes("ff:ff:ff:ff:ff:ff") + mac_bytes(MAC["a"]) + b"\x88\xb5" + bytes(46)])
    time.sleep(0.2)
    send("a", [frame(91000 + i, 0) for i in range(64)])
    send("b", [frame(92000 + i, 0, "b", "a") for i in range(64)])
    time.sleep(0.5)  # the last samples (the second agent polled 1 s after it began)
    cap.flush()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two tshark runs at once
        rows = pool.submit(decode, cap.pcap, port, since)
        problems = pool.submit(tshark_problems, cap.pcap, port, "sflow", since).result()
        rows = rows.result()
    check(problems == "", "no datagram malformed, no expert warning", problems[:2000])
    got = tagged(flow_samples(rows))
    for seq, (in_port, f, acts) in outs.items():
        mine = got.get(seq, [])
        want_in = "0" if in_port == "controller" else in_port
        check(len(mine) == 1 and mine[0]["agent"] == "127.0.0.1" and mine[0]["input"] == want_in and
              mine[0]["output_format"] == "0" and mine[0]["output"] == str(ports["a"]) and
              mine[0]["header_bytes"] == f[:HEADER],
              "the packet-out from in_port=%s: one flow sample, input %s, output A's port %d, its header" % (
                  in_port, want_in, ports["a"]), [(x["agent"], x["input"], x["output"]) for x in mine])
    a_to_b = [x for seq, v in got.items() if 91000 <= seq < 91064 for x in v]
    b_to_a = [x for seq, v in got.items() if 92000 <= seq < 92064 for x in v]
    check(len(a_to_b) == 64 and all(x["agent"] == "127.0.0.1" for x in a_to_b),
          "A -> B (entered %s): 64 flow samples, all from %s's agent, none from %s's" % (BR, BR, BR2),
          (len(a_to_b), sorted(set(str(x["agent"]) for x in a_to_b))))
    check(all(x["input"] == str(ports["a"]) and x["output_format"] == "2" and x["output"] == "1" for x in a_to_b),
          "A -> B: input A's port %d, output \"multiple, 1\" (a port of the other bridge, as OVS)" % ports["a"],
          [(x["input"], x["output_format"], x["output"]) for x in a_to_b[:3]])
    check(len(b_to_a) == 64 and all(x["agent"] == "127.0.0.2" for x in b_to_a) and
          all(x["input"] == str(b2) and x["output_format"] == "2" and x["output"] == "1" for x in b_to_a),
          "B -> A (entered %s): 64 flow samples from %s's agent only, input B's port %s, output \"multiple, 1\"" % (
              BR2, BR2, b2), [(x["agent"], x["input"], x["output_format"], x["output"]) for x in b_to_a[:3]])
    counters = [c for r in rows if r["sflow_245.agent"] == ["127.0.0.2"] for c in counter_samples([r])]
    check(any(c["ifindex"] == b2 for c in counters), "%s's agent sends counter samples of its port %s" % (BR2, b2))


def main():
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ovs-vsctl", "ovs-ofctl", "tshark")):
        print("SKIP: needs root, ovs-vsctl, ovs-ofctl and tshark")
        return 77
    tmp = tempfile.mkdtemp(prefix="sm-sampling-")
    sw = Switch(DPSWITCHD, db=True, name="sm-sampling", tmp=tmp)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    def body():
        teardown()
        setup()
        sw.start(timeout=60)
        cfg = Ctl(sw, DPSCTL)
        ports = build(cfg)
        t0 = time.time()
        with Collector(tmp, port) as cap:
            for phase in (sampling_phase, bad_value, cleared, ipfix_phase, flow_sample_phase, netflow_phase,
                          controller_and_patch_phase):
                t1 = time.time()
                phase(cfg, cap, port, ports)
                print("%s took %.1f s" % (phase.__name__, time.time() - t1))
        print("phases took %.1f s" % (time.time() - t0))
        check(sw.alive(), "dpswitchd still running", sw.log_tail())

    return guarded_switch(sw, tmp, teardown, body)


if __name__ == "__main__":
    sys.exit(main())
