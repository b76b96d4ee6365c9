#!/usr/bin/env python3
"""The stateful firewall of OVS's conntrack tutorial through dpswitchd.

Topology (made and removed by this script; names carry a per-run tag):

    ns ctA<tag>: va (10.78.0.1/24)        ns ctB<tag>: vb (10.78.0.2/24)
          | veth                                | veth
    root: cta<tag> --af_packet--  [ br ]  --af_packet-- ctb<tag>

The bridge is built with the real ovs-vsctl; the rules are loaded with the
real `ovs-ofctl -O OpenFlow13 add-flows` (NXM ct_state matches, NXAST_CT):
ARP is switched NORMAL, untracked IP goes through ct(table=1), and table 1
lets A open connections to B (committed) while B may only answer. Checked:
  - ovs-ofctl dump-flows prints the rules back in its own syntax;
  - TCP A->B (a small echo server in B) and UDP A->B (request, reply) work;
  - a new TCP connection B->A is dropped (connect times out);
  - dpsctl dpctl/dump-conntrack shows the TCP and UDP entries in OVS's
    format (orig/reply tuples, protoinfo), zone=N filters, ct-get-nconns
    and ct-stats-show count them, flush-conntrack empties the table;
  - fragments: `ping -s 3000` A->B and a 4000-byte UDP datagram A->B
    (its 4005-byte echo comes back fragmented too) pass: each datagram is
    reassembled at ct(), tracked once, its fragments sent on; a ping and a
    large UDP datagram B->A (new) are still dropped; dpctl/ipf-get-status
    counts the fragments accepted and reassembled, and none held after;
  - ct-set-maxconns 0: a new connection is not committed (counted as
    conntrack_full), so B's answer is +new and dropped: TCP A->B fails;
    back to the default, it works again.
With --regs the same firewall is written the way stateful pipelines (OVN,
OpenStack) write it: table 0 classifies the input port into reg6 and the
zone into reg5, resubmit(,5) sends the packet on, ct(table=1,
zone=NXM_NX_REG5[0..15]) tracks it in zone 9 and table 1 decides on reg6,
which must survive the recirculation (frozen with it); dump-conntrack
zone=9 then shows the connections.
With --pcap the ports are net_pcap (net_af_packet has the kernel reassemble
fragments) and the fragment checks run.
Usage: firewall_test.py DPSWITCHD DPSCTL [--regs] [--pcap]. Needs root, ovs-vsctl and
ovs-ofctl (skipped, exit 77, without them).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import ECHO_CLIENT as CLIENT, check, free_port, run, switch_test, tx_csum_off  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
REGS = "--regs" in sys.argv[3:]
# --pcap: the ports are net_pcap on the veths. net_af_packet joins a
# PACKET_FANOUT group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
# reassembles IP fragments before dpswitchd sees them (and a datagram
# larger than its frame arrives truncated): the fragment checks need pcap.
PCAP = "--pcap" in sys.argv[3:]
TAG = "%x" % (os.getpid() & 0xffff)
NS = {"a": "ctA" + TAG, "b": "ctB" + TAG}
HOST = {"a": "cta" + TAG, "b": "ctb" + TAG}
DEV = {"a": "va", "b": "vb"}
IP = {"a": "10.78.0.1", "b": "10.78.0.2"}
MAC = {"a": "02:78:00:00:00:01", "b": "02:78:00:00:00:02"}
BR = "ctbr" + TAG

# A TCP echo server (one connection at a time) and a UDP echo server.
SERVER = r"""
import socket, sys, threading
ip, port = sys.argv[1], int(sys.argv[2])
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port)); s.listen(8)
    while True:
        c, _ = s.accept()
        d = c.recv(100)
        c.sendall(b"echo:" + d); c.close()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((ip, port))
    while True:
        d, a = u.recvfrom(65535); u.sendto(b"echo:" + d, a)
