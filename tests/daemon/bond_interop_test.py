#!/usr/bin/env python3
"""A dpswitch bond against a real LACP partner: OVS-DPDK's bond, end to end.

   ns HA: hosta 10.66.0.1 --veth-- ha [dpswitchd br0]  bond0 = d1 + d2 (af_packet)
                                         d1 ---veth--- o1  \\
                                         d2 ---veth--- o2  / bond0 [OVS-DPDK br0] hb --veth-- hostb 10.66.0.2 :ns HB

dpswitchd (ns D) and OVS-DPDK (ns O, its own db and DPDK prefix) are both
configured with the real ovs-vsctl: `add-bond br0 bond0 d1 d2 lacp=active
bond_mode=balance-tcp other_config:lacp-time=fast`. Checked, for
balance-tcp and then active-backup:
  - LACP negotiates: dpsctl lacp/show has both members current and
    attached with OVS's system id as partner; ovs-appctl lacp/show has both
    of OVS's members current and attached with our system id as partner and
    our state synchronized, collecting, distributing;
  - ping both ways; (balance-tcp) 64 UDP flows are spread over both members
    (bond/show's per-member tx packets);
  - failover: a UDP probe flow every 1 ms from HA to HB; the member carrying
    it is taken down (`ip link set dX down` in ns D): the probe goes on, the
    datagrams lost (x 1 ms: the failover gap) must stay under 100; the
    longest silence between two received probes is printed too (on a
    loaded host it includes the sender's own scheduling stalls); bond/show shows the member disabled (no carrier);
  - the member back up re-aggregates on both sides;
  - (active-backup) bond/set-active-member moves the active member, and
    bond/disable-member / enable-member take a member out and back, with
    the probe running (gap printed, under 100 ms).
The reverse direction's gap (OVS sending to us) is printed, not checked:
OVS-DPDK's net_af_packet has no carrier, so OVS waits for LACP's 3 s.
Usage: bond_interop_test.py DPSWITCHD DPSCTL [quick]. quick (make test):
balance-tcp only, one failover. Needs root and openvswitch-switch-dpdk.
"""
import json
import os
import re
import subprocess
import sys
import time

from bond_rig import UDP, af_packet, gap_ms, members, quiet_netns, udp_run as rig_udp_run, veth
from checks import Ctl, Switch, check, run, run_scenario, wait_for  # noqa: E402
from ovs_peer import OVS_VSWITCHD, OvsDpdk  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
QUICK = sys.argv[3:4] == ["quick"]
TAG = "%x" % (os.getpid() & 0xffff)
NS = {k: "bonds2%s%s" % (k, TAG) for k in ("D", "O", "HA", "HB")}
IP = {"HA": "10.66.0.1", "HB": "10.66.0.2"}
MAC = {"HA": "02:66:00:00:00:01", "HB": "02:66:00:00:00:02"}
GAP_GOAL_MS = 100
OF_PORT = 6681  # dpswitchd's OpenFlow listener on br0 (its namespace)


def topology():
    for ns in NS.values():
        quiet_netns(ns)
    veth("d1", NS["D"], "o1", NS["O"])
    veth("d2", NS["D"], "o2", NS["O"])
    veth("ha", NS["D"], "hosta", NS["HA"])
    veth("hb", NS["O"], "hostb", NS["HB"])
    for h, dev in (("HA", "hosta"), ("HB", "hostb")):
        run(["ip", "link", "set", dev, "address", MAC[h]], ns=NS[h])
        run(["ip", "addr", "add", IP[h] + "/24", "dev", dev], ns=NS[h])


def teardown():
    for ns in NS.values():
        run(["ip", "netns", "del", ns], check_rc=False)


def bond_args(mode, members):
    return ["--", "add-bond", "br0", "bond0", *members, "lacp=active", "bond_mode=" + mode,
            "other_config:lacp-time=fast"]


