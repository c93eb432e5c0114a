// SPDX-License-Identifier: MIT
/*
 * ds-echo: a test peer for ds-agent, until ds-pairprobe exists. It is a peer with its own
 * key and its own UDP socket: it does the session handshake with the agent, then sends
 * authenticated echo requests and counts the replies. It can also send what an attacker
 * would (forged, tampered, truncated, unknown-key packets) and capture a sealed request to
 * replay it later. Built by the tests: cc -Ilibds tests/helpers/ds-echo.c build/libds.a.
 *
 *   ds-echo -k KEY -P AGENT_PUBKEY [options] TARGET_ADDR:PORT
 *     -c N          echo requests (default 3), -i MS interval (default 10)
 *     -s BYTES      request packet size (default 88)
 *     -w WINDOW     keep WINDOW requests in flight (flood mode, with -t)
 *     -t SECONDS    flood for this long and print replies per second
 *     --forge KIND  send one bad packet: unknown-key, bad-tag, truncated, not-ours; or
 *                   session-flood: 100 forgeries, each naming a new session of ours
 *     --capture F   after the handshake, save one sealed echo request to F (not sent)
 *     --replay F    send the bytes of F as they are
 *     --expect-refusal   succeed when the agent answers with a refusal
 *   Prints "sent N replies N refused N rtt_min_us X" (or "rate N/s"); exit 0 when every
 *   request got a reply (for --forge/--replay: when none did), 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "addr.h"
#include "clock.h"
#include "ctl.h"
#include "key.h"
#include "pair.h"
#include "wire.h"

static int fd;
static struct ds_pair *pair;
static struct ds_addr target;
static unsigned replies, refusals, pair_data, pair_bad;
static unsigned want_pair_size;
static int64_t rtt_min = -1;
static uint32_t run_id; /* one random run id per invocation, as a tool would */

static int sendpkt(const uint8_t *p, size_t len)
{
	return sendto(fd, p, len, 0, &target.sa, target.len) == (ssize_t)len ? 0 : -1;
}

static void send_ka(void)
{
	uint8_t pkt[DS_WIRE_MAX_PACKET];
	int len = ds_pair_keepalive(pair, ds_clock_ns(), pkt, sizeof(pkt));

	if (len > 0)
		sendpkt(pkt, (size_t)len);
}

/* Read whatever arrives within ms; answer handshakes; count replies. */
static void pump(int ms)
{
	int64_t deadline = ds_clock_ns() + (int64_t)ms * DS_NSEC_PER_MSEC;

	for (;;) {
		int64_t left = (deadline - ds_clock_ns()) / DS_NSEC_PER_MSEC;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint8_t pkt[2048], body[DS_WIRE_MAX_PACKET];
		struct ds_wire_hdr h;
		size_t blen;
		ssize_t n;
		int r;

		if (left < 0)
			left = 0;
		if (poll(&p, 1, (int)left) <= 0)
			return;
		while ((n = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT)) > 0) {
			int64_t now = ds_clock_ns();

			if (ds_wire_parse_hdr(pkt, (size_t)n, &h) != 0)
				continue;
			r = ds_pair_open(pair, &h, pkt, (size_t)n, now, body, sizeof(body), &blen);
			if (ds_pair_keepalive_due(pair, now))
				send_ka();
			if (r != 0)
				continue;
			if (h.type == DS_WIRE_ECHO_REPLY) {
				struct ds_wire_echo e;

				if (ds_wire_echo_decode(body, blen, &e) == 0) {
					int64_t rtt = now - (int64_t)e.sender_tx_ns;

					replies++;
					if (rtt_min < 0 || rtt < rtt_min)
						rtt_min = rtt;
				}
			} else if (h.type == DS_WIRE_REFUSAL) {
				refusals++;
			} else if (h.type == DS_WIRE_PAIR_DATA) {
				struct ds_wire_pair_data d;

				if (ds_wire_pair_data_decode(body, blen, &d) == 0 &&
				    d.size == want_pair_size && (size_t)n == want_pair_size)
					pair_data++;
				else
					pair_bad++;
			}
		}
	}
}

