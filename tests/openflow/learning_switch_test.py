#!/usr/bin/env python3
"""A controller-driven learning switch through dpswitchd (issue 5, interop).

Our own minimal OpenFlow 1.3 controller (raw sockets + struct, no
framework) listens on a free loopback port; dpswitchd connects to it
(`--openflow tcp:127.0.0.1:PORT`, an active connection) and also listens
on a second port (`--openflow ptcp:PORT2:127.0.0.1`) for ovs-ofctl. Two
network namespaces each hold one end of a veth pair; the other ends are
dpswitchd's OpenFlow ports 1 and 2 (net_af_packet vdevs).

The controller: HELLO, FEATURES, SET_CONFIG (miss_send_len NO_BUFFER), a
table-miss flow entry (priority 0, empty match) -> CONTROLLER, then per
PACKET_IN learns (in_port, eth_src), installs in_port+eth_dst -> output
when the destination is known (a flow per direction) and sends the packet
with PACKET_OUT (its buffer, or the data), flooding when the destination is
unknown. Checked: `ip netns exec ns1 ping -c 3 -W 2 10.0.0.2` succeeds,
the controller learned both MACs on the right ports, received packet-ins
with reason no_match from the table-miss entry, and the flows it installed
are in `ovs-ofctl -O OpenFlow13 dump-flows`.

Needs root (namespaces, veths, af_packet); not root fails with a message.
Everything it creates has a per-run name and is removed in `finally`
(processes by PID).

Usage: DPSWITCHD=/path/to/dpswitchd learning_switch_test.py
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, failures, free_port  # noqa: E402

DPSWITCHD = os.environ.get("DPSWITCHD") or (sys.argv[1] if len(sys.argv) > 1 else "")
if os.geteuid() != 0:
    print("FAIL: the learning switch test needs root (network namespaces, veth pairs, "
          "af_packet); run it as root (CI does)")
    sys.exit(1)
missing = [n for n, p in (("ip (iproute2)", shutil.which("ip")),
                          ("ping (iputils-ping)", shutil.which("ping")),
                          ("ovs-ofctl (openvswitch-common)", shutil.which("ovs-ofctl"))) if not p]
if missing or not DPSWITCHD:
    print("FAIL: missing " + ", ".join(missing + ([] if DPSWITCHD else ["$DPSWITCHD"])) +
          " - run scripts/bootstrap.sh")
    sys.exit(1)

# ---- OpenFlow 1.3 wire (only what the controller needs) ----------------------
OFP_VERSION = 0x04
OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY, OFPT_SET_CONFIG = 5, 6, 9
OFPT_PACKET_IN, OFPT_PACKET_OUT, OFPT_FLOW_MOD = 10, 13, 14
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPP_FLOOD, OFPP_CONTROLLER = 0xfffffffb, 0xfffffffd
OFPCML_NO_BUFFER = 0xffff
OFP_NO_BUFFER = 0xffffffff
OFPR_NO_MATCH = 0
OXM_IN_PORT, OXM_ETH_DST = 0, 3


def header(t, length, xid):
    return struct.pack("!BBHI", OFP_VERSION, t, length, xid)


def message(t, body, xid):
    return header(t, 8 + len(body), xid) + body


def oxm(field, value):
    return struct.pack("!HBB", 0x8000, field << 1, len(value)) + value


def match(*fields):
    body = b"".join(fields)
    length = 4 + len(body)  # ofp_match.length excludes the padding
    raw = struct.pack("!HH", 1, length) + body
    return raw + b"\0" * ((8 - len(raw) % 8) % 8)


def action_output(port, max_len=OFPCML_NO_BUFFER):
    return struct.pack("!HHIH6x", 0, 16, port, max_len)


def apply_actions(actions):
    body = b"".join(actions)
    return struct.pack("!HH4x", 4, 8 + len(body)) + body


def flow_mod(xid, priority, m, instructions, buffer_id=OFP_NO_BUFFER, cookie=0):
    body = struct.pack("!QQBBHHHIIIH2x", cookie, 0, 0, 0, 0, 0, priority, buffer_id,
                       0xffffffff, 0xffffffff, 0)
    return message(OFPT_FLOW_MOD, body + m + instructions, xid)


def packet_out(xid, buffer_id, in_port, actions, data=b""):
    acts = b"".join(actions)
    body = struct.pack("!IIH6x", buffer_id, in_port, len(acts)) + acts
    return message(OFPT_PACKET_OUT, body + (data if buffer_id == OFP_NO_BUFFER else b""), xid)


def parse_match_in_port(raw):
    """(in_port, bytes consumed incl. padding) of an ofp_match."""
    mtype, length = struct.unpack_from("!HH", raw, 0)
    in_port = None
    off = 4
    while off + 4 <= length:
        cls, fh, flen = struct.unpack_from("!HBB", raw, off)
        if cls == 0x8000 and (fh >> 1) == OXM_IN_PORT:
            in_port = struct.unpack_from("!I", raw, off + 4)[0]
        off += 4 + flen
    return in_port, (length + 7) // 8 * 8


def mac_str(b):
    return ":".join("%02x" % x for x in b)


class Controller(threading.Thread):
    """A learning switch controller on an accepted switch connection."""

    def __init__(self, listener):
        super().__init__(daemon=True)
        self.listener = listener
        self.mac_to_port = {}
        self.flows = set()        # (in_port, eth_dst, out_port) installed
        self.packet_ins = 0
        self.no_match = 0         # packet-ins with reason no_match
        self.errors = []
        self.features = None
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.xid = 100
        self.lock = threading.Lock()

    def next_xid(self):
        self.xid += 1
        return self.xid

    def send(self, raw):
        self.sock.sendall(raw)

    def run(self):
        self.listener.settimeout(60)
        try:
            self.sock, _ = self.listener.accept()
        except OSError as e:
            self.errors.append("dpswitchd did not connect to the controller: %s" % e)
            return
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send(message(OFPT_HELLO, b"", 1))
        buf = b""
        while not self.stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                if not self.stop.is_set():
                    self.errors.append("the switch closed the connection")
                return
            buf += chunk
            while len(buf) >= 8:
                version, t, length, xid = struct.unpack_from("!BBHI", buf, 0)
                if length < 8:
                    self.errors.append("bad message length %d" % length)
                    return
                if len(buf) < length:
                    break
                msg, buf = buf[:length], buf[length:]
                self.handle(t, xid, msg)

    def handle(self, t, xid, msg):
        body = msg[8:]
        if t == OFPT_HELLO:
            self.send(message(OFPT_FEATURES_REQUEST, b"", 2))
        elif t == OFPT_ECHO_REQUEST:
            self.send(message(OFPT_ECHO_REPLY, body, xid))
        elif t == OFPT_ERROR:
            etype, code = struct.unpack_from("!HH", body, 0)
            self.errors.append("switch sent OFPT_ERROR type %d code %d (xid %d)" % (etype, code, xid))
        elif t == OFPT_FEATURES_REPLY:
            self.features = struct.unpack_from("!QIBB2xII", body, 0)
            # The whole frame in every packet-in (packet-ins by the pipeline).
            self.send(message(OFPT_SET_CONFIG, struct.pack("!HH", 0, OFPCML_NO_BUFFER), 3))
            # Table-miss flow entry: everything unmatched to the controller.
            self.send(flow_mod(4, 0, match(), apply_actions([action_output(OFPP_CONTROLLER)]),
                               cookie=0xc0))
            self.send(message(OFPT_BARRIER_REQUEST, b"", 5))
        elif t == OFPT_BARRIER_REPLY and xid == 5:
            self.connected.set()
        elif t == OFPT_PACKET_IN:
            self.packet_in(body)

    def packet_in(self, body):
        buffer_id, total_len, reason, table_id, cookie = struct.unpack_from("!IHBBQ", body, 0)
        in_port, mlen = parse_match_in_port(body[16:])
        data = body[16 + mlen + 2:]
        with self.lock:
            self.packet_ins += 1
            if reason == OFPR_NO_MATCH:
                self.no_match += 1
        if in_port is None or len(data) < 14:
            self.errors.append("packet-in without in_port or frame (%d bytes)" % len(data))
            return
        dst, src = data[0:6], data[6:12]
        with self.lock:
            self.mac_to_port[mac_str(src)] = in_port
            out = self.mac_to_port.get(mac_str(dst))
        if out is not None and out != in_port:
            # Install in_port + eth_dst -> output, the packet itself goes
            # with the flow-mod's buffer when it has one.
            m = match(oxm(OXM_IN_PORT, struct.pack("!I", in_port)), oxm(OXM_ETH_DST, dst))
            self.send(flow_mod(self.next_xid(), 1, m, apply_actions([action_output(out)]),
                               cookie=0x1ea4))
            with self.lock:
                self.flows.add((in_port, mac_str(dst), out))
        port = out if out is not None else OFPP_FLOOD
        self.send(packet_out(self.next_xid(), buffer_id, in_port, [action_output(port)], data))


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def main():
    tag = "%x" % (os.getpid() & 0xfffff)  # unique per run; names stay <= 15 chars
    ns = ["dpsls1-" + tag, "dpsls2-" + tag]
    sw_if = ["dpslA" + tag, "dpslB" + tag]   # dpswitchd's ends (root namespace)
    ns_if = ["dpsla" + tag, "dpslb" + tag]   # the namespaces' ends
    macs = ["02:00:00:5e:00:01", "02:00:00:5e:00:02"]
    ips = ["10.0.0.1", "10.0.0.2"]
    tmp = tempfile.mkdtemp(prefix="dps-lswitch-")
    daemon = None
    ctl = None
    listener = None
    created_ns, created_if = [], []
    try:
        for i in range(2):
            run(["ip", "netns", "add", ns[i]])
            created_ns.append(ns[i])
            run(["ip", "link", "add", sw_if[i], "type", "veth", "peer", "name", ns_if[i]])
            created_if.append(sw_if[i])
            run(["ip", "link", "set", ns_if[i], "netns", ns[i]])
            run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % sw_if[i]], check=False)
            run(["ip", "link", "set", sw_if[i], "up"])
            nx = ["ip", "netns", "exec", ns[i]]
            run(nx + ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], check=False)
            run(nx + ["ip", "link", "set", "lo", "up"])
            run(nx + ["ip", "link", "set", ns_if[i], "address", macs[i]])
            run(nx + ["ip", "addr", "add", ips[i] + "/24", "dev", ns_if[i]])
            run(nx + ["ip", "link", "set", ns_if[i], "up"])

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        ctl_port = listener.getsockname()[1]
        ofctl_port = free_port()
        ctl = Controller(listener)
        ctl.start()

        daemon = Switch(DPSWITCHD, vdevs=["net_af_packet0,iface=%s" % sw_if[0],
                                          "net_af_packet1,iface=%s" % sw_if[1]],
                        openflow=["tcp:127.0.0.1:%d" % ctl_port, "ptcp:%d:127.0.0.1" % ofctl_port],
                        args=["--mbufs", "16384"], name="dps-lswitch", tmp=tmp)
        daemon.start(timeout=60)

        up = ctl.connected.wait(60)
        check(up and daemon.alive(),
              "dpswitchd connected to the controller: HELLO, FEATURES, SET_CONFIG, table-miss entry",
              "; ".join(ctl.errors))
        if not up:
            return
        check(ctl.features is not None and ctl.features[1] > 0,
              "FEATURES_REPLY (n_buffers %s)" % (ctl.features[1] if ctl.features else "-"))

        # Let the af_packet ports settle before the first frame.
        time.sleep(1)
        r = run(["ip", "netns", "exec", ns[0], "ping", "-c", "3", "-W", "2", ips[1]], check=False,
                timeout=60)
        check(r.returncode == 0, "ns1 pings 10.0.0.2 through dpswitchd", r.stdout + r.stderr)

        with ctl.lock:
            learned = dict(ctl.mac_to_port)
            flows = set(ctl.flows)
            pins, no_match = ctl.packet_ins, ctl.no_match
        check(learned.get(macs[0]) == 1 and learned.get(macs[1]) == 2,
              "the controller learned %s on port 1 and %s on port 2" % (macs[0], macs[1]),
              learned)
        check((1, macs[1], 2) in flows and (2, macs[0], 1) in flows,
              "the controller installed a flow per direction", flows)
        check(pins > 0 and no_match == pins,
              "packet-ins (%d) came from the table-miss entry with reason no_match (%d)"
              % (pins, no_match))

        out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows",
                   "tcp:127.0.0.1:%d" % ofctl_port], check=False, timeout=20)
        text = out.stdout
        have = [l for l in text.splitlines() if "cookie=0x1ea4" in l]
        check(any("in_port=1" in l and "dl_dst=" + macs[1] in l and "actions=output:2" in l
                  for l in have) and
              any("in_port=2" in l and "dl_dst=" + macs[0] in l and "actions=output:1" in l
                  for l in have),
              "dump-flows shows the learned flows", text + out.stderr)
        check(any("priority=0" in l and "actions=CONTROLLER:65535" in l for l in text.splitlines()),
              "dump-flows shows the table-miss entry", text)
        # The learned flows carried the ping's later packets.
        check(any("n_packets=0" not in l for l in have),
              "the learned flows count packets", "\n".join(have))
        check(not ctl.errors, "no OpenFlow errors", "; ".join(ctl.errors))
        check(daemon.alive(), "dpswitchd still running")
    finally:
        if ctl:
            ctl.stop.set()
        if daemon:
            daemon.stop(timeout=15)
        if listener:
            listener.close()
        if daemon and failures:
            print("--- dpswitchd log (tail) ---\n" + daemon.log_tail(40))
        for i in created_if:
            run(["ip", "link", "del", i], check=False)
        for n in created_ns:
            run(["ip", "netns", "del", n], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


try:
    main()
except Exception as e:  # setup failures are test failures, with the reason
    check(False, "setup: %s" % e)
if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all checks passed")
