#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-pairprobe against iperf3, ping and irtt on the same lab links, side by side:
#   bandwidth  ds-link links at 2, 10, 50, 200 Mbit/s and 50/10 asymmetric: median error of
#              RUNS runs per direction against the link's serialization rate (IP bytes, as
#              ds-link counts them), bytes per run; iperf3 (TCP, 3 s) on the same link:
#              its figure and its bytes; the headline is bytes(iperf3) / bytes(ds-pairprobe)
#   shaper     tbf 20 Mbit/s with a 32 kB bucket each way: pairs alone, then --train 44
#   rtt        delay 0, 20, 80 ms each way: median RTT of ds-pairprobe vs ping vs irtt
#   loss       1 % and 5 % on left -> wan only, 1000 echoes
#   owd        5 ms / 40 ms each way, 2 ms jitter on right -> left only
# Usage: tests/bench/bench_pairprobe.sh [bw|shaper|rtt|loss|owd ...]   (default: all)
# Env: RUNS (default 7). Prints a table; exit 0 unless the lab could not be built.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ds-agent ds-key ds-pairprobe iperf3 ping
RUNS=${RUNS:-7}
sections=${*:-bw shaper rtt loss owd}

export DS_LAB_PREFIX=bp$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/pairprobe.topo" || { echo "ds-lab up failed"; exit 1; }
L=$(ds-lab addr left v4) R=$(ds-lab addr right v4)
cd "$TMP" || exit 1
for n in left right; do ds-key genkey >"$n.key" && chmod 600 "$n.key"; done
cat >peers.csv <<EOT
name,pubkey,endpoint
left,$(ds-key pubkey <left.key),$L:41878
right,$(ds-key pubkey <right.key),$R:41878
EOT
pids=()
for n in left right; do
	mkdir -p "st-$n"
	ds-lab exec $n -- ds-agent -k $n.key -n $n --peers peers.csv --state "st-$n" 2>"$n.log" &
	pids+=($!)
done
on_exit 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null'
for _ in $(seq 100); do
	ds-agent --status --state st-left 2>/dev/null | grep -q '^peer right established yes' && break
	sleep 0.1
done

probe() { ds-lab exec left -- ds-pairprobe --state st-left "$@" right; }
col() { awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print ""; exit } print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
link() { # fwd_spec rev_spec: key=value lists for left->wan and right->wan
	ds-lab set left wan rate=0 delay=0 jitter=0 loss=0 shaper=ds-link >/dev/null 2>&1
	ds-lab set right wan rate=0 delay=0 jitter=0 loss=0 shaper=ds-link >/dev/null 2>&1
	[ -z "$1" ] || ds-lab set left wan $1 >/dev/null
	[ -z "$2" ] || ds-lab set right wan $2 >/dev/null
	sleep 0.3
}
iperf() { # from to -> "mbps bytes" (receiver's figure, sender's bytes)
	local from=$1 to=$2 addr
	addr=$(ds-lab addr "$to" v4)
	ds-lab exec "$to" -- iperf3 -s -1 -D --logfile "$TMP/iperf-s.log"
	for _ in $(seq 50); do ds-lab exec "$to" -- ss -Hltn 'sport = :5201' | grep -q . && break; sleep 0.1; done
	ds-lab exec "$from" -- iperf3 -c "$addr" -t 3 -J >"$TMP/iperf.json" 2>/dev/null
	python3 - "$TMP/iperf.json" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    e = j["end"]
    print("%.2f %d" % (e["sum_received"]["bits_per_second"] / 1e6, e["sum_sent"]["bytes"]))
except Exception:
    print("- -")
EOF
}
pct() { awk -v x="$1" -v t="$2" 'BEGIN { if (x == "") print "-"; else printf "%+.1f", 100 * (x - t) / t }'; }

