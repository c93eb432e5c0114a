#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-race and ds-punch without a lab: bad values are refused with one line naming them
# (exit 2), and with no agent at --state they say so (exit 1) and print no row.
. "$(dirname "$0")/../lib.sh"

for t in ds-race ds-punch; do
	expect_exit 1 "$t-no-agent-exit-1" $t --state "$TMP/none" --csv peer
	grep -q "no agent at $TMP/none" "$TMP/err" && [ ! -s "$TMP/out" ] && pass "$t-no-agent-says-so" ||
		fail "$t-no-agent-says-so" "$(cat "$TMP/err" "$TMP/out")"
	expect_exit 2 "$t-missing-state" $t peer
	expect_exit 2 "$t-bad-peer-name" $t --state "$TMP" 'not a name'
	expect_exit 2 "$t-two-peers" $t --state "$TMP" a b
	expect_exit 2 "$t-timeout-too-short" $t --state "$TMP" -w 1ms peer
	grep -q -- "--timeout" "$TMP/err" && [ "$(wc -l <"$TMP/err")" = 1 ] && pass "$t-error-names-the-option" ||
		fail "$t-error-names-the-option" "$(cat "$TMP/err")"
done
expect_exit 2 race-stagger-below-10ms ds-race --state "$TMP" --stagger 9ms peer
expect_exit 2 race-4-and-6 ds-race --state "$TMP" -4 -6 peer
expect_exit 2 punch-attempts-over-8 ds-punch --state "$TMP" --attempts 9 peer
expect_exit 2 punch-deltas-over-64 ds-punch --state "$TMP" --deltas 65 peer
expect_exit 2 punch-interval-under-20ms ds-punch --state "$TMP" --interval 10ms peer
expect_exit 2 punch-start-in-over-2s ds-punch --state "$TMP" --start-in 3s peer
t_done
