"""vhost-user ports end to end, with DPDK's virtio-user (testpmd) as the VM.

    VM0: testpmd, net_virtio_user server=1 (txonly) <- vh0 type=dpdkvhostuserclient
                                                         (options:vhost-server-path)
    dpswitchd br0 (NORMAL)
    VM1: testpmd, net_virtio_user client (rxonly)   -> vh1 type=dpdkvhostuser
                                                         (socket in vhost-sock-dir)

ovs-vsctl configures both ports. Checked: the server-mode socket appears in
vhost-sock-dir (a stale socket file left there is replaced); VM0's frames come out at VM1; VM0 is killed and restarted
RESTARTS times and each time vh0's link goes down, then it reconnects by
itself and forwards again, while dpswitchd stays up; deleting the ports removes the server socket; no
mbuf is left out of the pool when dpswitchd stops.
Usage: vhost_ports_test.py DPSWITCHD DPSCTL. Needs ovs-vsctl and dpdk-testpmd.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, run_scenario  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TESTPMD = shutil.which("dpdk-testpmd")
RESTARTS = 10


def no_teardown():
    pass


class Vm:
    """A testpmd over net_virtio_user: the VM side of one vhost-user port."""

    def __init__(self, name, tmp, devargs, mode):
        self.log = os.path.join(tmp, name + ".log")
        self.cmd = [TESTPMD, "-l", "0,1", "--no-huge", "-m", "256", "--no-pci",
                    "--file-prefix", "%s-%d" % (name, os.getpid()), "--vdev", devargs, "--",
                    "--no-mlockall", "--total-num-mbufs=4096", "--forward-mode=" + mode,
                    "--stats-period", "1"]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return open(self.log).read()[-1500:] if os.path.exists(self.log) else ""

    def rx_packets(self):
        counts = re.findall(r"RX-packets:\s+(\d+)", open(self.log).read()) if os.path.exists(self.log) else []
        return int(counts[-1]) if counts else 0


def scenario(tmp, stops):
    sock_dir = os.path.join(tmp, "vhost")
    os.makedirs(sock_dir)
    sw = Switch(DPSWITCHD, db=True, name="dps-vhost", tmp=tmp, args=["--mbufs", "16384"])
    stops.append(sw.stop_and_tail)
    sw.start(timeout=60)

    def vsctl(*args):
        return subprocess.run(["ovs-vsctl", "--db=unix:" + sw.sock, "--timeout=30"] + list(args),
                              capture_output=True, text=True, timeout=60)

    def port(name):
        r = subprocess.run([DPSCTL, "--db=unix:" + sw.sock, "--format=json", "port-stats"],
                           capture_output=True, text=True, timeout=30)
        return {s["port"]: s for s in json.loads(r.stdout)}.get(name, {})

    def tx_rx(name):
        p = port(name)
        return p.get("tx_packets", 0), p.get("rx_packets", 0)

    def link_becomes(name, state, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if port(name).get("link") == state:
                return True
            time.sleep(0.2)
        return False

    def moving(name, field, timeout=15):
        """True once port `name`'s counter (0 tx, 1 rx) grows."""
        start = tx_rx(name)[field]
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(0.5)
            if tx_rx(name)[field] > start:
                return True
        return False

    # What a dpswitchd that did not stop cleanly leaves in vhost-sock-dir.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(os.path.join(sock_dir, "vh1"))
    stale.close()
    vm0_sock = os.path.join(tmp, "vm0.sock")
    vm0 = Vm("vm0", tmp, "net_virtio_user0,path=%s,server=1,queues=1" % vm0_sock, "txonly")
    stops.append(vm0.stop)
    vm0.start()
    r = vsctl("set", "Open_vSwitch", ".", "other_config:vhost-sock-dir=" + sock_dir,
              "--", "--may-exist", "add-br", "br0",
              "--", "add-port", "br0", "vh0", "--", "set", "Interface", "vh0", "type=dpdkvhostuserclient",
              "options:vhost-server-path=" + vm0_sock,
              "--", "add-port", "br0", "vh1", "--", "set", "Interface", "vh1", "type=dpdkvhostuser")
    check(r.returncode == 0, "ovs-vsctl adds a dpdkvhostuserclient and a dpdkvhostuser port", r.stderr)
    errors = [vsctl("get", "Interface", n, "error").stdout.strip() for n in ("vh0", "vh1")]
    check(all(e in ("[]", "") for e in errors),
          "both vhost ports open without error (vh1 over a stale socket file)", errors)
    vh1_sock = os.path.join(sock_dir, "vh1")
    check(os.path.exists(vh1_sock), "the server port's socket is <vhost-sock-dir>/vh1")

    vm1 = Vm("vm1", tmp, "net_virtio_user1,path=%s,queues=1" % vh1_sock, "rxonly")
    stops.append(vm1.stop)
    vm1.start()
    check(moving("vh0", 1), "vh0 (client mode) receives VM0's frames")
    check(moving("vh1", 0), "vh1 (server mode) sends them on to VM1")
    deadline = time.time() + 15
    while time.time() < deadline and vm1.rx_packets() == 0:
        time.sleep(0.5)
    check(vm1.rx_packets() > 0, "VM1 receives VM0's frames (%d)" % vm1.rx_packets())

    back = down = up = 0
    for i in range(RESTARTS):
        vm0.stop()
        down += link_becomes("vh0", "down")
        vm0.start()
        back += moving("vh0", 1, timeout=20)
        up += link_becomes("vh0", "up")
    check(back == RESTARTS, "VM0 killed and restarted %d times: vh0 reconnected and forwarded %d times"
          % (RESTARTS, back))
    check(down == RESTARTS and up == RESTARTS,
          "vh0's link follows the VM: down %d times, up again %d times" % (down, up))
    check(sw.alive(), "dpswitchd still running")

    vm0.stop()
    vm1.stop()
    r = vsctl("del-port", "vh0", "--", "del-port", "vh1")
    check(r.returncode == 0 and not os.path.exists(vh1_sock), "del-port removes the server socket", r.stderr)
    sw.stop()
    log = sw.log_tail(lines=5)
    check("0 mbufs out of the pool after shutdown" in log, "no mbuf leaked (dpswitchd's shutdown count)", log)


def main():
    missing = [n for n, p in (("ovs-vsctl", shutil.which("ovs-vsctl")), ("dpdk-testpmd", TESTPMD)) if not p]
    if missing:
        print("FAIL: %s missing (scripts/bootstrap.sh installs them)" % ", ".join(missing))
        return 1
    return run_scenario("dps-vhost-", no_teardown, scenario)


if __name__ == "__main__":
    sys.exit(main())
