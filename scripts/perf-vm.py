#!/usr/bin/env python3
"""VM-to-VM throughput over vhost-user: OVS-DPDK, dpswitch and the testpmd
io limit, side by side in one session on identical setups.

    VM A: dpsbench port 0, net_virtio_user (server=1): sends, unlimited rate
      |  vhost-user socket A
    switch: vh0 type=dpdkvhostuserclient (ofport 1) -> in_port=1,actions=output:2
            -> vh1 type=dpdkvhostuserclient (ofport 2)
      |  vhost-user socket B
    VM B: dpsbench port 1, net_virtio_user (server=1): receives, counts loss

Both "VMs" are one dpsbench flowgen process on core 0 (one lcore sends on A
and drains B, so the sink never starves the way a second process on the same
core does); the switch under test has core 1 alone, the way the
../shared/perf harness starts it for its own workloads (dpswitchd from
tests/perf/switch-cmd.txt, OVS-DPDK in its own network namespace with one
PMD). The harness's two placeholder ports are replaced by the vhost-user
client ports, configured with ovs-vsctl the way OVS users do. The limit is
dpdk-testpmd in io mode between two net_vhost client ports on core 1.

The rate is what reaches VM B over the window after the warm-up (dpsbench's
timeline); cycles/pkt is each switch's own figure over the same window
(OVS: pmd-stats-show; dpswitch: bench-stats).

Usage: scripts/perf-vm.py [--runs N] [--warmup S] [--duration S] [--frames 64,1518]
       [--only ovs,dps,limit] [--out DIR]
(root, ../shared/perf beside the repository; PERF_WORK=DIR reuses a copy of it).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from perf_harness import ROOT, WORK, dps_backend, ob, report, run_sides, side_by_side_args, vsctl_of

TESTPMD = shutil.which("dpdk-testpmd")
DPSBENCH = os.path.join(ROOT, "build", "src", "dpsbench", "dpsbench")
VM_CORE = ob.MAIN_CORE
SETTLE_S = 20  # the longest a switch takes to connect both ports (OVS-DPDK start)


def workload():
    """Two placeholder ports for the harness to start the switch with."""
    d = os.path.join(WORK, "workloads", "vm-to-vm")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "rules.flows"), "w") as f:
        f.write("in_port=1,actions=output:2\n")
    m = {"name": "vm-to-vm", "kind": "throughput", "frame_size": 64, "rules": "rules.flows",
         "ports": [{"ofport": 1, "role": "sink"}, {"ofport": 2, "role": "sink"}], "n_rules": 1,
         "description": "vhost-user VM to VM"}
    with open(os.path.join(d, "workload.json"), "w") as f:
        json.dump(m, f, indent=1)
    return ob.Workload(d, autogen=False)


class VmPair:
    """dpsbench flowgen over two net_virtio_user servers: VM A sends, VM B sinks."""

    def __init__(self, tmp, frame, seconds):
        self.socks = [os.path.join(tmp, "vm%d.sock" % i) for i in range(2)]
        self.json = os.path.join(tmp, "vm.json")
        self.log = os.path.join(tmp, "vm.log")
        cmd = [DPSBENCH, "flowgen", "--tx-ports", "0", "--rx-ports", "1", "--cores", str(VM_CORE),
               "--frame-size", str(frame), "--rate", "unlimited", "--flows", "1024",
               "--vary", "src_port", "--duration", "%ds" % seconds, "--link-timeout", "%ds" % SETTLE_S,
               "--interval", "250ms", "--json-out", self.json, "--quiet",
               "--file-prefix", "perfvm-%d" % os.getpid()]
        for i, s in enumerate(self.socks):
            cmd += ["--port", "net_virtio_user%d,path=%s,server=1,queues=1" % (i, s)]
        cmd += ["--", "--no-huge", "-m", "512"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        self.t0 = time.monotonic()

    def result(self, warmup):
        """Mean rate at VM B after the warm-up, from the 250 ms timeline."""
        if self.proc.wait(timeout=120) != 0:
            raise ob.BenchError("dpsbench failed: " + open(self.log).read()[-2000:])
        r = json.load(open(self.json))
        pts = [p for p in r["timeline"] if p["t"] > warmup and p["tx_mpps"] > 0]
        if not pts:
            raise ob.BenchError("no traffic after the warm-up")
        return {"mpps": statistics.mean(p["rx_mpps"] for p in pts),
                "offered_mpps": statistics.mean(p["tx_mpps"] for p in pts),
                "lost": r["total"].get("lost"), "window_s": len(pts) * 0.25}

    def stop(self):
        if self.proc.poll() is None:
            ob.stop_process(self.proc, "dpsbench")


class VhostPorts:
    """Replaces the harness's placeholder ports by two vhost-user client ports."""

    def attach(self, socks):
        vsctl = vsctl_of(self)
        for name in vsctl("list-ports", "br0").split():
            vsctl("del-port", "br0", name)
        for i, sock in enumerate(socks):
            vsctl("add-port", "br0", "vh%d" % i, "--", "set", "Interface", "vh%d" % i,
                  "type=dpdkvhostuserclient", "options:vhost-server-path=" + sock,
                  "ofport_request=%d" % (i + 1))
        self.of.ofctl("del-flows")
        self.of.ofctl("add-flow", "in_port=1,actions=output:2")


