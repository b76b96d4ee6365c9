#!/usr/bin/env python3
"""Tunnel match fields and the Geneve TLV table against the real ovs-ofctl.

Starts dpswitchd (EAL --no-huge, two quiet net_null vdevs, `--openflow
ptcp:PORT:127.0.0.1 --no-db`) and drives it with `ovs-ofctl -O OpenFlow13`:
  - dump-tlv-map / add-tlv-map / del-tlv-map (NXT_TLV_TABLE_*), with every
    NXTTMFC_* error a bad request earns;
  - add-flow with tun_id, tun_src, tun_dst, tun_ipv6_src, tun_flags and
    tun_metadataN matches and set_field / load actions on them;
  - dump-flows prints each rule exactly as ovs-ofctl's own parser prints the
    text we gave it (`ovs-ofctl parse-flow`), a whole-field load coming back
    as the set_field it is;
  - rules on unmapped tun_metadata, values wider than their mapping,
    partial loads and moves are rejected with the OpenFlow error OVS gives
    (NXFMFC_INVALID_TLV_FIELD, OFPBMC_BAD_VALUE, ...), and a mapping that
    rules use cannot be deleted (NXTTMFC_INVALID_TLV_DEL).

Usage: DPSWITCHD=/path/to/dpswitchd tunnel_fields_test.py
(ovs-ofctl is required: scripts/bootstrap.sh installs it.)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Switch, check, failures, free_port  # noqa: E402

DPSWITCHD = os.environ.get("DPSWITCHD") or (sys.argv[1] if len(sys.argv) > 1 else "")
OFCTL = shutil.which("ovs-ofctl")
if not OFCTL or not DPSWITCHD:
    print("FAIL: missing " + ("ovs-ofctl (openvswitch-common)" if not OFCTL else "$DPSWITCHD") +
          " - run scripts/bootstrap.sh")
    sys.exit(1)

tmp = tempfile.mkdtemp(prefix="dps-tunof-")
os.environ["OVS_RUNDIR"] = tmp
PORT = free_port()
TARGET = "tcp:127.0.0.1:%d" % PORT


def ofctl(*args, ok=True):
    r = subprocess.run([OFCTL, "-O", "OpenFlow13", *args], capture_output=True, text=True, timeout=20)
    if ok and r.returncode != 0:
        check(False, "ovs-ofctl " + " ".join(args), r.stderr)
    return r


def rejected(what, args, error):
    """ovs-ofctl args fails and prints the OpenFlow error `error`."""
    r = ofctl(*args, ok=False)
    check(r.returncode != 0 and error in r.stderr, "%s: %s" % (what, error), r.stdout + r.stderr)


def flows():
    out = ofctl("dump-flows", "--no-stats", TARGET).stdout
    return sorted(l.strip() for l in out.splitlines() if "actions=" in l)


def ovs_form(text):
    """What ovs-ofctl's own parser prints for a flow (the reference form)."""
    out = ofctl("parse-flow", text).stdout
    m = re.search(r"\): ADD (.*)$", out, re.M)
    return m.group(1).strip() if m else "(parse-flow failed: %s)" % out


def tlv_map():
    return ofctl("dump-tlv-map", TARGET).stdout


daemon = Switch(DPSWITCHD, vdevs=["net_null0,no-rx=1", "net_null1,no-rx=1"],
                openflow=["ptcp:%d:127.0.0.1" % PORT], name="dps-tunof", tmp=tmp)
