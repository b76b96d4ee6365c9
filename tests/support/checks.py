"""Shared helpers of the Python integration tests (tests/*/*_test.py).

check() prints one "ok"/"FAIL" line per assertion and collects the failures;
each script ends with its own summary and exit code from `failures`.

Switch is the switch-process fixture: dpswitchd with its own EAL
--file-prefix and --no-huge, its own temporary directory (log, and with
db=True the config store file and its control socket), started and waited
for until its control socket answers, and stopped by PID:

    sw = Switch(DPSWITCHD, vdevs=["net_null0", "net_null1"],
                openflow=["ptcp:%d:127.0.0.1" % free_port()])
    with sw:                     # start() ... stop()
        ...                      # sw.tmp, sw.sock, sw.log_path, sw.alive()

With db=True it runs with `--db TMP/conf.db --remote punix:TMP/db.sock`
(sw.sock) and is ready once the socket accepts a connection (plus `ready`,
when given: e.g. a `dpsctl version` that succeeds). Without a store it runs
`--no-db` and is ready once its first passive OpenFlow listener (ptcp:)
accepts a connection; with neither, once it has stayed up for a moment.
The same Switch can be started again after stop() (same store file, same
file prefix): what a restart test needs.

switch_test() is the whole main() of a namespace test around one such
Switch with its store: the root/tool check (skip, 77), setup and teardown,
the start, the body, the closing "still running" check and the cleanup.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

failures = []


# A client of an echo server: "tcp"|"udp" IP PORT; sends "hi", prints the
# answer, exits 1 on a timeout or error (run it with python3 -c in a namespace).
ECHO_CLIENT = r"""
import socket, sys
proto, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == "tcp":
        s = socket.create_connection((ip, port), timeout=2); s.sendall(b"hi")
        print(s.recv(100).decode())
    else:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
        u.sendto(b"hi", (ip, port)); print(u.recvfrom(100)[0].decode())
except OSError as e:
    print("failed:", e); sys.exit(1)
"""


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
        if detail:
            print("     " + str(detail).replace("\n", "\n     "), flush=True)


def wait_for(cond, timeout=10, step=0.1):
    """True as soon as cond() holds, else cond() once more after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def run_scenario(prefix, teardown, body):
    """Runs body(tmp, stops) in a fresh temporary directory between two
    teardown() calls. body appends a callable to `stops` for each process it
    starts; they run in reverse order whatever happens, each returning its
    log tail, printed when a check failed. An exception is a failure.
    Prints "N failed" and returns the exit status."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    stops = []
    try:
        teardown()
        body(tmp, stops)
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        check(False, "no exception", repr(e))
    finally:
        for stop in reversed(stops):
            tail = stop()
            if failures and isinstance(tail, str):
                print("--- log tail ---\n" + tail[-2000:])
        teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


def start_capture(dev, path, ns=None, limit=60):
    """tshark writing what `dev` (in namespace ns) sees to `path`; returns
    the process once tshark says the capture has started (a loaded host can
    take seconds to get there). stop_capture() ends it; `limit` seconds is
    only a safety net."""
    cmd = ["tshark", "-q", "-i", dev, "-w", path, "-a", "duration:%d" % limit]
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "Capture started" in line:
            break
    threading.Thread(target=p.stderr.read, daemon=True).start()
    return p


def stop_capture(p, timeout=30):
    """Ends a start_capture() (SIGINT: tshark writes what it has and exits)."""
    time.sleep(0.3)  # the last frames of the traffic just sent
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    p.wait(timeout=timeout)


# A veth's transmit checksum offload hands af_packet frames with unfinished
# checksums (only the pseudo-header sum in the field) and TSO super-frames,
# which a switch must not forward as they are: tests switch it off (ethtool's
# ETHTOOL_STXCSUM, which takes TSO with it, without ethtool installed).
_TX_CSUM_OFF = """
import ctypes, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
val = ctypes.create_string_buffer(struct.pack("II", 0x17, 0), 8)    # ETHTOOL_STXCSUM, off
ifr = struct.pack("16sQ16x", sys.argv[1].encode(), ctypes.addressof(val))
fcntl.ioctl(s.fileno(), 0x8946, ifr)                                 # SIOCETHTOOL
"""


def run(cmd, check_rc=True, timeout=60, ns=None):
    """Runs cmd (inside network namespace ns), capturing its output as
    text; a non-zero exit raises RuntimeError unless check_rc is False."""
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def guarded(body, cleanup, on_error=None):
    """Runs body(); an exception is one failed check (then on_error());
    cleanup() always runs. Prints the summary line and returns the exit
    status: 1 when any check failed, else 0."""
    try:
        body()
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        check(False, "no exception", repr(e))
        if on_error:
            on_error()
    finally:
        cleanup()
    print("%d failed" % len(failures))
    return 1 if failures else 0


class Ctl:
    """ovs-vsctl and dpsctl (JSON answers parsed) against a running Switch's
    store socket."""

    def __init__(self, sw, dpsctl):
        self.sw, self.dpsctl_bin = sw, dpsctl

    def vsctl(self, *args, check_rc=True):
        return run(["ovs-vsctl", "--db=unix:" + self.sw.sock, "--timeout=30"] + list(args), check_rc=check_rc)

    def dpsctl(self, *args):
        """The command's JSON answer, or its output as text when it is not JSON."""
        r = run([self.dpsctl_bin, "--db=unix:" + self.sw.sock, "--timeout=10", "--format=json"] + list(args),
                check_rc=False)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return r.stdout + r.stderr


