#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-pairprobe between two agents on loopback: the SPEC's CSV row with sane figures, bytes
# that the responder's own audit log agrees with and that stay under 30 kB, the EWMA carried
# across runs in the state directory (replaced, not appended), --raw rows one per packet,
# the usage errors, and a clean exit 1 for no agent, an unknown peer, a peer whose agent is
# down, and a peer that refuses (mesh off); a responder that answers twice, late, out of
# order, with forged times, counts or bodies (tests/helpers/ds-badpeer) has every such answer
# counted and none in a figure.
. "$(dirname "$0")/../lib.sh"
need_cmd ds-agent ds-key ds-pairprobe python3 cc
H=$TMP/helpers
mkdir -p "$H"
cc -std=gnu11 -D_GNU_SOURCE -O1 -iquote "$DS_ROOT/libds" "$DS_ROOT/tests/helpers/ds-badpeer.c" \
	"$DS_ROOT/build/libds.a" -lcrypto -lcsv -lm -o "$H/ds-badpeer" || { echo "cannot build ds-badpeer"; exit 1; }

cd "$TMP" || exit 1
for n in a b bad; do
	ds-key genkey >"$n.key" && chmod 600 "$n.key"
	eval "PUB_$n=\$(ds-key pubkey <$n.key)"
done
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
while [ "$PB" = "$PA" ]; do PB=$(free_port); done
PC=$(free_port)
while [ "$PC" = "$PA" ] || [ "$PC" = "$PB" ]; do PC=$(free_port); done
cat >peers.csv <<EOT
name,pubkey,endpoint
a,$PUB_a,127.0.0.1:$PA
b,$PUB_b,127.0.0.1:$PB
bad,$PUB_bad,127.0.0.1:$PC
EOT

pids=()
start_agent() { # name port state [extra...]
	local n=$1 p=$2 s=$3; shift 3
	ds-agent -k "$n.key" -n "$n" --peers peers.csv --state "$s" -p "$p" "$@" 2>"$s.log" &
	eval "PID_$n=$!"
	pids+=("$!")
	for _ in $(seq 50); do [ -S "$s/agent.sock" ] && return 0; sleep 0.1; done
	return 1
}
on_exit 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; sleep 0.2; for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done'
# column N of a CSV row by header name
col() { # file name
	awk -F, -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }' "$1"
}
num_between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x + 0 >= lo && x + 0 <= hi) }'; }

# ---- usage ----
expect_exit 2 usage-needs-state ds-pairprobe b
expect_exit 2 usage-needs-peer ds-pairprobe --state A
expect_exit 2 usage-bad-peer-name ds-pairprobe --state A 'b/../x'
expect_exit 2 usage-count-and-duration-exclusive ds-pairprobe --state A -c 5 -d 1s b
expect_exit 2 usage-train-of-one ds-pairprobe --state A --train 1 b
expect_exit 2 usage-dscp-range ds-pairprobe --state A --dscp 64 b
expect_exit 2 usage-size-below-echo ds-pairprobe --state A --size 40 b
expect_exit 2 usage-pairs-range ds-pairprobe --state A --pairs 33 b
grep -q "ds-pairprobe" "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
	pass usage-error-one-line-naming-the-tool || fail usage-error-one-line-naming-the-tool "$(cat "$TMP/err")"
expect_exit 1 no-agent-is-exit-1 ds-pairprobe --state nowhere b
grep -q 'no agent at nowhere' "$TMP/err" && pass no-agent-says-so || fail no-agent-says-so "$(cat "$TMP/err")"

check agent-a-starts start_agent a "$PA" A
check agent-b-starts start_agent b "$PB" B
for _ in $(seq 60); do ds-agent --status --state A | grep -q '^peer b established yes' && break; sleep 0.1; done

# ---- one run, CSV ----
expect_exit 0 csv-run ds-pairprobe --state A --csv b
cp "$TMP/out" run1.csv
hdr=$(head -1 run1.csv)
want="ts,tool,run_id,src,dst,path,rtt_ms,rtt_min_ms,rtt_ewma_ms,jitter_ms,loss_fwd_pct,loss_rev_pct,bw_fwd_mbps,bw_rev_mbps,bytes"
[ "${hdr#"$want"}" != "$hdr" ] && pass csv-header-starts-with-spec-columns || fail csv-header-starts-with-spec-columns "$hdr"
[ "$(wc -l <run1.csv)" -eq 2 ] && pass csv-one-row || fail csv-one-row "$(wc -l <run1.csv) lines"
[ "$(awk -F, 'NR==1{print NF}' run1.csv)" = "$(awk -F, 'NR==2{print NF}' run1.csv)" ] &&
	pass csv-row-as-wide-as-header || fail csv-row-as-wide-as-header
