#!/usr/bin/env python3
"""Datapath fast-path benchmark: dpswitchd vs the dpdk-testpmd io limit.

For each workload of ../shared/perf (made by its mkpcap.py: 1flow, 100k-1mask,
subtables-16, ...), runs, back to back and alternating, N times:
  * dpswitchd: one PMD on core 1, net_pcap infinite_rx -> net_null, with the
    workload's OpenFlow rules installed as the equivalent datapath flows
    (this measures the fast path alone; the OpenFlow path is measured with
    the shared harness once the controller channel exists);
  * dpdk-testpmd --forward-mode=io over the same vdevs and core, through the
    shared harness (../shared/perf/ovs_bench.py --limit), i.e. the I/O limit.
Reports Mpps (port tx over a 5 s window after 3 s warm-up), cycles/packet,
the cache hit split and the median of the paired ratios dpswitchd/testpmd.

  scripts/perf-datapath.py [--build build] [--runs 3] [WORKLOAD ...] [--json out.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_PERF = os.path.join(os.path.dirname(ROOT), "shared", "perf")


def rules_to_dp_flows(rules_file):
    """Translates the workloads' OF1.3 rules (ip/in_port/nw_dst/dl_vlan ->
    output/pop_vlan/drop) into datapath flows. Table-miss drop rules are
    skipped: a datapath without a flow drops (and upcalls) anyway."""
    flows = []
    for line in open(rules_file):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match, actions = line.split("actions=")
        fields = [f for f in match.strip().rstrip(",").split(",") if f]
        m = []
        for f in fields:
            if f.startswith("priority=") or f.startswith("table="):
                continue
            if f == "ip":
                m.append("eth_type=0x0800")
            elif f.startswith("dl_vlan="):
                m.append("vlan_tci=0x%04x/0x1fff" % (0x1000 | int(f.split("=")[1])))
            elif "=" in f:
                m.append(f)
            else:
                raise SystemExit("perf-datapath: cannot translate match field %r" % f)
        acts = []
        for a in actions.split(","):
            a = a.strip()
            if a in ("drop", ""):
                continue
            if a.startswith("output:"):
                acts.append(a)
            elif a in ("pop_vlan", "strip_vlan"):
                acts.append("pop_vlan")
            else:
                raise SystemExit("perf-datapath: cannot translate action %r" % a)
        if not m and not acts:
            continue
        if "in_port" not in ",".join(m) and not acts:
            continue  # table-miss
        flows.append({"match": ",".join(m), "actions": ",".join(acts)})
    return flows


def ensure_workload(name, outdir):
    d = os.path.join(outdir, name)
    if not os.path.exists(os.path.join(d, "workload.json")):
        subprocess.run([sys.executable, os.path.join(SHARED_PERF, "mkpcap.py"), "--outdir",
                        outdir, name], check=True, stdout=subprocess.DEVNULL)
    return d


def vdevs(wl_dir, manifest):
    out = []
    for i, p in enumerate(manifest["ports"]):
        if p.get("pcap"):
            out.append("net_pcap%d,rx_pcap=%s,infinite_rx=1" % (i, os.path.join(wl_dir, p["pcap"])))
        else:
            out.append("net_null%d,no-rx=1" % i)
    return out


def run_dpswitchd(build, wl_dir, manifest, warmup, duration):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"pmd_cores": [1], "flows": rules_to_dp_flows(os.path.join(wl_dir, "rules.flows"))}
        cfg_path = os.path.join(tmp, "cfg.json")
        json.dump(cfg, open(cfg_path, "w"))
        resident = sum(p.get("packets", 0) for p in manifest["ports"] if p.get("pcap"))
        cmd = ["taskset", "-c", "0", os.path.join(build, "src", "dpswitchd"), "-l", "0,1",
               "--main-lcore", "0", "--in-memory", "--no-pci", "--file-prefix",
               "dpsperf%d" % os.getpid(), "--log-level", "lib.eal:error"]
        for v in vdevs(wl_dir, manifest):
            cmd += ["--vdev", v]
        cmd += ["--", "--config", cfg_path, "--mbufs", str(resident + 65536), "--warmup",
                str(warmup), "--duration", str(duration), "--summary-json",
                os.path.join(tmp, "s.json"), "--log-level", "warn", "--no-db"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("dpswitchd failed:\n" + p.stdout + p.stderr)
        return json.load(open(os.path.join(tmp, "s.json")))


def run_testpmd(wl_dir, warmup, duration):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tp.json")
        subprocess.run([sys.executable, os.path.join(SHARED_PERF, "ovs_bench.py"), wl_dir,
                        "--limit", "--warmup", str(warmup), "--duration", str(duration),
                        "--json", out, "-q"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=SHARED_PERF)
        r = json.load(open(out))["results"][0]
        run = r["limit_runs"][0]
        return {"mpps": run["mpps"], "cycles_per_pkt": run.get("cycles_per_pkt_cpu")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["1flow", "100k-1mask", "subtables-16"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--outdir", default=os.path.join(ROOT, "out", "workloads"))
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.path.isdir(SHARED_PERF):
        sys.exit("perf-datapath: ../shared/perf not found beside the repository")
    results = []
    for name in a.workloads:
        wl_dir = ensure_workload(name, a.outdir)
        manifest = json.load(open(os.path.join(wl_dir, "workload.json")))
        sw, tp = [], []
        for i in range(a.runs):
            sw.append(run_dpswitchd(a.build, wl_dir, manifest, a.warmup, a.duration))
            tp.append(run_testpmd(wl_dir, a.warmup, a.duration))
            print("  %-14s run %d: dpswitchd %.2f Mpps (%.0f cyc/pkt), testpmd %.2f Mpps" %
                  (name, i + 1, sw[-1]["mpps"], sw[-1]["cycles_per_pkt"], tp[-1]["mpps"]),
                  flush=True)
        ratios = [s["mpps"] / t["mpps"] for s, t in zip(sw, tp) if t["mpps"] > 0]
        srt = sorted(sw, key=lambda s: s["mpps"])[len(sw) // 2]
        results.append({
            "workload": name,
            "dpswitchd_mpps": statistics.median(s["mpps"] for s in sw),
            "dpswitchd_cycles_per_pkt": statistics.median(s["cycles_per_pkt"] for s in sw),
            "testpmd_mpps": statistics.median(t["mpps"] for t in tp),
            "ratio": statistics.median(ratios) if ratios else 0,
            "hit_split_pct": srt["hit_split_pct"],
            "subtable_lookups_per_hit": srt["subtable_lookups_per_hit"],
            "megaflow_masks": srt["megaflow_masks"],
            "runs": {"dpswitchd": sw, "testpmd": tp},
        })
    print("\n| workload | dpswitchd Mpps | cycles/pkt | testpmd io Mpps | ratio | hit split (train/EMC/SMC/megaflow) | subtables/hit |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for r in results:
        h = r["hit_split_pct"]
        print("| %s | %.2f | %.0f | %.2f | %.3f | %.1f / %.1f / %.1f / %.1f %% | %.2f |" %
              (r["workload"], r["dpswitchd_mpps"], r["dpswitchd_cycles_per_pkt"], r["testpmd_mpps"],
               r["ratio"], h.get("train", 0), h["emc"], h["smc"], h["megaflow"], r["subtable_lookups_per_hit"]))
    if a.json:
        json.dump(results, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