try:
    daemon.start_or_exit("dpswitchd is up on ptcp:%d" % PORT)

    # --- the TLV table ----------------------------------------------------------------
    out = tlv_map()
    check("NXT_TLV_TABLE_REPLY" in out and "max option space=48 max fields=64" in out
          and "allocated option space=0" in out, "dump-tlv-map: empty table, our limits", out)
    rejected("a match on an unmapped tun_metadata0",
             ["add-flow", TARGET, "tun_metadata0=0x1,actions=drop"], "NXFMFC_INVALID_TLV_FIELD")
    ofctl("add-tlv-map", TARGET,
          "{class=0xffff,type=0,len=4}->tun_metadata0,{class=0x0102,type=0x80,len=8}->tun_metadata1")
    out = tlv_map()
    check("allocated option space=12" in out
          and re.search(r"0xffff\s+0\s+4\s+tun_metadata0", out) is not None
          and re.search(r"0x102\s+0x80\s+8\s+tun_metadata1", out) is not None,
          "add-tlv-map: dump-tlv-map lists both mappings", out)
    for what, spec, error in [
            ("a mapped index", "{class=0x1,type=1,len=4}->tun_metadata0", "NXTTMFC_ALREADY_MAPPED"),
            ("a mapped option", "{class=0xffff,type=0,len=8}->tun_metadata5", "NXTTMFC_DUP_ENTRY"),
            ("a length not a multiple of 4", "{class=0x1,type=1,len=6}->tun_metadata5", "NXTTMFC_BAD_OPT_LEN"),
            ("tun_metadata64", "{class=0x1,type=1,len=4}->tun_metadata64", "NXTTMFC_BAD_FIELD_IDX"),
            ("beyond 48 bytes of options",
             "{class=0x1,type=1,len=4}->tun_metadata2,{class=0x1,type=2,len=40}->tun_metadata3", "NXTTMFC_TABLE_FULL"),
    ]:
        rejected("add-tlv-map of " + what, ["add-tlv-map", TARGET, spec], error)
    check("allocated option space=12" in tlv_map(), "failed adds changed nothing (all-or-nothing)")

    # --- flows on tunnel fields -------------------------------------------------------------
    rules = [
        "priority=100,tun_id=0x2a,tun_src=10.0.0.1,tun_dst=10.0.0.2,tun_metadata0=0x1234,"
        "actions=set_field:0x2b->tun_id,set_field:192.168.0.9->tun_dst,set_field:0x5678->tun_metadata0,output:2",
        "priority=90,tun_id=0x10/0xff,tun_ipv6_src=2001:db8::1,tun_flags=+oam,tun_metadata1=0x1122/0xff00,"
        "actions=set_field:2001:db8::9->tun_ipv6_dst,output:2",
        "priority=80,tcp,tun_dst=10.1.0.0/16,tun_flags=-oam,tp_dst=80,actions=set_field:0x99->tun_metadata1,output:1",
        "priority=70,tun_metadata0=0/0,in_port=1,actions=output:2",
    ]
    for r in rules:
        ofctl("add-flow", TARGET, r)
    # A whole-field load is a set_field (dump-flows prints it as one).
    ofctl("add-flow", TARGET, "priority=60,tun_src=1.2.3.4,actions=load:0x7->NXM_NX_TUN_ID[],output:2")
    want = sorted([ovs_form(r) for r in rules] + [ovs_form("priority=60,tun_src=1.2.3.4,actions=set_field:0x7->tun_id,output:2")])
    got = flows()
    check(got == want, "dump-flows shows every tunnel rule as ovs-ofctl prints it",
          "got:\n  " + "\n  ".join(got) + "\nwant:\n  " + "\n  ".join(want))
    out = ofctl("dump-flows", "--no-stats", TARGET, "tun_id=0x2a").stdout
    check("priority=100" in out and "priority=90" not in out, "dump-flows filtered on tun_id", out)

    for what, flow, error in [
            ("a match on unmapped tun_metadata2", "tun_metadata2=0x1,actions=drop", "NXFMFC_INVALID_TLV_FIELD"),
            ("set_field to unmapped tun_metadata3", "actions=set_field:0x1->tun_metadata3", "NXFMFC_INVALID_TLV_FIELD"),
            ("tun_metadata0 wider than its 4-byte mapping", "tun_metadata0=0x123456789,actions=drop",
             "OFPBMC_BAD_VALUE"),
            ("set_field wider than the mapping", "actions=set_field:0x123456789->tun_metadata0",
             "OFPBAC_BAD_SET_ARGUMENT"),
            ("a load into part of tun_id", "actions=load:0x3->NXM_NX_TUN_ID[0..7]", "OFPBAC_BAD_ARGUMENT"),
    ]:
        rejected(what, ["add-flow", TARGET, flow], error)
    r = ofctl("add-flow", TARGET, "actions=move:NXM_NX_TUN_IPV4_SRC[]->NXM_NX_TUN_IPV4_DST[]", ok=False)
    check(r.returncode != 0 and "OFPT_ERROR" in r.stderr, "move is rejected with an OpenFlow error", r.stderr)
    check(len(flows()) == 5, "the rejected rules were not added")

    # --- mappings in use ---------------------------------------------------------------------
    rejected("del-tlv-map of a mapping rules use",
             ["del-tlv-map", TARGET, "{class=0xffff,type=0,len=4}->tun_metadata0"], "NXTTMFC_INVALID_TLV_DEL")
    rejected("clearing a table rules use", ["del-tlv-map", TARGET], "NXTTMFC_INVALID_TLV_DEL")
    ofctl("del-flows", TARGET, "tun_metadata0=0/0")
    ofctl("del-flows", TARGET, "tun_metadata0=0x1234")
    ofctl("del-tlv-map", TARGET, "{class=0xffff,type=0,len=4}->tun_metadata0")
    out = tlv_map()
    check("tun_metadata0" not in out and "tun_metadata1" in out and "allocated option space=8" in out,
          "del-tlv-map of an unused mapping", out)
    ofctl("del-flows", TARGET)
    ofctl("del-tlv-map", TARGET)
    check("allocated option space=0" in tlv_map(), "del-tlv-map without mappings clears the table")
    check(daemon.alive(), "dpswitchd still running")
finally:
    daemon.stop(timeout=30)

print("%d failure(s)" % len(failures))
if failures:
    print("logs in " + tmp)
    sys.exit(1)
shutil.rmtree(tmp, ignore_errors=True)
