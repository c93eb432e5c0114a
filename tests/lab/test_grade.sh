#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-grade on real TCP between two network namespaces joined by a veth: a clean link grades
# Excellent; loss at the receiving side (nftables numgen, after a tbf bottleneck) makes
# retransmits and a Fair or Poor grade exactly as the thresholds say; ds-link delay moves the
# RTT grade; a 0.2 s session is not graded; an app with 2 sessions has no app grade; loopback
# is never graded; LAN peers only with --lan; iperf3 is attributed by name; a session that
# opens and closes between two sweeps is caught with its final counters; IPv6 too; a cron
# run records what finished since the previous run.
#
# Addresses are RFC 2544 benchmarking (198.18.0.0/15) and RFC 3849 documentation (2001:db8::/32)
# ranges, which are not "LAN", so they are graded by default; 10.77.0.0/24 is the LAN.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ip nft tc python3 ss
GRADE=${DS_BIN:-$DS_ROOT/bin}/ds-grade
TCPH=$DS_ROOT/tests/lab/grade_tcp.py
[ -x "$GRADE" ] || { echo "needs bin/ds-grade (make)"; exit 77; }

sfx=$$
A=dsg-a-$sfx B=dsg-b-$sfx VA=dga$sfx VB=dgb$sfx
on_exit "ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null"
ip netns add "$A" && ip netns add "$B" || exit 1
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B" || exit 1
ip -n "$A" addr add 198.18.7.1/24 dev "$VA"
ip -n "$B" addr add 198.18.7.2/24 dev "$VB"
ip -n "$A" addr add 10.77.0.1/24 dev "$VA"
ip -n "$B" addr add 10.77.0.2/24 dev "$VB"
ip -n "$A" addr add 2001:db8:7::1/64 dev "$VA" nodad
ip -n "$B" addr add 2001:db8:7::2/64 dev "$VB" nodad
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
ip netns exec "$A" ping -c1 -W2 198.18.7.2 >/dev/null
ip netns exec "$A" ping -6 -c1 -W2 2001:db8:7::2 >/dev/null

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
pids=()
# Background helpers: "ip netns exec" execs the program, so $! is the program itself.
bgA() { ip netns exec "$A" "$@" & pids+=($!); }
bgB() { ip netns exec "$B" "$@" & pids+=($!); }
on_exit 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null'

# Servers: one port per case so each impairment touches only its own sessions.
for port in 5001 5002 5003 5004; do bgB python3 "$TCPH" serve 198.18.7.2 $port; done
bgB python3 "$TCPH" serve 2001:db8:7::2 5001
bgB python3 "$TCPH" serve 10.77.0.2 5005
bgA python3 "$TCPH" serve 127.0.0.1 5009
bgA python3 "$TCPH" serve ::1 5009
sleep 0.5

# csv_rows APP [ds-grade options]: the session rows of one program.
csv_rows() { local app=$1; shift; inA "$GRADE" --csv "$@" | awk -F, -v a="$app" 'NR > 1 && $4 == a'; }
# expected_grade RTT_MS RETRANS_PCT RTT_T1,T2,T3 RETX_T1,T2,T3: the rule, independently.
expected_grade() {
	awk -v r="$1" -v x="$2" -v rt="$3" -v xt="$4" 'BEGIN {
		split(rt, a, ","); split(xt, b, ",")
		g1 = r < a[1] ? 0 : r < a[2] ? 1 : r < a[3] ? 2 : 3
		g2 = x < b[1] ? 0 : x < b[2] ? 1 : x < b[3] ? 2 : 3
		g = g1 > g2 ? g1 : g2
		split("Excellent Good Fair Poor", n, " "); print n[g + 1] }'
}
# grades_as_rule ROWS RTT_T RETX_T: every row's grade is what the thresholds say.
grades_as_rule() {
	local rows=$1 rt=$2 xt=$3 line r x g want
	[ -n "$rows" ] || return 1
	while IFS=, read -r _ _ _ _ _ _ _ _ _ r _ _ _ x _ _ g _; do
		want=$(expected_grade "$r" "$x" "$rt" "$xt")
		[ "$g" = "$want" ] || { echo "    rtt $r ms retx $x % graded $g, rule says $want"; return 1; }
	done <<<"$rows"
}
DEF_RTT=50,100,200 DEF_RETX=0.5,1,3

