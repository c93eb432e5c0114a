#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-punch across examples/lab/nat-behaviours.topo: one agent with no NAT and one behind
# each NAT behaviour (EIM with endpoint-, address-, address-and-port-dependent filtering,
# EDM with random and with sequential ports, CGNAT double NAT), no relay yet:
# - every direction of every pair that is not endpoint-dependent-random against a
#   port-restricted or endpoint-dependent side gets a path, direct or punched;
# - those that cannot are 'down', with every rung's reason, and never claim a path;
# - the port-restricted x endpoint-dependent-sequential pair is punched 20 times out of
#   20 (both NATs' mappings flushed before each run, directions alternating), and the
#   punched path carries a measurement (ds-pairprobe path 'punch').
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd turnserver conntrack
export DS_LAB_PREFIX=tu$$
export DS_LAB_RUN=$TMP/lab
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$DS_ROOT/examples/lab/nat-behaviours.topo" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail lab-up; t_done; }
run=$TMP/run
mkdir -p "$run"
agents="open a_eif a_adf a_apdf a_rnd a_seq a_dbl"
lab-agents start "$run" "$(ds-lab addr stun v4)" "open=$(ds-lab addr open v4):41878" a_eif a_adf \
	a_apdf a_rnd a_seq a_dbl || { fail agents-start; t_done; }
sleep 2

punch() { # FROM TO [args] -> CSV
	local from=$1 to=$2
	shift 2
	ds-lab exec "$from" -- ds-punch --state "$run/$from" --csv "$@" "$to"
}
res() { # COLUMN < csv: the result row's field
	awk -F, -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$c["rung"] == "result" { print $c[k] }'
}
# Pairs no direct path can join: random ports on one side facing a port-restricted
# (or endpoint-dependent) other side.
unreachable() {
	case "$1:$2" in
	a_rnd:a_apdf | a_apdf:a_rnd | a_rnd:a_dbl | a_dbl:a_rnd | a_rnd:a_seq | a_seq:a_rnd) return 0 ;;
	esac
	return 1
}

bad="" summary="" punched=0
for x in $agents; do
	for y in $agents; do
		[ "$x" = "$y" ] && continue
		punch "$x" "$y" --no-relay >"$TMP/p.csv" 2>"$TMP/p.err"
		rc=$?
		out=$(res outcome <"$TMP/p.csv") path=$(res path <"$TMP/p.csv")
		summary+="$x->$y ${path:-$out}; "
		[ "$path" = punch ] && punched=$((punched + 1))
		if unreachable "$x" "$y"; then
			[ $rc = 1 ] && [ "$out" = down ] && [ -z "$path" ] ||
				bad+="$x->$y: want down, got rc $rc '$out' '$path'; "
			grep -q ',failed,punch,' "$TMP/p.csv" || bad+="$x->$y: no failed punch row; "
		else
			case $path in
			direct | punch) [ $rc = 0 ] || bad+="$x->$y: rc $rc; " ;;
			*) bad+="$x->$y: got '$out' '$path' ($(res detail <"$TMP/p.csv")); " ;;
			esac
		fi
	done
done
echo "ladder: $summary"
echo "$punched directions needed the punch"
[ -z "$bad" ] && pass every-pair-gets-the-path-its-nats-allow || fail every-pair-gets-the-path-its-nats-allow "$bad"

# The port-restricted x sequential pair, punched 20 times: both NATs forget every mapping
# first, so the direct rung cannot reuse the last path.
ok=0 n_punch=0 times=""
for i in $(seq 20); do
	ds-lab nat-flush apdf
	ds-lab nat-flush seq
	if [ $((i % 2)) = 1 ]; then f=a_apdf t=a_seq; else f=a_seq t=a_apdf; fi
	punch "$f" "$t" --no-relay >"$TMP/p.csv" 2>/dev/null
	path=$(res path <"$TMP/p.csv")
	case $path in
	direct | punch) ok=$((ok + 1)) ;;
	*) echo "run $i $f->$t: $(res detail <"$TMP/p.csv")" ;;
	esac
	[ "$path" = punch ] && n_punch=$((n_punch + 1)) && times+="$(res time_to_path_ms <"$TMP/p.csv") "
done
echo "a_apdf <-> a_seq, mappings flushed each time: $ok of 20 found a path, $n_punch by the punch; ms: $times"
[ $ok = 20 ] && pass apdf-seq-path-20-of-20 || fail apdf-seq-path-20-of-20 "$ok of 20"
[ $n_punch -ge 10 ] && pass apdf-seq-punched-after-flush || fail apdf-seq-punched-after-flush "$n_punch of 20 by the punch"

# The punched path carries a measurement, labelled punch.
p=$(ds-lab exec a_apdf -- ds-pairprobe --state "$run/a_apdf" --csv -c 10 -i 5ms --pairs 0 a_seq |
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["path"] "," $c["rtt_ms"] }')
echo "ds-pairprobe a_apdf -> a_seq: path,rtt $p"
[ "${p%%,*}" = punch ] && [ -n "${p#*,}" ] && pass punched-path-measured-as-punch || fail punched-path-measured-as-punch "$p"
t_done
