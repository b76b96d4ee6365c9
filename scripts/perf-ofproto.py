#!/usr/bin/env python3
"""OpenFlow pipeline benchmark: dpswitchd with --rules on the shared workloads.

Three measurements, each run N times (figures are indicative on a shared VM):
  * flowsetup-50k: cold start with the workload's 50k exact nw_src rules
    loaded from rules.flows; every packet of the first pcap pass needs a new
    megaflow. Reports the new-flow setup rate (least-squares slope of port tx
    between 10% and 90% of the 50k first-pass packets, sampled every 5 ms by
    dpswitchd --sample-tx-ms, as ../shared/perf does from port counters), the
    megaflow install rate (slope of the ukey count) and the slow path's own
    microseconds per miss (time spent handling upcalls / misses), as wall
    time and as the ofproto thread's CPU time (the two differ when other
    processes share core 0; the load average before each run is recorded).
  * l2-learning: a NORMAL bridge (rules.flows = priority=0,actions=NORMAL),
    both ports replaying; Mpps against dpdk-testpmd io over the same vdevs
    (../shared/perf/ovs_bench.py <wl-dir> --limit), paired per run.
  * churn: the 1flow workload's rules plus --churn-rate flow-mods per second
    (adds and deletes of unrelated rules through the C++ flow_mod API, each
    waiting for its revalidation) while the established flow forwards:
    Mpps, packets lost (PMD rx - port tx), max PMD iteration time, and the
    flow-mod latency (average / max) measured by the revalidator.

  scripts/perf-ofproto.py [--build build] [--runs 3] [--only flowsetup,l2,churn] [--json out.json]
  scripts/perf-ofproto.py flowsetup-50k [l2-learning] [churn]   # the same as --only

Profiling: --perf-record FILE runs the first flowsetup run under
`perf record -e cpu-clock` (whole process, no call graphs: the release
build has no frame pointers) and prints the ofproto thread's flat profile
(the main thread; the PMD thread is excluded) over the flow-setup window
(first to last sample in the miss path), by function.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from perf_common import ROOT, SHARED_PERF, ensure_workload, run_dpswitchd as _run, run_testpmd


def run_dpswitchd(build, wl_dir, manifest, warmup, duration, extra=(), prefix=()):
    """dpswitchd with the workload's OpenFlow rules through the pipeline."""
    return _run(build, wl_dir, manifest, warmup, duration,
                ["--rules", os.path.join(wl_dir, "rules.flows"), *extra], prefix)


def perf_report(path, binary, lines=40):
    """The ofproto (main) thread's flat profile during the flow-setup window:
    samples between the first and the last one in the miss path (upcall
    handling, translation, install), by function (self time). dpswitchd's
    own addresses are symbolized with addr2line (this perf cannot read the
    binary's symbols)."""
    import collections
    import re
    rep = subprocess.run(["perf", "report", "-i", path, "--sort", "pid", "--stdio"],
                         capture_output=True, text=True).stdout
    m = re.search(r"(\d+):dpswitchd", rep)
    if not m:
        print("  perf: no dpswitchd main thread in %s" % path)
        return
    tid = m.group(1)
    out = subprocess.run(["perf", "script", "-i", path, "--tid", tid, "-G", "--show-mmap-events",
                          "-F", "time,ip,sym,dso"], capture_output=True, text=True).stdout
    maps, samples = [], []
    mm = re.compile(r"PERF_RECORD_MMAP2? .*\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: r-xp (\S+)")
    sm = re.compile(r"^\s*([0-9.]+):\s+([0-9a-f]+)\s+(.*)\s+\((.*)\)\s*$")
    for line in out.splitlines():
        x = mm.search(line)
        if x and x.group(4).endswith("/dpswitchd"):
            maps.append((int(x.group(1), 16), int(x.group(2), 16), int(x.group(3), 16)))
            continue
        y = sm.match(line)
        if y:
            samples.append([float(y.group(1)), int(y.group(2), 16), y.group(3).strip(), y.group(4)])
    own = {}
    for s in samples:
        if s[3].endswith("/dpswitchd"):
            for start, size, off in maps:
                if start <= s[1] < start + size:
                    own.setdefault(s[1] - start + off, None)
    if own:
        addrs = sorted(own)
        res = subprocess.run(["addr2line", "-f", "-C", "-e", binary] + ["%x" % a for a in addrs],
                             capture_output=True, text=True).stdout.splitlines()
        for i, a in enumerate(addrs):
            own[a] = re.sub(r"\((?!anonymous).*", "", res[2 * i]) if 2 * i < len(res) else "?"
    for s in samples:
        if s[3].endswith("/dpswitchd"):
            for start, size, off in maps:
                if start <= s[1] < start + size:
                    s[2] = own.get(s[1] - start + off, s[2])
    # The window: the largest cluster of miss-path samples no more than
    # 20 ms apart (revalidation later also translates, sparsely).
    miss = re.compile(r"UpcallHandler|Xlator|xlate\(|FlowTable::lookup|post_install|"
                      r"UkeyTable::(insert|find_covering)")
    hits = sorted(s[0] for s in samples if miss.search(s[2]))
    if not hits:
        print("  perf: no miss-path samples")
        return
    clusters = [[hits[0], hits[0], 1]]
    for t in hits[1:]:
        if t - clusters[-1][1] > 0.02:
            clusters.append([t, t, 0])
        clusters[-1][1] = t
        clusters[-1][2] += 1
    t0, t1, _ = max(clusters, key=lambda x: x[2])
    win = [s for s in samples if t0 <= s[0] <= t1]
    cnt = collections.Counter(s[2] for s in win)
    print("  perf, ofproto thread during flow setup (%.3f s, %d samples), self %%:" %
          (t1 - t0, len(win)))
    for sym, n in cnt.most_common(lines):
        print("    %5.1f%%  %s" % (100.0 * n / len(win), sym[:110]))


