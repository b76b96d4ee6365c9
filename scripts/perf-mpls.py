#!/usr/bin/env python3
"""MPLS push / swap / pop and PBB push / pop throughput: OVS-DPDK, dpswitch and
the testpmd io limit, side by side in one session on the same vdevs and
inputs (issue #18).

The ../shared/perf harness starts each switch as it starts it for the shared
workloads (p1 = the source replaying the pcap, p2 = the sink); the rules are
the ones an LER / LSR controller would write, in OpenFlow 1.3 as ovs-ofctl
takes them, identical for both switches:

    mpls-push: IPv4/UDP in  -> push_mpls:0x8847, set_field:<label>->mpls_label, output:2
    mpls-swap: MPLS in      -> set_field:<label'>->mpls_label, dec_mpls_ttl, output:2
    mpls-pop:  MPLS in      -> pop_mpls:0x0800, output:2
    pbb-push:  IPv4/UDP in  -> push_pbb:0x88e7, set_field:<isid>->pbb_isid,
                               set_field:<B-DA>->eth_dst, set_field:<B-SA>->eth_src, output:2
    pbb-pop:   PBB in       -> pop_pbb, output:2   (match eth_type=0x88e7,pbb_isid=<isid>)

OVS-DPDK has no PBB (Open vSwitch 3.1's ovs-ofctl knows neither push_pbb /
pop_pbb nor pbb_isid), so the PBB workloads run dpswitch and the limit only;
their OVS column reads n/a. For the same reason dpswitch takes and dumps
their rules through dpsctl (its own syntax, ovs-ofctl's style); port
statistics are read with ovs-ofctl as for every workload.

--flows distinct UDP 5-tuples (64-byte IPv4 frames; the MPLS inputs carry
one label, bottom of stack, TTL 64, so 68 bytes; the PBB ones the 64-byte
frame behind B-DA, B-SA, 0x88e7 and an I-TAG, 82 bytes), spread over
--labels labels (I-SIDs for PBB) with one rule per label (the pushes: per
UDP destination port), plus the table-miss drop: a packet no rule names
would show up as missing.

Usage: scripts/perf-mpls.py [--runs N] [--flows N] [--labels N] [--out DIR] [workload...]
(root, hugepages, ../shared/perf; PERF_WORK=DIR reuses a writable copy of it).
"""
import json
import os
import struct
import sys

from perf_harness import ROOT, WORK, ob, report, run_sides, side_by_side, side_by_side_args, throughput_sides
import mkpcap  # noqa: E402  (perf_harness puts the harness on sys.path)

WORKLOADS = ("mpls-push", "mpls-swap", "mpls-pop", "pbb-push", "pbb-pop")
PUSHES = ("mpls-push", "pbb-push")
NO_OVS = ("pbb-push", "pbb-pop")  # OVS-DPDK has no PBB
FIRST_LABEL = 1000
B_DA, B_SA = "02:00:00:00:bb:01", "02:00:00:00:bb:02"


def pbb_frame(isid, customer):
    """customer behind B-DA, B-SA, ethertype 0x88e7 and an I-TAG (I-SID isid)."""
    return (mkpcap.mac_bytes(B_DA) + mkpcap.mac_bytes(B_SA) + struct.pack("!HI", 0x88E7, isid & 0xFFFFFF)
            + customer)


def frames(name, flows, labels):
    """The pcap's frames: (label, frame) per flow."""
    for i in range(flows):
        f = mkpcap.udp_frame("02:00:00:00:02:02", "02:00:00:00:01:01",
                             mkpcap.ip_int("10.0.0.0") + i,
                             mkpcap.ip_int("10.128.0.0") + (i * 7919) % 65536,
                             1024 + i % 50000, 5000 + i % (labels if labels > 1 else 1000))
        label = FIRST_LABEL + i % labels
        if name == "pbb-pop":
            f = pbb_frame(label, f)
        elif name not in PUSHES:  # label | TC 0 | BOS | TTL 64
            f = f[:12] + b"\x88\x47" + struct.pack("!I", label << 12 | 1 << 8 | 64) + f[14:]
        yield f