# ---- clean link, IPv4 and IPv6; two-session and three-session apps; loopback; LAN ----
bgA python3 "$TCPH" send 198.18.7.2 5001 --count 3 --bytes 2000000 --hold 8 --name dsg-clean \
	--ready "$TMP/r.clean"
bgA python3 "$TCPH" send 2001:db8:7::2 5001 --count 3 --bytes 2000000 --hold 8 --name dsg-six \
	--ready "$TMP/r.six"
bgA python3 "$TCPH" send 198.18.7.2 5004 --count 2 --bytes 100000 --hold 8 --name dsg-two \
	--ready "$TMP/r.two"
bgA python3 "$TCPH" send 127.0.0.1 5009 --count 3 --bytes 100000 --hold 8 --name dsg-loop \
	--ready "$TMP/r.loop"
bgA python3 "$TCPH" send ::1 5009 --count 1 --bytes 100000 --hold 8 --name dsg-loop6 \
	--ready "$TMP/r.loop6"
bgA python3 "$TCPH" send 10.77.0.2 5005 --count 3 --bytes 100000 --hold 8 --name dsg-lan \
	--ready "$TMP/r.lan"
for _ in $(seq 50); do
	[ -e "$TMP/r.clean" ] && [ -e "$TMP/r.six" ] && [ -e "$TMP/r.two" ] && [ -e "$TMP/r.loop" ] &&
		[ -e "$TMP/r.loop6" ] && [ -e "$TMP/r.lan" ] && break
	sleep 0.1
done
sleep 0.6 # older than the 0.5 s minimum

rows=$(csv_rows dsg-clean)
if [ "$(grep -c ',Excellent,' <<<"$rows")" -eq 3 ]; then pass clean-link-excellent; else
	fail clean-link-excellent "$(echo "$rows" | head -3)"
fi
rows=$(csv_rows dsg-six)
if [ "$(grep -c '^[^,]*,[^,]*,[^,]*,dsg-six,[^,]*,\[2001:db8:7::1\]:[0-9]*,\[2001:db8:7::2\]:5001,.*,Excellent,' <<<"$rows")" -eq 3 ]; then
	pass ipv6-sessions-graded
else
	fail ipv6-sessions-graded "$(echo "$rows" | head -3)"
fi

inA "$GRADE" --apps --csv >"$TMP/apps.csv"
inA "$GRADE" --apps --all --csv >"$TMP/apps-all.csv"
if grep -q ',dsg-clean,3,.*,Excellent$' "$TMP/apps.csv" && ! grep -q ',dsg-two,' "$TMP/apps.csv" &&
	grep -q ',dsg-two,2,.*,$' "$TMP/apps-all.csv"; then
	pass app-with-2-sessions-no-app-grade
else
	fail app-with-2-sessions-no-app-grade "$(cat "$TMP/apps.csv" "$TMP/apps-all.csv")"
fi
if head -1 "$TMP/apps.csv" | grep -q '^ts,tool,app,sessions,rtt_ms,retrans_pct,'; then
	pass apps-csv-columns
else
	fail apps-csv-columns "$(head -1 "$TMP/apps.csv")"
fi

loop_graded=$( (csv_rows dsg-loop; csv_rows dsg-loop6; csv_rows dsg-loop --lan) | wc -l)
loop_all=$(csv_rows dsg-loop --all --lan | grep -c ',loopback$')
loop6_all=$(csv_rows dsg-loop6 --all | grep -c ',\[::1\]:5009,.*,loopback$')
if [ "$loop_graded" -eq 0 ] && [ "$loop_all" -eq 3 ] && [ "$loop6_all" -eq 1 ]; then
	pass loopback-never-graded
else
	fail loopback-never-graded "graded $loop_graded, listed as loopback $loop_all + $loop6_all"
fi

