// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the TURN client state machine (libds/turn).
 *
 * Byte 0 picks the state to start from, reached through a scripted server: idle,
 * allocating (before and after the 401, MD5 or SHA-256), allocated with a permission and a
 * channel in flight, allocated with the channel bound, releasing. The rest is a list of
 * records [op][len_hi][len_lo][bytes...]; by op & 7:
 *   0  the bytes as a datagram from the server
 *   1  the same from another address
 *   2  the bytes with the transaction id of a request we sent, re-signed with the key and a
 *      fresh FINGERPRINT when they parse as STUN: reaches the response handlers
 *   3  time passes (len milliseconds x 997) and the client ticks; everything queued is pulled
 *   4  permit / bind / forget a peer made of the bytes
 *   5  wrap the bytes for a peer
 *   6  release, allocate again, or refresh now
 *   7  ChannelData for a bound channel with the bytes as payload and a fuzzed length
 * Invariants checked: pulled datagrams parse as STUN with a valid FINGERPRINT, wrapped ones
 * parse as STUN or ChannelData, peer data lies inside the datagram given.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "stun.h"
#include "turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NTID 8

static struct ds_addr srv, other, peer0;
static uint8_t tids[NTID][DS_STUN_TID_LEN];
static unsigned ntids;
static uint8_t key[DS_STUN_KEY_MAX];
static size_t keylen;
static bool sha256;
static int64_t now;

static void init_once(void)
{
	static bool done;

	if (done)
		return;
	ds_addr_parse("192.0.2.10:3478", 0, 0, &srv);
	ds_addr_parse("192.0.2.99:3478", 0, 0, &other);
	ds_addr_parse("192.0.2.1:4660", 0, 0, &peer0);
	done = true;
}

/* Pull everything queued; remember the transaction ids; check what we send. */
static void pull_all(struct ds_turn *t, struct ds_stun_msg *last)
{
	static uint8_t buf[DS_TURN_REQ_MAX];
	struct ds_stun_msg m;
	struct ds_addr dst;
	size_t len;

	while (ds_turn_pull(t, buf, sizeof(buf), &len, &dst) == 1) {
		if (ds_stun_parse(buf, len, &m, NULL) < 0 || !m.fingerprint_off ||
		    m.cls != DS_STUN_REQUEST)
			__builtin_trap();
		memcpy(tids[ntids % NTID], m.tid, DS_STUN_TID_LEN);
		ntids++;
		if (last) {
			static uint8_t keep[DS_TURN_REQ_MAX];

			memcpy(keep, buf, len);
			ds_stun_parse(keep, len, last, NULL);
		}
	}
}

static size_t answer(uint8_t *out, size_t cap, const struct ds_stun_msg *req,
		     enum ds_stun_class cls, int code, bool algs)
{
	static const uint16_t offered[] = {DS_STUN_PASSWORD_MD5, DS_STUN_PASSWORD_SHA256};
	struct ds_stun_enc e;
	struct ds_addr relayed;
	size_t len = 0;

	ds_stun_enc_init(&e, out, cap, ds_stun_type(req->method, cls), req->tid);
	if (code) {
		ds_stun_enc_error(&e, code, "x");
		ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, "example.org");
		ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, "nonce");
		if (algs)
			ds_stun_enc_password_algorithms(&e, offered, 2);
	} else {
		ds_addr_parse("203.0.113.5:50000", 0, 0, &relayed);
		if (req->method == DS_STUN_ALLOCATE) {
			ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
			ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &other);
			ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, 600);
		}
		if (sha256)
			ds_stun_enc_integrity_sha256(&e, key, keylen);
		else
			ds_stun_enc_integrity(&e, key, keylen);
	}
	ds_stun_enc_fingerprint(&e);
	ds_stun_enc_finish(&e, &len);
	return len;
}

static void respond_all(struct ds_turn *t)
{
	static uint8_t buf[DS_TURN_REQ_MAX], out[4096];
	struct ds_stun_msg m;
	struct ds_addr dst;
	size_t len;

	while (ds_turn_pull(t, buf, sizeof(buf), &len, &dst) == 1) {
		if (ds_stun_parse(buf, len, &m, NULL) < 0)
			__builtin_trap();
		len = answer(out, sizeof(out), &m, DS_STUN_SUCCESS, 0, false);
		ds_turn_input(t, out, len, &srv, now, NULL);
	}
}

