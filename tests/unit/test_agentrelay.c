// SPDX-License-Identifier: MIT
/* The agent's allocation (libds/agentrelay) on a fake clock against a scripted server: the
 * LIFETIME asked for, the refresh at half a short lifetime, a lost allocation started again
 * after the back-off with its permissions re-applied, REST user names, wrapping before and
 * after the channel is bound, and the "through our relay" mark. */
#define UNIT_NAME "test_agentrelay"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "agentrelay.h"
#include "clock.h"
#include "stun.h"
#include "turn.h"

#define S  DS_NSEC_PER_SEC
#define T0 (1000 * S)

static struct ds_addr srv, peer, peer2, relayed, mapped;
static uint8_t pkt[4096], out[4096];

static const uint8_t key_md5[16] = {
    /* MD5("user:example.org:pass") (as in test_turn.c) */
    0xab, 0xca, 0x35, 0x35, 0x6f, 0x4b, 0x00, 0xfb, 0xc3, 0x3e, 0x2d, 0x8c, 0x2c, 0x43, 0xb9, 0xd6,
};

static void setup(void)
{
	ds_addr_parse("192.0.2.10:3478", 0, 0, &srv);
	ds_addr_parse("198.51.100.7:4660", 0, 0, &peer);
	ds_addr_parse("198.51.100.7:5000", 0, 0, &peer2); /* same IP, another port */
	ds_addr_parse("203.0.113.5:50000", 0, 0, &relayed);
	ds_addr_parse("198.51.100.1:40000", 0, 0, &mapped);
}

static struct ds_arelay *mk(uint32_t lifetime, const char *secret)
{
	struct ds_arelay_config cfg = {.server = srv, .name = "a1", .lifetime_s = lifetime};
	struct ds_arelay *r = NULL;

	if (secret)
		cfg.secret = secret;
	else
		cfg.user = "user", cfg.pass = "pass";
	CHECK_INT(ds_arelay_new(&cfg, &r), 0);
	return r;
}

static size_t pull(struct ds_arelay *r, struct ds_stun_msg *m)
{
	struct ds_addr dst;
	size_t len = 0;

	CHECK_INT(ds_arelay_pull(r, pkt, sizeof(pkt), &len, &dst), 1);
	CHECK(ds_addr_equal(&dst, &srv));
	if (m)
		CHECK_INT(ds_stun_parse(pkt, len, m, NULL), 0);
	return len;
}

static void nothing_to_pull(struct ds_arelay *r)
{
	size_t len;

	CHECK_INT(ds_arelay_pull(r, pkt, sizeof(pkt), &len, NULL), 0);
}

static void begin(struct ds_stun_enc *e, const struct ds_stun_msg *req, enum ds_stun_class cls)
{
	ds_stun_enc_init(e, out, sizeof(out), ds_stun_type(req->method, cls), req->tid);
}

static size_t end(struct ds_stun_enc *e, bool sign)
{
	size_t len = 0;

	if (sign)
		ds_stun_enc_integrity(e, key_md5, sizeof(key_md5));
	ds_stun_enc_fingerprint(e);
	CHECK_INT(ds_stun_enc_finish(e, &len), 0);
	return len;
}

static int feed(struct ds_arelay *r, size_t len, int64_t now)
{
	return ds_arelay_input(r, out, len, &srv, now, NULL);
}

static size_t challenge(const struct ds_stun_msg *req)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_ERROR);
	ds_stun_enc_error(&e, 401, "Unauthorized");
	ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, "example.org");
	ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, "nonce1");
	return end(&e, false);
}

static size_t alloc_ok(const struct ds_stun_msg *req, uint32_t lifetime)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_SUCCESS);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
	ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, lifetime);
	return end(&e, true);
}

static size_t plain_ok(const struct ds_stun_msg *req)
{
	struct ds_stun_enc e;

	begin(&e, req, DS_STUN_SUCCESS);
	return end(&e, true);
}

