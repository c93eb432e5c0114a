// SPDX-License-Identifier: MIT
/* TURN client over UDP (RFC 8656): a sans-I/O state machine on the STUN codec. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include "turn.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"

#define MAX_TXN       (2 + 2 * DS_TURN_MAX_PEERS)
#define MAX_EVENTS    32
#define RECENT_TIDS   16
#define RETRY_NS      (5 * DS_NSEC_PER_SEC) /* a timed-out permission/channel tries again */
#define TRANSPORT_UDP 17                    /* REQUESTED-TRANSPORT protocol (§18.13) */

enum txn_kind { TX_ALLOCATE = 1, TX_REFRESH, TX_PERMISSION, TX_CHANNEL };

struct txn {
	enum txn_kind kind; /* 0 = slot free */
	uint16_t method;
	uint8_t tid[DS_STUN_TID_LEN];
	bool due;          /* queued for ds_turn_pull */
	bool authed;       /* carried USERNAME and MESSAGE-INTEGRITY */
	unsigned sent;     /* transmissions scheduled so far */
	int64_t next_ns;   /* next retransmission, or the timeout after the last one */
	int peer;          /* index into peers for permissions and channels, else -1 */
	uint32_t lifetime; /* Refresh: LIFETIME asked for (0 = release) */
	bool has_lifetime;
	unsigned stale; /* 438 retries so far */
};

struct peer {
	bool used;
	struct ds_addr addr;
	/* permission (for addr's IP) */
	bool want_perm, perm_ok;
	int64_t perm_expires_ns, perm_refresh_ns;
	int perm_txn;
	/* channel (for addr with port) */
	uint16_t channel; /* 0 = none wanted */
	bool chan_ok;
	int64_t chan_expires_ns, chan_refresh_ns;
	int chan_txn;
};

struct ds_turn {
	struct ds_turn_config cfg;
	char *username, *password, *software;
	struct ds_addr server;
	enum ds_turn_state state;
	/* long-term credential state (RFC 8489 §9.2) */
	bool have_auth;
	char realm[DS_STUN_MAX_REALM + 1];
	char nonce[DS_STUN_MAX_NONCE + 1];
	uint16_t alg;         /* 0 until the 401 */
	bool send_algs;       /* the server offered PASSWORD-ALGORITHMS: echo them */
	uint8_t algs_raw[64]; /* the PASSWORD-ALGORITHMS value as received */
	size_t algs_len;
	uint8_t key[DS_STUN_KEY_MAX];
	size_t keylen;
	unsigned redirects;
	/* the allocation */
	struct ds_addr relayed, mapped;
	uint32_t lifetime_s;
	int64_t expires_ns, refresh_ns;
	int refresh_txn;
	int fail_error, fail_code;
	char fail_reason[128];
	struct txn txns[MAX_TXN];
	struct peer peers[DS_TURN_MAX_PEERS];
	uint16_t next_channel;
	uint8_t recent[RECENT_TIDS][DS_STUN_TID_LEN];
	unsigned nrecent;
	struct ds_turn_event events[MAX_EVENTS];
	unsigned ev_head, ev_count;
	int64_t last_now;
};

/* ---- ChannelData (§12.4) ---- */

bool ds_turn_is_channel_data(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return len >= DS_TURN_CHANNEL_HDR_LEN && p[0] >= 0x40 && p[0] <= 0x4F;
}

int ds_turn_channel_data_encode(uint16_t channel, const void *data, size_t len, void *buf,
				size_t cap, size_t *out_len)
{
	uint8_t *p = buf;

	if (channel < DS_TURN_CHANNEL_MIN || channel > DS_TURN_CHANNEL_MAX || len > 0xFFFF)
		return -EINVAL;
	if (cap < DS_TURN_CHANNEL_HDR_LEN + len)
		return -ENOSPC;
	p[0] = channel >> 8;
	p[1] = channel & 0xFF;
	p[2] = len >> 8;
	p[3] = len & 0xFF;
	if (len)
		memmove(p + DS_TURN_CHANNEL_HDR_LEN, data, len);
	*out_len = DS_TURN_CHANNEL_HDR_LEN + len;
	return 0;
}

int ds_turn_channel_data_decode(const void *buf, size_t len, uint16_t *channel,
				const uint8_t **data, size_t *data_len)
{
	const uint8_t *p = buf;
	size_t n;

	if (!ds_turn_is_channel_data(buf, len))
		return -EBADMSG;
	n = (size_t)p[2] << 8 | p[3];
	/* Over UDP the padding is optional (§12.5): accept the bare length or padded to 4. */
	if (len < DS_TURN_CHANNEL_HDR_LEN + n || len > DS_TURN_CHANNEL_HDR_LEN + ((n + 3) & ~3u))
		return -EBADMSG;
	*channel = (uint16_t)(p[0] << 8 | p[1]);
	if (*channel > DS_TURN_CHANNEL_MAX)
		return -EBADMSG;
	*data = p + DS_TURN_CHANNEL_HDR_LEN;
	*data_len = n;
	return 0;
}

/* ---- REST credentials ---- */

int ds_turn_rest_credentials(const char *secret, const char *user, int64_t expiry_unix,
			     char *username, size_t username_len, char *password,
			     size_t password_len)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	int n;

	if (!secret)
		return -EINVAL;
	if (user && *user)
		n = snprintf(username, username_len, "%" PRId64 ":%s", expiry_unix, user);
	else
		n = snprintf(username, username_len, "%" PRId64, expiry_unix);
	if (n < 0 || (size_t)n >= username_len)
		return -ENOSPC;
	if (password_len < DS_TURN_REST_PASSWORD_LEN + 1)
		return -ENOSPC;
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const uint8_t *)username, (size_t)n,
		  mac, &maclen) ||
	    maclen != 20)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)password, mac, (int)maclen);
	return 0;
}