def linfit(pts):
    n = len(pts)
    if n < 2:
        return None
    mt = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    den = sum((p[0] - mt) ** 2 for p in pts)
    return sum((p[0] - mt) * (p[1] - my) for p in pts) / den if den else None


def flowsetup(a):
    wl_dir, m = ensure_workload("flowsetup-50k", a.outdir)
    k = m["flows"]
    runs = []
    for i in range(a.runs):
        load = os.getloadavg()[0]
        prefix = []
        if a.perf_record and i == 0:
            prefix = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-o",
                      a.perf_record, "--"]
        s = run_dpswitchd(a.build, wl_dir, m, 0, 6, ["--sample-tx-ms", "5"], prefix)
        if prefix:
            perf_report(a.perf_record, os.path.join(a.build, "src", "dpswitchd"))
        smp = s["tx_samples"]
        t0 = next((s[0] for s in smp if s[1] > 0), 0)
        fwd = [(s[0] - t0, s[1]) for s in smp if 0.1 * k <= s[1] <= 0.9 * k]
        # s[2]: ukeys (slow path), s[3]: flows installed in the PMDs
        flows = [(s[0] - t0, s[3]) for s in smp if 0.1 * k <= s[3] <= 0.9 * k]
        ukeys = [(s[0] - t0, s[2]) for s in smp if 0.1 * k <= s[2] <= 0.9 * k]
        rate = linfit(fwd)
        frate = linfit(flows)
        print("    ukeys/s %.0f, PMD flows/s %.0f" % (linfit(ukeys) or 0, frate or 0))
        full = next((s[0] - t0 for s in smp if s[3] >= k), None)
        o = s["ofproto"]
        cpu = o.get("cpu_us_per_miss", 0.0)
        r = {"setup_rate_fwd": rate, "flows_per_s": frate, "all_flows_installed_s": full,
             "us_per_miss": o["us_per_miss"], "cpu_us_per_miss": cpu,
             "cpu_us_per_megaflow": cpu * o["misses"] / o["installs"] if o["installs"] else None,
             "misses": o["misses"], "installs": o["installs"],
             "lost_upcalls": s["failed_upcalls"], "points": len(fwd), "loadavg_before": load,
             "pmd_max_iteration_us": max(p["max_iteration_us"] for p in s["pmds"])}
        runs.append(r)
        print("  flowsetup-50k run %d: %s new flows/s forwarded, %s megaflows/s installed, "
              "%.2f us/miss (CPU %.2f us/miss, %.2f us/megaflow), all %d installed after %s s "
              "(load %.1f before)" %
              (i + 1, "%.0f" % rate if rate else "?", "%.0f" % frate if frate else "?",
               r["us_per_miss"], cpu, r["cpu_us_per_megaflow"] or 0, k,
               "%.2f" % full if full else "?", load), flush=True)
    def med(key):
        v = [x[key] for x in runs if x[key]]
        return statistics.median(v) if v else None

    def spread(key):
        v = [x[key] for x in runs if x[key]]
        return (min(v), max(v)) if v else None

    return {"workload": "flowsetup-50k", "setup_rate_fwd": med("setup_rate_fwd"),
            "flows_per_s": med("flows_per_s"), "flows_per_s_range": spread("flows_per_s"),
            "us_per_miss": med("us_per_miss"), "cpu_us_per_miss": med("cpu_us_per_miss"),
            "cpu_us_per_megaflow": med("cpu_us_per_megaflow"), "runs": runs}


