#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-agent on loopback: two agents and a test peer (tests/helpers/ds-echo) with their own
# key pairs. Echo answered with the session handshake; forged, tampered, truncated,
# unknown-key and foreign packets get no answer and are counted; the control socket lends
# the port to two concurrent runs that each see only their own packets; a tool killed
# mid-run leaves nothing behind; mesh off (agent and fleet-wide) is an authenticated
# refusal; kill -9 and restart: the peer authenticates it again at once and a packet
# captured before the restart is refused after it; SIGTERM exits 0.
. "$(dirname "$0")/../lib.sh"
need_cmd ds-agent ds-key cc

H=$TMP/helpers
mkdir -p "$H"
for h in ds-echo ds-ctlecho; do
	cc -std=gnu11 -D_GNU_SOURCE -O1 -iquote "$DS_ROOT/libds" "$DS_ROOT/tests/helpers/$h.c" \
		"$DS_ROOT/build/libds.a" -lcrypto -lcsv -lm -o "$H/$h" || { echo "cannot build $h"; exit 1; }
done

cd "$TMP" || exit 1
for n in a b c; do
	ds-key genkey >"$n.key" && chmod 600 "$n.key"
	eval "PUB_$n=\$(ds-key pubkey <$n.key)"
done
# Free ports on loopback (ds-agent -p 0 would pick its own, but the peers need to know them).
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
while [ "$PB" = "$PA" ]; do PB=$(free_port); done
cat >peers.csv <<EOT
name,pubkey,endpoint
a,$PUB_a,127.0.0.1:$PA
b,$PUB_b,127.0.0.1:$PB
c,$PUB_c,
EOT

pids=()
start_agent() { # name port state [extra...]
	local n=$1 p=$2 s=$3; shift 3
	ds-agent -k "$n.key" -n "$n" --peers peers.csv --state "$s" -p "$p" "$@" 2>"$s.log" &
	eval "PID_$n=$!"
	pids+=("$!")
	for _ in $(seq 50); do [ -S "$s/agent.sock" ] && return 0; sleep 0.1; done
	return 1
}
on_exit 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done'
status() { ds-agent --status --state "$1"; }
drop() { status "$1" | awk -v k="$2" '$1=="drop" && $2==k {print $3}'; }
established() { status "$1" | grep -q "^peer $2 established yes"; }
wait_for() { local i; for i in $(seq 60); do "$@" && return 0; sleep 0.1; done; return 1; }

# ---- usage ----
expect_exit 2 usage-needs-state ds-agent -k a.key -n a --peers peers.csv
expect_exit 2 usage-bad-mesh ds-agent -k a.key -n a --peers peers.csv --state sx --mesh maybe
expect_exit 2 usage-turn-needs-credentials ds-agent -k a.key -n a --peers peers.csv --state sx --turn 127.0.0.1
expect_exit 2 usage-turn-one-per-family ds-agent -k a.key -n a --peers peers.csv --state sx \
	--turn 127.0.0.1 --turn 127.0.0.2:3480 --turn-secret s
expect_exit 2 usage-turn-family-not-used ds-agent -k a.key -n a --peers peers.csv --state sx \
	--turn '[::1]' --turn-secret s -4
expect_exit 2 usage-turn-lifetime-needs-turn ds-agent -k a.key -n a --peers peers.csv --state sx \
	--turn-lifetime 60
expect_exit 2 usage-turn-lifetime-range ds-agent -k a.key -n a --peers peers.csv --state sx \
	--turn 127.0.0.1 --turn-secret s --turn-lifetime 0
expect_exit 2 usage-turn-secret-excludes-user ds-agent -k a.key -n a --peers peers.csv --state sx \
	--turn 127.0.0.1 --turn-secret s --turn-user u
expect_exit 2 usage-bad-port ds-agent -k a.key -n a --peers peers.csv --state sx -p 70000
cp a.key loose.key && chmod 644 loose.key
expect_exit 1 refuses-group-readable-key ds-agent -k loose.key -n a --peers peers.csv --state sx
grep -q 'readable by group or others' "$TMP/err" && pass refuses-key-message-says-why ||
	fail refuses-key-message-says-why "$(cat "$TMP/err")"

# ---- two agents find each other ----
check agent-a-starts start_agent a "$PA" A
check agent-b-starts start_agent b "$PB" B
sock_mode=$(stat -c %a A/agent.sock)
[ "$sock_mode" = 660 ] && pass control-socket-mode-0660 || fail control-socket-mode-0660 "$sock_mode"
expect_exit 1 second-agent-same-state-refused ds-agent -k a.key -n a --peers peers.csv --state A -p 0
if wait_for established A b && wait_for established B a; then pass agents-authenticate-each-other; else
	fail agents-authenticate-each-other "$(status A | grep '^peer')"; fi

