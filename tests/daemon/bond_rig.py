"""What the bond tests share: veth pairs between namespaces, af_packet
interfaces in ovs-vsctl's words, dpsctl bond/show by member, and the UDP
probe (bond_udp.py) with its gap and loss figures."""
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from checks import run, tx_csum_off  # noqa: E402

UDP = os.path.join(HERE, "bond_udp.py")


def veth(a, a_ns, b, b_ns):
    run(["ip", "link", "add", a, "netns", a_ns, "type", "veth", "peer", "name", b, "netns", b_ns])
    for dev, ns in ((a, a_ns), (b, b_ns)):
        run(["ip", "link", "set", dev, "up"], ns=ns)
        tx_csum_off(dev, ns=ns)


def quiet_netns(ns):
    """A new namespace with lo up and no IPv6 chatter on its links."""
    run(["ip", "netns", "add", ns])
    run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns, check_rc=False)
    run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"], ns=ns, check_rc=False)
    run(["ip", "link", "set", "lo", "up"], ns=ns)


def af_packet(dev, n):
    return ["--", "set", "Interface", dev, "type=dpdk", "options:dpdk-devargs=net_af_packet%d,iface=%s" % (n, dev)]


def members(ctl, bond="bond0"):
    """dpsctl bond/show's members by name ({} while the bond is not there)."""
    b = ctl.dpsctl("bond/show", bond)
    return {m["member"]: m for m in b[0]["members"]} if isinstance(b, list) and b else {}


def member_tx(ctl):
    return {k: m["tx_packets"] for k, m in members(ctl).items()}


def udp_run(tmp, name, src_ns, dst_ns, dst_ip, seconds, during, flows=1, pps=1000):
    """Runs the UDP stream src_ns -> dst_ip (received in dst_ns) for
    `seconds`, calling during() after 1 s; returns {flow: [[seq, t], ...]}
    as received."""
    out, run_id = os.path.join(tmp, name + ".json"), str(random.getrandbits(32))
    recv = subprocess.Popen(["ip", "netns", "exec", dst_ns, sys.executable, UDP, "recv", out, str(seconds + 1.5),
                             run_id], stderr=subprocess.PIPE, text=True)
    recv.stderr.readline()  # listening
    send = subprocess.Popen(["ip", "netns", "exec", src_ns, sys.executable, UDP, "send", dst_ip, str(flows),
                             str(pps), str(seconds), run_id])
    time.sleep(1)
    if during:
        during()
    send.wait(timeout=seconds + 30)
    recv.wait(timeout=seconds + 30)
    with open(out) as f:
        return {int(k): v for k, v in json.load(f).items()}


def lost_of(got, flow):
    rx = got.get(flow, [])
    return max(s for s, _ in rx) + 1 - len({s for s, _ in rx}) if rx else None


def gap_ms(got, flow=0):
    """(longest silence between two received datagrams in ms, lost count)."""
    rx = got.get(flow, [])
    if len(rx) < 2:
        return float("inf"), None
    times = [t for _, t in rx]
    return max(b - a for a, b in zip(times, times[1:])) * 1000, lost_of(got, flow)
