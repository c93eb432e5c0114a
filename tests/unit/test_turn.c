// SPDX-License-Identifier: MIT
/* TURN client: our bytes against hand-computed ones, REST credentials, and the state machine
 * (401, 438, 300, errors, refresh, permission and channel schedules) on a fake clock. */
#define UNIT_NAME "test_turn"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "stun.h"
#include "turn.h"

#define S  DS_NSEC_PER_SEC
#define T0 (1000 * S) /* the fake clock starts here */

static struct ds_addr srv, peer, relayed, mapped;
static uint8_t pkt[4096], out[4096];

static void setup(void)
{
	ds_addr_parse("192.0.2.10:3478", 0, 0, &srv);
	ds_addr_parse("192.0.2.1:4660", 0, 0, &peer);
	ds_addr_parse("203.0.113.5:50000", 0, 0, &relayed);
	ds_addr_parse("198.51.100.1:40000", 0, 0, &mapped);
}

static struct ds_turn *mk(const char *software)
{
	struct ds_turn_config cfg;
	struct ds_turn *t = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.server = srv;
	cfg.username = "user";
	cfg.password = "pass";
	cfg.software = software;
	CHECK_INT(ds_turn_new(&cfg, &t), 0);
	return t;
}

/* Pull the next datagram (must be there), parse it into *m. */
static size_t pull(struct ds_turn *t, struct ds_stun_msg *m)
{
	struct ds_addr dst;
	size_t len = 0;

	CHECK_INT(ds_turn_pull(t, pkt, sizeof(pkt), &len, &dst), 1);
	CHECK(ds_addr_equal(&dst, ds_turn_server(t)));
	if (m)
		CHECK_INT(ds_stun_parse(pkt, len, m, NULL), 0);
	return len;
}

static void nothing_to_pull(struct ds_turn *t)
{
	size_t len;

	CHECK_INT(ds_turn_pull(t, pkt, sizeof(pkt), &len, NULL), 0);
}

/* A server answer to req: start it, the caller adds attributes, end() signs it. */
static void begin(struct ds_stun_enc *e, const struct ds_stun_msg *req, enum ds_stun_class cls)
{
	ds_stun_enc_init(e, out, sizeof(out), ds_stun_type(req->method, cls), req->tid);
}

static size_t end(struct ds_stun_enc *e, const uint8_t *key, size_t keylen)
{
	size_t len = 0;

	if (key)
		ds_stun_enc_integrity(e, key, keylen);
	ds_stun_enc_fingerprint(e);
	CHECK_INT(ds_stun_enc_finish(e, &len), 0);
	return len;
}

static int feed(struct ds_turn *t, size_t len, int64_t now)
{
	return ds_turn_input(t, out, len, &srv, now, NULL);
}

static const uint8_t key_md5[16] = {
    /* MD5("user:example.org:pass"), computed with Python's hashlib */
    0xab, 0xca, 0x35, 0x35, 0x6f, 0x4b, 0x00, 0xfb, 0xc3, 0x3e, 0x2d, 0x8c, 0x2c, 0x43, 0xb9, 0xd6,
};
static const uint8_t key_sha256[32] = {
    /* SHA-256("user:example.org:pass") */
    0x2e, 0xab, 0x84, 0x3d, 0x62, 0x72, 0x3b, 0x55, 0x49, 0xca, 0x4d, 0xde, 0x26, 0x41, 0xa8, 0xc0,
    0x7b, 0xa6, 0x7a, 0x3c, 0x7d, 0xf8, 0x91, 0x9c, 0x8d, 0xa8, 0x1e, 0xe2, 0x06, 0xa4, 0xb9, 0x07,
};

static size_t challenge(const struct ds_stun_msg *req, int code, const char *nonce)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_ERROR);
	ds_stun_enc_error(&e, code, code == 401 ? "Unauthorized" : "Stale Nonce");
	ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, "example.org");
	ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, nonce);
	return end(&e, NULL, 0);
}

static size_t alloc_ok(const struct ds_stun_msg *req, uint32_t lifetime, const uint8_t *key,
		       size_t keylen)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_SUCCESS);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
	ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, lifetime);
	return end(&e, key, keylen);
}

static size_t plain_ok(const struct ds_stun_msg *req)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_SUCCESS);
	return end(&e, key_md5, sizeof(key_md5));
}

static size_t error_resp(const struct ds_stun_msg *req, int code)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_ERROR);
	ds_stun_enc_error(&e, code, ds_turn_error_text(code));
	return end(&e, key_md5, sizeof(key_md5));
}

/* Drive a fresh client to ALLOCATED at T0 (401 then success, lifetime 600). */
static struct ds_turn *allocated_client(void)
{
	struct ds_turn *t = mk(NULL);
	struct ds_turn_event ev;
	struct ds_stun_msg m;