def configure(dps, ovs, mode):
    dps.vsctl("--may-exist", "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
              "--", "add-port", "br0", "ha", *af_packet("ha", 0), *bond_args(mode, ("d1", "d2")),
              *af_packet("d1", 1), *af_packet("d2", 2))
    ovs.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
              "--", "add-port", "br0", "hb", *af_packet("hb", 0), *bond_args(mode, ("o1", "o2")),
              *af_packet("o1", 1), *af_packet("o2", 2))
    for ns in (NS["D"], NS["O"]):  # the bridges' own ports stay quiet
        run(["ip", "link", "set", "br0", "down"], ns=ns, check_rc=False)


def ovs_lacp(ovs):
    """ovs-appctl lacp/show bond0 as {member: {key: value}} (plus "" for the bond)."""
    out, cur = {"": {}}, ""
    for line in ovs.appctl("lacp/show", "bond0").splitlines():
        if line.startswith("member: ") or line.startswith("slave: "):
            name, status = line.split(": ", 1)[1].split(":", 1)
            cur = name.strip()
            out[cur] = {"status": status.strip()}
        elif ":" in line:
            k, v = line.strip().split(":", 1)
            out[cur][k.strip()] = v.strip()
    return out


def lacp_up(ctl, ovs):
    """Both ends aggregate both members with the other as partner."""
    ours = ctl.dpsctl("lacp/show", "bond0")
    theirs = ovs_lacp(ovs)
    if not isinstance(ours, list) or len(ours) != 1:
        return False, ours
    o = ours[0]
    ok = o["negotiated"] and all(m["status"] == "current" and m["attached"] and m["may_enable"] and
                                 m["partner"]["sys_id"] == theirs[""].get("sys_id") for m in o["members"])
    for m in ("o1", "o2"):
        t = theirs.get(m, {})
        ok = ok and t.get("status") == "current attached" and t.get("partner sys_id") == o["sys_id"] and \
            all(b in t.get("partner state", "") for b in ("synchronized", "collecting", "distributing"))
    return ok, (o, theirs)


def ping(src, dst, count=3):
    r = run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", dst], ns=NS[src], check_rc=False)
    return r.returncode == 0, r.stdout[-300:] + r.stderr


def udp_run(tmp, name, src, dst, seconds, during, flows=1, pps=1000):
    return rig_udp_run(tmp, name, NS[src], NS[dst], IP[dst], seconds, during, flows, pps)


def carrier_of_probe(ctl, probe_ns, dst):
    """The member carrying a 1-flow probe: the one whose tx grows."""
    before = {k: m["tx_packets"] for k, m in members(ctl).items()}
    run([sys.executable, UDP, "send", IP[dst], "1", "500", "0.4"], ns=probe_ns)
    after = {k: m["tx_packets"] for k, m in members(ctl).items()}
    return max(after, key=lambda k: after[k] - before.get(k, 0))


def wait_lacp(ctl, ovs, what, timeout=15):
    t0 = time.time()
    ok = wait_for(lambda: lacp_up(ctl, ovs)[0], timeout=timeout, step=0.2)
    check(ok, "%s (%.1f s)" % (what, time.time() - t0), "" if ok else json.dumps(lacp_up(ctl, ovs)[1])[:3000])
    return ok


def failover(tmp, ctl, ovs, mode, member):
    """Takes `member` down under a 1 ms probe; checks the gap; brings it back."""
    def down():
        run(["ip", "link", "set", member, "down"], ns=NS["D"])
    got = udp_run(tmp, "%s-down-%s" % (mode, member), "HA", "HB", 3.0, down)
    gap, lost = gap_ms(got)
    check(lost is not None and lost < GAP_GOAL_MS,
          "%s: %s down under a 1 ms UDP probe HA->HB: %s lost = %s ms of traffic (goal < %d ms); "
          "longest silence %.1f ms" % (mode, member, lost, lost, GAP_GOAL_MS, gap))
    m = members(ctl)
    check(not m[member]["enabled"] and m[member].get("reason") == "no carrier",
          "%s: bond/show has %s disabled (no carrier)" % (mode, member), m.get(member))
    ok, out = ping("HA", IP["HB"])
    check(ok, "%s: ping with %s down" % (mode, member), out)
    # The other direction, for the record: OVS sees no carrier on af_packet.
    got = udp_run(tmp, "%s-rev-%s" % (mode, member), "HB", "HA", 1.0, None)
    rgap, rlost = gap_ms(got)
    print("info %s: HB->HA (OVS sending) with %s down: gap %.1f ms, %s lost" % (mode, member, rgap, rlost))
    run(["ip", "link", "set", member, "up"], ns=NS["D"])
    wait_lacp(ctl, ovs, "%s: %s back up: LACP re-aggregates both members on both ends" % (mode, member))
    check(wait_for(lambda: all(x["enabled"] for x in members(ctl).values()), timeout=5),
          "%s: bond/show has both members enabled again" % mode, members(ctl))


