#!/usr/bin/env python3
"""Writes a pcap of UDP/IPv4 frames for the demo and the benchmarks.

  scripts/mkpcap.py OUT.pcap [--flows N] [--size 64] [--dst-net 10.0.0.0/8] [--vlan VID]

Frame i has source 10.0.0.0 + i % N... as a distinct 5-tuple (source address
and source port vary), destination drawn deterministically from --dst-net.
--size is the wire size including the 4-byte FCS (64 -> 60-byte frames).
Stdlib only; deterministic.
"""
import argparse
import ipaddress
import random
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src_ip, dst_ip, sport, dport, size, vlan):
    eth = bytes.fromhex("020000000002") + bytes.fromhex("020000000001")
    if vlan is not None:
        eth += struct.pack("!HH", 0x8100, vlan)
    eth += struct.pack("!H", 0x0800)
    l2 = len(eth)
    payload_len = max(0, size - 4 - l2 - 20 - 8)
    udp = struct.pack("!HHHH", sport, dport, 8 + payload_len, 0) + b"\0" * payload_len
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     src_ip.packed, dst_ip.packed)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth + ip + udp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--dst-net", default="10.0.0.0/8")
    ap.add_argument("--src-base", default="192.168.0.0")
    ap.add_argument("--vlan", type=int)
    a = ap.parse_args()
    if a.flows < 1 or a.size < 64 or a.size > 1518:
        sys.exit("mkpcap: --flows must be >= 1 and --size within 64..1518")
    net = ipaddress.ip_network(a.dst_net)
    base = ipaddress.ip_address(a.src_base)
    rnd = random.Random(1)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(a.flows):
            dst = net.network_address + rnd.randrange(net.num_addresses)
            fr = frame(base + i // 16, dst, 1024 + i % 16, 5001, a.size, a.vlan)
            f.write(struct.pack("<IIII", 0, i, len(fr), len(fr)) + fr)


if __name__ == "__main__":
    main()