/* Re-encode a parsed message with tid, signed with the key, fingerprinted. */
static size_t resign(const uint8_t *in, size_t inlen, const uint8_t *tid, uint8_t *out, size_t cap)
{
	struct ds_stun_msg m;
	struct ds_stun_iter it;
	struct ds_stun_attr a;
	struct ds_stun_enc e;
	size_t len = 0;

	if (ds_stun_parse(in, inlen, &m, NULL) < 0)
		return 0;
	ds_stun_enc_init(&e, out, cap, m.type, tid);
	ds_stun_iter_init(&it, &m);
	while (ds_stun_iter_next(&it, &a))
		if (a.type != DS_STUN_ATTR_FINGERPRINT &&
		    a.type != DS_STUN_ATTR_MESSAGE_INTEGRITY &&
		    a.type != DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			ds_stun_enc_attr(&e, a.type, a.val, a.len);
	if (m.integrity_off || m.integrity_sha256_off || (tid[0] & 1)) {
		if (sha256)
			ds_stun_enc_integrity_sha256(&e, key, keylen);
		else
			ds_stun_enc_integrity(&e, key, keylen);
	}
	ds_stun_enc_fingerprint(&e);
	if (ds_stun_enc_finish(&e, &len) < 0)
		return 0;
	return len;
}

static void check_data(const struct ds_turn_data *d, const uint8_t *pkt, size_t len)
{
	if (d->data < pkt || d->data + d->len > pkt + len)
		__builtin_trap();
}

static void feed(struct ds_turn *t, const uint8_t *pkt, size_t len, const struct ds_addr *from)
{
	struct ds_turn_data d;
	struct ds_turn_event ev;

	if (ds_turn_input(t, pkt, len, from, now, &d) == DS_TURN_IN_DATA)
		check_data(&d, pkt, len);
	while (ds_turn_event(t, &ev) == 1)
		;
}

/* Reach the starting state. */
static struct ds_turn *setup(unsigned state, bool algs)
{
	static uint8_t out[4096];
	struct ds_turn_config cfg;
	struct ds_turn *t;
	struct ds_stun_msg m;
	size_t len;

	memset(&cfg, 0, sizeof(cfg));
	cfg.server = srv;
	cfg.username = "user";
	cfg.password = "pass";
	cfg.software = state & 1 ? "fuzz" : NULL;
	if (ds_turn_new(&cfg, &t) < 0)
		__builtin_trap();
	sha256 = algs;
	ds_stun_key_long_term(algs ? DS_STUN_PASSWORD_SHA256 : DS_STUN_PASSWORD_MD5, "user",
			      "example.org", "pass", key, &keylen);
	now = 1000 * DS_NSEC_PER_SEC;
	if (state == 0)
		return t;
	ds_turn_allocate(t, now);
	if (state == 1)
		return t;
	pull_all(t, &m);
	len = answer(out, sizeof(out), &m, DS_STUN_ERROR, 401, algs);
	ds_turn_input(t, out, len, &srv, now, NULL);
	if (state == 2)
		return t;
	pull_all(t, &m);
	len = answer(out, sizeof(out), &m, DS_STUN_SUCCESS, 0, false);
	ds_turn_input(t, out, len, &srv, now, NULL);
	ds_turn_permit(t, &peer0, now);
	ds_turn_bind(t, &peer0, now, NULL);
	if (state == 3)
		return t;
	respond_all(t);
	if (state == 4)
		return t;
	ds_turn_release(t, now);
	return t;
}

static void make_peer(const uint8_t *b, size_t n, struct ds_addr *p)
{
	*p = peer0;
	if (n >= 1 && (b[0] & 0x80)) {
		ds_addr_parse("[2001:db8::7]:9", 0, 0, p);
		return;
	}
	if (n >= 3) {
		p->sin.sin_addr.s_addr = htonl(0xC0000200u | (b[1] & 7));
		p->sin.sin_port = htons((uint16_t)(4660 + (b[2] & 3)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000], wrapped[70000];
	struct ds_turn *t;
	struct ds_addr p;
	size_t off = 1, len, n;
	unsigned state;

	if (size < 1)
		return 0;
	init_once();
	ntids = 0;
	state = data[0] % 6;
	t = setup(state, data[0] & 0x40);
	pull_all(t, NULL);
	/* at most 64 records: longer inputs add time, not states */
	for (unsigned rec = 0; rec < 64 && off + 3 <= size; rec++) {
		uint8_t op = data[off];
		const uint8_t *b;

		n = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (n > size - off)
			n = size - off;
		b = data + off;
		off += n;
		switch (op & 7) {
		case 0:
			memcpy(buf, b, n); /* a copy of exactly n bytes: ASan sees overreads */
			feed(t, buf, n, &srv);
			break;
		case 1:
			memcpy(buf, b, n);
			feed(t, buf, n, &other);
			break;
		case 2:
			if (!ntids)
				break;
			len = resign(b, n, tids[(op >> 3) % (ntids < NTID ? ntids : NTID)], buf,
				     sizeof(buf));
			if (len)
				feed(t, buf, len, &srv);
			break;
		case 3:
			now += (int64_t)n * 997 * DS_NSEC_PER_MSEC + (op >> 3) * DS_NSEC_PER_SEC;
			ds_turn_tick(t, now);
			pull_all(t, NULL);
			break;
		case 4:
			make_peer(b, n, &p);
			if ((op >> 3) % 3 == 0)
				ds_turn_permit(t, &p, now);
			else if ((op >> 3) % 3 == 1)
				ds_turn_bind(t, &p, now, NULL);
			else
				ds_turn_forget(t, &p);
			pull_all(t, NULL);
			break;
		case 5: {
			struct ds_stun_msg m;
			uint16_t ch;
			const uint8_t *d;
			size_t dl;

			make_peer(b, n, &p);
			if (ds_turn_wrap(t, &p, b, n, wrapped, (op & 8) ? 30 : sizeof(wrapped),
					 &len) == 0 &&
			    ds_stun_parse(wrapped, len, &m, NULL) < 0 &&
			    ds_turn_channel_data_decode(wrapped, len, &ch, &d, &dl) < 0)
				__builtin_trap();
			break;
		}
		case 6:
			if ((op >> 3) % 3 == 0)
				ds_turn_release(t, now);
			else if ((op >> 3) % 3 == 1)
				ds_turn_allocate(t, now);
			else
				ds_turn_refresh(t, now);
			pull_all(t, NULL);
			break;
		case 7:
			if (ds_turn_channel_data_encode(0x4000 + (op >> 6), b, n, buf, sizeof(buf),
							&len) == 0) {
				if (op & 8) /* lie about the length */
					buf[3] ^= (uint8_t)(op >> 4);
				feed(t, buf, len + ((op >> 5) & 1), &srv);
			}
			break;
		}
	}
	ds_turn_tick(t, now + 3600 * DS_NSEC_PER_SEC);
	pull_all(t, NULL);
	ds_turn_free(t);
	return 0;
}
