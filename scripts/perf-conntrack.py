#!/usr/bin/env python3
"""Connection tracking, side by side in one run: OVS-DPDK's userspace
conntrack and dpswitch on identical vdevs, rules and inputs, with the
testpmd io limit on the same vdevs.

Workloads (written here; 64 B UDP frames):

    ct-est-100k  port 1 replays 100k A->B flows, port 2 their replies
                 (B->A): after the first reply every connection is
                 established; the issue's (a), the firewall pipeline
    ct-est-1m    the same with 1M connections: the issue's (c), scale

Rules, the OVS conntrack tutorial's stateful firewall (ovs-ofctl syntax):

    table=0,priority=10,ip,actions=ct(table=1)
    table=1,priority=10,ct_state=+trk+new,ip,in_port=1,actions=ct(commit),output:2
    table=1,priority=10,ct_state=+trk+est,ip,in_port=1,actions=output:2
    table=1,priority=10,ct_state=+trk+est,ip,in_port=2,actions=output:1
    (anything else: dropped)

Each switch is started by the ../shared/perf harness exactly as for its own
workloads (one PMD on core 1). Reported: forwarded Mpps (both directions),
cycles/pkt, tracked connections (dpctl/ct-get-nconns) and the switch's
resident memory (VmRSS; the conntrack tables are heap memory in both) at the
end of the window.

Usage: scripts/perf-conntrack.py [--runs N] [--only ovs,dps,limit] [workloads...]
"""
import json
import os
import re
import statistics
import sys

from perf_harness import ROOT, WORK, ob, report, run_sides, side_by_side_args, throughput_sides
import mkpcap  # noqa: E402  (perf_harness puts the harness on sys.path)

A_MAC, B_MAC = "02:00:00:00:0a:01", "02:00:00:00:0b:01"
RULES = """table=0,priority=10,ip,actions=ct(table=1)
table=1,priority=10,ct_state=+trk+new,ip,in_port=1,actions=ct(commit),output:2
table=1,priority=10,ct_state=+trk+est,ip,in_port=1,actions=output:2
table=1,priority=10,ct_state=+trk+est,ip,in_port=2,actions=output:1
"""
WORKLOADS = {"ct-est-100k": 100_000, "ct-est-1m": 1_000_000}


def tuple_of(i):
    """Flow i: 10.0.0.0/8 sources over 172.16/12 destinations, 1..60000 ports."""
    return (mkpcap.ip_int("10.0.0.0") + i, mkpcap.ip_int("172.16.0.0") + (i * 7919) % (1 << 20),
            1024 + i % 60000, 53 + i % 1000)


def write_workload(name, flows):
    d = os.path.join(WORK, "workloads", name)
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "workload.json")):
        wa, wb = mkpcap.PcapWriter(os.path.join(d, "a.pcap")), mkpcap.PcapWriter(os.path.join(d, "b.pcap"))
        for i in range(flows):
            s, t, sp, dp = tuple_of(i)
            wa.write(mkpcap.udp_frame(B_MAC, A_MAC, s, t, sp, dp))
            wb.write(mkpcap.udp_frame(A_MAC, B_MAC, t, s, dp, sp))
        wa.close()
        wb.close()
        with open(os.path.join(d, "rules.flows"), "w") as f:
            f.write(RULES)
        m = {"name": name, "kind": "throughput", "frame_size": 64, "rules": "rules.flows", "n_rules": 4,
             "flows": flows, "description": "conntrack firewall, %d established UDP connections" % flows,
             "ports": [{"ofport": 1, "role": "source", "pcap": "a.pcap", "packets": flows},
                       {"ofport": 2, "role": "source", "pcap": "b.pcap", "packets": flows}]}
        with open(os.path.join(d, "workload.json"), "w") as f:
            json.dump(m, f, indent=1)
    return ob.Workload(d, autogen=False)


def socket_mem_mb(wl):
    """Hugepage memory for dpswitchd: the pcaps' resident mbufs (2176 B each) and 512 MB more."""
    return int((wl.resident_packets + 65536) * 2176 / 2**20) + 512


def rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            m = re.search(r"VmRSS:\s+(\d+) kB", open("/proc/%d/status" % pid).read())
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total / 1024


class Tracked:
    """Adds the tracker's size and the switch's memory to the harness's stats."""

    def read_stats(self):
        d = super().read_stats() or {}
        d["ct_conns"] = self.nconns()
        d["rss_mb"] = round(rss_mb(self.root_pids()[:1]), 1)
        return d


class OvsCt(Tracked, ob.OvsDpdkBackend):
    name = "ovs-dpdk"

    def nconns(self):
        return int(re.findall(r"\d+", self.appctl("dpctl/ct-get-nconns"))[0])


class DpsCt(Tracked, ob.CommandBackend):
    def nconns(self):
        out = ob.run([os.path.join(ROOT, "build", "src", "cli", "dpsctl"), "--db=unix:%s/ctl" % self.dir,
                      "dpctl/ct-get-nconns"])
        return int(re.findall(r"\d+", out)[0])


def one(results, key, fn):
    """perf_harness.one, plus the tracker's size and the switch's memory."""
    try:
        r = fn()
        bs = r.get("backend_stats") or {}
        r["ct_conns"], r["rss_mb"] = bs.get("ct_conns"), bs.get("rss_mb")
        r["cycles_per_pkt"] = bs.get("cycles_per_pkt")
        results.setdefault(key, []).append(r)
        ob.log("%s: %.3f Mpps, %s cycles/pkt, %s connections, %s MB resident"
               % (key, r.get("mpps", 0), r["cycles_per_pkt"], r["ct_conns"], r["rss_mb"]))
    except Exception as e:  # noqa: BLE001 - a failed run is reported, the others go on
        ob.log("%s failed: %s" % (key, e))


def table(res, names):
    med = lambda k, f="mpps": statistics.median([r.get(f) or 0 for r in res.get(k, [])] or [0])  # noqa: E731
    out = ["| workload | OVS-DPDK Mpps | dpswitch Mpps | testpmd limit Mpps | dpswitch / limit | × OVS "
           "| cycles/pkt OVS / dpswitch | connections OVS / dpswitch | RSS MB OVS / dpswitch |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in names:
        o, d, lim = med((n, "ovs")), med((n, "dps")), med((n, "limit"))
        out.append("| %s | %.2f | %.2f | %.2f | %.3f | %.1f× | %.0f / %.0f | %d / %d | %.0f / %.0f |" % (
            n, o, d, lim, d / lim if lim else 0, d / o if o else 0, med((n, "ovs"), "cycles_per_pkt"),
            med((n, "dps"), "cycles_per_pkt"), med((n, "ovs"), "ct_conns"), med((n, "dps"), "ct_conns"),
            med((n, "ovs"), "rss_mb"), med((n, "dps"), "rss_mb")))
    return "\n".join(out)


def main():
    a = side_by_side_args(__doc__, "out/conntrack", WORKLOADS).parse_args()
    os.makedirs(a.out, exist_ok=True)

    def sides_of(name, hp):
        wl = write_workload(name, WORKLOADS[name])
        return throughput_sides(hp, wl, a, OvsCt, DpsCt, socket_mem_mb(wl))
    res = run_sides(a, a.workloads, sides_of, record=one)
    report(a, "conntrack", table(res, a.workloads), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