[ "$(col run1.csv tool)" = ds-pairprobe ] && [ "$(col run1.csv src)" = a ] && [ "$(col run1.csv dst)" = b ] &&
	pass csv-tool-src-dst || fail csv-tool-src-dst "$(tail -1 run1.csv)"
col run1.csv ts | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' &&
	pass csv-ts-iso8601-ms || fail csv-ts-iso8601-ms "$(col run1.csv ts)"
col run1.csv run_id | grep -Eq '^[0-9a-f]{8}$' && pass csv-run-id-hex || fail csv-run-id-hex "$(col run1.csv run_id)"
[ "$(col run1.csv path)" = lan ] && pass csv-path-loopback-is-lan || fail csv-path-loopback-is-lan "$(col run1.csv path)"
num_between "$(col run1.csv rtt_ms)" 0.001 5 && num_between "$(col run1.csv rtt_min_ms)" 0.001 5 &&
	pass csv-rtt-sane || fail csv-rtt-sane "rtt $(col run1.csv rtt_ms) min $(col run1.csv rtt_min_ms)"
[ "$(col run1.csv loss_fwd_pct)" = 0.000 ] && [ "$(col run1.csv loss_rev_pct)" = 0.000 ] &&
	pass csv-no-loss-on-loopback || fail csv-no-loss-on-loopback "$(col run1.csv loss_fwd_pct)/$(col run1.csv loss_rev_pct)"
[ "$(col run1.csv echoes)" = 10 ] && [ "$(col run1.csv replies)" = 10 ] &&
	pass csv-standard-test-10-echoes || fail csv-standard-test-10-echoes
# loopback has no bottleneck: each direction is either a figure or a lower bound, never both
ok=1
for d in fwd rev; do
	bw=$(col run1.csv "bw_${d}_mbps") lb=$(col run1.csv "bw_${d}_lower_bound_mbps")
	{ [ -n "$bw" ] && [ -z "$lb" ]; } || { [ -z "$bw" ] && [ -n "$lb" ]; } || ok=0
done
[ $ok = 1 ] && pass csv-bandwidth-or-lower-bound-never-both || fail csv-bandwidth-or-lower-bound-never-both "$(tail -1 run1.csv)"
bytes=$(col run1.csv bytes)
num_between "$bytes" 20000 30000 && pass standard-test-costs-under-30kB || fail standard-test-costs-under-30kB "bytes $bytes"
[ "$bytes" -eq $(( $(col run1.csv bytes_fwd) + $(col run1.csv bytes_rev) )) ] &&
	pass bytes-is-both-sides || fail bytes-is-both-sides
run=$(col run1.csv run_id)
our_audit=$(awk -F, -v r="$run" '$2 == r { print $6 "," $7 }' A/audit.csv | tail -1)
[ "$our_audit" = "$bytes,ok" ] && pass run-logged-in-own-audit-with-bytes || fail run-logged-in-own-audit-with-bytes "$our_audit"

# ---- EWMA across runs ----
[ -f A/pairprobe/b.ewma ] && pass ewma-state-file || fail ewma-state-file "$(ls -R A)"
e1=$(col run1.csv rtt_ewma_ms) m1=$(col run1.csv rtt_ms)
[ "$e1" = "$m1" ] && pass ewma-first-run-is-the-median || fail ewma-first-run-is-the-median "$e1 vs $m1"
expect_exit 0 second-run ds-pairprobe --state A --csv --no-header b
cp "$TMP/out" run2.csv
[ "$(wc -l <run2.csv)" -eq 1 ] && pass no-header-one-line || fail no-header-one-line
{ head -1 run1.csv; cat run2.csv; } >run2h.csv
e2=$(col run2h.csv rtt_ewma_ms) m2=$(col run2h.csv rtt_ms)
e2_want=$(awk -v p="$(cut -d' ' -f1 A/pairprobe/b.ewma)" 'BEGIN{printf "%.3f", p}')
awk -v e="$e2" -v m="$m2" -v p="$e1" 'BEGIN { x = p + (m - p) / 6; exit !(x - e < 0.0015 && e - x < 0.0015) }' &&
	pass ewma-alpha-one-sixth-across-runs || fail ewma-alpha-one-sixth-across-runs "prev $e1 median $m2 ewma $e2"
[ "$e2" = "$e2_want" ] && [ "$(wc -l <A/pairprobe/b.ewma)" -eq 1 ] && [ "$(cut -d' ' -f2 A/pairprobe/b.ewma)" = 2 ] &&
	pass ewma-file-replaced-with-run-count || fail ewma-file-replaced-with-run-count "$(cat A/pairprobe/b.ewma)"
