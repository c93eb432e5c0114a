#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Make a synthetic results file (ds-results(5)) for a fleet: one mesh cycle by default.

    gen_results.py [-n AGENTS] [-c CYCLES] [--seed S] > results.csv

Every ordered pair (src, dst) gets one row per cycle, as if each agent measured every peer
once (N*(N-1) rows per cycle: 999,000 for 1,000 agents). About 0.5 % of the directions are
down in the last cycle and about 1 % are slowed there, so the report has work to do.
Values are deterministic for a given seed.
"""
import argparse
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--agents", type=int, default=1000)
    ap.add_argument("-c", "--cycles", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    names = ["agent-%04d" % i for i in range(a.agents)]
    # A base RTT and capacity per unordered pair, a loss floor per direction.
    out = sys.stdout
    w = out.write
    w("ts,tool,run_id,src,dst,direction,path,outcome,rtt_ms,rtt_min_ms,rtt_ewma_ms,owd_ms,"
      "jitter_ms,owd_var_ms,loss_pct,bw_mbps,bw_lower_bound_mbps,bytes\n")
    paths = ("lan", "v6", "punch", "punch", "punch", "relay")
    run = 0
    for c in range(a.cycles):
        last = c == a.cycles - 1
        for si, s in enumerate(names):
            # The agent's cycle spreads its peers over two minutes.
            base_s = c * 120 + (si * 7) % 60
            for di, d in enumerate(names):
                if si == di:
                    continue
                run += 1
                k = (min(si, di) * 7919 + max(si, di) * 104729) % 1000003
                rtt0 = 2.0 + (k % 1800) / 10.0
                bw0 = 5.0 + (k % 950)
                off = (di * 113) % 120000
                sec = base_s + off // 1000
                ts = "2026-11-23T%02d:%02d:%02d.%03dZ" % (
                    12 + sec // 3600, (sec // 60) % 60, sec % 60, off % 1000)
                path = paths[k % len(paths)]
                rid = "%016x" % (run * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF)
                r = rnd.random()
                if last and r < 0.005:
                    w("%s,ds-mesh,%s,%s,%s,fwd,,down,,,,,,,,,,\n" % (ts, rid, s, d))
                    continue
                slow = 3.0 if (last and r < 0.015) else 1.0
                rtt = rtt0 * slow * (1 + rnd.random() * 0.1)
                bw = bw0 / slow * (1 - rnd.random() * 0.1)
                loss = 0 if rnd.random() < 0.9 else 5
                w("%s,ds-mesh,%s,%s,%s,fwd,%s,ok,%.3f,%.3f,%.3f,,%.3f,%.3f,%d,%.2f,,%d\n" % (
                    ts, rid, s, d, path, rtt, rtt0, rtt0 * 1.02, rtt * 0.02, rtt * 0.05,
                    loss, bw, 14000 + k % 2000))


if __name__ == "__main__":
    main()