# ---- echo from a test peer ----
expect_exit 0 echo-answered "$H/ds-echo" -k c.key -P "$PUB_a" -c 5 127.0.0.1:$PA
grep -q 'replies 5' "$TMP/out" || fail echo-answered-count "$(cat "$TMP/out")"
# Packet pair: 4 pairs of 1000-byte packets back to back, and 3 pairs 2 ms apart.
expect_exit 0 packet-pair-answered "$H/ds-echo" -k c.key -P "$PUB_a" --pair 4x1000 127.0.0.1:$PA
expect_exit 0 packet-pair-with-gaps-answered "$H/ds-echo" -k c.key -P "$PUB_a" --pair 3x600/2000 127.0.0.1:$PA
answered_before=$(status A | awk '$1=="answered"{print $2}')

# ---- what an attacker sends gets nothing and is counted ----
for kind in bad-tag tampered unknown-key truncated not-ours; do
	expect_exit 0 "forged-$kind-unanswered" "$H/ds-echo" -k c.key -P "$PUB_a" --forge $kind 127.0.0.1:$PA
done
# A peer the agent does not know (key not in its peers file) is an unknown key too.
ds-key genkey >x.key && chmod 600 x.key
expect_exit 1 stranger-gets-no-handshake "$H/ds-echo" -k x.key -P "$PUB_a" -c 1 127.0.0.1:$PA
[ "$(drop A bad-tag)" -ge 2 ] && pass counted-bad-tag || fail counted-bad-tag "$(drop A bad-tag)"
[ "$(drop A unknown-key)" -ge 2 ] && pass counted-unknown-key || fail counted-unknown-key "$(drop A unknown-key)"
[ "$(drop A truncated)" -ge 1 ] && pass counted-truncated || fail counted-truncated
[ "$(drop A not-ours)" -ge 1 ] && pass counted-not-ours || fail counted-not-ours
# A flood of forgeries each naming a new session: past the pair's budget (20 new sessions
# a second) they are dropped unchecked and counted as "limit", not as bad tags.
bad_before=$(drop A bad-tag) limit_before=$(drop A limit)
expect_exit 0 forged-session-flood-unanswered "$H/ds-echo" -k c.key -P "$PUB_a" --forge session-flood 127.0.0.1:$PA
limited=$(( $(drop A limit) - limit_before )) bad_flood=$(( $(drop A bad-tag) - bad_before ))
[ "$limited" -ge 50 ] && [ "$bad_flood" -ge 1 ] && [ $((limited + bad_flood)) -eq 100 ] &&
	pass session-flood-counted-as-limit ||
	fail session-flood-counted-as-limit "limit $limited, bad-tag +$bad_flood of 100"
answered_after=$(status A | awk '$1=="answered"{print $2}')
[ "$answered_after" = "$answered_before" ] && pass forged-packets-never-answered ||
	fail forged-packets-never-answered "$answered_before -> $answered_after"

# ---- per-source rate limit (default 2000 packets/s): a flood is cut, others still served ----
"$H/ds-echo" -k c.key -P "$PUB_b" -t 2 -w 256 127.0.0.1:$PB >flood.out 2>&1
[ "$(drop B rate-limited)" -gt 0 ] && pass flood-rate-limited-per-source ||
	fail flood-rate-limited-per-source "$(cat flood.out)"
sleep 1
expect_exit 0 others-served-during-limit "$H/ds-echo" -k c.key -P "$PUB_b" -c 3 127.0.0.1:$PB

# ---- control socket: two concurrent runs, each sees only its own packets ----
"$H/ds-ctlecho" --state A --peer b -c 40 -i 5 >run1.out 2>&1 &
r1=$!
"$H/ds-ctlecho" --state A --peer b -c 40 -i 5 >run2.out 2>&1 &
r2=$!
wait $r1; rc1=$?
wait $r2; rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && grep -q 'foreign 0' run1.out && grep -q 'foreign 0' run2.out; then
	pass two-concurrent-runs-each-get-only-their-own
else
	fail two-concurrent-runs-each-get-only-their-own "$(cat run1.out run2.out | tr '\n' '|')"
fi
expect_exit 0 kernel-tx-stamps-forwarded-to-the-run "$H/ds-ctlecho" --state A --peer b -c 5 --txstamp
grep -q ',a,b,echo,0,ok$' A/audit.csv && pass audit-logs-local-runs || fail audit-logs-local-runs "$(tail -3 A/audit.csv)"

