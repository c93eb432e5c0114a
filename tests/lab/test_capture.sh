#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-capture in a namespace of its own: ds-stun against a real coturn is captured, decoded
# and summarised; the pcapng it writes is read back by tshark and by ds-capture -r with the
# same result; an unanswered datagram's ICMP port unreachable is explained; the toolkit's
# own packets are named by their clear header with counter gaps; privileges are dropped.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd turnserver tshark python3
ns=dscap$$
ip netns add "$ns" || { fail netns; t_done; }
on_exit "ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null; sleep 0.2; ip netns del $ns"
inns() { ip netns exec "$ns" "$@"; }
inns ip link set lo up
inns ip addr add 127.0.0.2/8 dev lo 2>/dev/null

inns turnserver --no-cli -L 127.0.0.1 -L 127.0.0.2 -p 3478 --no-tls --no-dtls -n \
	--log-file "$TMP/turn.log" --pidfile "$TMP/turn.pid" >/dev/null 2>&1 &
for _ in $(seq 50); do inns ds-stun -q -p 0 127.0.0.1:3478 >/dev/null 2>&1 && break; sleep 0.1; done

# Live capture of three bindings from the warm port 41878, an unanswered datagram to a
# closed port, and the toolkit's own packets (header in the clear: type 4, version 1,
# run id, pair id, session, counter), with counters 1, 2 and 4 (3 missing).
inns ds-capture -i lo -p 41878 --duration 4s -w "$TMP/c.pcapng" --comment "ticket 42" \
	>"$TMP/live.out" 2>"$TMP/live.err" &
cap=$!
sleep 1
cpid=$(for p in $(ip netns pids "$ns"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = ds-capture ] && echo $p; done)
uid=$(awk '/^Uid:/{print $2 $3 $4 $5}' /proc/$cpid/status 2>/dev/null)
capeff=$(awk '/^CapEff:/{print $2}' /proc/$cpid/status 2>/dev/null)
inns ds-stun -p 41878 --count 3 --interval 50 127.0.0.1:3478 >"$TMP/stun.out"
inns python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 41878))
s.sendto(b"\x64hello", ("127.0.0.1", 9))           # nothing listens on port 9
for counter in (1, 2, 4):
    hdr = struct.pack("!BBHIQQQ", 4, 1, 0, 0xabcd1234, 7, 0x1122334455667788, counter)
    s.sendto(hdr + b"\0" * 56, ("127.0.0.2", 41000))
PY
wait $cap
rc=$?

[ "$rc" -eq 0 ] && pass live-capture-exits-0 || fail live-capture-exits-0 "exit $rc: $(cat "$TMP/live.err")"
n=$(id -u nobody)
[ "$uid" = "$n$n$n$n" ] && [ "$capeff" = 0000000000000000 ] &&
	pass privileges-dropped-after-open || fail privileges-dropped-after-open "uid=$uid capeff=$capeff"
n_req=$(grep -c 'stun-binding-request' "$TMP/live.out")
n_ok=$(grep -c 'stun-binding-success.*mapped=127.0.0.1:41878' "$TMP/live.out")
[ "$n_req" = 3 ] && [ "$n_ok" = 3 ] && pass stun-transactions-decoded ||
	fail stun-transactions-decoded "requests=$n_req successes=$n_ok"
grep -q 'STUN: 3 transactions, 3 answered, 0 unanswered, 0 retransmissions; RTT min' "$TMP/live.out" &&
	pass summary-counts-transactions || fail summary-counts-transactions "$(grep STUN: "$TMP/live.out")"
grep -q '127.0.0.1:3478 sees 127.0.0.1:41878 as 127.0.0.1:41878' "$TMP/live.out" &&
	pass summary-names-mapping || fail summary-names-mapping
grep -q 'icmp-port-unreachable from 127.0.0.1 about datagrams to 127.0.0.1:9: nothing listens there' "$TMP/live.out" &&
	pass icmp-unreachable-explained || fail icmp-unreachable-explained "$(grep -i icmp "$TMP/live.out")"
grep -q 'echo-request v1 run=abcd1234 session=1122334455667788 counter=4' "$TMP/live.out" &&
	pass datastun-header-decoded || fail datastun-header-decoded "$(grep -i run= "$TMP/live.out" | head -2)"
grep -q 'session 1122334455667788: counters 1..4, 3 seen, 1 missing here' "$TMP/live.out" &&
	pass counter-gap-reported || fail counter-gap-reported "$(grep session "$TMP/live.out")"
grep -q 'peer 127.0.0.2:41000: 3 out, 0 in (never answered)' "$TMP/live.out" &&
	pass silent-peer-flagged || fail silent-peer-flagged "$(grep peer "$TMP/live.out")"

# The pcapng file: tshark reads every packet, STUN decoded with valid fingerprints, comment kept.
live_packets=$(grep -cE '^[0-9]{2}:[0-9]{2}:' "$TMP/live.out")
tshark_packets=$(tshark -r "$TMP/c.pcapng" -Y 'udp or icmp' 2>/dev/null | wc -l)
[ "$tshark_packets" -ge "$live_packets" ] && [ "$live_packets" -ge 10 ] &&
	pass pcapng-read-by-tshark || fail pcapng-read-by-tshark "tshark $tshark_packets, decoded $live_packets"
[ "$(tshark -r "$TMP/c.pcapng" -Y stun 2>/dev/null | wc -l)" = 6 ] && pass pcapng-stun-for-tshark ||
	fail pcapng-stun-for-tshark "$(tshark -r "$TMP/c.pcapng" -Y stun 2>/dev/null | wc -l) STUN packets"
if ! tshark -r "$TMP/c.pcapng" -q -z expert 2>/dev/null | grep -qi 'malformed'; then
	pass pcapng-no-malformed-packets
else
	fail pcapng-no-malformed-packets
fi
capinfos "$TMP/c.pcapng" 2>/dev/null | grep -q 'ticket 42' && pass pcapng-keeps-comment ||
	fail pcapng-keeps-comment

# Reading the file back gives the same story.
ds-capture -p 41878 -r "$TMP/c.pcapng" >"$TMP/read.out" 2>&1
if diff <(grep -v '^summary:' "$TMP/live.out") <(grep -v '^summary:' "$TMP/read.out") >"$TMP/diff"; then
	pass read-back-decodes-the-same
else
	fail read-back-decodes-the-same "$(head -5 "$TMP/diff" | tr '\n' '|')"
fi
ds-capture -p 41878 -r "$TMP/c.pcapng" --csv >"$TMP/read.csv" 2>/dev/null
if head -1 "$TMP/read.csv" | grep -q '^ts,tool,src,dst,bytes,kind,run_id,detail$' &&
	grep -q ',ds-capture,127.0.0.1:41878,127.0.0.2:41000,88,echo-request,abcd1234,' "$TMP/read.csv"; then
	pass csv-rows
else
	fail csv-rows "$(sed -n 1,3p "$TMP/read.csv" | tr '\n' '|')"
fi
expect_exit 1 refuses-to-overwrite-a-capture ds-capture -r "$TMP/c.pcapng" -w "$TMP/c.pcapng"
t_done
