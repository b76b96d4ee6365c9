#!/usr/bin/env python3
"""A bonded uplink: OVS-DPDK and dpswitch side by side in one session on the
same vdevs and inputs (issue #14), with the testpmd io limit of the
unbonded setup for scale.

The ../shared/perf harness starts each switch as for the shared workloads
(p1 = the source replaying the pcap, one PMD on core 1, OVS-DPDK in its own
network namespace); for a bond workload the sink p2 is then replaced by a
bond of two net_null members, configured with ovs-vsctl as OVS users write
it, the same line on both switches:

    ovs-vsctl del-port br0 p2 -- add-bond br0 bond0 m1 m2 bond_mode=MODE [OPTIONS]
        -- set Interface m1 type=dpdk options:dpdk-devargs=net_null8,no-rx=1 ofport_request=2
        -- set Interface m2 type=dpdk options:dpdk-devargs=net_null9,no-rx=1 ofport_request=3

Workloads (64 B UDP frames to 02:00:00:00:02:02):
  bond-slb     --flows 5-tuples from --macs source MACs, `actions=NORMAL`:
               nobody announces the destination, NORMAL floods to the bond,
               balance-slb hashes the source MAC.
  bond-tcp     --flows 5-tuples from one source MAC into a balance-tcp bond
               (the 5-tuple hash), OPTIONS other_config:bond-rebalance-
               interval=1000 (OVS-DPDK puts every hash on one member until
               its first rebalance, 10 s by default: inside the window).
               dpswitch: lacp off, `in_port=1,actions=output:2`, an explicit
               output to the bond's OpenFlow port as a controller writes it.
               OVS-DPDK cannot do that: a bond has no OpenFlow port there
               (m1 is 2, m2 is 3; output:2 leaves on m1 alone), it is
               reached through NORMAL only, and it drops all a balance-tcp
               bond would send until LACP is negotiated (OvsBond: lacp=active
               and an injected partner). Its rule is `in_port=1,actions=NORMAL`
               with the destination pinned to the bond (fdb/add): hash,
               recirculation, then one of 256 dp_hash flows per packet.
  single-port  the bond-tcp traffic, `in_port=1,actions=output:2` on both
               switches with p2 a plain net_null port: the unbonded baseline.
The bond cost of a switch is 1 - bond-tcp / single-port.

Rate: what leaves the bond or p2 (dpswitch: the bond's OpenFlow port, its
members' sum; OVS: its two member ports). The split between members:
dpswitch's bond/show (in all), OVS's member ports (over the window).
Datapath passes per packet: 1 + recirculations / packets received (OVS
pmd-stats-show, dpswitch bench-stats).

Usage: scripts/perf-bond.py [--runs N] [--flows N] [--macs N] [--only ovs,dps,limit]
       [--warmup S] [--duration S] [--out DIR] [workload...]
(root, hugepages, ../shared/perf; PERF_WORK=DIR reuses a writable copy of it).
"""
import copy
import json
import os
import statistics
import struct
import sys

from perf_harness import ROOT, WORK, dps_backend, ob, report, run_sides, side_by_side, side_by_side_args, vsctl_of
import mkpcap  # noqa: E402  (perf_harness puts the harness on sys.path)

MEMBERS = (("m1", "net_null8,no-rx=1"), ("m2", "net_null9,no-rx=1"))
# OVS-DPDK starts a balance-tcp bond with every hash on one member and
# spreads them at its first rebalance (10 s by default, inside the window):
# both switches rebalance every second, so the warm-up sees it done.
BOND_OPTIONS = {"balance-tcp": ["other_config:bond-rebalance-interval=1000"]}
DST_MAC = "02:00:00:00:02:02"
PARTNER_MAC = "02:00:00:00:1a:c0"  # OVS-DPDK's LACP partner (OvsBond)
TO_BOND = "in_port=1,actions=output:2"
# name: (bond mode or None, source MACs (None: --macs), dpswitch rule, OVS-DPDK rule)
WORKLOADS = {
    "bond-slb": ("balance-slb", None, "priority=0,actions=NORMAL", "priority=0,actions=NORMAL"),
    "bond-tcp": ("balance-tcp", 1, TO_BOND, "in_port=1,actions=NORMAL"),
    "single-port": (None, 1, TO_BOND, TO_BOND),
}