/* Tick at now, answer the Allocate (401, then success with lifetime). */
static void allocate(struct ds_arelay *r, int64_t now, uint32_t lifetime)
{
	struct ds_stun_msg m;

	ds_arelay_tick(r, now);
	pull(r, &m);
	CHECK_INT(m.method, DS_STUN_ALLOCATE);
	CHECK_INT(feed(r, challenge(&m), now), DS_TURN_IN_CONSUMED);
	ds_arelay_tick(r, now);
	pull(r, &m);
	CHECK_INT(m.method, DS_STUN_ALLOCATE);
	CHECK_INT(feed(r, alloc_ok(&m, lifetime), now), DS_TURN_IN_CONSUMED);
}

static char *status(struct ds_arelay *r, int64_t now)
{
	static char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	ds_arelay_status(r, now, f);
	fclose(f);
	return buf;
}

static void asks_lifetime_and_refreshes_at_half_a_short_one(void)
{
	struct ds_arelay *r = mk(30, NULL);
	struct ds_stun_attr a;
	struct ds_stun_msg m;
	struct ds_stun_enc e;
	struct ds_addr got;
	uint32_t life = 0;

	CHECK(!ds_arelay_changed(r));
	CHECK_INT(ds_arelay_tick(r, T0), 500 * DS_NSEC_PER_MSEC); /* RFC 8489 first RTO */
	pull(r, &m);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_LIFETIME, &a), 0);
	CHECK_INT(ds_stun_attr_u32(&a, &life), 0);
	CHECK_INT(life, 30);
	CHECK_INT(feed(r, challenge(&m), T0), DS_TURN_IN_CONSUMED);
	ds_arelay_tick(r, T0);
	pull(r, &m);
	CHECK_INT(feed(r, alloc_ok(&m, 30), T0), DS_TURN_IN_CONSUMED);
	CHECK(ds_arelay_changed(r));
	CHECK(!ds_arelay_changed(r));
	CHECK_INT(ds_arelay_relayed(r, &got), 0);
	CHECK(ds_addr_equal(&got, &relayed));
	/* 30 s: refreshed 15 s before expiry, and again after each refresh */
	for (int round = 0; round < 3; round++) {
		int64_t at = T0 + (int64_t)(round + 1) * 15 * S;

		CHECK_INT(ds_arelay_tick(r, at - 15 * S), 15 * S);
		ds_arelay_tick(r, at - 1);
		nothing_to_pull(r);
		ds_arelay_tick(r, at);
		pull(r, &m);
		CHECK_INT(m.method, DS_STUN_REFRESH);
		begin(&e, &m, DS_STUN_SUCCESS);
		ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, 30);
		CHECK_INT(feed(r, end(&e, true), at), DS_TURN_IN_CONSUMED);
	}
	CHECK(strstr(status(r, T0 + 45 * S),
		     "state allocated relayed 203.0.113.5:50000 lifetime_s 30 expires_in_s 30 "
		     "allocations 1 refreshes 3 failures 0") != NULL);
	CHECK(!ds_arelay_changed(r)); /* a refresh keeps the address */
	ds_arelay_free(r);
}