const char *ds_turn_error_text(int code)
{
	switch (code) {
	case 300:
		return "Try Alternate";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthenticated";
	case 403:
		return "Forbidden";
	case 420:
		return "Unknown Attribute";
	case 437:
		return "Allocation Mismatch";
	case 438:
		return "Stale Nonce";
	case 440:
		return "Address Family not Supported";
	case 441:
		return "Wrong Credentials";
	case 442:
		return "Unsupported Transport Protocol";
	case 443:
		return "Peer Address Family Mismatch";
	case 486:
		return "Allocation Quota Reached";
	case 500:
		return "Server Error";
	case 508:
		return "Insufficient Capacity";
	default:
		return "";
	}
}

const char *ds_turn_state_name(enum ds_turn_state s)
{
	switch (s) {
	case DS_TURN_IDLE:
		return "idle";
	case DS_TURN_ALLOCATING:
		return "allocating";
	case DS_TURN_ALLOCATED:
		return "allocated";
	case DS_TURN_RELEASING:
		return "releasing";
	case DS_TURN_RELEASED:
		return "released";
	case DS_TURN_FAILED:
		return "failed";
	}
	return "?";
}

/* ---- lifetime ---- */

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int ds_turn_new(const struct ds_turn_config *cfg, struct ds_turn **out)
{
	struct ds_turn *t;
	bool oom = false;

	*out = NULL;
	if (!cfg || !cfg->server.len || !cfg->username || !cfg->password ||
	    strlen(cfg->username) > DS_STUN_MAX_USERNAME ||
	    (cfg->software && strlen(cfg->software) > DS_STUN_MAX_SOFTWARE) ||
	    (cfg->family != 0 && cfg->family != AF_INET && cfg->family != AF_INET6))
		return -EINVAL;
	if (cfg->retrans.rto_ns && (cfg->retrans.rto_ns < 0 || cfg->retrans.rc < 1 ||
				    cfg->retrans.rc > 32 || cfg->retrans.rm < 1))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	if (!t->cfg.retrans.rto_ns)
		ds_stun_retrans_default(&t->cfg.retrans);
	t->username = dup_or_null(cfg->username, &oom);
	t->password = dup_or_null(cfg->password, &oom);
	t->software = dup_or_null(cfg->software, &oom);
	if (oom) {
		ds_turn_free(t);
		return -ENOMEM;
	}
	t->cfg.username = t->username;
	t->cfg.password = t->password;
	t->cfg.software = t->software;
	t->server = cfg->server;
	t->refresh_txn = -1;
	t->next_channel = DS_TURN_CHANNEL_MIN;
	*out = t;
	return 0;
}

void ds_turn_free(struct ds_turn *t)
{
	if (!t)
		return;
	free(t->username);
	if (t->password)
		memset(t->password, 0, strlen(t->password));
	free(t->password);
	free(t->software);
	memset(t->key, 0, sizeof(t->key));
	free(t);
}

/* ---- events ---- */

static struct ds_turn_event *push_event(struct ds_turn *t, enum ds_turn_event_type type,
					uint16_t method)
{
	struct ds_turn_event *ev;

	if (t->ev_count == MAX_EVENTS) { /* drop the oldest */
		t->ev_head = (t->ev_head + 1) % MAX_EVENTS;
		t->ev_count--;
	}
	ev = &t->events[(t->ev_head + t->ev_count) % MAX_EVENTS];
	t->ev_count++;
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->method = method;
	return ev;
}

int ds_turn_event(struct ds_turn *t, struct ds_turn_event *ev)
{
	if (!t->ev_count)
		return 0;
	*ev = t->events[t->ev_head];
	t->ev_head = (t->ev_head + 1) % MAX_EVENTS;
	t->ev_count--;
	return 1;
}

/* ---- transactions ---- */

static void remember_tid(struct ds_turn *t, const uint8_t tid[DS_STUN_TID_LEN])
{
	memcpy(t->recent[t->nrecent % RECENT_TIDS], tid, DS_STUN_TID_LEN);
	t->nrecent++;
}

static void end_txn(struct ds_turn *t, int i)
{
	struct txn *x = &t->txns[i];

	remember_tid(t, x->tid);
	if (x->kind == TX_PERMISSION && x->peer >= 0)
		t->peers[x->peer].perm_txn = -1;
	if (x->kind == TX_CHANNEL && x->peer >= 0)
		t->peers[x->peer].chan_txn = -1;
	if (x->kind == TX_REFRESH)
		t->refresh_txn = -1;
	x->kind = 0;
	x->due = false;
}

static void end_all_txns(struct ds_turn *t)
{
	for (int i = 0; i < MAX_TXN; i++)
		if (t->txns[i].kind)
			end_txn(t, i);
}

static int free_txn(const struct ds_turn *t)
{
	for (int i = 0; i < MAX_TXN; i++)
		if (!t->txns[i].kind)
			return i;
	return -1;
}

static int64_t wait_after(const struct ds_turn *t, unsigned sent)
{
	const struct ds_stun_retrans *p = &t->cfg.retrans;

	if (sent < p->rc)
		return p->rto_ns << (sent - 1 < 30 ? sent - 1 : 30);
	return (int64_t)p->rm * p->rto_ns;
}

/* The request of x into buf: method attributes first, credentials last. Built when it is
 * pulled rather than kept, so a client holds no request buffers; the same state gives the
 * same bytes, so a retransmission is the request again (RFC 8489 §6.2.1). */
