"""UDP with sequence numbers, for the bond interop test's failover gaps.

  bond_udp.py send DST FLOWS PPS SECONDS   flows 0..FLOWS-1 from source ports
                                           20000+flow, round robin, PPS in all
  bond_udp.py recv OUT SECONDS             writes {flow: [[seq, t], ...]} to OUT

Each datagram carries (flow, seq) as two big-endian u32, to port 9000."""
import json
import socket
import struct
import sys
import time


def send(dst, flows, pps, seconds):
    socks = []
    for f in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 20000 + f))
        socks.append(s)
    interval = 1.0 / pps
    n = int(pps * seconds)
    t0 = time.monotonic()
    for i in range(n):
        f = i % flows
        try:
            socks[f].sendto(struct.pack("!II", f, i // flows), (dst, 9000))
        except OSError:
            pass
        delay = t0 + (i + 1) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def recv(out, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 9000))
    s.settimeout(0.2)
    got = {}
    print("listening", file=sys.stderr, flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = s.recv(64)
        except socket.timeout:
            continue
        if len(data) >= 8:
            f, seq = struct.unpack("!II", data[:8])
            got.setdefault(f, []).append([seq, time.monotonic()])
    with open(out, "w") as o:
        json.dump(got, o)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        recv(sys.argv[2], float(sys.argv[3]))