static void lost_allocation_starts_again_with_its_permissions(void)
{
	struct ds_arelay *r = mk(0, NULL);
	struct ds_addr other;
	struct ds_stun_msg m;
	struct ds_stun_enc e;

	ds_addr_parse("2001:db8::7:4660", 0, 0, &other);
	CHECK_INT(ds_arelay_permit(r, &peer, T0), 0);
	CHECK_INT(ds_arelay_permit(r, &peer2, T0), 0); /* same IP: one permission */
	CHECK_INT(ds_arelay_permit(r, &other, T0), -EAFNOSUPPORT);
	allocate(r, T0, 600);
	CHECK(ds_arelay_changed(r));
	ds_arelay_tick(r, T0);
	pull(r, &m);
	CHECK_INT(m.method, DS_STUN_CREATE_PERMISSION);
	CHECK_INT(feed(r, plain_ok(&m), T0), DS_TURN_IN_CONSUMED);
	nothing_to_pull(r);
	/* the refresh at 540 s: 437, the allocation is gone */
	ds_arelay_tick(r, T0 + 540 * S);
	pull(r, &m);
	CHECK_INT(m.method, DS_STUN_REFRESH);
	begin(&e, &m, DS_STUN_ERROR);
	ds_stun_enc_error(&e, 437, "Allocation Mismatch");
	CHECK_INT(feed(r, end(&e, true), T0 + 540 * S), DS_TURN_IN_CONSUMED);
	CHECK(ds_arelay_changed(r)); /* no relayed address any more: unpublish */
	CHECK_INT(ds_arelay_relayed(r, &other), -ENOTCONN);
	CHECK(strstr(status(r, T0 + 540 * S), "failures 1 ") != NULL);
	CHECK(strstr(status(r, T0 + 540 * S), "error 437") != NULL);
	/* back-off: nothing for 2 s, then a fresh Allocate, and the permission again */
	CHECK_INT(ds_arelay_tick(r, T0 + 540 * S), 2 * S);
	nothing_to_pull(r);
	allocate(r, T0 + 542 * S, 600);
	CHECK(ds_arelay_changed(r));
	ds_arelay_tick(r, T0 + 542 * S);
	pull(r, &m);
	CHECK_INT(m.method, DS_STUN_CREATE_PERMISSION);
	CHECK(strstr(status(r, T0 + 542 * S), "allocations 2 refreshes 0 failures 1 permissions 1") !=
	      NULL);
	ds_arelay_free(r);
}

static void rest_user_name_is_expiry_and_agent_name(void)
{
	struct ds_arelay *r = mk(0, "dslabsecret");
	struct ds_stun_attr a;
	struct ds_stun_msg m;
	char user[128];
	long long expiry, now = ds_clock_realtime_ns() / S;

	ds_arelay_tick(r, T0);
	pull(r, &m);
	CHECK_INT(feed(r, challenge(&m), T0), DS_TURN_IN_CONSUMED);
	ds_arelay_tick(r, T0);
	pull(r, &m);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_USERNAME, &a), 0);
	CHECK_INT(ds_stun_attr_str(&a, user, sizeof(user)), 0);
	expiry = strtoll(user, NULL, 10);
	CHECK(expiry >= now + DS_ARELAY_REST_VALID_S - 5 && expiry <= now + DS_ARELAY_REST_VALID_S + 5);
	CHECK(strchr(user, ':') && strcmp(strchr(user, ':'), ":a1") == 0);
	ds_arelay_free(r);
}

static void wrap_sends_indication_until_the_channel_is_bound(void)
{
	struct ds_arelay *r = mk(0, NULL);
	uint8_t data[] = {0x05, 1, 2, 3}, buf[256];
	const struct ds_addr *server;
	struct ds_stun_msg m;
	size_t len;

	CHECK_INT(ds_arelay_wrap(r, &peer, data, sizeof(data), buf, sizeof(buf), &len, T0),
		  -ENOTCONN);
	allocate(r, T0, 600);
	CHECK_INT(ds_arelay_wrap(r, &peer, data, sizeof(data), buf, sizeof(buf), &len, T0), 0);
	CHECK_INT(ds_stun_parse(buf, len, &m, NULL), 0);
	CHECK_INT(m.method, DS_STUN_SEND);
	/* the binding goes out (with the permission it also needs): answer both */
	ds_arelay_tick(r, T0);
	for (int i = 0, bound = 0; i < 4 && !bound; i++) {
		pull(r, &m);
		CHECK(m.method == DS_STUN_CHANNEL_BIND || m.method == DS_STUN_CREATE_PERMISSION);
		bound = m.method == DS_STUN_CHANNEL_BIND;
		CHECK_INT(feed(r, plain_ok(&m), T0), DS_TURN_IN_CONSUMED);
		ds_arelay_tick(r, T0);
	}
	CHECK_INT(ds_arelay_wrap(r, &peer, data, sizeof(data), buf, sizeof(buf), &len, T0), 0);
	CHECK_INT(len, 4 + sizeof(data)); /* ChannelData */
	CHECK(ds_turn_is_channel_data(buf, len));
	CHECK(memcmp(buf + 4, data, sizeof(data)) == 0);
	server = ds_arelay_server(r);
	CHECK(ds_addr_equal(server, &srv));
	ds_arelay_free(r);
}

