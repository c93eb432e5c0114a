# SPDX-License-Identifier: MIT
# Plot ds-pairprobe --raw rows: RTT and one-way delay variation per echo, and the arrival
# gaps of the packet pairs per direction.
#
#   ds-pairprobe --state DIR -c 500 -i 10ms --pairs 16 --raw PEER > raw.csv
#   gnuplot -e "f='raw.csv'" examples/gnuplot/pairprobe-raw.gp > raw.png
#
# Columns: 1 ts 2 tool 3 run_id 4 kind 5 seq 6 size 7 sent_ms 8 recv_ms 9 rtt_ms
#          10 owd_fwd_ms 11 owd_rev_ms 12 gap_us 13 status
if (!exists("f")) f = 'raw.csv'
set datafile separator ','
set datafile missing ''
set terminal pngcairo size 1000,800 font ',10'
set multiplot layout 2,1 title 'ds-pairprobe '.f
set key top left
set grid
set xlabel 'time since the first send (ms)'
set ylabel 'ms'
set title 'round trip and one-way delay variation per direction (echoes)'
plot f every ::1 using ( strcol(4) eq 'echo' ? $7 : NaN ):9 with points pt 7 ps 0.5 title 'rtt', \
     ''  every ::1 using ( strcol(4) eq 'echo' ? $7 : NaN ):10 with lines title 'fwd owd - min', \
     ''  every ::1 using ( strcol(4) eq 'echo' ? $7 : NaN ):11 with lines title 'rev owd - min'
set title 'packet-pair dispersion (the second packet of each pair): Mbit/s = size x 8 / gap'
set ylabel 'Mbit/s'
set xlabel 'pair arrival (ms)'
set logscale y
plot f every ::1 using ( strcol(4) eq 'fwd-pair' && $12 > 0 ? $8 : NaN ):(($6 + 28) * 8 / $12) \
        with points pt 5 title 'forward', \
     ''  every ::1 using ( strcol(4) eq 'rev-pair' && $12 > 0 ? $8 : NaN ):(($6 + 28) * 8 / $12) \
        with points pt 7 title 'reverse', \
     ''  every ::1 using ( strcol(4) eq 'fwd-train' && $12 > 0 ? $8 : NaN ):(($6 + 28) * 8 / $12) \
        with lines title 'forward train', \
     ''  every ::1 using ( strcol(4) eq 'rev-train' && $12 > 0 ? $8 : NaN ):(($6 + 28) * 8 / $12) \
        with lines title 'reverse train'
unset multiplot
