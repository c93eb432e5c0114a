// SPDX-License-Identifier: MIT
/* STUN message codec: RFC 8489, RFC 5780 attributes, TURN/ICE attribute numbers. */
#include "stun.h"

#include "bytes.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* ---- types and names ---- */

uint16_t ds_stun_type(uint16_t method, enum ds_stun_class cls)
{
	unsigned m = method & 0x0FFF, c = (unsigned)cls & 3;

	return (uint16_t)((m & 0x000F) | (m & 0x0070) << 1 | (m & 0x0F80) << 2 | (c & 1) << 4 |
			  (c & 2) << 7);
}

uint16_t ds_stun_type_method(uint16_t type)
{
	return (uint16_t)((type & 0x000F) | (type & 0x00E0) >> 1 | (type & 0x3E00) >> 2);
}

enum ds_stun_class ds_stun_type_class(uint16_t type)
{
	return (enum ds_stun_class)((type >> 4 & 1) | (type >> 7 & 2));
}

const char *ds_stun_method_name(uint16_t method)
{
	switch (method) {
	case DS_STUN_BINDING:
		return "Binding";
	case DS_STUN_ALLOCATE:
		return "Allocate";
	case DS_STUN_REFRESH:
		return "Refresh";
	case DS_STUN_SEND:
		return "Send";
	case DS_STUN_DATA:
		return "Data";
	case DS_STUN_CREATE_PERMISSION:
		return "CreatePermission";
	case DS_STUN_CHANNEL_BIND:
		return "ChannelBind";
	}
	return NULL;
}