def guarded_switch(sw, tmp, teardown, body, before=None, procs=()):
    """guarded() for a test around one Switch working in tmp: on the way out
    the processes in procs (a list the body may fill) are killed, before()
    runs when given, then the switch, teardown() and tmp go; on an error the
    switch's log tail is printed first."""
    def cleanup():
        for p in procs:
            p.kill()
            p.wait()
        if before:
            before()
        sw.stop()
        teardown()
        shutil.rmtree(tmp, ignore_errors=True)

    return guarded(body, cleanup, on_error=lambda: print(sw.log_tail()))


def switch_test(dpswitchd, name, teardown, setup, body, tools=("ovs-vsctl", "ovs-ofctl")):
    """The main() of a namespace test around one dpswitchd with its own
    store (db=True), named name: exit 77 (skipped) without root or one of
    tools on the PATH; else, in a fresh temporary directory, guarded_switch()
    around teardown(), setup(), the switch's start, body(sw, tmp, procs)
    (procs: a list the body fills with the processes to kill on the way out)
    and a last check that dpswitchd is still running. Returns the exit
    status."""
    if os.geteuid() != 0 or not all(shutil.which(t) for t in tools):
        print("SKIP: needs root, " + " and ".join(tools))
        return 77
    tmp = tempfile.mkdtemp(prefix=name + "-")
    sw = Switch(dpswitchd, db=True, name=name, tmp=tmp)
    procs = []

    def guarded_body():
        teardown()
        setup()
        sw.start(timeout=60)
        body(sw, tmp, procs)
        check(sw.alive(), "dpswitchd still running", sw.log_tail())

    return guarded_switch(sw, tmp, teardown, guarded_body, procs=procs)


def tx_csum_off(dev, ns=None):
    """Switches off dev's transmit checksum offload (in namespace ns)."""
    import sys
    cmd = [sys.executable, "-c", _TX_CSUM_OFF, dev]
    subprocess.run((["ip", "netns", "exec", ns] if ns else []) + cmd, check=True)


def veth_in_netns(ns, host, dev, mac, addr=None):
    """A new namespace ns holding the veth end dev (MAC mac, address addr
    when given, up, IPv6 off) whose peer host stays in the root namespace
    (up, IPv6 off); transmit checksum offload off on both ends, so af_packet
    ports get finished frames."""
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", host, "type", "veth", "peer", "name", dev])
    run(["ip", "link", "set", dev, "netns", ns])
    run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % host], check_rc=False)
    run(["ip", "link", "set", host, "up"])
    run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns, check_rc=False)
    run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"], ns=ns, check_rc=False)
    run(["ip", "link", "set", dev, "address", mac], ns=ns)
    if addr:
        run(["ip", "addr", "add", addr, "dev", dev], ns=ns)
    run(["ip", "link", "set", dev, "up"], ns=ns)
    tx_csum_off(dev, ns=ns)
    tx_csum_off(host)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connects(family, address):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