def l2(a):
    wl_dir, m = ensure_workload("l2-learning", a.outdir)
    sw, tp = [], []
    for i in range(a.runs):
        sw.append(run_dpswitchd(a.build, wl_dir, m, a.warmup, a.duration))
        tp.append(run_testpmd(wl_dir, a.warmup, a.duration)["mpps"])
        print("  l2-learning run %d: dpswitchd %.2f Mpps (%.0f cyc/pkt, %d megaflows, %d MACs), "
              "testpmd %.2f Mpps" % (i + 1, sw[-1]["mpps"], sw[-1]["cycles_per_pkt"],
                                     sw[-1]["datapath_flows"], sw[-1]["ofproto"]["mac_entries"],
                                     tp[-1]), flush=True)
    ratios = [s["mpps"] / t for s, t in zip(sw, tp) if t > 0]
    return {"workload": "l2-learning", "dpswitchd_mpps": statistics.median(s["mpps"] for s in sw),
            "testpmd_mpps": statistics.median(tp), "ratio": statistics.median(ratios),
            "runs": {"dpswitchd": sw, "testpmd": tp}}


def churn(a):
    wl_dir, m = ensure_workload("1flow", a.outdir)
    runs = []
    for i in range(a.runs):
        base = run_dpswitchd(a.build, wl_dir, m, a.warmup, a.duration)
        s = run_dpswitchd(a.build, wl_dir, m, a.warmup, a.duration,
                          ["--churn-rate", str(a.churn_rate)])
        tx = s["mpps"] * s["duration_s"] * 1e6
        r = {"mpps_churn": s["mpps"], "mpps_quiet": base["mpps"],
             "flow_mods_per_s": s["ofproto"]["churn_mods"] / (s["duration_s"] + a.warmup),
             "lost": max(0, s["packets"] - tx),
             "failed_upcalls": s["failed_upcalls"],
             "max_iteration_us": max(p["max_iteration_us"] for p in s["pmds"]),
             "max_iteration_us_quiet": max(p["max_iteration_us"] for p in base["pmds"]),
             "flow_mod_us_avg": s["ofproto"]["change_us_avg"],
             "flow_mod_us_max": s["ofproto"]["change_us_max"]}
        runs.append(r)
        print("  churn run %d: %.2f Mpps with %.0f flow-mods/s (%.2f quiet), lost %.0f, max PMD "
              "iteration %.1f us (quiet %.1f us), flow-mod %.1f us avg / %.0f us max" %
              (i + 1, r["mpps_churn"], r["flow_mods_per_s"], r["mpps_quiet"], r["lost"],
               r["max_iteration_us"], r["max_iteration_us_quiet"], r["flow_mod_us_avg"],
               r["flow_mod_us_max"]), flush=True)
    return {"workload": "churn-1flow", "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--churn-rate", type=float, default=10000)
    ap.add_argument("--only", default="flowsetup,l2,churn")
    ap.add_argument("--outdir", default=os.path.join(ROOT, "out", "workloads"))
    ap.add_argument("--json")
    ap.add_argument("--perf-record", metavar="FILE",
                    help="perf record the first flowsetup run into FILE, print the ofproto profile")
    ap.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                    help="flowsetup-50k, l2-learning, churn (instead of --only)")
    a = ap.parse_args()
    if a.workloads:
        names = {"flowsetup-50k": "flowsetup", "flowsetup": "flowsetup", "l2-learning": "l2",
                 "l2": "l2", "churn": "churn", "churn-1flow": "churn"}
        bad = [w for w in a.workloads if w not in names]
        if bad:
            sys.exit("perf-ofproto: unknown workload %s (flowsetup-50k, l2-learning, churn)" % bad[0])
        a.only = ",".join(names[w] for w in a.workloads)
    if not os.path.isdir(SHARED_PERF):
        sys.exit("perf-ofproto: ../shared/perf not found beside the repository")
    out = []
    for what in a.only.split(","):
        out.append({"flowsetup": flowsetup, "l2": l2, "churn": churn}[what](a))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