def write_workload(name, flows, macs):
    """The workload's directory: in.pcap, the dpswitch rules (rules.flows)
    and OVS-DPDK's (rules-ovs.flows). Returns (dpswitch's, OVS's) Workload."""
    mode, n_macs, rules, ovs_rules = WORKLOADS[name]
    macs = n_macs or macs
    d = os.path.join(WORK, "workloads", "%s-%d-%d" % (name, flows, macs))
    os.makedirs(d, exist_ok=True)
    w = mkpcap.PcapWriter(os.path.join(d, "in.pcap"))
    for i in range(flows):
        src_mac = "02:00:00:01:%02x:%02x" % ((i % macs) >> 8, (i % macs) & 0xff)
        w.write(mkpcap.udp_frame(DST_MAC, src_mac, mkpcap.ip_int("10.0.0.0") + i,
                                 mkpcap.ip_int("10.128.0.0") + (i * 7919) % 65536,
                                 1024 + i % 50000, 5000 + i % 1000))
    w.close()
    for fn, r in (("rules.flows", rules), ("rules-ovs.flows", ovs_rules)):
        with open(os.path.join(d, fn), "w") as f:
            f.write(r + "\n")
    m = {"name": name, "kind": "throughput", "frame_size": 64, "rules": "rules.flows",
         "n_rules": 1, "flows": flows, "bond_mode": mode,
         "ports": [{"ofport": 1, "role": "source", "pcap": "in.pcap", "packets": flows},
                   {"ofport": 2, "role": "sink"}],
         "description": "%s: %d flows, %d source MACs, %s" % (name, flows, macs, rules)}
    with open(os.path.join(d, "workload.json"), "w") as f:
        json.dump(m, f, indent=1)
    wl = ob.Workload(d, autogen=False)
    ovs_wl = copy.copy(wl)
    ovs_wl.rules = os.path.join(d, "rules-ovs.flows")
    return wl, ovs_wl


class Bonded:
    """Replaces the sink p2 by bond0 (m1, m2) after the harness's start,
    in the workload's bond_mode."""

    def start(self, wl):
        super().start(wl)
        vsctl = vsctl_of(self)
        sink = [n for n in vsctl("list-ports", "br0").split()
                if vsctl("get", "Interface", n, "ofport").strip() == "2"]
        args = ["del-port", "br0", sink[0], "--", "add-bond", "br0", "bond0", "m1", "m2",
                "bond_mode=" + wl.m["bond_mode"]] + BOND_OPTIONS.get(wl.m["bond_mode"], []) + \
            self.bond_args(wl.m["bond_mode"])
        for i, (name, devargs) in enumerate(MEMBERS):
            args += ["--", "set", "Interface", name, "type=dpdk", "options:dpdk-devargs=" + devargs,
                     "ofport_request=%d" % (i + 2)]
        vsctl(*args)
        ob.time.sleep(2)  # the members' carrier (bond carrier poll) before the warm-up
        self.after_bond(wl.m["bond_mode"])
        if 2 not in self.of.port_numbers():
            raise ob.BenchError("%s: no OpenFlow port 2 after add-bond" % self.name)
        ob.log("%s bond/show:\n%s" % (self.name, self.bond_show()))

    def read_stats(self):
        """The harness's last call before it stops the switch."""
        self.last_show = self.bond_show()
        return super().read_stats()


def lacpdu(port):
    """A partner's LACPDU (IEEE 802.1AX-2014 6.4.2, 110 bytes after the
    EtherType) from PARTNER_MAC, key 1, port `port`, state Activity,
    Aggregation, Synchronization, Collecting, Distributing (slow timeout),
    as hex for ovs-ofctl packet-out."""
    actor = struct.pack("!H6sHHHB3x", 0x8000, mkpcap.mac_bytes(PARTNER_MAC), 1, 0x8000, port, 0x3d)
    pdu = (struct.pack("!BBBB", 1, 1, 1, 20) + actor + struct.pack("!BB", 2, 20) + bytes(18) +
           struct.pack("!BBH", 3, 16, 0) + bytes(12) + bytes(52))
    return (mkpcap.mac_bytes("01:80:c2:00:00:02") + mkpcap.mac_bytes(PARTNER_MAC) +
            b"\x88\x09" + pdu).hex()


class OvsBond(Bonded, ob.OvsDpdkBackend):
    """OVS-DPDK drops whatever goes to a balance-tcp bond until LACP is
    negotiated (lib/bond.c choose_output_member: "Must have LACP
    negotiations for TCP balanced bonds"), so its balance-tcp bond runs
    LACP (lacp=active, slow: a partner's PDU holds for 90 s, longer than a
    run) and each member is handed one partner LACPDU by an OpenFlow
    packet-out from that member's port, which OVS's LACP takes as received
    there (process_special)."""
    name = "ovs-dpdk"

    def bond_args(self, mode):
        return ["lacp=active"] if mode == "balance-tcp" else []

    def after_bond(self, mode):
        if mode != "balance-tcp":
            return
        for i in range(len(MEMBERS)):
            self.of.ofctl("packet-out", str(i + 2), "drop", lacpdu(i + 1))
        for _ in range(50):
            if "lacp_status: negotiated" in self.bond_show():
                # the destination behind the bond: NORMAL outputs to it alone
                self.appctl("fdb/add", "br0", MEMBERS[0][0], "0", DST_MAC)  # the bond's bundle
                return
            ob.time.sleep(0.1)
        raise ob.BenchError("ovs-dpdk: LACP not negotiated with the injected partner:\n"
                            + self.appctl("lacp/show", "bond0"))

    def bond_show(self):
        return self.appctl("bond/show", "bond0")


