#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-capture's command line: bad input refused with one line naming it; a file that is not a
# capture is a runtime error naming the file.
. "$(dirname "$0")/../lib.sh"
expect_exit 2 port-zero-refused ds-capture -p 0
grep -q "'0'" "$TMP/err" && pass error-echoes-value || fail error-echoes-value
expect_exit 2 bad-peer ds-capture --peer not-an-address
expect_exit 2 bad-duration ds-capture --duration forever
expect_exit 2 read-with-interface ds-capture -r x.pcapng -i eth0
expect_exit 2 stray-argument ds-capture extra
echo "not a capture" >"$TMP/junk"
expect_exit 1 unreadable-capture-file ds-capture -r "$TMP/junk"
grep -q "junk" "$TMP/err" && pass error-names-file || fail error-names-file
t_done