static int build(struct ds_turn *t, struct txn *x, void *buf, size_t cap, size_t *len)
{
	struct ds_stun_enc e;
	const struct peer *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;
	int r;

	r = ds_stun_enc_init(&e, buf, cap, ds_stun_type(x->method, DS_STUN_REQUEST), x->tid);
	if (r < 0)
		return r;
	switch (x->kind) {
	case TX_ALLOCATE:
		/* §18.13: protocol 17 and three RFFU bytes */
		ds_stun_enc_u32(&e, DS_STUN_ATTR_REQUESTED_TRANSPORT,
				(uint32_t)TRANSPORT_UDP << 24);
		if (t->cfg.lifetime_s)
			ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, t->cfg.lifetime_s);
		if (t->cfg.family) /* §18.9: 0x01 IPv4, 0x02 IPv6, three RFFU bytes */
			ds_stun_enc_u32(&e, DS_STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
					(t->cfg.family == AF_INET6 ? 2u : 1u) << 24);
		break;
	case TX_REFRESH:
		if (x->has_lifetime)
			ds_stun_enc_u32(&e, DS_STUN_ATTR_LIFETIME, x->lifetime);
		break;
	case TX_PERMISSION:
		ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_PEER_ADDRESS, &p->addr);
		break;
	case TX_CHANNEL:
		/* §14.1: channel number and RFFU = 0 */
		ds_stun_enc_u32(&e, DS_STUN_ATTR_CHANNEL_NUMBER, (uint32_t)p->channel << 16);
		ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_PEER_ADDRESS, &p->addr);
		break;
	}
	if (t->software)
		ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, t->software);
	x->authed = t->have_auth;
	if (t->have_auth) {
		ds_stun_enc_str(&e, DS_STUN_ATTR_USERNAME, t->username);
		ds_stun_enc_str(&e, DS_STUN_ATTR_REALM, t->realm);
		ds_stun_enc_str(&e, DS_STUN_ATTR_NONCE, t->nonce);
		if (t->send_algs) { /* RFC 8489 §9.2.4: echo the list, name the choice */
			ds_stun_enc_attr(&e, DS_STUN_ATTR_PASSWORD_ALGORITHMS, t->algs_raw,
					 t->algs_len);
			ds_stun_enc_password_algorithm(&e, t->alg);
		}
		if (t->alg == DS_STUN_PASSWORD_SHA256)
			ds_stun_enc_integrity_sha256(&e, t->key, t->keylen);
		else
			ds_stun_enc_integrity(&e, t->key, t->keylen);
	}
	if (!t->cfg.no_fingerprint)
		ds_stun_enc_fingerprint(&e);
	return ds_stun_enc_finish(&e, len);
}

/* Send (again) x's request: queue it and restart its retransmission schedule. */
static int launch(struct ds_turn *t, struct txn *x, int64_t now_ns)
{
	/* a new transaction id: a retry after 401/438 is a new transaction (RFC 8489 §9.2.5) */
	int r = ds_stun_tid_random(x->tid);

	if (r < 0)
		return r;
	x->authed = t->have_auth;
	x->due = true;
	x->sent = 1;
	x->next_ns = now_ns + wait_after(t, 1);
	return 0;
}

static int start_txn(struct ds_turn *t, enum txn_kind kind, uint16_t method, int peer,
		     int64_t now_ns)
{
	int i = free_txn(t), r;
	struct txn *x;

	if (i < 0)
		return -EBUSY;
	x = &t->txns[i];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->method = method;
	x->peer = peer;
	if (kind == TX_REFRESH) {
		x->has_lifetime = t->state == DS_TURN_RELEASING || t->cfg.lifetime_s;
		x->lifetime = t->state == DS_TURN_RELEASING ? 0 : t->cfg.lifetime_s;
	}
	r = launch(t, x, now_ns);
	if (r < 0) {
		x->kind = 0;
		return r;
	}
	return i;
}

/* ---- failure ---- */

static void set_failed(struct ds_turn *t, int error, int code, const char *reason)
{
	t->state = DS_TURN_FAILED;
	t->fail_error = error;
	t->fail_code = code;
	snprintf(t->fail_reason, sizeof(t->fail_reason), "%s",
		 reason && *reason ? reason : ds_turn_error_text(code));
	end_all_txns(t);
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++) {
		t->peers[i].perm_ok = false;
		t->peers[i].chan_ok = false;
	}
}

static void fail_event(struct ds_turn *t, const struct txn *x, int error, int code,
		       const char *reason)
{
	struct ds_turn_event *ev = push_event(t, DS_TURN_EV_FAILED, x->method);

	ev->error = error;
	ev->code = code;
	snprintf(ev->reason, sizeof(ev->reason), "%s",
		 reason && *reason ? reason : ds_turn_error_text(code));
	if (x->peer >= 0) {
		ev->peer = t->peers[x->peer].addr;
		ev->channel = t->peers[x->peer].channel;
	}
}

/* A transaction of x's kind failed for good. */
static void txn_failed(struct ds_turn *t, int i, int error, int code, const char *reason)
{
	struct txn *x = &t->txns[i];
	struct peer *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;
	enum txn_kind kind = x->kind;

	fail_event(t, x, error, code, reason);
	end_txn(t, i);
	switch (kind) {
	case TX_ALLOCATE:
		set_failed(t, error, code, reason);
		break;
	case TX_REFRESH:
		if (t->state == DS_TURN_RELEASING) {
			t->state = DS_TURN_RELEASED;
			end_all_txns(t);
			push_event(t, DS_TURN_EV_RELEASED, DS_STUN_REFRESH)->error = error;
		} else if (error == -ETIMEDOUT && t->last_now + RETRY_NS < t->expires_ns) {
			t->refresh_ns = t->last_now; /* try again while there is time */
		} else {
			set_failed(t, error, code, reason);
		}
		break;
	case TX_PERMISSION:
		if (error == -ETIMEDOUT)
			p->perm_refresh_ns = t->last_now + RETRY_NS;
		else
			p->want_perm = false;
		break;
	case TX_CHANNEL:
		if (error == -ETIMEDOUT)
			p->chan_refresh_ns = t->last_now + RETRY_NS;
		else
			p->channel = 0;
		break;
	}
}