lan_default=$(csv_rows dsg-lan | wc -l)
lan_incl=$(csv_rows dsg-lan --lan | grep -c ',Excellent,$')
lan_note=$(csv_rows dsg-lan --all | grep -c ',lan$')
if [ "$lan_default" -eq 0 ] && [ "$lan_incl" -eq 3 ] && [ "$lan_note" -eq 3 ]; then
	pass lan-peers-excluded-unless-lan
else
	fail lan-peers-excluded-unless-lan "default $lan_default, --lan $lan_incl, noted $lan_note"
fi

# (A short session on a clean link may still carry a tail-loss probe or two on a loaded
# machine, so the last-hiccup line is not pinned here; the CLI test pins it.)
if inA "$GRADE" --device | grep -q '^Excellent: ' && inA "$GRADE" --device --csv |
	awk -F, 'NR == 2 && $8 == "Excellent"' | grep -q .; then
	pass device-verdict-clean
else
	fail device-verdict-clean "$(inA "$GRADE" --device)"
fi

# ---- a known program, by name ----
if command -v iperf3 >/dev/null; then
	bgB iperf3 -s -B 198.18.7.2 -p 5201 >/dev/null 2>&1
	sleep 0.5
	bgA iperf3 -c 198.18.7.2 -p 5201 -t 4 -b 50M >/dev/null 2>&1
	sleep 2
	rows=$(csv_rows iperf3)
	if [ -n "$rows" ] && grep -q ',/usr/bin/iperf3,' <<<"$rows" && grep -q ',198.18.7.2:5201,' <<<"$rows"; then
		pass known-program-attributed-by-name
	else
		fail known-program-attributed-by-name "$(inA "$GRADE" --csv --all | head -5)"
	fi
else
	skip known-program-attributed-by-name "iperf3 not installed"
fi

# ---- tbf bottleneck + loss at the receiving side: retransmits, Fair or Poor ----
# tbf on the sender's egress (20 Mbit/s) and random loss in the receiver's input: a drop on
# the sender's own host would be a local drop that TCP does not count as a retransmission.
tc -n "$A" qdisc add dev "$VA" root tbf rate 20mbit burst 32kb latency 50ms
inB nft -f - <<EOF
table inet dsg_loss {
	chain input {
		type filter hook input priority 0;
		ip saddr 198.18.7.1 tcp dport 5002 numgen random mod 100 < 5 drop
	}
}
EOF
bgA python3 "$TCPH" send 198.18.7.2 5002 --count 2 --bytes 3000000 --hold 6 --name dsg-lossy \
	--ready "$TMP/r.lossy"
for _ in $(seq 150); do [ -e "$TMP/r.lossy" ] && break; sleep 0.1; done
sleep 0.3
rows=$(csv_rows dsg-lossy)
retx=$(awk -F, '{ s += $12 } END { print s + 0 }' <<<"$rows")
# The same counters as ss shows for the same sockets.
ss_retx=$(inA ss -tin dport = :5002 | grep -o 'retrans:[0-9]*/[0-9]*' | awk -F/ '{ s += $2 } END { print s + 0 }')
echo "    lossy rows: $(awk -F, '{ printf "rtt %s ms retx %s/%s = %s %% -> %s; ", $10, $12, $13, $14, $17 }' <<<"$rows")"
if [ "$retx" -gt 0 ] && [ "$retx" -eq "$ss_retx" ]; then pass loss-makes-retransmits; else
	fail loss-makes-retransmits "ds-grade $retx, ss $ss_retx"
fi
if grades_as_rule "$rows" "$DEF_RTT" "$DEF_RETX" && ! grep -qE ',(Excellent|Good),' <<<"$rows"; then
	pass loss-graded-fair-or-poor-as-thresholds-say
else
	fail loss-graded-fair-or-poor-as-thresholds-say "$rows"
fi
# Other thresholds, same sessions: the grade follows the thresholds given (Fair from 1 %
# up to 100 %: whatever the loss did, these sessions are Fair now).
rows=$(csv_rows dsg-lossy --retrans-pct 0.5,1,100 --rtt-ms 500,1000,2000)
if grades_as_rule "$rows" 500,1000,2000 0.5,1,100 && ! grep -qE ',(Excellent|Good|Poor),' <<<"$rows"; then
	pass loss-graded-fair-with-wider-thresholds