def rules(name, labels):
    out = []
    for k in range(labels):
        label = FIRST_LABEL + k
        if name in PUSHES:
            m = "udp,in_port=1,tp_dst=%d" % (5000 + k) if labels > 1 else "ip,in_port=1"
            a = ("push_mpls:0x8847,set_field:%d->mpls_label,output:2" % label if name == "mpls-push" else
                 "push_pbb:0x88e7,set_field:%d->pbb_isid,set_field:%s->eth_dst,set_field:%s->eth_src,output:2"
                 % (label, B_DA, B_SA))
        elif name == "pbb-pop":
            m, a = "in_port=1,eth_type=0x88e7,pbb_isid=%d" % label, "pop_pbb,output:2"
        else:
            m = "mpls,in_port=1,mpls_label=%d,mpls_bos=1" % label
            a = ("set_field:%d->mpls_label,dec_mpls_ttl,output:2" % (label + 100000)
                 if name == "mpls-swap" else "pop_mpls:0x0800,output:2")
        out.append("priority=10,%s,actions=%s" % (m, a))
    return out + ["priority=0,actions=drop"]


class DpsctlRules(ob.OpenFlow):
    """ovs-ofctl for everything but the rules, which go in and come back out
    through dpsctl (ovs-ofctl refuses PBB actions and fields)."""

    def __init__(self, of, ctl):
        super().__init__(of.target, of.ns, of.version)
        self.dpsctl = [os.path.join(ROOT, "build", "src", "cli", "dpsctl"), "--db=unix:" + ctl, "--timeout=60"]

    BRIDGE = "br0"  # the harness's dpswitchd: its one bridge

    def ofctl(self, *args, timeout=300, check=True):
        if args[0] == "add-flows":
            with open(args[1]) as f:
                return ob.run(self.dpsctl + ["add-flow", self.BRIDGE, f.read()], timeout=timeout, check=check)
        if args[0] == "dump-flows":
            return ob.run(self.dpsctl + ["dump-flows", self.BRIDGE], timeout=timeout, check=check)
        return super().ofctl(*args, timeout=timeout, check=check)


class DpsPbb(ob.CommandBackend):
    """dpswitchd with DpsctlRules as its OpenFlow side."""

    def start(self, wl):
        super().start(wl)
        self.of = DpsctlRules(self.of, os.path.join(self.dir, "ctl"))


def write_workload(name, flows, labels):
    d = os.path.join(WORK, "workloads", "%s-%d" % (name, labels))
    os.makedirs(d, exist_ok=True)
    w = mkpcap.PcapWriter(os.path.join(d, "in.pcap"))
    for f in frames(name, flows, labels):
        w.write(f)
    w.close()
    with open(os.path.join(d, "rules.flows"), "w") as f:
        f.write("\n".join(rules(name, labels)) + "\n")
    size = {"mpls-push": 64, "pbb-push": 64, "pbb-pop": 82}.get(name, 68)
    m = {"name": name, "kind": "throughput", "frame_size": size,
         "rules": "rules.flows", "n_rules": labels + 1, "flows": flows,
         "ports": [{"ofport": 1, "role": "source", "pcap": "in.pcap", "packets": flows},
                   {"ofport": 2, "role": "sink"}],
         "description": "%s, %d flows over %d labels" % (name, flows, labels)}
    with open(os.path.join(d, "workload.json"), "w") as f:
        json.dump(m, f, indent=1)
    return ob.Workload(d, autogen=False)


def main():
    ap = side_by_side_args(__doc__, "out/mpls", WORKLOADS)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--labels", type=int, default=1, help="labels (and rules) the flows spread over")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    def sides_of(name, hp):
        if name not in NO_OVS:
            return throughput_sides(hp, write_workload(name, a.flows, a.labels), a)
        sides = throughput_sides(hp, write_workload(name, a.flows, a.labels), a, dps=DpsPbb)
        del sides["ovs"]
        return sides
    res = run_sides(a, a.workloads, sides_of)
    report(a, "mpls", side_by_side(res, a.workloads), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
