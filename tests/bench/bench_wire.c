// SPDX-License-Identifier: MIT
/*
 * Wire protocol cost on one core: how many authenticated echoes one agent core can answer.
 * Built and run by tests/bench/bench_wire.sh against build/libds.a.
 *
 *   bench_wire [SECONDS]     (default 1 s per row; the UDP row runs 2x that)
 *
 * Rows, all single-threaded:
 *   seal / open             one echo request, ChaCha20-Poly1305 through ds_pair
 *   echo answered           what the responder does per request: parse, ds_pair_open,
 *                           decode, encode the reply, seal
 *   echo round trip         both sides: seal, open+answer, open the reply (4 AEAD ops)
 *   forged packet dropped   parse + failed tag check (what a flood of forgeries costs)
 *   unknown session         HMAC of the claimed session + failed tag check, within the
 *                           per-pair budget; and beyond it (dropped unchecked)
 *   UDP loopback answered   a responder process on one core (recvmmsg/sendmmsg, 64 per
 *                           call) answering a client on the other core, over 127.0.0.1;
 *                           per wall-clock second and per second of the responder's CPU
 *   raw EVP seal            88-byte packet, ChaCha20-Poly1305 vs AES-256-GCM (for the choice)
 *   session key / pair key  HKDF per new peer session; X25519+HKDF per peer at start
 * and then the memory 1,000 configured peers take.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include "clock.h"
#include "key.h"
#include "pair.h"
#include "wire.h"

#define BATCH 64

static double seconds = 1.0;
static struct ds_pair *pa, *pb; /* agent A (initiator) and B (responder) */
static struct ds_pair_keys ka, kb;

/* The in-process rows time themselves in this process's CPU time: "per second on one
 * core" whatever else the machine runs (it is single-threaded while they run). */
static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ds_timespec_ns(&ts);
}

static void row(const char *what, size_t bytes, double ops, double secs)
{
	double rate = ops / secs;

	printf("| %-42s | %6zu | %12.0f | %8.0f |\n", what, bytes, rate, 1e9 / rate);
	fflush(stdout);
}

static void setup(void)
{
	uint8_t a[32], b[32], pka[32], pkb[32], ka_buf[128];
	uint64_t sa, sb;
	size_t blen;
	int64_t now = ds_clock_ns();
	uint8_t body[DS_WIRE_MAX_PACKET];

	ds_key_generate(a);
	ds_key_generate(b);
	ds_key_public(a, pka);
	ds_key_public(b, pkb);
	ds_key_pair_derive(a, pkb, &ka);
	ds_key_pair_derive(b, pka, &kb);
	ds_pair_new_session_id(&sa);
	ds_pair_new_session_id(&sb);
	if (ds_pair_new(&ka, sa, &pa) || ds_pair_new(&kb, sb, &pb))
		exit(1);
	/* handshake */
	for (int i = 0; i < 10 && !(ds_pair_established(pa) && ds_pair_established(pb)); i++) {
		struct ds_wire_hdr h;
		int n;

		if (ds_pair_keepalive_due(pa, now)) {
			n = ds_pair_keepalive(pa, now, ka_buf, sizeof(ka_buf));
			ds_wire_parse_hdr(ka_buf, (size_t)n, &h);
			ds_pair_open(pb, &h, ka_buf, (size_t)n, now, body, sizeof(body), &blen);
		}
		if (ds_pair_keepalive_due(pb, now)) {
			n = ds_pair_keepalive(pb, now, ka_buf, sizeof(ka_buf));
			ds_wire_parse_hdr(ka_buf, (size_t)n, &h);
			ds_pair_open(pa, &h, ka_buf, (size_t)n, now, body, sizeof(body), &blen);
		}
		now += 300 * DS_NSEC_PER_MSEC;
	}
	if (!ds_pair_established(pa) || !ds_pair_established(pb)) {
		fprintf(stderr, "bench_wire: handshake failed\n");
		exit(1);
	}
}

static int make_request(uint8_t *pkt, uint32_t seq)
{
	struct ds_wire_echo e = { .seq = seq, .sender_tx_ns = (uint64_t)ds_clock_ns() };
	uint8_t body[DS_WIRE_ECHO_LEN];

	ds_wire_echo_encode(&e, body, sizeof(body));
	return ds_pair_seal(pa, DS_WIRE_ECHO_REQUEST, 1, body, sizeof(body), pkt,
			    DS_WIRE_MAX_PACKET);
}

