#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-trace6 on loopback: the destination answers, CSV has SPEC's columns, ASN/geo come
# from a MaxMind DB, and bad input is refused with one line. (-n everywhere: no DNS query
# may leave this machine.)
. "$(dirname "$0")/../lib.sh"
need_cmd perl

out=$(ds-trace6 -n -p 0 --csv 127.0.0.1:9)
hdr=$(echo "$out" | head -1)
case $hdr in
ts,tool,target,hop,addr,rtt_ms,delta_ms,reply,*) pass csv-header-has-spec-columns ;;
*) fail csv-header-has-spec-columns "$hdr" ;;
esac
row=$(echo "$out" | sed -n 2p)
IFS=, read -r ts tool target hop addr rtt delta reply rest <<<"$row"
if [ "$tool" = ds-trace6 ] && [ "$target" = 127.0.0.1:9 ] && [ "$hop" = 1 ] &&
	[ "$addr" = 127.0.0.1 ] && [ "$reply" = destination ] && [ -n "$rtt" ] && [ -z "$delta" ] &&
	[[ $ts =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$ ]]; then
	pass loopback-destination-row
else
	fail loopback-destination-row "$row"
fi
if ds-trace6 -n -p 0 --csv --no-header ::1 | grep -q '^[^,]*,ds-trace6,\[::1\]:41878,1,::1,[0-9.]*,,destination,1,1,'; then
	pass ipv6-loopback-and-no-header
else
	fail ipv6-loopback-and-no-header
fi

perl "$DS_ROOT/tests/helpers/mkmmdb.pl" "$TMP/t.mmdb" '127.0.0.0/8=64500,Loopback Net,US,Austin' \
	'::1/128=64501,Six Net,DE,' 2>"$TMP/perl.err"
if [ -s "$TMP/t.mmdb" ]; then
	if ds-trace6 -n -p 0 --mmdb "$TMP/t.mmdb" 127.0.0.1:9 | grep -q 'AS64500 Loopback Net  US Austin'; then
		pass mmdb-asn-and-city
	else
		fail mmdb-asn-and-city
	fi
	if ds-trace6 -n -p 0 --csv --mmdb "$TMP/t.mmdb" ::1 | grep -q ',64501,Six Net,DE,$'; then
		pass mmdb-ipv6-csv-columns
	else
		fail mmdb-ipv6-csv-columns
	fi
else
	skip mmdb-asn-and-city "could not build a test mmdb: $(head -1 "$TMP/perl.err")"
fi
echo "not a database" >"$TMP/bad.mmdb"
expect_exit 1 bad-mmdb-is-a-runtime-error ds-trace6 -n -p 0 --mmdb "$TMP/bad.mmdb" 127.0.0.1
grep -q "bad.mmdb" "$TMP/err" && pass bad-mmdb-names-the-file || fail bad-mmdb-names-the-file

expect_exit 2 missing-target ds-trace6 -n
expect_exit 2 bad-max-hops ds-trace6 -n -m 0 127.0.0.1
grep -q "'0'" "$TMP/err" && pass usage-error-echoes-bad-value || fail usage-error-echoes-bad-value
expect_exit 2 max-below-first ds-trace6 -n -f 9 -m 3 127.0.0.1
expect_exit 2 family-mismatch ds-trace6 -n -4 ::1
expect_exit 2 bad-wait ds-trace6 -n -w soon 127.0.0.1
[ "$(wc -l <"$TMP/err")" -eq 1 ] && pass usage-error-is-one-line || fail usage-error-is-one-line

# The warm port is taken (by an agent, say): a clear error, not a silent wrong port.
python3 -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",0)); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$TMP/port" &
holder=$!
on_exit "kill $holder 2>/dev/null"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$TMP/port" ] && break; sleep 0.1; done
expect_exit 1 port-in-use-is-reported ds-trace6 -n -p "$(cat "$TMP/port")" 127.0.0.1:9
grep -q -- "-p 0" "$TMP/err" && pass port-in-use-suggests-p0 || fail port-in-use-suggests-p0
t_done
