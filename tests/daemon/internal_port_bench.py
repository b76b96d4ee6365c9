#!/usr/bin/env python3
"""Internal ports: what they cost the PMDs, and how fast the host stack goes
through them. Compares dpswitchd's own tap port (type=internal: TapNetdev,
syscalls on the dps-tap thread) with DPDK's net_tap (type=dpdk,
dpdk-devargs=net_tap<n>,iface=...: syscalls on the PMD).

  idle  One PMD forwards net_null0 -> net_null1 (a rule) as fast as it can,
        with 0 or N extra idle internal ports (or N idle net_tap ports)
        polled by the same PMD. Reports Mpps and PMD cycles per packet:
        the difference is what polling idle tap ports costs.
  blast One PMD sends net_null0's endless 64-byte frames to a tap port
        (the kernel drops them): how fast the PMD still goes, and how many
        frames per second reach the kernel.
  tput  A network namespace (veth, af_packet port) and the host stack on the
        bridge's internal port (or on a net_tap port): iperf3 TCP, 10 s each
        way, plus the PMD's busy cycles per packet during the transfer.

Usage: internal_port_bench.py DPSWITCHD DPSCTL idle|tput|blast [--n N] [--secs S] [--reps R] [--rounds K]
Prints one JSON object per measurement. Needs root; tput needs iperf3.
Docs: docs/performance.md, "Internal ports".
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch  # noqa: E402

TAG = "%d" % (os.getpid() % 100000)


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s %s" % (cmd, r.stdout, r.stderr))
    return r


class Ctl:
    def __init__(self, sw, dpsctl):
        self.sw, self.dpsctl = sw, dpsctl

    def vsctl(self, *a):
        return run(["ovs-vsctl", "--db=unix:" + self.sw.sock, "--timeout=20"] + list(a))

    def dps(self, *a):
        return run([self.dpsctl, "--db=unix:" + self.sw.sock, "--timeout=10"] + list(a))

    def window(self, secs):
        """PMD totals over `secs` seconds."""
        self.dps("bench-stats", "clear")
        time.sleep(secs)
        return json.loads(self.dps("bench-stats", "show").stdout)


def add_taps(ctl, kind, n, bridge="br0"):
    names = []
    for k in range(n):
        name = "dpsq%s%d" % (TAG, k)
        if kind == "internal":
            ctl.vsctl("add-port", bridge, name, "--", "set", "Interface", name, "type=internal")
        else:
            # net_tap wants as many tx queues as rx queues: one, shared by the PMDs.
            ctl.vsctl("add-port", bridge, name, "--", "set", "Interface", name, "type=dpdk",
                      "options:dpdk-devargs=net_tap%s%d,iface=%s" % (TAG, k, name), "options:n_txq=1")
        of = ctl.vsctl("get", "Interface", name, "ofport").stdout.strip()
        if not of.isdigit():
            raise RuntimeError("%s port %s did not open: %s" % (kind, name,
                               ctl.vsctl("get", "Interface", name, "error").stdout))
        names.append(name)
    return names


def idle(args):
    tmp = tempfile.mkdtemp(prefix="dps-ipb-")
    rules = os.path.join(tmp, "rules")
    with open(rules, "w") as f:
        f.write("priority=10,in_port=1,actions=output:2\n")
    configs = [("none", 0), ("internal", args.n), ("net_tap", args.n)]
    for rnd, (kind, n) in [(r, c) for r in range(args.rounds) for c in configs]:
        sw = Switch(args.dpswitchd, vdevs=["net_null0", "net_null1,no-rx=1"], db=True, name="dps-ipb",
                    args=["--pmd-cores", "1", "--rules", rules])
        with sw:
            ctl = Ctl(sw, args.dpsctl)
            if n:
                add_taps(ctl, kind, n)
            time.sleep(1)
            for rep in range(args.reps):
                t = ctl.window(args.secs)
                print(json.dumps({"test": "idle", "extra_idle_taps": n, "kind": kind, "round": rnd, "rep": rep,
                                  "mpps": round(t["packets"] / t["duration_s"] / 1e6, 3),
                                  "cycles_per_pkt": round(t["cycles_per_pkt"], 1)}), flush=True)
        sw.cleanup()


def port_stats(ctl, name):
    return {p["port"]: p for p in json.loads(ctl.dps("--format=json", "port-stats").stdout)}[name]


def blast(args):
    """net_null0 floods one PMD's worth of 64-byte frames into a tap port."""
    for kind in ("internal", "net_tap"):
        sw = Switch(args.dpswitchd, vdevs=["net_null0"], db=True, name="dps-ipb",
                    args=["--pmd-cores", "1"])
        with sw:
            ctl = Ctl(sw, args.dpsctl)
            name, out = "br0", "LOCAL"
            if kind == "net_tap":
                name = add_taps(ctl, "net_tap", 1)[0]
                out = ctl.vsctl("get", "Interface", name, "ofport").stdout.strip()
            ctl.dps("add-flow", "br0", "priority=10,in_port=1,actions=output:%s" % out)
            time.sleep(1)
            for rep in range(args.reps):
                before = port_stats(ctl, name)
                t = ctl.window(args.secs)
                after = port_stats(ctl, name)
                d = {k: after[k] - before[k] for k in ("tx_packets", "tx_dropped")}
                print(json.dumps({"test": "blast", "kind": kind, "rep": rep,
                                  "pmd_mpps": round(t["packets"] / t["duration_s"] / 1e6, 3),
                                  "pmd_cycles_per_pkt": round(t["cycles_per_pkt"], 1),
                                  "to_kernel_mpps": round(d["tx_packets"] / t["duration_s"] / 1e6, 3),
                                  "dropped_mpps": round(d["tx_dropped"] / t["duration_s"] / 1e6, 3)}),
                      flush=True)
        sw.cleanup()