if [[ " $sections " == *" bw "* ]]; then
	echo "== bandwidth: ds-link, $RUNS runs of the standard test (10 echoes, 5 pairs each way) =="
	printf '%-10s %-4s %9s %8s %8s %7s %9s %9s %8s %9s %8s\n' link dir "true" median err "conv" "lower" bytes/run iperf3 "err" "ratio"
	for spec in 2:2 10:10 50:50 200:200 50:10; do
		f=${spec%:*} r=${spec#*:}
		link "rate=${f}mbit" "rate=${r}mbit"
		probe --csv >/dev/null 2>&1 # warm up (ARP, the path)
		: >runs.csv
		for i in $(seq "$RUNS"); do probe --csv | { [ -s runs.csv ] && tail -1 || cat; } >>runs.csv; done
		bytes=$(col bytes <runs.csv | median)
		read -r ipf ipf_bytes <<<"$(iperf left right)"
		read -r ipr ipr_bytes <<<"$(iperf right left)"
		for d in fwd rev; do
			t=$f; [ $d = rev ] && t=$r
			m=$(col bw_${d}_mbps <runs.csv | grep . | median)
			conv=$(col bw_${d}_converged <runs.csv | grep -c yes)
			lb=$(col bw_${d}_lower_bound_mbps <runs.csv | grep -c .)
			ip=$ipf ib=$ipf_bytes; [ $d = rev ] && ip=$ipr ib=$ipr_bytes
			ratio=$(awk -v a="$ib" -v b="$bytes" 'BEGIN { if (a == "-" || b == "") print "-"; else printf "%.0f", a / b }')
			printf '%-10s %-4s %9s %8s %8s %7s %9s %9s %8s %9s %8s\n' "$f/$r" $d "$t" "${m:--}" "$(pct "$m" "$t")" \
				"$conv/$RUNS" "$lb/$RUNS" "$bytes" "$ip" "$(pct "$ip" "$t")" "$ratio"
		done
	done
fi

if [[ " $sections " == *" shaper "* ]]; then
	echo "== token bucket: tbf rate=20mbit burst=32k each way =="
	link "rate=20mbit shaper=tbf burst=32k" "rate=20mbit shaper=tbf burst=32k"
	probe --csv >/dev/null 2>&1
	for args in "" "--train 44"; do
		sleep 0.5 # a full bucket, as after a mesh cycle's pause
		probe --csv $args >run.csv
		printf '%-12s fwd %s Mbit/s (pairs %s, train %s, shaper %s, burst %s B)  rev %s Mbit/s (pairs %s, train %s, shaper %s, burst %s B)  bytes %s\n' \
			"${args:-pairs only}" "$(col bw_fwd_mbps <run.csv)" "$(col bw_fwd_pair_mbps <run.csv)" \
			"$(col bw_fwd_train_mbps <run.csv)" "$(col shaper_fwd <run.csv)" "$(col shaper_fwd_burst_bytes <run.csv)" \
			"$(col bw_rev_mbps <run.csv)" "$(col bw_rev_pair_mbps <run.csv)" "$(col bw_rev_train_mbps <run.csv)" \
			"$(col shaper_rev <run.csv)" "$(col shaper_rev_burst_bytes <run.csv)" "$(col bytes <run.csv)"
	done
	read -r ipf ipf_bytes <<<"$(iperf left right)"
	echo "iperf3 left->right through the tbf: $ipf Mbit/s, $ipf_bytes bytes"
fi

if [[ " $sections " == *" rtt "* ]]; then
	echo "== RTT: median of 200 echoes 10 ms apart; ds-pairprobe vs ping vs irtt =="
	have_irtt=0
	if command -v irtt >/dev/null; then
		ds-lab exec right -- irtt server -b "$R:2112" >/dev/null 2>&1 &
		pids+=($!)
		have_irtt=1
		sleep 0.3
	fi
	for d in 0 20 80; do
		link "delay=${d}ms" "delay=${d}ms"
		ds-lab exec left -- ping -c 3 -i 0.1 -q "$R" >/dev/null 2>&1
		ds=$(probe --csv -c 200 -i 10ms --pairs 0 | col rtt_ms)
		ds-lab exec left -- ping -n -c 200 -i 0.01 "$R" >ping.out
		# ping prints whole milliseconds from 100 ms on: then its summary's average
		pg=$(sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' ping.out | median)
		[[ $pg == *.* ]] || pg=$(sed -n 's|^rtt min/avg/max/mdev = [0-9.]*/\([0-9.]*\)/.*|\1|p' ping.out)
		ir=-
		if [ $have_irtt = 1 ]; then
			ir=$(ds-lab exec left -- irtt client -Q -i 10ms -d 2s -o - "$R:2112" 2>/dev/null |
				python3 -c 'import json,sys; j=json.load(sys.stdin); print("%.3f" % (j["stats"]["rtt"]["median"] / 1e6))' 2>/dev/null || echo -)
		fi
		printf 'delay %3s ms each way: ds-pairprobe %s ms  ping %s ms  |ds-ping| %s ms  irtt %s ms  irtt-ping %s ms\n' "$d" "$ds" "$pg" \
			"$(awk -v a="$ds" -v b="$pg" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.3f", d }')" "$ir" \
			"$(awk -v a="$ir" -v b="$pg" 'BEGIN { if (a == "-") print "-"; else printf "%+.3f", a - b }')"
	done
fi

if [[ " $sections " == *" loss "* ]]; then
	echo "== loss on left -> right only, 1000 echoes 2 ms apart (Binomial(1000, p) bounds: 1 %: 1-22, 5 %: 23-77) =="
	for l in 1 5; do
		link "loss=${l}%" ""
		probe --csv -c 1000 -i 2ms --pairs 0 >run.csv
		printf 'loss %s%% fwd: loss_fwd %s %%  loss_rev %s %%  (echoes %s, replies %s)\n' "$l" \
			"$(col loss_fwd_pct <run.csv)" "$(col loss_rev_pct <run.csv)" "$(col echoes <run.csv)" "$(col replies <run.csv)"
		link "" "loss=${l}%"
		probe --csv -c 1000 -i 2ms --pairs 0 >run.csv
		printf 'loss %s%% rev: loss_fwd %s %%  loss_rev %s %%\n' "$l" "$(col loss_fwd_pct <run.csv)" "$(col loss_rev_pct <run.csv)"
	done
fi

if [[ " $sections " == *" owd "* ]]; then
	echo "== one-way delay: 5 ms left->right, 40 ms right->left with 2 ms jitter; 200 echoes =="
	link "delay=5ms" "delay=40ms jitter=2ms"
	probe --csv -c 200 -i 10ms --pairs 0 --clock-synced >run.csv
	for c in rtt_ms owd_fwd_ms owd_rev_ms owd_var_fwd_ms owd_var_rev_ms jitter_fwd_ms jitter_rev_ms; do
		printf '%s=%s ' $c "$(col $c <run.csv)"
	done
	echo
fi
exit 0
