#!/usr/bin/env python3
"""Plays a minimal BGP peer on loopback and records, as hex, every message the other side sends.

Used to capture the vectors in this directory from real implementations (BIRD, GoBGP): it sends an
OPEN and KEEPALIVEs, never UPDATEs, and writes one line per received message: "<type> <hex>".
Only for 127.0.0.0/8. Bounded: stops after --duration seconds or when the peer closes.

  capture_peer.py --listen 127.0.0.1:10179 --asn 65002 --id 10.0.0.2 --duration 12 --out x.txt
  capture_peer.py --connect 127.0.0.3:11179 ... (active side)

Extra capabilities are raw TLVs (--cap CODE:HEXVALUE, e.g. --cap 69:00010101 for ADD-PATH receive
IPv4 unicast, --cap 6: for extended messages), so that the other side enables what it only sends
to a peer that offers it (path identifiers, BoRR/EoRR, ...). --send-at SECONDS:HEX sends a raw
message that many seconds after the other side's first KEEPALIVE (e.g. a ROUTE-REFRESH).
"""
import argparse
import socket
import struct
import time

TYPES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}


def msg(mtype, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), mtype) + body


def open_msg(asn, bgp_id, hold, four_octet, families, extra=()):
    caps = b""
    for afi, safi in families:
        caps += struct.pack("!BBHBB", 1, 4, afi, 0, safi)
    caps += b"\x02\x00"  # route refresh
    if four_octet:
        caps += struct.pack("!BBI", 65, 4, asn)
    for code, value in extra:
        caps += struct.pack("!BB", code, len(value)) + value
    params = struct.pack("!BB", 2, len(caps)) + caps
    my_as = asn if asn <= 0xFFFF else 23456
    return msg(1, struct.pack("!BHH4sB", 4, my_as, hold, socket.inet_aton(bgp_id), len(params)) + params)


def recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        sock.settimeout(max(0.05, deadline - time.time()))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen")
    ap.add_argument("--connect")
    ap.add_argument("--asn", type=int, required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--hold", type=int, default=90)
    ap.add_argument("--two-octet", action="store_true", help="omit the 4-octet AS capability")
    ap.add_argument("--ipv4-only", action="store_true")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--out", required=True)
    ap.add_argument("--send-hex", action="append", default=[], help="raw messages to send once Established")
    ap.add_argument("--cap", action="append", default=[], help="extra capability CODE:HEXVALUE")
    ap.add_argument("--send-at", action="append", default=[], help="SECONDS:HEX, sent that long after Established")
    a = ap.parse_args()
    fams = [(1, 1)] if a.ipv4_only else [(1, 1), (2, 1)]
    extra = [(int(c.split(":", 1)[0]), bytes.fromhex(c.split(":", 1)[1])) for c in a.cap]
    timed = sorted((float(t.split(":", 1)[0]), bytes.fromhex(t.split(":", 1)[1])) for t in a.send_at)
    established = None
    deadline = time.time() + a.duration
    if a.listen:
        host, port = a.listen.rsplit(":", 1)
        assert host.startswith("127."), "loopback only"
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, int(port)))
        ls.listen(1)
        ls.settimeout(a.duration)
        s, _ = ls.accept()
    else:
        host, port = a.connect.rsplit(":", 1)
        assert host.startswith("127."), "loopback only"
        s = socket.create_connection((host, int(port)), timeout=a.duration)
    s.sendall(open_msg(a.asn, a.id, a.hold, not a.two_octet, fams, extra))
    sent_extra = False
    last_ka = 0.0
    with open(a.out, "w") as out:
        try:
            while time.time() < deadline:
                if time.time() - last_ka > 1:
                    s.sendall(msg(4))
                    last_ka = time.time()
                while established is not None and timed and time.time() - established >= timed[0][0]:
                    s.sendall(timed.pop(0)[1])
                try:
                    hdr = recv_exact(s, 19, min(deadline, time.time() + 1))
                except socket.timeout:
                    continue
                length, mtype = struct.unpack("!HB", hdr[16:19])
                body = recv_exact(s, length - 19, deadline + 1)
                out.write(f"{TYPES.get(mtype, mtype)} {(hdr + body).hex()}\n")
                out.flush()
                if mtype == 4 and established is None:
                    established = time.time()
                if mtype == 4 and not sent_extra:
                    for h in a.send_hex:
                        s.sendall(bytes.fromhex(h))
                    sent_extra = True
                if mtype == 3:
                    break
        except (EOFError, ConnectionError, socket.timeout):
            pass
    s.close()


if __name__ == "__main__":
    main()