def port_tx(ctl):
    """{OpenFlow port: tx packets} from ovs-ofctl dump-ports on dpswitchd."""
    out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", "tcp:127.0.0.1:%d" % OF_PORT],
              ns=NS["D"]).stdout
    return {p: int(tx) for p, tx in re.findall(r"port\s+(\S+):.*?\n\s+tx pkts=(\d+)", out)}


def spread(ctl):
    ctl.vsctl("set-controller", "br0", "ptcp:%d:127.0.0.1" % OF_PORT, "--", "set", "bridge", "br0",
              "fail-mode=standalone")
    time.sleep(1)
    before, ports_before = {k: m["tx_packets"] for k, m in members(ctl).items()}, port_tx(ctl)
    run([sys.executable, UDP, "send", IP["HB"], "64", "4000", "1"], ns=NS["HA"])
    after = {k: m["tx_packets"] - before[k] for k, m in members(ctl).items()}
    total = sum(after.values())
    check(total >= 3000 and min(after.values()) >= total * 0.2,
          "balance-tcp: 64 UDP flows spread over both members %s" % after, after)
    # The bond is one OpenFlow port: its counters are its members' sums.
    ports = {p: n - ports_before.get(p, 0) for p, n in port_tx(ctl).items()}
    check(max(ports.values(), default=0) >= total,
          "ovs-ofctl dump-ports: the bond port's tx counts both members (%d sent by the bond)" % total, ports)