threading.Thread(target=udp, daemon=True).start()
print("listening", flush=True)
tcp()
"""

FLOWS = """table=0,priority=1,actions=drop
table=0,priority=10,arp,actions=NORMAL
table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)
table=1,priority=100,ip,in_port={a},ct_state=+trk+new,actions=ct(commit),output:{b}
table=1,priority=100,ip,in_port={a},ct_state=+trk+est,actions=output:{b}
table=1,priority=100,ip,in_port={b},ct_state=+trk+new,actions=drop
table=1,priority=100,ip,in_port={b},ct_state=+trk+est,actions=output:{a}
"""


# The same firewall through registers, resubmit and a zone from a register.
FLOWS_REGS = """table=0,priority=1,actions=drop
table=0,priority=10,arp,actions=NORMAL
table=0,priority=100,ip,in_port={a},actions=load:0x5->NXM_NX_REG6[],load:0x9->NXM_NX_REG5[0..15],resubmit(,5)
table=0,priority=100,ip,in_port={b},actions=load:0x6->NXM_NX_REG6[],load:0x9->NXM_NX_REG5[0..15],resubmit(,5)
table=5,priority=100,ip,ct_state=-trk,actions=note:01.02,ct(table=1,zone=NXM_NX_REG5[0..15])
table=1,priority=100,ip,reg6=0x5,ct_state=+trk+new,actions=ct(commit,zone=NXM_NX_REG5[0..15]),output:{b}
table=1,priority=100,ip,reg6=0x5,ct_state=+trk+est,actions=output:{b}
table=1,priority=100,ip,reg6=0x6,ct_state=+trk+new,actions=drop
table=1,priority=100,ip,reg6=0x6,ct_state=+trk+est,actions=output:{a}
"""
ZONE = "9" if REGS else "0"


def setup():
    for k in ("a", "b"):
        ns, host = NS[k], HOST[k]
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", host, "type", "veth", "peer", "name", DEV[k]])
        run(["ip", "link", "set", DEV[k], "netns", ns])
        run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % host], check_rc=False)
        run(["ip", "link", "set", host, "up"])
        run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns, check_rc=False)
        run(["ip", "link", "set", DEV[k], "address", MAC[k]], ns=ns)
        run(["ip", "addr", "add", IP[k] + "/24", "dev", DEV[k]], ns=ns)
        run(["ip", "link", "set", DEV[k], "up"], ns=ns)
        run(["ip", "link", "set", "lo", "up"], ns=ns)
        tx_csum_off(DEV[k], ns=ns)
        tx_csum_off(host)
    for k, other in (("a", "b"), ("b", "a")):
        run(["ip", "neigh", "replace", IP[other], "lladdr", MAC[other], "nud", "permanent", "dev", DEV[k]],
            ns=NS[k])


def teardown():
    for k in ("a", "b"):
        run(["ip", "netns", "del", NS[k]], check_rc=False)
        run(["ip", "link", "del", HOST[k]], check_rc=False)


class Env:
    def __init__(self, sw, of_port):
        self.sw, self.of = sw, "tcp:127.0.0.1:%d" % of_port

    def vsctl(self, *args, check_rc=True):
        return run(["ovs-vsctl", "--db=unix:" + self.sw.sock, "--timeout=30"] + list(args), check_rc=check_rc)

    def ofctl(self, *args, check_rc=True):
        return run(["ovs-ofctl", "-O", "OpenFlow13"] + list(args), check_rc=check_rc)

    def dpsctl(self, *args):
        r = run([DPSCTL, "--db=unix:" + self.sw.sock, "--timeout=10"] + list(args), check_rc=False)
        return (r.stdout + r.stderr).strip()


def client(proto, src, dst, port):
    r = run(["python3", "-c", CLIENT, proto, IP[dst], str(port)], ns=NS[src], check_rc=False)
    return r.returncode == 0 and r.stdout.strip() == "echo:hi", (r.stdout + r.stderr).strip()


def start_server(k, port):
    p = subprocess.Popen(["ip", "netns", "exec", NS[k], "python3", "-c", SERVER, IP[k], str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(p.stdout.readline().strip() == "listening", "echo server in %s on port %d" % (k.upper(), port))
    return p


def build(env, tmp, of_port):
    args = ["add-br", BR]
    for i, k in enumerate(("a", "b")):
        args += ["--", "add-port", BR, HOST[k], "--", "set", "Interface", HOST[k], "type=dpdk",
                 ("options:dpdk-devargs=net_pcap%d,iface=%s" if PCAP else
                  "options:dpdk-devargs=net_af_packet%d,iface=%s") % (i, HOST[k])]
    env.vsctl(*args)
    run(["ip", "link", "set", BR, "down"], check_rc=False)
    env.vsctl("set-controller", BR, "ptcp:%d:127.0.0.1" % of_port)
    port = {k: env.vsctl("get", "Interface", HOST[k], "ofport").stdout.strip() for k in ("a", "b")}
    path = os.path.join(tmp, "flows.txt")
    with open(path, "w") as f:
        f.write((FLOWS_REGS if REGS else FLOWS).format(**port))
    for _ in range(50):
        if env.ofctl("show", env.of, check_rc=False).returncode == 0:
            break
        time.sleep(0.2)
    env.ofctl("del-flows", env.of)
    r = env.ofctl("add-flows", env.of, path, check_rc=False)
    check(r.returncode == 0, "ovs-ofctl -O OpenFlow13 add-flows loads the tutorial firewall", r.stderr)
    dump = env.ofctl("dump-flows", env.of, "--no-stats", check_rc=False).stdout
    want = (["table=5, priority=100,ct_state=-trk,ip actions=note:01.02.00.00.00.00,ct(table=1,zone=NXM_NX_REG5[0..15])",
             "priority=100,ip,in_port=%s actions=load:0x5->NXM_NX_REG6[],load:0x9->NXM_NX_REG5[0..15],resubmit(,5)" % port["a"],
             "table=1, priority=100,ct_state=+est+trk,ip,reg6=0x6 actions=output:%s" % port["a"]]
            if REGS else
            ["priority=100,ct_state=-trk,ip actions=ct(table=1)",
            "table=1, priority=100,ct_state=+new+trk,ip,in_port=%s actions=ct(commit),output:%s" % (port["a"], port["b"]),
            "table=1, priority=100,ct_state=+est+trk,ip,in_port=%s actions=output:%s" % (port["b"], port["a"])])
    for w in want:
        check(w in dump, "ovs-ofctl dump-flows prints '%s'" % w, dump)
    return port


def pmd_counters(env):
    """upcalls and recirculated, summed over the PMDs."""
    r = run([DPSCTL, "--db=unix:" + env.sw.sock, "--timeout=10", "--format=json", "pmd-stats-show"],
            check_rc=False)
    try:
        rows = json.loads(r.stdout)
        return sum(x.get("upcalls", 0) for x in rows), sum(x.get("recirculated", 0) for x in rows)
    except (ValueError, AttributeError, TypeError):
        return None, None


def fast_path(env):
    """A second UDP exchange A->B (new ports, a new connection) takes the
    megaflows of both passes: no upcall, two more recirculations."""
    up0, rc0 = pmd_counters(env)
    ok, out = client("udp", "a", "b", 8080)
    up1, rc1 = pmd_counters(env)
    check(ok, "a second UDP exchange A->B", out)
    check(up0 is not None and up1 == up0 and rc1 >= rc0 + 2,
          "it is recirculated through the fast path: upcalls %s -> %s, recirculated %s -> %s"
          % (up0, up1, rc0, rc1))


def conntrack_checks(env):
    dump = env.dpsctl("dpctl/dump-conntrack", "zone=" + ZONE)
    tcp = "tcp,orig=(src=%s,dst=%s," % (IP["a"], IP["b"])
    check(tcp in dump and "dport=8080),reply=(src=%s,dst=%s,sport=8080," % (IP["b"], IP["a"]) in dump
          and "protoinfo=(state=" in dump, "dump-conntrack shows the TCP connection A->B", dump)
    check("udp,orig=(src=%s,dst=%s," % (IP["a"], IP["b"]) in dump and "dport=8080)" in dump,
          "dump-conntrack shows the UDP connection A->B", dump)
    check(not [l for l in dump.splitlines() if "orig=(src=%s," % IP["b"] in l],
          "no connection originated by B was committed", dump)
    other = "0" if REGS else "9"
    check(env.dpsctl("dpctl/dump-conntrack", "zone=" + other) == "", "zone=%s has no connections" % other)
    n = env.dpsctl("dpctl/ct-get-nconns")
    check(n.isdigit() and int(n) >= 2, "ct-get-nconns counts them (%s)" % n)
    stats = env.dpsctl("dpctl/ct-stats-show")
    check("Total: " in stats and "TCP: " in stats and "UDP: " in stats, "ct-stats-show by protocol", stats)
    env.dpsctl("dpctl/flush-conntrack")
    check(env.dpsctl("dpctl/ct-get-nconns") == "0", "flush-conntrack empties the table")


# A UDP datagram of N bytes to DST's echo server; ok when the whole echo
# ("echo:" + the datagram) comes back.
BIG_UDP = r"""
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
d = bytes(i % 251 for i in range(n))
u.sendto(d, (ip, port))
try:
    r, _ = u.recvfrom(65535)