	ds_turn_allocate(t, T0);
	pull(t, &m);
	CHECK_INT(feed(t, challenge(&m, 401, "nonce1"), T0), DS_TURN_IN_CONSUMED);
	pull(t, &m);
	CHECK_INT(feed(t, alloc_ok(&m, 600, key_md5, 16), T0), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATED);
	while (ds_turn_event(t, &ev) == 1)
		;
	return t;
}

static bool has_bytes(const uint8_t *msg, size_t len, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(msg + i, want, n))
			return true;
	return false;
}

/* ---- tests ---- */

static void rest_password_is_base64_hmac_sha1_of_username(void)
{
	char user[64], pass[64];

	/* expected values from Python's hmac + base64 */
	CHECK_INT(ds_turn_rest_credentials("dslabsecret", "alice", 1700000000, user, sizeof(user),
					   pass, sizeof(pass)),
		  0);
	CHECK_STR(user, "1700000000:alice");
	CHECK_STR(pass, "s/7Z1jj+PL60TrdbekDssgv1Mqg=");
	CHECK_INT(ds_turn_rest_credentials("north", NULL, 1700000000, user, sizeof(user), pass,
					   sizeof(pass)),
		  0);
	CHECK_STR(user, "1700000000");
	CHECK_STR(pass, "CWyHi3zCeWqXBir9thl4m+iZPRY=");
	CHECK_INT(ds_turn_rest_credentials("x", "alice", 1700000000, user, 10, pass, sizeof(pass)),
		  -ENOSPC);
	CHECK_INT(ds_turn_rest_credentials("x", "a", 1, user, sizeof(user), pass, 28), -ENOSPC);
}

static void channel_data_framing_both_paddings(void)
{
	static const uint8_t want[] = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c'};
	static const uint8_t padded[] = {0x4f, 0xff, 0x00, 0x03, 'a', 'b', 'c', 0x00};
	const uint8_t *data;
	size_t len, n;
	uint16_t ch;

	CHECK_INT(ds_turn_channel_data_encode(0x4001, "abc", 3, pkt, sizeof(pkt), &len), 0);
	CHECK_INT(len, sizeof(want));
	CHECK(!memcmp(pkt, want, sizeof(want)));
	CHECK_INT(ds_turn_channel_data_encode(0x3fff, "abc", 3, pkt, sizeof(pkt), &len), -EINVAL);
	CHECK_INT(ds_turn_channel_data_encode(0x5000, "abc", 3, pkt, sizeof(pkt), &len), -EINVAL);
	CHECK_INT(ds_turn_channel_data_encode(0x4000, "abc", 3, pkt, 6, &len), -ENOSPC);

	CHECK_INT(ds_turn_channel_data_decode(want, sizeof(want), &ch, &data, &n), 0);
	CHECK_INT(ch, 0x4001);
	CHECK_INT(n, 3);
	CHECK(!memcmp(data, "abc", 3));
	CHECK_INT(ds_turn_channel_data_decode(padded, sizeof(padded), &ch, &data, &n), 0);
	CHECK_INT(ch, 0x4fff);
	CHECK_INT(n, 3);
	/* shorter than its length; longer than the padding allows; not a channel */
	CHECK_INT(ds_turn_channel_data_decode(want, 6, &ch, &data, &n), -EBADMSG);
	memcpy(pkt, padded, sizeof(padded));
	pkt[8] = 0;
	CHECK_INT(ds_turn_channel_data_decode(pkt, 9, &ch, &data, &n), -EBADMSG);
	CHECK_INT(ds_turn_channel_data_decode("\x50\x00\x00\x00", 4, &ch, &data, &n), -EBADMSG);
	CHECK_INT(ds_turn_channel_data_decode("\x40\x00\x00", 3, &ch, &data, &n), -EBADMSG);
	CHECK(ds_turn_is_channel_data("\x40\x00\x00\x00", 4));
	CHECK(!ds_turn_is_channel_data("\x00\x01\x00\x00", 4));
}

static void first_allocate_is_unauthenticated_with_udp_transport(void)
{
	static const uint8_t want[] = {
	    0x00, 0x03, 0x00, 0x10, /* Allocate request, length 16 */
	    0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	};
	static const uint8_t attrs[] = {
	    0x00, 0x19, 0x00, 0x04, /* REQUESTED-TRANSPORT */
	    0x11, 0x00, 0x00, 0x00, /* UDP (17), RFFU */
	    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
	};
	struct ds_turn *t = mk(NULL);
	struct ds_stun_msg m;
	size_t len;

	CHECK_INT(ds_turn_state(t), DS_TURN_IDLE);
	nothing_to_pull(t);
	CHECK_INT(ds_turn_allocate(t, T0), 0);
	CHECK_INT(ds_turn_allocate(t, T0), -EALREADY);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATING);
	len = pull(t, &m);
	CHECK_INT(len, 36);
	CHECK(!memcmp(pkt, want, sizeof(want)));
	CHECK(!memcmp(pkt + 20, attrs, sizeof(attrs)));
	CHECK(m.fingerprint_off == 28);
	CHECK(!m.integrity_off);
	nothing_to_pull(t);
	ds_turn_free(t);
}