def iperf(prefix, server_ip, reverse, secs):
    r = run(prefix + ["iperf3", "-c", server_ip, "-t", str(secs), "-J"] + (["-R"] if reverse else []))
    end = json.loads(r.stdout)["end"]
    return round(end["sum_received"]["bits_per_second"] / 1e9, 3)


def tput(args):
    ns, vsw, vns = "dpsn" + TAG, "dpsv" + TAG, "dpsw" + TAG
    host_ip, ns_ip = "10.214.0.1", "10.214.0.2"
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import internal_tunnel_ports_test as itp  # noqa: E402  (the namespace helpers)
    itp.NS, itp.VSW, itp.VNS, itp.NS_IP = ns, vsw, vns, ns_ip
    for kind in ("internal", "net_tap"):
        itp.cleanup_namespace()
        itp.setup_namespace()
        sw = Switch(args.dpswitchd, db=True, name="dps-ipb", args=["--pmd-cores", "1"])
        srv = None
        try:
            with sw:
                ctl = Ctl(sw, args.dpsctl)
                br = "dpsb" + TAG
                ctl.vsctl("add-br", br)
                ctl.vsctl("add-port", br, vsw, "--", "set", "Interface", vsw, "type=dpdk",
                          "options:dpdk-devargs=net_af_packet%s,iface=%s" % (TAG, vsw))
                dev = br if kind == "internal" else add_taps(ctl, "net_tap", 1, br)[0]
                run(["ip", "link", "set", dev, "up"])
                run(["ip", "addr", "add", host_ip + "/24", "dev", dev])
                run(["ping", "-c", "2", "-W", "2", ns_ip])
                srv = subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-s"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                for reverse in (False, True):
                    ctl.dps("bench-stats", "clear")
                    gbps = iperf([], ns_ip, reverse, args.secs)
                    t = json.loads(ctl.dps("bench-stats", "show").stdout)
                    print(json.dumps({"test": "tput", "kind": kind,
                                      "direction": "namespace->host" if reverse else "host->namespace",
                                      "gbit_s": gbps, "pmd_packets": t["packets"],
                                      "pmd_busy_cycles_per_pkt": round(t["processing_cycles_per_pkt"], 1),
                                      "pmd_busy_share": round(t["packets"] * t["processing_cycles_per_pkt"] /
                                                              (t["duration_s"] * t["tsc_ghz"] * 1e9), 3)}),
                          flush=True)
        finally:
            if srv:
                srv.kill()
                srv.wait()
            sw.cleanup()
            itp.cleanup_namespace()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dpswitchd")
    p.add_argument("dpsctl")
    p.add_argument("what", choices=["idle", "tput", "blast"])
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--secs", type=int, default=5)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="idle: rounds over the three set-ups (interleaved)")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    if args.what == "tput" and not shutil.which("iperf3"):
        sys.exit("needs iperf3 (apt-get install iperf3)")
    {"idle": idle, "tput": tput, "blast": blast}[args.what](args)


if __name__ == "__main__":
    main()