/* ---- what is due ---- */

static void schedule(struct ds_turn *t, int64_t now_ns)
{
	int r;

	if (t->state != DS_TURN_ALLOCATED)
		return;
	if (t->refresh_txn < 0 && now_ns >= t->refresh_ns) {
		r = start_txn(t, TX_REFRESH, DS_STUN_REFRESH, -1, now_ns);
		if (r >= 0)
			t->refresh_txn = r;
	}
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++) {
		struct peer *p = &t->peers[i];

		if (!p->used)
			continue;
		if (p->perm_ok && now_ns >= p->perm_expires_ns)
			p->perm_ok = false;
		if (p->chan_ok && now_ns >= p->chan_expires_ns)
			p->chan_ok = false;
		if (ds_addr_family(&p->addr) != ds_addr_family(&t->relayed)) {
			struct txn fake = {.method = DS_STUN_CREATE_PERMISSION, .peer = i};

			if (p->want_perm || p->channel) {
				/* §9.1 would answer 443; say it without asking */
				fail_event(t, &fake, -EAFNOSUPPORT, 443, NULL);
				p->want_perm = false;
				p->channel = 0;
			}
			continue;
		}
		if (p->want_perm && p->perm_txn < 0 && now_ns >= p->perm_refresh_ns) {
			r = start_txn(t, TX_PERMISSION, DS_STUN_CREATE_PERMISSION, i, now_ns);
			if (r >= 0)
				p->perm_txn = r;
		}
		if (p->channel && p->chan_txn < 0 && now_ns >= p->chan_refresh_ns) {
			r = start_txn(t, TX_CHANNEL, DS_STUN_CHANNEL_BIND, i, now_ns);
			if (r >= 0)
				p->chan_txn = r;
		}
	}
}

/* ---- public calls ---- */

int ds_turn_allocate(struct ds_turn *t, int64_t now_ns)
{
	int r;

	if (t->state == DS_TURN_ALLOCATING || t->state == DS_TURN_ALLOCATED ||
	    t->state == DS_TURN_RELEASING)
		return -EALREADY;
	t->last_now = now_ns;
	end_all_txns(t);
	t->have_auth = false;
	t->alg = 0;
	t->send_algs = false;
	t->redirects = 0;
	t->fail_error = t->fail_code = 0;
	t->fail_reason[0] = 0;
	memset(&t->relayed, 0, sizeof(t->relayed));
	memset(&t->mapped, 0, sizeof(t->mapped));
	t->state = DS_TURN_ALLOCATING;
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++) {
		t->peers[i].perm_ok = t->peers[i].chan_ok = false;
		t->peers[i].perm_refresh_ns = t->peers[i].chan_refresh_ns = 0;
		t->peers[i].perm_txn = t->peers[i].chan_txn = -1;
	}
	r = start_txn(t, TX_ALLOCATE, DS_STUN_ALLOCATE, -1, now_ns);
	if (r < 0) {
		set_failed(t, r, 0, NULL);
		return r;
	}
	return 0;
}

int ds_turn_refresh(struct ds_turn *t, int64_t now_ns)
{
	if (t->state != DS_TURN_ALLOCATED)
		return -ENOTCONN;
	if (t->refresh_txn >= 0)
		return -EALREADY;
	t->last_now = now_ns;
	t->refresh_ns = now_ns;
	schedule(t, now_ns);
	return 0;
}

int ds_turn_release(struct ds_turn *t, int64_t now_ns)
{
	int r;

	t->last_now = now_ns;
	if (t->state != DS_TURN_ALLOCATED) {
		end_all_txns(t);
		if (t->state != DS_TURN_IDLE && t->state != DS_TURN_FAILED)
			t->state = DS_TURN_RELEASED;
		return 0;
	}
	end_all_txns(t);
	t->state = DS_TURN_RELEASING;
	r = start_txn(t, TX_REFRESH, DS_STUN_REFRESH, -1, now_ns);
	if (r < 0) {
		t->state = DS_TURN_RELEASED;
		return 0;
	}
	t->refresh_txn = r;
	return 0;
}

static int find_peer(const struct ds_turn *t, const struct ds_addr *peer, bool with_port)
{
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++)
		if (t->peers[i].used && (with_port ? ds_addr_equal(&t->peers[i].addr, peer)
						   : ds_addr_equal_host(&t->peers[i].addr, peer)))
			return i;
	return -1;
}

static int new_peer(struct ds_turn *t, const struct ds_addr *peer)
{
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++) {
		struct peer *p = &t->peers[i];

		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->addr = *peer;
		p->perm_txn = p->chan_txn = -1;
		return i;
	}
	return -ENOSPC;
}

static int check_family(const struct ds_turn *t, const struct ds_addr *peer)
{
	int f = ds_addr_family(peer);

	if (f != AF_INET && f != AF_INET6)
		return -EINVAL;
	if (t->state == DS_TURN_ALLOCATED && f != ds_addr_family(&t->relayed))
		return -EAFNOSUPPORT;
	return 0;
}

int ds_turn_permit(struct ds_turn *t, const struct ds_addr *peer, int64_t now_ns)
{
	int i, r = check_family(t, peer);

	if (r < 0)
		return r;
	t->last_now = now_ns;
	i = find_peer(t, peer, false);
	if (i < 0 && (i = new_peer(t, peer)) < 0)
		return i;
	t->peers[i].want_perm = true;
	schedule(t, now_ns);
	return 0;
}

static bool channel_in_use(const struct ds_turn *t, uint16_t ch)
{
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++)
		if (t->peers[i].used && t->peers[i].channel == ch)
			return true;
	return false;
}

