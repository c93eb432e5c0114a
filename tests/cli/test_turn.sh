#!/bin/bash
# SPDX-License-Identifier: MIT
# The TURN client (libds/turn) against real coturn on loopback, through the test driver
# tests/helpers/ds-turnrelay: allocation with long-term credentials and with coturn's REST
# shared secret (two coturns: one process cannot mix them), a permission and a channel for
# a UDP echo peer, datagrams relayed there and back as Send/Data indications and as
# ChannelData, refreshes through stale nonces (438) that keep the allocation, 401 for a wrong password,
# 437 for a second allocation from the same 5-tuple, release; and a capture that tshark
# decodes without a malformed packet or an expert warning, every FINGERPRINT correct.
. "$(dirname "$0")/../lib.sh"
need_cmd turnserver python3 cc

# the driver links the library of the build under test (sanitized when DS_BIN is)
LIB=$DS_ROOT/build/libds.a SAN=()
[[ "$DS_BIN" == */build/asan/bin ]] && LIB=$DS_ROOT/build/asan/libds.a SAN=(-fsanitize=address,undefined)
[ -f "$LIB" ] || { echo "needs $LIB (make)"; exit 77; }
cc -std=gnu11 -D_GNU_SOURCE -O1 "${SAN[@]}" -iquote "$DS_ROOT/libds" \
	"$DS_ROOT/tests/helpers/ds-turnrelay.c" "$LIB" -lssl -lcrypto -lm -o "$TMP/ds-turnrelay" ||
	{ fail build-driver; t_done; }
relay() { "$TMP/ds-turnrelay" "$@"; }

# Unique ports: long-term coturn on P, REST coturn on P+2, the echo peer on E, a fixed client
# port C; relay ports from a window of their own.
free_udp() { ! ss -Huan "sport = :$1" | grep -q .; }
for _ in $(seq 50); do
	P=$((20000 + RANDOM % 10000 * 2)) E=$((42000 + RANDOM % 4000)) C=$((46000 + RANDOM % 4000))
	R=$((30000 + RANDOM % 100 * 100))
	free_udp $P && free_udp $((P + 2)) && free_udp $E && free_udp $C && break
done
SECRET=ds-test-secret-$$
pids=()
on_exit 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null'

common=(-n --no-cli --no-tls --no-dtls --simple-log --no-stdout-log --realm datastun.test
	--listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --allow-loopback-peers --fingerprint)
# nonces that go stale after 4 s on the long-term server: later requests meet 438
HAVE_V6=0
ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128' && HAVE_V6=1
v6=()
[ $HAVE_V6 = 1 ] && v6=(--listening-ip ::1 --relay-ip ::1)
turnserver "${common[@]}" "${v6[@]}" --listening-port $P --min-port $R --max-port $((R + 49)) \
	--lt-cred-mech --user ds:dspass --userdb "$TMP/lt.db" --stale-nonce=4 \
	--log-file "$TMP/lt.log" --pidfile "$TMP/lt.pid" </dev/null >"$TMP/lt.out" 2>&1 &
pids+=("$!")
turnserver "${common[@]}" --listening-port $((P + 2)) --min-port $((R + 50)) --max-port $((R + 99)) \
	--use-auth-secret --static-auth-secret "$SECRET" --userdb "$TMP/rest.db" \
	--log-file "$TMP/rest.log" --pidfile "$TMP/rest.pid" </dev/null >"$TMP/rest.out" 2>&1 &
pids+=("$!")
cat >"$TMP/echo.py" <<'PY'
import socket, sys
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((host, int(sys.argv[1])))
while True:
    data, src = s.recvfrom(65536)
    s.sendto(data, src)
PY
python3 "$TMP/echo.py" $E &
pids+=("$!")
if [ $HAVE_V6 = 1 ]; then
	python3 "$TMP/echo.py" $E ::1 &
	pids+=("$!")
fi
for _ in $(seq 100); do
	ss -Hlun "sport = :$P" | grep -q . && ss -Hlun "sport = :$((P + 2))" | grep -q . &&
		ss -Hlun "sport = :$E" | grep -q . && break
	sleep 0.1
done

CAPTURE=0
if [ "$(id -u)" -eq 0 ] && command -v tshark >/dev/null; then
	tshark -i lo -f "udp port $P or udp port $((P + 2))" -w "$TMP/turn.pcapng" -q \
		>"$TMP/tshark.out" 2>&1 &
	TSHARK=$!
	on_exit "kill $TSHARK 2>/dev/null; wait $TSHARK 2>/dev/null"
	for _ in $(seq 100); do grep -q "Capturing on" "$TMP/tshark.out" && break; sleep 0.1; done
	sleep 0.3
	CAPTURE=1