def bond_metrics(ctl):
    """The metrics endpoint's bond figures agree with bond/show and lacp/show."""
    ctl.vsctl("set", "Open_vSwitch", ".", "other_config:metrics-listen=127.0.0.1:9477")
    got = {}

    def scrape():
        r = run(["curl", "-s", "--max-time", "2", "http://127.0.0.1:9477/metrics"], ns=NS["D"], check_rc=False)
        got["text"] = r.stdout
        return "dpswitch_lacp_negotiated" in r.stdout
    check(wait_for(scrape, timeout=10), "metrics endpoint lists the bond's figures", got.get("text", "")[-500:])
    p = subprocess.run(["promtool", "check", "metrics"], input=got.get("text", ""), capture_output=True, text=True)
    check(p.returncode == 0 and not (p.stdout + p.stderr).strip(),
          "promtool check metrics: the exposition with the bond and LACP families is valid, no lint problem",
          p.stdout + p.stderr)
    fam = {}
    for line in got.get("text", "").splitlines():
        m = re.match(r'(dpswitch_(?:bond|lacp)_\w+)\{([^}]*)\} (\S+)$', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            fam[(m.group(1), labels.get("member", ""), labels.get("kind", ""))] = float(m.group(3))
    shown = members(ctl)
    check(fam.get(("dpswitch_lacp_negotiated", "", "")) == 1, "dpswitch_lacp_negotiated 1", fam)
    for name, m in shown.items():
        check(fam.get(("dpswitch_bond_member_enabled", name, "")) == (1 if m["enabled"] else 0) and
              fam.get(("dpswitch_lacp_pdus_total", name, "rx"), 0) > 0,
              "member %s: enabled as bond/show says, LACPDUs received" % name, fam)
    tx = sum(v for (f, _, _), v in fam.items() if f == "dpswitch_bond_member_tx_packets_total")
    want = sum(m["tx_packets"] for m in shown.values())  # read just after the scrape
    check(want > 0 and 0.95 * want <= tx <= want,
          "dpswitch_bond_member_tx_packets_total matches bond/show's tx packets (%d, %d)" % (tx, want))


def admin_ops(tmp, ctl):
    m = members(ctl)
    act = next(k for k, x in m.items() if x["active"])
    other = "d2" if act == "d1" else "d1"
    r = ctl.dpsctl("bond/set-active-member", "bond0", other)
    m = members(ctl)
    check(m[other]["active"], "active-backup: bond/set-active-member bond0 %s makes it active" % other, r)
    r = ctl.dpsctl("bond/set-active-member", "bond0", "nosuch")
    check(isinstance(r, str) and "bond bond0 has no member nosuch" in r,
          "bond/set-active-member with an unknown member: a precise error", r)

    def disable():
        ctl.dpsctl("bond/disable-member", "bond0", other)
    got = udp_run(tmp, "ab-disable", "HA", "HB", 2.5, disable)
    gap, lost = gap_ms(got)
    m = members(ctl)
    check(m[act]["active"] and not m[other]["enabled"] and m[other]["reason"] == "disabled by bond/disable-member",
          "active-backup: bond/disable-member %s: %s takes over" % (other, act), m)
    check(lost is not None and lost < GAP_GOAL_MS,
          "active-backup: bond/disable-member under the probe: %s lost (1 ms each); longest silence %.1f ms"
          % (lost, gap))
    ctl.dpsctl("bond/enable-member", "bond0", other)
    check(wait_for(lambda: members(ctl)[other]["enabled"], timeout=5), "bond/enable-member %s: enabled again" % other)
    text = run([DPSCTL, "--db=unix:" + ctl.sw.sock, "bond/show", "bond0"]).stdout
    check("---- bond0 ----" in text and "bond_mode: active-backup" in text and "member d1: enabled" in text
          and "lacp_status: negotiated" in text, "dpsctl bond/show prints OVS's layout", text)
    text = run([DPSCTL, "--db=unix:" + ctl.sw.sock, "lacp/show"]).stdout
    check("status: active negotiated" in text and "member: d2: current attached" in text and
          "partner state: activity timeout aggregation synchronized collecting distributing" in text,
          "dpsctl lacp/show prints OVS's layout", text)


def scenario(tmp, stops):
    topology()
    sw = Switch(DPSWITCHD, db=True, name="bonds2", tmp=os.path.join(tmp, "dps"), netns=NS["D"],
                args=["--mbufs", "16384"])
    os.makedirs(sw.tmp, exist_ok=True)
    sw.start_or_exit("dpswitchd starts in its namespace", timeout=150)
    stops.append(sw.stop_and_tail)
    ctl = Ctl(sw, DPSCTL)
    os.makedirs(os.path.join(tmp, "ovs"), exist_ok=True)
    ovs = OvsDpdk(NS["O"], os.path.join(tmp, "ovs"), "bonds2ovs" + TAG)
    stops.append(ovs.stop)
    configure(ctl, ovs, "balance-tcp")
    wait_lacp(ctl, ovs, "balance-tcp: LACP negotiates both members on both ends", timeout=30)
    ok, out = ping("HA", IP["HB"])
    check(ok, "balance-tcp: HA pings HB through both bonds", out)
    ok, out = ping("HB", IP["HA"])
    check(ok, "balance-tcp: HB pings HA", out)
    spread(ctl)
    bond_metrics(ctl)
    failover(tmp, ctl, ovs, "balance-tcp", carrier_of_probe(ctl, NS["HA"], "HB"))
    if QUICK:
        return
    for end in (ctl, ovs):
        end.vsctl("set", "port", "bond0", "bond_mode=active-backup")
    wait_lacp(ctl, ovs, "active-backup: LACP stays negotiated")
    ok, out = ping("HA", IP["HB"])
    check(ok, "active-backup: HA pings HB", out)
    act = next(k for k, x in members(ctl).items() if x["active"])
    failover(tmp, ctl, ovs, "active-backup", act)
    admin_ops(tmp, ctl)


def main():
    if os.geteuid() != 0:
        print("FAIL: needs root")
        return 1
    if not os.path.exists(OVS_VSWITCHD):
        print("FAIL: %s missing (apt-get install openvswitch-switch-dpdk)" % OVS_VSWITCHD)
        return 1
    return run_scenario("bonds2-", teardown, scenario)


if __name__ == "__main__":
    sys.exit(main())
