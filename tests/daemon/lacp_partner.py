"""A scripted LACP partner: IEEE 802.1AX LACPDUs on raw packet sockets.

  lacp_partner.py CONTROL IFACE ...

Every 300 ms it sends on each IFACE an LACPDU whose actor is this partner
(system 02:1a:c9:00:00:01, priority 100, port = the interface's position
from 1, state activity|timeout|aggregation|sync|collecting|distributing)
and whose partner is the last actor it received on that interface, so the
other end sees its own view echoed as a real partner does. The actor key
of each interface is read from the file CONTROL before each round: one
line "IFACE KEY" per interface, so a test can move an interface into
another aggregator (a different key) and back while the partner runs.
Runs until killed."""
import select
import socket
import struct
import sys
import time

SLOW_PROTOCOLS = bytes.fromhex("0180c2000002")
ETH_SLOW = 0x8809
SYS_ID = bytes.fromhex("021ac9000001")
SYS_PRIORITY = 100
STATE = 0x3f  # activity, timeout (fast), aggregation, sync, collecting, distributing


def info_tlv(kind, sys_priority, sys_id, key, port_priority, port, state):
    return struct.pack("!BBH6sHHHB3x", kind, 20, sys_priority, sys_id, key, port_priority, port, state)


def lacpdu(src_mac, key, port, partner):
    body = bytes([1, 1])  # subtype LACP, version 1
    body += info_tlv(1, SYS_PRIORITY, SYS_ID, key, 255, port, STATE)
    body += struct.pack("!BB", 2, 20) + partner
    body += struct.pack("!BBH12x", 3, 16, 0)  # collector, max delay 0
    body += bytes(2 + 50)  # terminator and reserved
    return SLOW_PROTOCOLS + src_mac + struct.pack("!H", ETH_SLOW) + body


def read_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            if line.split():
                name, key = line.split()
                keys[name] = int(key)
    return keys


def main(control, ifaces):
    socks = {}
    for name in ifaces:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_SLOW))
        s.bind((name, ETH_SLOW))
        socks[name] = s
    partner = {name: bytes(18) for name in ifaces}  # the received actor, TLV body after type/len
    next_tx = 0.0
    while True:
        now = time.monotonic()
        if now >= next_tx:
            keys = read_keys(control)
            for port, name in enumerate(ifaces, 1):
                mac = socks[name].getsockname()[4][:6]
                socks[name].send(lacpdu(mac, keys.get(name, 1), port, partner[name]))
            next_tx = now + 0.3
        ready, _, _ = select.select(list(socks.values()), [], [], max(0.0, next_tx - time.monotonic()))
        for s in ready:
            frame = s.recv(256)
            name = next(n for n, x in socks.items() if x is s)
            if len(frame) >= 14 + 2 + 20 and frame[14] == 1 and frame[16] == 1:
                partner[name] = frame[18:36]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
