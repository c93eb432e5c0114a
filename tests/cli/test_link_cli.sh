#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-link's command line: bad rates, durations and limits, on the command line or in the
# params file, are one-line errors naming the value, exit 2, before any queue is touched.
. "$(dirname "$0")/../lib.sh"
DSLINK=${DS_LINK_BIN:-$DS_ROOT/bin/ds-link}
[ -x "$DSLINK" ] || { echo "needs bin/ds-link (make)"; exit 77; }

# bad_value NAME VALUE ARGS...: exit 2, one line on stderr that contains VALUE
bad_value() {
	local n=$1 v=$2 rc
	shift 2
	"$DSLINK" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -qF -- "$v" "$TMP/err" &&
		[ ! -s "$TMP/out" ]; then
		pass "$n"
	else
		fail "$n" "exit $rc, stderr: $(tr '\n' '|' <"$TMP/err")"
	fi
}
bad_value bad-rate-names-value 10xbit -Q 1 --rate 10xbit
bad_value negative-rate-names-value -5mbit -Q 1 --rate -5mbit
bad_value bad-delay-names-value soon -Q 1 --delay soon
bad_value bad-jitter-names-value 3parsecs -Q 1 --jitter 3parsecs
bad_value zero-limit-names-value "'0'" -Q 1 --limit 0
bad_value bad-overhead-names-value lots -Q 1 --overhead lots
bad_value bad-queue-names-value 70000 -Q 70000
bad_value missing-queue "-Q" --rate 10mbit
bad_value stray-argument extra -Q 1 extra
printf 'rate 10mbit\ndelay 20 ms\n' >"$TMP/bad.params"
bad_value params-file-bad-value-names-line "delay 20 ms" -Q 1 --params "$TMP/bad.params"
printf '# fine\nrate 10mbit\nloss 1%%\n' >"$TMP/bad2.params"
bad_value params-file-unknown-key-names-line "loss 1%" -Q 1 --params "$TMP/bad2.params"
expect_exit 0 help-exits-0 "$DSLINK" -h
expect_exit 0 version-exits-0 "$DSLINK" -V
t_done
