"""The ../shared/perf harness for the project's side-by-side perf scripts
(perf-tunnel, -vm, -visibility, -conntrack, -mpls, -bond): a writable copy of
it (PERF_WORK=DIR reuses one), its ovs_bench module as `ob`, dpswitchd as
its CommandBackend (tests/perf/switch-cmd.txt), ovs-vsctl against either
switch's store, and the scripts' common options, run loop and report."""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.environ.get("PERF_WORK") or tempfile.mkdtemp(prefix="perf-")
if not os.path.exists(os.path.join(WORK, "ovs_bench.py")):
    shutil.copytree(os.path.join(ROOT, "..", "shared", "perf"), WORK, dirs_exist_ok=True)
sys.path.insert(0, WORK)
import ovs_bench as ob  # noqa: E402


def dps_backend(cls, hp, socket_mem=1024):
    """dpswitchd as the harness starts any switch: `cls` is a subclass of
    ob.CommandBackend (adding the workload's own set-up); socket_mem MB of
    hugepages (the pcaps' resident mbufs must fit)."""
    tpl = [ln.replace("build/", os.path.join(ROOT, "build") + "/", 1)
           for ln in open(os.path.join(ROOT, "tests", "perf", "switch-cmd.txt")).read().splitlines()]
    return cls(hp, tpl[0], name="dpswitch", stats_cmd=tpl[1], flows_cmd=tpl[2], socket_mem=socket_mem)


def vsctl_of(backend):
    """ovs-vsctl ARGS... against the started backend's store (OVS-DPDK's
    db.sock, or dpswitchd's --remote)."""
    if isinstance(backend, ob.OvsDpdkBackend):
        return lambda *a: backend.vsctl(*a)
    db = "--db=unix:%s/ctl" % backend.dir
    return lambda *a: ob.run(["ovs-vsctl", db, "--timeout=60"] + list(a))


def one(results, key, fn):
    """Runs fn() for results[key]; a failed run is logged and the others go on."""
    try:
        r = fn()
        results.setdefault(key, []).append(r)
        ob.log("%s: %.3f Mpps, %s cycles/pkt, checks %s"
               % (key, r.get("mpps", 0), r.get("cycles_per_pkt"), r.get("checks")))
    except Exception as e:  # noqa: BLE001 - a failed run is reported, the others go on
        ob.log("%s failed: %s" % (key, e))


def side_by_side(res, names):
    """The markdown table of per-workload medians: OVS, dpswitch, the limit."""
    med = lambda k: statistics.median([r["mpps"] for r in res.get(k, [])] or [0])
    cyc = lambda k: statistics.median([r.get("cycles_per_pkt") or 0 for r in res.get(k, [])] or [0])
    out = ["| workload | OVS-DPDK Mpps | dpswitch Mpps | testpmd limit Mpps | dpswitch / limit "
           "| × OVS | cycles/pkt OVS / dpswitch |", "|---|---:|---:|---:|---:|---:|---:|"]
    for n in names:
        o, d, lim = med((n, "ovs")), med((n, "dps")), med((n, "limit"))
        if (n, "ovs") in res:
            ovs, times, ocyc = "%.2f" % o, "%.1f×" % (d / o if o else 0), "%.0f" % cyc((n, "ovs"))
        else:  # not run (a workload OVS-DPDK cannot do, or --only)
            ovs, times, ocyc = "n/a", "n/a", "n/a"
        out.append("| %s | %s | %.2f | %.2f | %.3f | %s | %s / %.0f |" % (
            n, ovs, d, lim, d / lim if lim else 0, times, ocyc, cyc((n, "dps"))))
    return "\n".join(out)


def side_by_side_args(doc, out, workloads=None):
    """The side-by-side scripts' common options (--runs, --warmup, --duration,
    --out, --only and, given defaults, the workload names)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--out", default=out)
    ap.add_argument("--only", default="ovs,dps,limit", help="which sides to run")
    if workloads is not None:
        ap.add_argument("workloads", nargs="*", default=list(workloads))
    return ap


def throughput_sides(hp, wl, a, ovs=None, dps=None, socket_mem=1024):
    """The usual three sides of one workload through the harness: OVS-DPDK
    (backend class ovs), dpswitch (CommandBackend subclass dps) and the
    testpmd io limit, each () -> run_throughput's result."""
    ovs, dps = ovs or ob.OvsDpdkBackend, dps or ob.CommandBackend
    return {"ovs": lambda: ob.run_throughput(ovs(hp), wl, a.warmup, a.duration),
            "dps": lambda: ob.run_throughput(dps_backend(dps, hp, socket_mem), wl, a.warmup, a.duration),
            "limit": lambda: ob.TestpmdLimit(hp).run(wl, a.warmup, a.duration)}


def run_sides(a, names, sides_of, record=None):
    """Every side of a.only, a.runs times per name: sides_of(name, hugepages)
    gives {side: () -> result} (a side it leaves out is not run for that
    name); record(results, key, fn) runs one (default: one()). Hugepages are
    restored whatever happens. Returns {(name, side): [results]}."""
    record = record or one
    hp = ob.Hugepages(allow_grow=True)
    res = {}
    try:
        for name in names:
            sides = sides_of(name, hp)
            for _ in range(a.runs):
                for side in a.only.split(","):
                    if side in sides:
                        record(res, (name, side), sides[side])
    finally:
        hp.restore()
    return res


def report(a, stem, md, res):
    """Prints the table and writes it and the raw results under a.out."""
    print(md)
    with open(os.path.join(a.out, stem + ".md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(a.out, stem + ".json"), "w") as f:
        json.dump({"%s/%s" % k: v for k, v in res.items()}, f, indent=1, default=str)
