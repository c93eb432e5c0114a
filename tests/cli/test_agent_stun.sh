#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-agent refreshes its STUN mapping from the warm port itself: against coturn on
# loopback it learns its server-reflexive address at start and publishes it as a srflx
# candidate (atomically replaced file); STUN answers share the port with the toolkit's
# packets (RFC 7983 first-byte demultiplexing) and an echo still works; the refresh repeats
# every 20-26 s (a STUN responder that notes when each request came).
. "$(dirname "$0")/../lib.sh"
need_cmd ds-agent ds-key turnserver python3 cc

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cd "$TMP" || exit 1
ds-key genkey >a.key && ds-key genkey >c.key && chmod 600 a.key c.key
PUB_a=$(ds-key pubkey <a.key) PUB_c=$(ds-key pubkey <c.key)
printf 'name,pubkey,endpoint\nc,%s,\n' "$PUB_c" >peers.csv
cc -std=gnu11 -D_GNU_SOURCE -O1 -iquote "$DS_ROOT/libds" "$DS_ROOT/tests/helpers/ds-echo.c" \
	"$DS_ROOT/build/libds.a" -lcrypto -lcsv -lm -o ds-echo || exit 1
pids=()
on_exit 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null'

SP=$(free_port)
turnserver -n --stun-only --listening-ip=127.0.0.1 --listening-port="$SP" --no-tls --no-dtls \
	--no-cli --log-file=stdout --simple-log --pidfile="$TMP/turn.pid" >turn.log 2>&1 &
pids+=("$!")
sleep 1
PA=$(free_port)
ds-agent -k a.key -n a --peers peers.csv --state A -p "$PA" --stun "127.0.0.1:$SP" 2>a.log &
pids+=("$!")
for _ in $(seq 50); do
	ds-agent --status --state A 2>/dev/null | grep -q "^srflx_ipv4 127.0.0.1:$PA$" && break
	sleep 0.1
done
if ds-agent --status --state A | grep -q "^srflx_ipv4 127.0.0.1:$PA$"; then
	pass coturn-mapping-learnt-from-the-warm-port
else
	fail coturn-mapping-learnt-from-the-warm-port "$(ds-agent --status --state A | grep srflx; tail -3 turn.log)"
fi
grep -q "^a,srflx,127.0.0.1:$PA," A/rendezvous/cand-a.csv && pass srflx-candidate-published ||
	fail srflx-candidate-published "$(cat A/rendezvous/cand-a.csv)"
ls A/rendezvous/.cand-a.csv.tmp.* >/dev/null 2>&1 && fail no-temp-file-left || pass no-temp-file-left
expect_exit 0 echo-shares-the-port-with-stun ./ds-echo -k c.key -P "$PUB_a" -c 3 "127.0.0.1:$PA"
[ "$(ds-agent --status --state A | awk '$1=="drop" && $2=="stun-unexpected"{print $3}')" = 0 ] &&
	pass no-stun-answer-dropped || fail no-stun-answer-dropped

# A tool borrows the warm socket (SCM_RIGHTS) for its own STUN transaction and gets the
# answer forwarded by the agent: the mapping it sees is the agent's port.
cc -std=gnu11 -D_GNU_SOURCE -O1 -iquote "$DS_ROOT/libds" "$DS_ROOT/tests/helpers/ds-ctlstun.c" \
	"$DS_ROOT/build/libds.a" -lcrypto -lcsv -lm -o ds-ctlstun || exit 1
expect_exit 0 tool-stun-through-the-warm-socket ./ds-ctlstun --state A "127.0.0.1:$SP"
grep -q "^mapped 127.0.0.1:$PA via agent port $PA kernel_stamp 1$" "$TMP/out" &&
	pass tool-stun-sees-the-warm-port || fail tool-stun-sees-the-warm-port "$(cat "$TMP/out")"

# The refresh interval: a STUN responder that logs the time of every Binding request.
SP2=$(free_port)
cat >stun.py <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
log = open(sys.argv[2], "a", buffering=1)
while True:
    data, src = s.recvfrom(2048)
    if len(data) < 20 or struct.unpack("!H", data[:2])[0] != 0x0001:
        continue
    log.write("%.3f\n" % time.monotonic())
    tid = data[8:20]
    port = src[1] ^ 0x2112
    ip = struct.unpack("!I", socket.inet_aton(src[0]))[0] ^ 0x2112A442
    attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, port, ip)
    s.sendto(struct.pack("!HHI", 0x0101, len(attr), 0x2112A442) + tid + attr, src)
PY
python3 stun.py "$SP2" requests.log &
pids+=("$!")
PB=$(free_port)
ds-agent -k a.key -n b --peers peers.csv --state B -p "$PB" --stun "127.0.0.1:$SP2" 2>b.log &
pids+=("$!")
sleep 50
n=$(wc -l <requests.log)
if [ "$n" -ge 2 ] && [ "$n" -le 3 ]; then
	pass refresh-repeats-within-50s
else
	fail refresh-repeats-within-50s "$n requests"
fi
if awk 'NR>1 { d = $1 - prev; if (d < 19.5 || d > 26.5) bad = 1 } { prev = $1 } END { exit bad }' requests.log; then
	pass refresh-interval-20-to-26s
else
	fail refresh-interval-20-to-26s "$(awk 'NR>1{printf "%.1f ", $1-prev}{prev=$1}' requests.log)"
fi
t_done
