// SPDX-License-Identifier: MIT
/*
 * ds-badpeer: a peer that answers ds-pairprobe's requests the way a broken or hostile
 * responder would, to pin down that such answers are counted and never make a figure. It
 * has its own key and UDP socket, proves its session to the agent (the handshake), and then
 * for a run's echo requests, by sequence number:
 *   2  answered twice (duplicate)            3  answered 400 ms late
 *   4  held until 5 is answered (reordered)  6  sender time not echoed (forged)
 *   7  turnaround longer than any round trip 8  rx_count beyond what was sent
 *   9  an echo reply body too short to decode, then the right answer late by 400 ms
 * every other echo right; pair requests answered right, plus one unsolicited pair-data
 * packet per run. Built by the tests: cc -Ilibds tests/helpers/ds-badpeer.c build/libds.a.
 *
 *   ds-badpeer -k KEY -P AGENT_PUBKEY -b BIND_ADDR:PORT -t SECONDS AGENT_ADDR:PORT
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "key.h"
#include "pair.h"
#include "wire.h"

static int fd;
static struct ds_pair *pair;
static struct ds_addr target;
static uint32_t rx_count;

struct held {
	int64_t due;
	uint32_t run_id;
	struct ds_wire_echo e;
	size_t len;
	bool used;
};
static struct held held[16];

static void send_sealed(uint8_t type, uint32_t run_id, const uint8_t *body, size_t blen)
{
	uint8_t pkt[DS_WIRE_MAX_PACKET];
	int len = ds_pair_seal(pair, type, run_id, body, blen, pkt, sizeof(pkt));

	if (len > 0)
		sendto(fd, pkt, (size_t)len, 0, &target.sa, target.len);
}

static void send_echo(uint32_t run_id, struct ds_wire_echo *e, size_t len)
{
	uint8_t body[DS_WIRE_MAX_PACKET];
	size_t blen = len - DS_WIRE_OVERHEAD;

	e->responder_tx_ns = (uint64_t)ds_clock_ns();
	if (ds_wire_echo_encode(e, body, blen) >= 0)
		send_sealed(DS_WIRE_ECHO_REPLY, run_id, body, blen);
}

static void hold(uint32_t run_id, const struct ds_wire_echo *e, size_t len, int64_t due)
{
	for (unsigned i = 0; i < 16; i++)
		if (!held[i].used) {
			held[i] = (struct held){due, run_id, *e, len, true};
			return;
		}
}

static void release(int64_t now, uint32_t seq_done)
{
	for (unsigned i = 0; i < 16; i++)
		if (held[i].used && ((held[i].due && now >= held[i].due) ||
				     (!held[i].due && seq_done == held[i].e.seq + 1))) {
			held[i].used = false;
			send_echo(held[i].run_id, &held[i].e, held[i].len);
		}
}

static void on_echo(uint32_t run_id, const uint8_t *body, size_t blen, size_t pkt_len, int64_t now)
{
	struct ds_wire_echo e;
	size_t len;

	if (ds_wire_echo_decode(body, blen, &e) != 0)
		return;
	e.rx_count = ++rx_count;
	e.responder_rx_ns = (uint64_t)now;
	len = ds_wire_echo_reply_len(&e, pkt_len);
	switch (e.seq) {
	case 2:
		send_echo(run_id, &e, len);
		send_echo(run_id, &e, len);
		break;
	case 3:
		hold(run_id, &e, len, now + 400 * DS_NSEC_PER_MSEC);
		break;
	case 4:
		hold(run_id, &e, len, 0); /* after 5 */
		break;
	case 6:
		e.sender_tx_ns ^= 0x10000;
		send_echo(run_id, &e, len);
		break;
	case 7: {
		uint8_t b[DS_WIRE_MAX_PACKET];

		e.responder_tx_ns = e.responder_rx_ns + 10 * DS_NSEC_PER_SEC;
		if (ds_wire_echo_encode(&e, b, len - DS_WIRE_OVERHEAD) >= 0)
			send_sealed(DS_WIRE_ECHO_REPLY, run_id, b, len - DS_WIRE_OVERHEAD);
		break;
	}
	case 8:
		e.rx_count = 1000000;
		send_echo(run_id, &e, len);
		break;
	case 9: {
		uint8_t b[8] = {0};
		struct ds_wire_pair_data d = {.seq = 0x70000000u, .index = 9, .size = 200};
		uint8_t pd[200 - DS_WIRE_OVERHEAD];

		send_sealed(DS_WIRE_ECHO_REPLY, run_id, b, sizeof(b));
		if (ds_wire_pair_data_encode(&d, pd, sizeof(pd)) >= 0)
			send_sealed(DS_WIRE_PAIR_DATA, run_id, pd, sizeof(pd));
		hold(run_id, &e, len, now + 400 * DS_NSEC_PER_MSEC);
		break;
	}
	default:
		send_echo(run_id, &e, len);
	}
	release(now, e.seq);
}

