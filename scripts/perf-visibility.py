#!/usr/bin/env python3
"""What visibility costs: port mirroring, sFlow 1:N and IPFIX 1:N on the
shared 100k-flow workload, OVS-DPDK and dpswitch side by side in one run.

Each switch is started by the ../shared/perf harness exactly as for its own
workloads (one PMD on core 1; OVS-DPDK in its own network namespace), then
configured with ovs-vsctl the way their users write it:

    mirror  a third port p3 (net_null) and
            -- --id=@p get port p3 -- --id=@m create mirror name=m0
               select_all=true output_port=@p -- set bridge br0 mirrors=@m
    sflow   -- --id=@s create sflow agent=lo target="127.0.0.1:6343"
               sampling=N header=128 polling=10 -- set bridge br0 sflow=@s
    ipfix   -- --id=@i create ipfix targets="127.0.0.1:4739" sampling=N
               -- set bridge br0 ipfix=@i

The rate is what leaves port 2 (a mirror's copies on p3 are not counted);
the cost is 1 - rate / the same switch's baseline in the same run.

Usage: scripts/perf-visibility.py [--runs N] [--sampling N] [--modes base,mirror,sflow,ipfix]
       [--only ovs,dps] [--workload 100k-1mask] [--out DIR]
"""
import argparse
import json
import os
import statistics
import sys

from perf_harness import dps_backend, ob, vsctl_of


def configure(vsctl, mode, sampling):
    if mode == "mirror":
        vsctl("add-port", "br0", "p3", "--", "set", "Interface", "p3", "type=dpdk",
              "options:dpdk-devargs=net_null9,no-rx=1", "ofport_request=3")
        vsctl("--", "--id=@p", "get", "port", "p3", "--", "--id=@m", "create", "mirror", "name=m0",
              "select_all=true", "output_port=@p", "--", "set", "bridge", "br0", "mirrors=@m")
    elif mode == "sflow":
        vsctl("--", "--id=@s", "create", "sflow", "agent=lo", 'target="127.0.0.1:6343"',
              "sampling=%d" % sampling, "header=128", "polling=10", "--", "set", "bridge", "br0",
              "sflow=@s")
    elif mode == "ipfix":
        vsctl("--", "--id=@i", "create", "ipfix", 'targets="127.0.0.1:4739"',
              "sampling=%d" % sampling, "--", "set", "bridge", "br0", "ipfix=@i")


class Visible:
    mode, sampling = "base", 1000

    def start(self, wl):
        super().start(wl)
        configure(vsctl_of(self), self.mode, self.sampling)


class OvsVis(Visible, ob.OvsDpdkBackend):
    name = "ovs-dpdk"


class DpsVis(Visible, ob.CommandBackend):
    pass


def backend(side, hp, mode, sampling):
    b = OvsVis(hp) if side == "ovs" else dps_backend(DpsVis, hp)
    b.mode, b.sampling = mode, sampling
    return b


def run(side, hp, wl, mode, a):
    r = ob.run_throughput(backend(side, hp, mode, a.sampling), wl, a.warmup, a.duration)
    out = r["port_delta"].get(2, {}).get("tx_packets") or 0
    return {"mpps": out / r["window_s"] / 1e6, "mirror_mpps": (r["port_delta"].get(3, {}).get("tx_packets") or 0)
            / r["window_s"] / 1e6, "cycles_per_pkt": (r.get("backend_stats") or {}).get("cycles_per_pkt")}


def table(res, modes, sides):
    med = lambda k, f="mpps": statistics.median([x.get(f) or 0 for x in res.get(k, [])] or [0])  # noqa: E731
    out = ["| mode | " + " | ".join("%s Mpps | %s cost" % (s, s) for s in sides) + " | dpswitch × OVS |",
           "|---|" + "---:|---:|" * len(sides) + "---:|"]
    for m in modes:
        cells = []
        for s in sides:
            base, v = med(("base", s)), med((m, s))
            cells.append("%.2f | %s" % (v, "%.1f%%" % (100 * (1 - v / base)) if base and m != "base" else "-"))
        o, d = med((m, "ovs")), med((m, "dps"))
        out.append("| %s | %s | %s |" % (m, " | ".join(cells), "%.1f×" % (d / o) if o else "-"))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--sampling", type=int, default=1000)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--modes", default="base,mirror,sflow,ipfix")
    ap.add_argument("--only", default="ovs,dps")
    ap.add_argument("--workload", default="100k-1mask")
    ap.add_argument("--out", default="out/visibility")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    wl = ob.Workload(a.workload)
    hp = ob.Hugepages(allow_grow=True)
    modes, sides, res = a.modes.split(","), a.only.split(","), {}
    try:
        for _ in range(a.runs):
            for m in modes:
                for s in sides:
                    try:
                        r = run(s, hp, wl, m, a)
                        res.setdefault((m, s), []).append(r)
                        ob.log("%s %s: %.3f Mpps out, %.3f mirrored, %s cycles/pkt"
                               % (m, s, r["mpps"], r["mirror_mpps"], r["cycles_per_pkt"]))
                    except Exception as e:  # noqa: BLE001 - one failed run, the others go on
                        ob.log("%s %s failed: %s" % (m, s, e))
    finally:
        hp.restore()
    md = table(res, modes, sides)
    print(md)
    with open(os.path.join(a.out, "visibility.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(a.out, "visibility.json"), "w") as f:
        json.dump({"%s/%s" % k: v for k, v in res.items()}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
