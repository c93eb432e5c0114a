#!/bin/bash
# SPDX-License-Identifier: MIT
# Wire protocol on one core: authenticated echoes answered per second (goal >= 100,000 for
# ds-agent), the cost of each step, and of dropping forgeries. Builds tests/bench/bench_wire.c
# against build/libds.a (make first).
#   tests/bench/bench_wire.sh [SECONDS_PER_ROW]
set -u
cd "$(dirname "$0")/../.." || exit 2
[ -f build/libds.a ] || { echo "bench_wire: build/libds.a missing; run make" >&2; exit 1; }
mkdir -p build/bench
# shellcheck disable=SC2046
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -iquote libds $(pkg-config --cflags libcrypto) \
	-o build/bench/bench_wire tests/bench/bench_wire.c build/libds.a \
	$(pkg-config --libs libcrypto) -lm || exit 1
echo "ChaCha20-Poly1305 through OpenSSL $(openssl version | awk '{print $2}'), $(nproc) cores," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo
build/bench/bench_wire "${1:-1}" | tee build/bench/bench_wire.txt
rc=${PIPESTATUS[0]}
answered=$(awk -F'|' '/echo answered/ {gsub(/ /, "", $4); print $4}' build/bench/bench_wire.txt)
udp_cpu=$(awk -F'|' '/per responder CPU/ {gsub(/ /, "", $4); print $4}' build/bench/bench_wire.txt)
udp_wall=$(awk -F'|' '/UDP loopback.*wall/ {gsub(/ /, "", $4); print $4}' build/bench/bench_wire.txt)
echo
echo "goal: >= 100000 authenticated echoes answered per second on one core."
echo "  crypto + codec per echo: ${answered:-?}/s of CPU;" \
	"with UDP on loopback: ${udp_cpu:-?}/s of responder CPU (${udp_wall:-?}/s wall clock," \
	"load average $(cut -d' ' -f1 /proc/loadavg))"
exit "$rc"
