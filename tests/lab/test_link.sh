#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-link emulates a link precisely enough for the lab, proven with outside tools:
# ping RTT through 20 ms each way, packet-pair spacing at 10 Mbit/s (kernel receive
# timestamps), iperf3 throughput at 10 Mbit/s, SIGHUP parameter changes, SIGTERM releasing
# held packets. Its own three namespaces, sender A - router R - receiver B, the queues on R's
# ingress: a forwarding hop, so B's kernel timestamps are taken after the emulated link (a
# host stamps a packet before its own PREROUTING queue; see ds-link(1), ACCURACY).
#
# DS_LINK_PAIRS=N pairs per rate (default 40); DS_LINK_BIN=path tests another binary.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ip iptables ip6tables ping iperf3 python3
DSLINK=${DS_LINK_BIN:-$DS_ROOT/bin/ds-link}
[ -x "$DSLINK" ] || { echo "needs bin/ds-link (make)"; exit 77; }
PAIRS=${DS_LINK_PAIRS:-40}

S=$$
A=dsl${S}a R=dsl${S}r B=dsl${S}b
on_exit "ip netns del $A 2>/dev/null; ip netns del $R 2>/dev/null; ip netns del $B 2>/dev/null"
ip netns add "$A" && ip netns add "$R" && ip netns add "$B" || { fail setup "ip netns add"; t_done; }
setup() {
	ip link add "dl${S}a" netns "$A" type veth peer name "dl${S}ra" netns "$R" &&
		ip link add "dl${S}b" netns "$B" type veth peer name "dl${S}rb" netns "$R" &&
		ip -n "$A" addr add 10.1.0.1/24 dev "dl${S}a" &&
		ip -n "$A" addr add fd00:1::1/64 dev "dl${S}a" nodad &&
		ip -n "$R" addr add 10.1.0.2/24 dev "dl${S}ra" &&
		ip -n "$R" addr add fd00:1::2/64 dev "dl${S}ra" nodad &&
		ip -n "$R" addr add 10.2.0.2/24 dev "dl${S}rb" &&
		ip -n "$R" addr add fd00:2::2/64 dev "dl${S}rb" nodad &&
		ip -n "$B" addr add 10.2.0.1/24 dev "dl${S}b" &&
		ip -n "$B" addr add fd00:2::1/64 dev "dl${S}b" nodad || return 1
	local n
	for n in "$A" "$R" "$B"; do ip -n "$n" link set lo up || return 1; done
	ip -n "$A" link set "dl${S}a" up && ip -n "$B" link set "dl${S}b" up &&
		ip -n "$R" link set "dl${S}ra" up && ip -n "$R" link set "dl${S}rb" up &&
		ip -n "$A" route add default via 10.1.0.2 &&
		ip -n "$A" route add default via fd00:1::2 &&
		ip -n "$B" route add default via 10.2.0.2 &&
		ip -n "$B" route add default via fd00:2::2 &&
		ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		return 1
	# A -> B queues on R's side facing A (queue 1), B -> A on the side facing B (queue 2).
	local t
	for t in iptables ip6tables; do
		ip netns exec "$R" "$t" -w -t raw -A PREROUTING -i "dl${S}ra" -j NFQUEUE --queue-num 1 &&
			ip netns exec "$R" "$t" -w -t raw -A PREROUTING -i "dl${S}rb" -j NFQUEUE --queue-num 2 ||
			return 1
	done
}
setup || { fail setup "building the namespaces"; t_done; }

# start_link QUEUE PARAMS...: ds-link in R reading $TMP/qQUEUE.params; sets LINK_PID[QUEUE].
declare -A LINK_PID
start_link() {
	local q=$1 i
	shift
	printf '%s\n' "$@" >"$TMP/q$q.params"
	ip netns exec "$R" "$DSLINK" -Q "$q" --params "$TMP/q$q.params" --pidfile "$TMP/q$q.pid" \
		-v >"$TMP/q$q.log" 2>&1 &
	LINK_PID[$q]=$!
	on_exit "kill ${LINK_PID[$q]} 2>/dev/null; wait ${LINK_PID[$q]} 2>/dev/null"
	for ((i = 0; i < 50; i++)); do
		[ -s "$TMP/q$q.pid" ] && return 0
		kill -0 "${LINK_PID[$q]}" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/      /' "$TMP/q$q.log"
	return 1
}
# set_link QUEUE PARAMS...: new params file and SIGHUP.
set_link() {
	local q=$1
	shift
	printf '%s\n' "$@" >"$TMP/q$q.params"
	kill -HUP "${LINK_PID[$q]}"
	sleep 0.2
}