static void challenge_401_gives_authenticated_retry_md5(void)
{
	static const uint8_t username[] = {0x00, 0x06, 0x00, 0x04, 'u', 's', 'e', 'r'};
	static const uint8_t realm[] = {0x00, 0x14, 0x00, 0x0b, 'e', 'x', 'a', 'm',
					'p',  'l',  'e',  '.',  'o', 'r', 'g', 0x00};
	static const uint8_t nonce[] = {0x00, 0x15, 0x00, 0x06, 'n', 'o', 'n', 'c', 'e', '1', 0, 0};
	uint8_t key[DS_STUN_KEY_MAX], tid1[DS_STUN_TID_LEN];
	struct ds_turn *t = mk("datastun test");
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	size_t len, keylen;

	ds_turn_allocate(t, T0);
	pull(t, &m);
	memcpy(tid1, m.tid, sizeof(tid1));
	CHECK_INT(feed(t, challenge(&m, 401, "nonce1"), T0), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATING);
	CHECK_INT(ds_turn_event(t, &ev), 0);
	len = pull(t, &m);
	CHECK(memcmp(m.tid, tid1, sizeof(tid1)) != 0); /* a new transaction */
	CHECK(has_bytes(pkt, len, username, sizeof(username)));
	CHECK(has_bytes(pkt, len, realm, sizeof(realm)));
	CHECK(has_bytes(pkt, len, nonce, sizeof(nonce)));
	CHECK(m.integrity_off != 0);
	CHECK(!m.integrity_sha256_off);
	/* the key is MD5(user:realm:pass), as the codec derives it and as computed by hand */
	CHECK_INT(ds_stun_key_long_term(DS_STUN_PASSWORD_MD5, "user", "example.org", "pass", key,
					&keylen),
		  0);
	CHECK_INT(keylen, 16);
	CHECK(!memcmp(key, key_md5, 16));
	CHECK_INT(ds_stun_check_integrity(&m, key_md5, 16), 0);
	CHECK_INT(ds_turn_password_algorithm(t), DS_STUN_PASSWORD_MD5);
	ds_turn_free(t);
}

static void password_algorithms_offered_prefers_sha256(void)
{
	static const uint8_t alg[] = {0x00, 0x1d, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00};
	static const uint8_t algs[] = {0x80, 0x02, 0x00, 0x08, 0x00, 0x01,
				       0x00, 0x00, 0x00, 0x02, 0x00, 0x00};
	const uint16_t offered[] = {DS_STUN_PASSWORD_MD5, DS_STUN_PASSWORD_SHA256};
	struct ds_turn *t = mk(NULL);
	struct ds_stun_msg m;
	struct ds_stun_enc e;
	size_t len;

	ds_turn_allocate(t, T0);
	pull(t, &m);
	begin(&e, &m, DS_STUN_ERROR);
	ds_stun_enc_error(&e, 401, "Unauthorized");
	ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, "example.org");
	ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, "obMatJos2AAABnonce");
	ds_stun_enc_password_algorithms(&e, offered, 2);
	CHECK_INT(feed(t, end(&e, NULL, 0), T0), DS_TURN_IN_CONSUMED);
	len = pull(t, &m);
	CHECK(has_bytes(pkt, len, alg, sizeof(alg)));
	CHECK(has_bytes(pkt, len, algs, sizeof(algs)));
	CHECK(m.integrity_sha256_off != 0);
	CHECK_INT(ds_stun_check_integrity_sha256(&m, key_sha256, 32), 0);
	CHECK_INT(ds_turn_password_algorithm(t), DS_STUN_PASSWORD_SHA256);
	/* the success is signed with the SHA-256 key */
	begin(&e, &m, DS_STUN_SUCCESS);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
	ds_stun_enc_integrity_sha256(&e, key_sha256, 32);
	CHECK_INT(feed(t, end(&e, NULL, 0), T0), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATED);
	ds_turn_free(t);
}

static void stale_nonce_438_retries_with_the_new_nonce(void)
{
	static const uint8_t nonce2[] = {0x00, 0x15, 0x00, 0x06, 'n', 'o',
					 'n',  'c',  'e',  '2',  0,   0};
	struct ds_turn *t = mk(NULL);
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	size_t len;
	int err, code;

	ds_turn_allocate(t, T0);
	pull(t, &m);
	feed(t, challenge(&m, 401, "nonce1"), T0);
	pull(t, &m);
	CHECK_INT(feed(t, challenge(&m, 438, "nonce2"), T0), DS_TURN_IN_CONSUMED);
	len = pull(t, &m);
	CHECK(has_bytes(pkt, len, nonce2, sizeof(nonce2)));
	CHECK_INT(ds_stun_check_integrity(&m, key_md5, 16), 0);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATING);
	/* a server that never takes our nonce: give up after DS_TURN_MAX_STALE */
	for (int i = 0; i < DS_TURN_MAX_STALE; i++) {
		feed(t, challenge(&m, 438, "nonce3"), T0);
		if (i < DS_TURN_MAX_STALE - 1)
			pull(t, &m);
	}
	CHECK_INT(ds_turn_state(t), DS_TURN_FAILED);
	err = ds_turn_failure(t, &code, NULL, 0);
	CHECK_INT(err, -ELOOP);
	CHECK_INT(code, 438);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_FAILED);
	ds_turn_free(t);
}

