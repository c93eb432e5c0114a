#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-stun vs coturn's own clients on the same path: an agent behind an eim-apdf NAT of the
# lab, to the lab's coturn (on loopback when the lab cannot be built).
#
#   1. time to answer: one Binding, whole process (start to exit, the answer printed),
#      ds-stun vs turnutils_stunclient, alternating, median of RUNS (default 31) each;
#      goal ratio ds-stun / turnutils_stunclient <= 1.0. The server for this is a plain
#      (single-address) coturn so that turnutils_stunclient, which adds RFC 5780 change
#      requests when it sees OTHER-ADDRESS, also does exactly one exchange.
#   2. full NAT discovery: ds-stun --nat vs turnutils_natdiscovery -m -f, wall time,
#      requests and round trips (goal: at most 4 RTTs plus the filtering tests' wait).
#
#   tests/bench/bench_stun.sh [RUNS]
set -u
. "$(dirname "$0")/../lib.sh"
need_cmd ds-stun turnserver turnutils_stunclient turnutils_natdiscovery
RUNS=${1:-31}

if [ "$(id -u)" -eq 0 ] && command -v ds-lab >/dev/null; then
	mode=lab
	export DS_LAB_PREFIX=bs$$ DS_LAB_RUN=$TMP/run
	on_exit "ds-lab down >/dev/null 2>&1"
	cat >"$TMP/bench.topo" <<-EOF
	wan   v4=203.0.113.1
	turn  stun  v4=203.0.113.10,203.0.113.11
	nat   gw    type=eim-apdf v4=203.0.113.30 lan=192.168.30.1/24
	agent a     behind=gw
	EOF
	ds-lab up "$TMP/bench.topo" >"$TMP/up.log" 2>&1 || { echo "ds-lab up failed"; cat "$TMP/up.log"; exit 1; }
	server=$(ds-lab addr stun v4)
	PLAIN=3490
	# a plain STUN server next to the lab's RFC 5780 one, same namespace, same path
	ds-lab exec stun -- turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $PLAIN \
		-L "$server" --log-file "$TMP/plain.log" --simple-log --pidfile "$TMP/plain.pid" \
		>/dev/null 2>&1 &
	on_exit "kill \$(cat $TMP/plain.pid 2>/dev/null) 2>/dev/null"
	in_path() { ds-lab exec a -- "$@"; }
	NATPORT=3478
	path="agent behind eim-apdf NAT -> lab coturn $server"
else
	mode=loopback
	P=$((20000 + RANDOM % 20000 * 2)) PLAIN=$((P + 4)) NATPORT=$P server=127.0.0.1
	turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $P -L 127.0.0.1 -L 127.0.0.2 \
		--log-file "$TMP/c1.log" --simple-log --pidfile "$TMP/c1.pid" >/dev/null 2>&1 &
	C1=$!
	turnserver -n --stun-only --no-cli --no-tls --no-dtls -p $PLAIN -L 127.0.0.1 \
		--log-file "$TMP/c2.log" --simple-log --pidfile "$TMP/c2.pid" >/dev/null 2>&1 &
	C2=$!
	on_exit "kill $C1 $C2 2>/dev/null; wait $C1 $C2 2>/dev/null"
	in_path() { "$@"; }
	path="loopback coturn (no root or no ds-lab)"
fi
for _ in $(seq 50); do
	in_path ds-stun -q -4 -p 0 --rto 50ms --rc 1 --rm 2 "$server:$PLAIN" >/dev/null 2>&1 && break
	sleep 0.1
done