# median of the numbers on stdin
median() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# within VALUE LOW HIGH
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ping_median NS ADDR COUNT: median RTT in ms of the replies
ping_median() {
	ip netns exec "$1" ping -n -q -c "$3" -i 0.02 -W 2 "$2" >/dev/null 2>&1 # neighbours, warm-up
	ip netns exec "$1" ping -n -c "$3" -i 0.02 -W 2 "$2" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | median
}

if start_link 1 "delay 20ms" && start_link 2 "delay 20ms"; then
	pass start-two-links
else
	fail start-two-links "ds-link did not bind its queue"
	t_done
fi

rtt=$(ping_median "$A" 10.2.0.1 50)
echo "      ping IPv4 median RTT ${rtt} ms (20 ms each way)"
if within "$rtt" 39.5 40.5; then pass ping-ipv4-rtt-40ms-with-20ms-each-way; else
	fail ping-ipv4-rtt-40ms-with-20ms-each-way "median ${rtt} ms"; fi
rtt6=$(ping_median "$A" fd00:2::1 30)
echo "      ping IPv6 median RTT ${rtt6} ms"
if within "$rtt6" 39.5 40.5; then pass ping-ipv6-rtt-40ms-with-20ms-each-way; else
	fail ping-ipv6-rtt-40ms-with-20ms-each-way "median ${rtt6} ms"; fi

set_link 1 "delay 50ms"
rtt=$(ping_median "$A" 10.2.0.1 30)
echo "      after SIGHUP (50 ms A->B, 20 ms B->A): median RTT ${rtt} ms"
if within "$rtt" 69.5 70.5; then pass sighup-new-delay-takes-effect; else
	fail sighup-new-delay-takes-effect "median ${rtt} ms, want 70"; fi

