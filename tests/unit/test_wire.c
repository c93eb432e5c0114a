// SPDX-License-Identifier: MIT
#define UNIT_NAME "wire"
#include "unit.h"

#include <errno.h>
#include <stdint.h>

#include "key.h"
#include "pair.h"
#include "wire.h"

#define SEC 1000000000LL

static uint8_t pkt[DS_WIRE_MAX_PACKET], body[DS_WIRE_MAX_PACKET], out[DS_WIRE_MAX_PACKET];

/* Two agents' keys for one pair. */
static struct ds_pair_keys keys_a, keys_b;

static void make_keys(void)
{
	uint8_t a[32], b[32], pa[32], pb[32];

	ds_key_generate(a);
	ds_key_generate(b);
	ds_key_public(a, pa);
	ds_key_public(b, pb);
	ds_key_pair_derive(a, pb, &keys_a);
	ds_key_pair_derive(b, pa, &keys_b);
}

/* A sealing key for session s of A -> B and the matching opening key on B. */
static void session_keys(uint64_t s, struct ds_wire_key **seal, struct ds_wire_key **open)
{
	uint8_t k[32];

	ds_key_session_derive(keys_a.tx_key, s, k);
	CHECK_INT(ds_wire_key_new(k, true, seal), 0);
	ds_key_session_derive(keys_b.rx_key, s, k);
	CHECK_INT(ds_wire_key_new(k, false, open), 0);
}

static struct ds_wire_hdr hdr(uint8_t type, uint64_t counter)
{
	struct ds_wire_hdr h = { .type = type, .version = DS_WIRE_VERSION, .run_id = 0x01020304,
				 .pair_id = keys_a.tx_id, .session = 0x1111, .counter = counter };

	return h;
}

static void first_byte_demultiplexes_as_rfc7983_and_rfc9443(void)
{
	uint8_t b;

	CHECK_INT(ds_wire_demux(&b, 0), DS_DEMUX_EMPTY);
	for (int v = 0; v < 256; v++) {
		int want = v <= 3 ? DS_DEMUX_STUN : v <= 15 ? DS_DEMUX_DATASTUN : v <= 19 ? DS_DEMUX_ZRTP
			   : v <= 63 ? DS_DEMUX_DTLS : v <= 79 ? DS_DEMUX_TURN_CHANNEL
			   : v <= 127 ? DS_DEMUX_QUIC : v <= 191 ? DS_DEMUX_RTP : DS_DEMUX_QUIC;

		b = (uint8_t)v;
		CHECK_INT(ds_wire_demux(&b, 1), want);
	}
	/* every message type is in our range */
	for (int t = DS_WIRE_ECHO_REQUEST; t <= DS_WIRE_REFUSAL; t++) {
		b = (uint8_t)t;
		CHECK_INT(ds_wire_demux(&b, 1), DS_DEMUX_DATASTUN);
		CHECK(ds_wire_type_name(t) != NULL);
	}
}

