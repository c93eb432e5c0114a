#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-stun --state DIR rides a running agent's warm socket (ds-ctl(7)): requests leave from
# the agent's port, answers come back forwarded by the agent for the transaction ids
# ds-stun registered, nothing is dropped as unexpected, --nat (hairpin included) works
# warm, and ds-stun binds no port of its own. Against coturn on loopback.
. "$(dirname "$0")/../lib.sh"
need_cmd ds-stun ds-agent ds-key turnserver

free_udp() { ! ss -Huan "sport = :$1" | grep -q .; }
for _ in $(seq 50); do
	P=$((20000 + RANDOM % 20000 * 2)) PA=$((42000 + RANDOM % 8000))
	free_udp $P && free_udp $((P + 1)) && free_udp $PA && break
done
cd "$TMP" || exit 1
ds-key genkey >a.key && ds-key genkey >c.key && chmod 600 a.key c.key
printf 'name,pubkey,endpoint\nc,%s,\n' "$(ds-key pubkey <c.key)" >peers.csv
turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $P -L 127.0.0.1 -L 127.0.0.2 \
	--log-file "$TMP/coturn.log" --simple-log --pidfile "$TMP/coturn.pid" >/dev/null 2>&1 &
COTURN=$!
on_exit "kill $COTURN 2>/dev/null; wait $COTURN 2>/dev/null"
ds-agent -k a.key -n a --peers peers.csv --state A -p $PA 2>agent.log &
AGENT=$!
on_exit "kill $AGENT 2>/dev/null; wait $AGENT 2>/dev/null"
for _ in $(seq 50); do
	[ -S A/agent.sock ] && ds-stun -q -4 -p 0 --rto 50ms --rc 1 --rm 2 127.0.0.1:$P >/dev/null 2>&1 && break
	sleep 0.1
done
[ -S A/agent.sock ] || { fail agent-up "$(tail -3 agent.log)"; t_done; }
col() { awk -F, -v n="$2" 'NR==1 { for (i = 1; i <= NF; i++) c[$i] = i; next } NR==2 { print $c[n] }' "$1"; }

# -p $PA is the agent's own port: binding it would fail, borrowing it does not
ds-stun -4 -p $PA --state A --csv 127.0.0.1:$P >warm.csv 2>warm.err; rc=$?
[ $rc -eq 0 ] && [ "$(col warm.csv local)" = "127.0.0.1:$PA" ] && [ "$(col warm.csv mapped)" = "127.0.0.1:$PA" ] &&
	pass "binding-leaves-from-the-agents-port" ||
	fail "binding-leaves-from-the-agents-port" "rc $rc: $(cat warm.csv warm.err)"
grep -q "cold path" warm.err && fail "warm-path-is-not-called-cold" "$(cat warm.err)" ||
	pass "warm-path-is-not-called-cold"
ds-stun -4 -v --state A 127.0.0.1:$P 2>&1 >/dev/null | grep -q "using the warm socket of agent a" &&
	pass "verbose-names-the-agent" || fail "verbose-names-the-agent"

ds-stun -4 --state A --count 5 --interval 10ms --csv 127.0.0.1:$P >count.csv 2>&1
[ "$(tail -1 count.csv | awk -F, '{ print $11 "/" $12 }')" = 5/5 ] && pass "count-warm-all-answered" ||
	fail "count-warm-all-answered" "$(cat count.csv)"

ds-stun -4 --state A --nat --csv 127.0.0.1:$P >nat.csv 2>nat.err
got="$(col nat.csv mapping) $(col nat.csv filtering) $(col nat.csv hairpin)"
[ "$got" = "no-nat endpoint-independent yes" ] && pass "nat-discovery-warm-with-hairpin" ||
	fail "nat-discovery-warm-with-hairpin" "$got $(cat nat.err)"

drops=$(ds-agent --status --state A | awk '$1 == "drop" && $2 == "stun-unexpected" { print $3 }')
[ "$drops" = 0 ] && pass "agent-drops-no-stun-answer" || fail "agent-drops-no-stun-answer" "stun-unexpected $drops"

# the agent going away: the next run falls back to the cold path and says so
kill $AGENT; wait $AGENT 2>/dev/null
out=$(ds-stun -4 -p 0 --state A 127.0.0.1:$P 2>&1 >/dev/null); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "no agent at A, binding port 0 itself (cold path)" &&
	pass "dead-agent-falls-back-cold" || fail "dead-agent-falls-back-cold" "rc $rc: $out"
t_done
