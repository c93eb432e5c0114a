#!/bin/bash
# SPDX-License-Identifier: MIT
# Two ds-agents behind address-and-port-dependent-filtering NATs find each other through
# STUN and a shared rendezvous directory, keep their path across 3 idle minutes (the
# pinholes stay warm: an echo right after the idle time works with the same path and no
# new handshake), and re-learn each other within one keepalive interval after a conntrack
# flush on one NAT (rebinding).
#   LAB_IDLE_SECONDS (default 180) shortens the idle wait for a quick run.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ds-agent ds-key turnserver cc

IDLE=${LAB_IDLE_SECONDS:-180}
export DS_LAB_PREFIX=ag$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/agents-apdf.topo" >"$TMP/up.log" 2>&1 ||
	{ fail lab-up "$(tail -3 "$TMP/up.log")"; t_done; }
cd "$TMP" || exit 1
cc -std=gnu11 -D_GNU_SOURCE -O1 -iquote "$DS_ROOT/libds" "$DS_ROOT/tests/helpers/ds-ctlecho.c" \
	"$DS_ROOT/build/libds.a" -lcrypto -lcsv -lm -o ds-ctlecho || exit 1
stun=$(ds-lab addr stun v4)
for n in a1 a2; do ds-key genkey >$n.key && chmod 600 $n.key; done
printf 'name,pubkey,endpoint\na1,%s,\na2,%s,\n' "$(ds-key pubkey <a1.key)" "$(ds-key pubkey <a2.key)" >peers.csv
mkdir -p rdv
pids=()
on_exit 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null'
start() {
	ip netns exec "$(ds-lab ns "$1")" "$DS_ROOT/bin/ds-agent" -k "$1.key" -n "$1" --peers peers.csv \
		--state "$1.st" --rendezvous rdv --stun "$stun" -4 2>"$1.log" &
	pids+=("$!")
}
status() { ds-agent --status --state "$1.st" 2>/dev/null; }
peer_line() { status "$1" | grep "^peer $2 "; }
established() { peer_line "$1" "$2" | grep -q 'established yes'; }
path_of() { peer_line "$1" "$2" | awk '{print $6}'; }
last_rx() { peer_line "$1" "$2" | awk '{print $10}'; }
srflx() { status "$1" | awk '$1=="srflx_ipv4"{print $2}'; }
echo_ok() { ./ds-ctlecho --state "$1.st" --peer "$2" -c 5 -i 20 >>echo.log 2>&1; }

start a1
start a2
t0=$(date +%s)
ok=0
for _ in $(seq 120); do
	established a1 a2 && established a2 a1 && { ok=1; break; }
	sleep 0.5
done
if [ $ok -eq 1 ]; then
	pass punched-through-two-apdf-nats
	echo "    established after $(( $(date +%s) - t0 )) s"
else
	fail punched-through-two-apdf-nats "$(peer_line a1 a2; peer_line a2 a1; cat rdv/*.csv)"
	t_done
fi
check echo-a1-to-a2 echo_ok a1 a2
check echo-a2-to-a1 echo_ok a2 a1
p12=$(path_of a1 a2) p21=$(path_of a2 a1)
unproven=$(status a1 | awk '$2=="unproven-session"{print $3}')

echo "    idle for $IDLE s"
sleep "$IDLE"
if echo_ok a1 a2 && echo_ok a2 a1; then pass path-warm-after-idle; else
	fail path-warm-after-idle "$(tail -2 echo.log)"; fi
[ "$(path_of a1 a2)" = "$p12" ] && [ "$(path_of a2 a1)" = "$p21" ] && pass same-path-after-idle ||
	fail same-path-after-idle "$p12 -> $(path_of a1 a2), $p21 -> $(path_of a2 a1)"
[ "$(status a1 | awk '$2=="unproven-session"{print $3}')" = "$unproven" ] &&
	pass no-new-handshake-after-idle || fail no-new-handshake-after-idle

# Rebinding: flush one NAT's conntrack table and mappings, with no tool traffic. Until
# the agent behind it sends, the peer's packets die in that NAT (dropped before conntrack
# confirms anything, so no entry is left behind: conntrack -E shows none); the agent's
# next keepalive round, at most 26 s away, is an echo the peer answers at once, so both
# have heard each other again within one keepalive interval.
# When both had heard each other again after the flush, bounded from above: a packet is
# first heard no later than the last one, whose age the status gives (0.1 s resolution).
relearn() { # NAT: prints the milliseconds it took, or nothing after 60 s
	local t0 before now r12 r21 young
	ds-lab nat-flush "$1"
	t0=$(date +%s%N)
	while :; do
		before=$(date +%s%N)
		r12=$(last_rx a1 a2) r21=$(last_rx a2 a1)
		now=$(date +%s%N)
		if [ -n "$r12" ] && [ -n "$r21" ] && [ "$r12" != - ] && [ "$r21" != - ]; then
			young=$(echo "if ($r12 < $r21) $r12 else $r21" | bc)
			# both heard since the flush: each one's last packet (age rounded to 0.1 s)
			# is younger than the flush was when we asked
			if [ "$(echo "($r12 + 0.05) * 10^9 < $before - $t0 && ($r21 + 0.05) * 10^9 < $before - $t0" | bc)" -eq 1 ]; then
				echo "$(( (now - t0) / 1000000 - $(echo "$young * 1000 / 1" | bc) + 50 ))"
				return
			fi
		fi
		[ $(( (now - t0) / 1000000000 )) -lt 60 ] || return
		sleep 0.2
	done
}
# One keepalive interval is at most 26 s; 1 s more for the status's resolution and timers.
for nat in n1 n2; do
	m=$(srflx a1)/$(srflx a2)
	took=$(relearn $nat)
	echo "    after flushing $nat both agents heard each other again within ${took:-(not in 60 s)} ms;" \
		"mappings $m -> $(srflx a1)/$(srflx a2), paths $(path_of a1 a2) $(path_of a2 a1)"
	if [ -n "$took" ] && [ "$took" -le 27000 ]; then
		pass relearn-within-one-keepalive-interval-after-rebinding-$nat
	else
		fail relearn-within-one-keepalive-interval-after-rebinding-$nat "took ${took:-more than 60000} ms"
	fi
done
if echo_ok a1 a2 && echo_ok a2 a1; then pass echo-after-rebinding; else
	fail echo-after-rebinding "$(tail -2 echo.log)"; fi
t_done
