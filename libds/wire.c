// SPDX-License-Identifier: MIT
/* ds-wire(7): header, AEAD seal/open through OpenSSL EVP, body codecs. */
#include "wire.h"

#include "bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct ds_wire_key {
	EVP_CIPHER_CTX *ctx;
	bool seal;
};

enum ds_wire_demux ds_wire_demux(const uint8_t *pkt, size_t len)
{
	uint8_t b;

	if (len == 0)
		return DS_DEMUX_EMPTY;
	b = pkt[0];
	if (b <= 3)
		return DS_DEMUX_STUN;
	if (b <= 15)
		return DS_DEMUX_DATASTUN;
	if (b <= 19)
		return DS_DEMUX_ZRTP;
	if (b <= 63)
		return DS_DEMUX_DTLS;
	if (b <= 79)
		return DS_DEMUX_TURN_CHANNEL;
	if (b <= 127)
		return DS_DEMUX_QUIC;
	if (b <= 191)
		return DS_DEMUX_RTP;
	return DS_DEMUX_QUIC;
}

const char *ds_wire_type_name(int type)
{
	switch (type) {
	case DS_WIRE_ECHO_REQUEST: return "echo-request";
	case DS_WIRE_ECHO_REPLY: return "echo-reply";
	case DS_WIRE_PAIR_REQUEST: return "pair-request";
	case DS_WIRE_PAIR_DATA: return "pair-data";
	case DS_WIRE_PUNCH_HINT: return "punch-hint";
	case DS_WIRE_KEEPALIVE: return "keepalive";
	case DS_WIRE_REFUSAL: return "refusal";
	default: return NULL;
	}
}

const char *ds_wire_drop_reason(int step, int err)
{
	if (err == 0)
		return "ok";
	if (step == 0) {
		switch (err) {
		case -EPROTO: return "type";
		case -EPROTONOSUPPORT: return "version";
		default: return "length";
		}
	}
	if (step == 1)
		return "pair";
	switch (err) {
	case -EBADMSG: return "auth";
	case -EALREADY: return "replay";
	case -ESTALE: return "old";
	case -ENOTCONN: return "unproven";
	case -EPROTO: return "body";
	case -EBUSY: return "limit";
	default: return "error";
	}
}

int ds_wire_body_min(int type)
{
	switch (type) {
	case DS_WIRE_ECHO_REQUEST:
	case DS_WIRE_ECHO_REPLY: return DS_WIRE_ECHO_LEN;
	case DS_WIRE_PAIR_REQUEST: return DS_WIRE_PAIR_REQUEST_LEN;
	case DS_WIRE_PAIR_DATA: return DS_WIRE_PAIR_DATA_LEN;
	case DS_WIRE_PUNCH_HINT: return DS_WIRE_PUNCH_LEN;
	case DS_WIRE_KEEPALIVE: return DS_WIRE_KEEPALIVE_LEN;
	case DS_WIRE_REFUSAL: return DS_WIRE_REFUSAL_LEN;
	default: return -EPROTO;
	}
}

