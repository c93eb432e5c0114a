#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-stun against a real coturn on loopback (127.0.0.1 + 127.0.0.2 so RFC 5780 is on, and
# ::1): CSV columns, mapped address, --nat, --count, exit codes, bad input, and a tshark
# capture proving every packet ds-stun sends is well-formed STUN with a valid FINGERPRINT.
. "$(dirname "$0")/../lib.sh"
need_cmd turnserver ds-stun

# Unique ports: coturn on P (and P+1, its RFC 5780 alternate port), ds-stun on LP.
free_udp() { ! ss -Huan "sport = :$1" | grep -q .; }
for _ in $(seq 50); do
	P=$((20000 + RANDOM % 20000 * 2)) LP=$((41000 + RANDOM % 8000)) DEAD=$((P + 3))
	free_udp $P && free_udp $((P + 1)) && free_udp $LP && free_udp $DEAD && break
done

HAVE_V6=0
ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128' && HAVE_V6=1
listen=(-L 127.0.0.1 -L 127.0.0.2)
[ $HAVE_V6 = 1 ] && listen+=(-L ::1)
turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $P --alt-listening-port $((P + 1)) \
	"${listen[@]}" --log-file "$TMP/coturn.log" --simple-log --pidfile "$TMP/coturn.pid" \
	>"$TMP/coturn.out" 2>&1 &
COTURN=$!
on_exit "kill $COTURN 2>/dev/null; wait $COTURN 2>/dev/null"
for _ in $(seq 50); do
	ds-stun -q -4 -p 0 --rto 50ms --rc 1 --rm 2 127.0.0.1:$P >/dev/null 2>&1 && break
	sleep 0.1
done

FAST=(--rto 100ms)
col() { # col FILE NAME -> value of column NAME in the first data row
	awk -F, -v n="$2" 'NR==1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		NR==2 { print $c[n] }' "$1"
}

# --- plain binding, CSV ---
if ds-stun -4 -p $LP --csv 127.0.0.1:$P >"$TMP/v4.csv" 2>"$TMP/err"; then
	pass "ipv4-binding-exit-0"
else
	fail "ipv4-binding-exit-0" "$(head -1 "$TMP/err")"
fi
hdr=$(head -1 "$TMP/v4.csv")
case $hdr in
ts,tool,server,family,local,mapped,rtt_ms,*) pass "csv-header-starts-with-spec-columns" ;;
*) fail "csv-header-starts-with-spec-columns" "$hdr" ;;
esac
[ "$(wc -l <"$TMP/v4.csv")" -eq 2 ] && pass "csv-one-row-per-family" ||
	fail "csv-one-row-per-family" "$(cat "$TMP/v4.csv")"
if [ "$(col "$TMP/v4.csv" tool)" = ds-stun ] && [ "$(col "$TMP/v4.csv" family)" = ipv4 ] &&
	[ "$(col "$TMP/v4.csv" server)" = "127.0.0.1:$P" ]; then
	pass "csv-tool-family-server"
else
	fail "csv-tool-family-server" "$(tail -1 "$TMP/v4.csv")"
fi
# loopback has no NAT: the server sees exactly our socket's address
if [ "$(col "$TMP/v4.csv" mapped)" = "127.0.0.1:$LP" ] &&
	[ "$(col "$TMP/v4.csv" local)" = "127.0.0.1:$LP" ]; then
	pass "mapped-address-is-what-coturn-sees"
else
	fail "mapped-address-is-what-coturn-sees" "$(tail -1 "$TMP/v4.csv")"
fi
echo "$(col "$TMP/v4.csv" ts)" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' &&
	pass "csv-ts-iso8601-ms" || fail "csv-ts-iso8601-ms" "$(col "$TMP/v4.csv" ts)"
echo "$(col "$TMP/v4.csv" rtt_ms)" | grep -qE '^[0-9]+\.[0-9]{3}$' &&
	pass "csv-rtt-ms-number" || fail "csv-rtt-ms-number" "$(col "$TMP/v4.csv" rtt_ms)"

# --- human output, stun: URI, host name ---
out=$(ds-stun -4 -p 0 stun:127.0.0.1:$P 2>&1)
echo "$out" | grep -qE "^ipv4 127\.0\.0\.1:$P local 127\.0\.0\.1:[0-9]+ mapped 127\.0\.0\.1:[0-9]+ rtt [0-9.]+ ms$" &&
	pass "stun-uri-and-line-output" || fail "stun-uri-and-line-output" "$out"
out=$(ds-stun -4 -p 0 --no-header localhost:$P 2>&1)
echo "$out" | grep -q "^[^,]*,ds-stun,127.0.0.1:$P,ipv4," && [ "$(echo "$out" | wc -l)" -eq 1 ] &&
	pass "host-name-and-no-header" || fail "host-name-and-no-header" "$out"