/* Build every body type, seal, parse, open, decode, and compare. */
static void every_type_round_trips(void)
{
	struct ds_wire_key *s, *o;
	struct ds_wire_hdr h, g;
	size_t blen;
	int n;

	session_keys(0x1111, &s, &o);
	for (int t = DS_WIRE_ECHO_REQUEST; t <= DS_WIRE_REFUSAL; t++) {
		int len = ds_wire_body_min(t) + 13; /* some padding too */

		switch (t) {
		case DS_WIRE_ECHO_REQUEST:
		case DS_WIRE_ECHO_REPLY: {
			struct ds_wire_echo e = { .seq = 77, .rx_count = 5, .reply_len = 200,
						  .flags = 1, .sender_tx_ns = 123456789012345ULL,
						  .responder_rx_ns = 2, .responder_tx_ns = 3 };

			CHECK_INT(ds_wire_echo_encode(&e, body, (size_t)len), len);
			break;
		}
		case DS_WIRE_PAIR_REQUEST: {
			struct ds_wire_pair_request r = { .seq = 9, .count = 5, .size = 1200,
							  .gap_us = 1000, .sender_tx_ns = 42 };

			CHECK_INT(ds_wire_pair_request_encode(&r, body, (size_t)len), len);
			break;
		}
		case DS_WIRE_PAIR_DATA: {
			struct ds_wire_pair_data d = { .seq = 9, .index = 4, .member = 1, .size = 1200,
						       .count = 5, .sender_tx_ns = 42,
						       .responder_tx_ns = 43 };

			CHECK_INT(ds_wire_pair_data_encode(&d, body, (size_t)len), len);
			break;
		}
		case DS_WIRE_PUNCH_HINT: {
			struct ds_wire_punch p = { .hint_id = 5, .attempts = 5, .port_deltas = 64,
						   .interval_ms = 20, .start_in_ms = 300, .ncand = 2 };

			p.cand[0] = (struct ds_wire_cand){ 4, DS_CAND_SRFLX, 41878, { 203, 0, 113, 5 } };
			p.cand[1] = (struct ds_wire_cand){ 6, DS_CAND_HOST, 41878,
							  { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
			len = (int)ds_wire_punch_len(&p);
			CHECK_INT(len, DS_WIRE_PUNCH_LEN + 2 * DS_WIRE_PUNCH_CAND_LEN);
			CHECK_INT(ds_wire_punch_encode(&p, body, (size_t)len), len);
			break;
		}
		case DS_WIRE_KEEPALIVE: {
			struct ds_wire_keepalive k = { .flags = DS_KA_CHALLENGE | DS_KA_RESPONSE };

			memset(k.challenge, 0xaa, 16);
			memset(k.response, 0xbb, 16);
			CHECK_INT(ds_wire_keepalive_encode(&k, body, (size_t)len), len);
			break;
		}
		case DS_WIRE_REFUSAL: {
			struct ds_wire_refusal r = { .reason = DS_REFUSE_FLEET_OFF,
						     .refused_type = DS_WIRE_ECHO_REQUEST,
						     .refused_seq = 31 };

			CHECK_INT(ds_wire_refusal_encode(&r, body, (size_t)len), len);
			break;
		}
		}
		h = hdr((uint8_t)t, (uint64_t)t);
		n = ds_wire_seal(s, &h, body, (size_t)len, pkt, sizeof(pkt));
		CHECK_INT(n, DS_WIRE_OVERHEAD + len);
		CHECK_INT(pkt[0], t);
		CHECK_INT(ds_wire_parse_hdr(pkt, (size_t)n, &g), 0);
		CHECK(memcmp(&g, &h, sizeof(g)) == 0);
		CHECK_INT(ds_wire_open(o, pkt, (size_t)n, out, sizeof(out), &blen), 0);
		CHECK_INT(blen, len);
		CHECK(memcmp(out, body, blen) == 0);
		/* and the body decodes to what was encoded */
		switch (t) {
		case DS_WIRE_ECHO_REQUEST:
		case DS_WIRE_ECHO_REPLY: {
			struct ds_wire_echo e;

			CHECK_INT(ds_wire_echo_decode(out, blen, &e), 0);
			CHECK(e.seq == 77 && e.rx_count == 5 && e.reply_len == 200 && e.flags == 1 &&
			      e.sender_tx_ns == 123456789012345ULL && e.responder_rx_ns == 2 &&
			      e.responder_tx_ns == 3);
			break;
		}
		case DS_WIRE_PAIR_REQUEST: {
			struct ds_wire_pair_request r;

			CHECK_INT(ds_wire_pair_request_decode(out, blen, &r), 0);
			CHECK(r.seq == 9 && r.count == 5 && r.size == 1200 && r.gap_us == 1000 &&
			      r.sender_tx_ns == 42);
			break;
		}
		case DS_WIRE_PAIR_DATA: {
			struct ds_wire_pair_data d;

			CHECK_INT(ds_wire_pair_data_decode(out, blen, &d), 0);
			CHECK(d.seq == 9 && d.index == 4 && d.member == 1 && d.size == 1200 &&
			      d.count == 5 && d.sender_tx_ns == 42 && d.responder_tx_ns == 43);
			break;
		}
		case DS_WIRE_PUNCH_HINT: {
			struct ds_wire_punch p;

			CHECK_INT(ds_wire_punch_decode(out, blen, &p), 0);
			CHECK(p.hint_id == 5 && p.attempts == 5 && p.port_deltas == 64 &&
			      p.interval_ms == 20 && p.start_in_ms == 300 && p.ncand == 2);
			CHECK(p.cand[0].family == 4 && p.cand[0].port == 41878 &&
			      p.cand[0].addr[0] == 203 && p.cand[0].kind == DS_CAND_SRFLX);
			CHECK(p.cand[1].family == 6 && p.cand[1].addr[15] == 1);
			break;
		}
		case DS_WIRE_KEEPALIVE: {
			struct ds_wire_keepalive k;

			CHECK_INT(ds_wire_keepalive_decode(out, blen, &k), 0);
			CHECK(k.flags == (DS_KA_CHALLENGE | DS_KA_RESPONSE) && k.challenge[15] == 0xaa &&
			      k.response[0] == 0xbb);
			break;
		}
		case DS_WIRE_REFUSAL: {
			struct ds_wire_refusal r;

			CHECK_INT(ds_wire_refusal_decode(out, blen, &r), 0);
			CHECK(r.reason == DS_REFUSE_FLEET_OFF && r.refused_seq == 31 &&
			      r.refused_type == DS_WIRE_ECHO_REQUEST);
			CHECK_STR(ds_wire_refusal_name(r.reason), "fleet-off");
			break;
		}
		}
	}
	ds_wire_key_free(s);
	ds_wire_key_free(o);
}

static int seal_echo(struct ds_wire_key *s, uint64_t counter)
{
	struct ds_wire_echo e = { .seq = 1 };
	struct ds_wire_hdr h = hdr(DS_WIRE_ECHO_REQUEST, counter);

	ds_wire_echo_encode(&e, body, DS_WIRE_ECHO_LEN);
	return ds_wire_seal(s, &h, body, DS_WIRE_ECHO_LEN, pkt, sizeof(pkt));
}

static int open_copy(struct ds_wire_key *o, const uint8_t *p, size_t n)
{
	size_t blen;

	return ds_wire_open(o, p, n, out, sizeof(out), &blen);
}

static void any_tampering_fails_authentication(void)
{
	struct ds_wire_key *s, *o, *s2, *o2;
	uint8_t copy[DS_WIRE_MAX_PACKET];
	int n, bad = 0;

	session_keys(0x1111, &s, &o);
	n = seal_echo(s, 1);
	CHECK_INT(open_copy(o, pkt, (size_t)n), 0);
	/* every single bit of header, body and tag */
	for (int i = 0; i < n * 8; i++) {
		memcpy(copy, pkt, (size_t)n);
		copy[i / 8] ^= (uint8_t)(1 << (i % 8));
		if (open_copy(o, copy, (size_t)n) != -EBADMSG)
			bad++;
	}
	CHECK_INT(bad, 0);
	/* the plaintext of a failed open is not left behind */
	memcpy(copy, pkt, (size_t)n);
	copy[n - 1] ^= 1;
	memset(out, 0x55, sizeof(out));
	CHECK_INT(open_copy(o, copy, (size_t)n), -EBADMSG);
	CHECK(out[0] == 0 && out[DS_WIRE_ECHO_LEN - 1] == 0);
	/* truncated: shorter by one, or cut to the header */
	CHECK_INT(open_copy(o, pkt, (size_t)n - 1), -EBADMSG);
	CHECK_INT(open_copy(o, pkt, DS_WIRE_OVERHEAD), -EBADMSG);
	CHECK_INT(open_copy(o, pkt, DS_WIRE_OVERHEAD - 1), -EBADMSG);
	/* wrong key: another session of the same sender, or another pair */
	session_keys(0x2222, &s2, &o2);
	CHECK_INT(open_copy(o2, pkt, (size_t)n), -EBADMSG);
	CHECK_INT(open_copy(o, pkt, (size_t)n), 0); /* the right one still works after */
	ds_wire_key_free(s);
	ds_wire_key_free(o);
	ds_wire_key_free(s2);
	ds_wire_key_free(o2);
}

static void header_checks_length_type_and_version(void)
{
	struct ds_wire_key *s, *o;
	struct ds_wire_hdr h;
	uint8_t copy[DS_WIRE_MAX_PACKET + 1];
	int n;

	session_keys(0x1111, &s, &o);
	n = seal_echo(s, 1);
	memcpy(copy, pkt, (size_t)n);
	CHECK_INT(ds_wire_parse_hdr(copy, (size_t)n, &h), 0);
	CHECK_INT(ds_wire_parse_hdr(copy, 0, &h), -EPROTO);
	CHECK_INT(ds_wire_parse_hdr(copy, DS_WIRE_OVERHEAD - 1, &h), -EBADMSG);
	copy[1] = 2;
	CHECK_INT(ds_wire_parse_hdr(copy, (size_t)n, &h), -EPROTONOSUPPORT);
	copy[1] = DS_WIRE_VERSION;
	for (int t = 11; t <= 15; t++) {
		copy[0] = (uint8_t)t;
		CHECK_INT(ds_wire_parse_hdr(copy, (size_t)n, &h), -EPROTO);
	}
	copy[0] = 0x00; /* a STUN message */
	CHECK_INT(ds_wire_parse_hdr(copy, (size_t)n, &h), -EPROTO);
	copy[0] = 0x40; /* TURN ChannelData */
	CHECK_INT(ds_wire_parse_hdr(copy, (size_t)n, &h), -EPROTO);
	copy[0] = DS_WIRE_ECHO_REQUEST;
	CHECK_INT(ds_wire_parse_hdr(copy, DS_WIRE_MAX_PACKET + 1, &h), -EBADMSG);
	/* sealing refuses what it could not send */
	h = hdr(DS_WIRE_ECHO_REQUEST, 0);
	CHECK_INT(ds_wire_seal(s, &h, body, 8, pkt, sizeof(pkt)), -EINVAL); /* counter 0 */
	h = hdr(12, 1);
	CHECK_INT(ds_wire_seal(s, &h, body, 8, pkt, sizeof(pkt)), -EINVAL);
	h = hdr(DS_WIRE_ECHO_REQUEST, 1);
	CHECK_INT(ds_wire_seal(s, &h, body, DS_WIRE_BODY_MAX + 1, pkt, sizeof(pkt)), -EMSGSIZE);
	CHECK_INT(ds_wire_seal(s, &h, body, 8, pkt, DS_WIRE_OVERHEAD + 7), -EMSGSIZE);
	CHECK_INT(ds_wire_seal(o, &h, body, 8, pkt, sizeof(pkt)), -EINVAL); /* an opening key */
	ds_wire_key_free(s);
	ds_wire_key_free(o);
}

static void bodies_check_every_length(void)
{
	struct ds_wire_echo e;
	struct ds_wire_pair_request r = { .count = 1, .size = 100 };
	struct ds_wire_pair_data d;
	struct ds_wire_punch p;
	struct ds_wire_keepalive k;
	struct ds_wire_refusal f;

	memset(body, 0, sizeof(body));
	CHECK_INT(ds_wire_echo_decode(body, DS_WIRE_ECHO_LEN - 1, &e), -EBADMSG);
	CHECK_INT(ds_wire_pair_request_decode(body, DS_WIRE_PAIR_REQUEST_LEN - 1, &r), -EBADMSG);
	CHECK_INT(ds_wire_pair_data_decode(body, DS_WIRE_PAIR_DATA_LEN - 1, &d), -EBADMSG);
	CHECK_INT(ds_wire_punch_decode(body, DS_WIRE_PUNCH_LEN - 1, &p), -EBADMSG);
	CHECK_INT(ds_wire_keepalive_decode(body, DS_WIRE_KEEPALIVE_LEN - 1, &k), -EBADMSG);
	CHECK_INT(ds_wire_refusal_decode(body, DS_WIRE_REFUSAL_LEN - 1, &f), -EBADMSG);
	CHECK_INT(ds_wire_echo_encode(&e, body, DS_WIRE_ECHO_LEN - 1), -EINVAL);
	CHECK_INT(ds_wire_echo_encode(&e, body, DS_WIRE_BODY_MAX + 1), -EMSGSIZE);
	/* a punch hint whose candidates run past the body */
	memset(body, 0, 64);
	body[4] = 1;  /* attempts */
	body[10] = 3; /* three candidates need 16 + 60 bytes */
	CHECK_INT(ds_wire_punch_decode(body, 64, &p), -EBADMSG);
	body[10] = 9; /* more than the maximum */
	CHECK_INT(ds_wire_punch_decode(body, 400, &p), -ERANGE);
	/* packet-pair bounds: what one request can cost the responder */
	memset(body, 0, 64);
	CHECK_INT(ds_wire_pair_request_decode(body, DS_WIRE_PAIR_REQUEST_LEN, &r), -ERANGE);
	body[5] = DS_WIRE_PAIR_MAX_COUNT + 1;
	body[6] = 0x04; /* size 1024 */
	CHECK_INT(ds_wire_pair_request_decode(body, DS_WIRE_PAIR_REQUEST_LEN, &r), -ERANGE);
	body[5] = 2;
	CHECK_INT(ds_wire_pair_request_decode(body, DS_WIRE_PAIR_REQUEST_LEN, &r), 0);
	body[6] = 0x06; /* 1536 > DS_WIRE_MAX_PACKET */
	CHECK_INT(ds_wire_pair_request_decode(body, DS_WIRE_PAIR_REQUEST_LEN, &r), -ERANGE);
	/* refusal reasons are known ones */
	memset(body, 0, 8);
	CHECK_INT(ds_wire_refusal_decode(body, 8, &f), -ERANGE);
}

static void drop_reasons_have_counter_names(void)
{
	CHECK_STR(ds_wire_drop_reason(0, -EPROTO), "type");
	CHECK_STR(ds_wire_drop_reason(0, -EPROTONOSUPPORT), "version");
	CHECK_STR(ds_wire_drop_reason(0, -EBADMSG), "length");
	CHECK_STR(ds_wire_drop_reason(1, -ENOKEY), "pair");
	CHECK_STR(ds_wire_drop_reason(2, -EBADMSG), "auth");
	CHECK_STR(ds_wire_drop_reason(2, -EALREADY), "replay");
	CHECK_STR(ds_wire_drop_reason(2, -ESTALE), "old");
	CHECK_STR(ds_wire_drop_reason(2, -ENOTCONN), "unproven");
	CHECK_STR(ds_wire_drop_reason(2, -EPROTO), "body");
	CHECK_STR(ds_wire_drop_reason(2, -EBUSY), "limit");
	CHECK_STR(ds_wire_drop_reason(2, 0), "ok");
}

static void echo_reply_never_larger_than_request(void)
{
	struct ds_wire_echo e = { 0 };
	size_t min = DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN;

	CHECK_INT(ds_wire_echo_reply_len(&e, 200), 200);
	e.reply_len = 100;
	CHECK_INT(ds_wire_echo_reply_len(&e, 200), 100);
	e.reply_len = 1400; /* asks for more than it sent: gets what it sent */
	CHECK_INT(ds_wire_echo_reply_len(&e, 200), 200);
	e.reply_len = 10; /* less than a reply can be: the minimum */
	CHECK_INT(ds_wire_echo_reply_len(&e, 200), min);
	CHECK_INT(ds_wire_echo_reply_len(&e, min), min);
	/* and a refusal always fits in the smallest request it answers */
	CHECK(DS_WIRE_REFUSAL_LEN <= DS_WIRE_ECHO_LEN && DS_WIRE_REFUSAL_LEN <= DS_WIRE_PAIR_REQUEST_LEN);
}

/* ---- sessions: handshake, replay, restart ---- */

struct agent {
	struct ds_pair *p;
	uint64_t session;
};

static void agent_start(struct agent *ag, const struct ds_pair_keys *k)
{
	ds_pair_free(ag->p);
	CHECK_INT(ds_pair_new_session_id(&ag->session), 0);
	CHECK_INT(ds_pair_new(k, ag->session, &ag->p), 0);
}

/* Deliver packet to an agent: parse, check the pair id, open. */
static int deliver(struct agent *to, const uint8_t *p, size_t n, int64_t now)
{
	struct ds_wire_hdr h;
	size_t blen;
	int ret = ds_wire_parse_hdr(p, n, &h);

	if (ret)
		return ret;
	if (h.pair_id != ds_pair_rx_id(to->p))
		return -ENOKEY;
	return ds_pair_open(to->p, &h, p, n, now, out, sizeof(out), &blen);
}

/* Run the handshake: keepalives go back and forth while either side has one due, 10 ms
 * apart, for at most 2 s. Returns the number of keepalives sent. */
static int handshake(struct agent *a, struct agent *b, int64_t *now)
{
	uint8_t ka[128];
	int sent = 0, n;

	for (int round = 0; round < 200; round++) {
		if (ds_pair_established(a->p) && ds_pair_established(b->p) &&
		    !ds_pair_keepalive_due(a->p, *now) && !ds_pair_keepalive_due(b->p, *now))
			break;
		if (ds_pair_keepalive_due(a->p, *now)) {
			n = ds_pair_keepalive(a->p, *now, ka, sizeof(ka));
			deliver(b, ka, (size_t)n, *now);
			sent++;
		}
		if (ds_pair_keepalive_due(b->p, *now)) {
			n = ds_pair_keepalive(b->p, *now, ka, sizeof(ka));
			deliver(a, ka, (size_t)n, *now);
			sent++;
		}
		*now += SEC / 100;
	}
	return sent;
}

static int echo(struct agent *from, uint8_t *p, size_t cap)
{
	struct ds_wire_echo e = { .seq = 1 };
	uint8_t b[DS_WIRE_ECHO_LEN];

	ds_wire_echo_encode(&e, b, sizeof(b));
	return ds_pair_seal(from->p, DS_WIRE_ECHO_REQUEST, 7, b, sizeof(b), p, cap);
}

static void handshake_proves_both_sessions(void)
{
	struct agent a = { 0 }, b = { 0 };
	int64_t now = 1000 * SEC;
	int n;

	agent_start(&a, &keys_a);
	agent_start(&b, &keys_b);
	/* before it: an authentic echo is not served */
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), -ENOTCONN);
	CHECK(!ds_pair_established(b.p));
	handshake(&a, &b, &now);
	CHECK(ds_pair_established(a.p));
	CHECK(ds_pair_established(b.p));
	CHECK(ds_pair_peer_session(b.p) == a.session);
	CHECK(ds_pair_peer_session(a.p) == b.session);
	CHECK(!ds_pair_keepalive_due(a.p, now) && !ds_pair_keepalive_due(b.p, now));
	/* the echo sealed before the proof stays refused: it predates it */
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), -EALREADY);
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), 0);
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), -EALREADY); /* replayed */
	ds_pair_free(a.p);
	ds_pair_free(b.p);
}

