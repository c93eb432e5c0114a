// SPDX-License-Identifier: MIT
/* One peer's session state and the challenge/response handshake of ds-wire(7). */
#include "pair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* After every handshake keepalive without progress the gap doubles, up to this. */
#define HANDSHAKE_MAX_GAP_NS (25LL * 1000000000LL)

struct rx_session {
	uint64_t id; /* 0 = none */
	struct ds_wire_key *key;
	struct ds_replay win;
};

struct ds_pair {
	struct ds_pair_keys keys;
	uint64_t my_session;
	uint64_t tx_counter; /* last counter used */
	struct ds_wire_key *tx;
	struct rx_session cur;      /* the peer's proven session */
	struct rx_session cand;     /* the last authentic but unproven session */
	struct ds_wire_key *scratch; /* keyed for an unknown session before it authenticates */
	struct ds_key_deriver *rx_deriver;
	int64_t unknown_refill_ns; /* token bucket for packets naming an unknown session */
	int unknown_tokens;

	uint8_t challenge[DS_WIRE_CHALLENGE_LEN];
	bool challenge_valid;
	int64_t challenge_ns;
	bool want_proof; /* we want the peer's (new) session to answer our challenge */

	uint8_t owed[DS_WIRE_CHALLENGE_LEN]; /* the peer's challenge we have to answer */
	bool owe;

	/* Rate limits: answers at most one per DS_PAIR_HANDSHAKE_GAP_NS; our challenges
	 * with a gap that doubles while nothing authentic comes back. */
	int64_t answer_ns, challenge_sent_ns, challenge_gap_ns;
	bool answered, challenge_sent;
};

int ds_pair_new_session_id(uint64_t *out)
{
	do {
		if (RAND_bytes((unsigned char *)out, sizeof(*out)) != 1)
			return -EIO;
	} while (*out == 0);
	return 0;
}