static int seal_echo(uint32_t seq, size_t size, uint8_t *pkt)
{
	struct ds_wire_echo e = {.seq = seq, .sender_tx_ns = (uint64_t)ds_clock_ns()};
	uint8_t body[DS_WIRE_MAX_PACKET];
	size_t blen = size - DS_WIRE_OVERHEAD;

	if (ds_wire_echo_encode(&e, body, blen) < 0)
		return -1;
	return ds_pair_seal(pair, DS_WIRE_ECHO_REQUEST, run_id, body, blen, pkt,
			    DS_WIRE_MAX_PACKET);
}

static int handshake(void)
{
	for (int i = 0; i < 50 && !ds_pair_established(pair); i++) {
		send_ka();
		pump(100);
	}
	pump(50); /* let our answer to the agent's challenge go out and land */
	return ds_pair_established(pair) ? 0 : -1;
}

static int read_file(const char *path, uint8_t *buf, size_t cap)
{
	int f = open(path, O_RDONLY);
	ssize_t n;

	if (f < 0)
		return -1;
	n = read(f, buf, cap);
	close(f);
	return (int)n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"forge", required_argument, NULL, 'F'},
	    {"capture", required_argument, NULL, 'C'},
	    {"replay", required_argument, NULL, 'R'},
	    {"expect-refusal", no_argument, NULL, 'E'},
	    {"pair", required_argument, NULL, 'Q'},
	    {"expect-silence", no_argument, NULL, 'Z'},
	    {NULL, 0, NULL, 0},
	};
	const char *keyfile = NULL, *peerpub = NULL, *forge = NULL, *capture = NULL, *replay = NULL;
	unsigned count = 3, interval_ms = 10, window = 0, seconds = 0;
	size_t size = DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN;
	bool expect_refusal = false, expect_silence = false;
	unsigned pair_count = 0, pair_size = 0, pair_gap = 0;
	uint8_t priv[DS_KEY_LEN], pub[DS_KEY_LEN], pkt[DS_WIRE_MAX_PACKET];
	struct ds_pair_keys keys;
	uint64_t session;
	int opt, len;

	while ((opt = getopt_long(argc, argv, "k:P:c:i:s:w:t:", lo, NULL)) != -1) {
		switch (opt) {
		case 'k':
			keyfile = optarg;
			break;
		case 'P':
			peerpub = optarg;
			break;
		case 'c':
			count = (unsigned)atoi(optarg);
			break;
		case 'i':
			interval_ms = (unsigned)atoi(optarg);
			break;
		case 's':
			size = (size_t)atoi(optarg);
			break;
		case 'w':
			window = (unsigned)atoi(optarg);
			break;
		case 't':
			seconds = (unsigned)atoi(optarg);
			break;
		case 'F':
			forge = optarg;
			break;
		case 'C':
			capture = optarg;
			break;
		case 'R':
			replay = optarg;
			break;
		case 'E':
			expect_refusal = true;
			break;
		case 'Z':
			expect_silence = true;
			break;
		case 'Q':
			if (sscanf(optarg, "%ux%u/%u", &pair_count, &pair_size, &pair_gap) < 2)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || ds_addr_parse(argv[optind], 0, DS_ADDR_PORT_REQUIRED, &target)) {
		fprintf(stderr, "ds-echo: usage: ds-echo -k KEY -P PUB [opts] ADDR:PORT\n");
		return 2;
	}
	fd = socket(ds_addr_family(&target), SOCK_DGRAM, 0);
	run_id = ds_ctl_run_id_random();
	if (replay) {
		len = read_file(replay, pkt, sizeof(pkt));
		if (len <= 0)
			return 2;
		sendpkt(pkt, (size_t)len);
		/* Only an echo reply is an answer to the request; a handshake keepalive (the
		 * agent challenging a session it cannot prove) is not. */
		{
			int64_t end = ds_clock_ns() + 500 * DS_NSEC_PER_MSEC;
			unsigned echo = 0, other = 0;

			while (ds_clock_ns() < end) {
				struct pollfd p = {.fd = fd, .events = POLLIN};
				uint8_t in[2048];
				ssize_t n;

				if (poll(&p, 1, 50) <= 0)
					continue;
				n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
				if (n > 0 && in[0] == DS_WIRE_ECHO_REPLY)
					echo++;
				else if (n > 0)
					other++;
			}
			printf("replayed %d bytes, echo replies %u, other answers %u\n", len, echo,
			       other);
			return echo || (expect_silence && other) ? 1 : 0;
		}
	}
	if (!keyfile || !peerpub || ds_key_load_private(keyfile, priv, NULL) ||
	    ds_key_from_base64(peerpub, pub) || ds_key_pair_derive(priv, pub, &keys) ||
	    ds_pair_new_session_id(&session) || ds_pair_new(&keys, session, &pair)) {
		fprintf(stderr, "ds-echo: bad key, peer key or crypto setup\n");
		return 2;
	}
	if (forge) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int got;

		len = seal_echo(1, size, pkt);
		if (strcmp(forge, "session-flood") == 0) {
			/* Each names a session the agent has no key for: it must derive one to
			 * check the tag, which a per-pair budget bounds. */
			pkt[len - 1] ^= 1;
			for (int i = 0; i < 100; i++) {
				pkt[16] = (uint8_t)(i + 1);
				pkt[17] ^= 0xa5;
				if (i < 99) /* the last one is sent below, as for every kind */
					sendpkt(pkt, (size_t)len);
			}
		} else if (strcmp(forge, "unknown-key") == 0) {
			pkt[8] ^= 0x5a; /* pair id of nobody */
		} else if (strcmp(forge, "bad-tag") == 0) {
			pkt[len - 1] ^= 1;
		} else if (strcmp(forge, "tampered") == 0) {
			pkt[DS_WIRE_HDR_LEN + 2] ^= 0x80;
		} else if (strcmp(forge, "truncated") == 0) {
			len = DS_WIRE_HDR_LEN + 4;
		} else if (strcmp(forge, "not-ours") == 0) {
			pkt[0] = 0x80; /* RTP */
		} else {
			fprintf(stderr, "ds-echo: unknown --forge kind\n");
			return 2;
		}
		sendpkt(pkt, (size_t)len);
		got = poll(&p, 1, 500);
		printf("forged %s, answers %d\n", forge, got > 0);
		return got > 0 ? 1 : 0;
	}
	if (handshake() != 0) {
		printf("handshake failed\n");
		return 1;
	}
	if (pair_count && capture) {
		struct ds_wire_pair_request r = {
		    .seq = 1, .count = (uint16_t)pair_count, .size = (uint16_t)pair_size};
		uint8_t body[DS_WIRE_PAIR_REQUEST_LEN];
		int f = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		ds_wire_pair_request_encode(&r, body, sizeof(body));
		len = ds_pair_seal(pair, DS_WIRE_PAIR_REQUEST, run_id, body, sizeof(body), pkt,
				   sizeof(pkt));
		if (f < 0 || write(f, pkt, (size_t)len) != len)
			return 2;
		close(f);
		return 0;
	}
	if (pair_count) {
		struct ds_wire_pair_request r = {.seq = 1,
						 .count = (uint16_t)pair_count,
						 .size = (uint16_t)pair_size,
						 .gap_us = pair_gap,
						 .sender_tx_ns = (uint64_t)ds_clock_ns()};
		uint8_t body[DS_WIRE_PAIR_REQUEST_LEN];

		want_pair_size = pair_size;
		ds_wire_pair_request_encode(&r, body, sizeof(body));
		len = ds_pair_seal(pair, DS_WIRE_PAIR_REQUEST, run_id, body, sizeof(body), pkt,
				   sizeof(pkt));
		sendpkt(pkt, (size_t)len);
		pump(300 + (int)(pair_count * pair_gap / 1000));
		printf("pair request %d bytes: data packets %u (want %u), bad %u, refused %u\n",
		       len, pair_data, 2 * pair_count, pair_bad, refusals);
		return pair_data == 2 * pair_count && !pair_bad ? 0 : 1;
	}
	if (capture) {
		int f = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		len = seal_echo(1, size, pkt);
		if (f < 0 || write(f, pkt, (size_t)len) != len)
			return 2;
		close(f);
		/* Prove the session is live with one real echo too. */
	}
	if (seconds) {
		/* Flood: keep `window` requests in flight, batched with sendmmsg/recvmmsg. The
		 * replies are counted by type and length, not opened: the load generator must
		 * cost less than the agent it measures. */
		enum { B = 64 };
		static uint8_t tx[B][DS_WIRE_MAX_PACKET], rx[B][2048];
		struct mmsghdr th[B], rh[B];
		struct iovec tiov[B], riov[B];
		int64_t end, start;
		uint64_t sent = 0, got = 0, credited = 0; /* credited: replies + given up */

		/* Seal the requests before the clock starts (the agent is measured, not the
		 * generator's cipher): up to 150,000 requests per second of flood. */
		size_t npre = (size_t)seconds * 150000, used = 0;
		uint8_t *pre = malloc(npre * size);
		int plen = 0;

		if (!pre)
			return 2;
		for (size_t i = 0; i < npre; i++)
			plen = seal_echo((uint32_t)i, size, pre + i * size);
		if (!window)
			window = 256;
		pump(20);
		for (int i = 0; i < B; i++) {
			tiov[i] = (struct iovec){.iov_base = tx[i]};
			th[i].msg_hdr = (struct msghdr){.msg_name = &target.sa,
							.msg_namelen = target.len,
							.msg_iov = &tiov[i],
							.msg_iovlen = 1};
			riov[i] = (struct iovec){.iov_base = rx[i], .iov_len = sizeof(rx[i])};
			rh[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
		}
		start = ds_clock_ns();
		end = start + (int64_t)seconds * DS_NSEC_PER_SEC;
		while (ds_clock_ns() < end) {
			int n = 0, r;
			struct pollfd pf = {.fd = fd, .events = POLLIN};

			while (n < B && sent + (uint64_t)n - credited < window) {
				if (used < npre) {
					tiov[n].iov_base = pre + used++ * size;
					tiov[n].iov_len = (size_t)plen;
				} else {
					len =
					    seal_echo((uint32_t)(sent + (uint64_t)n), size, tx[n]);
					tiov[n].iov_base = tx[n];
					tiov[n].iov_len = (size_t)len;
				}
				n++;
			}
			if (n) {
				r = sendmmsg(fd, th, (unsigned)n, 0);
				if (r < 0)
					r = 0;
				sent += (uint64_t)r;
				/* what did not go out is sent next time, in order */
				for (int k = r; k < n; k++)
					if (tiov[k].iov_base != tx[k] && used > 0)
						used--;
			}
			if (poll(&pf, 1, sent - credited >= window ? 20 : 0) > 0) {
				while ((r = recvmmsg(fd, rh, B, MSG_DONTWAIT, NULL)) > 0) {
					for (int i = 0; i < r; i++) {
						got += rx[i][0] == DS_WIRE_ECHO_REPLY;
						credited += rx[i][0] == DS_WIRE_ECHO_REPLY;
					}
					if (r < B)
						break;
				}
			} else if (sent - credited >= window) {
				credited = sent; /* lost in a full buffer: refill the window */
			}
		}
		{
			double secs = (double)(ds_clock_ns() - start) / 1e9;

			replies = 0;
			pump(100);
			printf("sent %llu replies %llu rate %.0f/s secs %.3f\n",
			       (unsigned long long)sent, (unsigned long long)got, (double)got / secs,
			       secs);
		}
		return 0;
	}
	for (unsigned i = 0; i < count; i++) {
		len = seal_echo(i + 1, size, pkt);
		sendpkt(pkt, (size_t)len);
		pump((int)interval_ms);
	}
	pump(300);
	printf("sent %u replies %u refused %u rtt_min_us %.1f\n", count, replies, refusals,
	       rtt_min < 0 ? -1.0 : rtt_min / 1e3);
	if (expect_refusal)
		return refusals == count && replies == 0 ? 0 : 1;
	return replies == count ? 0 : 1;
}
