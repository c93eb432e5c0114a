#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-lab leaves nothing behind: after "down", after an "up" that fails half-way, and after a
# topology error, no namespace, veth, bridge, process or run state of the lab remains; the
# root namespace is never touched; two labs with different prefixes coexist.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ds-lab turnserver nft conntrack

P1=ta$$ P2=tb$$
export DS_LAB_RUN=$TMP/run
on_exit "ds-lab --prefix $P1 down; ds-lab --prefix $P2 down; ds-lab --prefix tc$$ down"
lab1() { ds-lab --prefix "$P1" "$@"; }
lab2() { ds-lab --prefix "$P2" "$@"; }
# root-namespace devices whose other end lives in a namespace of prefix P (must be none)
root_links_into() { ip -o link show | grep -c "link-netns $1-" || true; }
# what a lab of prefix P leaves: namespaces, run dir, processes in its namespaces
leftovers() {
	local p=$1 ns out=""
	for ns in $(ip netns list | awk '{ print $1 }' | grep "^$p-"); do
		out="$out ns:$ns"
		for pid in $(ip netns pids "$ns" 2>/dev/null); do out="$out pid:$pid"; done
	done
	[ ! -e "$DS_LAB_RUN/$p" ] || out="$out rundir:$DS_LAB_RUN/$p"
	pgrep -f -- "$DS_LAB_RUN/$p/" >/dev/null && out="$out procs:$(pgrep -f -- "$DS_LAB_RUN/$p/" | tr '\n' ' ')"
	echo "$out"
}
topo=$DS_ROOT/examples/lab/nat-behaviours.topo

# -- usage and topology errors
expect_exit 0 help-exit-0 ds-lab -h
expect_exit 2 unknown-command-exit-2 ds-lab frobnicate
expect_exit 2 up-without-topology-exit-2 lab1 up
cat >"$TMP/bad.topo" <<'T'
# a fine line, then a bad one
agent ok v4=203.0.113.5
nat   n1 type=cone-ish v4=203.0.113.6 lan=192.168.1.1/24
T
lab1 up "$TMP/bad.topo" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "bad.topo:3: type=cone-ish" "$TMP/err"; then pass topology-error-names-file-line-exit-2
else fail topology-error-names-file-line-exit-2 "exit $rc: $(cat "$TMP/err")"; fi
[ -z "$(leftovers "$P1")" ] && pass topology-error-leaves-nothing || fail topology-error-leaves-nothing "$(leftovers "$P1")"
cat >"$TMP/leak.topo" <<'T'
agent leak v4=10.1.2.3
T
lab1 up "$TMP/leak.topo" 2>"$TMP/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "leak.topo:1:.*documentation range" "$TMP/err"; then pass wan-address-must-be-documentation-range
else fail wan-address-must-be-documentation-range "exit $rc: $(cat "$TMP/err")"; fi

# -- a full up and down
t0=$(date +%s.%N)
if lab1 up "$topo"; then pass up-nat-behaviours; else fail up-nat-behaviours; fi
echo "up nat-behaviours.topo: $(echo "$(date +%s.%N) - $t0" | bc) s"
n=$(ip netns list | grep -c "^$P1-")
[ "$n" -eq 16 ] && pass one-namespace-per-node || fail one-namespace-per-node "$n namespaces"
[ "$(lab1 ns a_eif)" = "$P1-a_eif" ] && pass ns-prints-namespace || fail ns-prints-namespace
[ "$(lab1 addr stun v4)" = 203.0.113.10 ] && [ "$(lab1 addr stun v6)" = 2001:db8::10 ] &&
	pass addr-prints-addresses || fail addr-prints-addresses
[ "$(lab1 addr a_eif)" = 192.168.31.10 ] && pass addr-default-v4 || fail addr-default-v4 "$(lab1 addr a_eif)"
expect_exit 1 addr-missing-family-exit-1 lab1 addr a_eif v6
expect_exit 1 exec-unknown-node-exit-1 lab1 exec nosuch -- true
lab1 list | grep -qP '^a_adf\tagent\tadf\t' && pass list-shows-nodes || fail list-shows-nodes
[ "$(lab1 exec a_apdf -- ip -o -4 addr show dev eth0 | awk '{ print $4 }')" = 192.168.33.10/24 ] &&
	pass exec-runs-in-namespace || fail exec-runs-in-namespace
