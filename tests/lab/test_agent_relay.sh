#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-agent --turn across the lab's NAT behaviours (examples/lab/nat-behaviours.topo):
# - every agent given --turn holds an allocation (long-term user on 3478, REST secret on
#   3480) and publishes the relayed address as a relay candidate; the dual-stack agent
#   `open` holds one per family;
# - endpoint-dependent x endpoint-dependent (a_rnd <-> a_seq) cannot go direct: it goes
#   through the relay, ds-pairprobe says path `relay` from each side with RTT and loss, and
#   a packet counter on the coturn node shows the relay carried it;
# - a pair that can go direct (open <-> a_eif) is not relayed although both hold
#   allocations, and the relay carries none of its packets;
# - one side without an allocation reaches the other side's relay candidate;
# - a relayed pair whose direct path is blocked at first switches to direct once the block
#   is lifted;
# - agents give their allocations back at exit, and tshark decodes every TURN message
#   (ChannelData too) without error.
# The allocation's refresh timing is pinned down by tests/unit/test_agentrelay.c (coturn
# grants at least 600 s whatever LIFETIME asks, too long for this test).
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ds-agent ds-key ds-pairprobe turnserver nft

TOPO=$DS_ROOT/examples/lab/nat-behaviours.topo
turn_line=$(grep '^turn ' "$TOPO")
USERPW=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$turn_line")
SECRET=$(sed -n 's/.*secret=\([^ ]*\).*/\1/p' <<<"$turn_line")
: "${USERPW:=ds:dspass}" "${SECRET:=dslabsecret}"

export DS_LAB_PREFIX=tr$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$TOPO" >"$TMP/up.log" 2>&1 || { fail lab-up "$(tail -3 "$TMP/up.log")"; t_done; }
cd "$TMP" || exit 1
stun=$(ds-lab addr stun v4) stun6=$(ds-lab addr stun v6)
natip() { ds-lab list | awk -v n="$1" '$1 == n { print $5 }'; }
RND=$(natip rnd) SEQ=$(natip seq) EIF=$(natip eif) OPEN=$(ds-lab addr open v4)

AGENTS="open a_eif a_rnd a_seq"
for n in $AGENTS; do ds-key genkey >$n.key && chmod 600 $n.key; done
{
	echo name,pubkey,endpoint
	for n in $AGENTS; do echo "$n,$(ds-key pubkey <$n.key),"; done
} >peers.csv
mkdir -p rdv

# Packets the relay sends from its relay ports (both coturn instances: 49152-65535) to the
# agents' public addresses: only relayed data leaves from there.
SNS=$(ds-lab ns stun)
ip netns exec "$SNS" nft -f - <<EOF || { fail nft-counters; t_done; }
table inet dsrelay {
	counter edm { }
	counter direct { }
	chain out {
		type filter hook output priority 0;
		udp sport 49152-65535 ip daddr { $RND, $SEQ } counter name edm
		udp sport 49152-65535 ip daddr { $OPEN, $EIF } counter name direct
	}
}
EOF
# What the agents send to and get from coturn, for tshark to decode at the end.
if command -v tshark >/dev/null; then
	ip netns exec "$SNS" dumpcap -q -i any -f 'udp port 3478 or udp port 3480' -w "$TMP/turn.pcapng" \
		>/dev/null 2>&1 &
	CAP=$!
	on_exit "kill $CAP 2>/dev/null"
	sleep 1
fi
relayed_pkts() { ip netns exec "$SNS" nft list counter inet dsrelay "$1" | awk '$1 == "packets" { print $2 }'; }