fi

# key=value of the first line starting with WORD
val() { sed -n "s/^$2 .*\b$3=\([^ ]*\).*/\1/p" "$1" | head -1; }

relay_case() { # NAME CREDENTIAL-ARGS...
	local n=$1 out
	shift
	out=$TMP/$n.out
	relay -s 127.0.0.1:"$1" "${@:2}" -P 127.0.0.1:$E -c 5 >"$out" 2>&1
	local rc=$?
	sed 's/^/      /' "$out"
	[ $rc -eq 0 ] && pass "$n/allocate-permit-bind-relay-release" ||
		fail "$n/allocate-permit-bind-relay-release" "exit $rc"
	local relayed
	relayed=$(val "$out" allocated relayed)
	[[ "$relayed" == 127.0.0.1:* ]] && pass "$n/relayed-address-on-the-relay-ip" ||
		fail "$n/relayed-address-on-the-relay-ip" "$relayed"
	local mapped local_port
	mapped=$(val "$out" allocated mapped) local_port=$(val "$out" allocated local_port)
	[ "$mapped" = "127.0.0.1:$local_port" ] && pass "$n/mapped-address-is-our-socket" ||
		fail "$n/mapped-address-is-our-socket" "$mapped vs port $local_port"
	grep -q '^echo via=send sent=5 received=5 indications=5 channeldata=0$' "$out" &&
		pass "$n/send-and-data-indications-relay-to-the-peer" ||
		fail "$n/send-and-data-indications-relay-to-the-peer"
	grep -q '^channel .*channel=0x4000$' "$out" && pass "$n/channel-0x4000-bound" ||
		fail "$n/channel-0x4000-bound"
	grep -q '^echo via=channel sent=5 received=5 indications=0 channeldata=5$' "$out" &&
		pass "$n/channeldata-relays-to-the-peer" || fail "$n/channeldata-relays-to-the-peer"
	grep -q '^released$' "$out" && pass "$n/released-with-lifetime-0" ||
		fail "$n/released-with-lifetime-0"
}

relay_case long-term $P -u ds -p dspass
relay_case rest $((P + 2)) -S "$SECRET" -n alice
grep -q '^rest username=[0-9]*:alice$' "$TMP/rest.out" && pass rest/username-is-expiry-colon-user ||
	fail rest/username-is-expiry-colon-user

# IPv6: a relayed IPv6 address asked for (REQUESTED-ADDRESS-FAMILY) and an IPv6 peer
if [ $HAVE_V6 = 1 ]; then
	relay -s "[::1]:$P" -u ds -p dspass -6 -P "[::1]:$E" -c 3 >"$TMP/v6.out" 2>&1
	rc=$?
	sed 's/^/      /' "$TMP/v6.out"
	[ $rc -eq 0 ] && [[ "$(val "$TMP/v6.out" allocated relayed)" == "[::1]:"* ]] &&
		grep -q '^echo via=channel sent=3 received=3' "$TMP/v6.out" &&
		pass ipv6/relayed-ipv6-address-carries-data-to-an-ipv6-peer ||
		fail ipv6/relayed-ipv6-address-carries-data-to-an-ipv6-peer "exit $rc"
else
	skip ipv6 "no ::1 on lo"
fi

# coturn grants no less than 600 s, so the refreshes are asked for every 5 s; the nonce is
# stale by then (438), the client retries with the new one, the relay keeps working
relay -s 127.0.0.1:$P -u ds -p dspass -P 127.0.0.1:$E -c 2 -l 900 -H 11 -R 5 >"$TMP/hold.out" 2>&1
rc=$?
sed 's/^/      /' "$TMP/hold.out"
[ "$(val "$TMP/hold.out" allocated lifetime)" = 900 ] && pass long-term/lifetime-asked-for-granted ||
	fail long-term/lifetime-asked-for-granted "$(val "$TMP/hold.out" allocated lifetime)"
refreshes=$(val "$TMP/hold.out" held refreshes)
[ $rc -eq 0 ] && [ "${refreshes:-0}" -ge 2 ] &&
	grep -q '^echo via=after-hold sent=2 received=2' "$TMP/hold.out" &&
	pass long-term/refresh-through-stale-nonces-keeps-the-relay ||
	fail long-term/refresh-through-stale-nonces-keeps-the-relay "exit $rc, $refreshes refreshes"

# wrong credentials: the 401 to the authenticated request is reported, exit 1
relay -s 127.0.0.1:$P -u ds -p wrong >"$TMP/wrong.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'allocate failed .*code=401' "$TMP/wrong.out" &&
	pass long-term/wrong-password-reports-401 ||
	fail long-term/wrong-password-reports-401 "exit $rc: $(cat "$TMP/wrong.out")"