# --- IPv6 ---
if [ $HAVE_V6 = 1 ]; then
	ds-stun -6 -p $LP --csv "[::1]:$P" >"$TMP/v6.csv" 2>"$TMP/err"
	if [ "$(col "$TMP/v6.csv" family)" = ipv6 ] && [ "$(col "$TMP/v6.csv" mapped)" = "[::1]:$LP" ]; then
		pass "ipv6-binding-mapped"
	else
		fail "ipv6-binding-mapped" "$(cat "$TMP/v6.csv" "$TMP/err")"
	fi
else
	skip "ipv6-binding-mapped" "no ::1 on lo"
fi

# --- RFC 5780 discovery on loopback: no NAT, no filter, hairpin works ---
ds-stun -4 -p $LP --nat --csv 127.0.0.1:$P >"$TMP/nat.csv" 2>"$TMP/err"
case $(head -1 "$TMP/nat.csv") in
*,mapping,filtering,hairpin*) pass "nat-adds-columns" ;;
*) fail "nat-adds-columns" "$(head -1 "$TMP/nat.csv")" ;;
esac
got="$(col "$TMP/nat.csv" mapping) $(col "$TMP/nat.csv" filtering) $(col "$TMP/nat.csv" hairpin)"
[ "$got" = "no-nat endpoint-independent yes" ] && pass "nat-loopback-is-no-nat-open-hairpin" ||
	fail "nat-loopback-is-no-nat-open-hairpin" "$got; $(cat "$TMP/err")"
[ "$(col "$TMP/nat.csv" other)" = "127.0.0.2:$((P + 1))" ] && pass "nat-other-address" ||
	fail "nat-other-address" "$(col "$TMP/nat.csv" other)"

# A server without RFC 5780 (one address): mapping still no-nat, filtering unknown.
turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $((P + 4)) -L 127.0.0.1 \
	--log-file "$TMP/coturn2.log" --simple-log --pidfile "$TMP/coturn2.pid" >/dev/null 2>&1 &
COTURN2=$!
on_exit "kill $COTURN2 2>/dev/null; wait $COTURN2 2>/dev/null"
for _ in $(seq 50); do
	ds-stun -q -4 -p 0 --rto 50ms --rc 1 --rm 2 127.0.0.1:$((P + 4)) >/dev/null 2>&1 && break
	sleep 0.1
done
ds-stun -4 -p 0 --nat --csv --wait 200ms 127.0.0.1:$((P + 4)) >"$TMP/nat2.csv" 2>&1
got="$(col "$TMP/nat2.csv" mapping) $(col "$TMP/nat2.csv" filtering)"
[ "$got" = "no-nat unknown" ] && pass "nat-without-other-address-says-unknown" ||
	fail "nat-without-other-address-says-unknown" "$got"

# --- repeated bindings ---
ds-stun -4 -p 0 --count 5 --interval 20ms --csv 127.0.0.1:$P >"$TMP/count.csv" 2>"$TMP/err"
rows=$(tail -n +2 "$TMP/count.csv")
if [ "$(echo "$rows" | wc -l)" -eq 5 ] &&
	[ "$(echo "$rows" | awk -F, '{print $8}' | tr '\n' ' ')" = "1 2 3 4 5 " ] &&
	[ "$(echo "$rows" | awk -F, '{print $10}' | sort -u)" = no ] &&
	[ "$(echo "$rows" | tail -1 | awk -F, '{print $11 "/" $12}')" = 5/5 ]; then
	pass "count-rows-seq-stats-stable-mapping"
else
	fail "count-rows-seq-stats-stable-mapping" "$rows"
fi
if echo "$rows" | tail -1 | awk -F, '{ exit !($13 <= $14 && $14 <= $15 && $15 <= $16 && $13 > 0) }'; then
	pass "count-rtt-min-median-p95-max-ordered"
else
	fail "count-rtt-min-median-p95-max-ordered" "$(echo "$rows" | tail -1)"
fi
out=$(ds-stun -4 -p 0 --count 3 --interval 10ms 127.0.0.1:$P 2>&1)
echo "$out" | tail -1 | grep -qE "3 sent, 3 answered, rtt min/median/p95/max [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms, mapping stable" &&
	pass "count-summary-line" || fail "count-summary-line" "$out"

# --- agent socket absent: cold path said, port bound by us ---
out=$(ds-stun -4 -p $LP --state "$TMP/nostate" 127.0.0.1:$P 2>&1 >/dev/null); rc=$?
[ $rc -eq 0 ] && [ "$out" = "ds-stun: no agent at $TMP/nostate, binding port $LP itself (cold path)" ] &&
	pass "state-without-agent-says-cold-path" || fail "state-without-agent-says-cold-path" "rc $rc: $out"

mkdir -p "$TMP/st"
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$TMP/st/agent.sock" 2>/dev/null
if [ -S "$TMP/st/agent.sock" ]; then
	out=$(ds-stun -4 -p $LP --state "$TMP/st" 127.0.0.1:$P 2>&1 >/dev/null); rc=$?
	[ $rc -eq 0 ] && echo "$out" | grep -q "binding port $LP itself (cold path)" &&
		pass "state-with-a-dead-agent-socket-is-cold" ||
		fail "state-with-a-dead-agent-socket-is-cold" "rc $rc: $out"
