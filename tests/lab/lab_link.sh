#!/bin/bash
# SPDX-License-Identifier: MIT
# Link impairments are what they say, measured with outside tools across the lab:
# 20 ms one-way delay each way gives a 40 ms ping RTT, 5 % loss (dropped where packets
# arrive) gives binomial ping loss, a 10 Mbit/s ds-link gives iperf3 9-10.5 Mbit/s, and
# "ds-lab set" changes a running link.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab ping iperf3 nft iptables
command -v ds-link >/dev/null || { echo "needs bin/ds-link (make)"; exit 77; }

export DS_LAB_PREFIX=tl$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/link.topo" || { fail up "ds-lab up link.topo"; t_done; }
right=$(ds-lab addr right v4)
right6=$(ds-lab addr right v6)

# median RTT of N pings (ms, 3 decimals)
median_rtt() { # ping args...
	ds-lab exec left -- ping -n "$@" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f\n", m }'
}
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

# The first packets pay for ARP/ND, themselves delayed; warm up, then measure.
ds-lab exec left -- ping -c 2 -i 0.1 -q "$right" >/dev/null 2>&1 || true
m=$(median_rtt -c 200 -i 0.01 "$right") || m=none
echo "median RTT IPv4 with 20 ms each way: $m ms"
if [ "$m" != none ] && within "$m" 39.5 40.5; then pass delay-20ms-each-way-ping-median-40ms-v4
else fail delay-20ms-each-way-ping-median-40ms-v4 "median $m ms"; fi
ds-lab exec left -- ping -6 -c 2 -i 0.1 -q "$right6" >/dev/null 2>&1 || true
m=$(median_rtt -6 -c 100 -i 0.01 "$right6") || m=none
echo "median RTT IPv6 with 20 ms each way: $m ms"
if [ "$m" != none ] && within "$m" 39.5 40.5; then pass delay-20ms-each-way-ping-median-40ms-v6
else fail delay-20ms-each-way-ping-median-40ms-v6 "median $m ms"; fi

# Loss: 5 % on left -> wan only, no delay. 1000 echoes: lost ~ Binomial(1000, 0.05),
# mean 50, sd 6.9; [23, 77] is +-3.9 sd (a false alarm about once in 10000 runs).
ds-lab set left wan delay=0 loss=5% && ds-lab set wan left delay=0 ||
	fail set-loss "ds-lab set failed"
sent=1000
got=$(ds-lab exec left -- ping -n -c $sent -i 0.002 -W 1 -q "$right" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
lost=$((sent - ${got:-0}))
echo "loss 5%: $lost of $sent echoes lost ($(awk -v l=$lost -v s=$sent 'BEGIN{printf "%.1f", 100*l/s}') %)"
if [ "$lost" -ge 23 ] && [ "$lost" -le 77 ]; then pass loss-5pct-binomial-bounds
else fail loss-5pct-binomial-bounds "lost $lost of $sent, want 23..77"; fi
# and the drop happens in the receiving namespace (wan), not on the sender
if ip netns exec "$(ds-lab ns wan)" nft list table inet dslab_loss | grep -q 'numgen random mod 10000 < 500 drop'; then
	pass loss-applied-where-packets-arrive
else fail loss-applied-where-packets-arrive "no loss rule in wan's namespace"; fi

# Rate: 10 Mbit/s through ds-link, TCP goodput by iperf3.
ds-lab set left wan loss=0 rate=10mbit || fail set-rate "ds-lab set failed"
ds-lab exec right -- iperf3 -s -1 -D --logfile "$TMP/iperf-s.log"
for i in $(seq 50); do ds-lab exec right -- ss -Hltn 'sport = :5201' | grep -q . && break; sleep 0.1; done
ds-lab exec left -- iperf3 -c "$right" -t 4 -O 1 -J >"$TMP/iperf.json" 2>&1 || true
mbps=$(sed -n '/"sum_received"/,/}/p' "$TMP/iperf.json" | sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' | head -1 |
	awk '{ printf "%.2f", $1 / 1e6 }')
echo "iperf3 through rate=10mbit: ${mbps:-none} Mbit/s"
if [ -n "$mbps" ] && within "$mbps" 9 10.5; then pass rate-10mbit-iperf3-9-to-10.5
else fail rate-10mbit-iperf3-9-to-10.5 "got ${mbps:-nothing} Mbit/s"; fi

# Back-to-back 1200-byte UDP pairs across the same link arrive spaced by one packet's
# serialization time: 1228 IP bytes * 8 / 10 Mbit/s = 982.4 us (+-3 %). The receiver's
# kernel timestamps (tshark) are taken after the wan namespace has released the packets.
if command -v tshark >/dev/null && command -v socat >/dev/null; then
	ds-lab exec right -- socat -u UDP4-RECV:9999 /dev/null &
	for i in $(seq 50); do ds-lab exec right -- ss -Hlun 'sport = :9999' | grep -q . && break; sleep 0.1; done
	ds-lab exec right -- timeout 20 tshark -n -i eth0 -f 'udp dst port 9999' -T fields \
		-e frame.time_epoch -c 80 >"$TMP/pp.txt" 2>"$TMP/pp.err" &
	cap=$!
	for i in $(seq 100); do grep -q Capturing "$TMP/pp.err" 2>/dev/null && break; sleep 0.1; done
	ds-lab exec left -- bash -c 'exec 3>/dev/udp/'"$right"'/9999; p=$(printf "%1200s" "")
		for i in $(seq 40); do printf "%s" "$p" >&3; printf "%s" "$p" >&3; sleep 0.02; done'
	wait $cap || true
	gap=$(awk 'NR % 2 == 1 { t = $1 } NR % 2 == 0 { printf "%.1f\n", ($1 - t) * 1e6 }' "$TMP/pp.txt" |
		sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
	echo "packet pairs at rate=10mbit: median spacing ${gap:-none} us (one 1228-byte packet: 982.4 us)"
	if [ -n "$gap" ] && within "$gap" 952.9 1011.9; then pass packet-pairs-spaced-at-10mbit
	else fail packet-pairs-spaced-at-10mbit "median spacing ${gap:-none} us"; fi
else
	skip packet-pairs-spaced-at-10mbit "needs tshark and socat"
fi

# show reports what set configured
if ds-lab show left wan | grep -q 'rate=10mbit'; then pass show-reports-link
else fail show-reports-link "$(ds-lab show left wan)"; fi

# the token-bucket shaper option: a tbf qdisc on the sender's egress
ds-lab set left wan rate=0 && ds-lab set left wan shaper=tbf rate=20mbit burst=32k ||
	fail set-tbf "ds-lab set shaper=tbf failed"
if ip netns exec "$(ds-lab ns left)" tc qdisc show dev eth0 | grep -q 'tbf .*rate 20Mbit'; then
	pass shaper-tbf-installed
else fail shaper-tbf-installed "$(ip netns exec "$(ds-lab ns left)" tc qdisc show dev eth0)"; fi
ds-lab set left wan shaper=htb rate=10mbit || fail set-htb "ds-lab set shaper=htb failed"
if ip netns exec "$(ds-lab ns left)" tc class show dev eth0 | grep -q 'htb 1:1 .*rate 10Mbit'; then
	pass shaper-htb-installed
else fail shaper-htb-installed "$(ip netns exec "$(ds-lab ns left)" tc class show dev eth0)"; fi
t_done
