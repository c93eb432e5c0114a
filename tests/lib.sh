# SPDX-License-Identifier: MIT
# Sourced by tests/cli/*.sh and tests/lab/*.sh.
#
#   pass NAME | fail NAME [why] | skip NAME why      print one result line
#   check NAME CMD...                                 pass if CMD succeeds, else fail
#   need_root, need_cmd CMD...                        exit 77 (skip) with a reason
#   expect_exit CODE NAME CMD...                      pass if CMD exits CODE
: "${DS_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export DS_ROOT
: "${DS_BIN:=$DS_ROOT/bin}"
export DS_BIN
export PATH="$DS_BIN:$DS_ROOT/scripts:$PATH"
T_NAME=$(basename "$0" .sh)
T_FAILS=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ds-test.XXXXXX")
t_cleanup_hooks=()
on_exit() { t_cleanup_hooks+=("$*"); }
t_exit() {
	local rc=$? i
	for ((i = ${#t_cleanup_hooks[@]} - 1; i >= 0; i--)); do eval "${t_cleanup_hooks[$i]}" || true; done
	rm -rf "$TMP"
	exit $rc
}
trap t_exit EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS: $T_NAME/$1"; }
fail() { echo "FAIL: $T_NAME/$1${2:+ — $2}"; T_FAILS=$((T_FAILS + 1)); }
skip() { echo "SKIP: $T_NAME/$1 ($2)"; }
check() {
	local n=$1; shift
	if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi
}
expect_exit() {
	local want=$1 n=$2 rc; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	if [ "$rc" -eq "$want" ]; then pass "$n"; else
		fail "$n" "exit $rc, want $want: $*"; sed 's/^/      /' "$TMP/err" | head -5
	fi
}
need_root() { [ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)"; exit 77; }; }
need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null || { echo "needs $c (scripts/install-deps)"; exit 77; }; done
}
# Finish: exit 1 when any case failed, so tests/run sees it even without lines.
t_done() { [ "$T_FAILS" -eq 0 ]; exit $?; }