declare -A pid
LT=(--turn "$stun:3478" --turn-user "${USERPW%%:*}" --turn-pass "${USERPW#*:}")
REST=(--turn "$stun:3480" --turn-secret "$SECRET")
start() { # NAME ARGS...: IPv4 only, but for the dual-stack `open`
	local n=$1 fam=-4
	shift
	[ $n = open ] && fam=--stun="[$stun6]"
	ip netns exec "$(ds-lab ns "$n")" "$DS_BIN/ds-agent" -k $n.key -n $n --peers peers.csv \
		--state $n.st --rendezvous rdv --stun "$stun" $fam "$@" 2>>$n.log &
	pid[$n]=$!
}
stop() { kill "${pid[$1]}" 2>/dev/null && wait "${pid[$1]}" 2>/dev/null; }
on_exit 'for p in "${pid[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null'
status() { ds-agent --status --state "$1.st" 2>/dev/null; }
peer_line() { status "$1" | grep "^peer $2 "; }
turn_line() { status "$1" | grep '^turn ' | grep -v '^turn \['; } # IPv4
turn6_line() { status "$1" | grep '^turn \['; }
relayed_of() { turn_line "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "relayed") print $(i + 1) }'; }
established() { peer_line "$1" "$2" | grep -q 'established yes'; }
via_relay() { peer_line "$1" "$2" | grep -q ' via relay$'; }
wait_for() { # SECONDS COMMAND...: poll every 0.5 s
	local i
	for ((i = 0; i < $1 * 2; i++)); do
		"${@:2}" && return 0
		sleep 0.5
	done
	return 1
}
col() { awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }'; }
probe() { # FROM TO -> probe-FROM-TO.csv
	ds-lab exec "$1" -- ds-pairprobe --state "$1.st" --csv "$2" >"probe-$1-$2.csv" 2>"probe-$1-$2.err"
}
allocated() { turn_line "$1" | grep -q ' state allocated '; }
published_relay() { [ -n "$(relayed_of "$1")" ] && grep -q "^$1,relay,$(relayed_of "$1")," "rdv/cand-$1.csv"; }

start a_rnd "${LT[@]}"
start a_seq "${REST[@]}"
start open "${LT[@]}" --turn "[$stun6]:3478"
start a_eif "${REST[@]}"

# ---- allocations, both credential kinds ----
for n in $AGENTS; do
	kind=long-term
	[ $n = a_seq ] || [ $n = a_eif ] && kind=rest
	if wait_for 20 allocated $n && wait_for 5 published_relay $n; then
		pass "$n-$kind-allocates-and-publishes-relay-candidate"
		echo "    $n: $(turn_line $n | cut -d' ' -f2-6)"
	else
		fail "$n-$kind-allocates-and-publishes-relay-candidate" "$(turn_line $n; tail -3 $n.log)"
	fi
done

allocated6() { turn6_line open | grep -q ' state allocated relayed \[2001:'; }
published6() { grep -q "^open,relay,\[2001:" rdv/cand-open.csv; }
if wait_for 20 allocated6 && wait_for 5 published6; then
	pass open-dual-stack-allocates-ipv6-too
	echo "    open: $(turn6_line open | cut -d' ' -f2-6)"
else
	fail open-dual-stack-allocates-ipv6-too "$(turn6_line open; cat rdv/cand-open.csv)"
fi

# ---- EDM x EDM through the relay ----
both_relayed() { established a_rnd a_seq && established a_seq a_rnd && via_relay a_rnd a_seq && via_relay a_seq a_rnd; }
t0=$(date +%s)
if wait_for 60 both_relayed; then
	pass edm-x-edm-established-through-the-relay
	echo "    after $(($(date +%s) - t0)) s: $(peer_line a_rnd a_seq | cut -d' ' -f2-6)"
else
	fail edm-x-edm-established-through-the-relay "$(peer_line a_rnd a_seq; peer_line a_seq a_rnd)"
fi
relay_probe() { # NAME FROM TO COUNTER
	local before after out=probe-$2-$3.csv
	before=$(relayed_pkts "$4")
	probe "$2" "$3"
	after=$(relayed_pkts "$4")
	echo "    $2 -> $3: path $(col path <$out) rtt $(col rtt_ms <$out) ms loss $(col loss_fwd_pct <$out)/$(col loss_rev_pct <$out) %, replies $(col replies <$out)/$(col echoes <$out); relay sent $((after - before)) packets to the NATs"
	RELAY_DELTA=$((after - before))
}
for d in "a_rnd a_seq" "a_seq a_rnd"; do
	set -- $d
	relay_probe x "$1" "$2" edm
	f=probe-$1-$2.csv
	[ "$(col path <$f)" = relay ] && pass "pairprobe-$1-to-$2-says-relay" ||
		fail "pairprobe-$1-to-$2-says-relay" "$(cat $f probe-$1-$2.err | tail -2)"
	[ -n "$(col rtt_ms <$f)" ] && [ -n "$(col loss_fwd_pct <$f)" ] && [ -n "$(col loss_rev_pct <$f)" ] &&
		[ "$(col replies <$f)" -gt 0 ] 2>/dev/null && pass "pairprobe-$1-to-$2-rtt-and-loss-through-relay" ||
		fail "pairprobe-$1-to-$2-rtt-and-loss-through-relay" "$(tail -1 $f)"
	# every echo (10) crossed the relay toward one of the NATs, request or reply
	[ "$RELAY_DELTA" -ge "$(col echoes <$f)" ] && pass "coturn-relayed-$1-to-$2" ||
		fail "coturn-relayed-$1-to-$2" "relay sent $RELAY_DELTA packets for $(col echoes <$f) echoes"
done

# ---- ds-punch climbs the ladder to the relay, and says so ----
for d in "a_rnd a_seq" "a_seq a_rnd"; do
	set -- $d
	ds-lab exec "$1" -- ds-punch --state "$1.st" --csv "$2" >punch-$1-$2.csv 2>punch-$1-$2.err
	rc=$?
	res=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$c["rung"] == "result" { print $c["outcome"] "," $c["path"] }' punch-$1-$2.csv)
	rungs=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$c["rung"] != "result" { printf "%s=%s ", $c["rung"], $c["outcome"] }' punch-$1-$2.csv)
	echo "    ds-punch $1 -> $2: $rungs-> $res"
	[ $rc = 0 ] && [ "$res" = ok,relay ] && [[ $rungs == *"punch=failed"* ]] && [[ $rungs == *"relay=ok"* ]] &&
		pass "punch-ladder-$1-to-$2-ends-at-relay" ||
		fail "punch-ladder-$1-to-$2-ends-at-relay" "rc $rc: $(cat punch-$1-$2.csv punch-$1-$2.err)"
done

# ---- a pair that can go direct is not relayed ----
both_direct() { established open a_eif && established a_eif open && ! via_relay open a_eif && ! via_relay a_eif open; }
if wait_for 30 both_direct; then pass direct-pair-established-not-relayed; else
	fail direct-pair-established-not-relayed "$(peer_line open a_eif; peer_line a_eif open)"; fi
for d in "open a_eif" "a_eif open"; do
	set -- $d
	relay_probe x "$1" "$2" direct
	p=$(col path <probe-$1-$2.csv)
	[ -n "$p" ] && [ "$p" != relay ] && [ "$RELAY_DELTA" -eq 0 ] && pass "pairprobe-$1-to-$2-direct-no-relay" ||
		fail "pairprobe-$1-to-$2-direct-no-relay" "path '$p', relay sent $RELAY_DELTA"
done

# ---- one side without an allocation: it sends to the other side's relay candidate ----
stop a_seq
start a_seq
gone() { ! grep -q ',relay,' rdv/cand-a_seq.csv; }
wait_for 10 gone
reached() { established a_seq a_rnd && via_relay a_seq a_rnd && via_relay a_rnd a_seq &&
	[ "$(peer_line a_seq a_rnd | awk '{print $6}')" = "$(relayed_of a_rnd)" ]; }
if wait_for 60 reached; then pass edm-without-allocation-reaches-peers-relay-candidate; else
	fail edm-without-allocation-reaches-peers-relay-candidate "$(peer_line a_seq a_rnd; peer_line a_rnd a_seq)"; fi
for d in "a_seq a_rnd" "a_rnd a_seq"; do
	set -- $d
	probe "$1" "$2"
	[ "$(col path <probe-$1-$2.csv)" = relay ] && [ "$(col replies <probe-$1-$2.csv)" -gt 0 ] 2>/dev/null &&
		pass "one-allocation-pairprobe-$1-to-$2-relay" ||
		fail "one-allocation-pairprobe-$1-to-$2-relay" "$(tail -1 probe-$1-$2.csv; tail -1 probe-$1-$2.err)"
done

# ---- relayed while the direct path is blocked; direct once it is not ----
stop a_eif
ENS=$(ds-lab ns eif)
ip netns exec "$ENS" nft -f - <<EOF || fail nft-block
table inet dsblock {
	chain blk {
		type filter hook forward priority -10;
		ip saddr $OPEN drop
		ip daddr $OPEN drop
	}
}
EOF
rm -f a_eif.st/paths.csv
# The agent gave its allocation back at exit (Refresh LIFETIME 0). The same 5-tuple (an EIM
# NAT keeps the port) can allocate again once coturn has dropped it, which it does on its
# next timer tick; without the release it would get 437 Allocation Mismatch for 600 s.
sleep 2
start a_eif "${REST[@]}"
if wait_for 10 allocated a_eif; then
	pass released-at-exit-so-restart-allocates-again
	echo "    $(turn_line a_eif | grep -o 'allocations.*failures [0-9]*')"
else
	fail released-at-exit-so-restart-allocates-again "$(turn_line a_eif)"
fi
relayed_pair() { established open a_eif && via_relay open a_eif && via_relay a_eif open; }
if wait_for 60 relayed_pair; then pass blocked-direct-falls-back-to-relay; else
	fail blocked-direct-falls-back-to-relay "$(peer_line open a_eif; peer_line a_eif open)"; fi
ip netns exec "$ENS" nft delete table inet dsblock
t0=$(date +%s)
# the relayed side tries the direct candidates on every keepalive round (20-26 s)
if wait_for 90 both_direct; then
	pass direct-path-takes-over-from-relay
	echo "    direct again after $(($(date +%s) - t0)) s"
else
	fail direct-path-takes-over-from-relay "$(peer_line open a_eif; peer_line a_eif open)"
fi

# every agent exits cleanly on SIGTERM (giving its allocation back), with nothing on
# stderr from a sanitizer (DS_BIN=build/asan/bin)
for n in $AGENTS; do stop $n; done
bad=$(grep -l -E 'Sanitizer|runtime error' *.log)
[ -z "$bad" ] && pass agents-exit-clean || fail agents-exit-clean "$(head -20 $bad)"

# tshark decodes every TURN message the agents exchanged with coturn (both ports), the
# ChannelData among them, without a malformed packet or an error.
if [ -n "${CAP:-}" ]; then
	sleep 1
	kill -INT $CAP 2>/dev/null
	wait $CAP 2>/dev/null
	ts() { tshark -n -r "$TMP/turn.pcapng" -d udp.port==3480,stun "$@" 2>/dev/null; }
	total=$(ts | wc -l) bad=$(ts -Y '_ws.malformed || _ws.expert.severity >= "error"' | wc -l)
	chan=$(ts -Y 'stun.channel' | wc -l) rel=$(ts -Y 'stun.type.method == 0x004' | wc -l)
	echo "    tshark: $total packets, $chan ChannelData, $rel Refresh, $bad malformed or in error"
	[ "$total" -gt 0 ] && [ "$chan" -gt 0 ] && [ "$rel" -gt 0 ] && [ "$bad" -eq 0 ] &&
		pass tshark-decodes-turn-cleanly || fail tshark-decodes-turn-cleanly "$(ts -Y '_ws.malformed || _ws.expert.severity >= "error"' | head -5)"
fi
t_done
