#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-grade without root: usage errors, the live sessions view on loopback, and the views
# that read history files (--apps, --device, --timeline, --svg, --fleet) on made-up
# histories with known answers.
. "$(dirname "$0")/../lib.sh"
GRADE=${DS_BIN:-$DS_ROOT/bin}/ds-grade
[ -x "$GRADE" ] || { echo "needs bin/ds-grade (make)"; exit 77; }

# ---- usage errors: one line, exit 2, naming the bad input ----
usage() {
	local name=$1 want=$2; shift 2
	"$GRADE" "$@" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ] &&
		grep -q -- "$want" "$TMP/err"; then
		pass "usage/$name"
	else
		fail "usage/$name" "exit $rc: $(cat "$TMP/err")"
	fi
}
usage rtt-not-increasing "100,50,200" --rtt-ms 100,50,200
usage rtt-two-values "50,100" --rtt-ms 50,100
usage retrans-garbage "abc" --retrans-pct abc
usage min-age-negative "-1" --min-age -1
usage min-sessions-zero "'0'" --min-sessions 0
usage timeline-needs-history "--history" --timeline
usage svg-needs-timeline "--timeline" --svg x.svg
usage fleet-needs-files "history files" --fleet
usage stray-operand "'extra'" extra
usage two-views "--device" --apps --device
usage bad-color "'sometimes'" --timeline --history x --color sometimes
usage bad-watch "'fast'" --watch fast
usage watch-with-view "--watch" --apps --watch 1s
printf 'good_rtt_ms = 80\nnonsense\n' >"$TMP/bad.conf"
usage config-bad-line "bad.conf:2" --config "$TMP/bad.conf"
printf 'good_rtt_ms = 80\nexcellent_rtt_ms = 90\n' >"$TMP/order.conf"
usage config-out-of-order "increase" --config "$TMP/order.conf"
expect_exit 1 missing-history-file "$GRADE" --apps --history "$TMP/nope.csv"

# ---- live, on loopback: listed with --all, never graded ----
if command -v python3 >/dev/null; then
	port=$((20000 + $$ % 20000))
	python3 "$DS_ROOT/tests/lab/grade_tcp.py" serve 127.0.0.1 $port &
	srv=$!
	on_exit "kill $srv 2>/dev/null"
	sleep 0.4
	python3 "$DS_ROOT/tests/lab/grade_tcp.py" send 127.0.0.1 $port --count 2 --bytes 10000 --hold 3 \
		--name dsg-cli-lo --ready "$TMP/ready" &
	cli=$!
	on_exit "kill $cli 2>/dev/null"
	for _ in $(seq 30); do [ -e "$TMP/ready" ] && break; sleep 0.1; done
	sleep 0.6
	"$GRADE" --csv >"$TMP/live.csv"
	"$GRADE" --csv --all >"$TMP/live-all.csv"
	if head -1 "$TMP/live.csv" | grep -q '^ts,tool,pid,app,exe,local,remote,state,age_s,rtt_ms,rttvar_ms,retrans,segs_out,retrans_pct,bytes_acked,bytes_received,grade,note$' &&
		! grep -q ',dsg-cli-lo,' "$TMP/live.csv" &&
		[ "$(grep ',dsg-cli-lo,' "$TMP/live-all.csv" | grep -c ',,loopback$')" -eq 2 ]; then
		pass live-loopback-listed-not-graded
	else
		fail live-loopback-listed-not-graded "$(grep dsg-cli-lo "$TMP/live-all.csv")"
	fi
	if grep ',dsg-cli-lo,' "$TMP/live-all.csv" | awk -F, -v p="$cli" '$3 == p && $2 == "ds-grade" && $1 ~ /^20[0-9-]+T[0-9:.]+Z$/' | grep -q .; then
		pass live-attributed-to-pid
	else
		fail live-attributed-to-pid "$(grep dsg-cli-lo "$TMP/live-all.csv")"
	fi
	"$GRADE" -4 --csv --all --no-header >"$TMP/v4.csv"
	if ! grep -q '^ts,' "$TMP/v4.csv" && ! grep -q ',\[' "$TMP/v4.csv"; then pass ipv4-only-no-header; else
		fail ipv4-only-no-header "$(head -3 "$TMP/v4.csv")"
	fi
else
	skip live-loopback-listed-not-graded "python3 missing"
fi

