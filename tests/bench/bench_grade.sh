#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-grade against `ss -tinp` on the same N established TCP sockets (default 10000):
# the same RTT and retransmit values, the time ratio ds-grade / ss (goal <= 0.5, median of
# RUNS runs) and peak memory (GNU time). The sockets run between two network namespaces
# joined by a veth (198.18.0.0/15, RFC 2544 benchmarking addresses, so they are graded).
#
#   tests/bench/bench_grade.sh [N] [RUNS]
set -u
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ip ss python3 /usr/bin/time
N=${1:-10000}
RUNS=${2:-7}
GRADE=${DS_BIN:-$DS_ROOT/bin}/ds-grade
[ -x "$GRADE" ] || { echo "build first: make"; exit 77; }

sfx=$$
A=dsgb-a-$sfx B=dsgb-b-$sfx
on_exit "ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null"
ip netns add "$A" && ip netns add "$B" || exit 1
ip link add "dgba$sfx" netns "$A" type veth peer name "dgbb$sfx" netns "$B" || exit 1
ip -n "$A" addr add 198.18.9.1/24 dev "dgba$sfx"
ip -n "$B" addr add 198.18.9.2/24 dev "dgbb$sfx"
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set "dgba$sfx" up
ip -n "$B" link set "dgbb$sfx" up
ip netns exec "$A" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"

# Some loss while the sessions send their 1000 bytes, at the receiving side, so some carry
# retransmits; data segments only (SYNs pass, so connecting is not slowed by SYN timeouts).
# Removed before measuring, so no counter moves between ss and ds-grade.
ip netns exec "$B" nft -f - <<NFT || exit 1
table inet dsgbench {
	chain input {
		type filter hook input priority 0;
		tcp dport 5201 ip length > 200 numgen random mod 100 < 2 drop
	}
}
NFT
ulimit -n $((N + 1024)) || { echo "cannot raise ulimit -n to $((N + 1024))"; exit 77; }
ip netns exec "$B" python3 "$DS_ROOT/tests/lab/grade_tcp.py" serve 198.18.9.2 5201 --keep &
srv=$!
on_exit "kill $srv 2>/dev/null; wait $srv 2>/dev/null"
sleep 0.5
ip netns exec "$A" python3 "$DS_ROOT/tests/lab/grade_tcp.py" send 198.18.9.2 5201 \
	--count "$N" --bytes 1000 --hold 3600 --name dsg-bench --ready "$TMP/ready" &
cli=$!
on_exit "kill $cli 2>/dev/null; wait $cli 2>/dev/null"
for _ in $(seq 600); do [ -e "$TMP/ready" ] && break; sleep 0.1; done
[ -e "$TMP/ready" ] || { echo "FAIL: bench_grade/setup — $N connections not ready"; exit 1; }
ip netns exec "$B" nft delete table inet dsgbench
sleep 3 # retransmissions settle; every session older than the grading minimum

got=$(ip netns exec "$A" ss -Htn state established | wc -l)
echo "sockets established in the namespace: $got (wanted $N)"

# --- same values: RTT and retransmits, socket by socket -------------------------------
ip netns exec "$A" ss -Htinp state established >"$TMP/ss.txt"
ip netns exec "$A" "$GRADE" --csv >"$TMP/grade.csv"
# ss: "local peer ... rtt:X/Y ... retrans:a/b" (retrans absent when none) on two lines.
awk '
	/^[0-9]/ { key = $3 " " $4; next }
	{
		rtt = ""; tr = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^rtt:/) { split(substr($i, 5), r, "/"); rtt = r[1] }
			if ($i ~ /^retrans:/) { split(substr($i, 9), t, "/"); tr = t[2] }
		}
		print key, rtt, tr
	}' "$TMP/ss.txt" | sort >"$TMP/ss.vals"
awk -F, 'NR > 1 { print $6, $7, $10, $12 }' "$TMP/grade.csv" | sort >"$TMP/grade.vals"
join -j1 <(awk '{ print $1 "|" $2, $3, $4 }' "$TMP/ss.vals" | sort) \
	<(awk '{ print $1 "|" $2, $3, $4 }' "$TMP/grade.vals" | sort) >"$TMP/joined"