int ds_wire_parse_hdr(const uint8_t *pkt, size_t len, struct ds_wire_hdr *h)
{
	if (len < 1 || ds_wire_demux(pkt, len) != DS_DEMUX_DATASTUN)
		return -EPROTO;
	if (len < DS_WIRE_OVERHEAD || len > DS_WIRE_MAX_PACKET)
		return -EBADMSG;
	if (!ds_wire_type_name(pkt[0]))
		return -EPROTO;
	if (pkt[1] != DS_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	h->type = pkt[0];
	h->version = pkt[1];
	h->flags = ds_get16(pkt + 2);
	h->run_id = ds_get32(pkt + 4);
	h->pair_id = ds_get64(pkt + 8);
	h->session = ds_get64(pkt + 16);
	h->counter = ds_get64(pkt + 24);
	return 0;
}

void ds_wire_put_hdr(const struct ds_wire_hdr *h, uint8_t out[DS_WIRE_HDR_LEN])
{
	out[0] = h->type;
	out[1] = h->version;
	ds_put16(out + 2, h->flags);
	ds_put32(out + 4, h->run_id);
	ds_put64(out + 8, h->pair_id);
	ds_put64(out + 16, h->session);
	ds_put64(out + 24, h->counter);
}

int ds_wire_key_new(const uint8_t key[DS_KEY_LEN], bool seal, struct ds_wire_key **out)
{
	struct ds_wire_key *k = calloc(1, sizeof(*k));

	*out = NULL;
	if (!k)
		return -ENOMEM;
	k->seal = seal;
	k->ctx = EVP_CIPHER_CTX_new();
	if (!k->ctx) {
		free(k);
		return -ENOMEM;
	}
	/* Key schedule once; each packet only sets its nonce. */
	if (EVP_CipherInit_ex2(k->ctx, EVP_chacha20_poly1305(), key, NULL, seal ? 1 : 0,
			       NULL) != 1) {
		ds_wire_key_free(k);
		return -EINVAL;
	}
	*out = k;
	return 0;
}

int ds_wire_key_set(struct ds_wire_key *k, const uint8_t key[DS_KEY_LEN])
{
	if (EVP_CipherInit_ex2(k->ctx, NULL, key, NULL, k->seal ? 1 : 0, NULL) != 1)
		return -EINVAL;
	return 0;
}

void ds_wire_key_free(struct ds_wire_key *k)
{
	if (!k)
		return;
	EVP_CIPHER_CTX_free(k->ctx); /* cleanses the key material */
	free(k);
}

static void make_nonce(uint64_t counter, uint8_t nonce[12])
{
	memset(nonce, 0, 4);
	ds_put64(nonce + 4, counter);
}

int ds_wire_seal(struct ds_wire_key *k, const struct ds_wire_hdr *h, const void *body,
		 size_t body_len, uint8_t *out, size_t out_cap)
{
	uint8_t nonce[12];
	int n, fin;

	if (!k || !k->seal || !ds_wire_type_name(h->type) || h->version != DS_WIRE_VERSION ||
	    h->counter == 0)
		return -EINVAL;
	if (body_len > DS_WIRE_BODY_MAX || DS_WIRE_OVERHEAD + body_len > out_cap)
		return -EMSGSIZE;
	ds_wire_put_hdr(h, out);
	make_nonce(h->counter, nonce);
	if (EVP_CipherInit_ex2(k->ctx, NULL, NULL, nonce, 1, NULL) != 1 ||
	    EVP_EncryptUpdate(k->ctx, NULL, &n, out, DS_WIRE_HDR_LEN) != 1)
		return -EIO;
	if (body_len &&
	    EVP_EncryptUpdate(k->ctx, out + DS_WIRE_HDR_LEN, &n, body, (int)body_len) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(k->ctx, out + DS_WIRE_HDR_LEN + body_len, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_AEAD_GET_TAG, DS_WIRE_TAG_LEN,
				out + DS_WIRE_HDR_LEN + body_len) != 1)
		return -EIO;
	return (int)(DS_WIRE_OVERHEAD + body_len);
}

int ds_wire_open(struct ds_wire_key *k, const uint8_t *pkt, size_t len, uint8_t *body_out,
		 size_t body_cap, size_t *body_len)
{
	uint8_t nonce[12], tag[DS_WIRE_TAG_LEN];
	size_t blen;
	int n, fin, ok;

	*body_len = 0;
	if (!k || k->seal)
		return -EINVAL;
	if (len < DS_WIRE_OVERHEAD || len > DS_WIRE_MAX_PACKET)
		return -EBADMSG;
	blen = len - DS_WIRE_OVERHEAD;
	if (blen > body_cap)
		return -EMSGSIZE;
	make_nonce(ds_get64(pkt + 24), nonce);
	memcpy(tag, pkt + len - DS_WIRE_TAG_LEN, DS_WIRE_TAG_LEN);
	if (EVP_CipherInit_ex2(k->ctx, NULL, NULL, nonce, 0, NULL) != 1 ||
	    EVP_DecryptUpdate(k->ctx, NULL, &n, pkt, DS_WIRE_HDR_LEN) != 1)
		return -EIO;
	if (blen && EVP_DecryptUpdate(k->ctx, body_out, &n, pkt + DS_WIRE_HDR_LEN, (int)blen) != 1)
		goto bad;
	if (EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_AEAD_SET_TAG, DS_WIRE_TAG_LEN, tag) != 1)
		return -EIO;
	ok = EVP_DecryptFinal_ex(k->ctx, tag, &fin); /* an AEAD writes nothing here */
	if (ok != 1)
		goto bad;
	*body_len = blen;
	return 0;
bad:
	/* Never hand out plaintext that did not authenticate. */
	if (blen)
		memset(body_out, 0, blen);
	return -EBADMSG;
}

