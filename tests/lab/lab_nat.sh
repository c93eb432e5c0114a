#!/bin/bash
# SPDX-License-Identifier: MIT
# Every NAT behaviour of the lab is what an outside tool says it is: coturn's
# turnutils_natdiscovery (RFC 5780, against the lab's coturn) reports the intended mapping
# and filtering from behind each NAT; sequential NATs count up by one; nat-flush rebinds;
# a double NAT maps through both.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab turnserver turnutils_natdiscovery turnutils_stunclient nft conntrack

export DS_LAB_PREFIX=tn$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/nat-behaviours.topo" || { fail up "ds-lab up nat-behaviours.topo"; t_done; }
stun=$(ds-lab addr stun v4)

discover() { # agent -> "mapping|filtering" words from natdiscovery
	ds-lab exec "$1" -- timeout 20 turnutils_natdiscovery -m -f "$stun" 2>&1 >"$TMP/nd-$1.log" </dev/null |
		cat >>"$TMP/nd-$1.log"
	local m f
	m=$(sed -n 's/^NAT with \(.*\) Mapping!.*/\1/p' "$TMP/nd-$1.log" | head -1)
	f=$(sed -n 's/^NAT with \(.*\) Filtering!.*/\1/p' "$TMP/nd-$1.log" | head -1)
	echo "$m|$f"
}

# natdiscovery's filtering test waits for timeouts; run the agents side by side.
table='open   no-nat      Endpoint Independent|Endpoint Independent
a_eif  eim-eif     Endpoint Independent|Endpoint Independent
a_adf  eim-adf     Endpoint Independent|Address Dependent
a_apdf eim-apdf    Endpoint Independent|Address and Port Dependent
a_rnd  edm-random  Address and Port Dependent|Address and Port Dependent
a_seq  edm-seq     Address and Port Dependent|Address and Port Dependent
a_dbl  double-nat  Endpoint Independent|Address and Port Dependent'
while read -r agent type want; do
	discover "$agent" >"$TMP/got-$agent" &
done <<<"$table"
wait
while read -r agent type want; do
	got=$(cat "$TMP/got-$agent")
	printf '%-7s %-11s mapping: %-27s filtering: %s\n' "$agent" "$type" "${got%|*}" "${got#*|}"
	if [ "$got" = "$want" ]; then pass "natdiscovery-$type"
	else fail "natdiscovery-$type" "got '$got', want '$want'"; sed 's/^/      /' "$TMP/nd-$agent.log" | tail -8; fi
done <<<"$table"

# mapped address:port seen by coturn from AGENT (one binding from a fresh local port)
mapped() {
	ds-lab exec "$1" -- timeout 2 turnutils_stunclient "$stun" 2>/dev/null </dev/null |
		sed -n 's/.*UDP reflexive addr: \([0-9.]*:[0-9]*\).*/\1/p' | head -1
}
# the same from local port PORT (natdiscovery's first binding goes to the primary address)
mapped_from() { # agent port
	ds-lab exec "$1" -- timeout 5 turnutils_natdiscovery -m -L "$(ds-lab addr "$1")" -l "$2" "$stun" 2>/dev/null </dev/null |
		sed -n 's/.*UDP reflexive addr: \([0-9.]*:[0-9]*\).*/\1/p' | head -1
}

# edm-seq: consecutive new flows get consecutive ports
p1=$(mapped a_seq); p2=$(mapped a_seq); p3=$(mapped a_seq)
echo "edm-seq mapped ports: $p1 $p2 $p3"
if [ -n "$p1" ] && [ $((${p2##*:} - ${p1##*:})) -ge 1 ] && [ $((${p2##*:} - ${p1##*:})) -le 3 ] &&
	[ $((${p3##*:} - ${p2##*:})) -ge 1 ] && [ $((${p3##*:} - ${p2##*:})) -le 3 ]; then
	pass edm-seq-ports-count-up
else fail edm-seq-ports-count-up "$p1 $p2 $p3"; fi

# edm-random: ports scatter
r1=$(mapped a_rnd); r2=$(mapped a_rnd)
echo "edm-random mapped ports: $r1 $r2"
if [ -n "$r1" ] && [ -n "$r2" ] && [ "${r1##*:}" != "${r2##*:}" ]; then pass edm-random-ports-differ
else fail edm-random-ports-differ "$r1 $r2"; fi

# double NAT: the agent's public mapping is the CGNAT's public address
d=$(mapped a_dbl)
if [ "${d%:*}" = "$(ds-lab addr cgn v4)" ]; then pass double-nat-maps-through-both
else fail double-nat-maps-through-both "mapped $d"; fi
n=$(ip netns exec "$(ds-lab ns home)" conntrack -L -p udp 2>/dev/null | grep -c "dport=3478")
m=$(ip netns exec "$(ds-lab ns cgn)" conntrack -L -p udp 2>/dev/null | grep -c "dport=3478")
if [ "$n" -ge 1 ] && [ "$m" -ge 1 ]; then pass double-nat-conntrack-in-both-nats
else fail double-nat-conntrack-in-both-nats "home $n, cgn $m entries"; fi

# nat-flush forgets the mappings: the random NAT gives a new port to the same local port
a=$(mapped_from a_rnd 40000)
b=$(mapped_from a_rnd 40000)
ds-lab nat-flush rnd
c=$(mapped_from a_rnd 40000)
echo "edm-random, local port 40000: $a, again $b, after nat-flush $c"
if [ -n "$a" ] && [ "$a" = "$b" ] && [ -n "$c" ] && [ "$c" != "$a" ]; then pass nat-flush-rebinds
else fail nat-flush-rebinds "$a / $b / after flush $c"; fi

# timeout=: an idle mapping expires. A NAT of its own, 3 s: the same local port keeps its
# mapping after 1 s of silence and gets a new one after 5 s.
ds-lab down
cat >"$TMP/timeout.topo" <<'T'
turn  stun v4=203.0.113.10,203.0.113.11
nat   n    type=edm-random v4=203.0.113.50 lan=192.168.1.1/24 timeout=3
agent a    behind=n
T
if ds-lab up "$TMP/timeout.topo"; then
	m1=$(mapped_from a 40000); sleep 1
	m2=$(mapped_from a 40000); sleep 5
	m3=$(mapped_from a 40000)
	echo "timeout=3: $m1, after 1 s idle $m2, after 5 s idle $m3"
	if [ -n "$m1" ] && [ "$m1" = "$m2" ] && [ -n "$m3" ] && [ "$m3" != "$m2" ]; then
		pass nat-timeout-expires-idle-mapping
	else fail nat-timeout-expires-idle-mapping "$m1 / $m2 / $m3"; fi
else
	fail nat-timeout-expires-idle-mapping "ds-lab up timeout.topo"
fi
t_done