/* The responder's work for one datagram: 0 and the reply in out, or <0 (dropped). */
static int answer_at(struct ds_pair *p, const uint8_t *pkt, size_t len, uint8_t *out,
		     int64_t now)
{
	uint8_t body[DS_WIRE_MAX_PACKET], rbody[DS_WIRE_MAX_PACKET];
	struct ds_wire_hdr h;
	struct ds_wire_echo e;
	size_t blen, rlen;
	int ret;

	ret = ds_wire_parse_hdr(pkt, len, &h);
	if (ret)
		return ret;
	if (h.pair_id != ds_pair_rx_id(p))
		return -ENOKEY;
	ret = ds_pair_open(p, &h, pkt, len, now, body, sizeof(body), &blen);
	if (ret)
		return ret;
	if (h.type != DS_WIRE_ECHO_REQUEST || ds_wire_echo_decode(body, blen, &e))
		return -EPROTO;
	e.rx_count++;
	e.responder_rx_ns = (uint64_t)ds_clock_ns();
	e.responder_tx_ns = e.responder_rx_ns;
	rlen = ds_wire_echo_reply_len(&e, len) - DS_WIRE_OVERHEAD;
	ds_wire_echo_encode(&e, rbody, rlen);
	return ds_pair_seal(p, DS_WIRE_ECHO_REPLY, h.run_id, rbody, rlen, out, DS_WIRE_MAX_PACKET);
}

static int answer(struct ds_pair *p, const uint8_t *pkt, size_t len, uint8_t *out)
{
	return answer_at(p, pkt, len, out, 0);
}

static int open_reply(const uint8_t *pkt, size_t len)
{
	uint8_t body[DS_WIRE_MAX_PACKET];
	struct ds_wire_hdr h;
	size_t blen;
	int ret = ds_wire_parse_hdr(pkt, len, &h);

	return ret ? ret : ds_pair_open(pa, &h, pkt, len, 0, body, sizeof(body), &blen);
}

static void bench_seal_open(void)
{
	static uint8_t pkts[4096][128];
	uint8_t body[DS_WIRE_MAX_PACKET];
	int64_t t0, deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	double n = 0, opened = 0, secs_seal = 0, secs_open = 0;
	int len = 0;

	while (ds_clock_ns() < deadline) {
		t0 = cpu_ns();
		for (int i = 0; i < 4096; i++)
			len = make_request(pkts[i], (uint32_t)i);
		secs_seal += (double)(cpu_ns() - t0) / 1e9;
		t0 = cpu_ns();
		for (int i = 0; i < 4096; i++) {
			struct ds_wire_hdr h;
			size_t blen;

			ds_wire_parse_hdr(pkts[i], (size_t)len, &h);
			if (ds_pair_open(pb, &h, pkts[i], (size_t)len, 0, body, sizeof(body), &blen) == 0)
				opened++;
		}
		secs_open += (double)(cpu_ns() - t0) / 1e9;
		n += 4096;
	}
	row("seal echo request (ds_pair_seal)", (size_t)len, n, secs_seal);
	row("open echo request (ds_pair_open)", (size_t)len, opened, secs_open);
	if (opened != n)
		fprintf(stderr, "bench_wire: %.0f of %.0f did not open\n", n - opened, n);
}

static void bench_answer_and_round_trip(void)
{
	static uint8_t req[4096][128];
	uint8_t rep[DS_WIRE_MAX_PACKET];
	int64_t t0, deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	double n = 0, secs = 0, bad = 0;
	int len = 0, rlen;

	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 4096; i++)
			len = make_request(req[i], (uint32_t)i);
		t0 = cpu_ns();
		for (int i = 0; i < 4096; i++)
			if (answer(pb, req[i], (size_t)len, rep) <= 0)
				bad++;
		secs += (double)(cpu_ns() - t0) / 1e9;
		n += 4096;
	}
	row("echo answered (parse+open+reply+seal)", (size_t)len, n - bad, secs);

	n = 0;
	bad = 0;
	t0 = cpu_ns();
	deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 1024; i++) {
			len = make_request(req[0], (uint32_t)i);
			rlen = answer(pb, req[0], (size_t)len, rep);
			if (rlen <= 0 || open_reply(rep, (size_t)rlen) != 0)
				bad++;
		}
		n += 1024;
	}
	row("echo round trip, both sides (4 AEAD)", (size_t)len, n - bad,
	    (double)(cpu_ns() - t0) / 1e9);
	if (bad)
		fprintf(stderr, "bench_wire: %.0f echoes failed\n", bad);
}

