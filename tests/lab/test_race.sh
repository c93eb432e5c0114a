#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-race across examples/lab/six.topo (agents behind an office NAT with hairpin, two home
# NATs, a carrier-grade NAT, one public server; IPv6 behind stateful firewalls):
# - both directions of every pair that can reach each other get the cheapest path: lan for
#   the office pair, v6 where both sides have IPv6, direct otherwise;
# - the office pair never crosses the NAT (its hairpin counter stays at zero while they
#   race and measure each other);
# - the IPv4-only agent never races an IPv6 candidate;
# - a dead first candidate costs one stagger, not a timeout (and --sequential is slower);
# - a peer nothing reaches is 'down' after the timeout, exit 1;
# - the winner becomes the agent's path (ds-agent --status, ds-pairprobe's path column).
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd turnserver iptables ip6tables
export DS_LAB_PREFIX=tr$$
export DS_LAB_RUN=$TMP/lab
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/six.topo" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail lab-up; t_done; }
run=$TMP/run
mkdir -p "$run"
lab-agents start "$run" "$(ds-lab addr stun v4)" a1 a2 a3 a4 a5 "a6=$(ds-lab addr a6 v4):41878" ||
	{ fail agents-start; t_done; }
office_pub=$(ds-lab addr office v4)
office_lan=$(ds-lab addr a1 v4 | cut -d. -f1-3).0/24

race() { # NODE PEER [args] -> CSV on stdout, exit status of ds-race
	local node=$1 peer=$2
	shift 2
	ds-lab exec "$node" -- ds-race --state "$run/$node" --csv "$@" "$peer"
}
# field of the winner row (or of the candidate rows with ROW=candidate)
col() { # COLUMN [ROW] < csv
	awk -F, -v k="$1" -v r="${2:-winner}" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$c["row"] == r { print $c[k] }'
}

# Sessions first: the agents prove each other's sessions within a few seconds of start.
for _ in $(seq 50); do
	n=0
	for a in a1 a2 a3 a4 a6; do
		n=$((n + $(ds-agent --status --state "$run/$a" 2>/dev/null | grep -c '^peer .* established yes')))
	done
	[ "$n" -ge 20 ] && break
	sleep 0.2
done

# ---- the cheapest path, both directions of every reachable pair ----
declare -A want=(
	[a1:a2]=lan [a1:a3]=direct [a1:a4]=v6 [a1:a6]=v6
	[a2:a3]=direct [a2:a4]=v6 [a2:a6]=v6
	[a3:a4]=direct [a3:a6]=direct
	[a4:a6]=v6
)
bad="" times=""
for k in "${!want[@]}"; do
	x=${k%:*} y=${k#*:}
	for dir in "$x $y" "$y $x"; do
		set -- $dir
		race "$1" "$2" >"$TMP/r.csv" 2>"$TMP/r.err"
		got=$(col path <"$TMP/r.csv") t=$(col time_to_path_ms <"$TMP/r.csv")
		times+="$1->$2 $got ${t}ms; "
		[ "$got" = "${want[$k]}" ] || bad+="$1->$2 got '$got' want ${want[$k]} ($(head -c 200 "$TMP/r.err")); "
	done
done
echo "time to path: $times"
[ -z "$bad" ] && pass cheapest-path-every-pair-both-directions || fail cheapest-path-every-pair-both-directions "$bad"

# ---- the office pair stays on the LAN: no packet through the NAT's hairpin ----
# from the office LAN to the NAT's own public address: only a hairpinned packet does that
ds-lab exec office -- iptables -t raw -I PREROUTING -s "$office_lan" -d "$office_pub" -p udp -j ACCEPT
ds-lab exec office -- iptables -t raw -Z PREROUTING
ok=1
for dir in "a1 a2" "a2 a1"; do
	set -- $dir
	race "$1" "$2" -4 >"$TMP/r.csv" || ok=0
	[ "$(col path <"$TMP/r.csv")" = lan ] || ok=0
	race "$1" "$2" >"$TMP/r.csv" || ok=0
	[ "$(col path <"$TMP/r.csv")" = lan ] || ok=0
	p=$(ds-lab exec "$1" -- ds-pairprobe --state "$run/$1" --csv -c 20 -i 5ms "$2" |
		awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["path"] }')
	[ "$p" = lan ] || { ok=0; echo "pairprobe $1->$2 path '$p'"; }
done
hair=$(ds-lab exec office -- iptables -t raw -nvxL PREROUTING | awk -v d="$office_pub" '$0 ~ d { print $1; exit }')
echo "office pair: races and pairprobe both ways, path lan; packets to the NAT's public address from inside: $hair"
[ $ok = 1 ] && pass same-lan-pair-path-lan || fail same-lan-pair-path-lan "$(cat "$TMP/r.csv")"
[ "$hair" = 0 ] && pass same-lan-pair-never-crosses-the-nat || fail same-lan-pair-never-crosses-the-nat "$hair packets hairpinned"
status=$(ds-agent --status --state "$run/a1" | grep '^peer a2 ')
case $status in *"via lan"*) pass agent-keeps-the-lan-path ;; *) fail agent-keeps-the-lan-path "$status" ;; esac