else
	skip "state-with-a-dead-agent-socket-is-cold" "cannot make a unix socket"
fi
out=$(ds-stun -q -4 -p $LP --state "$TMP/nostate" 127.0.0.1:$P 2>&1 >/dev/null)
[ -z "$out" ] && pass "quiet-silences-messages" || fail "quiet-silences-messages" "$out"

# --- no server answers: exit 1, and quickly with a short schedule ---
start=$(date +%s%N)
expect_exit 1 "no-answer-exit-1" ds-stun -4 -p 0 --rto 20ms --rc 2 --rm 2 127.0.0.1:$DEAD
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 50 ] && [ $ms -lt 2000 ] && pass "rto-rc-rm-bound-the-wait" || fail "rto-rc-rm-bound-the-wait" "${ms} ms"
grep -q "no answer from '127.0.0.1:$DEAD'" "$TMP/err" && pass "no-answer-says-so" ||
	fail "no-answer-says-so" "$(cat "$TMP/err")"
expect_exit 1 "unresolvable-name-exit-1" ds-stun -p 0 --no-srv no-such-host.invalid:3478

# --- bad input: one line on stderr naming it, exit 2, nothing on stdout ---
bad_input() {
	local name=$1; shift
	ds-stun "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ]; then
		pass "bad-input/$name"
	else
		fail "bad-input/$name" "exit $rc: $(head -2 "$TMP/err" | tr '\n' '|')"
	fi
}
bad_input no-server
bad_input two-servers 127.0.0.1 127.0.0.2
bad_input bad-port -p 70000 127.0.0.1
bad_input bad-server-port 127.0.0.1:99999
bad_input bad-host 'no such host'
bad_input bad-ipv6 '[::1'
bad_input stuns-unsupported stuns:127.0.0.1
bad_input uri-query 'stun:127.0.0.1?transport=tcp'
bad_input both-families -4 -6 127.0.0.1
bad_input nat-with-count --nat --count 2 127.0.0.1
bad_input count-zero --count 0 127.0.0.1
bad_input bad-rto --rto 0 127.0.0.1
bad_input bad-rc --rc 33 127.0.0.1
bad_input bad-interval --interval -5 127.0.0.1
bad_input bad-dns --dns not-an-ip 127.0.0.1
grep -q "'no such host'" <(ds-stun 'no such host' 2>&1) && pass "bad-input-is-named" ||
	fail "bad-input-is-named"

# --- capture: every packet ds-stun sends is STUN with a good FINGERPRINT, nothing malformed ---
if [ "$(id -u)" -ne 0 ] || ! command -v tshark >/dev/null; then
	skip "capture-decodes-as-stun" "needs root and tshark"
else
	filt="udp port $P or udp port $((P + 1)) or udp port $LP"
	tshark -i lo -f "$filt" -w "$TMP/cap.pcapng" -q >"$TMP/tshark.out" 2>&1 &
	TSHARK=$!
	on_exit "kill $TSHARK 2>/dev/null; wait $TSHARK 2>/dev/null"
	for _ in $(seq 100); do grep -q "Capturing on" "$TMP/tshark.out" && break; sleep 0.1; done
	sleep 0.3
	ds-stun -4 -p $LP --nat 127.0.0.1:$P >/dev/null 2>&1
	ds-stun -4 -p $LP --count 3 --interval 10ms stun:127.0.0.1:$P >/dev/null 2>&1
	[ $HAVE_V6 = 1 ] && ds-stun -6 -p $LP --nat "[::1]:$P" >/dev/null 2>&1
	sleep 0.5
	kill -INT $TSHARK; wait $TSHARK 2>/dev/null
	# ds-stun sends every packet whose source port is not coturn's
	sent="!(udp.srcport == $P || udp.srcport == $((P + 1)))"
	n_sent=$(tshark -r "$TMP/cap.pcapng" -Y "$sent" 2>/dev/null | wc -l)
	n_stun=$(tshark -r "$TMP/cap.pcapng" -Y "$sent && stun && stun.att.crc32.status == 1" 2>/dev/null | wc -l)
	n_bad=$(tshark -r "$TMP/cap.pcapng" -Y "$sent && (_ws.malformed || _ws.expert.severity >= \"warning\")" 2>/dev/null | wc -l)
	if [ "$n_sent" -ge 6 ] && [ "$n_sent" -eq "$n_stun" ] && [ "$n_bad" -eq 0 ]; then
		pass "capture-decodes-as-stun"
	else
		fail "capture-decodes-as-stun" "sent $n_sent, STUN with good FINGERPRINT $n_stun, malformed/expert $n_bad"
	fi
	# and tshark has nothing to complain about anywhere in the capture
	if tshark -r "$TMP/cap.pcapng" -q -z expert,warn 2>/dev/null | grep -qiE "malformed|error"; then
		fail "capture-no-expert-errors" "$(tshark -r "$TMP/cap.pcapng" -q -z expert,warn 2>/dev/null | head -20)"
	else
		pass "capture-no-expert-errors"
	fi
fi
t_done
