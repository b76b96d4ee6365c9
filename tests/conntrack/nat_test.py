#!/usr/bin/env python3
"""SNAT and DNAT through dpswitchd between network namespaces, set up with
ovs-vsctl and ovs-ofctl -O OpenFlow13 alone.

    ns A (10.79.0.1)    ns B (10.79.0.2)    ns C (10.79.0.3)
          |                   |                   |
          +------- af_packet ports of one bridge -+

Every IP packet goes through ct(table=1,nat) first. In table 1:
  - SNAT: A's new connections to B are committed with
    nat(src=10.79.0.100); B's echo server reports the peer it saw (the NAT
    address), the reply is un-NATed back to A;
  - DNAT: A's new connections to the virtual IP 10.79.0.200:80 are
    committed with nat(dst=10.79.0.2-10.79.0.3:8080) and recirculated to
    table 2, which sends each to its backend (B or C); replies come back
    from the VIP; over 16 connections both backends answer;
  - exhaustion: UDP to B's port 8081 is SNATed to the single tuple
    10.79.0.100:40000; a second flow while the first lives is dropped and
    counted (ct-stats-show: nat_exhausted);
  - established packets pass by +est+snat / +est+dnat (ct_state matches);
    the +est+dnat ones through ct(commit,table=2,exec(ct_mark=5)) in the
    same zone: their connections get the mark, no second one is created;
  - dpctl/dump-conntrack shows the translated reply tuples; flush-conntrack
    with a ct-tuple removes the one connection holding the NAT tuple,
    after which a new flow gets it.
The neighbours are static (no ARP through the switch): B and C reach the
NAT address and A the VIP through the bridge.
Usage: nat_test.py DPSWITCHD DPSCTL. Needs root, ovs-vsctl and ovs-ofctl
(skipped, exit 77, without them).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import ECHO_CLIENT as CLIENT, Ctl, check, free_port, run, switch_test, veth_in_netns  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TAG = "%x" % (os.getpid() & 0xffff)
HOSTS = ("a", "b", "c")
NS = {k: "nat%s%s" % (k.upper(), TAG) for k in HOSTS}
HOST = {k: "nat%s%s" % (k, TAG) for k in HOSTS}
IP = {"a": "10.79.0.1", "b": "10.79.0.2", "c": "10.79.0.3"}
MAC = {k: "02:79:00:00:00:0%d" % (i + 1) for i, k in enumerate(HOSTS)}
NAT_IP, VIP = "10.79.0.100", "10.79.0.200"
BR = "natbr" + TAG

# Echo servers: TCP and UDP on 8080, UDP on 8081; each answers
# "<name>:<data>:<peer address>".
SERVER = r"""
import socket, sys, threading
name, ip = sys.argv[1], sys.argv[2]
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, 8080)); s.listen(16)
    while True:
        c, peer = s.accept()
        d = c.recv(100)
        c.sendall(("%s:%s:%s" % (name, d.decode(), peer[0])).encode()); c.close()
