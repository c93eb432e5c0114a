#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-agent benchmark (issue 4): authenticated echoes answered per second with the agent on
# one core, RSS with 1,000 peers configured, idle CPU over 60 s.
#
# The load generator is tests/helpers/ds-echo in flood mode (requests sealed before the
# clock starts, sent and received in batches, replies counted but not opened), on
# loopback, with --rate-limit 0 (the per-source limit would otherwise be what is measured).
# Besides the raw rate, the rate per second of agent CPU time is given: on a shared or
# small machine the generator, not the agent, may be the bottleneck.
#   BENCH_SECONDS (default 10) flood length; BENCH_IDLE_SECONDS (default 60).
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
SECS=${BENCH_SECONDS:-10}
IDLE=${BENCH_IDLE_SECONDS:-60}
T=$(mktemp -d "${TMPDIR:-/tmp}/ds-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
[ -x bin/ds-agent ] && [ -x bin/ds-key ] && [ -f build/libds.a ] || { echo "build first (make)"; exit 1; }
cc -std=gnu11 -D_GNU_SOURCE -O2 -iquote libds tests/helpers/ds-echo.c build/libds.a -lcrypto -lcsv -lm \
	-o "$T/ds-echo" || exit 1
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_sock() { for _ in $(seq 100); do [ -S "$1/agent.sock" ] && return 0; sleep 0.1; done; return 1; }
cpus=$(nproc)
# The agent is one thread: it never uses more than one core. It is not pinned: on a
# loopback benchmark the sender's system call does the receiver's network stack work, and
# pinning both ends next to other busy processes measures the scheduler. As root, both
# run at nice -10 so other load on a shared machine disturbs less.
pin_agent=() pin_load=()
[ "$(id -u)" -eq 0 ] && pin_agent=(nice -n -10) pin_load=(nice -n -10)

# Private copies: a rebuild of bin/ while the benchmark runs must not pull them away.
mkdir -p "$T/bin" && cp bin/ds-agent bin/ds-key "$T/bin/" || exit 1
cd "$T" || exit 1
bin=$T/bin
"$bin/ds-key" genkey >a.key && "$bin/ds-key" genkey >c.key && chmod 600 a.key c.key
A=$("$bin/ds-key" pubkey <a.key) C=$("$bin/ds-key" pubkey <c.key)

# ---- 1. echoes answered per second ----
P=$(free_port)
printf 'name,pubkey,endpoint\nc,%s,\n' "$C" >peers1.csv
"${pin_agent[@]}" "$bin/ds-agent" -q -k a.key -n a --peers peers1.csv --state s1 -p "$P" --rate-limit 0 &
ap=$!; pids+=("$ap")
wait_sock s1 || { echo "agent did not start"; exit 1; }
# The agent's CPU time over the whole generator run (it is idle while the requests are
# sealed beforehand) divided by the flood's own duration.
t0=$(cpu_ticks $ap)
out=$("${pin_load[@]}" "$T/ds-echo" -k c.key -P "$A" -t "$SECS" -w 128 "127.0.0.1:$P")
t1=$(cpu_ticks $ap)
rate=$(echo "$out" | sed -n 's/.*rate \([0-9]*\)\/s.*/\1/p')
fsecs=$(echo "$out" | sed -n 's/.*secs \([0-9.]*\).*/\1/p')
busy=$(echo "scale=1; 100 * ($t1 - $t0) / $HZ / $fsecs" | bc)
per_core=$(echo "scale=0; $rate * 100 / ($busy + 0.0001)" | bc)
answered=$("$bin/ds-agent" --status --state s1 | awk '$1=="answered"{print $2}')
kill $ap; wait $ap 2>/dev/null

# ---- 2. RSS with 1,000 peers; 3. idle CPU ----
echo "name,pubkey,endpoint" >peers1000.csv
for i in $(seq 1000); do
	echo "p$i,$("$bin/ds-key" genkey | "$bin/ds-key" pubkey),"
done >>peers1000.csv
P=$(free_port)
"$bin/ds-agent" -q -k a.key -n a --peers peers1000.csv --state s2 -p "$P" &
ap=$!; pids+=("$ap")
wait_sock s2 || { echo "agent with 1000 peers did not start"; exit 1; }
sleep 3
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$ap/status")
hwm_kb=$(awk '/VmHWM/{print $2}' "/proc/$ap/status")
t0=$(cpu_ticks $ap); w0=$(date +%s%N)
sleep "$IDLE"
t1=$(cpu_ticks $ap); w1=$(date +%s%N)
idle=$(echo "scale=3; 100 * ($t1 - $t0) / $HZ / (($w1 - $w0) / 1000000000)" | bc)
kill $ap; wait $ap 2>/dev/null

# The same 1000 peers, each with an endpoint (a socket that never answers): every peer's
# session state is made and handshakes go out; the worst case for memory.
sink=$(free_port)
python3 -c 'import socket,time,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1]))); time.sleep(3600)' "$sink" &
pids+=("$!")
sed "s/,\$/,127.0.0.1:$sink/" peers1000.csv >peers1000ep.csv
P=$(free_port)
"$bin/ds-agent" -q -k a.key -n a --peers peers1000ep.csv --state s3 -p "$P" &
ap=$!; pids+=("$ap")
wait_sock s3 || { echo "agent with 1000 reachable peers did not start"; exit 1; }
sleep 3
rss_all_kb=$(awk '/VmRSS/{print $2}' "/proc/$ap/status")
kill $ap; wait $ap 2>/dev/null

ok() { if [ "$(echo "$1" | bc)" -eq 1 ]; then echo met; else echo "NOT met"; fi; }
echo "| metric | goal | measured | |"
echo "|---|---|---|---|"
echo "| authenticated echoes answered per second | >= 100000 on one core | $rate/s with the agent ${busy}% busy = $per_core per agent CPU-second (${SECS} s flood, $answered answered) | $(ok "$per_core >= 100000")$([ "$rate" -lt 100000 ] && echo " (extrapolated: the raw rate is below the goal, with the agent not saturated)") |"
echo "| RSS with 1000 peers configured | <= 16 MB | $((rss_kb / 1024)).$(( (rss_kb % 1024) * 10 / 1024 )) MB (peak $((hwm_kb / 1024)) MB) | $(ok "$rss_kb <= 16384") |"
echo "| RSS with 1000 peers, all with an endpoint (every session made) | (<= 16 MB) | $((rss_all_kb / 1024)).$(( (rss_all_kb % 1024) * 10 / 1024 )) MB | $(ok "$rss_all_kb <= 16384") |"
echo "| idle CPU, 1000 peers | < 0.5 % | ${idle} % over ${IDLE} s | $(ok "$idle < 0.5") |"
echo
echo "machine: $cpus cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; ${pin_agent[*]:-default priority}"
