#!/usr/bin/env python3
"""Connection tracking, side by side in one run: OVS-DPDK's userspace
conntrack and dpswitch on identical vdevs, rules and inputs, with the
testpmd io limit on the same vdevs.

Workloads (written here; 64 B UDP frames):

    ct-est-100k  port 1 replays 100k A->B flows, port 2 their replies
                 (B->A): after the first reply every connection is
                 established; the issue's (a), the firewall pipeline
    ct-est-1m    the same with 1M connections: the issue's (c), scale
    ct-setup-2m  the issue's (b), setup rate: port 1 sends 2M packets, each a
                 different UDP tuple (port 2 is a sink), every one of them
                 +trk+new and committed. The pcap vdev replays in a loop, so
                 only its first pass is all new connections: this is the
                 harness's flow-setup test (ob.run_flowsetup), which holds
                 port 1 down (OpenFlow PORT_MOD) while the rules load and the
                 connection limit is raised to 4M, brings it up and fits the
                 forwarded-packet count over 10%..90% of the first pass
                 (OpenFlow port counters, ~10 ms apart). Its rate is the
                 reported Mpps; cycles/pkt is the core clock over that rate
                 (the PMD is never idle during the pass). Both switches must
                 hold exactly 2M connections at the end (nothing refused).

Rules, the OVS conntrack tutorial's stateful firewall (ovs-ofctl syntax;
ct-setup-2m matches ct_state=-trk in table 0, as the tutorial does):

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

from perf_harness import ROOT, WORK, dps_backend, ob, report, run_sides, side_by_side_args, throughput_sides
import mkpcap  # noqa: E402  (perf_harness puts the harness on sys.path)

A_MAC, B_MAC = "02:00:00:00:0a:01", "02:00:00:00:0b:01"
RULES = """table=0,priority=10,ip,actions=ct(table=1)
table=1,priority=10,ct_state=+trk+new,ip,in_port=1,actions=ct(commit),output:2
table=1,priority=10,ct_state=+trk+est,ip,in_port=1,actions=output:2
table=1,priority=10,ct_state=+trk+est,ip,in_port=2,actions=output:1
"""
SETUP_RULES = RULES.replace("table=0,priority=10,ip,", "table=0,priority=10,ip,ct_state=-trk,")
# name: (established: port 2 replies, connections / first-pass packets)
WORKLOADS = {"ct-est-100k": (True, 100_000), "ct-est-1m": (True, 1_000_000),
             "ct-setup-2m": (False, 2_000_000)}
SETUP_MAXCONNS = 4_000_000  # both switches, so that no commit of the first pass is refused


def tuple_of(i):
    """Flow i: 10.0.0.0/8 sources over 172.16/12 destinations, 1..60000 ports."""
    return (mkpcap.ip_int("10.0.0.0") + i, mkpcap.ip_int("172.16.0.0") + (i * 7919) % (1 << 20),
            1024 + i % 60000, 53 + i % 1000)


def write_workload(name, established, flows):
    """Established: port 1 A->B, port 2 the replies. Otherwise (setup): port
    1 A->B only, port 2 a sink, the harness's flow-setup kind."""
    d = os.path.join(WORK, "workloads", name)
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "workload.json")):
        wa = mkpcap.PcapWriter(os.path.join(d, "a.pcap"))
        wb = mkpcap.PcapWriter(os.path.join(d, "b.pcap")) if established else None
        for i in range(flows):
            s, t, sp, dp = tuple_of(i)
            wa.write(mkpcap.udp_frame(B_MAC, A_MAC, s, t, sp, dp))
            if wb:
                wb.write(mkpcap.udp_frame(A_MAC, B_MAC, t, s, dp, sp))
        wa.close()
        if wb:
            wb.close()
        with open(os.path.join(d, "rules.flows"), "w") as f:
            f.write(RULES if established else SETUP_RULES)
        p2 = ({"ofport": 2, "role": "source", "pcap": "b.pcap", "packets": flows} if established
              else {"ofport": 2, "role": "sink"})
        m = {"name": name, "kind": "throughput" if established else "flowsetup", "frame_size": 64,
             "rules": "rules.flows", "n_rules": 4, "flows": flows,
             "description": ("conntrack firewall, %d established UDP connections" % flows if established
                             else "conntrack firewall, %d packets each a new committed UDP connection"
                             % flows),
             "ports": [{"ofport": 1, "role": "source", "pcap": "a.pcap", "packets": flows}, p2]}
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


    def prepare_flowsetup(self):
        """Before port-up in the setup test: the limit raised, and read back."""
        super().prepare_flowsetup()
        self.ct("dpctl/ct-set-maxconns", str(SETUP_MAXCONNS))
        self.maxconns = int(re.findall(r"\d+", self.ct("dpctl/ct-get-maxconns"))[0])
        if self.maxconns != SETUP_MAXCONNS:
            raise ob.BenchError("%s: maxconns %d after setting %d" % (self.name, self.maxconns, SETUP_MAXCONNS))

    def nconns(self):
        return int(re.findall(r"\d+", self.ct("dpctl/ct-get-nconns"))[0])