static void bench_drops(void)
{
	uint8_t pkt[128], rep[DS_WIRE_MAX_PACKET];
	int64_t t0, deadline;
	double n = 0;
	int len = make_request(pkt, 1), accepted = 0;
	int64_t fake_now = 0;

	pkt[len - 1] ^= 1; /* forged: the tag does not match */
	t0 = cpu_ns();
	deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 1024; i++)
			accepted += answer(pb, pkt, (size_t)len, rep) > 0;
		n += 1024;
	}
	row("forged packet dropped (bad tag)", (size_t)len, n, (double)(cpu_ns() - t0) / 1e9);
	/* a claimed session B never saw: a key derivation before the tag check, for the first
	 * DS_PAIR_UNKNOWN_SESSIONS_PER_SEC a second (time advanced so each has a token) ... */
	n = 0;
	t0 = cpu_ns();
	deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 1024; i++) {
			pkt[16] = (uint8_t)i;
			pkt[17] = (uint8_t)(i >> 8);
			fake_now += 1000000000LL / DS_PAIR_UNKNOWN_SESSIONS_PER_SEC;
			accepted += answer_at(pb, pkt, (size_t)len, rep, fake_now) > 0;
		}
		n += 1024;
	}
	row("unknown-session forgery, checked", (size_t)len, n, (double)(cpu_ns() - t0) / 1e9);
	/* ... and beyond that, dropped unchecked */
	n = 0;
	t0 = cpu_ns();
	deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 1024; i++) {
			pkt[16] = (uint8_t)i;
			pkt[17] = (uint8_t)(i >> 8);
			accepted += answer_at(pb, pkt, (size_t)len, rep, fake_now) > 0;
		}
		n += 1024;
	}
	row("unknown-session forgery, over the limit", (size_t)len, n,
	    (double)(cpu_ns() - t0) / 1e9);
	if (accepted)
		fprintf(stderr, "bench_wire: %d forgeries accepted!\n", accepted);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Responder process: answer every echo request on fd until killed. */