# A tool killed mid-run leaves nothing behind (the one client left is --status asking).
"$H/ds-ctlecho" --state A --peer b --hold 30 >hold.out 2>&1 &
hp=$!
wait_for grep -q holding hold.out
kill -9 $hp; wait $hp 2>/dev/null
if wait_for sh -c "ds-agent --status --state A | grep -q '^ctl clients 1 runs 0'"; then
	pass killed-tool-leaves-nothing-behind
else
	fail killed-tool-leaves-nothing-behind "$(status A | grep '^ctl')"
fi
grep -q ',aborted$' A/audit.csv && pass killed-tool-audited-aborted || fail killed-tool-audited-aborted

# ---- mesh switch ----
touch A/mesh-off
sleep 1.3
expect_exit 0 mesh-off-flag-refuses "$H/ds-echo" -k c.key -P "$PUB_a" -c 2 --expect-refusal 127.0.0.1:$PA
grep -q '^mesh off$' <(status A) && pass status-shows-mesh-off || fail status-shows-mesh-off
rm A/mesh-off
touch A/rendezvous/mesh-off
sleep 1.3
expect_exit 0 fleet-mesh-off-refuses "$H/ds-echo" -k c.key -P "$PUB_a" -c 2 --expect-refusal 127.0.0.1:$PA
grep -q '^mesh off (fleet)$' <(status A) && pass status-shows-fleet-off || fail status-shows-fleet-off
rm A/rendezvous/mesh-off
sleep 1.3
expect_exit 0 mesh-back-on-answers "$H/ds-echo" -k c.key -P "$PUB_a" -c 2 127.0.0.1:$PA
# Runs peers start here are audited once idle for 10 s (checked every 5 s).
for _ in $(seq 40); do grep -q ',c,a,echo,[0-9]*,refused$' A/audit.csv && break; sleep 0.5; done
grep -q ',c,a,echo,[0-9]*,refused$' A/audit.csv && pass audit-logs-refused-runs ||
	fail audit-logs-refused-runs "$(tail -3 A/audit.csv)"
grep -q ',c,a,pair,[0-9]*,ok$' A/audit.csv && pass audit-logs-pair-runs || fail audit-logs-pair-runs

# ---- kill -9 and restart ----
"$H/ds-echo" -k c.key -P "$PUB_a" --capture captured.bin -c 1 127.0.0.1:$PA >/dev/null
"$H/ds-echo" -k c.key -P "$PUB_a" --capture captured-pair.bin --pair 32x1472 127.0.0.1:$PA >/dev/null
kill -9 "$PID_a"; wait "$PID_a" 2>/dev/null
start_agent a "$PA" A || fail restart-after-kill-9
t0=$(date +%s%N)
if wait_for established A b && wait_for established B a; then
	pass restarted-agent-authenticated-again
	echo "    re-established in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
	fail restarted-agent-authenticated-again "$(status A | grep '^peer b'; status B | grep '^peer a')"
fi
unproven_before=$(drop A unproven-session)
expect_exit 0 replay-from-before-restart-refused "$H/ds-echo" --replay captured.bin 127.0.0.1:$PA
unproven_after=$(drop A unproven-session)
[ "$unproven_after" -gt "$unproven_before" ] && pass replay-counted ||
	fail replay-counted "unproven-session $unproven_before -> $unproven_after"
# A replayed packet-pair request (72 bytes) gets nothing at all, not even the 88-byte
# handshake: no answer larger than the request.
expect_exit 0 replayed-pair-request-gets-silence "$H/ds-echo" --replay captured-pair.bin --expect-silence 127.0.0.1:$PA
expect_exit 0 echo-after-restart "$H/ds-echo" -k c.key -P "$PUB_a" -c 3 127.0.0.1:$PA

# ---- files ----
grep -q "^b,127.0.0.1:$PB," A/paths.csv && pass last-known-good-path-saved || fail last-known-good-path-saved "$(cat A/paths.csv)"
grep -q "^a,host," A/rendezvous/cand-a.csv 2>/dev/null || grep -q '^name,kind,addr,ts' A/rendezvous/cand-a.csv &&
	pass candidates-published || fail candidates-published

# ---- SIGTERM ----
kill -TERM "$PID_a"; wait "$PID_a"; rc=$?
[ $rc -eq 0 ] && pass sigterm-exits-0 || fail sigterm-exits-0 "exit $rc"
[ ! -e A/agent.sock ] && pass socket-removed-on-exit || fail socket-removed-on-exit
expect_exit 1 status-without-agent-exits-1 ds-agent --status --state A
grep -q '^agent a$' "$TMP/out" && pass status-without-agent-prints-last || fail status-without-agent-prints-last
kill -TERM "$PID_b"; wait "$PID_b"
t_done
