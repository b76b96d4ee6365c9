#!/usr/bin/env python3
"""dpswitchd driven through its config store, end to end.

Starts dpswitchd (EAL --no-huge, net_null vdevs, a temporary store file and
socket) and drives it with the real ovs-vsctl and with dpsctl:
  - the start-up ports appear in the store (first-start import);
  - add-port (type=dpdk, options:dpdk-devargs=net_nullN) without --no-wait
    returns only once Interface.ofport is set; ofport_request is honoured;
  - a bad devargs yields Interface.error (and ovs-vsctl's warning);
  - del-port closes the port;
  - dpsctl runtime commands: pmd-stats-show, pmd-rxq-show, port-stats,
    add/dump/del datapath flows, trace, fdb-show, version;
  - live reconfiguration under traffic: net_null0 -> p2 forwards by an
    OpenFlow rule while other ports are added and removed; p2's tx counter
    keeps increasing and every packet p1 received left by p2;
  - Interface.statistics is written periodically;
  - a restart with the same store file brings the ports back.
Usage: config_daemon_test.py DPSWITCHD DPSCTL  (exit 77 = skipped)
"""
import json
import os
import shutil
import socket
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import check, failures  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
VSCTL = shutil.which("ovs-vsctl")
if not VSCTL:
    print("SKIP: ovs-vsctl not installed (apt-get install openvswitch-switch)")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="dps-confd-")
SOCK = os.path.join(tmp, "db.sock")
DB = os.path.join(tmp, "conf.db")
RULES = os.path.join(tmp, "rules")
with open(RULES, "w") as f:
    f.write("priority=10,in_port=1,actions=output:2\n")
daemon = None
CPU1 = 1 if (os.cpu_count() or 1) > 1 else 0


def start(vdevs=("net_null0", "net_null1"), rules=True):
    log = open(os.path.join(tmp, "dpswitchd.log"), "a")
    cmd = [DPSWITCHD, "--lcores", "0@0,1@%d,2@%d" % (CPU1, CPU1), "--main-lcore", "0", "--no-huge", "-m", "512", "--no-pci",
           "--file-prefix", "dps-confd-%d" % os.getpid()]
    for v in vdevs:
        cmd += ["--vdev", v]
    cmd += ["--", "--db", DB, "--remote", "punix:" + SOCK, "--pmd-cores", "1"]
    if rules:
        cmd += ["--rules", RULES]
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        if p.poll() is not None:
            raise SystemExit("dpswitchd exited early; log:\n" + open(log.name).read())
        if os.path.exists(SOCK) and run([DPSCTL, "--db=unix:" + SOCK, "version"], check_rc=False).returncode == 0:
            return p
        time.sleep(0.1)
    p.kill()
    raise SystemExit("dpswitchd did not open " + SOCK)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return p.returncode


def run(cmd, check_rc=True, timeout=20):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        print("command failed: %s\nstdout: %s\nstderr: %s" % (cmd, r.stdout, r.stderr))
    return r


def vsctl(*args, check_rc=True):
    return run([VSCTL, "--db=unix:" + SOCK, "--timeout=10"] + list(args), check_rc=check_rc)


def dpsctl(*args, check_rc=True):
    return run([DPSCTL, "--db=unix:" + SOCK, "--timeout=10"] + list(args), check_rc=check_rc)


def dpsctl_json(*args):
    r = dpsctl("--format=json", *args)
    return json.loads(r.stdout) if r.returncode == 0 else None


def port_stats():
    return {p["port"]: p for p in dpsctl_json("port-stats")}


def get(table, rec, col):
    return vsctl("get", table, rec, col).stdout.strip()