class SwitchError(RuntimeError):
    """dpswitchd exited early or did not become ready (the message has its log)."""


class Switch:
    _count = 0  # instances in this process: each gets its own --file-prefix

    def __init__(self, dpswitchd, vdevs=(), openflow=(), args=(), db=False,
                 lcores=("-l", "0,1"), mem_mb=1024, name="dps", tmp=None, ready=None,
                 netns=None):
        """dpswitchd: the binary; vdevs: --vdev values; openflow: --openflow
        targets; args: further daemon options (after `--`); db: run the
        config store (else --no-db); lcores: the EAL core options; name: the
        prefix of the file prefix and the temporary directory; tmp: use this
        directory (kept) instead of a new one (removed by cleanup());
        ready: an extra readiness test, a callable returning True when up;
        netns: run it inside this network namespace (ip netns exec)."""
        Switch._count += 1
        self.dpswitchd = dpswitchd
        self.vdevs = list(vdevs)
        self.openflow = list(openflow)
        self.args = list(args)
        self.db = db
        self.lcores = list(lcores)
        self.mem_mb = mem_mb
        self.ready = ready
        self.netns = netns
        self.file_prefix = "%s-%d-%d" % (name, os.getpid(), Switch._count)
        self._own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix=name + "-")
        self.log_path = os.path.join(self.tmp, "dpswitchd.log")
        self.sock = os.path.join(self.tmp, "db.sock") if db else None
        self.db_path = os.path.join(self.tmp, "conf.db") if db else None
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def command(self):
        cmd = ["ip", "netns", "exec", self.netns] if self.netns else []
        cmd += [self.dpswitchd, *self.lcores, "--no-huge", "-m", str(self.mem_mb), "--no-pci",
               "--file-prefix", self.file_prefix]
        for v in self.vdevs:
            cmd += ["--vdev", v]
        cmd.append("--")
        for t in self.openflow:
            cmd += ["--openflow", t]
        if self.db:
            cmd += ["--db", self.db_path, "--remote", "punix:" + self.sock]
        else:
            cmd.append("--no-db")
        return cmd + self.args

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _control_socket_answers(self):
        if self.db:
            return os.path.exists(self.sock) and _connects(socket.AF_UNIX, self.sock)
        for t in self.openflow:
            parts = t.split(":")
            if parts[0] == "ptcp":
                return _connects(socket.AF_INET, (parts[2] if len(parts) > 2 else "127.0.0.1",
                                                  int(parts[1])))
        return True

    def start(self, timeout=30, echo=True):
        """Starts dpswitchd and waits until it is ready; raises SwitchError
        (with the log's tail) when it exits or is not ready in time."""
        if self.alive():
            raise SwitchError("dpswitchd is already running (pid %d)" % self.pid)
        cmd = self.command()
        if echo:
            print("+ " + " ".join(cmd), flush=True)
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        settle = time.time() + 0.5
        while time.time() < deadline:
            if not self.alive():
                raise SwitchError("dpswitchd exited early (status %s); log:\n%s"
                                  % (self.proc.returncode, self.log_tail()))
            if (self._control_socket_answers() and (self.ready is None or self.ready())
                    and (self.db or self.openflow or time.time() >= settle)):
                return self
            time.sleep(0.1)
        self.stop()
        raise SwitchError("dpswitchd did not become ready in %ds; log:\n%s"
                          % (timeout, self.log_tail()))

    def start_or_exit(self, what, timeout=30):
        """start(), recorded as the check `what`; a switch that does not
        come up ends the test (exit 1) with its log as the detail."""
        why = ""
        try:
            self.start(timeout=timeout)
        except SwitchError as e:
            why = str(e)
        check(self.alive(), what, why)
        if not self.alive():
            raise SystemExit(1)
        return self

    def stop(self, timeout=30):
        """SIGTERM by PID, SIGKILL after timeout; returns the exit status
        (None when it was not started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stop_and_tail(self):
        """stop(), then the log's tail (a run_scenario stop)."""
        self.stop()
        return self.log_tail()

    def log_tail(self, lines=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def cleanup(self):
        """Stops it and removes the temporary directory it made."""
        self.stop()
        if self._own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
