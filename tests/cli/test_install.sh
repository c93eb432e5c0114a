#!/bin/bash
# SPDX-License-Identifier: MIT
# make install / uninstall honour PREFIX and DESTDIR: every tool, man page and completion
# lands where distributions expect it, and uninstall takes back exactly that.
. "$(dirname "$0")/../lib.sh"
need_cmd make
dest=$TMP/root
cd "$DS_ROOT" || exit 1
if make -s install DESTDIR="$dest" PREFIX=/opt/ds >"$TMP/install.log" 2>&1; then
	pass install-runs
else
	fail install-runs "$(tail -3 "$TMP/install.log")"
	t_done
fi
missing=""
for t in cmd/ds-*.c; do
	n=$(basename "$t" .c)
	[ -x "$dest/opt/ds/bin/$n" ] || missing="$missing bin/$n"
	[ -f "$dest/opt/ds/share/bash-completion/completions/$n" ] || missing="$missing bash/$n"
	[ -f "$dest/opt/ds/share/zsh/vendor-completions/_$n" ] || missing="$missing zsh/$n"
	[ -f "$dest/opt/ds/share/fish/vendor_completions.d/$n.fish" ] || missing="$missing fish/$n"
done
for s in scripts/ds-*; do
	[ -x "$dest/opt/ds/bin/$(basename "$s")" ] || missing="$missing bin/$(basename "$s")"
done
for m in man/*.[0-9]; do
	sec=${m##*.}
	[ -f "$dest/opt/ds/share/man/man$sec/$(basename "$m")" ] || missing="$missing $m"
done
[ -z "$missing" ] && pass tools-man-pages-completions-installed || fail tools-man-pages-completions-installed "$missing"
if [ -z "$(find "$dest" -perm /6000 -type f)" ]; then
	pass nothing-installed-setuid
else
	fail nothing-installed-setuid "$(find "$dest" -perm /6000 -type f)"
fi
if man -l "$dest/opt/ds/share/man/man1/ds-trace6.1" >/dev/null 2>&1; then pass installed-man-page-renders; else fail installed-man-page-renders; fi
make -s uninstall DESTDIR="$dest" PREFIX=/opt/ds >"$TMP/uninstall.log" 2>&1
left=$(find "$dest" -type f)
[ -z "$left" ] && pass uninstall-removes-everything || fail uninstall-removes-everything "$(echo "$left" | head -5 | tr '\n' ' ')"
t_done
