#!/bin/bash
# SPDX-License-Identifier: MIT
# Hairpinning is on or off as the topology says, shown by two agents on one LAN reaching
# each other through the NAT's public mapping (and by natdiscovery -H); the stateful IPv6
# firewall drops unsolicited inbound and passes replies.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab turnserver turnutils_natdiscovery socat nft

export DS_LAB_PREFIX=th$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/hairpin.topo" || { fail up "ds-lab up hairpin.topo"; t_done; }
stun=$(ds-lab addr stun v4)
# wait_udp NODE PORT: until something listens on that UDP port in NODE (5 s at most)
wait_udp() {
	local i
	for ((i = 0; i < 50; i++)); do
		ds-lab exec "$1" -- ss -Hlun "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
# socat runs this for a received datagram: print it and where it came from
printf '#!/bin/sh\necho "$(cat) from $SOCAT_PEERADDR"\n' >"$TMP/show"
chmod +x "$TMP/show"

# hairpin A B NAT: B opens a mapping from port 5000 (one packet to the STUN server), then
# listens there; A sends to NAT's public address, port 5000. Prints what B received and
# from where, or nothing.
hairpin() {
	local a=$1 b=$2 nat=$3 pub=${4:-}
	[ -n "$pub" ] || pub=$(ds-lab addr "$nat")
	echo x | ds-lab exec "$b" -- socat -u - "UDP4-SENDTO:$stun:3478,sourceport=5000,reuseaddr"
	ds-lab exec "$b" -- timeout 3 socat -u "UDP4-RECVFROM:5000,reuseaddr" \
		"EXEC:$TMP/show" >"$TMP/hp-$b" 2>/dev/null &
	local rx=$!
	wait_udp "$b" 5000 || echo "no listener on $b:5000" >&2
	echo "hello-$a" | ds-lab exec "$a" -- socat -u - "UDP4-SENDTO:$pub:5000"
	wait $rx || true
	cat "$TMP/hp-$b"
}
got=$(hairpin h1 h2 hp)
echo "hairpin=on:  h1 -> public:5000 -> h2: ${got:-nothing}"
if [ "$got" = "hello-h1 from $(ds-lab addr hp)" ]; then pass hairpin-on-reaches-lan-peer-via-public-mapping
else fail hairpin-on-reaches-lan-peer-via-public-mapping "h2 got '${got}'"; fi
got=$(hairpin n1 n2 nohp)
echo "hairpin=off: n1 -> public:5000 -> n2: ${got:-nothing}"
if [ -z "$got" ]; then pass hairpin-off-does-not-loop-back
else fail hairpin-off-does-not-loop-back "n2 got '$got'"; fi
# control: the same datagram to n2's LAN address arrives, so the silence above is the NAT's
got=$(hairpin n1 n2 nohp "$(ds-lab addr n2)")
if [ "$got" = "hello-n1 from $(ds-lab addr n1)" ]; then pass lan-peers-reach-each-other-directly
else fail lan-peers-reach-each-other-directly "n2 got '$got'"; fi

# coturn's own hairpinning discovery agrees (background both: each waits for timeouts)
ds-lab exec h1 -- timeout 15 turnutils_natdiscovery -H "$stun" >"$TMP/H-h1" 2>&1 &
ds-lab exec n1 -- timeout 15 turnutils_natdiscovery -H "$stun" >"$TMP/H-n1" 2>&1 &
wait
grep -q 'successful hairpinning' "$TMP/H-h1" && pass natdiscovery-hairpin-on || fail natdiscovery-hairpin-on
grep -q 'successful hairpinning' "$TMP/H-n1" && fail natdiscovery-hairpin-off || pass natdiscovery-hairpin-off

# IPv6 firewall: in6 (behind fw, global address) and out6 (open, on the WAN)
in6=$(ds-lab addr in6 v6) out6=$(ds-lab addr out6 v6)
if ds-lab exec in6 -- ping -6 -c 2 -i 0.2 -W 1 -q "$out6" >/dev/null; then pass fw6-outbound-ping-replies-pass
else fail fw6-outbound-ping-replies-pass; fi
if ds-lab exec out6 -- ping -6 -c 2 -i 0.2 -W 1 -q "$in6" >/dev/null 2>&1; then fail fw6-unsolicited-ping-dropped
else pass fw6-unsolicited-ping-dropped; fi
# unsolicited UDP to a listening port never arrives
ds-lab exec in6 -- timeout 2 socat -u UDP6-RECVFROM:6000,reuseaddr - >"$TMP/u6" 2>/dev/null &
rx=$!
wait_udp in6 6000 || echo "no listener on in6:6000" >&2
echo unsolicited | ds-lab exec out6 -- socat -u - "UDP6-SENDTO:[$in6]:6000"
wait $rx || true
if [ -s "$TMP/u6" ]; then fail fw6-unsolicited-udp-dropped "got $(cat "$TMP/u6")"
else pass fw6-unsolicited-udp-dropped; fi
# a UDP reply to what in6 sent first passes
ds-lab exec out6 -- timeout 3 socat -T 2 "UDP6-RECVFROM:7000,reuseaddr" SYSTEM:'cat; echo reply' >/dev/null 2>&1 &
wait_udp out6 7000 || echo "no listener on out6:7000" >&2
got=$(echo ask | ds-lab exec in6 -- timeout 2 socat -T 1 - "UDP6-SENDTO:[$out6]:7000,sourceport=6001" 2>/dev/null | grep reply)
wait || true
if [ "$got" = reply ]; then pass fw6-udp-reply-passes
else fail fw6-udp-reply-passes "got '$got'"; fi
t_done