static void release_sends_lifetime_zero_at_once(void)
{
	struct ds_arelay *r = mk(0, NULL);
	struct ds_stun_attr a;
	struct ds_stun_msg m;
	uint32_t life = 1;

	allocate(r, T0, 600);
	ds_arelay_release(r, T0 + S);
	pull(r, &m);
	CHECK_INT(m.method, DS_STUN_REFRESH);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_LIFETIME, &a), 0);
	CHECK_INT(ds_stun_attr_u32(&a, &life), 0);
	CHECK_INT(life, 0);
	CHECK_INT(ds_stun_check_integrity(&m, key_md5, 16), 0);
	ds_arelay_free(r);
}

static void ipv6_server_asks_for_ipv6_relayed_address(void)
{
	struct ds_arelay_config cfg = {.name = "a1", .user = "user", .pass = "pass"};
	struct ds_arelay *r = NULL;
	struct ds_stun_attr a;
	struct ds_stun_msg m;
	struct ds_addr dst;
	uint32_t fam = 0;
	size_t len;

	ds_addr_parse("[2001:db8::10]:3478", 0, 0, &cfg.server);
	CHECK_INT(ds_arelay_new(&cfg, &r), 0);
	CHECK_INT(ds_arelay_family(r), AF_INET6);
	ds_arelay_tick(r, T0);
	CHECK_INT(ds_arelay_pull(r, pkt, sizeof(pkt), &len, &dst), 1);
	CHECK_INT(ds_stun_parse(pkt, len, &m, NULL), 0);
	CHECK_INT(ds_stun_find(&m, DS_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &a), 0);
	CHECK_INT(ds_stun_attr_u32(&a, &fam), 0);
	CHECK_INT(fam, 0x02000000); /* RFC 8656 §18.9: 0x02 IPv6 */
	/* and the IPv4 server's request leaves it out (IPv4 is the default) */
	ds_arelay_free(r);
	r = mk(0, NULL);
	ds_arelay_tick(r, T0);
	pull(r, &m);
	CHECK(ds_stun_find(&m, DS_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &a) < 0);
	ds_arelay_free(r);
}

static void mark_is_no_address(void)
{
	struct ds_addr x;

	ds_arelay_mark(&x);
	CHECK(ds_arelay_is_marked(&x));
	CHECK(!ds_arelay_is_marked(&peer));
	CHECK(!ds_arelay_is_marked(NULL));
	memset(&x, 0, sizeof(x));
	CHECK(!ds_arelay_is_marked(&x)); /* "no local address" is not the mark */
}

static void config_needs_credentials(void)
{
	struct ds_arelay_config cfg = {.server = srv, .name = "a1", .user = "u"};
	struct ds_arelay *r = (struct ds_arelay *)1;

	CHECK_INT(ds_arelay_new(&cfg, &r), -EINVAL);
	CHECK(r == NULL);
	ds_arelay_free(NULL);
}

int main(void)
{
	setup();
	UNIT_RUN(asks_lifetime_and_refreshes_at_half_a_short_one);
	UNIT_RUN(lost_allocation_starts_again_with_its_permissions);
	UNIT_RUN(rest_user_name_is_expiry_and_agent_name);
	UNIT_RUN(wrap_sends_indication_until_the_channel_is_bound);
	UNIT_RUN(release_sends_lifetime_zero_at_once);
	UNIT_RUN(ipv6_server_asks_for_ipv6_relayed_address);
	UNIT_RUN(mark_is_no_address);
	UNIT_RUN(config_needs_credentials);
	UNIT_EXIT();
}
