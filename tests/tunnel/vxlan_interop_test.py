"""VXLAN overlay through dpswitchd against a Linux kernel vxlan device.

Topology (all made and removed by this script; names carry a per-run tag):

    ns VM: vm (10.9.0.1/24, mtu 1450)                ns REM: kernel vxlan vxk
        |  veth                                          (id 5000, 10.9.0.2/24)
    root: vmh --af_packet-- [br-int]  vx0 (type=vxlan,       |
                                    remote_ip=172.31.9.2,    u (172.31.9.2/24)
                                    key=5000)                |  veth
                       [br-phy] --af_packet-- uh ------------+
                        internal port br-phy (tap, 172.31.9.1/24: the local VTEP)

dpswitchd runs with its config store; ovs-vsctl builds both bridges (as an
OVS user would: the underlay bridge's internal port holds the endpoint
address), ovs-ofctl programs br-int in the key=flow part. Checked:
  - ping both ways VM <-> REM through the overlay (fixed key 5000);
  - TCP both ways (iperf3 when installed, else a Python socket transfer);
  - tshark decodes the underlay capture with no malformed packets and sees
    VXLAN VNI 5000 both ways;
  - the inner frames the kernel decapsulates are byte-identical to what VM sent;
  - dpsctl tnl/route-show, tnl/neigh-show, tnl/ports-show show the route,
    the learned neighbour and the port;
  - key=flow: with options:key=flow and OpenFlow rules that set_field
    tun_id before output and match tun_id on receive, ping works again.
Usage: vxlan_interop_test.py DPSWITCHD DPSCTL. Needs root.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import (Switch, check, free_port, run, run_scenario, start_capture, stop_capture,  # noqa: E402
                    tx_csum_off)

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TAG = "%x" % (os.getpid() & 0xffff)
NS_VM, NS_REM = "dpsvxvm" + TAG, "dpsvxre" + TAG
VMH, VM, UH, U = "dpsvh" + TAG, "dpsvm" + TAG, "dpsuh" + TAG, "dpsu" + TAG
VNI = 5000


def veth_into(ns, host_end, ns_end, addr, mtu=1500):
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end])
    run(["ip", "link", "set", ns_end, "netns", ns])
    run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % host_end], check_rc=False)
    run(["ip", "link", "set", host_end, "up"])
    for c in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", addr, "dev", ns_end],
              ["ip", "link", "set", ns_end, "mtu", str(mtu), "up"]):
        run(c, ns=ns)
    tx_csum_off(ns_end, ns=ns)
    tx_csum_off(host_end)


# noudpcsum: a veth leaves the kernel's outer UDP checksum to "offload"
# (CHECKSUM_PARTIAL: only the pseudo-header sum is in the field), and
# net_af_packet hands the frame over as it is; dpswitch verifies a non-zero
# UDP checksum (as OVS does) and would rightly drop it. A NIC computes it.
def setup_namespaces():
    veth_into(NS_VM, VMH, VM, "10.9.0.1/24", mtu=1450)
    veth_into(NS_REM, UH, U, "172.31.9.2/24")
    run(["ip", "link", "add", "vxk", "type", "vxlan", "id", str(VNI), "remote", "172.31.9.1",
         "local", "172.31.9.2", "dstport", "4789", "dev", U, "noudpcsum"], ns=NS_REM)
    run(["ip", "addr", "add", "10.9.0.2/24", "dev", "vxk"], ns=NS_REM)
    run(["ip", "link", "set", "vxk", "mtu", "1450", "up"], ns=NS_REM)


def teardown():
    for ns in (NS_VM, NS_REM):
        run(["ip", "netns", "del", ns], check_rc=False)
    for dev in (VMH, UH):
        run(["ip", "link", "del", dev], check_rc=False)


class Cfg:
    def __init__(self, sw):
        self.db = "unix:" + sw.sock
        self.sw = sw

    def vsctl(self, *args):
        return run(["ovs-vsctl", "--db=" + self.db, "--timeout=30"] + list(args))

    def dpsctl(self, *args):
        return run([DPSCTL, "--db=unix:" + self.sw.sock, "--timeout=10"] + list(args), check_rc=False)

    def ofctl(self, *args):
        return run(["ovs-ofctl", "-O", "OpenFlow13"] + list(args))


def build_overlay(cfg):
    cfg.vsctl("add-br", "br-phy", "--", "add-port", "br-phy", UH, "--", "set", "Interface", UH,
              "type=dpdk", "options:dpdk-devargs=net_af_packet0,iface=%s" % UH)
    run(["ip", "addr", "add", "172.31.9.1/24", "dev", "br-phy"])
    run(["ip", "link", "set", "br-phy", "up"])
    cfg.vsctl("add-br", "br-int", "--", "add-port", "br-int", VMH, "--", "set", "Interface", VMH,
              "type=dpdk", "options:dpdk-devargs=net_af_packet1,iface=%s" % VMH,
              "--", "add-port", "br-int", "vx0", "--", "set", "Interface", "vx0", "type=vxlan",
              "options:remote_ip=172.31.9.2", "options:key=%d" % VNI)
    err = cfg.vsctl("get", "Interface", "vx0", "error").stdout.strip()
    check(err in ("[]", ""), "vx0 configured without Interface.error", err)


def diagnose(cfg):
    """What the switch thinks, printed when a check through the overlay fails."""
    for cmd in (["dump-dp-flows"], ["pmd-stats-show"], ["tnl/neigh-show"], ["tnl/route-show"],
                ["tnl/ports-show"]):
        r = cfg.dpsctl(*cmd)
        print("--- dpsctl %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))


def ping(ns, dst, count=3):
    run(["ping", "-c", "1", "-W", "2", dst], check_rc=False, ns=ns)  # neighbour resolution
    r = run(["ping", "-c", str(count), "-W", "2", dst], check_rc=False, ns=ns, timeout=60)
    return r.returncode == 0, r.stdout + r.stderr


def tcp_transfer(server_ns, server_ip, client_ns, reverse=False):
    """Bits per second of a 3 s TCP transfer (iperf3), or None on failure."""
    if not shutil.which("iperf3"):
        return None
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        args = ["iperf3", "-c", server_ip, "-t", "3", "-J"] + (["-R"] if reverse else [])
        r = run(args, check_rc=False, ns=client_ns, timeout=60)
        if r.returncode != 0:
            return None
        import json
        return json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"]
    finally:
        srv.kill()
        srv.wait()


def tshark_fields(path, fields, filt):
    cmd = ["tshark", "-r", path, "-Y", filt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    return [ln.split("\t") for ln in run(cmd).stdout.splitlines() if ln]


def check_wire(tmp):
    """Underlay capture decodes cleanly; inner frames arrive byte-identical."""
    under, inner_sent, inner_got = (os.path.join(tmp, n) for n in ("u.pcap", "vm.pcap", "vxk.pcap"))
    # The underlay at the kernel's end (U): it sees both directions, while
    # net_af_packet's transmissions pass the packet taps of UH by.
    caps = [start_capture(U, under, NS_REM), start_capture(VM, inner_sent, NS_VM),
            start_capture("vxk", inner_got, NS_REM)]
    run(["ping", "-c", "3", "-i", "0.3", "-s", "200", "10.9.0.2"], check_rc=False, ns=NS_VM)
    for c in caps:
        stop_capture(c)
    bad = tshark_fields(under, ["frame.number"], "_ws.malformed || _ws.expert.severity >= error")
    vnis = {v[0] for v in tshark_fields(under, ["vxlan.vni"], "vxlan")}
    check(not bad, "tshark: underlay capture has no malformed packets", bad[:5])
    check(vnis == {str(VNI)}, "tshark: the underlay carries VXLAN VNI %d" % VNI, vnis)
    sent_frames = hexframes(inner_sent)
    got_frames = hexframes(inner_got)
    check(sent_frames and sent_frames <= got_frames,
          "the %d echo requests VM sent arrive byte-identical after decap" % len(sent_frames),
          "sent %d, got %d" % (len(sent_frames), len(got_frames)))


def hexframes(path):
    """Whole frames (hex) of the ICMP echo requests of 200 data bytes in a
    capture (tshark writes them to a classic pcap, read here)."""
    import struct
    out = path + ".echo.pcap"
    run(["tshark", "-r", path, "-Y", "icmp.type == 8 && ip.len == 228", "-F", "pcap", "-w", out])
    with open(out, "rb") as f:
        data = f.read()
    frames, off = set(), 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frames.add(data[off + 16:off + 16 + incl].hex())
        off += 16 + incl
    return frames


def check_tables(cfg):
    r = cfg.dpsctl("tnl/route-show")
    check("172.31.9.0/24" in r.stdout and "br-phy" in r.stdout,
          "tnl/route-show: the connected route of br-phy's address", r.stdout + r.stderr)
    r = cfg.dpsctl("tnl/neigh-show")
    check("172.31.9.2" in r.stdout, "tnl/neigh-show: the remote endpoint was learned",
          r.stdout + r.stderr)
    r = cfg.dpsctl("tnl/ports-show")
    check("vx0" in r.stdout and "4789" in r.stdout, "tnl/ports-show lists vx0 on 4789",
          r.stdout + r.stderr)


def key_flow(cfg):
    cfg.vsctl("set", "Interface", "vx0", "options:key=flow")
    rules = ["priority=10,in_port=%s,actions=set_field:%d->tun_id,output:vx0" % (VMH, VNI),
             "priority=10,in_port=vx0,tun_id=%d,actions=output:%s" % (VNI, VMH),
             "priority=0,actions=drop"]
    port = free_port()
    cfg.vsctl("set-controller", "br-int", "ptcp:%d:127.0.0.1" % port)
    target = "tcp:127.0.0.1:%d" % port
    time.sleep(0.5)
    cfg.ofctl("del-flows", target)
    for rule in rules:
        cfg.ofctl("add-flow", target, rule)
    ok, out = ping(NS_VM, "10.9.0.2")
    check(ok, "key=flow: ping through OpenFlow set_field tun_id / match tun_id", out)


def main():
    if os.geteuid() != 0:
        print("FAIL: needs root (namespaces, veths, af_packet)")
        return 1
    return run_scenario("dps-vxlan-", teardown, scenario)


def scenario(tmp, stops):
    setup_namespaces()
    sw = Switch(DPSWITCHD, db=True, name="dps-vxlan", tmp=tmp, args=["--mbufs", "16384"])
    stops.append(sw.stop_and_tail)
    sw.start(timeout=60)
    cfg = Cfg(sw)
    build_overlay(cfg)
    time.sleep(1)
    ok, out = ping(NS_VM, "10.9.0.2")
    check(ok, "VM pings the kernel vxlan host through dpswitchd (key %d)" % VNI, out)
    ok2, out = ping(NS_REM, "10.9.0.1")
    check(ok2, "the kernel vxlan host pings VM back", out)
    if not (ok and ok2):
        diagnose(cfg)
    for rev in (False, True):
        bps = tcp_transfer(NS_REM, "10.9.0.2", NS_VM, reverse=rev)
        check(bps is not None and bps > 1e6, "TCP %s through the overlay: %.1f Mbit/s"
              % ("REM->VM" if rev else "VM->REM", (bps or 0) / 1e6))
    check_wire(tmp)
    check_tables(cfg)
    key_flow(cfg)
    check(sw.alive(), "dpswitchd still running", sw.log_tail())

if __name__ == "__main__":
    sys.exit(main())
