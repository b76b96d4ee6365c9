#!/usr/bin/env python3
"""dpswitchd's OpenFlow 1.3 channel against ovs-ofctl, end to end.

Starts the real dpswitchd (EAL --no-huge, net_null vdevs: p1 receives a
constant stream, p2 never receives) with `--openflow ptcp:PORT:127.0.0.1
--no-db`, captures the loopback traffic of that port with tshark, and runs
`ovs-ofctl -O OpenFlow13`: show, dump-desc, dump-tables,
dump-table-features, dump-ports, dump-ports-desc, add-flow, add-flows,
mod-flows, del-flows (and --strict), dump-flows, dump-aggregate,
add-group, dump-groups, dump-group-stats, add-meter, dump-meters,
meter-stats, packet-out, mod-port (down/up), monitor (a packet-in arrives),
and error replies. Then it decodes the capture with tshark's OpenFlow 1.3
dissector (-d tcp.port==PORT,openflow, which hands 1.3 to openflow_v4) and expects no malformed frame.

Usage: DPSWITCHD=/path/to/dpswitchd ofctl_interop_test.py
(ovs-ofctl and tshark are required: scripts/bootstrap.sh installs them;
a missing one fails the test with a message, nothing is skipped.)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, failures, free_port  # noqa: E402

DPSWITCHD = os.environ.get("DPSWITCHD") or (sys.argv[1] if len(sys.argv) > 1 else "")
OFCTL = shutil.which("ovs-ofctl")
TSHARK = shutil.which("tshark")
missing = [n for n, p in (("ovs-ofctl (openvswitch-common)", OFCTL), ("tshark", TSHARK)) if not p]
if missing or not DPSWITCHD:
    print("FAIL: missing " + ", ".join(missing + ([] if DPSWITCHD else ["$DPSWITCHD"])) +
          " - run scripts/bootstrap.sh (apt-get install openvswitch-common tshark)")
    sys.exit(1)

tmp = tempfile.mkdtemp(prefix="dps-ofctl-")
os.environ["OVS_RUNDIR"] = tmp  # ovs-ofctl's unixctl socket (monitor)


PORT = free_port()
TARGET = "tcp:127.0.0.1:%d" % PORT


def ofctl(*args, ok=True, timeout=20):
    r = subprocess.run([OFCTL, "-O", "OpenFlow13", *args], capture_output=True, text=True,
                       timeout=timeout)
    if ok and r.returncode != 0:
        check(False, "ovs-ofctl " + " ".join(args), r.stderr)
    return r


# Every set_field ovs-ofctl can send beyond addresses and ports (ip_proto
# and eth_type it calls read-only), and sample(): added, then dumped back
# exactly as ovs-ofctl itself parses the flow.
SET_FIELD_FLOWS = [
    "ip,actions=set_field:3->ip_ecn,output:2",
    "ipv6,actions=set_field:1->ip_ecn,set_field:46->ip_dscp,set_field:0x12345->ipv6_label,output:2",
    "ipv6,actions=mod_nw_ttl:9,output:2",
    "icmp,actions=set_field:0->icmp_type,set_field:3->icmp_code,output:2",
    "icmp6,actions=set_field:129->icmpv6_type,set_field:1->icmpv6_code,output:2",
    "arp,actions=set_field:2->arp_op,set_field:1.2.3.4->arp_spa,set_field:5.6.7.8->arp_tpa,"
    "set_field:0e:00:00:00:00:01->arp_sha,set_field:0e:00:00:00:00:02->arp_tha,output:2",
    "icmp6,icmp_type=135,icmp_code=0,actions=set_field:fe80::9->nd_target,"
    "set_field:0e:00:00:00:00:01->nd_sll,output:2",
    "icmp6,icmp_type=136,icmp_code=0,actions=set_field:0e:00:00:00:00:02->nd_tll,output:2",
    "sctp,actions=set_field:99->sctp_src,set_field:100->sctp_dst,output:2",
    # and sample() in its three wire forms (NXAST_SAMPLE, SAMPLE2, SAMPLE3)
    "udp,actions=sample(probability=1000,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:2",
    "ip,actions=sample(probability=65535,collector_set_id=4,obs_domain_id=5,obs_point_id=6,sampling_port=2)",
    "ipv6,actions=sample(probability=9,collector_set_id=1,obs_domain_id=2,obs_point_id=3,egress),output:1",
    # MPLS and QinQ (issue 18).
    "ip,actions=push_mpls:0x8847,set_field:100->mpls_label,set_field:3->mpls_tc,set_mpls_ttl:9,output:2",
    "mpls,mpls_label=5,mpls_bos=0,actions=pop_mpls:0x8847,dec_mpls_ttl,output:2",
    "mplsm,mpls_tc=2,mpls_bos=1,actions=push_mpls:0x8848,output:2",  # ovs-ofctl: mpls_bos read-only
    "mpls,mpls_bos=1,actions=pop_mpls:0x0800,dec_ttl,output:2",
    "ip,actions=push_vlan:0x88a8,set_field:4101->vlan_vid,output:2",
]


def set_field_round_trip():
    for i, f in enumerate(SET_FIELD_FLOWS):
        flow = "priority=%d,%s" % (100 + i, f)
        parsed = ofctl("parse-flow", flow).stdout
        want = parsed[parsed.index(" actions=") + 1:].strip() if " actions=" in parsed else "?"
        ofctl("add-flow", TARGET, flow)
        got = [l[l.index("actions="):] for l in flows() if "priority=%d," % (100 + i) in l]
        check(got == [want], "set_field round trip: %s" % want, "dumped: %s" % got)
    ofctl("del-flows", TARGET, "cookie=0/-1")


def flows():
    out = ofctl("dump-flows", TARGET).stdout
    return [l.strip() for l in out.splitlines() if "priority=" in l]


def port_tx(port):
    out = ofctl("dump-ports", TARGET, str(port)).stdout
    m = re.search(r"tx pkts=(\d+)", out)
    return int(m.group(1)) if m else -1


cap_file = os.path.join(tmp, "of.pcap")
cap = subprocess.Popen([TSHARK, "-i", "lo", "-f", "tcp port %d" % PORT, "-w", cap_file, "-q"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.5)  # tshark needs a moment before it captures

daemon = Switch(DPSWITCHD, vdevs=["net_null0", "net_null1,no-rx=1"],
                openflow=["ptcp:%d:127.0.0.1" % PORT], args=["--mbufs", "16384"],
                name="dps-ofctl", tmp=tmp)
try:
    daemon.start_or_exit("dpswitchd is up and listening on ptcp:%d" % PORT)

    # --- switch description --------------------------------------------------
    out = ofctl("show", TARGET).stdout
    check("OFPT_FEATURES_REPLY (OF1.3)" in out and "n_tables:254" in out and "n_buffers:256" in out,
          "show: features reply", out)
    check(" 1(p1): addr:" in out and " 2(p2): addr:" in out, "show: ports 1 and 2", out)
    out = ofctl("dump-desc", TARGET).stdout
    check("Manufacturer: dpswitch project" in out and "DP Description: br0" in out, "dump-desc", out)
    out = ofctl("dump-tables", TARGET).stdout
    check("table 0:" in out and "active=0" in out, "dump-tables: table 0, empty at start", out)
    out = ofctl("dump-table-features", TARGET).stdout
    check('table 0 ("table0")' in out and "next tables: 1-254" in out and 'table 254 ("table254")' in out
          and "apply_actions" in out and "matching:" in out, "dump-table-features: 255 tables", out[:800])
    out = ofctl("dump-ports-desc", TARGET).stdout
    check("OFPST_PORT_DESC reply (OF1.3)" in out and "1(p1)" in out and "state:      LIVE" in out,
          "dump-ports-desc", out)
    check(flows() == [], "empty flow table at start (no implicit NORMAL)")

    # --- flows ---------------------------------------------------------------------
    ofctl("add-flow", TARGET, "priority=10,in_port=1,actions=output:2")
    with open(os.path.join(tmp, "flows.txt"), "w") as f:
        f.write("priority=5,ip,nw_dst=10.0.0.0/8,actions=output:2\n"
                "priority=6,in_port=2,actions=drop\n"
                "priority=7,cookie=0x42,tcp,tp_dst=80,actions=output:1\n")
    ofctl("add-flows", TARGET, os.path.join(tmp, "flows.txt"))
    fl = flows()
    check(len(fl) == 4, "add-flow + add-flows: 4 rules", "\n".join(fl))
    check(any("priority=10,in_port=1 actions=output:2" in l for l in fl), "dump-flows shows the rule")
    time.sleep(0.5)
    tx0 = port_tx(2)
    time.sleep(0.5)
    tx1 = port_tx(2)
    check(tx1 > tx0 > 0, "dump-ports: port 2 tx counts live (%d -> %d)" % (tx0, tx1))
    out = ofctl("dump-flows", TARGET, "in_port=1").stdout
    m = re.search(r"n_packets=(\d+)", out)
    check(m is not None and int(m.group(1)) > 0, "dump-flows: the rule counts packets", out)
    out = ofctl("dump-aggregate", TARGET).stdout
    check("flow_count=4" in out, "dump-aggregate: flow_count=4", out)
    ofctl("mod-flows", TARGET, "ip,nw_dst=10.0.0.0/8,actions=output:1")
    fl = flows()
    check(any("nw_dst=10.0.0.0/8 actions=output:1" in l for l in fl), "mod-flows", "\n".join(fl))
    ofctl("--strict", "del-flows", TARGET, "priority=6,in_port=2")
    ofctl("--strict", "del-flows", TARGET, "priority=99,in_port=1")  # no match: nothing goes
    fl = flows()
    check(len(fl) == 3 and not any("in_port=2" in l for l in fl), "del-flows --strict", "\n".join(fl))
    ofctl("del-flows", TARGET, "cookie=0x42/-1")
    check(len(flows()) == 2, "del-flows by cookie")

    set_field_round_trip()

    # --- errors (the connection stays usable: each ovs-ofctl reports it) --------
    r = ofctl("add-flow", TARGET, "table=0,priority=1,actions=group:99", ok=False)
    check(r.returncode != 0 and "OFPBAC_BAD_OUT_GROUP" in r.stderr, "unknown group: OFPBAC_BAD_OUT_GROUP",
          r.stderr)
    r = ofctl("add-flow", TARGET, "table=3,priority=1,actions=goto_table:2", ok=False)
    check(r.returncode != 0 and "OFPBIC_BAD_TABLE_ID" in r.stderr, "backward goto: OFPBIC_BAD_TABLE_ID",
          r.stderr)

    # --- groups ------------------------------------------------------------------
    ofctl("add-group", TARGET, "group_id=1,type=all,bucket=output:1,bucket=output:2")
    ofctl("add-flow", TARGET, "priority=20,ip,nw_dst=192.168.0.2,actions=group:1")
    out = ofctl("dump-groups", TARGET).stdout
    check("group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2" in out, "dump-groups", out)
    out = ofctl("dump-group-stats", TARGET).stdout
    check("group_id=1" in out and "ref_count=1" in out, "dump-group-stats", out)

    # --- meters --------------------------------------------------------------------
    r = ofctl("add-meter", TARGET, "meter=1,kbps,band=type=drop,rate=1000", ok=False)
    out = ofctl("dump-meters", TARGET, ok=False).stdout
    check(r.returncode == 0 and "meter=1" in out and "rate=1000" in out, "add-meter + dump-meters",
          r.stderr + out)
    out = ofctl("meter-stats", TARGET, ok=False).stdout
    check("meter:1" in out, "meter-stats", out)

    # --- packet-out, monitor ------------------------------------------------------------
    pkt = "ffffffffffff00000000000108004500001c000100004011f7c8c0a80001c0a80002"
    pkt += "04d20050000800000000000000000000"
    tx0 = port_tx(2)
    ofctl("del-flows", TARGET)
    time.sleep(0.3)
    tx0 = port_tx(2)
    ofctl("packet-out", TARGET, "in_port=controller packet=%s actions=output:2" % pkt)
    time.sleep(0.3)
    check(port_tx(2) == tx0 + 1, "packet-out: one frame left port 2")
    mon_out = os.path.join(tmp, "monitor.txt")
    mon = subprocess.Popen([OFCTL, "-O", "OpenFlow13", "monitor", TARGET],
                           stdout=open(mon_out, "w"), stderr=subprocess.STDOUT)
    time.sleep(1.0)
    ofctl("packet-out", TARGET, "in_port=1 packet=%s actions=controller" % pkt)
    # and a table-miss rule to the controller for traffic arriving on p1
    ofctl("add-flow", TARGET, "priority=0,actions=controller:128")
    time.sleep(1.5)
    mon.send_signal(signal.SIGTERM)
    mon.wait(timeout=10)
    out = open(mon_out).read()
    check("OFPT_PACKET_IN (OF1.3)" in out and "in_port=1" in out and "nw_dst=192.168.0.2" in out,
          "monitor: the packet-out's packet-in arrives", out[:1000])
    check(out.count("OFPT_PACKET_IN") >= 2, "monitor: table-miss packet-ins arrive (rate limited)")
    ofctl("del-flows", TARGET)

    # --- mod-port -------------------------------------------------------------------
    ofctl("add-flow", TARGET, "priority=10,in_port=1,actions=output:2")
    ofctl("mod-port", TARGET, "1", "down")
    out = ofctl("dump-ports-desc", TARGET).stdout
    check(re.search(r"1\(p1\).*\n\s+config:\s+PORT_DOWN", out) is not None, "mod-port down: PORT_DOWN",
          out)
    time.sleep(0.3)
    a = port_tx(2)
    time.sleep(0.5)
    b = port_tx(2)
    check(a == b, "mod-port down: port 1 is not received from (%d -> %d)" % (a, b))
    ofctl("mod-port", TARGET, "1", "up")
    time.sleep(0.5)
    check(port_tx(2) > b, "mod-port up: forwarding resumes")
    r = ofctl("mod-port", TARGET, "9", "down", ok=False)
    check(r.returncode != 0, "mod-port of a missing port fails", r.stderr)
    check(daemon.alive(), "dpswitchd still running")
finally:
    daemon.stop(timeout=30)
    time.sleep(1.0)
    cap.send_signal(signal.SIGINT)
    try:
        cap.wait(timeout=10)
    except subprocess.TimeoutExpired:
        cap.kill()

# --- independent decoding of everything on the wire -----------------------------------
r = subprocess.run([TSHARK, "-r", cap_file, "-d", "tcp.port==%d,openflow" % PORT,
                    "-o", "tcp.desegment_tcp_streams:TRUE", "-T", "fields", "-e", "frame.number",
                    "-e", "openflow_v4.type", "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
                   capture_output=True, text=True, timeout=120)
rows = [l.split("\t") for l in r.stdout.splitlines() if l.strip()]
of_rows = [x for x in rows if len(x) > 1 and x[1]]
bad = subprocess.run([TSHARK, "-r", cap_file, "-d", "tcp.port==%d,openflow" % PORT,
                      "-Y", "_ws.malformed || openflow_v4 && _ws.expert.severity >= 8388608"],
                     capture_output=True, text=True, timeout=120)
malformed = [[l] for l in bad.stdout.splitlines() if l.strip()]
types = set()
for x in of_rows:
    types.update(t for t in x[1].split(",") if t)
check(len(of_rows) > 50, "tshark decoded %d OpenFlow 1.3 frames" % len(of_rows), r.stderr[:500])
check(not malformed, "tshark: no malformed frame", "\n".join("\t".join(x) for x in malformed[:20]))
# switch-to-controller types seen: hello 0, error 1, features 6, config 8,
# packet_in 10, port_status 12, multipart reply 19, barrier reply 21
for t in ("0", "1", "6", "8", "10", "12", "19", "21"):
    check(t in types, "tshark saw OpenFlow type %s" % t)

print("%d failure(s)" % len(failures))
if failures:
    print("logs in " + tmp)
    sys.exit(1)
shutil.rmtree(tmp, ignore_errors=True)
