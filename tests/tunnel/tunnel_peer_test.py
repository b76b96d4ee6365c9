"""Overlays between dpswitchd and a peer switch: OVS-DPDK's userspace tunnels
(Geneve, GRE, VXLAN: this kernel has no geneve or gretap module) or a second
dpswitchd. Both ends are configured with ovs-vsctl alone, the way an OVS
user builds a host:

   ns VMA: vma 10.8.0.1 ---veth--- va  [A: br-int]  t0 (type, remote 172.31.8.2)
                                        [A: br-phy]  ua ---veth--- ub  [B: br-phy]
                                 internal br-phy 172.31.8.1          br-phy 172.31.8.2
   ns VMB: vmb 10.8.0.2 ---veth--- vb  [B: br-int]  t0 (type, remote 172.31.8.1)

Each switch runs in its own network namespace (both name their internal
port br-phy). For every tunnel type, over an IPv4 and an IPv6 underlay:
ping both ways and a TCP transfer through the overlay; tshark decodes the
underlay with no malformed packets and sees the expected encapsulation and
key. Then Geneve options: both ends map one through the TLV table
(add-tlv-map), set it with set_field:...->tun_metadata0 and forward only
what carries the other end's value; the option is checked on the wire. Usage: tunnel_peer_test.py DPSWITCHD DPSCTL [ovs|dpswitch]. Needs root;
the ovs peer needs openvswitch-switch-dpdk (scripts/bootstrap.sh).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, run_scenario, start_capture, stop_capture, tx_csum_off  # noqa: E402
from ovs_peer import OVS_VSWITCHD, OvsDpdk  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
PEER = sys.argv[3] if len(sys.argv) > 3 else "ovs"
# "quick" (make test): one case of each tunnel type, one of them over IPv6;
# make interop runs all six.
QUICK = sys.argv[4:5] == ["quick"]
TAG = "%x" % (os.getpid() & 0xffff)
NS = {k: "dpst%s%s" % (k, TAG) for k in ("A", "B", "VMA", "VMB")}
UNDERLAY = {"A": ("172.31.8.1", "fd31:8::1"), "B": ("172.31.8.2", "fd31:8::2")}
# (type, key, IPv6 underlay, tshark protocol, tshark key field)
CASES = [("geneve", "77", False, "geneve", "geneve.vni"),
         ("gre", "78", False, "gre", "gre.key"),
         ("vxlan", "79", False, "vxlan", "vxlan.vni"),
         ("vxlan", "80", True, "vxlan", "vxlan.vni"),
         ("geneve", "81", True, "geneve", "geneve.vni"),
         ("gre", "82", True, "gre", "gre.key")]
QUICK_CASES = (0, 2, 5)
# Geneve options through the TLV table: both ends map class 0xffff type 0
# to tun_metadata0; each tags what it sends with its own value and forwards
# from the tunnel only what carries the other end's.
TLV_MAP = "{class=0xffff,type=0,len=4}->tun_metadata0"
METADATA = {"A": "0xa1a2a3a4", "B": "0xb1b2b3b4"}


def run(cmd, ns=None, check_rc=True, timeout=60, env=None):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + list(cmd)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def veth(a, a_ns, b, b_ns):
    run(["ip", "link", "add", a, "netns", a_ns, "type", "veth", "peer", "name", b, "netns", b_ns])
    for dev, ns in ((a, a_ns), (b, b_ns)):
        run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev], ns=ns, check_rc=False)
        run(["ip", "link", "set", dev, "up"], ns=ns)
        tx_csum_off(dev, ns=ns)


def topology():
    for ns in NS.values():
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "set", "lo", "up"], ns=ns)
    veth("ua", NS["A"], "ub", NS["B"])
    veth("va", NS["A"], "vma", NS["VMA"])
    veth("vb", NS["B"], "vmb", NS["VMB"])
    for vm, ip in (("VMA", "10.8.0.1"), ("VMB", "10.8.0.2")):
        run(["ip", "addr", "add", ip + "/24", "dev", "vm" + vm[-1].lower()], ns=NS[vm])
        run(["ip", "link", "set", "vm" + vm[-1].lower(), "mtu", "1400"], ns=NS[vm])


def teardown():
    for ns in NS.values():
        run(["ip", "netns", "del", ns], check_rc=False)


class DpsEnd:
    """dpswitchd in namespace ns, configured through its store with ovs-vsctl."""

    def __init__(self, side, tmp):
        self.side, self.ns = side, NS[side]
        os.makedirs(tmp, exist_ok=True)
        self.sw = Switch(DPSWITCHD, db=True, name="dpst" + side, tmp=tmp, netns=self.ns,
                         args=["--mbufs", "16384"])
        self.sw.start(timeout=60)

    def vsctl(self, *args):
        return run(["ovs-vsctl", "--db=unix:" + self.sw.sock, "--timeout=30"] + list(args)).stdout

    def ofctl(self, cmd, *args):
        """ovs-ofctl against br-int, through a passive controller target on
        the namespace's loopback."""
        if not getattr(self, "of_ready", False):
            self.vsctl("set-controller", "br-int", "ptcp:6653:127.0.0.1")
            time.sleep(0.5)
            self.of_ready = True
        return run(["ovs-ofctl", "-O", "OpenFlow13", cmd, "tcp:127.0.0.1:6653"] + list(args), ns=self.ns).stdout

    def stop(self):
        return self.sw.stop_and_tail()


