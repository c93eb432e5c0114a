#!/bin/bash
# SPDX-License-Identifier: MIT
# The examples that read results files work on the fixture mesh: the gnuplot script draws
# one direction's history (when gnuplot is installed), and the SQL examples name every
# column of ds-results(5), so a file loads column for column.
. "$(dirname "$0")/../lib.sh"

FIX=$DS_ROOT/tests/fixtures/report
EX=$DS_ROOT/examples
cols=$(head -1 "$FIX/mesh-alpha.csv" | tr ',' ' ')

for f in "$EX/sql/postgresql.sql" "$EX/sql/clickhouse.sql"; do
	missing=""
	for c in $cols; do
		grep -Eq "^[[:space:]]+$c[[:space:]]" "$f" || missing="$missing $c"
	done
	n=$(basename "$f" .sql)
	[ -z "$missing" ] && pass "$n-table-has-every-column" || fail "$n-table-has-every-column" "missing:$missing"
done

if command -v gnuplot >/dev/null; then
	if (cd "$TMP" && gnuplot -e "src='echo'; dst='foxtrot'; files='$FIX/mesh-*.csv'; out='$TMP/ef.svg'" \
		"$EX/gnuplot/results-history.gp") 2>"$TMP/gp.err" && [ ! -s "$TMP/gp.err" ] &&
		python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); sys.exit(0 if len(list(r.iter("{http://www.w3.org/2000/svg}path"))) > 20 else 1)' "$TMP/ef.svg"; then
		pass gnuplot-example-plots-a-direction
	else
		fail gnuplot-example-plots-a-direction "$(head -3 "$TMP/gp.err")"
	fi
else
	skip gnuplot-example-plots-a-direction "gnuplot not installed"
fi
t_done
