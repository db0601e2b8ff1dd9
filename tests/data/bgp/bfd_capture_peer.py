#!/usr/bin/env python3
# The BFD peer that recorded bird2_bfd.hex: answers a BFD speaker (RFC 5880 three-way handshake,
# one Poll once Up) and prints every Control packet it receives with its TTL. Run it inside a
# network namespace of a test sandbox, e.g. `bfd_capture_peer.py 10.0.0.1 12`.
import socket
import struct
import sys
import time

IP_RECVTTL = 12  # <linux/in.h>; Python's socket module lacks the name
IP_TTL = 2

local = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 12
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
rx.bind((local, 3784))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.IPPROTO_IP, IP_TTL, 255)
tx.bind((local, 49152))
state, my = 1, 0x11223344
poll_sent = False
end = time.time() + seconds
while time.time() < end:
    rx.settimeout(0.5)
    try:
        data, anc, _, addr = rx.recvmsg(256, 64)
    except socket.timeout:
        continue
    ttl = next((struct.unpack("i", d)[0] for lvl, typ, d in anc if lvl == socket.IPPROTO_IP and typ == IP_TTL), None)
    print("rx", addr, "ttl", ttl, data.hex(), flush=True)
    peer_state, peer_poll = data[1] >> 6, data[1] & 0x20
    your = struct.unpack("!I", data[4:8])[0]
    state = 2 if peer_state == 1 else 3 if peer_state in (2, 3) else state
    flags = 0x10 if peer_poll else 0
    if state == 3 and peer_state == 3 and not peer_poll and not poll_sent:
        flags, poll_sent = 0x20, True
    tx.sendto(struct.pack("!BBBBIIIII", 0x20, state << 6 | flags, 3, 24, my, your, 300000, 300000, 0),
              (addr[0], 3784))