def udp(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((ip, port))
    while True:
        d, a = u.recvfrom(100); u.sendto(("%s:%s:%s" % (name, d.decode(), a[0])).encode(), a)
for p in (8080, 8081):
    threading.Thread(target=udp, args=(p,), daemon=True).start()
print("listening", flush=True)
tcp()
"""

FLOWS = """table=0,priority=1,actions=drop
table=0,priority=100,ip,actions=ct(table=1,nat)
table=1,priority=100,ip,in_port={a},nw_dst=10.79.0.2,ct_state=+trk+new,actions=ct(commit,nat(src=10.79.0.100)),output:{b}
table=1,priority=110,udp,in_port={a},nw_dst=10.79.0.2,tp_dst=8081,ct_state=+trk+new,actions=ct(commit,nat(src=10.79.0.100:40000)),output:{b}
table=1,priority=100,ip,in_port={a},nw_dst=10.79.0.200,ct_state=+trk+new,actions=ct(commit,table=2,nat(dst=10.79.0.2-10.79.0.3:8080))
table=1,priority=100,ip,in_port={a},ct_state=+trk+est+snat,actions=output:{b}
table=1,priority=110,ip,in_port={a},ct_state=+trk+est+dnat,actions=ct(commit,table=2,exec(set_field:0x5->ct_mark))
table=1,priority=100,ip,in_port={b},ct_state=+trk+est,actions=output:{a}
table=1,priority=100,ip,in_port={c},ct_state=+trk+est,actions=output:{a}
table=2,priority=100,ip,nw_dst=10.79.0.2,actions=mod_dl_dst:{mac_b},output:{b}
table=2,priority=100,ip,nw_dst=10.79.0.3,actions=mod_dl_dst:{mac_c},output:{c}
"""


def setup():
    for k in HOSTS:
        veth_in_netns(NS[k], HOST[k], "v" + k, MAC[k], IP[k] + "/24")
        run(["ip", "link", "set", "lo", "up"], ns=NS[k])
    # Static neighbours: everyone's packets go through the bridge.
    neigh = {"a": [(IP["b"], MAC["b"]), (VIP, MAC["b"])],
             "b": [(IP["a"], MAC["a"]), (NAT_IP, MAC["a"])],
             "c": [(IP["a"], MAC["a"])]}
    for k, entries in neigh.items():
        for ip, mac in entries:
            run(["ip", "neigh", "replace", ip, "lladdr", mac, "nud", "permanent", "dev", "v" + k], ns=NS[k])


def teardown():
    for k in HOSTS:
        run(["ip", "netns", "del", NS[k]], check_rc=False)
        run(["ip", "link", "del", HOST[k]], check_rc=False)


def text(ctl, *args):
    """dpsctl's answer as text."""
    r = run([DPSCTL, "--db=unix:" + ctl.sw.sock, "--timeout=10"] + list(args), check_rc=False)
    return (r.stdout + r.stderr).strip()


def client(proto, ip, port):
    r = run(["python3", "-c", CLIENT, proto, ip, str(port)], ns=NS["a"], check_rc=False)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def build(ctl, tmp, of):
    args = ["add-br", BR]
    for i, k in enumerate(HOSTS):
        args += ["--", "add-port", BR, HOST[k], "--", "set", "Interface", HOST[k], "type=dpdk",
                 "options:dpdk-devargs=net_af_packet%d,iface=%s" % (i, HOST[k])]
    ctl.vsctl(*args)
    run(["ip", "link", "set", BR, "down"], check_rc=False)
    ctl.vsctl("set-controller", BR, "ptcp:%d:127.0.0.1" % of)
    port = {k: ctl.vsctl("get", "Interface", HOST[k], "ofport").stdout.strip() for k in HOSTS}
    path = os.path.join(tmp, "flows.txt")
    with open(path, "w") as f:
        f.write(FLOWS.format(mac_b=MAC["b"], mac_c=MAC["c"], **port))
    target = "tcp:127.0.0.1:%d" % of
    for _ in range(50):
        if run(["ovs-ofctl", "-O", "OpenFlow13", "show", target], check_rc=False).returncode == 0:
            break
        time.sleep(0.2)
    r = run(["ovs-ofctl", "-O", "OpenFlow13", "add-flows", target, path], check_rc=False)
    check(r.returncode == 0, "ovs-ofctl -O OpenFlow13 add-flows loads the NAT pipeline", r.stderr)
    dump = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", target, "--no-stats"], check_rc=False).stdout
    for w in ("actions=ct(table=1,nat)",
              "actions=ct(commit,nat(src=10.79.0.100)),output:%s" % port["b"],
              "actions=ct(commit,table=2,nat(dst=10.79.0.2-10.79.0.3:8080))",
              "actions=ct(commit,nat(src=10.79.0.100:40000)),output:%s" % port["b"],
              "ct_state=+est+trk+dnat,ip,in_port=%s actions=ct(commit,table=2,exec(" % port["a"]):
        check(w in dump, "ovs-ofctl dump-flows prints '%s'" % w, dump)


def snat(ctl):
    for proto in ("tcp", "udp"):
        ok, out = client(proto, IP["b"], 8080)
        check(ok and out == "b:hi:" + NAT_IP, "%s A->B: B sees the NAT address %s" % (proto.upper(), NAT_IP), out)
    dump = text(ctl, "dpctl/dump-conntrack")
    check("tcp,orig=(src=%s,dst=%s," % (IP["a"], IP["b"]) in dump and
          "dport=8080),reply=(src=%s,dst=%s,sport=8080," % (IP["b"], NAT_IP) in dump,
          "dump-conntrack: the SNAT connection's reply tuple is addressed to the NAT address", dump)


def dnat(ctl):
    seen = set()
    for _ in range(16):
        ok, out = client("tcp", VIP, 80)
        check(ok and out.endswith(":hi:" + IP["a"]), "TCP A->VIP:80 answered by a backend that sees A", out)
        seen.add(out.split(":")[0])
    check(seen == {"b", "c"}, "both backends took connections (%s)" % sorted(seen))
    dump = text(ctl, "dpctl/dump-conntrack")
    check("dst=%s,sport=" % VIP in dump and "dport=80),reply=(src=%s,dst=%s,sport=8080," % (IP["c"], IP["a"]) in dump,
          "dump-conntrack: DNAT to VIP:80, replies from the backend's 8080", dump)
    # Established packets go through ct(commit,exec(ct_mark=5)) again in
    # the same zone, already translated: the tracker finds their connection
    # by its reply tuple (OVS's natted lookup) and marks it, instead of
    # committing a second connection to the backend's own address.
    lines = [l for l in dump.splitlines() if l.startswith("tcp,")]
    to_vip = [l for l in lines if "dst=%s," % VIP in l.split("reply=")[0]]
    # A connection committed for the translated tuple would be A -> backend
    # with A itself in its reply (the SNAT test's A -> B has the NAT address).
    def for_translated_tuple(line):
        orig, reply = line.split("reply=")
        return "dst=%s," % VIP not in orig and "dst=%s," % IP["a"] in reply
    extra = [l for l in lines if for_translated_tuple(l)]
    check(len(to_vip) == 16 and all("mark=5" in l for l in to_vip) and not extra,
          "a second ct(commit) in the zone marks the 16 DNAT connections and creates none "
          "(%d to the VIP, %d for a translated tuple)" % (len(to_vip), len(extra)), dump)


def exhaustion(ctl):
    ok, out = client("udp", IP["b"], 8081)
    check(ok and out == "b:hi:" + NAT_IP, "UDP A->B:8081 gets the single NAT tuple", out)
    check("dst=%s,sport=8081,dport=40000)" % NAT_IP in text(ctl, "dpctl/dump-conntrack"),
          "its reply tuple is 10.79.0.100:40000")
    ok, out = client("udp", IP["b"], 8081)
    check(not ok, "a second UDP flow while the first lives: no tuple left, dropped", out)
    stats = text(ctl, "dpctl/ct-stats-show")
    check("nat_exhausted: 1" in stats, "ct-stats-show counts it (nat_exhausted)", stats)
    out = ctl.dpsctl("dpctl/flush-conntrack", "zone=0", "ct_nw_src=%s,ct_nw_proto=17,ct_tp_dst=8081" % IP["a"])
    check(out == {"flushed": 1}, "flush-conntrack by tuple removes that connection only", out)
    ok, out = client("udp", IP["b"], 8081)
    check(ok and out == "b:hi:" + NAT_IP, "the tuple is free again: a new UDP flow gets it", out)


def nat(sw, tmp, servers):
    ctl = Ctl(sw, DPSCTL)
    build(ctl, tmp, free_port())
    for k in ("b", "c"):
        p = subprocess.Popen(["ip", "netns", "exec", NS[k], "python3", "-c", SERVER, k, IP[k]],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        servers.append(p)
        check(p.stdout.readline().strip() == "listening", "echo servers in %s" % k.upper())
    snat(ctl)
    dnat(ctl)
    exhaustion(ctl)


if __name__ == "__main__":
    sys.exit(switch_test(DPSWITCHD, "nat", teardown, setup, nat))
