#!/bin/bash
# SPDX-License-Identifier: MIT
# Every tool keeps the SPEC's conventions, and its help, man page and completions agree:
# -h to stdout with exit 0, -V with version and features, a usage error is one line on
# stderr with exit 2, and every --long-option in -h appears in man/TOOL.1 and in the bash,
# zsh and fish completions.
. "$(dirname "$0")/../lib.sh"

tools=()
for t in "$DS_BIN"/ds-* "$DS_ROOT"/scripts/ds-*; do
	[ -x "$t" ] && tools+=("$t")
done
[ ${#tools[@]} -gt 0 ] || { echo "no tools built"; exit 77; }

long_opts() { grep -oE -- '(^|[^a-z0-9-])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }

for t in "${tools[@]}"; do
	n=$(basename "$t")
	if "$t" -h >"$TMP/help" 2>"$TMP/help.err" && [ -s "$TMP/help" ] && [ ! -s "$TMP/help.err" ]; then
		pass "$n/help-to-stdout-exit-0"
	else
		fail "$n/help-to-stdout-exit-0"
	fi
	if "$t" -V >"$TMP/ver" 2>&1 && grep -q "$n" "$TMP/ver"; then
		pass "$n/version"
	else
		fail "$n/version" "$(head -1 "$TMP/ver")"
	fi
	"$t" --no-such-option-xyz >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ] &&
		grep -q "$n" "$TMP/err"; then
		pass "$n/usage-error-one-line-exit-2"
	else
		fail "$n/usage-error-one-line-exit-2" "exit $rc, stderr: $(head -3 "$TMP/err" | tr '\n' '|')"
	fi

	man=$DS_ROOT/man/$n.1
	if [ ! -f "$man" ]; then
		fail "$n/man-page" "missing man/$n.1"
	else
		if out=$(man -l -Tutf8 "$man" 2>&1 >/dev/null | grep -v 'cannot adjust' | head -3) && [ -z "$out" ]; then
			pass "$n/man-page-renders-clean"
		else
			fail "$n/man-page-renders-clean" "$out"
		fi
	fi
	missing=""
	for o in $(long_opts <"$TMP/help"); do
		name=${o#--}
		[ -f "$man" ] && sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\(em//g' "$man" | grep -q -- "$o\b" ||
			missing="$missing man:$o"
		grep -q -- "$o\b" "$DS_ROOT/completions/$n.bash" 2>/dev/null || missing="$missing bash:$o"
		grep -q -- "$o\b" "$DS_ROOT/completions/_$n" 2>/dev/null || missing="$missing zsh:$o"
		grep -qE -- "(-l '?$name'?\b|$o\b)" "$DS_ROOT/completions/$n.fish" 2>/dev/null ||
			missing="$missing fish:$o"
	done
	if [ -z "$missing" ]; then
		pass "$n/help-man-completions-agree"
	else
		fail "$n/help-man-completions-agree" "not documented:$missing"
	fi
done
t_done