int ds_pair_new(const struct ds_pair_keys *keys, uint64_t my_session, struct ds_pair **out)
{
	uint8_t k[DS_KEY_LEN];
	struct ds_pair *p;
	int ret;

	*out = NULL;
	if (my_session == 0)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->keys = *keys;
	p->my_session = my_session;
	p->want_proof = true; /* nothing proven yet: the first keepalive challenges */
	p->challenge_gap_ns = DS_PAIR_HANDSHAKE_GAP_NS;
	ret = ds_key_session_derive(keys->tx_key, my_session, k);
	if (!ret)
		ret = ds_wire_key_new(k, true, &p->tx);
	ds_key_wipe(k, sizeof(k));
	/* Every context the receive path needs exists up front: an unauthenticated packet
	 * never makes the pair allocate or keep anything. */
	if (!ret)
		ret = ds_wire_key_new(keys->rx_key, false, &p->cur.key);
	if (!ret)
		ret = ds_wire_key_new(keys->rx_key, false, &p->cand.key);
	if (!ret)
		ret = ds_wire_key_new(keys->rx_key, false, &p->scratch);
	if (!ret)
		ret = ds_key_deriver_new(keys->rx_key, &p->rx_deriver);
	p->unknown_tokens = DS_PAIR_UNKNOWN_SESSIONS_PER_SEC;
	if (ret) {
		ds_pair_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void ds_pair_free(struct ds_pair *p)
{
	if (!p)
		return;
	ds_wire_key_free(p->tx);
	ds_wire_key_free(p->cur.key);
	ds_wire_key_free(p->cand.key);
	ds_wire_key_free(p->scratch);
	ds_key_deriver_free(p->rx_deriver);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

uint64_t ds_pair_rx_id(const struct ds_pair *p)
{
	return p->keys.rx_id;
}

uint64_t ds_pair_tx_id(const struct ds_pair *p)
{
	return p->keys.tx_id;
}

bool ds_pair_established(const struct ds_pair *p)
{
	return p->cur.id != 0;
}

uint64_t ds_pair_peer_session(const struct ds_pair *p)
{
	return p->cur.id;
}

void ds_pair_reset_peer(struct ds_pair *p)
{
	p->cur.id = 0;
	p->cand.id = 0;
	p->want_proof = true;
}

int ds_pair_seal(struct ds_pair *p, uint8_t type, uint32_t run_id, const void *body,
		 size_t body_len, uint8_t *out, size_t out_cap)
{
	struct ds_wire_hdr h = {
		.type = type,
		.version = DS_WIRE_VERSION,
		.run_id = run_id,
		.pair_id = p->keys.tx_id,
		.session = p->my_session,
	};
	int ret;

	if (p->tx_counter == UINT64_MAX)
		return -EOVERFLOW; /* never reuse a nonce: this session can send no more */
	h.counter = p->tx_counter + 1;
	ret = ds_wire_seal(p->tx, &h, body, body_len, out, out_cap);
	if (ret > 0)
		p->tx_counter = h.counter;
	return ret;
}

static void new_challenge(struct ds_pair *p, int64_t now_ns)
{
	if (p->challenge_valid && now_ns - p->challenge_ns < DS_PAIR_CHALLENGE_TTL_NS)
		return; /* keep it: an answer to it may be on its way */
	if (RAND_bytes(p->challenge, sizeof(p->challenge)) != 1)
		return; /* no challenge, no handshake; tried again next time */
	p->challenge_valid = true;
	p->challenge_ns = now_ns;
}

static bool answers_challenge(const struct ds_pair *p, const struct ds_wire_keepalive *ka,
			      int64_t now_ns)
{
	return (ka->flags & DS_KA_RESPONSE) && p->challenge_valid &&
	       now_ns - p->challenge_ns < DS_PAIR_CHALLENGE_TTL_NS &&
	       CRYPTO_memcmp(ka->response, p->challenge, DS_WIRE_CHALLENGE_LEN) == 0;
}

static void swap_key(struct ds_wire_key **a, struct ds_wire_key **b)
{
	struct ds_wire_key *t = *a;

	*a = *b;
	*b = t;
}

/* A packet naming a session we have no key for costs a derivation before its tag can be
 * checked: at most DS_PAIR_UNKNOWN_SESSIONS_PER_SEC of those per pair. */
static bool unknown_session_allowed(struct ds_pair *p, int64_t now_ns)
{
	int64_t per = 1000000000LL / DS_PAIR_UNKNOWN_SESSIONS_PER_SEC;

	if (now_ns - p->unknown_refill_ns >= per) {
		int64_t add = (now_ns - p->unknown_refill_ns) / per;

		p->unknown_tokens = add >= DS_PAIR_UNKNOWN_SESSIONS_PER_SEC
					    ? DS_PAIR_UNKNOWN_SESSIONS_PER_SEC
					    : p->unknown_tokens + (int)add;
		if (p->unknown_tokens > DS_PAIR_UNKNOWN_SESSIONS_PER_SEC)
			p->unknown_tokens = DS_PAIR_UNKNOWN_SESSIONS_PER_SEC;
		p->unknown_refill_ns = now_ns;
	}
	if (p->unknown_tokens <= 0)
		return false;
	p->unknown_tokens--;
	return true;
}

/* Authenticate a packet of a session that is not the proven one. A session not seen before
 * is tried on the scratch context; only once a packet of it is authentic does it take the
 * candidate slot (so forgeries cannot evict a handshake in progress). */
static int open_unproven(struct ds_pair *p, const struct ds_wire_hdr *h, const uint8_t *pkt,
			 size_t len, int64_t now_ns, uint8_t *body, size_t cap, size_t *body_len)
{
	uint8_t k[DS_KEY_LEN];
	int ret;

	if (h->session == p->cand.id) {
		ret = ds_replay_check(&p->cand.win, h->counter);
		if (ret)
			return ret;
		ret = ds_wire_open(p->cand.key, pkt, len, body, cap, body_len);
		if (ret)
			return ret;
		return ds_replay_accept(&p->cand.win, h->counter);
	}
	if (!unknown_session_allowed(p, now_ns))
		return -EBUSY;
	ret = ds_key_deriver_session(p->rx_deriver, h->session, k);
	if (!ret)
		ret = ds_wire_key_set(p->scratch, k);
	ds_key_wipe(k, sizeof(k));
	if (ret)
		return ret;
	ret = ds_wire_open(p->scratch, pkt, len, body, cap, body_len);
	if (ret)
		return ret;
	swap_key(&p->cand.key, &p->scratch);
	p->cand.id = h->session;
	ds_replay_init(&p->cand.win);
	return ds_replay_accept(&p->cand.win, h->counter);
}

int ds_pair_open(struct ds_pair *p, const struct ds_wire_hdr *h, const uint8_t *pkt,
		 size_t len, int64_t now_ns, uint8_t *body_out, size_t body_cap,
		 size_t *body_len)
{
	struct ds_wire_keepalive ka;
	bool proven = p->cur.id != 0 && h->session == p->cur.id, is_ka;
	int ret;

	*body_len = 0;
	if (h->pair_id != p->keys.rx_id || h->session == 0)
		return -EBADMSG;
	if (proven) {
		ret = ds_replay_check(&p->cur.win, h->counter);
		if (ret)
			return ret;
		ret = ds_wire_open(p->cur.key, pkt, len, body_out, body_cap, body_len);
		if (ret)
			return ret;
		ds_replay_accept(&p->cur.win, h->counter);
	} else {
		ret = open_unproven(p, h, pkt, len, now_ns, body_out, body_cap, body_len);
		if (ret)
			return ret;
	}
	/* Authentic from here on. */
	p->challenge_gap_ns = DS_PAIR_HANDSHAKE_GAP_NS;
	is_ka = h->type == DS_WIRE_KEEPALIVE;
	if (is_ka && ds_wire_keepalive_decode(body_out, *body_len, &ka) != 0)
		return -EPROTO;
	if (is_ka && (ka.flags & DS_KA_CHALLENGE)) {
		memcpy(p->owed, ka.challenge, sizeof(p->owed));
		p->owe = true;
	}
	if (proven) {
		if (is_ka && answers_challenge(p, &ka, now_ns)) {
			p->challenge_valid = false;
			p->want_proof = false;
		}
		return 0;
	}
	if (is_ka && answers_challenge(p, &ka, now_ns)) {
		/* Proven live: it holds the session key and answered a challenge drawn after
		 * anything an attacker could have captured. Nothing it sent before counts. */
		swap_key(&p->cur.key, &p->cand.key);
		p->cur.id = p->cand.id;
		ds_replay_init_floor(&p->cur.win, h->counter);
		p->cand.id = 0;
		p->challenge_valid = false;
		p->want_proof = false;
		return 0;
	}
	/* Unproven. Start (or keep) a handshake when the peer asks for one, or when we have no
	 * proven session at all; with a proven session, anything else is a dead session's
	 * packet replayed and is dropped without a word. */
	if (!p->cur.id || (is_ka && (ka.flags & DS_KA_CHALLENGE))) {
		p->want_proof = true;
		new_challenge(p, now_ns);
	}
	return -ENOTCONN;
}

bool ds_pair_keepalive_due(const struct ds_pair *p, int64_t now_ns)
{
	bool answer = p->owe && (!p->answered || now_ns - p->answer_ns >= DS_PAIR_HANDSHAKE_GAP_NS);
	bool challenge = p->want_proof && (!p->challenge_sent ||
					   now_ns - p->challenge_sent_ns >= p->challenge_gap_ns);

	return answer || challenge;
}

int ds_pair_keepalive(struct ds_pair *p, int64_t now_ns, uint8_t *out, size_t out_cap)
{
	struct ds_wire_keepalive ka = { 0 };
	uint8_t body[DS_WIRE_KEEPALIVE_LEN];
	int ret;

	if (p->want_proof) {
		new_challenge(p, now_ns);
		if (p->challenge_valid) {
			ka.flags |= DS_KA_CHALLENGE;
			memcpy(ka.challenge, p->challenge, sizeof(ka.challenge));
		}
	}
	if (p->owe) {
		ka.flags |= DS_KA_RESPONSE;
		memcpy(ka.response, p->owed, sizeof(ka.response));
	}
	ds_wire_keepalive_encode(&ka, body, sizeof(body));
	ret = ds_pair_seal(p, DS_WIRE_KEEPALIVE, 0, body, sizeof(body), out, out_cap);
	if (ret < 0)
		return ret;
	if (ka.flags & DS_KA_RESPONSE) {
		p->owe = false;
		p->answered = true;
		p->answer_ns = now_ns;
	}
	if (ka.flags & DS_KA_CHALLENGE) {
		if (p->challenge_sent && p->challenge_gap_ns < HANDSHAKE_MAX_GAP_NS)
			p->challenge_gap_ns *= 2;
		p->challenge_sent = true;
		p->challenge_sent_ns = now_ns;
	}
	return ret;
}