static void replay_window_in_a_session(void)
{
	struct agent a = { 0 }, b = { 0 };
	static uint8_t held[3000][128];
	int64_t now = 1000 * SEC;
	int n = 0;

	agent_start(&a, &keys_a);
	agent_start(&b, &keys_b);
	handshake(&a, &b, &now);
	for (int i = 0; i < 3000; i++)
		n = echo(&a, held[i], sizeof(held[i]));
	/* newest first, then some older ones: reordered within the window accepted once */
	CHECK_INT(deliver(&b, held[2999], (size_t)n, now), 0);
	CHECK_INT(deliver(&b, held[2990], (size_t)n, now), 0);
	CHECK_INT(deliver(&b, held[2000], (size_t)n, now), 0);
	CHECK_INT(deliver(&b, held[2990], (size_t)n, now), -EALREADY);
	/* too old for the window */
	CHECK_INT(deliver(&b, held[100], (size_t)n, now), -ESTALE);
	ds_pair_free(a.p);
	ds_pair_free(b.p);
}

static void wrong_pair_and_forgeries_rejected(void)
{
	struct agent a = { 0 }, b = { 0 }, c = { 0 };
	struct ds_pair_keys kc;
	struct ds_wire_hdr h;
	int64_t now = 1000 * SEC;
	size_t blen;
	int n;

	agent_start(&a, &keys_a);
	agent_start(&b, &keys_b);
	handshake(&a, &b, &now);
	/* a third agent C pretending to be A: A's pair id, but not A's key */
	memcpy(&kc, &keys_a, sizeof(kc));
	ds_key_generate(kc.tx_key);
	agent_start(&c, &kc);
	n = echo(&c, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), -EBADMSG);
	/* a session id of 0 is never valid */
	n = echo(&a, pkt, sizeof(pkt));
	memset(pkt + 16, 0, 8);
	ds_wire_parse_hdr(pkt, (size_t)n, &h);
	CHECK_INT(ds_pair_open(b.p, &h, pkt, (size_t)n, now, out, sizeof(out), &blen), -EBADMSG);
	/* A's own packet reflected back to A: the pair id is for the other direction */
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&a, pkt, (size_t)n, now), -ENOKEY);
	CHECK(ds_pair_established(b.p));
	CHECK(ds_pair_peer_session(b.p) == a.session);
	ds_pair_free(a.p);
	ds_pair_free(b.p);
	ds_pair_free(c.p);
}

