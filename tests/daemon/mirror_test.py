#!/usr/bin/env python3
"""Port mirrors (the OVSDB Mirror table) through dpswitchd, end to end.

Topology (made and removed by this script; names carry a per-run tag):

    ns A: a (10.77.0.1/24)   ns B: b (10.77.0.2/24)   ns M: m (no address)
          | veth                   | veth                    | veth
    root: ha --af_packet--  [ br0 ]  --af_packet-- hb        hm --af_packet-- br0

IPv6 is off and the neighbours are static, so the only traffic is the
pings. dpswitchd runs with its config store; the real ovs-vsctl builds br0
(a NORMAL learning switch) and the mirrors. The captures record what B and A
receive and what the analyser port hm delivers into M (raw AF_PACKET
sockets inside the namespaces: no capture tool needed). Checked:
  - select_src_port=ha: M sees exactly A's echo requests, byte-identical to
    the frames B received, and none of B's replies;
  - `ovs-vsctl -- --id=@p get port hm -- --id=@m create mirror name=m0
    select_all=true output_port=@p -- set bridge br0 mirrors=@m` (the
    issue's command, unchanged): M sees requests and replies, each once,
    byte-identical to what A and B received;
  - Mirror.statistics tx_packets / tx_bytes written back (ovs-vsctl get);
  - a bad mirror (output port also selected) is refused with a precise
    error in dpsctl mirror/show and the log, and changes nothing else
    (the pings still go through);
  - `ovs-vsctl clear bridge br0 mirrors`: M sees nothing more.
Usage: mirror_test.py DPSWITCHD DPSCTL. Needs root and ovs-vsctl (skipped,
exit 77, without them).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Ctl, Switch, check, guarded_switch, run, veth_in_netns  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TAG = "%x" % (os.getpid() & 0xffff)
NS = {"a": "dpsmra" + TAG, "b": "dpsmrb" + TAG, "m": "dpsmrm" + TAG}
HOST = {"a": "dpsmha" + TAG, "b": "dpsmhb" + TAG, "m": "dpsmhm" + TAG}
DEV = {k: "v" + k for k in NS}  # the namespace ends
IP = {"a": "10.77.0.1", "b": "10.77.0.2"}
MAC = {"a": "02:77:00:00:00:01", "b": "02:77:00:00:00:02", "m": "02:77:00:00:00:03"}
BR = "dpsmbr" + TAG  # also the name of its internal port's tap device
PINGS = 5


def setup():
    for k in ("a", "b", "m"):
        veth_in_netns(NS[k], HOST[k], DEV[k], MAC[k], IP[k] + "/24" if k in IP else None)
    for k, other in (("a", "b"), ("b", "a")):
        run(["ip", "neigh", "replace", IP[other], "lladdr", MAC[other], "nud", "permanent", "dev", DEV[k]], ns=NS[k])


def teardown():
    for k in ("a", "b", "m"):
        run(["ip", "netns", "del", NS[k]], check_rc=False)
        run(["ip", "link", "del", HOST[k]], check_rc=False)


# A raw AF_PACKET capture of what an interface receives (not what it sends),
# one frame a line in hex, until SIGTERM; "listening" on stderr once bound.
_CAPTURE = """
import signal, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
out = open(sys.argv[2], "w")
print("listening", file=sys.stderr, flush=True)
while not stop:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] != socket.PACKET_OUTGOING:
        out.write(data.hex() + chr(10))
        out.flush()