pids=$(ip netns pids "$P1-stun" | wc -l)
[ "$pids" -eq 2 ] && pass two-coturn-processes-tracked || fail two-coturn-processes-tracked "$pids pids in $P1-stun"
[ -s "$DS_LAB_RUN/$P1/turn-stun.log" ] && pass coturn-logs-in-run-dir || fail coturn-logs-in-run-dir
expect_exit 1 second-up-same-prefix-refused lab1 up "$topo"

# -- a second lab with another prefix, at the same time, on the same addresses
if lab2 up "$DS_ROOT/examples/lab/link.topo" 2>"$TMP/err"; then pass second-prefix-coexists
else fail second-prefix-coexists "$(cat "$TMP/err")"; fi
if command -v ds-link >/dev/null; then
	lab2 exec left -- ping -c 1 -W 2 -q 203.0.113.102 >/dev/null && pass second-lab-works || fail second-lab-works
fi
lab1 exec open -- ping -c 1 -W 2 -q 203.0.113.10 >/dev/null && pass first-lab-still-works || fail first-lab-still-works
n=$(($(root_links_into "$P1") + $(root_links_into "$P2")))
[ "$n" -eq 0 ] && pass root-namespace-untouched || fail root-namespace-untouched "$n root devices lead into the labs"
if ip netns exec "$P1-wan" ip route get 8.8.8.8 >/dev/null 2>&1; then
	fail wan-routes-nowhere-outside "the WAN has a route to 8.8.8.8"
else pass wan-routes-nowhere-outside; fi

# -- down
lab1 down
out=$(leftovers "$P1")
[ -z "$out" ] && pass down-leaves-nothing || fail down-leaves-nothing "$out"
[ "$(ip netns list | grep -c "^$P2-")" -gt 0 ] && pass down-spares-other-prefix || fail down-spares-other-prefix
lab2 down
out=$(leftovers "$P2")
[ -z "$out" ] && pass down-second-leaves-nothing || fail down-second-leaves-nothing "$out"

# -- an up that fails half-way (after coturn started) tears everything down
mkdir -p "$TMP/bin"
printf '#!/bin/sh\necho "fake ds-link: failing on purpose" >&2\nexit 1\n' >"$TMP/bin/ds-link"
chmod +x "$TMP/bin/ds-link"
cat "$topo" >"$TMP/fail.topo"
echo "link a_eif eif delay=10ms" >>"$TMP/fail.topo"
if PATH=$TMP/bin:$PATH lab1 up "$TMP/fail.topo" 2>"$TMP/err"; then fail failing-up-exits-nonzero
else pass failing-up-exits-nonzero; fi
out=$(leftovers "$P1")
[ -z "$out" ] && pass failing-up-leaves-nothing || fail failing-up-leaves-nothing "$out"
pgrep -x turnserver >/dev/null && pgrep -a turnserver | grep -q "$P1" && fail failing-up-kills-coturn || pass failing-up-kills-coturn
# -- a test that fails with its lab up still leaves nothing (lib.sh's on_exit hook)
P3=tc$$
cat >"$TMP/failing.sh" <<'T'
. "$DS_ROOT/tests/lib.sh"
export DS_LAB_PREFIX=$1 DS_LAB_RUN=$2
on_exit "ds-lab down"
ds-lab up "$DS_ROOT/examples/lab/hairpin.topo" || exit 3
ds-lab exec h1 -- sleep 60 &
fail deliberately "this test fails on purpose"
exit 1
T
DS_ROOT=$DS_ROOT bash "$TMP/failing.sh" "$P3" "$DS_LAB_RUN" >"$TMP/failing.out" 2>&1
rc=$?
out=$(leftovers "$P3")
if [ $rc -eq 1 ] && [ -z "$out" ]; then pass failing-test-leaves-nothing
else fail failing-test-leaves-nothing "exit $rc, left: $out"; fi
t_done