class DpsBond(Bonded, ob.CommandBackend):
    """dpswitch hashes balance-tcp with lacp=off (bonding.cc warns)."""

    def bond_args(self, mode):
        return []

    def after_bond(self, mode):
        pass

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
    """run_throughput, plus for a bond what each member sent and, for any
    switch, its datapath passes per packet (recirculations)."""
    r = ob.run_throughput(backend, wl, a.warmup, a.duration)
    bs = r.get("backend_stats") or {}
    recirc = bs.get("recirc", bs.get("recirculated"))
    if bs.get("packets") and recirc is not None:
        r["passes_per_pkt"] = round(1 + recirc / bs["packets"], 3)
    if hasattr(backend, "last_show"):
        r["member_tx"] = member_tx(backend.last_show) or {  # OVS: the member ports' own counters
            name: r["port_delta"].get(i + 2, {}).get("tx_packets") or 0 for i, (name, _) in enumerate(MEMBERS)}
        ob.log("%s: members sent %s packets" % (backend.name, r["member_tx"]))
    return r


def sides(hp, name, a, limit):
    """{side: () -> result} for one workload; the limit only if asked
    (workloads with the same traffic share one)."""
    wl, ovs_wl = write_workload(name, a.flows, a.macs)
    bonded = WORKLOADS[name][0] is not None
    ovs, dps = (OvsBond, DpsBond) if bonded else (ob.OvsDpdkBackend, ob.CommandBackend)
    out = {"ovs": lambda: measure(ovs(hp), ovs_wl, a),
           "dps": lambda: measure(dps_backend(dps, hp), wl, a)}
    if limit:
        out["limit"] = lambda: ob.TestpmdLimit(hp).run(wl, a.warmup, a.duration)
    return out


def median(res, key, field):
    vals = [r[field] for r in res.get(key, []) if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def split(res, key):
    """'m1 / m2' shares of the members' packets, per run."""
    runs = [r["member_tx"] for r in res.get(key, []) if r.get("member_tx")]
    return ", ".join(" / ".join("%.1f%%" % (100.0 * v / (sum(t.values()) or 1)) for v in t.values())
                     for t in runs) or "n/a"


def cost_table(res):
    """Per switch: bond-tcp and single-port Mpps, the bond cost, the member
    split and the datapath passes per packet under balance-tcp."""
    out = ["| switch | single-port Mpps | bond-tcp Mpps | bond cost | members (per run) "
           "| passes/pkt bond-tcp | cycles/pkt single / bond |", "|---|---:|---:|---:|---|---:|---:|"]
    for side, label in (("ovs", "OVS-DPDK"), ("dps", "dpswitch")):
        s, b = median(res, ("single-port", side), "mpps"), median(res, ("bond-tcp", side), "mpps")
        if s is None and b is None:
            continue
        cost = "%.1f%%" % (100.0 * (1 - b / s)) if s and b is not None else "n/a"
        cyc = [median(res, (n, side), "cycles_per_pkt") for n in ("single-port", "bond-tcp")]
        fmt = lambda v, f: f % v if v is not None else "n/a"
        out.append("| %s | %s | %s | %s | %s | %s | %s / %s |" % (
            label, fmt(s, "%.2f"), fmt(b, "%.2f"), cost, split(res, ("bond-tcp", side)),
            fmt(median(res, ("bond-tcp", side), "passes_per_pkt"), "%.2f"),
            fmt(cyc[0], "%.0f"), fmt(cyc[1], "%.0f")))
    return "\n".join(out)


def main():
    ap = side_by_side_args(__doc__, "out/bond", list(WORKLOADS))
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--macs", type=int, default=256, help="bond-slb's source MACs")
    a = ap.parse_args()
    bad = [n for n in a.workloads if n not in WORKLOADS]
    if bad:
        ap.error("unknown workload %s; known: %s" % (", ".join(bad), ", ".join(WORKLOADS)))
    os.makedirs(a.out, exist_ok=True)
    # bond-tcp and single-port replay the same pcap: one limit for both
    shared = "bond-tcp" in a.workloads and "single-port" in a.workloads
    res = run_sides(a, a.workloads, lambda n, hp: sides(hp, n, a, not (shared and n == "single-port")))
    if shared and ("bond-tcp", "limit") in res:
        res[("single-port", "limit")] = res[("bond-tcp", "limit")]
    md = side_by_side(res, a.workloads)
    if "bond-tcp" in a.workloads and "single-port" in a.workloads:
        md += "\n\n" + cost_table(res)
    report(a, "bond", md, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
