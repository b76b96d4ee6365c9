"""vhost-user ports end to end, with DPDK's virtio-user (testpmd) as the VM.

    VM0: testpmd, net_virtio_user server=1 (txonly) <- vh0 type=dpdkvhostuserclient
                                                         (options:vhost-server-path)
    dpswitchd br0 (NORMAL)
    VM1: testpmd, net_virtio_user client (rxonly)   -> vh1 type=dpdkvhostuser
                                                         (socket in vhost-sock-dir)

    VM2: testpmd, net_virtio_user server=1, 2 queue pairs (txonly) <- vh2 (n_rxq=2)
    VM3: testpmd, net_virtio_user server=1, 1 queue pair (rxonly)  <- vh3 (n_rxq=2)
    br1: n1 (net_null, an endless source) -> n2 by rule

ovs-vsctl configures the ports; two PMDs. Checked: the server-mode socket
appears in vhost-sock-dir (a stale socket file left there is replaced);
VM0's frames come out at VM1; vh2 negotiates two queue pairs and receives on
both; VM3 enables one of vh3's two tx queues and the PMDs' slots are
remapped onto it (vh0 pinned to the second PMD, whose own queue the guest
never enabled), so nothing is dropped; Interface.status and port-stats show
the vhost state; VM0 is killed and restarted RESTARTS times and each time
vh0's link goes down, then it reconnects by itself and forwards again,
while dpswitchd stays up and n1 -> n2 loses nothing; deleting the ports
removes the server socket; no mbuf is left out of the pool when dpswitchd
stops.
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
from checks import Switch, check, run_scenario, wait_for  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TESTPMD = shutil.which("dpdk-testpmd")
RESTARTS = 10
SOCK = [None]  # the switch's control socket, set by scenario()


def no_teardown():
    pass


class Vm:
    """A testpmd over net_virtio_user: the VM side of one vhost-user port."""

    def __init__(self, name, tmp, devargs, mode, queues=1):
        self.log = os.path.join(tmp, name + ".log")
        self.cmd = [TESTPMD, "-l", "0,1", "--no-huge", "-m", "256", "--no-pci",
                    "--file-prefix", "%s-%d" % (name, os.getpid()), "--vdev", devargs, "--",
                    "--no-mlockall", "--total-num-mbufs=4096", "--forward-mode=" + mode,
                    "--rxq=%d" % queues, "--txq=%d" % queues, "--stats-period", "1"]
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
    sw = Switch(DPSWITCHD, db=True, name="dps-vhost", tmp=tmp, args=["--mbufs", "16384"],
                lcores=("--lcores", "0@0,1@1,2@1"))
    stops.append(sw.stop_and_tail)
    sw.start(timeout=60)
    SOCK[0] = sw.sock

    def vsctl(*args):
        return subprocess.run(["ovs-vsctl", "--db=unix:" + sw.sock, "--timeout=30"] + list(args),
                              capture_output=True, text=True, timeout=60)

    def ports():  # one snapshot of every port's counters
        r = subprocess.run([DPSCTL, "--db=unix:" + sw.sock, "--format=json", "port-stats"],
                           capture_output=True, text=True, timeout=30)
        return {s["port"]: s for s in json.loads(r.stdout)}

    def port(name):
        return ports().get(name, {})

    def tx_rx(name):
        p = port(name)
        return p.get("tx_packets", 0), p.get("rx_packets", 0)

    def link_becomes(name, state, timeout=10):
        return wait_for(lambda: port(name).get("link") == state, timeout, 0.2)

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
    wait_for(lambda: vm1.rx_packets() > 0, 15, 0.5)
    check(vm1.rx_packets() > 0, "VM1 receives VM0's frames (%d)" % vm1.rx_packets())

    multiqueue(tmp, stops, vsctl, port)
    before = ports() if other_port(vsctl) else {}
    def in_use():
        """The least of five samples: what is in flight comes and goes, a leak stays."""
        return min(json.loads(subprocess.run(
            [DPSCTL, "--db=unix:" + sw.sock, "--format=json", "memory/show"],
            capture_output=True, text=True, timeout=30).stdout)["mbufs_in_use"] for _ in range(5))
    mbufs0 = in_use()
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
    mbufs1 = in_use()
    # Rx rings hold their descriptors' mbufs throughout; what moves is what
    # is in flight (a few bursts per port).
    check(abs(mbufs1 - mbufs0) <= 1024, "mbufs in use back at the baseline after the restarts (%d -> %d)"
          % (mbufs0, mbufs1))
    after = ports()
    rx = after["n1"]["rx_packets"] - before["n1"]["rx_packets"]
    tx = after["n2"]["tx_packets"] - before["n2"]["tx_packets"]
    check(rx > 0 and abs(rx - tx) <= 4096 and after["n2"]["tx_dropped"] == before["n2"]["tx_dropped"],
          "n1 -> n2 on the other bridge lost nothing during the restarts (rx %d, tx %d)" % (rx, tx))

    vm0.stop()
    vm1.stop()
    r = vsctl("del-port", "vh0", "--", "del-port", "vh1")
    check(r.returncode == 0 and not os.path.exists(vh1_sock), "del-port removes the server socket", r.stderr)
    sw.stop()
    log = sw.log_tail(lines=5)
    check("0 mbufs out of the pool after shutdown" in log, "no mbuf leaked (dpswitchd's shutdown count)", log)


def other_port(vsctl):
    """br1: the endless net_null source n1 forwarded to n2 by rule."""
    r = vsctl("add-br", "br1", "--", "add-port", "br1", "n1", "--", "set", "Interface", "n1", "type=dpdk",
              "options:dpdk-devargs=net_null10", "ofport_request=1",
              "--", "add-port", "br1", "n2", "--", "set", "Interface", "n2", "type=dpdk",
              "options:dpdk-devargs=net_null11", "ofport_request=2",
              "--", "set", "bridge", "br1", "fail-mode=secure")
    ok = r.returncode == 0 and subprocess.run(
        [DPSCTL, "--db=unix:" + SOCK[0], "add-flow", "br1", "in_port=1,actions=output:2"], capture_output=True, timeout=30).returncode == 0
    check(ok, "br1: n1 -> n2 by rule", r.stderr)
    time.sleep(0.5)
    return ok


def multiqueue(tmp, stops, vsctl, port):
    """vh2: two queue pairs negotiated; vh3: the guest enables one of two."""
    vms = {}
    for name, queues, mode in (("vm2", 2, "txonly"), ("vm3", 1, "rxonly")):
        sock = os.path.join(tmp, name + ".sock")
        vms[name] = Vm(name, tmp, "net_virtio_user%s,path=%s,server=1,queues=%d" % (name[-1], sock, queues),
                       mode, queues)
        stops.append(vms[name].stop)
        vms[name].start()
        r = vsctl("add-port", "br0", "vh" + name[-1], "--", "set", "Interface", "vh" + name[-1],
                  "type=dpdkvhostuserclient", "options:vhost-server-path=" + sock, "options:n_rxq=2")
        check(r.returncode == 0, "vh%s: a client port with n_rxq=2" % name[-1], r.stderr)
    vh2 = lambda: port("vh2").get("vhost", {})  # noqa: E731
    check(wait_for(lambda: vh2().get("txq_enabled") == 2 and vh2().get("rxq_enabled") == 2, 15, 0.3),
          "vh2: the guest enabled both queue pairs (%s)" % vh2())
    status = lambda: vsctl("get", "Interface", "vh2", "status").stdout.strip()  # noqa: E731
    check(wait_for(lambda: "status=connected" in status() and 'n_txq_enabled="2"' in status(), 10) and
          "mode=client" in status() and "socket=" in status() and 'tx_retries="8"' in status(),
          "vh2's Interface.status follows the guest: connected, queues, mode, socket, tx_retries (%s)"
          % status())
    check(wait_for(lambda: all(q["packets"] > 0 for q in rxqs() if q["port"] == "vh2"), 15, 0.3),
          "vh2 receives on both of its rx queues (%s)" % [q for q in rxqs() if q["port"] == "vh2"])
    # Only vh0's frames now (VM2 stops), flooded to vh3 by the second PMD,
    # whose static queue (1) the guest never enables: only the remap
    # delivers them.
    vms["vm2"].stop()
    vsctl("set", "Interface", "vh0", "other_config:pmd-rxq-affinity=0:2")
    vh3 = lambda: port("vh3").get("vhost", {})  # noqa: E731
    check(wait_for(lambda: vh3().get("txq_enabled") == 1 and vh3().get("txq_remaps", 0) >= 1, 15, 0.3),
          "vh3: one tx queue of two enabled by the guest, the slots remapped (%s)" % vh3())
    before, rx0 = port("vh3"), vms["vm3"].rx_packets()
    time.sleep(3)
    after, rx1 = port("vh3"), vms["vm3"].rx_packets()
    sent = after["tx_packets"] - before["tx_packets"]
    dropped = after["tx_dropped"] - before["tx_dropped"]
    check(sent > 0 and rx1 > rx0, "the second PMD's frames reach VM3 through the remapped queue "
          "(%d sent, %d dropped by a full guest ring, VM3 rx %d -> %d)" % (sent, dropped, rx0, rx1))
    vsctl("remove", "Interface", "vh0", "other_config", "pmd-rxq-affinity")
    for name in vms:
        vms[name].stop()
    vsctl("del-port", "vh2", "--", "del-port", "vh3")


def rxqs():
    r = subprocess.run([DPSCTL, "--db=unix:" + SOCK[0], "--format=json", "pmd-rxq-show"],
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else []


def main():
    missing = [n for n, p in (("ovs-vsctl", shutil.which("ovs-vsctl")), ("dpdk-testpmd", TESTPMD)) if not p]
    if missing:
        print("FAIL: %s missing (scripts/bootstrap.sh installs them)" % ", ".join(missing))
        return 1
    return run_scenario("dps-vhost-", no_teardown, scenario)


if __name__ == "__main__":
    sys.exit(main())