class OvsCt(Tracked, ob.OvsDpdkBackend):
    name = "ovs-dpdk"

    def ct(self, *args):
        return self.appctl(*args)


class DpsCt(Tracked, ob.CommandBackend):
    def ct(self, *args):
        return ob.run([os.path.join(ROOT, "build", "src", "cli", "dpsctl"), "--db=unix:%s/ctl" % self.dir]
                      + list(args))


def one(results, key, fn):
    """perf_harness.one, plus the tracker's size and the switch's memory."""
    try:
        r = fn()
        bs = r.get("backend_stats") or {}
        r["ct_conns"], r["rss_mb"] = bs.get("ct_conns"), bs.get("rss_mb")
        if r.get("kind") != "flowsetup":  # (setup_run's own: the core clock over the setup rate)
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


def setup_run(backend, wl):
    """The harness's flow-setup test on the conntrack firewall: the first
    pass's forwarding rate is its connection setup rate."""
    r = ob.run_flowsetup(backend, wl)
    rate = r.get("setup_rate_fwd")
    r["mpps"] = rate / 1e6 if rate else 0
    r["cycles_per_pkt"] = round(ob.CPU_MHZ * 1e6 / rate) if rate and ob.CPU_MHZ else None
    r["maxconns"] = getattr(backend, "maxconns", None)
    # The harness's "not cached" check is about megaflows: here the packets
    # after the first pass are established connections, not cache hits.
    r["checks"] = [c for c in r.get("checks", []) if "not cached" not in c]
    n = (r.get("backend_stats") or {}).get("ct_conns")
    if n != wl.m["flows"]:
        r["checks"].append("%s connections at the end, expected %d" % (n, wl.m["flows"]))
    ob.log("%s: first pass %.3f s (%d points on the ramp), then %s pps; checks %s"
           % (backend.name, r.get("first_pass_s") or 0, r.get("setup_rate_fwd_points", 0),
              r.get("final_rate_pps"), r["checks"]))
    return r


def main():
    a = side_by_side_args(__doc__, "out/conntrack", WORKLOADS).parse_args()
    os.makedirs(a.out, exist_ok=True)

    def sides_of(name, hp):
        wl = write_workload(name, *WORKLOADS[name])
        sides = throughput_sides(hp, wl, a, OvsCt, DpsCt, socket_mem_mb(wl))
        if wl.kind == "flowsetup":
            sides["ovs"] = lambda: setup_run(OvsCt(hp), wl)
            sides["dps"] = lambda: setup_run(dps_backend(DpsCt, hp, socket_mem_mb(wl)), wl)
        return sides
    res = run_sides(a, a.workloads, sides_of, record=one)
    report(a, "conntrack", table(res, a.workloads), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
