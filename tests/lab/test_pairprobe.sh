#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-pairprobe across the lab (examples/lab/pairprobe.topo: left -- wan -- right, both
# directions' links queued in wan), against what the links were set to be:
# - bandwidth per direction within 5 % of the ds-link rate at 10 Mbit/s each way and on a
#   50/10 asymmetric link (median of 3 standard runs), each run under 30 kB;
# - a tbf 20 Mbit/s shaper with a 32 kB bucket: pairs alone leave the shaper columns "not
#   tested", and --train 44 finds the shaper in each direction and reports its rate;
# - RTT with 20 ms each way within 0.1 ms of ping's median;
# - 5 % loss on one direction only: reported there, within binomial bounds over 1000
#   echoes, and ~0 on the other;
# - jitter on one direction only: the one-way delay variation shows on that direction only.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ds-agent ds-key ds-pairprobe ping
command -v ds-link >/dev/null || { echo "needs bin/ds-link (make)"; exit 77; }

export DS_LAB_PREFIX=tp$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/pairprobe.topo" || { fail up "ds-lab up pairprobe.topo"; t_done; }
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
ok=0
for _ in $(seq 100); do
	ds-agent --status --state st-left 2>/dev/null | grep -q '^peer right established yes' && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass agents-establish || { fail agents-establish "$(cat left.log right.log | tail -5)"; t_done; }

probe() { ds-lab exec left -- ds-pairprobe --state st-left "$@" right; }
col() { awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print ""; exit } print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x + 0 >= lo && x + 0 <= hi) }'; }
link() {
	ds-lab set left wan rate=0 delay=0 jitter=0 loss=0 shaper=ds-link >/dev/null 2>&1
	ds-lab set right wan rate=0 delay=0 jitter=0 loss=0 shaper=ds-link >/dev/null 2>&1
	[ -z "$1" ] || ds-lab set left wan $1 >/dev/null || fail "set-$1"
	[ -z "$2" ] || ds-lab set right wan $2 >/dev/null || fail "set-$2"
	sleep 0.3
}
runs() { # N args... -> runs.csv with header
	local i
	probe --csv "${@:2}" >runs.csv
	for i in $(seq 2 "$1"); do probe --csv --no-header "${@:2}" >>runs.csv; done
}

# ---- bandwidth ----
for spec in 10:10 50:10; do
	f=${spec%:*} r=${spec#*:}
	link "rate=${f}mbit" "rate=${r}mbit"
	probe --csv >/dev/null 2>&1
	runs 3
	for d in fwd rev; do
		t=$f; [ $d = rev ] && t=$r
		m=$(col bw_${d}_mbps <runs.csv | grep . | median)
		echo "link $f/$r Mbit/s, $d: median $m Mbit/s of $(col bw_${d}_mbps <runs.csv | tr '\n' ' ')"
		within "$m" "$(awk -v t=$t 'BEGIN{print t*0.95}')" "$(awk -v t=$t 'BEGIN{print t*1.05}')" &&
			pass "bw-$f-$r-$d-within-5pct" || fail "bw-$f-$r-$d-within-5pct" "median ${m:-none} of $t"
	done
	b=$(col bytes <runs.csv | sort -n | tail -1)
	[ "$b" -le 30000 ] && pass "bw-$f-$r-run-under-30kB" || fail "bw-$f-$r-run-under-30kB" "$b bytes"
done

# ---- token bucket ----
link "rate=20mbit shaper=tbf burst=32k" "rate=20mbit shaper=tbf burst=32k"
probe --csv >/dev/null 2>&1
sleep 0.5
probe --csv >run.csv
# Pairs alone cannot see a bucket larger than themselves: the shaper columns then say "not
# tested" (empty), never "no".
[ -z "$(col shaper_fwd <run.csv)$(col shaper_rev <run.csv)" ] && pass tbf-pairs-alone-shaper-untested-not-no ||
	fail tbf-pairs-alone-shaper-untested-not-no "$(tail -1 run.csv)"
sleep 0.5
probe --csv --train 44 >run.csv
for d in fwd rev; do
	sh=$(col shaper_${d} <run.csv) bw=$(col bw_${d}_mbps <run.csv) tr=$(col bw_${d}_train_mbps <run.csv)
	echo "tbf 20 Mbit/s, 32 kB, $d: shaper $sh, bw $bw, train $tr, burst $(col shaper_${d}_burst_bytes <run.csv) B"
	[ "$sh" = yes ] && pass "tbf-train-finds-shaper-$d" || fail "tbf-train-finds-shaper-$d" "$(tail -1 run.csv)"
	within "$bw" 18 22 && pass "tbf-train-reports-shaper-rate-$d" || fail "tbf-train-reports-shaper-rate-$d" "bw $bw"
done

# ---- RTT against ping ----
link "delay=20ms" "delay=20ms"
ds-lab exec left -- ping -c 3 -i 0.1 -q "$R" >/dev/null 2>&1
ds=$(probe --csv -c 100 -i 10ms --pairs 0 | col rtt_ms)
pg=$(ds-lab exec left -- ping -n -c 100 -i 0.01 "$R" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | median)
echo "RTT 20 ms each way: ds-pairprobe $ds ms, ping $pg ms"
# ping prints 40.1: three digits, so allow its rounding on top of the 0.1 ms
awk -v a="$ds" -v b="$pg" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 0.15) }' &&
	pass rtt-20ms-matches-ping || fail rtt-20ms-matches-ping "ds $ds ping $pg"
