#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-stun --nat behind every NAT behaviour the lab builds agrees with coturn's own
# turnutils_natdiscovery -m -f; the mapped address is the source address the server
# really sees (captured in the server's namespace); hairpinning is found where the NAT
# does it and not where it does not; IPv6 works through the lab's IPv6 server address.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ds-stun turnserver turnutils_natdiscovery tshark

export DS_LAB_PREFIX=ts$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/nat-behaviours.topo" >"$TMP/up.log" 2>&1 ||
	{ fail lab-up "$(tail -3 "$TMP/up.log")"; t_done; }
stun=$(ds-lab addr stun v4)
stun6=$(ds-lab addr stun v6)

# ds-stun words -> natdiscovery words
nd_word() {
	case $1 in
	endpoint-independent) echo "Endpoint Independent" ;;
	address-dependent) echo "Address Dependent" ;;
	address-and-port-dependent) echo "Address and Port Dependent" ;;
	# natdiscovery binds 0.0.0.0 and cannot see "no NAT": it calls it this
	no-nat) echo "Endpoint Independent" ;;
	*) echo "$1" ;;
	esac
}
natdiscovery() { # agent -> "mapping|filtering"
	ds-lab exec "$1" -- timeout 30 turnutils_natdiscovery -m -f "$stun" >"$TMP/nd-$1.log" 2>&1 </dev/null
	local m f
	m=$(sed -n 's/^NAT with \(.*\) Mapping!.*/\1/p' "$TMP/nd-$1.log" | head -1)
	f=$(sed -n 's/^NAT with \(.*\) Filtering!.*/\1/p' "$TMP/nd-$1.log" | head -1)
	echo "$m|$f"
}
col() { # col CSV NAME
	awk -F, -v n="$2" 'NR==1 { for (i = 1; i <= NF; i++) c[$i] = i; next } NR==2 { print $c[n] }' "$1"
}

agents="open a_eif a_adf a_apdf a_rnd a_seq a_dbl"
declare -A want_map=([open]=no-nat [a_eif]=endpoint-independent [a_adf]=endpoint-independent
	[a_apdf]=endpoint-independent [a_rnd]=address-and-port-dependent
	[a_seq]=address-and-port-dependent [a_dbl]=endpoint-independent)
declare -A want_filt=([open]=endpoint-independent [a_eif]=endpoint-independent
	[a_adf]=address-dependent [a_apdf]=address-and-port-dependent
	[a_rnd]=address-and-port-dependent [a_seq]=address-and-port-dependent
	[a_dbl]=address-and-port-dependent)

# natdiscovery waits for timeouts: all agents side by side, in the background
for a in $agents; do natdiscovery "$a" >"$TMP/nd-$a" & done

# What the server sees: capture requests arriving in the server's namespace.
ns=$(ds-lab ns stun)
ip netns exec "$ns" tshark -i any -f "udp dst port 3478" -w "$TMP/srv.pcapng" -q \
	>"$TMP/tshark.out" 2>&1 &
TSHARK=$!
on_exit "kill $TSHARK 2>/dev/null; wait $TSHARK 2>/dev/null"
for _ in $(seq 100); do grep -q "Capturing on" "$TMP/tshark.out" && break; sleep 0.1; done
sleep 0.3

for a in $agents; do
	ds-lab exec "$a" -- ds-stun -4 --nat --csv "$stun" >"$TMP/ds-$a.csv" 2>"$TMP/ds-$a.err" </dev/null
	echo "$a: $(tail -1 "$TMP/ds-$a.csv")"
done
sleep 0.5
kill -INT $TSHARK 2>/dev/null; wait $TSHARK 2>/dev/null
tshark -r "$TMP/srv.pcapng" -T fields -e ip.src -e udp.srcport 2>/dev/null |
	awk '{ print $1 ":" $2 }' | sort -u >"$TMP/seen"
wait # natdiscovery

