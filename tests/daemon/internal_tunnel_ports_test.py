#!/usr/bin/env python3
"""Internal ports and tunnel ports, configured with the real ovs-vsctl.

Internal ports: `ovs-vsctl add-br B` makes a kernel tap named B (up, the
bridge MTU, OpenFlow port LOCAL = ofport 65534). A veth pair joins a
network namespace to B (its switch end is an af_packet port). With
`ip addr add` on B the host stack reaches the namespace through the bridge
(NORMAL): ping and TCP (python sockets, 1 MiB each way, checked by digest)
both ways. mtu_request on B changes the tap's MTU in place (the address
stays); a type=internal port is a tap too; del-port and del-br remove the
devices.

Tunnel ports: add-port BT vx0 -- set interface vx0 type=vxlan
options:remote_ip=172.16.1.2 options:key=5000 gets an ofport and shows in
ovs-ofctl show; bad options (remote_ip=notanip, key=2^24, dst_port=70000,
an unknown option) each give a precise Interface.error while another port
added in the same transaction works; an option change keeps the ofport;
Open_vSwitch.iface_types lists the supported types.

Usage: internal_tunnel_ports_test.py DPSWITCHD DPSCTL  (exit 77 = skipped:
not root, or no ovs-vsctl / ip / /dev/net/tun)
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, failures, free_port, tx_csum_off  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
VSCTL, OFCTL = shutil.which("ovs-vsctl"), shutil.which("ovs-ofctl")
if os.geteuid() != 0 or not VSCTL or not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
    print("SKIP: needs root, ovs-vsctl (openvswitch-switch), ip and /dev/net/tun")
    sys.exit(77)

TAG = "%d" % (os.getpid() % 100000)
BR, BT = "dpsb" + TAG, "dpst" + TAG        # bridges (BR's tap is the host's port)
NS = "dpsn" + TAG                           # the namespace "host" on the bridge
VSW, VNS = "dpsv" + TAG, "dpsw" + TAG       # veth: switch end, namespace end
INT = "dpsi" + TAG                          # a type=internal port
SOCK = [None]  # the running switch's control socket
HOST_IP, NS_IP = "10.213.%d.1" % (os.getpid() % 250), "10.213.%d.2" % (os.getpid() % 250)


def run(cmd, check_rc=True, timeout=30, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check_rc and r.returncode != 0:
        print("command failed: %s\nstdout: %s\nstderr: %s" % (cmd, r.stdout, r.stderr))
    return r


def link_exists(name):
    return run(["ip", "link", "show", name], check_rc=False).returncode == 0


def link_mtu(name):
    out = run(["ip", "-o", "link", "show", name], check_rc=False).stdout.split()
    return int(out[out.index("mtu") + 1]) if "mtu" in out else None


def setup_namespace():
    run(["ip", "netns", "add", NS])
    run(["ip", "link", "add", VSW, "type", "veth", "peer", "name", VNS])
    run(["ip", "link", "set", VNS, "netns", NS])
    nx = ["ip", "netns", "exec", NS]
    run(nx + ["ip", "link", "set", "lo", "up"])
    run(nx + ["ip", "addr", "add", NS_IP + "/24", "dev", VNS])
    run(nx + ["ip", "link", "set", VNS, "up"])
    tx_csum_off(VNS, ns=NS)
    tx_csum_off(VSW)
    run(["ip", "link", "set", VSW, "up"])


def cleanup_namespace():
    run(["ip", "netns", "del", NS], check_rc=False)
    run(["ip", "link", "del", VSW], check_rc=False)


# A TCP server that reads everything, answers with the byte count and a
# digest, and exits: run in the namespace or on the host.
SERVER = """
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(20)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(20)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
c.sendall(("%d %s" % (n, h.hexdigest())).encode()); c.close()
"""

CLIENT = """
import hashlib, os, socket, sys
data = os.urandom(1 << 20)
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
c.sendall(data); c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    b = c.recv(4096)
    if not b: break
    reply += b