class OvsEnd(OvsDpdk):
    """OVS-DPDK (userspace datapath, 512 MB of hugepages) in namespace NS[side]."""

    def __init__(self, side, tmp):
        self.side = side
        super().__init__(NS[side], tmp, "ovst" + TAG)

    def ofctl(self, cmd, *args):
        return OvsDpdk.ofctl(self, cmd, "br-int", *args)


def bridges(end):
    s, ns = end.side, end.ns
    u, v = ("ua", "va") if s == "A" else ("ub", "vb")
    end.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
              "--", "add-port", "br-phy", u, "--", "set", "Interface", u, "type=dpdk",
              "options:dpdk-devargs=net_af_packet0,iface=%s" % u)
    end.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
              "--", "add-port", "br-int", v, "--", "set", "Interface", v, "type=dpdk",
              "options:dpdk-devargs=net_af_packet1,iface=%s" % v)
    v4, addr6 = UNDERLAY[s]
    run(["ip", "addr", "add", v4 + "/24", "dev", "br-phy"], ns=ns)
    run(["ip", "addr", "add", addr6 + "/64", "dev", "br-phy", "nodad"], ns=ns)
    run(["ip", "link", "set", "br-phy", "up"], ns=ns)


def tunnel(end, kind, key, v6):
    other = "B" if end.side == "A" else "A"
    remote = UNDERLAY[other][1 if v6 else 0]
    args = ["--", "--if-exists", "del-port", "br-int", "t0",
            "--", "add-port", "br-int", "t0", "--", "set", "Interface", "t0", "type=" + kind,
            "options:remote_ip=" + remote, "options:key=" + key]
    end.vsctl(*args)
    err = end.vsctl("get", "Interface", "t0", "error").strip()
    check(err in ("[]", ""), "%s: %s t0 configured" % (end.side, kind), err)


def ping(src, dst):
    run(["ping", "-c", "2", "-W", "1", dst], ns=NS[src], check_rc=False)  # resolve neighbours
    r = run(["ping", "-c", "3", "-W", "2", dst], ns=NS[src], check_rc=False)
    return r.returncode == 0, r.stdout[-300:] + r.stderr