# One loop inside the path's namespace, alternating the tools, timing each with
# $EPOCHREALTIME: "tool microseconds exit-status" per line.
in_path bash -c '
	for i in $(seq '"$RUNS"'); do
		s=$EPOCHREALTIME; ds-stun -q -4 -p 0 '"$server:$PLAIN"' >/dev/null 2>&1; rc=$?; e=$EPOCHREALTIME
		echo "ds-stun $(( (${e/./} - ${s/./}) )) $rc"
		s=$EPOCHREALTIME; turnutils_stunclient -p '"$PLAIN $server"' >/tmp/.bs.$$ 2>&1; rc=$?; e=$EPOCHREALTIME
		grep -q "UDP reflexive addr" /tmp/.bs.$$ || rc=1
		echo "turnutils_stunclient $(( (${e/./} - ${s/./}) )) $rc"
	done; rm -f /tmp/.bs.$$' </dev/null >"$TMP/times"
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ds_med=$(awk '$1 == "ds-stun" && $3 == 0 { print $2 }' "$TMP/times" | median)
tu_med=$(awk '$1 == "turnutils_stunclient" && $3 == 0 { print $2 }' "$TMP/times" | median)
ds_ok=$(awk '$1 == "ds-stun" && $3 == 0' "$TMP/times" | wc -l)
tu_ok=$(awk '$1 == "turnutils_stunclient" && $3 == 0' "$TMP/times" | wc -l)
ratio=$(awk -v a="$ds_med" -v b="$tu_med" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')

# RTT as ds-stun measures it on the same path (median of RUNS requests)
in_path ds-stun -4 -p 0 --count "$RUNS" --interval 20ms --csv "$server:$PLAIN" >"$TMP/rtt.csv" 2>/dev/null </dev/null
rtt_med=$(tail -1 "$TMP/rtt.csv" | awk -F, '{ print $14 }')

# Full NAT discovery, both tools, against the RFC 5780 server
s=$(date +%s%N)
in_path ds-stun -v -4 -p 0 --nat --csv "$server:$NATPORT" >"$TMP/nat.csv" 2>"$TMP/nat.err" </dev/null
ds_nat_ms=$(( ($(date +%s%N) - s) / 1000000 ))
s=$(date +%s%N)
in_path turnutils_natdiscovery -m -f -p "$NATPORT" "$server" >"$TMP/nd.out" 2>&1 </dev/null
tu_nat_ms=$(( ($(date +%s%N) - s) / 1000000 ))
rounds=$(sed -n 's/.*: \([0-9]*\) round trips.*/\1/p' "$TMP/nat.err")
requests=$(sed -n 's/.*round trips, \([0-9]*\) requests.*/\1/p' "$TMP/nat.err")
tu_requests=$(grep -c "^RFC 5780 response" "$TMP/nd.out")
nat_cols=$(tail -1 "$TMP/nat.csv" | awk -F, '{ print $17 "/" $18 }')
nd_m=$(sed -n 's/^NAT with \(.*\) Mapping!.*/\1/p' "$TMP/nd.out" | head -1)
nd_f=$(sed -n 's/^NAT with \(.*\) Filtering!.*/\1/p' "$TMP/nd.out" | head -1)

echo "path: $path; $RUNS runs each; $(nproc) cores"
echo
printf '| %-44s | %-22s | %-28s | %-6s |\n' "measure" "ds-stun" "coturn client" "ratio"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------------------" \
	"------------------------------" "--------"
printf '| %-44s | %-22s | %-28s | %-6s |\n' "Binding, time to answer (median, process)" \
	"$(awk -v v="$ds_med" 'BEGIN { printf "%.2f ms", v / 1000 }')" \
	"$(awk -v v="$tu_med" 'BEGIN { printf "%.2f ms", v / 1000 }') (stunclient)" "$ratio"
printf '| %-44s | %-22s | %-28s | %-6s |\n' "Binding runs answered" "$ds_ok/$RUNS" "$tu_ok/$RUNS" ""
printf '| %-44s | %-22s | %-28s | %-6s |\n' "Binding RTT on the wire (ds-stun, median)" "$rtt_med ms" "-" ""
printf '| %-44s | %-22s | %-28s | %-6s |\n' "NAT discovery wall time" "$ds_nat_ms ms" "$tu_nat_ms ms (natdiscovery)" \
	"$(awk -v a=$ds_nat_ms -v b=$tu_nat_ms 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
printf '| %-44s | %-22s | %-28s | %-6s |\n' "NAT discovery round trips (+ filtering wait)" "${rounds:-?} (+ 1 s wait)" "sequential" ""
printf '| %-44s | %-22s | %-28s | %-6s |\n' "NAT discovery requests sent" "${requests:-?}" "$tu_requests answers printed" ""
printf '| %-44s | %-22s | %-28s | %-6s |\n' "NAT verdict (mapping/filtering)" "$nat_cols" "$nd_m/$nd_f" ""
echo
awk -v r="$ratio" -v n="${rounds:-99}" 'BEGIN {
	ok = (r != "n/a" && r + 0 <= 1.0 && n + 0 <= 4)
	printf "goal: ratio <= 1.0 and <= 4 round trips: %s\n", ok ? "met" : "NOT met"
	exit !ok }'