int ds_turn_bind(struct ds_turn *t, const struct ds_addr *peer, int64_t now_ns, uint16_t *channel)
{
	int i, r = check_family(t, peer);
	struct peer *p;

	if (r < 0)
		return r;
	t->last_now = now_ns;
	i = find_peer(t, peer, true);
	if (i < 0) {
		/* a permission-only entry for the same IP without a channel can take it */
		i = find_peer(t, peer, false);
		if (i >= 0 &&
		    (t->peers[i].channel || ds_addr_port(&t->peers[i].addr) != ds_addr_port(peer)))
			i = -1;
	}
	if (i < 0 && (i = new_peer(t, peer)) < 0)
		return i;
	p = &t->peers[i];
	p->addr = *peer;
	/* The binding installs the permission too (§12.2), but that lasts 300 s and the
	 * channel 600 s: refresh the permission on its own schedule. */
	p->want_perm = true;
	if (!p->channel) {
		while (channel_in_use(t, t->next_channel))
			t->next_channel = t->next_channel == DS_TURN_CHANNEL_MAX
					      ? DS_TURN_CHANNEL_MIN
					      : t->next_channel + 1;
		p->channel = t->next_channel;
		t->next_channel = t->next_channel == DS_TURN_CHANNEL_MAX ? DS_TURN_CHANNEL_MIN
									 : t->next_channel + 1;
		p->chan_refresh_ns = 0;
		p->chan_ok = false;
	}
	if (channel)
		*channel = p->channel;
	schedule(t, now_ns);
	return 0;
}

void ds_turn_forget(struct ds_turn *t, const struct ds_addr *peer)
{
	int i = find_peer(t, peer, true);

	if (i < 0)
		i = find_peer(t, peer, false);
	if (i < 0)
		return;
	if (t->peers[i].perm_txn >= 0)
		end_txn(t, t->peers[i].perm_txn);
	if (t->peers[i].chan_txn >= 0)
		end_txn(t, t->peers[i].chan_txn);
	memset(&t->peers[i], 0, sizeof(t->peers[i]));
	t->peers[i].perm_txn = t->peers[i].chan_txn = -1;
}

/* ---- responses ---- */

/* 401 or 438: take REALM, NONCE (and PASSWORD-ALGORITHMS) and derive the key. */
static int take_challenge(struct ds_turn *t, const struct ds_stun_msg *m, bool first)
{
	struct ds_stun_attr a;
	char realm[sizeof(t->realm)], nonce[sizeof(t->nonce)];
	uint16_t algs[16];
	size_t n = 0;
	uint16_t alg = DS_STUN_PASSWORD_MD5;
	bool send_algs = false;

	if (ds_stun_find(m, DS_STUN_ATTR_NONCE, &a) < 0 ||
	    ds_stun_attr_str(&a, nonce, sizeof(nonce)) < 0 || !*nonce)
		return -EBADMSG;
	if (ds_stun_find(m, DS_STUN_ATTR_REALM, &a) == 0) {
		if (ds_stun_attr_str(&a, realm, sizeof(realm)) < 0)
			return -EBADMSG;
	} else if (first || !t->have_auth) {
		return -EBADMSG; /* a 401 must name the realm */
	} else {
		memcpy(realm, t->realm, sizeof(realm));
	}
	if (first) {
		if (ds_stun_find(m, DS_STUN_ATTR_PASSWORD_ALGORITHMS, &a) == 0) {
			if (ds_stun_attr_password_algorithms(&a, algs, 16, &n) < 0 ||
			    a.len > sizeof(t->algs_raw))
				return -EBADMSG;
			alg = 0;
			for (size_t i = 0; i < n && i < 16; i++) {
				if (algs[i] == DS_STUN_PASSWORD_SHA256)
					alg = DS_STUN_PASSWORD_SHA256;
				else if (algs[i] == DS_STUN_PASSWORD_MD5 && !alg)
					alg = DS_STUN_PASSWORD_MD5;
			}
			if (!alg)
				return -EPROTONOSUPPORT;
			send_algs = true;
			memcpy(t->algs_raw, a.val, a.len);
			t->algs_len = a.len;
		}
		t->alg = alg;
		t->send_algs = send_algs;
	}
	memcpy(t->realm, realm, sizeof(realm));
	memcpy(t->nonce, nonce, sizeof(nonce));
	if (ds_stun_key_long_term(t->alg, t->username, t->realm, t->password, t->key, &t->keylen) <
	    0)
		return -EIO;
	t->have_auth = true;
	return 0;
}

static void allocated(struct ds_turn *t, const struct ds_stun_msg *m, int64_t now_ns)
{
	struct ds_turn_event *ev;
	struct ds_stun_attr a;
	uint32_t life = DS_TURN_DEFAULT_LIFETIME_S;

	if (ds_stun_find(m, DS_STUN_ATTR_LIFETIME, &a) == 0)
		ds_stun_attr_u32(&a, &life);
	struct ds_addr mapped;

	if (ds_stun_get_addr(m, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) == 0)
		t->mapped = mapped;
	t->lifetime_s = life;
	t->expires_ns = now_ns + (int64_t)life * DS_NSEC_PER_SEC;
	{
		int64_t margin =
		    life / 2 < DS_TURN_REFRESH_MARGIN_S ? life / 2 : DS_TURN_REFRESH_MARGIN_S;

		t->refresh_ns = t->expires_ns - margin * DS_NSEC_PER_SEC;
	}
	ev = push_event(t,
			t->state == DS_TURN_ALLOCATED ? DS_TURN_EV_REFRESHED : DS_TURN_EV_ALLOCATED,
			m->method);
	ev->relayed = t->relayed;
	ev->mapped = t->mapped;
	ev->lifetime_s = life;
	t->state = DS_TURN_ALLOCATED;
}

