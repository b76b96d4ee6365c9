"""The restart runbook of docs/user-guide.md, end to end, with ovs-vsctl and
ovs-ofctl alone: save the flows, set flow-restore-wait, restart dpswitchd
on the same store, restore the flows, clear flow-restore-wait.

Traffic: net_null0 (p1, OpenFlow 1) sends as fast as it can, the rules
forward to net_null1 (p2, OpenFlow 2, no rx). Checked: after the restart
with flow-restore-wait set, nothing is forwarded, not even once the first
flows are back (no half-built pipeline); the restored table is the saved
one; forwarding resumes when the key is cleared; the outage (stop to
forwarding again) is printed. Usage: restart_runbook_test.py DPSWITCHD
DPSCTL. Needs ovs-vsctl and ovs-ofctl (openvswitch-common/-switch).
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, free_port, run_scenario  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
N_RULES = 200


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


class Host:
    """dpswitchd over the store in `tmp`, restartable."""

    def __init__(self, tmp, stops):
        self.tmp, self.sw = tmp, None
        stops.append(lambda: self.sw.stop_and_tail() if self.sw else "")

    def start(self):
        self.sw = Switch(DPSWITCHD, db=True, name="dps-restart", tmp=self.tmp)
        self.sw.start(timeout=60)

    def vsctl(self, *args):
        return run(["ovs-vsctl", "--db=unix:" + self.sw.sock, "--timeout=30"] + list(args))

    def tx(self, port="p2"):
        r = run([DPSCTL, "--db=unix:" + self.sw.sock, "--format=json", "port-stats"])
        return {s["port"]: s for s in json.loads(r.stdout)}.get(port, {}).get("tx_packets", 0)

    def forwarding(self, timeout=10):
        start = self.tx()
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(0.2)
            if self.tx() > start:
                return True
        return False


def saved_rules(text):
    return sorted(ln.strip() for ln in text.splitlines() if ln.strip() and "_FLOW reply" not in ln)


def scenario(tmp, stops):
    port = free_port()
    target = "tcp:127.0.0.1:%d" % port
    ofctl = lambda *a: run(["ovs-ofctl", "-O", "OpenFlow13"] + list(a))  # noqa: E731
    h = Host(tmp, stops)
    h.start()
    r = h.vsctl("--may-exist", "add-br", "br0", "--", "set", "bridge", "br0", "fail_mode=secure",
                "--", "add-port", "br0", "p1", "--", "set", "Interface", "p1", "type=dpdk",
                "options:dpdk-devargs=net_null0", "ofport_request=1",
                "--", "add-port", "br0", "p2", "--", "set", "Interface", "p2", "type=dpdk",
                "options:dpdk-devargs=net_null1,no-rx=1", "ofport_request=2",
                "--", "set-controller", "br0", "ptcp:%d:127.0.0.1" % port)
    check(r.returncode == 0, "bridge, ports and controller target configured", r.stderr)
    time.sleep(0.5)
    flows = ["priority=%d,in_port=1,dl_src=02:00:00:00:%02x:%02x,actions=output:2" % (100 + i, i >> 8, i & 255)
             for i in range(N_RULES)] + ["priority=1,in_port=1,actions=output:2"]
    flow_file = os.path.join(tmp, "flows.txt")
    open(flow_file, "w").write("\n".join(flows) + "\n")
    r = ofctl("add-flows", target, flow_file)
    check(r.returncode == 0 and h.forwarding(), "%d rules added, p1 -> p2 forwarding" % len(flows), r.stderr)

    # The runbook: save, flow-restore-wait, restart, restore, clear.
    save = ofctl("dump-flows", "--no-names", "--no-stats", target).stdout
    saved = saved_rules(save)
    saved_file = os.path.join(tmp, "saved.txt")
    open(saved_file, "w").write("\n".join(saved) + "\n")
    check(len(saved) >= len(flows) and sum("dl_src=02:00:00:00" in ln for ln in saved) == N_RULES,
          "dump-flows saved the table (%d rules, the bridge's default NORMAL rule included)" % len(saved))
    h.vsctl("set", "Open_vSwitch", ".", "other_config:flow-restore-wait=true")
    t_stop = time.time()
    h.sw.stop()
    h.start()
    check(not h.forwarding(timeout=2), "restarted with flow-restore-wait: nothing forwarded (no flows yet)")
    r = ofctl("add-flows", target, saved_file)
    check(r.returncode == 0, "the saved rules restored with ovs-ofctl add-flows", r.stderr)
    check(not h.forwarding(timeout=1.5), "still nothing forwarded while flow-restore-wait is set")
    check(saved_rules(ofctl("dump-flows", "--no-names", "--no-stats", target).stdout) == saved,
          "the restored table is the saved one")
    h.vsctl("remove", "Open_vSwitch", ".", "other_config", "flow-restore-wait")
    fwd = h.forwarding()
    outage = time.time() - t_stop
    check(fwd, "flow-restore-wait cleared: forwarding resumes (outage from stop: %.1f s)" % outage)


def main():
    missing = [n for n in ("ovs-vsctl", "ovs-ofctl") if not shutil.which(n)]
    if missing:
        print("FAIL: %s missing (scripts/bootstrap.sh installs them)" % ", ".join(missing))
        return 1
    return run_scenario("dps-restart-", lambda: None, scenario)


if __name__ == "__main__":
    sys.exit(main())