/* kill -9 A, start it again: B authenticates the new A after one handshake, and a packet
 * captured from the old A and sent again afterwards is refused. */
static void restart_refuses_packets_of_the_old_session(void)
{
	struct agent a = { 0 }, b = { 0 };
	uint8_t captured[128], captured_ka[128], never_delivered[128];
	uint64_t old_session;
	int64_t now = 1000 * SEC;
	int n, ncap, nka, nnd;

	agent_start(&a, &keys_a);
	agent_start(&b, &keys_b);
	handshake(&a, &b, &now);
	ncap = echo(&a, captured, sizeof(captured));
	CHECK_INT(deliver(&b, captured, (size_t)ncap, now), 0);
	nnd = echo(&a, never_delivered, sizeof(never_delivered)); /* the attacker kept it */
	/* a keepalive with a challenge, as the old A would send after B restarted */
	ds_pair_reset_peer(a.p);
	nka = ds_pair_keepalive(a.p, now, captured_ka, sizeof(captured_ka));
	CHECK(nka > 0);
	old_session = a.session;

	agent_start(&a, &keys_a); /* the restart: new session id, counters from 1 again */
	CHECK(a.session != old_session);
	now += SEC;
	CHECK(ds_pair_keepalive_due(a.p, now));
	CHECK_INT(handshake(&a, &b, &now) <= 3, 1);
	CHECK(ds_pair_established(b.p));
	CHECK(ds_pair_peer_session(b.p) == a.session);
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), 0);

	/* the replays, after the restart: refused, never served */
	CHECK_INT(deliver(&b, captured, (size_t)ncap, now), -ENOTCONN);
	CHECK_INT(deliver(&b, never_delivered, (size_t)nnd, now), -ENOTCONN);
	CHECK_INT(deliver(&b, captured_ka, (size_t)nka, now), -ENOTCONN);
	/* the old session answers B's challenge: only the dead A could, so never */
	CHECK(ds_pair_peer_session(b.p) == a.session);
	/* the replayed keepalive asked for an answer; the answer is rate-limited */
	if (ds_pair_keepalive_due(b.p, now)) {
		n = ds_pair_keepalive(b.p, now, pkt, sizeof(pkt));
		CHECK(n <= nka); /* never larger than what asked for it */
		CHECK_INT(deliver(&b, captured_ka, (size_t)nka, now), -EALREADY);
		CHECK(!ds_pair_keepalive_due(b.p, now + 1));
	}
	/* and the live session goes on */
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), 0);
	ds_pair_free(a.p);
	ds_pair_free(b.p);
}

