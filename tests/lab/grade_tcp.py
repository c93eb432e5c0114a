#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real TCP sessions for the ds-grade tests.

  grade_tcp.py serve ADDR PORT [--keep]        accept forever; read each connection to EOF
                                               (--keep: just hold every connection, no
                                               reading: for thousands of them)
  grade_tcp.py send ADDR PORT [options]        open sessions, send, hold, close
      --count N       sessions, opened together (1)
      --bytes N       bytes each session sends (0)
      --secs S        spread the sending over S seconds (0: as fast as possible)
      --hold S        keep the sessions open S seconds after sending (0)
      --name NAME     program name (comm) to show in /proc, so ds-grade can attribute it
      --ready FILE    touch FILE once every session is connected and has sent
      --report FILE   write one line "LOCALPORT BYTES" per session when done

Every session is closed with a normal FIN once done.
"""
import argparse
import ctypes
import os
import socket
import sys
import threading
import time


def set_name(name):
    libc = ctypes.CDLL(None)
    PR_SET_NAME = 15
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(args):
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(1024)

    def sink(c):
        try:
            while c.recv(1 << 16):
                pass
        except OSError:
            pass
        c.close()

    kept = []
    while True:
        c, _ = s.accept()
        if args.keep:
            kept.append(c)
            continue
        threading.Thread(target=sink, args=(c,), daemon=True).start()


def send(args):
    if args.name:
        set_name(args.name)
    socks = []
    for _ in range(args.count):
        c = socket.create_connection((args.addr, args.port), timeout=30)
        socks.append(c)
    chunk = b"x" * 16384
    if args.bytes:
        start = time.monotonic()
        sent = [0] * len(socks)
        while any(n < args.bytes for n in sent):
            for i, c in enumerate(socks):
                if sent[i] >= args.bytes:
                    continue
                n = min(len(chunk), args.bytes - sent[i])
                c.sendall(chunk[:n])
                sent[i] += n
            if args.secs:
                done = min(sent) / args.bytes
                ahead = done * args.secs - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    if args.ready:
        open(args.ready, "w").close()
    if args.hold:
        time.sleep(args.hold)
    ports = [c.getsockname()[1] for c in socks]
    for c in socks:
        c.shutdown(socket.SHUT_WR)
    for c in socks:
        try:
            while c.recv(1 << 16):
                pass
        except OSError:
            pass
        c.close()
    if args.report:
        with open(args.report, "w") as f:
            for p in ports:
                f.write("%d %d\n" % (p, args.bytes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["serve", "send"])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--secs", type=float, default=0)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--name")
    ap.add_argument("--ready")
    ap.add_argument("--report")
    args = ap.parse_args()
    if args.mode == "serve":
        serve(args)
    else:
        send(args)


if __name__ == "__main__":
    sys.exit(main())