class OvsVm(VhostPorts, ob.OvsDpdkBackend):
    name = "ovs-dpdk"


class DpsVm(VhostPorts, ob.CommandBackend):
    pass


def run_switch(make, hp, frame, a):
    b = make(hp)
    tmp = tempfile.mkdtemp(prefix="perf-vm-")
    b.start(workload())
    vms = VmPair(tmp, frame, a.warmup + a.duration)
    try:
        time.sleep(1)
        b.attach(vms.socks)
        wait_until(vms.t0, a.warmup)
        b.clear_stats()
        out = vms.result(a.warmup)
        out["switch_stats"] = b.read_stats()
        out["cycles_per_pkt"] = out["switch_stats"].get("cycles_per_pkt")
        return out
    finally:
        vms.stop()
        b.stop()


def wait_until(t0, warmup):
    """Until the VMs' traffic has run `warmup` seconds (links come up within
    a second of the switch attaching; the timeline starts then)."""
    time.sleep(max(0.0, warmup + 1 - (time.monotonic() - t0)))


def run_limit(frame, a):
    tmp = tempfile.mkdtemp(prefix="perf-vm-limit-")
    vms = VmPair(tmp, frame, a.warmup + a.duration)
    time.sleep(1)
    cmd = [TESTPMD, "-l", "%d,%d" % (VM_CORE, ob.DP_CORE), "--main-lcore", str(VM_CORE), "--no-huge",
           "-m", "512", "--no-pci", "--file-prefix", "perfvm-limit-%d" % os.getpid()]
    for i, s in enumerate(vms.socks):
        cmd += ["--vdev", "net_vhost%d,iface=%s,client=1,queues=1" % (i, s)]
    cmd += ["--", "--no-mlockall", "--total-num-mbufs=16384", "--forward-mode=io", "--stats-period", "1"]
    tp = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(tmp, "limit.log"), "w"),
                          stderr=subprocess.STDOUT)
    try:
        return vms.result(a.warmup)
    finally:
        vms.stop()
        ob.stop_process(tp, "testpmd")


def table(res, frames):
    med = lambda k, f="mpps": statistics.median([r.get(f) or 0 for r in res.get(k, [])] or [0])  # noqa: E731
    out = ["| frame | OVS-DPDK Mpps | dpswitch Mpps | testpmd limit Mpps | dpswitch / limit | × OVS "
           "| cycles/pkt OVS / dpswitch |", "|---|---:|---:|---:|---:|---:|---:|"]
    for f in frames:
        o, d, lim = med((f, "ovs")), med((f, "dps")), med((f, "limit"))
        out.append("| %d B | %.2f | %.2f | %.2f | %.2f | %.1f× | %.0f / %.0f |"
                   % (f, o, d, lim, d / lim if lim else 0, d / o if o else 0,
                      med((f, "ovs"), "cycles_per_pkt"), med((f, "dps"), "cycles_per_pkt")))
    return "\n".join(out)


def main():
    ap = side_by_side_args(__doc__, "out/vm")
    ap.add_argument("--frames", default="64,1518")
    a = ap.parse_args()
    if not TESTPMD or not os.path.exists(DPSBENCH):
        sys.exit("needs dpdk-testpmd and build/src/dpsbench/dpsbench (make build)")
    os.makedirs(a.out, exist_ok=True)
    frames = [int(f) for f in a.frames.split(",")]

    def sides_of(frame, hp):
        return {"ovs": lambda: run_switch(OvsVm, hp, frame, a),
                "dps": lambda: run_switch(lambda h: dps_backend(DpsVm, h), hp, frame, a),
                "limit": lambda: run_limit(frame, a)}
    res = run_sides(a, frames, sides_of)
    report(a, "vm", table(res, frames), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