def tcp(server, server_ip, client, reverse=False):
    srv = subprocess.Popen(["ip", "netns", "exec", NS[server], "iperf3", "-s", "-1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        r = run(["iperf3", "-c", server_ip, "-t", "2", "-J"] + (["-R"] if reverse else []),
                ns=NS[client], check_rc=False)
        return json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"] if r.returncode == 0 else 0
    except (ValueError, KeyError):
        return 0
    finally:
        srv.kill()
        srv.wait()


def capture(tmp, name):
    """Captures both ends of the underlay veth while VMA pings VMB; returns
    a reader (tshark field, display filter) -> the values in the captures.
    Each end sees only what it receives: net_af_packet transmits past the
    kernel's packet taps (qdisc bypass), so what A sends is captured at B."""
    base = os.path.join(tmp, name.replace(" ", "_"))
    caps = [start_capture(dev, "%s.%s.pcap" % (base, dev), NS[side]) for side, dev in (("A", "ua"), ("B", "ub"))]
    run(["ping", "-c", "3", "-i", "0.3", "10.8.0.2"], ns=NS["VMA"], check_rc=False)
    for c in caps:
        stop_capture(c)
    return lambda f, flt: [v for dev in ("ua", "ub") for v in run(
        ["tshark", "-r", "%s.%s.pcap" % (base, dev), "-Y", flt, "-T", "fields", "-e", f]).stdout.split()]


def wire(tmp, name, proto, keyfield, key):
    fields = capture(tmp, name)
    bad = fields("frame.number", "_ws.malformed || _ws.expert.severity >= error")
    keys = {str(int(k, 0)) for k in fields(keyfield, proto + " && icmp")}  # tshark: VXLAN decimal, Geneve/GRE hex
    check(not bad, "%s: tshark finds no malformed underlay packets" % name, bad[:5])
    check(keys == {key}, "%s: the underlay carries %s with key %s" % (name, proto, key), keys)
    n = len(fields("frame.number", proto + " && icmp"))
    check(n >= 6, "%s: both directions captured (%d ICMP frames in the tunnel)" % (name, n))


def metadata_flows(end, other, expect):
    vm = "va" if end.side == "A" else "vb"
    end.ofctl("del-flows")
    for rule in ["priority=10,in_port=%s,actions=set_field:%s->tun_metadata0,output:t0" % (vm, METADATA[end.side]),
                 "priority=10,in_port=t0,tun_metadata0=%s,actions=output:%s" % (expect, vm),
                 "priority=0,actions=drop"]:
        end.ofctl("add-flow", rule)


def geneve_metadata(tmp, a, b):
    """Geneve option metadata end to end: set_field on one end, a match on
    the other, the option on the wire; a wrong value stops the traffic."""
    for e in (a, b):
        tunnel(e, "geneve", "77", False)
        e.ofctl("add-tlv-map", TLV_MAP)
    for e, other in ((a, b), (b, a)):
        metadata_flows(e, other, METADATA[other.side])
    time.sleep(0.5)
    ok, out = ping("VMA", "10.8.0.2")
    check(ok, "geneve tun_metadata0: ping through set_field and match on both ends", out)
    fields = capture(tmp, "geneve metadata")
    data = {d.replace(":", "") for d in fields("geneve.option.unknown.data", "geneve && icmp")}
    classes = set(fields("geneve.option.class", "geneve && icmp"))
    check(data == {"a1a2a3a4", "b1b2b3b4"} and classes == {"0xffff"},
          "geneve tun_metadata0: the underlay carries each end's option (class 0xffff)", (data, classes))
    metadata_flows(a, b, "0x1")
    ok, out = ping("VMA", "10.8.0.2")
    check(not ok, "geneve tun_metadata0: a match on another value stops the traffic", out)
    for e in (a, b):
        e.ofctl("del-flows")
        e.ofctl("add-flow", "priority=0,actions=NORMAL")


def main():
    if os.geteuid() != 0:
        print("FAIL: needs root")
        return 1
    if PEER == "ovs" and not os.path.exists(OVS_VSWITCHD):
        print("FAIL: %s missing (apt-get install openvswitch-switch-dpdk)" % OVS_VSWITCHD)
        return 1
    return run_scenario("dps-tpeer-", teardown, scenario)


def scenario(tmp, stops):
    topology()
    a = DpsEnd("A", os.path.join(tmp, "A"))
    stops.append(a.stop)
    os.makedirs(os.path.join(tmp, "B"), exist_ok=True)
    b = (OvsEnd if PEER == "ovs" else DpsEnd)("B", os.path.join(tmp, "B"))
    stops.append(b.stop)
    for e in (a, b):
        bridges(e)
    time.sleep(1)
    for kind, key, v6, proto, keyfield in (
            [CASES[i] for i in QUICK_CASES] if QUICK else CASES):
        name = kind + (" over IPv6" if v6 else "")
        for e in (a, b):
            tunnel(e, kind, key, v6)
        time.sleep(0.5)
        ok, out = ping("VMA", "10.8.0.2")
        check(ok, "%s: dpswitch side pings the %s side" % (name, PEER), out)
        ok, out = ping("VMB", "10.8.0.1")
        check(ok, "%s: the %s side pings back" % (name, PEER), out)
        for rev in (False, True):
            bps = tcp("VMB", "10.8.0.2", "VMA", reverse=rev)
            check(bps > 1e6, "%s: TCP %s through the overlay, %.1f Mbit/s"
                  % (name, "%s -> dpswitch" % PEER if rev else "dpswitch -> " + PEER, bps / 1e6))
        wire(tmp, name, proto, keyfield, key)
    geneve_metadata(tmp, a, b)

if __name__ == "__main__":
    sys.exit(main())
