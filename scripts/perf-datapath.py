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
import statistics
import sys
import tempfile

from perf_common import ROOT, SHARED_PERF, ensure_workload, run_dpswitchd, run_testpmd


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


def run_pairs(a, wl_dir, manifest, name, options):
    sw, tp = [], []
    for i in range(a.runs):
        sw.append(run_dpswitchd(a.build, wl_dir, manifest, a.warmup, a.duration, options))
        tp.append(run_testpmd(wl_dir, a.warmup, a.duration))
        print("  %-14s run %d: dpswitchd %.2f Mpps (%.0f cyc/pkt), testpmd %.2f Mpps" %
              (name, i + 1, sw[-1]["mpps"], sw[-1]["cycles_per_pkt"], tp[-1]["mpps"]), flush=True)
    return sw, tp


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
        wl_dir, manifest = ensure_workload(name, a.outdir)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as cfg:
            json.dump({"flows": rules_to_dp_flows(os.path.join(wl_dir, "rules.flows"))}, cfg)
            cfg.flush()
            sw, tp = run_pairs(a, wl_dir, manifest, name, ["--config", cfg.name])
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
