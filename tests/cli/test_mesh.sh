#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-mesh on loopback with real agents: a measured peer gives a fwd and a rev row as
# ds-results(5) says, a peer without an agent gives two 'down' rows, mesh off gives
# 'disabled' rows, no agent here gives 'error' rows and exit 1, overlapping cycles append
# whole lines under one header, and ds-report reads the file.
. "$(dirname "$0")/../lib.sh"
need_cmd flock shuf
cd "$TMP" || exit 1
umask 077
base=$((42100 + $$ % 500 * 4))
for a in alpha bravo charlie; do ds-key genkey >"$a.key"; mkdir -p "$a"; done
{
	echo "name,pubkey,endpoint"
	echo "alpha,$(ds-key pubkey <alpha.key),127.0.0.1:$base"
	echo "bravo,$(ds-key pubkey <bravo.key),127.0.0.1:$((base + 1))"
	echo "charlie,$(ds-key pubkey <charlie.key),127.0.0.1:$((base + 2))"
} >peers.csv
mkdir rdv
start_agent() {
	ds-agent -q -4 -k "$1.key" -n "$1" --peers peers.csv --state "$1" --rendezvous rdv -p "$2" \
		>"$1.log" 2>&1 &
	on_exit "kill $! 2>/dev/null"
}
start_agent alpha "$base"
start_agent bravo "$((base + 1))"
# charlie has no agent running: it is down.
for _ in $(seq 50); do [ -S alpha/agent.sock ] && [ -S bravo/agent.sock ] && break; sleep 0.1; done

expect_exit 0 cycle-runs ds-mesh -q --state alpha --peers peers.csv -n alpha --rendezvous rdv
f=$(ls alpha/results/*.csv 2>/dev/null | head -1)
[ -n "$f" ] && [ "$(basename "$f")" = "$(date -u +%Y-%m-%d).csv" ] && pass daily-file-named-by-utc-date ||
	fail daily-file-named-by-utc-date "$(ls alpha/results)"
hdr="ts,tool,run_id,src,dst,direction,path,outcome,rtt_ms,rtt_min_ms,rtt_ewma_ms,owd_ms,jitter_ms,owd_var_ms,loss_pct,bw_mbps,bw_lower_bound_mbps,bytes"
[ "$(head -1 "$f")" = "$hdr" ] && pass header-as-ds-results-5 || fail header-as-ds-results-5 "$(head -1 "$f")"
fwd=$(grep ',alpha,bravo,fwd,' "$f")
rev=$(grep ',bravo,alpha,rev,' "$f")
IFS=, read -r -a F <<<"$fwd"
IFS=, read -r -a R <<<"$rev"
if [ "${F[1]}" = ds-mesh ] && [ "${F[7]}" = ok ] && [ -n "${F[8]}" ] && [ "${F[2]}" = "${R[2]}" ] &&
	[ -n "${F[2]}" ] && [ "${F[0]}" = "${R[0]}" ] && [ "${F[8]}" = "${R[8]}" ] &&
	[ "${F[14]}" = 0.000 ] && [ "${R[7]}" = ok ] && [ "${F[17]}" -gt 1000 ] && [ -z "${R[17]:-}" ]; then
	pass measured-peer-gives-fwd-and-rev-rows
else
	fail measured-peer-gives-fwd-and-rev-rows "fwd=$fwd rev=$rev"
fi
if grep -q '^[^,]*,ds-mesh,,alpha,charlie,fwd,,down,,,,,,,,,,$' "$f" &&
	grep -q '^[^,]*,ds-mesh,,charlie,alpha,rev,,down,,,,,,,,,,$' "$f"; then
	pass unreachable-peer-gives-down-rows
else
	fail unreachable-peer-gives-down-rows "$(grep charlie "$f")"
fi
[ "$(grep -c ',alpha,alpha,\|,bravo,bravo,' "$f")" = 0 ] && pass agent-does-not-measure-itself ||
	fail agent-does-not-measure-itself

# Two cycles at once from two agents on one day file each, and two overlapping cycles of
# the same agent: every line whole, one header.
ds-mesh -q --state alpha --peers peers.csv -n alpha --rendezvous rdv --only bravo &
p1=$!
ds-mesh -q --state alpha --peers peers.csv -n alpha --rendezvous rdv --only bravo &
p2=$!
ds-mesh -q --state bravo --peers peers.csv -n bravo --rendezvous rdv --only alpha &
p3=$!
wait $p1 $p2 $p3
if [ "$(grep -c '^ts,' "$f")" = 1 ] && awk -F, 'NF != 18 {bad++} END {exit bad > 0}' "$f" &&
	[ "$(grep -c ',alpha,bravo,fwd,.*,ok,' "$f")" = 3 ]; then
	pass overlapping-cycles-append-whole-lines
else
	fail overlapping-cycles-append-whole-lines "$(awk -F, '{print NF}' "$f" | sort | uniq -c | tr '\n' ' ')"
fi

# Mesh switched off on this agent, then fleet-wide.
touch alpha/mesh-off
ds-mesh -q --state alpha --peers peers.csv -n alpha --rendezvous rdv --only bravo
rm alpha/mesh-off
touch rdv/mesh-off
ds-mesh -q --state alpha --peers peers.csv -n alpha --rendezvous rdv --only bravo
rm rdv/mesh-off
[ "$(grep -c ',alpha,bravo,fwd,,disabled,' "$f")" = 2 ] && pass mesh-off-gives-disabled-rows ||
	fail mesh-off-gives-disabled-rows "$(grep disabled "$f" | head -2)"

# No agent at this state directory: error rows and exit 1.
mkdir nobody
expect_exit 1 no-agent-exits-1 ds-mesh --state nobody --peers peers.csv -n alpha
grep -q "no agent" "$TMP/err" && pass no-agent-says-why || fail no-agent-says-why
grep -q ',alpha,bravo,fwd,,error,' nobody/results/*.csv && pass no-agent-writes-error-rows ||
	fail no-agent-writes-error-rows

# ds-report reads what ds-mesh wrote.
if ds-report --csv "$f" >report.csv 2>report.err && grep -q 'alpha,bravo' report.csv; then
	pass ds-report-reads-the-results
else
	fail ds-report-reads-the-results "$(head -2 report.err)"
fi

expect_exit 2 missing-state ds-mesh --peers peers.csv -n alpha
expect_exit 2 bad-spread ds-mesh --state alpha --peers peers.csv -n alpha --spread soon
grep -q "'soon'" "$TMP/err" && pass usage-error-names-value || fail usage-error-names-value
expect_exit 1 unreadable-peers ds-mesh --state alpha --peers /nonexistent.csv -n alpha
t_done