static const struct {
	uint16_t type;
	const char *name;
} attr_names[] = {
    {DS_STUN_ATTR_MAPPED_ADDRESS, "MAPPED-ADDRESS"},
    {DS_STUN_ATTR_CHANGE_REQUEST, "CHANGE-REQUEST"},
    {DS_STUN_ATTR_USERNAME, "USERNAME"},
    {DS_STUN_ATTR_MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY"},
    {DS_STUN_ATTR_ERROR_CODE, "ERROR-CODE"},
    {DS_STUN_ATTR_UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES"},
    {DS_STUN_ATTR_CHANNEL_NUMBER, "CHANNEL-NUMBER"},
    {DS_STUN_ATTR_LIFETIME, "LIFETIME"},
    {DS_STUN_ATTR_XOR_PEER_ADDRESS, "XOR-PEER-ADDRESS"},
    {DS_STUN_ATTR_DATA, "DATA"},
    {DS_STUN_ATTR_REALM, "REALM"},
    {DS_STUN_ATTR_NONCE, "NONCE"},
    {DS_STUN_ATTR_XOR_RELAYED_ADDRESS, "XOR-RELAYED-ADDRESS"},
    {DS_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, "REQUESTED-ADDRESS-FAMILY"},
    {DS_STUN_ATTR_EVEN_PORT, "EVEN-PORT"},
    {DS_STUN_ATTR_REQUESTED_TRANSPORT, "REQUESTED-TRANSPORT"},
    {DS_STUN_ATTR_DONT_FRAGMENT, "DONT-FRAGMENT"},
    {DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "MESSAGE-INTEGRITY-SHA256"},
    {DS_STUN_ATTR_PASSWORD_ALGORITHM, "PASSWORD-ALGORITHM"},
    {DS_STUN_ATTR_USERHASH, "USERHASH"},
    {DS_STUN_ATTR_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS"},
    {DS_STUN_ATTR_RESERVATION_TOKEN, "RESERVATION-TOKEN"},
    {DS_STUN_ATTR_PRIORITY, "PRIORITY"},
    {DS_STUN_ATTR_USE_CANDIDATE, "USE-CANDIDATE"},
    {DS_STUN_ATTR_PADDING, "PADDING"},
    {DS_STUN_ATTR_RESPONSE_PORT, "RESPONSE-PORT"},
    {DS_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, "ADDITIONAL-ADDRESS-FAMILY"},
    {DS_STUN_ATTR_ADDRESS_ERROR_CODE, "ADDRESS-ERROR-CODE"},
    {DS_STUN_ATTR_PASSWORD_ALGORITHMS, "PASSWORD-ALGORITHMS"},
    {DS_STUN_ATTR_ALTERNATE_DOMAIN, "ALTERNATE-DOMAIN"},
    {DS_STUN_ATTR_ICMP, "ICMP"},
    {DS_STUN_ATTR_SOFTWARE, "SOFTWARE"},
    {DS_STUN_ATTR_ALTERNATE_SERVER, "ALTERNATE-SERVER"},
    {DS_STUN_ATTR_FINGERPRINT, "FINGERPRINT"},
    {DS_STUN_ATTR_ICE_CONTROLLED, "ICE-CONTROLLED"},
    {DS_STUN_ATTR_ICE_CONTROLLING, "ICE-CONTROLLING"},
    {DS_STUN_ATTR_RESPONSE_ORIGIN, "RESPONSE-ORIGIN"},
    {DS_STUN_ATTR_OTHER_ADDRESS, "OTHER-ADDRESS"},
};

const char *ds_stun_attr_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
		if (attr_names[i].type == type)
			return attr_names[i].name;
	return NULL;
}

bool ds_stun_attr_known(uint16_t type)
{
	return ds_stun_attr_name(type) != NULL;
}

bool ds_stun_is_stun(const void *buf, size_t len)
{
	const uint8_t *b = buf;

	return len >= DS_STUN_HDR_LEN && len % 4 == 0 && (b[0] & 0xC0) == 0 &&
	       ds_get32(b + 4) == DS_STUN_MAGIC && (size_t)ds_get16(b + 2) + DS_STUN_HDR_LEN == len;
}

int ds_stun_tid_random(uint8_t tid[DS_STUN_TID_LEN])
{
	/* The kernel's CSPRNG (what OpenSSL seeds from, too): a transaction id is not a key,
	 * and a plain Binding then never pays for initialising OpenSSL's DRBG. */
	ssize_t n;

	do
		n = getrandom(tid, DS_STUN_TID_LEN, 0);
	while (n < 0 && errno == EINTR);
	return n == DS_STUN_TID_LEN ? 0 : -EIO;
}

/* ---- CRC-32 and HMAC ---- */

uint32_t ds_stun_crc32(const void *buf, size_t len)
{
	static uint32_t table[256];
	static bool ready;
	const uint8_t *p = buf;
	uint32_t crc = 0xFFFFFFFFu;

	if (!ready) {
		/* Idempotent: two threads racing here write the same values. */
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = true;
	}
	while (len--)
		crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

/*
 * HMAC over a message prefix whose header length field is replaced by `hdr_len`
 * (§14.5: the length as it will be once the integrity attribute is in place).
 */
static int hmac_prefix(const char *digest, const void *key, size_t keylen, const uint8_t *msg,
		       size_t prefix_len, uint16_t hdr_len, uint8_t *out, size_t outcap)
{
	static const uint8_t nokey[1];
	uint8_t hdr[DS_STUN_HDR_LEN];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outlen = 0;
	int ret = -EIO;

	memcpy(hdr, msg, sizeof(hdr));
	ds_put16(hdr + 2, hdr_len);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		goto out;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx)
		goto out;
	if (!EVP_MAC_init(ctx, keylen ? key : nokey, keylen, params) ||
	    !EVP_MAC_update(ctx, hdr, sizeof(hdr)) ||
	    !EVP_MAC_update(ctx, msg + DS_STUN_HDR_LEN, prefix_len - DS_STUN_HDR_LEN) ||
	    !EVP_MAC_final(ctx, out, &outlen, outcap) || outlen != outcap)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

/* ---- encoding ---- */

static int enc_fail(struct ds_stun_enc *e, int err)
{
	if (!e->err)
		e->err = err;
	return e->err;
}

int ds_stun_enc_init(struct ds_stun_enc *e, void *buf, size_t cap, uint16_t type,
		     const uint8_t tid[DS_STUN_TID_LEN])
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = cap > DS_STUN_MAX_MSG ? DS_STUN_MAX_MSG : cap;
	if (type & 0xC000)
		return enc_fail(e, -EINVAL);
	if (!buf || e->cap < DS_STUN_HDR_LEN)
		return enc_fail(e, -ENOSPC);
	ds_put16(e->buf, type);
	ds_put16(e->buf + 2, 0);
	ds_put32(e->buf + 4, DS_STUN_MAGIC);
	if (tid)
		memcpy(e->buf + 8, tid, DS_STUN_TID_LEN);
	else if (ds_stun_tid_random(e->buf + 8) < 0)
		return enc_fail(e, -EIO);
	e->len = DS_STUN_HDR_LEN;
	return 0;
}

/* Reserve room for an attribute with a value of `len` bytes; returns the value pointer. */
static uint8_t *enc_reserve(struct ds_stun_enc *e, uint16_t type, size_t len)
{
	size_t total = DS_STUN_ATTR_HDR_LEN + pad4(len);
	uint8_t *p;

	if (e->err)
		return NULL;
	if (e->has_fingerprint) {
		enc_fail(e, -EINVAL); /* §14.7: FINGERPRINT is the last attribute */
		return NULL;
	}
	if (len > 0xFFFF || total > e->cap - e->len) {
		enc_fail(e, -ENOSPC);
		return NULL;
	}
	p = e->buf + e->len;
	ds_put16(p, type);
	ds_put16(p + 2, (uint16_t)len);
	memset(p + 4 + len, e->pad_byte, pad4(len) - len);
	e->len += total;
	ds_put16(e->buf + 2, (uint16_t)(e->len - DS_STUN_HDR_LEN));
	return p + 4;
}

int ds_stun_enc_attr(struct ds_stun_enc *e, uint16_t type, const void *val, size_t len)
{
	uint8_t *p = enc_reserve(e, type, len);

	if (!p)
		return e->err;
	if (len)
		memcpy(p, val, len);
	return 0;
}

int ds_stun_enc_u32(struct ds_stun_enc *e, uint16_t type, uint32_t v)
{
	uint8_t b[4];

	ds_put32(b, v);
	return ds_stun_enc_attr(e, type, b, sizeof(b));
}

int ds_stun_enc_u64(struct ds_stun_enc *e, uint16_t type, uint64_t v)
{
	uint8_t b[8];

	ds_put32(b, (uint32_t)(v >> 32));
	ds_put32(b + 4, (uint32_t)v);
	return ds_stun_enc_attr(e, type, b, sizeof(b));
}

int ds_stun_enc_str(struct ds_stun_enc *e, uint16_t type, const char *s)
{
	if (!s)
		return enc_fail(e, -EINVAL);
	return ds_stun_enc_attr(e, type, s, strlen(s));
}

static int enc_address(struct ds_stun_enc *e, uint16_t type, const struct ds_addr *a, bool xor)
{
	uint8_t v[20];
	size_t n;
	uint16_t port;

	if (!a)
		return enc_fail(e, -EINVAL);
	memset(v, 0, sizeof(v));
	port = ds_addr_port(a);
	if (xor)
		port ^= (uint16_t)(DS_STUN_MAGIC >> 16);
	ds_put16(v + 2, port);
	if (a->len && a->sa.sa_family == AF_INET) {
		v[1] = 0x01;
		memcpy(v + 4, &a->sin.sin_addr, 4);
		n = 8;
	} else if (a->len && a->sa.sa_family == AF_INET6) {
		v[1] = 0x02;
		memcpy(v + 4, &a->sin6.sin6_addr, 16);
		n = 20;
	} else {
		return enc_fail(e, -EAFNOSUPPORT);
	}
	if (xor&&!e->err) {
		uint8_t mask[16];

		ds_put32(mask, DS_STUN_MAGIC);
		if (e->cap >= DS_STUN_HDR_LEN)
			memcpy(mask + 4, e->buf + 8, DS_STUN_TID_LEN);
		for (size_t i = 0; i < n - 4; i++)
			v[4 + i] ^= mask[i];
	}
	return ds_stun_enc_attr(e, type, v, n);
}

int ds_stun_enc_addr(struct ds_stun_enc *e, uint16_t type, const struct ds_addr *a)
{
	return enc_address(e, type, a, false);
}

int ds_stun_enc_xor_addr(struct ds_stun_enc *e, uint16_t type, const struct ds_addr *a)
{
	return enc_address(e, type, a, true);
}

int ds_stun_enc_error(struct ds_stun_enc *e, int code, const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	uint8_t *p;

	if (code < 300 || code > 699 || rlen > DS_STUN_MAX_REASON)
		return enc_fail(e, -EINVAL);
	p = enc_reserve(e, DS_STUN_ATTR_ERROR_CODE, 4 + rlen);
	if (!p)
		return e->err;
	p[0] = p[1] = 0;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	if (rlen)
		memcpy(p + 4, reason, rlen);
	return 0;
}

int ds_stun_enc_unknown(struct ds_stun_enc *e, const uint16_t *types, size_t n)
{
	uint8_t *p = enc_reserve(e, DS_STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);

	if (!p)
		return e->err;
	for (size_t i = 0; i < n; i++)
		ds_put16(p + 2 * i, types[i]);
	return 0;
}

int ds_stun_enc_change_request(struct ds_stun_enc *e, uint32_t flags)
{
	if (flags & ~(DS_STUN_CHANGE_IP | DS_STUN_CHANGE_PORT))
		return enc_fail(e, -EINVAL);
	return ds_stun_enc_u32(e, DS_STUN_ATTR_CHANGE_REQUEST, flags);
}

int ds_stun_enc_response_port(struct ds_stun_enc *e, uint16_t port)
{
	return ds_stun_enc_u32(e, DS_STUN_ATTR_RESPONSE_PORT, (uint32_t)port << 16);
}

int ds_stun_enc_password_algorithm(struct ds_stun_enc *e, uint16_t alg)
{
	return ds_stun_enc_u32(e, DS_STUN_ATTR_PASSWORD_ALGORITHM, (uint32_t)alg << 16);
}

int ds_stun_enc_password_algorithms(struct ds_stun_enc *e, const uint16_t *algs, size_t n)
{
	uint8_t *p = enc_reserve(e, DS_STUN_ATTR_PASSWORD_ALGORITHMS, 4 * n);

	if (!p)
		return e->err;
	for (size_t i = 0; i < n; i++)
		ds_put32(p + 4 * i, (uint32_t)algs[i] << 16);
	return 0;
}

static int enc_mac(struct ds_stun_enc *e, uint16_t type, const char *digest, size_t maclen,
		   const void *key, size_t keylen)
{
	uint8_t mac[32];
	size_t prefix = e->len;
	int r;

	if (e->err)
		return e->err;
	if (e->has_fingerprint)
		return enc_fail(e, -EINVAL);
	if (DS_STUN_ATTR_HDR_LEN + maclen > e->cap - e->len)
		return enc_fail(e, -ENOSPC);
	r = hmac_prefix(digest, key, keylen, e->buf, prefix,
			(uint16_t)(prefix - DS_STUN_HDR_LEN + DS_STUN_ATTR_HDR_LEN + maclen), mac,
			maclen);
	if (r < 0)
		return enc_fail(e, r);
	return ds_stun_enc_attr(e, type, mac, maclen);
}

int ds_stun_enc_integrity(struct ds_stun_enc *e, const void *key, size_t keylen)
{
	return enc_mac(e, DS_STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", 20, key, keylen);
}

int ds_stun_enc_integrity_sha256(struct ds_stun_enc *e, const void *key, size_t keylen)
{
	return enc_mac(e, DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", 32, key, keylen);
}

int ds_stun_enc_fingerprint(struct ds_stun_enc *e)
{
	uint8_t *p;
	uint32_t crc;

	/* The CRC covers the header with the length that includes FINGERPRINT itself, which
	 * enc_reserve has written by the time the CRC is computed. */
	p = enc_reserve(e, DS_STUN_ATTR_FINGERPRINT, 4);
	if (!p)
		return e->err;
	crc = ds_stun_crc32(e->buf, e->len - 8) ^ DS_STUN_FINGERPRINT_XOR;
	ds_put32(p, crc);
	e->has_fingerprint = true;
	return 0;
}

int ds_stun_enc_finish(const struct ds_stun_enc *e, size_t *len)
{
	if (e->err)
		return e->err;
	if (len)
		*len = e->len;
	return 0;
}

/* ---- decoding ---- */

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EBADMSG;
}

/* §14.5/§14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count;
 * after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. */
static bool ignored_after(uint16_t type, bool seen_mi, bool seen_mi256)
{
	if (seen_mi256)
		return type != DS_STUN_ATTR_FINGERPRINT;
	if (seen_mi)
		return type != DS_STUN_ATTR_FINGERPRINT &&
		       type != DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256;
	return false;
}

int ds_stun_parse(const void *buf, size_t len, struct ds_stun_msg *m, const char **why)
{
	const uint8_t *b = buf;
	bool seen_mi = false, seen_mi256 = false;
	size_t off, mlen;

	memset(m, 0, sizeof(*m));
	if (why)
		*why = NULL;
	if (!b || len < DS_STUN_HDR_LEN)
		return bad(why, "shorter than a STUN header");
	if (b[0] & 0xC0)
		return bad(why, "first two bits not zero");
	if (ds_get32(b + 4) != DS_STUN_MAGIC)
		return bad(why, "wrong magic cookie");
	mlen = ds_get16(b + 2);
	if (mlen % 4)
		return bad(why, "length not a multiple of 4");
	if (DS_STUN_HDR_LEN + mlen != len)
		return bad(why, "length field does not match the datagram");
	m->buf = b;
	m->len = len;
	m->type = ds_get16(b);
	m->method = ds_stun_type_method(m->type);
	m->cls = ds_stun_type_class(m->type);
	memcpy(m->tid, b + 8, DS_STUN_TID_LEN);

	for (off = DS_STUN_HDR_LEN; off < len;) {
		uint16_t t, l;
		size_t total;

		if (len - off < DS_STUN_ATTR_HDR_LEN)
			return bad(why, "truncated attribute header");
		t = ds_get16(b + off);
		l = ds_get16(b + off + 2);
		total = DS_STUN_ATTR_HDR_LEN + pad4(l);
		if (total > len - off)
			return bad(why, "attribute length beyond the message");
		if (m->fingerprint_off)
			return bad(why, "attribute after FINGERPRINT");
		if (t == DS_STUN_ATTR_FINGERPRINT) {
			uint32_t want;

			if (l != 4)
				return bad(why, "FINGERPRINT not 4 bytes");
			want = ds_stun_crc32(b, off) ^ DS_STUN_FINGERPRINT_XOR;
			if (ds_get32(b + off + 4) != want)
				return bad(why, "wrong FINGERPRINT");
			m->fingerprint_off = off;
			m->n_attrs++;
		} else if (ignored_after(t, seen_mi, seen_mi256)) {
			/* present but ignored */
		} else if (t == DS_STUN_ATTR_MESSAGE_INTEGRITY) {
			if (l != 20)
				return bad(why, "MESSAGE-INTEGRITY not 20 bytes");
			m->integrity_off = off;
			seen_mi = true;
			m->n_attrs++;
		} else if (t == DS_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
			if (l < 16 || l > 32 || l % 4)
				return bad(why, "MESSAGE-INTEGRITY-SHA256 of a bad size");
			m->integrity_sha256_off = off;
			m->integrity_sha256_len = l;
			seen_mi256 = true;
			m->n_attrs++;
		} else {
			if (t < 0x8000 && !ds_stun_attr_known(t)) {
				bool dup = false;

				for (size_t i = 0; i < m->n_unknown; i++)
					dup |= m->unknown[i] == t;
				if (!dup && m->n_unknown < DS_STUN_MAX_UNKNOWN)
					m->unknown[m->n_unknown++] = t;
				else if (!dup)
					m->unknown_overflow = true;
			}
			m->n_attrs++;
		}
		off += total;
	}
	return 0;
}

void ds_stun_iter_init(struct ds_stun_iter *it, const struct ds_stun_msg *m)
{
	it->m = m;
	it->off = DS_STUN_HDR_LEN;
	it->after_integrity = false;
}

int ds_stun_iter_next(struct ds_stun_iter *it, struct ds_stun_attr *a)
{
	const struct ds_stun_msg *m = it->m;

	/* ds_stun_parse has validated every length, but stay defensive. */
	while (m->buf && it->off + DS_STUN_ATTR_HDR_LEN <= m->len) {
		size_t off = it->off;
		uint16_t t = ds_get16(m->buf + off), l = ds_get16(m->buf + off + 2);
		bool skip;

		if (DS_STUN_ATTR_HDR_LEN + pad4(l) > m->len - off)
			return 0;
		it->off += DS_STUN_ATTR_HDR_LEN + pad4(l);
		skip = ignored_after(t, m->integrity_off && off > m->integrity_off,
				     m->integrity_sha256_off && off > m->integrity_sha256_off);
		if (skip)
			continue;
		a->type = t;
		a->len = l;
		a->val = m->buf + off + DS_STUN_ATTR_HDR_LEN;
		a->off = off;
		return 1;
	}
	return 0;
}

int ds_stun_find(const struct ds_stun_msg *m, uint16_t type, struct ds_stun_attr *a)
{
	struct ds_stun_iter it;

	ds_stun_iter_init(&it, m);
	while (ds_stun_iter_next(&it, a))
		if (a->type == type)
			return 0;
	return -ENOENT;
}

/* ---- typed getters ---- */

int ds_stun_attr_u32(const struct ds_stun_attr *a, uint32_t *v)
{
	if (a->len != 4)
		return -EBADMSG;
	*v = ds_get32(a->val);
	return 0;
}

int ds_stun_attr_u64(const struct ds_stun_attr *a, uint64_t *v)
{
	if (a->len != 8)
		return -EBADMSG;
	*v = (uint64_t)ds_get32(a->val) << 32 | ds_get32(a->val + 4);
	return 0;
}

int ds_stun_attr_str(const struct ds_stun_attr *a, char *buf, size_t len)
{
	size_t max = a->type == DS_STUN_ATTR_USERNAME ? DS_STUN_MAX_USERNAME : DS_STUN_MAX_SOFTWARE;

	if (a->len > max || memchr(a->val, 0, a->len))
		return -EBADMSG;
	if (!len || a->len >= len)
		return -ENOSPC;
	memcpy(buf, a->val, a->len);
	buf[a->len] = 0;
	return 0;
}

static int get_address(const struct ds_stun_attr *a, const uint8_t *mask, struct ds_addr *out)
{
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (a->len < 4)
		return -EBADMSG;
	port = ds_get16(a->val + 2);
	if (mask)
		port ^= (uint16_t)(DS_STUN_MAGIC >> 16);
	if (a->val[1] == 0x01 && a->len == 8) {
		out->sin.sin_family = AF_INET;
		memcpy(&out->sin.sin_addr, a->val + 4, 4);
		if (mask)
			for (int i = 0; i < 4; i++)
				((uint8_t *)&out->sin.sin_addr)[i] ^= mask[i];
		out->sin.sin_port = htons(port);
		out->len = sizeof(out->sin);
	} else if (a->val[1] == 0x02 && a->len == 20) {
		out->sin6.sin6_family = AF_INET6;
		memcpy(&out->sin6.sin6_addr, a->val + 4, 16);
		if (mask)
			for (int i = 0; i < 16; i++)
				out->sin6.sin6_addr.s6_addr[i] ^= mask[i];
		out->sin6.sin6_port = htons(port);
		out->len = sizeof(out->sin6);
	} else {
		return -EBADMSG;
	}
	return 0;
}

int ds_stun_attr_addr(const struct ds_stun_attr *a, struct ds_addr *out)
{
	return get_address(a, NULL, out);
}

int ds_stun_attr_xor_addr(const struct ds_stun_msg *m, const struct ds_stun_attr *a,
			  struct ds_addr *out)
{
	uint8_t mask[16];

	ds_put32(mask, DS_STUN_MAGIC);
	memcpy(mask + 4, m->tid, DS_STUN_TID_LEN);
	return get_address(a, mask, out);
}

int ds_stun_attr_error(const struct ds_stun_attr *a, int *code, char *reason, size_t len)
{
	size_t rlen, n;

	if (a->len < 4 || a->len > 4 + DS_STUN_MAX_REASON)
		return -EBADMSG;
	if ((a->val[2] & 7) < 3 || (a->val[2] & 7) > 6 || a->val[3] > 99)
		return -EBADMSG;
	*code = (a->val[2] & 7) * 100 + a->val[3];
	if (reason && len) {
		rlen = a->len - 4u;
		n = rlen < len - 1 ? rlen : len - 1;
		memcpy(reason, a->val + 4, n);
		reason[n] = 0;
		/* a reason with a NUL inside ends there: harmless */
	}
	return 0;
}

int ds_stun_attr_unknown(const struct ds_stun_attr *a, uint16_t *types, size_t max, size_t *n)
{
	if (a->len % 2)
		return -EBADMSG;
	*n = a->len / 2u;
	for (size_t i = 0; i < *n && i < max; i++)
		types[i] = ds_get16(a->val + 2 * i);
	return 0;
}

int ds_stun_attr_change_request(const struct ds_stun_attr *a, uint32_t *flags)
{
	if (a->len != 4)
		return -EBADMSG;
	*flags = ds_get32(a->val) & (DS_STUN_CHANGE_IP | DS_STUN_CHANGE_PORT);
	return 0;
}

int ds_stun_attr_response_port(const struct ds_stun_attr *a, uint16_t *port)
{
	/* RFC 5780 §7.5: a 16-bit port and 16 bits of padding; some send only the port. */
	if (a->len != 4 && a->len != 2)
		return -EBADMSG;
	*port = ds_get16(a->val);
	return 0;
}

int ds_stun_attr_password_algorithm(const struct ds_stun_attr *a, uint16_t *alg)
{
	if (a->len < 4 || (size_t)4 + ds_get16(a->val + 2) > a->len)
		return -EBADMSG;
	*alg = ds_get16(a->val);
	return 0;
}

int ds_stun_attr_password_algorithms(const struct ds_stun_attr *a, uint16_t *algs, size_t max,
				     size_t *n)
{
	size_t off = 0;

	*n = 0;
	while (off < a->len) {
		size_t plen;

		if (a->len - off < 4)
			return -EBADMSG;
		plen = ds_get16(a->val + off + 2);
		if (pad4(plen) > a->len - off - 4)
			return -EBADMSG;
		if (*n < max)
			algs[*n] = ds_get16(a->val + off);
		(*n)++;
		off += 4 + pad4(plen);
	}
	return 0;
}

int ds_stun_get_addr(const struct ds_stun_msg *m, uint16_t type, struct ds_addr *out)
{
	struct ds_stun_attr a;

	if (ds_stun_find(m, type, &a) < 0)
		return -ENOENT;
	switch (type) {
	case DS_STUN_ATTR_XOR_MAPPED_ADDRESS:
	case DS_STUN_ATTR_XOR_PEER_ADDRESS:
	case DS_STUN_ATTR_XOR_RELAYED_ADDRESS:
		return ds_stun_attr_xor_addr(m, &a, out);
	default:
		return ds_stun_attr_addr(&a, out);
	}
}

static int check_mac(const struct ds_stun_msg *m, size_t off, size_t maclen, const char *digest,
		     const void *key, size_t keylen)
{
	uint8_t mac[32];
	int r;

	if (!off)
		return -ENOENT;
	r = hmac_prefix(digest, key, keylen, m->buf, off,
			(uint16_t)(off - DS_STUN_HDR_LEN + DS_STUN_ATTR_HDR_LEN + maclen), mac,
			strcmp(digest, "SHA1") ? 32 : 20);
	if (r < 0)
		return r;
	return CRYPTO_memcmp(mac, m->buf + off + DS_STUN_ATTR_HDR_LEN, maclen) ? -EACCES : 0;
}

int ds_stun_check_integrity(const struct ds_stun_msg *m, const void *key, size_t keylen)
{
	return check_mac(m, m->integrity_off, 20, "SHA1", key, keylen);
}

int ds_stun_check_integrity_sha256(const struct ds_stun_msg *m, const void *key, size_t keylen)
{
	return check_mac(m, m->integrity_sha256_off, m->integrity_sha256_len, "SHA256", key,
			 keylen);
}

/* ---- answering ---- */

int ds_stun_answer_binding(const struct ds_stun_msg *req, const struct ds_addr *from,
			   const char *software, void *buf, size_t cap, size_t *len)
{
	struct ds_stun_enc e;

	if (req->method != DS_STUN_BINDING || req->cls != DS_STUN_REQUEST)
		return -EINVAL;
	if (req->n_unknown) {
		ds_stun_enc_init(&e, buf, cap, ds_stun_type(DS_STUN_BINDING, DS_STUN_ERROR),
				 req->tid);
		ds_stun_enc_error(&e, DS_STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute");
		ds_stun_enc_unknown(&e, req->unknown, req->n_unknown);
	} else {
		ds_stun_enc_init(&e, buf, cap, ds_stun_type(DS_STUN_BINDING, DS_STUN_SUCCESS),
				 req->tid);
		ds_stun_enc_xor_addr(&e, DS_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
	}
	if (software)
		ds_stun_enc_str(&e, DS_STUN_ATTR_SOFTWARE, software);
	if (req->fingerprint_off)
		ds_stun_enc_fingerprint(&e);
	return ds_stun_enc_finish(&e, len);
}

/* ---- keys ---- */

int ds_stun_key_short_term(const char *password, uint8_t *key, size_t cap, size_t *keylen)
{
	size_t n = strlen(password);

	if (n > cap)
		return -ENOSPC;
	memcpy(key, password, n);
	*keylen = n;
	return 0;
}

static int digest_parts(const EVP_MD *md, const char *const *parts, size_t nparts, uint8_t *out,
			size_t *outlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ret = -EIO;

	if (!ctx || !md || !EVP_DigestInit_ex(ctx, md, NULL))
		goto out;
	for (size_t i = 0; i < nparts; i++) {
		if (i && !EVP_DigestUpdate(ctx, ":", 1))
			goto out;
		if (!EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, out, &n))
		goto out;
	*outlen = n;
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

int ds_stun_key_long_term(uint16_t alg, const char *username, const char *realm,
			  const char *password, uint8_t key[DS_STUN_KEY_MAX], size_t *keylen)
{
	const char *parts[3] = {username, realm, password};

	if (!username || !realm || !password)
		return -EINVAL;
	switch (alg) {
	case DS_STUN_PASSWORD_MD5:
		return digest_parts(EVP_md5(), parts, 3, key, keylen);
	case DS_STUN_PASSWORD_SHA256:
		return digest_parts(EVP_sha256(), parts, 3, key, keylen);
	}
	return -EINVAL;
}

int ds_stun_userhash(const char *username, const char *realm, uint8_t hash[32])
{
	const char *parts[2] = {username, realm};
	size_t n;

	if (!username || !realm)
		return -EINVAL;
	return digest_parts(EVP_sha256(), parts, 2, hash, &n);
}
