#!/usr/bin/env python3
"""A dpswitch bond's behaviour under real traffic, one scenario after the
other on one running switch:

   ns HA: hosta 10.67.0.1 --veth-- ha [dpswitchd br0, NORMAL]  bond0 = d1 + d2 (+ d3)
                                       d1 ---veth--- p1 \\
                                       d2 ---veth--- p2  } ns P: 10.67.0.2 on p1; p1, p2, p3
                                       d3 ---veth--- p3 /        share one MAC, so a datagram
                                                                  arriving on any is received

The probe is bond_udp.py: UDP flows from HA to 10.67.0.2 (a static
neighbour in HA, so NORMAL floods it to the bond), each datagram numbered,
received in ns P whichever member carried it; a lost datagram is 1 ms of
traffic at 1000 pps.
  A. active-backup, no delays: the active member's link goes down under the
     probe: under 100 datagrams lost, the other member takes over; the
     link back up does not take the traffic back (no preemption).
  B. active-backup, bond_updelay=500 bond_downdelay=300: the active
     member's link goes down: bond/show says "waiting for downdelay" and
     the traffic stays on it for the downdelay (between 200 and 450
     datagrams lost, against under 100 in A), then fails back to the first
     member; the link back up: "waiting for updelay", enabled no sooner
     than 450 ms later.
  C. balance-tcp (no LACP), 64 flows at 2000 pps: member d3 added with
     add-bond-iface under traffic carries some of it, then del-bond-iface
     removes it; nothing is lost on any flow.
  D. balance-slb: four source MACs that hash to one member send equal
     load; with bond-rebalance-interval=1000 buckets move until the last
     second's traffic is split between the two members (each 30-70%).
  E. LACP against a scripted partner (lacp_partner.py): p2 answers from
     another aggregator (another key): d1 aggregates, d2 stays out
     (lacp/show not attached, bond/show disabled), all traffic on d1 and
     none lost; the partner moves p2 into d1's aggregator: d2 attaches and
     carries traffic.
Usage: bond_behaviour_test.py DPSWITCHD DPSCTL (root)."""
import os
import subprocess
import sys
import time

from bond_rig import UDP, af_packet, gap_ms, lost_of, member_tx, members, quiet_netns, udp_run, veth
from checks import Ctl, Switch, check, run, run_scenario, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
TAG = "%x" % (os.getpid() & 0xffff)
NS = {k: "bondb%s%s" % (k, TAG) for k in ("D", "HA", "P")}
HA_IP, P_IP = "10.67.0.1", "10.67.0.2"
HA_MAC, P_MAC = "02:67:00:00:00:01", "02:67:00:00:00:02"


