"""Shared helpers of the Python integration tests (tests/*/*_test.py).

check() prints one "ok"/"FAIL" line per assertion and collects the failures;
each script ends with its own summary and exit code from `failures`.
"""
import socket

failures = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
        if detail:
            print("     " + str(detail).replace("\n", "\n     "), flush=True)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