for a in $agents; do
	m=$(col "$TMP/ds-$a.csv" mapping) f=$(col "$TMP/ds-$a.csv" filtering)
	nd=$(cat "$TMP/nd-$a")
	printf '%-7s ds-stun: %-27s %-27s natdiscovery: %s\n' "$a" "$m" "$f" "$nd"
	if [ "$m" = "${want_map[$a]}" ] && [ "$f" = "${want_filt[$a]}" ]; then
		pass "$a/ds-stun-finds-the-lab-behaviour"
	else
		fail "$a/ds-stun-finds-the-lab-behaviour" "got $m/$f, lab built ${want_map[$a]}/${want_filt[$a]}"
		sed 's/^/      /' "$TMP/ds-$a.err" | head -5
	fi
	if [ "$(nd_word "$m")|$(nd_word "$f")" = "$nd" ]; then
		pass "$a/agrees-with-turnutils_natdiscovery"
	else
		fail "$a/agrees-with-turnutils_natdiscovery" "ds-stun $m/$f, natdiscovery $nd"
		tail -5 "$TMP/nd-$a.log" | sed 's/^/      /'
	fi
	mapped=$(col "$TMP/ds-$a.csv" mapped)
	if [ -n "$mapped" ] && grep -qxF "$mapped" "$TMP/seen"; then
		pass "$a/mapped-is-what-the-server-sees"
	else
		fail "$a/mapped-is-what-the-server-sees" "mapped '$mapped'; server saw $(tr '\n' ' ' <"$TMP/seen")"
	fi
done

# a NAT's public address, not the agent's private one
case $(col "$TMP/ds-a_eif.csv" mapped) in
"$(ds-lab addr eif v4)":*) pass "nat-mapped-is-public-address" ;;
*) fail "nat-mapped-is-public-address" "$(col "$TMP/ds-a_eif.csv" mapped)" ;;
esac
# double NAT: through both, to the carrier NAT's address
case $(col "$TMP/ds-a_dbl.csv" mapped) in
"$(ds-lab addr cgn v4)":*) pass "double-nat-maps-through-both" ;;
*) fail "double-nat-maps-through-both" "$(col "$TMP/ds-a_dbl.csv" mapped)" ;;
esac

# IPv6 through the lab's IPv6 server address: the open host maps to itself
ds-lab exec open -- ds-stun -6 --nat --csv "$stun6" >"$TMP/v6.csv" 2>"$TMP/v6.err" </dev/null
if [ "$(col "$TMP/v6.csv" family)" = ipv6 ] &&
	[ "$(col "$TMP/v6.csv" mapped)" = "[$(ds-lab addr open v6)]:41878" ] &&
	[ "$(col "$TMP/v6.csv" mapping)" = no-nat ]; then
	pass "ipv6-through-the-lab-server"
else
	fail "ipv6-through-the-lab-server" "$(tail -1 "$TMP/v6.csv") $(head -2 "$TMP/v6.err")"
fi
# both families in one run, from a dual-stack host
ds-lab exec open -- ds-stun --csv "stun:$stun" >"$TMP/both.csv" 2>&1 </dev/null
n4=$(grep -c ',ipv4,' "$TMP/both.csv") n6=$(grep -c ',ipv6,' "$TMP/both.csv")
# a literal IPv4 server has no IPv6 address: one row
[ "$n4" = 1 ] && [ "$n6" = 0 ] && pass "literal-v4-server-one-family" ||
	fail "literal-v4-server-one-family" "$(cat "$TMP/both.csv")"

# --count: the edm-random NAT keeps one mapping per flow, a flush makes a new one
ds-lab exec a_rnd -- ds-stun -4 --count 3 --interval 50ms --csv "$stun" >"$TMP/cnt.csv" 2>&1 </dev/null
[ "$(tail -n +2 "$TMP/cnt.csv" | awk -F, '{print $10}' | sort -u)" = no ] &&
	pass "count-stable-mapping-not-flagged" || fail "count-stable-mapping-not-flagged" "$(cat "$TMP/cnt.csv")"
ds-lab exec a_rnd -- ds-stun -4 --count 4 --interval 700ms --csv "$stun" >"$TMP/chg.csv" 2>&1 </dev/null &
CNT=$!
sleep 1
ds-lab nat-flush rnd >/dev/null 2>&1
wait $CNT
if tail -n +2 "$TMP/chg.csv" | awk -F, '{print $10}' | grep -qx yes; then
	pass "count-flags-a-changed-mapping"
else
	fail "count-flags-a-changed-mapping" "$(cat "$TMP/chg.csv")"