static int on_success(struct ds_turn *t, int i, const struct ds_stun_msg *m, int64_t now_ns)
{
	struct txn *x = &t->txns[i];
	struct peer *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;
	struct ds_turn_event *ev;
	struct ds_addr relayed;

	switch (x->kind) {
	case TX_ALLOCATE:
		if (ds_stun_get_addr(m, DS_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed) < 0) {
			txn_failed(t, i, -EBADMSG, 0, "no XOR-RELAYED-ADDRESS");
			return DS_TURN_IN_CONSUMED;
		}
		end_txn(t, i);
		t->relayed = relayed;
		allocated(t, m, now_ns);
		break;
	case TX_REFRESH:
		end_txn(t, i);
		if (t->state == DS_TURN_RELEASING) {
			t->state = DS_TURN_RELEASED;
			end_all_txns(t);
			push_event(t, DS_TURN_EV_RELEASED, DS_STUN_REFRESH);
		} else {
			allocated(t, m, now_ns);
		}
		break;
	case TX_PERMISSION:
		end_txn(t, i);
		p->perm_ok = true;
		p->perm_expires_ns = now_ns + DS_TURN_PERMISSION_LIFETIME_S * DS_NSEC_PER_SEC;
		p->perm_refresh_ns =
		    p->perm_expires_ns - DS_TURN_REFRESH_MARGIN_S * DS_NSEC_PER_SEC;
		ev = push_event(t, DS_TURN_EV_PERMISSION, DS_STUN_CREATE_PERMISSION);
		ev->peer = p->addr;
		break;
	case TX_CHANNEL:
		end_txn(t, i);
		p->chan_ok = true;
		p->chan_expires_ns = now_ns + DS_TURN_CHANNEL_LIFETIME_S * DS_NSEC_PER_SEC;
		p->chan_refresh_ns =
		    p->chan_expires_ns - DS_TURN_REFRESH_MARGIN_S * DS_NSEC_PER_SEC;
		/* the binding refreshed the permission as well (§12.2) */
		p->perm_ok = true;
		p->perm_expires_ns = now_ns + DS_TURN_PERMISSION_LIFETIME_S * DS_NSEC_PER_SEC;
		ev = push_event(t, DS_TURN_EV_CHANNEL, DS_STUN_CHANNEL_BIND);
		ev->peer = p->addr;
		ev->channel = p->channel;
		break;
	}
	schedule(t, now_ns);
	return DS_TURN_IN_CONSUMED;
}

static int on_error(struct ds_turn *t, int i, const struct ds_stun_msg *m, int64_t now_ns)
{
	struct txn *x = &t->txns[i];
	char reason[DS_STUN_MAX_REASON + 1] = "";
	struct ds_stun_attr a;
	int code = 0, r;

	if (ds_stun_find(m, DS_STUN_ATTR_ERROR_CODE, &a) < 0 ||
	    ds_stun_attr_error(&a, &code, reason, sizeof(reason)) < 0) {
		txn_failed(t, i, -EBADMSG, 0, "error response without ERROR-CODE");
		return DS_TURN_IN_CONSUMED;
	}
	switch (code) {
	case DS_STUN_ERR_UNAUTHORIZED:
		if (x->authed) { /* our credentials were refused */
			txn_failed(t, i, -EACCES, code, reason);
			return DS_TURN_IN_CONSUMED;
		}
		r = take_challenge(t, m, true);
		if (r < 0) {
			txn_failed(t, i, r, code, reason);
			return DS_TURN_IN_CONSUMED;
		}
		break;
	case DS_STUN_ERR_STALE_NONCE:
		if (++x->stale > DS_TURN_MAX_STALE) {
			txn_failed(t, i, -ELOOP, code, reason);
			return DS_TURN_IN_CONSUMED;
		}
		r = take_challenge(t, m, !t->have_auth);
		if (r < 0) {
			txn_failed(t, i, r, code, reason);
			return DS_TURN_IN_CONSUMED;
		}
		break;
	case DS_STUN_ERR_TRY_ALTERNATE: {
		struct ds_addr alt;
		struct ds_turn_event *ev;

		if (x->kind != TX_ALLOCATE) {
			txn_failed(t, i, -EPROTO, code, reason);
			return DS_TURN_IN_CONSUMED;
		}
		if (ds_stun_get_addr(m, DS_STUN_ATTR_ALTERNATE_SERVER, &alt) < 0) {
			txn_failed(t, i, -EBADMSG, code, "300 without ALTERNATE-SERVER");
			return DS_TURN_IN_CONSUMED;
		}
		if (++t->redirects > DS_TURN_MAX_REDIRECTS) {
			txn_failed(t, i, -ELOOP, code, reason);
			return DS_TURN_IN_CONSUMED;
		}
		/* §7.? (RFC 8489 §10): start over with the other server, unauthenticated */
		t->server = alt;
		t->have_auth = false;
		t->alg = 0;
		t->send_algs = false;
		ev = push_event(t, DS_TURN_EV_REDIRECTED, DS_STUN_ALLOCATE);
		ev->peer = alt;
		ev->code = code;
		break;
	}
	case DS_STUN_ERR_ALLOCATION_MISMATCH:
		/* Refresh: the allocation is gone; release: nothing left to release. */
		txn_failed(t, i, -EPROTO, code, reason);
		return DS_TURN_IN_CONSUMED;
	default:
		txn_failed(t, i, -EPROTO, code, reason);
		return DS_TURN_IN_CONSUMED;
	}
	/* retry as a new transaction */
	remember_tid(t, x->tid);
	r = launch(t, x, now_ns);
	if (r < 0)
		txn_failed(t, i, r, code, reason);
	return DS_TURN_IN_CONSUMED;
}