"""


class Capture:
    """What interface k receives, captured inside its namespace."""

    def __init__(self, tmp, k, phase):
        self.path = os.path.join(tmp, "%s-%s.hex" % (phase, k))
        self.proc = subprocess.Popen(["ip", "netns", "exec", NS[k], sys.executable, "-c", _CAPTURE, DEV[k], self.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.proc.stderr.readline()  # "listening"

    def stop(self):
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [bytes.fromhex(line.strip()) for line in f if line.strip()]


def icmp_type(frame):
    """ICMP type of an untagged IPv4 ICMP frame, else None."""
    if len(frame) < 35 or frame[12:14] != b"\x08\x00" or frame[23] != 1:
        return None
    return frame[14 + (frame[14] & 0x0f) * 4]


def phase(tmp, name):
    """Pings A -> B while capturing on A, B and M: (ping ok, frames per side)."""
    caps = {k: Capture(tmp, k, name) for k in ("a", "b", "m")}
    r = run(["ping", "-c", str(PINGS), "-i", "0.2", "-W", "2", IP["b"]], check_rc=False, ns=NS["a"])
    frames = {k: c.stop() for k, c in caps.items()}
    return r.returncode == 0, frames, r.stdout + r.stderr


class Cfg(Ctl):
    def __init__(self, sw):
        super().__init__(sw, DPSCTL)

    def mirrors(self):
        return self.dpsctl("mirror/show")


def build(cfg):
    args = ["add-br", BR]
    for i, k in enumerate(("a", "b", "m")):
        args += ["--", "add-port", BR, HOST[k], "--", "set", "Interface", HOST[k], "type=dpdk",
                 "options:dpdk-devargs=net_af_packet%d,iface=%s" % (i, HOST[k])]
    cfg.vsctl(*args)
    # The bridge's own port (a tap) stays quiet: nothing but the pings.
    run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % BR], check_rc=False)
    run(["ip", "link", "set", BR, "down"], check_rc=False)
    for k in ("a", "b", "m"):
        err = cfg.vsctl("get", "Interface", HOST[k], "error").stdout.strip()
        check(err in ("[]", ""), "%s is a port of the bridge" % HOST[k], err)


def ingress_only(cfg, tmp):
    cfg.vsctl("--", "--id=@p", "get", "port", HOST["m"], "--", "--id=@a", "get", "port", HOST["a"],
              "--", "--id=@m", "create", "mirror", "name=m0", "select_src_port=@a", "output_port=@p",
              "--", "set", "bridge", BR, "mirrors=@m")
    ok, fr, out = phase(tmp, "src")
    check(ok, "A pings B with a select_src_port mirror", out)
    req_b = [f for f in fr["b"] if icmp_type(f) == 8]
    check(len(req_b) == PINGS, "B received %d echo requests" % len(req_b))
    check(sorted(fr["m"]) == sorted(req_b),
          "the analyser saw exactly A's echo requests, byte-identical to B's (%d frames)" % len(fr["m"]),
          [f.hex() for f in fr["m"]])
    cfg.vsctl("clear", "bridge", BR, "mirrors")


def select_all(cfg, tmp):
    # The command, unchanged.
    cfg.vsctl("--", "--id=@p", "get", "port", HOST["m"], "--", "--id=@m", "create", "mirror", "name=m0",
              "select_all=true", "output_port=@p", "--", "set", "bridge", BR, "mirrors=@m")
    ok, fr, out = phase(tmp, "all")
    check(ok, "A pings B with a select_all mirror", out)
    seen = sorted([f for f in fr["b"] if icmp_type(f) == 8] + [f for f in fr["a"] if icmp_type(f) == 0])
    check(len(seen) == 2 * PINGS, "A and B received %d requests + replies" % len(seen))
    check(sorted(fr["m"]) == seen,
          "the analyser saw each request and reply once, byte-identical (%d frames)" % len(fr["m"]),
          [f.hex() for f in fr["m"]])
    listed = cfg.vsctl("--columns=name,select_all", "list", "mirror").stdout
    check("m0" in listed and "true" in listed, "ovs-vsctl list mirror shows m0", listed)
    stats = ""
    for _ in range(30):  # written back every 5 s
        stats = cfg.vsctl("get", "mirror", "m0", "statistics").stdout.strip()
        if "tx_packets=%d" % (2 * PINGS) in stats.replace('"', "").replace(" ", ""):
            break
        time.sleep(0.5)
    check("tx_packets=%d" % (2 * PINGS) in stats.replace('"', "").replace(" ", "") and "tx_bytes" in stats,
          "Mirror.statistics counts the %d copies" % (2 * PINGS), stats)


def bad_mirror(cfg, tmp):
    cfg.vsctl("clear", "bridge", BR, "mirrors")
    cfg.vsctl("--", "--id=@p", "get", "port", HOST["m"], "--", "--id=@m", "create", "mirror", "name=bad",
              "select_src_port=@p", "output_port=@p", "--", "set", "bridge", BR, "mirrors=@m")
    shown = cfg.mirrors()
    want = "mirror bad: output_port %s is also selected (select_src_port / select_dst_port)" % HOST["m"]
    check(isinstance(shown, list) and len(shown) == 1 and shown[0].get("error") == want,
          "dpsctl mirror/show gives the bad mirror's precise error", shown)
    check(want in open(cfg.sw.log_path).read(), "the log has the error", cfg.sw.log_tail(10))
    ok, fr, out = phase(tmp, "bad")
    check(ok and not fr["m"], "a bad mirror changes nothing else: pings pass, no copies", out)


def cleared(cfg, tmp):
    cfg.vsctl("clear", "bridge", BR, "mirrors")
    left = cfg.vsctl("list", "mirror").stdout.strip()
    check(left == "", "the unreferenced Mirror rows are gone", left)
    ok, fr, out = phase(tmp, "none")
    check(ok, "A pings B after the mirror is cleared", out)
    check(not fr["m"], "the analyser sees nothing once the mirrors are cleared (%d frames)" % len(fr["m"]))


def main():
    if os.geteuid() != 0 or not shutil.which("ovs-vsctl"):
        print("SKIP: needs root and ovs-vsctl")
        return 77
    tmp = tempfile.mkdtemp(prefix="dps-mirror-")
    sw = Switch(DPSWITCHD, db=True, name="dps-mirror", tmp=tmp)

    def body():
        teardown()
        setup()
        sw.start(timeout=60)
        cfg = Cfg(sw)
        build(cfg)
        ok, _, out = phase(tmp, "warm")
        check(ok, "A pings B through the bridge (no mirror)", out)
        ingress_only(cfg, tmp)
        select_all(cfg, tmp)
        bad_mirror(cfg, tmp)
        cleared(cfg, tmp)
        check(sw.alive(), "dpswitchd still running", sw.log_tail())

    return guarded_switch(sw, tmp, teardown, body)


if __name__ == "__main__":
    sys.exit(main())