else
	fail loss-graded-fair-with-wider-thresholds "$rows"
fi
printf 'excellent_rtt_ms = 500\ngood_rtt_ms = 1000\nfair_rtt_ms = 2000\nfair_retrans_pct = 100 # wide\n' >"$TMP/grade.conf"
rows2=$(csv_rows dsg-lossy --config "$TMP/grade.conf")
if grades_as_rule "$rows2" 500,1000,2000 0.5,1,100 && ! grep -qE ',(Excellent|Good|Poor),' <<<"$rows2"; then
	pass config-file-thresholds
else
	fail config-file-thresholds "$rows2"
fi
inB nft delete table inet dsg_loss
tc -n "$A" qdisc del dev "$VA" root

# ---- delay from ds-link moves the RTT grade ----
if command -v ds-link >/dev/null && command -v iptables >/dev/null &&
	inB iptables -t raw -A PREROUTING -i "$VB" -p tcp --dport 5003 -j NFQUEUE --queue-num 7$((sfx % 100)) 2>"$TMP/ipt.err"; then
	for delay in 60 130 230; do
		case $delay in 60) want=Good ;; 130) want=Fair ;; 230) want=Poor ;; esac
		ip netns exec "$B" ds-link -Q 7$((sfx % 100)) --delay ${delay}ms --pidfile "$TMP/link.pid" &
		lp=$!
		pids+=($lp)
		for _ in $(seq 30); do [ -s "$TMP/link.pid" ] && break; sleep 0.1; done
		rm -f "$TMP/r.delay"
		bgA python3 "$TCPH" send 198.18.7.2 5003 --count 1 --bytes 200000 --hold 3 \
			--name dsg-delay$delay --ready "$TMP/r.delay"
		for _ in $(seq 100); do [ -e "$TMP/r.delay" ] && break; sleep 0.1; done
		sleep 0.6
		rows=$(csv_rows dsg-delay$delay)
		echo "    delay ${delay}ms: $(awk -F, '{ printf "rtt %s ms retx %s %% -> %s", $10, $14, $17 }' <<<"$rows")"
		if grades_as_rule "$rows" "$DEF_RTT" "$DEF_RETX" && grep -q ",$want," <<<"$rows"; then
			pass "delay-${delay}ms-graded-$want"
		else
			fail "delay-${delay}ms-graded-$want" "$rows"
		fi
		kill "$lp" 2>/dev/null
		wait "$lp" 2>/dev/null
		rm -f "$TMP/link.pid"
	done
	inB iptables -t raw -F
else
	skip delay-moves-rtt-grade "bin/ds-link or iptables NFQUEUE not available: $(head -1 "$TMP/ipt.err" 2>/dev/null)"
fi

# ---- watch: a 0.2 s session is not graded; one that opens and closes between two sweeps
# is still recorded, with its final counters (from the kernel's destroy notification) ----
H=$TMP/history.csv
bgA python3 "$TCPH" send 198.18.7.2 5001 --bytes 100000 --hold 3.5 --name dsg-seen --ready "$TMP/r.seen"
for _ in $(seq 50); do [ -e "$TMP/r.seen" ] && break; sleep 0.1; done
ip netns exec "$A" "$GRADE" --watch 3s --history "$H" --sample 0 &
wp=$!
pids+=($wp)
sleep 0.5 # first sweep done; the next is 3 s later
inA python3 "$TCPH" send 198.18.7.2 5001 --bytes 2000000 --secs 1 --name dsg-between --report "$TMP/rep.between"
inA python3 "$TCPH" send 198.18.7.2 5001 --bytes 3000 --hold 0.2 --name dsg-short --report "$TMP/rep.short"
sleep 2.5 # dsg-seen closes meanwhile
kill "$wp"; wait "$wp" 2>/dev/null
read -r bport bbytes <"$TMP/rep.between"
read -r sport _ <"$TMP/rep.short"
brow=$(awk -F, -v p="198.18.7.1:$bport" '$8 == p' "$H")
srow=$(awk -F, -v p="198.18.7.1:$sport" '$8 == p' "$H")
echo "    between: $brow"
echo "    short:   $srow"
# Final counters: every byte acknowledged (bytes_acked also counts the SYN and the FIN).
# No owner: no sweep saw it alive, only the kernel's destroy notification.
if [ -n "$brow" ] && awk -F, -v b="$bbytes" '$4 == "closed" && $5 == "" && $16 >= b + 1 && $14 > 0' <<<"$brow" | grep -q .; then
	pass closed-between-sweeps-final-counters