# Jitter 5 ms on A->B: RTT spreads uniformly over 40 +- 5 ms (sd 5/sqrt(3) = 2.9 ms), and
# replies come back in order even at a ping every 5 ms.
set_link 1 "delay 20ms" "jitter 5ms"
ip netns exec "$A" ping -n -c 200 -i 0.005 -W 2 10.2.0.1 >"$TMP/ping.jitter" 2>&1
# min: nothing leaves early; p98 rather than max, which a busy machine can stretch
sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$TMP/ping.jitter" | sort -g >"$TMP/rtt.jitter"
read -r jmin jp98 jsd < <(awk '{ v[NR] = $1; s += $1; ss += $1 * $1 }
	END { if (NR) print v[1], v[int(NR * 0.98)], sqrt(ss / NR - (s / NR) ^ 2) }' "$TMP/rtt.jitter")
jreord=$(sed -n 's/.*icmp_seq=\([0-9]*\) .*/\1/p' "$TMP/ping.jitter" |
	awk 'NR > 1 && $1 < last { r++ } { last = $1 } END { print r + 0 }')
echo "      jitter 5 ms: RTT min ${jmin} p98 ${jp98} sd ${jsd} ms, ${jreord} replies out of order"
if within "${jmin:-0}" 34.8 37 && within "${jp98:-0}" 43 45.5 && within "${jsd:-0}" 2.3 3.5 &&
	[ "${jreord:-1}" -eq 0 ]; then
	pass jitter-spreads-delay-uniformly-without-reordering
else
	fail jitter-spreads-delay-uniformly-without-reordering "$(tail -1 "$TMP/ping.jitter")"
fi

# Packet pairs: two back-to-back datagrams of IP length 1200, receive spacing from the
# kernel's receive timestamps (SO_TIMESTAMPNS), one gap per line in microseconds.
cat >"$TMP/pairs.py" <<'EOF'
import socket, struct, sys, time
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if mode == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind(("0.0.0.0", port))
    s.settimeout(float(sys.argv[4]))
    got = {}
    print("ready", file=sys.stderr, flush=True)
    try:
        while sum(1 for v in got.values() if len(v) == 2) < n:
            data, anc, _, _ = s.recvmsg(2048, 256)
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", d[:16])
                    i, j = struct.unpack("!II", data[:8])
                    got.setdefault(i, {})[j] = sec * 10**9 + nsec
    except socket.timeout:
        pass
    for i in sorted(got):
        if len(got[i]) == 2:
            print("%.2f" % ((got[i][1] - got[i][0]) / 1e3))
else:
    host, iplen, interval = sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"x" * (iplen - 28 - 8)
    for i in range(n):
        s.sendto(struct.pack("!II", i, 0) + pad, (host, port))
        s.sendto(struct.pack("!II", i, 1) + pad, (host, port))
        time.sleep(interval)
EOF
# pairs NAME RATE WANT_US TOLERANCE_PCT [report]: PAIRS pairs across the link at RATE; the
# median gap must be within the tolerance, or with "report" is only reported (the pairs
# must still arrive).
pairs() {
	local name=$1 rate=$2 want=$3 tol=$4 report=${5:-} i gaps med stats off
	set_link 1 "rate $rate"
	ip netns exec "$B" python3 "$TMP/pairs.py" recv 9000 "$PAIRS" 10 >"$TMP/gaps" 2>"$TMP/recv.err" &
	local rpid=$!
	for ((i = 0; i < 50; i++)); do grep -qs ready "$TMP/recv.err" && break; sleep 0.05; done
	ip netns exec "$A" python3 "$TMP/pairs.py" send 9000 "$PAIRS" 10.2.0.1 1200 \
		"$(awk -v w="$want" 'BEGIN { printf "%.3f", w * 4 / 1e6 + 0.015 }')"
	wait "$rpid"
	gaps=$(wc -l <"$TMP/gaps")
	med=$(median <"$TMP/gaps")
	stats=$(sort -g "$TMP/gaps" | awk -v w="$want" -v t="$tol" '
		{ v[NR] = $1; if ($1 >= w * (1 - t / 100) && $1 <= w * (1 + t / 100)) ok++ }
		END { if (NR) printf "p10 %s p90 %s us, %d of %d within %s%%",
			v[int(NR / 10) + 1], v[int(NR * 9 / 10)], ok, NR, t }')
	off=$(awk -v m="$med" -v w="$want" 'BEGIN { printf "%+.2f%%", (m - w) * 100 / w }')
	echo "      $rate: ${gaps} pairs, median gap ${med} us (want ${want}, ${off}), $stats"
	if [ "$gaps" -ge $((PAIRS * 9 / 10)) ] && [ -n "$report" ]; then
		pass "$name"
	elif [ "$gaps" -ge $((PAIRS * 9 / 10)) ] &&
		within "$med" "$(awk -v w="$want" -v t="$tol" 'BEGIN { print w * (1 - t / 100) }')" \
			"$(awk -v w="$want" -v t="$tol" 'BEGIN { print w * (1 + t / 100) }')"; then
		pass "$name"
	else
		fail "$name" "median gap ${med} us from ${gaps} pairs, want ${want} ±${tol}%"
	fi
}
set_link 2 "delay 0"
pairs packet-pairs-10mbit-spaced-960us-within-3pct 10mbit 960 3
pairs packet-pairs-2mbit-spaced-4800us-within-3pct 2mbit 4800 3
# At 50 Mbit/s the gap (192 us) is within reach of the verdict path's and the scheduler's
# noise on a small shared machine: measured and reported, not held to a bound.
pairs packet-pairs-50mbit-arrive-accuracy-reported 50mbit 192 3 report

# iperf3 across 10 Mbit/s (A -> B; ACKs back unshaped), default queue limit.
set_link 1 "rate 10mbit" "delay 5ms"
set_link 2 "delay 5ms"
ip netns exec "$B" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
ipid=$!
on_exit "kill $ipid 2>/dev/null"
sleep 0.3
if timeout 20 ip netns exec "$A" iperf3 -c 10.2.0.1 -p 5201 -t 5 -J >"$TMP/iperf.json" 2>/dev/null
then
	mbps=$(python3 -c 'import json, sys
print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' \
		"$TMP/iperf.json")
	echo "      iperf3 at 10 Mbit/s: ${mbps} Mbit/s received"
	if within "$mbps" 9 10.5; then pass iperf3-10mbit-gives-9-to-10.5; else
		fail iperf3-10mbit-gives-9-to-10.5 "${mbps} Mbit/s"; fi
else
	fail iperf3-10mbit-gives-9-to-10.5 "iperf3 failed"
fi
kill "$ipid" 2>/dev/null
wait "$ipid" 2>/dev/null

if kill -0 "${LINK_PID[1]}" 2>/dev/null && kill -0 "${LINK_PID[2]}" 2>/dev/null; then
	pass links-ran-through-every-case
else
	fail links-ran-through-every-case "a ds-link exited"
	sed 's/^/      /' "$TMP/q1.log" "$TMP/q2.log" | tail -20
fi

# SIGTERM with a packet held: it is released, ds-link exits 0.
set_link 1 "delay 600ms"
ip netns exec "$A" ping -n -c 1 -W 3 10.2.0.1 >"$TMP/ping.out" 2>&1 &
ppid=$!
sleep 0.2
kill -TERM "${LINK_PID[1]}"
wait "${LINK_PID[1]}"
rc=$?
if wait "$ppid" && [ "$rc" -eq 0 ]; then pass sigterm-releases-held-packets-exit-0; else
	fail sigterm-releases-held-packets-exit-0 "ds-link exit $rc, ping: $(tail -1 "$TMP/ping.out")"; fi
kill -TERM "${LINK_PID[2]}"
wait "${LINK_PID[2]}" 2>/dev/null
grep -h "queue [12]:" "$TMP/q1.log" "$TMP/q2.log" | sed 's/^/      /'
t_done