static bool recent_tid(const struct ds_turn *t, const uint8_t *tid)
{
	unsigned n = t->nrecent < RECENT_TIDS ? t->nrecent : RECENT_TIDS;

	for (unsigned i = 0; i < n; i++)
		if (!memcmp(t->recent[i], tid, DS_STUN_TID_LEN))
			return true;
	return false;
}

static int on_response(struct ds_turn *t, const struct ds_stun_msg *m, int64_t now_ns)
{
	int i, r;
	struct txn *x = NULL;

	for (i = 0; i < MAX_TXN; i++)
		if (t->txns[i].kind && !memcmp(t->txns[i].tid, m->tid, DS_STUN_TID_LEN)) {
			x = &t->txns[i];
			break;
		}
	if (!x)
		return recent_tid(t, m->tid) ? -EALREADY : -ENOENT;
	if (m->method != x->method)
		return -EBADMSG;
	/* An integrity attribute present must verify; a success to an authenticated request
	 * must have one (RFC 8489 §9.2.5). Unauthenticated error responses are accepted:
	 * 401 and 438 come that way. */
	if (t->have_auth && (m->integrity_sha256_off || m->integrity_off)) {
		r = m->integrity_sha256_off ? ds_stun_check_integrity_sha256(m, t->key, t->keylen)
					    : ds_stun_check_integrity(m, t->key, t->keylen);
		if (r < 0)
			return -EACCES;
	} else if (m->cls == DS_STUN_SUCCESS && x->authed) {
		return -EACCES;
	}
	if (m->n_unknown) { /* RFC 8489 §6.3.3/§6.3.4 */
		txn_failed(t, i, -EPROTO, 0, "unknown comprehension-required attribute");
		return DS_TURN_IN_CONSUMED;
	}
	t->last_now = now_ns;
	return m->cls == DS_STUN_SUCCESS ? on_success(t, i, m, now_ns) : on_error(t, i, m, now_ns);
}

int ds_turn_input(struct ds_turn *t, const void *pkt, size_t len, const struct ds_addr *from,
		  int64_t now_ns, struct ds_turn_data *data)
{
	struct ds_turn_data d;
	struct ds_stun_msg m;
	struct ds_stun_attr a;

	if (!from || !ds_addr_equal(from, &t->server))
		return -ENOENT;
	memset(&d, 0, sizeof(d));
	if (ds_turn_is_channel_data(pkt, len)) {
		uint16_t ch;
		int i;

		if (ds_turn_channel_data_decode(pkt, len, &ch, &d.data, &d.len) < 0)
			return -EBADMSG;
		for (i = 0; i < DS_TURN_MAX_PEERS; i++)
			if (t->peers[i].used && t->peers[i].channel == ch)
				break;
		if (i == DS_TURN_MAX_PEERS || t->state != DS_TURN_ALLOCATED)
			return -ENOENT;
		d.peer = t->peers[i].addr;
		d.channel = ch;
		if (data)
			*data = d;
		return DS_TURN_IN_DATA;
	}
	if (!ds_stun_is_stun(pkt, len))
		return -ENOENT;
	if (ds_stun_parse(pkt, len, &m, NULL) < 0)
		return -EBADMSG;
	switch (m.cls) {
	case DS_STUN_REQUEST:
		return -ENOENT;
	case DS_STUN_INDICATION:
		if (m.method != DS_STUN_DATA)
			return DS_TURN_IN_CONSUMED; /* nothing else is meant for a client */
		if (t->state != DS_TURN_ALLOCATED)
			return -ENOENT;
		if (ds_stun_get_addr(&m, DS_STUN_ATTR_XOR_PEER_ADDRESS, &d.peer) < 0 ||
		    ds_stun_find(&m, DS_STUN_ATTR_DATA, &a) < 0)
			return -EBADMSG;
		d.data = a.val;
		d.len = a.len;
		if (data)
			*data = d;
		return DS_TURN_IN_DATA;
	default:
		return on_response(t, &m, now_ns);
	}
}

int64_t ds_turn_tick(struct ds_turn *t, int64_t now_ns)
{
	int64_t next = -1;

	t->last_now = now_ns;
	for (int i = 0; i < MAX_TXN; i++) {
		struct txn *x = &t->txns[i];

		if (!x->kind || now_ns < x->next_ns)
			continue;
		if (x->sent < t->cfg.retrans.rc) {
			x->sent++;
			x->due = true;
			x->next_ns += wait_after(t, x->sent);
		} else {
			txn_failed(t, i, -ETIMEDOUT, 0, "no answer from the server");
		}
	}
	if (t->state == DS_TURN_ALLOCATED && now_ns >= t->expires_ns) {
		struct ds_turn_event *ev = push_event(t, DS_TURN_EV_FAILED, DS_STUN_REFRESH);

		ev->error = -ETIMEDOUT;
		snprintf(ev->reason, sizeof(ev->reason), "allocation expired");
		set_failed(t, -ETIMEDOUT, 0, "allocation expired");
	}
	schedule(t, now_ns);

	/* the nearest deadline */
#define NEAR(v)                                                                                    \
	do {                                                                                       \
		int64_t v_ = (v);                                                                  \
		if (next < 0 || v_ < next)                                                         \
			next = v_;                                                                 \
	} while (0)
	for (int i = 0; i < MAX_TXN; i++)
		if (t->txns[i].kind)
			NEAR(t->txns[i].next_ns);
	if (t->state == DS_TURN_ALLOCATED) {
		NEAR(t->expires_ns);
		if (t->refresh_txn < 0)
			NEAR(t->refresh_ns);
		for (int i = 0; i < DS_TURN_MAX_PEERS; i++) {
			const struct peer *p = &t->peers[i];

			if (!p->used)
				continue;
			if (p->want_perm && p->perm_txn < 0)
				NEAR(p->perm_refresh_ns);
			if (p->channel && p->chan_txn < 0)
				NEAR(p->chan_refresh_ns);
			if (p->perm_ok)
				NEAR(p->perm_expires_ns);
			if (p->chan_ok)
				NEAR(p->chan_expires_ns);
		}
	}
#undef NEAR
	if (next < 0)
		return -1;
	return next > now_ns ? next - now_ns : 0;
}

