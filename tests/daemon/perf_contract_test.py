#!/usr/bin/env python3
"""The benchmark contract's three templates (tests/perf/switch-cmd.txt), end to end.

The shared harness (../shared/perf, --backend cmd) fills line 1 (the
switch), line 2 (--stats-cmd, run as `<cmd> clear` and `<cmd> show`) and
line 3 (--flows-cmd) with str.format and runs them split by shlex. This
test does the same with exactly those lines (relative `build/...` paths
mapped to the build directory under test), with the EAL under --no-huge
and a private --file-prefix instead of the harness's hugepages:
  - port 1 replays a small generated pcap (net_pcap infinite_rx), port 2
    is a sink (net_null no-rx); they are OpenFlow ports 1 and 2, the flow
    table starts empty, the RPC (store) thread stays on the main core;
  - in_port=1,actions=output:2 goes in with ovs-ofctl -O OpenFlow13;
  - `<stats> clear`, a one-second window, `<stats> show`: one JSON object
    with the harness's keys: packets, duration_s (the window),
    cycles_per_pkt / processing_cycles_per_pkt, the cache split adding up
    to packets, datapath_flows, megaflow_masks, tsc_ghz;
  - `<flows>` prints one integer, equal to show's datapath_flows.
Usage: perf_contract_test.py DPSWITCHD DPSCTL SWITCH_CMD_TXT
(ovs-ofctl is required: scripts/bootstrap.sh installs it.)
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import check, failures, free_port  # noqa: E402

DPSWITCHD, DPSCTL, TEMPLATES = sys.argv[1], sys.argv[2], sys.argv[3]
OFCTL = shutil.which("ovs-ofctl")
if not OFCTL:
    print("FAIL: ovs-ofctl missing - run scripts/bootstrap.sh (apt-get install openvswitch-common)")
    sys.exit(1)
MKPCAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "mkpcap.py")
# The templates name build/src/dpswitchd and build/src/cli/dpsctl: map
# "build/" to the build directory the binaries under test come from.
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(DPSWITCHD)))
CPU1 = 1 if (os.cpu_count() or 1) > 1 else 0
PCAP_PACKETS = 512

tmp = tempfile.mkdtemp(prefix="dps-perfc-")
switch = None


def command(template, fields):
    argv = shlex.split(template.format(**fields))
    if argv and argv[0].startswith("build/"):
        argv[0] = os.path.join(BUILD, argv[0][len("build/"):])
    return argv


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def ofctl(*args):
    return run([OFCTL, "-O", "OpenFlow13", *args])


try:
    lines = [l.strip() for l in open(TEMPLATES).read().splitlines()]
    check(len(lines) >= 3 and all(lines[:3]), "switch-cmd.txt has three templates on lines 1-3", lines)
    switch_t, stats_t, flows_t = (lines + ["", "", ""])[:3]
    for name, t in (("dpswitchd", switch_t), ("dpsctl", stats_t), ("dpsctl", flows_t)):
        argv0 = shlex.split(t)[0] if t else ""
        check(argv0.startswith("build/") and os.path.basename(argv0) == name and
              os.access(os.path.join(BUILD, argv0[len("build/"):]), os.X_OK),
              "template runs %s from build/ (%s)" % (name, argv0))
    # The harness offers these placeholders: a template may use no others.
    for t in (stats_t, flows_t):
        check(set(re.findall(r"{(\w+)}", t)) <= {"workdir"}, "stats/flows template uses only {workdir}", t)

    pcap = os.path.join(tmp, "in1.pcap")
    subprocess.run([sys.executable, MKPCAP, pcap, "--flows", str(PCAP_PACKETS)], check=True)
    of_port = free_port()
    vdevs = ["net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "net_null0,no-rx=1"]
    vdev_args = " ".join("--vdev %s" % shlex.quote(v) for v in vdevs)
    # The harness's {eal} is "-l 0,1 --main-lcore 0 --in-memory --no-pci
    # --socket-mem M --vdev ..."; here the same without hugepages.
    eal = ("--lcores 0@0,1@%d --main-lcore 0 --no-huge -m 512 --no-pci --file-prefix dps-perfc-%d %s"
           % (CPU1, os.getpid(), vdev_args))
    fields = dict(eal=eal, vdevs=vdev_args, vdev_list=" ".join(shlex.quote(v) for v in vdevs),
                  lcores="0,1", main_core=0, dp_core=1, of_port=of_port,
                  of_listen="ptcp:%d:127.0.0.1" % of_port, of_target="tcp:127.0.0.1:%d" % of_port,
                  mbufs=PCAP_PACKETS + 65536, socket_mem=512, workdir=tmp, workload_dir=tmp,
                  rules=os.path.join(tmp, "rules.flows"), pcap1=pcap, pcap2="")
    target = fields["of_target"]
    stats_cmd, flows_cmd = command(stats_t, fields), command(flows_t, fields)

    # --- line 1: the switch ----------------------------------------------------------
    log = open(os.path.join(tmp, "switch.log"), "w")
    switch = subprocess.Popen(command(switch_t, fields), stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    deadline = time.time() + 60
    ports = []
    while time.time() < deadline and switch.poll() is None:
        r = ofctl("dump-ports-desc", target)
        ports = [int(p) for p in re.findall(r"^ (\d+)\(", r.stdout, re.M)]
        if r.returncode == 0 and len(ports) >= 2:
            break
        time.sleep(0.2)
    if switch.poll() is not None or len(ports) < 2:
        raise SystemExit("dpswitchd did not come up; log:\n" + open(log.name).read()[-3000:])
    check(sorted(ports) == [1, 2], "the two --vdev ports are OpenFlow ports 1 and 2 (%s)" % ports)
    r = ofctl("dump-flows", target)
    check(r.returncode == 0 and "priority=" not in r.stdout, "the flow table starts empty", r.stdout)
    check(os.path.exists(os.path.join(tmp, "conf.db")) and os.path.exists(os.path.join(tmp, "ctl")),
          "the store file and the RPC socket are in {workdir}")
    # The store's RPC thread must stay off the forwarding core.
    rpc_cpus = None
    for tid in os.listdir("/proc/%d/task" % switch.pid):
        try:
            status = open("/proc/%d/task/%s/status" % (switch.pid, tid)).read()
        except OSError:
            continue
        if re.search(r"^Name:\s*dps-rpc$", status, re.M):
            rpc_cpus = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.M).group(1)
    check(rpc_cpus == "0", "the RPC thread runs on the main core only (Cpus_allowed_list %s)" % rpc_cpus)

    # --- a rule, traffic, the stats window -------------------------------------------------
    r = ofctl("add-flow", target, "in_port=1,actions=output:2")
    check(r.returncode == 0, "ovs-ofctl add-flow in_port=1,actions=output:2", r.stderr)
    time.sleep(1.0)  # past the first packets' upcall: the window sees the fast path
    r = run(stats_cmd + ["show"])
    before = json.loads(r.stdout) if r.returncode == 0 else {}
    r = run(stats_cmd + ["clear"])
    check(r.returncode == 0, "<stats-cmd> clear", r.stderr)
    t0 = time.monotonic()
    r = run(stats_cmd + ["show"])
    after = json.loads(r.stdout) if r.returncode == 0 else {}
    check(after.get("packets", -1) < before.get("packets", 0) and after.get("duration_s", 9) < 0.5,
          "clear zeroes the counters and restarts the window (before: %s packets over %s s; just after: "
          "%s over %s s)" % (before.get("packets"), before.get("duration_s"), after.get("packets"),
                             after.get("duration_s")))
    time.sleep(1.0)
    r = run(stats_cmd + ["show"])
    window = time.monotonic() - t0
    out = r.stdout.strip()
    check(r.returncode == 0 and len(out.splitlines()) == 1, "<stats-cmd> show prints one line", r.stdout + r.stderr)
    try:
        s = json.loads(out)
    except ValueError:
        s = None
    check(isinstance(s, dict), "<stats-cmd> show prints one JSON object", out)
    s = s if isinstance(s, dict) else {}
    need = ("packets", "duration_s", "cycles_per_pkt", "processing_cycles_per_pkt", "emc_hits", "smc_hits",
            "megaflow_hits", "upcalls", "failed_upcalls", "subtable_lookups_per_hit", "datapath_flows",
            "megaflow_masks", "tsc_ghz")
    check(all(k in s for k in need), "show has the harness's keys (missing: %s)" % [k for k in need if k not in s])
    check("simple_match_hits" not in s, "no simple_match_hits (there is no such cache)")
    pk = s.get("packets", 0)
    check(pk > 0, "packets > 0 in the window (%s)" % pk)
    d = s.get("duration_s", 0)
    check(0.5 * window < d <= window + 0.5, "duration_s covers the window (%.3f s, measured %.3f s)" % (d, window))
    check(s.get("cycles_per_pkt", 0) > 0 and 0 < s.get("processing_cycles_per_pkt", 0) <= s["cycles_per_pkt"],
          "cycles_per_pkt %.1f >= processing_cycles_per_pkt %.1f > 0"
          % (s.get("cycles_per_pkt", 0), s.get("processing_cycles_per_pkt", 0)))
    # emc_hits counts exact-key hits (EMC lookups + trains), as the harness's split expects.
    check(s.get("emc_hits", -1) == s.get("emc_lookup_hits", 0) + s.get("train_hits", 0),
          "emc_hits = emc_lookup_hits + train_hits (%s)" % {k: s.get(k) for k in ("emc_hits", "emc_lookup_hits", "train_hits")})
    split = {k: s.get(k, 0) for k in ("emc_hits", "smc_hits", "megaflow_hits", "upcalls", "failed_upcalls")}
    total = sum(split.values())
    # Counters are published per batch: a snapshot may catch a burst between
    # its rx count and its hit count.
    check(abs(total - pk) <= 64 + pk // 100, "the cache split adds up to packets (%d vs %d: %s)" % (total, pk, split))
    check(split["upcalls"] + split["failed_upcalls"] <= 64, "no upcalls in the steady window (%s)" % split)
    check(s.get("datapath_flows", 0) >= 1 and s.get("megaflow_masks", 0) >= 1,
          "datapath_flows %s >= 1, megaflow_masks %s >= 1" % (s.get("datapath_flows"), s.get("megaflow_masks")))
    check(0.1 < s.get("tsc_ghz", 0) < 10, "tsc_ghz is a clock rate (%s)" % s.get("tsc_ghz"))

    # --- line 3: the flow count -----------------------------------------------------------------
    t0 = time.monotonic()
    r = run(flows_cmd)
    took = time.monotonic() - t0
    out = r.stdout.strip()
    check(r.returncode == 0 and re.fullmatch(r"\d+", out) is not None, "<flows-cmd> prints one integer (%r)" % out,
          r.stderr)
    n = int(out) if re.fullmatch(r"\d+", out) else -1
    check(n >= 1 and n == s.get("datapath_flows"), "<flows-cmd> %d == show's datapath_flows %s" % (n, s.get("datapath_flows")))
    print("     (flows-cmd took %.1f ms)" % (took * 1e3))
    # Agrees with the datapath's own flow dump.
    r = run([DPSCTL, "--db=unix:" + os.path.join(tmp, "ctl"), "--format=json", "dump-dp-flows"])
    dump = json.loads(r.stdout) if r.returncode == 0 else []
    check(len(dump) == n, "<flows-cmd> agrees with dump-dp-flows (%d flows)" % len(dump))
    r = run(stats_cmd + ["bogus"])
    check(r.returncode == 2 and "clear" in r.stderr and "show" in r.stderr,
          "<stats-cmd> with another verb is a usage error", r.stderr)

    # --- SIGTERM, as the harness stops it -----------------------------------------------------------
    switch.send_signal(signal.SIGTERM)
    try:
        rc = switch.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "dpswitchd exits 0 on SIGTERM (%s)" % rc)
finally:
    if switch and switch.poll() is None:
        switch.kill()
        switch.wait()
    if failures:
        try:
            print("log:\n" + open(os.path.join(tmp, "switch.log")).read()[-4000:])
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