# ---- made-up histories ----
# Times count back from the start of the current 5-minute bucket, so which rows share a
# timeline bucket does not depend on when the test runs.
now=$(($(date -u +%s) / 300 * 300))
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000Z; }
H=$TMP/history.csv
hdr='ts,tool,host,event,pid,app,exe,local,remote,cookie,age_s,rtt_ms,retrans,segs_out,retrans_pct,bytes_acked,bytes_received,grade'
# row SECONDS_AGO EVENT APP COOKIE RTT RETRANS SEGS [REMOTE] [AGE]
row() {
	local ago=$1 ev=$2 app=$3 ck=$4 rtt=$5 rx=$6 segs=$7 rem=${8:-203.0.113.9:443} age=${9:-10.0}
	echo "$(iso $((now - ago))),ds-grade,laptop,$ev,100,$app,/usr/bin/$app,198.51.100.7:4$ck,$rem,$ck,$age,$rtt,$rx,$segs,,0,0,"
}
{
	echo "$hdr"
	row 7200 closed slack 1 20 0 1000
	row 7100 closed slack 2 25 0 1000
	row 7000 closed slack 3 30 0 1000
	row 600 closed onedrive 4 180 30 1000   # 3 % retransmits: Poor
	row 590 closed onedrive 5 170 10 1000
	row 580 closed onedrive 6 160 10 1000
	row 300 closed edge 7 60 0 1000
	row 290 closed edge 8 70 0 1000
	row 3000 sample teams 9 400 0 1000       # Poor then; superseded by its closed row below
	row 100 closed teams 9 40 0 2000
	row 100 closed teams 10 45 0 2000
	row 50 closed zoom 11 30 0 1000 10.1.2.3:443    # LAN: not graded by default
	row 40 closed zoom 12 30 0 1000 203.0.113.5:443 0.2  # young: not graded
	row 200000 closed old 13 999 99 100         # older than 24 h
	echo 'this,is,"not closed'
} >"$H"

"$GRADE" --apps --csv --history "$H" >"$TMP/apps.csv" 2>"$TMP/apps.err"
# onedrive: median 170 ms (Fair), 50/3000 = 1.67 % (Fair) -> Fair; slack Excellent;
# edge 2 sessions, teams 2 sessions: no grade.
if [ "$(sed -n 2p "$TMP/apps.csv" | cut -d, -f3-)" = "onedrive,3,170.000,1.667,0.0,Fair" ] &&
	[ "$(sed -n 3p "$TMP/apps.csv" | cut -d, -f3-)" = "slack,3,25.000,0.000,100.0,Excellent" ] &&
	[ "$(wc -l <"$TMP/apps.csv")" -eq 3 ]; then
	pass apps-from-history-worst-first
else
	fail apps-from-history-worst-first "$(cat "$TMP/apps.csv")"
fi
if grep -q 'malformed' "$TMP/apps.err"; then pass malformed-history-line-warned; else
	fail malformed-history-line-warned "$(cat "$TMP/apps.err")"
fi
"$GRADE" --apps --all --csv --history "$H" 2>/dev/null >"$TMP/apps-all.csv"
if grep -q ',teams,2,42.500,0.000,100.0,$' "$TMP/apps-all.csv" && grep -q ',edge,2,.*,$' "$TMP/apps-all.csv"; then
	pass samples-superseded-two-sessions-no-grade
else
	fail samples-superseded-two-sessions-no-grade "$(cat "$TMP/apps-all.csv")"
fi
"$GRADE" --apps --all --csv --lan --min-age 0.1 --history "$H" 2>/dev/null >"$TMP/apps-lan.csv"
if grep -q ',zoom,2,30.000,' "$TMP/apps-lan.csv" && ! grep -q ',zoom,' "$TMP/apps-all.csv"; then
	pass history-regraded-with-lan-and-min-age
else
	fail history-regraded-with-lan-and-min-age "$(cat "$TMP/apps-lan.csv")"
fi
"$GRADE" --apps --csv --history "$H" --rtt-ms 200,300,400 --retrans-pct 2,4,6 2>/dev/null >"$TMP/apps-t.csv"
if grep -q ',onedrive,3,.*,Excellent$' "$TMP/apps-t.csv"; then pass history-regraded-with-thresholds; else
	fail history-regraded-with-thresholds "$(cat "$TMP/apps-t.csv")"
fi

"$GRADE" --device --history "$H" 2>/dev/null >"$TMP/device.txt"
"$GRADE" --device --csv --history "$H" 2>/dev/null >"$TMP/device.csv"
# 10 graded sessions: RTTs 20 25 30 160 170 180 60 70 40 45 -> median 52.5 (Good);
# 50 retransmits of 12000 segments = 0.42 % (Excellent) -> Good. Last hiccup: onedrive,
# 580 s ago, 160 ms.
if grep -q '^Good: ' "$TMP/device.txt" &&
	grep -q 'Evidence: 70% of 10 sessions clean.*median RTT 52.5 ms, 0.42% retransmits' "$TMP/device.txt" &&
	grep -q 'Last hiccup: .*onedrive, RTT 160.0 ms, 1.00% retransmits (Fair)' "$TMP/device.txt"; then
	pass device-verdict-evidence-hiccup
else
	fail device-verdict-evidence-hiccup "$(cat "$TMP/device.txt")"
fi
if awk -F, 'NR == 2 && $4 == 10 && $6 == "52.500" && $8 == "Good" && $10 == "onedrive" && $13 == "Fair"' "$TMP/device.csv" | grep -q .; then
	pass device-csv
else
	fail device-csv "$(cat "$TMP/device.csv")"
fi

