// SPDX-License-Identifier: MIT
/* X25519 keys, base64 as wg writes it, private key files, pair and session keys. */
#include "key.h"

#include "bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

static const char pair_salt[] = "datastun wire v1";

int ds_key_generate(uint8_t priv[DS_KEY_LEN])
{
	if (RAND_priv_bytes(priv, DS_KEY_LEN) != 1)
		return -EIO;
	/* RFC 7748 section 5: X25519 clamps anyway; wg genkey prints the clamped form. */
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
	return 0;
}

int ds_key_public(const uint8_t priv[DS_KEY_LEN], uint8_t pub[DS_KEY_LEN])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, DS_KEY_LEN);
	size_t len = DS_KEY_LEN;
	int ret = 0;

	if (!pk)
		return -EINVAL;
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != DS_KEY_LEN)
		ret = -EINVAL;
	EVP_PKEY_free(pk);
	return ret;
}

int ds_key_shared(const uint8_t priv[DS_KEY_LEN], const uint8_t peer_pub[DS_KEY_LEN],
		  uint8_t shared[DS_KEY_LEN])
{
	EVP_PKEY *mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, DS_KEY_LEN);
	EVP_PKEY *theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, DS_KEY_LEN);
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = DS_KEY_LEN;
	uint8_t acc = 0;
	int ret = -EINVAL;

	if (!mine || !theirs)
		goto out;
	ctx = EVP_PKEY_CTX_new(mine, NULL);
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, theirs) != 1 ||
	    EVP_PKEY_derive(ctx, shared, &len) != 1 || len != DS_KEY_LEN)
		goto out;
	/* RFC 7748 section 6.1: an all-zero result means a low-order peer key. */
	for (size_t i = 0; i < DS_KEY_LEN; i++)
		acc |= shared[i];
	ret = acc ? 0 : -EINVAL;
out:
	if (ret)
		ds_key_wipe(shared, DS_KEY_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(mine);
	EVP_PKEY_free(theirs);
	return ret;
}

void ds_key_to_base64(const uint8_t key[DS_KEY_LEN], char out[DS_KEY_B64_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, key, DS_KEY_LEN);
	out[DS_KEY_B64_LEN] = '\0';
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int ds_key_from_base64(const char *s, uint8_t key[DS_KEY_LEN])
{
	unsigned char buf[36];
	char again[DS_KEY_B64_LEN + 1];

	if (!s || strnlen(s, DS_KEY_B64_LEN + 1) != DS_KEY_B64_LEN || s[43] != '=')
		return -EINVAL;
	for (int i = 0; i < 43; i++)
		if (!is_b64(s[i]))
			return -EINVAL;
	/* 44 characters decode to 33 bytes, the last one from the padding. */
	if (EVP_DecodeBlock(buf, (const unsigned char *)s, DS_KEY_B64_LEN) != 33)
		return -EINVAL;
	/* Only the canonical spelling: the 2 unused bits before the padding must be zero. */
	ds_key_to_base64(buf, again);
	if (memcmp(again, s, DS_KEY_B64_LEN) != 0) {
		ds_key_wipe(buf, sizeof(buf));
		return -EINVAL;
	}
	memcpy(key, buf, DS_KEY_LEN);
	ds_key_wipe(buf, sizeof(buf));
	ds_key_wipe(again, sizeof(again));
	return 0;
}

int ds_key_from_text(const char *text, size_t len, uint8_t key[DS_KEY_LEN])
{
	char one[DS_KEY_B64_LEN + 1];
	int ret;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
			   text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len != DS_KEY_B64_LEN)
		return -EINVAL;
	memcpy(one, text, DS_KEY_B64_LEN);
	one[DS_KEY_B64_LEN] = '\0';
	ret = ds_key_from_base64(one, key);
	ds_key_wipe(one, sizeof(one));
	return ret;
}

int ds_key_load_private(const char *path, uint8_t priv[DS_KEY_LEN], mode_t *mode_out)
{
	char buf[DS_KEY_B64_LEN + 64];
	struct stat st;
	size_t len = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* Check the file we opened, not the name: no window between check and read. */
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (mode_out)
		*mode_out = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		ret = -EPERM;
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = len < sizeof(buf) ? ds_key_from_text(buf, len, priv) : -EINVAL;
out:
	ds_key_wipe(buf, sizeof(buf));
	close(fd);
	return ret;
}

/* HKDF-SHA256 (RFC 5869) through EVP_KDF. salt/ikm for extract-and-expand, ikm = PRK for
 * expand-only (salt NULL). */
static int hkdf(int mode, const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
		const void *info, size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6], *p = params;
	int ret = 0;

	EVP_KDF_free(kdf);
	if (!ctx)
		return -ENOMEM;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	if (salt)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
		ret = -EINVAL;
	EVP_KDF_CTX_free(ctx);
	return ret;
}

