#!/bin/bash
# SPDX-License-Identifier: MIT
# The router chain: traceroute (IPv4 and IPv6) shows the silent hops as "*" and every other
# hop answering from its own address; the rate-limited hop answers a burst of probes only
# in part, while a normal hop answers them all.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab traceroute

export DS_LAB_PREFIX=tr$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/routers.topo" || { fail up "ds-lab up routers.topo"; t_done; }

for fam in 4 6; do
	far=$(ds-lab addr far "v$fam")
	ds-lab exec near -- traceroute -"$fam" -n -q 1 -w 1 -N 1 "$far" >"$TMP/tr$fam" 2>&1
	sed 's/^/    /' "$TMP/tr$fam"
	# hop: wan r1 r2 r3 r4 r5 r6 far; answering hop N shows the address its parent LAN knows
	want=("" "$(ds-lab addr wan "v$fam")" "$(ds-lab addr r1 "v$fam")" "*" "$(ds-lab addr r3 "v$fam")"
		"*" "$(ds-lab addr r5 "v$fam")" "$(ds-lab addr r6 "v$fam")" "$far")
	bad=""
	for h in 1 2 3 4 5 6 7 8; do
		got=$(awk -v h="$h" '$1 == h { print $2 }' "$TMP/tr$fam")
		[ "$got" = "${want[$h]}" ] || bad="$bad hop$h=${got:-none}(want ${want[$h]})"
	done
	if [ -z "$bad" ]; then pass "traceroute-v$fam-silent-hops-star-others-answer"
	else fail "traceroute-v$fam-silent-hops-star-others-answer" "$bad"; fi
done

# 10 probes at once to one hop: r3 (icmp-ratelimit=1000) lets the kernel's burst through and
# no more; r5 (no limit) answers all 10.
answers() { # ttl
	ds-lab exec near -- traceroute -n -q 10 -N 10 -w 1 -f "$1" -m "$1" "$(ds-lab addr far)" 2>/dev/null |
		awk '$1 ~ /^[0-9]+$/ { n = 0; for (i = 2; i <= NF; i++) if ($i == "ms") n++; print n }'
}
r3=$(answers 4)
r5=$(answers 6)
echo "answers to 10 probes at once: r3 (rate-limited) $r3, r5 $r5"
if [ "${r3:-0}" -ge 1 ] && [ "${r3:-0}" -lt 10 ]; then pass ratelimited-hop-answers-part-of-a-burst
else fail ratelimited-hop-answers-part-of-a-burst "r3 answered ${r3:-0} of 10"; fi
if [ "${r5:-0}" -eq 10 ]; then pass normal-hop-answers-every-probe
else fail normal-hop-answers-every-probe "r5 answered ${r5:-0} of 10"; fi
t_done
