#!/usr/bin/env python3
"""VXLAN decap / encap throughput: OVS-DPDK, dpswitch and the testpmd io limit.

Side by side in one session on the same vdevs and inputs, with the
../shared/perf harness (ovs_bench.py: run_throughput, the testpmd limit,
core accounting) and both switches configured the way their users do:

    br0 (underlay): p1 = the "NIC" vdev, internal port br0 = the local VTEP
                    172.31.1.1/24 (MAC 02:00:00:00:aa:01), neighbour
                    172.31.1.2 = 02:00:00:00:aa:02 set by tnl/arp/set
                    (OVS) / tnl/neigh-set (dpswitch)
    br-int:         p2 = the "VM" vdev, vx0 = vxlan remote_ip=172.31.1.2 key=5000
    rules:          br0 in_port=1 -> LOCAL, in_port=LOCAL -> 1
                    br-int in_port=p2 -> vx0, in_port=vx0 -> p2

Workloads (64-byte inner frames, --flows distinct inner UDP 5-tuples, outer
UDP source port from the inner 5-tuple as a VTEP would pick it):
    tnl-decap: p1 replays VXLAN frames (114 B on the wire), p2 is the sink
    tnl-encap: p2 replays the inner frames, p1 is the sink

Usage: scripts/perf-tunnel.py [--runs N] [--flows N] [--out DIR] [workload...]
(root, hugepages, ../shared/perf; PERF_WORK=DIR reuses a writable copy of it).
The switch under test is dpswitchd built in ./build.
"""
import json
import os
import struct
import sys
import time
import zlib

from perf_harness import ROOT, WORK, ob, report, run_sides, side_by_side, side_by_side_args, throughput_sides, vsctl_of
import mkpcap  # noqa: E402  (perf_harness puts the harness on sys.path)

VTEP_MAC, REMOTE_MAC = "02:00:00:00:aa:01", "02:00:00:00:aa:02"
VTEP_IP, REMOTE_IP = "172.31.1.1", "172.31.1.2"
VNI = 5000
BR_INT_OF_PORT = ob.DEFAULT_OF_PORT + 1


def vxlan_frame(inner, sport):
    """Ethernet/IPv4/UDP/VXLAN around `inner` (no FCS), as a remote VTEP sends it."""
    udp_len = 8 + 8 + len(inner)
    ip_len = 20 + udp_len
    iph = struct.pack("!BBHHHBBHII", 0x45, 0, ip_len, 0, 0x4000, 64, 17, 0,
                      mkpcap.ip_int(REMOTE_IP), mkpcap.ip_int(VTEP_IP))
    iph = iph[:10] + struct.pack("!H", mkpcap._csum(iph)) + iph[12:]
    return (mkpcap.mac_bytes(VTEP_MAC) + mkpcap.mac_bytes(REMOTE_MAC) + b"\x08\x00" + iph +
            struct.pack("!HHHH", sport, 4789, udp_len, 0) +
            struct.pack("!II", 0x08000000, VNI << 8) + inner)


def inner_frames(n):
    for i in range(n):
        src = mkpcap.ip_int("10.0.0.0") + i
        dst = mkpcap.ip_int("10.128.0.0") + (i * 7919) % 65536
        yield mkpcap.udp_frame("02:00:00:00:02:02", "02:00:00:00:01:01", src, dst,
                               1024 + i % 50000, 5000 + i % 1000)


def write_workload(name, flows):
    d = os.path.join(WORK, "workloads", name)
    os.makedirs(d, exist_ok=True)
    w = mkpcap.PcapWriter(os.path.join(d, "in.pcap"))
    for f in inner_frames(flows):
        if name == "tnl-decap":
            f = vxlan_frame(f, 32768 + zlib.crc32(f[26:38]) % 28232)
        w.write(f)
    w.close()
    decap = name == "tnl-decap"
    # The sink bridge's rules (the harness loads them on the bridge it reads).
    rules = "in_port=3,actions=output:2\nin_port=2,actions=output:3\n" if decap else \
            "in_port=1,actions=LOCAL\nin_port=LOCAL,actions=output:1\n"
    with open(os.path.join(d, "rules.flows"), "w") as f:
        f.write(rules)
    src, sink = ({"role": "source", "pcap": "in.pcap", "packets": flows}, {"role": "sink"})
    ports = [dict(src, ofport=1), dict(sink, ofport=2)] if decap else \
            [dict(sink, ofport=1), dict(src, ofport=2)]
    m = {"name": name, "kind": "throughput", "frame_size": 114 if decap else 64,
         "rules": "rules.flows", "ports": ports, "n_rules": 2, "flows": flows,
         "description": "VXLAN %s, %d inner flows" % ("decap" if decap else "encap", flows)}
    with open(os.path.join(d, "workload.json"), "w") as f:
        json.dump(m, f, indent=1)
    return ob.Workload(d, autogen=False)


