#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-key: keys as wg writes them, key files refused when group or others can read them,
# exit codes.
. "$(dirname "$0")/../lib.sh"
need_cmd ds-key

b64key='^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$'
alice_priv=dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=
alice_pub=hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=   # RFC 7748 section 6.1

mode_of() { stat -c %a "$1"; }

# genkey: one line, 44 characters of canonical base64
ds-key genkey >"$TMP/k1"; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$TMP/k1")" -eq 1 ] && grep -Eq "$b64key" "$TMP/k1"; then
	pass genkey-prints-one-base64-key
else
	fail genkey-prints-one-base64-key "exit $rc: $(head -c 100 "$TMP/k1")"
fi
ds-key genkey >"$TMP/k2"
if cmp -s "$TMP/k1" "$TMP/k2"; then fail genkey-differs-each-time; else pass genkey-differs-each-time; fi

# pubkey of a known key (RFC 7748 Alice), stdin with and without the newline
check pubkey-rfc7748-vector test "$(echo "$alice_priv" | ds-key pubkey)" = "$alice_pub"
check pubkey-input-without-newline test "$(printf %s "$alice_priv" | ds-key pubkey)" = "$alice_pub"
out=$(ds-key pubkey <"$TMP/k1")
check pubkey-round-trip-is-a-key bash -c "[[ '$out' =~ $b64key ]]"
check pubkey-deterministic test "$(ds-key pubkey <"$TMP/k1")" = "$out"

# shell redirect with a loose umask: the file is restricted before the key goes in
(umask 022; ds-key genkey >"$TMP/loose.key")
m=$(mode_of "$TMP/loose.key")
if [ "$m" = 600 ]; then pass genkey-restricts-stdout-file; else fail genkey-restricts-stdout-file "mode $m"; fi
(umask 022; ds-key genkey 2>"$TMP/err" | cat >/dev/null)
check genkey-to-pipe-no-warning test ! -s "$TMP/err"

# a stdout file it may not restrict (not its owner): the key is written, with wg's warning
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null &&
	runuser -u nobody -- test -x "$DS_ROOT/bin/ds-key" 2>/dev/null; then
	mkdir "$TMP/shared" && chmod 1777 "$TMP/shared" && chmod 755 "$TMP"
	touch "$TMP/shared/open.key" && chmod 666 "$TMP/shared/open.key"
	runuser -u nobody -- sh -c "'$DS_ROOT/bin/ds-key' genkey >'$TMP/shared/open.key'" 2>"$TMP/err"; rc=$?
	if [ $rc -eq 0 ] && grep -q 'warning: writing a private key to a file that group or others can read (mode 0666)' "$TMP/err" &&
		grep -Eq "$b64key" "$TMP/shared/open.key"; then
		pass genkey-warns-when-it-cannot-restrict
	else
		fail genkey-warns-when-it-cannot-restrict "exit $rc: $(cat "$TMP/err")"
	fi
	chmod 700 "$TMP"
else
	skip genkey-warns-when-it-cannot-restrict "needs root, runuser, and bin/ds-key reachable by nobody"
fi

# -k: created 0600 whatever the umask, never overwritten
(umask 000; ds-key genkey -k "$TMP/new.key")
m=$(mode_of "$TMP/new.key")
if [ "$m" = 600 ] && grep -Eq "$b64key" "$TMP/new.key"; then pass genkey-k-creates-0600; else
	fail genkey-k-creates-0600 "mode $m"; fi
cp "$TMP/new.key" "$TMP/new.copy"
expect_exit 1 genkey-k-refuses-existing ds-key genkey -k "$TMP/new.key"
check genkey-k-left-existing-alone cmp -s "$TMP/new.key" "$TMP/new.copy"
ln -s "$TMP/nowhere" "$TMP/link.key"
expect_exit 1 genkey-k-refuses-symlink ds-key genkey -k "$TMP/link.key"
check genkey-k-symlink-target-not-created test ! -e "$TMP/nowhere"

# pubkey -k: the mode rule
check pubkey-k-0600-accepted test "$(ds-key pubkey -k "$TMP/new.key")" = "$(ds-key pubkey <"$TMP/new.key")"
for m in 644 640 604 660 606 700 400; do
	chmod "$m" "$TMP/new.key"
	ds-key pubkey -k "$TMP/new.key" >"$TMP/out" 2>"$TMP/err"; rc=$?
	case $m in
	700|400) want=0 ;;
	*) want=1 ;;
	esac
	if [ $rc -ne $want ]; then
		fail "pubkey-k-mode-$m" "exit $rc, want $want"
	elif [ $want -eq 1 ] && ! { [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "$TMP/new.key" "$TMP/err" &&
		grep -q "mode 0$m" "$TMP/err" && [ ! -s "$TMP/out" ]; }; then
		fail "pubkey-k-mode-$m" "message: $(cat "$TMP/err")"
	else
		pass "pubkey-k-mode-$m"
	fi
done
expect_exit 1 pubkey-k-missing-file ds-key pubkey -k "$TMP/no-such.key"

# bad input
expect_exit 1 pubkey-refuses-garbage bash -c "echo hello | ds-key pubkey"
expect_exit 1 pubkey-refuses-empty bash -c "ds-key pubkey </dev/null"
expect_exit 1 pubkey-refuses-trailing-text bash -c "printf '%s\nmore\n' $alice_priv | ds-key pubkey"
expect_exit 1 pubkey-refuses-short-key bash -c "echo ${alice_priv:1} | ds-key pubkey"
expect_exit 1 pubkey-refuses-noncanonical bash -c "echo ${alice_priv:0:42}p= | ds-key pubkey"
if bash -c "echo hello | ds-key pubkey" 2>&1 >/dev/null | grep -q '^ds-key: stdin: not a private key'; then
	pass pubkey-error-names-input
else
	fail pubkey-error-names-input
fi

# usage errors: one line, exit 2
for args in "" "frob" "genkey extra" "--no-such" "-k"; do
	# shellcheck disable=SC2086
	ds-key $args >"$TMP/out" 2>"$TMP/err" </dev/null; rc=$?
	n="usage-error-${args// /_}"; [ -n "$args" ] || n=usage-error-no-command
	if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ]; then pass "$n"; else
		fail "$n" "exit $rc: $(head -2 "$TMP/err" | tr '\n' '|')"; fi
done
expect_exit 0 help-exit-0 ds-key -h

# the same keys as wg, both ways, when wireguard-tools is installed
if command -v wg >/dev/null; then
	k=$(wg genkey)
	check wg-genkey-then-ds-key-pubkey test "$(echo "$k" | ds-key pubkey)" = "$(echo "$k" | wg pubkey)"
	k=$(ds-key genkey)
	check ds-key-genkey-then-wg-pubkey test "$(echo "$k" | wg pubkey)" = "$(echo "$k" | ds-key pubkey)"
	check wg-agrees-rfc7748 test "$(echo "$alice_priv" | wg pubkey)" = "$alice_pub"
else
	skip wg-compare "wg not installed (wireguard-tools)"
fi
t_done