/* B restarts: A's packets from before are refused by the new B (no proven session), and
 * the handshake brings both back. */
static void receiver_restart_refuses_old_packets(void)
{
	struct agent a = { 0 }, b = { 0 };
	uint8_t captured[128];
	int64_t now = 1000 * SEC;
	int n;

	agent_start(&a, &keys_a);
	agent_start(&b, &keys_b);
	handshake(&a, &b, &now);
	n = echo(&a, captured, sizeof(captured));
	CHECK_INT(deliver(&b, captured, (size_t)n, now), 0);
	agent_start(&b, &keys_b);
	CHECK_INT(deliver(&b, captured, (size_t)n, now), -ENOTCONN);
	/* B challenges; A sees B's new session unproven and handshakes */
	CHECK(ds_pair_keepalive_due(b.p, now));
	handshake(&a, &b, &now);
	CHECK(ds_pair_established(b.p) && ds_pair_peer_session(b.p) == a.session);
	CHECK(ds_pair_peer_session(a.p) == b.session);
	CHECK_INT(deliver(&b, captured, (size_t)n, now), -EALREADY);
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), 0);
	ds_pair_free(a.p);
	ds_pair_free(b.p);
}

static void unanswered_challenges_back_off(void)
{
	struct agent a = { 0 };
	int64_t now = 1000 * SEC, last = now;
	int sent = 0;

	agent_start(&a, &keys_a);
	/* nobody answers for 10 minutes: a few dozen keepalives, not thousands */
	for (int64_t t = now; t < now + 600 * SEC; t += SEC / 100) {
		if (ds_pair_keepalive_due(a.p, t)) {
			CHECK(ds_pair_keepalive(a.p, t, pkt, sizeof(pkt)) > 0);
			sent++;
			last = t;
		}
	}
	CHECK(sent > 5 && sent < 60);
	CHECK(last > now + 500 * SEC); /* but it never gives up */
	ds_pair_free(a.p);
}