static void on_pair_request(uint32_t run_id, const uint8_t *body, size_t blen)
{
	struct ds_wire_pair_request r;

	if (ds_wire_pair_request_decode(body, blen, &r) != 0)
		return;
	for (uint16_t k = 0; k < r.count; k++)
		for (uint8_t m = 0; m < 2; m++) {
			struct ds_wire_pair_data d = {.seq = r.seq,
						      .index = k,
						      .member = m,
						      .size = r.size,
						      .count = r.count,
						      .sender_tx_ns = r.sender_tx_ns};
			uint8_t pd[DS_WIRE_MAX_PACKET];
			size_t pl = r.size - DS_WIRE_OVERHEAD;

			d.responder_tx_ns = (uint64_t)ds_clock_ns();
			if (ds_wire_pair_data_encode(&d, pd, pl) >= 0)
				send_sealed(DS_WIRE_PAIR_DATA, run_id, pd, pl);
		}
}

int main(int argc, char **argv)
{
	const char *keyfile = NULL, *peerpub = NULL, *bind_s = NULL;
	uint8_t priv[DS_KEY_LEN], pub[DS_KEY_LEN];
	struct ds_pair_keys keys;
	struct ds_addr local;
	uint64_t session;
	int64_t end;
	unsigned seconds = 10;
	int opt;

	while ((opt = getopt(argc, argv, "k:P:b:t:")) != -1) {
		switch (opt) {
		case 'k':
			keyfile = optarg;
			break;
		case 'P':
			peerpub = optarg;
			break;
		case 'b':
			bind_s = optarg;
			break;
		case 't':
			seconds = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !bind_s ||
	    ds_addr_parse(argv[optind], 0, DS_ADDR_PORT_REQUIRED, &target) ||
	    ds_addr_parse(bind_s, 0, DS_ADDR_PORT_REQUIRED, &local)) {
		fprintf(stderr, "usage: ds-badpeer -k KEY -P PUB -b ADDR:PORT [-t S] AGENT:PORT\n");
		return 2;
	}
	if (!keyfile || !peerpub || ds_key_load_private(keyfile, priv, NULL) ||
	    ds_key_from_base64(peerpub, pub) || ds_key_pair_derive(priv, pub, &keys) ||
	    ds_pair_new_session_id(&session) || ds_pair_new(&keys, session, &pair)) {
		fprintf(stderr, "ds-badpeer: bad key, peer key or crypto setup\n");
		return 2;
	}
	fd = socket(ds_addr_family(&target), SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, &local.sa, local.len) < 0) {
		perror("ds-badpeer: bind");
		return 1;
	}
	end = ds_clock_ns() + (int64_t)seconds * DS_NSEC_PER_SEC;
	while (ds_clock_ns() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint8_t pkt[2048], body[DS_WIRE_MAX_PACKET], ka[DS_WIRE_MAX_PACKET];
		int64_t now = ds_clock_ns();
		struct ds_wire_hdr h;
		size_t blen;
		ssize_t n;
		int len;

		if (ds_pair_keepalive_due(pair, now) &&
		    (len = ds_pair_keepalive(pair, now, ka, sizeof(ka))) > 0)
			sendto(fd, ka, (size_t)len, 0, &target.sa, target.len);
		release(now, 0);
		if (poll(&p, 1, 5) <= 0)
			continue;
		while ((n = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT)) > 0) {
			now = ds_clock_ns();
			if (ds_wire_parse_hdr(pkt, (size_t)n, &h) != 0 ||
			    ds_pair_open(pair, &h, pkt, (size_t)n, now, body, sizeof(body), &blen))
				continue;
			if (h.type == DS_WIRE_ECHO_REQUEST)
				on_echo(h.run_id, body, blen, (size_t)n, now);
			else if (h.type == DS_WIRE_PAIR_REQUEST)
				on_pair_request(h.run_id, body, blen);
		}
	}
	ds_pair_free(pair);
	return 0;
}