static void responder(int fd)
{
	static uint8_t in[BATCH][DS_WIRE_MAX_PACKET], out[BATCH][DS_WIRE_MAX_PACKET];
	struct mmsghdr rmsg[BATCH], smsg[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct sockaddr_in from[BATCH];

	pin(0);
	for (int i = 0; i < BATCH; i++) {
		riov[i] = (struct iovec){ in[i], sizeof(in[i]) };
		rmsg[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_iov = &riov[i],
						   .msg_iovlen = 1 };
	}
	for (;;) {
		int n, m = 0;

		for (int i = 0; i < BATCH; i++)
			rmsg[i].msg_hdr.msg_namelen = sizeof(from[i]);
		n = recvmmsg(fd, rmsg, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0)
			continue;
		for (int i = 0; i < n; i++) {
			int len = answer(pb, in[i], rmsg[i].msg_len, out[m]);

			if (len <= 0)
				continue;
			siov[m] = (struct iovec){ out[m], (size_t)len };
			smsg[m].msg_hdr = (struct msghdr){ .msg_name = &from[i],
							   .msg_namelen = sizeof(from[i]),
							   .msg_iov = &siov[m], .msg_iovlen = 1 };
			m++;
		}
		for (int off = 0; off < m;) {
			int s = sendmmsg(fd, smsg + off, (unsigned)(m - off), 0);

			if (s <= 0)
				break;
			off += s;
		}
	}
}

static void bench_udp(void)
{
	static uint8_t req[BATCH][DS_WIRE_MAX_PACKET], rep[BATCH][DS_WIRE_MAX_PACKET];
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct mmsghdr smsg[BATCH], rmsg[BATCH];
	struct iovec siov[BATCH], riov[BATCH];
	socklen_t alen = sizeof(addr);
	int srv = socket(AF_INET, SOCK_DGRAM, 0), cli = socket(AF_INET, SOCK_DGRAM, 0);
	int buf = 4 << 20, len = 0;
	double got = 0, sent = 0;
	int64_t t0, deadline;
	struct timeval tv = { 0, 20000 };
	struct rusage ru;
	double secs, cpu;
	pid_t child;

	if (srv < 0 || cli < 0 || bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    getsockname(srv, (struct sockaddr *)&addr, &alen) < 0) {
		perror("bench_wire: socket");
		return;
	}
	setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(cli, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(cli, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return;
	child = fork();
	if (child == 0) {
		close(cli);
		responder(srv);
		_exit(0);
	}
	close(srv);
	pin(1);
	for (int i = 0; i < BATCH; i++) {
		riov[i] = (struct iovec){ rep[i], sizeof(rep[i]) };
		rmsg[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
	}
	t0 = ds_clock_ns();
	deadline = t0 + (int64_t)(2 * seconds * 1e9);
	while (ds_clock_ns() < deadline) {
		int n;

		/* keep about 4 batches in flight: the responder is never idle, never flooded */
		while (sent - got < 4 * BATCH) {
			for (int i = 0; i < BATCH; i++) {
				len = make_request(req[i], (uint32_t)sent + (uint32_t)i);
				siov[i] = (struct iovec){ req[i], (size_t)len };
				smsg[i].msg_hdr = (struct msghdr){ .msg_iov = &siov[i], .msg_iovlen = 1 };
			}
			n = sendmmsg(cli, smsg, BATCH, 0);
			sent += n > 0 ? n : 0;
			if (n <= 0)
				break;
		}
		n = recvmmsg(cli, rmsg, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			got = sent; /* lost in a full buffer: open the window again */
			continue;
		}
		for (int i = 0; i < n; i++)
			if (open_reply(rep[i], rmsg[i].msg_len) == 0)
				got++;
	}
	secs = (double)(ds_clock_ns() - t0) / 1e9;
	kill(child, SIGKILL);
	wait4(child, NULL, 0, &ru);
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	row("UDP loopback echoes answered, wall clock", (size_t)len, got, secs);
	/* the same per second of the responder's own CPU time: what one dedicated core does,
	 * whatever else the machine is busy with */
	if (cpu > 0)
		row("UDP loopback echoes per responder CPU s", (size_t)len, got, cpu);
	close(cli);
}

static void bench_raw_evp(const char *name, const EVP_CIPHER *c, size_t iv_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t key[32] = { 1 }, iv[12] = { 0 }, in[88] = { 0 }, out[88], tag[16];
	int64_t t0 = cpu_ns(), deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	double n = 0;
	int l;
	char what[64];

	EVP_CipherInit_ex2(ctx, c, key, NULL, 1, NULL);
	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 1024; i++) {
			iv[11] = (uint8_t)i;
			EVP_CipherInit_ex2(ctx, NULL, NULL, iv, 1, NULL);
			EVP_EncryptUpdate(ctx, NULL, &l, in, 32);
			EVP_EncryptUpdate(ctx, out, &l, in + 32, 40);
			EVP_EncryptFinal_ex(ctx, out, &l);
			EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag);
		}
		n += 1024;
	}
	(void)iv_len;
	snprintf(what, sizeof(what), "raw EVP seal, %s", name);
	row(what, 88, n, (double)(cpu_ns() - t0) / 1e9);
	EVP_CIPHER_CTX_free(ctx);
}

static void bench_kdf(void)
{
	uint8_t out[32], a[32], b[32], pb_[32];
	struct ds_pair_keys k;
	int64_t t0 = cpu_ns(), deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	double n = 0;

	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 256; i++)
			ds_key_session_derive(ka.tx_key, (uint64_t)i + 1, out);
		n += 256;
	}
	row("session key (HKDF-Expand)", 0, n, (double)(cpu_ns() - t0) / 1e9);
	ds_key_generate(a);
	ds_key_generate(b);
	ds_key_public(b, pb_);
	n = 0;
	t0 = cpu_ns();
	deadline = ds_clock_ns() + (int64_t)(seconds * 1e9);
	while (ds_clock_ns() < deadline) {
		for (int i = 0; i < 64; i++)
			ds_key_pair_derive(a, pb_, &k);
		n += 64;
	}
	row("pair keys (X25519 + HKDF), per peer", 0, n, (double)(cpu_ns() - t0) / 1e9);
}

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* What 1,000 configured peers cost in memory: pair keys, contexts, replay windows. */
static void bench_memory(void)
{
	enum { PEERS = 1000 };
	static struct ds_pair *p[PEERS];
	uint8_t a[32], b[32], pub[32];
	struct ds_pair_keys k;
	long before;

	ds_key_generate(a);
	before = rss_kb();
	for (int i = 0; i < PEERS; i++) {
		ds_key_generate(b);
		ds_key_public(b, pub);
		if (ds_key_pair_derive(a, pub, &k) || ds_pair_new(&k, 1, &p[i]))
			exit(1);
	}
	printf("\nmemory: %d configured peers add %ld kB resident (%.1f kB per peer)\n", PEERS,
	       rss_kb() - before, (double)(rss_kb() - before) / PEERS);
	for (int i = 0; i < PEERS; i++)
		ds_pair_free(p[i]);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0)
		seconds = 1;
	setup();
	pin(0);
	printf("| %-42s | %6s | %12s | %8s |\n", "operation (one core, per CPU second)", "bytes",
	       "per second", "ns each");
	printf("|%s|%s|%s|%s|\n", "--------------------------------------------", "--------",
	       "--------------", "----------");
	bench_seal_open();
	bench_answer_and_round_trip();
	bench_drops();
	bench_udp();
	bench_raw_evp("ChaCha20-Poly1305", EVP_chacha20_poly1305(), 12);
	bench_raw_evp("AES-256-GCM", EVP_aes_256_gcm(), 12);
	bench_kdf();
	bench_memory();
	ds_pair_free(pa);
	ds_pair_free(pb);
	return 0;
}