static void allocate_success_exposes_relayed_and_mapped(void)
{
	struct ds_turn *t = mk(NULL);
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	struct ds_addr a;
	size_t len;

	ds_turn_allocate(t, T0);
	pull(t, &m);
	feed(t, challenge(&m, 401, "nonce1"), T0);
	pull(t, &m);
	CHECK_INT(ds_turn_relayed(t, &a), -ENOTCONN);
	len = alloc_ok(&m, 777, key_md5, 16);
	CHECK_INT(ds_turn_input(t, out, len, &peer, T0, NULL), -ENOENT); /* not the server */
	out[len - 9] ^= 1;                     /* spoiled integrity (inside the HMAC) */
	CHECK_INT(feed(t, len, T0), -EBADMSG); /* the fingerprint catches it first */
	out[len - 9] ^= 1;
	CHECK_INT(feed(t, len, T0), DS_TURN_IN_CONSUMED);
	CHECK_INT(feed(t, len, T0), -EALREADY); /* duplicate */
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATED);
	CHECK_INT(ds_turn_relayed(t, &a), 0);
	CHECK(ds_addr_equal(&a, &relayed));
	CHECK_INT(ds_turn_mapped(t, &a), 0);
	CHECK(ds_addr_equal(&a, &mapped));
	CHECK_INT(ds_turn_lifetime(t), 777);
	CHECK_INT(ds_turn_expires_ns(t), T0 + 777 * S);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_ALLOCATED);
	CHECK(ds_addr_equal(&ev.relayed, &relayed));
	CHECK_INT(ev.lifetime_s, 777);
	ds_turn_free(t);
}

static void success_without_valid_integrity_is_refused(void)
{
	struct ds_turn *t = mk(NULL);
	struct ds_stun_msg m;
	uint8_t wrong[16] = {0};

	ds_turn_allocate(t, T0);
	pull(t, &m);
	feed(t, challenge(&m, 401, "nonce1"), T0);
	pull(t, &m);
	CHECK_INT(feed(t, alloc_ok(&m, 600, NULL, 0), T0), -EACCES);
	CHECK_INT(feed(t, alloc_ok(&m, 600, wrong, 16), T0), -EACCES);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATING);
	/* unknown transaction id */
	m.tid[0] ^= 0xff;
	CHECK_INT(feed(t, alloc_ok(&m, 600, key_md5, 16), T0), -ENOENT);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATING);
	ds_turn_free(t);
}

static void wrong_password_401_after_credentials_fails(void)
{
	struct ds_turn *t = mk(NULL);
	struct ds_stun_msg m;
	int code;

	ds_turn_allocate(t, T0);
	pull(t, &m);
	feed(t, challenge(&m, 401, "nonce1"), T0);
	pull(t, &m);
	feed(t, challenge(&m, 401, "nonce1"), T0);
	CHECK_INT(ds_turn_state(t), DS_TURN_FAILED);
	CHECK_INT(ds_turn_failure(t, &code, NULL, 0), -EACCES);
	CHECK_INT(code, 401);
	nothing_to_pull(t);
	ds_turn_free(t);
}

static void allocation_errors_437_486_508_are_reported(void)
{
	static const int codes[] = {437, 486, 508, 442};
	static const char *texts[] = {"Allocation Mismatch", "Allocation Quota Reached",
				      "Insufficient Capacity", "Unsupported Transport Protocol"};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct ds_turn *t = mk(NULL);
		struct ds_turn_event ev;
		struct ds_stun_msg m;
		char reason[64];
		int code;

		ds_turn_allocate(t, T0);
		pull(t, &m);
		feed(t, challenge(&m, 401, "nonce1"), T0);
		pull(t, &m);
		CHECK_INT(feed(t, error_resp(&m, codes[i]), T0), DS_TURN_IN_CONSUMED);
		CHECK_INT(ds_turn_state(t), DS_TURN_FAILED);
		CHECK_INT(ds_turn_failure(t, &code, reason, sizeof(reason)), -EPROTO);
		CHECK_INT(code, codes[i]);
		CHECK_STR(reason, texts[i]);
		CHECK_STR(ds_turn_error_text(codes[i]), texts[i]);
		CHECK_INT(ds_turn_event(t, &ev), 1);
		CHECK_INT(ev.type, DS_TURN_EV_FAILED);
		CHECK_INT(ev.method, DS_STUN_ALLOCATE);
		CHECK_INT(ev.code, codes[i]);
		/* a fresh start is allowed after a failure */
		CHECK_INT(ds_turn_allocate(t, T0 + S), 0);
		ds_turn_free(t);
	}
}

