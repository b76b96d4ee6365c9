"""Shared by scripts/perf-datapath.py and scripts/perf-ofproto.py: the
../shared/perf workloads, dpswitchd on them (one PMD on core 1, control on
core 0, no config store), and the dpdk-testpmd io limit through the shared
harness on the same vdevs."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_PERF = os.path.join(os.path.dirname(ROOT), "shared", "perf")


def ensure_workload(name, outdir):
    """Generates the workload with the shared mkpcap.py if missing; returns
    (directory, manifest)."""
    d = os.path.join(outdir, name)
    if not os.path.exists(os.path.join(d, "workload.json")):
        subprocess.run([sys.executable, os.path.join(SHARED_PERF, "mkpcap.py"), "--outdir",
                        outdir, name], check=True, stdout=subprocess.DEVNULL)
    return d, json.load(open(os.path.join(d, "workload.json")))


def vdevs(wl_dir, manifest):
    """The harness's vdevs, in OpenFlow port order."""
    out = []
    for i, p in enumerate(manifest["ports"]):
        if p.get("pcap"):
            out.append("net_pcap%d,rx_pcap=%s,infinite_rx=1" % (i, os.path.join(wl_dir, p["pcap"])))
        else:
            out.append("net_null%d,no-rx=1" % i)
    return out


def run_dpswitchd(build, wl_dir, manifest, warmup, duration, options=(), prefix=()):
    """Runs dpswitchd on the workload with extra dpswitchd `options` (e.g.
    --config FILE or --rules FILE), under the command `prefix` if any (e.g.
    perf record ... --); returns its --summary-json."""
    with tempfile.TemporaryDirectory() as tmp:
        resident = sum(p.get("packets", 0) for p in manifest["ports"] if p.get("pcap"))
        cmd = ["taskset", "-c", "0", os.path.join(build, "src", "dpswitchd"), "-l", "0,1",
               "--main-lcore", "0", "--in-memory", "--no-pci", "--file-prefix",
               "dpsperf%d" % os.getpid(), "--log-level", "lib.eal:error"]
        for v in vdevs(wl_dir, manifest):
            cmd += ["--vdev", v]
        cmd += ["--", "--pmd-cores", "1", "--mbufs", str(resident + 65536), "--warmup",
                str(warmup), "--duration", str(duration), "--summary-json",
                os.path.join(tmp, "s.json"), "--log-level", "warn", "--no-db"]
        cmd = list(prefix) + cmd + list(options)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("dpswitchd failed:\n" + p.stdout + p.stderr)
        return json.load(open(os.path.join(tmp, "s.json")))


def run_testpmd(wl_dir, warmup, duration):
    """testpmd io over the same vdevs and core (../shared/perf/ovs_bench.py --limit)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tp.json")
        subprocess.run([sys.executable, os.path.join(SHARED_PERF, "ovs_bench.py"), wl_dir,
                        "--limit", "--warmup", str(warmup), "--duration", str(duration),
                        "--json", out, "-q"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=SHARED_PERF)
        run = json.load(open(out))["results"][0]["limit_runs"][0]
        return {"mpps": run["mpps"], "cycles_per_pkt": run.get("cycles_per_pkt_cpu")}
