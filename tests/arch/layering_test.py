#!/usr/bin/env python3
"""The architecture, checked: layers include only downwards, and the leaks
issue #12 removed stay removed.

1. Include direction. For every library of the layer list below, one of its
   sources' real compile command (from compile_commands.json) preprocesses
   `#include "<header>"` for one header of every other layer: a header of a
   lower layer (or its own) must be found, a header of a higher layer must
   not. So an upward #include fails to compile, and this test fails if a
   meson dependency ever points upwards.
2. Leaks: no rte_eth_* call and no netdev::DpdkNetdev outside src/netdev
   (dpsbench aside); no nlohmann/json in src/datapath; no dynamic_cast in
   the daemon; no DPDK and no switch layer in src/export (base only).

Usage: layering_test.py SOURCE_ROOT BUILD_ROOT
"""
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

# Lowest first. (name, folder relative to src/).
LAYERS = [
    ("base", "base"),
    ("conntrack", "conntrack"),
    ("netdev", "netdev"),
    ("datapath", "datapath"),
    ("ofp_wire", "ofproto/wire"),
    ("ofp_syntax", "ofproto/syntax"),
    ("ofp_model", "ofproto/model"),
    ("ofp_tunnel", "ofproto/tunnel"),
    ("ofp_xlate", "ofproto/xlate"),
    ("ofp_misspath", "ofproto/misspath"),
    ("ofp_switch", "ofproto/switch"),
    ("ofp_channel", "ofproto/channel"),
    ("export", "export"),
]
# Layers that are not below one another: neither may include the other.
UNRELATED = [("ofp_wire", "datapath"), ("ofp_syntax", "datapath"),
             ("ofp_wire", "netdev"), ("ofp_syntax", "netdev"), ("netdev", "base")]
# export (sFlow/IPFIX/NetFlow/Prometheus formats) sees base only.
UNRELATED += [("export", name) for name, _ in LAYERS if name not in ("base", "export")]
# conntrack (the connection table) sees base only; the datapath and what is
# above it see conntrack, netdev and the OpenFlow wire/syntax layers do not.
UNRELATED += [("netdev", "conntrack"), ("ofp_wire", "conntrack"), ("ofp_syntax", "conntrack")]

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def compile_command(entries, src_root, folder):
    """The compile command of one .cc directly in src/<folder>, as argv."""
    d = (src_root / "src" / folder).resolve()
    for e in entries:
        f = pathlib.Path(e["directory"], e["file"]).resolve()
        if f.parent == d and f.suffix == ".cc":
            return e["directory"], shlex.split(e["command"])
    return None, None


def preprocess_ok(directory, argv, header):
    """Preprocesses `#include "header"` with argv's flags; True when found."""
    argv = argv[1:] if os.path.basename(argv[0]) == "ccache" else argv
    args = [argv[0]]
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "-MF", "-MQ", "-MT") or (a == "-include" and "pch" in argv[i + 1]):
            i += 2
            continue
        i += 1
        if a in ("-c", "-MD", "-MMD") or a.endswith(".cc") or a.startswith("-fpch"):
            continue
        args.append(a)
    args += ["-E", "-x", "c++", "-", "-o", os.devnull]
    p = subprocess.run(args, input='#include "%s"\n' % header, text=True, cwd=directory,
                       capture_output=True)
    return p.returncode == 0


def representative_header(src_root, folder):
    hs = sorted((src_root / "src" / folder).glob("*.h"))
    return hs[0].name if hs else None


def check_layers(src_root, build_root):
    entries = json.loads((build_root / "compile_commands.json").read_text())
    headers = {name: representative_header(src_root, folder) for name, folder in LAYERS}
    for i, (name, folder) in enumerate(LAYERS):
        directory, argv = compile_command(entries, src_root, folder)
        check(argv is not None, "%s has a compile command" % name)
        if argv is None:
            continue
        for j, (other, _) in enumerate(LAYERS):
            h = headers[other]
            unrelated = (name, other) in UNRELATED
            expect = j <= i and not unrelated
            found = preprocess_ok(directory, argv, h)
            check(found == expect, "%s %s \"%s\" (%s)" % (
                name, "includes" if expect else "cannot include", h, other))


def grep(src_root, pattern, folders, exclude=()):
    hits = []
    rx = re.compile(pattern)
    for folder in folders:
        for p in sorted((src_root / "src" / folder).rglob("*")):
            if p.suffix not in (".cc", ".h") or any(str(p).startswith(str(src_root / "src" / x))
                                                    for x in exclude):
                continue
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                if rx.search(line):
                    hits.append("%s:%d" % (p.relative_to(src_root), n))
    return hits


def check_leaks(src_root):
    hits = grep(src_root, r"\brte_eth_\w+\s*\(|DpdkNetdev", [""], exclude=("netdev", "dpsbench"))
    check(not hits, "no rte_eth_* / DpdkNetdev outside src/netdev and src/dpsbench %s" % hits[:5])
    hits = grep(src_root, r"nlohmann", ["datapath"])
    check(not hits, "no nlohmann/json in src/datapath %s" % hits[:5])
    hits = grep(src_root, r"\brte_|#include <rte_|#include \"(\.\./)?(netdev|datapath|ofproto)/", ["export"])
    check(not hits, "no DPDK, netdev, datapath or ofproto in src/export %s" % hits[:5])
    hits = grep(src_root, r"\brte_|#include <rte_|#include \"(\.\./)?(netdev|datapath|ofproto)/",
                ["conntrack"])
    check(not hits, "no DPDK, netdev, datapath or ofproto in src/conntrack %s" % hits[:5])
    hits = grep(src_root, r"dynamic_cast", ["daemon"])
    check(not hits, "no dynamic_cast in src/daemon %s" % hits[:5])


def main():
    src_root, build_root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    check_layers(src_root, build_root)
    check_leaks(src_root)
    print("%d check(s) failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