# ---- timeline ----
"$GRADE" --timeline --history "$H" --color never --svg "$TMP/day.svg" 2>/dev/null >"$TMP/tl.txt"
"$GRADE" --timeline --history "$H" --csv 2>/dev/null >"$TMP/tl.csv"
cells=$(grep -E '^[0-9]{2}:[0-9]{2} ' "$TMP/tl.txt" | cut -c7- | tr -d '\n')
# Buckets: slack (E, 24 buckets back), the teams sample (P, 10 back), onedrive (P: its worst
# session, 2 back), edge and teams (G, the worst of G and E, 1 back); the rest idle.
if [ "${#cells}" -eq 288 ] && [ "$(tr -cd 'P' <<<"$cells" | wc -c)" -eq 2 ] &&
	[ "$(tr -cd 'G' <<<"$cells" | wc -c)" -eq 1 ] && [ "$(tr -cd 'F' <<<"$cells" | wc -c)" -eq 0 ] &&
	[ "$(tr -cd 'E' <<<"$cells" | wc -c)" -eq 1 ] && [ "$(tr -cd '.' <<<"$cells" | wc -c)" -eq 284 ] &&
	[ "$(grep -cE '^[0-9]{2}:[0-9]{2} ' "$TMP/tl.txt")" -eq 4 ]; then
	pass timeline-288-buckets-worst-grade-idle
else
	fail timeline-288-buckets-worst-grade-idle "$(cat "$TMP/tl.txt")"
fi
if [ "$(wc -l <"$TMP/tl.csv")" -eq 289 ] && [ "$(grep -c ',active,' "$TMP/tl.csv")" -eq 4 ] &&
	grep -q ',0,idle,$' "$TMP/tl.csv" && grep -q ',Poor$' "$TMP/tl.csv" && grep -q ',Good$' "$TMP/tl.csv"; then
	pass timeline-csv
else
	fail timeline-csv "$(grep active "$TMP/tl.csv")"
fi
if head -1 "$TMP/day.svg" | grep -q '^<?xml' && [ "$(grep -c '<rect ' "$TMP/day.svg")" -eq 288 ] &&
	tail -1 "$TMP/day.svg" | grep -q '</svg>'; then
	pass timeline-svg
else
	fail timeline-svg "$(head -3 "$TMP/day.svg")"
fi
if "$GRADE" --timeline --history "$H" --color always 2>/dev/null | grep -q $'\033\\[3[1236]m'; then
	pass timeline-colours-on-request
else
	fail timeline-colours-on-request
fi

# ---- fleet: 12 devices ----
mkdir -p "$TMP/fleet"
for i in $(seq 1 12); do
	f=$TMP/fleet/dev$i.csv
	echo "$hdr" >"$f"
	for s in 1 2 3; do
		rtt=$((i * 15 + s))     # dev1 ~ 17 ms ... dev12 ~ 182 ms
		rx=0
		[ "$i" -eq 12 ] && rx=50 # dev12: 5 % retransmits -> Poor
		echo "$(iso $((now - 60))),ds-grade,host$i,closed,1,app,/bin/app,198.51.100.1:$s,203.0.113.1:443,$s,5.0,$rtt,$rx,1000,,0,0," >>"$f"
	done
done
echo "$hdr" >"$TMP/fleet/empty.csv"
"$GRADE" --fleet "$TMP"/fleet/dev*.csv "$TMP/fleet/empty.csv" >"$TMP/fleet.txt" 2>&1
"$GRADE" --fleet --csv "$TMP"/fleet/dev*.csv >"$TMP/fleet.csv" 2>&1
# medians: 17+15(i-1)... dev1 17 dev2 32 dev3 47 (E) dev4 62 dev5 77 dev6 92 (G)
# dev7 107 ... dev11 167 (F) dev12 182 with 5 % (P)
if [ "$(head -1 "$TMP/fleet.txt")" = "Fleet needs attention: 3 Excellent, 3 Good, 5 Fair, 1 Poor, 1 not graded (13 devices)" ]; then
	pass fleet-band-line
else
	fail fleet-band-line "$(head -1 "$TMP/fleet.txt")"
fi
if grep -q 'Median fleet latency: 99.5 ms' "$TMP/fleet.txt" &&
	sed -n '/^Fastest 10:/,/^$/p' "$TMP/fleet.txt" | sed -n 2p | grep -q 'Excellent *host1 ' &&
	sed -n '/^Slowest 10:/,$p' "$TMP/fleet.txt" | sed -n 2p | grep -q 'Poor *host12 ' &&
	[ "$(sed -n '/^Fastest 10:/,/^$/p' "$TMP/fleet.txt" | grep -c host)" -eq 10 ] &&
	grep -q '^  Fair *5 █' "$TMP/fleet.txt"; then
	pass fleet-median-fastest-slowest-distribution
else
	fail fleet-median-fastest-slowest-distribution "$(cat "$TMP/fleet.txt")"
fi
if [ "$(sed -n 2p "$TMP/fleet.csv" | cut -d, -f3-)" = "host1,1,3,17.000,0.000,100.0,Excellent" ] &&
	[ "$(sed -n 13p "$TMP/fleet.csv" | cut -d, -f3-)" = "host12,12,3,182.000,5.000,0.0,Poor" ]; then
	pass fleet-csv-ranked
else
	fail fleet-csv-ranked "$(cat "$TMP/fleet.csv")"
fi
t_done
