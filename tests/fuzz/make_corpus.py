#!/usr/bin/env python3
"""Rebuilds the seed corpus corpus/bgp_message/ from the captured vectors in tests/data/bgp/*.hex.

One file per captured message, plus one per capture holding all its messages back to back (the
framing path). Byte 0 of every file is the fuzz target's context selector (fuzz_bgp_message.cpp):
bit 0 = no 4-octet AS (bird2_2octet), bit 1 = extended messages, bit 2 = eBGP, bit 3 = ADD-PATH
for IPv4/IPv6 unicast (the *_addpath captures), bit 4 = RFC 8950 next hops (the *_enh captures);
the rest is the message as the implementation sent
it. Run after adding a capture: tests/fuzz/make_corpus.py
"""
import pathlib

here = pathlib.Path(__file__).resolve().parent
data = here.parent / "data" / "bgp"
out = here / "corpus" / "bgp_message"
out.mkdir(parents=True, exist_ok=True)
for old in out.iterdir():
    old.unlink()

for hexfile in sorted(data.glob("*.hex")):
    if "bfd" in hexfile.stem:  # BFD control packets (UDP), not BGP messages
        continue
    stem = hexfile.stem
    addpath = "addpath" in stem  # both *_addpath captures are eBGP sessions with ADD-PATH receive
    selector = ((0x01 if "2octet" in stem else 0) | (0x04 if "ebgp" in stem or "2octet" in stem or addpath else 0)
                | (0x08 if addpath else 0) | (0x10 if "enh" in stem else 0))
    stream = b""
    for line in hexfile.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, hexstr = line.split()[:2]
        msg = bytes.fromhex(hexstr)
        (out / f"{stem}_{name}").write_bytes(bytes([selector]) + msg)
        stream += msg
    (out / f"{stem}_session").write_bytes(bytes([selector]) + stream)
    # The same session with extended messages negotiated (RFC 8654): FRR offers the capability.
    (out / f"{stem}_session_extended").write_bytes(bytes([selector | 0x02]) + stream)
    # The same bytes read with the other ADD-PATH setting: path identifiers where there are none
    # and the reverse, the classic misreading (RFC 7911 §3) the decoder must survive.
    (out / f"{stem}_session_addpath_flipped").write_bytes(bytes([selector ^ 0x08]) + stream)