class Overlay:
    """Turns the harness's one-bridge setup (br0: p1, p2) into br0 + br-int."""

    def build(self, wl, vsctl, ns, neigh_set, br_int_listener):
        names = {int(vsctl("get", "Interface", n, "ofport").strip()): n
                 for n in vsctl("list-ports", "br0").split()}
        p2 = names[2]
        devargs = vsctl("get", "Interface", p2, "options:dpdk-devargs").strip()
        vsctl("set", "bridge", "br0", "other-config:hwaddr=\"%s\"" % VTEP_MAC)
        vsctl("del-port", "br0", p2)
        vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
              "fail-mode=secure", "protocols=OpenFlow13",
              "--", "set-controller", "br-int", br_int_listener,
              "--", "add-port", "br-int", p2, "--", "set", "Interface", p2, "type=dpdk",
              "options:dpdk-devargs=%s" % devargs, "ofport_request=2",
              "--", "add-port", "br-int", "vx0", "--", "set", "Interface", "vx0",
              "type=vxlan", "options:remote_ip=%s" % REMOTE_IP, "options:key=%d" % VNI,
              "ofport_request=3")
        ob.run(["ip", "-n", ns, "addr", "add", VTEP_IP + "/24", "dev", "br0"])
        ob.run(["ip", "-n", ns, "link", "set", "br0", "up"])
        time.sleep(1)
        neigh_set("br0", REMOTE_IP, REMOTE_MAC)
        br_int = ob.OpenFlow("tcp:127.0.0.1:%d" % BR_INT_OF_PORT, ns=ns)
        br_int.wait_ready(60)
        br0 = self.of
        for of, rules in ((br0, ["in_port=1,actions=LOCAL", "in_port=LOCAL,actions=output:1"]),
                          (br_int, ["in_port=2,actions=output:3", "in_port=3,actions=output:2"])):
            of.ofctl("del-flows")
            for r in rules:
                of.ofctl("add-flow", r)
        if wl.name == "tnl-decap":
            self.of = br_int  # the harness reads the sink's bridge


class OvsTunnel(Overlay, ob.OvsDpdkBackend):
    name = "ovs-dpdk"

    def start(self, wl):
        super().start(wl)
        self.build(wl, vsctl_of(self), self.ns.name,
                   lambda br, ip, mac: self.appctl("tnl/arp/set", br, ip, mac),
                   "ptcp:%d:127.0.0.1" % BR_INT_OF_PORT)


class DpsTunnel(Overlay, ob.CommandBackend):
    def start(self, wl):
        super().start(wl)
        db = "--db=unix:%s/ctl" % self.dir
        dpsctl = os.path.join(ROOT, "build", "src", "cli", "dpsctl")
        self.build(wl, vsctl_of(self), self.ns.name,
                   lambda br, ip, mac: ob.run([dpsctl, db, "tnl/neigh-set", br, ip, mac]),
                   "ptcp:%d:127.0.0.1" % BR_INT_OF_PORT)


def main():
    ap = side_by_side_args(__doc__, "out/tunnel", ["tnl-decap", "tnl-encap"])
    ap.add_argument("--flows", type=int, default=10000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    def sides_of(name, hp):
        return throughput_sides(hp, write_workload(name, a.flows), a, OvsTunnel, DpsTunnel)
    res = run_sides(a, a.workloads, sides_of)
    report(a, "tunnel", side_by_side(res, a.workloads), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