relay -s 127.0.0.1:$((P + 2)) -S wrong-secret >"$TMP/wrong2.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'allocate failed .*code=401' "$TMP/wrong2.out" &&
	pass rest/wrong-secret-reports-401 || fail rest/wrong-secret-reports-401 "exit $rc"

# an allocation kept on client port C; a second Allocate from C meets 437
relay -s 127.0.0.1:$((P + 2)) -S "$SECRET" -b $C -k >"$TMP/keep.out" 2>&1
relay -s 127.0.0.1:$((P + 2)) -S "$SECRET" -b $C -k >"$TMP/mismatch.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'allocate failed .*code=437' "$TMP/mismatch.out" &&
	pass rest/second-allocation-from-one-5-tuple-reports-437 ||
	fail rest/second-allocation-from-one-5-tuple-reports-437 "exit $rc: $(cat "$TMP/mismatch.out")"

if [ $CAPTURE = 1 ]; then
	sleep 0.5
	kill -INT $TSHARK 2>/dev/null
	wait $TSHARK 2>/dev/null
	dec=(-d udp.port==$P,stun -d udp.port==$((P + 2)),stun)
	ours="udp.dstport==$P || udp.dstport==$((P + 2))"
	tshark -r "$TMP/turn.pcapng" "${dec[@]}" -Y "$ours" -T fields -e stun.type -e stun.channel \
		-e stun.att.crc32.status -e _ws.malformed 2>/dev/null >"$TMP/ours.txt"
	total=$(wc -l <"$TMP/ours.txt")
	stun=$(awk -F'\t' '$1 != ""' "$TMP/ours.txt" | wc -l)
	chan=$(awk -F'\t' '$1 == "" && $2 != ""' "$TMP/ours.txt" | wc -l)
	crc_ok=$(awk -F'\t' '$1 != "" && $3 == "1"' "$TMP/ours.txt" | wc -l)
	echo "      captured: $total sent by us, $stun STUN/TURN, $chan ChannelData, $crc_ok good CRC"
	types=$(awk -F'\t' '$1 != "" { print $1 }' "$TMP/ours.txt" | sort -u | tr '\n' ' ')
	# Allocate, Refresh, CreatePermission, ChannelBind requests and Send indications
	[ "$types" = "0x0003 0x0004 0x0008 0x0009 0x0016 " ] &&
		pass capture/every-turn-message-kind-decoded || fail capture/every-turn-message-kind-decoded "$types"
	[ "$total" -gt 0 ] && [ $((stun + chan)) -eq "$total" ] &&
		pass capture/every-datagram-we-send-decodes-as-stun-or-channeldata ||
		fail capture/every-datagram-we-send-decodes-as-stun-or-channeldata "$stun + $chan of $total"
	[ "$stun" -gt 0 ] && [ "$crc_ok" -eq "$stun" ] && pass capture/every-fingerprint-correct ||
		fail capture/every-fingerprint-correct "$crc_ok of $stun"
	# coturn's 438 answers (error class 4, number 38) to our refreshes, each followed by a
	# successful refresh
	stale=$(tshark -r "$TMP/turn.pcapng" "${dec[@]}" -Y "udp.srcport==$P && stun.att.error.class==4 && stun.att.error==38" \
		2>/dev/null | wc -l)
	refresh_ok=$(tshark -r "$TMP/turn.pcapng" "${dec[@]}" -Y "udp.srcport==$P && stun.type==0x0104" \
		2>/dev/null | wc -l)
	echo "      coturn answered 438 $stale times; $refresh_ok Refresh successes"
	[ "$stale" -ge 1 ] && [ "$refresh_ok" -ge 2 ] && pass capture/stale-nonce-438-answered-and-recovered ||
		fail capture/stale-nonce-438-answered-and-recovered "$stale 438s, $refresh_ok refresh successes"
	tshark -r "$TMP/turn.pcapng" "${dec[@]}" -q -z expert >"$TMP/expert.txt" 2>/dev/null
	if grep -qiE 'malformed|error|warn' "$TMP/expert.txt"; then
		fail capture/no-malformed-or-expert-warnings "$(head -20 "$TMP/expert.txt")"
	else
		pass capture/no-malformed-or-expert-warnings
	fi
	[ -z "$(awk -F'\t' '$4 != ""' "$TMP/ours.txt")" ] && pass capture/no-malformed-field ||
		fail capture/no-malformed-field
else
	skip capture "needs root and tshark"
fi
t_done