fi
# Warm path behind a NAT: ds-stun --state borrows the agent's socket, so the mapping it
# reports is the agent's own (the agent's port, translated by the eim-apdf NAT): the very
# address the agent's own STUN refresh learnt (ds-agent --status srflx_ipv4).
if command -v ds-agent >/dev/null && command -v ds-key >/dev/null; then
	(cd "$TMP" && ds-key genkey >w.key && ds-key genkey >p.key && chmod 600 w.key p.key &&
		printf 'name,pubkey,endpoint\np,%s,\n' "$(ds-key pubkey <p.key)" >w.peers)
	ds-lab exec a_apdf -- ds-agent -k "$TMP/w.key" -n w --peers "$TMP/w.peers" \
		--state "$TMP/W" -p 41999 --stun "$stun" </dev/null 2>"$TMP/w.log" &
	WAGENT=$!
	on_exit "kill $WAGENT 2>/dev/null"
	wsrflx() { ds-agent --status --state "$TMP/W" 2>/dev/null | awk '$1 == "srflx_ipv4" { print $2 }'; }
	for _ in $(seq 50); do [ -S "$TMP/W/agent.sock" ] && [ "$(wsrflx)" != - ] && break; sleep 0.1; done
	ds-lab exec a_apdf -- ds-stun -4 --state "$TMP/W" --nat --csv "$stun" >"$TMP/warm.csv" 2>"$TMP/warm.err" </dev/null
	got="$(col "$TMP/warm.csv" local) $(col "$TMP/warm.csv" mapping) $(col "$TMP/warm.csv" filtering)"
	want="$(ds-lab addr a_apdf):41999 endpoint-independent address-and-port-dependent"
	[ "$got" = "$want" ] && ! grep -q "cold path" "$TMP/warm.err" && pass "warm-path-behind-nat" ||
		fail "warm-path-behind-nat" "got '$got', want '$want': $(cat "$TMP/warm.err")"
	case $(col "$TMP/warm.csv" mapped) in
	"$(ds-lab addr apdf v4)":*) pass "warm-mapped-is-the-nats-public-address" ;;
	*) fail "warm-mapped-is-the-nats-public-address" "$(col "$TMP/warm.csv" mapped)" ;;
	esac
	[ "$(col "$TMP/warm.csv" mapped)" = "$(wsrflx)" ] && pass "warm-mapped-is-the-agents-own-mapping" ||
		fail "warm-mapped-is-the-agents-own-mapping" "ds-stun $(col "$TMP/warm.csv" mapped), agent $(wsrflx)"
	kill $WAGENT 2>/dev/null; wait $WAGENT 2>/dev/null
else
	skip "warm-path-behind-nat" "no ds-agent/ds-key built"
fi
ds-lab down >/dev/null 2>&1

# Hairpinning: the hairpin topology has one NAT that hairpins and one that does not.
export DS_LAB_PREFIX=th$$
ds-lab up "$DS_ROOT/examples/lab/hairpin.topo" >"$TMP/up2.log" 2>&1 ||
	{ fail lab-up-hairpin "$(tail -3 "$TMP/up2.log")"; t_done; }
stun=$(ds-lab addr stun v4)
for pair in "h1 yes" "n1 no"; do
	set -- $pair
	ds-lab exec "$1" -- ds-stun -4 --nat --csv "$stun" >"$TMP/hp-$1.csv" 2>&1 </dev/null
	got=$(col "$TMP/hp-$1.csv" hairpin)
	[ "$got" = "$2" ] && pass "hairpin-$2-behind-$1" || fail "hairpin-$2-behind-$1" "got '$got': $(tail -1 "$TMP/hp-$1.csv")"
done
# IPv6 behind a stateful firewall: no NAT, and the firewall drops unsolicited answers
ds-lab exec in6 -- ds-stun -6 --nat --csv "$(ds-lab addr stun v6)" >"$TMP/fw6.csv" 2>&1 </dev/null
got="$(col "$TMP/fw6.csv" family) $(col "$TMP/fw6.csv" mapping)"
[ "$got" = "ipv6 no-nat" ] && pass "ipv6-behind-firewall-no-nat" || fail "ipv6-behind-firewall-no-nat" "$(cat "$TMP/fw6.csv")"
t_done
