#!/bin/bash
# SPDX-License-Identifier: MIT
# examples/lab/six.topo, the six-agent mesh: it comes up in under 15 s, every agent reaches
# the lab's coturn (IPv4, and IPv6 where it has IPv6), the office NAT hairpins, and the
# IPv6 firewall in front of the office keeps the public server out.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab turnserver turnutils_stunclient turnutils_natdiscovery
command -v ds-link >/dev/null || { echo "needs bin/ds-link (make): six.topo has impaired links"; exit 77; }

export DS_LAB_PREFIX=ts$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
t0=$(date +%s.%N)
ds-lab up "$DS_ROOT/examples/lab/six.topo" || { fail up "ds-lab up six.topo"; t_done; }
secs=$(echo "$(date +%s.%N) - $t0" | bc)
echo "up six.topo: $secs s"
if [ "$(echo "$secs < 15" | bc)" -eq 1 ]; then pass up-six-under-15s; else fail up-six-under-15s "$secs s"; fi

stun4=$(ds-lab addr stun v4) stun6=$(ds-lab addr stun v6)
reflexive() { # agent server
	ds-lab exec "$1" -- timeout 2 turnutils_stunclient "$2" 2>/dev/null </dev/null |
		sed -n 's/.*UDP reflexive addr: \(.*\)$/\1/p' | head -1
}
# the public address each agent should be seen from
declare -A pub4=([a1]=office [a2]=office [a3]=home1 [a4]=home2 [a5]=cgn [a6]=a6)
# turnutils_stunclient waits out its timeout after the answer: ask all at once
for a in a1 a2 a3 a4 a5 a6; do
	reflexive "$a" "$stun4" >"$TMP/r4-$a" &
	! ds-lab addr "$a" v6 >/dev/null 2>&1 || reflexive "$a" "$stun6" >"$TMP/r6-$a" &
done
wait
for a in a1 a2 a3 a4 a5 a6; do
	r=$(cat "$TMP/r4-$a")
	echo "$a: IPv4 reflexive $r"
	if [ "${r%:*}" = "$(ds-lab addr "${pub4[$a]}" v4)" ]; then pass "$a-reaches-coturn-v4"
	else fail "$a-reaches-coturn-v4" "reflexive '$r', want $(ds-lab addr "${pub4[$a]}" v4):port"; fi
	if v6=$(ds-lab addr "$a" v6 2>/dev/null); then
		r=$(cat "$TMP/r6-$a")
		echo "$a: IPv6 reflexive $r"
		if [ "${r%:*}" = "$v6" ]; then pass "$a-reaches-coturn-v6-unNATed"
		else fail "$a-reaches-coturn-v6-unNATed" "reflexive '$r', want $v6:port"; fi
	fi
done

# the office NAT hairpins (a1 and a2 share it); a5 sits behind two NATs, the outer one
# endpoint-dependent. natdiscovery waits for timeouts: run both at once.
ds-lab exec a1 -- timeout 15 turnutils_natdiscovery -H "$stun4" >"$TMP/H" 2>&1 &
ds-lab exec a5 -- timeout 15 turnutils_natdiscovery -m "$stun4" >"$TMP/M" 2>&1 &
wait
grep -q 'successful hairpinning' "$TMP/H" && pass office-nat-hairpins || fail office-nat-hairpins
grep -q 'NAT with Address and Port Dependent Mapping' "$TMP/M" && pass a5-behind-edm-cgnat ||
	fail a5-behind-edm-cgnat "$(grep 'NAT with' "$TMP/M")"
# IPv6: a1 reaches the public a6; a6 cannot reach a1 unsolicited
if ds-lab exec a1 -- ping -6 -c 1 -W 2 -q "$(ds-lab addr a6 v6)" >/dev/null; then pass a1-v6-out-passes
else fail a1-v6-out-passes; fi
if ds-lab exec a6 -- ping -6 -c 1 -W 1 -q "$(ds-lab addr a1 v6)" >/dev/null 2>&1; then fail a6-v6-in-dropped
else pass a6-v6-in-dropped; fi
# TURN allocations and relayed traffic (turnutils_uclient, from behind the full-cone home):
# long-term credentials on 3478, REST shared-secret credentials on 3480, wrong ones refused.
uclient() { # name args...
	local n=$1
	shift
	ds-lab exec a3 -- timeout 20 turnutils_uclient -y -n 2 -m 1 "$@" "$stun4" >"$TMP/uc-$n" 2>&1
	echo $? >"$TMP/uc-$n.rc"
}
uclient lt -u ds -w dspass &
uclient lt-bad -u ds -w wrong &
uclient rest -p 3480 -W dslabsecret -u alice &
uclient rest-bad -p 3480 -W wrongsecret -u alice &
wait
for n in lt rest; do
	if [ "$(cat "$TMP/uc-$n.rc")" = 0 ] && grep -q 'Total lost packets 0' "$TMP/uc-$n"; then
		pass "turn-$n-credentials-relay"
	else fail "turn-$n-credentials-relay" "$(tail -2 "$TMP/uc-$n" | tr '\n' ' ')"; fi
	if [ "$(cat "$TMP/uc-$n-bad.rc")" != 0 ]; then pass "turn-$n-wrong-credentials-refused"
	else fail "turn-$n-wrong-credentials-refused"; fi
done

# impairing a LAN link at run time, each way: office -> a1 is queued in the office NAT's
# POSTROUTING (a1 is an end host), a1 -> office in the NAT's PREROUTING (by a1's MAC);
# a2, on the same LAN, is not affected.
rtt() { ds-lab exec "$1" -- ping -n -c 5 -i 0.05 -q "$2" | awk -F/ '/^rtt/ { print $5 }'; }
ds-lab set office a1 delay=10ms && ds-lab set a1 office delay=5ms || fail set-lan-link "ds-lab set failed"
gw=192.168.10.1
r1=$(rtt a1 "$gw") r2=$(rtt a2 "$gw")
r16=$(rtt a1 2001:db8:10::1)
echo "RTT to the office gateway with 10 ms down and 5 ms up on a1's link: a1 $r1 ms (IPv6 $r16 ms), a2 $r2 ms"
if awk -v a="$r1" -v b="$r16" -v c="$r2" 'BEGIN { exit !(a >= 15 && a < 16.5 && b >= 15 && b < 16.5 && c < 1) }'; then
	pass lan-link-impaired-each-way-neighbour-untouched
else fail lan-link-impaired-each-way-neighbour-untouched "a1 $r1 / $r16 ms, a2 $r2 ms"; fi

# a3 is IPv4-only
if ds-lab addr a3 v6 >/dev/null 2>&1; then fail a3-ipv4-only; else pass a3-ipv4-only; fi
t_done
