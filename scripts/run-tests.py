#!/usr/bin/env python3
"""Runs every Catch2 test executable registered with meson in the given build
directories and prints one closing line: "N passed, N failed" (test cases).

Each executable runs with Catch2's XML reporter; its per-test-case results are
counted. An executable that crashes or prints no XML counts as one failed test
case (named after the executable), so a crash can never read as success.
"""
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET


def meson_tests(build):
    out = subprocess.run(["meson", "introspect", build, "--tests"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def is_catch2(t):
    return os.path.abspath(t["cmd"][0]).startswith(os.path.abspath(t["_build"]) + os.sep)


def run_script(t, timeout):
    """A test that is a script (not a Catch2 executable): one test case,
    passed when it exits 0."""
    start = time.monotonic()
    try:
        p = subprocess.run(t["cmd"], capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **t.get("env", {})), cwd=t.get("workdir") or None)
        ok, err = p.returncode == 0, (p.stdout + p.stderr)
        why = "exit %d" % p.returncode
    except subprocess.TimeoutExpired:
        ok, err, why = False, "", "timeout after %ds" % timeout
    secs = time.monotonic() - start
    return (1, 0, [], secs, err) if ok else (0, 1, ["%s (%s)" % (t["name"], why)], secs, err)


def run_one(build, t, timeout):
    if not is_catch2(t):
        return run_script(t, timeout)
    cmd = t["cmd"] + ["-r", "xml", "-d", "no"]
    env = dict(os.environ, **t.get("env", {}))
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=env, cwd=t.get("workdir") or None)
        out, rc = p.stdout, p.returncode
        err = p.stderr
    except FileNotFoundError:
        return 0, 1, ["%s (executable not built: %s)" % (t["name"], cmd[0])], 0.0, ""
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = "timeout after %ds" % timeout, -1
    elapsed = time.monotonic() - start
    passed = failed = 0
    failures = []
    try:
        root = ET.fromstring(out[out.index("<?xml"):] if "<?xml" in out else out)
        for tc in root.iter("TestCase"):
            res = tc.find("OverallResult")
            if res is not None and res.get("success") == "true":
                passed += 1
            else:
                failed += 1
                failures.append(tc.get("name"))
    except (ET.ParseError, ValueError):
        failed += 1
        failures.append("%s (no test report: exit %s)" % (t["name"], rc))
    if rc != 0 and not failures:
        failed += 1
        failures.append("%s (exit %s)" % (t["name"], rc))
    return passed, failed, failures, elapsed, err


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--targets":
        # The test executables of a build directory, as ninja target names.
        build = sys.argv[2]
        # ... and what they depend on (test servers, the CLI under test).
        root = os.path.abspath(build)
        targets = json.loads(subprocess.run(["meson", "introspect", build, "--targets"],
                                            check=True, capture_output=True, text=True).stdout)
        by_id = {t["id"]: t for t in targets}
        wanted = set()
        for t in meson_tests(build):
            exe = os.path.abspath(t["cmd"][0])
            if exe.startswith(root + os.sep):
                wanted.add(os.path.relpath(exe, root))
            for dep in t.get("depends", []):
                for f in by_id.get(dep, {}).get("filename", []):
                    wanted.add(os.path.relpath(os.path.abspath(f), root))
        print("\n".join(sorted(wanted)))
        return
    builds = sys.argv[1:] or ["build"]
    total_p = total_f = 0
    for build in builds:
        if not os.path.isdir(build):
            continue
        for t in meson_tests(build):
            t["_build"] = build
            timeout = int(t.get("timeout") or 300)
            p, f, fails, secs, err = run_one(build, t, timeout)
            total_p += p
            total_f += f
            status = "ok" if not f else "FAILED"
            print("%-10s %-28s %4d passed %3d failed  %6.1fs  %s" %
                  (os.path.basename(build), t["name"], p, f, secs, status), flush=True)
            for name in fails:
                print("    failed: %s" % name)
            if f and err:
                print("    stderr tail:\n      " + "\n      ".join(err.strip().splitlines()[-15:]))
    print("%d passed, %d failed" % (total_p, total_f))
    sys.exit(1 if total_f or total_p == 0 else 0)


if __name__ == "__main__":
    main()