/* ---- bodies ---- */

static int prep(uint8_t *out, size_t body_len, size_t min)
{
	if (body_len < min)
		return -EINVAL;
	if (body_len > DS_WIRE_BODY_MAX)
		return -EMSGSIZE;
	memset(out, 0, body_len);
	return 0;
}

int ds_wire_echo_encode(const struct ds_wire_echo *e, uint8_t *out, size_t body_len)
{
	int ret = prep(out, body_len, DS_WIRE_ECHO_LEN);

	if (ret)
		return ret;
	ds_put32(out, e->seq);
	ds_put32(out + 4, e->rx_count);
	ds_put16(out + 8, e->reply_len);
	ds_put16(out + 10, e->flags);
	ds_put64(out + 16, e->sender_tx_ns);
	ds_put64(out + 24, e->responder_rx_ns);
	ds_put64(out + 32, e->responder_tx_ns);
	return (int)body_len;
}

int ds_wire_echo_decode(const uint8_t *body, size_t len, struct ds_wire_echo *e)
{
	if (len < DS_WIRE_ECHO_LEN || len > DS_WIRE_BODY_MAX)
		return -EBADMSG;
	e->seq = ds_get32(body);
	e->rx_count = ds_get32(body + 4);
	e->reply_len = ds_get16(body + 8);
	e->flags = ds_get16(body + 10);
	e->sender_tx_ns = ds_get64(body + 16);
	e->responder_rx_ns = ds_get64(body + 24);
	e->responder_tx_ns = ds_get64(body + 32);
	return 0;
}

size_t ds_wire_echo_reply_len(const struct ds_wire_echo *req, size_t req_packet_len)
{
	size_t min = DS_WIRE_OVERHEAD + DS_WIRE_ECHO_LEN, want = req->reply_len;

	if (want == 0 || want > req_packet_len)
		want = req_packet_len;
	if (want < min)
		want = min;
	return want; /* a request is never shorter than min, so want <= req_packet_len */
}

int ds_wire_pair_request_encode(const struct ds_wire_pair_request *r, uint8_t *out,
				size_t body_len)
{
	int ret = prep(out, body_len, DS_WIRE_PAIR_REQUEST_LEN);

	if (ret)
		return ret;
	ds_put32(out, r->seq);
	ds_put16(out + 4, r->count);
	ds_put16(out + 6, r->size);
	ds_put32(out + 8, r->gap_us);
	ds_put64(out + 16, r->sender_tx_ns);
	return (int)body_len;
}

