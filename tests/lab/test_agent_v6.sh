#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-agent over IPv6 (examples/lab/six.topo): a1 (office LAN) and a4 (home LAN), each
# behind a stateful IPv6 firewall that drops whatever is unsolicited from outside, find
# each other through the rendezvous directory with IPv6 only (-6), establish through both
# firewalls and answer echoes over IPv6, as does the public dual-stack a6. a3 sits in an
# IPv4-only home and runs with both families like any agent: it reads everyone's IPv6
# candidates and is given an IPv6 STUN server, and still never sends an IPv6 packet (an
# nftables counter on its output), while it reaches a6 over IPv4.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ds-agent ds-key turnserver nft cc

export DS_LAB_PREFIX=a6$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/six.topo" >"$TMP/up.log" 2>&1 ||
	{ fail lab-up "$(tail -3 "$TMP/up.log")"; t_done; }
cd "$TMP" || exit 1
cc -std=gnu11 -D_GNU_SOURCE -O1 -iquote "$DS_ROOT/libds" "$DS_ROOT/tests/helpers/ds-ctlecho.c" \
	"$DS_ROOT/build/libds.a" -lcrypto -lcsv -lm -o ds-ctlecho || exit 1
stun4=$(ds-lab addr stun v4) stun6=$(ds-lab addr stun v6)
agents="a1 a3 a4 a6"
echo "name,pubkey,endpoint" >peers.csv
for n in $agents; do
	ds-key genkey >$n.key && chmod 600 $n.key
	echo "$n,$(ds-key pubkey <$n.key)," >>peers.csv
done
mkdir -p rdv

# Every IPv6 UDP packet a3 sends (none may leave: it has no IPv6 beyond link-local).
ip netns exec "$(ds-lab ns a3)" nft -f - <<'EOF' || { fail a3-counter "nft"; t_done; }
table ip6 dstest_v6out {
	chain out {
		type filter hook output priority 0; policy accept;
		meta l4proto udp counter
	}
}
EOF
v6_sent_by_a3() {
	ip netns exec "$(ds-lab ns a3)" nft list chain ip6 dstest_v6out out |
		awk '/counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

pids=()
on_exit 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null'
start() { # NAME FAMILY-OPTION STUN...
	local n=$1 fam=$2 s args=()
	shift 2
	for s in "$@"; do args+=(--stun "$s"); done
	ip netns exec "$(ds-lab ns $n)" "$DS_ROOT/bin/ds-agent" -k $n.key -n $n --peers peers.csv \
		--state $n.st --rendezvous rdv $fam "${args[@]}" 2>$n.log &
	pids+=("$!")
}
# ... even with an IPv6 default route but no address beyond link-local (a router
# advertisement without a prefix): the kernel would send from fe80::, only the agent
# keeps from it.
ip netns exec "$(ds-lab ns a3)" ip -6 route add default dev eth0 || { fail a3-route6; t_done; }
start a1 -6 "$stun6"
start a4 -6 "$stun6"
start a6 "" "$stun4" "$stun6"
start a3 "" "$stun4" "[$stun6]"
status() { ds-agent --status --state "$1.st" 2>/dev/null; }
established() { status "$1" | grep -q "^peer $2 established yes"; }
# The confirmed path of a family from the agent's last-known-good paths (paths.csv).
path6() { awk -F, -v p="$2" '$1 == p && $2 ~ /^\[/ { print $2 }' "$1.st/paths.csv" 2>/dev/null; }

t0=$(date +%s)
ok=0
for _ in $(seq 60); do
	established a1 a4 && established a4 a1 && [ -n "$(path6 a1 a4)" ] && [ -n "$(path6 a4 a1)" ] &&
		established a3 a6 && established a6 a3 && { ok=1; break; }
	sleep 0.5
done
echo "    a1, a4, a3-a6 established after $(( $(date +%s) - t0 )) s"
a1v6=$(ds-lab addr a1 v6) a4v6=$(ds-lab addr a4 v6) a6v6=$(ds-lab addr a6 v6)
if [ $ok -eq 1 ] && [ "$(path6 a1 a4)" = "[$a4v6]:41878" ] && [ "$(path6 a4 a1)" = "[$a1v6]:41878" ]; then
	pass established-over-ipv6-through-two-stateful-firewalls
else
	fail established-over-ipv6-through-two-stateful-firewalls \
		"$(status a1 | grep '^peer'; status a4 | grep '^peer'; cat a1.st/paths.csv a4.st/paths.csv rdv/cand-a4.csv 2>&1)"
fi
echo_over() { # FROM TO ADDR: 5 echoes to ADDR, every reply from ADDR
	./ds-ctlecho --state "$1.st" --peer "$2" --dst "$3" -c 5 -i 20 >echo-$1-$2.out 2>&1 &&
		[[ $(cat echo-$1-$2.out) == *"replies 5 "*" from $3" ]]
}
for pair in "a1 a4 [$a4v6]:41878" "a4 a1 [$a1v6]:41878" "a1 a6 [$a6v6]:41878" "a6 a4 [$a4v6]:41878"; do
	set -- $pair
	if echo_over "$1" "$2" "$3"; then pass "echo-$1-to-$2-over-ipv6"; else
		fail "echo-$1-to-$2-over-ipv6" "$(cat echo-$1-$2.out)"; fi
done
check echo-a3-to-a6-over-ipv4 echo_over a3 a6 "$(ds-lab addr a6 v4):41878"

# a3 knows everyone's IPv6 candidates and has an IPv6 STUN server, and sends nothing there.
grep -q '\[' rdv/cand-a1.csv && pass others-publish-ipv6-candidates ||
	fail others-publish-ipv6-candidates "$(cat rdv/cand-a1.csv)"
sleep 2 # a keepalive round of a3's toward the others' candidates
n6=$(v6_sent_by_a3)
[ "$n6" = 0 ] && pass ipv4-only-agent-sends-no-ipv6 || fail ipv4-only-agent-sends-no-ipv6 "$n6 IPv6 UDP packets"
if ! grep -q '\[' rdv/cand-a3.csv && status a3 | grep -q '^srflx_ipv6 -$'; then
	pass ipv4-only-agent-publishes-no-ipv6
else
	fail ipv4-only-agent-publishes-no-ipv6 "$(cat rdv/cand-a3.csv; status a3 | grep srflx)"
fi
t_done
