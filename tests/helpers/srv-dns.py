#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A tiny DNS responder on 127.0.0.1 for tests/cli/test_stun_srv.sh: SRV and A records from
# the command line, NXDOMAIN for anything else. Never forwards a query anywhere.
#   srv-dns.py PORT READYFILE RECORD...
#   RECORD: "srv NAME PRIO WEIGHT PORT TARGET" | "a NAME IPV4"
import socket
import struct
import sys


def enc_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_name(data, off):
    labels = []
    while True:
        n = data[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n


def main():
    port, ready, specs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    records = {}
    for spec in specs:
        f = spec.split()
        if f[0] == "srv":
            rdata = struct.pack("!HHH", int(f[2]), int(f[3]), int(f[4])) + enc_name(f[5])
            records.setdefault((f[1].lower(), 33), []).append(rdata)
        elif f[0] == "a":
            records.setdefault((f[1].lower(), 1), []).append(socket.inet_aton(f[2]))
    known = {name for name, _ in records}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    open(ready, "w").write("ready\n")
    while True:
        data, peer = s.recvfrom(1500)
        if len(data) < 12:
            continue
        qid, _flags, qdcount = struct.unpack("!HHH", data[:6])
        if qdcount != 1:
            continue
        name, off = parse_name(data, 12)
        qtype, _qclass = struct.unpack("!HH", data[off:off + 4])
        question = data[12:off + 4]
        answers = records.get((name, qtype), [])
        rcode = 0 if name in known else 3
        resp = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0) + question
        for rdata in answers:
            resp += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
        s.sendto(resp, peer)


if __name__ == "__main__":
    main()
