// SPDX-License-Identifier: MIT
/*
 * ds-ctlecho: a local tool on the agent's control socket, as ds-pairprobe will be: it
 * registers a run, has the agent seal and send echo requests to a peer agent, and checks
 * that every forwarded packet is of its own run. Built by the tests against build/libds.a.
 *
 *   ds-ctlecho --state DIR --peer NAME [-c COUNT] [-i MS] [--hold SECONDS] [--dst ADDR]
 * --dst sends to ADDR (e.g. the peer's IPv6 address) instead of the peer's current path.
 * Prints "run RUN sent N replies N foreign N rtt_min_us X from ADDR" (ADDR: where the
 * first reply came from); exit 0 when every request got its reply and nothing foreign
 * arrived.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "ctl.h"
#include "wire.h"

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"state", required_argument, NULL, 'S'},
	    {"peer", required_argument, NULL, 'P'},
	    {"hold", required_argument, NULL, 'H'},
	    {"txstamp", no_argument, NULL, 'T'},
	    {"dst", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const char *state = NULL, *peer = NULL;
	struct ds_addr dst = {0}, from = {0};
	char from_s[DS_ADDR_STRLEN] = "-";
	unsigned count = 20, interval_ms = 5, hold = 0, replies = 0, foreign = 0, sent = 0;
	unsigned txstamps = 0, flags = 0;
	struct ds_ctl_client *c;
	struct ds_ctl_msg m, info;
	uint8_t buf[DS_CTL_MSG_MAX];
	uint32_t run = ds_ctl_run_id_random();
	int64_t rtt_min = -1, deadline;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "c:i:", lo, NULL)) != -1) {
		switch (opt) {
		case 'S':
			state = optarg;
			break;
		case 'P':
			peer = optarg;
			break;
		case 'H':
			hold = (unsigned)atoi(optarg);
			break;
		case 'T':
			flags = DS_CTL_SEND_TX_STAMP;
			break;
		case 'D':
			if (ds_addr_parse(optarg, 0, DS_ADDR_PORT_REQUIRED, &dst) != 0) {
				fprintf(stderr, "ds-ctlecho: bad --dst '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c':
			count = (unsigned)atoi(optarg);
			break;
		case 'i':
			interval_ms = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!state || !peer)
		return 2;
	err = ds_ctl_connect(state, "ds-ctlecho", run, "echo", peer, &c);
	if (err) {
		fprintf(stderr, "ds-ctlecho: connect: %s\n", strerror(-err));
		return 1;
	}
	/* Wait for the agent's session with the peer. */
	deadline = ds_clock_ns() + 5 * DS_NSEC_PER_SEC;
	while ((err = ds_ctl_peer(c, peer, &info)) == 0 &&
	       !(info.peer_info.peer_flags & DS_CTL_PEER_ESTABLISHED) && ds_clock_ns() < deadline)
		usleep(50000);
	if (err || !(info.peer_info.peer_flags & DS_CTL_PEER_ESTABLISHED)) {
		fprintf(stderr, "ds-ctlecho: peer %s not established (%s)\n", peer,
			err ? strerror(-err) : "no handshake");
		ds_ctl_close(c);
		return 1;
	}
	if (hold) {
		printf("run %08x holding\n", run);
		fflush(stdout);
		sleep(hold);
	}
	for (unsigned i = 0; i < count; i++) {
		struct ds_wire_echo e = {.seq = i + 1, .sender_tx_ns = (uint64_t)ds_clock_ns()};
		uint8_t body[DS_WIRE_ECHO_LEN];

		ds_wire_echo_encode(&e, body, sizeof(body));
		if (ds_ctl_send(c, run, peer, DS_WIRE_ECHO_REQUEST, body, sizeof(body),
				dst.len ? &dst : NULL, flags, NULL) == 0)
			sent++;
		while (ds_ctl_recv(c, &m, buf, sizeof(buf), (int)interval_ms) == 0) {
			struct ds_wire_echo r;

			if (m.type == DS_CTL_TXSTAMP && m.run_id == run) {
				txstamps++;
				continue;
			}
			if (m.type != DS_CTL_PACKET || m.run_id != run ||
			    m.packet.wire_type != DS_WIRE_ECHO_REPLY ||
			    ds_wire_echo_decode(m.packet.body, m.packet.body_len, &r) != 0) {
				foreign++;
				continue;
			}
			if (!replies++)
				from = m.packet.src;
			if (rtt_min < 0 || m.packet.rx_ns - (int64_t)r.sender_tx_ns < rtt_min)
				rtt_min = m.packet.rx_ns - (int64_t)r.sender_tx_ns;
		}
	}
	deadline = ds_clock_ns() + DS_NSEC_PER_SEC;
	while (replies < sent && ds_clock_ns() < deadline &&
	       ds_ctl_recv(c, &m, buf, sizeof(buf), 200) == 0) {
		if (m.type == DS_CTL_PACKET && m.run_id == run &&
		    m.packet.wire_type == DS_WIRE_ECHO_REPLY)
			replies++;
		else if (m.type == DS_CTL_TXSTAMP && m.run_id == run)
			txstamps++;
		else
			foreign++;
	}
	ds_ctl_unregister(c, run, 0, replies == count ? "ok" : "loss");
	ds_ctl_close(c);
	if (from.len)
		ds_addr_format(&from, true, from_s, sizeof(from_s));
	printf("run %08x sent %u replies %u foreign %u txstamps %u rtt_min_us %.1f from %s\n", run,
	       sent, replies, foreign, txstamps, rtt_min < 0 ? -1.0 : rtt_min / 1e3, from_s);
	return replies == count && sent == count && foreign == 0 && (!flags || txstamps == count)
		   ? 0
		   : 1;
}
