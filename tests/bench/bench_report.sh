#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-report at fleet scale: one mesh cycle of AGENTS agents (default 1,000: 999,000 rows,
# about 135 MB) through ds-report's outputs, side by side with an awk + sort pipeline and
# an sqlite3 query computing the same per-cell medians; prints wall time and peak memory,
# and checks that ds-report's cells agree with awk's medians.
#   tests/bench/bench_report.sh [AGENTS]      (also run by `make bench`)
set -u
cd "$(dirname "$0")/../.." || exit 2
export PATH="$PWD/bin:$PATH"
agents=${1:-1000}
dir=build/bench/report
mkdir -p "$dir"
data=$dir/cycle-$agents.csv
if [ ! -s "$data" ]; then
	python3 tests/bench/gen_results.py -n "$agents" >"$data.tmp" && mv "$data.tmp" "$data" || exit 1
fi
rows=$(($(wc -l <"$data") - 1))
mb=$(($(stat -c %s "$data") / 1000000))
echo "input: $data, $agents agents, $rows rows, $mb MB; $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(wall time depends on what else the machine runs; CPU s = user + system of the pipeline)"
echo
printf '| %-46s | %8s | %8s | %11s |\n' "pipeline" "wall s" "CPU s" "peak RSS MB"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "----------" "----------" "-------------"

# run NAME CMD...: time it, keep its stdout in $dir/NAME.out
run() {
	local name=$1 t
	shift
	if /usr/bin/time -o "$dir/$name.time" -f '%e %U %S %M' "$@" >"$dir/$name.out" 2>"$dir/$name.err"; then
		read -r wall user sys rss <<<"$(tail -1 "$dir/$name.time")"
		printf '| %-46s | %8s | %8s | %11s |\n' "$name" "$wall" \
			"$(echo "$user + $sys" | bc)" "$((rss / 1024))"
	else
		printf '| %-46s | %8s | %8s | %11s |\n' "$name" failed - -
		failed=1
	fi
}

run "ds-report --summary" ds-report -q --summary "$data"
run "ds-report (terminal matrices, 3 metrics)" ds-report -q --color never "$data"
run "ds-report --csv" ds-report -q --csv "$data"
run "ds-report --svg (compact above 150 agents)" ds-report -q --svg "$dir/fleet.svg" "$data"
run "ds-report --openmetrics (~10 M samples)" ds-report -q --openmetrics "$data"
# The same per-cell median of rtt_ms (rows measured by the source, as ds-report takes them).
run "awk + sort: per-cell median rtt_ms" bash -c '
	awk -F, "NR > 1 && \$8 == \"ok\" && \$9 != \"\" && \$6 != \"rev\" { print \$4 \",\" \$5 \",\" \$9 }" "$1" |
	LC_ALL=C sort -t, -k1,1 -k2,2 -k3,3g |
	awk -F, "function out() { if (n) printf \"%s,%.3f\n\", key, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }
		{ k = \$1 \",\" \$2; if (k != key) { out(); key = k; n = 0 } v[++n] = \$3 }
		END { out() }"' _ "$data"
if command -v sqlite3 >/dev/null; then
	run "sqlite3: import + per-cell median rtt_ms" bash -c '
	sqlite3 :memory: <<EOF
.mode csv
.import $1 results
.mode csv
SELECT src, dst, printf("%.3f", AVG(rtt)) FROM (
	SELECT src, dst, CAST(rtt_ms AS REAL) AS rtt,
	       ROW_NUMBER() OVER (PARTITION BY src, dst ORDER BY CAST(rtt_ms AS REAL)) AS rn,
	       COUNT(*) OVER (PARTITION BY src, dst) AS cnt
	FROM results WHERE outcome = "ok" AND rtt_ms <> "" AND direction <> "rev")
WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY src, dst;
EOF' _ "$data"
fi
echo

# Correctness: one cycle has one row per cell, so its current value is the median.
awk -F, 'NR > 1 && $8 != "" { printf "%s,%s,%.3f\n", $3, $4, $8 }' "$dir/ds-report --csv.out" |
	LC_ALL=C sort >"$dir/ds.cells"
LC_ALL=C sort "$dir/awk + sort: per-cell median rtt_ms.out" >"$dir/awk.cells"
same=$(LC_ALL=C comm -12 "$dir/ds.cells" "$dir/awk.cells" | wc -l)
only=$(LC_ALL=C comm -3 "$dir/ds.cells" "$dir/awk.cells" | wc -l)
echo "cells with a latency value: ds-report $(wc -l <"$dir/ds.cells"), awk $(wc -l <"$dir/awk.cells"); identical $same, different $only"
if [ -s "$dir/sqlite3: import + per-cell median rtt_ms.out" ]; then
	tr -d '"\r' <"$dir/sqlite3: import + per-cell median rtt_ms.out" | LC_ALL=C sort >"$dir/sql.cells"
	echo "sqlite3 agrees with awk on $(LC_ALL=C comm -12 "$dir/sql.cells" "$dir/awk.cells" | wc -l) cells"
fi
grep -E '^  (latency|throughput|loss) ' "$dir/ds-report --summary.out"
echo "SVG: $(($(stat -c %s "$dir/fleet.svg") / 1000)) kB; OpenMetrics: $(($(stat -c %s "$dir/ds-report --openmetrics (~10 M samples).out") / 1000000)) MB"
[ "$only" -eq 0 ] && [ "${failed:-0}" -eq 0 ]