want = "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
print("ok" if reply.decode() == want else "mismatch: %s != %s" % (reply.decode(), want))
"""


def tcp_transfer(server_prefix, server_ip, client_prefix, port):
    srv = subprocess.Popen(server_prefix + [sys.executable, "-c", SERVER, server_ip, str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        srv.stdout.readline()  # "listening"
        r = run(client_prefix + [sys.executable, "-c", CLIENT, server_ip, str(port)], check_rc=False)
        srv.wait(timeout=25)
        return r.stdout.strip() + r.stderr.strip()[-300:]
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def internal_port_tests(vsctl, get):
    check(vsctl("add-br", BR).returncode == 0, "add-br %s" % BR)
    check(link_exists(BR), "add-br makes a kernel device named %s" % BR)
    check("UP" in run(["ip", "-o", "link", "show", BR]).stdout.split("<")[1].split(">")[0],
          "the internal port is up")
    check(get("Interface", BR, "ofport") == "65534", "the bridge's internal port is OpenFlow LOCAL (ofport 65534)")
    check(link_mtu(BR) == 1500 and get("Interface", BR, "mtu") == "1500",
          "the internal port has the bridge MTU (1500, no other port yet): %s" % link_mtu(BR))
    with open("/sys/class/net/%s/ifindex" % BR) as f:
        ifindex = f.read().strip()
    check(get("Interface", BR, "ifindex") == ifindex, "Interface.ifindex is the tap's (%s)" % ifindex)
    mac = get("Interface", BR, "mac_in_use").strip('"')
    check(mac in run(["ip", "-o", "link", "show", BR]).stdout, "mac_in_use is the tap's MAC (%s)" % mac)
    r = vsctl("add-port", BR, VSW, "--", "set", "Interface", VSW, "type=dpdk",
              "options:dpdk-devargs=net_af_packet%s,iface=%s" % (TAG, VSW))
    check(r.returncode == 0 and get("Interface", VSW, "ofport").isdigit(),
          "the veth is an af_packet port of %s (ofport %s)" % (BR, get("Interface", VSW, "ofport")))
    run(["ip", "addr", "add", HOST_IP + "/24", "dev", BR])

    r = run(["ping", "-c", "3", "-W", "2", NS_IP], check_rc=False)
    check(r.returncode == 0, "host -> namespace ping through the bridge", r.stdout[-300:])
    r = run(["ip", "netns", "exec", NS, "ping", "-c", "3", "-W", "2", HOST_IP], check_rc=False)
    check(r.returncode == 0, "namespace -> host ping through the bridge", r.stdout[-300:])
    nx = ["ip", "netns", "exec", NS]
    out = tcp_transfer(nx, NS_IP, [], 5201)
    check(out == "ok", "TCP host -> namespace: 1 MiB arrives intact (%s)" % out)
    out = tcp_transfer([], HOST_IP, nx, 5202)
    check(out == "ok", "TCP namespace -> host: 1 MiB arrives intact (%s)" % out)
    r = run([DPSCTL, "--db=unix:" + SOCK[0], "--format=json", "port-stats"], check_rc=False)
    st = {p["port"]: p for p in json.loads(r.stdout or "[]")}.get(BR, {})
    check(st.get("rx_packets", 0) > 700 and st.get("tx_packets", 0) > 700,
          "the internal port counts what it moved (rx %s, tx %s)" % (st.get("rx_packets"), st.get("tx_packets")))

    vsctl("set", "Interface", BR, "mtu_request=1400")
    check(link_mtu(BR) == 1400 and get("Interface", BR, "mtu") == "1400",
          "mtu_request=1400 applies to the tap (%s)" % link_mtu(BR))
    addrs = run(["ip", "-o", "addr", "show", BR]).stdout
    check(HOST_IP in addrs, "the address stays across the MTU change (no re-creation)")
    r = run(["ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1372", NS_IP], check_rc=False)
    check(r.returncode == 0, "a 1400-byte packet passes at MTU 1400")
    vsctl("clear", "Interface", BR, "mtu_request")
    check(link_mtu(BR) == 1500, "without mtu_request the bridge MTU is back (%s)" % link_mtu(BR))

    vsctl("set", "Bridge", BR, "other-config:hwaddr=02:00:00:00:aa:01")
    check("02:00:00:00:aa:01" in run(["ip", "-o", "link", "show", BR]).stdout
          and get("Interface", BR, "mac_in_use") == '"02:00:00:00:aa:01"',
          "Bridge other_config:hwaddr sets the tap's MAC and mac_in_use")
    check(HOST_IP in run(["ip", "-o", "addr", "show", BR]).stdout, "the address stays across the MAC change")
    vsctl("set", "Bridge", BR, "other-config:hwaddr=01:00:5e:00:00:01")
    err = get("Interface", BR, "error")
    check("is not a unicast Ethernet address" in err and "hwaddr" in err,
          "a multicast hwaddr: a precise Interface.error", err)
    vsctl("remove", "Bridge", BR, "other-config", "hwaddr")
    check(get("Interface", BR, "error") in ("[]", "") and get("Interface", BR, "ofport") == "65534",
          "without hwaddr the port is back, no error")

    r = vsctl("add-port", BR, INT, "--", "set", "Interface", INT, "type=internal", "mac=\"02:00:00:00:bb:02\"")
    check("02:00:00:00:bb:02" in run(["ip", "-o", "link", "show", INT]).stdout,
          "Interface.mac sets a type=internal port's MAC")
    of = get("Interface", INT, "ofport")
    check(r.returncode == 0 and of.isdigit() and of != "65534" and link_exists(INT),
          "a type=internal port is a tap with an OpenFlow number (%s)" % of)
    vsctl("del-port", INT)
    check(not link_exists(INT), "del-port removes the internal port's device")
    vsctl("del-br", BR)
    check(not link_exists(BR), "del-br removes the bridge's internal device")


def bad_with_good(vsctl, get, name, opts, good, expect):
    """Adds `name` with bad options and `good` (fine) in one transaction."""
    args = ["add-port", BT, name, "--", "set", "Interface", name, "type=vxlan"] + \
           ["options:%s" % o for o in opts] + \
           ["--", "add-port", BT, good, "--", "set", "Interface", good, "type=vxlan",
            "options:remote_ip=172.16.1.9", "options:key=9"]
    vsctl(*args, check_rc=False)
    err = get("Interface", name, "error").strip('"')
    check(err == expect and get("Interface", name, "ofport") == "-1",
          "%s: precise error (%s)" % (" ".join(opts), err))
    check(get("Interface", good, "ofport").isdigit() and get("Interface", good, "error") in ("[]", ""),
          "... while %s in the same transaction works" % good)
    vsctl("del-port", name)
    vsctl("del-port", good)


def tunnel_port_tests(vsctl, get):
    types = vsctl("get", "Open_vSwitch", ".", "iface_types").stdout
    check(all(t in types for t in ("vxlan", "geneve", "gre", "internal", "dpdk", "patch")),
          "Open_vSwitch.iface_types lists the supported types (%s)" % types.strip())
    vsctl("add-br", BT)
    of_port = free_port()
    vsctl("set-controller", BT, "ptcp:%d:127.0.0.1" % of_port)
    r = vsctl("add-port", "%s" % BT, "vx0", "--", "set", "interface", "vx0", "type=vxlan",
              "options:remote_ip=172.16.1.2", "options:key=5000")
    of = get("Interface", "vx0", "ofport")
    check(r.returncode == 0 and of.isdigit() and int(of) >= 1, "a vxlan port gets an ofport (%s)" % of)
    check(get("Interface", "vx0", "error") in ("[]", ""), "... and no error")
    if OFCTL:
        show = ""
        for _ in range(30):
            show = run([OFCTL, "-O", "OpenFlow13", "show", "tcp:127.0.0.1:%d" % of_port], check_rc=False).stdout
            if "vx0" in show:
                break
            time.sleep(0.2)
        check("%s(vx0)" % of in show, "ovs-ofctl show lists vx0 as port %s" % of, show[-600:])
        check(" LOCAL(%s): addr:" % BT in show, "... and the internal port as LOCAL(%s)" % BT, show[-600:])
    vsctl("set", "interface", "vx0", "options:key=flow", "options:dst_port=8472")
    check(get("Interface", "vx0", "ofport") == of and get("Interface", "vx0", "error") in ("[]", ""),
          "an option change keeps the port (ofport %s)" % get("Interface", "vx0", "ofport"))
    r = vsctl("add-port", BT, "gn0", "--", "set", "interface", "gn0", "type=geneve",
              "options:remote_ip=2001:db8::2", "options:key=flow", "--",
              "add-port", BT, "gr0", "--", "set", "interface", "gr0", "type=gre",
              "options:remote_ip=flow", "options:key=4000000000")
    check(get("Interface", "gn0", "ofport").isdigit() and get("Interface", "gr0", "ofport").isdigit(),
          "geneve (IPv6 underlay) and gre ports too")
    bad_with_good(vsctl, get, "bad1", ["remote_ip=notanip"], "ok1",
                  "bad1: options:remote_ip: 'notanip' is not an IPv4 or IPv6 address (nor 'flow')")
    bad_with_good(vsctl, get, "bad2", ["remote_ip=172.16.1.3", "key=16777216"], "ok2",
                  "bad2: options:key: 16777216 is out of range (a 24-bit VXLAN VNI: 0..16777215, or 'flow')")
    bad_with_good(vsctl, get, "bad3", ["remote_ip=172.16.1.3", "dst_port=70000"], "ok3",
                  "bad3: options:dst_port: '70000' is not a UDP port (1..65535)")
    bad_with_good(vsctl, get, "bad4", ["remote_ip=172.16.1.3", "colour=blue"], "ok4",
                  "bad4: options:colour is not supported for a vxlan port (supported: csum, df_default, "
                  "dst_port, in_key, key, local_ip, out_key, packet_type, remote_ip, tos, ttl)")
    vsctl("set", "interface", "vx0", "options:remote_ip=bogus")
    check(get("Interface", "vx0", "ofport") == "-1" and "options:remote_ip" in get("Interface", "vx0", "error"),
          "a port whose options go bad is removed and says why")
    vsctl("del-br", BT)


def main():
    sw = Switch(DPSWITCHD, db=True, name="dps-itp")
    cleanup_namespace()
    try:
        setup_namespace()
        with sw:
            SOCK[0] = sw.sock

            def vsctl(*args, check_rc=True):
                return run([VSCTL, "--db=unix:" + sw.sock, "--timeout=20"] + list(args), check_rc=check_rc)

            def get(table, rec, col):
                return vsctl("get", table, rec, col, check_rc=False).stdout.strip()

            internal_port_tests(vsctl, get)
            tunnel_port_tests(vsctl, get)
            check(sw.alive(), "dpswitchd is still running")
        if failures:
            print(sw.log_tail(60))
    finally:
        sw.cleanup()
        cleanup_namespace()
    n_fail = len(failures)
    print("%d failed" % n_fail if n_fail else "all passed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
