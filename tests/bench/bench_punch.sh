#!/bin/bash
# SPDX-License-Identifier: MIT
# The connect ladder's reliability across every NAT behaviour the lab builds
# (examples/lab/nat-behaviours.topo; every agent holds a TURN allocation): ds-punch RUNS
# times (default 20) for every ordered pair of agents. Before each run of a pair that can
# go direct, both NATs forget every mapping (ds-lab nat-flush), so every run climbs the
# ladder from nothing; relayed pairs keep their NAT state (a flush would also drop the
# allocation's mapping, which only the next refresh restores).
# A table: per direction, how many runs ended on which rung, and the median time to path.
# Goal (issue 5): every pair that is not endpoint-dependent on both sides gets a direct
# or punched path in every run; the others get the relay, labelled relay, in every run.
#
#   tests/bench/bench_punch.sh [RUNS]
set -u
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd turnserver conntrack
RUNS=${1:-20}
export DS_LAB_PREFIX=bp$$ DS_LAB_RUN=$TMP/lab
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/nat-behaviours.topo" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; exit 1; }
run=$TMP/run
stun=$(ds-lab addr stun v4)
LAB_AGENTS_ARGS="--turn $stun:3478 --turn-user ds --turn-pass dspass" \
	lab-agents start "$run" "$stun" "open=$(ds-lab addr open v4):41878" a_eif a_adf a_apdf a_rnd a_seq a_dbl ||
	exit 1
sleep 3
agents="open a_eif a_adf a_apdf a_rnd a_seq a_dbl"
nat_of() { case $1 in open) echo "" ;; a_eif) echo eif ;; a_adf) echo adf ;; a_apdf) echo apdf ;;
	a_rnd) echo rnd ;; a_seq) echo seq ;; a_dbl) echo "cgn home" ;; esac; }
# endpoint-dependent random ports against a port-restricted or endpoint-dependent side
relayed() {
	case "$1:$2" in
	a_rnd:a_apdf | a_apdf:a_rnd | a_rnd:a_dbl | a_dbl:a_rnd | a_rnd:a_seq | a_seq:a_rnd) return 0 ;;
	esac
	return 1
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-16s %5s %5s %5s %6s %5s %5s %5s %10s  %s\n' direction runs lan v6 direct punch relay down median_ms goal
met=1
# the relayed pairs first: the flushes of the other pairs' runs also cut the agents' own
# mappings toward the TURN server, which only a later refresh notices
pairs=()
for pass in relay other; do
	for x in $agents; do
		for y in $agents; do
			[ "$x" = "$y" ] && continue
			if relayed "$x" "$y"; then [ $pass = relay ] && pairs+=("$x $y"); else [ $pass = other ] && pairs+=("$x $y"); fi
		done
	done
done
for xy in "${pairs[@]}"; do
	{
		x=${xy% *} y=${xy#* }
		declare -A cnt=([lan]=0 [v6]=0 [direct]=0 [punch]=0 [relay]=0 [down]=0)
		: >"$TMP/times"
		for _ in $(seq "$RUNS"); do
			if ! relayed "$x" "$y"; then
				for n in $(nat_of "$x") $(nat_of "$y"); do ds-lab nat-flush "$n"; done
			fi
			out=$(ds-lab exec "$x" -- ds-punch --state "$run/$x" --csv "$y" 2>/dev/null |
				awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
					$c["rung"] == "result" { print ($c["path"] != "" ? $c["path"] : "down"), $c["time_to_path_ms"] }')
			p=${out%% *} t=${out#* }
			[ -n "$p" ] || p=down
			cnt[$p]=$((${cnt[$p]:-0} + 1))
			[ "$p" != down ] && echo "$t" >>"$TMP/times"
		done
		if relayed "$x" "$y"; then
			ok=$([ "${cnt[relay]}" = "$RUNS" ] && echo met || echo MISSED)
		else
			ok=$([ $((cnt[direct] + cnt[punch] + cnt[lan] + cnt[v6])) = "$RUNS" ] && echo met || echo MISSED)
		fi
		[ "$ok" = met ] || met=0
		printf '%-16s %5s %5s %5s %6s %5s %5s %5s %10s  %s\n' "$x->$y" "$RUNS" "${cnt[lan]}" "${cnt[v6]}" \
			"${cnt[direct]}" "${cnt[punch]}" "${cnt[relay]}" "${cnt[down]}" "$(median <"$TMP/times")" "$ok"
		unset cnt
	}
done
[ $met = 1 ] && echo "goal: every direction met ($RUNS runs each)" || echo "goal: MISSED (see the rows)"
[ $met = 1 ]
