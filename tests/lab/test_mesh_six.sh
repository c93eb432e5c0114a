#!/bin/bash
# SPDX-License-Identifier: MIT
# The six-agent lab mesh end to end: agents on every node of examples/lab/six.topo, one
# ds-mesh cycle on each gives all 30 directional cells a value or an explicit 'down';
# slowing one lab link between two cycles turns exactly the cells through it 'outside'
# their baseline in ds-report; the cycle's race puts each pair on its cheapest path.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd turnserver flock shuf
export DS_LAB_PREFIX=tm$$
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/six.topo" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail lab-up; t_done; }
run=$TMP/run
mkdir -p "$run"
stun=$(ds-lab addr stun v4)
LAB_AGENTS_ARGS="--turn $stun:3478 --turn-user ds --turn-pass dspass" \
	lab-agents start "$run" "$stun" a1 a2 a3 a4 a5 "a6=$(ds-lab addr a6 v4):41878"

lab-agents cycle "$run" >"$TMP/files1"
ds-report --csv $(cat "$TMP/files1") >"$TMP/cells1.csv" 2>"$TMP/report1.err"
# One CSV row per directional cell (ds-report --csv), with each metric's status and value.
col() { # FILE SRC DST COLUMN
	awk -F, -v s="$2" -v d="$3" -v k="$4" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$c["src"] == s && $c["dst"] == d { print $c[k] }' "$1"
}
n=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["src"] != $c["dst"]' "$TMP/cells1.csv" | wc -l)
valued=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	$c["src"] != $c["dst"] && ($c["latency_status"] == "down" || $c["rtt_ms"] != "") { ok++ }
	END { print ok + 0 }' "$TMP/cells1.csv")
if [ "$n" = 30 ] && [ "$valued" = 30 ]; then
	pass thirty-cells-each-valued-or-down
else
	fail thirty-cells-each-valued-or-down "cells=$n valued-or-down=$valued; $(head -3 "$TMP/report1.err")"
fi
# Agents behind NATs of different kinds reached each other directly: a3 (full cone) and
# a4 (address-restricted) both ways, a5 (CGNAT) and the public a6, the office LAN pair.
for pair in a3,a4 a4,a3 a5,a6 a6,a5 a1,a2; do
	s=${pair%,*} d=${pair#*,}
	st=$(col "$TMP/cells1.csv" "$s" "$d" latency_status)
	[ "$st" = within ] && pass "measured-$s-to-$d" || fail "measured-$s-to-$d" "status '$st'"
done
# The race put each pair on its cheapest path: the office pair on its LAN, a1 and the
# dual-stack server a6 on IPv6, the IPv4-only a3 and a6 on public IPv4; a1 and the phone
# behind the carrier-grade NAT (random ports) only through the TURN relay.
paths=$(cat $(cat "$TMP/files1") | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	$c["direction"] == "fwd" && $c["outcome"] == "ok" { print $c["src"] ">" $c["dst"] "=" $c["path"] }' | sort -u)
want="a1>a2=lan a2>a1=lan a1>a6=v6 a6>a1=v6 a3>a6=direct a6>a3=direct a1>a5=relay a5>a1=relay"
miss=""
for w in $want; do grep -qx "$w" <<<"$paths" || miss+="$w "; done
[ -z "$miss" ] && pass race-puts-pairs-on-cheapest-path || fail race-puts-pairs-on-cheapest-path "missing $miss; got $(echo $paths)"

# Slow the WAN's link into a3's home NAT (100 -> 10 Mbit/s) and measure again: every
# direction into a3 drops far below its baseline; the directions out of a3 do not.
ds-lab set wan home1 rate=10mbit >/dev/null
lab-agents cycle "$run" >"$TMP/files2"
ds-report --csv $(cat "$TMP/files2") >"$TMP/cells2.csv" 2>/dev/null
into=$(col "$TMP/cells2.csv" a6 a3 throughput_status)
out=$(col "$TMP/cells2.csv" a3 a6 throughput_status)
# The other direction's true rate did not change, but its baseline is the best of only
# a few packet-pair figures, which can sit well above the link (95 Mbit/s on 50 was seen):
# it may read marginal, never outside.
if [ "$into" = outside ] && { [ "$out" = within ] || [ "$out" = marginal ]; }; then
	pass slowed-link-cell-turns-outside
else
	fail slowed-link-cell-turns-outside "a6->a3 '$into' (want outside), a3->a6 '$out' (want within or marginal)"
	grep -E ',a6,a3,|,a3,a6,' "$TMP/cells2.csv"
fi
t_done
