"""UDP with sequence numbers, for the bond interop test's failover gaps.

  bond_udp.py send DST FLOWS PPS SECONDS [RUN]
                                           flows 0..FLOWS-1 from source ports
                                           20000+flow, round robin, PPS in all
  bond_udp.py recv OUT SECONDS [RUN]       writes {flow: [[seq, t], ...]} to OUT,
                                           of the datagrams of that RUN only
  bond_udp.py raw IFACE DST_MAC SRC DST PPS SECONDS MAC[,MAC...]
                                           the same datagrams as Ethernet frames
                                           on IFACE, round robin from the source
                                           MACs (flow = the MAC's position)

Each datagram carries (flow, seq, run) as three big-endian u32, to port
9000. The run number (0 unless given) keeps a receiver from counting a
datagram of an earlier run delivered late (net_af_packet keeps the frames
it could not send while its link was down, and sends them when it is up)."""
import json
import socket
import struct
import sys
import time


def send(dst, flows, pps, seconds, run=0):
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
            socks[f].sendto(struct.pack("!III", f, i // flows, run), (dst, 9000))
        except OSError:
            pass
        delay = t0 + (i + 1) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def ipv4_udp(src, dst, sport, payload):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    words = struct.unpack("!10H", ip)
    total = sum(words)
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    ip = ip[:10] + struct.pack("!H", ~total & 0xffff) + ip[12:]
    return ip + struct.pack("!HHHH", sport, 9000, 8 + len(payload), 0) + payload


def raw(iface, dst_mac, src, dst, pps, seconds, macs):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    srcs = [bytes.fromhex(m.replace(":", "")) for m in macs.split(",")]
    dmac = bytes.fromhex(dst_mac.replace(":", ""))
    interval, n, t0 = 1.0 / pps, int(pps * seconds), time.monotonic()
    for i in range(n):
        f = i % len(srcs)
        udp = ipv4_udp(src, dst, 20000 + f, struct.pack("!III", f, i // len(srcs), 0))
        s.send(dmac + srcs[f] + b"\x08\x00" + udp)
        delay = t0 + (i + 1) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def recv(out, seconds, run=0):
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
        if len(data) >= 12:
            f, seq, r = struct.unpack("!III", data[:12])
            if r == run:
                got.setdefault(f, []).append([seq, time.monotonic()])
    with open(out, "w") as o:
        json.dump(got, o)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int((sys.argv[6:] or [0])[0]))
    elif sys.argv[1] == "raw":
        raw(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]), float(sys.argv[7]), sys.argv[8])
    else:
        recv(sys.argv[2], float(sys.argv[3]), int((sys.argv[4:] or [0])[0]))
