#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tiny authoritative answerer for PTR queries, for reverse-DNS tests inside a lab
namespace:  ptr-server.py ADDR=NAME ...  (listens on UDP 127.0.0.1:53 and [::1]:53).
Unknown names get NXDOMAIN. Runs until killed."""
import ipaddress, socket, struct, sys, threading

names = {}
for arg in sys.argv[1:]:
    addr, name = arg.split("=", 1)
    names[ipaddress.ip_address(addr).reverse_pointer.lower()] = name

def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"

def answer(query):
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    pos, labels = 12, []
    while query[pos]:
        n = query[pos]
        labels.append(query[pos + 1:pos + 1 + n].decode().lower())
        pos += 1 + n
    question = query[12:pos + 5]
    qname = ".".join(labels)
    qtype = struct.unpack("!H", query[pos + 1:pos + 3])[0]
    target = names.get(qname)
    if target is None or qtype != 12:
        return struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    rdata = encode_name(target)
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8580, 1, 1, 0, 0) + question + rr

def serve(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(1500)
        try:
            s.sendto(answer(q), peer)
        except Exception:
            pass

threading.Thread(target=serve, args=(socket.AF_INET6, "::1"), daemon=True).start()
serve(socket.AF_INET, "127.0.0.1")