within "$ds" 39.8 40.6 && pass rtt-20ms-each-way-is-40ms || fail rtt-20ms-each-way-is-40ms "$ds"

# ---- loss on one direction ----
# 1000 echoes, 5 %: Binomial(1000, 0.05) lost, mean 50, sd 6.9: 2.3 %..7.7 % is +-3.9 sd.
link "loss=5%" ""
probe --csv -c 1000 -i 2ms --pairs 0 >run.csv
lf=$(col loss_fwd_pct <run.csv) lr=$(col loss_rev_pct <run.csv)
echo "5 % loss left->right: loss_fwd $lf %, loss_rev $lr %"
within "$lf" 2.3 7.7 && pass loss-5pct-fwd-reported-fwd || fail loss-5pct-fwd-reported-fwd "fwd $lf"
within "$lr" 0 0.3 && pass loss-5pct-fwd-rev-clean || fail loss-5pct-fwd-rev-clean "rev $lr"
link "" "loss=5%"
probe --csv -c 1000 -i 2ms --pairs 0 >run.csv
lf=$(col loss_fwd_pct <run.csv) lr=$(col loss_rev_pct <run.csv)
echo "5 % loss right->left: loss_fwd $lf %, loss_rev $lr %"
within "$lr" 2.3 7.7 && pass loss-5pct-rev-reported-rev || fail loss-5pct-rev-reported-rev "rev $lr"
within "$lf" 0 0.3 && pass loss-5pct-rev-fwd-clean || fail loss-5pct-rev-fwd-clean "fwd $lf"

# ---- delay variation on one direction ----
link "delay=5ms" "delay=40ms jitter=2ms"
probe --csv -c 200 -i 10ms --pairs 0 --clock-synced >run.csv
vf=$(col owd_var_fwd_ms <run.csv) vr=$(col owd_var_rev_ms <run.csv)
of=$(col owd_fwd_ms <run.csv) orv=$(col owd_rev_ms <run.csv)
echo "5 ms / 40 ms +-2 ms: owd_var fwd $vf rev $vr ms, owd fwd $of rev $orv ms"
within "$vr" 1.5 4.5 && pass owd-var-jittery-direction || fail owd-var-jittery-direction "rev $vr"
within "$vf" 0 0.5 && pass owd-var-quiet-direction || fail owd-var-quiet-direction "fwd $vf"
within "$of" 4.9 5.5 && within "$orv" 39 41 && pass owd-clock-synced-per-direction ||
	fail owd-clock-synced-per-direction "fwd $of rev $orv"
t_done