else
	fail closed-between-sweeps-final-counters "$(cat "$H")"
fi
# Seen by a sweep, closed by its program later: recorded once, with its owner.
if [ "$(awk -F, '$4 == "closed" && $6 == "dsg-seen" && $16 >= 100001' "$H" | wc -l)" -eq 1 ]; then
	pass closed-after-sweep-keeps-owner
else
	fail closed-after-sweep-keeps-owner "$(grep dsg-seen "$H")"
fi
if [ -n "$srow" ] && awk -F, '$4 == "closed" && $11 < 0.5 && $18 == ""' <<<"$srow" | grep -q .; then
	pass short-session-not-graded
else
	fail short-session-not-graded "$srow"
fi
if head -1 "$H" | grep -q '^ts,tool,host,event,' && awk -F, 'NR > 1 && NF != 18' "$H" | wc -l | grep -qx 0; then
	pass history-whole-lines
else
	fail history-whole-lines "$(cat "$H")"
fi

# ---- watch as an ordinary user: current kernels let anyone join the destroy groups
# (NL_CFG_F_NONROOT_RECV); the user's own sessions are attributed (its /proc/PID/fd are
# readable) and recorded as they close ----
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	NP=$(mktemp -d /tmp/dsg-np.XXXXXX) # $TMP is private to root
	chmod 0777 "$NP"
	on_exit "rm -rf $NP"
	ip netns exec "$A" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$GRADE" --watch 1s --history "$NP/h.csv" --sample 0 2>"$NP/err" &
	np=$!
	pids+=($np)
	sleep 0.3
	ip netns exec "$A" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		/usr/bin/python3 "$TCPH" send 198.18.7.2 5001 --bytes 50000 --hold 1.5 --name dsg-nobody
	sleep 1.5
	kill "$np"; wait "$np" 2>/dev/null
	if [ "$(grep -cE ',(closed|gone),[0-9]+,dsg-nobody,' "$NP/h.csv")" -eq 1 ]; then
		pass unprivileged-watch-records-own-sessions
	else
		fail unprivileged-watch-records-own-sessions "$(cat "$NP/err" "$NP/h.csv" 2>&1)"
	fi
else
	skip unprivileged-watch-records-own-sessions "setpriv or user nobody missing"
fi

# ---- cron: what finished since the previous run ----
C=$TMP/cron.csv
bgA python3 "$TCPH" send 198.18.7.2 5001 --bytes 100000 --hold 1.5 --name dsg-cron --ready "$TMP/r.cron"
for _ in $(seq 50); do [ -e "$TMP/r.cron" ] && break; sleep 0.1; done
inA "$GRADE" --history "$C"
first=$(grep -c ',dsg-cron,' "$C")
sleep 2.5
inA "$GRADE" --history "$C"
inA "$GRADE" --history "$C"
if [ "$first" -eq 0 ] && [ "$(grep -c ',gone,[0-9]*,dsg-cron,' "$C")" -eq 1 ] && [ -f "$C.state" ]; then
	pass cron-appends-finished-once
else
	fail cron-appends-finished-once "$(cat "$C")"
fi

# ---- the views read the history ----
if inA "$GRADE" --timeline --history "$H" --color never | grep -qE '[EGFP]'; then
	pass timeline-from-history
else
	fail timeline-from-history "$(inA "$GRADE" --timeline --history "$H" --color never)"
fi
t_done