ls A/pairprobe | grep -q tmp && fail ewma-no-temporary-left || pass ewma-no-temporary-left
echo garbage >A/pairprobe/b.ewma
expect_exit 0 ewma-corrupt-file-starts-over ds-pairprobe --state A --csv b
grep -q 'starting over' "$TMP/err" && pass ewma-corrupt-file-warned || fail ewma-corrupt-file-warned "$(cat "$TMP/err")"

# ---- raw rows ----
expect_exit 0 raw-run ds-pairprobe --state A --raw b
head -1 "$TMP/out" | grep -q '^ts,tool,run_id,kind,seq,size,sent_ms,recv_ms,rtt_ms,owd_fwd_ms,owd_rev_ms,gap_us,status$' &&
	pass raw-header || fail raw-header "$(head -1 "$TMP/out")"
for k in echo:10 fwd-pair:10 rev-pair:10 close:1; do
	n=$(awk -F, -v k="${k%:*}" '$4 == k' "$TMP/out" | wc -l)
	[ "$n" -eq "${k#*:}" ] && pass "raw-$k-rows" || fail "raw-$k-rows" "$n rows"
done
expect_exit 0 raw-with-train ds-pairprobe --state A --raw --train 8 -c 3 --pairs 2 b
n=$(awk -F, '$4 == "fwd-train" || $4 == "rev-train"' "$TMP/out" | wc -l)
[ "$n" -eq 16 ] && pass raw-train-rows-each-way || fail raw-train-rows-each-way "$n"
if command -v gnuplot >/dev/null; then
	ds-pairprobe --state A --raw -c 20 -i 5ms b >raw.csv
	gnuplot -e "f='raw.csv'" "$DS_ROOT/examples/gnuplot/pairprobe-raw.gp" >raw.png 2>gp.err &&
		[ -s raw.png ] && pass gnuplot-script-plots-raw || fail gnuplot-script-plots-raw "$(head -3 gp.err)"
else
	skip gnuplot-script-plots-raw "no gnuplot"
fi

# ---- two runs at once share the warm port, each sees only its own packets ----
ds-pairprobe --state A --csv b >par1.csv 2>par1.err &
p1=$!
ds-pairprobe --state A --csv b >par2.csv 2>par2.err
r2=$?
wait $p1
r1=$?
if [ $r1 = 0 ] && [ $r2 = 0 ] && [ "$(col par1.csv replies)" = 10 ] && [ "$(col par2.csv replies)" = 10 ] &&
	[ "$(col par1.csv bad)" = 0 ] && [ "$(col par2.csv bad)" = 0 ] &&
	[ "$(col par1.csv run_id)" != "$(col par2.csv run_id)" ]; then
	pass concurrent-runs-apart
else
	fail concurrent-runs-apart "$(cat par1.csv par2.csv par1.err par2.err)"
fi

# ---- options ----
expect_exit 0 duration-and-interval ds-pairprobe --state A --csv -d 100ms -i 10ms --pairs 0 b
[ "$(col "$TMP/out" echoes)" = 10 ] && [ -z "$(col "$TMP/out" bw_fwd_mbps)$(col "$TMP/out" bw_fwd_lower_bound_mbps)" ] &&
	pass duration-over-interval-echoes-no-pairs || fail duration-over-interval-echoes-no-pairs "$(tail -1 "$TMP/out")"
if command -v tshark >/dev/null && [ "$(id -u)" = 0 ]; then
	tshark -i lo -f "udp dst port $PB and greater 100" -T fields -e ip.dsfield.dscp -a duration:8 \
		>dscp.out 2>dscp.err &
	tpid=$!
	for _ in $(seq 50); do grep -q Capturing dscp.err 2>/dev/null && break; sleep 0.1; done
fi
expect_exit 0 dscp-and-size ds-pairprobe --state A --csv --dscp 46 -s 200 -c 3 b
if [ -n "${tpid:-}" ]; then
	kill -INT "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
	# every request of the run carries EF (46); keepalives (88 bytes) are filtered out
	if [ -s dscp.out ] && [ "$(sort -u dscp.out)" = 46 ]; then pass dscp-on-every-packet-sent
	else fail dscp-on-every-packet-sent "$(sort dscp.out | uniq -c | tr '\n' ' ')"; fi
else
	skip dscp-on-every-packet-sent "no tshark or not root"
