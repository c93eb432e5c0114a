# SPDX-License-Identifier: MIT
# One direction's history from mesh results files (ds-results(5)): round-trip time,
# bottleneck rate and loss over the day, down tests marked on the time axis.
#
#   gnuplot -e "src='alpha'; dst='bravo'; files='results/*.csv'" results-history.gp
#
# Writes SRC-DST.svg. It leans on awk to pick the direction's rows (columns are looked up
# by name in the header, so the file's column order does not matter) and to keep empty
# fields empty: gnuplot skips them instead of plotting a made-up 0.
if (!exists("src")) src = 'alpha'
if (!exists("dst")) dst = 'bravo'
if (!exists("files")) files = 'results/*.csv'
if (!exists("out")) out = src.'-'.dst.'.svg'

# ts rtt_ms bw_mbps loss_pct outcome — one line per row of the direction, time sorted.
# rtt_ms only from the source's own tests (direction fwd): the round trip it saw.
pick = sprintf("< awk -F, -v s='%s' -v d='%s' 'FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } \
$c[\"src\"] == s && $c[\"dst\"] == d { \
  rtt = $c[\"direction\"] == \"rev\" ? \"\" : $c[\"rtt_ms\"]; \
  printf \"%%s\\t%%s\\t%%s\\t%%s\\t%%s\\n\", $c[\"ts\"], rtt == \"\" ? \"-\" : rtt, \
    $c[\"bw_mbps\"] == \"\" ? \"-\" : $c[\"bw_mbps\"], $c[\"loss_pct\"] == \"\" ? \"-\" : $c[\"loss_pct\"], \
    $c[\"outcome\"] }' %s | sort", src, dst, files)

set datafile separator "\t"
set datafile missing "-"
set terminal svg size 1000,640 dynamic font "DejaVu Sans,11" background "#ffffff"
set output out
set xdata time
set timefmt "%Y-%m-%dT%H:%M:%SZ"
set format x "%H:%M"
set grid
set key top left
set multiplot layout 3,1 title sprintf("%s → %s (row = from, column = to in ds-report)", src, dst)

set ylabel "RTT, ms"
set yrange [0:*]
plot pick using 1:2 with linespoints pt 7 ps 0.4 lc rgb "#1c7ed6" title "rtt\\_ms", \
     pick using 1:(strcol(5) eq "down" ? 0 : 1/0) with points pt 2 ps 1 lc rgb "#e03131" title "down"

set ylabel "bottleneck, Mbit/s"
plot pick using 1:3 with linespoints pt 7 ps 0.4 lc rgb "#2f9e44" title "bw\\_mbps"

set ylabel "loss, %"
set yrange [0:100]
set xlabel "UTC"
plot pick using 1:4 with impulses lw 2 lc rgb "#f59f00" title "loss\\_pct"
unset multiplot