def rxq_placement():
    """pmd-rxq-affinity pins and isolates, a bad pmd-rxq-assign is reported
    and changes nothing, pmd-rxq-rebalance answers; p1 -> p2 keeps going."""
    vsctl("set", "Interface", "p1", "other_config:pmd-rxq-affinity=0:2")
    rxqs = dpsctl_json("dpif-netdev/pmd-rxq-show") or []
    p1 = [q for q in rxqs if q["port"] == "p1"]
    others = [q for q in rxqs if q["port"] != "p1"]
    check(len(p1) == 1 and p1[0]["lcore"] == 2 and p1[0]["pinned"] and p1[0]["isolated"],
          "pmd-rxq-affinity=0:2: p1's queue on the PMD of core 2, pinned and isolated (%s)" % p1)
    check(others and all(q["lcore"] == 1 for q in others),
          "the other queues leave the isolated PMD (%s)" % sorted({q["lcore"] for q in others}))
    vsctl("set", "Open_vSwitch", ".", "other_config:pmd-rxq-assign=sideways")
    check('pmd-rxq-assign="sideways" is not roundrobin, cycles or group' in
          open(os.path.join(tmp, "dpswitchd.log")).read(), "a bad pmd-rxq-assign is reported precisely")
    r = dpsctl_json("dpif-netdev/pmd-rxq-rebalance") or {}
    check(r.get("mode") == "cycles" and "moved" in r, "pmd-rxq-rebalance answers under cycles (%s)" % r)
    t0 = port_stats()["p2"]["tx_packets"]
    time.sleep(0.3)
    check(port_stats()["p2"]["tx_packets"] > t0, "p2 forwards with p1 pinned")
    vsctl("remove", "Interface", "p1", "other_config", "pmd-rxq-affinity")
    vsctl("remove", "Open_vSwitch", ".", "other_config", "pmd-rxq-assign")
    rxqs = dpsctl_json("pmd-rxq-show") or []
    check(not any(q["pinned"] or q["isolated"] for q in rxqs), "unpinned again")