static void try_alternate_300_moves_to_the_other_server(void)
{
	struct ds_turn *t = mk(NULL);
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	struct ds_stun_enc e;
	struct ds_addr alt, dst;
	size_t len;

	ds_addr_parse("192.0.2.20:3479", 0, 0, &alt);
	ds_turn_allocate(t, T0);
	pull(t, &m);
	feed(t, challenge(&m, 401, "nonce1"), T0);
	pull(t, &m);
	begin(&e, &m, DS_STUN_ERROR);
	ds_stun_enc_error(&e, 300, "Try Alternate");
	ds_stun_enc_addr(&e, DS_STUN_ATTR_ALTERNATE_SERVER, &alt);
	CHECK_INT(feed(t, end(&e, key_md5, 16), T0), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_REDIRECTED);
	CHECK(ds_addr_equal(&ev.peer, &alt));
	CHECK(ds_addr_equal(ds_turn_server(t), &alt));
	CHECK_INT(ds_turn_pull(t, pkt, sizeof(pkt), &len, &dst), 1);
	CHECK(ds_addr_equal(&dst, &alt));
	CHECK_INT(ds_stun_parse(pkt, len, &m, NULL), 0);
	CHECK(!m.integrity_off); /* starts over unauthenticated */
	/* answers now count only from the new server */
	CHECK_INT(feed(t, challenge(&m, 401, "n"), T0), -ENOENT);
	CHECK_INT(ds_turn_input(t, out, challenge(&m, 401, "n"), &alt, T0, NULL),
		  DS_TURN_IN_CONSUMED);
	ds_turn_free(t);
}

static void request_times_out_on_the_rfc_schedule(void)
{
	/* RFC 8489 §6.2.1 defaults: sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; gives up at
	 * 39.5 s */
	static const int64_t at_ms[] = {500, 1500, 3500, 7500, 15500, 31500};
	struct ds_turn *t = mk(NULL);
	int64_t wait;

	ds_turn_allocate(t, T0);
	pull(t, NULL);
	CHECK_INT(ds_turn_tick(t, T0), 500 * DS_NSEC_PER_MSEC);
	for (size_t i = 0; i < 6; i++) {
		ds_turn_tick(t, T0 + at_ms[i] * DS_NSEC_PER_MSEC - 1);
		nothing_to_pull(t);
		wait = ds_turn_tick(t, T0 + at_ms[i] * DS_NSEC_PER_MSEC);
		pull(t, NULL);
		nothing_to_pull(t);
		CHECK(wait > 0);
	}
	ds_turn_tick(t, T0 + 39500 * DS_NSEC_PER_MSEC - 1);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATING);
	CHECK_INT(ds_turn_tick(t, T0 + 39500 * DS_NSEC_PER_MSEC), -1);
	CHECK_INT(ds_turn_state(t), DS_TURN_FAILED);
	CHECK_INT(ds_turn_failure(t, NULL, NULL, 0), -ETIMEDOUT);
	ds_turn_free(t);
}

static void refresh_goes_out_a_minute_before_expiry(void)
{
	struct ds_turn *t = allocated_client();
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	struct ds_stun_enc e;

	CHECK_INT(ds_turn_tick(t, T0), 540 * S);
	ds_turn_tick(t, T0 + 540 * S - 1);
	nothing_to_pull(t);
	ds_turn_tick(t, T0 + 540 * S);
	pull(t, &m);
	CHECK_INT(m.method, DS_STUN_REFRESH);
	CHECK_INT(ds_stun_check_integrity(&m, key_md5, 16), 0);
	begin(&e, &m, DS_STUN_SUCCESS);
	ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, 300);
	CHECK_INT(feed(t, end(&e, key_md5, 16), T0 + 541 * S), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_REFRESHED);
	CHECK_INT(ev.lifetime_s, 300);
	CHECK_INT(ds_turn_expires_ns(t), T0 + 841 * S);
	CHECK_INT(ds_turn_tick(t, T0 + 541 * S), 240 * S); /* 300 - 60 */
	/* a refresh the server never answers: retried, and the allocation dies at expiry */
	ds_turn_tick(t, T0 + 781 * S);
	pull(t, &m);
	CHECK_INT(m.method, DS_STUN_REFRESH);
	for (int64_t now = T0 + 781 * S; now < T0 + 842 * S; now += S / 2)
		ds_turn_tick(t, now);
	CHECK_INT(ds_turn_state(t), DS_TURN_FAILED);
	{
		bool expired = false;

		while (ds_turn_event(t, &ev) == 1)
			expired |= ev.type == DS_TURN_EV_FAILED && ev.error == -ETIMEDOUT &&
				   ev.method == DS_STUN_REFRESH;
		CHECK(expired); /* the agent hears of it */
	}
	ds_turn_free(t);
}