static int expand(const uint8_t prk[DS_KEY_LEN], const char *label, uint8_t *out, size_t len)
{
	return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, DS_KEY_LEN, label,
		    strlen(label), out, len);
}

int ds_key_pair_derive(const uint8_t my_priv[DS_KEY_LEN], const uint8_t peer_pub[DS_KEY_LEN],
		       struct ds_pair_keys *out)
{
	uint8_t my_pub[DS_KEY_LEN], ikm[3 * DS_KEY_LEN], pair[DS_KEY_LEN], id[2][8];
	uint8_t lohi_key[DS_KEY_LEN], hilo_key[DS_KEY_LEN];
	int cmp, ret;

	memset(out, 0, sizeof(*out));
	ret = ds_key_public(my_priv, my_pub);
	if (ret)
		return ret;
	cmp = memcmp(my_pub, peer_pub, DS_KEY_LEN);
	if (cmp == 0)
		return -EINVAL; /* a pair needs two different agents */
	ret = ds_key_shared(my_priv, peer_pub, ikm);
	if (ret)
		return ret;
	memcpy(ikm + DS_KEY_LEN, cmp < 0 ? my_pub : peer_pub, DS_KEY_LEN);
	memcpy(ikm + 2 * DS_KEY_LEN, cmp < 0 ? peer_pub : my_pub, DS_KEY_LEN);
	ret = hkdf(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, pair_salt, strlen(pair_salt), ikm,
		   sizeof(ikm), "pair", 4, pair, sizeof(pair));
	if (!ret)
		ret = expand(pair, "key lo>hi", lohi_key, DS_KEY_LEN);
	if (!ret)
		ret = expand(pair, "key hi>lo", hilo_key, DS_KEY_LEN);
	if (!ret)
		ret = expand(pair, "id lo>hi", id[0], 8);
	if (!ret)
		ret = expand(pair, "id hi>lo", id[1], 8);
	if (!ret) {
		/* I am "low" when my public key sorts first: I send low->high. */
		memcpy(out->tx_key, cmp < 0 ? lohi_key : hilo_key, DS_KEY_LEN);
		memcpy(out->rx_key, cmp < 0 ? hilo_key : lohi_key, DS_KEY_LEN);
		out->tx_id = ds_get64(cmp < 0 ? id[0] : id[1]);
		out->rx_id = ds_get64(cmp < 0 ? id[1] : id[0]);
	}
	ds_key_wipe(ikm, sizeof(ikm));
	ds_key_wipe(pair, sizeof(pair));
	ds_key_wipe(lohi_key, sizeof(lohi_key));
	ds_key_wipe(hilo_key, sizeof(hilo_key));
	if (ret)
		ds_key_pair_wipe(out);
	return ret;
}

int ds_key_session_derive(const uint8_t base[DS_KEY_LEN], uint64_t session,
			  uint8_t out[DS_KEY_LEN])
{
	uint8_t info[7 + 8];

	memcpy(info, "session", 7);
	for (int i = 0; i < 8; i++)
		info[7 + i] = (uint8_t)(session >> (56 - 8 * i));
	return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, base, DS_KEY_LEN, info, sizeof(info),
		    out, DS_KEY_LEN);
}

struct ds_key_deriver {
	EVP_MAC_CTX *mac;
};

int ds_key_deriver_new(const uint8_t base[DS_KEY_LEN], struct ds_key_deriver **out)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	struct ds_key_deriver *d = calloc(1, sizeof(*d));
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	int ret = 0;

	*out = NULL;
	if (!mac || !d || !(d->mac = EVP_MAC_CTX_new(mac)))
		ret = -ENOMEM;
	else if (EVP_MAC_init(d->mac, base, DS_KEY_LEN, params) != 1)
		ret = -EINVAL;
	EVP_MAC_free(mac);
	if (ret) {
		ds_key_deriver_free(d);
		return ret;
	}
	*out = d;
	return 0;
}

void ds_key_deriver_free(struct ds_key_deriver *d)
{
	if (!d)
		return;
	EVP_MAC_CTX_free(d->mac);
	free(d);
}

int ds_key_deriver_session(struct ds_key_deriver *d, uint64_t session, uint8_t out[DS_KEY_LEN])
{
	uint8_t info[7 + 8 + 1];
	size_t len = 0;

	memcpy(info, "session", 7);
	for (int i = 0; i < 8; i++)
		info[7 + i] = (uint8_t)(session >> (56 - 8 * i));
	info[15] = 0x01; /* block counter of T(1) */
	/* NULL key: start again with the key of the first init */
	if (EVP_MAC_init(d->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(d->mac, info, sizeof(info)) != 1 ||
	    EVP_MAC_final(d->mac, out, &len, DS_KEY_LEN) != 1 || len != DS_KEY_LEN) {
		ds_key_wipe(out, DS_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void ds_key_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

void ds_key_pair_wipe(struct ds_pair_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}