fi
[ "$(col "$TMP/out" bytes_fwd)" -gt $((3 * 200)) ] && pass size-makes-echoes-larger || fail size-makes-echoes-larger
expect_exit 0 human-output ds-pairprobe --state A b
grep -q '^a -> b ' "$TMP/out" && grep -q '^fwd: ' "$TMP/out" && grep -q '^rev: ' "$TMP/out" && [ ! -s "$TMP/err" ] &&
	pass human-output-quiet-on-success || fail human-output-quiet-on-success "$(cat "$TMP/out" "$TMP/err")"

# The responder logs a run when it has been idle for 10 s (ds-agent): by now, or soon.
for _ in $(seq 80); do
	peer_bytes=$(awk -F, -v r="$run" '$2 == r { print $6 }' B/audit.csv | tail -1)
	[ -n "$peer_bytes" ] && break
	sleep 0.2
done
[ "$peer_bytes" = "$bytes" ] && pass bytes-agree-with-responders-audit-log ||
	fail bytes-agree-with-responders-audit-log "ours $bytes, responder's ${peer_bytes:-none}"

# ---- a bad responder ----
"$H/ds-badpeer" -k bad.key -P "$PUB_a" -b "127.0.0.1:$PC" -t 30 "127.0.0.1:$PA" &
pids+=($!)
for _ in $(seq 60); do ds-agent --status --state A | grep -q '^peer bad established yes' && break; sleep 0.1; done
expect_exit 0 bad-responder-run-completes ds-pairprobe --state A --csv -w 200ms bad
cp "$TMP/out" bad.csv
echo "bad responder: duplicates $(col bad.csv duplicates) late $(col bad.csv late) bad $(col bad.csv bad)" \
	"reorder_rev $(col bad.csv reorder_rev) rtt $(col bad.csv rtt_min_ms)/$(col bad.csv rtt_ms)/$(col bad.csv rtt_max_ms)" \
	"loss $(col bad.csv loss_fwd_pct)/$(col bad.csv loss_rev_pct) replies $(col bad.csv replies)"
[ "$(col bad.csv duplicates)" -ge 1 ] && pass bad-responder-duplicate-counted || fail bad-responder-duplicate-counted
[ "$(col bad.csv late)" -ge 2 ] && pass bad-responder-late-counted || fail bad-responder-late-counted "$(col bad.csv late)"
[ "$(col bad.csv bad)" -ge 4 ] && pass bad-responder-forgeries-counted || fail bad-responder-forgeries-counted "$(col bad.csv bad)"
[ "$(col bad.csv reorder_rev)" -ge 1 ] && pass bad-responder-reordering-counted ||
	fail bad-responder-reordering-counted "$(col bad.csv reorder_rev)"
# figures from the good answers only: seq 1, 2, 4, 5, 10 on loopback
num_between "$(col bad.csv rtt_max_ms)" 0.001 100 && [ "$(col bad.csv replies)" = 5 ] &&
	pass bad-responder-no-bad-answer-in-rtt || fail bad-responder-no-bad-answer-in-rtt "$(tail -1 bad.csv)"
[ "$(col bad.csv loss_fwd_pct)" = 0.000 ] && pass bad-responder-no-made-up-forward-loss ||
	fail bad-responder-no-made-up-forward-loss "$(col bad.csv loss_fwd_pct)"
num_between "$(col bad.csv bw_rev_mbps)$(col bad.csv bw_rev_lower_bound_mbps)" 1 1e9 &&
	pass bad-responder-pairs-still-measured || fail bad-responder-pairs-still-measured "$(tail -1 bad.csv)"

# ---- failures ----
expect_exit 1 unknown-peer ds-pairprobe --state A c
grep -q 'not in the agent' "$TMP/err" && pass unknown-peer-says-so || fail unknown-peer-says-so "$(cat "$TMP/err")"
kill "$PID_b"; wait "$PID_b" 2>/dev/null
start=$(date +%s%N)
ds-pairprobe --state A --csv -w 300ms b >"$TMP/out" 2>"$TMP/err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 1 ] && pass peer-down-exit-1 || fail peer-down-exit-1 "exit $rc: $(cat "$TMP/out" "$TMP/err")"
[ $ms -lt 8000 ] && pass peer-down-gives-up-in-time || fail peer-down-gives-up-in-time "$ms ms"
check agent-b-restarts-mesh-off start_agent b "$PB" B --mesh off
for _ in $(seq 60); do ds-agent --status --state A | grep -q '^peer b established yes' && break; sleep 0.1; done
expect_exit 1 mesh-off-refused ds-pairprobe --state A --csv b
grep -q 'refused' "$TMP/err" && pass mesh-off-says-refused || fail mesh-off-says-refused "$(cat "$TMP/err")"
t_done