try:
    daemon = start()

    # --- first start: the --vdev ports were imported into the store --------
    ifaces = vsctl("--bare", "--columns=name", "list", "Interface").stdout.split()
    check({"p1", "p2", "br0"} <= set(ifaces), "first start imported p1, p2 and br0 into the store")
    check(get("Interface", "p1", "ofport") == "1" and get("Interface", "p2", "ofport") == "2",
          "Interface.ofport of the start-up ports is 1 and 2")

    # --- add-port waits until the port is live --------------------------------
    r = vsctl("add-port", "br0", "null5", "--", "set", "Interface", "null5", "type=dpdk",
              "options:dpdk-devargs=net_null5")
    ofport = get("Interface", "null5", "ofport")
    check(r.returncode == 0 and ofport.isdigit() and int(ofport) >= 3,
          "add-port without --no-wait returned with Interface.ofport set (%s)" % ofport)
    check(get("Open_vSwitch", ".", "cur_cfg") == get("Open_vSwitch", ".", "next_cfg"),
          "cur_cfg == next_cfg after add-port")
    check("null5" in port_stats(), "null5 is a datapath port")
    check(get("Interface", "null5", "link_state") == "up", "Interface.link_state is written")

    r = vsctl("add-port", "br0", "q9", "--", "set", "Interface", "q9", "type=dpdk",
              "options:dpdk-devargs=net_null9", "ofport_request=9")
    check(get("Interface", "q9", "ofport") == "9", "ofport_request=9 is honoured")

    # --- bad devargs -> Interface.error ----------------------------------------
    r = vsctl("add-port", "br0", "bad", "--", "set", "Interface", "bad", "type=dpdk",
              "options:dpdk-devargs=net_nosuchdriver0", check_rc=False)
    err = get("Interface", "bad", "error")
    check(get("Interface", "bad", "ofport") == "-1" and "net_nosuchdriver0" in err,
          "bad devargs: ofport -1 and Interface.error names the devargs (%s)" % err)
    check("Error detected while setting up 'bad'" in r.stderr, "ovs-vsctl reports the error")
    r = vsctl("add-port", "br0", "nodev", check_rc=False)
    check("dpdk-devargs is required" in get("Interface", "nodev", "error"),
          "missing dpdk-devargs is reported in Interface.error")
    vsctl("del-port", "bad")
    vsctl("del-port", "nodev")

    # --- del-port ---------------------------------------------------------------
    vsctl("del-port", "null5")
    check("null5" not in port_stats(), "del-port closed the datapath port")

    # --- an EAL --vdev port moved to another bridge and back -------------------------
    devargs = "options:dpdk-devargs=net_null0"
    vsctl("del-port", "br0", "p1")
    vsctl("add-br", "br1", "--", "add-port", "br1", "p1", "--", "set", "Interface", "p1", "type=dpdk", devargs)
    check(get("Interface", "p1", "ofport").isdigit() and get("Interface", "p1", "error") in ("[]", ""),
          "a --vdev port closed on one bridge opens on another (%s)" % get("Interface", "p1", "error"))
    vsctl("del-br", "br1")
    vsctl("add-port", "br0", "p1", "--", "set", "Interface", "p1", "type=dpdk", devargs, "ofport_request=1")
    check(get("Interface", "p1", "ofport") == "1", "... and back on br0 as port 1")

    # --- the same through dpsctl --------------------------------------------------
    r = dpsctl("add-port", "br0", "null7", "--", "set", "Interface", "null7", "type=dpdk",
               "options:dpdk-devargs=net_null7")
    check(r.returncode == 0 and get("Interface", "null7", "ofport").isdigit(),
          "dpsctl add-port returns with Interface.ofport set")

    # --- runtime commands ---------------------------------------------------------
    pmds = dpsctl_json("pmd-stats-show")
    check(isinstance(pmds, list) and len(pmds) == 1 and pmds[0]["packets"] > 0,
          "pmd-stats-show: one PMD that received packets")
    rxqs = dpsctl_json("pmd-rxq-show")
    check(rxqs is not None and {"p1", "p2", "null7", "q9"} <= {q["port"] for q in rxqs},
          "pmd-rxq-show lists the rx queues of every port")
    r = dpsctl("add-dp-flow", "in_port=9,eth_type=0x0806", "output:2")
    flows = dpsctl_json("dump-dp-flows")
    check(r.returncode == 0 and any(f["match"] == "in_port=9,eth_type=0x0806" for f in flows),
          "add-dp-flow then dump-dp-flows shows the flow")
    check(any(f["match"].startswith("in_port=1") and f["packets"] > 0 for f in flows),
          "dump-dp-flows shows the forwarding megaflow with packets")
    r = dpsctl("del-dp-flow", "in_port=9,eth_type=0x0806")
    flows = dpsctl_json("dump-dp-flows")
    check(r.returncode == 0 and not any(f["match"] == "in_port=9,eth_type=0x0806" for f in flows),
          "del-dp-flow removes it")
    r = dpsctl("del-dp-flow", "in_port=9,eth_type=0x0806", check_rc=False)
    check(r.returncode == 1 and "no datapath flow matches" in r.stderr, "del-dp-flow of a missing flow fails precisely")
    r = dpsctl("trace", "br0", "in_port=1,eth_type=0x0800")
    check(r.returncode == 0 and "output:2" in r.stdout, "trace shows the rule's output")
    r = dpsctl("trace", "br9", "in_port=1", check_rc=False)
    check(r.returncode == 1 and "no bridge named br9" in r.stderr, "trace on an unknown bridge fails precisely")
    check(dpsctl("fdb-show", "br0").returncode == 0, "fdb-show answers")
    check(len(dpsctl_json("port-xstats", "p1")) > 0, "port-xstats lists driver counters")
    check("dpswitchd" in dpsctl("version").stdout, "version")

    # --- live reconfiguration under traffic ------------------------------------------
    # p1 (net_null0 rx: an endless source) -> p2 by rule. Add and remove other
    # ports while it runs: p2 must keep sending, and what p1 received must
    # leave by p2 (nothing dropped by the reconfiguration).
    # (p2 and the added net_null ports are traffic sources too; their
    # packets match no rule and are dropped by the datapath, by design, so
    # the PMD's drop counter is not a measure here: p1 -> p2 is.)
    before = port_stats()
    tx_samples = [before["p2"]["tx_packets"]]
    for k in range(3):
        name = "live%d" % k
        vsctl("add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk",
              "options:dpdk-devargs=net_null%d" % (20 + k))
        tx_samples.append(port_stats()["p2"]["tx_packets"])
        vsctl("set", "Interface", name, "options:n_rxq=2")
        tx_samples.append(port_stats()["p2"]["tx_packets"])
        vsctl("del-port", name)
        tx_samples.append(port_stats()["p2"]["tx_packets"])
    after = port_stats()
    check(all(b > a for a, b in zip(tx_samples, tx_samples[1:])),
          "p2 kept forwarding through every add/modify/delete (tx %s)" % tx_samples)
    rx = after["p1"]["rx_packets"] - before["p1"]["rx_packets"]
    tx = after["p2"]["tx_packets"] - before["p2"]["tx_packets"]
    # The two counters are read microseconds apart while the PMD forwards:
    # allow a few bursts in flight, nothing more.
    check(rx > 0 and abs(rx - tx) <= 4096,
          "every packet p1 received left by p2 during reconfiguration (rx %d, tx %d)" % (rx, tx))
    check(after["p1"]["rx_dropped"] == before["p1"]["rx_dropped"], "no rx drops on p1")
    check(after["p2"]["tx_dropped"] == before["p2"]["tx_dropped"], "no tx drops on p2")

    # --- PMD cores at run time ------------------------------------------------------------
    # EAL lcores 0 (main), 1 and 2 (2 shares CPU 1 with 1 on small machines);
    # the command line started one PMD (--pmd-cores 1).
    vsctl("set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x6")
    pmds = dpsctl_json("pmd-stats-show") or []
    rxqs = dpsctl_json("pmd-rxq-show") or []
    check(sorted(p["lcore"] for p in pmds) == [1, 2], "pmd-cpu-mask=0x6: PMDs on lcores 1 and 2 (%s)"
          % [p.get("lcore") for p in pmds])
    check(len({q["pmd"] for q in rxqs}) == 2, "the rx queues are spread over both PMDs")
    t0 = port_stats()["p2"]["tx_packets"]
    time.sleep(0.5)
    check(port_stats()["p2"]["tx_packets"] > t0, "p2 forwards after the PMD change")
    rxq_placement()
    vsctl("set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0xc")
    pmds = dpsctl_json("pmd-stats-show") or []
    check(sorted(p["lcore"] for p in pmds) == [1, 2] and
          "lcore 3 is not an EAL lcore" in open(os.path.join(tmp, "dpswitchd.log")).read(),
          "a mask naming a non-EAL lcore is refused precisely and the PMDs stay")
    vsctl("set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=2")
    pmds = dpsctl_json("pmd-stats-show") or []
    t0 = port_stats()["p2"]["tx_packets"]
    time.sleep(0.5)
    check(len(pmds) == 1 and pmds[0]["lcore"] == 1 and port_stats()["p2"]["tx_packets"] > t0,
          "pmd-cpu-mask=2: back to one PMD on lcore 1, still forwarding")

    # --- periodic statistics ------------------------------------------------------------
    deadline = time.time() + 12
    stats = ""
    while time.time() < deadline:
        stats = get("Interface", "p1", "statistics")
        if "rx_packets=" in stats and "rx_packets=0," not in stats:
            break
        time.sleep(0.5)
    check("rx_packets=" in stats and "rx_packets=0," not in stats,
          "Interface.statistics is written periodically (%s)" % stats[:60])

    # --- restart with the same store ------------------------------------------------------
    ofport7 = get("Interface", "null7", "ofport")
    check(stop(daemon) == 0, "dpswitchd stops cleanly on SIGTERM")
    daemon = start()
    check(get("Interface", "null7", "ofport") == ofport7 and get("Interface", "q9", "ofport") == "9",
          "after a restart the ports added at run time are back with their numbers")
    names = set(port_stats())
    check({"p1", "p2", "null7", "q9"} <= names and "null5" not in names,
          "after a restart the datapath has exactly the stored ports (%s)" % sorted(names))

    # --- a start without one of the earlier --vdev ports ---------------------------------
    stop(daemon)
    daemon = start(vdevs=("net_null0",), rules=False)
    names = set(port_stats())
    ifaces = vsctl("--bare", "--columns=name", "list", "Interface").stdout.split()
    check("p2" not in names and "p2" not in ifaces and {"p1", "null7", "q9"} <= set(ifaces),
          "an earlier run's --vdev port is dropped from the store, ports added by clients stay (%s)"
          % sorted(ifaces))

    # --- several bridges joined by patch ports -------------------------------------------
    # br0 now runs NORMAL (no --rules) with p1 (net_null0: an endless source).
    check(vsctl("add-br", "br1").returncode == 0, "add-br br1")
    vsctl("add-port", "br1", "b1p", "--", "set", "Interface", "b1p", "type=dpdk",
          "options:dpdk-devargs=net_null40")
    b1p_of = get("Interface", "b1p", "ofport")
    check(b1p_of.isdigit() and "b1p" in port_stats(), "a port of br1 is open (ofport %s)" % b1p_of)
    vsctl("add-port", "br0", "patch0", "--", "set", "Interface", "patch0", "type=patch",
          "options:peer=patch1", check_rc=False)
    err = get("Interface", "patch0", "error")
    check("patch port patch0: peer patch1 does not exist" in err and get("Interface", "patch0", "ofport") == "-1",
          "a patch port without its peer reports it (%s)" % err)
    vsctl("add-port", "br1", "patch1", "--", "set", "Interface", "patch1", "type=patch",
          "options:peer=patch0")
    pp0, pp1 = get("Interface", "patch0", "ofport"), get("Interface", "patch1", "ofport")
    check(pp0.isdigit() and pp1.isdigit() and "does not exist" not in get("Interface", "patch0", "error"),
          "both patch ports joined (ofports %s, %s)" % (pp0, pp1))
    check("patch0" not in port_stats() and "patch1" not in port_stats(), "patch ports have no datapath port")
    show = vsctl("show").stdout
    check(all(any(l.strip() in ("Bridge %s" % b, 'Bridge "%s"' % b) for l in show.splitlines())
              for b in ("br0", "br1")), "ovs-vsctl show lists br0 and br1")
    bridges = {b["bridge"] for b in dpsctl_json("list-bridges") or []}
    check(bridges == {"br0", "br1"}, "the daemon runs both bridges (%s)" % sorted(bridges))
    # p1 (br0) -> patch0 => patch1 (br1) -> b1p, by rules in each bridge.
    r0 = dpsctl("add-flow", "br0", "priority=20,in_port=1,actions=output:%s" % pp0)
    r1 = dpsctl("add-flow", "br1", "priority=20,in_port=%s,actions=output:%s" % (pp1, b1p_of))
    check(r0.returncode == 0 and r1.returncode == 0, "dpsctl add-flow on br0 and br1")
    check("output:%s" % b1p_of in dpsctl("dump-flows", "br1").stdout, "dump-flows br1 shows br1's rule")
    t0 = port_stats()["b1p"]["tx_packets"]
    time.sleep(0.5)
    st = port_stats()
    check(st["b1p"]["tx_packets"] > t0, "traffic from p1 (br0) leaves by b1p (br1) through the patch ports")
    b1p_dp = st["b1p"]["port_no"]
    flows = dpsctl_json("dump-dp-flows", "br0") or []
    check(any(f["match"].split(",")[0] == "in_port=1" and f["actions"] == "output:%d" % b1p_dp and f["packets"] > 0
              for f in flows), "one megaflow takes p1's packets straight to b1p (%s)"
          % [(f["match"], f["actions"]) for f in flows][:4])
    tr = dpsctl("trace", "br0", "in_port=1,eth_type=0x0800")
    check(tr.returncode == 0 and "patch to bridge br1" in tr.stdout, "trace crosses into br1")
    up = dpsctl_json("upcall/show") or {}
    check(up.get("xlates", 0) > 0 and "xlate_errors" in up and "xlate_limit_drops" in up,
          "upcall/show: the miss path's counters, failed translations among them (%s)" % up)
    r = dpsctl("trace", "br9", "in_port=1", check_rc=False)
    check(r.returncode == 1 and "no bridge named br9 (bridges: br0, br1)" in r.stderr,
          "an unknown bridge's error lists the bridges (%s)" % r.stderr.strip())
    # del-br at run time: br0 keeps forwarding (q9's packets -> p1 by rule).
    dpsctl("add-flow", "br0", "priority=20,in_port=9,actions=output:1")
    vsctl("del-br", "br1")
    st = port_stats()
    check("b1p" not in st, "del-br br1 closed its port")
    check("br1" not in vsctl("list-br").stdout.split(), "br1 is gone from the store")
    bridges = {b["bridge"] for b in dpsctl_json("list-bridges") or []}
    check(bridges == {"br0"}, "the daemon runs br0 only (%s)" % sorted(bridges))
    check("peer patch1 does not exist" in get("Interface", "patch0", "error"),
          "patch0 reports its missing peer again")
    t0 = st["p1"]["tx_packets"]
    time.sleep(0.5)
    check(port_stats()["p1"]["tx_packets"] > t0, "br0 keeps forwarding after del-br br1")
    r = dpsctl("trace", "br1", "in_port=1", check_rc=False)
    check(r.returncode == 1 and "no bridge named br1 (bridges: br0)" in r.stderr, "br1 is unknown to trace")

    # --- controller and protocols at run time --------------------------------------------
    OFCTL = shutil.which("ovs-ofctl")
    with socket.socket() as s_:
        s_.bind(("127.0.0.1", 0))
        of_port = s_.getsockname()[1]
    vsctl("set-controller", "br0", "ptcp:%d:127.0.0.1" % of_port)
    target = "tcp:127.0.0.1:%d" % of_port
    r = run([OFCTL, "-O", "OpenFlow13", "show", target], check_rc=False)
    check(r.returncode == 0 and "OFPT_FEATURES_REPLY" in r.stdout,
          "set-controller ptcp: opened an OpenFlow listener at run time")
    vsctl("set", "Bridge", "br0", "protocols=OpenFlow10")
    r = run([OFCTL, "-O", "OpenFlow13", "show", target], check_rc=False)
    check(r.returncode != 0, "protocols=OpenFlow10: OpenFlow 1.3 HELLO is refused (%s)" % r.stderr.strip()[:80])
    vsctl("clear", "Bridge", "br0", "protocols")
    r = run([OFCTL, "-O", "OpenFlow13", "show", target], check_rc=False)
    check(r.returncode == 0, "protocols cleared: OpenFlow 1.3 works again")
    vsctl("del-controller", "br0")
    r = run([OFCTL, "-O", "OpenFlow13", "show", target], check_rc=False)
    check(r.returncode != 0, "del-controller closed the listener")
finally:
    if daemon and daemon.poll() is None:
        stop(daemon)
    if failures:
        print("log:\n" + open(os.path.join(tmp, "dpswitchd.log")).read()[-4000:])
    shutil.rmtree(tmp, ignore_errors=True)

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
