#!/usr/bin/env python3
"""dpswitchd's Prometheus endpoint (docs/visibility.md), end to end.

dpswitchd runs with its config store, two net_null ports and the rule
in_port=1,actions=output:2 (net_null0 generates traffic that p2 sends):
  - off by default: nothing listens until Open_vSwitch
    other_config:metrics-listen is set (ovs-vsctl);
  - a real scrape (curl): 200, Content-Type text/plain; version=0.0.4,
    promtool check metrics passes with no lint complaint, every family has
    HELP and TYPE, the expected families and labels are there;
  - the figures are the daemon's own: datapath flows equal dpsctl's
    dpif/flow-count, the port counters equal netdev/port-stats within the
    traffic of the moment, and counters move with traffic (p2's tx and p1's
    rx packets, the PMD's received packets, hits and busy cycles; net_null
    keeps no byte counts);
  - HEAD, 404, 405 and 400 answers; a silent client neither blocks a
    scrape nor stays connected past 5 s; reconfiguration to a bare PORT
    (127.0.0.1) moves the listener, removing the key turns it off, a bad
    value is logged and leaves the daemon running;
  - after a restart with --metrics-listen, the option beats the store.
Usage: metrics_test.py DPSWITCHD DPSCTL  (exit 77: ovs-vsctl missing)
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, failures, free_port, wait_for  # noqa: E402

DPSWITCHD, DPSCTL = sys.argv[1], sys.argv[2]
VSCTL = shutil.which("ovs-vsctl")
PROMTOOL = shutil.which("promtool")
CURL = shutil.which("curl")
if not VSCTL:
    print("SKIP: ovs-vsctl not installed (apt-get install openvswitch-switch)")
    sys.exit(77)
if not PROMTOOL or not CURL:
    print("FAIL: promtool or curl missing - run scripts/bootstrap.sh (apt-get install prometheus curl)")
    sys.exit(1)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def run(cmd, timeout=20, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def curl(port, path="/metrics", *args):
    """(status, headers, body) of one request."""
    r = run([CURL, "-sS", "-i", "--max-time", "5", *args, "http://127.0.0.1:%d%s" % (port, path)])
    head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def parse(text):
    """{family: {"help", "type", "samples": {frozenset(labels): value}}} and the parse errors."""
    fams, errors = {}, []
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = (line.split(" ", 3) + [""])[:4]
            fams.setdefault(name, {"samples": {}})[kind.lower()] = rest
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append(line)
            continue
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        fams.setdefault(m.group(1), {"samples": {}})["samples"][labels] = float(m.group(4))
    return fams, errors


def value(fams, name, **labels):
    want = set(labels.items())
    vals = [v for ls, v in fams.get(name, {}).get("samples", {}).items() if want <= set(ls)]
    return sum(vals) if vals else None


def scrape(port):
    status, headers, body = curl(port)
    fams, errors = parse(body)
    return status, headers, body, fams, errors


tmp = tempfile.mkdtemp(prefix="dps-metrics-")
rules = os.path.join(tmp, "rules")
with open(rules, "w") as f:
    f.write("priority=10,in_port=1,actions=output:2\n")
sw = Switch(DPSWITCHD, vdevs=["net_null0", "net_null1"], db=True, name="dps-metrics",
            args=["--rules", rules, "--pmd-cores", "1"])


def vsctl(*args):
    return run([VSCTL, "--db=unix:" + sw.sock, "--timeout=10", *args])


def dpsctl_json(*args):
    r = run([DPSCTL, "--db=unix:" + sw.sock, "--timeout=10", "--format=json", *args])
    return json.loads(r.stdout) if r.returncode == 0 else None


EXPECTED = {  # family: (type, labels every sample has)
    "dpswitch_build_info": ("gauge", {"version"}),
    "dpswitch_port_rx_packets_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_rx_bytes_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_rx_dropped_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_rx_errors_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_tx_packets_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_tx_bytes_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_tx_dropped_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_tx_errors_total": ("counter", {"port", "port_no"}),
    "dpswitch_port_link_up": ("gauge", {"port", "port_no"}),
    "dpswitch_pmd_rx_packets_total": ("counter", {"pmd", "lcore"}),
    "dpswitch_pmd_hits_total": ("counter", {"pmd", "lcore", "cache"}),
    "dpswitch_pmd_upcalls_total": ("counter", {"pmd", "lcore"}),
    "dpswitch_pmd_lost_upcalls_total": ("counter", {"pmd", "lcore"}),
    "dpswitch_pmd_cycles_total": ("counter", {"pmd", "lcore", "state"}),
    "dpswitch_pmd_busy_ratio": ("gauge", {"pmd", "lcore"}),
    "dpswitch_pmd_cycles_per_packet": ("gauge", {"pmd", "lcore"}),
    "dpswitch_pmd_datapath_flows": ("gauge", {"pmd", "lcore"}),
    "dpswitch_datapath_flows": ("gauge", set()),
    "dpswitch_tsc_hertz": ("gauge", set()),
    "dpswitch_conntrack_connections": ("gauge", set()),
    "dpswitch_conntrack_connections_max": ("gauge", set()),
    "dpswitch_conntrack_packets_total": ("counter", set()),
    "dpswitch_conntrack_events_total": ("counter", {"event"}),
    "dpswitch_conntrack_fragments_held": ("gauge", set()),
    "dpswitch_conntrack_fragments_total": ("counter", {"family", "event"}),
}


def check_exposition(body, fams, errors):
    p = run([PROMTOOL, "check", "metrics"], input=body)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          "promtool check metrics: valid, no lint problem", p.stdout + p.stderr)
    check(not errors, "every line parses as a sample, HELP or TYPE", errors[:3])
    for name, fam in fams.items():
        check("help" in fam and "type" in fam and fam["samples"], "%s has HELP, TYPE and samples" % name)
    for name, (typ, labels) in EXPECTED.items():
        fam = fams.get(name, {})
        ok = fam.get("type") == typ and fam.get("samples") and \
            all(labels <= {k for k, _ in ls} for ls in fam["samples"])
        check(ok, "%s: %s with labels %s" % (name, typ, sorted(labels)), fam)
    caches = {dict(ls)["cache"] for ls in fams.get("dpswitch_pmd_hits_total", {}).get("samples", {})}
    check(caches == {"train", "emc", "smc", "megaflow"}, "hit split by cache: train, emc, smc, megaflow", caches)
    ports = {dict(ls)["port"] for ls in fams.get("dpswitch_port_tx_packets_total", {}).get("samples", {})}
    # br0 is the bridge's internal port: a kernel tap, counted like any port.
    check(ports == {"br0", "p1", "p2"}, "one sample per port (br0 is the internal tap)", ports)


def check_figures(port):
    _, _, _, a, _ = scrape(port)
    stats = {p["port"]: p for p in dpsctl_json("port-stats") or []}
    time.sleep(1.0)
    _, _, _, b, _ = scrape(port)
    r = run([DPSCTL, "--db=unix:" + sw.sock, "--timeout=10", "count-dp-flows"])
    count = int(r.stdout) if r.stdout.strip().isdigit() else None
    check(count and value(b, "dpswitch_datapath_flows") == count,
          "dpswitch_datapath_flows == dpsctl count-dp-flows (%s)" % count, value(b, "dpswitch_datapath_flows"))
    for key in ("tx_packets", "rx_packets"):
        m1 = value(a, "dpswitch_port_%s_total" % key, port="p2" if key == "tx_packets" else "p1")
        m2 = value(b, "dpswitch_port_%s_total" % key, port="p2" if key == "tx_packets" else "p1")
        s = stats.get("p2" if key == "tx_packets" else "p1", {}).get(key)
        check(m1 is not None and s is not None and m1 <= s <= m2,
              "port %s: scrape <= netdev/port-stats <= next scrape (%s <= %s <= %s)" % (key, m1, s, m2))
    for name, labels in (("dpswitch_port_tx_packets_total", {"port": "p2"}),
                         ("dpswitch_port_rx_packets_total", {"port": "p1"}),
                         ("dpswitch_pmd_rx_packets_total", {}),
                         ("dpswitch_pmd_hits_total", {}),
                         ("dpswitch_pmd_cycles_total", {"state": "busy"})):
        x, y = value(a, name, **labels), value(b, name, **labels)
        check(x is not None and y is not None and y > x, "%s%s moves with traffic (%s -> %s)" % (name, labels, x, y))
    rx = value(b, "dpswitch_pmd_rx_packets_total")
    split = sum(value(b, n) or 0 for n in ("dpswitch_pmd_hits_total", "dpswitch_pmd_upcalls_total",
                                          "dpswitch_pmd_lost_upcalls_total"))
    check(rx and abs(split - rx) <= 0.01 * rx, "hits + upcalls + lost upcalls = received packets (%s vs %s)" % (split, rx))
    run([DPSCTL, "--db=unix:" + sw.sock, "--timeout=10", "dpctl/ct-set-maxconns", "12345"])
    _, _, _, c, _ = scrape(port)
    check(value(c, "dpswitch_conntrack_connections_max") == 12345,
          "dpswitch_conntrack_connections_max follows dpctl/ct-set-maxconns", value(c, "dpswitch_conntrack_connections_max"))
    busy = value(b, "dpswitch_pmd_busy_ratio")
    check(busy is not None and 0 < busy <= 1, "busy ratio in (0, 1] (%s)" % busy)


def check_http(port):
    status, headers, body = curl(port, "/metrics", "-I")
    check(status == 200 and body == "" and int(headers.get("content-length", "0")) > 0,
          "HEAD /metrics: 200, no body, Content-Length", (status, headers))
    check(curl(port, "/nothing")[0] == 404, "GET /nothing: 404")
    status, headers, _ = curl(port, "/metrics", "-X", "POST")
    check(status == 405 and headers.get("allow") == "GET, HEAD", "POST: 405 with Allow: GET, HEAD", (status, headers))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"NONSENSE\r\n\r\n")
        reply = s.recv(4096).decode(errors="replace")
    check(reply.startswith("HTTP/1.1 400 "), "a malformed request: 400", reply[:80])
    # A client that connects and says nothing blocks no one, and is dropped.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
        t0 = time.time()
        check(curl(port)[0] == 200, "a scrape is answered while a silent client holds a connection")
        try:
            closed = silent.recv(1) == b""
        except OSError:
            closed = True
        check(closed and 4 <= time.time() - t0 <= 8, "the silent client is disconnected after ~5 s (%.1f s)"
              % (time.time() - t0))


try:
    sw.start()
    port = free_port()
    check(not listening(port), "off by default: nothing on the port before metrics-listen is set")
    check("metrics: serving" not in open(sw.log_path).read(), "off by default: no listener in the log")
    r = vsctl("set", "Open_vSwitch", ".", "other_config:metrics-listen=127.0.0.1:%d" % port)
    check(r.returncode == 0, "ovs-vsctl set other_config:metrics-listen", r.stderr)
    check(wait_for(lambda: listening(port)), "the endpoint listens after the store change")

    status, headers, body, fams, errors = scrape(port)
    check(status == 200, "GET /metrics: 200", status)
    check(headers.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
          "Content-Type of the 0.0.4 text format", headers.get("content-type"))
    check_exposition(body, fams, errors)
    check_figures(port)
    check_http(port)

    port2 = free_port()
    vsctl("set", "Open_vSwitch", ".", "other_config:metrics-listen=%d" % port2)
    check(wait_for(lambda: listening(port2) and not listening(port)),
          "a bare PORT moves the listener to 127.0.0.1:PORT; the old port closes")
    vsctl("set", "Open_vSwitch", ".", "other_config:metrics-listen=nonsense")
    check(wait_for(lambda: "metrics: other_config:metrics-listen=nonsense: " in open(sw.log_path).read()),
          "a bad value is logged with the key and the reason")
    check(sw.alive() and not listening(port2), "a bad value: endpoint off, daemon running")
    vsctl("set", "Open_vSwitch", ".", "other_config:metrics-listen=127.0.0.1:%d" % port2)
    check(wait_for(lambda: listening(port2)), "a good value again: listening")
    vsctl("remove", "Open_vSwitch", ".", "other_config", "metrics-listen")
    check(wait_for(lambda: not listening(port2)), "removing the key turns the endpoint off")

    vsctl("set", "Open_vSwitch", ".", "other_config:metrics-listen=127.0.0.1:%d" % port)
    sw.stop()
    port3 = free_port()
    sw.args += ["--metrics-listen", "127.0.0.1:%d" % port3]
    sw.start()
    check(wait_for(lambda: listening(port3)) and not listening(port),
          "after a restart, --metrics-listen beats the store's key")
    check("--metrics-listen wins for this run" in open(sw.log_path).read(), "the log says the option won")
    check(scrape(port3)[0] == 200, "scrape through --metrics-listen")
    status = sw.stop()
    check(status == 0, "dpswitchd exits 0", status)
except Exception as e:  # noqa: BLE001
    check(False, "test ran to the end", "%s: %s\n%s" % (type(e).__name__, e, sw.log_tail()))
finally:
    sw.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)

print("%d check(s) failed" % len(failures))
sys.exit(1 if failures else 0)
