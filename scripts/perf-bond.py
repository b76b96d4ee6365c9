#!/usr/bin/env python3
"""A bonded uplink: OVS-DPDK and dpswitch side by side in one session on the
same vdevs and inputs (issue #14), with the testpmd io limit of the
unbonded setup for scale.

The ../shared/perf harness starts each switch as for the shared workloads
(p1 = the source replaying the pcap, one PMD on core 1, OVS-DPDK in its own
network namespace); the sink p2 is then replaced by a bond of two net_null
members, configured with ovs-vsctl as OVS users write it:

    ovs-vsctl del-port br0 p2 -- add-bond br0 bond0 m1 m2 bond_mode=balance-slb
        -- set Interface m1 type=dpdk options:dpdk-devargs=net_null8,no-rx=1
        -- set Interface m2 type=dpdk options:dpdk-devargs=net_null9,no-rx=1

(no LACP partner exists on a vdev, so balance-tcp, which needs LACP, is out;
balance-slb hashes the source MAC and VLAN). Rule: `actions=NORMAL`. The
traffic: --flows UDP 5-tuples from --macs source MACs, to a destination
nobody announces, so NORMAL floods it, which on this bridge is the bond:
each packet leaves on the member its source MAC hashes to. Rate: what
leaves the bond (dpswitch: the bond's OpenFlow port, its members' sum; OVS:
its two member ports). The split between members: dpswitch's bond/show (in all), OVS's member
ports (over the window).

Usage: scripts/perf-bond.py [--runs N] [--flows N] [--macs N] [--only ovs,dps,limit] [--out DIR]
(root, hugepages, ../shared/perf; PERF_WORK=DIR reuses a writable copy of it).
"""
import json
import os
import sys

from perf_harness import ROOT, WORK, dps_backend, ob, report, run_sides, side_by_side, side_by_side_args, vsctl_of
import mkpcap  # noqa: E402  (perf_harness puts the harness on sys.path)

MEMBERS = (("m1", "net_null8,no-rx=1"), ("m2", "net_null9,no-rx=1"))


def write_workload(flows, macs):
    d = os.path.join(WORK, "workloads", "bond-slb-%d-%d" % (flows, macs))
    os.makedirs(d, exist_ok=True)
    w = mkpcap.PcapWriter(os.path.join(d, "in.pcap"))
    for i in range(flows):
        src_mac = "02:00:00:01:%02x:%02x" % ((i % macs) >> 8, (i % macs) & 0xff)
        w.write(mkpcap.udp_frame("02:00:00:00:02:02", src_mac, mkpcap.ip_int("10.0.0.0") + i,
                                 mkpcap.ip_int("10.128.0.0") + (i * 7919) % 65536,
                                 1024 + i % 50000, 5000 + i % 1000))
    w.close()
    with open(os.path.join(d, "rules.flows"), "w") as f:
        f.write("priority=0,actions=NORMAL\n")
    m = {"name": "bond-slb", "kind": "throughput", "frame_size": 64, "rules": "rules.flows",
         "n_rules": 1, "flows": flows,
         "ports": [{"ofport": 1, "role": "source", "pcap": "in.pcap", "packets": flows},
                   {"ofport": 2, "role": "sink"}],
         "description": "NORMAL flooding to a 2-member balance-slb bond, %d flows, %d MACs" % (flows, macs)}
    with open(os.path.join(d, "workload.json"), "w") as f:
        json.dump(m, f, indent=1)
    return ob.Workload(d, autogen=False)


class Bonded:
    """Replaces the sink p2 by bond0 (m1, m2) after the harness's start."""

    def start(self, wl):
        super().start(wl)
        vsctl = vsctl_of(self)
        sink = [n for n in vsctl("list-ports", "br0").split()
                if vsctl("get", "Interface", n, "ofport").strip() == "2"]
        args = ["del-port", "br0", sink[0], "--", "add-bond", "br0", "bond0", "m1", "m2",
                "bond_mode=balance-slb"]
        for i, (name, devargs) in enumerate(MEMBERS):
            args += ["--", "set", "Interface", name, "type=dpdk", "options:dpdk-devargs=" + devargs,
                     "ofport_request=%d" % (i + 2)]
        vsctl(*args)
        ob.time.sleep(2)  # the members' carrier (bond carrier poll) before the warm-up
        ob.log("%s bond/show:\n%s" % (self.name, self.bond_show()))

    def read_stats(self):
        """The harness's last call before it stops the switch."""
        self.last_show = self.bond_show()
        return super().read_stats()


class OvsBond(Bonded, ob.OvsDpdkBackend):
    name = "ovs-dpdk"

    def bond_show(self):
        return self.appctl("bond/show", "bond0")


class DpsBond(Bonded, ob.CommandBackend):
    def bond_show(self):
        return ob.run([os.path.join(ROOT, "build", "src", "cli", "dpsctl"), "--db=unix:%s/ctl" % self.dir,
                       "bond/show", "bond0"])


def member_tx(show):
    """{member: tx packets} from bond/show (both switches print OVS's layout;
    dpswitch's bond is one OpenFlow port, OVS's members are one each)."""
    out, cur = {}, None
    for line in show.splitlines():
        if line.startswith("member "):
            cur = line.split()[1].rstrip(":")
        elif cur and "tx " in line and "packets" in line:
            out[cur] = int(line.split("tx ")[1].split()[0])
    return out


def measure(backend, wl, a):
    r = ob.run_throughput(backend, wl, a.warmup, a.duration)
    r["member_tx"] = member_tx(backend.last_show) or {  # OVS: the member ports' own counters
        name: r["port_delta"].get(i + 2, {}).get("tx_packets") or 0 for i, (name, _) in enumerate(MEMBERS)}
    ob.log("%s: members sent %s packets" % (backend.name, r["member_tx"]))
    return r


def main():
    ap = side_by_side_args(__doc__, "out/bond")
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--macs", type=int, default=256)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    def sides_of(_, hp):
        wl = write_workload(a.flows, a.macs)
        return {"ovs": lambda: measure(OvsBond(hp), wl, a),
                "dps": lambda: measure(dps_backend(DpsBond, hp), wl, a),
                "limit": lambda: ob.TestpmdLimit(hp).run(wl, a.warmup, a.duration)}
    res = run_sides(a, ["bond-slb"], sides_of)
    report(a, "bond", side_by_side(res, ["bond-slb"]), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
