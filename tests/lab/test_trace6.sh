#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-trace6 across the lab's chain of six routers: silent hops shown as silent, the others
# answering with the same addresses traceroute(8) finds, IPv6 too; a hop that rate-limits
# ICMP answers only part of a burst; reverse DNS through ldns from a resolver in the lab.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd traceroute python3
export DS_LAB_PREFIX=tt$$
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/routers.topo" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail lab-up; t_done; }

far4=$(ds-lab addr far v4)
far6=$(ds-lab addr far v6)

# First, before other probes spend r3's tokens: r3 rate-limits ICMP (a burst of 6, then
# 1 per second); 10 probes at once get only part answered, while r1 answers all 10.
answered=$(ds-lab exec near -- ds-trace6 -n -w 400ms --probes 10 -f 4 -m 4 --csv "$far4" | awk -F, 'NR==2{print $10}')
if [ -n "$answered" ] && [ "$answered" -ge 1 ] && [ "$answered" -lt 10 ]; then
	pass rate-limited-hop-answers-part-of-a-burst
else
	fail rate-limited-hop-answers-part-of-a-burst "answered=$answered of 10"
fi
unlimited=$(ds-lab exec near -- ds-trace6 -n -w 400ms --probes 10 -f 2 -m 2 --csv "$far4" | awk -F, 'NR==2{print $10}')
[ "$unlimited" = 10 ] && pass other-hops-answer-every-probe || fail other-hops-answer-every-probe "answered=$unlimited"

sleep 3 # let r3's bucket refill for the traces below

# Hop list as "hop addr-or-*" lines.
ours() { ds-lab exec near -- ds-trace6 -n -w 400ms --csv "$@" | awk -F, 'NR>1 {print $4, ($5==""?"*":$5), $8}'; }
theirs() { ds-lab exec near -- traceroute -n -w 0.4 -q 1 "$@" | awk 'NR>1 {print $1, $2}'; }

ours "$far4" >"$TMP/ours4"
theirs "$far4" >"$TMP/theirs4"
if diff <(awk '{print $1, $2}' "$TMP/ours4") "$TMP/theirs4" >"$TMP/diff4"; then
	pass ipv4-hops-match-traceroute
else
	fail ipv4-hops-match-traceroute "$(tr '\n' '|' <"$TMP/diff4")"
fi
if [ "$(awk '$3=="silent"{printf "%s ", $1}' "$TMP/ours4")" = "3 5 " ] &&
	[ "$(tail -1 "$TMP/ours4")" = "8 $far4 destination" ] &&
	[ "$(awk '$3=="time-exceeded"' "$TMP/ours4" | wc -l)" -eq 5 ]; then
	pass ipv4-silent-hops-and-destination
else
	fail ipv4-silent-hops-and-destination "$(tr '\n' '|' <"$TMP/ours4")"
fi

ours "$far6" >"$TMP/ours6"
theirs -6 "$far6" >"$TMP/theirs6" 2>/dev/null || theirs "$far6" >"$TMP/theirs6"
if diff <(awk '{print $1, $2}' "$TMP/ours6") "$TMP/theirs6" >"$TMP/diff6" &&
	[ "$(awk '$3=="silent"{printf "%s ", $1}' "$TMP/ours6")" = "3 5 " ]; then
	pass ipv6-hops-match-traceroute
else
	fail ipv6-hops-match-traceroute "$(tr '\n' '|' <"$TMP/ours6") vs $(tr '\n' '|' <"$TMP/theirs6")"
fi

# Same five-tuple for every probe: from the given warm port to the peer's port.
ds-lab exec far -- tshark -q -n -i any -f "udp and dst port 41878" -T fields -e udp.srcport \
	-e udp.dstport -a duration:6 >"$TMP/cap" 2>/dev/null &
capture=$!
sleep 2
ds-lab exec near -- ds-trace6 -n -w 300ms -p 41999 --csv "$far4" >"$TMP/warm.csv"
wait $capture
if grep -q ",destination," "$TMP/warm.csv" && [ "$(sort -u "$TMP/cap")" = "$(printf '41999\t41878')" ]; then
	pass probes-keep-the-warm-five-tuple
else
	fail probes-keep-the-warm-five-tuple "captured: $(sort -u "$TMP/cap" | tr '\n\t' '| ')"
fi

# Reverse DNS through ldns, from a resolver inside the lab node.
r1=$(ds-lab addr r1 v4)
ds-lab exec near -- python3 "$DS_ROOT/tests/helpers/ptr-server.py" "$r1=r1.lab.example" \
	"203.0.113.1=wan.lab.example" >"$TMP/ptr.log" 2>&1 &
on_exit "kill $! 2>/dev/null"
echo "nameserver 127.0.0.1" >"$TMP/resolv.conf"
sleep 0.5
ds-lab exec near -- ds-trace6 --resolv-conf "$TMP/resolv.conf" -w 300ms -m 3 --csv "$far4" >"$TMP/rdns.csv"
if awk -F, 'NR==2 && $11=="wan.lab.example" {ok++} NR==3 && $11=="r1.lab.example" {ok++} END {exit ok!=2}' "$TMP/rdns.csv"; then
	pass reverse-dns-names-hops
else
	fail reverse-dns-names-hops "$(tr '\n' '|' <"$TMP/rdns.csv") $(cat "$TMP/ptr.log")"
fi
t_done