matched=$(wc -l <"$TMP/joined")
diff_rtt=$(awk '{ d = $2 - $4; if (d < 0) d = -d; if (d > 0.0005) n++ } END { print n + 0 }' "$TMP/joined")
diff_retx=$(awk '$3 != $5 { n++ } END { print n + 0 }' "$TMP/joined")
same_app=$(awk -F, 'NR > 1 && $4 == "dsg-bench"' "$TMP/grade.csv" | wc -l)
ss_app=$(grep -c '"dsg-bench"' "$TMP/ss.txt")

# --- time and memory -------------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
run_timed() { # label cmd... -> "seconds maxrss_kb" per run in $TMP/$label.runs
	local label=$1 i
	shift
	: >"$TMP/$label.runs"
	for i in $(seq "$RUNS"); do
		ip netns exec "$A" /usr/bin/time -f '%e %M' -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" ||
			{ echo "FAIL: bench_grade/$label-runs — $(head -2 "$TMP/err")"; return 1; }
		# %e has 10 ms resolution: time the run ourselves too.
		local s e
		s=$(date +%s.%N)
		ip netns exec "$A" "$@" >/dev/null 2>&1
		e=$(date +%s.%N)
		echo "$(echo "$e - $s" | bc) $(awk '{ print $2 }' "$TMP/t")" >>"$TMP/$label.runs"
	done
}
run_timed ss ss -tinp state established
run_timed grade "$GRADE" --csv
ss_t=$(awk '{ print $1 }' "$TMP/ss.runs" | median | xargs printf '%.3f')
gr_t=$(awk '{ print $1 }' "$TMP/grade.runs" | median | xargs printf '%.3f')
ss_m=$(awk '{ print $2 }' "$TMP/ss.runs" | sort -n | tail -1)
gr_m=$(awk '{ print $2 }' "$TMP/grade.runs" | sort -n | tail -1)
ratio=$(echo "scale=3; $gr_t / $ss_t" | bc | xargs printf '%.3f')
with_retx=$(awk '$5 > 0' "$TMP/joined" | wc -l)

printf '\n| %-40s | %14s | %14s |\n' "$N established sockets" "ss -tinp" "ds-grade --csv"
printf '|%s|%s|%s|\n' "------------------------------------------" "----------------" "----------------"
printf '| %-40s | %14s | %14s |\n' "sockets reported" "$(wc -l <"$TMP/ss.vals")" "$(wc -l <"$TMP/grade.vals")"
printf '| %-40s | %14s | %14s |\n' "attributed to dsg-bench" "$ss_app" "$same_app"
printf '| %-40s | %14s | %14s |\n' "median wall time, $RUNS runs (s)" "$ss_t" "$gr_t"
printf '| %-40s | %14s | %14s |\n' "peak RSS (KiB)" "$ss_m" "$gr_m"
printf '| %-40s | %31s |\n' "time ratio ds-grade / ss (goal <= 0.5)" "$ratio"
printf '| %-40s | %31s |\n' "sockets matched by address" "$matched"
printf '| %-40s | %31s |\n' "RTT differs (> 0.5 us)" "$diff_rtt"
printf '| %-40s | %31s |\n' "retransmit count differs" "$diff_retx"
printf '| %-40s | %31s |\n' "sockets with retransmits (compared)" "$with_retx"
echo

[ "$matched" -ge "$N" ] && pass "same-sockets" || fail "same-sockets" "matched $matched of $N"
[ "$diff_rtt" -eq 0 ] && [ "$diff_retx" -eq 0 ] && pass "same-rtt-and-retransmits" ||
	fail "same-rtt-and-retransmits" "$diff_rtt RTT and $diff_retx retransmit differences"
[ "$same_app" -ge "$N" ] && pass "attributed" || fail "attributed" "$same_app of $N"
if [ "$(echo "$ratio <= 0.5" | bc)" -eq 1 ]; then pass "time-ratio-goal"; else
	fail "time-ratio-goal" "ratio $ratio > 0.5"
fi
t_done