static void refresh_437_means_the_allocation_is_gone(void)
{
	struct ds_turn *t = allocated_client();
	struct ds_stun_msg m;
	int code;

	ds_turn_tick(t, T0 + 540 * S);
	pull(t, &m);
	CHECK_INT(feed(t, error_resp(&m, 437), T0 + 540 * S), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_state(t), DS_TURN_FAILED);
	ds_turn_failure(t, &code, NULL, 0);
	CHECK_INT(code, 437);
	ds_turn_free(t);
}

static void refresh_stale_nonce_is_retried(void)
{
	struct ds_turn *t = allocated_client();
	struct ds_stun_msg m;

	ds_turn_tick(t, T0 + 540 * S);
	pull(t, &m);
	CHECK_INT(feed(t, challenge(&m, 438, "nonce9"), T0 + 540 * S), DS_TURN_IN_CONSUMED);
	pull(t, &m);
	CHECK_INT(m.method, DS_STUN_REFRESH);
	CHECK_INT(feed(t, plain_ok(&m), T0 + 540 * S), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATED);
	ds_turn_free(t);
}

static void permission_is_refreshed_every_240s(void)
{
	/* XOR-PEER-ADDRESS of 192.0.2.1:4660: port 0x1234 ^ 0x2112, address ^ the cookie */
	static const uint8_t xpeer[] = {0x00, 0x12, 0x00, 0x08, 0x00, 0x01,
					0x33, 0x26, 0xe1, 0x12, 0xa6, 0x43};
	struct ds_turn *t = mk(NULL);
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	size_t len;

	/* asked before the allocation exists: waits for it */
	CHECK_INT(ds_turn_permit(t, &peer, T0), 0);
	ds_turn_free(t);
	t = allocated_client();
	CHECK_INT(ds_turn_permit(t, &peer, T0), 0);
	len = pull(t, &m);
	CHECK_INT(m.method, DS_STUN_CREATE_PERMISSION);
	CHECK(has_bytes(pkt, len, xpeer, sizeof(xpeer)));
	CHECK_INT(ds_stun_check_integrity(&m, key_md5, 16), 0);
	CHECK(!ds_turn_permitted(t, &peer, T0));
	CHECK_INT(feed(t, plain_ok(&m), T0 + S), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_PERMISSION);
	CHECK(ds_addr_equal(&ev.peer, &peer));
	CHECK(ds_turn_permitted(t, &peer, T0 + S));
	CHECK_INT(ds_turn_tick(t, T0 + S), 240 * S);
	ds_turn_tick(t, T0 + 241 * S - 1);
	nothing_to_pull(t);
	ds_turn_tick(t, T0 + 241 * S);
	pull(t, &m);
	CHECK_INT(m.method, DS_STUN_CREATE_PERMISSION);
	/* unanswered: the permission lapses at 300 s */
	CHECK(ds_turn_permitted(t, &peer, T0 + 300 * S));
	CHECK(!ds_turn_permitted(t, &peer, T0 + 301 * S));
	/* an IPv6 peer on an IPv4 relay is refused */
	{
		struct ds_addr p6;

		ds_addr_parse("[2001:db8::1]:5", 0, 0, &p6);
		CHECK_INT(ds_turn_permit(t, &p6, T0), -EAFNOSUPPORT);
	}
	ds_turn_free(t);
}

static void permission_403_stops_asking(void)
{
	struct ds_turn *t = allocated_client();
	struct ds_turn_event ev;
	struct ds_stun_msg m;

	ds_turn_permit(t, &peer, T0);
	pull(t, &m);
	feed(t, error_resp(&m, 403), T0);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_FAILED);
	CHECK_INT(ev.method, DS_STUN_CREATE_PERMISSION);
	CHECK_INT(ev.code, 403);
	CHECK(ds_addr_equal(&ev.peer, &peer));
	CHECK_INT(ds_turn_state(t), DS_TURN_ALLOCATED);
	ds_turn_tick(t, T0 + 540 * S);
	pull(t, &m); /* only the allocation refresh is due by then */
	CHECK_INT(m.method, DS_STUN_REFRESH);
	nothing_to_pull(t);
	ds_turn_free(t);
}