/* Forgeries that name ever new sessions cost a key derivation each: bounded per second. */
static void unknown_session_floods_are_bounded(void)
{
	struct agent a = { 0 }, b = { 0 };
	int64_t now = 1000 * SEC;
	int n, checked = 0, busy = 0;

	agent_start(&a, &keys_a);
	agent_start(&b, &keys_b);
	handshake(&a, &b, &now);
	now += SEC; /* the handshake used a token; a second later the bucket is full */
	n = echo(&a, pkt, sizeof(pkt));
	for (int i = 0; i < 1000; i++) {
		int r;

		pkt[16] = (uint8_t)i;
		pkt[17] = (uint8_t)(i >> 8);
		r = deliver(&b, pkt, (size_t)n, now);
		checked += r == -EBADMSG;
		busy += r == -EBUSY;
	}
	CHECK_INT(checked, DS_PAIR_UNKNOWN_SESSIONS_PER_SEC);
	CHECK_INT(busy, 1000 - DS_PAIR_UNKNOWN_SESSIONS_PER_SEC);
	/* the proven session is not disturbed, and a second later the budget is back */
	n = echo(&a, pkt, sizeof(pkt));
	CHECK_INT(deliver(&b, pkt, (size_t)n, now), 0);
	pkt[16] ^= 0xff;
	CHECK_INT(deliver(&b, pkt, (size_t)n, now + SEC), -EBADMSG);
	ds_pair_free(a.p);
	ds_pair_free(b.p);
}

int main(void)
{
	make_keys();
	UNIT_RUN(first_byte_demultiplexes_as_rfc7983_and_rfc9443);
	UNIT_RUN(every_type_round_trips);
	UNIT_RUN(any_tampering_fails_authentication);
	UNIT_RUN(header_checks_length_type_and_version);
	UNIT_RUN(bodies_check_every_length);
	UNIT_RUN(echo_reply_never_larger_than_request);
	UNIT_RUN(drop_reasons_have_counter_names);
	UNIT_RUN(handshake_proves_both_sessions);
	UNIT_RUN(replay_window_in_a_session);
	UNIT_RUN(wrong_pair_and_forgeries_rejected);
	UNIT_RUN(restart_refuses_packets_of_the_old_session);
	UNIT_RUN(receiver_restart_refuses_old_packets);
	UNIT_RUN(unanswered_challenges_back_off);
	UNIT_RUN(unknown_session_floods_are_bounded);
	UNIT_EXIT();
}