int ds_wire_pair_request_decode(const uint8_t *body, size_t len, struct ds_wire_pair_request *r)
{
	if (len < DS_WIRE_PAIR_REQUEST_LEN || len > DS_WIRE_BODY_MAX)
		return -EBADMSG;
	r->seq = ds_get32(body);
	r->count = ds_get16(body + 4);
	r->size = ds_get16(body + 6);
	r->gap_us = ds_get32(body + 8);
	r->sender_tx_ns = ds_get64(body + 16);
	/* The bound on what one request can make the responder send (ds-wire(7)). */
	if (r->count < 1 || r->count > DS_WIRE_PAIR_MAX_COUNT ||
	    r->size < DS_WIRE_OVERHEAD + DS_WIRE_PAIR_DATA_LEN || r->size > DS_WIRE_MAX_PACKET ||
	    r->gap_us > 1000000)
		return -ERANGE;
	return 0;
}

int ds_wire_pair_data_encode(const struct ds_wire_pair_data *d, uint8_t *out, size_t body_len)
{
	int ret = prep(out, body_len, DS_WIRE_PAIR_DATA_LEN);

	if (ret)
		return ret;
	ds_put32(out, d->seq);
	ds_put16(out + 4, d->index);
	out[6] = d->member;
	out[7] = d->flags;
	ds_put16(out + 8, d->size);
	ds_put16(out + 10, d->count);
	ds_put64(out + 16, d->sender_tx_ns);
	ds_put64(out + 24, d->responder_tx_ns);
	return (int)body_len;
}

int ds_wire_pair_data_decode(const uint8_t *body, size_t len, struct ds_wire_pair_data *d)
{
	if (len < DS_WIRE_PAIR_DATA_LEN || len > DS_WIRE_BODY_MAX)
		return -EBADMSG;
	d->seq = ds_get32(body);
	d->index = ds_get16(body + 4);
	d->member = body[6];
	d->flags = body[7];
	d->size = ds_get16(body + 8);
	d->count = ds_get16(body + 10);
	d->sender_tx_ns = ds_get64(body + 16);
	d->responder_tx_ns = ds_get64(body + 24);
	if (d->member > 1 || d->count < 1 || d->count > DS_WIRE_PAIR_MAX_COUNT ||
	    d->index >= d->count)
		return -ERANGE;
	return 0;
}

size_t ds_wire_punch_len(const struct ds_wire_punch *p)
{
	unsigned n = p->ncand > DS_WIRE_PUNCH_MAX_CANDIDATES ? DS_WIRE_PUNCH_MAX_CANDIDATES
							       : p->ncand;

	return DS_WIRE_PUNCH_LEN + (size_t)n * DS_WIRE_PUNCH_CAND_LEN;
}

static bool cand_ok(const struct ds_wire_cand *c)
{
	if (c->kind < DS_CAND_HOST || c->kind > DS_CAND_RELAY || c->port == 0)
		return false;
	if (c->family == 4) {
		for (int i = 4; i < 16; i++)
			if (c->addr[i])
				return false;
		return true;
	}
	return c->family == 6;
}

static int punch_check(const struct ds_wire_punch *p)
{
	if (p->attempts < 1 || p->attempts > 16 || p->port_deltas > 128 ||
	    p->ncand > DS_WIRE_PUNCH_MAX_CANDIDATES)
		return -ERANGE;
	for (unsigned i = 0; i < p->ncand; i++)
		if (!cand_ok(&p->cand[i]))
			return -ERANGE;
	return 0;
}

int ds_wire_punch_encode(const struct ds_wire_punch *p, uint8_t *out, size_t body_len)
{
	int ret = punch_check(p);

	if (ret)
		return -EINVAL;
	ret = prep(out, body_len, ds_wire_punch_len(p));
	if (ret)
		return ret;
	ds_put32(out, p->hint_id);
	out[4] = p->attempts;
	out[5] = p->port_deltas;
	ds_put16(out + 6, p->interval_ms);
	ds_put16(out + 8, p->start_in_ms);
	out[10] = p->ncand;
	for (unsigned i = 0; i < p->ncand; i++) {
		uint8_t *c = out + DS_WIRE_PUNCH_LEN + i * DS_WIRE_PUNCH_CAND_LEN;

		c[0] = p->cand[i].family;
		c[1] = p->cand[i].kind;
		ds_put16(c + 2, p->cand[i].port);
		memcpy(c + 4, p->cand[i].addr, 16);
	}
	return (int)body_len;
}