static void channel_bound_refreshed_every_540s_and_carries_channeldata(void)
{
	static const uint8_t chnum[] = {0x00, 0x0c, 0x00, 0x04, 0x40, 0x00, 0x00, 0x00};
	static const uint8_t cd[] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c'};
	struct ds_turn *t = allocated_client();
	struct ds_turn_event ev;
	struct ds_turn_data d;
	struct ds_stun_msg m;
	uint16_t ch = 0;
	size_t len;
	int binds = 0, perms = 0;

	CHECK_INT(ds_turn_bind(t, &peer, T0, &ch), 0);
	CHECK_INT(ch, 0x4000);
	/* the ChannelBind and a CreatePermission (the permission has the shorter life) */
	for (int i = 0; i < 2; i++) {
		len = pull(t, &m);
		if (m.method == DS_STUN_CHANNEL_BIND) {
			binds++;
			CHECK(has_bytes(pkt, len, chnum, sizeof(chnum)));
		} else {
			perms += m.method == DS_STUN_CREATE_PERMISSION;
		}
		CHECK_INT(feed(t, plain_ok(&m), T0), DS_TURN_IN_CONSUMED);
	}
	CHECK_INT(binds, 1);
	CHECK_INT(perms, 1);
	nothing_to_pull(t);
	CHECK_INT(ds_turn_channel(t, &peer), 0x4000);
	while (ds_turn_event(t, &ev) == 1)
		CHECK(ev.type == DS_TURN_EV_CHANNEL || ev.type == DS_TURN_EV_PERMISSION);
	/* data to the peer goes as ChannelData now */
	CHECK_INT(ds_turn_wrap(t, &peer, "abc", 3, pkt, sizeof(pkt), &len), 0);
	CHECK_INT(len, sizeof(cd));
	CHECK(!memcmp(pkt, cd, sizeof(cd)));
	/* and ChannelData from the server (padded or not) comes out as peer data */
	memcpy(out, cd, sizeof(cd));
	out[7] = 0;
	CHECK_INT(ds_turn_input(t, out, 7, &srv, T0, &d), DS_TURN_IN_DATA);
	CHECK_INT(ds_turn_input(t, out, 8, &srv, T0, &d), DS_TURN_IN_DATA);
	CHECK_INT(d.channel, 0x4000);
	CHECK_INT(d.len, 3);
	CHECK(!memcmp(d.data, "abc", 3));
	CHECK(ds_addr_equal(&d.peer, &peer));
	out[1] = 0x07; /* a channel we never bound */
	CHECK_INT(ds_turn_input(t, out, 7, &srv, T0, &d), -ENOENT);
	/* schedule: permission at 240 s, 480 s; channel at 540 s (with the allocation) */
	ds_turn_tick(t, T0 + 240 * S);
	pull(t, &m);
	CHECK_INT(m.method, DS_STUN_CREATE_PERMISSION);
	feed(t, plain_ok(&m), T0 + 240 * S);
	ds_turn_tick(t, T0 + 480 * S - 1);
	nothing_to_pull(t);
	ds_turn_tick(t, T0 + 480 * S);
	pull(t, &m);
	CHECK_INT(m.method, DS_STUN_CREATE_PERMISSION);
	feed(t, plain_ok(&m), T0 + 480 * S);
	ds_turn_tick(t, T0 + 540 * S - 1);
	nothing_to_pull(t);
	ds_turn_tick(t, T0 + 540 * S);
	binds = 0;
	while (ds_turn_pull(t, pkt, sizeof(pkt), &len, NULL) == 1) {
		ds_stun_parse(pkt, len, &m, NULL);
		binds += m.method == DS_STUN_CHANNEL_BIND;
	}
	CHECK_INT(binds, 1);
	/* forgetting the peer stops it all */
	ds_turn_forget(t, &peer);
	CHECK_INT(ds_turn_channel(t, &peer), 0);
	ds_turn_free(t);
}

static void send_indication_before_a_channel_and_data_indication_back(void)
{
	static const uint8_t send_hdr[] = {0x00, 0x16, 0x00, 0x1c}; /* Send indication, length 28 */
	static const uint8_t xpeer[] = {0x00, 0x12, 0x00, 0x08, 0x00, 0x01,
					0x33, 0x26, 0xe1, 0x12, 0xa6, 0x43};
	static const uint8_t data[] = {0x00, 0x13, 0x00, 0x03, 'a', 'b', 'c', 0x00};
	struct ds_turn *t = mk(NULL);
	struct ds_turn_data d;
	struct ds_stun_enc e;
	size_t len;

	CHECK_INT(ds_turn_wrap(t, &peer, "abc", 3, pkt, sizeof(pkt), &len), -ENOTCONN);
	ds_turn_free(t);
	t = allocated_client();
	CHECK_INT(ds_turn_wrap(t, &peer, "abc", 3, pkt, sizeof(pkt), &len), 0);
	CHECK_INT(len, 20 + 12 + 8 + 8);
	CHECK(!memcmp(pkt, send_hdr, sizeof(send_hdr)));
	CHECK(!memcmp(pkt + 20, xpeer, sizeof(xpeer)));
	CHECK(!memcmp(pkt + 32, data, sizeof(data)));
	/* Data indication from the server */
	ds_stun_enc_init(&e, out, sizeof(out), ds_stun_type(DS_STUN_DATA, DS_STUN_INDICATION),
			 NULL);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
	ds_stun_enc_attr(&e, DS_STUN_ATTR_DATA, "hello", 5);
	CHECK_INT(feed(t, end(&e, NULL, 0), T0), DS_TURN_IN_DATA);
	ds_stun_enc_init(&e, out, sizeof(out), ds_stun_type(DS_STUN_DATA, DS_STUN_INDICATION),
			 NULL);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
	ds_stun_enc_attr(&e, DS_STUN_ATTR_DATA, "hello", 5);
	len = end(&e, NULL, 0);
	CHECK_INT(ds_turn_input(t, out, len, &srv, T0, &d), DS_TURN_IN_DATA);
	CHECK_INT(d.len, 5);
	CHECK(!memcmp(d.data, "hello", 5));
	CHECK_INT(d.channel, 0);
	CHECK(ds_addr_equal(&d.peer, &peer));
	/* a Data indication without DATA is malformed; not from the server: not ours */
	ds_stun_enc_init(&e, out, sizeof(out), ds_stun_type(DS_STUN_DATA, DS_STUN_INDICATION),
			 NULL);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
	len = end(&e, NULL, 0);
	CHECK_INT(ds_turn_input(t, out, len, &srv, T0, &d), -EBADMSG);
	CHECK_INT(ds_turn_input(t, out, len, &peer, T0, &d), -ENOENT);
	/* our own packets on the warm port (first byte 128+) are not TURN */
	CHECK_INT(ds_turn_input(t, "\x80\x01\x02\x03", 4, &srv, T0, &d), -ENOENT);
	ds_turn_free(t);
}