except socket.timeout:
    print("timeout"); sys.exit(1)
print("ok" if r == b"echo:" + d else "bad reply %d bytes" % len(r))
sys.exit(0 if r == b"echo:" + d else 1)
"""


def big_udp(src, dst, port, n):
    r = run(["python3", "-c", BIG_UDP, IP[dst], str(port), str(n)], ns=NS[src], check_rc=False)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def ping(src, dst, size):
    r = run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-s", str(size), IP[dst]], ns=NS[src], check_rc=False)
    return r.returncode == 0, (r.stdout + r.stderr).strip()[-300:]


def status_counter(text, name):
    for line in text.splitlines():
        k, _, v = line.strip().partition(": ")
        if k == name and v.isdigit():
            return int(v)
    return -1


def fragments(env):
    ok, out = ping("a", "b", 3000)
    check(ok, "ping -s 3000 A->B: fragmented request and reply pass", out)
    ok, out = big_udp("a", "b", 8080, 4000)
    check(ok, "a 4000-byte UDP datagram A->B and its fragmented echo pass", out)
    ok, out = ping("b", "a", 3000)
    check(not ok, "ping -s 3000 B->A (new) is dropped", out)
    ok, out = big_udp("b", "a", 9090, 4000)
    check(not ok, "a 4000-byte UDP datagram B->A (new) is dropped", out)
    st = env.dpsctl("dpctl/ipf-get-status")
    # A->B: 2 pings and the UDP datagram of 3 fragments each way, twice
    # through ct() (ct(table=1) and ct(commit)) for the first ones.
    check(status_counter(st, "v4 frags accepted") >= 18 and status_counter(st, "v4 frags reassembled") >= 6
          and status_counter(st, "num frag") == 0 and status_counter(st, "v4 frags purged") == 0,
          "ipf-get-status: fragments accepted and reassembled, none held, none purged", st)
    check(status_counter(st, "min v4 frag size") == 1200 and status_counter(st, "max num frags (v4/v6)") == 1000,
          "ipf-get-status shows OVS's defaults", st)
    check("successful" in env.dpsctl("dpctl/ipf-set-max-nfrags", "2000")
          and status_counter(env.dpsctl("dpctl/ipf-get-status"), "max num frags (v4/v6)") == 2000,
          "ipf-set-max-nfrags 2000 reads back")
    check("at most 5000" in env.dpsctl("dpctl/ipf-set-max-nfrags", "6000"), "ipf-set-max-nfrags 6000 is refused")
    check("Fragment reassembly" in env.dpsctl("dpctl/ct-stats-show"), "ct-stats-show has the fragment counters")


def maxconns(env):
    check("successful" in env.dpsctl("dpctl/ct-set-maxconns", "0"), "ct-set-maxconns 0")
    check(env.dpsctl("dpctl/ct-get-maxconns") == "0", "ct-get-maxconns reads it back")
    ok, out = client("tcp", "a", "b", 8080)
    check(not ok, "with maxconns 0 nothing is committed: B's answer is +new and dropped", out)
    check("conntrack_full: 0" not in env.dpsctl("dpctl/ct-stats-show"), "conntrack_full counts the refusals",
          env.dpsctl("dpctl/ct-stats-show"))
    env.dpsctl("dpctl/ct-set-maxconns", "3000000")
    ok, out = client("tcp", "a", "b", 8080)
    check(ok, "back to the default limit, TCP A->B works again", out)


def firewall(sw, tmp, servers):
    of_port = free_port()
    env = Env(sw, of_port)
    build(env, tmp, of_port)
    servers.append(start_server("b", 8080))
    servers.append(start_server("a", 9090))
    ok, out = client("tcp", "a", "b", 8080)
    check(ok, "TCP A->B through the firewall", out)
    ok, out = client("udp", "a", "b", 8080)
    check(ok, "UDP A->B through the firewall (the reply passes)", out)
    ok, out = client("tcp", "b", "a", 9090)
    check(not ok, "a new TCP connection B->A is dropped", out)
    ok, out = client("udp", "b", "a", 9090)
    check(not ok, "a new UDP flow B->A is dropped", out)
    fast_path(env)
    if PCAP:
        fragments(env)
    conntrack_checks(env)
    maxconns(env)


if __name__ == "__main__":
    sys.exit(switch_test(DPSWITCHD, "ct", teardown, setup, firewall))