int ds_turn_pull(struct ds_turn *t, void *buf, size_t cap, size_t *len, struct ds_addr *dst)
{
	for (int i = 0; i < MAX_TXN; i++) {
		struct txn *x = &t->txns[i];

		if (!x->kind || !x->due)
			continue;
		int r = build(t, x, buf, cap, len);

		if (r < 0)
			return r;
		if (dst)
			*dst = t->server;
		x->due = false;
		return 1;
	}
	return 0;
}

int ds_turn_wrap(struct ds_turn *t, const struct ds_addr *peer, const void *data, size_t len,
		 void *buf, size_t cap, size_t *out_len)
{
	struct ds_stun_enc e;
	int i, r;

	if (t->state != DS_TURN_ALLOCATED)
		return -ENOTCONN;
	if (len > 0xFFFF - DS_TURN_SEND_OVERHEAD)
		return -EMSGSIZE;
	i = find_peer(t, peer, true);
	if (i >= 0 && t->peers[i].channel && t->peers[i].chan_ok)
		return ds_turn_channel_data_encode(t->peers[i].channel, data, len, buf, cap,
						   out_len);
	/* §10.1: XOR-PEER-ADDRESS and DATA */
	r = ds_stun_enc_init(&e, buf, cap, ds_stun_type(DS_STUN_SEND, DS_STUN_INDICATION), NULL);
	if (r < 0)
		return r;
	ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_PEER_ADDRESS, peer);
	ds_stun_enc_attr(&e, DS_STUN_ATTR_DATA, data, len);
	if (!t->cfg.no_fingerprint)
		ds_stun_enc_fingerprint(&e);
	return ds_stun_enc_finish(&e, out_len);
}

/* ---- accessors ---- */

enum ds_turn_state ds_turn_state(const struct ds_turn *t)
{
	return t->state;
}

const struct ds_addr *ds_turn_server(const struct ds_turn *t)
{
	return &t->server;
}

int ds_turn_relayed(const struct ds_turn *t, struct ds_addr *out)
{
	if (t->state != DS_TURN_ALLOCATED || !t->relayed.len)
		return -ENOTCONN;
	*out = t->relayed;
	return 0;
}

int ds_turn_mapped(const struct ds_turn *t, struct ds_addr *out)
{
	if (t->state != DS_TURN_ALLOCATED || !t->mapped.len)
		return -ENOTCONN;
	*out = t->mapped;
	return 0;
}

uint32_t ds_turn_lifetime(const struct ds_turn *t)
{
	return t->lifetime_s;
}

int64_t ds_turn_expires_ns(const struct ds_turn *t)
{
	return t->expires_ns;
}

int ds_turn_failure(const struct ds_turn *t, int *code, char *reason, size_t len)
{
	if (code)
		*code = t->fail_code;
	if (reason && len)
		snprintf(reason, len, "%s", t->fail_reason);
	return t->fail_error;
}

uint16_t ds_turn_channel(const struct ds_turn *t, const struct ds_addr *peer)
{
	int i = find_peer(t, peer, true);

	return i >= 0 && t->peers[i].chan_ok ? t->peers[i].channel : 0;
}

bool ds_turn_permitted(const struct ds_turn *t, const struct ds_addr *peer, int64_t now_ns)
{
	for (int i = 0; i < DS_TURN_MAX_PEERS; i++) {
		const struct peer *p = &t->peers[i];

		if (p->used && p->perm_ok && now_ns < p->perm_expires_ns &&
		    ds_addr_equal_host(&p->addr, peer))
			return true;
	}
	return false;
}

uint16_t ds_turn_password_algorithm(const struct ds_turn *t)
{
	return t->alg;
}

/* ---- blocking driver ---- */

int ds_turn_flush(struct ds_turn *t, int fd)
{
	uint8_t buf[DS_TURN_REQ_MAX];
	struct ds_addr dst;
	size_t len;
	ssize_t n;

	while (ds_turn_pull(t, buf, sizeof(buf), &len, &dst) == 1) {
		do
			n = sendto(fd, buf, len, 0, &dst.sa, dst.len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
	}
	return 0;
}

int ds_turn_drive(struct ds_turn *t, int fd, int64_t deadline_ns, ds_turn_data_fn on_data,
		  void *arg)
{
	uint8_t buf[65536];
	struct ds_turn_data d;
	struct sockaddr_storage ss;
	struct ds_addr from;
	int64_t now, wait;
	bool got_data = false;
	ssize_t n;
	int r;

	for (;;) {
		now = ds_clock_ns();
		wait = ds_turn_tick(t, now);
		r = ds_turn_flush(t, fd);
		if (r < 0)
			return r;
		if (t->ev_count)
			return 1;
		if (now >= deadline_ns)
			return 0;
		if (wait < 0 || now + wait > deadline_ns)
			wait = deadline_ns - now;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		struct timespec ts = ds_ns_timespec(wait);

		r = ppoll(&pfd, 1, &ts, NULL);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		for (;;) {
			socklen_t fl = sizeof(ss);

			n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss,
				     &fl);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == ECONNREFUSED)
					break;
				return -errno;
			}
			if (ds_addr_from_sockaddr(&from, (struct sockaddr *)&ss, fl) < 0)
				continue;
			ds_addr_unmap_v4(&from);
			r = ds_turn_input(t, buf, (size_t)n, &from, ds_clock_ns(), &d);
			if (r == DS_TURN_IN_DATA) {
				got_data = true;
				if (on_data)
					on_data(arg, &d);
			}
		}
		if (got_data)
			return 2;
	}
}
