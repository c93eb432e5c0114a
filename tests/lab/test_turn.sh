#!/bin/bash
# SPDX-License-Identifier: MIT
# The TURN client (libds/turn) across the lab (examples/lab/six.topo): agents behind NATs
# allocate on the lab's coturn with each credential kind (long-term user on 3478, REST
# secret on 3480, as the topology file says), permit and bind the public agent a6, and
# relay datagrams to an echo peer there and back. The server sees the NAT's address (our
# XOR-MAPPED-ADDRESS is the NAT's public one), the relayed address is the server's, and
# the peer sees the relayed address as the source — the data really crossed the relay.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab turnserver python3 cc

# the driver links the library of the build under test (sanitized when DS_BIN is)
LIB=$DS_ROOT/build/libds.a SAN=()
[[ "$DS_BIN" == */build/asan/bin ]] && LIB=$DS_ROOT/build/asan/libds.a SAN=(-fsanitize=address,undefined)
[ -f "$LIB" ] || { echo "needs $LIB (make)"; exit 77; }
cc -std=gnu11 -D_GNU_SOURCE -O1 "${SAN[@]}" -iquote "$DS_ROOT/libds" \
	"$DS_ROOT/tests/helpers/ds-turnrelay.c" "$LIB" -lssl -lcrypto -lm -o "$TMP/ds-turnrelay" ||
	{ fail build-driver; t_done; }

TOPO=$DS_ROOT/examples/lab/six.topo
turn_line=$(grep '^turn ' "$TOPO")
USERPW=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$turn_line")
SECRET=$(sed -n 's/.*secret=\([^ ]*\).*/\1/p' <<<"$turn_line")
PORT=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' <<<"$turn_line")
RPORT=$(sed -n 's/.*rest-port=\([0-9]*\).*/\1/p' <<<"$turn_line")
: "${USERPW:=ds:dspass}" "${SECRET:=dslabsecret}" "${PORT:=3478}"
: "${RPORT:=$((PORT + 2))}"

export DS_LAB_PREFIX=tt$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down >/dev/null 2>&1"
ds-lab up "$TOPO" >"$TMP/up.log" 2>&1 || { fail lab-up "$(tail -3 "$TMP/up.log")"; t_done; }
stun=$(ds-lab addr stun v4)
# coturn relays from any of the server's IPv4 addresses (six.topo gives it two)
stun_all=" $(ds-lab list | awk '$1 == "stun" { print $5 }' | tr ',' ' ') "
peer=$(ds-lab addr a6 v4)
EP=40999

cat >"$TMP/echo.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
log = open(sys.argv[2], "a", buffering=1)
while True:
    data, src = s.recvfrom(65536)
    log.write("%s:%d\n" % src)
    s.sendto(data, src)
PY
ds-lab exec a6 -- python3 "$TMP/echo.py" $EP "$TMP/peer-seen.log" </dev/null >/dev/null 2>&1 &
ECHO=$!
on_exit "kill $ECHO 2>/dev/null; wait $ECHO 2>/dev/null"
for _ in $(seq 50); do
	ds-lab exec a6 -- ss -Hlun "sport = :$EP" | grep -q . && break
	sleep 0.1
done

val() { sed -n "s/^$2 .*\b$3=\([^ ]*\).*/\1/p" "$1" | head -1; }

lab_case() { # NAME AGENT NAT-PUBLIC-ADDRESS PORT CREDENTIAL-ARGS...
	local n=$1 agent=$2 natpub=$3 port=$4 out=$TMP/$1.out rc relayed mapped
	shift 4
	: >"$TMP/peer-seen.log"
	ds-lab exec "$agent" -- "$TMP/ds-turnrelay" -s "$stun:$port" "$@" -P "$peer:$EP" -c 5 \
		</dev/null >"$out" 2>&1
	rc=$?
	sed 's/^/      /' "$out"
	[ $rc -eq 0 ] && pass "$n/allocate-permit-bind-relay-release" ||
		fail "$n/allocate-permit-bind-relay-release" "exit $rc"
	relayed=$(val "$out" allocated relayed) mapped=$(val "$out" allocated mapped)
	[[ "$stun_all" == *" ${relayed%:*} "* ]] && pass "$n/relayed-address-is-the-servers" ||
		fail "$n/relayed-address-is-the-servers" "$relayed"
	[[ "$mapped" == "$natpub":* ]] && pass "$n/mapped-address-is-the-nats" ||
		fail "$n/mapped-address-is-the-nats" "$mapped, NAT $natpub"
	grep -q '^echo via=send sent=5 received=5 indications=5' "$out" &&
		grep -q '^echo via=channel sent=5 received=5 indications=0 channeldata=5' "$out" &&
		pass "$n/relayed-both-ways-by-indication-and-channel" ||
		fail "$n/relayed-both-ways-by-indication-and-channel"
	# everything the peer got came from the relayed address
	if [ -s "$TMP/peer-seen.log" ] && [ "$(sort -u "$TMP/peer-seen.log")" = "$relayed" ]; then
		pass "$n/peer-sees-only-the-relayed-address"
	else
		fail "$n/peer-sees-only-the-relayed-address" "$(sort -u "$TMP/peer-seen.log" | tr '\n' ' ')"
	fi
}

home1=$(ds-lab list | awk '$1 == "home1" { print $5 }')
cgn=$(ds-lab list | awk '$1 == "cgn" { print $5 }')
lab_case long-term-behind-full-cone a3 "${home1%%/*}" "$PORT" -u "${USERPW%%:*}" -p "${USERPW#*:}"
lab_case rest-behind-carrier-nat a5 "${cgn%%/*}" "$RPORT" -S "$SECRET" -n a5
lab_case rest-behind-full-cone a3 "${home1%%/*}" "$RPORT" -S "$SECRET" -n a3
lab_case long-term-behind-carrier-nat a5 "${cgn%%/*}" "$PORT" -u "${USERPW%%:*}" -p "${USERPW#*:}"
t_done