# ---- an IPv4-only agent races no IPv6 candidate ----
v6=0
for p in a1 a4 a6; do
	race a3 "$p" >"$TMP/r.csv"
	v6=$((v6 + $(col family candidate <"$TMP/r.csv" | grep -c ipv6)))
done
[ "$v6" = 0 ] && pass v4-only-agent-races-no-ipv6 || fail v4-only-agent-races-no-ipv6 "$v6 IPv6 candidates"

# ---- a dead first candidate costs one stagger, not a timeout ----
ds-lab exec a4 -- ip6tables -I INPUT -p udp --dport 41878 -j DROP
race a1 a4 --no-use -w 1s >"$TMP/r.csv"
t_race=$(col time_to_path_ms <"$TMP/r.csv") p_race=$(col path <"$TMP/r.csv")
v6_out=$(col outcome candidate <"$TMP/r.csv" | head -1)
race a1 a4 --no-use -w 1s --sequential >"$TMP/s.csv"
t_seq=$(col time_to_path_ms <"$TMP/s.csv")
ds-lab exec a4 -- ip6tables -D INPUT -p udp --dport 41878 -j DROP
echo "a4's IPv6 dead: race finds '$p_race' in $t_race ms (first candidate: $v6_out), sequential in $t_seq ms"
awk -v t="$t_race" 'BEGIN { exit !(t != "" && t < 400) }' && [ "$p_race" = direct ] &&
	pass dead-first-candidate-costs-a-stagger ||
	fail dead-first-candidate-costs-a-stagger "$(cat "$TMP/r.csv" "$run/rendezvous/cand-a4.csv")"
awk -v t="$t_seq" 'BEGIN { exit !(t != "" && t >= 1000) }' &&
	pass sequential-waits-the-timeout || fail sequential-waits-the-timeout "$(cat "$TMP/s.csv")"

# ---- nothing reaches a5 from the office (endpoint-dependent CGN x port-restricted NAT) ----
start=$(date +%s%N)
race a1 a5 -w 1s >"$TMP/r.csv"
rc=$? el=$(( ($(date +%s%N) - start) / 1000000 ))
out=$(col outcome <"$TMP/r.csv") cands=$(col outcome candidate <"$TMP/r.csv" | sort -u | tr '\n' ' ')
echo "a1 -> a5: exit $rc, winner row '$out', candidates: $cands in $el ms"
[ $rc = 1 ] && [ "$out" = down ] && [ "$cands" = "timeout " ] && [ $el -lt 4000 ] &&
	pass unreachable-peer-is-down || fail unreachable-peer-is-down "rc $rc $(cat "$TMP/r.csv")"

# ---- the winner becomes the agent's path; a race costs a few hundred bytes ----
race a1 a4 -4 >"$TMP/r.csv"
b=$(col bytes <"$TMP/r.csv")
p=$(ds-lab exec a1 -- ds-pairprobe --state "$run/a1" --csv -c 5 -i 5ms --pairs 0 a4 |
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["path"] }')
race a1 a4 >"$TMP/r.csv"
p6=$(ds-lab exec a1 -- ds-pairprobe --state "$run/a1" --csv -c 5 -i 5ms --pairs 0 a4 |
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["path"] }')
echo "a1 -> a4: after ds-race -4 pairprobe says '$p' ($b bytes for the race), after ds-race '$p6'"
[ "$p" = direct ] && [ "$p6" = v6 ] && pass winner-becomes-the-agents-path ||
	fail winner-becomes-the-agents-path "after -4: $p, after race: $p6"
[ -n "$b" ] && [ "$b" -le 1000 ] && pass race-costs-under-1kB || fail race-costs-under-1kB "$b"

ds-lab exec a1 -- ds-race --state "$run/a1" --stagger 5ms a2 >/dev/null 2>&1
[ $? = 2 ] && pass stagger-below-10ms-refused || fail stagger-below-10ms-refused
t_done