def p_side(dev):
    """A member's peer in ns P: the shared MAC, no reverse-path filter."""
    run(["ip", "link", "set", dev, "address", P_MAC], ns=NS["P"])
    run(["sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % dev], ns=NS["P"])


def topology():
    for ns in NS.values():
        quiet_netns(ns)
    for k in ("all", "default"):
        run(["sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % k], ns=NS["P"])
    veth("ha", NS["D"], "hosta", NS["HA"])
    for n in (1, 2):
        veth("d%d" % n, NS["D"], "p%d" % n, NS["P"])
        p_side("p%d" % n)
    run(["ip", "link", "set", "hosta", "address", HA_MAC], ns=NS["HA"])
    run(["ip", "addr", "add", HA_IP + "/24", "dev", "hosta"], ns=NS["HA"])
    run(["ip", "neigh", "replace", P_IP, "lladdr", P_MAC, "dev", "hosta", "nud", "permanent"], ns=NS["HA"])
    run(["ip", "addr", "add", P_IP + "/24", "dev", "p1"], ns=NS["P"])


def teardown():
    for ns in NS.values():
        run(["ip", "netns", "del", ns], check_rc=False)


def probe(tmp, name, seconds, during, flows=1, pps=1000):
    return udp_run(tmp, name, NS["HA"], NS["P"], P_IP, seconds, during, flows, pps)


def link(dev, state):
    run(["ip", "link", "set", dev, state], ns=NS["D"])


def active(ctl):
    return next((k for k, m in members(ctl).items() if m["active"]), None)


def scenario_a(tmp, ctl):
    check(wait_for(lambda: len(members(ctl)) == 2 and all(m["enabled"] for m in members(ctl).values())
                   and active(ctl), timeout=15), "A: active-backup bond0 up, both members enabled", members(ctl))
    first = active(ctl)
    other = "d2" if first == "d1" else "d1"
    gap, lost = gap_ms(probe(tmp, "a-down", 2.5, lambda: link(first, "down")))
    check(lost is not None and lost < 100 and active(ctl) == other,
          "A: %s down under the probe: %s takes over, %s datagrams (ms) lost (< 100), longest silence %.1f ms"
          % (first, other, lost, gap), members(ctl))
    link(first, "up")
    check(wait_for(lambda: members(ctl)[first]["enabled"], timeout=5) and active(ctl) == other,
          "A: %s back up is enabled and does not take the traffic back (%s stays active)" % (first, other),
          members(ctl))
    return first, other


def downdelay_phase(tmp, ctl, first, other):
    seen = {}

    def down():
        link(other, "down")
        t0 = time.time()
        while time.time() - t0 < 0.25 and "delay" not in seen:
            m = members(ctl)[other]
            if m.get("delay") == "downdelay" and m["enabled"]:
                seen["delay"] = m
    gap, lost = gap_ms(probe(tmp, "b-down", 3.0, down))
    check("delay" in seen, "B: right after %s's link goes down bond/show has it enabled, waiting for downdelay"
          % other, seen)
    check(lost is not None and 200 <= lost <= 450 and active(ctl) == first,
          "B: with bond_downdelay=300 the traffic stays on %s for the delay: %s datagrams (ms) lost "
          "(200-450; under 100 without it); then it fails back to %s" % (other, lost, first), members(ctl))


def updelay_phase(ctl, first, other):
    t0, waiting = time.time(), []
    link(other, "up")

    def enabled():
        m = members(ctl)[other]
        if m.get("reason") == "waiting for updelay":
            waiting.append(m["delay_expires_ms"])
        return m["enabled"]
    ok = wait_for(enabled, timeout=5, step=0.05)
    took = (time.time() - t0) * 1000
    check(ok and waiting and took >= 450,
          "B: %s's link back up: waiting for updelay (%s ms left when first seen), enabled %.0f ms after "
          "the link came up (bond_updelay=500)" % (other, waiting[:1], took), members(ctl))
    check(active(ctl) == first, "B: %s stays active when %s returns" % (first, other), members(ctl))


def scenario_b(tmp, ctl, first, other):
    ctl.vsctl("set", "port", "bond0", "bond_updelay=500", "bond_downdelay=300")
    check(wait_for(lambda: ctl.dpsctl("bond/show", "bond0")[0]["downdelay_ms"] == 300, timeout=5),
          "B: bond/show reads bond_updelay=500 bond_downdelay=300")
    downdelay_phase(tmp, ctl, first, other)
    updelay_phase(ctl, first, other)
    ctl.vsctl("set", "port", "bond0", "bond_updelay=0", "bond_downdelay=0")


def rx_packets(dev):
    return int(run(["cat", "/sys/class/net/%s/statistics/rx_packets" % dev], ns=NS["P"]).stdout)


def scenario_c(tmp, ctl):
    ctl.vsctl("set", "port", "bond0", "bond_mode=balance-tcp")
    veth("d3", NS["D"], "p3", NS["P"])
    p_side("p3")
    seen = {}

    def hot():
        ctl.vsctl("add-bond-iface", "bond0", "d3", *af_packet("d3", 3))
        seen["up"] = wait_for(lambda: members(ctl).get("d3", {}).get("enabled"), timeout=3, step=0.05)
        time.sleep(0.5)
        seen["tx"], seen["rx"] = member_tx(ctl).get("d3", 0), rx_packets("p3")
        ctl.vsctl("del-bond-iface", "bond0", "d3")
        seen["after"] = sorted(members(ctl))
    got = probe(tmp, "c-hot", 5.0, hot, flows=64, pps=2000)
    lost = sum(lost_of(got, f) or 0 for f in range(64))
    received = sum(len(v) for v in got.values())
    check(seen.get("up") and seen.get("tx", 0) > 0 and seen.get("rx", 0) > 0,
          "C: add-bond-iface d3 under traffic: d3 enabled and carrying flows (bond/show tx %s, p3 rx %s)"
          % (seen.get("tx"), seen.get("rx")))
    check(seen.get("after") == ["d1", "d2"], "C: del-bond-iface d3: bond0 is d1 + d2 again", seen.get("after"))
    per_flow = {f: lost_of(got, f) for f in range(64) if lost_of(got, f)}
    check(len(got) == 64 and lost == 0 and received >= 9000,
          "C: 64 flows at 2000 pps across the add and the removal: %d received, %d lost" % (received, lost),
          "lost per flow: %s; longest silence per flow (ms): %s" % (per_flow, {
              f: round(gap_ms(got, f)[0]) for f in per_flow}))


def slb_send(macs, pps, seconds, wait=True):
    cmd = ["ip", "netns", "exec", NS["HA"], sys.executable, UDP, "raw", "hosta", P_MAC, HA_IP, P_IP,
           str(pps), str(seconds), ",".join(macs)]
    p = subprocess.Popen(cmd)
    if wait:
        p.wait(timeout=seconds + 30)
    return p


def mac_members(ctl, macs):
    """Which member each source MAC's bucket sends on (one short burst each)."""
    out = {}
    for mac in macs:
        before = member_tx(ctl)
        slb_send([mac], 1000, 0.04)
        time.sleep(0.1)
        after = member_tx(ctl)
        out[mac] = max(after, key=lambda k: after[k] - before.get(k, 0))
    return out


def scenario_d(ctl):
    ctl.vsctl("set", "port", "bond0", "bond_mode=balance-slb", "other_config:bond-rebalance-interval=0")
    where = mac_members(ctl, ["02:67:10:00:00:%02x" % i for i in range(1, 17)])
    heavy = max(("d1", "d2"), key=lambda m: sum(1 for v in where.values() if v == m))
    macs = [k for k, v in where.items() if v == heavy][:4]
    check(len(macs) >= 2, "D: source MACs hashing to one member: %s on %s" % (macs, heavy), where)
    moved0 = ctl.dpsctl("bond/show", "bond0")[0]["rebalanced_buckets"]
    ctl.vsctl("set", "port", "bond0", "other_config:bond-rebalance-interval=1000")
    sender = slb_send(macs, 2000, 4.5, wait=False)
    time.sleep(3.3)
    before = member_tx(ctl)
    time.sleep(1.0)
    after = member_tx(ctl)
    sender.wait(timeout=30)
    split = {k: after[k] - before[k] for k in after}
    total = sum(split.values())
    moved = ctl.dpsctl("bond/show", "bond0")[0]["rebalanced_buckets"] - moved0
    check(moved >= 1 and total >= 1500 and all(0.3 * total <= v <= 0.7 * total for v in split.values()),
          "D: balance-slb with all load on %s: rebalancing moved %d bucket(s); the last second's split %s"
          % (heavy, moved, split))


def lacp_members(ctl):
    r = ctl.dpsctl("lacp/show", "bond0")
    return {m["member"]: m for m in r[0]["members"]} if isinstance(r, list) and r else {}


def spread(tmp, ctl, name):
    """64 flows for 1.5 s: ({member: packets it sent meanwhile}, datagrams lost)."""
    before = {}
    got = probe(tmp, name, 1.5, lambda: before.update(member_tx(ctl)), flows=64, pps=2000)
    after = member_tx(ctl)
    return {k: after[k] - before.get(k, 0) for k in after}, sum(lost_of(got, f) or 0 for f in got)


def scenario_e(tmp, ctl, stops):
    control = os.path.join(tmp, "partner.keys")
    with open(control, "w") as f:
        f.write("p1 1\np2 2\n")
    partner = subprocess.Popen(["ip", "netns", "exec", NS["P"], sys.executable,
                                os.path.join(HERE, "lacp_partner.py"), control, "p1", "p2"])
    stops.append(lambda: (partner.kill(), partner.wait()))
    ctl.vsctl("set", "port", "bond0", "lacp=active", "bond_mode=balance-tcp", "other_config:lacp-time=fast")

    def mismatch():
        m = lacp_members(ctl)
        return m.get("d1", {}).get("attached") and m.get("d2", {}).get("status") == "current" and \
            not m["d2"]["attached"]
    check(wait_for(mismatch, timeout=10), "E: p2 in another aggregator: lacp/show has d1 attached, d2 current "
          "but not attached", lacp_members(ctl))
    m = members(ctl)
    check(m["d1"]["enabled"] and not m["d2"]["enabled"] and m["d2"].get("reason", "").startswith("LACP"),
          "E: bond/show: d1 enabled, d2 kept out (%s)" % m["d2"].get("reason"), m)
    split, lost = spread(tmp, ctl, "e-mismatch")
    check(split["d2"] == 0 and split["d1"] >= 1000 and lost == 0,
          "E: 64 flows all on d1, none on d2, none lost: %s, %d lost" % (split, lost))
    with open(control, "w") as f:
        f.write("p1 1\np2 1\n")
    check(wait_for(lambda: members(ctl)["d2"]["enabled"] and lacp_members(ctl)["d2"]["attached"], timeout=10),
          "E: the partner moves p2 into d1's aggregator: d2 attaches and is enabled", lacp_members(ctl))
    split, lost = spread(tmp, ctl, "e-agreed")
    check(min(split.values()) >= 0.2 * sum(split.values()) and lost == 0,
          "E: then the 64 flows spread over both members: %s, %d lost" % (split, lost))


def scenario(tmp, stops):
    topology()
    sw = Switch(DPSWITCHD, db=True, name="bondb" + TAG, tmp=os.path.join(tmp, "dps"), netns=NS["D"],
                args=["--mbufs", "16384"])
    os.makedirs(sw.tmp, exist_ok=True)
    sw.start_or_exit("dpswitchd starts in its namespace", timeout=150)
    stops.append(sw.stop_and_tail)
    ctl = Ctl(sw, DPSCTL)
    ctl.vsctl("--may-exist", "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
              "--", "add-port", "br0", "ha", *af_packet("ha", 0),
              "--", "add-bond", "br0", "bond0", "d1", "d2", "bond_mode=active-backup",
              *af_packet("d1", 1), *af_packet("d2", 2))
    run(["ip", "link", "set", "br0", "down"], ns=NS["D"], check_rc=False)
    first, other = scenario_a(tmp, ctl)
    scenario_b(tmp, ctl, first, other)
    scenario_c(tmp, ctl)
    scenario_d(ctl)
    scenario_e(tmp, ctl, stops)


def main():
    if os.geteuid() != 0:
        print("FAIL: needs root")
        return 1
    return run_scenario("bondb-", teardown, scenario)


if __name__ == "__main__":
    sys.exit(main())