static void release_sends_lifetime_zero(void)
{
	static const uint8_t zero[] = {0x00, 0x0d, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00};
	struct ds_turn *t = allocated_client();
	struct ds_turn_event ev;
	struct ds_stun_msg m;
	size_t len;

	ds_turn_permit(t, &peer, T0);
	pull(t, NULL);
	CHECK_INT(ds_turn_release(t, T0 + S), 0);
	CHECK_INT(ds_turn_state(t), DS_TURN_RELEASING);
	len = pull(t, &m);
	CHECK_INT(m.method, DS_STUN_REFRESH);
	CHECK(has_bytes(pkt, len, zero, sizeof(zero)));
	nothing_to_pull(t); /* the permission request was dropped */
	CHECK_INT(feed(t, plain_ok(&m), T0 + S), DS_TURN_IN_CONSUMED);
	CHECK_INT(ds_turn_state(t), DS_TURN_RELEASED);
	CHECK_INT(ds_turn_event(t, &ev), 1);
	CHECK_INT(ev.type, DS_TURN_EV_RELEASED);
	CHECK_INT(ds_turn_tick(t, T0 + 1000 * S), -1);
	nothing_to_pull(t);
	ds_turn_free(t);
}

static void config_is_checked(void)
{
	struct ds_turn_config cfg;
	struct ds_turn *t;

	memset(&cfg, 0, sizeof(cfg));
	CHECK_INT(ds_turn_new(&cfg, &t), -EINVAL);
	cfg.server = srv;
	cfg.username = "u";
	CHECK_INT(ds_turn_new(&cfg, &t), -EINVAL);
	cfg.password = "p";
	cfg.family = 99;
	CHECK_INT(ds_turn_new(&cfg, &t), -EINVAL);
	cfg.family = AF_INET6;
	CHECK_INT(ds_turn_new(&cfg, &t), 0);
	ds_turn_free(t);
	ds_turn_free(NULL);
}

int main(void)
{
	setup();
	UNIT_RUN(rest_password_is_base64_hmac_sha1_of_username);
	UNIT_RUN(channel_data_framing_both_paddings);
	UNIT_RUN(first_allocate_is_unauthenticated_with_udp_transport);
	UNIT_RUN(challenge_401_gives_authenticated_retry_md5);
	UNIT_RUN(password_algorithms_offered_prefers_sha256);
	UNIT_RUN(stale_nonce_438_retries_with_the_new_nonce);
	UNIT_RUN(allocate_success_exposes_relayed_and_mapped);
	UNIT_RUN(success_without_valid_integrity_is_refused);
	UNIT_RUN(wrong_password_401_after_credentials_fails);
	UNIT_RUN(allocation_errors_437_486_508_are_reported);
	UNIT_RUN(try_alternate_300_moves_to_the_other_server);
	UNIT_RUN(request_times_out_on_the_rfc_schedule);
	UNIT_RUN(refresh_goes_out_a_minute_before_expiry);
	UNIT_RUN(refresh_437_means_the_allocation_is_gone);
	UNIT_RUN(refresh_stale_nonce_is_retried);
	UNIT_RUN(permission_is_refreshed_every_240s);
	UNIT_RUN(permission_403_stops_asking);
	UNIT_RUN(channel_bound_refreshed_every_540s_and_carries_channeldata);
	UNIT_RUN(send_indication_before_a_channel_and_data_indication_back);
	UNIT_RUN(release_sends_lifetime_zero);
	UNIT_RUN(config_is_checked);
	UNIT_EXIT();
}