int ds_wire_punch_decode(const uint8_t *body, size_t len, struct ds_wire_punch *p)
{
	if (len < DS_WIRE_PUNCH_LEN || len > DS_WIRE_BODY_MAX)
		return -EBADMSG;
	memset(p, 0, sizeof(*p));
	p->hint_id = ds_get32(body);
	p->attempts = body[4];
	p->port_deltas = body[5];
	p->interval_ms = ds_get16(body + 6);
	p->start_in_ms = ds_get16(body + 8);
	p->ncand = body[10];
	if (p->ncand > DS_WIRE_PUNCH_MAX_CANDIDATES)
		return -ERANGE;
	if (len < ds_wire_punch_len(p))
		return -EBADMSG;
	for (unsigned i = 0; i < p->ncand; i++) {
		const uint8_t *c = body + DS_WIRE_PUNCH_LEN + i * DS_WIRE_PUNCH_CAND_LEN;

		p->cand[i].family = c[0];
		p->cand[i].kind = c[1];
		p->cand[i].port = ds_get16(c + 2);
		memcpy(p->cand[i].addr, c + 4, 16);
	}
	return punch_check(p);
}

int ds_wire_keepalive_encode(const struct ds_wire_keepalive *k, uint8_t *out, size_t body_len)
{
	int ret = prep(out, body_len, DS_WIRE_KEEPALIVE_LEN);

	if (ret)
		return ret;
	ds_put16(out, k->flags);
	if (k->flags & DS_KA_CHALLENGE)
		memcpy(out + 8, k->challenge, DS_WIRE_CHALLENGE_LEN);
	if (k->flags & DS_KA_RESPONSE)
		memcpy(out + 24, k->response, DS_WIRE_CHALLENGE_LEN);
	return (int)body_len;
}

int ds_wire_keepalive_decode(const uint8_t *body, size_t len, struct ds_wire_keepalive *k)
{
	if (len < DS_WIRE_KEEPALIVE_LEN || len > DS_WIRE_BODY_MAX)
		return -EBADMSG;
	memset(k, 0, sizeof(*k));
	k->flags = ds_get16(body) & (DS_KA_CHALLENGE | DS_KA_RESPONSE);
	if (k->flags & DS_KA_CHALLENGE)
		memcpy(k->challenge, body + 8, DS_WIRE_CHALLENGE_LEN);
	if (k->flags & DS_KA_RESPONSE)
		memcpy(k->response, body + 24, DS_WIRE_CHALLENGE_LEN);
	return 0;
}

int ds_wire_refusal_encode(const struct ds_wire_refusal *r, uint8_t *out, size_t body_len)
{
	int ret = prep(out, body_len, DS_WIRE_REFUSAL_LEN);

	if (ret)
		return ret;
	ds_put16(out, r->reason);
	out[2] = r->refused_type;
	ds_put32(out + 4, r->refused_seq);
	return (int)body_len;
}

int ds_wire_refusal_decode(const uint8_t *body, size_t len, struct ds_wire_refusal *r)
{
	if (len < DS_WIRE_REFUSAL_LEN || len > DS_WIRE_BODY_MAX)
		return -EBADMSG;
	r->reason = ds_get16(body);
	r->refused_type = body[2];
	r->refused_seq = ds_get32(body + 4);
	if (!ds_wire_refusal_name(r->reason))
		return -ERANGE;
	return 0;
}

const char *ds_wire_refusal_name(int reason)
{
	switch (reason) {
	case DS_REFUSE_MESH_OFF: return "mesh-off";
	case DS_REFUSE_FLEET_OFF: return "fleet-off";
	case DS_REFUSE_BUSY: return "busy";
	case DS_REFUSE_UNSUPPORTED: return "unsupported";
	default: return NULL;
	}
}
