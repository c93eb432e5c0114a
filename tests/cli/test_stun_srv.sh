#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-stun finds servers through DNS SRV (_stun._udp, RFC 8489 8.1) with ldns: a name
# without a port is looked up by SRV, the SRV port is used, lower priority first with
# fallback to the next target, --srv insists on SRV. Every DNS query goes to a responder
# on 127.0.0.1 (tests/helpers/srv-dns.py, given with --dns); coturn runs on loopback.
. "$(dirname "$0")/../lib.sh"
need_cmd turnserver ds-stun python3

free_udp() { ! ss -Huan "sport = :$1" | grep -q .; }
for _ in $(seq 50); do
	P=$((20000 + RANDOM % 20000 * 2)) DP=$((45000 + RANDOM % 5000)) DEAD=$((P + 3))
	free_udp $P && free_udp $DP && free_udp $DEAD && break
done
turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $P -L 127.0.0.1 \
	--log-file "$TMP/coturn.log" --simple-log --pidfile "$TMP/coturn.pid" >/dev/null 2>&1 &
COTURN=$!
on_exit "kill $COTURN 2>/dev/null; wait $COTURN 2>/dev/null"
python3 "$DS_ROOT/tests/helpers/srv-dns.py" $DP "$TMP/dns.ready" \
	"srv _stun._udp.srv.test 10 0 $P stun1.srv.test" \
	"srv _stun._udp.srv.test 20 0 $DEAD stun2.srv.test" \
	"a stun1.srv.test 127.0.0.1" \
	"a stun2.srv.test 127.0.0.1" \
	"srv _stun._udp.fallback.test 10 0 $DEAD dead.fallback.test" \
	"srv _stun._udp.fallback.test 20 0 $P live.fallback.test" \
	"a dead.fallback.test 127.0.0.1" \
	"a live.fallback.test 127.0.0.1" \
	"a nosrv.test 127.0.0.1" &
DNS=$!
on_exit "kill $DNS 2>/dev/null; wait $DNS 2>/dev/null"
for _ in $(seq 50); do [ -e "$TMP/dns.ready" ] && break; sleep 0.1; done
for _ in $(seq 50); do
	ds-stun -q -4 -p 0 --rto 50ms --rc 1 --rm 2 127.0.0.1:$P >/dev/null 2>&1 && break
	sleep 0.1
done
DNSOPT=(--dns 127.0.0.1:$DP)
server_col() { awk -F, 'NR==2 { print $3 }' "$1"; }

ds-stun -4 -p 0 "${DNSOPT[@]}" --csv srv.test >"$TMP/a.csv" 2>"$TMP/a.err"
[ "$(server_col "$TMP/a.csv")" = "127.0.0.1:$P" ] && pass "name-without-port-uses-srv-port" ||
	fail "name-without-port-uses-srv-port" "$(cat "$TMP/a.csv" "$TMP/a.err")"
ds-stun -4 -p 0 "${DNSOPT[@]}" --csv stun:srv.test >"$TMP/b.csv" 2>"$TMP/b.err"
[ "$(server_col "$TMP/b.csv")" = "127.0.0.1:$P" ] && pass "stun-uri-uses-srv" ||
	fail "stun-uri-uses-srv" "$(cat "$TMP/b.csv" "$TMP/b.err")"
ds-stun -4 -p 0 -v "${DNSOPT[@]}" --rto 50ms --rc 2 --rm 2 --csv fallback.test >"$TMP/c.csv" 2>"$TMP/c.err"
[ "$(server_col "$TMP/c.csv")" = "127.0.0.1:$P" ] && grep -q "from _stun._udp SRV" "$TMP/c.err" &&
	pass "dead-first-target-falls-back-to-the-next" ||
	fail "dead-first-target-falls-back-to-the-next" "$(cat "$TMP/c.csv" "$TMP/c.err")"
expect_exit 1 "srv-only-without-record-exit-1" ds-stun -4 -p 0 "${DNSOPT[@]}" --srv nosrv.test
grep -q "cannot resolve 'nosrv.test'" "$TMP/err" && pass "srv-only-says-why" ||
	fail "srv-only-says-why" "$(cat "$TMP/err")"
# with a port, SRV is not asked: a name the fake DNS does not know fails in A/AAAA only
# (localhost is resolved from /etc/hosts, never through DNS)
ds-stun -4 -p 0 "${DNSOPT[@]}" --csv localhost:$P >"$TMP/d.csv" 2>&1
[ "$(server_col "$TMP/d.csv")" = "127.0.0.1:$P" ] && pass "localhost-with-port-no-srv" ||
	fail "localhost-with-port-no-srv" "$(cat "$TMP/d.csv")"
t_done
